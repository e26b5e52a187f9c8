#!/usr/bin/env bash
# hier_provenance.sh -- provenance through the hierarchy (issue 9.1): tier 0
# imports, tier 1 syncs from it, tier 2 from tier 1. Tier 2 records the
# original provenance (the import at tier 0), then each tier it passed with
# the certificate that delivered it; `catalog show` and `status` display it;
# `verify --metadata` re-checks every stored document against the digest
# recorded when it was synced, and finds a document edited in the database.
. "$(dirname "$0")/hier_lib.sh"

"$GEN" --seed 11 --revisions 40 --out "$T/cat" > /dev/null
tier t0
tier t1 t0
tier t2 t1
w t0 -q import "$T/cat" > /dev/null
serve t0 || { e2e_finish; exit 1; }
sync_tier t1 first; equals "tier 1 syncs from tier 0" $? 0
serve t1 || { e2e_finish; exit 1; }
sync_tier t2 first; equals "tier 2 syncs from tier 1" $? 0
same documents t0 t2

T0ID=$(w t0 status --json | grep -o '"server_id": "[^"]*"' | cut -d'"' -f4)
uid=$(awk -F'\t' 'NR > 1 && $4 == "leaf" { print $1; exit }' "$T/cat/manifest.tsv")
w t2 catalog show "$uid" > "$T/show2" 2>&1
contains "tier 2: origin is tier 0's import" "$T/show2" "^provenance: +\\[0\\] local import at server $T0ID  20"
contains "tier 2: then tier 0 with its certificate" "$T/show2" "^ +\\[1\\] https://127.0.0.1:$PORT_t0 \\(certificate sha256 $(fp "$T/t0.crt")\\)  20"
contains "tier 2: then tier 1 with its certificate" "$T/show2" "^ +\\[2\\] https://127.0.0.1:$PORT_t1 \\(certificate sha256 $(fp "$T/t1.crt")\\)  20"
lacks "tier 2: no fourth tier" "$T/show2" "\\[3\\]"
contains "tier 2: origin line still names the direct upstream" "$T/show2" "^origin: +https://127.0.0.1:$PORT_t1"
w t1 catalog show "$uid" > "$T/show1" 2>&1
contains "tier 1: origin is tier 0's import" "$T/show1" "^provenance: +\\[0\\] local import at server $T0ID"
lacks "tier 1: two tiers only" "$T/show1" "\\[2\\]"
w t2 status > "$T/status2" 2>&1
contains "tier 2 status: every revision comes from tier 0's import, through 3 tiers" "$T/status2" \
  "^  local import at server $T0ID: 40 revisions, through up to 3 tiers"
w t2 status --json > "$T/status2.json" 2>&1
contains "tier 2 status --json: origins" "$T/status2.json" "\"origin\": \"local import at server $T0ID\", \"revisions\": 40, \"tiers\": 3"
check "tier 2 status --json is valid JSON" python3 -m json.tool "$T/status2.json" > /dev/null

# verify --metadata: clean after the sync, then a document edited in place
w t2 verify --metadata > "$T/vm.out" 2>&1; rc=$?
equals "verify --metadata exits 0 on the synced catalogue" "$rc" 0
contains "  and counts every document" "$T/vm.out" "verified 40 update documents: 40 match"
q t2 "UPDATE revision SET xml = CAST(replace(CAST(xml AS TEXT), 'Arguments=\"', 'Arguments=\"/evil ') AS BLOB)
      WHERE update_id = (SELECT update_id FROM revision WHERE CAST(xml AS TEXT) LIKE '%Arguments=%' LIMIT 1)"
w t2 verify --metadata > "$T/vm2.out" 2>&1; rc=$?
check "verify --metadata exits non-zero after a document was edited" test "$rc" -ne 0
contains "  and names it" "$T/vm2.out" "^MISMATCH [0-9a-f-]{36}/[0-9]+: SHA-1 differs"
contains "  and counts it" "$T/vm2.out" "39 match their recorded digests, 1 differ"

check "tier 1 stops cleanly (SIGTERM)" stop t1
check "tier 0 stops cleanly (SIGTERM)" stop t0
e2e_finish
