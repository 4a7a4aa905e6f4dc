//go:build unix

package engine

import (
	"errors"
	"net"
	"syscall"
)

// rawWriter writes to a TCP socket without parking: the runtime's fds are
// non-blocking, and a RawConn.Write callback that returns true does not wait
// for writability. What the socket does not take is queued by the outbox.
// The callback and its state are bound once (a closure per write would
// allocate); calls are serialised by the outbox's lock.
type rawWriter struct {
	raw  syscall.RawConn
	cb   func(fd uintptr) bool
	p    []byte
	n    int
	werr error
}

func (w *rawWriter) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	w.raw = raw
	w.cb = w.write
}

func (w *rawWriter) ok() bool { return w.raw != nil }

func (w *rawWriter) tryWrite(p []byte) (int, error) {
	w.p, w.n, w.werr = p, 0, nil
	err := w.raw.Write(w.cb)
	n, werr := w.n, w.werr
	w.p = nil
	if werr == nil {
		werr = err
	}
	if errors.Is(werr, syscall.EAGAIN) {
		werr = nil
	}
	return n, werr
}

func (w *rawWriter) write(fd uintptr) bool {
	for len(w.p) > w.n {
		k, err := syscall.Write(int(fd), w.p[w.n:])
		if k > 0 {
			w.n += k
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err != syscall.EAGAIN {
				w.werr = err
			}
			break
		}
	}
	return true
}
