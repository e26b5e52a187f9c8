/*
 * storage_bundle.c -- what `export` reads to write a signed air-gap bundle
 * (issue 13.5) that the rest of storage/ does not already offer: the
 * revisions stamped in an anchor range, in RevisionID order, so that the
 * importing server numbers them in the order the exporter did. Everything
 * else a bundle carries (documents, chains, keys, groups, deployments,
 * declines, EULAs, payload paths) comes through the upstream role's queries.
 */
#include "storage_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_BUNDLE_REVS[] =
	"SELECT update_id, revision_number FROM revision WHERE anchor > ?1 AND anchor <= ?2"
	" ORDER BY revision_id";

int storage_bundle_revisions(struct storage *st, int64_t since, int64_t upto,
			     int (*fn)(const char *update_id, int revision, void *ctx), void *ctx,
			     struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	/* Not cached: fn runs other (cached) queries while this one walks. */
	rc = sqlite3_prepare_v2(st->db, SQL_BUNDLE_REVS, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return st_sql_err(st, e, rc, "list revisions to export");
	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, upto);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int x = fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1), ctx);

		if (x != 0) {
			sqlite3_finalize(s);
			return x;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list revisions to export");
	sqlite3_finalize(s);
	return rc;
}
