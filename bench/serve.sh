#!/usr/bin/env bash
# bench/serve.sh [SECONDS] [REPS] -- the serving path against its ceiling, in
# one run: wsus-replica serve and nginx (the same certificate, the same
# answers as static files) on loopback, driven by wrk and wsus-scanload.
#
#   delta   delta scans: SyncUpdates with the client's whole cache (its
#           installed non-leaf ids + every other cached id, nothing new: a
#           ~40 KB request, a ~800 B answer), at 50 and 500 connections
#           (BENCH_CONNS); nginx answers the same POST with the answer as a
#           static file (error_page 405 =200). Runs interleave ours/nginx,
#           REPS times; the ratio is taken within each pair. From 500
#           connections a third run has clients that wait 1 s after a 503
#           (lua/post_backoff.lua: Windows clients honour Retry-After; wrk
#           alone resends at once, which turns shedding into a 503 storm).
#   full    full first scans at 50 clients (BENCH_SCAN_CLIENTS): the
#           requests of one recorded first scan (bench/scan_record.py:
#           GetConfig through the last SyncUpdates page and
#           GetExtendedUpdateInfo for every offered revision) replayed by wrk
#           (bench/lua/scan_replay.lua) with Accept-Encoding gzip (curl) and
#           xpress (Windows Update): scans/s = 2xx/s / requests per scan.
#           Then wsus-scanload, real scan clients that parse every answer
#           (on 2 shared cores they, not the server, bound that row).
#   fleet   a mixed fleet (wrk, bench/lua/fleet.lua): 16 delta scans to 1
#           cookie renewal, 1 status report (ReportEventBatch), 2 content
#           range requests (64 KiB), with 4 wsus-scanload clients running
#           full scans beside it; nginx answers the same mix from files.
#
# Per run: requests/s (all answers, and 2xx only: 503s of admission control
# are counted apart), p50/p99/max latency, server CPU per request (utime +
# stime of /proc/PID/stat over the run), server peak RSS (VmHWM) and, for
# wrk runs, the ratio to nginx. The data set (BENCH_REVS=20000 generated
# revisions, seed 9, BENCH_APPROVED=2000 approved for group Bench: 3 software
# leaves to 1 bundle) is the one of ../shared/bench-reference/setup.sh; it is
# kept in /tmp/wsus-bench-serve/ds (BENCH_FRESH=1 rebuilds it). The load comes
# from 127.0.0.1 only, standing for many clients: the run raises
# max_connections_per_address to max_connections and lifts the per-address
# registration rate ([clients] register_per_minute = 0).
# Prints a markdown block (command, machine, versions, table) to stdout and,
# with BENCH_RECORD=1, adds it to bench/results.md (newest first; BENCH_LABEL
# names the run in its heading).
#   bash bench/serve.sh 15 2
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
REPS=${2:-2}
BUILD=${WSUS_BUILD_DIR:-build}
CONNS=${BENCH_CONNS:-50 500}
SCAN_CLIENTS=${BENCH_SCAN_CLIENTS:-50}
PARTS=${BENCH_PARTS:-delta full fleet}
REVS=${BENCH_REVS:-20000}
APPROVED=${BENCH_APPROVED:-2000}
REF=${WSUS_SHARED_DIR:-../shared}/bench-reference
bash scripts/deps.sh nginx-light wrk
[ -x "$BUILD/wsus-replica" ] && [ -x "$BUILD/wsus-scanload" ] || bash scripts/build.sh "$BUILD"
W=$BUILD/wsus-replica
ulimit -n "$(ulimit -Hn)"

