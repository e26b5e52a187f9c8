/*
 * storage_sync.c -- the database side of a sync with the upstream (the
 * downstream role, MS-WSUSSS 3.2): staging what a sync fetched, publishing it
 * in one transaction with the replica's groups, deployments, declines and
 * EULAs, the payloads the content phase still needs, and the provenance and
 * history that `status` shows. Arrays handed out are malloc'd and freed with
 * the matching *_free; rows handed to callbacks are valid during the call.
 *
 * Design notes (what keeps a half-synced catalogue invisible):
 * (1) Fetched documents go to sync_stage, a table no client or downstream
 *     query reads. Each GetUpdateData answer is staged in its own transaction,
 *     so a restart resumes from what is staged instead of fetching it again.
 * (2) The publishing transaction (opened by the caller with storage_begin)
 *     moves the staged documents into the catalogue with
 *     storage_revision_put, applies the replica's groups, deployments,
 *     declines and EULAs with the functions below, saves the anchors and
 *     empties sync_stage. Either all of it commits or none of it does.
 * (3) Every change below that alters what a client or a downstream server is
 *     told stamps the transaction's catalogue anchor (storage.c design note
 *     3), declines and group changes included, so that caches keyed by the
 *     anchor and downstream deltas see the change. A sync that changes
 *     nothing creates no anchor.
 * (4) Staging belongs to one upstream URL; staged rows of another upstream
 *     are dropped when a sync starts, never published.
 */
#include "storage_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_ALL_ID        "a0a08746-4dbe-4a37-9adf-9e7652c0b421"
#define GROUP_UNASSIGNED_ID "b73ca6ed-5727-47f3-84de-015e03f6a88a"
#define GROUP_NAME_MAX      256
#define JSON_IDS_MAX        (64u * 1024 * 1024)

/*---- Helpers ----*/

/* A statement of its own (not cached): these run once per sync or per batch. */
static int prep(struct storage *st, const char *sql, sqlite3_stmt **s, const char *what,
		struct err *e)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(*s);
		*s = NULL;
		return st_sql_err(st, e, rc, what);
	}
	return 0;
}

/* Step a one-shot statement to its end and finalize it. */
static int run_done(struct storage *st, sqlite3_stmt *s, const char *what, struct err *e)
{
	int rc = st_step_done(st, s, what, e);

	sqlite3_finalize(s);
	return rc;
}

/* ["guid",...] from n canonical GUIDs (nothing to escape). */
static char *guid_json(const char (*ids)[WSUS_GUID_LEN], size_t n, struct err *e)
{
	struct wsus_buf b;
	int rc;

	wsus_buf_init(&b, JSON_IDS_MAX);
	rc = wsus_buf_appends(&b, "[");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wsus_buf_printf(&b, "%s\"%s\"", i ? "," : "", ids[i]);
	if (rc == 0)
		rc = wsus_buf_appends(&b, "]");
	if (rc < 0) {
		wsus_buf_free(&b);
		err_set(e, rc, "id list too large");
		return NULL;
	}
	return wsus_buf_steal(&b, NULL);
}

static int check_guid(const char *in, char out[WSUS_GUID_LEN], const char *what, struct err *e)
{
	if (in == NULL || wsus_guid_normalize(in, out) < 0)
		return err_set(e, -EINVAL, "%s '%.40s' is not a GUID", what, in ? in : "(null)");
	return 0;
}

void storage_content_ext(const char *name, char out[10])
{
	st_content_ext(name, out);
}

/*---- Staging ----*/

static const char SQL_STAGE_DROP_OTHER[] = "DELETE FROM sync_stage WHERE upstream <> ?1";
static const char SQL_STAGE_COUNT[] = "SELECT count(*) FROM sync_stage";

int storage_stage_open(struct storage *st, const char *upstream, int64_t *kept, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc, dropped;

	if (upstream == NULL || upstream[0] == '\0')
		return err_set(e, -EINVAL, "no upstream given");
	rc = prep(st, SQL_STAGE_DROP_OTHER, &s, "drop staged documents", e);
	if (rc < 0)
		return rc;
	st_bind_text(s, 1, upstream);
	rc = run_done(st, s, "drop staged documents", e);
	if (rc < 0)
		return rc;
	dropped = sqlite3_changes(st->db);
	if (dropped > 0)
		log_info("storage", "dropped documents staged for another upstream count=%d", dropped);
	return storage_stage_count(st, kept, e);
}

int storage_stage_count(struct storage *st, int64_t *n, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_STAGE_COUNT, &s, "count staged documents", e);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*n = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = st_sql_err(st, e, rc, "count staged documents");
	}
	sqlite3_finalize(s);
	return rc;
}

static const char SQL_STAGE_PUT[] =
	"INSERT OR REPLACE INTO sync_stage(update_id, revision_number, upstream, list, xml, mu_urls,"
	" needs_keys, keys, cert_sha256, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9)";

