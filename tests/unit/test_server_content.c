/*
 * test_server_content.c -- the parsers behind /Content: byte ranges, content
 * paths (and what must never pass as one), conditional requests, HTTP dates.
 * Groups: 1 Range vectors, 2 content paths and traversal, 3 conditions,
 * 4 HTTP dates.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server_int.h"

#define SHA "7f25cb2ac12b6d5a90780993c82ebd48749da4d8"

/* 1.1 every Range form against a 1000-byte file, and the edge sizes */
static void test_range_vectors(void **state)
{
	static const struct {
		const char *hdr;
		int64_t size;
		int want;                      /* return value */
		int64_t r[3][2];               /* expected ranges when want > 0 */
	} v[] = {
		{ "bytes=0-0", 1000, 1, { { 0, 0 } } },
		{ "bytes=0-499", 1000, 1, { { 0, 499 } } },
		{ "bytes=500-999", 1000, 1, { { 500, 999 } } },
		{ "bytes=500-", 1000, 1, { { 500, 999 } } },
		{ "bytes=-100", 1000, 1, { { 900, 999 } } },
		{ "bytes=-2000", 1000, 1, { { 0, 999 } } },
		{ "bytes=990-2000", 1000, 1, { { 990, 999 } } },
		{ "bytes=0-99999999999999999999", 1000, 1, { { 0, 999 } } },
		{ "bytes=0-9,20-29", 1000, 2, { { 0, 9 }, { 20, 29 } } },
		{ "bytes=20-29,0-9,-1", 1000, 3, { { 20, 29 }, { 0, 9 }, { 999, 999 } } },
		{ " bytes=0-9 , 20-29 ", 1000, 2, { { 0, 9 }, { 20, 29 } } },
		{ "BYTES=0-9", 1000, 1, { { 0, 9 } } },
		{ "bytes=,0-9,,", 1000, 1, { { 0, 9 } } },
		{ "bytes=1000-,0-0", 1000, 1, { { 0, 0 } } },
		/* unsatisfiable: 416 */
		{ "bytes=1000-", 1000, -ERANGE, { { 0 } } },
		{ "bytes=1000-2000", 1000, -ERANGE, { { 0 } } },
		{ "bytes=-0", 1000, -ERANGE, { { 0 } } },
		{ "bytes=1000-,2000-", 1000, -ERANGE, { { 0 } } },
		{ "bytes=99999999999999999999-", 1000, -ERANGE, { { 0 } } },
		{ "bytes=0-", 0, -ERANGE, { { 0 } } },
		{ "bytes=-5", 0, -ERANGE, { { 0 } } },
		/* ignored: serve the whole file */
		{ "bytes=5-4", 1000, 0, { { 0 } } },
		{ "bytes=abc", 1000, 0, { { 0 } } },
		{ "bytes=0-1x", 1000, 0, { { 0 } } },
		{ "bytes=--5", 1000, 0, { { 0 } } },
		{ "bytes=-", 1000, 0, { { 0 } } },
		{ "bytes=0--5", 1000, 0, { { 0 } } },
		{ "items=0-1", 1000, 0, { { 0 } } },
		{ "bytes", 1000, 0, { { 0 } } },
		{ "bytes=", 1000, 0, { { 0 } } },
		{ "", 1000, 0, { { 0 } } },
		{ "bytes=0-999,0-999", 1000, 0, { { 0 } } },
	};
	struct server_range out[SERVER_MAX_RANGES];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int got = server_range_parse(v[i].hdr, v[i].size, out, SERVER_MAX_RANGES);

		if (got != v[i].want)
			fail_msg("'%s' size %lld: got %d, want %d", v[i].hdr, (long long)v[i].size, got,
				 v[i].want);
		for (int k = 0; k < got; k++) {
			if (out[k].first != v[i].r[k][0] || out[k].last != v[i].r[k][1])
				fail_msg("'%s' range %d: got %lld-%lld", v[i].hdr, k,
					 (long long)out[k].first, (long long)out[k].last);
		}
	}
}

