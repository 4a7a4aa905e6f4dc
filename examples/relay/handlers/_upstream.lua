-- _upstream.lua: the msg_handler class of the upstream side of a relay.
-- Its context is the client's conn.
local Upstream = {}

function Upstream.new(conn, client)
  return setmetatable({ conn = conn, client = client }, Upstream)
end

function Upstream:on_message(msg, kind)
  self.client:send(msg, kind)
end

function Upstream:on_close(code, reason)
  -- The upstream went away: tell the client (its on_close then runs).
  self.client:close(code == 1000 and 1000 or 4503, "upstream closed")
end

return Upstream
