package engine

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"evserver/lua"
	"evserver/ws"
)

// handshake is an upgrade (or plain HTTP request) on its way to a worker.
type handshake struct {
	nc    net.Conn
	req   *ws.Request
	route *route
	tail  string
	isTLS bool
	// done receives the worker's answer: true once the 101 is written,
	// false once the refusal is queued. It is called on the worker.
	done func(ok bool)
	// respond receives the response of http(req), on the worker.
	respond func([]byte)
}

// Fixed refusal texts; details go to the log, never to the peer.
var (
	errNoHandler     = &ws.HandshakeError{Status: 404, Reason: "no handler for this path"}
	errNotUpgrade    = &ws.HandshakeError{Status: 404, Reason: "WebSocket upgrade failed"}
	errHandlerFailed = &ws.HandshakeError{Status: 500, Reason: "handler failed"}
	errLimit         = &ws.HandshakeError{Status: 503, Reason: "connection limit reached"}
	errShuttingDown  = &ws.HandshakeError{Status: 503, Reason: "server shutting down"}
)

// serveConn runs the opening handshake of one accepted TCP connection and
// then reads its frames. It is the connection's goroutine until readiness-
// based reads replace it.
func (s *Server) serveConn(nc net.Conn, isTLS bool) {
	defer s.connWG.Done()
	defer s.forget(nc)
	head, rest, err := s.readHead(nc)
	if err != nil {
		var herr *ws.HandshakeError
		if errors.As(err, &herr) {
			s.refuse(nc, herr)
		} else {
			nc.Close()
		}
		return
	}
	req, err := ws.ParseRequest(head)
	if err != nil {
		var herr *ws.HandshakeError
		errors.As(err, &herr)
		s.log.Debug("handshake refused", "remote", nc.RemoteAddr().String(), "status", herr.Status, "reason", herr.Reason)
		s.refuse(nc, herr)
		return
	}
	rt, tail := s.router.match(req.Path)
	result := make(chan bool, 1)
	hs := &handshake{nc: nc, req: req, route: rt, tail: tail, isTLS: isTLS, done: func(ok bool) { result <- ok }}
	if !req.IsUpgrade {
		s.servePlain(hs)
		return
	}
	if rt == nil {
		s.refuse(nc, errNoHandler)
		return
	}
	if rt.broken != "" {
		s.log.Error("handler failed to load", "handler", rt.name, "error", rt.broken)
		s.refuse(nc, errHandlerFailed)
		return
	}
	if herr := s.admit(rt, req, nc); herr != nil {
		s.refuse(nc, herr)
		return
	}
	w := s.pickWorker()
	c := s.newConn(w, nc, rt)
	c.ack = make(chan struct{})
	if !w.post(event{kind: evUpgrade, c: c, hs: hs}) {
		s.release(rt, nc)
		s.refuse(nc, errShuttingDown)
		return
	}
	if !<-result {
		s.release(rt, nc)
		drainClose(nc, s.cfg.CloseTimeout)
		return
	}
	nc.SetReadDeadline(time.Time{})
	c.readLoop(rest)
}

// readHead reads the request head, bounded in size and time. rest is what
// the client sent after the head (frames may follow at once).
func (s *Server) readHead(nc net.Conn) (head, rest []byte, err error) {
	if s.cfg.HandshakeTimeout > 0 {
		nc.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), s.cfg.MaxHeaderBytes+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		// The search restarts 3 bytes back: the terminator may straddle reads.
		from := max(0, len(buf)-3)
		buf = buf[:len(buf)+n]
		if end := ws.HeadEnd(buf[from:]); end >= 0 {
			end += from
			if end > s.cfg.MaxHeaderBytes {
				return nil, nil, ws.ErrHeadTooLarge
			}
			return buf[:end], buf[end:], nil
		}
		if len(buf) > s.cfg.MaxHeaderBytes {
			return nil, nil, ws.ErrHeadTooLarge
		}
		if err != nil {
			return nil, nil, err
		}
	}
}

// refuse answers a handshake with its error status and closes.
func (s *Server) refuse(nc net.Conn, herr *ws.HandshakeError) {
	nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	nc.Write(ws.AppendRefusal(nil, herr))
	lingerClose(nc, s.cfg.CloseTimeout)
}

// lingerClose half-closes and drains briefly before closing, so that the
// peer reads the response instead of a reset caused by unread input.
func lingerClose(nc net.Conn, d time.Duration) {
	closeWrite(nc)
	drainClose(nc, d)
}

// drainClose reads until the peer closes (at most d, and at most a second)
// and closes.
func drainClose(nc net.Conn, d time.Duration) {
	nc.SetReadDeadline(time.Now().Add(min(d, time.Second)))
	var buf [512]byte
	for {
		if _, err := nc.Read(buf[:]); err != nil {
			break
		}
	}
	nc.Close()
}