static int stage_one(struct storage *st, sqlite3_stmt *s, const char *upstream,
		     const struct storage_stage_doc *d, struct err *e)
{
	char uid[WSUS_GUID_LEN];
	int rc;

	if (check_guid(d->update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	if (d->xml == NULL || d->xml_len == 0 || d->xml_len > WSUS_MAX_UPDATE_XML || d->revision < 0)
		return err_set(e, -EINVAL, "staged revision %s/%d has no usable document", uid, d->revision);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, d->revision);
	st_bind_text(s, 3, upstream);
	st_bind_text(s, 4, d->list ? d->list : "updates");
	sqlite3_bind_blob64(s, 5, d->xml, d->xml_len, SQLITE_STATIC);
	st_bind_text(s, 6, d->mu_urls != NULL && d->mu_urls[0] != '\0' ? d->mu_urls : NULL);
	sqlite3_bind_int(s, 7, d->needs_keys != 0);
	st_bind_text(s, 8, d->cert_sha256 != NULL && d->cert_sha256[0] != '\0' ? d->cert_sha256 : NULL);
	sqlite3_bind_int64(s, 9, d->fetched_ms);
	rc = st_step_done(st, s, "stage revision", e);
	return rc;
}

int storage_stage_put(struct storage *st, const char *upstream, const struct storage_stage_doc *docs,
		      size_t n, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (n == 0)
		return 0;
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = prep(st, SQL_STAGE_PUT, &s, "stage revision", e);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = stage_one(st, s, upstream, &docs[i], e);
	sqlite3_finalize(s);
	if (rc < 0) {
		st_tx_rollback(st);
		return rc;
	}
	return st_tx_commit(st, e);
}

static const char SQL_HAVE[] =
	"SELECT EXISTS (SELECT 1 FROM sync_stage WHERE update_id = ?1 AND revision_number = ?2),"
	" EXISTS (SELECT 1 FROM revision WHERE update_id = ?1 AND revision_number = ?2)";

int storage_sync_have(struct storage *st, const char *update_id, int revision, int *staged,
		      int *published, struct err *e)
{
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	/* Cached: called once per listed identity. */
	rc = st_prepare(st, SQL_HAVE, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (staged != NULL)
			*staged = sqlite3_column_int(s, 0);
		if (published != NULL)
			*published = sqlite3_column_int(s, 1);
		rc = 0;
	} else {
		rc = st_sql_err(st, e, rc, "look up revision");
	}
	st_stmt_done(s);
	return rc;
}

static const char SQL_STAGE_NEED_KEYS[] =
	"SELECT update_id, revision_number FROM sync_stage WHERE needs_keys = 1 AND keys IS NULL"
	" ORDER BY rowid";

int storage_stage_need_keys(struct storage *st, struct storage_stage_id **out, size_t *n,
			    struct err *e)
{
	struct storage_stage_id *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_STAGE_NEED_KEYS, &s, "list revisions needing keys", e);

	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = err_set(e, -ENOMEM, "out of memory");
				goto fail;
			}
			v = nv;
		}
		st_column_copy(s, 0, v[cnt].update_id, sizeof(v[cnt].update_id));
		v[cnt].revision = sqlite3_column_int(s, 1);
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		rc = st_sql_err(st, e, rc, "list revisions needing keys");
		goto fail;
	}
	sqlite3_finalize(s);
	*out = v;
	*n = cnt;
	return 0;
fail:
	sqlite3_finalize(s);
	free(v);
	return rc;
}

static const char SQL_STAGE_KEYS[] =
	"UPDATE sync_stage SET keys = ?3 WHERE update_id = ?1 AND revision_number = ?2";
static const char SQL_STAGE_PROVENANCE[] =
	"UPDATE sync_stage SET provenance = ?3 WHERE update_id = ?1 AND revision_number = ?2";

/* One text column of a staged document (sql binds ?1 uid, ?2 rev, ?3 text). */
static int stage_set_text(struct storage *st, const char *sql, const char *what, const char *update_id,
			  int revision, const char *text, struct err *e)
{
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	rc = prep(st, sql, &s, what, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	st_bind_text(s, 3, text);
	return run_done(st, s, what, e);
}

int storage_stage_set_keys(struct storage *st, const char *update_id, int revision, const char *keys,
			   struct err *e)
{
	return stage_set_text(st, SQL_STAGE_KEYS, "stage decryption keys", update_id, revision,
			      keys ? keys : "", e);
}

int storage_stage_set_provenance(struct storage *st, const char *update_id, int revision,
				 const char *chain, struct err *e)
{
	return stage_set_text(st, SQL_STAGE_PROVENANCE, "stage provenance", update_id, revision, chain, e);
}

static const char SQL_STAGE_ALL[] =
	"SELECT update_id, revision_number, list, xml, mu_urls, keys, cert_sha256, fetched_at, provenance"
	" FROM sync_stage ORDER BY rowid";

int storage_stage_foreach(struct storage *st, int (*fn)(const struct storage_stage_row *r, void *ctx),
			  void *ctx, struct err *e)
{
	struct storage_stage_row r;
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_STAGE_ALL, &s, "read staged documents", e);

	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int x;

		memset(&r, 0, sizeof(r));
		r.update_id = (const char *)sqlite3_column_text(s, 0);
		r.revision = sqlite3_column_int(s, 1);
		r.list = (const char *)sqlite3_column_text(s, 2);
		r.xml = sqlite3_column_blob(s, 3);
		r.xml_len = (size_t)sqlite3_column_bytes(s, 3);
		r.mu_urls = (const char *)sqlite3_column_text(s, 4);
		r.keys = (const char *)sqlite3_column_text(s, 5);
		r.cert_sha256 = (const char *)sqlite3_column_text(s, 6);
		r.fetched_ms = sqlite3_column_int64(s, 7);
		r.provenance = (const char *)sqlite3_column_text(s, 8);
		x = fn(&r, ctx);
		if (x != 0) {
			sqlite3_finalize(s);
			return x;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read staged documents");
	sqlite3_finalize(s);
	return rc;
}

int storage_stage_clear(struct storage *st, struct err *e)
{
	return st_exec(st, "DELETE FROM sync_stage", e);
}

/*---- Publishing: files ----*/

static const char SQL_FILE_KEY[] =
	"UPDATE file SET decryption_key = ?2 WHERE sha1 = ?1 AND decryption_key IS NOT ?2";

int storage_sync_file_key(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], const uint8_t *key,
			  size_t key_len, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (key_len > 4096)
		return err_set(e, -EINVAL, "decryption key longer than 4096 bytes");
	rc = prep(st, SQL_FILE_KEY, &s, "store decryption key", e);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	if (key != NULL && key_len > 0)
		sqlite3_bind_blob(s, 2, key, (int)key_len, SQLITE_TRANSIENT);
	return run_done(st, s, "store decryption key", e);
}

