-- Spec of require: helper modules ("_" files), nested modules (lib.util and
-- lib/util), the per-VM cache, require("ws"), requiring a handler, and the
-- failures: a missing module, a path outside the handlers directory (the
-- spec runner puts outside.lua next to the directory), a circular require
-- and a helper with a syntax error.
local ws = require("ws")
local expect = require("_expect")
local helper = require("_helper")

local Req = {}

function Req:on_open()
  local s = expect.suite()
  s:check("require helper", function()
    expect.eq(helper.greeting("x"), "hello, x", "helper.greeting")
  end)
  s:check("require is cached", function()
    expect.eq(require("_helper"), helper, "second require(\"_helper\")")
    expect.eq(helper_loads, 1, "times _helper.lua ran on this VM")
  end)
  s:check("require nested with dot", function()
    local util = require("lib.util")
    expect.eq(type(util), "table", "type of lib.util")
    expect.eq(util.name, "lib/util", "util.name")
    expect.eq(util.inner(), "inner of lib", "util.inner() (lib/util requires lib._inner)")
  end)
  s:check("require nested with slash", function()
    expect.eq(require("lib/util"), require("lib.util"), "lib/util and lib.util are one module")
    expect.eq(require("lib/_inner"), require("lib._inner"), "lib/_inner and lib._inner are one module")
  end)
  s:check("require ws", function()
    expect.eq(require("ws"), ws, "require(\"ws\")")
    expect.eq(type(ws.log.info), "function", "ws.log.info")
    expect.eq(type(ws.json.encode), "function", "ws.json.encode")
    expect.eq(type(ws.now), "function", "ws.now")
  end)
  s:check("require a handler", function()
    local other = require("other")
    expect.eq(other.marker, "the other handler", "other.marker")
    expect.eq(type(other.on_open), "function", "other.on_open")
  end)
  s:check("require missing", function()
    expect.error("no module", require, "missing")
    expect.error("no module", require, "lib.missing")
  end)
  s:check("require outside the directory", function()
    for _, name in ipairs({ "outside", "../outside", "..outside", "/outside", "lib/../../outside", "lib/../../outside.lua" }) do
      local ok, v = pcall(require, name)
      expect.eq(ok, false, "require(" .. expect.show(name) .. ") succeeds")
      expect.truthy(not (type(v) == "table" and v.outside), "require(" .. expect.show(name) .. ") loaded outside.lua")
    end
  end)
  s:check("require circular", function()
    expect.error("circular", require, "_cycle_a")
  end)
  s:check("require broken helper", function()
    expect.error("_broken.lua:2", require, "_broken")
  end)
  s:send(self.conn)
end

return Req
