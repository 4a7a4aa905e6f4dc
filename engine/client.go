package engine

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"

	"evserver/ws"
)

// ClientConn is a blocking WebSocket client over a Dialed connection, for
// programs such as `evserver connect`. Reads belong to one goroutine; writes
// may come from any.
type ClientConn struct {
	nc   net.Conn
	rd   ws.Reader
	buf  []byte
	p    []byte // unparsed input
	wmu  sync.Mutex
	done bool
}

// CloseError reports the end of a ClientConn: the close code and reason the
// server sent (1006 when the connection dropped without one).
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("connection closed: %d %s", e.Code, e.Reason) }

// NewClientConn wraps a dialed connection.
func NewClientConn(d *Dialed, maxMessageSize int64) *ClientConn {
	return &ClientConn{nc: d.Conn, rd: ws.Reader{Client: true, MaxMessageSize: maxMessageSize}, buf: make([]byte, 32<<10), p: d.Rest}
}

// ReadMessage returns the next whole message. It answers pings and, on the
// server's close frame, answers it and returns a *CloseError.
func (c *ClientConn) ReadMessage() (binary bool, data []byte, err error) {
	for {
		for len(c.p) > 0 {
			n, ev, ok, err := c.rd.Feed(c.p)
			c.p = c.p[n:]
			if err != nil {
				pe := err.(*ws.ProtocolError)
				c.WriteClose(pe.Code, pe.Reason)
				c.nc.Close()
				return false, nil, fmt.Errorf("server broke the protocol: %w", err)
			}
			if !ok {
				continue
			}
			switch ev.Op {
			case ws.OpText, ws.OpBinary:
				return ev.Op == ws.OpBinary, append([]byte(nil), ev.Payload...), nil
			case ws.OpPing:
				c.write(ws.OpPong, ev.Payload)
			case ws.OpClose:
				reason := string(ev.Payload)
				c.WriteClose(ev.Code, "")
				c.nc.Close()
				return false, nil, &CloseError{Code: ev.Code, Reason: reason}
			}
		}
		n, err := c.nc.Read(c.buf)
		if err != nil {
			c.nc.Close()
			return false, nil, &CloseError{Code: ws.CloseAbnormal, Reason: err.Error()}
		}
		c.p = c.buf[:n]
	}
}

// WriteMessage sends one text or binary message.
func (c *ClientConn) WriteMessage(binary bool, data []byte) error {
	op := ws.OpText
	if binary {
		op = ws.OpBinary
	}
	return c.write(op, data)
}

// WriteClose sends a close frame (once).
func (c *ClientConn) WriteClose(code ws.StatusCode, reason string) error {
	return c.write(ws.OpClose, ws.AppendClosePayload(nil, code, reason))
}

func (c *ClientConn) write(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.done {
		return ErrClosing
	}
	if op == ws.OpClose {
		c.done = true
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	_, err := c.nc.Write(ws.AppendMaskedFrame(nil, op, payload, mask))
	return err
}

// Close drops the connection.
func (c *ClientConn) Close() error { return c.nc.Close() }
