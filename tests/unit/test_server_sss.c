/*
 * test_server_sss.c -- the upstream role, first half: authorisation,
 * cookies, GetConfigData and GetRevisionIdList, through server_soap_dispatch
 * on a real storage. Every non-fault response is checked against the XSD.
 * Groups: 1 authorisation (GetAuthConfig, GetAuthorizationCookie, GetCookie),
 *         2 cookie rejections at the service level,
 *         3 GetConfigData,
 *         4 GetRevisionIdList (kinds, highest revision, anchors, filters),
 *         5 the DSS table, GetRelatedRevisionsForUpdates and Ping.
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

#define NS_SD PROTOCOL_NS_SD
#define DOCS  WSUS_SHARED_DIR "/fixtures/update-docs"

/* Generated catalogue of group 4. */
#define FAMILY  "f0000000-0000-4000-8000-000000000001"
#define PRODUCT "f0000000-0000-4000-8000-000000000002"
#define OTHER   "f0000000-0000-4000-8000-000000000003"
#define CLASS   "c0000000-0000-4000-8000-000000000001"
#define U_BOTH  "a0000000-0000-4000-8000-000000000001"
#define U_OTHER "a0000000-0000-4000-8000-000000000002"
#define U_PONLY "a0000000-0000-4000-8000-000000000003"
#define BUNDLE  "a0000000-0000-4000-8000-000000000004"
#define CHILD   "a0000000-0000-4000-8000-000000000005"

static char *get_cookie_op(const char *auth, const char *version)
{
	return sfx_fmt("<GetCookie xmlns=\"%s\"><authCookies><AuthorizationCookie><PlugInId>DssTargeting"
		       "</PlugInId><CookieData>%s</CookieData></AuthorizationCookie></authCookies>"
		       "<protocolVersion>%s</protocolVersion></GetCookie>", NS_SD, auth, version);
}

static void config_data(struct sfx *x, const char *cookie, const char *anchor, struct server_resp *r)
{
	char *ck = sfx_cookie_xml(cookie);
	char *op = sfx_fmt("<GetConfigData xmlns=\"%s\">%s%s%s%s</GetConfigData>", NS_SD, ck,
			   anchor ? "<configAnchor>" : "", anchor ? anchor : "", anchor ? "</configAnchor>" : "");

	sfx_op(x, &server_sss_service, op, r);
	free(op);
	free(ck);
}

static void revlist(struct sfx *x, const char *cookie, int config, const char *anchor, const char *extra,
		    struct server_resp *r)
{
	char *ck = sfx_cookie_xml(cookie);
	char *op = sfx_fmt("<GetRevisionIdList xmlns=\"%s\">%s<filter>%s%s%s<GetConfig>%s</GetConfig>"
			   "<Get63LanguageOnly>false</Get63LanguageOnly>%s</filter></GetRevisionIdList>",
			   NS_SD, ck, anchor ? "<Anchor>" : "", anchor ? anchor : "", anchor ? "</Anchor>" : "",
			   config ? "true" : "false", extra ? extra : "");

	sfx_op(x, &server_sss_service, op, r);
	free(op);
	free(ck);
}

/* A sealed cookie of any shape, for the rejection tests. */
static char *seal(struct sfx *x, const uint8_t key[32], enum server_cookie_kind kind, const char *server_id,
		  const char *version, int64_t expires)
{
	struct server_cookie_claims c;
	char *out = NULL;
	struct err e = { 0 };

	(void)x;
	memset(&c, 0, sizeof(c));
	c.kind = kind;
	snprintf(c.subject, sizeof(c.subject), "%s", TEST_DSS_GUID);
	snprintf(c.server_id, sizeof(c.server_id), "%s", server_id);
	snprintf(c.protocol_version, sizeof(c.protocol_version), "%s", version);
	c.issued_ms = wsus_now_ms() - 1000;
	c.expires_ms = expires;
	assert_int_equal(server_cookie_seal(key, &c, &out, &e), 0);
	return out;
}

/*---- 1 authorisation ----*/

