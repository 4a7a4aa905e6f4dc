package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

type echoResult struct {
	common
	Conns      int     `json:"conns"`
	Window     int     `json:"window"`
	Size       int     `json:"size"`
	Binary     bool    `json:"binary"`
	Msgs       int64   `json:"msgs"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"` // payload bytes per second in each direction, 10^6
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
}

func (r *echoResult) human() string {
	kind := "text"
	if r.Binary {
		kind = "binary"
	}
	return fmt.Sprintf("echo %s: %d conns x window %d, %d B %s, %.1fs: %.0f msg/s, %.2f MB/s, p50 %s, p99 %s, %d errors",
		r.Target, r.Conns, r.Window, r.Size, kind, r.DurationS, r.MsgsPerSec, r.MBPerSec,
		fmtUS(r.P50us), fmtUS(r.P99us), r.Errors)
}

// echoRun holds what every connection of an echo run shares; the time bounds are fixed before any
// connection starts, so each connection decides alone when to count and when to stop.
type echoRun struct {
	cfg     *config
	op      ws.OpCode
	payload []byte
	base    time.Time // origin of the int64 send times of the pipelined mode
	mStart  time.Time // end of warm-up: messages sent from here on are counted...
	mEnd    time.Time // ...if their echo arrives before this; no message is sent after it
}

type echoStats struct {
	msgs int64
	hist hist
}

func runEcho(ctx context.Context, cfg *config) (*echoResult, error) {
	res := &echoResult{
		common: common{Mode: "echo", Target: cfg.url, Server: cfg.label, Workload: cfg.workload},
		Conns:  cfg.conns, Window: cfg.window, Size: cfg.size, Binary: cfg.binary,
	}
	if cfg.conns < 1 || cfg.window < 1 || cfg.size < 0 {
		return nil, fmt.Errorf("echo: need -conns >= 1, -window >= 1, -size >= 0 (got %d, %d, %d)",
			cfg.conns, cfg.window, cfg.size)
	}
	d, err := newDialer(cfg.url, cfg.sourcesFor(cfg.conns), cfg.timeout)
	if err != nil {
		return nil, err
	}
	errs := &errorLog{}
	dctx, cancel := context.WithTimeout(ctx, cfg.phaseTimeout)
	conns := dialAll(dctx, d, cfg.conns, cfg.dialConcurrency, errs)
	cancel()
	res.DialRetries = d.retries.Load()

	run := &echoRun{cfg: cfg, op: ws.OpText, payload: makePayload(cfg.size)}
	if cfg.binary {
		run.op = ws.OpBinary
	}
	run.base = time.Now()
	run.mStart = run.base.Add(cfg.warmup)
	run.mEnd = run.mStart.Add(cfg.duration)
	// One deadline bounds every read and write of the run: a server that stops answering costs at most
	// -timeout past the end, and its connections count as errors.
	deadline := run.mEnd.Add(cfg.timeout)
	bufSize := max(4096, min(cfg.size+ws.MaxHeaderSize, 64<<10))

	// Ctrl-C ends the run at once: every blocked read and write returns, and the errors that follow are the
	// interruption's, not the server's.
	stopOnCancel := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			if c.nc != nil {
				_ = c.nc.SetDeadline(time.Unix(1, 0))
			}
		}
	})
	defer stopOnCancel()

	stats := make([]echoStats, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		if c.nc == nil {
			continue // its dial failed and was counted
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.nc.Close()
			if err := c.nc.SetDeadline(deadline); err != nil {
				errs.add(fmt.Errorf("set deadline: %w", err))
				return
			}
			wc := newWSConn(c, bufSize)
			var err error
			if cfg.window == 1 {
				err = run.pingPong(wc, &stats[i])
			} else {
				err = run.pipelined(wc, &stats[i])
			}
			if err != nil && ctx.Err() == nil {
				errs.add(err)
			}
		}()
	}
	wg.Wait()

	var total hist
	for i := range stats {
		res.Msgs += stats[i].msgs
		total.merge(&stats[i].hist)
	}
	secs := cfg.duration.Seconds()
	res.DurationS = secs
	res.MsgsPerSec = float64(res.Msgs) / secs
	res.MBPerSec = float64(res.Msgs) * float64(cfg.size) / secs / 1e6
	res.P50us = us(total.quantile(0.50))
	res.P99us = us(total.quantile(0.99))
	errs.fill(&res.common)
	return res, nil
}

