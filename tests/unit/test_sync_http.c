/*
 * test_sync_http.c -- the upstream client's decisions (sync_http.c), as
 * vector tables: 1 URL policy, 2 proxy plan from configuration and
 * environment, 3 proxy display without credentials, 4 failure classes,
 * 5 backoff bounds, 6 URL joining, 7 a client refuses before connecting
 * (plain http, broken pin store) and starts with no verdict.
 * Real TLS, proxies and redirects are exercised by tests/e2e/trust_*.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "sync_int.h"

/* 1.1 only https:// (any case) unless http is allowed for payloads; bad
 * shapes refused with -EINVAL, refused schemes with -EPERM */
static void test_url_check(void **state)
{
	static const struct { const char *url; int allow_http; int rc; const char *host; } v[] = {
		{ "https://wsus.example.com:8531/", 0, 0, "wsus.example.com" },
		{ "HTTPS://WSUS.example.com/ServerSyncWebService/ServerSyncWebService.asmx", 0, 0, "WSUS.example.com" },
		{ "https://127.0.0.1:8531", 0, 0, "127.0.0.1" },
		{ "https://[::1]:8531/x", 0, 0, "::1" },
		{ "http://wsus.example.com:8530/", 0, -EPERM, NULL },
		{ "HTTP://wsus.example.com/", 0, -EPERM, NULL },
		{ "http://wsus.example.com:8530/Content/09/x.cab", 1, 0, "wsus.example.com" },
		{ "ftp://wsus.example.com/", 1, -EPERM, NULL },
		{ "file:///etc/passwd", 0, -EPERM, NULL },
		{ "wsus.example.com:8531", 0, -EINVAL, NULL },
		{ "https://wsus.example.com/a b", 0, -EINVAL, NULL },
		{ "https://wsus.example.com/\r\nX-Injected: 1", 0, -EINVAL, NULL },
		{ "", 0, -EINVAL, NULL },
	};
	struct err e = { 0 };
	char host[256];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc = sync_url_check(v[i].url, v[i].allow_http, host, sizeof(host), &e);

		if (rc != v[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d (%s)", i, v[i].url, rc, v[i].rc, e.msg);
		if (rc == 0)
			assert_string_equal(host, v[i].host);
		if (rc == -EPERM)
			assert_non_null(strstr(e.msg, "only https:// is allowed"));
	}
}

/* A fake environment for the proxy plan. */
static const char *const *fake_env;

static char *fake_getenv(const char *name)
{
	for (const char *const *p = fake_env; p && *p; p += 2) {
		if (strcmp(p[0], name) == 0)
			return (char *)p[1];
	}
	return NULL;
}

/* 2.1 the system proxy is always first; the environment is ignored unless the
 * fallback is allowed, then the first set variable in order https_proxy,
 * HTTPS_PROXY, all_proxy, ALL_PROXY is the fallback (never the same proxy) */
static void test_proxy_plan(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const lower[] = { "https_proxy", "http://user:3128", "HTTPS_PROXY", "http://upper:3128", NULL };
	static const char *const upper[] = { "HTTPS_PROXY", "http://upper:3128", "ALL_PROXY", "socks5://all:1080", NULL };
	static const char *const all[] = { "http_proxy", "http://plain:80", "ALL_PROXY", "http://all:8080", NULL };
	static const char *const empty[] = { "https_proxy", "", "all_proxy", "http://all:8080", NULL };
	static const char *const same[] = { "https_proxy", "http://sys:3128", NULL };
	static const struct {
		const char *system; int allow; const char *const *env;
		const char *want_user; const char *want_var; const char *want_ignored;
	} v[] = {
		{ NULL, 0, none, "", NULL, NULL },
		{ NULL, 0, lower, "", NULL, "https_proxy" },
		{ "http://sys:3128", 0, upper, "", NULL, "HTTPS_PROXY" },
		{ NULL, 1, lower, "http://user:3128", "https_proxy", NULL },
		{ "http://sys:3128", 1, upper, "http://upper:3128", "HTTPS_PROXY", NULL },
		{ NULL, 1, all, "http://all:8080", "ALL_PROXY", NULL },   /* http_proxy is not for https */
		{ NULL, 1, empty, "http://all:8080", "all_proxy", NULL }, /* empty values are unset */
		{ "http://sys:3128", 1, same, "", NULL, NULL },
		{ NULL, 1, none, "", NULL, NULL },
	};
	struct sync_proxy_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		fake_env = v[i].env;
		sync_proxy_plan_make(v[i].system, v[i].allow, fake_getenv, &p);
		assert_string_equal(p.system, v[i].system ? v[i].system : "");
		if (strcmp(p.user, v[i].want_user) != 0)
			fail_msg("case %zu: user proxy '%s', want '%s'", i, p.user, v[i].want_user);
		if (v[i].want_var)
			assert_string_equal(p.user_var, v[i].want_var);
		else
			assert_null(p.user_var);
		if (v[i].want_ignored)
			assert_string_equal(p.ignored_var, v[i].want_ignored);
		else
			assert_null(p.ignored_var);
	}
}

