-- handlers/echo.lua answers ws://host/echo: every message goes back to its
-- sender with its kind (text as text, binary as binary).
local Echo = {}

function Echo:on_message(msg, kind)
  self.conn:send(msg, kind)
end

return Echo
