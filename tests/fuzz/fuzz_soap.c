/*
 * fuzz_soap.c -- libFuzzer target of the SOAP request path of every service,
 * through the server's one dispatch entry point (server_soap_dispatch), so it
 * follows whatever reads the requests behind it.
 *
 * Input: byte 0 picks the service (modulo the entries of server_services:
 * ServerSync, DssAuth, Reporting, Client, SimpleAuth); the rest is the POST
 * body. Before dispatch these placeholders in the body become live values, so
 * that mutations reach past the cookie checks into the operations:
 *   @CLIENT@      a client cookie (ClientWebService EncryptedData)
 *   @CLIENTAUTH@  a client authorization cookie (SimpleAuth CookieData)
 *   @DSS@         a downstream-server cookie (ServerSync EncryptedData)
 *   @DSSAUTH@     a downstream-server authorization cookie (DssAuth CookieData)
 *   @LASTCHANGE@  the client configuration's LastChange (GetConfig)
 *
 * The store lives on tmpfs: the fixture update documents (../shared/fixtures/
 * update-docs, or $WSUS_SHARED_DIR) imported and approved for All Computers,
 * one registered client and one authorised downstream server, both obtained by
 * the real handshake through the dispatcher. Requests write to it (events,
 * rollups, registrations), so every FUZZ_SOAP_RESET inputs the database is put
 * back to the state after set-up: memory stays bounded over long runs and
 * cookies stay valid (the key and identity are in the snapshot).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "server_int.h"

#ifndef WSUS_SHARED_DIR
#define WSUS_SHARED_DIR "../shared"
#endif

#define FUZZ_SOAP_RESET      20000           /* inputs between database restores */
#define FUZZ_SOAP_MAX_BODY   (4u << 20)      /* spliced body ceiling */
#define FUZZ_SOAP_MAX_DB     (64u << 20)     /* snapshot ceiling */
#define FUZZ_CLIENT_ID       "5c7f4f80-3896-4d10-8a38-469286a0febc"
#define FUZZ_DSS_GUID        "adb2fe48-0b2e-451e-8fc8-44b29845b0c6"

struct placeholder {
	const char *name;
	char *value;
};

static struct {
	char dir[300];
	struct wsus_config *cfg;
	struct server srv;
	struct storage *st;
	char *db_snapshot;
	size_t db_len;
	unsigned long runs;
	size_t n_services;
	struct placeholder ph[5];
} F;

/*---- set-up ----*/

static void store_open(void)
{
	struct err e = { 0 };

	FUZZ_CHECK(storage_open(F.dir, NULL, &F.st, &e) == 0, "storage_open: %s", e.msg);
}

static void import_fixtures(void)
{
	struct storage_origin origin = { .source = "fuzz" };
	const char *shared = getenv("WSUS_SHARED_DIR");
	char dirpath[512];
	struct dirent *de;
	struct err e = { 0 };
	DIR *d;
	int n = 0;

	snprintf(dirpath, sizeof(dirpath), "%s/fixtures/update-docs", shared ? shared : WSUS_SHARED_DIR);
	d = opendir(dirpath);
	FUZZ_CHECK(d != NULL, "cannot open %s", dirpath);
	FUZZ_CHECK(storage_begin(F.st, &e) == 0, "begin: %s", e.msg);
	while ((de = readdir(d)) != NULL) {
		char path[800], *xml = NULL;
		size_t len = 0, nl = strlen(de->d_name);
		struct wsus_update *u = NULL;

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".xml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		FUZZ_CHECK(wsus_read_file(path, 1u << 20, &xml, &len, &e) == 0, "%s", e.msg);
		FUZZ_CHECK(protocol_update_parse(xml, len, &u, &e) == 0, "%s: %s", path, e.msg);
		FUZZ_CHECK(storage_revision_put(F.st, u, &origin, NULL, NULL, &e) == 0, "put: %s", e.msg);
		wsus_update_free(u);
		free(xml);
		n++;
	}
	closedir(d);
	FUZZ_CHECK(n > 0, "no update documents in %s", dirpath);
	FUZZ_CHECK(storage_commit(F.st, &e) == 0, "commit: %s", e.msg);
	FUZZ_CHECK(storage_leaf_refresh(F.st, &e) == 0, "leaf refresh: %s", e.msg);
}

static int approve_one(const struct storage_revision_row *row, void *ctx)
{
	struct err e = { 0 };

	(void)ctx;
	if (row->is_latest)
		FUZZ_CHECK(storage_deployment_set(F.st, row->update_id, -1, STORAGE_GROUP_ALL,
						  STORAGE_ACTION_INSTALL, NULL, &e) == 0,
			   "approve %s: %s", row->update_id, e.msg);
	return 0;
}

static const struct server_service *service_at(unsigned i)
{
	return server_services[i % F.n_services];
}

/* One request through the dispatcher and the answer's encoding, as a worker
 * runs it (kept answers included, no coding asked so the answer stays
 * text); returns the response body (caller frees). */
