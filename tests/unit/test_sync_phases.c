/*
 * test_sync_phases.c -- the sync phases (sync/sync_*.c) against canned
 * upstream answers: the real Windows Server 2025 capture in
 * fixtures/ws2025-uss-capture, served by a fake transport.
 *   1.* faults: ErrorCode and Message read from SOAP 1.1 and 1.2 faults;
 *   2.* documents: plain and compressed blobs decode to the known documents;
 *   3.* phases: authorisation and config, batches asking again for what a
 *       capped answer left out, InvalidCookie answered by one new
 *       authorisation, a refused anchor answered by the full list, a fault
 *       that stops the sync with nothing staged, decryption keys;
 *   4.* GetDeployments answers normalised; URLs and the schedule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sync_phase.h"
#include "test_storage_util.h"

#define CAPTURE WSUS_SHARED_DIR "/fixtures/ws2025-uss-capture/"
#define DOCS    WSUS_SHARED_DIR "/fixtures/update-docs/"
#define MAX_CALLS 64

/* The four documents the capture has GetUpdateData answers for. */
static const struct { const char *uid; int rev; int file; } capture_docs[] = {
	{ "a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe", 200, 13 },   /* bundle, compressed */
	{ "266f6222-c89d-43f2-9f8a-69340271e677", 200, 14 },   /* leaf with a file, compressed */
	{ "ccb78947-6453-4ecc-9de8-bc0305c98f2d", 200, 15 },   /* plain XmlUpdateBlob */
	{ "56309036-4c77-4dd9-951a-99ee9c246a94", 101, 16 },   /* category, compressed */
};
#define N_DOCS (sizeof(capture_docs) / sizeof(capture_docs[0]))

/*---- The fake upstream ----*/

struct fake {
	int    n_calls;
	char   ops[MAX_CALLS][48];
	char  *reqs[MAX_CALLS];
	int    invalid_cookie;      /* GetRevisionIdList answers InvalidCookie this many times */
	int    refuse_anchor;       /* GetRevisionIdList with an Anchor answers InvalidParameters */
	size_t cap;                 /* documents per GetUpdateData answer, 0 = all */
	const char *config_ids;     /* NewRevisions of the two lists */
	const char *update_ids;
};

struct tctx {
	struct tsu *t;
	struct wsus_config *cfg;
	struct sync_options opt;
	struct sync_result res;
	struct sync_ctx c;
	struct fake f;
};

static char *capture(int n, const char *kind)
{
	char path[512], *buf = NULL;
	size_t len;

	snprintf(path, sizeof(path), CAPTURE "%06d-%s.body", n, kind);
	if (wsus_read_file(path, 1u << 22, &buf, &len, NULL) < 0)
		fail_msg("cannot read %s", path);
	return buf;
}

/* The text from the first open to the matching close of element name in s (one level). */
static char *element(const char *s, const char *name, const char **next)
{
	char open[64], close[64];
	const char *a, *b;
	char *r;

	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	a = strstr(s, open);
	if (a == NULL)
		return NULL;
	b = strstr(a, close);
	assert_non_null(b);
	b += strlen(close);
	r = strndup(a, (size_t)(b - a));
	assert_non_null(r);
	if (next != NULL)
		*next = b;
	return r;
}

static void answer(struct wsus_buf *out, long *status, long code, const char *body)
{
	wsus_buf_init(out, SYNC_MAX_SOAP_RESPONSE);
	assert_int_equal(wsus_buf_appends(out, body), 0);
	*status = code;
}

static void answer_capture(struct wsus_buf *out, long *status, int n)
{
	char *b = capture(n, "response");

	answer(out, status, strstr(b, "soap:Fault") ? 500 : 200, b);
	free(b);
}

#define ENV_OPEN "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope " \
	"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
#define ENV_CLOSE "</soap:Body></soap:Envelope>"

static void answer_list(struct wsus_buf *out, long *status, const char *ids)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 1u << 20);
	wsus_buf_printf(&b, ENV_OPEN "<GetRevisionIdListResponse xmlns=\"%s\"><GetRevisionIdListResult>"
			"<Anchor>9438,2026-10-04 16:33:26.750</Anchor><NewRevisions>%s</NewRevisions>"
			"</GetRevisionIdListResult></GetRevisionIdListResponse>" ENV_CLOSE, PROTOCOL_NS_SD,
			ids ? ids : "");
	answer(out, status, 200, b.data);
	wsus_buf_free(&b);
}

