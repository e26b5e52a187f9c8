/*
 * test_storage_revision.c -- the catalogue: storing revisions, replacing them,
 * reading them back, IsLeaf, and atomicity of a multi-revision import.
 * Groups: 1 put and RevisionIDs, 2 reading back (fragments, documents, order,
 * latest, files, classification, provenance), 3 IsLeaf, 4 atomicity, 5 input
 * checks and derived rows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_storage_util.h"

#define UID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define UID_B "bbbbbbbb-0000-4000-8000-000000000002"
#define UID_C "cccccccc-0000-4000-8000-000000000003"
#define UID_D "dddddddd-0000-4000-8000-000000000004"
#define UID_E "eeeeeeee-0000-4000-8000-000000000005"
#define UID_CLASS "0fa1201d-4330-4fa8-8ae9-b877473b6441"
#define UID_PRODUCT "6407468e-edc7-4ecd-8c32-521f64cee65e"

static void put_simple(struct storage *st, const char *uid, int rev, const char *xml, int64_t *id,
		       int *changed)
{
	struct wsus_update *u = tsu_update(uid, rev, WSUS_UT_SOFTWARE, xml);

	*id = tsu_put(st, u, changed);
	wsus_update_free(u);
}

/* 1.1 new revisions get increasing RevisionIDs and changed = 1 */
static void test_put_assigns_increasing_ids(void **state)
{
	struct tsu *t = *state;
	int64_t a, b, c;
	int changed = -1;

	put_simple(t->st, UID_A, 1, "<a/>", &a, &changed);
	assert_int_equal(changed, 1);
	put_simple(t->st, UID_B, 1, "<b/>", &b, &changed);
	put_simple(t->st, UID_A, 2, "<a2/>", &c, &changed);
	assert_true(a > 0);
	assert_true(b > a);
	assert_true(c > b);
}

/* 1.2 the same revision with the same XML changes nothing: same id, changed = 0,
 * no new catalogue anchor */
static void test_put_same_twice_is_unchanged(void **state)
{
	struct tsu *t = *state;
	int64_t id1, id2, anchors;
	int changed = -1;
	sqlite3 *db = tsu_db(t->dir);

	put_simple(t->st, UID_A, 1, "<a/>", &id1, &changed);
	anchors = tsu_sql_int(db, "SELECT count(*) FROM catalog_change");
	put_simple(t->st, UID_A, 1, "<a/>", &id2, &changed);
	assert_int_equal(changed, 0);
	assert_int_equal(id1, id2);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM catalog_change"), anchors);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM revision"), 1);
	sqlite3_close(db);
}

/* 1.3 different XML replaces the revision and its dependent rows, keeps the id,
 * and moves it to a newer anchor */
static void test_put_modified_xml_replaces_keeping_id(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a version='1'/>");
	int64_t id1, id2, anchor1;
	char *xml = NULL;
	size_t len;
	int changed;
	sqlite3 *db = tsu_db(t->dir);

	tsu_add_prereq(u, UID_B, 0, 0);
	tsu_add_prereq(u, UID_C, 1, 0);
	tsu_add_fragment(u, WSUS_FRAG_EXTENDED, NULL, "<old/>", 6);
	id1 = tsu_put(t->st, u, &changed);
	anchor1 = tsu_sql_int(db, "SELECT anchor FROM revision");
	wsus_update_free(u);

	u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a version='2'/>");
	tsu_add_prereq(u, UID_D, 0, 0);
	tsu_add_fragment(u, WSUS_FRAG_EXTENDED, NULL, "<new/>", 6);
	id2 = tsu_put(t->st, u, &changed);
	wsus_update_free(u);

	assert_int_equal(changed, 1);
	assert_int_equal(id1, id2);
	assert_true(tsu_sql_int(db, "SELECT anchor FROM revision") > anchor1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM prereq"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM prereq WHERE update_id = '" UID_D "'"), 1);
	assert_int_equal(storage_fragment_get(t->st, UID_A, 1, WSUS_FRAG_EXTENDED, NULL, &xml, &len, NULL), 0);
	assert_string_equal(xml, "<new/>");
	free(xml);
	assert_int_equal(storage_revision_xml(t->st, UID_A, 1, &xml, &len, NULL), 0);
	assert_string_equal(xml, "<a version='2'/>");
	free(xml);
	sqlite3_close(db);
}

/* 1.4 RevisionIDs are never reused: not after a replace, not after the row with
 * the highest id is deleted */
