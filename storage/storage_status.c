/*
 * storage_status.c -- the counters behind `status` and the status page. One
 * read transaction, so every number describes the same committed state.
 * by_type and categories_by_kind count updates (distinct UpdateIDs, by the
 * type of their latest revision); file counts partition the file table.
 * Nothing is allocated for the caller.
 */
#include "storage_int.h"

#include <errno.h>

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_REVISIONS[] = "SELECT count(*), count(DISTINCT update_id) FROM revision";
static const char SQL_BY_TYPE[] =
	"SELECT update_type, count(*) FROM revision_latest GROUP BY update_type";
static const char SQL_BY_KIND[] =
	"SELECT category_type, count(*) FROM revision_latest"
	" WHERE category_type IS NOT NULL GROUP BY category_type";
static const char SQL_FILES[] =
	"SELECT count(*), total(state = 'present'), total(state = 'missing'),"
	" total(state = 'quarantined'), total(CASE WHEN state = 'present' THEN size END) FROM file";
static const char SQL_SMALL[] =
	"SELECT (SELECT count(*) FROM deployment WHERE dead = 0),"
	" (SELECT count(DISTINCT update_id) FROM revision WHERE hidden = 1),"
	" (SELECT count(*) FROM target_group), (SELECT count(*) FROM computer)";

static const char *const category_kinds[] = { "Company", "ProductFamily", "Product", "UpdateClassification" };

/* Run a query and hand each row to fill. */
static int each_row(struct storage *st, const char *sql, void (*fill)(sqlite3_stmt *, struct storage_status *),
		   struct storage_status *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fill(s, out);
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read status");
	st_stmt_done(s);
	return rc;
}

static void fill_revisions(sqlite3_stmt *s, struct storage_status *o)
{
	o->revisions = sqlite3_column_int64(s, 0);
	o->updates = sqlite3_column_int64(s, 1);
}

static void fill_type(sqlite3_stmt *s, struct storage_status *o)
{
	enum wsus_update_type t = wsus_update_type_parse((const char *)sqlite3_column_text(s, 0));

	o->by_type[t] += sqlite3_column_int64(s, 1);
}

static void fill_kind(sqlite3_stmt *s, struct storage_status *o)
{
	const char *k = (const char *)sqlite3_column_text(s, 0);

	for (int i = 0; i < 4; i++)
		if (strcmp(k, category_kinds[i]) == 0)
			o->categories_by_kind[i] += sqlite3_column_int64(s, 1);
}

static void fill_files(sqlite3_stmt *s, struct storage_status *o)
{
	o->files = sqlite3_column_int64(s, 0);
	o->files_present = sqlite3_column_int64(s, 1);
	o->files_missing = sqlite3_column_int64(s, 2);
	o->files_quarantined = sqlite3_column_int64(s, 3);
	o->content_bytes = sqlite3_column_int64(s, 4);
}

static void fill_small(sqlite3_stmt *s, struct storage_status *o)
{
	o->deployments = sqlite3_column_int64(s, 0);
	o->declined = sqlite3_column_int64(s, 1);
	o->groups = sqlite3_column_int64(s, 2);
	o->computers = sqlite3_column_int64(s, 3);
}

static void copy_state(struct storage *st, const char *key, char out[32])
{
	char *v = NULL;

	out[0] = '\0';
	if (storage_state_get(st, key, &v) == 0)
		snprintf(out, 32, "%s", v);
	free(v);
}

static const char SQL_REVISION_IDS[] =
	"SELECT revision_id, update_id, revision_number FROM revision ORDER BY revision_id";

int storage_revision_ids_digest(struct storage *st, char out[2 * WSUS_SHA256_LEN + 1], struct err *e)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t d[WSUS_SHA256_LEN];
	sqlite3_stmt *s = NULL;
	char line[128];
	int rc, n;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return err_set(e, -ENOMEM, "cannot start a digest");
	}
	rc = sqlite3_prepare_v2(st->db, SQL_REVISION_IDS, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		EVP_MD_CTX_free(md);
		sqlite3_finalize(s);
		return st_sql_err(st, e, rc, "read revision ids");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n = snprintf(line, sizeof(line), "%lld %s %lld\n", (long long)sqlite3_column_int64(s, 0),
			     (const char *)sqlite3_column_text(s, 1), (long long)sqlite3_column_int64(s, 2));
		EVP_DigestUpdate(md, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		EVP_MD_CTX_free(md);
		return st_sql_err(st, e, rc, "read revision ids");
	}
	EVP_DigestFinal_ex(md, d, NULL);
	EVP_MD_CTX_free(md);
	wsus_hex_encode(d, WSUS_SHA256_LEN, out);
	return 0;
}

int storage_status_get(struct storage *st, struct storage_status *out, struct err *e)
{
	struct storage_status o;
	int rc, own_tx = st->tx_depth == 0;

	memset(&o, 0, sizeof(o));
	/* A deferred BEGIN holds one read snapshot for all the queries below. */
	if (own_tx) {
		rc = st_exec(st, "BEGIN", e);
		if (rc < 0)
			return rc;
	}
	rc = each_row(st, SQL_REVISIONS, fill_revisions, &o, e);
	if (rc == 0)
		rc = each_row(st, SQL_BY_TYPE, fill_type, &o, e);
	if (rc == 0)
		rc = each_row(st, SQL_BY_KIND, fill_kind, &o, e);
	if (rc == 0)
		rc = each_row(st, SQL_FILES, fill_files, &o, e);
	if (rc == 0)
		rc = each_row(st, SQL_SMALL, fill_small, &o, e);
	if (rc == 0) {
		copy_state(st, "last_import", o.last_import);
		copy_state(st, "last_sync", o.last_sync);
		o.schema_version = storage_schema_version(st);
		memcpy(o.server_id, st->server_id, WSUS_GUID_LEN);
	}
	if (own_tx)
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (rc == 0)
		*out = o;
	return rc;
}
