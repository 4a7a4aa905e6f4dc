// Command gobwas is the reference peer of evbench: a plain Go WebSocket echo server on gobwas/ws, one goroutine
// per connection, no Lua and no event loop. evserver's figures are read as ratios to this one.
//
//	go run ./cmd/evbench/peers/gobwas -addr 127.0.0.1:8090 [-read-buffer 4096]
//
// Every message goes back with its own opcode (text as text, binary as binary); pings are answered and a
// client's close is echoed (wsutil's control handler). SIGINT/SIGTERM stop it: the listener closes, open
// connections are closed, and it exits once every connection goroutine has returned.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// handshakeTimeout bounds how long a client may take to send its upgrade request, so that a half-open
// connection cannot hold a goroutine forever (evserver's -handshake-timeout default).
const handshakeTimeout = 10 * time.Second

type server struct {
	readBuffer int
	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	done       bool
	wg         sync.WaitGroup
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "TCP address to listen on")
	readBuffer := flag.Int("read-buffer", 4096,
		"bytes of the bufio.Reader per connection; 0 reads frames straight from the socket (gobwas's README example)")
	flag.Parse()
	if err := serve(*addr, *readBuffer); err != nil {
		log.Fatal(err)
	}
}

func serve(addr string, readBuffer int) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-sigs
		ln.Close()
	}()

	s := &server{readBuffer: readBuffer, conns: map[net.Conn]struct{}{}}
	var acceptErr error
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors: wait for some connections to end rather than spin or die.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			acceptErr = fmt.Errorf("accept: %w", err)
			ln.Close()
			break
		}
		if !s.track(c) {
			c.Close()
			break
		}
		s.wg.Add(1)
		go s.handle(c)
	}
	s.closeAll()
	s.wg.Wait()
	signal.Stop(sigs)
	if acceptErr == nil {
		<-stopped
	}
	return acceptErr
}

func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
}

func (s *server) handle(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	if err := c.SetReadDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return
	}
	if _, err := ws.Upgrade(c); err != nil {
		return
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return
	}
	// A buffered reader turns the frame header and payload reads into one syscall per message instead of
	// two or three, at the price of its buffer per connection. Writes go straight to the socket.
	var rw io.ReadWriter = c
	if s.readBuffer > 0 {
		rw = struct {
			io.Reader
			io.Writer
		}{bufio.NewReaderSize(c, s.readBuffer), c}
	}
	for {
		data, op, err := wsutil.ReadClientData(rw)
		if err != nil {
			// wsutil.ClosedError: the client's close was already echoed; anything else ends the connection.
			return
		}
		if err := wsutil.WriteServerMessage(c, op, data); err != nil {
			return
		}
	}
}
