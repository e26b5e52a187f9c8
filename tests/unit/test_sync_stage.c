/*
 * test_sync_stage.c -- the database side of a sync (storage_sync.c).
 *   1.* staging: staged documents are invisible to every catalogue query,
 *       belong to one upstream, and a publishing transaction shows all of
 *       them with one catalogue anchor or (rolled back) none;
 *   2.* replica state: target groups, deployments, declines and EULAs are
 *       made exactly the upstream's, stamping an anchor only on change;
 *   3.* content to fetch, provenance and history.
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

#define UP   "https://upstream.test:8531"
#define CERT "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11"
#define U1   "11111111-1111-4111-8111-111111111111"
#define U2   "22222222-2222-4222-8222-222222222222"
#define G_ALL "a0a08746-4dbe-4a37-9adf-9e7652c0b421"
#define G_UNA "b73ca6ed-5727-47f3-84de-015e03f6a88a"
#define GA   "aaaaaaaa-0000-4000-8000-00000000000a"
#define GB   "bbbbbbbb-0000-4000-8000-00000000000b"
#define GC   "cccccccc-0000-4000-8000-00000000000c"
#define D1   "d1d1d1d1-0000-4000-8000-0000000000d1"
#define D2   "d2d2d2d2-0000-4000-8000-0000000000d2"

static int64_t latest_anchor(struct storage *st)
{
	struct storage_anchor a;

	assert_int_equal(storage_anchor_latest(st, &a, NULL), 0);
	return a.n;
}

static int count_rev(const struct storage_revision_row *r, void *ctx)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static int count_id(const char *uid, int rev, void *ctx)
{
	(void)uid;
	(void)rev;
	(*(int *)ctx)++;
	return 0;
}

static int visible_revisions(struct storage *st)
{
	int n = 0;

	assert_int_equal(storage_revision_foreach(st, count_rev, &n, NULL), 0);
	return n;
}

static int listed_downstream(struct storage *st)
{
	struct storage_revision_filter f = { .config = 0, .since = 0, .upto = INT64_MAX };
	int n = 0;

	assert_int_equal(storage_revision_ids(st, &f, count_id, &n, NULL), 0);
	return n;
}

static void stage_two(struct storage *st)
{
	struct storage_stage_doc d[2] = {
		{ .update_id = U1, .revision = 1, .list = "updates", .xml = "<Update>1</Update>", .xml_len = 18,
		  .mu_urls = NULL, .needs_keys = 1, .cert_sha256 = CERT, .fetched_ms = 1 },
		{ .update_id = U2, .revision = 5, .list = "updates", .xml = "<Update>2</Update>", .xml_len = 18,
		  .cert_sha256 = CERT, .fetched_ms = 2 },
	};
	struct err e = { 0 };

	if (storage_stage_put(st, UP, d, 2, &e) < 0)
		fail_msg("stage: %s", e.msg);
}

/* 1.1 staged documents are not in the catalogue, not listed to downstream
 * servers, not counted by status, and create no catalogue anchor */
