//go:build linux

package engine_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// Running out of file descriptors makes accept fail; the server backs off and
// goes on serving once descriptors are free again.
func TestServerSurvivesFileDescriptorExhaustion(t *testing.T) {
	srv := enginetest.Run(t, engine.Config{HandlersDir: filepath.Join("..", "handlers")})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	low := old
	low.Cur = uint64(len(fds) + 20)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	restored := false
	restore := func() {
		if !restored {
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
			restored = true
		}
	}
	defer restore()

	// Each connection costs this process two descriptors (both ends): the
	// server's accept runs out while the kernel still completes connects.
	var conns []net.Conn
	for i := 0; i < 40; i++ {
		nc, err := net.DialTimeout("tcp", srv.Addr, time.Second)
		if err != nil {
			break
		}
		conns = append(conns, nc)
	}
	enginetest.Eventually(t, 5*time.Second, "accept to fail", func() bool {
		return strings.Contains(srv.Log.String(), "accept failed; retrying")
	})
	for _, nc := range conns {
		nc.Close()
	}
	restore()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	var c *websocket.Conn
	enginetest.Eventually(t, 10*time.Second, "the server to serve again", func() bool {
		c, _, err = d.Dial(srv.URL+"/echo", nil)
		return err == nil
	})
	defer c.Close()
	if got := ask(t, c, "alive"); got != "alive" {
		t.Fatalf("echo %q", got)
	}
}
