/*
 * storage_content.c -- the content store: content/<XX>/<sha1hex><.ext>, where
 * XX is the last two hex digits of the SHA-1. Payloads are written to
 * content/.tmp, hashed while they stream (SHA-1 and SHA-256), checked against
 * the catalogue digests, fsynced and renamed into place (design note 6); what
 * fails a check is moved to DATADIR/quarantine and recorded. A writer from
 * storage_content_begin is freed by storage_content_finish or _abort.
 */
#include "storage_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define IO_CHUNK      (256u * 1024)
#define TMP_MAX_AGE_S (24 * 3600)   /* older temporaries belong to a dead writer */

struct storage_content_writer {
	struct storage *st;
	uint8_t  sha1[WSUS_SHA1_LEN];
	uint8_t  sha256[WSUS_SHA256_LEN];
	int      has_sha256;
	int64_t  size;                    /* declared size, -1 if unknown */
	char     name[128];               /* FileName, for messages only */
	char     ext[10];
	char     tmp[STORAGE_PATH_MAX];
	int      fd;
	EVP_MD_CTX *c1, *c256;
	int64_t  written;
	int      overflow;                /* more bytes than declared arrived */
};

/*---- Names and paths ----*/

void st_content_ext(const char *name, char out[10])
{
	const char *base, *dot;
	size_t n;

	out[0] = '\0';
	if (name == NULL)
		return;
	base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	dot = strrchr(base, '.');
	if (dot == NULL)
		return;
	n = strlen(dot + 1);
	if (n == 0 || n > 8)
		return;
	for (size_t i = 0; i < n; i++) {
		int c = tolower((unsigned char)dot[1 + i]);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			out[0] = '\0';
			return;
		}
		out[1 + i] = (char)c;
	}
	out[0] = '.';
	out[n + 1] = '\0';
}

int st_content_file_path(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], const char *ext,
			 char *out, size_t n)
{
	char hex[2 * WSUS_SHA1_LEN + 1];

	wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
	if ((size_t)snprintf(out, n, "%s/%s/%s%s", st->content_dir, hex + 38, hex, ext) >= n)
		return -ENAMETOOLONG;
	return 0;
}

static void sha1_hex(const uint8_t sha1[WSUS_SHA1_LEN], char out[2 * WSUS_SHA1_LEN + 1])
{
	wsus_hex_encode(sha1, WSUS_SHA1_LEN, out);
}

/*---- Catalogue rows ----*/

static const char SQL_PRESENT_EXT[] = "SELECT store_ext FROM file WHERE sha1 = ?1 AND state = 'present'";
static const char SQL_MARK_PRESENT[] =
	"UPDATE file SET state = 'present', store_ext = ?2, size = coalesce(size, ?3),"
	" state_changed_at = ?4 WHERE sha1 = ?1";
static const char SQL_MARK_STATE[] =
	"UPDATE file SET state = ?2, state_changed_at = ?3 WHERE sha1 = ?1";
static const char SQL_MARK_QUARANTINED_UNLESS_PRESENT[] =
	"UPDATE file SET state = 'quarantined', state_changed_at = ?2 WHERE sha1 = ?1 AND state <> 'present'";
static const char SQL_QUARANTINE_INSERT[] =
	"INSERT INTO quarantine(sha1, path, reason, time) VALUES (?1, ?2, ?3, ?4)";

/* The stored path of a payload whose row says present and whose file exists. */
static int present_path(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], char *out, size_t n,
			char ext[10])
{
	struct stat sb;
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_PRESENT_EXT, &s, NULL);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		st_column_copy(s, 0, ext, 10);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	rc = st_content_file_path(st, sha1, ext, out, n);
	if (rc < 0)
		return rc;
	if (stat(out, &sb) < 0 || !S_ISREG(sb.st_mode))
		return -ENOENT;
	return 0;
}

static int set_state(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], const char *state,
		     struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_MARK_STATE, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, wsus_now_ms());
	rc = st_step_done(st, s, "update file state", e);
	st_stmt_done(s);
	return rc;
}

static int mark_present(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], const char *ext,
			int64_t size, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_MARK_PRESENT, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, ext, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, size);
	sqlite3_bind_int64(s, 4, wsus_now_ms());
	rc = st_step_done(st, s, "mark file present", e);
	st_stmt_done(s);
	return rc;
}

