/*
 * common_bundle.c -- the signed air-gap bundle file (issue 13.5): writing it
 * in one streaming pass, and reading it so that nothing but the signature
 * check touches unauthenticated bytes. The catalogue records inside are
 * opaque here (cli/cmd_export.c writes them, sync/sync_bundle.c reads them).
 *
 * Layout (integers big-endian):
 *
 *   lead      16 bytes  "WSUSBNDL" + u32 format version (1) + u32 0
 *   members   back to back, each exactly as long as the manifest says
 *   manifest  text lines (header lines, then one "member" line per member)
 *   signature Ed25519, sig_len bytes (64; 0 = unsigned, always refused)
 *   trailer   64 bytes  "WSUSBEND" + u32 version + u32 sig_len
 *                       + u64 manifest offset + u64 manifest length
 *                       + 32-byte SHA-256 of the signer's public key (DER)
 *
 * The signature covers lead || trailer || manifest, and the manifest holds
 * the SHA-256, offset and size of every member, the exporter, the sequence
 * number and the anchors. Every byte of the file is therefore signed, hashed
 * by a signed line, or the signature itself; the layout must add up exactly
 * to the file size.
 *
 * Why the manifest is at the end: the exporter streams catalogue and
 * payloads (possibly gigabytes) straight into the file, hashing as it goes,
 * and only then knows the digests; putting the manifest first would mean a
 * second copy of everything. The reader seeks to the fixed-size trailer,
 * reads the bounded manifest and verifies the signature before it parses a
 * single manifest line; then it hashes every member in a streaming pass
 * (wsus_bundle_check) before the caller reads any of them. Memory: the
 * manifest (bounded) and one record (bounded), never a member.
 *
 * Design notes:
 * (1) Keys are Ed25519 (PEM as `openssl genpkey -algorithm ed25519` writes
 *     them); a signer is named by the SHA-256 of its public key's DER
 *     SubjectPublicKeyInfo (`openssl pkey -pubin -outform DER | sha256sum`).
 * (2) A member is read only through wsus_bundle_member_read, which hashes
 *     what it hands out; member_close reports a mismatch (the file changed
 *     after wsus_bundle_check).
 * (3) The writer works on PATH.part and renames it into place only after
 *     the trailer is written and fsynced: a failed export leaves no bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common.h"

#define LEAD_MAGIC     "WSUSBNDL"
#define TRAILER_MAGIC  "WSUSBEND"
#define LEAD_LEN       16
#define TRAILER_LEN    64
#define FORMAT_VERSION 1u
#define SIG_LEN        64
#define IO_CHUNK       (256u * 1024)

struct wsus_bundle_key {
	EVP_PKEY *pkey;
	int       is_private;
	char      fp[2 * WSUS_SHA256_LEN + 1];  /* hex SHA-256 of the public key DER */
	uint8_t   fp_raw[WSUS_SHA256_LEN];
};

struct wsus_bundle_writer {
	FILE       *f;
	char        path[4096];
	char        part[4200];
	uint64_t    off;                 /* bytes written so far */
	EVP_MD_CTX *md;                  /* hashing the open member, NULL when none */
	struct wsus_bundle_member *m;    /* members written (the last one may be open) */
	size_t      n, cap;
	int         finished;
};

struct wsus_bundle_reader {
	FILE       *f;
	uint64_t    size;
	struct wsus_bundle_info info;
	const struct wsus_bundle_key *signer;
	struct wsus_bundle_member *m;
	size_t      n;
	/* the open member */
	long        cur;                 /* index, -1 none */
	uint64_t    left;
	EVP_MD_CTX *md;
	/* record buffer */
	uint8_t    *rec;
	size_t      rec_cap;
};

/*---- Integers ----*/

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/*---- Keys ----*/

static int key_fingerprint(struct wsus_bundle_key *k, struct err *e)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k->pkey, &der);

	if (n <= 0)
		return err_set(e, -EINVAL, "cannot encode the public key");
	wsus_sha256(der, (size_t)n, k->fp_raw);
	OPENSSL_free(der);
	wsus_hex_encode(k->fp_raw, WSUS_SHA256_LEN, k->fp);
	return 0;
}

