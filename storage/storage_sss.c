/*
 * storage_sss.c -- the queries behind the upstream role (MS-WSUSSS USS):
 * catalogue anchors, revision lists for downstream servers, decryption keys,
 * the deployment delta of GetDeployments, and the DSS table with the rollup
 * data downstream servers report. Nothing returned is allocated for the
 * caller; rows handed to callbacks are valid during the call only.
 *
 * Anchors are catalog_change rows (storage.c design note 3): a downstream
 * that holds anchor N has every change stamped <= N, so every delta here is
 * "stamped in (since, upto]". Walks prepare their own statement, so callbacks
 * may call back into storage (design note 7).
 */
#include "storage_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DSS_TOUCH_INTERVAL_MS 60000   /* last_seen is written at most this often */

/*---- Helpers ----*/

static int check_guid(const char *in, char out[WSUS_GUID_LEN], const char *what, struct err *e)
{
	if (in == NULL || wsus_guid_normalize(in, out) < 0)
		return err_set(e, -EINVAL, "%s '%.40s' is not a GUID", what, in ? in : "(null)");
	return 0;
}

/* A statement of its own (not cached), for walks that call back into caller code. */
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

/* Step s to the end, handing each row to fn; finalizes s. */
typedef int (*row_fn)(sqlite3_stmt *s, void *ctx);

static int walk(struct storage *st, sqlite3_stmt *s, row_fn fn, void *ctx, const char *what,
		struct err *e)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r = fn(s, ctx);

		if (r != 0) {
			sqlite3_finalize(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, what);
	sqlite3_finalize(s);
	return rc;
}

static int bind_time(sqlite3_stmt *s, int idx, int64_t ms)
{
	return ms == INT64_MIN ? sqlite3_bind_null(s, idx) : sqlite3_bind_int64(s, idx, ms);
}

static int64_t column_time(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, col);
}

/* Bind "" as NULL: optional text from the wire. */
static int bind_opt(sqlite3_stmt *s, int idx, const char *text)
{
	return st_bind_text(s, idx, text != NULL && text[0] != '\0' ? text : NULL);
}

/*---- Anchors ----*/

static const char SQL_ANCHOR_LATEST[] =
	"SELECT anchor, time FROM catalog_change ORDER BY anchor DESC LIMIT 1";
static const char SQL_ANCHOR_GET[] = "SELECT anchor, time FROM catalog_change WHERE anchor = ?1";

static int read_anchor(struct storage *st, const char *sql, int64_t n, struct storage_anchor *out,
		       struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	if (sql == SQL_ANCHOR_GET)
		sqlite3_bind_int64(s, 1, n);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->n = sqlite3_column_int64(s, 0);
		out->time_ms = sqlite3_column_int64(s, 1);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = st_sql_err(st, e, rc, "read catalogue anchor");
	}
	st_stmt_done(s);
	return rc;
}

int storage_anchor_latest(struct storage *st, struct storage_anchor *out, struct err *e)
{
	int rc = read_anchor(st, SQL_ANCHOR_LATEST, 0, out, e);

	if (rc == -ENOENT) {
		out->n = 0;
		out->time_ms = 0;
		rc = 0;
	}
	return rc;
}

int storage_anchor_get(struct storage *st, int64_t n, struct storage_anchor *out, struct err *e)
{
	int rc = read_anchor(st, SQL_ANCHOR_GET, n, out, e);

	if (rc == -ENOENT)
		err_set(e, rc, "catalogue anchor %lld was never committed", (long long)n);
	return rc;
}

/*---- Read snapshots ----*/

int storage_read_begin(struct storage *st, struct err *e)
{
	int rc;

	if (st->tx_depth > 0 || !sqlite3_get_autocommit(st->db))
		return 0;
	/* Deferred: takes the read lock at the first read and never writes. */
	rc = st_exec(st, "BEGIN", e);
	return rc < 0 ? rc : 1;
}

void storage_read_end(struct storage *st, int opened)
{
	if (opened > 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
}

/*---- Documents for downstream servers ----*/

static const char SQL_BLOB_DOC[] =
	"SELECT revision_id, xml FROM revision WHERE update_id = ?1 AND revision_number = ?2";
static const char SQL_BLOB_FILES[] =
	"SELECT f.sha1, f.mu_url FROM revision_file rf JOIN file f ON f.sha1 = rf.sha1"
	" WHERE rf.revision_id = ?1 ORDER BY rf.ord";

void storage_update_blob_free(struct storage_update_blob *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n_files; i++)
		free(b->files[i].mu_url);
	free(b->files);
	free(b->xml);
	memset(b, 0, sizeof(*b));
}

static int blob_doc(struct storage *st, const char *uid, int revision, struct storage_update_blob *out,
		    int64_t *id, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_BLOB_DOC, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 1);
		const void *p = sqlite3_column_blob(s, 1);

		*id = sqlite3_column_int64(s, 0);
		out->xml = malloc(n + 1);
		if (out->xml == NULL) {
			rc = err_set(e, -ENOMEM, "out of memory");
		} else {
			if (n > 0)
				memcpy(out->xml, p, n);
			out->xml[n] = '\0';
			out->len = n;
			rc = 0;
		}
	} else {
		rc = rc == SQLITE_DONE ? err_set(e, -ENOENT, "update %s revision %d is not in the catalogue",
						   uid, revision)
				       : st_sql_err(st, e, rc, "read revision document");
	}
	st_stmt_done(s);
	return rc;
}

