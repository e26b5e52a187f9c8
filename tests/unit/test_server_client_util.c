/*
 * test_server_client_util.c -- helpers of the client-service tests (see
 * test_server_client_util.h): catalogue generation and import, a test server,
 * schema validation of every answer, XPath readers, a scripted client.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <zlib.h>

#include "test_server_client_util.h"
#include "test_xpress_decoder.h"

#define CLIENT_PATH "/ClientWebService/Client.asmx"
#define AUTH_PATH   "/SimpleAuthWebService/SimpleAuth.asmx"

/*---- Files ----*/

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *read_all(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	struct err e = { 0 };

	if (wsus_read_file(path, 64u * 1024 * 1024, &buf, &len, &e) < 0)
		fail_msg("read %s: %s", path, e.msg);
	return buf;
}

char *tx_example(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/spec/examples-wusp/%s", WSUS_SHARED_DIR, name);
	return read_all(path);
}

/*---- Catalogue ----*/

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void tcat_make(struct tcat *c, unsigned seed, int revisions, int drivers)
{
	char cmd[1024], **names = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "/tmp/wsus-client-cat-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(cmd, sizeof(cmd), "%s/wsus-gencatalog --seed %u --revisions %d --drivers %d --out %s/cat "
		 ">/dev/null", WSUS_BINARY_DIR, seed, revisions, drivers, c->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/cat", c->dir);
	d = opendir(cmd);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".xml") != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		assert_non_null(names);
		names[n] = strdup(de->d_name);
		assert_non_null(names[n]);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	c->u = calloc(n, sizeof(*c->u));
	assert_non_null(c->u);
	for (size_t i = 0; i < n; i++) {
		char path[600], *xml;
		struct err e = { 0 };

		snprintf(path, sizeof(path), "%s/cat/%s", c->dir, names[i]);
		xml = read_all(path);
		if (protocol_update_parse(xml, strlen(xml), &c->u[c->n], &e) < 0)
			fail_msg("parse %s: %s", names[i], e.msg);
		c->n++;
		free(xml);
		free(names[i]);
	}
	free(names);
}

void tcat_free(struct tcat *c)
{
	for (size_t i = 0; i < c->n; i++)
		wsus_update_free(c->u[i]);
	free(c->u);
	if (c->dir[0])
		rmtree(c->dir);
	memset(c, 0, sizeof(*c));
}

const struct wsus_update *tcat_latest(const struct tcat *c, const char *uid)
{
	const struct wsus_update *best = NULL;

	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->u[i]->update_id, uid) == 0 && (best == NULL || c->u[i]->revision > best->revision))
			best = c->u[i];
	return best;
}

/*---- Server ----*/

void tsrv_open(struct tsrv *t, const struct tcat *c)
{
	struct storage_origin origin = { .source = "test" };
	struct err e = { 0 };

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/wsus-client-srv-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	if (config_default(t->dir, &t->cfg, &e) < 0 || storage_open(t->dir, NULL, &t->st, &e) < 0)
		fail_msg("open: %s", e.msg);
	t->srv.cfg = t->cfg;
	assert_int_equal(storage_server_id(t->st, t->srv.server_id), 0);
	assert_int_equal(storage_secret(t->st, "cookie", t->srv.cookie_key, &e), 0);
	snprintf(t->srv.public_url, sizeof(t->srv.public_url), "https://wsus.example:8531");
	snprintf(t->srv.content_url, sizeof(t->srv.content_url), "http://wsus.example:8530");
	if (c == NULL)
		return;
	assert_int_equal(storage_begin(t->st, &e), 0);
	for (size_t i = 0; i < c->n; i++)
		if (storage_revision_put(t->st, c->u[i], &origin, NULL, NULL, &e) < 0)
			fail_msg("put: %s", e.msg);
	assert_int_equal(storage_commit(t->st, &e), 0);
	if (storage_leaf_refresh(t->st, &e) < 0)
		fail_msg("leaf refresh: %s", e.msg);
}

void tsrv_close(struct tsrv *t)
{
	server_scan_cache_free(&t->srv);
	storage_close(t->st);
	config_free(t->cfg);
	rmtree(t->dir);
	memset(t, 0, sizeof(*t));
}

void tsrv_approve(struct tsrv *t, const char *uid, const char *group, enum storage_action a,
		  const char *deadline)
{
	struct err e = { 0 };

	if (storage_deployment_set(t->st, uid, -1, group, a, deadline, &e) < 0)
		fail_msg("approve %s: %s", uid, e.msg);
}

/*---- Schema validation ----*/

