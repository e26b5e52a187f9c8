/*
 * storage_client.c -- the queries of the client role (MS-WUSP): the GetConfig
 * change stamp, computer registration, a client's target groups, its
 * NeededRevisions closure, driver candidates and file names. Arrays handed
 * out (storage_client_scan_build, storage_client_drivers) are malloc'd and freed
 * by the caller with free().
 *
 * Design notes:
 * (1) Every set is computed by one statement: the caller's id lists travel as
 *     JSON arrays (json_each), so a request costs a fixed number of queries
 *     whatever the size of the catalogue or of the client's cache.
 * (2) One revision per update: an update is always represented by its latest
 *     revision; a declined (hidden) update is never part of a closure, nor is
 *     anything only reachable through it.
 * (3) Changes are measured in catalogue anchors (design note 3 of storage.c),
 *     never in clock time, so a change committed while a client was being
 *     answered is reported on its next call rather than lost. Everything a
 *     closure holds (membership, deployments, IsLeaf computed from the
 *     prerequisite rows, change anchors) changes only with a new anchor.
 * (4) So a closure is computed once per (groups, filter, anchor) and handed
 *     out in a shape that serves many requests without SQL or text
 *     comparisons (struct storage_client_scan): the revisions by RevisionID,
 *     their prerequisite clauses as arrays of update numbers, and the map from
 *     every revision of a named update to its number. Keeping it, sharing it
 *     between threads and noticing a new anchor is the caller's business
 *     (server/server_scanstate.c).
 */
#include "storage_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_ALL_ID        "a0a08746-4dbe-4a37-9adf-9e7652c0b421"
#define GROUP_UNASSIGNED_ID "b73ca6ed-5727-47f3-84de-015e03f6a88a"
#define CONFIG_STATE_KEY    "client.config_change"
#define JSON_MAX            (64u * 1024 * 1024)
#define GROUP_NAME_MAX      256

/*---- JSON arrays for json_each ----*/

static int json_ints(struct wsus_buf *b, const int64_t *v, size_t n)
{
	int rc = wsus_buf_appends(b, "[");

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wsus_buf_printf(b, "%s%lld", i ? "," : "", (long long)v[i]);
	if (rc == 0)
		rc = wsus_buf_appends(b, "]");
	return rc;
}

static int json_string(struct wsus_buf *b, const char *s)
{
	int rc = wsus_buf_appends(b, "\"");

	for (; *s != '\0' && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rc = wsus_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			rc = wsus_buf_printf(b, "\\u%04x", c);
		else
			rc = wsus_buf_append(b, s, 1);
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "\"");
	return rc;
}

/* n strings: an array of pointers (stride 0) or n char arrays of stride bytes. */
static int json_strings(struct wsus_buf *b, const void *base, size_t n, size_t stride)
{
	int rc = wsus_buf_appends(b, "[");

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *s = stride ? (const char *)base + i * stride : ((const char *const *)base)[i];

		if (i)
			rc = wsus_buf_appends(b, ",");
		if (rc == 0)
			rc = json_string(b, s);
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "]");
	return rc;
}

static int bind_json(sqlite3_stmt *s, int idx, const struct wsus_buf *b)
{
	return sqlite3_bind_text(s, idx, b->data ? b->data : "[]", -1, SQLITE_TRANSIENT);
}

/*---- The GetConfig stamp ----*/

/* Parse "<ms> <fingerprint>"; 0 when it is the stamp of fingerprint. */
static int stamp_matches(const char *value, const char *fingerprint, int64_t *ms)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != ' ' || strcmp(end + 1, fingerprint) != 0)
		return -1;
	*ms = v;
	return 0;
}

int storage_client_config_stamp(struct storage *st, const char *fingerprint, int64_t *unix_ms,
				struct err *e)
{
	char *value = NULL, text[160];
	int64_t ms, now;
	int rc;

	if (fingerprint == NULL || strlen(fingerprint) > 100 || strchr(fingerprint, ' ') != NULL)
		return err_set(e, -EINVAL, "a config fingerprint is 1-100 characters without spaces");
	if (storage_state_get(st, CONFIG_STATE_KEY, &value) == 0) {
		rc = stamp_matches(value, fingerprint, &ms);
		free(value);
		value = NULL;
		if (rc == 0) {
			*unix_ms = ms;
			return 0;
		}
	}
	/* First answer, or this build answers differently: stamp now, under the
	 * write lock, unless another thread just did. Whole seconds, because
	 * clients echo the value back and may not keep the fraction. */
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	if (storage_state_get(st, CONFIG_STATE_KEY, &value) == 0 &&
	    stamp_matches(value, fingerprint, &ms) == 0) {
		free(value);
		st_tx_rollback(st);
		*unix_ms = ms;
		return 0;
	}
	free(value);
	now = wsus_now_ms() / 1000 * 1000;
	snprintf(text, sizeof(text), "%lld %s", (long long)now, fingerprint);
	rc = storage_state_set(st, CONFIG_STATE_KEY, text, e);
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	if (rc < 0)
		return rc;
	log_info("storage", "client configuration stamped last_change=%lld fingerprint=%s", (long long)now,
		 fingerprint);
	*unix_ms = now;
	return 0;
}

/*---- Target groups ----*/

static const char SQL_DATA_VERSION[] = "PRAGMA data_version";
static const char SQL_GROUP_BY_NAME[] = "SELECT group_id FROM target_group WHERE name = ?1";
static const char SQL_GROUP_ASSIGNED[] =
	"SELECT group_id FROM computer WHERE computer_id = ?1 AND group_id IS NOT NULL";
static const char SQL_GROUP_ANCESTORS[] =
	"WITH RECURSIVE a(g) AS (SELECT value FROM json_each(?1)"
	" UNION SELECT t.parent_id FROM a JOIN target_group t ON t.group_id = a.g"
	" WHERE t.parent_id IS NOT NULL)"
	" SELECT g FROM a ORDER BY g";

