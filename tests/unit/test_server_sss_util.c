/*
 * test_server_sss_util.c -- helpers shared by the upstream-role tests (see
 * test_server_sss_util.h).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlschemas.h>

#include "test_server_sss_util.h"

/*---- Fixture ----*/

int sfx_setup(void **state)
{
	struct sfx *x = calloc(1, sizeof(*x));
	struct err e = { 0 };

	if (x == NULL)
		return -1;
	log_set_verbosity(getenv("SSS_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR);
	snprintf(x->dir, sizeof(x->dir), "/tmp/wsus-sss-XXXXXX");
	if (mkdtemp(x->dir) == NULL || storage_open(x->dir, NULL, &x->st, &e) < 0) {
		fprintf(stderr, "setup: %s\n", e.msg);
		free(x);
		return -1;
	}
	storage_server_id(x->st, x->srv.server_id);
	if (storage_secret(x->st, "cookie", x->srv.cookie_key, &e) < 0)
		return -1;
	snprintf(x->srv.public_url, sizeof(x->srv.public_url), "https://127.0.0.1:8531");
	snprintf(x->srv.content_url, sizeof(x->srv.content_url), "https://127.0.0.1:8531/Content");
	*state = x;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int sfx_teardown(void **state)
{
	struct sfx *x = *state;

	if (x == NULL)
		return 0;
	storage_close(x->st);
	nftw(x->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(x);
	return 0;
}

/*---- Raw SQL ----*/

static sqlite3 *open_db(struct sfx *x)
{
	char path[512];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/wsus.db", x->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

void sfx_sql(struct sfx *x, const char *stmt)
{
	sqlite3 *db = open_db(x);
	char *msg = NULL;

	if (sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", stmt, msg);
	sqlite3_close(db);
}

static sqlite3_stmt *one_row(sqlite3 *db, const char *query)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, query, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", query, sqlite3_errmsg(db));
	if (sqlite3_step(s) != SQLITE_ROW)
		fail_msg("%s: no row", query);
	return s;
}

long long sfx_sql_int(struct sfx *x, const char *query)
{
	sqlite3 *db = open_db(x);
	sqlite3_stmt *s = one_row(db, query);
	long long v = sqlite3_column_int64(s, 0);

	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

char *sfx_sql_text(struct sfx *x, const char *query)
{
	sqlite3 *db = open_db(x);
	sqlite3_stmt *s = one_row(db, query);
	const char *t = (const char *)sqlite3_column_text(s, 0);
	char *v = strdup(t ? t : "");

	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/*---- Calls ----*/

char *sfx_envelope(const char *op_xml)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 64u << 20);
	assert_int_equal(wsus_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope"
					 " xmlns:soap=\"%s\"><soap:Body>%s</soap:Body></soap:Envelope>",
					 PROTOCOL_NS_SOAP11, op_xml), 0);
	return wsus_buf_steal(&b, NULL);
}

void sfx_call(struct sfx *x, const struct server_service *svc, const char *path, const char *body,
	      struct server_resp *resp)
{
	struct server_req req;

	memset(&req, 0, sizeof(req));
	memset(resp, 0, sizeof(*resp));
	req.srv = &x->srv;
	req.method = "POST";
	req.path = path;
	req.body = body;
	req.body_len = strlen(body);
	req.tls = 1;
	req.st = x->st;
	snprintf(req.peer, sizeof(req.peer), "192.0.2.44");
	server_soap_dispatch(&req, svc, resp);
	if (getenv("SSS_TEST_DUMP") != NULL)
		fprintf(stderr, "--- %s\n%.3000s\n+++ %d\n%.3000s\n", path, body, resp->status, resp->body.data);
}

void sfx_op(struct sfx *x, const struct server_service *svc, const char *op_xml,
	    struct server_resp *resp)
{
	const char *path = svc == &server_dssauth_service ? DSSAUTH_PATH :
			   svc == &server_reporting_service ? REPORTING_PATH : SSS_PATH;
	char *body = sfx_envelope(op_xml);

	sfx_call(x, svc, path, body, resp);
	free(body);
}

void sfx_login(struct sfx *x, const char *guid, const char *name, char **auth, char **cookie)
{
	struct server_resp r;
	char op[4096], *a, *c;

	snprintf(op, sizeof(op), "<GetAuthorizationCookie xmlns=\"%s\"><accountName>%s</accountName>"
		 "<accountGuid>%s</accountGuid></GetAuthorizationCookie>", PROTOCOL_NS_DSSAUTH, name, guid);
	sfx_op(x, &server_dssauth_service, op, &r);
	assert_int_equal(r.status, 200);
	a = sfx_text(&r, "CookieData");
	assert_non_null(a);
	wsus_buf_free(&r.body);
	snprintf(op, sizeof(op), "<GetCookie xmlns=\"%s\"><authCookies><AuthorizationCookie>"
		 "<PlugInId>DssTargeting</PlugInId><CookieData>%s</CookieData></AuthorizationCookie>"
		 "</authCookies><protocolVersion>1.20</protocolVersion></GetCookie>", PROTOCOL_NS_SD, a);
	sfx_op(x, &server_sss_service, op, &r);
	assert_int_equal(r.status, 200);
	c = sfx_text(&r, "EncryptedData");
	assert_non_null(c);
	wsus_buf_free(&r.body);
	if (auth)
		*auth = a;
	else
		free(a);
	if (cookie)
		*cookie = c;
	else
		free(c);
}

char *sfx_cookie_xml(const char *enc)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 1 << 16);
	assert_int_equal(wsus_buf_printf(&b, "<cookie><Expiration>2030-01-01T00:00:00Z</Expiration>"
					 "<EncryptedData>%s</EncryptedData></cookie>", enc), 0);
	return wsus_buf_steal(&b, NULL);
}

/*---- Catalogue ----*/

char *sfx_read(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	struct err e = { 0 };

	if (wsus_read_file(path, 64u << 20, &buf, &n, &e) < 0)
		fail_msg("read %s: %s", path, e.msg);
	if (len)
		*len = n;
	return buf;
}

static void put_doc(struct storage *st, const char *xml, size_t len, const char *mu_url)
{
	struct wsus_update *u = NULL;
	struct err e = { 0 };

	if (protocol_update_parse(xml, len, &u, &e) < 0)
		fail_msg("parse: %s", e.msg);
	for (size_t i = 0; mu_url != NULL && i < u->n_files; i++) {
		u->files[i].mu_url = strdup(mu_url);
		assert_non_null(u->files[i].mu_url);
	}
	if (storage_revision_put(st, u, NULL, NULL, NULL, &e) < 0)
		fail_msg("put %s/%d: %s", u->update_id, u->revision, e.msg);
	wsus_update_free(u);
}

void sfx_import_doc(struct storage *st, const char *xml)
{
	put_doc(st, xml, strlen(xml), NULL);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int xml_only(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && strcmp(d->d_name + n - 4, ".xml") == 0;
}

int sfx_import_dir(struct storage *st, const char *dir, const char *mu_url)
{
	struct dirent **names = NULL;
	struct err e = { 0 };
	int n = scandir(dir, &names, xml_only, by_name);

	assert_true(n > 0);
	assert_int_equal(storage_begin(st, &e), 0);
	for (int i = 0; i < n; i++) {
		char path[1024], *xml;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		xml = sfx_read(path, &len);
		put_doc(st, xml, len, mu_url);
		free(xml);
		free(names[i]);
	}
	free(names);
	assert_int_equal(storage_leaf_refresh(st, &e), 0);
	assert_int_equal(storage_commit(st, &e), 0);
	return n;
}

char *sfx_doc(const struct sfx_docspec *s)
{
	const char *nl = s->crlf ? "\r\n" : "";
	struct wsus_buf b;
	uint8_t sha1[WSUS_SHA1_LEN], sha256[WSUS_SHA256_LEN];
	char d1[32], d256[48];
	int is_cat = s->type != NULL && strcmp(s->type, "Category") == 0;

	wsus_buf_init(&b, 64u << 20);
	assert_int_equal(wsus_buf_printf(&b,
		"<upd:Update xmlns:upd=\"http://schemas.microsoft.com/msus/2002/12/Update\">%s"
		"<upd:UpdateIdentity UpdateID=\"%s\" RevisionNumber=\"%d\" />%s"
		"<upd:Properties UpdateType=\"%s\" DefaultPropertiesLanguage=\"en\""
		" PublicationState=\"Published\" CreationDate=\"2024-01-11T20:15:45.051Z\" />%s"
		"<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>"
		"<upd:Title>generated %s r%d</upd:Title><upd:Description>",
		nl, s->uid, s->rev, nl, s->type ? s->type : "Software", nl, s->uid, s->rev), 0);
	for (size_t i = 0; i < s->pad; i++)
		assert_int_equal(wsus_buf_append(&b, i % 64 == 63 ? " " : "x", 1), 0);
	assert_int_equal(wsus_buf_printf(&b, "</upd:Description></upd:LocalizedProperties>"
					 "</upd:LocalizedPropertiesCollection>%s<upd:Relationships>", nl), 0);
	if (s->prereqs[0] != NULL) {
		assert_int_equal(wsus_buf_appends(&b, "<upd:Prerequisites>"), 0);
		for (int i = 0; i < 4 && s->prereqs[i] != NULL; i++)
			assert_int_equal(wsus_buf_printf(&b, "<upd:AtLeastOne IsCategory=\"true\">"
							 "<upd:UpdateIdentity UpdateID=\"%s\" /></upd:AtLeastOne>",
							 s->prereqs[i]), 0);
		assert_int_equal(wsus_buf_appends(&b, "</upd:Prerequisites>"), 0);
	}
	if (s->bundled[0] != NULL) {
		assert_int_equal(wsus_buf_appends(&b, "<upd:BundledUpdates><upd:AtLeastOne>"), 0);
		for (int i = 0; i < 4 && s->bundled[i] != NULL; i++)
			assert_int_equal(wsus_buf_printf(&b, "<upd:UpdateIdentity UpdateID=\"%s\" RevisionNumber=\"1\" />",
							 s->bundled[i]), 0);
		assert_int_equal(wsus_buf_appends(&b, "</upd:AtLeastOne></upd:BundledUpdates>"), 0);
	}
	assert_int_equal(wsus_buf_printf(&b, "</upd:Relationships>%s", nl), 0);
	if (s->file_data != NULL) {
		wsus_sha1(s->file_data, strlen(s->file_data), sha1);
		wsus_sha256(s->file_data, strlen(s->file_data), sha256);
		wsus_b64_encode(sha1, sizeof(sha1), d1);
		wsus_b64_encode(sha256, sizeof(sha256), d256);
		assert_int_equal(wsus_buf_printf(&b, "<upd:Files><upd:File Digest=\"%s\" DigestAlgorithm=\"SHA1\""
						 " FileName=\"f.cab\" Size=\"%zu\" Modified=\"2026-10-04T09:39:26Z\">"
						 "<upd:AdditionalDigest Algorithm=\"SHA256\">%s</upd:AdditionalDigest>"
						 "</upd:File></upd:Files>%s", d1, strlen(s->file_data), d256, nl), 0);
	}
	if (is_cat)
		assert_int_equal(wsus_buf_printf(&b, "<upd:HandlerSpecificData xsi:type=\"cat:Category\""
						 " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
						 " xmlns:cat=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category\">"
						 "<cat:CategoryInformation CategoryType=\"%s\" /></upd:HandlerSpecificData>",
						 s->category ? s->category : "Product"), 0);
	assert_int_equal(wsus_buf_appends(&b, "</upd:Update>"), 0);
	return wsus_buf_steal(&b, NULL);
}

void sfx_put(struct storage *st, const struct sfx_docspec *s)
{
	char *xml = sfx_doc(s);

	sfx_import_doc(st, xml);
	free(xml);
}

/*---- Reading responses ----*/

static xmlDocPtr parse_resp(const struct server_resp *r)
{
	struct err e = { 0 };
	xmlDocPtr d = protocol_xml_parse(r->body.data, r->body.len, &e);

	if (d == NULL)
		fail_msg("response does not parse: %s\n%.400s", e.msg, r->body.data);
	return d;
}

static xmlNodePtr find(xmlNodePtr n, const char *local)
{
	for (; n != NULL; n = n->next) {
		xmlNodePtr hit;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, local) == 0)
			return n;
		hit = find(n->children, local);
		if (hit)
			return hit;
	}
	return NULL;
}

static void collect(xmlNodePtr n, const char *local, struct wsus_buf *b, int *count)
{
	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, local) == 0) {
			xmlChar *t = xmlNodeGetContent(n);

			(*count)++;
			if (b)
				assert_int_equal(wsus_buf_printf(b, "%s\n", t ? (const char *)t : ""), 0);
			xmlFree(t);
		}
		collect(n->children, local, b, count);
	}
}

