package lua

import (
	"log/slog"
	"net/url"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"

	"evserver/ws"
)

// Conn is what the engine provides for each connection a script can see.
// Its methods are called on the VM's worker goroutine.
type Conn interface {
	// Send queues one message. It returns an error (never panics) when the
	// connection is closing or its queue is full.
	Send(data string, binary bool) error
	// Ping sends a ping with payload (at most 125 bytes).
	Ping(payload string) error
	// Close starts the closing handshake with code and reason.
	Close(code ws.StatusCode, reason string) error
	// Abort drops the connection at once with a TCP reset, without a
	// closing handshake.
	Abort() error
	// Info describes the connection; it does not change after the upgrade.
	Info() *ConnInfo
}

// ConnInfo holds the read-only fields of a connection as scripts see them.
type ConnInfo struct {
	ID         string
	Handler    string // the class name ("chat")
	Path       string
	Tail       string
	Query      url.Values
	Protocol   string // selected subprotocol, "" if none
	RemoteAddr string // "ip:port" of the peer
	Host       string // host the connection is for: the Host header (inbound) or the URL's host (outbound)
	Port       int    // port of that host
	IsTLS      bool
	Outbound   bool         // opened by ws.connect
	BaseLog    *slog.Logger // the server's logger; see Logger
}

// Logger returns a logger carrying the connection's conn, handler and remote
// attributes. It is built on demand rather than kept: a logger per
// connection would cost hundreds of bytes per idle connection.
func (i *ConnInfo) Logger() *slog.Logger {
	return i.BaseLog.With("conn", i.ID, "handler", i.Handler, "remote", i.RemoteAddr)
}

// connRef is the Go value behind a conn userdata.
type connRef struct {
	c     Conn
	query *glua.LTable // built on first access
}

func (vm *VM) newConnMeta() *glua.LTable {
	L := vm.L
	methods := map[string]glua.LValue{
		"send":    L.NewFunction(connSend),
		"close":   L.NewFunction(connClose),
		"ping":    L.NewFunction(connPing),
		"receive": L.NewFunction(vm.connReceive),
		"abort":   L.NewFunction(connAbort),
	}
	meta := L.NewTable()
	meta.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		ref := checkConn(L)
		key := L.CheckString(2)
		if m, ok := methods[key]; ok {
			L.Push(m)
			return 1
		}
		L.Push(vm.connField(ref, key))
		return 1
	}))
	meta.RawSetString("__newindex", L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("conn.%s is read-only (keep per-connection state in the handler instance, self)", L.CheckString(2))
		return 0
	}))
	meta.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString("conn " + checkConn(L).c.Info().ID))
		return 1
	}))
	meta.RawSetString("__metatable", glua.LString("conn"))
	return meta
}

func (vm *VM) connField(ref *connRef, key string) glua.LValue {
	info := ref.c.Info()
	switch key {
	case "id":
		return glua.LString(info.ID)
	case "handler":
		return glua.LString(info.Handler)
	case "path":
		return glua.LString(info.Path)
	case "tail":
		return glua.LString(info.Tail)
	case "query":
		if ref.query == nil {
			ref.query = queryTable(vm.L, info.Query)
		}
		return ref.query
	case "protocol":
		return glua.LString(info.Protocol)
	case "remote_addr":
		return glua.LString(info.RemoteAddr)
	case "host":
		return glua.LString(info.Host)
	case "port":
		return glua.LNumber(info.Port)
	case "is_tls":
		return glua.LBool(info.IsTLS)
	}
	return glua.LNil
}

// newConn wraps c for scripts.
func (vm *VM) newConn(c Conn) *glua.LUserData {
	ud := vm.L.NewUserData()
	ud.Value = &connRef{c: c}
	ud.Metatable = vm.connMeta
	return ud
}

func checkConn(L *glua.LState) *connRef {
	if ud, ok := L.Get(1).(*glua.LUserData); ok {
		if ref, ok := ud.Value.(*connRef); ok {
			return ref
		}
	}
	L.ArgError(1, "conn expected (call it as conn:method(...))")
	return nil
}

// pushResult pushes true, or nil and the error's text.
func pushResult(L *glua.LState, err error) int {
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(glua.LTrue)
	return 1
}

// conn:send(data [, kind]) → true | nil, err
func connSend(L *glua.LState) int {
	ref := checkConn(L)
	data := L.CheckString(2)
	binary := false
	switch kind := L.OptString(3, "text"); kind {
	case "text":
		if !utf8.ValidString(data) {
			L.RaiseError("conn:send: text message is not valid UTF-8 (send it with kind \"binary\")")
		}
	case "binary":
		binary = true
	default:
		L.ArgError(3, `kind must be "text" or "binary"`)
	}
	return pushResult(L, ref.c.Send(data, binary))
}

// conn:close([code [, reason]]) → true | nil, err
func connClose(L *glua.LState) int {
	ref := checkConn(L)
	code := ws.StatusCode(L.OptInt(2, int(ws.CloseNormal)))
	reason := L.OptString(3, "")
	if !ws.ValidReceivedCloseCode(code) {
		L.RaiseError("conn:close: invalid close code %d (use 1000, or 3000–4999 for your own codes)", code)
	}
	if len(reason) > ws.MaxCloseReason {
		L.RaiseError("conn:close: reason is %d bytes, at most %d fit in a close frame", len(reason), ws.MaxCloseReason)
	}
	if !utf8.ValidString(reason) {
		L.RaiseError("conn:close: reason is not valid UTF-8")
	}
	return pushResult(L, ref.c.Close(code, reason))
}

// conn:abort() → true | nil, err
func connAbort(L *glua.LState) int {
	return pushResult(L, checkConn(L).c.Abort())
}

// conn:ping([payload]) → true | nil, err
func connPing(L *glua.LState) int {
	ref := checkConn(L)
	payload := L.OptString(2, "")
	if len(payload) > ws.MaxControlPayload {
		L.RaiseError("conn:ping: payload is %d bytes, at most %d are allowed", len(payload), ws.MaxControlPayload)
	}
	return pushResult(L, ref.c.Ping(payload))
}

// queryTable maps each query parameter to its first value.
func queryTable(L *glua.LState, q url.Values) *glua.LTable {
	t := L.CreateTable(0, len(q))
	for k, v := range q {
		if len(v) > 0 {
			t.RawSetString(k, glua.LString(v[0]))
		}
	}
	return t
}
