/*
 * sync_run.c -- one sync with the upstream, phase by phase, and the one
 * transaction that makes what it fetched visible. sync_run opens its own
 * storage handle and HTTP client and frees both; the result it fills holds
 * no pointers the caller must free.
 *
 * The phase pipeline (MS-WSUSSS 3.2.4; digest section 8):
 *
 *     IDLE --lock--> AUTH --> CONFIG --> CATEGORIES --> UPDATES --> KEYS
 *                     ^                                              |
 *                     | ServerChanged (once: anchors dropped)        v
 *                     +------------------------------------ DEPLOYMENTS (replica only)
 *                                                                    |
 *                                                                    v
 *     IDLE <--unlock-- DONE <-- ROLLUP <-- CONTENT <------------- PUBLISH
 *       ^                                                            |
 *       +---------------- ERROR <-- (any failure from AUTH to PUBLISH)
 *
 *   transition                  function
 *   IDLE -> AUTH                sync_run: sync_lock_take, ctx_open
 *   AUTH                        sync_auth (sync_call.c), again on InvalidCookie or expiry
 *   CONFIG                      sync_phase_config (sync_meta.c)
 *   CATEGORIES, UPDATES         sync_phase_list (sync_meta.c) -> sync_fetch
 *   KEYS                        sync_phase_keys (sync_meta.c)
 *   DEPLOYMENTS                 sync_phase_deployments (sync_deploy.c)
 *   PUBLISH                     sync_publish (here) -> sync_deploy_publish
 *   CONTENT                     sync_phase_content (sync_content.c)
 *   ROLLUP                      sync_phase_rollup (sync_report.c)
 *   * -> ERROR                  run_metadata / publish return < 0
 *
 * What holds in each state:
 *   IDLE         no lock held by us; the catalogue is the last published one.
 *   AUTH         we hold DATADIR/sync.lock (flock), so no other sync of this
 *                data directory runs; nothing written yet.
 *   CONFIG ..    answers are only staged (sync_stage, one transaction per
 *   DEPLOYMENTS  GetUpdateData answer); the catalogue, the anchors and the
 *                deployments clients and downstream servers see are exactly
 *                those of the last published sync. New anchors and the
 *                GetDeployments answer live in memory only.
 *   PUBLISH      one storage transaction moves the staging into the
 *                catalogue, applies groups, deployments, declines and EULAs,
 *                saves the four anchors exactly as the upstream sent them,
 *                records the sync and empties the staging. It commits whole
 *                or not at all: readers see the old or the new catalogue.
 *   CONTENT      the metadata is published; each payload becomes visible on
 *                its own, only after every digest matched (the store's
 *                writer). Failures are counted, not fatal (next sync retries).
 *   ROLLUP       reporting to the upstream; failures are counted, not fatal.
 *   ERROR        nothing published by this run, the staging kept. It is left
 *                by releasing the lock (IDLE): the next sync lists from the
 *                old anchors and fetches only what is not staged yet.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "sync_phase.h"

static const char *const anchor_keys[SYNC_N_ANCHORS] = {
	"sync.anchor.config", "sync.anchor.categories", "sync.anchor.updates", "sync.anchor.deployments",
};
#define ANCHOR_OWNER_KEY "sync.anchor.upstream"

/*---- Small shared helpers ----*/

const char *sync_cert(const struct sync_ctx *c)
{
	return c->http != NULL ? sync_http_verdict(c->http)->leaf_sha256 : "";
}

int sync_ids_add(struct sync_ids *l, const char *uid, int rev)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct sync_id *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].uid, sizeof(l->v[l->n].uid), "%s", uid);
	l->v[l->n].rev = rev;
	l->n++;
	return 0;
}

