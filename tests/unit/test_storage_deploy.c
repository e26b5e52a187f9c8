/*
 * test_storage_deploy.c -- target groups, approvals and declines.
 * Groups: 1 action names, 2 target groups (2.2: a client's resolved groups
 * follow changes from this and other connections),
 * 3 deployments (set, replace, idempotence, errors), 4 declines.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_storage_util.h"

#define UID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define UID_B "bbbbbbbb-0000-4000-8000-000000000002"
#define ALL_ID "a0a08746-4dbe-4a37-9adf-9e7652c0b421"

static void put_revisions(struct storage *st, const char *uid, int n)
{
	for (int rev = 1; rev <= n; rev++) {
		char xml[32];
		struct wsus_update *u;

		snprintf(xml, sizeof(xml), "<r n='%d'/>", rev);
		u = tsu_update(uid, rev, WSUS_UT_SOFTWARE, xml);
		tsu_put(st, u, NULL);
		wsus_update_free(u);
	}
}

/* 1.1 action names round-trip, case-insensitively; anything else is refused */
static void test_action_names(void **state)
{
	static const char *names[] = { "install", "uninstall", "evaluate", "block" };
	enum storage_action a;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_string_equal(storage_action_name((enum storage_action)i), names[i]);
		assert_int_equal(storage_action_parse(names[i], &a), 0);
		assert_int_equal(a, i);
	}
	assert_int_equal(storage_action_parse("UnInstall", &a), 0);
	assert_int_equal(a, STORAGE_ACTION_UNINSTALL);
	assert_int_equal(storage_action_parse("approve", &a), -EINVAL);
	assert_int_equal(storage_action_parse(NULL, &a), -EINVAL);
}

static int collect_group(const char *id, const char *name, const char *parent, int builtin, void *ctx)
{
	char *out = ctx;
	size_t len = strlen(out);

	(void)id;
	snprintf(out + len, 1024 - len, "%s<%s>%d;", name, parent ? parent : "", builtin);
	return 0;
}

/* 2.1 groups go under All Computers unless a parent is named; names are unique
 * regardless of case; an unknown parent or a bad name is refused */
static void test_group_add(void **state)
{
	struct tsu *t = *state;
	struct err e = { 0 };
	char out[1024] = "";

	assert_int_equal(storage_group_add(t->st, "Servers", NULL, &e), 0);
	assert_int_equal(storage_group_add(t->st, "Web", "servers", &e), 0);
	assert_int_equal(storage_group_add(t->st, "Lab", ALL_ID, &e), 0);  /* parent by GroupID */
	assert_int_equal(storage_group_add(t->st, "SERVERS", NULL, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_int_equal(storage_group_add(t->st, "Orphans", "Nowhere", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "Nowhere"));
	assert_int_equal(storage_group_add(t->st, "", NULL, &e), -EINVAL);
	assert_int_equal(storage_group_add(t->st, "bad\nname", NULL, &e), -EINVAL);
	assert_int_equal(storage_group_foreach(t->st, collect_group, out, &e), 0);
	assert_string_equal(out, "All Computers<>1;Unassigned Computers<All Computers>1;"
				 "Lab<All Computers>0;Servers<All Computers>0;Web<Servers>0;");
}

static int has_group(const struct storage_client_groups *g, const char *id)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->ids[i], id) == 0)
			return 1;
	return 0;
}

static void group_id_of(struct storage *st, const char *name, char id[WSUS_GUID_LEN])
{
	struct storage_client_groups g;
	struct err e = { 0 };

	assert_int_equal(storage_client_groups(st, NULL, name, 1, &g, &e), 0);
	assert_int_equal(g.requested_known, 1);
	for (size_t i = 0; i < g.n; i++)
		if (strcmp(g.ids[i], ALL_ID) != 0) {
			snprintf(id, WSUS_GUID_LEN, "%s", g.ids[i]);
			return;
		}
	fail_msg("group %s not resolved", name);
}

/* 2.2 the same question twice gets the same groups; a group made on this
 * handle, then one made on another connection, is seen at once */
