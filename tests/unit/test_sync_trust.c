/*
 * test_sync_trust.c -- the pin store and the pin decision (sync_trust.c).
 * Groups: 1 certificate facts, 2 loading a store (missing, mixed files,
 * duplicates, expiry, not a directory), 3 pin add / remove, 4 fingerprint
 * prefixes, 5 the decision on a recorded chain (vector table).
 * Certificates are made here with the OpenSSL API, in a mkdtemp directory.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sync_int.h"

static char tmp[64];

/* A self-signed certificate named cn, valid from now+from_days to
 * now+to_days. */
static X509 *mk_cert(const char *cn, long from_days, long to_days)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	static long serial = 1;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	return x;
}

static void sha_hex(X509 *x, char out[SYNC_SHA256_HEX])
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	uint8_t md[WSUS_SHA256_LEN];

	assert_true(n > 0);
	wsus_sha256(der, (size_t)n, md);
	wsus_hex_encode(md, sizeof(md), out);
	OPENSSL_free(der);
}

/* Write the certificates (NULL-terminated) as PEM into dir/name. */
static void write_pem(const char *dir, const char *name, X509 **certs)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (; *certs; certs++)
		assert_int_equal(PEM_write_X509(f, *certs), 1);
	fclose(f);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/wsus-sync-trust.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* A subdirectory of tmp, created empty. */
static const char *subdir(const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", tmp, name);
	assert_int_equal(mkdir(buf, 0755), 0);
	return buf;
}

/* 1.1 certificate facts: subject, issuer, SHA-256 of the DER, notAfter, expiry */
static void test_cert_info(void **state)
{
	X509 *valid = mk_cert("valid.example", -1, 30), *old = mk_cert("old.example", -30, -1);
	struct sync_cert_info ci;
	char want[SYNC_SHA256_HEX];
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(sync_cert_info_from_x509(valid, &ci), 0);
	assert_string_equal(ci.subject, "CN=valid.example");
	assert_string_equal(ci.issuer, "CN=valid.example");
	sha_hex(valid, want);
	assert_string_equal(ci.sha256, want);
	assert_false(ci.expired);
	assert_true(ci.not_after_unix > now + 29 * 86400 && ci.not_after_unix < now + 31 * 86400);
	assert_int_equal(strlen(ci.not_after), 20);
	assert_int_equal(ci.not_after[19], 'Z');
	assert_int_equal(sync_cert_info_from_x509(old, &ci), 0);
	assert_true(ci.expired);
	X509_free(valid);
	X509_free(old);
}

/* 2.1 a missing directory is an empty store; a regular file is refused */
static void test_load_missing_and_file(void **state)
{
	struct sync_pin_store *ps = NULL;
	struct err e = { 0 };
	char dir[256];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/nope", tmp);
	assert_int_equal(sync_pin_store_load(dir, &ps, &e), 0);
	assert_int_equal(sync_pin_store_count(ps), 0);
	assert_int_equal(sync_pin_store_skipped(ps), 0);
	sync_pin_store_free(ps);
	write_text(tmp, "plainfile", "x");
	snprintf(dir, sizeof(dir), "%s/plainfile", tmp);
	ps = NULL;
	assert_int_equal(sync_pin_store_load(dir, &ps, &e), -ENOTDIR);
	assert_null(ps);
	assert_non_null(strstr(e.msg, "plainfile"));
}

/* 2.2 mixed files: PEM certificates load (several per file, key blocks
 * skipped), a file without a certificate is skipped with a warning naming it,
 * hidden files and subdirectories are not read, duplicates count once */
