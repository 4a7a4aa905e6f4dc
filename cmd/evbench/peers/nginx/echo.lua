-- WebSocket echo for nginx-extras (ngx_http_lua) with lua-resty-websocket, which Debian's lua-nginx-websocket
-- installs as nginx.websocket.server (OpenResty names it resty.websocket.server).
-- Every message goes back with its own kind; fragmented messages are reassembled first; pings are answered;
-- a close is echoed with the client's code and ends the handler, which makes nginx close the connection.
local server = require "nginx.websocket.server"

local wb, err = server:new{
  -- recv_frame returns "timeout" after this long without a frame; the loop below just waits again, so idle
  -- connections stay open.
  timeout = 60000,
  max_payload_len = 1048576, -- evserver's -max-message-size default
}
if not wb then
  ngx.log(ngx.ERR, "websocket handshake failed: ", err)
  return ngx.exit(400)
end

local parts, kind = nil, nil
while true do
  local data, typ, rerr = wb:recv_frame()
  if not data then
    if not (rerr and rerr:find("timeout", 1, true)) then
      return ngx.exit(444) -- connection gone or protocol error: close without a response
    end
  elseif typ == "close" then
    -- For a close frame, rerr holds the status code.
    wb:send_close(tonumber(rerr) or 1000)
    return ngx.exit(ngx.OK)
  elseif typ == "ping" then
    wb:send_pong(data)
  elseif typ == "pong" then
    -- nothing to do
  elseif typ == "text" or typ == "binary" or typ == "continuation" then
    if typ ~= "continuation" then
      kind, parts = typ, {}
    elseif not parts then
      return ngx.exit(444) -- a continuation frame with no message to continue
    end
    if rerr == "again" then
      -- not the final fragment: keep it until the message is whole
      parts[#parts + 1] = data
    else
      local msg = data
      if parts and #parts > 0 then
        parts[#parts + 1] = data
        msg = table.concat(parts)
      end
      parts = nil
      local _, serr
      if kind == "text" then
        _, serr = wb:send_text(msg)
      else
        _, serr = wb:send_binary(msg)
      end
      if serr then
        return ngx.exit(444)
      end
    end
  end
end
