-- A bad option is a load error: /badproto answers 500.
return { protocols = "chat" }
