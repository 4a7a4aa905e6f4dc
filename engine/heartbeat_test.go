package engine_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

const closeLogLua = `
local ws = require("ws")
local E = {}
function E:on_message(m) self.conn:send(m) end
function E:on_close(code, reason) ws.log.info("closed", "code", code, "reason", reason) end
return E`

// A peer that stops answering is found by the heartbeat and dropped; a peer
// that answers pings stays.
func TestHeartbeatDropsDeadPeers(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"echo.lua": closeLogLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, PingInterval: 100 * time.Millisecond, PongTimeout: 150 * time.Millisecond})

	// The dead peer: a handshake, then silence (it reads nothing, so it
	// never sees the pings).
	dead, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	dead.Write([]byte(strings.Replace(upgradeRequest, "Host: x", "Host: 127.0.0.1", 1)))
	resp, err := http.ReadResponse(bufio.NewReader(dead), nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}

	// The live peer: gorilla answers pings while it reads.
	live, _, err := websocket.DefaultDialer.Dial(srv.URL+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	got := make(chan string, 1)
	go func() { // ends when the connection does
		for {
			_, m, err := live.ReadMessage()
			if err != nil {
				return
			}
			got <- string(m)
		}
	}()

	enginetest.Eventually(t, 5*time.Second, "the dead peer dropped", func() bool {
		return strings.Contains(srv.Log.String(), `code=1006 reason="pong timeout"`)
	})
	time.Sleep(300 * time.Millisecond) // several more heartbeats for the live peer
	live.WriteMessage(websocket.TextMessage, []byte("alive"))
	select {
	case m := <-got:
		if m != "alive" {
			t.Fatalf("live peer got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the live peer was dropped too")
	}
	if n := strings.Count(srv.Log.String(), "pong timeout"); n != 1 {
		t.Fatalf("%d connections dropped for pong timeout, want 1", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"echo.lua": closeLogLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, IdleTimeout: 200 * time.Millisecond, PingInterval: -1})
	c, _, err := websocket.DefaultDialer.Dial(srv.URL+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1001 {
		t.Fatalf("want close 1001, got %v", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", waited)
	}
}
