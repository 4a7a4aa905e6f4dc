package ws

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ClientRequest describes the opening handshake a client sends.
type ClientRequest struct {
	URL       *url.URL // ws:// or wss://
	Protocols []string
	Header    []HeaderField // extra headers; the managed ones are refused
}

// ManagedClientHeaders are the handshake headers a client script may not set:
// the engine writes them.
var ManagedClientHeaders = []string{"Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Accept", "Sec-WebSocket-Version"}

// ErrManagedHeader is wrapped by CheckClientHeaders for a header the engine owns.
var ErrManagedHeader = errors.New("is managed by evserver")

// CheckClientHeaders refuses headers the engine manages and headers that
// would break the request.
func CheckClientHeaders(h []HeaderField) error {
	for _, f := range h {
		for _, m := range ManagedClientHeaders {
			if strings.EqualFold(f.Name, m) {
				return fmt.Errorf("header %s %w", m, ErrManagedHeader)
			}
		}
		if strings.EqualFold(f.Name, "Sec-WebSocket-Protocol") {
			return errors.New("header Sec-WebSocket-Protocol comes from the protocols option")
		}
		if strings.EqualFold(f.Name, "Sec-WebSocket-Extensions") {
			return errors.New("header Sec-WebSocket-Extensions is negotiated by evserver")
		}
		if !ValidHeaderField(f.Name, f.Value) {
			return fmt.Errorf("header %q has an invalid name or value", f.Name)
		}
	}
	return nil
}

// NewKey returns a fresh Sec-WebSocket-Key (base64 of 16 random bytes).
func NewKey() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// AppendClientRequest appends the upgrade request for r with key.
func AppendClientRequest(dst []byte, r *ClientRequest, key string) []byte {
	target := r.URL.RequestURI()
	dst = append(dst, "GET "...)
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	dst = appendField(dst, "Host", r.URL.Host)
	dst = append(dst, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"...)
	dst = appendField(dst, "Sec-WebSocket-Key", key)
	if len(r.Protocols) > 0 {
		dst = appendField(dst, "Sec-WebSocket-Protocol", strings.Join(r.Protocols, ", "))
	}
	for _, f := range r.Header {
		dst = appendField(dst, f.Name, f.Value)
	}
	return append(dst, "\r\n"...)
}

// Response is a parsed handshake response.
type Response struct {
	Status   int
	Header   map[string]string // lower-case names
	Protocol string            // the selected subprotocol, "" if none
}

// ResponseError is a failed client handshake. Status and Header are set
// whenever the server answered with a parsable HTTP response.
type ResponseError struct {
	Reason string
	Status int
	Header map[string]string
	Body   string // the start of a refusal's body (what the server says went wrong), if read
}

func (e *ResponseError) Error() string { return e.Reason }

// ParseResponse parses and checks the response to a client handshake (RFC
// 6455 section 4.1): status 101, Upgrade: websocket, Connection: upgrade,
// Sec-WebSocket-Accept matching key, and no subprotocol or extension the
// client did not offer. Each failed check has its own message.
func ParseResponse(head []byte, key string, offered []string) (*Response, error) {
	lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\r\n")
	parts := strings.SplitN(lines[0], " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
		return nil, &ResponseError{Reason: "malformed HTTP status line in handshake response"}
	}
	status, err := strconv.Atoi(parts[1])
	if err != nil || status < 100 || status > 999 {
		return nil, &ResponseError{Reason: "malformed HTTP status in handshake response"}
	}
	resp := &Response{Status: status, Header: map[string]string{}}
	for _, line := range lines[1:] {
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, &ResponseError{Reason: "malformed header line in handshake response", Status: status}
		}
		name := strings.ToLower(strings.TrimSpace(line[:colon]))
		value := strings.Trim(line[colon+1:], " \t")
		if prev, ok := resp.Header[name]; ok {
			value = prev + ", " + value
		}
		resp.Header[name] = value
	}
	fail := func(reason string) (*Response, error) {
		return nil, &ResponseError{Reason: reason, Status: status, Header: resp.Header}
	}
	switch {
	case status != 101:
		return fail(fmt.Sprintf("handshake failed: server answered %d %s instead of 101", status, StatusText(status)))
	case !hasToken(resp.Header["upgrade"], "websocket"):
		return fail("no Upgrade: websocket header in handshake response")
	case !hasToken(resp.Header["connection"], "upgrade"):
		return fail("no Connection: upgrade header in handshake response")
	case resp.Header["sec-websocket-accept"] == "":
		return fail("no Sec-WebSocket-Accept header in handshake response")
	case resp.Header["sec-websocket-accept"] != AcceptKey(key):
		return fail("Sec-WebSocket-Accept in handshake response does not match the key")
	case resp.Header["sec-websocket-extensions"] != "":
		return fail(fmt.Sprintf("server selected extension %q which the client did not offer", resp.Header["sec-websocket-extensions"]))
	}
	if p, ok := resp.Header["sec-websocket-protocol"]; ok {
		found := false
		for _, o := range offered {
			found = found || o == p
		}
		if !found {
			return fail(fmt.Sprintf("server selected subprotocol %q which the client did not offer", p))
		}
		resp.Protocol = p
	}
	return resp, nil
}
