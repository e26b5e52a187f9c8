/*
 * server.c -- the front end core: the HTTPS daemon (libmicrohttpd + GnuTLS,
 * its own thread pool), the optional plain-HTTP content port, request
 * bodies, routing, the downstream client-certificate gate, response
 * compression, the storage handle pool and the client event writer.
 * server_start returns a struct server that server_stop frees.
 *
 * Design notes:
 * (1) We bind the listening sockets ourselves (exact errors, port 0) and
 *     hand them to MHD, which owns them from then on.
 * (2) Routing: /Content/ -> server_content.c; /SelfUpdate/ and
 *     wusserverversion.xml -> server_selfupdate.c; a path of a service in
 *     server_services[] (compared case-insensitively, as IIS does) ->
 *     server_soap_dispatch; anything else 404. The plain port serves only
 *     /Content/ and /SelfUpdate/.
 * (3) Mutual TLS: with [server] downstream = allow_list (implied by
 *     client_cert_allow), MHD is given a trust
 *     list (our own certificate), which is what makes it ask GnuTLS for
 *     GNUTLS_CERT_REQUEST. Neither MHD nor GnuTLS verifies the client's
 *     chain; the handshake proves the client holds the key, and the SHA-256
 *     of its leaf certificate against the allow-list is the whole decision,
 *     taken per request: here, before the body is read, for services that
 *     are downstream_only as a whole (ServerSync, DssAuth); in
 *     server_soap_dispatch for downstream_only operations of a path that
 *     Windows clients share (the rollups of Reporting). 403 either way.
 * (4) Request percent-decoding leaves %00, %2F and %5C encoded, so that a
 *     decoded byte can never become a path separator or end the string.
 * (5) Limits: headers must fit the 64 KiB per-connection memory (MHD answers
 *     431), bodies srv_max_body (413), srv_max_connections, srv_timeout of
 *     idleness, srv_max_per_address connections per client address (MHD
 *     closes the ones past it at once; a site behind NAT needs it raised).
 * (6) A SOAP answer (200) is sent Xpress-encoded when Accept-Encoding lists
 *     xpress (MS-WUSP 2.1), else gzip-encoded when it lists gzip; faults,
 *     answers under SERVER_ENCODE_MIN (a few hundred bytes: nothing to gain) and
 *     /Content are always sent as they are.
 * (7) Admission control (server_queue.c): the MHD threads only read and
 *     write; a SOAP request, once its body is read and the cheap checks
 *     passed, becomes a job in the bounded queue and its connection is
 *     suspended. A worker runs it, leaves the finished MHD response in the
 *     request state and resumes the connection, and MHD calls on_request
 *     again to queue it. A full queue, a job that waited too long and a
 *     stopping server all answer 503 with Retry-After. /Content stays on
 *     the MHD threads (an index lookup and sendfile).
 * (8) Stopping never waits on a running operation for more than
 *     SERVER_STOP_GRACE_MS: what is still running then is abandoned to
 *     process exit (server_stop says how many; serve exits at once).
 * (9) The access log (server_access.c) gets one line per request from
 *     on_completed. What it needs is kept in the request state: method,
 *     path and peer at the first call; status and body bytes where the
 *     answer is queued (server_queue_response, which finds the request
 *     through a thread-local pointer set while an MHD callback of that
 *     request runs: every answer is queued from one); the operation and the
 *     ComputerID from the job's server_req.
 * (10) A site of front ends ([server] shared_secret_file, README "Scaling
 *     out"): every front end derives the same ServerID, cookie key and
 *     GetConfig LastChange from the shared secret, so a cookie one issued
 *     opens at any other and none answers ServerChanged or ConfigChanged
 *     for another's; a client unknown here but holding a site cookie is
 *     registered here from it (server_client_site_join).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "server.h"
#include "server_int.h"

#define SERVER_CONN_MEMORY   (64 * 1024)  /* per connection: headers and I/O buffers */
#define SERVER_MAX_THREADS   64
#define SERVER_STOP_GRACE_MS 3000         /* in-flight requests get this long on stop */
#define SERVER_SHED_LOG_MS   1000         /* at most one "answered 503" line per this */
#define SERVER_LISTEN_BACKLOG 511
/* An oversized body is read and thrown away (so that a client that does not
 * wait for 100-continue still reads its 413) up to this much; past it the
 * connection is closed. */
#define SERVER_DRAIN_MAX     (64ull * 1024 * 1024)
#define SERVER_ENCODE_MIN    300          /* an envelope round one empty element: sent as it is */

struct server_impl;

static atomic_uint_fast64_t server_instances;   /* servers started in this process */

/* One daemon's view: the handler's cls. */
struct listener {
	struct server_impl *impl;
	int plain;                    /* the plain-HTTP content port */
};

struct server_impl {
	struct server s;              /* what server_int.h shows; first member */
	struct listener tls, plain;
	int plain_port;
	atomic_int active;            /* requests between first call and completion */
	atomic_long shed;             /* 503s since the last log line about them */
	atomic_llong shed_logged_ms;  /* when that line was written */
};

/* Per-request state behind MHD's req_cls (freed by on_completed). While
 * its job is queued or running, the worker owns req, resp and status; it
 * hands them back with done and MHD_resume_connection (design note 7). */
