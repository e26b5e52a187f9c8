/*
 * test_server_sss_replay.c -- what real peers send, answered like Windows.
 * Groups: 1 the Windows Server 2025 capture (fixtures/ws2025-uss-capture):
 *           every request, our cookies substituted, answered with the same
 *           structure as the real upstream, the three faults included;
 *         2 the MS-WSUSSS section 4 examples (spec/examples-sss): every
 *           request answered without a fault, valid against the XSD, and
 *           shaped like the example response where the example is complete.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_server_sss_util.h"

#define CAPTURE  WSUS_SHARED_DIR "/fixtures/ws2025-uss-capture"
#define EXAMPLES WSUS_SHARED_DIR "/spec/examples-sss"
#define DOCS     WSUS_SHARED_DIR "/fixtures/update-docs"
#define CAPTURE_MU "http://download.windowsupdate.com/c/msdownload/update/software/defu/2026/10/" \
	"am_delta_87f5bd0469585006aa5d3a77d1c662fd2895ddcd.exe"

static void assert_same_shape(const struct server_resp *r, const char *want, size_t want_len,
			      const char *what)
{
	char why[512];

	if (sfx_same_shape(r->body.data, r->body.len, want, want_len, why, sizeof(why)) < 0)
		fail_msg("%s: structure differs from the reference: %s\n ours: %.1500s", what, why, r->body.data);
}

static const char *expected_fault(const char *reference)
{
	static char code[64];
	const char *p = strstr(reference, "<ErrorCode>"), *end;

	code[0] = '\0';
	if (p == NULL)
		return code;
	p += strlen("<ErrorCode>");
	end = strstr(p, "</ErrorCode>");
	snprintf(code, sizeof(code), "%.*s", (int)(end - p), p);
	return code;
}

/*---- 1 the capture ----*/

/* 1.1 all 19 exchanges of the capture: same operation element, same children
 * in the same order (XmlUpdateBlobCompressed and XmlUpdateBlob one slot);
 * unknown id -> InternalServerError, bad anchor -> InvalidParameters, no
 * cookie -> InvalidCookie; every answer valid against its XSD */
static void test_capture_replay(void **state)
{
	struct sfx *x = *state;
	char path[512], *auth = NULL, *cookie = NULL;

	sfx_import_dir(x->st, DOCS, CAPTURE_MU);
	for (int i = 1; i <= 19; i++) {
		const struct server_service *svc = i == 2 ? &server_dssauth_service : &server_sss_service;
		const char *svc_path = i == 2 ? DSSAUTH_PATH : SSS_PATH;
		struct server_resp r;
		char *req, *want, *body, what[64];
		size_t want_len;

		snprintf(what, sizeof(what), "capture %06d", i);
		snprintf(path, sizeof(path), "%s/%06d-request.body", CAPTURE, i);
		req = sfx_read(path, NULL);
		snprintf(path, sizeof(path), "%s/%06d-response.body", CAPTURE, i);
		want = sfx_read(path, &want_len);
		/* 000002 gives the authorization cookie, 000003 the cookie, which
		 * stand in for the capture's runs of 'A' from then on. */
		body = i == 3 ? sfx_replace_runs(req, auth) : cookie ? sfx_replace_runs(req, cookie) : strdup(req);
		sfx_call(x, svc, svc_path, body, &r);
		assert_same_shape(&r, want, want_len, what);
		if (strstr(want, "<soap:Fault>") != NULL) {
			if (strcmp(sfx_fault_code(&r), expected_fault(want)) != 0)
				fail_msg("%s: want %s, got %s", what, expected_fault(want), r.body.data);
		} else {
			sfx_assert_valid(&r, i == 2 ? XSD_DSSAUTH : XSD_SSS);
		}
		if (i == 2)
			auth = sfx_text(&r, "CookieData");
		if (i == 3)
			cookie = sfx_text(&r, "EncryptedData");
		wsus_buf_free(&r.body);
		free(body);
		free(req);
		free(want);
	}
	free(auth);
	free(cookie);
}

/* 1.2 the capture's GetUpdateData for a leaf with a file: our FileDigest is
 * the real one, and MUUrl passes through */
