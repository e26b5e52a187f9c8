/*
 * test_server_sss_data.c -- the upstream role, second half: what a DSS
 * downloads once it knows the revision list.
 * Groups: 1 GetUpdateData (limits, documents and files, unknown identities,
 *           the 2 MB budget, CR preserved),
 *         2 GetUpdateDecryptionData,
 *         3 GetDeployments (fields, declines, dead deployments, the window
 *           bounded by syncAnchor, anchor validation, accepted EULAs),
 *         4 DownloadFiles.
 * Every non-fault response is checked against ServerSyncWebService.xsd.
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
#define MU    "http://download.windowsupdate.com/c/msdownload/update/software/defu/am_delta.exe"
#define LEAF  "266f6222-c89d-43f2-9f8a-69340271e677"   /* a fixture leaf with one file */
#define SMALL "ccb78947-6453-4ecc-9de8-bc0305c98f2d"   /* a fixture leaf without files */
#define LEAF_DIGEST "h/W9BGlYUAaqXTp30cZi/SiV3c0="
#define U1 "a1000000-0000-4000-8000-000000000001"
#define U2 "a1000000-0000-4000-8000-000000000002"
#define U3 "a1000000-0000-4000-8000-000000000003"
#define ALL_ID "a0a08746-4dbe-4a37-9adf-9e7652c0b421"
#define UNASSIGNED_ID "b73ca6ed-5727-47f3-84de-015e03f6a88a"

/* <updateIds> of n identities "uid:rev" given in ids[]. */
static char *update_data_op(const char *op, const char *cookie, const char *const *ids, size_t n)
{
	struct wsus_buf b;
	char *ck = sfx_cookie_xml(cookie);

	wsus_buf_init(&b, 64u << 20);
	assert_int_equal(wsus_buf_printf(&b, "<%s xmlns=\"%s\">%s<updateIds>", op, NS_SD, ck), 0);
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(ids[i], ':');

		assert_int_equal(wsus_buf_printf(&b, "<UpdateIdentity><UpdateID>%.*s</UpdateID><RevisionNumber>%s"
						 "</RevisionNumber></UpdateIdentity>", (int)(colon - ids[i]),
						 ids[i], colon + 1), 0);
	}
	assert_int_equal(wsus_buf_printf(&b, "</updateIds></%s>", op), 0);
	free(ck);
	return wsus_buf_steal(&b, NULL);
}

static void call_ids(struct sfx *x, const char *op, const char *cookie, const char *const *ids, size_t n,
		     struct server_resp *r)
{
	char *xml = update_data_op(op, cookie, ids, n);

	sfx_op(x, &server_sss_service, xml, r);
	free(xml);
}

static char *login(struct sfx *x)
{
	char *cookie = NULL;

	sfx_login(x, TEST_DSS_GUID, TEST_DSS_NAME, NULL, &cookie);
	return cookie;
}

/*---- 1 GetUpdateData ----*/

/* 1.1 1..100 identities: none, an empty list, 101 or a malformed one are
 * InvalidParameters */
