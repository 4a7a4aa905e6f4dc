package engine

import (
	"log/slog"
	"runtime"
	"time"
)

// Defaults, applied in one place (withDefaults) so that a zero Config is valid.
const (
	DefaultAddr             = ":8080"
	DefaultHandlersDir      = "handlers"
	DefaultMaxMessageSize   = 1 << 20
	DefaultMaxHeaderBytes   = 8 << 10
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultMaxQueueBytes    = 1 << 20
	DefaultWriteTimeout     = 30 * time.Second
	DefaultLuaBudget        = time.Second
	DefaultIdleRelease      = 2 * time.Second
	DefaultPingInterval     = 30 * time.Second
	DefaultPongTimeout      = 10 * time.Second
)

// Config holds every setting of a Server. The zero value is valid: each zero
// field takes the default documented on it.
type Config struct {
	// Addr is the TCP address to listen on (ListenAndServe). Default ":8080".
	Addr string
	// HandlersDir is the directory of handler scripts. Default "handlers".
	HandlersDir string
	// StaticDir, if set, serves files to plain HTTP GET and HEAD requests.
	StaticDir string
	// Workers is the number of event loops, each with its own Lua VM.
	// Default (0): the number of CPUs.
	Workers int
	// MaxConnections bounds open WebSocket connections; over it the upgrade
	// is refused with 503. 0 means unlimited.
	MaxConnections int
	// MaxConnectionsPerIP bounds open WebSocket connections from one client
	// address; over it the upgrade is refused with 503. 0 means unlimited.
	MaxConnectionsPerIP int
	// Origins lists the browser origins ("https://app.example.com") allowed
	// to open WebSocket connections; a request whose Origin header is present
	// and not listed is refused with 403. Requests without Origin (programs,
	// not browsers) pass. "*" allows any. Empty: no check. A class's own
	// origins option replaces this list for its path.
	Origins []string
	// MaxMessageSize bounds a whole message in bytes (the sum of its
	// fragments); over it the connection is closed with 1009. Default (0):
	// 1 MiB; -1 means unlimited.
	MaxMessageSize int64
	// MaxHeaderBytes bounds the request head in bytes; over it the request is
	// answered with 431. Default (0): 8 KiB.
	MaxHeaderBytes int
	// HandshakeTimeout bounds the time a client takes to send its request
	// head. Default (0): 10s; -1 means no limit.
	HandshakeTimeout time.Duration
	// CloseTimeout is how long the server waits for the peer's close frame
	// (and for the TCP connection to end) after sending its own. Default (0): 5s.
	CloseTimeout time.Duration
	// IdleTimeout closes a connection with 1001 when no frame arrived from
	// its peer for this long (pongs count). 0 means never.
	IdleTimeout time.Duration
	// PingInterval: a connection quiet for this long gets a ping; if
	// nothing (the pong included) arrives within PongTimeout after it, the
	// peer is taken for dead and the connection dropped (on_close: 1006,
	// "pong timeout"). Defaults (0): 30s and 10s; -1 disables heartbeats.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// MaxQueueBytes bounds the bytes waiting for a connection's socket to
	// become writable; a client that reads too slowly to stay under it is
	// closed (1008). Default (0): 1 MiB.
	MaxQueueBytes int
	// WriteTimeout bounds a blocked write to a connection's socket; a write
	// stuck longer closes the connection. Default (0): 30s.
	WriteTimeout time.Duration
	// LuaBudget bounds how long one Lua event (accept, new, on_open,
	// on_message, on_close, a timer callback, a module load) may run between
	// waits; past it the event is stopped, logged with file:line, and its
	// connection closed with 1011 (500 during the handshake). Default (0):
	// 1s; -1 means no bound.
	LuaBudget time.Duration
	// JWTSecretFile holds the HS256 secret, JWTPublicKeyFile the RS256 or
	// ES256 public key (PEM), for classes with authenticate = "jwt".
	JWTSecretFile, JWTPublicKeyFile string
	// HtpasswdFile lists user:bcrypt-hash lines for classes with
	// authenticate = "basic".
	HtpasswdFile string
	// UnsafeLua gives handlers Lua's whole standard library (io, os.execute,
	// debug, ...) instead of the sandbox. Only for trusted handlers; the
	// server logs a warning when it is on.
	UnsafeLua bool
	// IO chooses how connections are read: "epoll" (readiness-based reads
	// on the worker, no goroutine or buffer per idle connection; Linux) or
	// "goroutine" (a reader goroutine per connection; any platform). TLS
	// and outbound connections always use goroutines. Default: "epoll"
	// where supported.
	IO string
	// IdleRelease: when connections stop arriving for this long after a burst,
	// the server collects garbage and returns free memory to the OS, so that
	// the resident size of a server holding idle connections reflects what
	// they use rather than what their handshakes left behind (Go's own
	// periodic collection comes only every two minutes). Default (0): 2s;
	// -1 disables it.
	IdleRelease time.Duration
	// TLSCertFile and TLSKeyFile, when both set, make ListenAndServe serve
	// wss (TLS 1.2 or later, Go's default cipher suites). TLS connections
	// are read by a goroutine each (crypto/tls needs blocking reads).
	TLSCertFile, TLSKeyFile string
	// Logger receives the server's structured log. Default: slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.HandlersDir == "" {
		c.HandlersDir = DefaultHandlersDir
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	switch {
	case c.MaxMessageSize == 0:
		c.MaxMessageSize = DefaultMaxMessageSize
	case c.MaxMessageSize < 0:
		c.MaxMessageSize = 0 // ws.Reader: no limit
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	switch {
	case c.LuaBudget == 0:
		c.LuaBudget = DefaultLuaBudget
	case c.LuaBudget < 0:
		c.LuaBudget = 0 // lua: no bound
	}
	switch {
	case c.PingInterval == 0:
		c.PingInterval = DefaultPingInterval
	case c.PingInterval < 0:
		c.PingInterval = 0
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.IdleTimeout < 0 {
		c.IdleTimeout = 0
	}
	if c.IdleRelease == 0 {
		c.IdleRelease = DefaultIdleRelease
	}
	if c.IO == "" {
		c.IO = "goroutine"
		if pollSupported {
			c.IO = "epoll"
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