static int blob_file_add(struct storage_update_blob *b, size_t *cap, const void *sha1, const char *mu_url)
{
	struct storage_blob_file *f;

	for (size_t i = 0; i < b->n_files; i++)
		if (memcmp(b->files[i].sha1, sha1, WSUS_SHA1_LEN) == 0)
			return 0;
	if (b->n_files == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct storage_blob_file *v = realloc(b->files, ncap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		b->files = v;
		*cap = ncap;
	}
	f = &b->files[b->n_files];
	memcpy(f->sha1, sha1, WSUS_SHA1_LEN);
	f->mu_url = mu_url != NULL ? strdup(mu_url) : NULL;
	if (mu_url != NULL && f->mu_url == NULL)
		return -ENOMEM;
	b->n_files++;
	return 0;
}

/* Cached statements and no callback: the hot path of GetUpdateData. */
int storage_update_blob_get(struct storage *st, const char *update_id, int revision,
			    struct storage_update_blob *out, struct err *e)
{
	struct storage_update_blob b = { 0 };
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int64_t id = 0;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	rc = blob_doc(st, uid, revision, &b, &id, e);
	if (rc == 0)
		rc = st_prepare(st, SQL_BLOB_FILES, &s, e);
	if (rc < 0)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != WSUS_SHA1_LEN)
			continue;
		if (blob_file_add(&b, &cap, sqlite3_column_blob(s, 0),
				  (const char *)sqlite3_column_text(s, 1)) < 0) {
			st_stmt_done(s);
			rc = err_set(e, -ENOMEM, "out of memory");
			goto fail;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list revision files");
	st_stmt_done(s);
	if (rc < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	storage_update_blob_free(&b);
	return rc;
}

/*---- Revision lists ----*/

/* Only the newest revision of an update is listed; older ones stay reachable
 * by GetUpdateData for deployments that name them. */
#define LATEST_OF(alias) \
	alias ".revision_number = (SELECT max(x.revision_number) FROM revision x" \
	" WHERE x.update_id = " alias ".update_id)"

static const char SQL_IDS_ALL[] =
	"SELECT r.update_id, r.revision_number FROM revision r"
	" WHERE r.update_type IN (?3, ?4) AND r.anchor > ?1 AND r.anchor <= ?2 AND " LATEST_OF("r")
	" ORDER BY r.anchor, r.revision_id";

/* ?3 / ?4: JSON arrays of [guid, delta]. Categories are widened to the
 * categories below them (a product under a listed product family names its
 * parent as a prerequisite). An update matches when it names a member of
 * both lists, and is new since the anchor or in a list entry without delta. */
static const char SQL_IDS_FILTERED[] =
	"WITH RECURSIVE"
	" cat(id, delta) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
	"                    FROM json_each(?3)"
	"   UNION SELECT r.update_id, cat.delta FROM cat"
	"   JOIN prereq p ON p.update_id = cat.id"
	"   JOIN revision r ON r.revision_id = p.revision_id AND r.update_type = 'Category'),"
	" cls(id, delta) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
	"                    FROM json_each(?4)),"
	" latest AS (SELECT r.revision_id, r.update_id, r.revision_number, r.anchor FROM revision r"
	"   WHERE r.update_type IN ('Software', 'Driver') AND r.anchor <= ?2 AND " LATEST_OF("r") "),"
	" hit AS (SELECT l.* FROM latest l"
	"   WHERE EXISTS (SELECT 1 FROM prereq p JOIN cat c ON c.id = p.update_id"
	"                 WHERE p.revision_id = l.revision_id)"
	"     AND EXISTS (SELECT 1 FROM prereq p JOIN cls c ON c.id = p.update_id"
	"                 WHERE p.revision_id = l.revision_id)"
	"     AND (l.anchor > ?1"
	"          OR EXISTS (SELECT 1 FROM prereq p JOIN cat c ON c.id = p.update_id"
	"                     WHERE p.revision_id = l.revision_id AND c.delta = 0)"
	"          OR EXISTS (SELECT 1 FROM prereq p JOIN cls c ON c.id = p.update_id"
	"                     WHERE p.revision_id = l.revision_id AND c.delta = 0)))"
	/* Bundled children rarely name a product or classification themselves:
	 * without them a downstream could not resolve the bundles it got. */
	" SELECT update_id, revision_number FROM ("
	"   SELECT revision_id, update_id, revision_number, anchor FROM hit"
	"   UNION SELECT l.revision_id, l.update_id, l.revision_number, l.anchor FROM hit h"
	"   JOIN bundle b ON b.revision_id = h.revision_id"
	"   JOIN latest l ON l.update_id = b.bundled_update_id)"
	" ORDER BY anchor, revision_id";

/* [["guid",1],...]: the GUIDs are canonical, so nothing needs escaping. */
static char *id_json(const struct storage_id_delta *v, size_t n, struct err *e)
{
	struct wsus_buf b;
	char guid[WSUS_GUID_LEN];
	int rc = 0;

	wsus_buf_init(&b, 64 + n * 48);
	rc = wsus_buf_appends(&b, "[");
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (wsus_guid_normalize(v[i].id, guid) < 0) {
			err_set(e, -EINVAL, "filter id '%.40s' is not a GUID", v[i].id);
			wsus_buf_free(&b);
			return NULL;
		}
		rc = wsus_buf_printf(&b, "%s[\"%s\",%d]", i ? "," : "", guid, v[i].delta ? 1 : 0);
	}
	if (rc == 0)
		rc = wsus_buf_appends(&b, "]");
	if (rc < 0) {
		err_set(e, rc, "filter too large");
		wsus_buf_free(&b);
		return NULL;
	}
	return wsus_buf_steal(&b, NULL);
}

struct ids_walk {
	int (*fn)(const char *update_id, int revision, void *ctx);
	void *ctx;
};

static int ids_row(sqlite3_stmt *s, void *ctx)
{
	struct ids_walk *w = ctx;

	return w->fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1), w->ctx);
}

