package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// dialer opens WebSocket connections to one URL, spreading them over several loopback source addresses so that
// no single source address runs out of ephemeral ports (about 28 000 per address and destination here).
type dialer struct {
	url     string
	sources []*net.TCPAddr // nil: let the kernel choose (target not on IPv4 loopback)
	next    atomic.Uint64
	timeout time.Duration // one attempt: TCP connect plus upgrade
	retries atomic.Int64  // attempts repeated because the kernel had no local port (EADDRNOTAVAIL)
}

// maxAddrRetries bounds the retries of one dial on EADDRNOTAVAIL; with the backoff below that is about 5 s of
// waiting for TIME_WAIT ports to free up before the dial counts as failed.
const maxAddrRetries = 100

func newDialer(rawURL string, sources int, timeout time.Duration) (*dialer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url %q: %w", rawURL, err)
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("url %q: only ws:// is supported (a benchmark of TLS would measure TLS)", rawURL)
	}
	d := &dialer{url: rawURL, timeout: timeout}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	// Source addresses 127.0.0.1 … 127.0.0.k all route to lo without any configuration; they only make sense
	// for an IPv4 loopback target.
	if ip4 := ip.To4(); ip4 != nil && ip4[0] == 127 && sources > 0 {
		if sources > 250 {
			sources = 250
		}
		for i := 1; i <= sources; i++ {
			d.sources = append(d.sources, &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i))})
		}
	}
	return d, nil
}

// conn is one client connection: the socket, and a reader holding anything the server sent after its 101.
type conn struct {
	nc net.Conn
	r  io.Reader
}

// dial opens one connection, retrying (on the next source address) while the kernel reports no free local
// port. ctx bounds the whole, retries included.
func (d *dialer) dial(ctx context.Context) (conn, error) {
	for attempt := 0; ; attempt++ {
		var src *net.TCPAddr
		if len(d.sources) > 0 {
			src = d.sources[d.next.Add(1)%uint64(len(d.sources))]
		}
		wd := ws.Dialer{
			Timeout: d.timeout,
			NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				nd := net.Dialer{Control: controlNoPort}
				if src != nil {
					nd.LocalAddr = src
				}
				return nd.DialContext(ctx, network, addr)
			},
		}
		nc, br, _, err := wd.Dial(ctx, d.url)
		if err == nil {
			c := conn{nc: nc, r: nc}
			if br != nil {
				// The server spoke right after its 101; those bytes sit in br and must be read first.
				c.r = io.MultiReader(br, nc)
			}
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRNOTAVAIL) || attempt >= maxAddrRetries {
			return conn{}, fmt.Errorf("dial %s: %w", d.url, err)
		}
		d.retries.Add(1)
		t := time.NewTimer(time.Duration(attempt+1) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return conn{}, fmt.Errorf("dial %s: %w (after %d retries for a local port)", d.url, ctx.Err(), attempt)
		case <-t.C:
		}
	}
}

// newReader gives the connection's buffered reader, sized for the messages it will carry.
func (c conn) newReader(size int) *bufio.Reader {
	return bufio.NewReaderSize(c.r, size)
}
