package engine

import (
	"time"

	"evserver/ws"
)

// sweepInterval is how often workers check their connections for idleness
// and dead peers: often enough to honour the shortest timeout within a
// quarter of it, never more than once every 10ms. 0: nothing to check.
func (s *Server) sweepInterval() time.Duration {
	var d time.Duration
	for _, t := range []time.Duration{s.cfg.IdleTimeout, s.cfg.PingInterval, s.cfg.PongTimeout} {
		if t > 0 && (d == 0 || t < d) {
			d = t
		}
	}
	if s.cfg.IdleTimeout <= 0 && s.cfg.PingInterval <= 0 {
		return 0
	}
	return max(d/4, 10*time.Millisecond)
}

// sweepTicker posts a sweep to the worker every interval, until it stops.
func (w *worker) sweepTicker(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.post(event{kind: evFunc, fn: w.sweep})
		}
	}
}

// sweep applies the idle timeout and the heartbeat to every open connection
// of the worker. One pass over the worker's connections replaces a timer
// per connection.
func (w *worker) sweep() {
	cfg := &w.srv.cfg
	now := time.Now().UnixNano()
	for c := range w.conns {
		if c.closeSent || c.finished {
			continue
		}
		quiet := time.Duration(now - c.lastRead.Load())
		switch {
		case cfg.IdleTimeout > 0 && quiet >= cfg.IdleTimeout:
			c.logger().Info("closing an idle connection", "quiet", quiet.Round(time.Millisecond))
			c.sendClose(ws.CloseGoingAway, "idle timeout")
		case cfg.PingInterval <= 0:
		case c.pingSent != 0 && c.lastRead.Load() < c.pingSent && time.Duration(now-c.pingSent) >= cfg.PongTimeout:
			c.logger().Info("dropping a dead peer: no pong", "waited", time.Duration(now-c.pingSent).Round(time.Millisecond))
			c.closeSent = true
			c.closeCode, c.closeReason = ws.CloseAbnormal, "pong timeout"
			c.hardClose()
			c.finish(c.closeCode, c.closeReason)
		case c.pingSent != 0 && c.lastRead.Load() < c.pingSent:
			// Waiting for the pong.
		case quiet >= cfg.PingInterval:
			c.pingSent = now
			w.frame = c.encode(w.frame[:0], ws.OpPing, nil)
			c.out.write(w.frame)
		default:
			c.pingSent = 0
		}
	}
}