/* GetUpdateData: the captured ServerSyncUpdateData of each requested
 * identity the capture has, at most cap of them, with their fileUrls. */
static void answer_update_data(struct fake *f, const char *req, struct wsus_buf *out, long *status)
{
	struct wsus_buf updates, urls, b;
	size_t taken = 0;

	wsus_buf_init(&updates, 1u << 22);
	wsus_buf_init(&urls, 1u << 20);
	for (size_t i = 0; i < N_DOCS; i++) {
		char probe[64], *resp, *upd, *u;
		const char *p;

		snprintf(probe, sizeof(probe), "<UpdateID>%s</UpdateID>", capture_docs[i].uid);
		if (strstr(req, probe) == NULL || (f->cap > 0 && taken == f->cap))
			continue;
		resp = capture(capture_docs[i].file, "response");
		upd = element(resp, "ServerSyncUpdateData", NULL);
		wsus_buf_appends(&updates, upd);
		for (p = resp; (u = element(p, "ServerSyncUrlData", &p)) != NULL; free(u))
			wsus_buf_appends(&urls, u);
		free(upd);
		free(resp);
		taken++;
	}
	if (taken == 0) {
		answer_capture(out, status, 17);    /* what WS2025 says for unknown ids */
	} else {
		wsus_buf_init(&b, 1u << 23);
		wsus_buf_printf(&b, ENV_OPEN "<GetUpdateDataResponse xmlns=\"%s\"><GetUpdateDataResult><updates>",
				PROTOCOL_NS_SD);
		wsus_buf_appends(&b, updates.data);
		wsus_buf_printf(&b, "</updates><fileUrls>%s</fileUrls></GetUpdateDataResult>"
				"</GetUpdateDataResponse>" ENV_CLOSE, urls.data ? urls.data : "");
		answer(out, status, 200, b.data);
		wsus_buf_free(&b);
	}
	wsus_buf_free(&updates);
	wsus_buf_free(&urls);
}

static int fake_post(void *ctx, const char *url, const char *action, const char *body, size_t len,
		     long *status, struct wsus_buf *out, struct err *e)
{
	struct fake *f = ctx;
	const char *op = strrchr(action, '/') + 1;

	(void)url;
	(void)len;
	(void)e;
	assert_true(f->n_calls < MAX_CALLS);
	snprintf(f->ops[f->n_calls], sizeof(f->ops[0]), "%s", op);
	f->reqs[f->n_calls] = strdup(body);
	f->n_calls++;
	wsus_buf_free(out);
	if (strcmp(op, "GetAuthConfig") == 0)
		answer_capture(out, status, 1);
	else if (strcmp(op, "GetAuthorizationCookie") == 0)
		answer_capture(out, status, 2);
	else if (strcmp(op, "GetCookie") == 0)
		answer_capture(out, status, 3);
	else if (strcmp(op, "GetConfigData") == 0)
		answer_capture(out, status, 5);
	else if (strcmp(op, "GetRevisionIdList") == 0 && f->invalid_cookie > 0 && f->invalid_cookie--)
		answer_capture(out, status, 19);
	else if (strcmp(op, "GetRevisionIdList") == 0 && f->refuse_anchor && strstr(body, "<Anchor>"))
		answer_capture(out, status, 18);
	else if (strcmp(op, "GetRevisionIdList") == 0)
		answer_list(out, status, strstr(body, "<GetConfig>true") ? f->config_ids : f->update_ids);
	else if (strcmp(op, "GetUpdateData") == 0)
		answer_update_data(f, body, out, status);
	else if (strcmp(op, "GetUpdateDecryptionData") == 0)
		answer(out, status, 200, ENV_OPEN "<GetUpdateDecryptionDataResponse xmlns=\"" PROTOCOL_NS_SD "\">"
		       "<GetUpdateDecryptionDataResult><UpdateFileDecryptionData><ServerSyncUpdateFileDecryption>"
		       "<UpdateId><UpdateID>11111111-1111-4111-8111-111111111111</UpdateID><RevisionNumber>1"
		       "</RevisionNumber></UpdateId><FileDecryptionData><ServerSyncFileDecryption>"
		       "<FileDigest>2jmj7l5rSw0yVb/vlWAYkK/YBwk=</FileDigest><DecryptionKey>AQIDBA==</DecryptionKey>"
		       "</ServerSyncFileDecryption></FileDecryptionData></ServerSyncUpdateFileDecryption>"
		       "</UpdateFileDecryptionData></GetUpdateDecryptionDataResult>"
		       "</GetUpdateDecryptionDataResponse>" ENV_CLOSE);
	else if (strcmp(op, "GetUpdateProvenance") == 0)
		/* what a Windows upstream answers for our extension */
		answer(out, status, 500, ENV_OPEN "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>"
		       "Server did not recognize the value of HTTP Header SOAPAction</faultstring></soap:Fault>"
		       ENV_CLOSE);
	else
		fail_msg("unexpected operation %s", op);
	return 0;
}

