package engine_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

const upgradeRequest = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// A client that sends its handshake a piece at a time never holds up the
// worker: with a single worker, another client is served meanwhile.
func TestPartialHandshakeDoesNotBlockTheWorker(t *testing.T) {
	srv := enginetest.Run(t, engine.Config{HandlersDir: filepath.Join("..", "handlers"), Workers: 1})
	slow, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write([]byte(upgradeRequest[:30]))

	fast, _, err := websocket.DefaultDialer.Dial(srv.URL+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	if got := ask(t, fast, "hi"); got != "hi" {
		t.Fatalf("echo %q", got)
	}
	// The rest, one byte at a time: the handshake completes.
	for i := 30; i < len(upgradeRequest); i++ {
		if _, err := slow.Write([]byte{upgradeRequest[i]}); err != nil {
			t.Fatal(err)
		}
	}
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("slow handshake: %v %v", resp, err)
	}
}

// A client that does not finish its request head in time is dropped.
func TestHandshakeTimeout(t *testing.T) {
	srv := enginetest.Run(t, engine.Config{HandlersDir: filepath.Join("..", "handlers"), HandshakeTimeout: 200 * time.Millisecond})
	nc, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte(upgradeRequest[:20]))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	b, err := io.ReadAll(nc)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("dropped only after %v", waited)
	}
}
