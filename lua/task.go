package lua

import (
	"errors"
	"fmt"
	"log/slog"

	glua "github.com/yuin/gopher-lua"
)

// The runner is the body of every event coroutine. It calls the event's
// function, yields DONE with its results, receives the next function and
// arguments from the next Resume and loops (a proper tail call, so the stack
// does not grow). A coroutine therefore never dies after a successful event
// and is reused: gopher-lua's NewThread costs about 20 KiB, too much per event.
const runnerSource = `local DONE = ...
local yield = coroutine.yield
local function loop(fn, ...)
  return loop(yield(DONE, fn(...)))
end
return loop`

// maxIdleThreads bounds the coroutines kept for reuse; more are only needed
// while that many events are suspended at once.
const maxIdleThreads = 64

// task is one event running as a coroutine.
type task struct {
	th      *glua.LState
	log     *slog.Logger               // for ws.log; nil: info's
	info    *ConnInfo                  // the connection the event belongs to, if any
	done    func([]glua.LValue, error) // wants the results
	evtDone func(error)                // an event: only success matters
	waiting bool                       // suspended in a waiting call (ws.sleep, ws.connect, ...)
	waitID  uint64                     // identifies the current wait; a completion for another is ignored
}

func (t *task) finish(ret []glua.LValue, err error) {
	if t.evtDone != nil {
		t.evtDone(err)
		return
	}
	t.done(ret, err)
}

// end finishes t and recycles it.
func (vm *VM) end(t *task, ret []glua.LValue, err error) {
	evtDone, done := t.evtDone, t.done
	vm.freeTask(t)
	if evtDone != nil {
		evtDone(err)
		return
	}
	done(ret, err)
}

// deferredRun is a start or resume requested while another task was running.
type deferredRun struct {
	t      *task
	vals   []glua.LValue
	resume bool   // a resume of a waiting task, not a start
	waitID uint64 // for a resume: the wait it completes
}

func (vm *VM) initRunner() error {
	proto, prob := compile(runnerSource, "=evserver-runner")
	if prob != nil {
		return fmt.Errorf("lua: compiling the event runner: %s", prob)
	}
	vm.doneTag = vm.L.NewUserData()
	L := vm.L
	L.Push(L.NewFunctionFromProto(proto))
	L.Push(vm.doneTag)
	if err := L.PCall(1, 1, nil); err != nil {
		return fmt.Errorf("lua: starting the event runner: %w", err)
	}
	vm.runner = L.Get(-1).(*glua.LFunction)
	L.Pop(1)
	return nil
}

// run calls fn(args...) as a coroutine on behalf of an event. done is called
// exactly once with fn's results or its error (file:line in the message):
// at once, or after the coroutine waited (ws.sleep, ws.connect, ...).
// args is copied before run returns.
func (vm *VM) run(fn glua.LValue, args []glua.LValue, log *slog.Logger, done func([]glua.LValue, error)) {
	t := vm.newTask()
	t.log, t.done = log, done
	vm.start(t, fn, args)
}

// runEvent is run for events, whose results are ignored.
func (vm *VM) runEvent(fn glua.LValue, args []glua.LValue, info *ConnInfo, done func(error)) {
	t := vm.newTask()
	t.info, t.evtDone = info, done
	vm.start(t, fn, args)
}

// newTask takes a task from the free list: an event allocates none.
func (vm *VM) newTask() *task {
	if n := len(vm.freeTasks); n > 0 {
		t := vm.freeTasks[n-1]
		vm.freeTasks = vm.freeTasks[:n-1]
		return t
	}
	return &task{}
}

// freeTask returns a finished task to the free list. Nothing refers to a
// finished task: a waiting call's completion is delivered at most once and
// only while the task waits.
func (vm *VM) freeTask(t *task) {
	*t = task{}
	if len(vm.freeTasks) < maxIdleThreads {
		vm.freeTasks = append(vm.freeTasks, t)
	}
}

