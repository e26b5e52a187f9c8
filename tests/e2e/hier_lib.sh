# hier_lib.sh -- shared by the hier_*.sh end-to-end tests (sourced, not run):
# tiers of `wsus-replica` on loopback, each with a certificate made here, a
# config whose [upstream] is the tier above (its certificate is both the CA
# file and the only pin), and helpers to sync, serve and compare them.
. "$(dirname "$0")/lib.sh"
[ -n "${E2E_TMP:-}" ] && [ -d "$E2E_TMP" ] || { echo "hier_lib.sh: lib.sh did not set up E2E_TMP"; exit 1; }
W="$WSUS_BIN"
T=$E2E_TMP
GEN="${WSUS_BUILD_DIR:-$(dirname "$WSUS_BIN")}/wsus-gencatalog"
command -v sqlite3 > /dev/null || { echo "hier_lib.sh: needs the sqlite3 command"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# mk_cert NAME: a self-signed certificate for 127.0.0.1 in $T/NAME.crt / .key
mk_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$T/$1.key" -out "$T/$1.crt" > /dev/null 2>&1
}

# fp FILE: SHA-256 of a certificate's DER, lower-case hex
fp() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }

# tier NAME [UPSTREAM] [EXTRA [section] key = value LINES...]: certificate,
# port, data dir $T/NAME.d and config $T/NAME.conf. With UPSTREAM (another
# tier's name) the tier is a replica of it, pinned to its certificate.
tier() {
  local name=$1 up=${2:-}
  shift; [ $# -gt 0 ] && shift
  mk_cert "$name"
  eval "PORT_$name=$(free_port)"
  local port; port=$(eval echo "\$PORT_$name")
  {
    echo "[server]"
    echo "listen = 127.0.0.1:$port"
    echo "tls_cert = $T/$name.crt"
    echo "tls_key = $T/$name.key"
    if [ -n "$up" ]; then
      local up_port; up_port=$(eval echo "\$PORT_$up")
      mkdir -p "$T/$name.pins"
      cp "$T/$up.crt" "$T/$name.pins/"
      echo "[upstream]"
      echo "url = https://127.0.0.1:$up_port"
      echo "ca_file = $T/$up.crt"
      echo "mode = replica"
      echo "retries = 1"
      echo "timeout = 30"
      echo "[trust]"
      echo "pin_store = $T/$name.pins"
      echo "enforce_pinning = true"
    fi
    echo "[storage]"
    echo "data_dir = $T/$name.d"
    for l in "$@"; do echo "$l"; done
  } > "$T/$name.conf"
}

# w NAME ARGS...: wsus-replica with that tier's config
w() { local n=$1; shift; "$W" -v -c "$T/$n.conf" "$@"; }
# quiet CMD...: run it with stdout dropped (for check)
quiet() { "$@" > /dev/null; }

# serve NAME: start the tier's front end (pid in SERVE_<NAME>, log $T/NAME.serve.err);
# SERVE_FLAGS (e.g. -v) go before the command
serve() {
  # the binary itself, not through w: $! must be its pid for stop and cleanup
  "$W" -c "$T/$1.conf" ${SERVE_FLAGS:-} serve > "$T/$1.serve.out" 2> "$T/$1.serve.err" &
  local pid=$!
  E2E_PIDS+=("$pid")
  eval "SERVE_$1=$pid"
  local i
  for i in $(seq 100); do
    grep -q '^listening on https://' "$T/$1.serve.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "tier $1 does not start:"; sed 's/^/     | /' "$T/$1.serve.err" | tail -5
  return 1
}

# stop NAME: SIGTERM the tier's front end and wait for it; fails when it
# does not exit cleanly
stop() {
  local pid rc; pid=$(eval echo "\${SERVE_$1:-}")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rc=$?
  eval "SERVE_$1="
  [ "$rc" = 0 ] || { echo "tier $1 exited with status $rc:"; tail -5 "$T/$1.serve.err" | sed 's/^/     | /'; return 1; }
}

# sync NAME TAG: `sync` once; stdout/stderr in $T/NAME.TAG.out/.err, returns its status
SYNC_N=0
sync_tier() {
  w "$1" sync > "$T/$1.$2.out" 2> "$T/$1.$2.err"
}

# q NAME SQL: a query on the tier's database
q() { sqlite3 "$T/$1.d/wsus.db" "$2"; }

# What must be equal between tiers (ids, revisions, documents, fragments,
# groups, live deployments, declines, payload names).
snap_catalog()     { w "$1" -q catalog list; }
snap_documents()   { q "$1" "SELECT update_id, revision_number, hex(xml_sha1) FROM revision ORDER BY 1, 2"; }
snap_fragments()   { q "$1" "SELECT r.update_id, r.revision_number, f.type, f.locale, hex(f.xml) FROM fragment f
                              JOIN revision r ON r.revision_id = f.revision_id ORDER BY 1, 2, 3, 4" | md5sum; }
snap_groups()      { w "$1" -q group list; }
snap_deployments() { q "$1" "SELECT deployment_id, update_id, revision_number, group_id, action,
                              coalesce(deadline, ''), download_priority, is_assigned, coalesce(go_live_time, '')
                              FROM deployment WHERE dead = 0 ORDER BY 1"; }
snap_declined()    { q "$1" "SELECT DISTINCT update_id FROM revision WHERE hidden = 1 ORDER BY 1"; }
snap_content()     { (cd "$T/$1.d/content" && find . -path ./.tmp -prune -o -type f -print | sort); }

# same WHAT A B: the snapshot WHAT of tiers A and B is identical (and not empty)
same() {
  "snap_$1" "$2" > "$T/snap.$1.$2" 2>&1
  "snap_$1" "$3" > "$T/snap.$1.$3" 2>&1
  if [ -s "$T/snap.$1.$2" ] && cmp -s "$T/snap.$1.$2" "$T/snap.$1.$3"; then
    ok "$1 of $3 equal $2's ($(wc -l < "$T/snap.$1.$2") lines)"
  else
    fail "$1 of $3 differ from $2's"
    diff "$T/snap.$1.$2" "$T/snap.$1.$3" | head -10 | sed 's/^/     | /'
  fi
}

# log_num FILE KEY: the value of the last KEY=<n> in a log
log_num() { grep -o "$2=[0-9]*" "$1" | tail -1 | cut -d= -f2; }
