package spec_test

// RFC 6455 conformance of evserver, modelled on the Autobahn TestSuite
// (categories 1–7 and 10) plus the opening handshake. Every test talks to a
// real in-process server over loopback TCP with hand-built bytes: no
// WebSocket library stands between the test and the wire, so what is checked
// is exactly what a client would see. The server runs handlers/echo.lua,
// which sends every message back with its kind.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// Opcodes (RFC 6455 section 5.2).
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// noStatus, as an expected close code, means a close frame with an empty
// payload (1005 is never sent on the wire, section 7.4.1).
const noStatus = 1005

const (
	ioTimeout  = 5 * time.Second // longest wait for bytes the server owes us
	eofTimeout = 3 * time.Second // longest wait for the server to end TCP
)

// The sample handshake of RFC 6455 section 1.3.
const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// echoServer runs the repository's handlers (echo.lua at /echo) with cfg.
func echoServer(t *testing.T, cfg engine.Config) *enginetest.Server {
	t.Helper()
	cfg.HandlersDir = filepath.Join("..", "handlers")
	return enginetest.Run(t, cfg)
}

// ---------------------------------------------------------------------------
// The opening handshake, by hand.

// upgradeRequest returns a valid upgrade request with the given request line,
// changed by edits: "Name: value" replaces the header Name (or adds it),
// "-Name" removes it and "+Name: value" adds one more line.
func upgradeRequest(line string, edits ...string) string {
	headers := []string{
		"Host: 127.0.0.1",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + sampleKey,
		"Sec-WebSocket-Version: 13",
	}
	nameOf := func(h string) string { return strings.ToLower(strings.TrimSpace(h[:strings.IndexByte(h, ':')])) }
	for _, e := range edits {
		switch {
		case strings.HasPrefix(e, "-"):
			name := strings.ToLower(e[1:])
			kept := headers[:0]
			for _, h := range headers {
				if nameOf(h) != name {
					kept = append(kept, h)
				}
			}
			headers = kept
		case strings.HasPrefix(e, "+"):
			headers = append(headers, e[1:])
		default:
			replaced := false
			for i, h := range headers {
				if nameOf(h) == nameOf(e) {
					headers[i], replaced = e, true
				}
			}
			if !replaced {
				headers = append(headers, e)
			}
		}
	}
	return line + "\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n"
}

// acceptFor computes Sec-WebSocket-Accept (section 4.2.2), independently of
// the server's code.
func acceptFor(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// ---------------------------------------------------------------------------
// A raw client.

type client struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	mask byte // varies the masking key from frame to frame
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// open dials addr and completes a valid handshake for path.
func open(t *testing.T, addr, path string) *client {
	t.Helper()
	c := dial(t, addr)
	c.write([]byte(upgradeRequest("GET " + path + " HTTP/1.1")))
	c.expect101(sampleAccept)
	return c
}

// write writes b with one Write call per chunk: chunk sizes are taken from
// chunks in turn (cycling); no chunks means one write for everything.
func (c *client) write(b []byte, chunks ...int) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(chunks) > 0 {
			n = min(chunks[i%len(chunks)], len(b))
		}
		if _, err := c.nc.Write(b[:n]); err != nil {
			c.t.Fatalf("write: %v", err)
		}
		b = b[n:]
	}
}

// readResponse reads an HTTP response head (and leaves the body to the caller).
func (c *client) readResponse() *http.Response {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading the HTTP response: %v", err)
	}
	return resp
}

// expect101 reads the handshake response and checks that it accepts the
// upgrade with the given Sec-WebSocket-Accept, with no extension and no
// subprotocol (echo.lua offers none).
func (c *client) expect101(accept string) {
	c.t.Helper()
	resp := c.readResponse()
	if resp.StatusCode != 101 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		c.t.Fatalf("handshake: got %s (body %q), want 101", resp.Status, body)
	}
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		c.t.Errorf("101: Upgrade = %q, want websocket", got)
	}
	if got := resp.Header.Get("Connection"); !hasToken(got, "upgrade") {
		c.t.Errorf("101: Connection = %q, want the token Upgrade", got)
	}
	if got := resp.Header.Values("Sec-WebSocket-Accept"); len(got) != 1 || got[0] != accept {
		c.t.Errorf("101: Sec-WebSocket-Accept = %q, want [%q]", got, accept)
	}
	for _, h := range []string{"Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol"} {
		if v, ok := resp.Header[h]; ok {
			c.t.Errorf("101: unexpected %s: %q (nothing was negotiated)", h, v)
		}
	}
}

func hasToken(list, token string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// out is a frame the client sends.
type out struct {
	op       byte
	fin      bool
	rsv      byte // the three RSV bits as a number 0..7 (RSV1 = 4)
	payload  []byte
	unmasked bool
	// declared, when larger than len(payload), is the length the header
	// claims; only payload is sent, the rest never is.
	declared int
	// raw, when set, is sent as is instead of an encoded frame.
	raw []byte
}

func text(s string) out           { return out{op: opText, fin: true, payload: []byte(s)} }
func binaryMsg(b []byte) out      { return out{op: opBinary, fin: true, payload: b} }
func ping(p string) out           { return out{op: opPing, fin: true, payload: []byte(p)} }
func pong(p string) out           { return out{op: opPong, fin: true, payload: []byte(p)} }
func closeRaw(p []byte) out       { return out{op: opClose, fin: true, payload: p} }
func first(op byte, p string) out { return out{op: op, payload: []byte(p)} } // starts a fragmented message
func cont(p string, fin bool) out { return out{op: opCont, fin: fin, payload: []byte(p)} }

func closeWith(code int, reason string) out {
	return closeRaw(append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...))
}

func (f out) rsvd(rsv byte) out { f.rsv = rsv; return f }
func (f out) noMask() out       { f.unmasked = true; return f }

// fragments splits a message into frames of size bytes (the last may be
// shorter). An empty message becomes three empty fragments.
func fragments(op byte, payload []byte, size int) []out {
	if len(payload) == 0 {
		return []out{{op: op}, {op: opCont}, {op: opCont, fin: true}}
	}
	var fs []out
	for i := 0; i < len(payload); i += size {
		f := out{op: opCont, payload: payload[i:min(i+size, len(payload))]}
		if i == 0 {
			f.op = op
		}
		fs = append(fs, f)
	}
	fs[len(fs)-1].fin = true
	return fs
}