static int key_load(const char *path, int want_private, struct wsus_bundle_key **out, struct err *e)
{
	struct wsus_bundle_key *k;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return err_set(e, -errno, "cannot open key %s: %s", path, strerror(errno));
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		fclose(f);
		return err_set(e, -ENOMEM, "out of memory");
	}
	k->is_private = want_private;
	k->pkey = want_private ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (k->pkey == NULL || EVP_PKEY_id(k->pkey) != EVP_PKEY_ED25519) {
		wsus_bundle_key_free(k);
		return err_set(e, -EINVAL, "%s is not an Ed25519 %s key in PEM%s", path,
			       want_private ? "private" : "public",
			       want_private ? " (make one with: openssl genpkey -algorithm ed25519 -out KEY.pem)"
					    : " (from the private key: openssl pkey -in KEY.pem -pubout -out PUB.pem)");
	}
	if (key_fingerprint(k, e) < 0) {
		wsus_bundle_key_free(k);
		return -EINVAL;
	}
	*out = k;
	return 0;
}

int wsus_bundle_key_load_private(const char *path, struct wsus_bundle_key **out, struct err *e)
{
	return key_load(path, 1, out, e);
}

int wsus_bundle_key_load_public(const char *path, struct wsus_bundle_key **out, struct err *e)
{
	return key_load(path, 0, out, e);
}

const char *wsus_bundle_key_fingerprint(const struct wsus_bundle_key *k)
{
	return k->fp;
}

