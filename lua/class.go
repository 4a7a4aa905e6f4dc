package lua

import (
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"sort"
	"strconv"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// Class is a handler class loaded into one VM: the table a handler file
// returns, with its options read and checked.
type Class struct {
	Name string // "chat", "iot/devices"
	File string // "handlers/chat.lua"
	Info ClassInfo

	table  *glua.LTable
	accept glua.LValue // function or nil
	newFn  glua.LValue
	http   glua.LValue
}

// ClassInfo is what the engine needs to know about a class before a
// connection reaches a worker: the options declared in the class table.
type ClassInfo struct {
	Protocols      []string          // subprotocols the class speaks, in its order of preference
	MaxConnections int               // 0 = unlimited
	HasHTTP        bool              // the class serves plain HTTP requests with http(req)
	Origins        []string          // browser origins allowed; nil: the server's list
	Authenticate   string            // "", "jwt" or "basic"
	RequireClaims  map[string]string // claims a JWT must carry, with their values
}

// Class returns the class called name, loading it on first use. A load error
// (the chunk failed, returned no table, or declared a bad option) is cached
// and returned on every call.
func (vm *VM) Class(name string) (*Class, error) {
	if c, ok := vm.classes[name]; ok {
		return c, nil
	}
	if err, ok := vm.classErrs[name]; ok {
		return nil, err
	}
	c, err := vm.loadClass(name)
	if err != nil {
		vm.classErrs[name] = err
		return nil, err
	}
	vm.classes[name] = c
	return c, nil
}

func (vm *VM) loadClass(name string) (*Class, error) {
	sc := vm.set.Script(name)
	if sc == nil {
		if p, ok := vm.set.Broken[name]; ok {
			return nil, &ScriptError{Message: p.String()}
		}
		return nil, fmt.Errorf("lua: no handler %q", name)
	}
	v, err := vm.loadChunk(sc)
	if err != nil {
		return nil, err
	}
	t, ok := v.(*glua.LTable)
	if !ok {
		return nil, &ScriptError{Message: fmt.Sprintf("%s: the handler must return a class table, it returned %s", sc.File, v.Type())}
	}
	return vm.classFromTable(name, sc.File, t)
}

// classFromTable checks a class table and reads its options.
func (vm *VM) classFromTable(name, file string, t *glua.LTable) (*Class, error) {
	if t.RawGetString("__index") == glua.LNil {
		t.RawSetString("__index", t)
	}
	c := &Class{Name: name, File: file, table: t}
	bad := func(format string, args ...any) error {
		return &ScriptError{Message: file + ": " + fmt.Sprintf(format, args...)}
	}
	for _, f := range []struct {
		name string
		dst  *glua.LValue
	}{{"accept", &c.accept}, {"new", &c.newFn}, {"http", &c.http}, {"on_open", nil}, {"on_message", nil}, {"on_close", nil}} {
		v := t.RawGetString(f.name)
		if v != glua.LNil && v.Type() != glua.LTFunction {
			return nil, bad("%s must be a function, not a %s", f.name, v.Type())
		}
		if f.dst != nil {
			*f.dst = v
		}
	}
	c.Info.HasHTTP = c.http != glua.LNil
	var err error
	if c.Info.Protocols, err = stringList(t.RawGetString("protocols")); err != nil {
		return nil, bad("protocols %v", err)
	}
	if c.Info.Origins, err = stringList(t.RawGetString("origins")); err != nil {
		return nil, bad("origins %v", err)
	}
	switch a := t.RawGetString("authenticate").(type) {
	case *glua.LNilType:
	case glua.LString:
		if a != "jwt" && a != "basic" {
			return nil, bad("authenticate must be \"jwt\" or \"basic\", not %q", string(a))
		}
		c.Info.Authenticate = string(a)
	default:
		return nil, bad("authenticate must be a string, not a %s", a.Type())
	}
	switch rc := t.RawGetString("require_claims").(type) {
	case *glua.LNilType:
	case *glua.LTable:
		if c.Info.Authenticate != "jwt" {
			return nil, bad("require_claims needs authenticate = \"jwt\"")
		}
		c.Info.RequireClaims = map[string]string{}
		var rerr error
		rc.ForEach(func(k, v glua.LValue) {
			ks, ok1 := k.(glua.LString)
			if !ok1 || (v.Type() != glua.LTString && v.Type() != glua.LTNumber && v.Type() != glua.LTBool) {
				rerr = bad("require_claims must map claim names to strings")
				return
			}
			c.Info.RequireClaims[string(ks)] = v.String()
		})
		if rerr != nil {
			return nil, rerr
		}
	default:
		return nil, bad("require_claims must be a table, not a %s", rc.Type())
	}
	switch m := t.RawGetString("max_connections").(type) {
	case *glua.LNilType:
	case glua.LNumber:
		if m < 0 || float64(m) != math.Trunc(float64(m)) {
			return nil, bad("max_connections must be a whole number ≥ 0, not %v", m)
		}
		c.Info.MaxConnections = int(m)
	default:
		return nil, bad("max_connections must be a number, not a %s", m.Type())
	}
	return c, nil
}

// Inspect loads every endpoint of set in a scratch VM and returns the options
// of each class that loads, and a problem for each that does not (compile
// errors included), sorted by file.
func Inspect(set *Set, log *slog.Logger, budget time.Duration, unsafe bool) (map[string]ClassInfo, []Problem) {
	infos := map[string]ClassInfo{}
	var problems []Problem
	for _, p := range set.Broken {
		problems = append(problems, p)
	}
	vm, err := NewVM(set, Options{Logger: log, Budget: budget, Unsafe: unsafe})
	if err != nil {
		return nil, append(problems, Problem{File: set.Dir, Message: err.Error()})
	}
	defer vm.Close()
	for _, name := range set.Endpoints() {
		if _, broken := set.Broken[name]; broken {
			continue
		}
		c, err := vm.Class(name)
		if err != nil {
			problems = append(problems, problemOf(set.Script(name).File, err))
			continue
		}
		infos[name] = c.Info
	}
	sort.Slice(problems, func(i, j int) bool {
		if problems[i].File != problems[j].File {
			return problems[i].File < problems[j].File
		}
		return problems[i].Line < problems[j].Line
	})
	return infos, problems
}

var fileLine = regexp.MustCompile(`^(.+?):(\d+): (.*)$`)

// problemOf turns a load error ("file:line: msg") into a Problem.
func problemOf(file string, err error) Problem {
	msg := err.Error()
	if m := fileLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		return Problem{File: m[1], Line: line, Message: m[3]}
	}
	if len(msg) > len(file)+2 && msg[:len(file)+2] == file+": " {
		msg = msg[len(file)+2:]
	}
	return Problem{File: file, Message: msg}
}

// stringList reads an option that is a list of non-empty strings: nil when
// absent, a non-nil (possibly empty) slice when given.
func stringList(v glua.LValue) ([]string, error) {
	switch l := v.(type) {
	case *glua.LNilType:
		return nil, nil
	case *glua.LTable:
		out := []string{}
		for i := 1; i <= l.Len(); i++ {
			s, ok := l.RawGetInt(i).(glua.LString)
			switch {
			case !ok:
				return nil, fmt.Errorf("must be a list of strings (entry %d is a %s)", i, l.RawGetInt(i).Type())
			case s == "":
				return nil, fmt.Errorf("must be a list of non-empty strings (entry %d is empty)", i)
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of strings, not a %s", v.Type())
}
