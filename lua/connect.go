package lua

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"

	"evserver/ws"
)

// DefaultConnectTimeout bounds ws.connect when the script gives no timeout.
const DefaultConnectTimeout = 10 * time.Second

// connectOptions is a checked ws.connect options table.
type connectOptions struct {
	req     DialRequest
	class   *Class
	context glua.LValue
}

// ws.connect{ url = ..., msg_handler = ..., context = ..., headers = {...},
// protocols = {...}, timeout = s, tls = {...} } → conn, 101, headers
// | nil, err [, status, headers]
func (vm *VM) wsConnect(L *glua.LState) int {
	host := vm.needHost(L, "ws.connect")
	opts, err := vm.connectOptions(L.Get(1))
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString("ws.connect: " + err.Error()))
		return 2
	}
	log := vm.logger()
	return vm.await(L, "ws.connect", func(complete func(...glua.LValue)) {
		host.Dial(&opts.req, func(out Outbound, resp *ws.Response, err error) {
			if err != nil {
				var rerr *ws.ResponseError
				if errors.As(err, &rerr) && rerr.Status != 0 {
					complete(glua.LNil, glua.LString(err.Error()), glua.LNumber(rerr.Status), vm.headerTable(rerr.Header))
					return
				}
				complete(glua.LNil, glua.LString(err.Error()))
				return
			}
			ud := vm.newConn(out)
			headers := vm.headerTable(resp.Header)
			if opts.class == nil {
				out.Start(nil)
				complete(ud, glua.LNumber(resp.Status), headers)
				return
			}
			vm.newOutboundInstance(opts, ud, func(inst *Instance, err error) {
				if err != nil {
					log.Error("msg_handler new failed", "error", err)
					out.Close(ws.CloseInternalError, "")
					out.Start(nil)
					complete(glua.LNil, glua.LString("msg_handler: "+err.Error()))
					return
				}
				out.Start(inst)
				complete(ud, glua.LNumber(resp.Status), headers)
			})
		})
	})
}

// newOutboundInstance builds the msg_handler instance: Class.new(conn,
// context) or { conn = conn, context = context }.
func (vm *VM) newOutboundInstance(o *connectOptions, ud *glua.LUserData, done func(*Instance, error)) {
	c := o.class
	info := ud.Value.(*connRef).c.Info()
	if c.newFn == glua.LNil {
		t := vm.L.CreateTable(0, 2)
		t.RawSetString("conn", ud)
		t.RawSetString("context", o.context)
		t.Metatable = c.table
		done(&Instance{Class: c, self: t, conn: ud, info: info}, nil)
		return
	}
	vm.run(c.newFn, []glua.LValue{ud, o.context}, info.Logger(), func(ret []glua.LValue, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		if ret[0].Type() != glua.LTTable && ret[0].Type() != glua.LTUserData {
			done(nil, &ScriptError{Message: fmt.Sprintf("%s: new must return the instance (a table), it returned %s", c.File, describe(ret[0]))})
			return
		}
		done(&Instance{Class: c, self: ret[0], conn: ud, info: info}, nil)
	})
}

func (vm *VM) headerTable(h map[string]string) *glua.LTable {
	t := vm.L.CreateTable(0, len(h))
	for k, v := range h {
		t.RawSetString(k, glua.LString(v))
	}
	return t
}