func (vm *VM) start(t *task, fn glua.LValue, args []glua.LValue) {
	if vm.current != nil {
		// Started from inside a running task (a completion delivered
		// synchronously): Lua calls never nest, so it runs right after.
		vm.deferred = append(vm.deferred, deferredRun{t: t, vals: append([]glua.LValue{fn}, args...)})
		return
	}
	t.th = vm.thread()
	vm.args = append(vm.args[:0], fn)
	vm.args = append(vm.args, args...)
	vm.resume(t, vm.args)
	vm.drain()
}

// resumeTask continues a task suspended in a waiting call; vals become the
// results of that call.
func (vm *VM) resumeTask(t *task, vals []glua.LValue) {
	if t.th == nil {
		return // finished (and recycled) in the meantime
	}
	if vm.current != nil {
		vm.deferred = append(vm.deferred, deferredRun{t: t, vals: vals, resume: true, waitID: t.waitID})
		return
	}
	vm.resume(t, vals)
	vm.drain()
}

// drain runs what was deferred while a task ran.
func (vm *VM) drain() {
	for len(vm.deferred) > 0 && vm.current == nil {
		d := vm.deferred[0]
		vm.deferred[0] = deferredRun{}
		vm.deferred = vm.deferred[1:]
		if d.resume {
			if d.t.th == nil || d.t.waitID != d.waitID || !d.t.waiting {
				continue // the task has ended (and maybe been reused) since
			}
		} else {
			d.t.th = vm.thread()
		}
		vm.resume(d.t, d.vals)
	}
	if len(vm.deferred) == 0 {
		vm.deferred = nil
	}
}

// thread returns an idle coroutine or a new one.
func (vm *VM) thread() *glua.LState {
	if n := len(vm.idle); n > 0 {
		th := vm.idle[n-1]
		vm.idle = vm.idle[:n-1]
		return th
	}
	th, _ := vm.L.NewThread()
	return th
}

// resume runs t until it finishes, fails or waits. gopher-lua's ResumeState
// is not trusted alone (a yield inside its pcall reports ResumeOK on a
// suspended coroutine): a finished event is recognised only by the runner's
// DONE tag and a wait only by the WAIT tag of a waiting call.
func (vm *VM) resume(t *task, values []glua.LValue) {
	t.waiting = false
	vm.current = t
	vm.arm(t.th)
	state, ret, err := vm.safeResume(t.th, values)
	if vm.disarm() && err != nil {
		err = vm.budgetError(err)
	}
	vm.current = nil
	switch {
	case err != nil:
		vm.end(t, nil, err)
	case state == glua.ResumeYield && len(ret) > 0 && ret[0] == vm.doneTag:
		if len(vm.idle) < maxIdleThreads {
			vm.idle = append(vm.idle, t.th)
		}
		ret = ret[1:]
		if len(ret) == 0 {
			// A bare "return": callers read the first result as nil.
			ret = append(ret, glua.LNil)
		}
		vm.end(t, ret, nil)
	case state == glua.ResumeYield && len(ret) > 0 && ret[0] == vm.waitTag && t.waiting:
		// Suspended: the waiting call resumes it through resumeTask.
	case state == glua.ResumeYield:
		vm.end(t, nil, errors.New("coroutine.yield called outside a coroutine the handler created"))
	default:
		vm.end(t, nil, errors.New("handler yielded across a pcall gopher-lua cannot resume"))
	}
}

func (vm *VM) safeResume(th *glua.LState, values []glua.LValue) (state glua.ResumeState, ret []glua.LValue, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("lua: internal error: %v", r)
		}
	}()
	state, rerr, ret := vm.L.Resume(th, vm.runner, values...)
	if rerr != nil {
		return state, nil, scriptError(rerr)
	}
	return state, ret, nil
}

// ScriptError is an error raised by a script. Its message starts with the
// script's file and line when the error came from Lua code.
type ScriptError struct{ Message string }

func (e *ScriptError) Error() string { return e.Message }

// scriptError reduces a gopher-lua error to the script's message.
func scriptError(err error) error {
	var api *glua.ApiError
	if errors.As(err, &api) && api.Object != nil {
		return &ScriptError{Message: api.Object.String()}
	}
	return &ScriptError{Message: err.Error()}
}