static xmlSchemaPtr load_schema(const char *file)
{
	char path[512];
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr s;

	xmlExternalEntityLoader prev;

	/* protocol/ refuses every external load; the schema and the file it
	 * imports are local, so allow exactly that while parsing it. */
	protocol_xml_init();
	prev = xmlGetExternalEntityLoader();
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
	snprintf(path, sizeof(path), "%s/spec/wsdl/%s", WSUS_SHARED_DIR, file);
	pc = xmlSchemaNewParserCtxt(path);
	assert_non_null(pc);
	s = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	xmlSetExternalEntityLoader(prev);
	assert_non_null(s);
	return s;
}

static xmlNodePtr first_element(xmlNodePtr n)
{
	for (; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

/* The Body's first child copied into a document of its own (with the
 * namespaces it uses), validated as xmllint --schema would. */
static void validate_body(const char *text, const char *schema_file)
{
	static xmlSchemaPtr client, auth;
	xmlSchemaPtr schema;
	xmlDocPtr doc = tx_parse(text), one;
	xmlNodePtr body, child, copy;
	xmlSchemaValidCtxtPtr vc;
	int rc;

	if (client == NULL) {
		client = load_schema("ClientWebService.xsd");
		auth = load_schema("SimpleAuth.xsd");
	}
	schema = strcmp(schema_file, "SimpleAuth.xsd") == 0 ? auth : client;
	body = first_element(xmlDocGetRootElement(doc)->children);
	assert_non_null(body);
	child = first_element(body->children);
	assert_non_null(child);
	one = xmlNewDoc(BAD_CAST "1.0");
	copy = xmlDocCopyNode(child, one, 1);
	xmlDocSetRootElement(one, copy);
	xmlReconciliateNs(one, copy);
	vc = xmlSchemaNewValidCtxt(schema);
	rc = xmlSchemaValidateDoc(vc, one);
	xmlSchemaFreeValidCtxt(vc);
	if (rc != 0)
		fail_msg("answer does not validate against %s: %.2000s", schema_file, text);
	xmlFreeDoc(one);
	xmlFreeDoc(doc);
}

/* Undo the coding an answer was sent in (test_xpress_decoder.h, zlib). */
static void decode_answer(const char *coding, struct wsus_buf *body)
{
	uint8_t *plain = NULL;
	size_t n = 0;

	if (coding == NULL)
		return;
	if (strcmp(coding, "xpress") == 0) {
		assert_int_equal(txd_stream((const uint8_t *)body->data, body->len, &plain, &n), 0);
	} else {
		z_stream z;
		size_t cap = 64u * 1024 * 1024;

		assert_string_equal(coding, "gzip");
		plain = malloc(cap);
		assert_non_null(plain);
		memset(&z, 0, sizeof(z));
		assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
		z.next_in = (Bytef *)body->data;
		z.avail_in = (uInt)body->len;
		z.next_out = plain;
		z.avail_out = (uInt)cap;
		assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
		assert_int_equal(z.avail_in, 0);
		n = z.total_out;
		inflateEnd(&z);
	}
	body->len = 0;
	assert_int_equal(wsus_buf_append(body, plain, n), 0);
	free(plain);
}

char *tsrv_post(struct tsrv *t, const struct server_service *svc, const char *body, int *status)
{
	struct server_req req;
	struct server_resp resp;
	size_t len;
	char *out;

	memset(&req, 0, sizeof(req));
	req.srv = &t->srv;
	req.method = "POST";
	req.path = svc == &server_simpleauth_service ? AUTH_PATH : CLIENT_PATH;
	req.body = body;
	req.body_len = strlen(body);
	req.st = t->st;
	req.tls = 1;
	snprintf(req.peer, sizeof(req.peer), "192.0.2.10");
	memset(&resp, 0, sizeof(resp));
	req.memo_ok = t->memo;
	req.accept_encoding = t->memo ? t->coding : NULL;
	server_soap_dispatch(&req, svc, &resp);
	if (t->memo) {
		t->memo_hits += req.memo_hit;
		decode_answer(server_encode_answer(&req, &resp.status, &resp.body), &resp.body);
	}
	*status = resp.status;
	out = wsus_buf_steal(&resp.body, &len);
	assert_non_null(out);
	if (resp.status == 200)
		validate_body(out, svc == &server_simpleauth_service ? "SimpleAuth.xsd" : "ClientWebService.xsd");
	return out;
}

char *tsrv_call(struct tsrv *t, const struct server_service *svc, const char *op_xml, int *status)
{
	struct wsus_buf b;
	char *out;

	wsus_buf_init(&b, 64u * 1024 * 1024);
	assert_int_equal(wsus_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
					 "<soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11 "\""
					 " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
					 " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body>%s"
					 "</soap:Body></soap:Envelope>", op_xml), 0);
	out = tsrv_post(t, svc, b.data, status);
	wsus_buf_free(&b);
	return out;
}

/*---- XPath ----*/

xmlDocPtr tx_parse(const char *text)
{
	xmlDocPtr d = xmlReadMemory(text, (int)strlen(text), NULL, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);

	if (d == NULL)
		fail_msg("not XML: %.500s", text);
	return d;
}

static xmlXPathObjectPtr eval(xmlDocPtr d, const char *xpath)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(d);
	xmlXPathObjectPtr o;

	xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST PROTOCOL_NS_SOAP11);
	xmlXPathRegisterNs(ctx, BAD_CAST "c", BAD_CAST PROTOCOL_NS_CLIENT);
	xmlXPathRegisterNs(ctx, BAD_CAST "a", BAD_CAST PROTOCOL_NS_SIMPLEAUTH);
	o = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
	xmlXPathFreeContext(ctx);
	if (o == NULL)
		fail_msg("bad xpath %s", xpath);
	return o;
}

