#!/usr/bin/env bash
# server_admission.sh -- admission control of `wsus-replica serve` as it
# ships (default limits): 2,000 idle connections from one address
# (127.0.0.2) do not keep a Windows client on another address (127.0.0.1)
# from its GetConfig, answered within 100 ms (or, on a loaded machine, twice
# the time it takes there without idle connections); and SIGTERM while requests are
# in flight (bodies of 60,000 attributes on one element, the parse that
# used to hold a worker for minutes, plus the idle connections) ends the
# process within 5 s with exit status 0.
# (The queue's 503 + Retry-After, the per-address limit at its edge and
# server_stop's grace period are shown deterministically, with operations
# as slow as the test wants, by tests/unit/test_server_admission.c.)
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
T=$E2E_TMP
D=$T/data

wait_listening() {
  for _ in $(seq 1 100); do
    if grep -q '^listening on https://' "$1" 2>/dev/null; then
      sed -nE 's|^listening on https://127\.0\.0\.1:([0-9]+) .*|\1|p' "$1"; return 0
    fi
    sleep 0.1
  done
  return 1
}

"$W" -d "$D" serve --listen 127.0.0.1:0 > "$T/out" 2> "$T/err" &
SRV=$!; E2E_PIDS+=("$SRV")
PORT=$(wait_listening "$T/out")
check "serve starts with the default limits" test -n "$PORT"
contains "  and says the per-address limit it applies" "$T/err" "per_address=128"

GETCONFIG='<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetConfig xmlns="http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService"><protocolVersion>1.8</protocolVersion></GetConfig></soap:Body></soap:Envelope>'
CLI="https://127.0.0.1:$PORT/ClientWebService/Client.asmx"
getconfig() { # prints "CODE SECONDS"
  curl -sS -k --max-time 10 -o "$T/body" -w '%{http_code} %{time_total}\n' \
    -H 'Content-Type: text/xml; charset=utf-8' -d "$GETCONFIG" "$CLI"
}

median() { awk '{print $2}' "$1" | sort -n | sed -n 3p; }
# the same GetConfig on this machine as it is now, without idle connections:
# on a loaded shared machine the 100 ms target stretches to twice this
: > "$T/base"
for _ in 1 2 3 4 5; do getconfig >> "$T/base"; done
base=$(median "$T/base")
limit=$(awk -v b="$base" 'BEGIN { l = 2 * b; if (l < 0.1) l = 0.1; printf "%.3f", l }')

# 1. 2,000 idle connections from 127.0.0.2, held open for 60 s at most
cat > "$T/idle.py" <<'EOF'
import resource, socket, sys, time
port, count, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks, failed = [], 0
for _ in range(count):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
time.sleep(0.5)
# the server closes what is past its per-address limit: count what stays open
open_now = 0
for s in socks:
    s.setblocking(False)
    try:
        open_now += 0 if s.recv(1) == b"" else 1
    except BlockingIOError:
        open_now += 1
    except OSError:
        pass
with open(ready, "w") as f:
    f.write("%d %d %d\n" % (len(socks), failed, open_now))
time.sleep(60)
EOF
timeout 90 python3 "$T/idle.py" "$PORT" 2000 "$T/idle.ready" &
IDLE=$!; E2E_PIDS+=("$IDLE")
for _ in $(seq 1 300); do [ -s "$T/idle.ready" ] && break; sleep 0.1; done
read -r made failed open_now < "$T/idle.ready"
equals "2,000 connections attempted from 127.0.0.2" $((made + failed)) 2000
check "  the server keeps at most 128 of them open (max_connections_per_address)" test "$open_now" -le 128
check "  and does keep some (they are idle, not refused outright)" test "$open_now" -ge 1
: > "$T/times"
for _ in 1 2 3 4 5; do getconfig >> "$T/times"; done
equals "5 GetConfigs from 127.0.0.1 answered 200 meanwhile" "$(grep -c '^200 ' "$T/times")" 5
median=$(median "$T/times")
check "  the median GetConfig took under ${limit}s (took ${median}s; ${base}s without idle connections)" \
  awk -v t="$median" -v l="$limit" 'BEGIN { exit !(t < l) }'
slowest=$(awk '{print $2}' "$T/times" | sort -n | tail -1)
check "  none over 1 s (slowest ${slowest}s)" awk -v t="$slowest" 'BEGIN { exit !(t < 1.0) }'

# 2. SIGTERM with requests in flight: hostile parses running and queued
python3 -c 'import sys; sys.stdout.write("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><GetConfig xmlns=\"http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService\" " + " ".join("a%d=\"1\"" % i for i in range(60000)) + "/></soap:Body></soap:Envelope>")' > "$T/attrs.xml"
for i in 1 2 3 4 5 6; do
  curl -sS -k --max-time 60 -o /dev/null -w '%{http_code}\n' -H 'Content-Type: text/xml' \
    --data-binary @"$T/attrs.xml" "$CLI" > "$T/hostile.$i" 2>&1 &
  E2E_PIDS+=("$!")
done
sleep 1.5
t0=$(date +%s%N)
kill -TERM "$SRV"
for _ in $(seq 1 100); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.05; done
wait "$SRV"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "serve ended within 5 s of SIGTERM with requests in flight (took ${ms} ms)" test "$ms" -lt 5000
equals "  with exit status 0" "$rc" 0
contains "  and logged that it stopped" "$T/err" "stopped"
kill "$IDLE" 2>/dev/null
e2e_finish
