/*
 * storage_cleanup.c -- what `wsus-replica cleanup` (and serve, once a day)
 * removes, as the Windows WSUS cleanup wizard does: computers not seen for
 * [clients] computer_expiry_days, payloads no live revision references,
 * and in autonomous mode (behind [cleanup] decline_unneeded) superseded
 * updates no computer needs and expired updates; then the client event log
 * is trimmed (storage_maintain) and the database compacted. Every removal is
 * reported to the caller's function first; a dry run reports the same and
 * changes nothing.
 *
 * Design notes:
 * (1) A live revision is the latest revision of its update (declined or
 *     not: a decline can be undone, and the content phase fetches the
 *     payloads of declined updates too). A stored payload that no live
 *     revision lists is unreferenced since the newest of the times its
 *     listing revisions were revised (the created_at of the next revision of
 *     that update), or since it was stored when no revision lists it at all.
 *     It is removed once that is [cleanup] content_grace_days ago: its file
 *     is deleted and its row becomes missing (the content phase only fetches
 *     what live revisions list, so it is not fetched again).
 * (2) Computers are those storage_maintain expires (registered directly,
 *     last seen before the cutoff), listed by name before they go.
 * (3) An update "needed" by a computer has a status row NotInstalled (2),
 *     Downloaded (3), Failed (5) or InstalledPendingReboot (6). Superseded
 *     means the latest revision of another, not declined, update names it
 *     as superseded (the supersedes table). Expired means the latest
 *     revision's PublicationState is Expired. Only software updates
 *     are declined; each decline is storage_update_decline (its own
 *     transaction, deployments retired, clients told through the anchor).
 * (4) Compaction: the WAL is checkpointed and truncated; when more than a
 *     quarter of the database's pages are free (a large event purge), the
 *     cleanup command (not serve) runs VACUUM to give them back.
 */
#include "storage_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_MS (86400LL * 1000)

/*---- Computers ----*/

static const char SQL_EXPIRED_COMPUTERS[] =
	"SELECT computer_id, coalesce(dns_name, ''), max(coalesce(registered_at, 0), coalesce(last_sync_time, 0),"
	" coalesce(last_report_time, 0)) AS seen FROM computer WHERE parent_server_id IS NULL AND seen < ?1"
	" ORDER BY seen, computer_id";
static const char SQL_DELETE_COMPUTER[] = "DELETE FROM computer WHERE computer_id = ?1";

/* A list of short texts collected before anything is changed. */
struct names {
	char (*id)[64];
	char (*detail)[320];
	int64_t *num;
	size_t n, cap;
};

static int names_add(struct names *l, const char *id, const char *detail, int64_t num)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char (*ni)[64] = realloc(l->id, cap * sizeof(*ni));

		if (ni == NULL)
			return -ENOMEM;
		l->id = ni;
		char (*nd)[320] = realloc(l->detail, cap * sizeof(*nd));

		if (nd == NULL)
			return -ENOMEM;
		l->detail = nd;
		int64_t *nn = realloc(l->num, cap * sizeof(*nn));

		if (nn == NULL)
			return -ENOMEM;
		l->num = nn;
		l->cap = cap;
	}
	snprintf(l->id[l->n], sizeof(l->id[0]), "%s", id ? id : "");
	snprintf(l->detail[l->n], sizeof(l->detail[0]), "%s", detail ? detail : "");
	l->num[l->n++] = num;
	return 0;
}

static void names_free(struct names *l)
{
	free(l->id);
	free(l->detail);
	free(l->num);
	memset(l, 0, sizeof(*l));
}

/* Run sql (?1, when it has one, bound to arg) and collect column 0 (id), 1 (detail), 2 (num). */
static int collect(struct storage *st, const char *sql, int64_t arg, struct names *l, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, arg);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (names_add(l, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
			      sqlite3_column_int64(s, 2)) < 0) {
			st_stmt_done(s);
			return err_set(e, -ENOMEM, "out of memory");
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "cleanup query");
	st_stmt_done(s);
	return rc;
}

static int delete_computer(struct storage *st, const char *id, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_DELETE_COMPUTER, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = st_step_done(st, s, "remove computer", e);
	st_stmt_done(s);
	return rc;
}

static int clean_computers(struct storage *st, const struct storage_cleanup_policy *p, storage_cleanup_fn fn,
			   void *ctx, struct storage_cleanup_result *r, struct err *e)
{
	struct names l = { 0 };
	char detail[400];
	int rc;

	if (p->computer_before_ms <= 0)
		return 0;
	rc = collect(st, SQL_EXPIRED_COMPUTERS, p->computer_before_ms, &l, e);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		snprintf(detail, sizeof(detail), "%s, last seen %lld days ago", l.detail[i][0] ? l.detail[i] : "(no name)",
			 (long long)((p->now_ms - l.num[i]) / DAY_MS));
		fn(ctx, "computer", l.id[i], detail);
		if (!p->dry_run)
			rc = delete_computer(st, l.id[i], e);
		if (rc == 0)
			r->computers++;
	}
	names_free(&l);
	return rc;
}

/*---- Unreferenced payloads (note 1) ----*/

