#!/usr/bin/env bash
# hier_three_tiers.sh -- issue 4's hierarchy: tier 0 (a generated catalogue,
# two groups, approvals of several kinds, a decline) <- tier 1 replica <-
# tier 2 replica, every link HTTPS with pinning enforced (each tier pins the
# certificate of the one above, which is also its only CA). After `sync` on
# tier 1 then tier 2, tier 2's catalogue, documents, fragments, groups,
# deployments, declines and verified content equal tier 0's. An approval and
# new revisions added at tier 0 then reach tier 2, and the revision lists
# carry only the delta. Then tier 2's own schedule (serve) picks up a
# decline, and a second sync beside a running one is refused.
. "$(dirname "$0")/hier_lib.sh"

"$GEN" --seed 11 --revisions 300 --file-size 64:512 --out "$T/cat1" > /dev/null
"$GEN" --seed 11 --revisions 300 --file-size 64:512 --revise 3 --out "$T/cat2" > /dev/null
tier t0
tier t1 t0
tier t2 t1 "[sync]" "interval = 10" "jitter = 0"

# Tier 0: the root, filled by hand.
w t0 -q import "$T/cat1" > /dev/null
w t0 -q group add "Group A" > /dev/null
w t0 -q group add "Group B" --parent "Group A" > /dev/null
mapfile -t SW < <(awk -F'\t' '$3 == "Software" { print $1 }' "$T/cat1/manifest.tsv")
w t0 -q approve "${SW[10]}" --group "Group A" --action install --deadline 2030-01-01T00:00:00.000Z > /dev/null
w t0 -q approve "${SW[11]}" --group "Group B" --action install > /dev/null
w t0 -q approve "${SW[12]}" --group "Group A" --action block > /dev/null
w t0 -q approve "${SW[13]}" --group "All Computers" --action evaluate > /dev/null
w t0 -q approve "${SW[11]}" --group "Group A" --action uninstall > /dev/null
w t0 -q decline "${SW[14]}" > /dev/null
check "tier 0 has 5 live deployments" test "$(q t0 'SELECT count(*) FROM deployment WHERE dead = 0')" = 5
serve t0 || { e2e_finish; exit 1; }

# Round 1: tier 1 from tier 0, tier 2 from tier 1.
check "tier 1 syncs from tier 0" sync_tier t1 r1
contains "  with the pinned certificate matched" "$T/t1.r1.err" "pinned certificate in store: yes, matched \"CN=t0\""
contains "  a full first list" "$T/t1.r1.err" "phase=updates listed=[0-9]+ fetched=[0-9]+ resumed=0 batches=[0-9]+ delta=no"
serve t1 || { e2e_finish; exit 1; }
check "tier 2 syncs from tier 1" sync_tier t2 r1
contains "  pinned to tier 1" "$T/t2.r1.err" "pinned certificate in store: yes, matched \"CN=t1\""
for what in catalog documents fragments groups deployments declined content; do
  same "$what" t0 t2
done
equals "tier 2's deadline is tier 0's" "$(q t2 "SELECT deadline FROM deployment WHERE update_id = '${SW[10]}' AND dead = 0")" \
  "2030-01-01T00:00:00.000Z"
check "tier 2's payloads all verify" quiet w t2 -q verify
contains "  every one of them" "$T/t2.r1.out" "content: ([0-9]+) of \\1 payloads fetched, 0 quarantined, 0 deferred, 0 failed"
equals "tier 2's revisions record tier 1 and its certificate" \
  "$(q t2 'SELECT DISTINCT origin_upstream || " " || origin_cert_sha256 FROM revision')" \
  "https://127.0.0.1:$PORT_t1 $(fp "$T/t1.crt")"
equals "tier 2's deployments record them too" \
  "$(q t2 'SELECT DISTINCT origin_upstream || " " || origin_cert_sha256 FROM deployment WHERE dead = 0')" \
  "https://127.0.0.1:$PORT_t1 $(fp "$T/t1.crt")"
