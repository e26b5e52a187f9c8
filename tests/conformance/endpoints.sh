#!/usr/bin/env bash
# endpoints.sh -- the client-facing paths a Windows WSUS answers besides its
# web services, through a real `wsus-replica serve` on loopback:
#   /SelfUpdate/  served from [server] selfupdate_dir: wuident.cab and a file
#                 below it, matched case-insensitively as IIS does, with
#                 ranges and validators; 404 for what is not there, for
#                 traversal attempts, links, directories, and while the
#                 directory does not exist; also on the plain content port;
#   /ClientWebService/wusserverversion.xml  a small well-formed document;
#   /Content      the headers Delivery Optimization and BITS rely on, as IIS
#                 sends them: Accept-Ranges, Content-Type
#                 application/octet-stream, ETag, Last-Modified, and
#                 Content-Range on 206.
. "$(dirname "$0")/../e2e/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
D=$T/data

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_listening() {
  for _ in $(seq 1 200); do
    if grep -q '^listening on https://' "$1" 2>/dev/null; then
      sed -nE 's|^listening on https://127\.0\.0\.1:([0-9]+) .*|\1|p' "$1"; return 0
    fi
    sleep 0.1
  done
  return 1
}
start() { # CONF OUT: serve, sets SRV and PORT
  "$W" -c "$1" -d "$D" serve --listen 127.0.0.1:0 > "$2" 2> "$2.err" &
  SRV=$!; E2E_PIDS+=("$SRV")
  PORT=$(wait_listening "$2")
}
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }

"$GEN" --seed 5 --revisions 30 --file-size 100000:200000 --out "$T/gen" > /dev/null
"$W" -q -d "$D" import "$T/gen" > "$T/imp" 2>&1; equals "catalogue imported" $? 0
PLAIN=$(free_port)
printf '[server]\nlisten = 127.0.0.1:8531\ncontent_http_listen = 127.0.0.1:%s\n' "$PLAIN" > "$T/conf"
C=(curl -sS --cacert "$D/tls/server.crt" --path-as-is --max-time 10)

# 1. no self-update directory yet: 404, and wusserverversion.xml answers
start "$T/conf" "$T/out1"
check "serve starts" test -n "$PORT"
B="https://127.0.0.1:$PORT"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$B/SelfUpdate/wuident.cab")
equals "no selfupdate directory: /SelfUpdate/wuident.cab is 404" "$code" 404
"${C[@]}" -D "$T/vh" -o "$T/v.xml" "$B/ClientWebService/wusserverversion.xml"
contains "wusserverversion.xml answers 200" "$T/vh" "^HTTP/1.1 200"
contains "wusserverversion.xml is text/xml" "$T/vh" "^Content-Type: text/xml"
check "wusserverversion.xml is well formed" xmllint --noout "$T/v.xml"
"${C[@]}" -o "$T/v2.xml" "$B/clientwebservice/WUSSERVERVERSION.XML"
check "wusserverversion.xml matched case-insensitively" cmp -s "$T/v.xml" "$T/v2.xml"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -X POST -d x "$B/ClientWebService/wusserverversion.xml")
equals "wusserverversion.xml refuses POST" "$code" 405
stop

# 2. a self-update tree as a Windows WSUS has it
S=$D/selfupdate
mkdir -p "$S/AU/x86/7" "$S/wuident.cab.d"
head -c 20000 /dev/urandom > "$S/wuident.cab"
head -c 70000 /dev/urandom > "$S/AU/x86/7/WindowsUpdateAgent-x86.exe"
echo secret > "$T/outside"
ln -s "$T/outside" "$S/link.cab"
start "$T/conf" "$T/out2"
B="https://127.0.0.1:$PORT"
"${C[@]}" -D "$T/h" -o "$T/body" "$B/selfupdate/wuident.cab"
contains "/selfupdate/wuident.cab answers 200" "$T/h" "^HTTP/1.1 200"
check "wuident.cab is byte-exact" cmp -s "$T/body" "$S/wuident.cab"
contains "wuident.cab has an ETag" "$T/h" '^ETag: "[0-9a-f]+-[0-9a-f]+"'
contains "wuident.cab has Last-Modified" "$T/h" "^Last-Modified: "
"${C[@]}" -o "$T/body" "$B/SELFUPDATE/au/X86/7/windowsupdateagent-x86.EXE"
check "a file below, any case, is byte-exact" cmp -s "$T/body" "$S/AU/x86/7/WindowsUpdateAgent-x86.exe"
"${C[@]}" -D "$T/h" -o "$T/body" -H 'Range: bytes=100-199' "$B/SelfUpdate/AU/x86/7/WindowsUpdateAgent-x86.exe"
contains "a range of it is 206" "$T/h" "^HTTP/1.1 206"
contains "with Content-Range" "$T/h" "^Content-Range: bytes 100-199/70000"
check "the range is byte-exact" cmp -s "$T/body" <(tail -c +101 "$S/AU/x86/7/WindowsUpdateAgent-x86.exe" | head -c 100)
"${C[@]}" -I -o /dev/null -D "$T/h" "$B/SelfUpdate/wuident.cab"
contains "HEAD gives the size" "$T/h" "^Content-Length: 20000"
for p in /SelfUpdate/ /SelfUpdate/AU /SelfUpdate/missing.cab /SelfUpdate/../wsus.db /SelfUpdate/AU/../wuident.cab \
         /SelfUpdate/.hidden /SelfUpdate/link.cab /SelfUpdate/wuident.cab.d /SelfUpdate/a%2Fb /SelfUpdate//wuident.cab; do
  code=$("${C[@]}" -o "$T/body" -w '%{http_code}' "$B$p")
  equals "$p is 404" "$code" 404
  lacks "$p leaks nothing" "$T/body" "secret"
done
curl -sS --max-time 10 -o "$T/body" "http://127.0.0.1:$PLAIN/SelfUpdate/wuident.cab"
check "the plain content port serves /SelfUpdate too" cmp -s "$T/body" "$S/wuident.cab"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PLAIN/ClientWebService/wusserverversion.xml")
equals "the plain content port does not serve the client web service" "$code" 404

# 3. /Content headers for Delivery Optimization range requests
F=$(find "$D/content" -type f | head -1)
NAME=$(basename "$F"); SHA=${NAME%%.*}; DIR=${SHA:38:2}; SIZE=$(stat -c %s "$F")
"${C[@]}" -D "$T/h" -o "$T/body" -H 'Range: bytes=0-1023' "$B/Content/$DIR/$NAME"
contains "/Content range answers 206" "$T/h" "^HTTP/1.1 206"
contains "206 has Content-Range" "$T/h" "^Content-Range: bytes 0-1023/$SIZE"
contains "206 has Accept-Ranges: bytes" "$T/h" "^Accept-Ranges: bytes"
contains "206 is application/octet-stream" "$T/h" "^Content-Type: application/octet-stream"
contains "206 has the strong ETag" "$T/h" "^ETag: \"$SHA\""
contains "206 has Last-Modified" "$T/h" "^Last-Modified: "
stop
e2e_finish
