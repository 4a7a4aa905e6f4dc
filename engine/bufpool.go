package engine

// bufPool lends a worker's connections the buffers of large messages
// (ws.Reader.Buffers): a message over 64 KiB then costs no allocation and no
// zeroing, and only the few buffers in use at once exist. It belongs to the
// worker goroutine (the epoll path reads there).
type bufPool struct {
	free [][]byte
}

// maxPooled bounds the buffers kept; more are needed only while that many
// connections are receiving large messages at once.
const maxPooled = 8

func (p *bufPool) Get(n int) []byte {
	for i := len(p.free) - 1; i >= 0; i-- {
		if b := p.free[i]; cap(b) >= n {
			p.free[i] = p.free[len(p.free)-1]
			p.free[len(p.free)-1] = nil
			p.free = p.free[:len(p.free)-1]
			return b[:0]
		}
	}
	return make([]byte, 0, n)
}

func (p *bufPool) Put(b []byte) {
	if len(p.free) < maxPooled {
		p.free = append(p.free, b)
	}
}
