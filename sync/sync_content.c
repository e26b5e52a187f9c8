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
 *
 * WAN friendliness. [sync] max_download_rate bounds the payload bytes per
 * second of the whole phase: the sink sleeps until the bytes received so far
 * are due at that rate (a pacer over the phase, so a thousand small files
 * cannot each start with a burst), and libcurl's CURLOPT_MAX_RECV_SPEED_LARGE
 * smooths each transfer at the same rate. Payloads are fetched one at a time
 * and only one content phase runs per data directory (the sync lock), so the
 * one transfer's limit is the whole limit; were transfers ever run side by
 * side, each would get rate / transfers. SOAP requests are never limited.
 * [sync] window confines the phase to a daily time span (local time): outside
 * it the phase fetches nothing and says when it opens (the scheduler comes
 * back then), and a phase that runs into the end of the window stops between
 * files. Every [sync] progress_interval seconds, or each 5% of the bytes, one
 * progress line is logged (files, bytes, rate, ETA).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
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

/*---- The window ----*/

#define MIN_PER_DAY 1440

int sync_window_open(const struct wsus_config *cfg, time_t now, int64_t *opens_in_ms)
{
	struct tm tm;
	int start, end, min, open;
	int64_t wait_min;

	if (opens_in_ms != NULL)
		*opens_in_ms = 0;
	if (cfg->sy_window == NULL || config_window_parse(cfg->sy_window, &start, &end) < 0)
		return 1;
	if (localtime_r(&now, &tm) == NULL)
		return 1;
	min = tm.tm_hour * 60 + tm.tm_min;
	open = start < end ? (min >= start && min < end) : (min >= start || min < end);
	if (!open && opens_in_ms != NULL) {
		wait_min = (start - min + MIN_PER_DAY) % MIN_PER_DAY;
		*opens_in_ms = (wait_min * 60 - tm.tm_sec) * 1000;
		if (*opens_in_ms < 1000)
			*opens_in_ms = 1000;
	}
	return open;
}

/*---- Pace and progress ----*/

#define PACE_SLICE_MS   200   /* longest sleep between cancel checks */
#define PROGRESS_STEP   5     /* percent of the bytes between progress lines */

struct content_run {
	struct sync_ctx *c;
	int64_t rate;            /* bytes/s over the phase, 0 = unlimited */
	int64_t t0_ms;
	int64_t received;        /* payload bytes received in this phase */
	int64_t bytes_total;     /* declared sizes of the wanted payloads */
	size_t  files_total, files_done;
	int64_t line_ms;         /* last progress line */
	int     line_step;       /* PROGRESS_STEP steps already reported */
};

static void progress_line(struct content_run *cr, int force)
{
	int64_t now = wsus_now_ms(), elapsed = now - cr->t0_ms, rate, eta = -1, left;
	int step = cr->bytes_total > 0 ? (int)(cr->received * 100 / cr->bytes_total) / PROGRESS_STEP : 0;

	if (!force && now - cr->line_ms < (int64_t)cr->c->cfg->sy_progress_interval * 1000 && step <= cr->line_step)
		return;
	cr->line_ms = now;
	cr->line_step = step;
	rate = elapsed > 0 ? cr->received * 1000 / elapsed : 0;
	left = cr->bytes_total - cr->received;
	if (rate > 0)
		eta = (left > 0 ? left : 0) / rate;
	log_info("sync", "content progress files=%zu/%zu bytes=%lld/%lld rate=%lldB/s eta=%s%llds",
		 cr->files_done, cr->files_total, (long long)cr->received, (long long)cr->bytes_total,
		 (long long)rate, eta < 0 ? "unknown-" : "", (long long)(eta < 0 ? 0 : eta));
}

/* Count n received bytes; sleep until they are due at the rate. */
static int pace(struct content_run *cr, size_t n)
{
	int64_t due, now;

	cr->received += (int64_t)n;
	progress_line(cr, 0);
	if (cr->rate <= 0)
		return 0;
	due = cr->t0_ms + cr->received * 1000 / cr->rate;
	while ((now = wsus_now_ms()) < due) {
		int64_t ms = due - now < PACE_SLICE_MS ? due - now : PACE_SLICE_MS;
		struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

		if (cr->c->opt->cancel != NULL && atomic_load(cr->c->opt->cancel))
			return -ECANCELED;
		nanosleep(&ts, NULL);
		progress_line(cr, 0);
	}
	return 0;
}

/*---- One payload ----*/

