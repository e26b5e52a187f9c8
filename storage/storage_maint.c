/*
 * storage_maint.c -- keeping what clients leave behind bounded: events by
 * age, count and bytes, the per-day usage rows of the report quotas, and
 * directly registered computers that stopped talking to us. `serve` runs
 * storage_maintain from its event writer (hourly); storage_cleanup
 * (storage_cleanup.c, the `cleanup` command and serve's daily pass) calls it
 * for the event log.
 *
 * Design notes:
 * (1) Every step deletes in chunks of MAINT_CHUNK rows, each chunk its own
 *     transaction, so the write lock is never held for long and client
 *     reports keep flowing while a large backlog is removed.
 * (2) Age uses received_at (our clock), so a client with a wrong clock
 *     cannot keep rows alive; count keeps the newest event_ids; above
 *     MAINT_HIGH_WATER tenths of the store's ceiling, the oldest events go
 *     until MAINT_LOW_WATER tenths are left. Intake stops at the ceiling
 *     (storage_report.c note 6), so this is what makes room again: normal
 *     reporting never meets the ceiling, a flood between two runs does.
 * (3) A computer is last seen at the latest of its registration, its last
 *     SyncUpdates and its last report. Only computers registered directly
 *     with us expire; rolled-up ones belong to their downstream server's
 *     rollups. An expired computer that comes back is told to register again
 *     (RegistrationRequired on SyncUpdates) and starts afresh; its status
 *     rows go with it (ON DELETE CASCADE), its events stay until retention.
 */
#include "storage_int.h"

#include <errno.h>
#include <string.h>

#define MAINT_CHUNK        5000
#define MAINT_HIGH_WATER   9     /* tenths of the ceiling above which the oldest go */
#define MAINT_LOW_WATER    8     /* tenths of the ceiling they go down to */
#define MAINT_USAGE_DAYS   7     /* per-day usage rows kept (today and the 6 before) */
#define DAY_MS             (86400LL * 1000)

static const char SQL_PRUNE_AGE[] =
	"DELETE FROM event WHERE event_id IN (SELECT event_id FROM event WHERE received_at < ?1"
	" ORDER BY received_at LIMIT ?2)";
static const char SQL_PRUNE_COUNT[] =
	"DELETE FROM event WHERE event_id IN (SELECT event_id FROM event"
	" WHERE event_id <= (SELECT max(event_id) FROM event) - ?1 ORDER BY event_id LIMIT ?2)";
/* Of the ?2 oldest events, those before the running sum of their sizes
 * reaches ?1 (the excess): at least one while there is an excess. */
static const char SQL_PRUNE_BYTES[] =
	"DELETE FROM event WHERE event_id IN (SELECT event_id FROM"
	" (SELECT event_id, size, sum(size) OVER (ORDER BY event_id ROWS UNBOUNDED PRECEDING) AS run"
	"  FROM (SELECT event_id, size FROM event ORDER BY event_id LIMIT ?2))"
	" WHERE run - size < ?1)";
static const char SQL_STORE_BYTES[] = "SELECT bytes FROM event_store WHERE id = 1";
static const char SQL_USAGE_OLD[] =
	"DELETE FROM event_usage WHERE (computer_id, day) IN"
	" (SELECT computer_id, day FROM event_usage WHERE day < ?1 LIMIT ?2)";
static const char SQL_COMPUTER_EXPIRED[] =
	"DELETE FROM computer WHERE computer_id IN (SELECT computer_id FROM computer"
	" WHERE parent_server_id IS NULL AND max(coalesce(registered_at, 0), coalesce(last_sync_time, 0),"
	" coalesce(last_report_time, 0)) < ?1 LIMIT ?2)";

