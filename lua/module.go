package lua

import (
	"context"
	"log/slog"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// newModule builds the ws module table that require("ws") returns.
func (vm *VM) newModule() *glua.LTable {
	L := vm.L
	m := L.NewTable()
	logt := L.NewTable()
	for name, level := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		logt.RawSetString(name, L.NewFunction(vm.logFunc(level)))
	}
	m.RawSetString("log", logt)
	m.RawSetString("json", vm.newJSON())
	m.RawSetString("now", L.NewFunction(wsNow))
	m.RawSetString("sleep", L.NewFunction(vm.wsSleep))
	m.RawSetString("after", L.NewFunction(vm.wsAfter))
	m.RawSetString("every", L.NewFunction(vm.wsEvery))
	m.RawSetString("connect", L.NewFunction(vm.wsConnect))
	return m
}

// ws.now() → seconds since the Unix epoch as a float, with sub-millisecond
// precision.
func wsNow(L *glua.LState) int {
	L.Push(glua.LNumber(float64(time.Now().UnixNano()) / 1e9))
	return 1
}

// logFunc makes ws.log.<level>(msg, key, value, ...): msg then slog-style
// key/value pairs, logged with the running event's connection attributes.
func (vm *VM) logFunc(level slog.Level) glua.LGFunction {
	return func(L *glua.LState) int {
		log := vm.logger()
		if !log.Enabled(context.Background(), level) {
			return 0
		}
		msg := L.ToStringMeta(L.CheckAny(1)).String()
		top := L.GetTop()
		attrs := make([]any, 0, top-1)
		for i := 2; i <= top; i++ {
			attrs = append(attrs, logValue(L, L.Get(i)))
		}
		if where := L.Where(1); where != "" {
			attrs = append(attrs, slog.String("source", trimWhere(where)))
		}
		log.Log(context.Background(), level, msg, attrs...)
		return 0
	}
}

func trimWhere(w string) string {
	if n := len(w); n > 0 && w[n-1] == ':' {
		return w[:n-1]
	}
	return w
}

func logValue(L *glua.LState, v glua.LValue) any {
	switch v := v.(type) {
	case glua.LString:
		return string(v)
	case glua.LNumber:
		f := float64(v)
		if f == float64(int64(f)) {
			return int64(f)
		}
		return f
	case glua.LBool:
		return bool(v)
	case *glua.LNilType:
		return nil
	case *glua.LTable:
		if s, err := encodeJSON(v); err == nil {
			return s
		}
	}
	return L.ToStringMeta(v).String()
}
