-- A helper module: not an endpoint (/_helper answers 404).
helper_loads = (helper_loads or 0) + 1
local M = {}
function M.greeting(name) return "hello, " .. name end
return M
