-- Spec of ws.json.encode, ws.json.decode and ws.json.null. on_open runs the
-- local checks; then the client sends a JSON document, which is decoded and
-- checked here and sent back re-encoded (keys sorted: deterministic).
local ws = require("ws")
local expect = require("_expect")

local Json = {}

local function enc(v, want, what)
  expect.eq(ws.json.encode(v), want, what or "encode")
end

function Json:on_open()
  local s = expect.suite()
  s:check("encode scalars", function()
    enc(nil, "null", "nil")
    enc(true, "true", "true")
    enc(false, "false", "false")
    enc(42, "42", "integer")
    enc(-7, "-7", "negative integer")
    enc(1.5, "1.5", "float")
    enc(0.1, "0.1", "0.1")
    enc("hé\"\n", '"hé\\"\\n"', "string with escapes")
    enc(ws.json.null, "null", "ws.json.null")
  end)
  s:check("encode arrays", function()
    enc({ 1, 2, 3 }, "[1,2,3]")
    enc({ "a", true, ws.json.null, 4 }, '["a",true,null,4]', "array with null")
    enc({ { 1 }, { 2, { 3 } } }, "[[1],[2,[3]]]", "nested arrays")
  end)
  s:check("encode objects", function()
    enc({ b = 1, a = 2, c = { d = "x" } }, '{"a":2,"b":1,"c":{"d":"x"}}', "object (sorted keys)")
    enc({ list = { 1, 2 }, obj = { k = ws.json.null } }, '{"list":[1,2],"obj":{"k":null}}', "nested mix")
    enc({ [1] = "a", [3] = "c" }, '{"1":"a","3":"c"}', "sparse table is an object")
    enc({ 1, 2, x = 3 }, '{"1":1,"2":2,"x":3}', "mixed table is an object")
  end)
  s:check("encode empty table", function() enc({}, "{}", "{}") end)
  s:check("encode errors", function()
    local cyc = {}
    cyc.self = cyc
    expect.error("ws.json.encode", ws.json.encode, cyc)
    local arr = { 1 }
    arr[2] = arr
    expect.error("contains itself", ws.json.encode, arr)
    expect.error("function", ws.json.encode, { f = function() end })
    expect.error("function", ws.json.encode, print)
    expect.error("UTF-8", ws.json.encode, "\255")
    expect.error("UTF-8", ws.json.encode, { ["\255"] = 1 })
    expect.error("ws.json.encode", ws.json.encode, 0 / 0)
    expect.error("ws.json.encode", ws.json.encode, 1 / 0)
    expect.error("ws.json.encode", ws.json.encode, { [true] = 1 })
    expect.error("ws.json.encode", ws.json.encode, self.conn)
    local deep = {}
    local t = deep
    for _ = 1, 201 do
      t[1] = {}
      t = t[1]
    end
    expect.error("deeper than", ws.json.encode, deep)
  end)
  s:check("encode shared table is not a cycle", function()
    local shared = { 1 }
    enc({ shared, shared }, "[[1],[1]]", "a table used twice")
  end)
  s:check("decode scalars", function()
    expect.eq(ws.json.decode("true"), true, "true")
    expect.eq(ws.json.decode("false"), false, "false")
    expect.eq(ws.json.decode("12.5"), 12.5, "number")
    expect.eq(ws.json.decode('"h\\u00e9"'), "hé", "string with escape")
    expect.eq(ws.json.decode("null"), ws.json.null, "null")
  end)
  s:check("decode arrays", function()
    local a = ws.json.decode('[1,"a",null,true]')
    expect.eq(type(a), "table", "type")
    expect.eq(#a, 4, "length (null keeps its position)")
    expect.eq(a[1], 1, "[1]")
    expect.eq(a[2], "a", "[2]")
    expect.eq(a[3], ws.json.null, "[3]")
    expect.eq(a[4], true, "[4]")
    expect.eq(next(ws.json.decode("[]")), nil, "empty array")
  end)
  s:check("decode objects", function()
    local o = ws.json.decode('{"a":{"b":[1,{"c":"d"}]},"n":null}')
    expect.eq(o.a.b[1], 1, "a.b[1]")
    expect.eq(o.a.b[2].c, "d", "a.b[2].c")
    expect.eq(o.n, ws.json.null, "n")
    expect.eq(next(ws.json.decode("{}")), nil, "empty object")
  end)
  s:check("decode error", function()
    local err = expect.fails("ws.json.decode: invalid character 'x'", ws.json.decode, "[1, x]")
    expect.match(err, "offset %d+", "the error gives the offset")
  end)
  s:check("decode empty input", function() expect.fails("ws.json.decode", ws.json.decode, "") end)
  s:check("decode truncated input", function() expect.fails("ws.json.decode", ws.json.decode, "[1,2") end)
  s:check("decode unquoted key", function() expect.fails("ws.json.decode", ws.json.decode, "{a:1}") end)
  s:check("decode trailing value", function() expect.fails("ws.json.decode", ws.json.decode, '{"a":1} 2') end)
  s:check("decode trailing garbage", function() expect.fails("ws.json.decode", ws.json.decode, '{"a":1} x') end)
  s:check("null sentinel", function()
    expect.eq(ws.json.null, ws.json.null, "ws.json.null == ws.json.null")
    expect.truthy(ws.json.null ~= nil, "ws.json.null ~= nil")
    expect.eq(type(ws.json.null), "userdata", "type of ws.json.null")
    expect.eq(ws.json.decode("null"), ws.json.null, "decode(null)")
  end)
  s:check("round trip", function()
    local v = { name = "évé", list = { 1, 2.5, ws.json.null, "x" }, nested = { ok = true } }
    local text = ws.json.encode(v)
    expect.eq(ws.json.encode(ws.json.decode(text)), text, "encode(decode(encode(v)))")
  end)
  s:send(self.conn)
end

function Json:on_message(msg)
  local s = expect.suite()
  local v, err = ws.json.decode(msg)
  s:check("decode from the network", function()
    expect.eq(err, nil, "error")
    expect.eq(v.name, "évé", "name")
    expect.eq(#v.list, 4, "#list")
    expect.eq(v.list[2], 2.5, "list[2]")
    expect.eq(v.list[3], ws.json.null, "list[3]")
    expect.eq(v.nested.ok, true, "nested.ok")
  end)
  s:send(self.conn)
  self.conn:send(ws.json.encode(v))
end

return Json