static void test_update_data_limits(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie = login(x), *ck = sfx_cookie_xml(cookie), *op;
	const char *many[101];
	char ids[101][48];

	for (int i = 0; i < 101; i++) {
		snprintf(ids[i], sizeof(ids[i]), "a2000000-0000-4000-8000-%012d:1", i);
		many[i] = ids[i];
	}
	call_ids(x, "GetUpdateData", cookie, many, 101, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	call_ids(x, "GetUpdateData", cookie, many, 0, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	op = sfx_fmt("<GetUpdateData xmlns=\"%s\">%s</GetUpdateData>", NS_SD, ck);
	sfx_op(x, &server_sss_service, op, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	free(op);
	op = sfx_fmt("<GetUpdateData xmlns=\"%s\">%s<updateIds><UpdateIdentity><UpdateID>nope</UpdateID>"
		     "<RevisionNumber>1</RevisionNumber></UpdateIdentity></updateIds></GetUpdateData>", NS_SD, ck);
	sfx_op(x, &server_sss_service, op, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	free(op);
	call_ids(x, "GetUpdateDecryptionData", cookie, many, 101, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	free(ck);
	free(cookie);
}

/* 1.2 each update carries its document verbatim as XmlUpdateBlob, its file
 * digests (FileDigestList absent without files); fileUrls lists each file
 * once with its MUUrl and never a UssUrl */
static void test_update_data_documents_and_files(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	const char *ids[] = { LEAF ":200", SMALL ":200", LEAF ":200" };
	char *cookie, *stored = NULL, *blob, *v;
	size_t len = 0;
	struct err e = { 0 };

	sfx_import_dir(x->st, DOCS, MU);
	cookie = login(x);
	call_ids(x, "GetUpdateData", cookie, ids, 3, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "ServerSyncUpdateData"), 2);   /* the duplicate once */
	assert_int_equal(sfx_count(&r, "XmlUpdateBlobCompressed"), 0);
	assert_int_equal(sfx_count(&r, "FileDigestList"), 1);
	assert_int_equal(sfx_count(&r, "ServerSyncUrlData"), 1);
	assert_int_equal(sfx_count(&r, "UssUrl"), 0);
	v = sfx_texts(&r, "base64Binary");
	assert_string_equal(v, LEAF_DIGEST "\n");
	free(v);
	v = sfx_text(&r, "FileDigest");
	assert_string_equal(v, LEAF_DIGEST);
	free(v);
	v = sfx_text(&r, "MUUrl");
	assert_string_equal(v, MU);
	free(v);
	blob = sfx_text(&r, "XmlUpdateBlob");
	assert_int_equal(storage_revision_xml(x->st, LEAF, 200, &stored, &len, &e), 0);
	assert_string_equal(blob, stored);
	free(blob);
	free(stored);
	wsus_buf_free(&r.body);
	free(cookie);
}

/* 1.3 a request naming only unknown identities is InternalServerError (as
 * Windows answers, capture 000017); unknown ones among known are skipped */
static void test_update_data_unknown_identities(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	const char *unknown[] = { "00000000-0000-0000-0000-000000000001:1", LEAF ":199" };
	const char *mixed[] = { "00000000-0000-0000-0000-000000000001:1", SMALL ":200" };
	char *cookie, *ids;

	sfx_import_dir(x->st, DOCS, NULL);
	cookie = login(x);
	call_ids(x, "GetUpdateData", cookie, unknown, 2, &r);
	assert_string_equal(sfx_fault_code(&r), "InternalServerError");
	wsus_buf_free(&r.body);
	call_ids(x, "GetUpdateData", cookie, mixed, 2, &r);
	sfx_assert_valid(&r, XSD_SSS);
	ids = sfx_ids(&r);
	assert_string_equal(ids, SMALL ":200\n");
	free(ids);
	wsus_buf_free(&r.body);
	free(cookie);
}

/* 1.4 when 100 documents exceed 2 MB the answer stops before the budget,
 * in request order, and the DSS gets the rest by asking again */
static void test_update_data_budget(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	struct err e = { 0 };
	char uids[100][48], *cookie;
	const char *ids[100];
	size_t got = 0, first;

	assert_int_equal(storage_begin(x->st, &e), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(uids[i], sizeof(uids[i]), "b3000000-0000-4000-8000-%012d", i);
		sfx_put(x->st, &(struct sfx_docspec){ .uid = uids[i], .rev = 1, .pad = 40000,
						      .file_data = uids[i] });
		snprintf(uids[i] + 36, sizeof(uids[i]) - 36, ":1");
		ids[i] = uids[i];
	}
	assert_int_equal(storage_commit(x->st, &e), 0);
	cookie = login(x);
	while (got < 100) {
		char *list, *want;
		struct wsus_buf exp;

		call_ids(x, "GetUpdateData", cookie, ids + got, 100 - got, &r);
		sfx_assert_valid(&r, XSD_SSS);
		assert_true(r.body.len <= SERVER_UPDATE_DATA_BUDGET);
		first = (size_t)sfx_count(&r, "ServerSyncUpdateData");
		assert_true(first >= 1);
		if (got == 0)
			assert_true(first < 100 && r.body.len > SERVER_UPDATE_DATA_BUDGET * 9 / 10);
		assert_int_equal(sfx_count(&r, "ServerSyncUrlData"), (int)first);
		/* The first ones asked for, in order. */
		list = sfx_texts(&r, "UpdateID");
		wsus_buf_init(&exp, 1 << 20);
		for (size_t i = got; i < got + first; i++)
			assert_int_equal(wsus_buf_printf(&exp, "%.36s\n", ids[i]), 0);
		want = wsus_buf_steal(&exp, NULL);
		assert_string_equal(list, want);
		free(list);
		free(want);
		got += first;
		wsus_buf_free(&r.body);
	}
	free(cookie);
}

/* 1.5 a document with CR LF line ends reaches the DSS byte for byte */
static void test_update_data_keeps_carriage_returns(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	const char *ids[] = { U1 ":1" };
	char *cookie, *blob, *doc = sfx_doc(&(struct sfx_docspec){ .uid = U1, .rev = 1, .crlf = 1 });

	sfx_import_doc(x->st, doc);
	cookie = login(x);
	call_ids(x, "GetUpdateData", cookie, ids, 1, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_non_null(strstr(r.body.data, "&#13;"));
	blob = sfx_text(&r, "XmlUpdateBlob");
	assert_non_null(strchr(doc, '\r'));
	assert_string_equal(blob, doc);
	free(blob);
	free(doc);
	wsus_buf_free(&r.body);
	free(cookie);
}

/*---- 2 GetUpdateDecryptionData ----*/

/* 2.1 each known identity with each of its files, the key when we hold one;
 * unknown identities are left out */
static void test_decryption_data(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	const char *ids[] = { U1 ":1", U2 ":1", "00000000-0000-0000-0000-000000000009:1" };
	uint8_t sha1[WSUS_SHA1_LEN];
	char hex[41], *stmt, *cookie, *v;

	sfx_put(x->st, &(struct sfx_docspec){ .uid = U1, .rev = 1, .file_data = "encrypted payload" });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U2, .rev = 1, .file_data = "plain payload" });
	wsus_sha1("encrypted payload", strlen("encrypted payload"), sha1);
	wsus_hex_encode(sha1, sizeof(sha1), hex);
	stmt = sfx_fmt("UPDATE file SET is_encrypted = 1, decryption_key = x'010203' WHERE sha1 = x'%s'", hex);
	sfx_sql(x, stmt);
	free(stmt);
	cookie = login(x);
	call_ids(x, "GetUpdateDecryptionData", cookie, ids, 3, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "ServerSyncUpdateFileDecryption"), 2);
	assert_int_equal(sfx_count(&r, "ServerSyncFileDecryption"), 2);
	v = sfx_texts(&r, "DecryptionKey");
	assert_string_equal(v, "AQID\n");
	free(v);
	v = sfx_ids(&r);
	assert_string_equal(v, U1 ":1\n" U2 ":1\n");
	free(v);
	wsus_buf_free(&r.body);
	free(cookie);
}

/*---- 3 GetDeployments ----*/

static char *sync_anchor(struct sfx *x, const char *cookie)
{
	struct server_resp r;
	char *ck = sfx_cookie_xml(cookie), *a;
	char *op = sfx_fmt("<GetRevisionIdList xmlns=\"%s\">%s<filter><GetConfig>false</GetConfig></filter>"
			   "</GetRevisionIdList>", NS_SD, ck);

	sfx_op(x, &server_sss_service, op, &r);
	a = sfx_text(&r, "Anchor");
	assert_non_null(a);
	wsus_buf_free(&r.body);
	free(op);
	free(ck);
	return a;
}

static void deployments(struct sfx *x, const char *cookie, const char *from, const char *to,
			struct server_resp *r)
{
	char *ck = sfx_cookie_xml(cookie);
	char *op = sfx_fmt("<GetDeployments xmlns=\"%s\">%s%s%s%s%s%s%s</GetDeployments>", NS_SD, ck,
			   from ? "<deploymentAnchor>" : "", from ? from : "", from ? "</deploymentAnchor>" : "",
			   to ? "<syncAnchor>" : "", to ? to : "", to ? "</syncAnchor>" : "");

	sfx_op(x, &server_sss_service, op, r);
	free(op);
	free(ck);
}

static void put_three(struct sfx *x)
{
	struct err e = { 0 };

	assert_int_equal(storage_begin(x->st, &e), 0);
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U1, .rev = 1 });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U1, .rev = 2 });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U2, .rev = 1 });
	sfx_put(x->st, &(struct sfx_docspec){ .uid = U3, .rev = 1 });
	assert_int_equal(storage_commit(x->st, &e), 0);
}

