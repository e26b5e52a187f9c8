/*
 * test_server_client_sync.c -- SyncUpdates against a generated catalogue,
 * driven by a scripted client that reports every non-leaf revision installed.
 * Every answer is validated against ClientWebService.xsd (tsrv_post).
 * Groups: 1 the full sequence offers exactly the approvals of the client's
 *           groups plus their closure and every category and detectoid
 *           (implicitly deployed), computed here from the documents
 *           (actions, IsLeaf, one revision per update, pages of 30);
 *         2 targeting: client-side group names, unknown names, server-side;
 *         3 bounds: more than 400 installed non-leaf ids;
 *         4 changes after a scan: ChangedUpdates (deployment, IsLeaf),
 *           NewUpdates for a new approval, OutOfScope after a decline;
 *           a category scan (FilterCategoryIds, the split OutOfScope lists);
 *         5 drivers: the best-ranked driver per device, installed drivers,
 *           DriverSyncNotNeeded; SyncPrinterCatalog;
 *         6 implicit deployments: nothing approved offers every category and
 *           detectoid (Evaluate, assigned), roots first; explicit ones win.
 */
#include <errno.h>
#include <limits.h>
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

#define GROUP_ALL "All Computers"

static struct tcat cat;

static int group_setup(void **state)
{
	(void)state;
	log_set_verbosity(getenv("WSUS_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR);
	tcat_make(&cat, 7, 300, 9);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tcat_free(&cat);
	return 0;
}

static int is_leaf_doc(const struct wsus_update *u)
{
	return u->type == WSUS_UT_SOFTWARE && u->n_bundled == 0 && u->n_files > 0;
}

/* IsLeaf from the documents: nobody names the update as a prerequisite. */
static int named_as_prereq(const char *uid)
{
	for (size_t i = 0; i < cat.n; i++)
		for (size_t k = 0; k < cat.u[i]->n_prereqs; k++)
			if (strcmp(cat.u[i]->prereqs[k].update_id, uid) == 0)
				return 1;
	return 0;
}

/*---- The expected closure, from the documents ----*/

struct approval {
	const char *uid;
	const char *group;
};

struct expect {
	char uids[2048][WSUS_GUID_LEN];
	size_t n;
};

static int expect_has(const struct expect *x, const char *uid)
{
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->uids[i], uid) == 0)
			return 1;
	return 0;
}

static void expect_add(struct expect *x, const char *uid)
{
	const struct wsus_update *u;

	if (expect_has(x, uid))
		return;
	u = tcat_latest(&cat, uid);
	assert_non_null(u);
	assert_true(x->n < sizeof(x->uids) / sizeof(x->uids[0]));
	snprintf(x->uids[x->n++], WSUS_GUID_LEN, "%s", uid);
	for (size_t k = 0; k < u->n_prereqs; k++)
		expect_add(x, u->prereqs[k].update_id);
	for (size_t k = 0; k < u->n_bundled; k++)
		expect_add(x, u->bundled[k].update_id);
}

static int in_groups(const char *group, const char *const *groups)
{
	for (; *groups != NULL; groups++)
		if (strcmp(group, *groups) == 0)
			return 1;
	return 0;
}

static void expect_closure(struct expect *x, const struct approval *a, size_t n, const char *const *groups)
{
	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < n; i++)
		if (in_groups(a[i].group, groups))
			expect_add(x, a[i].uid);
}

/* The action a client should see for uid, given the approvals it gets. */
static const char *expected_action(const struct approval *a, size_t n, const char *const *groups,
				   const char *uid)
{
	for (size_t i = 0; i < n; i++)
		if (in_groups(a[i].group, groups) && strcmp(a[i].uid, uid) == 0)
			return "Install";
	for (size_t i = 0; i < n; i++) {
		const struct wsus_update *b;

		if (!in_groups(a[i].group, groups))
			continue;
		b = tcat_latest(&cat, a[i].uid);
		for (size_t k = 0; k < b->n_bundled; k++)
			if (strcmp(b->bundled[k].update_id, uid) == 0)
				return "Bundle";
	}
	return "Evaluate";
}

/* Approvals: every third leaf and every second bundle to All Computers, a
 * few other leaves to Ring1 only. */
static size_t plan_approvals(struct approval *a, size_t max)
{
	size_t n = 0, leaves = 0, bundles = 0;

	for (size_t i = 0; i < cat.n && n < max; i++) {
		const struct wsus_update *u = cat.u[i];

		if (tcat_latest(&cat, u->update_id) != u || u->type != WSUS_UT_SOFTWARE)
			continue;
		if (u->n_bundled > 0) {
			if (bundles++ % 2 == 0)
				a[n++] = (struct approval){ u->update_id, GROUP_ALL };
		} else if (is_leaf_doc(u) && !named_as_prereq(u->update_id)) {
			if (leaves % 3 == 0)
				a[n++] = (struct approval){ u->update_id, GROUP_ALL };
			else if (leaves % 11 == 1)
				a[n++] = (struct approval){ u->update_id, "Ring1" };
			leaves++;
		}
	}
	return n;
}

