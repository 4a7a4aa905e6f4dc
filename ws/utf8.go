package ws

import "unicode/utf8"

// UTF8Validator checks UTF-8 incrementally, so that a text message can be
// failed as soon as an invalid byte arrives (RFC 6455 section 8.1), even when a
// code point is split across reads or fragments. The zero value is ready.
type UTF8Validator struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // allowed range of the next continuation byte
}

// Reset forgets any partial code point.
func (v *UTF8Validator) Reset() { *v = UTF8Validator{} }

// Complete reports whether the bytes seen so far end on a code point boundary.
func (v *UTF8Validator) Complete() bool { return v.need == 0 }

// Write feeds p and reports false at the first byte that cannot be part of
// valid UTF-8. A sequence that is incomplete at the end of p is remembered.
func (v *UTF8Validator) Write(p []byte) bool {
	i := 0
	// Finish a code point left over from the previous call.
	for v.need > 0 && i < len(p) {
		if !v.step(p[i]) {
			return false
		}
		i++
	}
	if i == len(p) {
		return true
	}
	// Validate the whole code points in bulk with the standard library and
	// only walk the (at most 3-byte) unfinished tail by hand.
	end := len(p)
	for k := end - 1; k >= i && k >= end-3; k-- {
		if b := p[k]; b >= 0xC0 {
			if need := seqLen(b); need > 0 && k+need > end {
				end = k
			}
			break
		} else if b < 0x80 {
			break
		}
	}
	if !utf8.Valid(p[i:end]) {
		return false
	}
	for _, b := range p[end:] {
		if !v.step(b) {
			return false
		}
	}
	return true
}

// seqLen is the length of the sequence a lead byte starts, or 0 if it is not
// a valid lead byte.
func seqLen(b byte) int {
	switch {
	case b >= 0xC2 && b <= 0xDF:
		return 2
	case b >= 0xE0 && b <= 0xEF:
		return 3
	case b >= 0xF0 && b <= 0xF4:
		return 4
	}
	return 0
}

func (v *UTF8Validator) step(b byte) bool {
	if v.need > 0 {
		if b < v.lo || b > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
		return true
	}
	switch {
	case b < 0x80:
	case b >= 0xC2 && b <= 0xDF:
		v.need, v.lo, v.hi = 1, 0x80, 0xBF
	case b == 0xE0:
		v.need, v.lo, v.hi = 2, 0xA0, 0xBF
	case b == 0xED: // no UTF-16 surrogates
		v.need, v.lo, v.hi = 2, 0x80, 0x9F
	case b >= 0xE1 && b <= 0xEF:
		v.need, v.lo, v.hi = 2, 0x80, 0xBF
	case b == 0xF0:
		v.need, v.lo, v.hi = 3, 0x90, 0xBF
	case b >= 0xF1 && b <= 0xF3:
		v.need, v.lo, v.hi = 3, 0x80, 0xBF
	case b == 0xF4: // nothing above U+10FFFF
		v.need, v.lo, v.hi = 3, 0x80, 0x8F
	default:
		return false
	}
	return true
}
