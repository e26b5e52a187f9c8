/*
 * sync_http.c -- the upstream HTTPS client: one libcurl easy handle per
 * client, reused (keep-alive), with the trust policy of DESIGN.md applied here
 * and nowhere else (see the design notes in sync.h).
 *
 * A request runs as: route loop (system path, then the user proxy when policy
 * allows and the system path failed at the connection level) > retry loop
 * (transient failures, exponential backoff with jitter) > redirect loop (each
 * hop's URL re-checked) > one curl_easy_perform. The client owns every buffer
 * it allocates; SOAP bodies go to the caller's wsus_buf, GET bodies to the
 * caller's sink.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "protocol.h"
#include "sync_int.h"

#ifndef WSUS_VERSION_STRING
#define WSUS_VERSION_STRING "0"
#endif

#define PROBE_BODY_MAX (64u * 1024)
#define BACKOFF_CAP_MS 30000u

enum req_kind { REQ_SOAP, REQ_GET, REQ_PROBE };

struct req {
	enum req_kind kind;
	const char *url;
	int         allow_http;       /* payload over http:// permitted */
	int         payload;          /* SYNC_GET_PAYLOAD: the content rate limit applies */
	const char *soap_action;
	const char *body;
	size_t      body_len;
	struct wsus_buf *out;         /* REQ_SOAP */
	sync_sink_fn sink;            /* REQ_GET */
	void       *sink_ctx;
	int64_t     offset;           /* REQ_GET: next absolute offset wanted */
	long        status;
	int         soap_fault;
};

/* State of one curl_easy_perform, read by the callbacks. */
struct xfer {
	struct req *rq;
	int64_t  range_start;         /* Content-Range start of this response, -1 none */
	int      checked;             /* first body bytes of this response seen */
	int      deliver;             /* body goes to the caller (else dropped) */
	int      local_rc;            /* why a callback stopped the transfer */
	size_t   dropped;
	char     why[160];
};

struct sync_http {
	const struct wsus_config *cfg;
	CURL    *curl;
	struct curl_slist *soap_hdrs;
	struct sync_pin_store *pins;
	struct sync_trust trust;
	struct sync_proxy_plan plan;
	int      on_user_proxy;       /* the system path failed and the user proxy worked */
	int64_t  recv_limit;          /* bytes/s for payload GETs, 0 = none */
	char     route[700];
	char     errbuf[CURL_ERROR_SIZE];
	struct xfer x;
};

/*---- Library setup ----*/

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;            /* 1 ok, else a negative code */
static char curl_why[160];

static void curl_setup(void)
{
	const curl_version_info_data *vi;
	CURLsslset ss = curl_global_sslset(CURLSSLBACKEND_OPENSSL, NULL, NULL);

	if (ss != CURLSSLSET_OK && ss != CURLSSLSET_TOO_LATE) {
		curl_ready = -ENOTSUP;
		snprintf(curl_why, sizeof(curl_why), "libcurl has no OpenSSL backend (sslset %d)", (int)ss);
		return;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		curl_ready = -EIO;
		snprintf(curl_why, sizeof(curl_why), "curl_global_init failed");
		return;
	}
	vi = curl_version_info(CURLVERSION_NOW);
	if (vi->version_num < 0x075500 || vi->ssl_version == NULL
	    || strncasecmp(vi->ssl_version, "OpenSSL", 7) != 0) {
		curl_ready = -ENOTSUP;
		snprintf(curl_why, sizeof(curl_why),
			 "libcurl %s with %s: need 7.85+ on OpenSSL for the pinning hook",
			 vi->version, vi->ssl_version ? vi->ssl_version : "no TLS");
		return;
	}
	curl_ready = 1;
}

/*---- Decision helpers (pure) ----*/

