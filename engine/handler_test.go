package engine_test

// Handler behaviour seen from outside: handler errors, connection limits,
// routing, broken handlers and -static, each against spec/api.md.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

const htTimeout = 10 * time.Second

var htDialer = &websocket.Dialer{HandshakeTimeout: htTimeout}

// htDialOK upgrades url and fails the test if refused.
func htDialOK(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := htDialer.Dial(url, nil)
	if err != nil {
		status := "no response"
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial %s: %v (%s)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// htRefusal dials url expecting a htRefusal and returns its status and body.
func htRefusal(t *testing.T, url string) (int, string) {
	t.Helper()
	c, resp, err := htDialer.Dial(url, nil)
	if err == nil {
		c.Close()
		t.Errorf("dial %s: accepted, want a refusal", url)
		return 101, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v without a response", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func htWantRefusal(t *testing.T, url string, status int, body string) {
	t.Helper()
	got, gotBody := htRefusal(t, url)
	if got != status || (body != "" && gotBody != body) {
		t.Errorf("dial %s: %d %q, want %d %q", url, got, gotBody, status, body)
	}
}

func htRead(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(htTimeout))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

func htEcho(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if got := htRead(t, c); got != msg {
		t.Fatalf("echo of %q: got %q", msg, got)
	}
}

// htExpectClose reads until the connection ends and requires close code.
func htExpectClose(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	for {
		c.SetReadDeadline(time.Now().Add(htTimeout))
		if _, _, err := c.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, code) {
				t.Errorf("want close %d, got %v", code, err)
			}
			return
		}
	}
}

// htCloseConn runs the client's side of the closing handshake and ends TCP.
func htCloseConn(t *testing.T, c *websocket.Conn) {
	t.Helper()
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	htExpectClose(t, c, 1000)
	c.Close()
}

// htLineOf is the 1-based line of src holding text.
func htLineOf(t *testing.T, src, text string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("no line with %q", text)
	return 0
}

func htWantLog(t *testing.T, srv *enginetest.Server, text string) {
	t.Helper()
	enginetest.Eventually(t, htTimeout, fmt.Sprintf("%q in the log", text), func() bool {
		return strings.Contains(srv.Log.String(), text)
	})
}

const htEchoLua = `local Echo = {}
function Echo:on_message(msg, kind) self.conn:send(msg, kind) end
return Echo
`

// ---- handler errors --------------------------------------------------------

const htAcceptErrorLua = `local Boom = {}
function Boom.accept(req)
  error("accept exploded")
end
return Boom
`

func TestAcceptErrorIs500WithFileLine(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"boom.lua": htAcceptErrorLua, "echo.lua": htEchoLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	htWantRefusal(t, srv.URL+"/boom", 500, "handler failed")
	htWantLog(t, srv, fmt.Sprintf("%s:%d: accept exploded", filepath.Join(dir, "boom.lua"), htLineOf(t, htAcceptErrorLua, "error(")))
	// The server carries on.
	htEcho(t, htDialOK(t, srv.URL+"/echo"), "still serving")
	htWantRefusal(t, srv.URL+"/boom", 500, "handler failed")
}

const htNewErrorLua = `local Boom = {}
function Boom.new(conn)
  local x = nil
  return x.field
end
return Boom
`

func TestNewErrorIs500WithFileLine(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"boom.lua": htNewErrorLua, "echo.lua": htEchoLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	htWantRefusal(t, srv.URL+"/boom", 500, "handler failed")
	htWantLog(t, srv, fmt.Sprintf("%s:%d:", filepath.Join(dir, "boom.lua"), htLineOf(t, htNewErrorLua, "x.field")))
	htEcho(t, htDialOK(t, srv.URL+"/echo"), "still serving")
}

const htEventErrorLua = `local Fragile = {}
function Fragile:on_open()
  if self.conn.query.fail_open then error("on_open exploded") end
end
function Fragile:on_message(msg, kind)
  if msg == "boom" then error("on_message exploded") end
  self.conn:send(msg, kind)
end
return Fragile
`

// An error in on_message closes that connection with 1011; another
// connection on the same worker (one VM) keeps echoing.
func TestOnMessageErrorClosesOnlyThatConnection(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"fragile.lua": htEventErrorLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1})
	a := htDialOK(t, srv.URL+"/fragile")
	b := htDialOK(t, srv.URL+"/fragile")
	htEcho(t, a, "a1")
	htEcho(t, b, "b1")
	if err := a.WriteMessage(websocket.TextMessage, []byte("boom")); err != nil {
		t.Fatal(err)
	}
	htExpectClose(t, a, websocket.CloseInternalServerErr)
	htEcho(t, b, "b2 after a failed")
	htWantLog(t, srv, fmt.Sprintf("%s:%d: on_message exploded", filepath.Join(dir, "fragile.lua"), htLineOf(t, htEventErrorLua, `"on_message exploded"`)))
	// and new connections are served
	htEcho(t, htDialOK(t, srv.URL+"/fragile"), "c1")
}

