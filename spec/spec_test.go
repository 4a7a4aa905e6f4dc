package spec

// The Lua specs. Each directory spec/lua/<name>/ is a handlers directory
// whose handlers check the API from the inside (with spec/lua/_expect.lua)
// and report "ok <check>" or "FAIL <check>: why" to the client, or to the
// server log from on_close. The table below drives each directory with an
// independent client (gorilla/websocket or net/http) and asserts on what
// comes back: every expected "ok" must arrive, no FAIL may, and the client
// checks what only it can see (messages, close codes, statuses, headers,
// log records).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// ioTimeout bounds every read and dial of a spec's client.
const ioTimeout = 10 * time.Second

// specs lists every directory of spec/lua with the code that drives it.
// broken lists the files of the directory that must fail to load (every
// other file must load).
var specs = []struct {
	name   string
	cfg    engine.Config
	broken []string
	drive  func(t *testing.T, s *specServer)
}{
	{"conn", engine.Config{}, nil, driveConn},
	{"accept", engine.Config{}, nil, driveAccept},
	{"new", engine.Config{}, nil, driveNew},
	{"events", engine.Config{MaxMessageSize: 64 << 10}, nil, driveEvents},
	{"http", engine.Config{}, nil, driveHTTP},
	{"options", engine.Config{}, []string{"badmax.lua", "badproto.lua", "negmax.lua"}, driveOptions},
	{"log", engine.Config{}, nil, driveLog},
	{"json", engine.Config{}, nil, driveJSON},
	{"now", engine.Config{}, nil, driveNow},
	{"require", engine.Config{}, []string{"_broken.lua"}, driveRequire},
	{"sandbox", engine.Config{}, nil, driveSandbox},
	{"waiting", engine.Config{}, nil, driveWaiting},
}

func TestLuaSpecs(t *testing.T) {
	for _, sp := range specs {
		// Not parallel: servers started concurrently race on a global of
		// the lua package (see TestServersStartConcurrently in engine/).
		t.Run(sp.name, func(t *testing.T) {
			s := startSpec(t, sp.name, sp.cfg)
			if got := s.loadProblems(); !slices.Equal(got, sp.broken) {
				t.Errorf("files that failed to load: %v, want %v; log:\n%s", got, sp.broken, s.Log.String())
			}
			sp.drive(t, s)
			// Results logged by checks no step waited for.
			_, fails := s.logResults()
			for _, f := range fails {
				t.Errorf("Lua spec (log): %s", f)
			}
		})
	}
}

// TestSpecsAreComplete keeps the table above and spec/lua in step, and
// checks that every function and field spec/api.md documents is used by
// some Lua spec.
func TestSpecsAreComplete(t *testing.T) {
	entries, err := os.ReadDir("lua")
	if err != nil {
		t.Fatal(err)
	}
	var dirs, driven []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, sp := range specs {
		driven = append(driven, sp.name)
	}
	sort.Strings(driven)
	if !slices.Equal(dirs, driven) {
		t.Errorf("spec/lua directories %v, driven by spec_test.go %v", dirs, driven)
	}

	var lua strings.Builder
	filepath.WalkDir("lua", func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".lua") {
			b, _ := os.ReadFile(path)
			lua.Write(b)
		}
		return nil
	})
	src := lua.String()
	api, err := os.ReadFile("api.md")
	if err != nil {
		t.Fatal(err)
	}
	names := apiNames(string(api))
	if len(names) < 30 {
		t.Fatalf("found only %d API names in api.md: %v", len(names), names)
	}
	for _, name := range names {
		if !usagePattern(name).MatchString(src) {
			t.Errorf("api.md documents %s, which no Lua spec uses", name)
		}
	}
}

var (
	headingSpan = regexp.MustCompile("`([^`]+)`")
	fieldRow    = regexp.MustCompile("(?m)^\\| `((?:conn|req)\\.[a-z_]+)`(?:, `((?:conn|req)\\.[a-z_]+)`)*")
	fieldName   = regexp.MustCompile("`((?:conn|req)\\.[a-z_]+)`")
)

// apiNames lists the functions of api.md's headings ("conn:send",
// "ws.json.null", "Class.accept", "on_open") and the fields of its tables
// ("conn.id", "req.method").
func apiNames(api string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, line := range strings.Split(api, "\n") {
		if strings.HasPrefix(line, "### ") {
			for _, m := range headingSpan.FindAllStringSubmatch(line, -1) {
				name, _, _ := strings.Cut(m[1], "(")
				name = strings.TrimSpace(name)
				if strings.HasPrefix(name, "Class.") || strings.HasPrefix(name, "on_") ||
					strings.HasPrefix(name, "conn:") || strings.HasPrefix(name, "ws.") {
					add(name)
				}
			}
		}
		if fieldRow.MatchString(line) {
			for _, m := range fieldName.FindAllStringSubmatch(line, -1) {
				add(m[1])
			}
		}
	}
	for _, extra := range []string{"print", "require", "protocols", "max_connections"} {
		add(extra)
	}
	return out
}