void wsus_bundle_key_free(struct wsus_bundle_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/*---- Writing ----*/

static int w_raw(struct wsus_bundle_writer *w, const void *p, size_t n, struct err *e)
{
	if (n > 0 && fwrite(p, 1, n, w->f) != n)
		return err_set(e, -EIO, "cannot write %s: %s", w->part, strerror(errno));
	w->off += n;
	return 0;
}

int wsus_bundle_writer_new(const char *path, struct wsus_bundle_writer **out, struct err *e)
{
	struct wsus_bundle_writer *w = calloc(1, sizeof(*w));
	uint8_t lead[LEAD_LEN] = { 0 };
	int fd;

	if (w == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	if (snprintf(w->path, sizeof(w->path), "%s", path) >= (int)sizeof(w->path)) {
		free(w);
		return err_set(e, -ENAMETOOLONG, "bundle path too long");
	}
	snprintf(w->part, sizeof(w->part), "%s.part", path);
	fd = open(w->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		w->f = fdopen(fd, "wb");
	if (w->f == NULL) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		free(w);
		return err_set(e, -err, "cannot create %s.part: %s", path, strerror(err));
	}
	memcpy(lead, LEAD_MAGIC, 8);
	put_u32(lead + 8, FORMAT_VERSION);
	*out = w;
	return w_raw(w, lead, sizeof(lead), e);
}

int wsus_bundle_member_begin(struct wsus_bundle_writer *w, const char *kind, const char *name, struct err *e)
{
	struct wsus_bundle_member *m;

	if (w->md != NULL)
		return err_set(e, -EINVAL, "a bundle member is still open");
	if (strlen(kind) >= sizeof(m->kind) || strlen(name) >= sizeof(m->name) || strpbrk(name, " \n") ||
	    strpbrk(kind, " \n") || kind[0] == '\0' || name[0] == '\0')
		return err_set(e, -EINVAL, "bad bundle member name %s %s", kind, name);
	if (w->n >= WSUS_BUNDLE_MAX_MEMBERS)
		return err_set(e, -E2BIG, "more than %d bundle members", WSUS_BUNDLE_MAX_MEMBERS);
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct wsus_bundle_member *nv = realloc(w->m, cap * sizeof(*nv));

		if (nv == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		w->m = nv;
		w->cap = cap;
	}
	m = &w->m[w->n];
	memset(m, 0, sizeof(*m));
	snprintf(m->kind, sizeof(m->kind), "%s", kind);
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->offset = w->off;
	w->md = EVP_MD_CTX_new();
	if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(w->md);
		w->md = NULL;
		return err_set(e, -ENOMEM, "cannot start SHA-256");
	}
	return 0;
}

int wsus_bundle_member_write(struct wsus_bundle_writer *w, const void *data, size_t n, struct err *e)
{
	if (w->md == NULL)
		return err_set(e, -EINVAL, "no bundle member is open");
	if (EVP_DigestUpdate(w->md, data, n) != 1)
		return err_set(e, -EIO, "SHA-256 failed");
	return w_raw(w, data, n, e);
}

int wsus_bundle_record_write(struct wsus_bundle_writer *w, int type, const char *const *fields,
			     const size_t *lens, size_t n, struct err *e)
{
	uint8_t hdr[6], len4[4];
	uint64_t total = 0;
	int rc;

	if (n > WSUS_BUNDLE_MAX_FIELDS || type < 1 || type > 255)
		return err_set(e, -EINVAL, "bad bundle record");
	for (size_t i = 0; i < n; i++)
		total += 4 + (uint64_t)lens[i];
	if (total > WSUS_BUNDLE_MAX_RECORD)
		return err_set(e, -E2BIG, "bundle record larger than %u bytes", WSUS_BUNDLE_MAX_RECORD);
	hdr[0] = (uint8_t)type;
	hdr[1] = (uint8_t)n;
	put_u32(hdr + 2, (uint32_t)total);
	rc = wsus_bundle_member_write(w, hdr, sizeof(hdr), e);
	for (size_t i = 0; i < n && rc == 0; i++) {
		put_u32(len4, (uint32_t)lens[i]);
		rc = wsus_bundle_member_write(w, len4, 4, e);
		if (rc == 0)
			rc = wsus_bundle_member_write(w, fields[i] ? fields[i] : "", lens[i], e);
	}
	return rc;
}

int wsus_bundle_member_end(struct wsus_bundle_writer *w, struct err *e)
{
	struct wsus_bundle_member *m = &w->m[w->n];
	unsigned int len = 0;
	int ok;

	if (w->md == NULL)
		return err_set(e, -EINVAL, "no bundle member is open");
	ok = EVP_DigestFinal_ex(w->md, m->sha256, &len) == 1 && len == WSUS_SHA256_LEN;
	EVP_MD_CTX_free(w->md);
	w->md = NULL;
	if (!ok)
		return err_set(e, -EIO, "SHA-256 failed");
	m->size = w->off - m->offset;
	w->n++;
	return 0;
}

static int manifest_build(const struct wsus_bundle_writer *w, const struct wsus_bundle_info *info,
			  struct wsus_buf *b)
{
	char hex[2 * WSUS_SHA256_LEN + 1];
	int rc = wsus_buf_printf(b, "wsus-replica-bundle %u\nexporter %s\nsequence %" PRIu64 "\nanchor %" PRId64
				 "\nsince %" PRId64 "\ncontent %d\ncreated %s\nmembers %zu\n", FORMAT_VERSION,
				 info->exporter, info->sequence, info->anchor, info->since, info->content != 0,
				 info->created, w->n);

	for (size_t i = 0; i < w->n && rc == 0; i++) {
		wsus_hex_encode(w->m[i].sha256, WSUS_SHA256_LEN, hex);
		rc = wsus_buf_printf(b, "member %s %s %" PRIu64 " %" PRIu64 " %s\n", w->m[i].kind, w->m[i].name,
				     w->m[i].offset, w->m[i].size, hex);
	}
	return rc;
}

static int sign(const struct wsus_bundle_key *k, const uint8_t *lead, const uint8_t *trailer,
		const struct wsus_buf *manifest, uint8_t sig[SIG_LEN], struct err *e)
{
	size_t n = LEAD_LEN + TRAILER_LEN + manifest->len, sl = SIG_LEN;
	uint8_t *msg = malloc(n);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (msg == NULL || ctx == NULL) {
		free(msg);
		EVP_MD_CTX_free(ctx);
		return err_set(e, -ENOMEM, "out of memory");
	}
	memcpy(msg, lead, LEAD_LEN);
	memcpy(msg + LEAD_LEN, trailer, TRAILER_LEN);
	memcpy(msg + LEAD_LEN + TRAILER_LEN, manifest->data, manifest->len);
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	     EVP_DigestSign(ctx, sig, &sl, msg, n) == 1 && sl == SIG_LEN;
	EVP_MD_CTX_free(ctx);
	free(msg);
	return ok ? 0 : err_set(e, -EINVAL, "Ed25519 signing failed");
}

static void lead_bytes(uint8_t lead[LEAD_LEN])
{
	memset(lead, 0, LEAD_LEN);
	memcpy(lead, LEAD_MAGIC, 8);
	put_u32(lead + 8, FORMAT_VERSION);
}

static void trailer_bytes(uint8_t t[TRAILER_LEN], uint32_t sig_len, uint64_t moff, uint64_t mlen,
			  const uint8_t fp[WSUS_SHA256_LEN])
{
	memcpy(t, TRAILER_MAGIC, 8);
	put_u32(t + 8, FORMAT_VERSION);
	put_u32(t + 12, sig_len);
	put_u64(t + 16, moff);
	put_u64(t + 24, mlen);
	memcpy(t + 32, fp, WSUS_SHA256_LEN);
}

int wsus_bundle_writer_finish(struct wsus_bundle_writer *w, const struct wsus_bundle_info *info,
			      const struct wsus_bundle_key *key, struct err *e)
{
	uint8_t lead[LEAD_LEN], trailer[TRAILER_LEN], sig[SIG_LEN];
	struct wsus_buf man;
	uint64_t moff = w->off;
	int rc;

	if (w->md != NULL)
		return err_set(e, -EINVAL, "a bundle member is still open");
	if (!key->is_private)
		return err_set(e, -EINVAL, "signing needs the private key");
	wsus_buf_init(&man, WSUS_BUNDLE_MAX_MANIFEST);
	rc = manifest_build(w, info, &man);
	if (rc < 0) {
		wsus_buf_free(&man);
		return err_set(e, rc, "bundle manifest larger than %u bytes", WSUS_BUNDLE_MAX_MANIFEST);
	}
	lead_bytes(lead);
	trailer_bytes(trailer, SIG_LEN, moff, man.len, key->fp_raw);
	rc = sign(key, lead, trailer, &man, sig, e);
	if (rc == 0)
		rc = w_raw(w, man.data, man.len, e);
	wsus_buf_free(&man);
	if (rc == 0)
		rc = w_raw(w, sig, SIG_LEN, e);
	if (rc == 0)
		rc = w_raw(w, trailer, TRAILER_LEN, e);
	if (rc == 0 && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
		rc = err_set(e, -EIO, "cannot write %s: %s", w->part, strerror(errno));
	if (rc == 0 && fclose(w->f) != 0)
		rc = err_set(e, -EIO, "cannot close %s: %s", w->part, strerror(errno));
	if (rc == 0)
		w->f = NULL;
	if (rc == 0 && rename(w->part, w->path) != 0)
		rc = err_set(e, -errno, "cannot rename %s: %s", w->part, strerror(errno));
	if (rc == 0) {
		wsus_fsync_parent(w->path);
		w->finished = 1;
	}
	return rc;
}

uint64_t wsus_bundle_writer_size(const struct wsus_bundle_writer *w)
{
	return w->off;
}

void wsus_bundle_writer_free(struct wsus_bundle_writer *w)
{
	if (w == NULL)
		return;
	if (w->f != NULL)
		fclose(w->f);
	if (!w->finished)
		unlink(w->part);
	EVP_MD_CTX_free(w->md);
	free(w->m);
	free(w);
}

/*---- Reading: the signed part ----*/

static int r_at(struct wsus_bundle_reader *r, uint64_t off, void *buf, size_t n, struct err *e)
{
	if (fseeko(r->f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, n, r->f) != n)
		return err_set(e, -EIO, "cannot read the bundle: %s", ferror(r->f) ? strerror(errno) : "short file");
	return 0;
}

static int verify(const struct wsus_bundle_key *k, const uint8_t *lead, const uint8_t *trailer,
		  const char *man, size_t man_len, const uint8_t *sig, struct err *e)
{
	size_t n = LEAD_LEN + TRAILER_LEN + man_len;
	uint8_t *msg = malloc(n);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (msg == NULL || ctx == NULL) {
		free(msg);
		EVP_MD_CTX_free(ctx);
		return err_set(e, -ENOMEM, "out of memory");
	}
	memcpy(msg, lead, LEAD_LEN);
	memcpy(msg + LEAD_LEN, trailer, TRAILER_LEN);
	memcpy(msg + LEAD_LEN + TRAILER_LEN, man, man_len);
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	     EVP_DigestVerify(ctx, sig, SIG_LEN, msg, n) == 1;
	EVP_MD_CTX_free(ctx);
	free(msg);
	return ok ? 0 : err_set(e, -EBADMSG, "bundle signature does not verify with key %s: the bundle was"
				" altered or damaged after it was signed", k->fp);
}

/* The fixed parts: lead, trailer, layout; *man_off, *man_len, *sig_len. */
static int read_frame(struct wsus_bundle_reader *r, uint8_t lead[LEAD_LEN], uint8_t trailer[TRAILER_LEN],
		      struct err *e)
{
	struct stat sb;
	uint64_t moff, mlen, slen;

	if (fstat(fileno(r->f), &sb) != 0 || !S_ISREG(sb.st_mode))
		return err_set(e, -EINVAL, "not a regular file");
	r->size = (uint64_t)sb.st_size;
	if (r->size < LEAD_LEN + TRAILER_LEN)
		return err_set(e, -EBADMSG, "not a wsus-replica bundle (too short)");
	if (r_at(r, 0, lead, LEAD_LEN, e) < 0 || r_at(r, r->size - TRAILER_LEN, trailer, TRAILER_LEN, e) < 0)
		return -EIO;
	if (memcmp(lead, LEAD_MAGIC, 8) != 0 || get_u32(lead + 8) != FORMAT_VERSION || get_u32(lead + 12) != 0)
		return err_set(e, -EBADMSG, "not a wsus-replica bundle of format %u (damaged start)", FORMAT_VERSION);
	if (memcmp(trailer, TRAILER_MAGIC, 8) != 0 || get_u32(trailer + 8) != FORMAT_VERSION)
		return err_set(e, -EBADMSG, "damaged bundle: the trailer at its end is not intact (truncated or"
			       " altered)");
	slen = get_u32(trailer + 12);
	if (slen == 0)
		return err_set(e, -EBADMSG, "bundle is not signed: refused (export signs with --key)");
	moff = get_u64(trailer + 16);
	mlen = get_u64(trailer + 24);
	if (slen != SIG_LEN || mlen == 0 || mlen > WSUS_BUNDLE_MAX_MANIFEST || moff < LEAD_LEN ||
	    moff > r->size || r->size - moff != mlen + slen + TRAILER_LEN)
		return err_set(e, -EBADMSG, "damaged bundle: its layout does not add up to its size");
	r->info.manifest_offset = moff;
	r->info.manifest_len = mlen;
	return 0;
}

static const struct wsus_bundle_key *find_key(const uint8_t fp[WSUS_SHA256_LEN],
					      struct wsus_bundle_key *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i] != NULL && memcmp(keys[i]->fp_raw, fp, WSUS_SHA256_LEN) == 0)
			return keys[i];
	return NULL;
}

