package ws

import (
	"encoding/binary"

	gws "github.com/gobwas/ws"
)

// OpCode is a frame opcode (RFC 6455 section 5.2).
type OpCode = gws.OpCode

// Opcodes.
const (
	OpContinuation = gws.OpContinuation
	OpText         = gws.OpText
	OpBinary       = gws.OpBinary
	OpClose        = gws.OpClose
	OpPing         = gws.OpPing
	OpPong         = gws.OpPong
)

// MaxControlPayload is the largest control frame payload (section 5.5).
const MaxControlPayload = 125

// maxHeaderSize is 2 bytes of flags and length, 8 of extended length, 4 of mask.
const maxHeaderSize = 14

// header is a parsed frame header.
type header struct {
	fin    bool
	rsv    byte
	op     OpCode
	masked bool
	mask   [4]byte
	length int64
}

// headerSize reports how long the header that starts with b0, b1 is.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// parseHeader decodes a complete header (len(b) == headerSize(b[1])).
func parseHeader(b []byte) (header, error) {
	h := header{
		fin:    b[0]&0x80 != 0,
		rsv:    (b[0] >> 4) & 0x7,
		op:     OpCode(b[0] & 0x0f),
		masked: b[1]&0x80 != 0,
	}
	rest := b[2:]
	switch l := b[1] & 0x7f; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if h.length < 126 {
			return h, ErrNonMinimalLength
		}
	case 127:
		u := binary.BigEndian.Uint64(rest)
		rest = rest[8:]
		if u>>63 != 0 {
			return h, ErrLengthMSB
		}
		h.length = int64(u)
		if h.length <= 0xffff {
			return h, ErrNonMinimalLength
		}
	default:
		h.length = int64(l)
	}
	if h.masked {
		copy(h.mask[:], rest)
	}
	return h, nil
}

// AppendFrame appends one unfragmented, unmasked frame (what a server sends).
func AppendFrame(dst []byte, op OpCode, payload []byte) []byte {
	dst = appendHeader(dst, op, len(payload), false, [4]byte{})
	return append(dst, payload...)
}

// AppendMaskedFrame appends one unfragmented frame masked with mask (what a
// client sends, section 5.3).
func AppendMaskedFrame(dst []byte, op OpCode, payload []byte, mask [4]byte) []byte {
	dst = appendHeader(dst, op, len(payload), true, mask)
	start := len(dst)
	dst = append(dst, payload...)
	gws.Cipher(dst[start:], mask, 0)
	return dst
}

func appendHeader(dst []byte, op OpCode, n int, masked bool, mask [4]byte) []byte {
	b0 := 0x80 | byte(op)
	var mbit byte
	if masked {
		mbit = 0x80
	}
	switch {
	case n < 126:
		dst = append(dst, b0, mbit|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, mbit|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, mbit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if masked {
		dst = append(dst, mask[:]...)
	}
	return dst
}

// FrameSize is the encoded size of an unmasked frame with n payload bytes.
func FrameSize(n int) int {
	switch {
	case n < 126:
		return 2 + n
	case n <= 0xffff:
		return 4 + n
	}
	return 10 + n
}

// Close frames the engine sends often, built once.
var (
	closeFrames = map[StatusCode][]byte{}
)

func init() {
	for _, code := range []StatusCode{CloseNormal, CloseGoingAway, CloseProtocolError, CloseInvalidData, ClosePolicy, CloseTooBig, CloseInternalError} {
		closeFrames[code] = AppendFrame(nil, OpClose, AppendClosePayload(nil, code, ""))
	}
}

// CloseFrame returns the close frame for code and reason: prebuilt for the
// codes the engine sends (1000, 1001, 1002, 1007, 1008, 1009, 1011) with an
// empty reason, built otherwise. The returned slice must not be modified.
func CloseFrame(code StatusCode, reason string) []byte {
	if f, ok := closeFrames[code]; ok && reason == "" {
		return f
	}
	return AppendFrame(nil, OpClose, AppendClosePayload(nil, code, reason))
}
