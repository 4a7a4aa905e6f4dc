package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

const loopLua = `
local L = {}
function L:on_message(msg)
  if msg == "loop" then
    while true do end
  elseif msg == "pcall loop" then
    pcall(function() while true do end end)
  else
    self.conn:send(msg)
  end
end
return L`

// An endless loop is stopped by the budget: its connection is closed with
// 1011, the error names file and line, and the worker goes on at once.
func TestLuaBudgetStopsEndlessLoops(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"loop.lua": loopLua, "chunkloop.lua": "while true do end"})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Workers: 1, LuaBudget: 100 * time.Millisecond})
	for _, msg := range []string{"loop", "pcall loop"} {
		bad, _, err := websocket.DefaultDialer.Dial(srv.URL+"/loop", nil)
		if err != nil {
			t.Fatal(err)
		}
		good, _, err := websocket.DefaultDialer.Dial(srv.URL+"/loop", nil)
		if err != nil {
			t.Fatal(err)
		}
		bad.WriteMessage(websocket.TextMessage, []byte(msg))
		bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = bad.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1011 {
			t.Fatalf("%s: want close 1011, got %v", msg, err)
		}
		// The same (only) worker serves the other connection.
		if got := ask(t, good, "still here"); got != "still here" {
			t.Fatalf("%s: other connection got %q", msg, got)
		}
		bad.Close()
		good.Close()
	}
	log := srv.Log.String()
	if !strings.Contains(log, "loop.lua:5: exceeded the Lua budget") || !strings.Contains(log, "(inside pcall) exceeded the Lua budget") {
		t.Fatalf("budget errors with file:line not logged:\n%s", log)
	}
	// A module whose main chunk never ends answers 500; the server lives.
	_, resp, err := websocket.DefaultDialer.Dial(srv.URL+"/chunkloop", nil)
	if err == nil || resp == nil || resp.StatusCode != 500 {
		t.Fatalf("endless main chunk: err %v, resp %v", err, resp)
	}
}
