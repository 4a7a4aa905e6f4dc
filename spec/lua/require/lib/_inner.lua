local M = {}
function M.text() return "inner of lib" end
return M
