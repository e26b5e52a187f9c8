#!/usr/bin/env bash
# trust_http.sh -- the upstream client's HTTP behaviour against a python3
# HTTPS server on loopback, through tests/tools/wsus-httpget: a redirect to
# http:// fails closed (and https redirects are followed, loops stopped);
# SOAP POST headers, gzip and SOAP faults; content GET with Range resume,
# resume after a cut connection, a server that ignores ranges; 503 retried
# with backoff; keep-alive with the verdict kept on the reused connection;
# plain-http payloads only when allow_http_content = true.
. "$(dirname "$0")/trust_lib.sh"
mk_certs
P=$(free_port); LOG="$T/https.log"; https_server "$P" good "$LOG"
U="https://127.0.0.1:$P"
GOOD_FP=$(fp "$T/good.pem")
write_conf "$T/c" "$U/" "$T/pins-empty"
RETRIES=2 write_conf "$T/cr" "$U/" "$T/pins-empty"

# 1. redirects
"$HTTPGET" -c "$T/c" probe "$U/to-http" > "$T/out" 2>&1; rc=$?
expect_fail "redirect to http://" "$T/out" "$rc" "refusing the redirect from $U/to-http: refusing URL http://127.0.0.1:$P/: only https:// is allowed"
"$HTTPGET" -c "$T/c" get "$U/to-https" --out "$T/hello" > "$T/out" 2>&1; rc=$?
equals "redirect to https is followed" "$rc" 0
contains "redirect: the target's body arrived" "$T/hello" "hello from the test upstream"
contains "redirect: logged" "$T/out" "redirected status=302 from=$U/to-https to=$U/hello"
"$HTTPGET" -c "$T/c" probe "$U/loop" > "$T/out" 2>&1; rc=$?
expect_fail "redirect loop" "$T/out" "$rc" "more than 5 redirects"

# 2. SOAP POST: headers, gzip accepted and decoded, verdict with the leaf
printf '<Envelope>GetAuthConfig</Envelope>' > "$T/body.xml"
"$HTTPGET" -c "$T/c" soap "$U/ServerSyncWebService/ServerSyncWebService.asmx" \
  "http://www.microsoft.com/SoftwareDistribution/Server/ServerSyncWebService/GetAuthConfig" "$T/body.xml" \
  --out "$T/soap.out" > "$T/out" 2>&1; rc=$?
equals "SOAP POST exits 0" "$rc" 0
contains "SOAP POST: status 200" "$T/out" "^status=200"
contains "SOAP POST: SOAPAction quoted" "$LOG" "POST /ServerSyncWebService/ServerSyncWebService.asmx action=\"http://www.microsoft.com/SoftwareDistribution/Server/ServerSyncWebService/GetAuthConfig\""
contains "SOAP POST: Content-Type text/xml utf-8" "$LOG" "ctype=text/xml; charset=utf-8"
contains "SOAP POST: gzip offered" "$LOG" "POST /ServerSync.* ae=.*gzip"
contains "SOAP POST: gzip body decoded" "$T/soap.out" "<Action>\"http://www.microsoft.com/SoftwareDistribution/Server/ServerSyncWebService/GetAuthConfig\"</Action>"
contains "SOAP POST: request body delivered" "$T/soap.out" "&lt;Envelope>GetAuthConfig"
contains "SOAP POST: verdict recorded" "$T/out" "^pin=store-empty allowed=1"
contains "SOAP POST: leaf fingerprint for provenance" "$T/out" "^leaf_sha256=$GOOD_FP"
"$HTTPGET" -c "$T/c" soap "$U/fault" '"already-quoted"' "$T/body.xml" --out "$T/fault.out" > "$T/out" 2>&1; rc=$?
equals "SOAP fault: returned, not an error" "$rc" 0
contains "SOAP fault: status 500" "$T/out" "^status=500"
contains "SOAP fault: body kept" "$T/fault.out" "InvalidCookie"
contains "SOAP fault: an already quoted action is kept" "$LOG" "POST /fault action=\"already-quoted\" "
lacks "SOAP fault: not retried" "$T/out" "retrying"
RETRIES=1 write_conf "$T/c1" "$U/" "$T/pins-empty"
"$HTTPGET" -c "$T/c1" soap "$U/busy" "a" "$T/body.xml" > "$T/out" 2>&1; rc=$?
equals "503 then 200: succeeds" "$rc" 0
contains "503: logged as a failed attempt" "$T/out" "request failed url=$U/busy .*attempt=1/2: HTTP 503"
contains "503: retried after a backoff" "$T/out" "retrying in [0-9]+ ms"
equals "503: two POSTs reached the server" "$(grep -c 'POST /busy' "$LOG")" 2