/*---- Reading: the manifest (only after the signature verified) ----*/

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int header_line(struct wsus_bundle_info *in, const char *key, const char *val)
{
	uint64_t v;

	if (strcmp(key, "exporter") == 0)
		return wsus_guid_normalize(val, in->exporter);
	if (strcmp(key, "created") == 0)
		return snprintf(in->created, sizeof(in->created), "%s", val) >= (int)sizeof(in->created) ? -EINVAL : 0;
	if (parse_u64(val, &v) < 0 || v > INT64_MAX)
		return -EINVAL;
	if (strcmp(key, "sequence") == 0)
		in->sequence = v;
	else if (strcmp(key, "anchor") == 0)
		in->anchor = (int64_t)v;
	else if (strcmp(key, "since") == 0)
		in->since = (int64_t)v;
	else if (strcmp(key, "content") == 0)
		in->content = v != 0;
	else if (strcmp(key, "members") == 0)
		in->members = v;
	/* unknown header lines are ignored: a later format may add some */
	return 0;
}

static int member_line(struct wsus_bundle_reader *r, char *rest, uint64_t *expect)
{
	char *kind = strtok(rest, " "), *name = strtok(NULL, " "), *off = strtok(NULL, " ");
	char *size = strtok(NULL, " "), *hex = strtok(NULL, " ");
	struct wsus_bundle_member *m;

	if (hex == NULL || strtok(NULL, " ") != NULL || r->n >= r->info.members)
		return -EINVAL;
	m = &r->m[r->n];
	if (snprintf(m->kind, sizeof(m->kind), "%s", kind) >= (int)sizeof(m->kind) ||
	    snprintf(m->name, sizeof(m->name), "%s", name) >= (int)sizeof(m->name) ||
	    parse_u64(off, &m->offset) < 0 || parse_u64(size, &m->size) < 0 || strlen(hex) != 64 ||
	    wsus_hex_decode(hex, m->sha256, WSUS_SHA256_LEN) < 0)
		return -EINVAL;
	/* contiguous, in order, inside the member area */
	if (m->offset != *expect || m->size > r->info.manifest_offset - m->offset)
		return -EINVAL;
	*expect = m->offset + m->size;
	r->n++;
	return 0;
}

