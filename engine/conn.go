package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"evserver/lua"
	"evserver/ws"
)

// conn is one WebSocket connection. It is pinned to its worker: every field
// below "worker-owned" is touched only on that worker's goroutine. The
// reader goroutine touches only nc (reads), rd and out (which locks).
type conn struct {
	srv   *Server
	w     *worker
	nc    net.Conn
	route *route
	info  lua.ConnInfo
	out   *outbox
	ack   chan struct{} // the worker took a message from the reader's buffer

	lastRead atomic.Int64 // unix nanoseconds of the last bytes from the peer (heartbeat.go)

	// worker-owned (the flags are grouped to keep the struct small: every
	// idle connection has one)
	pingSent    int64 // unix nanoseconds of an unanswered heartbeat ping; 0 if none
	inst        *lua.Instance
	pending     []event
	closeReason string
	eventDone   func(error) // c.onEventDone, bound once
	closeCode   ws.StatusCode
	open        bool // upgrade completed, on_close is owed
	busy        bool // a Lua event of this connection is running or suspended
	closeSent   bool
	finished    bool // on_close was scheduled; the connection is gone for scripts
	client      bool // outbound (ws.connect): we are the client, frames are masked
	polled      bool // readiness-based I/O (epoll): the worker reads and owns the fd
	fdClosed    bool
	draining    bool  // onEventDone is running the pending events
	phase       phase // handshake, open or draining

	pendingBytes int // bytes of messages in pending

	recv *receiving // conn:receive state; nil for inbound connections

	// readiness-based I/O
	fd       int
	raw      syscall.RawConn
	head     []byte      // request head so far (phase handshake)
	rd       ws.Reader   // frame parser (phase open)
	endTimer *time.Timer // ends the connection after the close timeout
}

// phase is where a polled connection is in its life.
type phase uint8

const (
	phaseHandshake phase = iota // reading the request head
	phaseUpgrading              // the head is complete; accept/new decide
	phaseOpen                   // reading frames
	phaseDraining               // reading to EOF before closing; input is discarded
)

// encode appends a frame as this side of the connection must send it:
// masked by a client (RFC 6455 section 5.3), unmasked by a server.
func (c *conn) encode(dst []byte, op ws.OpCode, payload []byte) []byte {
	if c.client {
		var mask [4]byte
		binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
		return ws.AppendMaskedFrame(dst, op, payload, mask)
	}
	return ws.AppendFrame(dst, op, payload)
}

// usable reports why scripts cannot write to the connection, if they cannot.
func (c *conn) usable() error {
	switch {
	case c.closeSent || c.finished:
		return ErrClosing
	case !c.open:
		return ErrNotOpen
	}
	return nil
}

// Send implements lua.Conn.
func (c *conn) Send(data string, binary bool) error {
	if err := c.usable(); err != nil {
		return err
	}
	op := ws.OpText
	if binary {
		op = ws.OpBinary
	}
	// The worker's scratch buffer: Send runs on the worker, and the outbox
	// copies what the socket does not take at once.
	w := c.w
	w.frame = c.encode(w.frame[:0], op, unsafeBytes(data))
	err := c.out.write(w.frame)
	if cap(w.frame) > 64<<10 {
		w.frame = nil
	}
	if errors.Is(err, ErrSlowConsumer) {
		c.abort(ws.ClosePolicy, "slow consumer", err)
	}
	return err
}

// Ping implements lua.Conn.
func (c *conn) Ping(payload string) error {
	if err := c.usable(); err != nil {
		return err
	}
	return c.out.write(c.encode(nil, ws.OpPing, []byte(payload)))
}

// Close implements lua.Conn: it starts the closing handshake. on_close runs
// when the peer answers, or after CloseTimeout.
func (c *conn) Close(code ws.StatusCode, reason string) error {
	if err := c.usable(); err != nil {
		return err
	}
	c.sendClose(code, reason)
	return nil
}

