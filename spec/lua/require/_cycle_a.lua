return { b = require("_cycle_b") }