void sync_ids_free(struct sync_ids *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int sync_check_cancel(struct sync_ctx *c, struct err *e)
{
	if (c->opt->cancel != NULL && atomic_load(c->opt->cancel))
		return err_set(e, -ECANCELED, "sync cancelled");
	return 0;
}

void sync_progress(struct sync_ctx *c, const char *what, size_t done, size_t total)
{
	int64_t now;

	if (!c->opt->progress)
		return;
	now = wsus_now_ms();
	if (done != total && now - c->progress_ms < 100)
		return;
	c->progress_ms = now;
	c->progress_on = 1;
	fprintf(stderr, "\rsync %s: %zu/%zu ", what, done, total);
	fflush(stderr);
}

void sync_progress_end(struct sync_ctx *c)
{
	if (c->progress_on)
		fputc('\n', stderr);
	c->progress_on = 0;
}

/*---- The lock: one sync per data directory ----*/

int sync_lock_take(const struct wsus_config *cfg, int *fd, struct err *e)
{
	char path[4096];
	int rc = wsus_mkdir_p(cfg->st_data_dir, 0755, e);

	if (rc < 0)
		return rc;
	if ((size_t)snprintf(path, sizeof(path), "%s/sync.lock", cfg->st_data_dir) >= sizeof(path))
		return err_set(e, -ENAMETOOLONG, "data directory path too long");
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0)
		return err_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
	/* flock: released by the kernel when the process dies, whatever kills it. */
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? err_set(e, -EBUSY, "another sync of %s is running", cfg->st_data_dir)
					  : err_set(e, -errno, "cannot lock %s: %s", path, strerror(errno));
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/*---- Context ----*/

/* accountName: our host name as RFC 1035 characters (the USS checks them). */
static void account_name(char *out, size_t cap)
{
	char host[256] = "";
	size_t w = 0;

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	for (const char *p = host; *p && w + 1 < cap; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '.'))
			ch = '-';
		if (ch == '.' && (w == 0 || out[w - 1] == '.'))
			continue;
		out[w++] = ch;
	}
	while (w > 0 && out[w - 1] == '.')
		w--;
	out[w] = '\0';
	if (w == 0)
		snprintf(out, cap, "wsus-replica");
}

/* The stored anchors, unless they were given by another upstream. */
static void load_anchors(struct sync_ctx *c)
{
	char *owner = NULL;

	if (storage_state_get(c->st, ANCHOR_OWNER_KEY, &owner) == 0 && strcmp(owner, c->base) == 0) {
		for (int k = 0; k < SYNC_N_ANCHORS; k++)
			if (storage_state_get(c->st, anchor_keys[k], &c->anchor_old[k]) < 0)
				c->anchor_old[k] = NULL;
	} else if (owner != NULL) {
		log_warn("sync", "the upstream changed from %s: syncing in full", owner);
	}
	free(owner);
}

static void drop_anchors(struct sync_ctx *c)
{
	for (int k = 0; k < SYNC_N_ANCHORS; k++) {
		free(c->anchor_old[k]);
		c->anchor_old[k] = NULL;
	}
}