struct part {
	int     fd;
	int64_t at;          /* bytes in the file */
	int64_t limit;       /* declared size, -1 unknown */
	struct content_run *cr;
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
		if (p->cr != NULL) {
			int rc = pace(p->cr, (size_t)w);

			if (rc < 0)
				return rc;
		}
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
static int download(struct content_run *cr, const char *url, const char *path, const struct wsus_file *f,
		    int64_t *got, struct err *e)
{
	struct sync_ctx *c = cr->c;
	struct part p = { .fd = -1, .cr = cr };
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

enum fetch_outcome { FETCHED, QUARANTINED, DEFERRED, FAILED, REFUSED, CANCELLED };

/* Try the HTTPS content URL, then (if allowed) the plain-HTTP content port. */
static enum fetch_outcome fetch_one(struct content_run *cr, const struct wsus_file *f, const char *part_dir)
{
	struct sync_ctx *c = cr->c;
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
	rc = download(cr, url, path, f, &c->res->bytes, &e);
	if (rc < 0 && rc != -EPERM && c->cfg->tr_allow_http_content && !c->up.catalog_only &&
	    sync_content_http_base(c->base, http_base, sizeof(http_base)) == 0 &&
	    sync_content_url(http_base, f->sha1, f->file_name, url, sizeof(url)) == 0) {
		log_info("sync", "payload not available over HTTPS (%s), trying the HTTP content port url=%s",
			 e.msg, url);
		rc = download(cr, url, path, f, &c->res->bytes, &e);
	}
	status404 = rc == -ENOENT;
	if (rc == -ECANCELED)
		return CANCELLED;
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

/* Outside the window: say so, and when it opens (0 when open or ignored). */
static int window_closed(struct sync_ctx *c)
{
	int64_t opens = 0;

	if (c->opt->ignore_window || sync_window_open(c->cfg, time(NULL), &opens))
		return 0;
	c->res->window_closed = 1;
	c->res->window_opens_ms = opens;
	return 1;
}

static void run_init(struct content_run *cr, struct sync_ctx *c, const struct wsus_file *files, size_t n)
{
	memset(cr, 0, sizeof(*cr));
	cr->c = c;
	cr->rate = c->cfg->sy_max_download_rate;
	cr->t0_ms = cr->line_ms = wsus_now_ms();
	cr->files_total = n;
	for (size_t i = 0; i < n; i++)
		cr->bytes_total += files[i].size > 0 ? files[i].size : 0;
	if (c->http != NULL)
		sync_http_set_recv_limit(c->http, cr->rate);
}

/* Quarantined payloads whose quarantine files an admin deleted: wanted again. */
static void requeue(struct sync_ctx *c)
{
	struct err e = { 0 };
	int64_t n = 0;

	if (storage_content_requeue(c->st, &n, &e) < 0)
		log_warn("sync", "could not re-queue quarantined payloads: %s", e.msg);
}

static int fetch_all(struct content_run *cr, struct wsus_file *files, size_t n, const char *part_dir,
		     uint8_t (*missing)[WSUS_SHA1_LEN], size_t *n_missing, struct err *e)
{
	struct sync_ctx *c = cr->c;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = sync_check_cancel(c, e);
		if (rc < 0)
			break;
		if (window_closed(c)) {
			log_info("sync", "phase=content paused: [sync] window %s closed, %zu payloads left opens_in=%llds",
				 c->cfg->sy_window, n - i, (long long)(c->res->window_opens_ms / 1000));
			break;
		}
		switch (fetch_one(cr, &files[i], part_dir)) {
		case FETCHED:     c->res->files_fetched++; break;
		case QUARANTINED: c->res->files_quarantined++; break;
		case FAILED:      c->res->files_failed++; break;
		case DEFERRED:
			c->res->files_deferred++;
			memcpy(missing[(*n_missing)++], files[i].sha1, WSUS_SHA1_LEN);
			break;
		case REFUSED:
			rc = err_set(e, -EPERM, "the upstream's content connection failed the trust checks");
			break;
		case CANCELLED:
			rc = err_set(e, -ECANCELED, "sync cancelled");
			break;
		}
		cr->files_done = i + 1;
		sync_progress(c, "content", i + 1, n);
		progress_line(cr, 0);
	}
	sync_progress_end(c);
	return rc;
}

int sync_phase_content(struct sync_ctx *c, struct err *e)
{
	const struct wsus_config *cfg = c->cfg;
	struct wsus_file *files = NULL;
	uint8_t (*missing)[WSUS_SHA1_LEN] = NULL;
	struct content_run cr;
	char part_dir[4096];
	size_t n = 0, n_missing = 0;
	int64_t retry_before;
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
	if (window_closed(c)) {
		log_info("sync", "phase=content deferred: outside [sync] window %s opens_in=%llds", cfg->sy_window,
			 (long long)(c->res->window_opens_ms / 1000));
		return 0;
	}
	if ((size_t)snprintf(part_dir, sizeof(part_dir), "%s/partial", cfg->st_data_dir) >= sizeof(part_dir))
		return err_set(e, -ENAMETOOLONG, "data directory path too long");
	requeue(c);
	retry_before = c->opt->retry_quarantined ? wsus_now_ms() + 1 : wsus_now_ms() - SYNC_QUARANTINE_RETRY_MS;
	rc = wsus_mkdir_p(part_dir, 0700, e);
	if (rc == 0)
		rc = storage_sync_files_wanted(c->st, cfg->sy_lazy_content, retry_before, &files, &n, e);
	if (rc < 0)
		return rc;
	c->res->files_wanted = n;
	missing = calloc(n ? n : 1, sizeof(*missing));
	if (missing == NULL) {
		storage_sync_files_free(files, n);
		return err_set(e, -ENOMEM, "out of memory");
	}
	run_init(&cr, c, files, n);
	if (n > 0)
		progress_line(&cr, 1);
	rc = fetch_all(&cr, files, n, part_dir, missing, &n_missing, e);
	if (rc == 0 && n_missing > 0)
		ask_download(c, (const uint8_t (*)[WSUS_SHA1_LEN])missing, n_missing);
	log_info("sync", "phase=content wanted=%zu fetched=%zu quarantined=%zu deferred=%zu failed=%zu bytes=%lld"
		 " seconds=%.1f", n, c->res->files_fetched, c->res->files_quarantined, c->res->files_deferred,
		 c->res->files_failed, (long long)c->res->bytes, (double)(wsus_now_ms() - cr.t0_ms) / 1000.0);
	free(missing);
	storage_sync_files_free(files, n);
	return rc;
}