/* 3.1 credentials never reach a log line */
static void test_proxy_display(void **state)
{
	static const struct { const char *in, *out; } v[] = {
		{ "http://proxy:3128", "http://proxy:3128" },
		{ "http://alice:s3cret@proxy:3128", "http://proxy:3128" },
		{ "alice:pw@proxy:3128", "proxy:3128" },
		{ "http://proxy:3128/p@th", "http://proxy:3128/p@th" },
		{ "", "" },
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sync_proxy_display(v[i].in, out, sizeof(out));
		assert_string_equal(out, v[i].out);
	}
}

/* 4.1 trust failures are never retried; connection failures are (and may fall
 * back); 5xx retried unless it is a SOAP fault */
static void test_classify(void **state)
{
	static const struct { int cc; long status; int fault; enum sync_fail want; } v[] = {
		{ CURLE_OK, 200, 0, SYNC_OK },
		{ CURLE_OK, 206, 0, SYNC_OK },
		{ CURLE_OK, 500, 1, SYNC_OK },
		{ CURLE_OK, 500, 0, SYNC_FAIL_HTTP_RETRY },
		{ CURLE_OK, 503, 0, SYNC_FAIL_HTTP_RETRY },
		{ CURLE_OK, 429, 0, SYNC_FAIL_HTTP_RETRY },
		{ CURLE_OK, 404, 0, SYNC_FAIL_HTTP },
		{ CURLE_OK, 403, 0, SYNC_FAIL_HTTP },
		{ CURLE_PEER_FAILED_VERIFICATION, 0, 0, SYNC_FAIL_TRUST },
		{ CURLE_SSL_CONNECT_ERROR, 0, 0, SYNC_FAIL_TRUST },
		{ CURLE_SSL_CACERT_BADFILE, 0, 0, SYNC_FAIL_TRUST },
		{ CURLE_UNSUPPORTED_PROTOCOL, 0, 0, SYNC_FAIL_TRUST },
		{ CURLE_COULDNT_CONNECT, 0, 0, SYNC_FAIL_CONNECT },
		{ CURLE_COULDNT_RESOLVE_PROXY, 0, 0, SYNC_FAIL_CONNECT },
		{ CURLE_COULDNT_RESOLVE_HOST, 0, 0, SYNC_FAIL_CONNECT },
		{ CURLE_OPERATION_TIMEDOUT, 0, 0, SYNC_FAIL_CONNECT },
		{ CURLE_RECV_ERROR, 0, 0, SYNC_FAIL_CONNECT },
		{ CURLE_PROXY, 0, 0, SYNC_FAIL_CONNECT },
		{ CURLE_PARTIAL_FILE, 0, 0, SYNC_FAIL_CONNECT },
		{ CURLE_WRITE_ERROR, 0, 0, SYNC_FAIL_OTHER },
		{ CURLE_OUT_OF_MEMORY, 0, 0, SYNC_FAIL_OTHER },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		enum sync_fail got = sync_http_classify(v[i].cc, v[i].status, v[i].fault);

		if (got != v[i].want)
			fail_msg("case %zu (curl %d, HTTP %ld): %d, want %d", i, v[i].cc, v[i].status, got, v[i].want);
	}
}