char *tx_text(xmlDocPtr d, const char *xpath)
{
	xmlXPathObjectPtr o = eval(d, xpath);
	char *out = NULL;

	if (o->nodesetval != NULL && o->nodesetval->nodeNr > 0) {
		xmlChar *v = xmlNodeGetContent(o->nodesetval->nodeTab[0]);

		out = strdup(v ? (const char *)v : "");
		xmlFree(v);
	}
	xmlXPathFreeObject(o);
	return out;
}

int tx_count(xmlDocPtr d, const char *xpath)
{
	xmlXPathObjectPtr o = eval(d, xpath);
	int n = o->nodesetval ? o->nodesetval->nodeNr : 0;

	xmlXPathFreeObject(o);
	return n;
}

char *tx_fault_code(const char *resp)
{
	xmlDocPtr d = tx_parse(resp);
	char *code = tx_text(d, "/s:Envelope/s:Body/s:Fault/detail/ErrorCode");

	xmlFreeDoc(d);
	return code;
}

char *tx_replace_text(const char *s, const char *tag, const char *value)
{
	char open[128], close[128];
	const char *a, *b;
	struct wsus_buf out;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = strstr(s, open);
	assert_non_null(a);
	b = strstr(a, close);
	assert_non_null(b);
	wsus_buf_init(&out, 64u * 1024 * 1024);
	assert_int_equal(wsus_buf_append(&out, s, (size_t)(a - s) + strlen(open)), 0);
	assert_int_equal(wsus_buf_appends(&out, value), 0);
	assert_int_equal(wsus_buf_appends(&out, b), 0);
	return wsus_buf_steal(&out, NULL);
}

/*---- The scripted client ----*/

void tclient_init(struct tclient *c, struct tsrv *t, const char *id, const char *group)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->group, sizeof(c->group), "%s", group ? group : "");
	snprintf(c->pv, sizeof(c->pv), "2.4");
}

void tclient_free(struct tclient *c)
{
	free(c->cookie);
	free(c->installed);
	free(c->other);
	free(c->offers);
	memset(c, 0, sizeof(*c));
}

char *tclient_cookie_xml(const struct tclient *c)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 1u << 20);
	assert_int_equal(wsus_buf_printf(&b, "<cookie><Expiration>2030-01-01T00:00:00Z</Expiration>"
					 "<EncryptedData>%s</EncryptedData></cookie>", c->cookie), 0);
	return wsus_buf_steal(&b, NULL);
}

static void set_cookie(struct tclient *c, xmlDocPtr d, const char *path)
{
	char *v = tx_text(d, path);

	assert_non_null(v);
	free(c->cookie);
	c->cookie = v;
}

