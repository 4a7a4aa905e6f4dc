package engine

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Errors of the write path.
var (
	ErrClosing      = errors.New("connection is closing")
	ErrSlowConsumer = errors.New("send queue full: the client does not read fast enough")
	ErrNotOpen      = errors.New("connection is not open yet (send from on_open or later)")
)

// failer is told when a connection's blocking write failed.
type failer interface{ writeFailed() }

// outbox serialises every write to one connection (gobwas/ws writes are not
// goroutine-safe) and keeps the worker from ever blocking on a socket: it
// writes inline while the socket takes the bytes and queues the rest, up to a
// bound, for a flusher goroutine that exists only while the queue is not
// empty.
type outbox struct {
	nc       net.Conn
	raw      rawWriter // non-blocking writes, where the transport has them
	owner    failer    // told when a blocking write fails; nil: close the socket
	maxQueue int
	timeout  time.Duration

	mu       sync.Mutex
	queue    []byte
	flushing bool
	sealed   bool // a close frame was queued: nothing more may be written
	shutdown bool // half-close the TCP connection once the queue is written
	err      error
}

func newOutbox(nc net.Conn, maxQueue int, timeout time.Duration) *outbox {
	o := &outbox{nc: nc, maxQueue: maxQueue, timeout: timeout}
	o.raw.init(nc)
	return o
}

// write queues frame (copied). It fails with ErrClosing after a close frame
// and with ErrSlowConsumer when the queue would pass its bound.
func (o *outbox) write(frame []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sealed {
		return ErrClosing
	}
	return o.writeLocked(frame)
}

// writeClose queues a close frame and seals the outbox.
func (o *outbox) writeClose(frame []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sealed {
		return ErrClosing
	}
	o.sealed = true
	return o.writeLocked(frame)
}

func (o *outbox) writeLocked(frame []byte) error {
	if o.err != nil {
		return o.err
	}
	if !o.flushing && len(o.queue) == 0 && o.raw.ok() {
		n, err := o.raw.tryWrite(frame)
		if err != nil {
			o.err = err
			return err
		}
		frame = frame[n:]
		if len(frame) == 0 {
			return nil
		}
	}
	if len(o.queue)+len(frame) > o.maxQueue {
		o.err = ErrSlowConsumer
		return o.err
	}
	o.queue = append(o.queue, frame...)
	if !o.flushing {
		o.flushing = true
		go o.flush() // ends when the queue is empty; see flush
	}
	return nil
}

// flush writes the queue with blocking writes until it is empty. It is the
// only goroutine of the write path and exits as soon as there is nothing to
// write.
func (o *outbox) flush() {
	var spare []byte
	for {
		o.mu.Lock()
		if len(o.queue) == 0 || o.err != nil {
			o.flushing = false
			shutdown := o.shutdown && o.err == nil
			o.mu.Unlock()
			if shutdown {
				closeWrite(o.nc)
			}
			return
		}
		buf := o.queue
		o.queue = spare[:0]
		o.mu.Unlock()

		o.nc.SetWriteDeadline(time.Now().Add(o.timeout))
		_, err := o.nc.Write(buf)
		spare = buf
		if err != nil {
			o.mu.Lock()
			o.err = err
			o.mu.Unlock()
			o.fail()
		}
	}
}

// fail ends the connection from the flusher: the owner closes a polled
// socket on its worker; otherwise closing here unblocks the reader, which
// reports the end.
func (o *outbox) fail() {
	if o.owner != nil {
		o.owner.writeFailed()
		return
	}
	o.nc.Close()
}

// closeWriteWhenFlushed half-closes the TCP connection (FIN) once everything
// queued is written, so that the peer reads all of it before the end of the
// stream, and then reads until it closes its side too.
func (o *outbox) closeWriteWhenFlushed() {
	o.mu.Lock()
	o.shutdown = true
	idle := !o.flushing
	o.mu.Unlock()
	if idle {
		closeWrite(o.nc)
	}
}

// failed reports the write error that ended the outbox, if any.
func (o *outbox) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func closeWrite(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	nc.Close()
}
