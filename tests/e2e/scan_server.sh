#!/usr/bin/env bash
# scan_server.sh -- `wsus-replica scan` against a real `wsus-replica serve`
# seeded with a generated catalogue, approvals for two groups and a decline.
# The set a client of a group is offered is worked out here, independently,
# from the generated update documents (approved UpdateIDs -> latest revision,
# closure over prerequisites and bundled updates, declined updates cut out,
# then only what a client that reports every offered non-leaf revision
# installed gets: every prerequisite clause met) and compared with what the
# scan reports. Then: every payload downloaded and verified (digests checked
# again here from the documents), a damaged and a partial download repaired
# on the next run, the report stored by the server, the computer in status,
# and the failures: a server fault, a certificate we do not trust.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scan_lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
D=$T/data

"$GEN" --seed 7 --revisions 300 --file-size 3000:90000 --out "$T/gen" > /dev/null
"$W" -q -d "$D" import "$T/gen" > "$T/imp" 2>&1; equals "catalogue imported" $? 0
PICK=$(M pick "$T/gen")
WS=$(python3 -c 'import json,sys; print(" ".join(json.loads(sys.argv[1])["ws"]))' "$PICK")
SRV=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["servers"][0])' "$PICK")
DECL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["declined"])' "$PICK")
DL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["deadline"])' "$PICK")
"$W" -q -d "$D" group add Workstations > /dev/null && "$W" -q -d "$D" group add Servers > /dev/null
equals "groups made" $? 0
okall=0
for u in $WS $DECL; do
  extra=(); [ "$u" = "$DL" ] && extra=(--deadline 2030-06-01T12:00:00Z)
  "$W" -q -d "$D" approve "$u" --group Workstations --action install "${extra[@]}" > /dev/null || okall=1
done
"$W" -q -d "$D" approve "$SRV" --group Servers --action install > /dev/null || okall=1
"$W" -q -d "$D" decline "$DECL" > /dev/null || okall=1
equals "approvals and the decline recorded" "$okall" 0

"$W" -d "$D" serve --listen 127.0.0.1:0 > "$T/out" 2> "$T/err" &
SRVPID=$!; E2E_PIDS+=("$SRVPID")
PORT=$(scan_wait_listening "$T/out")
check "serve prints its listening line" test -n "$PORT"
URL="https://127.0.0.1:$PORT"
CA="$D/tls/server.crt"
S=(env -u https_proxy -u HTTPS_PROXY -u ALL_PROXY "$W" -d "$T/client" scan --server "$URL" --ca "$CA")
mkdir -p "$T/client"

# 1. A Workstations client: offered exactly the approvals plus their closure.
"${S[@]}" --group Workstations --download "$T/dl" --json > "$T/ws.json" 2> "$T/ws.err"
equals "scan of Workstations exits 0" $? 0
sed 's/^/     | /' "$T/ws.err" | head -5
M expect "$T/gen" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' $WS)" "[\"$DECL\"]" all > "$T/ws.want"
M got "$T/gen" "$T/ws.json" > "$T/ws.got"
check "Workstations: expected set is not trivial (>= 10 revisions)" test "$(wc -l < "$T/ws.want")" -ge 10
if cmp -s "$T/ws.want" "$T/ws.got"; then ok "Workstations: offered exactly the approvals plus their closure ($(wc -l < "$T/ws.got"))"
else fail "Workstations: offered set differs (< expected, > scan)"; diff "$T/ws.want" "$T/ws.got" | head -20 | sed 's/^/     | /'; fi
lacks "the declined update is not offered" "$T/ws.got" "^$DECL:"
lacks "the Servers approval is not offered to Workstations" "$T/ws.got" "^$SRV:"
ACT=$(python3 - "$T/ws.json" $WS <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); ws = set(sys.argv[2:])
bad = [u['update_id'] for u in j['updates'] if (u['update_id'] in ws) != (u['action'] == 'Install')]
bad += [u['update_id'] for u in j['updates'] if u['type'] in ('Category', 'Detectoid') and u['action'] != 'Evaluate']
bad += [u['update_id'] for u in j['updates'] if u['type'] == 'Software' and not u['title']]
print(len(bad))
PY
)
equals "approved updates come as Install, categories/detectoids as Evaluate, software has titles" "$ACT" 0
equals "the deadline of an approval reaches the client" \
  "$(python3 -c 'import json,sys; print([u["deadline"][:10] for u in json.load(open(sys.argv[1]))["updates"] if u["update_id"]==sys.argv[2]][0])' "$T/ws.json" "$DL")" 2030-06-01