static int ctx_open(struct sync_ctx *c, struct err *e)
{
	const struct wsus_config *cfg = c->cfg;
	size_t n = strlen(cfg->up_url);
	int64_t kept = 0;
	int rc;

	while (n > 0 && cfg->up_url[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(c->base) - 64)
		return err_set(e, -EINVAL, "unusable [upstream] url");
	memcpy(c->base, cfg->up_url, n);
	c->base[n] = '\0';
	if (sync_url_join(c->base, "ServerSyncWebService/ServerSyncWebService.asmx", c->sss_url,
			  sizeof(c->sss_url)) < 0 ||
	    sync_url_join(c->base, "ReportingWebService/ReportingWebService.asmx", c->report_url,
			  sizeof(c->report_url)) < 0 ||
	    sync_url_join(c->base, "DssAuthWebService/DssAuthWebService.asmx", c->auth_url,
			  sizeof(c->auth_url)) < 0)
		return err_set(e, -E2BIG, "[upstream] url too long");
	account_name(c->account, sizeof(c->account));
	rc = storage_open(cfg->st_data_dir, cfg->st_content_dir, &c->st, e);
	if (rc == 0)
		rc = sync_http_new(cfg, &c->http, e);
	if (rc < 0)
		return rc;
	storage_server_id(c->st, c->server_id);
	rc = storage_stage_open(c->st, c->base, &kept, e);
	if (rc < 0)
		return rc;
	if (kept > 0)
		log_info("sync", "resuming: %lld documents staged by an interrupted sync", (long long)kept);
	load_anchors(c);
	return 0;
}

static void ctx_release(struct sync_ctx *c)
{
	sync_progress_end(c);
	for (int k = 0; k < SYNC_N_ANCHORS; k++) {
		free(c->anchor_old[k]);
		free(c->anchor_new[k]);
	}
	sync_deploy_free(&c->dep);
	free(c->auth_cookie);
	free(c->cookie);
	sync_http_free(c->http);
	storage_close(c->st);
}

#ifndef NDEBUG
/* What every state after IDLE relies on (design notes above). */
static int ctx_check(const struct sync_ctx *c)
{
	return c->st != NULL && (c->offline || c->http != NULL || c->post != NULL) && c->base[0] != '\0' &&
	       (c->offline || c->sss_url[0] != '\0') && (!c->authorised || c->cookie != NULL) &&
	       (!c->dep.have || c->cfg->up_mode == WSUS_MODE_REPLICA) && c->res->published == 0;
}
#endif

/*---- Publishing ----*/

struct publish_walk {
	struct sync_ctx *c;
	struct err *e;
	size_t done, total;
};

/* Give each file of u the MUUrl its "<sha1 hex> <url>" line names. */
static int attach_mu_urls(struct wsus_update *u, const char *lines)
{
	char hex[2 * WSUS_SHA1_LEN + 1];

	for (size_t i = 0; lines != NULL && i < u->n_files; i++) {
		wsus_hex_encode(u->files[i].sha1, WSUS_SHA1_LEN, hex);
		for (const char *p = lines; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			const char *end = strchr(p, '\n');
			size_t len = end ? (size_t)(end - p) : strlen(p);

			if (len > 41 && strncmp(p, hex, 40) == 0 && p[40] == ' ') {
				free(u->files[i].mu_url);
				u->files[i].mu_url = strndup(p + 41, len - 41);
				if (u->files[i].mu_url == NULL)
					return -ENOMEM;
				break;
			}
		}
	}
	return 0;
}

static int store_keys(struct storage *st, const char *lines, struct err *e)
{
	int rc = 0;

	for (const char *p = lines; p != NULL && *p && rc == 0; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p), kn = 0;
		uint8_t sha1[WSUS_SHA1_LEN], key[4096];
		char hex[2 * WSUS_SHA1_LEN + 1];

		if (len < 42 || p[40] != ' ')
			continue;
		memcpy(hex, p, 40);
		hex[40] = '\0';
		if (wsus_hex_decode(hex, sha1, WSUS_SHA1_LEN) < 0 ||
		    wsus_b64_decode(p + 41, len - 41, key, sizeof(key), &kn) < 0)
			continue;
		rc = storage_sync_file_key(st, sha1, key, kn, e);
	}
	return rc;
}

static int publish_doc(const struct storage_stage_row *r, void *ctx)
{
	struct publish_walk *w = ctx;
	struct sync_ctx *c = w->c;
	struct storage_origin o = { .upstream_url = c->base, .cert_sha256 = r->cert_sha256,
				    .source = c->source ? c->source : "sync", .chain = r->provenance };
	struct wsus_update *u = NULL;
	int rc, published = 0, changed = 0;

	rc = protocol_update_parse(r->xml, r->xml_len, &u, w->e);
	if (rc < 0) {
		err_prefix(w->e, "staged revision %s/%d", r->update_id, r->revision);
		return rc;
	}
	rc = attach_mu_urls(u, r->mu_urls);
	if (rc < 0)
		err_set(w->e, rc, "out of memory");
	if (rc == 0)
		rc = storage_sync_have(c->st, u->update_id, u->revision, NULL, &published, w->e);
	if (rc == 0)
		rc = storage_revision_put(c->st, u, &o, NULL, &changed, w->e);
	if (rc == 0)
		rc = store_keys(c->st, r->keys, w->e);
	if (rc == 0 && !published)
		c->res->published_new++;
	else if (rc == 0 && changed)
		c->res->published_changed++;
	wsus_update_free(u);
	sync_progress(c, "publish", ++w->done, w->total);
	return rc;
}