char *tclient_register(struct tclient *c, int *status)
{
	char op[4096];

	snprintf(op, sizeof(op), "<RegisterComputer xmlns=\"" PROTOCOL_NS_CLIENT "\"><cookie>"
		 "<Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>%s</EncryptedData></cookie>"
		 "<computerInfo><DnsName>host.example.test</DnsName><OSMajorVersion>10</OSMajorVersion>"
		 "<OSMinorVersion>0</OSMinorVersion><OSBuildNumber>22631</OSBuildNumber>"
		 "<OSServicePackMajorNumber>0</OSServicePackMajorNumber>"
		 "<OSServicePackMinorNumber>0</OSServicePackMinorNumber><OSLocale>en-US</OSLocale>"
		 "<ComputerManufacturer>Contoso</ComputerManufacturer><ComputerModel>VM</ComputerModel>"
		 "<BiosVersion>1.0</BiosVersion><BiosName>BIOS</BiosName>"
		 "<BiosReleaseDate>2020-01-01T00:00:00</BiosReleaseDate>"
		 "<ProcessorArchitecture>AMD64</ProcessorArchitecture><SuiteMask>256</SuiteMask>"
		 "<OldProductType>1</OldProductType><NewProductType>48</NewProductType>"
		 "<SystemMetrics>0</SystemMetrics><ClientVersionMajorNumber>1023</ClientVersionMajorNumber>"
		 "<ClientVersionMinorNumber>0</ClientVersionMinorNumber>"
		 "<ClientVersionBuildNumber>22621</ClientVersionBuildNumber>"
		 "<ClientVersionQfeNumber>1</ClientVersionQfeNumber><OSDescription>Windows 11 Pro"
		 "</OSDescription></computerInfo></RegisterComputer>", c->cookie);
	return tsrv_call(c->t, &server_client_service, op, status);
}