/* Stored payloads no latest revision lists, with the time they became
 * unreferenced, oldest first. */
static const char SQL_UNREFERENCED[] =
	"SELECT hex(f.sha1), f.store_ext, coalesce(f.size, 0),"
	" coalesce((SELECT max((SELECT min(n.created_at) FROM revision n WHERE n.update_id = r.update_id"
	"                       AND n.revision_number > r.revision_number))"
	"           FROM revision_file rf JOIN revision r ON r.revision_id = rf.revision_id WHERE rf.sha1 = f.sha1),"
	"          f.state_changed_at, 0) AS since, coalesce(f.file_name, '')"
	" FROM file f WHERE f.state = 'present' AND NOT EXISTS (SELECT 1 FROM revision_file rf"
	"   JOIN revision r ON r.revision_id = rf.revision_id WHERE rf.sha1 = f.sha1"
	"   AND r.revision_number = (SELECT max(l.revision_number) FROM revision l WHERE l.update_id = r.update_id))"
	" ORDER BY since, f.sha1";
static const char SQL_FILE_GONE[] =
	"UPDATE file SET state = 'missing', store_ext = '', state_changed_at = ?2 WHERE sha1 = ?1";

struct unref {
	uint8_t sha1[WSUS_SHA1_LEN];
	char    ext[10];
	int64_t size, since;
	char    name[128];
};

static int load_unreferenced(struct storage *st, struct unref **out, size_t *n, struct err *e)
{
	struct unref *v = NULL, *nv;
	size_t cap = 0, cnt = 0;
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_UNREFERENCED, &s, e);

	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		if (wsus_hex_decode((const char *)sqlite3_column_text(s, 0), v[cnt].sha1, WSUS_SHA1_LEN) < 0)
			continue;
		st_column_copy(s, 1, v[cnt].ext, sizeof(v[cnt].ext));
		v[cnt].size = sqlite3_column_int64(s, 2);
		v[cnt].since = sqlite3_column_int64(s, 3);
		st_column_copy(s, 4, v[cnt].name, sizeof(v[cnt].name));
		cnt++;
	}
	rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? err_set(e, -ENOMEM, "out of memory")
							: st_sql_err(st, e, rc, "list unreferenced payloads");
	st_stmt_done(s);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int remove_payload(struct storage *st, const struct unref *u, int64_t now, struct err *e)
{
	char path[STORAGE_PATH_MAX];
	sqlite3_stmt *s = NULL;
	int rc = st_content_file_path(st, u->sha1, u->ext, path, sizeof(path));

	if (rc < 0)
		return err_set(e, rc, "content path too long");
	/* The row first: a crash between the two leaves a file verify adopts, never a row without its file. */
	rc = st_prepare(st, SQL_FILE_GONE, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, u->sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	rc = st_step_done(st, s, "mark payload removed", e);
	st_stmt_done(s);
	if (rc == 0 && unlink(path) < 0 && errno != ENOENT)
		log_warn("storage", "cleanup could not delete %s: %s", path, strerror(errno));
	return rc;
}

static int clean_content(struct storage *st, const struct storage_cleanup_policy *p, storage_cleanup_fn fn,
			 void *ctx, struct storage_cleanup_result *r, struct err *e)
{
	struct unref *v = NULL;
	char hex[2 * WSUS_SHA1_LEN + 1], detail[400];
	size_t n = 0;
	int rc = load_unreferenced(st, &v, &n, e);

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (v[i].since > p->now_ms - p->content_grace_ms) {
			r->files_in_grace++;
			continue;
		}
		wsus_hex_encode(v[i].sha1, WSUS_SHA1_LEN, hex);
		snprintf(detail, sizeof(detail), "%s, %lld bytes, unreferenced for %lld days", v[i].name[0] ? v[i].name : "-",
			 (long long)v[i].size, (long long)((p->now_ms - v[i].since) / DAY_MS));
		fn(ctx, "payload", hex, detail);
		if (!p->dry_run)
			rc = remove_payload(st, &v[i], p->now_ms, e);
		if (rc == 0) {
			r->files++;
			r->file_bytes += v[i].size;
		}
	}
	free(v);
	return rc;
}

/*---- Unneeded updates (note 3) ----*/

#define LATEST(a) "(" a ".revision_number = (SELECT max(x.revision_number) FROM revision x" \
		  " WHERE x.update_id = " a ".update_id))"

static const char SQL_SUPERSEDED_UNNEEDED[] =
	"SELECT r.update_id, coalesce(r.title, ''), 0 FROM revision r WHERE r.update_type = 'Software'"
	" AND r.hidden = 0 AND " LATEST("r")
	" AND EXISTS (SELECT 1 FROM supersedes s JOIN revision b ON b.revision_id = s.revision_id"
	"   WHERE s.superseded_update_id = r.update_id AND b.hidden = 0 AND b.update_id <> r.update_id AND " LATEST("b") ")"
	" AND NOT EXISTS (SELECT 1 FROM update_status us WHERE us.update_id = r.update_id AND us.status IN (2, 3, 5, 6))"
	" ORDER BY r.update_id";