int sync_url_check(const char *url, int allow_http, char *host, size_t cap, struct err *e)
{
	CURLU *u;
	char *scheme = NULL, *h = NULL;
	size_t hl;
	int rc = 0;

	if (url == NULL || url[0] == '\0')
		return err_set(e, -EINVAL, "no URL given");
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return err_set(e, -EINVAL, "refusing URL %.200s: white space or control characters", url);
	}
	u = curl_url();
	if (u == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK
	    || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = err_set(e, -EINVAL, "refusing URL %.200s: not an absolute URL", url);
		goto done;
	}
	if (strcasecmp(scheme, "https") != 0 && !(allow_http && strcasecmp(scheme, "http") == 0)) {
		rc = err_set(e, -EPERM, "refusing URL %.200s: only https:// is allowed%s", url,
			     allow_http ? " (or http:// for payloads)" : " for upstream requests");
		goto done;
	}
	if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || h[0] == '\0') {
		rc = err_set(e, -EINVAL, "refusing URL %.200s: no host", url);
		goto done;
	}
	hl = strlen(h);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
		snprintf(host, cap, "%.*s", (int)(hl - 2), h + 1);
	else
		snprintf(host, cap, "%s", h);
done:
	curl_free(scheme);
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

void sync_proxy_plan_make(const char *system_proxy, int allow_user_fallback,
			  char *(*get)(const char *name), struct sync_proxy_plan *out)
{
	static const char *const vars[] = { "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
	const char *val = NULL, *var = NULL;

	memset(out, 0, sizeof(*out));
	snprintf(out->system, sizeof(out->system), "%s", system_proxy ? system_proxy : "");
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]) && val == NULL; i++) {
		const char *v = get(vars[i]);

		if (v != NULL && v[0] != '\0' && strlen(v) < sizeof(out->user)) {
			val = v;
			var = vars[i];
		}
	}
	if (val == NULL)
		return;
	if (!allow_user_fallback) {
		out->ignored_var = var;
		return;
	}
	if (strcmp(val, out->system) == 0)
		return; /* the same path again would be no fallback */
	snprintf(out->user, sizeof(out->user), "%s", val);
	out->user_var = var;
}

void sync_proxy_display(const char *proxy, char *out, size_t cap)
{
	const char *start = strstr(proxy, "://");
	const char *host = start ? start + 3 : proxy;
	const char *at = strchr(host, '@');
	const char *slash = strchr(host, '/');

	if (at != NULL && (slash == NULL || at < slash))
		snprintf(out, cap, "%.*s%s", (int)(host - proxy), proxy, at + 1);
	else
		snprintf(out, cap, "%s", proxy);
}

enum sync_fail sync_http_classify(int curl_code, long status, int soap_fault)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return SYNC_FAIL_TRUST;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_PROXY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return SYNC_FAIL_CONNECT;
	default:
		return SYNC_FAIL_OTHER;
	}
	if (status >= 200 && status < 300)
		return SYNC_OK;
	if (status == 500 && soap_fault)
		return SYNC_OK;
	if (status >= 500 || status == 408 || status == 429)
		return SYNC_FAIL_HTTP_RETRY;
	return SYNC_FAIL_HTTP;
}

unsigned sync_backoff_ms(int attempt, uint32_t rnd)
{
	unsigned base = 500;

	for (int i = 0; i < attempt && base < BACKOFF_CAP_MS; i++)
		base *= 2;
	if (base > BACKOFF_CAP_MS)
		base = BACKOFF_CAP_MS;
	return base + rnd % (base / 2 + 1);
}

int sync_url_join(const char *base, const char *path, char *out, size_t cap)
{
	size_t bl = strlen(base);

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	while (*path == '/')
		path++;
	if (snprintf(out, cap, "%.*s/%s", (int)bl, base, path) >= (int)cap)
		return -E2BIG;
	return 0;
}

/*---- Callbacks ----*/

/* Content-Range: bytes START-END/TOTAL of a 206, and a reset at each new
 * response (redirects and retries run on the same handle). */
static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct sync_http *h = ud;
	size_t n = size * nitems;
	char line[256], *end;
	long long v;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		h->x.range_start = -1;
		h->x.checked = 0;
		return n;
	}
	if (n >= sizeof(line) || n < 20 || strncasecmp(buf, "content-range:", 14) != 0)
		return n;
	memcpy(line, buf, n);
	line[n] = '\0';
	end = line + 14;
	while (*end == ' ' || *end == '\t')
		end++;
	if (strncasecmp(end, "bytes ", 6) != 0)
		return n;
	errno = 0;
	v = strtoll(end + 6, &end, 10);
	if (errno == 0 && *end == '-' && v >= 0)
		h->x.range_start = v;
	return n;
}

