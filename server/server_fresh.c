/*
 * server_fresh.c -- the database generation: a counter that moves soon after
 * any connection commits (a worker of this process, the sync worker, the
 * report writer, or another process: the CLI approving, a second serve), so
 * that workers can keep their own copies of what they read from the database
 * (the prepared states they hold, the configuration stamp, a client's target
 * groups and registration) and answer from them without SQL or a shared lock
 * while it stands still.
 *
 * Design notes:
 * (1) A thread polls PRAGMA data_version on a connection of its own every
 *     SERVER_FRESH_POLL_MS. That connection never writes, so every commit
 *     is another connection's and moves the value; the thread then adds one
 *     to srv->db_gen. A copy is good while db_gen equals the generation it
 *     was made at; anything committed is seen within a poll interval.
 * (2) Generation 0 means no poller (a server answering without server_start,
 *     as the unit tests do): callers read the database every time.
 * (3) A copy made from a read that raced a commit is stamped with the
 *     generation read before it, so the poll that follows the commit retires
 *     it: a copy is never kept past one interval after the data it copies
 *     changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define SERVER_FRESH_POLL_MS 10

struct server_fresh {
	struct server *srv;
	struct storage *st;
	int64_t seen;          /* data_version at the last poll (first: before db_gen is 1) */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;              /* under mu */
};

static void *poll_run(void *arg)
{
	struct server_fresh *f = arg;
	int64_t seen = f->seen, v;
	struct err e = { 0 };

	while (!wsus_wait_stop(&f->mu, &f->cv, &f->stop, SERVER_FRESH_POLL_MS)) {
		if (storage_data_version(f->st, &v, &e) < 0) {
			/* unknown: assume it moved, so nothing stale is kept */
			atomic_fetch_add(&f->srv->db_gen, 1);
			continue;
		}
		if (v != seen) {
			seen = v;
			atomic_fetch_add(&f->srv->db_gen, 1);
		}
	}
	return NULL;
}

int server_fresh_start(struct server *srv, struct err *e)
{
	struct server_fresh *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;
	int rc;

	if (f == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	f->srv = srv;
	rc = storage_open(srv->cfg->st_data_dir, srv->cfg->st_content_dir, &f->st, e);
	/* The first reading, before anything can be stamped with a generation:
	 * every commit after it moves the generation. */
	if (rc == 0)
		rc = storage_data_version(f->st, &f->seen, e);
	if (rc < 0) {
		storage_close(f->st);
		free(f);
		return rc;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&srv->db_gen, 1);
	rc = pthread_create(&f->thread, NULL, poll_run, f);
	if (rc != 0) {
		atomic_store(&srv->db_gen, 0);
		storage_close(f->st);
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return err_set(e, -rc, "cannot start the database generation thread");
	}
	srv->fresh = f;
	return 0;
}

void server_fresh_stop(struct server *srv)
{
	struct server_fresh *f = srv->fresh;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	storage_close(f->st);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	srv->fresh = NULL;
	atomic_store(&srv->db_gen, 0);
}

uint64_t server_fresh_gen(const struct server *srv)
{
	return atomic_load(&((struct server *)srv)->db_gen);
}
