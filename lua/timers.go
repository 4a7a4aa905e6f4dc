package lua

import (
	"time"

	glua "github.com/yuin/gopher-lua"
)

// timer is the Go side of the handle ws.after and ws.every return.
type timer struct {
	stop      func() bool
	cancelled bool
	fired     bool // a ws.after timer that ran: cancel has nothing left to stop
}

// seconds reads a duration argument in seconds (a float).
func seconds(L *glua.LState, n int, what string, allowZero bool) time.Duration {
	s := float64(L.CheckNumber(n))
	if s < 0 || (!allowZero && s == 0) || s != s {
		if allowZero {
			L.ArgError(n, what+" must be a number of seconds ≥ 0")
		}
		L.ArgError(n, what+" must be a number of seconds > 0")
	}
	return time.Duration(s * float64(time.Second))
}

func (vm *VM) needHost(L *glua.LState, what string) Host {
	if vm.host == nil {
		L.RaiseError("%s is not available in this VM", what)
	}
	return vm.host
}

// ws.sleep(seconds): suspends the running event; others run meanwhile.
func (vm *VM) wsSleep(L *glua.LState) int {
	d := seconds(L, 1, "seconds", true)
	host := vm.needHost(L, "ws.sleep")
	return vm.await(L, "ws.sleep", func(complete func(...glua.LValue)) {
		host.After(d, func() { complete() })
	})
}

// ws.after(seconds, fn) → handle: runs fn once, as its own coroutine.
func (vm *VM) wsAfter(L *glua.LState) int {
	d := seconds(L, 1, "seconds", true)
	fn := L.CheckFunction(2)
	return vm.newTimer(L, d, fn, false)
}

// ws.every(seconds, fn) → handle: runs fn every interval until cancelled. A
// tick that comes while the previous call still runs (it waits in ws.sleep,
// say) is skipped. An error in fn is logged and cancels the timer.
func (vm *VM) wsEvery(L *glua.LState) int {
	d := seconds(L, 1, "seconds", false)
	fn := L.CheckFunction(2)
	return vm.newTimer(L, d, fn, true)
}

func (vm *VM) newTimer(L *glua.LState, d time.Duration, fn *glua.LFunction, repeat bool) int {
	host := vm.needHost(L, "timers")
	log := vm.logger()
	tm := &timer{}
	running := false
	var fire func()
	fire = func() {
		if tm.cancelled {
			return
		}
		if repeat {
			tm.stop = host.After(d, fire)
			if running {
				return
			}
		} else {
			tm.fired = true
		}
		running = true
		vm.run(fn, nil, log, func(_ []glua.LValue, err error) {
			running = false
			if err != nil {
				log.Error("timer callback failed", "error", err, "repeating", repeat)
				if repeat {
					tm.cancelled = true
					tm.stop()
				}
			}
		})
	}
	tm.stop = host.After(d, fire)
	ud := L.NewUserData()
	ud.Value = tm
	ud.Metatable = vm.timerMeta
	L.Push(ud)
	return 1
}

func (vm *VM) newTimerMeta() *glua.LTable {
	L := vm.L
	meta := L.NewTable()
	methods := L.NewTable()
	// handle:cancel() → true if the timer was still pending
	methods.RawSetString("cancel", L.NewFunction(func(L *glua.LState) int {
		var tm *timer
		if ud, ok := L.Get(1).(*glua.LUserData); ok {
			tm, _ = ud.Value.(*timer)
		}
		if tm == nil {
			L.ArgError(1, "timer expected (call it as handle:cancel())")
		}
		was := !tm.cancelled && !tm.fired
		tm.cancelled = true
		if tm.stop != nil {
			tm.stop()
		}
		L.Push(glua.LBool(was))
		return 1
	}))
	meta.RawSetString("__index", methods)
	meta.RawSetString("__metatable", glua.LString("timer"))
	return meta
}
