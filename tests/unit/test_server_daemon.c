/*
 * test_server_daemon.c -- the front end core running for real on loopback
 * (port 0), driven with libcurl: routing, methods, body cap, the downstream
 * client-certificate gate, the plain content port, identity fields.
 * This binary brings its own service table (a downstream_only service and
 * an open one, each with an open Echo and a downstream_only Rollup
 * operation) in place of server_services.c.
 * Groups: 1 start and identity, 2 routing and methods, 3 request bodies,
 * 4 mutual TLS allow-list (per service and per operation), 5 plain content
 * port, 6 response encodings.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "config.h"
#include "server.h"
#include "server_int.h"
#include "test_xpress_decoder.h"

/*---- The service table of this binary ----*/

/* The Pad makes the answer large enough to be compressed when asked
 * (server.c sends tiny answers as they are). */
static int op_echo(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		   struct server_fault *f)
{
	(void)msg;
	(void)f;
	return wsus_buf_printf(out, "<EchoResponse xmlns=\"urn:test\"><Peer>%s</Peer>"
			       "<Cert>%s</Cert><Pad>%01500d</Pad></EchoResponse>", req->peer, req->client_fp, 7);
}

static int op_small(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		    struct server_fault *f)
{
	(void)req;
	(void)msg;
	(void)f;
	return wsus_buf_appends(out, "<SmallResponse xmlns=\"urn:test\"/>");
}

/* Echo is open; Rollup is downstream_only (gated per operation on a shared
 * path, as Reporting's rollups are). */
static const struct server_op echo_ops[] = {
	{ "Echo", "urn:test/Echo", op_echo, 0, NULL },
	{ "Rollup", "urn:test/Rollup", op_echo, 1, NULL },
	{ "Small", "urn:test/Small", op_small, 0, NULL },
};
static const char *const down_paths[] = { "/Test/Down.asmx", NULL };
static const char *const open_paths[] = { "/Test/Open.asmx", "/Test/Alias.asmx", NULL };
static const struct server_service down_service = { down_paths, echo_ops, 3, 1 };
static const struct server_service open_service = { open_paths, echo_ops, 3, 0 };
const struct server_service *const server_services[] = { &down_service, &open_service, NULL };

static const char echo_envelope[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "
	"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
	"<Echo xmlns=\"urn:test\"/></soap:Body></soap:Envelope>";
static const char small_envelope[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "
	"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
	"<Small xmlns=\"urn:test\"/></soap:Body></soap:Envelope>";
static const char rollup_envelope[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "
	"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
	"<Rollup xmlns=\"urn:test\"/></soap:Body></soap:Envelope>";

/*---- Fixture: a server, and two client certificates (A allowed, B not) ----*/

struct fixture {
	char dir[64];
	char ca[128];              /* the server's certificate, as the clients' trust */
	char cert_a[128], key_a[128], cert_b[128], key_b[128];
	char fp_a[65], fp_srv[65];
	struct wsus_config *cfg;
	struct server *srv;
	char base[128];            /* https://127.0.0.1:port */
	char plain[128];           /* http://127.0.0.1:port */
};

static void make_client_cert(struct fixture *f, const char *name, char *cert, char *key, char fp[65])
{
	struct wsus_config *c;
	struct err e = { 0 };
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/%s", f->dir, name);
	assert_int_equal(config_default(sub, &c, &e), 0);
	assert_int_equal(server_tls_ensure(c, fp, &e), 0);
	config_free(c);
	snprintf(cert, 128, "%s/tls/server.crt", sub);
	snprintf(key, 128, "%s/tls/server.key", sub);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct err e = { 0 };
	char fp_b[65];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/wsus-srvd.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	make_client_cert(f, "client-a", f->cert_a, f->key_a, f->fp_a);
	make_client_cert(f, "client-b", f->cert_b, f->key_b, fp_b);
	assert_int_equal(config_default(f->dir, &f->cfg, &e), 0);
	free(f->cfg->srv_listen);
	f->cfg->srv_listen = strdup("127.0.0.1:0");
	f->cfg->srv_content_http_listen = strdup("127.0.0.1:0");
	f->cfg->srv_max_body = 64 * 1024;
	f->cfg->srv_threads = 2;
	f->cfg->srv_timeout = 5;
	f->cfg->srv_client_cert_allow = strdup(f->fp_a);
	assert_int_equal(server_tls_ensure(f->cfg, f->fp_srv, &e), 0);
	snprintf(f->ca, sizeof(f->ca), "%s/tls/server.crt", f->dir);
	if (server_start(f->cfg, &f->srv, &e) != 0)
		fail_msg("server_start: %s", e.msg);
	snprintf(f->base, sizeof(f->base), "https://127.0.0.1:%d", server_port(f->srv));
	snprintf(f->plain, sizeof(f->plain), "%s", f->srv->content_url);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	server_stop(f->srv);
	config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/*---- A small libcurl client ----*/

struct reply {
	long status;
	char body[8192];
	size_t len;
	char allow[64];
	char encoding[32];         /* Content-Encoding, "" when none */
};

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;
	size_t take = size * n;

	if (take > sizeof(r->body) - 1 - r->len)
		take = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, take);
	r->len += take;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;
	size_t len = size * n;

	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9), p + 7);
	if (len > 18 && strncasecmp(p, "Content-Encoding: ", 18) == 0)
		snprintf(r->encoding, sizeof(r->encoding), "%.*s", (int)(len - 20), p + 18);
	return len;
}

