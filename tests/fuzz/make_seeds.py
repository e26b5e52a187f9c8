#!/usr/bin/env python3
"""make_seeds.py SHARED_DIR GENCATALOG_BIN OUT_DIR -- (re)write the seed corpora of the
fuzz targets under OUT_DIR/<target>/ from the spec's example messages, the capture's
request bodies and cabinets (derived: cookie values replaced by the placeholders
fuzz_soap.c splices, @CLIENT@ @CLIENTAUTH@ @DSS@ @DSSAUTH@ @LASTCHANGE@; comments and
indentation removed; cabinets taken out of their base64), documents of our own generator
(wsus-gencatalog) and hand-written header, path and config inputs. The real update
documents stay in ../shared: fuzz_update reads them in place as a second seed directory
(CMakeLists.txt). The first byte of a SOAP seed picks the service (index in
server_services). Run by hand when the seeds should change; keep the total small."""
import base64, glob, hashlib, os, re, subprocess, sys, tempfile

shared, gencat, out = sys.argv[1], sys.argv[2], sys.argv[3]
SSS, DSSAUTH, REPORTING, CLIENT, SIMPLEAUTH = 0, 1, 2, 3, 4
NS_CLIENT = "http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService"
NS_SD = "http://www.microsoft.com/SoftwareDistribution"
REPORTING_OPS = {"ReportEventBatch", "ReportEventBatch2", "GetRequiredInventoryType", "ReportInventory",
                 "GetRollupConfiguration", "RollupDownstreamServers", "RollupComputers",
                 "GetOutOfSyncComputers", "RollupComputerStatus"}
ENV11 = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
         ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>%s</soap:Body></soap:Envelope>')
ENV12 = '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>%s</env:Body></env:Envelope>'


