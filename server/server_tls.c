/*
 * server_tls.c -- the front end's certificate: the configured PEM pair, or a
 * self-signed one generated on first start under DATADIR/tls/ (server.crt
 * 0644, server.key 0600), and SHA-256 fingerprints of certificates.
 *
 * The generated certificate: an EC P-256 key (ECDHE-ECDSA with AES-GCM is in
 * every SChannel from Windows 7 on, RSA-GCM is not), SHA-256 signature,
 * valid from one hour ago for ten years (a self-signed certificate is
 * trusted or pinned by hand, so a short life only breaks clients), SAN =
 * the public_url host, the listen address (the host name when it is a
 * wildcard), localhost, 127.0.0.1 and ::1. It is never regenerated while
 * both files exist, so its fingerprint survives restarts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "server.h"
#include "server_int.h"

#define TLS_PEM_MAX   (1024 * 1024)      /* a certificate chain or key file */
#define TLS_DAYS      3650
#define TLS_MAX_NAMES 8

/* GnuTLS names: TLS 1.3 (its AEAD suites), TLS 1.2 with ECDHE key exchange
 * and AEAD ciphers only; the server's order wins. */
const char server_tls_priorities[] =
	"NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:+AES-256-GCM:+AES-128-GCM:"
	"+CHACHA20-POLY1305:+AEAD:+SIGN-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"
	"+GROUP-SECP521R1:+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE";

void server_tls_der_fp(const void *der, size_t n, char fp[65])
{
	uint8_t d[WSUS_SHA256_LEN];

	wsus_sha256(der, n, d);
	wsus_hex_encode(d, sizeof(d), fp);
}

static int cert_fp(X509 *x, char fp[65], struct err *e)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	if (n <= 0)
		return err_set(e, -EINVAL, "cannot encode certificate");
	server_tls_der_fp(der, (size_t)n, fp);
	OPENSSL_free(der);
	return 0;
}

int server_tls_pem_fp(const char *pem, size_t len, char fp[65], struct err *e)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = NULL;
	int rc;

	if (b == NULL || len > TLS_PEM_MAX)
		return err_set(e, -ENOMEM, "cannot read certificate");
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL)
		return err_set(e, -EINVAL, "no PEM certificate found");
	rc = cert_fp(x, fp, e);
	X509_free(x);
	return rc;
}

/*---- Names for the generated certificate ----*/

struct tls_names {
	char dns[TLS_MAX_NAMES][256];
	size_t n_dns;
	char ip[TLS_MAX_NAMES][INET6_ADDRSTRLEN];
	size_t n_ip;
};

static void names_add(struct tls_names *nm, const char *host, size_t len)
{
	char h[256];
	unsigned char bin[16];

	if (len == 0 || len >= sizeof(h))
		return;
	memcpy(h, host, len);
	h[len] = '\0';
	if (inet_pton(AF_INET, h, bin) == 1 || inet_pton(AF_INET6, h, bin) == 1) {
		if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0)
			return;
		for (size_t i = 0; i < nm->n_ip; i++)
			if (strcmp(nm->ip[i], h) == 0)
				return;
		if (nm->n_ip < TLS_MAX_NAMES)
			snprintf(nm->ip[nm->n_ip++], sizeof(nm->ip[0]), "%s", h);
		return;
	}
	for (size_t i = 0; i < nm->n_dns; i++)
		if (strcasecmp(nm->dns[i], h) == 0)
			return;
	if (nm->n_dns < TLS_MAX_NAMES)
		snprintf(nm->dns[nm->n_dns++], sizeof(nm->dns[0]), "%s", h);
}

/* The host part of "ADDR:PORT", "[v6]:PORT" or a URL's authority. */
static void host_of(const char *s, const char **h, size_t *n)
{
	const char *end;

	if (s[0] == '[') {
		end = strchr(s, ']');
		*h = s + 1;
		*n = end ? (size_t)(end - s - 1) : 0;
		return;
	}
	end = s + strcspn(s, ":/");
	*h = s;
	*n = (size_t)(end - s);
}

