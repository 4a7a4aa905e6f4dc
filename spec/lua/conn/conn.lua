-- Spec of the conn object: its fields, conn:send, conn:ping and conn:close.
-- spec_test.go dials
--   /conn/room%201/x?id=spec-N&b=x%20y&rep=first&rep=second&port=<port>
-- offering the subprotocols "other", "spec.v1"; a second connection dials
-- /conn without id to get an engine-made id.
local expect = require("_expect")

local Conn = { protocols = { "spec.v1" } }

local FIELDS = { "id", "handler", "path", "tail", "query", "protocol", "remote_addr", "host", "port", "is_tls" }

function Conn.accept(req)
  if req.query.id then
    return 101, { id = req.query.id }
  end
  return 101
end

function Conn.new(conn)
  local self = setmetatable({ conn = conn, suite = expect.suite() }, Conn)
  self.suite:check("send before open", function()
    expect.fails("not open yet", conn.send, conn, "too early")
  end)
  return self
end

function Conn:on_open()
  local c, q, s = self.conn, self.conn.query, self.suite
  if not q.id then
    -- the second connection: only the engine-made id is under test
    s:check("engine-made id", function()
      expect.match(c.id, "^%d+$", "conn.id")
      expect.eq(c.tail, "", "conn.tail without a tail")
      expect.eq(c.protocol, "", "conn.protocol when nothing was offered")
    end)
    assert(c:send("info id " .. c.id))
    s:send(c)
    return
  end
  s:check("id", function() expect.eq(c.id, q.id, "conn.id (from accept)") end)
  s:check("handler", function() expect.eq(c.handler, "conn", "conn.handler") end)
  s:check("path", function() expect.eq(c.path, "/conn/room 1/x", "conn.path (decoded)") end)
  s:check("tail", function() expect.eq(c.tail, "room 1/x", "conn.tail") end)
  s:check("query", function()
    expect.eq(type(c.query), "table", "type of conn.query")
    expect.eq(c.query.b, "x y", "conn.query.b (decoded)")
    expect.eq(c.query.rep, "first", "conn.query.rep (first of a repeated parameter)")
    expect.match(c.query.id, "^spec%-%d+$", "conn.query.id")
    expect.eq(c.query.missing, nil, "conn.query.missing")
  end)
  s:check("protocol", function() expect.eq(c.protocol, "spec.v1", "conn.protocol") end)
  s:check("remote_addr", function() expect.match(c.remote_addr, "^127%.0%.0%.1:%d+$", "conn.remote_addr") end)
  s:check("host", function() expect.eq(c.host, "127.0.0.1", "conn.host (without the port)") end)
  s:check("port", function()
    expect.eq(type(c.port), "number", "type of conn.port")
    expect.eq(c.port, tonumber(q.port), "conn.port")
  end)
  s:check("is_tls", function() expect.eq(c.is_tls, false, "conn.is_tls on ws://") end)
  s:check("fields are read-only", function()
    for _, name in ipairs(FIELDS) do
      local before = c[name]
      expect.error("read-only", function() c[name] = "changed" end)
      expect.eq(c[name], before, "conn." .. name .. " after a refused assignment")
    end
    expect.error("read-only", function() c.custom = 1 end)
    expect.eq(c.custom, nil, "conn.custom after a refused assignment")
  end)
  s:check("methods through the instance", function()
    expect.eq(type(self.conn.send), "function", "conn.send")
    expect.eq(type(self.conn.close), "function", "conn.close")
    expect.eq(type(self.conn.ping), "function", "conn.ping")
  end)
  s:send(c)
end

local commands = {}

-- "remote <ip:port>": the client tells its own address.
function commands.remote(self, arg)
  self.suite:check("remote_addr is the client's address", function()
    expect.eq(self.conn.remote_addr, arg, "conn.remote_addr")
  end)
  self.suite:send(self.conn)
end

