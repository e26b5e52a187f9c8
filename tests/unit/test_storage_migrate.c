/*
 * test_storage_migrate.c -- a database written by the previous release is
 * brought up to date on open: its stored fragments are derived again from its
 * stored documents (schema migration 5), the documents themselves untouched.
 * The "previous release" is made here: the 9 real documents are imported, then
 * their Core fragments are rewritten to the shape that release derived
 * (Properties with the children Extended holds) and user_version is set back.
 * Groups: 1 migration with the document parser, 2 without it, 3 a document
 *         that no longer parses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "test_storage_util.h"
#include "test_update_docs.h"

/* The schema version of the last release whose Core kept Properties' children. */
#define OLD_RELEASE_VERSION 4
#define N_DOCS ((int)TEST_N_UPDATE_DOCS)


static struct wsus_update *parse_doc(const char *name)
{
	char path[1024];
	char *buf = NULL;
	size_t len = 0;
	struct wsus_update *u = NULL;
	struct err e = { 0 };

	snprintf(path, sizeof(path), TEST_UPDATE_DOCS_DIR "%s", name);
	if (wsus_read_file(path, WSUS_MAX_UPDATE_XML, &buf, &len, &e) < 0 ||
	    protocol_update_parse(buf, len, &u, &e) < 0)
		fail_msg("%s: %s", name, e.msg);
	free(buf);
	return u;
}

static const struct wsus_fragment *core_of(const struct wsus_update *u)
{
	for (size_t i = 0; i < u->n_fragments; i++)
		if (u->fragments[i].type == WSUS_FRAG_CORE)
			return &u->fragments[i];
	return NULL;
}

/* The previous release's Core: the current one with Extended's Properties
 * children put back inside Properties. NULL when Properties had none. */
static char *old_core(const char *core, const char *ext)
{
	const char *p = strstr(core, "<Properties "), *close, *kids, *kids_end;
	size_t n;
	char *out;

	kids_end = strstr(ext, "</ExtendedProperties>");
	if (p == NULL || kids_end == NULL)
		return NULL;
	close = strstr(p, " />");
	kids = strchr(ext, '>') + 1;
	assert_non_null(close);
	n = strlen(core) + (size_t)(kids_end - kids) + 32;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s>%.*s</Properties>%s", (int)(close - core), core, (int)(kids_end - kids), kids,
		 close + 3);
	return out;
}

static char *fragment_text(sqlite3 *db, int64_t id, int type)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT CAST(xml AS TEXT) FROM fragment WHERE revision_id = %lld AND type = %d",
		 (long long)id, type);
	return tsu_sql_text(db, sql);
}

struct fixture {
	struct tsu *t;
	int64_t ids[N_DOCS];
	char *docs_before;    /* every stored document, hex, in RevisionID order */
	int n_rewritten;      /* Core fragments given back their Properties children */
};

/* Import the 9 documents, then turn the database into the previous release's. */
static void make_old_release(struct fixture *f)
{
	sqlite3 *db;
	char ver[64];

	for (int i = 0; i < N_DOCS; i++) {
		struct wsus_update *u = parse_doc(test_update_docs[i]);

		f->ids[i] = tsu_put(f->t->st, u, NULL);
		wsus_update_free(u);
	}
	storage_close(f->t->st);
	f->t->st = NULL;
	db = tsu_db(f->t->dir);
	for (int i = 0; i < N_DOCS; i++) {
		char *core = fragment_text(db, f->ids[i], WSUS_FRAG_CORE);
		char *ext = fragment_text(db, f->ids[i], WSUS_FRAG_EXTENDED);
		char *old = old_core(core, ext);

		if (old != NULL) {
			sqlite3_stmt *s = NULL;

			assert_int_equal(sqlite3_prepare_v2(db, "UPDATE fragment SET xml = ?2 WHERE revision_id = ?1"
							    " AND type = 0", -1, &s, NULL), SQLITE_OK);
			sqlite3_bind_int64(s, 1, f->ids[i]);
			sqlite3_bind_blob(s, 2, old, (int)strlen(old), SQLITE_TRANSIENT);
			assert_int_equal(sqlite3_step(s), SQLITE_DONE);
			sqlite3_finalize(s);
			f->n_rewritten++;
		}
		free(core);
		free(ext);
		free(old);
	}
	snprintf(ver, sizeof(ver), "PRAGMA user_version = %d", OLD_RELEASE_VERSION);
	tsu_sql_exec(db, ver);
	/* what migration 6 (provenance) added did not exist in that release either */
	tsu_sql_exec(db, "ALTER TABLE revision DROP COLUMN origin_chain");
	tsu_sql_exec(db, "ALTER TABLE revision DROP COLUMN xml_sha256");
	tsu_sql_exec(db, "ALTER TABLE sync_stage DROP COLUMN provenance");
	/* nor what migration 7 (sync run payload bytes) added */
	tsu_sql_exec(db, "ALTER TABLE sync_history DROP COLUMN content_bytes");
	/* nor what migration 9 (the rollup watermark on our clock) added */
	tsu_sql_exec(db, "DROP TRIGGER update_status_gone");
	tsu_sql_exec(db, "ALTER TABLE update_status DROP COLUMN changed_at");
	/* nor what migration 8 (the incremental rollup) added */
	tsu_sql_exec(db, "ALTER TABLE computer DROP COLUMN rollup_info_sent");
	tsu_sql_exec(db, "ALTER TABLE computer DROP COLUMN rollup_details_sent");
	tsu_sql_exec(db, "ALTER TABLE computer DROP COLUMN rollup_sent_number");
	tsu_sql_exec(db, "ALTER TABLE computer DROP COLUMN rollup_status_time");
	f->docs_before = tsu_sql_text(db, "SELECT group_concat(h, ',') FROM"
				      " (SELECT hex(xml) AS h FROM revision ORDER BY revision_id)");
	sqlite3_close(db);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tsu_setup((void **)&f->t) < 0)
		return -1;
	storage_set_doc_parser(NULL);
	make_old_release(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	storage_set_doc_parser(NULL);
	free(f->docs_before);
	tsu_teardown((void **)&f->t);
	free(f);
	return 0;
}