/* One chunk of a chunked DELETE in its own transaction; *changes = rows gone. */
static int delete_chunk(struct storage *st, const char *sql, int64_t arg, int64_t limit, int64_t *changes,
			struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_tx_begin(st, e);

	*changes = 0;
	if (rc < 0)
		return rc;
	rc = st_prepare(st, sql, &s, e);
	if (rc == 0) {
		sqlite3_bind_int64(s, 1, arg);
		sqlite3_bind_int64(s, 2, limit);
		rc = st_step_done(st, s, "maintenance delete", e);
		st_stmt_done(s);
	}
	if (rc == 0)
		*changes = sqlite3_changes(st->db);
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	return rc;
}

/* Repeat a chunk until one comes back short (design note 1). */
static int delete_chunks(struct storage *st, const char *sql, int64_t arg, int64_t *deleted, struct err *e)
{
	int64_t changes;
	int rc;

	do {
		rc = delete_chunk(st, sql, arg, MAINT_CHUNK, &changes, e);
		if (rc < 0)
			return rc;
		*deleted += changes;
	} while (changes == MAINT_CHUNK);
	return 0;
}

/* Oldest events out down to the low-water mark of max_bytes (note 2). */
static int trim_bytes(struct storage *st, int64_t max_bytes, int64_t *deleted, struct err *e)
{
	int64_t target = max_bytes / 10 * MAINT_LOW_WATER, bytes = 0, changes = 0;
	int rc = st_query_int64(st, SQL_STORE_BYTES, &bytes, e);

	if (rc < 0 || bytes <= max_bytes / 10 * MAINT_HIGH_WATER)
		return rc;
	while (rc == 0 && bytes > target) {
		rc = delete_chunk(st, SQL_PRUNE_BYTES, bytes - target, MAINT_CHUNK, &changes, e);
		if (rc == 0)
			rc = st_query_int64(st, SQL_STORE_BYTES, &bytes, e);
		*deleted += changes;
		if (changes == 0)
			break;
	}
	return rc;
}

static int outside_tx(struct storage *st, struct err *e)
{
	return st->tx_depth != 0 ? err_set(e, -EINVAL, "maintenance runs outside any transaction") : 0;
}

int storage_report_prune(struct storage *st, int64_t before_ms, int64_t max_rows, int64_t *deleted,
			 struct err *e)
{
	int64_t n = 0;
	int rc;

	if (max_rows < 0)
		return err_set(e, -EINVAL, "negative event cap");
	rc = outside_tx(st, e);
	if (rc == 0)
		rc = delete_chunks(st, SQL_PRUNE_AGE, before_ms, &n, e);
	if (rc == 0)
		rc = delete_chunks(st, SQL_PRUNE_COUNT, max_rows, &n, e);
	if (deleted != NULL)
		*deleted = n;
	return rc;
}

int storage_maintain(struct storage *st, const struct storage_maint_policy *p, struct storage_maint_result *out,
		     struct err *e)
{
	struct storage_maint_result r;
	int rc = outside_tx(st, e);

	memset(&r, 0, sizeof(r));
	if (rc == 0 && (p->event_max_rows < 0 || p->event_max_bytes < 0))
		rc = err_set(e, -EINVAL, "negative event limit");
	if (rc == 0 && p->event_before_ms > 0)
		rc = delete_chunks(st, SQL_PRUNE_AGE, p->event_before_ms, &r.events_aged, e);
	if (rc == 0 && p->event_max_rows > 0)
		rc = delete_chunks(st, SQL_PRUNE_COUNT, p->event_max_rows, &r.events_over_count, e);
	if (rc == 0 && p->event_max_bytes > 0)
		rc = trim_bytes(st, p->event_max_bytes, &r.events_over_bytes, e);
	if (rc == 0)
		rc = delete_chunks(st, SQL_USAGE_OLD, p->now_ms / DAY_MS - (MAINT_USAGE_DAYS - 1),
				   &r.usage_rows, e);
	if (rc == 0 && p->computer_before_ms > 0)
		rc = delete_chunks(st, SQL_COMPUTER_EXPIRED, p->computer_before_ms, &r.computers, e);
	if (out != NULL)
		*out = r;
	return rc;
}
