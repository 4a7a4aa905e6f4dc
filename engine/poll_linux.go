//go:build linux

package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"evserver/ws"
)

// pollSupported reports whether readiness-based reads are available.
const pollSupported = true

// pollBufSize is the worker's read buffer, shared by all its connections: an
// idle connection holds no buffer.
const pollBufSize = 64 << 10

// poller is a worker's epoll set plus the eventfd that wakes it for mailbox
// events (timers, completions, posts from other goroutines).
type poller struct {
	epfd, efd int
	// epfile is the epoll fd registered with Go's own netpoller: the worker
	// waits for its set to become ready by parking like any goroutine
	// instead of blocking its thread in epoll_wait, which would cost a
	// scheduler hand-off on every wake-up.
	epfile   *os.File
	waitCB   func(fd uintptr) bool
	nready   int
	werr     error
	signaled atomic.Bool // an eventfd write is pending
	events   []unix.EpollEvent
	buf      []byte
	fds      map[int32]*conn // every polled connection of the worker, by fd

	// The read callback and its results, bound once: a closure per read
	// would allocate.
	readCB func(fd uintptr) bool
	n      int
	rerr   error
}

func (p *poller) read(fd uintptr) bool {
	p.n, p.rerr = syscall.Read(int(fd), p.buf)
	return true
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("epoll fd non-blocking: %w", err)
	}
	p := &poller{epfd: epfd, efd: efd, events: make([]unix.EpollEvent, 256), buf: make([]byte, pollBufSize), fds: map[int32]*conn{}}
	p.readCB = p.read
	p.waitCB = p.poll
	p.epfile = os.NewFile(uintptr(epfd), "epoll")
	return p, nil
}

// poll collects ready events without blocking; returning false parks the
// worker in Go's netpoller until the epoll fd is readable.
func (p *poller) poll(fd uintptr) bool {
	p.nready, p.werr = unix.EpollWait(int(fd), p.events, 0)
	if p.werr == syscall.EINTR {
		p.werr = nil
		return false
	}
	return p.nready > 0 || p.werr != nil
}

// wait returns the number of ready events, parking until there is one.
func (p *poller) wait() (int, error) {
	raw, err := p.epfile.SyscallConn()
	if err != nil {
		return 0, err
	}
	if err := raw.Read(p.waitCB); err != nil {
		return 0, err
	}
	return p.nready, p.werr
}

// wake makes the worker's epoll_wait return; safe from any goroutine.
func (p *poller) wake() {
	if p.signaled.Swap(true) {
		return
	}
	var one = [8]byte{1}
	unix.Write(p.efd, one[:])
}

func (p *poller) close() {
	p.epfile.Close() // closes epfd
	unix.Close(p.efd)
}

// runPolled is the worker's loop with readiness-based reads: it waits on
// its epoll set, reads each readable connection into the shared buffer, and
// runs the resulting events inline; mailbox events wake it via the eventfd.
func (w *worker) runPolled() {
	p := w.poller
	defer p.close()
	var drain [8]byte
	for {
		n, err := p.wait()
		w.now = time.Now().UnixNano()
		if err != nil {
			w.log.Error("epoll_wait failed; the worker stops", "error", err)
			return
		}
		for i := 0; i < n; i++ {
			fd := p.events[i].Fd
			if fd == int32(p.efd) {
				unix.Read(p.efd, drain[:])
				p.signaled.Store(false)
				continue
			}
			if c := p.fds[fd]; c != nil {
				w.onReadable(c)
			}
		}
		if w.drainMailbox() {
			return
		}
	}
}

// adopt takes an accepted connection into the worker's epoll set; its
// handshake is read from there, a byte at a time if need be.
func (w *worker) adopt(nc net.Conn) {
	s := w.srv
	c := s.newConn(w, nc, nil)
	c.polled = true
	c.rd.MaxMessageSize = s.cfg.MaxMessageSize
	c.rd.Buffers = &w.bufs
	raw, err := nc.(syscall.Conn).SyscallConn()
	if err == nil {
		err = raw.Control(func(fd uintptr) { c.fd = int(fd) })
	}
	if err == nil {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)}
		err = unix.EpollCtl(w.poller.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev)
	}
	if err != nil {
		w.log.Error("cannot poll connection", "error", err)
		nc.Close()
		s.forget(nc)
		s.connWG.Done()
		return
	}
	c.raw = raw
	// A failed blocking write must not close the socket behind the
	// worker's back: the fd number could be reused while still polled.
	c.out.owner = c
	w.poller.fds[int32(c.fd)] = c
	if s.cfg.HandshakeTimeout > 0 {
		c.endTimer = time.AfterFunc(s.cfg.HandshakeTimeout, func() {
			w.post(event{kind: evFunc, fn: func() {
				if c.phase == phaseHandshake {
					c.closeFD()
				}
			}})
		})
	}
	// A client usually sends its request right after connecting: it is
	// likely in the socket already, so read now rather than after another
	// round through epoll (EAGAIN costs a microsecond when it is not).
	w.onReadable(c)
}

// onReadable reads what a connection has and handles it.
func (w *worker) onReadable(c *conn) {
	p := w.poller
	buf := p.buf
	err := c.raw.Read(p.readCB)
	n := p.n
	if err == nil {
		err = p.rerr
	}
	if errors.Is(err, syscall.EAGAIN) {
		return
	}
	if n > 0 {
		c.lastRead.Store(w.now)
		switch c.phase {
		case phaseHandshake:
			w.handshakeBytes(c, buf[:n])
		case phaseUpgrading:
			// accept or new is still running (it may wait): keep what
			// arrives for the frame parser, within bounds.
			if len(c.head)+n > w.srv.cfg.MaxQueueBytes {
				c.closeFD()
				return
			}
			c.head = append(c.head, buf[:n]...)
		case phaseOpen:
			c.feedFrames(buf[:n])
		}
	}
	if err != nil || n <= 0 {
		c.closeFD()
	}
}

