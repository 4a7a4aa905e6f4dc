-- A bad option is a load error: /badmax answers 500.
return { max_connections = 1.5 }
