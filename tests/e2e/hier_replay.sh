#!/usr/bin/env bash
# hier_replay.sh -- a sync against real upstream data: hier_replay.py answers
# over HTTPS (pinned) with what a Windows Server 2025 WSUS answered in
# fixtures/ws2025-uss-capture. The capture covers authorisation, config, the
# two revision lists and the documents (compressed and plain blobs) and three
# faults; it has no GetDeployments, content or reporting answers, so the
# replica runs autonomous (no GetDeployments), catalogue-only ([sync]
# content = false), and the rollup's fault is logged without failing the sync.
# "Complete" therefore means: every covered phase done, the four documents
# published exactly as WS2025 sent them (equal to fixtures/update-docs), the
# anchors stored as sent, and each fault handled as MS-WSUSSS 2.2.9.3 says:
#   InvalidCookie       -> authorise again and repeat the call (run 1)
#   InvalidParameters   -> on our anchor: ask again without it (run 3)
#   InternalServerError -> stop with that reason, nothing published, what
#                          arrived stays staged for the next run (run 4)
. "$(dirname "$0")/hier_lib.sh"

CAP=$WSUS_SHARED_DIR/fixtures/ws2025-uss-capture
DOCS=$WSUS_SHARED_DIR/fixtures/update-docs
mk_cert replay
RP=$(free_port)

replay() { # LOG FLAGS...: (re)start the replay upstream
  [ -n "${REPLAY:-}" ] && { kill "$REPLAY" 2>/dev/null; wait "$REPLAY" 2>/dev/null; }
  local log=$1; shift
  python3 "$(dirname "$0")/hier_replay.py" "$RP" "$T/replay.crt" "$T/replay.key" "$CAP" "$log" "$@" &
  REPLAY=$!
  E2E_PIDS+=("$REPLAY")
  for _ in $(seq 100); do grep -q ready "$log" 2>/dev/null && return 0; sleep 0.05; done
  fail "the replay upstream does not start"
}

# dss NAME: an autonomous, catalogue-only replica of the replay upstream
dss() {
  mkdir -p "$T/$1.pins"; cp "$T/replay.crt" "$T/$1.pins/"
  printf '[upstream]\nurl = https://127.0.0.1:%s\nmode = autonomous\nca_file = %s\nretries = 0\n[trust]\npin_store = %s\n[storage]\ndata_dir = %s\n[sync]\ncontent = false\n' \
    "$RP" "$T/replay.crt" "$T/$1.pins" "$T/$1.d" > "$T/$1.conf"
}

# Run 1: the first sync, with the first revision list refused as InvalidCookie.
replay "$T/replay1.log" --invalid-cookie-once
dss a
check "run 1: the sync completes" sync_tier a r1
contains "  the refused cookie was answered by a new authorisation" "$T/a.r1.err" \
  "upstream refused the cookie op=GetRevisionIdList fault=InvalidCookie: authorising again"
equals "  GetCookie was called twice" "$(grep -c '^GetCookie ' "$T/replay1.log")" 2
contains "  the categories came" "$T/a.r1.err" "phase=categories listed=1 fetched=1 "
contains "  the updates came, in one batch" "$T/a.r1.err" "phase=updates listed=3 fetched=3 resumed=0 batches=1 "
lacks "  autonomous: GetDeployments never called" "$T/replay1.log" "^GetDeployments"
contains "  the rollup had no answer, and that is not fatal" "$T/a.r1.err" "phase=rollup failed .*without ErrorCode"
contains "  the metadata was published" "$T/a.r1.err" "phase=publish revisions=4 new=4 "
equals "four revisions in the catalogue" "$(q a 'SELECT count(*) FROM revision')" 4
for doc in "$DOCS"/*.xml; do
  base=$(basename "$doc" .xml); uid=${base%-r*}; rev=${base##*-r}
  [ "$(q a "SELECT count(*) FROM revision WHERE update_id = '$uid' AND revision_number = $rev")" = 1 ] || continue
  q a "SELECT writefile('$T/$base.stored', xml) FROM revision WHERE update_id = '$uid' AND revision_number = $rev" > /dev/null
  python3 - "$T/$base.stored" "$doc" <<'EOF' > "$T/$base.cmp" 2>&1
import sys, xml.etree.ElementTree as ET
a, b = (ET.canonicalize(open(p, encoding="utf-8").read(), strip_text=True) for p in sys.argv[1:3])
print("same" if a == b else "differ")
EOF
  contains "  $base is stored as WS2025 sent it" "$T/$base.cmp" "^same$"
done
w a -q catalog fragment 266f6222-c89d-43f2-9f8a-69340271e677 200 core > "$T/core.xml"
contains "a fragment of the compressed leaf is served" "$T/core.xml" "266f6222-c89d-43f2-9f8a-69340271e677"
equals "its file keeps the MUUrl of fileUrls" "$(q a "SELECT mu_url FROM file" | grep -c '^http://download.windowsupdate.com/')" 1
equals "the update anchor is kept exactly as sent" "$(q a "SELECT value FROM state WHERE key = 'sync.anchor.updates'")" \
  "9438,2026-10-04 16:33:26.750"
equals "the config anchor too" "$(q a "SELECT value FROM state WHERE key = 'sync.anchor.config'")" \
  "9438,2026-10-04 16:33:26.670"

# Run 2: with the anchors, the upstream has nothing new.
replay "$T/replay2.log"
check "run 2: the delta sync completes" sync_tier a r2
contains "  GetConfigData sent our config anchor" "$T/replay2.log" "^GetConfigData "
contains "  the lists were asked with our anchors" "$T/replay2.log" "GetRevisionIdList config=0 anchor=9438,2026-10-04 16:33:26.750 count=0"
contains "  nothing new" "$T/a.r2.out" "0 new and 0 changed revisions \\(0 listed"

# Run 3: an anchor the upstream refuses (InvalidParameters) -> the full list, once.
q a "UPDATE state SET value = 'garbage' WHERE key = 'sync.anchor.updates'"
check "run 3: the sync completes" sync_tier a r3
contains "  our anchor was refused" "$T/replay2.log" "GetRevisionIdList fault=InvalidParameters anchor=garbage"
contains "  and the full list asked for instead" "$T/a.r3.err" "upstream refused the updates anchor \\(filter\\), asking for the full list"
contains "  which held nothing we lack" "$T/a.r3.err" "phase=updates listed=3 fetched=0 resumed=0 batches=0 delta=no"
equals "  and the new anchor replaced the refused one" "$(q a "SELECT value FROM state WHERE key = 'sync.anchor.updates'")" \
  "9438,2026-10-04 16:33:26.750"

# Run 4: a list naming an update the upstream cannot deliver (InternalServerError).
replay "$T/replay4.log" --unknown-update
dss b
w b -q status --json > "$T/b.before"
if sync_tier b r4; then fail "run 4: the sync should fail"; else ok "run 4: the sync fails"; fi
contains "  saying why" "$T/b.r4.err" "^wsus-replica: sync with .* failed during updates: upstream answered GetUpdateData with InternalServerError"
contains "  after asking again for just the missing revision" "$T/replay4.log" \
  "GetUpdateData asked=00000000-0000-0000-0000-000000000001/1 sent=0"
equals "  nothing was published" "$(q b 'SELECT count(*) FROM revision')" 0
equals "  what did arrive stays staged for the next run" "$(q b 'SELECT count(*) FROM sync_stage')" 4
equals "  no anchor was saved" "$(q b "SELECT count(*) FROM state WHERE key LIKE 'sync.anchor.%'")" 0
e2e_finish
