#!/usr/bin/env bash
# demo.sh -- the README's first command must keep working: run scripts/demo.sh
# (seeded upstream, pinned replica syncing over HTTPS, a client scan against
# the replica) on this build, with free loopback ports and a scratch directory,
# and check that each stage says what it should.
set -u
T=$(mktemp -d /tmp/wsus-e2e-demo.XXXXXX)
trap 'rm -rf "$T"' EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
pass=0; failed=0
ok()   { pass=$((pass + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
has()  { if grep -Eq -- "$2" "$T/demo.out"; then ok "$1"; else fail "$1 (no /$2/)"; fi; }

DEMO_NO_WAIT=1 WSUS_DEMO_BUILD_DIR="$WSUS_BUILD_DIR" WSUS_DEMO_DIR="$T/demo" \
  WSUS_DEMO_UPSTREAM_PORT=$(free_port) WSUS_DEMO_REPLICA_PORT=$(free_port) \
  timeout 300 bash "$WSUS_SOURCE_DIR/scripts/demo.sh" > "$T/demo.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then ok "demo exits 0"; else fail "demo exits 0 (got $rc)"; tail -20 "$T/demo.out"; fi
has "the upstream imports the sample catalogue" "^imported 500 documents"
has "the replica's pin check matches the upstream" "pinned certificate in store: yes"
has "the client is offered the approved updates" "offered [0-9]+ updates \\([1-9][0-9]* software"
has "every download is verified and the report accepted" "all digests verified; report accepted"
if pgrep -f "$T/demo" > /dev/null; then fail "no server left running"; else ok "no server left running"; fi
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
