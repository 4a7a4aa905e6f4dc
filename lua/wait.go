package lua

import (
	"fmt"

	glua "github.com/yuin/gopher-lua"
)

// yieldSafeSource replaces pcall, xpcall, coroutine.resume and coroutine.wrap
// with versions through which waiting calls (ws.sleep, ws.connect,
// conn:receive) can yield. A waiting call yields the WAIT tag; every wrapper
// passes such a yield on to its own resumer and hands the answer back down,
// so the event's coroutine is what suspends, however deep the call sits.
//
// gopher-lua's own pcall cannot be yielded through (the coroutine reports
// ResumeOK while suspended, and the next Resume crashes the process), so
// pcall runs its function in a coroutine of its own, taken from a pool.
const yieldSafeSource = `local WAIT = ...
local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local unpack, select, error, type = unpack, select, error, type
local function pack(...) return { n = select("#", ...), ... } end

local function resume(co, ...)
  local r = pack(co_resume(co, ...))
  while r[1] and r[2] == WAIT and co_status(co) == "suspended" do
    r = pack(co_resume(co, co_yield(unpack(r, 2, r.n))))
  end
  return unpack(r, 1, r.n)
end

local DONE = {}
local pool, npool = {}, 0
local function body(f, ...) return body(co_yield(DONE, f(...))) end

local function ypcall(f, ...)
  if type(f) ~= "function" and (type(f) ~= "table" and type(f) ~= "userdata") then
    return false, "attempt to call a " .. type(f) .. " value"
  end
  local co
  if npool > 0 then co = pool[npool]; pool[npool] = nil; npool = npool - 1 else co = co_create(body) end
  local r = pack(resume(co, f, ...))
  if not r[1] then return false, r[2] end
  if r[2] == DONE then
    if npool < 32 then npool = npool + 1; pool[npool] = co end
    return true, unpack(r, 3, r.n)
  end
  return false, "coroutine.yield across pcall is not supported"
end

local function yxpcall(f, handler, ...)
  local r = pack(ypcall(f, ...))
  if r[1] then return unpack(r, 1, r.n) end
  return false, handler(r[2])
end

local function wrap(f)
  local co = co_create(f)
  return function(...)
    local r = pack(resume(co, ...))
    if not r[1] then error(r[2], 2) end
    return unpack(r, 2, r.n)
  end
end

pcall, xpcall = ypcall, yxpcall
coroutine.resume, coroutine.wrap = resume, wrap
return function() pool, npool = {}, 0 end
`

func (vm *VM) installYieldSafe() error {
	proto, prob := compile(yieldSafeSource, "=evserver-yieldsafe")
	if prob != nil {
		return fmt.Errorf("lua: compiling the yield-safe pcall: %s", prob)
	}
	vm.waitTag = vm.L.NewUserData()
	L := vm.L
	L.Push(L.NewFunctionFromProto(proto))
	L.Push(vm.waitTag)
	if err := L.PCall(1, 1, nil); err != nil {
		return fmt.Errorf("lua: installing the yield-safe pcall: %w", err)
	}
	vm.resetPcall = L.Get(-1).(*glua.LFunction)
	L.Pop(1)
	return nil
}

// await runs a waiting call: start begins the operation and gets complete,
// which delivers the call's results exactly once (later, on the worker, or
// at once). Until then the event's coroutine is suspended and the worker
// runs other connections.
func (vm *VM) await(L *glua.LState, what string, start func(complete func(...glua.LValue))) int {
	t := vm.current
	if t == nil || L == vm.L || vm.loadDepth > 0 {
		L.RaiseError("%s can only be called while handling an event (not while a module loads)", what)
	}
	// The wait's identity: if the yield below fails (gopher-lua cannot
	// yield from a callback called by Go, such as string.gsub's), the task
	// ends and is recycled while the operation is still under way; its
	// completion must then find a different id and do nothing.
	vm.waitSeq++
	id := vm.waitSeq
	t.waitID = id
	var immediate []glua.LValue
	done, suspended := false, false
	start(func(vals ...glua.LValue) {
		if done {
			return
		}
		done = true
		if !suspended {
			immediate = vals
			return
		}
		if t.waitID != id || !t.waiting {
			return
		}
		vm.resumeTask(t, padResults(vals))
	})
	if done {
		for _, v := range immediate {
			L.Push(v)
		}
		return len(immediate)
	}
	suspended = true
	t.waiting = true
	return L.Yield(vm.waitTag)
}

// resumeResults is how many values a waiting call returns when it resumes.
//
// gopher-lua does not adjust the results of a Go function that yielded to
// the number its caller wants: the resumed values are pushed as they are, and
// the caller's remaining result registers stay unset (Go nil, which crashes
// tostring and passes `if not x`). Padding with nil up to a count no caller
// exceeds in practice makes every wanted result a real nil; extra values land
// in registers the caller has not allocated yet.
const resumeResults = 16

func padResults(vals []glua.LValue) []glua.LValue {
	for len(vals) < resumeResults {
		vals = append(vals, glua.LNil)
	}
	return vals
}
