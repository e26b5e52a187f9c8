/*
 * sync_trust.c -- the certificate pin store (a directory of PEM files, our
 * equivalent of the Windows "WindowsServerUpdateServices" store) and the
 * verify hook that applies it inside every TLS handshake with the upstream.
 *
 * A pin is the SHA-256 of a certificate's DER; any certificate of the
 * verified chain (leaf, intermediate or anchor) may match. The store and the
 * verdicts belong to their callers; nothing here keeps global state except
 * the OpenSSL ex_data index that links an SSL_CTX to its struct sync_trust.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sync_int.h"

#define PIN_FILE_MAX   (1024u * 1024) /* one file of the store */
#define PIN_PER_FILE   64             /* certificates read from one file */

struct sync_pin_store {
	struct sync_pin *pins;
	size_t n, cap;
	size_t skipped;
};

const char *sync_pin_result_name(enum sync_pin_result r)
{
	switch (r) {
	case SYNC_PIN_NONE: return "none";
	case SYNC_PIN_UNTRUSTED: return "untrusted";
	case SYNC_PIN_STORE_EMPTY: return "store-empty";
	case SYNC_PIN_MATCHED: return "matched";
	case SYNC_PIN_NOT_PINNED: return "not-pinned";
	case SYNC_PIN_NOT_PINNED_ALLOWED: return "not-pinned-allowed";
	}
	return "?";
}

/*---- Certificate facts ----*/