int storage_revision_ids(struct storage *st, const struct storage_revision_filter *f,
			 int (*fn)(const char *update_id, int revision, void *ctx), void *ctx,
			 struct err *e)
{
	struct ids_walk w = { fn, ctx };
	char *cats = NULL, *clss = NULL;
	sqlite3_stmt *s = NULL;
	int filtered = !f->config && (f->n_categories > 0 || f->n_classifications > 0);
	int rc;

	if (filtered && (f->n_categories == 0 || f->n_classifications == 0))
		return 0;  /* a product filter needs both lists (MS-WSUSSS 3.1.4.5) */
	if (filtered) {
		cats = id_json(f->categories, f->n_categories, e);
		clss = cats ? id_json(f->classifications, f->n_classifications, e) : NULL;
		if (clss == NULL) {
			free(cats);
			return e ? e->code : -EINVAL;
		}
	}
	rc = prep(st, filtered ? SQL_IDS_FILTERED : SQL_IDS_ALL, &s, "list revisions", e);
	if (rc == 0) {
		sqlite3_bind_int64(s, 1, f->since);
		sqlite3_bind_int64(s, 2, f->upto);
		if (filtered) {
			sqlite3_bind_text(s, 3, cats, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 4, clss, -1, SQLITE_STATIC);
		} else {
			sqlite3_bind_text(s, 3, f->config ? "Category" : "Software", -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 4, f->config ? "Detectoid" : "Driver", -1, SQLITE_STATIC);
		}
		rc = walk(st, s, ids_row, &w, "list revisions", e);
	}
	free(cats);
	free(clss);
	return rc;
}

/*---- Languages, keys, files ----*/

static const char SQL_LANGUAGES[] =
	"SELECT lang FROM (SELECT lower(lang) AS lang FROM language"
	"  UNION SELECT lower(locale) FROM fragment WHERE type = 2)"
	" WHERE lang <> '' ORDER BY lang";

struct text_walk {
	int (*fn)(const char *text, void *ctx);
	void *ctx;
};

static int text_row(sqlite3_stmt *s, void *ctx)
{
	struct text_walk *w = ctx;

	return w->fn((const char *)sqlite3_column_text(s, 0), w->ctx);
}

static int walk_text(struct storage *st, const char *sql, int (*fn)(const char *, void *), void *ctx,
		     const char *what, struct err *e)
{
	struct text_walk w = { fn, ctx };
	sqlite3_stmt *s = NULL;
	int rc = prep(st, sql, &s, what, e);

	if (rc < 0)
		return rc;
	return walk(st, s, text_row, &w, what, e);
}

int storage_languages(struct storage *st, int (*fn)(const char *lang, void *ctx), void *ctx,
		      struct err *e)
{
	return walk_text(st, SQL_LANGUAGES, fn, ctx, "list languages", e);
}

static const char SQL_REV_ID_EXACT[] =
	"SELECT revision_id FROM revision WHERE update_id = ?1 AND revision_number = ?2";
static const char SQL_REV_KEYS[] =
	"SELECT f.sha1, f.decryption_key FROM revision_file rf JOIN file f ON f.sha1 = rf.sha1"
	" WHERE rf.revision_id = ?1 ORDER BY rf.ord";

struct keys_walk {
	int (*fn)(const uint8_t sha1[WSUS_SHA1_LEN], const uint8_t *key, size_t key_len, void *ctx);
	void *ctx;
};

static int keys_row(sqlite3_stmt *s, void *ctx)
{
	struct keys_walk *w = ctx;
	size_t klen = (size_t)sqlite3_column_bytes(s, 1);
	const uint8_t *key = klen ? sqlite3_column_blob(s, 1) : NULL;

	if (sqlite3_column_bytes(s, 0) != WSUS_SHA1_LEN)
		return 0;
	return w->fn(sqlite3_column_blob(s, 0), key, key ? klen : 0, w->ctx);
}

