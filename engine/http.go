package engine

import (
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"evserver/lua"
	"evserver/ws"
)

// servePlain answers a request that is not a WebSocket upgrade: a file of
// StaticDir, else the class's http(req), else 404 "WebSocket upgrade failed".
// Each response closes the connection.
func (s *Server) servePlain(hs *handshake) {
	nc := hs.nc
	resp := make(chan []byte, 1)
	if !s.plainResponse(hs, s.pickWorker(), func(b []byte) { resp <- b }) {
		s.refuse(nc, errShuttingDown)
		return
	}
	nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	nc.Write(<-resp)
	lingerClose(nc, s.cfg.CloseTimeout)
}

// plainResponse computes the response to a plain HTTP request and hands it
// to respond: at once, or from worker w once http(req) has run. It reports
// false if w no longer takes events.
func (s *Server) plainResponse(hs *handshake, w *worker, respond func([]byte)) bool {
	switch {
	case s.staticFile(hs.req) != "":
		respond(s.staticResponse(hs.req))
	case hs.route != nil && hs.route.info.HasHTTP && hs.route.broken == "":
		hs.respond = respond
		return w.post(event{kind: evHTTP, hs: hs})
	default:
		respond(ws.AppendRefusal(nil, errNotUpgrade))
	}
	return true
}

// staticFile returns the file of StaticDir that req asks for, or "".
// path.Clean of a rooted path cannot climb above the root.
func (s *Server) staticFile(req *ws.Request) string {
	if s.cfg.StaticDir == "" || (req.Method != "GET" && req.Method != "HEAD") {
		return ""
	}
	name := filepath.Join(s.cfg.StaticDir, filepath.FromSlash(path.Clean("/"+req.Path)))
	fi, err := os.Stat(name)
	if err == nil && fi.IsDir() {
		name = filepath.Join(name, "index.html")
		fi, err = os.Stat(name)
	}
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return name
}

func (s *Server) staticResponse(req *ws.Request) []byte {
	name := s.staticFile(req)
	body, err := os.ReadFile(name)
	if err != nil {
		s.log.Error("static file unreadable", "file", name, "error", err)
		return ws.AppendRefusal(nil, &ws.HandshakeError{Status: 500, Reason: "file unreadable"})
	}
	ctype := mime.TypeByExtension(filepath.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return ws.AppendResponse(nil, 200, ctype, body, nil, req.Method == "HEAD")
}

// serveHTTP runs the class's http(req) on the worker and hands the response
// bytes back to the connection's goroutine.
func (w *worker) serveHTTP(hs *handshake) {
	log := w.log.With("handler", hs.route.name, "remote", hs.nc.RemoteAddr().String())
	class, err := w.vm.Class(hs.route.name)
	if err != nil {
		log.Error("handler failed to load", "error", err)
		hs.respond(ws.AppendRefusal(nil, errHandlerFailed))
		return
	}
	w.vm.HTTP(class, luaRequest(hs), log, func(res lua.HTTPResult, err error) {
		if err != nil {
			log.Error("http failed", "error", err)
			hs.respond(ws.AppendRefusal(nil, errHandlerFailed))
			return
		}
		ctype := "text/plain; charset=utf-8"
		var header []ws.HeaderField
		for _, f := range res.Header {
			if strings.EqualFold(f.Name, "content-type") {
				ctype = f.Value
				continue
			}
			header = append(header, f)
		}
		hs.respond(ws.AppendResponse(nil, res.Status, ctype, []byte(res.Body), header, hs.req.Method == "HEAD"))
	})
}
