#!/usr/bin/env bash
# bench/scan.sh [SECONDS] [REVISIONS] [APPROVED] -- full client scans per
# second against one `wsus-replica serve`: a catalogue of REVISIONS generated
# revisions, APPROVED of them (3 software leaves to 1 bundle) approved for one
# group, then wsus-scanload at 50 and at 500 concurrent clients (override with
# BENCH_CLIENTS="50 500") for SECONDS each. A scan is what a Windows client
# does before downloading: GetConfig, GetAuthorizationCookie, GetCookie,
# RegisterComputer, every SyncUpdates page (software pass, reporting every
# offered non-leaf revision installed) and GetExtendedUpdateInfo for every
# offered revision; each client is one thread with its own TLS connection kept
# alive, and starts every scan with an empty cache (a first scan: the most
# work a server does for a client). Prints scans/s, p50/p99 latency of a whole
# scan and the server's peak RSS (VmHWM). A client count runs for SECONDS and
# then until every scan started has finished, so the 500-client round lasts at
# least 500 scans' worth of server time: with the defaults on 2 cores about
# 1 minute of seeding, 30 s at 50 clients and 4-5 minutes at 500.
#   bash bench/scan.sh 20 20000 2000
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
REVS=${2:-20000}
APPROVED=${3:-2000}
BUILD=${WSUS_BUILD_DIR:-build}
CLIENTS=${BENCH_CLIENTS:-50 500}
[ -x "$BUILD/wsus-replica" ] && [ -x "$BUILD/wsus-scanload" ] || bash scripts/build.sh "$BUILD"

work=$(mktemp -d /tmp/wsus-bench-scan.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
val() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }   # a key of wsus-scanload's line
kib() { awk '/^'"$1"':/ {print $2}' "/proc/$2/status"; }
W="$BUILD/wsus-replica"

t0=$(date +%s.%N)
"$BUILD/wsus-gencatalog" --seed 9 --revisions "$REVS" --out "$work/cat" > /dev/null
"$W" -q -d "$work/data" import "$work/cat" > /dev/null
"$W" -q -d "$work/data" group add Bench > /dev/null
NB=$((APPROVED / 4)); NL=$((APPROVED - NB))
awk -F'\t' -v nl="$NL" -v nb="$NB" '$4 == "leaf" && l < nl { print $1; l++ } $4 == "bundle" && b < nb { print $1; b++ }' \
  "$work/cat/manifest.tsv" > "$work/approve"
[ "$(wc -l < "$work/approve")" -eq "$APPROVED" ] || { echo "scan.sh: the catalogue has too few leaves/bundles" >&2; exit 1; }
xargs -P "$(nproc)" -I{} "$W" -q -d "$work/data" approve {} --group Bench --action install < "$work/approve" > /dev/null
rm -rf "$work/cat"
t1=$(date +%s.%N)

PORT=$(free_port)
printf '[server]\nlisten = 127.0.0.1:%s\n[clients]\nregister_per_minute = 0\n' "$PORT" > "$work/wsus.conf"
"$W" -q -c "$work/wsus.conf" -d "$work/data" serve > "$work/serve.out" 2> "$work/serve.err" &
SRV=$!; pids+=("$SRV")
wait_port "$PORT"
URL="https://127.0.0.1:$PORT"
CA="$work/data/tls/server.crt"

# One scan first: what a scan is made of (and the closure cache warmed).
env -u https_proxy -u HTTPS_PROXY -u ALL_PROXY "$W" -q -d "$work/client" scan --server "$URL" --ca "$CA" \
  --group Bench --no-report --json > "$work/one.json"
read -r OFFERED REQS PAGES EXT FILES < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); s=j["summary"]
print(s["offered"], j["requests"], j["software_pages"], j["extended_calls"], s["files"])' "$work/one.json")
ONE=$("$BUILD/wsus-scanload" --server "$URL" --ca "$CA" --group Bench --clients 1 --scans 3 | sed -nE 's/.* p50_ms=([0-9]+) .*/\1/p')

echo "command:    bash bench/scan.sh $SECS $REVS $APPROVED   (build $BUILD, $SECS s per client count)"
echo "catalogue:  $REVS generated revisions, $APPROVED approved for the group ($NL leaves, $NB bundles); seeded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s"
echo "a scan:     $OFFERED revisions offered, $FILES payloads listed; $REQS requests ($PAGES SyncUpdates pages, $EXT GetExtendedUpdateInfo calls); one client alone: $ONE ms"
echo "machine:    $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load generator and server share the cores"
echo "versions:   wsus-replica $(git rev-parse --short HEAD 2>/dev/null || echo '?') (libmicrohttpd $(pkg-config --modversion libmicrohttpd), GnuTLS $(pkg-config --modversion gnutls), SQLite $(pkg-config --modversion sqlite3)); client libcurl $(pkg-config --modversion libcurl) (OpenSSL); TLS keep-alive"
echo "server RSS: $(kib VmRSS "$SRV") KiB before the runs"
for c in $CLIENTS; do
  line=$("$BUILD/wsus-scanload" --server "$URL" --ca "$CA" --group Bench --clients "$c" --duration "$SECS" 2> "$work/load.err") \
    || { echo "scan.sh: wsus-scanload failed at $c clients: $line $(cat "$work/load.err")" >&2; exit 1; }
  [ "$(val offered)" = "$OFFERED" ] || { echo "scan.sh: scans were offered $(val offered) revisions, not $OFFERED" >&2; exit 1; }
  printf '%4d clients: %7s scans/s  p50 %6s ms  p99 %6s ms  (%s scans, %s failed)  server peak RSS %s KiB\n' \
    "$c" "$(val scans_per_s)" "$(val p50_ms)" "$(val p99_ms)" "$(val scans)" "$(val failed)" "$(kib VmHWM "$SRV")"
done
