#!/usr/bin/env bash
# report.sh [CLIENTS] [SECONDS] [BATCH] -- ReportEventBatch throughput: a
# `serve` on loopback (its own data directory and certificate), CLIENTS
# Windows-like clients (tests/e2e/report_client.py) registering and then
# reporting batches of BATCH new events for SECONDS; prints the events
# answered true per second and what the server stored. Run it against
# another binary with WSUS_BIN=path/to/wsus-replica (e.g. an older build).
# The daily quota per computer is raised to 1G: a bench client sends far
# more than a real one (QUOTA=1MiB measures the default instead).
# THREADS sets [server] threads (default 0: one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-16}
SECONDS_=${2:-20}
BATCH=${3:-20}
BIN=${WSUS_BIN:-${WSUS_BUILD_DIR:-build}/wsus-replica}
[ -x "$BIN" ] || { echo "no binary at $BIN (set WSUS_BUILD_DIR or WSUS_BIN)"; exit 1; }
T=$(mktemp -d /tmp/wsus-bench-report.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/s.key" -out "$T/s.crt" > /dev/null 2>&1
printf '[server]\nlisten = 127.0.0.1:%s\ntls_cert = %s/s.crt\ntls_key = %s/s.key\nthreads = %s\n[storage]\ndata_dir = %s/d\n' \
  "$PORT" "$T" "$T" "${THREADS:-0}" "$T" > "$T/c.conf"
# an older binary knows no [clients] section
if grep -q event_quota_per_day <(strings "$BIN"); then
  printf '[clients]\nevent_quota_per_day = %s\n' "${QUOTA:-1G}" >> "$T/c.conf"
fi
"$BIN" -c "$T/c.conf" serve > "$T/serve.out" 2> "$T/serve.err" &
PID=$!
for _ in $(seq 100); do grep -q '^listening' "$T/serve.out" 2>/dev/null && break; sleep 0.1; done
mkdir -p "$T/out"
python3 tests/e2e/report_client.py report "https://127.0.0.1:$PORT" "$T/s.crt" --out "$T/out" \
  --clients "$CLIENTS" --seconds "$SECONDS_" --batch "$BATCH" --prefix bench > "$T/result.json"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
STORED=$(sqlite3 "$T/d/wsus.db" "SELECT count(*) FROM event")
ACKED=$(cat "$T"/out/acked.* | wc -l)
echo "binary:   $BIN"
echo "clients:  $CLIENTS, batches of $BATCH events, ${SECONDS_} s"
echo "result:   $(cat "$T/result.json")"
echo "stored:   $STORED events ($ACKED answered true)"
echo "writer:   $(grep -o 'event writer stopped.*' "$T/serve.err" || echo '-')"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg)"