static void test_resolved_groups_follow_changes(void **state)
{
	struct tsu *t = *state;
	struct storage *other = NULL;
	struct storage_client_groups g1, g2;
	struct err e = { 0 };
	char servers[WSUS_GUID_LEN], web[WSUS_GUID_LEN];

	assert_int_equal(storage_client_groups(t->st, "c1", "Web", 1, &g1, &e), 0);
	assert_int_equal(g1.unknown, 1);           /* no such group yet */
	assert_int_equal(storage_client_groups(t->st, "c1", "Web", 1, &g2, &e), 0);
	assert_memory_equal(&g1, &g2, sizeof(g1));
	/* this handle writes: the kept answer is not used */
	assert_int_equal(storage_group_add(t->st, "Servers", NULL, &e), 0);
	group_id_of(t->st, "Servers", servers);
	assert_int_equal(storage_client_groups(t->st, "c1", "Servers", 1, &g1, &e), 0);
	assert_true(has_group(&g1, servers));
	assert_int_equal(storage_client_groups(t->st, "c1", "Web", 1, &g1, &e), 0);
	assert_int_equal(g1.unknown, 1);           /* kept again, made after this handle's last write */
	/* another connection writes: "Web" under Servers now resolves, with its parent */
	assert_int_equal(storage_open(t->dir, NULL, &other, &e), 0);
	assert_int_equal(storage_group_add(other, "Web", "Servers", &e), 0);
	assert_int_equal(storage_client_groups(t->st, "c1", "Web", 1, &g2, &e), 0);
	assert_int_equal(g2.unknown, 0);
	group_id_of(other, "Web", web);
	assert_true(has_group(&g2, web));
	assert_true(has_group(&g2, servers));
	assert_true(has_group(&g2, ALL_ID));
	storage_close(other);
}

/* 3.1 an approval is one live deployment row naming the exact revision, the
 * group, the action, with a fresh GUID and an anchor; revision < 0 = latest */
static void test_deployment_set_creates_live_row(void **state)
{
	struct tsu *t = *state;
	struct err e = { 0 };
	sqlite3 *db = tsu_db(t->dir);
	char *guid, *action, norm[WSUS_GUID_LEN];

	put_revisions(t->st, UID_A, 3);
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "all computers", STORAGE_ACTION_INSTALL,
						"2030-01-31T00:00:00Z", &e), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE dead = 0"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT revision_number FROM deployment"), 3);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE group_id = '" ALL_ID "'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT is_assigned FROM deployment"), 1);
	assert_true(tsu_sql_int(db, "SELECT anchor FROM deployment") >
		    tsu_sql_int(db, "SELECT max(anchor) FROM revision"));
	action = tsu_sql_text(db, "SELECT action || ' ' || deadline FROM deployment");
	assert_string_equal(action, "install 2030-01-31T00:00:00Z");
	guid = tsu_sql_text(db, "SELECT deployment_id FROM deployment");
	assert_int_equal(wsus_guid_normalize(guid, norm), 0);
	assert_string_equal(guid, norm);
	free(action);
	free(guid);

	/* An explicit older revision is allowed. */
	assert_int_equal(storage_group_add(t->st, "Pilot", NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, UID_A, 2, "Pilot", STORAGE_ACTION_EVALUATE, NULL, &e), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT revision_number FROM deployment d JOIN target_group g"
				     " USING (group_id) WHERE g.name = 'Pilot'"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT is_assigned FROM deployment WHERE action = 'evaluate'"), 0);
	sqlite3_close(db);
}

/* 3.2 changing an approval retires the old deployment (dead, same anchor as the
 * new one) and creates a new one; repeating an identical approval changes nothing */
static void test_deployment_replace_and_repeat(void **state)
{
	struct tsu *t = *state;
	struct err e = { 0 };
	sqlite3 *db = tsu_db(t->dir);
	int64_t anchors;

	put_revisions(t->st, UID_A, 1);
	assert_int_equal(storage_deployment_set(t->st, UID_A, 1, "All Computers", STORAGE_ACTION_INSTALL,
						NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, UID_A, 1, "All Computers", STORAGE_ACTION_UNINSTALL,
						NULL, &e), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE dead = 0 AND action = 'uninstall'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE dead = 1 AND action = 'install'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(DISTINCT anchor) FROM deployment"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(DISTINCT deployment_id) FROM deployment"), 2);

	anchors = tsu_sql_int(db, "SELECT count(*) FROM catalog_change");
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "all COMPUTERS", STORAGE_ACTION_UNINSTALL,
						NULL, &e), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM catalog_change"), anchors);
	/* A new deadline is a change. */
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "All Computers", STORAGE_ACTION_UNINSTALL,
						"2031-01-01", &e), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment"), 3);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE dead = 0"), 1);
	sqlite3_close(db);
}

