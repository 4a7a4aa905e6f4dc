package engine

import (
	"net"
	"strings"

	"evserver/ws"
)

var (
	errOrigin  = &ws.HandshakeError{Status: 403, Reason: "origin not allowed"}
	errIPLimit = &ws.HandshakeError{Status: 503, Reason: "too many connections from this address"}
)

// admit applies the origin policy and counts a connection against the
// global, per-handler and per-address limits. Every admitted connection is
// released exactly once (release).
func (s *Server) admit(rt *route, req *ws.Request, nc net.Conn) *ws.HandshakeError {
	if s.stopping.Load() {
		return errShuttingDown
	}
	if origin, ok := req.Header["origin"]; ok && !s.originAllowed(rt, origin) {
		s.log.Info("connection refused: origin not allowed", "handler", rt.name, "origin", origin, "remote", nc.RemoteAddr().String())
		return errOrigin
	}
	if n := s.total.Add(1); s.cfg.MaxConnections > 0 && n > int64(s.cfg.MaxConnections) {
		s.total.Add(-1)
		s.log.Warn("connection refused: server connection limit reached", "limit", s.cfg.MaxConnections)
		return errLimit
	}
	h := s.perHandler[rt.name]
	if n := h.Add(1); rt.info.MaxConnections > 0 && n > int64(rt.info.MaxConnections) {
		h.Add(-1)
		s.total.Add(-1)
		s.log.Warn("connection refused: handler connection limit reached", "handler", rt.name, "limit", rt.info.MaxConnections)
		return errLimit
	}
	if s.cfg.MaxConnectionsPerIP > 0 {
		ip := clientIP(nc)
		s.ipMu.Lock()
		over := s.perIP[ip] >= s.cfg.MaxConnectionsPerIP
		if !over {
			s.perIP[ip]++
		}
		s.ipMu.Unlock()
		if over {
			h.Add(-1)
			s.total.Add(-1)
			s.log.Warn("connection refused: address connection limit reached", "remote", ip, "limit", s.cfg.MaxConnectionsPerIP)
			return errIPLimit
		}
	}
	return nil
}

// release undoes admit.
func (s *Server) release(rt *route, nc net.Conn) {
	s.perHandler[rt.name].Add(-1)
	s.total.Add(-1)
	if s.cfg.MaxConnectionsPerIP > 0 {
		ip := clientIP(nc)
		s.ipMu.Lock()
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
		s.ipMu.Unlock()
	}
}

// originAllowed checks an Origin header against the class's origins, or
// the server's when the class has none. Origins compare case-insensitively
// (RFC 6454: scheme and host are case-insensitive).
func (s *Server) originAllowed(rt *route, origin string) bool {
	list := s.cfg.Origins
	if rt.info.Origins != nil {
		list = rt.info.Origins
	}
	if len(list) == 0 {
		return true
	}
	for _, o := range list {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func clientIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	return host
}