struct req_state {
	struct server_job job;        /* first member: the queue's view */
	struct server_impl *impl;
	struct MHD_Connection *conn;
	struct wsus_buf body;
	int too_big;                  /* body passed srv_max_body: answer 413 */
	int answered;                 /* a response was queued before the body */
	int queued;                   /* handed to the admission queue */
	uint64_t drained;             /* bytes thrown away after too_big */
	const struct server_service *svc;
	struct server_req req;        /* the request as the job sees it */
	char action[512];             /* req.soap_action points here */
	atomic_int done;              /* the job finished: resp and status are set */
	struct MHD_Response *resp;    /* the job's answer, or NULL (close the connection) */
	unsigned status;
	uint64_t bytes;               /* the job's answer body */
	int64_t started_us;           /* first call (monotonic): latency metrics, access log */
	/* the access log (design note 9) */
	char method[8];
	char path[288];               /* cut */
	char peer[64];
	const char *op;               /* "Content", "SelfUpdate", or NULL (SOAP: req.op_name) */
	unsigned sent_status;         /* 0: nothing was queued */
	uint64_t sent_bytes;
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The request whose MHD callback runs on this thread (design note 9). */
static _Thread_local struct req_state *current_rs;

static struct server_impl *impl_of(struct server *srv)
{
	return (struct server_impl *)srv;
}

/*---- Small replies and logs ----*/

static const char *status_text(unsigned status)
{
	switch (status) {
	case 400: return "400 Bad Request\n";
	case 403: return "403 Forbidden\n";
	case 404: return "404 Not Found\n";
	case 405: return "405 Method Not Allowed\n";
	case 412: return "412 Precondition Failed\n";
	case 413: return "413 Payload Too Large\n";
	case 503: return "503 Service Unavailable\n";
	default:  return "500 Internal Server Error\n";
	}
}

int server_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r, uint64_t bytes)
{
	struct req_state *rs = current_rs;

	if (rs != NULL) {
		rs->sent_status = status;
		rs->sent_bytes = strcmp(rs->method, "HEAD") == 0 ? 0 : bytes;
	}
	return MHD_queue_response(conn, status, r);
}

void server_req_computer(struct server_req *req, const char *id)
{
	snprintf(req->computer_id, sizeof(req->computer_id), "%s", id ? id : "");
}

int server_reply_status(struct MHD_Connection *conn, unsigned status, const char *allow)
{
	const char *text = status_text(status);
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	int ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, "Allow", allow);
	ret = server_queue_response(conn, status, r, strlen(text));
	MHD_destroy_response(r);
	return ret;
}

/* 503 with Retry-After: the admission queue's refusal. */
static struct MHD_Response *busy_response(const struct wsus_config *cfg)
{
	const char *text = status_text(503);
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	char secs[16];

	if (r == NULL)
		return NULL;
	snprintf(secs, sizeof(secs), "%d", cfg->srv_retry_after);
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Retry-After", secs);
	return r;
}

/* Count a 503 of the queue; one warning a second at most says how many. */
static void note_shed(struct server_impl *impl, const char *why)
{
	long n = atomic_fetch_add(&impl->shed, 1) + 1;
	long long now = wsus_now_ms(), last = atomic_load(&impl->shed_logged_ms);

	if (now - last < SERVER_SHED_LOG_MS || !atomic_compare_exchange_strong(&impl->shed_logged_ms, &last, now))
		return;
	n = atomic_exchange(&impl->shed, 0);
	log_warn("server", "overloaded: answered 503 requests=%ld why=\"%s\" queue_per_worker=%d",
		 n, why, impl->s.cfg->srv_queue_per_worker);
}

int server_req_over_budget(const struct server_req *req)
{
	return req->deadline_ms > 0 && wsus_now_ms() > req->deadline_ms;
}

void server_text_clean(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
		if (o + 7 >= cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '%') {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

void server_log_refused(const struct server_req *req, unsigned status, const char *why)
{
	char path[256];
	int level = (status == 404 || status == 405 || status == 416) ? LOG_INFO : LOG_WARN;

	if (level > log_verbosity)
		return;
	server_text_clean(req->path, path, sizeof(path));
	log_msg(level, "server", "refused status=%u method=%s path=%s peer=%s tls=%d why=\"%s\"",
		status, req->method ? req->method : "-", path, req->peer[0] ? req->peer : "-",
		req->tls, why);
}

/*---- Storage handle pool ----*/

static struct storage *st_take(struct server *srv, struct err *e)
{
	struct storage *st = NULL;

	pthread_mutex_lock(&srv->st_lock);
	if (srv->st_nfree > 0)
		st = srv->st_free[--srv->st_nfree];
	pthread_mutex_unlock(&srv->st_lock);
	/* more concurrent requests than workers (should not happen): a spare */
	if (st == NULL && storage_open(srv->cfg->st_data_dir, srv->cfg->st_content_dir, &st, e) < 0)
		return NULL;
	return st;
}

static void st_give(struct server *srv, struct storage *st)
{
	pthread_mutex_lock(&srv->st_lock);
	if (srv->st_nfree < srv->st_cap) {
		srv->st_free[srv->st_nfree++] = st;
		st = NULL;
	}
	pthread_mutex_unlock(&srv->st_lock);
	storage_close(st);
}

/*---- Request details ----*/

static void peer_text(struct MHD_Connection *conn, char out[64])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
								     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	out[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, 64);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, 64);
}

