/*
 * sync_content.c -- the content phase (MS-WSUSSS 3.2.4.4): after the
 * metadata is published, fetch the payloads the catalogue lists and the
 * store lacks (all of them, or only approved ones with [sync] lazy_content),
 * from <upstream>/Content/<XX>/<SHA1>.<ext> over HTTPS (or the Windows
 * plain-HTTP content port when [trust] allow_http_content allows it).
 *
 * A payload is downloaded into DATADIR/partial/<sha1>.part, resumed with a
 * Range request after an interruption (also across runs), then handed to the
 * content store, which checks its size, SHA-1 and SHA-256 before it renames
 * it into place; a mismatch is quarantined and never served. A 404 asks the
 * upstream to fetch the file (DownloadFiles) and leaves it for the next sync.
 * None of this fails a sync: the counts go into the result.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync_phase.h"

/*---- URLs ----*/

int sync_content_url(const char *base, const uint8_t sha1[WSUS_SHA1_LEN], const char *file_name,
		     char *out, size_t cap)
{
	char hex[2 * WSUS_SHA1_LEN + 1], ext[10], path[80];

	wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
	for (char *p = hex; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	storage_content_ext(file_name, ext);
	snprintf(path, sizeof(path), "Content/%s/%s%s", hex + 38, hex, ext);
	return sync_url_join(base, path, out, cap);
}

int sync_content_http_base(const char *https_base, char *out, size_t cap)
{
	const char *host, *end, *colon = NULL;
	long port = 443;
	char *stop;

	if (strncasecmp(https_base, "https://", 8) != 0)
		return -EINVAL;
	host = https_base + 8;
	end = host + strcspn(host, "/?#");
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (rb == NULL)
			return -EINVAL;
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
	}
	if (colon != NULL) {
		port = strtol(colon + 1, &stop, 10);
		if (stop != end || port < 1 || port > 65535)
			return -EINVAL;
	}
	/* MS-WSUSSS 2.1 <5>: HTTPS on 443 -> HTTP 80; on N -> N-1. */
	port = port == 443 ? 80 : port - 1;
	if (port < 1)
		return -EINVAL;
	if (snprintf(out, cap, "http://%.*s:%ld", (int)((colon ? colon : end) - host), host, port) >= (int)cap)
		return -E2BIG;
	return 0;
}

/*---- One payload ----*/

struct part {
	int     fd;
	int64_t at;          /* bytes in the file */
	int64_t limit;       /* declared size, -1 unknown */
};

static int part_sink(void *ctx, int64_t offset, const void *data, size_t n)
{
	struct part *p = ctx;
	const uint8_t *b = data;

	if (offset == 0 && p->at != 0) {
		/* the upstream ignored our Range: start over */
		if (ftruncate(p->fd, 0) < 0 || lseek(p->fd, 0, SEEK_SET) < 0)
			return -errno;
		p->at = 0;
	}
	if (offset != p->at)
		return -EPROTO;
	/* More than the metadata says is never what we want: stop, the store quarantines it. */
	if (p->limit >= 0 && p->at + (int64_t)n > p->limit)
		return -EFBIG;
	while (n > 0) {
		ssize_t w = write(p->fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		n -= (size_t)w;
		p->at += w;
	}
	return 0;
}

/* Open (resuming) the partial file; *have = bytes already there. */
static int part_open(const char *path, const struct wsus_file *f, struct part *p, struct err *e)
{
	struct stat sb;

	p->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->fd < 0)
		return err_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
	p->limit = f->size;
	p->at = fstat(p->fd, &sb) == 0 ? sb.st_size : 0;
	if (p->limit >= 0 && p->at > p->limit) {
		if (ftruncate(p->fd, 0) < 0)
			return err_set(e, -errno, "cannot truncate %s: %s", path, strerror(errno));
		p->at = 0;
	}
	if (lseek(p->fd, p->at, SEEK_SET) < 0)
		return err_set(e, -errno, "cannot seek %s: %s", path, strerror(errno));
	return 0;
}