static void approve_all(struct tsrv *t, const struct approval *a, size_t n)
{
	struct err e = { 0 };

	if (storage_group_add(t->st, "Ring1", NULL, &e) < 0 && e.code != -EEXIST)
		fail_msg("group: %s", e.msg);
	for (size_t i = 0; i < n; i++)
		tsrv_approve(t, a[i].uid, a[i].group, STORAGE_ACTION_INSTALL, NULL);
}

static void check_offers(const struct tclient *c, const struct approval *a, size_t n,
			 const char *const *groups)
{
	static struct expect x;
	size_t software = 0;

	expect_closure(&x, a, n, groups);
	/* every category and detectoid is deployed implicitly (Evaluate) */
	for (size_t i = 0; i < cat.n; i++)
		if ((cat.u[i]->type == WSUS_UT_CATEGORY || cat.u[i]->type == WSUS_UT_DETECTOID) &&
		    tcat_latest(&cat, cat.u[i]->update_id) == cat.u[i])
			expect_add(&x, cat.u[i]->update_id);
	for (size_t i = 0; i < x.n; i++) {
		const struct wsus_update *u = tcat_latest(&cat, x.uids[i]);
		const struct toffer *o = tclient_offer(c, x.uids[i]);

		if (u->type == WSUS_UT_DRIVER) {
			assert_null(o);
			continue;
		}
		software++;
		if (o == NULL)
			fail_msg("update %s (%s) was not offered", x.uids[i], wsus_update_type_name(u->type));
		/* one revision per update: the latest */
		assert_int_equal(o->rev, u->revision);
		assert_int_equal(o->is_leaf, !named_as_prereq(x.uids[i]));
		assert_string_equal(o->action, expected_action(a, n, groups, x.uids[i]));
	}
	for (size_t i = 0; i < c->n_offers; i++)
		if (!expect_has(&x, c->offers[i].uid))
			fail_msg("update %s was offered but is not deployed to the client", c->offers[i].uid);
	assert_int_equal(c->n_offers, software);
}

/*---- 1. The full sequence ----*/

static void test_scan_offers_exactly_the_closure_of_the_groups_approvals(void **state)
{
	static struct approval a[512];
	static const char *const ring1[] = { GROUP_ALL, "Ring1", NULL };
	static const char *const plain[] = { GROUP_ALL, NULL };
	struct tsrv t;
	struct tclient c1, c2;
	size_t n;

	(void)state;
	tsrv_open(&t, &cat);
	n = plan_approvals(a, 512);
	approve_all(&t, a, n);

	tclient_init(&c1, &t, "5c7f4f80-3896-4d10-8a38-469286a0febc", "Ring1");
	tclient_handshake(&c1, 1);
	tclient_scan(&c1);
	check_offers(&c1, a, n, ring1);
	/* several pages, none larger than 30 */
	assert_true(c1.pages >= 4);
	assert_int_equal(c1.max_page, 30);

	tclient_init(&c2, &t, "0a4c6c73-8887-4d7f-9cbe-d08fa8fa9d1e", "");
	tclient_handshake(&c2, 1);
	tclient_scan(&c2);
	check_offers(&c2, a, n, plain);
	assert_true(c2.n_offers < c1.n_offers);
	tclient_free(&c1);
	tclient_free(&c2);
	tsrv_close(&t);
}

/*---- 2. Targeting ----*/

static void test_unknown_group_name_gets_the_unassigned_computers_view(void **state)
{
	static struct approval a[512];
	static const char *const plain[] = { GROUP_ALL, NULL };
	struct tsrv t;
	struct tclient c;
	size_t n;

	(void)state;
	tsrv_open(&t, &cat);
	n = plan_approvals(a, 512);
	approve_all(&t, a, n);
	tclient_init(&c, &t, "11111111-2222-3333-4444-555555555555", "No Such Group; Nor This One");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	check_offers(&c, a, n, plain);
	tclient_free(&c);
	tsrv_close(&t);
}

