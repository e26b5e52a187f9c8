/*
 * test_common_bundle.c -- the signed air-gap bundle file (common_bundle.c).
 * Groups: 1 round trip (records and a raw member read back as written, the
 * manifest's header), 2 every single flipped bit of a small bundle refused
 * at open or check, 3 keys (unknown signer, a public key cannot sign, a
 * non-Ed25519 key), 4 bounds (unsigned trailer, truncation, a record that
 * runs past its member).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common.h"

struct fx {
	char dir[64];
	char priv[128], pub[128], other_pub[128], bundle[128], copy[128];
	struct wsus_bundle_key *sk, *pk, *other;
};

static void write_key(EVP_PKEY *k, const char *priv, const char *pub)
{
	FILE *f = fopen(priv, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	f = fopen(pub, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
}

static EVP_PKEY *ed25519_new(void)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char other_priv[128];
	EVP_PKEY *k;

	snprintf(x->dir, sizeof(x->dir), "/tmp/wsus-bundle.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->priv, sizeof(x->priv), "%s/key.pem", x->dir);
	snprintf(x->pub, sizeof(x->pub), "%s/pub.pem", x->dir);
	snprintf(other_priv, sizeof(other_priv), "%s/other.pem", x->dir);
	snprintf(x->other_pub, sizeof(x->other_pub), "%s/other-pub.pem", x->dir);
	snprintf(x->bundle, sizeof(x->bundle), "%s/b.bundle", x->dir);
	snprintf(x->copy, sizeof(x->copy), "%s/c.bundle", x->dir);
	k = ed25519_new();
	write_key(k, x->priv, x->pub);
	EVP_PKEY_free(k);
	k = ed25519_new();
	write_key(k, other_priv, x->other_pub);
	EVP_PKEY_free(k);
	unlink(other_priv);
	assert_int_equal(wsus_bundle_key_load_private(x->priv, &x->sk, NULL), 0);
	assert_int_equal(wsus_bundle_key_load_public(x->pub, &x->pk, NULL), 0);
	assert_int_equal(wsus_bundle_key_load_public(x->other_pub, &x->other, NULL), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[128];

	wsus_bundle_key_free(x->sk);
	wsus_bundle_key_free(x->pk);
	wsus_bundle_key_free(x->other);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

/* A small bundle: two records in the catalogue member, one raw member. */
static void write_small(const struct fx *x)
{
	struct wsus_bundle_writer *w = NULL;
	struct wsus_bundle_info in = { .sequence = 7, .anchor = 3, .since = 1, .content = 1 };
	const char *f1[] = { "a", "", "with\nnewline" };
	size_t l1[] = { 1, 0, 12 };
	const char bin[] = { 'x', 0, 'y' };
	const char *f2[] = { bin };
	size_t l2[] = { sizeof(bin) };
	struct err e = { 0 };

	strcpy(in.exporter, "0b2f1d9a-0000-4000-8000-000000000001");
	strcpy(in.created, "2026-12-08T00:00:00.000Z");
	assert_int_equal(wsus_bundle_writer_new(x->bundle, &w, &e), 0);
	assert_int_equal(wsus_bundle_member_begin(w, "catalog", "catalog", &e), 0);
	assert_int_equal(wsus_bundle_record_write(w, WSUS_BREC_GROUP, f1, l1, 3, &e), 0);
	assert_int_equal(wsus_bundle_record_write(w, WSUS_BREC_EULA, f2, l2, 1, &e), 0);
	assert_int_equal(wsus_bundle_member_end(w, &e), 0);
	assert_int_equal(wsus_bundle_member_begin(w, "content", "00112233445566778899aabbccddeeff00112233", &e), 0);
	assert_int_equal(wsus_bundle_member_write(w, "payload bytes", 13, &e), 0);
	assert_int_equal(wsus_bundle_member_end(w, &e), 0);
	assert_int_equal(wsus_bundle_writer_finish(w, &in, x->sk, &e), 0);
	wsus_bundle_writer_free(w);
}