static int save_state(struct sync_ctx *c, struct err *e)
{
	char now[32], conf[160], filter[8192];
	int rc = 0;

	for (int k = 0; k < SYNC_N_ANCHORS && rc == 0; k++)
		if (c->anchor_new[k] != NULL)
			rc = storage_state_set(c->st, anchor_keys[k], c->anchor_new[k], e);
	if (rc == 0)
		rc = storage_state_set(c->st, ANCHOR_OWNER_KEY, c->base, e);
	snprintf(conf, sizeof(conf), "catalog_only=%d lazy=%d psf=%d max_updates=%d max_keys=%d protocol=%s",
		 c->up.catalog_only, c->up.lazy, c->up.hosts_psf, c->up.max_updates, c->up.max_keys,
		 c->up.protocol[0] ? c->up.protocol : "-");
	if (rc == 0)
		rc = storage_state_set(c->st, "sync.upstream.config", conf, e);
	snprintf(filter, sizeof(filter), "%s|%s", c->cfg->sy_products ? c->cfg->sy_products : "",
		 c->cfg->sy_classifications ? c->cfg->sy_classifications : "");
	if (rc == 0)
		rc = storage_state_set(c->st, "sync.filter", filter, e);
	wsus_time_iso(wsus_now_ms(), now);
	if (rc == 0)
		rc = storage_state_set(c->st, "last_sync", now, e);
	return rc;
}

static int record(struct sync_ctx *c, struct err *e)
{
	struct storage_sync_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.upstream, sizeof(r.upstream), "%s", c->base);
	snprintf(r.cert_sha256, sizeof(r.cert_sha256), "%s", c->res->cert_sha256);
	snprintf(r.pin_verdict, sizeof(r.pin_verdict), "%s", c->res->verdict);
	r.started_ms = c->res->started_ms;
	r.finished_ms = wsus_now_ms();
	r.new_revisions = (int64_t)c->res->published_new;
	r.changed_revisions = (int64_t)c->res->published_changed;
	return storage_sync_history_add(c->st, &r, &c->history_id, e);
}

/* Every run that took the sync lock and opened the database leaves one
 * history row: a published one completes the row its publishing
 * transaction wrote (content bytes, end time, or the error that stopped the
 * content phase); one that failed before publishing adds a failed row. A
 * run refused because another one holds the lock (or that could not open
 * the database) records nothing: it never opened the database. Recording is best effort: a failure is logged, the
 * run's own result stands. */
static void record_end(struct sync_ctx *c, int rc, const struct err *e)
{
	struct storage_sync_record r;
	struct err re = { 0 };
	int wrc;

	if (c->st == NULL)
		return;
	memset(&r, 0, sizeof(r));
	if (rc < 0)
		snprintf(r.error, sizeof(r.error), "%s: %s", c->res->phase,
			 e != NULL && e->msg[0] ? e->msg : "failed");
	if (c->history_id > 0) {
		wrc = storage_sync_history_finish(c->st, c->history_id, c->res->finished_ms, c->res->bytes,
						  r.error, &re);
	} else {
		snprintf(r.upstream, sizeof(r.upstream), "%s", c->base);
		snprintf(r.cert_sha256, sizeof(r.cert_sha256), "%s", c->res->cert_sha256);
		snprintf(r.pin_verdict, sizeof(r.pin_verdict), "%s", c->res->verdict);
		r.started_ms = c->res->started_ms;
		r.finished_ms = c->res->finished_ms;
		r.content_bytes = c->res->bytes;
		if (r.error[0] == '\0')
			snprintf(r.error, sizeof(r.error), "%s: ended without publishing", c->res->phase);
		wrc = storage_sync_history_add(c->st, &r, NULL, &re);
	}
	if (wrc < 0)
		log_warn("sync", "cannot record the sync in sync_history: %s", re.msg);
}

