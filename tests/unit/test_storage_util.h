/*
 * test_storage_util.h -- shared helpers of the storage tests: a fresh data
 * directory with an open storage per test, hand-built wsus_update values
 * (the protocol parser is not used), and raw SQLite access for white-box checks.
 * Everything returned is owned by the caller unless noted.
 */
#ifndef TEST_STORAGE_UTIL_H
#define TEST_STORAGE_UTIL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

struct tsu {
	char dir[256];        /* the data directory (under /tmp) */
	struct storage *st;   /* open on dir */
};

/* cmocka setup/teardown: *state becomes a struct tsu with an open storage. */
int tsu_setup(void **state);
int tsu_teardown(void **state);
/* Close and reopen t->st (asserts success). */
void tsu_reopen(struct tsu *t);

void tsu_rmtree(const char *path);
void tsu_write_file(const char *path, const void *data, size_t n);
/* Read a whole file; returns malloc'd bytes and *n, or NULL if it cannot be read. */
uint8_t *tsu_read_file(const char *path, size_t *n);
/* Number of directory entries other than . and .. (-1 if it cannot be opened). */
int tsu_count_entries(const char *dir);

/* A revision with a Core fragment "<UpdateIdentity UpdateID=.. RevisionNumber=../>"
 * and the given whole document; free with wsus_update_free. */
struct wsus_update *tsu_update(const char *uid, int rev, enum wsus_update_type type, const char *xml);
void tsu_add_prereq(struct wsus_update *u, const char *uid, int clause, int is_category);
void tsu_add_fragment(struct wsus_update *u, enum wsus_fragment_type type, const char *locale,
		      const void *xml, size_t len);
/* A file entry whose digests (and size) are those of data; returns the entry,
 * valid until the next add (the array may move). */
struct wsus_file *tsu_add_file(struct wsus_update *u, const char *name, const void *data, size_t n,
			       int with_sha256);
void tsu_set_category(struct wsus_update *u, const char *kind);
/* Put with a local origin; asserts success. Returns the RevisionID. */
int64_t tsu_put(struct storage *st, const struct wsus_update *u, int *changed);

/* Raw access to dir/wsus.db (foreign keys on). */
sqlite3 *tsu_db(const char *dir);
/* First column of the first row as an integer (asserts a row). */
int64_t tsu_sql_int(sqlite3 *db, const char *sql);
/* First column of the first row as a malloc'd string ("" for NULL). */
char *tsu_sql_text(sqlite3 *db, const char *sql);
void tsu_sql_exec(sqlite3 *db, const char *sql);

#endif /* TEST_STORAGE_UTIL_H */
