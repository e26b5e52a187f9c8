# trust_lib.sh -- shared by the trust_*.sh end-to-end tests (sourced, not run):
# certificates made with the openssl CLI, free loopback ports, servers started
# and recorded in E2E_PIDS, and client configuration files.
. "$(dirname "$0")/lib.sh"
[ -n "${E2E_TMP:-}" ] && [ -d "$E2E_TMP" ] || { echo "trust_lib.sh: lib.sh did not set up E2E_TMP"; exit 1; }
W="$WSUS_BIN"
HTTPGET="${WSUS_BUILD_DIR:-$(dirname "$WSUS_BIN")}/wsus-httpget"
T=$E2E_TMP

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (5 s at most)
wait_port() {
  local i
  for i in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# mk_ca NAME CN: self-signed CA in $T/NAME.pem / NAME.key (90 days: outside the
# 30-day pin expiry warning, so that pin list says "valid")
mk_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
    -keyout "$T/$1.key" -out "$T/$1.pem" -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# mk_leaf NAME CA CN SAN: $T/NAME.pem / NAME.key signed by $T/CA.pem
mk_leaf() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$3" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$4" > "$T/$1.ext"
  openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial \
    -days 90 -out "$T/$1.pem" -extfile "$T/$1.ext" 2>/dev/null
}

# The certificates every trust test uses: a test CA (the configured ca_file),
# a second CA the client does not trust, and server certificates.
mk_certs() {
  mk_ca ca "Trust Test CA"
  mk_ca other "Other Test CA"
  mk_leaf good ca 127.0.0.1 IP:127.0.0.1
  mk_leaf wrongname ca wrong.example DNS:wrong.example
  mk_leaf foreign other 127.0.0.1 IP:127.0.0.1
  cat "$T/ca.pem" "$T/other.pem" > "$T/both.pem"
}

# fp FILE: SHA-256 of the certificate's DER, lower-case hex
fp() {
  openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}

# s_server PORT CERT [ARGS...]: openssl's test server answering GET with a page
s_server() {
  local port=$1 cert=$2
  shift 2
  openssl s_server -www -quiet -accept "127.0.0.1:$port" -cert "$T/$cert.pem" -key "$T/$cert.key" \
    "$@" > "$T/s_server.$port.log" 2>&1 &
  E2E_PIDS+=($!)
  wait_port "$port"
}

# write_conf FILE URL PINDIR [EXTRA LINES for [trust]...]: a client config
# (ca_file = the test CA, no retries unless RETRIES is set); PINDIR is
# created, as an admin must (a pin_store named in the file that does not
# exist is a configuration error while enforce_pinning = true)
write_conf() {
  local f=$1 url=$2 pins=$3
  shift 3
  mkdir -p "$pins"
  {
    echo "[upstream]"
    echo "url = $url"
    echo "ca_file = ${CA_FILE:-$T/ca.pem}"
    echo "retries = ${RETRIES:-0}"
    echo "timeout = 10"
    echo "[trust]"
    echo "pin_store = $pins"
    for l in "$@"; do echo "$l"; done
    echo "[storage]"
    echo "data_dir = $T/data"
  } > "$f"
}