/* 3.3 unknown group, update or revision: -ENOENT with a message naming it;
 * malformed UpdateID or deadline: -EINVAL; nothing is written */
static void test_deployment_errors(void **state)
{
	struct tsu *t = *state;
	struct err e = { 0 };
	sqlite3 *db = tsu_db(t->dir);

	put_revisions(t->st, UID_A, 1);
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "Nobody", STORAGE_ACTION_INSTALL, NULL, &e),
			 -ENOENT);
	assert_non_null(strstr(e.msg, "no target group named 'Nobody'"));
	assert_int_equal(storage_deployment_set(t->st, UID_B, -1, "All Computers", STORAGE_ACTION_INSTALL,
						NULL, &e), -ENOENT);
	assert_non_null(strstr(e.msg, UID_B));
	assert_int_equal(storage_deployment_set(t->st, UID_A, 9, "All Computers", STORAGE_ACTION_INSTALL,
						NULL, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "revision 9"));
	assert_int_equal(storage_deployment_set(t->st, "KB123", -1, "All Computers", STORAGE_ACTION_INSTALL,
						NULL, &e), -EINVAL);
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "All Computers", STORAGE_ACTION_INSTALL,
						"tomorrow", &e), -EINVAL);
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "All Computers", (enum storage_action)9,
						NULL, &e), -EINVAL);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment"), 0);
	sqlite3_close(db);
}

/* 4.1 declining hides every revision and kills the live deployments (with an
 * anchor); a later revision of it arrives declined; approving takes it back */
static void test_decline(void **state)
{
	struct tsu *t = *state;
	struct storage_revision_row r;
	struct err e = { 0 };
	sqlite3 *db = tsu_db(t->dir);
	struct wsus_update *u;

	put_revisions(t->st, UID_A, 2);
	put_revisions(t->st, UID_B, 1);
	assert_int_equal(storage_group_add(t->st, "Pilot", NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "All Computers", STORAGE_ACTION_INSTALL,
						NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "Pilot", STORAGE_ACTION_INSTALL, NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, UID_B, -1, "Pilot", STORAGE_ACTION_INSTALL, NULL, &e), 0);

	assert_int_equal(storage_update_decline(t->st, "AAAAAAAA-0000-4000-8000-000000000001", &e), 0);
	assert_int_equal(storage_revision_get(t->st, UID_A, 1, &r, &e), 0);
	assert_int_equal(r.declined, 1);
	assert_int_equal(storage_revision_get(t->st, UID_A, 2, &r, &e), 0);
	assert_int_equal(r.declined, 1);
	assert_int_equal(storage_revision_get(t->st, UID_B, 1, &r, &e), 0);
	assert_int_equal(r.declined, 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE update_id = '" UID_A "' AND dead = 0"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE update_id = '" UID_B "' AND dead = 0"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT max(anchor) FROM catalog_change WHERE kind = 'decline'"),
			 tsu_sql_int(db, "SELECT max(anchor) FROM deployment WHERE update_id = '" UID_A "'"));

	/* Declining again is not a change; declining the unknown is an error. */
	assert_int_equal(storage_update_decline(t->st, UID_A, &e), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM catalog_change WHERE kind = 'decline'"), 1);
	assert_int_equal(storage_update_decline(t->st, "cccccccc-0000-4000-8000-000000000003", &e), -ENOENT);

	u = tsu_update(UID_A, 3, WSUS_UT_SOFTWARE, "<r n='3'/>");
	tsu_put(t->st, u, NULL);
	wsus_update_free(u);
	assert_int_equal(storage_revision_get(t->st, UID_A, 3, &r, &e), 0);
	assert_int_equal(r.declined, 1);

	assert_int_equal(storage_deployment_set(t->st, UID_A, -1, "Pilot", STORAGE_ACTION_INSTALL, NULL, &e), 0);
	assert_int_equal(storage_revision_get(t->st, UID_A, 3, &r, &e), 0);
	assert_int_equal(r.declined, 0);
	sqlite3_close(db);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, tsu_setup, tsu_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action_names),
		T(test_resolved_groups_follow_changes),
		T(test_group_add),
		T(test_deployment_set_creates_live_row),
		T(test_deployment_replace_and_repeat),
		T(test_deployment_errors),
		T(test_decline),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
