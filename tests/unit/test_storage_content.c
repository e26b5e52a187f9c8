/*
 * test_storage_content.c -- the content store: write, verify, rename;
 * quarantine on any mismatch; re-verification of what is stored.
 * Groups: 1 storing (layout, extension rules, idempotence, payload before
 * metadata), 2 rejection (SHA-1, SHA-256, size, overflow), 3 streaming writer,
 * 4 verify (corruption, loss, adoption), 5 a content directory elsewhere.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_storage_util.h"

#define UID_A "aaaaaaaa-0000-4000-8000-000000000001"

static const char payload[] = "MSCF pretend cabinet payload bytes \x01\x02\x03 for the store";
#define PAYLOAD_LEN (sizeof(payload) - 1)

/* A revision listing one file whose digests are those of data; returns a copy
 * of the file entry's description (owned by u). */
static struct wsus_update *revision_with_file(const char *name, const void *data, size_t n,
					      int with_sha256, struct wsus_file **f)
{
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");

	*f = tsu_add_file(u, name, data, n, with_sha256);
	return u;
}

static void expected_path(struct tsu *t, const uint8_t sha1[20], const char *ext, char *out, size_t n)
{
	char hex[41];

	wsus_hex_encode(sha1, 20, hex);
	snprintf(out, n, "%s/content/%s/%s%s", t->dir, hex + 38, hex, ext);
}

static void write_src(struct tsu *t, const void *data, size_t n, char *out, size_t out_n)
{
	snprintf(out, out_n, "%s/src.bin", t->dir);
	tsu_write_file(out, data, n);
}

static int quarantine_count(struct tsu *t)
{
	char q[512];

	snprintf(q, sizeof(q), "%s/quarantine", t->dir);
	return tsu_count_entries(q);
}

static int tmp_count(struct tsu *t)
{
	char q[512];

	snprintf(q, sizeof(q), "%s/content/.tmp", t->dir);
	return tsu_count_entries(q);
}

/* 1.1 a payload with the right digests lands at content/XX/<sha1>.ext with the
 * same bytes, its row becomes present, and content_path finds it */
static void test_import_stores_verified_payload(void **state)
{
	struct tsu *t = *state;
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("Windows10.0-KB5000001-x64.CAB", payload, PAYLOAD_LEN, 1, &f);
	char src[512], want[512], got[512];
	struct storage_status s;
	struct err e = { 0 };
	uint8_t *bytes;
	size_t n;

	tsu_put(t->st, u, NULL);
	write_src(t, payload, PAYLOAD_LEN, src, sizeof(src));
	assert_int_equal(storage_content_path(t->st, f->sha1, got, sizeof(got)), -ENOENT);
	assert_int_equal(storage_content_import(t->st, src, f, &e), 0);
	expected_path(t, f->sha1, ".cab", want, sizeof(want));
	assert_int_equal(storage_content_path(t->st, f->sha1, got, sizeof(got)), 0);
	assert_string_equal(got, want);
	bytes = tsu_read_file(want, &n);
	assert_non_null(bytes);
	assert_int_equal(n, PAYLOAD_LEN);
	assert_memory_equal(bytes, payload, n);
	free(bytes);
	assert_int_equal(tmp_count(t), 0);
	assert_int_equal(storage_status_get(t->st, &s, &e), 0);
	assert_int_equal(s.files_present, 1);
	assert_int_equal(s.content_bytes, (int64_t)PAYLOAD_LEN);
	assert_int_equal(storage_content_path(t->st, f->sha1, got, 10), -ENAMETOOLONG);
	wsus_update_free(u);
}

/* 1.2 the extension is the file name's, lower-cased, only [a-z0-9], at most 8
 * characters; anything else gets no extension */
static void test_extension_rules(void **state)
{
	static const struct { const char *name, *ext; } v[] = {
		{ "a.EXE", ".exe" }, { "dir\\x.Msu", ".msu" }, { "noext", "" }, { "trailing.", "" },
		{ "a.e-x", "" }, { "a.toolongext", "" }, { "a.12345678", ".12345678" }, { "../../x.psf", ".psf" },
	};
	struct tsu *t = *state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char data[32], src[512], want[512], got[512];
		struct wsus_file f = { 0 };

		snprintf(data, sizeof(data), "payload %zu", i);
		wsus_sha1(data, strlen(data), f.sha1);
		f.size = (int64_t)strlen(data);
		f.file_name = (char *)v[i].name;
		write_src(t, data, strlen(data), src, sizeof(src));
		assert_int_equal(storage_content_import(t->st, src, &f, NULL), 0);
		expected_path(t, f.sha1, v[i].ext, want, sizeof(want));
		assert_int_equal(access(want, F_OK), 0);
		/* Without a catalogue row the file is stored but not served. */
		assert_int_equal(storage_content_path(t->st, f.sha1, got, sizeof(got)), -ENOENT);
	}
}