static void test_revision_ids_never_reused(void **state)
{
	struct tsu *t = *state;
	int64_t a, b, b2, c, d;
	int changed;
	sqlite3 *db = tsu_db(t->dir);

	put_simple(t->st, UID_A, 1, "<a/>", &a, &changed);
	put_simple(t->st, UID_B, 1, "<b/>", &b, &changed);
	put_simple(t->st, UID_B, 1, "<b changed='1'/>", &b2, &changed);
	assert_int_equal(b, b2);
	put_simple(t->st, UID_C, 1, "<c/>", &c, &changed);
	assert_int_equal(c, b + 1);
	/* Deleting is not an API; do it by hand to show AUTOINCREMENT at work. */
	tsu_sql_exec(db, "DELETE FROM revision WHERE update_id = '" UID_C "'");
	sqlite3_close(db);
	put_simple(t->st, UID_D, 1, "<d/>", &d, &changed);
	assert_int_equal(d, c + 1);
}

/* 2.1 fragments come back byte for byte, including a Core that is not well-formed
 * XML, embedded NUL and UTF-8; locales match case-insensitively */
static void test_fragments_round_trip_byte_exact(void **state)
{
	struct tsu *t = *state;
	static const char core[] = "<UpdateIdentity UpdateID=\"x\" /><Properties UpdateType=\"Software\" />"
				   "<Relationships><b.WindowsVersion Comparison=\"&gt;\"/>";
	static const char ext[] = "<ExtendedProperties>\xc3\xa9\0tail</ExtendedProperties>";
	static const char loc_en[] = "<LocalizedProperties><Language>en</Language></LocalizedProperties>";
	static const char loc_de[] = "<LocalizedProperties><Language>de</Language>\xc3\xbc</LocalizedProperties>";
	static const char eula[] = "<EulaFile Language=\"en\" />";
	struct wsus_update *u = tsu_update(UID_A, 3, WSUS_UT_SOFTWARE, "<doc/>");
	char *xml = NULL;
	size_t len = 0;
	struct err e = { 0 };

	/* Replace the helper's Core with the odd one. */
	free(u->fragments[0].xml);
	u->fragments[0].xml = malloc(sizeof(core));
	memcpy(u->fragments[0].xml, core, sizeof(core));
	u->fragments[0].len = sizeof(core) - 1;
	tsu_add_fragment(u, WSUS_FRAG_EXTENDED, NULL, ext, sizeof(ext) - 1);
	tsu_add_fragment(u, WSUS_FRAG_LOCALIZED, "en", loc_en, sizeof(loc_en) - 1);
	tsu_add_fragment(u, WSUS_FRAG_LOCALIZED, "de", loc_de, sizeof(loc_de) - 1);
	tsu_add_fragment(u, WSUS_FRAG_EULA, "en", eula, sizeof(eula) - 1);
	tsu_put(t->st, u, NULL);
	wsus_update_free(u);

	assert_int_equal(storage_fragment_get(t->st, UID_A, 3, WSUS_FRAG_CORE, NULL, &xml, &len, &e), 0);
	assert_int_equal(len, sizeof(core) - 1);
	assert_memory_equal(xml, core, len);
	free(xml);
	assert_int_equal(storage_fragment_get(t->st, UID_A, 3, WSUS_FRAG_EXTENDED, NULL, &xml, &len, &e), 0);
	assert_int_equal(len, sizeof(ext) - 1);
	assert_memory_equal(xml, ext, len);
	free(xml);
	assert_int_equal(storage_fragment_get(t->st, UID_A, -1, WSUS_FRAG_LOCALIZED, "DE", &xml, &len, &e), 0);
	assert_int_equal(len, sizeof(loc_de) - 1);
	assert_memory_equal(xml, loc_de, len);
	free(xml);
	assert_int_equal(storage_fragment_get(t->st, UID_A, 3, WSUS_FRAG_EULA, "en", &xml, &len, &e), 0);
	assert_memory_equal(xml, eula, len);
	free(xml);

	assert_int_equal(storage_fragment_get(t->st, UID_A, 3, WSUS_FRAG_LOCALIZED, "fr", &xml, &len, &e),
			 -ENOENT);
	assert_non_null(strstr(e.msg, "no localized fragment for locale fr"));
	assert_int_equal(storage_fragment_get(t->st, UID_A, 4, WSUS_FRAG_CORE, NULL, &xml, &len, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "revision 4 is not in the catalogue"));
	assert_int_equal(storage_fragment_get(t->st, UID_A, 3, WSUS_FRAG_LOCALIZED, NULL, &xml, &len, &e),
			 -EINVAL);
}