/* 1.1 GetAuthConfig names the DssTargeting plug-in and the DssAuth path */
static void test_auth_config_names_dssauth_plugin(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *v;

	sfx_op(x, &server_sss_service, "<GetAuthConfig xmlns=\"" NS_SD "\"/>", &r);
	sfx_assert_valid(&r, XSD_SSS);
	v = sfx_text(&r, "PlugInID");
	assert_string_equal(v, "DssTargeting");
	free(v);
	v = sfx_text(&r, "ServiceUrl");
	assert_string_equal(v, "DssAuthWebService/DssAuthWebService.asmx");
	free(v);
	wsus_buf_free(&r.body);
}

static int collect_dss(const struct storage_dss_row *d, void *ctx)
{
	struct wsus_buf *b = ctx;

	return wsus_buf_printf(b, "%s|%s|%s|%s|%s|%d|%d|%d\n", d->server_id, d->fqdn, d->address,
			       d->protocol_version, d->parent_id, d->last_auth > 0, d->first_seen > 0,
			       d->last_seen > 0);
}

static char *dss_rows(struct sfx *x)
{
	struct wsus_buf b;
	struct err e = { 0 };

	wsus_buf_init(&b, 1 << 20);
	assert_int_equal(wsus_buf_appends(&b, ""), 0);
	assert_int_equal(storage_dss_foreach(x->st, collect_dss, &b, &e), 0);
	return wsus_buf_steal(&b, NULL);
}

/* 1.2 GetAuthorizationCookie records the downstream server (once, its name
 * refreshed) and returns a DssAuth-namespace cookie; GetCookie records the
 * protocol version */
static void test_authorization_cookie_records_dss(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *rows, *op;

	op = sfx_fmt("<GetAuthorizationCookie xmlns=\"%s\"><accountName>%s</accountName><accountGuid>"
		     "ADB2FE48-0B2E-451e-8FC8-44B29845B0C6</accountGuid></GetAuthorizationCookie>",
		     PROTOCOL_NS_DSSAUTH, TEST_DSS_NAME);
	sfx_op(x, &server_dssauth_service, op, &r);
	free(op);
	sfx_assert_valid(&r, XSD_DSSAUTH);
	assert_non_null(strstr(r.body.data, "<PlugInId>DssTargeting</PlugInId>"));
	wsus_buf_free(&r.body);
	rows = dss_rows(x);
	assert_string_equal(rows, "adb2fe48-0b2e-451e-8fc8-44b29845b0c6|probe.lab.invalid|192.0.2.44|||1|1|0\n");
	free(rows);

	sfx_login(x, "adb2fe48-0b2e-451e-8fc8-44b29845b0c6", "renamed.lab.invalid", NULL, NULL);
	rows = dss_rows(x);
	assert_string_equal(rows, "adb2fe48-0b2e-451e-8fc8-44b29845b0c6|renamed.lab.invalid|192.0.2.44|1.20||1|1|1\n");
	free(rows);
}

/* 1.3 accountName must be a host name and accountGuid a GUID */
static void test_authorization_cookie_rejects_bad_identity(void **state)
{
	static const char *const cases[][2] = {
		{ "<accountName>bad name</accountName>", "<accountGuid>" TEST_DSS_GUID "</accountGuid>" },
		{ "<accountName></accountName>", "<accountGuid>" TEST_DSS_GUID "</accountGuid>" },
		{ "<accountName>a..b</accountName>", "<accountGuid>" TEST_DSS_GUID "</accountGuid>" },
		{ "<accountName>.lead</accountName>", "<accountGuid>" TEST_DSS_GUID "</accountGuid>" },
		{ "", "<accountGuid>" TEST_DSS_GUID "</accountGuid>" },
		{ "<accountName>ok.example</accountName>", "<accountGuid>not-a-guid</accountGuid>" },
		{ "<accountName>ok.example</accountName>", "" },
	};
	struct sfx *x = *state;
	struct server_resp r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *op = sfx_fmt("<GetAuthorizationCookie xmlns=\"%s\">%s%s</GetAuthorizationCookie>",
				   PROTOCOL_NS_DSSAUTH, cases[i][0], cases[i][1]);

		sfx_op(x, &server_dssauth_service, op, &r);
		assert_int_equal(r.status, 500);
		assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
		wsus_buf_free(&r.body);
		free(op);
	}
	{
		char *rows = dss_rows(x);

		assert_string_equal(rows, "");
		free(rows);
	}
}

/* 1.4 GetCookie: exactly one readable authorization cookie and an "x.y"
 * version with major 1; the cookie lasts 240 minutes at most */