/* 5.1 backoff doubles from 500 ms, adds at most half again, caps at 30 s */
static void test_backoff(void **state)
{
	static const struct { int attempt; unsigned base; } v[] = {
		{ 0, 500 }, { 1, 1000 }, { 2, 2000 }, { 5, 16000 }, { 6, 30000 }, { 40, 30000 },
	};
	static const uint32_t rnds[] = { 0, 1, 249, 250, 12345, 0xffffffffu };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(sync_backoff_ms(v[i].attempt, 0), v[i].base);
		for (size_t r = 0; r < sizeof(rnds) / sizeof(rnds[0]); r++) {
			unsigned ms = sync_backoff_ms(v[i].attempt, rnds[r]);

			assert_true(ms >= v[i].base && ms <= v[i].base + v[i].base / 2);
		}
	}
}

/* 6.1 joining an upstream base and a service path */
static void test_url_join(void **state)
{
	static const struct { const char *base, *path, *out; } v[] = {
		{ "https://u:8531", "/ServerSyncWebService/ServerSyncWebService.asmx",
		  "https://u:8531/ServerSyncWebService/ServerSyncWebService.asmx" },
		{ "https://u:8531/", "DssAuthWebService/DssAuthWebService.asmx",
		  "https://u:8531/DssAuthWebService/DssAuthWebService.asmx" },
		{ "https://u//", "//x", "https://u/x" },
	};
	char out[128], small[10];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(sync_url_join(v[i].base, v[i].path, out, sizeof(out)), 0);
		assert_string_equal(out, v[i].out);
	}
	assert_int_equal(sync_url_join("https://u:8531", "/long/path", small, sizeof(small)), -E2BIG);
}

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/wsus-sync-http.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* 7.1 a client: no verdict before the first request; plain http and other
 * schemes refused before any connection; a pin store holding only unreadable
 * files, or that is not a directory, stops the client from starting */
static void test_client_refusals(void **state)
{
	struct wsus_config *cfg = NULL;
	struct sync_http *h = NULL;
	struct wsus_buf out = { 0 };
	struct err e = { 0 };
	char path[256];
	long status = -1;
	FILE *f;

	(void)state;
	assert_int_equal(config_default(tmp, &cfg, &e), 0);
	assert_int_equal(sync_http_new(cfg, &h, &e), 0);
	assert_int_equal(sync_http_verdict(h)->pin, SYNC_PIN_NONE);
	assert_int_equal(sync_http_verdict(h)->matched, -1);
	assert_int_equal(sync_http_probe(h, "http://127.0.0.1:9/", &status, &e), -EPERM);
	assert_non_null(strstr(e.msg, "refusing URL http://127.0.0.1:9/: only https:// is allowed"));
	assert_int_equal(status, 0);
	assert_int_equal(sync_http_post_soap(h, "ftp://127.0.0.1:9/x", "a", "<x/>", 4, &status, &out, &e), -EPERM);
	assert_int_equal(sync_http_get(h, "http://127.0.0.1:9/c.cab", SYNC_GET_PAYLOAD, 0, NULL, NULL, &status, &e),
			 -EPERM); /* allow_http_content is off */
	wsus_buf_free(&out);
	sync_http_free(h);
	h = NULL;

	/* the store holds a file but no certificate: refuse to run unpinned */
	assert_int_equal(mkdir(cfg->tr_pin_store, 0755), 0);
	snprintf(path, sizeof(path), "%s/garbled.pem", cfg->tr_pin_store);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	log_set_verbosity(LOG_ERR);
	assert_int_equal(sync_http_new(cfg, &h, &e), -EPERM);
	log_set_verbosity(LOG_INFO);
	assert_null(h);
	assert_non_null(strstr(e.msg, "no readable certificate: refusing to run unpinned"));

	/* pin_store is a file */
	free(cfg->tr_pin_store);
	cfg->tr_pin_store = strdup(path);
	assert_int_equal(sync_http_new(cfg, &h, &e), -ENOTDIR);
	assert_null(h);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_proxy_plan),
		cmocka_unit_test(test_proxy_display),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_url_join),
		cmocka_unit_test_setup_teardown(test_client_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
