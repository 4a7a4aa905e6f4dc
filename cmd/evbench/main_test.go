package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// testServer is an in-process WebSocket server on 127.0.0.1 whose per-message behaviour a test chooses.
type testServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// reply answers one client message on c.
type reply func(c net.Conn, op ws.OpCode, data []byte) error

func echoReply(c net.Conn, op ws.OpCode, data []byte) error {
	return wsutil.WriteServerMessage(c, op, data)
}

// fragmentReply pings first, then echoes in three fragments: the client must answer the ping and reassemble.
func fragmentReply(c net.Conn, op ws.OpCode, data []byte) error {
	if err := ws.WriteFrame(c, ws.NewPingFrame([]byte("p"))); err != nil {
		return err
	}
	a, b := len(data)/3, 2*len(data)/3
	parts := []ws.Frame{
		ws.NewFrame(op, false, data[:a]),
		ws.NewFrame(ws.OpContinuation, false, data[a:b]),
		ws.NewFrame(ws.OpContinuation, true, data[b:]),
	}
	for _, f := range parts {
		if err := ws.WriteFrame(c, f); err != nil {
			return err
		}
	}
	return nil
}

// corruptReply echoes with the last byte changed.
func corruptReply(c net.Conn, op ws.OpCode, data []byte) error {
	bad := append([]byte(nil), data...)
	if len(bad) > 0 {
		bad[len(bad)-1] ^= 1
	}
	return wsutil.WriteServerMessage(c, op, bad)
}

func startServer(t *testing.T, r reply) (*testServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf(
			"listen: %v",
			err)
	}
	s := &testServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				if _, err := ws.Upgrade(c); err != nil {
					return
				}
				for {
					data, op, err := wsutil.ReadClientData(c)
					if err != nil {
						return
					}
					if err := r(c, op, data); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.stop)
	return s, "ws://" + ln.Addr().String() + "/echo"
}

// stop closes the listener and every connection, and waits for all the server's goroutines.
func (s *testServer) stop() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// runJSON runs evbench with args and returns its exit code and decoded JSON line.
func runJSON(t *testing.T, args ...string) (int, map[string]any, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append(args, "-quiet-check", "0"), &out, &errOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	last := lines[len(lines)-1]
	if strings.HasPrefix(last, "{") {
		if err := json.Unmarshal([]byte(last), &res); err != nil {
			t.Fatalf(
				"decode %q: %v",
				last, err)
		}
	}
	return code, res, out.String() + errOut.String()
}

func TestEcho(t *testing.T) {
	cases := []struct {
		name  string
		reply reply
		args  []string
	}{
		{
			name:  "ping-pong text",
			reply: echoReply,
			args:  []string{"-conns", "4", "-size", "64"},
		},
		{
			name:  "pipelined binary",
			reply: echoReply,
			args:  []string{"-conns", "4", "-size", "20000", "-binary", "-window", "4"},
		},
		{
			name:  "tiny payload without sequence digits",
			reply: echoReply,
			args:  []string{"-conns", "2", "-size", "3"},
		},
		{
			name:  "fragmented echoes with pings",
			reply: fragmentReply,
			args:  []string{"-conns", "3", "-size", "100", "-window", "2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, url := startServer(t, tc.reply)
			args := append([]string{"-mode", "echo", "-url", url, "-duration", "300ms", "-warmup", "50ms"}, tc.args...)
			code, res, out := runJSON(t, args...)
			if code != 0 || res["errors"].(float64) != 0 {
				t.Fatalf(
					"exit %d, want 0 and no errors; output:\n%s",
					code, out)
			}
			if res["msgs"].(float64) == 0 || res["p99_us"].(float64) <= 0 {
				t.Fatalf(
					"no messages measured: %v",
					res)
			}
		})
	}
}