static int one_text(struct storage *st, const char *sql, const char *arg, char *out, size_t cap,
		    struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		st_column_copy(s, 0, out, cap);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : st_sql_err(st, e, rc, "look up target group");
	}
	st_stmt_done(s);
	return rc;
}

/* Walk a ';'-separated name list: fn gets each trimmed, non-empty name. */
static int each_name(const char *list, int (*fn)(const char *name, void *ctx), void *ctx)
{
	char name[GROUP_NAME_MAX + 1];
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ';'), *q = end ? end : p + strlen(p);
		size_t n;
		int rc;

		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		n = (size_t)(q - p);
		if (n > 0 && n <= GROUP_NAME_MAX) {
			memcpy(name, p, n);
			name[n] = '\0';
			rc = fn(name, ctx);
			if (rc != 0)
				return rc;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

struct name_walk {
	struct storage *st;
	struct storage_client_groups *g;
	struct err *e;
};

static int add_group(struct storage_client_groups *g, const char *id)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->ids[i], id) == 0)
			return 0;
	if (g->n == STORAGE_CLIENT_MAX_GROUPS)
		return -E2BIG;
	snprintf(g->ids[g->n++], WSUS_GUID_LEN, "%s", id);
	return 0;
}

static int resolve_name(const char *name, void *ctx)
{
	struct name_walk *w = ctx;
	char id[WSUS_GUID_LEN];
	int rc = one_text(w->st, SQL_GROUP_BY_NAME, name, id, sizeof(id), w->e);

	if (rc == -ENOENT) {
		w->g->unknown++;
		return 0;
	}
	if (rc < 0)
		return rc;
	w->g->requested_known++;
	return add_group(w->g, id);
}

static int expand_ancestors(struct storage *st, struct storage_client_groups *g, struct err *e)
{
	struct wsus_buf b;
	sqlite3_stmt *s = NULL;
	int rc;

	wsus_buf_init(&b, JSON_MAX);
	rc = json_strings(&b, g->ids, g->n, WSUS_GUID_LEN);
	if (rc == 0)
		rc = st_prepare(st, SQL_GROUP_ANCESTORS, &s, e);
	if (rc < 0) {
		wsus_buf_free(&b);
		return rc;
	}
	bind_json(s, 1, &b);
	g->n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (add_group(g, (const char *)sqlite3_column_text(s, 0)) < 0) {
			rc = -E2BIG;
			break;
		}
	}
	if (rc == -E2BIG)
		err_set(e, rc, "a client is in more than %d target groups", STORAGE_CLIENT_MAX_GROUPS);
	else
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "expand target groups");
	st_stmt_done(s);
	wsus_buf_free(&b);
	return rc;
}

static int groups_resolve(struct storage *st, const char *computer_id, const char *requested,
			  int client_targeting, struct storage_client_groups *out, struct err *e)
{
	struct name_walk w = { .st = st, .g = out, .e = e };
	char id[WSUS_GUID_LEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if (client_targeting && requested != NULL) {
		rc = each_name(requested, resolve_name, &w);
		if (rc < 0)
			return rc == -E2BIG ? err_set(e, rc, "too many target groups requested") : rc;
	}
	if (out->n == 0) {
		/* No usable client-side choice: the admin's assignment, else Unassigned. */
		rc = computer_id ? one_text(st, SQL_GROUP_ASSIGNED, computer_id, id, sizeof(id), e) : -ENOENT;
		if (rc < 0 && rc != -ENOENT)
			return rc;
		add_group(out, rc == 0 ? id : GROUP_UNASSIGNED_ID);
	}
	add_group(out, GROUP_ALL_ID);
	return expand_ancestors(st, out, e);
}

/* Resolutions are kept on the handle for callers that know the database
 * has not changed (storage_client_groups_at): every client of a group asks
 * the same (its requested names, or its computer's assignment) on every
 * call. One is good while the caller's generation and this handle's own
 * change count (sqlite3_total_changes64: a write here, which the caller's
 * generation may not see yet) are what they were when it was made. */
static int groups_key(const char *computer_id, const char *requested, int client_targeting,
		      uint8_t key[WSUS_SHA1_LEN])
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%d|%s|%s", client_targeting, computer_id ? computer_id : "-",
			 requested ? requested : "-");

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;      /* not kept: resolved every time */
	wsus_sha1(buf, (size_t)n, key);
	return 0;
}

int storage_data_version(struct storage *st, int64_t *v, struct err *e)
{
	return st_query_int64(st, SQL_DATA_VERSION, v, e);
}

int storage_client_groups(struct storage *st, const char *computer_id, const char *requested,
			  int client_targeting, struct storage_client_groups *out, struct err *e)
{
	return groups_resolve(st, computer_id, requested, client_targeting, out, e);
}

int storage_client_groups_at(struct storage *st, uint64_t gen, const char *computer_id, const char *requested,
			     int client_targeting, struct storage_client_groups *out, struct err *e)
{
	struct st_groups_memo *m;
	uint8_t key[WSUS_SHA1_LEN];
	int64_t own = sqlite3_total_changes64(st->db);
	int rc;

	if (gen == 0 || groups_key(computer_id, requested, client_targeting, key) < 0)
		return groups_resolve(st, computer_id, requested, client_targeting, out, e);
	for (size_t i = 0; i < STORAGE_GROUPS_MEMO; i++) {
		m = &st->groups_memo[i];
		if (m->used && m->gen == gen && m->own_changes == own && memcmp(m->key, key, sizeof(key)) == 0) {
			*out = m->g;
			return 0;
		}
	}
	rc = groups_resolve(st, computer_id, requested, client_targeting, out, e);
	if (rc < 0)
		return rc;
	m = &st->groups_memo[st->groups_next++ % STORAGE_GROUPS_MEMO];
	m->used = 1;
	m->gen = gen;
	m->own_changes = own;
	memcpy(m->key, key, sizeof(key));
	m->g = *out;
	return 0;
}

