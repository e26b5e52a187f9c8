#!/usr/bin/env bash
# sss_sync.sh -- a downstream server's whole sync against `wsus-replica serve`
# over HTTPS, played with curl: authorisation, config, both revision lists,
# the documents, a delta after an import made while serving, deployments
# after `approve`/`decline`, DownloadFiles, and the rollup. Every answer's
# payload is checked with `xmllint --schema` against the MS-WSUSSS XSDs.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
T=$E2E_TMP
D=$T/data
X=$WSUS_SHARED_DIR/spec/wsdl
DOCS=$WSUS_SHARED_DIR/fixtures/update-docs
SD=http://www.microsoft.com/SoftwareDistribution
DSS=6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12

wait_listening() {
  for _ in $(seq 1 100); do
    if grep -q '^listening on https://' "$1" 2>/dev/null; then
      sed -nE 's|^listening on https://127\.0\.0\.1:([0-9]+) .*|\1|p' "$1"; return 0
    fi
    sleep 0.1
  done
  return 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=sss test" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/srv.key" -out "$T/srv.crt" > /dev/null 2>&1
cat > "$T/conf" <<EOF
[server]
listen = 127.0.0.1:8531
tls_cert = $T/srv.crt
tls_key = $T/srv.key
EOF
check "the fixture documents import" "$W" -c "$T/conf" -d "$D" import "$DOCS" > /dev/null 2>> "$T/cli.log"
"$W" -c "$T/conf" -d "$D" serve --listen 127.0.0.1:0 > "$T/out" 2> "$T/err" &
E2E_PIDS+=("$!")
PORT=$(wait_listening "$T/out")
check "serve starts" test -n "$PORT"
[ -n "$PORT" ] || { sed 's/^/     | /' "$T/err" | tail -5; e2e_finish; exit 1; }
BASE="https://127.0.0.1:$PORT"
N=0

# soap PATH OP_XML: posts a SOAP 1.1 envelope; the answer lands in $R, its
# HTTP status in $CODE.
soap() {
  N=$((N + 1)); R=$T/resp$N
  printf '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>%s</soap:Body></soap:Envelope>' "$2" > "$T/req$N"
  CODE=$(curl -sS --cacert "$T/srv.crt" --max-time 60 -o "$R" -w '%{http_code}' \
    -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$T/req$N" "$BASE$1")
}
sss() { soap /ServerSyncWebService/ServerSyncWebService.asmx "$1"; }
# valid NAME XSD: the last answer is a 200 whose Body payload the schema accepts
valid() {
  if [ "$CODE" != 200 ]; then fail "$1 (HTTP $CODE)"; head -c 600 "$R" | sed 's/^/     | /'; echo; return; fi
  xmllint --xpath '/*[local-name()="Envelope"]/*[local-name()="Body"]/*' "$R" > "$R.payload" 2>/dev/null
  if xmllint --noout --schema "$X/$2" "$R.payload" > "$R.xsd" 2>&1; then ok "$1"
  else fail "$1 (not valid against $2)"; head -5 "$R.xsd" | sed 's/^/     | /'; fi
}
text()  { xmllint --xpath "string((//*[local-name()='$1'])[1])" "$R" 2>/dev/null; }
count() { xmllint --xpath "count(//*[local-name()='$1'])" "$R" 2>/dev/null; }
fault() { # NAME ERRORCODE
  if [ "$CODE" = 500 ] && [ "$(text ErrorCode)" = "$2" ]; then ok "$1"
  else fail "$1 (HTTP $CODE, ErrorCode '$(text ErrorCode)')"; fi
}
ck() { printf '<cookie><Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>%s</EncryptedData></cookie>' "$COOKIE"; }
revlist() { # GETCONFIG [ANCHOR]
  local a=""; [ -n "${2:-}" ] && a="<Anchor>$2</Anchor>"
  sss "<GetRevisionIdList xmlns=\"$SD\">$(ck)<filter>$a<GetConfig>$1</GetConfig><Get63LanguageOnly>false</Get63LanguageOnly></filter></GetRevisionIdList>"
}
ids() { xmllint --xpath "//*[local-name()='UpdateIdentity']" "$R" 2>/dev/null | sed 's|</UpdateIdentity>|&\n|g' | \
  sed -nE 's|.*<UpdateID>([^<]*)</UpdateID><RevisionNumber>([^<]*)</RevisionNumber>.*|\1:\2|p'; }

# 1. authorisation
sss "<GetAuthConfig xmlns=\"$SD\"/>"
valid "GetAuthConfig answers" ServerSyncWebService.xsd
equals "  and names the DssAuth service" "$(text ServiceUrl)" "DssAuthWebService/DssAuthWebService.asmx"
soap /DssAuthWebService/DssAuthWebService.asmx "<GetAuthorizationCookie xmlns=\"$SD/Server/DssAuthWebService\"><accountName>dss.lab.invalid</accountName><accountGuid>$DSS</accountGuid></GetAuthorizationCookie>"
valid "GetAuthorizationCookie answers" DssAuthWebService.xsd
AUTH=$(text CookieData)
sss "<GetCookie xmlns=\"$SD\"><authCookies><AuthorizationCookie><PlugInId>DssTargeting</PlugInId><CookieData>$AUTH</CookieData></AuthorizationCookie></authCookies><protocolVersion>1.20</protocolVersion></GetCookie>"
valid "GetCookie answers" ServerSyncWebService.xsd
COOKIE=$(text EncryptedData)
check "  with a cookie" test -n "$COOKIE"
[ -n "$COOKIE" ] || { e2e_finish; exit 1; }

# 2. config and revision lists
sss "<GetConfigData xmlns=\"$SD\">$(ck)</GetConfigData>"
valid "GetConfigData answers" ServerSyncWebService.xsd
equals "  protocol 1.20" "$(text ProtocolVersion)" "1.20"
revlist true
valid "GetRevisionIdList (categories) answers" ServerSyncWebService.xsd
equals "  with the 3 categories of the fixture" "$(count UpdateIdentity)" 3
revlist false
valid "GetRevisionIdList (updates) answers" ServerSyncWebService.xsd
equals "  with the 6 software updates of the fixture" "$(count UpdateIdentity)" 6
A1=$(text Anchor)
ids > "$T/ids1"

# 3. documents
list=""
while IFS=: read -r u r; do
  list="$list<UpdateIdentity><UpdateID>$u</UpdateID><RevisionNumber>$r</RevisionNumber></UpdateIdentity>"
done < "$T/ids1"
sss "<GetUpdateData xmlns=\"$SD\">$(ck)<updateIds>$list</updateIds></GetUpdateData>"
valid "GetUpdateData answers" ServerSyncWebService.xsd
equals "  with the 6 documents" "$(count ServerSyncUpdateData)" 6
python3 - "$R" "$DOCS" > "$T/blobs" 2>&1 <<'EOF'
import sys, os, xml.etree.ElementTree as ET
ns = "{http://www.microsoft.com/SoftwareDistribution}"
root = ET.parse(sys.argv[1]).getroot()
bad = 0
for d in root.iter(ns + "ServerSyncUpdateData"):
    uid = d.find(ns + "Id/" + ns + "UpdateID").text
    rev = d.find(ns + "Id/" + ns + "RevisionNumber").text
    blob = d.find(ns + "XmlUpdateBlob").text
    with open(os.path.join(sys.argv[2], "%s-r%s.xml" % (uid, rev)), encoding="utf-8", newline="") as f:
        if f.read() != blob:
            print("differs", uid); bad += 1
print("compared", bad)
EOF
contains "  each document exactly as imported" "$T/blobs" "^compared 0$"
sss "<GetUpdateData xmlns=\"$SD\">$(ck)<updateIds><UpdateIdentity><UpdateID>00000000-0000-0000-0000-000000000001</UpdateID><RevisionNumber>1</RevisionNumber></UpdateIdentity></updateIds></GetUpdateData>"
fault "an unknown update is InternalServerError" InternalServerError

# 4. a delta after an import made while serving
"$WSUS_BUILD_DIR/wsus-gencatalog" --seed 11 --revisions 60 --out "$T/gen" > /dev/null
check "a generated catalogue imports while serving" "$W" -c "$T/conf" -d "$D" import "$T/gen" > /dev/null 2>> "$T/cli.log"
want=$(awk -F'\t' 'NR > 1 && ($3 == "Software" || $3 == "Driver") { print $1 }' "$T/gen/manifest.tsv" | sort -u | wc -l)
revlist false "$A1"
valid "GetRevisionIdList with the first anchor answers" ServerSyncWebService.xsd
equals "  with exactly the new updates" "$(count UpdateIdentity)" "$want"
ids > "$T/ids2"
check "  none of the earlier ones" test -z "$(comm -12 <(cut -d: -f1 "$T/ids1" | sort) <(cut -d: -f1 "$T/ids2" | sort))"
A2=$(text Anchor)
revlist false "$A2"
equals "nothing after the newest anchor" "$(count UpdateIdentity)" 0
revlist false "garbage"
fault "a malformed anchor is InvalidParameters" InvalidParameters

# 5. deployments
APPROVED=$(head -1 "$T/ids1" | cut -d: -f1)
DECLINED=$(sed -n 2p "$T/ids1" | cut -d: -f1)
check "two updates to approve and decline" test -n "$APPROVED" -a -n "$DECLINED"
check "approve while serving" "$W" -c "$T/conf" -d "$D" approve "$APPROVED" --group "All Computers" --action install > /dev/null 2>> "$T/cli.log"
check "decline while serving" "$W" -c "$T/conf" -d "$D" decline "$DECLINED" > /dev/null 2>> "$T/cli.log"
revlist false "$A2"
A3=$(text Anchor)
sss "<GetDeployments xmlns=\"$SD\">$(ck)<syncAnchor>$A3</syncAnchor></GetDeployments>"
valid "GetDeployments answers" ServerSyncWebService.xsd
equals "  with the approval" "$(text UpdateId)" "$APPROVED"
equals "  and the declined update hidden" "$(xmllint --xpath "string(//*[local-name()='HiddenUpdates'])" "$R")" "$DECLINED"
equals "  up to the sync anchor" "$(text Anchor)" "$A3"
sss "<GetDeployments xmlns=\"$SD\">$(ck)</GetDeployments>"
fault "GetDeployments without syncAnchor is InvalidParameters" InvalidParameters

# 6. DownloadFiles
sss "<DownloadFiles xmlns=\"$SD\">$(ck)<fileDigestList><base64Binary>h/W9BGlYUAaqXTp30cZi/SiV3c0=</base64Binary></fileDigestList></DownloadFiles>"
valid "DownloadFiles of a catalogue file answers" ServerSyncWebService.xsd
sss "<DownloadFiles xmlns=\"$SD\">$(ck)<fileDigestList><base64Binary>AQEBAQEBAQEBAQEBAQEBAQEBAQE=</base64Binary></fileDigestList></DownloadFiles>"
fault "DownloadFiles of an unknown digest is FileDigestsMissing" FileDigestsMissing
equals "  naming it" "$(text Message)" "AQEBAQEBAQEBAQEBAQEBAQEBAQE="

# 7. paths, cookies, rollup
soap /serversyncwebservice/SERVERSYNCWEBSERVICE.asmx "<GetAuthConfig xmlns=\"$SD\"/>"
valid "paths match whatever their case" ServerSyncWebService.xsd
soap /ServerSyncWebService/ServerSyncProxy.asmx "<GetAuthConfig xmlns=\"$SD\"/>"
valid "the WSDL's ServerSyncProxy.asmx path answers too" ServerSyncWebService.xsd
sss "<GetRevisionIdList xmlns=\"$SD\"><filter><GetConfig>true</GetConfig></filter></GetRevisionIdList>"
fault "no cookie is InvalidCookie" InvalidCookie
DUMMY='<cookie><Expiration>9999-12-31T23:59:59.9999999</Expiration><EncryptedData /></cookie>'
soap /ReportingWebService/ReportingWebService.asmx "<GetRollupConfiguration xmlns=\"$SD\">$DUMMY</GetRollupConfiguration>"
valid "GetRollupConfiguration answers" ReportingWebService-sss.xsd
soap /ReportingWebService/WebService.asmx "<RollupDownstreamServers xmlns=\"$SD\">$DUMMY<clientTime>2026-01-01T00:00:00Z</clientTime><downstreamServers><DownstreamServerRollupInfo><ServerId>$DSS</ServerId><FullDomainName>dss.lab.invalid</FullDomainName><LastSyncTime>2026-01-01T00:00:00Z</LastSyncTime><ParentServerId>00000000-0000-0000-0000-000000000000</ParentServerId><Version>10.0.26100.1</Version><IsReplica>true</IsReplica><LastRollupTime>2026-01-01T00:00:00Z</LastRollupTime><ServerSummary><UpdateCount>6</UpdateCount></ServerSummary></DownstreamServerRollupInfo></downstreamServers></RollupDownstreamServers>"
valid "RollupDownstreamServers of a known downstream answers" ReportingWebService-sss.xsd
soap /ReportingWebService/ReportingWebService.asmx "<RollupDownstreamServers xmlns=\"$SD\">$DUMMY<clientTime>2026-01-01T00:00:00Z</clientTime><downstreamServers><DownstreamServerRollupInfo><ServerId>11111111-2222-4333-8444-555555555555</ServerId><LastSyncTime>2026-01-01T00:00:00Z</LastSyncTime><ParentServerId>00000000-0000-0000-0000-000000000000</ParentServerId><IsReplica>false</IsReplica><LastRollupTime>2026-01-01T00:00:00Z</LastRollupTime></DownstreamServerRollupInfo></downstreamServers></RollupDownstreamServers>"
fault "a rollup from an unknown server is refused" InvalidParameters
if command -v sqlite3 > /dev/null; then
  equals "the downstream is in the DSS table with its rollup" \
    "$(sqlite3 "$D/wsus.db" "SELECT fqdn || '|' || protocol_version || '|' || (summary LIKE '%\"UpdateCount\":6%') FROM dss WHERE server_id = '$DSS'")" \
    "dss.lab.invalid|1.20|1"
fi
# The USS records every DSS that authorizes, and status lists it.
"$W" -c "$T/conf" -d "$D" status > "$T/status.txt" 2>> "$T/cli.log"
contains "status lists the downstream server" "$T/status.txt" "$DSS +dss.lab.invalid +127.0.0.1"
"$W" -c "$T/conf" -d "$D" status --json > "$T/status.json" 2>> "$T/cli.log"
check "status --json is valid JSON" python3 -m json.tool "$T/status.json" > /dev/null
contains "status --json names the downstream server" "$T/status.json" "\"server_id\": \"$DSS\", \"fqdn\": \"dss.lab.invalid\""
contains "status --json shows our certificate fingerprint" "$T/status.json" '"tls_sha256": "[0-9a-f]{64}"'

e2e_finish
