// Package ws is evserver's RFC 6455 layer, built on github.com/gobwas/ws.
//
// It parses and validates the opening handshake (handshake.go), parses frames
// incrementally from whatever bytes have arrived (reader.go), reassembles
// fragmented messages with fail-fast UTF-8 validation (utf8.go), validates
// close frames (close.go) and encodes frames (writer.go).
//
// The package never starts goroutines and never touches a socket: callers feed
// it bytes and write the bytes it returns. That lets the engine drive it from an
// event loop (readiness-based reads) or from a goroutine per connection alike.
//
// It closes gaps of gobwas/ws that matter for a strict server: UTF-8 is
// checked as soon as bytes arrive, also across fragment boundaries; close codes
// are validated against the IANA registry (1012–1014 accepted, ≥ 5000
// refused); Sec-WebSocket-Key must be base64 of exactly 16 bytes; messages have
// a size limit that is enforced before the payload is buffered.
package ws
