package engine_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// A waiting call where gopher-lua cannot yield (inside a callback called by
// Go) is a handler error; its timer firing later must not touch the ended
// event (it crashed the process).
func TestWaitWhereYieldIsImpossible(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{
		"w.lua": `
local ws = require("ws")
local W = {}
function W:on_message(msg)
  if msg == "gsub" then
    local ok, err = pcall(string.gsub, "ab", ".", function(c) ws.sleep(0.05) return c end)
    self.conn:send("pcall: " .. tostring(ok))
  elseif msg == "require" then
    local ok, err = pcall(require, "_sleepy")
    self.conn:send("require: " .. tostring(err):match("can only be called while handling an event") )
  else
    self.conn:send(msg)
  end
end
return W`,
		"_sleepy.lua": `require("ws").sleep(0.05) return {}`,
	})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1})
	g, _, err := websocket.DefaultDialer.Dial(srv.URL+"/w", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// gopher-lua raises "can not yield from outside of a coroutine": a
	// handler error, so 1011.
	g.WriteMessage(websocket.TextMessage, []byte("gsub"))
	g.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := g.ReadMessage(); err == nil || !strings.Contains(err.Error(), "1011") {
		t.Fatalf("gsub: want close 1011, got %v", err)
	}
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/w", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := ask(t, c, "require"); got != "require: can only be called while handling an event" {
		t.Fatalf("require: %q", got)
	}
	time.Sleep(150 * time.Millisecond) // the timers of both waits fire
	if got := ask(t, c, "still alive"); got != "still alive" {
		t.Fatalf("after the timers: %q", got)
	}
}

// Messages that pile up while a handler waits are bounded: past
// -max-queue-bytes the connection is closed with 1008 (and a long backlog
// does not recurse once per message).
func TestPendingMessagesAreBounded(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"s.lua": `
local ws = require("ws")
local S = {}
function S:on_message(msg) if msg == "sleep" then ws.sleep(2) end end
return S`})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, MaxQueueBytes: 64 << 10})
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/s", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("sleep"))
	for i := 0; i < 5000; i++ {
		if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
			break
		}
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1008 {
		t.Fatalf("want close 1008, got %v", err)
	}
}

// While accept waits, what the client sends next is frame bytes, never a
// second request head (which opened the connection twice and leaked a
// connection slot).
func TestBytesDuringAcceptAreFrames(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"a.lua": `
local ws = require("ws")
local A = {}
function A.accept(req) ws.sleep(0.2) return 101 end
function A:on_open() ws.log.info("opened") end
function A:on_message(m) self.conn:send(m) end
return A`})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	nc, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	head := strings.Replace(strings.Replace(upgradeRequest, "/echo", "/a", 1), "Host: x", "Host: 127.0.0.1", 1)
	nc.Write([]byte(head))
	time.Sleep(50 * time.Millisecond)
	nc.Write([]byte(head)) // not a frame: the connection fails (1002) after its 101
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	// A close frame with 1002 follows, not a second 101.
	b := make([]byte, 4)
	if _, err := br.Read(b); err != nil || b[0] != 0x88 || b[2] != 0x03 || b[3] != 0xEA {
		t.Fatalf("want a close 1002 frame, got % x (%v)", b, err)
	}
	enginetest.Eventually(t, 5*time.Second, "the slot to be released", func() bool { return srv.Connections() == 0 })
	if n := strings.Count(srv.Log.String(), "msg=opened"); n != 1 {
		t.Fatalf("on_open ran %d times", n)
	}
}

// Shutdown keeps its deadline even while an accept waits.
func TestShutdownDoesNotWaitForASuspendedAccept(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"a.lua": `
local A = {}
function A.accept(req) require("ws").sleep(8) return 101 end
return A`})
	srv, err := engine.New(engine.Config{HandlersDir: dir, Logger: newTestLogger(&enginetest.LogBuffer{})})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln) // ends at Shutdown
	dialed := make(chan *http.Response, 1)
	go func() { // ends with the handshake
		_, resp, _ := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/a", nil)
		dialed <- resp
	}()
	time.Sleep(200 * time.Millisecond) // accept is now waiting
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	srv.Shutdown(ctx)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Shutdown took %v with a 1s deadline", took)
	}
	if resp := <-dialed; resp == nil || resp.StatusCode != 503 {
		t.Fatalf("the waiting handshake got %v, want 503", resp)
	}
}

// A class loaded inside an event (a msg_handler) does not switch the budget
// off for the rest of that event.
func TestBudgetSurvivesALoadInsideAnEvent(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{
		"bad.lua": `return 42`,
		"l.lua": `
local ws = require("ws")
local L = {}
function L:on_message(msg)
  local c, err = ws.connect{ url = "ws://127.0.0.1:1/", msg_handler = "bad" }
  while true do end
end
return L`,
	})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1, LuaBudget: 100 * time.Millisecond})
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/l", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("go"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1011 {
		t.Fatalf("want close 1011 from the budget, got %v", err)
	}
}
