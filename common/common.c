/*
 * common.c -- errors, logging, codecs, digests, file and buffer helpers shared
 * by every folder. See common.h for the contracts.
 */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/*---- Errors ----*/

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char head[WSUS_ERR_LEN], old[WSUS_ERR_LEN];
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old);
}

void err_clear(struct err *e)
{
	if (e == NULL)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

/*---- Logging ----*/

_Atomic int log_verbosity = LOG_INFO;
static FILE *log_stream;
static atomic_int log_journal = -1;  /* -1 not yet known, 0 plain, 1 stderr is the journal */

void log_set_verbosity(int level)
{
	log_verbosity = level;
}

void log_set_stream(FILE *f)
{
	log_stream = f;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE when it connects stderr to the
 * journal; it only counts while stderr is still that stream. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &sb) < 0)
		return 0;
	return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

int log_to_journal(void)
{
	int j = atomic_load(&log_journal);

	if (j < 0) {
		j = stderr_is_journal();
		atomic_store(&log_journal, j);
	}
	return j;
}

void log_timestamp(char out[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* One line per event: "<N>level component message" for the journal (N the
 * RFC 5424 severity, which journald stores as the priority), otherwise
 * "TIMESTAMP level component message". */
void log_msg(int level, const char *component, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "notice", "info", "debug" };
	static const int severity[] = { 3, 4, 5, 6, 7 };
	char line[2048], ts[32];
	va_list ap;
	FILE *f = log_stream ? log_stream : stderr;
	int l = level < 0 ? 0 : level > LOG_DEBUG ? LOG_DEBUG : level;

	if (level > log_verbosity)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per event so that concurrent threads do not interleave lines. */
	if (f == stderr && log_to_journal()) {
		fprintf(f, "<%d>%s %s %s\n", severity[l], names[l], component, line);
	} else {
		log_timestamp(ts);
		fprintf(f, "%s %s %s %s\n", ts, names[l], component, line);
	}
	fflush(f);
}

/*---- Hex and base64 ----*/

void wsus_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int wsus_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wsus_hex_decode(const char *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = wsus_hex_digit((unsigned char)in[2 * i]);
		int lo = hi < 0 ? -1 : wsus_hex_digit((unsigned char)in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return in[2 * n] == '\0' ? 0 : -EINVAL;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t wsus_b64_encoded_len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

void wsus_b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int wsus_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	size_t o = 0;

	for (size_t i = 0; i < in_len; i++) {
		int c = (unsigned char)in[i], v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -EINVAL; /* data after padding */
		v = b64val(c);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -E2BIG;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (pad > 2 || bits >= 6)
		return -EINVAL;
	*out_len = o;
	return 0;
}

/*---- GUIDs ----*/

int wsus_guid_normalize(const char *in, char out[WSUS_GUID_LEN])
{
	size_t n;
	int braces = 0;

	if (in == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*in))
		in++;
	n = strlen(in);
	while (n > 0 && isspace((unsigned char)in[n - 1]))
		n--;
	if (n == 38 && in[0] == '{' && in[37] == '}') {
		in++;
		n -= 2;
		braces = 1;
	}
	(void)braces;
	if (n != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36; i++) {
		int c = (unsigned char)in[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return -EINVAL;
			out[i] = '-';
		} else {
			if (wsus_hex_digit(c) < 0)
				return -EINVAL;
			out[i] = (char)tolower(c);
		}
	}
	out[36] = '\0';
	return 0;
}

int wsus_guid_random(char out[WSUS_GUID_LEN])
{
	uint8_t b[16];
	char hex[33];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	wsus_hex_encode(b, 16, hex);
	snprintf(out, WSUS_GUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}

/*---- Digests ----*/

uint32_t wsus_fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

void wsus_sha1(const void *data, size_t n, uint8_t out[WSUS_SHA1_LEN])
{
	SHA1(data, n, out);
}

void wsus_sha256(const void *data, size_t n, uint8_t out[WSUS_SHA256_LEN])
{
	SHA256(data, n, out);
}

void wsus_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t n,
		      uint8_t out[WSUS_SHA256_LEN])
{
	unsigned int len = WSUS_SHA256_LEN;

	HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len);
}

void wsus_site_key(const uint8_t secret[WSUS_SITE_SECRET_LEN], const char *label, uint8_t out[32])
{
	char text[128];
	int n = snprintf(text, sizeof(text), "wsus-replica site %s", label);

	wsus_hmac_sha256(secret, WSUS_SITE_SECRET_LEN, text, (size_t)n, out);
	explicit_bzero(text, sizeof(text));
}

void wsus_site_server_id(const uint8_t secret[WSUS_SITE_SECRET_LEN], char out[WSUS_GUID_LEN])
{
	uint8_t b[32];
	char hex[33];

	wsus_site_key(secret, "server id", b);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	wsus_hex_encode(b, 16, hex);
	snprintf(out, WSUS_GUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	explicit_bzero(b, sizeof(b));
}

/*---- Files ----*/

int wsus_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = err_set(e, -errno, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(e, -EINVAL, "%s is not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		rc = err_set(e, -EFBIG, "%s is larger than %zu bytes", path, max);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory reading %s", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(e, -errno, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	*out = buf;
	*len = got;
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

int wsus_mkdir_p(const char *path, unsigned mode, struct err *e)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return err_set(e, -ENAMETOOLONG, "bad directory path '%s'", path);
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return err_set(e, -errno, "cannot create %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return err_set(e, -errno, "cannot create %s: %s", tmp, strerror(errno));
	return 0;
}

int wsus_fsync_parent(const char *path)
{
	char tmp[4096];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int wsus_write_file_atomic(const char *path, const void *data, size_t n, struct err *e)
{
	char tmp[4096];
	const char *p = data;
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return err_set(e, -ENAMETOOLONG, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, -errno, "cannot create %s: %s", tmp, strerror(errno));
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = err_set(e, -errno, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += w;
		n -= (size_t)w;
	}
	if (fsync(fd) < 0) {
		rc = err_set(e, -errno, "cannot fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = err_set(e, -errno, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return rc;
	}
	wsus_fsync_parent(path);
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return rc;
}

/*---- Buffers ----*/

void wsus_buf_init(struct wsus_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int buf_reserve(struct wsus_buf *b, size_t extra)
{
	size_t need, ncap;
	char *nd;

	if (extra > b->max || b->len > b->max - extra)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	nd = realloc(b->data, ncap);
	if (nd == NULL)
		return -ENOMEM;
	b->data = nd;
	b->cap = ncap;
	return 0;
}

int wsus_buf_append(struct wsus_buf *b, const void *data, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int wsus_buf_appends(struct wsus_buf *b, const char *s)
{
	return wsus_buf_append(b, s, strlen(s));
}

int wsus_buf_printf(struct wsus_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	int n, rc;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		return -EINVAL;
	}
	rc = buf_reserve(b, (size_t)n);
	if (rc == 0) {
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
	return rc;
}

int wsus_buf_append_xml_escaped(struct wsus_buf *b, const char *s, size_t n)
{
	size_t start = 0;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *rep = NULL;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		default: continue;
		}
		rc = wsus_buf_append(b, s + start, i - start);
		if (rc == 0)
			rc = wsus_buf_appends(b, rep);
		start = i + 1;
	}
	if (rc == 0)
		rc = wsus_buf_append(b, s + start, n - start);
	return rc;
}

int wsus_buf_append_xml_text(struct wsus_buf *b, const char *s, size_t n)
{
	size_t start = 0;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *rep;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '\r': rep = "&#13;"; break;
		default: continue;
		}
		rc = wsus_buf_append(b, s + start, i - start);
		if (rc == 0)
			rc = wsus_buf_appends(b, rep);
		start = i + 1;
	}
	if (rc == 0)
		rc = wsus_buf_append(b, s + start, n - start);
	return rc;
}

char *wsus_buf_steal(struct wsus_buf *b, size_t *len)
{
	char *d = b->data;

	if (d == NULL) {
		d = calloc(1, 1);
		if (len)
			*len = 0;
	} else if (len) {
		*len = b->len;
	}
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void wsus_buf_free(struct wsus_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/*---- Time ----*/

int64_t wsus_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wsus_wait_stop(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stop, int64_t ms)
{
	struct timespec until;
	int stopped;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(mu);
	while (!*stop && pthread_cond_timedwait(cv, mu, &until) != ETIMEDOUT)
		;
	stopped = *stop;
	pthread_mutex_unlock(mu);
	return stopped;
}

void wsus_time_iso(int64_t unix_ms, char out[32])
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
}

/*---- Update model ----*/

static const char *type_names[] = { "Unknown", "Software", "Driver", "Category", "Detectoid" };

const char *wsus_update_type_name(enum wsus_update_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "Unknown";
}

enum wsus_update_type wsus_update_type_parse(const char *s)
{
	if (s == NULL)
		return WSUS_UT_UNKNOWN;
	for (unsigned i = 1; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcasecmp(s, type_names[i]) == 0)
			return (enum wsus_update_type)i;
	return WSUS_UT_UNKNOWN;
}

const char *wsus_fragment_type_name(enum wsus_fragment_type t)
{
	switch (t) {
	case WSUS_FRAG_CORE: return "core";
	case WSUS_FRAG_EXTENDED: return "extended";
	case WSUS_FRAG_LOCALIZED: return "localized";
	case WSUS_FRAG_EULA: return "eula";
	}
	return "unknown";
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void wsus_update_free(struct wsus_update *u)
{
	if (u == NULL)
		return;
	free(u->category_type);
	free(u->title);
	free(u->description);
	free(u->kb_article);
	free(u->eula_id);
	free(u->default_language);
	free(u->creation_date);
	free(u->publication_state);
	free(u->secured_fragment);
	free(u->handler);
	free_strv(u->languages, u->n_languages);
	free(u->prereqs);
	free(u->bundled);
	free(u->superseded);
	for (size_t i = 0; i < u->n_files; i++) {
		struct wsus_file *f = &u->files[i];

		free(f->file_name);
		free(f->modified);
		free(f->patching_type);
		free(f->language);
		free(f->mu_url);
	}
	free(u->files);
	for (size_t i = 0; i < u->n_drivers; i++) {
		struct wsus_driver *d = &u->drivers[i];

		free(d->hardware_id);
		free(d->driver_ver_date);
		free(d->driver_ver_version);
		free(d->class_name);
		free(d->manufacturer);
		free(d->provider);
		free(d->model);
		free(d->company);
		for (size_t j = 0; j < d->n_scores; j++)
			free(d->scores[j].os);
		free(d->scores);
		free_strv(d->distribution_chids, d->n_distribution_chids);
		free_strv(d->target_chids, d->n_target_chids);
	}
	free(u->drivers);
	for (size_t i = 0; i < u->n_fragments; i++) {
		free(u->fragments[i].locale);
		free(u->fragments[i].xml);
	}
	free(u->fragments);
	free(u->xml);
	free(u);
}
