/*
 * cmd_cleanup.c -- `cleanup [--dry-run]`: the server cleanup wizard
 * (storage_cleanup.c says what goes and why). One line per thing removed,
 * then a summary; --dry-run prints the same lines as "would remove" and
 * changes nothing (it opens the database read-only).
 *
 * serve runs the same pass once a day on a thread of its own
 * (cli_cleanup_daily_start): the first ten minutes after it starts, then every
 * 24 hours, logging each removal; it never runs VACUUM (that would stop the
 * front end's writers for as long as it takes), only the command does, when
 * more than a quarter of the database is free pages.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define DAY_MS              (86400LL * 1000)
#define CLEANUP_FIRST_MS    (10LL * 60 * 1000)
#define CLEANUP_INTERVAL_MS DAY_MS

/* The policy the configuration asks for. *note: why declines are off. */
static void policy_from(const struct wsus_config *cfg, int dry_run, struct storage_cleanup_policy *p,
			const char **note)
{
	memset(p, 0, sizeof(*p));
	*note = NULL;
	p->now_ms = wsus_now_ms();
	p->dry_run = dry_run;
	if (cfg->cl_computer_expiry_days > 0)
		p->computer_before_ms = p->now_ms - cfg->cl_computer_expiry_days * DAY_MS;
	p->content_grace_ms = cfg->cu_content_grace_days * DAY_MS;
	p->event_before_ms = p->now_ms - (cfg->st_event_retention_days > 0 ? cfg->st_event_retention_days : 90) * DAY_MS;
	p->event_max_bytes = cfg->cl_event_store_max;
	if (cfg->cu_decline_unneeded) {
		if (cfg->up_url != NULL && cfg->up_mode == WSUS_MODE_REPLICA)
			*note = "[cleanup] decline_unneeded applies in autonomous mode only: a replica's declines come"
				" from its upstream";
		else
			p->decline_unneeded = 1;
	}
}

static void print_item(void *ctx, const char *what, const char *id, const char *detail)
{
	const struct storage_cleanup_policy *p = ctx;
	int decline = strcmp(what, "superseded") == 0 || strcmp(what, "expired") == 0;

	printf("%s %s %s (%s)\n", p->dry_run ? (decline ? "would decline" : "would remove")
					     : (decline ? "declined" : "removed"),
	       what, id, detail);
}

static void print_summary(const struct storage_cleanup_policy *p, const struct storage_cleanup_result *r)
{
	printf("cleanup%s: %lld computers, %lld payloads (%lld bytes; %lld more unreferenced within the grace"
	       " period), %lld superseded and %lld expired updates declined, %lld events",
	       p->dry_run ? " (dry run, nothing changed)" : "", (long long)r->computers, (long long)r->files,
	       (long long)r->file_bytes, (long long)r->files_in_grace, (long long)r->declined_superseded,
	       (long long)r->declined_expired, (long long)r->events);
	if (p->dry_run)
		printf("; database %lld bytes\n", (long long)r->db_bytes_before);
	else
		printf("; database %lld -> %lld bytes%s\n", (long long)r->db_bytes_before,
		       (long long)r->db_bytes_after, r->vacuumed ? " (vacuumed)" : "");
}

int cmd_cleanup(struct cli *c, int argc, char **argv)
{
	struct storage_cleanup_policy p;
	struct storage_cleanup_result r;
	struct storage *st = NULL;
	struct err e = { 0 };
	const char *note;
	int dry = argc == 2 && strcmp(argv[1], "--dry-run") == 0, rc;

	if (argc != 1 && !dry)
		return cli_usage("cleanup [--dry-run]");
	if ((dry ? cli_open_storage_ro(c, &st) : cli_open_storage(c, &st)) < 0)
		return CLI_FAIL;
	policy_from(c->cfg, dry, &p, &note);
	p.vacuum = 1;
	if (note != NULL)
		printf("note: %s\n", note);
	rc = storage_cleanup(st, &p, print_item, &p, &r, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("cleanup stopped: %s", e.msg);
	print_summary(&p, &r);
	return CLI_OK;
}

/*---- Daily inside serve ----*/

struct cli_cleanup_daily {
	const struct wsus_config *cfg;
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int             stop;
};

static void log_item(void *ctx, const char *what, const char *id, const char *detail)
{
	(void)ctx;
	log_info("cleanup", "%s %s %s (%s)",
		 strcmp(what, "superseded") == 0 || strcmp(what, "expired") == 0 ? "declined" : "removed", what, id,
		 detail);
}

static void daily_pass(const struct wsus_config *cfg)
{
	struct storage_cleanup_policy p;
	struct storage *st = NULL;
	struct err e = { 0 };
	const char *note;

	policy_from(cfg, 0, &p, &note);
	if (storage_open(cfg->st_data_dir, cfg->st_content_dir, &st, &e) < 0 ||
	    storage_cleanup(st, &p, log_item, NULL, NULL, &e) < 0)
		log_warn("cleanup", "daily cleanup stopped: %s", e.msg);
	storage_close(st);
}

/* Sleep up to ms; 1 when asked to stop. */
static int daily_wait(struct cli_cleanup_daily *d, int64_t ms)
{
	return wsus_wait_stop(&d->mu, &d->cv, &d->stop, ms);
}

static void *daily_run(void *arg)
{
	struct cli_cleanup_daily *d = arg;
	int64_t delay = CLEANUP_FIRST_MS;

	while (!daily_wait(d, delay)) {
		daily_pass(d->cfg);
		delay = CLEANUP_INTERVAL_MS;
	}
	return NULL;
}

int cli_cleanup_daily_start(const struct wsus_config *cfg, struct cli_cleanup_daily **out, struct err *e)
{
	struct cli_cleanup_daily *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int rc;

	if (d == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	d->cfg = cfg;
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&d->thread, NULL, daily_run, d);
	if (rc != 0) {
		pthread_cond_destroy(&d->cv);
		pthread_mutex_destroy(&d->mu);
		free(d);
		return err_set(e, -rc, "cannot start the daily cleanup: %s", strerror(rc));
	}
	*out = d;
	return 0;
}

void cli_cleanup_daily_stop(struct cli_cleanup_daily *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