// Abort implements lua.Conn: a TCP reset now (SO_LINGER 0), no closing
// handshake; on_close then runs with 1006 and reason "aborted".
func (c *conn) Abort() error {
	if c.finished {
		return ErrClosing
	}
	if tcp, ok := c.nc.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	if !c.closeSent {
		c.closeSent = true
		c.closeCode, c.closeReason = ws.CloseAbnormal, "aborted"
	}
	c.hardClose()
	c.finish(c.closeCode, c.closeReason)
	return nil
}

// Info implements lua.Conn.
func (c *conn) Info() *lua.ConnInfo { return &c.info }

// sendClose queues our close frame and gives the peer CloseTimeout to answer.
func (c *conn) sendClose(code ws.StatusCode, reason string) {
	c.closeSent = true
	c.closeCode, c.closeReason = code, reason
	if c.client {
		c.out.writeClose(c.encode(nil, ws.OpClose, ws.AppendClosePayload(nil, code, reason)))
	} else {
		c.out.writeClose(ws.CloseFrame(code, reason))
	}
	c.endAfter(c.srv.cfg.CloseTimeout)
}

// closeLinger bounds the wait for the peer's end of TCP after a completed
// closing handshake.
const closeLinger = time.Second

// endAfter bounds the rest of the connection's life: after d its TCP
// connection is closed, whatever the peer does.
func (c *conn) endAfter(d time.Duration) {
	if c.polled {
		if c.endTimer == nil {
			c.endTimer = time.AfterFunc(d, func() { c.w.post(event{kind: evFunc, fn: c.closeFD}) })
		} else {
			c.endTimer.Reset(d)
		}
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(d))
}

// hardClose closes the TCP connection now (on the worker).
func (c *conn) hardClose() {
	if c.polled {
		c.closeFD()
		return
	}
	c.nc.Close()
}

// fail closes the connection because of an error on our side of the
// protocol or in the handler: close frame, then end of TCP.
func (c *conn) fail(code ws.StatusCode, reason string) {
	if !c.closeSent {
		c.sendClose(code, reason)
	}
	c.out.closeWriteWhenFlushed()
	c.finish(c.closeCode, c.closeReason)
}

// abort drops the connection at once, without a closing handshake (a client
// that does not read cannot receive one).
func (c *conn) abort(code ws.StatusCode, reason string, err error) {
	c.logger().Warn("connection aborted", "reason", reason, "error", err)
	if !c.closeSent {
		c.closeSent = true
		c.closeCode, c.closeReason = code, reason
	}
	c.hardClose()
	c.finish(c.closeCode, c.closeReason)
}

// deliver handles a connection event on the worker, in order: while a Lua
// event of this connection is running, later events wait in pending.
func (c *conn) deliver(ev event) {
	if c.busy {
		if ev.kind == evMessage {
			// The reader's buffer is reused once it is acknowledged.
			ev.data = append([]byte(nil), ev.data...)
			if !ev.acked {
				c.ack <- struct{}{}
				ev.acked = true
			}
			// A client must not pile up messages without bound while
			// its handler waits (ws.sleep, ws.connect).
			if c.pendingBytes += len(ev.data) + 64; c.pendingBytes > c.srv.cfg.MaxQueueBytes && !c.closeSent {
				c.logger().Warn("too many messages while the handler waits; closing", "queued_bytes", c.pendingBytes)
				c.fail(ws.ClosePolicy, "too many messages while the handler waits")
				return
			}
		}
		c.pending = append(c.pending, ev)
		return
	}
	c.process(ev)
}

