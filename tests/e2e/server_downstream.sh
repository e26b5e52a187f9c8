#!/usr/bin/env bash
# server_downstream.sh -- [server] downstream (issue 9.5): open (the default,
# as WSUS) lets any peer authorise as a downstream server; allow_list admits
# only the client certificates of client_cert_allow: an unlisted peer (or one
# without a certificate) gets HTTP 403 on DssAuth, ServerSyncWebService and
# the rollup operations, while Windows client services are unaffected. A
# rolled-up computer is stored with the downstream that reported it; status
# shows the policy. downstream = open beside client_cert_allow is refused. A
# wsus-replica downstream presents [upstream] client_cert to such an upstream.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
T=$E2E_TMP
SSS_EX="$WSUS_SHARED_DIR/spec/examples-sss"

mkcert() { # NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/$1.key" -out "$T/$1.crt" > /dev/null 2>&1
}
fp() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
# start NAME: serve with $T/NAME.conf on a free port; PORT set
start() {
  "$W" -c "$T/$1.conf" serve --listen 127.0.0.1:0 > "$T/$1.out" 2> "$T/$1.err" &
  SRV=$!; E2E_PIDS+=("$SRV")
  PORT=
  for _ in $(seq 1 100); do
    PORT=$(sed -nE 's|^listening on https://127\.0\.0\.1:([0-9]+) .*|\1|p' "$T/$1.out" 2>/dev/null)
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "serve $1 does not start:"; tail -5 "$T/$1.err"; return 1
}
stop_srv() { kill -TERM "$SRV"; wait "$SRV"; }
# post PATH FILE [curl options...]: the HTTP status of a SOAP POST
post() {
  local path=$1 file=$2; shift 2
  curl -sS --cacert "$T/srv.crt" --max-time 10 -o "$T/body" -w '%{http_code}' \
    -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$file" "$@" "https://127.0.0.1:$PORT$path"
}
DSS=/DssAuthWebService/DssAuthWebService.asmx
SSS=/ServerSyncWebService/ServerSyncWebService.asmx
REP=/ReportingWebService/ReportingWebService.asmx
CLI=/ClientWebService/Client.asmx
SAUTH=/SimpleAuthWebService/SimpleAuth.asmx
AUTH="$SSS_EX/02-GetAuthorizationCookie-request.xml"
AUTHCFG="$SSS_EX/01-GetAuthConfig-request.xml"
ROLLUP="$SSS_EX/10-RollupComputers-request.xml"
GETCONFIG="$WSUS_SHARED_DIR/spec/examples-wusp/01-GetConfig-request.xml"
CLIAUTH="$WSUS_SHARED_DIR/spec/examples-wusp/03-GetAuthorizationCookie-request.xml"

mkcert srv "wsus-replica test"; mkcert dss-a "downstream A"; mkcert dss-b "downstream B"
FPA=$(fp "$T/dss-a.crt"); FPB=$(fp "$T/dss-b.crt")
base_conf() { printf '[server]\ntls_cert = %s\ntls_key = %s\n' "$T/srv.crt" "$T/srv.key"; }

# 1. open (the default): any peer authorises as a downstream server
{ base_conf; printf '[storage]\ndata_dir = %s\n' "$T/open.d"; } > "$T/open.conf"
"$W" -q -c "$T/open.conf" migrate > /dev/null   # status never creates a database
"$W" -c "$T/open.conf" status > "$T/open.status" 2>&1
contains "open: status shows the policy" "$T/open.status" "^downstreams: +open: any server may sync"
"$W" -c "$T/open.conf" status --json > "$T/open.json" 2>&1
contains "open: status --json downstream_policy" "$T/open.json" '"downstream_policy": "open"'
start open || { e2e_finish; exit 1; }
equals "open: DssAuth without a client certificate is served" "$(post $DSS "$AUTH")" 200
contains "  with an authorization cookie" "$T/body" "GetAuthorizationCookieResult"
equals "open: ServerSync GetAuthConfig is served" "$(post $SSS "$AUTHCFG")" 200
stop_srv

