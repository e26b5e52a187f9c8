/*
 * sync_sched.c -- the schedule inside `serve`: one thread that runs sync_run
 * every [sync] interval plus a random part of [sync] jitter, and retries a
 * failed sync with exponential backoff. Syncs never overlap: this thread
 * runs them one after another, and sync_run's lock file keeps out a
 * `wsus-replica sync` started beside it (that attempt counts as a failure and
 * is retried). When a sync left its content for later because [sync] window
 * was closed, the next sync comes when the window opens (if that is sooner
 * than the interval), so content arrives inside the window without waiting
 * for a schedule that may never fall in it. The scheduler is freed by
 * sync_scheduler_stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "sync_phase.h"

#define BACKOFF_FIRST_MS 30000LL

struct sync_scheduler {
	const struct wsus_config *cfg;
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int             stop;        /* under mu */
	atomic_int      cancel;      /* read by the running sync between requests */
};

int64_t sync_schedule_delay_ms(int interval_s, int jitter_s, int failures, uint32_t rnd)
{
	int64_t interval = (int64_t)(interval_s > 0 ? interval_s : 1) * 1000;
	int64_t jitter = (int64_t)(jitter_s > 0 ? jitter_s : 0) * 1000;
	int64_t base = interval;

	if (failures > 0) {
		base = BACKOFF_FIRST_MS;
		for (int i = 1; i < failures && base < interval; i++)
			base *= 2;
		if (base > interval)
			base = interval;
		/* a retry waits for the backoff, not for a whole jitter window */
		if (jitter > base / 2)
			jitter = base / 2;
	}
	return base + (jitter > 0 ? (int64_t)(rnd % (uint64_t)(jitter + 1)) : 0);
}

static uint32_t random32(void)
{
	uint32_t r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)time(NULL);
	return r;
}

/* The first wait: a jitter's worth when a sync is due (never synced, or the
 * last success is older than the interval), else until it is due. */
static int64_t first_delay(const struct wsus_config *cfg)
{
	struct storage_sync_record last;
	struct storage *st = NULL;
	int64_t due = 0, jitter = (int64_t)cfg->sy_jitter * 1000;
	uint32_t rnd = random32();

	if (storage_open(cfg->st_data_dir, cfg->st_content_dir, &st, NULL) == 0) {
		if (storage_sync_last(st, 1, &last, NULL) == 0 && last.error[0] == '\0')
			due = last.finished_ms + (int64_t)cfg->sy_interval * 1000 - wsus_now_ms();
		storage_close(st);
	}
	if (due < 0)
		due = 0;
	return due + (jitter > 0 ? (int64_t)(rnd % (uint64_t)(jitter + 1)) : 0);
}

/* Sleep up to ms; 1 when asked to stop. */
static int wait_ms(struct sync_scheduler *s, int64_t ms)
{
	return wsus_wait_stop(&s->mu, &s->cv, &s->stop, ms);
}

static void *run(void *arg)
{
	struct sync_scheduler *s = arg;
	const struct wsus_config *cfg = s->cfg;
	struct sync_options opt = { .progress = 0, .cancel = &s->cancel };
	struct sync_result res;
	struct err e;
	int64_t delay = first_delay(cfg);
	int failures = 0, rc;

	for (;;) {
		log_info("sync", "next scheduled sync in=%llds", (long long)((delay + 999) / 1000));
		if (wait_ms(s, delay))
			break;
		err_clear(&e);
		rc = sync_run(cfg, &opt, &res, &e);
		if (rc == -ECANCELED)
			break;
		failures = rc == 0 ? 0 : failures + 1;
		delay = sync_schedule_delay_ms(cfg->sy_interval, cfg->sy_jitter, failures, random32());
		if (rc == 0 && res.window_closed && res.window_opens_ms < delay) {
			delay = res.window_opens_ms + 1000;
			log_info("sync", "content waits for [sync] window %s: next sync when it opens", cfg->sy_window);
		}
		if (rc < 0)
			log_warn("sync", "scheduled sync failed failures=%d retry_in=%llds: %s", failures,
				 (long long)(delay / 1000), e.msg);
	}
	return NULL;
}

int sync_scheduler_start(const struct wsus_config *cfg, struct sync_scheduler **out, struct err *e)
{
	struct sync_scheduler *s;
	pthread_condattr_t ca;
	int rc;

	if (cfg->up_url == NULL)
		return err_set(e, -EINVAL, "no upstream configured");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	s->cfg = cfg;
	atomic_init(&s->cancel, 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&s->thread, NULL, run, s);
	if (rc != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return err_set(e, -rc, "cannot start the sync scheduler: %s", strerror(rc));
	}
	log_info("sync", "scheduler started upstream=%s interval=%ds jitter=%ds mode=%s", cfg->up_url,
		 cfg->sy_interval, cfg->sy_jitter, cfg->up_mode == WSUS_MODE_REPLICA ? "replica" : "autonomous");
	*out = s;
	return 0;
}

void sync_scheduler_stop(struct sync_scheduler *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->cancel, 1);
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