/*---- Publishing: target groups ----*/

static int group_valid(const struct storage_group_row *g, char id[WSUS_GUID_LEN], struct err *e)
{
	size_t n = strlen(g->name);

	if (check_guid(g->group_id, id, "TargetGroupID", e) < 0)
		return -EINVAL;
	if (n == 0 || n > GROUP_NAME_MAX)
		return err_set(e, -EINVAL, "target group %s has no usable name", id);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)g->name[i] < 0x20 || g->name[i] == 0x7f)
			return err_set(e, -EINVAL, "target group %s: name contains a control character", id);
	return 0;
}

/* The built-in groups are ours as much as the upstream's: never dropped. */
static const char *const SQL_GROUPS_APPLY[] = {
	/* 1. detach, so that a deleted parent does not take a kept child with it */
	"UPDATE target_group SET parent_id = NULL WHERE builtin = 0 AND parent_id IS NOT NULL",
	/* 2. groups the upstream no longer has (their deployments follow by cascade) */
	"DELETE FROM target_group WHERE builtin = 0"
	" AND group_id NOT IN (SELECT json_extract(value, '$[0]') FROM json_each(?1))",
	/* 3. free every name the list uses (a rename may swap two names) */
	"UPDATE target_group SET name = group_id WHERE builtin = 0"
	" AND group_id IN (SELECT json_extract(value, '$[0]') FROM json_each(?1))",
	/* 4. insert or rename */
	"INSERT INTO target_group(group_id, name, parent_id, builtin, created_at)"
	" SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), NULL, 0, ?2"
	" FROM json_each(?1) WHERE json_extract(value, '$[0]') NOT IN (?3, ?4)"
	" ON CONFLICT(group_id) DO UPDATE SET name = excluded.name",
	/* 5. parents: the named one when it exists, else All Computers */
	"UPDATE target_group SET parent_id = coalesce((SELECT p.group_id FROM json_each(?1) j"
	"   JOIN target_group p ON p.group_id = json_extract(j.value, '$[2]')"
	"   WHERE json_extract(j.value, '$[0]') = target_group.group_id AND p.group_id <> target_group.group_id),"
	"   ?3)"
	" WHERE builtin = 0",
};

/* [[id, name, parent], ...] with the names JSON-escaped. */
static char *groups_json(const struct storage_group_row *g, size_t n, struct err *e)
{
	char id[WSUS_GUID_LEN], parent[WSUS_GUID_LEN];
	struct wsus_buf b;
	int rc;

	wsus_buf_init(&b, JSON_IDS_MAX);
	rc = wsus_buf_appends(&b, "[");
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = group_valid(&g[i], id, e);
		if (rc < 0)
			break;
		if (wsus_guid_normalize(g[i].parent_id, parent) < 0)
			parent[0] = '\0';
		rc = wsus_buf_printf(&b, "%s[\"%s\",\"", i ? "," : "", id);
		for (const unsigned char *p = (const unsigned char *)g[i].name; *p && rc == 0; p++)
			rc = *p == '"' || *p == '\\' ? wsus_buf_printf(&b, "\\%c", *p) : wsus_buf_append(&b, p, 1);
		if (rc == 0)
			rc = wsus_buf_printf(&b, "\",\"%s\"]", parent);
		if (rc < 0)
			err_set(e, rc, "group list too large");
	}
	if (rc == 0)
		rc = wsus_buf_appends(&b, "]");
	if (rc < 0) {
		wsus_buf_free(&b);
		return NULL;
	}
	return wsus_buf_steal(&b, NULL);
}

static const char SQL_GROUPS_FINGERPRINT[] =
	"SELECT group_concat(group_id || '|' || name || '|' || coalesce(parent_id, ''), ';')"
	" FROM (SELECT * FROM target_group ORDER BY group_id)";

static char *groups_fingerprint(struct storage *st)
{
	sqlite3_stmt *s = NULL;
	char *fp = NULL;

	if (prep(st, SQL_GROUPS_FINGERPRINT, &s, "read groups", NULL) < 0)
		return NULL;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		fp = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return fp;
}

