/*
 * server_content.c -- GET/HEAD /Content/<XX>/<SHA1>.<ext>: verified payloads
 * by SHA-1, with single and multiple byte ranges, strong ETag (the SHA-1),
 * Last-Modified, conditional requests and exact Content-Length.
 *
 * The request text never becomes a path: it is parsed to a SHA-1 and the
 * store answers with the file's path (storage_content_path), which exists
 * only for payloads that passed verification. Single ranges and whole files
 * are fd responses (MHD sends them with sendfile on plain connections);
 * several ranges are streamed as multipart/byteranges from one fd with a
 * fixed block, so memory stays bounded whatever the ranges. Every response
 * owns its fd; MHD closes it when the response is destroyed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/rand.h>

#include "server_int.h"

#define CONTENT_PREFIX      "/Content/"
#define CONTENT_PREFIX_LEN  9
#define MULTIPART_BLOCK     (64 * 1024)
/* MHD reads fd responses 4 KiB at a time, which over TLS means a pread and
 * a TLS record per 4 KiB; TLS responses read through a callback in blocks
 * of this size instead. Plain connections keep fd responses (sendfile). */
#define TLS_FILE_BLOCK      (64 * 1024)
#define MULTIPART_TEXT_MAX  (SERVER_MAX_RANGES * 192 + 128)

/*---- Path ----*/

int server_content_parse_path(const char *path, uint8_t sha1[WSUS_SHA1_LEN], char ext[16])
{
	const char *p, *hash;
	char hex[2 * WSUS_SHA1_LEN + 1];
	size_t n;

	if (strncasecmp(path, CONTENT_PREFIX, CONTENT_PREFIX_LEN) != 0)
		return -ENOENT;
	p = path + CONTENT_PREFIX_LEN;
	if (wsus_hex_digit(p[0]) < 0 || wsus_hex_digit(p[1]) < 0 || p[2] != '/')
		return -ENOENT;
	hash = p + 3;
	for (n = 0; n < 2 * WSUS_SHA1_LEN; n++)
		if (wsus_hex_digit(hash[n]) < 0)
			return -ENOENT;
	/* the folder is the last byte of the SHA-1, as the store lays it out */
	if (wsus_hex_digit(p[0]) != wsus_hex_digit(hash[38]) || wsus_hex_digit(p[1]) != wsus_hex_digit(hash[39]))
		return -ENOENT;
	p = hash + 2 * WSUS_SHA1_LEN;
	ext[0] = '\0';
	if (*p == '.') {
		for (n = 0, p++; p[n] != '\0'; n++)
			if (n >= 15 || !((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'z')
					 || (p[n] >= 'A' && p[n] <= 'Z')))
				return -ENOENT;
		if (n == 0)
			return -ENOENT;
		memcpy(ext, p, n + 1);
	} else if (*p != '\0') {
		return -ENOENT;
	}
	memcpy(hex, hash, 2 * WSUS_SHA1_LEN);
	hex[2 * WSUS_SHA1_LEN] = '\0';
	return wsus_hex_decode(hex, sha1, WSUS_SHA1_LEN) < 0 ? -ENOENT : 0;
}

/*---- Range ----*/

static void skip_ows(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Decimal digits into *out, saturating at INT64_MAX (a huge position is
 * well formed, just beyond any file). -1 when there is no digit. */
static int parse_pos(const char **p, int64_t *out)
{
	int64_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*s - '0');
	*p = s;
	*out = v;
	return 0;
}

