/*
 * storage_rollup.c -- the downstream side of the reporting rollup
 * (MS-WSUSSS 3.2.4.5): which computers and which update statuses our
 * upstream has not seen yet, and the bookkeeping after it accepted them.
 * The rollup is incremental: a computer goes again only when its
 * attributes or Details differ from the fingerprint stored when the
 * upstream last accepted them, and its statuses only when they changed
 * after its watermark (the newest changed_at the upstream accepted: our
 * clock, migration 9; MS-WSUSSS calls it LastStatusRollupTime and compares
 * LastChangeTime, which is the client's). A new upstream, or a new
 * RollupResetGuid from it, clears all of that so everything goes in full.
 * Also the ServerSummary counters that come from the Update Status table,
 * and the install activity of the ClientSummaries: ours counted from the
 * install events after a watermark (the newest event id the upstream
 * accepted), a descendant's taken off dss_activity once sent (3.2.4.5).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

#define KEY_UPSTREAM "rollup.upstream"   /* "<uss server id> <reset guid>" of the last rollup */

/* The well-known classification GUIDs counted as critical (MS-WSUSSS <71>). */
#define CLASS_CRITICAL "e6cf1350-c01b-414d-a61f-263d14d133b4"
#define CLASS_SECURITY "0fa1201d-4330-4fa8-8ae9-b877473b6441"

static int64_t column_time(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? INT64_MIN : sqlite3_column_int64(s, col);
}

static int exec_text(struct storage *st, const char *sql, const char *a, const char *what, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, a);
	rc = st_step_done(st, s, what, e);
	st_stmt_done(s);
	return rc;
}

/*---- The upstream ----*/

static const char SQL_RESET_ALL[] =
	"UPDATE computer SET rollup_info_sent = NULL, rollup_details_sent = NULL, rollup_status_time = NULL";
static const char SQL_RESET_NUMBERS[] = "UPDATE computer SET rollup_sent_number = 0";

int storage_rollup_begin(struct storage *st, const char *uss_id, const char *reset_guid, int *reset,
			 struct err *e)
{
	char uss[WSUS_GUID_LEN], guid[WSUS_GUID_LEN], want[2 * WSUS_GUID_LEN + 2];
	char *have = NULL;
	int rc, new_server;

	*reset = 0;
	if (uss_id == NULL || reset_guid == NULL || wsus_guid_normalize(uss_id, uss) < 0 ||
	    wsus_guid_normalize(reset_guid, guid) < 0)
		return err_set(e, -EINVAL, "the upstream's ServerId and RollupResetGuid must be GUIDs");
	snprintf(want, sizeof(want), "%s %s", uss, guid);
	if (storage_state_get(st, KEY_UPSTREAM, &have) == 0 && strcmp(have, want) == 0) {
		free(have);
		return 0;
	}
	new_server = have == NULL || strncmp(have, uss, WSUS_GUID_LEN - 1) != 0;
	free(have);
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = st_exec(st, SQL_RESET_ALL, e);
	if (rc == 0 && new_server)
		rc = st_exec(st, SQL_RESET_NUMBERS, e);
	if (rc == 0)
		rc = storage_state_set(st, KEY_UPSTREAM, want, e);
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	if (rc == 0)
		*reset = 1;
	return rc;
}

/*---- Computers ----*/

static const char SQL_COMPUTERS[] =
	"SELECT c.computer_id, coalesce(c.parent_server_id, ''), c.last_sync_time, c.last_sync_result,"
	" c.last_reboot_time, c.last_report_time, c.last_inventory_time,"
	/* EffectiveLastDetectionTime: the newest catalogue sync before the
	 * computer's last detection (MS-WSUSSS 3.2.4.5 step 5.3), NULL none */
	" (SELECT max(h.finished_at) FROM sync_history h WHERE h.result = 'succeeded'"
	"   AND h.finished_at < coalesce(c.effective_last_detection, c.last_sync_time)),"
	" c.ip_address, c.dns_name, c.os_major, c.os_minor, c.os_build, c.os_sp_major, c.os_sp_minor,"
	" c.os_locale, c.os_family, c.os_description, c.manufacturer, c.model, c.bios_version, c.bios_name,"
	" c.bios_release_date, c.processor_arch, c.suite_mask, c.old_product_type, c.new_product_type,"
	" c.system_metrics, c.client_version,"
	" CASE WHEN c.parent_server_id IS NULL THEN coalesce(c.group_id, '') ELSE coalesce(c.target_group_ids, '') END,"
	" coalesce(c.requested_groups, ''), coalesce(c.rollup_info_sent, ''), coalesce(c.rollup_details_sent, ''),"
	" c.rollup_sent_number, c.rollup_status_time,"
	" (SELECT max(u.changed_at) FROM update_status u WHERE u.computer_id = c.computer_id)"
	" FROM computer c ORDER BY c.computer_id";

