-- Spec of the protocols option: the engine selects the first protocol of
-- the CLIENT's offer that the class lists, never one it did not offer.
-- spec_test.go announces the expected choice as ?want= ("" for none).
local expect = require("_expect")

local Proto = { protocols = { "chat.v2", "chat.v1" } }

function Proto:on_open()
  local s = expect.suite()
  local want = self.conn.query.want or ""
  s:check("protocol " .. (want == "" and "none" or want), function()
    expect.eq(self.conn.protocol, want, "conn.protocol")
  end)
  s:send(self.conn)
end

return Proto