static void test_capture_leaf_file_urls(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char path[512], *req, *body, *cookie = NULL, *v;

	sfx_import_dir(x->st, DOCS, CAPTURE_MU);
	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	snprintf(path, sizeof(path), "%s/000014-request.body", CAPTURE);
	req = sfx_read(path, NULL);
	body = sfx_replace_runs(req, cookie);
	sfx_call(x, &server_sss_service, SSS_PATH, body, &r);
	sfx_assert_valid(&r, XSD_SSS);
	v = sfx_text(&r, "FileDigest");
	assert_string_equal(v, "h/W9BGlYUAaqXTp30cZi/SiV3c0=");
	free(v);
	v = sfx_text(&r, "MUUrl");
	assert_string_equal(v, CAPTURE_MU);
	free(v);
	wsus_buf_free(&r.body);
	free(body);
	free(req);
	free(cookie);
}

static char *capture(int n, const char *kind, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%06d-%s.body", CAPTURE, n, kind);
	return sfx_read(path, len);
}

static int alike(const char *a, const char *b)
{
	char why[512];

	return sfx_same_shape(a, strlen(a), b, strlen(b), why, sizeof(why)) == 0;
}

/* 1.3 the structural comparison itself tells shapes apart: a missing
 * FileDigestList, two fields swapped, another operation; and it lets data
 * differ: an empty list against a full one, two faults */
static void test_shape_comparison_discriminates(void **state)
{
	char *r4 = capture(4, "response", NULL), *r5 = capture(5, "response", NULL);
	char *r6 = capture(6, "response", NULL), *r7 = capture(7, "response", NULL);
	char *r13 = capture(13, "response", NULL), *r14 = capture(14, "response", NULL);
	char *r17 = capture(17, "response", NULL), *r18 = capture(18, "response", NULL);
	char *r1 = capture(1, "response", NULL), *swapped = strdup(r5);
	const char *a = "<MaxNumberOfComputerIdsInRequest>0</MaxNumberOfComputerIdsInRequest>";
	const char *b = "<MaxNumberOfDriverSetsPerRequest>0</MaxNumberOfDriverSetsPerRequest>";
	char *p = strstr(swapped, a);

	(void)state;
	assert_true(alike(r4, r5));
	assert_true(alike(r6, r7));
	assert_true(alike(r17, r18));
	assert_false(alike(r13, r14));
	assert_false(alike(r1, r5));
	assert_non_null(p);
	memcpy(p, b, strlen(b));             /* same length: swap in place */
	memcpy(p + strlen(b), a, strlen(a));
	assert_false(alike(r5, swapped));
	free(swapped);
	free(r1);
	free(r4);
	free(r5);
	free(r6);
	free(r7);
	free(r13);
	free(r14);
	free(r17);
	free(r18);
}

/*---- 2 the spec examples ----*/

/* text with the content of every <name>...</name> replaced by value. */
static char *subst_element(const char *text, const char *name, const char *value)
{
	struct wsus_buf b;
	char open[64], close[64];
	const char *p = text, *s, *e;

	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	wsus_buf_init(&b, 64u << 20);
	assert_int_equal(wsus_buf_appends(&b, ""), 0);
	while ((s = strstr(p, open)) != NULL && (e = strstr(s, close)) != NULL) {
		assert_int_equal(wsus_buf_append(&b, p, (size_t)(s - p) + strlen(open)), 0);
		assert_int_equal(wsus_buf_appends(&b, value), 0);
		p = e;
	}
	assert_int_equal(wsus_buf_appends(&b, p), 0);
	return wsus_buf_steal(&b, NULL);
}

/* Section 4 prints sample 2 as bare body elements: wrap them. */
static char *as_envelope(char *text)
{
	const char *start = text;
	char *out;

	if (strstr(text, "Envelope") != NULL)
		return text;
	if (strncmp(start, "<?xml", 5) == 0)
		start = strstr(start, "?>") + 2;
	out = sfx_envelope(start);
	free(text);
	return out;
}

static char *example(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", EXAMPLES, name);
	return as_envelope(sfx_read(path, NULL));
}

struct example_case {
	const char *request;
	const char *response;          /* compared by shape, or NULL */
	const struct server_service *svc;
	const char *path, *xsd;
};