const char *sfx_fault_code(const struct server_resp *r)
{
	static char code[64];
	char *fault = sfx_text(r, "Fault");
	char *t = fault ? sfx_text(r, "ErrorCode") : NULL;

	code[0] = '\0';
	if (fault != NULL)
		snprintf(code, sizeof(code), "%s", t ? t : "(no ErrorCode)");
	free(fault);
	free(t);
	return code;
}

char *sfx_text(const struct server_resp *r, const char *local)
{
	xmlDocPtr d = parse_resp(r);
	xmlNodePtr n = find(xmlDocGetRootElement(d), local);
	char *out = NULL;

	if (n != NULL) {
		xmlChar *t = xmlNodeGetContent(n);

		out = strdup(t ? (const char *)t : "");
		xmlFree(t);
	}
	xmlFreeDoc(d);
	return out;
}

int sfx_count(const struct server_resp *r, const char *local)
{
	xmlDocPtr d = parse_resp(r);
	int n = 0;

	collect(xmlDocGetRootElement(d), local, NULL, &n);
	xmlFreeDoc(d);
	return n;
}

char *sfx_texts(const struct server_resp *r, const char *local)
{
	xmlDocPtr d = parse_resp(r);
	struct wsus_buf b;
	int n = 0;

	wsus_buf_init(&b, 64u << 20);
	assert_int_equal(wsus_buf_appends(&b, ""), 0);
	collect(xmlDocGetRootElement(d), local, &b, &n);
	xmlFreeDoc(d);
	return wsus_buf_steal(&b, NULL);
}

