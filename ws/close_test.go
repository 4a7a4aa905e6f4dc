package ws

import (
	"errors"
	"strings"
	"testing"
)

func TestValidReceivedCloseCode(t *testing.T) {
	valid := []StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}
	for _, c := range valid {
		if !ValidReceivedCloseCode(c) {
			t.Errorf("%d refused", c)
		}
	}
	for _, c := range invalid {
		if ValidReceivedCloseCode(c) {
			t.Errorf("%d accepted", c)
		}
	}
}

func TestParseClose(t *testing.T) {
	code, reason, err := ParseClose(AppendClosePayload(nil, 4001, "done"))
	if err != nil || code != 4001 || string(reason) != "done" {
		t.Fatalf("got %d %q %v", code, reason, err)
	}
	if _, _, err := ParseClose([]byte{1}); !errors.Is(err, ErrCloseTooShort) {
		t.Fatalf("1-byte payload: %v", err)
	}
}

// A long reason is cut to 123 bytes without splitting a code point.
func TestAppendClosePayloadCutsReason(t *testing.T) {
	p := AppendClosePayload(nil, 1000, strings.Repeat("é", 100))
	if len(p) > 125 {
		t.Fatalf("payload of %d bytes", len(p))
	}
	if _, _, err := ParseClose(p); err != nil {
		t.Fatalf("cut reason is not valid: %v", err)
	}
}

func FuzzParseClose(f *testing.F) {
	f.Add([]byte{0x03, 0xe8, 'o', 'k'})
	f.Add([]byte{0x13, 0x88})
	f.Fuzz(func(t *testing.T, p []byte) {
		code, _, err := ParseClose(p)
		if err == nil && len(p) >= 2 && !ValidReceivedCloseCode(code) {
			t.Fatalf("accepted code %d", code)
		}
	})
}
