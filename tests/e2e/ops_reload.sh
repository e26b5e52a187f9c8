#!/usr/bin/env bash
# ops_reload.sh -- issue 11, reload and lifecycle: serve with a config; after
# the certificate files and the pin store change, SIGHUP makes new
# connections get the new certificate while a keep-alive connection opened
# before goes on working, and the next scheduled sync uses the new pin store
# (refused: the upstream is no longer pinned). A restart-only change (listen)
# is reported and kept; a broken config changes nothing. systemd's
# NOTIFY_SOCKET hears READY, RELOADING, STOPPING; SIGTERM exits 0.
# A second server: SIGHUP re-reads the HTTPS admin listener's
# client-certificate allow-list and certificate, and reopens the access log
# after logrotate moved it.
. "$(dirname "$0")/lib.sh"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
mkcert() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/$1.key" -out "$T/$1.pem" > /dev/null 2>&1; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
served_fp() { openssl s_client -connect "127.0.0.1:$1" < /dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 \
  | cut -d= -f2 | tr -d : | tr A-F a-f; }
wait_line() { for _ in $(seq 150); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
mkcert up; mkcert old; mkcert new; mkcert other

# the upstream: a root server with a small catalogue
"$GEN" --seed 3 --revisions 30 --out "$T/cat" > /dev/null
printf '[server]\ntls_cert = %s\ntls_key = %s\n[admin]\nlisten = off\n' \
  "$T/up.pem" "$T/up.key" > "$T/up.conf"
"$W" -q -c "$T/up.conf" -d "$T/up" import "$T/cat" > /dev/null
"$W" -c "$T/up.conf" -d "$T/up" serve --listen 127.0.0.1:0 > "$T/up.out" 2> "$T/up.err" &
E2E_PIDS+=($!)
wait_line "$T/up.out" '^listening' || fail "upstream did not start"
UPORT=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/up.out")

# the replica: our certificate from files, the upstream pinned, syncs every 10 s
cp "$T/old.pem" "$T/cert.pem"; cp "$T/old.key" "$T/cert.key"
mkdir -p "$T/pins"; cp "$T/up.pem" "$T/pins/"
write_conf() {
  printf '[server]\ncontent_http_listen = %s\ntls_cert = %s\ntls_key = %s\n[upstream]\nurl = https://127.0.0.1:%s/\nca_file = %s\nretries = 0\n' \
    "$1" "$T/cert.pem" "$T/cert.key" "$UPORT" "$T/up.pem"
  printf '[trust]\npin_store = %s\n[sync]\ninterval = 10\njitter = 0\n[admin]\nlisten = off\n[log]\nlevel = %s\n' "$T/pins" "$2"
}
write_conf off info > "$T/r.conf"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)
with open(sys.argv[2], "a") as f:
    while True:
        try: d = s.recv(4096).decode()
        except Exception: break
        f.write(d.replace("\n", " ") + "\n"); f.flush()
        if "STOPPING=1" in d: break' "$T/notify.sock" "$T/notify.log" &
E2E_PIDS+=($!)
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$T/notify.sock" "$W" -c "$T/r.conf" -d "$T/r" serve --listen 127.0.0.1:0 > "$T/r.out" 2> "$T/r.err" &
RPID=$!
E2E_PIDS+=($RPID)
wait_line "$T/r.out" '^listening' || fail "replica did not start"
RPORT=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/r.out")
check "systemd hears READY=1" wait_line "$T/notify.log" '^READY=1'
equals "the old certificate is served" "$(served_fp "$RPORT")" "$(fp "$T/old.pem")"
check "the first scheduled sync is allowed by the pin" wait_line "$T/r.err" 'phase=publish'

# a keep-alive connection opened before the reload
python3 - "$RPORT" "$T/ka" <<'PY' &
import http.client, ssl, sys, time, hashlib, os
port, out = int(sys.argv[1]), sys.argv[2]
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
def get():
    c.request("GET", "/nothing-here"); r = c.getresponse(); r.read(); return r.status
s1 = get(); sock = c.sock; fp = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
open(out + ".ready", "w").close()
while not os.path.exists(out + ".go"): time.sleep(0.1)
s2 = get()
same = c.sock is sock
open(out, "w").write("%d %d %s %s\n" % (s1, s2, "same" if same else "new", fp))
PY
KA=$!
for _ in $(seq 100); do [ -e "$T/ka.ready" ] && break; sleep 0.1; done

