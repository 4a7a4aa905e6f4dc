-- Spec of max_connections: at most 2 open connections; the third is 503.
local Limited = { max_connections = 2 }

function Limited:on_open() self.conn:send("done") end

return Limited