/* SHA-256 of the client's certificate, "" when it sent none. */
static void client_fp(struct MHD_Connection *conn, char out[65])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
								     MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *certs;
	unsigned int n = 0;

	out[0] = '\0';
	if (ci == NULL || ci->tls_session == NULL)
		return;
	certs = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (certs != NULL && n > 0)
		server_tls_der_fp(certs[0].data, certs[0].size, out);
}

/* SOAPAction, or the action parameter of a SOAP 1.2 Content-Type. */
static const char *soap_action(struct MHD_Connection *conn, char *buf, size_t cap)
{
	const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "SOAPAction");
	const char *ct, *p;
	size_t n;

	if (a != NULL)
		return a;
	ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	for (p = ct; p != NULL && (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "action=", 7) == 0) {
			p += 7;
			n = strcspn(p, ";");
			while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			if (n >= cap)
				return NULL;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

static void req_basics(struct server_req *req, struct listener *l, struct MHD_Connection *conn,
		       const char *url, const char *method)
{
	memset(req, 0, sizeof(*req));
	req->srv = &l->impl->s;
	req->method = method;
	req->path = url;
	req->tls = !l->plain;
	peer_text(conn, req->peer);
	if (req->tls && server_downstream_gated(&l->impl->s))
		client_fp(conn, req->client_fp);
}

/*---- Routing ----*/

static const struct server_service *service_by_path(const char *url)
{
	for (size_t i = 0; server_services[i] != NULL; i++) {
		const char *const *p = server_services[i]->paths;

		for (; p != NULL && *p != NULL; p++)
			if (strcasecmp(url, *p) == 0)
				return server_services[i];
	}
	return NULL;
}

/*---- Response encodings (design note 6) ----*/

/* Whether one Accept-Encoding element [p, end) accepts its coding: yes
 * unless a q parameter says 0. */
static int element_accepts(const char *p, const char *end)
{
	for (; p < end; p++) {
		char num[16];
		size_t k = 0;

		if (*p != ';')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
			continue;
		for (p += 2; p < end && k + 1 < sizeof(num) && *p != ';' && *p != ' '; p++)
			num[k++] = *p;
		num[k] = '\0';
		return strtod(num, NULL) > 0.0;
	}
	return 1;
}

/* Whether the comma-separated header lists coding name (any case). */
static int coding_listed(const char *header, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		const char *tok = p;

		while (tok < p + len && (*tok == ' ' || *tok == '\t'))
			tok++;
		if (strcspn(tok, ",; \t") == nlen && strncasecmp(tok, name, nlen) == 0)
			return element_accepts(tok + nlen, p + len);
		p += len + (p[len] == ',');
	}
	return 0;
}

const char *server_accept_encoding(const char *header)
{
	if (header == NULL)
		return NULL;
	if (coding_listed(header, "xpress"))
		return "xpress";
	if (coding_listed(header, "gzip"))
		return "gzip";
	return NULL;
}

/* Replace the body by its encoding; on any failure it stays as it is. */
static const char *encode_body(const char *coding, struct wsus_buf *body)
{
	struct wsus_buf enc;
	int rc;

	if (coding == NULL || body->len < SERVER_ENCODE_MIN)
		return NULL;
	wsus_buf_init(&enc, body->len + body->len / 4 + 4096);
	rc = strcmp(coding, "xpress") == 0 ? protocol_xpress_encode(body->data, body->len, &enc)
					    : protocol_gzip_encode(body->data, body->len, &enc);
	if (rc < 0) {
		log_warn("server", "response not encoded coding=%s bytes=%zu err=%s", coding, body->len,
			 strerror(-rc));
		wsus_buf_free(&enc);
		return NULL;
	}
	wsus_buf_free(body);
	*body = enc;
	return coding;
}

/* Encode n bytes in coding (NULL: as they are) as the head of a split
 * answer (server_scanstate.c design note 6), filling gz for gzip. */
static int encode_head(const char *coding, const char *in, size_t n, struct wsus_buf *out,
		       struct protocol_gzip_part *gz)
{
	if (coding == NULL)
		return wsus_buf_append(out, in, n);
	if (strcmp(coding, "gzip") == 0)
		return protocol_gzip_head(in, n, out, gz);
	return protocol_xpress_encode(in, n, out);
}

/* The rest of a split answer after its head: the same coding, finished. */
static int encode_rest(const struct server_scan_answer *a, const char *in, size_t n, struct wsus_buf *out)
{
	if (a->coding == NULL)
		return wsus_buf_append(out, in, n);
	if (strcmp(a->coding, "gzip") == 0)
		return protocol_gzip_rest(in, n, &a->gz, out);
	return protocol_xpress_encode(in, n, out);
}

/* Replace body by head + the encoded rest of body from offset cut. */
static int join_split(const struct server_scan_answer *a, size_t cut, struct wsus_buf *body)
{
	struct wsus_buf out;
	int rc;

	wsus_buf_init(&out, body->max + body->max / 4 + 4096);
	rc = wsus_buf_append(&out, a->data, a->len);
	if (rc == 0)
		rc = encode_rest(a, body->data + cut, body->len - cut, &out);
	if (rc < 0) {
		wsus_buf_free(&out);
		return rc;
	}
	wsus_buf_free(body);
	*body = out;
	return 0;
}

