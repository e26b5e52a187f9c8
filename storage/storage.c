/*
 * storage.c -- opening the database, transactions, the statement cache, the
 * catalogue anchor, the server identity, named secrets and key/value state.
 * storage_open returns a handle the caller frees with storage_close; strings
 * handed out (storage_state_get) are malloc'd and freed by the caller.
 *
 * Design notes (the invariants the rest of storage/ relies on):
 *
 * (1) A RevisionID comes from an AUTOINCREMENT key. Once committed it is never
 *     given to another revision, even after its row is deleted, and replacing a
 *     revision keeps its id. An id handed out inside a transaction that rolled
 *     back was never visible and may be handed out again.
 * (2) Every write runs in a transaction. The outermost level is BEGIN IMMEDIATE,
 *     so writers queue at the start of their transaction (busy_timeout 5 s), not
 *     at commit. Inner levels are SAVEPOINTs: a failed storage_revision_put
 *     undoes exactly its own rows and leaves the caller's transaction usable;
 *     the caller chooses between committing the rest and rolling back all.
 * (3) Each outer transaction that changes the catalogue (revisions,
 *     deployments, declines) inserts exactly one catalog_change row and stamps
 *     every row it changes with that anchor. Because writers are serialised from
 *     BEGIN, anchors commit in increasing order: a reader that has seen anchor N
 *     has seen every change stamped <= N and none stamped above N.
 * (4) A revision and all its dependent rows (fragments, files, prerequisites,
 *     bundles, drivers) are written in one transaction: a reader sees a
 *     revision whole or not at all, so clients never get half a revision.
 * (5) user_version is the number of migrations applied. Each migration runs in
 *     its own IMMEDIATE transaction that also sets user_version, and re-reads
 *     the version after taking the write lock, so two processes opening a fresh
 *     database do not both apply it. A newer database is refused, never touched.
 * (6) A file appears under content/ only by rename, after its size and every
 *     digest the catalogue knows have been checked and the data fsynced.
 *     Nothing that failed a check is ever under content/. The database may lag
 *     the disk (a verified file whose row says "missing" is adopted by put or
 *     verify); when the disk loses a file, content_path answers -ENOENT and
 *     verify marks the row missing.
 * (7) Cached statements are reset after each use, so none holds a WAL read
 *     snapshot between calls. Walks that call back into caller code prepare
 *     their own statement, so the callback may use any other storage function.
 * (8) No path is built from text that came from the network: content paths
 *     come from a 20-byte SHA-1 and an extension filtered to [a-z0-9]{1,8}.
 * (9) Times are Unix milliseconds (INTEGER) unless a column carries a wire
 *     value (deadlines, go-live times: ISO 8601 text as given).
 */
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

/*---- Errors and statements ----*/

int st_sql_err(struct storage *st, struct err *e, int rc, const char *what)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = -EBUSY;
		break;
	case SQLITE_NOMEM:
		code = -ENOMEM;
		break;
	case SQLITE_FULL:
		code = -ENOSPC;
		break;
	case SQLITE_READONLY:
		code = -EROFS;
		break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		code = -EACCES;
		break;
	case SQLITE_TOOBIG:
		code = -E2BIG;
		break;
	case SQLITE_CONSTRAINT:
		code = (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) ?
			-EEXIST : -EINVAL;
		break;
	default:
		code = -EIO;
		break;
	}
	return err_set(e, code, "%s: %s", what, st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
}

int st_prepare(struct storage *st, const char *sql, sqlite3_stmt **out, struct err *e)
{
	struct storage_stmt_slot *slot;
	int rc;

	*out = NULL;
	for (int i = 0; i < st->n_stmts; i++) {
		if (st->stmts[i].sql == sql) {
			sqlite3_reset(st->stmts[i].stmt);
			sqlite3_clear_bindings(st->stmts[i].stmt);
			*out = st->stmts[i].stmt;
			return 0;
		}
	}
	if (st->n_stmts == STORAGE_STMT_CACHE)
		return err_set(e, -ENOSPC, "statement cache full (raise STORAGE_STMT_CACHE)");
	slot = &st->stmts[st->n_stmts];
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->stmt, NULL);
	if (rc != SQLITE_OK) {
		rc = st_sql_err(st, e, rc, "prepare");
		sqlite3_finalize(slot->stmt);
		slot->stmt = NULL;
		return rc;
	}
	slot->sql = sql;
	st->n_stmts++;
	*out = slot->stmt;
	return 0;
}