static void test_staged_invisible(void **state)
{
	struct tsu *t = *state;
	struct storage_status s;
	int staged = 0, published = 1;
	int64_t n = 0;

	stage_two(t->st);
	assert_int_equal(storage_stage_count(t->st, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(visible_revisions(t->st), 0);
	assert_int_equal(listed_downstream(t->st), 0);
	assert_int_equal(storage_status_get(t->st, &s, NULL), 0);
	assert_int_equal(s.revisions, 0);
	assert_int_equal(latest_anchor(t->st), 0);
	assert_int_equal(storage_sync_have(t->st, U1, 1, &staged, &published, NULL), 0);
	assert_int_equal(staged, 1);
	assert_int_equal(published, 0);
	assert_int_equal(storage_sync_have(t->st, U1, 2, &staged, &published, NULL), 0);
	assert_int_equal(staged, 0);
}

/* 1.2 staging survives a reopen for the same upstream (resume) and is
 * dropped when the sync is for another upstream */
static void test_stage_owner(void **state)
{
	struct tsu *t = *state;
	int64_t kept = -1;

	stage_two(t->st);
	tsu_reopen(t);
	assert_int_equal(storage_stage_open(t->st, UP, &kept, NULL), 0);
	assert_int_equal(kept, 2);
	assert_int_equal(storage_stage_open(t->st, "https://other.test", &kept, NULL), 0);
	assert_int_equal(kept, 0);
}

struct publish_ctx {
	struct storage *st;
	int n;
};

static int publish_row(const struct storage_stage_row *r, void *ctx)
{
	struct publish_ctx *p = ctx;
	struct storage_origin o = { .upstream_url = UP, .cert_sha256 = r->cert_sha256, .source = "sync" };
	char xml[64];
	struct wsus_update *u;
	struct err e = { 0 };
	int rc;

	snprintf(xml, sizeof(xml), "%.*s", (int)r->xml_len, (const char *)r->xml);
	u = tsu_update(r->update_id, r->revision, WSUS_UT_SOFTWARE, xml);
	rc = storage_revision_put(p->st, u, &o, NULL, NULL, &e);
	wsus_update_free(u);
	if (rc < 0)
		fail_msg("put: %s", e.msg);
	p->n++;
	return 0;
}

/* 1.3 a publishing transaction that rolls back shows nothing and keeps the staging */
static void test_publish_rollback(void **state)
{
	struct tsu *t = *state;
	struct publish_ctx p = { t->st, 0 };
	int64_t n = 0;

	stage_two(t->st);
	assert_int_equal(storage_begin(t->st, NULL), 0);
	assert_int_equal(storage_stage_foreach(t->st, publish_row, &p, NULL), 0);
	assert_int_equal(storage_stage_clear(t->st, NULL), 0);
	assert_int_equal(storage_state_set(t->st, "sync.anchor.updates", "7,2026-01-01 00:00:00.000", NULL), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(storage_rollback(t->st), 0);
	assert_int_equal(visible_revisions(t->st), 0);
	assert_int_equal(latest_anchor(t->st), 0);
	assert_int_equal(storage_stage_count(t->st, &n, NULL), 0);
	assert_int_equal(n, 2);
	{
		char *v = NULL;

		assert_int_equal(storage_state_get(t->st, "sync.anchor.updates", &v), -ENOENT);
	}
}

/* 1.4 a committed publish shows every staged revision with its provenance,
 * under exactly one new catalogue anchor, with the staging empty */
static void test_publish_commit(void **state)
{
	struct tsu *t = *state;
	struct publish_ctx p = { t->st, 0 };
	sqlite3 *db;
	int64_t n = -1;
	char *cert;

	stage_two(t->st);
	assert_int_equal(storage_begin(t->st, NULL), 0);
	assert_int_equal(storage_stage_foreach(t->st, publish_row, &p, NULL), 0);
	assert_int_equal(storage_stage_clear(t->st, NULL), 0);
	assert_int_equal(storage_commit(t->st, NULL), 0);
	assert_int_equal(visible_revisions(t->st), 2);
	assert_int_equal(listed_downstream(t->st), 2);
	assert_int_equal(latest_anchor(t->st), 1);
	assert_int_equal(storage_stage_count(t->st, &n, NULL), 0);
	assert_int_equal(n, 0);
	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "SELECT count(DISTINCT anchor) FROM revision"), 1);
	cert = tsu_sql_text(db, "SELECT origin_cert_sha256 FROM revision WHERE revision_number = 5");
	assert_string_equal(cert, CERT);
	free(cert);
	sqlite3_close(db);
}

/* 1.5 revisions needing keys are listed until their keys are recorded;
 * a payload's key lands on its file row */
static void test_keys(void **state)
{
	struct tsu *t = *state;
	struct storage_stage_id *ids = NULL;
	struct wsus_update *u;
	uint8_t key[16] = { 1, 2, 3 };
	sqlite3 *db;
	size_t n = 0;

	stage_two(t->st);
	assert_int_equal(storage_stage_need_keys(t->st, &ids, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0].update_id, U1);
	free(ids);
	assert_int_equal(storage_stage_set_keys(t->st, U1, 1, "", NULL), 0);
	assert_int_equal(storage_stage_need_keys(t->st, &ids, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(ids);

	u = tsu_update(U1, 1, WSUS_UT_SOFTWARE, "<Update/>");
	tsu_add_file(u, "a.cab", "payload", 7, 1);
	tsu_put(t->st, u, NULL);
	assert_int_equal(storage_sync_file_key(t->st, u->files[0].sha1, key, sizeof(key), NULL), 0);
	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "SELECT length(decryption_key) FROM file"), 16);
	sqlite3_close(db);
	wsus_update_free(u);
}

/*---- 2. replica state ----*/

static struct storage_group_row grp(const char *id, const char *name, const char *parent, int builtin)
{
	struct storage_group_row g;

	memset(&g, 0, sizeof(g));
	snprintf(g.group_id, sizeof(g.group_id), "%s", id);
	snprintf(g.name, sizeof(g.name), "%s", name);
	snprintf(g.parent_id, sizeof(g.parent_id), "%s", parent);
	g.builtin = builtin;
	return g;
}

static void apply_groups(struct storage *st, const struct storage_group_row *g, size_t n, int want_changed)
{
	struct err e = { 0 };
	int changed = -1;

	if (storage_sync_groups_apply(st, g, n, &changed, &e) < 0)
		fail_msg("groups: %s", e.msg);
	assert_int_equal(changed, want_changed);
}

static struct storage_deployment_row dep(const char *guid, const char *uid, int rev, const char *group,
					 enum storage_action a)
{
	struct storage_deployment_row d;

	memset(&d, 0, sizeof(d));
	snprintf(d.deployment_id, sizeof(d.deployment_id), "%s", guid);
	snprintf(d.update_id, sizeof(d.update_id), "%s", uid);
	snprintf(d.group_id, sizeof(d.group_id), "%s", group);
	d.revision = rev;
	d.action = a;
	d.download_priority = 2;
	d.is_assigned = 1;
	snprintf(d.deadline, sizeof(d.deadline), "2030-01-01T00:00:00.000Z");
	snprintf(d.admin_name, sizeof(d.admin_name), "admin");
	return d;
}

static int apply_dep(struct storage *st, const struct storage_deployment_row *d)
{
	struct storage_origin o = { .upstream_url = UP, .cert_sha256 = CERT };
	int changed = -1;

	assert_int_equal(storage_sync_deployment_apply(st, d, &o, &changed, NULL), 0);
	return changed;
}

/* 2.1 groups become the upstream's list: added with their parent, renamed,
 * re-parented, deleted with their deployments; the built-ins stay; an
 * unchanged list changes nothing and stamps no anchor */
static void test_groups(void **state)
{
	struct tsu *t = *state;
	struct storage_group_row g1[] = {
		grp(G_ALL, "All Computers", "", 1), grp(GB, "Beta", GA, 0), grp(GA, "Alpha", G_ALL, 0),
		grp(GC, "Gamma", "", 0),
	};
	struct storage_group_row g2[] = {
		grp(G_ALL, "All Computers", "", 1), grp(GA, "Beta", G_ALL, 0), grp(GB, "Alpha", GA, 0),
	};
	struct storage_deployment_row d = dep(D1, U1, 1, GC, STORAGE_ACTION_INSTALL);
	sqlite3 *db = tsu_db(t->dir);
	int64_t a0;
	char *s;

	apply_groups(t->st, g1, 4, 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM target_group"), 5);
	s = tsu_sql_text(db, "SELECT parent_id FROM target_group WHERE group_id = '" GB "'");
	assert_string_equal(s, GA);
	free(s);
	s = tsu_sql_text(db, "SELECT parent_id FROM target_group WHERE group_id = '" GC "'");
	assert_string_equal(s, G_ALL);
	free(s);
	assert_int_equal(apply_dep(t->st, &d), 1);
	a0 = latest_anchor(t->st);
	apply_groups(t->st, g1, 4, 0);
	assert_int_equal(latest_anchor(t->st), a0);

	/* swap two names, drop Gamma (and its deployment) */
	apply_groups(t->st, g2, 3, 1);
	assert_true(latest_anchor(t->st) > a0);
	s = tsu_sql_text(db, "SELECT name FROM target_group WHERE group_id = '" GA "'");
	assert_string_equal(s, "Beta");
	free(s);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM target_group WHERE group_id = '" GC "'"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM target_group WHERE builtin = 1"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment"), 0);
	sqlite3_close(db);
}

/* 2.2 deployments keep the upstream's GUID and fields; the same one again
 * changes nothing; another for the same update and group retires the first;
 * a DeadDeployment retires its GUID; unknown GUIDs and groups are handled */
static void test_deployments(void **state)
{
	struct tsu *t = *state;
	struct storage_group_row g[] = { grp(GA, "Alpha", "", 0) };
	struct storage_deployment_row d1 = dep(D1, U1, 1, GA, STORAGE_ACTION_INSTALL);
	struct storage_deployment_row d2 = dep(D2, U1, 2, GA, STORAGE_ACTION_BLOCK);
	struct storage_deployment_row dead, lost = dep(D2, U2, 1, GC, STORAGE_ACTION_INSTALL);
	sqlite3 *db = tsu_db(t->dir);
	struct err e = { 0 };
	int64_t a;
	char *s;

	apply_groups(t->st, g, 1, 1);
	assert_int_equal(apply_dep(t->st, &d1), 1);
	a = latest_anchor(t->st);
	assert_int_equal(apply_dep(t->st, &d1), 0);
	assert_int_equal(latest_anchor(t->st), a);
	s = tsu_sql_text(db, "SELECT deadline || '|' || origin_upstream || '|' || admin_name FROM deployment");
	assert_string_equal(s, "2030-01-01T00:00:00.000Z|" UP "|admin");
	free(s);

	assert_int_equal(apply_dep(t->st, &d2), 1);
	assert_int_equal(latest_anchor(t->st), a + 1);
	assert_int_equal(tsu_sql_int(db, "SELECT dead FROM deployment WHERE deployment_id = '" D1 "'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT dead FROM deployment WHERE deployment_id = '" D2 "'"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT anchor FROM deployment WHERE deployment_id = '" D1 "'"), a + 1);

	memset(&dead, 0, sizeof(dead));
	snprintf(dead.deployment_id, sizeof(dead.deployment_id), "%s", D2);
	dead.dead = 1;
	assert_int_equal(apply_dep(t->st, &dead), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM deployment WHERE dead = 0"), 0);
	assert_int_equal(apply_dep(t->st, &dead), 0);
	snprintf(dead.deployment_id, sizeof(dead.deployment_id), "%s", "99999999-0000-4000-8000-000000000099");
	assert_int_equal(apply_dep(t->st, &dead), 0);
	assert_int_equal(storage_sync_deployment_apply(t->st, &lost, NULL, NULL, &e), -ENOENT);
	sqlite3_close(db);
}

/* 2.4 in replica mode the deployments made on this server (or by another
 * upstream) are retired under one anchor; the upstream's stay */
static void test_retire_local(void **state)
{
	struct tsu *t = *state;
	struct storage_group_row g[] = { grp(GA, "Alpha", "", 0) };
	struct storage_deployment_row d2 = dep(D2, U2, 1, GA, STORAGE_ACTION_INSTALL);
	struct wsus_update *u1 = tsu_update(U1, 1, WSUS_UT_SOFTWARE, "<a/>");
	sqlite3 *db = tsu_db(t->dir);
	int retired = -1;
	int64_t a;

	tsu_put(t->st, u1, NULL);
	apply_groups(t->st, g, 1, 1);
	assert_int_equal(storage_deployment_set(t->st, U1, -1, "Alpha", STORAGE_ACTION_INSTALL, NULL, NULL), 0);
	apply_dep(t->st, &d2);
	a = latest_anchor(t->st);
	assert_int_equal(storage_sync_retire_others(t->st, UP, &retired, NULL), 0);
	assert_int_equal(retired, 1);
	assert_int_equal(latest_anchor(t->st), a + 1);
	assert_int_equal(tsu_sql_int(db, "SELECT dead FROM deployment WHERE update_id = '" U1 "'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT dead FROM deployment WHERE deployment_id = '" D2 "'"), 0);
	assert_int_equal(storage_sync_retire_others(t->st, UP, &retired, NULL), 0);
	assert_int_equal(retired, 0);
	assert_int_equal(latest_anchor(t->st), a + 1);
	sqlite3_close(db);
	wsus_update_free(u1);
}

/* 2.3 declines are a full list: listed updates hidden (their deployments
 * retired), the others shown again; accepted EULAs likewise */
static void test_hidden_and_eulas(void **state)
{
	struct tsu *t = *state;
	struct storage_group_row g[] = { grp(GA, "Alpha", "", 0) };
	struct storage_deployment_row d1 = dep(D1, U1, 1, GA, STORAGE_ACTION_INSTALL);
	char one[1][WSUS_GUID_LEN] = { U1 }, other[1][WSUS_GUID_LEN] = { U2 };
	struct wsus_update *u1 = tsu_update(U1, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_update *u2 = tsu_update(U2, 1, WSUS_UT_SOFTWARE, "<b/>");
	sqlite3 *db = tsu_db(t->dir);
	int changed = -1;
	int64_t a;

	tsu_put(t->st, u1, NULL);
	tsu_put(t->st, u2, NULL);
	apply_groups(t->st, g, 1, 1);
	apply_dep(t->st, &d1);
	a = latest_anchor(t->st);
	assert_int_equal(storage_sync_hidden_apply(t->st, (const char (*)[WSUS_GUID_LEN])one, 1, &changed, NULL), 0);
	assert_int_equal(changed, 1);
	assert_true(latest_anchor(t->st) > a);
	assert_int_equal(tsu_sql_int(db, "SELECT hidden FROM revision WHERE update_id = '" U1 "'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT dead FROM deployment"), 1);
	a = latest_anchor(t->st);
	assert_int_equal(storage_sync_hidden_apply(t->st, (const char (*)[WSUS_GUID_LEN])one, 1, &changed, NULL), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(latest_anchor(t->st), a);
	assert_int_equal(storage_sync_hidden_apply(t->st, (const char (*)[WSUS_GUID_LEN])other, 1, &changed, NULL), 0);
	assert_int_equal(changed, 2);
	assert_int_equal(tsu_sql_int(db, "SELECT hidden FROM revision WHERE update_id = '" U1 "'"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT hidden FROM revision WHERE update_id = '" U2 "'"), 1);

	assert_int_equal(storage_sync_eulas_apply(t->st, (const char (*)[WSUS_GUID_LEN])one, 1, NULL), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM eula WHERE accepted = 1"), 1);
	assert_int_equal(storage_sync_eulas_apply(t->st, (const char (*)[WSUS_GUID_LEN])other, 1, NULL), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT accepted FROM eula WHERE eula_id = '" U1 "'"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT accepted FROM eula WHERE eula_id = '" U2 "'"), 1);
	sqlite3_close(db);
	wsus_update_free(u1);
	wsus_update_free(u2);
}

/*---- 3. content, provenance, history ----*/

static size_t wanted(struct storage *st, int approved_only, int64_t retry_before)
{
	struct wsus_file *f = NULL;
	size_t n = 0;

	assert_int_equal(storage_sync_files_wanted(st, approved_only, retry_before, &f, &n, NULL), 0);
	storage_sync_files_free(f, n);
	return n;
}

/* 3.1 the content phase is offered missing payloads (only approved ones
 * when lazy), never present ones, quarantined ones only after the retry
 * time, and never PSF files */
static void test_files_wanted(void **state)
{
	struct tsu *t = *state;
	struct storage_group_row g[] = { grp(GA, "Alpha", "", 0) };
	struct storage_deployment_row d = dep(D1, U2, 1, GA, STORAGE_ACTION_INSTALL);
	struct wsus_update *u1 = tsu_update(U1, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_update *u2 = tsu_update(U2, 1, WSUS_UT_SOFTWARE, "<b/>");
	struct wsus_file *psf;
	sqlite3 *db = tsu_db(t->dir);
	struct wsus_file *f = NULL;
	size_t n = 0;

	tsu_add_file(u1, "one.cab", "one", 3, 1);
	tsu_add_file(u2, "two.exe", "two", 3, 1);
	psf = tsu_add_file(u2, "two.psf", "psf", 3, 0);
	psf->patching_type = strdup("Express");
	tsu_put(t->st, u1, NULL);
	tsu_put(t->st, u2, NULL);
	assert_int_equal(wanted(t->st, 0, 0), 2);
	assert_int_equal(wanted(t->st, 1, 0), 0);
	apply_groups(t->st, g, 1, 1);
	apply_dep(t->st, &d);
	assert_int_equal(storage_sync_files_wanted(t->st, 1, 0, &f, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].file_name, "two.exe");
	assert_int_equal(f[0].size, 3);
	storage_sync_files_free(f, n);

	tsu_sql_exec(db, "UPDATE file SET state = 'present' WHERE file_name = 'two.exe'");
	tsu_sql_exec(db, "UPDATE file SET state = 'quarantined' WHERE file_name = 'one.cab'");
	tsu_sql_exec(db, "INSERT INTO quarantine(sha1, path, reason, time) SELECT sha1, 'x', 'y', 1000 FROM file"
		     " WHERE file_name = 'one.cab'");
	assert_int_equal(wanted(t->st, 0, 500), 0);
	assert_int_equal(wanted(t->st, 0, 2000), 1);
	sqlite3_close(db);
	wsus_update_free(u1);
	wsus_update_free(u2);
}

static int collect_prov(const struct storage_provenance_row *p, void *ctx)
{
	struct storage_provenance_row *out = ctx;

	if (p->upstream[0] != '\0')
		*out = *p;
	return 0;
}

/* 3.2 provenance groups what each upstream and certificate delivered; the
 * history keeps the newest sync */
static void test_provenance_history(void **state)
{
	struct tsu *t = *state;
	struct storage_group_row g[] = { grp(GA, "Alpha", "", 0) };
	struct storage_deployment_row d = dep(D1, U1, 1, GA, STORAGE_ACTION_INSTALL);
	struct storage_origin o = { .upstream_url = UP, .cert_sha256 = CERT, .source = "sync" };
	struct storage_provenance_row p;
	struct storage_sync_record r, last;
	struct wsus_update *u1 = tsu_update(U1, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_update *u2 = tsu_update(U2, 1, WSUS_UT_SOFTWARE, "<b/>");

	assert_int_equal(storage_sync_last(t->st, 0, &last, NULL), -ENOENT);
	assert_int_equal(storage_revision_put(t->st, u1, &o, NULL, NULL, NULL), 0);
	tsu_put(t->st, u2, NULL);
	apply_groups(t->st, g, 1, 1);
	apply_dep(t->st, &d);
	memset(&p, 0, sizeof(p));
	assert_int_equal(storage_sync_provenance(t->st, collect_prov, &p, NULL), 0);
	assert_string_equal(p.upstream, UP);
	assert_string_equal(p.cert_sha256, CERT);
	assert_int_equal(p.revisions, 1);
	assert_int_equal(p.deployments, 1);
	assert_true(p.last_ms > 0);

	memset(&r, 0, sizeof(r));
	snprintf(r.upstream, sizeof(r.upstream), "%s", UP);
	r.started_ms = 10;
	r.finished_ms = 20;
	r.new_revisions = 3;
	assert_int_equal(storage_sync_history_add(t->st, &r, NULL, NULL), 0);
	r.new_revisions = 4;
	assert_int_equal(storage_sync_history_add(t->st, &r, NULL, NULL), 0);
	assert_int_equal(storage_sync_last(t->st, 0, &last, NULL), 0);
	assert_int_equal(last.new_revisions, 4);
	assert_string_equal(last.upstream, UP);
	assert_string_equal(last.error, "");
	wsus_update_free(u1);
	wsus_update_free(u2);
}

static int collect_run(const struct storage_sync_record *r, void *ctx)
{
	struct storage_sync_record *v = ctx;
	size_t i = 0;

	while (v[i].id != 0)
		i++;
	v[i] = *r;
	return 0;
}

/* 3.3 every run is recorded: a published row completed with its payload
 * bytes (or turned failed by a later error), a failed run; newest first,
 * counted by result, the newest success found past a failure */
static void test_history_runs(void **state)
{
	struct tsu *t = *state;
	struct storage_sync_record r, last, v[4];
	int64_t id1 = 0, id2 = 0, ok = -1, bad = -1;

	memset(&r, 0, sizeof(r));
	snprintf(r.upstream, sizeof(r.upstream), "%s", UP);
	r.started_ms = 100;
	r.finished_ms = 150;
	r.new_revisions = 5;
	assert_int_equal(storage_sync_history_add(t->st, &r, &id1, NULL), 0);
	assert_int_equal(storage_sync_history_finish(t->st, id1, 400, 12345, NULL, NULL), 0);
	r.started_ms = 500;
	assert_int_equal(storage_sync_history_add(t->st, &r, &id2, NULL), 0);
	assert_int_equal(storage_sync_history_finish(t->st, id2, 600, 7, "content: cancelled", NULL), 0);
	r.started_ms = 700;
	r.finished_ms = 800;
	r.new_revisions = 0;
	snprintf(r.error, sizeof(r.error), "auth: refused");
	assert_int_equal(storage_sync_history_add(t->st, &r, NULL, NULL), 0);

	memset(v, 0, sizeof(v));
	assert_int_equal(storage_sync_history_foreach(t->st, 10, collect_run, v, NULL), 0);
	assert_int_equal(v[0].started_ms, 700);
	assert_string_equal(v[0].error, "auth: refused");
	assert_int_equal(v[1].id, id2);
	assert_string_equal(v[1].error, "content: cancelled");
	assert_int_equal(v[1].content_bytes, 7);
	assert_int_equal(v[2].id, id1);
	assert_int_equal(v[2].finished_ms, 400);
	assert_int_equal(v[2].content_bytes, 12345);
	assert_int_equal(v[2].new_revisions, 5);
	assert_string_equal(v[2].error, "");
	assert_int_equal(v[3].id, 0);
	memset(v, 0, sizeof(v));
	assert_int_equal(storage_sync_history_foreach(t->st, 1, collect_run, v, NULL), 0);
	assert_int_equal(v[0].started_ms, 700);
	assert_int_equal(v[1].id, 0);

	assert_int_equal(storage_sync_counts(t->st, &ok, &bad, NULL), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(bad, 2);
	assert_int_equal(storage_sync_last(t->st, 0, &last, NULL), 0);
	assert_int_equal(last.started_ms, 700);
	assert_int_equal(storage_sync_last(t->st, 1, &last, NULL), 0);
	assert_int_equal(last.id, id1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_staged_invisible, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_stage_owner, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_publish_rollback, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_publish_commit, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_keys, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_groups, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_deployments, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_retire_local, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_hidden_and_eulas, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_files_wanted, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_provenance_history, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_history_runs, tsu_setup, tsu_teardown),
	};

	log_set_verbosity(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