# 2. allow_list: only downstream A
{ base_conf; printf 'downstream = allow_list\nclient_cert_allow = %s\n[storage]\ndata_dir = %s\n' "$FPA" "$T/al.d"; } > "$T/al.conf"
"$W" -q -c "$T/al.conf" migrate > /dev/null
"$W" -c "$T/al.conf" status > "$T/al.status" 2>&1
contains "allow_list: status shows the policy" "$T/al.status" "^downstreams: +allow_list: only the 1 client certificate"
start al || { e2e_finish; exit 1; }
for who in none b; do
  if [ $who = b ]; then opt=(--cert "$T/dss-b.crt" --key "$T/dss-b.key"); else opt=(); fi
  equals "allow_list, peer $who: DssAuth 403" "$(post $DSS "$AUTH" "${opt[@]}")" 403
  lacks "  and no SOAP answer" "$T/body" "Envelope"
  equals "allow_list, peer $who: ServerSync 403" "$(post $SSS "$AUTHCFG" "${opt[@]}")" 403
  equals "allow_list, peer $who: RollupComputers 403" "$(post $REP "$ROLLUP" "${opt[@]}")" 403
  lacks "  and no SOAP answer" "$T/body" "Envelope"
done
contains "the refusal names the unlisted certificate" "$T/al.err" "refused client certificate sha256=$FPB"
A=(--cert "$T/dss-a.crt" --key "$T/dss-a.key")
equals "allow_list, listed peer: DssAuth served" "$(post $DSS "$AUTH" "${A[@]}")" 200
cp "$T/body" "$T/auth-a"
equals "allow_list, listed peer: ServerSync served" "$(post $SSS "$AUTHCFG" "${A[@]}")" 200
code=$(post $REP "$ROLLUP" "${A[@]}")
check "allow_list, listed peer: RollupComputers reaches the operation (not 403)" test "$code" != 403
contains "  a SOAP answer" "$T/body" "Envelope"
# Windows clients are unaffected (no certificate, or an unlisted one)
equals "allow_list: client GetConfig without a certificate served" "$(post $CLI "$GETCONFIG")" 200
contains "  with its answer" "$T/body" "GetConfigResult"
equals "allow_list: client GetConfig with an unlisted certificate served" \
  "$(post $CLI "$GETCONFIG" --cert "$T/dss-b.crt" --key "$T/dss-b.key")" 200
equals "allow_list: SimpleAuth without a certificate served" "$(post $SAUTH "$CLIAUTH")" 200
code=$(post $REP "$WSUS_SHARED_DIR/spec/examples-wusp/16-ReportEventBatch-Event148-request.xml")
equals "allow_list: ReportEventBatch without a certificate reaches the operation (fault, not 403)" "$code" 500
contains "  InvalidCookie for the spec's cookie" "$T/body" "InvalidCookie"

# A full downstream conversation from A: the rolled-up computer is stored
# with the downstream that reported it.
acookie=$(grep -o '<CookieData>[^<]*</CookieData>' "$T/auth-a" | head -1)
check "listed peer got an authorization cookie" test -n "$acookie"
cat > "$T/getcookie.xml" <<X
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCookie xmlns="http://www.microsoft.com/SoftwareDistribution"><authCookies><AuthorizationCookie><PlugInId>DssTargeting</PlugInId>$acookie</AuthorizationCookie></authCookies><protocolVersion>1.20</protocolVersion></GetCookie></soap:Body></soap:Envelope>
X
equals "listed peer: GetCookie" "$(post $SSS "$T/getcookie.xml" "${A[@]}")" 200
enc=$(grep -o '<EncryptedData>[^<]*</EncryptedData>' "$T/body" | head -1)
exp=$(grep -o '<Expiration>[^<]*</Expiration>' "$T/body" | head -1)
check "listed peer: GetCookie gave a cookie" test -n "$enc"
# the computers are rolled up with the authorised server (the accountGuid of
# the DssAuth example) as their parent
sed -e "s|<Expiration>[^<]*</Expiration>|$exp|" -e "s|<EncryptedData */>|$enc|" \
    -e 's|ParentServerId="[^"]*"|ParentServerId="ADB2FE48-0B2E-451e-8FC8-44B29845B0C6"|g' "$ROLLUP" > "$T/rollup-a.xml"