/* A split answer the handler wrote whole: keep its head (encoded) and tail,
 * and send it as a hit would be sent, so every client of a key gets the
 * same bytes. */
static int keep_split(struct server_req *req, const char *coding, struct wsus_buf *body)
{
	struct server_scan_answer a = { .coding = coding, .split = 1 };
	struct wsus_buf head;
	int rc;

	if (req->memo_cut > req->memo_cut_end || req->memo_cut_end > req->memo_tail_end ||
	    req->memo_tail_end > body->len)
		return -EINVAL;
	wsus_buf_init(&head, body->max + body->max / 4 + 4096);
	rc = encode_head(a.coding, body->data, req->memo_cut, &head, &a.gz);
	if (rc == 0) {
		a.data = head.data;
		a.len = head.len;
		a.tail = body->data + req->memo_cut_end;
		a.tail_len = req->memo_tail_end - req->memo_cut_end;
		server_scan_memo_put(req->memo_state, req->memo_key, &a);
		rc = join_split(&a, req->memo_cut, body);
	}
	wsus_buf_free(&head);
	return rc < 0 ? rc : 0;
}

const char *server_encode_answer(struct server_req *req, int *status, struct wsus_buf *body)
{
	const char *asked = server_accept_encoding(req->accept_encoding), *coding = NULL;
	const struct server_scan_answer *a = &req->memo_answer;
	int rc = 0;

	if (*status != 200) {
		/* a fault: sent as it is */
	} else if (req->memo_hit && a->split) {
		coding = a->coding;
		rc = join_split(a, req->memo_cut, body);
	} else if (req->memo_hit) {
		wsus_buf_free(body);
		coding = a->coding;
		rc = wsus_buf_append(body, a->data, a->len);
	} else if (req->memo_state != NULL && req->memo_split) {
		coding = body->len < SERVER_ENCODE_MIN ? NULL : asked;
		rc = keep_split(req, coding, body);
	} else {
		coding = encode_body(asked, body);
		if (req->memo_state != NULL)
			server_scan_memo_put(req->memo_state, req->memo_key,
					     &(struct server_scan_answer){ .coding = coding, .data = body->data,
									   .len = body->len });
	}
	if (rc < 0) {
		log_warn("server", "answer not encoded coding=%s err=%s", coding ? coding : "-", strerror(-rc));
		wsus_buf_free(body);
		*status = 500;
		coding = NULL;
	}
	server_scan_put(req->memo_state);
	req->memo_state = NULL;
	req->memo_hit = 0;
	req->memo_split = 0;
	return coding;
}

/* The worker's half of a SOAP request: run the operation, encode the
 * answer, make the MHD response (NULL when even that fails). */
static struct MHD_Response *soap_answer(struct server_req *req, const struct server_service *svc,
					unsigned *status, uint64_t *bytes)
{
	struct server_resp resp = { 0 };
	struct MHD_Response *r;
	struct err e = { 0 };
	const char *coding = NULL;
	size_t len = 0;
	char *body;

	req->st = st_take(req->srv, &e);
	if (req->st == NULL) {
		log_err("server", "cannot open storage for a request: %s", e.msg);
		*status = MHD_HTTP_SERVICE_UNAVAILABLE;
		*bytes = strlen(status_text(503));
		return busy_response(req->srv->cfg);
	}
	req->memo_ok = 1;
	server_soap_dispatch(req, svc, &resp);
	st_give(req->srv, req->st);
	req->st = NULL;
	coding = server_encode_answer(req, &resp.status, &resp.body);
	body = wsus_buf_steal(&resp.body, &len);
	*bytes = len;
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return NULL;
	}
	MHD_add_response_header(r, "Content-Type",
				resp.content_type ? resp.content_type : "text/xml; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "private");
	MHD_add_response_header(r, "Vary", "Accept-Encoding");
	if (coding != NULL)
		MHD_add_response_header(r, "Content-Encoding", coding);
	*status = resp.status ? (unsigned)resp.status : 500;
	return r;
}

/* Admitted (under the queue's lock): no worker may resume the connection
 * before it is suspended. */
static void job_admit(struct server_job *job)
{
	MHD_suspend_connection(((struct req_state *)(void *)job)->conn);
}

/* Run by a worker, or refused (late, stopping); rs is not touched after
 * the resume, which hands it back to the connection's MHD thread. */
static void job_run(struct server_job *job, enum server_job_verdict v)
{
	struct req_state *rs = (struct req_state *)(void *)job;
	struct server_impl *impl = rs->impl;

	if (v == SERVER_JOB_RUN) {
		rs->req.deadline_ms = wsus_now_ms() + impl->s.cfg->srv_parse_budget_ms;
		rs->resp = soap_answer(&rs->req, rs->svc, &rs->status, &rs->bytes);
	} else {
		note_shed(impl, v == SERVER_JOB_LATE ? "waited past queue_wait_ms" : "stopping");
		rs->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		rs->bytes = strlen(status_text(503));
		rs->resp = busy_response(impl->s.cfg);
	}
	atomic_store(&rs->done, 1);
	MHD_resume_connection(rs->conn);
}

