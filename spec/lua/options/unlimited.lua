-- Spec of max_connections = 0: no limit.
local Unlimited = { max_connections = 0 }

function Unlimited:on_open() self.conn:send("done") end

return Unlimited