/* PUBLISH: everything of this run becomes visible in one transaction. */
int sync_publish(struct sync_ctx *c, struct err *e)
{
	struct publish_walk w = { .c = c, .e = e };
	struct storage_origin o = { .upstream_url = c->base, .cert_sha256 = c->res->cert_sha256,
				    .source = c->source ? c->source : "sync" };
	struct storage_anchor a = { 0, 0 };
	int64_t staged = 0;
	int rc;

	assert(ctx_check(c));
	c->res->phase = "publish";
	rc = storage_stage_count(c->st, &staged, e);
	if (rc < 0)
		return rc;
	w.total = (size_t)staged;
	rc = storage_begin(c->st, e);
	if (rc < 0)
		return rc;
	rc = storage_stage_foreach(c->st, publish_doc, &w, e);
	sync_progress_end(c);
	if (rc == 0 && staged > 0)
		rc = storage_leaf_refresh(c->st, e);
	if (rc == 0 && c->cfg->up_mode == WSUS_MODE_REPLICA)
		rc = sync_deploy_publish(c, &o, e);
	if (rc == 0)
		rc = c->publish_state != NULL ? c->publish_state(c, e) : save_state(c, e);
	if (rc == 0)
		rc = record(c, e);
	if (rc == 0)
		rc = storage_stage_clear(c->st, e);
	if (rc < 0) {
		storage_rollback(c->st);
		c->history_id = 0;     /* the row went with the transaction */
		err_prefix(e, "publishing");
		return rc;
	}
	rc = storage_commit(c->st, e);
	if (rc < 0) {
		c->history_id = 0;
		return rc;
	}
	c->res->published = 1;
	storage_anchor_latest(c->st, &a, NULL);
	log_info("sync", "phase=publish revisions=%lld new=%zu changed=%zu deployments=%zu dead=%zu hidden=%zu"
		 " groups=%zu catalogue_anchor=%lld", (long long)staged, c->res->published_new,
		 c->res->published_changed, c->res->deployments, c->res->deployments_dead, c->res->hidden,
		 c->res->groups, (long long)a.n);
	return 0;
}

/*---- The pipeline ----*/


/* Rotation must happen before the upstream switches: warn while there is
 * time to pin the next certificate (README: certificate rotation). */
static void warn_pin_expiry(const struct sync_cert_info *pinned)
{
	int64_t left = pinned->not_after_unix - wsus_now_ms() / 1000;

	if (pinned->not_after_unix <= 0 || left >= (int64_t)SYNC_PIN_WARN_DAYS * 86400)
		return;
	log_warn("sync", "pinned certificate expires in %lld days subject=\"%s\" sha256=%s not_after=%s: "
		 "pin the upstream's next certificate now (pin add or pin fetch --accept), before it switches",
		 (long long)(left > 0 ? left / 86400 : 0), pinned->subject, pinned->sha256, pinned->not_after);
}

static void note_verdict(struct sync_ctx *c)
{
	const struct sync_trust_verdict *v;

	if (c->http == NULL)
		return;
	v = sync_http_verdict(c->http);
	if (v->pin == SYNC_PIN_NONE || c->res->verdict[0] != '\0')
		return;
	snprintf(c->res->verdict, sizeof(c->res->verdict), "%s", v->line);
	snprintf(c->res->cert_sha256, sizeof(c->res->cert_sha256), "%s", v->leaf_sha256);
	/* A refusal is logged by the client and ends the run with its reason. */
	if (v->allowed)
		log_notice("sync", "trust upstream=%s route=\"%s\" %s", c->base, sync_http_route(c->http), v->line);
	if (v->allowed && v->matched >= 0)
		warn_pin_expiry(&v->chain[v->matched]);
}

/* AUTH .. DEPLOYMENTS: everything before the publishing transaction. */
static int run_metadata(struct sync_ctx *c, struct err *e)
{
	int rc;

	assert(ctx_check(c));
	c->res->phase = "auth";
	rc = sync_auth(c, e);
	note_verdict(c);
	if (rc < 0)
		return rc;
	c->res->phase = "config";
	rc = sync_phase_config(c, e);
	if (rc < 0)
		return rc;
	c->res->phase = "categories";
	rc = sync_phase_list(c, 1, e);
	if (rc < 0)
		return rc;
	c->res->phase = "updates";
	rc = sync_phase_list(c, 0, e);
	if (rc < 0)
		return rc;
	c->res->phase = "keys";
	rc = sync_phase_keys(c, e);
	if (rc < 0)
		return rc;
	/* An autonomous server never calls GetDeployments (MS-WSUSSS 3.2.4.3). */
	if (c->cfg->up_mode != WSUS_MODE_REPLICA)
		return 0;
	c->res->phase = "deployments";
	return sync_phase_deployments(c, e);
}

