package relay_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// upstream is an independent echo server that prefixes what it echoes and
// reports when its client goes away.
func upstream(t *testing.T) (*httptest.Server, chan int) {
	closed := make(chan int, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					closed <- ce.Code
				}
				return
			}
			if typ == websocket.TextMessage && string(msg) == "bye" {
				c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
				continue
			}
			if typ == websocket.TextMessage {
				msg = append([]byte("up:"), msg...)
			}
			c.WriteMessage(typ, msg)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, closed
}

func dialRelay(t *testing.T, up string) (*websocket.Conn, error) {
	srv := enginetest.Run(t, engine.Config{HandlersDir: "handlers"})
	u := srv.URL + "/relay?upstream=" + url.QueryEscape(up)
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestRelayBothWays(t *testing.T) {
	up, closed := upstream(t)
	c, err := dialRelay(t, "ws"+strings.TrimPrefix(up.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if typ, msg, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || string(msg) != "up:hello" {
		t.Fatalf("text: %d %q %v", typ, msg, err)
	}
	if typ, msg, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage || string(msg) != "\x01\x02\x03" {
		t.Fatalf("binary: %d %q %v", typ, msg, err)
	}
	// The client leaves: the relay closes its upstream connection.
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	select {
	case code := <-closed:
		if code != 1000 {
			t.Fatalf("upstream saw close %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("upstream connection was not closed when the client left")
	}
}

func TestRelayUpstreamCloses(t *testing.T) {
	up, _ := upstream(t)
	c, err := dialRelay(t, "ws"+strings.TrimPrefix(up.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.WriteMessage(websocket.TextMessage, []byte("bye"))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1000 || ce.Text != "upstream closed" {
		t.Fatalf("want close 1000 \"upstream closed\", got %v", err)
	}
}

func TestRelayUpstreamUnavailable(t *testing.T) {
	c, err := dialRelay(t, "ws://127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4502 {
		t.Fatalf("want close 4502, got %v", err)
	}
}

func TestRelayRefusesBadUpstream(t *testing.T) {
	_, err := dialRelay(t, "http://example.com/")
	if err != websocket.ErrBadHandshake {
		t.Fatalf("want a refused handshake, got %v", err)
	}
}
