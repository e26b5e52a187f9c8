#!/usr/bin/env bash
# trust_proxy.sh -- issue 4 acceptance, proxy side: Debian's tinyproxy as the
# system proxy (CONNECT, TLS end to end, pinning still enforced, NO_PROXY in
# the environment changes nothing); an intercepting proxy in the environment
# is never touched while allow_user_proxy_fallback = false; with the fallback
# allowed the user proxy is tried only after the system path failed at the
# connection level, never after a trust failure, and pinning applies there
# too.
. "$(dirname "$0")/trust_lib.sh"
command -v tinyproxy > /dev/null || { echo "tinyproxy is required (scripts/deps.sh installs it)"; exit 1; }
mk_certs
mk_leaf mitm other 127.0.0.1 IP:127.0.0.1   # the interceptor's certificate
P=$(free_port); s_server "$P" good -cert_chain "$T/ca.pem"
U="https://127.0.0.1:$P/"
PT=$(free_port); TPLOG="$T/tinyproxy.log"; tinyproxy_start "$PT" "$P" "$TPLOG"
PM=$(free_port); MLOG="$T/mitm.log"; mitm_proxy "$PM" mitm "$MLOG"
PC=$(free_port)   # nothing listens here: a dead system proxy
GOOD_FP=$(fp "$T/good.pem"); CA_FP=$(fp "$T/ca.pem")
mkdir -p "$T/pins" "$T/pins-other"
cp "$T/ca.pem" "$T/pins/"; cp "$T/other.pem" "$T/pins-other/"
connects() { grep -c "Request (file descriptor [0-9]*): CONNECT 127.0.0.1:$P " "$TPLOG"; }
unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY http_proxy

# 1. tinyproxy as the system proxy, pinned CA: allowed, through the tunnel
write_conf "$T/c1" "$U" "$T/pins" "proxy = http://127.0.0.1:$PT"
n0=$(connects)
"$W" -v -c "$T/c1" pin check > "$T/out" 2>&1; rc=$?
equals "system proxy: pin check exits 0" "$rc" 0
contains "system proxy: route shown" "$T/out" "^route: system proxy http://127.0.0.1:$PT"
contains "system proxy: pin matched through the tunnel" "$T/out" "matched \"CN=Trust Test CA\" sha256=$CA_FP"
equals "system proxy: tinyproxy saw one CONNECT" "$(( $(connects) - n0 ))" 1

# 2. through the same proxy, a certificate that is not pinned still fails
write_conf "$T/c2" "$U" "$T/pins-other" "proxy = http://127.0.0.1:$PT"
n0=$(connects)
"$W" -v -c "$T/c2" pin check > "$T/out" 2>&1; rc=$?
expect_fail "system proxy, not pinned" "$T/out" "$rc" "certificate not pinned: presented chain .*pin store has 1 certificate"
contains "system proxy, not pinned: it did go through the proxy" "$T/out" "^route: system proxy"
equals "system proxy, not pinned: tinyproxy saw the CONNECT" "$(( $(connects) - n0 ))" 1

# 3. NO_PROXY / no_proxy in the environment do not bypass the system proxy
n0=$(connects)
NO_PROXY='*' no_proxy='*' "$HTTPGET" -c "$T/c1" probe "$U" > "$T/out" 2>&1; rc=$?
equals "NO_PROXY=*: still succeeds" "$rc" 0
equals "NO_PROXY=*: still through tinyproxy" "$(( $(connects) - n0 ))" 1

# 4. an intercepting proxy in the environment, fallback off, no system proxy:
#    ignored (logged at debug), the request goes direct. The client trusts the
#    interceptor's CA here, so only the policy keeps it out.
CA_FILE="$T/both.pem" write_conf "$T/c4" "$U" "$T/pins"
https_proxy="http://127.0.0.1:$PM" "$W" -v -c "$T/c4" pin check > "$T/out" 2>&1; rc=$?
equals "env proxy, fallback off: pin check exits 0" "$rc" 0
contains "env proxy, fallback off: went direct" "$T/out" "^route: direct"
contains "env proxy, fallback off: logged as ignored" "$T/out" "^[^ ]+ debug sync ignoring the user proxy from \\\$https_proxy \(allow_user_proxy_fallback = false\)"
equals "env proxy, fallback off: the interceptor saw nothing" "$(wc -l < "$MLOG")" 0

