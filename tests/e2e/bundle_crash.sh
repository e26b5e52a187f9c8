#!/usr/bin/env bash
# bundle_crash.sh -- import-bundle killed (SIGKILL) at two points: while it
# stages the catalogue (nothing published: the catalogue stays empty and
# the bundle imports whole afterwards), and after the publishing transaction
# while it stores payloads (the catalogue is published, status says payloads
# pending, the same bundle is accepted once more and completes the content
# store; after that it is a replay again).
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
T0=$T/tier0

"$GEN" --seed 31 --revisions 1500 --file-size 256:512 --out "$T/gen" > /dev/null
"$W" -q -d "$T0" import "$T/gen" > /dev/null; equals "tier 0 imports 1500 revisions" $? 0
openssl genpkey -algorithm ed25519 -out "$T/key.pem" 2>/dev/null
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"
"$W" -q -d "$T0" export "$T/b.bundle" --key "$T/key.pem" --content > /dev/null; equals "export" $? 0
n_rev=$(sqlite3 "$T0/wsus.db" "SELECT count(*) FROM revision")

q() { sqlite3 -cmd ".timeout 2000" "$1/wsus.db" "$2" 2>/dev/null; }
# kill_when DIR SQL: start the import into DIR, SIGKILL it as soon as SQL
# (polled) prints a non-zero number; says whether it was caught running.
kill_when() {
  "$W" -q -d "$1" import-bundle "$T/b.bundle" --signer "$T/pub.pem" > /dev/null 2>&1 &
  local pid=$! caught=1
  for _ in $(seq 3000); do
    v=$(q "$1" "$2")
    if [ -n "$v" ] && [ "$v" != 0 ]; then kill -9 "$pid" 2>/dev/null && caught=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  wait "$pid" 2>/dev/null
  return $caught
}
content_of() { (cd "$1/content" && find . -path ./.tmp -prune -o -type f -print | sort | xargs sha256sum); }

# 1. killed while staging
kill_when "$T/a" "SELECT count(*) FROM sync_stage"
check "import killed while staging" test $? -eq 0
equals "nothing published after the kill" "$(q "$T/a" "SELECT count(*) FROM revision")" 0
equals "no replay state recorded" "$(q "$T/a" "SELECT count(*) FROM state WHERE key LIKE 'bundle.signer.%'")" 0
"$W" -q -d "$T/a" import-bundle "$T/b.bundle" --signer "$T/pub.pem" > "$T/a.out" 2>&1
equals "the same bundle imports afterwards" $? 0
equals "every revision published" "$(q "$T/a" "SELECT count(*) FROM revision")" "$n_rev"
equals "nothing left staged" "$(q "$T/a" "SELECT count(*) FROM sync_stage")" 0

# 2. killed while storing payloads (the catalogue is published by then)
kill_when "$T/b" "SELECT count(*) FROM state WHERE key LIKE 'bundle.signer.%.content' AND value = 'pending'"
check "import killed while storing payloads" test $? -eq 0
equals "the catalogue was published whole" "$(q "$T/b" "SELECT count(*) FROM revision")" "$n_rev"
"$W" -q -d "$T/b" status > "$T/b.st" 2>&1
contains "status says payloads are pending" "$T/b.st" "payloads pending: import the same bundle again"
check "some payloads are missing" test "$(q "$T/b" "SELECT count(*) FROM file WHERE state <> 'present'")" -gt 0
"$W" -q -d "$T/b" import-bundle "$T/b.bundle" --signer "$T/pub.pem" > "$T/b.out" 2>&1
equals "the same bundle is accepted once more" $? 0
contains "it stores the missing payloads" "$T/b.out" "content: [0-9]+ payloads in the bundle, [1-9][0-9]* stored"
content_of "$T0" > "$T/c0"; content_of "$T/b" > "$T/cb"
check "content store equals tier 0's" cmp -s "$T/c0" "$T/cb"
"$W" -q -d "$T/b" status > "$T/b.st" 2>&1
lacks "status no longer says pending" "$T/b.st" "payloads pending"
"$W" -q -d "$T/b" import-bundle "$T/b.bundle" --signer "$T/pub.pem" > "$T/b.out" 2> "$T/b.err"
check "a third import is a replay again" test $? -eq 1
contains "refused as a replay" "$T/b.err" "not newer than the last one imported"
e2e_finish
