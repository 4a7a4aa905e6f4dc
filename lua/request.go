package lua

import (
	"net/url"

	glua "github.com/yuin/gopher-lua"
)

// Request is an HTTP request as accept(req) and http(req) see it.
type Request struct {
	Method     string
	Path       string
	Tail       string // the path after the handler's address, no leading slash
	Query      url.Values
	Header     map[string]string // lower-case names
	Host       string
	RemoteAddr string
	Protocols  []string // offered subprotocols, in the client's order
	IsTLS      bool
}

func (vm *VM) requestTable(r *Request) *glua.LTable {
	L := vm.L
	t := L.CreateTable(0, 9)
	t.RawSetString("method", glua.LString(r.Method))
	t.RawSetString("path", glua.LString(r.Path))
	t.RawSetString("tail", glua.LString(r.Tail))
	t.RawSetString("query", queryTable(L, r.Query))
	h := L.CreateTable(0, len(r.Header))
	for k, v := range r.Header {
		h.RawSetString(k, glua.LString(v))
	}
	t.RawSetString("headers", h)
	t.RawSetString("host", glua.LString(r.Host))
	t.RawSetString("remote_addr", glua.LString(r.RemoteAddr))
	p := L.CreateTable(len(r.Protocols), 0)
	for _, s := range r.Protocols {
		p.Append(glua.LString(s))
	}
	t.RawSetString("protocols", p)
	t.RawSetString("is_tls", glua.LBool(r.IsTLS))
	return t
}
