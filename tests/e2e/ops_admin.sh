#!/usr/bin/env bash
# ops_admin.sh -- issue 11, the admin listener against a seeded server:
# /health answers 200 "ok" when all is well and 503 with the reasons when the
# upstream cannot be synced and the certificate is about to expire; /metrics
# passes `promtool check metrics` and carries the catalogue, content, request
# and certificate series, scans by kind, sync runs by result and the report
# queue; the access log ([log] access_log) has one line per request of a scan
# with its operation, status, bytes and the client's ComputerID; the status page (no script) renders in headless
# Chromium with the catalogue, last sync, provenance and computers, and its
# screenshot is written (docs/status-page.png is one such screenshot).
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_line() { for _ in $(seq 150); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
get() { curl -s -o "$2" -w '%{http_code}' "http://127.0.0.1:$1$3"; }

# 1. a healthy root server with a catalogue, approvals and one client report
"$GEN" --seed 5 --revisions 60 --out "$T/cat" > /dev/null
AP=$(free_port)
printf '[admin]\nlisten = 127.0.0.1:%s\n[log]\naccess_log = %s\n' "$AP" "$T/access.log" > "$T/a.conf"
"$W" -q -c "$T/a.conf" -d "$T/a" import "$T/cat" > /dev/null
"$W" -c "$T/a.conf" -d "$T/a" serve --listen 127.0.0.1:0 > "$T/a.out" 2> "$T/a.err" &
E2E_PIDS+=($!)
wait_line "$T/a.out" "^admin on http://127.0.0.1:$AP" || fail "admin listener did not start"
SP=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/a.out")
"$W" -d "$T/scan" scan --server "https://127.0.0.1:$SP" --ca "$T/a/tls/server.crt" --client-id 0a1b2c3d-0000-4000-8000-00000000a11c \
  --download "$T/dl" > "$T/scan.out" 2>&1
check "the scan (with a download and a report) succeeds" test $? -eq 0
curl -s -o /dev/null --cacert "$T/a/tls/server.crt" "https://127.0.0.1:$SP/nothing-here"
PAYLOAD=$(cd "$T/a/content" && find . -type f | sed -n 's|^\./||p' | head -1)
check "the seeded server has a payload" test -n "$PAYLOAD"
curl -s -o "$T/payload" --cacert "$T/a/tls/server.crt" "https://127.0.0.1:$SP/Content/$PAYLOAD"
PSIZE=$(stat -c %s "$T/a/content/$PAYLOAD")

# 1a. the access log: one line per request, fields as the README says
CID=0a1b2c3d-0000-4000-8000-00000000a11c
ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z'
wait_line "$T/access.log" ' Content 200 ' || true
for op in GetAuthorizationCookie GetCookie RegisterComputer SyncUpdates GetExtendedUpdateInfo ReportEventBatch; do
  contains "access log: $op answered 200 with the computer id" "$T/access.log" \
    "^$ISO 127\.0\.0\.1 POST /[A-Za-z/.]+ $op 200 [1-9][0-9]* [0-9]+\.[0-9]{3} $CID\$"
done
contains "access log: GetConfig (no cookie) has no computer id" "$T/access.log" \
  "^$ISO 127\.0\.0\.1 POST /ClientWebService/[Cc]lient\.asmx GetConfig 200 [1-9][0-9]* [0-9.]+ -\$"
contains "access log: a payload download with its bytes" "$T/access.log" \
  "^$ISO 127\.0\.0\.1 GET /Content/$PAYLOAD Content 200 $PSIZE [0-9.]+ -\$"
contains "access log: a refused path, status 404" "$T/access.log" \
  "^$ISO 127\.0\.0\.1 GET /nothing-here - 404 [0-9]+ [0-9.]+ -\$"
equals "access log: nothing but well-formed lines" \
  "$(grep -Evc "^$ISO [0-9a-f.:]+ [A-Z]+ [^ ]+ [A-Za-z-]+ [0-9]{3} [0-9]+ [0-9]+\.[0-9]{3} [^ ]+\$" "$T/access.log")" 0
code=$(get "$AP" "$T/h" /health); equals "/health on a healthy server: 200" "$code" 200
contains "/health says ok" "$T/h" '^ok$'
code=$(get "$AP" "$T/m" /metrics); equals "/metrics: 200" "$code" 200
promtool check metrics < "$T/m" > "$T/pc" 2>&1; rc=$?
equals "promtool check metrics passes" $rc 0
[ $rc -eq 0 ] || head -20 "$T/pc"
contains "metrics: revisions" "$T/m" '^wsus_revisions [1-9][0-9]*$'
contains "metrics: content by state" "$T/m" '^wsus_content_files\{state="present"\} [0-9]+$'
contains "metrics: requests by operation and status" "$T/m" '^wsus_requests_total\{operation="[A-Za-z]+",status="200"\} [1-9]'
contains "metrics: latency histogram" "$T/m" '^wsus_request_duration_seconds_bucket\{operation="[A-Za-z]+",le="\+Inf"\} [1-9]'
contains "metrics: certificate expiry" "$T/m" '^wsus_tls_certificate_expiry_seconds [1-9]'
contains "metrics: database size" "$T/m" '^wsus_database_bytes [1-9]'
contains "metrics: last sync time" "$T/m" '^wsus_sync_last_success_seconds '
contains "metrics: full scans" "$T/m" '^wsus_scans_total\{kind="full"\} [1-9]'
contains "metrics: delta scans" "$T/m" '^wsus_scans_total\{kind="delta"\} [0-9]+$'
contains "metrics: sync runs by result" "$T/m" '^wsus_sync_runs_total\{result="failure"\} 0$'
contains "metrics: report queue depth" "$T/m" '^wsus_report_queue_events 0$'
contains "metrics: report events written" "$T/m" '^wsus_report_events_total\{outcome="written"\} [1-9]'
contains "metrics: report events dropped" "$T/m" '^wsus_report_events_total\{outcome="dropped"\} 0$'
code=$(get "$AP" "$T/p.html" /); equals "status page: 200" "$code" 200
lacks "status page has no script" "$T/p.html" '<script'
code=$(get "$AP" "$T/x" /nothing); equals "other paths: 404" "$code" 404

# 2. the page rendered by headless Chromium
mkdir -p "$T/chrome"
CHROME=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --user-data-dir="$T/chrome")
timeout 120 "${CHROME[@]}" --dump-dom "http://127.0.0.1:$AP/" > "$T/dom.html" 2> "$T/chrome.err"
contains "rendered page: title" "$T/dom.html" '<h1>wsus-replica</h1>'
contains "rendered page: health" "$T/dom.html" 'Health: <strong>ok</strong>'
contains "rendered page: catalogue" "$T/dom.html" '[1-9][0-9]* revisions of [1-9][0-9]* updates'
contains "rendered page: provenance" "$T/dom.html" '<td>local import</td>'
contains "rendered page: computers" "$T/dom.html" '<th>needing updates</th>'
contains "rendered page: last sync" "$T/dom.html" '<h2>Last sync</h2>'
timeout 120 "${CHROME[@]}" --window-size=1100,1300 --screenshot="$T/status-page.png" "http://127.0.0.1:$AP/" \
  > /dev/null 2>&1
