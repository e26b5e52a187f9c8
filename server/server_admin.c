/*
 * server_admin.c -- the admin listener ([admin] listen, default
 * 127.0.0.1:8532): GET /health, /metrics and / (the status page), for the
 * people and monitoring systems that run the server, never for clients.
 *
 * Design notes:
 * (1) Its own small MHD daemon (two threads), apart from the client front
 *     end: a busy front end does not starve a health check, and the admin
 *     port is never reachable through the client port. Plain HTTP on
 *     loopback; on any other address HTTPS with the server's certificate and
 *     a client certificate whose SHA-256 is in [admin] client_cert_allow
 *     (the config refuses a non-loopback address without it).
 * (2) Every answer reads the database through its own read-only handle
 *     (storage_open_ro): the admin side can never write, and a scrape sees one
 *     consistent snapshot per query.
 * (3) Request metrics: the front end calls server_metrics_note once per SOAP
 *     answer; counts per (operation, status) and a latency histogram per
 *     operation live in a fixed table under one mutex (SERVER_METRICS_OPS
 *     operations; more go to "other").
 * (4) The status page is static HTML with every value escaped; no script.
 * (5) SIGHUP replaces the client-certificate allow-list (under a write
 *     lock; each request reads it under the read lock). The HTTPS listener
 *     takes its certificate from the front end's credentials (its port is
 *     registered with them, server_reload.c), so a renewed certificate is
 *     served here too after SIGHUP. The listener's address, and whether it
 *     speaks HTTPS, need a restart.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "server.h"
#include "server_int.h"

#define ADMIN_THREADS        2
#define ADMIN_MIN_FREE_BYTES (256ll * 1024 * 1024)  /* /health: less free disk is a problem */
#define ADMIN_CERT_WARN_DAYS 14                      /* /health: certificate expiring sooner */
#define ADMIN_PAGE_MAX       (4 * 1024 * 1024)       /* a status page or scrape */
#define SERVER_METRICS_OPS   32
#define SERVER_METRICS_CODES 8

static const double latency_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define N_BOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

struct op_metrics {
	char name[48];
	unsigned status[SERVER_METRICS_CODES];
	uint64_t count[SERVER_METRICS_CODES];
	uint64_t bucket[N_BOUNDS];   /* cumulative at scrape time */
	uint64_t n;
	double sum;
};

static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static struct op_metrics metrics[SERVER_METRICS_OPS];
static atomic_ullong scans_full, scans_delta;   /* SyncUpdates answered */

struct server_admin {
	struct MHD_Daemon *mhd;
	const struct wsus_config *cfg;
	struct server *srv;
	int64_t started_ms;
	int port;
	int tls;
	pthread_rwlock_t allow_lock;  /* allow and n_allow: SIGHUP replaces them */
	char **allow;
	size_t n_allow;
};

/*---- Request metrics (design note 3) ----*/