// encode builds the bytes of f, masked with a fresh key unless f.unmasked.
func (c *client) encode(f out) []byte {
	if f.raw != nil {
		return f.raw
	}
	n := max(len(f.payload), f.declared)
	b0 := f.op&0x0f | f.rsv<<4
	if f.fin {
		b0 |= 0x80
	}
	var mbit byte = 0x80
	if f.unmasked {
		mbit = 0
	}
	b := []byte{b0}
	switch {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n <= 0xffff:
		b = append(b, mbit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if f.unmasked {
		return append(b, f.payload...)
	}
	c.mask++
	key := [4]byte{0x5a ^ c.mask, 0xc3, 0x1f + c.mask, 0x96}
	return maskOnto(append(b, key[:]...), key, f.payload)
}

func maskOnto(dst []byte, key [4]byte, payload []byte) []byte {
	for i, p := range payload {
		dst = append(dst, p^key[i%4])
	}
	return dst
}

// rawFrame is a masked frame with a hand-made header (b0, b1 with the mask
// bit, extended length bytes).
func rawFrame(b0, b1 byte, extLen []byte, payload []byte) out {
	key := [4]byte{0x01, 0x80, 0x7f, 0xfe}
	b := append([]byte{b0, b1}, extLen...)
	return out{raw: maskOnto(append(b, key[:]...), key, payload)}
}

// send encodes frames into one buffer and writes it (see write for chunks).
func (c *client) send(frames []out, chunks ...int) {
	c.t.Helper()
	var b []byte
	for _, f := range frames {
		b = append(b, c.encode(f)...)
	}
	c.write(b, chunks...)
}

// frame is a frame the server sent.
type frame struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

func (f frame) String() string {
	s := fmt.Sprintf("%s frame", opName(f.op))
	if !f.fin {
		s += " (FIN clear)"
	}
	if f.rsv != 0 {
		s += fmt.Sprintf(" (RSV %03b)", f.rsv)
	}
	if f.op == opClose && len(f.payload) >= 2 {
		return s + fmt.Sprintf(" code %d reason %q", binary.BigEndian.Uint16(f.payload), f.payload[2:])
	}
	return s + " " + describe(f.payload)
}

func opName(op byte) string {
	switch op {
	case opCont:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("opcode-%d", op)
}

func describe(p []byte) string {
	if len(p) <= 48 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%d bytes %q...", len(p), p[:32])
}

// parseFrame reads one server frame from r and checks what RFC 6455 demands
// of every server frame: no mask (section 5.1) and a minimal length encoding
// (section 5.2).
func parseFrame(r io.Reader) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, rsv: h[0] >> 4 & 7, op: h[0] & 0x0f}
	if h[1]&0x80 != 0 {
		return f, errors.New("the server sent a masked frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return f, err
		}
		if n = uint64(binary.BigEndian.Uint16(e[:])); n < 126 {
			return f, fmt.Errorf("the server encoded length %d in 16 bits", n)
		}
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return f, err
		}
		if n = binary.BigEndian.Uint64(e[:]); n <= 0xffff || n>>63 != 0 {
			return f, fmt.Errorf("the server encoded length %d in 64 bits", n)
		}
	}
	if n > 16<<20 {
		return f, fmt.Errorf("the server announced a %d-byte frame", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, fmt.Errorf("reading a %d-byte payload: %w", n, err)
	}
	return f, nil
}

// readFrame reads the next server frame or fails the test.
func (c *client) readFrame(waitingFor string) frame {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	f, err := parseFrame(c.br)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", waitingFor, err)
	}
	return f
}

// in is a frame the server must send: a whole, unfragmented one.
type in struct {
	op      byte
	payload []byte
}

func (w in) String() string { return frame{fin: true, op: w.op, payload: w.payload}.String() }

func echoText(s string) in    { return in{opText, []byte(s)} }
func echoBinary(b []byte) in  { return in{opBinary, b} }
func pongOf(p string) in      { return in{opPong, []byte(p)} }
func pongOfBytes(p []byte) in { return in{opPong, p} }

// expectFrame reads the next frame and checks it exactly.
func (c *client) expectFrame(want in) {
	c.t.Helper()
	got := c.readFrame(want.String())
	if !got.fin || got.rsv != 0 || got.op != want.op || !bytes.Equal(got.payload, want.payload) {
		c.t.Fatalf("got %v, want %v", got, want)
	}
}

// expectClose reads the next frame and checks that it is a close frame with
// code (noStatus: an empty payload) and a valid reason.
func (c *client) expectClose(code int) {
	c.t.Helper()
	want := fmt.Sprintf("close frame with code %d", code)
	if code == noStatus {
		want = "close frame with an empty payload"
	}
	got := c.readFrame(want)
	if got.op != opClose || !got.fin || got.rsv != 0 {
		c.t.Fatalf("got %v, want %s", got, want)
	}
	if code == noStatus {
		if len(got.payload) != 0 {
			c.t.Fatalf("got %v, want %s", got, want)
		}
		return
	}
	if len(got.payload) < 2 || len(got.payload) > 125 {
		c.t.Fatalf("got %v (%d-byte payload), want %s", got, len(got.payload), want)
	}
	if gotCode := int(binary.BigEndian.Uint16(got.payload)); gotCode != code {
		c.t.Fatalf("got %v, want %s", got, want)
	}
	if !utf8.Valid(got.payload[2:]) {
		c.t.Fatalf("got %v: the close reason is not valid UTF-8", got)
	}
}

// expectEOF checks that the server ends the TCP connection (a clean FIN)
// without sending anything more.
func (c *client) expectEOF() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(eofTimeout))
	rest, err := io.ReadAll(c.br)
	if len(rest) > 0 {
		var frames []string
		r := bytes.NewReader(rest)
		for r.Len() > 0 {
			f, err := parseFrame(r)
			if err != nil {
				frames = append(frames, fmt.Sprintf("undecodable bytes (%v)", err))
				break
			}
			frames = append(frames, f.String())
		}
		c.t.Fatalf("want the end of the TCP connection, got %d more bytes: %s", len(rest), strings.Join(frames, "; "))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("the server did not end the TCP connection within %v", eofTimeout)
	}
	if err != nil {
		c.t.Fatalf("want a clean end of the TCP connection, got %v", err)
	}
}

