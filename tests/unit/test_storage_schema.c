/*
 * test_storage_schema.c -- opening a data directory: schema version and
 * migrations, identity and secrets, connection settings, state, transactions.
 * Groups: 1 schema version, 2 identity and secrets, 3 connection settings and
 * files on disk, 4 key/value state and transaction misuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cmocka.h>

#include "test_storage_util.h"

/* 1.1 a fresh database is at the latest version, in PRAGMA user_version */
static void test_fresh_open_has_latest_version(void **state)
{
	struct tsu *t = *state;
	sqlite3 *db;

	assert_true(storage_schema_latest() >= 1);
	assert_int_equal(storage_schema_version(t->st), storage_schema_latest());
	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "PRAGMA user_version"), storage_schema_latest());
	sqlite3_close(db);
}

/* 1.2 reopening applies nothing again and keeps ServerID, secrets and seed rows */
static void test_reopen_is_idempotent_and_keeps_server_id(void **state)
{
	struct tsu *t = *state;
	char id1[WSUS_GUID_LEN], id2[WSUS_GUID_LEN], norm[WSUS_GUID_LEN];
	uint8_t k1[32], k2[32];
	sqlite3 *db;

	assert_int_equal(storage_server_id(t->st, id1), 0);
	assert_int_equal(wsus_guid_normalize(id1, norm), 0);
	assert_string_equal(id1, norm);
	assert_int_equal(storage_secret(t->st, "cookie", k1, NULL), 0);
	tsu_reopen(t);
	tsu_reopen(t);
	assert_int_equal(storage_server_id(t->st, id2), 0);
	assert_string_equal(id1, id2);
	assert_int_equal(storage_secret(t->st, "cookie", k2, NULL), 0);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(storage_schema_version(t->st), storage_schema_latest());
	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM server_identity"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM target_group"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM secret WHERE name = 'cookie'"), 1);
	sqlite3_close(db);
}

/* 1.3 a database newer than this build is refused, with a clear message, untouched */
static void test_newer_database_is_refused(void **state)
{
	struct tsu *t = *state;
	struct storage *st2 = NULL;
	struct err e = { 0 };
	char sql[64];
	sqlite3 *db;

	storage_close(t->st);
	t->st = NULL;
	db = tsu_db(t->dir);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", storage_schema_latest() + 1);
	tsu_sql_exec(db, sql);
	tsu_sql_exec(db, "PRAGMA journal_mode = DELETE");
	sqlite3_close(db);

	assert_int_equal(storage_open(t->dir, NULL, &st2, &e), -ENOTSUP);
	assert_null(st2);
	assert_non_null(strstr(e.msg, "newer than this build"));

	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "PRAGMA user_version"), storage_schema_latest() + 1);
	{
		char *mode = tsu_sql_text(db, "PRAGMA journal_mode");

		assert_string_equal(mode, "delete");  /* not even switched to WAL */
		free(mode);
	}
	/* Put it back so that teardown has something to close. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", storage_schema_latest());
	tsu_sql_exec(db, sql);
	sqlite3_close(db);
	tsu_reopen(t);
}

/* 2.1 secrets are 32 random bytes per name, created once */
static void test_secrets_are_per_name_and_stable(void **state)
{
	struct tsu *t = *state;
	uint8_t a[32], b[32], a2[32], zero[32] = { 0 };
	struct err e = { 0 };

	assert_int_equal(storage_secret(t->st, "alpha", a, &e), 0);
	assert_int_equal(storage_secret(t->st, "beta", b, &e), 0);
	assert_memory_not_equal(a, b, 32);
	assert_memory_not_equal(a, zero, 32);
	tsu_reopen(t);
	assert_int_equal(storage_secret(t->st, "alpha", a2, &e), 0);
	assert_memory_equal(a, a2, 32);
	assert_int_equal(storage_secret(t->st, "", a2, &e), -EINVAL);
}

/* 2.2 the two built-in groups are seeded with their well-known lower-case ids */
static int collect_group(const char *id, const char *name, const char *parent, int builtin, void *ctx)
{
	char *out = ctx;
	size_t len = strlen(out);

	snprintf(out + len, 512 - len, "%s|%s|%s|%d\n", id, name, parent ? parent : "-", builtin);
	return 0;
}