static void name_text(X509_NAME *name, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	out[0] = '\0';
	if (b == NULL)
		return;
	/* RFC 2253 with UTF-8 kept as is, then control bytes replaced so that a
	 * hostile subject cannot break a log line. */
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_read(b, out, (int)cap - 1);
		out[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

int sync_cert_info_from_x509(X509 *x, struct sync_cert_info *out)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const ASN1_TIME *na;
	struct tm tm;

	memset(out, 0, sizeof(*out));
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != WSUS_SHA256_LEN)
		return -EINVAL;
	wsus_hex_encode(md, mdlen, out->sha256);
	name_text(X509_get_subject_name(x), out->subject, sizeof(out->subject));
	name_text(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
	na = X509_get0_notAfter(x);
	if (na != NULL && ASN1_TIME_to_tm(na, &tm) == 1) {
		out->not_after_unix = (int64_t)timegm(&tm);
		strftime(out->not_after, sizeof(out->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
		out->expired = X509_cmp_current_time(na) < 0;
	} else {
		snprintf(out->not_after, sizeof(out->not_after), "unknown");
	}
	return 0;
}

/* Every certificate of a PEM text (other PEM blocks, such as keys, are
 * skipped), or the one certificate of a DER text when allow_der. Returns the
 * number found (at most max, each pushed onto *out) or a negative code. */
static int certs_parse(const char *data, size_t len, int allow_der, X509 **out, int max)
{
	BIO *b;
	int n = 0;

	if (len > INT_MAX)
		return -EFBIG;
	b = BIO_new_mem_buf(data, (int)len);
	if (b == NULL)
		return -ENOMEM;
	while (n < max) {
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

		if (x == NULL)
			break;
		out[n++] = x;
	}
	BIO_free(b);
	ERR_clear_error();
	if (n == 0 && allow_der) {
		const unsigned char *p = (const unsigned char *)data;
		X509 *x = d2i_X509(NULL, &p, (long)len);

		if (x != NULL && p == (const unsigned char *)data + len)
			out[n++] = x;
		else
			X509_free(x);
		ERR_clear_error();
	}
	return n;
}

static void certs_free(X509 **v, int n)
{
	for (int i = 0; i < n; i++)
		X509_free(v[i]);
}

/*---- The store ----*/

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the regular, non-hidden files in dir. -ENOENT when dir
 * does not exist. */
static int dir_files(const char *dir, char ***names, size_t *n, struct err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0;
	char path[PATH_MAX];
	struct stat sb;

	if (d == NULL)
		return err_set(e, -errno, "pin store %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				goto oom;
			v = nv;
		}
		v[cnt] = strdup(de->d_name);
		if (v[cnt] == NULL)
			goto oom;
		cnt++;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), name_cmp);
	*names = v;
	*n = cnt;
	return 0;
oom:
	closedir(d);
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	return err_set(e, -ENOMEM, "pin store %s: out of memory", dir);
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Read dir/name and parse its certificates into certs. Returns how many, or a
 * negative code (file unreadable or too large) with e set. */
static int file_certs(const char *dir, const char *name, X509 **certs, struct err *e)
{
	char path[PATH_MAX], *data = NULL;
	size_t len = 0;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return err_set(e, -ENAMETOOLONG, "%s/%s: path too long", dir, name);
	rc = wsus_read_file(path, PIN_FILE_MAX, &data, &len, e);
	if (rc < 0)
		return rc;
	rc = certs_parse(data, len, 0, certs, PIN_PER_FILE);
	free(data);
	return rc;
}

static int store_push(struct sync_pin_store *ps, const struct sync_cert_info *ci, const char *file,
		      const char *dir, struct err *e)
{
	struct sync_pin *nv;

	if (sync_pin_store_find(ps, ci->sha256) != NULL) {
		log_debug("sync", "pin store: %s/%s repeats pinned certificate sha256=%s", dir, file,
			  ci->sha256);
		return 0;
	}
	if (ps->n == SYNC_MAX_PINS)
		return err_set(e, -E2BIG, "pin store %s: more than %d certificates", dir, SYNC_MAX_PINS);
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 8;

		nv = realloc(ps->pins, cap * sizeof(*nv));
		if (nv == NULL)
			return err_set(e, -ENOMEM, "pin store %s: out of memory", dir);
		ps->pins = nv;
		ps->cap = cap;
	}
	ps->pins[ps->n].cert = *ci;
	snprintf(ps->pins[ps->n].file, sizeof(ps->pins[ps->n].file), "%s", file);
	ps->n++;
	if (ci->expired)
		log_warn("sync", "pin store: pinned certificate has expired subject=\"%s\" sha256=%s not_after=%s file=%s",
			 ci->subject, ci->sha256, ci->not_after, file);
	return 0;
}

/* Add the certificates of one file; an unreadable or certificate-less file
 * is skipped with a warning. */
static int store_add_file(struct sync_pin_store *ps, const char *dir, const char *name, struct err *e)
{
	X509 *certs[PIN_PER_FILE];
	struct sync_cert_info ci;
	struct err fe = { 0 };
	int n, rc = 0;

	n = file_certs(dir, name, certs, &fe);
	if (n <= 0) {
		ps->skipped++;
		log_warn("sync", "pin store: %s/%s ignored: %s", dir, name,
			 n < 0 ? fe.msg : "no PEM certificate in it");
		return 0;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		rc = sync_cert_info_from_x509(certs[i], &ci);
		if (rc < 0)
			rc = err_set(e, rc, "pin store: %s/%s: cannot digest certificate %d", dir, name, i);
		else
			rc = store_push(ps, &ci, name, dir, e);
	}
	certs_free(certs, n);
	return rc;
}

int sync_pin_store_load(const char *dir, struct sync_pin_store **out, struct err *e)
{
	struct sync_pin_store *ps;
	char **names = NULL;
	size_t n = 0;
	int rc;

	ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = dir_files(dir, &names, &n, e);
	if (rc == -ENOENT) {
		err_clear(e);
		*out = ps;
		return 0;
	}
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		rc = store_add_file(ps, dir, names[i], e);
		if (rc < 0)
			goto fail;
	}
	names_free(names, n);
	*out = ps;
	return 0;
fail:
	names_free(names, n);
	sync_pin_store_free(ps);
	return rc;
}

void sync_pin_store_free(struct sync_pin_store *ps)
{
	if (ps == NULL)
		return;
	free(ps->pins);
	free(ps);
}

size_t sync_pin_store_count(const struct sync_pin_store *ps)
{
	return ps ? ps->n : 0;
}

size_t sync_pin_store_skipped(const struct sync_pin_store *ps)
{
	return ps ? ps->skipped : 0;
}

const struct sync_pin *sync_pin_store_at(const struct sync_pin_store *ps, size_t i)
{
	return ps && i < ps->n ? &ps->pins[i] : NULL;
}

const struct sync_pin *sync_pin_store_find(const struct sync_pin_store *ps, const char *sha256_hex)
{
	if (ps == NULL || sha256_hex == NULL)
		return NULL;
	for (size_t i = 0; i < ps->n; i++) {
		if (strcasecmp(ps->pins[i].cert.sha256, sha256_hex) == 0)
			return &ps->pins[i];
	}
	return NULL;
}