check "a screenshot was taken" test -s "$T/status-page.png"
[ -n "${WSUS_SCREENSHOT_OUT:-}" ] && cp "$T/status-page.png" "$WSUS_SCREENSHOT_OUT"

# 3. unhealthy: an upstream that cannot be reached (no successful sync within
# twice the interval), a certificate about to expire
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3 -subj /CN=short \
  -keyout "$T/short.key" -out "$T/short.pem" > /dev/null 2>&1
BP=$(free_port)
printf '[server]\ntls_cert = %s\ntls_key = %s\n[upstream]\nurl = https://127.0.0.1:1/\nretries = 0\ntimeout = 2\n[sync]\ninterval = 10\njitter = 0\n[admin]\nlisten = 127.0.0.1:%s\n' \
  "$T/short.pem" "$T/short.key" "$BP" > "$T/b.conf"
"$W" -c "$T/b.conf" -d "$T/b" serve --listen 127.0.0.1:0 > "$T/b.out" 2> "$T/b.err" &
E2E_PIDS+=($!)
wait_line "$T/b.out" "^admin on http://127.0.0.1:$BP" || fail "second admin listener did not start"
for _ in $(seq 80); do code=$(get "$BP" "$T/h2" /health); grep -q '^sync: ' "$T/h2" && break; sleep 0.5; done
equals "/health with problems: 503" "$code" 503
contains "/health names the sync problem" "$T/h2" '^sync: no successful sync with https://127.0.0.1:1/ since the start [0-9]+ s ago \(interval 10 s\); the last attempt failed: auth: '
contains "/health names the expiring certificate" "$T/h2" '^certificate: the TLS certificate .* expires in [0-9] days'
lacks "/health with problems does not say ok" "$T/h2" '^ok$'
get "$BP" "$T/m2" /metrics > /dev/null
contains "metrics: no successful sync" "$T/m2" '^wsus_sync_last_success 0$'
contains "metrics: the failed runs are counted" "$T/m2" '^wsus_sync_runs_total\{result="failure"\} [1-9]'
contains "metrics: no success time" "$T/m2" '^wsus_sync_last_success_seconds 0$'
promtool check metrics < "$T/m2" > "$T/pc2" 2>&1
equals "promtool check metrics passes on the unhealthy server" $? 0

e2e_finish
