package engine_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// The sandbox hides io and os.execute; -unsafe-lua restores them, with a
// warning in the log.
func TestUnsafeLua(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"libs.lua": `
local L = {}
function L:on_open() self.conn:send(type(io) .. " " .. type(os.execute) .. " " .. type(debug)) end
return L`})
	for _, tc := range []struct {
		unsafe bool
		want   string
	}{{false, "nil nil nil"}, {true, "table function table"}} {
		srv := enginetest.Run(t, engine.Config{HandlersDir: dir, UnsafeLua: tc.unsafe})
		c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/libs", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := readMsg(t, c); got != tc.want {
			t.Errorf("unsafe=%v: %q, want %q", tc.unsafe, got, tc.want)
		}
		c.Close()
		if warned := strings.Contains(srv.Log.String(), "unsafe Lua"); warned != tc.unsafe {
			t.Errorf("unsafe=%v: warning logged: %v", tc.unsafe, warned)
		}
	}
}
