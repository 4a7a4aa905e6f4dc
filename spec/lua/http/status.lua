-- Spec of http's status and default Content-Type: ?status=N answers N with
-- the body "status N" and no headers.
local Status = {}

function Status.http(req)
  local status = tonumber(req.query.status)
  return status, "status " .. status
end

return Status
