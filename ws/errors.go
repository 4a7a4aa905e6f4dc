package ws

import (
	"fmt"

	gws "github.com/gobwas/ws"
)

// StatusCode is a WebSocket close code (RFC 6455 section 7.4).
type StatusCode = gws.StatusCode

// Close codes the engine sends or reports.
const (
	CloseNormal        StatusCode = 1000
	CloseGoingAway     StatusCode = 1001
	CloseProtocolError StatusCode = 1002
	CloseNoStatus      StatusCode = 1005
	CloseAbnormal      StatusCode = 1006
	CloseInvalidData   StatusCode = 1007
	ClosePolicy        StatusCode = 1008
	CloseTooBig        StatusCode = 1009
	CloseInternalError StatusCode = 1011
)

// ProtocolError is a violation of RFC 6455 by the peer. Code is the close code
// to fail the connection with; Reason is fixed text safe to send to the peer
// (it never contains peer input).
type ProtocolError struct {
	Code   StatusCode
	Reason string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("ws: %s (close %d)", e.Reason, e.Code) }

// Protocol errors of the frame reader. Each carries its close code.
var (
	ErrUnmaskedFrame       = &ProtocolError{CloseProtocolError, "client frame is not masked"}
	ErrMaskedFrame         = &ProtocolError{CloseProtocolError, "server frame is masked"}
	ErrReservedBits        = &ProtocolError{CloseProtocolError, "reserved bits set without a negotiated extension"}
	ErrReservedOpcode      = &ProtocolError{CloseProtocolError, "reserved opcode"}
	ErrControlTooLong      = &ProtocolError{CloseProtocolError, "control frame payload over 125 bytes"}
	ErrControlFragmented   = &ProtocolError{CloseProtocolError, "fragmented control frame"}
	ErrUnexpectedCont      = &ProtocolError{CloseProtocolError, "continuation frame without a message to continue"}
	ErrExpectedCont        = &ProtocolError{CloseProtocolError, "new data frame while a fragmented message is unfinished"}
	ErrNonMinimalLength    = &ProtocolError{CloseProtocolError, "payload length not minimally encoded"}
	ErrLengthMSB           = &ProtocolError{CloseProtocolError, "64-bit payload length has its most significant bit set"}
	ErrInvalidUTF8         = &ProtocolError{CloseInvalidData, "invalid UTF-8 in text message"}
	ErrMessageTooBig       = &ProtocolError{CloseTooBig, "message too big"}
	ErrCloseTooShort       = &ProtocolError{CloseProtocolError, "close frame payload of 1 byte"}
	ErrInvalidCloseCode    = &ProtocolError{CloseProtocolError, "invalid close code"}
	ErrInvalidCloseUTF8    = &ProtocolError{CloseInvalidData, "invalid UTF-8 in close reason"}
	ErrDataAfterCloseFrame = &ProtocolError{CloseProtocolError, "frame after close frame"}
)

// HandshakeError is a refused opening handshake: the HTTP status to answer
// with, a short fixed reason for the response body, and headers to add (426
// carries Sec-WebSocket-Version: 13).
type HandshakeError struct {
	Status int
	Reason string
	Header []HeaderField
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("ws: handshake refused with %d: %s", e.Status, e.Reason)
}

// HeaderField is one HTTP header line.
type HeaderField struct{ Name, Value string }

func badRequest(reason string) *HandshakeError { return &HandshakeError{Status: 400, Reason: reason} }

// Handshake errors that do not depend on the request.
var (
	ErrHeadTooLarge = &HandshakeError{Status: 431, Reason: "request header fields too large"}
	ErrBadVersion   = &HandshakeError{
		Status: 426, Reason: "unsupported Sec-WebSocket-Version (only 13 is supported)",
		Header: []HeaderField{{"Sec-WebSocket-Version", "13"}},
	}
)
