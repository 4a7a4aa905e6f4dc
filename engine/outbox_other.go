//go:build !unix

package engine

import "net"

// nonblockingWriter has no non-blocking path off Unix: every write goes
// through the outbox's flusher goroutine.
func nonblockingWriter(net.Conn) func([]byte) (int, error) { return nil }