/*---- pin add / remove ----*/

int sync_pin_prefix_normalize(const char *in, char out[SYNC_SHA256_HEX], struct err *e)
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		/* a colon only between complete byte pairs, as fingerprints are printed */
		if (*p == ':' && n > 0 && n % 2 == 0 && p[1] != '\0' && p[1] != ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == SYNC_SHA256_HEX - 1)
			return err_set(e, -EINVAL, "'%s' is not a SHA-256 fingerprint or prefix (hex digits)", in);
		out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	if (n < 8)
		return err_set(e, -EINVAL, "'%s' is too short: give at least 8 hex digits of the SHA-256", in);
	return 0;
}

/* Store the one certificate of data (PEM, or DER when allow_der) as
 * dir/<sha256>.pem; label names the input in messages. */
static int pin_add_data(const char *dir, const char *data, size_t len, int allow_der, const char *label,
			struct sync_cert_info *info, int *existed, struct err *e)
{
	struct sync_pin_store *ps = NULL;
	X509 *certs[2];
	char path[PATH_MAX];
	BIO *b = NULL;
	BUF_MEM *pem;
	int n = 0, rc;

	n = certs_parse(data, len, allow_der, certs, 2);
	if (n != 1) {
		rc = err_set(e, -EINVAL, n == 0 ? "%s holds no certificate (PEM or DER expected)"
					       : "%s holds several certificates: put the one to pin in a file of its own",
			     label);
		goto fail;
	}
	rc = sync_cert_info_from_x509(certs[0], info);
	if (rc < 0) {
		err_set(e, rc, "%s: cannot digest the certificate", label);
		goto fail;
	}
	rc = sync_pin_store_load(dir, &ps, e);
	if (rc < 0)
		goto fail;
	*existed = sync_pin_store_find(ps, info->sha256) != NULL;
	if (*existed)
		goto done;
	rc = wsus_mkdir_p(dir, 0755, e);
	if (rc < 0)
		goto fail;
	b = BIO_new(BIO_s_mem());
	if (b == NULL || PEM_write_bio_X509(b, certs[0]) != 1) {
		rc = err_set(e, -ENOMEM, "cannot encode the certificate as PEM");
		goto fail;
	}
	BIO_get_mem_ptr(b, &pem);
	if (snprintf(path, sizeof(path), "%s/%s.pem", dir, info->sha256) >= (int)sizeof(path)) {
		rc = err_set(e, -ENAMETOOLONG, "%s: path too long", dir);
		goto fail;
	}
	rc = wsus_write_file_atomic(path, pem->data, pem->length, e);
	if (rc < 0)
		goto fail;
done:
	rc = 0;
fail:
	BIO_free(b);
	sync_pin_store_free(ps);
	certs_free(certs, n > 2 ? 2 : n);
	return rc;
}

int sync_pin_add(const char *dir, const char *file, struct sync_cert_info *info, int *existed,
		 struct err *e)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	rc = wsus_read_file(file, PIN_FILE_MAX, &data, &len, e);
	if (rc < 0)
		return rc;
	rc = pin_add_data(dir, data, len, 1, file, info, existed, e);
	free(data);
	return rc;
}

int sync_pin_add_pem(const char *dir, const char *pem, size_t len, struct sync_cert_info *info,
		     int *existed, struct err *e)
{
	return pin_add_data(dir, pem, len, 0, "the presented certificate", info, existed, e);
}

void sync_presented_free(struct sync_presented *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->pem[i]);
	memset(p, 0, sizeof(*p));
}

/* The one pin that prefix names, or an error that says why not. */
static int pin_lookup(const struct sync_pin_store *ps, const char *prefix, const char *typed,
		      const struct sync_pin **found, struct err *e)
{
	size_t plen = strlen(prefix), hits = 0;
	char list[320] = "";
	size_t used = 0;

	for (size_t i = 0; i < ps->n; i++) {
		if (strncmp(ps->pins[i].cert.sha256, prefix, plen) != 0)
			continue;
		if (hits++ == 0)
			*found = &ps->pins[i];
		if (used < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 used ? ", " : "", ps->pins[i].cert.sha256);
	}
	if (hits == 0)
		return err_set(e, -ENOENT, "no pinned certificate matches %s", typed);
	if (hits > 1)
		return err_set(e, -EEXIST, "%s matches %zu pinned certificates (%s): give more digits",
			       typed, hits, list);
	return 0;
}

