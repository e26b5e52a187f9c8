#!/usr/bin/env bash
# maint_cleanup.sh -- `cleanup` on a constructed case. A root server (no
# upstream, so [cleanup] decline_unneeded applies) with a generated catalogue
# and its payloads, then, by SQL, what the cleanup wizard is for:
#   computers: two registered here and not seen for 40 days (expired at
#     computer_expiry_days = 30), one seen yesterday, one seen today that
#     still needs update A;
#   payloads: update U1 revised 10 days ago and U2 revised yesterday, the new
#     revisions listing none of the old payloads (content_grace_days = 7:
#     U1's go, U2's wait);
#   updates: A and C superseded by B (A still needed by a computer, C by
#     none), E expired.
# `cleanup --dry-run` lists exactly the two computers, U1's payloads, C and E,
# and changes nothing (database bytes, files); `cleanup` removes exactly
# those; a second dry run finds nothing; verify still passes.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
T=$E2E_TMP
GEN="${WSUS_BUILD_DIR:-$(dirname "$WSUS_BIN")}/wsus-gencatalog"

"$GEN" --seed 5 --revisions 30 --file-size 4096:8192 --out "$T/cat" > /dev/null
cat > "$T/c.conf" <<CONF
[storage]
data_dir = $T/d
[clients]
computer_expiry_days = 30
[cleanup]
content_grace_days = 7
decline_unneeded = true
CONF
w() { "$W" -c "$T/c.conf" "$@"; }
w -q import "$T/cat" > /dev/null
DB="$T/d/wsus.db"

# The constructed case; prints the ids the assertions need.
python3 - "$DB" > "$T/case" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
day = 86400 * 1000
sw = [r[0] for r in db.execute(
    "SELECT update_id FROM revision r WHERE update_type = 'Software' AND EXISTS"
    " (SELECT 1 FROM revision_file rf WHERE rf.revision_id = r.revision_id) ORDER BY update_id")]
u1, u2, a, b, c, e = sw[0], sw[1], sw[2], sw[3], sw[4], sw[5]
cols = [r[1] for r in db.execute("PRAGMA table_info(revision)") if r[1] != "revision_id"]
def revise(uid, created):
    sel = ", ".join("revision_number + 1" if k == "revision_number" else
                    str(created) if k in ("created_at", "modified_at") else k for k in cols)
    db.execute(f"INSERT INTO revision ({', '.join(cols)}) SELECT {sel} FROM revision WHERE update_id = ?"
               " ORDER BY revision_number DESC LIMIT 1", (uid,))
revise(u1, now - 10 * day)
revise(u2, now - 1 * day)
bid = db.execute("SELECT max(revision_id) FROM revision WHERE update_id = ?", (b,)).fetchone()[0]
db.execute("DELETE FROM supersedes WHERE superseded_update_id IN (?, ?)", (a, c))
db.execute("INSERT INTO supersedes(revision_id, superseded_update_id) VALUES (?, ?), (?, ?)", (bid, a, bid, c))
db.execute("UPDATE revision SET publication_state = 'Expired' WHERE update_id = ?", (e,))
for cid, name, seen in (("old-1", "old1.corp", now - 40 * day), ("old-2", "old2.corp", now - 41 * day),
                        ("recent", "recent.corp", now - day), ("needs-a", "needsa.corp", now)):
    db.execute("INSERT INTO computer(computer_id, dns_name, registered_at, last_sync_time) VALUES (?, ?, ?, ?)",
               (cid, name, seen - day, seen))
db.execute("INSERT INTO update_status(computer_id, update_id, status, last_change_time) VALUES ('needs-a', ?, 2, ?)",
           (a, now))
db.commit()
u1_files = [r[0] for r in db.execute("SELECT lower(hex(rf.sha1)) FROM revision_file rf JOIN revision r"
                                     " ON r.revision_id = rf.revision_id WHERE r.update_id = ?", (u1,))]
u2_files = [r[0] for r in db.execute("SELECT lower(hex(rf.sha1)) FROM revision_file rf JOIN revision r"
                                     " ON r.revision_id = rf.revision_id WHERE r.update_id = ?", (u2,))]
