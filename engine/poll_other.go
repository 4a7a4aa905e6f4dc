//go:build !linux

package engine

import (
	"errors"
	"net"
)

// pollSupported reports whether readiness-based reads are available: not on
// this platform, where every connection has a reader goroutine.
const pollSupported = false

type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("readiness-based reads need Linux") }

func (p *poller) wake()             {}
func (w *worker) runPolled()        {}
func (w *worker) adopt(net.Conn)    {}
func (c *conn) closeFD()            {}
func (w *worker) closePolled()      {}
func (w *worker) closeHandshaking() {}