static void computer_row(sqlite3_stmt *s, struct storage_rollup_out *c)
{
	memset(c, 0, sizeof(*c));
	st_column_copy(s, 0, c->computer_id, sizeof(c->computer_id));
	st_column_copy(s, 1, c->parent_id, sizeof(c->parent_id));
	c->last_sync_ms = column_time(s, 2);
	c->last_sync_result = sqlite3_column_int(s, 3);
	c->last_reboot_ms = column_time(s, 4);
	c->last_report_ms = column_time(s, 5);
	c->last_inventory_ms = column_time(s, 6);
	c->detection_ms = column_time(s, 7);
	st_column_copy(s, 8, c->ip, sizeof(c->ip));
	st_column_copy(s, 9, c->fqdn, sizeof(c->fqdn));
	c->os_major = sqlite3_column_int(s, 10);
	c->os_minor = sqlite3_column_int(s, 11);
	c->os_build = sqlite3_column_int(s, 12);
	c->os_sp_major = sqlite3_column_int(s, 13);
	c->os_sp_minor = sqlite3_column_int(s, 14);
	st_column_copy(s, 15, c->os_locale, sizeof(c->os_locale));
	st_column_copy(s, 16, c->os_family, sizeof(c->os_family));
	st_column_copy(s, 17, c->os_description, sizeof(c->os_description));
	st_column_copy(s, 18, c->make, sizeof(c->make));
	st_column_copy(s, 19, c->model, sizeof(c->model));
	st_column_copy(s, 20, c->bios_version, sizeof(c->bios_version));
	st_column_copy(s, 21, c->bios_name, sizeof(c->bios_name));
	st_column_copy(s, 22, c->bios_date, sizeof(c->bios_date));
	st_column_copy(s, 23, c->arch, sizeof(c->arch));
	c->suite_mask = sqlite3_column_int(s, 24);
	c->old_product_type = sqlite3_column_int(s, 25);
	c->new_product_type = sqlite3_column_int(s, 26);
	c->system_metrics = sqlite3_column_int(s, 27);
	st_column_copy(s, 28, c->client_version, sizeof(c->client_version));
	st_column_copy(s, 29, c->group_ids, sizeof(c->group_ids));
	st_column_copy(s, 30, c->requested, sizeof(c->requested));
	st_column_copy(s, 31, c->info_sent, sizeof(c->info_sent));
	st_column_copy(s, 32, c->details_sent, sizeof(c->details_sent));
	c->sent_number = sqlite3_column_int(s, 33);
	c->status_time = column_time(s, 34);
	c->newest_status_ms = column_time(s, 35);
}