/*---- Schema validation ----*/

static xmlNodePtr first_element(xmlNodePtr n)
{
	for (; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

static xmlNodePtr body_payload(xmlDocPtr d)
{
	xmlNodePtr env = xmlDocGetRootElement(d);
	xmlNodePtr body = env ? first_element(env->children) : NULL;

	while (body != NULL && strcmp((const char *)body->name, "Body") != 0)
		body = first_element(body->next);
	return body ? first_element(body->children) : NULL;
}

struct schema_slot {
	char name[64];
	xmlSchemaPtr schema;
};

static struct schema_slot schemas[8];

static void collect_error(void *ctx, const char *fmt, ...)
{
	char *why = ctx;
	size_t len = strlen(why);
	va_list ap;

	if (len > 0)
		return;  /* keep the first */
	va_start(ap, fmt);
	vsnprintf(why, 512, fmt, ap);
	va_end(ap);
}

/* The XSDs import their sibling guid schema from disk: the loader the
 * production code installs refuses every external load, so lift it for the
 * schema parse only (the instances never load anything). */
static xmlSchemaPtr load_schema(const char *xsd)
{
	char path[1024];
	xmlExternalEntityLoader saved;
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr s;

	for (size_t i = 0; i < 8; i++)
		if (schemas[i].schema != NULL && strcmp(schemas[i].name, xsd) == 0)
			return schemas[i].schema;
	snprintf(path, sizeof(path), "%s/spec/wsdl/%s", WSUS_SHARED_DIR, xsd);
	protocol_xml_init();
	saved = xmlGetExternalEntityLoader();
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
	pc = xmlSchemaNewParserCtxt(path);
	s = pc ? xmlSchemaParse(pc) : NULL;
	xmlSchemaFreeParserCtxt(pc);
	xmlSetExternalEntityLoader(saved);
	if (s == NULL)
		fail_msg("schema %s does not load", path);
	for (size_t i = 0; i < 8; i++)
		if (schemas[i].schema == NULL) {
			snprintf(schemas[i].name, sizeof(schemas[i].name), "%s", xsd);
			schemas[i].schema = s;
			return s;
		}
	fail_msg("too many schemas");
	return NULL;
}

int sfx_validate(const char *body, size_t len, const char *xsd, char *why, size_t cap)
{
	struct err e = { 0 };
	xmlDocPtr d = protocol_xml_parse(body, len, &e), sub = NULL, again = NULL;
	xmlNodePtr payload, copy;
	xmlSchemaValidCtxtPtr vc = NULL;
	xmlChar *mem = NULL;
	char first[512] = "";
	int size = 0, rc = -1;

	why[0] = '\0';
	if (d == NULL || (payload = body_payload(d)) == NULL) {
		snprintf(why, cap, "no SOAP body payload: %s", e.msg);
		goto done;
	}
	/* A document of its own, serialised and parsed again: what xmllint
	 * would see in a file holding the payload. */
	sub = xmlNewDoc((const xmlChar *)"1.0");
	copy = xmlDocCopyNode(payload, sub, 1);
	xmlDocSetRootElement(sub, copy);
	xmlReconciliateNs(sub, copy);
	xmlDocDumpMemory(sub, &mem, &size);
	again = protocol_xml_parse((const char *)mem, (size_t)size, &e);
	if (again == NULL) {
		snprintf(why, cap, "payload does not reparse: %s", e.msg);
		goto done;
	}
	vc = xmlSchemaNewValidCtxt(load_schema(xsd));
	xmlSchemaSetValidErrors(vc, collect_error, collect_error, first);
	rc = xmlSchemaValidateDoc(vc, again) == 0 ? 0 : -1;
	if (rc < 0)
		snprintf(why, cap, "%s", first[0] ? first : "invalid");
done:
	xmlSchemaFreeValidCtxt(vc);
	xmlFree(mem);
	xmlFreeDoc(again);
	xmlFreeDoc(sub);
	xmlFreeDoc(d);
	return rc;
}

void sfx_assert_valid(const struct server_resp *r, const char *xsd)
{
	char why[600];

	if (r->status != 200)
		fail_msg("expected a response, got HTTP %d: %.600s", r->status, r->body.data);
	if (sfx_validate(r->body.data, r->body.len, xsd, why, sizeof(why)) < 0)
		fail_msg("response does not validate against %s: %s\n%.800s", xsd, why, r->body.data);
}

/*---- Structural comparison ----*/

#define MAX_KIDS 4096

struct kid {
	const char *name;
	xmlNodePtr node;
	int order;
};

static const char *slot_name(xmlNodePtr n)
{
	const char *name = (const char *)n->name;

	return strcmp(name, "XmlUpdateBlobCompressed") == 0 ? "XmlUpdateBlob" : name;
}

/* The schema order inside ServerSyncUpdateData, where Windows puts the
 * compressed blob after FileDigestList and we put the plain one before it. */
static int slot_order(const char *parent, const char *name)
{
	static const char *const order[] = { "Id", "XmlUpdateBlob", "FileDigestList" };

	if (strcmp(parent, "ServerSyncUpdateData") != 0)
		return 0;
	for (int i = 0; i < 3; i++)
		if (strcmp(order[i], name) == 0)
			return i;
	return 3;
}

static size_t kids_of(xmlNodePtr n, struct kid *out)
{
	size_t k = 0;

	for (xmlNodePtr c = n->children; c != NULL && k < MAX_KIDS; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "UssUrl") == 0)
			continue;
		out[k].name = slot_name(c);
		out[k].node = c;
		out[k].order = slot_order((const char *)n->name, out[k].name);
		k++;
	}
	/* Stable insertion sort by slot order (all 0 outside ServerSyncUpdateData). */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && out[j - 1].order > out[j].order; j--) {
			struct kid t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return k;
}

