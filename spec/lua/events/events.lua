-- Spec of on_open, on_message(msg, kind) and on_close(code, reason).
--
-- Every connection names its case in the query (?case=NAME, also its id).
--   case=messages: the client sends the messages of EXPECTED in order, then
--     "seq 1" … "seq 100" back to back; every one is checked here.
--   other cases end the connection in some way; on_close checks the code
--     and reason the query announces (?code=4001&reason=bye) and logs the
--     result, since nothing can be sent from on_close. Without a reason in
--     the query only the code is checked.
-- Commands: "close <code> <reason>" (server closes), "error" (the handler
-- raises), "yield" (the handler yields outside its own coroutine).
local expect = require("_expect")

local Events = {}

local EXPECTED = {
  { "text", "héllo wörld" },
  { "binary", "\0\1\2\255" },
  { "text", "" },
  { "binary", "" },
  { "text", string.rep("ab", 5000) },       -- the client sends it in fragments
  { "binary", string.rep("\7", 20000) },    -- idem
}
local SEQ = 100

local closes = {} -- case → number of on_close calls on this worker

function Events.accept(req)
  return 101, { id = req.query.case }
end

function Events.new(conn)
  return setmetatable({ conn = conn, trace = { "new" }, n = 0, seq = 0, suite = expect.suite() }, Events)
end

function Events:on_open()
  self.trace[#self.trace + 1] = "open"
  local s = self.suite
  s:check("on_open after new", function()
    expect.eq(table.concat(self.trace, ","), "new,open", "events so far")
  end)
  s:check("coroutines inside an event", function()
    local co = coroutine.wrap(function(a)
      local b = coroutine.yield(a + 1)
      return b * 2
    end)
    expect.eq(co(1), 2, "first resume")
    expect.eq(co(5), 10, "second resume")
  end)
  s:send(self.conn)
end

function Events:on_message(msg, kind)
  local s = self.suite
  local code, reason = string.match(msg, "^close (%d+) ?(.*)$")
  if code then
    assert(self.conn:close(tonumber(code), reason))
    return
  elseif msg == "error" then
    error("on_message failed on purpose")
  elseif msg == "yield" then
    coroutine.yield("not allowed")
    return
  end
  local seq = string.match(msg, "^seq (%d+)$")
  if seq then
    self.seq = self.seq + 1
    if tonumber(seq) ~= self.seq then
      s:check("messages in order", function() expect.eq(tonumber(seq), self.seq, "sequence number") end)
    end
    if self.seq == SEQ then
      s:check("messages in order", function() end)
      s:send(self.conn)
    end
    return
  end
  self.n = self.n + 1
  local want = EXPECTED[self.n]
  s:check("message " .. self.n, function()
    expect.truthy(want, "an expected message")
    expect.eq(kind, want[1], "kind")
    expect.eq(type(msg), "string", "type of msg")
    expect.eq(#msg, #want[2], "length of msg")
    expect.eq(msg, want[2], "msg")
  end)
  if self.n == #EXPECTED then
    s:send(self.conn)
  end
end

function Events:on_close(code, reason)
  local case = self.conn.query.case
  closes[case] = (closes[case] or 0) + 1
  local s = self.suite
  s:check("on_close " .. case, function()
    expect.eq(code, tonumber(self.conn.query.code), "code")
    -- The reason is checked when the query gives one (the reason of the
    -- server's own close frames after errors is not part of the API).
    if self.conn.query.reason then
      expect.eq(reason, self.conn.query.reason, "reason")
    else
      expect.eq(type(reason), "string", "type of reason")
    end
    expect.eq(closes[case], 1, "on_close calls")
  end)
  s:check("no send in on_close " .. case, function()
    expect.fails("connection is closing", self.conn.send, self.conn, "too late")
  end)
  s:log()
end

return Events