static int parse_manifest(struct wsus_bundle_reader *r, char *man, struct err *e)
{
	uint64_t expect = LEAD_LEN;
	int line = 0;

	for (char *p = man, *nl; *p; p = nl + 1) {
		char *sp;
		int rc;

		nl = strchr(p, '\n');
		if (nl == NULL)
			return err_set(e, -EBADMSG, "bundle manifest: last line not terminated");
		*nl = '\0';
		line++;
		sp = strchr(p, ' ');
		if (sp == NULL)
			return err_set(e, -EBADMSG, "bundle manifest: line %d has no value", line);
		*sp = '\0';
		if (line == 1) {
			if (strcmp(p, "wsus-replica-bundle") != 0 || strcmp(sp + 1, "1") != 0)
				return err_set(e, -EBADMSG, "bundle manifest: unknown format");
			continue;
		}
		if (strcmp(p, "member") == 0) {
			if (r->m == NULL) {
				if (r->info.members == 0 || r->info.members > WSUS_BUNDLE_MAX_MEMBERS)
					return err_set(e, -EBADMSG, "bundle manifest: bad member count");
				r->m = calloc(r->info.members, sizeof(*r->m));
				if (r->m == NULL)
					return err_set(e, -ENOMEM, "out of memory");
			}
			rc = member_line(r, sp + 1, &expect);
		} else {
			rc = header_line(&r->info, p, sp + 1);
		}
		if (rc < 0)
			return err_set(e, -EBADMSG, "bundle manifest: line %d (%s) is malformed", line, p);
	}
	if (r->n != r->info.members || expect != r->info.manifest_offset || r->info.exporter[0] == '\0' ||
	    r->info.sequence == 0)
		return err_set(e, -EBADMSG, "bundle manifest: incomplete (members, exporter or sequence)");
	return 0;
}

