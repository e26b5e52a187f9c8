#!/usr/bin/env bash
# hier_rollup.sh -- issue 12's reporting rollup on a three-tier chain (as in
# hier_three_tiers.sh: HTTPS, pinned): computers register and report at tier
# 2 (a `scan` client and report_client.py clients with chosen states); after
# tier 2 then tier 1 sync, tier 0's `computer list` shows them with the
# downstream server they came through, and `report updates` counts their
# states as tier 2 does. A second rollup with nothing new sends no computer
# or status operation. Every Reporting answer tier 0 gives (the five rollup
# operations) validates against ReportingWebService-sss.xsd. `computer` and
# `report` outputs (text and JSON) are checked on tier 2, and tier 0's status
# page lists the failing computer with the server it came through.
. "$(dirname "$0")/hier_lib.sh"
RC=(python3 "$(dirname "$0")/report_client.py")
X=$WSUS_SHARED_DIR/spec/wsdl
SD=http://www.microsoft.com/SoftwareDistribution
command -v xmllint > /dev/null || { echo "hier_rollup.sh: needs xmllint"; exit 1; }

"$GEN" --seed 17 --revisions 200 --file-size 64:256 --out "$T/cat" > /dev/null
AP0=$(free_port)
tier t0 "" "[admin]" "listen = 127.0.0.1:$AP0"
tier t1 t0
tier t2 t1
w t0 -q import "$T/cat" > /dev/null
mapfile -t SW < <(awk -F'\t' '$3 == "Software" { print $1 }' "$T/cat/manifest.tsv")
U1=${SW[3]} U2=${SW[4]} U3=${SW[5]}
for u in "$U1" "$U2" "$U3"; do w t0 -q approve "$u" --group "All Computers" --action install > /dev/null; done
serve t0 || { e2e_finish; exit 1; }
check "tier 1 syncs from tier 0" sync_tier t1 r1
serve t1 || { e2e_finish; exit 1; }
check "tier 2 syncs from tier 1" sync_tier t2 r1
serve t2 || { e2e_finish; exit 1; }
ID2=$(q t2 "SELECT server_id FROM server_identity")
ID1=$(q t1 "SELECT server_id FROM server_identity")

# Clients of tier 2.
states() { "${RC[@]}" states "https://127.0.0.1:$PORT_t2" "$T/t2.crt" --prefix "$@"; }
equals "pc-a reports two updates needed" "$(states pc-a --needed "$U1,$U2")" '{"accepted": true}'
equals "pc-b reports one installed, one failed" "$(states pc-b --installed "$U1" --failed "$U2")" '{"accepted": true}'
equals "pc-c reports one downloaded, one installed" "$(states pc-c --downloaded "$U1" --installed "$U3")" '{"accepted": true}'
mkdir -p "$T/client"
env -u https_proxy -u HTTPS_PROXY -u ALL_PROXY "$W" -d "$T/client" scan --server "https://127.0.0.1:$PORT_t2" \
  --ca "$T/t2.crt" --dns-name scanner.lab.test --json > "$T/scan.json" 2> "$T/scan.err"
equals "a scan client of tier 2 scans and reports" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["report"]["accepted"])' "$T/scan.json")" True

# Tier 2's own views (text and JSON).
w t2 -q computer list > "$T/t2.list"
contains "tier 2 lists pc-a with 2 needed" "$T/t2.list" "^pc-a\\.example\\.test +Windows 11 .* +2 +0 +0$"
contains "  pc-b with one failed and one installed" "$T/t2.list" "^pc-b\\.example\\.test .* +0 +1 +1$"
contains "  the scan client" "$T/t2.list" "^scanner\\.lab\\.test "
contains "  4 computers" "$T/t2.list" "^4 computers$"
w t2 -q computer list --json > "$T/t2.list.json"
check "  computer list --json is valid JSON" quiet python3 -m json.tool "$T/t2.list.json"
equals "  --needing: the computers with an update needed or downloaded" \
  "$(w t2 -q computer list --needing --json | python3 -c 'import json,sys; print(" ".join(sorted(c["name"] for c in json.load(sys.stdin)["computers"])))')" \
  "pc-a.example.test pc-c.example.test scanner.lab.test"
equals "  --failed: pc-b only" \
  "$(w t2 -q computer list --failed --json | python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["computers"]))')" \
  "pc-b.example.test"
equals "  --stale 1: the 3 that never synced (the scan client synced just now)" \
  "$(w t2 -q computer list --stale 1 --json | python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["computers"]))')" \
  "pc-a.example.test pc-b.example.test pc-c.example.test"
equals "  --group All Computers: all 4" "$(w t2 -q computer list --group 'All Computers' | tail -1)" "4 computers"
w t2 computer list --group 'No Such Group' > /dev/null 2> "$T/nogroup.err"
contains "  an unknown group is one clear line" "$T/nogroup.err" "^wsus-replica: no group named 'No Such Group'$"
w t2 -q computer show pc-b.example.test > "$T/pcb.txt"
contains "computer show by name: the failed update with its install-failure event" "$T/pcb.txt" \
  "^  failed .* +182 0x80240022  $U2 "