ROOT=/tmp/wsus-bench-serve
DS=$ROOT/ds
work=$(mktemp -d "$ROOT.run.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
kib() { awk '/^'"$1"':/ {print $2}' "/proc/$2/status"; }
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

#---- the data set (reused while its stamp matches) ----
stamp="revs=$REVS approved=$APPROVED seed=9"
if [ "${BENCH_FRESH:-0}" = 1 ] || [ "$(cat "$DS/stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$DS"; mkdir -p "$DS"
  "$BUILD/wsus-gencatalog" --seed 9 --revisions "$REVS" --out "$DS/cat" > /dev/null
  "$W" -q -d "$DS/data" import "$DS/cat" > /dev/null
  "$W" -q -d "$DS/data" group add Bench > /dev/null
  NB=$((APPROVED / 4)); NL=$((APPROVED - NB))
  awk -F'\t' -v nl="$NL" -v nb="$NB" '$4 == "leaf" && l < nl { print $1; l++ } $4 == "bundle" && b < nb { print $1; b++ }' \
    "$DS/cat/manifest.tsv" > "$DS/approve"
  [ "$(wc -l < "$DS/approve")" -eq "$APPROVED" ] || { echo "serve.sh: too few leaves/bundles" >&2; exit 1; }
  xargs -P "$(nproc)" -I{} "$W" -q -d "$DS/data" approve {} --group Bench --action install < "$DS/approve" > /dev/null
  rm -rf "$DS/cat"
  echo "$stamp" > "$DS/stamp"
fi

#---- wsus-replica ----
WS=$(free_port)
cat > "$work/wsus.conf" <<EOF
[server]
listen = 127.0.0.1:$WS
max_connections = 2048
max_connections_per_address = 2048
${BENCH_SERVER_CONF:-}
[clients]
register_per_minute = 0
EOF
"$W" -q -c "$work/wsus.conf" -d "$DS/data" serve > "$work/serve.out" 2> "$work/serve.err" &
SRV=$!; pids+=("$SRV")
wait_port "$WS"
URL="https://127.0.0.1:$WS"
CA=$DS/data/tls/server.crt
RSS0=$(kib VmRSS "$SRV")

# One full scan to learn the client's cache; its delta request and answer.
python3 "$REF/wusp_client.py" --server "$URL" --ca "$CA" --group Bench --out "$work/cap" > "$work/cap.log"
BENCH_URL=$URL python3 bench/fleet_bodies.py "$work/cap" "$DS/data" "$work/www" > "$work/fleet.env"
case " $PARTS " in *" full "*)
  python3 bench/scan_record.py --server "$URL" --ca "$CA" --group Bench --gzip --out "$work/scan" \
    > "$work/scan.log" 2>&1 || { cat "$work/scan.log" >&2; exit 1; } ;;
esac
. "$work/fleet.env"     # CONTENT_PATH, CONTENT_BYTES

#---- nginx: the same answers as static files ----
NG=$(free_port)
mkdir -p "$work/nginx/tmp"
cp "$CA" "$work/nginx/server.crt"; cp "$DS/data/tls/server.key" "$work/nginx/server.key"
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  default_type text/xml;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $work/nginx/server.crt;
  ssl_certificate_key $work/nginx/server.key;
  server {
    listen 127.0.0.1:$NG ssl;
    root $work/www;
    client_max_body_size 16m;
    error_page 405 =200 \$uri;
  }
}
EOF
chmod -R a+rX "$work"; chmod a+x "$ROOT" 2>/dev/null || true
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2> "$work/nginx/stderr" &
NGX=$!; pids+=("$NGX")
wait_port "$NG"
sleep 0.5
NGW=$(pgrep -P "$NGX" | tr '\n' ' ')

SA_SYNC='"http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService/SyncUpdates"'
CLIENT_PATH=/ClientWebService/Client.asmx
sanity() { # LABEL URL: the delta POST answers 200 with the answer's size
  local got want
  got=$(curl -sS -k -o /dev/null -w '%{http_code} %{size_download}' -H 'Content-Type: text/xml; charset=utf-8' \
        -H "SOAPAction: $SA_SYNC" --data-binary @"$work/cap/delta.xml" "$2")
  want="200 $(stat -c %s "$work/www/s/delta.answer")"
  [ "$got" = "$want" ] || { echo "serve.sh: $1 answered '$got' to the delta scan, want '$want'" >&2; exit 1; }
}
sanity ours "$URL$CLIENT_PATH"
sanity nginx "https://127.0.0.1:$NG/s/delta.answer"

#---- runs ----
rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$@")")
        printf '%-6s %-26s %9s rps %8s ok/s  p50 %7s  p99 %7s  max %7s  cpu/req %6s ms  %s\n' "$@" >&2; }

# wrk_run LABEL CONNS SCRIPT-ENV... -- sets LINE and CPU (ms/request) for
# the processes in CPU_PIDS
wrk_run() {
  local out=$work/wrk.$RANDOM t0 t1 n
  t0=$(ticks $CPU_PIDS)
  wrk -t 2 -c "$2" -d "${SECS}s" --timeout 5s --latency "${WRKARGS[@]}" > "$out" 2>&1 || true
  t1=$(ticks $CPU_PIDS)
  LINE=$(python3 bench/wrkline.py "$out" "$SECS")
  n=$(field requests "$LINE")
  CPU=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { if (n > 0) printf "%.3f", (b - a) * 10 / n; else print "nan" }')
}