/*---- Registration ----*/

static const char SQL_REGISTER[] =
	"INSERT INTO computer(computer_id, dns_name, ip_address, os_major, os_minor, os_build,"
	" os_sp_major, os_sp_minor, os_locale, os_description, suite_mask, old_product_type,"
	" new_product_type, system_metrics, processor_arch, manufacturer, model, bios_name,"
	" bios_version, bios_release_date, client_version, oem, device_type, firmware_version,"
	" mobile_operator, protocol_version, requested_groups, registered_at, group_id)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
	" ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)"
	" ON CONFLICT(computer_id) DO UPDATE SET dns_name = excluded.dns_name,"
	" ip_address = excluded.ip_address, os_major = excluded.os_major, os_minor = excluded.os_minor,"
	" os_build = excluded.os_build, os_sp_major = excluded.os_sp_major,"
	" os_sp_minor = excluded.os_sp_minor, os_locale = excluded.os_locale,"
	" os_description = excluded.os_description, suite_mask = excluded.suite_mask,"
	" old_product_type = excluded.old_product_type, new_product_type = excluded.new_product_type,"
	" system_metrics = excluded.system_metrics, processor_arch = excluded.processor_arch,"
	" manufacturer = excluded.manufacturer, model = excluded.model, bios_name = excluded.bios_name,"
	" bios_version = excluded.bios_version, bios_release_date = excluded.bios_release_date,"
	" client_version = excluded.client_version, oem = excluded.oem,"
	" device_type = excluded.device_type, firmware_version = excluded.firmware_version,"
	" mobile_operator = excluded.mobile_operator,"
	" protocol_version = coalesce(excluded.protocol_version, computer.protocol_version),"
	" requested_groups = excluded.requested_groups, registered_at = excluded.registered_at,"
	" parent_server_id = NULL,"
	" group_id = CASE WHEN ?30 THEN excluded.group_id ELSE computer.group_id END";

static const char SQL_REGISTER_FULL[] =
	"SELECT NOT EXISTS (SELECT 1 FROM computer WHERE computer_id = ?1 AND parent_server_id IS NULL)"
	" AND (SELECT count(*) FROM computer WHERE parent_server_id IS NULL) >= ?2";

/* 1 when c is a new computer and the cap is reached (inside the write
 * transaction, so concurrent registrations cannot pass it together). */
static int register_full(struct storage *st, const struct storage_client_computer *c, int *full,
			 struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*full = 0;
	if (c->max_computers <= 0)
		return 0;
	rc = st_prepare(st, SQL_REGISTER_FULL, &s, e);
	if (rc < 0)
		return rc;
	st_bind_text(s, 1, c->computer_id);
	sqlite3_bind_int64(s, 2, c->max_computers);
	rc = sqlite3_step(s);
	*full = rc == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
	rc = rc == SQLITE_ROW ? 0 : st_sql_err(st, e, rc, "count computers");
	st_stmt_done(s);
	return rc;
}

static void bind_register(sqlite3_stmt *s, const struct storage_client_computer *c, const char *group_id,
			  int assign)
{
	const char *texts[] = {
		c->computer_id, c->dns_name, c->ip_address,
	};
	const int ints[] = {
		c->os_major, c->os_minor, c->os_build, c->os_sp_major, c->os_sp_minor,
	};
	const char *texts2[] = {
		c->manufacturer, c->model, c->bios_name, c->bios_version, c->bios_release_date,
		c->client_version, c->oem, c->device_type, c->firmware_version, c->mobile_operator,
		c->protocol_version,
	};
	int idx = 1;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		st_bind_text(s, idx++, texts[i]);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		sqlite3_bind_int(s, idx++, ints[i]);
	st_bind_text(s, idx++, c->os_locale);
	st_bind_text(s, idx++, c->os_description);
	sqlite3_bind_int(s, idx++, c->suite_mask);
	sqlite3_bind_int(s, idx++, c->old_product_type);
	sqlite3_bind_int(s, idx++, c->new_product_type);
	sqlite3_bind_int(s, idx++, c->system_metrics);
	st_bind_text(s, idx++, c->processor_arch);
	for (size_t i = 0; i < sizeof(texts2) / sizeof(texts2[0]); i++)
		st_bind_text(s, idx++, texts2[i]);
	st_bind_text(s, idx++, c->requested_groups && c->requested_groups[0] ? c->requested_groups : NULL);
	sqlite3_bind_int64(s, idx++, wsus_now_ms());
	st_bind_text(s, idx++, group_id);
	sqlite3_bind_int(s, idx, assign);
}

struct first_known {
	struct storage *st;
	char id[WSUS_GUID_LEN];
	int unknown;
	struct err *e;
};

