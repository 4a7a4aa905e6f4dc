package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

type idleResult struct {
	common
	Conns       int     `json:"conns"`      // asked for
	Open        int     `json:"open"`       // dialed and upgraded
	StillOpen   int     `json:"still_open"` // not closed by the server after -settle
	Sources     int     `json:"sources"`    // source addresses dialed from
	DialS       float64 `json:"dial_s"`     // time to open them all
	Sampled     int     `json:"sampled"`    // connections that sent one message...
	SampleOK    int     `json:"sample_ok"`  // ...and got it back
	PID         int     `json:"pid,omitempty"`
	BaselineKiB int64   `json:"baseline_kib"` // server RSS (process and children) before the first dial
	LoadedKiB   int64   `json:"loaded_kib"`   // after the last dial and -settle
	KiBPerConn  float64 `json:"kib_per_conn"` // (loaded - baseline) / open
}

func (r *idleResult) human() string {
	rss := "RSS not measured (no -pid)"
	if r.PID > 0 {
		rss = fmt.Sprintf("RSS %d -> %d KiB, %.2f KiB/conn", r.BaselineKiB, r.LoadedKiB, r.KiBPerConn)
	}
	return fmt.Sprintf("idle %s: %d/%d conns open (dialed in %.1fs from %d sources), %d still open after settle, %d/%d live probes, %s, %d errors",
		r.Target, r.Open, r.Conns, r.DialS, r.Sources, r.StillOpen, r.SampleOK, r.Sampled, rss, r.Errors)
}

func runIdle(ctx context.Context, cfg *config) (*idleResult, error) {
	if cfg.conns < 1 || cfg.sample < 0 {
		return nil, fmt.Errorf("idle: need -conns >= 1 and -sample >= 0 (got %d, %d)", cfg.conns, cfg.sample)
	}
	// A few descriptors beyond the connections: stdio, the netpoller, /proc reads.
	if cfg.noFile > 0 && uint64(cfg.conns)+32 > cfg.noFile {
		return nil, fmt.Errorf("idle: %d connections need more descriptors than the open-file limit %d", cfg.conns, cfg.noFile)
	}
	var err error
	res := &idleResult{
		common:  common{Mode: "idle", Target: cfg.url, Server: cfg.label, Workload: cfg.workload},
		Conns:   cfg.conns,
		Sources: cfg.sourcesFor(cfg.conns),
		PID:     cfg.pid,
	}
	if cfg.pid > 0 {
		res.BaselineKiB, err = rssTree(cfg.pid)
		if err != nil {
			return nil, fmt.Errorf("idle: baseline RSS: %w", err)
		}
	}
	d, err := newDialer(cfg.url, res.Sources, cfg.timeout)
	if err != nil {
		return nil, err
	}
	errs := &errorLog{}
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, cfg.phaseTimeout)
	conns := dialAll(dctx, d, cfg.conns, cfg.dialConcurrency, errs)
	cancel()
	res.DialS = time.Since(t0).Seconds()
	res.DialRetries = d.retries.Load()
	open := conns[:0]
	for _, c := range conns {
		if c.nc != nil {
			open = append(open, c)
		}
	}
	res.Open = len(open)
	defer closeAll(open)

	if res.Open == 0 {
		// Nothing to wait for or to measure: every dial failed and was counted.
		errs.fill(&res.common)
		return res, nil
	}
	sleepUntil(ctx, time.Now().Add(cfg.settle))
	if ctx.Err() != nil {
		errs.fill(&res.common) // interrupted: nothing more to measure
		return res, nil
	}
	if cfg.pid > 0 {
		res.LoadedKiB, err = rssTree(cfg.pid)
		if err != nil {
			// The server died while holding the connections: that is the finding, not a setup problem.
			errs.add(fmt.Errorf("loaded RSS: %w", err))
		} else {
			res.KiBPerConn = float64(res.LoadedKiB-res.BaselineKiB) / float64(res.Open)
		}
	}

	for _, c := range open {
		closed, err := peerClosed(c.nc)
		switch {
		case err != nil:
			errs.add(fmt.Errorf("check connection: %w", err))
		case closed:
			errs.add(fmt.Errorf("server closed an idle connection from %s", c.nc.LocalAddr()))
		default:
			res.StillOpen++
		}
	}
	res.Sampled, res.SampleOK = probe(ctx, open, cfg.sample, cfg.timeout, errs)
	res.DurationS = cfg.settle.Seconds()
	errs.fill(&res.common)
	return res, nil
}

// probe sends one small text message on up to n connections spread evenly over conns, all at once, and checks
// each echo; it returns how many it tried and how many came back right.
func probe(ctx context.Context, conns []conn, n int, timeout time.Duration, errs *errorLog) (int, int) {
	if n > len(conns) {
		n = len(conns)
	}
	if n == 0 {
		return 0, 0
	}
	deadline := time.Now().Add(timeout)
	step := len(conns) / n
	ok := make([]bool, n)
	var wg sync.WaitGroup
	for k := range n {
		c := conns[k*step]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.nc.SetDeadline(deadline); err != nil {
				errs.add(fmt.Errorf("probe %d: set deadline: %w", k, err))
				return
			}
			stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
			defer stop()
			msg := []byte(fmt.Sprintf("idle probe %d", k))
			frame, _ := buildFrame(ws.OpText, msg, ws.NewMask())
			wc := newWSConn(c, 512)
			if err := wc.write(frame); err != nil {
				errs.add(fmt.Errorf("probe %d: %w", k, err))
				return
			}
			if err := wc.readEcho(ws.OpText, msg); err != nil {
				errs.add(fmt.Errorf("probe %d: %w", k, err))
				return
			}
			ok[k] = true
		}()
	}
	wg.Wait()
	good := 0
	for _, b := range ok {
		if b {
			good++
		}
	}
	return n, good
}

// closeAll sends each connection a close frame and closes its socket without waiting for the answer: waiting
// for thousands of closing handshakes would measure the server's shutdown path, which this mode does not.
// A close frame into an empty socket buffer does not block; the deadline covers the rest.
func closeAll(conns []conn) {
	frame, _ := buildFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""), ws.NewMask())
	deadline := time.Now().Add(time.Second)
	for _, c := range conns {
		_ = c.nc.SetWriteDeadline(deadline)
		_, _ = c.nc.Write(frame)
		_ = c.nc.Close()
	}
}
