#!/usr/bin/env bash
# trust_tls.sh -- issue 4 acceptance, TLS side, through `wsus-replica pin check`
# against openssl s_server on loopback. Each refusal must exit non-zero and
# say why: http:// upstream, TLS 1.0/1.1 only, untrusted CA, wrong host name,
# a trusted but unpinned certificate, a pin store with no readable
# certificate, no ca_file (system store only). Passes: empty store (not
# enforced), pinned leaf, pinned CA, enforce_pinning = false (with a warning).
# Also: pin add / list / remove through the CLI.
. "$(dirname "$0")/trust_lib.sh"
mk_certs
P_GOOD=$(free_port); s_server "$P_GOOD" good -cert_chain "$T/ca.pem"
P_WRONG=$(free_port); s_server "$P_WRONG" wrongname
P_FOREIGN=$(free_port); s_server "$P_FOREIGN" foreign
P_TLS11=$(free_port); s_server "$P_TLS11" good -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'
P_TLS10=$(free_port); s_server "$P_TLS10" good -tls1 -cipher 'DEFAULT@SECLEVEL=0'
GOOD_FP=$(fp "$T/good.pem"); CA_FP=$(fp "$T/ca.pem"); OTHER_FP=$(fp "$T/other.pem")

check_case() { # NAME CONF: run pin check, output in $T/out, status in $rc
  "$W" -v -c "$2" pin check > "$T/out" 2>&1; rc=$?
}

# 1. empty pin store: allowed, verdict says not enforced, chain printed
write_conf "$T/c1" "https://127.0.0.1:$P_GOOD/" "$T/pins-empty"
check_case empty "$T/c1"
equals "empty store: pin check exits 0" "$rc" 0
contains "empty store: verdict not enforced" "$T/out" "verdict: pin store empty, not enforced"
contains "empty store: leaf printed with its sha256" "$T/out" "\[0\] subject=\"CN=127.0.0.1\".*sha256=$GOOD_FP"
contains "empty store: CA printed" "$T/out" "\[1\] subject=\"CN=Trust Test CA\".*sha256=$CA_FP"
contains "empty store: a sync would be allowed" "$T/out" "^a sync would be allowed: yes"

# 2. http:// upstream: refused at config load, and by the client itself
printf '[upstream]\nurl = http://127.0.0.1:%s/\n' "$P_GOOD" > "$T/c2"
check_case http "$T/c2"
expect_fail "http:// upstream in the config" "$T/out" "$rc" "not an https:// URL"
P_REC=$(free_port); recorder "$P_REC" "$T/rec-http"
"$HTTPGET" -c "$T/c1" probe "http://127.0.0.1:$P_REC/" > "$T/out" 2>&1; rc=$?
expect_fail "http:// URL given to the client" "$T/out" "$rc" "refusing URL http://127.0.0.1:$P_REC/: only https:// is allowed"
equals "http:// URL: no connection was made" "$(wc -l < "$T/rec-http")" 0
"$HTTPGET" -c "$T/c1" probe "HTTPS://127.0.0.1:$P_GOOD/" > "$T/out" 2>&1
equals "HTTPS:// in capitals is accepted" "$(grep -c '^status=200' "$T/out")" 1

# 3. TLS 1.1 and TLS 1.0 only
write_conf "$T/c3" "https://127.0.0.1:$P_TLS11/" "$T/pins-empty"
check_case tls11 "$T/c3"
expect_fail "TLS 1.1-only upstream" "$T/out" "$rc" "TLS handshake with .* failed: the upstream offers nothing from TLS 1.2 on"
contains "TLS 1.1-only upstream: sync not allowed" "$T/out" "^a sync would be allowed: no"
write_conf "$T/c3b" "https://127.0.0.1:$P_TLS10/" "$T/pins-empty"
check_case tls10 "$T/c3b"
expect_fail "TLS 1.0-only upstream" "$T/out" "$rc" "TLS handshake with .* failed: the upstream offers nothing from TLS 1.2 on"

# 4. certificate from an untrusted CA
write_conf "$T/c4" "https://127.0.0.1:$P_FOREIGN/" "$T/pins-empty"
check_case untrusted "$T/c4"
expect_fail "untrusted CA" "$T/out" "$rc" "certificate verification failed: unable to get local issuer certificate"
contains "untrusted CA: the presented leaf is shown" "$T/out" "\[0\] subject=\"CN=127.0.0.1\" issuer=\"CN=Other Test CA\""
# pinning the untrusted CA does not make it trusted: pins narrow, never widen
mkdir -p "$T/pins-other"; cp "$T/other.pem" "$T/pins-other/"
write_conf "$T/c4b" "https://127.0.0.1:$P_FOREIGN/" "$T/pins-other"
check_case untrusted-pinned "$T/c4b"
expect_fail "untrusted CA, even when pinned" "$T/out" "$rc" "certificate verification failed"

# 5. wrong host name (trusted CA)
write_conf "$T/c5" "https://127.0.0.1:$P_WRONG/" "$T/pins-empty"
check_case wrongname "$T/c5"
expect_fail "wrong host name" "$T/out" "$rc" "TLS verification failed for .*certificate verification failed: (IP address|hostname) mismatch"
contains "wrong host name: sync not allowed" "$T/out" "^a sync would be allowed: no"
write_conf "$T/c5b" "https://localhost:$P_GOOD/" "$T/pins-empty"
check_case localhost "$T/c5b"
expect_fail "a name the certificate (IP only) does not hold" "$T/out" "$rc" "certificate verification failed: hostname mismatch"

