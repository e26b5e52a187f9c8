/*
 * server.h -- the HTTPS front end (libmicrohttpd + TLS): what cli/ needs to
 * run it. Services (MS-WSUSSS upstream role now, MS-WUSP clients later) plug
 * in through server_int.h.
 */
#ifndef WSUS_SERVER_H
#define WSUS_SERVER_H

#include "common.h"
#include "config.h"

struct server;

/* Make sure a TLS certificate and key exist: the configured pair, or on the
 * embedded default a self-signed pair generated on first start under
 * DATADIR/tls/ (server.crt, server.key, key mode 0600). Writes the SHA-256
 * fingerprint (lower-case hex of the DER) of the certificate in use into fp. */
int server_tls_ensure(const struct wsus_config *cfg, char fp[65], struct err *e);
/* The same fingerprint without creating anything (for status, which may run
 * as another user than the service): -ENOENT while no certificate has been
 * generated yet. */
int server_tls_fingerprint(const struct wsus_config *cfg, char fp[65], struct err *e);

/* Start listening (HTTPS on [server] listen, optional plain-HTTP content
 * port). Returns once the sockets are bound and the thread pool runs. */
int server_start(const struct wsus_config *cfg, struct server **out, struct err *e);
/* Stop accepting, refuse queued requests (503), give in-flight ones 3 s,
 * free everything and return 0. Accepts NULL. When operations are still
 * running after the 3 s (no parse or SQL statement can be interrupted),
 * nothing is freed and their count is returned: the caller must then end
 * the process without touching the configuration again (serve: _exit). */
int server_stop(struct server *srv);
/* The bound HTTPS port (useful with listen port 0 in tests). */
int server_port(const struct server *srv);
/* SIGHUP: load the certificate and key cfg names (new handshakes get them,
 * open connections keep theirs) and the new client_cert_allow. On error the
 * server keeps what it had. */
int server_reload(struct server *srv, const struct wsus_config *cfg, struct err *e);
/* SIGHUP: reopen the access log at path (logrotate), or open a new one, or
 * (NULL or "") turn it off; the writer thread does it and logs a failure. */
int server_reopen_logs(struct server *srv, const char *access_log, struct err *e);
/* The admin listener ([admin] listen): /health, /metrics, the status page. */
struct server_admin;
int server_admin_start(const struct wsus_config *cfg, struct server *srv, struct server_admin **out,
		       struct err *e);
/* SIGHUP: the new [admin] client_cert_allow (on an HTTPS admin listener;
 * on loopback there is none). On error the running list stays. */
int server_admin_reload(struct server_admin *a, const struct wsus_config *cfg, struct err *e);
int server_admin_port(const struct server_admin *a);
void server_admin_stop(struct server_admin *a);
/* The SHA-256 of the certificate now served. */
void server_tls_fp_get(struct server *srv, char fp[65]);
/* The expiry (unix seconds) of the certificate being served, 0 if unknown. */
int64_t server_tls_not_after(struct server *srv);

#endif /* WSUS_SERVER_H */
