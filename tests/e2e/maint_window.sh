#!/usr/bin/env bash
# maint_window.sh -- [sync] window inside serve, on a lazy-content replica.
# Tier 0 approves one update for install; tier 1 (replica, lazy_content,
# interval an hour) has a window that opens a minute or two from now. Its
# first scheduled sync publishes the metadata and fetches nothing; a client
# asking for the approved payload gets 404. When the window opens the
# scheduler comes back by itself, fetches the approved update's payloads
# (only those) and the client is served.
. "$(dirname "$0")/hier_lib.sh"
export TZ=UTC

"$GEN" --seed 7 --revisions 30 --file-size 1024:2048 --out "$T/cat" > /dev/null
S=$(date -u +%S); S=$((10#$S))
OPEN=$(date -u -d "+$([ "$S" -lt 45 ] && echo 1 || echo 2) min" +%H:%M)
CLOSE=$(date -u -d "+30 min" +%H:%M)
tier t0
tier t1 t0 "[sync]" "interval = 3600" "jitter = 0" "lazy_content = true" "window = $OPEN-$CLOSE"
w t0 -q import "$T/cat" > /dev/null
mapfile -t SW < <(awk -F'\t' '$3 == "Software" && $5 > 0 { print $1 }' "$T/cat/manifest.tsv")
w t0 -q approve "${SW[0]}" --group "All Computers" --action install > /dev/null
WANT=$(q t0 "SELECT count(DISTINCT rf.sha1) FROM revision_file rf JOIN revision r ON r.revision_id = rf.revision_id
             WHERE r.update_id = '${SW[0]}'")
HEX=$(q t0 "SELECT lower(hex(rf.sha1)) FROM revision_file rf JOIN revision r ON r.revision_id = rf.revision_id
            WHERE r.update_id = '${SW[0]}' LIMIT 1")
UP=$(echo "$HEX" | tr a-f A-F)
EXT=$(cd "$T/t0.d/content" && ls "${HEX:38:2}" | grep "^$HEX" | sed -n 's/^[0-9a-f]*//p' | head -1)
serve t0 || { e2e_finish; exit 1; }
SERVE_FLAGS=-v serve t1 || { e2e_finish; exit 1; }
get() { curl -s --cacert "$T/t1.crt" -o "$T/got.bin" -w '%{http_code}' "https://127.0.0.1:$PORT_t1/Content/${UP:38:2}/$UP$EXT"; }

for i in $(seq 200); do grep -q 'sync done' "$T/t1.serve.err" && break; sleep 0.1; done
contains "t1's first sync ran at start" "$T/t1.serve.err" "sync done"
contains "  its content waits for the window" "$T/t1.serve.err" "phase=content deferred: outside \[sync\] window $OPEN-$CLOSE"
contains "  and the next sync is set for when it opens" "$T/t1.serve.err" "content waits for \[sync\] window $OPEN-$CLOSE: next sync when it opens"
equals "  no payload was fetched" "$(q t1 "SELECT count(*) FROM file WHERE state = 'present'")" 0
equals "a client asking for the approved update's payload gets 404 meanwhile" "$(get)" 404

echo "     waiting for the window ($OPEN UTC, now $(date -u +%H:%M:%S))"
for i in $(seq 1500); do grep -q 'phase=content wanted=' "$T/t1.serve.err" && break; sleep 0.1; done
contains "when the window opens the scheduler fetches the approved update's payloads (only those)" \
  "$T/t1.serve.err" "phase=content wanted=$WANT fetched=$WANT "
equals "  and the client is served" "$(get)" 200
equals "  the upstream's bytes" "$(sha1sum < "$T/got.bin" | cut -d' ' -f1)" "$HEX"
stop t1
e2e_finish
