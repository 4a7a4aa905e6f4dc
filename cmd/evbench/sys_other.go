//go:build !linux

package main

import (
	"errors"
	"net"
	"syscall"
)

// The idle mode's resource accounting reads /proc and uses Linux socket options; elsewhere evbench runs the
// echo and handshake modes, and dials without IP_BIND_ADDRESS_NO_PORT.

// raiseNoFile reports 0: the limit is unknown here and left as it is.
func raiseNoFile() (uint64, error) { return 0, nil }

func controlNoPort(network, address string, c syscall.RawConn) error { return nil }

func rssTree(pid int) (int64, error) { return 0, errors.New("RSS is read from /proc: Linux only") }

func peerClosed(c net.Conn) (bool, error) { return false, nil }

func cpuTimes() (busy, total uint64, err error) {
	return 0, 0, errors.New("CPU times are read from /proc: Linux only")
}