static void test_get_cookie_validation(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *auth = NULL, *cookie = NULL, *op, *exp;
	int64_t when = 0, now = wsus_now_ms();

	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, &auth, &cookie);
	struct { char *op; const char *code; } cases[] = {
		{ sfx_fmt("<GetCookie xmlns=\"%s\"><authCookies/><protocolVersion>1.20</protocolVersion></GetCookie>",
			  NS_SD), "InvalidParameters" },
		{ sfx_fmt("<GetCookie xmlns=\"%s\"><authCookies><AuthorizationCookie><CookieData>%s</CookieData>"
			  "</AuthorizationCookie><AuthorizationCookie><CookieData>%s</CookieData>"
			  "</AuthorizationCookie></authCookies><protocolVersion>1.20</protocolVersion></GetCookie>",
			  NS_SD, auth, auth), "InvalidParameters" },
		{ get_cookie_op("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1.20"),
		  "InvalidAuthorizationCookie" },
		{ get_cookie_op(cookie, "1.20"), "InvalidAuthorizationCookie" },   /* a cookie is not an auth cookie */
		{ get_cookie_op(auth, "1"), "InvalidParameters" },
		{ get_cookie_op(auth, "one.two"), "InvalidParameters" },
		{ get_cookie_op(auth, "1.2.3"), "InvalidParameters" },
		{ sfx_fmt("<GetCookie xmlns=\"%s\"><authCookies><AuthorizationCookie><CookieData>%s</CookieData>"
			  "</AuthorizationCookie></authCookies></GetCookie>", NS_SD, auth), "InvalidParameters" },
		{ get_cookie_op(auth, "2.0"), "IncompatibleProtocolVersion" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sfx_op(x, &server_sss_service, cases[i].op, &r);
		if (strcmp(sfx_fault_code(&r), cases[i].code) != 0)
			fail_msg("case %zu: want %s, got %s", i, cases[i].code, r.body.data);
		wsus_buf_free(&r.body);
		free(cases[i].op);
	}
	op = get_cookie_op(auth, "1.8");
	sfx_op(x, &server_sss_service, op, &r);
	free(op);
	sfx_assert_valid(&r, XSD_SSS);
	exp = sfx_text(&r, "Expiration");
	assert_int_equal(protocol_datetime_parse(exp, &when), 0);
	assert_true(when > now + SERVER_COOKIE_TTL_MS - 60000);
	assert_true(when <= wsus_now_ms() + SERVER_COOKIE_TTL_MS);
	free(exp);
	wsus_buf_free(&r.body);
	free(auth);
	free(cookie);
}

/* 1.5 a cookie never outlives the authorization cookie it came from */
static void test_cookie_expiry_capped_by_auth_cookie(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	int64_t soon = wsus_now_ms() + 10 * 60000, when = 0;
	char *auth = seal(x, x->srv.cookie_key, SERVER_COOKIE_DSS_AUTH, x->srv.server_id, "", soon);
	char *op = get_cookie_op(auth, "1.20"), *exp;

	sfx_op(x, &server_sss_service, op, &r);
	sfx_assert_valid(&r, XSD_SSS);
	exp = sfx_text(&r, "Expiration");
	assert_int_equal(protocol_datetime_parse(exp, &when), 0);
	assert_true(when <= soon && when > soon - 1000);
	free(exp);
	free(op);
	free(auth);
	wsus_buf_free(&r.body);
}

/*---- 2 cookie rejections ----*/

/* 2.1 missing, forged, truncated, expired, other-key, other-server and
 * authorization cookies are all InvalidCookie; a version above 1.x in a
 * cookie is IncompatibleProtocolVersion; the genuine one works */