int storage_sync_groups_apply(struct storage *st, const struct storage_group_row *groups, size_t n,
			      int *changed, struct err *e)
{
	char *json = groups_json(groups, n, e), *before = NULL, *after = NULL;
	sqlite3_stmt *s = NULL;
	int64_t anchor;
	int rc = json ? 0 : (e && e->code ? e->code : -EINVAL);

	if (rc < 0)
		return rc;
	rc = st_tx_begin(st, e);
	if (rc < 0)
		goto out;
	before = groups_fingerprint(st);
	for (size_t i = 0; i < sizeof(SQL_GROUPS_APPLY) / sizeof(SQL_GROUPS_APPLY[0]) && rc == 0; i++) {
		rc = prep(st, SQL_GROUPS_APPLY[i], &s, "apply target groups", e);
		if (rc < 0)
			break;
		sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(s) >= 2)
			sqlite3_bind_int64(s, 2, wsus_now_ms());
		if (sqlite3_bind_parameter_count(s) >= 3)
			sqlite3_bind_text(s, 3, GROUP_ALL_ID, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(s) >= 4)
			sqlite3_bind_text(s, 4, GROUP_UNASSIGNED_ID, -1, SQLITE_STATIC);
		rc = run_done(st, s, "apply target groups", e);
	}
	after = rc == 0 ? groups_fingerprint(st) : NULL;
	if (rc == 0 && (before == NULL || after == NULL || strcmp(before, after) != 0)) {
		/* Group membership decides what clients are offered (note 3). */
		rc = st_anchor(st, "deployment", &anchor, e);
		if (changed != NULL)
			*changed = 1;
	} else if (rc == 0 && changed != NULL) {
		*changed = 0;
	}
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
out:
	free(json);
	free(before);
	free(after);
	return rc;
}

/*---- Publishing: deployments ----*/

static const char SQL_DEP_GET[] =
	"SELECT update_id, revision_number, group_id, action, coalesce(deadline, ''),"
	" download_priority, is_assigned, coalesce(go_live_time, ''), coalesce(admin_name, ''), dead"
	" FROM deployment WHERE deployment_id = ?1";
static const char SQL_DEP_KILL_GUID[] =
	"UPDATE deployment SET dead = 1, anchor = ?2, last_change_time = ?3,"
	" origin_upstream = ?4, origin_cert_sha256 = ?5, origin_time = ?3"
	" WHERE deployment_id = ?1 AND dead = 0";
static const char SQL_DEP_KILL_OTHERS[] =
	"UPDATE deployment SET dead = 1, anchor = ?4, last_change_time = ?5"
	" WHERE group_id = ?1 AND update_id = ?2 AND deployment_id <> ?3 AND dead = 0";
static const char SQL_DEP_UPSERT[] =
	"INSERT INTO deployment(deployment_id, update_id, revision_number, group_id, action, deadline,"
	" download_priority, is_assigned, go_live_time, last_change_time, admin_name, dead, anchor,"
	" origin_upstream, origin_cert_sha256, origin_time)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13, ?14, ?10)"
	" ON CONFLICT(deployment_id) DO UPDATE SET update_id = excluded.update_id,"
	" revision_number = excluded.revision_number, group_id = excluded.group_id,"
	" action = excluded.action, deadline = excluded.deadline,"
	" download_priority = excluded.download_priority, is_assigned = excluded.is_assigned,"
	" go_live_time = excluded.go_live_time, last_change_time = excluded.last_change_time,"
	" admin_name = excluded.admin_name, dead = 0, anchor = excluded.anchor,"
	" origin_upstream = excluded.origin_upstream, origin_cert_sha256 = excluded.origin_cert_sha256,"
	" origin_time = excluded.origin_time";
static const char SQL_GROUP_EXISTS[] = "SELECT 1 FROM target_group WHERE group_id = ?1";

/* A deployment normalised for storing: canonical ids, text fields bounded. */
struct dep_norm {
	char guid[WSUS_GUID_LEN];
	char uid[WSUS_GUID_LEN];
	char group[WSUS_GUID_LEN];
	const struct storage_deployment_row *d;
};

/* *state: -1 no row, 0 a dead row, 1 a live row identical to n, 2 a live row that differs. */
static int dep_state(struct storage *st, const struct dep_norm *n, int *state, struct err *e)
{
	const struct storage_deployment_row *d = n->d;
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_DEP_GET, &s, "look up deployment", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, n->guid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	*state = -1;
	if (rc == SQLITE_ROW) {
		int same = strcmp((const char *)sqlite3_column_text(s, 0), n->uid) == 0 &&
			   sqlite3_column_int(s, 1) == d->revision &&
			   strcmp((const char *)sqlite3_column_text(s, 2), n->group) == 0 &&
			   strcmp((const char *)sqlite3_column_text(s, 3), storage_action_name(d->action)) == 0 &&
			   strcmp((const char *)sqlite3_column_text(s, 4), d->deadline) == 0 &&
			   sqlite3_column_int(s, 5) == d->download_priority &&
			   sqlite3_column_int(s, 6) == (d->is_assigned != 0) &&
			   strcmp((const char *)sqlite3_column_text(s, 7), d->go_live) == 0 &&
			   strcmp((const char *)sqlite3_column_text(s, 8), d->admin_name) == 0;

		*state = sqlite3_column_int(s, 9) ? 0 : (same ? 1 : 2);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "look up deployment");
	}
	sqlite3_finalize(s);
	return rc;
}

static int kill_by_guid(struct storage *st, const struct dep_norm *n, const struct storage_origin *o,
			int *changed, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int64_t anchor;
	int rc, state;

	rc = dep_state(st, n, &state, e);
	if (rc < 0 || state <= 0)
		return rc;    /* unknown or already dead: nothing to retire */
	rc = st_anchor(st, "deployment", &anchor, e);
	if (rc == 0)
		rc = prep(st, SQL_DEP_KILL_GUID, &s, "retire deployment", e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, n->guid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, anchor);
	sqlite3_bind_int64(s, 3, wsus_now_ms());
	st_bind_text(s, 4, o ? o->upstream_url : NULL);
	st_bind_text(s, 5, o ? o->cert_sha256 : NULL);
	rc = run_done(st, s, "retire deployment", e);
	if (rc == 0)
		*changed = 1;
	return rc;
}