-- "send": three messages the client checks, then the error cases.
function commands.send(self)
  local c, s = self.conn, self.suite
  s:check("send default kind", function() expect.eq(c:send("text é"), true, "conn:send(data)") end)
  s:check("send text", function() expect.eq(c:send("text 2", "text"), true, 'conn:send(data, "text")') end)
  s:check("send binary", function()
    expect.eq(c:send("\0\1\2\255", "binary"), true, 'conn:send(data, "binary")')
  end)
  s:check("send invalid UTF-8 text", function()
    local err = expect.error("not valid UTF-8", c.send, c, "bad \255 text")
    expect.match(err, "conn:send", "the error names conn:send")
    expect.error("not valid UTF-8", c.send, c, "\255", "text")
  end)
  s:check("send bad kind", function()
    expect.error('kind must be "text" or "binary"', c.send, c, "x", "json")
    expect.error('kind must be "text" or "binary"', c.send, c, "x", "TEXT")
  end)
  s:send(c)
end

-- "ping": pings the client checks; then the too-long payload.
function commands.ping(self)
  local c, s = self.conn, self.suite
  s:check("ping with payload", function() expect.eq(c:ping("pp"), true, 'conn:ping("pp")') end)
  s:check("ping without payload", function() expect.eq(c:ping(), true, "conn:ping()") end)
  s:check("ping 125 bytes", function() expect.eq(c:ping(string.rep("x", 125)), true, "conn:ping(125 bytes)") end)
  s:check("ping 126 bytes", function()
    local err = expect.error("at most 125", c.ping, c, string.rep("x", 126))
    expect.match(err, "conn:ping", "the error names conn:ping")
  end)
  s:send(c)
end

-- "close-errors": invalid codes and reasons are Lua errors and leave the
-- connection open.
commands["close-errors"] = function(self)
  local c, s = self.conn, self.suite
  s:check("close invalid codes", function()
    for _, code in ipairs({ 0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535 }) do
      expect.error("invalid close code", c.close, c, code)
    end
  end)
  s:check("close reason too long", function()
    expect.error("at most 123", c.close, c, 4000, string.rep("r", 124))
  end)
  s:check("close reason not UTF-8", function()
    expect.error("UTF-8", c.close, c, 4000, "\255")
  end)
  s:check("still open after refused closes", function()
    expect.eq(c:send("still open"), true, "conn:send after the refused closes")
  end)
  s:send(c)
end

-- "close <code> <reason>": the server closes; what follows is logged.
local function closeWith(self, code, reason)
  local c, s = self.conn, self.suite
  self.want = { code = code or 1000, reason = reason or "" }
  local name = "close " .. self.want.code
  s:check(name .. " returns true", function()
    local ok
    if code then ok = c:close(code, reason) else ok = c:close() end
    expect.eq(ok, true, "conn:close")
  end)
  s:check(name .. " then send", function() expect.fails("connection is closing", c.send, c, "late") end)
  s:check(name .. " then ping", function() expect.fails("connection is closing", c.ping, c) end)
  s:check(name .. " then close", function() expect.fails("connection is closing", c.close, c) end)
  s:log()
end

commands["close-default"] = function(self) closeWith(self) end
commands["close-custom"] = function(self)
  -- 61 two-byte characters and one more byte: 123 bytes, the longest reason
  closeWith(self, 4001, string.rep("é", 61) .. "x")
end

function Conn:on_message(msg, kind)
  local name, arg = string.match(msg, "^(%S+)%s?(.*)$")
  local cmd = commands[name]
  if not cmd then
    self.suite:check("known command", function() error("unknown command " .. expect.show(msg)) end)
    return self.suite:send(self.conn)
  end
  cmd(self, arg)
end

function Conn:on_close(code, reason)
  if not self.want then return end
  local name = "on_close after close " .. self.want.code
  self.suite:check(name, function()
    expect.eq(code, self.want.code, "on_close code")
    expect.eq(reason, self.want.reason, "on_close reason")
  end)
  self.suite:log()
end

return Conn