int storage_content_path(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], char *out,
			 size_t out_size)
{
	char ext[10];

	return present_path(st, sha1, out, out_size, ext);
}

/*---- Moving files ----*/

/* Copy then unlink, for a quarantine on another file system than the store. */
static int copy_then_unlink(const char *from, const char *to, struct err *e)
{
	char *buf = malloc(IO_CHUNK);
	int in = -1, out = -1, rc = 0;
	ssize_t r;

	if (buf == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (in < 0 || out < 0) {
		rc = err_set(e, -errno, "cannot copy %s to %s: %s", from, to, strerror(errno));
		goto out;
	}
	while ((r = read(in, buf, IO_CHUNK)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || write(out, buf, (size_t)r) != r) {
			rc = err_set(e, errno ? -errno : -EIO, "cannot copy %s to %s: %s", from, to,
				     strerror(errno));
			goto out;
		}
	}
	if (fsync(out) < 0) {
		rc = err_set(e, -errno, "cannot fsync %s: %s", to, strerror(errno));
		goto out;
	}
	unlink(from);
out:
	if (rc < 0 && out >= 0)
		unlink(to);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(buf);
	return rc;
}

/* Move a failed payload to quarantine/<sha1hex>.<ms>[.<n>] and record why.
 * demote: the row becomes "quarantined" even if it said present (verify). */
static int quarantine_file(struct storage *st, const char *from, const uint8_t sha1[WSUS_SHA1_LEN],
			   const char *reason, int demote, char *dest, size_t dest_n, struct err *e)
{
	char hex[2 * WSUS_SHA1_LEN + 1];
	int64_t now = wsus_now_ms();
	struct stat sb;
	sqlite3_stmt *s = NULL;
	int rc;

	sha1_hex(sha1, hex);
	for (int i = 0;; i++) {
		int n = i == 0 ? snprintf(dest, dest_n, "%s/%s.%lld", st->quarantine_dir, hex, (long long)now) :
			snprintf(dest, dest_n, "%s/%s.%lld.%d", st->quarantine_dir, hex, (long long)now, i);

		if (n < 0 || (size_t)n >= dest_n)
			return err_set(e, -ENAMETOOLONG, "quarantine path too long");
		if (lstat(dest, &sb) < 0 || i == 100)
			break;
	}
	if (rename(from, dest) < 0) {
		if (errno != EXDEV)
			return err_set(e, -errno, "cannot move %s to quarantine: %s", from, strerror(errno));
		rc = copy_then_unlink(from, dest, e);
		if (rc < 0)
			return rc;
	}
	wsus_fsync_parent(dest);
	rc = st_prepare(st, SQL_QUARANTINE_INSERT, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, dest, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	rc = st_step_done(st, s, "record quarantine", e);
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	if (demote) {
		rc = set_state(st, sha1, "quarantined", e);
	} else {
		rc = st_prepare(st, SQL_MARK_QUARANTINED_UNLESS_PRESENT, &s, e);
		if (rc < 0)
			return rc;
		sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, now);
		rc = st_step_done(st, s, "mark file quarantined", e);
		st_stmt_done(s);
	}
	log_warn("storage", "payload quarantined sha1=%s reason=\"%s\" path=%s", hex, reason, dest);
	return rc;
}

/*---- Digests ----*/

struct digests {
	uint8_t sha1[WSUS_SHA1_LEN];
	uint8_t sha256[WSUS_SHA256_LEN];
	int64_t size;
	int     overflow;
};

/* What the bytes should be, as the catalogue knows it. */
struct expected {
	const uint8_t *sha1;
	const uint8_t *sha256;   /* NULL when the catalogue has none */
	int64_t        size;     /* -1 when unknown */
};

/* "" when got matches want; otherwise one line naming the first failed check. */
static void compare(const struct expected *want, const struct digests *got, char *reason, size_t n)
{
	char a[2 * WSUS_SHA256_LEN + 1], b[2 * WSUS_SHA256_LEN + 1];

	reason[0] = '\0';
	if (got->overflow) {
		snprintf(reason, n, "size: expected %lld bytes, got more", (long long)want->size);
	} else if (want->size >= 0 && got->size != want->size) {
		snprintf(reason, n, "size: expected %lld bytes, got %lld", (long long)want->size,
			 (long long)got->size);
	} else if (memcmp(want->sha1, got->sha1, WSUS_SHA1_LEN) != 0) {
		wsus_hex_encode(want->sha1, WSUS_SHA1_LEN, a);
		wsus_hex_encode(got->sha1, WSUS_SHA1_LEN, b);
		snprintf(reason, n, "SHA-1: expected %s, got %s", a, b);
	} else if (want->sha256 != NULL && memcmp(want->sha256, got->sha256, WSUS_SHA256_LEN) != 0) {
		wsus_hex_encode(want->sha256, WSUS_SHA256_LEN, a);
		wsus_hex_encode(got->sha256, WSUS_SHA256_LEN, b);
		snprintf(reason, n, "SHA-256: expected %s, got %s", a, b);
	}
}

static int hash_fd(int fd, struct digests *d, struct err *e)
{
	EVP_MD_CTX *c1 = EVP_MD_CTX_new(), *c256 = EVP_MD_CTX_new();
	char *buf = malloc(IO_CHUNK);
	int rc = 0;
	ssize_t r;

	memset(d, 0, sizeof(*d));
	if (c1 == NULL || c256 == NULL || buf == NULL ||
	    EVP_DigestInit_ex(c1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(c256, EVP_sha256(), NULL) != 1) {
		rc = err_set(e, -ENOMEM, "cannot set up digests");
		goto out;
	}
	while ((r = read(fd, buf, IO_CHUNK)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(e, -errno, "read error: %s", strerror(errno));
			goto out;
		}
		EVP_DigestUpdate(c1, buf, (size_t)r);
		EVP_DigestUpdate(c256, buf, (size_t)r);
		d->size += r;
	}
	EVP_DigestFinal_ex(c1, d->sha1, NULL);
	EVP_DigestFinal_ex(c256, d->sha256, NULL);
out:
	EVP_MD_CTX_free(c1);
	EVP_MD_CTX_free(c256);
	free(buf);
	return rc;
}

static int hash_path(const char *path, struct digests *d, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return err_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
	rc = hash_fd(fd, d, e);
	close(fd);
	if (rc < 0)
		err_prefix(e, "%s", path);
	return rc;
}

/*---- The streaming writer ----*/

void storage_content_abort(struct storage_content_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp);
	}
	EVP_MD_CTX_free(w->c1);
	EVP_MD_CTX_free(w->c256);
	free(w);
}