int storage_rollup_computers(struct storage *st, int (*fn)(const struct storage_rollup_out *c, void *ctx),
			     void *ctx, struct err *e)
{
	struct storage_rollup_out *c = malloc(sizeof(*c));
	sqlite3_stmt *s = NULL;
	int rc;

	if (c == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	/* A statement of its own: fn calls back into storage. */
	rc = sqlite3_prepare_v2(st->db, SQL_COMPUTERS, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = st_sql_err(st, e, rc, "list computers for the rollup");
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r;

		computer_row(s, c);
		r = fn(c, ctx);
		if (r != 0) {
			rc = r;
			goto done;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list computers for the rollup");
done:
	sqlite3_finalize(s);
	free(c);
	return rc;
}

static const char SQL_SENT_BOTH[] =
	"UPDATE computer SET rollup_info_sent = ?2, rollup_details_sent = ?3 WHERE computer_id = ?1";
static const char SQL_SENT_INFO[] = "UPDATE computer SET rollup_info_sent = ?2 WHERE computer_id = ?1";

int storage_rollup_computer_sent(struct storage *st, const char *computer_id, const char *info,
				 const char *details, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, details != NULL ? SQL_SENT_BOTH : SQL_SENT_INFO, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, computer_id);
	st_bind_text(s, 2, info);
	if (details != NULL)
		st_bind_text(s, 3, details);
	rc = st_step_done(st, s, "record a rolled-up computer", e);
	st_stmt_done(s);
	return rc;
}

static const char SQL_DELETED[] = "DELETE FROM computer WHERE computer_id = ?1";
static const char SQL_NEW_PARENT[] = "UPDATE computer SET rollup_details_sent = NULL WHERE computer_id = ?1";

int storage_rollup_computer_changed(struct storage *st, const char *computer_id, int deleted,
				    struct err *e)
{
	return exec_text(st, deleted ? SQL_DELETED : SQL_NEW_PARENT, computer_id,
			 deleted ? "drop a computer the upstream deleted" : "mark a computer's details", e);
}

/*---- Statuses ----*/

static const char SQL_STATUS_ROWS[] =
	"SELECT update_id, status, last_change_time, changed_at FROM update_status WHERE computer_id = ?1"
	" AND (?2 IS NULL OR changed_at > ?2) ORDER BY update_id";

int storage_rollup_status_rows(struct storage *st, const char *computer_id, int64_t since_ms,
			       int (*fn)(const char *update_id, int status, int64_t last_change_ms,
					 int64_t changed_ms, void *ctx),
			       void *ctx, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, SQL_STATUS_ROWS, -1, &s, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return st_sql_err(st, e, rc, "read update status");
	}
	st_bind_text(s, 1, computer_id);
	if (since_ms != INT64_MIN)
		sqlite3_bind_int64(s, 2, since_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r = fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
			   sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3), ctx);

		if (r != 0) {
			sqlite3_finalize(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read update status");
	sqlite3_finalize(s);
	return rc;
}

static const char SQL_STATUS_FULL[] = "UPDATE computer SET rollup_status_time = NULL WHERE computer_id = ?1";
static const char SQL_STATUS_SENT[] =
	"UPDATE computer SET rollup_sent_number = ?2,"
	" rollup_status_time = max(coalesce(rollup_status_time, ?3), ?3) WHERE computer_id = ?1";

int storage_rollup_status_full(struct storage *st, const char *computer_id, struct err *e)
{
	return exec_text(st, SQL_STATUS_FULL, computer_id, "mark a computer for a full status rollup", e);
}

int storage_rollup_status_sent(struct storage *st, const char *computer_id, int number,
			       int64_t newest_ms, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_STATUS_SENT, &s, e);

	if (rc < 0)
		return rc;
	st_bind_text(s, 1, computer_id);
	sqlite3_bind_int(s, 2, number);
	sqlite3_bind_int64(s, 3, newest_ms);
	rc = st_step_done(st, s, "record a status rollup", e);
	st_stmt_done(s);
	return rc;
}

/*---- ServerSummary counters ----*/

#define OURS "SELECT computer_id FROM computer WHERE parent_server_id IS NULL"
#define APPROVED "SELECT update_id FROM deployment WHERE dead = 0 AND action = 'install'"

static const char *const counts_sql[] = {
	"SELECT count(DISTINCT update_id) FROM update_status WHERE status = 5 AND computer_id IN (" OURS ")",
	"SELECT count(DISTINCT r.update_id) FROM revision_latest r JOIN revision_file rf"
	" ON rf.revision_id = r.revision_id JOIN file f ON f.sha1 = rf.sha1"
	" WHERE f.state = 'quarantined' AND r.update_id IN (" APPROVED ")",
	"SELECT count(DISTINCT update_id) FROM update_status WHERE status IN (2, 3) AND computer_id IN (" OURS ")",
	"SELECT count(*) FROM (SELECT update_id FROM update_status WHERE computer_id IN (" OURS ")"
	" GROUP BY update_id HAVING sum(status BETWEEN 2 AND 6) > 0 AND sum(status IN (2, 3, 5)) = 0)",
	"SELECT count(DISTINCT r.update_id) FROM revision_latest r JOIN prereq p ON p.revision_id = r.revision_id"
	" WHERE r.update_type IN ('Software', 'Driver') AND r.hidden = 0 AND p.is_category = 1"
	" AND p.update_id IN ('" CLASS_CRITICAL "', '" CLASS_SECURITY "') AND r.update_id NOT IN (" APPROVED ")",
	"SELECT count(*) FROM revision_latest WHERE update_type IN ('Software', 'Driver') AND hidden = 0"
	" AND is_mandatory = 1 AND update_id NOT IN (" APPROVED ")",
	"SELECT count(DISTINCT computer_id) FROM update_status WHERE status IN (2, 3)"
	" AND computer_id IN (" OURS ")",
	"SELECT count(DISTINCT computer_id) FROM update_status WHERE status = 5 AND computer_id IN (" OURS ")",
	"SELECT count(*) FROM computer c WHERE c.parent_server_id IS NULL AND c.last_report_time IS NOT NULL"
	" AND NOT EXISTS (SELECT 1 FROM update_status u WHERE u.computer_id = c.computer_id"
	" AND u.status IN (2, 3, 5))",
};

int storage_rollup_counts(struct storage *st, struct storage_rollup_counts *out, struct err *e)
{
	int64_t *v[] = {
		&out->updates_with_client_errors, &out->updates_with_server_errors, &out->updates_needed,
		&out->updates_up_to_date, &out->critical_not_approved, &out->infrastructure_not_approved,
		&out->computers_needing, &out->computers_with_errors, &out->computers_up_to_date,
	};
	int opened, rc = 0;

	memset(out, 0, sizeof(*out));
	opened = storage_read_begin(st, e);
	if (opened < 0)
		return opened;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]) && rc == 0; i++)
		rc = st_query_int64(st, counts_sql[i], v[i], e);
	storage_read_end(st, opened);
	return rc;
}