static int first_known_name(const char *name, void *ctx)
{
	struct first_known *k = ctx;
	char id[WSUS_GUID_LEN];
	int rc = one_text(k->st, SQL_GROUP_BY_NAME, name, id, sizeof(id), k->e);

	if (rc == -ENOENT) {
		k->unknown++;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (k->id[0] == '\0')
		memcpy(k->id, id, sizeof(id));
	return 0;
}

int storage_client_register(struct storage *st, const struct storage_client_computer *c,
			    int assign_from_request, int *unknown_groups, struct err *e)
{
	struct first_known k = { .st = st, .e = e };
	sqlite3_stmt *s = NULL;
	int rc, full = 0;

	if (c->computer_id == NULL || c->computer_id[0] == '\0' || strlen(c->computer_id) > 255)
		return err_set(e, -EINVAL, "a computer id has 1 to 255 characters");
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = register_full(st, c, &full, e);
	if (rc == 0 && full)
		rc = err_set(e, -EDQUOT, "registration refused: %lld computers are registered (max_computers)",
			     (long long)c->max_computers);
	if (rc == 0)
		rc = each_name(c->requested_groups, first_known_name, &k);
	if (rc == 0)
		rc = st_prepare(st, SQL_REGISTER, &s, e);
	if (rc == 0) {
		bind_register(s, c, assign_from_request && k.id[0] ? k.id : NULL, assign_from_request);
		rc = st_step_done(st, s, "register computer", e);
		st_stmt_done(s);
	}
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	if (rc < 0)
		return rc;
	if (unknown_groups != NULL)
		*unknown_groups = k.unknown;
	log_info("storage", "computer registered computer_id=%s unknown_groups=%d", c->computer_id, k.unknown);
	return 0;
}

static const char SQL_TOUCH_READ[] =
	"SELECT registered_at IS NOT NULL AND parent_server_id IS NULL, coalesce(last_sync_time, 0),"
	" coalesce(protocol_version, '') FROM computer WHERE computer_id = ?1";
static const char SQL_TOUCH_WRITE[] =
	"UPDATE computer SET last_sync_time = ?2, last_sync_result = 1,"
	" protocol_version = coalesce(?3, protocol_version) WHERE computer_id = ?1";

int storage_client_touch(struct storage *st, const char *computer_id, const char *protocol_version,
			 struct err *e)
{
	char pv[16];
	sqlite3_stmt *s = NULL;
	int64_t last = 0, now = wsus_now_ms();
	int rc, registered = 0;

	rc = st_prepare(st, SQL_TOUCH_READ, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, computer_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		registered = sqlite3_column_int(s, 0);
		last = sqlite3_column_int64(s, 1);
		st_column_copy(s, 2, pv, sizeof(pv));
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read computer");
	}
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	if (!registered)
		return err_set(e, -ENOENT, "computer %s is not registered", computer_id);
	/* At most once a minute: steady client traffic must not queue on the
	 * write lock for bookkeeping. */
	if (now - last < 60000 && (protocol_version == NULL || strcmp(pv, protocol_version) == 0))
		return 0;
	rc = st_prepare(st, SQL_TOUCH_WRITE, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, computer_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	st_bind_text(s, 3, protocol_version);
	rc = st_step_done(st, s, "record client sync", e);
	st_stmt_done(s);
	return rc;
}

/*---- NeededRevisions ----*/

/* The latest revision of the update r names (design note 2). */
#define IS_LATEST(r) \
	"(" r ".revision_number = (SELECT max(x.revision_number) FROM revision x WHERE x.update_id = " \
	r ".update_id))"

/* ?1 groups (JSON), ?2 filter categories (JSON), ?3 1 when the filter applies.
 *   dep:  the live deployment of each update to the client's groups, one per
 *         update (block > install > uninstall > evaluate, then the earliest
 *         deadline, then the oldest); and, as a Windows Server WSUS has them,
 *         the implicit Evaluate deployment to All Computers of every category
 *         and detectoid that no explicit deployment to these groups names
 *         (an explicit one, an upstream's included, wins);
 *   cat:  the filter categories and every category below them;
 *   need: the closure of the deployed updates (or, with a filter, of the
 *         deployed ones in cat or related to one in cat) over prerequisites
 *         (by UpdateID: a filter category's ancestors come this way) and
 *         bundled updates;
 *   bdep: for an update bundled by an approved (install) bundle, that
 *         bundle's deployment.
 * IsLeaf is computed from the prerequisite rows, as storage_leaf_refresh
 * stores it, so that it changes only with an anchor (design note 3). */
static const char SQL_NEEDED[] =
	"WITH RECURSIVE"
	" grp(group_id) AS (SELECT value FROM json_each(?1)),"
	" dep AS MATERIALIZED (SELECT update_id, id, action, deadline, is_assigned, last_change_time,"
	"   0 AS implicit"
	"   FROM (SELECT d.update_id, d.id, d.action, d.deadline, d.is_assigned, d.last_change_time,"
	"     row_number() OVER (PARTITION BY d.update_id ORDER BY CASE d.action WHEN 'block' THEN 0"
	"       WHEN 'install' THEN 1 WHEN 'uninstall' THEN 2 ELSE 3 END, d.deadline IS NULL,"
	"       d.deadline, d.id) AS rk"
	"     FROM deployment d WHERE d.dead = 0 AND d.group_id IN (SELECT group_id FROM grp))"
	"   WHERE rk = 1"
	"   UNION ALL SELECT r.update_id, NULL, 'evaluate', NULL, 1, r.created_at, 1 FROM revision r"
	"   WHERE r.update_type IN ('Category', 'Detectoid') AND r.hidden = 0 AND " IS_LATEST("r")
	"   AND NOT EXISTS (SELECT 1 FROM deployment d WHERE d.update_id = r.update_id AND d.dead = 0"
	"     AND d.group_id IN (SELECT group_id FROM grp))),"
	" cat(update_id) AS (SELECT lower(value) FROM json_each(?2)"
	"   UNION SELECT r.update_id FROM cat JOIN prereq p ON p.update_id = cat.update_id"
	"   AND p.is_category = 1 JOIN revision r ON r.revision_id = p.revision_id"
	"   AND r.update_type = 'Category'),"
	" root(update_id) AS (SELECT dep.update_id FROM dep WHERE ?3 = 0"
	"   OR dep.update_id IN (SELECT update_id FROM cat) OR EXISTS ("
	"   SELECT 1 FROM revision r JOIN prereq p ON p.revision_id = r.revision_id"
	"   WHERE r.update_id = dep.update_id AND p.is_category = 1"
	"   AND p.update_id IN (SELECT update_id FROM cat))),"
	" need(update_id) AS (SELECT update_id FROM root"
	"   UNION SELECT p.update_id FROM need JOIN revision r ON r.update_id = need.update_id"
	"     AND r.hidden = 0 AND " IS_LATEST("r") " JOIN prereq p ON p.revision_id = r.revision_id"
	"   UNION SELECT b.bundled_update_id FROM need JOIN revision r ON r.update_id = need.update_id"
	"     AND r.hidden = 0 AND " IS_LATEST("r") " JOIN bundle b ON b.revision_id = r.revision_id),"
	" lat AS MATERIALIZED (SELECT r.revision_id, r.update_id, r.revision_number, r.update_type,"
	"   r.leaf_changed_at FROM need JOIN revision r ON r.update_id = need.update_id"
	"   WHERE r.hidden = 0 AND " IS_LATEST("r") "),"
	" bdep AS (SELECT child, id, deadline, is_assigned, last_change_time FROM ("
	"   SELECT b.bundled_update_id AS child, dep.id, dep.deadline, dep.is_assigned,"
	"     dep.last_change_time, row_number() OVER (PARTITION BY b.bundled_update_id"
	"       ORDER BY dep.deadline IS NULL, dep.deadline, dep.id) AS rk"
	"   FROM dep JOIN lat pr ON pr.update_id = dep.update_id"
	"   JOIN bundle b ON b.revision_id = pr.revision_id WHERE dep.action = 'install')"
	"   WHERE rk = 1)"
	" SELECT l.revision_id, l.update_id, l.revision_number, l.update_type,"
	"  NOT EXISTS (SELECT 1 FROM prereq p WHERE p.update_id = l.update_id),"
	"  l.leaf_changed_at,"
	"  EXISTS (SELECT 1 FROM bundle b WHERE b.revision_id = l.revision_id),"
	"  dep.id, dep.action, dep.deadline, dep.is_assigned, dep.last_change_time,"
	"  bdep.id, bdep.deadline, bdep.is_assigned, bdep.last_change_time,"
	"  max(coalesce((SELECT max(d.anchor) FROM deployment d WHERE d.update_id = l.update_id"
	"      AND d.group_id IN (SELECT group_id FROM grp)), 0),"
	"    coalesce((SELECT max(d.anchor) FROM bundle b JOIN revision pr ON pr.revision_id = b.revision_id"
	"      JOIN deployment d ON d.update_id = pr.update_id WHERE b.bundled_update_id = l.update_id"
	"      AND d.group_id IN (SELECT group_id FROM grp)), 0)),"
	"  coalesce(dep.implicit, 0)"
	" FROM lat l LEFT JOIN dep ON dep.update_id = l.update_id"
	" LEFT JOIN bdep ON bdep.child = l.update_id"
	" ORDER BY l.revision_id";

/* The prerequisite clauses of the closure's revisions (?1 RevisionIDs). */
static const char SQL_NEEDED_PREREQS[] =
	"SELECT p.revision_id, p.clause_id, p.update_id FROM json_each(?1) j"
	" JOIN prereq p ON p.revision_id = j.value ORDER BY p.revision_id, p.clause_id";
/* Every revision of the updates ?1 (UpdateIDs) names, by RevisionID. */
static const char SQL_REVMAP[] =
	"SELECT r.revision_id, r.update_id FROM json_each(?1) j JOIN revision r ON r.update_id = j.value"
	" ORDER BY r.revision_id";
static const char SQL_ANCHOR_NOW[] = "SELECT coalesce(max(anchor), 0) FROM catalog_change";
/* IsLeaf of ?1 RevisionIDs counting only revisions stamped no later than ?2. */
static const char SQL_LEAF_AT[] =
	"SELECT j.value, NOT EXISTS (SELECT 1 FROM prereq p JOIN revision pr ON pr.revision_id = p.revision_id"
	" WHERE p.update_id = r.update_id AND pr.anchor <= ?2)"
	" FROM json_each(?1) j JOIN revision r ON r.revision_id = j.value";

static enum storage_client_action action_of(const char *stored)
{
	if (stored == NULL)
		return STORAGE_CLIENT_DEPENDENCY;
	if (strcmp(stored, "install") == 0)
		return STORAGE_CLIENT_INSTALL;
	if (strcmp(stored, "uninstall") == 0)
		return STORAGE_CLIENT_UNINSTALL;
	if (strcmp(stored, "block") == 0)
		return STORAGE_CLIENT_BLOCK;
	return STORAGE_CLIENT_EVALUATE;
}

static void fill_needed(sqlite3_stmt *s, struct storage_client_rev *r)
{
	memset(r, 0, sizeof(*r));
	r->revision_id = sqlite3_column_int64(s, 0);
	st_column_copy(s, 1, r->update_id, sizeof(r->update_id));
	r->revision = sqlite3_column_int(s, 2);
	r->type = wsus_update_type_parse((const char *)sqlite3_column_text(s, 3));
	r->is_leaf = sqlite3_column_int(s, 4);
	r->leaf_changed_ms = sqlite3_column_int64(s, 5);
	r->has_bundled = sqlite3_column_int(s, 6);
	if (sqlite3_column_type(s, 7) != SQLITE_NULL) {
		r->action = action_of((const char *)sqlite3_column_text(s, 8));
		r->deployment_id = sqlite3_column_int64(s, 7);
		st_column_copy(s, 9, r->deadline, sizeof(r->deadline));
		r->is_assigned = sqlite3_column_int(s, 10);
		r->last_change_ms = sqlite3_column_int64(s, 11);
	} else if (sqlite3_column_int(s, 17)) {
		/* The implicit deployment: Evaluate, assigned, as a WSUS sends it. */
		r->action = STORAGE_CLIENT_EVALUATE;
		r->implicit = 1;
		r->is_assigned = 1;
		r->last_change_ms = sqlite3_column_int64(s, 11);
	} else if (sqlite3_column_type(s, 12) != SQLITE_NULL) {
		r->action = STORAGE_CLIENT_BUNDLE;
		r->deployment_id = sqlite3_column_int64(s, 12);
		st_column_copy(s, 13, r->deadline, sizeof(r->deadline));
		r->is_assigned = sqlite3_column_int(s, 14);
		r->last_change_ms = sqlite3_column_int64(s, 15);
	} else {
		r->action = STORAGE_CLIENT_DEPENDENCY;
		r->last_change_ms = r->leaf_changed_ms;
	}
	r->change_anchor = sqlite3_column_int64(s, 16);
}

static int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 256;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * size);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/*---- The prepared closure (design note 4) ----*/

struct uid_rows {
	char  (*uid)[WSUS_GUID_LEN];   /* the UpdateIDs prerequisites name, sorted, unique */
	size_t n, cap;
};

static int read_closure_revs(struct storage *st, const struct wsus_buf *groups, const struct wsus_buf *filter,
			     int has_filter, struct storage_client_scan *c, struct err *e)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = st_prepare(st, SQL_NEEDED, &s, e);

	if (rc < 0)
		return rc;
	bind_json(s, 1, groups);
	bind_json(s, 2, filter);
	sqlite3_bind_int(s, 3, has_filter);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (grow_array((void **)&c->revs, &cap, c->n + 1, sizeof(*c->revs)) < 0) {
			st_stmt_done(s);
			return err_set(e, -ENOMEM, "out of memory");
		}
		fill_needed(s, &c->revs[c->n++]);
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "compute needed revisions");
	st_stmt_done(s);
	return rc;
}