int storage_revision_keys(struct storage *st, const char *update_id, int revision,
			  int (*fn)(const uint8_t sha1[WSUS_SHA1_LEN], const uint8_t *key, size_t key_len,
				    void *ctx),
			  void *ctx, struct err *e)
{
	struct keys_walk w = { fn, ctx };
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int64_t id;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	rc = st_prepare(st, SQL_REV_ID_EXACT, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	rc = sqlite3_step(s);
	id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	st_stmt_done(s);
	if (rc == SQLITE_DONE)
		return err_set(e, -ENOENT, "update %s revision %d is not in the catalogue", uid, revision);
	if (rc != SQLITE_ROW)
		return st_sql_err(st, e, rc, "look up revision");
	rc = prep(st, SQL_REV_KEYS, &s, "list decryption keys", e);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	return walk(st, s, keys_row, &w, "list decryption keys", e);
}

static const char SQL_FILE_STATE[] =
	"SELECT f.state FROM file f WHERE f.sha1 = ?1"
	" AND EXISTS (SELECT 1 FROM revision_file rf WHERE rf.sha1 = ?1)";

int storage_file_state(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], int *present,
		       struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_FILE_STATE, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*present = strcmp((const char *)sqlite3_column_text(s, 0), "present") == 0;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : st_sql_err(st, e, rc, "look up file");
	}
	st_stmt_done(s);
	return rc;
}

/*---- Groups and deployments ----*/

/* Parents before children: a downstream may insert them in order. */
static const char SQL_GROUP_ROWS[] =
	"WITH RECURSIVE t(id, depth) AS ("
	"  SELECT group_id, 0 FROM target_group WHERE parent_id IS NULL"
	"  UNION SELECT g.group_id, t.depth + 1 FROM target_group g JOIN t ON g.parent_id = t.id"
	"  WHERE t.depth < 64)"
	" SELECT g.group_id, coalesce(g.parent_id, ''), g.name, g.builtin FROM t"
	" JOIN target_group g ON g.group_id = t.id ORDER BY t.depth, g.builtin DESC, g.name";

struct group_walk {
	int (*fn)(const struct storage_group_row *g, void *ctx);
	void *ctx;
};

static int group_row(sqlite3_stmt *s, void *ctx)
{
	struct group_walk *w = ctx;
	struct storage_group_row g;

	st_column_copy(s, 0, g.group_id, sizeof(g.group_id));
	st_column_copy(s, 1, g.parent_id, sizeof(g.parent_id));
	st_column_copy(s, 2, g.name, sizeof(g.name));
	g.builtin = sqlite3_column_int(s, 3);
	return w->fn(&g, w->ctx);
}

int storage_group_rows(struct storage *st, int (*fn)(const struct storage_group_row *g, void *ctx),
		       void *ctx, struct err *e)
{
	struct group_walk w = { fn, ctx };
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_GROUP_ROWS, &s, "list target groups", e);

	if (rc < 0)
		return rc;
	return walk(st, s, group_row, &w, "list target groups", e);
}

static const char SQL_DEPLOY_CHANGES[] =
	"SELECT deployment_id, update_id, revision_number, action, admin_name, deadline,"
	" is_assigned, go_live_time, group_id, download_priority, dead, anchor"
	" FROM deployment WHERE anchor > ?1 AND anchor <= ?2 ORDER BY anchor, id";

struct deploy_walk {
	int (*fn)(const struct storage_deployment_row *d, void *ctx);
	void *ctx;
};

static int deploy_row(sqlite3_stmt *s, void *ctx)
{
	struct deploy_walk *w = ctx;
	struct storage_deployment_row d;
	enum storage_action a = STORAGE_ACTION_INSTALL;

	memset(&d, 0, sizeof(d));
	st_column_copy(s, 0, d.deployment_id, sizeof(d.deployment_id));
	st_column_copy(s, 1, d.update_id, sizeof(d.update_id));
	d.revision = sqlite3_column_int(s, 2);
	if (storage_action_parse((const char *)sqlite3_column_text(s, 3), &a) < 0)
		log_warn("storage", "deployment with an unknown action deployment=%s", d.deployment_id);
	d.action = a;
	st_column_copy(s, 4, d.admin_name, sizeof(d.admin_name));
	st_column_copy(s, 5, d.deadline, sizeof(d.deadline));
	d.is_assigned = sqlite3_column_int(s, 6);
	st_column_copy(s, 7, d.go_live, sizeof(d.go_live));
	st_column_copy(s, 8, d.group_id, sizeof(d.group_id));
	d.download_priority = sqlite3_column_int(s, 9);
	d.dead = sqlite3_column_int(s, 10);
	d.anchor = sqlite3_column_int64(s, 11);
	return w->fn(&d, w->ctx);
}

int storage_deployment_changes(struct storage *st, int64_t since, int64_t upto,
			       int (*fn)(const struct storage_deployment_row *d, void *ctx),
			       void *ctx, struct err *e)
{
	struct deploy_walk w = { fn, ctx };
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_DEPLOY_CHANGES, &s, "list deployments", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, upto);
	return walk(st, s, deploy_row, &w, "list deployments", e);
}

int storage_hidden_updates(struct storage *st, int (*fn)(const char *update_id, void *ctx),
			   void *ctx, struct err *e)
{
	return walk_text(st, "SELECT DISTINCT update_id FROM revision WHERE hidden = 1 ORDER BY update_id",
			 fn, ctx, "list declined updates", e);
}

int storage_accepted_eulas(struct storage *st, int (*fn)(const char *eula_id, void *ctx),
			   void *ctx, struct err *e)
{
	return walk_text(st, "SELECT eula_id FROM eula WHERE accepted = 1 ORDER BY eula_id", fn, ctx,
			 "list accepted EULAs", e);
}

