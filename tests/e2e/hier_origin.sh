#!/usr/bin/env bash
# hier_origin.sh -- origin is immutable (issue 9.1): a replica refuses
# `import` and changes nothing; an autonomous server refuses a local document
# that would replace one its upstream delivered (naming both origins) and
# changes nothing; a new local update is accepted and shown as local.
. "$(dirname "$0")/hier_lib.sh"

"$GEN" --seed 9 --revisions 40 --out "$T/cat" > /dev/null
tier t1
tier t2 t1
w t1 -q import "$T/cat" > /dev/null
serve t1 || { e2e_finish; exit 1; }
w t2 -v sync > "$T/t2.first.out" 2> "$T/t2.first.err"; equals "tier 2 syncs from tier 1" $? 0   # -v: one-shot commands log only then
# the tiers' certificates live 2 days (the warning says 1, or 2 when the sync runs within the second they were made): the pin expires within 30
contains "sync logs its pin verdict at notice level" "$T/t2.first.err" "^[^ ]+ notice sync trust upstream=https://127.0.0.1:$PORT_t1 .*pinned certificate in store: yes"
contains "sync warns that the pinned certificate expires soon" "$T/t2.first.err" "^[^ ]+ warn sync pinned certificate expires in [0-2] days .*sha256=$(fp "$T/t1.crt").*before it switches"

# An upstream document with new installer arguments (the SharpWSUS shape).
victim=$(grep -l 'Arguments="' "$T/cat"/*.xml | head -1)
vid=$(basename "$victim" | sed -E 's/-r[0-9]+\.xml$//')
mkdir -p "$T/evil"
sed 's/Arguments="[^"]*"/Arguments="\/c calc.exe"/' "$victim" > "$T/evil/$(basename "$victim")"
check "the forged copy differs from the upstream's" test "$(md5sum < "$victim")" != "$(md5sum < "$T/evil/$(basename "$victim")")"

# 1. replica: import refused, nothing changed
snap_documents t2 > "$T/docs.before"
w t2 status --json > "$T/status.before" 2>/dev/null
w t2 import "$T/evil" > "$T/rep.out" 2> "$T/rep.err"; rc=$?
check "replica: import exits non-zero" test "$rc" -ne 0
contains "replica: says why" "$T/rep.err" "^wsus-replica: import refused: this server is a replica of https://127.0.0.1:$PORT_t1"
snap_documents t2 > "$T/docs.after"
check "replica: documents unchanged" cmp -s "$T/docs.before" "$T/docs.after"
w t2 status --json > "$T/status.after" 2>/dev/null
check "replica: status unchanged" cmp -s "$T/status.before" "$T/status.after"

# 2. autonomous: replacing an upstream document refused, naming both origins
sed 's/^mode = replica$/mode = autonomous/' "$T/t2.conf" > "$T/t2a.conf"
W2A() { "$W" -c "$T/t2a.conf" "$@"; }
W2A import "$T/evil" > "$T/auto.out" 2> "$T/auto.err"; rc=$?
check "autonomous: replacing an upstream document exits non-zero" test "$rc" -ne 0
contains "autonomous: names the upstream origin" "$T/auto.err" "came from upstream https://127.0.0.1:$PORT_t1 \\(certificate sha256=$(fp "$T/t1.crt")\\)"
contains "autonomous: names the local origin" "$T/auto.err" "a local import \\($T/evil\\) .*may not replace it"
contains "autonomous: nothing was imported" "$T/auto.err" "nothing was imported"
snap_documents t2 > "$T/docs.after2"
check "autonomous: documents unchanged" cmp -s "$T/docs.before" "$T/docs.after2"
w t2 -q catalog fragment "$vid" "$(basename "$victim" | sed -E 's/.*-r([0-9]+)\.xml$/\1/')" core > /dev/null
equals "autonomous: the stored document is still the upstream's" \
  "$(q t2 "SELECT lower(hex(xml_sha1)) FROM revision WHERE update_id = '$vid'")" \
  "$(sha1sum < "$victim" | cut -d' ' -f1)"
# --keep-going does not slip it in either
W2A import --keep-going "$T/evil" > "$T/auto2.out" 2> "$T/auto2.err"
contains "autonomous --keep-going: skipped with the reason" "$T/auto2.err" "^skipped .*may not replace it"
snap_documents t2 > "$T/docs.after3"
check "autonomous --keep-going: documents unchanged" cmp -s "$T/docs.before" "$T/docs.after3"
# the same bytes as the upstream's change nothing and are not refused
mkdir -p "$T/same"; cp "$victim" "$T/same/"
W2A -q import "$T/same" > "$T/same.out" 2>&1
equals "autonomous: the upstream's own bytes import as unchanged" $? 0

# 3. autonomous: a new local update is accepted and marked local
nid=4f1ee7e1-0000-4000-8000-00000000a11c
mkdir -p "$T/new"
sed "s/UpdateID=\"$vid\"/UpdateID=\"$nid\"/" "$victim" > "$T/new/$nid-r1.xml"
W2A import "$T/new" > "$T/new.out" 2> "$T/new.err"; rc=$?
equals "autonomous: a new local update is accepted" "$rc" 0
contains "  counted as new" "$T/new.out" "1 new"
W2A catalog show "$nid" > "$T/new.show" 2>&1
contains "  catalog show marks it local" "$T/new.show" "^origin: +local import"
W2A catalog show "$vid" > "$T/up.show" 2>&1
contains "  an upstream update still shows its upstream" "$T/up.show" "^origin: +https://127.0.0.1:$PORT_t1"

check "tier 1 stops cleanly (SIGTERM)" stop t1
e2e_finish