static void test_server_side_targeting_ignores_the_requested_group(void **state)
{
	static struct approval a[512];
	static const char *const plain[] = { GROUP_ALL, NULL };
	struct tsrv t;
	struct tclient c;
	size_t n;

	(void)state;
	tsrv_open(&t, &cat);
	t.cfg->srv_client_targeting = 0;
	n = plan_approvals(a, 512);
	approve_all(&t, a, n);
	tclient_init(&c, &t, "22222222-2222-3333-4444-555555555555", "Ring1");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	check_offers(&c, a, n, plain);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 3. Bounds ----*/

static void test_more_than_400_installed_non_leaf_ids_is_invalid_parameters(void **state)
{
	struct tsrv t;
	struct tclient c;
	char *resp, *code;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "33333333-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	for (int i = 0; i < 401; i++) {
		c.installed = realloc(c.installed, (c.n_installed + 1) * sizeof(*c.installed));
		c.installed[c.n_installed++] = 100000 + i;
	}
	resp = tclient_sync(&c, &status);
	assert_int_equal(status, 500);
	code = tx_fault_code(resp);
	assert_string_equal(code, "InvalidParameters");
	free(code);
	free(resp);
	/* 400 is still a client's list */
	c.n_installed = 400;
	resp = tclient_sync(&c, &status);
	assert_int_equal(status, 200);
	free(resp);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 4. Changes after a scan ----*/

/* One more SyncUpdates with the client's lists; returns the parsed answer. */
static xmlDocPtr sync_again(struct tclient *c)
{
	int status;
	char *resp = tclient_sync(c, &status);
	xmlDocPtr d;

	if (status != 200)
		fail_msg("SyncUpdates: %.1000s", resp);
	d = tx_parse(resp);
	free(resp);
	return d;
}

static char *changed_field(xmlDocPtr d, int64_t id, const char *field)
{
	char path[256];

	snprintf(path, sizeof(path), "//c:ChangedUpdates/c:UpdateInfo[c:ID=%lld]/%s", (long long)id, field);
	return tx_text(d, path);
}

static void test_deployment_change_after_a_scan_is_in_changed_updates(void **state)
{
	static struct approval a[512];
	struct tsrv t;
	struct tclient c;
	const struct toffer *changed_p = NULL, *bundled_p = NULL;
	struct toffer changed_v, bundled_v, *changed = &changed_v, *bundled = &bundled_v;
	const char *fresh = NULL;
	char *v;
	xmlDocPtr d;
	size_t n;

	(void)state;
	tsrv_open(&t, &cat);
	n = plan_approvals(a, 512);
	approve_all(&t, a, n);
	tclient_init(&c, &t, "44444444-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);

	/* nothing changed: no ChangedUpdates, nothing new */
	d = sync_again(&c);
	assert_int_equal(tx_count(d, "//c:ChangedUpdates"), 0);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo"), 0);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs"), 0);
	xmlFreeDoc(d);

	for (size_t i = 0; i < c.n_offers; i++) {
		/* not a bundle: a bundle's deadline is also its children's */
		if (changed_p == NULL && strcmp(c.offers[i].action, "Install") == 0 &&
		    tcat_latest(&cat, c.offers[i].uid)->n_bundled == 0)
			changed_p = &c.offers[i];
		if (bundled_p == NULL && strcmp(c.offers[i].action, "Bundle") == 0)
			bundled_p = &c.offers[i];
	}
	for (size_t i = 0; i < cat.n && fresh == NULL; i++)
		if (is_leaf_doc(cat.u[i]) && tclient_offer(&c, cat.u[i]->update_id) == NULL &&
		    tcat_latest(&cat, cat.u[i]->update_id) == cat.u[i])
			fresh = cat.u[i]->update_id;
	assert_non_null(changed_p);
	assert_non_null(bundled_p);
	assert_non_null(fresh);
	/* copies: the offers array grows with the next answers */
	changed_v = *changed_p;
	bundled_v = *bundled_p;

	/* a deadline on an approved update, an explicit approval of a bundled
	 * child, a new approval */
	tsrv_approve(&t, changed->uid, GROUP_ALL, STORAGE_ACTION_INSTALL, "2030-06-01T12:00:00Z");
	tsrv_approve(&t, bundled->uid, GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);
	tsrv_approve(&t, fresh, GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);
	d = sync_again(&c);
	assert_int_equal(tx_count(d, "//c:ChangedUpdates/c:UpdateInfo"), 2);
	v = changed_field(d, changed->id, "c:Deployment/c:Deadline");
	assert_non_null(v);
	assert_string_equal(v, "2030-06-01T12:00:00.000Z");
	free(v);
	v = changed_field(d, bundled->id, "c:Deployment/c:Action");
	assert_non_null(v);
	assert_string_equal(v, "Install");
	free(v);
	assert_non_null(tclient_offer(&c, fresh));
	assert_string_equal(tclient_offer(&c, fresh)->action, "Install");
	xmlFreeDoc(d);

	/* the new cookie knows these changes */
	d = sync_again(&c);
	assert_int_equal(tx_count(d, "//c:ChangedUpdates"), 0);
	xmlFreeDoc(d);
	tclient_free(&c);
	tsrv_close(&t);
}

static void test_declined_update_comes_back_out_of_scope(void **state)
{
	static struct approval a[512];
	struct tsrv t;
	struct tclient c;
	const struct toffer *gone_p = NULL;
	struct toffer gone_v, *gone = &gone_v;
	struct err e = { 0 };
	char path[128];
	xmlDocPtr d;
	size_t n;

	(void)state;
	tsrv_open(&t, &cat);
	n = plan_approvals(a, 512);
	approve_all(&t, a, n);
	tclient_init(&c, &t, "55555555-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	for (size_t i = 0; i < c.n_offers && gone_p == NULL; i++) {
		const struct wsus_update *u = tcat_latest(&cat, c.offers[i].uid);

		/* an approved leaf that no approved bundle also carries */
		if (strcmp(c.offers[i].action, "Install") == 0 && u->n_bundled == 0)
			gone_p = &c.offers[i];
	}
	assert_non_null(gone_p);
	gone_v = *gone_p;
	assert_int_equal(storage_update_decline(t.st, gone->uid, &e), 0);
	d = sync_again(&c);
	snprintf(path, sizeof(path), "//c:OutOfScopeRevisionIDs/c:int[.=%lld]", (long long)gone->id);
	assert_int_equal(tx_count(d, path), 1);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs/c:int"), 1);
	xmlFreeDoc(d);
	tclient_free(&c);
	tsrv_close(&t);
}

