#!/usr/bin/env bash
# bench/content.sh [SECONDS] -- /Content throughput for 1 MiB range requests
# (what Delivery Optimization sends), over TLS and over plain HTTP, against
# `wsus-replica serve` and against nginx serving the same content directory
# with the same certificate. One client tool for both: wrk with a Lua script
# asking for random 1 MiB-aligned ranges of one large payload, keep-alive.
# Needs nginx (nginx-light) and wrk (Debian packages). Prints one result block.
#   bash bench/content.sh 10
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
BUILD=${WSUS_BUILD_DIR:-build}
CONNS=${BENCH_CONNECTIONS:-8}
bash scripts/deps.sh nginx-light wrk
[ -x "$BUILD/wsus-replica" ] || bash scripts/build.sh "$BUILD"
for tool in nginx wrk; do
  command -v "$tool" > /dev/null || { echo "content.sh: needs $tool (apt-get install nginx-light wrk)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/wsus-bench-content.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# One catalogue whose payloads are 32..48 MiB; the benchmark reads the largest.
"$BUILD/wsus-gencatalog" --seed 5 --revisions 30 --file-size 33554432:50331648 --out "$work/cat" > /dev/null
"$BUILD/wsus-replica" -q -d "$work/data" import "$work/cat" > /dev/null
rm -rf "$work/cat"
F=$(find "$work/data/content" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
SIZE=$(stat -c %s "$F"); NAME=$(basename "$F"); DIR=$(basename "$(dirname "$F")")
URLPATH="/Content/$DIR/$NAME"
# nginx workers run as an unprivileged user: let them reach the content
chmod 755 "$work" "$work/data"
chmod -R a+rX "$work/data/content"

WS_TLS=$(free_port); WS_PLAIN=$(free_port); NG_TLS=$(free_port); NG_PLAIN=$(free_port)
cat > "$work/wsus.conf" <<EOF
[server]
listen = 127.0.0.1:$WS_TLS
content_http_listen = 127.0.0.1:$WS_PLAIN
EOF
"$BUILD/wsus-replica" -q -c "$work/wsus.conf" -d "$work/data" serve > "$work/serve.out" 2> "$work/serve.err" &
pids+=($!)
wait_port "$WS_TLS"

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
  default_type application/octet-stream;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256;
  ssl_certificate $work/data/tls/server.crt;
  ssl_certificate_key $work/data/tls/server.key;
  server {
    listen 127.0.0.1:$NG_TLS ssl;
    listen 127.0.0.1:$NG_PLAIN;
    location /Content/ { alias $work/data/content/; }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2> "$work/nginx/stderr" &
pids+=($!)
wait_port "$NG_TLS"

cat > "$work/range.lua" <<EOF
local chunk = 1048576
local n = math.floor($SIZE / chunk)
math.randomseed(42)
request = function()
  local i = math.random(0, n - 1)
  return wrk.format("GET", nil, { ["Range"] = string.format("bytes=%d-%d", i * chunk, i * chunk + chunk - 1) })
end
EOF

cipher() { openssl s_client -connect "127.0.0.1:$1" < /dev/null 2>/dev/null | sed -nE 's/^New, (TLSv[0-9.]+), Cipher is (.*)$/\1 \2/p'; }
run() { # LABEL URL
  local out="$work/wrk.$RANDOM"
  wrk -t 2 -c "$CONNS" -d "${SECS}s" -s "$work/range.lua" "$2" > "$out" 2>&1
  local rps mibs errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  mibs=$(awk '/^Transfer\/sec:/ {v=$2; if (v ~ /GB$/) v=v*1024; else if (v ~ /KB$/) v=v/1024; else v=v+0; print v}' "$out")
  errs=$(awk '/Non-2xx or 3xx/ {print $5} /Socket errors/ {print}' "$out" | tr '\n' ' ')
  printf '%-28s %9s MiB/s %9s requests/s %s\n' "$1" "$mibs" "$rps" "${errs:+errors: $errs}"
}
# sanity: both answer the same 1 MiB slice with 206
for u in "https://127.0.0.1:$WS_TLS$URLPATH" "https://127.0.0.1:$NG_TLS$URLPATH"; do
  got=$(curl -sk -o /dev/null -w '%{http_code} %{size_download}' -H 'Range: bytes=1048576-2097151' "$u")
  [ "$got" = "206 1048576" ] || { echo "content.sh: $u answered '$got'" >&2; exit 1; }
done

echo "command:        bash bench/content.sh $SECS   (wrk -t 2 -c $CONNS -d ${SECS}s, random 1 MiB ranges of one $((SIZE / 1048576)) MiB payload)"
echo "machine:        $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); client and servers share the cores"
echo "versions:       wsus-replica $(git rev-parse --short HEAD 2>/dev/null || echo '?') (libmicrohttpd $(pkg-config --modversion libmicrohttpd), GnuTLS $(pkg-config --modversion gnutls)); $(nginx -v 2>&1 | cut -d' ' -f3) (OpenSSL); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "tls:            wsus-replica $(cipher "$WS_TLS"); nginx $(cipher "$NG_TLS")"
run "wsus-replica https" "https://127.0.0.1:$WS_TLS$URLPATH"
run "nginx https" "https://127.0.0.1:$NG_TLS$URLPATH"
run "wsus-replica http (port)" "http://127.0.0.1:$WS_PLAIN$URLPATH"
run "nginx http" "http://127.0.0.1:$NG_PLAIN$URLPATH"
