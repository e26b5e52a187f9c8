#!/usr/bin/env bash
# server_tls.sh -- the TLS face of `wsus-replica serve`: TLS 1.0/1.1 and
# non-ECDHE/non-AEAD suites refused, TLS 1.2 (ECDHE + AES-GCM) and 1.3
# accepted; with client_cert_allow, a downstream-only service admits the
# listed client certificate and refuses another one or none with 403, while
# content stays open to everyone; on the Reporting path Windows clients share,
# only the rollup operations are gated; SOAP answers are gzip- or
# Xpress-encoded on request; a configured certificate is the one served.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
T=$E2E_TMP
D=$T/data

wait_listening() {
  for _ in $(seq 1 100); do
    if grep -q '^listening on https://' "$1" 2>/dev/null; then
      sed -nE 's|^listening on https://127\.0\.0\.1:([0-9]+) .*|\1|p' "$1"; return 0
    fi
    sleep 0.1
  done
  return 1
}
mkcert() { # NAME CN: a self-signed EC certificate made by the test
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$T/$1.key" -out "$T/$1.crt" > /dev/null 2>&1
}
fp_colons() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

mkcert dss-a "downstream A"; mkcert dss-b "downstream B"; mkcert srv "wsus-replica test"
FPA=$(fp_colons "$T/dss-a.crt")       # colon form: the config normalises it
FPB=$(fp_colons "$T/dss-b.crt" | tr -d : | tr A-F a-f)
FPS=$(fp_colons "$T/srv.crt" | tr -d : | tr A-F a-f)
cat > "$T/conf" <<EOF
[server]
listen = 127.0.0.1:8531
tls_cert = $T/srv.crt
tls_key = $T/srv.key
client_cert_allow = $FPA
EOF
"$W" -c "$T/conf" -d "$D" serve --listen 127.0.0.1:0 > "$T/out" 2> "$T/err" &
SRV=$!; E2E_PIDS+=("$SRV")
PORT=$(wait_listening "$T/out")
check "serve starts with a configured certificate" test -n "$PORT"
contains "the configured certificate's fingerprint is printed" "$T/out" "certificate sha256 $FPS\$"
check "nothing is generated when a certificate is configured" test ! -e "$D/tls/server.crt"

# 1. protocol versions and suites
hs() { # NAME EXPECT(ok|refused) s_client options...
  local name=$1 want=$2; shift 2
  timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost "$@" < /dev/null > "$T/hs" 2>&1
  local rc=$?
  if [ "$want" = ok ]; then
    if [ $rc -eq 0 ] && grep -Eq "Cipher is (TLS_AES|TLS_CHACHA|ECDHE-)[A-Z0-9_-]*(GCM|POLY1305)" "$T/hs"; then ok "$name"
    else fail "$name"; sed 's/^/     | /' "$T/hs" | grep -E "Cipher|Protocol|error" | head -5; fi
  else
    if [ $rc -ne 0 ] && grep -q "Cipher is (NONE)" "$T/hs"; then ok "$name"
    else fail "$name"; sed 's/^/     | /' "$T/hs" | grep -E "Cipher|Protocol|error" | head -5; fi
  fi
}
hs "TLS 1.0 handshake refused" refused -tls1 -cipher 'DEFAULT@SECLEVEL=0'
hs "TLS 1.1 handshake refused" refused -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'
hs "TLS 1.2 handshake accepted" ok -tls1_2
contains "  TLS 1.2 negotiates ECDHE with AES-GCM" "$T/hs" "Cipher is ECDHE-(ECDSA|RSA)-AES(128|256)-GCM"
hs "TLS 1.3 handshake accepted" ok -tls1_3
hs "TLS 1.2 ECDHE-ECDSA-AES128-GCM (Windows 10) accepted" ok -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
hs "TLS 1.2 CBC suites refused" refused -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA'
hs "TLS 1.2 without ECDHE refused" refused -tls1_2 -cipher 'AES128-GCM-SHA256:AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256'
timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 < /dev/null > "$T/hs" 2>&1
contains "a client certificate is requested when client_cert_allow is set" "$T/hs" "Acceptable client certificate CA names|Client Certificate Types"

