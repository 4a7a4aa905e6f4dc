-- Spec of ws.now(): seconds since the epoch as a float with sub-millisecond
-- precision, increasing, close to os.time(). It also sends "info now <t>"
-- so that spec_test.go can compare it with Go's clock.
local ws = require("ws")
local expect = require("_expect")

local Now = {}

function Now:on_open()
  local s = expect.suite()
  local t0 = ws.now()
  s:check("ws.now is a number", function() expect.eq(type(t0), "number", "type of ws.now()") end)
  s:check("ws.now is close to os.time", function()
    expect.truthy(math.abs(t0 - os.time()) < 2, string.format("|%f - os.time()| < 2", t0))
  end)
  s:check("ws.now has sub-second precision", function()
    -- Over many samples at least one has a fractional part below the second
    -- and one below the millisecond.
    local frac, subms = false, false
    for _ = 1, 1000 do
      local t = ws.now()
      if t ~= math.floor(t) then frac = true end
      if (t * 1000) ~= math.floor(t * 1000) then subms = true end
      if frac and subms then break end
    end
    expect.truthy(frac, "a fractional second seen")
    expect.truthy(subms, "a fraction of a millisecond seen")
  end)
  s:check("ws.now increases", function()
    local prev, later = ws.now(), nil
    local start = os.clock()
    repeat
      local t = ws.now()
      expect.truthy(t >= prev, "ws.now() never goes back")
      if t > t0 then later = t end
      prev = t
    until later or os.clock() - start > 1
    expect.truthy(later, "ws.now() grew within a second")
  end)
  self.conn:send(string.format("info now %.6f", ws.now()))
  s:send(self.conn)
end

return Now