static int json_rev_ids(const struct storage_client_scan *c, struct wsus_buf *b)
{
	int rc = wsus_buf_appends(b, "[");

	for (size_t i = 0; i < c->n && rc == 0; i++)
		rc = wsus_buf_printf(b, "%s%lld", i ? "," : "", (long long)c->revs[i].revision_id);
	if (rc == 0)
		rc = wsus_buf_appends(b, "]");
	return rc;
}

static int cmp_uid(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* A prerequisite row of a closure revision. */
struct pre_row {
	int64_t  revision_id;
	int64_t  clause;
	uint32_t update;
};

static int rows_read(struct storage *st, const struct wsus_buf *ids, struct uid_rows *u, struct pre_row **rows,
		     size_t *n_rows, int pass, struct err *e)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = st_prepare(st, SQL_NEEDED_PREREQS, &s, e);

	if (rc < 0)
		return rc;
	bind_json(s, 1, ids);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char key[WSUS_GUID_LEN];
		const char (*hit)[WSUS_GUID_LEN];

		st_column_copy(s, 2, key, sizeof(key));
		if (pass == 0) {
			if (grow_array((void **)&u->uid, &u->cap, u->n + 1, sizeof(*u->uid)) < 0) {
				rc = -ENOMEM;
				break;
			}
			memcpy(u->uid[u->n++], key, sizeof(key));
			continue;
		}
		hit = bsearch(key, u->uid, u->n, sizeof(*u->uid), cmp_uid);
		if (hit == NULL)
			continue;
		if (grow_array((void **)rows, &cap, *n_rows + 1, sizeof(**rows)) < 0) {
			rc = -ENOMEM;
			break;
		}
		(*rows)[*n_rows].revision_id = sqlite3_column_int64(s, 0);
		(*rows)[*n_rows].clause = sqlite3_column_int64(s, 1);
		(*rows)[(*n_rows)++].update = (uint32_t)(hit - u->uid);
	}
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	else
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read prerequisites");
	st_stmt_done(s);
	return rc;
}