/* A new update that names a cached leaf as prerequisite: the leaf becomes
 * non-leaf, which the client learns through ChangedUpdates. */
static void test_leaf_that_becomes_a_prerequisite_is_in_changed_updates(void **state)
{
	static struct approval a[512];
	static const char doc_fmt[] =
		"<upd:Update xmlns:upd=\"http://schemas.microsoft.com/msus/2002/12/Update\">"
		"<upd:UpdateIdentity UpdateID=\"9e1f3a2b-0c4d-4e5f-8a6b-7c8d9e0f1a2b\" RevisionNumber=\"100\" />"
		"<upd:Properties UpdateType=\"Software\" DefaultPropertiesLanguage=\"en\" />"
		"<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>"
		"<upd:Title>follow-up</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection>"
		"<upd:Relationships><upd:Prerequisites><upd:UpdateIdentity UpdateID=\"%s\" />"
		"</upd:Prerequisites></upd:Relationships></upd:Update>";
	struct storage_origin origin = { .source = "test" };
	struct tsrv t;
	struct tclient c;
	const struct toffer *leaf_p = NULL;
	struct toffer leaf_v, *leaf = &leaf_v;
	struct wsus_update *u = NULL;
	struct err e = { 0 };
	char doc[2048], *v;
	xmlDocPtr d;
	size_t n;

	(void)state;
	tsrv_open(&t, &cat);
	n = plan_approvals(a, 512);
	approve_all(&t, a, n);
	tclient_init(&c, &t, "66666666-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	for (size_t i = 0; i < c.n_offers && leaf_p == NULL; i++)
		if (c.offers[i].is_leaf && strcmp(c.offers[i].action, "Install") == 0)
			leaf_p = &c.offers[i];
	assert_non_null(leaf_p);
	leaf_v = *leaf_p;
	snprintf(doc, sizeof(doc), doc_fmt, leaf->uid);
	if (protocol_update_parse(doc, strlen(doc), &u, &e) < 0)
		fail_msg("parse: %s", e.msg);
	assert_int_equal(storage_revision_put(t.st, u, &origin, NULL, NULL, &e), 0);
	wsus_update_free(u);
	assert_int_equal(storage_leaf_refresh(t.st, &e), 0);
	tsrv_approve(&t, "9e1f3a2b-0c4d-4e5f-8a6b-7c8d9e0f1a2b", GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);

	d = sync_again(&c);
	v = changed_field(d, leaf->id, "c:IsLeaf");
	assert_non_null(v);
	assert_string_equal(v, "false");
	free(v);
	/* the client still files the leaf as "other": the follow-up waits */
	assert_null(tclient_offer(&c, "9e1f3a2b-0c4d-4e5f-8a6b-7c8d9e0f1a2b"));
	xmlFreeDoc(d);
	/* reported installed, it unlocks the follow-up */
	for (size_t i = 0; i < c.n_other; i++)
		if (c.other[i] == leaf->id)
			c.other[i] = c.other[--c.n_other];
	c.installed = realloc(c.installed, (c.n_installed + 1) * sizeof(*c.installed));
	c.installed[c.n_installed++] = leaf->id;
	d = sync_again(&c);
	assert_non_null(tclient_offer(&c, "9e1f3a2b-0c4d-4e5f-8a6b-7c8d9e0f1a2b"));
	xmlFreeDoc(d);
	tclient_free(&c);
	tsrv_close(&t);
}

/* A category scan of one product after a full scan: what the client holds
 * outside the product is still deployed, so with the split lists it goes to
 * DeployedOutOfScopeRevisionIds, and without them to OutOfScope. */
static void test_category_scan_splits_out_of_scope_with_need_two_groups(void **state)
{
	static struct approval a[512], in_product[512];
	static struct expect want;
	static const char *const plain[] = { GROUP_ALL, NULL };
	const struct wsus_update *product = NULL;
	struct tsrv t;
	struct tclient c;
	char extra[512], path[128], *body, *resp;
	size_t n, n_in = 0, outside = 0;
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	n = plan_approvals(a, 512);
	approve_all(&t, a, n);
	/* the product of the first approval */
	for (size_t k = 0; product == NULL && k < tcat_latest(&cat, a[0].uid)->n_prereqs; k++) {
		const struct wsus_update *p = tcat_latest(&cat, tcat_latest(&cat, a[0].uid)->prereqs[k].update_id);

		if (p->category_type != NULL && strcmp(p->category_type, "Product") == 0)
			product = p;
	}
	assert_non_null(product);
	for (size_t i = 0; i < n; i++) {
		const struct wsus_update *u = tcat_latest(&cat, a[i].uid);

		for (size_t k = 0; k < u->n_prereqs; k++)
			if (u->prereqs[k].is_category && strcmp(u->prereqs[k].update_id, product->update_id) == 0) {
				in_product[n_in++] = a[i];
				break;
			}
	}
	expect_closure(&want, in_product, n_in, plain);
	tclient_init(&c, &t, "a1a1a1a1-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);

	snprintf(extra, sizeof(extra), "<FilterCategoryIds><CategoryIdentifier><Id>%s</Id></CategoryIdentifier>"
		 "</FilterCategoryIds><NeedTwoGroupOutOfScopeUpdates>true</NeedTwoGroupOutOfScopeUpdates>",
		 product->update_id);
	body = tclient_sync_body(&c, extra);
	resp = tsrv_call(&t, &server_client_service, body, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo"), 0);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs"), 0);
	for (size_t i = 0; i < c.n_offers; i++) {
		snprintf(path, sizeof(path), "//c:DeployedOutOfScopeRevisionIds/c:int[.=%lld]",
			 (long long)c.offers[i].id);
		assert_int_equal(tx_count(d, path), !expect_has(&want, c.offers[i].uid));
		outside += !expect_has(&want, c.offers[i].uid);
	}
	assert_true(outside > 0);
	assert_true(outside < c.n_offers);
	xmlFreeDoc(d);
	free(resp);
	free(body);

	/* one list only: the same revisions are plainly out of scope */
	snprintf(extra, sizeof(extra), "<FilterCategoryIds><CategoryIdentifier><Id>%s</Id></CategoryIdentifier>"
		 "</FilterCategoryIds>", product->update_id);
	body = tclient_sync_body(&c, extra);
	resp = tsrv_call(&t, &server_client_service, body, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs/c:int"), (int)outside);
	assert_int_equal(tx_count(d, "//c:DeployedOutOfScopeRevisionIds"), 0);
	xmlFreeDoc(d);
	free(resp);
	free(body);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 6. Implicit deployments of categories and detectoids ----*/

static int is_implicit_kind(const struct wsus_update *u)
{
	return u->type == WSUS_UT_CATEGORY || u->type == WSUS_UT_DETECTOID;
}

/* Nothing approved: a scan offers every category and detectoid, with
 * Evaluate, IsAssigned true, a synthetic deployment id, the roots (no
 * prerequisites) on the first page and nothing else; a full scan ends. */
static void test_nothing_approved_offers_every_category_and_detectoid(void **state)
{
	struct tsrv t;
	struct tclient c;
	size_t want = 0, roots = 0, detectoids = 0;
	char *resp;
	xmlDocPtr d;
	int status, n;

	(void)state;
	tsrv_open(&t, &cat);
	tclient_init(&c, &t, "b6b6b6b6-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	for (size_t i = 0; i < cat.n; i++)
		if (is_implicit_kind(cat.u[i]) && tcat_latest(&cat, cat.u[i]->update_id) == cat.u[i]) {
			want++;
			roots += cat.u[i]->n_prereqs == 0;
			detectoids += cat.u[i]->type == WSUS_UT_DETECTOID;
		}
	assert_true(detectoids > 0);
	assert_true(roots > 0 && roots < want);

	resp = tclient_sync(&c, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	n = tx_count(d, "//c:NewUpdates/c:UpdateInfo");
	assert_int_equal(n, (int)roots);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo/c:Deployment[c:Action='Evaluate']"
				  "[c:IsAssigned='true']"), n);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo/c:Deployment[c:ID < 1073741824]"), 0);
	for (size_t i = 0; i < c.n_offers; i++)
		assert_int_equal(tcat_latest(&cat, c.offers[i].uid)->n_prereqs, 0);
	xmlFreeDoc(d);
	free(resp);

	tclient_scan(&c);
	assert_int_equal(c.n_offers, want);
	for (size_t i = 0; i < c.n_offers; i++) {
		const struct wsus_update *u = tcat_latest(&cat, c.offers[i].uid);

		assert_true(is_implicit_kind(u));
		assert_int_equal(c.offers[i].rev, u->revision);
		assert_string_equal(c.offers[i].action, "Evaluate");
		assert_int_equal(c.offers[i].is_leaf, !named_as_prereq(u->update_id));
	}
	tclient_free(&c);
	tsrv_close(&t);
}

/* An explicit deployment of a category (as an upstream's would be) wins over
 * the implicit one, in the client's groups only; a declined category is not
 * deployed at all. */
static void test_explicit_category_deployment_wins(void **state)
{
	const struct wsus_update *blocked = NULL, *declined = NULL;
	struct tsrv t;
	struct tclient c1, c2;
	struct err e = { 0 };

	(void)state;
	tsrv_open(&t, &cat);
	for (size_t i = 0; i < cat.n; i++) {
		const struct wsus_update *u = cat.u[i];

		if (!is_implicit_kind(u) || u->n_prereqs != 0 || tcat_latest(&cat, u->update_id) != u)
			continue;
		if (blocked == NULL)
			blocked = u;
		else if (declined == NULL)
			declined = u;
	}
	assert_non_null(blocked);
	assert_non_null(declined);
	if (storage_group_add(t.st, "Ring1", NULL, &e) < 0)
		fail_msg("group: %s", e.msg);
	tsrv_approve(&t, blocked->update_id, "Ring1", STORAGE_ACTION_BLOCK, NULL);
	assert_int_equal(storage_update_decline(t.st, declined->update_id, &e), 0);

	tclient_init(&c1, &t, "c7c7c7c7-2222-3333-4444-555555555555", "Ring1");
	tclient_handshake(&c1, 1);
	tclient_scan(&c1);
	tclient_init(&c2, &t, "d8d8d8d8-2222-3333-4444-555555555555", "");
	tclient_handshake(&c2, 1);
	tclient_scan(&c2);
	assert_string_equal(tclient_offer(&c1, blocked->update_id)->action, "PreDeploymentCheck");
	assert_string_equal(tclient_offer(&c2, blocked->update_id)->action, "Evaluate");
	assert_null(tclient_offer(&c1, declined->update_id));
	assert_null(tclient_offer(&c2, declined->update_id));
	tclient_free(&c1);
	tclient_free(&c2);
	tsrv_close(&t);
}

/*---- 5. Drivers ----*/

/* The catalogue's drivers whose first HardwareID is hwid. */
static size_t drivers_for(const char *hwid, const struct wsus_update **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cat.n && n < max; i++) {
		const struct wsus_update *u = cat.u[i];

		if (u->type != WSUS_UT_DRIVER || tcat_latest(&cat, u->update_id) != u)
			continue;
		for (size_t k = 0; k < u->n_drivers; k++)
			if (strcasecmp(u->drivers[k].hardware_id, hwid) == 0) {
				out[n++] = u;
				break;
			}
	}
	return n;
}

static uint64_t pack(const char *v)
{
	unsigned a = 0, b = 0, c = 0, d = 0;

	sscanf(v, "%u.%u.%u.%u", &a, &b, &c, &d);
	return (uint64_t)a << 48 | (uint64_t)b << 32 | (uint64_t)c << 16 | d;
}

static int chid_rank(const struct wsus_driver *d, const char *const *chids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < d->n_distribution_chids; k++)
			if (strcasecmp(d->distribution_chids[k], chids[i]) == 0)
				return (int)i;
		for (size_t k = 0; k < d->n_target_chids; k++)
			if (strcasecmp(d->target_chids[k], chids[i]) == 0)
				return (int)i;
	}
	return INT_MAX;
}