/* "http://.../ClientWebService/SyncUpdates" -> "SyncUpdates" */
static void op_name(const char *action, char out[48])
{
	const char *p = action ? action : "";
	size_t n;

	while (*p == '"')
		p++;
	if (strrchr(p, '/') != NULL)
		p = strrchr(p, '/') + 1;
	n = strcspn(p, "\"");
	if (n == 0) {
		snprintf(out, 48, "none");
		return;
	}
	if (n > 47)
		n = 47;
	for (size_t i = 0; i < n; i++)
		out[i] = (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
			 (p[i] >= '0' && p[i] <= '9') ? p[i] : '_';
	out[n] = '\0';
}

void server_metrics_note(const char *soap_action, unsigned status, int64_t micros)
{
	char name[48];
	struct op_metrics *m = NULL;
	double s = (double)micros / 1e6;

	op_name(soap_action, name);
	pthread_mutex_lock(&metrics_mu);
	for (size_t i = 0; i < SERVER_METRICS_OPS && m == NULL; i++) {
		if (metrics[i].name[0] == '\0')
			snprintf(metrics[i].name, sizeof(metrics[i].name), "%s",
				 i == SERVER_METRICS_OPS - 1 ? "other" : name);
		if (strcmp(metrics[i].name, name) == 0 || i == SERVER_METRICS_OPS - 1)
			m = &metrics[i];
	}
	for (size_t i = 0; i < SERVER_METRICS_CODES; i++) {
		if (m->status[i] == 0 || m->status[i] == status || i == SERVER_METRICS_CODES - 1) {
			m->status[i] = m->status[i] ? m->status[i] : status;
			m->count[i]++;
			break;
		}
	}
	for (size_t b = 0; b < N_BOUNDS; b++)
		if (s <= latency_bounds[b])
			m->bucket[b]++;
	m->n++;
	m->sum += s;
	pthread_mutex_unlock(&metrics_mu);
}

void server_metrics_scan(int full)
{
	atomic_fetch_add(full ? &scans_full : &scans_delta, 1);
}

/*---- Facts shared by the three pages ----*/

struct admin_facts {
	struct storage_status st;
	struct storage_report_summary rep;
	struct storage_sync_record sync;     /* the newest sync run */
	struct storage_sync_record sync_ok;  /* the newest successful one */
	int have_sync, have_ok;
	int64_t runs_ok, runs_failed;        /* sync runs recorded */
	struct server_report_stats report;
	int64_t db_bytes;
	int64_t cert_not_after;      /* Unix seconds, 0 unknown */
	int64_t free_data, free_content;
	int db_writable;
	char fp[65];
	char err[WSUS_ERR_LEN];      /* the database could not be read */
};

static int64_t file_size(const char *dir, const char *leaf)
{
	char p[4200];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, leaf);
	return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static int64_t free_bytes(const char *dir, int *read_only)
{
	struct statvfs v;

	if (statvfs(dir, &v) < 0)
		return -1;
	if (read_only != NULL)
		*read_only = (v.f_flag & ST_RDONLY) != 0;
	return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

static void gather(struct server_admin *a, struct admin_facts *f)
{
	const struct wsus_config *cfg = a->cfg;
	struct storage *st = NULL;
	struct err e = { 0 };
	char db[4200];
	int ro = 0;

	memset(f, 0, sizeof(*f));
	server_tls_fp_get(a->srv, f->fp);
	f->cert_not_after = server_tls_not_after(a->srv);   /* what is served, not the file */
	f->free_data = free_bytes(cfg->st_data_dir, &ro);
	f->free_content = free_bytes(cfg->st_content_dir, NULL);
	snprintf(db, sizeof(db), "%s/wsus.db", cfg->st_data_dir);
	f->db_writable = !ro && access(db, W_OK) == 0 && access(cfg->st_data_dir, W_OK) == 0;
	f->db_bytes = file_size(cfg->st_data_dir, "wsus.db") + file_size(cfg->st_data_dir, "wsus.db-wal");
	if (storage_open_ro(cfg->st_data_dir, cfg->st_content_dir, &st, &e) < 0 ||
	    storage_status_get(st, &f->st, &e) < 0 || storage_report_summary(st, &f->rep, &e) < 0) {
		snprintf(f->err, sizeof(f->err), "%s", e.msg[0] ? e.msg : "cannot read the database");
		storage_close(st);
		return;
	}
	f->have_sync = storage_sync_last(st, 0, &f->sync, &e) == 0;
	f->have_ok = storage_sync_last(st, 1, &f->sync_ok, &e) == 0;
	if (storage_sync_counts(st, &f->runs_ok, &f->runs_failed, &e) < 0)
		f->runs_ok = f->runs_failed = 0;
	storage_close(st);
	if (a->srv != NULL)
		server_report_get_stats(a->srv, &f->report);
}

/*---- /health ----*/

static void health(struct server_admin *a, const struct admin_facts *f, struct wsus_buf *out, int *bad)
{
	const struct wsus_config *cfg = a->cfg;
	int64_t now = wsus_now_ms(), limit = (int64_t)(2 * cfg->sy_interval + cfg->sy_jitter) * 1000;
	char line[768];

#define PROBLEM(...) do { snprintf(line, sizeof(line), __VA_ARGS__); wsus_buf_append(out, line, strlen(line)); \
			  wsus_buf_append(out, "\n", 1); (*bad)++; } while (0)
	*bad = 0;
	if (f->err[0])
		PROBLEM("database: %s", f->err);
	if (!f->db_writable)
		PROBLEM("database: %s/wsus.db is not writable", cfg->st_data_dir);
	/* the criterion is the age of the last success; the last failure, if
	 * it came after it, says why */
	if (cfg->up_url != NULL) {
		const char *why = f->have_sync && f->sync.error[0] ? f->sync.error : NULL;

		if (!f->have_ok && now - a->started_ms > limit)
			PROBLEM("sync: no successful sync with %s since the start %lld s ago (interval %d s)%s%s",
				cfg->up_url, (long long)((now - a->started_ms) / 1000), cfg->sy_interval,
				why ? "; the last attempt failed: " : "", why ? why : "");
		else if (f->have_ok && now - f->sync_ok.finished_ms > limit)
			PROBLEM("sync: the last successful sync was %lld s ago (interval %d s)%s%s",
				(long long)((now - f->sync_ok.finished_ms) / 1000), cfg->sy_interval,
				why ? "; the last attempt failed: " : "", why ? why : "");
	}
	if (f->free_data >= 0 && f->free_data < ADMIN_MIN_FREE_BYTES)
		PROBLEM("disk: %lld bytes free for %s", (long long)f->free_data, cfg->st_data_dir);
	if (f->free_content >= 0 && f->free_content < ADMIN_MIN_FREE_BYTES)
		PROBLEM("disk: %lld bytes free for %s", (long long)f->free_content, cfg->st_content_dir);
	if (f->cert_not_after == 0)
		PROBLEM("certificate: cannot read the TLS certificate");
	else if (f->cert_not_after * 1000 < now)
		PROBLEM("certificate: the TLS certificate (sha256 %s) has expired", f->fp);
	else if (f->cert_not_after * 1000 - now < (int64_t)ADMIN_CERT_WARN_DAYS * 86400 * 1000)
		PROBLEM("certificate: the TLS certificate (sha256 %s) expires in %lld days", f->fp,
			(long long)((f->cert_not_after * 1000 - now) / 86400000));
#undef PROBLEM
	if (*bad == 0)
		wsus_buf_append(out, "ok\n", 3);
}

/*---- /metrics (Prometheus text exposition format 0.0.4) ----*/

static void gauge(struct wsus_buf *b, const char *name, const char *help, double v)
{
	wsus_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void request_metrics(struct wsus_buf *b)
{
	wsus_buf_printf(b, "# HELP wsus_requests_total SOAP requests answered, by operation and HTTP status.\n"
	       "# TYPE wsus_requests_total counter\n");
	pthread_mutex_lock(&metrics_mu);
	for (size_t i = 0; i < SERVER_METRICS_OPS && metrics[i].name[0]; i++)
		for (size_t c = 0; c < SERVER_METRICS_CODES && metrics[i].status[c]; c++)
			wsus_buf_printf(b, "wsus_requests_total{operation=\"%s\",status=\"%u\"} %llu\n", metrics[i].name,
			    metrics[i].status[c], (unsigned long long)metrics[i].count[c]);
	wsus_buf_printf(b, "# HELP wsus_request_duration_seconds Time to answer a SOAP request, by operation.\n"
	       "# TYPE wsus_request_duration_seconds histogram\n");
	for (size_t i = 0; i < SERVER_METRICS_OPS && metrics[i].name[0]; i++) {
		for (size_t k = 0; k < N_BOUNDS; k++)
			wsus_buf_printf(b, "wsus_request_duration_seconds_bucket{operation=\"%s\",le=\"%g\"} %llu\n",
			    metrics[i].name, latency_bounds[k], (unsigned long long)metrics[i].bucket[k]);
		wsus_buf_printf(b, "wsus_request_duration_seconds_bucket{operation=\"%s\",le=\"+Inf\"} %llu\n"
		       "wsus_request_duration_seconds_sum{operation=\"%s\"} %.6f\n"
		       "wsus_request_duration_seconds_count{operation=\"%s\"} %llu\n",
		    metrics[i].name, (unsigned long long)metrics[i].n, metrics[i].name, metrics[i].sum,
		    metrics[i].name, (unsigned long long)metrics[i].n);
	}
	pthread_mutex_unlock(&metrics_mu);
}

static void prom(struct server_admin *a, const struct admin_facts *f, struct wsus_buf *b)
{
	const struct storage_status *s = &f->st;

	request_metrics(b);
	gauge(b, "wsus_up", "1 when the database could be read for this scrape.", f->err[0] ? 0 : 1);
	gauge(b, "wsus_start_time_seconds", "When serve started (Unix time).", (double)a->started_ms / 1000);
	gauge(b, "wsus_revisions", "Update revisions in the catalogue.", (double)s->revisions);
	gauge(b, "wsus_updates", "Distinct updates in the catalogue.", (double)s->updates);
	gauge(b, "wsus_deployments", "Live deployments (approvals).", (double)s->deployments);
	gauge(b, "wsus_declined_updates", "Declined updates.", (double)s->declined);
	gauge(b, "wsus_computers", "Registered client computers.", (double)s->computers);
	gauge(b, "wsus_computers_needing_updates", "Computers with an update needed, not installed.",
	      (double)f->rep.computers_needing);
	gauge(b, "wsus_computers_with_errors", "Computers that reported a failed install.",
	      (double)f->rep.computers_with_errors);
	wsus_buf_printf(b, "# HELP wsus_content_files Payloads the catalogue names, by state.\n"
	       "# TYPE wsus_content_files gauge\n"
	       "wsus_content_files{state=\"present\"} %lld\nwsus_content_files{state=\"missing\"} %lld\n"
	       "wsus_content_files{state=\"quarantined\"} %lld\n",
	    (long long)s->files_present, (long long)s->files_missing, (long long)s->files_quarantined);
	gauge(b, "wsus_content_bytes", "Bytes of payloads present.", (double)s->content_bytes);
	gauge(b, "wsus_database_bytes", "Size of wsus.db and its write-ahead log.", (double)f->db_bytes);
	gauge(b, "wsus_tls_certificate_expiry_seconds", "When the served TLS certificate expires (Unix time).",
	      (double)f->cert_not_after);
	gauge(b, "wsus_sync_last_finished_seconds", "When the last sync run finished (Unix time, 0 never).",
	      f->have_sync ? (double)f->sync.finished_ms / 1000 : 0);
	gauge(b, "wsus_sync_last_success", "1 when the last sync run succeeded.",
	      f->have_sync && f->sync.error[0] == '\0' ? 1 : 0);
	gauge(b, "wsus_sync_last_success_seconds", "When the last successful sync finished (Unix time, 0 none known).",
	      f->have_ok ? (double)f->sync_ok.finished_ms / 1000 : 0);
	wsus_buf_printf(b, "# HELP wsus_sync_runs_total Sync runs recorded in the sync history, by result.\n"
	       "# TYPE wsus_sync_runs_total counter\n"
	       "wsus_sync_runs_total{result=\"success\"} %lld\nwsus_sync_runs_total{result=\"failure\"} %lld\n",
	    (long long)f->runs_ok, (long long)f->runs_failed);
	wsus_buf_printf(b, "# HELP wsus_scans_total SyncUpdates answered: full (the client's cookie carried no catalogue"
	       " anchor: a first scan) or delta (from an anchor).\n"
	       "# TYPE wsus_scans_total counter\n"
	       "wsus_scans_total{kind=\"full\"} %llu\nwsus_scans_total{kind=\"delta\"} %llu\n",
	    (unsigned long long)atomic_load(&scans_full), (unsigned long long)atomic_load(&scans_delta));
	gauge(b, "wsus_report_queue_events", "Client report events waiting for the writer.",
	      (double)f->report.depth);
	wsus_buf_printf(b, "# HELP wsus_report_events_total Client report events, by what became of them.\n"
	       "# TYPE wsus_report_events_total counter\n"
	       "wsus_report_events_total{outcome=\"written\"} %llu\n"
	       "wsus_report_events_total{outcome=\"duplicate\"} %llu\n"
	       "wsus_report_events_total{outcome=\"dropped\"} %llu\n"
	       "wsus_report_events_total{outcome=\"refused\"} %llu\n"
	       "wsus_report_events_total{outcome=\"failed\"} %llu\n",
	    (unsigned long long)f->report.written, (unsigned long long)f->report.duplicates,
	    (unsigned long long)f->report.dropped, (unsigned long long)f->report.refused,
	    (unsigned long long)f->report.failed);
	wsus_buf_printf(b, "# HELP wsus_access_log_dropped_lines_total Access log lines dropped because the writer was behind.\n"
	       "# TYPE wsus_access_log_dropped_lines_total counter\n"
	       "wsus_access_log_dropped_lines_total %llu\n",
	    (unsigned long long)(a->srv ? server_access_dropped(a->srv->access) : 0));
	gauge(b, "wsus_disk_free_bytes", "Free bytes on the data directory's file system.",
	      (double)(f->free_data < 0 ? 0 : f->free_data));
	gauge(b, "wsus_client_events", "Client report events kept.", (double)f->rep.events);
}

/*---- / (the status page) ----*/

static void esc(struct wsus_buf *b, const char *s)
{
	if (s != NULL)
		(void)wsus_buf_append_xml_escaped(b, s, strlen(s));
}

static void row(struct wsus_buf *b, const char *k, const char *v)
{
	wsus_buf_printf(b, "<tr><th>");
	esc(b, k);
	wsus_buf_printf(b, "</th><td>");
	esc(b, v);
	wsus_buf_printf(b, "</td></tr>\n");
}

static int page_prov(const struct storage_provenance_row *p, void *ctx)
{
	struct wsus_buf *b = ctx;
	char first[32] = "", last[32] = "";

	if (p->first_ms > 0)
		wsus_time_iso(p->first_ms, first);
	if (p->last_ms > 0)
		wsus_time_iso(p->last_ms, last);
	wsus_buf_printf(b, "<tr><td>");
	esc(b, p->upstream[0] ? p->upstream : "local import");
	wsus_buf_printf(b, "</td><td><code>");
	esc(b, p->cert_sha256[0] ? p->cert_sha256 : "-");
	wsus_buf_printf(b, "</code></td><td>%lld</td><td>%lld</td><td>%s .. %s</td></tr>\n", (long long)p->revisions,
	    (long long)p->deployments, first, last);
	return 0;
}

static int page_dss(const struct storage_dss_row *d, void *ctx)
{
	struct wsus_buf *b = ctx;
	char seen[32] = "never";

	if (d->last_seen > 0)
		wsus_time_iso(d->last_seen, seen);
	wsus_buf_printf(b, "<tr><td><code>");
	esc(b, d->server_id);
	wsus_buf_printf(b, "</code></td><td>");
	esc(b, d->fqdn[0] ? d->fqdn : "-");
	wsus_buf_printf(b, "</td><td>");
	esc(b, d->address);
	wsus_buf_printf(b, "</td><td>%s</td><td>%lld</td></tr>\n", seen, (long long)d->computers);
	return 0;
}

#define PAGE_COMPUTERS_MAX 50   /* rows per computer table on the status page */

struct page_computers {
	struct wsus_buf *b;
	size_t n;
};

/* One computer needing updates or failing, ours or rolled up (VIA). */
static int page_computer(const struct storage_computer_row *c, void *ctx)
{
	struct page_computers *p = ctx;
	char rep[32] = "never";

	if (p->n++ >= PAGE_COMPUTERS_MAX)
		return 0;
	if (c->last_report_ms > 0)
		wsus_time_iso(c->last_report_ms, rep);
	wsus_buf_printf(p->b, "<tr><td>");
	esc(p->b, c->name[0] ? c->name : c->computer_id);
	wsus_buf_printf(p->b, "</td><td>");
	esc(p->b, c->parent_id[0] ? (c->parent_name[0] ? c->parent_name : c->parent_id) : "-");
	wsus_buf_printf(p->b, "</td><td>%s</td><td>%lld</td><td>%lld</td></tr>\n", rep,
	    (long long)(c->by_status[2] + c->by_status[3]), (long long)c->by_status[5]);
	return 0;
}

/* The computers with errors, then those needing updates (the first
 * PAGE_COMPUTERS_MAX of each, and how many there are). */
static void page_computer_tables(struct storage *st, struct wsus_buf *b)
{
	static const char *const titles[2] = { "Computers with errors", "Computers needing updates" };

	for (int i = 0; i < 2; i++) {
		struct storage_computer_filter flt = { .failed = i == 0, .needing = i == 1 };
		struct page_computers p = { b, 0 };

		wsus_buf_printf(b, "<h2>%s</h2>\n<table>\n<tr><th>computer</th><th>via</th><th>last report</th>"
		       "<th>needed</th><th>failed</th></tr>\n", titles[i]);
		storage_computer_list(st, &flt, page_computer, &p, NULL);
		wsus_buf_printf(b, "</table>\n<p>%zu computers%s</p>\n", p.n,
		    p.n > PAGE_COMPUTERS_MAX ? " (the first 50 shown; `computer list` shows all)" : "");
	}
}

static void page(struct server_admin *a, const struct admin_facts *f, struct wsus_buf *b)
{
	const struct storage_status *s = &f->st;
	const struct wsus_config *cfg = a->cfg;
	struct storage *st = NULL;
	struct wsus_buf hb;
	char v[512];
	int bad;

	wsus_buf_init(&hb, 64 * 1024);
	health(a, f, &hb, &bad);
	wsus_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wsus-replica status</title>\n"
	       "<style>body{font-family:sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;"
	       "margin-bottom:1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
	       "th{background:#f3f3f3}.ok{color:#070}.bad{color:#b00}code{font-size:.85em}</style>"
	       "</head><body>\n<h1>wsus-replica</h1>\n");
	wsus_buf_printf(b, "<p class=\"%s\">Health: <strong>%s</strong></p>\n<pre>", bad ? "bad" : "ok",
	    bad ? "problems" : "ok");
	wsus_buf_append(&hb, "", 1);
	esc(b, hb.data);
	wsus_buf_free(&hb);
	wsus_buf_printf(b, "</pre>\n<h2>Server</h2>\n<table>\n");
	row(b, "server id", s->server_id);
	row(b, "certificate sha256", f->fp);
	row(b, "upstream", cfg->up_url ? cfg->up_url : "none (root server)");
	row(b, "data directory", cfg->st_data_dir);
	wsus_buf_printf(b, "</table>\n<h2>Catalogue</h2>\n<table>\n");
	snprintf(v, sizeof(v), "%lld revisions of %lld updates", (long long)s->revisions, (long long)s->updates);
	row(b, "catalogue", v);
	snprintf(v, sizeof(v), "%lld deployments, %lld declined, %lld groups", (long long)s->deployments,
		 (long long)s->declined, (long long)s->groups);
	row(b, "approvals", v);
	snprintf(v, sizeof(v), "%lld of %lld present, %lld missing, %lld quarantined", (long long)s->files_present,
		 (long long)s->files, (long long)s->files_missing, (long long)s->files_quarantined);
	row(b, "content", v);
	row(b, "last import", s->last_import[0] ? s->last_import : "never");
	wsus_buf_printf(b, "</table>\n<h2>Last sync</h2>\n<table>\n");
	if (f->have_sync) {
		char fin[32] = "";

		if (f->sync.finished_ms > 0)
			wsus_time_iso(f->sync.finished_ms, fin);
		row(b, "finished", fin);
		row(b, "upstream", f->sync.upstream);
		row(b, "pin verdict", f->sync.pin_verdict);
		row(b, "result", f->sync.error[0] ? f->sync.error : "published");
		snprintf(v, sizeof(v), "%lld new, %lld changed", (long long)f->sync.new_revisions,
			 (long long)f->sync.changed_revisions);
		row(b, "revisions", v);
	} else {
		row(b, "last sync", "never");
	}
	wsus_buf_printf(b, "</table>\n<h2>Provenance</h2>\n<table>\n<tr><th>upstream</th><th>certificate sha256</th>"
	       "<th>revisions</th><th>deployments</th><th>first .. last</th></tr>\n");
	if (storage_open_ro(cfg->st_data_dir, cfg->st_content_dir, &st, NULL) == 0) {
		storage_sync_provenance(st, page_prov, b, NULL);
		wsus_buf_printf(b, "</table>\n<h2>Downstream servers</h2>\n<table>\n<tr><th>server id</th><th>name</th>"
		       "<th>address</th><th>last seen</th><th>computers</th></tr>\n");
		storage_dss_foreach(st, page_dss, b, NULL);
		wsus_buf_printf(b, "</table>\n");
		page_computer_tables(st, b);
		storage_close(st);
	} else {
		wsus_buf_printf(b, "</table>\n");
	}
	wsus_buf_printf(b, "<h2>Computers</h2>\n<table>\n");
	snprintf(v, sizeof(v), "%lld registered, %lld reporting", (long long)f->rep.computers,
		 (long long)f->rep.computers_reporting);
	row(b, "computers", v);
	snprintf(v, sizeof(v), "%lld", (long long)f->rep.computers_needing);
	row(b, "needing updates", v);
	snprintf(v, sizeof(v), "%lld", (long long)f->rep.computers_with_errors);
	row(b, "failing (install errors)", v);
	wsus_buf_printf(b, "</table>\n</body></html>\n");
}

/*---- The daemon ----*/

static int reply(struct MHD_Connection *conn, unsigned status, const char *type, struct wsus_buf *b)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
	int ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static int client_allowed(struct server_admin *a, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	unsigned int n = 0;
	char fp[65];
	int ok = 0;

	if (!a->tls)
		return 1;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return 0;
	peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (peers == NULL || n == 0)
		return 0;
	server_tls_der_fp(peers[0].data, peers[0].size, fp);
	pthread_rwlock_rdlock(&a->allow_lock);
	for (size_t i = 0; i < a->n_allow && !ok; i++)
		ok = strcmp(a->allow[i], fp) == 0;
	pthread_rwlock_unlock(&a->allow_lock);
	return ok;
}

int server_admin_reload(struct server_admin *a, const struct wsus_config *cfg, struct err *e)
{
	char **fps = NULL, **old;
	size_t n = 0, n_old;
	int rc;

	if (a == NULL || !a->tls)
		return 0;
	rc = server_allow_parse(cfg->adm_client_cert_allow, &fps, &n, e);
	if (rc < 0)
		return rc;
	if (n == 0) {
		server_allow_free(fps, n);
		return err_set(e, -EINVAL, "[admin] client_cert_allow is empty: keeping the running list");
	}
	pthread_rwlock_wrlock(&a->allow_lock);
	old = a->allow;
	n_old = a->n_allow;
	a->allow = fps;
	a->n_allow = n;
	pthread_rwlock_unlock(&a->allow_lock);
	server_allow_free(old, n_old);
	log_info("admin", "reload: client_cert_allow has %zu fingerprints", n);
	return 0;
}

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **req_cls)
{
	struct server_admin *a = cls;
	struct admin_facts f;
	struct wsus_buf b;
	unsigned status = MHD_HTTP_OK;
	const char *type = "text/plain; charset=utf-8";
	int ret, bad = 0;

	(void)version;
	(void)upload;
	(void)upload_size;
	if (*req_cls == NULL) {  /* headers only on the first call */
		*req_cls = a;
		return MHD_YES;
	}
	wsus_buf_init(&b, ADMIN_PAGE_MAX);
	if (!client_allowed(a, conn)) {
		wsus_buf_append(&b, "403 Forbidden\n", 14);
		status = MHD_HTTP_FORBIDDEN;
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		wsus_buf_append(&b, "405 Method Not Allowed\n", 23);
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/health") == 0) {
		gather(a, &f);
		health(a, &f, &b, &bad);
		status = bad ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
	} else if (strcmp(url, "/metrics") == 0) {
		gather(a, &f);
		prom(a, &f, &b);
		type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (strcmp(url, "/") == 0) {
		gather(a, &f);
		page(a, &f, &b);
		type = "text/html; charset=utf-8";
	} else {
		wsus_buf_append(&b, "404 Not Found\n", 14);
		status = MHD_HTTP_NOT_FOUND;
	}
	ret = reply(conn, status, type, &b);
	wsus_buf_free(&b);
	return (enum MHD_Result)ret;
}

int server_admin_start(const struct wsus_config *cfg, struct server *srv, struct server_admin **out,
		       struct err *e)
{
	struct server_admin *a = calloc(1, sizeof(*a));
	struct sockaddr_storage ss;
	char *cert = NULL, *key = NULL, fp[65];
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	int fd, rc = 0;

	if (a == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	a->cfg = cfg;
	a->srv = srv;
	a->started_ms = wsus_now_ms();
	pthread_rwlock_init(&a->allow_lock, NULL);
	a->tls = !config_listen_is_loopback(cfg->adm_listen);
	fd = server_listen_socket(cfg->adm_listen, &a->port, e);
	if (fd < 0) {
		free(a);
		return fd;
	}
	(void)ss;
	if (a->tls) {
		rc = server_allow_parse(cfg->adm_client_cert_allow, &a->allow, &a->n_allow, e);
		if (rc == 0)
			rc = server_tls_load(cfg, &cert, &key, fp, e);
		/* the front end's credentials, so that SIGHUP renews ours too (design note 5) */
		if (rc == 0 && srv != NULL && server_creds_register(srv, a->port) == 0)
			a->mhd = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_admin, a,
						  MHD_OPTION_LISTEN_SOCKET, fd,
						  MHD_OPTION_THREAD_POOL_SIZE, ADMIN_THREADS,
						  MHD_OPTION_CONNECTION_TIMEOUT, 30,
						  MHD_OPTION_HTTPS_CERT_CALLBACK, server_tls_cert_cb,
						  MHD_OPTION_HTTPS_MEM_TRUST, cert,
						  MHD_OPTION_HTTPS_PRIORITIES, server_tls_priorities,
						  MHD_OPTION_END);
		else if (rc == 0)
			a->mhd = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_admin, a,
						  MHD_OPTION_LISTEN_SOCKET, fd,
						  MHD_OPTION_THREAD_POOL_SIZE, ADMIN_THREADS,
						  MHD_OPTION_CONNECTION_TIMEOUT, 30,
						  MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
						  MHD_OPTION_HTTPS_MEM_TRUST, cert,
						  MHD_OPTION_HTTPS_PRIORITIES, server_tls_priorities,
						  MHD_OPTION_END);
	} else {
		a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_admin, a, MHD_OPTION_LISTEN_SOCKET, fd,
					  MHD_OPTION_THREAD_POOL_SIZE, ADMIN_THREADS,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_END);
	}
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cert);
	if (rc == 0 && a->mhd == NULL)
		rc = err_set(e, -EIO, "cannot start the admin listener on %s", cfg->adm_listen);
	if (rc < 0) {
		if (a->mhd == NULL)
			close(fd);
		server_admin_stop(a);
		return rc;
	}
	log_info("admin", "listening url=%s://%s health metrics status-page", a->tls ? "https" : "http",
		 cfg->adm_listen);
	*out = a;
	return 0;
}

int server_admin_port(const struct server_admin *a)
{
	return a ? a->port : 0;
}

void server_admin_stop(struct server_admin *a)
{
	if (a == NULL)
		return;
	if (a->mhd != NULL)
		MHD_stop_daemon(a->mhd);
	server_allow_free(a->allow, a->n_allow);
	pthread_rwlock_destroy(&a->allow_lock);
	free(a);
}