// closeHandshake closes a connection that must still be open and idle: our
// close 1000 must be answered by close 1000 and the end of TCP. Anything
// else the server sent first fails the test.
func (c *client) closeHandshake() {
	c.t.Helper()
	c.send([]out{closeWith(1000, "done")})
	c.expectClose(1000)
	c.expectEOF()
}

// ---------------------------------------------------------------------------
// Table-driven exchanges on /echo.

type exchange struct {
	name   string
	send   []out
	chunks []int // write sizes, cycled (see client.write); nil: one write
	want   []in  // frames the server must send, in this order
	// then is sent once want has arrived; thenWant must follow.
	then     []out
	thenWant []in
	// close is the close code the server must send next, followed by the
	// end of TCP (noStatus: an empty close payload). 0: the connection must
	// stay open with nothing more sent, which a clean closing handshake
	// checks.
	close int
}

func runExchanges(t *testing.T, srv *enginetest.Server, cases []exchange) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := open(t, srv.Addr, "/echo")
			c.send(tc.send, tc.chunks...)
			for _, w := range tc.want {
				c.expectFrame(w)
			}
			if tc.then != nil {
				c.send(tc.then)
				for _, w := range tc.thenWant {
					c.expectFrame(w)
				}
			}
			if tc.close == 0 {
				c.closeHandshake()
				return
			}
			c.expectClose(tc.close)
			c.expectEOF()
		})
	}
}