func (vm *VM) connectOptions(v glua.LValue) (*connectOptions, error) {
	t, ok := v.(*glua.LTable)
	if !ok {
		return nil, fmt.Errorf("expects a table of options, got %s", v.Type())
	}
	o := &connectOptions{context: t.RawGetString("context")}
	raw, ok := t.RawGetString("url").(glua.LString)
	if !ok {
		return nil, errors.New("url: required (a string like \"ws://host:port/path\")")
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("url: %v", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("url: scheme must be ws or wss, not %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("url: no host")
	}
	o.req.URL = u
	switch h := t.RawGetString("headers").(type) {
	case *glua.LNilType:
	case *glua.LTable:
		var herr error
		h.ForEach(func(k, v glua.LValue) {
			ks, ok1 := k.(glua.LString)
			vs, ok2 := v.(glua.LString)
			if herr == nil && (!ok1 || !ok2) {
				herr = fmt.Errorf("headers: must map names to strings (got %s = %s)", k.Type(), v.Type())
			}
			o.req.Header = append(o.req.Header, ws.HeaderField{Name: string(ks), Value: string(vs)})
		})
		if herr != nil {
			return nil, herr
		}
		if err := ws.CheckClientHeaders(o.req.Header); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("headers: must be a table, not a %s", h.Type())
	}
	switch p := t.RawGetString("protocols").(type) {
	case *glua.LNilType:
	case *glua.LTable:
		for i := 1; i <= p.Len(); i++ {
			s, ok := p.RawGetInt(i).(glua.LString)
			if !ok || s == "" || strings.ContainsAny(string(s), " ,\r\n") {
				return nil, fmt.Errorf("protocols: entry %d must be a protocol name", i)
			}
			o.req.Protocols = append(o.req.Protocols, string(s))
		}
	default:
		return nil, fmt.Errorf("protocols: must be a list of strings, not a %s", p.Type())
	}
	switch n := t.RawGetString("timeout").(type) {
	case *glua.LNilType:
		o.req.Timeout = DefaultConnectTimeout
	case glua.LNumber:
		if n < 0 || n != n {
			return nil, fmt.Errorf("timeout: must be a number of seconds ≥ 0, not %v", n)
		}
		o.req.Timeout = time.Duration(float64(n) * float64(time.Second))
		if o.req.Timeout == 0 {
			o.req.Timeout = DefaultConnectTimeout
		}
	default:
		return nil, fmt.Errorf("timeout: must be a number of seconds, not a %s", n.Type())
	}
	if err := tlsOptions(t.RawGetString("tls"), &o.req); err != nil {
		return nil, err
	}
	switch h := t.RawGetString("msg_handler").(type) {
	case *glua.LNilType:
	case glua.LString:
		c, err := vm.Class(string(h))
		if err != nil {
			return nil, fmt.Errorf("msg_handler: %v", err)
		}
		o.class = c
		o.req.Handler = string(h)
	case *glua.LTable:
		c, err := vm.classFromTable("(msg_handler table)", "(msg_handler table)", h)
		if err != nil {
			return nil, fmt.Errorf("msg_handler: %v", err)
		}
		o.class = c
	default:
		return nil, fmt.Errorf("msg_handler: must be a handler name or a class table, not a %s", h.Type())
	}
	return o, nil
}

func tlsOptions(v glua.LValue, req *DialRequest) error {
	t, ok := v.(*glua.LTable)
	if v == glua.LNil {
		return nil
	}
	if !ok {
		return fmt.Errorf("tls: must be a table, not a %s", v.Type())
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s, ok := t.RawGetString("server_name").(glua.LString); ok {
		cfg.ServerName = string(s)
	}
	if b, ok := t.RawGetString("insecure_skip_verify").(glua.LBool); ok {
		cfg.InsecureSkipVerify = bool(b)
	}
	if f, ok := t.RawGetString("ca_file").(glua.LString); ok {
		pem, err := os.ReadFile(string(f))
		if err != nil {
			return fmt.Errorf("tls.ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls.ca_file: no PEM certificate in %s", f)
		}
		cfg.RootCAs = pool
	}
	req.TLS = cfg
	return nil
}

// conn:receive([timeout]) → msg, kind | nil, err: the next message of an
// outbound connection opened without msg_handler.
func (vm *VM) connReceive(L *glua.LState) int {
	ref := checkConn(L)
	var d time.Duration
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		d = seconds(L, 2, "timeout", true)
	}
	out, ok := ref.c.(Outbound)
	if !ok || !ref.c.Info().Outbound {
		L.RaiseError("conn:receive: only connections opened by ws.connect without msg_handler can receive")
	}
	return vm.await(L, "conn:receive", func(complete func(...glua.LValue)) {
		out.Receive(d, func(msg []byte, binary bool, err error) {
			if err != nil {
				complete(glua.LNil, glua.LString(err.Error()))
				return
			}
			kind := vm.strText
			if binary {
				kind = vm.strBinary
			}
			complete(glua.LString(msg), kind)
		})
	})
}