void tclient_handshake(struct tclient *c, int do_register)
{
	char op[4096], *resp, *v;
	xmlDocPtr d;
	int status;

	resp = tsrv_call(c->t, &server_client_service,
			 "<GetConfig xmlns=\"" PROTOCOL_NS_CLIENT "\"><protocolVersion>1.8</protocolVersion>"
			 "</GetConfig>", &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	v = tx_text(d, "//c:GetConfigResult/c:LastChange");
	assert_non_null(v);
	snprintf(c->last_change, sizeof(c->last_change), "%s", v);
	free(v);
	xmlFreeDoc(d);
	free(resp);

	snprintf(op, sizeof(op), "<GetAuthorizationCookie xmlns=\"" PROTOCOL_NS_SIMPLEAUTH "\">"
		 "<clientId>%s</clientId><targetGroupName>%s</targetGroupName>"
		 "<dnsName>host-%.20s.example.test</dnsName></GetAuthorizationCookie>", c->id, c->group, c->id);
	resp = tsrv_call(c->t, &server_simpleauth_service, op, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	v = tx_text(d, "//a:GetAuthorizationCookieResult/a:CookieData");
	assert_non_null(v);
	xmlFreeDoc(d);
	free(resp);

	snprintf(op, sizeof(op), "<GetCookie xmlns=\"" PROTOCOL_NS_CLIENT "\"><authCookies>"
		 "<AuthorizationCookie><PlugInId>SimpleTargeting</PlugInId><CookieData>%s</CookieData>"
		 "</AuthorizationCookie></authCookies><oldCookie xsi:nil=\"true\" /><lastChange>%s</lastChange>"
		 "<currentTime>2025-01-01T00:00:00Z</currentTime><protocolVersion>%s</protocolVersion>"
		 "</GetCookie>", v, c->last_change, c->pv);
	free(v);
	resp = tsrv_call(c->t, &server_client_service, op, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	set_cookie(c, d, "//c:GetCookieResult/c:EncryptedData");
	xmlFreeDoc(d);
	free(resp);
	if (!do_register)
		return;
	resp = tclient_register(c, &status);
	assert_int_equal(status, 200);
	free(resp);
}

static void put_ids(struct wsus_buf *b, const char *name, const int64_t *v, size_t n)
{
	if (n == 0) {
		assert_int_equal(wsus_buf_printf(b, "<%s xsi:nil=\"1\" />", name), 0);
		return;
	}
	assert_int_equal(wsus_buf_printf(b, "<%s>", name), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(wsus_buf_printf(b, "<int>%lld</int>", (long long)v[i]), 0);
	assert_int_equal(wsus_buf_printf(b, "</%s>", name), 0);
}

char *tclient_sync_body(const struct tclient *c, const char *extra)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 64u * 1024 * 1024);
	assert_int_equal(wsus_buf_printf(&b, "<SyncUpdates xmlns=\"" PROTOCOL_NS_CLIENT "\"><cookie>"
					 "<Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>%s"
					 "</EncryptedData></cookie><parameters><ExpressQuery>false</ExpressQuery>",
					 c->cookie), 0);
	put_ids(&b, "InstalledNonLeafUpdateIDs", c->installed, c->n_installed);
	put_ids(&b, "OtherCachedUpdateIDs", c->other, c->n_other);
	assert_int_equal(wsus_buf_printf(&b, "<SkipSoftwareSync>false</SkipSoftwareSync>%s</parameters>"
					 "</SyncUpdates>", extra ? extra : ""), 0);
	return wsus_buf_steal(&b, NULL);
}

static void push_id(int64_t **v, size_t *n, int64_t id)
{
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	assert_non_null(*v);
	(*v)[(*n)++] = id;
}

/* UpdateID and RevisionNumber from the Core fragment's UpdateIdentity. */
static void core_identity(const char *xml, char uid[WSUS_GUID_LEN], int *rev)
{
	const char *p = strstr(xml, "UpdateID=\""), *q = strstr(xml, "RevisionNumber=\"");

	char text[WSUS_GUID_LEN];

	assert_non_null(p);
	assert_non_null(q);
	snprintf(text, sizeof(text), "%.36s", p + 10);
	assert_int_equal(wsus_guid_normalize(text, uid), 0);
	*rev = (int)strtol(q + 16, NULL, 10);
}

static void record_offers(struct tclient *c, xmlDocPtr d)
{
	int n = tx_count(d, "//c:NewUpdates/c:UpdateInfo");

	if (n > c->max_page)
		c->max_page = n;
	for (int i = 1; i <= n; i++) {
		char path[160], *v;
		struct toffer o;

		memset(&o, 0, sizeof(o));
		snprintf(path, sizeof(path), "(//c:NewUpdates/c:UpdateInfo)[%d]/c:ID", i);
		v = tx_text(d, path);
		o.id = strtoll(v, NULL, 10);
		free(v);
		snprintf(path, sizeof(path), "(//c:NewUpdates/c:UpdateInfo)[%d]/c:IsLeaf", i);
		v = tx_text(d, path);
		o.is_leaf = strcmp(v, "true") == 0;
		free(v);
		snprintf(path, sizeof(path), "(//c:NewUpdates/c:UpdateInfo)[%d]/c:Deployment/c:Action", i);
		v = tx_text(d, path);
		snprintf(o.action, sizeof(o.action), "%s", v);
		free(v);
		snprintf(path, sizeof(path), "(//c:NewUpdates/c:UpdateInfo)[%d]/c:Deployment/c:Deadline", i);
		v = tx_text(d, path);
		snprintf(o.deadline, sizeof(o.deadline), "%s", v ? v : "");
		free(v);
		snprintf(path, sizeof(path), "(//c:NewUpdates/c:UpdateInfo)[%d]/c:Xml", i);
		v = tx_text(d, path);
		assert_non_null(v);
		core_identity(v, o.uid, &o.rev);
		free(v);
		for (size_t k = 0; k < c->n_offers; k++)
			if (c->offers[k].id == o.id)
				fail_msg("revision %lld offered twice", (long long)o.id);
		c->offers = realloc(c->offers, (c->n_offers + 1) * sizeof(*c->offers));
		assert_non_null(c->offers);
		c->offers[c->n_offers++] = o;
		/* Every non-leaf evaluates as installed on this client. */
		if (o.is_leaf)
			push_id(&c->other, &c->n_other, o.id);
		else
			push_id(&c->installed, &c->n_installed, o.id);
	}
}

char *tclient_sync(struct tclient *c, int *status)
{
	char *body = tclient_sync_body(c, NULL), *resp;
	xmlDocPtr d;

	resp = tsrv_call(c->t, &server_client_service, body, status);
	free(body);
	if (*status != 200)
		return resp;
	d = tx_parse(resp);
	record_offers(c, d);
	set_cookie(c, d, "//c:SyncUpdatesResult/c:NewCookie/c:EncryptedData");
	xmlFreeDoc(d);
	c->pages++;
	return resp;
}

void tclient_scan(struct tclient *c)
{
	for (int round = 0; round < 500; round++) {
		int status, n, truncated;
		char *resp = tclient_sync(c, &status), *v;
		xmlDocPtr d;

		if (status != 200)
			fail_msg("SyncUpdates failed: %.1000s", resp);
		d = tx_parse(resp);
		n = tx_count(d, "//c:NewUpdates/c:UpdateInfo");
		v = tx_text(d, "//c:SyncUpdatesResult/c:Truncated");
		truncated = strcmp(v, "true") == 0;
		free(v);
		xmlFreeDoc(d);
		free(resp);
		/* A truncated page is a full one. */
		if (truncated)
			assert_int_equal(n, 30);
		if (n == 0)
			return;
	}
	fail_msg("the scan did not end");
}

const struct toffer *tclient_offer(const struct tclient *c, const char *uid)
{
	for (size_t i = 0; i < c->n_offers; i++)
		if (strcmp(c->offers[i].uid, uid) == 0)
			return &c->offers[i];
	return NULL;
}