contains "  the installed one" "$T/pcb.txt" "^  installed .* $U1 "
contains "  OS and groups" "$T/pcb.txt" "^os: +Windows 11 AMD64$"
w t2 -q computer show pc-b --json > "$T/pcb.json"
equals "computer show --json by id: states and event" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["computer"]["id"], d["computer"]["updates"]["failed"], sorted((u["state"], (u["last_event"] or {}).get("event_id")) for u in d["updates"]))' "$T/pcb.json")" \
  "pc-b 1 [('failed', 182), ('installed', None)]"
w t2 computer show nobody > /dev/null 2> "$T/nobody.err"
contains "  an unknown computer is one clear line" "$T/nobody.err" "^wsus-replica: no computer with the id or name 'nobody'$"
w t2 -q report updates --json > "$T/t2.updates.json"
equals "report updates --json: U1 needed 1, downloaded 1, installed 1" \
  "$(python3 -c 'import json,sys; u={x["update_id"]: x for x in json.load(open(sys.argv[1]))["updates"]}[sys.argv[2]]; print(u["needed"], u["downloaded"], u["installed"], u["failed"], u["approved"])' "$T/t2.updates.json" "$U1")" \
  "$(python3 -c 'import json,sys; print(1 + (sys.argv[1] in open(sys.argv[2]).read()), 1, 1, 0, True)' "$U1" "$T/scan.json")"
equals "  U2: failed 1, unknown = the computers with no state for it" \
  "$(python3 -c 'import json,sys; u={x["update_id"]: x for x in json.load(open(sys.argv[1]))["updates"]}[sys.argv[2]]; print(u["failed"], u["unknown"] + u["needed"] + u["failed"] + u["installed"] + u["downloaded"] + u["not_applicable"] + u["installed_pending_reboot"])' "$T/t2.updates.json" "$U2")" \
  "1 4"
w t2 -q report updates --failed > "$T/t2.failed"
contains "report updates --failed: U2 only" "$T/t2.failed" "^$U2 +[0-9]+ +0 +0 +0 +1 +0 +[0-9]+  approved "
contains "  1 update" "$T/t2.failed" "^1 updates$"
w t2 -q report summary --json > "$T/t2.summary.json"
equals "report summary --json: 4 computers, 3 needing, 1 with errors" \
  "$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["computers"]; print(c["total"], c["registered_here"], c["needing_updates"], c["with_errors"], c["not_reported"])' "$T/t2.summary.json")" \
  "4 4 3 1 0"
w t2 -q report summary > "$T/t2.summary"
contains "report summary (text)" "$T/t2.summary" "^  with errors: +1$"

# Round 1 of the rollup: tier 2 to tier 1, then tier 1 to tier 0.
check "tier 2 syncs (and rolls up)" sync_tier t2 r2
contains "  its rollup sent 4 computers with details and their statuses" "$T/t2.r2.err" \
  "phase=rollup servers=1 detailed=yes reset=no computers=4 details=4 .* statuses=4 "
check "tier 1 syncs (and rolls up)" sync_tier t1 r2
contains "  its rollup forwarded them" "$T/t1.r2.err" "phase=rollup servers=2 detailed=yes reset=no computers=4 details=4 "
w t0 -q computer list --json > "$T/t0.list.json"
equals "tier 0 lists the 4 computers, each via tier 2" \
  "$(python3 -c 'import json,sys; cs=json.load(open(sys.argv[1]))["computers"]; print(len(cs), " ".join(sorted({c["downstream_server"]["id"] for c in cs})))' "$T/t0.list.json")" \
  "4 $ID2"
w t0 -q computer list > "$T/t0.list"
VIA2=$(q t0 "SELECT coalesce(nullif(fqdn, ''), server_id) FROM dss WHERE server_id = '$ID2'")
contains "  the text view names the server they came through ($VIA2)" "$T/t0.list" "^pc-b\\.example\\.test .* $VIA2 "
w t0 -q report updates --json > "$T/t0.updates.json"
equals "tier 0's report updates counts the states as tier 2's does" \
  "$(python3 -c 'import json,sys; print(sorted((u["update_id"], u["needed"], u["downloaded"], u["installed"], u["failed"], u["unknown"]) for u in json.load(open(sys.argv[1]))["updates"]))' "$T/t0.updates.json" | md5sum)" \
  "$(python3 -c 'import json,sys; print(sorted((u["update_id"], u["needed"], u["downloaded"], u["installed"], u["failed"], u["unknown"]) for u in json.load(open(sys.argv[1]))["updates"]))' "$T/t2.updates.json" | md5sum)"
equals "  tier 0's summary: 4 computers via downstream, 1 with errors" \
  "$(w t0 -q report summary --json | python3 -c 'import json,sys; d=json.load(sys.stdin); c=d["computers"]; print(c["total"], c["via_downstream"], c["with_errors"], d["downstream_servers"])')" \
  "4 4 1 2"
equals "  tier 2's summary counts reached tier 0 (via tier 1)" \
  "$(q t0 "SELECT json_extract(summary, '\$.ComputerTargetCount') || ' ' || json_extract(summary, '\$.ComputerTargetsWithUpdateErrorsCount') FROM dss WHERE server_id = '$ID2'")" \
  "4 1"