/* 2.2 the whole document comes back as stored, NUL-terminated */
static void test_revision_xml_round_trip(void **state)
{
	struct tsu *t = *state;
	static const char doc[] = "<upd:Update xmlns:upd=\"http://schemas.microsoft.com/msus/2002/12/Update\">"
				  "\xe2\x82\xac</upd:Update>";
	int64_t id;
	char *xml = NULL;
	size_t len = 0;
	int changed;

	put_simple(t->st, UID_A, 1, doc, &id, &changed);
	assert_int_equal(storage_revision_xml(t->st, UID_A, -1, &xml, &len, NULL), 0);
	assert_int_equal(len, strlen(doc));
	assert_memory_equal(xml, doc, len + 1);
	free(xml);
	assert_int_equal(storage_revision_xml(t->st, UID_B, -1, &xml, &len, NULL), -ENOENT);
}

struct walk {
	char seen[1024];
	int  stop_after;
	int  count;
};

static int record_row(const struct storage_revision_row *r, void *ctx)
{
	struct walk *w = ctx;
	size_t n = strlen(w->seen);

	snprintf(w->seen + n, sizeof(w->seen) - n, "%.8s/%d%s ", r->update_id, r->revision,
		 r->is_latest ? "L" : "");
	w->count++;
	return w->stop_after && w->count == w->stop_after ? 42 : 0;
}

/* 2.3 foreach walks by (UpdateID, RevisionNumber) whatever the insertion order,
 * flags the latest revision, and stops when the callback says so */
static void test_foreach_order_and_stop(void **state)
{
	struct tsu *t = *state;
	struct walk w = { "", 0, 0 };
	int64_t id;
	int changed;

	put_simple(t->st, UID_C, 1, "<c/>", &id, &changed);
	put_simple(t->st, UID_A, 2, "<a2/>", &id, &changed);
	put_simple(t->st, UID_B, 7, "<b/>", &id, &changed);
	put_simple(t->st, UID_A, 10, "<a10/>", &id, &changed);
	put_simple(t->st, UID_A, 1, "<a1/>", &id, &changed);
	assert_int_equal(storage_revision_foreach(t->st, record_row, &w, NULL), 0);
	assert_string_equal(w.seen, "aaaaaaaa/1 aaaaaaaa/2 aaaaaaaa/10L bbbbbbbb/7L cccccccc/1L ");

	memset(&w, 0, sizeof(w));
	w.stop_after = 2;
	assert_int_equal(storage_revision_foreach(t->st, record_row, &w, NULL), 42);
	assert_int_equal(w.count, 2);
}

/* 2.4 get: revision < 0 is the highest RevisionNumber; exact lookups; errors */
static void test_get_latest_revision(void **state)
{
	struct tsu *t = *state;
	struct storage_revision_row r;
	struct err e = { 0 };
	int64_t id1, id3, id2;
	int changed;

	put_simple(t->st, UID_A, 1, "<1/>", &id1, &changed);
	put_simple(t->st, UID_A, 3, "<3/>", &id3, &changed);
	put_simple(t->st, UID_A, 2, "<2/>", &id2, &changed);
	assert_int_equal(storage_revision_get(t->st, UID_A, -1, &r, &e), 0);
	assert_int_equal(r.revision, 3);
	assert_int_equal(r.revision_id, id3);
	assert_true(r.is_latest);
	assert_int_equal(r.type, WSUS_UT_SOFTWARE);
	assert_string_equal(r.title, "a test update");
	/* Upper-case input finds the lower-case stored id. */
	assert_int_equal(storage_revision_get(t->st, "AAAAAAAA-0000-4000-8000-000000000001", 2, &r, &e), 0);
	assert_int_equal(r.revision_id, id2);
	assert_false(r.is_latest);
	assert_int_equal(storage_revision_get(t->st, UID_A, 5, &r, &e), -ENOENT);
	assert_int_equal(storage_revision_get(t->st, UID_B, -1, &r, &e), -ENOENT);
	assert_non_null(strstr(e.msg, UID_B));
	assert_int_equal(storage_revision_get(t->st, "not-a-guid", -1, &r, &e), -EINVAL);
}

struct files_seen {
	int n;
	int present[4];
	int64_t size[4];
	char name[4][32];
	int has_sha256[4];
};

