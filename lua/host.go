package lua

import (
	"crypto/tls"
	"net/url"
	"time"

	"evserver/ws"
)

// Host is what a VM needs from the engine for calls that wait. Every
// callback it is given must be called on the VM's worker goroutine, and never
// from inside the call that passed it (completions arrive as worker events).
type Host interface {
	// After calls fn after d. stop cancels it and reports whether it did.
	After(d time.Duration, fn func()) (stop func() bool)
	// Dial opens an outbound WebSocket connection and calls done with it,
	// or with the error (and the server's response, if it answered).
	Dial(req *DialRequest, done func(Outbound, *ws.Response, error))
}

// DialRequest is a validated ws.connect.
type DialRequest struct {
	URL       *url.URL
	Header    []ws.HeaderField
	Protocols []string
	Timeout   time.Duration
	TLS       *tls.Config // for wss; nil means Go's defaults
	Handler   string      // the msg_handler's name, for the log ("" if none)
}

// Outbound is a connection this VM opened with ws.connect.
type Outbound interface {
	Conn
	// Start begins delivering the connection's events: to inst (on_open
	// first, then on_message and on_close) or, when inst is nil, to
	// Receive.
	Start(inst *Instance)
	// Receive delivers the next message, or an error ("timeout",
	// "connection closed"), through done; a timeout of 0 waits until a
	// message arrives or the connection ends.
	Receive(timeout time.Duration, done func(msg []byte, binary bool, err error))
}
