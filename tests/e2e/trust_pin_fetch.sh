#!/usr/bin/env bash
# trust_pin_fetch.sh -- issue 9.2: `pin fetch` shows the chain the upstream
# presents (through the configured proxy policy) and stores nothing; with
# --accept naming a presented certificate's SHA-256 it stores exactly that
# one; a wrong SHA-256 is refused and nothing is stored. A self-signed
# upstream can be fetched (the chain is shown although nothing trusts it yet),
# and `pin check` then says that ca_file must name the pinned certificate.
. "$(dirname "$0")/trust_lib.sh"
command -v tinyproxy > /dev/null || { echo "tinyproxy is required (scripts/deps.sh installs it)"; exit 1; }
mk_certs
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/self.key" -out "$T/self.pem" > /dev/null 2>&1
P=$(free_port); s_server "$P" good -cert_chain "$T/ca.pem"
PS=$(free_port); s_server "$PS" self
PT=$(free_port); TPLOG="$T/tinyproxy.log"; tinyproxy_start "$PT" "$P" "$TPLOG"
GOOD_FP=$(fp "$T/good.pem"); CA_FP=$(fp "$T/ca.pem"); OTHER_FP=$(fp "$T/other.pem"); SELF_FP=$(fp "$T/self.pem")
unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY http_proxy
stored() { ls "$1" | wc -l; }

# 1. without --accept: the chain, nothing stored (through the system proxy)
write_conf "$T/c1" "https://127.0.0.1:$P/" "$T/pins" "proxy = http://127.0.0.1:$PT"
"$W" -c "$T/c1" pin fetch > "$T/out" 2>&1; rc=$?
equals "pin fetch exits 0" "$rc" 0
contains "  through the configured proxy" "$T/out" "^route: system proxy http://127.0.0.1:$PT"
check "  tinyproxy saw the CONNECT" grep -q "CONNECT 127.0.0.1:$P " "$TPLOG"
contains "  the leaf: subject" "$T/out" '\[0\] subject="CN=127.0.0.1"'
contains "  the leaf: issuer" "$T/out" 'issuer="CN=Trust Test CA"'
contains "  the leaf: sha256" "$T/out" "sha256=$GOOD_FP"
contains "  the leaf: expiry" "$T/out" "not_after=20[0-9-]*T"
contains "  the CA too" "$T/out" "sha256=$CA_FP"
contains "  says how to pin" "$T/out" "nothing stored.*pin fetch --accept SHA256"
equals "  nothing stored" "$(stored "$T/pins")" 0

# 2. a wrong SHA-256: refused, nothing stored
"$W" -c "$T/c1" pin fetch --accept "$OTHER_FP" > "$T/out" 2>&1; rc=$?
expect_fail "pin fetch --accept of a certificate not presented" "$T/out" "$rc" "refused: $OTHER_FP is not the SHA-256 of any certificate the upstream presented; nothing stored"
equals "  nothing stored" "$(stored "$T/pins")" 0
"$W" -c "$T/c1" pin fetch --accept "${GOOD_FP:0:16}" > "$T/out" 2>&1; rc=$?
expect_fail "pin fetch --accept with a prefix" "$T/out" "$rc" "needs the full SHA-256"
equals "  nothing stored" "$(stored "$T/pins")" 0

# 3. the right SHA-256 (colon form accepted): exactly that certificate stored
colons=$(echo "$GOOD_FP" | tr a-f A-F | sed 's/../&:/g; s/:$//')
"$W" -c "$T/c1" pin fetch --accept "$colons" > "$T/out" 2>&1; rc=$?
equals "pin fetch --accept the leaf exits 0" "$rc" 0
contains "  says what it pinned" "$T/out" "^pinned: subject=\"CN=127.0.0.1\" sha256=$GOOD_FP"
check "  stored as <sha256>.pem" test -f "$T/pins/$GOOD_FP.pem"
equals "  only that one" "$(stored "$T/pins")" 1
equals "  the stored certificate is the presented one" "$(fp "$T/pins/$GOOD_FP.pem")" "$GOOD_FP"
"$W" -c "$T/c1" pin check > "$T/out" 2>&1
equals "pin check now matches it" $? 0
contains "  matched the leaf" "$T/out" "pinned certificate in store: yes, matched \"CN=127.0.0.1\" sha256=$GOOD_FP"
"$W" -c "$T/c1" pin fetch > "$T/out" 2>&1
contains "pin fetch marks what is already pinned" "$T/out" "sha256=$GOOD_FP"
contains "  (already pinned)" "$T/out" "already pinned"
"$W" -c "$T/c1" pin fetch --accept "$CA_FP" > "$T/out" 2>&1
equals "pin fetch --accept the CA while the leaf is pinned (a pinned store does not block fetch)" $? 0
check "  the CA is stored" test -f "$T/pins/$CA_FP.pem"

# 4. a self-signed upstream: fetch shows it although the CA file does not trust it
write_conf "$T/c2" "https://127.0.0.1:$PS/" "$T/pins-self"
"$W" -c "$T/c2" pin fetch > "$T/out" 2>&1; rc=$?
equals "self-signed: pin fetch exits 0" "$rc" 0
contains "  shows the self-signed leaf" "$T/out" "sha256=$SELF_FP"
"$W" -c "$T/c2" pin check > "$T/out" 2>&1; rc=$?
check "self-signed, not pinned: pin check fails" test "$rc" -ne 0
contains "  and says to pin it and set ca_file" "$T/out" "to change: the upstream's certificate is self-signed: pin it .*--accept $SELF_FP.* set \\[upstream\\] ca_file"
"$W" -c "$T/c2" pin fetch --accept "$SELF_FP" > "$T/out" 2>&1
equals "self-signed: pin fetch --accept stores it" $? 0
"$W" -c "$T/c2" pin check > "$T/out" 2>&1; rc=$?
check "self-signed, pinned, ca_file elsewhere: pin check still fails" test "$rc" -ne 0
contains "  and says ca_file must name the pinned file" "$T/out" "to change: the upstream's certificate is self-signed and pinned .* set \\[upstream\\] ca_file = $T/pins-self/$SELF_FP.pem"
sed -i "s|^ca_file = .*|ca_file = $T/pins-self/$SELF_FP.pem|" "$T/c2"
"$W" -c "$T/c2" pin check > "$T/out" 2>&1
equals "  with that change pin check passes" $? 0
e2e_finish
