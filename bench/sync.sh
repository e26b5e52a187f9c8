#!/usr/bin/env bash
# bench/sync.sh [REVISIONS] -- end-to-end sync throughput: tier 0 (a
# `wsus-replica serve` holding a generated catalogue) to tier 1 (`wsus-replica
# sync`) over TLS with pinning, metadata only ([sync] content = false, so the
# number is revisions/s, not payload bandwidth), then the time of a
# no-change incremental sync, then the same first sync with content.
# Prints one result block (append it to bench/results.md).
#   bash bench/sync.sh 20000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
BUILD=${WSUS_BUILD_DIR:-build}
[ -x "$BUILD/wsus-replica" ] || bash scripts/build.sh "$BUILD"
W=$BUILD/wsus-replica

work=$(mktemp -d /tmp/wsus-bench-sync.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

"$BUILD/wsus-gencatalog" --seed 13 --revisions "$N" --out "$work/cat" > /dev/null
"$W" -q -d "$work/t0" import "$work/cat" > /dev/null
payloads=$(ls "$work/cat/content" | wc -l)
rm -rf "$work/cat"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench tier 0" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/t0.key" -out "$work/t0.crt" > /dev/null 2>&1
P0=$(free_port)
printf '[server]\nlisten = 127.0.0.1:%s\ntls_cert = %s\ntls_key = %s\n' "$P0" "$work/t0.crt" "$work/t0.key" > "$work/t0.conf"
"$W" -q -c "$work/t0.conf" -d "$work/t0" serve > "$work/t0.out" 2> "$work/t0.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening' "$work/t0.out" 2>/dev/null && break; sleep 0.1; done
mkdir -p "$work/pins" && cp "$work/t0.crt" "$work/pins/"
conf() { # FILE DATADIR CONTENT
  printf '[upstream]\nurl = https://127.0.0.1:%s\nca_file = %s\nmode = replica\n[trust]\npin_store = %s\n[storage]\ndata_dir = %s\n[sync]\ncontent = %s\n' \
    "$P0" "$work/t0.crt" "$work/pins" "$2" "$3" > "$1"
}
conf "$work/t1.conf" "$work/t1" false
conf "$work/t2.conf" "$work/t2" true

t0=$(now); "$W" -c "$work/t1.conf" sync > "$work/s1.out" 2> "$work/s1.err"; t1=$(now)
"$W" -c "$work/t1.conf" sync > "$work/s2.out" 2> "$work/s2.err"; t2=$(now)
"$W" -c "$work/t2.conf" sync > "$work/s3.out" 2> "$work/s3.err"; t3=$(now)
revs=$(sqlite3 "$work/t1/wsus.db" 'SELECT count(*) FROM revision')
[ "$revs" = "$N" ] || { echo "sync.sh: tier 1 has $revs revisions, want $N" >&2; tail -3 "$work/s1.err" >&2; exit 1; }
first=$(echo "$t1 - $t0" | bc); again=$(echo "$t2 - $t1" | bc); full=$(echo "$t3 - $t2" | bc)
phase() { grep -o "phase=$2 .*" "$1" | head -1 | cut -c1-100; }

echo "command:        bash bench/sync.sh $N  (WSUS_BUILD_DIR=$BUILD)"
echo "machine:        $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1 /proc/loadavg)"
echo "setup:          tier 0 serve (TLS, $N revisions, $payloads payloads) -> tier 1 sync, pinned, same host"
echo "first sync:     $first s, $(echo "scale=0; $N / $first" | bc) revisions/s (metadata only: GetUpdateData batches, staging, one publish)"
echo "                $(phase "$work/s1.err" updates)"
echo "                $(phase "$work/s1.err" publish)"
echo "no-change sync: $again s  ($(grep -o 'listed=[0-9]*' "$work/s2.err" | tail -1), nothing published)"
echo "with content:   $full s for $N revisions + $(grep -o 'fetched=[0-9]* quarantined' "$work/s3.err" | cut -d' ' -f1) payloads ($(grep -o 'bytes=[0-9]*' "$work/s3.err") )"
