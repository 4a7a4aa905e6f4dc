package lua

import (
	"fmt"
	"log/slog"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"evserver/ws"
)

// AcceptResult is accept(req)'s decision.
type AcceptResult struct {
	Status   int    // 101, or the refusal status (4xx, 5xx)
	Protocol string // chosen subprotocol ("" lets the engine choose)
	ID       string // connection id ("" lets the engine make one)
	Header   []ws.HeaderField
	Reason   string // refusal body text
}

// managedHeaders are the handshake headers the engine owns.
var managedHeaders = map[string]bool{
	"connection": true, "upgrade": true, "sec-websocket-key": true, "sec-websocket-accept": true,
	"sec-websocket-version": true, "sec-websocket-protocol": true, "sec-websocket-extensions": true,
	"content-length": true, "transfer-encoding": true,
}

// Accept runs class.accept(req). A class without accept accepts with 101.
// log is called only when accept runs (building a logger costs allocations
// every handshake would pay).
func (vm *VM) Accept(c *Class, req *Request, log func() *slog.Logger, done func(AcceptResult, error)) {
	if c.accept == glua.LNil {
		done(AcceptResult{Status: 101}, nil)
		return
	}
	vm.run(c.accept, []glua.LValue{vm.requestTable(req)}, log(), func(ret []glua.LValue, err error) {
		if err != nil {
			done(AcceptResult{}, err)
			return
		}
		res, err := acceptResult(ret)
		if err != nil {
			err = &ScriptError{Message: fmt.Sprintf("%s: accept: %v", c.File, err)}
		}
		done(res, err)
	})
}

func acceptResult(ret []glua.LValue) (AcceptResult, error) {
	var res AcceptResult
	status, ok := ret[0].(glua.LNumber)
	if !ok || (status != 101 && (status < 400 || status > 599)) || float64(status) != float64(int(status)) {
		return res, fmt.Errorf("must return 101 or a 4xx/5xx status, returned %s", describe(ret[0]))
	}
	res.Status = int(status)
	if len(ret) < 2 || ret[1] == glua.LNil {
		return res, nil
	}
	opts, ok := ret[1].(*glua.LTable)
	if !ok {
		return res, fmt.Errorf("second result must be a table of options, not a %s", ret[1].Type())
	}
	var err error
	if res.Protocol, err = optString(opts, "protocol"); err != nil {
		return res, err
	}
	if res.ID, err = optString(opts, "id"); err != nil {
		return res, err
	}
	if res.Reason, err = optString(opts, "reason"); err != nil {
		return res, err
	}
	res.Header, err = headerList(opts.RawGetString("headers"))
	return res, err
}

func optString(t *glua.LTable, key string) (string, error) {
	switch v := t.RawGetString(key).(type) {
	case *glua.LNilType:
		return "", nil
	case glua.LString:
		return string(v), nil
	case glua.LNumber:
		return v.String(), nil
	default:
		return "", fmt.Errorf("%s must be a string, not a %s", key, v.Type())
	}
}

// headerList converts a { Name = "value" } table to response headers,
// refusing the ones the engine manages and values that would break the
// response.
func headerList(v glua.LValue) ([]ws.HeaderField, error) {
	if v == glua.LNil {
		return nil, nil
	}
	t, ok := v.(*glua.LTable)
	if !ok {
		return nil, fmt.Errorf("headers must be a table, not a %s", v.Type())
	}
	var out []ws.HeaderField
	var err error
	t.ForEach(func(k, v glua.LValue) {
		if err != nil {
			return
		}
		name, ok1 := k.(glua.LString)
		value, ok2 := v.(glua.LString)
		if n, isNum := v.(glua.LNumber); isNum {
			value, ok2 = glua.LString(n.String()), true
		}
		switch {
		case !ok1 || !ok2:
			err = fmt.Errorf("headers must map names to strings (got %s = %s)", k.Type(), v.Type())
		case managedHeaders[strings.ToLower(string(name))]:
			err = fmt.Errorf("header %s is managed by evserver", name)
		case !ws.ValidHeaderField(string(name), string(value)):
			err = fmt.Errorf("header %q has an invalid name or value", string(name))
		default:
			out = append(out, ws.HeaderField{Name: string(name), Value: string(value)})
		}
	})
	return out, err
}

func describe(v glua.LValue) string {
	if v == glua.LNil {
		return "nil"
	}
	if s, ok := v.(glua.LString); ok {
		return fmt.Sprintf("%q", string(s))
	}
	return v.String()
}