static int record_file(const struct wsus_file *f, int present, void *ctx)
{
	struct files_seen *s = ctx;

	if (s->n < 4) {
		s->present[s->n] = present;
		s->size[s->n] = f->size;
		s->has_sha256[s->n] = f->has_sha256;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", f->file_name);
	}
	s->n++;
	return 0;
}

/* 2.5 files of a revision come back in order with their metadata; n_files and
 * total_size in the row agree; a file shared by two revisions is one row */
static void test_revision_files(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_update *v = tsu_update(UID_B, 1, WSUS_UT_SOFTWARE, "<b/>");
	struct files_seen s = { 0 };
	struct storage_revision_row r;
	sqlite3 *db = tsu_db(t->dir);

	tsu_add_file(u, "one.cab", "11111", 5, 1);
	tsu_add_file(u, "two.exe", "222", 3, 0);
	tsu_add_file(v, "one.cab", "11111", 5, 1);
	tsu_put(t->st, u, NULL);
	tsu_put(t->st, v, NULL);
	wsus_update_free(u);
	wsus_update_free(v);

	assert_int_equal(storage_revision_files(t->st, UID_A, 1, record_file, &s, NULL), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.name[0], "one.cab");
	assert_string_equal(s.name[1], "two.exe");
	assert_int_equal(s.size[0], 5);
	assert_int_equal(s.has_sha256[0], 1);
	assert_int_equal(s.has_sha256[1], 0);
	assert_int_equal(s.present[0], 0);
	assert_int_equal(storage_revision_get(t->st, UID_A, 1, &r, NULL), 0);
	assert_int_equal(r.n_files, 2);
	assert_int_equal(r.total_size, 8);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM file"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM file WHERE state = 'missing'"), 2);
	assert_int_equal(storage_revision_files(t->st, UID_C, 1, record_file, &s, NULL), -ENOENT);
	sqlite3_close(db);
}

/* 2.6 classification is the UpdateClassification category among the IsCategory
 * prerequisites, resolved when read: it appears once the category arrives */
static void test_classification_resolved_at_read(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_update *prod = tsu_update(UID_PRODUCT, 1, WSUS_UT_CATEGORY, "<p/>");
	struct wsus_update *cls = tsu_update(UID_CLASS, 1, WSUS_UT_CATEGORY, "<c/>");
	struct storage_revision_row r;

	tsu_add_prereq(u, UID_PRODUCT, 0, 1);
	tsu_add_prereq(u, UID_CLASS, 1, 1);
	tsu_set_category(prod, "Product");
	tsu_set_category(cls, "UpdateClassification");
	tsu_put(t->st, u, NULL);
	tsu_put(t->st, prod, NULL);
	assert_int_equal(storage_revision_get(t->st, UID_A, 1, &r, NULL), 0);
	assert_string_equal(r.classification, "");
	tsu_put(t->st, cls, NULL);
	assert_int_equal(storage_revision_get(t->st, UID_A, 1, &r, NULL), 0);
	assert_string_equal(r.classification, UID_CLASS);
	assert_int_equal(storage_revision_get(t->st, UID_CLASS, 1, &r, NULL), 0);
	assert_string_equal(r.category_type, "UpdateClassification");
	assert_int_equal(r.type, WSUS_UT_CATEGORY);
	wsus_update_free(u);
	wsus_update_free(prod);
	wsus_update_free(cls);
}

/* 2.7 provenance: the upstream URL, or "local import" */
static void test_provenance(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct storage_origin o = { "https://upstream.example:8531", "ab12", NULL, NULL };
	struct storage_revision_row r;
	sqlite3 *db = tsu_db(t->dir);
	int64_t id;
	int changed;
	char *cert;

	assert_int_equal(storage_revision_put(t->st, u, &o, NULL, NULL, NULL), 0);
	wsus_update_free(u);
	put_simple(t->st, UID_B, 1, "<b/>", &id, &changed);
	assert_int_equal(storage_revision_get(t->st, UID_A, 1, &r, NULL), 0);
	assert_string_equal(r.origin, "https://upstream.example:8531");
	assert_int_equal(storage_revision_get(t->st, UID_B, 1, &r, NULL), 0);
	assert_string_equal(r.origin, "local import");
	cert = tsu_sql_text(db, "SELECT origin_cert_sha256 FROM revision WHERE update_id = '" UID_A "'");
	assert_string_equal(cert, "ab12");
	free(cert);
	sqlite3_close(db);
}

