package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
)

// wsConn is the client side of one WebSocket connection. Frames are read straight out of the bufio.Reader and
// compared in place (Peek/Discard), and outgoing data frames are precompiled, so the measuring side does no
// allocation and no copy per message: the server, not the client, should be what the figures measure.
type wsConn struct {
	nc  net.Conn
	br  *bufio.Reader
	hdr [ws.MaxHeaderSize - 2]byte
	ctl [125]byte // payload of the control frame being read

	shared bool       // a writer and a reader goroutine both write (the reader answers pings)
	wmu    sync.Mutex // serializes writes when shared
}

func newWSConn(c conn, bufSize int) *wsConn {
	return &wsConn{nc: c.nc, br: c.newReader(bufSize)}
}

// closeError is the server's close frame, received when an echo was expected.
type closeError struct {
	code   ws.StatusCode
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("server sent close %d %q", e.code, e.reason)
}

// buildFrame compiles one final, masked client frame and returns it with the offset of its payload.
func buildFrame(op ws.OpCode, payload []byte, mask [4]byte) ([]byte, int) {
	var b bytes.Buffer
	// Writing to a bytes.Buffer cannot fail.
	_ = ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: op, Masked: true, Mask: mask, Length: int64(len(payload))})
	off := b.Len()
	b.Write(payload)
	frame := b.Bytes()
	ws.Cipher(frame[off:], mask, 0)
	return frame, off
}

func (c *wsConn) write(p []byte) error {
	if c.shared {
		c.wmu.Lock()
		defer c.wmu.Unlock()
	}
	if _, err := c.nc.Write(p); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (c *wsConn) writeClose(code ws.StatusCode) error {
	frame, _ := buildFrame(ws.OpClose, ws.NewCloseFrameBody(code, ""), ws.NewMask())
	if err := c.write(frame); err != nil {
		return fmt.Errorf("send close: %w", err)
	}
	return nil
}

// readEcho reads the next data message, which may be fragmented, and checks that it is want, sent as op.
// Pings are answered, pongs ignored; a close frame is returned as *closeError.
func (c *wsConn) readEcho(op ws.OpCode, want []byte) error {
	off := 0
	first := true
	for {
		h, err := c.readHeader()
		if err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			if err := c.control(h); err != nil {
				return err
			}
			continue
		}
		switch {
		case first && h.OpCode != op:
			return fmt.Errorf("echo has opcode %d, sent %d", h.OpCode, op)
		case !first && h.OpCode != ws.OpContinuation:
			return fmt.Errorf("frame with opcode %d inside a fragmented message", h.OpCode)
		}
		first = false
		if h.Length > int64(len(want)-off) {
			return fmt.Errorf("echo longer than the %d bytes sent (frame of %d at offset %d)", len(want), h.Length, off)
		}
		n := int(h.Length)
		if err := c.compare(want[off:off+n], off); err != nil {
			return err
		}
		off += n
		if h.Fin {
			if off != len(want) {
				return fmt.Errorf("echo has %d bytes, sent %d", off, len(want))
			}
			return nil
		}
	}
}

func (c *wsConn) readHeader() (ws.Header, error) {
	h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
	if err != nil {
		return h, fmt.Errorf("read frame header: %w", err)
	}
	if h.Masked {
		return h, errors.New("server sent a masked frame")
	}
	if h.Rsv != 0 {
		return h, fmt.Errorf("server frame has RSV bits %03b (no extension was negotiated)", h.Rsv)
	}
	return h, nil
}

// compare consumes len(want) payload bytes and checks them against want; base is want's offset in the message,
// for the error.
func (c *wsConn) compare(want []byte, base int) error {
	for done := 0; done < len(want); {
		n := min(len(want)-done, c.br.Size())
		got, err := c.br.Peek(n)
		if err != nil {
			return fmt.Errorf("read payload: %w", err)
		}
		if !bytes.Equal(got, want[done:done+n]) {
			i := 0
			for got[i] == want[done+i] {
				i++
			}
			return fmt.Errorf("echo differs at byte %d: got %#x, sent %#x", base+done+i, got[i], want[done+i])
		}
		if _, err := c.br.Discard(n); err != nil {
			return fmt.Errorf("discard payload: %w", err)
		}
		done += n
	}
	return nil
}

// control reads the payload of a control frame and acts on it.
func (c *wsConn) control(h ws.Header) error {
	if h.Length > int64(len(c.ctl)) || !h.Fin {
		return fmt.Errorf("invalid control frame (opcode %d, %d bytes, fin %v)", h.OpCode, h.Length, h.Fin)
	}
	p := c.ctl[:h.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return fmt.Errorf("read control payload: %w", err)
	}
	switch h.OpCode {
	case ws.OpPing:
		frame, _ := buildFrame(ws.OpPong, p, ws.NewMask())
		if err := c.write(frame); err != nil {
			return fmt.Errorf("answer ping: %w", err)
		}
		return nil
	case ws.OpPong:
		return nil
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		return &closeError{code: code, reason: reason}
	default:
		return fmt.Errorf("reserved control opcode %d", h.OpCode)
	}
}

// awaitClose reads until the server's close frame, skipping data; it returns the code the server sent.
func (c *wsConn) awaitClose() (ws.StatusCode, error) {
	for {
		h, err := c.readHeader()
		if err != nil {
			return 0, fmt.Errorf("await close: %w", err)
		}
		if !h.OpCode.IsControl() {
			if _, err := c.br.Discard(int(h.Length)); err != nil {
				return 0, fmt.Errorf("await close: skip data: %w", err)
			}
			continue
		}
		err = c.control(h)
		var ce *closeError
		if errors.As(err, &ce) {
			return ce.code, nil
		}
		if err != nil {
			return 0, fmt.Errorf("await close: %w", err)
		}
	}
}
