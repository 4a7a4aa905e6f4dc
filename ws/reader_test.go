package ws

import (
	"bytes"
	"errors"
	"testing"
)

var testMask = [4]byte{0x12, 0x34, 0x56, 0x78}

// frame builds a raw client frame with explicit flags.
func frame(fin bool, rsv byte, op OpCode, payload []byte) []byte {
	b := AppendMaskedFrame(nil, op, payload, testMask)
	if !fin {
		b[0] &^= 0x80
	}
	b[0] |= rsv << 4
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// feedAll feeds input in chunks of size chunk and collects events.
func feedAll(r *Reader, input []byte, chunk int) ([]Event, error) {
	input = append([]byte(nil), input...) // Feed unmasks in place
	var evs []Event
	for len(input) > 0 {
		n := min(chunk, len(input))
		p := input[:n]
		input = input[n:]
		for len(p) > 0 {
			k, ev, ok, err := r.Feed(p)
			p = p[k:]
			if err != nil {
				return evs, err
			}
			if ok {
				ev.Payload = append([]byte(nil), ev.Payload...)
				evs = append(evs, ev)
			}
		}
	}
	return evs, nil
}

func TestReader(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	cases := []struct {
		name  string
		in    []byte
		max   int64
		want  []Event
		err   *ProtocolError
		after int // events expected before the error
	}{
		{name: "text", in: frame(true, 0, OpText, []byte("hi")), want: []Event{{Op: OpText, Payload: []byte("hi")}}},
		{name: "empty binary", in: frame(true, 0, OpBinary, nil), want: []Event{{Op: OpBinary, Payload: []byte{}}}},
		{name: "16-bit length", in: frame(true, 0, OpBinary, big[:300]), want: []Event{{Op: OpBinary, Payload: big[:300]}}},
		{name: "64-bit length", in: frame(true, 0, OpBinary, big), want: []Event{{Op: OpBinary, Payload: big}}},
		{name: "fragments with ping between",
			in:   cat(frame(false, 0, OpText, []byte("he")), frame(true, 0, OpPing, []byte("p")), frame(true, 0, OpContinuation, []byte("llo"))),
			want: []Event{{Op: OpPing, Payload: []byte("p")}, {Op: OpText, Payload: []byte("hello")}}},
		{name: "code point split across fragments",
			in:   cat(frame(false, 0, OpText, []byte("\xce")), frame(true, 0, OpContinuation, []byte("\xba"))),
			want: []Event{{Op: OpText, Payload: []byte("κ")}}},
		{name: "close with code", in: frame(true, 0, OpClose, AppendClosePayload(nil, 4000, "bye")),
			want: []Event{{Op: OpClose, Code: 4000, Payload: []byte("bye")}}},
		{name: "close without code", in: frame(true, 0, OpClose, nil), want: []Event{{Op: OpClose, Code: CloseNoStatus, Payload: []byte{}}}},
		{name: "unmasked", in: AppendFrame(nil, OpText, []byte("x")), err: ErrUnmaskedFrame},
		{name: "rsv1", in: frame(true, 4, OpText, []byte("x")), err: ErrReservedBits},
		{name: "reserved opcode", in: frame(true, 0, 3, nil), err: ErrReservedOpcode},
		{name: "reserved control opcode", in: frame(true, 0, 0xB, nil), err: ErrReservedOpcode},
		{name: "long ping", in: frame(true, 0, OpPing, big[:126]), err: ErrControlTooLong},
		{name: "fragmented ping", in: frame(false, 0, OpPing, nil), err: ErrControlFragmented},
		{name: "lone continuation", in: frame(true, 0, OpContinuation, []byte("x")), err: ErrUnexpectedCont},
		{name: "text inside fragmented message", in: cat(frame(false, 0, OpText, []byte("a")), frame(true, 0, OpText, []byte("b"))), err: ErrExpectedCont},
		{name: "invalid UTF-8", in: frame(true, 0, OpText, []byte("\xff")), err: ErrInvalidUTF8},
		{name: "truncated UTF-8 at message end", in: frame(true, 0, OpText, []byte("a\xe2\x82")), err: ErrInvalidUTF8},
		{name: "invalid UTF-8 in first fragment", in: frame(false, 0, OpText, []byte("\xed\xa0\x80")), err: ErrInvalidUTF8},
		{name: "message over the limit", max: 10, in: frame(true, 0, OpBinary, big[:11]), err: ErrMessageTooBig},
		{name: "fragments over the limit", max: 10,
			in: cat(frame(false, 0, OpBinary, big[:6]), frame(true, 0, OpContinuation, big[:6])), err: ErrMessageTooBig},
		{name: "message at the limit", max: 11, in: frame(true, 0, OpBinary, big[:11]), want: []Event{{Op: OpBinary, Payload: big[:11]}}},
		{name: "close 1 byte", in: frame(true, 0, OpClose, []byte{3}), err: ErrCloseTooShort},
		{name: "close 1005", in: frame(true, 0, OpClose, []byte{0x03, 0xED}), err: ErrInvalidCloseCode},
		{name: "close 5000", in: frame(true, 0, OpClose, AppendClosePayload(nil, 5000, "")), err: ErrInvalidCloseCode},
		{name: "close reason invalid UTF-8", in: frame(true, 0, OpClose, AppendClosePayload(nil, 1000, "\xff")), err: ErrInvalidCloseUTF8},
		{name: "frame after close", in: cat(frame(true, 0, OpClose, nil), frame(true, 0, OpText, nil)),
			want: []Event{{Op: OpClose, Code: CloseNoStatus}}, err: ErrDataAfterCloseFrame, after: 1},
	}
	for _, tc := range cases {
		for _, chunk := range []int{1, 3, 1 << 20} {
			r := &Reader{MaxMessageSize: tc.max}
			evs, err := feedAll(r, tc.in, chunk)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Errorf("%s (chunk %d): err = %v, want %v", tc.name, chunk, err, tc.err)
				}
				if len(evs) != tc.after {
					t.Errorf("%s (chunk %d): %d events before the error, want %d", tc.name, chunk, len(evs), tc.after)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s (chunk %d): %v", tc.name, chunk, err)
				continue
			}
			if len(evs) != len(tc.want) {
				t.Errorf("%s (chunk %d): %d events, want %d", tc.name, chunk, len(evs), len(tc.want))
				continue
			}
			for i := range evs {
				if evs[i].Op != tc.want[i].Op || evs[i].Code != tc.want[i].Code || !bytes.Equal(evs[i].Payload, tc.want[i].Payload) {
					t.Errorf("%s (chunk %d): event %d = %v %d %q, want %v %d %q", tc.name, chunk, i,
						evs[i].Op, evs[i].Code, evs[i].Payload, tc.want[i].Op, tc.want[i].Code, tc.want[i].Payload)
				}
			}
		}
	}
}

