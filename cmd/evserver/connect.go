package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"evserver/engine"
	"evserver/lua"
	"evserver/ws"
)

// headerFlags collects repeated -H "Name: value" flags.
type headerFlags []ws.HeaderField

func (h *headerFlags) String() string { return fmt.Sprint(*h) }

func (h *headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok {
		return fmt.Errorf("want \"Name: value\", got %q", v)
	}
	*h = append(*h, ws.HeaderField{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	return nil
}

// connect is a small interactive client, like wscat: each stdin line is
// sent as a text message and each message received is printed. It dials
// with the same code as ws.connect.
func connect(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evserver connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var headers headerFlags
	var protocols []string
	fs.Var(&headers, "H", "request header \"Name: value\" (repeatable)")
	fs.Func("protocol", "subprotocol to offer (repeatable)", func(p string) error {
		protocols = append(protocols, p)
		return nil
	})
	timeout := fs.Duration("timeout", 10*time.Second, "handshake timeout")
	// The URL may come before or after the flags.
	var rawURL string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		rawURL, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if rawURL == "" && fs.NArg() > 0 {
		rawURL = fs.Arg(0)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		fmt.Fprintln(stderr, "evserver connect: want a ws:// or wss:// URL, got", rawURL)
		return 2
	}
	if err := ws.CheckClientHeaders(headers); err != nil {
		fmt.Fprintln(stderr, "evserver connect:", err)
		return 2
	}
	d, err := engine.Dial(context.Background(), &lua.DialRequest{URL: u, Header: headers, Protocols: protocols, Timeout: *timeout})
	if err != nil {
		var rerr *ws.ResponseError
		if errors.As(err, &rerr) && rerr.Status != 0 {
			fmt.Fprintf(stderr, "handshake failed: %d %s", rerr.Status, ws.StatusText(rerr.Status))
			if rerr.Body != "" {
				fmt.Fprintf(stderr, ": %s", rerr.Body)
			}
			fmt.Fprintf(stderr, " (%s)\n", rerr.Reason)
		} else {
			fmt.Fprintln(stderr, "connect failed:", err)
		}
		return 1
	}
	c := engine.NewClientConn(d, -1)
	if d.Response.Protocol != "" {
		fmt.Fprintln(stderr, "connected, protocol", d.Response.Protocol)
	} else {
		fmt.Fprintln(stderr, "connected")
	}
	go func() { // ends at the end of stdin, then closes the connection
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if err := c.WriteMessage(false, sc.Bytes()); err != nil {
				return
			}
		}
		c.WriteClose(ws.CloseNormal, "")
	}()
	for {
		binary, data, err := c.ReadMessage()
		if err != nil {
			var ce *engine.CloseError
			if errors.As(err, &ce) {
				fmt.Fprintf(stderr, "closed: %d %s\n", ce.Code, ce.Reason)
				if ce.Code == ws.CloseNormal || ce.Code == ws.CloseNoStatus {
					return 0
				}
				return 1
			}
			fmt.Fprintln(stderr, "error:", err)
			return 1
		}
		if binary {
			fmt.Fprintf(stdout, "< binary %d bytes: %x\n", len(data), data)
		} else {
			fmt.Fprintf(stdout, "%s\n", data)
		}
	}
}