/*---- Downstream servers ----*/

static const char SQL_DSS_AUTH[] =
	"INSERT INTO dss(server_id, fqdn, address, cert_sha256, first_seen, last_auth_time)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
	" ON CONFLICT(server_id) DO UPDATE SET fqdn = excluded.fqdn, address = excluded.address,"
	"  cert_sha256 = coalesce(excluded.cert_sha256, cert_sha256),"
	"  first_seen = coalesce(first_seen, excluded.first_seen),"
	/* One that authorises with us directly is our child, whatever a rollup said. */
	"  parent_server_id = NULL, last_auth_time = excluded.last_auth_time";

int storage_dss_auth(struct storage *st, const char *server_id, const char *fqdn,
		     const char *address, const char *cert_sha256, struct err *e)
{
	char id[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(server_id, id, "ServerID", e) < 0)
		return -EINVAL;
	if (fqdn == NULL || fqdn[0] == '\0')
		return err_set(e, -EINVAL, "downstream server %s has no name", id);
	rc = prep(st, SQL_DSS_AUTH, &s, "record downstream server", e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	st_bind_text(s, 2, fqdn);
	bind_opt(s, 3, address);
	bind_opt(s, 4, cert_sha256);
	sqlite3_bind_int64(s, 5, wsus_now_ms());
	rc = st_step_done(st, s, "record downstream server", e);
	sqlite3_finalize(s);
	return rc;
}

static const char SQL_DSS_SEEN[] = "SELECT last_seen, protocol_version FROM dss WHERE server_id = ?1";
static const char SQL_DSS_TOUCH[] =
	"UPDATE dss SET last_seen = ?2, protocol_version = coalesce(?3, protocol_version)"
	" WHERE server_id = ?1";

int storage_dss_touch(struct storage *st, const char *server_id, const char *protocol_version,
		      struct err *e)
{
	char id[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int64_t now = wsus_now_ms(), seen = 0;
	int rc, same_version = 1;

	if (check_guid(server_id, id, "ServerID", e) < 0)
		return -EINVAL;
	/* Read first: an UPDATE would take the write lock even when it changes nothing. */
	rc = st_prepare(st, SQL_DSS_SEEN, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *pv = (const char *)sqlite3_column_text(s, 1);

		seen = column_time(s, 0);
		if (protocol_version != NULL)
			same_version = pv != NULL && strcmp(pv, protocol_version) == 0;
	}
	st_stmt_done(s);
	if (rc == SQLITE_DONE)
		return err_set(e, -ENOENT, "downstream server %s is not known", id);
	if (rc != SQLITE_ROW)
		return st_sql_err(st, e, rc, "look up downstream server");
	if (same_version && seen != 0 && now - seen < DSS_TOUCH_INTERVAL_MS && now >= seen)
		return 0;
	rc = st_prepare(st, SQL_DSS_TOUCH, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	st_bind_text(s, 3, protocol_version);
	rc = st_step_done(st, s, "update downstream server", e);
	st_stmt_done(s);
	return rc;
}

int storage_dss_known(struct storage *st, const char *server_id, struct err *e)
{
	char id[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(server_id, id, "ServerID", e) < 0)
		return -EINVAL;
	rc = st_prepare(st, SQL_DSS_SEEN, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	st_stmt_done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return err_set(e, -ENOENT, "downstream server %s is not known", id);
	return st_sql_err(st, e, rc, "look up downstream server");
}

static const char SQL_DSS_ROLLUP_GET[] =
	"SELECT last_rollup_time FROM dss WHERE server_id = ?1";
static const char SQL_DSS_ROLLUP_INSERT[] =
	"INSERT INTO dss(server_id, parent_server_id, fqdn, version, is_replica, last_sync_time,"
	" last_rollup_time, summary, first_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_DSS_ROLLUP_UPDATE[] =
	"UPDATE dss SET parent_server_id = ?2, fqdn = coalesce(?3, fqdn), version = coalesce(?4, version),"
	" is_replica = ?5, last_sync_time = ?6, last_rollup_time = ?7, summary = coalesce(?8, summary),"
	" first_seen = coalesce(first_seen, ?9) WHERE server_id = ?1";

int storage_dss_rollup(struct storage *st, const struct storage_dss_rollup *r, int *applied,
		       struct err *e)
{
	char id[WSUS_GUID_LEN], parent[WSUS_GUID_LEN] = "";
	sqlite3_stmt *s = NULL;
	int rc, exists, stale = 0;

	if (check_guid(r->server_id, id, "ServerId", e) < 0)
		return -EINVAL;
	if (r->parent_id[0] != '\0' && check_guid(r->parent_id, parent, "ParentServerId", e) < 0)
		return -EINVAL;
	if (strcmp(id, parent) == 0)
		return err_set(e, -EINVAL, "downstream server %s names itself as its parent", id);
	rc = st_prepare(st, SQL_DSS_ROLLUP_GET, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	exists = rc == SQLITE_ROW;
	if (exists && sqlite3_column_type(s, 0) != SQLITE_NULL)
		stale = sqlite3_column_int64(s, 0) > r->last_rollup_ms;
	st_stmt_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return st_sql_err(st, e, rc, "look up downstream server");
	*applied = 0;
	if (stale)
		return 0;
	rc = st_prepare(st, exists ? SQL_DSS_ROLLUP_UPDATE : SQL_DSS_ROLLUP_INSERT, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	bind_opt(s, 2, parent);
	bind_opt(s, 3, r->fqdn);
	bind_opt(s, 4, r->version);
	sqlite3_bind_int(s, 5, r->is_replica != 0);
	bind_time(s, 6, r->last_sync_ms);
	bind_time(s, 7, r->last_rollup_ms);
	st_bind_text(s, 8, r->summary);
	sqlite3_bind_int64(s, 9, wsus_now_ms());
	rc = st_step_done(st, s, "store downstream rollup", e);
	st_stmt_done(s);
	if (rc == 0)
		*applied = 1;
	return rc;
}

static const char SQL_DSS_ACTIVITY[] =
	"INSERT INTO dss_activity(server_id, update_id, revision_number, os, install_success,"
	" install_failure) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	" ON CONFLICT(server_id, update_id, revision_number, os) DO UPDATE SET"
	"  install_success = install_success + excluded.install_success,"
	"  install_failure = install_failure + excluded.install_failure";

int storage_dss_activity_add(struct storage *st, const char *server_id, const char *update_id,
			     int revision, const char *os, int64_t success, int64_t failure,
			     struct err *e)
{
	char id[WSUS_GUID_LEN], uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(server_id, id, "ServerId", e) < 0 || check_guid(update_id, uid, "UpdateId", e) < 0)
		return -EINVAL;
	if (success < 0 || failure < 0 || os == NULL)
		return err_set(e, -EINVAL, "install counts must not be negative");
	rc = st_prepare(st, SQL_DSS_ACTIVITY, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 3, revision);
	sqlite3_bind_text(s, 4, os, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, success);
	sqlite3_bind_int64(s, 6, failure);
	rc = st_step_done(st, s, "add install counts", e);
	st_stmt_done(s);
	return rc;
}

/* Parents before children at any depth (MS-WSUSSS 3.2.4.5 step 2.2: the
 * rollup MUST send them so): depth from the servers with no known parent,
 * bounded (the table comes from the network and could hold a cycle, whose
 * members go last). */
static const char SQL_DSS_ALL[] =
	"WITH RECURSIVE tree(id, depth) AS (SELECT server_id, 0 FROM dss WHERE parent_server_id IS NULL"
	"  OR parent_server_id NOT IN (SELECT server_id FROM dss)"
	"  UNION SELECT x.server_id, tree.depth + 1 FROM dss x JOIN tree ON x.parent_server_id = tree.id"
	"  WHERE tree.depth < 32)"
	" SELECT d.server_id, coalesce(d.parent_server_id, ''), d.fqdn, d.address, d.version,"
	" d.protocol_version, d.cert_sha256, d.is_replica, d.first_seen, d.last_auth_time,"
	" d.last_seen, d.last_sync_time, d.last_rollup_time,"
	" (SELECT count(*) FROM computer c WHERE c.parent_server_id = d.server_id), d.summary"
	" FROM dss d LEFT JOIN (SELECT id, min(depth) AS depth FROM tree GROUP BY id) t ON t.id = d.server_id"
	" ORDER BY coalesce(t.depth, 99), d.fqdn, d.server_id";

struct dss_walk {
	int (*fn)(const struct storage_dss_row *d, void *ctx);
	void *ctx;
};

static int dss_row(sqlite3_stmt *s, void *ctx)
{
	struct dss_walk *w = ctx;
	struct storage_dss_row d;

	memset(&d, 0, sizeof(d));
	st_column_copy(s, 0, d.server_id, sizeof(d.server_id));
	st_column_copy(s, 1, d.parent_id, sizeof(d.parent_id));
	st_column_copy(s, 2, d.fqdn, sizeof(d.fqdn));
	st_column_copy(s, 3, d.address, sizeof(d.address));
	st_column_copy(s, 4, d.version, sizeof(d.version));
	st_column_copy(s, 5, d.protocol_version, sizeof(d.protocol_version));
	st_column_copy(s, 6, d.cert_sha256, sizeof(d.cert_sha256));
	d.is_replica = sqlite3_column_int(s, 7);
	d.first_seen = column_time(s, 8);
	d.last_auth = column_time(s, 9);
	d.last_seen = column_time(s, 10);
	d.last_sync = column_time(s, 11);
	d.last_rollup = column_time(s, 12);
	d.computers = sqlite3_column_int64(s, 13);
	st_column_copy(s, 14, d.summary, sizeof(d.summary));
	return w->fn(&d, w->ctx);
}

int storage_dss_foreach(struct storage *st, int (*fn)(const struct storage_dss_row *d, void *ctx),
			void *ctx, struct err *e)
{
	struct dss_walk w = { fn, ctx };
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_DSS_ALL, &s, "list downstream servers", e);

	if (rc < 0)
		return rc;
	return walk(st, s, dss_row, &w, "list downstream servers", e);
}

/*---- Rolled-up computers ----*/

static const char SQL_COMPUTER_GET[] =
	"SELECT coalesce(parent_server_id, ''), last_sync_time FROM computer WHERE computer_id = ?1";
/* ?1 id ?2 parent ?3 last sync ?4 result ?5 reboot ?6 status ?7 inventory, then Details. */
static const char SQL_COMPUTER_INSERT[] =
	"INSERT INTO computer(computer_id, parent_server_id, last_sync_time, last_sync_result,"
	" last_reboot_time, last_report_time, last_inventory_time, registered_at,"
	" ip_address, dns_name, os_major, os_minor, os_build, os_sp_major, os_sp_minor, os_locale,"
	" os_family, os_description, manufacturer, model, bios_version, bios_name, bios_release_date,"
	" processor_arch, suite_mask, old_product_type, new_product_type, system_metrics,"
	" client_version, target_group_ids, requested_groups)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
	" ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)";
static const char SQL_COMPUTER_UPDATE[] =
	"UPDATE computer SET parent_server_id = ?2, last_sync_time = ?3, last_sync_result = ?4,"
	" last_reboot_time = ?5, last_report_time = ?6, last_inventory_time = ?7 WHERE computer_id = ?1";
static const char SQL_COMPUTER_DETAILS[] =
	"UPDATE computer SET ip_address = ?9, dns_name = ?10, os_major = ?11, os_minor = ?12,"
	" os_build = ?13, os_sp_major = ?14, os_sp_minor = ?15, os_locale = ?16, os_family = ?17,"
	" os_description = ?18, manufacturer = ?19, model = ?20, bios_version = ?21, bios_name = ?22,"
	" bios_release_date = ?23, processor_arch = ?24, suite_mask = ?25, old_product_type = ?26,"
	" new_product_type = ?27, system_metrics = ?28, client_version = ?29, target_group_ids = ?30,"
	" requested_groups = ?31 WHERE computer_id = ?1";

/* The same parameter numbers serve all three statements (unused ones stay unbound). */
static void bind_computer(sqlite3_stmt *s, const struct storage_rollup_computer *c,
			  const char *parent)
{
	sqlite3_bind_text(s, 1, c->computer_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, parent, -1, SQLITE_TRANSIENT);
	bind_time(s, 3, c->last_sync_ms);
	sqlite3_bind_int(s, 4, c->last_sync_result);
	bind_time(s, 5, c->last_reboot_ms);
	bind_time(s, 6, c->last_status_ms);
	bind_time(s, 7, c->last_inventory_ms);
	sqlite3_bind_int64(s, 8, wsus_now_ms());
	if (!c->has_details)
		return;
	bind_opt(s, 9, c->ip_address);
	bind_opt(s, 10, c->fqdn);
	sqlite3_bind_int(s, 11, c->os_major);
	sqlite3_bind_int(s, 12, c->os_minor);
	sqlite3_bind_int(s, 13, c->os_build);
	sqlite3_bind_int(s, 14, c->os_sp_major);
	sqlite3_bind_int(s, 15, c->os_sp_minor);
	bind_opt(s, 16, c->os_locale);
	bind_opt(s, 17, c->os_family);
	bind_opt(s, 18, c->os_description);
	bind_opt(s, 19, c->make);
	bind_opt(s, 20, c->model);
	bind_opt(s, 21, c->bios_version);
	bind_opt(s, 22, c->bios_name);
	bind_opt(s, 23, c->bios_release_date);
	bind_opt(s, 24, c->processor_arch);
	sqlite3_bind_int(s, 25, c->suite_mask);
	sqlite3_bind_int(s, 26, c->old_product_type);
	sqlite3_bind_int(s, 27, c->new_product_type);
	sqlite3_bind_int(s, 28, c->system_metrics);
	bind_opt(s, 29, c->client_version);
	bind_opt(s, 30, c->target_group_ids);
	bind_opt(s, 31, c->requested_groups);
}

static int computer_step(struct storage *st, const char *sql, const struct storage_rollup_computer *c,
			 const char *parent, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, sql, &s, "store rolled-up computer", e);

	if (rc < 0)
		return rc;
	bind_computer(s, c, parent);
	rc = st_step_done(st, s, "store rolled-up computer", e);
	sqlite3_finalize(s);
	return rc;
}

int storage_rollup_computer(struct storage *st, const struct storage_rollup_computer *c,
			    int *new_parent, struct err *e)
{
	char parent[WSUS_GUID_LEN], old_parent[WSUS_GUID_LEN] = "";
	sqlite3_stmt *s = NULL;
	int64_t old_sync = INT64_MIN;
	int rc, exists, changed_parent = 0;

	*new_parent = 0;
	if (c->computer_id == NULL || c->computer_id[0] == '\0' || strlen(c->computer_id) > 256)
		return err_set(e, -EINVAL, "a rolled-up computer needs a ComputerId of 1-256 characters");
	if (check_guid(c->parent_id, parent, "ParentServerId", e) < 0)
		return -EINVAL;
	rc = prep(st, SQL_COMPUTER_GET, &s, "look up computer", e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, c->computer_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	exists = rc == SQLITE_ROW;
	if (exists) {
		st_column_copy(s, 0, old_parent, sizeof(old_parent));
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			old_sync = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return st_sql_err(st, e, rc, "look up computer");
	if (exists && old_sync > c->last_sync_ms)
		return 0;  /* what we have is newer: last writer on LastSyncTime wins */
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	if (!exists) {
		rc = computer_step(st, SQL_COMPUTER_INSERT, c, parent, e);
	} else {
		changed_parent = strcmp(old_parent, parent) != 0;
		rc = computer_step(st, SQL_COMPUTER_UPDATE, c, parent, e);
		if (rc == 0 && c->has_details)
			rc = computer_step(st, SQL_COMPUTER_DETAILS, c, parent, e);
	}
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	if (rc == 0)
		*new_parent = !c->has_details && (!exists || changed_parent);
	return rc;
}

/* The computers of parent_id and of its descendants (depth-limited: the DSS
 * table comes from the network and could hold a cycle). */
#define SUBTREE \
	"WITH RECURSIVE sub(id, depth) AS (SELECT ?1, 0" \
	"  UNION SELECT d.server_id, sub.depth + 1 FROM dss d JOIN sub ON d.parent_server_id = sub.id" \
	"  WHERE sub.depth < 32)"

static const char SQL_OUT_OF_SYNC[] =
	SUBTREE " SELECT c.last_rollup_number FROM computer c WHERE c.computer_id = ?2"
	" AND c.parent_server_id IN (SELECT id FROM sub)";

static int rollup_number(struct storage *st, const char *parent, const char *computer_id,
			 int *found, int64_t *number, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_OUT_OF_SYNC, &s, "look up computer", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, parent, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, computer_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	*number = *found && sqlite3_column_type(s, 0) != SQLITE_NULL ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return st_sql_err(st, e, rc, "look up computer");
	return 0;
}

int storage_rollup_out_of_sync(struct storage *st, const char *parent_id, const char *computer_id,
			       int rollup_number_in, int *out_of_sync, struct err *e)
{
	char parent[WSUS_GUID_LEN];
	int64_t have;
	int rc, found;

	*out_of_sync = 0;
	if (check_guid(parent_id, parent, "parentServerId", e) < 0)
		return -EINVAL;
	if (computer_id == NULL)
		return 0;
	rc = rollup_number(st, parent, computer_id, &found, &have, e);
	if (rc == 0 && found)
		*out_of_sync = have != rollup_number_in;
	return rc;
}

static const char SQL_STATUS_MARK[] =
	"UPDATE computer SET last_rollup_number = ?2, effective_last_detection = ?3, last_status_time = ?4"
	" WHERE computer_id = ?1";
static const char SQL_STATUS_CLEAR[] = "DELETE FROM update_status WHERE computer_id = ?1";
static const char SQL_STATUS_UPSERT[] =
	"INSERT INTO update_status(computer_id, update_id, status, last_change_time, changed_at)"
	" VALUES (?1, ?2, ?3, ?4, ?5)"
	" ON CONFLICT(computer_id, update_id) DO UPDATE SET status = excluded.status,"
	"  last_change_time = excluded.last_change_time,"
	"  changed_at = CASE WHEN excluded.status <> update_status.status THEN excluded.changed_at"
	"   ELSE update_status.changed_at END"
	" WHERE excluded.last_change_time >= update_status.last_change_time";

static int status_rows(struct storage *st, const char *computer_id, int rollup, int64_t detection,
		       int full, const struct storage_rollup_status *items, size_t n, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(st, SQL_STATUS_MARK, &s, "record rollup", e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, computer_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, rollup);
	bind_time(s, 3, detection);
	sqlite3_bind_int64(s, 4, wsus_now_ms());
	rc = st_step_done(st, s, "record rollup", e);
	sqlite3_finalize(s);
	if (rc == 0 && full) {
		rc = prep(st, SQL_STATUS_CLEAR, &s, "clear update status", e);
		if (rc < 0)
			return rc;
		sqlite3_bind_text(s, 1, computer_id, -1, SQLITE_TRANSIENT);
		rc = st_step_done(st, s, "clear update status", e);
		sqlite3_finalize(s);
	}
	if (rc < 0)
		return rc;
	rc = prep(st, SQL_STATUS_UPSERT, &s, "store update status", e);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char uid[WSUS_GUID_LEN];

		if (check_guid(items[i].update_id, uid, "UpdateId", e) < 0 ||
		    items[i].status < 0 || items[i].status > 6) {
			rc = err_set(e, -EINVAL, "update status %zu is malformed", i);
			break;
		}
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, computer_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, uid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(s, 3, items[i].status);
		sqlite3_bind_int64(s, 4, items[i].last_change_ms);
		sqlite3_bind_int64(s, 5, wsus_now_ms());
		rc = st_step_done(st, s, "store update status", e);
	}
	sqlite3_finalize(s);
	return rc;
}

int storage_rollup_status(struct storage *st, const char *parent_id, const char *computer_id,
			  int rollup, int64_t detection_ms, int full,
			  const struct storage_rollup_status *items, size_t n, int *known,
			  struct err *e)
{
	char parent[WSUS_GUID_LEN];
	int64_t have;
	int rc, found;

	*known = 0;
	if (check_guid(parent_id, parent, "parentServerId", e) < 0)
		return -EINVAL;
	if (computer_id == NULL)
		return 0;
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = rollup_number(st, parent, computer_id, &found, &have, e);
	if (rc == 0 && found)
		rc = status_rows(st, computer_id, rollup, detection_ms, full, items, n, e);
	if (rc < 0) {
		st_tx_rollback(st);
		return rc;
	}
	rc = st_tx_commit(st, e);
	if (rc == 0)
		*known = found;
	return rc;
}