# 6. trusted CA, not pinned, store non-empty
write_conf "$T/c6" "https://127.0.0.1:$P_GOOD/" "$T/pins-other"
check_case notpinned "$T/c6"
expect_fail "trusted but not pinned" "$T/out" "$rc" "certificate not pinned: presented chain .*; pin store has 1 certificate"
contains "not pinned: the log line is an error" "$T/out" "^[^ ]+ error sync trust verdict .*pinned certificate in store: no, refused: certificate not pinned: presented chain"
contains "not pinned: no certificate marked as matched" "$T/out" "^matched: none"

# 7. enforce_pinning = false: allowed with a warning
write_conf "$T/c7" "https://127.0.0.1:$P_GOOD/" "$T/pins-other" "enforce_pinning = false"
check_case noenforce "$T/c7"
equals "enforce_pinning = false: exits 0" "$rc" 0
contains "enforce_pinning = false: warning logged" "$T/out" "^[^ ]+ warn sync trust verdict .*pinned certificate in store: no \\(enforce_pinning = false, proceeding\\): certificate not pinned: presented chain"
contains "enforce_pinning = false: sync allowed" "$T/out" "^a sync would be allowed: yes"

# 8. pinned leaf / pinned CA through the CLI
write_conf "$T/c8" "https://127.0.0.1:$P_GOOD/" "$T/pins"
"$W" -v -c "$T/c8" pin add "$T/good.pem" > "$T/out" 2>&1; rc=$?
equals "pin add exits 0" "$rc" 0
contains "pin add prints subject and sha256" "$T/out" "pinned: subject=\"CN=127.0.0.1\" sha256=$GOOD_FP"
check "pin add stores <sha256>.pem" test -f "$T/pins/$GOOD_FP.pem"
"$W" -v -c "$T/c8" pin add "$T/good.pem" > "$T/out" 2>&1
contains "pin add twice: already pinned" "$T/out" "already pinned"
check_case pinned-leaf "$T/c8"
equals "pinned leaf: exits 0" "$rc" 0
contains "pinned leaf: matched at position 0" "$T/out" "pinned certificate in store: yes, matched \"CN=127.0.0.1\" sha256=$GOOD_FP \(chain position 0\)"
contains "pinned leaf: marked in the chain" "$T/out" "sha256=$GOOD_FP .*<- pinned"
openssl x509 -in "$T/ca.pem" -outform DER -out "$T/ca.der"
"$W" -v -c "$T/c8" pin add "$T/ca.der" > "$T/out" 2>&1
contains "pin add accepts DER" "$T/out" "pinned: subject=\"CN=Trust Test CA\" sha256=$CA_FP"
"$W" -v -c "$T/c8" pin list > "$T/out" 2>&1
contains "pin list shows the leaf" "$T/out" "^$GOOD_FP  .*  valid    CN=127.0.0.1"
contains "pin list shows the CA" "$T/out" "^$CA_FP "
contains "pin list counts" "$T/out" "2 pinned certificates"
"$W" -v -c "$T/c8" pin remove "${GOOD_FP:0:12}" > "$T/out" 2>&1; rc=$?
equals "pin remove by prefix exits 0" "$rc" 0
check "pin remove deleted the file" test ! -e "$T/pins/$GOOD_FP.pem"
check_case pinned-ca "$T/c8"
equals "pinned CA: exits 0" "$rc" 0
contains "pinned CA: matched at position 1" "$T/out" "matched \"CN=Trust Test CA\" sha256=$CA_FP \(chain position 1\)"
"$W" -v -c "$T/c8" pin remove "${CA_FP:0:5}" > "$T/out" 2>&1; rc=$?
expect_fail "pin remove with 5 digits" "$T/out" "$rc" "at least 8 hex digits"
"$W" -v -c "$T/c8" pin remove "${OTHER_FP:0:8}" > "$T/out" 2>&1; rc=$?
expect_fail "pin remove of an unknown pin" "$T/out" "$rc" "no pinned certificate matches"
"$W" -v -c "$T/c8" pin add "$T/good.key" > "$T/out" 2>&1; rc=$?
expect_fail "pin add of a key file" "$T/out" "$rc" "holds no certificate"
"$W" -v -c "$T/c8" pin add "$T/both.pem" > "$T/out" 2>&1; rc=$?
expect_fail "pin add of a two-certificate file" "$T/out" "$rc" "several certificates"

# 9. a pin store whose files hold no certificate fails closed
mkdir -p "$T/pins-broken"; echo "not a certificate" > "$T/pins-broken/garbled.pem"
write_conf "$T/c9" "https://127.0.0.1:$P_GOOD/" "$T/pins-broken"
check_case broken "$T/c9"
expect_fail "pin store without a readable certificate" "$T/out" "$rc" "no readable certificate: refusing to run unpinned"
contains "broken store: the file is named in a warning" "$T/out" "^[^ ]+ warn sync pin store: .*garbled.pem ignored"

# 10. no ca_file: the system store alone, which does not know the test CA
write_conf "$T/c10" "https://127.0.0.1:$P_GOOD/" "$T/pins-empty"
sed -i '/^ca_file = /d' "$T/c10"
check_case systemstore "$T/c10"
expect_fail "system store does not trust the test CA" "$T/out" "$rc" "certificate verification failed"

e2e_finish
