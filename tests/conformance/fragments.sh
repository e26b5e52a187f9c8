#!/usr/bin/env bash
# fragments.sh -- Core and Extended fragments of the 9 real documents as a
# Windows Server WSUS sends them, through `catalog fragment` of the binary:
# Core's Properties has the allowed attributes and no child element, Extended
# holds every child the document's Properties has. Then a database of the
# previous release (Core with Properties children, schema 4) is opened by this
# binary: it is migrated, serves the new Core fragments and its stored
# documents are byte for byte what they were.
. "$(dirname "$0")/../e2e/lib.sh"
W="$WSUS_BIN"
DOCS="$WSUS_SHARED_DIR/fixtures/update-docs"
T=$E2E_TMP
OLD_RELEASE_VERSION=4   # the last schema whose Core kept Properties' children

"$W" -q -d "$T/a" import "$DOCS" > "$T/imp" 2>&1; equals "import the 9 real documents" $? 0

# Child element names of the document's Properties, one a line.
props_children() {
  python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for p in root:
    if p.tag.endswith('}Properties'):
        for c in p:
            print(c.tag.split('}')[1])
PY
}

check_fragments() {   # $1 tag: every document's Core and Extended
  local f id rev kids n_kids=0
  for f in "$DOCS"/*.xml; do
    id=$(basename "$f" | sed -E 's/-r[0-9]+\.xml$//')
    rev=$(basename "$f" | sed -E 's/.*-r([0-9]+)\.xml$/\1/')
    "$W" -q -d "$T/a" catalog fragment "$id" "$rev" core > "$T/core" 2>&1
    "$W" -q -d "$T/a" catalog fragment "$id" "$rev" extended > "$T/ext" 2>&1
    if grep -Eq '<Properties( [A-Za-z]+="[^"]*")* />' "$T/core" && ! grep -q '</Properties>' "$T/core"; then
      ok "$1: Core of $id has Properties without children"
    else fail "$1: Core of $id has Properties without children"; head -c 600 "$T/core"; echo; fi
    kids=$(props_children "$f")
    for k in $kids; do
      n_kids=$((n_kids + 1))
      lacks "$1: $k of $id is not in Core" "$T/core" "<$k[ >/]"
      contains "$1: $k of $id is in Extended" "$T/ext" "<$k[ >/]"
    done
  done
  # The documents do have Properties children (else the checks above prove nothing).
  check "$1: the documents' Properties have children ($n_kids)" test "$n_kids" -ge 5
}
check_fragments "fresh"
"$W" -q -d "$T/a" catalog fragment a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe 200 core > "$T/core"
contains "Core of the bundle is exactly what WS2025 sends" "$T/core" \
  '<Properties UpdateType="Software" AutoSelectOnWebSites="true" ExplicitlyDeployable="true" /><Relationships>'

# The previous release: Core with Extended's Properties children inside Properties.
docs_before=$(sqlite3 "$T/a/wsus.db" "SELECT group_concat(h, ',') FROM (SELECT hex(xml) AS h FROM revision ORDER BY revision_id)")
python3 - "$T/a/wsus.db" "$OLD_RELEASE_VERSION" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = 0
for rid, core, ext in db.execute("SELECT c.revision_id, CAST(c.xml AS TEXT), CAST(x.xml AS TEXT) FROM fragment c"
                                 " JOIN fragment x ON x.revision_id = c.revision_id AND x.type = 1 WHERE c.type = 0").fetchall():
    end = ext.find('</ExtendedProperties>')
    if end < 0:
        continue
    kids = ext[ext.index('>') + 1:end]
    p = core.index('<Properties ')
    close = core.index(' />', p)
    old = core[:close] + '>' + kids + '</Properties>' + core[close + 3:]
    db.execute("UPDATE fragment SET xml = ? WHERE revision_id = ? AND type = 0", (old.encode(), rid))
    n += 1
db.execute("PRAGMA user_version = %d" % int(sys.argv[2]))
# what migration 6 (provenance) added did not exist in that release either
db.execute("ALTER TABLE revision DROP COLUMN origin_chain")
db.execute("ALTER TABLE revision DROP COLUMN xml_sha256")
db.execute("ALTER TABLE sync_stage DROP COLUMN provenance")
# nor what migration 7 (sync run payload bytes) added
db.execute("ALTER TABLE sync_history DROP COLUMN content_bytes")
# nor what migration 9 (the rollup watermark on our clock) added
db.execute("DROP TRIGGER update_status_gone")
db.execute("ALTER TABLE update_status DROP COLUMN changed_at")
# nor what migration 8 (the incremental rollup) added
for col in ("rollup_info_sent", "rollup_details_sent", "rollup_sent_number", "rollup_status_time"):
    db.execute("ALTER TABLE computer DROP COLUMN " + col)
db.commit()
print(n)
PY
old_n=$(sqlite3 "$T/a/wsus.db" "SELECT count(*) FROM fragment WHERE type = 0 AND instr(CAST(xml AS TEXT), '</Properties>') > 0")
check "the old database has Core fragments with Properties children ($old_n)" test "$old_n" -ge 4

"$W" -v -d "$T/a" migrate > "$T/list" 2> "$T/open.log"; equals "the new binary migrates the old database" $? 0
contains "the migration is logged" "$T/open.log" "fragments derived again from the stored documents revisions=9"
latest=$(sqlite3 "$T/a/wsus.db" "PRAGMA user_version")
check "the database is at a newer schema ($latest)" test "$latest" -gt "$OLD_RELEASE_VERSION"
check_fragments "migrated"
docs_after=$(sqlite3 "$T/a/wsus.db" "SELECT group_concat(h, ',') FROM (SELECT hex(xml) AS h FROM revision ORDER BY revision_id)")
check "the stored documents are byte for byte the same" test "$docs_before" = "$docs_after"
e2e_finish