// The size limit is decided from the header: the payload need not arrive.
func TestReaderRefusesBigMessageFromHeader(t *testing.T) {
	r := &Reader{MaxMessageSize: 1 << 20}
	full := frame(true, 0, OpBinary, make([]byte, 1<<20+1))
	_, _, _, err := r.Feed(full[:14])
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("err = %v, want ErrMessageTooBig after the header alone", err)
	}
}

// Invalid UTF-8 fails as soon as it arrives, before the rest of the frame.
func TestReaderFailsFastOnInvalidUTF8(t *testing.T) {
	r := &Reader{}
	full := frame(true, 0, OpText, append([]byte("ok \xff"), bytes.Repeat([]byte("a"), 1000)...))
	hdr := 4 + 4 // 16-bit length + mask
	_, _, _, err := r.Feed(full[:hdr+4])
	if !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("err = %v, want ErrInvalidUTF8 before the frame ends", err)
	}
}

func BenchmarkReaderSmallText(b *testing.B) {
	in := frame(true, 0, OpText, bytes.Repeat([]byte("a"), 64))
	benchmarkReader(b, in)
}

func BenchmarkReaderBinary16K(b *testing.B) {
	in := frame(true, 0, OpBinary, bytes.Repeat([]byte{1}, 16<<10))
	benchmarkReader(b, in)
}

