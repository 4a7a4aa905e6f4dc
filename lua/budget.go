package lua

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// budgetCtx is the context the running event's coroutine checks between VM
// instructions; Interrupt cancels it. A cancelled one is replaced before the
// next event.
type budgetCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// budget bounds how long one event (one resume of a coroutine, or one module
// load) may run. gopher-lua checks the context once per instruction, so an
// endless loop stops; a single long Go call (a huge string.rep) finishes first.
type budget struct {
	limit   time.Duration
	cur     atomic.Pointer[budgetCtx]
	started atomic.Int64 // unix nanoseconds when the running resume began; 0 when idle
	// timer interrupts a stretch that runs past the limit. It is a runtime
	// timer, re-armed per stretch (Reset and Stop do not allocate); its
	// callback only cancels a context.
	timer *time.Timer
}

// budgetMessage is the error of an event stopped by the budget.
const budgetMessage = "exceeded the Lua budget: the event ran longer than %s and was stopped"

// Budget reports the VM's budget (0: none).
func (vm *VM) Budget() time.Duration { return vm.budget.limit }

// RunningFor reports how long the current event has been running, or 0 when
// the VM is idle. Safe from any goroutine.
func (vm *VM) RunningFor() time.Duration {
	s := vm.budget.started.Load()
	if s == 0 {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - s)
}

// Interrupt stops the running event: its coroutine raises an error at the
// next instruction. Safe from any goroutine; the budget's timer calls it.
func (vm *VM) Interrupt() {
	if b := vm.budget.cur.Load(); b != nil {
		b.cancel()
	}
}

// arm prepares th for a resume under the budget.
func (vm *VM) arm(th *glua.LState) {
	if vm.budget.limit <= 0 {
		return
	}
	b := vm.budget.cur.Load()
	if b == nil || b.ctx.Err() != nil {
		ctx, cancel := context.WithCancel(context.Background())
		b = &budgetCtx{ctx: ctx, cancel: cancel}
		vm.budget.cur.Store(b)
	}
	th.SetContext(b.ctx)
	vm.budget.started.Store(time.Now().UnixNano())
	if vm.budget.timer == nil {
		vm.budget.timer = time.AfterFunc(vm.budget.limit, vm.onBudgetTimer)
	} else {
		vm.budget.timer.Reset(vm.budget.limit)
	}
}

// onBudgetTimer runs on the timer's goroutine. A late firing (the stretch it
// was armed for ended, another began) must not stop the new stretch, hence
// the check of how long the current one has run.
func (vm *VM) onBudgetTimer() {
	if d := vm.RunningFor(); d >= vm.budget.limit {
		vm.Interrupt()
	}
}

// disarm ends the budgeted stretch and reports whether it was interrupted.
//
// Coroutines created under a cancelled context stay cancelled (gopher-lua
// derives a child context per coroutine), so after an interruption the pool
// of pcall coroutines is emptied; a coroutine a handler keeps across events
// is unusable after an interruption on its worker.
func (vm *VM) disarm() bool {
	if vm.budget.limit <= 0 {
		return false
	}
	vm.budget.started.Store(0)
	vm.budget.timer.Stop()
	b := vm.budget.cur.Load()
	if b == nil || b.ctx.Err() == nil {
		return false
	}
	if vm.resetPcall != nil {
		vm.L.Push(vm.resetPcall)
		vm.L.PCall(0, 0, nil)
	}
	return true
}

// budgetError rewrites gopher-lua's "file:line: context canceled".
func (vm *VM) budgetError(err error) error {
	msg := err.Error()
	where := strings.TrimSuffix(msg, "context canceled")
	if strings.HasPrefix(where, "=evserver-") {
		// Stopped inside a pcall: the first error (with the script's line)
		// was caught there, and the wrapper's own line means nothing to
		// the script's author.
		where = "(inside pcall) "
	}
	return &ScriptError{Message: where + strings.Replace(budgetMessage, "%s", vm.budget.limit.String(), 1)}
}
