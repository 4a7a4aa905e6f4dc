-- Spec of accept's refusals: ?status=N refuses with N; 401 and 403 carry a
-- reason and headers, other statuses nothing.
local Refuse = {}

function Refuse.accept(req)
  local status = tonumber(req.query.status)
  if status == 401 then
    return 401, { reason = "token required", headers = { ["WWW-Authenticate"] = "Bearer" } }
  elseif status == 403 then
    return 403, { reason = "not for you", headers = { ["X-Why"] = "banned" } }
  end
  return status
end

function Refuse:on_open()
  self.conn:send("FAIL refuse: status " .. tostring(self.conn.query.status) .. " was accepted")
  self.conn:send("done")
end

return Refuse
