// Command evserver serves WebSocket connections to Lua handlers.
//
//	evserver [flags]               serve the handlers directory
//	evserver check [-handlers DIR] load every handler and report problems
//	evserver connect URL [-H "Name: value"]... [-protocol P]
//	                               an interactive client (stdin lines → text messages)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"evserver/engine"
	"evserver/lua"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return check(args[1:], stdout, stderr)
		case "connect":
			return connect(args[1:], os.Stdin, stdout, stderr)
		}
	}
	return serve(args, stderr)
}

// serveFlags binds the server's flags to cfg.
func serveFlags(fs *flag.FlagSet, cfg *engine.Config, logFormat, logLevel *string, shutdown *time.Duration) {
	fs.StringVar(&cfg.Addr, "addr", engine.DefaultAddr, "TCP address to listen on")
	fs.StringVar(&cfg.HandlersDir, "handlers", engine.DefaultHandlersDir, "directory of Lua handlers")
	fs.StringVar(&cfg.StaticDir, "static", "", "directory of files served to plain HTTP GET requests")
	fs.IntVar(&cfg.Workers, "workers", 0, "event loops, each with its own Lua VM (0 = number of CPUs)")
	fs.IntVar(&cfg.MaxConnections, "max-connections", 0, "open WebSocket connections allowed (0 = unlimited); over it: 503")
	fs.IntVar(&cfg.MaxConnectionsPerIP, "max-connections-per-ip", 0, "open WebSocket connections allowed from one client address (0 = unlimited); over it: 503")
	fs.Func("origins", "comma-separated browser origins allowed (e.g. https://app.example.com); others with an Origin header get 403", func(v string) error {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.Origins = append(cfg.Origins, o)
			}
		}
		return nil
	})
	fs.Int64Var(&cfg.MaxMessageSize, "max-message-size", engine.DefaultMaxMessageSize, "largest message in bytes (-1 = unlimited); over it: close 1009")
	fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", engine.DefaultMaxHeaderBytes, "largest request head in bytes; over it: 431")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", engine.DefaultHandshakeTimeout, "time allowed to send the request head")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "close a connection with 1001 after this long without a frame from its peer (0 = never)")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", engine.DefaultPingInterval, "ping a connection quiet for this long (-1ns = no heartbeats)")
	fs.DurationVar(&cfg.PongTimeout, "pong-timeout", engine.DefaultPongTimeout, "drop a connection that sends nothing for this long after a heartbeat ping")
	fs.IntVar(&cfg.MaxQueueBytes, "max-queue-bytes", engine.DefaultMaxQueueBytes, "bytes queued for a client that does not read before it is dropped")
	fs.DurationVar(&cfg.LuaBudget, "lua-budget", engine.DefaultLuaBudget, "longest a Lua event may run between waits (-1ns = no bound); past it: stopped, close 1011")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "PEM certificate (chain) file: serve wss (TLS 1.2 minimum); needs -tls-key")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key file of -tls-cert")
	fs.StringVar(&cfg.JWTSecretFile, "jwt-secret-file", "", "file holding the HS256 secret for classes with authenticate = \"jwt\"")
	fs.StringVar(&cfg.JWTPublicKeyFile, "jwt-public-key", "", "PEM RS256/ES256 public key for classes with authenticate = \"jwt\"")
	fs.StringVar(&cfg.HtpasswdFile, "htpasswd", "", "user:bcrypt-hash file for classes with authenticate = \"basic\"")
	fs.BoolVar(&cfg.UnsafeLua, "unsafe-lua", false, "give handlers Lua's whole standard library (io, os.execute, debug): trusted handlers only")
	fs.StringVar(&cfg.IO, "io", "", "how connections are read: epoll (Linux default) or goroutine")
	fs.DurationVar(&cfg.IdleRelease, "idle-release", engine.DefaultIdleRelease, "after a burst of connections, return free memory to the OS once none arrived for this long (-1ns = never)")
	fs.StringVar(logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(shutdown, "shutdown-timeout", 10*time.Second, "time allowed for connections to close on SIGTERM/SIGINT")
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("evserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg engine.Config
	var logFormat, logLevel string
	var shutdownTimeout time.Duration
	serveFlags(fs, &cfg, &logFormat, &logLevel, &shutdownTimeout)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "evserver:", err)
		return 2
	}
	cfg.Logger = log
	srv, err := engine.New(cfg)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { // ends the process's serving; lives as long as main
		sig := <-sigs
		log.Info("shutting down", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("shutdown timed out; remaining connections were dropped", "error", err)
		}
	}()
	log.Info("listening", "addr", cfg.Addr, "handlers", cfg.HandlersDir)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, engine.ErrServerClosed) {
		log.Error("server stopped", "error", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format must be text or json, not %q", format)
}

// check loads every handler of a directory and prints each problem as
// file:line: message. It exits 1 if there is any.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evserver check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("handlers", engine.DefaultHandlersDir, "directory of Lua handlers")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	set, err := lua.Load(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "evserver check:", err)
		return 1
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	infos, problems := lua.Inspect(set, quiet, engine.DefaultLuaBudget, false)
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	if len(problems) > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "%d handlers OK\n", len(infos))
	return 0
}
