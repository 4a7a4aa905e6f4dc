-- A handler that req.lua requires: it gets the class.
local Other = { marker = "the other handler" }
function Other:on_open() self.conn:send("done") end
return Other