print("U1_FILES='%s'" % " ".join(u1_files))
print("U2_FILES='%s'" % " ".join(u2_files))
print("A=%s C=%s E=%s" % (a, c, e))
PY
. "$T/case"
N1=$(echo $U1_FILES | wc -w)
check "the case has payloads to remove ($N1) and to keep" test "$N1" -ge 1 -a -n "$U2_FILES"
stored() { find "$T/d/content" -type f -name "$1*" ! -path '*/.tmp/*' | wc -l; }
expected() {
  { echo "computer old-1"; echo "computer old-2"; for f in $U1_FILES; do echo "payload $f"; done
    echo "superseded $C"; echo "expired $E"; } | sort
}

# 1. The dry run lists exactly that and changes nothing.
SUM=$(md5sum < "$DB"); NFILES=$(find "$T/d/content" -type f | wc -l)
w cleanup --dry-run > "$T/dry.out" 2> "$T/dry.err"; rc=$?
equals "cleanup --dry-run succeeds" "$rc" 0
sed -n 's/^would \(remove\|decline\) \([a-z]*\) \([^ ]*\) .*/\2 \3/p' "$T/dry.out" | sort > "$T/dry.list"
expected > "$T/want.list"
check "  it lists exactly the expired computers, U1's payloads, C and E" cmp -s "$T/dry.list" "$T/want.list"
cmp -s "$T/dry.list" "$T/want.list" || diff "$T/want.list" "$T/dry.list" | sed 's/^/     | /'
contains "  and says how long each computer was away" "$T/dry.out" "^would remove computer old-2 \(old2.corp, last seen 41 days ago\)"
contains "  and counts U2's payloads as within the grace period" "$T/dry.out" \
  "cleanup \(dry run, nothing changed\): 2 computers, $N1 payloads \([0-9]+ bytes; $(echo $U2_FILES | wc -w) more unreferenced within the grace period\), 1 superseded and 1 expired updates declined"
equals "  the database bytes are unchanged" "$(md5sum < "$DB")" "$SUM"
equals "  no file was removed" "$(find "$T/d/content" -type f | wc -l)" "$NFILES"

# 2. cleanup removes exactly that.
w cleanup > "$T/run.out" 2> "$T/run.err"; rc=$?
equals "cleanup succeeds" "$rc" 0
sed -n 's/^\(removed\|declined\) \([a-z]*\) \([^ ]*\) .*/\2 \3/p' "$T/run.out" | sort > "$T/run.list"
check "  it reports exactly what the dry run listed" cmp -s "$T/run.list" "$T/want.list"
equals "  the computers left are the two recent ones" \
  "$(sqlite3 "$DB" 'SELECT group_concat(computer_id, " ") FROM (SELECT computer_id FROM computer ORDER BY 1)')" "needs-a recent"
gone=0; for f in $U1_FILES; do gone=$((gone + 1 - $(stored "$f"))); done
equals "  U1's payloads are gone from the store" "$gone" "$N1"
kept=0; for f in $U2_FILES; do kept=$((kept + $(stored "$f"))); done
equals "  U2's payloads (within the grace period) are still there" "$kept" "$(echo $U2_FILES | wc -w)"
equals "  and U1's rows say missing" "$(sqlite3 "$DB" "SELECT count(*) FROM file WHERE state = 'missing'")" "$N1"
equals "  C and E are declined, A (still needed) is not" \
  "$(sqlite3 "$DB" "SELECT group_concat(u, ' ') FROM (SELECT DISTINCT update_id AS u FROM revision WHERE hidden = 1 AND update_id IN ('$A', '$C', '$E') ORDER BY 1)")" \
  "$(printf '%s\n' "$C" "$E" | sort | tr '\n' ' ' | sed 's/ $//')"
contains "  the summary names the counts" "$T/run.out" "^cleanup: 2 computers, $N1 payloads .* 1 superseded and 1 expired updates declined, [0-9]+ events; database [0-9]+ -> [0-9]+ bytes"

# 3. Nothing left to do; the store still verifies.
w cleanup --dry-run > "$T/dry2.out" 2>&1
lacks "a second dry run lists nothing" "$T/dry2.out" "^would "
w verify > "$T/verify.out" 2>&1; rc=$?
equals "verify passes after the cleanup" "$rc" 0

# 4. A replica does not decline on its own.
printf '[upstream]\nurl = https://127.0.0.1:9/\nmode = replica\n' >> "$T/c.conf"
w cleanup --dry-run > "$T/rep.out" 2>&1
contains "a replica's cleanup says decline_unneeded is for autonomous servers" "$T/rep.out" \
  "^note: \[cleanup\] decline_unneeded applies in autonomous mode only"

e2e_finish