static void test_cookie_rejections(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	uint8_t other_key[32];
	char *auth = NULL, *cookie = NULL, *truncated;
	int64_t later = wsus_now_ms() + 3600000;

	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, &auth, &cookie);
	memset(other_key, 0x5a, sizeof(other_key));
	truncated = strdup(cookie);
	truncated[strlen(truncated) - 8] = '\0';
	struct { char *cookie; const char *code; } cases[] = {
		{ strdup(""), "InvalidCookie" },
		{ strdup("Zm9yZ2VkIGNvb2tpZSBkYXRhIHRoYXQgaXMgbG9uZyBlbm91Z2ggdG8gbG9vayByZWFsIGJ1dCBpcyBub3Q="),
		  "InvalidCookie" },
		{ truncated, "InvalidCookie" },
		{ seal(x, x->srv.cookie_key, SERVER_COOKIE_DSS, x->srv.server_id, "1.20", wsus_now_ms() - 1000),
		  "InvalidCookie" },
		{ seal(x, other_key, SERVER_COOKIE_DSS, x->srv.server_id, "1.20", later), "InvalidCookie" },
		{ seal(x, x->srv.cookie_key, SERVER_COOKIE_DSS, "11111111-2222-4333-8444-555555555555", "1.20",
		       later), "InvalidCookie" },
		{ strdup(auth), "InvalidCookie" },
		{ seal(x, x->srv.cookie_key, SERVER_COOKIE_CLIENT, x->srv.server_id, "1.20", later),
		  "InvalidCookie" },
		{ seal(x, x->srv.cookie_key, SERVER_COOKIE_DSS, x->srv.server_id, "3.0", later),
		  "IncompatibleProtocolVersion" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_data(x, cases[i].cookie, NULL, &r);
		assert_int_equal(r.status, 500);
		if (strcmp(sfx_fault_code(&r), cases[i].code) != 0)
			fail_msg("case %zu: want %s, got %s", i, cases[i].code, r.body.data);
		wsus_buf_free(&r.body);
		free(cases[i].cookie);
	}
	/* No cookie element at all (capture 000019). */
	revlist(x, "", 1, NULL, NULL, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidCookie");
	wsus_buf_free(&r.body);
	sfx_op(x, &server_sss_service, "<GetRevisionIdList xmlns=\"" NS_SD "\"><filter><GetConfig>true"
	       "</GetConfig></filter></GetRevisionIdList>", &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidCookie");
	wsus_buf_free(&r.body);

	config_data(x, cookie, NULL, &r);
	sfx_assert_valid(&r, XSD_SSS);
	wsus_buf_free(&r.body);
	free(auth);
	free(cookie);
}

/*---- 3 GetConfigData ----*/

/* 3.1 GetConfigData: the schema's element order (the one Windows sends),
 * our limits, protocol 1.20, the "all" entry and the catalogue's languages */
static void test_config_data(void **state)
{
	static const char *const order[] = {
		"CatalogOnlySync", "LazySync", "ServerHostsPsfFiles", "MaxNumberOfComputerIdsInRequest",
		"MaxNumberOfDriverSetsPerRequest", "MaxNumberOfPnpHardwareIdsInRequest",
		"MaxNumberOfUpdatesPerRequest", "NewConfigAnchor", "ProtocolVersion", "LanguageUpdateList",
		"MaxUpdatesPerRequestInGetUpdateDecryptionData",
	};
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie = NULL, *v, *anchor;
	const char *p;

	sfx_import_dir(x->st, DOCS, NULL);
	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	config_data(x, cookie, NULL, &r);
	sfx_assert_valid(&r, XSD_SSS);
	p = r.body.data;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		char tag[96];

		snprintf(tag, sizeof(tag), "<%s>", order[i]);
		p = strstr(p, tag);
		if (p == NULL)
			fail_msg("%s missing or out of order", order[i]);
	}
	v = sfx_text(&r, "MaxNumberOfUpdatesPerRequest");
	assert_int_equal(strtol(v, NULL, 10), SERVER_MAX_UPDATES_PER_REQUEST);
	free(v);
	v = sfx_text(&r, "ProtocolVersion");
	assert_string_equal(v, "1.20");
	free(v);
	v = sfx_text(&r, "CatalogOnlySync");
	assert_string_equal(v, "false");
	free(v);
	v = sfx_texts(&r, "ShortLanguage");
	assert_true(strncmp(v, "all\n", 4) == 0);
	assert_non_null(strstr(v, "\nen\n"));
	assert_non_null(strstr(v, "\nar\n"));       /* the categories are localised in Arabic */
	assert_null(strstr(v, "\nja-nec\n"));       /* nothing in Japanese NEC */
	free(v);
	v = sfx_texts(&r, "LanguageID");
	assert_non_null(strstr(v, "\n1033\n"));
	free(v);
	anchor = sfx_text(&r, "NewConfigAnchor");
	wsus_buf_free(&r.body);

	/* The anchor it gave is accepted back; garbage is not an anchor. */
	config_data(x, cookie, anchor, &r);
	sfx_assert_valid(&r, XSD_SSS);
	wsus_buf_free(&r.body);
	config_data(x, cookie, "last tuesday", &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	free(anchor);
	free(cookie);
}

/*---- 4 GetRevisionIdList ----*/

struct expect {
	int config;
	struct wsus_buf b;
};

static int expected_row(const struct storage_revision_row *row, void *ctx)
{
	struct expect *x = ctx;
	int is_config = row->type == WSUS_UT_CATEGORY || row->type == WSUS_UT_DETECTOID;

	if (!row->is_latest || is_config != x->config)
		return 0;
	return wsus_buf_printf(&x->b, "%s:%d\n", row->update_id, row->revision);
}

/* The latest revisions of one kind, as sorted "uid:rev" lines (storage
 * orders them by UpdateID already). */
static char *expected_ids(struct sfx *x, int config)
{
	struct expect ex = { .config = config };
	struct err e = { 0 };

	wsus_buf_init(&ex.b, 1 << 22);
	assert_int_equal(wsus_buf_appends(&ex.b, ""), 0);
	assert_int_equal(storage_revision_foreach(x->st, expected_row, &ex, &e), 0);
	return wsus_buf_steal(&ex.b, NULL);
}

static void assert_ids(const struct server_resp *r, const char *want)
{
	char *got = sfx_ids(r);

	if (strcmp(got, want) != 0)
		fail_msg("identities differ\n got:\n%s want:\n%s", got, want);
	free(got);
}

/* 4.1 GetConfig=true lists categories and detectoids, false the software and
 * driver updates, and the two lists partition the catalogue */
static void test_revision_list_kinds(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie = NULL, *want;

	assert_int_equal(sfx_import_dir(x->st, DOCS, NULL), 9);
	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	for (int config = 0; config <= 1; config++) {
		revlist(x, cookie, config, NULL, NULL, &r);
		sfx_assert_valid(&r, XSD_SSS);
		want = expected_ids(x, config);
		assert_true(strlen(want) > 0);
		assert_ids(&r, want);
		free(want);
		wsus_buf_free(&r.body);
	}
	free(cookie);
}

/* 4.2 only the highest revision of an update is listed */
static void test_revision_list_highest_revision_only(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie = NULL;

	sfx_put(x->st, &(struct sfx_docspec){ .uid = U_BOTH, .rev = 100 });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U_BOTH, .rev = 102 });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U_BOTH, .rev = 101 });
	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	revlist(x, cookie, 0, NULL, NULL, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_ids(&r, U_BOTH ":102\n");
	wsus_buf_free(&r.body);
	free(cookie);
}