int wsus_bundle_open(const char *path, struct wsus_bundle_key *const *keys, size_t n_keys,
		     struct wsus_bundle_reader **out, struct err *e)
{
	uint8_t lead[LEAD_LEN], trailer[TRAILER_LEN], sig[SIG_LEN];
	struct wsus_bundle_reader *r = calloc(1, sizeof(*r));
	char *man = NULL;
	char fp[2 * WSUS_SHA256_LEN + 1];
	int rc;

	if (r == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	r->cur = -1;
	r->f = fopen(path, "rb");
	if (r->f == NULL) {
		rc = err_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = read_frame(r, lead, trailer, e);
	if (rc < 0)
		goto fail;
	r->signer = find_key(trailer + 32, keys, n_keys);
	if (r->signer == NULL) {
		wsus_hex_encode(trailer + 32, WSUS_SHA256_LEN, fp);
		rc = err_set(e, -EKEYREJECTED, "bundle is signed by an unknown key %s (not a trusted signer)", fp);
		goto fail;
	}
	man = malloc(r->info.manifest_len + 1);
	if (man == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = r_at(r, r->info.manifest_offset, man, r->info.manifest_len, e);
	if (rc == 0)
		rc = r_at(r, r->info.manifest_offset + r->info.manifest_len, sig, SIG_LEN, e);
	if (rc == 0)
		rc = verify(r->signer, lead, trailer, man, r->info.manifest_len, sig, e);
	if (rc < 0)
		goto fail;
	/* From here on the bytes are the signer's. */
	man[r->info.manifest_len] = '\0';
	if (strlen(man) != r->info.manifest_len) {
		rc = err_set(e, -EBADMSG, "bundle manifest contains a NUL byte");
		goto fail;
	}
	rc = parse_manifest(r, man, e);
	if (rc < 0)
		goto fail;
	free(man);
	*out = r;
	return 0;
fail:
	free(man);
	wsus_bundle_close(r);
	return rc;
}

const struct wsus_bundle_info *wsus_bundle_info(const struct wsus_bundle_reader *r)
{
	return &r->info;
}

const char *wsus_bundle_signer(const struct wsus_bundle_reader *r)
{
	return r->signer->fp;
}

const struct wsus_bundle_member *wsus_bundle_member(const struct wsus_bundle_reader *r, size_t i)
{
	return i < r->n ? &r->m[i] : NULL;
}

size_t wsus_bundle_member_count(const struct wsus_bundle_reader *r)
{
	return r->n;
}

/*---- Reading: members ----*/

int wsus_bundle_member_open(struct wsus_bundle_reader *r, size_t i, struct err *e)
{
	if (i >= r->n)
		return err_set(e, -EINVAL, "no bundle member %zu", i);
	if (r->md == NULL)
		r->md = EVP_MD_CTX_new();
	if (r->md == NULL || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1)
		return err_set(e, -ENOMEM, "cannot start SHA-256");
	if (fseeko(r->f, (off_t)r->m[i].offset, SEEK_SET) != 0)
		return err_set(e, -EIO, "cannot seek in the bundle: %s", strerror(errno));
	r->cur = (long)i;
	r->left = r->m[i].size;
	return 0;
}

int wsus_bundle_member_read(struct wsus_bundle_reader *r, void *buf, size_t cap, size_t *got, struct err *e)
{
	size_t want = r->left < cap ? (size_t)r->left : cap;

	*got = 0;
	if (r->cur < 0)
		return err_set(e, -EINVAL, "no bundle member is open");
	if (want == 0)
		return 0;
	if (fread(buf, 1, want, r->f) != want)
		return err_set(e, -EIO, "cannot read the bundle: %s", ferror(r->f) ? strerror(errno) : "short file");
	if (EVP_DigestUpdate(r->md, buf, want) != 1)
		return err_set(e, -EIO, "SHA-256 failed");
	r->left -= want;
	*got = want;
	return 0;
}

int wsus_bundle_member_close(struct wsus_bundle_reader *r, struct err *e)
{
	uint8_t buf[64 * 1024], d[WSUS_SHA256_LEN];
	const struct wsus_bundle_member *m;
	unsigned int len = 0;
	size_t got = 1;
	int rc = 0;

	if (r->cur < 0)
		return 0;
	m = &r->m[r->cur];
	while (r->left > 0 && got > 0 && rc == 0)
		rc = wsus_bundle_member_read(r, buf, sizeof(buf), &got, e);
	r->cur = -1;
	if (rc < 0)
		return rc;
	if (EVP_DigestFinal_ex(r->md, d, &len) != 1 || memcmp(d, m->sha256, WSUS_SHA256_LEN) != 0)
		return err_set(e, -EBADMSG, "bundle member %s %s does not match its signed SHA-256: the bundle was"
			       " altered or damaged", m->kind, m->name);
	return 0;
}

int wsus_bundle_check(struct wsus_bundle_reader *r, struct err *e)
{
	int rc = 0;

	for (size_t i = 0; i < r->n && rc == 0; i++) {
		rc = wsus_bundle_member_open(r, i, e);
		if (rc == 0)
			rc = wsus_bundle_member_close(r, e);
	}
	return rc;
}

/* Read exactly n bytes of the open member; -EBADMSG when it ends first. */
static int read_exact(struct wsus_bundle_reader *r, void *buf, size_t n, struct err *e)
{
	size_t got = 0;
	int rc;

	if (n > r->left)
		return err_set(e, -EBADMSG, "bundle member %s: a record runs past its end", r->m[r->cur].name);
	rc = wsus_bundle_member_read(r, buf, n, &got, e);
	return rc < 0 ? rc : got == n ? 0 : err_set(e, -EIO, "short read");
}

int wsus_bundle_record_next(struct wsus_bundle_reader *r, struct wsus_bundle_record *rec, struct err *e)
{
	uint8_t hdr[6];
	uint32_t total, used = 0;
	uint8_t *p;
	int rc;

	if (r->cur < 0)
		return err_set(e, -EINVAL, "no bundle member is open");
	if (r->left == 0)
		return 0;
	rc = read_exact(r, hdr, sizeof(hdr), e);
	if (rc < 0)
		return rc;
	total = get_u32(hdr + 2);
	if (hdr[0] == 0 || hdr[1] > WSUS_BUNDLE_MAX_FIELDS || total > WSUS_BUNDLE_MAX_RECORD)
		return err_set(e, -EBADMSG, "bundle record out of bounds");
	/* room for a NUL after every field */
	if (r->rec_cap < (size_t)total + WSUS_BUNDLE_MAX_FIELDS) {
		uint8_t *nb = realloc(r->rec, (size_t)total + WSUS_BUNDLE_MAX_FIELDS);

		if (nb == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		r->rec = nb;
		r->rec_cap = (size_t)total + WSUS_BUNDLE_MAX_FIELDS;
	}
	memset(rec, 0, sizeof(*rec));
	rec->type = hdr[0];
	rec->n = hdr[1];
	p = r->rec;
	for (size_t i = 0; i < rec->n; i++) {
		uint8_t l4[4];
		uint32_t len;

		if (total - used < 4)
			return err_set(e, -EBADMSG, "bundle record fields overrun it");
		rc = read_exact(r, l4, 4, e);
		len = get_u32(l4);
		used += 4;
		if (rc == 0 && len > total - used)
			rc = err_set(e, -EBADMSG, "bundle record fields overrun it");
		if (rc == 0)
			rc = read_exact(r, p, len, e);
		if (rc < 0)
			return rc;
		p[len] = '\0';
		rec->field[i] = (const char *)p;
		rec->len[i] = len;
		p += len + 1;
		used += len;
	}
	if (used != total)
		return err_set(e, -EBADMSG, "bundle record length does not match its fields");
	return 1;
}

void wsus_bundle_close(struct wsus_bundle_reader *r)
{
	if (r == NULL)
		return;
	if (r->f != NULL)
		fclose(r->f);
	EVP_MD_CTX_free(r->md);
	free(r->m);
	free(r->rec);
	free(r);
}