void st_stmt_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int st_exec(struct storage *st, const char *sql, struct err *e)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		int code = st_sql_err(st, e, rc, "sql");

		if (msg != NULL)
			err_set(e, code, "sql: %s", msg);
		sqlite3_free(msg);
		return code;
	}
	return 0;
}

int st_step_done(struct storage *st, sqlite3_stmt *s, const char *what, struct err *e)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return st_sql_err(st, e, rc, what);
	return 0;
}

int st_query_int64(struct storage *st, const char *sql, int64_t *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		st_stmt_done(s);
		return 0;
	}
	rc = rc == SQLITE_DONE ? err_set(e, -ENOENT, "no row") : st_sql_err(st, e, rc, "query");
	st_stmt_done(s);
	return rc;
}

int st_bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	if (text == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text, -1, SQLITE_TRANSIENT);
}

void st_column_copy(sqlite3_stmt *s, int col, char *out, size_t n)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	size_t len;

	out[0] = '\0';
	if (t == NULL || n == 0)
		return;
	len = strlen(t);
	if (len >= n) {
		len = n - 1;
		/* Do not leave half a UTF-8 sequence at the end of a cut title. */
		while (len > 0 && ((unsigned char)t[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(out, t, len);
	out[len] = '\0';
}

/*---- Transactions and anchors ----*/

int st_tx_begin(struct storage *st, struct err *e)
{
	char sql[32];
	int rc;

	if (st->tx_depth >= STORAGE_TX_DEPTH)
		return err_set(e, -E2BIG, "transactions nested deeper than %d", STORAGE_TX_DEPTH);
	if (st->tx_depth == 0) {
		rc = st_exec(st, "BEGIN IMMEDIATE", e);
		if (rc < 0)
			return rc;
		st->tx_anchor = 0;
		st->tx_kind = NULL;
	} else {
		snprintf(sql, sizeof(sql), "SAVEPOINT s%d", st->tx_depth);
		rc = st_exec(st, sql, e);
		if (rc < 0)
			return rc;
		st->tx_saved_anchor[st->tx_depth] = st->tx_anchor;
		st->tx_saved_kind[st->tx_depth] = st->tx_kind;
	}
	st->tx_depth++;
	return 0;
}

int st_tx_commit(struct storage *st, struct err *e)
{
	char sql[32];
	int rc;

	if (st->tx_depth == 0)
		return err_set(e, -EINVAL, "commit without an open transaction");
	if (sqlite3_get_autocommit(st->db)) {
		/* SQLite already rolled everything back after an I/O or memory error. */
		st->tx_depth = 0;
		st->tx_anchor = 0;
		return err_set(e, -EIO, "transaction was rolled back by an earlier error");
	}
	if (st->tx_depth == 1) {
		rc = st_exec(st, "COMMIT", e);
		if (rc < 0) {
			if (!sqlite3_get_autocommit(st->db))
				sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			st->tx_depth = 0;
			st->tx_anchor = 0;
			return rc;
		}
		st->tx_anchor = 0;
		st->tx_kind = NULL;
	} else {
		snprintf(sql, sizeof(sql), "RELEASE s%d", st->tx_depth - 1);
		rc = st_exec(st, sql, e);
		if (rc < 0)
			return rc;
	}
	st->tx_depth--;
	return 0;
}

void st_tx_rollback(struct storage *st)
{
	char sql[64];
	int lvl;

	if (st->tx_depth == 0)
		return;
	lvl = --st->tx_depth;
	if (sqlite3_get_autocommit(st->db)) {
		st->tx_anchor = 0;
		st->tx_kind = NULL;
		return;
	}
	if (lvl == 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		st->tx_anchor = 0;
		st->tx_kind = NULL;
		return;
	}
	snprintf(sql, sizeof(sql), "ROLLBACK TO s%d; RELEASE s%d", lvl, lvl);
	sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	st->tx_anchor = st->tx_saved_anchor[lvl];
	st->tx_kind = st->tx_saved_kind[lvl];
}

static const char SQL_ANCHOR_NEW[] = "INSERT INTO catalog_change(time, kind) VALUES (?1, ?2)";
static const char SQL_ANCHOR_MIXED[] = "UPDATE catalog_change SET kind = 'mixed' WHERE anchor = ?1";

int st_anchor(struct storage *st, const char *kind, int64_t *anchor, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (st->tx_depth == 0)
		return err_set(e, -EINVAL, "catalogue change outside a transaction");
	if (st->tx_anchor != 0 && strcmp(st->tx_kind, kind) == 0) {
		*anchor = st->tx_anchor;
		return 0;
	}
	rc = st_prepare(st, st->tx_anchor == 0 ? SQL_ANCHOR_NEW : SQL_ANCHOR_MIXED, &s, e);
	if (rc < 0)
		return rc;
	if (st->tx_anchor == 0) {
		sqlite3_bind_int64(s, 1, wsus_now_ms());
		sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(s, 1, st->tx_anchor);
	}
	rc = st_step_done(st, s, "new catalogue anchor", e);
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	if (st->tx_anchor == 0) {
		st->tx_anchor = sqlite3_last_insert_rowid(st->db);
		st->tx_kind = kind;
	} else {
		st->tx_kind = "mixed";
	}
	*anchor = st->tx_anchor;
	return 0;
}

int storage_begin(struct storage *st, struct err *e)
{
	return st_tx_begin(st, e);
}

int storage_commit(struct storage *st, struct err *e)
{
	return st_tx_commit(st, e);
}

int storage_rollback(struct storage *st)
{
	if (st == NULL || st->tx_depth == 0)
		return -EINVAL;
	st_tx_rollback(st);
	return 0;
}

/*---- Open and close ----*/

static int join_path(char *out, size_t n, const char *a, const char *b, struct err *e)
{
	if ((size_t)snprintf(out, n, "%s/%s", a, b) >= n)
		return err_set(e, -ENAMETOOLONG, "path too long: %s/%s", a, b);
	return 0;
}

static int make_dirs(struct storage *st, const char *data_dir, const char *content_dir,
		     struct err *e)
{
	int rc;

	if ((size_t)snprintf(st->data_dir, sizeof(st->data_dir), "%s", data_dir) >= sizeof(st->data_dir))
		return err_set(e, -ENAMETOOLONG, "data directory path too long");
	if (content_dir != NULL) {
		if ((size_t)snprintf(st->content_dir, sizeof(st->content_dir), "%s", content_dir) >=
		    sizeof(st->content_dir))
			return err_set(e, -ENAMETOOLONG, "content directory path too long");
	} else {
		rc = join_path(st->content_dir, sizeof(st->content_dir), data_dir, "content", e);
		if (rc < 0)
			return rc;
	}
	rc = join_path(st->tmp_dir, sizeof(st->tmp_dir), st->content_dir, ".tmp", e);
	if (rc == 0)
		rc = join_path(st->quarantine_dir, sizeof(st->quarantine_dir), data_dir, "quarantine", e);
	if (rc == 0)
		rc = wsus_mkdir_p(st->data_dir, 0755, e);
	if (rc == 0)
		rc = wsus_mkdir_p(st->content_dir, 0755, e);
	if (rc == 0)
		rc = wsus_mkdir_p(st->tmp_dir, 0755, e);
	if (rc == 0)
		rc = wsus_mkdir_p(st->quarantine_dir, 0755, e);
	return rc;
}

/* Connection settings; journal_mode and foreign_keys are checked because a
 * pragma SQLite does not support is silently ignored. */
static int configure(struct storage *st, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc, wal;
	int64_t fk = 0;

	int persist = 1;

	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/* Keep wsus.db-wal and -shm after the last writer closes: a read-only
	 * user (status as a monitoring account) cannot create them in a data
	 * directory it may not write, and cannot read a WAL database without. */
	sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	rc = st_schema_refuse_newer(st, e);
	if (rc < 0)
		return rc;
	rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return st_sql_err(st, e, rc, "journal_mode");
	rc = sqlite3_step(s);
	wal = rc == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL &&
	      strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
	sqlite3_finalize(s);
	if (!wal)
		return err_set(e, -EIO, "cannot switch %s/wsus.db to WAL mode: %s", st->data_dir,
			       sqlite3_errmsg(st->db));
	rc = st_exec(st, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; PRAGMA trusted_schema=OFF", e);
	if (rc < 0)
		return rc;
	rc = st_query_int64(st, "PRAGMA foreign_keys", &fk, e);
	if (rc == 0 && fk != 1)
		rc = err_set(e, -ENOTSUP, "this SQLite does not enforce foreign keys");
	return rc;
}

static const char SQL_ID_INSERT[] =
	"INSERT OR IGNORE INTO server_identity(id, server_id, created_at) VALUES (1, ?1, ?2)";
static const char SQL_ID_GET[] = "SELECT server_id FROM server_identity WHERE id = 1";

/* The ServerID is created once; INSERT OR IGNORE keeps the first writer's id
 * if two processes open a fresh database at the same moment. */
static int load_identity(struct storage *st, struct err *e)
{
	char fresh[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	uint8_t key[32];
	int rc, created;

	rc = wsus_guid_random(fresh);
	if (rc < 0)
		return err_set(e, rc, "cannot generate a server id");
	rc = st_prepare(st, SQL_ID_INSERT, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, fresh, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, wsus_now_ms());
	rc = st_step_done(st, s, "create server id", e);
	created = sqlite3_changes(st->db) > 0;
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	rc = st_prepare(st, SQL_ID_GET, &s, e);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW || wsus_guid_normalize((const char *)sqlite3_column_text(s, 0),
						    st->server_id) < 0)
		rc = err_set(e, -EIO, "server identity row is missing or malformed");
	else
		rc = 0;
	st_stmt_done(s);
	if (rc == 0 && created)
		log_info("storage", "created server identity server_id=%s", st->server_id);
	/* The cookie key belongs to the identity: create it now, not at first use. */
	if (rc == 0)
		rc = storage_secret(st, "cookie", key, e);
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* The database holds secrets (cookie key): create it 0600 before SQLite does
 * (SQLite gives its -wal and -shm files the database file's mode). An
 * existing file is not touched: it keeps the mode its owner chose, and
 * closing a descriptor of a file that SQLite has open in this process would
 * drop SQLite's POSIX locks on it. */
static int create_private(const char *path, struct err *e)
{
	struct stat sb;
	int fd;

	if (lstat(path, &sb) == 0)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0)
		return err_set(e, -errno, "cannot create %s: %s", path, strerror(errno));
	close(fd);
	return 0;
}

int storage_open(const char *data_dir, const char *content_dir, struct storage **out, struct err *e)
{
	struct storage *st;
	char path[STORAGE_PATH_MAX] = "";
	int rc;

	if (data_dir == NULL || data_dir[0] == '\0')
		return err_set(e, -EINVAL, "no data directory given");
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = make_dirs(st, data_dir, content_dir, e);
	if (rc < 0)
		goto fail;
	rc = join_path(path, sizeof(path), data_dir, "wsus.db", e);
	if (rc < 0)
		goto fail;
	rc = create_private(path, e);
	if (rc < 0)
		goto fail;
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = st_sql_err(st, e, rc, "open database");
		goto fail;
	}
	rc = configure(st, e);
	if (rc == 0)
		rc = st_schema_migrate(st, e);
	if (rc == 0)
		rc = load_identity(st, e);
	if (rc < 0)
		goto fail;
	st_content_sweep_tmp(st);
	*out = st;
	return 0;
fail:
	err_prefix(e, "%s", path[0] ? path : data_dir);
	storage_close(st);
	return rc;
}

/* Read-only open: nothing is created, migrated or written. */
static int ro_paths(struct storage *st, const char *data_dir, const char *content_dir,
		    char path[STORAGE_PATH_MAX], struct err *e)
{
	struct stat sb;
	int rc;

	if (stat(data_dir, &sb) < 0)
		return err_set(e, -errno, "data directory %s: %s", data_dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return err_set(e, -ENOTDIR, "data directory %s is not a directory", data_dir);
	rc = join_path(path, STORAGE_PATH_MAX, data_dir, "wsus.db", e);
	if (rc < 0)
		return rc;
	if (stat(path, &sb) < 0)
		return err_set(e, -errno, "no database at %s (%s): serve, sync, import or migrate create it",
			       path, strerror(errno));
	snprintf(st->data_dir, sizeof(st->data_dir), "%s", data_dir);
	if (content_dir != NULL)
		snprintf(st->content_dir, sizeof(st->content_dir), "%s", content_dir);
	else
		rc = join_path(st->content_dir, sizeof(st->content_dir), data_dir, "content", e);
	if (rc == 0)
		rc = join_path(st->tmp_dir, sizeof(st->tmp_dir), st->content_dir, ".tmp", e);
	if (rc == 0)
		rc = join_path(st->quarantine_dir, sizeof(st->quarantine_dir), data_dir, "quarantine", e);
	return rc;
}

/* The schema must be exactly this build's: an older one needs `migrate`,
 * which a read-only command never does. */
static int ro_check_schema(struct storage *st, struct err *e)
{
	int64_t v = 0;
	int rc = st_query_int64(st, "PRAGMA user_version", &v, e);

	if (rc < 0)
		return rc;
	if (v > st_schema_count())
		return err_set(e, -ENOTSUP, "database schema version %lld is newer than this build "
			       "supports (%d)", (long long)v, st_schema_count());
	if (v < st_schema_count())
		return err_set(e, -ESTALE, "database schema version %lld is older than this build's "
			       "(%d): run `wsus-replica migrate` (or start serve) first",
			       (long long)v, st_schema_count());
	return 0;
}

static int ro_identity(struct storage *st, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_ID_GET, &s, e);

	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW || wsus_guid_normalize((const char *)sqlite3_column_text(s, 0),
						    st->server_id) < 0)
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ?
			err_set(e, -EIO, "server identity row is missing or malformed") :
			st_sql_err(st, e, rc, "read server id");
	else
		rc = 0;
	st_stmt_done(s);
	return rc;
}

int storage_open_ro(const char *data_dir, const char *content_dir, struct storage **out,
		    struct err *e)
{
	struct storage *st;
	char path[STORAGE_PATH_MAX] = "";
	int rc;

	if (data_dir == NULL || data_dir[0] == '\0')
		return err_set(e, -EINVAL, "no data directory given");
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = ro_paths(st, data_dir, content_dir, path, e);
	if (rc < 0) {
		storage_close(st);
		return rc;
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = st_sql_err(st, e, rc, "open database read-only");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	rc = st_exec(st, "PRAGMA query_only=ON; PRAGMA trusted_schema=OFF", e);
	if (rc == 0)
		rc = ro_check_schema(st, e);
	if (rc == 0)
		rc = ro_identity(st, e);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	err_prefix(e, "%s", path);
	storage_close(st);
	return rc;
}

int storage_backup(const char *data_dir, const char *dest, struct err *e)
{
	struct storage src = { 0 };
	char path[STORAGE_PATH_MAX], tmp[STORAGE_PATH_MAX];
	sqlite3 *to = NULL;
	sqlite3_backup *b;
	int rc;

	rc = ro_paths(&src, data_dir, NULL, path, e);
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dest) >= sizeof(tmp))
		return err_set(e, -ENAMETOOLONG, "backup path too long");
	rc = sqlite3_open_v2(path, &src.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = st_sql_err(&src, e, rc, "open database read-only");
		goto out;
	}
	sqlite3_busy_timeout(src.db, 5000);
	unlink(tmp);
	rc = create_private(tmp, e);
	if (rc < 0)
		goto out;
	rc = sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = err_set(e, -EIO, "open backup file %s: %s", tmp, sqlite3_errstr(rc));
		goto out;
	}
	/* One step copies every page under one read snapshot: the copy is the
	 * database as of one moment, whatever writers do meanwhile (WAL). */
	b = sqlite3_backup_init(to, "main", src.db, "main");
	if (b == NULL) {
		rc = err_set(e, -EIO, "backup: %s", sqlite3_errmsg(to));
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		rc = err_set(e, -EIO, "backup: %s", sqlite3_errstr(rc));
		goto out;
	}
	rc = sqlite3_exec(to, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) == SQLITE_OK ? 0 :
		err_set(e, -EIO, "backup: %s", sqlite3_errmsg(to));
out:
	if (to != NULL)
		sqlite3_close(to);
	if (src.db != NULL)
		sqlite3_close(src.db);
	if (rc == 0 && rename(tmp, dest) < 0)
		rc = err_set(e, -errno, "backup: rename to %s: %s", dest, strerror(errno));
	if (rc < 0)
		unlink(tmp);
	return rc;
}

void storage_close(struct storage *st)
{
	if (st == NULL)
		return;
	if (st->tx_depth > 0) {
		log_warn("storage", "closing with an open transaction: rolled back depth=%d", st->tx_depth);
		while (st->tx_depth > 0)
			st_tx_rollback(st);
	}
	for (int i = 0; i < st->n_stmts; i++)
		sqlite3_finalize(st->stmts[i].stmt);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_err("storage", "sqlite3_close failed: %s", sqlite3_errmsg(st->db));
	free(st);
}

int storage_schema_version(struct storage *st)
{
	int64_t v = -1;

	if (st_query_int64(st, "PRAGMA user_version", &v, NULL) < 0)
		return -EIO;
	return (int)v;
}

int storage_schema_latest(void)
{
	return st_schema_count();
}

/*---- Identity, secrets, state ----*/

int storage_server_id(struct storage *st, char out[WSUS_GUID_LEN])
{
	memcpy(out, st->server_id, WSUS_GUID_LEN);
	return 0;
}

static const char SQL_ID_ADOPT[] =
	"UPDATE server_identity SET server_id = ?1, created_at = ?2 WHERE id = 1 AND server_id <> ?1";

int storage_identity_adopt(struct storage *st, const char *server_id, int *changed, struct err *e)
{
	char id[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (wsus_guid_normalize(server_id, id) < 0)
		return err_set(e, -EINVAL, "not a GUID: %s", server_id);
	rc = st_prepare(st, SQL_ID_ADOPT, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, wsus_now_ms());
	rc = st_step_done(st, s, "set the server id", e);
	*changed = rc == 0 && sqlite3_changes(st->db) > 0;
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	if (*changed)
		log_notice("storage", "server identity is now the site's server_id=%s was=%s", id, st->server_id);
	memcpy(st->server_id, id, WSUS_GUID_LEN);
	return 0;
}

static const char SQL_SECRET_INSERT[] =
	"INSERT OR IGNORE INTO secret(name, value, created_at) VALUES (?1, ?2, ?3)";
static const char SQL_SECRET_GET[] = "SELECT value FROM secret WHERE name = ?1";

int storage_secret(struct storage *st, const char *name, uint8_t out[32], struct err *e)
{
	uint8_t fresh[32];
	sqlite3_stmt *s = NULL;
	int rc;

	if (name == NULL || name[0] == '\0' || strlen(name) > 64)
		return err_set(e, -EINVAL, "bad secret name");
	if (RAND_bytes(fresh, sizeof(fresh)) != 1)
		return err_set(e, -EIO, "no random bytes for secret %s", name);
	rc = st_prepare(st, SQL_SECRET_INSERT, &s, e);
	if (rc < 0)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 2, fresh, sizeof(fresh), SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, wsus_now_ms());
	rc = st_step_done(st, s, "store secret", e);
	st_stmt_done(s);
	if (rc < 0)
		goto out;
	rc = st_prepare(st, SQL_SECRET_GET, &s, e);
	if (rc < 0)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
		memcpy(out, sqlite3_column_blob(s, 0), 32);
		rc = 0;
	} else {
		rc = err_set(e, -EIO, "secret %s is missing or not 32 bytes", name);
	}
	st_stmt_done(s);
out:
	explicit_bzero(fresh, sizeof(fresh));
	return rc;
}

