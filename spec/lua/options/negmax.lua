-- A bad option is a load error: /negmax answers 500.
return { max_connections = -1 }