/* First bytes of a response body: decide where they go. */
static int body_begin(struct sync_http *h)
{
	struct req *rq = h->x.rq;
	long status = 0;

	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	h->x.checked = 1;
	h->x.deliver = 0;
	if (rq->kind == REQ_SOAP) {
		h->x.deliver = !(status >= 300 && status < 400);
		return 0;
	}
	if (rq->kind != REQ_GET || (status != 200 && status != 206))
		return 0;
	if (status == 200 && rq->offset > 0) {
		log_info("sync", "range ignored by the upstream, restarting from 0 url=%s", rq->url);
		rq->offset = 0;
	}
	if (status == 206 && h->x.range_start != rq->offset) {
		snprintf(h->x.why, sizeof(h->x.why), "206 response starts at %lld, asked for %lld",
			 (long long)h->x.range_start, (long long)rq->offset);
		h->x.local_rc = -EPROTO;
		return -1;
	}
	h->x.deliver = 1;
	return 0;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct sync_http *h = ud;
	struct req *rq = h->x.rq;
	size_t n = size * nmemb;
	int rc;

	if (!h->x.checked && body_begin(h) < 0)
		return 0;
	if (!h->x.deliver) {
		h->x.dropped += n;
		if (rq->kind == REQ_PROBE && h->x.dropped > PROBE_BODY_MAX) {
			h->x.local_rc = 1; /* enough: the handshake is what was tested */
			return 0;
		}
		return n;
	}
	if (rq->kind == REQ_SOAP) {
		if (wsus_buf_append(rq->out, buf, n) < 0) {
			h->x.local_rc = -E2BIG;
			snprintf(h->x.why, sizeof(h->x.why), "response larger than %u bytes",
				 SYNC_MAX_SOAP_RESPONSE);
			return 0;
		}
		return n;
	}
	rc = rq->sink(rq->sink_ctx, rq->offset, buf, n);
	if (rc < 0) {
		h->x.local_rc = rc;
		snprintf(h->x.why, sizeof(h->x.why), "the receiver stopped the transfer (%s)", strerror(-rc));
		return 0;
	}
	rq->offset += (int64_t)n;
	return n;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *ud)
{
	struct sync_http *h = ud;

	(void)curl;
	return sync_trust_ctx_hook(ssl_ctx, &h->trust) == 0 ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

/*---- Client ----*/

#define SETOPT(opt, val)                                                        \
	do {                                                                    \
		if (curl_easy_setopt(h->curl, opt, val) != CURLE_OK) {          \
			rc = err_set(e, -ENOTSUP, "libcurl refused %s", #opt);  \
			goto fail;                                              \
		}                                                               \
	} while (0)

static int handle_setup(struct sync_http *h, struct err *e)
{
	const struct wsus_config *cfg = h->cfg;
	long timeout = cfg->up_timeout > 0 ? cfg->up_timeout : 120;
	int rc = 0;

	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(CURLOPT_USERAGENT, "wsus-replica/" WSUS_VERSION_STRING);
	SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_CONNECTTIMEOUT, timeout);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L); /* we follow redirects ourselves, checking each */
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
	if (cfg->up_ca_file != NULL) {
		/* the configured CA alone: the built-in CA path must not widen it */
		SETOPT(CURLOPT_CAINFO, cfg->up_ca_file);
		SETOPT(CURLOPT_CAPATH, (char *)NULL);
	}
	if (cfg->up_client_cert != NULL) {
		/* our identity for an upstream with [server] downstream = allow_list */
		SETOPT(CURLOPT_SSLCERT, cfg->up_client_cert);
		SETOPT(CURLOPT_SSLKEY, cfg->up_client_key);
	}
	/* Every connection makes a full handshake, so the pin hook sees it. */
	SETOPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	SETOPT(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	SETOPT(CURLOPT_SSL_CTX_DATA, h);
	/* libcurl would otherwise read no_proxy/NO_PROXY from the environment */
	SETOPT(CURLOPT_NOPROXY, "");
	SETOPT(CURLOPT_HTTPPROXYTUNNEL, 1L);
	SETOPT(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, h);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, h);
fail:
	return rc;
}

