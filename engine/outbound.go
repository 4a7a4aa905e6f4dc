package engine

import (
	"errors"
	"net"
	"strconv"
	"time"

	"evserver/lua"
	"evserver/ws"
)

// Errors of conn:receive.
var (
	ErrConnClosed     = errors.New("connection closed")
	ErrHasHandler     = errors.New("messages of this connection go to its msg_handler")
	ErrReceiveWaiting = errors.New("another conn:receive is already waiting on this connection")
	ErrReceiveFull    = errors.New("receive queue full: call conn:receive more often")
)

// After implements lua.Host: fn runs on the worker after d.
func (w *worker) After(d time.Duration, fn func()) func() bool {
	t := time.AfterFunc(d, func() { w.post(event{kind: evFunc, fn: fn}) })
	return t.Stop
}

// Dial implements lua.Host: it dials on a goroutine of its own (bounded by
// the request's timeout and the server's lifetime) and completes on the
// worker, where the connection is registered and pinned.
func (w *worker) Dial(req *lua.DialRequest, done func(lua.Outbound, *ws.Response, error)) {
	s := w.srv
	s.connWG.Add(1)
	go func() { // ends with the handshake
		defer s.connWG.Done()
		d, err := Dial(s.ctx, req)
		if err != nil {
			w.post(event{kind: evFunc, fn: func() { done(nil, nil, err) }})
			return
		}
		if !s.track(d.Conn) {
			d.Conn.Close()
			w.post(event{kind: evFunc, fn: func() { done(nil, nil, ErrServerClosed) }})
			return
		}
		if !w.post(event{kind: evFunc, fn: func() {
			c := w.newOutbound(d, req)
			done(c, d.Response, nil)
			s.connWG.Add(1)
			go func() { // the connection's reader; ends with the socket
				defer s.connWG.Done()
				defer s.forget(d.Conn)
				c.readLoop(d.Rest)
			}()
		}}) {
			s.forget(d.Conn)
			d.Conn.Close()
		}
	}()
}

// newOutbound registers a dialed connection on the worker. Its events wait
// (busy) until the script side calls Start.
func (w *worker) newOutbound(d *Dialed, req *lua.DialRequest) *conn {
	s := w.srv
	c := s.newConn(w, d.Conn, nil)
	c.ack = make(chan struct{})
	c.client = true
	c.recv = &receiving{}
	id := strconv.FormatUint(s.nextID.Add(1), 10)
	port, _ := strconv.Atoi(req.URL.Port())
	if port == 0 {
		port = 80
		if req.URL.Scheme == "wss" {
			port = 443
		}
	}
	c.info = lua.ConnInfo{
		ID: id, Handler: req.Handler, Path: req.URL.Path, Query: req.URL.Query(), Protocol: d.Response.Protocol,
		RemoteAddr: d.Conn.RemoteAddr().String(), Host: req.URL.Hostname(), Port: port, IsTLS: req.URL.Scheme == "wss",
		Outbound: true,
	}
	c.info.BaseLog = s.log.With("outbound", req.URL.String())
	c.open = true
	c.busy = true
	c.lastRead.Store(time.Now().UnixNano())
	w.conns[c] = struct{}{}
	return c
}

// Start implements lua.Outbound.
func (c *conn) Start(inst *lua.Instance) {
	c.inst = inst
	if inst != nil {
		c.w.vm.OnOpen(inst, c.eventDone)
		return
	}
	c.eventDone(nil) // runs what arrived meanwhile, into the receive queue
}

// receiving is the conn:receive state of an outbound connection.
type receiving struct {
	queue    []received
	bytes    int
	receiver func([]byte, bool, error) // a waiting conn:receive
	gen      uint64
	timer    *time.Timer
}

// received is a message waiting for conn:receive.
type received struct {
	data   []byte
	binary bool
}

// Receive implements lua.Outbound.
func (c *conn) Receive(timeout time.Duration, done func([]byte, bool, error)) {
	r := c.recv
	switch {
	case len(r.queue) > 0:
		m := r.queue[0]
		r.queue[0] = received{}
		r.queue = r.queue[1:]
		r.bytes -= len(m.data)
		done(m.data, m.binary, nil)
		return
	case c.finished:
		done(nil, false, ErrConnClosed)
		return
	case c.inst != nil:
		done(nil, false, ErrHasHandler)
		return
	case r.receiver != nil:
		done(nil, false, ErrReceiveWaiting)
		return
	}
	r.receiver = done
	r.gen++
	if timeout > 0 {
		gen := r.gen
		r.timer = time.AfterFunc(timeout, func() {
			c.w.post(event{kind: evFunc, fn: func() {
				if r.receiver != nil && r.gen == gen {
					c.takeReceiver()(nil, false, ErrTimeout)
				}
			}})
		})
	}
}

// takeReceiver removes and returns the waiting receiver.
func (c *conn) takeReceiver() func([]byte, bool, error) {
	r := c.recv
	fn := r.receiver
	r.receiver = nil
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	return fn
}

// queueReceived hands a message of a receive-mode connection to the waiting
// receiver or queues a copy, bounded by MaxQueueBytes.
func (c *conn) queueReceived(data []byte, binary bool) {
	r := c.recv
	if r.receiver != nil {
		c.takeReceiver()(data, binary, nil) // becomes a Lua string at once
		return
	}
	if r.bytes+len(data) > c.srv.cfg.MaxQueueBytes {
		c.logger().Warn("receive queue full; closing", "queued_bytes", r.bytes)
		c.fail(ws.ClosePolicy, "receive queue full")
		return
	}
	r.queue = append(r.queue, received{data: append([]byte(nil), data...), binary: binary})
	r.bytes += len(data)
}

// track adds an outbound socket to the set abortAll closes; false once the
// server is stopping.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		return false
	}
	s.raw[nc] = false
	return true
}
