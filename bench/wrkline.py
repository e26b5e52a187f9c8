#!/usr/bin/env python3
"""wrkline.py WRK_OUTPUT SECONDS -- one key=value line from a `wrk --latency`
report: requests, rps (all answers), ok_rps (2xx/3xx only), non2xx (503s
under admission control), socket errors, p50/p99/max latency in ms."""
import re
import sys

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else float("nan")


def main():
    out = open(sys.argv[1]).read()
    secs = float(sys.argv[2])
    got = {"requests": 0, "non2xx": 0, "errors": 0}
    m = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", out)
    if m:
        got["requests"] = int(m.group(1))
        secs = ms(m.group(2) + m.group(3)) / 1000.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        got["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        got["errors"] = sum(int(x) for x in m.groups())
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    m = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M)
    rps = got["requests"] / secs if secs > 0 else 0.0
    ok = (got["requests"] - got["non2xx"]) / secs if secs > 0 else 0.0
    print("requests=%d rps=%.0f ok_rps=%.0f non2xx=%d errors=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f"
          % (got["requests"], rps, ok, got["non2xx"], got["errors"], ms(pct.get("50", "")),
             ms(pct.get("99", "")), ms(m.group(1)) if m else float("nan")))


if __name__ == "__main__":
    main()
