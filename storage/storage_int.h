/*
 * storage_int.h -- what the files of storage/ share and nobody else sees: the
 * struct storage itself, the statement cache, transaction nesting, the
 * catalogue anchor and the SQLite-to-errno mapping. Declared here, defined in
 * storage.c (and the schema in storage_schema.c).
 */
#ifndef WSUS_STORAGE_INT_H
#define WSUS_STORAGE_INT_H

#include <limits.h>
#include <sqlite3.h>

#include "storage.h"

#define STORAGE_PATH_MAX   4096
#define STORAGE_STMT_CACHE 96   /* more than the distinct cached statements */
#define STORAGE_TX_DEPTH   16   /* nested storage_begin / internal savepoints */

/*---- Data types ----*/

struct storage_stmt_slot {
	const char   *sql;   /* identity: the address of a static SQL string */
	sqlite3_stmt *stmt;
};

#define STORAGE_GROUPS_MEMO 16   /* group resolutions kept per handle */

struct storage {
	sqlite3 *db;
	char     data_dir[STORAGE_PATH_MAX];
	char     content_dir[STORAGE_PATH_MAX];
	char     tmp_dir[STORAGE_PATH_MAX];        /* content_dir/.tmp: same file system */
	char     quarantine_dir[STORAGE_PATH_MAX]; /* data_dir/quarantine */
	char     server_id[WSUS_GUID_LEN];

	int      tx_depth;                         /* 0 = autocommit, 1 = BEGIN, >1 = SAVEPOINT */
	int64_t  tx_anchor;                        /* anchor of the open outer transaction, 0 if none yet */
	const char *tx_kind;                       /* kind recorded with tx_anchor */
	int64_t  tx_saved_anchor[STORAGE_TX_DEPTH];/* restored when a savepoint level rolls back */
	const char *tx_saved_kind[STORAGE_TX_DEPTH];

	struct storage_stmt_slot stmts[STORAGE_STMT_CACHE];
	int      n_stmts;

	/* group resolutions kept on this handle (storage_client.c) */
	struct st_groups_memo {
		int      used;
		uint64_t gen;                          /* the caller's generation when made */
		int64_t  own_changes;                  /* sqlite3_total_changes64 when made */
		uint8_t  key[WSUS_SHA1_LEN];
		struct storage_client_groups g;
	} groups_memo[STORAGE_GROUPS_MEMO];
	unsigned groups_next;
};

/*---- storage.c: helpers every file uses ----*/

/* Map a SQLite result code to a negative errno and describe it in e as
 * "<what>: <sqlite message>". Returns the errno code. */
int st_sql_err(struct storage *st, struct err *e, int rc, const char *what);

/* *out = the cached prepared statement for sql (a static string: its address
 * is the cache key), reset and with its bindings cleared. Never hold one
 * across a callback into caller code: the callee may need the same statement. */
int st_prepare(struct storage *st, const char *sql, sqlite3_stmt **out, struct err *e);
/* Reset a cached statement after use so it holds no read snapshot. */
void st_stmt_done(sqlite3_stmt *s);

/* Run SQL that returns no rows (several statements allowed). */
int st_exec(struct storage *st, const char *sql, struct err *e);

/* Step a statement expected to finish with SQLITE_DONE. */
int st_step_done(struct storage *st, sqlite3_stmt *s, const char *what, struct err *e);

/* Single integer query (first column of the first row); -ENOENT when no row. */
int st_query_int64(struct storage *st, const char *sql, int64_t *out, struct err *e);

/* Transactions: the outermost level is BEGIN IMMEDIATE, inner levels are
 * savepoints, so an inner failure can be undone without losing the outer work. */
int st_tx_begin(struct storage *st, struct err *e);
int st_tx_commit(struct storage *st, struct err *e);
void st_tx_rollback(struct storage *st);

/* The catalogue anchor of the current transaction (one catalog_change row per
 * outer transaction that changes the catalogue). Requires an open transaction. */
int st_anchor(struct storage *st, const char *kind, int64_t *anchor, struct err *e);

/* Bind text, or NULL when s is NULL. */
int st_bind_text(sqlite3_stmt *s, int idx, const char *text);
/* Copy a column's text into out (size n, at least 1), cut at a UTF-8 boundary. */
void st_column_copy(sqlite3_stmt *s, int col, char *out, size_t n);

/*---- storage_revision.c ----*/

/* Derive every stored revision's fragments again from its stored document
 * with the parser given to storage_set_doc_parser (a document that no longer
 * parses keeps its fragments, with a warning). No-op on an empty catalogue;
 * -ENOTSUP without a parser. Runs inside the caller's transaction. */
int st_fragments_rederive(struct storage *st, struct err *e);

/*---- storage_schema.c ----*/

/* -ENOTSUP when the database is newer than this build (checked before any
 * write, the WAL switch included, so a newer database is left untouched). */
int st_schema_refuse_newer(struct storage *st, struct err *e);
/* Bring the database to the latest schema; refuse a newer one (-ENOTSUP). */
int st_schema_migrate(struct storage *st, struct err *e);
/* The number of migrations compiled in. */
int st_schema_count(void);

/*---- storage_content.c ----*/

/* The file extension the store uses for a payload called name: lower case,
 * [a-z0-9] only, at most 8 characters, "" when there is none (out: 10 bytes). */
void st_content_ext(const char *name, char out[10]);
/* content_dir/<XX>/<sha1hex><.ext> into out; -ENAMETOOLONG when it does not fit. */
int st_content_file_path(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], const char *ext,
			 char *out, size_t n);
/* Remove temporary files a crashed writer left behind (older than a day). */
void st_content_sweep_tmp(struct storage *st);

/* storage_origin.c: the chain stored with a revision put with origin o:
 * o->chain (the upstream's, when given and valid) plus our own receipt, or
 * the local-import origin. *chain is malloc'd. */
int st_chain_compose(struct storage *st, const struct storage_origin *o, char **chain, struct err *e);

#endif /* WSUS_STORAGE_INT_H */
