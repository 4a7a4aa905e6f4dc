-- Spec of ws.log.* and print. Each call below is on a line of its own:
-- spec_test.go finds the line of each message ("spec-info" …) in this file
-- and expects it as the record's source, with the record's level, the
-- key/value pairs and the connection's conn, handler and remote attributes.
local ws = require("ws")
local expect = require("_expect")

ws.log.info("spec-load", "where", "main chunk")

local Log = {}

function Log.accept(req)
  return 101, { id = "log-1" }
end

function Log:on_open()
  local s = expect.suite()
  s:check("ws.log functions", function()
    for _, level in ipairs({ "debug", "info", "warn", "error" }) do
      expect.eq(type(ws.log[level]), "function", "type of ws.log." .. level)
    end
    expect.eq(select("#", ws.log.debug("spec-returns")), 0, "values returned by ws.log.debug")
  end)
  ws.log.info("spec-info", "str", "v w", "num", 3, "float", 1.5, "bool", true, "tbl", { a = 1, b = { 2 } })
  ws.log.debug("spec-debug", "k", "d")
  ws.log.warn("spec-warn", "k", "w")
  ws.log.error("spec-error", "k", "e")
  print("spec-print", 1, true, nil)
  s:send(self.conn)
end

return Log
