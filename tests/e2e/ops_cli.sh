#!/usr/bin/env bash
# ops_cli.sh -- issue 11, command line and read-only commands through the real
# binary: --help / help / --version / COMMAND --help exit 0; usage errors are
# one line and exit 2; failures one line and exit 1 (log lines only with -v);
# status/catalog/group/pin list run as an unprivileged user with read access
# and leave the database bytes unchanged; status on a missing data directory
# fails with one line and creates nothing; the database is created 0600;
# backup is a consistent, openable copy while serve runs.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
DOCS="$WSUS_SHARED_DIR/fixtures/update-docs"
T=$E2E_TMP
one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }

# 1. help and version
"$W" --help > "$T/h" 2>&1; equals "--help exits 0" $? 0
contains "--help lists serve" "$T/h" '^  serve '
contains "--help lists backup" "$T/h" '^  backup FILE'
"$W" help sync > "$T/h" 2>&1; equals "help sync exits 0" $? 0
contains "help sync describes sync" "$T/h" 'usage: wsus-replica .*sync'
"$W" --version > "$T/v" 2>&1; equals "--version exits 0" $? 0
contains "--version has version and git revision" "$T/v" '^wsus-replica [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-f]+'
contains "--version has library versions" "$T/v" 'sqlite 3\.[0-9.]+, libcurl [0-9.]+, libmicrohttpd [0-9.]+, gnutls'
for cmd in import approve decline group catalog status verify reset cleanup serve sync pin scan migrate backup export import-bundle help; do
  "$W" $cmd --help > "$T/ch" 2>&1; rc=$?
  equals "$cmd --help exits 0" $rc 0
  contains "$cmd --help shows its synopsis" "$T/ch" "^usage: wsus-replica .*$cmd"
done
"$W" -d "$T/nothere" status --help > /dev/null 2>&1
check "status --help touches no data dir" test ! -e "$T/nothere"

# 2. usage errors: exit 2, one line
for args in "" "bogus" "-x status" "status --frobnicate" "decline" "help nosuch" "backup"; do
  "$W" -d "$T/u" $args > "$T/o" 2> "$T/e"; rc=$?
  equals "usage error '$args' exits 2" $rc 2
  check "usage error '$args' is one line" one_line "$T/e"
done

# 3. missing data dir: one line, exit 1, nothing created
for args in "status" "status --json" "catalog list" "group list"; do
  "$W" $args -d "$T/missing/dir" > "$T/o" 2> "$T/e"; rc=$?
  equals "$args on a missing data dir exits 1" $rc 1
  check "$args on a missing data dir: one line" one_line "$T/e"
  contains "$args names the missing dir" "$T/e" "missing/dir"
  check "$args created nothing" test ! -e "$T/missing"
done

# 4. a failure is one line; its log lines only with -v
printf '[upstream]\nurl = https://127.0.0.1:1/\nretries = 0\ntimeout = 2\n' > "$T/up.conf"
"$W" -c "$T/up.conf" -d "$T/s" sync > "$T/o" 2> "$T/e"; rc=$?
equals "failed sync exits 1" $rc 1
check "failed sync prints one line" one_line "$T/e"
contains "failed sync says why" "$T/e" '^wsus-replica: sync with https://127.0.0.1:1/ failed'
"$W" -v -c "$T/up.conf" -d "$T/s" sync > "$T/o" 2> "$T/e"
check "sync -v adds the log lines" test "$(wc -l < "$T/e")" -gt 1

# 5. migrate creates the database 0600; read-only commands as nobody
"$W" -d "$T/d" migrate > "$T/o" 2>&1; equals "migrate exits 0" $? 0
contains "migrate says the schema version" "$T/o" 'schema version [0-9]+'
equals "wsus.db is created 0600" "$(stat -c %a "$T/d/wsus.db")" 600
"$W" -d "$T/d" import "$DOCS" > "$T/o" 2>&1; equals "import exits 0" $? 0
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=wsus.corp \
  -keyout "$T/up.key" -out "$T/up.pem" > /dev/null 2>&1
"$W" -d "$T/d" pin add "$T/up.pem" > "$T/o" 2>&1; equals "pin add exits 0" $? 0
chmod -R a+rX "$T"   # the monitoring user may read the data, not write it
sums() { sha256sum "$T/d"/wsus.db* | awk '{print $1}' | tr '\n' ' '; }
before=$(sums)
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
nobody "$W" -d "$T/d" status > "$T/o" 2> "$T/e"; equals "status as nobody exits 0" $? 0
contains "status as nobody shows the catalogue" "$T/o" '^catalogue: +9 revisions'
nobody "$W" -d "$T/d" status --json > "$T/o" 2> "$T/e"; equals "status --json as nobody exits 0" $? 0
nobody "$W" -d "$T/d" catalog list > "$T/o" 2> "$T/e"; equals "catalog list as nobody exits 0" $? 0
contains "catalog list as nobody lists revisions" "$T/o" '^9 revisions'
nobody "$W" -d "$T/d" pin list > "$T/o" 2> "$T/e"; equals "pin list as nobody exits 0" $? 0
contains "pin list as nobody shows the pin" "$T/o" 'CN ?= ?wsus.corp'

nobody "$W" -d "$T/d" group list > "$T/o" 2> "$T/e"; equals "group list as nobody exits 0" $? 0
equals "read-only commands left the database bytes unchanged" "$(sums)" "$before"
nobody "$W" -d "$T/d" decline 266f6222-c89d-43f2-9f8a-69340271e677 > "$T/o" 2> "$T/e"; rc=$?
equals "a write as nobody fails" $rc 1
check "the refused write is one line" one_line "$T/e"
equals "the refused write changed nothing" "$(sums)" "$before"

# 6. an older schema: read-only commands refuse and say to migrate
cp -r "$T/d" "$T/old"
sqlite3 "$T/old/wsus.db" "PRAGMA user_version = 1" 2>/dev/null
"$W" -d "$T/old" status > "$T/o" 2> "$T/e"; rc=$?
equals "status on an older schema exits 1" $rc 1
contains "status on an older schema says migrate" "$T/e" 'run `wsus-replica migrate`'
equals "status left the old schema alone" "$(sqlite3 "$T/old/wsus.db" 'PRAGMA user_version')" 1

# 7. backup while serving: a consistent copy that opens
"$W" -d "$T/d" serve --listen 127.0.0.1:0 > "$T/serve.out" 2> "$T/serve.err" &
E2E_PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening' "$T/serve.out" && break; sleep 0.1; done
"$W" -d "$T/d" backup "$T/bk/wsus.db" > "$T/o" 2> "$T/e"; rc=$?
equals "backup into a missing directory fails" $rc 1
check "failed backup is one line" one_line "$T/e"
mkdir -p "$T/bk"
"$W" -d "$T/d" backup "$T/bk/wsus.db" > "$T/o" 2> "$T/e"; equals "backup while serving exits 0" $? 0
equals "backup file is 0600" "$(stat -c %a "$T/bk/wsus.db")" 600
equals "backup passes integrity_check" "$(sqlite3 "$T/bk/wsus.db" 'PRAGMA integrity_check')" ok
"$W" -d "$T/bk" status > "$T/o" 2> "$T/e"; equals "status on the restored copy exits 0" $? 0
contains "restored copy has the catalogue" "$T/o" '^catalogue: +9 revisions'
id_live=$("$W" -d "$T/d" status --json | grep -o '"server_id": "[^"]*"')
id_copy=$("$W" -d "$T/bk" status --json | grep -o '"server_id": "[^"]*"')
equals "restored copy keeps the server identity" "$id_copy" "$id_live"

e2e_finish