/* 1.3 importing what is already present returns 0 and rewrites nothing (the
 * source is not even opened) */
static void test_import_is_idempotent(void **state)
{
	struct tsu *t = *state;
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("x.cab", payload, PAYLOAD_LEN, 1, &f);
	char src[512], path[512];
	struct stat before, after;

	tsu_put(t->st, u, NULL);
	write_src(t, payload, PAYLOAD_LEN, src, sizeof(src));
	assert_int_equal(storage_content_import(t->st, src, f, NULL), 0);
	assert_int_equal(storage_content_path(t->st, f->sha1, path, sizeof(path)), 0);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(storage_content_import(t->st, "/nonexistent/source", f, NULL), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	wsus_update_free(u);
}

/* 1.4 a payload stored before its metadata is recognised when the revision arrives */
static void test_payload_before_metadata(void **state)
{
	struct tsu *t = *state;
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("late.cab", payload, PAYLOAD_LEN, 1, &f);
	char src[512], path[512];

	write_src(t, payload, PAYLOAD_LEN, src, sizeof(src));
	assert_int_equal(storage_content_import(t->st, src, f, NULL), 0);
	assert_int_equal(storage_content_path(t->st, f->sha1, path, sizeof(path)), -ENOENT);
	tsu_put(t->st, u, NULL);
	assert_int_equal(storage_content_path(t->st, f->sha1, path, sizeof(path)), 0);
	wsus_update_free(u);
}

/* Import data against a description that does not match it and check it was
 * quarantined: -EBADMSG naming the file and the check, nothing in the store, the
 * bytes in quarantine/, a quarantine row, the file row counted as quarantined. */
static void expect_quarantined(struct tsu *t, struct wsus_update *u, struct wsus_file *f,
			       const void *data, size_t n, const char *check)
{
	char src[512], path[512], want[512];
	struct storage_status s;
	struct err e = { 0 };
	sqlite3 *db;

	tsu_put(t->st, u, NULL);
	write_src(t, data, n, src, sizeof(src));
	assert_int_equal(storage_content_import(t->st, src, f, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, f->file_name));
	assert_non_null(strstr(e.msg, check));
	assert_non_null(strstr(e.msg, "quarantined"));
	assert_int_equal(storage_content_path(t->st, f->sha1, path, sizeof(path)), -ENOENT);
	expected_path(t, f->sha1, ".cab", want, sizeof(want));
	assert_int_not_equal(access(want, F_OK), 0);
	assert_int_equal(quarantine_count(t), 1);
	assert_int_equal(tmp_count(t), 0);
	assert_int_equal(storage_status_get(t->st, &s, &e), 0);
	assert_int_equal(s.files_quarantined, 1);
	assert_int_equal(s.files_present, 0);
	db = tsu_db(t->dir);
	assert_int_equal(tsu_sql_int(db, "SELECT count(*) FROM quarantine"), 1);
	{
		char *reason = tsu_sql_text(db, "SELECT reason FROM quarantine");

		assert_non_null(strstr(reason, check));
		free(reason);
	}
	sqlite3_close(db);
}

/* 2.1 wrong SHA-1: quarantined, never stored */
static void test_wrong_sha1_quarantined(void **state)
{
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("bad.cab", payload, PAYLOAD_LEN, 1, &f);
	char tampered[sizeof(payload)];
	char qdir[512], *name;
	uint8_t *bytes;
	size_t n;
	struct tsu *t = *state;

	memcpy(tampered, payload, sizeof(payload));
	tampered[3] ^= 1;
	/* The SHA-256 is not checked here: it would fail too, but SHA-1 comes first. */
	f->has_sha256 = 0;
	expect_quarantined(t, u, f, tampered, PAYLOAD_LEN, "SHA-1: expected");
	/* The quarantined bytes are the ones received. */
	{
		sqlite3 *db = tsu_db(t->dir);

		name = tsu_sql_text(db, "SELECT path FROM quarantine");
		sqlite3_close(db);
	}
	snprintf(qdir, sizeof(qdir), "%s/quarantine/", t->dir);
	assert_memory_equal(name, qdir, strlen(qdir));
	bytes = tsu_read_file(name, &n);
	assert_non_null(bytes);
	assert_memory_equal(bytes, tampered, PAYLOAD_LEN);
	free(bytes);
	free(name);
	wsus_update_free(u);
}

/* 2.2 right SHA-1 but wrong SHA-256: quarantined too */
static void test_wrong_sha256_quarantined(void **state)
{
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("bad.cab", payload, PAYLOAD_LEN, 1, &f);

	f->sha256[0] ^= 0xff;
	expect_quarantined(*state, u, f, payload, PAYLOAD_LEN, "SHA-256: expected");
	wsus_update_free(u);
}

/* 2.3 fewer bytes than declared: quarantined */
static void test_short_payload_quarantined(void **state)
{
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("bad.cab", payload, PAYLOAD_LEN, 1, &f);

	f->size += 10;
	expect_quarantined(*state, u, f, payload, PAYLOAD_LEN, "size: expected");
	wsus_update_free(u);
}

/* 2.4 more bytes than declared: the writer stops and the file is quarantined */
static void test_long_payload_quarantined(void **state)
{
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("bad.cab", payload, PAYLOAD_LEN, 1, &f);

	f->size -= 1;
	expect_quarantined(*state, u, f, payload, PAYLOAD_LEN, "got more");
	wsus_update_free(u);
}

/* 3.1 the streaming writer fed in uneven chunks stores exactly what a one-shot
 * import stores */
static void test_streaming_equals_one_shot(void **state)
{
	struct tsu *t = *state;
	enum { N = 300000 };
	static const size_t chunks[] = { 1, 7, 4096, 65536, 100000, 3 };
	uint8_t *data = malloc(N);
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_file *f1, *f2;
	struct storage_content_writer *w = NULL;
	char src[512], p1[512], p2[512];
	uint8_t *b1, *b2;
	size_t off = 0, n1, n2;
	struct err e = { 0 };

	assert_non_null(data);
	for (size_t i = 0; i < N; i++)
		data[i] = (uint8_t)(i * 31 + (i >> 8));
	tsu_add_file(u, "one.bin", data, N, 1);
	data[0] ^= 0x55;  /* a second, different payload for the one-shot path */
	tsu_add_file(u, "two.bin", data, N, 1);
	data[0] ^= 0x55;
	f1 = &u->files[0];  /* taken after the last add: adding may move the array */
	f2 = &u->files[1];
	tsu_put(t->st, u, NULL);

	assert_int_equal(storage_content_begin(t->st, f1, &w, &e), 0);
	for (size_t i = 0; off < N; i = (i + 1) % (sizeof(chunks) / sizeof(chunks[0]))) {
		size_t n = chunks[i] < N - off ? chunks[i] : N - off;

		assert_int_equal(storage_content_write(w, data + off, n, &e), 0);
		off += n;
	}
	assert_int_equal(storage_content_finish(w, &e), 0);

	data[0] ^= 0x55;
	write_src(t, data, N, src, sizeof(src));
	assert_int_equal(storage_content_import(t->st, src, f2, &e), 0);
	data[0] ^= 0x55;

	assert_int_equal(storage_content_path(t->st, f1->sha1, p1, sizeof(p1)), 0);
	assert_int_equal(storage_content_path(t->st, f2->sha1, p2, sizeof(p2)), 0);
	b1 = tsu_read_file(p1, &n1);
	b2 = tsu_read_file(p2, &n2);
	assert_int_equal(n1, N);
	assert_int_equal(n2, N);
	assert_memory_equal(b1, data, N);
	assert_memory_equal(b2 + 1, data + 1, N - 1);
	assert_int_equal(b2[0], data[0] ^ 0x55);
	free(b1);
	free(b2);
	free(data);
	wsus_update_free(u);
}

/* 3.2 abort discards the temporary file and stores nothing */
static void test_abort_discards(void **state)
{
	struct tsu *t = *state;
	struct wsus_file *f;
	struct wsus_update *u = revision_with_file("x.cab", payload, PAYLOAD_LEN, 1, &f);
	struct storage_content_writer *w = NULL;
	char path[512];

	tsu_put(t->st, u, NULL);
	assert_int_equal(storage_content_begin(t->st, f, &w, NULL), 0);
	assert_int_equal(storage_content_write(w, payload, 10, NULL), 0);
	assert_int_equal(tmp_count(t), 1);
	storage_content_abort(w);
	assert_int_equal(tmp_count(t), 0);
	assert_int_equal(storage_content_path(t->st, f->sha1, path, sizeof(path)), -ENOENT);
	assert_int_equal(quarantine_count(t), 0);
	storage_content_abort(NULL);
	wsus_update_free(u);
}

/* 3.3 a write past the declared size fails at once with -EFBIG */
static void test_writer_refuses_overflow(void **state)
{
	struct tsu *t = *state;
	struct wsus_file f = { 0 };
	struct storage_content_writer *w = NULL;
	struct err e = { 0 };

	wsus_sha1(payload, 8, f.sha1);
	f.size = 8;
	f.file_name = (char *)"small.cab";
	assert_int_equal(storage_content_begin(t->st, &f, &w, &e), 0);
	assert_int_equal(storage_content_write(w, payload, 8, &e), 0);
	assert_int_equal(storage_content_write(w, payload, 1, &e), -EFBIG);
	assert_int_equal(storage_content_write(w, payload, 1, &e), -EFBIG);
	assert_int_equal(storage_content_finish(w, &e), -EBADMSG);
	assert_int_equal(quarantine_count(t), 1);
}

static void import_ok(struct tsu *t, struct wsus_file *f, const void *data, size_t n)
{
	char src[512];
	struct err e = { 0 };

	write_src(t, data, n, src, sizeof(src));
	if (storage_content_import(t->st, src, f, &e) < 0)
		fail_msg("import: %s", e.msg);
}

/* 4.1 verify re-hashes the store: read-only, a corrupted file is reported
 * and left alone; with repair it is quarantined (moved out, no longer
 * served) and its row becomes missing so it is fetched again; good files stay */
static void report_kind(void *ctx, const char *kind, const char *sha1_hex, const char *path, const char *detail)
{
	char *last = ctx;

	(void)sha1_hex;
	(void)path;
	(void)detail;
	snprintf(last, 16, "%s", kind);
}

static void test_verify_quarantines_corruption(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_file *good, *bad;
	struct storage_verify_result r = { 0 };
	struct storage_status s;
	char path[512], kind[16] = "";
	FILE *fp;

	tsu_add_file(u, "good.cab", "good bytes", 10, 1);
	tsu_add_file(u, "bad.cab", "soon corrupted", 14, 1);
	good = &u->files[0];
	bad = &u->files[1];

	tsu_put(t->st, u, NULL);
	import_ok(t, good, "good bytes", 10);
	import_ok(t, bad, "soon corrupted", 14);
	assert_int_equal(storage_content_path(t->st, bad->sha1, path, sizeof(path)), 0);
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fputc('S', fp), 'S');
	fclose(fp);

	/* Read-only: reported, nothing moved. */
	assert_int_equal(storage_content_verify(t->st, 0, report_kind, kind, &r, NULL), 0);
	assert_int_equal(r.checked, 2);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.corrupt, 1);
	assert_int_equal(r.quarantined, 0);
	assert_string_equal(kind, "corrupt");
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(quarantine_count(t), 0);

	memset(&r, 0, sizeof(r));
	assert_int_equal(storage_content_verify(t->st, 1, NULL, NULL, &r, NULL), 0);
	assert_int_equal(r.checked, 2);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.quarantined, 1);
	assert_int_equal(r.missing, 1);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(storage_content_path(t->st, bad->sha1, path, sizeof(path)), -ENOENT);
	assert_int_equal(storage_content_path(t->st, good->sha1, path, sizeof(path)), 0);
	assert_int_equal(quarantine_count(t), 1);
	assert_int_equal(storage_status_get(t->st, &s, NULL), 0);
	assert_int_equal(s.files_quarantined, 0);
	assert_int_equal(s.files_missing, 1);
	assert_int_equal(s.files_present, 1);

	/* A second run finds nothing new. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(storage_content_verify(t->st, 1, NULL, NULL, &r, NULL), 0);
	assert_int_equal(r.checked, 1);
	assert_int_equal(r.quarantined, 0);
	wsus_update_free(u);
}

/* 4.2 a stored file that vanished is reported lost; repair marks its row
 * missing; a catalogue file never downloaded is missing too */
