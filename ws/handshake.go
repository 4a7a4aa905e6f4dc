package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Request is a parsed HTTP/1.1 request head: either a WebSocket upgrade
// (IsUpgrade) that passed every check of RFC 6455 section 4.2.1, or a plain
// HTTP request the engine may serve or refuse.
type Request struct {
	Method string
	Target string // request-target as sent
	Path   string // decoded path
	Query  url.Values
	Proto  string
	Host   string
	// Header maps lower-case names to values; repeated fields are joined
	// with ", " (RFC 9110 section 5.3).
	Header map[string]string

	IsUpgrade  bool
	Key        string   // Sec-WebSocket-Key
	Protocols  []string // Sec-WebSocket-Protocol, in the client's order
	Extensions []string // Sec-WebSocket-Extensions offers, as sent
}

// HeadEnd returns the length of the request head in buf (up to and including
// the blank line), or -1 if the head is not complete yet.
func HeadEnd(buf []byte) int {
	if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// ParseRequest parses a complete request head (as delimited by HeadEnd). A
// request that asks for a WebSocket upgrade (an Upgrade header with the token
// "websocket") is validated strictly; a malformed one is refused with a
// *HandshakeError carrying 400 or 426. Other requests come back with
// IsUpgrade false.
func ParseRequest(head []byte) (*Request, error) {
	lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\r\n")
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return nil, badRequest("malformed request line")
	}
	req := &Request{Method: parts[0], Target: parts[1], Proto: parts[2], Header: make(map[string]string, len(lines))}
	if !strings.HasPrefix(req.Proto, "HTTP/1.") {
		return nil, badRequest("malformed HTTP version")
	}
	if !strings.HasPrefix(req.Target, "/") {
		return nil, badRequest("request target must be an absolute path")
	}
	u, err := url.ParseRequestURI(req.Target)
	if err != nil {
		return nil, badRequest("malformed request target")
	}
	req.Path = u.Path
	if u.RawQuery != "" {
		if req.Query, err = url.ParseQuery(u.RawQuery); err != nil {
			return nil, badRequest("malformed query string")
		}
	}
	keys, hosts := 0, 0
	for _, line := range lines[1:] {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			return nil, badRequest("malformed header line (obsolete line folding is not accepted)")
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return nil, badRequest("malformed header line")
		}
		name := strings.ToLower(line[:colon])
		value := strings.Trim(line[colon+1:], " \t")
		if strings.ContainsAny(value, "\x00\r\n") {
			return nil, badRequest("invalid character in header value")
		}
		switch name {
		case "sec-websocket-key":
			keys++
		case "host":
			hosts++
		}
		if prev, ok := req.Header[name]; ok {
			value = prev + ", " + value
		}
		req.Header[name] = value
	}
	if hosts > 1 {
		// RFC 9112 section 3.2: more than one Host field is a 400.
		return nil, badRequest("more than one Host header")
	}
	req.Host = req.Header["host"]
	if !hasToken(req.Header["upgrade"], "websocket") {
		return req, nil
	}
	req.IsUpgrade = true
	return req, checkUpgrade(req, keys)
}

// checkUpgrade applies RFC 6455 section 4.2.1 to an upgrade request.
func checkUpgrade(req *Request, keys int) error {
	switch {
	case req.Method != "GET":
		return badRequest("WebSocket upgrade must use GET")
	case req.Proto != "HTTP/1.1":
		return badRequest("WebSocket upgrade requires HTTP/1.1")
	case req.Host == "":
		return badRequest("missing Host header")
	case !hasToken(req.Header["connection"], "upgrade"):
		return badRequest("Connection header must contain the token upgrade")
	case keys == 0:
		return badRequest("missing Sec-WebSocket-Key")
	case keys > 1:
		return badRequest("more than one Sec-WebSocket-Key")
	}
	req.Key = req.Header["sec-websocket-key"]
	if raw, err := base64.StdEncoding.Strict().DecodeString(req.Key); err != nil || len(raw) != 16 {
		return badRequest("Sec-WebSocket-Key must be base64 of 16 bytes")
	}
	switch v, ok := req.Header["sec-websocket-version"]; {
	case !ok:
		return &HandshakeError{Status: 400, Reason: "missing Sec-WebSocket-Version", Header: ErrBadVersion.Header}
	case v != "13":
		return ErrBadVersion
	}
	req.Protocols = tokenList(req.Header["sec-websocket-protocol"])
	for _, p := range req.Protocols {
		if !isToken(p) {
			return badRequest("malformed Sec-WebSocket-Protocol")
		}
	}
	if ext := req.Header["sec-websocket-extensions"]; ext != "" {
		req.Extensions = strings.Split(ext, ",")
		for i := range req.Extensions {
			req.Extensions[i] = strings.TrimSpace(req.Extensions[i])
		}
	}
	return nil
}

// tokenList splits a comma-separated header value, dropping empty elements.
func tokenList(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// hasToken reports whether the comma-separated list v holds token,
// case-insensitively.
func hasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// ValidHeaderField reports whether name and value can be written as a
// response header without breaking the response (no CR, LF or NUL).
func ValidHeaderField(name, value string) bool {
	return isToken(name) && !strings.ContainsAny(value, "\x00\r\n")
}

// AcceptKey computes Sec-WebSocket-Accept for a key (section 4.2.2).
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AppendUpgradeResponse appends the 101 response accepting req, with the
// selected subprotocol (empty for none) and extra headers.
func AppendUpgradeResponse(dst []byte, key, protocol string, extra []HeaderField) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, AcceptKey(key)...)
	dst = append(dst, "\r\n"...)
	if protocol != "" {
		dst = appendField(dst, "Sec-WebSocket-Protocol", protocol)
	}
	for _, f := range extra {
		dst = appendField(dst, f.Name, f.Value)
	}
	return append(dst, "\r\n"...)
}

// AppendResponse appends a complete non-101 HTTP response with a body; the
// connection is closed after it (Connection: close).
func AppendResponse(dst []byte, status int, contentType string, body []byte, extra []HeaderField, headOnly bool) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(status)...)
	dst = append(dst, "\r\n"...)
	if contentType != "" {
		dst = appendField(dst, "Content-Type", contentType)
	}
	dst = appendField(dst, "Content-Length", strconv.Itoa(len(body)))
	dst = appendField(dst, "Connection", "close")
	for _, f := range extra {
		dst = appendField(dst, f.Name, f.Value)
	}
	dst = append(dst, "\r\n"...)
	if headOnly {
		return dst
	}
	return append(dst, body...)
}

// AppendRefusal appends the response for a refused handshake: its status,
// headers and reason as a text body.
func AppendRefusal(dst []byte, e *HandshakeError) []byte {
	return AppendResponse(dst, e.Status, "text/plain; charset=utf-8", []byte(e.Reason+"\n"), e.Header, false)
}

func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// StatusText is the reason phrase of an HTTP status.
func StatusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(status)
}
