/*
 * storage_report.c -- what clients report (MS-WUSP ReportEventBatch): the
 * event log, each directly registered computer's update status derived from
 * its events, the computer's last report time, the byte quotas, and the
 * summary `status` shows. Nothing here allocates for the caller.
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
 *     up computers get theirs from RollupComputerStatus. storage_report_put
 *     (tests, tools) still logs events of a computer that never registered;
 *     the client path (storage_report_put_batches) refuses them.
 * (5) Retention and the computers' expiry are in storage_maint.c.
 * (6) Bounded intake. storage_report_put_batches stores a group of batches
 *     (one per ReportEventBatch request) in one transaction, so the writer
 *     commits many requests at once and each is acknowledged after that
 *     commit. A batch's events go in order until a new one would pass the
 *     computer's bytes for the UTC day or the event store's ceiling: the
 *     batch is then refused (the client keeps it and sends it again), and
 *     what was stored of it stays, since the resend skips known events at no
 *     cost. Bytes are an estimate of what a row occupies with its index
 *     entries (storage_report_event_size); the store's sum is kept by
 *     triggers (schema version 4), so every deletion lowers it.
 */
#include "storage_int.h"

#include <errno.h>
#include <string.h>

#define DAY_MS      (86400LL * 1000)
#define EVENT_TIME_BYTES 24   /* TimeAtTarget as stored: ISO 8601 with milliseconds */

static const char SQL_EVENT_INSERT[] =
	"INSERT OR IGNORE INTO event(event_instance_id, computer_id, received_at, time_at_target,"
	" namespace_id, event_code, source_id, update_id, revision_number, win32_hresult, app_name,"
	" replacement_strings, misc_data, size)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
static const char SQL_EVENT_KNOWN[] = "SELECT 1 FROM event WHERE event_instance_id = ?1";
static const char SQL_STORE_BYTES[] = "SELECT bytes FROM event_store WHERE id = 1";
static const char SQL_USAGE_READ[] =
	"SELECT bytes FROM event_usage WHERE computer_id = ?1 AND day = ?2";
static const char SQL_USAGE_ADD[] =
	"INSERT INTO event_usage(computer_id, day, bytes) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (computer_id, day) DO UPDATE SET bytes = bytes + excluded.bytes";
static const char SQL_USAGE_REFUSED[] =
	"INSERT INTO event_usage(computer_id, day, refused) VALUES (?1, ?2, 1)"
	" ON CONFLICT (computer_id, day) DO UPDATE SET refused = refused + 1 RETURNING refused";
static const char SQL_COMPUTER_DIRECT[] =
	"SELECT 1 FROM computer WHERE computer_id = ?1 AND parent_server_id IS NULL";
static const char SQL_COMPUTER_REPORTED[] =
	"UPDATE computer SET last_report_time = max(coalesce(last_report_time, 0), ?2),"
	" last_sync_result = CASE WHEN ?3 > 0 THEN ?3 ELSE last_sync_result END,"
	" last_status_time = CASE WHEN ?4 THEN max(coalesce(last_status_time, 0), ?2)"
	" ELSE last_status_time END"
	" WHERE computer_id = ?1 AND parent_server_id IS NULL";
static const char SQL_STATUS_UPSERT[] =
	"INSERT INTO update_status(computer_id, update_id, status, last_change_time, changed_at)"
	" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (computer_id, update_id) DO UPDATE SET"
	" status = excluded.status, last_change_time = excluded.last_change_time,"
	" changed_at = CASE WHEN excluded.status <> update_status.status THEN excluded.changed_at"
	"  ELSE update_status.changed_at END"
	" WHERE excluded.last_change_time >= update_status.last_change_time";
static const char SQL_STATUS_FORGET[] =
	"DELETE FROM update_status WHERE computer_id = ?1 AND update_id = ?2 AND last_change_time <= ?3";
static const char SQL_STATUS_SNAPSHOT[] =
	"DELETE FROM update_status WHERE computer_id = ?1 AND last_change_time < ?2";
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

static int64_t text_bytes(const char *s)
{
	return s != NULL ? (int64_t)strlen(s) : 0;
}

int64_t storage_report_event_size(const struct storage_report_event *ev)
{
	return STORAGE_EVENT_FIXED_BYTES + EVENT_TIME_BYTES + text_bytes(ev->instance_id) +
	       2 * text_bytes(ev->computer_id) + text_bytes(ev->update_id) + text_bytes(ev->app_name) +
	       text_bytes(ev->replacement) + text_bytes(ev->misc);
}

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
	sqlite3_bind_int64(s, 14, storage_report_event_size(ev));
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
		sqlite3_bind_int64(s, 5, wsus_now_ms());   /* changed_at: our clock (migration 9) */
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

/* Store one event of a computer whose registration is known (direct). */
static int put_event(struct storage *st, const struct storage_report_event *ev, int direct, int *is_new,
		     struct err *e)
{
	int rc = insert_event(st, ev, is_new, e);

	if (rc < 0 || !direct)
		return rc;
	rc = computer_reported(st, ev, *is_new, e);
	if (rc == 0 && *is_new)
		rc = apply_states(st, ev, e);
	return rc;
}

static int bind_usage(sqlite3_stmt *s, const char *computer, int64_t day)
{
	st_bind_text(s, 1, computer);
	return sqlite3_bind_int64(s, 2, day);
}