static char *post(const struct server_service *svc, const char *body, size_t len, int *status)
{
	struct server_req req;
	struct server_resp resp;
	char *out;

	memset(&req, 0, sizeof(req));
	req.srv = &F.srv;
	req.method = "POST";
	req.path = svc->paths[0];
	req.body = body;
	req.body_len = len;
	req.st = F.st;
	req.tls = 1;
	req.memo_ok = 1;
	snprintf(req.peer, sizeof(req.peer), "192.0.2.10");
	memset(&resp, 0, sizeof(resp));
	server_soap_dispatch(&req, svc, &resp);
	(void)server_encode_answer(&req, &resp.status, &resp.body);
	*status = resp.status;
	out = wsus_buf_steal(&resp.body, NULL);
	return out;
}

/* The text between <tag> and </tag> in s (first occurrence), malloc'd. */
static char *between(const char *s, const char *tag)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = s ? strstr(s, open) : NULL;
	b = a ? strstr(a, close) : NULL;
	FUZZ_CHECK(a != NULL && b != NULL, "no <%s> in %.500s", tag, s ? s : "(null)");
	a += strlen(open);
	return strndup(a, (size_t)(b - a));
}

static char *call(const struct server_service *svc, const char *op_xml, const char *want)
{
	static const char head[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11
		"\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Body>";
	static const char tail[] = "</soap:Body></soap:Envelope>";
	struct wsus_buf b;
	char *resp, *v;
	int status;

	wsus_buf_init(&b, FUZZ_SOAP_MAX_BODY);
	FUZZ_CHECK(wsus_buf_printf(&b, "%s%s%s", head, op_xml, tail) == 0, "request too long");
	resp = post(svc, b.data, b.len, &status);
	wsus_buf_free(&b);
	FUZZ_CHECK(status == 200, "set-up call failed: %.1000s", resp ? resp : "");
	v = want ? between(resp, want) : NULL;
	free(resp);
	return v;
}

static void handshake(void)
{
	char op[4096];
	char *last_change, *client_auth, *client, *dss_auth, *dss;

	last_change = call(&server_client_service,
			   "<GetConfig xmlns=\"" PROTOCOL_NS_CLIENT "\"><protocolVersion>1.20</protocolVersion>"
			   "</GetConfig>", "LastChange");
	client_auth = call(&server_simpleauth_service,
			   "<GetAuthorizationCookie xmlns=\"" PROTOCOL_NS_SIMPLEAUTH "\"><clientId>"
			   FUZZ_CLIENT_ID "</clientId><targetGroupName/><dnsName>fuzz.lab.invalid</dnsName>"
			   "</GetAuthorizationCookie>", "CookieData");
	snprintf(op, sizeof(op),
		 "<GetCookie xmlns=\"" PROTOCOL_NS_CLIENT "\"><authCookies><AuthorizationCookie>"
		 "<PlugInId>SimpleTargeting</PlugInId><CookieData>%s</CookieData></AuthorizationCookie>"
		 "</authCookies><oldCookie/><lastChange>%s</lastChange><currentTime>%s</currentTime>"
		 "<protocolVersion>2.4</protocolVersion></GetCookie>", client_auth, last_change, last_change);
	client = call(&server_client_service, op, "EncryptedData");
	snprintf(op, sizeof(op),
		 "<RegisterComputer xmlns=\"" PROTOCOL_NS_CLIENT "\"><cookie><Expiration>2030-01-01T00:00:00Z"
		 "</Expiration><EncryptedData>%s</EncryptedData></cookie><computerInfo>"
		 "<DnsName>fuzz.lab.invalid</DnsName><OSMajorVersion>10</OSMajorVersion>"
		 "<OSMinorVersion>0</OSMinorVersion><OSBuildNumber>26100</OSBuildNumber>"
		 "<OSServicePackMajorNumber>0</OSServicePackMajorNumber><OSServicePackMinorNumber>0"
		 "</OSServicePackMinorNumber><OSLocale>en-US</OSLocale><ProcessorArchitecture>X64"
		 "</ProcessorArchitecture><ClientVersionMajorNumber>10</ClientVersionMajorNumber>"
		 "<ClientVersionMinorNumber>0</ClientVersionMinorNumber><ClientVersionBuildNumber>26100"
		 "</ClientVersionBuildNumber><ClientVersionQfeNumber>1</ClientVersionQfeNumber>"
		 "</computerInfo></RegisterComputer>", client);
	free(call(&server_client_service, op, NULL));
	dss_auth = call(&server_dssauth_service,
			"<GetAuthorizationCookie xmlns=\"" PROTOCOL_NS_DSSAUTH "\"><accountName>"
			"dss.lab.invalid</accountName><accountGuid>" FUZZ_DSS_GUID "</accountGuid>"
			"</GetAuthorizationCookie>", "CookieData");
	snprintf(op, sizeof(op),
		 "<GetCookie xmlns=\"" PROTOCOL_NS_SD "\"><authCookies><AuthorizationCookie>"
		 "<PlugInId>DssTargeting</PlugInId><CookieData>%s</CookieData></AuthorizationCookie>"
		 "</authCookies><protocolVersion>1.20</protocolVersion></GetCookie>", dss_auth);
	dss = call(&server_sss_service, op, "EncryptedData");

	F.ph[0] = (struct placeholder){ "@CLIENTAUTH@", client_auth };
	F.ph[1] = (struct placeholder){ "@CLIENT@", client };
	F.ph[2] = (struct placeholder){ "@DSSAUTH@", dss_auth };
	F.ph[3] = (struct placeholder){ "@DSS@", dss };
	F.ph[4] = (struct placeholder){ "@LASTCHANGE@", last_change };
}

/* Close the store and keep its database file as the state to return to. */
static void snapshot(void)
{
	char path[400];
	struct err e = { 0 };

	storage_close(F.st);
	F.st = NULL;
	snprintf(path, sizeof(path), "%s/wsus.db", F.dir);
	FUZZ_CHECK(wsus_read_file(path, FUZZ_SOAP_MAX_DB, &F.db_snapshot, &F.db_len, &e) == 0, "%s",
		   e.msg);
	store_open();
}

static void restore(void)
{
	char path[400];
	struct err e = { 0 };
	static const char *const sides[] = { "-wal", "-shm", "-journal" };

	storage_close(F.st);
	F.st = NULL;
	/* prepared scan states describe the catalogue being thrown away */
	server_scan_cache_free(&F.srv);
	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		snprintf(path, sizeof(path), "%s/wsus.db%s", F.dir, sides[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/wsus.db", F.dir);
	FUZZ_CHECK(wsus_write_file_atomic(path, F.db_snapshot, F.db_len, &e) == 0, "%s", e.msg);
	store_open();
}

static void teardown(void)
{
	server_scan_cache_free(&F.srv);
	storage_close(F.st);
	config_free(F.cfg);
	free(F.db_snapshot);
	for (size_t i = 0; i < sizeof(F.ph) / sizeof(F.ph[0]); i++)
		free(F.ph[i].value);
	memset(&F, 0, sizeof(F));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e = { 0 };

	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	protocol_xml_init();
	while (server_services[F.n_services] != NULL)
		F.n_services++;
	snprintf(F.dir, sizeof(F.dir), "%s", fuzz_scratch("soap"));
	FUZZ_CHECK(config_default(F.dir, &F.cfg, &e) == 0, "config: %s", e.msg);
	store_open();
	F.srv.cfg = F.cfg;
	FUZZ_CHECK(storage_server_id(F.st, F.srv.server_id) == 0, "server id");
	FUZZ_CHECK(storage_secret(F.st, "cookie", F.srv.cookie_key, &e) == 0, "secret: %s", e.msg);
	snprintf(F.srv.public_url, sizeof(F.srv.public_url), "https://wsus.lab.invalid:8531");
	snprintf(F.srv.content_url, sizeof(F.srv.content_url), "http://wsus.lab.invalid:8530");
	import_fixtures();
	FUZZ_CHECK(storage_revision_foreach(F.st, approve_one, NULL, &e) == 0, "approve: %s", e.msg);
	handshake();
	snapshot();
	atexit(teardown);
	return 0;
}

/*---- one input ----*/

/* body with every placeholder replaced; NULL when it would pass the ceiling. */
static char *splice(const char *in, size_t n, size_t *out_len)
{
	struct wsus_buf b;
	size_t i = 0, start = 0;

	wsus_buf_init(&b, FUZZ_SOAP_MAX_BODY);
	while (i < n) {
		const struct placeholder *hit = NULL;

		if (in[i] == '@')
			for (size_t k = 0; k < sizeof(F.ph) / sizeof(F.ph[0]); k++) {
				size_t pl = strlen(F.ph[k].name);

				if (n - i >= pl && memcmp(in + i, F.ph[k].name, pl) == 0) {
					hit = &F.ph[k];
					break;
				}
			}
		if (hit == NULL) {
			i++;
			continue;
		}
		if (wsus_buf_append(&b, in + start, i - start) < 0 || wsus_buf_appends(&b, hit->value) < 0)
			goto too_big;
		i += strlen(hit->name);
		start = i;
	}
	if (wsus_buf_append(&b, in + start, n - start) < 0 || wsus_buf_append(&b, "", 1) < 0)
		goto too_big;
	return wsus_buf_steal(&b, out_len);
too_big:
	wsus_buf_free(&b);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct server_service *svc;
	char *body, *resp;
	size_t len = 0;
	int status;

	if (size < 1)
		return 0;
	svc = service_at(data[0]);
	body = splice((const char *)data + 1, size - 1, &len);
	if (body == NULL)
		return 0;
	resp = post(svc, body, len - 1, &status);
	/* Every answer is a SOAP envelope: 200 with the operation's response or
	 * 500 with a fault; 403 only for a gated operation (none is gated here). */
	FUZZ_CHECK(resp != NULL && (status == 200 || status == 500), "status %d", status);
	FUZZ_CHECK(strstr(resp, "Envelope") != NULL, "not an envelope: %.200s", resp);
	free(resp);
	free(body);
	if (++F.runs % FUZZ_SOAP_RESET == 0)
		restore();
	return 0;
}
