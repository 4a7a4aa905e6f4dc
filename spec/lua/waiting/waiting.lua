-- Spec of the waiting calls: ws.sleep, ws.after, ws.every, ws.connect and
-- conn:receive. It connects to its own server (echo.lua, feed.lua beside it).
local ws = require("ws")
local expect = require("_expect")

local W = {}

function W:on_open()
  local s = expect.suite()
  local conn = self.conn
  local base = "ws://127.0.0.1:" .. conn.port

  s:check("ws.sleep waits and returns nothing", function()
    local t0 = ws.now()
    local n = select("#", ws.sleep(0.05))
    expect.truthy(ws.now() - t0 >= 0.045, "slept at least 0.05 s")
    expect.eq(ws.sleep(0), nil, "result of ws.sleep")
    expect.truthy(n >= 0, "results counted")
  end)
  s:check("ws.sleep refuses a negative time", function()
    expect.error("must be a number of seconds", ws.sleep, -1)
  end)
  s:check("ws.after runs in time order and cancel stops it", function()
    local order = {}
    ws.after(0.03, function() order[#order + 1] = "b" end)
    ws.after(0.01, function() order[#order + 1] = "a" end)
    local h = ws.after(0.02, function() order[#order + 1] = "cancelled" end)
    expect.eq(h:cancel(), true, "first cancel")
    expect.eq(h:cancel(), false, "second cancel")
    ws.sleep(0.08)
    expect.eq(table.concat(order, ","), "a,b", "order")
  end)
  s:check("ws.every repeats until cancelled", function()
    local n, h = 0, nil
    h = ws.every(0.01, function() n = n + 1; if n == 3 then h:cancel() end end)
    ws.sleep(0.1)
    expect.eq(n, 3, "ticks")
    expect.error("must be a number of seconds > 0", ws.every, 0, function() end)
  end)
  s:check("ws.connect and conn:receive", function()
    local c, status, headers = ws.connect{ url = base .. "/echo", timeout = 2 }
    expect.truthy(c, "connected")
    expect.eq(status, 101, "status")
    expect.eq(headers["upgrade"], "websocket", "response header")
    expect.eq(c.path, "/echo", "outbound conn.path")
    c:send("one")
    c:send("\0\1", "binary")
    local m, k = c:receive(2)
    expect.eq(m, "one", "first message"); expect.eq(k, "text", "first kind")
    m, k = c:receive(2)
    expect.eq(m, "\0\1", "second message"); expect.eq(k, "binary", "second kind")
    local none, err = c:receive(0.05)
    expect.eq(none, nil, "nothing to receive"); expect.eq(err, "timeout", "receive timeout")
    c:close()
    expect.fails("connection closed", c.receive, c, 2)
  end)
  s:check("ws.connect with a msg_handler and context", function()
    local got = {}
    local c = ws.connect{ url = base .. "/echo", msg_handler = "feed", context = got }
    expect.truthy(c, "connected")
    expect.eq(got.opened, true, "on_open ran before ws.connect returned")
    c:send("via feed")
    ws.sleep(0.1)
    expect.eq(got[1], "via feed text", "message reached the msg_handler")
    expect.fails("msg_handler", c.receive, c, 0.01)
    c:close()
  end)
  s:check("ws.connect errors", function()
    expect.fails("url: required", ws.connect, {})
    expect.fails("header Sec-WebSocket-Key is managed by evserver", ws.connect,
      { url = base .. "/echo", headers = { ["Sec-WebSocket-Key"] = "x" } })
    expect.fails("connection refused", ws.connect, { url = "ws://127.0.0.1:1/x", timeout = 1 })
    local c, err, status = ws.connect{ url = base .. "/nothing-here" }
    expect.eq(c, nil, "refused connection")
    expect.match(err, "404", "error names the status")
    expect.eq(status, 404, "status of the refusal")
  end)
  s:check("conn:abort resets at once", function()
    local c = ws.connect{ url = base .. "/echo" }
    expect.truthy(c, "connected")
    expect.eq(c:abort(), true, "abort")
    expect.fails("connection is closing", c.send, c, "too late")
    expect.fails("connection closed", c.receive, c, 1)
  end)
  s:check("conn:receive is only for outbound connections", function()
    expect.error("only connections opened by ws.connect", conn.receive, conn, 1)
  end)
  s:send(conn)
end

return W