// pingPong sends one message, waits for its echo, and repeats: window 1 needs no second goroutine.
func (r *echoRun) pingPong(c *wsConn, st *echoStats) error {
	mask := ws.NewMask()
	frame, off := buildFrame(r.op, r.payload, mask)
	want := append([]byte(nil), r.payload...)
	seqLen := min(seqDigits, len(want))
	for seq := uint32(1); ; seq++ {
		t0 := time.Now()
		if !t0.Before(r.mEnd) {
			break
		}
		stampSeq(want[:seqLen], seq)
		for i := 0; i < seqLen; i++ {
			frame[off+i] = want[i] ^ mask[i%4]
		}
		if err := c.write(frame); err != nil {
			return fmt.Errorf("message %d: %w", seq, err)
		}
		if err := c.readEcho(r.op, want); err != nil {
			return fmt.Errorf("message %d: %w", seq, err)
		}
		t1 := time.Now()
		if !t0.Before(r.mStart) && t1.Before(r.mEnd) {
			st.msgs++
			st.hist.add(t1.Sub(t0))
		}
	}
	return closeHandshake(c)
}

// pipelined keeps up to -window messages in flight: this goroutine writes whenever the reader goroutine has
// returned a slot (one per echo received), and the reader checks the echoes in order. When time is up the
// writer sends a close frame after its last message, so the reader's last read is the server's close.
func (r *echoRun) pipelined(c *wsConn, st *echoStats) error {
	w := r.cfg.window
	c.shared = true
	sent := make([]atomic.Int64, w) // send time of message seq, at seq % w, as nanoseconds since r.base
	slots := make(chan struct{}, w)
	for range w {
		slots <- struct{}{}
	}
	var closing atomic.Bool
	readerDone := make(chan struct{})
	var rerr error
	go func() {
		defer close(readerDone)
		want := append([]byte(nil), r.payload...)
		seqLen := min(seqDigits, len(want))
		for seq := uint32(1); ; seq++ {
			stampSeq(want[:seqLen], seq)
			err := c.readEcho(r.op, want)
			var ce *closeError
			if errors.As(err, &ce) && closing.Load() {
				return // the close the writer asked for: every echo came back
			}
			if err != nil {
				rerr = fmt.Errorf("echo %d: %w", seq, err)
				return
			}
			t1 := time.Now()
			t0 := r.base.Add(time.Duration(sent[seq%uint32(w)].Load()))
			if !t0.Before(r.mStart) && t1.Before(r.mEnd) {
				st.msgs++
				st.hist.add(t1.Sub(t0))
			}
			slots <- struct{}{} // never blocks: the slots in the channel never exceed w
		}
	}()

	// All w frames are compiled once, back to back; a batch is the first k of them, restamped. Writing every
	// free slot in one syscall keeps the client's cost per message low when the window is wide.
	mask := ws.NewMask()
	frame, off := buildFrame(r.op, r.payload, mask)
	batch := bytes.Repeat(frame, w)
	seqLen := min(seqDigits, len(r.payload))
	var digits [seqDigits]byte
	var werr error
	seq := uint32(0)
	for werr == nil {
		select {
		case <-slots:
		case <-readerDone:
		}
		t0 := time.Now()
		if !t0.Before(r.mEnd) || isDone(readerDone) {
			break
		}
		k := 1
	more:
		for k < w {
			select {
			case <-slots:
				k++
			default:
				break more
			}
		}
		for j := range k {
			seq++
			stampSeq(digits[:seqLen], seq)
			at := j*len(frame) + off
			for i := 0; i < seqLen; i++ {
				batch[at+i] = digits[i] ^ mask[i%4]
			}
			sent[seq%uint32(w)].Store(int64(t0.Sub(r.base)))
		}
		if err := c.write(batch[:k*len(frame)]); err != nil {
			werr = fmt.Errorf("messages up to %d: %w", seq, err)
		}
	}
	if werr == nil && !isDone(readerDone) {
		closing.Store(true)
		werr = c.writeClose(ws.StatusNormalClosure)
	}
	if werr != nil {
		// Unblock the reader at once rather than at the run's deadline.
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
	<-readerDone
	if rerr != nil && werr == nil {
		return rerr
	}
	return werr
}

// closeHandshake ends a connection the way a client should: close 1000, then wait for the server's close.
func closeHandshake(c *wsConn) error {
	if err := c.writeClose(ws.StatusNormalClosure); err != nil {
		return err
	}
	if _, err := c.awaitClose(); err != nil {
		return err
	}
	return nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// seqDigits is the length of the sequence number stamped at the start of each payload (8 hex digits, ASCII so
// that text messages stay valid UTF-8): an echo of the wrong message, not just of wrong bytes, is caught.
const seqDigits = 8

func stampSeq(dst []byte, seq uint32) {
	const hexDigits = "0123456789abcdef"
	for i := range dst {
		dst[i] = hexDigits[(seq>>(28-4*uint(i)))&0xf]
	}
}

// makePayload returns size bytes of printable ASCII that vary from byte to byte.
func makePayload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(33 + (i*7)%94)
	}
	return p
}

// dialAll opens n connections, par at a time; a slot whose dial failed stays zero and the failure is logged.
func dialAll(ctx context.Context, d *dialer, n, par int, errs *errorLog) []conn {
	out := make([]conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(par, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := d.dial(ctx)
				if err != nil {
					errs.add(err)
					continue
				}
				out[i] = c
			}
		}()
	}
	wg.Wait()
	return out
}
