// Package engine runs evserver: listeners, the handshake, workers (event
// loops that each own one Lua VM and the connections pinned to them),
// connection limits and shutdown. It asks ws/ about the protocol and lua/
// about scripts; see INVARIANTS.md at the repository root.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"evserver/lua"
	"evserver/ws"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("engine: server closed")

// Server serves WebSocket connections to the Lua handlers of a directory.
type Server struct {
	cfg    Config
	log    *slog.Logger
	set    *lua.Set
	router *router

	workers []*worker
	next    atomic.Uint32 // round-robin worker choice
	nextID  atomic.Uint64 // engine-made connection ids
	arrived atomic.Uint64 // connections accepted or dialed, for releaseWhenIdle

	total      atomic.Int64             // open connections
	perHandler map[string]*atomic.Int64 // open connections per handler (read-only map)
	ipMu       sync.Mutex
	perIP      map[string]int // open connections per client address, when limited

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	raw       map[net.Conn]bool // every open socket, until it ends; true: polled (only its worker closes it)
	stopping  atomic.Bool
	connWG    sync.WaitGroup // connection goroutines
	stopOnce  sync.Once
	polled    bool // plain TCP connections are read by the workers' epoll loops
	auth      *authenticator
	ctx       context.Context // ends at Close or Shutdown: bounds outbound dials
	cancel    context.CancelFunc
}

// New loads the handlers of cfg.HandlersDir and starts the workers. A
// handler that fails to load does not stop the others: its path answers 500
// and the reason is logged (Problems lists them).
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	set, err := lua.Load(cfg.HandlersDir)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	switch cfg.IO {
	case "epoll":
		if !pollSupported {
			cancel()
			return nil, errors.New("engine: IO \"epoll\" needs Linux; use \"goroutine\"")
		}
	case "goroutine":
	default:
		cancel()
		return nil, fmt.Errorf("engine: IO must be \"epoll\" or \"goroutine\", not %q", cfg.IO)
	}
	s := &Server{polled: cfg.IO == "epoll", ctx: ctx, cancel: cancel, cfg: cfg, log: cfg.Logger, set: set, perHandler: map[string]*atomic.Int64{}, perIP: map[string]int{}, listeners: map[net.Listener]struct{}{}, raw: map[net.Conn]bool{}}
	if s.auth, err = loadAuthenticator(&cfg); err != nil {
		cancel()
		return nil, fmt.Errorf("engine: %w", err)
	}
	infos, problems := lua.Inspect(set, cfg.Logger, cfg.LuaBudget, cfg.UnsafeLua)
	broken := map[string]string{}
	for _, p := range problems {
		s.log.Error("handler failed to load", "problem", p.String())
		for _, name := range set.Endpoints() {
			if sc := set.Script(name); (sc != nil && sc.File == p.File) || set.Broken[name].File == p.File {
				broken[name] = p.String()
			}
		}
	}
	var routes []*route
	seen := map[string]string{}
	for _, name := range set.Endpoints() {
		rt := &route{name: name, prefix: prefixOf(name), info: infos[name], broken: broken[name]}
		if other, dup := seen[rt.prefix]; dup {
			s.log.Warn("two handlers serve the same path; the first wins", "path", rt.prefix, "served_by", other, "ignored", name)
			continue
		}
		seen[rt.prefix] = name
		routes = append(routes, rt)
		s.perHandler[name] = new(atomic.Int64)
	}
	s.router = newRouter(routes)
	if cfg.UnsafeLua {
		s.log.Warn("unsafe Lua: handlers get the whole standard library (io, os.execute, debug); run only trusted handlers")
	}
	if cfg.IdleRelease > 0 {
		go s.releaseWhenIdle(cfg.IdleRelease) // ends with s.ctx (Close, Shutdown)
	}
	for i := range cfg.Workers {
		w, err := newWorker(i, s)
		if err != nil {
			s.stopWorkers()
			return nil, fmt.Errorf("engine: starting worker %d: %w", i, err)
		}
		s.workers = append(s.workers, w)
		go w.run() // stopped by stopWorkers
	}
	return s, nil
}

// ListenAndServe listens on cfg.Addr and serves until Shutdown or Close.
func (s *Server) ListenAndServe() error {
	var config *tls.Config
	if s.cfg.TLSCertFile != "" || s.cfg.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("engine: loading the TLS certificate: %w", err)
		}
		config = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if config != nil {
		return s.ServeTLS(ln, config)
	}
	return s.Serve(ln)
}

// ServeTLS serves wss on ln with config.
func (s *Server) ServeTLS(ln net.Listener, config *tls.Config) error {
	return s.serve(tls.NewListener(ln, config), true)
}

