#!/usr/bin/env bash
# demo.sh -- install what is missing, build, and run the main job on the embedded
# default: a local upstream seeded with a sample catalogue, a replica that syncs
# from it over HTTPS with the upstream's certificate pinned, and a client scan
# against the replica. The replica keeps serving until Ctrl-C (or SIGTERM).
#
#   bash scripts/demo.sh            # everything under ./var/demo
#   DEMO_NO_WAIT=1 bash scripts/demo.sh   # stop everything after the scan
#   (tests/e2e/demo.sh runs it this way on every test run, with free ports)
set -euo pipefail
cd "$(dirname "$0")/.."
# WSUS_DEMO_BUILD_DIR: an existing build to use as it is (the e2e_demo test sets it); otherwise install
# what is missing and build ./build.
if [ -n "${WSUS_DEMO_BUILD_DIR:-}" ]; then
  BUILD=$WSUS_DEMO_BUILD_DIR
else
  bash scripts/deps.sh
  bash scripts/build.sh build
  BUILD=$PWD/build
fi

BIN=$BUILD/wsus-replica
ROOT=${WSUS_DEMO_DIR:-$PWD/var/demo}
UP_PORT=${WSUS_DEMO_UPSTREAM_PORT:-8531}
REP_PORT=${WSUS_DEMO_REPLICA_PORT:-8541}
UP=$ROOT/upstream
REP=$ROOT/replica
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

# Wait until a `serve` writes its "listening on" line into $1.
wait_listening() {
  for _ in $(seq 1 100); do
    grep -q '^listening on' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: server did not start; its log:" >&2
  cat "${1%.out}.log" >&2
  return 1
}

rm -rf "$ROOT"
mkdir -p "$ROOT"

echo "== 1. upstream: a sample catalogue (seed 1, 500 revisions) with approvals for group Workstations"
"$BUILD/wsus-gencatalog" --seed 1 --revisions 500 --out "$ROOT/catalog" --force
"$BIN" -q -d "$UP" import "$ROOT/catalog"
"$BIN" -q -d "$UP" group add Workstations
# awk stops after 8 by itself: head would close the pipe and pipefail would abort.
awk -F'\t' 'NR > 1 && ($4 == "leaf" || $4 == "bundle") && n < 8 { print $1; n++ }' \
  "$ROOT/catalog/manifest.tsv" | while read -r id; do
    "$BIN" -q -d "$UP" approve "$id" --group Workstations --action install
  done
"$BIN" -d "$UP" serve --listen "127.0.0.1:$UP_PORT" > "$ROOT/upstream.out" 2> "$ROOT/upstream.log" &
pids+=($!)
wait_listening "$ROOT/upstream.out"
cat "$ROOT/upstream.out"

echo "== 2. replica: pin the upstream's certificate, sync over HTTPS"
mkdir -p "$REP/pins"   # a pin store named in the config must exist (fail closed)
cat > "$ROOT/replica.conf" <<EOF
[server]
listen = 127.0.0.1:$REP_PORT

[upstream]
url = https://127.0.0.1:$UP_PORT
mode = replica
ca_file = $UP/tls/server.crt

[trust]
pin_store = $REP/pins
enforce_pinning = true

[storage]
data_dir = $REP
EOF
"$BIN" -q -c "$ROOT/replica.conf" pin add "$UP/tls/server.crt"
"$BIN" -c "$ROOT/replica.conf" pin check
"$BIN" -c "$ROOT/replica.conf" sync
"$BIN" -q -c "$ROOT/replica.conf" status

"$BIN" -c "$ROOT/replica.conf" serve > "$ROOT/replica.out" 2> "$ROOT/replica.log" &
pids+=($!)
wait_listening "$ROOT/replica.out"
cat "$ROOT/replica.out"

echo "== 3. a client (group Workstations) scans the replica and downloads what it is offered"
"$BIN" scan --server "https://127.0.0.1:$REP_PORT" --ca "$REP/tls/server.crt" --group Workstations \
  --download "$ROOT/downloads"

if [ -n "${DEMO_NO_WAIT:-}" ]; then
  exit 0
fi
echo "== the replica keeps serving on https://127.0.0.1:$REP_PORT (logs in $ROOT); Ctrl-C stops it"
wait "${pids[1]}"
