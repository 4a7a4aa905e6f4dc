package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// ValidReceivedCloseCode reports whether a peer may send code in a close
// frame (RFC 6455 section 7.4 and the IANA registry): 1000–1003, 1007–1014
// and 3000–4999. 1004–1006 and 1015 are reserved and must never be sent;
// 1016–2999 are unassigned; below 1000 and from 5000 up are invalid.
func ValidReceivedCloseCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// MaxCloseReason is the longest close reason in bytes: a control frame
// payload is at most 125 bytes, two of which hold the code.
const MaxCloseReason = 123

// ParseClose validates a close frame payload (section 5.5.1) and returns its
// code and reason. An empty payload means no code: CloseNoStatus. The reason
// aliases payload.
func ParseClose(payload []byte) (StatusCode, []byte, error) {
	switch len(payload) {
	case 0:
		return CloseNoStatus, nil, nil
	case 1:
		return 0, nil, ErrCloseTooShort
	}
	code := StatusCode(binary.BigEndian.Uint16(payload))
	if !ValidReceivedCloseCode(code) {
		return 0, nil, ErrInvalidCloseCode
	}
	reason := payload[2:]
	if !utf8.Valid(reason) {
		return 0, nil, ErrInvalidCloseUTF8
	}
	return code, reason, nil
}

// AppendClosePayload appends a close frame payload for code and reason. A
// reason longer than MaxCloseReason is cut at a code point boundary.
func AppendClosePayload(dst []byte, code StatusCode, reason string) []byte {
	if code == CloseNoStatus || code == 0 {
		return dst
	}
	if len(reason) > MaxCloseReason {
		reason = reason[:MaxCloseReason]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}