/* 4.3 an anchor from one answer gives exactly what changed after it: new
 * updates and new revisions, none of the old ones; no anchor gives all */
static void test_revision_list_anchor_delta(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	struct storage_anchor now;
	struct err e = { 0 };
	char *cookie = NULL, *a1, *a2, *want;

	sfx_import_dir(x->st, DOCS, NULL);
	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	revlist(x, cookie, 0, NULL, NULL, &r);
	a1 = sfx_text(&r, "Anchor");
	assert_int_equal(storage_anchor_latest(x->st, &now, &e), 0);
	assert_true(now.n > 0);
	assert_int_equal(strtoll(a1, NULL, 10), now.n);   /* the catalogue's anchor */
	wsus_buf_free(&r.body);

	/* Another import: a new update, and a new revision of an imported one. */
	assert_int_equal(storage_begin(x->st, &e), 0);
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U_BOTH, .rev = 1 });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = "ccb78947-6453-4ecc-9de8-bc0305c98f2d", .rev = 300 });
	assert_int_equal(storage_commit(x->st, &e), 0);

	revlist(x, cookie, 0, a1, NULL, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_ids(&r, U_BOTH ":1\nccb78947-6453-4ecc-9de8-bc0305c98f2d:300\n");
	a2 = sfx_text(&r, "Anchor");
	assert_string_not_equal(a1, a2);
	wsus_buf_free(&r.body);

	revlist(x, cookie, 1, a1, NULL, &r);   /* no category changed */
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "UpdateIdentity"), 0);
	assert_int_equal(sfx_count(&r, "NewRevisions"), 1);
	wsus_buf_free(&r.body);

	revlist(x, cookie, 0, a2, NULL, &r);   /* nothing since */
	assert_int_equal(sfx_count(&r, "UpdateIdentity"), 0);
	wsus_buf_free(&r.body);

	revlist(x, cookie, 0, NULL, NULL, &r);
	want = expected_ids(x, 0);
	assert_ids(&r, want);
	assert_non_null(strstr(want, U_BOTH ":1\n"));
	free(want);
	wsus_buf_free(&r.body);
	free(a1);
	free(a2);
	free(cookie);
}