static int group_exists(struct storage *st, const char *group, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_GROUP_EXISTS, &s, "look up target group", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, group, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ?
		err_set(e, -ENOENT, "names target group %s, which the upstream did not send", group) :
		st_sql_err(st, e, rc, "look up target group");
	sqlite3_finalize(s);
	return rc;
}

static int bind_upsert(sqlite3_stmt *s, const struct dep_norm *n, int64_t anchor, int64_t now,
		       const struct storage_origin *o)
{
	const struct storage_deployment_row *d = n->d;

	sqlite3_bind_text(s, 1, n->guid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, n->uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 3, d->revision);
	sqlite3_bind_text(s, 4, n->group, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, storage_action_name(d->action), -1, SQLITE_STATIC);
	st_bind_text(s, 6, d->deadline[0] ? d->deadline : NULL);
	sqlite3_bind_int(s, 7, d->download_priority);
	sqlite3_bind_int(s, 8, d->is_assigned != 0);
	st_bind_text(s, 9, d->go_live[0] ? d->go_live : NULL);
	sqlite3_bind_int64(s, 10, now);
	st_bind_text(s, 11, d->admin_name[0] ? d->admin_name : NULL);
	sqlite3_bind_int64(s, 12, anchor);
	st_bind_text(s, 13, o ? o->upstream_url : NULL);
	return st_bind_text(s, 14, o ? o->cert_sha256 : NULL);
}

static int put_live(struct storage *st, const struct dep_norm *n, const struct storage_origin *o,
		    int *changed, struct err *e)
{
	int64_t anchor, now = wsus_now_ms();
	sqlite3_stmt *s = NULL;
	int rc, state;

	rc = dep_state(st, n, &state, e);
	if (rc < 0 || state == 1)
		return rc;
	rc = group_exists(st, n->group, e);
	if (rc == 0)
		rc = st_anchor(st, "deployment", &anchor, e);
	/* One live deployment per update and group: the new one replaces. */
	if (rc == 0)
		rc = prep(st, SQL_DEP_KILL_OTHERS, &s, "retire replaced deployment", e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, n->group, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, n->uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, n->guid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, anchor);
	sqlite3_bind_int64(s, 5, now);
	rc = run_done(st, s, "retire replaced deployment", e);
	if (rc == 0)
		rc = prep(st, SQL_DEP_UPSERT, &s, "store deployment", e);
	if (rc < 0)
		return rc;
	bind_upsert(s, n, anchor, now, o);
	rc = run_done(st, s, "store deployment", e);
	if (rc == 0)
		*changed = 1;
	return rc;
}

int storage_sync_deployment_apply(struct storage *st, const struct storage_deployment_row *d,
				  const struct storage_origin *origin, int *changed, struct err *e)
{
	struct dep_norm n = { .d = d };
	int rc, did = 0;

	if (check_guid(d->deployment_id, n.guid, "DeploymentGuid", e) < 0)
		return -EINVAL;
	if (!d->dead) {
		if (check_guid(d->update_id, n.uid, "UpdateId", e) < 0 ||
		    check_guid(d->group_id, n.group, "TargetGroupId", e) < 0)
			return -EINVAL;
		if ((unsigned)d->action > STORAGE_ACTION_BLOCK || d->revision < 0 ||
		    d->download_priority < 1 || d->download_priority > 3)
			return err_set(e, -EINVAL, "deployment %s has an out-of-range field", n.guid);
	}
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = d->dead ? kill_by_guid(st, &n, origin, &did, e) : put_live(st, &n, origin, &did, e);
	if (rc < 0) {
		st_tx_rollback(st);
		if (rc == -ENOENT)
			err_prefix(e, "deployment %s", n.guid);
		return rc;
	}
	rc = st_tx_commit(st, e);
	if (rc == 0 && changed != NULL)
		*changed = did;
	return rc;
}

static const char SQL_DEP_LOCAL_COUNT[] =
	"SELECT count(*) FROM deployment WHERE dead = 0 AND origin_upstream IS NOT ?1";
static const char SQL_DEP_LOCAL_KILL[] =
	"UPDATE deployment SET dead = 1, anchor = ?1, last_change_time = ?2"
	" WHERE dead = 0 AND origin_upstream IS NOT ?3";

int storage_sync_retire_others(struct storage *st, const char *upstream, int *retired, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int64_t n = 0, anchor;
	int rc = st_tx_begin(st, e);

	if (rc < 0)
		return rc;
	rc = prep(st, SQL_DEP_LOCAL_COUNT, &s, "count local deployments", e);
	if (rc == 0)
		st_bind_text(s, 1, upstream);
	if (rc == 0) {
		rc = sqlite3_step(s) == SQLITE_ROW ? 0 : st_sql_err(st, e, SQLITE_ERROR, "count local deployments");
		n = rc == 0 ? sqlite3_column_int64(s, 0) : 0;
		sqlite3_finalize(s);
	}
	if (rc == 0 && n > 0)
		rc = st_anchor(st, "deployment", &anchor, e);
	if (rc == 0 && n > 0)
		rc = prep(st, SQL_DEP_LOCAL_KILL, &s, "retire local deployments", e);
	if (rc == 0 && n > 0) {
		sqlite3_bind_int64(s, 1, anchor);
		sqlite3_bind_int64(s, 2, wsus_now_ms());
		st_bind_text(s, 3, upstream);
		rc = run_done(st, s, "retire local deployments", e);
	}
	if (rc < 0) {
		st_tx_rollback(st);
		return rc;
	}
	rc = st_tx_commit(st, e);
	if (rc == 0 && retired != NULL)
		*retired = (int)n;
	return rc;
}