// Payload generators.
func textOf(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

func bytesOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

// writeModes are the ways a byte sequence is handed to TCP.
var writeModes = []struct {
	name   string
	chunks []int
}{
	{"in one write", nil},
	{"byte by byte", []int{1}},
	{"in odd chunks", []int{1, 3, 7, 2, 13, 127, 997, 5}},
}

// ---------------------------------------------------------------------------
// Handshake (RFC 6455 section 4).

func TestHandshake(t *testing.T) {
	if got := acceptFor(sampleKey); got != sampleAccept {
		t.Fatalf("acceptFor(RFC sample key) = %q, want %q", got, sampleAccept)
	}
	srv := echoServer(t, engine.Config{})
	const line = "GET /echo HTTP/1.1"
	otherKey := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	pad := 8<<10 - len(upgradeRequest(line, "X-Pad: "))
	exact8K := upgradeRequest(line, "X-Pad: "+strings.Repeat("p", pad))
	over8K := upgradeRequest(line, "X-Pad: "+strings.Repeat("p", pad+1))
	if len(exact8K) != 8<<10 || len(over8K) != 8<<10+1 {
		t.Fatalf("bad test setup: heads of %d and %d bytes", len(exact8K), len(over8K))
	}
	cases := []struct {
		name    string
		request string
		chunks  []int
		status  int
		accept  string            // 101: the Sec-WebSocket-Accept expected (default sampleAccept)
		header  map[string]string // refusals: headers the response must carry
		body    string            // refusals: text the body must contain
	}{
		{name: "valid upgrade (RFC sample key)", request: upgradeRequest(line), status: 101},
		{name: "valid upgrade with another key", request: upgradeRequest(line, "Sec-WebSocket-Key: "+otherKey), status: 101, accept: acceptFor(otherKey)},
		{name: "request head written byte by byte", request: upgradeRequest(line), chunks: []int{1}, status: 101},
		{name: "Upgrade: WebSocket (case-insensitive)", request: upgradeRequest(line, "Upgrade: WebSocket"), status: 101},
		{name: "Connection: keep-alive, Upgrade", request: upgradeRequest(line, "Connection: keep-alive, Upgrade"), status: 101},
		{name: "Connection: Keep-Alive,upgrade (no space, lower case)", request: upgradeRequest(line, "Connection: Keep-Alive,upgrade"), status: 101},
		{name: "Connection token in a second header line", request: upgradeRequest(line, "Connection: keep-alive", "+Connection: Upgrade"), status: 101},
		{name: "header names in lower case", request: strings.NewReplacer("Host:", "host:", "Upgrade:", "upgrade:", "Connection:", "connection:", "Sec-WebSocket-Key:", "sec-websocket-key:", "Sec-WebSocket-Version:", "sec-websocket-version:").Replace(upgradeRequest(line)), status: 101},
		{name: "extension offer is declined", request: upgradeRequest(line, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"), status: 101},
		{name: "subprotocol offer the handler does not speak", request: upgradeRequest(line, "Sec-WebSocket-Protocol: chat, superchat"), status: 101},
		{name: "request head of exactly 8 KiB", request: exact8K, status: 101},
		{name: "Upgrade: a list holding websocket", request: upgradeRequest(line, "Upgrade: foo/1, websocket"), status: 101},

		{name: "POST", request: upgradeRequest("POST /echo HTTP/1.1"), status: 400},
		{name: "method in lower case", request: upgradeRequest("get /echo HTTP/1.1"), status: 400},
		{name: "HTTP/1.0", request: upgradeRequest("GET /echo HTTP/1.0"), status: 400},
		{name: "missing Host", request: upgradeRequest(line, "-Host"), status: 400},
		// RFC 9112 section 3.2: more than one Host field is a 400.
		{name: "Host given twice", request: upgradeRequest(line, "+Host: example.com"), status: 400},
		{name: "header line without a colon", request: upgradeRequest(line, "+X-Broken"), status: 400},
		// RFC 9112 section 5.2: obs-fold is rejected with 400 (or unfolded).
		{name: "obsolete line folding", request: strings.Replace(upgradeRequest(line), "Upgrade: websocket\r\n", "Upgrade:\r\n websocket\r\n", 1), status: 400},
		{name: "missing Connection", request: upgradeRequest(line, "-Connection"), status: 400},
		{name: "Connection without the upgrade token", request: upgradeRequest(line, "Connection: keep-alive"), status: 400},
		{name: "Sec-WebSocket-Key not base64", request: upgradeRequest(line, "Sec-WebSocket-Key: not*base64*at*all!"), status: 400},
		{name: "Sec-WebSocket-Key of 15 bytes", request: upgradeRequest(line, "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 15))), status: 400},
		{name: "Sec-WebSocket-Key of 17 bytes", request: upgradeRequest(line, "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 17))), status: 400},
		{name: "Sec-WebSocket-Key without padding", request: upgradeRequest(line, "Sec-WebSocket-Key: "+strings.TrimRight(sampleKey, "=")), status: 400},
		{name: "missing Sec-WebSocket-Key", request: upgradeRequest(line, "-Sec-WebSocket-Key"), status: 400},
		{name: "Sec-WebSocket-Key given twice", request: upgradeRequest(line, "+Sec-WebSocket-Key: "+otherKey), status: 400},
		{name: "missing Sec-WebSocket-Version", request: upgradeRequest(line, "-Sec-WebSocket-Version"), status: 400},
		{name: "Sec-WebSocket-Version 8", request: upgradeRequest(line, "Sec-WebSocket-Version: 8"), status: 426, header: map[string]string{"Sec-WebSocket-Version": "13"}},
		{name: "request head of 8 KiB + 1 byte", request: over8K, status: 431},
		{name: "request head of 16 KiB", request: upgradeRequest(line, "X-Pad: "+strings.Repeat("p", 16<<10)), status: 431},
		{name: "unknown path", request: upgradeRequest("GET /no-such-handler HTTP/1.1"), status: 404},
		{name: "plain GET without Upgrade", request: "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", status: 404, body: "WebSocket upgrade failed"},
		{name: "Upgrade: h2c is not a WebSocket upgrade", request: upgradeRequest(line, "Upgrade: h2c"), status: 404, body: "WebSocket upgrade failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, srv.Addr)
			c.write([]byte(tc.request), tc.chunks...)
			if tc.status == 101 {
				accept := tc.accept
				if accept == "" {
					accept = sampleAccept
				}
				c.expect101(accept)
				c.closeHandshake()
				return
			}
			resp := c.readResponse()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the body: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("got %s (body %q), want %d", resp.Status, body, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", ct)
			}
			if len(bytes.TrimSpace(body)) == 0 || len(body) > 200 || !utf8.Valid(body) {
				t.Errorf("body %q: want a short text", body)
			}
			if !bytes.Contains(body, []byte(tc.body)) {
				t.Errorf("body %q: want it to contain %q", body, tc.body)
			}
			for name, want := range tc.header {
				if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("header %s = %q, want [%q]", name, got, want)
				}
			}
			if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "" {
				t.Errorf("a refusal carries Sec-WebSocket-Accept: %q", got)
			}
			c.expectEOF()
		})
	}
}

// A client may send frames right behind its request, in the same write.
func TestHandshakeFramesInSameWrite(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	for _, mode := range writeModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, srv.Addr)
			b := []byte(upgradeRequest("GET /echo HTTP/1.1"))
			for _, f := range []out{text("first"), ping("p"), binaryMsg([]byte{0, 1, 2})} {
				b = append(b, c.encode(f)...)
			}
			c.write(b, mode.chunks...)
			c.expect101(sampleAccept)
			c.expectFrame(echoText("first"))
			c.expectFrame(pongOf("p"))
			c.expectFrame(echoBinary([]byte{0, 1, 2}))
			c.closeHandshake()
		})
	}
}

// ---------------------------------------------------------------------------
// Autobahn 1: framing of text and binary messages.

func TestFraming(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	var cases []exchange
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		for _, mode := range writeModes {
			s, b := textOf(n), bytesOf(n)
			cases = append(cases,
				exchange{name: fmt.Sprintf("text of %d bytes %s", n, mode.name), send: []out{text(s)}, chunks: mode.chunks, want: []in{echoText(s)}},
				exchange{name: fmt.Sprintf("binary of %d bytes %s", n, mode.name), send: []out{binaryMsg(b)}, chunks: mode.chunks, want: []in{echoBinary(b)}},
			)
		}
	}
	cases = append(cases,
		exchange{name: "three messages in one write", send: []out{text("one"), binaryMsg([]byte("two")), text("three")},
			want: []in{echoText("one"), echoBinary([]byte("two")), echoText("three")}},
		exchange{name: "65536-byte text in chunks of 997", send: []out{text(textOf(65536))}, chunks: []int{997}, want: []in{echoText(textOf(65536))}},
	)
	runExchanges(t, srv, cases)
}

// Frames RFC 6455 section 5 forbids outside Autobahn's list: unmasked client
// frames (5.1) and lengths that are not minimally encoded (5.2).
func TestFramingErrors(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	runExchanges(t, srv, []exchange{
		{name: "unmasked text", send: []out{text("Hello").noMask()}, close: 1002},
		{name: "unmasked empty binary", send: []out{binaryMsg(nil).noMask()}, close: 1002},
		{name: "unmasked ping", send: []out{ping("p").noMask()}, close: 1002},
		{name: "unmasked close", send: []out{closeWith(1000, "").noMask()}, close: 1002},
		{name: "masked first fragment, unmasked continuation", send: []out{first(opText, "frag"), cont("ment", true).noMask()}, close: 1002},
		{name: "text echoed before an unmasked frame fails", send: []out{text("Hello"), text("World").noMask()}, want: []in{echoText("Hello")}, close: 1002},
		{name: "length 5 in 16 bits", send: []out{rawFrame(0x81, 0x80|126, []byte{0, 5}, []byte("Hello"))}, close: 1002},
		{name: "length 256 in 64 bits", send: []out{rawFrame(0x82, 0x80|127, []byte{0, 0, 0, 0, 0, 0, 1, 0}, bytesOf(256))}, close: 1002},
		{name: "64-bit length with the most significant bit set", send: []out{rawFrame(0x82, 0x80|127, []byte{0x80, 0, 0, 0, 0, 0, 0, 5}, []byte("Hello"))}, close: 1002},
	})
}

// ---------------------------------------------------------------------------
// Autobahn 2: pings and pongs.