/* Whether the file dir/name holds sha256, and whether it holds anything else. */
static int file_holds(const char *dir, const char *name, const char *sha256, int *holds, int *others,
		      struct err *e)
{
	X509 *certs[PIN_PER_FILE];
	struct sync_cert_info ci;
	int n = file_certs(dir, name, certs, e);

	*holds = *others = 0;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (sync_cert_info_from_x509(certs[i], &ci) == 0 && strcmp(ci.sha256, sha256) == 0)
			*holds = 1;
		else
			*others = 1;
	}
	certs_free(certs, n);
	return 0;
}

int sync_pin_remove(const char *dir, const char *sha256, struct sync_cert_info *info, struct err *e)
{
	struct sync_pin_store *ps = NULL;
	const struct sync_pin *pin = NULL;
	char prefix[SYNC_SHA256_HEX], path[PATH_MAX], **names = NULL, **doomed = NULL;
	size_t n = 0, nd = 0;
	int rc, holds, others;

	rc = sync_pin_prefix_normalize(sha256, prefix, e);
	if (rc < 0)
		return rc;
	rc = sync_pin_store_load(dir, &ps, e);
	if (rc < 0)
		return rc;
	rc = pin_lookup(ps, prefix, sha256, &pin, e);
	if (rc < 0)
		goto fail;
	*info = pin->cert;
	rc = dir_files(dir, &names, &n, e);
	if (rc < 0)
		goto fail;
	doomed = calloc(n ? n : 1, sizeof(*doomed));
	if (doomed == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	/* Check every file first: remove nothing unless everything can go. */
	for (size_t i = 0; i < n; i++) {
		if (file_holds(dir, names[i], info->sha256, &holds, &others, e) < 0 || !holds)
			continue;
		if (others) {
			rc = err_set(e, -EBUSY, "%s/%s also holds other certificates: edit it by hand",
				     dir, names[i]);
			goto fail;
		}
		doomed[nd++] = names[i];
	}
	err_clear(e);
	for (size_t i = 0; i < nd; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, doomed[i]);
		if (unlink(path) != 0) {
			rc = err_set(e, -errno, "cannot remove %s: %s", path, strerror(errno));
			goto fail;
		}
		wsus_fsync_parent(path);
	}
	rc = 0;
fail:
	free(doomed);
	names_free(names, n);
	sync_pin_store_free(ps);
	return rc;
}

/*---- The decision ----*/

/* The CN of a subject when there is one, else the subject (for short lists). */
static const char *short_name(const char *subject, char *out, size_t cap)
{
	const char *cn = strstr(subject, "CN=");

	if (cn != NULL && (cn == subject || cn[-1] == ',')) {
		size_t n = strcspn(cn, ",");

		snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), cn);
		return out;
	}
	snprintf(out, cap, "%.60s", subject);
	return out;
}

static void chain_list(const struct sync_trust_verdict *v, char *out, size_t cap)
{
	size_t used = 0;
	char nm[96];

	out[0] = '\0';
	for (size_t i = 0; i < v->n_chain && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s[%zu] %s sha256=%.16s...",
					 i ? ", " : "", i,
					 short_name(v->chain[i].subject, nm, sizeof(nm)),
					 v->chain[i].sha256);
}