equals "listed peer: RollupComputers with our cookie" "$(post $REP "$T/rollup-a.xml" "${A[@]}")" 200
# a wsus-replica downstream shows [upstream] client_cert: A syncs, B is refused
mkdir -p "$T/dpins"; cp "$T/srv.crt" "$T/dpins/"
dconf() { # NAME CERT
  printf '[upstream]\nurl = https://127.0.0.1:%s\nca_file = %s\nclient_cert = %s\nclient_key = %s\nretries = 0\n[trust]\npin_store = %s\n[storage]\ndata_dir = %s\n' \
    "$PORT" "$T/srv.crt" "$T/$2.crt" "$T/$2.key" "$T/dpins" "$T/$1.d" > "$T/$1.conf"
}
dconf down-a dss-a; dconf down-b dss-b
"$W" -c "$T/down-a.conf" sync > "$T/down-a.out" 2>&1
equals "a wsus-replica downstream with the listed client certificate syncs" $? 0
"$W" -c "$T/down-b.conf" sync > "$T/down-b.out" 2>&1
check "one with an unlisted client certificate is refused" test $? -ne 0
contains "  with 403" "$T/down-b.out" "^wsus-replica: .*403"
sed '/^client_key/d' "$T/down-a.conf" > "$T/half.conf"
"$W" -c "$T/half.conf" status > "$T/half.out" 2>&1
check "client_cert without client_key: refused at load" test $? -ne 0
contains "  naming file:line:key" "$T/half.out" "half.conf:4: \\[upstream\\] client_cert: set without client_key"
stop_srv
"$W" -c "$T/al.conf" status --json > "$T/al.json" 2>&1
contains "allow_list: status --json downstream_policy" "$T/al.json" '"downstream_policy": "allow_list"'
contains "status lists the downstream with its client certificate" "$T/al.json" "\"cert_sha256\": \"$FPA\", \"computers\": [1-9]"
"$W" -c "$T/al.conf" status > "$T/al.status2" 2>&1
contains "status text: the downstream's computers and certificate" "$T/al.status2" "computers [1-9][0-9]* +client certificate $FPA"
check "every rolled-up computer is stored with its downstream" test \
  "$(sqlite3 "$T/al.d/wsus.db" "SELECT count(*) FROM computer WHERE parent_server_id IS NULL")" = 0

# 3. allow_list without any certificate listed: no downstream at all
{ base_conf; printf 'downstream = allow_list\n[storage]\ndata_dir = %s\n' "$T/none.d"; } > "$T/none.conf"
start none || { e2e_finish; exit 1; }
equals "empty allow_list: DssAuth 403 even with a certificate" "$(post $DSS "$AUTH" "${A[@]}")" 403
equals "empty allow_list: clients still served" "$(post $CLI "$GETCONFIG")" 200
stop_srv

# 4. open beside client_cert_allow is a contradiction, refused at load
{ base_conf; printf 'client_cert_allow = %s\ndownstream = open\n' "$FPA"; } > "$T/bad.conf"
"$W" -c "$T/bad.conf" status > "$T/bad.out" 2>&1
check "downstream = open with client_cert_allow: refused" test $? -ne 0
contains "  naming file:line:key" "$T/bad.out" "bad.conf:5: \\[server\\] downstream: open contradicts client_cert_allow \\(line 4\\)"
e2e_finish