/* Back on the MHD thread after the resume: send what the job left. */
static int answer_job(struct MHD_Connection *conn, struct req_state *rs)
{
	struct MHD_Response *r = rs->resp;
	int ret;

	if (!atomic_load(&rs->done))
		return MHD_YES;
	rs->queued = 0;
	rs->resp = NULL;
	if (r == NULL)
		return MHD_NO;
	ret = server_queue_response(conn, rs->status, r, rs->bytes);
	MHD_destroy_response(r);
	server_metrics_note(rs->req.soap_action, rs->status, mono_us() - rs->started_us);
	return ret;
}

/* A SOAP POST whose body is read: into the admission queue, or 503. */
static int handle_soap(struct server_req *req, struct MHD_Connection *conn,
		       const struct server_service *svc, struct req_state *rs)
{
	struct MHD_Response *r;
	int rc, ret;

	if (strcmp(req->method, "POST") != 0) {
		server_log_refused(req, MHD_HTTP_METHOD_NOT_ALLOWED, "SOAP services take POST");
		return server_reply_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST");
	}
	rs->req = *req;
	rs->req.soap_action = soap_action(conn, rs->action, sizeof(rs->action));
	rs->req.accept_encoding = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_ACCEPT_ENCODING);
	rs->req.body = rs->body.data ? rs->body.data : "";
	rs->req.body_len = rs->body.len;
	rs->svc = svc;
	rs->conn = conn;
	rs->job.admit = job_admit;
	rs->job.run = job_run;
	rs->queued = 1;
	rc = server_queue_push(rs->impl->s.queue, &rs->job);
	if (rc == 0)
		return MHD_YES;
	rs->queued = 0;
	note_shed(rs->impl, rc == -EBUSY ? "queue full or the wait too long" : "stopping");
	r = busy_response(rs->impl->s.cfg);
	if (r == NULL)
		return MHD_NO;
	ret = server_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, r, strlen(status_text(503)));
	MHD_destroy_response(r);
	return ret;
}

static int handle_content(struct server_req *req, struct MHD_Connection *conn)
{
	struct err e = { 0 };
	int ret;

	req->st = st_take(req->srv, &e);
	if (req->st == NULL) {
		log_err("server", "cannot open storage for a request: %s", e.msg);
		return server_reply_status(conn, MHD_HTTP_SERVICE_UNAVAILABLE, NULL);
	}
	ret = server_content_handle(req, conn);
	st_give(req->srv, req->st);
	req->st = NULL;
	return ret;
}

static int route(struct listener *l, struct MHD_Connection *conn, const char *url,
		 const char *method, struct req_state *rs)
{
	struct server_req req;
	const struct server_service *svc;
	int which;

	req_basics(&req, l, conn, url, method);
	if (rs->too_big) {
		server_log_refused(&req, MHD_HTTP_CONTENT_TOO_LARGE, "request body over max_body");
		return server_reply_status(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL);
	}
	if (strncasecmp(url, "/Content/", 9) == 0) {
		rs->op = "Content";
		return handle_content(&req, conn);
	}
	which = server_static_path(url);
	if (which == SERVER_STATIC_SELFUPDATE || (which != 0 && !l->plain)) {
		rs->op = "SelfUpdate";
		return server_static_handle(&req, conn, which);
	}
	svc = l->plain ? NULL : service_by_path(url);
	if (svc == NULL) {
		server_log_refused(&req, MHD_HTTP_NOT_FOUND, l->plain ? "plain port serves /Content and /SelfUpdate only"
								       : "no such path");
		return server_reply_status(conn, MHD_HTTP_NOT_FOUND, NULL);
	}
	if (svc->downstream_only && server_downstream_gated(&l->impl->s) &&
	    !server_fp_allowed(&l->impl->s, req.client_fp)) {
		server_log_refused(&req, MHD_HTTP_FORBIDDEN,
				   req.client_fp[0] ? "client certificate not in client_cert_allow"
						    : "no client certificate (downstream = allow_list)");
		if (req.client_fp[0])
			log_warn("server", "refused client certificate sha256=%s peer=%s", req.client_fp,
				 req.peer);
		return server_reply_status(conn, MHD_HTTP_FORBIDDEN, NULL);
	}
	return handle_soap(&req, conn, svc, rs);
}

/*---- The MHD callbacks ----*/

/* A declared body over the cap: answer 413 before the body when the client
 * waits for it (Expect: 100-continue) or the body is too big to drain;
 * otherwise drain it and answer at the end (a client still sending would
 * miss an early answer when the connection closes under it). */
static int refuse_declared_body(struct listener *l, struct MHD_Connection *conn, const char *url,
				const char *method, struct req_state *rs)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	long long n = cl ? strtoll(cl, NULL, 10) : 0;
	struct server_req req;

	if (n <= l->impl->s.cfg->srv_max_body)
		return 0;
	rs->too_big = 1;
	if ((expect == NULL || strcasecmp(expect, "100-continue") != 0)
	    && (unsigned long long)n <= SERVER_DRAIN_MAX)
		return 0;
	req_basics(&req, l, conn, url, method);
	server_log_refused(&req, MHD_HTTP_CONTENT_TOO_LARGE, "Content-Length over max_body");
	rs->answered = 1;
	return 1;
}