void sync_trust_decide(const struct sync_pin_store *ps, int enforce, struct sync_trust_verdict *v)
{
	char list[320];

	v->n_pins = sync_pin_store_count(ps);
	v->matched = -1;
	v->allowed = 0;
	v->leaf_sha256[0] = '\0';
	if (v->n_chain == 0) {
		v->pin = SYNC_PIN_UNTRUSTED;
		snprintf(v->line, sizeof(v->line), "no certificate was presented");
		return;
	}
	snprintf(v->leaf_sha256, sizeof(v->leaf_sha256), "%s", v->chain[0].sha256);
	if (v->n_pins == 0) {
		v->pin = SYNC_PIN_STORE_EMPTY;
		v->allowed = 1;
		snprintf(v->line, sizeof(v->line),
			 "pin store empty, not enforced: leaf \"%s\" sha256=%s", v->chain[0].subject,
			 v->chain[0].sha256);
		return;
	}
	for (size_t i = 0; i < v->n_chain; i++) {
		if (sync_pin_store_find(ps, v->chain[i].sha256) != NULL) {
			v->pin = SYNC_PIN_MATCHED;
			v->matched = (int)i;
			v->allowed = 1;
			snprintf(v->line, sizeof(v->line),
				 "pinned certificate in store: yes, matched \"%s\" sha256=%s (chain position %zu)",
				 v->chain[i].subject, v->chain[i].sha256, i);
			return;
		}
	}
	chain_list(v, list, sizeof(list));
	v->pin = enforce ? SYNC_PIN_NOT_PINNED : SYNC_PIN_NOT_PINNED_ALLOWED;
	v->allowed = !enforce;
	snprintf(v->line, sizeof(v->line), "%scertificate not pinned: presented chain %s; pin store has %zu certificate%s",
		 enforce ? "" : "pinned certificate in store: no (enforce_pinning = false, proceeding): ",
		 list, v->n_pins, v->n_pins == 1 ? "" : "s");
}

/*---- The hook ----*/

static int trust_idx = -1;
static pthread_once_t trust_idx_once = PTHREAD_ONCE_INIT;

static void trust_idx_init(void)
{
	trust_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void chain_record(struct sync_trust_verdict *v, STACK_OF(X509) *sk, X509 *leaf)
{
	int n = sk ? sk_X509_num(sk) : 0;

	v->n_chain = 0;
	if (n == 0 && leaf != NULL) {
		if (sync_cert_info_from_x509(leaf, &v->chain[0]) == 0)
			v->n_chain = 1;
		return;
	}
	for (int i = 0; i < n && v->n_chain < SYNC_MAX_CHAIN; i++) {
		if (sync_cert_info_from_x509(sk_X509_value(sk, i), &v->chain[v->n_chain]) == 0)
			v->n_chain++;
	}
}

/* Whether the leaf names host: only used to tell an https:// proxy's own
 * handshake from the upstream's (libcurl checks the host name afterwards). */
static int leaf_names_host(X509 *leaf, const char *host)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		return X509_check_ip_asc(leaf, host, 0) == 1;
	return X509_check_host(leaf, host, 0, 0, NULL) == 1;
}

static void verdict_log(const struct sync_trust *t)
{
	const struct sync_trust_verdict *v = &t->v;

	switch (v->pin) {
	case SYNC_PIN_STORE_EMPTY:
	case SYNC_PIN_MATCHED:
		log_notice("sync", "trust verdict host=%s: %s", t->host, v->line);
		break;
	case SYNC_PIN_NOT_PINNED_ALLOWED:
		log_warn("sync", "trust verdict host=%s: %s", t->host, v->line);
		break;
	case SYNC_PIN_NOT_PINNED:
		log_err("sync", "trust verdict host=%s: pinned certificate in store: no, refused: %s", t->host, v->line);
		break;
	default:
		log_err("sync", "trust verdict host=%s: refused: %s", t->host, v->line);
	}
}

/* Chain verification failed before we were asked: keep what was presented. */
static int record_untrusted(struct sync_trust *t, X509_STORE_CTX *sctx, const SSL *ssl)
{
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	int err = X509_STORE_CTX_get_error(sctx);
	struct sync_trust_verdict *v = &t->v;

	if (t->decided_for == ssl)
		return 0;
	if (t->tls_proxy && leaf != NULL && !leaf_names_host(leaf, t->host))
		return 0;
	t->decided_for = ssl;
	t->decided_ok = 0;
	t->decisions++;
	chain_record(v, X509_STORE_CTX_get0_untrusted(sctx), leaf);
	v->pin = SYNC_PIN_UNTRUSTED;
	v->allowed = 0;
	v->matched = -1;
	snprintf(v->host, sizeof(v->host), "%s", t->host);
	snprintf(v->leaf_sha256, sizeof(v->leaf_sha256), "%s", v->n_chain ? v->chain[0].sha256 : "");
	snprintf(v->line, sizeof(v->line), "certificate verification failed: %s (depth %d)",
		 X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(sctx));
	verdict_log(t);
	return 0;
}