w t2 -q status > "$T/t2.status" 2>&1
contains "tier 2's status shows its provenance per upstream" "$T/t2.status" \
  "^  https://127.0.0.1:$PORT_t1 certificate sha256 $(fp "$T/t1.crt"): [1-9][0-9]* revisions, [1-9][0-9]* deployments"
contains "tier 2's status shows the last sync and its pin verdict" "$T/t2.status" "^last sync: .* from https://127.0.0.1:$PORT_t1 .*pin"
w t2 -q status --json > "$T/t2.status.json" 2>&1
check "tier 2's status --json is valid JSON" quiet python3 -m json.tool "$T/t2.status.json"
contains "  and lists the provenance" "$T/t2.status.json" "\"upstream\": \"https://127.0.0.1:$PORT_t1\", \"cert_sha256\": \"$(fp "$T/t1.crt")\""
equals "the update anchor is kept exactly as tier 1 sent it" \
  "$(q t2 "SELECT value FROM state WHERE key = 'sync.anchor.updates'")" \
  "$(grep -o 'phase=updates.*anchor="[^"]*"' "$T/t2.r1.err" | sed 's/.*anchor="\(.*\)"/\1/')"
contains "tier 1 reported tier 2 in its rollup" "$T/t1.serve.err" "downstream servers rolled up count=1"
check "nothing is left staged" test "$(q t2 'SELECT count(*) FROM sync_stage')" = 0

# Round 2: new revisions and an approval at tier 0 travel down as a delta.
w t0 -q import "$T/cat2" > /dev/null
w t0 -q approve "${SW[20]}" --group "Group B" --action install > /dev/null
check "tier 1 syncs again" sync_tier t1 r2
contains "  the categories list is empty" "$T/t1.r2.err" "phase=categories listed=0 fetched=0 resumed=0 batches=0 delta=yes"
contains "  the updates list holds only the 3 new revisions" "$T/t1.r2.err" "phase=updates listed=3 fetched=3 resumed=0 batches=1 delta=yes"
contains "  tier 0 answered tier 1 with the delta" "$T/t0.serve.err" "revision list .* config=0 since=[1-9][0-9]* .* count=3"
check "tier 2 syncs again" sync_tier t2 r2
contains "  the same delta reaches tier 2" "$T/t2.r2.err" "phase=updates listed=3 fetched=3 resumed=0 batches=1 delta=yes"
contains "  tier 1 answered tier 2 with the delta" "$T/t1.serve.err" "revision list .* config=0 since=[1-9][0-9]* .* count=3"
contains "  with the new approval" "$T/t2.r2.out" "deployments: 1 added or changed, 0 retired"
for what in catalog documents fragments groups deployments declined content; do
  same "$what" t0 t2
done
check "tier 2's payloads still verify" quiet w t2 -q verify

# Round 3: tier 2 serving, its schedule (interval 10 s) picks up a decline.
w t0 -q decline "${SW[10]}" > /dev/null
check "tier 1 takes the decline" sync_tier t1 r3
serve t2 || { e2e_finish; exit 1; }
for _ in $(seq 150); do grep -q "sync done" "$T/t2.serve.err" && break; sleep 0.1; done
contains "tier 2's scheduled sync ran" "$T/t2.serve.err" "info sync sync done upstream=https://127.0.0.1:$PORT_t1"
contains "  it was scheduled from the last sync" "$T/t2.serve.err" "next scheduled sync in=[0-9]+s"
same declined t0 t2
same deployments t0 t2
contains "  and the declined update's deployment is retired" "$T/t2.serve.err" "phase=publish .* dead=1"

# One sync at a time per data directory.
flock "$T/t1.d/sync.lock" sleep 3 &
LOCKER=$!
E2E_PIDS+=("$LOCKER")
sleep 0.3
if sync_tier t1 busy; then fail "a sync beside a running one was not refused"; else ok "a sync beside a running one is refused"; fi
contains "  saying why" "$T/t1.busy.err" "another sync of .*t1.d is running"
wait "$LOCKER" 2>/dev/null
check "tier 2 stops cleanly (SIGTERM)" stop t2
check "tier 1 stops cleanly (SIGTERM)" stop t1
check "tier 0 stops cleanly (SIGTERM)" stop t0
e2e_finish