/* 4.4 garbage is InvalidParameters ("filter", as Windows says); an anchor
 * this catalogue never issued (another server's, or a number we issued with
 * another time: a reset database) is answered in full */
static void test_revision_list_foreign_and_bad_anchors(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie = NULL, *want = NULL, *msg;
	static const char *const foreign[] = {
		"9438,2026-10-04 16:09:27.371", "1,1999-01-01 00:00:00.000", "0,2001-01-01 00:00:00",
	};
	static const char *const bad[] = {
		"garbage", "12", "12,2026-10-04", "x,2026-10-04 16:09:27.371", "1,2026-10-04 16:09:27.12345678",
		"1,2026-10-04T16:09:27.371", "-1,2026-10-04 16:09:27.371",
	};

	sfx_import_dir(x->st, DOCS, NULL);
	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	want = expected_ids(x, 0);
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		revlist(x, cookie, 0, foreign[i], NULL, &r);
		sfx_assert_valid(&r, XSD_SSS);
		assert_ids(&r, want);
		wsus_buf_free(&r.body);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		revlist(x, cookie, 0, bad[i], NULL, &r);
		if (strcmp(sfx_fault_code(&r), "InvalidParameters") != 0)
			fail_msg("anchor '%s': %s", bad[i], r.body.data);
		msg = sfx_text(&r, "Message");
		assert_string_equal(msg, "filter");
		free(msg);
		wsus_buf_free(&r.body);
	}
	revlist(x, cookie, 0, "", NULL, &r);   /* empty = none */
	assert_ids(&r, want);
	wsus_buf_free(&r.body);
	free(want);
	free(cookie);
}

static char *id_deltas(const char *list, const char *id, int delta)
{
	return sfx_fmt("<%s><IdAndDelta><Id>%s</Id><Delta>%s</Delta></IdAndDelta></%s>", list, id,
		       delta ? "true" : "false", list);
}

/* 4.5 a product/classification filter: an update must name a listed product
 * (or one below a listed family) and a listed classification; bundled
 * children of a match come along; one list alone matches nothing; with an
 * anchor, Delta=false still returns everything in that entry */