static void test_builtin_groups_seeded(void **state)
{
	struct tsu *t = *state;
	char out[512] = "";

	assert_int_equal(storage_group_foreach(t->st, collect_group, out, NULL), 0);
	assert_string_equal(out,
		"a0a08746-4dbe-4a37-9adf-9e7652c0b421|All Computers|-|1\n"
		"b73ca6ed-5727-47f3-84de-015e03f6a88a|Unassigned Computers|All Computers|1\n");
}

/* 3.1 WAL mode, foreign keys declared consistently, integrity check passes */
static void test_wal_and_integrity(void **state)
{
	struct tsu *t = *state;
	sqlite3 *db = tsu_db(t->dir);
	char *mode = tsu_sql_text(db, "PRAGMA journal_mode");
	char *ok = tsu_sql_text(db, "PRAGMA integrity_check");

	assert_string_equal(mode, "wal");
	assert_string_equal(ok, "ok");
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	free(mode);
	free(ok);
	sqlite3_close(db);
}

/* 3.2 the data directory gets content/, content/.tmp and quarantine/ */
static void test_directories_created(void **state)
{
	struct tsu *t = *state;
	const char *subs[] = { "content", "content/.tmp", "quarantine" };
	char path[512];
	struct stat sb;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, subs[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_true(S_ISDIR(sb.st_mode));
	}
}

/* 3.3 temporary files older than a day are swept on open; fresh ones stay */
static void test_stale_temporaries_swept(void **state)
{
	struct tsu *t = *state;
	char old[512], fresh[512];
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat sb;

	snprintf(old, sizeof(old), "%s/content/.tmp/deadwriter", t->dir);
	snprintf(fresh, sizeof(fresh), "%s/content/.tmp/livewriter", t->dir);
	tsu_write_file(old, "x", 1);
	tsu_write_file(fresh, "y", 1);
	assert_int_equal(utimes(old, tv), 0);
	tsu_reopen(t);
	assert_int_not_equal(stat(old, &sb), 0);
	assert_int_equal(stat(fresh, &sb), 0);
}

/* 4.1 state: absent is -ENOENT, set then get, overwrite keeps one value */
static void test_state_get_set(void **state)
{
	struct tsu *t = *state;
	char *v = NULL;

	assert_int_equal(storage_state_get(t->st, "last_sync", &v), -ENOENT);
	assert_int_equal(storage_state_set(t->st, "last_sync", "2024-01-01T00:00:00.000Z", NULL), 0);
	assert_int_equal(storage_state_set(t->st, "last_sync", "2024-02-02T00:00:00.000Z", NULL), 0);
	tsu_reopen(t);
	assert_int_equal(storage_state_get(t->st, "last_sync", &v), 0);
	assert_string_equal(v, "2024-02-02T00:00:00.000Z");
	free(v);
	assert_int_equal(storage_state_set(t->st, "", "x", NULL), -EINVAL);
}

/* 4.2 commit or rollback without begin is an error; nested begin is allowed */
static void test_transaction_misuse(void **state)
{
	struct tsu *t = *state;
	struct err e = { 0 };
	char *v = NULL;

	assert_int_equal(storage_commit(t->st, &e), -EINVAL);
	assert_int_equal(storage_rollback(t->st), -EINVAL);
	assert_int_equal(storage_begin(t->st, &e), 0);
	assert_int_equal(storage_state_set(t->st, "k", "outer", &e), 0);
	assert_int_equal(storage_begin(t->st, &e), 0);
	assert_int_equal(storage_state_set(t->st, "k", "inner", &e), 0);
	assert_int_equal(storage_rollback(t->st), 0);  /* undoes only the inner level */
	assert_int_equal(storage_commit(t->st, &e), 0);
	assert_int_equal(storage_state_get(t->st, "k", &v), 0);
	assert_string_equal(v, "outer");
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_open_has_latest_version, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_is_idempotent_and_keeps_server_id, tsu_setup,
						tsu_teardown),
		cmocka_unit_test_setup_teardown(test_newer_database_is_refused, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_secrets_are_per_name_and_stable, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_builtin_groups_seeded, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_wal_and_integrity, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_directories_created, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_stale_temporaries_swept, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_state_get_set, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_transaction_misuse, tsu_setup, tsu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