// Instance is the per-connection object of a class, as new(conn) built it.
type Instance struct {
	Class *Class
	self  glua.LValue
	conn  *glua.LUserData
	info  *ConnInfo
}

// NewInstance builds the instance for a connection: class.new(conn) or,
// without new, setmetatable({ conn = conn }, Class).
func (vm *VM) NewInstance(c *Class, conn Conn, done func(*Instance, error)) {
	ud := vm.newConn(conn)
	info := conn.Info()
	if c.newFn == glua.LNil {
		t := vm.L.CreateTable(0, 1)
		t.RawSetString("conn", ud)
		t.Metatable = c.table
		done(&Instance{Class: c, self: t, conn: ud, info: info}, nil)
		return
	}
	vm.run(c.newFn, []glua.LValue{ud}, info.Logger(), func(ret []glua.LValue, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		if ret[0] == glua.LNil || ret[0].Type() != glua.LTTable && ret[0].Type() != glua.LTUserData {
			done(nil, &ScriptError{Message: fmt.Sprintf("%s: new must return the instance (a table), it returned %s", c.File, describe(ret[0]))})
			return
		}
		done(&Instance{Class: c, self: ret[0], conn: ud, info: info}, nil)
	})
}

// method returns the instance's method name, or nil.
func (vm *VM) method(in *Instance, name string) glua.LValue {
	fn := vm.L.GetField(in.self, name)
	if fn.Type() != glua.LTFunction {
		return nil
	}
	return fn
}

// OnOpen runs instance:on_open(). done receives the error, if any.
func (vm *VM) OnOpen(in *Instance, done func(error)) {
	vm.call(in, "on_open", done)
}

// OnMessage runs instance:on_message(msg, kind).
func (vm *VM) OnMessage(in *Instance, msg []byte, binary bool, done func(error)) {
	fn := vm.method(in, "on_message")
	if fn == nil {
		done(nil)
		return
	}
	kind := vm.strText
	if binary {
		kind = vm.strBinary
	}
	var args [3]glua.LValue
	args[0], args[1], args[2] = in.self, glua.LString(msg), kind
	vm.runEvent(fn, args[:], in.info, done)
}

// OnClose runs instance:on_close(code, reason).
func (vm *VM) OnClose(in *Instance, code ws.StatusCode, reason string, done func(error)) {
	fn := vm.method(in, "on_close")
	if fn == nil {
		done(nil)
		return
	}
	var args [3]glua.LValue
	args[0], args[1], args[2] = in.self, glua.LNumber(code), glua.LString(reason)
	vm.runEvent(fn, args[:], in.info, done)
}

func (vm *VM) call(in *Instance, name string, done func(error)) {
	fn := vm.method(in, name)
	if fn == nil {
		done(nil)
		return
	}
	var args [1]glua.LValue
	args[0] = in.self
	vm.runEvent(fn, args[:], in.info, done)
}

// HTTPResult is http(req)'s response.
type HTTPResult struct {
	Status int
	Body   string
	Header []ws.HeaderField
}

// HTTP runs class.http(req) for a plain HTTP request; it returns status,
// body[, headers].
func (vm *VM) HTTP(c *Class, req *Request, log *slog.Logger, done func(HTTPResult, error)) {
	vm.run(c.http, []glua.LValue{vm.requestTable(req)}, log, func(ret []glua.LValue, err error) {
		if err != nil {
			done(HTTPResult{}, err)
			return
		}
		var res HTTPResult
		status, ok := ret[0].(glua.LNumber)
		if !ok || status < 200 || status > 599 || float64(status) != float64(int(status)) {
			done(res, &ScriptError{Message: fmt.Sprintf("%s: http must return a status 200–599, returned %s", c.File, describe(ret[0]))})
			return
		}
		res.Status = int(status)
		if len(ret) > 1 && ret[1] != glua.LNil {
			body, ok := ret[1].(glua.LString)
			if !ok {
				done(res, &ScriptError{Message: fmt.Sprintf("%s: http must return the body as a string, not a %s", c.File, ret[1].Type())})
				return
			}
			res.Body = string(body)
		}
		if len(ret) > 2 {
			if res.Header, err = headerList(ret[2]); err != nil {
				done(res, &ScriptError{Message: fmt.Sprintf("%s: http: %v", c.File, err)})
				return
			}
		}
		done(res, nil)
	})
}