int server_range_parse(const char *hdr, int64_t size, struct server_range *out, size_t max)
{
	const char *p = hdr;
	size_t n = 0, specs = 0;
	int64_t total = 0;           /* bytes asked for, kept <= size */
	int over = 0;                /* the ranges add up to more than size */

	skip_ows(&p);
	if (strncasecmp(p, "bytes", 5) != 0)
		return 0;
	p += 5;
	skip_ows(&p);
	if (*p++ != '=')
		return 0;
	for (;;) {
		int64_t first, last = INT64_MAX, len;
		int suffix = 0;

		skip_ows(&p);
		if (*p == ',') {             /* empty list elements are allowed */
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (*p == '-') {
			p++;
			suffix = 1;
			if (parse_pos(&p, &len) < 0)
				return 0;
		} else {
			if (parse_pos(&p, &first) < 0 || *p++ != '-')
				return 0;
			if (*p >= '0' && *p <= '9' && parse_pos(&p, &last) == 0 && last < first)
				return 0;
		}
		skip_ows(&p);
		if (*p != ',' && *p != '\0')
			return 0;
		if (++specs > max)
			return 0;
		if (suffix) {
			if (len == 0 || size == 0)
				continue;
			first = len >= size ? 0 : size - len;
			last = size - 1;
		} else {
			if (first >= size)
				continue;
			if (last > size - 1)
				last = size - 1;
		}
		out[n].first = first;
		out[n].last = last;
		/* compared before adding: a sum near INT64_MAX must not overflow */
		if (last - first + 1 > size - total)
			over = 1;
		else
			total += last - first + 1;
		n++;
	}
	if (specs == 0)
		return 0;
	if (n == 0)
		return -ERANGE;
	/* overlapping ranges asking for more than the file: send it once instead */
	if (n > 1 && over)
		return 0;
	return (int)n;
}

/*---- Dates and validators ----*/

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

/* IMF-fixdate, independent of the locale. */
static void http_date(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday % 7],
		 tm.tm_mday, month_names[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

static int month_index(const char *m)
{
	for (int i = 0; i < 12; i++)
		if (strcmp(m, month_names[i]) == 0)
			return i;
	return -1;
}

int server_http_date_parse(const char *s, int64_t *out)
{
	char wd[16], mon[4];
	int d, y, h, mi, sec, end = 0;
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &h, &mi,
		   &sec, &end) == 7 && end > 0 && s[end] == '\0') {
		/* IMF-fixdate */
	} else if (end = 0, sscanf(s, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd, &d,
				   mon, &y, &h, &mi, &sec, &end) == 7 && end > 0 && s[end] == '\0') {
		y += y < 70 ? 2000 : 1900;  /* RFC 850: two-digit year */
	} else if (end = 0, sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &h,
				   &mi, &sec, &y, &end) == 7 && end > 0 && s[end] == '\0') {
		/* asctime */
	} else {
		return -EINVAL;
	}
	tm.tm_mon = month_index(mon);
	if (tm.tm_mon < 0 || d < 1 || d > 31 || y < 1970 || h > 23 || mi > 59 || sec > 60
	    || h < 0 || mi < 0 || sec < 0)
		return -EINVAL;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

/* Does the entity-tag list hdr ("*" or 1#entity-tag) contain etag (with its
 * quotes)? strong: W/ tags never match (RFC 9110 8.8.3.2). */
static int etag_list_match(const char *hdr, const char *etag, int strong)
{
	const char *p = hdr;
	size_t elen = strlen(etag);

	for (;;) {
		int weak = 0;
		const char *q;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/') {
			weak = 1;
			p += 2;
		}
		if (*p != '"')
			return 0;
		q = strchr(p + 1, '"');
		if (q == NULL)
			return 0;
		if ((size_t)(q + 1 - p) == elen && memcmp(p, etag, elen) == 0 && !(strong && weak))
			return 1;
		p = q + 1;
	}
}

enum server_cond_result server_cond_eval(const struct server_cond *c, const char *etag,
					 int64_t mtime, int *use_range)
{
	int64_t t;

	*use_range = 1;
	if (c->if_match != NULL) {
		if (!etag_list_match(c->if_match, etag, 1))
			return SERVER_COND_FAILED;
	} else if (c->if_unmodified_since != NULL
		   && server_http_date_parse(c->if_unmodified_since, &t) == 0 && mtime > t) {
		return SERVER_COND_FAILED;
	}
	if (c->if_none_match != NULL) {
		if (etag_list_match(c->if_none_match, etag, 0))
			return SERVER_COND_NOT_MODIFIED;
	} else if (c->if_modified_since != NULL
		   && server_http_date_parse(c->if_modified_since, &t) == 0 && mtime <= t) {
		return SERVER_COND_NOT_MODIFIED;
	}
	if (c->if_range != NULL) {
		const char *v = c->if_range;

		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '"' || (v[0] == 'W' && v[1] == '/'))
			*use_range = *v == '"' && etag_list_match(v, etag, 1);
		else
			*use_range = server_http_date_parse(v, &t) == 0 && t == mtime;
	}
	return SERVER_COND_SERVE;
}