func TestPingPong(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	binPayload := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	var tenPings []out
	var tenPongs []in
	for i := range 10 {
		p := fmt.Sprintf("payload-%d", i)
		tenPings = append(tenPings, ping(p))
		tenPongs = append(tenPongs, pongOf(p))
	}
	var allPings []out
	var allPongs []in
	for n := 0; n <= 125; n++ {
		allPings = append(allPings, out{op: opPing, fin: true, payload: bytesOf(n)})
		allPongs = append(allPongs, pongOfBytes(bytesOf(n)))
	}
	runExchanges(t, srv, []exchange{
		{name: "2.1 ping without payload", send: []out{ping("")}, want: []in{pongOf("")}},
		{name: "2.2 ping with text payload", send: []out{ping("Hello, world!")}, want: []in{pongOf("Hello, world!")}},
		{name: "2.3 ping with binary payload", send: []out{{op: opPing, fin: true, payload: binPayload}}, want: []in{pongOfBytes(binPayload)}},
		{name: "2.4 ping with 125-byte payload", send: []out{ping(textOf(125))}, want: []in{pongOf(textOf(125))}},
		{name: "2.5 ping with 126-byte payload", send: []out{ping(textOf(126))}, close: 1002},
		{name: "2.6 ping with 125-byte payload byte by byte", send: []out{ping(textOf(125))}, chunks: []int{1}, want: []in{pongOf(textOf(125))}},
		{name: "2.7 unsolicited pong without payload is ignored", send: []out{pong("")}},
		{name: "2.8 unsolicited pong with payload is ignored", send: []out{pong("unsolicited pong payload")}},
		{name: "2.9 unsolicited pong, then ping", send: []out{pong("unsolicited pong payload"), ping("ping payload")}, want: []in{pongOf("ping payload")}},
		{name: "2.10 ten pings in one write", send: tenPings, want: tenPongs},
		{name: "2.11 ten pings byte by byte", send: tenPings, chunks: []int{1}, want: tenPongs},
		{name: "pings of every length 0..125", send: allPings, want: allPongs},
		{name: "ping with 127-byte payload (64-bit length)", send: []out{rawFrame(0x89, 0x80|127, []byte{0, 0, 0, 0, 0, 1, 0, 0}, nil)}, close: 1002},
	})
}

// ---------------------------------------------------------------------------
// Autobahn 3: reserved bits (no extension was negotiated).

func TestReservedBits(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	runExchanges(t, srv, []exchange{
		{name: "3.1 text with RSV1", send: []out{text("Hello").rsvd(4)}, close: 1002},
		{name: "3.2 text, text with RSV2, ping", send: []out{text("Hello"), text("Hello").rsvd(2), ping("")}, want: []in{echoText("Hello")}, close: 1002},
		{name: "3.3 text, text with RSV3, ping, byte by byte", send: []out{text("Hello"), text("Hello").rsvd(3), ping("")}, chunks: []int{1}, want: []in{echoText("Hello")}, close: 1002},
		{name: "3.4 text, text with RSV1+RSV3, ping, odd chunks", send: []out{text("Hello"), text("Hello").rsvd(5), ping("")}, chunks: []int{3, 1, 4}, want: []in{echoText("Hello")}, close: 1002},
		{name: "3.5 binary with RSV1+RSV2", send: []out{binaryMsg([]byte{0, 0xff}).rsvd(6)}, close: 1002},
		{name: "3.6 ping with RSV1+RSV3", send: []out{ping("Hello").rsvd(5)}, close: 1002},
		{name: "3.7 close with RSV1+RSV2", send: []out{closeWith(1000, "").rsvd(6)}, close: 1002},
		{name: "pong with RSV1", send: []out{pong("").rsvd(4)}, close: 1002},
		{name: "continuation with all RSV bits", send: []out{first(opText, "frag"), cont("ment", true).rsvd(7)}, close: 1002},
		{name: "binary echoed before a ping with RSV2", send: []out{binaryMsg([]byte{1, 2, 3}), ping("x").rsvd(2)}, want: []in{echoBinary([]byte{1, 2, 3})}, close: 1002},
	})
}

// ---------------------------------------------------------------------------
// Autobahn 4: reserved opcodes.

func TestReservedOpcodes(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	var cases []exchange
	for _, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		cases = append(cases,
			exchange{name: fmt.Sprintf("opcode %d without payload", op), send: []out{{op: op, fin: true}}, close: 1002},
			exchange{name: fmt.Sprintf("opcode %d with payload", op), send: []out{{op: op, fin: true, payload: []byte("reserved opcode")}}, close: 1002},
			exchange{name: fmt.Sprintf("text, opcode %d, ping", op), send: []out{text("Hello"), {op: op, fin: true, payload: []byte("x")}, ping("")},
				want: []in{echoText("Hello")}, close: 1002},
			exchange{name: fmt.Sprintf("opcode %d with FIN clear", op), send: []out{{op: op, payload: []byte("x")}}, close: 1002},
		)
	}
	runExchanges(t, srv, cases)
}

// ---------------------------------------------------------------------------
// Autobahn 5: fragmentation.