/*---- Install activity (ClientSummaries) ----*/

#define KEY_ACTIVITY "rollup.activity_event"   /* the newest event our upstream has counted */

/* The OS group key our upstream role keeps in dss_activity.os
 * (server_reporting.c): major.minor.build.spmajor.spminor/locale/arch/
 * suite/oldtype/newtype/metrics. */
#define OS_KEY(c)                                                                                   \
	"printf('%d.%d.%d.%d.%d/%s/%s/%d/%d/%d/%d', coalesce(" c ".os_major, 0),"                 \
	" coalesce(" c ".os_minor, 0), coalesce(" c ".os_build, 0), coalesce(" c ".os_sp_major, 0),"  \
	" coalesce(" c ".os_sp_minor, 0), coalesce(" c ".os_locale, ''), coalesce(" c ".processor_arch, ''),"\
	" coalesce(" c ".suite_mask, 0), coalesce(" c ".old_product_type, 0),"                        \
	" coalesce(" c ".new_product_type, 0), coalesce(" c ".system_metrics, 0))"

/* Install events (server_report.c's event_states): installed, also with a
 * reboot pending; failed, killed, or failed after the reboot. */
#define EV_SUCCESS "183, 184, 190, 191, 197, 199"
#define EV_FAILURE "182, 187, 192, 195, 198, 200, 203, 204"

/* Count: the computers of the group that get updates from that server
 * (?1 NULL: ours), counted once per query rather than once per row. */
#define GROUP_COUNTS                                                                                \
	"WITH grp(os, n) AS (SELECT " OS_KEY("g") ", count(*) FROM computer g"                      \
	" WHERE g.parent_server_id IS ?1 GROUP BY 1) "

static const char SQL_ACTIVITY_OURS[] =
	GROUP_COUNTS "SELECT a.os, a.update_id, a.rev, a.ok, a.bad, coalesce(grp.n, 0) FROM ("
	" SELECT " OS_KEY("c") " AS os, lower(ev.update_id) AS update_id,"
	"  coalesce(ev.revision_number, 0) AS rev, sum(ev.event_code IN (" EV_SUCCESS ")) AS ok,"
	"  sum(ev.event_code IN (" EV_FAILURE ")) AS bad"
	" FROM event ev JOIN computer c ON c.computer_id = ev.computer_id AND c.parent_server_id IS NULL"
	" WHERE ev.event_id > ?2 AND ev.event_id <= ?3 AND ev.update_id IS NOT NULL"
	"  AND ev.event_code IN (" EV_SUCCESS ", " EV_FAILURE ")"
	" GROUP BY 1, 2, 3) a LEFT JOIN grp ON grp.os = a.os ORDER BY a.os, a.update_id, a.rev";

