/*
 * storage_report.c -- what clients report (MS-WUSP ReportEventBatch): the
 * event log, each directly registered computer's update status derived from
 * its events, the computer's last report time, retention, and the summary
 * `status` shows. Nothing here allocates for the caller.
 *
 * Design notes:
 * (1) An event is stored once: event_instance_id is UNIQUE and inserts
 *     ignore a known one, so a client that resends a batch (it got no
 *     answer, or we answered false) changes nothing, and what an event says
 *     about updates is applied only when the event itself is new.
 * (2) Status rows are ordered by the client's own clock (TimeAtTarget): a
 *     change applies only over a row it is not older than, so events that
 *     arrive out of order (a late retry) never roll a computer back.
 * (3) An AGENT_STATUS event (156) is the client's whole picture of its
 *     deployed updates: after its lists are applied, rows older than it are
 *     dropped (what it no longer mentions is no longer known).
 * (4) Status is kept only for computers registered directly with us; rolled-
 *     up computers get theirs from RollupComputerStatus. Events of a computer
 *     that never registered are still logged.
 * (5) The log is bounded twice: by age (received_at, our clock, so a client
 *     with a wrong clock cannot keep rows alive) and by count (the newest
 *     max_rows event_ids stay). Pruning deletes in chunks, each in its own
 *     transaction, so the write lock is never held for long.
 */
#include "storage_int.h"

#include <errno.h>
#include <string.h>

#define PRUNE_CHUNK 5000

static const char SQL_EVENT_INSERT[] =
	"INSERT OR IGNORE INTO event(event_instance_id, computer_id, received_at, time_at_target,"
	" namespace_id, event_code, source_id, update_id, revision_number, win32_hresult, app_name,"
	" replacement_strings, misc_data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_COMPUTER_DIRECT[] =
	"SELECT 1 FROM computer WHERE computer_id = ?1 AND parent_server_id IS NULL";
static const char SQL_COMPUTER_REPORTED[] =
	"UPDATE computer SET last_report_time = max(coalesce(last_report_time, 0), ?2),"
	" last_sync_result = CASE WHEN ?3 > 0 THEN ?3 ELSE last_sync_result END,"
	" last_status_time = CASE WHEN ?4 THEN max(coalesce(last_status_time, 0), ?2)"
	" ELSE last_status_time END"
	" WHERE computer_id = ?1 AND parent_server_id IS NULL";
static const char SQL_STATUS_UPSERT[] =
	"INSERT INTO update_status(computer_id, update_id, status, last_change_time)"
	" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (computer_id, update_id) DO UPDATE SET"
	" status = excluded.status, last_change_time = excluded.last_change_time"
	" WHERE excluded.last_change_time >= update_status.last_change_time";
static const char SQL_STATUS_FORGET[] =
	"DELETE FROM update_status WHERE computer_id = ?1 AND update_id = ?2 AND last_change_time <= ?3";
static const char SQL_STATUS_SNAPSHOT[] =
	"DELETE FROM update_status WHERE computer_id = ?1 AND last_change_time < ?2";
static const char SQL_PRUNE_AGE[] =
	"DELETE FROM event WHERE event_id IN (SELECT event_id FROM event WHERE received_at < ?1"
	" ORDER BY received_at LIMIT ?2)";
static const char SQL_PRUNE_COUNT[] =
	"DELETE FROM event WHERE event_id IN (SELECT event_id FROM event"
	" WHERE event_id <= (SELECT max(event_id) FROM event) - ?1 ORDER BY event_id LIMIT ?2)";
static const char SQL_SUMMARY_COMPUTERS[] =
	"SELECT count(*), count(last_report_time), coalesce(max(last_report_time), 0)"
	" FROM computer WHERE parent_server_id IS NULL";
static const char SQL_SUMMARY_STATES[] =
	"SELECT s.status, count(*), count(DISTINCT s.computer_id) FROM update_status s"
	" JOIN computer c ON c.computer_id = s.computer_id WHERE c.parent_server_id IS NULL"
	" GROUP BY s.status";
static const char SQL_SUMMARY_NEEDING[] =
	"SELECT count(DISTINCT s.computer_id) FROM update_status s"
	" JOIN computer c ON c.computer_id = s.computer_id"
	" WHERE c.parent_server_id IS NULL AND s.status IN (2, 3)";
static const char SQL_SUMMARY_EVENTS[] = "SELECT count(*) FROM event";
static const char SQL_COMPUTER_STATUS[] =
	"SELECT update_id, status, last_change_time FROM update_status WHERE computer_id = ?1"
	" ORDER BY update_id";