/* Collapse runs of equal names: keeps the first of each run. */
static size_t runs_of(struct kid *v, size_t n)
{
	size_t r = 0;

	for (size_t i = 0; i < n; i++)
		if (r == 0 || strcmp(v[r - 1].name, v[i].name) != 0)
			v[r++] = v[i];
	return r;
}

static int shape_cmp(xmlNodePtr a, xmlNodePtr b, const char *path, char *why, size_t cap)
{
	struct kid *ka = calloc(MAX_KIDS, sizeof(*ka)), *kb = calloc(MAX_KIDS, sizeof(*kb));
	char sub[1024];
	size_t na, nb;
	int rc = 0;

	assert_non_null(ka);
	assert_non_null(kb);
	if (strcmp(slot_name(a), slot_name(b)) != 0) {
		snprintf(why, cap, "%s: element %s vs %s", path, a->name, b->name);
		rc = -1;
		goto done;
	}
	na = runs_of(ka, kids_of(a, ka));
	nb = runs_of(kb, kids_of(b, kb));
	/* An empty array on one side, items on the other: only the data differs. */
	if ((na == 0 && nb == 1) || (na == 1 && nb == 0))
		goto done;
	if (na != nb) {
		snprintf(why, cap, "%s/%s: %zu kinds of children vs %zu", path, slot_name(a), na, nb);
		rc = -1;
		goto done;
	}
	snprintf(sub, sizeof(sub), "%s/%s", path, slot_name(a));
	for (size_t i = 0; i < na && rc == 0; i++)
		rc = shape_cmp(ka[i].node, kb[i].node, sub, why, cap);
done:
	free(ka);
	free(kb);
	return rc;
}

