package engine

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"evserver/ws"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (server, client net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A client that does not read fills the socket, then the bounded queue; the
// next write fails with ErrSlowConsumer instead of growing without limit.
func TestOutboxBoundsASlowConsumer(t *testing.T) {
	server, _ := tcpPair(t)
	o := newOutbox(server, 64<<10, time.Second)
	frame := ws.AppendFrame(nil, ws.OpBinary, make([]byte, 16<<10))
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = o.write(frame)
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("err = %v, want ErrSlowConsumer", err)
	}
	o.mu.Lock()
	queued := len(o.queue)
	o.mu.Unlock()
	if queued > 64<<10 {
		t.Fatalf("%d bytes queued past the 64 KiB bound", queued)
	}
}

// What a reading client gets is every frame, in order, whether it went
// straight to the socket or through the queue.
func TestOutboxKeepsOrder(t *testing.T) {
	server, client := tcpPair(t)
	o := newOutbox(server, 8<<20, time.Second)
	const n = 2000
	go func() { // ends after n frames
		for i := 0; i < n; i++ {
			o.write(ws.AppendFrame(nil, ws.OpBinary, []byte{byte(i), byte(i >> 8), 0, 0, 0, 0, 0, 0}))
		}
	}()
	rd := ws.Reader{Client: true}
	buf := make([]byte, 4096)
	got := 0
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for got < n {
		k, err := client.Read(buf)
		if err != nil {
			t.Fatalf("after %d frames: %v", got, err)
		}
		p := buf[:k]
		for len(p) > 0 {
			m, ev, ok, err := rd.Feed(p)
			p = p[m:]
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if i := int(ev.Payload[0]) | int(ev.Payload[1])<<8; i != got {
					t.Fatalf("frame %d arrived as number %d", i, got)
				}
				got++
			}
		}
	}
}

// The write path of a message (frame encoding into a reused buffer and a
// non-blocking write) allocates nothing.
func BenchmarkOutboxWrite(b *testing.B) {
	server, client := tcpPair(b)
	go io.Copy(io.Discard, client) // ends when the pair is closed
	o := newOutbox(server, 1<<20, time.Second)
	payload := make([]byte, 64)
	var frame []byte
	b.ReportAllocs()
	for b.Loop() {
		frame = ws.AppendFrame(frame[:0], ws.OpText, payload)
		if err := o.write(frame); err != nil {
			b.Fatal(err)
		}
	}
}