static int count_old_cores(sqlite3 *db)
{
	return (int)tsu_sql_int(db, "SELECT count(*) FROM fragment WHERE type = 0"
				" AND instr(CAST(xml AS TEXT), '</Properties>') > 0");
}

/* 1.1 with the parser: every Core is derived again (no Properties children,
 *     equal to a fresh derivation), Extended still holds the children, the
 *     stored documents are byte for byte the same, the version is the latest */
static void test_migrates_core_fragments(void **state)
{
	struct fixture *f = *state;
	struct err e = { 0 };
	sqlite3 *db;
	char *docs_after;

	db = tsu_db(f->t->dir);
	assert_true(f->n_rewritten >= 4);       /* the old shape really is there */
	assert_int_equal(count_old_cores(db), f->n_rewritten);
	sqlite3_close(db);

	storage_set_doc_parser(protocol_update_parse);
	assert_int_equal(storage_open(f->t->dir, NULL, &f->t->st, &e), 0);
	assert_int_equal(storage_schema_version(f->t->st), storage_schema_latest());
	for (int i = 0; i < N_DOCS; i++) {
		struct wsus_update *u = parse_doc(test_update_docs[i]);
		char *xml = NULL, *ext = NULL;
		size_t len = 0, elen = 0;

		assert_int_equal(storage_fragment_get(f->t->st, u->update_id, u->revision, WSUS_FRAG_CORE, NULL,
						      &xml, &len, &e), 0);
		assert_int_equal(len, core_of(u)->len);
		assert_memory_equal(xml, core_of(u)->xml, len);
		assert_null(strstr(xml, "</Properties>"));
		assert_int_equal(storage_fragment_get(f->t->st, u->update_id, u->revision, WSUS_FRAG_EXTENDED,
						      NULL, &ext, &elen, &e), 0);
		if (strcmp(test_update_docs[i], "a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml") == 0)
			assert_non_null(strstr(ext, "<KBArticleID>2267602</KBArticleID></ExtendedProperties>"));
		free(xml);
		free(ext);
		wsus_update_free(u);
	}
	db = tsu_db(f->t->dir);
	assert_int_equal(count_old_cores(db), 0);
	docs_after = tsu_sql_text(db, "SELECT group_concat(h, ',') FROM"
				  " (SELECT hex(xml) AS h FROM revision ORDER BY revision_id)");
	assert_string_equal(docs_after, f->docs_before);
	free(docs_after);
	sqlite3_close(db);
}

/* 2.1 without a parser the open fails clearly and the database is untouched */
static void test_without_parser_refuses(void **state)
{
	struct fixture *f = *state;
	struct storage *st = NULL;
	struct err e = { 0 };
	sqlite3 *db;

	assert_int_equal(storage_open(f->t->dir, NULL, &st, &e), -ENOTSUP);
	assert_null(st);
	assert_non_null(strstr(e.msg, "derived again"));
	db = tsu_db(f->t->dir);
	assert_int_equal(tsu_sql_int(db, "PRAGMA user_version"), OLD_RELEASE_VERSION);
	assert_int_equal(count_old_cores(db), f->n_rewritten);
	sqlite3_close(db);
	/* teardown needs an open storage */
	storage_set_doc_parser(protocol_update_parse);
	tsu_reopen(f->t);
}

/* 3.1 a stored document that no longer parses keeps its fragments; the
 *     others are migrated and the database opens */
static void test_unparsable_document_keeps_fragments(void **state)
{
	struct fixture *f = *state;
	struct err e = { 0 };
	char sql[160], *core;
	sqlite3 *db;
	int64_t id = f->ids[5];   /* a2fef9b0: its Core had Properties children */

	db = tsu_db(f->t->dir);
	snprintf(sql, sizeof(sql), "UPDATE revision SET xml = CAST('<broken' AS BLOB) WHERE revision_id = %lld",
		 (long long)id);
	tsu_sql_exec(db, sql);
	sqlite3_close(db);

	storage_set_doc_parser(protocol_update_parse);
	assert_int_equal(storage_open(f->t->dir, NULL, &f->t->st, &e), 0);
	db = tsu_db(f->t->dir);
	assert_int_equal(count_old_cores(db), 1);
	core = fragment_text(db, id, WSUS_FRAG_CORE);
	assert_non_null(strstr(core, "<KBArticleID>2267602</KBArticleID></Properties>"));
	free(core);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrates_core_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_parser_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unparsable_document_keeps_fragments, setup, teardown),
	};

	protocol_xml_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