/* 2.1 every example request is answered without a fault (the updates,
 * downstream server and computer they name exist here first), valid against
 * the schema and, where the example response is complete, of its shape.
 * Not compared: 04 (a WSUS 3.0 answer without the newer fields), 06 (update
 * XML as child elements), 07 (Unassigned Computers without ParentGroupId). */
static void test_spec_examples(void **state)
{
	static const struct example_case cases[] = {
		{ "01-GetAuthConfig-request.xml", "01-GetAuthConfig-response.xml", &server_sss_service,
		  SSS_PATH, XSD_SSS },
		{ "02-GetAuthorizationCookie-request.xml", "02-GetAuthorizationCookie-response.xml",
		  &server_dssauth_service, DSSAUTH_PATH, XSD_DSSAUTH },
		{ "03-GetCookie-request.xml", "03-GetCookie-response.xml", &server_sss_service, SSS_PATH, XSD_SSS },
		{ "04-GetConfigData-request.xml", NULL, &server_sss_service, SSS_PATH, XSD_SSS },
		{ "05-GetRevisionIdList-request.xml", "05-GetRevisionIdList-response.xml", &server_sss_service,
		  SSS_PATH, XSD_SSS },
		{ "06-GetUpdateData-request.xml", NULL, &server_sss_service, SSS_PATH, XSD_SSS },
		{ "07-GetDeployments-request.xml", NULL, &server_sss_service, SSS_PATH, XSD_SSS },
		{ "08-GetRollupConfiguration-request.xml", "08-GetRollupConfiguration-response.xml",
		  &server_reporting_service, REPORTING_PATH, XSD_REPORTING },
		{ "09-RollupDownstreamServers-request.xml", "09-RollupDownstreamServers-response.xml",
		  &server_reporting_service, REPORTING_PATH, XSD_REPORTING },
		{ "10-RollupComputers-request.xml", "10-RollupComputers-response.xml", &server_reporting_service,
		  REPORTING_PATH, XSD_REPORTING },
		{ "11-GetOutOfSyncComputers-request.xml", "11-GetOutOfSyncComputers-response.xml",
		  &server_reporting_service, REPORTING_PATH, XSD_REPORTING },
		{ "12-RollupComputerStatus-request.xml", "12-RollupComputerStatus-response.xml",
		  &server_reporting_service, REPORTING_PATH, XSD_REPORTING },
	};
	struct sfx *x = *state;
	char *auth = NULL, *cookie = NULL;
	struct err e = { 0 };

	sfx_import_dir(x->st, DOCS, NULL);
	assert_int_equal(storage_begin(x->st, &e), 0);
	sfx_put(x->st, &(struct sfx_docspec){ .uid = "0287014e-6772-4b4d-81f7-42063ac26e8a", .rev = 100 });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = "36b1c48e-c741-4047-9b09-d38698ed34b3", .rev = 101 });
	assert_int_equal(storage_commit(x->st, &e), 0);
	/* The downstream server of the reporting sample. */
	sfx_login(x, "050cee4a-aaff-470c-8fc3-7a94cb3a4293", "yasufs64.ntdev.corp.microsoft.com", NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct example_case *c = &cases[i];
		struct server_resp r;
		char *req = example(c->request), *body;

		body = subst_element(req, "CookieData", auth ? auth : "");
		free(req);
		req = subst_element(body, "EncryptedData", cookie ? cookie : "");
		free(body);
		sfx_call(x, c->svc, c->path, req, &r);
		if (r.status != 200)
			fail_msg("%s answered a fault: %s", c->request, r.body.data);
		sfx_assert_valid(&r, c->xsd);
		if (c->response != NULL) {
			char *want = example(c->response);

			assert_same_shape(&r, want, strlen(want), c->request);
			free(want);
		}
		if (i == 1)
			auth = sfx_text(&r, "CookieData");
		if (i == 2)
			cookie = sfx_text(&r, "EncryptedData");
		wsus_buf_free(&r.body);
		free(req);
	}
	free(auth);
	free(cookie);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capture_replay, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_capture_leaf_file_urls, sfx_setup, sfx_teardown),
		cmocka_unit_test(test_shape_comparison_discriminates),
		cmocka_unit_test_setup_teardown(test_spec_examples, sfx_setup, sfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
