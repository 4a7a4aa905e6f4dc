package engine_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// The client handler: each message is a command. "connect <url> [proto]"
// opens an outbound connection read with conn:receive and reports what
// happened; "relay <url> <text>" sends text through a msg_handler class.
const clientLua = `
local ws = require("ws")
local C = {}
function C:on_message(msg)
  local cmd, url, rest = msg:match("^(%S+) (%S+) ?(.*)$")
  if cmd == "connect" then
    local protocols = rest ~= "" and { rest } or nil
    local c, status, headers, h2 = ws.connect{ url = url, timeout = 0.5, protocols = protocols }
    if not c then
      self.conn:send("error: " .. status .. " | " .. tostring(headers) .. " | " .. (h2 and tostring(h2["x-why"]) or "-"))
      return
    end
    c:send("text one")
    c:send("\0\1", "binary")
    local m1, k1 = c:receive(2)
    local m2, k2 = c:receive(2)
    self.conn:send(("ok %d %s %s %s %d proto=%s"):format(status, m1, k1, k2, #m2, c.protocol))
    c:close(4001, "done")
    local m3, err = c:receive(2)
    self.conn:send("after close: " .. tostring(m3) .. " " .. tostring(err))
  elseif cmd == "relay" then
    local c, err = ws.connect{ url = url, msg_handler = "feed", context = { reply = self.conn } }
    if not c then return self.conn:send("error: " .. err) end
    c:send(rest)
  elseif cmd == "bad" then
    local _, err = ws.connect(loadstring("return " .. msg:sub(5))())
    self.conn:send("bad: " .. tostring(err))
  end
end
return C
`

// feed.lua is the msg_handler of relayed connections.
const feedLua = `
local Feed = {}
function Feed.new(conn, context) return setmetatable({ conn = conn, reply = context.reply }, Feed) end
function Feed:on_open() self.reply:send("feed open") end
function Feed:on_message(msg, kind) self.reply:send("feed got " .. msg .. " " .. kind); self.conn:close() end
function Feed:on_close(code) self.reply:send("feed closed " .. code) end
return Feed
`

func startClientServer(t *testing.T, workers int) (*enginetest.Server, *websocket.Conn) {
	t.Helper()
	dir := enginetest.Handlers(t, map[string]string{"client.lua": clientLua, "feed.lua": feedLua, "echo.lua": outEchoLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: workers})
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/client", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

const outEchoLua = `local E = {} function E:on_message(m, k) self.conn:send(m, k) end return E`

func ask(t *testing.T, c *websocket.Conn, msg string) string {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	return readMsg(t, c)
}

func readMsg(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, got, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(got)
}

// gorillaEcho is an independent WebSocket server that echoes and selects
// "p1" when offered.
func gorillaEcho(t *testing.T, tls bool) *httptest.Server {
	up := websocket.Upgrader{Subprotocols: []string{"p1"}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(typ, msg)
		}
	})
	if tls {
		return httptest.NewTLSServer(h)
	}
	return httptest.NewServer(h)
}

func TestConnectToIndependentServer(t *testing.T) {
	peer := gorillaEcho(t, false)
	defer peer.Close()
	_, c := startClientServer(t, 2)
	url := "ws" + strings.TrimPrefix(peer.URL, "http") + "/x"
	if got := ask(t, c, "connect "+url+" p1"); got != "ok 101 text one text binary 2 proto=p1" {
		t.Fatalf("got %q", got)
	}
	if got := readMsg(t, c); got != "after close: nil connection closed" {
		t.Fatalf("got %q", got)
	}
}

func TestConnectToItself(t *testing.T) {
	srv, c := startClientServer(t, 1)
	if got := ask(t, c, "connect "+srv.URL+"/echo"); got != "ok 101 text one text binary 2 proto=" {
		t.Fatalf("got %q", got)
	}
	readMsg(t, c)
}

