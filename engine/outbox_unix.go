//go:build unix

package engine

import (
	"errors"
	"net"
	"syscall"
)

// nonblockingWriter writes to a TCP socket without parking: the runtime's fds
// are non-blocking, and a RawConn.Write callback that returns true does not
// wait for writability. What the socket does not take is queued by the outbox.
func nonblockingWriter(nc net.Conn) func([]byte) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{raw: raw}
	w.cb = w.write
	return w.tryWrite
}

// rawWriter holds the callback and its state, bound once: a closure per
// write would allocate. Calls are serialised by the outbox's lock.
type rawWriter struct {
	raw  syscall.RawConn
	cb   func(fd uintptr) bool
	p    []byte
	n    int
	werr error
}

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
