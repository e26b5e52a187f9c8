/*
 * storage_origin.c -- provenance chains and metadata digests (issue 9.1).
 *
 * Origin is immutable and travels with a revision through the hierarchy: the
 * chain stored with it names every tier it passed, the origin first (the
 * server that imported it, or the first upstream that delivered it when that
 * upstream keeps no chain, e.g. Windows WSUS or Microsoft Update) and this
 * server's own receipt last. We compose our line ourselves from the pinned
 * connection that delivered the document (URL and certificate); everything
 * before it is what that upstream gave us over the same connection, checked
 * for shape here. Nothing a client sends reaches a chain.
 *
 * Line format: "SOURCE\tCERT\tTIME\n" (storage.h). Rows stored before the
 * chain existed (schema < 4) get one derived from their origin_* columns.
 */
#include "storage_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_TIME_MAX 40

/*---- Checking a received chain ----*/

static int field_ok_source(const char *p, size_t n)
{
	if (n == 0 || n > STORAGE_CHAIN_MAX_FIELD)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

static int field_ok_cert(const char *p, size_t n)
{
	if (n == 1 && p[0] == '-')
		return 1;
	if (n != 2 * WSUS_SHA256_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static int field_ok_time(const char *p, size_t n)
{
	if (n == 0 || n > CHAIN_TIME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789TZ:.-", p[i]))
			return 0;
	return 1;
}

/* One line [p, end) (no newline): three fields, each in shape. */
static int line_ok(const char *p, const char *end)
{
	const char *t1 = memchr(p, '\t', (size_t)(end - p));
	const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(end - t1 - 1)) : NULL;

	return t1 != NULL && t2 != NULL && field_ok_source(p, (size_t)(t1 - p)) &&
	       field_ok_cert(t1 + 1, (size_t)(t2 - t1 - 1)) && field_ok_time(t2 + 1, (size_t)(end - t2 - 1));
}

int storage_chain_check(const char *chain, struct err *e)
{
	int hops = 0;

	if (chain == NULL || chain[0] == '\0')
		return 0;
	for (const char *p = chain; *p != '\0';) {
		const char *nl = strchr(p, '\n');

		if (nl == NULL)
			return err_set(e, -EINVAL, "provenance chain: line %d is not terminated", hops + 1);
		if (++hops > STORAGE_CHAIN_MAX_HOPS - 1)
			return err_set(e, -EINVAL, "provenance chain: more than %d tiers", STORAGE_CHAIN_MAX_HOPS - 1);
		if (!line_ok(p, nl))
			return err_set(e, -EINVAL, "provenance chain: line %d is malformed", hops);
		p = nl + 1;
	}
	return 0;
}

/*---- Composing ours ----*/

static int append_hop(struct wsus_buf *b, const char *source, const char *cert, int64_t ms)
{
	char when[32];

	wsus_time_iso(ms, when);
	return wsus_buf_printf(b, "%.*s\t%s\t%s\n", STORAGE_CHAIN_MAX_FIELD, source,
			       cert != NULL && field_ok_cert(cert, strlen(cert)) ? cert : "-", when);
}

static int local_hop(struct storage *st, struct wsus_buf *b, int64_t ms)
{
	char id[WSUS_GUID_LEN] = "", src[96];

	storage_server_id(st, id);
	snprintf(src, sizeof(src), "local import at server %s", id[0] ? id : "unknown");
	return append_hop(b, src, NULL, ms);
}

int st_chain_compose(struct storage *st, const struct storage_origin *o, char **chain, struct err *e)
{
	struct wsus_buf b;
	struct err ce = { 0 };
	int64_t now = wsus_now_ms();
	int rc;

	wsus_buf_init(&b, (size_t)STORAGE_CHAIN_MAX_HOPS * (STORAGE_CHAIN_MAX_FIELD + 128));
	if (o == NULL || o->upstream_url == NULL) {
		rc = local_hop(st, &b, now);
	} else {
		rc = 0;
		if (o->chain != NULL && o->chain[0] != '\0') {
			if (storage_chain_check(o->chain, &ce) == 0)
				rc = wsus_buf_appends(&b, o->chain);
			else
				log_warn("storage", "upstream %s gave a provenance chain not kept: %s", o->upstream_url,
					 ce.msg);
		}
		if (rc == 0)
			rc = append_hop(&b, o->upstream_url, o->cert_sha256, now);
	}
	if (rc < 0) {
		wsus_buf_free(&b);
		return err_set(e, -ENOMEM, "out of memory composing a provenance chain");
	}
	*chain = b.data != NULL ? b.data : strdup("");
	return *chain != NULL ? 0 : err_set(e, -ENOMEM, "out of memory");
}

/*---- Reading ----*/

static const char SQL_CHAIN[] =
	"SELECT origin_chain, origin_upstream, origin_cert_sha256, origin_time FROM revision"
	" WHERE update_id = ?1 AND revision_number = ?2";

int storage_revision_chain(struct storage *st, const char *update_id, int revision, char **chain,
			   struct err *e)
{
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	struct wsus_buf b;
	int rc;

	if (wsus_guid_normalize(update_id, uid) < 0)
		return err_set(e, -EINVAL, "'%s' is not an UpdateID", update_id);
	rc = st_prepare(st, SQL_CHAIN, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? err_set(e, -ENOENT, "no revision %s/%d", uid, revision)
				       : st_sql_err(st, e, rc, "read provenance chain");
		st_stmt_done(s);
		return rc;
	}
	wsus_buf_init(&b, (size_t)STORAGE_CHAIN_MAX_HOPS * (STORAGE_CHAIN_MAX_FIELD + 128));
	if (sqlite3_column_type(s, 0) != SQLITE_NULL)
		rc = wsus_buf_appends(&b, (const char *)sqlite3_column_text(s, 0));
	else if (sqlite3_column_type(s, 1) == SQLITE_NULL)
		rc = local_hop(st, &b, sqlite3_column_int64(s, 3));
	else
		rc = append_hop(&b, (const char *)sqlite3_column_text(s, 1),
				(const char *)sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3));
	st_stmt_done(s);
	if (rc < 0) {
		wsus_buf_free(&b);
		return err_set(e, -ENOMEM, "out of memory");
	}
	*chain = b.data != NULL ? b.data : strdup("");
	return *chain != NULL ? 0 : err_set(e, -ENOMEM, "out of memory");
}

/*---- verify --metadata ----*/

static const char SQL_DOCS[] =
	"SELECT update_id, revision_number, xml, xml_sha1, xml_sha256 FROM revision"
	" ORDER BY update_id, revision_number";

int storage_verify_metadata(struct storage *st,
			    void (*fn)(const char *update_id, int revision, const char *why, void *ctx),
			    void *ctx, int64_t *checked, int64_t *bad, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*checked = *bad = 0;
	/* Not cached: a long walk, and fn may print. */
	rc = sqlite3_prepare_v2(st->db, SQL_DOCS, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return st_sql_err(st, e, rc, "read documents");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *xml = sqlite3_column_blob(s, 2);
		size_t len = (size_t)sqlite3_column_bytes(s, 2);
		uint8_t d1[WSUS_SHA1_LEN], d256[WSUS_SHA256_LEN];
		const char *why = NULL;

		wsus_sha1(xml, len, d1);
		if (sqlite3_column_bytes(s, 3) != WSUS_SHA1_LEN ||
		    memcmp(sqlite3_column_blob(s, 3), d1, WSUS_SHA1_LEN) != 0)
			why = "SHA-1 differs from the one recorded when it was stored";
		if (why == NULL && sqlite3_column_type(s, 4) != SQLITE_NULL) {
			wsus_sha256(xml, len, d256);
			if (sqlite3_column_bytes(s, 4) != WSUS_SHA256_LEN ||
			    memcmp(sqlite3_column_blob(s, 4), d256, WSUS_SHA256_LEN) != 0)
				why = "SHA-256 differs from the one recorded when it was stored";
		}
		(*checked)++;
		if (why != NULL) {
			(*bad)++;
			if (fn != NULL)
				fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1), why, ctx);
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read documents");
	sqlite3_finalize(s);
	return rc;
}

/*---- status: where the catalogue came from ----*/

static const char SQL_ORIGINS[] =
	"SELECT CASE WHEN origin_chain IS NULL OR instr(origin_chain, char(9)) = 0"
	"            THEN coalesce(origin_upstream, 'local import at this server')"
	"            ELSE substr(origin_chain, 1, instr(origin_chain, char(9)) - 1) END,"
	"       count(*),"
	"       max(CASE WHEN origin_chain IS NULL THEN 1"
	"           ELSE length(origin_chain) - length(replace(origin_chain, char(10), '')) END)"
	" FROM revision GROUP BY 1 ORDER BY 2 DESC, 1";

int storage_origin_summary(struct storage *st,
			   int (*fn)(const char *origin, int64_t revisions, int tiers, void *ctx), void *ctx,
			   struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, SQL_ORIGINS, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return st_sql_err(st, e, rc, "summarise origins");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int x = fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
			   sqlite3_column_int(s, 2), ctx);

		if (x != 0) {
			sqlite3_finalize(s);
			return x;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "summarise origins");
	sqlite3_finalize(s);
	return rc;
}
