/*
 * server_reload.c -- what SIGHUP changes in a running front end without
 * dropping a connection: the TLS certificate and key, and the downstream
 * client-certificate allow-list.
 *
 * Design notes:
 * (1) Certificates: the HTTPS daemon is started with a GnuTLS certificate
 *     callback (MHD_OPTION_HTTPS_CERT_CALLBACK) instead of fixed credentials.
 *     Each handshake asks for the current credentials; a reload loads the new
 *     pair and publishes it with one atomic pointer store. Connections that
 *     already finished their handshake keep going on the old pair; new
 *     handshakes get the new one. GnuTLS keeps pointers to what the callback
 *     returned, so replaced pairs are kept (a reload is rare) and freed only
 *     when the server stops.
 * (2) The callback has no user pointer: the server it runs for is found from
 *     the session's socket (MHD hands GnuTLS the accepted descriptor), whose
 *     local port is the server's listening port, in a small registry; so
 *     several servers in one process (the unit tests) each serve their own
 *     certificate.
 * (3) The allow-list is replaced under a write lock; request threads read it
 *     under the read lock (server_fp_allowed, server_allow_active). Switching
 *     mutual TLS on or off (an empty list to a non-empty one) changes what the
 *     handshake asks for and needs a restart: a reload reports it and keeps
 *     the running state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "server.h"
#include "server_int.h"

#define RELOAD_MAX_CHAIN   16  /* certificates in one chain */
#define RELOAD_MAX_SERVERS 16  /* servers in one process (tests start several) */

struct server_creds {
	gnutls_pcert_st pcert[RELOAD_MAX_CHAIN];
	unsigned int n;
	gnutls_privkey_t key;
	char fp[65];
	int64_t not_after;            /* the leaf's expiry (unix seconds), 0 if unreadable */
	struct server_creds *older;   /* replaced pairs, freed at stop */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int port;
	struct server *srv;
} registry[RELOAD_MAX_SERVERS];

static void creds_free(struct server_creds *c)
{
	while (c != NULL) {
		struct server_creds *older = c->older;

		for (unsigned int i = 0; i < c->n; i++)
			gnutls_pcert_deinit(&c->pcert[i]);
		if (c->key != NULL)
			gnutls_privkey_deinit(c->key);
		free(c);
		c = older;
	}
}

static int64_t leaf_not_after(const gnutls_pcert_st *leaf)
{
	gnutls_x509_crt_t crt;
	int64_t t = 0;

	if (gnutls_x509_crt_init(&crt) < 0)
		return 0;
	if (gnutls_x509_crt_import(crt, &leaf->cert, GNUTLS_X509_FMT_DER) == 0)
		t = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
	return t;
}

static int creds_load(const char *cert_pem, const char *key_pem, const char *fp,
		      struct server_creds **out, struct err *e)
{
	struct server_creds *c = calloc(1, sizeof(*c));
	gnutls_datum_t cd = { (unsigned char *)cert_pem, (unsigned int)strlen(cert_pem) };
	gnutls_datum_t kd = { (unsigned char *)key_pem, (unsigned int)strlen(key_pem) };
	int rc;

	if (c == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	c->n = RELOAD_MAX_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(c->pcert, &c->n, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		c->n = 0;
		creds_free(c);
		return err_set(e, -EINVAL, "TLS certificate: %s", gnutls_strerror(rc));
	}
	rc = gnutls_privkey_init(&c->key);
	if (rc == 0)
		rc = gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		creds_free(c);
		return err_set(e, -EINVAL, "TLS key: %s", gnutls_strerror(rc));
	}
	snprintf(c->fp, sizeof(c->fp), "%s", fp);
	c->not_after = leaf_not_after(&c->pcert[0]);
	*out = c;
	return 0;
}

static struct server *server_of_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct server *srv = NULL;
	int port;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return NULL;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return NULL;
	pthread_mutex_lock(&registry_mu);
	for (size_t i = 0; i < RELOAD_MAX_SERVERS && srv == NULL; i++)
		if (registry[i].srv != NULL && registry[i].port == port)
			srv = registry[i].srv;
	pthread_mutex_unlock(&registry_mu);
	return srv;
}

int server_tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		       gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct server *srv = server_of_socket(gnutls_transport_get_int(session));
	struct server_creds *c;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	c = srv ? atomic_load(&srv->creds) : NULL;
	if (c == NULL)
		return -1;
	*pcert = c->pcert;
	*pcert_length = c->n;
	*pkey = c->key;
	return 0;
}

int server_creds_init(struct server *srv, const char *cert_pem, const char *key_pem, struct err *e)
{
	struct server_creds *c = NULL;
	int rc = creds_load(cert_pem, key_pem, srv->tls_fp, &c, e);

	if (rc == 0)
		atomic_store(&srv->creds, c);
	return rc;
}