delta_runs() {
  local c rep ours ngx
  for c in $CONNS; do
    for rep in $(seq 1 "$REPS"); do
      WRKARGS=(-s bench/lua/post.lua "$URL"); CPU_PIDS=$SRV
      BODY=$work/cap/delta.xml RPATH=$CLIENT_PATH SA=$SA_SYNC wrk_run ours "$c"
      ours=$LINE; local cpu_ours=$CPU
      WRKARGS=(-s bench/lua/post.lua "https://127.0.0.1:$NG"); CPU_PIDS=$NGW
      BODY=$work/cap/delta.xml RPATH=/s/delta.answer SA=$SA_SYNC wrk_run nginx "$c"
      ngx=$LINE
      row "delta c=$c" "ours (rep $rep)" "$(field rps "$ours")" "$(field ok_rps "$ours")" "$(field p50_ms "$ours")" \
          "$(field p99_ms "$ours")" "$(field max_ms "$ours")" "$cpu_ours" \
          "503s $(field non2xx "$ours"), errors $(field errors "$ours"), ratio $(awk -v a="$(field ok_rps "$ours")" -v b="$(field rps "$ngx")" 'BEGIN { printf "%.3f", a / b }') of nginx, VmHWM $(kib VmHWM "$SRV") KiB"
      row "delta c=$c" "nginx (rep $rep)" "$(field rps "$ngx")" "$(field ok_rps "$ngx")" "$(field p50_ms "$ngx")" \
          "$(field p99_ms "$ngx")" "$(field max_ms "$ngx")" "$CPU" "errors $(field errors "$ngx")"
      if [ "$c" -ge 500 ]; then   # clients that back off after a 503, as Windows clients do
        WRKARGS=(-s bench/lua/post_backoff.lua "$URL"); CPU_PIDS=$SRV
        POST_LUA=bench/lua/post.lua BODY=$work/cap/delta.xml RPATH=$CLIENT_PATH SA=$SA_SYNC wrk_run ours "$c"
        row "delta c=$c" "ours, 1 s back-off after 503 (rep $rep)" "$(field rps "$LINE")" "$(field ok_rps "$LINE")" \
            "$(field p50_ms "$LINE")" "$(field p99_ms "$LINE")" "$(field max_ms "$LINE")" "$CPU" \
            "503s $(field non2xx "$LINE"), errors $(field errors "$LINE"), ratio $(awk -v a="$(field ok_rps "$LINE")" -v b="$(field rps "$ngx")" 'BEGIN { printf "%.3f", a / b }') of nginx, VmHWM $(kib VmHWM "$SRV") KiB"
      fi
    done
  done
}

full_runs() {
  local line t0 t1 n coding per
  per=$(wc -l < "$work/scan/index")
  for coding in gzip xpress; do
    for rep in $(seq 1 "$REPS"); do
      WRKARGS=(-s bench/lua/scan_replay.lua "$URL"); CPU_PIDS=$SRV
      SCAN_DIR=$work/scan CODING=$coding wrk_run ours "$SCAN_CLIENTS"
      row "full c=$SCAN_CLIENTS" "ours, replay $coding (rep $rep)" \
          "$(awk -v a="$(field ok_rps "$LINE")" -v p="$per" 'BEGIN { printf "%.1f scans", a / p }')" "-" \
          "$(field p50_ms "$LINE")" "$(field p99_ms "$LINE")" "$(field max_ms "$LINE")" \
          "$(awk -v c="$CPU" -v p="$per" 'BEGIN { printf "%.1f per scan", c * p }')" \
          "$per requests per scan, $(field ok_rps "$LINE") ok/s, 503s $(field non2xx "$LINE"), errors $(field errors "$LINE"), latencies per request, VmHWM $(kib VmHWM "$SRV") KiB"
    done
  done
  t0=$(ticks "$SRV")
  line=$("$BUILD/wsus-scanload" --server "$URL" --ca "$CA" --group Bench --clients "$SCAN_CLIENTS" \
         --duration "$SECS" 2> "$work/scanload.err") || grep -m1 "first failure" "$work/scanload.err" >&2 || true
  t1=$(ticks "$SRV")
  n=$(field scans "$line")
  row "full c=$SCAN_CLIENTS" "ours, wsus-scanload" "$(field scans_per_s "$line") scans" "-" "$(field p50_ms "$line")" "$(field p99_ms "$line")" "-" \
      "$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 10 / n; else print "nan" }') per scan" \
      "$n scans, $(field failed "$line") failed, $(field busy "$line") cut short by a 503 (retried), offered $(field offered "$line") revisions, gzip, VmHWM $(kib VmHWM "$SRV") KiB"
}

