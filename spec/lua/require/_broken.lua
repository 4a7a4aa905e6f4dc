-- A helper with a syntax error on line 2.
local x = = 1
return {}
