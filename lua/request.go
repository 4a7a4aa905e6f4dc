package lua

import (
	"fmt"
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
	Auth       map[string]any // verified claims (authenticate = "jwt") or { user = ... } ("basic"); nil if none
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
	if r.Auth != nil {
		t.RawSetString("auth", goValue(L, r.Auth))
	}
	return t
}

// goValue converts decoded JSON-like Go values to Lua.
func goValue(L *glua.LState, v any) glua.LValue {
	switch v := v.(type) {
	case nil:
		return jsonNull
	case string:
		return glua.LString(v)
	case bool:
		return glua.LBool(v)
	case float64:
		return glua.LNumber(v)
	case int64:
		return glua.LNumber(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(goValue(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, goValue(L, e))
		}
		return t
	}
	return glua.LString(fmt.Sprint(v))
}
