#!/usr/bin/env bash
# hier_tamper.sh -- an upstream that serves altered bytes for one payload:
# tier 0's content file is overwritten in place after import (tier 0's
# server reads the file as it is, so it serves the wrong bytes). Tier 1's
# sync quarantines that payload, reports it (log, stderr, status), never
# serves it (404 on its /Content), and completes everything else: every
# revision and every other payload is there and verifies. Beside it, a
# payload tier 0 lacks (404: tier 1 asks for it with DownloadFiles and
# leaves it for the next sync), and a download an earlier run left half
# done (resumed with a Range request, then verified like any other).
. "$(dirname "$0")/hier_lib.sh"

"$GEN" --seed 9 --revisions 120 --file-size 256:2048 --out "$T/cat" > /dev/null
tier t0
tier t1 t0
w t0 -q import "$T/cat" > /dev/null
VICTIM=$(cd "$T/t0.d/content" && find . -type f -name '*.*' -path './[0-9a-f][0-9a-f]/*' | sort | head -1)
VICTIM=${VICTIM#./}
SHA1=$(basename "$VICTIM"); SHA1=${SHA1%%.*}
SIZE=$(stat -c %s "$T/t0.d/content/$VICTIM")
# Same size, other bytes: only the digests can tell.
python3 -c 'import sys; open(sys.argv[1], "r+b").write(bytes((i * 31 + 7) % 256 for i in range(int(sys.argv[2]))))' \
  "$T/t0.d/content/$VICTIM" "$SIZE"
check "tier 0's copy of $VICTIM no longer matches its name" test "$(sha1sum "$T/t0.d/content/$VICTIM" | cut -c1-40)" != "$SHA1"
TOTAL=$(find "$T/t0.d/content" -path '*/.tmp' -prune -o -type f -print | wc -l)
# A payload tier 0 does not have: its store entry removed.
GONE=$(cd "$T/t0.d/content" && find . -type f -path './[0-9a-f][0-9a-f]/*' | sort | sed -n 2p)
GONE=${GONE#./}; GONE_SHA1=$(basename "$GONE"); GONE_SHA1=${GONE_SHA1%%.*}
rm "$T/t0.d/content/$GONE"
# A download an interrupted run left half done in tier 1's partial/.
HALF=$(cd "$T/t0.d/content" && find . -type f -path './[0-9a-f][0-9a-f]/*' -size +1k | sort | sed -n 3p)
HALF=${HALF#./}; HALF_SHA1=$(basename "$HALF"); HALF_SHA1=${HALF_SHA1%%.*}
HALF_SIZE=$(stat -c %s "$T/t0.d/content/$HALF")
mkdir -p "$T/t1.d/partial"
head -c $((HALF_SIZE / 2)) "$T/t0.d/content/$HALF" > "$T/t1.d/partial/$HALF_SHA1.part"
SERVE_FLAGS=-v serve t0 || { e2e_finish; exit 1; }

check "tier 1's sync completes" sync_tier t1 r1
contains "  the log names the quarantined payload" "$T/t1.r1.err" "warn sync payload from the upstream failed verification, quarantined, not served sha1=$SHA1"
contains "  the store says which digest failed" "$T/t1.r1.err" "payload quarantined sha1=$SHA1 reason=\"SHA-1: expected $SHA1"
contains "  the command reports it" "$T/t1.r1.err" "^wsus-replica: 1 payloads from the upstream failed verification and were quarantined"
contains "  the summary counts it and the one tier 0 lacks" "$T/t1.r1.out" \
  "content: $((TOTAL - 2)) of $TOTAL payloads fetched, 1 quarantined, 1 deferred, 0 failed"
contains "the missing payload was asked for with DownloadFiles" "$T/t0.serve.err" \
  "debug sss DownloadFiles server_id=.* digests=1 "
contains "the half-done download was resumed where it stopped" "$T/t0.serve.err" \
  "content status=206 ranges=1 size=$HALF_SIZE path=/Content/[0-9A-F]{2}/${HALF_SHA1^^}"
check "  and completed, verified" test "$(sha1sum "$T/t1.d/content/$HALF" | cut -c1-40)" = "$HALF_SHA1"
check "  leaving no partial file" test ! -e "$T/t1.d/partial/$HALF_SHA1.part"
w t1 status --json > "$T/status.json"
equals "status counts 1 quarantined payload" "$(json_num "$T/status.json" quarantined)" 1
equals "status counts the others present" "$(json_num "$T/status.json" present)" "$((TOTAL - 2))"
equals "and 1 missing" "$(json_num "$T/status.json" missing)" 1
check "the bad bytes are not under tier 1's content/" test ! -e "$T/t1.d/content/$VICTIM"
check "they are kept in tier 1's quarantine/" test "$(ls "$T/t1.d/quarantine" | grep -c "^$SHA1")" -ge 1
same catalog t0 t1
same documents t0 t1
equals "every other payload is stored" "$(snap_content t1 | wc -l)" "$((TOTAL - 2))"
w t1 -q verify > "$T/verify.out" 2>&1
check "and verifies" grep -q "verified $((TOTAL - 2)) payloads: $((TOTAL - 2)) good, 0 corrupt, 0 lost" "$T/verify.out"

serve t1 || { e2e_finish; exit 1; }
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/t1.crt" "https://127.0.0.1:$PORT_t1/Content/$VICTIM")
equals "tier 1 answers 404 for the quarantined payload" "$CODE" 404
GOOD=$(snap_content t1 | head -1); GOOD=${GOOD#./}
CODE=$(curl -s -o "$T/good.bin" -w '%{http_code}' --cacert "$T/t1.crt" "https://127.0.0.1:$PORT_t1/Content/$GOOD")
equals "and serves a good one" "$CODE" 200
check "  whose bytes match its name" test "$(sha1sum "$T/good.bin" | cut -c1-40)" = "$(basename "$GOOD" | cut -d. -f1)"

# The next sync does not fetch the bad payload again right away (a day
# later it does); the missing one it tries again, and gets once tier 0 has it.
cp "$T/cat/content/$GONE_SHA1".* "$T/t0.d/content/$GONE"
check "the next sync completes" sync_tier t1 r2
contains "  fetching only the payload tier 0 now has" "$T/t1.r2.err" "phase=content wanted=1 fetched=1 quarantined=0 deferred=0 failed=0"
check "  which verifies" test "$(sha1sum "$T/t1.d/content/$GONE" | cut -c1-40)" = "$GONE_SHA1"
check "tier 1 stops cleanly (SIGTERM)" stop t1
check "tier 0 stops cleanly (SIGTERM)" stop t0
e2e_finish
