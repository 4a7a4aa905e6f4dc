package engine_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// TestEchoWithGorilla drives handlers/echo.lua with an independent client.
func TestEchoWithGorilla(t *testing.T) {
	srv := enginetest.Run(t, engine.Config{HandlersDir: filepath.Join("..", "handlers")})
	c, resp, err := websocket.DefaultDialer.Dial(srv.URL+"/echo", nil)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	defer c.Close()
	cases := []struct {
		name string
		typ  int
		data []byte
	}{
		{"text", websocket.TextMessage, []byte("hello, évserver")},
		{"binary", websocket.BinaryMessage, []byte{0, 1, 2, 0xff}},
		{"empty text", websocket.TextMessage, []byte{}},
		{"64 KiB binary", websocket.BinaryMessage, bytes.Repeat([]byte{7}, 64<<10)},
		// Over 64 KiB: pooled message buffers on the epoll path, twice in
		// a row so the second reuses the first's buffer.
		{"300 KiB text", websocket.TextMessage, bytes.Repeat([]byte("évserver "), 30<<10)},
		{"300 KiB binary", websocket.BinaryMessage, bytes.Repeat([]byte{1, 2, 3}, 100<<10)},
	}
	for _, tc := range cases {
		if err := c.WriteMessage(tc.typ, tc.data); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: read: %v", tc.name, err)
		}
		if typ != tc.typ || !bytes.Equal(got, tc.data) {
			t.Fatalf("%s: got type %d, %d bytes; want type %d, %d bytes", tc.name, typ, len(got), tc.typ, len(tc.data))
		}
	}
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye")); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4000 {
		t.Fatalf("want close 4000 echoed, got %v", err)
	}
}
