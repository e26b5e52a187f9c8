#!/usr/bin/env python3
"""hier_replay.py -- an HTTPS upstream that answers a DSS with the responses
a real Windows Server 2025 WSUS gave (fixtures/ws2025-uss-capture), chosen
by operation. Used by hier_replay.sh.

    hier_replay.py PORT CERT KEY CAPTURE_DIR LOG [--invalid-cookie-once] [--unknown-update]

What it answers, and from which capture file:
  GetAuthConfig 01, GetAuthorizationCookie 02, GetCookie 03 (cookies are
  opaque to the DSS, so replaying them works), GetConfigData 05 (04 when a
  configAnchor is sent).
  GetRevisionIdList: without a cookie 19 (InvalidCookie); with an Anchor this
  server never issued 18 (InvalidParameters); with an issued anchor 12 (no
  new revisions); otherwise 06 (GetConfig=true) or 09 (updates) with
  NewRevisions narrowed to the identities the capture holds documents for
  (the capture's lists were trimmed to 30 entries that do not all have one):
  the category 56309036/101, and the three updates of KB2267602. With
  --unknown-update the update list also names 00000000-...-0001/1, which the
  capture shows WS2025 answering with InternalServerError.
  GetUpdateData: the captured ServerSyncUpdateData (13-16) of every requested
  identity the capture has, with their fileUrls; none known: 17.
  --invalid-cookie-once: the first GetRevisionIdList answers 19.
  Anything else (GetDeployments, the reporting operations, DownloadFiles):
  a SOAP fault without ErrorCode, as the capture has no answer for it.
One log line per request: "OP key=value...".
"""
import http.server
import os
import re
import socketserver
import ssl
import sys

PORT, CERT, KEY, CAP, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
FLAGS = set(sys.argv[6:])
SD = "http://www.microsoft.com/SoftwareDistribution"
DOCS = {  # identity -> capture file of its GetUpdateData answer
    ("56309036-4c77-4dd9-951a-99ee9c246a94", "101"): 16,
    ("a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe", "200"): 13,
    ("266f6222-c89d-43f2-9f8a-69340271e677", "200"): 14,
    ("ccb78947-6453-4ecc-9de8-bc0305c98f2d", "200"): 15,
}
CONFIG_IDS = [("56309036-4c77-4dd9-951a-99ee9c246a94", "101")]
UPDATE_IDS = [k for k in DOCS if k not in CONFIG_IDS]
UNKNOWN = ("00000000-0000-0000-0000-000000000001", "1")
state = {"invalid_cookie": "--invalid-cookie-once" in FLAGS}


def capture(n):
    with open(os.path.join(CAP, "%06d-response.body" % n), "rb") as f:
        return f.read().decode("utf-8")


def note(s):
    with open(LOG, "a") as f:
        f.write(s + "\n")


def anchors_issued():
    issued = set()
    for n in (4, 5, 6, 9, 10, 12):
        issued.update(re.findall(r"<(?:Anchor|NewConfigAnchor)>([^<]*)</", capture(n)))
    return issued


ISSUED = anchors_issued()


def identities(ids):
    return "".join("<UpdateIdentity><UpdateID>%s</UpdateID><RevisionNumber>%s</RevisionNumber></UpdateIdentity>"
                   % i for i in ids)


def narrowed(n, ids):
    body = capture(n)
    return re.sub(r"<NewRevisions>.*</NewRevisions>", "<NewRevisions>%s</NewRevisions>" % identities(ids),
                  body, flags=re.S)


def update_data(req):
    asked = re.findall(r"<UpdateID>([^<]*)</UpdateID><RevisionNumber>([^<]*)</RevisionNumber>", req)
    updates, urls = [], []
    for uid, rev in asked:
        n = DOCS.get((uid.lower(), rev))
        if n is None:
            continue
        body = capture(n)
        updates.append(re.search(r"<ServerSyncUpdateData>.*</ServerSyncUpdateData>", body, re.S).group(0))
        urls.extend(re.findall(r"<ServerSyncUrlData>.*?</ServerSyncUrlData>", body, re.S))
    note("GetUpdateData asked=%s sent=%d" % (",".join("%s/%s" % a for a in asked), len(updates)))
    if not updates:
        return 500, capture(17)
    head = capture(13).split("<GetUpdateDataResponse")[0]
    return 200, (head + '<GetUpdateDataResponse xmlns="%s"><GetUpdateDataResult><updates>%s</updates>'
                 '<fileUrls>%s</fileUrls></GetUpdateDataResult></GetUpdateDataResponse></soap:Body></soap:Envelope>'
                 % (SD, "".join(updates), "".join(urls)))


def revision_list(req):
    anchor = re.search(r"<Anchor>([^<]*)</Anchor>", req)
    config = "<GetConfig>true</GetConfig>" in req
    if "<cookie>" not in req:
        note("GetRevisionIdList fault=InvalidCookie (no cookie)")
        return 500, capture(19)
    if state["invalid_cookie"]:
        state["invalid_cookie"] = False
        note("GetRevisionIdList fault=InvalidCookie (injected)")
        return 500, capture(19)
    if anchor and anchor.group(1) not in ISSUED:
        note("GetRevisionIdList fault=InvalidParameters anchor=%s" % anchor.group(1))
        return 500, capture(18)
    if anchor:
        note("GetRevisionIdList config=%d anchor=%s count=0" % (config, anchor.group(1)))
        return 200, capture(12)
    ids = CONFIG_IDS if config else UPDATE_IDS + ([UNKNOWN] if "--unknown-update" in FLAGS else [])
    note("GetRevisionIdList config=%d anchor=- count=%d" % (config, len(ids)))
    return 200, narrowed(6 if config else 9, ids)


def no_answer(op):
    note("%s fault=none (not in the capture)" % op)
    return 500, ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
                 'soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>%s is not '
                 'in the capture</faultstring></soap:Fault></soap:Body></soap:Envelope>' % op)


def answer(op, req):
    if op == "GetAuthConfig":
        return 200, capture(1)
    if op == "GetAuthorizationCookie":
        return 200, capture(2)
    if op == "GetCookie":
        return 200, capture(3)
    if op == "GetConfigData":
        return 200, capture(4 if "<configAnchor>" in req else 5)
    if op == "GetRevisionIdList":
        return revision_list(req)
    if op == "GetUpdateData":
        return update_data(req)
    return no_answer(op)


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = self.rfile.read(n).decode("utf-8", "replace")
        m = re.search(r"<soap:Body><(\w+)", req)
        op = m.group(1) if m else "?"
        note("%s path=%s" % (op, self.path))
        code, body = answer(op, req)
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        note("GET %s" % self.path)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = S(("127.0.0.1", PORT), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
note("ready")
srv.serve_forever()
