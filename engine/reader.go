package engine

import (
	"sync"
	"time"

	"evserver/ws"
)

// readBufPool holds the read buffers of connection goroutines.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

const readBufSize = 4096

// readLoop is the goroutine-per-connection reader: it reads bytes, lets
// ws.Reader turn them into whole validated messages and control frames,
// answers pings itself and hands everything else to the connection's worker.
// initial holds bytes that arrived with the handshake. It closes the socket
// when it returns: the reader owns the end of the file descriptor.
func (c *conn) readLoop(initial []byte) {
	defer c.nc.Close()
	rd := ws.Reader{MaxMessageSize: c.srv.cfg.MaxMessageSize, Client: c.client}
	bufp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bufp)
	buf := *bufp
	parsing := true // false after a close frame or a protocol error: drain only
	p := initial
	for {
		for parsing && len(p) > 0 {
			n, ev, ok, err := rd.Feed(p)
			p = p[n:]
			if err != nil {
				parsing = false
				c.w.post(event{kind: evFail, c: c, perr: err.(*ws.ProtocolError)})
				break
			}
			if ok && !c.onFrame(ev) {
				parsing = false
			}
		}
		n, err := c.nc.Read(buf)
		if err != nil {
			c.w.post(event{kind: evEnd, c: c})
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		p = buf[:n]
	}
}

// onFrame handles one event of the frame reader on the reading goroutine. It
// reports false when nothing more is to be parsed (a close frame arrived).
func (c *conn) onFrame(ev ws.Event) bool {
	switch ev.Op {
	case ws.OpText, ws.OpBinary:
		if c.w.post(event{kind: evMessage, c: c, data: ev.Payload, binary: ev.Op == ws.OpBinary}) {
			<-c.ack // the worker copied the message into Lua
		}
	case ws.OpPing:
		// Answered here, in order with the other writes, so a busy handler
		// does not delay pongs. After our close frame the outbox refuses it.
		c.out.write(c.encode(make([]byte, 0, 6+len(ev.Payload)), ws.OpPong, ev.Payload))
	case ws.OpPong:
		// Unsolicited or answering conn:ping: nothing to do.
	case ws.OpClose:
		c.w.post(event{kind: evClose, c: c, code: ev.Code, reason: string(ev.Payload)})
		return false
	}
	return true
}