fleet_runs() {
  local c=${BENCH_FLEET_CONNS:-200} rep ours ngx sl
  for rep in $(seq 1 "$REPS"); do
    "$BUILD/wsus-scanload" --server "$URL" --ca "$CA" --group Bench --clients 4 --duration "$SECS" \
      > "$work/fleet.scans" 2>&1 &
    sl=$!
    WRKARGS=(-s bench/lua/fleet.lua "$URL"); CPU_PIDS=$SRV
    FLEET_DIR=$work/fleet TARGET=ours CONTENT_PATH=$CONTENT_PATH CONTENT_BYTES=$CONTENT_BYTES wrk_run ours "$c"
    ours=$LINE; local cpu_ours=$CPU
    wait "$sl" || true
    WRKARGS=(-s bench/lua/fleet.lua "https://127.0.0.1:$NG"); CPU_PIDS=$NGW
    FLEET_DIR=$work/fleet TARGET=nginx CONTENT_PATH=$CONTENT_PATH CONTENT_BYTES=$CONTENT_BYTES wrk_run nginx "$c"
    ngx=$LINE
    row "fleet c=$c" "ours (rep $rep)" "$(field rps "$ours")" "$(field ok_rps "$ours")" "$(field p50_ms "$ours")" \
        "$(field p99_ms "$ours")" "$(field max_ms "$ours")" "$cpu_ours" \
        "503s $(field non2xx "$ours"), ratio $(awk -v a="$(field ok_rps "$ours")" -v b="$(field rps "$ngx")" 'BEGIN { printf "%.3f", a / b }') of nginx, + 4 full-scan clients: $(sed -nE 's/.*scans_per_s=([0-9.]+).*/\1/p' "$work/fleet.scans") scans/s, VmHWM $(kib VmHWM "$SRV") KiB"
    row "fleet c=$c" "nginx (rep $rep)" "$(field rps "$ngx")" "$(field ok_rps "$ngx")" "$(field p50_ms "$ngx")" \
        "$(field p99_ms "$ngx")" "$(field max_ms "$ngx")" "$CPU" "(no full scans beside it)"
  done
}

started=$(date -u "+%Y-%m-%d %H:%M UTC")
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for part in $PARTS; do "${part}_runs"; done

# after the load: the delta answer is still the same answer (its NewCookie aside)
curl -sS -k -H 'Content-Type: text/xml; charset=utf-8' -H "SOAPAction: $SA_SYNC" \
     --data-binary @"$work/cap/delta.xml" -o "$work/after.answer" "$URL$CLIENT_PATH"
got=$(python3 -c 'import re, sys
strip = lambda p: re.sub(rb"<NewCookie>.*?</NewCookie>", b"", open(p, "rb").read(), flags=re.S)
print("the same" if strip(sys.argv[1]) == strip(sys.argv[2]) else "DIFFERENT")' "$work/after.answer" "$work/www/s/delta.answer")

{
  echo
  echo "## $started — serving path against nginx (issue 8): bench/serve.sh${BENCH_LABEL:+, $BENCH_LABEL}"
  echo
  echo "- command: \`bash bench/serve.sh $SECS $REPS\` (BENCH_CONNS=\"$CONNS\" BENCH_SCAN_CLIENTS=$SCAN_CLIENTS BENCH_PARTS=\"$PARTS\"; build $BUILD)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load generators, server and nginx share the cores (shared machine: load average $load0 at the start)"
  echo "- versions: wsus-replica $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($(grep -m1 CMAKE_BUILD_TYPE: "$BUILD/CMakeCache.txt" | cut -d= -f2)), nginx $(nginx -v 2>&1 | sed 's|.*/||'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), libmicrohttpd $(pkg-config --modversion libmicrohttpd), GnuTLS $(pkg-config --modversion gnutls)"
  echo "- data: $REVS generated revisions (seed 9), $APPROVED approved for group Bench; a client is offered $(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j.get("installed_nonleaf", "?"), "installed non-leaf +", j.get("other_cached", "?"), "cached ids")' "$work/cap/info.json" 2>/dev/null || echo '?'); delta request $(stat -c %s "$work/cap/delta.xml") B, answer $(stat -c %s "$work/www/s/delta.answer") B; the delta answer after the runs is $got (NewCookie aside)"
  echo "- server: RSS $RSS0 KiB at start, peak (VmHWM) $(kib VmHWM "$SRV") KiB at the end; 503s are admission control's answers"
  echo
  echo "| run | target | req/s | 2xx/s | p50 ms | p99 ms | max ms | server CPU ms/req | notes |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$work/block.md"
cat "$work/block.md"
# results.md is newest first: the block goes before the first dated section
if [ "${BENCH_RECORD:-0}" = 1 ]; then
  python3 - "$work/block.md" bench/results.md <<'PY'
import sys
block = open(sys.argv[1]).read().strip("\n") + "\n\n"
doc = open(sys.argv[2]).read()
at = doc.find("\n## ")
doc = doc + "\n" + block if at < 0 else doc[:at + 1] + block + doc[at + 1:]
open(sys.argv[2], "w").write(doc)
PY
fi
