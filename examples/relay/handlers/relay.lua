-- relay.lua: every client of ws://host/relay/<anything> is relayed to an
-- upstream WebSocket server. Messages from the client go upstream; messages
-- from upstream come back to the client (through the _upstream class); when
-- either side closes, the other is closed with the same code.
--
-- The upstream URL comes from the query (?upstream=ws://...) when allowed,
-- else from UPSTREAM below.
local ws = require("ws")
local Upstream = require("_upstream")

local UPSTREAM = "ws://127.0.0.1:9001/echo"

local Relay = {}

function Relay.accept(req)
  local url = req.query.upstream or UPSTREAM
  if not url:match("^wss?://") then
    return 400, { reason = "upstream must be a ws:// or wss:// URL" }
  end
  return 101
end

function Relay:on_open()
  local url = self.conn.query.upstream or UPSTREAM
  -- ws.connect waits for the upstream handshake without blocking the worker;
  -- this connection's messages wait until on_open returns.
  local up, err, status = ws.connect{ url = url, msg_handler = Upstream, context = self.conn, timeout = 5 }
  if not up then
    ws.log.warn("upstream refused", "url", url, "error", err, "status", status)
    self.conn:close(4502, "upstream unavailable")
    return
  end
  self.up = up
end

function Relay:on_message(msg, kind)
  if self.up then self.up:send(msg, kind) end
end

function Relay:on_close(code, reason)
  -- Outbound connections outlive the script that opened them: close it.
  if self.up then self.up:close(1000, "client left") end
end

return Relay