// Serve accepts connections on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

func (s *Server) serve(ln net.Listener, isTLS bool) error {
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() {
				return ErrServerClosed
			}
			if temporaryAcceptError(err) {
				// Out of file descriptors (or a connection reset before
				// accept): the server must survive it, as net/http does.
				// Back off, doubling from 5ms to 1s, and try again.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "error", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-s.ctx.Done():
				}
				continue
			}
			return fmt.Errorf("engine: accept: %w", err)
		}
		backoff = 0
		s.connWG.Add(1)
		s.arrived.Add(1)
		s.mu.Lock()
		s.raw[nc] = !isTLS && s.polled
		s.mu.Unlock()
		if !isTLS && s.polled {
			if !s.pickWorker().post(event{kind: evAdopt, nc: nc}) {
				nc.Close()
				s.forget(nc)
				s.connWG.Done()
			}
			continue
		}
		go s.serveConn(nc, isTLS) // ends with the connection
	}
}

func (s *Server) pickWorker() *worker {
	return s.workers[int(s.next.Add(1))%len(s.workers)]
}

func (s *Server) newConn(w *worker, nc net.Conn, rt *route) *conn {
	c := &conn{
		srv: s, w: w, nc: nc, route: rt,
		out: newOutbox(nc, s.cfg.MaxQueueBytes, s.cfg.WriteTimeout),
	}
	c.eventDone = c.onEventDone
	return c
}

// Connections reports the number of open WebSocket connections.
func (s *Server) Connections() int { return int(s.total.Load()) }

// Shutdown stops accepting, closes every connection with 1001 (going away)
// and waits until they are gone or ctx ends; then it stops the workers.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	for _, w := range s.workers {
		w.post(event{kind: evFunc, fn: w.closeAll})
	}
	done := make(chan struct{})
	go func() { // ends when every connection goroutine has
		s.connWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.abortAll()
		<-done
	}
	s.stopWorkers()
	return err
}

// Close stops at once: listeners and connections are closed without a
// closing handshake.
func (s *Server) Close() error {
	s.closeListeners()
	s.abortAll()
	s.connWG.Wait()
	s.stopWorkers()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping.Store(true)
	s.cancel()
	for ln := range s.listeners {
		ln.Close()
	}
	s.listeners = map[net.Listener]struct{}{}
}

// forget drops a connection from the set abortAll closes.
func (s *Server) forget(nc net.Conn) {
	s.mu.Lock()
	delete(s.raw, nc)
	s.mu.Unlock()
}

// abortAll closes every connection, upgraded or not. Sockets with a reader
// goroutine are closed here (the reader reports the end); polled ones only
// by their worker, which must take them out of its epoll set first.
func (s *Server) abortAll() {
	s.mu.Lock()
	for nc, polled := range s.raw {
		if !polled {
			nc.Close()
		}
	}
	s.mu.Unlock()
	for _, w := range s.workers {
		w.post(event{kind: evFunc, fn: w.refuseUpgrades})
		if s.polled {
			w.post(event{kind: evFunc, fn: w.closePolled})
		}
	}
}

func (s *Server) stopWorkers() {
	s.stopOnce.Do(func() {
		for _, w := range s.workers {
			w.stop()
			<-w.done
		}
	})
}

// closeAll starts the closing handshake of every connection with 1001 and
// drops connections still in their handshake.
func (w *worker) closeAll() {
	for c := range w.conns {
		if !c.closeSent {
			c.sendClose(ws.CloseGoingAway, "")
		}
	}
	w.refuseUpgrades()
	if w.poller != nil {
		w.closeHandshaking()
	}
}

// refuseUpgrades answers 503 to handshakes whose accept or new still waits,
// so that shutdown does not wait for them.
func (w *worker) refuseUpgrades() {
	for _, refuse := range w.upgrading {
		refuse(errShuttingDown)
	}
}

// releaseWhenIdle returns free memory to the OS once a burst of new
// connections is over: handshakes leave garbage behind, and without this the
// process keeps that memory until Go's periodic collection.
func (s *Server) releaseWhenIdle(quiet time.Duration) {
	tick := time.NewTicker(quiet)
	defer tick.Stop()
	seen, released := s.arrived.Load(), s.arrived.Load()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		now := s.arrived.Load()
		if now == seen && now != released {
			debug.FreeOSMemory()
			released = now
		}
		seen = now
	}
}

// temporaryAcceptError reports accept errors that say nothing about the
// listener: a full file table (EMFILE, ENFILE, ENOBUFS, ENOMEM), a connection
// aborted before it was accepted, a timeout.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