/* The best of the candidates for a device that lists only hwid, by the
 * rules of MS-WUSP 3.1.5.7 applied pairwise. */
static const struct wsus_update *best_driver(const struct wsus_update *const *cand, size_t n, const char *hwid,
					     const char *const *chids, size_t n_chids)
{
	const struct wsus_update *best = NULL;
	const struct wsus_driver *bd = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct wsus_driver *d = NULL;
		int better;

		for (size_t k = 0; k < cand[i]->n_drivers && d == NULL; k++)
			if (strcasecmp(cand[i]->drivers[k].hardware_id, hwid) == 0)
				d = &cand[i]->drivers[k];
		if (best == NULL) {
			best = cand[i];
			bd = d;
			continue;
		}
		int cr = chid_rank(d, chids, n_chids), br = chid_rank(bd, chids, n_chids);
		int cs = 256, bs = 256;

		for (size_t k = 0; k < d->n_scores; k++)
			if (strcmp(d->scores[k].os, "amd64.10.0") == 0)
				cs = d->scores[k].score;
		for (size_t k = 0; k < bd->n_scores; k++)
			if (strcmp(bd->scores[k].os, "amd64.10.0") == 0)
				bs = bd->scores[k].score;
		if (cr != br)
			better = cr < br;
		else if (cs != bs)
			better = cs < bs;
		else if (strcmp(d->driver_ver_date, bd->driver_ver_date) != 0)
			better = strcmp(d->driver_ver_date, bd->driver_ver_date) > 0;
		else
			better = pack(d->driver_ver_version) > pack(bd->driver_ver_version);
		if (better) {
			best = cand[i];
			bd = d;
		}
	}
	return best;
}

