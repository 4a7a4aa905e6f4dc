// Package lua is evserver's script side: it compiles handler files once,
// builds one sandboxed gopher-lua VM per worker, loads handler classes into it,
// and runs every event (accept, new, on_open, on_message, on_close) as a
// coroutine. It knows nothing of sockets: the engine gives it a Conn to act on.
//
// A VM is not safe for concurrent use: exactly one worker goroutine owns it.
package lua

import (
	"log/slog"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// Options configure a VM. The zero value is valid.
type Options struct {
	// Logger receives ws.log output and script errors; nil means slog.Default().
	Logger *slog.Logger
	// Unsafe opens Lua's whole standard library (io, os, debug, package...)
	// instead of the sandbox, for trusted deployments.
	Unsafe bool
	// Budget bounds the time one event may run (0: no bound); see Interrupt.
	Budget time.Duration
	// Host provides timers and outbound connections; without it the
	// waiting calls (ws.sleep, ws.after, ws.every, ws.connect) raise errors.
	Host Host
}

// VM is one worker's Lua state with its loaded classes and modules.
type VM struct {
	L   *glua.LState
	set *Set
	log *slog.Logger

	classes   map[string]*Class
	classErrs map[string]error
	loaded    map[string]glua.LValue // require cache
	loading   map[string]bool        // require cycle detection
	module    *glua.LTable           // the ws module

	host      Host
	connMeta  *glua.LTable
	timerMeta *glua.LTable

	runner     *glua.LFunction // the coroutine body that runs one event after another
	doneTag    *glua.LUserData // what the runner yields when an event finished
	waitTag    *glua.LUserData // what a waiting call yields
	resetPcall *glua.LFunction // empties the pool of pcall coroutines
	idle       []*glua.LState  // finished coroutines kept for reuse
	current    *task           // the task running right now, for ws.log
	deferred   []deferredRun   // starts and resumes requested while a task ran
	waitSeq    uint64          // ids of waits (see await)
	loadDepth  int             // modules being loaded: nothing may wait meanwhile

	args      []glua.LValue // scratch for event arguments
	freeTasks []*task
	budget    budget

	strText, strBinary glua.LValue // "text" and "binary", boxed once
}

// NewVM builds a VM over a compiled handler set.
func NewVM(set *Set, opts Options) (*VM, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	L := glua.NewState(glua.Options{SkipOpenLibs: true, RegistrySize: 1024, RegistryMaxSize: 1024 * 256, MinimizeStackMemory: true})
	vm := &VM{
		L: L, set: set, log: log, host: opts.Host,
		classes: map[string]*Class{}, classErrs: map[string]error{}, loaded: map[string]glua.LValue{}, loading: map[string]bool{},
		strText: glua.LString("text"), strBinary: glua.LString("binary"),
	}
	vm.budget.limit = opts.Budget
	if opts.Unsafe {
		L.OpenLibs()
	} else {
		openSandbox(L)
	}
	g := L.G.Global
	g.RawSetString("require", L.NewFunction(vm.require))
	g.RawSetString("print", L.NewFunction(vm.print))
	vm.module = vm.newModule()
	vm.connMeta = vm.newConnMeta()
	vm.timerMeta = vm.newTimerMeta()
	if err := vm.installYieldSafe(); err != nil {
		L.Close()
		return nil, err
	}
	if err := vm.initRunner(); err != nil {
		L.Close()
		return nil, err
	}
	return vm, nil
}

// Close releases the Lua state.
func (vm *VM) Close() { vm.L.Close() }

// require loads a module from the handlers directory ("ws" is built in).
// "a.b" and "a/b" both name a/b.lua; nothing outside the directory is
// reachable. Modules are cached per VM, as in standard Lua.
func (vm *VM) require(L *glua.LState) int {
	name := L.CheckString(1)
	if name == "ws" {
		L.Push(vm.module)
		return 1
	}
	key := strings.ReplaceAll(name, ".", "/")
	if v, ok := vm.loaded[key]; ok {
		L.Push(v)
		return 1
	}
	sc := vm.set.Script(key)
	if sc == nil {
		if p, ok := vm.set.Broken[key]; ok {
			L.RaiseError("require %q: %s", name, p)
		}
		L.RaiseError("require %q: no module %s.lua in the handlers directory", name, key)
	}
	if vm.loading[key] {
		L.RaiseError("require %q: circular require", name)
	}
	vm.loading[key] = true
	vm.loadDepth++
	defer func() {
		delete(vm.loading, key)
		vm.loadDepth--
	}()
	L.Push(L.NewFunctionFromProto(sc.proto))
	L.Call(0, 1)
	v := L.Get(-1)
	if v == glua.LNil {
		v = glua.LTrue
	}
	vm.loaded[key] = v
	L.Pop(1)
	L.Push(v)
	return 1
}

// print writes its arguments, tab-separated, to the log at info level.
func (vm *VM) print(L *glua.LState) int {
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	if where := L.Where(1); where != "" {
		vm.logger().Info(b.String(), "source", trimWhere(where))
	} else {
		vm.logger().Info(b.String())
	}
	return 0
}

// logger is the logger of the running event (with its connection's
// attributes), or the VM's.
func (vm *VM) logger() *slog.Logger {
	if t := vm.current; t != nil {
		if t.log != nil {
			return t.log
		}
		if t.info != nil {
			return t.info.Logger()
		}
	}
	return vm.log
}

// loadChunk runs a script's main chunk outside any coroutine and returns
// what it returned.
func (vm *VM) loadChunk(sc *Script) (glua.LValue, error) {
	L := vm.L
	L.Push(L.NewFunctionFromProto(sc.proto))
	vm.loadDepth++
	defer func() { vm.loadDepth-- }()
	var err error
	var interrupted bool
	if b := vm.budget.cur.Load(); vm.current != nil && b != nil {
		// Loaded from inside an event (a msg_handler named in ws.connect):
		// the load is part of that event's stretch and its budget, which
		// must keep running.
		L.SetContext(b.ctx)
		err = L.PCall(0, 1, nil)
		L.RemoveContext()
		interrupted = b.ctx.Err() != nil
	} else {
		vm.arm(L)
		err = L.PCall(0, 1, nil)
		interrupted = vm.disarm()
		if vm.budget.limit > 0 {
			L.RemoveContext()
		}
	}
	if err != nil {
		if interrupted {
			return nil, vm.budgetError(scriptError(err))
		}
		return nil, scriptError(err)
	}
	v := L.Get(-1)
	L.Pop(1)
	return v, nil
}
