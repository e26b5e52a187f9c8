/*
 * test_server_client.c -- the MS-WUSP client operations one at a time,
 * through server_soap_dispatch; every 200 answer is validated against
 * ClientWebService.xsd or SimpleAuth.xsd (tsrv_post).
 * Groups: 1 the section-4 example requests (cookies substituted) and
 *           real-client quirks get valid answers;
 *         2 GetConfig and GetAuthorizationCookie;
 *         3 cookie faults: GetCookie (authorization cookie, lastChange,
 *           oldCookie, protocolVersion) and the cookie of later calls
 *           (forged, expired, another server, configuration changed,
 *           not registered), RefreshCache after ServerChanged;
 *         4 GetExtendedUpdateInfo(2), GetFileLocations, StartCategoryScan.
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
#include <libxml/parser.h>

#include "test_server_client_util.h"

#define GROUP_ALL "All Computers"

static struct tcat cat;

static int group_setup(void **state)
{
	(void)state;
	log_set_verbosity(getenv("WSUS_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR);
	tcat_make(&cat, 3, 150, 3);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tcat_free(&cat);
	return 0;
}

/* status is read through a pointer: the call that fills it is an argument too. */
static void expect_fault(char *resp, const int *status, const char *code)
{
	char *got;

	assert_int_equal(*status, 500);
	got = tx_fault_code(resp);
	if (got == NULL || strcmp(got, code) != 0)
		fail_msg("expected %s, got: %.1500s", code, resp);
	free(got);
	free(resp);
}

static void expect_ok(char *resp, const int *status)
{
	if (*status != 200)
		fail_msg("expected an answer, got: %.1500s", resp);
	free(resp);
}

/* A software leaf of the catalogue with files, the n-th one. */
static const struct wsus_update *nth_leaf(size_t nth, int with_eula)
{
	for (size_t i = 0; i < cat.n; i++) {
		const struct wsus_update *u = cat.u[i];
		int eula = 0;

		for (size_t k = 0; k < u->n_files; k++)
			eula |= u->files[k].is_eula;
		if (u->type != WSUS_UT_SOFTWARE || u->n_bundled > 0 || u->n_files == 0 ||
		    tcat_latest(&cat, u->update_id) != u || (with_eula && !eula))
			continue;
		if (nth-- == 0)
			return u;
	}
	return NULL;
}

static const struct wsus_update *category_of_kind(const char *kind)
{
	for (size_t i = 0; i < cat.n; i++)
		if (cat.u[i]->category_type != NULL && strcmp(cat.u[i]->category_type, kind) == 0)
			return cat.u[i];
	return NULL;
}

static int64_t revision_id_of(struct tsrv *t, const char *uid)
{
	struct storage_revision_row row;

	assert_int_equal(storage_revision_get(t->st, uid, -1, &row, NULL), 0);
	return row.revision_id;
}

/*---- 1. Spec examples and quirks ----*/

static char *sub(char *s, const char *tag, const char *value)
{
	char *n = tx_replace_text(s, tag, value);

	free(s);
	return n;
}

static size_t count_ints(const char *body)
{
	size_t n = 0;

	for (const char *p = strstr(body, "<int>"); p != NULL; p = strstr(p + 5, "<int>"))
		n++;
	return n;
}

struct implicit_ids {
	int64_t ids[4096];
	size_t n;
};

static int collect_implicit(const struct storage_revision_row *row, void *ctx)
{
	struct implicit_ids *x = ctx;

	if (row->is_latest && !row->declined && x->n < 4096 &&
	    (row->type == WSUS_UT_CATEGORY || row->type == WSUS_UT_DETECTOID))
		x->ids[x->n++] = row->revision_id;
	return 0;
}

/* How many of the RevisionIDs in body are categories or detectoids. */
static int count_implicit(struct storage *st, const char *body)
{
	static struct implicit_ids x;
	int n = 0;

	x.n = 0;
	assert_int_equal(storage_revision_foreach(st, collect_implicit, &x, NULL), 0);
	for (const char *p = strstr(body, "<int>"); p != NULL; p = strstr(p + 5, "<int>")) {
		int64_t id = strtoll(p + 5, NULL, 10);

		for (size_t k = 0; k < x.n; k++)
			n += x.ids[k] == id;
	}
	return n;
}