/*---- Storing ----*/

static int insert_event(struct storage *st, const struct storage_report_event *ev, int *is_new,
			struct err *e)
{
	sqlite3_stmt *s = NULL;
	char when[32];
	int rc = st_prepare(st, SQL_EVENT_INSERT, &s, e);

	if (rc < 0)
		return rc;
	wsus_time_iso(ev->time_ms, when);
	st_bind_text(s, 1, ev->instance_id);
	st_bind_text(s, 2, ev->computer_id);
	sqlite3_bind_int64(s, 3, ev->received_ms);
	st_bind_text(s, 4, when);
	sqlite3_bind_int(s, 5, ev->namespace_id);
	sqlite3_bind_int(s, 6, ev->event_id);
	sqlite3_bind_int(s, 7, ev->source_id);
	st_bind_text(s, 8, ev->update_id);
	if (ev->update_id != NULL)
		sqlite3_bind_int(s, 9, ev->revision);
	sqlite3_bind_int(s, 10, ev->hresult);
	st_bind_text(s, 11, ev->app_name);
	st_bind_text(s, 12, ev->replacement);
	st_bind_text(s, 13, ev->misc);
	rc = st_step_done(st, s, "store event", e);
	*is_new = rc == 0 && sqlite3_changes(st->db) == 1;
	st_stmt_done(s);
	return rc;
}

static int computer_is_direct(struct storage *st, const char *id, int *direct, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_COMPUTER_DIRECT, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	*direct = rc == SQLITE_ROW;
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : st_sql_err(st, e, rc, "read computer");
	st_stmt_done(s);
	return rc;
}

static int computer_reported(struct storage *st, const struct storage_report_event *ev, int is_new,
			     struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_COMPUTER_REPORTED, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, ev->computer_id);
	sqlite3_bind_int64(s, 2, ev->received_ms);
	sqlite3_bind_int(s, 3, is_new ? ev->sync_result : 0);
	sqlite3_bind_int(s, 4, is_new && ev->snapshot);
	rc = st_step_done(st, s, "record a report", e);
	st_stmt_done(s);
	return rc;
}

static int apply_state(struct storage *st, const char *computer, const struct storage_report_state *x,
		       int64_t when, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int forget = x->status < 0;
	int rc = st_prepare(st, forget ? SQL_STATUS_FORGET : SQL_STATUS_UPSERT, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, computer);
	st_bind_text(s, 2, x->update_id);
	if (forget) {
		sqlite3_bind_int64(s, 3, when);
	} else {
		sqlite3_bind_int(s, 3, x->status);
		sqlite3_bind_int64(s, 4, when);
	}
	rc = st_step_done(st, s, "update status", e);
	st_stmt_done(s);
	return rc;
}

/* Design notes 2 and 3. */
static int apply_states(struct storage *st, const struct storage_report_event *ev, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	for (size_t i = 0; i < ev->n_states && rc == 0; i++) {
		if (ev->states[i].status > 6) {
			rc = err_set(e, -EINVAL, "update status %d out of range", ev->states[i].status);
			break;
		}
		rc = apply_state(st, ev->computer_id, &ev->states[i], ev->time_ms, e);
	}
	if (rc < 0 || !ev->snapshot)
		return rc;
	rc = st_prepare(st, SQL_STATUS_SNAPSHOT, &s, e);
	if (rc < 0)
		return rc;
	st_bind_text(s, 1, ev->computer_id);
	sqlite3_bind_int64(s, 2, ev->time_ms);
	rc = st_step_done(st, s, "drop status older than a full report", e);
	st_stmt_done(s);
	return rc;
}

static int put_one(struct storage *st, const struct storage_report_event *ev, int *is_new, struct err *e)
{
	int direct = 0, rc;

	if (ev->instance_id == NULL || ev->computer_id == NULL)
		return err_set(e, -EINVAL, "an event needs an EventInstanceID and a computer");
	rc = insert_event(st, ev, is_new, e);
	if (rc == 0)
		rc = computer_is_direct(st, ev->computer_id, &direct, e);
	if (rc < 0 || !direct)
		return rc;
	rc = computer_reported(st, ev, *is_new, e);
	if (rc == 0 && *is_new)
		rc = apply_states(st, ev, e);
	return rc;
}

int storage_report_put(struct storage *st, const struct storage_report_event *ev, size_t n,
		       size_t *inserted, struct err *e)
{
	size_t added = 0;
	int rc = st_tx_begin(st, e);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int is_new = 0;

		rc = put_one(st, &ev[i], &is_new, e);
		added += (size_t)is_new;
	}
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	if (rc == 0 && inserted != NULL)
		*inserted = added;
	return rc;
}

