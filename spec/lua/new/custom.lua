-- Spec of new(conn) building a custom instance; its state lasts across the
-- connection's events.
local ws = require("ws")
local expect = require("_expect")

local Custom = {}
Custom.__index = Custom

local newConn -- the conn userdata new received, to compare in on_open

function Custom.new(conn)
  newConn = conn
  return setmetatable({ conn = conn, custom = "yes", created = ws.now(), seen = 0 }, Custom)
end

function Custom:count()
  self.seen = self.seen + 1
  return self.seen
end

function Custom:on_open()
  local s = expect.suite()
  s:check("new instance", function()
    expect.eq(getmetatable(self), Custom, "metatable of self")
    expect.eq(self.custom, "yes", "self.custom")
    expect.eq(type(self.created), "number", "type of self.created")
    expect.eq(self.conn, newConn, "self.conn is the conn new received")
    expect.eq(self.conn.handler, "custom", "self.conn.handler")
  end)
  s:send(self.conn)
end

function Custom:on_message(msg)
  local s = expect.suite()
  s:check("state across events " .. msg, function()
    expect.eq(self:count(), tonumber(msg), "messages counted on the instance")
  end)
  s:send(self.conn)
end

return Custom
