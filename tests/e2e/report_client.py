#!/usr/bin/env python3
"""report_client.py -- Windows Update clients that report, for the reporting
end-to-end test (report_durable.sh) and bench/report.sh. Loopback HTTPS only.

Modes (all bounded by --seconds and by their counts):
  report    N clients (threads), each: GetConfig, GetAuthorizationCookie,
            GetCookie, RegisterComputer, then ReportEventBatch of --batch new
            events until the time is up or the server goes away. The
            EventInstanceIDs answered true are written to OUT/acked.<i>;
            a summary line (JSON) goes to stdout.
  flood     one registered client sends batches of --batch events padded to
            about --pad bytes each, until it has been answered false --stop
            times in a row; prints what was answered true and false.
  register  --count registrations of new random computers (a cookie each),
            one connection; prints how many succeeded and the fault codes.
  states    one computer (--prefix is its id) registers and reports update
            states as a Windows client does: an AGENT_STATUS event listing
            --needed, --downloaded, --installed and --failed UpdateIDs
            (comma-separated), and an install-failed event (182, --hresult)
            for each failed one; prints whether the batch was accepted.
"""
import argparse
import http.client
import json
import os
import re
import ssl
import sys
import threading
import time
import uuid

NS_CLIENT = "http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService"
NS_AUTH = "http://www.microsoft.com/SoftwareDistribution/Server/SimpleAuthWebService"
NS_SD = "http://www.microsoft.com/SoftwareDistribution"
P_CLIENT = "/ClientWebService/Client.asmx"
P_AUTH = "/SimpleAuthWebService/SimpleAuth.asmx"
P_REPORT = "/ReportingWebService/ReportingWebService.asmx"


class Gone(Exception):
    """The server stopped answering (killed, or refusing connections)."""