func TestEchoDetectsWrongEcho(t *testing.T) {
	_, url := startServer(t, corruptReply)
	code, res, out := runJSON(t, "-mode", "echo", "-url", url, "-conns", "2", "-duration", "200ms", "-warmup", "0")
	if code != 1 || res["errors"].(float64) != 2 {
		t.Fatalf(
			"exit %d, want 1 with 2 errors (one per connection); output:\n%s",
			code, out)
	}
	if !strings.Contains(out, "echo differs at byte 63") {
		t.Fatalf(
			"error does not locate the wrong byte:\n%s",
			out)
	}
}

// A server that dies mid-run makes evbench report errors and exit 1, well before its deadlines.
func TestEchoServerDies(t *testing.T) {
	s, url := startServer(t, echoReply)
	time.AfterFunc(150*time.Millisecond, s.stop)
	start := time.Now()
	code, res, out := runJSON(t, "-mode", "echo", "-url", url, "-conns", "3", "-duration", "3s", "-warmup", "0",
		"-timeout", "2s")
	if code != 1 || res["errors"].(float64) != 3 {
		t.Fatalf(
			"exit %d, want 1 with 3 errors; output:\n%s",
			code, out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf(
			"took %v: connections that failed should end the run",
			d)
	}
}

// A server that accepts and then never answers costs at most -timeout past -duration.
func TestEchoServerStalls(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf(
			"listen: %v",
			err)
	}
	defer ln.Close()
	start := time.Now()
	code, res, out := runJSON(t, "-mode", "echo", "-url", "ws://"+ln.Addr().String()+"/", "-conns", "2",
		"-duration", "100ms", "-timeout", "300ms")
	if code != 1 || res["errors"].(float64) != 2 {
		t.Fatalf(
			"exit %d, want 1 with 2 errors; output:\n%s",
			code, out)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf(
			"took %v with a 300ms timeout",
			d)
	}
}

func TestHandshake(t *testing.T) {
	_, url := startServer(t, echoReply)
	code, res, out := runJSON(t, "-mode", "handshake", "-url", url, "-concurrency", "3", "-duration", "300ms")
	if code != 0 || res["handshakes"].(float64) == 0 {
		t.Fatalf(
			"exit %d, want 0 and handshakes; output:\n%s",
			code, out)
	}
}

func TestHandshakeRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf(
			"listen: %v",
			err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, res, out := runJSON(t, "-mode", "handshake", "-url", "ws://"+addr+"/", "-concurrency", "2", "-duration", "100ms")
	if code != 1 || res["errors"].(float64) == 0 || res["handshakes"].(float64) != 0 {
		t.Fatalf(
			"exit %d, want 1 with errors and no handshake; output:\n%s",
			code, out)
	}
}

// The idle mode against a server in this very process: the connections are counted, probed, and the RSS of
// this process is read.
func TestIdle(t *testing.T) {
	_, url := startServer(t, echoReply)
	code, res, out := runJSON(t, "-mode", "idle", "-url", url, "-conns", "40", "-sample", "10", "-settle", "50ms",
		"-pid", strconv.Itoa(os.Getpid()))
	if code != 0 {
		t.Fatalf(
			"exit %d; output:\n%s",
			code, out)
	}
	for key, want := range map[string]float64{"open": 40, "still_open": 40, "sampled": 10, "sample_ok": 10, "sources": 2} {
		if res[key].(float64) != want {
			t.Errorf(
				"%s = %v, want %v",
				key, res[key], want)
		}
	}
	if res["loaded_kib"].(float64) <= 0 {
		t.Errorf(
			"loaded_kib = %v: RSS not read",
			res["loaded_kib"])
	}
}

// Connections the server drops while idle are errors.
func TestIdleServerDrops(t *testing.T) {
	s, url := startServer(t, echoReply)
	time.AfterFunc(100*time.Millisecond, s.stop)
	code, res, out := runJSON(t, "-mode", "idle", "-url", url, "-conns", "5", "-settle", "300ms", "-timeout", "500ms")
	if code != 1 || res["still_open"].(float64) != 0 {
		t.Fatalf(
			"exit %d, want 1 and no connection still open; output:\n%s",
			code, out)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 10000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.99} {
		got := h.quantile(q)
		want := time.Duration(q*10000) * time.Microsecond
		if diff := float64(got-want) / float64(want); diff < -0.02 || diff > 0.02 {
			t.Errorf(
				"quantile(%v) = %v, want %v within 2%%",
				q, got, want)
		}
	}
	for _, v := range []uint64{0, 1, 127, 128, 129, 1 << 20, 123456789} {
		got := histValue(histIndex(v))
		if v > 0 && (float64(got) < float64(v)*0.98 || float64(got) > float64(v)*1.02) {
			t.Errorf(
				"bucket of %d has middle %d, more than 2%% away",
				v, got)
		}
	}
}

