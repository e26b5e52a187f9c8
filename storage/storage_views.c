/*
 * storage_views.c -- the read-only views behind `computer list|show` and
 * `report updates|summary`: computers (ours and those rolled up from our
 * downstream servers, with the server they came through), their groups and
 * update states, the computers per state of each update, and the overview
 * the WSUS console opens with. "Needing" means an update needed or
 * downloaded (Update Status 2 or 3), "failed" one that failed (5), as
 * `status` counts them. Every query runs in one read snapshot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

#define ALL_COMPUTERS        "a0a08746-4dbe-4a37-9adf-9e7652c0b421"
#define UNASSIGNED_COMPUTERS "b73ca6ed-5727-47f3-84de-015e03f6a88a"

static int64_t column_ms(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, col);
}

/* Step a statement of its own (fn may call back into storage) to its end. */
static int walk(struct storage *st, const char *sql, int (*bind)(sqlite3_stmt *s, const void *a),
		const void *arg, int (*row)(sqlite3_stmt *s, void *ctx), void *ctx, const char *what,
		struct err *e)
{
	sqlite3_stmt *s = NULL;
	int opened, rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return st_sql_err(st, e, rc, what);
	}
	opened = storage_read_begin(st, e);
	if (opened < 0) {
		sqlite3_finalize(s);
		return opened;
	}
	rc = bind != NULL ? bind(s, arg) : 0;
	while (rc == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
		rc = row(s, ctx);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = st_sql_err(st, e, rc, what);
	sqlite3_finalize(s);
	storage_read_end(st, opened);
	return rc;
}

/*---- Computers ----*/

#define COMPUTER_SELECT \
	"SELECT c.computer_id, coalesce(c.dns_name, ''),"                                                  \
	" CASE WHEN c.parent_server_id IS NULL THEN coalesce((SELECT g.name FROM target_group g"          \
	"   WHERE g.group_id = c.group_id), 'Unassigned Computers')"                                      \
	"  ELSE coalesce((SELECT group_concat(g.name, char(31)) FROM target_group g"                      \
	"   WHERE instr(',' || c.target_group_ids || ',', ',' || g.group_id || ',') > 0), '') END,"       \
	" coalesce(c.requested_groups, ''), coalesce(c.parent_server_id, ''), coalesce(d.fqdn, ''),"      \
	" coalesce(nullif(c.os_description, ''), 'Windows ' || coalesce(c.os_major, 0) || '.'"            \
	"   || coalesce(c.os_minor, 0) || '.' || coalesce(c.os_build, 0)),"                               \
	" coalesce(c.ip_address, ''), coalesce(c.processor_arch, ''), coalesce(c.manufacturer, ''),"      \
	" coalesce(c.model, ''), coalesce(c.client_version, ''), c.registered_at, c.last_sync_time,"      \
	" c.last_report_time, c.last_status_time, c.last_sync_result,"                                    \
	" coalesce(u.s0, 0), coalesce(u.s1, 0), coalesce(u.s2, 0), coalesce(u.s3, 0), coalesce(u.s4, 0),"  \
	" coalesce(u.s5, 0), coalesce(u.s6, 0)"                                                           \
	" FROM computer c LEFT JOIN dss d ON d.server_id = c.parent_server_id"                            \
	" LEFT JOIN (SELECT computer_id, sum(status = 0) AS s0, sum(status = 1) AS s1, sum(status = 2) AS s2," \
	"   sum(status = 3) AS s3, sum(status = 4) AS s4, sum(status = 5) AS s5, sum(status = 6) AS s6"   \
	"   FROM update_status GROUP BY computer_id) u ON u.computer_id = c.computer_id"

static const char SQL_COMPUTER_LIST[] =
	COMPUTER_SELECT
	" WHERE (?1 IS NULL OR ?1 = '" ALL_COMPUTERS "'"
	"  OR (c.parent_server_id IS NULL AND coalesce(c.group_id, '" UNASSIGNED_COMPUTERS "') = ?1)"
	"  OR (c.parent_server_id IS NOT NULL AND instr(',' || c.target_group_ids || ',', ',' || ?1 || ',') > 0))"
	" AND (?2 = 0 OR coalesce(u.s2, 0) + coalesce(u.s3, 0) > 0)"
	" AND (?3 = 0 OR coalesce(u.s5, 0) > 0)"
	" AND (?4 IS NULL OR c.last_sync_time IS NULL OR c.last_sync_time < ?4)"
	" ORDER BY coalesce(nullif(c.dns_name, ''), c.computer_id) COLLATE NOCASE, c.computer_id";