/* What the access log says of a request, taken at its first call. */
static void note_basics(struct req_state *rs, struct MHD_Connection *conn, const char *url, const char *method)
{
	snprintf(rs->method, sizeof(rs->method), "%s", method ? method : "");
	snprintf(rs->path, sizeof(rs->path), "%s", url ? url : "");
	peer_text(conn, rs->peer);
}

/* Call 1: allocate (and maybe refuse a declared oversized body at once).
 * Middle calls: keep the body up to the cap, or drain it. Last call: route. */
static enum MHD_Result on_call(struct listener *l, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *upload, size_t *upload_size, void **req_cls)
{
	struct req_state *rs = *req_cls;

	if (rs == NULL) {
		rs = calloc(1, sizeof(*rs));
		if (rs == NULL)
			return MHD_NO;
		rs->impl = l->impl;
		rs->started_us = mono_us();
		note_basics(rs, conn, url, method);
		wsus_buf_init(&rs->body, (size_t)l->impl->s.cfg->srv_max_body);
		atomic_fetch_add(&l->impl->active, 1);
		*req_cls = rs;
		current_rs = rs;
		if (refuse_declared_body(l, conn, url, method, rs))
			return (enum MHD_Result)server_reply_status(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL);
		return MHD_YES;
	}
	if (*upload_size != 0) {
		if (!rs->too_big && wsus_buf_append(&rs->body, upload, *upload_size) < 0) {
			rs->too_big = 1;
			wsus_buf_free(&rs->body);
		}
		if (rs->too_big) {
			rs->drained += *upload_size;
			if (rs->drained > SERVER_DRAIN_MAX) {
				log_warn("server", "closing a connection sending an endless body url_len=%zu",
					 strlen(url));
				return MHD_NO;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rs->queued)
		return (enum MHD_Result)answer_job(conn, rs);
	if (rs->answered)
		return MHD_YES;
	rs->answered = 1;
	return (enum MHD_Result)route(l, conn, url, method, rs);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	enum MHD_Result ret;

	(void)version;
	current_rs = *req_cls;    /* design note 9 */
	ret = on_call(cls, conn, url, method, upload, upload_size, req_cls);
	current_rs = NULL;
	return ret;
}

/* One access log line for a request that was answered (design note 9). */
static void note_access(struct req_state *rs)
{
	struct server_access_entry x = {
		.peer = rs->peer, .method = rs->method, .path = rs->path,
		.op = rs->op ? rs->op : rs->req.op_name, .status = rs->sent_status, .bytes = rs->sent_bytes,
		.micros = mono_us() - rs->started_us, .computer = rs->req.computer_id,
	};

	server_access_note(rs->impl->s.access, &x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct req_state *rs = *req_cls;

	(void)cls;
	(void)conn;
	(void)code;
	if (rs == NULL)
		return;
	if (rs->sent_status != 0)
		note_access(rs);
	atomic_fetch_sub(&rs->impl->active, 1);
	if (rs->resp != NULL)
		MHD_destroy_response(rs->resp);
	wsus_buf_free(&rs->body);
	free(rs);
	*req_cls = NULL;
}

/* %HH decoding that keeps %00, %2F and %5C as they are (design note 4). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;
	const char *r = s;

	(void)cls;
	(void)conn;
	while (*r != '\0') {
		int hi = r[0] == '%' ? wsus_hex_digit(r[1]) : -1;
		int lo = hi >= 0 ? wsus_hex_digit(r[2]) : -1;
		int v = hi * 16 + lo;

		if (hi >= 0 && lo >= 0 && v != 0 && v != '/' && v != '\\') {
			*w++ = (char)v;
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	if (log_verbosity < LOG_DEBUG)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_msg(LOG_DEBUG, "server", "mhd: %s", buf);
}

/*---- Listening ----*/

/* "ADDR:PORT" or "[V6]:PORT" (port 0 = any free port). */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct err *e)
{
	char host[INET6_ADDRSTRLEN];
	const char *port, *end;
	char *pend;
	long p;
	size_t hn;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			goto bad;
		hn = (size_t)(end - s - 1);
		port = end + 2;
		s++;
	} else {
		end = strrchr(s, ':');
		if (end == NULL)
			goto bad;
		hn = (size_t)(end - s);
		port = end + 1;
	}
	if (hn == 0 || hn >= sizeof(host))
		goto bad;
	memcpy(host, s, hn);
	host[hn] = '\0';
	errno = 0;
	p = strtol(port, &pend, 10);
	if (errno != 0 || pend == port || *pend != '\0' || p < 0 || p > 65535)
		goto bad;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
bad:
	return err_set(e, -EINVAL, "bad listen address '%s' (want ADDR:PORT or [IPv6]:PORT)", s);
}

/* A bound, listening, non-blocking socket; *port gets the bound port. */
static int listen_on(const char *addr, int *port, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, rc = parse_listen(addr, &ss, &len, e);

	if (rc < 0)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "cannot create a socket for %s: %s", addr, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SERVER_LISTEN_BACKLOG) < 0) {
		rc = err_set(e, -errno, "cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return rc;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		rc = err_set(e, -errno, "cannot read the bound port of %s: %s", addr, strerror(errno));
		close(fd);
		return rc;
	}
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

int server_listen_socket(const char *addr, int *port, struct err *e)
{
	return listen_on(addr, port, e);
}

/* MHD may use sendfile only when a closed peer cannot kill us with SIGPIPE. */
static int sigpipe_handled(void)
{
	struct sigaction sa;
	sigset_t set;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
		return 1;
	return pthread_sigmask(SIG_BLOCK, NULL, &set) == 0 && sigismember(&set, SIGPIPE) == 1;
}

static int thread_count(const struct wsus_config *cfg)
{
	long n = cfg->srv_threads > 0 ? cfg->srv_threads : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > SERVER_MAX_THREADS ? SERVER_MAX_THREADS : (int)n;
}

#define OPT(o, v, p) (opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) })

static struct MHD_Daemon *daemon_start(struct listener *l, int fd, const char *trust)
{
	const struct wsus_config *cfg = l->impl->s.cfg;
	struct MHD_OptionItem opts[20];
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			     MHD_ALLOW_SUSPEND_RESUME;
	size_t n = 0;

	OPT(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
	if (thread_count(cfg) > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, thread_count(cfg), NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->srv_max_connections, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, cfg->srv_timeout, NULL);
	if (cfg->srv_max_per_address > 0)
		OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->srv_max_per_address, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, SERVER_CONN_MEMORY, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL);
	OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL);
	if (sigpipe_handled())
		OPT(MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL);
	if (!l->plain) {
		flags |= MHD_USE_TLS;
		/* credentials come from server_reload.c's callback (SIGHUP renews them) */
		OPT(MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)server_tls_cert_cb);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)server_tls_priorities);
		if (trust != NULL)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)trust);
	}
	OPT(MHD_OPTION_END, 0, NULL);
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
}

