return { a = require("_cycle_a") }