// handshakeBytes accumulates the request head and, once complete, runs the
// handshake on the worker.
func (w *worker) handshakeBytes(c *conn, p []byte) {
	s := w.srv
	from := max(0, len(c.head)-3)
	c.head = append(c.head, p...)
	end := ws.HeadEnd(c.head[from:])
	if end < 0 {
		if len(c.head) > s.cfg.MaxHeaderBytes {
			c.refuse(ws.ErrHeadTooLarge)
		}
		return
	}
	end += from
	if end > s.cfg.MaxHeaderBytes {
		c.refuse(ws.ErrHeadTooLarge)
		return
	}
	head, rest := c.head[:end], c.head[end:]
	c.head = nil
	if c.endTimer != nil {
		c.endTimer.Stop()
		c.endTimer = nil
	}
	req, err := ws.ParseRequest(head)
	if err != nil {
		var herr *ws.HandshakeError
		errors.As(err, &herr)
		c.logger().Debug("handshake refused", "status", herr.Status, "reason", herr.Reason)
		c.refuse(herr)
		return
	}
	rt, tail := s.router.match(req.Path)
	hs := &handshake{nc: c.nc, req: req, route: rt, tail: tail}
	if !req.IsUpgrade {
		c.phase = phaseDraining
		s.plainResponse(hs, w, func(resp []byte) { c.respondAndEnd(resp) })
		return
	}
	switch {
	case rt == nil:
		c.refuse(errNoHandler)
		return
	case rt.broken != "":
		s.log.Error("handler failed to load", "handler", rt.name, "error", rt.broken)
		c.refuse(errHandlerFailed)
		return
	}
	if herr := s.admit(rt, req, c.nc); herr != nil {
		c.refuse(herr)
		return
	}
	c.route = rt
	// Until accept and new have decided, bytes that arrive are frames to
	// keep, not another request head.
	c.phase = phaseUpgrading
	c.head = append([]byte(nil), rest...)
	hs.done = func(ok bool) {
		if !ok {
			s.release(rt, c.nc)
			c.endDraining(time.Second)
			return
		}
		early := c.head
		c.head = nil
		c.phase = phaseOpen
		c.feedFrames(early)
	}
	w.upgrade(c, hs)
}

// refuse answers a polled handshake with its error and ends the connection.
func (c *conn) refuse(herr *ws.HandshakeError) {
	c.respondAndEnd(ws.AppendRefusal(nil, herr))
}

// respondAndEnd writes a final HTTP response, half-closes, and reads until
// the peer closes (at most a second).
func (c *conn) respondAndEnd(resp []byte) {
	c.out.write(resp)
	c.out.closeWriteWhenFlushed()
	c.endDraining(time.Second)
}

// endDraining discards further input and closes within d.
func (c *conn) endDraining(d time.Duration) {
	c.phase = phaseDraining
	c.head = nil
	c.endAfter(d)
}

// feedFrames parses frames from p and runs their events inline.
func (c *conn) feedFrames(p []byte) {
	for len(p) > 0 && c.phase == phaseOpen {
		n, ev, ok, err := c.rd.Feed(p)
		p = p[n:]
		if err != nil {
			c.phase = phaseDraining
			c.deliver(event{kind: evFail, c: c, perr: err.(*ws.ProtocolError)})
			return
		}
		if !ok {
			continue
		}
		switch ev.Op {
		case ws.OpText, ws.OpBinary:
			// acked: no reader waits; a pending copy is made if busy.
			c.deliver(event{kind: evMessage, c: c, data: ev.Payload, binary: ev.Op == ws.OpBinary, acked: true})
		case ws.OpPing:
			if c.busy && len(c.pending) > 0 {
				// Keep the pong behind the echoes of earlier messages.
				c.pending = append(c.pending, event{kind: evPing, c: c, data: append([]byte(nil), ev.Payload...)})
				continue
			}
			c.w.frame = c.encode(c.w.frame[:0], ws.OpPong, ev.Payload)
			c.out.write(c.w.frame)
		case ws.OpPong:
			// Unsolicited or answering conn:ping: nothing to do.
		case ws.OpClose:
			c.phase = phaseDraining
			c.deliver(event{kind: evClose, c: c, code: ev.Code, reason: string(ev.Payload)})
		}
	}
}

// closeFD ends a polled connection on its worker: out of the epoll set, the
// socket closed, and the end reported to the connection's events.
func (c *conn) closeFD() {
	if c.fdClosed {
		return
	}
	c.fdClosed = true
	w := c.w
	// No EPOLL_CTL_DEL: closing the socket takes it out of every epoll set,
	// and an event already collected for it finds no entry in fds.
	delete(w.poller.fds, int32(c.fd))
	if c.endTimer != nil {
		c.endTimer.Stop()
	}
	c.nc.Close()
	c.srv.forget(c.nc)
	c.srv.connWG.Done()
	c.deliver(event{kind: evEnd, c: c})
}

// closePolled closes every polled connection of the worker now.
func (w *worker) closePolled() {
	for _, c := range w.poller.fds {
		c.closeFD()
	}
}

// closeHandshaking closes the polled connections still in their handshake.
func (w *worker) closeHandshaking() {
	for _, c := range w.poller.fds {
		if c.phase == phaseHandshake {
			c.closeFD()
		}
	}
}

// writeFailed implements failer for polled connections: only the worker may
// close their socket.
func (c *conn) writeFailed() { c.w.post(event{kind: evFunc, fn: c.closeFD}) }