curl -sS --max-time 10 -o "$T/t0.page" "http://127.0.0.1:$AP0/"
contains "tier 0's status page lists pc-b among the computers with errors, via tier 2" "$T/t0.page" \
  "<tr><td>pc-b\\.example\\.test</td><td>$VIA2</td><td>[0-9T:.Z-]+</td><td>0</td><td>1</td></tr>"
contains "  and 3 computers needing updates" "$T/t0.page" "^<p>3 computers</p>"

# Round 2: nothing new, nothing sent but the server records.
check "tier 2 syncs again" sync_tier t2 r3
contains "  its rollup sends no computer or status" "$T/t2.r3.err" \
  "phase=rollup servers=1 detailed=yes reset=no computers=0 details=0 out_of_sync_calls=0 out_of_sync=0 statuses=0 status_items=0 calls=1"
check "tier 1 syncs again" sync_tier t1 r3
contains "  neither does tier 1's" "$T/t1.r3.err" "phase=rollup servers=2 .* computers=0 .* statuses=0 status_items=0 calls=1"
# A change travels as a delta.
equals "pc-a installs U1" "$(states pc-a --installed "$U1" --needed "$U2")" '{"accepted": true}'
check "tier 2 syncs" sync_tier t2 r4
contains "  its rollup sends pc-a only, after an out-of-sync check, without details" "$T/t2.r4.err" \
  "computers=1 details=0 out_of_sync_calls=1 out_of_sync=0 statuses=1 status_items=1 "
check "tier 1 syncs" sync_tier t1 r4
equals "  tier 0 has pc-a's U1 installed" \
  "$(q t0 "SELECT status FROM update_status WHERE computer_id = 'pc-a' AND update_id = '$U1'")" 4

# The answers of tier 0's Reporting service against the XSD.
N=0
soap() {
  N=$((N + 1)); R=$T/resp$N
  printf '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>%s</soap:Body></soap:Envelope>' "$1" > "$T/req$N"
  CODE=$(curl -sS --cacert "$T/t0.crt" --max-time 30 -o "$R" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' \
    --data-binary @"$T/req$N" "https://127.0.0.1:$PORT_t0/ReportingWebService/ReportingWebService.asmx")
}
valid() {
  if [ "$CODE" != 200 ]; then fail "$1 (HTTP $CODE)"; head -c 600 "$R" | sed 's/^/     | /'; echo; return; fi
  xmllint --xpath '/*[local-name()="Envelope"]/*[local-name()="Body"]/*' "$R" > "$R.payload" 2>/dev/null
  if xmllint --noout --schema "$X/ReportingWebService-sss.xsd" "$R.payload" > "$R.xsd" 2>&1; then ok "$1"
  else fail "$1 (not valid)"; head -5 "$R.xsd" | sed 's/^/     | /'; fi
}
CK='<cookie><Expiration>9999-12-31T23:59:59.9999999</Expiration><EncryptedData></EncryptedData></cookie>'
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
soap "<GetRollupConfiguration xmlns=\"$SD\">$CK</GetRollupConfiguration>"
valid "GetRollupConfiguration answer validates"
soap "<RollupDownstreamServers xmlns=\"$SD\">$CK<clientTime>$NOW</clientTime><downstreamServers /></RollupDownstreamServers>"
valid "RollupDownstreamServers answer validates"
soap "<RollupComputers xmlns=\"$SD\">$CK<clientTime>$NOW</clientTime><computers><ComputerRollupInfo ComputerId=\"pc-x\" LastSyncTime=\"$NOW\" LastSyncResult=\"1\" LastReportedRebootTime=\"1753-01-01T00:00:00Z\" LastReportedStatusTime=\"$NOW\" LastInventoryTime=\"1753-01-01T00:00:00Z\" ParentServerId=\"$ID1\" /></computers></RollupComputers>"
valid "RollupComputers answer (with a ChangedComputer) validates"
contains "  it asks for the new computer's Details (NewParent)" "$R" 'Change="NewParent"'
soap "<GetOutOfSyncComputers xmlns=\"$SD\">$CK<parentServerId>$ID1</parentServerId><lastRollupNumbers><ComputerLastRollupNumber><ComputerId>pc-a</ComputerId><RollupNumber>99</RollupNumber></ComputerLastRollupNumber></lastRollupNumbers></GetOutOfSyncComputers>"
valid "GetOutOfSyncComputers answer validates"
contains "  it names pc-a (rollup number 99 is not the one it has)" "$R" "<string>pc-a</string>"
soap "<RollupComputerStatus xmlns=\"$SD\">$CK<clientTime>$NOW</clientTime><parentServerId>$ID1</parentServerId><computers /></RollupComputerStatus>"
valid "RollupComputerStatus answer validates"

check "tier 2 stops cleanly (SIGTERM)" stop t2
check "tier 1 stops cleanly (SIGTERM)" stop t1
check "tier 0 stops cleanly (SIGTERM)" stop t0
e2e_finish
