package ws

import (
	"unicode/utf8"

	gws "github.com/gobwas/ws"
)

// Event is what the Reader hands back: a whole data message (OpText or
// OpBinary), or a control frame (OpPing, OpPong, OpClose).
//
// Payload aliases the Reader's buffers: it is valid only until the next call
// to Feed. For OpClose, Code and Payload (the reason) are already validated.
type Event struct {
	Op      OpCode
	Payload []byte
	Code    StatusCode
}

// Reader parses frames incrementally from the bytes a connection delivers,
// in any split (one byte at a time works), and reassembles messages. It
// validates every rule of RFC 6455 section 5 and fails text messages as soon
// as invalid UTF-8 arrives. It holds no goroutine and does no I/O.
//
// After Feed returns an error the stream is unusable: the caller fails the
// connection with the error's close code.
type Reader struct {
	// MaxMessageSize bounds a whole message (the sum of its fragments) in
	// bytes; 0 means no limit. A frame that would pass it fails the
	// connection with 1009 as soon as its header arrives, before its payload
	// is read.
	MaxMessageSize int64
	// Client makes the reader expect unmasked frames, as a client does;
	// by default frames must be masked (server side).
	Client bool
	// Buffers, if set, lends the buffers of messages larger than 64 KiB and
	// takes them back when the next message starts: big messages then
	// cost no allocation. Calls come from whoever calls Feed.
	Buffers BufferPool

	hdr    [maxHeaderSize]byte
	hdrLen int

	inFrame   bool   // a header was parsed and its payload is being read
	h         header // the current frame's header
	remaining int64  // payload bytes of the current frame not yet read
	pos       int    // payload bytes of the current frame read so far (mask offset)

	msgOp OpCode // opcode of the message being reassembled; 0 if none
	msg   []byte // the message so far
	utf8  UTF8Validator

	ctrl []byte // a control frame's payload split across Feed calls; allocated when first needed
	// closed is set once a close frame was returned: nothing may follow it.
	closed bool
}

// BufferPool lends large message buffers to a Reader.
type BufferPool interface {
	// Get returns an empty buffer with a capacity of at least n.
	Get(n int) []byte
	// Put takes back a buffer Get returned; its contents are dead.
	Put([]byte)
}

// bigMessageKeep is the buffer capacity kept between messages; a larger buffer
// (from a big message) is dropped so that an idle connection does not pin it.
const bigMessageKeep = 64 << 10

// Feed consumes bytes from p until one event is complete or p is used up. It
// returns how many bytes it consumed and whether ev holds an event. Call it
// again with p[n:] while bytes remain.
//
// Feed unmasks payloads in place, so it modifies p. A frame that arrives
// whole in p (an unfragmented message or a control frame) is returned as a
// slice of p without being copied: such an event is valid only as long as p.
func (r *Reader) Feed(p []byte) (n int, ev Event, ok bool, err error) {
	for n < len(p) {
		if !r.inFrame {
			c, done, err := r.feedHeader(p[n:])
			n += c
			if err != nil {
				return n, ev, false, err
			}
			if !done {
				return n, ev, false, nil
			}
			if r.remaining > 0 && r.remaining <= int64(len(p)-n) && (r.h.op.IsControl() || (r.h.fin && r.h.op != OpContinuation)) {
				// The whole frame is here: no copy.
				k := int(r.remaining)
				ev, ok, err = r.wholeFrame(p[n : n+k])
				return n + k, ev, ok, err
			}
			if r.remaining > 0 {
				continue
			}
		} else {
			c, err := r.feedPayload(p[n:])
			n += c
			if err != nil {
				return n, ev, false, err
			}
			if r.remaining > 0 {
				return n, ev, false, nil
			}
		}
		// The current frame is complete.
		r.inFrame = false
		if ev, ok, err = r.finishFrame(); err != nil || ok {
			return n, ev, ok, err
		}
	}
	// A header with a zero-length payload completes with no payload bytes.
	return n, ev, false, nil
}

// feedHeader accumulates header bytes; done reports a complete, checked header.
func (r *Reader) feedHeader(p []byte) (n int, done bool, err error) {
	need := 2
	if r.hdrLen >= 2 {
		need = headerSize(r.hdr[1])
	}
	for r.hdrLen < need && n < len(p) {
		r.hdr[r.hdrLen] = p[n]
		r.hdrLen++
		n++
		if r.hdrLen == 2 {
			// Check what the first two bytes already tell, so that a
			// bad frame fails before the rest of its header arrives.
			if err := r.checkFlags(r.hdr[0], r.hdr[1]); err != nil {
				return n, false, err
			}
			need = headerSize(r.hdr[1])
		}
	}
	if r.hdrLen < need {
		return n, false, nil
	}
	h, err := parseHeader(r.hdr[:need])
	r.hdrLen = 0
	if err != nil {
		return n, false, err
	}
	if err := r.checkHeader(h); err != nil {
		return n, false, err
	}
	r.h = h
	r.inFrame = true
	r.remaining = h.length
	r.pos = 0
	return n, true, nil
}