func benchmarkReader(b *testing.B, in []byte) {
	r := &Reader{MaxMessageSize: 1 << 20}
	buf := make([]byte, len(in))
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		copy(buf, in) // the reader unmasks in place
		p := buf
		for len(p) > 0 {
			n, _, _, err := r.Feed(p)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(frame(true, 0, OpText, []byte("hello")), 1)
	f.Add(cat(frame(false, 0, OpText, []byte("\xce")), frame(true, 0, OpPing, nil), frame(true, 0, OpContinuation, []byte("\xba"))), 2)
	f.Add(frame(true, 0, OpClose, AppendClosePayload(nil, 1000, "x")), 5)
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		if chunk <= 0 || chunk > len(in) {
			chunk = len(in) + 1
		}
		r := &Reader{MaxMessageSize: 1 << 16}
		evs, err := feedAll(r, in, chunk)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error of wrong type: %v", err)
			}
		}
		for _, ev := range evs {
			if ev.Op == OpText && !utf8Valid(ev.Payload) {
				t.Fatalf("invalid UTF-8 text delivered: %q", ev.Payload)
			}
			if len(ev.Payload) > 1<<16 {
				t.Fatalf("message of %d bytes passed the limit", len(ev.Payload))
			}
		}
	})
}

func utf8Valid(b []byte) bool {
	var v UTF8Validator
	return v.Write(b) && v.Complete()
}

// A 1 MiB message arriving in 64 KiB reads, as from a socket, with and
// without a buffer pool.
func BenchmarkReaderBinary1MiBIn64KiBReads(b *testing.B) {
	for _, bc := range []struct {
		name string
		pool BufferPool
	}{{"unpooled", nil}, {"pooled", &pool{}}} {
		b.Run(bc.name, func(b *testing.B) {
			in := frame(true, 0, OpBinary, bytes.Repeat([]byte{1}, 1<<20))
			r := &Reader{MaxMessageSize: 2 << 20, Buffers: bc.pool}
			buf := make([]byte, len(in))
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				copy(buf, in)
				for p := buf; len(p) > 0; {
					chunk := p[:min(len(p), 64<<10)]
					p = p[len(chunk):]
					for len(chunk) > 0 {
						n, _, _, err := r.Feed(chunk)
						if err != nil {
							b.Fatal(err)
						}
						chunk = chunk[n:]
					}
				}
			}
		})
	}
}

// pool is a minimal BufferPool that counts what it lends.
type pool struct {
	free []([]byte)
	gets int
}

func (p *pool) Get(n int) []byte {
	p.gets++
	for i, b := range p.free {
		if cap(b) >= n {
			p.free = append(p.free[:i], p.free[i+1:]...)
			return b[:0]
		}
	}
	return make([]byte, 0, n)
}

func (p *pool) Put(b []byte) { p.free = append(p.free, b) }

// Big messages borrow pooled buffers, return them when the next message
// starts, and come out intact; small ones never touch the pool.
func TestReaderWithBufferPool(t *testing.T) {
	p := &pool{}
	r := &Reader{Buffers: p}
	big := bytes.Repeat([]byte("ab"), 100_000)
	for i := 0; i < 3; i++ {
		evs, err := feedAll(r, cat(frame(true, 0, OpBinary, big), frame(true, 0, OpText, []byte("small"))), 4096)
		if err != nil || len(evs) != 2 || !bytes.Equal(evs[0].Payload, big) || string(evs[1].Payload) != "small" {
			t.Fatalf("round %d: %d events, err %v", i, len(evs), err)
		}
	}
	if p.gets == 0 || len(p.free) == 0 {
		t.Fatalf("pool lent %d buffers and holds %d: big messages did not use it", p.gets, len(p.free))
	}
	if len(p.free) > 2 {
		t.Fatalf("pool holds %d buffers after 3 big messages: buffers are not reused", len(p.free))
	}
}
