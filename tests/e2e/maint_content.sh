#!/usr/bin/env bash
# maint_content.sh -- the content store kept whole over a slow WAN. Tier 0 (a
# generated catalogue with payloads) <- replicas on loopback:
#  1. t1 with a [sync] window that is closed now: the metadata syncs, no
#     payload is fetched, and sync says when the window opens.
#  2. t2 serving with max_download_rate and progress_interval = 1: its first
#     scheduled sync fetches every payload in no less than size/rate (within
#     20%) and not much more, and the serve log shows progress lines.
#  3. verify on t2 after a payload was corrupted on disk: read-only (the
#     database bytes do not change), lists it and fails; verify --repair
#     quarantines it and fetches it again at once, and t2 serves the good
#     bytes; `reset` then finds everything in order.
#  4. a payload quarantined on arrival is fetched by the next sync once its
#     quarantine file was deleted (not before: status says 1 quarantined).
#  5. verify -d on a missing data dir fails with one line and creates nothing.
. "$(dirname "$0")/hier_lib.sh"
export TZ=UTC

"$GEN" --seed 5 --revisions 30 --file-size 4096:8192 --out "$T/cat" > /dev/null
H=$(date -u +%H); H=$((10#$H))
CLOSED=$(printf '%02d:00-%02d:00' $(((H + 2) % 24)) $(((H + 3) % 24)))
tier t0
tier t1 t0 "[sync]" "window = $CLOSED"
w t0 -q import "$T/cat" > /dev/null
SIZE=$(q t0 "SELECT sum(size) FROM file")
FILES=$(q t0 "SELECT count(*) FROM file")
RATE=$((SIZE / 3))     # about three seconds of payloads
tier t2 t1 "[sync]" "interval = 3600" "jitter = 0" "max_download_rate = $RATE" "progress_interval = 1"
serve t0 || { e2e_finish; exit 1; }

# 1. Outside the window: metadata only.
check "t1 syncs outside its window" sync_tier t1 r1
contains "  and says the content waits for the window" "$T/t1.r1.out" "content: the rest waits for \[sync\] window $CLOSED \(opens in [0-9]+s\)"
contains "  the log says the content phase was deferred" "$T/t1.r1.err" "phase=content deferred: outside \[sync\] window $CLOSED"
equals "  the catalogue arrived" "$(q t1 'SELECT count(*) FROM revision')" "$(q t0 'SELECT count(*) FROM revision')"
equals "  no payload was fetched" "$(q t1 "SELECT count(*) FROM file WHERE state = 'present'")" 0
equals "  nothing is in t1's content store" "$(find "$T/t1.d" -path '*/content/*' -type f ! -path '*/.tmp/*' | wc -l)" 0

# 2. Rate-limited content inside serve, with progress lines. t2 syncs from
# t1, which needs the payloads first: without a window, unthrottled.
sed -i "s/^window = .*/window =/" "$T/t1.conf"
check "t1 fetches its payloads once the window is open" sync_tier t1 r2
equals "  all of them" "$(q t1 "SELECT count(*) FROM file WHERE state = 'present'")" "$FILES"
echo "     unthrottled content phase: $(grep -o 'phase=content wanted=.*seconds=[0-9.]*' "$T/t1.r2.err" | sed 's/.*seconds=//')s"
serve t1 || { e2e_finish; exit 1; }
SERVE_FLAGS=-v serve t2 || { e2e_finish; exit 1; }
for i in $(seq 300); do
  grep -q 'sync done' "$T/t2.serve.err" && break
  sleep 0.1
done
contains "t2's scheduled sync finished" "$T/t2.serve.err" "sync done"
SECS=$(grep -o 'phase=content wanted=[0-9]* fetched=[0-9]* .* seconds=[0-9.]*' "$T/t2.serve.err" | tail -1 | sed 's/.*seconds=//')
WANT=$(python3 -c "print(round($SIZE / $RATE, 2))")
echo "     content phase: $SIZE bytes at $RATE bytes/s took ${SECS}s (size/rate ${WANT}s)"
check "  it took at least size/rate (within 20%)" python3 -c "import sys; sys.exit(0 if $SECS >= 0.8 * $WANT else 1)"
check "  and not much more (at most 1.2 x size/rate + 1 s)" python3 -c "import sys; sys.exit(0 if $SECS <= 1.2 * $WANT + 1 else 1)"
contains "  every payload arrived" "$T/t2.serve.err" "phase=content wanted=$FILES fetched=$FILES "
N=$(grep -c 'content progress files=' "$T/t2.serve.err")
check "  the serve log has progress lines during the content phase ($N)" test "$N" -ge 3
contains "  with files, bytes, rate and ETA" "$T/t2.serve.err" "content progress files=[0-9]+/$FILES bytes=[0-9]+/$SIZE rate=[0-9]+B/s eta=[0-9]+s"
stop t2

# 3. verify, verify --repair, reset on t2.
VICTIM=$(snap_content t2 | head -1); VICTIM=${VICTIM#./}
printf 'XX' | dd of="$T/t2.d/content/$VICTIM" bs=1 seek=10 conv=notrunc 2> /dev/null
SUM=$(md5sum < "$T/t2.d/wsus.db")
w t2 verify > "$T/v1.out" 2> "$T/v1.err"; rc=$?
check "verify fails on a corrupt payload" test "$rc" -eq 1
contains "  and names it" "$T/v1.out" "^CORRUPT [0-9a-f]{40} .*$VICTIM: SHA-1: expected"
contains "  and counts it" "$T/v1.out" "verified $FILES payloads: $((FILES - 1)) good, 1 corrupt, 0 lost"
equals "  the database bytes are unchanged" "$(md5sum < "$T/t2.d/wsus.db")" "$SUM"
check "  the corrupt file is left where it was" test -e "$T/t2.d/content/$VICTIM"
w t2 verify --repair > "$T/v2.out" 2> "$T/v2.err"; rc=$?
equals "verify --repair succeeds" "$rc" 0
contains "  it quarantined the payload" "$T/v2.out" "verified $FILES payloads: $((FILES - 1)) good, 1 quarantined, 0 lost"
contains "  and fetched it again" "$T/v2.out" "fetched again from https://127.0.0.1:$PORT_t1: 1 of 1 payloads"
check "  the bad bytes are kept in quarantine" test "$(ls "$T/t2.d/quarantine" | wc -l)" -ge 1
w t2 -q status --json > "$T/st.json"
equals "  status: nothing quarantined" "$(json_num "$T/st.json" quarantined)" 0
equals "  status: nothing missing" "$(json_num "$T/st.json" missing)" 0
serve t2 || { e2e_finish; exit 1; }
# the store is content/<xx>/<sha1>.<ext>; the URL takes the upper-case SHA-1
HEX=$(basename "$VICTIM"); HEX=${HEX%%.*}; EXT=${VICTIM##*.}; UP=$(echo "$HEX" | tr a-f A-F)
CODE=$(curl -s --cacert "$T/t2.crt" -o "$T/got.bin" -w '%{http_code}' "https://127.0.0.1:$PORT_t2/Content/${UP:38:2}/$UP.$EXT")
equals "  t2 serves the payload again" "$CODE" 200
equals "  with the upstream's bytes" "$(sha1sum < "$T/got.bin" | cut -d' ' -f1)" "$HEX"
stop t2
w t2 reset > "$T/r.out" 2> "$T/r.err"; rc=$?
equals "reset succeeds on a whole store" "$rc" 0
contains "  and re-verified every payload" "$T/r.out" "verified $FILES payloads: $FILES good, 0 quarantined, 0 lost"

# 4. A payload quarantined on arrival: the next sync leaves it while its
# quarantine file is there (tried again a day later), fetches it once an admin
# deleted that file, and status stops counting it.
Q=$(snap_content t2 | sed -n 2p); Q=${Q#./}; QHEX=$(basename "$Q"); QHEX=${QHEX%%.*}
NOW=$(date +%s%3N)
mv "$T/t2.d/content/$Q" "$T/t2.d/quarantine/$QHEX.$NOW"
q t2 "UPDATE file SET state = 'quarantined' WHERE sha1 = x'$QHEX';
      INSERT INTO quarantine(sha1, path, reason, time) VALUES (x'$QHEX', '$T/t2.d/quarantine/$QHEX.$NOW', 'test', $NOW)"
check "t2 syncs with a payload in quarantine" sync_tier t2 q1
w t2 -q status --json > "$T/st.json"
equals "  it stays quarantined while its quarantine file is there" "$(json_num "$T/st.json" quarantined)" 1
rm "$T/t2.d/quarantine/$QHEX.$NOW"
check "t2 syncs after the quarantine file was deleted" sync_tier t2 q2
contains "  and fetches the payload again" "$T/t2.q2.out" "content: 1 of 1 payloads fetched"
w t2 -q status --json > "$T/st.json"
equals "  status no longer counts it quarantined" "$(json_num "$T/st.json" quarantined)" 0
check "  it is in the store again" test -e "$T/t2.d/content/$Q"

# 5. A missing data dir.
"$W" -q -d "$T/nonexistent" verify > "$T/v3.out" 2> "$T/v3.err"; rc=$?
equals "verify on a missing data dir fails" "$rc" 1
equals "  with one line" "$(wc -l < "$T/v3.err")" 1
check "  and creates nothing" test ! -e "$T/nonexistent"

e2e_finish
