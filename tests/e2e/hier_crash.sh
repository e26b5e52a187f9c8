#!/usr/bin/env bash
# hier_crash.sh -- crash safety of a large sync: tier 1's `sync` of a 3,000
# revision catalogue is killed with SIGKILL while it fetches updates, again
# after resuming, as publishing starts, and while it fetches content. After
# each kill the database passes PRAGMA integrity_check and `status` shows
# either the old catalogue (nothing) or the new one whole, never a part; a
# restart resumes from what was staged; the last sync converges to tier 0.
. "$(dirname "$0")/hier_lib.sh"

N=3000
"$GEN" --seed 21 --revisions $N --file-size 1024:4096 --out "$T/cat" > /dev/null
tier t0
tier t1 t0
w t0 -q import "$T/cat" > /dev/null
w t0 -q group add "Ring 1" > /dev/null
mapfile -t SW < <(awk -F'\t' '$3 == "Software" { print $1 }' "$T/cat/manifest.tsv")
for i in 3 4 5 6; do w t0 -q approve "${SW[$i]}" --group "Ring 1" --action install > /dev/null; done
serve t0 || { e2e_finish; exit 1; }

staged()    { sqlite3 -cmd ".timeout 3000" "$T/t1.d/wsus.db" "SELECT count(*) FROM sync_stage" 2>/dev/null || echo 0; }
payloads()  { find "$T/t1.d/content" -path '*/.tmp' -prune -o -type f -print 2>/dev/null | wc -l; }
revisions() { w t1 status --json > "$T/status.json" 2>/dev/null; json_num "$T/status.json" revisions; }

# crash TAG CONDITION...: run `sync`, SIGKILL it once CONDITION holds (polled),
# then check the database. Sets KILLED=1 if it was still running.
crash() {
  local tag=$1 pid i
  shift
  # the binary itself, not a shell function: its pid is the one to kill
  "$W" -v -c "$T/t1.conf" sync > "$T/t1.$tag.out" 2> "$T/t1.$tag.err" &
  pid=$!
  KILLED=0
  for i in $(seq 3000); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if "$@"; then kill -9 "$pid" 2>/dev/null && KILLED=1; break; fi
    sleep 0.02
  done
  wait "$pid" 2>/dev/null
  check "$tag: the sync was killed at its point" test "$KILLED" = 1
  equals "$tag: PRAGMA integrity_check" "$(sqlite3 "$T/t1.d/wsus.db" 'PRAGMA integrity_check')" ok
  REVS=$(revisions)
  if [ "$REVS" = 0 ] || [ "$REVS" = "$N" ]; then ok "$tag: the catalogue is the old or the new one whole ($REVS revisions)"
  else fail "$tag: a partial catalogue is visible ($REVS revisions)"; fi
}

cond_staged() { [ "$(staged)" -ge "$1" ]; }
cond_log()    { grep -q "$1" "$T/t1.$2.err"; }
cond_files()  { [ "$(payloads)" -ge "$1" ]; }

crash k1 cond_staged 300
equals "k1: killed during the updates, nothing was published" "$REVS" 0
S1=$(staged)
check "k1: what was fetched stays staged ($S1 documents)" test "$S1" -ge 300

crash k2 cond_staged $((S1 + 600))
contains "k2: the restart resumed from the staging" "$T/t1.k2.err" "resuming: $S1 documents staged by an interrupted sync"
equals "k2: killed during the updates again, nothing published" "$REVS" 0
S2=$(staged)
check "k2: and only went on fetching ($S2 staged)" test "$S2" -gt "$S1"

crash k3 cond_log "phase=deployments" k3
K3_REVS=$REVS
contains "k3: this run fetched only what was not staged" "$T/t1.k3.err" "phase=updates listed=[0-9]+ fetched=[0-9]+ resumed=[1-9][0-9]*"

crash k4 cond_files 400
equals "k4: killed during content, the metadata is all there" "$REVS" "$N"
check "k4: and is served with part of the payloads" test "$(payloads)" -lt "$(snap_content t0 | wc -l)"

check "the last sync completes" sync_tier t1 final
contains "  it fetched only the missing payloads" "$T/t1.final.err" "phase=content wanted=[0-9]+ fetched=[0-9]+ quarantined=0 deferred=0 failed=0"
equals "the database is intact" "$(sqlite3 "$T/t1.d/wsus.db" 'PRAGMA integrity_check')" ok
for what in catalog documents fragments groups deployments content; do
  same "$what" t0 t1
done
check "every payload verifies" quiet w t1 -q verify
echo "(k3 found $K3_REVS revisions after the kill at the start of publishing)"
check "tier 0 stops cleanly (SIGTERM)" stop t0
e2e_finish
