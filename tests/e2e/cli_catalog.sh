#!/usr/bin/env bash
# cli_catalog.sh -- issue 2 acceptance through the real binary: the fixture
# documents import and show their types and well-formed fragments; import is
# all-or-nothing (documents and payloads) unless --keep-going; re-import changes
# nothing; approvals, groups, declines; replica refuses local approvals; verify
# quarantines a corrupted payload; config errors name file, line and key.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
DOCS="$WSUS_SHARED_DIR/fixtures/update-docs"
T=$E2E_TMP

# 1. real documents
"$W" -q -d "$T/a" import "$DOCS" > "$T/imp1" 2>&1; equals "import fixtures exits 0" $? 0
contains "import counts 9 new" "$T/imp1" "9 documents .*: 9 new"
"$W" -q -d "$T/a" catalog list > "$T/list" 2>&1
for f in "$DOCS"/*.xml; do
  id=$(basename "$f" | sed -E 's/-r[0-9]+\.xml$//' | tr A-Z a-z)
  rev=$(basename "$f" | sed -E 's/.*-r([0-9]+)\.xml$/\1/')
  type=$(grep -o 'UpdateType="[A-Za-z]*"' "$f" | head -1 | cut -d'"' -f2)
  contains "catalog list shows $id as $type" "$T/list" "^$id +$rev +$type "
  for kind in core extended "localized en"; do
    "$W" -q -d "$T/a" catalog fragment "$id" "$rev" $kind > "$T/frag" 2>"$T/frag.err"
    # A Core fragment is a sequence of siblings: wrap it to check it is well formed.
    { printf '<w>'; cat "$T/frag"; printf '</w>'; } > "$T/frag.xml"
    if [ -s "$T/frag" ] && xmllint --noout "$T/frag.xml" 2>/dev/null; then ok "fragment $kind of $id well formed"
    else fail "fragment $kind of $id well formed"; cat "$T/frag.err"; fi
  done
done
"$W" -q -d "$T/a" catalog fragment 266f6222-c89d-43f2-9f8a-69340271e677 200 core > "$T/core"
contains "Core starts with UpdateIdentity" "$T/core" '^<UpdateIdentity UpdateID="266f6222'
lacks "Core has no namespaces" "$T/core" 'xmlns|upd:'
"$W" -q -d "$T/a" import "$DOCS" > "$T/imp2" 2>&1
contains "second import changes nothing" "$T/imp2" "0 new, 0 changed, 9 unchanged"

# 2. all or nothing: one bad document among good ones
mkdir -p "$T/bad"; cp "$DOCS"/*.xml "$T/bad/"
printf '<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="not-a-guid" RevisionNumber="1"/></upd:Update>' > "$T/bad/zz-broken.xml"
"$W" -q -d "$T/b" import "$T/bad" > "$T/imp3" 2>&1; rc=$?
check "import with a bad document fails" test "$rc" -ne 0
contains "the error names the bad file" "$T/imp3" "zz-broken.xml"
"$W" -q -d "$T/b" status --json > "$T/st"
equals "nothing imported after the failure" "$(json_num "$T/st" revisions)" 0
"$W" -q -d "$T/b" import --keep-going "$T/bad" > "$T/imp4" 2>&1; equals "--keep-going exits 0" $? 0
contains "--keep-going lists the skipped file" "$T/imp4" "skipped .*zz-broken.xml"
"$W" -q -d "$T/b" status --json > "$T/st"
equals "--keep-going imports the 9 good ones" "$(json_num "$T/st" revisions)" 9

# 3. generated catalogue with payloads; a tampered payload stops the import
"$GEN" --seed 3 --revisions 120 --out "$T/gen" > /dev/null
cp -r "$T/gen" "$T/gen-bad"
victim=$(ls "$T/gen-bad/content" | head -1)
printf 'X' | dd of="$T/gen-bad/content/$victim" bs=1 seek=10 conv=notrunc 2>/dev/null
"$W" -q -d "$T/c" import "$T/gen-bad" > "$T/imp5" 2>&1; rc=$?
check "import with a tampered payload fails" test "$rc" -ne 0
contains "the error names the tampered payload" "$T/imp5" "$victim"
"$W" -q -d "$T/c" status --json > "$T/st"
equals "nothing imported after the payload failure" "$(json_num "$T/st" revisions)" 0
"$W" -q -d "$T/c" import "$T/gen" > "$T/imp6" 2>&1; equals "generated catalogue imports" $? 0
"$W" -q -d "$T/c" status --json > "$T/st"
equals "all generated revisions present" "$(json_num "$T/st" revisions)" "$(ls "$T/gen"/*.xml | wc -l)"
equals "every payload present" "$(json_num "$T/st" missing)" 0
check "driver updates counted" test "$(json_num "$T/st" driver)" -gt 0

# 4. groups, approvals, declines
leaf=$(awk -F'\t' 'NR > 1 && $4 == "leaf" { print $1; exit }' "$T/gen/manifest.tsv")
"$W" -q -d "$T/c" group add Workstations > /dev/null; equals "group add" $? 0
"$W" -q -d "$T/c" group add Workstations > "$T/g2" 2>&1; check "duplicate group refused" test $? -ne 0
"$W" -q -d "$T/c" approve "$leaf" --group Workstations --action install > /dev/null; equals "approve" $? 0
"$W" -q -d "$T/c" approve "$leaf" --group Nowhere --action install > "$T/ap" 2>&1; check "approve to unknown group fails" test $? -ne 0
"$W" -q -d "$T/c" approve "$leaf" --group Workstations --action explode > "$T/ap" 2>&1; check "unknown action is refused" test $? -ne 0
"$W" -q -d "$T/c" status --json > "$T/st"
equals "one deployment" "$(json_num "$T/st" deployments)" 1
"$W" -q -d "$T/c" decline "$leaf" > /dev/null; equals "decline" $? 0
"$W" -q -d "$T/c" status --json > "$T/st"
equals "declined count" "$(json_num "$T/st" declined)" 1
cat > "$T/replica.conf" <<CONF
[upstream]
url = https://upstream.example:8531
mode = replica
CONF
"$W" -q -c "$T/replica.conf" -d "$T/c" approve "$leaf" --group Workstations --action install > "$T/rep" 2>&1
check "replica refuses local approvals" test $? -ne 0
contains "replica refusal says why" "$T/rep" "replica"

# 5. verify (read-only) reports a payload corrupted on disk and changes
# nothing; verify --repair quarantines it (no upstream: it stays missing)
stored=$(find "$T/c/content" -type f -name '*.*' ! -path '*/.tmp/*' | head -1)
printf 'Y' | dd of="$stored" bs=1 seek=3 conv=notrunc 2>/dev/null
sum_before=$(md5sum < "$T/c/wsus.db")
"$W" -q -d "$T/c" verify > "$T/ver" 2>&1; check "verify reports the corruption" test $? -ne 0
contains "verify lists the corrupt payload" "$T/ver" "^CORRUPT [0-9a-f]{40} .*SHA-1: expected"
contains "verify counts one corrupt" "$T/ver" "1 corrupt"
check "read-only verify leaves the payload where it is" test -e "$stored"
equals "read-only verify leaves the database bytes unchanged" "$(md5sum < "$T/c/wsus.db")" "$sum_before"
"$W" -q -d "$T/c" verify --repair > "$T/ver" 2>&1; check "verify --repair reports the corruption" test $? -ne 0
contains "verify --repair counts one quarantined" "$T/ver" "1 quarantined"
check "corrupted payload left the store" test ! -e "$stored"
"$W" -q -d "$T/c" status --json > "$T/st"
equals "status shows it missing again, to be fetched" "$(json_num "$T/st" missing)" 1

# 6. configuration errors name file, line and key
printf '[server]\nlisten = 127.0.0.1:8531\n\n[upstream]\nurl = http://plain.example/\n' > "$T/bad.conf"
"$W" -c "$T/bad.conf" status > "$T/cfg" 2>&1; check "http upstream refused" test $? -ne 0
contains "error names file, line and key" "$T/cfg" "bad.conf:5: \[upstream\] url"

e2e_finish
