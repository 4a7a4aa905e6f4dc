package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h (not in package syscall). With it, binding a
// source address does not pick the local port at bind time but at connect time, from the whole 4-tuple: the
// same port can then serve several destinations, and ports in TIME_WAIT are reused under net.ipv4.tcp_tw_reuse.
// Without it every bound socket holds a port of its source address for itself, and the handshake mode runs
// out of ports within seconds.
const ipBindAddressNoPort = 24

// raiseNoFile lifts this process's soft open-file limit to the hard limit: the idle mode holds one descriptor
// per connection. It returns the limit in force afterwards.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("setrlimit NOFILE to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// controlNoPort is a net.Dialer Control function that sets IP_BIND_ADDRESS_NO_PORT (see above).
func controlNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return fmt.Errorf("raw control: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("setsockopt IP_BIND_ADDRESS_NO_PORT: %w", serr)
	}
	return nil
}

// rssTree sums VmRSS (KiB) over pid and all its descendants: nginx holds its connections in worker processes,
// children of the master whose pid the caller knows.
func rssTree(pid int) (int64, error) {
	pids := append([]int{pid}, descendants(pid)...)
	var total int64
	for i, p := range pids {
		kib, err := vmRSS(p)
		if err != nil {
			if i == 0 {
				return 0, err
			}
			continue // a child that exited between the scan and the read holds no memory any more
		}
		total += kib
	}
	return total, nil
}

func vmRSS(pid int) (int64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) < 1 {
			break
		}
		kib, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS of pid %d: %w", pid, err)
		}
		return kib, nil
	}
	return 0, fmt.Errorf("pid %d: no VmRSS in /proc/%d/status (a zombie or a kernel thread?)", pid, pid)
}

// descendants lists every process under pid, found by reading the parent of each process in /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name (field 2) may contain spaces and parentheses: the fields after it start after the
		// last ')'. Field 4 is the parent pid.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(stat[i+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(string(fields[1]))
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// cpuTimes reads the machine-wide busy and total jiffies from the first line of /proc/stat.
func cpuTimes() (busy, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0, 0, errors.New("unexpected /proc/stat format")
	}
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse /proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 { // idle and iowait
			busy += v
		}
	}
	return busy, total, nil
}

// peerClosed tells, without blocking and without consuming anything, whether the server has closed (or reset)
// this connection: a peek that finds no data means the socket is open and quiet. A connection that has data
// waiting counts as open.
func peerClosed(c net.Conn) (bool, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, errors.New("connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("syscall conn: %w", err)
	}
	var closed bool
	var buf [1]byte
	cerr := raw.Control(func(fd uintptr) {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == syscall.EAGAIN:
			closed = false
		case rerr != nil:
			closed = true // ECONNRESET and friends
		default:
			closed = n == 0
		}
	})
	if cerr != nil {
		return false, fmt.Errorf("raw control: %w", cerr)
	}
	return closed, nil
}