func TestConnectWSS(t *testing.T) {
	peer := gorillaEcho(t, true)
	defer peer.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	_, c := startClientServer(t, 1)
	url := "wss" + strings.TrimPrefix(peer.URL, "https")
	// "bad" reports ws.connect's second result: the status on success.
	withCA := `{url="` + url + `", tls={ca_file="` + caFile + `"}}`
	if got := ask(t, c, "bad "+withCA); got != "bad: 101" {
		t.Fatalf("wss with the test CA: %q", got)
	}
	if got := ask(t, c, `bad {url="`+url+`", timeout=2}`); !strings.Contains(got, "certificate") {
		t.Fatalf("wss without the CA: %q, want a certificate error", got)
	}
}

// misbehaving answers every connection with a fixed handshake response
// (or none at all).
func misbehaving(t *testing.T, respond func(key string) string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // ends when the listener closes
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // ends with the connection
				defer nc.Close()
				br := bufio.NewReader(nc)
				key := ""
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(strings.ToLower(line), "sec-websocket-key:") {
						key = strings.TrimSpace(line[len("sec-websocket-key:"):])
					}
					if line == "\r\n" {
						break
					}
				}
				resp := respond(key)
				if resp == "silent" {
					time.Sleep(2 * time.Second)
					return
				}
				nc.Write([]byte(resp))
				time.Sleep(100 * time.Millisecond)
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/feed"
}

