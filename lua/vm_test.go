package lua_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"evserver/lua"
	"evserver/ws"
)

// fakeConn records what a script sends.
type fakeConn struct {
	info lua.ConnInfo
	sent []string
}

func (c *fakeConn) Send(data string, binary bool) error { c.sent = append(c.sent, data); return nil }
func (c *fakeConn) Ping(string) error                   { return nil }
func (c *fakeConn) Close(ws.StatusCode, string) error   { return nil }
func (c *fakeConn) Abort() error                        { return nil }
func (c *fakeConn) Info() *lua.ConnInfo                 { return &c.info }

// queueHost runs timers when the test says so, as a worker would.
type queueHost struct{ due []func() }

func (h *queueHost) After(d time.Duration, fn func()) func() bool {
	h.due = append(h.due, fn)
	return func() bool { return false }
}
func (h *queueHost) Dial(*lua.DialRequest, func(lua.Outbound, *ws.Response, error)) {}

func (h *queueHost) runDue() {
	for len(h.due) > 0 {
		fn := h.due[0]
		h.due = h.due[1:]
		fn()
	}
}

func newVM(t testing.TB, src string) (*lua.VM, *lua.Class, *queueHost) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "h.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := lua.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	host := &queueHost{}
	vm, err := lua.NewVM(set, lua.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Host: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	class, err := vm.Class("h")
	if err != nil {
		t.Fatal(err)
	}
	return vm, class, host
}

func newInstance(t testing.TB, vm *lua.VM, class *lua.Class) (*lua.Instance, *fakeConn) {
	c := &fakeConn{info: lua.ConnInfo{ID: "1", BaseLog: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	var inst *lua.Instance
	vm.NewInstance(class, c, func(i *lua.Instance, err error) {
		if err != nil {
			t.Fatal(err)
		}
		inst = i
	})
	return inst, c
}

const counterLua = `
local ws = require("ws")
local H = {}
function H:on_message(msg)
  self.n = (self.n or 0) + 1
  if msg == "wait" then ws.sleep(0) end
  local ok = pcall(function() return self.n end)
end
return H`

// Events run as reused coroutines: a million of them, a tenth of them
// suspended and resumed, leave the heap where it was.
func TestMillionEventsKeepMemoryFlat(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	vm, class, host := newVM(t, counterLua)
	inst, _ := newInstance(t, vm, class)
	msg, wait := []byte("x"), []byte("wait")
	failed := false
	done := func(err error) {
		if err != nil && !failed {
			failed = true
			t.Error(err)
		}
	}
	run := func(k int) {
		for i := 0; i < k; i++ {
			m := msg
			if i%10 == 0 {
				m = wait
			}
			vm.OnMessage(inst, m, false, done)
			host.runDue()
		}
	}
	run(10_000) // warm up pools
	before := heap()
	run(n)
	after := heap()
	t.Logf("heap before %d KiB, after %d events %d KiB", before>>10, n, after>>10)
	if after > before+2<<20 {
		t.Fatalf("heap grew from %d KiB to %d KiB over %d events", before>>10, after>>10, n)
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func BenchmarkOnMessage(b *testing.B) {
	vm, class, _ := newVM(b, `local H = {} function H:on_message(m, k) self.conn:send(m, k) end return H`)
	inst, c := newInstance(b, vm, class)
	msg := []byte("hello, world")
	done := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		vm.OnMessage(inst, msg, false, done)
		c.sent = c.sent[:0]
	}
}
