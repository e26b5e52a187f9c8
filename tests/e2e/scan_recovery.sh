#!/usr/bin/env bash
# scan_recovery.sh -- how `wsus-replica scan` reacts to faults: a small HTTPS
# proxy in front of a real `wsus-replica serve` answers one chosen call with
# a chosen SOAP fault and passes everything else through. CookieExpired and
# InvalidCookie are recovered by a new authorization, ConfigChanged by
# GetConfig again, RegistrationRequired by RegisterComputer, each once and
# with the same result as an undisturbed scan; a fault that repeats, or one
# that cannot be recovered from, ends the scan with exit 1 and the line
# "fault <ErrorCode>: <Message> in <operation>".
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
D=$T/data

wait_line() { # FILE REGEX: the first group of the first match, within 10 s
  for _ in $(seq 1 100); do
    if grep -qE "$2" "$1" 2>/dev/null; then sed -nE "s#$2#\1#p" "$1" | head -1; return 0; fi
    sleep 0.1
  done
  return 1
}

cat > "$T/proxy.py" <<'PY'
# proxy.py PORTFILE CERT KEY UPSTREAM CA RULES LOG: RULES = "Op:n:ErrorCode,..."
# (the n-th call of Op gets the fault); LOG gets one line per call.
import http.client, re, ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
portfile, cert, key, upstream, ca, rules, log = sys.argv[1:8]
want = {}
for r in filter(None, rules.split(',')):
    op, n, code = r.split(':')
    want[(op, int(n))] = code
seen, lock = {}, threading.Lock()
up_host, up_port = upstream.split(':')
up_ctx = ssl.create_default_context(cafile=ca)

class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        m = re.search(rb'<soap:Body><(\w+)', body)
        op = m.group(1).decode() if m else '?'
        with lock:
            seen[op] = seen.get(op, 0) + 1
            n = seen[op]
            code = want.get((op, n))
            with open(log, 'a') as f:
                f.write('%s%s\n' % (op, ' FAULT ' + code if code else ''))
        if code:
            out = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
                   'soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>'
                   'injected</faultstring><detail><ErrorCode>%s</ErrorCode><Message>injected %s</Message>'
                   '</detail></soap:Fault></soap:Body></soap:Envelope>' % (code, code)).encode()
            status = 500
        else:
            c = http.client.HTTPSConnection(up_host, int(up_port), context=up_ctx, timeout=30)
            c.request('POST', self.path, body, {k: v for k, v in self.headers.items()
                                                if k.lower() in ('content-type', 'soapaction')})
            r = c.getresponse()
            out, status = r.read(), r.status
            c.close()
        self.send_response(status)
        self.send_header('Content-Type', 'text/xml; charset=utf-8')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)

srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(portfile + '.tmp', 'w').write(str(srv.server_address[1]))
import os; os.rename(portfile + '.tmp', portfile)
srv.serve_forever()
PY

"$GEN" --seed 3 --revisions 120 --out "$T/gen" > /dev/null
"$W" -q -d "$D" import "$T/gen" > /dev/null 2>&1; equals "catalogue imported" $? 0
"$W" -q -d "$D" group add Lab > /dev/null 2>&1
for u in $(awk -F'\t' '$4 == "bundle" || $4 == "leaf" { print $1 }' "$T/gen/manifest.tsv" | head -40); do
  "$W" -q -d "$D" approve "$u" --group Lab --action install > /dev/null 2>&1
done
"$W" -d "$D" serve --listen 127.0.0.1:0 > "$T/out" 2> "$T/err" &
E2E_PIDS+=("$!")
PORT=$(wait_line "$T/out" '^listening on https://127\.0\.0\.1:([0-9]+) .*')
check "server listening" test -n "$PORT"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/p.key" -out "$T/p.crt" -days 2 -subj /CN=proxy \
  -addext "subjectAltName=IP:127.0.0.1" > /dev/null 2>&1