func TestFragmentation(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	oneByteText := fragments(opText, []byte(textOf(1000)), 1)
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	runExchanges(t, srv, []exchange{
		{name: "5.1 fragmented ping", send: []out{{op: opPing, payload: []byte("fragment1")}, cont("fragment2", true)}, close: 1002},
		{name: "5.2 fragmented pong", send: []out{{op: opPong, payload: []byte("fragment1")}, cont("fragment2", true)}, close: 1002},
		{name: "fragmented close", send: []out{{op: opClose, payload: []byte{0x03, 0xe8}}, cont("", true)}, close: 1002},
		{name: "5.3 text in two fragments", send: []out{first(opText, "fragment1"), cont("fragment2", true)}, want: []in{echoText("fragment1fragment2")}},
		{name: "5.4 text in two fragments byte by byte", send: []out{first(opText, "fragment1"), cont("fragment2", true)}, chunks: []int{1}, want: []in{echoText("fragment1fragment2")}},
		{name: "5.5 text in two fragments, sent one by one", send: []out{first(opText, "fragment1")}, then: []out{cont("fragment2", true)}, thenWant: []in{echoText("fragment1fragment2")}},
		{name: "5.6 ping between fragments", send: []out{first(opText, "fragment1"), ping("ping payload"), cont("fragment2", true)},
			want: []in{pongOf("ping payload"), echoText("fragment1fragment2")}},
		{name: "5.7 ping between fragments byte by byte", send: []out{first(opText, "fragment1"), ping("ping payload"), cont("fragment2", true)}, chunks: []int{1},
			want: []in{pongOf("ping payload"), echoText("fragment1fragment2")}},
		{name: "5.8 ping answered while the message is unfinished", send: []out{first(opText, "fragment1"), ping("ping payload")}, want: []in{pongOf("ping payload")},
			then: []out{cont("fragment2", true)}, thenWant: []in{echoText("fragment1fragment2")}},
		{name: "pong between fragments is ignored", send: []out{first(opBinary, "fragment1"), pong("pong payload"), cont("fragment2", true)}, want: []in{echoBinary([]byte("fragment1fragment2"))}},
		{name: "5.9 continuation (FIN) without a message, then text", send: []out{cont("fragment1", true), text("fragment2")}, close: 1002},
		{name: "5.10 continuation (FIN) without a message byte by byte", send: []out{cont("fragment1", true), text("fragment2")}, chunks: []int{1}, close: 1002},
		{name: "5.12 continuation (no FIN) without a message", send: []out{cont("fragment1", false), cont("fragment2", true)}, close: 1002},
		{name: "5.15 text in two fragments, then a stray continuation", send: []out{first(opText, "fragment1"), cont("fragment2", true), cont("fragment3", false), cont("fragment4", true)},
			want: []in{echoText("fragment1fragment2")}, close: 1002},
		{name: "5.18 new text while a fragmented text is unfinished", send: []out{first(opText, "fragment1"), text("fragment2")}, close: 1002},
		{name: "new binary while a fragmented text is unfinished", send: []out{first(opText, "fragment1"), binaryMsg([]byte("fragment2"))}, close: 1002},
		{name: "new fragmented text while a fragmented binary is unfinished", send: []out{first(opBinary, "fragment1"), first(opText, "fragment2")}, close: 1002},
		{name: "5.19 text in five fragments with pings, sent in steps",
			send: []out{first(opText, "fragment1"), cont("fragment2", false), ping("pongme 1!")}, want: []in{pongOf("pongme 1!")},
			then:     []out{cont("fragment3", false), cont("fragment4", false), ping("pongme 2!"), cont("fragment5", true)},
			thenWant: []in{pongOf("pongme 2!"), echoText("fragment1fragment2fragment3fragment4fragment5")}},
		{name: "binary in two fragments", send: []out{first(opBinary, "\x00\xff"), cont("\xfe\x01", true)}, want: []in{echoBinary([]byte{0, 0xff, 0xfe, 1})}},
		{name: "empty text in three empty fragments", send: fragments(opText, nil, 1), want: []in{echoText("")}},
		{name: "text in three fragments, the middle one empty", send: []out{first(opText, "ab"), cont("", false), cont("cd", true)}, want: []in{echoText("abcd")}},
		{name: "two fragmented messages back to back", send: []out{first(opText, "a"), cont("b", true), first(opBinary, "c"), cont("d", true)},
			want: []in{echoText("ab"), echoBinary([]byte("cd"))}},
		{name: "text in 1000 one-byte fragments", send: oneByteText, want: []in{echoText(textOf(1000))}},
		{name: "binary in 256 one-byte fragments, every byte value", send: fragments(opBinary, allBytes, 1), want: []in{echoBinary(allBytes)}},
		{name: "65536-byte binary in 1300-byte fragments, odd chunks", send: fragments(opBinary, bytesOf(65536), 1300), chunks: []int{1, 3, 7, 2, 13, 127, 997, 5},
			want: []in{echoBinary(bytesOf(65536))}},
	})
}

// ---------------------------------------------------------------------------
// Autobahn 6: UTF-8 in text messages (RFC 6455 section 8.1).

const kosme = "κόσμε"

var validUTF8 = []struct{ name, s string }{
	{"empty", ""},
	{"Greek kosme", kosme},
	{"Hello-µ@ßöäüàá-UTF-8!!", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"U+0000", "\x00"},
	{"U+007F, last 1-byte", "\x7f"},
	{"U+0080, first 2-byte", "\xc2\x80"},
	{"U+07FF, last 2-byte", "\xdf\xbf"},
	{"U+0800, first 3-byte", "\xe0\xa0\x80"},
	{"U+D7FF, before the surrogates", "\xed\x9f\xbf"},
	{"U+E000, after the surrogates", "\xee\x80\x80"},
	{"U+FEFF byte order mark", "\xef\xbb\xbf"},
	{"U+FFFD", "\xef\xbf\xbd"},
	{"U+FFFE noncharacter", "\xef\xbf\xbe"},
	{"U+FFFF, last 3-byte", "\xef\xbf\xbf"},
	{"U+10000, first 4-byte", "\xf0\x90\x80\x80"},
	{"U+10FFFF, last code point", "\xf4\x8f\xbf\xbf"},
	{"mixed scripts and emoji", "Ünïcödé ✓ 日本語 𝄞 😀 " + kosme},
}

