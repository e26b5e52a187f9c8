/*
 * test_conformance_categories.c -- what a Windows Server 2025 WSUS answers a
 * Windows 11 Update Agent for the 9 real documents (fixtures/update-docs) with
 * nothing approved: every category is deployed implicitly (Evaluate, assigned)
 * so a client walks the category tree one level per call, and a category scan
 * of a product walks that product's ancestor chain. Each step asserts the
 * offered (UpdateID, RevisionNumber, Action, IsLeaf, IsAssigned) exactly; every
 * answer is validated against the MS-WUSP XSDs (tsrv_post).
 * Groups: 1 the category walk of a full scan, 2 the category scan of OOBE ZDP
 *         (dd78b8a1), 3 GetExtendedUpdateInfo serves the implicitly deployed
 *         categories.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "test_server_client_util.h"
#include "test_update_docs.h"


#define MICROSOFT "56309036-4c77-4dd9-951a-99ee9c246a94"   /* Company, r101 */
#define WINDOWS   "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d"   /* ProductFamily, r100 */
#define OOBE_ZDP  "dd78b8a1-0b20-45c1-add6-4da72e9364cf"   /* Product, r202 */

#define N_DOCS TEST_N_UPDATE_DOCS

static struct tcat cat;

static int group_setup(void **state)
{
	(void)state;
	log_set_verbosity(getenv("WSUS_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR);
	cat.u = calloc(N_DOCS, sizeof(*cat.u));
	assert_non_null(cat.u);
	for (size_t i = 0; i < N_DOCS; i++) {
		char path[1024], *xml = NULL;
		size_t len = 0;
		struct err e = { 0 };

		snprintf(path, sizeof(path), TEST_UPDATE_DOCS_DIR "%s", test_update_docs[i]);
		if (wsus_read_file(path, WSUS_MAX_UPDATE_XML, &xml, &len, &e) < 0 ||
		    protocol_update_parse(xml, len, &cat.u[cat.n], &e) < 0)
			fail_msg("%s: %s", test_update_docs[i], e.msg);
		cat.n++;
		free(xml);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tcat_free(&cat);
	return 0;
}

/*---- One SyncUpdates step ----*/

/* What one NewUpdates entry must be. */
struct want {
	const char *uid;
	int rev;
	const char *action;
	int is_leaf;
};

static void push(int64_t **v, size_t *n, int64_t id)
{
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	assert_non_null(*v);
	(*v)[(*n)++] = id;
}

static char *entry_text(xmlDocPtr d, int i, const char *field)
{
	char path[200];

	snprintf(path, sizeof(path), "(//c:NewUpdates/c:UpdateInfo)[%d]/%s", i, field);
	return tx_text(d, path);
}

/* Check one entry against w; returns its RevisionID. */
static int64_t check_entry(xmlDocPtr d, int i, const struct want *w)
{
	char uid[64], *v, *xml;
	int rev = -1;
	int64_t id;

	xml = entry_text(d, i, "c:Xml");
	assert_non_null(xml);
	/* the document's own spelling: these real ones write GUIDs upper case */
	assert_int_equal(sscanf(xml, "<UpdateIdentity UpdateID=\"%36[0-9a-fA-F-]\" RevisionNumber=\"%d\"", uid,
				&rev), 2);
	if (strcasecmp(uid, w->uid) != 0)
		fail_msg("offered %s, want %s", uid, w->uid);
	assert_int_equal(rev, w->rev);
	/* the Core fragment, as a WSUS sends it: Properties without children */
	assert_null(strstr(xml, "</Properties>"));
	free(xml);
	v = entry_text(d, i, "c:Deployment/c:Action");
	assert_string_equal(v, w->action);
	free(v);
	v = entry_text(d, i, "c:Deployment/c:IsAssigned");
	assert_string_equal(v, "true");
	free(v);
	v = entry_text(d, i, "c:IsLeaf");
	assert_string_equal(v, w->is_leaf ? "true" : "false");
	free(v);
	v = entry_text(d, i, "c:ID");
	id = strtoll(v, NULL, 10);
	free(v);
	return id;
}

/* One SyncUpdates with the client's lists (and extra parameters): NewUpdates
 * must be exactly want[0..n_want), not truncated. What it brings is filed as
 * a client does (non-leaf installed, the rest other); the cookie is replaced.
 * Returns the parsed answer for further checks. */
static xmlDocPtr step(struct tclient *c, const char *extra, const struct want *want, int n_want)
{
	char *body = tclient_sync_body(c, extra), *resp, *v;
	xmlDocPtr d;
	int status;

	resp = tsrv_call(c->t, &server_client_service, body, &status);
	free(body);
	if (status != 200)
		fail_msg("SyncUpdates: %.1000s", resp);
	d = tx_parse(resp);
	free(resp);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo"), n_want);
	for (int i = 0; i < n_want; i++) {
		int64_t id = check_entry(d, i + 1, &want[i]);

		if (want[i].is_leaf)
			push(&c->other, &c->n_other, id);
		else
			push(&c->installed, &c->n_installed, id);
	}
	v = tx_text(d, "//c:SyncUpdatesResult/c:Truncated");
	assert_string_equal(v, "false");
	free(v);
	v = tx_text(d, "//c:SyncUpdatesResult/c:NewCookie/c:EncryptedData");
	assert_non_null(v);
	free(c->cookie);
	c->cookie = v;
	return d;
}

static const struct want microsoft = { MICROSOFT, 101, "Evaluate", 0 };
static const struct want windows = { WINDOWS, 100, "Evaluate", 0 };
static const struct want oobe_zdp = { OOBE_ZDP, 202, "Evaluate", 1 };

/*---- 1. The category walk ----*/

/* Nothing approved, no installed ids: the roots (Microsoft); reported
 * installed, the next level (Windows), then the product (a leaf); then
 * nothing. Nothing of the software is offered: none of it is approved. */
static void test_category_walk_offers_one_level_per_call(void **state)
{
	struct tsrv t;
	struct tclient c;
	xmlDocPtr d;

	(void)state;
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "0f6e2a5c-1b7d-4c3e-9a8f-2d4b6c8e0a1f", "");
	tclient_handshake(&c, 1);
	xmlFreeDoc(step(&c, NULL, &microsoft, 1));
	xmlFreeDoc(step(&c, NULL, &windows, 1));
	xmlFreeDoc(step(&c, NULL, &oobe_zdp, 1));
	d = step(&c, NULL, NULL, 0);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs"), 0);
	assert_int_equal(tx_count(d, "//c:ChangedUpdates"), 0);
	xmlFreeDoc(d);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 2. The category scan ----*/

static const char FILTER_OOBE[] =
	"<FilterCategoryIds><CategoryIdentifier><Id>" OOBE_ZDP "</Id></CategoryIdentifier></FilterCategoryIds>"
	"<NeedTwoGroupOutOfScopeUpdates>true</NeedTwoGroupOutOfScopeUpdates>";

/* StartCategoryScan prefers the product; SyncUpdates filtered on it walks its
 * ancestor chain (Microsoft, then Windows) and ends with the product itself;
 * nothing the client holds is out of scope, in either list. */
static void test_category_scan_walks_the_ancestor_chain(void **state)
{
	struct tsrv t;
	struct tclient c;
	char *resp, *v;
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "7a1c3e5f-9b2d-4f6a-8c0e-1d3f5a7b9c2e", "");
	tclient_handshake(&c, 1);
	resp = tsrv_call(&t, &server_client_service,
			 "<StartCategoryScan xmlns=\"" PROTOCOL_NS_CLIENT "\"><requestedCategories>"
			 "<CategoryRelationship><IndexOfAndGroup>1</IndexOfAndGroup><CategoryId>" OOBE_ZDP
			 "</CategoryId></CategoryRelationship></requestedCategories></StartCategoryScan>", &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	v = tx_text(d, "//c:preferredCategoryIds/c:guid");
	assert_non_null(v);
	assert_string_equal(v, OOBE_ZDP);
	free(v);
	assert_int_equal(tx_count(d, "//c:requestedCategoryIdsInError/c:guid"), 0);
	xmlFreeDoc(d);
	free(resp);

	xmlFreeDoc(step(&c, FILTER_OOBE, &microsoft, 1));
	xmlFreeDoc(step(&c, FILTER_OOBE, &windows, 1));
	xmlFreeDoc(step(&c, FILTER_OOBE, &oobe_zdp, 1));
	d = step(&c, FILTER_OOBE, NULL, 0);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs/c:int"), 0);
	assert_int_equal(tx_count(d, "//c:DeployedOutOfScopeRevisionIds/c:int"), 0);
	xmlFreeDoc(d);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 3. GetExtendedUpdateInfo ----*/

/* The categories a client was offered are deployed to it: their Extended
 * fragments come back, none is out of scope; a software revision that is
 * not approved is. */
static void test_extended_info_of_implicitly_deployed_categories(void **state)
{
	struct tsrv t;
	struct tclient c;
	struct storage_revision_row row;
	struct err e = { 0 };
	char op[4096], *cookie, *resp, path[128];
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "3c5e7a9b-1d2f-4a6c-8e0b-2f4a6c8e0b1d", "");
	tclient_handshake(&c, 1);
	xmlFreeDoc(step(&c, NULL, &microsoft, 1));
	xmlFreeDoc(step(&c, NULL, &windows, 1));
	xmlFreeDoc(step(&c, NULL, &oobe_zdp, 1));
	assert_int_equal(storage_revision_get(t.st, "a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe", -1, &row, &e), 0);
	cookie = tclient_cookie_xml(&c);
	snprintf(op, sizeof(op),
		 "<GetExtendedUpdateInfo xmlns=\"" PROTOCOL_NS_CLIENT "\">%s<revisionIDs><int>%lld</int>"
		 "<int>%lld</int><int>%lld</int><int>%lld</int></revisionIDs><infoTypes>"
		 "<XmlUpdateFragmentType>Extended</XmlUpdateFragmentType></infoTypes>"
		 "<locales><string>en</string></locales></GetExtendedUpdateInfo>",
		 cookie, (long long)c.installed[0], (long long)c.installed[1], (long long)c.other[0],
		 (long long)row.revision_id);
	free(cookie);
	resp = tsrv_call(&t, &server_client_service, op, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:Updates/c:Update"), 3);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "//c:Updates/c:Update[c:ID=%lld]", (long long)c.installed[i]);
		assert_int_equal(tx_count(d, path), 1);
	}
	snprintf(path, sizeof(path), "//c:Updates/c:Update[c:ID=%lld]", (long long)c.other[0]);
	assert_int_equal(tx_count(d, path), 1);
	snprintf(path, sizeof(path), "//c:OutOfScopeRevisionIDs/c:int[.=%lld]", (long long)row.revision_id);
	assert_int_equal(tx_count(d, path), 1);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs/c:int"), 1);
	xmlFreeDoc(d);
	free(resp);
	tclient_free(&c);
	tsrv_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_category_walk_offers_one_level_per_call),
		cmocka_unit_test(test_category_scan_walks_the_ancestor_chain),
		cmocka_unit_test(test_extended_info_of_implicitly_deployed_categories),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
