-- Spec of http's bad results, each a handler error → 500: ?case= picks one.
local Bad = {}

local results = {
  ["100"] = function() return 100, "x" end,
  ["600"] = function() return 600, "x" end,
  ["nil"] = function() return nil end,
  ["string"] = function() return "200", "x" end,
  ["body-table"] = function() return 200, {} end,
  ["headers-string"] = function() return 200, "x", "X-A: b" end,
  ["managed"] = function() return 200, "x", { ["Content-Length"] = "1" } end,
  ["error"] = function() error("http failed on purpose") end,
}

function Bad.http(req)
  return results[req.query.case]()
end

return Bad
