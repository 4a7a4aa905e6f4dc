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
	return func(p []byte) (int, error) {
		var n int
		var werr error
		err := raw.Write(func(fd uintptr) bool {
			for len(p) > n {
				k, err := syscall.Write(int(fd), p[n:])
				if k > 0 {
					n += k
				}
				if err == syscall.EINTR {
					continue
				}
				if err == syscall.EAGAIN {
					break
				}
				if err != nil {
					werr = err
					break
				}
			}
			return true
		})
		if werr == nil {
			werr = err
		}
		if errors.Is(werr, syscall.EAGAIN) {
			werr = nil
		}
		return n, werr
	}
}
