#!/usr/bin/env bash
# scale_haproxy.sh -- issue 13 item 4, scale-out behind a load balancer: two
# front ends of one site (one [server] shared_secret_file, each its own
# database synced from the same upstream, [sync] rollup on one of them)
# behind HAProxy in TCP mode, round robin. One client session, every request
# on a new connection, so consecutive requests land on alternate front ends:
# the cookie one issued opens at the other (no ServerChanged, no
# ConfigChanged), the scan completes with the approved update offered, the
# payload downloads with its digest intact, and the report is taken (the
# events stored once, at one front end). Both access logs show the client's
# requests. The upstream then sees one downstream server, the site, rolled up
# once, and the client's computer once, under the site. A secret file group or others can read is refused at config load.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
HERE=$(cd "$(dirname "$0")" && pwd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_line() { for _ in $(seq 150); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
mkcert() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$T/$1.key" -out "$T/$1.pem" > /dev/null 2>&1; }
command -v haproxy > /dev/null || fail "haproxy is not installed (scripts/deps.sh installs it)"
mkcert up; mkcert site

# the upstream: a root with one approved update that has payloads
"$GEN" --seed 11 --revisions 40 --out "$T/cat" > /dev/null
printf '[server]\ntls_cert = %s\ntls_key = %s\n[admin]\nlisten = off\n' "$T/up.pem" "$T/up.key" > "$T/up.conf"
"$W" -q -c "$T/up.conf" -d "$T/up" import "$T/cat" > /dev/null
UID1=$(sqlite3 "$T/up/wsus.db" "SELECT r.update_id FROM revision r JOIN revision_file f ON f.revision_id = r.revision_id
  WHERE r.update_type = 'Software' AND r.is_leaf = 1 LIMIT 1")
check "the upstream has a software update with payloads" test -n "$UID1"
"$W" -q -c "$T/up.conf" -d "$T/up" approve "$UID1" --group "All Computers" --action install > /dev/null
"$W" -c "$T/up.conf" -d "$T/up" serve --listen 127.0.0.1:0 > "$T/up.out" 2> "$T/up.err" &
E2E_PIDS+=($!)
wait_line "$T/up.out" '^listening' || fail "upstream did not start"
UPORT=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/up.out")

# the site's secret: 64 hex digits, 0600
(umask 077; openssl rand -hex 32 > "$T/site.secret")
mkdir -p "$T/pins"; cp "$T/up.pem" "$T/pins/"
# fe NAME ROLLUP: a front end's config (both serve the site's certificate)
fe() {
  printf '[server]\ntls_cert = %s\ntls_key = %s\nshared_secret_file = %s\n' "$T/site.pem" "$T/site.key" "$T/site.secret"
  printf '[upstream]\nurl = https://127.0.0.1:%s/\nca_file = %s\nretries = 0\n[trust]\npin_store = %s\n' \
    "$UPORT" "$T/up.pem" "$T/pins"
  printf '[sync]\nrollup = %s\ninterval = 1d\njitter = 0\n[storage]\ndata_dir = %s\n[admin]\nlisten = off\n' "$2" "$T/$1"
  printf '[log]\naccess_log = %s\n' "$T/$1.access"
}
fe fe1 true > "$T/fe1.conf"; fe fe2 false > "$T/fe2.conf"

# the secret file's mode is checked
chmod 644 "$T/site.secret"
"$W" -c "$T/fe1.conf" sync > /dev/null 2> "$T/mode.err"
check "a secret readable by others: refused" test $? -ne 0
contains "the error names file:line:key and the mode" "$T/mode.err" \
  "^wsus-replica: $T/fe1.conf:4: \\[server\\] shared_secret_file: $T/site.secret: mode 0644 .*chmod 600"
chmod 600 "$T/site.secret"

# each front end syncs its own database from the same upstream
for f in fe1 fe2; do
  "$W" -c "$T/$f.conf" sync > "$T/$f.sync" 2>&1; equals "$f: first sync" $? 0
done
equals "both front ends hold the same RevisionIDs for the same revisions" \
  "$(sqlite3 "$T/fe1/wsus.db" "SELECT group_concat(revision_id || ':' || update_id || ':' || revision_number) FROM (SELECT * FROM revision ORDER BY revision_id)")" \
  "$(sqlite3 "$T/fe2/wsus.db" "SELECT group_concat(revision_id || ':' || update_id || ':' || revision_number) FROM (SELECT * FROM revision ORDER BY revision_id)")"
sjson() { "$W" -c "$T/$1.conf" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
SID1=$(sjson fe1 server_id); SID2=$(sjson fe2 server_id)
D1=$(sjson fe1 revision_ids_sha256); D2=$(sjson fe2 revision_ids_sha256)
check "status --json says so: equal revision_ids_sha256" test "${#D1}" -eq 64 -a "$D1" = "$D2"
check "and it is not the upstream's (which has local imports numbered its own way)" \
  test "$(sqlite3 "$T/up/wsus.db" "SELECT group_concat(revision_id || ':' || update_id) FROM (SELECT * FROM revision ORDER BY revision_id)")" \
       = "$(sqlite3 "$T/fe1/wsus.db" "SELECT group_concat(revision_id || ':' || update_id) FROM (SELECT * FROM revision ORDER BY revision_id)")" \
       -o "$D1" != "$("$W" -c "$T/up.conf" -d "$T/up" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision_ids_sha256"])')"
check "front ends have one ServerID (the site's)" test -n "$SID1" -a "$SID1" = "$SID2"

for f in fe1 fe2; do
  "$W" -c "$T/$f.conf" serve --listen 127.0.0.1:0 > "$T/$f.out" 2> "$T/$f.err" &
  E2E_PIDS+=($!)
  wait_line "$T/$f.out" '^listening' || fail "$f did not start"
done
P1=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/fe1.out")
P2=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/fe2.out")

# HAProxy, TCP mode: TLS passes through to the front ends
HP=$(free_port)
cat > "$T/haproxy.cfg" <<CFG
global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend wsus
  bind 127.0.0.1:$HP
  default_backend replicas
backend replicas
  balance roundrobin
  server fe1 127.0.0.1:$P1
  server fe2 127.0.0.1:$P2
CFG
haproxy -c -f "$T/haproxy.cfg" > "$T/haproxy.check" 2>&1; equals "haproxy accepts the configuration" $? 0
haproxy -db -f "$T/haproxy.cfg" > "$T/haproxy.out" 2>&1 &
E2E_PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$T/site.pem" "https://127.0.0.1:$HP/" && break; sleep 0.1; done

# one client session through HAProxy, a new connection per request
CONTENT=$(cd "$T/fe1/content" && find . -type f | sed -n 's|^\./||p' | head -1)
check "the payload was synced" test -n "$CONTENT"
SHA1=$(basename "$CONTENT" | cut -c1-40)
CID=5ca1e0ff-0000-4000-8000-00000000c11e
python3 "$HERE/scale_client.py" --port "$HP" --ca "$T/site.pem" --client-id "$CID" \
  --content "/Content/$CONTENT" --sha1 "$SHA1" > "$T/client.json" 2> "$T/client.err"
equals "the client ran" $? 0
RID=$(sqlite3 "$T/fe1/wsus.db" "SELECT revision_id FROM revision WHERE update_id = '$UID1' ORDER BY revision_number DESC LIMIT 1")
python3 - "$T/client.json" "$RID" > "$T/client.check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); rid = int(sys.argv[2])
assert d["faults"] == [], d["faults"]
assert d["pages"] >= 1 and rid in d["offered"], (rid, d["offered"])
assert d["download_status"] == 200 and d["download_sha1_ok"] and d["download_bytes"] > 0, d
assert d["report"] is True, d["report"]
print("ok")
PY
equals "scan (approved update offered), download (digest intact) and report (taken), no fault" "$(cat "$T/client.check")" ok
for f in fe1 fe2; do
  check "$f answered part of the session (access log)" wait_line "$T/$f.access" " [A-Za-z]+ 200 [0-9]+ [0-9.]+ $CID\$"
done
ops() { grep " $CID\$" "$T/$1.access" | awk '{print $5}' | sort -u | tr '\n' ' '; }
echo "     fe1: $(ops fe1)"; echo "     fe2: $(ops fe2)"
check "the session alternated: each front end answered at least 2 of its requests" \
  test "$(grep -c " $CID\$" "$T/fe1.access")" -ge 2 -a "$(grep -c " $CID\$" "$T/fe2.access")" -ge 2
check "every request the client made was answered 200 (no cross-front-end fault)" \
  test -z "$(grep -h " $CID\$" "$T/fe1.access" "$T/fe2.access" | awk '$6 != 200')"
EV=$(python3 -c 'import json,sys; print("|".join(json.load(open(sys.argv[1]))["events"]))' "$T/client.json")
n1=$(sqlite3 "$T/fe1/wsus.db" "SELECT count(*) FROM event WHERE computer_id = '$CID'")
n2=$(sqlite3 "$T/fe2/wsus.db" "SELECT count(*) FROM event WHERE computer_id = '$CID'")
equals "the report's 3 events are stored once, at one front end ($n1 + $n2)" "$((n1 + n2))" 3
check "and not split across both" test "$n1" -eq 0 -o "$n2" -eq 0

# the rollup: the site reports once, as one downstream server
"$W" -v -c "$T/fe1.conf" sync > "$T/fe1.sync2" 2>&1; equals "fe1: sync with rollup" $? 0
"$W" -v -c "$T/fe2.conf" sync > "$T/fe2.sync2" 2>&1; equals "fe2: sync without rollup" $? 0
contains "fe1 rolled up" "$T/fe1.sync2" 'phase=rollup servers=1'
contains "fe2 did not ([sync] rollup = false)" "$T/fe2.sync2" 'phase=rollup skipped="\[sync\] rollup = false"'
equals "the upstream knows one downstream server: the site" \
  "$(sqlite3 "$T/up/wsus.db" "SELECT group_concat(server_id) FROM dss")" "$SID1"
equals "the client's computer reached the upstream once, under the site" \
  "$(sqlite3 "$T/up/wsus.db" "SELECT count(*) || ' ' || group_concat(parent_server_id) FROM computer WHERE computer_id = '$CID'")" "1 $SID1"
check "with a rollup" test -n "$(sqlite3 "$T/up/wsus.db" "SELECT last_rollup_time FROM dss WHERE server_id = '$SID1' AND last_rollup_time IS NOT NULL")"

e2e_finish