/*---- Publishing: declines and EULAs ----*/

static const char SQL_HIDDEN_APPLY[] =
	"UPDATE revision SET hidden = (update_id IN (SELECT value FROM json_each(?1)))"
	" WHERE hidden IS NOT (update_id IN (SELECT value FROM json_each(?1)))";
static const char SQL_HIDDEN_KILL[] =
	"UPDATE deployment SET dead = 1, anchor = ?2, last_change_time = ?3"
	" WHERE dead = 0 AND update_id IN (SELECT value FROM json_each(?1))";

int storage_sync_hidden_apply(struct storage *st, const char (*ids)[WSUS_GUID_LEN], size_t n,
			      int *changed, struct err *e)
{
	char *json = guid_json(ids, n, e);
	sqlite3_stmt *s = NULL;
	int64_t anchor = 0;
	int rc, flipped = 0;

	if (json == NULL)
		return e && e->code ? e->code : -ENOMEM;
	rc = st_tx_begin(st, e);
	if (rc < 0) {
		free(json);
		return rc;
	}
	rc = prep(st, SQL_HIDDEN_APPLY, &s, "apply declines", e);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
		rc = run_done(st, s, "apply declines", e);
		flipped = rc == 0 ? sqlite3_changes(st->db) : 0;
	}
	if (rc == 0 && flipped > 0)
		rc = st_anchor(st, "decline", &anchor, e);
	/* A declined update is deployed nowhere, whatever arrived with it. */
	if (rc == 0 && flipped > 0)
		rc = prep(st, SQL_HIDDEN_KILL, &s, "retire deployments of declined updates", e);
	if (rc == 0 && flipped > 0) {
		sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, anchor);
		sqlite3_bind_int64(s, 3, wsus_now_ms());
		rc = run_done(st, s, "retire deployments of declined updates", e);
	}
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	free(json);
	if (rc == 0 && changed != NULL)
		*changed = flipped;
	return rc;
}

static const char SQL_EULA_ACCEPT[] =
	"INSERT INTO eula(eula_id, accepted, accepted_at) SELECT value, 1, ?2 FROM json_each(?1) WHERE true"
	" ON CONFLICT(eula_id) DO UPDATE SET accepted = 1, accepted_at = excluded.accepted_at"
	" WHERE eula.accepted = 0";
static const char SQL_EULA_UNACCEPT[] =
	"UPDATE eula SET accepted = 0 WHERE accepted = 1"
	" AND eula_id NOT IN (SELECT value FROM json_each(?1))";

int storage_sync_eulas_apply(struct storage *st, const char (*ids)[WSUS_GUID_LEN], size_t n,
			     struct err *e)
{
	char *json = guid_json(ids, n, e);
	sqlite3_stmt *s = NULL;
	int rc;

	if (json == NULL)
		return e && e->code ? e->code : -ENOMEM;
	rc = st_tx_begin(st, e);
	if (rc < 0) {
		free(json);
		return rc;
	}
	rc = prep(st, SQL_EULA_ACCEPT, &s, "accept EULAs", e);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, wsus_now_ms());
		rc = run_done(st, s, "accept EULAs", e);
	}
	if (rc == 0)
		rc = prep(st, SQL_EULA_UNACCEPT, &s, "withdraw EULA acceptances", e);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
		rc = run_done(st, s, "withdraw EULA acceptances", e);
	}
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	free(json);
	return rc;
}

/*---- History and provenance ----*/

static const char SQL_HISTORY_ADD[] =
	"INSERT INTO sync_history(kind, started_at, finished_at, result, upstream, cert_sha256,"
	" pin_verdict, new_revisions, changed_revisions, error, content_bytes)"
	" VALUES ('sync', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

int storage_sync_history_add(struct storage *st, const struct storage_sync_record *r, int64_t *id,
			     struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_HISTORY_ADD, &s, "record sync", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, r->started_ms);
	sqlite3_bind_int64(s, 2, r->finished_ms);
	sqlite3_bind_text(s, 3, r->error[0] ? "failed" : "succeeded", -1, SQLITE_STATIC);
	st_bind_text(s, 4, r->upstream);
	st_bind_text(s, 5, r->cert_sha256[0] ? r->cert_sha256 : NULL);
	st_bind_text(s, 6, r->pin_verdict[0] ? r->pin_verdict : NULL);
	sqlite3_bind_int64(s, 7, r->new_revisions);
	sqlite3_bind_int64(s, 8, r->changed_revisions);
	st_bind_text(s, 9, r->error[0] ? r->error : NULL);
	sqlite3_bind_int64(s, 10, r->content_bytes);
	rc = run_done(st, s, "record sync", e);
	if (rc == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

static const char SQL_HISTORY_FINISH[] =
	"UPDATE sync_history SET finished_at = ?2, content_bytes = ?3,"
	" result = CASE WHEN ?4 IS NULL THEN result ELSE 'failed' END, error = coalesce(?4, error)"
	" WHERE sync_id = ?1";

int storage_sync_history_finish(struct storage *st, int64_t id, int64_t finished_ms, int64_t content_bytes,
				const char *error, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_HISTORY_FINISH, &s, "complete the sync record", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, finished_ms);
	sqlite3_bind_int64(s, 3, content_bytes);
	st_bind_text(s, 4, error != NULL && error[0] != '\0' ? error : NULL);
	return run_done(st, s, "complete the sync record", e);
}