/* Download url into the partial file from where it stopped. */
static int download(struct sync_ctx *c, const char *url, const char *path, const struct wsus_file *f,
		    int64_t *got, struct err *e)
{
	struct part p = { .fd = -1 };
	int64_t start;
	int rc = part_open(path, f, &p, e);

	if (rc < 0)
		goto out;
	start = p.at;
	if (p.limit >= 0 && p.at == p.limit)
		goto out;   /* complete already: a run stopped before the store took it */
	rc = sync_http_get(c->http, url, SYNC_GET_PAYLOAD, p.at, part_sink, &p, NULL, e);
	*got += p.at - start;
out:
	if (p.fd >= 0)
		close(p.fd);
	/* Nothing to resume from (a 404, a refused connection): no file left behind. */
	if (rc < 0 && p.at == 0)
		unlink(path);
	return rc;
}

enum fetch_outcome { FETCHED, QUARANTINED, DEFERRED, FAILED, REFUSED };

/* Try the HTTPS content URL, then (if allowed) the plain-HTTP content port. */
static enum fetch_outcome fetch_one(struct sync_ctx *c, const struct wsus_file *f, const char *part_dir)
{
	char url[SYNC_URL_MAX], http_base[SYNC_URL_MAX], path[4096], hex[2 * WSUS_SHA1_LEN + 1];
	struct err e = { 0 };
	int rc, status404;

	wsus_hex_encode(f->sha1, WSUS_SHA1_LEN, hex);
	snprintf(path, sizeof(path), "%s/%s.part", part_dir, hex);
	if (c->up.catalog_only) {
		/* The upstream stores no payloads: they come from Microsoft Update. */
		if (f->mu_url == NULL || snprintf(url, sizeof(url), "%s", f->mu_url) >= (int)sizeof(url))
			return FAILED;
	} else if (sync_content_url(c->base, f->sha1, f->file_name, url, sizeof(url)) < 0) {
		return FAILED;
	}
	rc = download(c, url, path, f, &c->res->bytes, &e);
	if (rc < 0 && rc != -EPERM && c->cfg->tr_allow_http_content && !c->up.catalog_only &&
	    sync_content_http_base(c->base, http_base, sizeof(http_base)) == 0 &&
	    sync_content_url(http_base, f->sha1, f->file_name, url, sizeof(url)) == 0) {
		log_info("sync", "payload not available over HTTPS (%s), trying the HTTP content port url=%s",
			 e.msg, url);
		rc = download(c, url, path, f, &c->res->bytes, &e);
	}
	status404 = rc == -ENOENT;
	if (rc == -EPERM) {
		log_err("sync", "payload refused by the trust policy sha1=%s: %s", hex, e.msg);
		return REFUSED;
	}
	if (rc < 0 && rc != -EFBIG) {
		if (!status404)
			log_warn("sync", "payload download failed sha1=%s url=%s: %s", hex, url, e.msg);
		return status404 ? DEFERRED : FAILED;
	}
	/* Every digest is checked here, before the file can be served. */
	rc = storage_content_import(c->st, path, f, &e);
	if (rc == 0 || rc == -EBADMSG)
		unlink(path);
	if (rc == -EBADMSG) {
		log_warn("sync", "payload from the upstream failed verification, quarantined, not served"
			 " sha1=%s url=%s: %s", hex, url, e.msg);
		return QUARANTINED;
	}
	if (rc < 0) {
		log_warn("sync", "payload could not be stored sha1=%s: %s", hex, e.msg);
		return FAILED;
	}
	return FETCHED;
}

/*---- DownloadFiles ----*/

/* Ask the upstream to fetch what answered 404 (3.2.4.4); whatever it says,
 * the files are tried again by the next sync. */