int sync_http_new(const struct wsus_config *cfg, struct sync_http **out, struct err *e)
{
	struct sync_http *h;
	int rc;

	pthread_once(&curl_once, curl_setup);
	if (curl_ready < 0)
		return err_set(e, curl_ready, "%s", curl_why);
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	h->cfg = cfg;
	/* fail closed: the store may have gone since the configuration was read */
	rc = config_check_pin_store(cfg, e);
	if (rc == 0)
		rc = sync_pin_store_load(cfg->tr_pin_store, &h->pins, e);
	if (rc < 0)
		goto fail;
	if (sync_pin_store_count(h->pins) == 0 && sync_pin_store_skipped(h->pins) > 0) {
		rc = err_set(e, -EPERM,
			     "pin store %s holds %zu file(s) but no readable certificate: refusing to run unpinned",
			     cfg->tr_pin_store, sync_pin_store_skipped(h->pins));
		goto fail;
	}
	h->trust.pins = h->pins;
	h->trust.enforce = cfg->tr_enforce_pinning;
	h->trust.v.matched = -1;
	sync_proxy_plan_make(cfg->tr_proxy, cfg->tr_allow_user_proxy_fallback, getenv, &h->plan);
	if (h->plan.ignored_var != NULL)
		log_debug("sync", "ignoring the user proxy from $%s (allow_user_proxy_fallback = false)",
			  h->plan.ignored_var);
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		rc = err_set(e, -ENOMEM, "curl_easy_init failed");
		goto fail;
	}
	rc = handle_setup(h, e);
	if (rc < 0)
		goto fail;
	snprintf(h->route, sizeof(h->route), "none yet");
	*out = h;
	return 0;
fail:
	sync_http_free(h);
	return rc;
}

void sync_http_free(struct sync_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->soap_hdrs);
	sync_pin_store_free(h->pins);
	free(h);
}

const struct sync_trust_verdict *sync_http_verdict(const struct sync_http *h)
{
	return &h->trust.v;
}

const char *sync_http_route(const struct sync_http *h)
{
	return h->route;
}

/*---- One attempt ----*/

static int hop_options(struct sync_http *h, struct req *rq, const char *url, const char *proxy,
		       struct err *e)
{
	const char *protos = rq->allow_http ? "http,https" : "https";
	long timeout = h->cfg->up_timeout > 0 ? h->cfg->up_timeout : 120;
	char range[48];
	int rc = 0;

	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_PROXY, proxy); /* always set: "" = direct, never the environment */
	SETOPT(CURLOPT_PROTOCOLS_STR, protos);
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, protos);
	if (rq->kind == REQ_SOAP) {
		SETOPT(CURLOPT_POST, 1L);
		SETOPT(CURLOPT_POSTFIELDS, rq->body);
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		SETOPT(CURLOPT_HTTPHEADER, h->soap_hdrs);
	} else {
		SETOPT(CURLOPT_HTTPGET, 1L);
		SETOPT(CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	}
	if (rq->kind == REQ_GET && rq->offset > 0) {
		snprintf(range, sizeof(range), "%lld-", (long long)rq->offset);
		SETOPT(CURLOPT_RANGE, range);
	} else {
		SETOPT(CURLOPT_RANGE, (char *)NULL);
	}
	if (rq->kind == REQ_GET) {
		/* payloads are compressed already, and ranges must count raw bytes;
		 * a long download has no total limit, only a stall limit */
		SETOPT(CURLOPT_ACCEPT_ENCODING, (char *)NULL);
		SETOPT(CURLOPT_TIMEOUT, 0L);
		SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
		SETOPT(CURLOPT_LOW_SPEED_TIME, timeout);
		SETOPT(CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)(rq->payload ? h->recv_limit : 0));
	} else {
		SETOPT(CURLOPT_ACCEPT_ENCODING, "");
		SETOPT(CURLOPT_TIMEOUT, timeout);
		SETOPT(CURLOPT_LOW_SPEED_LIMIT, 0L);
		SETOPT(CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)0);
	}
fail:
	return rc;
}

