#!/usr/bin/env bash
# bench/sss.sh [SECONDS] [REVISIONS] -- GetUpdateData throughput over TLS
# (update revisions served per second) for a generated catalogue, the way a
# downstream server pulls metadata: batches of 100 identities with a cookie
# obtained first, keep-alive. Reference: nginx serving the very same answers,
# pre-rendered, over TLS with the same certificate and the same client tool
# (wrk posting the same request bodies; nginx answers a POST to a static file
# through error_page 405). Needs nginx (nginx-light) and wrk. Prints one block.
#   bash bench/sss.sh 10 20000
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
REVS=${2:-20000}
BUILD=${WSUS_BUILD_DIR:-build}
CONNS=${BENCH_CONNECTIONS:-8}
bash scripts/deps.sh nginx-light wrk
[ -x "$BUILD/wsus-replica" ] || bash scripts/build.sh "$BUILD"
for tool in nginx wrk xmllint curl; do
  command -v "$tool" > /dev/null || { echo "sss.sh: needs $tool (apt-get install nginx-light wrk libxml2-utils curl)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/wsus-bench-sss.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

"$BUILD/wsus-gencatalog" --seed 9 --revisions "$REVS" --out "$work/cat" > /dev/null
"$BUILD/wsus-replica" -q -d "$work/data" import "$work/cat" > /dev/null
rm -rf "$work/cat"
chmod 755 "$work"

WS=$(free_port); NG=$(free_port)
printf '[server]\nlisten = 127.0.0.1:%s\n' "$WS" > "$work/wsus.conf"
"$BUILD/wsus-replica" -q -c "$work/wsus.conf" -d "$work/data" serve > "$work/serve.out" 2> "$work/serve.err" &
pids+=($!)
wait_port "$WS"

# A downstream's authorisation, then its revision list.
SD=http://www.microsoft.com/SoftwareDistribution
SSS=/ServerSyncWebService/ServerSyncWebService.asmx
soap() { # PATH OP_XML OUT
  printf '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>%s</soap:Body></soap:Envelope>' "$2" > "$3.req"
  curl -sS -k --max-time 120 -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$3.req" -o "$3" "https://127.0.0.1:$WS$1"
}
text() { xmllint --xpath "string((//*[local-name()='$2'])[1])" "$1"; }
soap /DssAuthWebService/DssAuthWebService.asmx "<GetAuthorizationCookie xmlns=\"$SD/Server/DssAuthWebService\"><accountName>bench.invalid</accountName><accountGuid>0b0b0b0b-0000-4000-8000-000000000001</accountGuid></GetAuthorizationCookie>" "$work/auth"
soap $SSS "<GetCookie xmlns=\"$SD\"><authCookies><AuthorizationCookie><PlugInId>DssTargeting</PlugInId><CookieData>$(text "$work/auth" CookieData)</CookieData></AuthorizationCookie></authCookies><protocolVersion>1.20</protocolVersion></GetCookie>" "$work/cookie"
CK="<cookie><Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>$(text "$work/cookie" EncryptedData)</EncryptedData></cookie>"
soap $SSS "<GetRevisionIdList xmlns=\"$SD\">$CK<filter><GetConfig>false</GetConfig></filter></GetRevisionIdList>" "$work/list"
xmllint --xpath "//*[local-name()='UpdateIdentity']" "$work/list" | sed 's|</UpdateIdentity>|&\n|g' | grep -c UpdateID > "$work/n"
N=$(cat "$work/n")

# One request body per batch of 100; each answer recorded for nginx.
mkdir -p "$work/req" "$work/www/b"
xmllint --xpath "//*[local-name()='UpdateIdentity']" "$work/list" | sed 's|</UpdateIdentity>|&\n|g' | grep UpdateID | \
  split -l 100 -d -a 4 - "$work/ids."
B=0; SERVED=0
for f in "$work"/ids.*; do
  printf '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetUpdateData xmlns="%s">%s<updateIds>%s</updateIds></GetUpdateData></soap:Body></soap:Envelope>' \
    "$SD" "$CK" "$(tr -d '\n' < "$f")" > "$work/req/$B"
  code=$(curl -sS -k -o "$work/www/b/$B" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' \
    --data-binary @"$work/req/$B" "https://127.0.0.1:$WS$SSS")
  [ "$code" = 200 ] || { echo "sss.sh: batch $B answered $code" >&2; exit 1; }
  SERVED=$((SERVED + $(grep -o '<ServerSyncUpdateData>' "$work/www/b/$B" | wc -l)))
  B=$((B + 1))
done
PER=$(awk -v s="$SERVED" -v b="$B" 'BEGIN { printf "%.1f", s / b }')
BYTES=$(cat "$work"/www/b/* | wc -c)
chmod -R a+rX "$work/www"

mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  default_type text/xml;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256;
  ssl_certificate $work/data/tls/server.crt;
  ssl_certificate_key $work/data/tls/server.key;
  server {
    listen 127.0.0.1:$NG ssl;
    root $work/www;
    error_page 405 =200 \$uri;
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2> "$work/nginx/stderr" &
pids+=($!)
wait_port "$NG"

# wrk cycles through the batches; against nginx batch i is the file /b/i.
cat > "$work/post.lua" <<EOF
local bodies, n, i = {}, $B, 0
for k = 0, n - 1 do
  local f = io.open("$work/req/" .. k, "rb"); bodies[k] = f:read("*a"); f:close()
end
local path = os.getenv("BENCH_PATH")
request = function()
  local k = i % n
  i = i + 1
  local p = path == "nginx" and ("/b/" .. k) or "$SSS"
  return wrk.format("POST", p, { ["Content-Type"] = "text/xml; charset=utf-8" }, bodies[k])
end
EOF

cipher() { openssl s_client -connect "127.0.0.1:$1" < /dev/null 2>/dev/null | sed -nE 's/^New, (TLSv[0-9.]+), Cipher is (.*)$/\1 \2/p'; }
run() { # LABEL PORT WHICH
  local out="$work/wrk.$RANDOM"
  BENCH_PATH=$3 wrk -t 2 -c "$CONNS" -d "${SECS}s" -s "$work/post.lua" "https://127.0.0.1:$2" > "$out" 2>&1
  local rps mibs errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  mibs=$(awk '/^Transfer\/sec:/ {v=$2; if (v ~ /GB$/) v=v*1024; else if (v ~ /KB$/) v=v/1024; else v=v+0; print v}' "$out")
  errs=$(awk '/Non-2xx or 3xx/ {print $5} /Socket errors/ {print}' "$out" | tr '\n' ' ')
  printf '%-20s %9s revisions/s %8s requests/s %8s MiB/s %s\n' "$1" \
    "$(awk -v r="$rps" -v p="$PER" 'BEGIN { printf "%.0f", r * p }')" "$rps" "$mibs" "${errs:+errors: $errs}"
}
# sanity: nginx hands out the recorded answer for a POST
got=$(curl -sk -o /dev/null -w '%{http_code} %{size_download}' --data-binary @"$work/req/0" "https://127.0.0.1:$NG/b/0")
[ "$got" = "200 $(stat -c %s "$work/www/b/0")" ] || { echo "sss.sh: nginx answered '$got'" >&2; exit 1; }

echo "command:        bash bench/sss.sh $SECS $REVS   (wrk -t 2 -c $CONNS -d ${SECS}s, GetUpdateData batches of 100, keep-alive)"
echo "catalogue:      $REVS generated revisions, $N software/driver updates listed, $B batches, $PER updates per answer, $((BYTES / B / 1024)) KiB per answer"
echo "machine:        $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); client and servers share the cores"
echo "versions:       wsus-replica $(git rev-parse --short HEAD 2>/dev/null || echo '?') (libmicrohttpd $(pkg-config --modversion libmicrohttpd), GnuTLS $(pkg-config --modversion gnutls), SQLite $(pkg-config --modversion sqlite3)); $(nginx -v 2>&1 | cut -d' ' -f3) (OpenSSL); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "tls:            wsus-replica $(cipher "$WS"); nginx $(cipher "$NG")"
run "wsus-replica https" "$WS" wsus
run "nginx https" "$NG" nginx