static void ask_download(struct sync_ctx *c, const uint8_t (*sha1)[WSUS_SHA1_LEN], size_t n)
{
	for (size_t i = 0; i < n; i += SYNC_DIGESTS_PER_CALL) {
		size_t k = n - i < SYNC_DIGESTS_PER_CALL ? n - i : SYNC_DIGESTS_PER_CALL;
		struct protocol_soap_msg m;
		struct wsus_buf args;
		struct err e = { 0 };
		char b64[32];
		int rc;

		wsus_buf_init(&args, 1u << 16);
		rc = wsus_buf_appends(&args, "<fileDigestList>");
		for (size_t j = 0; j < k && rc == 0; j++) {
			wsus_b64_encode(sha1[i + j], WSUS_SHA1_LEN, b64);
			rc = wsus_buf_printf(&args, "<base64Binary>%s</base64Binary>", b64);
		}
		if (rc == 0)
			rc = wsus_buf_appends(&args, "</fileDigestList>");
		if (rc == 0)
			rc = sync_call(c, SYNC_SVC_SSS, "DownloadFiles", args.data, SYNC_CALL_COOKIE, &m, &e);
		wsus_buf_free(&args);
		if (rc == 0)
			protocol_soap_msg_free(&m);
		else
			log_warn("sync", "DownloadFiles for %zu payloads: %s", k, e.msg);
	}
}

/*---- The phase ----*/

int sync_phase_content(struct sync_ctx *c, struct err *e)
{
	const struct wsus_config *cfg = c->cfg;
	struct wsus_file *files = NULL;
	uint8_t (*missing)[WSUS_SHA1_LEN] = NULL;
	char part_dir[4096];
	size_t n = 0, n_missing = 0;
	int rc;

	if (!cfg->sy_content) {
		log_info("sync", "phase=content skipped=\"[sync] content = false\"");
		return 0;
	}
	if (c->up.catalog_only && !cfg->tr_allow_http_content) {
		/* Microsoft Update serves its payloads (MUUrl) over plain HTTP. */
		log_warn("sync", "phase=content skipped=\"the upstream is catalogue-only: payloads come from their"
			 " MUUrl over http://, which needs [trust] allow_http_content = true\"");
		return 0;
	}
	if ((size_t)snprintf(part_dir, sizeof(part_dir), "%s/partial", cfg->st_data_dir) >= sizeof(part_dir))
		return err_set(e, -ENAMETOOLONG, "data directory path too long");
	rc = wsus_mkdir_p(part_dir, 0700, e);
	if (rc == 0)
		rc = storage_sync_files_wanted(c->st, cfg->sy_lazy_content, wsus_now_ms() - SYNC_QUARANTINE_RETRY_MS,
					       &files, &n, e);
	if (rc < 0)
		return rc;
	c->res->files_wanted = n;
	missing = calloc(n ? n : 1, sizeof(*missing));
	if (missing == NULL) {
		storage_sync_files_free(files, n);
		return err_set(e, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = sync_check_cancel(c, e);
		if (rc < 0)
			break;
		switch (fetch_one(c, &files[i], part_dir)) {
		case FETCHED:     c->res->files_fetched++; break;
		case QUARANTINED: c->res->files_quarantined++; break;
		case FAILED:      c->res->files_failed++; break;
		case DEFERRED:
			c->res->files_deferred++;
			memcpy(missing[n_missing++], files[i].sha1, WSUS_SHA1_LEN);
			break;
		case REFUSED:
			rc = err_set(e, -EPERM, "the upstream's content connection failed the trust checks");
			break;
		}
		sync_progress(c, "content", i + 1, n);
	}
	sync_progress_end(c);
	if (rc == 0 && n_missing > 0)
		ask_download(c, (const uint8_t (*)[WSUS_SHA1_LEN])missing, n_missing);
	log_info("sync", "phase=content wanted=%zu fetched=%zu quarantined=%zu deferred=%zu failed=%zu bytes=%lld",
		 n, c->res->files_fetched, c->res->files_quarantined, c->res->files_deferred,
		 c->res->files_failed, (long long)c->res->bytes);
	free(missing);
	storage_sync_files_free(files, n);
	return rc;
}
