package ws

import (
	"testing"
	"unicode/utf8"
)

func TestUTF8ValidatorMatchesStdlib(t *testing.T) {
	cases := []string{
		"", "hello", "κόσμε", "\xf0\x9f\x98\x80 emoji", "\xed\x9f\xbf", "\xee\x80\x80", "\xf4\x8f\xbf\xbf",
		"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x80", "\xbf",
		"\xfe", "\xff", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
		"abc\xe2\x82", "\xf0\x90\x80",
	}
	for _, s := range cases {
		// Every split of s into two writes must agree with utf8.ValidString.
		for cut := 0; cut <= len(s); cut++ {
			var v UTF8Validator
			ok := v.Write([]byte(s[:cut])) && v.Write([]byte(s[cut:])) && v.Complete()
			if want := utf8.ValidString(s); ok != want {
				t.Errorf("%q split at %d: valid=%v, want %v", s, cut, ok, want)
			}
		}
	}
}

// An invalid prefix must fail at once, before the rest of the code point
// arrives (RFC 6455 section 8.1 fail-fast).
func TestUTF8ValidatorFailsFast(t *testing.T) {
	for _, prefix := range []string{"\xf4\x90", "\xed\xa0", "\xe0\x80", "\xc0", "\xf5", "a\x80", "\xf0\x80"} {
		var v UTF8Validator
		if v.Write([]byte(prefix)) {
			t.Errorf("%q accepted as a prefix of valid UTF-8", prefix)
		}
	}
	for _, prefix := range []string{"\xf4\x8f", "\xed\x9f", "\xe0\xa0", "\xf0\x90\x80", "\xc2"} {
		var v UTF8Validator
		if !v.Write([]byte(prefix)) || v.Complete() {
			t.Errorf("%q: want a valid, incomplete prefix", prefix)
		}
	}
}

func FuzzUTF8Validator(f *testing.F) {
	f.Add([]byte("κόσμε"), 3)
	f.Add([]byte("\xf4\x90\x80\x80"), 1)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		if cut < 0 || cut > len(b) {
			cut = len(b) / 2
		}
		var v UTF8Validator
		ok := v.Write(b[:cut]) && v.Write(b[cut:]) && v.Complete()
		if ok != utf8.Valid(b) {
			t.Fatalf("%q split at %d: got %v, want %v", b, cut, ok, !ok)
		}
	})
}