/*---- Retention ----*/

/* Run one chunked DELETE until a chunk comes back short (design note 5). */
static int prune_chunks(struct storage *st, const char *sql, int64_t arg, int64_t *deleted, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int changes, rc;

	do {
		rc = st_tx_begin(st, e);
		if (rc < 0)
			return rc;
		rc = st_prepare(st, sql, &s, e);
		if (rc == 0) {
			sqlite3_bind_int64(s, 1, arg);
			sqlite3_bind_int(s, 2, PRUNE_CHUNK);
			rc = st_step_done(st, s, "prune events", e);
			st_stmt_done(s);
		}
		changes = rc == 0 ? sqlite3_changes(st->db) : 0;
		if (rc == 0)
			rc = st_tx_commit(st, e);
		else
			st_tx_rollback(st);
		if (rc < 0)
			return rc;
		*deleted += changes;
	} while (changes == PRUNE_CHUNK);
	return 0;
}

int storage_report_prune(struct storage *st, int64_t before_ms, int64_t max_rows, int64_t *deleted,
			 struct err *e)
{
	int64_t n = 0;
	int rc;

	if (max_rows < 0)
		return err_set(e, -EINVAL, "negative event cap");
	if (st->tx_depth != 0)
		return err_set(e, -EINVAL, "prune runs outside any transaction");
	rc = prune_chunks(st, SQL_PRUNE_AGE, before_ms, &n, e);
	if (rc == 0)
		rc = prune_chunks(st, SQL_PRUNE_COUNT, max_rows, &n, e);
	if (deleted != NULL)
		*deleted = n;
	return rc;
}

/*---- Reading ----*/

static int summary_computers(struct storage *st, struct storage_report_summary *r, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_SUMMARY_COMPUTERS, &s, e), step;

	if (rc < 0)
		return rc;
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		r->computers = sqlite3_column_int64(s, 0);
		r->computers_reporting = sqlite3_column_int64(s, 1);
		r->last_report_ms = sqlite3_column_int64(s, 2);
	} else {
		rc = st_sql_err(st, e, step, "summarise computers");
	}
	st_stmt_done(s);
	return rc;
}

static int summary_states(struct storage *st, struct storage_report_summary *r, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_SUMMARY_STATES, &s, e);

	while (rc == 0) {
		int step = sqlite3_step(s), status;

		if (step != SQLITE_ROW) {
			if (step != SQLITE_DONE)
				rc = st_sql_err(st, e, step, "summarise update status");
			break;
		}
		status = sqlite3_column_int(s, 0);
		if (status < 0 || status > 6)
			continue;
		r->by_status[status] = sqlite3_column_int64(s, 1);
		if (status == 5)
			r->computers_with_errors = sqlite3_column_int64(s, 2);
	}
	st_stmt_done(s);
	return rc;
}

int storage_report_summary(struct storage *st, struct storage_report_summary *out, struct err *e)
{
	struct storage_report_summary r;
	int opened, rc;

	memset(&r, 0, sizeof(r));
	opened = storage_read_begin(st, e);
	if (opened < 0)
		return opened;
	rc = summary_computers(st, &r, e);
	if (rc == 0)
		rc = summary_states(st, &r, e);
	if (rc == 0)
		rc = st_query_int64(st, SQL_SUMMARY_NEEDING, &r.computers_needing, e);
	if (rc == 0)
		rc = st_query_int64(st, SQL_SUMMARY_EVENTS, &r.events, e);
	storage_read_end(st, opened);
	if (rc == 0)
		*out = r;
	return rc;
}

int storage_report_computer_status(struct storage *st, const char *computer_id,
				   int (*fn)(const char *update_id, int status, int64_t last_change_ms,
					     void *ctx),
				   void *ctx, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, SQL_COMPUTER_STATUS, -1, &s, NULL);

	if (rc != SQLITE_OK) {
		rc = st_sql_err(st, e, rc, "prepare");
		sqlite3_finalize(s);
		return rc;
	}
	st_bind_text(s, 1, computer_id);
	rc = 0;
	while (rc == 0) {
		int step = sqlite3_step(s);

		if (step != SQLITE_ROW) {
			if (step != SQLITE_DONE)
				rc = st_sql_err(st, e, step, "read update status");
			break;
		}
		rc = fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
			sqlite3_column_int64(s, 2), ctx);
	}
	sqlite3_finalize(s);
	return rc;
}