static void test_load_mixed(void **state)
{
	X509 *a = mk_cert("a.example", -1, 30), *b = mk_cert("b.example", -1, 30);
	X509 *c = mk_cert("c.example", -1, 30), *d = mk_cert("hidden.example", -1, 30);
	X509 *one[] = { a, NULL }, *two[] = { b, c, NULL }, *dup[] = { a, NULL }, *hidden[] = { d, NULL };
	struct sync_pin_store *ps = NULL;
	struct err e = { 0 };
	char dir[256], sub[300], ha[SYNC_SHA256_HEX], hb[SYNC_SHA256_HEX], *logtext = NULL;
	size_t loglen = 0;
	FILE *logf = open_memstream(&logtext, &loglen);

	(void)state;
	subdir("mixed", dir, sizeof(dir));
	write_pem(dir, "10-a.pem", one);
	write_pem(dir, "20-bc.crt", two);
	write_pem(dir, "30-a-again.pem", dup);
	write_pem(dir, ".hidden.pem", hidden);
	write_text(dir, "40-notes.txt", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	snprintf(sub, sizeof(sub), "%s/subdir", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	log_set_stream(logf);
	assert_int_equal(sync_pin_store_load(dir, &ps, &e), 0);
	log_set_stream(NULL);
	fclose(logf);
	assert_int_equal(sync_pin_store_count(ps), 3);
	assert_int_equal(sync_pin_store_skipped(ps), 1);
	assert_non_null(strstr(logtext, "warn sync pin store:"));
	assert_non_null(strstr(logtext, "40-notes.txt ignored"));
	sha_hex(a, ha);
	sha_hex(b, hb);
	assert_string_equal(sync_pin_store_at(ps, 0)->cert.sha256, ha);
	assert_string_equal(sync_pin_store_at(ps, 0)->file, "10-a.pem");
	assert_string_equal(sync_pin_store_at(ps, 1)->cert.sha256, hb);
	assert_string_equal(sync_pin_store_at(ps, 2)->cert.subject, "CN=c.example");
	assert_null(sync_pin_store_at(ps, 3));
	/* find is case-insensitive on the hex */
	for (char *p = ha; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	assert_non_null(sync_pin_store_find(ps, ha));
	assert_null(sync_pin_store_find(ps, "00"));
	sync_pin_store_free(ps);
	free(logtext);
	X509_free(a);
	X509_free(b);
	X509_free(c);
	X509_free(d);
}

/* 2.3 an expired pinned certificate loads, flagged, with a warning */
static void test_load_expired(void **state)
{
	X509 *old = mk_cert("expired.example", -60, -2);
	X509 *one[] = { old, NULL };
	struct sync_pin_store *ps = NULL;
	struct err e = { 0 };
	char dir[256], *logtext = NULL;
	size_t loglen = 0;
	FILE *logf = open_memstream(&logtext, &loglen);

	(void)state;
	subdir("expired", dir, sizeof(dir));
	write_pem(dir, "old.pem", one);
	log_set_stream(logf);
	assert_int_equal(sync_pin_store_load(dir, &ps, &e), 0);
	log_set_stream(NULL);
	fclose(logf);
	assert_int_equal(sync_pin_store_count(ps), 1);
	assert_true(sync_pin_store_at(ps, 0)->cert.expired);
	assert_non_null(strstr(logtext, "pinned certificate has expired"));
	sync_pin_store_free(ps);
	free(logtext);
	X509_free(old);
}

/* 3.1 add stores <sha256>.pem (creating the directory), a second add reports
 * it existed; bad inputs are refused; remove takes a prefix with colons */
static void test_add_remove(void **state)
{
	X509 *a = mk_cert("add.example", -1, 30), *b = mk_cert("other.example", -1, 30);
	X509 *one[] = { a, NULL }, *two[] = { a, b, NULL };
	struct sync_cert_info ci;
	struct err e = { 0 };
	char dir[256], src[256], path[400], ha[SYNC_SHA256_HEX], colons[40];
	int existed = -1;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/store/pins", tmp);
	write_pem(tmp, "add.pem", one);
	write_pem(tmp, "two.pem", two);
	write_text(tmp, "junk.pem", "hello\n");
	sha_hex(a, ha);
	snprintf(src, sizeof(src), "%s/add.pem", tmp);
	assert_int_equal(sync_pin_add(dir, src, &ci, &existed, &e), 0);
	assert_int_equal(existed, 0);
	assert_string_equal(ci.sha256, ha);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, ha);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(sync_pin_add(dir, src, &ci, &existed, &e), 0);
	assert_int_equal(existed, 1);
	snprintf(src, sizeof(src), "%s/two.pem", tmp);
	assert_int_equal(sync_pin_add(dir, src, &ci, &existed, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "several certificates"));
	snprintf(src, sizeof(src), "%s/junk.pem", tmp);
	assert_int_equal(sync_pin_add(dir, src, &ci, &existed, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no certificate"));

	/* remove: "AB:CD:EF:01" style prefix, upper case */
	snprintf(colons, sizeof(colons), "%.2s:%.2s:%.2s:%.2s:%.2s", ha, ha + 2, ha + 4, ha + 6, ha + 8);
	for (char *p = colons; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	assert_int_equal(sync_pin_remove(dir, "0000000000", &ci, &e), -ENOENT);
	assert_int_equal(sync_pin_remove(dir, colons, &ci, &e), 0);
	assert_string_equal(ci.sha256, ha);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(sync_pin_remove(dir, colons, &ci, &e), -ENOENT);
	X509_free(a);
	X509_free(b);
}

/* 3.2 remove refuses a file that holds other certificates too, and removes
 * every single-certificate copy of the pin */
static void test_remove_shared_file(void **state)
{
	X509 *a = mk_cert("shared.example", -1, 30), *b = mk_cert("neighbour.example", -1, 30);
	X509 *ab[] = { a, b, NULL }, *one[] = { a, NULL }, *onlyb[] = { b, NULL };
	struct sync_pin_store *ps = NULL;
	struct sync_cert_info ci;
	struct err e = { 0 };
	char dir[256], ha[SYNC_SHA256_HEX], hb[SYNC_SHA256_HEX];

	(void)state;
	subdir("shared", dir, sizeof(dir));
	sha_hex(a, ha);
	sha_hex(b, hb);
	write_pem(dir, "bundle.pem", ab);
	assert_int_equal(sync_pin_remove(dir, ha, &ci, &e), -EBUSY);
	assert_non_null(strstr(e.msg, "bundle.pem"));
	/* two single copies of b plus the bundle: b cannot go either */
	write_pem(dir, "b1.pem", onlyb);
	assert_int_equal(sync_pin_remove(dir, hb, &ci, &e), -EBUSY);
	/* without the bundle both copies of a go at once */
	write_pem(dir, "a1.pem", one);
	write_pem(dir, "a2.pem", one);
	write_pem(dir, "bundle.pem", onlyb);
	assert_int_equal(sync_pin_remove(dir, ha, &ci, &e), 0);
	assert_int_equal(sync_pin_store_load(dir, &ps, &e), 0);
	assert_int_equal(sync_pin_store_count(ps), 1);
	assert_string_equal(sync_pin_store_at(ps, 0)->cert.sha256, hb);
	sync_pin_store_free(ps);
	X509_free(a);
	X509_free(b);
}

/* 4.1 fingerprint prefixes as admins type them */
static void test_prefix(void **state)
{
	static const struct { const char *in; int rc; const char *out; } v[] = {
		{ "0123abcd", 0, "0123abcd" },
		{ "0123ABCDEF", 0, "0123abcdef" },
		{ "01:23:ab:cd", 0, "0123abcd" },
		{ "01:23:ab:cd:", -EINVAL, NULL },   /* trailing colon */
		{ "0:123abcd", -EINVAL, NULL },      /* colon inside a byte */
		{ "01::23abcd", -EINVAL, NULL },
		{ "0123abc", -EINVAL, NULL },        /* 7 digits */
		{ "0123abcg", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
		{ "0000000000000000000000000000000000000000000000000000000000000000", 0,
		  "0000000000000000000000000000000000000000000000000000000000000000" },
		{ "00000000000000000000000000000000000000000000000000000000000000000", -EINVAL, NULL },
	};
	char out[SYNC_SHA256_HEX];
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc = sync_pin_prefix_normalize(v[i].in, out, &e);

		assert_int_equal(rc, v[i].rc);
		if (rc == 0)
			assert_string_equal(out, v[i].out);
	}
}

/* 5.1 the decision: empty store, match at any chain position, no match with
 * and without enforcement, no chain at all */
static void test_decide(void **state)
{
	X509 *leaf = mk_cert("leaf.example", -1, 30), *mid = mk_cert("Mid CA", -1, 30);
	X509 *root = mk_cert("Root CA", -1, 30), *stranger = mk_cert("stranger", -1, 30);
	X509 *pins_leaf[] = { leaf, NULL }, *pins_root[] = { root, NULL }, *pins_other[] = { stranger, NULL };
	struct { const char *dir; int chain_len; int enforce; enum sync_pin_result pin; int allowed;
		 int matched; const char *says; } v[] = {
		{ NULL, 3, 1, SYNC_PIN_STORE_EMPTY, 1, -1, "pin store empty, not enforced: leaf \"CN=leaf.example\"" },
		{ "d-leaf", 3, 1, SYNC_PIN_MATCHED, 1, 0, "pinned certificate in store: yes, matched \"CN=leaf.example\"" },
		{ "d-root", 3, 1, SYNC_PIN_MATCHED, 1, 2, "(chain position 2)" },
		{ "d-root", 2, 1, SYNC_PIN_NOT_PINNED, 0, -1, "certificate not pinned: presented chain [0] CN=leaf.example" },
		{ "d-other", 3, 1, SYNC_PIN_NOT_PINNED, 0, -1, "; pin store has 1 certificate" },
		{ "d-other", 3, 0, SYNC_PIN_NOT_PINNED_ALLOWED, 1, -1, "enforce_pinning = false, proceeding" },
		{ "d-other", 0, 1, SYNC_PIN_UNTRUSTED, 0, -1, "no certificate was presented" },
	};
	X509 *chain[] = { leaf, mid, root };
	char dir[256];

	(void)state;
	subdir("d-leaf", dir, sizeof(dir));
	write_pem(dir, "p.pem", pins_leaf);
	subdir("d-root", dir, sizeof(dir));
	write_pem(dir, "p.pem", pins_root);
	subdir("d-other", dir, sizeof(dir));
	write_pem(dir, "p.pem", pins_other);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sync_trust_verdict vd;
		struct sync_pin_store *ps = NULL;
		struct err e = { 0 };

		memset(&vd, 0, sizeof(vd));
		if (v[i].dir != NULL) {
			snprintf(dir, sizeof(dir), "%s/%s", tmp, v[i].dir);
			assert_int_equal(sync_pin_store_load(dir, &ps, &e), 0);
		}
		for (int k = 0; k < v[i].chain_len; k++)
			assert_int_equal(sync_cert_info_from_x509(chain[k], &vd.chain[k]), 0);
		vd.n_chain = (size_t)v[i].chain_len;
		sync_trust_decide(ps, v[i].enforce, &vd);
		assert_int_equal(vd.pin, v[i].pin);
		assert_int_equal(vd.allowed, v[i].allowed);
		assert_int_equal(vd.matched, v[i].matched);
		assert_int_equal(vd.n_pins, v[i].dir ? 1 : 0);
		if (strstr(vd.line, v[i].says) == NULL)
			fail_msg("case %zu: '%s' not in '%s'", i, v[i].says, vd.line);
		if (v[i].chain_len > 0)
			assert_string_equal(vd.leaf_sha256, vd.chain[0].sha256);
		sync_pin_store_free(ps);
	}
	X509_free(leaf);
	X509_free(mid);
	X509_free(root);
	X509_free(stranger);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_info),
		cmocka_unit_test_setup_teardown(test_load_missing_and_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_shared_file, setup, teardown),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test_setup_teardown(test_decide, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