static void uids_unique(struct uid_rows *u)
{
	size_t k = 0;

	if (u->n == 0)
		return;
	qsort(u->uid, u->n, sizeof(*u->uid), cmp_uid);
	for (size_t i = 0; i < u->n; i++)
		if (k == 0 || strcmp(u->uid[k - 1], u->uid[i]) != 0)
			memmove(u->uid[k++], u->uid[i], sizeof(*u->uid));
	u->n = k;
}

/* Rows (by RevisionID, clause) into the clause arrays of c. */
static int clauses_fill(struct storage_client_scan *c, const struct pre_row *rows, size_t n_rows)
{
	size_t k = 0;

	c->clauses = calloc(c->n + 1, sizeof(*c->clauses));
	c->members = calloc(n_rows + 1, sizeof(*c->members));
	c->need = calloc(n_rows ? n_rows : 1, sizeof(*c->need));
	if (c->clauses == NULL || c->members == NULL || c->need == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		c->clauses[i] = (uint32_t)c->n_clauses;
		while (k < n_rows && rows[k].revision_id < c->revs[i].revision_id)
			k++;
		while (k < n_rows && rows[k].revision_id == c->revs[i].revision_id) {
			int64_t clause = rows[k].clause;

			c->members[c->n_clauses++] = (uint32_t)c->n_need;
			for (; k < n_rows && rows[k].revision_id == c->revs[i].revision_id &&
			       rows[k].clause == clause; k++)
				c->need[c->n_need++] = rows[k].update;
		}
	}
	c->clauses[c->n] = (uint32_t)c->n_clauses;
	c->members[c->n_clauses] = (uint32_t)c->n_need;
	return 0;
}

/* The prerequisite rows of the closure's revisions, twice: first the set of
 * UpdateIDs they name (numbered by sorted position), then the clauses as
 * arrays of those numbers. */
static int read_clauses(struct storage *st, struct storage_client_scan *c, struct uid_rows *u, struct err *e)
{
	struct wsus_buf ids;
	struct pre_row *rows = NULL;
	size_t n_rows = 0;
	int rc;

	wsus_buf_init(&ids, JSON_MAX);
	rc = json_rev_ids(c, &ids);
	if (rc < 0)
		rc = err_set(e, rc, "closure too large");
	if (rc == 0 && c->n > 0)
		rc = rows_read(st, &ids, u, &rows, &n_rows, 0, e);
	if (rc == 0) {
		uids_unique(u);
		if (c->n > 0)
			rc = rows_read(st, &ids, u, &rows, &n_rows, 1, e);
	}
	if (rc == 0 && n_rows >= UINT32_MAX / 2)
		rc = err_set(e, -E2BIG, "closure too large");
	if (rc == 0 && clauses_fill(c, rows, n_rows) < 0)
		rc = err_set(e, -ENOMEM, "out of memory");
	c->n_updates = u->n;
	free(rows);
	wsus_buf_free(&ids);
	return rc;
}

