#!/usr/bin/env python3
"""fleet_bodies.py CAPTURE DATADIR WWW -- the request bodies of the mixed
fleet (bench/lua/fleet.lua) and the static answers nginx serves in their
place, from a capture of bench-reference/wusp_client.py (delta.xml,
getcookie.xml and their answers):

  CAPTURE/../fleet/{delta,getcookie,report}.xml  the requests
  WWW/s/{delta,getcookie,report}.answer           nginx's answers (ours, as captured)
  WWW/Content/XX/NAME                              one stored payload, for ranges

The report is MS-WUSP example 16 (ReportEventBatch, event 148) carrying the
captured client's cookie. Prints CONTENT_PATH=... and CONTENT_BYTES=... for
the shell."""
import os
import re
import shutil
import ssl
import sys
import urllib.request

cap, data, www = sys.argv[1], sys.argv[2], sys.argv[3]
fleet = os.path.join(os.path.dirname(cap.rstrip("/")), "fleet")
shared = os.environ.get("WSUS_SHARED_DIR", "../shared")
os.makedirs(os.path.join(www, "s"), exist_ok=True)
os.makedirs(fleet, exist_ok=True)

delta = open(os.path.join(cap, "delta.xml"), "rb").read()
cookie = re.search(rb"<cookie>.*?</cookie>", delta, re.S).group(0)
example = open(os.path.join(shared, "spec/examples-wusp/16-ReportEventBatch-Event148-request.xml"), "rb").read()
report = re.sub(rb"<cookie>.*?</cookie>", lambda m: cookie, example, count=1, flags=re.S)

for name, body in (("delta", delta), ("report", report),
                   ("getcookie", open(os.path.join(cap, "getcookie.xml"), "rb").read())):
    open(os.path.join(fleet, name + ".xml"), "wb").write(body)
for name in ("delta", "getcookie"):
    shutil.copy(os.path.join(cap, name + ".answer"), os.path.join(www, "s", name + ".answer"))

# the answer to the report, asked once of the server (the URL is in the capture's info)
server = os.environ["BENCH_URL"]
ctx = ssl.create_default_context(cafile=os.path.join(data, "tls", "server.crt"))
ctx.check_hostname = False
rq = urllib.request.Request(server + "/ReportingWebService/ReportingWebService.asmx", data=report,
                            headers={"Content-Type": "text/xml; charset=utf-8",
                                     "SOAPAction": '"http://www.microsoft.com/SoftwareDistribution/ReportEventBatch"'})
answer = urllib.request.urlopen(rq, context=ctx, timeout=30).read()
if b"<ReportEventBatchResult>true</ReportEventBatchResult>" not in answer:
    sys.exit("fleet_bodies.py: the server did not accept the report: %r" % answer[:300])
open(os.path.join(www, "s", "report.answer"), "wb").write(answer)

# the largest stored payload (range requests read 64 KiB of it)
best = None
for root, _, files in os.walk(os.path.join(data, "content")):
    for f in files:
        p = os.path.join(root, f)
        if best is None or os.path.getsize(p) > os.path.getsize(best):
            best = p
if best is None:
    sys.exit("fleet_bodies.py: no payload in the content store")
rel = os.path.relpath(best, os.path.join(data, "content"))
os.makedirs(os.path.join(www, "Content", os.path.dirname(rel)), exist_ok=True)
shutil.copy(best, os.path.join(www, "Content", rel))
print("CONTENT_PATH=/Content/%s" % rel)
print("CONTENT_BYTES=%d" % os.path.getsize(best))
