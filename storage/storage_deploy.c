/*
 * storage_deploy.c -- computer target groups, approvals (deployments) and
 * declines. Groups are found by name (case-insensitive) or by GroupID. An
 * approval that changes anything kills the previous live deployment of that
 * update to that group and creates a new one, both stamped with one catalogue
 * anchor, so a downstream server sees a DeadDeployment and a new Deployment.
 * Nothing returned here needs freeing.
 */
#include "storage_int.h"

#include <errno.h>
#include <string.h>

#define GROUP_ALL_ID "a0a08746-4dbe-4a37-9adf-9e7652c0b421"
#define GROUP_NAME_MAX 256

static const char *const action_names[] = { "install", "uninstall", "evaluate", "block" };

const char *storage_action_name(enum storage_action a)
{
	if ((unsigned)a >= sizeof(action_names) / sizeof(action_names[0]))
		return "unknown";
	return action_names[a];
}

int storage_action_parse(const char *s, enum storage_action *out)
{
	if (s == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcasecmp(s, action_names[i]) == 0) {
			*out = (enum storage_action)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*---- Groups ----*/

static const char SQL_GROUP_FIND[] =
	"SELECT group_id FROM target_group WHERE name = ?1 OR group_id = ?2";

/* Find a group by name, or by GroupID when the text is a GUID. */
static int group_find(struct storage *st, const char *name, char id[WSUS_GUID_LEN], struct err *e)
{
	char guid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_GROUP_FIND, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	if (wsus_guid_normalize(name, guid) == 0)
		sqlite3_bind_text(s, 2, guid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		st_column_copy(s, 0, id, WSUS_GUID_LEN);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? err_set(e, -ENOENT, "no target group named '%s'", name) :
			st_sql_err(st, e, rc, "look up target group");
	}
	st_stmt_done(s);
	return rc;
}

static int check_group_name(const char *name, struct err *e)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > GROUP_NAME_MAX)
		return err_set(e, -EINVAL, "a group name has 1 to %d characters", GROUP_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return err_set(e, -EINVAL, "group name contains a control character");
	return 0;
}

static const char SQL_GROUP_INSERT[] =
	"INSERT INTO target_group(group_id, name, parent_id, builtin, created_at)"
	" VALUES (?1, ?2, ?3, 0, ?4)";

int storage_group_add(struct storage *st, const char *name, const char *parent, struct err *e)
{
	char id[WSUS_GUID_LEN], parent_id[WSUS_GUID_LEN] = GROUP_ALL_ID, dummy[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	rc = check_group_name(name, e);
	if (rc < 0)
		return rc;
	rc = wsus_guid_random(id);
	if (rc < 0)
		return err_set(e, rc, "cannot generate a group id");
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	if (parent != NULL) {
		rc = group_find(st, parent, parent_id, e);
		if (rc < 0)
			goto fail;
	}
	if (group_find(st, name, dummy, NULL) == 0) {
		rc = err_set(e, -EEXIST, "target group '%s' already exists", name);
		goto fail;
	}
	rc = st_prepare(st, SQL_GROUP_INSERT, &s, e);
	if (rc < 0)
		goto fail;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, parent_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, wsus_now_ms());
	rc = st_step_done(st, s, "insert target group", e);
	st_stmt_done(s);
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	if (rc == 0)
		log_info("storage", "target group added name=\"%s\" group_id=%s", name, id);
	return rc;
fail:
	st_tx_rollback(st);
	return rc;
}

/* Roots first, then the built-in groups, then by name. */
static const char SQL_GROUP_ALL[] =
	"SELECT g.group_id, g.name, p.name, g.builtin FROM target_group g"
	" LEFT JOIN target_group p ON p.group_id = g.parent_id"
	" ORDER BY g.parent_id IS NOT NULL, g.builtin DESC, g.name";

int storage_group_foreach(struct storage *st,
			  int (*fn)(const char *group_id, const char *name, const char *parent,
				    int builtin, void *ctx),
			  void *ctx, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	/* Not cached: fn may call back into storage (design note 7). */
	rc = sqlite3_prepare_v2(st->db, SQL_GROUP_ALL, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return st_sql_err(st, e, rc, "list target groups");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r = fn((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
			   (const char *)sqlite3_column_text(s, 2), sqlite3_column_int(s, 3), ctx);

		if (r != 0) {
			sqlite3_finalize(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list target groups");
	sqlite3_finalize(s);
	return rc;
}

/*---- Deployments ----*/

/* ISO 8601 as typed by an admin or sent on the wire: digits and T : . - + Z. */
static int check_deadline(const char *d, struct err *e)
{
	size_t n = strlen(d);

	if (n < 10 || n > 40 || d[4] != '-')
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789T:.-+Z", d[i]))
			goto bad;
	return 0;
bad:
	return err_set(e, -EINVAL, "deadline '%.40s' is not an ISO 8601 date or time", d);
}

static const char SQL_DEPLOY_REVISION[] =
	"SELECT revision_number FROM revision WHERE update_id = ?1 AND (?2 < 0 OR revision_number = ?2)"
	" ORDER BY revision_number DESC LIMIT 1";
static const char SQL_DEPLOY_LIVE[] =
	"SELECT revision_number, action, deadline FROM deployment"
	" WHERE group_id = ?1 AND update_id = ?2 AND dead = 0";
static const char SQL_DEPLOY_KILL[] =
	"UPDATE deployment SET dead = 1, anchor = ?3, last_change_time = ?4"
	" WHERE group_id = ?1 AND update_id = ?2 AND dead = 0";
static const char SQL_DEPLOY_INSERT[] =
	"INSERT INTO deployment(deployment_id, update_id, revision_number, group_id, action, deadline,"
	" download_priority, is_assigned, go_live_time, last_change_time, admin_name, dead, anchor)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, 2, ?7, ?8, ?9, NULL, 0, ?10)";
static const char SQL_UNDECLINE[] = "UPDATE revision SET hidden = 0 WHERE update_id = ?1 AND hidden = 1";

struct approval {
	char uid[WSUS_GUID_LEN];
	char group_id[WSUS_GUID_LEN];
	int  revision;
	enum storage_action action;
	const char *deadline;
};

static int resolve_revision(struct storage *st, struct approval *a, int wanted, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_DEPLOY_REVISION, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, a->uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, wanted);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		a->revision = sqlite3_column_int(s, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = wanted < 0 ? err_set(e, -ENOENT, "update %s is not in the catalogue", a->uid) :
			err_set(e, -ENOENT, "update %s revision %d is not in the catalogue", a->uid, wanted);
	} else {
		rc = st_sql_err(st, e, rc, "look up revision");
	}
	st_stmt_done(s);
	return rc;
}

/* *same = 1 when a live deployment already says exactly this. */
static int live_matches(struct storage *st, const struct approval *a, int *same, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_DEPLOY_LIVE, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, a->group_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, a->uid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	*same = 0;
	if (rc == SQLITE_ROW) {
		const char *dl = (const char *)sqlite3_column_text(s, 2);

		*same = sqlite3_column_int(s, 0) == a->revision &&
			strcmp((const char *)sqlite3_column_text(s, 1), storage_action_name(a->action)) == 0 &&
			((dl == NULL && a->deadline == NULL) ||
			 (dl != NULL && a->deadline != NULL && strcmp(dl, a->deadline) == 0));
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "look up deployment");
	st_stmt_done(s);
	return rc;
}

static int kill_live(struct storage *st, const struct approval *a, int64_t anchor, int64_t now,
		     struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_DEPLOY_KILL, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, a->group_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, a->uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, anchor);
	sqlite3_bind_int64(s, 4, now);
	rc = st_step_done(st, s, "retire deployment", e);
	st_stmt_done(s);
	return rc;
}

static int insert_deployment(struct storage *st, const struct approval *a, int64_t anchor,
			     int64_t now, struct err *e)
{
	char guid[WSUS_GUID_LEN], go_live[32];
	sqlite3_stmt *s = NULL;
	int rc;

	rc = wsus_guid_random(guid);
	if (rc < 0)
		return err_set(e, rc, "cannot generate a deployment id");
	wsus_time_iso(now, go_live);
	rc = st_prepare(st, SQL_DEPLOY_INSERT, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, guid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, a->uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 3, a->revision);
	sqlite3_bind_text(s, 4, a->group_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, storage_action_name(a->action), -1, SQLITE_STATIC);
	st_bind_text(s, 6, a->deadline);
	/* IsAssigned: install and uninstall happen on their own; the others only inform. */
	sqlite3_bind_int(s, 7, a->action == STORAGE_ACTION_INSTALL || a->action == STORAGE_ACTION_UNINSTALL);
	sqlite3_bind_text(s, 8, go_live, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 9, now);
	sqlite3_bind_int64(s, 10, anchor);
	rc = st_step_done(st, s, "insert deployment", e);
	st_stmt_done(s);
	return rc;
}

/* Approving a declined update takes the decline back, as the WSUS console does. */
static int undecline(struct storage *st, const char *uid, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_UNDECLINE, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	rc = st_step_done(st, s, "undecline update", e);
	if (rc == 0 && sqlite3_changes(st->db) > 0)
		log_info("storage", "approval undeclines update=%s", uid);
	st_stmt_done(s);
	return rc;
}

int storage_deployment_set(struct storage *st, const char *update_id, int revision,
			   const char *group, enum storage_action action, const char *deadline,
			   struct err *e)
{
	struct approval a = { .action = action, .deadline = deadline };
	int64_t anchor, now = wsus_now_ms();
	int rc, same = 0;

	if (wsus_guid_normalize(update_id, a.uid) < 0)
		return err_set(e, -EINVAL, "'%.40s' is not an UpdateID", update_id ? update_id : "(null)");
	if ((unsigned)action > STORAGE_ACTION_BLOCK)
		return err_set(e, -EINVAL, "unknown deployment action %d", (int)action);
	if (group == NULL)
		return err_set(e, -EINVAL, "no target group given");
	if (deadline != NULL && check_deadline(deadline, e) < 0)
		return -EINVAL;
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = resolve_revision(st, &a, revision, e);
	if (rc == 0)
		rc = group_find(st, group, a.group_id, e);
	if (rc == 0)
		rc = live_matches(st, &a, &same, e);
	if (rc < 0)
		goto fail;
	if (!same) {
		rc = st_anchor(st, "deployment", &anchor, e);
		if (rc == 0)
			rc = kill_live(st, &a, anchor, now, e);
		if (rc == 0)
			rc = insert_deployment(st, &a, anchor, now, e);
		if (rc == 0)
			rc = undecline(st, a.uid, e);
		if (rc < 0)
			goto fail;
	}
	rc = st_tx_commit(st, e);
	if (rc == 0 && !same)
		log_info("storage", "deployment set update=%s revision=%d group=\"%s\" action=%s", a.uid,
			 a.revision, group, storage_action_name(action));
	return rc;
fail:
	st_tx_rollback(st);
	return rc;
}

static const char SQL_DECLINE_EXISTS[] = "SELECT count(*) FROM revision WHERE update_id = ?1";
static const char SQL_DECLINE_HIDE[] = "UPDATE revision SET hidden = 1 WHERE update_id = ?1 AND hidden = 0";
static const char SQL_DECLINE_LIVE[] =
	"SELECT count(*) FROM deployment WHERE update_id = ?1 AND dead = 0";
static const char SQL_DECLINE_KILL[] =
	"UPDATE deployment SET dead = 1, anchor = ?2, last_change_time = ?3"
	" WHERE update_id = ?1 AND dead = 0";

/* Run a statement bound to (uid [, anchor, now]); *count = first column or changes(). */
static int decline_step(struct storage *st, const char *sql, const char *uid, int64_t anchor,
			int64_t *count, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	if (sql == SQL_DECLINE_KILL) {
		sqlite3_bind_int64(s, 2, anchor);
		sqlite3_bind_int64(s, 3, wsus_now_ms());
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(s, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		*count = sqlite3_changes(st->db);
		rc = 0;
	} else {
		rc = st_sql_err(st, e, rc, "decline update");
	}
	st_stmt_done(s);
	return rc;
}

int storage_update_decline(struct storage *st, const char *update_id, struct err *e)
{
	char uid[WSUS_GUID_LEN];
	int64_t n = 0, hidden = 0, live = 0, killed = 0, anchor = 0;
	int rc;

	if (wsus_guid_normalize(update_id, uid) < 0)
		return err_set(e, -EINVAL, "'%.40s' is not an UpdateID", update_id ? update_id : "(null)");
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = decline_step(st, SQL_DECLINE_EXISTS, uid, 0, &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, -ENOENT, "update %s is not in the catalogue", uid);
	if (rc == 0)
		rc = decline_step(st, SQL_DECLINE_LIVE, uid, 0, &live, e);
	if (rc == 0)
		rc = decline_step(st, SQL_DECLINE_HIDE, uid, 0, &hidden, e);
	if (rc == 0 && (hidden > 0 || live > 0))
		rc = st_anchor(st, "decline", &anchor, e);
	if (rc == 0 && live > 0)
		rc = decline_step(st, SQL_DECLINE_KILL, uid, anchor, &killed, e);
	if (rc < 0) {
		st_tx_rollback(st);
		return rc;
	}
	rc = st_tx_commit(st, e);
	if (rc == 0 && (hidden > 0 || killed > 0))
		log_info("storage", "update declined update=%s revisions=%lld deployments_retired=%lld", uid,
			 (long long)hidden, (long long)killed);
	return rc;
}
