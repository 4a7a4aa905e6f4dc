-- Spec of new results that refuse the handshake with 500: ?case= picks one.
local BadNew = {}

function BadNew.new(conn)
  local case = conn.query.case
  if case == "nil" then
    return nil
  elseif case == "number" then
    return 42
  elseif case == "string" then
    return "instance"
  elseif case == "error" then
    error("new failed on purpose")
  end
  return setmetatable({ conn = conn }, BadNew)
end

function BadNew:on_open()
  self.conn:send("FAIL badnew: case " .. tostring(self.conn.query.case) .. " was accepted")
  self.conn:send("done")
end

return BadNew
