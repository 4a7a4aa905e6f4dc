package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

const timersLua = `
local ws = require("ws")
local T = {}
function T:on_message(msg)
  local c = self.conn
  if msg == "order" then
    ws.after(0.06, function() c:send("third") end)
    ws.after(0.02, function() c:send("first") end)
    ws.after(0.04, function() c:send("second") end)
  elseif msg == "cancel" then
    local h = ws.after(0.02, function() c:send("cancelled timer ran") end)
    c:send("cancel returned " .. tostring(h:cancel()) .. " then " .. tostring(h:cancel()))
    ws.after(0.05, function() c:send("later") end)
  elseif msg == "every" then
    local n, h = 0, nil
    h = ws.every(0.01, function()
      n = n + 1
      c:send("tick " .. n)
      if n == 3 then h:cancel() end
    end)
  elseif msg == "error" then
    ws.after(0.01, function() error("timer boom") end)
    ws.every(0.01, function() error("every boom") end)
    ws.after(0.05, function() c:send("still alive") end)
  elseif msg == "sleep" then
    local t0 = ws.now()
    ws.sleep(0.05)
    c:send(("slept %.2f"):format(ws.now() - t0))
  elseif msg == "sleep in timer" then
    ws.after(0, function() ws.sleep(0.02); c:send("timer slept") end)
  elseif msg == "pcall" then
    local ok, v = pcall(function() ws.sleep(0.01); return "inner" end)
    local ok2, e2 = pcall(function() ws.sleep(0.01); error("oops") end)
    local ok3, h3 = xpcall(function() ws.sleep(0.01); error("x") end, function(e) return "handled" end)
    local gen = coroutine.wrap(function() for i = 1, 2 do ws.sleep(0.01); coroutine.yield(i) end end)
    local a, b = gen(), gen()
    c:send(table.concat({ tostring(ok), v, tostring(ok2), tostring(e2:match("oops") ~= nil), tostring(ok3), h3, a, b }, " "))
  elseif msg == "yield" then
    coroutine.yield(1)
  elseif msg == "cancel after fire" then
    local h = ws.after(0.01, function() end)
    ws.sleep(0.05)
    c:send("cancel after fire returned " .. tostring(h:cancel()))
  elseif msg == "sleep bad" then
    local ok, err = pcall(ws.sleep, -1)
    c:send(tostring(err))
  end
end
return T
`

func timersClient(t *testing.T) (*enginetest.Server, *websocket.Conn) {
	t.Helper()
	dir := enginetest.Handlers(t, map[string]string{"timers.lua": timersLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1})
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/timers", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func expectMessages(t *testing.T, c *websocket.Conn, want ...string) {
	t.Helper()
	for _, w := range want {
		if got := readMsg(t, c); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
}

func TestTimersRunInOrder(t *testing.T) {
	_, c := timersClient(t)
	ask(t, c, "order") // the reply is the first timer
	expectMessages(t, c, "second", "third")
}

func TestTimerCancel(t *testing.T) {
	_, c := timersClient(t)
	if got := ask(t, c, "cancel"); got != "cancel returned true then false" {
		t.Fatalf("got %q", got)
	}
	expectMessages(t, c, "later") // the cancelled timer never sent
}

func TestEveryRepeatsUntilCancelled(t *testing.T) {
	_, c := timersClient(t)
	c.WriteMessage(websocket.TextMessage, []byte("every"))
	expectMessages(t, c, "tick 1", "tick 2", "tick 3")
	c.WriteMessage(websocket.TextMessage, []byte("cancel"))
	expectMessages(t, c, "cancel returned true then false", "later")
}

func TestTimerErrorIsLoggedAndServerLives(t *testing.T) {
	srv, c := timersClient(t)
	c.WriteMessage(websocket.TextMessage, []byte("error"))
	expectMessages(t, c, "still alive")
	log := srv.Log.String()
	if !strings.Contains(log, "timers.lua:22: timer boom") || !strings.Contains(log, "timers.lua:23: every boom") {
		t.Fatalf("timer errors with file:line not in the log:\n%s", log)
	}
	// The failing ws.every was cancelled after its first error.
	if n := strings.Count(log, "every boom"); n != 1 {
		t.Fatalf("every boom logged %d times, want 1", n)
	}
	if got := ask(t, c, "sleep"); !strings.HasPrefix(got, "slept 0.0") && !strings.HasPrefix(got, "slept 0.1") {
		t.Fatalf("connection unusable after timer errors: %q", got)
	}
}

func TestSleepSuspendsOnlyItsConnection(t *testing.T) {
	srv, c := timersClient(t)
	other, _, err := websocket.DefaultDialer.Dial(srv.URL+"/timers", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// The first connection sleeps, then its next message waits its turn.
	c.WriteMessage(websocket.TextMessage, []byte("sleep"))
	c.WriteMessage(websocket.TextMessage, []byte("sleep bad"))
	// Meanwhile the other connection is served at once.
	if got := ask(t, other, "cancel"); got != "cancel returned true then false" {
		t.Fatalf("other connection: %q", got)
	}
	got := readMsg(t, c)
	if !strings.HasPrefix(got, "slept 0.0") && !strings.HasPrefix(got, "slept 0.1") {
		t.Fatalf("got %q", got)
	}
	if got := readMsg(t, c); !strings.Contains(got, "seconds must be a number of seconds ≥ 0") {
		t.Fatalf("ws.sleep(-1): %q", got)
	}
}

func TestWaitingCallsThroughPcallAndCoroutines(t *testing.T) {
	_, c := timersClient(t)
	if got := ask(t, c, "pcall"); got != "true inner false true false handled 1 2" {
		t.Fatalf("got %q", got)
	}
	if got := ask(t, c, "sleep in timer"); got != "timer slept" {
		t.Fatalf("got %q", got)
	}
}

func TestYieldOutsideCoroutineIsAHandlerError(t *testing.T) {
	srv, c := timersClient(t)
	c.WriteMessage(websocket.TextMessage, []byte("yield"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1011 {
		t.Fatalf("want close 1011, got %v", err)
	}
	if !strings.Contains(srv.Log.String(), "coroutine.yield called outside a coroutine") {
		t.Fatal("the reason is not in the log")
	}
}

func TestCancelAfterFireReturnsFalse(t *testing.T) {
	_, c := timersClient(t)
	if got := ask(t, c, "cancel after fire"); got != "cancel after fire returned false" {
		t.Fatalf("got %q", got)
	}
}