class Client:
    def __init__(self, host, port, cafile, cid):
        self.host, self.port, self.cid = host, port, cid
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.conn = None
        self.cookie = None

    def call(self, path, action, body_xml):
        env = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
               'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>%s'
               '</soap:Body></soap:Envelope>' % body_xml).encode()
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"%s"' % action}
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
                self.conn.request("POST", path, env, headers)
                r = self.conn.getresponse()
                return r.status, r.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise Gone(str(e))
        raise Gone("unreachable")

    @staticmethod
    def text(resp, tag):
        m = re.search(r"<(?:\w+:)?%s>([^<]*)</" % tag, resp)
        return m.group(1) if m else None

    def handshake(self, register=True):
        st, r = self.call(P_CLIENT, NS_CLIENT + "/GetConfig",
                          '<GetConfig xmlns="%s"><protocolVersion>1.8</protocolVersion></GetConfig>' % NS_CLIENT)
        last_change = self.text(r, "LastChange")
        st, r = self.call(P_AUTH, NS_AUTH + "/GetAuthorizationCookie",
                          '<GetAuthorizationCookie xmlns="%s"><clientId>%s</clientId><targetGroupName/>'
                          '<dnsName>%s.example.test</dnsName></GetAuthorizationCookie>' % (NS_AUTH, self.cid, self.cid))
        data = self.text(r, "CookieData")
        if st != 200 or data is None or last_change is None:
            raise RuntimeError("handshake failed: %d %s" % (st, r[:300]))
        st, r = self.call(P_CLIENT, NS_CLIENT + "/GetCookie",
                          '<GetCookie xmlns="%s"><authCookies><AuthorizationCookie><PlugInId>SimpleTargeting'
                          '</PlugInId><CookieData>%s</CookieData></AuthorizationCookie></authCookies>'
                          '<oldCookie xsi:nil="true"/><lastChange>%s</lastChange><currentTime>'
                          '2025-01-01T00:00:00Z</currentTime><protocolVersion>2.4</protocolVersion>'
                          '</GetCookie>' % (NS_CLIENT, data, last_change))
        self.cookie = self.text(r, "EncryptedData")
        if st != 200 or self.cookie is None:
            raise RuntimeError("GetCookie failed: %d %s" % (st, r[:300]))
        if register:
            return self.register()
        return 200, ""

    def register(self):
        return self.call(P_CLIENT, NS_CLIENT + "/RegisterComputer",
                         '<RegisterComputer xmlns="%s"><cookie><Expiration>2030-01-01T00:00:00Z</Expiration>'
                         '<EncryptedData>%s</EncryptedData></cookie><computerInfo><DnsName>%s.example.test'
                         '</DnsName><OSMajorVersion>10</OSMajorVersion><OSMinorVersion>0</OSMinorVersion>'
                         '<OSBuildNumber>22631</OSBuildNumber><OSServicePackMajorNumber>0'
                         '</OSServicePackMajorNumber><OSServicePackMinorNumber>0</OSServicePackMinorNumber>'
                         '<OSLocale>en-US</OSLocale><ComputerManufacturer>Contoso</ComputerManufacturer>'
                         '<ComputerModel>VM</ComputerModel><BiosVersion>1</BiosVersion><BiosName>B</BiosName>'
                         '<BiosReleaseDate>2020-01-01T00:00:00</BiosReleaseDate><ProcessorArchitecture>AMD64'
                         '</ProcessorArchitecture><SuiteMask>256</SuiteMask><OldProductType>1</OldProductType>'
                         '<NewProductType>48</NewProductType><SystemMetrics>0</SystemMetrics>'
                         '<ClientVersionMajorNumber>1023</ClientVersionMajorNumber><ClientVersionMinorNumber>0'
                         '</ClientVersionMinorNumber><ClientVersionBuildNumber>22621</ClientVersionBuildNumber>'
                         '<ClientVersionQfeNumber>1</ClientVersionQfeNumber><OSDescription>Windows 11'
                         '</OSDescription></computerInfo></RegisterComputer>' % (NS_CLIENT, self.cookie, self.cid))

    def report(self, ids, pad=0):
        filler = "<ReplacementStrings><string>%s</string></ReplacementStrings>" % ("x" * pad) if pad else ""
        events = "".join(
            '<ReportingEvent><BasicData><TargetID><Sid>%s</Sid></TargetID><SequenceNumber>0</SequenceNumber>'
            '<TimeAtTarget>2025-03-01T10:00:00</TimeAtTarget><EventInstanceID>%s</EventInstanceID>'
            '<NamespaceID>1</NamespaceID><EventID>183</EventID><SourceID>101</SourceID><UpdateID><UpdateID>'
            '11111111-1111-1111-1111-111111111111</UpdateID><RevisionNumber>1</RevisionNumber></UpdateID>'
            '<Win32HResult>0</Win32HResult><AppName>AutomaticUpdates</AppName></BasicData><ExtendedData>%s'
            '<MiscData><string>Q=1</string></MiscData></ExtendedData></ReportingEvent>' % (self.cid, i, filler)
            for i in ids)
        st, r = self.call(P_REPORT, NS_SD + "/ReportEventBatch",
                          '<ReportEventBatch xmlns="%s"><cookie><Expiration>2030-01-01T00:00:00Z</Expiration>'
                          '<EncryptedData>%s</EncryptedData></cookie><clientTime>2025-03-01T12:00:00'
                          '</clientTime><eventBatch>%s</eventBatch></ReportEventBatch>' % (NS_SD, self.cookie, events))
        if st != 200:
            return None
        return self.text(r, "ReportEventBatchResult") == "true"


    def report_states(self, lists, failed, hresult):
        def event(event_id, uid, misc, hr=0):
            return ('<ReportingEvent><BasicData><TargetID><Sid>%s</Sid></TargetID><SequenceNumber>0</SequenceNumber>'
                    '<TimeAtTarget>%s</TimeAtTarget><EventInstanceID>%s</EventInstanceID>'
                    '<NamespaceID>1</NamespaceID><EventID>%d</EventID><SourceID>101</SourceID><UpdateID><UpdateID>'
                    '%s</UpdateID><RevisionNumber>1</RevisionNumber></UpdateID><Win32HResult>%d</Win32HResult>'
                    '<AppName>AutomaticUpdates</AppName></BasicData><ExtendedData><MiscData>%s</MiscData>'
                    '</ExtendedData></ReportingEvent>'
                    % (self.cid, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), uuid.uuid4(), event_id, uid,
                       hr, "".join("<string>%s</string>" % m for m in misc)))
        zero = "00000000-0000-0000-0000-000000000000"
        misc = ["%s=%s" % (tag, ";".join(ids)) for tag, ids in lists if ids] + ["Q=1"]
        events = event(147, zero, ["D=1", "Q=1"]) + event(156, zero, misc)
        events += "".join(event(182, u, ["Q=1"], hresult) for u in failed)
        st, r = self.call(P_REPORT, NS_SD + "/ReportEventBatch",
                          '<ReportEventBatch xmlns="%s"><cookie><Expiration>2030-01-01T00:00:00Z</Expiration>'
                          '<EncryptedData>%s</EncryptedData></cookie><clientTime>%s</clientTime><eventBatch>%s'
                          '</eventBatch></ReportEventBatch>'
                          % (NS_SD, self.cookie, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), events))
        return st == 200 and self.text(r, "ReportEventBatchResult") == "true"