#define SQL_HISTORY_COLUMNS \
	"SELECT sync_id, started_at, coalesce(finished_at, 0), coalesce(upstream, ''), coalesce(cert_sha256, '')," \
	" coalesce(pin_verdict, ''), new_revisions, changed_revisions, content_bytes," \
	" CASE WHEN result = 'failed' THEN coalesce(error, 'failed') ELSE '' END FROM sync_history"

static const char SQL_HISTORY_LAST[] =
	SQL_HISTORY_COLUMNS " WHERE kind = 'sync' ORDER BY sync_id DESC LIMIT 1";
static const char SQL_HISTORY_LAST_OK[] =
	SQL_HISTORY_COLUMNS " WHERE kind = 'sync' AND result = 'succeeded' ORDER BY sync_id DESC LIMIT 1";
static const char SQL_HISTORY_LIST[] =
	SQL_HISTORY_COLUMNS " WHERE kind = 'sync' ORDER BY sync_id DESC LIMIT ?1";

static void history_row(sqlite3_stmt *s, struct storage_sync_record *out)
{
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	out->started_ms = sqlite3_column_int64(s, 1);
	out->finished_ms = sqlite3_column_int64(s, 2);
	st_column_copy(s, 3, out->upstream, sizeof(out->upstream));
	st_column_copy(s, 4, out->cert_sha256, sizeof(out->cert_sha256));
	st_column_copy(s, 5, out->pin_verdict, sizeof(out->pin_verdict));
	out->new_revisions = sqlite3_column_int64(s, 6);
	out->changed_revisions = sqlite3_column_int64(s, 7);
	out->content_bytes = sqlite3_column_int64(s, 8);
	st_column_copy(s, 9, out->error, sizeof(out->error));
}

int storage_sync_last(struct storage *st, int ok_only, struct storage_sync_record *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, ok_only ? SQL_HISTORY_LAST_OK : SQL_HISTORY_LAST, &s, "read sync history", e);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		history_row(s, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : st_sql_err(st, e, rc, "read sync history");
	}
	sqlite3_finalize(s);
	return rc;
}

int storage_sync_history_foreach(struct storage *st, int limit,
				 int (*fn)(const struct storage_sync_record *r, void *ctx), void *ctx,
				 struct err *e)
{
	struct storage_sync_record r;
	sqlite3_stmt *s = NULL;
	int step = SQLITE_DONE, rc = prep(st, SQL_HISTORY_LIST, &s, "read sync history", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, limit);
	rc = 0;
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		history_row(s, &r);
		rc = fn(&r, ctx);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = st_sql_err(st, e, step, "read sync history");
	sqlite3_finalize(s);
	return rc;
}

static const char SQL_HISTORY_COUNTS[] =
	"SELECT coalesce(sum(result = 'succeeded'), 0), coalesce(sum(result = 'failed'), 0)"
	" FROM sync_history WHERE kind = 'sync'";

int storage_sync_counts(struct storage *st, int64_t *succeeded, int64_t *failed, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_HISTORY_COUNTS, &s, "count sync runs", e);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*succeeded = sqlite3_column_int64(s, 0);
		*failed = sqlite3_column_int64(s, 1);
		rc = 0;
	} else {
		rc = st_sql_err(st, e, rc, "count sync runs");
	}
	sqlite3_finalize(s);
	return rc;
}

/* One row per (upstream, certificate): what it delivered and when. */
static const char SQL_PROVENANCE[] =
	"SELECT up, cert, sum(revs), sum(deps), min(t0), max(t1) FROM ("
	"  SELECT coalesce(origin_upstream, '') AS up, coalesce(origin_cert_sha256, '') AS cert,"
	"         count(*) AS revs, 0 AS deps, min(origin_time) AS t0, max(origin_time) AS t1"
	"  FROM revision GROUP BY 1, 2"
	"  UNION ALL"
	"  SELECT origin_upstream, coalesce(origin_cert_sha256, ''), 0, count(*),"
	"         min(origin_time), max(origin_time)"
	"  FROM deployment WHERE origin_upstream IS NOT NULL AND dead = 0 GROUP BY 1, 2)"
	" GROUP BY up, cert ORDER BY up, max(t1) DESC";

int storage_sync_provenance(struct storage *st,
			    int (*fn)(const struct storage_provenance_row *p, void *ctx), void *ctx,
			    struct err *e)
{
	struct storage_provenance_row p;
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_PROVENANCE, &s, "read provenance", e);

	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int x;

		memset(&p, 0, sizeof(p));
		st_column_copy(s, 0, p.upstream, sizeof(p.upstream));
		st_column_copy(s, 1, p.cert_sha256, sizeof(p.cert_sha256));
		p.revisions = sqlite3_column_int64(s, 2);
		p.deployments = sqlite3_column_int64(s, 3);
		p.first_ms = sqlite3_column_int64(s, 4);
		p.last_ms = sqlite3_column_int64(s, 5);
		x = fn(&p, ctx);
		if (x != 0) {
			sqlite3_finalize(s);
			return x;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read provenance");
	sqlite3_finalize(s);
	return rc;
}

/*---- Content the sync still has to fetch ----*/

/* Missing payloads of the catalogue, and quarantined ones whose last failure
 * is old enough to try again; with approved_only, only payloads of updates
 * approved for install (directly or through a bundle). PSF (Express) files
 * are left out: this server does not host them (ServerHostsPsfFiles). Only
 * payloads the latest revision of an update lists are wanted: what only
 * older revisions list is what cleanup removes (storage_cleanup.c note 1). */