static void test_spec_example_requests_get_valid_answers(void **state)
{
	static const char *const syncs[] = {
		"12-SyncUpdates-1st-request.xml", "13-SyncUpdates-2nd-request.xml",
		"14-SyncUpdates-3rd-request.xml", "15-SyncUpdates-4th-request.xml",
	};
	struct tsrv t;
	char *body, *resp, *auth, *last, *cookie;
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	body = tx_example("01-GetConfig-request.xml");
	resp = tsrv_post(&t, &server_client_service, body, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	last = tx_text(d, "//c:LastChange");
	xmlFreeDoc(d);
	free(resp);
	free(body);

	body = tx_example("03-GetAuthorizationCookie-request.xml");
	resp = tsrv_post(&t, &server_simpleauth_service, body, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	auth = tx_text(d, "//a:CookieData");
	xmlFreeDoc(d);
	free(resp);
	free(body);

	body = sub(sub(tx_example("05-GetCookie-request.xml"), "CookieData", auth), "lastChange", last);
	resp = tsrv_post(&t, &server_client_service, body, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	cookie = tx_text(d, "//c:GetCookieResult/c:EncryptedData");
	assert_non_null(cookie);
	xmlFreeDoc(d);
	free(resp);
	free(body);

	body = sub(tx_example("09-RegisterComputer-request.xml"), "EncryptedData", cookie);
	expect_ok(tsrv_post(&t, &server_client_service, body, &status), &status);
	free(body);
	body = sub(tx_example("10-RefreshCache-request.xml"), "EncryptedData", cookie);
	expect_ok(tsrv_post(&t, &server_client_service, body, &status), &status);
	free(body);
	body = sub(tx_example("11-GetFileLocations-request.xml"), "EncryptedData", cookie);
	resp = tsrv_post(&t, &server_client_service, body, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:FileLocations/c:FileLocation"), 0);  /* 20 zero bytes: unknown */
	assert_int_equal(tx_count(d, "//c:GetFileLocationsResult/c:NewCookie/c:EncryptedData"), 1);
	xmlFreeDoc(d);
	free(resp);
	free(body);
	for (size_t i = 0; i < sizeof(syncs) / sizeof(syncs[0]); i++) {
		int sent, oos;

		body = sub(tx_example(syncs[i]), "EncryptedData", cookie);
		resp = tsrv_post(&t, &server_client_service, body, &status);
		assert_int_equal(status, 200);
		d = tx_parse(resp);
		/* nothing is approved: whatever the client holds is out of scope but
		 * the categories and detectoids (implicitly deployed) whose
		 * prerequisites it has; they are all that is offered, with Evaluate */
		sent = i == 0 ? 0 : i == 1 ? 30 : 60;
		assert_int_equal(count_ints(body), sent);
		oos = tx_count(d, "//c:OutOfScopeRevisionIDs/c:int");
		/* a category whose prerequisites the client lacks is out of scope too */
		assert_true(oos >= sent - count_implicit(t.st, body) && oos <= sent);
		assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo"),
				 tx_count(d, "//c:NewUpdates/c:UpdateInfo[c:Deployment/c:Action='Evaluate']"));
		if (i == 0)
			assert_true(tx_count(d, "//c:NewUpdates/c:UpdateInfo") > 0);
		xmlFreeDoc(d);
		free(resp);
		free(body);
	}
	free(auth);
	free(last);
	free(cookie);
	tsrv_close(&t);
}

static void test_real_client_quirks_are_accepted(void **state)
{
	struct tsrv t;
	struct tclient c;
	char op[4096], *ck;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "AA7F4F80-3896-4D10-8A38-469286A0FEBC", "");
	snprintf(c.pv, sizeof(c.pv), "2.90");
	tclient_handshake(&c, 1);
	ck = tclient_cookie_xml(&c);
	/* soapenc:arrayType, xsi:nil on non-nillable elements, unknown extras */
	snprintf(op, sizeof(op),
		 "<SyncUpdates xmlns=\"" PROTOCOL_NS_CLIENT "\" xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\">"
		 "%s<parameters><ExpressQuery>false</ExpressQuery>"
		 "<InstalledNonLeafUpdateIDs soapenc:arrayType=\"xsd:int[1]\"><int>1</int></InstalledNonLeafUpdateIDs>"
		 "<OtherCachedUpdateIDs xsi:nil=\"1\" /><SystemSpec xsi:nil=\"true\" />"
		 "<CachedDriverIDs xsi:nil=\"1\" /><SkipSoftwareSync>false</SkipSoftwareSync>"
		 "<SomethingNew>1</SomethingNew><FilterCategoryIds xsi:nil=\"1\" />"
		 "<NeedTwoGroupOutOfScopeUpdates>false</NeedTwoGroupOutOfScopeUpdates>"
		 "<ComputerSpec xsi:nil=\"1\" /><FeatureScoreMatchingKey>amd64.10.0</FeatureScoreMatchingKey>"
		 "</parameters><callerAttributes>x</callerAttributes></SyncUpdates>", ck);
	expect_ok(tsrv_call(&t, &server_client_service, op, &status), &status);
	free(ck);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 2. GetConfig, GetAuthorizationCookie ----*/

static void test_get_config_is_complete_and_its_last_change_stable(void **state)
{
	static const char op[] = "<GetConfig xmlns=\"" PROTOCOL_NS_CLIENT "\"><protocolVersion>2.4</protocolVersion>"
				 "</GetConfig>";
	struct tsrv t;
	char *r1, *r2, *a, *b;
	xmlDocPtr d1, d2;
	int status;

	(void)state;
	tsrv_open(&t, NULL);
	r1 = tsrv_call(&t, &server_client_service, op, &status);
	assert_int_equal(status, 200);
	r2 = tsrv_call(&t, &server_client_service, op, &status);
	d1 = tx_parse(r1);
	d2 = tx_parse(r2);
	a = tx_text(d1, "//c:LastChange");
	b = tx_text(d2, "//c:LastChange");
	assert_string_equal(a, b);
	assert_non_null(strstr(a, ".000Z"));
	free(a);
	free(b);
	a = tx_text(d1, "//c:IsRegistrationRequired");
	assert_string_equal(a, "true");
	free(a);
	assert_int_equal(tx_count(d1, "//c:AuthInfo/c:AuthPlugInInfo"), 1);
	a = tx_text(d1, "//c:AuthPlugInInfo/c:PlugInID");
	assert_string_equal(a, "SimpleTargeting");
	free(a);
	a = tx_text(d1, "//c:AuthPlugInInfo/c:ServiceUrl");
	assert_string_equal(a, "SimpleAuthWebService/SimpleAuth.asmx");
	free(a);
	assert_int_equal(tx_count(d1, "//c:AuthPlugInInfo/c:Parameter"), 0);
	assert_int_equal(tx_count(d1, "//c:AllowedEventIds"), 0);
	a = tx_text(d1, "//c:ConfigurationProperty[c:Name='MaxExtendedUpdatesPerRequest']/c:Value");
	assert_string_equal(a, "50");
	free(a);
	a = tx_text(d1, "//c:ConfigurationProperty[c:Name='ProtocolVersion']/c:Value");
	assert_string_equal(a, "3.2");
	free(a);
	a = tx_text(d1, "//c:ConfigurationProperty[c:Name='IsInventoryRequired']/c:Value");
	assert_string_equal(a, "0");
	free(a);
	xmlFreeDoc(d1);
	xmlFreeDoc(d2);
	free(r1);
	free(r2);
	/* the stamp survives a restart */
	storage_close(t.st);
	assert_int_equal(storage_open(t.dir, NULL, &t.st, NULL), 0);
	r2 = tsrv_call(&t, &server_client_service, op, &status);
	d2 = tx_parse(r2);
	b = tx_text(d2, "//c:LastChange");
	d1 = tx_parse(r1 = tsrv_call(&t, &server_client_service, op, &status));
	a = tx_text(d1, "//c:LastChange");
	assert_string_equal(a, b);
	free(a);
	free(b);
	xmlFreeDoc(d1);
	xmlFreeDoc(d2);
	free(r1);
	free(r2);
	tsrv_close(&t);
}

static char *auth_call(struct tsrv *t, const char *id, const char *group, const char *dns, int *status)
{
	char op[2048];

	snprintf(op, sizeof(op), "<GetAuthorizationCookie xmlns=\"" PROTOCOL_NS_SIMPLEAUTH "\">"
		 "<clientId>%s</clientId><targetGroupName>%s</targetGroupName><dnsName>%s</dnsName>"
		 "</GetAuthorizationCookie>", id, group, dns);
	return tsrv_call(t, &server_simpleauth_service, op, status);
}

static void test_authorization_cookie_seals_client_and_groups(void **state)
{
	struct server_cookie_claims c;
	struct tsrv t;
	char *resp, *v;
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, NULL);
	resp = auth_call(&t, "5C7F4F80-3896-4d10-8a38-469286a0febc", " Ring1 ; ;Ring 2", "pc1.corp.example", &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	v = tx_text(d, "//a:PlugInId");
	assert_string_equal(v, "SimpleTargeting");
	free(v);
	v = tx_text(d, "//a:CookieData");
	assert_int_equal(server_cookie_open(t.srv.cookie_key, v, SERVER_COOKIE_CLIENT_AUTH, wsus_now_ms(), &c, NULL), 0);
	assert_string_equal(c.subject, "5c7f4f80-3896-4d10-8a38-469286a0febc");
	assert_string_equal(c.groups, "Ring1;Ring 2");
	assert_string_equal(c.server_id, t.srv.server_id);
	free(v);
	xmlFreeDoc(d);
	free(resp);
	/* what Windows servers answer for a bad clientId or dnsName */
	expect_fault(auth_call(&t, "not a client id!", "", "pc1.corp.example", &status), &status,
		     "InternalServerError");
	expect_fault(auth_call(&t, "5c7f4f80-3896-4d10-8a38-469286a0febc", "", "bad name..example", &status),
		     &status, "InternalServerError");
	tsrv_close(&t);
}

/*---- 3. Cookie faults ----*/

static char *get_cookie_call(struct tsrv *t, const char *auth_xml, const char *old, const char *last,
			     const char *pv, int *status)
{
	char op[8192];

	snprintf(op, sizeof(op), "<GetCookie xmlns=\"" PROTOCOL_NS_CLIENT "\"><authCookies>%s</authCookies>"
		 "%s<lastChange>%s</lastChange><currentTime>2025-01-01T00:00:00</currentTime>%s</GetCookie>",
		 auth_xml, old, last, pv);
	return tsrv_call(t, &server_client_service, op, status);
}

static void test_get_cookie_checks_authorization_last_change_and_old_cookie(void **state)
{
	struct tsrv t;
	struct tclient c;
	char auth_xml[2048], two[4096], last[64], old[2048], *resp, *v;
	xmlDocPtr d;
	int64_t ms;
	int status;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&c, &t, "99999999-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 0);
	resp = auth_call(&t, c.id, "", "pc.example", &status);
	d = tx_parse(resp);
	v = tx_text(d, "//a:CookieData");
	snprintf(auth_xml, sizeof(auth_xml), "<AuthorizationCookie><PlugInId>SimpleTargeting</PlugInId>"
		 "<CookieData>%s</CookieData></AuthorizationCookie>", v);
	free(v);
	xmlFreeDoc(d);
	free(resp);

	/* the same second with other digits is the same LastChange */
	assert_int_equal(protocol_datetime_parse(c.last_change, &ms), 0);
	snprintf(last, sizeof(last), "%.19s.0000001", c.last_change);
	expect_ok(get_cookie_call(&t, auth_xml, "", last, "<protocolVersion>1.8</protocolVersion>", &status),
		  &status);
	/* a second later is another configuration */
	protocol_datetime_format(ms + 1000, last);
	expect_fault(get_cookie_call(&t, auth_xml, "", last, "<protocolVersion>1.8</protocolVersion>", &status),
		     &status, "ConfigChanged");
	/* forged, missing or doubled authorization cookies */
	expect_fault(get_cookie_call(&t, "<AuthorizationCookie><PlugInId>SimpleTargeting</PlugInId>"
				     "<CookieData>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
				     "</CookieData></AuthorizationCookie>", "", c.last_change,
				     "<protocolVersion>1.8</protocolVersion>", &status),
		     &status, "InvalidAuthorizationCookie");
	expect_fault(get_cookie_call(&t, "", "", c.last_change, "<protocolVersion>1.8</protocolVersion>", &status),
		     &status, "InvalidAuthorizationCookie");
	snprintf(two, sizeof(two), "%s%s", auth_xml, auth_xml);
	expect_fault(get_cookie_call(&t, two, "", c.last_change, "<protocolVersion>1.8</protocolVersion>", &status),
		     &status, "InvalidAuthorizationCookie");
	/* the client cookie is no authorization cookie */
	snprintf(two, sizeof(two), "<AuthorizationCookie><PlugInId>SimpleTargeting</PlugInId><CookieData>%s"
		 "</CookieData></AuthorizationCookie>", c.cookie);
	expect_fault(get_cookie_call(&t, two, "", c.last_change, "<protocolVersion>1.8</protocolVersion>", &status),
		     &status, "InvalidAuthorizationCookie");
	/* an unreadable oldCookie; a readable one is renewed */
	expect_fault(get_cookie_call(&t, auth_xml, "<oldCookie><Expiration>2025-01-01T00:00:00Z</Expiration>"
				     "<EncryptedData>Zm9yZ2VkIGNvb2tpZQ==</EncryptedData></oldCookie>",
				     c.last_change, "<protocolVersion>1.8</protocolVersion>", &status),
		     &status, "InvalidCookie");
	snprintf(old, sizeof(old), "<oldCookie><Expiration>2025-01-01T00:00:00Z</Expiration><EncryptedData>%s"
		 "</EncryptedData></oldCookie>", c.cookie);
	expect_ok(get_cookie_call(&t, auth_xml, old, c.last_change, "<protocolVersion>1.8</protocolVersion>",
				  &status), &status);
	/* protocolVersion must be major.minor */
	expect_fault(get_cookie_call(&t, auth_xml, "", c.last_change, "", &status), &status, "InvalidParameters");
	expect_fault(get_cookie_call(&t, auth_xml, "", c.last_change, "<protocolVersion>v2</protocolVersion>",
				     &status), &status, "InvalidParameters");
	tclient_free(&c);
	tsrv_close(&t);
}

/* The client's cookie reopened, changed and sealed again with our key. */
static char *reseal(struct tsrv *t, const char *cookie, int64_t expires_delta, const char *server_id,
		    int64_t issued)
{
	struct server_cookie_claims c;
	char *out = NULL;

	assert_int_equal(server_cookie_open(t->srv.cookie_key, cookie, SERVER_COOKIE_CLIENT, wsus_now_ms(), &c, NULL), 0);
	c.expires_ms = wsus_now_ms() + expires_delta;
	if (issued != 0)
		c.issued_ms = issued;
	if (server_id != NULL)
		snprintf(c.server_id, sizeof(c.server_id), "%s", server_id);
	assert_int_equal(server_cookie_seal(t->srv.cookie_key, &c, &out, NULL), 0);
	return out;
}

static void sync_with(struct tclient *c, const char *cookie, const char *code)
{
	char *saved = c->cookie, *resp;
	int status;

	c->cookie = (char *)cookie;
	resp = tclient_sync(c, &status);
	c->cookie = saved;
	expect_fault(resp, &status, code);
}

static void test_sync_updates_cookie_faults(void **state)
{
	struct tsrv t;
	struct tclient c, u;
	char *other, *value = NULL, fp[128], moved[200];
	long long ms;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "abababab-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	expect_ok(tclient_sync(&c, &status), &status);

	sync_with(&c, "Zm9yZ2VkIGNvb2tpZQ==", "InvalidCookie");
	sync_with(&c, "", "InvalidCookie");
	other = reseal(&t, c.cookie, -1000, NULL, 0);
	sync_with(&c, other, "CookieExpired");
	free(other);
	other = reseal(&t, c.cookie, 3600000, "0badc0de-0000-4000-8000-000000000000", 0);
	sync_with(&c, other, "ServerChanged");
	free(other);

	/* not registered */
	tclient_init(&u, &t, "cdcdcdcd-2222-3333-4444-555555555555", "");
	tclient_handshake(&u, 0);
	sync_with(&u, u.cookie, "RegistrationRequired");

	/* a cookie older than the configuration */
	assert_int_equal(storage_state_get(t.st, "client.config_change", &value), 0);
	assert_int_equal(sscanf(value, "%lld %127s", &ms, fp), 2);
	free(value);
	other = reseal(&t, c.cookie, 3600000, NULL, ms - 1);
	sync_with(&c, other, "ConfigChanged");
	free(other);
	/* the configuration is stamped anew: the client's lastChange is stale */
	snprintf(moved, sizeof(moved), "%lld %s", ms - 5000, fp);
	assert_int_equal(storage_state_set(t.st, "client.config_change", moved, NULL), 0);
	{
		char *old_last = strdup(c.last_change);

		/* the documented recovery: GetConfig, GetAuthorizationCookie, GetCookie */
		tclient_handshake(&c, 0);
		assert_string_not_equal(old_last, c.last_change);
		free(old_last);
	}
	expect_ok(tclient_sync(&c, &status), &status);
	tclient_free(&u);
	tclient_free(&c);
	tsrv_close(&t);
}

static void test_refresh_cache_after_server_changed_maps_cached_revisions(void **state)
{
	struct tsrv t;
	struct tclient c;
	struct wsus_buf b;
	char *other, *resp, *ck, path[256], *v;
	xmlDocPtr d;
	size_t approved = 0;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	for (size_t i = 0; approved < 5; i++) {
		const struct wsus_update *u = nth_leaf(i, 0);

		assert_non_null(u);
		tsrv_approve(&t, u->update_id, GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);
		approved++;
	}
	tclient_init(&c, &t, "efefefef-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	assert_true(c.n_offers > 5);
	other = reseal(&t, c.cookie, 3600000, "0badc0de-0000-4000-8000-000000000000", 0);
	sync_with(&c, other, "ServerChanged");
	free(other);

	/* recovery: a new handshake, then RefreshCache with what the client holds */
	tclient_handshake(&c, 0);
	ck = tclient_cookie_xml(&c);
	wsus_buf_init(&b, 1u << 20);
	assert_int_equal(wsus_buf_printf(&b, "<RefreshCache xmlns=\"" PROTOCOL_NS_CLIENT "\">%s<globalIDs>", ck), 0);
	for (size_t i = 0; i < c.n_offers; i++)
		assert_int_equal(wsus_buf_printf(&b, "<UpdateIdentity><UpdateID>%s</UpdateID><RevisionNumber>%d"
						 "</RevisionNumber></UpdateIdentity>", c.offers[i].uid,
						 c.offers[i].rev), 0);
	/* another revision of a known update, and an unknown update */
	assert_int_equal(wsus_buf_printf(&b, "<UpdateIdentity><UpdateID>%s</UpdateID><RevisionNumber>%d"
					 "</RevisionNumber></UpdateIdentity><UpdateIdentity><UpdateID>"
					 "0a4c6c73-8887-4d7f-9cbe-d08fa8fa9d1e</UpdateID><RevisionNumber>50"
					 "</RevisionNumber></UpdateIdentity></globalIDs></RefreshCache>",
					 c.offers[0].uid, c.offers[0].rev + 7), 0);
	resp = tsrv_call(&t, &server_client_service, b.data, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:RefreshCacheResult/c:RefreshCacheResult"), (int)c.n_offers);
	for (size_t i = 0; i < c.n_offers; i++) {
		snprintf(path, sizeof(path), "//c:RefreshCacheResult[c:GlobalID/c:UpdateID='%s']/c:RevisionID",
			 c.offers[i].uid);
		v = tx_text(d, path);
		assert_non_null(v);
		assert_int_equal(strtoll(v, NULL, 10), c.offers[i].id);
		free(v);
		snprintf(path, sizeof(path), "//c:RefreshCacheResult[c:GlobalID/c:UpdateID='%s']/c:Deployment/c:Action",
			 c.offers[i].uid);
		v = tx_text(d, path);
		assert_string_equal(v, c.offers[i].action);
		free(v);
	}
	xmlFreeDoc(d);
	free(resp);
	wsus_buf_free(&b);
	free(ck);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 4. Extended information, file locations, category scans ----*/

static char *eui_call(struct tclient *c, const int64_t *ids, size_t n, const char *types, const char *locales,
		      int *status)
{
	struct wsus_buf b;
	char *ck = tclient_cookie_xml(c), *resp;

	wsus_buf_init(&b, 1u << 20);
	assert_int_equal(wsus_buf_printf(&b, "<GetExtendedUpdateInfo xmlns=\"" PROTOCOL_NS_CLIENT "\">%s"
					 "<revisionIDs>", ck), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(wsus_buf_printf(&b, "<int>%lld</int>", (long long)ids[i]), 0);
	assert_int_equal(wsus_buf_printf(&b, "</revisionIDs><infoTypes>%s</infoTypes>%s</GetExtendedUpdateInfo>",
					 types, locales), 0);
	resp = tsrv_call(c->t, &server_client_service, b.data, status);
	wsus_buf_free(&b);
	free(ck);
	return resp;
}

static void expected_url(const struct tsrv *t, const struct wsus_file *f, char *out, size_t cap)
{
	char hex[41], ext[16] = "";
	const char *dot = strrchr(f->file_name, '.');

	wsus_hex_encode(f->sha1, WSUS_SHA1_LEN, hex);
	for (char *p = hex; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	if (dot != NULL)
		snprintf(ext, sizeof(ext), "%s", dot);
	snprintf(out, cap, "%s/Content/%s/%s%s", t->srv.content_url, hex + 38, hex, ext);
}

static void test_extended_update_info_for_the_clients_closure(void **state)
{
	static const char types[] = "<XmlUpdateFragmentType>Extended</XmlUpdateFragmentType>"
				    "<XmlUpdateFragmentType>LocalizedProperties</XmlUpdateFragmentType>";
	const struct wsus_update *leaf = nth_leaf(0, 0), *other = nth_leaf(1, 0), *product = NULL;
	struct tsrv t;
	struct tclient c;
	int64_t ids[60];
	char url[256], path[300], b64[32], *resp, *v;
	xmlDocPtr d;
	int status;

	(void)state;
	assert_non_null(leaf);
	/* the leaf's product: a category, deployed to the client only as a prerequisite */
	for (size_t k = 0; k < leaf->n_prereqs && product == NULL; k++) {
		const struct wsus_update *p = tcat_latest(&cat, leaf->prereqs[k].update_id);

		if (p->category_type != NULL && strcmp(p->category_type, "Product") == 0)
			product = p;
	}
	assert_non_null(product);
	tsrv_open(&t, &cat);
	tsrv_approve(&t, leaf->update_id, GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);
	tclient_init(&c, &t, "12121212-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	ids[0] = revision_id_of(&t, leaf->update_id);
	ids[1] = revision_id_of(&t, other->update_id);   /* not deployed to the client */
	ids[2] = revision_id_of(&t, product->update_id);  /* a category: only in the closure */
	resp = eui_call(&c, ids, 3, types, "<locales><string>de-DE</string></locales>", &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	snprintf(path, sizeof(path), "//c:Updates/c:Update[c:ID=%lld]", (long long)ids[0]);
	/* Extended, then German and English */
	assert_int_equal(tx_count(d, path), 3);
	snprintf(path, sizeof(path), "//c:Updates/c:Update[c:ID=%lld][starts-with(c:Xml,'<ExtendedProperties')]",
		 (long long)ids[0]);
	assert_int_equal(tx_count(d, path), 1);
	snprintf(path, sizeof(path), "//c:Updates/c:Update[c:ID=%lld][contains(c:Xml,'<Language>de</Language>')]",
		 (long long)ids[0]);
	assert_int_equal(tx_count(d, path), 1);
	snprintf(path, sizeof(path), "//c:Updates/c:Update[c:ID=%lld][contains(c:Xml,'<Language>en</Language>')]",
		 (long long)ids[0]);
	assert_int_equal(tx_count(d, path), 1);
	snprintf(path, sizeof(path), "//c:Updates/c:Update[c:ID=%lld]", (long long)ids[2]);
	assert_true(tx_count(d, path) >= 2);
	/* the leaf's files, at our content URL */
	assert_int_equal(tx_count(d, "//c:FileLocations/c:FileLocation"), (int)leaf->n_files);
	wsus_b64_encode(leaf->files[0].sha1, WSUS_SHA1_LEN, b64);
	snprintf(path, sizeof(path), "//c:FileLocation[c:FileDigest='%s']/c:Url", b64);
	v = tx_text(d, path);
	expected_url(&t, &leaf->files[0], url, sizeof(url));
	assert_non_null(v);
	assert_string_equal(v, url);
	free(v);
	/* only what is not deployed is out of scope */
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs/c:int"), 1);
	v = tx_text(d, "//c:OutOfScopeRevisionIDs/c:int");
	assert_int_equal(strtoll(v, NULL, 10), ids[1]);
	free(v);
	xmlFreeDoc(d);
	free(resp);

	/* bounds and required parameters */
	for (int i = 0; i < 51; i++)
		ids[i] = ids[0];
	expect_fault(eui_call(&c, ids, 51, types, "<locales><string>en</string></locales>", &status), &status,
		     "InvalidParameters");
	expect_ok(eui_call(&c, ids, 50, types, "<locales><string>en</string></locales>", &status), &status);
	expect_fault(eui_call(&c, ids, 1, types, "", &status), &status, "InvalidParameters");
	expect_ok(eui_call(&c, ids, 1, "<XmlUpdateFragmentType>Extended</XmlUpdateFragmentType>", "", &status),
		  &status);
	tclient_free(&c);
	tsrv_close(&t);
}

static void test_extended_update_info2_names_revisions_by_identity(void **state)
{
	const struct wsus_update *leaf = nth_leaf(2, 0), *other = nth_leaf(3, 0);
	struct tsrv t;
	struct tclient c;
	char op[4096], *ck, *resp, *v;
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	tsrv_approve(&t, leaf->update_id, GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);
	tclient_init(&c, &t, "13131313-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	ck = tclient_cookie_xml(&c);
	snprintf(op, sizeof(op), "<GetExtendedUpdateInfo2 xmlns=\"" PROTOCOL_NS_CLIENT "\">%s<updateIDs>"
		 "<UpdateIdentity><UpdateID>%s</UpdateID><RevisionNumber>%d</RevisionNumber></UpdateIdentity>"
		 "<UpdateIdentity><UpdateID>%s</UpdateID><RevisionNumber>%d</RevisionNumber></UpdateIdentity>"
		 "</updateIDs><infoTypes><XmlUpdateFragmentType>Extended</XmlUpdateFragmentType>"
		 "<XmlUpdateFragmentType>FileUrl</XmlUpdateFragmentType></infoTypes><locales><string>en</string>"
		 "</locales></GetExtendedUpdateInfo2>", ck, leaf->update_id, leaf->revision, other->update_id,
		 other->revision);
	resp = tsrv_call(&t, &server_client_service, op, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:Updates/c:Update"), 1);
	v = tx_text(d, "//c:Updates/c:Update/c:ID");
	assert_int_equal(strtoll(v, NULL, 10), revision_id_of(&t, leaf->update_id));
	free(v);
	assert_int_equal(tx_count(d, "//c:FileLocation"), (int)leaf->n_files);
	assert_int_equal(tx_count(d, "//c:FileLocation/c:FileDigestAlgorithm[.='SHA1']"), (int)leaf->n_files);
	assert_int_equal(tx_count(d, "//c:UpdateEncryptionDetail[c:HasEncryptedFiles='false']"), 1);
	xmlFreeDoc(d);
	free(resp);
	free(ck);
	tclient_free(&c);
	tsrv_close(&t);
}

static char *file_locations_call(struct tclient *c, const char *digests, int *status)
{
	char op[4096], *ck = tclient_cookie_xml(c), *resp;

	snprintf(op, sizeof(op), "<GetFileLocations xmlns=\"" PROTOCOL_NS_CLIENT "\">%s<fileDigests>%s"
		 "</fileDigests></GetFileLocations>", ck, digests);
	resp = tsrv_call(c->t, &server_client_service, op, status);
	free(ck);
	return resp;
}

static void test_file_locations_include_eula_files(void **state)
{
	const struct wsus_update *u = nth_leaf(0, 1);
	const struct wsus_file *eula = NULL;
	struct tsrv t;
	struct tclient c;
	char digests[512], b64[32], url[256], *resp, *v;
	xmlDocPtr d;
	int status;

	(void)state;
	assert_non_null(u);
	for (size_t k = 0; k < u->n_files; k++)
		if (u->files[k].is_eula)
			eula = &u->files[k];
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "14141414-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	wsus_b64_encode(eula->sha1, WSUS_SHA1_LEN, b64);
	snprintf(digests, sizeof(digests), "<base64Binary>%s</base64Binary>"
		 "<base64Binary>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</base64Binary>", b64);
	resp = file_locations_call(&c, digests, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:FileLocation"), 1);
	v = tx_text(d, "//c:FileLocation/c:Url");
	expected_url(&t, eula, url, sizeof(url));
	assert_string_equal(v, url);
	free(v);
	/* the renewed cookie opens and belongs to the same client */
	v = tx_text(d, "//c:NewCookie/c:EncryptedData");
	{
		struct server_cookie_claims cl;

		assert_int_equal(server_cookie_open(t.srv.cookie_key, v, SERVER_COOKIE_CLIENT, wsus_now_ms(), &cl, NULL), 0);
		assert_string_equal(cl.subject, c.id);
	}
	free(v);
	xmlFreeDoc(d);
	free(resp);
	/* a digest that is not 20 bytes */
	expect_fault(file_locations_call(&c, "<base64Binary>AAAA</base64Binary>", &status), &status,
		     "InvalidParameters");
	tclient_free(&c);
	tsrv_close(&t);
}

static char *category_scan(struct tsrv *t, const char *rels, int *status)
{
	char op[4096];

	snprintf(op, sizeof(op), "<StartCategoryScan xmlns=\"" PROTOCOL_NS_CLIENT "\"><requestedCategories>%s"
		 "</requestedCategories></StartCategoryScan>", rels);
	return tsrv_call(t, &server_client_service, op, status);
}

static void test_start_category_scan_prefers_products(void **state)
{
	const struct wsus_update *product = category_of_kind("Product");
	const struct wsus_update *cls = category_of_kind("UpdateClassification");
	const struct wsus_update *family = category_of_kind("ProductFamily");
	struct tsrv t;
	char rels[2048], *resp, *v;
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	/* (product AND classification) OR unknown */
	snprintf(rels, sizeof(rels),
		 "<CategoryRelationship><IndexOfAndGroup>1</IndexOfAndGroup><CategoryId>%s</CategoryId></CategoryRelationship>"
		 "<CategoryRelationship><IndexOfAndGroup>1</IndexOfAndGroup><CategoryId>%s</CategoryId></CategoryRelationship>"
		 "<CategoryRelationship><IndexOfAndGroup>2</IndexOfAndGroup>"
		 "<CategoryId>0a4c6c73-8887-4d7f-9cbe-d08fa8fa9d1e</CategoryId></CategoryRelationship>",
		 product->update_id, cls->update_id);
	resp = category_scan(&t, rels, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:preferredCategoryIds/c:guid"), 1);
	v = tx_text(d, "//c:preferredCategoryIds/c:guid");
	assert_string_equal(v, product->update_id);
	free(v);
	assert_int_equal(tx_count(d, "//c:requestedCategoryIdsInError/c:guid"), 1);
	v = tx_text(d, "//c:requestedCategoryIdsInError/c:guid");
	assert_string_equal(v, "0a4c6c73-8887-4d7f-9cbe-d08fa8fa9d1e");
	free(v);
	xmlFreeDoc(d);
	free(resp);
	/* a product family is no shape the rules accept: no preference at all */
	snprintf(rels, sizeof(rels),
		 "<CategoryRelationship><IndexOfAndGroup>1</IndexOfAndGroup><CategoryId>%s</CategoryId></CategoryRelationship>"
		 "<CategoryRelationship><IndexOfAndGroup>2</IndexOfAndGroup><CategoryId>%s</CategoryId></CategoryRelationship>",
		 product->update_id, family->update_id);
	resp = category_scan(&t, rels, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:preferredCategoryIds/c:guid"), 0);
	xmlFreeDoc(d);
	free(resp);
	expect_fault(tsrv_call(&t, &server_client_service, "<StartCategoryScan xmlns=\"" PROTOCOL_NS_CLIENT "\" />",
			       &status), &status, "InvalidParameters");
	tsrv_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example_requests_get_valid_answers),
		cmocka_unit_test(test_real_client_quirks_are_accepted),
		cmocka_unit_test(test_get_config_is_complete_and_its_last_change_stable),
		cmocka_unit_test(test_authorization_cookie_seals_client_and_groups),
		cmocka_unit_test(test_get_cookie_checks_authorization_last_change_and_old_cookie),
		cmocka_unit_test(test_sync_updates_cookie_faults),
		cmocka_unit_test(test_refresh_cache_after_server_changed_maps_cached_revisions),
		cmocka_unit_test(test_extended_update_info_for_the_clients_closure),
		cmocka_unit_test(test_extended_update_info2_names_revisions_by_identity),
		cmocka_unit_test(test_file_locations_include_eula_files),
		cmocka_unit_test(test_start_category_scan_prefers_products),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