static char *driver_sync(struct tclient *c, const char *devices, const char *chids_xml, const char *cached,
			 int *status)
{
	struct wsus_buf b;
	char *resp;

	wsus_buf_init(&b, 64u * 1024 * 1024);
	assert_int_equal(wsus_buf_printf(&b, "<SyncUpdates xmlns=\"" PROTOCOL_NS_CLIENT "\"><cookie>"
					 "<Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>%s"
					 "</EncryptedData></cookie><parameters><ExpressQuery>false</ExpressQuery>"
					 "<InstalledNonLeafUpdateIDs>", c->cookie), 0);
	for (size_t i = 0; i < c->n_installed; i++)
		assert_int_equal(wsus_buf_printf(&b, "<int>%lld</int>", (long long)c->installed[i]), 0);
	assert_int_equal(wsus_buf_printf(&b, "</InstalledNonLeafUpdateIDs><SystemSpec>%s</SystemSpec>"
					 "<CachedDriverIDs>%s</CachedDriverIDs><SkipSoftwareSync>true</SkipSoftwareSync>"
					 "<ComputerSpec><HardwareIDs>%s</HardwareIDs></ComputerSpec>"
					 "<FeatureScoreMatchingKey>AMD64.10.0</FeatureScoreMatchingKey>"
					 "</parameters></SyncUpdates>", devices, cached, chids_xml), 0);
	resp = tsrv_call(c->t, &server_client_service, b.data, status);
	wsus_buf_free(&b);
	return resp;
}