static const char SQL_FILES_WANTED[] =
	"SELECT f.sha1, f.sha256, f.size, f.file_name, f.patching_type, f.mu_url FROM file f"
	" WHERE (f.state = 'missing' OR (f.state = 'quarantined' AND"
	"        coalesce((SELECT max(q.time) FROM quarantine q WHERE q.sha1 = f.sha1), 0) < ?2))"
	"   AND coalesce(f.patching_type, '') NOT IN ('Express', 'express')"
	"   AND EXISTS (SELECT 1 FROM revision_file rf JOIN revision r ON r.revision_id = rf.revision_id"
	"     WHERE rf.sha1 = f.sha1 AND r.revision_number = (SELECT max(l.revision_number) FROM revision l"
	"                                                     WHERE l.update_id = r.update_id)"
	"       AND (?1 = 0"
	"       OR EXISTS (SELECT 1 FROM deployment d WHERE d.update_id = r.update_id AND d.dead = 0"
	"                  AND d.action = 'install')"
	"       OR EXISTS (SELECT 1 FROM bundle b JOIN revision p ON p.revision_id = b.revision_id"
	"                  JOIN deployment d ON d.update_id = p.update_id AND d.dead = 0"
	"                  AND d.action = 'install' WHERE b.bundled_update_id = r.update_id)))"
	" ORDER BY f.sha1";

void storage_sync_files_free(struct wsus_file *files, size_t n)
{
	for (size_t i = 0; files != NULL && i < n; i++) {
		free(files[i].file_name);
		free(files[i].patching_type);
		free(files[i].mu_url);
	}
	free(files);
}

static int fill_wanted(sqlite3_stmt *s, struct wsus_file *f)
{
	const char *name = (const char *)sqlite3_column_text(s, 3);
	const char *pt = (const char *)sqlite3_column_text(s, 4);
	const char *mu = (const char *)sqlite3_column_text(s, 5);

	memset(f, 0, sizeof(*f));
	if (sqlite3_column_bytes(s, 0) == WSUS_SHA1_LEN)
		memcpy(f->sha1, sqlite3_column_blob(s, 0), WSUS_SHA1_LEN);
	if (sqlite3_column_bytes(s, 1) == WSUS_SHA256_LEN) {
		memcpy(f->sha256, sqlite3_column_blob(s, 1), WSUS_SHA256_LEN);
		f->has_sha256 = 1;
	}
	f->size = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 2);
	f->file_name = name ? strdup(name) : NULL;
	f->patching_type = pt ? strdup(pt) : NULL;
	f->mu_url = mu ? strdup(mu) : NULL;
	return (name && f->file_name == NULL) || (pt && f->patching_type == NULL) ||
	       (mu && f->mu_url == NULL) ? -ENOMEM : 0;
}

int storage_sync_files_wanted(struct storage *st, int approved_only, int64_t retry_before_ms,
			      struct wsus_file **out, size_t *n, struct err *e)
{
	struct wsus_file *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_FILES_WANTED, &s, "list payloads to fetch", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, approved_only != 0);
	sqlite3_bind_int64(s, 2, retry_before_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				goto oom;
			v = nv;
		}
		if (fill_wanted(s, &v[cnt++]) < 0)
			goto oom;
	}
	if (rc != SQLITE_DONE) {
		rc = st_sql_err(st, e, rc, "list payloads to fetch");
		sqlite3_finalize(s);
		storage_sync_files_free(v, cnt);
		return rc;
	}
	sqlite3_finalize(s);
	*out = v;
	*n = cnt;
	return 0;
oom:
	sqlite3_finalize(s);
	storage_sync_files_free(v, cnt);
	return err_set(e, -ENOMEM, "out of memory");
}

/*---- The numbers a rollup reports about this server ----*/

static const char SQL_SUMMARY[] =
	"SELECT"
	" (SELECT count(*) FROM revision_latest WHERE update_type IN ('Software', 'Driver')),"
	" (SELECT count(*) FROM revision_latest WHERE update_type IN ('Software', 'Driver') AND hidden = 1),"
	" (SELECT count(DISTINCT d.update_id) FROM deployment d JOIN revision_latest r"
	"    ON r.update_id = d.update_id WHERE d.dead = 0 AND d.action = 'install'"
	"    AND r.update_type IN ('Software', 'Driver')),"
	" (SELECT count(DISTINCT r.update_id) FROM revision_latest r JOIN revision_file rf"
	"    ON rf.revision_id = r.revision_id JOIN file f ON f.sha1 = rf.sha1"
	"    WHERE f.state <> 'present' AND EXISTS (SELECT 1 FROM deployment d WHERE d.update_id = r.update_id"
	"    AND d.dead = 0 AND d.action = 'install')),"
	" (SELECT count(*) FROM target_group WHERE builtin = 0),"
	" (SELECT count(*) FROM computer WHERE parent_server_id IS NULL)";

int storage_sync_summary(struct storage *st, struct storage_sync_summary *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_SUMMARY, &s, "summarise the catalogue", e);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->updates = sqlite3_column_int64(s, 0);
		out->declined = sqlite3_column_int64(s, 1);
		out->approved = sqlite3_column_int64(s, 2);
		out->needing_files = sqlite3_column_int64(s, 3);
		out->custom_groups = sqlite3_column_int64(s, 4);
		out->computers = sqlite3_column_int64(s, 5);
		rc = 0;
	} else {
		rc = st_sql_err(st, e, rc, "summarise the catalogue");
	}
	sqlite3_finalize(s);
	return rc;
}
