#!/usr/bin/env python3
"""server_hostile.py -- hostile request bodies against a running `serve`.

Usage: server_hostile.py PORT CAFILE PID COUNT

For each shape (60,000 attributes on one element, 15 MB of empty elements
under SyncUpdates and under RefreshCache, a 100 MB body) it sends COUNT
requests, one connection each, and prints one line per shape:
  shape NAME sent=N answered=N worst_ms=X worst_after_upload_ms=Y statuses=CODE:COUNT,...
(worst_ms from connect to answer; worst_after_upload_ms from the moment the
last byte of the body was handed to the kernel, the server's own delay)
then the GetConfig check after the shape:
  getconfig NAME status=200 ms=X (best of 10)
and at the end:
  rss hwm_kb=N rss_kb=N
Every request is bounded by socket timeouts; nothing here waits forever.
"""
import socket
import ssl
import sys
import time

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
CLIENT_NS = "http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService"
CLIENT_PATH = "/ClientWebService/client.asmx"


def envelope(op_open, inner, op_close):
    head = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="%s"><soap:Body>' % SOAP11).encode()
    return head + op_open.encode() + inner + op_close.encode() + b"</soap:Body></soap:Envelope>"


def get_config():
    return envelope('<GetConfig xmlns="%s">' % CLIENT_NS, b"<protocolVersion>1.0</protocolVersion>",
                    "</GetConfig>")


def many_attributes():
    attrs = b"".join(b' a%d="%d"' % (i, i) for i in range(60000))
    return envelope('<GetConfig xmlns="%s"' % CLIENT_NS, attrs + b">", "</GetConfig>")


def empty_elements(op):
    inner = b"<a/>" * (15 * 1024 * 1024 // 4)
    if op == "SyncUpdates":
        return envelope('<SyncUpdates xmlns="%s"><parameters>' % CLIENT_NS, inner,
                        "</parameters></SyncUpdates>")
    return envelope('<RefreshCache xmlns="%s"><globalIDs>' % CLIENT_NS, inner, "</globalIDs></RefreshCache>")


def connect(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_status(s, deadline):
    """The status code of the answer (0 when the connection ends first)."""
    data = b""
    while b"\r\n" not in data and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def post(port, ctx, body, declared=None, timeout=10.0):
    """POST body (or, with declared, a Content-Length of declared bytes of
    which body is streamed until the server answers). Returns (status, ms,
    ms after the body was handed to the kernel)."""
    length = declared if declared is not None else len(body)
    head = ("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\n"
            "SOAPAction: \"x\"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (CLIENT_PATH, length)).encode()
    t0 = time.monotonic()
    t_sent = t0
    deadline = t0 + timeout
    s = connect(port, ctx)
    try:
        s.sendall(head)
        if declared is None:
            s.sendall(body)
            t_sent = time.monotonic()
        else:
            sent = 0
            s.setblocking(False)
            while sent < declared and time.monotonic() < deadline:
                if s.pending() or _readable(s):
                    break
                try:
                    sent += s.send(body[: min(len(body), declared - sent)])
                except (ssl.SSLWantWriteError, BlockingIOError):
                    _readable(s, 0.01)
                except (ssl.SSLError, OSError):
                    break
            s.setblocking(True)
            t_sent = time.monotonic()
        status = read_status(s, deadline)
    except (ssl.SSLError, OSError):
        status = read_status(s, deadline)
    finally:
        s.close()
    t1 = time.monotonic()
    return status, (t1 - t0) * 1000.0, (t1 - t_sent) * 1000.0


def _readable(s, wait=0.0):
    import select
    r, _, _ = select.select([s], [], [], wait)
    return bool(r)


def rss(pid):
    hwm = cur = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                cur = int(line.split()[1])
    return hwm, cur


def main():
    port, cafile, pid, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    shapes = [
        ("attributes60000", many_attributes(), None),
        ("empty_elements_sync", empty_elements("SyncUpdates"), None),
        ("empty_elements_refresh", empty_elements("RefreshCache"), None),
        ("body100MB", b"<" * 65536, 100 * 1024 * 1024),
    ]
    for name, body, declared in shapes:
        statuses = {}
        worst = worst_after = 0.0
        answered = 0
        for _ in range(count):
            status, ms, after = post(port, ctx, body, declared)
            statuses[status] = statuses.get(status, 0) + 1
            worst = max(worst, ms)
            worst_after = max(worst_after, after)
            answered += status != 0
        print("shape %s sent=%d answered=%d worst_ms=%.0f worst_after_upload_ms=%.0f statuses=%s" % (
            name, count, answered, worst, worst_after,
            ",".join("%d:%d" % kv for kv in sorted(statuses.items()))))
        best = None
        status = 0
        for _ in range(10):
            status, ms, _ = post(port, ctx, get_config())
            if status == 200:
                best = ms if best is None else min(best, ms)
        print("getconfig %s status=%d ms=%.0f" % (name, status, best if best is not None else -1))
        sys.stdout.flush()
    hwm, cur = rss(pid)
    print("rss hwm_kb=%d rss_kb=%d" % (hwm, cur))


if __name__ == "__main__":
    main()