# renew the certificate, re-pin to another certificate, turn on the plain
# content port (restart-only)
cp "$T/new.pem" "$T/cert.pem"; cp "$T/new.key" "$T/cert.key"
rm "$T/pins/up.pem"; cp "$T/other.pem" "$T/pins/"
write_conf 127.0.0.1:1 warning > "$T/r.conf"
: > "$T/r.err.mark"; before=$(wc -l < "$T/r.err")
kill -HUP $RPID
check "reload is logged" wait_line "$T/r.err" 'info serve reloaded'
check "systemd hears RELOADING=1" wait_line "$T/notify.log" '^RELOADING=1 MONOTONIC_USEC=[0-9]+'
contains "listen change reported, kept" "$T/r.err" 'warn serve reload: \[server\] content_http_listen changed: needs a restart, keeping off'
contains "the pin store is read again" "$T/r.err" 'reload: pin store .* has 1 certificates'
contains "the new certificate is loaded" "$T/r.err" "reload: certificate sha256=$(fp "$T/new.pem")"
equals "new connections get the new certificate" "$(served_fp "$RPORT")" "$(fp "$T/new.pem")"
touch "$T/ka.go"; wait $KA
read -r s1 s2 same kafp < "$T/ka" 2>/dev/null
equals "the keep-alive connection answered before the reload" "$s1" 404
equals "and after it" "$s2" 404
equals "on the same connection" "$same" same
equals "which kept the old certificate" "$kafp" "$(fp "$T/old.pem")"
equals "the log level follows [log] level (warning: the 404 after it is not logged)" \
  "$(grep -c 'refused status=404' "$T/r.err")" 1
check "the next sync uses the new pin store: refused" wait_line "$T/r.err" 'certificate not pinned'
check "the process survived the reload" kill -0 $RPID

# a broken config changes nothing
printf '[server]\nthreads = many\n' > "$T/r.conf"
kill -HUP $RPID
check "a broken config is reported" wait_line "$T/r.err" 'reload failed, nothing changed: .*r\.conf:2'
equals "and the certificate stays" "$(served_fp "$RPORT")" "$(fp "$T/new.pem")"

# SIGTERM
kill -TERM $RPID; wait $RPID; rc=$?
equals "SIGTERM exits 0" $rc 0
check "systemd hears STOPPING=1" wait_line "$T/notify.log" '^STOPPING=1'

# The admin listener on a non-loopback-looking address (the IPv6 loopback
# written out in full: HTTPS with client certificates, and it stays on this
# machine); its allow-list and the access log follow SIGHUP.
mkcert adm1; mkcert adm2; mkcert aold; mkcert anew
cp "$T/aold.pem" "$T/acert.pem"; cp "$T/aold.key" "$T/acert.key"
AP=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])')
adm_conf() {
  printf '[server]\ntls_cert = %s\ntls_key = %s\n' "$T/acert.pem" "$T/acert.key"
  printf '[admin]\nlisten = [0:0:0:0:0:0:0:1]:%s\nclient_cert_allow = %s\n[log]\naccess_log = %s\n' \
    "$AP" "$(fp "$T/$1.pem")" "$T/access.log"
}
adm_fp() { openssl s_client -connect "[::1]:$AP" < /dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 \
  | cut -d= -f2 | tr -d : | tr A-F a-f; }
adm_get() { curl -sk --cert "$T/$1.pem" --key "$T/$1.key" -o /dev/null -w '%{http_code}' "https://[::1]:$AP/health"; }
adm_conf adm1 > "$T/a.conf"
"$W" -c "$T/a.conf" -d "$T/a" serve --listen 127.0.0.1:0 > "$T/a.out" 2> "$T/a.err" &
APID=$!
E2E_PIDS+=($APID)
wait_line "$T/a.out" '^admin on https://' || fail "the HTTPS admin listener did not start"
APORT=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/a.out")
equals "admin: the allowed client certificate is let in" "$(adm_get adm1)" 200
equals "admin: another client certificate is refused" "$(adm_get adm2)" 403
curl -sk -o /dev/null "https://127.0.0.1:$APORT/before-rotation"
wait_line "$T/access.log" ' /before-rotation - 404 ' || fail "no access log line before the rotation"
equals "admin: serves the certificate it started with" "$(adm_fp)" "$(fp "$T/aold.pem")"
mv "$T/access.log" "$T/access.log.1"
cp "$T/anew.pem" "$T/acert.pem"; cp "$T/anew.key" "$T/acert.key"
adm_conf adm2 > "$T/a.conf"
kill -HUP $APID
check "admin: the new allow-list is loaded" wait_line "$T/a.err" 'info admin reload: client_cert_allow has 1 fingerprints'
check "access log: reopened" wait_line "$T/a.err" "access log reopened path=$T/access.log"
equals "admin: after SIGHUP the newly allowed certificate is let in" "$(adm_get adm2)" 200
equals "admin: and the one taken off the list is refused" "$(adm_get adm1)" 403
equals "admin: the renewed certificate is served after SIGHUP" "$(adm_fp)" "$(fp "$T/anew.pem")"
curl -sk -o /dev/null "https://127.0.0.1:$APORT/after-rotation"
check "access log: the request after SIGHUP is in the new file" wait_line "$T/access.log" ' /after-rotation - 404 '
lacks "access log: and not in the rotated one" "$T/access.log.1" 'after-rotation'
contains "access log: the rotated file kept the earlier lines" "$T/access.log.1" ' /before-rotation - 404 '
kill -TERM $APID; wait $APID
equals "SIGTERM exits 0 (second server)" $? 0

e2e_finish
