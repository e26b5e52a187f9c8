-- fleet.lua: a mixed fleet for wrk. Out of every 20 requests: 16 delta
-- scans (SyncUpdates with the whole cache), 1 cookie renewal (GetCookie),
-- 1 status report (ReportEventBatch), 2 content range requests of 64 KiB at
-- varying offsets. TARGET=ours posts to the services; TARGET=nginx sends the
-- same requests to the static answers (bench/fleet_bodies.py made both).
local dir = os.getenv("FLEET_DIR")
local nginx = os.getenv("TARGET") == "nginx"
local content = os.getenv("CONTENT_PATH")
local function body(name)
  local f = assert(io.open(dir .. "/" .. name .. ".xml", "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local function soap(name, path, action)
  local h = { ["Content-Type"] = "text/xml; charset=utf-8",
              ["SOAPAction"] = '"' .. action .. '"' }
  if nginx then path = "/s/" .. name .. ".answer" end
  return wrk.format("POST", path, h, body(name))
end
local client = "/ClientWebService/Client.asmx"
local ns = "http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService/"
local reqs, ranges, i = {}, {}, 0
init = function()
  local delta = soap("delta", client, ns .. "SyncUpdates")
  for _ = 1, 16 do reqs[#reqs + 1] = delta end
  reqs[#reqs + 1] = soap("getcookie", client, ns .. "GetCookie")
  reqs[#reqs + 1] = soap("report", "/ReportingWebService/ReportingWebService.asmx",
                         "http://www.microsoft.com/SoftwareDistribution/ReportEventBatch")
  local size = tonumber(os.getenv("CONTENT_BYTES"))
  local chunk = math.min(65536, size)
  for k = 0, 7 do
    local from = (k * chunk) % (size - chunk + 1)
    ranges[#ranges + 1] = wrk.format("GET", content,
                                     { ["Range"] = "bytes=" .. from .. "-" .. (from + chunk - 1) })
  end
end
request = function()
  i = i + 1
  local k = i % 20
  if k < 18 then return reqs[k + 1] end
  return ranges[(i % #ranges) + 1]
end