struct request {
	const char *method;        /* NULL = GET */
	const char *body;
	size_t body_len;
	int chunked;               /* send the body with Transfer-Encoding: chunked */
	int expect;                /* send Expect: 100-continue (else never) */
	const char *cert, *key;    /* client certificate, or NULL */
	const char *accept;        /* Accept-Encoding sent as it is (curl does not decode) */
	const char *decode;        /* or: codings curl asks for and decodes itself */
};

static void http(const struct fixture *f, const char *url, const struct request *rq, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, f->ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	if (rq != NULL && rq->method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq != NULL && rq->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		h = curl_slist_append(h, "Content-Type: text/xml; charset=utf-8");
		if (rq->chunked)
			h = curl_slist_append(h, "Transfer-Encoding: chunked");
		h = curl_slist_append(h, rq->expect ? "Expect: 100-continue" : "Expect:");
		if (rq->accept != NULL) {
			char line[128];

			snprintf(line, sizeof(line), "Accept-Encoding: %s", rq->accept);
			h = curl_slist_append(h, line);
		}
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	if (rq != NULL && rq->decode != NULL)
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, rq->decode);
	if (rq != NULL && rq->cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, rq->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, rq->key);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void post(const struct fixture *f, const char *path, const char *body, const char *cert,
		 const char *key, struct reply *r)
{
	char url[256];
	struct request rq = { .body = body, .body_len = strlen(body), .cert = cert, .key = key };

	snprintf(url, sizeof(url), "%s%s", f->base, path);
	http(f, url, &rq, r);
}

/* 1.1 identity fields and URLs are filled; the fingerprint is ours */
static void test_identity(void **state)
{
	struct fixture *f = *state;
	char want[160];

	assert_true(server_port(f->srv) > 0);
	assert_int_equal(strlen(f->srv->server_id), 36);
	assert_string_equal(f->srv->tls_fp, f->fp_srv);
	snprintf(want, sizeof(want), "https://127.0.0.1:%d", server_port(f->srv));
	assert_string_equal(f->srv->public_url, want);
	assert_int_equal(strncmp(f->srv->content_url, "http://127.0.0.1:", 17), 0);
	assert_string_not_equal(f->srv->content_url, "http://127.0.0.1:0");
	assert_int_equal(f->srv->n_allow_fps, 1);
	assert_string_equal(f->srv->allow_fps[0], f->fp_a);
}

/* 2.1 unknown paths 404; service paths match in any case and by alias;
 * a service answers GET with 405 and Allow: POST; content refuses POST */
static void test_routing(void **state)
{
	struct fixture *f = *state;
	struct request get = { 0 }, del = { .method = "DELETE" };
	struct reply r;
	char url[256];

	snprintf(url, sizeof(url), "%s/nope", f->base);
	http(f, url, &get, &r);
	assert_int_equal(r.status, 404);
	snprintf(url, sizeof(url), "%s/Test/Open.asmx/extra", f->base);
	http(f, url, &get, &r);
	assert_int_equal(r.status, 404);
	snprintf(url, sizeof(url), "%s/test/open.ASMX", f->base);
	http(f, url, &get, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "POST");
	post(f, "/TEST/OPEN.ASMX", echo_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "EchoResponse"));
	assert_non_null(strstr(r.body, "<Peer>127.0.0.1</Peer>"));
	post(f, "/test/alias.asmx", echo_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	snprintf(url, sizeof(url), "%s/Content/d8/7f25cb2ac12b6d5a90780993c82ebd48749da4d8.msu",
		 f->base);
	http(f, url, &del, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	http(f, url, &get, &r);
	assert_int_equal(r.status, 404);                 /* a good path, nothing stored */
}

/* 3.1 a malformed body reaches the SOAP layer and comes back as a fault */
static void test_malformed_body(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	post(f, "/Test/Open.asmx", "<soap:Envelope><unclosed", NULL, NULL, &r);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body, "Fault"));
	post(f, "/Test/Open.asmx", "", NULL, NULL, &r);
	assert_int_equal(r.status, 500);
	post(f, "/Test/Open.asmx", echo_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
}

/* 3.2 bodies over max_body get 413: declared and drained, declared with
 * Expect: 100-continue (answered before the body), chunked; the server keeps
 * answering; a body just under the cap is read whole */
static void test_body_cap(void **state)
{
	struct fixture *f = *state;
	size_t big = 100 * 1024, under = 60 * 1024;
	char *body = malloc(big + 1);
	struct request rq = { .body = body, .body_len = big };
	struct reply r;
	char url[256];

	assert_non_null(body);
	memset(body, 'x', big);
	body[big] = '\0';
	snprintf(url, sizeof(url), "%s/Test/Open.asmx", f->base);
	for (int i = 0; i < 3; i++) {
		http(f, url, &rq, &r);
		assert_int_equal(r.status, 413);
	}
	rq.expect = 1;
	http(f, url, &rq, &r);
	assert_int_equal(r.status, 413);
	rq.expect = 0;
	rq.chunked = 1;
	http(f, url, &rq, &r);
	assert_int_equal(r.status, 413);
	/* under the cap: not 413, the SOAP layer sees the (bad) XML */
	rq.chunked = 0;
	rq.body_len = under;
	http(f, url, &rq, &r);
	assert_int_equal(r.status, 500);
	rq.chunked = 1;
	http(f, url, &rq, &r);
	assert_int_equal(r.status, 500);
	post(f, "/Test/Open.asmx", echo_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	free(body);
}

/* 4.1 downstream_only: the allowed certificate passes (and the handler sees
 * its fingerprint), another one or none gets 403; open services ignore it */
static void test_mtls_gate(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char want[128];

	post(f, "/Test/Down.asmx", echo_envelope, f->cert_a, f->key_a, &r);
	assert_int_equal(r.status, 200);
	snprintf(want, sizeof(want), "<Cert>%s</Cert>", f->fp_a);
	assert_non_null(strstr(r.body, want));
	post(f, "/Test/Down.asmx", echo_envelope, f->cert_b, f->key_b, &r);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body, "Echo"));
	post(f, "/test/down.asmx", echo_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	post(f, "/Test/Open.asmx", echo_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	post(f, "/Test/Open.asmx", echo_envelope, f->cert_b, f->key_b, &r);
	assert_int_equal(r.status, 200);
}

/* 4.2 downstream_only operations are gated on a path open to everyone:
 * only the allowed certificate reaches Rollup (403 otherwise, with no SOAP
 * answer), while Echo on the same path needs none */
static void test_mtls_op_gate(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char want[128];

	post(f, "/Test/Open.asmx", rollup_envelope, f->cert_a, f->key_a, &r);
	assert_int_equal(r.status, 200);
	snprintf(want, sizeof(want), "<Cert>%s</Cert>", f->fp_a);
	assert_non_null(strstr(r.body, want));
	post(f, "/Test/Open.asmx", rollup_envelope, f->cert_b, f->key_b, &r);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body, "Envelope"));
	post(f, "/Test/Open.asmx", rollup_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body, "Envelope"));
	post(f, "/Test/Open.asmx", echo_envelope, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "EchoResponse"));
	/* a downstream_only service still refuses before any operation */
	post(f, "/Test/Down.asmx", rollup_envelope, f->cert_b, f->key_b, &r);
	assert_int_equal(r.status, 403);
}

