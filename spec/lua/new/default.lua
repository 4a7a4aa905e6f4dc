-- Spec of the default instance: without new the engine makes
-- setmetatable({ conn = conn }, Class) and sets Class.__index = Class.
local expect = require("_expect")

local Default = {}          -- no __index: the engine must set it

function Default:greet()
  return "hi from " .. self.conn.handler
end

function Default:on_open()
  local s = expect.suite()
  s:check("default instance", function()
    expect.eq(getmetatable(self), Default, "metatable of self")
    expect.eq(rawget(Default, "__index"), Default, "Default.__index set by the engine")
    expect.eq(type(rawget(self, "conn")), "userdata", "type of self.conn")
    local keys = 0
    for k in pairs(self) do
      keys = keys + 1
      expect.eq(k, "conn", "key of the default instance")
    end
    expect.eq(keys, 1, "number of keys of the default instance")
  end)
  s:check("class methods from the instance", function()
    expect.eq(self:greet(), "hi from default", "self:greet()")
  end)
  s:send(self.conn)
end

return Default
