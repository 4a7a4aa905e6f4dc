-- Spec of http(req) for plain requests. The checks run inside http and the
-- results are the response body, one per line, then "done".
-- spec_test.go requests GET /page/x%20y?q=a%20b&q=c&port=<port> with the
-- header X-Custom: Value, and POST /page?method=POST.
local expect = require("_expect")

local Page = {}

function Page.http(req)
  local s = expect.suite()
  local port = req.query.port
  if req.query.method then
    s:check("http req.method " .. req.query.method, function()
      expect.eq(req.method, req.query.method, "req.method")
      expect.eq(req.tail, "", "req.tail")
    end)
  else
    s:check("http req.method", function() expect.eq(req.method, "GET", "req.method") end)
    s:check("http req.path", function() expect.eq(req.path, "/page/x y", "req.path (decoded)") end)
    s:check("http req.tail", function() expect.eq(req.tail, "x y", "req.tail") end)
    s:check("http req.query", function() expect.eq(req.query.q, "a b", "req.query.q") end)
    s:check("http req.headers", function()
      expect.eq(req.headers["x-custom"], "Value", "req.headers[\"x-custom\"]")
      expect.eq(req.headers["X-Custom"], nil, "req.headers[\"X-Custom\"]")
    end)
    s:check("http req.host", function() expect.eq(req.host, "127.0.0.1:" .. port, "req.host") end)
    s:check("http req.remote_addr", function() expect.match(req.remote_addr, "^127%.0%.0%.1:%d+$", "req.remote_addr") end)
    s:check("http req.protocols", function()
      expect.eq(type(req.protocols), "table", "type of req.protocols")
      expect.eq(#req.protocols, 0, "#req.protocols")
    end)
    s:check("http req.is_tls", function() expect.eq(req.is_tls, false, "req.is_tls") end)
  end
  local lines = {}
  for i, r in ipairs(s.results) do lines[i] = r end
  lines[#lines + 1] = "done"
  return 200, table.concat(lines, "\n"), { ["Content-Type"] = "text/x-spec", ["X-Extra"] = "1" }
end

return Page