/* The ServerSyncDeployment fields of a response, one line per deployment. */
static char *deployment_lines(const struct server_resp *r)
{
	static const char *const f[] = { "UpdateId", "RevisionNumber", "Action", "AdminName", "Deadline",
					 "IsAssigned", "TargetGroupId", "DownloadPriority" };
	char *cols[8], *pos[8];
	struct wsus_buf b;

	wsus_buf_init(&b, 1 << 20);
	assert_int_equal(wsus_buf_appends(&b, ""), 0);
	for (int i = 0; i < 8; i++)
		pos[i] = cols[i] = sfx_texts(r, f[i]);
	while (*pos[0] != '\0') {
		for (int i = 0; i < 8; i++) {
			char *nl = strchr(pos[i], '\n');

			assert_non_null(nl);
			*nl = '\0';
			assert_int_equal(wsus_buf_printf(&b, "%s%s", i ? "|" : "", pos[i]), 0);
			pos[i] = nl + 1;
		}
		assert_int_equal(wsus_buf_appends(&b, "\n"), 0);
	}
	for (int i = 0; i < 8; i++)
		free(cols[i]);
	return wsus_buf_steal(&b, NULL);
}

/* 3.1 after approvals: every group with its parent (zero GUID at the root),
 * each deployment with its fields in schema order, declined updates in
 * HiddenUpdates, and the syncAnchor as the new anchor */
