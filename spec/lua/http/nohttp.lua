-- A handler without http: a plain request to /nohttp answers 404.
local NoHTTP = {}

function NoHTTP:on_open() self.conn:send("done") end

return NoHTTP
