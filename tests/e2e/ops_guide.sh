#!/usr/bin/env bash
# ops_guide.sh -- the README's admin guide ("Running it in production"),
# driven by the README itself: every command of its ```sh blocks and its
# ```ini block is extracted and run in order against a local upstream that
# stands in for wsus.corp:8531. Mapped, not run literally: `systemctl
# enable --now / reload / stop` (no systemd in CI) become starting serve,
# SIGHUP and SIGTERM; `journalctl` reads serve's log; dpkg-buildpackage and
# `apt-get install` are what ops_package.sh runs (into a scratch root).
. "$(dirname "$0")/lib.sh"
: "${WSUS_SOURCE_DIR:?}"
W="$WSUS_BIN"
GEN="$(dirname "$WSUS_BIN")/wsus-gencatalog"
T=$E2E_TMP
README="$WSUS_SOURCE_DIR/README.md"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_line() { for _ in $(seq 150); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }

# the guide's part of the README, and its fenced blocks
sed -n '/^## Running it in production/,/^## Layout/p' "$README" > "$T/guide.md"
check "the README has the admin guide" test -s "$T/guide.md"
awk '/^ *```sh$/{f=1; next} /^ *```$/{f=0} f' "$T/guide.md" | sed -e 's/^ *//' -e 's/ *#.*$//' | grep -v '^$' > "$T/cmds"
awk '/^ *```ini$/{f=1; next} /^ *```$/{f=0} f' "$T/guide.md" | sed -e 's/^ *//' > "$T/guide.ini"
check "the guide has commands" test "$(wc -l < "$T/cmds")" -ge 10

# the stand-in for wsus.corp:8531
"$GEN" --seed 9 --revisions 40 --out "$T/cat" > /dev/null
printf '[admin]\nlisten = off\n' > "$T/up.conf"
"$W" -q -c "$T/up.conf" -d "$T/up" import "$T/cat" > /dev/null
"$W" -c "$T/up.conf" -d "$T/up" serve --listen 127.0.0.1:0 > "$T/up.out" 2> "$T/up.err" &
E2E_PIDS+=($!)
wait_line "$T/up.out" '^listening' || fail "upstream did not start"
UPORT=$(sed -n 's/^listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/up.out")
RP=$(free_port); AP=$(free_port)

# the guide's configuration, pointed at the stand-in
sed -e "s|^listen = 0.0.0.0:8531|listen = 127.0.0.1:$RP|" -e "s|https://wsus.corp:8531|https://127.0.0.1:$UPORT|" \
    -e "s|^ca_file = .*|ca_file = $T/up/tls/server.crt|" "$T/guide.ini" > "$T/guide.conf"
printf '[storage]\ndata_dir = %s\n[admin]\nlisten = 127.0.0.1:%s\n' "$T/data" "$AP" >> "$T/guide.conf"
"$W" -c "$T/guide.conf" migrate > /dev/null 2>&1
check "the guide's configuration loads" "$W" -c "$T/guide.conf" status

RPID=
n=0
while IFS= read -r line; do
  n=$((n + 1))
  cmd=$(printf '%s' "$line" | sed -e "s|wsus.corp:8531|127.0.0.1:$UPORT|g" -e "s|-servername wsus.corp|-servername localhost|" \
        -e "s|/tmp/wsus-corp.pem|$T/wsus-corp.pem|g" -e "s|/var/backups/wsus-replica.db|$T/backup.db|g" \
        -e "s|/var/lib/wsus-replica|$T/data|g" -e "s|127.0.0.1:8532|127.0.0.1:$AP|g" \
        -e "s|^wsus-replica |\"\$W\" -c \"\$T/guide.conf\" |")
  case "$line" in
    dpkg-buildpackage*|"apt-get install"*) ok "guide: '$line' (ops_package.sh builds and unpacks the package)"; continue ;;
    chown*) ok "guide: '$line' (the wsus-replica user exists only where the package is installed)"; continue ;;
    "systemctl enable --now wsus-replica")
      "$W" -c "$T/guide.conf" serve > "$T/r.out" 2> "$T/r.err" &
      RPID=$!; E2E_PIDS+=($RPID)
      check "guide: '$line' (serve started)" wait_line "$T/r.out" '^admin on'
      continue ;;
    "systemctl reload wsus-replica")
      kill -HUP "$RPID"; check "guide: '$line' (SIGHUP)" wait_line "$T/r.err" 'serve reloaded'; continue ;;
    "systemctl stop wsus-replica")
      kill -TERM "$RPID"; wait "$RPID"; equals "guide: '$line' (SIGTERM, exit status)" $? 0; continue ;;
    journalctl*)
      check "guide: '$line' (serve's log has lines)" test -s "$T/r.err"; continue ;;
  esac
  (cd "$T" && eval "$cmd") > "$T/cmd.$n.out" 2> "$T/cmd.$n.err"; rc=$?
  if [ $rc -eq 0 ]; then ok "guide: '$line'"; else fail "guide: '$line' exits $rc"; sed 's/^/     | /' "$T/cmd.$n.err" | head -5; fi
done < "$T/cmds"

# what the commands did
check "the pinned certificate is the upstream's" grep -q "$(openssl x509 -in "$T/up/tls/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)" \
  "$T"/cmd.*.out
check "the first sync published the catalogue" grep -qE '^synced from https://127.0.0.1:[0-9]+/?: [1-9][0-9]* new' "$T"/cmd.*.out
equals "the restored database passes integrity_check" "$(sqlite3 "$T/data/wsus.db" 'PRAGMA integrity_check')" ok
"$W" -c "$T/guide.conf" status > "$T/after" 2>&1
contains "status after the restore shows the catalogue" "$T/after" '^catalogue: +[1-9][0-9]* revisions'

e2e_finish