# 5. same, with tinyproxy as the system proxy: the system proxy is used
CA_FILE="$T/both.pem" write_conf "$T/c5" "$U" "$T/pins" "proxy = http://127.0.0.1:$PT"
n0=$(connects)
HTTPS_PROXY="http://127.0.0.1:$PM" ALL_PROXY="http://127.0.0.1:$PM" "$HTTPGET" -c "$T/c5" probe "$U" > "$T/out" 2>&1; rc=$?
equals "env proxy, fallback off, system proxy set: succeeds" "$rc" 0
contains "env proxy, fallback off, system proxy set: via the system proxy" "$T/out" "^route=system proxy http://127.0.0.1:$PT"
equals "env proxy, fallback off, system proxy set: tinyproxy used" "$(( $(connects) - n0 ))" 1
equals "env proxy, fallback off, system proxy set: the interceptor saw nothing" "$(wc -l < "$MLOG")" 0

# 6. fallback off and the system proxy is dead: fail, no fallback
write_conf "$T/c6" "$U" "$T/pins" "proxy = http://127.0.0.1:$PC"
n0=$(connects)
https_proxy="http://127.0.0.1:$PT" "$W" -v -c "$T/c6" pin check > "$T/out" 2>&1; rc=$?
expect_fail "dead system proxy, fallback off" "$T/out" "$rc" "via system proxy http://127.0.0.1:$PC: .*(Failed to connect|Couldn't connect)"
lacks "dead system proxy, fallback off: no fallback" "$T/out" "falling back"
equals "dead system proxy, fallback off: the env proxy was not used" "$(( $(connects) - n0 ))" 0

# 7. fallback allowed: system proxy dead (retried first), then the user proxy
RETRIES=1 write_conf "$T/c7" "$U" "$T/pins" "proxy = http://127.0.0.1:$PC" "allow_user_proxy_fallback = true"
n0=$(connects)
https_proxy="http://127.0.0.1:$PT" "$W" -v -c "$T/c7" pin check > "$T/out" 2>&1; rc=$?
equals "fallback: pin check exits 0" "$rc" 0
contains "fallback: the system path was retried first" "$T/out" "request failed .*route=\"system proxy http://127.0.0.1:$PC\" attempt=2/2"
contains "fallback: logged" "$T/out" "falling back to the user proxy from \\\$https_proxy"
contains "fallback: route shown" "$T/out" "^route: user proxy http://127.0.0.1:$PT \(from \\\$https_proxy\)"
contains "fallback: still pinned" "$T/out" "pinned certificate in store: yes"
equals "fallback: tinyproxy carried it" "$(( $(connects) - n0 ))" 1

# 8. fallback allowed, user proxy intercepts: pinning refuses it
CA_FILE="$T/both.pem" write_conf "$T/c8" "$U" "$T/pins" "proxy = http://127.0.0.1:$PC" "allow_user_proxy_fallback = true"
https_proxy="http://user:secret@127.0.0.1:$PM" "$W" -v -c "$T/c8" pin check > "$T/out" 2>&1; rc=$?
expect_fail "fallback to an intercepting proxy" "$T/out" "$rc" "certificate not pinned: presented chain \[0\] CN=127.0.0.1 .*\[1\] CN=Other Test CA"
contains "intercepting proxy: it was tried (after the system path)" "$MLOG" "request CONNECT 127.0.0.1:$P"
lacks "intercepting proxy: no request was sent through it" "$MLOG" "intercepted a request"
lacks "intercepting proxy: credentials not logged" "$T/out" "secret"

# 9. fallback allowed, but the system path failed on trust: no fallback
: > "$MLOG"
write_conf "$T/c9" "$U" "$T/pins-other" "proxy = http://127.0.0.1:$PT" "allow_user_proxy_fallback = true"
https_proxy="http://127.0.0.1:$PM" "$W" -v -c "$T/c9" pin check > "$T/out" 2>&1; rc=$?
expect_fail "trust failure on the system path" "$T/out" "$rc" "certificate not pinned"
lacks "trust failure on the system path: no fallback" "$T/out" "falling back"
equals "trust failure on the system path: the user proxy was not touched" "$(wc -l < "$MLOG")" 0

# 10. fallback allowed, the system path works: the user proxy is not touched
write_conf "$T/c10" "$U" "$T/pins" "proxy = http://127.0.0.1:$PT" "allow_user_proxy_fallback = true"
https_proxy="http://127.0.0.1:$PM" "$HTTPGET" -c "$T/c10" probe "$U" > "$T/out" 2>&1; rc=$?
equals "system path works: succeeds" "$rc" 0
equals "system path works: the user proxy was not touched" "$(wc -l < "$MLOG")" 0

e2e_finish