/*---- Multipart/byteranges, streamed ----*/

struct mp_seg {
	int64_t at;       /* where the segment starts in the body */
	int64_t len;
	int64_t src;      /* file offset, or offset in text when is_text */
	int     is_text;
};

struct multipart {
	int fd;
	size_t n_seg;
	size_t hint;                                /* MHD reads forward: start looking here */
	struct mp_seg seg[2 * SERVER_MAX_RANGES + 1];
	struct wsus_buf text;                       /* part headers and the closing line */
};

static ssize_t mp_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct multipart *mp = cls;
	const struct mp_seg *s;
	size_t i = mp->hint;
	int64_t off;
	size_t n;
	ssize_t r;

	if (i >= mp->n_seg || (uint64_t)mp->seg[i].at > pos)
		i = 0;
	while (i < mp->n_seg && (uint64_t)(mp->seg[i].at + mp->seg[i].len) <= pos)
		i++;
	if (i >= mp->n_seg)
		return MHD_CONTENT_READER_END_OF_STREAM;
	mp->hint = i;
	s = &mp->seg[i];
	off = (int64_t)pos - s->at;
	n = (size_t)(s->len - off) < max ? (size_t)(s->len - off) : max;
	if (s->is_text) {
		memcpy(buf, mp->text.data + s->src + off, n);
		return (ssize_t)n;
	}
	do
		r = pread(mp->fd, buf, n, (off_t)(s->src + off));
	while (r < 0 && errno == EINTR);
	/* a payload that shrank under us: cut the response rather than lie */
	return r > 0 ? r : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void mp_free(void *cls)
{
	struct multipart *mp = cls;

	close(mp->fd);
	wsus_buf_free(&mp->text);
	free(mp);
}

static void mp_add(struct multipart *mp, int64_t *at, int is_text, int64_t src, int64_t len)
{
	struct mp_seg *s = &mp->seg[mp->n_seg++];

	s->at = *at;
	s->len = len;
	s->src = src;
	s->is_text = is_text;
	*at += len;
}

/* Build the multipart body plan; takes fd (closed on failure too). */
static struct MHD_Response *multipart_response(int fd, int64_t size, const struct server_range *r,
					       size_t n, char *ctype, size_t ctype_size)
{
	struct multipart *mp = calloc(1, sizeof(*mp));
	struct MHD_Response *resp;
	unsigned char rnd[12];
	char boundary[2 * sizeof(rnd) + 1];
	int64_t at = 0;
	size_t start;
	int rc = 0;

	if (mp == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		free(mp);
		close(fd);
		return NULL;
	}
	mp->fd = fd;
	wsus_buf_init(&mp->text, MULTIPART_TEXT_MAX);
	wsus_hex_encode(rnd, sizeof(rnd), boundary);
	for (size_t i = 0; i < n && rc == 0; i++) {
		start = mp->text.len;
		rc = wsus_buf_printf(&mp->text,
				     "%s--%s\r\nContent-Type: application/octet-stream\r\n"
				     "Content-Range: bytes %lld-%lld/%lld\r\n\r\n",
				     i == 0 ? "" : "\r\n", boundary, (long long)r[i].first,
				     (long long)r[i].last, (long long)size);
		if (rc == 0) {
			mp_add(mp, &at, 1, (int64_t)start, (int64_t)(mp->text.len - start));
			mp_add(mp, &at, 0, r[i].first, r[i].last - r[i].first + 1);
		}
	}
	start = mp->text.len;
	if (rc == 0)
		rc = wsus_buf_printf(&mp->text, "\r\n--%s--\r\n", boundary);
	if (rc < 0) {
		mp_free(mp);
		return NULL;
	}
	mp_add(mp, &at, 1, (int64_t)start, (int64_t)(mp->text.len - start));
	snprintf(ctype, ctype_size, "multipart/byteranges; boundary=%s", boundary);
	resp = MHD_create_response_from_callback((uint64_t)at, MULTIPART_BLOCK, mp_read, mp, mp_free);
	if (resp == NULL)
		mp_free(mp);
	return resp;
}

