local E = {}
function E:on_message(msg, kind) self.conn:send(msg, kind) end
return E