static int is_soap_fault(const struct req *rq)
{
	struct protocol_soap_msg m = { 0 };
	int fault;

	if (rq->kind != REQ_SOAP || rq->out->len == 0)
		return 0;
	if (protocol_soap_parse(rq->out->data, rq->out->len, &m, NULL) < 0)
		return 0;
	fault = strcmp(m.op_name, "Fault") == 0
		&& (strcmp(m.op_ns, PROTOCOL_NS_SOAP11) == 0 || strcmp(m.op_ns, PROTOCOL_NS_SOAP12) == 0);
	protocol_soap_msg_free(&m);
	return fault;
}

static int code_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY: return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_PROXY: return -EPROTO;
	default: return -ECONNRESET;
	}
}

/* The words for a trust failure: ours when the pin hook refused, libcurl's
 * otherwise, with the verdict brought in line. */
static int trust_failure(struct sync_http *h, CURLcode cc, const char *url, unsigned before,
			 struct err *e)
{
	struct sync_trust_verdict *v = &h->trust.v;
	int fresh = h->trust.decisions != before;

	if (fresh && v->pin == SYNC_PIN_NOT_PINNED)
		return err_set(e, -EPERM, "%s (upstream %s)", v->line, v->host);
	if (fresh && v->pin == SYNC_PIN_UNTRUSTED)
		return err_set(e, -EPERM, "TLS verification failed for %s: %s; %s", url, v->line, h->errbuf);
	if (fresh && v->allowed) {
		/* the chain passed and the pins agreed, then libcurl's own checks
		 * (host name) refused the connection */
		v->allowed = 0;
		snprintf(v->line, sizeof(v->line), "refused after the pin check: %s", h->errbuf);
	}
	if (cc == CURLE_SSL_CONNECT_ERROR
	    && (strstr(h->errbuf, "protocol version") != NULL || strstr(h->errbuf, "unsupported protocol") != NULL))
		return err_set(e, -EPERM, "TLS handshake with %s failed: the upstream offers nothing from TLS 1.2 on: %s",
			       url, h->errbuf);
	if (cc == CURLE_SSL_CONNECT_ERROR)
		return err_set(e, -EPERM,
			       "TLS handshake with %s failed (TLS 1.2 or later and a verifiable certificate are required): %s",
			       url, h->errbuf);
	if (cc == CURLE_PEER_FAILED_VERIFICATION)
		return err_set(e, -EPERM, "TLS verification failed for %s: %s", url, h->errbuf);
	return err_set(e, -EPERM, "refused %s: %s", url, h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
}

/* One curl_easy_perform of one hop; *cls says how it went. */
static int attempt_once(struct sync_http *h, struct req *rq, const char *url, const char *proxy,
			enum sync_fail *cls, struct err *e)
{
	unsigned before = h->trust.decisions;
	long connects = 0, status = 0;
	CURLcode cc;
	int rc;

	rc = sync_url_check(url, rq->allow_http, h->trust.host, sizeof(h->trust.host), e);
	if (rc < 0) {
		*cls = SYNC_FAIL_TRUST;
		return rc;
	}
	rc = hop_options(h, rq, url, proxy, e);
	if (rc < 0) {
		*cls = SYNC_FAIL_OTHER;
		return rc;
	}
	memset(&h->x, 0, sizeof(h->x));
	h->x.rq = rq;
	h->x.range_start = -1;
	h->errbuf[0] = '\0';
	if (rq->kind == REQ_SOAP)
		wsus_buf_free(rq->out);
	h->trust.tls_proxy = strncasecmp(proxy, "https://", 8) == 0;
	cc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects);
	rq->status = status;
	if (cc == CURLE_WRITE_ERROR && h->x.local_rc == 1)
		cc = CURLE_OK; /* probe: stopped reading on purpose */
	else if (cc == CURLE_WRITE_ERROR && h->x.local_rc < 0) {
		*cls = SYNC_FAIL_OTHER;
		return err_set(e, h->x.local_rc, "%s: %s", url, h->x.why);
	}
	if (cc != CURLE_OK) {
		*cls = sync_http_classify(cc, 0, 0);
		if (*cls == SYNC_FAIL_TRUST)
			return trust_failure(h, cc, url, before, e);
		return err_set(e, code_errno(cc), "%s via %s: %s", url, h->route,
			       h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
	}
	/* A new TLS connection that no pin decision saw must not be used. */
	if (connects > 0 && h->trust.decisions == before && strncasecmp(url, "https:", 6) == 0) {
		*cls = SYNC_FAIL_TRUST;
		return err_set(e, -EPERM, "no trust decision was made for the new connection to %s: refusing",
			       h->trust.host);
	}
	rq->soap_fault = status == 500 && is_soap_fault(rq);
	*cls = sync_http_classify(CURLE_OK, status, rq->soap_fault);
	if (*cls == SYNC_OK || status / 100 == 3)
		return 0;
	if (rq->kind == REQ_PROBE) {
		*cls = SYNC_OK; /* any status proves the connection */
		return 0;
	}
	return err_set(e, status == 404 ? -ENOENT : -EIO, "HTTP %ld from %s", status, url);
}

/* One attempt through one route, following redirects. */
static int attempt(struct sync_http *h, struct req *rq, const char *proxy, enum sync_fail *cls,
		   struct err *e)
{
	char url[4096], *loc = NULL;
	int rc;