int sfx_same_shape(const char *a, size_t alen, const char *b, size_t blen, char *why, size_t cap)
{
	struct err e = { 0 };
	xmlDocPtr da = protocol_xml_parse(a, alen, &e), db = protocol_xml_parse(b, blen, &e);
	xmlNodePtr pa = da ? body_payload(da) : NULL, pb = db ? body_payload(db) : NULL;
	int rc = -1;

	why[0] = '\0';
	if (pa == NULL || pb == NULL)
		snprintf(why, cap, "no body payload on the %s side", pa == NULL ? "first" : "second");
	else
		rc = shape_cmp(pa, pb, "", why, cap);
	xmlFreeDoc(da);
	xmlFreeDoc(db);
	return rc;
}

char *sfx_fmt(const char *fmt, ...)
{
	char *out;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	va_start(ap, fmt);
	vsnprintf(out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return out;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *sfx_ids(const struct server_resp *r)
{
	char *uids = sfx_texts(r, "UpdateID"), *revs = sfx_texts(r, "RevisionNumber");
	char *pu = uids, *pr = revs, **lines = NULL;
	size_t n = 0;
	struct wsus_buf b;

	while (*pu != '\0' && *pr != '\0') {
		char *eu = strchr(pu, '\n'), *er = strchr(pr, '\n');

		*eu = '\0';
		*er = '\0';
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		assert_non_null(lines);
		lines[n++] = sfx_fmt("%s:%s", pu, pr);
		pu = eu + 1;
		pr = er + 1;
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	wsus_buf_init(&b, 64u << 20);
	assert_int_equal(wsus_buf_appends(&b, ""), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(wsus_buf_printf(&b, "%s\n", lines[i]), 0);
		free(lines[i]);
	}
	free(lines);
	free(uids);
	free(revs);
	return wsus_buf_steal(&b, NULL);
}

char *sfx_replace_runs(const char *text, const char *repl)
{
	struct wsus_buf b;
	const char *p = text;

	wsus_buf_init(&b, 64u << 20);
	while (*p != '\0') {
		size_t run = 0;

		while (p[run] == 'A')
			run++;
		if (run >= 40) {
			p += run;
			while (*p == '=')
				p++;
			assert_int_equal(wsus_buf_appends(&b, repl), 0);
		} else if (run > 0) {
			assert_int_equal(wsus_buf_append(&b, p, run), 0);
			p += run;
		} else {
			assert_int_equal(wsus_buf_append(&b, p, 1), 0);
			p++;
		}
	}
	assert_int_equal(wsus_buf_appends(&b, ""), 0);
	return wsus_buf_steal(&b, NULL);
}