static const char SQL_ACTIVITY_DSS[] =
	GROUP_COUNTS "SELECT a.os, a.update_id, a.revision_number, a.install_success, a.install_failure,"
	" coalesce(grp.n, 0) FROM dss_activity a LEFT JOIN grp ON grp.os = a.os"
	" WHERE a.server_id = ?1 AND (a.install_success > 0 OR a.install_failure > 0)"
	" ORDER BY a.os, a.update_id, a.revision_number";

static int64_t activity_watermark(struct storage *st)
{
	char *v = NULL;
	int64_t w = 0;

	if (storage_state_get(st, KEY_ACTIVITY, &v) == 0)
		w = strtoll(v, NULL, 10);
	free(v);
	return w;
}

int storage_rollup_activity(struct storage *st, const char *server_id, int64_t *last_event,
			    int (*fn)(const struct storage_rollup_activity *a, void *ctx), void *ctx,
			    struct err *e)
{
	struct storage_rollup_activity a;
	sqlite3_stmt *s = NULL;
	int rc;

	*last_event = 0;
	if (server_id == NULL) {
		rc = st_query_int64(st, "SELECT coalesce(max(event_id), 0) FROM event", last_event, e);
		if (rc < 0)
			return rc;
	}
	/* A statement of its own: fn may call back into storage. */
	rc = sqlite3_prepare_v2(st->db, server_id ? SQL_ACTIVITY_DSS : SQL_ACTIVITY_OURS, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return st_sql_err(st, e, rc, "read install activity");
	}
	if (server_id != NULL) {
		st_bind_text(s, 1, server_id);
	} else {
		sqlite3_bind_int64(s, 2, activity_watermark(st));
		sqlite3_bind_int64(s, 3, *last_event);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r;

		memset(&a, 0, sizeof(a));
		st_column_copy(s, 0, a.os, sizeof(a.os));
		st_column_copy(s, 1, a.update_id, sizeof(a.update_id));
		a.revision = sqlite3_column_int(s, 2);
		a.success = sqlite3_column_int64(s, 3);
		a.failure = sqlite3_column_int64(s, 4);
		a.computers = sqlite3_column_int64(s, 5);
		r = fn(&a, ctx);
		if (r != 0) {
			sqlite3_finalize(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read install activity");
	sqlite3_finalize(s);
	return rc;
}

static const char SQL_ACTIVITY_TAKE[] =
	"UPDATE dss_activity SET install_success = max(install_success - ?5, 0),"
	" install_failure = max(install_failure - ?6, 0)"
	" WHERE server_id = ?1 AND update_id = ?2 AND revision_number = ?3 AND os = ?4";
static const char SQL_ACTIVITY_DROP[] =
	"DELETE FROM dss_activity WHERE server_id = ?1 AND update_id = ?2 AND revision_number = ?3"
	" AND os = ?4 AND install_success = 0 AND install_failure = 0";

int storage_rollup_activity_sent(struct storage *st, const char *server_id,
				 const struct storage_rollup_activity *a, struct err *e)
{
	const char *sql[] = { SQL_ACTIVITY_TAKE, SQL_ACTIVITY_DROP };
	int rc = 0;

	for (size_t i = 0; i < 2 && rc == 0; i++) {
		sqlite3_stmt *s = NULL;

		rc = st_prepare(st, sql[i], &s, e);
		if (rc < 0)
			return rc;
		st_bind_text(s, 1, server_id);
		st_bind_text(s, 2, a->update_id);
		sqlite3_bind_int(s, 3, a->revision);
		st_bind_text(s, 4, a->os);
		if (i == 0) {
			sqlite3_bind_int64(s, 5, a->success);
			sqlite3_bind_int64(s, 6, a->failure);
		}
		rc = st_step_done(st, s, "record rolled-up install counts", e);
		st_stmt_done(s);
	}
	return rc;
}

int storage_rollup_activity_mark(struct storage *st, int64_t last_event, struct err *e)
{
	char v[24];

	if (last_event <= activity_watermark(st))
		return 0;
	snprintf(v, sizeof(v), "%lld", (long long)last_event);
	return storage_state_set(st, KEY_ACTIVITY, v, e);
}