static const char SQL_COMPUTER_BY_ID[] = COMPUTER_SELECT " WHERE c.computer_id = ?1";
static const char SQL_COMPUTER_BY_NAME[] =
	COMPUTER_SELECT " WHERE c.dns_name = ?1 COLLATE NOCASE ORDER BY c.computer_id LIMIT 2";
static const char SQL_GROUP_ID[] = "SELECT group_id FROM target_group WHERE name = ?1";

static void computer_row(sqlite3_stmt *s, struct storage_computer_row *c)
{
	memset(c, 0, sizeof(*c));
	st_column_copy(s, 0, c->computer_id, sizeof(c->computer_id));
	st_column_copy(s, 1, c->name, sizeof(c->name));
	st_column_copy(s, 2, c->groups, sizeof(c->groups));
	st_column_copy(s, 3, c->requested, sizeof(c->requested));
	st_column_copy(s, 4, c->parent_id, sizeof(c->parent_id));
	st_column_copy(s, 5, c->parent_name, sizeof(c->parent_name));
	st_column_copy(s, 6, c->os, sizeof(c->os));
	st_column_copy(s, 7, c->ip, sizeof(c->ip));
	st_column_copy(s, 8, c->arch, sizeof(c->arch));
	st_column_copy(s, 9, c->make, sizeof(c->make));
	st_column_copy(s, 10, c->model, sizeof(c->model));
	st_column_copy(s, 11, c->client_version, sizeof(c->client_version));
	c->registered_ms = column_ms(s, 12);
	c->last_sync_ms = column_ms(s, 13);
	c->last_report_ms = column_ms(s, 14);
	c->last_status_ms = column_ms(s, 15);
	c->last_sync_result = sqlite3_column_int(s, 16);
	for (int i = 0; i < 7; i++)
		c->by_status[i] = sqlite3_column_int64(s, 17 + i);
}

struct list_args {
	const struct storage_computer_filter *f;
	const char *group_id;
};

static int bind_list(sqlite3_stmt *s, const void *a)
{
	const struct list_args *l = a;

	st_bind_text(s, 1, l->group_id);
	sqlite3_bind_int(s, 2, l->f->needing != 0);
	sqlite3_bind_int(s, 3, l->f->failed != 0);
	if (l->f->stale_before_ms > 0)
		sqlite3_bind_int64(s, 4, l->f->stale_before_ms);
	return 0;
}

struct computer_walk {
	int (*fn)(const struct storage_computer_row *c, void *ctx);
	void *ctx;
	struct storage_computer_row row;
};

static int each_computer(sqlite3_stmt *s, void *ctx)
{
	struct computer_walk *w = ctx;

	computer_row(s, &w->row);
	return w->fn(&w->row, w->ctx);
}

static int group_id(struct storage *st, const char *name, char out[WSUS_GUID_LEN], struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_GROUP_ID, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		st_column_copy(s, 0, out, WSUS_GUID_LEN);
	st_stmt_done(s);
	if (rc == SQLITE_DONE)
		return err_set(e, -ENOENT, "no group named '%s'", name);
	return rc == SQLITE_ROW ? 0 : st_sql_err(st, e, rc, "look up group");
}