static void names_collect(const struct wsus_config *cfg, struct tls_names *nm)
{
	const char *h;
	size_t n;
	char hostname[256];

	memset(nm, 0, sizeof(*nm));
	if (cfg->srv_public_url != NULL) {
		const char *a = strstr(cfg->srv_public_url, "://");

		host_of(a ? a + 3 : cfg->srv_public_url, &h, &n);
		names_add(nm, h, n);
	}
	host_of(cfg->srv_listen ? cfg->srv_listen : "127.0.0.1", &h, &n);
	if ((n == 7 && memcmp(h, "0.0.0.0", 7) == 0) || (n == 2 && memcmp(h, "::", 2) == 0)) {
		if (gethostname(hostname, sizeof(hostname)) == 0) {
			hostname[sizeof(hostname) - 1] = '\0';
			names_add(nm, hostname, strlen(hostname));
		}
	} else {
		names_add(nm, h, n);
	}
	names_add(nm, "localhost", 9);
	names_add(nm, "127.0.0.1", 9);
	names_add(nm, "::1", 3);
}

/*---- Generation ----*/

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int add_general_name(GENERAL_NAMES *gens, int type, const void *data, int len)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = ASN1_STRING_type_new(type == GEN_DNS ? V_ASN1_IA5STRING : V_ASN1_OCTET_STRING);

	if (g == NULL || s == NULL || !ASN1_STRING_set(s, data, len))
		goto fail;
	GENERAL_NAME_set0_value(g, type, s);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
fail:
	ASN1_STRING_free(s);
	GENERAL_NAME_free(g);
	return -1;
}

/* subjectAltName built from values, not from a config string, so that no
 * name can smuggle in extra entries. */
static int add_san(X509 *x, const struct tls_names *nm)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	unsigned char bin[16];
	int rc = -1;

	if (gens == NULL)
		return -1;
	for (size_t i = 0; i < nm->n_dns; i++)
		if (add_general_name(gens, GEN_DNS, nm->dns[i], (int)strlen(nm->dns[i])) < 0)
			goto out;
	for (size_t i = 0; i < nm->n_ip; i++) {
		int v6 = strchr(nm->ip[i], ':') != NULL;

		if (inet_pton(v6 ? AF_INET6 : AF_INET, nm->ip[i], bin) != 1
		    || add_general_name(gens, GEN_IPADD, bin, v6 ? 16 : 4) < 0)
			goto out;
	}
	rc = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static int set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
		 && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key, const struct tls_names *nm)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;
	const char *cn = nm->n_dns ? nm->dns[0] : "wsus-replica";

	if (x == NULL || !X509_set_version(x, 2) || set_serial(x) < 0)
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"wsus-replica", -1, -1, 0)
	    || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0)
	    || !X509_set_issuer_name(x, name))
		goto fail;
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600)
	    || !X509_gmtime_adj(X509_getm_notAfter(x), (long)TLS_DAYS * 86400)
	    || !X509_set_pubkey(x, key))
		goto fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0
	    || add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") < 0
	    || add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0
	    || add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0
	    || add_san(x, nm) < 0)
		goto fail;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Write data to path with mode, through a temporary name (no partial file
 * ever carries the final name). */