# 2. mutual TLS allow-list
C=(curl -sS --cacert "$T/srv.crt" --max-time 10)
SOAP="https://127.0.0.1:$PORT/ServerSyncWebService/ServerSyncWebService.asmx"
ENV='<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetAuthConfig xmlns="http://www.microsoft.com/SoftwareDistribution"/></soap:Body></soap:Envelope>'
post() { "${C[@]}" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' -d "$ENV" "$@" "$SOAP"; }
code_a=$(post --cert "$T/dss-a.crt" --key "$T/dss-a.key")
equals "allowed client certificate is served" "$code_a" 200
contains "  with the operation's answer" "$T/body" "GetAuthConfigResponse"
code=$(post --cert "$T/dss-b.crt" --key "$T/dss-b.key"); equals "unknown client certificate gets 403" "$code" 403
lacks "  and no SOAP answer" "$T/body" "Envelope"
code=$(post); equals "no client certificate gets 403" "$code" 403
contains "refusal logs the unknown fingerprint" "$T/err" "refused client certificate sha256=$FPB"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' -d "$ENV" \
       --cert "$T/dss-a.crt" --key "$T/dss-a.key" "https://127.0.0.1:$PORT/serversyncwebservice/SERVERSYNCWEBSERVICE.ASMX")
equals "the path matches in any case behind the gate" "$code" "$code_a"
# 3. Reporting: ReportEventBatch (clients, no certificate) is open; the rollups are not
REP="https://127.0.0.1:$PORT/ReportingWebService/ReportingWebService.asmx"
EX16="$WSUS_SHARED_DIR/spec/examples-wusp/16-ReportEventBatch-Event148-request.xml"
ROLLUP='<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><RollupDownstreamServers xmlns="http://www.microsoft.com/SoftwareDistribution"><downstreamServers/></RollupDownstreamServers></soap:Body></soap:Envelope>'
code=$("${C[@]}" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary @"$EX16" "$REP")
equals "ReportEventBatch without a client certificate is served (a SOAP answer, not 403)" "$code" 500
contains "  the spec's cookie is not ours: InvalidCookie" "$T/body" "<ErrorCode>InvalidCookie</ErrorCode>"
code=$("${C[@]}" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml' -d "$ROLLUP" "$REP")
equals "RollupDownstreamServers without a client certificate gets 403" "$code" 403
lacks "  and no SOAP answer" "$T/body" "Envelope"
code=$("${C[@]}" -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/xml' -d "$ROLLUP" \
       --cert "$T/dss-a.crt" --key "$T/dss-a.key" "$REP")
contains "RollupDownstreamServers with the listed certificate reaches the operation" "$T/body" "Envelope"

# 4. compression: gzip decodes with curl --compressed; xpress is announced
GETCONFIG='<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetConfig xmlns="http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService"><protocolVersion>1.8</protocolVersion></GetConfig></soap:Body></soap:Envelope>'
CLI="https://127.0.0.1:$PORT/ClientWebService/Client.asmx"
"${C[@]}" --compressed -D "$T/hdr" -o "$T/body" -H 'Content-Type: text/xml' -d "$GETCONFIG" "$CLI"
contains "GetConfig with Accept-Encoding gzip comes gzip-encoded" "$T/hdr" "^[Cc]ontent-[Ee]ncoding: gzip"
contains "  and curl --compressed reads the envelope" "$T/body" "<GetConfigResult>"
"${C[@]}" -D "$T/hdr" -o "$T/body" -H 'Content-Type: text/xml' -H 'Accept-Encoding: xpress' -d "$GETCONFIG" "$CLI"
contains "GetConfig with Accept-Encoding xpress comes xpress-encoded" "$T/hdr" "^[Cc]ontent-[Ee]ncoding: xpress"
lacks "  (not readable as it is)" "$T/body" "<GetConfigResult>"

code=$("${C[@]}" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/Content/00/0000000000000000000000000000000000000000.cab")
equals "content needs no client certificate (404 for an absent payload, not 403)" "$code" 404
code=$("${C[@]}" -o /dev/null -w '%{http_code}' --cert "$T/dss-b.crt" --key "$T/dss-b.key" \
       "https://127.0.0.1:$PORT/Content/00/0000000000000000000000000000000000000000.cab")
equals "content ignores an unlisted client certificate" "$code" 404

kill -TERM "$SRV"; wait "$SRV"; equals "exit status 0 after SIGTERM" $? 0
e2e_finish
