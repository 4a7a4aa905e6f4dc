-- Spec of accept(req)'s argument. spec_test.go dials
--   /req/a%20b/c?a=1&b=x%20y&a=2&port=<port>   (case "full")
-- with the headers X-Custom: Value and X-Rep: one, X-Rep: two and the
-- subprotocols "p2", "p1"; then /req?case=bare with no subprotocol.
-- accept runs its checks, keeps the suite under the connection id it
-- chooses, and on_open sends the results (accept and on_open run on the
-- same worker, so module state carries them).
local expect = require("_expect")

local Req = {}
local pending = {}
local n = 0

local function checkFull(s, req)
  local port = req.query.port
  s:check("req.method", function() expect.eq(req.method, "GET", "req.method") end)
  s:check("req.path", function() expect.eq(req.path, "/req/a b/c", "req.path (decoded)") end)
  s:check("req.tail", function() expect.eq(req.tail, "a b/c", "req.tail") end)
  s:check("req.query", function()
    expect.eq(req.query.a, "1", "req.query.a (first of a repeated parameter)")
    expect.eq(req.query.b, "x y", "req.query.b (decoded)")
    expect.eq(req.query.nope, nil, "req.query.nope")
  end)
  s:check("req.headers", function()
    expect.eq(req.headers["x-custom"], "Value", "req.headers[\"x-custom\"]")
    expect.eq(req.headers["X-Custom"], nil, "req.headers[\"X-Custom\"] (names are lower-case)")
    expect.eq(req.headers["x-rep"], "one, two", "req.headers[\"x-rep\"] (repeated header joined)")
    expect.eq(req.headers["sec-websocket-version"], "13", "req.headers[\"sec-websocket-version\"]")
    expect.eq(req.headers["host"], "127.0.0.1:" .. port, "req.headers.host")
    for name in pairs(req.headers) do
      expect.eq(name, string.lower(name), "header name")
    end
  end)
  s:check("req.host", function() expect.eq(req.host, "127.0.0.1:" .. port, "req.host") end)
  s:check("req.remote_addr", function() expect.match(req.remote_addr, "^127%.0%.0%.1:%d+$", "req.remote_addr") end)
  s:check("req.protocols", function()
    expect.eq(type(req.protocols), "table", "type of req.protocols")
    expect.eq(#req.protocols, 2, "#req.protocols")
    expect.eq(req.protocols[1], "p2", "req.protocols[1] (client's order)")
    expect.eq(req.protocols[2], "p1", "req.protocols[2]")
  end)
  s:check("req.is_tls", function() expect.eq(req.is_tls, false, "req.is_tls on ws://") end)
  s:check("req.auth", function() expect.eq(req.auth, nil, "req.auth without authenticate") end)
end

local function checkBare(s, req)
  s:check("bare req.tail", function() expect.eq(req.tail, "", "req.tail without a tail") end)
  s:check("bare req.path", function() expect.eq(req.path, "/req", "req.path") end)
  s:check("bare req.protocols", function()
    expect.eq(type(req.protocols), "table", "type of req.protocols")
    expect.eq(#req.protocols, 0, "#req.protocols when none is offered")
    expect.eq(next(req.protocols), nil, "next(req.protocols)")
  end)
  s:check("bare req.query", function()
    local keys = 0
    for _ in pairs(req.query) do keys = keys + 1 end
    expect.eq(keys, 1, "number of query parameters")
    expect.eq(req.query.case, "bare", "req.query.case")
  end)
end

function Req.accept(req)
  local s = expect.suite()
  if req.query.case == "bare" then
    checkBare(s, req)
  else
    checkFull(s, req)
  end
  n = n + 1
  local id = "req-" .. n
  pending[id] = s
  return 101, { id = id }
end

function Req:on_open()
  local s = pending[self.conn.id]
  pending[self.conn.id] = nil
  if not s then
    s = expect.suite()
    s:check("accept ran on this worker", function() error("no results kept for " .. self.conn.id) end)
  end
  s:send(self.conn)
end

return Req