/* 5.1 the plain port serves /Content only: services are not there */
static void test_plain_port(void **state)
{
	struct fixture *f = *state;
	struct request rq = { .body = echo_envelope, .body_len = sizeof(echo_envelope) - 1 };
	struct request get = { 0 };
	struct reply r;
	char url[256];

	snprintf(url, sizeof(url), "%s/Test/Open.asmx", f->plain);
	http(f, url, &rq, &r);
	assert_int_equal(r.status, 404);
	snprintf(url, sizeof(url), "%s/Content/d8/7f25cb2ac12b6d5a90780993c82ebd48749da4d8.msu",
		 f->plain);
	rq.method = "PUT";
	http(f, url, &rq, &r);
	assert_int_equal(r.status, 405);
	http(f, url, &get, &r);
	assert_int_equal(r.status, 404);
}

/* An Echo answer as received with Accept-Encoding accept. */
static void post_encoded(const struct fixture *f, const char *body, const char *accept, const char *decode,
			 struct reply *r)
{
	char url[256];
	struct request rq = { .body = body, .body_len = strlen(body), .accept = accept, .decode = decode };

	snprintf(url, sizeof(url), "%s/Test/Open.asmx", f->base);
	http(f, url, &rq, r);
}

/* 6.1 Accept-Encoding: xpress gets an Xpress body (Content-Encoding:
 * xpress) that decodes to the envelope; xpress wins over gzip; q=0 refuses
 * a coding */