static int write_private(const char *path, const void *data, size_t n, mode_t mode, struct err *e)
{
	char tmp[4096];
	const char *p = data;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return err_set(e, -ENAMETOOLONG, "path too long: %s", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return err_set(e, -errno, "cannot create %s: %s", tmp, strerror(errno));
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = err_set(e, -errno, "cannot write %s: %s", tmp, strerror(errno));
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (rc == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		rc = err_set(e, -errno, "cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = err_set(e, -errno, "cannot rename %s: %s", tmp, strerror(errno));
	if (rc < 0)
		unlink(tmp);
	else
		wsus_fsync_parent(path);
	return rc;
}

/* PEM text of a key or certificate, malloc'd and NUL-terminated. */
static char *bio_text(BIO *b, size_t *len)
{
	char *data, *out;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0)
		return NULL;
	out = malloc((size_t)n + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

static int generate(const struct wsus_config *cfg, const char *crt, const char *key_path,
		    char fp[65], struct err *e)
{
	struct tls_names nm;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = NULL;
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	int rc = -ENOMEM;

	names_collect(cfg, &nm);
	if (key == NULL || kb == NULL || cb == NULL || (x = make_cert(key, &nm)) == NULL) {
		rc = err_set(e, -EIO, "cannot generate a TLS certificate");
		goto out;
	}
	if (!PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cb, x)
	    || (kpem = bio_text(kb, &klen)) == NULL || (cpem = bio_text(cb, &clen)) == NULL) {
		rc = err_set(e, -EIO, "cannot encode the generated TLS certificate");
		goto out;
	}
	/* key first: a certificate without its key would never be replaced */
	rc = write_private(key_path, kpem, klen, 0600, e);
	if (rc == 0)
		rc = write_private(crt, cpem, clen, 0644, e);
	if (rc == 0)
		rc = cert_fp(x, fp, e);
	if (rc == 0)
		log_info("server", "generated self-signed certificate path=%s sha256=%s days=%d", crt, fp,
			 TLS_DAYS);
out:
	if (kpem != NULL) {
		explicit_bzero(kpem, klen);
		free(kpem);
	}
	free(cpem);
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/*---- Public ----*/

static int tls_paths(const struct wsus_config *cfg, char crt[4096], char key[4096], struct err *e)
{
	if (cfg->srv_tls_cert != NULL) {
		snprintf(crt, 4096, "%s", cfg->srv_tls_cert);
		snprintf(key, 4096, "%s", cfg->srv_tls_key ? cfg->srv_tls_key : "");
		return 0;
	}
	if (snprintf(crt, 4096, "%s/tls/server.crt", cfg->st_data_dir) >= 4096
	    || snprintf(key, 4096, "%s/tls/server.key", cfg->st_data_dir) >= 4096)
		return err_set(e, -ENAMETOOLONG, "data directory path too long");
	return 0;
}

static int read_fp(const char *crt, char fp[65], struct err *e)
{
	char *pem = NULL;
	size_t len = 0;
	int rc = wsus_read_file(crt, TLS_PEM_MAX, &pem, &len, e);

	if (rc == 0) {
		rc = server_tls_pem_fp(pem, len, fp, e);
		if (rc < 0)
			err_prefix(e, "%s", crt);
	}
	free(pem);
	return rc;
}

int server_tls_fingerprint(const struct wsus_config *cfg, char fp[65], struct err *e)
{
	char crt[4096], key[4096];
	int rc = tls_paths(cfg, crt, key, e);

	if (rc < 0)
		return rc;
	if (cfg->srv_tls_cert == NULL && access(crt, F_OK) != 0)
		return err_set(e, -ENOENT, "no certificate yet: %s is generated on the first start of serve",
			       crt);
	return read_fp(crt, fp, e);
}

int server_tls_ensure(const struct wsus_config *cfg, char fp[65], struct err *e)
{
	char crt[4096], key[4096], dir[4096];
	int have_crt, have_key, rc;

	rc = tls_paths(cfg, crt, key, e);
	if (rc < 0)
		return rc;
	if (cfg->srv_tls_cert != NULL)
		return read_fp(crt, fp, e);
	have_crt = access(crt, F_OK) == 0;
	have_key = access(key, F_OK) == 0;
	if (have_crt && have_key)
		return read_fp(crt, fp, e);
	if (have_crt != have_key)
		return err_set(e, -EINVAL, "%s exists without %s; remove it to have a new pair generated",
			       have_crt ? crt : key, have_crt ? key : crt);
	snprintf(dir, sizeof(dir), "%s/tls", cfg->st_data_dir);
	rc = wsus_mkdir_p(dir, 0700, e);
	if (rc < 0)
		return rc;
	return generate(cfg, crt, key, fp, e);
}

int server_tls_load(const struct wsus_config *cfg, char **cert_pem, char **key_pem, char fp[65],
		    struct err *e)
{
	char crt[4096], key[4096];
	char *c = NULL, *k = NULL;
	size_t clen = 0, klen = 0;
	int rc;

	rc = server_tls_ensure(cfg, fp, e);
	if (rc == 0)
		rc = tls_paths(cfg, crt, key, e);
	if (rc == 0)
		rc = wsus_read_file(crt, TLS_PEM_MAX, &c, &clen, e);
	if (rc == 0)
		rc = wsus_read_file(key, TLS_PEM_MAX, &k, &klen, e);
	if (rc < 0) {
		free(c);
		if (k != NULL)
			explicit_bzero(k, klen);
		free(k);
		return rc;
	}
	*cert_pem = c;
	*key_pem = k;
	return 0;
}
