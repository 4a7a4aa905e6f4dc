-- A nested module (it also serves /lib/util, being no "_" file).
local inner = require("lib._inner")
return { name = "lib/util", inner = inner.text }