static int open_tmp(struct storage_content_writer *w, struct err *e)
{
	uint8_t rnd[16];
	char hex[33];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return err_set(e, -EIO, "no random bytes for a temporary name");
	wsus_hex_encode(rnd, sizeof(rnd), hex);
	if ((size_t)snprintf(w->tmp, sizeof(w->tmp), "%s/%s", w->st->tmp_dir, hex) >= sizeof(w->tmp))
		return err_set(e, -ENAMETOOLONG, "temporary path too long");
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0)
		return err_set(e, -errno, "cannot create %s: %s", w->tmp, strerror(errno));
	return 0;
}

int storage_content_begin(struct storage *st, const struct wsus_file *f,
			  struct storage_content_writer **out, struct err *e)
{
	struct storage_content_writer *w;
	int rc;

	if (f == NULL)
		return err_set(e, -EINVAL, "no file description given");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	w->st = st;
	w->fd = -1;
	memcpy(w->sha1, f->sha1, WSUS_SHA1_LEN);
	memcpy(w->sha256, f->sha256, WSUS_SHA256_LEN);
	w->has_sha256 = f->has_sha256;
	w->size = f->size;
	if (f->file_name != NULL)
		snprintf(w->name, sizeof(w->name), "%s", f->file_name);
	else
		sha1_hex(f->sha1, w->name);
	st_content_ext(f->file_name, w->ext);
	w->c1 = EVP_MD_CTX_new();
	w->c256 = EVP_MD_CTX_new();
	if (w->c1 == NULL || w->c256 == NULL || EVP_DigestInit_ex(w->c1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(w->c256, EVP_sha256(), NULL) != 1) {
		rc = err_set(e, -ENOMEM, "cannot set up digests");
		goto fail;
	}
	rc = open_tmp(w, e);
	if (rc < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	storage_content_abort(w);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int storage_content_write(struct storage_content_writer *w, const void *data, size_t n,
			  struct err *e)
{
	int rc;

	if (w == NULL || w->fd < 0)
		return err_set(e, -EINVAL, "content writer is not open");
	if (w->overflow)
		return err_set(e, -EFBIG, "payload %s is larger than its declared %lld bytes", w->name,
			       (long long)w->size);
	EVP_DigestUpdate(w->c1, data, n);
	EVP_DigestUpdate(w->c256, data, n);
	rc = write_all(w->fd, data, n);
	if (rc < 0)
		return err_set(e, rc, "cannot write %s: %s", w->tmp, strerror(-rc));
	w->written += (int64_t)n;
	/* Keep the evidence, but stop a sender that never ends (finish quarantines). */
	if (w->size >= 0 && w->written > w->size) {
		w->overflow = 1;
		return err_set(e, -EFBIG, "payload %s is larger than its declared %lld bytes", w->name,
			       (long long)w->size);
	}
	return 0;
}

/* Put a verified temporary file in place and mark the row present. */
static int publish(struct storage_content_writer *w, struct err *e)
{
	struct storage *st = w->st;
	char final[STORAGE_PATH_MAX], bucket[STORAGE_PATH_MAX], old[STORAGE_PATH_MAX], old_ext[10];
	int had_old, rc;

	if (fsync(w->fd) < 0)
		return err_set(e, -errno, "cannot fsync %s: %s", w->tmp, strerror(errno));
	close(w->fd);
	w->fd = -1;
	had_old = present_path(st, w->sha1, old, sizeof(old), old_ext) == 0;
	rc = st_content_file_path(st, w->sha1, w->ext, final, sizeof(final));
	if (rc < 0)
		return err_set(e, rc, "content path too long");
	snprintf(bucket, sizeof(bucket), "%s", final);
	*strrchr(bucket, '/') = '\0';
	if (mkdir(bucket, 0755) == 0)
		wsus_fsync_parent(bucket);
	else if (errno != EEXIST)
		return err_set(e, -errno, "cannot create %s: %s", bucket, strerror(errno));
	if (rename(w->tmp, final) < 0)
		return err_set(e, -errno, "cannot rename %s to %s: %s", w->tmp, final, strerror(errno));
	wsus_fsync_parent(final);
	/* The same bytes under an older extension would be a second copy: drop it. */
	if (had_old && strcmp(old_ext, w->ext) != 0)
		unlink(old);
	return mark_present(st, w->sha1, w->ext, w->written, e);
}

int storage_content_finish(struct storage_content_writer *w, struct err *e)
{
	struct expected want;
	struct digests got = { 0 };
	char reason[256], dest[STORAGE_PATH_MAX], hex[2 * WSUS_SHA1_LEN + 1];
	int rc;

	if (w == NULL || w->fd < 0) {
		storage_content_abort(w);
		return err_set(e, -EINVAL, "content writer is not open");
	}
	EVP_DigestFinal_ex(w->c1, got.sha1, NULL);
	EVP_DigestFinal_ex(w->c256, got.sha256, NULL);
	got.size = w->written;
	got.overflow = w->overflow;
	want.sha1 = w->sha1;
	want.sha256 = w->has_sha256 ? w->sha256 : NULL;
	want.size = w->size;
	compare(&want, &got, reason, sizeof(reason));
	if (reason[0] == '\0') {
		rc = publish(w, e);
		if (rc < 0) {
			unlink(w->tmp); /* fails harmlessly once renamed */
			err_prefix(e, "payload %s", w->name);
		}
		storage_content_abort(w);
		return rc;
	}
	close(w->fd);
	w->fd = -1;
	sha1_hex(w->sha1, hex);
	rc = quarantine_file(w->st, w->tmp, w->sha1, reason, 0, dest, sizeof(dest), e);
	if (rc < 0) {
		unlink(w->tmp);
		err_prefix(e, "payload %s (%s) failed verification (%s), and quarantine failed", w->name,
			   hex, reason);
	} else {
		rc = err_set(e, -EBADMSG, "payload %s (%s) failed verification: %s; quarantined as %s",
			     w->name, hex, reason, dest);
	}
	storage_content_abort(w);
	return rc < 0 ? rc : -EBADMSG;
}

int storage_content_import(struct storage *st, const char *src, const struct wsus_file *f,
			   struct err *e)
{
	struct storage_content_writer *w = NULL;
	char path[STORAGE_PATH_MAX], ext[10];
	char *buf = NULL;
	struct stat sb;
	int fd, rc;
	ssize_t r;

	if (f == NULL || src == NULL)
		return err_set(e, -EINVAL, "no source or file description given");
	if (present_path(st, f->sha1, path, sizeof(path), ext) == 0)
		return 0;
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "cannot open %s: %s", src, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rc = err_set(e, -EINVAL, "%s is not a regular file", src);
		goto out;
	}
	buf = malloc(IO_CHUNK);
	if (buf == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	rc = storage_content_begin(st, f, &w, e);
	if (rc < 0)
		goto out;
	while ((r = read(fd, buf, IO_CHUNK)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(e, -errno, "cannot read %s: %s", src, strerror(errno));
			goto out;
		}
		rc = storage_content_write(w, buf, (size_t)r, e);
		if (rc == -EFBIG)
			break; /* finish quarantines it */
		if (rc < 0)
			goto out;
	}
	rc = storage_content_finish(w, e);
	w = NULL;
out:
	storage_content_abort(w);
	free(buf);
	close(fd);
	return rc;
}

/*---- Verify ----*/

/* A verify run: read-only unless repair (then corrupt files go to quarantine,
 * their rows and those of lost files become 'missing' so the content phase
 * fetches them again at once: the fault is ours, not the upstream's). */
struct vrun {
	struct storage *st;
	int repair;
	storage_verify_fn fn;
	void *ctx;
	struct storage_verify_result *res;
};

struct vfile {
	uint8_t sha1[WSUS_SHA1_LEN];
	uint8_t sha256[WSUS_SHA256_LEN];
	int     has_sha256;
	int64_t size;
	char    ext[10];
};

static const char SQL_VERIFY_PRESENT[] =
	"SELECT sha1, sha256, size, store_ext FROM file WHERE state = 'present'";
static const char SQL_VERIFY_ROW[] =
	"SELECT sha1, sha256, size, store_ext, state = 'present' FROM file WHERE sha1 = ?1";

static void fill_vfile(sqlite3_stmt *s, struct vfile *v)
{
	memset(v, 0, sizeof(*v));
	if (sqlite3_column_bytes(s, 0) == WSUS_SHA1_LEN)
		memcpy(v->sha1, sqlite3_column_blob(s, 0), WSUS_SHA1_LEN);
	if (sqlite3_column_bytes(s, 1) == WSUS_SHA256_LEN) {
		memcpy(v->sha256, sqlite3_column_blob(s, 1), WSUS_SHA256_LEN);
		v->has_sha256 = 1;
	}
	v->size = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 2);
	st_column_copy(s, 3, v->ext, sizeof(v->ext));
}

/* The rows that say present, read whole first: their state changes while we go. */
static int load_present(struct storage *st, struct vfile **out, size_t *n, struct err *e)
{
	struct vfile *v = NULL, *nv;
	size_t cap = 0, cnt = 0;
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_VERIFY_PRESENT, &s, e);

	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				st_stmt_done(s);
				free(v);
				return err_set(e, -ENOMEM, "out of memory");
			}
			v = nv;
		}
		fill_vfile(s, &v[cnt++]);
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list stored files");
	st_stmt_done(s);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void report(struct vrun *vr, const char *kind, const uint8_t sha1[WSUS_SHA1_LEN], const char *path,
		   const char *detail)
{
	char hex[2 * WSUS_SHA1_LEN + 1];

	if (vr->fn == NULL)
		return;
	sha1_hex(sha1, hex);
	vr->fn(vr->ctx, kind, hex, path, detail);
}