static size_t file_size(const char *p)
{
	FILE *f = fopen(p, "rb");
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return (size_t)n;
}

/* open + check with the given keys: 0 or the first error. */
static int open_check(const char *path, struct wsus_bundle_key *k, struct err *e)
{
	struct wsus_bundle_reader *r = NULL;
	int rc = wsus_bundle_open(path, &k, 1, &r, e);

	if (rc == 0)
		rc = wsus_bundle_check(r, e);
	wsus_bundle_close(r);
	return rc;
}

/* 1.1 what was written reads back: header, records (binary-safe), raw member */
static void test_round_trip(void **state)
{
	struct fx *x = *state;
	struct wsus_bundle_reader *r = NULL;
	struct wsus_bundle_record rec;
	struct err e = { 0 };
	char buf[32];
	size_t got = 0;

	write_small(x);
	assert_int_equal(wsus_bundle_open(x->bundle, &x->pk, 1, &r, &e), 0);
	assert_int_equal(wsus_bundle_check(r, &e), 0);
	assert_int_equal(wsus_bundle_info(r)->sequence, 7);
	assert_int_equal(wsus_bundle_info(r)->anchor, 3);
	assert_int_equal(wsus_bundle_info(r)->since, 1);
	assert_string_equal(wsus_bundle_info(r)->exporter, "0b2f1d9a-0000-4000-8000-000000000001");
	assert_string_equal(wsus_bundle_signer(r), wsus_bundle_key_fingerprint(x->pk));
	assert_int_equal(wsus_bundle_member_count(r), 2);
	assert_int_equal(wsus_bundle_member_open(r, 0, &e), 0);
	assert_int_equal(wsus_bundle_record_next(r, &rec, &e), 1);
	assert_int_equal(rec.type, WSUS_BREC_GROUP);
	assert_int_equal(rec.n, 3);
	assert_string_equal(rec.field[0], "a");
	assert_int_equal(rec.len[1], 0);
	assert_string_equal(rec.field[2], "with\nnewline");
	assert_int_equal(wsus_bundle_record_next(r, &rec, &e), 1);
	assert_int_equal(rec.len[0], 3);
	assert_memory_equal(rec.field[0], "x\0y", 3);
	assert_int_equal(wsus_bundle_record_next(r, &rec, &e), 0);
	assert_int_equal(wsus_bundle_member_close(r, &e), 0);
	assert_int_equal(wsus_bundle_member_open(r, 1, &e), 0);
	assert_int_equal(wsus_bundle_member_read(r, buf, sizeof(buf), &got, &e), 0);
	assert_int_equal(got, 13);
	assert_memory_equal(buf, "payload bytes", 13);
	assert_int_equal(wsus_bundle_member_close(r, &e), 0);
	wsus_bundle_close(r);
}

/* 2.1 every bit of every byte: a bundle with one flipped bit never passes */
static void test_every_flip_refused(void **state)
{
	struct fx *x = *state;
	size_t n;
	unsigned char *d;
	FILE *f;

	write_small(x);
	n = file_size(x->bundle);
	d = malloc(n);
	f = fopen(x->bundle, "rb");
	assert_int_equal(fread(d, 1, n, f), n);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct err e = { 0 };

			d[i] ^= (unsigned char)(1u << bit);
			f = fopen(x->copy, "wb");
			assert_int_equal(fwrite(d, 1, n, f), n);
			fclose(f);
			d[i] ^= (unsigned char)(1u << bit);
			if (open_check(x->copy, x->pk, &e) == 0)
				fail_msg("flipped bit %d of byte %zu of %zu passed", bit, i, n);
			assert_true(e.msg[0] != '\0');
		}
	}
	free(d);
	assert_int_equal(open_check(x->bundle, x->pk, NULL), 0);
}

/* 3.1 a bundle signed by another key is refused by name, before any parsing */
static void test_unknown_signer(void **state)
{
	struct fx *x = *state;
	struct err e = { 0 };

	write_small(x);
	assert_int_equal(open_check(x->bundle, x->other, &e), -EKEYREJECTED);
	assert_non_null(strstr(e.msg, wsus_bundle_key_fingerprint(x->pk)));
}