int server_creds_register(struct server *srv, int port)
{
	int rc = -ENOSPC;

	pthread_mutex_lock(&registry_mu);
	for (size_t i = 0; i < RELOAD_MAX_SERVERS; i++) {
		if (registry[i].srv == NULL) {
			registry[i].port = port;
			registry[i].srv = srv;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&registry_mu);
	return rc;
}

void server_creds_release(struct server *srv)
{
	pthread_mutex_lock(&registry_mu);
	for (size_t i = 0; i < RELOAD_MAX_SERVERS; i++)
		if (registry[i].srv == srv)
			registry[i].port = 0, registry[i].srv = NULL;
	pthread_mutex_unlock(&registry_mu);
	creds_free(atomic_exchange(&srv->creds, NULL));
}

/*---- The allow-list ----*/

int server_allow_parse(const char *list, char ***out, size_t *n, struct err *e)
{
	const char *p = list;
	size_t count = 1;
	char **fps;

	*out = NULL;
	*n = 0;
	if (p == NULL || *p == '\0')
		return 0;
	for (const char *q = p; *q; q++)
		count += *q == ',';
	fps = calloc(count, sizeof(char *));
	if (fps == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (len == 64) {
			fps[*n] = strndup(p, len);
			if (fps[*n] == NULL)
				goto nomem;
			for (char *c = fps[*n]; *c; c++)
				*c = (char)((*c >= 'A' && *c <= 'F') ? *c + 32 : *c);
			(*n)++;
		} else if (len > 0) {
			server_allow_free(fps, *n);
			*n = 0;
			return err_set(e, -EINVAL, "client_cert_allow: not a SHA-256 fingerprint");
		}
		p += len + (p[len] == ',');
	}
	*out = fps;
	return 0;
nomem:
	server_allow_free(fps, *n);
	*n = 0;
	return err_set(e, -ENOMEM, "out of memory");
}

void server_allow_free(char **fps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(fps[i]);
	free(fps);
}

pthread_rwlock_t *server_allow_lock(const struct server *srv)
{
	return (pthread_rwlock_t *)&srv->allow_lock;  /* the lock is not part of the value */
}

int server_allow_active(const struct server *srv)
{
	int on;

	pthread_rwlock_rdlock(server_allow_lock(srv));
	on = srv->n_allow_fps > 0;
	pthread_rwlock_unlock(server_allow_lock(srv));
	return on;
}

/*---- Reload ----*/

static int reload_allow(struct server *srv, const struct wsus_config *cfg, struct err *e)
{
	char **fps = NULL, **old;
	size_t n = 0, n_old;
	int rc = server_allow_parse(cfg->srv_client_cert_allow, &fps, &n, e);

	if (rc < 0)
		return rc;
	if ((n > 0) != server_allow_active(srv)) {
		server_allow_free(fps, n);
		log_warn("server", "reload: client_cert_allow %s mutual TLS: needs a restart, keeping the "
			 "running list", n > 0 ? "turns on" : "turns off");
		return 0;
	}
	pthread_rwlock_wrlock(&srv->allow_lock);
	old = srv->allow_fps;
	n_old = srv->n_allow_fps;
	srv->allow_fps = fps;
	srv->n_allow_fps = n;
	pthread_rwlock_unlock(&srv->allow_lock);
	server_allow_free(old, n_old);
	log_info("server", "reload: client_cert_allow has %zu fingerprints", n);
	return 0;
}

int server_reload(struct server *srv, const struct wsus_config *cfg, struct err *e)
{
	struct server_creds *c = NULL, *old;
	char *cert = NULL, *key = NULL, fp[65];
	int rc;

	rc = server_tls_load(cfg, &cert, &key, fp, e);
	if (rc == 0)
		rc = creds_load(cert, key, fp, &c, e);
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cert);
	if (rc < 0)
		return rc;
	rc = reload_allow(srv, cfg, e);
	if (rc < 0) {
		creds_free(c);
		return rc;
	}
	/* publish: new handshakes get the new pair (design note 1) */
	old = atomic_load(&srv->creds);
	c->older = old;
	atomic_store(&srv->creds, c);
	pthread_mutex_lock(&srv->st_lock);
	memcpy(srv->tls_fp, fp, sizeof(srv->tls_fp));
	pthread_mutex_unlock(&srv->st_lock);
	log_info("server", "reload: certificate sha256=%s%s", fp,
		 old && strcmp(old->fp, fp) == 0 ? " (unchanged)" : "");
	return 0;
}

int server_reopen_logs(struct server *srv, const char *access_log, struct err *e)
{
	return server_access_reload(srv->access, access_log, e);
}

int64_t server_tls_not_after(struct server *srv)
{
	struct server_creds *c = atomic_load(&srv->creds);

	return c != NULL ? c->not_after : 0;
}

void server_tls_fp_get(struct server *srv, char fp[65])
{
	pthread_mutex_lock(&srv->st_lock);
	memcpy(fp, srv->tls_fp, 65);
	pthread_mutex_unlock(&srv->st_lock);
}