/*---- Single file ranges ----*/

struct fd_reader {
	int fd;
	int64_t base;    /* file offset of response position 0 */
};

static ssize_t fd_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct fd_reader *r = cls;
	ssize_t n;

	do
		n = pread(r->fd, buf, max, (off_t)(r->base + (int64_t)pos));
	while (n < 0 && errno == EINTR);
	return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void fd_free(void *cls)
{
	struct fd_reader *r = cls;

	close(r->fd);
	free(r);
}

/* len bytes of fd from offset; takes fd (closed on failure too). */
static struct MHD_Response *file_response(int fd, int64_t offset, int64_t len, int tls)
{
	struct fd_reader *r;
	struct MHD_Response *resp;

	if (!tls) {
		resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, (uint64_t)offset);
		if (resp == NULL)
			close(fd);
		return resp;
	}
	r = malloc(sizeof(*r));
	if (r == NULL) {
		close(fd);
		return NULL;
	}
	r->fd = fd;
	r->base = offset;
	resp = MHD_create_response_from_callback((uint64_t)len, TLS_FILE_BLOCK, fd_read, r, fd_free);
	if (resp == NULL)
		fd_free(r);
	return resp;
}

/*---- The handler ----*/

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static void add_validators(struct MHD_Response *r, const char *etag, const char *lastmod)
{
	MHD_add_response_header(r, "ETag", etag);
	MHD_add_response_header(r, "Last-Modified", lastmod);
	MHD_add_response_header(r, "Accept-Ranges", "bytes");
}

/* The stored file's extension must be the one asked for, as a static file
 * server would have it ("" on both sides when there is none). */
static int ext_matches(const char *path, const char *ext)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	dot = strchr(base, '.');
	return strcasecmp(dot ? dot + 1 : "", ext) == 0;
}