/* Every revision of every update a prerequisite names: how a client's
 * installed RevisionIDs become update numbers. */
static int read_revmap(struct storage *st, struct storage_client_scan *c, const struct uid_rows *u,
		       struct err *e)
{
	struct wsus_buf j;
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	if (u->n == 0)
		return 0;
	wsus_buf_init(&j, JSON_MAX);
	rc = json_strings(&j, u->uid, u->n, WSUS_GUID_LEN);
	if (rc == 0)
		rc = st_prepare(st, SQL_REVMAP, &s, e);
	if (rc < 0) {
		wsus_buf_free(&j);
		return rc == -E2BIG || rc == -ENOMEM ? err_set(e, rc, "closure too large") : rc;
	}
	bind_json(s, 1, &j);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *uid = (const char *)sqlite3_column_text(s, 1);
		const char (*hit)[WSUS_GUID_LEN] = uid ? bsearch(uid, u->uid, u->n, sizeof(*u->uid), cmp_uid) : NULL;

		if (hit == NULL)
			continue;
		if (grow_array((void **)&c->revmap, &cap, c->n_revmap + 1, sizeof(*c->revmap)) < 0) {
			rc = -ENOMEM;
			break;
		}
		c->revmap[c->n_revmap].revision_id = sqlite3_column_int64(s, 0);
		c->revmap[c->n_revmap++].update = (uint32_t)(hit - u->uid);
	}
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	else
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "map prerequisite revisions");
	st_stmt_done(s);
	wsus_buf_free(&j);
	return rc;
}

void storage_client_scan_free(struct storage_client_scan *c)
{
	if (c == NULL)
		return;
	free(c->revs);
	free(c->clauses);
	free(c->members);
	free(c->need);
	free(c->revmap);
	memset(c, 0, sizeof(*c));
}

static int scan_in_snapshot(struct storage *st, const struct wsus_buf *jg, const struct wsus_buf *jf,
			    int has_filter, struct storage_client_scan *c, struct err *e)
{
	struct uid_rows u = { 0 };
	int rc = st_query_int64(st, SQL_ANCHOR_NOW, &c->anchor, e);

	if (rc == 0)
		rc = read_closure_revs(st, jg, jf, has_filter, c, e);
	if (rc == 0)
		rc = read_clauses(st, c, &u, e);
	if (rc == 0)
		rc = read_revmap(st, c, &u, e);
	free(u.uid);
	return rc;
}

int storage_client_scan_build(struct storage *st, const struct storage_client_groups *g,
			      const char (*filter)[WSUS_GUID_LEN], size_t n_filter,
			      struct storage_client_scan *out, struct err *e)
{
	struct wsus_buf jg, jf;
	int rc, snapshot = 0;

	memset(out, 0, sizeof(*out));
	wsus_buf_init(&jg, JSON_MAX);
	wsus_buf_init(&jf, JSON_MAX);
	rc = json_strings(&jg, g->ids, g->n, WSUS_GUID_LEN);
	if (rc == 0)
		rc = json_strings(&jf, filter, n_filter, WSUS_GUID_LEN);
	if (rc < 0) {
		rc = err_set(e, rc, "client id lists too large");
		goto done;
	}
	/* One read snapshot for the anchor and everything it keys. */
	if (st->tx_depth == 0) {
		rc = st_exec(st, "BEGIN", e);
		if (rc < 0)
			goto done;
		snapshot = 1;
	}
	rc = scan_in_snapshot(st, &jg, &jf, n_filter > 0, out, e);
	if (snapshot)
		st_exec(st, "COMMIT", NULL);
done:
	wsus_buf_free(&jg);
	wsus_buf_free(&jf);
	if (rc < 0)
		storage_client_scan_free(out);
	return rc;
}

int storage_client_anchor(struct storage *st, int64_t *anchor, struct err *e)
{
	return st_query_int64(st, SQL_ANCHOR_NOW, anchor, e);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int storage_client_leaf_at(struct storage *st, const int64_t *ids, size_t n, int64_t anchor, int *leaf,
			   struct err *e)
{
	struct wsus_buf j;
	sqlite3_stmt *s = NULL;
	int rc;

	for (size_t i = 0; i < n; i++)
		leaf[i] = 1;
	if (n == 0 || anchor <= 0)
		return 0;
	wsus_buf_init(&j, JSON_MAX);
	rc = json_ints(&j, ids, n);
	if (rc == 0)
		rc = st_prepare(st, SQL_LEAF_AT, &s, e);
	if (rc < 0) {
		wsus_buf_free(&j);
		return rc;
	}
	bind_json(s, 1, &j);
	sqlite3_bind_int64(s, 2, anchor);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		const int64_t *hit = bsearch(&id, ids, n, sizeof(*ids), cmp_id);

		if (hit != NULL)
			leaf[hit - ids] = sqlite3_column_int(s, 1);
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "IsLeaf at an anchor");
	st_stmt_done(s);
	wsus_buf_free(&j);
	return rc;
}

/*---- Drivers ----*/

/* ?1 driver RevisionIDs (JSON), ?2 the FeatureScore OS key, ?3 device ids
 * (JSON), ?4 1 = every row (no device filter), ?5 1 = printers only. */
static const char SQL_DRIVERS[] =
	"SELECT d.revision_id, d.hardware_id, coalesce(d.driver_ver_date, ''),"
	" coalesce(d.driver_ver_version, ''), coalesce(d.class, ''), coalesce(d.manufacturer, ''),"
	" coalesce(d.provider, ''),"
	" (SELECT min(fs.score) FROM driver_feature_score fs WHERE fs.driver_id = d.driver_id"
	"   AND fs.os = ?2),"
	" (SELECT group_concat(c.chid, ',') FROM (SELECT chid FROM driver_distribution_chid"
	"   WHERE driver_id = d.driver_id UNION SELECT chid FROM driver_target_chid"
	"   WHERE driver_id = d.driver_id) c)"
	" FROM driver d WHERE d.revision_id IN (SELECT value FROM json_each(?1))"
	" AND (?4 = 1 OR d.hardware_id IN (SELECT value FROM json_each(?3)))"
	" AND (?5 = 0 OR d.class = 'Printer')"
	" ORDER BY d.revision_id, d.driver_id";