static void test_xpress_response(void **state)
{
	static const char *const asks[] = { "xpress", "gzip, xpress", "XPRESS;q=1", "deflate, xpress;q=0.5" };
	struct fixture *f = *state;
	struct reply plain, r;

	post_encoded(f, echo_envelope, NULL, NULL, &plain);
	assert_int_equal(plain.status, 200);
	assert_string_equal(plain.encoding, "");
	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		uint8_t *dec = NULL;
		size_t n = 0;

		post_encoded(f, echo_envelope, asks[i], NULL, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.encoding, "xpress");
		assert_null(strstr(r.body, "EchoResponse"));
		if (txd_stream((const uint8_t *)r.body, r.len, &dec, &n) != 0)
			fail_msg("the xpress answer to \"%s\" does not decode", asks[i]);
		assert_int_equal(n, plain.len);
		assert_memory_equal(dec, plain.body, n);
		assert_non_null(strstr((const char *)dec, "<soap:Envelope"));
		free(dec);
	}
	post_encoded(f, echo_envelope, "xpress;q=0", NULL, &r);
	assert_string_equal(r.encoding, "");
	assert_memory_equal(r.body, plain.body, plain.len);
	post_encoded(f, echo_envelope, "identity", NULL, &r);
	assert_string_equal(r.encoding, "");
	/* a tiny answer (under 300 bytes) goes out as it is, asked or not */
	post_encoded(f, small_envelope, "xpress, gzip", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.encoding, "");
	assert_non_null(strstr(r.body, "SmallResponse"));
}

/* 6.2 gzip (and not xpress) gets a gzip body that curl inflates to the same
 * envelope; faults go out unencoded */
static void test_gzip_response(void **state)
{
	struct fixture *f = *state;
	struct reply plain, r;

	post_encoded(f, echo_envelope, NULL, NULL, &plain);
	post_encoded(f, echo_envelope, NULL, "gzip", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.encoding, "gzip");
	assert_int_equal(r.len, plain.len);
	assert_memory_equal(r.body, plain.body, plain.len);
	post_encoded(f, echo_envelope, "xpress;q=0, gzip;q=0.8", NULL, &r);
	assert_string_equal(r.encoding, "gzip");
	post_encoded(f, "<soap:Envelope><unclosed", "xpress, gzip", NULL, &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.encoding, "");
	assert_non_null(strstr(r.body, "Fault"));
}

/* 6.3 the Accept-Encoding reader */
static void test_accept_encoding(void **state)
{
	(void)state;
	assert_null(server_accept_encoding(NULL));
	assert_null(server_accept_encoding(""));
	assert_null(server_accept_encoding("identity, deflate"));
	assert_null(server_accept_encoding("xpressive, gzipped"));
	assert_null(server_accept_encoding("xpress;q=0, gzip;q=0.000"));
	assert_string_equal(server_accept_encoding("xpress"), "xpress");
	assert_string_equal(server_accept_encoding(" gzip , Xpress ;q=0.1"), "xpress");
	assert_string_equal(server_accept_encoding("gzip"), "gzip");
	assert_string_equal(server_accept_encoding("br,gzip;q=1.0"), "gzip");
	assert_string_equal(server_accept_encoding("xpress;q=0,gzip"), "gzip");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_malformed_body),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_mtls_gate),
		cmocka_unit_test(test_mtls_op_gate),
		cmocka_unit_test(test_plain_port),
		cmocka_unit_test(test_xpress_response),
		cmocka_unit_test(test_gzip_response),
		cmocka_unit_test(test_accept_encoding),
	};
	int rc;

	log_set_verbosity(LOG_ERR);
	signal(SIGPIPE, SIG_IGN);   /* as cmd_serve does */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