func TestOnOpenErrorClosesThatConnection(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"fragile.lua": htEventErrorLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1})
	b := htDialOK(t, srv.URL+"/fragile")
	a := htDialOK(t, srv.URL+"/fragile?fail_open=1")
	htExpectClose(t, a, websocket.CloseInternalServerErr)
	htEcho(t, b, "b still echoes")
	htWantLog(t, srv, fmt.Sprintf("%s:%d: on_open exploded", filepath.Join(dir, "fragile.lua"), htLineOf(t, htEventErrorLua, `"on_open exploded"`)))
}

const htCloseErrorLua = `local Fragile = {}
function Fragile:on_message(msg, kind) self.conn:send(msg, kind) end
function Fragile:on_close(code, reason)
  error("on_close exploded with " .. code)
end
return Fragile
`

// An error in on_close is logged with the file and line; the server carries on.
func TestOnCloseErrorIsLogged(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"fragile.lua": htCloseErrorLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1})
	a := htDialOK(t, srv.URL+"/fragile")
	htEcho(t, a, "a")
	htCloseConn(t, a)
	htWantLog(t, srv, fmt.Sprintf("%s:%d: on_close exploded with 1000", filepath.Join(dir, "fragile.lua"), htLineOf(t, htCloseErrorLua, `"on_close exploded`)))
	htEcho(t, htDialOK(t, srv.URL+"/fragile"), "b")
}

// A handler whose accept, new or http ends with a bare `return` returns
// nothing: api.md makes that a handler error (500). Each case runs in a
// child process, so that a crash fails only its own test.
func TestAcceptReturningNothingIs500(t *testing.T) {
	htInChild(t, func(t *testing.T) {
		htTestReturnsNothing(t, "local C = {}\nfunction C.accept(req) return end\nreturn C\n", false)
	})
}

func TestNewReturningNothingIs500(t *testing.T) {
	htInChild(t, func(t *testing.T) {
		htTestReturnsNothing(t, "local C = {}\nfunction C.new(conn) end\nreturn C\n", false)
	})
}

func TestHTTPReturningNothingIs500(t *testing.T) {
	htInChild(t, func(t *testing.T) {
		htTestReturnsNothing(t, "local C = {}\nfunction C.http(req) end\nreturn C\n", true)
	})
}

func htTestReturnsNothing(t *testing.T, src string, plain bool) {
	dir := enginetest.Handlers(t, map[string]string{"c.lua": src, "echo.lua": htEchoLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	if plain {
		resp, body := htGet(t, "http://"+srv.Addr+"/c")
		if resp.StatusCode != 500 || strings.TrimSpace(body) != "handler failed" {
			t.Errorf("GET /c: %d %q, want 500 handler failed", resp.StatusCode, body)
		}
	} else {
		htWantRefusal(t, srv.URL+"/c", 500, "handler failed")
	}
	htEcho(t, htDialOK(t, srv.URL+"/echo"), "still serving")
}

// htInChild runs body in a child process (this test binary, running only this
// test) and fails the test if the child fails or crashes.
func htInChild(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	const env = "EVSERVER_HANDLER_TEST_CHILD"
	if os.Getenv(env) == t.Name() {
		body(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		text := string(out)
		if len(text) > 4000 {
			text = text[:4000] + "\n…"
		}
		t.Errorf("the test failed in its child process (%v):\n%s", err, text)
	}
}

// Servers started at the same time (two servers in one process, or tests
// that run in parallel) must not race: run with -race.
func TestServersStartConcurrently(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"echo.lua": htEchoLua})
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 2})
			htEcho(t, htDialOK(t, srv.URL+"/echo"), "hello")
		})
	}
}

// ---- connection limits -----------------------------------------------------