static int decide_at_leaf(struct sync_trust *t, X509_STORE_CTX *sctx, const SSL *ssl)
{
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);

	if (t->decided_for == ssl)
		return t->decided_ok;
	if (leaf == NULL)
		return 0;
	if (t->tls_proxy && !leaf_names_host(leaf, t->host))
		return 1; /* the proxy's own certificate: ordinary verification only */
	t->decided_for = ssl;
	t->decisions++;
	chain_record(&t->v, X509_STORE_CTX_get0_chain(sctx), leaf);
	snprintf(t->v.host, sizeof(t->v.host), "%s", t->host);
	sync_trust_decide(t->pins, t->enforce, &t->v);
	t->decided_ok = t->v.allowed;
	verdict_log(t);
	if (!t->v.allowed)
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
	return t->v.allowed;
}

static char *pem_of(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	char *out = NULL;

	if (b != NULL && PEM_write_bio_X509(b, x) == 1) {
		BIO_get_mem_ptr(b, &m);
		out = strndup(m->data, m->length);
	}
	BIO_free(b);
	return out;
}

/* pin fetch: record what the peer sent (leaf first) once per handshake, and
 * refuse the handshake so that nothing is ever requested over it. */
static int observe_chain(struct sync_trust *t, X509_STORE_CTX *sctx, const SSL *ssl)
{
	STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(sctx);
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	struct sync_presented *p = t->observe;
	int n = sk ? sk_X509_num(sk) : 0;

	if (t->decided_for == ssl)
		return 0;
	t->decided_for = ssl;
	t->decided_ok = 0;
	t->decisions++;
	for (size_t i = 0; i < p->n; i++)
		free(p->pem[i]);
	p->n = 0;
	for (int i = 0; (n > 0 ? i < n : i < 1) && p->n < SYNC_MAX_CHAIN; i++) {
		X509 *x = n > 0 ? sk_X509_value(sk, i) : leaf;

		if (x == NULL || sync_cert_info_from_x509(x, &p->cert[p->n]) < 0)
			continue;
		p->pem[p->n] = pem_of(x);
		if (p->pem[p->n] != NULL)
			p->n++;
	}
	t->v.pin = SYNC_PIN_NONE;
	t->v.allowed = 0;
	snprintf(t->v.line, sizeof(t->v.line), "pin fetch: chain recorded, handshake stopped");
	return 0;
}

/* OpenSSL calls this for every certificate, deepest first; preverify_ok is
 * its own verdict. We never turn a failure into a success. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *sctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct sync_trust *t = NULL;

	if (ssl != NULL && trust_idx >= 0)
		t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), trust_idx);
	if (t == NULL)
		return 0;
	if (t->observe != NULL) {
		X509 *leaf = X509_STORE_CTX_get0_cert(sctx);

		if (t->tls_proxy && leaf != NULL && !leaf_names_host(leaf, t->host))
			return preverify_ok; /* the proxy's own certificate */
		return observe_chain(t, sctx, ssl);
	}
	if (!preverify_ok)
		return record_untrusted(t, sctx, ssl);
	if (X509_STORE_CTX_get_error_depth(sctx) != 0)
		return 1;
	return decide_at_leaf(t, sctx, ssl);
}

static int expect_host(SSL_CTX *ctx, const char *host)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	unsigned char addr[16];

	if (param == NULL || host[0] == '\0')
		return -1;
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
	return X509_VERIFY_PARAM_set1_host(param, host, 0) == 1 ? 0 : -1;
}

int sync_trust_ctx_hook(void *ssl_ctx, struct sync_trust *t)
{
	SSL_CTX *ctx = ssl_ctx;

	pthread_once(&trust_idx_once, trust_idx_init);
	if (ctx == NULL || trust_idx < 0 || SSL_CTX_set_ex_data(ctx, trust_idx, t) != 1)
		return -1;
	/* a new connection: an SSL allocated where the last one was is not it */
	t->decided_for = NULL;
	/* libcurl already asked for TLS 1.2 and peer verification; restating
	 * both here keeps them true whatever it did. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -1;
	/* The host name joins chain verification, so that the verdict recorded
	 * (and logged) for a wrong host is a refusal. Through an https:// proxy
	 * this context may be the proxy's: libcurl's own host check covers it. */
	if (!t->tls_proxy && expect_host(ctx, t->host) < 0)
		return -1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	return 0;
}