static int count_ops(const struct fake *f, const char *op)
{
	int n = 0;

	for (int i = 0; i < f->n_calls; i++)
		n += strcmp(f->ops[i], op) == 0;
	return n;
}

static const char *last_req(const struct fake *f, const char *op)
{
	for (int i = f->n_calls - 1; i >= 0; i--)
		if (strcmp(f->ops[i], op) == 0)
			return f->reqs[i];
	return NULL;
}

static int setup(void **state)
{
	struct tctx *x = calloc(1, sizeof(*x));
	void *ts = NULL;

	if (x == NULL || tsu_setup(&ts) < 0)
		return -1;
	x->t = ts;
	if (config_default(x->t->dir, &x->cfg, NULL) < 0)
		return -1;
	x->cfg->up_url = strdup("https://upstream.test:8531");
	x->c.cfg = x->cfg;
	x->c.opt = &x->opt;
	x->c.res = &x->res;
	x->c.st = x->t->st;
	x->c.post = fake_post;
	x->c.post_ctx = &x->f;
	snprintf(x->c.base, sizeof(x->c.base), "%s", x->cfg->up_url);
	snprintf(x->c.sss_url, sizeof(x->c.sss_url), "%s/ServerSyncWebService/ServerSyncWebService.asmx", x->c.base);
	snprintf(x->c.report_url, sizeof(x->c.report_url), "%s/ReportingWebService/ReportingWebService.asmx",
		 x->c.base);
	snprintf(x->c.account, sizeof(x->c.account), "dss.test");
	storage_server_id(x->c.st, x->c.server_id);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *x = *state;
	void *ts = x->t;

	for (int i = 0; i < x->f.n_calls; i++)
		free(x->f.reqs[i]);
	for (int k = 0; k < SYNC_N_ANCHORS; k++) {
		free(x->c.anchor_old[k]);
		free(x->c.anchor_new[k]);
	}
	free(x->c.auth_cookie);
	free(x->c.cookie);
	sync_deploy_free(&x->c.dep);
	config_free(x->cfg);
	tsu_teardown(&ts);
	free(x);
	return 0;
}

static int64_t staged(struct tctx *x)
{
	int64_t n = -1;

	assert_int_equal(storage_stage_count(x->c.st, &n, NULL), 0);
	return n;
}

/*---- 1. faults ----*/

/* 1.1 ErrorCode and Message come out of real WS2025 faults, SOAP 1.2 Detail
 * faults and faults without an ErrorCode; anything else is not a fault */
static void test_fault_parse(void **state)
{
	static const struct { int file; const char *code; const char *msg; } caps[] = {
		{ 17, "InternalServerError", "Fault occurred" },
		{ 18, "InvalidParameters", "filter" },
		{ 19, "InvalidCookie", "Fault occurred" },
	};
	static const char soap12[] =
		"<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body><env:Fault>"
		"<env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text xml:lang=\"en\">"
		"changed</env:Text></env:Reason><Detail><ErrorCode>ServerChanged</ErrorCode><Message />"
		"</Detail></env:Fault></env:Body></env:Envelope>";
	static const char bare[] =
		"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault>"
		"<faultcode>soap:Server</faultcode><faultstring>boom</faultstring></soap:Fault></soap:Body>"
		"</soap:Envelope>";
	char code[48], msg[256], *b;

	(void)state;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		b = capture(caps[i].file, "response");
		assert_int_equal(sync_fault_parse(b, strlen(b), code, sizeof(code), msg, sizeof(msg)), 0);
		assert_string_equal(code, caps[i].code);
		assert_string_equal(msg, caps[i].msg);
		free(b);
	}
	assert_int_equal(sync_fault_parse(soap12, strlen(soap12), code, sizeof(code), msg, sizeof(msg)), 0);
	assert_string_equal(code, "ServerChanged");
	assert_string_equal(msg, "changed");
	assert_int_equal(sync_fault_parse(bare, strlen(bare), code, sizeof(code), msg, sizeof(msg)), 0);
	assert_string_equal(code, "");
	assert_string_equal(msg, "boom");
	b = capture(3, "response");
	assert_int_equal(sync_fault_parse(b, strlen(b), code, sizeof(code), msg, sizeof(msg)), -EINVAL);
	free(b);
}