/*---- Identity and URLs ----*/

/* host part of a listen address for URLs; the host name for a wildcard */
static void url_host(const char *listen_addr, char *out, size_t cap)
{
	const char *end;

	if (listen_addr[0] == '[') {
		end = strchr(listen_addr, ']');
		snprintf(out, cap, "%.*s", end ? (int)(end - listen_addr + 1) : 0, listen_addr);
		if (strcmp(out, "[::]") != 0)
			return;
	} else {
		end = strrchr(listen_addr, ':');
		snprintf(out, cap, "%.*s", end ? (int)(end - listen_addr) : 0, listen_addr);
		if (strcmp(out, "0.0.0.0") != 0)
			return;
	}
	if (gethostname(out, cap) != 0)
		snprintf(out, cap, "localhost");
	out[cap - 1] = '\0';
}

static void make_urls(struct server_impl *impl)
{
	struct server *s = &impl->s;
	const struct wsus_config *cfg = s->cfg;
	char host[300];
	const char *a, *h;
	size_t n;

	if (cfg->srv_public_url != NULL) {
		snprintf(s->public_url, sizeof(s->public_url), "%s", cfg->srv_public_url);
		n = strlen(s->public_url);
		while (n > 0 && s->public_url[n - 1] == '/')
			s->public_url[--n] = '\0';
	} else {
		url_host(cfg->srv_listen, host, sizeof(host));
		snprintf(s->public_url, sizeof(s->public_url), "https://%s:%d", host, s->port);
	}
	if (s->mhd_plain == NULL) {
		snprintf(s->content_url, sizeof(s->content_url), "%s", s->public_url);
		return;
	}
	/* content goes over the plain port, on the host clients already use */
	a = strstr(s->public_url, "://");
	h = a ? a + 3 : s->public_url;
	n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
	snprintf(s->content_url, sizeof(s->content_url), "http://%.*s:%d", (int)n, h, impl->plain_port);
}

static int load_allow_list(struct server *s, struct err *e)
{
	return server_allow_parse(s->cfg->srv_client_cert_allow, &s->allow_fps, &s->n_allow_fps, e);
}