// invalidUTF8 are sequences invalid wherever they stand.
var invalidUTF8 = []struct{ name, seq string }{
	{"lone continuation 0x80", "\x80"},
	{"lone continuation 0xBF", "\xbf"},
	{"two stray continuations", "\x80\xbf"},
	{"overlong NUL", "\xc0\x80"},
	{"overlong '/' in 2 bytes", "\xc0\xaf"},
	{"overlong '/' in 3 bytes", "\xe0\x80\xaf"},
	{"overlong '/' in 4 bytes", "\xf0\x80\x80\xaf"},
	{"overlong '/' in 5 bytes", "\xf8\x80\x80\x80\xaf"},
	{"overlong U+007F in 2 bytes", "\xc1\xbf"},
	{"overlong U+07FF in 3 bytes", "\xe0\x9f\xbf"},
	{"overlong U+FFFF in 4 bytes", "\xf0\x8f\xbf\xbf"},
	{"surrogate U+D800", "\xed\xa0\x80"},
	{"surrogate U+DBFF", "\xed\xaf\xbf"},
	{"surrogate U+DC00", "\xed\xb0\x80"},
	{"surrogate U+DFFF", "\xed\xbf\xbf"},
	{"surrogate pair U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80"},
	{"U+110000, above U+10FFFF", "\xf4\x90\x80\x80"},
	{"lead byte 0xF5", "\xf5\x80\x80\x80"},
	{"5-byte sequence", "\xf8\x88\x80\x80\x80"},
	{"6-byte sequence", "\xfc\x84\x80\x80\x80\x80"},
	{"byte 0xFE", "\xfe"},
	{"byte 0xFF", "\xff"},
	{"2-byte lead then ASCII", "\xc2 "},
	{"3-byte sequence missing its last byte, then ASCII", "\xe2\x82 "},
	{"4-byte sequence missing its last byte, then ASCII", "\xf0\x9f\x98 "},
}

// truncatedUTF8 are sequences that are valid prefixes: invalid only because
// the message ends.
var truncatedUTF8 = []struct{ name, seq string }{
	{"2-byte sequence cut after 1", "\xce"},
	{"3-byte sequence cut after 1", "\xe2"},
	{"3-byte sequence cut after 2", "\xe2\x82"},
	{"4-byte sequence cut after 3", "\xf0\x9f\x98"},
	{"U+10FFFF cut after 3", "\xf4\x8f\xbf"},
}

func TestUTF8(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	var cases []exchange
	for _, v := range validUTF8 {
		cases = append(cases,
			exchange{name: "valid " + v.name + ", one frame", send: []out{text(v.s)}, want: []in{echoText(v.s)}},
			exchange{name: "valid " + v.name + ", byte by byte", send: []out{text(v.s)}, chunks: []int{1}, want: []in{echoText(v.s)}},
			exchange{name: "valid " + v.name + ", one-byte fragments", send: fragments(opText, []byte(v.s), 1), want: []in{echoText(v.s)}},
		)
	}
	long := strings.Repeat(validUTF8[len(validUTF8)-1].s, 40)
	cases = append(cases,
		exchange{name: "valid long mixed text in odd chunks", send: []out{text(long)}, chunks: []int{1, 3, 7, 2, 13, 127, 997, 5}, want: []in{echoText(long)}},
		exchange{name: "valid long mixed text in 7-byte fragments", send: fragments(opText, []byte(long), 7), want: []in{echoText(long)}},
		exchange{name: "valid long mixed text in 7-byte fragments, odd chunks", send: fragments(opText, []byte(long), 7), chunks: []int{1, 3, 7, 2, 13, 127, 997, 5}, want: []in{echoText(long)}},
		exchange{name: "code point split across fragments with a ping between", send: []out{first(opText, "κ\xce"), ping("p"), cont("\xbc", true)},
			want: []in{pongOf("p"), echoText("κμ")}},
		exchange{name: "ping payload is not UTF-8 checked inside a text message", send: []out{first(opText, "ab"), ping("\xff\xfe"), cont("cd", true)},
			want: []in{pongOf("\xff\xfe"), echoText("abcd")}},
		exchange{name: "binary message is not UTF-8 checked", send: []out{binaryMsg([]byte("\xed\xa0\x80\xff"))}, want: []in{echoBinary([]byte("\xed\xa0\x80\xff"))}},
	)
	split := kosme + "𝄞€"
	for i := 1; i < len(split); i++ {
		cases = append(cases, exchange{
			name: fmt.Sprintf("valid %q split into two fragments after byte %d", split, i),
			send: []out{first(opText, split[:i]), cont(split[i:], true)}, want: []in{echoText(split)},
		})
	}
	for _, v := range invalidUTF8 {
		p := []byte(kosme + v.seq + "edited")
		cases = append(cases,
			exchange{name: "invalid " + v.name + ", one frame", send: []out{text(string(p))}, close: 1007},
			exchange{name: "invalid " + v.name + ", byte by byte", send: []out{text(string(p))}, chunks: []int{1}, close: 1007},
			exchange{name: "invalid " + v.name + ", one-byte fragments", send: fragments(opText, p, 1), close: 1007},
			exchange{name: "invalid " + v.name + ", echoed message before it", send: []out{text(kosme), text(string(p))}, want: []in{echoText(kosme)}, close: 1007},
		)
	}
	for _, v := range truncatedUTF8 {
		p := []byte(kosme + v.seq)
		cases = append(cases,
			exchange{name: "truncated at the end: " + v.name + ", one frame", send: []out{text(string(p))}, close: 1007},
			exchange{name: "truncated at the end: " + v.name + ", byte by byte", send: []out{text(string(p))}, chunks: []int{1}, close: 1007},
			exchange{name: "truncated at the end: " + v.name + ", one-byte fragments", send: fragments(opText, p, 1), close: 1007},
			exchange{name: "truncated at the end: " + v.name + ", then an empty final fragment", send: []out{first(opText, string(p)), cont("", true)}, close: 1007},
		)
	}
	// Fail fast (Autobahn 6.4): the close must come as soon as the invalid
	// byte arrives; the rest of the message is never sent.
	cases = append(cases,
		exchange{name: "fail fast: 6.4.1 invalid second fragment, third never sent", send: []out{first(opText, kosme), cont("\xf4\x90\x80\x80", false)}, close: 1007},
		exchange{name: "fail fast: 6.4.2 invalid first fragment, rest never sent", send: []out{first(opText, kosme+"\xed\xa0\x80")}, close: 1007},
		exchange{name: "fail fast: invalid first fragment byte by byte", send: []out{first(opText, kosme+"\xed\xa0\x80")}, chunks: []int{1}, close: 1007},
		exchange{name: "fail fast: first fragment of a single 0xFF", send: []out{first(opText, "\xff")}, close: 1007},
		exchange{name: "fail fast: 6.4.3 invalid start of a long frame, rest never sent", send: []out{{op: opText, fin: true, payload: []byte(kosme + "\xf4\x90\x80\x80"), declared: 1000}}, close: 1007},
		exchange{name: "fail fast: 6.4.4 long frame cut right after the invalid byte", send: []out{{op: opText, fin: true, payload: []byte(kosme + "\xf4\x90"), declared: 1000}}, close: 1007},
		exchange{name: "fail fast: surrogate lead pair in a long first fragment", send: []out{{op: opText, payload: []byte("abc\xed\xa0"), declared: 70000}}, close: 1007},
	)
	runExchanges(t, srv, cases)
}

