// Package enginetest runs an evserver in-process for tests: on 127.0.0.1:0,
// ready when Run returns, stopped by t.Cleanup.
package enginetest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"evserver/engine"
)

// Server is a running test server.
type Server struct {
	*engine.Server
	Addr string // host:port
	URL  string // ws://host:port
	Log  *LogBuffer
}

// Run starts a server with cfg. Its log goes to a buffer the test can search
// (and to the test's output with -v).
func Run(t testing.TB, cfg engine.Config) *Server {
	t.Helper()
	logs := &LogBuffer{}
	if cfg.Logger == nil {
		var w io.Writer = logs
		if testing.Verbose() {
			w = io.MultiWriter(logs, os.Stderr)
		}
		cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.IO == "" {
		// EVSERVER_IO=goroutine runs every test on the portable path.
		cfg.IO = os.Getenv("EVSERVER_IO")
	}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan struct{})
	go func() { // ends when the server is closed in Cleanup
		defer close(served)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	addr := ln.Addr().String()
	return &Server{Server: srv, Addr: addr, URL: "ws://" + addr, Log: logs}
}

// Handlers writes files (name → Lua source) into a new temporary directory
// and returns it.
func Handlers(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// LogBuffer collects log output safely across goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// String returns everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Eventually polls cond every 10ms until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