/* 2.8 origin is immutable; the chain travels; verify --metadata sees edits */
#define CERT_UP "1111111111111111111111111111111111111111111111111111111111111111"
#define CERT_T0 "2222222222222222222222222222222222222222222222222222222222222222"
static void verify_noop(const char *uid, int rev, const char *why, void *ctx)
{
	(void)uid; (void)rev; (void)why;
	(*(int *)ctx)++;
}

static void test_origin_chain_and_digests(void **state)
{
	struct tsu *t = *state;
	const char *given = "local import at server 0000\t-\t2026-01-01T00:00:00Z\n"
			    "https://t0.example\t" CERT_T0 "\t2026-01-02T00:00:00Z\n";
	struct storage_origin up = { "https://t1.example", CERT_UP, "sync", given };
	struct storage_origin local = { NULL, NULL, "/tmp/dir", NULL };
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_update *forged = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a changed='1'/>");
	struct err e = { 0 };
	char *chain = NULL;
	int64_t checked, bad;
	int calls = 0, changed = 0;
	sqlite3 *db = tsu_db(t->dir);

	assert_int_equal(storage_revision_put(t->st, u, &up, NULL, NULL, NULL), 0);
	/* the upstream's chain, then our receipt */
	assert_int_equal(storage_revision_chain(t->st, UID_A, 1, &chain, &e), 0);
	assert_non_null(strstr(chain, given));
	assert_non_null(strstr(chain + strlen(given), "https://t1.example\t" CERT_UP "\t"));
	free(chain);
	/* a local document with other bytes may not replace it; the same bytes may */
	assert_int_equal(storage_revision_put(t->st, forged, &local, NULL, NULL, &e), -EPERM);
	assert_non_null(strstr(e.msg, "came from upstream https://t1.example"));
	assert_non_null(strstr(e.msg, "/tmp/dir"));
	assert_int_equal(storage_revision_put(t->st, u, &local, NULL, &changed, &e), 0);
	assert_int_equal(changed, 0);
	/* a malformed chain is not kept: ours alone */
	up.chain = "bad chain without tabs\n";
	wsus_update_free(forged);
	forged = tsu_update(UID_B, 1, WSUS_UT_SOFTWARE, "<b/>");
	assert_int_equal(storage_revision_put(t->st, forged, &up, NULL, NULL, &e), 0);
	assert_int_equal(storage_revision_chain(t->st, UID_B, 1, &chain, &e), 0);
	assert_int_equal(strncmp(chain, "https://t1.example\t" CERT_UP "\t", strlen("https://t1.example\t") + 64 + 1), 0);
	assert_null(strchr(chain, '\n')[1] == '\0' ? NULL : "one line");
	free(chain);
	assert_int_equal(storage_chain_check("a\t-\t2026\n", &e), 0);
	assert_int_equal(storage_chain_check("a\tXYZ\t2026\n", &e), -EINVAL);
	assert_int_equal(storage_chain_check("a\t-\t2026", &e), -EINVAL);
	assert_int_equal(storage_chain_check("a\x01b\t-\t2026\n", &e), -EINVAL);
	/* verify --metadata: clean, then a document edited behind our back */
	assert_int_equal(storage_verify_metadata(t->st, verify_noop, &calls, &checked, &bad, &e), 0);
	assert_int_equal(checked, 2);
	assert_int_equal(bad, 0);
	tsu_sql_exec(db, "UPDATE revision SET xml = CAST('<a evil=''1''/>' AS BLOB) WHERE update_id = '" UID_A "'");
	assert_int_equal(storage_verify_metadata(t->st, verify_noop, &calls, &checked, &bad, &e), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(calls, 1);
	wsus_update_free(u);
	wsus_update_free(forged);
	sqlite3_close(db);
}

static int leaf_of(struct storage *st, const char *uid)
{
	struct storage_revision_row r;

	assert_int_equal(storage_revision_get(st, uid, -1, &r, NULL), 0);
	return r.is_leaf;
}

static int64_t leaf_time(sqlite3 *db, const char *uid)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT leaf_changed_at FROM revision WHERE update_id = '%s'", uid);
	return tsu_sql_int(db, sql);
}

static void pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* 3.1 IsLeaf over a small graph: A is a prerequisite of B, C stands alone; then D
 * names A and C in two clauses, which flips C (with a new leaf_changed_at) and
 * leaves A's timestamp alone; dropping the edge flips C back */