// upgrade runs accept(req) and new(conn) on the worker and answers the
// handshake. On success the connection is registered and on_open runs.
func (w *worker) upgrade(c *conn, hs *handshake) {
	// answer tells the connection's side once; a handshake can also be
	// answered by shutdown while accept or new still wait, and their
	// completions then find it answered and do nothing.
	answered := false
	answer := func(ok bool) {
		answered = true
		delete(w.upgrading, hs)
		hs.done(ok)
	}
	refuse := func(herr *ws.HandshakeError) {
		if answered {
			return
		}
		c.out.write(ws.AppendRefusal(nil, herr))
		c.out.closeWriteWhenFlushed()
		answer(false)
	}
	w.upgrading[hs] = refuse
	if w.srv.stopping.Load() {
		refuse(errShuttingDown)
		return
	}
	class, err := w.vm.Class(hs.route.name)
	if err != nil {
		c.logger().Error("handler failed to load", "error", err)
		refuse(errHandlerFailed)
		return
	}
	claims, herr, aerr := w.srv.auth.verify(hs.route, hs.req)
	if aerr != nil {
		c.logger().Info("authentication refused", "error", aerr)
	}
	if herr != nil {
		refuse(herr)
		return
	}
	req := luaRequest(hs)
	req.Auth = claims
	w.vm.Accept(class, req, c.logger, func(res lua.AcceptResult, err error) {
		if answered {
			return
		}
		if err != nil {
			c.logger().Error("accept failed", "error", err)
			refuse(errHandlerFailed)
			return
		}
		if res.Status != 101 {
			reason := res.Reason
			if reason == "" {
				reason = "refused by the handler"
			}
			refuse(&ws.HandshakeError{Status: res.Status, Reason: reason, Header: res.Header})
			return
		}
		protocol, err := selectProtocol(res.Protocol, hs.req.Protocols, hs.route.info.Protocols)
		if err != nil {
			c.logger().Error("accept failed", "error", err)
			refuse(errHandlerFailed)
			return
		}
		c.setIdentity(res.ID, protocol, hs)
		w.vm.NewInstance(class, c, func(inst *lua.Instance, err error) {
			if answered {
				return
			}
			if err != nil {
				c.logger().Error("new failed", "error", err)
				refuse(errHandlerFailed)
				return
			}
			if err := c.out.write(ws.AppendUpgradeResponse(nil, hs.req.Key, protocol, res.Header)); err != nil {
				c.logger().Debug("writing the handshake response failed", "error", err)
				answer(false)
				return
			}
			c.inst = inst
			c.open = true
			c.lastRead.Store(time.Now().UnixNano())
			w.conns[c] = struct{}{}
			// Busy first: frames that came with the handshake wait for
			// on_open.
			c.busy = true
			answer(true)
			w.vm.OnOpen(inst, c.eventDone)
		})
	})
}

// selectProtocol picks the subprotocol: the one accept chose (which the
// client must have offered), else the first of the client's offer that the
// class lists. None is chosen when nothing matches.
func selectProtocol(chosen string, offered, supported []string) (string, error) {
	if chosen != "" {
		for _, p := range offered {
			if p == chosen {
				return chosen, nil
			}
		}
		return "", errors.New("accept chose protocol " + strconv.Quote(chosen) + " which the client did not offer")
	}
	for _, p := range offered {
		for _, q := range supported {
			if p == q {
				return p, nil
			}
		}
	}
	return "", nil
}

func luaRequest(hs *handshake) *lua.Request {
	return &lua.Request{
		Method: hs.req.Method, Path: hs.req.Path, Tail: hs.tail, Query: hs.req.Query, Header: hs.req.Header,
		Host: hs.req.Host, RemoteAddr: hs.nc.RemoteAddr().String(), Protocols: hs.req.Protocols, IsTLS: hs.isTLS,
	}
}

// setIdentity fills the fields scripts see once accept has decided.
func (c *conn) setIdentity(id, protocol string, hs *handshake) {
	if id == "" {
		id = strconv.FormatUint(c.srv.nextID.Add(1), 10)
	}
	host, port := splitHost(hs.req.Host, hs.nc.LocalAddr())
	// Clones: the request's strings share one buffer with the whole head,
	// which would otherwise stay alive as long as the connection.
	c.info = lua.ConnInfo{
		ID: strings.Clone(id), Handler: hs.route.name, Path: strings.Clone(hs.req.Path), Tail: strings.Clone(hs.tail),
		Query: hs.req.Query, Protocol: strings.Clone(protocol), RemoteAddr: hs.nc.RemoteAddr().String(),
		Host: strings.Clone(host), Port: port, IsTLS: hs.isTLS, BaseLog: c.srv.log,
	}
}

// splitHost takes the host from the Host header and the port from it or,
// when the header has none, from the listening socket.
func splitHost(hostHeader string, local net.Addr) (string, int) {
	host, portStr, err := net.SplitHostPort(hostHeader)
	if err != nil {
		host = strings.Trim(hostHeader, "[]")
		if tcp, ok := local.(*net.TCPAddr); ok {
			return host, tcp.Port
		}
		return host, 0
	}
	port, _ := strconv.Atoi(portStr)
	return host, port
}
