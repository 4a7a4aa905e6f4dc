// Command evbench is a WebSocket load generator for comparing evserver with other servers on one machine.
//
//	evbench -mode echo      -url ws://127.0.0.1:8080/echo [-conns 50] [-window 1] [-size 64] [-binary] [-duration 10s]
//	evbench -mode handshake -url ws://127.0.0.1:8080/echo [-concurrency 20] [-duration 10s]
//	evbench -mode idle      -url ws://127.0.0.1:8080/echo -conns 15000 -pid PID [-settle 5s]
//	evbench -mode report    -in results.jsonl [-servers evserver,gobwas,nginx,node]
//
// Each run prints one human line and one JSON line to stdout, and exits 1 if anything went wrong (a failed
// dial, a wrong or missing echo, a broken connection), 2 if it could not run at all, 130 if interrupted.
// Every phase is bounded by -duration, -timeout or -phase-timeout, so a dead or stuck server ends the run
// with errors, not a hang.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	mode            string
	url             string
	conns           int
	window          int
	size            int
	binary          bool
	duration        time.Duration
	warmup          time.Duration
	concurrency     int
	sources         int
	dialConcurrency int
	settle          time.Duration
	pid             int
	sample          int
	timeout         time.Duration
	phaseTimeout    time.Duration
	quietCheck      time.Duration
	noFile          uint64 // open-file limit after raising it; 0 if unknown
	label           string
	workload        string

	// report mode
	in       string
	servers  string
	ref      string
	baseline string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("evbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.mode, "mode", "echo", "echo, handshake, idle, or report")
	fs.StringVar(&cfg.url, "url", "ws://127.0.0.1:8080/echo", "WebSocket URL of the server (ws:// only)")
	fs.IntVar(&cfg.conns, "conns", 50, "connections (echo, idle)")
	fs.IntVar(&cfg.window, "window", 1, "echo: messages in flight per connection (1 = ping-pong)")
	fs.IntVar(&cfg.size, "size", 64, "echo: payload bytes per message")
	fs.BoolVar(&cfg.binary, "binary", false, "echo: send binary messages instead of text")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time (echo, handshake)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "echo: time run before measuring")
	fs.IntVar(&cfg.concurrency, "concurrency", 20, "handshake: clients looping in parallel")
	fs.IntVar(&cfg.sources, "sources", 0, "source addresses 127.0.0.1..127.0.0.k to dial from (0: ceil(conns/20000)+1)")
	fs.IntVar(&cfg.dialConcurrency, "dial-concurrency", 200, "dials in progress at once (echo, idle)")
	fs.DurationVar(&cfg.settle, "settle", 5*time.Second, "idle: wait after the last dial before reading RSS")
	fs.IntVar(&cfg.pid, "pid", 0, "idle: server process whose RSS (with its children's) is measured; 0 skips RSS")
	fs.IntVar(&cfg.sample, "sample", 100, "idle: connections that each echo one message to prove they are live")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "bound of one dial, one idle probe, and of the drain after -duration")
	fs.DurationVar(&cfg.phaseTimeout, "phase-timeout", 2*time.Minute, "bound of the whole dial phase (echo, idle)")
	fs.DurationVar(&cfg.quietCheck, "quiet-check", 500*time.Millisecond, "measure other CPU load on the machine for this long before the run (0: skip)")
	fs.StringVar(&cfg.label, "label", "", "server name copied into the JSON line (\"server\")")
	fs.StringVar(&cfg.workload, "workload", "", "workload name copied into the JSON line (\"workload\")")
	fs.StringVar(&cfg.in, "in", "", "report: file of JSON lines from earlier runs (- for stdin)")
	fs.StringVar(&cfg.servers, "servers", "evserver,gobwas,nginx,node", "report: server columns, in order")
	fs.StringVar(&cfg.ref, "ref", "evserver", "report: numerator of the ratio column")
	fs.StringVar(&cfg.baseline, "baseline", "gobwas", "report: denominator of the ratio column")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.duration <= 0 || cfg.timeout <= 0 || cfg.phaseTimeout <= 0 || cfg.warmup < 0 || cfg.settle < 0 {
		return nil, errors.New("-duration, -timeout and -phase-timeout must be positive, -warmup and -settle not negative")
	}
	return cfg, nil
}