	if (snprintf(url, sizeof(url), "%s", rq->url) >= (int)sizeof(url)) {
		*cls = SYNC_FAIL_TRUST;
		return err_set(e, -EINVAL, "URL longer than %zu bytes", sizeof(url) - 1);
	}
	for (int hop = 0; hop <= SYNC_MAX_REDIRECTS; hop++) {
		rc = attempt_once(h, rq, url, proxy, cls, e);
		if (rc < 0 || rq->status / 100 != 3)
			return rc;
		loc = NULL;
		if (curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || loc == NULL) {
			*cls = SYNC_FAIL_HTTP;
			return err_set(e, -EIO, "HTTP %ld without a Location from %s", rq->status, url);
		}
		if (sync_url_check(loc, rq->allow_http, h->trust.host, sizeof(h->trust.host), e) < 0) {
			*cls = SYNC_FAIL_TRUST;
			err_prefix(e, "refusing the redirect from %.200s", url);
			return -EPERM;
		}
		log_info("sync", "redirected status=%ld from=%s to=%s", rq->status, url, loc);
		if (snprintf(url, sizeof(url), "%s", loc) >= (int)sizeof(url)) {
			*cls = SYNC_FAIL_TRUST;
			return err_set(e, -EINVAL, "redirect URL longer than %zu bytes", sizeof(url) - 1);
		}
	}
	*cls = SYNC_FAIL_OTHER;
	return err_set(e, -ELOOP, "more than %d redirects from %s", SYNC_MAX_REDIRECTS, rq->url);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void route_name(struct sync_http *h, const char *proxy, int user)
{
	char shown[512];

	if (proxy[0] == '\0') {
		snprintf(h->route, sizeof(h->route), "direct");
		return;
	}
	sync_proxy_display(proxy, shown, sizeof(shown));
	if (user)
		snprintf(h->route, sizeof(h->route), "user proxy %s (from $%s)", shown, h->plan.user_var);
	else
		snprintf(h->route, sizeof(h->route), "system proxy %s", shown);
}

/* Attempts through one route, retrying transient failures. */
static int run_route(struct sync_http *h, struct req *rq, const char *proxy, int user,
		     enum sync_fail *cls, struct err *e)
{
	int retries = h->cfg->up_retries > 0 ? h->cfg->up_retries : 0;
	uint32_t rnd;
	unsigned ms;
	int rc = 0;