static void test_deployments_after_approvals(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	struct err e = { 0 };
	char *cookie, *s1, *v, *lines;
	int64_t ms = 0;

	put_three(x);
	assert_int_equal(storage_group_add(x->st, "Servers", NULL, &e), 0);
	assert_int_equal(storage_deployment_set(x->st, U1, -1, "Servers", STORAGE_ACTION_INSTALL,
						"2030-05-01T12:00:00Z", &e), 0);
	assert_int_equal(storage_deployment_set(x->st, U2, 1, STORAGE_GROUP_ALL, STORAGE_ACTION_EVALUATE,
						NULL, &e), 0);
	assert_int_equal(storage_update_decline(x->st, U3, &e), 0);
	cookie = login(x);
	s1 = sync_anchor(x, cookie);
	deployments(x, cookie, NULL, s1, &r);
	sfx_assert_valid(&r, XSD_SSS);
	v = sfx_text(&r, "Anchor");
	assert_string_equal(v, s1);
	free(v);
	v = sfx_texts(&r, "Name");
	assert_string_equal(v, "All Computers\nUnassigned Computers\nServers\n");
	free(v);
	v = sfx_texts(&r, "ParentGroupId");
	assert_string_equal(v, "00000000-0000-0000-0000-000000000000\n" ALL_ID "\n" ALL_ID "\n");
	free(v);
	v = sfx_texts(&r, "IsBuiltin");
	assert_string_equal(v, "true\ntrue\nfalse\n");
	free(v);
	lines = deployment_lines(&r);
	assert_non_null(strstr(lines, U1 "|2|0|wsus-replica|2030-05-01T12:00:00.000Z|true|"));
	assert_non_null(strstr(lines, U2 "|1|2|wsus-replica|9999-12-31T23:59:59.9999999|false|" ALL_ID "|2\n"));
	assert_int_equal(sfx_count(&r, "ServerSyncDeployment"), 2);
	free(lines);
	v = sfx_text(&r, "GoLiveTime");
	assert_int_equal(protocol_datetime_parse(v, &ms), 0);
	assert_true(ms > wsus_now_ms() - 60000);
	free(v);
	v = sfx_texts(&r, "HiddenUpdates");
	assert_string_equal(v, U3 "\n");
	free(v);
	assert_int_equal(sfx_count(&r, "DeadDeployments"), 1);
	assert_int_equal(sfx_count(&r, "guid"), 1);   /* the hidden one only */
	wsus_buf_free(&r.body);
	free(s1);
	free(cookie);
}