static void test_verify_counts_missing(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_file *kept, *lost;
	struct storage_verify_result r = { 0 };
	char path[512], kind[16] = "";

	tsu_add_file(u, "kept.cab", "kept", 4, 0);
	tsu_add_file(u, "lost.cab", "lost", 4, 0);
	tsu_add_file(u, "never.cab", "never", 5, 0);
	kept = &u->files[0];
	lost = &u->files[1];
	tsu_put(t->st, u, NULL);
	import_ok(t, kept, "kept", 4);
	import_ok(t, lost, "lost", 4);
	assert_int_equal(storage_content_path(t->st, lost->sha1, path, sizeof(path)), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(storage_content_path(t->st, lost->sha1, path, sizeof(path)), -ENOENT);
	assert_int_equal(storage_content_verify(t->st, 0, report_kind, kind, &r, NULL), 0);
	assert_int_equal(r.checked, 1);
	assert_int_equal(r.lost, 1);
	assert_int_equal(r.missing, 1);
	assert_string_equal(kind, "lost");
	memset(&r, 0, sizeof(r));
	assert_int_equal(storage_content_verify(t->st, 1, NULL, NULL, &r, NULL), 0);
	assert_int_equal(r.checked, 1);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.lost, 1);
	assert_int_equal(r.missing, 2);
	assert_int_equal(r.quarantined, 0);
	wsus_update_free(u);
}

