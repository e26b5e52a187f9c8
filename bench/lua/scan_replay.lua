-- scan_replay.lua: full first scans for wrk. SCAN_DIR holds one recorded
-- scan (bench/scan_record.py: NNNN.xml bodies, an index of path and
-- SOAPAction). Each thread sends the sequence in order, over and over, so
-- the requests are the mix of full scans: scans/s = requests/s / the
-- sequence length. CODING is the Accept-Encoding sent (gzip as curl sends
-- it, xpress as Windows Update sends it).
local dir = os.getenv("SCAN_DIR")
local coding = os.getenv("CODING") or "gzip"
local reqs, i = {}, 0
init = function()
  local idx = assert(io.open(dir .. "/index", "r"))
  for line in idx:lines() do
    local n, path, action = line:match("^(%d+) (%S+) (.+)$")
    local f = assert(io.open(dir .. "/" .. n .. ".xml", "rb"))
    local body = f:read("*a")
    f:close()
    reqs[#reqs + 1] = wrk.format("POST", path, { ["Content-Type"] = "text/xml; charset=utf-8",
                                                 ["SOAPAction"] = action,
                                                 ["Accept-Encoding"] = coding }, body)
  end
  idx:close()
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
