#!/usr/bin/env bash
# ops_sync_history.sh -- issue 11 / issue 12 item 2: every sync run is
# recorded, failed ones too, and `sync history [--limit N] [--json]` shows
# them. A replica syncs once from a root (published, payloads of the
# approved update fetched), once more (nothing new), then once against an
# upstream whose certificate is no longer pinned (refused). The text table
# and the JSON show the three runs newest first with their results,
# revisions, payload bytes, pin verdicts and the failed run's error;
# --limit 1 shows only the failed one; bad options are usage errors (2).
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
mkcert() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/$1.key" -out "$T/$1.pem" > /dev/null 2>&1; }
wait_line() { for _ in $(seq 150); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
mkcert up; mkcert other

# the root: a small catalogue, one update with payloads approved
"$GEN" --seed 7 --revisions 30 --out "$T/cat" > /dev/null
printf '[server]\ntls_cert = %s\ntls_key = %s\n[admin]\nlisten = off\n' "$T/up.pem" "$T/up.key" > "$T/up.conf"
"$W" -q -c "$T/up.conf" -d "$T/up" import "$T/cat" > /dev/null
"$W" -q -c "$T/up.conf" -d "$T/up" group add Workstations > /dev/null
UID1=$(sqlite3 "$T/up/wsus.db" "SELECT r.update_id FROM revision r JOIN revision_file f ON f.revision_id = r.revision_id
  WHERE r.update_type = 'Software' AND r.is_leaf = 1 LIMIT 1" 2>/dev/null)
[ -n "$UID1" ] || UID1=$(sqlite3 "$T/up/wsus.db" "SELECT r.update_id FROM revision r JOIN revision_file f
  ON f.revision_id = r.revision_id LIMIT 1")
"$W" -q -c "$T/up.conf" -d "$T/up" approve "$UID1" --group Workstations --action install > /dev/null
check "an update with payloads is approved at the root" test -n "$UID1"
"$W" -c "$T/up.conf" -d "$T/up" serve --listen 127.0.0.1:0 > "$T/up.out" 2> "$T/up.err" &
E2E_PIDS+=($!)
wait_line "$T/up.out" '^listening' || fail "root did not start"
UPORT=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/up.out")
URL="https://127.0.0.1:$UPORT/"

mkdir -p "$T/pins" "$T/pins2"; cp "$T/up.pem" "$T/pins/"; cp "$T/other.pem" "$T/pins2/"
conf() { printf '[upstream]\nurl = %s\nca_file = %s\nretries = 0\ntimeout = 10\n[trust]\npin_store = %s\n[storage]\ndata_dir = %s\n[admin]\nlisten = off\n' \
  "$URL" "$T/up.pem" "$1" "$T/r" > "$2"; }
conf "$T/pins" "$T/ok.conf"; conf "$T/pins2" "$T/bad.conf"

"$W" -c "$T/ok.conf" sync > "$T/s1.out" 2>&1; equals "first sync succeeds" $? 0
"$W" -c "$T/ok.conf" sync > "$T/s2.out" 2>&1; equals "second sync succeeds" $? 0
"$W" -c "$T/bad.conf" sync > "$T/s3.out" 2>&1; check "a sync with the upstream unpinned fails" test $? -ne 0

# text
"$W" -c "$T/ok.conf" sync history > "$T/h.txt" 2> "$T/h.err"; equals "sync history exits 0" $? 0
check "sync history writes nothing on stderr" test ! -s "$T/h.err"
ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z'
equals "text: a header and three runs" "$(grep -Ec "^($ISO|STARTED) " "$T/h.txt")" 4
contains "text: the header" "$T/h.txt" '^STARTED +SECONDS +RESULT +NEW +CHANGED +CONTENT_BYTES +UPSTREAM$'
equals "text: newest first (failed, succeeded, succeeded)" \
  "$(grep -E "^$ISO " "$T/h.txt" | awk '{print $3}' | tr '\n' ' ')" "failed succeeded succeeded "
contains "text: the first run published the catalogue and fetched payloads" "$T/h.txt" \
  "^$ISO +[0-9.]+ +succeeded +[1-9][0-9]* +0 +[1-9][0-9]* +https://127\.0\.0\.1:$UPORT\$"
contains "text: the second run had nothing new and fetched nothing" "$T/h.txt" \
  "^$ISO +[0-9.]+ +succeeded +0 +0 +0 +https://127\.0\.0\.1:$UPORT\$"
contains "text: the failed run" "$T/h.txt" "^$ISO +[0-9.]+ +failed +0 +0 +0 +https://127\.0\.0\.1:$UPORT\$"
contains "text: the failed run's error names the phase and why" "$T/h.txt" '^  error: auth: .*not pinned'
contains "text: a pin verdict of a published run" "$T/h.txt" '^  pin: pinned certificate in store: yes'

# JSON
"$W" -c "$T/ok.conf" sync history --json > "$T/h.json"; equals "sync history --json exits 0" $? 0
python3 - "$T/h.json" "$URL" > "$T/h.check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); runs = d["sync_runs"]; up = sys.argv[2].rstrip("/")
keys = {"id", "started", "finished", "duration_seconds", "upstream", "cert_sha256", "pin_verdict", "result",
        "new_revisions", "changed_revisions", "content_bytes", "error"}
assert len(runs) == 3, len(runs)
assert all(set(r) == keys for r in runs), [sorted(r) for r in runs]
assert [r["result"] for r in runs] == ["failed", "succeeded", "succeeded"]
assert runs[0]["id"] > runs[1]["id"] > runs[2]["id"]
assert all(r["upstream"] == up for r in runs)
f, s2, s1 = runs
assert "not pinned" in f["error"] and f["error"].startswith("auth: "), f["error"]
assert s1["error"] is None and s2["error"] is None
assert s1["new_revisions"] > 0 and s1["content_bytes"] > 0 and s2["new_revisions"] == 0, s1
assert s1["pin_verdict"].startswith("pinned certificate in store: yes"), s1["pin_verdict"]
assert len(s1["cert_sha256"]) == 64
assert all(r["finished"] >= r["started"] and r["duration_seconds"] >= 0 for r in runs)
print("ok")
PY
equals "JSON: three runs with every documented key and value" "$(cat "$T/h.check")" ok
"$W" -c "$T/ok.conf" sync history --limit 1 --json > "$T/h1.json"
equals "--limit 1: only the newest (the failed run)" \
  "$(python3 -c 'import json,sys; print([r["result"] for r in json.load(open(sys.argv[1]))["sync_runs"]])' "$T/h1.json")" \
  "['failed']"
"$W" -c "$T/ok.conf" sync history --limit 0 > /dev/null 2> "$T/u.err"; equals "--limit 0 is a usage error" $? 2
contains "usage line" "$T/u.err" '^usage: wsus-replica sync history \[--limit N\] \[--json\]$'
"$W" -c "$T/ok.conf" sync history extra > /dev/null 2>&1; equals "an extra argument is a usage error" $? 2
"$W" -d "$T/nothing" sync history > /dev/null 2> "$T/n.err"; equals "no data directory: exit 1" $? 1
check "and nothing is created" test ! -e "$T/nothing"
"$W" -d "$T/fresh" migrate > /dev/null 2>&1
equals "a database without runs says so" "$("$W" -d "$T/fresh" sync history)" "no sync runs recorded"
equals "and in JSON an empty list" "$("$W" -d "$T/fresh" sync history --json | tr -d ' \n')" '{"sync_runs":[]}'

e2e_finish