static int usage_add(struct storage *st, const char *computer, int64_t day, int64_t bytes, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_USAGE_ADD, &s, e);

	if (rc < 0)
		return rc;
	bind_usage(s, computer, day);
	sqlite3_bind_int64(s, 3, bytes);
	rc = st_step_done(st, s, "count event bytes", e);
	st_stmt_done(s);
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
		int is_new = 0, direct = 0;

		if (ev[i].instance_id == NULL || ev[i].computer_id == NULL) {
			rc = err_set(e, -EINVAL, "an event needs an EventInstanceID and a computer");
			break;
		}
		rc = computer_is_direct(st, ev[i].computer_id, &direct, e);
		if (rc == 0)
			rc = put_event(st, &ev[i], direct, &is_new, e);
		if (rc == 0 && is_new)
			rc = usage_add(st, ev[i].computer_id, ev[i].received_ms / DAY_MS,
				       storage_report_event_size(&ev[i]), e);
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

/*---- Storing batches under quotas (design note 6) ----*/

/* Step sql bound to (computer, day); *v = the first column, 0 without a row. */
static int usage_step(struct storage *st, const char *sql, const char *computer, int64_t day, int64_t *v,
		      const char *what, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	bind_usage(s, computer, day);
	rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, what);
	st_stmt_done(s);
	return rc;
}

static int usage_read(struct storage *st, const char *computer, int64_t day, int64_t *bytes, struct err *e)
{
	return usage_step(st, SQL_USAGE_READ, computer, day, bytes, "read event usage", e);
}

/* Count a refused batch; *first = 1 when it is the computer's first today. */
static int usage_refused(struct storage *st, const char *computer, int64_t day, int *first, struct err *e)
{
	int64_t n = 0;
	int rc = usage_step(st, SQL_USAGE_REFUSED, computer, day, &n, "count a refused batch", e);

	*first = n == 1;
	return rc;
}

static int event_known(struct storage *st, const char *instance_id, int *known, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_EVENT_KNOWN, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, instance_id);
	rc = sqlite3_step(s);
	*known = rc == SQLITE_ROW;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "look up an event");
	st_stmt_done(s);
	return rc;
}

/* Which quota, if any, day_total and store_total would pass. */
static enum storage_report_verdict over_quota(const struct storage_report_quota *q, int64_t day_total,
					      int64_t store_total)
{
	if (q != NULL && q->day_bytes > 0 && day_total > q->day_bytes)
		return STORAGE_REPORT_OVER_DAY;
	if (q != NULL && q->store_bytes > 0 && store_total > q->store_bytes)
		return STORAGE_REPORT_OVER_STORE;
	return STORAGE_REPORT_STORED;
}

static int check_batch(const struct storage_report_batch *b, struct err *e)
{
	if (b->computer_id == NULL || (b->n > 0 && b->ev == NULL))
		return err_set(e, -EINVAL, "a batch needs its computer and its events");
	for (size_t i = 0; i < b->n; i++)
		if (b->ev[i].instance_id == NULL || b->ev[i].computer_id == NULL ||
		    strcmp(b->ev[i].computer_id, b->computer_id) != 0)
			return err_set(e, -EINVAL, "every event of a batch needs an EventInstanceID and "
				       "the batch's computer");
	return 0;
}

/* One batch: its events in order until a new one would pass a quota. */
static int put_batch(struct storage *st, struct storage_report_batch *b, const struct storage_report_quota *q,
		     int64_t day, struct err *e)
{
	int64_t used = 0, store = 0;
	int direct = 0, rc = check_batch(b, e);

	b->verdict = STORAGE_REPORT_STORED;
	b->inserted = 0;
	b->bytes = 0;
	b->used = 0;
	b->first_refusal = 0;
	if (rc == 0)
		rc = computer_is_direct(st, b->computer_id, &direct, e);
	if (rc < 0)
		return rc;
	if (!direct) {
		b->verdict = STORAGE_REPORT_UNREGISTERED;
		return 0;
	}
	rc = usage_read(st, b->computer_id, day, &used, e);
	if (rc == 0)
		rc = st_query_int64(st, SQL_STORE_BYTES, &store, e);
	for (size_t i = 0; i < b->n && rc == 0; i++) {
		int64_t size = storage_report_event_size(&b->ev[i]);
		enum storage_report_verdict over = over_quota(q, used + b->bytes + size, store + b->bytes + size);
		int is_new = 0, known = 0;

		if (over != STORAGE_REPORT_STORED) {
			/* a known event costs nothing: a resent batch gets past what it stored */
			rc = event_known(st, b->ev[i].instance_id, &known, e);
			if (rc == 0 && !known) {
				b->verdict = over;
				b->used = over == STORAGE_REPORT_OVER_DAY ? used + b->bytes : store + b->bytes;
				break;
			}
		}
		if (rc == 0)
			rc = put_event(st, &b->ev[i], 1, &is_new, e);
		if (rc == 0 && is_new) {
			b->inserted++;
			b->bytes += size;
		}
	}
	if (rc == 0 && b->bytes > 0)
		rc = usage_add(st, b->computer_id, day, b->bytes, e);
	if (rc == 0 && b->verdict != STORAGE_REPORT_STORED)
		rc = usage_refused(st, b->computer_id, day, &b->first_refusal, e);
	return rc;
}

int storage_report_put_batches(struct storage *st, struct storage_report_batch *b, size_t n,
			       const struct storage_report_quota *q, int64_t now_ms, struct err *e)
{
	int rc = st_tx_begin(st, e);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = put_batch(st, &b[i], q, now_ms / DAY_MS, e);
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	return rc;
}

int storage_report_usage(struct storage *st, const char *computer_id, int64_t now_ms, int64_t *day_bytes,
			 int64_t *store_bytes, struct err *e)
{
	int opened = storage_read_begin(st, e), rc;

	if (opened < 0)
		return opened;
	rc = usage_read(st, computer_id, now_ms / DAY_MS, day_bytes, e);
	if (rc == 0)
		rc = st_query_int64(st, SQL_STORE_BYTES, store_bytes, e);
	storage_read_end(st, opened);
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