/*---- 2. documents ----*/

struct doc_check {
	int seen;
	size_t urls;
	const char *url0;
};

static int check_doc(void *ctx, const struct sync_id *id, const char *xml, size_t len,
		     const struct sync_file_url *urls, size_t n_urls)
{
	struct doc_check *d = ctx;
	char path[512], *want = NULL;
	size_t wlen = 0;
	struct err diff = { 0 };

	snprintf(path, sizeof(path), DOCS "%s-r%d.xml", id->uid, id->rev);
	assert_int_equal(wsus_read_file(path, 1u << 22, &want, &wlen, NULL), 0);
	if (protocol_xml_equivalent(xml, len, want, wlen, &diff) != 1)
		fail_msg("%s: decoded document differs from the fixture: %s", path, diff.msg);
	free(want);
	d->seen++;
	d->urls = n_urls;
	d->url0 = n_urls ? urls[0].mu_url : NULL;
	if (n_urls)
		assert_non_null(strstr(urls[0].mu_url, "http://download.windowsupdate.com/"));
	return 0;
}

/* 2.1 each captured GetUpdateData answer, XmlUpdateBlobCompressed (CAB/LZX,
 * UTF-16LE) or plain XmlUpdateBlob, gives the known update document; the
 * leaf with a file brings its MUUrl */
static void test_update_data_capture(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_DOCS; i++) {
		struct protocol_soap_msg m;
		struct doc_check d = { 0 };
		char *b = capture(capture_docs[i].file, "response");

		assert_int_equal(protocol_soap_parse(b, strlen(b), &m, NULL), 0);
		assert_int_equal(sync_update_data_parse(sync_call_result(&m, "GetUpdateData"), check_doc, &d, NULL), 0);
		assert_int_equal(d.seen, 1);
		assert_int_equal(d.urls, capture_docs[i].file == 14 ? 1 : 0);
		protocol_soap_msg_free(&m);
		free(b);
	}
}

/*---- 3. phases ----*/

static const char ids_config[] =
	"<UpdateIdentity><UpdateID>56309036-4c77-4dd9-951a-99ee9c246a94</UpdateID>"
	"<RevisionNumber>101</RevisionNumber></UpdateIdentity>";
static const char ids_updates[] =
	"<UpdateIdentity><UpdateID>a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe</UpdateID><RevisionNumber>200</RevisionNumber></UpdateIdentity>"
	"<UpdateIdentity><UpdateID>266f6222-c89d-43f2-9f8a-69340271e677</UpdateID><RevisionNumber>200</RevisionNumber></UpdateIdentity>"
	"<UpdateIdentity><UpdateID>ccb78947-6453-4ecc-9de8-bc0305c98f2d</UpdateID><RevisionNumber>200</RevisionNumber></UpdateIdentity>";

/* 3.1 authorisation sends our name and ServerID and protocol 1.20; the
 * config phase reads the upstream's limits and anchor */
