package engine

import (
	"log/slog"
	"net"
	"sync"

	"evserver/lua"
	"evserver/ws"
)

// evKind says what an event on a worker's mailbox is.
type evKind uint8

const (
	evUpgrade evKind = iota // a validated handshake waiting for accept/new
	evHTTP                  // a plain HTTP request for a class's http(req)
	evMessage               // a whole message; the reader waits on c.ack
	evClose                 // the peer's close frame
	evFail                  // a protocol error: fail the connection
	evEnd                   // the transport ended (EOF, error, timeout)
	evFunc                  // run fn on the worker
	evAdopt                 // an accepted connection for the worker's epoll set
	evPing                  // a ping that waited behind pending messages
)

// event is one entry of a worker's mailbox or a connection's pending queue.
type event struct {
	kind   evKind
	c      *conn
	data   []byte
	binary bool
	code   ws.StatusCode
	reason string
	perr   *ws.ProtocolError
	acked  bool // evMessage: the reader was released and data is a private copy
	hs     *handshake
	fn     func()
	nc     net.Conn // evAdopt
}

// worker is an event loop that owns one Lua VM and the connections pinned
// to it. Everything that touches the VM or a connection's Lua-side state runs
// on its goroutine; other goroutines post events to its mailbox.
type worker struct {
	id  int
	srv *Server
	vm  *lua.VM
	log *slog.Logger

	mu     sync.Mutex
	inbox  []event
	wake   chan struct{}
	closed bool

	conns map[*conn]struct{} // open WebSocket connections; owned by the worker goroutine
	// upgrading holds handshakes whose accept or new has not answered yet,
	// with the function that refuses each (shutdown uses it).
	upgrading map[*handshake]func(*ws.HandshakeError)
	done      chan struct{} // closed when the loop has exited
	poller    *poller       // nil: connections have reader goroutines
	batch     []event       // the mailbox events being handled
	frame     []byte        // scratch for frames the worker writes
	bufs      bufPool       // large message buffers for polled connections
	now       int64         // unix nanoseconds when the epoll loop last woke
}

func newWorker(id int, srv *Server) (*worker, error) {
	log := srv.log.With("worker", id)
	w := &worker{
		id: id, srv: srv, log: log,
		wake: make(chan struct{}, 1), conns: map[*conn]struct{}{}, done: make(chan struct{}),
		upgrading: map[*handshake]func(*ws.HandshakeError){},
	}
	vm, err := lua.NewVM(srv.set, lua.Options{Logger: log, Host: w, Budget: srv.cfg.LuaBudget, Unsafe: srv.cfg.UnsafeLua})
	if err != nil {
		return nil, err
	}
	w.vm = vm
	if srv.polled {
		if w.poller, err = newPoller(); err != nil {
			vm.Close()
			return nil, err
		}
	}
	return w, nil
}

// post queues ev for the worker. It reports false once the worker stopped.
func (w *worker) post(ev event) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.inbox = append(w.inbox, ev)
	w.mu.Unlock()
	w.signal()
	return true
}

// signal wakes the worker's loop.
func (w *worker) signal() {
	if w.poller != nil {
		w.poller.wake()
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run is the worker's loop; it returns after stop, once the mailbox is empty.
func (w *worker) run() {
	defer close(w.done)
	defer w.vm.Close()
	if every := w.srv.sweepInterval(); every > 0 {
		go w.sweepTicker(every) // ends when done closes
	}
	if w.poller != nil {
		w.runPolled()
		return
	}
	for range w.wake {
		if w.drainMailbox() {
			return
		}
	}
}

// drainMailbox handles the events posted so far. It reports true when the
// worker was stopped and nothing is left to handle.
func (w *worker) drainMailbox() bool {
	w.mu.Lock()
	batch := w.inbox
	w.inbox = w.batch[:0]
	closed := w.closed
	w.mu.Unlock()
	for i := range batch {
		w.handle(batch[i])
		batch[i] = event{}
	}
	w.batch = batch
	if !closed {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inbox) == 0
}

// stop makes run return once the events already posted are handled.
func (w *worker) stop() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.signal()
}

func (w *worker) handle(ev event) {
	switch ev.kind {
	case evUpgrade:
		w.upgrade(ev.c, ev.hs)
	case evHTTP:
		w.serveHTTP(ev.hs)
	case evFunc:
		ev.fn()
	case evAdopt:
		w.adopt(ev.nc)
	default:
		ev.c.deliver(ev)
	}
}
