package ws

import (
	"errors"
	"strings"
	"testing"
)

const goodKey = "dGhlIHNhbXBsZSBub25jZQ=="

func head(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n") }

func upgradeHead(extra ...string) []byte {
	lines := append([]string{"GET /chat/room?x=1&y=a%20b HTTP/1.1", "Host: example.com:9000", "Upgrade: websocket",
		"Connection: Upgrade", "Sec-WebSocket-Key: " + goodKey, "Sec-WebSocket-Version: 13"}, extra...)
	return head(lines...)
}

func replace(h []byte, old, new string) []byte {
	return []byte(strings.Replace(string(h), old, new, 1))
}

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		status  int // 0: accepted
		upgrade bool
	}{
		{"valid", upgradeHead(), 0, true},
		{"token lists, any case", replace(replace(upgradeHead(), "Upgrade: websocket", "Upgrade: h2c, WebSocket"), "Connection: Upgrade", "Connection: keep-alive, UPGRADE"), 0, true},
		{"plain GET", head("GET /x HTTP/1.1", "Host: a"), 0, false},
		{"POST upgrade", replace(upgradeHead(), "GET", "POST"), 400, true},
		{"HTTP/1.0", replace(upgradeHead(), "HTTP/1.1", "HTTP/1.0"), 400, true},
		{"no Host", replace(upgradeHead(), "Host: example.com:9000\r\n", ""), 400, true},
		{"no Connection upgrade", replace(upgradeHead(), "Connection: Upgrade", "Connection: keep-alive"), 400, true},
		{"no key", replace(upgradeHead(), "Sec-WebSocket-Key: "+goodKey+"\r\n", ""), 400, true},
		{"two keys", upgradeHead("Sec-WebSocket-Key: " + goodKey), 400, true},
		{"key not base64", replace(upgradeHead(), goodKey, "not base64 at all!!"), 400, true},
		{"key of 15 bytes", replace(upgradeHead(), goodKey, "AAAAAAAAAAAAAAAAAAAA"), 400, true},
		{"key of 17 bytes", replace(upgradeHead(), goodKey, "AAAAAAAAAAAAAAAAAAAAAAA="), 400, true},
		{"version 8", replace(upgradeHead(), "Version: 13", "Version: 8"), 426, true},
		{"no version", replace(upgradeHead(), "Sec-WebSocket-Version: 13\r\n", ""), 400, true},
		{"bad request line", head("GET /x", "Host: a"), 400, false},
		{"absolute-form target", replace(upgradeHead(), "GET /chat", "GET http://h/chat"), 400, false},
		{"folded header", replace(upgradeHead(), "Upgrade: websocket", "Upgrade: websocket\r\n continued"), 400, false},
		{"header without colon", upgradeHead("garbage"), 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseRequest(tc.in)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if req.IsUpgrade != tc.upgrade {
					t.Fatalf("IsUpgrade = %v, want %v", req.IsUpgrade, tc.upgrade)
				}
				return
			}
			var herr *HandshakeError
			if !errors.As(err, &herr) || herr.Status != tc.status {
				t.Fatalf("err = %v, want status %d", err, tc.status)
			}
			if herr.Reason == "" {
				t.Fatal("refusal without a reason")
			}
		})
	}
}

func TestParseRequestFields(t *testing.T) {
	req, err := ParseRequest(upgradeHead("Sec-WebSocket-Protocol: chat.v2, chat.v1", "X-Multi: a", "X-Multi: b"))
	if err != nil {
		t.Fatal(err)
	}
	if req.Path != "/chat/room" || req.Query.Get("y") != "a b" || req.Host != "example.com:9000" {
		t.Fatalf("path %q query %v host %q", req.Path, req.Query, req.Host)
	}
	if strings.Join(req.Protocols, "|") != "chat.v2|chat.v1" {
		t.Fatalf("protocols %q", req.Protocols)
	}
	if req.Header["x-multi"] != "a, b" {
		t.Fatalf("repeated header joined as %q", req.Header["x-multi"])
	}
}

func TestVersionRefusalCarriesHeader(t *testing.T) {
	_, err := ParseRequest(replace(upgradeHead(), "Version: 13", "Version: 7"))
	resp := string(AppendRefusal(nil, err.(*HandshakeError)))
	if !strings.HasPrefix(resp, "HTTP/1.1 426 Upgrade Required\r\n") || !strings.Contains(resp, "\r\nSec-WebSocket-Version: 13\r\n") {
		t.Fatalf("response:\n%s", resp)
	}
}

// The accept value of RFC 6455 section 1.3's example.
func TestAcceptKey(t *testing.T) {
	if got := AcceptKey(goodKey); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(upgradeHead())
	f.Add(head("GET / HTTP/1.1", "Host: a"))
	f.Add(replace(upgradeHead(), "Version: 13", "Version: 8"))
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ParseRequest(in)
		if err != nil {
			var herr *HandshakeError
			if !errors.As(err, &herr) || herr.Status < 400 || herr.Status > 499 {
				t.Fatalf("error %v is not a 4xx HandshakeError", err)
			}
			return
		}
		if req.IsUpgrade && (req.Method != "GET" || req.Key == "" || req.Host == "") {
			t.Fatalf("accepted an invalid upgrade: %+v", req)
		}
	})
}
