-- Spec of accept's bad results, each a handler error → 500. ?case= picks one.
-- (A bare `return` is covered by engine/handler_test.go in a child process.)
local Bad = {}

local results = {
  ["nil"] = function() return nil end,
  ["200"] = function() return 200 end,
  ["399"] = function() return 399 end,
  ["600"] = function() return 600 end,
  ["101.5"] = function() return 101.5 end,
  ["string"] = function() return "101" end,
  ["table"] = function() return {} end,
  ["opts-string"] = function() return 101, "id" end,
  ["id-table"] = function() return 101, { id = {} } end,
  ["headers-string"] = function() return 101, { headers = "X-A: b" } end,
  -- ?case=managed&name=Upgrade: a header the engine manages
  ["managed"] = function(req) return 101, { headers = { [req.query.name] = "x" } } end,
  ["managed-refusal"] = function(req) return 401, { headers = { [req.query.name] = "3" } } end,
  ["header-crlf"] = function() return 101, { headers = { ["X-A"] = "a\r\nX-Injected: 1" } } end,
}

function Bad.accept(req)
  return results[req.query.case](req)
end

function Bad:on_open()
  self.conn:send("FAIL bad: case " .. tostring(self.conn.query.case) .. " was accepted")
  self.conn:send("done")
end

return Bad