static const char SQL_STATE_GET[] = "SELECT value FROM state WHERE key = ?1";
static const char SQL_STATE_SET[] =
	"INSERT INTO state(key, value, updated_at) VALUES (?1, ?2, ?3) "
	"ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

int storage_state_get(struct storage *st, const char *key, char **value)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_STATE_GET, &s, NULL);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		char *v = strdup((const char *)sqlite3_column_text(s, 0));

		rc = v ? 0 : -ENOMEM;
		if (v)
			*value = v;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	st_stmt_done(s);
	return rc;
}

static const char SQL_STATE_PREFIX[] =
	"SELECT key, value FROM state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key";

int storage_state_foreach(struct storage *st, const char *prefix,
			  int (*fn)(const char *key, const char *value, void *ctx), void *ctx, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	/* Not cached: fn may read state too. */
	rc = sqlite3_prepare_v2(st->db, SQL_STATE_PREFIX, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return st_sql_err(st, e, rc, "read state");
	sqlite3_bind_text(s, 1, prefix, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int x = fn((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1), ctx);

		if (x != 0) {
			sqlite3_finalize(s);
			return x;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read state");
	sqlite3_finalize(s);
	return rc;
}

int storage_state_set(struct storage *st, const char *key, const char *value, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (key == NULL || key[0] == '\0' || value == NULL)
		return err_set(e, -EINVAL, "state key and value are required");
	rc = st_prepare(st, SQL_STATE_SET, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, wsus_now_ms());
	rc = st_step_done(st, s, "set state", e);
	st_stmt_done(s);
	return rc;
}