static void test_revision_list_product_filter(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	struct err e = { 0 };
	char *cookie = NULL, *anchor, *fam, *prod, *cls, *cls_nodelta, *extra;
	const char *hits = U_BOTH ":1\n" BUNDLE ":1\n" CHILD ":1\n";

	assert_int_equal(storage_begin(x->st, &e), 0);
	sfx_put(x->st, &(struct sfx_docspec){ .uid = FAMILY, .rev = 1, .type = "Category",
					      .category = "ProductFamily" });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = PRODUCT, .rev = 1, .type = "Category",
					      .category = "Product", .prereqs = { FAMILY } });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = OTHER, .rev = 1, .type = "Category", .category = "Product" });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = CLASS, .rev = 1, .type = "Category",
					      .category = "UpdateClassification" });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U_BOTH, .rev = 1, .prereqs = { PRODUCT, CLASS } });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U_OTHER, .rev = 1, .prereqs = { OTHER, CLASS } });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U_PONLY, .rev = 1, .prereqs = { PRODUCT } });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = BUNDLE, .rev = 1, .prereqs = { PRODUCT, CLASS },
					      .bundled = { CHILD } });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = CHILD, .rev = 1 });
	assert_int_equal(storage_commit(x->st, &e), 0);
	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);

	fam = id_deltas("Categories", FAMILY, 1);
	prod = id_deltas("Categories", PRODUCT, 1);
	cls = id_deltas("Classifications", CLASS, 1);
	cls_nodelta = id_deltas("Classifications", CLASS, 0);

	extra = sfx_fmt("%s%s", prod, cls);
	revlist(x, cookie, 0, NULL, extra, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_ids(&r, hits);
	anchor = sfx_text(&r, "Anchor");
	wsus_buf_free(&r.body);
	free(extra);

	extra = sfx_fmt("%s%s", fam, cls);      /* the family widens to its products */
	revlist(x, cookie, 0, NULL, extra, &r);
	assert_ids(&r, hits);
	wsus_buf_free(&r.body);
	free(extra);

	revlist(x, cookie, 0, NULL, prod, &r);  /* products alone (capture 000007) */
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "UpdateIdentity"), 0);
	wsus_buf_free(&r.body);

	extra = sfx_fmt("%s%s", prod, cls);
	revlist(x, cookie, 0, anchor, extra, &r);   /* Delta=true, nothing new */
	assert_int_equal(sfx_count(&r, "UpdateIdentity"), 0);
	wsus_buf_free(&r.body);
	free(extra);

	extra = sfx_fmt("%s%s", prod, cls_nodelta); /* a newly chosen classification */
	revlist(x, cookie, 0, anchor, extra, &r);
	assert_ids(&r, hits);
	wsus_buf_free(&r.body);
	free(extra);

	revlist(x, cookie, 1, NULL, NULL, &r);      /* filters never apply to GetConfig */
	assert_int_equal(sfx_count(&r, "UpdateIdentity"), 4);
	wsus_buf_free(&r.body);

	free(anchor);
	free(fam);
	free(prod);
	free(cls);
	free(cls_nodelta);
	free(cookie);
}

/*---- 5 DSS table, misc ----*/

/* 5.1 storage_dss_foreach lists every downstream, its address, version and
 * when it was last seen with a cookie */
static void test_dss_table_lists_servers(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie = NULL, *rows;

	sfx_login(x, "22222222-0000-4000-8000-000000000002", "b.lab.invalid", NULL, NULL);
	sfx_login(x, "11111111-0000-4000-8000-000000000001", "a.lab.invalid", NULL, &cookie);
	config_data(x, cookie, NULL, &r);
	wsus_buf_free(&r.body);
	rows = dss_rows(x);
	assert_string_equal(rows, "11111111-0000-4000-8000-000000000001|a.lab.invalid|192.0.2.44|1.20||1|1|1\n"
			    "22222222-0000-4000-8000-000000000002|b.lab.invalid|192.0.2.44|1.20||1|1|1\n");
	free(rows);
	free(cookie);
}

/* 5.2 GetRelatedRevisionsForUpdates answers an empty list; Ping answers on
 * all three services; both need nothing else */
static void test_related_revisions_and_ping(void **state)
{
	static const struct server_service *const svcs[] = {
		&server_sss_service, &server_dssauth_service, &server_reporting_service,
	};
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie = NULL, *ck, *op;

	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	ck = sfx_cookie_xml(cookie);
	op = sfx_fmt("<GetRelatedRevisionsForUpdates xmlns=\"%s\">%s<updateIDs><guid>%s</guid></updateIDs>"
		     "</GetRelatedRevisionsForUpdates>", NS_SD, ck, U_BOTH);
	sfx_op(x, &server_sss_service, op, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "UpdateIdentity"), 0);
	wsus_buf_free(&r.body);
	free(op);
	for (size_t i = 0; i < 3; i++) {
		sfx_op(x, svcs[i], "<Ping xmlns=\"" PROTOCOL_NS_MONITOR "\"><pingLevel>1</pingLevel></Ping>", &r);
		sfx_assert_valid(&r, XSD_MONITOR);
		wsus_buf_free(&r.body);
	}
	free(ck);
	free(cookie);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth_config_names_dssauth_plugin, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_authorization_cookie_records_dss, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_authorization_cookie_rejects_bad_identity, sfx_setup,
						sfx_teardown),
		cmocka_unit_test_setup_teardown(test_get_cookie_validation, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_cookie_expiry_capped_by_auth_cookie, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_cookie_rejections, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_config_data, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_revision_list_kinds, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_revision_list_highest_revision_only, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_revision_list_anchor_delta, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_revision_list_foreign_and_bad_anchors, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_revision_list_product_filter, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_dss_table_lists_servers, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_related_revisions_and_ping, sfx_setup, sfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