static const char SQL_EXPIRED_UPDATES[] =
	"SELECT r.update_id, coalesce(r.title, ''), 0 FROM revision r WHERE r.update_type = 'Software'"
	" AND r.hidden = 0 AND " LATEST("r") " AND r.publication_state = 'Expired' ORDER BY r.update_id";

static int decline_list(struct storage *st, const char *sql, const char *what, const struct storage_cleanup_policy *p,
			storage_cleanup_fn fn, void *ctx, int64_t *count, struct err *e)
{
	struct names l = { 0 };
	int rc = collect(st, sql, 0, &l, e);

	for (size_t i = 0; i < l.n && rc == 0; i++) {
		fn(ctx, what, l.id[i], l.detail[i][0] ? l.detail[i] : "-");
		if (!p->dry_run)
			rc = storage_update_decline(st, l.id[i], e);
		if (rc == 0)
			(*count)++;
	}
	names_free(&l);
	return rc;
}

/*---- Compaction (note 4) ----*/

static int compact(struct storage *st, const struct storage_cleanup_policy *p, struct storage_cleanup_result *r,
		   struct err *e)
{
	int64_t pages = 0, free_pages = 0, page_size = 0;
	int rc = st_query_int64(st, "PRAGMA page_count", &pages, e);

	if (rc == 0)
		rc = st_query_int64(st, "PRAGMA freelist_count", &free_pages, e);
	if (rc == 0)
		rc = st_query_int64(st, "PRAGMA page_size", &page_size, e);
	if (rc < 0)
		return rc;
	r->db_bytes_before = pages * page_size;
	r->db_bytes_after = r->db_bytes_before;
	if (p->dry_run)
		return 0;
	if (p->vacuum && free_pages * 4 > pages) {
		rc = st_exec(st, "VACUUM", e);
		if (rc == 0)
			rc = st_query_int64(st, "PRAGMA page_count", &pages, e);
		if (rc < 0)
			return rc;
		r->db_bytes_after = pages * page_size;
		r->vacuumed = 1;
	}
	/* Best effort: a reader holding the WAL only delays the truncation. */
	sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	return 0;
}

/*---- The pass ----*/

static const char SQL_EVENTS_AGED[] = "SELECT count(*) FROM event WHERE received_at < ?1";

static int clean_events(struct storage *st, const struct storage_cleanup_policy *p, struct storage_cleanup_result *r,
			struct err *e)
{
	struct storage_maint_policy mp = { 0 };
	struct storage_maint_result mr;
	sqlite3_stmt *s = NULL;
	int rc;

	if (p->dry_run) {
		/* what the age rule would remove; the count and size ceilings act only when reached */
		rc = st_prepare(st, SQL_EVENTS_AGED, &s, e);
		if (rc < 0)
			return rc;
		sqlite3_bind_int64(s, 1, p->event_before_ms);
		if (sqlite3_step(s) == SQLITE_ROW)
			r->events = sqlite3_column_int64(s, 0);
		st_stmt_done(s);
		return 0;
	}
	mp.now_ms = p->now_ms;
	mp.event_before_ms = p->event_before_ms;
	mp.event_max_bytes = p->event_max_bytes;
	rc = storage_maintain(st, &mp, &mr, e);
	if (rc == 0)
		r->events = mr.events_aged + mr.events_over_count + mr.events_over_bytes;
	return rc;
}

int storage_cleanup(struct storage *st, const struct storage_cleanup_policy *p, storage_cleanup_fn fn, void *ctx,
		    struct storage_cleanup_result *out, struct err *e)
{
	struct storage_cleanup_result r;
	int rc = st->tx_depth != 0 ? err_set(e, -EINVAL, "cleanup runs outside any transaction") : 0;

	memset(&r, 0, sizeof(r));
	if (rc == 0)
		rc = clean_computers(st, p, fn, ctx, &r, e);
	if (rc == 0 && p->decline_unneeded)
		rc = decline_list(st, SQL_SUPERSEDED_UNNEEDED, "superseded", p, fn, ctx, &r.declined_superseded, e);
	if (rc == 0 && p->decline_unneeded)
		rc = decline_list(st, SQL_EXPIRED_UPDATES, "expired", p, fn, ctx, &r.declined_expired, e);
	if (rc == 0)
		rc = clean_content(st, p, fn, ctx, &r, e);
	if (rc == 0)
		rc = clean_events(st, p, &r, e);
	if (rc == 0)
		rc = compact(st, p, &r, e);
	if (rc == 0)
		log_info("storage", "cleanup%s computers=%lld payloads=%lld bytes=%lld in_grace=%lld declined_superseded=%lld"
			 " declined_expired=%lld events=%lld db_bytes=%lld->%lld", p->dry_run ? " (dry run)" : "",
			 (long long)r.computers, (long long)r.files, (long long)r.file_bytes, (long long)r.files_in_grace,
			 (long long)r.declined_superseded, (long long)r.declined_expired, (long long)r.events,
			 (long long)r.db_bytes_before, (long long)r.db_bytes_after);
	if (out != NULL)
		*out = r;
	return rc;
}