	route_name(h, proxy, user);
	for (int i = 0; i <= retries; i++) {
		rc = attempt(h, rq, proxy, cls, e);
		if (rc == 0)
			return 0;
		log_warn("sync", "request failed url=%s route=\"%s\" attempt=%d/%d: %s", rq->url, h->route,
			 i + 1, retries + 1, e ? e->msg : "");
		if (*cls != SYNC_FAIL_CONNECT && *cls != SYNC_FAIL_HTTP_RETRY)
			return rc;
		if (i == retries)
			break;
		if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
			rnd = (uint32_t)time(NULL);
		ms = sync_backoff_ms(i, rnd);
		log_info("sync", "retrying in %u ms url=%s", ms, rq->url);
		sleep_ms(ms);
	}
	return rc;
}

static int run(struct sync_http *h, struct req *rq, struct err *e)
{
	enum sync_fail cls = SYNC_OK;
	int rc;

	if (h->on_user_proxy)
		return run_route(h, rq, h->plan.user, 1, &cls, e);
	rc = run_route(h, rq, h->plan.system, 0, &cls, e);
	if (rc == 0 || cls != SYNC_FAIL_CONNECT || h->plan.user[0] == '\0')
		return rc;
	log_warn("sync", "the system path failed (%s); falling back to the user proxy from $%s",
		 h->route, h->plan.user_var);
	rc = run_route(h, rq, h->plan.user, 1, &cls, e);
	if (rc == 0)
		h->on_user_proxy = 1;
	return rc;
}

/*---- Requests ----*/

static int soap_headers(struct sync_http *h, const char *action, struct err *e)
{
	char line[1024];
	int quoted = action[0] == '"';
	struct curl_slist *l = NULL, *n;
	static const char *const fixed[] = { "Content-Type: text/xml; charset=utf-8", "Expect:" };

	if (snprintf(line, sizeof(line), "SOAPAction: %s%s%s", quoted ? "" : "\"", action,
		     quoted ? "" : "\"") >= (int)sizeof(line))
		return err_set(e, -E2BIG, "SOAPAction too long");
	for (size_t i = 0; i < 2; i++) {
		n = curl_slist_append(l, fixed[i]);
		if (n == NULL)
			goto oom;
		l = n;
	}
	n = curl_slist_append(l, line);
	if (n == NULL)
		goto oom;
	curl_slist_free_all(h->soap_hdrs);
	h->soap_hdrs = n;
	return 0;
oom:
	curl_slist_free_all(l);
	return err_set(e, -ENOMEM, "out of memory");
}

int sync_http_post_soap(struct sync_http *h, const char *url, const char *soap_action,
			const char *body, size_t len, long *status, struct wsus_buf *out, struct err *e)
{
	struct req rq = { .kind = REQ_SOAP, .url = url, .soap_action = soap_action,
			  .body = body, .body_len = len, .out = out };
	int rc;

	wsus_buf_free(out);
	wsus_buf_init(out, SYNC_MAX_SOAP_RESPONSE);
	rc = soap_headers(h, soap_action ? soap_action : "", e);
	if (rc < 0)
		return rc;
	rc = run(h, &rq, e);
	if (status != NULL)
		*status = rq.status;
	return rc;
}

int sync_http_get(struct sync_http *h, const char *url, int flags, int64_t offset,
		  sync_sink_fn sink, void *ctx, long *status, struct err *e)
{
	struct req rq = { .kind = REQ_GET, .url = url, .sink = sink, .sink_ctx = ctx,
			  .offset = offset < 0 ? 0 : offset };
	int rc;

	rq.allow_http = (flags & SYNC_GET_PAYLOAD) && h->cfg->tr_allow_http_content;
	rq.payload = (flags & SYNC_GET_PAYLOAD) != 0;
	rc = run(h, &rq, e);
	if (status != NULL)
		*status = rq.status;
	return rc;
}

void sync_http_set_recv_limit(struct sync_http *h, int64_t bytes_per_s)
{
	h->recv_limit = bytes_per_s > 0 ? bytes_per_s : 0;
}

int sync_pin_fetch(const struct wsus_config *cfg, struct sync_presented *out, struct err *e)
{
	struct sync_http *h = NULL;
	struct err pe = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (cfg->up_url == NULL)
		return err_set(e, -EINVAL, "no upstream: set [upstream] url in the configuration");
	rc = sync_http_new(cfg, &h, e);
	if (rc < 0)
		return rc;
	h->trust.observe = out;
	rc = sync_http_probe(h, cfg->up_url, NULL, &pe);
	snprintf(out->route, sizeof(out->route), "%s", sync_http_route(h));
	sync_http_free(h);
	if (out->n > 0)
		return 0;
	if (rc == 0)
		rc = -EPROTO;
	return err_set(e, rc, "no certificate was presented by %s: %s", cfg->up_url,
		       pe.msg[0] ? pe.msg : "no TLS handshake");
}

int sync_http_probe(struct sync_http *h, const char *url, long *status, struct err *e)
{
	struct req rq = { .kind = REQ_PROBE, .url = url };
	int rc = run(h, &rq, e);

	if (status != NULL)
		*status = rq.status;
	return rc;
}