static void test_isleaf_graph(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *a = tsu_update(UID_A, 1, WSUS_UT_DETECTOID, "<a/>");
	struct wsus_update *b = tsu_update(UID_B, 1, WSUS_UT_SOFTWARE, "<b/>");
	struct wsus_update *c = tsu_update(UID_C, 1, WSUS_UT_SOFTWARE, "<c/>");
	struct wsus_update *d = tsu_update(UID_D, 1, WSUS_UT_SOFTWARE, "<d/>");
	struct wsus_update *d2 = tsu_update(UID_D, 1, WSUS_UT_SOFTWARE, "<d v='2'/>");
	sqlite3 *db = tsu_db(t->dir);
	int64_t a_time, c_time;

	tsu_add_prereq(b, UID_A, 0, 0);
	tsu_put(t->st, b, NULL);   /* before A exists: fine */
	tsu_put(t->st, a, NULL);
	tsu_put(t->st, c, NULL);
	assert_int_equal(storage_leaf_refresh(t->st, NULL), 0);
	assert_int_equal(leaf_of(t->st, UID_A), 0);
	assert_int_equal(leaf_of(t->st, UID_B), 1);
	assert_int_equal(leaf_of(t->st, UID_C), 1);
	a_time = leaf_time(db, UID_A);
	c_time = leaf_time(db, UID_C);

	pause_ms(5);
	tsu_add_prereq(d, UID_A, 0, 0);
	tsu_add_prereq(d, UID_C, 1, 0);
	tsu_put(t->st, d, NULL);
	assert_int_equal(storage_leaf_refresh(t->st, NULL), 0);
	assert_int_equal(leaf_of(t->st, UID_A), 0);
	assert_int_equal(leaf_of(t->st, UID_B), 1);
	assert_int_equal(leaf_of(t->st, UID_C), 0);
	assert_int_equal(leaf_of(t->st, UID_D), 1);
	assert_true(leaf_time(db, UID_C) > c_time);
	assert_int_equal(leaf_time(db, UID_A), a_time);
	assert_int_equal(tsu_sql_int(db, "SELECT count(DISTINCT clause_id) FROM prereq p JOIN revision r"
				     " USING (revision_id) WHERE r.update_id = '" UID_D "'"), 2);

	/* D's new revision no longer names C. */
	tsu_add_prereq(d2, UID_A, 0, 0);
	tsu_put(t->st, d2, NULL);
	assert_int_equal(storage_leaf_refresh(t->st, NULL), 0);
	assert_int_equal(leaf_of(t->st, UID_C), 1);
	assert_int_equal(leaf_of(t->st, UID_A), 0);

	wsus_update_free(a);
	wsus_update_free(b);
	wsus_update_free(c);
	wsus_update_free(d);
	wsus_update_free(d2);
	sqlite3_close(db);
}

