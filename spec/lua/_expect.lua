-- _expect.lua: the assertion helper of the Lua specs. spec_test.go copies it
-- into every spec's handlers directory, so a spec loads it with
-- require("_expect") (a "_" file is a helper module, not an endpoint).
--
-- A spec groups its checks in a suite. Each check runs in pcall and records
-- "ok <name>" or "FAIL <name>: <why>"; the suite then sends the results to
-- the client (followed by "done") or writes them to the server log (from
-- on_close, when nothing can be sent any more). spec_test.go fails on every
-- FAIL and on every expected "ok" that does not arrive.
local ws = require("ws")

local M = {}

-- The error level that blames the caller of an assertion: gopher-lua counts
-- one level more than Lua 5.1 does (its level 2 is still the function that
-- calls error).
local LEVEL = 3

local function show(v)
  if type(v) == "string" then
    return string.format("%q", v)
  end
  return tostring(v)
end
M.show = show

-- eq fails unless got == want (raw Lua equality).
function M.eq(got, want, what)
  if got ~= want then
    error(string.format("%s: got %s, want %s", what or "value", show(got), show(want)), LEVEL)
  end
end

-- truthy fails unless v is neither nil nor false.
function M.truthy(v, what)
  if not v then
    error(string.format("%s: got %s, want a true value", what or "condition", show(v)), LEVEL)
  end
end

-- match fails unless s is a string matching the Lua pattern.
function M.match(s, pattern, what)
  if type(s) ~= "string" or not string.find(s, pattern) then
    error(string.format("%s: %s does not match the pattern %q", what or "value", show(s), pattern), LEVEL)
  end
end

-- error calls fn(...) and fails unless it raises an error whose message
-- contains text (a plain substring). It returns the message.
function M.error(text, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then
    error(string.format("expected an error containing %q, the call succeeded", text), LEVEL)
  end
  err = tostring(err)
  if not string.find(err, text, 1, true) then
    error(string.format("error %q does not contain %q", err, text), LEVEL)
  end
  return err
end

-- fails calls fn(...) and fails unless it returns nil and a message that
-- contains text (the "nil, err" convention of conn methods and json.decode).
function M.fails(text, fn, ...)
  local v, err = fn(...)
  if v ~= nil then
    error(string.format("expected nil and an error containing %q, got %s", text, show(v)), LEVEL)
  end
  if type(err) ~= "string" or not string.find(err, text, 1, true) then
    error(string.format("error %s does not contain %q", show(err), text), LEVEL)
  end
  return err
end

local Suite = {}
Suite.__index = Suite

-- suite makes an empty suite.
function M.suite()
  return setmetatable({ results = {} }, Suite)
end

-- check runs fn(...) and records its result under name.
function Suite:check(name, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then
    self.results[#self.results + 1] = "ok " .. name
  else
    self.results[#self.results + 1] = "FAIL " .. name .. ": " .. tostring(err)
  end
end

-- send sends every recorded result, then "done", and forgets them.
function Suite:send(conn)
  for _, r in ipairs(self.results) do
    assert(conn:send(r))
  end
  assert(conn:send("done"))
  self.results = {}
end

-- log writes every recorded result to the server log (msg "spec result",
-- attribute result) and forgets them.
function Suite:log()
  for _, r in ipairs(self.results) do
    ws.log.info("spec result", "result", r)
  end
  self.results = {}
end

return M
