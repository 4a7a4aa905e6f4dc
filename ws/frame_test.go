package ws

import (
	"bytes"
	"testing"
)

// Frames the server writes parse back, as a client reads them.
func TestAppendFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{'a'}, n)
		b := AppendFrame(nil, OpBinary, payload)
		if len(b) != FrameSize(n) {
			t.Fatalf("%d: frame of %d bytes, FrameSize says %d", n, len(b), FrameSize(n))
		}
		r := &Reader{Client: true}
		evs, err := feedAll(r, b, len(b))
		if err != nil || len(evs) != 1 || !bytes.Equal(evs[0].Payload, payload) {
			t.Fatalf("%d: events %v, err %v", n, len(evs), err)
		}
	}
}

func TestClientReaderRefusesMaskedFrames(t *testing.T) {
	r := &Reader{Client: true}
	if _, err := feedAll(r, frame(true, 0, OpText, []byte("x")), 64); err != ErrMaskedFrame {
		t.Fatalf("err = %v, want ErrMaskedFrame", err)
	}
}

func TestCloseFrame(t *testing.T) {
	f := CloseFrame(CloseTooBig, "")
	r := &Reader{Client: true}
	evs, err := feedAll(r, f, len(f))
	if err != nil || len(evs) != 1 || evs[0].Code != CloseTooBig {
		t.Fatalf("events %+v err %v", evs, err)
	}
}