def put(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def soap_seed(text):
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<\?xml[^>]*\?>", "", text).strip()
    m = re.search(r"<(?:\w+:)?Body>\s*<(?:\w+:)?(\w+)[^>]*?xmlns=\"([^\"]+)\"", text) or \
        re.match(r"<(\w+)[^>]*?xmlns=\"([^\"]+)\"", text)
    op, ns = m.group(1), m.group(2)
    if "Envelope" not in text:
        text = ENV11 % text
    if ns.endswith("SimpleAuthWebService"):
        svc, cookie, auth = SIMPLEAUTH, "@CLIENT@", "@CLIENTAUTH@"
    elif ns.endswith("DssAuthWebService"):
        svc, cookie, auth = DSSAUTH, "@DSS@", "@DSSAUTH@"
    elif ns == NS_CLIENT:
        svc, cookie, auth = CLIENT, "@CLIENT@", "@CLIENTAUTH@"
    elif op in REPORTING_OPS:
        client = op.startswith("ReportEvent") or "Inventory" in op
        svc, cookie, auth = REPORTING, "@CLIENT@" if client else "@DSS@", "@DSSAUTH@"
    else:
        svc, cookie, auth = SSS, "@DSS@", "@DSSAUTH@"
    text = re.sub(r"<EncryptedData>[^<]*</EncryptedData>", "<EncryptedData>%s</EncryptedData>" % cookie, text)
    text = re.sub(r"<CookieData>[^<]*</CookieData>", "<CookieData>%s</CookieData>" % auth, text)
    text = re.sub(r"<lastChange>[^<]*</lastChange>", "<lastChange>@LASTCHANGE@</lastChange>", text)
    text = re.sub(r"\n\s*", "\n", text)
    put("soap", bytes([svc]) + text.encode())


# SOAP: spec examples and the capture's requests
for f in sorted(glob.glob(shared + "/spec/examples-*/*-request.xml")) + \
         sorted(glob.glob(shared + "/fixtures/ws2025-uss-capture/*-request.body")):
    soap_seed(open(f, encoding="utf-8").read())
# operations no example shows, with a cookie, and both envelope versions
COOKIE = "<cookie><Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>%s</EncryptedData></cookie>"
for op, body in [("StartCategoryScan", "<requestedCategories><int>1</int></requestedCategories>"),
                 ("SyncPrinterCatalog", "<installedNonLeafUpdateIDs><int>1</int></installedNonLeafUpdateIDs>"
                  "<printerUpdateIDs/><deviceAttributes>x</deviceAttributes>"),
                 ("GetExtendedUpdateInfo", "<revisionIDs><int>1</int><int>2</int><int>3</int></revisionIDs>"
                  "<infoTypes><XmlUpdateFragmentType>Extended</XmlUpdateFragmentType>"
                  "<XmlUpdateFragmentType>LocalizedProperties</XmlUpdateFragmentType>"
                  "<XmlUpdateFragmentType>Eula</XmlUpdateFragmentType></infoTypes>"
                  "<locales><string>en</string></locales>"),
                 ("GetExtendedUpdateInfo2", "<updateIDs><UpdateIdentity><UpdateID>"
                  "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d</UpdateID><RevisionNumber>100</RevisionNumber>"
                  "</UpdateIdentity></updateIDs><infoTypes><XmlUpdateFragmentType>FileUrl"
                  "</XmlUpdateFragmentType></infoTypes>")]:
    xml = '<%s xmlns="%s">%s%s</%s>' % (op, NS_CLIENT, COOKIE % "@CLIENT@", body, op)
    put("soap", bytes([CLIENT]) + (ENV11 % xml).encode())
    put("soap", bytes([CLIENT]) + (ENV12 % xml).encode())
for op, body in [("GetUpdateDecryptionData", "<updateIDs><UpdateIdentity><UpdateID>"
                  "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d</UpdateID><RevisionNumber>100</RevisionNumber>"
                  "</UpdateIdentity></updateIDs>"),
                 ("DownloadFiles", "<fileDigestList><base64Binary>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</base64Binary>"
                  "</fileDigestList>"),
                 ("GetRelatedRevisionsForUpdates", "<updateIDs><UpdateIdentity><UpdateID>"
                  "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d</UpdateID><RevisionNumber>100</RevisionNumber>"
                  "</UpdateIdentity></updateIDs>"),
                 ("GetAuthConfig", "<protocolVersion>1.20</protocolVersion>")]:
    xml = '<%s xmlns="%s">%s%s</%s>' % (op, NS_SD, COOKIE % "@DSS@", body, op)
    put("soap", bytes([SSS]) + (ENV11 % xml).encode())
for svc in (SSS, DSSAUTH, REPORTING):
    put("soap", bytes([svc]) + (ENV11 % '<Ping xmlns="http://www.microsoft.com/SoftwareDistribution/Server/'
                                 'IMonitorable"><level>1</level></Ping>').encode())
for op in ("GetRequiredInventoryType", "ReportInventory", "ReportEventBatch2"):
    xml = '<%s xmlns="%s">%s<clientTime>2026-01-01T00:00:00Z</clientTime></%s>' % (op, NS_SD, COOKIE % "@CLIENT@", op)
    put("soap", bytes([REPORTING]) + (ENV11 % xml).encode())

# update XML: generated documents (the fixture documents are read in place by run.sh)
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([gencat, "--seed", "7", "--revisions", "30", "--drivers", "2", "--out", tmp + "/cat"],
                   check=True, stdout=subprocess.DEVNULL)
    gen = sorted(glob.glob(tmp + "/cat/*.xml"), key=os.path.getsize)
    for f in gen[:3] + gen[len(gen) // 2:len(gen) // 2 + 2] + gen[-2:]:
        if os.path.getsize(f) <= 16384:
            put("update", open(f, "rb").read())

# cabinets: XmlUpdateBlobCompressed values of the capture
blobs = []
for f in sorted(glob.glob(shared + "/fixtures/ws2025-uss-capture/*-response.body")):
    blobs += re.findall(r"<XmlUpdateBlobCompressed>([^<]+)</XmlUpdateBlobCompressed>", open(f).read())
blobs.sort(key=len)
for b64 in blobs[:2]:
    put("cab", b"\x00" + base64.b64decode(b64))
if blobs:
    put("cab", b"\x01" + blobs[0].encode())
put("cab", b"\x02\xff\xfe" + '<Update xmlns="urn:x">é€😀</Update>'.encode("utf-16-le"))

# Xpress / gzip: response-like texts
put("xpress", open(shared + "/spec/examples-wusp/19-ReportEventBatch-response.xml", "rb").read())
put("xpress", open(shared + "/spec/examples-sss/05-GetRevisionIdList-response.xml", "rb").read())
put("xpress", b"a" * 300 + b"ab" * 200 + bytes(range(256)))
put("xpress", b"")

# Range and conditional headers: "SIZE MTIME" then Range, If-Match, If-None-Match,
# If-Modified-Since, If-Unmodified-Since, If-Range
for s in ["1000 784111777\nbytes=0-499\n\n\n\n\n",
          "1000 784111777\nbytes=-500, 900-, 0-0,,\n\n\n\n\n",
          "1000 784111777\nbytes=2000-3000\n*\n\n\n\n",
          "10 784111777\nbytes=0-4,3-9\n\"0123456789abcdef0123456789abcdef01234567\"\nW/\"x\", \"y\"\n"
          "Sun, 06 Nov 1994 08:49:37 GMT\nSunday, 06-Nov-94 08:49:37 GMT\nSun Nov  6 08:49:37 1994",
          "0 0\nbytes=0-\n\n\nThu, 01 Jan 1970 00:00:00 GMT\n\n\"0123456789abcdef0123456789abcdef01234567\"",
          "9223372036854775807 1\nBYTES = 9223372036854775806-\n\n*\n\n\nW/\"a\""]:
    put("range", s)

# content paths
for s in ["/Content/D4/0123456789ABCDEF0123456789ABCDEF012345D4.exe",
          "/content/a7/7d4e0f2a3b1c6d5e8f9a0b1c2d3e4f5a6b7c8da7.cab",
          "/Content/00/0000000000000000000000000000000000000000",
          "/Content/12/ffffffffffffffffffffffffffffffffffff0012.ps1x",
          "/Content/../../etc/passwd", "/Content/d4/%2e%2e/x.exe"]:
    put("content_path", s)

# config files: the example and small variants
example = open(os.path.join(os.path.dirname(__file__), "../../config/wsus-replica.conf.example")).read()
put("config", example)
put("config", "[server]\nlisten = 127.0.0.1:8531\ncontent_listen = [::1]:8530\n[storage]\ndata_dir = /var/lib/x\n"
              "[sync]\nupstream = https://upstream.lab.invalid:8531\nenforce_pinning = true\ninterval = 6h\n")
put("config", "[log]\nlevel = debug\n[server]\nclient_cert_allow = aa, bb\nmode = replica\n; comment\n"
              "# other\n[unknown]\nkey = value\n")