/* 1.2 at most SERVER_MAX_RANGES ranges; one more and the header is ignored */
static void test_range_count_limit(void **state)
{
	struct server_range out[SERVER_MAX_RANGES];
	char hdr[2048] = "bytes=";
	size_t len = strlen(hdr);

	(void)state;
	for (int i = 0; i < SERVER_MAX_RANGES; i++)
		len += (size_t)snprintf(hdr + len, sizeof(hdr) - len, "%s%d-%d", i ? "," : "", i * 2, i * 2);
	assert_int_equal(server_range_parse(hdr, 1000, out, SERVER_MAX_RANGES), SERVER_MAX_RANGES);
	assert_int_equal(out[SERVER_MAX_RANGES - 1].first, 2 * (SERVER_MAX_RANGES - 1));
	snprintf(hdr + len, sizeof(hdr) - len, ",900-901");
	assert_int_equal(server_range_parse(hdr, 1000, out, SERVER_MAX_RANGES), 0);
}

/* 2.1 good content paths in any case, with and without extension */
static void test_path_good(void **state)
{
	static const struct { const char *path, *ext; } v[] = {
		{ "/Content/d8/" SHA ".msu", "msu" },
		{ "/CONTENT/D8/7F25CB2AC12B6D5A90780993C82EBD48749DA4D8.MSU", "MSU" },
		{ "/content/D8/" SHA ".cab", "cab" },
		{ "/Content/d8/" SHA, "" },
		{ "/Content/d8/" SHA ".abcdefghijklmno", "abcdefghijklmno" },
	};
	uint8_t sha1[WSUS_SHA1_LEN], want[WSUS_SHA1_LEN];
	char ext[16];

	(void)state;
	assert_int_equal(wsus_hex_decode(SHA, want, WSUS_SHA1_LEN), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (server_content_parse_path(v[i].path, sha1, ext) != 0)
			fail_msg("refused %s", v[i].path);
		assert_memory_equal(sha1, want, WSUS_SHA1_LEN);
		assert_string_equal(ext, v[i].ext);
	}
}

/* 2.2 traversal attempts, wrong folders and anything not exactly the shape */
static void test_path_bad(void **state)
{
	static const char *const v[] = {
		"/Content/d9/" SHA ".msu",             /* folder is not the last byte */
		"/Content/7f/" SHA ".msu",             /* first byte instead of last */
		"/Content/../wsus.db",
		"/Content/d8/../../wsus.db",
		"/Content/d8/" SHA ".msu/..",
		"/Content/d8/" SHA "/../x",
		"/Content/%2e%2e/wsus.db",
		"/Content/d8%2F" SHA ".msu",
		"/Content/d8/" SHA "%2F",
		"/Content/d8\\" SHA ".msu",
		"/Content/d8//" SHA ".msu",
		"/Content//d8/" SHA ".msu",
		"//etc/passwd",
		"/etc/passwd",
		"/Content/",
		"/Content",
		"/Content/d8/",
		"http://127.0.0.1/Content/d8/" SHA ".msu",
		"/Content/d8/7f25cb2ac12b6d5a90780993c82ebd48749da4d.msu", /* 39 digits */
		"/Content/d8/" SHA "0.msu",            /* 41 */
		"/Content/d8/" SHA "x",
		"/Content/d8/" SHA ".",
		"/Content/d8/" SHA ".ms u",
		"/Content/d8/" SHA ".tar.gz",
		"/Content/d8/" SHA ".abcdefghijklmnop", /* 16 characters */
		"/Content/d8/" SHA ".msu\n",
		"/Content/g8/" SHA ".msu",
		"/Content/d8/7g25cb2ac12b6d5a90780993c82ebd48749da4d8.msu",
	};
	uint8_t sha1[WSUS_SHA1_LEN];
	char ext[16];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (server_content_parse_path(v[i], sha1, ext) != -ENOENT)
			fail_msg("accepted %s", v[i]);
}