func TestMaxConnectionsOfAClass(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{
		"limited.lua": "local L = { max_connections = 2 }\nfunction L:on_message(m) self.conn:send(m) end\nreturn L\n",
		"echo.lua":    htEchoLua,
	})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 2})
	a := htDialOK(t, srv.URL+"/limited")
	b := htDialOK(t, srv.URL+"/limited")
	htWantRefusal(t, srv.URL+"/limited", 503, "")
	// The limit is the class's: other handlers are not limited by it.
	for range 3 {
		htEcho(t, htDialOK(t, srv.URL+"/echo"), "x")
	}
	htEcho(t, a, "a")
	htEcho(t, b, "b")
	htCloseConn(t, a)
	htWaitForSlot(t, srv.URL+"/limited")
	htWantRefusal(t, srv.URL+"/limited", 503, "")
}

func TestMaxConnectionsOfTheServer(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"a.lua": htEchoLua, "b.lua": htEchoLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, MaxConnections: 2})
	a := htDialOK(t, srv.URL+"/a")
	htDialOK(t, srv.URL+"/b")
	htWantRefusal(t, srv.URL+"/a", 503, "")
	htWantRefusal(t, srv.URL+"/b", 503, "")
	htCloseConn(t, a)
	htWaitForSlot(t, srv.URL+"/b")
	htWantRefusal(t, srv.URL+"/a", 503, "")
}

// htWaitForSlot dials url until it is accepted (the server frees a slot once
// the closed connection is gone).
func htWaitForSlot(t *testing.T, url string) {
	t.Helper()
	enginetest.Eventually(t, htTimeout, "a free slot on "+url, func() bool {
		c, _, err := htDialer.Dial(url, nil)
		if err != nil {
			return false
		}
		t.Cleanup(func() { c.Close() })
		return true
	})
}

// ---- routing ---------------------------------------------------------------

// htReport is a handler that sends its file name and conn.tail.
func htReport(file string) string {
	return fmt.Sprintf("local R = {}\nfunction R:on_open() self.conn:send(%q .. \" \" .. self.conn.tail) end\nreturn R\n", file)
}

func TestRouting(t *testing.T) {
	files := map[string]string{}
	for _, f := range []string{"chat.lua", "chat/admin.lua", "chat/index.lua", "iot/devices.lua", "iot/index.lua", "index.lua", "a/b/c.lua"} {
		files[f] = htReport(f)
	}
	files["_helper.lua"] = "return { helper = true }\n"
	files["lib/_x.lua"] = "return { x = true }\n"
	dir := enginetest.Handlers(t, files)
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	for _, tc := range []struct{ path, want string }{
		{"/chat", "chat.lua "},
		{"/chat/room1", "chat.lua room1"},
		{"/chat/admin", "chat/admin.lua "},
		{"/chat/admin/x", "chat/admin.lua x"},
		{"/chat/admin/x/y", "chat/admin.lua x/y"},
		{"/chat/administrator", "chat.lua administrator"},
		{"/chatroom", "index.lua chatroom"},
		{"/iot/devices", "iot/devices.lua "},
		{"/iot/devices/d1/temp", "iot/devices.lua d1/temp"},
		{"/iot", "iot/index.lua "},
		{"/iot/other", "iot/index.lua other"},
		{"/a/b/c/d", "a/b/c.lua d"},
		{"/a/b", "index.lua a/b"},
		{"/", "index.lua "},
		{"/nothing/here", "index.lua nothing/here"},
		{"/_helper", "index.lua _helper"}, // a helper is no endpoint: index.lua answers
		{"/lib/_x", "index.lua lib/_x"},
	} {
		c := htDialOK(t, srv.URL+tc.path)
		if got := htRead(t, c); got != tc.want {
			t.Errorf("%s: served by %q, want %q", tc.path, got, tc.want)
		}
		c.Close()
	}
	// chat.lua and chat/index.lua both claim /chat: chat.lua wins, with a warning.
	warned := false
	for _, line := range strings.Split(srv.Log.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "served_by=chat ") && strings.Contains(line, "ignored=chat/index") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning that chat.lua wins over chat/index.lua:\n%s", srv.Log.String())
	}
}

