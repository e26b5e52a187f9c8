#!/usr/bin/env python3
"""scale_client.py -- one Windows Update client for the scale-out test
(scale_haproxy.sh): every request on a new TLS connection, so that a load
balancer in TCP mode (round robin) hands consecutive requests to different
front ends. It does what a client does in one session: GetConfig,
GetAuthorizationCookie, GetCookie, RegisterComputer, SyncUpdates page by page
(OtherCachedUpdateIDs growing), one payload download (its SHA-1 checked),
and a ReportEventBatch. Prints one JSON line: the RevisionIDs offered, the
pages, the download's bytes and digest verdict, the report's answer, and the
faults met. Loopback HTTPS only; bounded by --pages.
"""
import argparse
import hashlib
import http.client
import json
import re
import ssl
import sys
import uuid
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_client import Client, NS_CLIENT, P_CLIENT, fault_code  # noqa: E402


class OneShot(Client):
    """A Client whose every call uses a connection of its own."""

    def call(self, path, action, body_xml):
        self.conn = None
        try:
            return super().call(path, action, body_xml)
        finally:
            if self.conn is not None:
                self.conn.close()
            self.conn = None

    def get(self, path):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def sync_updates(self, cached):
        ids = "".join("<int>%d</int>" % i for i in cached)
        # every non-leaf offered so far reported installed (as `scan
        # --installed-nonleaf all` does), so that what needs them comes next
        installed = "".join("<int>%d</int>" % i for i in cached[:400])
        return self.call(P_CLIENT, NS_CLIENT + "/SyncUpdates",
                         '<SyncUpdates xmlns="%s"><cookie><Expiration>2030-01-01T00:00:00Z</Expiration>'
                         '<EncryptedData>%s</EncryptedData></cookie><parameters><ExpressQuery>false'
                         '</ExpressQuery><InstalledNonLeafUpdateIDs>%s</InstalledNonLeafUpdateIDs><OtherCachedUpdateIDs>%s'
                         '</OtherCachedUpdateIDs><SkipSoftwareSync>false</SkipSoftwareSync></parameters>'
                         '</SyncUpdates>' % (NS_CLIENT, self.cookie, installed, ids))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--content", required=True, help="a /Content/... path to download")
    ap.add_argument("--sha1", required=True, help="its SHA-1 (hex)")
    ap.add_argument("--pages", type=int, default=20)
    a = ap.parse_args()

    c = OneShot("127.0.0.1", a.port, a.ca, a.client_id)
    out = {"faults": [], "offered": [], "pages": 0}
    st, r = c.handshake(register=True)
    if st != 200:
        out["faults"].append("RegisterComputer:" + fault_code(r))
    cached = []
    for _ in range(a.pages):
        st, r = c.sync_updates(cached)
        if st != 200:
            out["faults"].append("SyncUpdates:" + fault_code(r))
            break
        out["pages"] += 1
        new = [int(x) for x in re.findall(r"<UpdateInfo><ID>(-?\d+)</ID>", r)]
        out["offered"] += new
        cached += new
        cookie = re.search(r"<NewCookie>.*?<EncryptedData>([^<]*)</EncryptedData>", r)
        if cookie:
            c.cookie = cookie.group(1)
        if Client.text(r, "Truncated") != "true" and not new:
            break
    st, body = c.get(a.content)
    out["download_status"] = st
    out["download_bytes"] = len(body)
    out["download_sha1_ok"] = hashlib.sha1(body).hexdigest() == a.sha1.lower()
    out["events"] = [str(uuid.uuid4()) for _ in range(3)]
    out["report"] = c.report(out["events"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