/* 3.1 If-None-Match / If-Modified-Since: 304 on a match, INM wins over IMS */
static void test_cond_not_modified(void **state)
{
	static const struct {
		const char *inm, *ims;
		enum server_cond_result want;
	} v[] = {
		{ NULL, NULL, SERVER_COND_SERVE },
		{ "\"abc\"", NULL, SERVER_COND_NOT_MODIFIED },
		{ "W/\"abc\"", NULL, SERVER_COND_NOT_MODIFIED },   /* weak comparison */
		{ "\"x\", \"abc\"", NULL, SERVER_COND_NOT_MODIFIED },
		{ "*", NULL, SERVER_COND_NOT_MODIFIED },
		{ "\"x\"", NULL, SERVER_COND_SERVE },
		{ "\"abcd\"", NULL, SERVER_COND_SERVE },
		{ NULL, "Sun, 06 Nov 1994 08:49:37 GMT", SERVER_COND_NOT_MODIFIED },
		{ NULL, "Mon, 07 Nov 1994 08:49:37 GMT", SERVER_COND_NOT_MODIFIED },
		{ NULL, "Sat, 05 Nov 1994 08:49:37 GMT", SERVER_COND_SERVE },
		{ NULL, "garbage", SERVER_COND_SERVE },
		{ "\"x\"", "Sun, 06 Nov 1994 08:49:37 GMT", SERVER_COND_SERVE },
	};
	struct server_cond c;
	int use;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.if_none_match = v[i].inm;
		c.if_modified_since = v[i].ims;
		if (server_cond_eval(&c, "\"abc\"", 784111777, &use) != v[i].want)
			fail_msg("case %zu (%s / %s)", i, v[i].inm ? v[i].inm : "-", v[i].ims ? v[i].ims : "-");
	}
}

/* 3.2 If-Match (strong) and If-Unmodified-Since: 412 when they fail */
static void test_cond_precondition(void **state)
{
	static const struct {
		const char *im, *ius;
		enum server_cond_result want;
	} v[] = {
		{ "\"abc\"", NULL, SERVER_COND_SERVE },
		{ "*", NULL, SERVER_COND_SERVE },
		{ "\"x\"", NULL, SERVER_COND_FAILED },
		{ "W/\"abc\"", NULL, SERVER_COND_FAILED },
		{ NULL, "Sat, 05 Nov 1994 08:49:37 GMT", SERVER_COND_FAILED },
		{ NULL, "Sun, 06 Nov 1994 08:49:37 GMT", SERVER_COND_SERVE },
		{ NULL, "not a date", SERVER_COND_SERVE },
		{ "\"abc\"", "Sat, 05 Nov 1994 08:49:37 GMT", SERVER_COND_SERVE }, /* IM wins */
	};
	struct server_cond c;
	int use;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.if_match = v[i].im;
		c.if_unmodified_since = v[i].ius;
		if (server_cond_eval(&c, "\"abc\"", 784111777, &use) != v[i].want)
			fail_msg("case %zu", i);
	}
}

/* 3.3 If-Range: the Range applies only for our strong ETag or exact date */
static void test_cond_if_range(void **state)
{
	static const struct { const char *ir; int use; } v[] = {
		{ NULL, 1 },
		{ "\"abc\"", 1 },
		{ "\"x\"", 0 },
		{ "W/\"abc\"", 0 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 1 },
		{ "Sun, 06 Nov 1994 08:49:38 GMT", 0 },
		{ "whatever", 0 },
	};
	struct server_cond c;
	int use;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.if_range = v[i].ir;
		assert_int_equal(server_cond_eval(&c, "\"abc\"", 784111777, &use), SERVER_COND_SERVE);
		if (use != v[i].use)
			fail_msg("If-Range %s: use_range %d", v[i].ir ? v[i].ir : "(none)", use);
	}
}

/* 4.1 the three HTTP-date forms; anything else is refused */
static void test_http_date(void **state)
{
	static const char *const good[] = {
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
	};
	static const char *const bad[] = {
		"", "Sun, 06 Nov 1994 08:49:37 GMT extra", "Sun, 32 Nov 1994 08:49:37 GMT",
		"Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:49:37 GMT", "1994-11-06T08:49:37Z",
		"Sun, 06 Nov 1994 08:49:37 UTC",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = 0;
		assert_int_equal(server_http_date_parse(good[i], &t), 0);
		assert_int_equal(t, 784111777);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (server_http_date_parse(bad[i], &t) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_vectors),
		cmocka_unit_test(test_range_count_limit),
		cmocka_unit_test(test_path_good),
		cmocka_unit_test(test_path_bad),
		cmocka_unit_test(test_cond_not_modified),
		cmocka_unit_test(test_cond_precondition),
		cmocka_unit_test(test_cond_if_range),
		cmocka_unit_test(test_http_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