static int open_pool(struct server *s, size_t count, struct err *e)
{
	int rc;

	s->st_free = calloc(count, sizeof(*s->st_free));
	if (s->st_free == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	s->st_cap = count;
	for (size_t i = 0; i < count; i++) {
		rc = storage_open(s->cfg->st_data_dir, s->cfg->st_content_dir, &s->st_free[i], e);
		if (rc < 0)
			return rc;
		s->st_nfree++;
	}
	rc = storage_server_id(s->st_free[0], s->server_id);
	if (rc < 0)
		return err_set(e, rc, "cannot read the server id");
	if (s->cfg->srv_site) {
		/* a front end of a site: the site's identity and cookie key (design note 10) */
		wsus_site_server_id(s->cfg->srv_site_secret, s->server_id);
		wsus_site_key(s->cfg->srv_site_secret, "cookie", s->cookie_key);
		return 0;
	}
	return storage_secret(s->st_free[0], "cookie", s->cookie_key, e);
}

/*---- Public ----*/

int server_start(const struct wsus_config *cfg, struct server **out, struct err *e)
{
	struct server_impl *impl = calloc(1, sizeof(*impl));
	char *cert = NULL, *key = NULL;
	int fd = -1, pfd = -1, rc, threads = thread_count(cfg);

	if (impl == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	impl->s.cfg = cfg;
	impl->s.instance = atomic_fetch_add(&server_instances, 1) + 1;
	impl->tls = (struct listener){ impl, 0 };
	impl->plain = (struct listener){ impl, 1 };
	pthread_mutex_init(&impl->s.st_lock, NULL);
	pthread_rwlock_init(&impl->s.allow_lock, NULL);
	rc = load_allow_list(&impl->s, e);
	if (rc == 0)
		rc = open_pool(&impl->s, (size_t)threads * (cfg->srv_content_http_listen ? 3 : 2), e);
	if (rc == 0)
		rc = server_queue_start(threads, (size_t)cfg->srv_queue_per_worker, cfg->srv_queue_wait_ms,
					&impl->s.queue, e);
	if (rc == 0)
		rc = server_tls_load(cfg, &cert, &key, impl->s.tls_fp, e);
	if (rc == 0)
		rc = server_creds_init(&impl->s, cert, key, e);
	if (rc == 0)
		rc = server_report_start(&impl->s, NULL, e);
	if (rc == 0)
		rc = server_access_open(cfg->log_access, &impl->s.access, e);
	if (rc == 0)
		rc = server_fresh_start(&impl->s, e);
	if (rc < 0)
		goto fail;
	fd = listen_on(cfg->srv_listen, &impl->s.port, e);
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	/* registered before the daemon takes its first handshake */
	rc = server_creds_register(&impl->s, impl->s.port);
	if (rc < 0) {
		close(fd);
		err_set(e, rc, "too many servers in one process");
		goto fail;
	}
	impl->s.mhd = daemon_start(&impl->tls, fd, server_downstream_gated(&impl->s) ? cert : NULL);
	if (impl->s.mhd == NULL) {
		close(fd);
		rc = err_set(e, -EIO, "cannot start the HTTPS daemon on %s (certificate, key or TLS setup)",
			     cfg->srv_listen);
		goto fail;
	}
	if (cfg->srv_content_http_listen != NULL) {
		pfd = listen_on(cfg->srv_content_http_listen, &impl->plain_port, e);
		if (pfd < 0) {
			rc = pfd;
			goto fail;
		}
		impl->s.mhd_plain = daemon_start(&impl->plain, pfd, NULL);
		if (impl->s.mhd_plain == NULL) {
			close(pfd);
			rc = err_set(e, -EIO, "cannot start the HTTP content daemon on %s",
				     cfg->srv_content_http_listen);
			goto fail;
		}
	}
	make_urls(impl);
	log_info("server", "listening url=%s content=%s threads=%d queue=%d per_address=%d sha256=%s "
		 "downstream=%s client_cert_allow=%zu", impl->s.public_url, impl->s.content_url, threads,
		 threads * cfg->srv_queue_per_worker, cfg->srv_max_per_address, impl->s.tls_fp,
		 config_downstream_name(cfg->srv_downstream), impl->s.n_allow_fps);
	rc = 0;
	*out = &impl->s;
	goto out;
fail:
	server_stop(&impl->s);
out:
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cert);
	return rc;
}

/* Stop taking connections on both daemons; refuse queued work; give
 * running operations and other in-flight requests until the grace period
 * ends; then stop the daemons and free everything. Returns the number of
 * operations still running at the end of the grace period: then nothing is
 * stopped or freed (design note 8) and the caller must exit the process. */
int server_stop(struct server *srv)
{
	struct server_impl *impl;
	void *daemons[2];
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	int64_t deadline;
	int left;

	if (srv == NULL)
		return 0;
	impl = impl_of(srv);
	deadline = wsus_now_ms() + SERVER_STOP_GRACE_MS;
	daemons[0] = srv->mhd;
	daemons[1] = srv->mhd_plain;
	for (int i = 0; i < 2; i++) {
		MHD_socket lfd = daemons[i] ? MHD_quiesce_daemon(daemons[i]) : MHD_INVALID_SOCKET;

		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	left = server_queue_stop(srv->queue, deadline);
	if (left > 0) {
		log_warn("server", "stopping without waiting for operations still running=%d after %d ms",
			 left, SERVER_STOP_GRACE_MS);
		return left;
	}
	srv->queue = NULL;
	while (atomic_load(&impl->active) > 0 && wsus_now_ms() < deadline)
		nanosleep(&tick, NULL);
	for (int i = 0; i < 2; i++)
		if (daemons[i] != NULL)
			MHD_stop_daemon(daemons[i]);
	server_creds_release(srv);
	/* no request can queue events any more: store what is waiting */
	server_report_stop(srv);
	server_access_close(srv->access);
	server_fresh_stop(srv);
	server_scan_cache_free(srv);
	for (size_t i = 0; i < srv->st_nfree; i++)
		storage_close(srv->st_free[i]);
	free(srv->st_free);
	server_allow_free(srv->allow_fps, srv->n_allow_fps);
	pthread_rwlock_destroy(&srv->allow_lock);
	explicit_bzero(srv->cookie_key, sizeof(srv->cookie_key));
	pthread_mutex_destroy(&srv->st_lock);
	free(impl);
	return 0;
}

int server_port(const struct server *srv)
{
	return srv->port;
}
