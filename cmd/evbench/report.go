package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// record is one line of a results file: an evbench JSON line, or a line compare.sh writes when a server
// could not be installed or started, or a run printed nothing ({"server":..,"workload":..,"failed":"why"}).
type record struct {
	Mode             string  `json:"mode"`
	Server           string  `json:"server"`
	Workload         string  `json:"workload"`
	Failed           string  `json:"failed"`
	Size             int     `json:"size"`
	Errors           int64   `json:"errors"`
	MsgsPerSec       float64 `json:"msgs_per_sec"`
	MBPerSec         float64 `json:"mb_per_sec"`
	HandshakesPerSec float64 `json:"handshakes_per_sec"`
	P99us            float64 `json:"p99_us"`
	KiBPerConn       float64 `json:"kib_per_conn"`
	Open             int     `json:"open"`
	Conns            int     `json:"conns"`
	StillOpen        int     `json:"still_open"`
	PID              int     `json:"pid"`
	BackgroundCPUPct float64 `json:"background_cpu_pct"`
}

// busyThreshold is the background CPU share (percent of all cores, measured before a run) above which a
// figure is flagged: on 2 cores, 15 % is a third of a core taken from the client or the server.
const busyThreshold = 15

// metric is the figure a workload is ranked by: messages/s, handshakes/s, KiB per idle connection.
func (r record) metric() float64 {
	switch r.Mode {
	case "echo":
		return r.MsgsPerSec
	case "handshake":
		return r.HandshakesPerSec
	case "idle":
		return r.KiBPerConn
	}
	return 0
}

// cell aggregates the rounds of one server on one workload.
type cell struct {
	runs   []record
	failed []string
}

// report prints a Markdown table to w: one row per workload (in order of first appearance), one column per
// server, each the median over rounds, and the ratio ref/baseline of those medians. Lines it cannot read are
// reported to warn and skipped.
func report(cfg *config, w, warn io.Writer) error {
	var in io.Reader = os.Stdin
	if cfg.in != "-" && cfg.in != "" {
		f, err := os.Open(cfg.in)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		defer f.Close()
		in = f
	}
	servers := strings.Split(cfg.servers, ",")
	var workloads []string
	cells := map[[2]string]*cell{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			// One garbled line must not cost the whole table.
			fmt.Fprintf(warn, "evbench: report: skipping line %d: %v\n", n, err)
			continue
		}
		if r.Workload == "" {
			r.Workload = r.Mode
		}
		key := [2]string{r.Workload, r.Server}
		c := cells[key]
		if c == nil {
			c = &cell{}
			cells[key] = c
			if !slices.Contains(workloads, r.Workload) {
				workloads = append(workloads, r.Workload)
			}
		}
		if r.Failed != "" || r.Mode == "" {
			c.failed = append(c.failed, cmp.Or(r.Failed, "no result"))
			continue
		}
		c.runs = append(c.runs, r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("report: read: %w", err)
	}

	fmt.Fprintf(w, "| workload | %s | %s/%s |\n", strings.Join(servers, " | "), cfg.ref, cfg.baseline)
	fmt.Fprintf(w, "|---|%s---|\n", strings.Repeat("---|", len(servers)))
	busy := 0.0
	for _, wl := range workloads {
		row := []string{wl}
		for _, s := range servers {
			c := cells[[2]string{wl, s}]
			row = append(row, c.format())
			busy = max(busy, c.maxBackground())
		}
		row = append(row, ratio(cells[[2]string{wl, cfg.ref}], cells[[2]string{wl, cfg.baseline}]))
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	if busy > busyThreshold {
		fmt.Fprintf(w, "\n(busy) other processes used up to %.0f%% of the machine's CPU just before a run of that cell: "+
			"its figure is unreliable.\n", busy)
	}
	return nil
}

func (c *cell) maxBackground() float64 {
	m := 0.0
	if c != nil {
		for _, r := range c.runs {
			m = max(m, r.BackgroundCPUPct)
		}
	}
	return m
}

func (c *cell) format() string {
	if c == nil {
		return "n/a"
	}
	if len(c.runs) == 0 {
		return "n/a (" + strings.Join(uniq(c.failed), "; ") + ")"
	}
	r := c.runs[0]
	m := median(c.runs, record.metric)
	p99 := median(c.runs, func(r record) float64 { return r.P99us })
	var s string
	switch r.Mode {
	case "echo":
		s = fmt.Sprintf("%s msg/s, p99 %s", thousands(m), fmtUS(p99))
		if r.Size >= 1024 {
			s += fmt.Sprintf(", %.0f MB/s", median(c.runs, func(r record) float64 { return r.MBPerSec }))
		}
	case "handshake":
		s = fmt.Sprintf("%s /s, p99 %s", thousands(m), fmtUS(p99))
	case "idle":
		if r.PID == 0 {
			s = "no RSS (no pid)"
		} else {
			s = fmt.Sprintf("%.1f KiB", m)
		}
	default:
		s = "?"
	}
	if len(c.runs) > 1 {
		// Half the range over rounds, relative to the median: how far apart the rounds were.
		lo := slices.MinFunc(c.runs, func(a, b record) int { return cmp.Compare(a.metric(), b.metric()) }).metric()
		hi := slices.MaxFunc(c.runs, func(a, b record) int { return cmp.Compare(a.metric(), b.metric()) }).metric()
		if m > 0 {
			s += fmt.Sprintf(" ±%.0f%%", 50*(hi-lo)/m)
		}
	}
	var errs int64
	for _, r := range c.runs {
		errs += r.Errors
	}
	if c.maxBackground() > busyThreshold {
		s += " (busy)"
	}
	if errs > 0 {
		s += fmt.Sprintf(" (%d errors)", errs)
	}
	if len(c.failed) > 0 {
		s += fmt.Sprintf(" (%d of %d rounds failed)", len(c.failed), len(c.failed)+len(c.runs))
	}
	return s
}

func ratio(ref, base *cell) string {
	if ref == nil || base == nil || len(ref.runs) == 0 || len(base.runs) == 0 {
		return "n/a"
	}
	b := median(base.runs, record.metric)
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", median(ref.runs, record.metric)/b)
}

func median(rs []record, f func(record) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// thousands formats v rounded to an integer with thin separators every three digits (12,345).
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func uniq(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