/* Text made safe for an XML body (hardware ids carry '&'). */
static const char *esc(const char *s, char *out, size_t cap)
{
	struct wsus_buf b;
	char *t;

	wsus_buf_init(&b, 4096);
	assert_int_equal(wsus_buf_append_xml_escaped(&b, s, strlen(s)), 0);
	t = wsus_buf_steal(&b, NULL);
	snprintf(out, cap, "%s", t);
	free(t);
	return out;
}

/* The first HardwareID of every driver group of the catalogue. */
static size_t hardware_groups(const char *out[], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cat.n && n < max; i++) {
		const char *hw;
		size_t k;

		if (cat.u[i]->type != WSUS_UT_DRIVER)
			continue;
		hw = cat.u[i]->drivers[0].hardware_id;
		for (k = 0; k < n && strcasecmp(out[k], hw) != 0; k++)
			;
		if (k == n)
			out[n++] = hw;
	}
	return n;
}

/* A CHID that one driver of the group names (target first), or NULL. */
static const char *some_chid(const struct wsus_update *const *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct wsus_driver *dr = &g[i]->drivers[0];

		if (dr->n_target_chids > 0)
			return dr->target_chids[0];
		if (dr->n_distribution_chids > 0)
			return dr->distribution_chids[0];
	}
	return NULL;
}

static int offered_ids(xmlDocPtr d, const char *uid)
{
	char path[200];

	snprintf(path, sizeof(path), "//c:NewUpdates/c:UpdateInfo[contains(c:Xml, '%s')]", uid);
	return tx_count(d, path);
}

