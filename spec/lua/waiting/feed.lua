-- msg_handler of the waiting spec: records what it sees in its context.
local Feed = {}
function Feed:on_open() self.context.opened = true end
function Feed:on_message(msg, kind) self.context[#self.context + 1] = msg .. " " .. kind end
return Feed
