/*
 * test_server_tls.c -- the front end's certificate: generated on first start
 * under DATADIR/tls/ with a private key file, kept across restarts, names in
 * its SAN; a configured pair is used as it is; fingerprints are the SHA-256
 * of the DER. Groups: 1 generation, 2 configured certificates, 3 priorities.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "server.h"
#include "server_int.h"

struct fixture {
	char dir[64];
	struct wsus_config *cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct err e = { 0 };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/wsus-srvtls.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_default(f->dir, &f->cfg, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static X509 *read_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

/* The fingerprint as OpenSSL computes it over the DER encoding. */
static void openssl_fp(X509 *x, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	assert_int_equal(n, 32);
	wsus_hex_encode(md, n, out);
}

static int san_has(X509 *x, int type, const char *dns, const unsigned char *ip, int iplen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int found = 0;

	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != type)
			continue;
		if (type == GEN_DNS && strcmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), dns) == 0)
			found = 1;
		if (type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == iplen
		    && memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)iplen) == 0)
			found = 1;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

/* 1.1 first start generates an EC key (0600) and a certificate whose
 * fingerprint is the SHA-256 of its DER; a second call keeps them;
 * server_tls_fingerprint only reads, and finds nothing before */
static void test_generate_once(void **state)
{
	struct fixture *f = *state;
	struct err e = { 0 };
	char fp1[65], fp2[65], want[65], crt[128], key[128];
	struct stat sb;
	X509 *x;
	EVP_PKEY *pk;

	assert_int_equal(server_tls_fingerprint(f->cfg, fp1, &e), -ENOENT);
	snprintf(crt, sizeof(crt), "%s/tls", f->dir);
	assert_int_equal(access(crt, F_OK), -1);       /* looking created nothing */
	assert_int_equal(server_tls_ensure(f->cfg, fp1, &e), 0);
	snprintf(crt, sizeof(crt), "%s/tls/server.crt", f->dir);
	snprintf(key, sizeof(key), "%s/tls/server.key", f->dir);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	x = read_cert(crt);
	openssl_fp(x, want);
	assert_string_equal(fp1, want);
	pk = X509_get0_pubkey(x);
	assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(pk), 256);
	/* about ten years, and already valid an hour ago */
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &(time_t){ time(NULL) + 3649L * 86400 }) > 0);
	assert_true(X509_cmp_time(X509_get0_notBefore(x), &(time_t){ time(NULL) - 1800 }) < 0);
	X509_free(x);

	assert_int_equal(server_tls_ensure(f->cfg, fp2, &e), 0);
	assert_string_equal(fp1, fp2);
	assert_int_equal(server_tls_fingerprint(f->cfg, fp2, &e), 0);
	assert_string_equal(fp1, fp2);
}

/* 1.2 the SAN names the listen address, localhost and the loopbacks; the
 * certificate is an end entity for serverAuth */
static void test_generate_names(void **state)
{
	struct fixture *f = *state;
	struct err e = { 0 };
	static const unsigned char v4[4] = { 10, 1, 2, 3 }, lo[4] = { 127, 0, 0, 1 };
	unsigned char v6lo[16] = { 0 };
	char fp[65], crt[128];
	X509 *x;

	v6lo[15] = 1;
	free(f->cfg->srv_listen);
	f->cfg->srv_listen = strdup("10.1.2.3:8531");
	f->cfg->srv_public_url = strdup("https://wsus.example.org:8531/");
	assert_int_equal(server_tls_ensure(f->cfg, fp, &e), 0);
	snprintf(crt, sizeof(crt), "%s/tls/server.crt", f->dir);
	x = read_cert(crt);
	assert_true(san_has(x, GEN_DNS, "wsus.example.org", NULL, 0));
	assert_true(san_has(x, GEN_DNS, "localhost", NULL, 0));
	assert_true(san_has(x, GEN_IPADD, NULL, v4, 4));
	assert_true(san_has(x, GEN_IPADD, NULL, lo, 4));
	assert_true(san_has(x, GEN_IPADD, NULL, v6lo, 16));
	assert_int_equal(X509_check_host(x, "wsus.example.org", 0, 0, NULL), 1);
	assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	assert_int_equal(X509_check_ca(x), 0);
	X509_free(x);
}

/* 1.3 a certificate without its key (or the reverse) is an error, never
 * silently replaced */
