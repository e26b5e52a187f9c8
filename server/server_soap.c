/*
 * server_soap.c -- one SOAP request against one service: read the envelope
 * with the bounded reader (protocol_req_read) under the limits of the
 * operation named by the Body's first element (SOAPAction is only a hint),
 * run its handler and wrap what it wrote in an envelope of the request's SOAP
 * version; anything that goes wrong becomes a fault with HTTP 500 (413 for a
 * body over the operation's byte limit) and one log line. The response body
 * belongs to the caller (struct server_resp).
 * Server-to-server operations on a path clients share (Reporting) are gated
 * here, per operation, by the client-certificate allow-list.
 */
#include "server_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Ceiling of one response. GetUpdateData stops itself at 2 MB of payload,
 * but a client's SyncUpdates grows with the catalogue; past this the
 * handler's append fails and the client gets InternalServerError. */
#define SOAP_MAX_RESPONSE (64u * 1024 * 1024)

/* What is left to send when even the fault cannot be built (out of memory). */
static const char bare_fault11[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11
	"\"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Fault occurred"
	"</faultstring></soap:Fault></soap:Body></soap:Envelope>";
static const char bare_fault12[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP12
	"\"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code>"
	"<soap:Reason><soap:Text xml:lang=\"en\">Fault occurred</soap:Text></soap:Reason>"
	"</soap:Fault></soap:Body></soap:Envelope>";

int server_fault_set(struct server_fault *f, enum protocol_error code, const char *fmt, ...)
{
	va_list ap;

	if (f == NULL)
		return -1;
	f->code = code;
	f->message[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(f->message, sizeof(f->message), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A peer's words made safe for a one-line log field inside double quotes. */
static void log_field(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0' && o + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		out[o++] = c == '"' ? '\'' : (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o] = '\0';
}

/* The faultactor: the URL the request was posted to. */
static void fault_actor(const struct server_req *req, char *out, size_t cap)
{
	out[0] = '\0';
	if (req->path == NULL)
		return;
	if (req->srv != NULL)
		snprintf(out, cap, "%s%s", req->srv->public_url, req->path);
	else
		snprintf(out, cap, "%s", req->path);
}

struct fault_spec {
	enum protocol_soap_version version;
	enum protocol_error code;
	const char *message;   /* what the peer reads (Message / faultstring) */
	const char *method;    /* SOAPAction for <Method>, or NULL */
	const char *op;        /* for the log: the operation, or NULL */
	const char *log_extra; /* for the log only: details kept from the peer, or NULL */
};

static void answer_fault(const struct server_req *req, const struct fault_spec *fs,
			 struct server_resp *resp)
{
	char actor[1024], logmsg[512], logextra[256];

	wsus_buf_free(&resp->body);
	wsus_buf_init(&resp->body, SOAP_MAX_RESPONSE);
	resp->status = 500;
	resp->content_type = protocol_soap_content_type(fs->version);
	fault_actor(req, actor, sizeof(actor));
	if (protocol_soap_fault(&resp->body, fs->version, fs->code, fs->message,
				actor[0] != '\0' ? actor : NULL, fs->method) < 0) {
		wsus_buf_free(&resp->body);
		(void)wsus_buf_appends(&resp->body, fs->version == PROTOCOL_SOAP12 ? bare_fault12
										    : bare_fault11);
	}
	log_field(fs->message, logmsg, sizeof(logmsg));
	log_field(fs->log_extra, logextra, sizeof(logextra));
	log_warn("soap", "fault op=%s code=%s peer=%s msg=\"%s%s%s\"", fs->op ? fs->op : "-",
		 protocol_error_name(fs->code), req->peer[0] != '\0' ? req->peer : "-", logmsg,
		 logextra[0] != '\0' && logmsg[0] != '\0' ? ": " : "", logextra);
}

int server_downstream_gated(const struct server *srv)
{
	/* a non-empty client_cert_allow gates even in a configuration not made by
	 * config_load (which implies allow_list from it): never silently open */
	return srv != NULL && (srv->n_allow_fps > 0 ||
			       (srv->cfg != NULL && srv->cfg->srv_downstream == WSUS_DOWNSTREAM_ALLOW_LIST));
}

int server_fp_allowed(const struct server *srv, const char *fp)
{
	int ok = 0;

	if (fp == NULL || fp[0] == '\0')
		return 0;
	pthread_rwlock_rdlock(server_allow_lock(srv));  /* SIGHUP may replace the list */
	for (size_t i = 0; i < srv->n_allow_fps && !ok; i++)
		ok = strcmp(srv->allow_fps[i], fp) == 0;
	pthread_rwlock_unlock(server_allow_lock(srv));
	return ok;
}

/* A downstream-only operation from a peer not in client_cert_allow: 403
 * with a short text body, as the service-level gate of server.c answers. */
static int refuse_op(const struct server_req *req, const struct server_op *op, struct server_resp *resp)
{
	static const char text[] = "403 Forbidden\n";
	const struct server *srv = req->srv;

	if (!op->downstream_only || !server_downstream_gated(srv) || server_fp_allowed(srv, req->client_fp))
		return 0;
	wsus_buf_free(&resp->body);
	wsus_buf_init(&resp->body, sizeof(text));
	(void)wsus_buf_appends(&resp->body, text);
	resp->status = 403;
	resp->content_type = "text/plain; charset=utf-8";
	log_warn("server", "refused status=403 op=%s peer=%s tls=%d why=\"%s\" sha256=%s", op->name,
		 req->peer[0] != '\0' ? req->peer : "-", req->tls,
		 req->client_fp[0] != '\0' ? "client certificate not in client_cert_allow"
					    : "no client certificate (downstream = allow_list)",
		 req->client_fp[0] != '\0' ? req->client_fp : "-");
	return 1;
}

static const struct server_op *find_op(const struct server_service *svc, const char *name)
{
	for (size_t i = 0; svc != NULL && i < svc->n_ops; i++)
		if (svc->ops[i].name != NULL && svc->ops[i].fn != NULL && strcmp(svc->ops[i].name, name) == 0)
			return &svc->ops[i];
	return NULL;
}

/* Before the operation element: the Envelope, a Header, the Body. */
const struct protocol_limits server_limits_pre = {
	.max_bytes = PROTOCOL_MAX_SOAP_BODY,
	.max_elements = 256,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 16 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 0,
};

/* A cookie, a handful of scalars, short lists. */
const struct protocol_limits server_limits_small = {
	.max_bytes = 1024 * 1024,
	.max_elements = 2048,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 16 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 100,
};

/* Lists of some thousand items (filters, digests, identities). */
const struct protocol_limits server_limits_medium = {
	.max_bytes = 4 * 1024 * 1024,
	.max_elements = 32 * 1024,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 16 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 1000,
};

/* Batches: client events, rollups of a downstream server. */
const struct protocol_limits server_limits_bulk = {
	.max_bytes = PROTOCOL_MAX_SOAP_BODY,
	.max_elements = 200 * 1000,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 64 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 1000,
};

struct pick_ctx {
	const struct server_req *req;
	const struct server_service *svc;
};

/* The reader's callback: the limits of the operation named by the Body's
 * first element, NULL (stop reading) when the service has no such operation.
 * An operation this peer will be refused (403) is read under the small
 * limits only. */
static const struct protocol_limits *op_limits(void *ctx, const char *ns, const char *name)
{
	const struct pick_ctx *pc = ctx;
	const struct server_op *op = find_op(pc->svc, name);
	const struct server *srv = pc->req->srv;

	(void)ns;
	if (op == NULL)
		return NULL;
	if (op->downstream_only && srv != NULL && srv->n_allow_fps > 0 &&
	    !server_fp_allowed(srv, pc->req->client_fp))
		return &server_limits_small;
	return op->limits != NULL ? op->limits : &server_limits_small;
}

/* A body over its operation's byte limit: 413, as server.c answers a body
 * over max_body. */
static void answer_too_large(const struct server_req *req, const char *why, struct server_resp *resp)
{
	static const char text[] = "413 Payload Too Large\n";
	char shown[256];

	wsus_buf_free(&resp->body);
	wsus_buf_init(&resp->body, sizeof(text));
	(void)wsus_buf_appends(&resp->body, text);
	resp->status = 413;
	resp->content_type = "text/plain; charset=utf-8";
	log_field(why, shown, sizeof(shown));
	log_warn("server", "refused status=413 peer=%s why=\"%s\"", req->peer[0] != '\0' ? req->peer : "-",
		 shown);
}

/* SOAPAction names another operation than the body: legal (MS-WUSP's
 * SyncPrinterCatalog is documented with SyncUpdates' action), so only noted. */
static void note_action_mismatch(const struct server_req *req, const struct server_op *op)
{
	const char *a = req->soap_action, *seg;
	size_t n;
	char shown[256];

	if (a == NULL || log_verbosity < LOG_DEBUG)
		return;
	while (*a == ' ' || *a == '\t')
		a++;
	n = strlen(a);
	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
		n--;
	if (n >= 2 && a[0] == '"' && a[n - 1] == '"') {
		a++;
		n -= 2;
	}
	if (n == 0)
		return;
	if (op->action != NULL && strlen(op->action) == n && memcmp(op->action, a, n) == 0)
		return;
	for (seg = a + n; seg > a && seg[-1] != '/';)
		seg--;
	if ((size_t)(a + n - seg) == strlen(op->name) && memcmp(seg, op->name, strlen(op->name)) == 0)
		return;
	log_field(req->soap_action, shown, sizeof(shown));
	log_debug("soap",
		  "SOAPAction differs from the body, dispatching on the body op=%s action=\"%s\" peer=%s",
		  op->name, shown, req->peer[0] != '\0' ? req->peer : "-");
}

void server_soap_dispatch(struct server_req *req, const struct server_service *svc,
			  struct server_resp *resp)
{
	struct protocol_req_msg msg;
	struct fault_spec fs = { .version = PROTOCOL_SOAP11 };
	struct server_fault f = { .code = PROTOCOL_ERR_INTERNAL };
	const struct server_op *op;
	struct pick_ctx pc = { .req = req, .svc = svc };
	struct protocol_req_opts opts = { .pre = &server_limits_pre, .pick = op_limits, .ctx = &pc };
	struct err e = { 0 };
	char text[WSUS_ERR_LEN + 64];
	int rc;

	resp->status = 200;
	resp->content_type = protocol_soap_content_type(PROTOCOL_SOAP11);
	wsus_buf_init(&resp->body, SOAP_MAX_RESPONSE);

	/* Unreadable requests get InvalidParameters rather than Windows' bare
	 * ASP.NET fault: both stop a peer, ours also says why. */
	opts.deadline_ms = req->deadline_ms;
	rc = protocol_req_read(req->body, req->body_len, &opts, &msg, &e);
	fs.version = msg.version ? msg.version : PROTOCOL_SOAP11;
	fs.op = msg.op_name;
	op = msg.op_name != NULL ? find_op(svc, msg.op_name) : NULL;
	if (op != NULL && refuse_op(req, op, resp))
		goto done;
	if (rc == -EFBIG) {
		answer_too_large(req, e.msg, resp);
		goto done;
	}
	if (rc == -ENOENT) {
		snprintf(text, sizeof(text), "Unknown operation %s", msg.op_name);
		fs.code = PROTOCOL_ERR_UNKNOWN_OPERATION;
		fs.message = text;
		answer_fault(req, &fs, resp);
		goto done;
	}
	if (rc < 0) {
		/* Past a limit: the message names it; past the time budget: busy,
		 * the client comes back later. */
		snprintf(text, sizeof(text), "%s%s", rc == -EINVAL ? "malformed SOAP request: " : "", e.msg);
		fs.code = rc == -ENOMEM	     ? PROTOCOL_ERR_INTERNAL
			  : rc == -ETIMEDOUT ? PROTOCOL_ERR_SERVER_BUSY
					     : PROTOCOL_ERR_INVALID_PARAMETERS;
		fs.message = text;
		fs.method = op != NULL ? op->action : req->soap_action;
		answer_fault(req, &fs, resp);
		goto done;
	}
	note_action_mismatch(req, op);
	req->op_name = op->name;
	fs.method = op->action;

	rc = protocol_soap_begin(&resp->body, msg.version);
	if (rc == 0)
		rc = op->fn(req, &msg, &resp->body, &f);
	if (rc == 0)
		rc = protocol_soap_end(&resp->body, msg.version);
	if (rc == 0) {
		resp->content_type = protocol_soap_content_type(msg.version);
		goto done;
	}
	if (rc == -1) {
		fs.code = f.code;
		fs.message = f.message;
	} else {
		/* A failure, not an answer: the peer learns nothing of it. */
		snprintf(text, sizeof(text), "handler returned %d (%s)%s%s", rc,
			 rc < 0 ? strerror(-rc) : "not a result", f.message[0] != '\0' ? ": " : "",
			 f.message);
		fs.code = PROTOCOL_ERR_INTERNAL;
		fs.message = "internal server error";
		fs.log_extra = text;
	}
	answer_fault(req, &fs, resp);
done:
	protocol_req_free(&msg);
}