# 3. content GET: full, resumed, cut and resumed, range ignored, 404
python3 -c "import sys; sys.stdout.buffer.write(bytes((i*7+3)%251 for i in range(100000)))" > "$T/expected"
"$HTTPGET" -c "$T/c" get "$U/file" --out "$T/full" > "$T/out" 2>&1
check "GET: whole file" cmp -s "$T/full" "$T/expected"
lacks "GET: payloads do not ask for compression" "$LOG" "GET /file range=- ae=.*gzip"
head -c 40000 "$T/expected" > "$T/part"
"$HTTPGET" -c "$T/c" get "$U/file" --offset 40000 --out "$T/part" > "$T/out" 2>&1
contains "GET resume: Range sent" "$LOG" "GET /file range=bytes=40000-"
check "GET resume: file completed" cmp -s "$T/part" "$T/expected"
contains "GET resume: 60000 bytes fetched" "$T/out" "^bytes=60000 restarts=0"
"$HTTPGET" -c "$T/cr" get "$U/flaky" --out "$T/flaky" > "$T/out" 2>&1; rc=$?
equals "cut transfer: retried to success" "$rc" 0
contains "cut transfer: resumed where it stopped" "$LOG" "GET /flaky range=bytes=30000-"
check "cut transfer: file intact" cmp -s "$T/flaky" "$T/expected"
head -c 40000 "$T/expected" > "$T/nr"
"$HTTPGET" -c "$T/c" get "$U/norange" --offset 40000 --out "$T/nr" > "$T/out" 2>&1
contains "range ignored: the sink restarted at 0" "$T/out" "^bytes=100000 restarts=0"
contains "range ignored: logged" "$T/out" "range ignored by the upstream, restarting from 0"
check "range ignored: file intact" cmp -s "$T/nr" "$T/expected"
"$HTTPGET" -c "$T/c" get "$U/missing" > "$T/out" 2>&1; rc=$?
expect_fail "404" "$T/out" "$rc" "^error=HTTP 404 from $U/missing"

# 4. keep-alive: three requests, one connection, the verdict kept on reuse
before=$(grep -c '^connection' "$LOG")
"$HTTPGET" -c "$T/c" -n 3 get "$U/hello" > "$T/out" 2>&1
after=$(grep -c '^connection' "$LOG")
equals "keep-alive: one connection for three requests" "$((after - before))" 1
equals "keep-alive: the verdict stays on the reused connection" "$(grep -c "^leaf_sha256=$GOOD_FP" "$T/out")" 3

# 5. plain-http payloads: refused by default, allowed only as payloads when configured
P_PLAIN=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$T" "$P_PLAIN" > "$T/plain.log" 2>&1 &
E2E_PIDS+=($!); wait_port "$P_PLAIN"
"$HTTPGET" -c "$T/c" get "http://127.0.0.1:$P_PLAIN/expected" --payload > "$T/out" 2>&1; rc=$?
expect_fail "http payload without allow_http_content" "$T/out" "$rc" "only https:// is allowed \(or http:// for payloads\)|only https:// is allowed for upstream requests"
write_conf "$T/ch" "$U/" "$T/pins-empty" "allow_http_content = true"
"$HTTPGET" -c "$T/ch" get "http://127.0.0.1:$P_PLAIN/expected" --payload --out "$T/viahttp" > "$T/out" 2>&1; rc=$?
equals "http payload with allow_http_content" "$rc" 0
check "http payload: file intact" cmp -s "$T/viahttp" "$T/expected"
"$HTTPGET" -c "$T/ch" get "http://127.0.0.1:$P_PLAIN/expected" > "$T/out" 2>&1; rc=$?
expect_fail "http for a non-payload GET, even with allow_http_content" "$T/out" "$rc" "only https:// is allowed for upstream requests"
"$HTTPGET" -c "$T/ch" soap "http://127.0.0.1:$P_PLAIN/x" a "$T/body.xml" > "$T/out" 2>&1; rc=$?
expect_fail "http for SOAP, even with allow_http_content" "$T/out" "$rc" "only https:// is allowed for upstream requests"

e2e_finish