/* 4.4 a payload quarantined on arrival stays quarantined while its
 * quarantine file exists; once an admin deletes that file it is wanted again */
static void test_requeue_after_quarantine_file_deleted(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_file *f;
	struct storage_status s;
	struct err e = { 0 };
	char src[512], qdir[512], qpath[1024];
	struct dirent *de;
	int64_t n = -1;
	DIR *d;

	tsu_add_file(u, "q.cab", "the real bytes", 14, 1);
	f = &u->files[0];
	tsu_put(t->st, u, NULL);
	snprintf(src, sizeof(src), "%s/src.bin", t->dir);
	tsu_write_file(src, "forged bytes!!", 14);
	assert_int_equal(storage_content_import(t->st, src, f, &e), -EBADMSG);
	assert_int_equal(storage_content_requeue(t->st, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(storage_status_get(t->st, &s, NULL), 0);
	assert_int_equal(s.files_quarantined, 1);

	snprintf(qdir, sizeof(qdir), "%s/quarantine", t->dir);
	d = opendir(qdir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(qpath, sizeof(qpath), "%s/%s", qdir, de->d_name);
		assert_int_equal(unlink(qpath), 0);
	}
	closedir(d);
	assert_int_equal(storage_content_requeue(t->st, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(storage_status_get(t->st, &s, NULL), 0);
	assert_int_equal(s.files_quarantined, 0);
	assert_int_equal(s.files_missing, 1);
	wsus_update_free(u);
}

/* 4.3 verify adopts a good payload whose row lagged behind (state missing),
 * quarantines a bad one in the same situation, and leaves payloads the
 * catalogue does not list where they are */
static void test_verify_adopts_and_ignores_orphans(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_file *lag, *rot;
	struct storage_verify_result r = { 0 };
	struct wsus_file orphan = { 0 };
	char path[512], opath[512], junk[512], rpath[512];
	sqlite3 *db;

	tsu_add_file(u, "lag.cab", "lagging", 7, 1);
	tsu_add_file(u, "rot.cab", "rotting", 7, 1);
	lag = &u->files[0];
	rot = &u->files[1];

	tsu_put(t->st, u, NULL);
	import_ok(t, lag, "lagging", 7);
	import_ok(t, rot, "rotting", 7);
	assert_int_equal(storage_content_path(t->st, rot->sha1, rpath, sizeof(rpath)), 0);
	tsu_write_file(rpath, "rotten!", 7);
	wsus_sha1("orphan", 6, orphan.sha1);
	orphan.size = 6;
	orphan.file_name = (char *)"o.exe";
	import_ok(t, &orphan, "orphan", 6);
	expected_path(t, orphan.sha1, ".exe", opath, sizeof(opath));
	snprintf(junk, sizeof(junk), "%s/content/README", t->dir);
	tsu_write_file(junk, "x", 1);

	db = tsu_db(t->dir);
	tsu_sql_exec(db, "UPDATE file SET state = 'missing'");
	sqlite3_close(db);
	assert_int_equal(storage_content_path(t->st, lag->sha1, path, sizeof(path)), -ENOENT);

	assert_int_equal(storage_content_verify(t->st, 1, NULL, NULL, &r, NULL), 0);
	assert_int_equal(r.checked, 2);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.quarantined, 1);
	assert_int_equal(r.missing, 1);
	assert_int_equal(storage_content_path(t->st, lag->sha1, path, sizeof(path)), 0);
	assert_int_equal(storage_content_path(t->st, rot->sha1, path, sizeof(path)), -ENOENT);
	assert_int_not_equal(access(rpath, F_OK), 0);
	assert_int_equal(access(opath, F_OK), 0);
	assert_int_equal(access(junk, F_OK), 0);
	wsus_update_free(u);
}

/* 5.1 a content directory given apart from the data directory holds the payloads
 * and the temporaries; quarantine still goes to DATADIR/quarantine, copied when
 * the two are on different file systems */
static void test_content_dir_elsewhere(void **state)
{
	struct tsu *t = *state;
	char cdir[64] = "/dev/shm/wsus-content-XXXXXX", content[128], path[512], want[512];
	struct storage *st = NULL;
	struct wsus_update *u = tsu_update(UID_A, 1, WSUS_UT_SOFTWARE, "<a/>");
	struct wsus_file *ok, *bad;
	struct err e = { 0 };
	struct stat s1, s2;
	char hex[41];

	if (mkdtemp(cdir) == NULL) {
		wsus_update_free(u);
		skip();
	}
	snprintf(content, sizeof(content), "%s/store", cdir);
	storage_close(t->st);
	t->st = NULL;
	assert_int_equal(storage_open(t->dir, content, &st, &e), 0);
	t->st = st;
	tsu_add_file(u, "ok.cab", "fine", 4, 1);
	tsu_add_file(u, "bad.cab", "fine", 4, 1);
	ok = &u->files[0];
	bad = &u->files[1];
	bad->sha1[0] ^= 1;
	tsu_put(st, u, NULL);
	import_ok(t, ok, "fine", 4);
	wsus_hex_encode(ok->sha1, 20, hex);
	snprintf(want, sizeof(want), "%s/%s/%s.cab", content, hex + 38, hex);
	assert_int_equal(storage_content_path(st, ok->sha1, path, sizeof(path)), 0);
	assert_string_equal(path, want);
	snprintf(path, sizeof(path), "%s/.tmp", content);
	assert_int_equal(tsu_count_entries(path), 0);

	write_src(t, "fine", 4, path, sizeof(path));
	assert_int_equal(storage_content_import(st, path, bad, &e), -EBADMSG);
	assert_int_equal(quarantine_count(t), 1);
	snprintf(path, sizeof(path), "%s/quarantine", t->dir);
	assert_int_equal(stat(path, &s1), 0);
	assert_int_equal(stat(content, &s2), 0);
	if (s1.st_dev != s2.st_dev)
		print_message("quarantine crossed file systems (copy path taken)\n");
	snprintf(path, sizeof(path), "%s/.tmp", content);
	assert_int_equal(tsu_count_entries(path), 0);
	wsus_update_free(u);
	tsu_rmtree(cdir);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, tsu_setup, tsu_teardown)
	const struct CMUnitTest tests[] = {
		T(test_import_stores_verified_payload),
		T(test_extension_rules),
		T(test_import_is_idempotent),
		T(test_payload_before_metadata),
		T(test_wrong_sha1_quarantined),
		T(test_wrong_sha256_quarantined),
		T(test_short_payload_quarantined),
		T(test_long_payload_quarantined),
		T(test_streaming_equals_one_shot),
		T(test_abort_discards),
		T(test_writer_refuses_overflow),
		T(test_verify_quarantines_corruption),
		T(test_verify_counts_missing),
		T(test_verify_adopts_and_ignores_orphans),
		T(test_requeue_after_quarantine_file_deleted),
		T(test_content_dir_elsewhere),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