static void test_half_pair_refused(void **state)
{
	struct fixture *f = *state;
	struct err e = { 0 };
	char fp[65], key[128];

	assert_int_equal(server_tls_ensure(f->cfg, fp, &e), 0);
	snprintf(key, sizeof(key), "%s/tls/server.key", f->dir);
	assert_int_equal(unlink(key), 0);
	assert_int_equal(server_tls_ensure(f->cfg, fp, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "server.key"));
}

/* 2.1 a configured pair is read, not generated; load returns both PEMs */
static void test_configured_pair(void **state)
{
	struct fixture *f = *state;
	struct wsus_config *other;
	struct err e = { 0 };
	char fp[65], fp2[65], want[65], sub[96], crt[160];
	char *cert = NULL, *key = NULL;
	X509 *x;

	/* make a pair elsewhere, then point the configuration at it */
	snprintf(sub, sizeof(sub), "%s/elsewhere", f->dir);
	assert_int_equal(config_default(sub, &other, &e), 0);
	assert_int_equal(server_tls_ensure(other, want, &e), 0);
	config_free(other);
	snprintf(crt, sizeof(crt), "%s/tls/server.crt", sub);
	f->cfg->srv_tls_cert = strdup(crt);
	snprintf(crt, sizeof(crt), "%s/tls/server.key", sub);
	f->cfg->srv_tls_key = strdup(crt);
	assert_int_equal(server_tls_ensure(f->cfg, fp, &e), 0);
	assert_string_equal(fp, want);
	snprintf(crt, sizeof(crt), "%s/tls", f->dir);
	assert_int_equal(access(crt, F_OK), -1);       /* nothing generated */

	assert_int_equal(server_tls_load(f->cfg, &cert, &key, fp2, &e), 0);
	assert_string_equal(fp2, want);
	assert_non_null(strstr(cert, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(key, "PRIVATE KEY"));
	assert_int_equal(server_tls_pem_fp(cert, strlen(cert), fp2, &e), 0);
	assert_string_equal(fp2, want);
	x = read_cert(f->cfg->srv_tls_cert);
	openssl_fp(x, fp2);
	assert_string_equal(fp2, want);
	X509_free(x);
	free(cert);
	free(key);
}

/* 2.2 a configured certificate that is not PEM is an error naming the file */
static void test_configured_garbage(void **state)
{
	struct fixture *f = *state;
	struct err e = { 0 };
	char path[128], fp[65];
	FILE *fp_out;

	snprintf(path, sizeof(path), "%s/bad.crt", f->dir);
	fp_out = fopen(path, "w");
	assert_non_null(fp_out);
	fputs("not a certificate\n", fp_out);
	fclose(fp_out);
	f->cfg->srv_tls_cert = strdup(path);
	f->cfg->srv_tls_key = strdup(path);
	assert_int_equal(server_tls_ensure(f->cfg, fp, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "bad.crt"));
	assert_int_equal(server_tls_pem_fp("", 0, fp, &e), -EINVAL);
}

/* 3.1 the priority string: GnuTLS accepts it, it offers TLS 1.2 and 1.3
 * only, and every suite is ECDHE (1.2) with an AEAD cipher */
static void test_priorities(void **state)
{
	gnutls_priority_t p;
	const char *errpos = NULL;
	unsigned int idx;
	int have12 = 0, have13 = 0, n = 0;

	(void)state;
	assert_int_equal(gnutls_priority_init(&p, server_tls_priorities, &errpos), 0);
	for (unsigned int i = 0;; i++) {
		unsigned char id[2];
		gnutls_kx_algorithm_t kx;
		gnutls_cipher_algorithm_t cipher;
		gnutls_protocol_t ver;
		const char *name;
		int rc = gnutls_priority_get_cipher_suite_index(p, i, &idx);

		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0)
			continue;
		name = gnutls_cipher_suite_info(idx, id, &kx, &cipher, NULL, &ver);
		assert_non_null(name);
		n++;
		if (ver == GNUTLS_TLS1_3) {
			have13 = 1;
		} else {
			assert_int_equal(ver, GNUTLS_TLS1_2);
			have12 = 1;
			assert_true(kx == GNUTLS_KX_ECDHE_RSA || kx == GNUTLS_KX_ECDHE_ECDSA);
		}
		assert_true(cipher == GNUTLS_CIPHER_AES_128_GCM || cipher == GNUTLS_CIPHER_AES_256_GCM
			    || cipher == GNUTLS_CIPHER_CHACHA20_POLY1305);
	}
	gnutls_priority_deinit(p);
	assert_true(have12 && have13);
	assert_true(n >= 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generate_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generate_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_pair_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configured_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configured_garbage, setup, teardown),
		cmocka_unit_test(test_priorities),
	};

	log_set_verbosity(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
