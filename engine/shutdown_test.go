package engine_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// A client that stops reading while the handler floods it is dropped once
// its queue passes -max-queue-bytes; on_close sees 1008 and another client
// of the same worker is served throughout.
func TestSlowReaderIsDropped(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"flood.lua": `
local ws = require("ws")
local F = {}
function F:on_message(msg)
  if msg ~= "flood" then return self.conn:send(msg) end
  local chunk = string.rep("x", 64 * 1024)
  for i = 1, 10000 do
    local ok, err = self.conn:send(chunk)
    if not ok then ws.log.info("send stopped", "after", i, "err", err); return end
    if i % 16 == 0 then ws.sleep(0) end
  end
end
function F:on_close(code, reason) ws.log.info("closed", "code", code, "reason", reason) end
return F`})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1, MaxQueueBytes: 256 << 10})
	slow, _, err := websocket.DefaultDialer.Dial(srv.URL+"/flood", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	other, _, err := websocket.DefaultDialer.Dial(srv.URL+"/flood", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	slow.WriteMessage(websocket.TextMessage, []byte("flood")) // and never read
	enginetest.Eventually(t, 10*time.Second, "the slow reader dropped", func() bool {
		return strings.Contains(srv.Log.String(), `code=1008 reason="slow consumer"`)
	})
	if !strings.Contains(srv.Log.String(), "send queue full") {
		t.Fatal("conn:send did not report the full queue")
	}
	if got := ask(t, other, "still served"); got != "still served" {
		t.Fatalf("other client: %q", got)
	}
}

// Shutdown closes every connection with 1001 after what was queued for it,
// runs on_close, and returns once they are gone.
func TestGracefulShutdown(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"s.lua": `
local ws = require("ws")
local S = {}
function S:on_message(msg) self.conn:send("last words") end
function S:on_close(code) ws.log.info("closed", "code", code) end
return S`})
	logs := &enginetest.LogBuffer{}
	srv, err := engine.New(engine.Config{HandlersDir: dir, Logger: newTestLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends at Shutdown
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/s", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if got := readMsg(t, c); got != "last words" {
		t.Fatalf("got %q", got)
	}
	done := make(chan error, 1)
	go func() { // ends when Shutdown returns
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1001 {
		t.Fatalf("want close 1001, got %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != engine.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	if !strings.Contains(logs.String(), "code=1001") {
		t.Fatalf("on_close did not run with 1001:\n%s", logs.String())
	}
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/s", nil); err == nil {
		t.Fatal("a new connection was accepted after Shutdown")
	}
}

// 200 clients sending their request a byte now and then do not delay an
// ordinary handshake.
func TestSlowHandshakesDoNotDelayOthers(t *testing.T) {
	srv := enginetest.Run(t, engine.Config{HandlersDir: filepath.Join("..", "handlers"), Workers: 1})
	var slow []net.Conn
	for i := 0; i < 200; i++ {
		nc, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte(upgradeRequest[:1+i%40]))
		slow = append(slow, nc)
	}
	d := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	c, _, err := d.Dial(srv.URL+"/echo", nil)
	if err != nil {
		t.Fatalf("an ordinary handshake among 200 slow ones: %v", err)
	}
	defer c.Close()
	if got := ask(t, c, "ok"); got != "ok" {
		t.Fatalf("echo %q", got)
	}
	for _, nc := range slow { // still pending, not refused
		nc.Write([]byte{upgradeRequest[40]})
	}
}

func newTestLogger(w *enginetest.LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