// ---------------------------------------------------------------------------
// Autobahn 7: the closing handshake (RFC 6455 sections 5.5.1, 7).

func TestClose(t *testing.T) {
	srv := echoServer(t, engine.Config{})
	cases := []exchange{
		{name: "7.1.1 message, then close", send: []out{text("Hello World!"), closeWith(1000, "")}, want: []in{echoText("Hello World!")}, close: 1000},
		{name: "7.1.2 close twice: one answer", send: []out{closeWith(1000, ""), closeWith(1000, "")}, close: 1000},
		{name: "7.1.3 ping after close is not answered", send: []out{closeWith(1000, ""), ping("after close")}, close: 1000},
		{name: "7.1.4 text after close is not echoed", send: []out{closeWith(1000, ""), text("after close")}, close: 1000},
		{name: "7.1.5 fragment, close, last fragment: not echoed", send: []out{first(opText, "fragment1"), closeWith(1000, ""), cont("fragment2", true)}, close: 1000},
		{name: "7.1.6 256 KiB message, close, ping: message echoed, then close", send: []out{binaryMsg(bytesOf(256 << 10)), closeWith(1000, ""), ping("after close")},
			want: []in{echoBinary(bytesOf(256 << 10))}, close: 1000},
		{name: "binary after close, byte by byte", send: []out{closeWith(1000, ""), binaryMsg([]byte("after close"))}, chunks: []int{1}, close: 1000},
		{name: "7.3.1 close without payload", send: []out{closeRaw(nil)}, close: noStatus},
		{name: "7.3.2 close with 1-byte payload", send: []out{closeRaw([]byte{0x03})}, close: 1002},
		{name: "7.3.3 close 1000 without reason", send: []out{closeWith(1000, "")}, close: 1000},
		{name: "7.3.4 close 1000 with reason", send: []out{closeWith(1000, "Hello World!")}, close: 1000},
		{name: "7.3.5 close 1000 with 123-byte reason", send: []out{closeWith(1000, textOf(123))}, close: 1000},
		{name: "7.3.6 close 1000 with 124-byte reason", send: []out{closeWith(1000, textOf(124))}, close: 1002},
		{name: "close 1000 with reason, byte by byte", send: []out{closeWith(1000, "bye")}, chunks: []int{1}, close: 1000},
		{name: "7.5.1 close reason with invalid UTF-8", send: []out{closeWith(1000, kosme+"\xed\xa0\x80edited")}, close: 1007},
		{name: "close reason truncated in a code point", send: []out{closeWith(1000, kosme+"\xce")}, close: 1007},
		{name: "close reason with a multi-byte code point", send: []out{closeWith(4000, kosme)}, close: 4000},
	}
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, exchange{name: fmt.Sprintf("7.7 valid code %d is echoed", code), send: []out{closeWith(code, "reason")}, close: code})
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, exchange{name: fmt.Sprintf("7.9 invalid code %d", code), send: []out{closeWith(code, "")}, close: 1002})
	}
	runExchanges(t, srv, cases)
}

// ---------------------------------------------------------------------------
// Autobahn 10 and the message size limit (close 1009, RFC 6455 section 7.4.1).

func TestMessageSize(t *testing.T) {
	t.Run("default limit of 1 MiB", func(t *testing.T) {
		srv := echoServer(t, engine.Config{})
		runExchanges(t, srv, []exchange{
			{name: "1 MiB + 1 byte binary, header only", send: []out{{op: opBinary, fin: true, declared: 1<<20 + 1}}, close: 1009},
			{name: "1 MiB + 1 byte text, header only", send: []out{{op: opText, fin: true, declared: 1<<20 + 1}}, close: 1009},
			{name: "1 MiB + 1 byte in a second fragment's header", send: []out{first(opBinary, string(bytesOf(1<<20))), {op: opCont, fin: true, declared: 1}}, close: 1009},
			{name: "exactly 1 MiB is echoed", send: []out{binaryMsg(bytesOf(1 << 20))}, want: []in{echoBinary(bytesOf(1 << 20))}},
			{name: "10.1.1 65536-byte text in 1300-byte fragments", send: fragments(opText, []byte(textOf(65536)), 1300), want: []in{echoText(textOf(65536))}},
		})
	})
	t.Run("limit of 1000 bytes", func(t *testing.T) {
		srv := echoServer(t, engine.Config{MaxMessageSize: 1000})
		msg := bytesOf(1000)
		runExchanges(t, srv, []exchange{
			{name: "3 fragments of 400 bytes", send: fragments(opBinary, bytesOf(1200), 400), close: 1009},
			{name: "400 + 400 bytes, then only the header of 400 more", send: []out{first(opBinary, string(bytesOf(400))), cont(string(bytesOf(400)), false), {op: opCont, fin: true, declared: 400}}, close: 1009},
			{name: "3 text fragments of 400 bytes", send: fragments(opText, []byte(textOf(1200)), 400), close: 1009},
			{name: "400 + 400 + 200 bytes is echoed", send: fragments(opBinary, msg, 400), want: []in{echoBinary(msg)}},
			{name: "1000 bytes in one frame is echoed", send: []out{binaryMsg(msg)}, want: []in{echoBinary(msg)}},
			{name: "1001 bytes in one frame, header only", send: []out{{op: opBinary, fin: true, declared: 1001}}, close: 1009},
			{name: "pings between fragments do not count", send: []out{first(opBinary, string(msg[:500])), ping(textOf(125)), cont(string(msg[500:]), true)},
				want: []in{pongOf(textOf(125)), echoBinary(msg)}},
			{name: "the limit is per message", send: []out{binaryMsg(msg), binaryMsg(msg)}, want: []in{echoBinary(msg), echoBinary(msg)}},
		})
	})
}