int storage_computer_list(struct storage *st, const struct storage_computer_filter *f,
			  int (*fn)(const struct storage_computer_row *c, void *ctx), void *ctx, struct err *e)
{
	struct computer_walk *w = malloc(sizeof(*w));
	char gid[WSUS_GUID_LEN];
	struct list_args a = { f, NULL };
	int rc = 0;

	if (w == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	w->fn = fn;
	w->ctx = ctx;
	if (f->group != NULL) {
		rc = group_id(st, f->group, gid, e);
		a.group_id = gid;
	}
	if (rc == 0)
		rc = walk(st, SQL_COMPUTER_LIST, bind_list, &a, each_computer, w, "list computers", e);
	free(w);
	return rc;
}

static int bind_one_text(sqlite3_stmt *s, const void *a)
{
	return st_bind_text(s, 1, a);
}

struct find_walk {
	struct storage_computer_row *out;
	int n;
};

static int each_found(sqlite3_stmt *s, void *ctx)
{
	struct find_walk *w = ctx;

	if (w->n++ == 0)
		computer_row(s, w->out);
	return 0;
}

int storage_computer_find(struct storage *st, const char *id_or_name, struct storage_computer_row *out,
			  struct err *e)
{
	struct find_walk w = { out, 0 };
	int rc = walk(st, SQL_COMPUTER_BY_ID, bind_one_text, id_or_name, each_found, &w, "look up computer", e);

	if (rc == 0 && w.n == 0)
		rc = walk(st, SQL_COMPUTER_BY_NAME, bind_one_text, id_or_name, each_found, &w, "look up computer", e);
	if (rc < 0)
		return rc;
	if (w.n == 0)
		return err_set(e, -ENOENT, "no computer with the id or name '%s'", id_or_name);
	if (w.n > 1)
		return err_set(e, -EEXIST, "several computers are named '%s': give its id", id_or_name);
	return 0;
}

/*---- One computer's updates ----*/

static const char SQL_COMPUTER_UPDATES[] =
	"SELECT u.update_id,"
	" coalesce((SELECT r.title FROM revision r WHERE r.update_id = u.update_id"
	"   ORDER BY r.revision_number DESC LIMIT 1), ''),"
	" u.status, u.last_change_time, v.received_at, v.event_code, v.win32_hresult"
	" FROM update_status u LEFT JOIN event v ON v.event_id = (SELECT max(x.event_id) FROM event x"
	"   WHERE x.computer_id = u.computer_id AND x.update_id = u.update_id)"
	" WHERE u.computer_id = ?1 ORDER BY u.status = 5 DESC, u.status IN (2, 3) DESC, 2, u.update_id";

struct update_walk {
	int (*fn)(const struct storage_computer_update *u, void *ctx);
	void *ctx;
};

static int each_update(sqlite3_stmt *s, void *ctx)
{
	struct update_walk *w = ctx;
	struct storage_computer_update u;

	memset(&u, 0, sizeof(u));
	st_column_copy(s, 0, u.update_id, sizeof(u.update_id));
	st_column_copy(s, 1, u.title, sizeof(u.title));
	u.status = sqlite3_column_int(s, 2);
	u.changed_ms = column_ms(s, 3);
	u.event_ms = column_ms(s, 4);
	u.event_id = sqlite3_column_int(s, 5);
	u.hresult = sqlite3_column_int(s, 6);
	return w->fn(&u, w->ctx);
}

int storage_computer_updates(struct storage *st, const char *computer_id,
			     int (*fn)(const struct storage_computer_update *u, void *ctx), void *ctx,
			     struct err *e)
{
	struct update_walk w = { fn, ctx };

	return walk(st, SQL_COMPUTER_UPDATES, bind_one_text, computer_id, each_update, &w,
		    "list a computer's updates", e);
}

/*---- Updates by state ----*/

static const char SQL_UPDATE_COUNTS[] =
	"WITH s AS (SELECT update_id, sum(status = 2) AS needed, sum(status = 3) AS downloaded,"
	"  sum(status = 4) AS installed, sum(status = 6) AS pending, sum(status = 5) AS failed,"
	"  sum(status = 1) AS na, sum(status BETWEEN 1 AND 6) AS known FROM update_status GROUP BY update_id)"
	" SELECT s.update_id, coalesce(r.title, ''), coalesce(r.kb_article, ''),"
	" EXISTS (SELECT 1 FROM deployment d WHERE d.update_id = s.update_id AND d.dead = 0"
	"   AND d.action = 'install'), coalesce(r.hidden, 0),"
	" s.needed, s.downloaded, s.installed, s.pending, s.failed, s.na,"
	" (SELECT count(*) FROM computer) - s.known"
	" FROM s LEFT JOIN revision r ON r.update_id = s.update_id AND r.revision_number ="
	"   (SELECT max(x.revision_number) FROM revision x WHERE x.update_id = s.update_id)"
	" WHERE (?1 = 0 OR s.needed + s.downloaded > 0) AND (?2 = 0 OR s.failed > 0)"
	" ORDER BY coalesce(r.title, '') = '', coalesce(r.title, ''), s.update_id";

struct counts_walk {
	int (*fn)(const struct storage_update_counts *u, void *ctx);
	void *ctx;
};

static int bind_counts(sqlite3_stmt *s, const void *a)
{
	const int *flags = a;

	sqlite3_bind_int(s, 1, flags[0] != 0);
	sqlite3_bind_int(s, 2, flags[1] != 0);
	return 0;
}

static int each_counts(sqlite3_stmt *s, void *ctx)
{
	struct counts_walk *w = ctx;
	struct storage_update_counts u;
	int64_t *v[] = { &u.needed, &u.downloaded, &u.installed, &u.pending_reboot, &u.failed,
			 &u.not_applicable, &u.unknown };

	memset(&u, 0, sizeof(u));
	st_column_copy(s, 0, u.update_id, sizeof(u.update_id));
	st_column_copy(s, 1, u.title, sizeof(u.title));
	st_column_copy(s, 2, u.kb, sizeof(u.kb));
	u.approved = sqlite3_column_int(s, 3);
	u.declined = sqlite3_column_int(s, 4);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		*v[i] = sqlite3_column_int64(s, 5 + (int)i);
	return w->fn(&u, w->ctx);
}

int storage_update_counts(struct storage *st, int needed, int failed,
			  int (*fn)(const struct storage_update_counts *u, void *ctx), void *ctx, struct err *e)
{
	struct counts_walk w = { fn, ctx };
	int flags[2] = { needed, failed };

	return walk(st, SQL_UPDATE_COUNTS, bind_counts, flags, each_counts, &w, "count update states", e);
}

/*---- The overview ----*/

#define NEEDING_IDS "SELECT computer_id FROM update_status WHERE status IN (2, 3)"
#define FAILED_IDS  "SELECT computer_id FROM update_status WHERE status = 5"
#define SOFTWARE    "FROM revision_latest WHERE update_type IN ('Software', 'Driver')"
#define APPROVED    "SELECT update_id FROM deployment WHERE dead = 0 AND action = 'install'"

static const char *const overview_sql[] = {
	"SELECT count(*) FROM computer",
	"SELECT count(*) FROM computer WHERE parent_server_id IS NULL",
	"SELECT count(*) FROM computer WHERE parent_server_id IS NOT NULL",
	"SELECT count(*) FROM computer WHERE last_report_time IS NOT NULL"
	" OR computer_id IN (SELECT computer_id FROM update_status)",
	"SELECT count(DISTINCT computer_id) FROM (" NEEDING_IDS ")",
	"SELECT count(DISTINCT computer_id) FROM (" FAILED_IDS ")",
	"SELECT count(*) FROM computer c WHERE (c.last_report_time IS NOT NULL"
	" OR c.computer_id IN (SELECT computer_id FROM update_status))"
	" AND c.computer_id NOT IN (" NEEDING_IDS ") AND c.computer_id NOT IN (" FAILED_IDS ")",
	"SELECT count(*) FROM computer WHERE last_report_time IS NULL"
	" AND computer_id NOT IN (SELECT computer_id FROM update_status)",
	"SELECT count(*) FROM dss",
	"SELECT count(*) " SOFTWARE,
	"SELECT count(*) " SOFTWARE " AND hidden = 0 AND update_id IN (" APPROVED ")",
	"SELECT count(*) " SOFTWARE " AND hidden = 1",
	"SELECT count(*) " SOFTWARE " AND hidden = 0 AND update_id NOT IN (" APPROVED ")",
	"SELECT count(DISTINCT update_id) FROM update_status WHERE status IN (2, 3)",
	"SELECT count(DISTINCT update_id) FROM update_status WHERE status = 5",
	"SELECT count(DISTINCT r.update_id) FROM revision_latest r JOIN revision_file rf"
	" ON rf.revision_id = r.revision_id JOIN file f ON f.sha1 = rf.sha1"
	" WHERE f.state <> 'present' AND r.update_id IN (" APPROVED ")",
};

static const char SQL_LAST_SYNC[] =
	"SELECT started_at, result FROM sync_history WHERE kind = 'sync' ORDER BY sync_id DESC LIMIT 1";

int storage_overview(struct storage *st, struct storage_overview *out, struct err *e)
{
	int64_t *v[] = {
		&out->computers, &out->computers_ours, &out->computers_rolled_up, &out->computers_reporting,
		&out->computers_needing, &out->computers_with_errors, &out->computers_up_to_date,
		&out->computers_not_reported, &out->downstream_servers, &out->updates, &out->updates_approved,
		&out->updates_declined, &out->updates_not_approved, &out->updates_needed,
		&out->updates_with_errors, &out->updates_needing_files,
	};
	sqlite3_stmt *s = NULL;
	int opened, rc = 0;

	memset(out, 0, sizeof(*out));
	opened = storage_read_begin(st, e);
	if (opened < 0)
		return opened;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]) && rc == 0; i++)
		rc = st_query_int64(st, overview_sql[i], v[i], e);
	if (rc == 0)
		rc = st_prepare(st, SQL_LAST_SYNC, &s, e);
	if (rc == 0) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			out->last_sync_ms = column_ms(s, 0);
			st_column_copy(s, 1, out->last_sync_result, sizeof(out->last_sync_result));
		}
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read the last sync");
		st_stmt_done(s);
	}
	storage_read_end(st, opened);
	return rc;
}