func TestRoutingWithoutIndex(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{
		"chat.lua":     htReport("chat.lua"),
		"_helper.lua":  "return { helper = true }\n",
		"lib/_x.lua":   "return { x = true }\n",
		"lib/util.lua": htReport("lib/util.lua"),
	})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	for _, p := range []string{"/", "/_helper", "/lib/_x", "/lib", "/nothing", "/chatroom"} {
		htWantRefusal(t, srv.URL+p, 404, "")
	}
	for _, tc := range []struct{ path, want string }{{"/chat/x", "chat.lua x"}, {"/lib/util", "lib/util.lua "}} {
		if got := htRead(t, htDialOK(t, srv.URL+tc.path)); got != tc.want {
			t.Errorf("%s: served by %q, want %q", tc.path, got, tc.want)
		}
	}
}

// ---- broken handlers -------------------------------------------------------

func TestBrokenHandlerAnswers500OthersServed(t *testing.T) {
	broken := "local B = {}\nfunction B:on_open(\n  self.conn:send('x')\nend\nreturn B\n"
	dir := enginetest.Handlers(t, map[string]string{
		"broken.lua":  broken,
		"nothing.lua": "local N = {}\nreturn nil\n",
		"runtime.lua": "local R = {}\nerror('main chunk failed')\nreturn R\n",
		"echo.lua":    htEchoLua,
	})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	for _, p := range []string{"/broken", "/broken/tail", "/nothing", "/runtime"} {
		htWantRefusal(t, srv.URL+p, 500, "handler failed")
	}
	htEcho(t, htDialOK(t, srv.URL+"/echo"), "others are served")
	htWantLog(t, srv, filepath.Join(dir, "broken.lua")+":3:")
	htWantLog(t, srv, filepath.Join(dir, "runtime.lua")+":2: main chunk failed")
	htWantLog(t, srv, filepath.Join(dir, "nothing.lua"))
}

// ---- static files ----------------------------------------------------------

func htGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	cl := &http.Client{Timeout: htTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(body)
}

func TestStaticDir(t *testing.T) {
	static := t.TempDir()
	if err := os.WriteFile(filepath.Join(static, "hello.txt"), []byte("hello, static\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(static, "page"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(static, "page", "file.txt"), []byte("static page file"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := enginetest.Handlers(t, map[string]string{
		"page.lua": "local P = {}\nfunction P.http(req) return 200, 'from lua ' .. req.tail end\nfunction P:on_open() self.conn:send('ws') end\nreturn P\n",
	})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, StaticDir: static})
	base := "http://" + srv.Addr
	resp, body := htGet(t, base+"/hello.txt")
	if resp.StatusCode != 200 || body != "hello, static\n" {
		t.Errorf("GET /hello.txt: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /hello.txt: Content-Type %q", ct)
	}
	// A static file wins over the handler's http(req); without one, http answers.
	if resp, body := htGet(t, base+"/page/file.txt"); resp.StatusCode != 200 || body != "static page file" {
		t.Errorf("GET /page/file.txt: %d %q, want the static file", resp.StatusCode, body)
	}
	if resp, body := htGet(t, base+"/page/other"); resp.StatusCode != 200 || body != "from lua other" {
		t.Errorf("GET /page/other: %d %q, want http(req)'s answer", resp.StatusCode, body)
	}
	// A missing file outside every handler's path is a 404.
	if resp, _ := htGet(t, base+"/missing.txt"); resp.StatusCode != 404 {
		t.Errorf("GET /missing.txt: %d, want 404", resp.StatusCode)
	}
	// Upgrades still reach the handler.
	if got := htRead(t, htDialOK(t, srv.URL+"/page")); got != "ws" {
		t.Errorf("upgrade of /page: %q", got)
	}
}

// The static directory is not reachable through raw request targets either.
func TestStaticDirTraversal(t *testing.T) {
	root := t.TempDir()
	static := filepath.Join(root, "public")
	if err := os.MkdirAll(static, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := enginetest.Handlers(t, map[string]string{"echo.lua": htEchoLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, StaticDir: static})
	for _, target := range []string{"/../secret.txt", "/%2e%2e/secret.txt", "/public/../../secret.txt"} {
		nc, err := net.DialTimeout("tcp", srv.Addr, htTimeout)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(htTimeout))
		fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
		resp, _ := io.ReadAll(nc)
		nc.Close()
		if strings.HasSuffix(string(resp), "\r\n\r\nsecret") {
			t.Errorf("GET %s served the file outside the static directory:\n%s", target, resp)
		}
	}
}
