//go:build !unix

package engine

import "net"

// rawWriter has no non-blocking path off Unix: every write goes through the
// outbox's flusher goroutine.
type rawWriter struct{}

func (w *rawWriter) init(net.Conn)                {}
func (w *rawWriter) ok() bool                     { return false }
func (w *rawWriter) tryWrite([]byte) (int, error) { return 0, nil }