static void fill_driver(sqlite3_stmt *s, struct storage_client_driver *d)
{
	memset(d, 0, sizeof(*d));
	d->revision_id = sqlite3_column_int64(s, 0);
	st_column_copy(s, 1, d->hardware_id, sizeof(d->hardware_id));
	st_column_copy(s, 2, d->ver_date, sizeof(d->ver_date));
	st_column_copy(s, 3, d->ver_version, sizeof(d->ver_version));
	st_column_copy(s, 4, d->class_name, sizeof(d->class_name));
	st_column_copy(s, 5, d->manufacturer, sizeof(d->manufacturer));
	st_column_copy(s, 6, d->provider, sizeof(d->provider));
	d->feature_score = sqlite3_column_type(s, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 7);
	st_column_copy(s, 8, d->chids, sizeof(d->chids));
}

int storage_client_drivers(struct storage *st, const int64_t *revision_ids, size_t n_ids,
			   const char *const *device_ids, size_t n_device_ids, const char *score_os,
			   int printers_only, struct storage_client_driver **out, size_t *n_out,
			   struct err *e)
{
	struct wsus_buf jr, jd;
	struct storage_client_driver *arr = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	wsus_buf_init(&jr, JSON_MAX);
	wsus_buf_init(&jd, JSON_MAX);
	rc = json_ints(&jr, revision_ids, n_ids);
	if (rc == 0)
		rc = json_strings(&jd, device_ids, device_ids ? n_device_ids : 0, 0);
	if (rc < 0) {
		rc = err_set(e, rc, "driver id lists too large");
		goto done;
	}
	rc = st_prepare(st, SQL_DRIVERS, &s, e);
	if (rc < 0)
		goto done;
	bind_json(s, 1, &jr);
	sqlite3_bind_text(s, 2, score_os ? score_os : "", -1, SQLITE_TRANSIENT);
	bind_json(s, 3, &jd);
	sqlite3_bind_int(s, 4, device_ids == NULL);
	sqlite3_bind_int(s, 5, printers_only != 0);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (grow_array((void **)&arr, &cap, n + 1, sizeof(*arr)) < 0) {
			rc = err_set(e, -ENOMEM, "out of memory");
			st_stmt_done(s);
			goto done;
		}
		fill_driver(s, &arr[n++]);
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list driver candidates");
	st_stmt_done(s);
done:
	wsus_buf_free(&jr);
	wsus_buf_free(&jd);
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*out = arr;
	*n_out = n;
	return 0;
}

/*---- Files ----*/

static const char SQL_FILE_NAME[] = "SELECT coalesce(file_name, '') FROM file WHERE sha1 = ?1";

int storage_client_file_name(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], char *name,
			     size_t cap, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_FILE_NAME, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		st_column_copy(s, 0, name, cap);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? err_set(e, -ENOENT, "file not in the catalogue") :
			st_sql_err(st, e, rc, "look up file");
	}
	st_stmt_done(s);
	return rc;
}

/* ?1 RevisionID: its payloads in document order. */
static const char SQL_CLIENT_FILES[] =
	"SELECT f.sha1, coalesce(f.file_name, ''), f.is_encrypted FROM revision_file rf"
	" JOIN file f ON f.sha1 = rf.sha1 WHERE rf.revision_id = ?1 ORDER BY rf.ord";

int storage_client_files(struct storage *st, int64_t revision_id, struct storage_client_file **out, size_t *n,
			 struct err *e)
{
	struct storage_client_file *arr = NULL;
	sqlite3_stmt *s = NULL;
	size_t cap = 0, k = 0;
	int rc = st_prepare(st, SQL_CLIENT_FILES, &s, e);

	*out = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, revision_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (grow_array((void **)&arr, &cap, k + 1, sizeof(*arr)) < 0) {
			rc = -ENOMEM;
			break;
		}
		memset(&arr[k], 0, sizeof(arr[k]));
		if (sqlite3_column_bytes(s, 0) == WSUS_SHA1_LEN)
			memcpy(arr[k].sha1, sqlite3_column_blob(s, 0), WSUS_SHA1_LEN);
		st_column_copy(s, 1, arr[k].name, sizeof(arr[k].name));
		arr[k++].encrypted = sqlite3_column_int(s, 2);
	}
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	else
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list files");
	st_stmt_done(s);
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*out = arr;
	*n = k;
	return 0;
}

/*---- Fragments ----*/

static const char SQL_CLIENT_FRAGMENT[] =
	"SELECT xml FROM fragment WHERE revision_id = ?1 AND type = ?2 AND locale = ?3";

int storage_client_fragment(struct storage *st, int64_t revision_id, enum wsus_fragment_type type,
			    const char *locale, char **xml, size_t *len, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_CLIENT_FRAGMENT, &s, e);

	*xml = NULL;
	*len = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, revision_id);
	sqlite3_bind_int(s, 2, (int)type);
	sqlite3_bind_text(s, 3, locale ? locale : "", -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);

		*xml = malloc(n + 1);
		if (*xml == NULL) {
			rc = err_set(e, -ENOMEM, "out of memory");
		} else {
			if (n)
				memcpy(*xml, p, n);
			(*xml)[n] = '\0';
			*len = n;
			rc = 0;
		}
	} else {
		rc = rc == SQLITE_DONE ? err_set(e, -ENOENT, "revision %lld has no %s fragment",
						 (long long)revision_id, wsus_fragment_type_name(type)) :
			st_sql_err(st, e, rc, "read fragment");
	}
	st_stmt_done(s);
	return rc;
}