# scan_via NAME RULES: a scan through a proxy injecting RULES; sets RC, leaves
# $T/NAME.json, $T/NAME.err and the call log $T/NAME.log.
scan_via() {
  rm -f "$T/$1.port"
  python3 "$T/proxy.py" "$T/$1.port" "$T/p.crt" "$T/p.key" "127.0.0.1:$PORT" "$D/tls/server.crt" "$2" \
    "$T/$1.log" 2> "$T/$1.proxy.err" &
  local pp=$!; E2E_PIDS+=("$pp")
  for _ in $(seq 1 100); do [ -s "$T/$1.port" ] && break; sleep 0.1; done
  env -u https_proxy -u HTTPS_PROXY -u ALL_PROXY "$W" -d "$T/nodata" scan --server "https://127.0.0.1:$(cat "$T/$1.port")" \
    --ca "$T/p.crt" --group Lab --client-id 11111111-2222-4333-8444-555555555555 --json \
    > "$T/$1.json" 2> "$T/$1.err"
  RC=$?
  kill "$pp" 2>/dev/null; wait "$pp" 2>/dev/null
}
offered() { python3 -c 'import json,sys; print(sorted((u["update_id"], u["revision"]) for u in json.load(open(sys.argv[1]))["updates"] if not u["out_of_scope"]))' "$1"; }
field() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j[sys.argv[2]])' "$1" "$2"; }
# after NAME FAULTLINE: the calls that followed the injected fault, comma-separated
after() { sed -n "/$2/,\$p" "$T/$1.log" | sed 1d | head -"$3" | paste -sd, -; }

scan_via base ""
equals "undisturbed scan exits 0" "$RC" 0
BASE=$(offered "$T/base.json")
check "it was offered something (>= 20 revisions)" test "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["updates"]))' "$T/base.json")" -ge 20
check "  over several SyncUpdates pages" test "$(grep -c '^SyncUpdates$' "$T/base.log")" -ge 2

scan_via expired "SyncUpdates:2:CookieExpired"
equals "CookieExpired on a SyncUpdates page: exit 0" "$RC" 0
equals "  re-authorised, then the same page again" "$(after expired 'FAULT CookieExpired' 3)" \
  "GetAuthorizationCookie,GetCookie,SyncUpdates"
equals "  one recovery counted" "$(field "$T/expired.json" recoveries)" 1
equals "  the same offers as undisturbed" "$(offered "$T/expired.json")" "$BASE"

scan_via invalid "GetExtendedUpdateInfo:1:InvalidCookie"
equals "InvalidCookie on GetExtendedUpdateInfo: exit 0" "$RC" 0
equals "  re-authorised, then GetExtendedUpdateInfo again" "$(after invalid 'FAULT InvalidCookie' 3)" \
  "GetAuthorizationCookie,GetCookie,GetExtendedUpdateInfo"
equals "  the same offers as undisturbed" "$(offered "$T/invalid.json")" "$BASE"

scan_via config "SyncUpdates:1:ConfigChanged"
equals "ConfigChanged on SyncUpdates: exit 0" "$RC" 0
equals "  GetConfig again, re-authorised, SyncUpdates again" "$(after config 'FAULT ConfigChanged' 4)" \
  "GetConfig,GetAuthorizationCookie,GetCookie,SyncUpdates"
equals "  the same offers as undisturbed" "$(offered "$T/config.json")" "$BASE"

scan_via cookiecfg "GetCookie:1:ConfigChanged"
equals "ConfigChanged on GetCookie: exit 0" "$RC" 0
equals "  GetConfig again before the cookie" "$(after cookiecfg 'FAULT ConfigChanged' 3)" \
  "GetConfig,GetAuthorizationCookie,GetCookie"

scan_via reg "SyncUpdates:1:RegistrationRequired"
equals "RegistrationRequired on SyncUpdates: exit 0" "$RC" 0
equals "  RegisterComputer, then SyncUpdates again" "$(after reg 'FAULT RegistrationRequired' 2)" \
  "RegisterComputer,SyncUpdates"

scan_via twice "SyncUpdates:1:CookieExpired,SyncUpdates:2:InvalidCookie"
equals "a second cookie fault is not recovered: exit 1" "$RC" 1
contains "  the fault line names code, message and operation" "$T/twice.err" \
  "fault InvalidCookie: injected InvalidCookie in SyncUpdates"
equals "  and the JSON carries it" "$(python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["fault"]; print(f["code"], f["operation"])' "$T/twice.json")" \
  "InvalidCookie SyncUpdates"

scan_via busy "GetConfig:1:ServerBusy"
equals "ServerBusy on GetConfig: exit 1" "$RC" 1
contains "  with the fault line" "$T/busy.err" "fault ServerBusy: injected ServerBusy in GetConfig"
equals "  and no further call" "$(wc -l < "$T/busy.log")" 1

scan_via report "ReportEventBatch:1:InternalServerError"
equals "a fault on ReportEventBatch: exit 1" "$RC" 1
contains "  with the fault line" "$T/report.err" "fault InternalServerError: injected InternalServerError in ReportEventBatch"
equals "  what was offered is still printed" "$(offered "$T/report.json")" "$BASE"
e2e_finish
