-- Spec of accept's 101 options. spec_test.go offers "p1", "p2".
--   ?case=options    → 101 with id, protocol "p2" and headers
--   ?case=unoffered  → 101 choosing protocol "zzz", which the client did not offer: 500
--   ?case=plain      → 101 alone: engine-made id, no subprotocol (the class lists none)
local expect = require("_expect")

local Ok = {}

function Ok.accept(req)
  local case = req.query.case
  if case == "options" then
    return 101, { id = "custom-id", protocol = "p2", headers = { ["X-Server"] = "evserver", ["X-Number"] = 7 } }
  elseif case == "unoffered" then
    return 101, { protocol = "zzz" }
  end
  return 101
end

function Ok:on_open()
  local c, s = self.conn, expect.suite()
  if c.query.case == "options" then
    s:check("accept id", function() expect.eq(c.id, "custom-id", "conn.id") end)
    s:check("accept protocol", function() expect.eq(c.protocol, "p2", "conn.protocol") end)
  else
    s:check("accept plain", function()
      expect.match(c.id, "^%d+$", "conn.id (engine-made)")
      expect.eq(c.protocol, "", "conn.protocol")
    end)
  end
  s:send(c)
end

return Ok
