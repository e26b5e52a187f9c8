#!/usr/bin/env bash
# server_content.sh -- /Content through a real `wsus-replica serve` on loopback:
# whole files and byte ranges (first, middle, last, open, suffix, clamped,
# multiple, unsatisfiable) compared byte for byte with the stored file; HEAD,
# validators and 304/If-Range; traversal attempts never reach a file; the
# plain-HTTP content port; request body and header caps (413, 431) and the
# server staying up; a malformed SOAP body gets a fault; SIGTERM stops it
# with status 0 and a restart keeps the generated certificate.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
D=$T/data

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_listening OUTFILE: the port from the "listening on" line (empty on timeout)
wait_listening() {
  for _ in $(seq 1 100); do
    if grep -q '^listening on https://' "$1" 2>/dev/null; then
      sed -nE 's|^listening on https://127\.0\.0\.1:([0-9]+) .*|\1|p' "$1"; return 0
    fi
    sleep 0.1
  done
  return 1
}

"$GEN" --seed 11 --revisions 30 --file-size 150000:400000 --out "$T/gen" > /dev/null
"$W" -q -d "$D" import "$T/gen" > "$T/imp" 2>&1; equals "catalogue imported" $? 0
F=$(find "$D/content" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
SIZE=$(stat -c %s "$F"); NAME=$(basename "$F"); SHA=${NAME%%.*}; EXT=${NAME#*.}; DIR=${SHA:38:2}
PLAIN=$(free_port)
cat > "$T/conf" <<EOF
[server]
listen = 127.0.0.1:8531
content_http_listen = 127.0.0.1:$PLAIN
max_body = 64KiB
EOF
"$W" -c "$T/conf" -d "$D" serve --listen 127.0.0.1:0 > "$T/out" 2> "$T/err" &
SRV=$!; E2E_PIDS+=("$SRV")
PORT=$(wait_listening "$T/out")
check "serve prints its listening line" test -n "$PORT"
contains "listening line carries the certificate fingerprint" "$T/out" "certificate sha256 [0-9a-f]{64}$"
B="https://127.0.0.1:$PORT"
U="$B/Content/$DIR/$SHA.$EXT"
C=(curl -sS --cacert "$D/tls/server.crt" --path-as-is --max-time 10)
slice() { tail -c +$(($1 + 1)) "$F" | head -c $(($2 - $1 + 1)); }

# 1. whole file and headers
"${C[@]}" -D "$T/h" -o "$T/body" "$U"
contains "GET answers 200" "$T/h" "^HTTP/1.1 200"
check "whole file is byte-exact" cmp -s "$T/body" "$F"
contains "exact Content-Length" "$T/h" "^Content-Length: $SIZE"
contains "Accept-Ranges: bytes" "$T/h" "^Accept-Ranges: bytes"
contains "strong ETag is the SHA-1" "$T/h" "^ETag: \"$SHA\""
contains "Content-Type application/octet-stream" "$T/h" "^Content-Type: application/octet-stream"
LM=$(TZ=GMT LC_ALL=C date -u -r "$F" '+%a, %d %b %Y %H:%M:%S GMT')
contains "Last-Modified is the file's mtime" "$T/h" "^Last-Modified: $LM"
lacks "no chunked encoding" "$T/h" "^Transfer-Encoding"
UP="$B/CONTENT/${DIR^^}/${SHA^^}.${EXT^^}"
"${C[@]}" -o "$T/body" "$UP"; check "upper-case URL serves the same bytes" cmp -s "$T/body" "$F"

# 2. single ranges: status, Content-Range and bytes
range_check() { # NAME RANGE FIRST LAST
  "${C[@]}" -D "$T/h" -o "$T/body" -H "Range: bytes=$2" "$U"
  if grep -q "^HTTP/1.1 206" "$T/h" && grep -q "^Content-Range: bytes $3-$4/$SIZE" "$T/h" \
     && grep -q "^Content-Length: $(($4 - $3 + 1))" "$T/h" && cmp -s "$T/body" <(slice "$3" "$4"); then
    ok "range $1 ($2)"
  else fail "range $1 ($2)"; sed 's/^/     | /' "$T/h"; fi
}
range_check first 0-999 0 999
range_check "first byte" 0-0 0 0
range_check middle 100000-140000 100000 140000
range_check last "$((SIZE - 1000))-$((SIZE - 1))" $((SIZE - 1000)) $((SIZE - 1))
range_check "open-ended" "$((SIZE - 777))-" $((SIZE - 777)) $((SIZE - 1))
range_check suffix -4096 $((SIZE - 4096)) $((SIZE - 1))
range_check "clamped end" "$((SIZE - 10))-$((SIZE + 5000))" $((SIZE - 10)) $((SIZE - 1))
range_check "1 MiB-style closed" 65536-131071 65536 131071

# 3. multiple ranges: multipart/byteranges, each part byte-exact
"${C[@]}" -D "$T/h" -o "$T/multi" -H "Range: bytes=0-99,1000-1999,-500" "$U"
contains "multi-range answers 206" "$T/h" "^HTTP/1.1 206"
contains "multi-range is multipart/byteranges" "$T/h" "^Content-Type: multipart/byteranges; boundary="
lacks "multi-range is not chunked" "$T/h" "^Transfer-Encoding"
BOUNDARY=$(sed -nE 's/^Content-Type: multipart\/byteranges; boundary=([^\r]*)\r?$/\1/p' "$T/h")
if python3 - "$T/multi" "$F" "$BOUNDARY" "$SIZE" <<'PY'
import sys
body, path, boundary, size = open(sys.argv[1], 'rb').read(), sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
data = open(path, 'rb').read()
want = [(0, 99), (1000, 1999), (size - 500, size - 1)]
parts = body.split(b'--' + boundary)
assert parts[0].strip() == b'' and parts[-1].strip() == b'--', 'framing'
parts = parts[1:-1]
assert len(parts) == len(want), 'part count %d' % len(parts)
for part, (a, b) in zip(parts, want):
    head, _, rest = part.partition(b'\r\n\r\n')
    assert b'Content-Range: bytes %d-%d/%d' % (a, b, size) in head, head
    assert rest.endswith(b'\r\n') and rest[:-2] == data[a:b + 1], 'bytes %d-%d' % (a, b)
PY
then ok "multi-range parts are byte-exact"; else fail "multi-range parts are byte-exact"; fi
CL=$(sed -nE 's/^Content-Length: ([0-9]+)\r?$/\1/p' "$T/h")
equals "multi-range Content-Length is exact" "$CL" "$(stat -c %s "$T/multi")"

# 4. unsatisfiable
rm -f "$T/body"; "${C[@]}" -D "$T/h" -o "$T/body" -H "Range: bytes=$SIZE-" "$U"
contains "range past the end answers 416" "$T/h" "^HTTP/1.1 416"
contains "416 gives the size" "$T/h" "^Content-Range: bytes \*/$SIZE"
equals "416 has no body" "$(cat "$T/body" 2>/dev/null | wc -c)" 0
"${C[@]}" -D "$T/h" -o /dev/null -H "Range: bytes=$((SIZE + 5))-$((SIZE + 9)),$((SIZE * 2))-" "$U"
contains "several unsatisfiable ranges answer 416" "$T/h" "^HTTP/1.1 416"
"${C[@]}" -D "$T/h" -o "$T/body" -H "Range: bytes=9-3" "$U"
contains "a malformed Range is ignored (200)" "$T/h" "^HTTP/1.1 200"
check "  and the whole file comes" cmp -s "$T/body" "$F"

# 5. HEAD and conditional requests
"${C[@]}" -I -o "$T/h" "$U"
contains "HEAD answers 200" "$T/h" "^HTTP/1.1 200"
contains "HEAD has the exact Content-Length" "$T/h" "^Content-Length: $SIZE"
contains "HEAD has the ETag" "$T/h" "^ETag: \"$SHA\""
"${C[@]}" -I -o "$T/h" -H "Range: bytes=10-19" "$U"
contains "HEAD with Range answers 206 with its length" "$T/h" "^Content-Length: 10"
rm -f "$T/body"; "${C[@]}" -D "$T/h" -o "$T/body" -H "If-None-Match: \"$SHA\"" "$U" "$U"
contains "If-None-Match with the ETag answers 304" "$T/h" "^HTTP/1.1 304"
equals "304 has no body (twice on one connection)" "$(cat "$T/body" 2>/dev/null | wc -c)" 0
equals "304 repeats on the kept-alive connection" "$(grep -c '^HTTP/1.1 304' "$T/h")" 2
"${C[@]}" -D "$T/h" -o /dev/null -H "If-Modified-Since: $LM" "$U"
contains "If-Modified-Since = Last-Modified answers 304" "$T/h" "^HTTP/1.1 304"
"${C[@]}" -D "$T/h" -o /dev/null -H "If-None-Match: \"0000\"" "$U"
contains "another ETag answers 200" "$T/h" "^HTTP/1.1 200"
"${C[@]}" -D "$T/h" -o "$T/body" -H "If-Range: \"$SHA\"" -H "Range: bytes=5-9" "$U"
contains "If-Range with our ETag keeps the range" "$T/h" "^HTTP/1.1 206"
"${C[@]}" -D "$T/h" -o "$T/body" -H "If-Range: \"other\"" -H "Range: bytes=5-9" "$U"
contains "If-Range with another ETag sends the whole file" "$T/h" "^HTTP/1.1 200"
check "  byte-exact" cmp -s "$T/body" "$F"
"${C[@]}" -D "$T/h" -o /dev/null -H "If-Match: \"other\"" "$U"
contains "If-Match with another ETag answers 412" "$T/h" "^HTTP/1.1 412"

# 6. traversal and malformed content paths: 400/404, never a file's bytes
OTHER=$( [ "$DIR" = "00" ] && echo 01 || echo 00 )
for p in "/Content/../wsus.db" "/Content/%2e%2e/wsus.db" "/Content/%2E%2E/%2E%2E/etc/passwd" \
         "/Content/$DIR/..%2f..%2fwsus.db" "/Content/$DIR/%2e%2e/%2e%2e/wsus.db" "//etc/passwd" \
         "/etc/passwd" "/Content/../tls/server.key" "/Content%2F$DIR%2F$SHA.$EXT" \
         "/Content/$DIR%2F$SHA.$EXT" "/Content/$DIR%5c$SHA.$EXT" "/Content/$OTHER/$SHA.$EXT" \
         "/Content/$DIR/$SHA.zzz" "/Content/$DIR/$SHA.$EXT%00.txt" "/Content/$DIR/$SHA.$EXT/." \
         "/Content/$DIR/./$SHA.$EXT" "/Content//$DIR/$SHA.$EXT" "/wsus.db" "/content" \
         "/Content/$DIR/$(echo "$SHA" | cut -c1-39).$EXT"; do
  code=$("${C[@]}" -o "$T/body" -w '%{http_code}' "$B$p"); cat "$T/body" >> "$T/refusals"
  if { [ "$code" = 404 ] || [ "$code" = 400 ]; } && ! cmp -s "$T/body" "$F" \
     && ! grep -aq "SQLite format\|PRIVATE KEY\|root:" "$T/body"; then ok "traversal $p -> $code"
  else fail "traversal $p -> $code"; fi
done
for target in "http://127.0.0.1:$PORT/Content/../wsus.db" "https://evil.example/Content/$DIR/$SHA.$EXT" \
              "/Content/$DIR/../../wsus.db"; do
  code=$("${C[@]}" -o "$T/body" -w '%{http_code}' --request-target "$target" "$B/"); cat "$T/body" >> "$T/refusals"
  if { [ "$code" = 404 ] || [ "$code" = 400 ]; } && ! grep -aq "SQLite format" "$T/body" && ! cmp -s "$T/body" "$F"
  then ok "request target $target -> $code"; else fail "request target $target -> $code"; fi
done
lacks "refusals never show file-system paths" "$T/refusals" "$D|/tmp/|wsus\.db|server\.key"
contains "refused requests are logged" "$T/err" "refused status=404 method=GET path=/Content/\.\./wsus\.db"

# 7. the plain-HTTP content port
P="http://127.0.0.1:$PLAIN/Content/$DIR/$SHA.$EXT"
curl -sS --max-time 10 -o "$T/body" "$P"; check "plain port serves the file byte-exact" cmp -s "$T/body" "$F"
curl -sS --max-time 10 -o "$T/body" -H "Range: bytes=1000-2999" "$P"
check "plain port serves ranges" cmp -s "$T/body" <(slice 1000 2999)
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -d '<x/>' \
       "http://127.0.0.1:$PLAIN/ServerSyncWebService/ServerSyncWebService.asmx")
equals "plain port has no SOAP services" "$code" 404

# 8. request bodies: over the cap 413 (declared and chunked), server stays up
head -c 100000 /dev/zero | tr '\0' 'x' > "$T/big"
SOAP="$B/DssAuthWebService/DssAuthWebService.asmx"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' -H 'Expect:' --data-binary @"$T/big" "$SOAP")
equals "oversized POST answers 413" "$code" 413
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' -H 'Expect: 100-continue' \
       --data-binary @"$T/big" "$SOAP")
equals "oversized POST with Expect: 100-continue answers 413" "$code" 413
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' -H 'Transfer-Encoding: chunked' \
       --data-binary @"$T/big" "$SOAP")
equals "oversized chunked POST answers 413" "$code" 413
"${C[@]}" -o "$T/body" "$U"; check "server still serves after oversized bodies" cmp -s "$T/body" "$F"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" "$U")
equals "100 KB of request headers answers 431" "$code" 431
"${C[@]}" -o "$T/body" "$U"; check "server still serves after oversized headers" cmp -s "$T/body" "$F"
# a malformed body on a SOAP path is the SOAP layer's fault, with HTTP 500
code=$("${C[@]}" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' \
       --data-binary '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Get' "$SOAP")
equals "malformed SOAP body answers 500" "$code" 500
contains "  with a SOAP fault" "$T/body" "Fault"
"${C[@]}" -o "$T/body" "$U"; check "server still serves after a malformed body" cmp -s "$T/body" "$F"

# 9. SIGTERM: prompt, clean, status 0; a restart keeps the certificate
FP1=$(sed -nE 's/.*certificate sha256 ([0-9a-f]{64})$/\1/p' "$T/out")
kill -TERM "$SRV"
for _ in $(seq 1 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SRV" 2>/dev/null; then fail "SIGTERM stops the server within 5 s"; else ok "SIGTERM stops the server within 5 s"; fi
wait "$SRV"; equals "exit status 0 after SIGTERM" $? 0
contains "clean stop is logged" "$T/err" "stopped"
"$W" -d "$D" serve --listen 127.0.0.1:0 > "$T/out2" 2> "$T/err2" &
SRV2=$!; E2E_PIDS+=("$SRV2")
PORT2=$(wait_listening "$T/out2")
FP2=$(sed -nE 's/.*certificate sha256 ([0-9a-f]{64})$/\1/p' "$T/out2")
equals "restart keeps the generated certificate" "$FP2" "$FP1"
FPX=$(openssl x509 -in "$D/tls/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
equals "printed fingerprint is the certificate's SHA-256" "$FP1" "$FPX"
kill -INT "$SRV2"; wait "$SRV2"; equals "exit status 0 after SIGINT" $? 0
check "restarted server had a port" test -n "$PORT2"

e2e_finish