// usagePattern is how a Lua spec shows it uses name.
func usagePattern(name string) *regexp.Regexp {
	switch {
	case strings.HasPrefix(name, "Class."):
		return regexp.MustCompile(`function \w+\.` + strings.TrimPrefix(name, "Class.") + `\(`)
	case strings.HasPrefix(name, "on_"):
		return regexp.MustCompile(`function \w+:` + name + `\(`)
	case strings.HasPrefix(name, "conn:"):
		return regexp.MustCompile(`:` + strings.TrimPrefix(name, "conn:") + `\(`)
	case strings.HasPrefix(name, "conn."):
		return regexp.MustCompile(`\b(c|conn)\.` + strings.TrimPrefix(name, "conn.") + `\b`)
	case name == "print" || name == "require":
		return regexp.MustCompile(`\b` + name + `\(`)
	case name == "protocols" || name == "max_connections":
		return regexp.MustCompile(`\b` + name + ` = `)
	}
	return regexp.MustCompile(regexp.QuoteMeta(name) + `\b`)
}

// ---- the server and its client -------------------------------------------

type specServer struct {
	*enginetest.Server
	Dir  string // the handlers directory (a copy of spec/lua/<name>)
	Port string
}

// startSpec copies spec/lua/<name> and spec/lua/_expect.lua into
// ROOT/handlers, puts ROOT/outside.lua next to it (for the require spec)
// and runs a server on it.
func startSpec(t *testing.T, name string, cfg engine.Config) *specServer {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "handlers")
	copyTree(t, filepath.Join("lua", name), dir)
	copyFile(t, filepath.Join("lua", "_expect.lua"), filepath.Join(dir, "_expect.lua"))
	if err := os.WriteFile(filepath.Join(root, "outside.lua"), []byte("return { outside = true }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.HandlersDir = dir
	srv := enginetest.Run(t, cfg)
	_, port, _ := net.SplitHostPort(srv.Addr)
	return &specServer{Server: srv, Dir: dir, Port: port}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		copyFile(t, path, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type client struct {
	*websocket.Conn
	t    *testing.T
	resp *http.Response
}

type dialOpts struct {
	header      http.Header
	protocols   []string
	writeBuffer int
}

func (s *specServer) dialer(o dialOpts) *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: ioTimeout, Subprotocols: o.protocols, WriteBufferSize: o.writeBuffer}
}

// dial upgrades path (with its query) and fails the test if refused.
func (s *specServer) dial(t *testing.T, path string, o dialOpts) *client {
	t.Helper()
	c, resp, err := s.dialer(o).Dial(s.URL+path, o.header)
	if err != nil {
		status := "no response"
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial %s: %v (%s)", path, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, t: t, resp: resp}
}

// refused dials path expecting a refusal and returns the response and its
// body without the trailing newline.
func (s *specServer) refused(t *testing.T, path string, o dialOpts) (*http.Response, string) {
	t.Helper()
	c, resp, err := s.dialer(o).Dial(s.URL+path, o.header)
	if err == nil {
		c.Close()
		t.Errorf("dial %s: accepted, want a refusal", path)
		return &http.Response{StatusCode: 101, Header: http.Header{}}, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v without a response", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, strings.TrimSuffix(string(body), "\n")
}

// expectStatus dials path expecting a refusal with status and body (body ""
// means any).
func (s *specServer) expectStatus(t *testing.T, path string, o dialOpts, status int, body string) *http.Response {
	t.Helper()
	resp, got := s.refused(t, path, o)
	if resp.StatusCode != status {
		t.Errorf("dial %s: status %d, want %d (body %q)", path, resp.StatusCode, status, got)
	}
	if body != "" && got != body {
		t.Errorf("dial %s: body %q, want %q", path, got, body)
	}
	return resp
}

type message struct {
	typ  int
	data string
}

// batch is what a suite sent: its results up to "done", the "info ..."
// lines and every other message, in order.
type batch struct {
	oks    map[string]int
	fails  []string
	infos  []string
	others []message
}

func (c *client) read() (int, []byte, error) {
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	return c.ReadMessage()
}

// results reads messages up to "done". Each FAIL fails the test.
func (c *client) results() batch {
	c.t.Helper()
	b := batch{oks: map[string]int{}}
	for {
		typ, data, err := c.read()
		if err != nil {
			c.t.Fatalf("reading results: %v (so far: %v)", err, b.oks)
		}
		s := string(data)
		switch {
		case typ == websocket.TextMessage && s == "done":
			return b
		case typ == websocket.TextMessage && strings.HasPrefix(s, "ok "):
			b.oks[s[3:]]++
		case typ == websocket.TextMessage && strings.HasPrefix(s, "FAIL "):
			b.fails = append(b.fails, s)
			c.t.Errorf("Lua spec: %s", s)
		case typ == websocket.TextMessage && strings.HasPrefix(s, "info "):
			b.infos = append(b.infos, s[5:])
		default:
			b.others = append(b.others, message{typ, s})
		}
	}
}

// expectOK reads results and requires each name among the oks.
func (c *client) expectOK(names ...string) batch {
	c.t.Helper()
	b := c.results()
	wantOK(c.t, b.oks, names...)
	return b
}

func wantOK(t *testing.T, oks map[string]int, names ...string) {
	t.Helper()
	for _, n := range names {
		if oks[n] == 0 {
			t.Errorf("Lua spec: no %q among the results %v", "ok "+n, keys(oks))
		}
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *client) sendText(s string) {
	c.t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// anyReason makes expectClose accept any close reason.
const anyReason = "\x00any"

// expectClose reads until the connection ends and requires a close frame
// with code and reason.
func (c *client) expectClose(code int, reason string) {
	c.t.Helper()
	for {
		typ, data, err := c.read()
		if err == nil {
			c.t.Logf("message before the close: type %d %q", typ, data)
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			c.t.Errorf("want close %d %q, got %v", code, reason, err)
			return
		}
		if ce.Code != code || (reason != anyReason && ce.Text != reason) {
			c.t.Errorf("close %d %q, want %d %q", ce.Code, ce.Text, code, reason)
		}
		return
	}
}

// closeHandshake sends a close frame and waits for the server's.
func (c *client) closeHandshake(code int, reason string) {
	c.t.Helper()
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason)); err != nil {
		c.t.Fatal(err)
	}
	c.expectClose(code, "")
}

// ---- the server log ------------------------------------------------------

// records parses the server's text log into key → value maps.
func (s *specServer) records() []map[string]string {
	var out []map[string]string
	sc := bufio.NewScanner(strings.NewReader(s.Log.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, parseRecord(sc.Text()))
	}
	return out
}

// parseRecord parses one line of slog's text format.
func parseRecord(line string) map[string]string {
	m := map[string]string{}
	i := 0
	for i < len(line) {
		eq := strings.IndexByte(line[i:], '=')
		if eq < 0 {
			break
		}
		key := line[i : i+eq]
		i += eq + 1
		var val string
		if i < len(line) && line[i] == '"' {
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			raw := line[i:min(j+1, len(line))]
			if v, err := strconv.Unquote(raw); err == nil {
				val = v
			} else {
				val = raw
			}
			i = j + 1
		} else {
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			val = line[i : i+j]
			i += j
		}
		m[key] = val
		for i < len(line) && line[i] == ' ' {
			i++
		}
	}
	return m
}

// loadProblems lists the files (relative to the handlers directory) the
// server reported as failing to load when it started, sorted.
func (s *specServer) loadProblems() []string {
	var out []string
	for _, r := range s.records() {
		if r["msg"] != "handler failed to load" || r["problem"] == "" {
			continue
		}
		file := strings.TrimPrefix(r["problem"], s.Dir+string(filepath.Separator))
		if i := strings.Index(file, ".lua"); i >= 0 {
			file = file[:i+4]
		}
		if !slices.Contains(out, file) {
			out = append(out, file)
		}
	}
	sort.Strings(out)
	return out
}

// logResults returns the results suites wrote to the log.
func (s *specServer) logResults() (oks map[string]int, fails []string) {
	oks = map[string]int{}
	for _, r := range s.records() {
		if r["msg"] != "spec result" {
			continue
		}
		res := r["result"]
		switch {
		case strings.HasPrefix(res, "ok "):
			oks[res[3:]]++
		case strings.HasPrefix(res, "FAIL "):
			fails = append(fails, res)
		}
	}
	return oks, fails
}

// waitLogOK waits until every name is logged as ok; a logged FAIL of one of
// them fails the test (TestLuaSpecs reports every logged FAIL at the end).
func (s *specServer) waitLogOK(t *testing.T, names ...string) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		oks, fails := s.logResults()
		missing := 0
		for _, n := range names {
			if oks[n] == 0 {
				missing++
			}
		}
		var mine []string
		for _, f := range fails {
			for _, n := range names {
				if strings.HasPrefix(f, "FAIL "+n+": ") {
					mine = append(mine, f)
				}
			}
		}
		if missing == 0 || len(mine) > 0 || time.Now().After(deadline) {
			for _, f := range mine {
				t.Errorf("Lua spec (log): %s", f)
			}
			if missing > 0 {
				wantOK(t, oks, names...)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lineOf returns the 1-based line of the first line of file containing text.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, text)
	return 0
}

// ---- conn ----------------------------------------------------------------

func driveConn(t *testing.T, s *specServer) {
	q := "&b=x%20y&rep=first&rep=second&port=" + s.Port
	c := s.dial(t, "/conn/room%201/x?id=spec-1"+q, dialOpts{protocols: []string{"other", "spec.v1"}})
	c.expectOK("send before open", "id", "handler", "path", "tail", "query", "protocol", "remote_addr",
		"host", "port", "is_tls", "fields are read-only", "methods through the instance")
	if got := c.Subprotocol(); got != "spec.v1" {
		t.Errorf("client sees subprotocol %q, want spec.v1", got)
	}

	// The engine answers the client's pings by itself, before what the
	// handler sends afterwards.
	var pongs []string
	c.SetPongHandler(func(p string) error { pongs = append(pongs, p); return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("client ping"), time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	c.sendText("remote " + c.LocalAddr().String())
	c.expectOK("remote_addr is the client's address")
	if want := []string{"client ping"}; !slices.Equal(pongs, want) {
		t.Errorf("pongs %q, want %q", pongs, want)
	}

	c.sendText("send")
	b := c.expectOK("send default kind", "send text", "send binary", "send invalid UTF-8 text", "send bad kind")
	want := []message{{websocket.TextMessage, "text é"}, {websocket.TextMessage, "text 2"}, {websocket.BinaryMessage, "\x00\x01\x02\xff"}}
	if !slices.Equal(b.others, want) {
		t.Errorf("conn:send delivered %v, want %v (nothing for the failed sends)", b.others, want)
	}

	var pings []string
	c.SetPingHandler(func(p string) error {
		pings = append(pings, p)
		return c.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(ioTimeout))
	})
	c.sendText("ping")
	c.expectOK("ping with payload", "ping without payload", "ping 125 bytes", "ping 126 bytes")
	if want := []string{"pp", "", strings.Repeat("x", 125)}; !slices.Equal(pings, want) {
		t.Errorf("client received pings %q, want %q", pings, want)
	}

	c.sendText("close-errors")
	b = c.expectOK("close invalid codes", "close reason too long", "close reason not UTF-8", "still open after refused closes")
	if want := []message{{websocket.TextMessage, "still open"}}; !slices.Equal(b.others, want) {
		t.Errorf("after the refused closes got %v, want %v", b.others, want)
	}

	c.sendText("close-custom")
	c.expectClose(4001, strings.Repeat("é", 61)+"x")
	s.waitLogOK(t, "close 4001 returns true", "close 4001 then send", "close 4001 then ping", "close 4001 then close",
		"on_close after close 4001")

	// Engine-made ids: decimal and distinct; conn:close() defaults to 1000.
	c2 := s.dial(t, "/conn", dialOpts{})
	b2 := c2.expectOK("engine-made id", "send before open")
	c3 := s.dial(t, "/conn", dialOpts{})
	b3 := c3.expectOK("engine-made id")
	if len(b2.infos) != 1 || len(b3.infos) != 1 || b2.infos[0] == b3.infos[0] {
		t.Errorf("engine-made ids %q and %q, want two distinct ids", b2.infos, b3.infos)
	}
	c2.sendText("close-default")
	c2.expectClose(1000, "")
	s.waitLogOK(t, "close 1000 returns true", "close 1000 then send", "close 1000 then close", "on_close after close 1000")

	s.dial(t, "/iot/devices/d1?tail=d1", dialOpts{}).expectOK("nested handler with tail")
	s.dial(t, "/iot/devices?tail=", dialOpts{}).expectOK("nested handler without tail")
}

// ---- accept --------------------------------------------------------------

func driveAccept(t *testing.T, s *specServer) {
	t.Run("req", func(t *testing.T) {
		hdr := http.Header{"X-Custom": {"Value"}, "X-Rep": {"one", "two"}}
		c := s.dial(t, "/req/a%20b/c?a=1&b=x%20y&a=2&port="+s.Port, dialOpts{header: hdr, protocols: []string{"p2", "p1"}})
		c.expectOK("req.method", "req.path", "req.tail", "req.query", "req.headers", "req.host",
			"req.remote_addr", "req.protocols", "req.is_tls", "req.auth")
		c = s.dial(t, "/req?case=bare", dialOpts{})
		c.expectOK("bare req.tail", "bare req.path", "bare req.protocols", "bare req.query")
	})
	t.Run("101 options", func(t *testing.T) {
		c := s.dial(t, "/ok?case=options", dialOpts{protocols: []string{"p1", "p2"}})
		c.expectOK("accept id", "accept protocol")
		if got := c.resp.Header.Get("X-Server"); got != "evserver" {
			t.Errorf("X-Server: %q, want evserver", got)
		}
		if got := c.resp.Header.Get("X-Number"); got != "7" {
			t.Errorf("X-Number: %q, want 7", got)
		}
		if got := c.resp.Header.Values("Sec-WebSocket-Protocol"); !slices.Equal(got, []string{"p2"}) {
			t.Errorf("Sec-WebSocket-Protocol: %q, want [p2]", got)
		}
		c = s.dial(t, "/ok?case=plain", dialOpts{protocols: []string{"p1", "p2"}})
		c.expectOK("accept plain")
		if got := c.resp.Header.Values("Sec-WebSocket-Protocol"); len(got) != 0 {
			t.Errorf("Sec-WebSocket-Protocol: %q, want none", got)
		}
		s.expectStatus(t, "/ok?case=unoffered", dialOpts{protocols: []string{"p1", "p2"}}, 500, "handler failed")
	})
	t.Run("refusals", func(t *testing.T) {
		resp := s.expectStatus(t, "/refuse?status=401", dialOpts{}, 401, "token required")
		if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("401: WWW-Authenticate %q, want Bearer", got)
		}
		resp = s.expectStatus(t, "/refuse?status=403", dialOpts{}, 403, "not for you")
		if got := resp.Header.Get("X-Why"); got != "banned" {
			t.Errorf("403: X-Why %q, want banned", got)
		}
		for _, status := range []int{400, 404, 451, 503, 599} {
			s.expectStatus(t, fmt.Sprintf("/refuse?status=%d", status), dialOpts{}, status, "")
		}
	})
	t.Run("bad results", func(t *testing.T) {
		for _, c := range []string{"nil", "200", "399", "600", "101.5", "string", "table", "opts-string", "id-table", "headers-string", "header-crlf"} {
			resp := s.expectStatus(t, "/bad?case="+c, dialOpts{}, 500, "handler failed")
			if resp.Header.Get("X-Injected") != "" {
				t.Errorf("case %s: a header was injected", c)
			}
		}
		managed := []string{"Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Accept", "Sec-WebSocket-Version",
			"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Content-Length", "Transfer-Encoding", "upgrade", "CONTENT-LENGTH"}
		for _, name := range managed {
			s.expectStatus(t, "/bad?case=managed&name="+name, dialOpts{}, 500, "handler failed")
			s.expectStatus(t, "/bad?case=managed-refusal&name="+name, dialOpts{}, 500, "handler failed")
			if want := "header " + name + " is managed by evserver"; !strings.Contains(s.Log.String(), want) {
				t.Errorf("log lacks %q", want)
			}
		}
	})
}

// ---- new -----------------------------------------------------------------

func driveNew(t *testing.T, s *specServer) {
	c := s.dial(t, "/custom", dialOpts{})
	c.expectOK("new instance")
	for i := 1; i <= 3; i++ {
		c.sendText(strconv.Itoa(i))
		c.expectOK(fmt.Sprintf("state across events %d", i))
	}
	s.dial(t, "/default", dialOpts{}).expectOK("default instance", "class methods from the instance")
	for _, c := range []string{"nil", "number", "string", "error"} {
		s.expectStatus(t, "/badnew?case="+c, dialOpts{}, 500, "handler failed")
	}
	where := fmt.Sprintf("%s:%d: new failed on purpose", filepath.Join(s.Dir, "badnew.lua"),
		lineOf(t, filepath.Join(s.Dir, "badnew.lua"), `error("new failed on purpose")`))
	if !strings.Contains(s.Log.String(), where) {
		t.Errorf("log lacks %q", where)
	}
	// The server carries on after the refusals.
	s.dial(t, "/default", dialOpts{}).expectOK("default instance")
}

// ---- events --------------------------------------------------------------

func driveEvents(t *testing.T, s *specServer) {
	t.Run("messages", func(t *testing.T) {
		c := s.dial(t, "/events?case=messages&code=1000&reason=", dialOpts{writeBuffer: 1024})
		c.expectOK("on_open after new", "coroutines inside an event")
		send := func(typ int, data []byte) {
			// NextWriter with a 1 KiB buffer sends a long message as
			// several frames: the handler must get it whole.
			w, err := c.NextWriter(typ)
			if err != nil {
				t.Fatal(err)
			}
			for len(data) > 0 {
				n := min(len(data), 700)
				if _, err := w.Write(data[:n]); err != nil {
					t.Fatal(err)
				}
				data = data[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		send(websocket.TextMessage, []byte("héllo wörld"))
		send(websocket.BinaryMessage, []byte{0, 1, 2, 255})
		send(websocket.TextMessage, nil)
		send(websocket.BinaryMessage, nil)
		send(websocket.TextMessage, []byte(strings.Repeat("ab", 5000)))
		send(websocket.BinaryMessage, []byte(strings.Repeat("\x07", 20000)))
		c.expectOK("message 1", "message 2", "message 3", "message 4", "message 5", "message 6")
		for i := 1; i <= 100; i++ {
			c.sendText(fmt.Sprintf("seq %d", i))
		}
		b := c.expectOK("messages in order")
		if b.oks["messages in order"] != 1 {
			t.Errorf("ok messages in order %d times, want once", b.oks["messages in order"])
		}
		c.closeHandshake(1000, "")
		s.waitLogOK(t, "on_close messages", "no send in on_close messages")
	})

	type closeCase struct {
		name, query string
		end         func(c *client)
	}
	cases := []closeCase{
		{"peer", "code=4001&reason=bye", func(c *client) { c.closeHandshake(4001, "bye") }},
		{"peer-nocode", "code=1005&reason=", func(c *client) {
			if err := c.WriteControl(websocket.CloseMessage, nil, time.Now().Add(ioTimeout)); err != nil {
				c.t.Fatal(err)
			}
			c.expectClose(websocket.CloseNoStatusReceived, "")
		}},
		{"drop", "code=1006&reason=", func(c *client) { c.NetConn().Close() }},
		{"server", "code=4002&reason=srv", func(c *client) {
			c.sendText("close 4002 srv")
			c.expectClose(4002, "srv")
		}},
		{"error", "code=1011", func(c *client) {
			c.sendText("error")
			c.expectClose(1011, anyReason)
		}},
		{"yield", "code=1011", func(c *client) {
			c.sendText("yield")
			c.expectClose(1011, anyReason)
		}},
		{"badutf8", "code=1007", func(c *client) {
			if err := c.WriteMessage(websocket.TextMessage, []byte{'a', 0xff}); err != nil {
				c.t.Fatal(err)
			}
			c.expectClose(1007, anyReason)
		}},
		{"toobig", "code=1009", func(c *client) {
			if err := c.WriteMessage(websocket.BinaryMessage, make([]byte, 70<<10)); err != nil {
				c.t.Fatal(err)
			}
			c.expectClose(1009, anyReason)
		}},
	}
	for _, cc := range cases {
		t.Run("on_close "+cc.name, func(t *testing.T) {
			c := s.dial(t, "/events?case="+cc.name+"&"+cc.query, dialOpts{})
			c.t = t
			c.expectOK("on_open after new")
			cc.end(c)
			s.waitLogOK(t, "on_close "+cc.name, "no send in on_close "+cc.name)
		})
	}
	t.Run("handler error is logged with file:line", func(t *testing.T) {
		file := filepath.Join(s.Dir, "events.lua")
		where := fmt.Sprintf("%s:%d: on_message failed on purpose", file, lineOf(t, file, `error("on_message failed on purpose")`))
		if !strings.Contains(s.Log.String(), where) {
			t.Errorf("log lacks %q", where)
		}
	})
	t.Run("on_close 1001 at shutdown", func(t *testing.T) {
		s2 := startSpec(t, "events", engine.Config{})
		c := s2.dial(t, "/events?case=shutdown&code=1001", dialOpts{})
		c.expectOK("on_open after new")
		got := make(chan error, 1)
		go func() { // ends when the server closes the connection
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					c.Close() // the server waits for the end of TCP
					got <- err
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if err := s2.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-got; !websocket.IsCloseError(err, 1001) {
			t.Errorf("client saw %v, want close 1001", err)
		}
		s2.waitLogOK(t, "on_close shutdown", "no send in on_close shutdown")
	})
	// on_close runs once per connection: a second run would log its ok again.
	oks, _ := s.logResults()
	for _, name := range []string{"messages", "peer", "peer-nocode", "drop", "server", "error", "yield", "badutf8", "toobig"} {
		if n := oks["on_close "+name]; n != 1 {
			t.Errorf("on_close %s ran %d times, want once", name, n)
		}
	}
}

// ---- http ----------------------------------------------------------------

func httpDo(t *testing.T, method, url string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	cl := &http.Client{Timeout: ioTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, string(body)
}

// bodyResults parses a body of result lines ending with "done".
func bodyResults(t *testing.T, body string) map[string]int {
	t.Helper()
	oks := map[string]int{}
	lines := strings.Split(body, "\n")
	if lines[len(lines)-1] != "done" {
		t.Errorf("body does not end with done: %q", body)
	}
	for _, l := range lines[:len(lines)-1] {
		switch {
		case strings.HasPrefix(l, "ok "):
			oks[l[3:]]++
		default:
			t.Errorf("Lua spec: %s", l)
		}
	}
	return oks
}

func driveHTTP(t *testing.T, s *specServer) {
	base := "http://" + s.Addr
	resp, body := httpDo(t, "GET", base+"/page/x%20y?q=a%20b&q=c&port="+s.Port, http.Header{"X-Custom": {"Value"}})
	if resp.StatusCode != 200 {
		t.Errorf("GET /page: status %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/x-spec" {
		t.Errorf("GET /page: Content-Type %q, want text/x-spec", got)
	}
	if got := resp.Header.Get("X-Extra"); got != "1" {
		t.Errorf("GET /page: X-Extra %q, want 1", got)
	}
	wantOK(t, bodyResults(t, body), "http req.method", "http req.path", "http req.tail", "http req.query",
		"http req.headers", "http req.host", "http req.remote_addr", "http req.protocols", "http req.is_tls")

	_, body = httpDo(t, "POST", base+"/page?method=POST", nil)
	wantOK(t, bodyResults(t, body), "http req.method POST")

	for _, status := range []int{200, 201, 404, 599} {
		resp, body := httpDo(t, "GET", fmt.Sprintf("%s/status?status=%d", base, status), nil)
		if resp.StatusCode != status || body != fmt.Sprintf("status %d", status) {
			t.Errorf("/status?status=%d: got %d %q", status, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
			t.Errorf("/status?status=%d: Content-Type %q, want the default", status, got)
		}
	}
	for _, c := range []string{"100", "600", "nil", "string", "body-table", "headers-string", "managed", "error"} {
		resp, body := httpDo(t, "GET", base+"/bad?case="+c, nil)
		if resp.StatusCode != 500 || strings.TrimSpace(body) != "handler failed" {
			t.Errorf("/bad?case=%s: got %d %q, want 500 handler failed", c, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/nohttp", "/nothing/here"} {
		resp, body := httpDo(t, "GET", base+p, nil)
		if resp.StatusCode != 404 || strings.TrimSpace(body) != "WebSocket upgrade failed" {
			t.Errorf("GET %s: got %d %q, want 404 WebSocket upgrade failed", p, resp.StatusCode, body)
		}
	}
	// The handler with http still upgrades.
	s.dial(t, "/nohttp", dialOpts{}).results()
}

// ---- options -------------------------------------------------------------

func driveOptions(t *testing.T, s *specServer) {
	t.Run("protocols", func(t *testing.T) {
		for _, tc := range []struct {
			offer []string
			want  string
		}{
			{[]string{"chat.v1", "chat.v2"}, "chat.v1"},
			{[]string{"chat.v2", "chat.v1"}, "chat.v2"},
			{[]string{"x", "chat.v2"}, "chat.v2"},
			{[]string{"x", "y"}, ""},
			{nil, ""},
		} {
			c := s.dial(t, "/proto?want="+tc.want, dialOpts{protocols: tc.offer})
			name := "protocol " + tc.want
			if tc.want == "" {
				name = "protocol none"
			}
			c.expectOK(name)
			if got := c.Subprotocol(); got != tc.want {
				t.Errorf("offer %q: client sees %q, want %q", tc.offer, got, tc.want)
			}
		}
	})
	t.Run("max_connections", func(t *testing.T) {
		a := s.dial(t, "/limited", dialOpts{})
		a.results()
		s.dial(t, "/limited", dialOpts{}).results()
		s.expectStatus(t, "/limited", dialOpts{}, 503, "")
		s.expectStatus(t, "/limited", dialOpts{}, 503, "")
		a.closeHandshake(1000, "")
		enginetest.Eventually(t, ioTimeout, "a free slot on /limited", func() bool {
			c, _, err := s.dialer(dialOpts{}).Dial(s.URL+"/limited", nil)
			if err != nil {
				return false
			}
			t.Cleanup(func() { c.Close() })
			return true
		})
		s.expectStatus(t, "/limited", dialOpts{}, 503, "")
		for range 5 {
			s.dial(t, "/unlimited", dialOpts{}).results()
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, p := range []string{"/badproto", "/badmax", "/negmax"} {
			s.expectStatus(t, p, dialOpts{}, 500, "")
		}
		for _, want := range []string{"protocols must be a list of strings", "max_connections must be a whole number"} {
			if !strings.Contains(s.Log.String(), want) {
				t.Errorf("log lacks %q", want)
			}
		}
	})
}

// ---- log -----------------------------------------------------------------

func driveLog(t *testing.T, s *specServer) {
	c := s.dial(t, "/log", dialOpts{})
	c.expectOK("ws.log functions")
	file := filepath.Join(s.Dir, "log.lua")
	remote := c.LocalAddr().String()
	find := func(msg string) map[string]string {
		for _, r := range s.records() {
			if r["msg"] == msg {
				return r
			}
		}
		return nil
	}
	enginetest.Eventually(t, ioTimeout, "the print record", func() bool { return find("spec-print\t1\ttrue\tnil") != nil })

	check := func(t *testing.T, r map[string]string, want map[string]string) {
		t.Helper()
		if r == nil {
			t.Fatalf("no record %q in the log:\n%s", want["msg"], s.Log.String())
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("record %q: %s=%q, want %q", want["msg"], k, r[k], v)
			}
		}
	}
	conn := map[string]string{"conn": "log-1", "handler": "log", "remote": remote}
	with := func(m map[string]string) map[string]string {
		for k, v := range conn {
			m[k] = v
		}
		return m
	}
	source := func(text string) string { return fmt.Sprintf("%s:%d", file, lineOf(t, file, text)) }
	t.Run("ws.log.info", func(t *testing.T) {
		check(t, find("spec-info"), with(map[string]string{"msg": "spec-info", "level": "INFO", "str": "v w", "num": "3",
			"float": "1.5", "bool": "true", "tbl": `{"a":1,"b":[2]}`, "source": source(`ws.log.info("spec-info"`)}))
	})
	t.Run("ws.log.debug", func(t *testing.T) {
		check(t, find("spec-debug"), with(map[string]string{"msg": "spec-debug", "level": "DEBUG", "k": "d", "source": source(`ws.log.debug("spec-debug"`)}))
	})
	t.Run("ws.log.warn", func(t *testing.T) {
		check(t, find("spec-warn"), with(map[string]string{"msg": "spec-warn", "level": "WARN", "k": "w", "source": source(`ws.log.warn("spec-warn"`)}))
	})
	t.Run("ws.log.error", func(t *testing.T) {
		check(t, find("spec-error"), with(map[string]string{"msg": "spec-error", "level": "ERROR", "k": "e", "source": source(`ws.log.error("spec-error"`)}))
	})
	t.Run("print", func(t *testing.T) {
		check(t, find("spec-print\t1\ttrue\tnil"), with(map[string]string{"msg": "spec-print\t1\ttrue\tnil", "level": "INFO"}))
	})
	t.Run("print source", func(t *testing.T) {
		// api.md: print(...) logs at info level "the same way" as ws.log,
		// whose records carry source.
		check(t, find("spec-print\t1\ttrue\tnil"), map[string]string{"msg": "spec-print\t1\ttrue\tnil", "source": source(`print("spec-print"`)})
	})
	t.Run("outside an event", func(t *testing.T) {
		r := find("spec-load")
		check(t, r, map[string]string{"msg": "spec-load", "where": "main chunk", "source": source(`ws.log.info("spec-load"`)})
		if _, ok := r["conn"]; ok {
			t.Errorf("a record from the main chunk has conn=%q", r["conn"])
		}
	})
}

// ---- json ----------------------------------------------------------------

func driveJSON(t *testing.T, s *specServer) {
	c := s.dial(t, "/json", dialOpts{})
	c.expectOK("encode scalars", "encode arrays", "encode objects", "encode empty table", "encode errors",
		"encode shared table is not a cycle", "decode scalars", "decode arrays", "decode objects", "decode error",
		"decode empty input", "decode truncated input", "decode unquoted key", "decode trailing value", "decode trailing garbage",
		"null sentinel", "round trip")
	c.sendText(`{"name":"évé","list":[1,2.5,null,"x"],"nested":{"ok":true}}`)
	c.expectOK("decode from the network")
	_, data, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"list":[1,2.5,null,"x"],"name":"évé","nested":{"ok":true}}`; string(data) != want {
		t.Errorf("re-encoded %s, want %s", data, want)
	}
}

// ---- now -----------------------------------------------------------------

func driveNow(t *testing.T, s *specServer) {
	c := s.dial(t, "/now", dialOpts{})
	b := c.expectOK("ws.now is a number", "ws.now is close to os.time", "ws.now has sub-second precision", "ws.now increases")
	if len(b.infos) != 1 || !strings.HasPrefix(b.infos[0], "now ") {
		t.Fatalf("infos %q, want one now <t>", b.infos)
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(b.infos[0], "now "), 64)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(time.Unix(0, int64(f*1e9))); d < -time.Second || d > 2*time.Second {
		t.Errorf("ws.now() = %f is %v away from Go's clock", f, d)
	}
}

// ---- require -------------------------------------------------------------

func driveRequire(t *testing.T, s *specServer) {
	c := s.dial(t, "/req", dialOpts{})
	c.expectOK("require helper", "require is cached", "require nested with dot", "require nested with slash", "require ws",
		"require a handler", "require missing", "require outside the directory", "require circular", "require broken helper")
	for _, p := range []string{"/_helper", "/lib/_inner", "/_cycle_a", "/_broken", "/_expect"} {
		s.expectStatus(t, p, dialOpts{}, 404, "")
	}
	// lib/util.lua is no helper: it serves /lib/util.
	s.dial(t, "/lib/util", dialOpts{})
}

// ---- sandbox -------------------------------------------------------------

func driveSandbox(t *testing.T, s *specServer) {
	s.dial(t, "/sandbox", dialOpts{}).expectOK("no io", "no debug", "no dofile", "no loadfile",
		"no dangerous os functions", "no package loaders", "safe os functions", "libraries", "loaded code sees the same sandbox")
}

// ---- waiting calls ---------------------------------------------------------

func driveWaiting(t *testing.T, s *specServer) {
	c := s.dial(t, "/waiting", dialOpts{})
	c.expectOK("ws.sleep waits and returns nothing", "ws.sleep refuses a negative time",
		"ws.after runs in time order and cancel stops it", "ws.every repeats until cancelled",
		"ws.connect and conn:receive", "ws.connect with a msg_handler and context", "ws.connect errors",
		"conn:abort resets at once", "conn:receive is only for outbound connections")
}
