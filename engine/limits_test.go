package engine_test

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

func dialStatus(t *testing.T, d *websocket.Dialer, url string, h http.Header) (*websocket.Conn, int) {
	t.Helper()
	c, resp, err := d.Dial(url, h)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { c.Close() })
	return c, 101
}

func TestOrigins(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{
		"echo.lua":   `local E = {} function E:on_message(m) self.conn:send(m) end return E`,
		"classy.lua": `return { origins = { "https://classy.example" } }`,
	})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, Origins: []string{"https://good.example"}})
	d := websocket.DefaultDialer
	cases := []struct {
		path, origin string
		want         int
	}{
		{"/echo", "https://good.example", 101},
		{"/echo", "HTTPS://GOOD.EXAMPLE", 101},
		{"/echo", "https://evil.example", 403},
		{"/echo", "", 101}, // no Origin: not a browser
		{"/classy", "https://classy.example", 101},
		{"/classy", "https://good.example", 403}, // the class's list replaces the server's
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		if _, got := dialStatus(t, d, srv.URL+tc.path, h); got != tc.want {
			t.Errorf("%s with Origin %q: %d, want %d", tc.path, tc.origin, got, tc.want)
		}
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"echo.lua": `return {}`})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, MaxConnectionsPerIP: 2})
	from := func(ip string) *websocket.Dialer {
		return &websocket.Dialer{NetDial: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).Dial, HandshakeTimeout: 3 * time.Second}
	}
	a, _ := dialStatus(t, from("127.0.0.1"), srv.URL+"/echo", nil)
	dialStatus(t, from("127.0.0.1"), srv.URL+"/echo", nil)
	if _, got := dialStatus(t, from("127.0.0.1"), srv.URL+"/echo", nil); got != 503 {
		t.Fatalf("third connection from 127.0.0.1: %d, want 503", got)
	}
	if _, got := dialStatus(t, from("127.0.0.2"), srv.URL+"/echo", nil); got != 101 {
		t.Fatalf("connection from another address: %d, want 101", got)
	}
	// A closed connection frees its slot.
	a.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	a.ReadMessage()
	enginetest.Eventually(t, 5*time.Second, "a free slot for 127.0.0.1", func() bool {
		c, _, err := from("127.0.0.1").Dial(srv.URL+"/echo", nil)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}
