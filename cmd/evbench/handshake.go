package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

type handshakeResult struct {
	common
	Concurrency      int     `json:"concurrency"`
	Handshakes       int64   `json:"handshakes"`
	HandshakesPerSec float64 `json:"handshakes_per_sec"`
	P50us            float64 `json:"p50_us"` // one whole cycle: connect, upgrade, close handshake
	P99us            float64 `json:"p99_us"`
	UpgradeP50us     float64 `json:"upgrade_p50_us"` // connect and upgrade, up to the 101 read
	UpgradeP99us     float64 `json:"upgrade_p99_us"`
	CloseP50us       float64 `json:"close_p50_us"` // close sent to the server's close read
	CloseP99us       float64 `json:"close_p99_us"`
}

func (r *handshakeResult) human() string {
	return fmt.Sprintf("handshake %s: concurrency %d, %.1fs: %.0f handshakes/s, cycle p50 %s, p99 %s (upgrade p50 %s, p99 %s; close p50 %s, p99 %s), %d errors",
		r.Target, r.Concurrency, r.DurationS, r.HandshakesPerSec, fmtUS(r.P50us), fmtUS(r.P99us),
		fmtUS(r.UpgradeP50us), fmtUS(r.UpgradeP99us), fmtUS(r.CloseP50us), fmtUS(r.CloseP99us), r.Errors)
}

// errorPause is how long a client waits after a failed cycle, so that a refused or dead server is not
// hammered by a tight loop that would only measure how fast the kernel says no.
const errorPause = 10 * time.Millisecond

func runHandshake(ctx context.Context, cfg *config) (*handshakeResult, error) {
	if cfg.concurrency < 1 {
		return nil, fmt.Errorf("handshake: need -concurrency >= 1 (got %d)", cfg.concurrency)
	}
	res := &handshakeResult{
		common:      common{Mode: "handshake", Target: cfg.url, Server: cfg.label, Workload: cfg.workload},
		Concurrency: cfg.concurrency,
	}
	d, err := newDialer(cfg.url, cfg.sourcesFor(cfg.concurrency), cfg.timeout)
	if err != nil {
		return nil, err
	}
	errs := &errorLog{}
	end := time.Now().Add(cfg.duration)
	counts := make([]int64, cfg.concurrency)
	// Per client: whole cycle, upgrade phase, close phase.
	hists := make([][3]hist, cfg.concurrency)
	var wg sync.WaitGroup
	for i := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				tUp, err := handshakeOnce(ctx, d, t0.Add(cfg.timeout))
				if err != nil {
					if ctx.Err() != nil {
						return // interrupted: not the server's error
					}
					errs.add(err)
					pause := time.Now().Add(errorPause)
					if pause.After(end) {
						pause = end
					}
					sleepUntil(ctx, pause)
					continue
				}
				if t1 := time.Now(); t1.Before(end) {
					counts[i]++
					hists[i][0].add(t1.Sub(t0))
					hists[i][1].add(tUp.Sub(t0))
					hists[i][2].add(t1.Sub(tUp))
				}
			}
		}()
	}
	wg.Wait()

	var total [3]hist
	for i := range counts {
		res.Handshakes += counts[i]
		for k := range total {
			total[k].merge(&hists[i][k])
		}
	}
	res.DurationS = cfg.duration.Seconds()
	res.HandshakesPerSec = float64(res.Handshakes) / res.DurationS
	res.P50us, res.P99us = us(total[0].quantile(0.50)), us(total[0].quantile(0.99))
	res.UpgradeP50us, res.UpgradeP99us = us(total[1].quantile(0.50)), us(total[1].quantile(0.99))
	res.CloseP50us, res.CloseP99us = us(total[2].quantile(0.50)), us(total[2].quantile(0.99))
	res.DialRetries = d.retries.Load()
	errs.fill(&res.common)
	return res, nil
}

// handshakeOnce is one client's life: TCP connect, upgrade, close 1000, the server's close, TCP close; all of
// it before deadline. It returns when the upgrade was done.
func handshakeOnce(ctx context.Context, d *dialer, deadline time.Time) (time.Time, error) {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := d.dial(dctx)
	if err != nil {
		return time.Time{}, err
	}
	upgraded := time.Now()
	defer c.nc.Close()
	if err := c.nc.SetDeadline(deadline); err != nil {
		return upgraded, fmt.Errorf("set deadline: %w", err)
	}
	wc := newWSConn(c, 512)
	if err := wc.writeClose(ws.StatusNormalClosure); err != nil {
		return upgraded, err
	}
	code, err := wc.awaitClose()
	if err != nil {
		return upgraded, err
	}
	if code != ws.StatusNormalClosure {
		return upgraded, fmt.Errorf("server answered close 1000 with %d", code)
	}
	return upgraded, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