static void test_auth_config(void **state)
{
	struct tctx *x = *state;
	struct err e = { 0 };
	char probe[96];

	if (sync_auth(&x->c, &e) < 0 || sync_phase_config(&x->c, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(x->f.n_calls, 4);
	assert_string_equal(x->c.auth_url, "https://upstream.test:8531/DssAuthWebService/DssAuthWebService.asmx");
	snprintf(probe, sizeof(probe), "<accountGuid>%s</accountGuid>", x->c.server_id);
	assert_non_null(strstr(last_req(&x->f, "GetAuthorizationCookie"), probe));
	assert_non_null(strstr(last_req(&x->f, "GetAuthorizationCookie"), "<accountName>dss.test</accountName>"));
	assert_non_null(strstr(last_req(&x->f, "GetCookie"), "<protocolVersion>1.20</protocolVersion>"));
	assert_null(strstr(last_req(&x->f, "GetConfigData"), "configAnchor"));
	assert_non_null(strstr(last_req(&x->f, "GetConfigData"), "<EncryptedData>AAAA"));
	assert_int_equal(x->c.up.lazy, 1);
	assert_int_equal(x->c.up.catalog_only, 0);
	assert_int_equal(x->c.up.max_updates, 100);
	assert_int_equal(x->c.up.max_keys, 100);
	assert_string_equal(x->c.up.protocol, "1.20");
	assert_string_equal(x->c.anchor_new[SYNC_ANCHOR_CONFIG], "9438,2026-10-04 16:33:26.670");
}

/* 3.2 an answer capped below what was asked is completed by asking again for
 * exactly the identities it left out; every document is staged, decoded,
 * with its MUUrl line, and the published catalogue is untouched */
static void test_fetch_capped(void **state)
{
	struct tctx *x = *state;
	struct storage_stage_id *keys = NULL;
	struct err e = { 0 };
	sqlite3 *db;
	size_t nk = 0;
	char *mu, *head;

	x->f.config_ids = ids_config;
	x->f.update_ids = ids_updates;
	x->f.cap = 2;
	if (sync_phase_config(&x->c, &e) < 0 || sync_phase_list(&x->c, 1, &e) < 0 ||
	    sync_phase_list(&x->c, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(staged(x), 4);
	assert_int_equal(x->res.listed, 4);
	assert_int_equal(x->res.fetched, 4);
	assert_int_equal(x->res.batches, 3);        /* 1 category, then 2 + 1 updates */
	assert_int_equal(count_ops(&x->f, "GetUpdateData"), 3);
	assert_non_null(strstr(last_req(&x->f, "GetUpdateData"), "ccb78947-6453-4ecc-9de8-bc0305c98f2d"));
	assert_null(strstr(last_req(&x->f, "GetUpdateData"), "a2fef9b0"));
	assert_string_equal(x->c.anchor_new[SYNC_ANCHOR_UPDATES], "9438,2026-10-04 16:33:26.750");

	db = tsu_db(x->t->dir);
	mu = tsu_sql_text(db, "SELECT mu_urls FROM sync_stage WHERE update_id = '266f6222-c89d-43f2-9f8a-69340271e677'");
	assert_non_null(strstr(mu, " http://download.windowsupdate.com/"));
	assert_int_equal(strlen(mu) > 42 && mu[40] == ' ', 1);
	head = tsu_sql_text(db, "SELECT substr(CAST(xml AS TEXT), 1, 11) FROM sync_stage"
			    " WHERE update_id = '56309036-4c77-4dd9-951a-99ee9c246a94'");
	assert_string_equal(head, "<upd:Update");
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM revision"), 0);
	free(mu);
	free(head);
	sqlite3_close(db);
	assert_int_equal(storage_stage_need_keys(x->c.st, &keys, &nk, NULL), 0);
	assert_int_equal(nk, 0);
	free(keys);

	/* a second listing finds everything staged: nothing is fetched again */
	assert_int_equal(sync_phase_list(&x->c, 0, &e), 0);
	assert_int_equal(x->res.resumed, 3);
	assert_int_equal(count_ops(&x->f, "GetUpdateData"), 3);
}

/* 3.3 InvalidCookie makes the DSS authorise once more and repeat the call;
 * a second refusal stops it with the fault named */
static void test_invalid_cookie(void **state)
{
	struct tctx *x = *state;
	struct err e = { 0 };

	x->f.config_ids = ids_config;
	x->f.invalid_cookie = 1;
	if (sync_phase_list(&x->c, 1, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(count_ops(&x->f, "GetCookie"), 2);
	assert_int_equal(count_ops(&x->f, "GetRevisionIdList"), 2);
	assert_int_equal(staged(x), 1);

	x->f.invalid_cookie = 2;
	assert_int_equal(sync_phase_list(&x->c, 1, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "GetRevisionIdList with InvalidCookie"));
	assert_int_equal(count_ops(&x->f, "GetCookie"), 3);
}

/* 3.4 an anchor the upstream refuses (InvalidParameters) is dropped and the
 * full list asked for, once */
static void test_refused_anchor(void **state)
{
	struct tctx *x = *state;
	struct err e = { 0 };

	x->c.anchor_old[SYNC_ANCHOR_CATEGORIES] = strdup("garbage");
	x->f.config_ids = ids_config;
	x->f.refuse_anchor = 1;
	if (sync_phase_list(&x->c, 1, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(count_ops(&x->f, "GetRevisionIdList"), 2);
	/* ... GetRevisionIdList (garbage), GetRevisionIdList, GetUpdateData, GetUpdateProvenance */
	assert_string_equal(x->f.ops[x->f.n_calls - 4], "GetRevisionIdList");
	assert_non_null(strstr(x->f.reqs[x->f.n_calls - 4], "<Anchor>garbage</Anchor>"));
	assert_null(strstr(last_req(&x->f, "GetRevisionIdList"), "<Anchor>"));
	assert_int_equal(staged(x), 1);
}

/* 3.5 a fault other than the cookie's stops the phase with the ErrorCode in
 * the message and stages nothing */
static void test_fault_stops(void **state)
{
	struct tctx *x = *state;
	struct err e = { 0 };

	x->f.update_ids = "<UpdateIdentity><UpdateID>00000000-0000-0000-0000-000000000001</UpdateID>"
			  "<RevisionNumber>1</RevisionNumber></UpdateIdentity>";
	assert_int_equal(sync_phase_list(&x->c, 0, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "upstream answered GetUpdateData with InternalServerError"));
	assert_string_equal(x->c.fault, "InternalServerError");
	assert_int_equal(staged(x), 0);
}

/* 3.6 revisions whose metadata says FileDecryption get their keys from
 * GetUpdateDecryptionData; one the upstream says nothing about is recorded
 * as keyless, so it is not asked for forever */
static void test_keys(void **state)
{
	struct tctx *x = *state;
	struct storage_stage_doc d[2] = {
		{ .update_id = "11111111-1111-4111-8111-111111111111", .revision = 1, .list = "updates",
		  .xml = "<u/>", .xml_len = 4, .needs_keys = 1 },
		{ .update_id = "22222222-2222-4222-8222-222222222222", .revision = 3, .list = "updates",
		  .xml = "<v/>", .xml_len = 4, .needs_keys = 1 },
	};
	struct storage_stage_id *left = NULL;
	struct err e = { 0 };
	sqlite3 *db;
	char *keys;
	size_t n = 9;

	assert_int_equal(storage_stage_put(x->c.st, x->c.base, d, 2, NULL), 0);
	x->c.up.max_keys = 100;
	if (sync_phase_keys(&x->c, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(count_ops(&x->f, "GetUpdateDecryptionData"), 1);
	assert_non_null(strstr(last_req(&x->f, "GetUpdateDecryptionData"),
			       "<UpdateID>22222222-2222-4222-8222-222222222222</UpdateID><RevisionNumber>3</RevisionNumber>"));
	db = tsu_db(x->t->dir);
	keys = tsu_sql_text(db, "SELECT keys FROM sync_stage WHERE revision_number = 1");
	assert_string_equal(keys, "da39a3ee5e6b4b0d3255bfef95601890afd80709 AQIDBA==\n");
	free(keys);
	keys = tsu_sql_text(db, "SELECT keys FROM sync_stage WHERE revision_number = 3");
	assert_string_equal(keys, "");
	free(keys);
	sqlite3_close(db);
	assert_int_equal(storage_stage_need_keys(x->c.st, &left, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(left);
}

/*---- 4. deployments, URLs, schedule ----*/

/* 4.1 a GetDeployments answer in the Windows shape is normalised: optional
 * ParentGroupId, none-sentinel dates, actions, GUID case */
static void test_deploy_parse(void **state)
{
	static const char body[] =
		ENV_OPEN "<GetDeploymentsResponse xmlns=\"http://www.microsoft.com/SoftwareDistribution\">"
		"<GetDeploymentsResult><Anchor>14030,2006-06-08 15:38:16.022</Anchor><Groups>"
		"<ServerSyncTargetGroup><TargetGroupID>A0A08746-4DBE-4A37-9ADF-9E7652C0B421</TargetGroupID>"
		"<ParentGroupId>00000000-0000-0000-0000-000000000000</ParentGroupId><Name>All Computers</Name>"
		"<IsBuiltin>true</IsBuiltin></ServerSyncTargetGroup>"
		"<ServerSyncTargetGroup><TargetGroupID>b73ca6ed-5727-47f3-84de-015e03f6a88a</TargetGroupID>"
		"<Name>Unassigned Computers</Name><IsBuiltin>true</IsBuiltin></ServerSyncTargetGroup></Groups>"
		"<Deployments><ServerSyncDeployment><UpdateId>ADB2FE48-0B2E-451e-9A3E-3B5B23E23D6A</UpdateId>"
		"<RevisionNumber>102</RevisionNumber><Action>3</Action><AdminName>WSUS Admin</AdminName>"
		"<Deadline>9999-12-31T23:59:59.9999999</Deadline><IsAssigned>false</IsAssigned>"
		"<GoLiveTime>1753-01-01T00:00:00</GoLiveTime><DeploymentGuid>0e1d6a8c-7ed2-4d5f-9d1b-8f4e1cd1c1a1"
		"</DeploymentGuid><TargetGroupId>b73ca6ed-5727-47f3-84de-015e03f6a88a</TargetGroupId>"
		"<DownloadPriority>3</DownloadPriority></ServerSyncDeployment></Deployments>"
		"<DeadDeployments><guid>5D1B7B5C-0000-4000-8000-000000000001</guid></DeadDeployments>"
		"<HiddenUpdates /><AcceptedEulas><guid>1e8dcd9b-0000-4000-8000-000000000002</guid></AcceptedEulas>"
		"</GetDeploymentsResult></GetDeploymentsResponse>" ENV_CLOSE;
	struct protocol_soap_msg m;
	struct sync_deploy_set set;
	char *anchor = NULL;

	(void)state;
	assert_int_equal(protocol_soap_parse(body, strlen(body), &m, NULL), 0);
	assert_int_equal(sync_deploy_parse(sync_call_result(&m, "GetDeployments"), &set, &anchor, NULL), 0);
	assert_string_equal(anchor, "14030,2006-06-08 15:38:16.022");
	assert_int_equal(set.n_groups, 2);
	assert_string_equal(set.groups[0].group_id, "a0a08746-4dbe-4a37-9adf-9e7652c0b421");
	assert_string_equal(set.groups[0].parent_id, "");
	assert_string_equal(set.groups[1].parent_id, "");
	assert_int_equal(set.groups[1].builtin, 1);
	assert_int_equal(set.n_live, 1);
	assert_string_equal(set.live[0].update_id, "adb2fe48-0b2e-451e-9a3e-3b5b23e23d6a");
	assert_int_equal(set.live[0].revision, 102);
	assert_int_equal(set.live[0].action, STORAGE_ACTION_BLOCK);
	assert_string_equal(set.live[0].deadline, "");
	assert_string_equal(set.live[0].go_live, "");
	assert_string_equal(set.live[0].admin_name, "WSUS Admin");
	assert_int_equal(set.live[0].is_assigned, 0);
	assert_int_equal(set.live[0].download_priority, 3);
	assert_int_equal(set.n_dead, 1);
	assert_string_equal(set.dead[0], "5d1b7b5c-0000-4000-8000-000000000001");
	assert_int_equal(set.n_hidden, 0);
	assert_int_equal(set.n_eulas, 1);
	sync_deploy_free(&set);
	free(anchor);
	protocol_soap_msg_free(&m);
}

/* 4.2 content URLs follow the Windows layout (last two hex digits, upper
 * case, the store's extension rule); the plain-HTTP port is N-1 (443 -> 80) */
static void test_urls(void **state)
{
	static const struct { const char *base, *name, *url; } u[] = {
		{ "https://h:8531", "Windows10.0-KB1.cab",
		  "https://h:8531/Content/09/DA39A3EE5E6B4B0D3255BFEF95601890AFD80709.cab" },
		{ "https://h:8531/", "x.MSU", "https://h:8531/Content/09/DA39A3EE5E6B4B0D3255BFEF95601890AFD80709.msu" },
		{ "https://h", "noext", "https://h/Content/09/DA39A3EE5E6B4B0D3255BFEF95601890AFD80709" },
		{ "https://h", "a.b/../c.toolongext", "https://h/Content/09/DA39A3EE5E6B4B0D3255BFEF95601890AFD80709" },
	};
	static const struct { const char *in, *out; int rc; } h[] = {
		{ "https://wsus:8531", "http://wsus:8530", 0 },
		{ "https://wsus.example.com", "http://wsus.example.com:80", 0 },
		{ "https://wsus:443/x", "http://wsus:80", 0 },
		{ "https://[::1]:8531", "http://[::1]:8530", 0 },
		{ "http://wsus:8531", NULL, -EINVAL },
		{ "https://wsus:x", NULL, -EINVAL },
	};
	uint8_t sha1[WSUS_SHA1_LEN];
	char out[256];

	(void)state;
	wsus_sha1("", 0, sha1);
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		assert_int_equal(sync_content_url(u[i].base, sha1, u[i].name, out, sizeof(out)), 0);
		assert_string_equal(out, u[i].url);
	}
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		assert_int_equal(sync_content_http_base(h[i].in, out, sizeof(out)), h[i].rc);
		if (h[i].rc == 0)
			assert_string_equal(out, h[i].out);
	}
}

/* 4.3 the schedule: interval plus at most the jitter after a success; after
 * failures 30 s doubling, capped at the interval, jitter at most half */
static void test_schedule(void **state)
{
	static const struct { int interval, jitter, failures; int64_t lo, hi; } v[] = {
		{ 86400, 600, 0, 86400000, 87000000 },
		{ 86400, 0, 0, 86400000, 86400000 },
		{ 86400, 600, 1, 30000, 45000 },
		{ 86400, 600, 3, 120000, 180000 },
		{ 3600, 600, 20, 3600000, 4200000 },
		{ 10, 0, 5, 10000, 10000 },
	};

	static const uint32_t rnd[] = { 0, 1, 7, 14999, 15000, 15001, 600000, 123456789, 4294967295u };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (size_t j = 0; j < sizeof(rnd) / sizeof(rnd[0]); j++) {
			int64_t d = sync_schedule_delay_ms(v[i].interval, v[i].jitter, v[i].failures, rnd[j]);

			if (d < v[i].lo || d > v[i].hi)
				fail_msg("case %zu rnd %u: %lld not in [%lld, %lld]", i, rnd[j], (long long)d,
					 (long long)v[i].lo, (long long)v[i].hi);
		}
}

/* 4.4 [sync] window: open inside, closed outside, wrapping midnight, and
 * how long until it opens (local time: the test runs in UTC) */
static void test_window(void **state)
{
	static const struct { const char *window; int h, m, s; int open; int64_t opens_ms; } v[] = {
		{ NULL, 12, 0, 0, 1, 0 },
		{ "01:00-05:00", 1, 0, 0, 1, 0 },
		{ "01:00-05:00", 4, 59, 59, 1, 0 },
		{ "01:00-05:00", 5, 0, 0, 0, 20 * 3600 * 1000LL },
		{ "01:00-05:00", 0, 59, 30, 0, 30 * 1000LL },
		{ "22:00-06:00", 23, 30, 0, 1, 0 },
		{ "22:00-06:00", 5, 59, 0, 1, 0 },
		{ "22:00-06:00", 6, 0, 0, 0, 16 * 3600 * 1000LL },
		{ "22:00-06:00", 21, 0, 0, 0, 3600 * 1000LL },
	};
	struct wsus_config cfg;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		time_t t = (time_t)(20000 * 86400LL + v[i].h * 3600 + v[i].m * 60 + v[i].s);
		int64_t opens = -1;

		memset(&cfg, 0, sizeof(cfg));
		cfg.sy_window = (char *)v[i].window;
		assert_int_equal(sync_window_open(&cfg, t, &opens), v[i].open);
		if (opens != v[i].opens_ms)
			fail_msg("case %zu: opens in %lld ms, want %lld", i, (long long)opens, (long long)v[i].opens_ms);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_parse),
		cmocka_unit_test(test_update_data_capture),
		cmocka_unit_test_setup_teardown(test_auth_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_anchor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test(test_deploy_parse),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_window),
	};

	log_set_verbosity(LOG_ERR);
	protocol_xml_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