/* 3.2 a decline retires the update's deployments: the next window lists
 * them as DeadDeployments; approving again brings a new deployment */
static void test_deployments_dead_after_decline(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	struct err e = { 0 };
	char *cookie, *s1, *s2, *s3, *d1, *guid1, *v;

	put_three(x);
	assert_int_equal(storage_deployment_set(x->st, U1, -1, STORAGE_GROUP_ALL, STORAGE_ACTION_INSTALL, NULL,
						&e), 0);
	cookie = login(x);
	s1 = sync_anchor(x, cookie);
	deployments(x, cookie, NULL, s1, &r);
	guid1 = sfx_text(&r, "DeploymentGuid");
	d1 = sfx_text(&r, "Anchor");
	wsus_buf_free(&r.body);

	assert_int_equal(storage_update_decline(x->st, U1, &e), 0);
	s2 = sync_anchor(x, cookie);
	deployments(x, cookie, d1, s2, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "ServerSyncDeployment"), 0);
	v = sfx_texts(&r, "DeadDeployments");
	assert_int_equal(strlen(v), strlen(guid1) + 1);
	assert_memory_equal(v, guid1, strlen(guid1));
	free(v);
	v = sfx_texts(&r, "HiddenUpdates");
	assert_string_equal(v, U1 "\n");
	free(v);
	wsus_buf_free(&r.body);

	assert_int_equal(storage_deployment_set(x->st, U1, -1, STORAGE_GROUP_ALL, STORAGE_ACTION_INSTALL, NULL,
						&e), 0);
	s3 = sync_anchor(x, cookie);
	deployments(x, cookie, s2, s3, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "ServerSyncDeployment"), 1);
	v = sfx_text(&r, "DeploymentGuid");
	assert_string_not_equal(v, guid1);
	free(v);
	assert_int_equal(sfx_count(&r, "guid"), 0);   /* no longer hidden, nothing dead */
	wsus_buf_free(&r.body);
	free(guid1);
	free(d1);
	free(s1);
	free(s2);
	free(s3);
	free(cookie);
}

/* 3.3 the window ends at syncAnchor: an approval made after the DSS's
 * revision list waits for its next sync */
static void test_deployments_bounded_by_sync_anchor(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	struct err e = { 0 };
	char *cookie, *s1, *s2;

	put_three(x);
	cookie = login(x);
	s1 = sync_anchor(x, cookie);
	assert_int_equal(storage_deployment_set(x->st, U2, -1, STORAGE_GROUP_ALL, STORAGE_ACTION_INSTALL, NULL,
						&e), 0);
	deployments(x, cookie, NULL, s1, &r);
	sfx_assert_valid(&r, XSD_SSS);
	assert_int_equal(sfx_count(&r, "ServerSyncDeployment"), 0);
	wsus_buf_free(&r.body);
	s2 = sync_anchor(x, cookie);
	deployments(x, cookie, s1, s2, &r);
	assert_int_equal(sfx_count(&r, "ServerSyncDeployment"), 1);
	wsus_buf_free(&r.body);
	free(s1);
	free(s2);
	free(cookie);
}