/* 3.2 IsLeaf over 20,000 revisions (a chain plus categories) is one quick statement */
static void test_isleaf_refresh_is_fast(void **state)
{
	struct tsu *t = *state;
	enum { N = 20000 };
	char uid[WSUS_GUID_LEN], prev[WSUS_GUID_LEN] = "";
	struct timespec t0, t1;
	double secs;
	sqlite3 *db;

	assert_int_equal(storage_begin(t->st, NULL), 0);
	for (int i = 0; i < N; i++) {
		struct wsus_update *u;

		snprintf(uid, sizeof(uid), "%08x-0000-4000-8000-%012x", i, i);
		u = tsu_update(uid, 1, WSUS_UT_SOFTWARE, "<u/>");
		if (prev[0])
			tsu_add_prereq(u, prev, 0, 0);
		tsu_add_prereq(u, UID_CLASS, 1, 1);
		tsu_put(t->st, u, NULL);
		wsus_update_free(u);
		if (i % 2 == 0)
			snprintf(prev, sizeof(prev), "%s", uid);
	}
	assert_int_equal(storage_commit(t->st, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(storage_leaf_refresh(t->st, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("leaf refresh over %d revisions: %.3f s\n", N, secs);
	assert_true(secs < 2.0);
	db = tsu_db(t->dir);
	/* Each even-numbered revision is named by the one or two that follow it. */
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM revision WHERE is_leaf = 0"), N / 2);
	assert_int_equal(tsu_sql_int(db, "SELECT is_leaf FROM revision WHERE update_id LIKE '00004e1f-%'"), 1);
	sqlite3_close(db);
}

/* 4.1 an import that fails on its 4th revision and is rolled back leaves nothing
 * of the first three, and no anchor */
static void test_import_rollback_leaves_nothing(void **state)
{
	struct tsu *t = *state;
	const char *uids[] = { UID_A, UID_B, UID_C };
	struct wsus_update *bad = tsu_update(UID_D, 1, WSUS_UT_SOFTWARE, "<d/>");
	struct storage_revision_row r;
	struct err e = { 0 };
	sqlite3 *db;

	assert_int_equal(storage_begin(t->st, &e), 0);
	for (int i = 0; i < 3; i++) {
		struct wsus_update *u = tsu_update(uids[i], 1, WSUS_UT_SOFTWARE, "<x/>");

		tsu_add_file(u, "f.cab", uids[i], 36, 1);
		tsu_put(t->st, u, NULL);
		wsus_update_free(u);
	}
	bad->type = WSUS_UT_UNKNOWN;
	assert_int_equal(storage_revision_put(t->st, bad, NULL, NULL, NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "UpdateType"));
	assert_int_equal(storage_rollback(t->st), 0);
	wsus_update_free(bad);

	for (int i = 0; i < 3; i++)
		assert_int_equal(storage_revision_get(t->st, uids[i], -1, &r, NULL), -ENOENT);
	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM revision"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM fragment"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM file"), 0);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM catalog_change"), 0);
	sqlite3_close(db);
}

/* 4.2 a put that fails inside the database (a duplicate fragment, after its
 * revision row was written) undoes only itself: the import can still commit the
 * others, or roll back everything */
static void test_failed_put_undoes_itself(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *good = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_update *dup = tsu_update(UID_B, 1, WSUS_UT_SOFTWARE, "<b/>");
	struct storage_revision_row r;
	struct err e = { 0 };
	sqlite3 *db;

	tsu_add_fragment(dup, WSUS_FRAG_LOCALIZED, "en", "<x/>", 4);
	tsu_add_fragment(dup, WSUS_FRAG_LOCALIZED, "EN", "<y/>", 4);
	assert_int_equal(storage_begin(t->st, &e), 0);
	tsu_put(t->st, good, NULL);
	assert_int_equal(storage_revision_put(t->st, dup, NULL, NULL, NULL, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "listed twice"));
	assert_int_equal(storage_commit(t->st, &e), 0);

	assert_int_equal(storage_revision_get(t->st, UID_A, 1, &r, NULL), 0);
	assert_int_equal(storage_revision_get(t->st, UID_B, 1, &r, NULL), -ENOENT);
	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM revision"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM fragment"), 1);
	/* One anchor for the committed transaction, shared by what it changed. */
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM catalog_change"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT max(anchor) FROM catalog_change"),
			 tsu_sql_int(db, "SELECT anchor FROM revision"));
	sqlite3_close(db);
	wsus_update_free(good);
	wsus_update_free(dup);
}

/* 4.3 puts committed in separate transactions get increasing anchors; puts in one
 * transaction share one */
static void test_anchor_per_transaction(void **state)
{
	struct tsu *t = *state;
	int64_t id;
	int changed;
	sqlite3 *db = tsu_db(t->dir);

	put_simple(t->st, UID_A, 1, "<a/>", &id, &changed);
	put_simple(t->st, UID_B, 1, "<b/>", &id, &changed);
	assert_int_equal(storage_begin(t->st, NULL), 0);
	put_simple(t->st, UID_C, 1, "<c/>", &id, &changed);
	put_simple(t->st, UID_D, 1, "<d/>", &id, &changed);
	assert_int_equal(storage_commit(t->st, NULL), 0);
	assert_true(tsu_sql_int(db, "SELECT anchor FROM revision WHERE update_id = '" UID_B "'") >
		    tsu_sql_int(db, "SELECT anchor FROM revision WHERE update_id = '" UID_A "'"));
	assert_int_equal(tsu_sql_int(db, "SELECT anchor FROM revision WHERE update_id = '" UID_C "'"),
			 tsu_sql_int(db, "SELECT anchor FROM revision WHERE update_id = '" UID_D "'"));
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM catalog_change"), 3);
	sqlite3_close(db);
}