/* 3.2 a public key cannot sign; a non-Ed25519 key is refused on load */
static void test_key_kinds(void **state)
{
	struct fx *x = *state;
	struct wsus_bundle_writer *w = NULL;
	struct wsus_bundle_info in = { .sequence = 1 };
	struct wsus_bundle_key *k = NULL;
	struct err e = { 0 };
	char rsa[160];
	EVP_PKEY *p = EVP_RSA_gen(2048);
	FILE *f;

	assert_int_equal(wsus_bundle_writer_new(x->bundle, &w, &e), 0);
	assert_int_equal(wsus_bundle_writer_finish(w, &in, x->pk, &e), -EINVAL);
	wsus_bundle_writer_free(w);
	assert_int_not_equal(access(x->bundle, F_OK), 0);
	snprintf(rsa, sizeof(rsa), "%s/rsa.pem", x->dir);
	f = fopen(rsa, "w");
	assert_int_equal(PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(p);
	assert_int_equal(wsus_bundle_key_load_private(rsa, &k, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not an Ed25519"));
	assert_null(k);
}

/* 4.1 unsigned (sig_len 0) and truncated files: one clear reason each */
static void test_unsigned_and_truncated(void **state)
{
	struct fx *x = *state;
	struct err e = { 0 };
	size_t n;
	unsigned char *d;
	FILE *f;
	uint64_t moff = 0, mlen = 0;

	write_small(x);
	n = file_size(x->bundle);
	d = malloc(n);
	f = fopen(x->bundle, "rb");
	assert_int_equal(fread(d, 1, n, f), n);
	fclose(f);
	for (int i = 0; i < 8; i++) {
		moff = moff << 8 | d[n - 48 + i];
		mlen = mlen << 8 | d[n - 40 + i];
	}
	/* drop the signature, set sig_len 0 */
	memmove(d + moff + mlen, d + n - 64, 64);
	memset(d + moff + mlen + 12, 0, 4);
	f = fopen(x->copy, "wb");
	assert_int_equal(fwrite(d, 1, moff + mlen + 64, f), moff + mlen + 64);
	fclose(f);
	assert_int_equal(open_check(x->copy, x->pk, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "not signed"));
	f = fopen(x->bundle, "rb");
	assert_int_equal(fread(d, 1, n, f), n);
	fclose(f);
	f = fopen(x->copy, "wb");
	assert_int_equal(fwrite(d, 1, n - 1, f), n - 1);
	fclose(f);
	assert_true(open_check(x->copy, x->pk, &e) < 0);
	free(d);
}

/* 4.2 the writer refuses members and records out of bounds */
static void test_writer_bounds(void **state)
{
	struct fx *x = *state;
	struct wsus_bundle_writer *w = NULL;
	const char *f[WSUS_BUNDLE_MAX_FIELDS + 1] = { 0 };
	size_t l[WSUS_BUNDLE_MAX_FIELDS + 1] = { 0 };

	assert_int_equal(wsus_bundle_writer_new(x->bundle, &w, NULL), 0);
	assert_int_equal(wsus_bundle_member_begin(w, "catalog", "has space", NULL), -EINVAL);
	assert_int_equal(wsus_bundle_member_write(w, "x", 1, NULL), -EINVAL);
	assert_int_equal(wsus_bundle_member_begin(w, "catalog", "catalog", NULL), 0);
	assert_int_equal(wsus_bundle_record_write(w, 1, f, l, WSUS_BUNDLE_MAX_FIELDS + 1, NULL), -EINVAL);
	l[0] = WSUS_BUNDLE_MAX_RECORD;
	f[0] = "";
	assert_int_equal(wsus_bundle_record_write(w, 1, f, l, 1, NULL), -E2BIG);
	wsus_bundle_writer_free(w);
	/* an unfinished writer leaves nothing behind */
	assert_int_not_equal(access(x->bundle, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_flip_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned_and_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_bounds, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
