package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// openSandbox opens the libraries handlers may use: base (without dofile,
// loadfile and the package loader), string, table, math, coroutine and a
// reduced os (time, clock, date, difftime). io, debug, os.execute/exit/remove/
// rename/getenv and package.loadlib are absent; require is evserver's own and
// resolves only inside the handlers directory (see require in vm.go).
func openSandbox(L *glua.LState) {
	for _, lib := range []struct {
		name string
		fn   glua.LGFunction
	}{
		{glua.BaseLibName, glua.OpenBase},
		{glua.TabLibName, glua.OpenTable},
		{glua.StringLibName, glua.OpenString},
		{glua.MathLibName, glua.OpenMath},
		{glua.CoroutineLibName, glua.OpenCoroutine},
		{glua.OsLibName, glua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	for _, name := range []string{"dofile", "loadfile", "module", "_printregs"} {
		g.RawSetString(name, glua.LNil)
	}
	if os, ok := g.RawGetString("os").(*glua.LTable); ok {
		safe := L.NewTable()
		for _, name := range []string{"time", "clock", "date", "difftime"} {
			safe.RawSetString(name, os.RawGetString(name))
		}
		g.RawSetString("os", safe)
	}
}