/* 5.1 malformed input is refused before touching the database */
static void test_invalid_input_refused(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct err e = { 0 };

	u->update_id[3] = 'x';
	assert_int_equal(storage_revision_put(t->st, u, NULL, NULL, NULL, &e), -EINVAL);
	u->update_id[3] = 'a';
	u->revision = -1;
	assert_int_equal(storage_revision_put(t->st, u, NULL, NULL, NULL, &e), -EINVAL);
	u->revision = 1;
	tsu_add_prereq(u, "nonsense", 0, 0);
	assert_int_equal(storage_revision_put(t->st, u, NULL, NULL, NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "prerequisite"));
	u->n_prereqs = 0;
	u->xml_len = 0;
	assert_int_equal(storage_revision_put(t->st, u, NULL, NULL, NULL, &e), -EINVAL);
	u->xml_len = 4;
	tsu_add_fragment(u, WSUS_FRAG_EULA, NULL, "<e/>", 4);
	assert_int_equal(storage_revision_put(t->st, u, NULL, NULL, NULL, &e), -EINVAL);
	wsus_update_free(u);
}

/* 5.2 drivers, bundles, supersedence, languages and EULAs land in their tables;
 * a new MUUrl on an unchanged document is still recorded */
static void test_derived_rows(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_DRIVER, "<drv/>");
	struct wsus_driver *d;
	struct wsus_file *f;
	char *url;
	sqlite3 *db = tsu_db(t->dir);

	u->drivers = calloc(1, sizeof(*u->drivers));
	u->n_drivers = 1;
	d = &u->drivers[0];
	d->hardware_id = strdup("PCI\\VEN_8086&DEV_1234");
	d->driver_ver_version = strdup("1.2.3.4");
	d->scores = calloc(1, sizeof(*d->scores));
	d->scores[0].os = strdup("amd64.10.0");
	d->scores[0].score = 7;
	d->n_scores = 1;
	d->target_chids = calloc(2, sizeof(char *));
	d->target_chids[0] = strdup("11111111-2222-3333-4444-555555555555");
	d->target_chids[1] = strdup("66666666-2222-3333-4444-555555555555");
	d->n_target_chids = 2;
	u->bundled = calloc(1, sizeof(*u->bundled));
	snprintf(u->bundled[0].update_id, WSUS_GUID_LEN, "%s", UID_B);
	u->bundled[0].revision = 4;
	u->n_bundled = 1;
	u->superseded = calloc(1, sizeof(*u->superseded));
	snprintf(u->superseded[0], WSUS_GUID_LEN, "%s", UID_C);
	u->n_superseded = 1;
	u->languages = calloc(2, sizeof(char *));
	u->languages[0] = strdup("en");
	u->languages[1] = strdup("de");
	u->n_languages = 2;
	u->eula_id = strdup("E0E0E0E0-0000-4000-8000-000000000000");
	f = tsu_add_file(u, "drv.cab", "driver", 6, 1);
	tsu_put(t->st, u, NULL);

	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM driver WHERE hardware_id = 'pci\\ven_8086&dev_1234'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT score FROM driver_feature_score WHERE os = 'AMD64.10.0'"), 7);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM driver_target_chid"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT bundled_revision_number FROM bundle"), 4);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM supersedes WHERE superseded_update_id = '" UID_C "'"), 1);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM language"), 2);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM eula WHERE eula_id = 'e0e0e0e0-0000-4000-8000-000000000000'"
				     " AND accepted = 0"), 1);

	f->mu_url = strdup("http://download.windowsupdate.com/x/drv.cab");
	tsu_put(t->st, u, NULL);
	url = tsu_sql_text(db, "SELECT mu_url FROM file");
	assert_string_equal(url, "http://download.windowsupdate.com/x/drv.cab");
	free(url);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM catalog_change"), 1);
	wsus_update_free(u);
	sqlite3_close(db);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, tsu_setup, tsu_teardown)
	const struct CMUnitTest tests[] = {
		T(test_put_assigns_increasing_ids),
		T(test_put_same_twice_is_unchanged),
		T(test_put_modified_xml_replaces_keeping_id),
		T(test_revision_ids_never_reused),
		T(test_fragments_round_trip_byte_exact),
		T(test_revision_xml_round_trip),
		T(test_foreach_order_and_stop),
		T(test_get_latest_revision),
		T(test_revision_files),
		T(test_classification_resolved_at_read),
		T(test_provenance),
		T(test_origin_chain_and_digests),
		T(test_isleaf_graph),
		T(test_isleaf_refresh_is_fast),
		T(test_import_rollback_leaves_nothing),
		T(test_failed_put_undoes_itself),
		T(test_anchor_per_transaction),
		T(test_invalid_input_refused),
		T(test_derived_rows),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