# https_server PORT CERT LOG: a python3 HTTPS server for redirects, SOAP,
# ranges and failures (routes in the script); one log line per request and
# per connection.
https_server() {
  cat > "$T/https_server.py" <<'PY'
import gzip, http.server, socketserver, ssl, sys
port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
DATA = bytes((i * 7 + 3) % 251 for i in range(100000))
state = {"flaky": 0, "busy": 0}
def note(s):
    with open(log, "a") as f:
        f.write(s + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        note("connection")
    def log_message(self, *a):
        pass
    def send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def do_GET(self):
        rng = self.headers.get("Range", "")
        note("GET %s range=%s ae=%s" % (self.path, rng or "-", self.headers.get("Accept-Encoding", "-")))
        if self.path == "/to-http":
            return self.send(302, b"moved", extra=[("Location", "http://127.0.0.1:%d/" % port)])
        if self.path == "/to-https":
            return self.send(302, b"moved", extra=[("Location", "/hello")])
        if self.path == "/loop":
            return self.send(302, b"moved", extra=[("Location", "/loop")])
        if self.path == "/missing":
            return self.send(404, b"no such file")
        if self.path in ("/file", "/norange"):
            start = 0
            if rng.startswith("bytes=") and self.path == "/file":
                start = int(rng[6:].split("-")[0])
                body = DATA[start:]
                return self.send(206, body, "application/octet-stream",
                                 [("Content-Range", "bytes %d-%d/%d" % (start, len(DATA) - 1, len(DATA)))])
            return self.send(200, DATA, "application/octet-stream")
        if self.path == "/flaky":
            # first request: promise the whole file, send 30000 bytes, hang up
            state["flaky"] += 1
            if state["flaky"] == 1:
                self.send_response(200)
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()
                self.wfile.write(DATA[:30000])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            start = int(rng[6:].split("-")[0]) if rng.startswith("bytes=") else 0
            return self.send(206, DATA[start:], "application/octet-stream",
                             [("Content-Range", "bytes %d-%d/%d" % (start, len(DATA) - 1, len(DATA)))])
        return self.send(200, b"hello from the test upstream\n")
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        action = self.headers.get("SOAPAction", "-")
        note("POST %s action=%s ctype=%s ae=%s len=%d" % (self.path, action, self.headers.get("Content-Type", "-"),
                                                           self.headers.get("Accept-Encoding", "-"), len(body)))
        if self.path == "/fault":
            env = (b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                   b'<soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>InvalidCookie</faultstring>'
                   b'</soap:Fault></soap:Body></soap:Envelope>')
            return self.send(500, env, "text/xml; charset=utf-8")
        if self.path == "/busy":
            state["busy"] += 1
            if state["busy"] == 1:
                return self.send(503, b"busy")
        reply = (b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                 b'<soap:Body><EchoResponse xmlns="urn:test"><Action>' + action.encode() + b'</Action><Echo>'
                 + body.replace(b"<", b"&lt;") + b'</Echo>' + b'<Pad>' + b'x' * 20000 + b'</Pad></EchoResponse></soap:Body></soap:Envelope>')
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            return self.send(200, gzip.compress(reply), "text/xml; charset=utf-8", [("Content-Encoding", "gzip")])
        return self.send(200, reply, "text/xml; charset=utf-8")
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
srv = S(("127.0.0.1", port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
srv.serve_forever()
PY
  python3 "$T/https_server.py" "$1" "$T/$2.pem" "$T/$2.key" "$3" 2>> "$T/https_server.err" &
  E2E_PIDS+=($!)
  wait_port "$1"
}

# recorder PORT LOG: a listener that writes one line per connection to LOG
# and hangs up: a "proxy" that must never be touched.
recorder() {
  cat > "$T/recorder.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
open(sys.argv[2] + ".ready", "w").close()
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write("connection\n")
    c.close()
PY
  : > "$2"
  python3 "$T/recorder.py" "$1" "$2" &
  E2E_PIDS+=($!)
  local i
  for i in $(seq 100); do [ -e "$2.ready" ] && return 0; sleep 0.05; done
  return 1
}

# mitm_proxy PORT CERT LOG: an intercepting proxy: answers CONNECT, then
# speaks TLS itself with CERT instead of tunnelling. One line per event in LOG.
mitm_proxy() {
  cat > "$T/mitm.py" <<'PY'
import socket, ssl, sys, threading
port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
def note(s):
    with open(log, "a") as f:
        f.write(s + "\n")
def handle(c):
    note("connection")
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(1)
        if not d:
            return c.close()
        head += d
    note("request " + head.split(b"\r\n")[0].decode())
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    try:
        t = ctx.wrap_socket(c, server_side=True)
        t.recv(4096)
        note("intercepted a request")
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nintercepted\n")
        t.close()
    except Exception as ex:
        note("tls refused by the client: %s" % ex)
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
open(log + ".ready", "w").close()
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY
  : > "$3"
  python3 "$T/mitm.py" "$1" "$T/$2.pem" "$T/$2.key" "$3" 2>> "$T/mitm.err" &
  E2E_PIDS+=($!)
  local i
  for i in $(seq 100); do [ -e "$3.ready" ] && return 0; sleep 0.05; done
  return 1
}

# tinyproxy_start PORT CONNECTPORT LOG: Debian's tinyproxy as a CONNECT proxy
# allowing 127.0.0.1 to tunnel to CONNECTPORT only.
tinyproxy_start() {
  local conf="$T/tinyproxy.$1.conf"
  {
    echo "Port $1"
    echo "Listen 127.0.0.1"
    echo "Timeout 30"
    echo "Allow 127.0.0.1"
    echo "ConnectPort $2"
    echo "LogLevel Connect"
    echo "MaxClients 20"
  } > "$conf"
  # in the foreground (-d) tinyproxy logs to its standard output
  tinyproxy -d -c "$conf" > "$3" 2>&1 &
  E2E_PIDS+=($!)
  wait_port "$1"
}

# expect_fail NAME OUT RC PATTERN: a refused request: non-zero exit and the reason
expect_fail() {
  if [ "$3" -ne 0 ]; then ok "$1: exits non-zero"; else fail "$1: exits non-zero (got 0)"; fi
  contains "$1: says why" "$2" "$4"
}

command -v python3 > /dev/null || { echo "python3 is required"; exit 1; }
[ -x "$HTTPGET" ] || { echo "wsus-httpget not built at $HTTPGET"; exit 1; }
