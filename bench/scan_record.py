#!/usr/bin/env python3
"""scan_record.py --server URL --ca CERT --group G --out DIR -- record every
request of one full first scan (bench-reference/wusp_client.py --extended:
GetConfig, GetAuthorizationCookie, GetCookie, RegisterComputer, the
SyncUpdates pages, GetExtendedUpdateInfo for every offered revision), so that
bench/lua/scan_replay.lua can send the same sequence from many connections
without a client that parses the answers (on a 2-core machine wsus-scanload
spends about 4x the server's CPU per scan reading them).

  DIR/NNNN.xml     the request bodies, in order
  DIR/index        one line per request: NNNN PATH SOAPACTION

The recorded cookies stay valid for the cookie lifetime (the replay is
minutes long); the server does per request what it does for a client
sending those bodies."""
import os
import sys

ref = os.path.join(os.environ.get("WSUS_SHARED_DIR", "../shared"), "bench-reference")
sys.path.insert(0, ref)
import wusp_client  # noqa: E402  (the reference scan client)

out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
recorded = []
plain_post = wusp_client.Client.post


def recording_post(self, path, op, ns, args):
    body, data, result = plain_post(self, path, op, ns, args)
    recorded.append((path, '"%s/%s"' % (ns, op), body))
    return body, data, result


wusp_client.Client.post = recording_post
sys.argv += ["--extended"]
wusp_client.main()
# wusp_client ends with a delta SyncUpdates and a GetCookie renewal: not part
# of a first scan.
while recorded and not recorded[-1][1].endswith('GetExtendedUpdateInfo"'):
    recorded.pop()
with open(os.path.join(out, "index"), "w") as idx:
    for i, (path, action, body) in enumerate(recorded):
        with open(os.path.join(out, "%04d.xml" % i), "wb") as f:
            f.write(body)
        idx.write("%04d %s %s\n" % (i, path, action))
print("recorded %d requests" % len(recorded), file=sys.stderr)