/* Hash path against v: good (1), corrupt (0, quarantined when repairing), or
 * an error. *size = bytes read. */
static int check_one(struct vrun *vr, const char *path, const struct vfile *v, int64_t *size, struct err *e)
{
	struct expected want = { v->sha1, v->has_sha256 ? v->sha256 : NULL, v->size };
	struct digests got;
	char reason[256], dest[STORAGE_PATH_MAX];
	int rc = hash_path(path, &got, e);

	if (rc < 0)
		return rc;
	*size = got.size;
	compare(&want, &got, reason, sizeof(reason));
	if (reason[0] == '\0')
		return 1;
	vr->res->corrupt++;
	report(vr, "corrupt", v->sha1, path, reason);
	if (!vr->repair)
		return 0;
	rc = quarantine_file(vr->st, path, v->sha1, reason, 1, dest, sizeof(dest), e);
	if (rc == 0)
		rc = set_state(vr->st, v->sha1, "missing", e);
	if (rc == 0)
		vr->res->quarantined++;
	return rc < 0 ? rc : 0;
}

static int verify_present(struct vrun *vr, struct err *e)
{
	char path[STORAGE_PATH_MAX];
	struct vfile *v = NULL;
	struct stat sb;
	int64_t size;
	size_t n = 0;
	int rc = load_present(vr->st, &v, &n, e);

	for (size_t i = 0; i < n && rc >= 0; i++) {
		rc = st_content_file_path(vr->st, v[i].sha1, v[i].ext, path, sizeof(path));
		if (rc < 0)
			break;
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			vr->res->lost++;
			report(vr, "lost", v[i].sha1, path, "recorded as stored, the file is gone");
			rc = vr->repair ? set_state(vr->st, v[i].sha1, "missing", e) : 0;
			continue;
		}
		vr->res->checked++;
		rc = check_one(vr, path, &v[i], &size, e);
		if (rc == 1)
			vr->res->ok++;
	}
	free(v);
	return rc < 0 ? rc : 0;
}

