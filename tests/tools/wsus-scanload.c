/*
 * wsus-scanload.c -- load generator for bench/scan.sh: N client threads, each
 * with its own HTTPS connection kept alive, running full client scans
 * (GetConfig through the last SyncUpdates page and GetExtendedUpdateInfo,
 * the sync_scan code of `wsus-replica scan`) against one server for a fixed
 * time or number of scans. Prints one key=value line: scans per second and
 * the latency percentiles of a whole scan. A scan cut short by a 503 (the
 * server's admission control) is counted as busy, not failed: the client
 * waits BUSY_PAUSE_MS and scans again, as a Windows client retries later. Each thread owns its client, its
 * scans and its latency list; main merges the lists after joining.
 *
 *   wsus-scanload --server URL --ca FILE [--group NAME] [--clients N]
 *                 [--duration SECONDS | --scans N] [--report]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "protocol.h"
#include "sync.h"

#define MAX_CLIENTS 4096
#define BUSY_PAUSE_MS 200

struct load {
	const struct wsus_config *cfg;
	const char *server;
	const char *group;
	int   report;
	int64_t deadline_ms;          /* 0: run by count */
	long  scans_per_client;
	atomic_long failures;
	atomic_long busy;             /* scans cut short by a 503 */
	atomic_long offered_min, offered_max;
	pthread_mutex_t lock;
	char  first_error[WSUS_ERR_LEN];
};

struct worker {
	struct load *L;
	int    index;
	pthread_t thread;
	double *lat_ms;               /* one per finished scan */
	size_t n, cap;
};

static void note_error(struct load *L, const char *msg)
{
	pthread_mutex_lock(&L->lock);
	if (L->first_error[0] == '\0')
		snprintf(L->first_error, sizeof(L->first_error), "%s", msg);
	pthread_mutex_unlock(&L->lock);
}

static void note_offered(struct load *L, long n)
{
	long v = atomic_load(&L->offered_min);

	while ((v < 0 || n < v) && !atomic_compare_exchange_weak(&L->offered_min, &v, n))
		;
	v = atomic_load(&L->offered_max);
	while (n > v && !atomic_compare_exchange_weak(&L->offered_max, &v, n))
		;
}

