package engine_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// conn:abort() resets the TCP connection at once: the client reads a reset,
// not a close frame, and on_close sees 1006 "aborted".
func TestConnAbort(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"a.lua": `
local ws = require("ws")
local A = {}
function A:on_message(msg) if msg == "abort" then self.conn:abort() end end
function A:on_close(code, reason) ws.log.info("closed", "code", code, "reason", reason) end
return A`})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("abort"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want a connection reset, got %v", err)
	}
	enginetest.Eventually(t, 5*time.Second, "on_close", func() bool {
		return strings.Contains(srv.Log.String(), "code=1006 reason=aborted")
	})
}