func accept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func TestConnectRefusesBadHandshakes(t *testing.T) {
	_, c := startClientServer(t, 1)
	cases := []struct {
		name    string
		respond func(key string) string
		want    string
	}{
		{"200 instead of 101", func(string) string {
			return "HTTP/1.1 200 OK\r\nX-Why: plain\r\nContent-Length: 2\r\n\r\nhi"
		}, "error: handshake failed: server answered 200 OK instead of 101 | 200 | plain"},
		{"401 with headers", func(string) string {
			return "HTTP/1.1 401 Unauthorized\r\nX-Why: token\r\nContent-Length: 0\r\n\r\n"
		}, "error: handshake failed: server answered 401 Unauthorized instead of 101 | 401 | token"},
		{"missing Upgrade", func(k string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept(k) + "\r\n\r\n"
		}, "error: no Upgrade: websocket header in handshake response | 101 | nil"},
		{"missing Connection", func(k string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + accept(k) + "\r\n\r\n"
		}, "error: no Connection: upgrade header in handshake response | 101 | nil"},
		{"wrong Accept", func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept("other") + "\r\n\r\n"
		}, "error: Sec-WebSocket-Accept in handshake response does not match the key | 101 | nil"},
		{"unoffered subprotocol", func(k string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: evil\r\nSec-WebSocket-Accept: " + accept(k) + "\r\n\r\n"
		}, `error: server selected subprotocol "evil" which the client did not offer | 101 | nil`},
		{"unoffered extension", func(k string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Accept: " + accept(k) + "\r\n\r\n"
		}, `error: server selected extension "permessage-deflate" which the client did not offer | 101 | nil`},
		{"silent server", func(string) string { return "silent" }, "error: timeout | nil | -"},
		{"closes mid-handshake", func(string) string { return "HTTP/1.1 101 Swi" }, "error: connection closed during the handshake | nil | -"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := misbehaving(t, tc.respond)
			if got := ask(t, c, "connect "+url); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestConnectOptionErrors(t *testing.T) {
	_, c := startClientServer(t, 1)
	cases := []struct{ opts, want string }{
		{`{}`, `bad: ws.connect: url: required (a string like "ws://host:port/path")`},
		{`{url="http://x/"}`, `bad: ws.connect: url: scheme must be ws or wss, not "http"`},
		{`{url="ws://x/", headers="a"}`, `bad: ws.connect: headers: must be a table, not a string`},
		{`{url="ws://x/", headers={["Sec-WebSocket-Key"]="x"}}`, `bad: ws.connect: header Sec-WebSocket-Key is managed by evserver`},
		{`{url="ws://x/", headers={upgrade="x"}}`, `bad: ws.connect: header Upgrade is managed by evserver`},
		{`{url="ws://x/", timeout=-1}`, `bad: ws.connect: timeout: must be a number of seconds ≥ 0, not -1`},
		{`{url="ws://x/", msg_handler="nope"}`, `bad: ws.connect: msg_handler: lua: no handler "nope"`},
		{`{url="ws://x/", protocols="p"}`, `bad: ws.connect: protocols: must be a list of strings, not a string`},
	}
	for _, tc := range cases {
		if got := ask(t, c, "bad "+tc.opts); got != tc.want {
			t.Errorf("%s:\n got  %q\n want %q", tc.opts, got, tc.want)
		}
	}
}

// A msg_handler class gets on_open, on_message and on_close for the
// outbound connection, with the context passed to new.
func TestConnectWithMsgHandler(t *testing.T) {
	peer := gorillaEcho(t, false)
	defer peer.Close()
	_, c := startClientServer(t, 2)
	url := "ws" + strings.TrimPrefix(peer.URL, "http")
	if err := c.WriteMessage(websocket.TextMessage, []byte("relay "+url+" hello")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"feed open", "feed got hello text", "feed closed 1000"} {
		if got := readMsg(t, c); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// With one worker, a connect waiting on a silent server does not delay
// another connection's echo.
func TestConnectDoesNotBlockTheWorker(t *testing.T) {
	srv, c := startClientServer(t, 1)
	url := misbehaving(t, func(string) string { return "silent" })
	if err := c.WriteMessage(websocket.TextMessage, []byte("connect "+url)); err != nil {
		t.Fatal(err)
	}
	other, _, err := websocket.DefaultDialer.Dial(srv.URL+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	start := time.Now()
	if got := ask(t, other, "ping"); got != "ping" {
		t.Fatalf("echo: %q", got)
	}
	if waited := time.Since(start); waited > 400*time.Millisecond {
		t.Fatalf("echo took %v while a connect waited: the worker was blocked", waited)
	}
	if got := readMsg(t, c); got != "error: timeout | nil | -" {
		t.Fatalf("connect: %q", got)
	}
}

// An independent server that fragments a large message, pings, and closes
// with its own code: the outbound side reassembles, answers the ping and
// reports the code to on_close.
func TestOutboundFragmentsPingsAndCloseCodes(t *testing.T) {
	pong := make(chan string, 1)
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{WriteBufferSize: 1024}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetPongHandler(func(s string) error { pong <- s; return nil })
		go c.ReadMessage() // runs the pong handler; ends when the connection does
		c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		// With a 1 KiB write buffer, gorilla sends this as many fragments.
		c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("é", 20000)))
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4003, "bye"))
		time.Sleep(500 * time.Millisecond)
	}))
	defer peer.Close()
	feed := `
local F = {}
function F:on_message(msg, kind) self.context:send(("got %d bytes %s %s"):format(#msg, kind, tostring(msg == ("é"):rep(20000)))) end
function F:on_close(code, reason) self.context:send("closed " .. code .. " " .. reason) end
return F`
	client := `
local ws = require("ws")
local C = {}
function C:on_message(url)
  local c, err = ws.connect{ url = url, msg_handler = "feed", context = self.conn }
  if not c then self.conn:send("error " .. err) end
end
return C`
	dir := enginetest.Handlers(t, map[string]string{"client.lua": client, "feed.lua": feed})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/client", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("ws"+strings.TrimPrefix(peer.URL, "http")))
	expectMessages(t, c, "got 40000 bytes text true", "closed 4003 bye")
	select {
	case p := <-pong:
		if p != "are you there" {
			t.Fatalf("pong payload %q", p)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no pong for the server's ping")
	}
}
