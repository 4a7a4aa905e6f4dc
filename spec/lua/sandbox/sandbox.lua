-- Spec of the sandbox: what handlers get and what they do not.
local expect = require("_expect")

local Sandbox = {}

function Sandbox:on_open()
  local s = expect.suite()
  s:check("no io", function() expect.eq(io, nil, "io") end)
  s:check("no debug", function() expect.eq(debug, nil, "debug") end)
  s:check("no dofile", function() expect.eq(dofile, nil, "dofile") end)
  s:check("no loadfile", function() expect.eq(loadfile, nil, "loadfile") end)
  s:check("no dangerous os functions", function()
    for _, name in ipairs({ "execute", "exit", "remove", "rename", "getenv", "tmpname", "setlocale" }) do
      expect.eq(os[name], nil, "os." .. name)
    end
  end)
  s:check("no package loaders", function()
    expect.truthy(package == nil or package.loadlib == nil, "package.loadlib absent")
  end)
  s:check("safe os functions", function()
    for _, name in ipairs({ "time", "clock", "date", "difftime" }) do
      expect.eq(type(os[name]), "function", "os." .. name)
    end
    expect.eq(type(os.time()), "number", "os.time()")
    expect.match(os.date("%Y"), "^%d%d%d%d$", "os.date(\"%Y\")")
    expect.eq(os.difftime(10, 4), 6, "os.difftime(10, 4)")
  end)
  s:check("libraries", function()
    expect.eq(string.rep("ab", 2), "abab", "string.rep")
    expect.eq(table.concat({ 1, 2 }, ","), "1,2", "table.concat")
    expect.eq(math.floor(2.5), 2, "math.floor")
    expect.eq(type(coroutine.create), "function", "coroutine.create")
    expect.eq(type(pcall), "function", "pcall")
    expect.eq(type(setmetatable), "function", "setmetatable")
    expect.eq(type(require), "function", "require")
  end)
  s:check("loaded code sees the same sandbox", function()
    local f = assert(loadstring("return io, debug, dofile, os.execute"))
    local a, b, c, d = f()
    expect.eq(a, nil, "io in loaded code")
    expect.eq(b, nil, "debug in loaded code")
    expect.eq(c, nil, "dofile in loaded code")
    expect.eq(d, nil, "os.execute in loaded code")
  end)
  s:send(self.conn)
end

return Sandbox