// sourcesFor is the number of source addresses for n simultaneous connections: one address more than the
// ports strictly need, so that ports in TIME_WAIT from an earlier run never starve this one.
func (c *config) sourcesFor(n int) int {
	if c.sources > 0 {
		return c.sources
	}
	return (n+19999)/20000 + 1
}

// common holds the fields every JSON line has.
type common struct {
	Mode        string  `json:"mode"`
	Server      string  `json:"server,omitempty"`
	Workload    string  `json:"workload,omitempty"`
	Target      string  `json:"target"`
	DurationS   float64 `json:"duration_s"`
	DialRetries int64   `json:"dial_retries"` // dials repeated because no local port was free
	// Share of all cores busy during -quiet-check just before the run, when neither evbench nor an idle
	// server should use any: other work on the machine, which makes the figures unreliable. -1: not measured.
	BackgroundCPUPct float64  `json:"background_cpu_pct"`
	Errors           int64    `json:"errors"`
	ErrorSamples     []string `json:"error_samples,omitempty"`
}

// errorLog counts errors from many goroutines and keeps the first few distinct messages.
type errorLog struct {
	n       atomic.Int64
	mu      sync.Mutex
	samples []string
}

const maxErrorSamples = 5

func (l *errorLog) add(err error) {
	l.n.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) >= maxErrorSamples {
		return
	}
	msg := err.Error()
	for _, s := range l.samples {
		if s == msg {
			return
		}
	}
	l.samples = append(l.samples, msg)
}

func (l *errorLog) fill(c *common) {
	c.Errors = l.n.Load()
	l.mu.Lock()
	c.ErrorSamples = append([]string(nil), l.samples...)
	l.mu.Unlock()
}

type result interface {
	human() string
	base() *common
}

func (c *common) base() *common { return c }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "evbench:", err)
		return 2
	}
	if cfg.mode == "report" {
		if err := report(cfg, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "evbench:", err)
			return 2
		}
		return 0
	}
	// Ctrl-C ends the run early, through the same deadlines as a normal end.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the default action is back: a second Ctrl-C kills at once.
	context.AfterFunc(ctx, stop)
	// The idle mode holds one descriptor per connection: take the whole hard limit from the start.
	if cfg.noFile, err = raiseNoFile(); err != nil {
		fmt.Fprintln(stderr, "evbench:", err)
		return 2
	}
	background := backgroundCPU(ctx, cfg.quietCheck)
	var res result
	switch cfg.mode {
	case "echo":
		res, err = runEcho(ctx, cfg)
	case "handshake":
		res, err = runHandshake(ctx, cfg)
	case "idle":
		res, err = runIdle(ctx, cfg)
	default:
		err = fmt.Errorf("unknown -mode %q (echo, handshake, idle, report)", cfg.mode)
	}
	if err != nil {
		fmt.Fprintln(stderr, "evbench:", err)
		return 2
	}
	res.base().BackgroundCPUPct = background
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(stderr, "evbench: encode result:", err)
		return 2
	}
	fmt.Fprintln(stdout, res.human())
	fmt.Fprintln(stdout, string(line))
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "evbench: interrupted: the figures cover only part of the run")
		return 130
	}
	if c := res.base(); c.Errors > 0 {
		fmt.Fprintf(stderr, "evbench: %d errors; first: %s\n", c.Errors, strings.Join(c.ErrorSamples, " | "))
		return 1
	}
	return 0
}

// backgroundCPU returns the percentage of all cores busy over d, or -1 if it cannot tell.
func backgroundCPU(ctx context.Context, d time.Duration) float64 {
	if d <= 0 {
		return -1
	}
	b0, t0, err := cpuTimes()
	if err != nil {
		return -1
	}
	sleepUntil(ctx, time.Now().Add(d))
	b1, t1, err := cpuTimes()
	if err != nil || t1 <= t0 {
		return -1
	}
	return math.Round(1000*float64(b1-b0)/float64(t1-t0)) / 10
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func fmtUS(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2f ms", v/1000)
	}
	return fmt.Sprintf("%.0f us", v)
}
