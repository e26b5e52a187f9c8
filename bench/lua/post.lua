-- post.lua: wrk sends one POST body, read once from $BODY, to $RPATH with
-- the SOAPAction $SA (a delta scan: SyncUpdates with the whole cache).
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("RPATH")
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = os.getenv("SA")