equals "no fault" "$(M field "$T/gen" "$T/ws.json" fault)" null

# 2. Downloads: every payload of the offered revisions, bytes checked here.
M files "$T/gen" "$T/ws.want" > "$T/files.want"
python3 -c 'import json,sys; [print(f["sha1"], f["sha256"] or "-") for f in sorted(json.load(open(sys.argv[1]))["files"], key=lambda f: f["sha1"])]' "$T/ws.json" > "$T/files.got"
if cmp -s "$T/files.want" "$T/files.got"; then ok "the scan lists every payload with both digests ($(wc -l < "$T/files.got") files)"
else fail "payload list differs"; diff "$T/files.want" "$T/files.got" | head | sed 's/^/     | /'; fi
equals "every file verified" "$(M field "$T/gen" "$T/ws.json" summary.verified)" "$(wc -l < "$T/files.want")"
bad=0
while read -r sha1 sha256; do
  f=$(ls "$T/dl/$sha1".* "$T/dl/$sha1" 2>/dev/null | head -1)
  [ -n "$f" ] && [ "$(sha1sum < "$f" | cut -d' ' -f1)" = "$sha1" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha256" ] || bad=$((bad + 1))
done < "$T/files.want"
equals "downloaded bytes hash to the documents' SHA-1 and SHA-256" "$bad" 0
check "no partial downloads left" test -z "$(find "$T/dl" -name '*.part')"

# 3. The report reached the server and status shows the computer.
CID=$(M field "$T/gen" "$T/ws.json" client_id)
equals "report accepted" "$(M field "$T/gen" "$T/ws.json" report.accepted)" true
"$W" -d "$D" status --json > "$T/status.json"
equals "status counts the scanning computer" "$(json_num "$T/status.json" computers)" 1
# What status derives from the report: the 156 event lists the offered leaves
# as needed, a 162 per update with files makes it downloaded.
read -r NEED DOWN NEV < <(python3 - "$T/ws.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
leaves = [u for u in j['updates'] if u['leaf'] and u['type'] in ('Software', 'Driver') and not u['out_of_scope']]
print(sum(1 for u in leaves if not u['files']), sum(1 for u in j['updates'] if u['files']), j['report']['events'])
PY
)
REP=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["reports"]; print(r["computers_reporting"], r["events"], r["needed"], r["downloaded"], r["failed"], r["last_report"] is not None)' "$T/status.json")
equals "status: 1 computer reporting, every event kept, needed/downloaded as reported, no failure" "$REP" \
  "1 $NEV $NEED $DOWN 0 True"
EV=$(sqlite3 "$D/wsus.db" "SELECT group_concat(DISTINCT event_code) FROM (SELECT event_code FROM event WHERE computer_id = '$CID' ORDER BY event_code)" 2>&1)
equals "the server stored the detection, status and download events (sqlite3)" "$EV" "147,156,162"
N162=$(sqlite3 "$D/wsus.db" "SELECT count(*) FROM event WHERE computer_id = '$CID' AND event_code = 162")
WITHFILES=$(python3 -c 'import json,sys; print(sum(1 for u in json.load(open(sys.argv[1]))["updates"] if u["files"]))' "$T/ws.json")
equals "one download event per update with files" "$N162" "$WITHFILES"
check "the client id is kept in the data directory" grep -qx "$CID" "$T/client/scan-client-id"

# 4. A damaged file and a partial one are repaired on the next run (Range resume).
F1=$(ls "$T/dl" | sed -n 1p); F2=$(ls -S "$T/dl" | sed -n 1p)
printf 'X' | dd of="$T/dl/$F1" bs=1 seek=10 conv=notrunc 2>/dev/null
SZ=$(stat -c %s "$T/dl/$F2"); head -c $((SZ / 2)) "$T/dl/$F2" > "$T/dl/$F2.part"; rm "$T/dl/$F2"
"${S[@]}" --group Workstations --download "$T/dl" --no-report --json > "$T/ws2.json" 2> "$T/ws2.err"
equals "second scan exits 0" $? 0
equals "  every file verified again" "$(M field "$T/gen" "$T/ws2.json" summary.verified)" "$(wc -l < "$T/files.want")"
check "  the damaged file was fetched again" test "$(sha1sum < "$T/dl/$F1" | cut -d' ' -f1)" = "${F1%%.*}"
check "  the partial file was completed" test "$(sha1sum < "$T/dl/$F2" | cut -d' ' -f1)" = "${F2%%.*}"
RECV=$(python3 -c 'import json,sys; print(sum(f["received"] for f in json.load(open(sys.argv[1]))["files"]))' "$T/ws2.json")
F1SZ=$(stat -c %s "$T/dl/$F1")
equals "  only the damaged file and the missing half were transferred" "$RECV" $((F1SZ + SZ - SZ / 2))
equals "  the same client id was used" "$(M field "$T/gen" "$T/ws2.json" client_id)" "$CID"

# 5. Another group, and a client that reports nothing installed.
"${S[@]}" --group Servers --client-id new --no-report --json > "$T/srv.json" 2> "$T/srv.err"
equals "scan of Servers exits 0" $? 0
M expect "$T/gen" "[\"$SRV\"]" "[\"$DECL\"]" all > "$T/srv.want"
M got "$T/gen" "$T/srv.json" > "$T/srv.got"
if cmp -s "$T/srv.want" "$T/srv.got"; then ok "Servers: offered exactly its approval plus closure ($(wc -l < "$T/srv.got"))"
else fail "Servers: offered set differs"; diff "$T/srv.want" "$T/srv.got" | head | sed 's/^/     | /'; fi
"${S[@]}" --group Workstations --installed-nonleaf none --no-report --json > "$T/none.json" 2> "$T/none.err"
equals "scan with nothing installed exits 0" $? 0
M expect "$T/gen" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' $WS)" "[\"$DECL\"]" none > "$T/none.want"
M got "$T/gen" "$T/none.json" > "$T/none.got"
if cmp -s "$T/none.want" "$T/none.got"; then ok "nothing installed: only what has no prerequisites ($(wc -l < "$T/none.got"))"
else fail "nothing-installed set differs"; diff "$T/none.want" "$T/none.got" | head | sed 's/^/     | /'; fi

# 6. The table, and failures: a fault from the server, an untrusted certificate.
"${S[@]}" --group Workstations --no-report > "$T/table" 2>&1
equals "table scan exits 0" $? 0
contains "summary line" "$T/table" "^offered $(wc -l < "$T/ws.want") updates \([0-9]+ software, [0-9]+ bundles, [0-9]+ categories/detectoids, 0 drivers\); [0-9]+ files listed, not downloaded; no report sent$"
contains "table lists an approval with its title" "$T/table" "$DL .* Install .*KB"
"${S[@]}" --group Workstations --dns-name 'not a host!' --no-report > "$T/fault" 2>&1
equals "a server fault exits 1" $? 1
contains "  and names ErrorCode, message and operation" "$T/fault" "fault InternalServerError: dnsName is not a valid host name in GetAuthorizationCookie"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.crt" -days 2 -subj /CN=other \
  > /dev/null 2>&1
env -u https_proxy -u HTTPS_PROXY "$W" -d "$T/client" scan --server "$URL" --ca "$T/other.crt" --no-report > "$T/untrusted" 2>&1
equals "an untrusted server certificate exits 1" $? 1
contains "  and says why" "$T/untrusted" "certificate"
"$W" scan --server "http://127.0.0.1:$PORT" --ca "$CA" > "$T/plain" 2>&1
equals "plain http:// is refused" $? 1
contains "  with the reason" "$T/plain" "only https://"
check "the server is still up" kill -0 "$SRVPID"
e2e_finish
