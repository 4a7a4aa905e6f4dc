-- Spec of conn.handler, conn.path and conn.tail for a nested handler:
-- spec_test.go dials /iot/devices/d1?tail=d1 and /iot/devices?tail=.
local expect = require("_expect")

local Devices = {}

function Devices:on_open()
  local c, s = self.conn, expect.suite()
  local tail = c.query.tail
  s:check("nested handler " .. (tail == "" and "without tail" or "with tail"), function()
    expect.eq(c.handler, "iot/devices", "conn.handler")
    if tail == "" then
      expect.eq(c.path, "/iot/devices", "conn.path")
    else
      expect.eq(c.path, "/iot/devices/" .. tail, "conn.path")
    end
    expect.eq(c.tail, tail, "conn.tail")
  end)
  s:send(c)
end

return Devices