static int queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r, uint64_t bytes)
{
	int ret;

	if (r == NULL)
		return server_reply_status(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	ret = server_queue_response(conn, status, r, bytes);
	MHD_destroy_response(r);
	return ret;
}

/* 416 says how big the file is, so that the client can ask again. */
static int reply_416(struct MHD_Connection *conn, int64_t size)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	char cr[64];

	if (r != NULL) {
		snprintf(cr, sizeof(cr), "bytes */%lld", (long long)size);
		MHD_add_response_header(r, "Content-Range", cr);
		MHD_add_response_header(r, "Accept-Ranges", "bytes");
	}
	return queue(conn, MHD_HTTP_RANGE_NOT_SATISFIABLE, r, 0);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* 304 carries the validators. Its Content-Length, when sent, must be the
 * size a 200 would have had (RFC 9110 8.6): MHD writes the response size
 * there and never sends a 304 body, so the response claims the file size
 * with a reader that is never called. */
static int reply_304(struct MHD_Connection *conn, int64_t size, const char *etag, const char *lastmod)
{
	struct MHD_Response *r = MHD_create_response_from_callback((uint64_t)size, 1024, no_body, NULL,
								   NULL);

	if (r != NULL)
		add_validators(r, etag, lastmod);
	return queue(conn, MHD_HTTP_NOT_MODIFIED, r, 0);
}

static int open_payload(struct server_req *req, const uint8_t sha1[WSUS_SHA1_LEN], const char *ext,
			struct stat *sb)
{
	char path[4096];
	int fd;

	if (storage_content_path(req->st, sha1, path, sizeof(path)) < 0 || !ext_matches(path, ext))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* Serve fd (owned from here on) to a request that passed the conditions. */
static int serve(struct server_req *req, struct MHD_Connection *conn, int fd, int64_t size,
		 int use_range, const char *etag, const char *lastmod)
{
	struct server_range r[SERVER_MAX_RANGES];
	const char *range = use_range ? header(conn, "Range") : NULL;
	struct MHD_Response *resp;
	char cr[96], ctype[96] = "application/octet-stream";
	unsigned status = MHD_HTTP_OK;
	int n = range ? server_range_parse(range, size, r, SERVER_MAX_RANGES) : 0;
	uint64_t bytes = (uint64_t)size;   /* payload bytes sent, for the access log */

	if (n == -ERANGE) {
		close(fd);
		log_debug("server", "content unsatisfiable range=%s size=%lld peer=%s", range,
			  (long long)size, req->peer);
		return reply_416(conn, size);
	}
	if (n == 1) {
		status = MHD_HTTP_PARTIAL_CONTENT;
		bytes = (uint64_t)(r[0].last - r[0].first + 1);
		resp = file_response(fd, r[0].first, r[0].last - r[0].first + 1, req->tls);
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)r[0].first,
			 (long long)r[0].last, (long long)size);
	} else if (n > 1) {
		status = MHD_HTTP_PARTIAL_CONTENT;
		resp = multipart_response(fd, size, r, (size_t)n, ctype, sizeof(ctype));
		bytes = 0;
		for (int i = 0; i < n; i++)
			bytes += (uint64_t)(r[i].last - r[i].first + 1);
	} else if (size == 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	} else {
		resp = file_response(fd, 0, size, req->tls);
	}
	if (resp == NULL)
		return server_reply_status(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	add_validators(resp, etag, lastmod);
	MHD_add_response_header(resp, "Content-Type", ctype);
	if (n == 1)
		MHD_add_response_header(resp, "Content-Range", cr);
	log_debug("server", "content status=%u ranges=%d size=%lld path=%s peer=%s", status, n,
		  (long long)size, req->path, req->peer);
	return queue(conn, status, resp, bytes);
}

int server_file_serve(struct server_req *req, struct MHD_Connection *conn, int fd, const struct stat *sb,
		      const char *etag)
{
	char lastmod[32];
	struct server_cond c;
	int use_range;
	enum server_cond_result cr;

	http_date((int64_t)sb->st_mtime, lastmod);
	c.if_match = header(conn, "If-Match");
	c.if_none_match = header(conn, "If-None-Match");
	c.if_modified_since = header(conn, "If-Modified-Since");
	c.if_unmodified_since = header(conn, "If-Unmodified-Since");
	c.if_range = header(conn, "If-Range");
	cr = server_cond_eval(&c, etag, (int64_t)sb->st_mtime, &use_range);
	if (cr == SERVER_COND_SERVE)
		return serve(req, conn, fd, (int64_t)sb->st_size, use_range, etag, lastmod);
	close(fd);
	if (cr == SERVER_COND_FAILED)
		return server_reply_status(conn, MHD_HTTP_PRECONDITION_FAILED, NULL);
	return reply_304(conn, (int64_t)sb->st_size, etag, lastmod);
}

int server_content_handle(struct server_req *req, struct MHD_Connection *conn)
{
	uint8_t sha1[WSUS_SHA1_LEN];
	char ext[16], hex[2 * WSUS_SHA1_LEN + 1], etag[2 * WSUS_SHA1_LEN + 3];
	struct stat sb;
	int fd;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		server_log_refused(req, MHD_HTTP_METHOD_NOT_ALLOWED, "content is GET/HEAD only");
		return server_reply_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD");
	}
	if (server_content_parse_path(req->path, sha1, ext) < 0) {
		server_log_refused(req, MHD_HTTP_NOT_FOUND, "not a content path");
		return server_reply_status(conn, MHD_HTTP_NOT_FOUND, NULL);
	}
	fd = open_payload(req, sha1, ext, &sb);
	if (fd < 0) {
		server_log_refused(req, MHD_HTTP_NOT_FOUND, "not in the store");
		return server_reply_status(conn, MHD_HTTP_NOT_FOUND, NULL);
	}
	wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	return server_file_serve(req, conn, fd, &sb, etag);
}