func (c *conn) process(ev event) {
	switch ev.kind {
	case evMessage:
		if c.closeSent || c.finished {
			c.ackIfWaiting(ev)
			return
		}
		if c.inst == nil { // an outbound connection read with conn:receive
			c.queueReceived(ev.data, ev.binary)
			c.ackIfWaiting(ev)
			return
		}
		c.busy = true
		c.w.vm.OnMessage(c.inst, ev.data, ev.binary, c.eventDone)
		c.ackIfWaiting(ev)
	case evClose:
		if !c.closeSent {
			// Echo the peer's code (RFC 6455 section 5.5.1); no code in,
			// no code out.
			c.closeSent = true
			c.closeCode, c.closeReason = ev.code, ev.reason
			frame := c.encode(nil, ws.OpClose, ws.AppendClosePayload(nil, ev.code, ""))
			c.out.writeClose(frame)
		}
		// Both close frames are out: the server ends the TCP connection
		// first (section 7.1.1): a FIN once its close frame is written,
		// then a short linger reading what a misbehaving peer may still
		// send (closing with unread input would reset the connection and
		// could destroy our close frame), then the socket is closed.
		c.finish(c.closeCode, c.closeReason)
		c.out.closeWriteWhenFlushed()
		c.endAfter(closeLinger)
	case evFail:
		c.logger().Debug("protocol error", "error", ev.perr)
		c.fail(ev.perr.Code, ev.perr.Reason)
	case evFunc:
		ev.fn()
	case evPing:
		c.out.write(c.encode(nil, ws.OpPong, ev.data))
	case evEnd:
		if c.closeSent {
			c.finish(c.closeCode, c.closeReason)
		} else {
			c.finish(ws.CloseAbnormal, "")
		}
	}
}

// ackIfWaiting releases the reader once a message left its buffer: the Lua
// string is a copy, and a pending event holds its own copy.
func (c *conn) ackIfWaiting(ev event) {
	if ev.kind == evMessage && !ev.acked {
		c.ack <- struct{}{}
	}
}

// onEventDone ends a Lua event of this connection: an error closes the
// connection with 1011; then the events that waited run.
func (c *conn) onEventDone(err error) {
	c.busy = false
	if err != nil {
		c.logger().Error("handler error", "error", err)
		if !c.finished {
			c.fail(ws.CloseInternalError, "")
		}
	}
	if c.draining {
		// Called back from a pending event that completed at once: the
		// loop below, further up the stack, goes on (no recursion per
		// pending message).
		return
	}
	c.draining = true
	for !c.busy && len(c.pending) > 0 {
		ev := c.pending[0]
		c.pending[0] = event{}
		c.pending = c.pending[1:]
		if ev.kind == evMessage {
			c.pendingBytes -= len(ev.data) + 64
		}
		c.process(ev)
	}
	c.draining = false
	if len(c.pending) == 0 {
		c.pending = nil
		c.pendingBytes = 0
	}
}

// finish ends the connection for scripts: it is unregistered, its limits are
// released and on_close(code, reason) runs once.
func (c *conn) finish(code ws.StatusCode, reason string) {
	if c.finished {
		return
	}
	c.finished = true
	if !c.open {
		return
	}
	c.open = false
	delete(c.w.conns, c)
	if c.route != nil {
		c.srv.release(c.route, c.nc)
	}
	c.pending = nil
	if c.recv != nil && c.recv.receiver != nil {
		c.takeReceiver()(nil, false, ErrConnClosed)
	}
	if c.inst == nil {
		return // no handler instance: nothing to tell
	}
	if c.busy {
		// on_close waits for the running event; it cannot be lost because
		// onEventDone always runs.
		c.pending = append(c.pending, event{kind: evFunc, fn: func() { c.runOnClose(code, reason) }})
		return
	}
	c.runOnClose(code, reason)
}

func (c *conn) runOnClose(code ws.StatusCode, reason string) {
	c.busy = true
	c.w.vm.OnClose(c.inst, code, reason, func(err error) {
		c.busy = false
		if err != nil {
			c.logger().Error("handler error in on_close", "error", err)
		}
		if c.srv.log.Enabled(context.Background(), slog.LevelDebug) {
			c.logger().Debug("connection closed", "code", int(code))
		}
	})
}

// unsafeBytes views s as bytes without copying; the bytes must not be
// modified (AppendFrame only reads them).
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// logger returns the connection's logger, built on demand (see
// lua.ConnInfo.Logger): with its id once the upgrade named it.
func (c *conn) logger() *slog.Logger {
	if c.info.ID != "" {
		return c.info.Logger()
	}
	if c.route != nil {
		return c.srv.log.With("handler", c.route.name, "remote", c.nc.RemoteAddr().String())
	}
	return c.srv.log.With("remote", c.nc.RemoteAddr().String())
}