def fault_code(resp):
    m = re.search(r"<ErrorCode>([^<]*)</ErrorCode>", resp)
    return m.group(1) if m else "none"


def mode_report(a, host, port):
    deadline = time.monotonic() + a.seconds
    totals = {"acked": 0, "refused": 0, "batches": 0, "clients": 0, "errors": []}
    lock = threading.Lock()

    def run(n):
        c = Client(host, port, a.cafile, "%s-%d" % (a.prefix, n))
        acked = refused = batches = 0
        with open(os.path.join(a.out, "acked.%d" % n), "w") as f:
            try:
                st, r = c.handshake()
                if st != 200:
                    raise RuntimeError("RegisterComputer: %s" % fault_code(r))
                while time.monotonic() < deadline and batches < a.max_batches:
                    ids = [str(uuid.uuid4()) for _ in range(a.batch)]
                    ok = c.report(ids)
                    batches += 1
                    if ok:
                        f.write("\n".join(ids) + "\n")
                        f.flush()
                        acked += len(ids)
                    else:
                        refused += len(ids)
            except Gone:
                pass
            except Exception as e:  # noqa: BLE001 -- reported in the summary
                with lock:
                    totals["errors"].append(str(e)[:200])
        with lock:
            totals["acked"] += acked
            totals["refused"] += refused
            totals["batches"] += batches
            totals["clients"] += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals["seconds"] = round(time.monotonic() - t0, 3)
    totals["acked_per_s"] = round(totals["acked"] / totals["seconds"], 1) if totals["seconds"] else 0
    print(json.dumps(totals))


def mode_flood(a, host, port):
    c = Client(host, port, a.cafile, a.prefix)
    st, r = c.handshake()
    if st != 200:
        sys.exit("flood: RegisterComputer failed: %s" % fault_code(r))
    deadline = time.monotonic() + a.seconds
    acked = refused = run = batches = 0
    while time.monotonic() < deadline and run < a.stop and batches < a.max_batches:
        ids = [str(uuid.uuid4()) for _ in range(a.batch)]
        ok = c.report(ids, a.pad)
        batches += 1
        if ok:
            acked += len(ids)
            run = 0
        else:
            refused += len(ids)
            run += 1
    print(json.dumps({"acked": acked, "refused": refused, "batches": batches}))


def mode_register(a, host, port):
    ok, faults = 0, {}
    c = Client(host, port, a.cafile, "")
    deadline = time.monotonic() + a.seconds
    for _ in range(a.count):
        if time.monotonic() >= deadline:
            break
        c.cid = "%s-%s" % (a.prefix, uuid.uuid4())
        st, r = c.handshake(register=True)
        if st == 200:
            ok += 1
        else:
            faults[fault_code(r)] = faults.get(fault_code(r), 0) + 1
    print(json.dumps({"registered": ok, "faults": faults}))


def mode_states(a, host, port):
    def ids(v):
        return [x for x in v.split(",") if x]
    c = Client(host, port, a.cafile, a.prefix)
    st, r = c.handshake()
    if st != 200:
        sys.exit("states: RegisterComputer failed: %s" % fault_code(r))
    lists = [("U", ids(a.needed)), ("h", ids(a.downloaded)), ("V", ids(a.installed)), ("g", ids(a.failed))]
    print(json.dumps({"accepted": c.report_states(lists, ids(a.failed), a.hresult)}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("report", "flood", "register", "states"))
    p.add_argument("url")
    p.add_argument("cafile")
    p.add_argument("--out", default=".")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--max-batches", type=int, default=1000000)
    p.add_argument("--pad", type=int, default=0)
    p.add_argument("--stop", type=int, default=3)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--prefix", default="rc")
    p.add_argument("--needed", default="")
    p.add_argument("--downloaded", default="")
    p.add_argument("--installed", default="")
    p.add_argument("--failed", default="")
    p.add_argument("--hresult", type=int, default=-2145124318)
    a = p.parse_args()
    m = re.match(r"https://([^:/]+):(\d+)", a.url)
    if not m:
        sys.exit("url: https://HOST:PORT")
    host, port = m.group(1), int(m.group(2))
    {"report": mode_report, "flood": mode_flood, "register": mode_register,
     "states": mode_states}[a.mode](a, host, port)


if __name__ == "__main__":
    main()