func TestReport(t *testing.T) {
	lines := []string{
		`{"mode":"echo","server":"evserver","workload":"echo64","size":64,"msgs_per_sec":900,"p99_us":1500,"errors":0}`,
		`{"mode":"echo","server":"evserver","workload":"echo64","size":64,"msgs_per_sec":1100,"p99_us":2500,"errors":0}`,
		`{"mode":"echo","server":"gobwas","workload":"echo64","size":64,"msgs_per_sec":500,"p99_us":800,"errors":2}`,
		`{"server":"nginx","workload":"echo64","failed":"not installable"}`,
		`{"server":"node","workload":"echo64","failed":"garbled \q"}`,
		`{"mode":"idle","server":"evserver","workload":"idle","kib_per_conn":4,"pid":1,"errors":0}`,
		`{"mode":"idle","server":"gobwas","workload":"idle","kib_per_conn":8,"pid":1,"errors":0,"background_cpu_pct":40}`,
	}
	in := t.TempDir() + "/r.jsonl"
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatalf(
			"write: %v",
			err)
	}
	var out bytes.Buffer
	if code := run([]string{"-mode", "report", "-in", in}, &out, &out); code != 0 {
		t.Fatalf(
			"exit %d: %s",
			code, out.String())
	}
	if !strings.Contains(out.String(), "skipping line 5") {
		t.Errorf(
			"garbled line not reported:\n%s",
			out.String())
	}
	for _, want := range []string{
		"| echo64 | 1,000 msg/s, p99 2.00 ms ±10% | 500 msg/s, p99 800 us (2 errors) | n/a (not installable) | n/a | 2.00 |",
		"| idle | 4.0 KiB | 8.0 KiB (busy) | n/a | n/a | 0.50 |",
		"(busy) other processes used up to 40%",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf(
				"report lacks %q:\n%s",
				want, out.String())
		}
	}
}

func TestFlagsRejectBadInput(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-mode", "nope", "-quiet-check", "0"}, &out, &out); code != 2 {
		t.Errorf(
			"unknown mode: exit %d, want 2",
			code)
	}
	if code := run([]string{"-mode", "echo", "-url", "wss://127.0.0.1:1/", "-quiet-check", "0"}, &out, &out); code != 2 {
		t.Errorf(
			"wss url: exit %d, want 2",
			code)
	}
	if code := run([]string{"-duration", "0"}, &out, &out); code != 2 {
		t.Errorf(
			"zero duration: exit %d, want 2",
			code)
	}
}

// Every goroutine evbench starts has ended when run returns.
func TestNoGoroutineLeft(t *testing.T) {
	_, url := startServer(t, echoReply)
	runs := [][]string{
		{"-mode", "echo", "-url", url, "-conns", "3", "-window", "3", "-duration", "100ms", "-warmup", "0"},
		{"-mode", "handshake", "-url", url, "-concurrency", "2", "-duration", "100ms"},
		{"-mode", "idle", "-url", url, "-conns", "5", "-sample", "5", "-settle", "0"},
	}
	runJSON(t, runs[0]...) // the first run starts os/signal's watcher, which lives as long as the process
	base := runtime.NumGoroutine()
	for _, args := range runs {
		if code, _, out := runJSON(t, args...); code != 0 {
			t.Fatalf(
				"%v: exit %d:\n%s",
				args, code, out)
		}
	}
	// The server's goroutines end asynchronously after the clients close; evbench's are gone already.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf(
			"%d goroutines, %d before the runs:\n%s",
			n, base, buf[:runtime.Stack(buf, true)])
	}
}
