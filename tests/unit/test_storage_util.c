/*
 * test_storage_util.c -- helpers shared by the storage tests (see
 * test_storage_util.h): temporary data directories, hand-built revisions,
 * raw SQLite queries for white-box checks.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_storage_util.h"

int tsu_setup(void **state)
{
	struct tsu *t = calloc(1, sizeof(*t));
	struct err e = { 0 };

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/wsus-storage-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	if (storage_open(t->dir, NULL, &t->st, &e) < 0) {
		fprintf(stderr, "storage_open: %s\n", e.msg);
		tsu_rmtree(t->dir);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int tsu_teardown(void **state)
{
	struct tsu *t = *state;

	if (t == NULL)
		return 0;
	storage_close(t->st);
	tsu_rmtree(t->dir);
	free(t);
	return 0;
}

void tsu_reopen(struct tsu *t)
{
	struct err e = { 0 };

	storage_close(t->st);
	t->st = NULL;
	if (storage_open(t->dir, NULL, &t->st, &e) < 0)
		fail_msg("reopen: %s", e.msg);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void tsu_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tsu_write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

uint8_t *tsu_read_file(const char *path, size_t *n)
{
	char *buf = NULL;
	size_t len = 0;

	if (wsus_read_file(path, 64u * 1024 * 1024, &buf, &len, NULL) < 0)
		return NULL;
	*n = len;
	return (uint8_t *)buf;
}

int tsu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static char *dupstr(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void *grow(void *p, size_t n, size_t size)
{
	void *np = realloc(p, (n + 1) * size);

	assert_non_null(np);
	memset((char *)np + n * size, 0, size);
	return np;
}

struct wsus_update *tsu_update(const char *uid, int rev, enum wsus_update_type type, const char *xml)
{
	struct wsus_update *u = calloc(1, sizeof(*u));
	char core[160];

	assert_non_null(u);
	assert_int_equal(wsus_guid_normalize(uid, u->update_id), 0);
	u->revision = rev;
	u->type = type;
	u->max_download_size = -1;
	u->min_download_size = -1;
	u->title = dupstr("a test update");
	u->xml = dupstr(xml);
	u->xml_len = strlen(xml);
	snprintf(core, sizeof(core), "<UpdateIdentity UpdateID=\"%s\" RevisionNumber=\"%d\" />",
		 u->update_id, rev);
	tsu_add_fragment(u, WSUS_FRAG_CORE, NULL, core, strlen(core));
	return u;
}

void tsu_add_prereq(struct wsus_update *u, const char *uid, int clause, int is_category)
{
	u->prereqs = grow(u->prereqs, u->n_prereqs, sizeof(*u->prereqs));
	snprintf(u->prereqs[u->n_prereqs].update_id, WSUS_GUID_LEN, "%s", uid);
	u->prereqs[u->n_prereqs].clause = clause;
	u->prereqs[u->n_prereqs].is_category = is_category;
	u->n_prereqs++;
}

void tsu_add_fragment(struct wsus_update *u, enum wsus_fragment_type type, const char *locale,
		      const void *xml, size_t len)
{
	struct wsus_fragment *f;

	u->fragments = grow(u->fragments, u->n_fragments, sizeof(*u->fragments));
	f = &u->fragments[u->n_fragments++];
	f->type = type;
	f->locale = locale ? dupstr(locale) : NULL;
	f->xml = malloc(len + 1);
	assert_non_null(f->xml);
	memcpy(f->xml, xml, len);
	f->xml[len] = '\0';
	f->len = len;
}

struct wsus_file *tsu_add_file(struct wsus_update *u, const char *name, const void *data, size_t n,
			       int with_sha256)
{
	struct wsus_file *f;

	u->files = grow(u->files, u->n_files, sizeof(*u->files));
	f = &u->files[u->n_files++];
	f->file_name = dupstr(name);
	wsus_sha1(data, n, f->sha1);
	if (with_sha256) {
		wsus_sha256(data, n, f->sha256);
		f->has_sha256 = 1;
	}
	f->size = (int64_t)n;
	return f;
}

void tsu_set_category(struct wsus_update *u, const char *kind)
{
	free(u->category_type);
	u->category_type = dupstr(kind);
}

int64_t tsu_put(struct storage *st, const struct wsus_update *u, int *changed)
{
	struct err e = { 0 };
	int64_t id = 0;
	int rc = storage_revision_put(st, u, NULL, &id, changed, &e);

	if (rc < 0)
		fail_msg("put %s/%d: %s", u->update_id, u->revision, e.msg);
	return id;
}

sqlite3 *tsu_db(const char *dir)
{
	char path[512];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/wsus.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	tsu_sql_exec(db, "PRAGMA foreign_keys=ON");
	return db;
}

int64_t tsu_sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

char *tsu_sql_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	const char *t;
	char *v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	t = (const char *)sqlite3_column_text(s, 0);
	v = dupstr(t ? t : "");
	sqlite3_finalize(s);
	return v;
}

void tsu_sql_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("exec %s: %s", sql, msg ? msg : "?");
}