static void test_driver_sync_offers_the_best_ranked_driver_per_device(void **state)
{
	const char *hw[8], *chids[1] = { NULL };
	const struct wsus_update *g[8][16], *want[8];
	size_t n_hw, n_g[8];
	char devices[8192], chids_xml[256] = "", cached[128], chid_attr[160] = "", e1[256], e2[256];
	char *resp, *v;
	struct wsus_buf b;
	struct tsrv t;
	struct tclient c;
	int64_t want_id;
	xmlDocPtr d;
	int status;

	(void)state;
	n_hw = hardware_groups(hw, 8);
	assert_true(n_hw >= 2);
	tsrv_open(&t, &cat);
	for (size_t h = 0; h < n_hw; h++) {
		n_g[h] = drivers_for(hw[h], g[h], 16);
		assert_true(n_g[h] >= 2);
		for (size_t i = 0; i < n_g[h]; i++)
			tsrv_approve(&t, g[h][i]->update_id, GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);
		if (chids[0] == NULL)
			chids[0] = some_chid(g[h], n_g[h]);
	}
	assert_non_null(chids[0]);
	snprintf(chids_xml, sizeof(chids_xml), "<guid>%s</guid>", chids[0]);
	snprintf(chid_attr, sizeof(chid_attr), "<MatchingComputerHWID>%s</MatchingComputerHWID>", chids[0]);
	tclient_init(&c, &t, "77777777-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	/* the software pass never offers drivers, but does their categories */
	for (size_t i = 0; i < c.n_offers; i++)
		assert_int_not_equal(tcat_latest(&cat, c.offers[i].uid)->type, WSUS_UT_DRIVER);

	/* one device per hardware group: the best of each group */
	wsus_buf_init(&b, sizeof(devices));
	for (size_t h = 0; h < n_hw; h++) {
		want[h] = best_driver(g[h], n_g[h], hw[h], chids, 1);
		assert_int_equal(wsus_buf_printf(&b, "<Device><HardwareIDs><string>%s</string></HardwareIDs>"
						 "<CompatibleIDs><string>pci\\cc_ffff</string></CompatibleIDs></Device>",
						 esc(hw[h], e1, sizeof(e1))), 0);
	}
	snprintf(devices, sizeof(devices), "%s", b.data);
	wsus_buf_free(&b);
	resp = driver_sync(&c, devices, chids_xml, "", &status);
	if (status != 200)
		fail_msg("driver sync: %.1000s", resp);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo"), (int)n_hw);
	for (size_t h = 0; h < n_hw; h++)
		assert_int_equal(offered_ids(d, want[h]->update_id), 1);
	v = tx_text(d, "//c:DriverSyncNotNeeded");
	assert_string_equal(v, "false");
	free(v);
	xmlFreeDoc(d);
	free(resp);

	/* the second device already runs a driver newer than any candidate */
	snprintf(devices, sizeof(devices),
		 "<Device><HardwareIDs><string>%s</string></HardwareIDs></Device>"
		 "<Device><HardwareIDs><string>%s</string></HardwareIDs><installedDriver>"
		 "<MatchingID>%s</MatchingID><DriverVerDate>2099-01-01T00:00:00</DriverVerDate>"
		 "<DriverVerVersion>281474976710655</DriverVerVersion><Class>Net</Class>"
		 "<Manufacturer>X</Manufacturer><Provider>X</Provider><Model>X</Model>%s"
		 "<DriverRank>0</DriverRank></installedDriver></Device>",
		 esc(hw[0], e1, sizeof(e1)), esc(hw[1], e2, sizeof(e2)), e2, chid_attr);
	resp = driver_sync(&c, devices, chids_xml, "", &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo"), 1);
	assert_int_equal(offered_ids(d, want[0]->update_id), 1);
	v = tx_text(d, "//c:NewUpdates/c:UpdateInfo/c:Deployment/c:HardwareIds/c:string");
	assert_non_null(v);
	assert_int_equal(strcasecmp(v, hw[0]), 0);
	free(v);
	v = tx_text(d, "//c:NewUpdates/c:UpdateInfo/c:ID");
	want_id = strtoll(v, NULL, 10);
	free(v);
	xmlFreeDoc(d);
	free(resp);

	/* cached by the client, the driver is not offered again; a cached id
	 * that is no driver of this computer goes out of scope */
	snprintf(cached, sizeof(cached), "<int>%lld</int><int>999999</int>", (long long)want_id);
	resp = driver_sync(&c, devices, chids_xml, cached, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	assert_int_equal(tx_count(d, "//c:NewUpdates/c:UpdateInfo"), 0);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs/c:int"), 1);
	assert_int_equal(tx_count(d, "//c:OutOfScopeRevisionIDs/c:int[.=999999]"), 1);
	xmlFreeDoc(d);
	free(resp);
	tclient_free(&c);
	tsrv_close(&t);
}

static void test_client_without_approved_drivers_is_told_driver_sync_is_not_needed(void **state)
{
	struct tsrv t;
	struct tclient c;
	char *resp, *v;
	xmlDocPtr d;
	int status;

	(void)state;
	tsrv_open(&t, &cat);
	for (size_t i = 0; i < cat.n; i++)
		if (is_leaf_doc(cat.u[i])) {
			tsrv_approve(&t, cat.u[i]->update_id, GROUP_ALL, STORAGE_ACTION_INSTALL, NULL);
			break;
		}
	tclient_init(&c, &t, "88888888-2222-3333-4444-555555555555", "");
	tclient_handshake(&c, 1);
	resp = tclient_sync(&c, &status);
	assert_int_equal(status, 200);
	d = tx_parse(resp);
	v = tx_text(d, "//c:DriverSyncNotNeeded");
	assert_string_equal(v, "true");
	free(v);
	xmlFreeDoc(d);
	free(resp);

	/* the printer catalogue answers too (no printer driver approved) */
	{
		char *ck = tclient_cookie_xml(&c), op[4096];

		snprintf(op, sizeof(op), "<SyncPrinterCatalog xmlns=\"" PROTOCOL_NS_CLIENT "\">%s"
			 "<installedNonLeafUpdateIDs xsi:nil=\"1\" /><printerUpdateIDs><int>999999</int>"
			 "</printerUpdateIDs></SyncPrinterCatalog>", ck);
		free(ck);
		resp = tsrv_call(&t, &server_client_service, op, &status);
		assert_int_equal(status, 200);
		d = tx_parse(resp);
		assert_int_equal(tx_count(d, "//c:SyncPrinterCatalogResult/c:NewUpdates/c:UpdateInfo"), 0);
		assert_int_equal(tx_count(d, "//c:SyncPrinterCatalogResult/c:OutOfScopeRevisionIDs/c:int"), 1);
		xmlFreeDoc(d);
		free(resp);
	}
	tclient_free(&c);
	tsrv_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_offers_exactly_the_closure_of_the_groups_approvals),
		cmocka_unit_test(test_unknown_group_name_gets_the_unassigned_computers_view),
		cmocka_unit_test(test_server_side_targeting_ignores_the_requested_group),
		cmocka_unit_test(test_more_than_400_installed_non_leaf_ids_is_invalid_parameters),
		cmocka_unit_test(test_deployment_change_after_a_scan_is_in_changed_updates),
		cmocka_unit_test(test_declined_update_comes_back_out_of_scope),
		cmocka_unit_test(test_leaf_that_becomes_a_prerequisite_is_in_changed_updates),
		cmocka_unit_test(test_category_scan_splits_out_of_scope_with_need_two_groups),
		cmocka_unit_test(test_nothing_approved_offers_every_category_and_detectoid),
		cmocka_unit_test(test_explicit_category_deployment_wins),
		cmocka_unit_test(test_driver_sync_offers_the_best_ranked_driver_per_device),
		cmocka_unit_test(test_client_without_approved_drivers_is_told_driver_sync_is_not_needed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
