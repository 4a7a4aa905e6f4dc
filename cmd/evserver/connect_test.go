package main

import (
	"bytes"
	"strings"
	"testing"

	"evserver/engine"
	"evserver/engine/enginetest"
)

const protoEcho = `
local E = { protocols = { "echo.v1" } }
function E.accept(req) if req.headers["x-token"] ~= "t" then return 401 end return 101 end
function E:on_message(m, k) self.conn:send(self.conn.protocol .. ":" .. m, k) end
return E`

func TestConnectCommand(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"echo.lua": protoEcho})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	cases := []struct {
		name       string
		args       []string
		stdin      string
		rc         int
		out, inErr string
	}{
		{"lines become messages", []string{srv.URL + "/echo", "-H", "X-Token: t", "-protocol", "echo.v1"}, "hello\nworld\n", 0,
			"echo.v1:hello\necho.v1:world\n", "connected, protocol echo.v1"},
		{"refused handshake", []string{srv.URL + "/echo"}, "", 1, "", "handshake failed: 401 Unauthorized: refused by the handler"},
		{"no handler", []string{srv.URL + "/nope", "-H", "X-Token: t"}, "", 1, "", "handshake failed: 404 Not Found: no handler for this path"},
		{"managed header", []string{srv.URL + "/echo", "-H", "Sec-WebSocket-Key: x"}, "", 2, "", "header Sec-WebSocket-Key is managed by evserver"},
		{"bad URL", []string{"http://x/"}, "", 2, "", "want a ws:// or wss:// URL"},
		{"nothing listening", []string{"ws://127.0.0.1:1/"}, "", 1, "", "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			rc := connect(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if rc != tc.rc || stdout.String() != tc.out || !strings.Contains(stderr.String(), tc.inErr) {
				t.Fatalf("rc %d, stdout %q, stderr %q; want rc %d, stdout %q, stderr containing %q",
					rc, stdout.String(), stderr.String(), tc.rc, tc.out, tc.inErr)
			}
		})
	}
}