static int run_all(struct sync_ctx *c, struct err *e)
{
	struct err soft = { 0 };
	int rc;

	rc = run_metadata(c, e);
	if (rc < 0 && c->server_changed) {
		/* "reset ConfigAnchor, SyncAnchor and DeploymentAnchor, then continue" (2.2.9.3) */
		log_warn("sync", "upstream reports ServerChanged: dropping the anchors and syncing in full");
		drop_anchors(c);
		c->server_changed = 0;
		c->authorised = 0;
		err_clear(e);
		rc = run_metadata(c, e);
	}
	if (rc == 0)
		rc = sync_publish(c, e);
	if (rc < 0)
		return rc;
	c->res->phase = "content";
	rc = sync_phase_content(c, e);
	if (rc < 0)
		return rc;     /* only a trust refusal or a cancel gets here */
	c->res->phase = "rollup";
	rc = sync_check_cancel(c, e);
	if (rc < 0)
		return rc;
	if (!c->cfg->sy_rollup) {
		/* [sync] rollup = false: another front end of the site reports it */
		log_info("sync", "phase=rollup skipped=\"[sync] rollup = false\"");
		c->res->phase = "done";
		return 0;
	}
	rc = sync_phase_rollup(c, &soft);
	c->res->rollup = rc == 0 ? 1 : -1;
	if (rc < 0)
		log_warn("sync", "phase=rollup failed (the sync itself succeeded): %s", soft.msg);
	c->res->phase = "done";
	return 0;
}

static void summary(const struct sync_ctx *c, int rc, const struct err *e)
{
	const struct sync_result *r = c->res;
	double secs = (double)(r->finished_ms - r->started_ms) / 1000.0;

	if (rc < 0) {
		log_err("sync", "sync failed phase=%s upstream=%s seconds=%.1f published=%d: %s", r->phase,
			c->base[0] ? c->base : "-", secs, r->published, e && e->msg[0] ? e->msg : "error");
		return;
	}
	log_info("sync", "sync done upstream=%s seconds=%.1f listed=%zu fetched=%zu resumed=%zu batches=%zu"
		 " new=%zu changed=%zu deployments=%zu dead=%zu files=%zu/%zu quarantined=%zu deferred=%zu"
		 " failed=%zu rollup=%s", c->base, secs, r->listed, r->fetched, r->resumed, r->batches,
		 r->published_new, r->published_changed, r->deployments, r->deployments_dead, r->files_fetched,
		 r->files_wanted, r->files_quarantined, r->files_deferred, r->files_failed,
		 r->rollup > 0 ? "sent" : r->rollup < 0 ? "failed" : "no");
}

int sync_content_run(const struct wsus_config *cfg, const struct sync_options *opt, struct sync_result *res,
		     struct err *e)
{
	static const struct sync_options none = { 0 };
	struct sync_result local;
	struct sync_ctx c;
	int rc, lock = -1;

	memset(&c, 0, sizeof(c));
	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	res->phase = "content";
	res->started_ms = wsus_now_ms();
	c.cfg = cfg;
	c.opt = opt ? opt : &none;
	c.res = res;
	if (cfg == NULL || cfg->up_url == NULL || cfg->up_url[0] == '\0') {
		res->finished_ms = wsus_now_ms();
		return err_set(e, -EINVAL, "no upstream configured ([upstream] url): nothing to fetch from");
	}
	rc = sync_lock_take(cfg, &lock, e);
	if (rc == 0)
		rc = ctx_open(&c, e);
	if (rc == 0)
		rc = sync_phase_content(&c, e);
	res->finished_ms = wsus_now_ms();
	if (rc == 0)
		res->phase = "done";
	ctx_release(&c);
	if (lock >= 0)
		close(lock);
	return rc;
}

int sync_run(const struct wsus_config *cfg, const struct sync_options *opt, struct sync_result *res,
	     struct err *e)
{
	static const struct sync_options none = { 0 };
	struct sync_result local;
	struct sync_ctx c;
	int rc, lock = -1;

	memset(&c, 0, sizeof(c));
	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	res->phase = "start";
	res->started_ms = wsus_now_ms();
	c.cfg = cfg;
	c.opt = opt ? opt : &none;
	c.res = res;
	if (cfg == NULL || cfg->up_url == NULL || cfg->up_url[0] == '\0') {
		rc = err_set(e, -EINVAL, "no upstream configured ([upstream] url)");
		res->finished_ms = wsus_now_ms();
		return rc;
	}
	rc = sync_lock_take(cfg, &lock, e);
	if (rc == 0)
		rc = ctx_open(&c, e);
	if (rc == 0)
		rc = run_all(&c, e);
	res->finished_ms = wsus_now_ms();
	summary(&c, rc, e);
	record_end(&c, rc, e);
	ctx_release(&c);
	if (lock >= 0)
		close(lock);   /* releases the flock */
	return rc;
}