static int keep(struct worker *w, double ms)
{
	if (w->n == w->cap) {
		size_t ncap = w->cap ? 2 * w->cap : 256;
		double *nv = realloc(w->lat_ms, ncap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		w->lat_ms = nv;
		w->cap = ncap;
	}
	w->lat_ms[w->n++] = ms;
	return 0;
}

/* One full scan with client (thread) w; its latency is kept when it worked. */
static int one_scan(struct worker *w, struct sync_http *h, const char *client_id)
{
	struct load *L = w->L;
	struct sync_scan_opts o = {
		.server = L->server,
		.client_id = client_id,
		.groups = L->group,
		.nonleaf = SYNC_SCAN_NONLEAF_ALL,
	};
	struct sync_scan *s = NULL;
	struct err e = { 0 };
	int64_t t0 = wsus_now_ms();
	int rc = sync_scan_new(&o, h, &s, &e);

	if (rc == 0)
		rc = sync_scan_run(s, &e);
	if (rc == 0 && L->report)
		rc = sync_scan_report(s, &e);
	if (rc == 0) {
		note_offered(L, (long)sync_scan_count(s));
		rc = keep(w, (double)(wsus_now_ms() - t0));
	} else if (strstr(e.msg, "HTTP 503") != NULL) {
		struct timespec pause = { 0, BUSY_PAUSE_MS * 1000000L };

		atomic_fetch_add(&L->busy, 1);
		nanosleep(&pause, NULL);
	} else {
		atomic_fetch_add(&L->failures, 1);
		note_error(L, e.msg);
	}
	sync_scan_free(s);
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct load *L = w->L;
	struct sync_http *h = NULL;
	struct err e = { 0 };
	char client_id[WSUS_GUID_LEN];

	/* A stable id per simulated client: each thread is one computer. */
	snprintf(client_id, sizeof(client_id), "5ca10ad0-0000-4000-8000-%012x", w->index);
	if (sync_http_new(L->cfg, &h, &e) < 0) {
		atomic_fetch_add(&L->failures, 1);
		note_error(L, e.msg);
		return NULL;
	}
	for (long i = 0;; i++) {
		if (L->deadline_ms > 0 ? wsus_now_ms() >= L->deadline_ms : i >= L->scans_per_client)
			break;
		if (one_scan(w, h, client_id) < 0 && L->deadline_ms == 0)
			continue;
	}
	sync_http_free(h);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static long num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "wsus-scanload: %s must be %ld..%ld\n", what, min, max);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fputs("usage: wsus-scanload --server URL --ca FILE [--group NAME] [--clients N]\n"
	      "                     [--duration SECONDS | --scans N] [--report]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' }, { "ca", required_argument, NULL, 'a' },
		{ "group", required_argument, NULL, 'g' }, { "clients", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' }, { "scans", required_argument, NULL, 'n' },
		{ "report", no_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	struct load L = { .scans_per_client = 0 };
	struct wsus_config *cfg = NULL;
	struct worker *w;
	struct err e = { 0 };
	const char *ca = NULL;
	long clients = 1, duration = 0, scans = 0;
	double *all, elapsed;
	size_t total = 0;
	int64_t t0;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': L.server = optarg; break;
		case 'a': ca = optarg; break;
		case 'g': L.group = optarg; break;
		case 'c': clients = num(optarg, "--clients", 1, MAX_CLIENTS); break;
		case 'd': duration = num(optarg, "--duration", 1, 86400); break;
		case 'n': scans = num(optarg, "--scans", 1, 100000000); break;
		case 'r': L.report = 1; break;
		default: usage();
		}
	}
	if (L.server == NULL || ca == NULL || (duration == 0) == (scans == 0))
		usage();
	log_set_verbosity(LOG_WARN);
	protocol_xml_init();
	if (config_default(NULL, &cfg, &e) < 0) {
		fprintf(stderr, "wsus-scanload: %s\n", e.msg);
		return 1;
	}
	/* The scanned server's CA alone, no pins, no retries: a failure counts. */
	free(cfg->up_ca_file);
	cfg->up_ca_file = strdup(ca);
	free(cfg->tr_pin_store);
	cfg->tr_pin_store = strdup("");
	cfg->up_retries = 0;
	if (cfg->up_ca_file == NULL || cfg->tr_pin_store == NULL) {
		fprintf(stderr, "wsus-scanload: out of memory\n");
		return 1;
	}
	L.cfg = cfg;
	atomic_init(&L.failures, 0);
	atomic_init(&L.busy, 0);
	atomic_init(&L.offered_min, -1);
	atomic_init(&L.offered_max, -1);
	pthread_mutex_init(&L.lock, NULL);
	w = calloc((size_t)clients, sizeof(*w));
	if (w == NULL)
		return 1;
	t0 = wsus_now_ms();
	L.deadline_ms = duration > 0 ? t0 + duration * 1000 : 0;
	L.scans_per_client = scans > 0 ? (scans + clients - 1) / clients : 0;
	for (long i = 0; i < clients; i++) {
		w[i].L = &L;
		w[i].index = (int)i;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "wsus-scanload: cannot start thread %ld\n", i);
			return 1;
		}
	}
	for (long i = 0; i < clients; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].n;
	}
	elapsed = (double)(wsus_now_ms() - t0) / 1000.0;
	all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL)
		return 1;
	total = 0;
	for (long i = 0; i < clients; i++) {
		memcpy(all + total, w[i].lat_ms, w[i].n * sizeof(*all));
		total += w[i].n;
		free(w[i].lat_ms);
	}
	qsort(all, total, sizeof(*all), cmp_double);
	printf("clients=%ld elapsed_s=%.1f scans=%zu failed=%ld busy=%ld scans_per_s=%.1f p50_ms=%.0f "
	       "p99_ms=%.0f max_ms=%.0f offered=%ld", clients, elapsed, total, atomic_load(&L.failures),
	       atomic_load(&L.busy),
	       elapsed > 0 ? (double)total / elapsed : 0.0, pct(all, total, 0.50), pct(all, total, 0.99),
	       total ? all[total - 1] : 0.0, atomic_load(&L.offered_max));
	if (atomic_load(&L.offered_min) != atomic_load(&L.offered_max))
		printf(" offered_min=%ld", atomic_load(&L.offered_min));
	printf("\n");
	if (L.first_error[0] != '\0')
		fprintf(stderr, "wsus-scanload: first failure: %s\n", L.first_error);
	free(all);
	free(w);
	config_free(cfg);
	pthread_mutex_destroy(&L.lock);
	return atomic_load(&L.failures) == 0 && total > 0 ? 0 : 1;
}