/* "<40 lower-case hex>" or "<40 hex>.<ext>", in the bucket named after its
 * last two digits, with an extension the store itself would have chosen. */
static int parse_store_name(const char *bucket, const char *name, uint8_t sha1[WSUS_SHA1_LEN],
			    char ext[10])
{
	char hex[2 * WSUS_SHA1_LEN + 1], want_ext[10];

	if (strlen(name) < 40)
		return -1;
	for (int i = 0; i < 40; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return -1;
	memcpy(hex, name, 40);
	hex[40] = '\0';
	if (memcmp(hex + 38, bucket, 2) != 0 || wsus_hex_decode(hex, sha1, WSUS_SHA1_LEN) < 0)
		return -1;
	st_content_ext(name, want_ext);
	if (name[40] != '\0' && strcmp(name + 40, want_ext) != 0)
		return -1;
	snprintf(ext, 10, "%s", name + 40);
	return 0;
}

struct walk_counts {
	int64_t orphans;   /* payload names the catalogue does not list */
	int64_t foreign;   /* anything else */
};

/* One payload file found on disk: adopt it (repair) when its row is not present yet. */
static int walk_entry(struct vrun *vr, const char *path, const uint8_t sha1[WSUS_SHA1_LEN], const char *ext,
		      struct walk_counts *wc, struct err *e)
{
	struct vfile v;
	sqlite3_stmt *s = NULL;
	int64_t size = 0;
	int rc = st_prepare(vr->st, SQL_VERIFY_ROW, &s, e), found, present = 0;

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	found = rc == SQLITE_ROW;
	if (found) {
		fill_vfile(s, &v);
		present = sqlite3_column_int(s, 4);
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : st_sql_err(vr->st, e, rc, "look up file");
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	if (!found || (present && strcmp(v.ext, ext) != 0)) {
		wc->orphans++;
		return 0;
	}
	if (present)
		return 0;      /* checked by verify_present */
	vr->res->checked++;
	snprintf(v.ext, sizeof(v.ext), "%s", ext);
	rc = check_one(vr, path, &v, &size, e);
	if (rc == 1) {
		vr->res->ok++;
		return vr->repair ? mark_present(vr->st, sha1, ext, size, e) : 0;
	}
	return rc;
}

static int walk_bucket(struct vrun *vr, const char *bucket, struct walk_counts *wc, struct err *e)
{
	char dir[STORAGE_PATH_MAX], path[STORAGE_PATH_MAX], ext[10];
	uint8_t sha1[WSUS_SHA1_LEN];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/%s", vr->st->content_dir, bucket);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while (rc >= 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (parse_store_name(bucket, de->d_name, sha1, ext) < 0) {
			wc->foreign++;
			continue;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		rc = walk_entry(vr, path, sha1, ext, wc, e);
	}
	closedir(d);
	return rc;
}

static int walk_store(struct vrun *vr, struct walk_counts *wc, struct err *e)
{
	struct dirent *de;
	DIR *d = opendir(vr->st->content_dir);
	int rc = 0;

	if (d == NULL) {
		if (errno == ENOENT && !vr->repair)
			return 0;   /* nothing stored yet */
		return err_set(e, -errno, "cannot open %s: %s", vr->st->content_dir, strerror(errno));
	}
	while (rc >= 0 && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (n[0] == '.')
			continue;
		if (strlen(n) != 2 || !isxdigit((unsigned char)n[0]) || !isxdigit((unsigned char)n[1]) ||
		    isupper((unsigned char)n[0]) || isupper((unsigned char)n[1])) {
			wc->foreign++;
			continue;
		}
		rc = walk_bucket(vr, n, wc, e);
	}
	closedir(d);
	return rc;
}

static const char SQL_COUNT_MISSING[] = "SELECT count(*) FROM file WHERE state = 'missing'";

int storage_content_verify(struct storage *st, int repair, storage_verify_fn fn, void *ctx,
			   struct storage_verify_result *out, struct err *e)
{
	struct storage_verify_result res = { 0 };
	struct vrun vr = { st, repair, fn, ctx, &res };
	struct walk_counts wc = { 0 };
	int rc;

	rc = verify_present(&vr, e);
	if (rc == 0)
		rc = walk_store(&vr, &wc, e);
	if (rc == 0)
		rc = st_query_int64(st, SQL_COUNT_MISSING, &res.missing, e);
	if (rc < 0)
		return rc;
	log_info("storage", "content verified repair=%s checked=%lld ok=%lld corrupt=%lld quarantined=%lld"
		 " lost=%lld missing=%lld not_in_catalogue=%lld other_entries=%lld", repair ? "yes" : "no",
		 (long long)res.checked, (long long)res.ok, (long long)res.corrupt, (long long)res.quarantined,
		 (long long)res.lost, (long long)res.missing, (long long)wc.orphans, (long long)wc.foreign);
	*out = res;
	return 0;
}

/*---- Quarantined payloads wanted again ----*/

static const char SQL_QUARANTINED[] =
	"SELECT f.sha1, q.path FROM file f JOIN quarantine q ON q.sha1 = f.sha1 WHERE f.state = 'quarantined'"
	" ORDER BY f.sha1";

/* Per payload: whether any of its quarantine files is still there. */
struct qscan {
	uint8_t sha1[WSUS_SHA1_LEN];
	int     kept;
};

static int qscan_add(struct qscan **v, size_t *n, size_t *cap, const uint8_t *sha1, int kept)
{
	struct qscan *nv;

	if (*n > 0 && memcmp((*v)[*n - 1].sha1, sha1, WSUS_SHA1_LEN) == 0) {
		(*v)[*n - 1].kept |= kept;
		return 0;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		nv = realloc(*v, *cap * sizeof(**v));
		if (nv == NULL)
			return -ENOMEM;
		*v = nv;
	}
	memcpy((*v)[*n].sha1, sha1, WSUS_SHA1_LEN);
	(*v)[(*n)++].kept = kept;
	return 0;
}

int storage_content_requeue(struct storage *st, int64_t *requeued, struct err *e)
{
	struct qscan *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	struct stat sb;
	int rc = st_prepare(st, SQL_QUARANTINED, &s, e);

	*requeued = 0;
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(s, 1);

		if (sqlite3_column_bytes(s, 0) != WSUS_SHA1_LEN)
			continue;
		if (qscan_add(&v, &n, &cap, sqlite3_column_blob(s, 0),
			      path != NULL && lstat(path, &sb) == 0) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? err_set(e, -ENOMEM, "out of memory")
							: st_sql_err(st, e, rc, "list quarantined files");
	st_stmt_done(s);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (v[i].kept)
			continue;
		rc = set_state(st, v[i].sha1, "missing", e);
		if (rc == 0)
			(*requeued)++;
	}
	free(v);
	if (rc == 0 && *requeued > 0)
		log_info("storage", "quarantined payloads whose quarantine files are gone are wanted again count=%lld",
			 (long long)*requeued);
	return rc;
}

/*---- Housekeeping ----*/

void st_content_sweep_tmp(struct storage *st)
{
	char path[STORAGE_PATH_MAX];
	time_t cutoff = time(NULL) - TMP_MAX_AGE_S;
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(st->tmp_dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", st->tmp_dir, de->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_mtime < cutoff && unlink(path) == 0)
			log_info("storage", "removed stale temporary file path=%s", path);
	}
	closedir(d);
}