// checkFlags validates the first two header bytes (section 5.2).
func (r *Reader) checkFlags(b0, b1 byte) error {
	if r.closed {
		return ErrDataAfterCloseFrame
	}
	op := OpCode(b0 & 0x0f)
	fin := b0&0x80 != 0
	masked := b1&0x80 != 0
	if b0&0x70 != 0 {
		return ErrReservedBits
	}
	if op.IsReserved() {
		return ErrReservedOpcode
	}
	if !r.Client && !masked {
		return ErrUnmaskedFrame
	}
	if r.Client && masked {
		return ErrMaskedFrame
	}
	if op.IsControl() {
		if !fin {
			return ErrControlFragmented
		}
		if b1&0x7f > MaxControlPayload {
			return ErrControlTooLong
		}
		return nil
	}
	if op == OpContinuation && r.msgOp == 0 {
		return ErrUnexpectedCont
	}
	if op != OpContinuation && r.msgOp != 0 {
		return ErrExpectedCont
	}
	return nil
}

// checkHeader validates what needs the whole header: the message size limit.
func (r *Reader) checkHeader(h header) error {
	if h.op.IsControl() {
		return nil
	}
	if h.op != OpContinuation {
		r.msgOp = h.op
		r.utf8.Reset()
		if cap(r.msg) > bigMessageKeep {
			if r.Buffers != nil {
				r.Buffers.Put(r.msg)
			}
			r.msg = nil
		}
		r.msg = r.msg[:0]
	}
	// The buffer grows with the bytes that actually arrive, never with what a
	// header claims, so a peer cannot reserve memory it does not send.
	if r.MaxMessageSize > 0 && int64(len(r.msg))+h.length > r.MaxMessageSize {
		return ErrMessageTooBig
	}
	return nil
}

// wholeFrame finishes a frame whose payload is all in payload (a slice of
// the caller's input): unmasked in place and validated there.
func (r *Reader) wholeFrame(payload []byte) (Event, bool, error) {
	if r.h.masked {
		gws.Cipher(payload, r.h.mask, 0)
	}
	r.inFrame, r.remaining, r.pos = false, 0, 0
	switch op := r.h.op; op {
	case OpPing, OpPong:
		return Event{Op: op, Payload: payload}, true, nil
	case OpClose:
		code, reason, err := ParseClose(payload)
		if err != nil {
			return Event{}, false, err
		}
		r.closed = true
		return Event{Op: OpClose, Code: code, Payload: reason}, true, nil
	}
	op := r.msgOp
	r.msgOp = 0
	if op == OpText && !utf8.Valid(payload) {
		return Event{}, false, ErrInvalidUTF8
	}
	return Event{Op: op, Payload: payload}, true, nil
}

// grow makes room for n more bytes. It doubles (append grows large byte
// slices by only 1.25×, copying a big message many times over), but never
// past what the current frame still declares: memory follows the bytes that
// arrive, not what a header claims.
func (r *Reader) grow(n int) {
	need := len(r.msg) + n
	c := max(2*cap(r.msg), 4096, need)
	if declared := int64(len(r.msg)) + r.remaining; int64(c) > declared {
		c = max(need, int(declared))
	}
	var grown []byte
	if r.Buffers != nil && int64(len(r.msg))+r.remaining > bigMessageKeep {
		grown = r.Buffers.Get(c)[:len(r.msg)]
	} else {
		grown = make([]byte, len(r.msg), c)
	}
	copy(grown, r.msg)
	if r.Buffers != nil && cap(r.msg) > bigMessageKeep {
		r.Buffers.Put(r.msg)
	}
	r.msg = grown
}

// feedPayload unmasks and stores payload bytes of the current frame.
func (r *Reader) feedPayload(p []byte) (int, error) {
	n := len(p)
	if int64(n) > r.remaining {
		n = int(r.remaining)
	}
	var dst []byte
	if r.h.op.IsControl() {
		if r.ctrl == nil {
			r.ctrl = make([]byte, MaxControlPayload)
		}
		dst = r.ctrl[r.pos : r.pos+n]
		copy(dst, p[:n])
	} else {
		start := len(r.msg)
		if start+n > cap(r.msg) {
			r.grow(n)
		}
		r.msg = append(r.msg, p[:n]...)
		dst = r.msg[start:]
	}
	if r.h.masked {
		gws.Cipher(dst, r.h.mask, r.pos)
	}
	r.pos += n
	r.remaining -= int64(n)
	if r.msgOp == OpText && !r.h.op.IsControl() && !r.utf8.Write(dst) {
		return n, ErrInvalidUTF8
	}
	return n, nil
}

// finishFrame turns a complete frame into an event if it completes one.
func (r *Reader) finishFrame() (Event, bool, error) {
	switch op := r.h.op; op {
	case OpPing, OpPong:
		return Event{Op: op, Payload: r.ctrlPayload()}, true, nil
	case OpClose:
		code, reason, err := ParseClose(r.ctrlPayload())
		if err != nil {
			return Event{}, false, err
		}
		r.closed = true
		return Event{Op: OpClose, Code: code, Payload: reason}, true, nil
	}
	if !r.h.fin {
		return Event{}, false, nil
	}
	op := r.msgOp
	r.msgOp = 0
	if op == OpText && !r.utf8.Complete() {
		return Event{}, false, ErrInvalidUTF8
	}
	return Event{Op: op, Payload: r.msg}, true, nil
}

// Buffered reports how many bytes of an unfinished message the reader holds.
func (r *Reader) Buffered() int { return len(r.msg) }

// Release drops the message buffer when no message is in progress, so an
// idle connection keeps no buffer.
func (r *Reader) Release() {
	if r.msgOp == 0 {
		r.msg = nil
	}
}

// ctrlPayload is the payload of a control frame read in pieces (empty for a
// zero-length one, which needs no buffer).
func (r *Reader) ctrlPayload() []byte {
	if r.ctrl == nil {
		return nil
	}
	return r.ctrl[:r.pos]
}