/* 3.4 syncAnchor is required and both anchors must be anchors; a foreign
 * syncAnchor (the spec example's) ends the window now; accepted EULAs are
 * listed */
static void test_deployments_anchor_validation(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *cookie, *s1, *v;

	put_three(x);
	sfx_sql(x, "INSERT INTO eula(eula_id, accepted) VALUES ('e0000000-0000-4000-8000-00000000000e', 1),"
	       " ('e0000000-0000-4000-8000-00000000000f', 0)");
	cookie = login(x);
	s1 = sync_anchor(x, cookie);
	deployments(x, cookie, NULL, NULL, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	deployments(x, cookie, NULL, "", &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	deployments(x, cookie, NULL, "yesterday", &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	deployments(x, cookie, "yesterday", s1, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	deployments(x, cookie, NULL, "4742,2006-05-26 18:59:26.192", &r);
	sfx_assert_valid(&r, XSD_SSS);
	v = sfx_text(&r, "Anchor");
	assert_string_equal(v, s1);
	free(v);
	v = sfx_texts(&r, "AcceptedEulas");
	assert_string_equal(v, "e0000000-0000-4000-8000-00000000000e\n");
	free(v);
	wsus_buf_free(&r.body);
	free(s1);
	free(cookie);
}

/*---- 4 DownloadFiles ----*/

static void download(struct sfx *x, const char *cookie, const char *digests, struct server_resp *r)
{
	char *ck = sfx_cookie_xml(cookie);
	char *op = sfx_fmt("<DownloadFiles xmlns=\"%s\">%s<fileDigestList>%s</fileDigestList></DownloadFiles>",
			   NS_SD, ck, digests);

	sfx_op(x, &server_sss_service, op, r);
	free(op);
	free(ck);
}

/* 4.1 1..100 digests; a digest of the catalogue (payload present or not) is
 * acknowledged; unknown ones are FileDigestsMissing, joined by '|' */
static void test_download_files(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	struct wsus_buf many;
	char *cookie, *v, *list;

	sfx_import_dir(x->st, DOCS, NULL);
	cookie = login(x);
	download(x, cookie, "<base64Binary>" LEAF_DIGEST "</base64Binary>", &r);
	sfx_assert_valid(&r, XSD_SSS);
	wsus_buf_free(&r.body);

	download(x, cookie, "", &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	wsus_buf_init(&many, 1 << 20);
	for (int i = 0; i < 101; i++)
		assert_int_equal(wsus_buf_appends(&many, "<base64Binary>" LEAF_DIGEST "</base64Binary>"), 0);
	list = wsus_buf_steal(&many, NULL);
	download(x, cookie, list, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	free(list);
	download(x, cookie, "<base64Binary>c2hvcnQ=</base64Binary>", &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);

	download(x, cookie, "<base64Binary>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</base64Binary><base64Binary>"
		 LEAF_DIGEST "</base64Binary><base64Binary>AQEBAQEBAQEBAQEBAQEBAQEBAQE=</base64Binary>", &r);
	assert_string_equal(sfx_fault_code(&r), "FileDigestsMissing");
	v = sfx_text(&r, "Message");
	assert_string_equal(v, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=|AQEBAQEBAQEBAQEBAQEBAQEBAQE=");
	free(v);
	wsus_buf_free(&r.body);
	free(cookie);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_update_data_limits, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_update_data_documents_and_files, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_update_data_unknown_identities, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_update_data_budget, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_update_data_keeps_carriage_returns, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_decryption_data, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_deployments_after_approvals, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_deployments_dead_after_decline, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_deployments_bounded_by_sync_anchor, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_deployments_anchor_validation, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_download_files, sfx_setup, sfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
