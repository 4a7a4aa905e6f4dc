package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"evserver/lua"
	"evserver/ws"
)

// ErrTimeout is what a waiting call that ran out of time reports.
var ErrTimeout = errors.New("timeout")

// maxResponseHead bounds the handshake response a server may send.
const maxResponseHead = 16 << 10

// Dialed is an outbound connection after a successful opening handshake.
type Dialed struct {
	Conn     net.Conn
	Response *ws.Response
	Rest     []byte // bytes the server sent after its response (first frames)
}

// Dial opens a WebSocket connection as a client: TCP (and TLS for wss), the
// upgrade request, and every check of the response (ws.ParseResponse). It
// blocks until done, req.Timeout passes (ErrTimeout) or ctx ends; the
// engine calls it on a goroutine of its own, the connect command directly.
func Dial(ctx context.Context, req *lua.DialRequest) (*Dialed, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = lua.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := dial(ctx, req)
	if err != nil && (ctx.Err() == context.DeadlineExceeded || errors.Is(err, os.ErrDeadlineExceeded)) {
		return nil, ErrTimeout
	}
	return d, err
}

func dial(ctx context.Context, req *lua.DialRequest) (*Dialed, error) {
	u := req.URL
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	fail := func(err error) (*Dialed, error) {
		nc.Close()
		return nil, err
	}
	if u.Scheme == "wss" {
		cfg := req.TLS
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("TLS handshake with %s: %w", addr, err))
		}
		nc = tc
	}
	key := ws.NewKey()
	creq := &ws.ClientRequest{URL: u, Protocols: req.Protocols, Header: req.Header}
	if _, err := nc.Write(ws.AppendClientRequest(nil, creq, key)); err != nil {
		return fail(fmt.Errorf("sending the handshake to %s: %w", addr, err))
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if end := ws.HeadEnd(buf); end >= 0 {
			resp, perr := ws.ParseResponse(buf[:end], key, req.Protocols)
			if perr != nil {
				var rerr *ws.ResponseError
				if errors.As(perr, &rerr) && rerr.Status != 0 && rerr.Status != 101 {
					rerr.Body = readBody(nc, buf[end:], rerr.Header["content-length"])
				}
				return fail(perr)
			}
			nc.SetDeadline(time.Time{})
			return &Dialed{Conn: nc, Response: resp, Rest: buf[end:]}, nil
		}
		if len(buf) > maxResponseHead {
			return fail(errors.New("handshake response header too large"))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fail(errors.New("connection closed during the handshake"))
			}
			return fail(fmt.Errorf("reading the handshake response: %w", err))
		}
	}
}

// maxRefusalBody bounds the body of a refusal that Dial reads.
const maxRefusalBody = 4 << 10

// readBody reads what a refusal says, up to its Content-Length and
// maxRefusalBody, within the handshake's deadline.
func readBody(nc net.Conn, have []byte, contentLength string) string {
	n, err := strconv.Atoi(contentLength)
	if err != nil || n <= 0 {
		return ""
	}
	n = min(n, maxRefusalBody)
	body := append(make([]byte, 0, n), have[:min(len(have), n)]...)
	if len(body) < n {
		rest := make([]byte, n-len(body))
		k, _ := io.ReadFull(nc, rest)
		body = append(body, rest[:k]...)
	}
	return strings.TrimSpace(string(body))
}
