# lib.sh -- helpers for the end-to-end scripts: a temp dir removed on exit,
# and checks that count and explain failures. Source it; call e2e_finish last.
set -uo pipefail
: "${WSUS_BIN:?WSUS_BIN must point at the wsus-replica binary}"
: "${WSUS_SHARED_DIR:?WSUS_SHARED_DIR must point at ../shared}"
E2E_TMP=$(mktemp -d /tmp/wsus-e2e.XXXXXX)
E2E_PIDS=()
e2e_cleanup() {
  for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT
E2E_PASS=0
E2E_FAIL=0
ok()   { E2E_PASS=$((E2E_PASS + 1)); echo "ok   $*"; }
fail() { E2E_FAIL=$((E2E_FAIL + 1)); echo "FAIL $*"; }
# check NAME COMMAND...: passes when the command exits 0
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n"; fi; }
# contains NAME FILE PATTERN (grep -E)
contains() { if grep -Eq -- "$3" "$2"; then ok "$1"; else fail "$1 (no /$3/ in $2:)"; sed 's/^/     | /' "$2" | head -20; fi; }
lacks()    { if grep -Eq -- "$3" "$2"; then fail "$1 (/$3/ found in $2)"; sed 's/^/     | /' "$2" | head -20; else ok "$1"; fi; }
equals()   { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi; }
json_num() { grep -o "\"$2\": [0-9]*" "$1" | head -1 | grep -o '[0-9]*$'; }
e2e_finish() {
  echo "$E2E_PASS passed, $E2E_FAIL failed"
  [ "$E2E_FAIL" -eq 0 ]
}
