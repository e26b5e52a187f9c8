/*
 * server_queue.c -- admission control for the front end: a bounded queue of
 * jobs served by a fixed set of worker threads.
 *
 * The MHD threads read requests and write answers; anything that costs CPU
 * (a SOAP operation) becomes a job. A job is admitted only while the queue
 * holds fewer than its capacity (workers x [server] queue_per_worker) and
 * the wait it would have, estimated from how long recent jobs took, stays
 * within max_wait_ms; so an overloaded server says so at once (server.c
 * answers 503 with Retry-After) instead of letting every answer wait
 * longer. A job that still waited past max_wait_ms when a worker takes it
 * (the estimate was short) is refused the same way: its client has waited
 * long enough, and the work would only delay the jobs behind it.
 *
 * Design notes:
 * (1) One FIFO under one mutex: the workers share it, so a slow job never
 *     holds up the queue behind one worker while another one idles. The
 *     capacity is still counted per worker (the bound is what one worker can
 *     clear within the wait limit).
 * (2) The estimate: an exponentially weighted mean of the wall time of the
 *     jobs run (1/8 weight to the newest), times the jobs that must end
 *     before this one can start (queued and running, less the workers),
 *     over the workers. Wall time, not CPU time: on a machine short of
 *     CPU the wait is what clients see.
 * (3) A job is run exactly once, by a worker (run with refused = 0 or 1) or
 *     by server_queue_stop (refused = 1). Whoever runs it owns it until its
 *     run function returns; the queue never touches a job after that.
 * (4) Stopping cannot interrupt a running job (a parse or an SQL statement
 *     has no cancellation point). server_queue_stop refuses what is still
 *     queued, waits for the running jobs until its deadline, and reports
 *     those still running: the caller then leaves the queue (and whatever
 *     the jobs use) alive and lets process exit end them. A job may check
 *     server_queue_stopping() to give up early.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_int.h"

#define QUEUE_STOP_TICK_MS 10

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct server_queue {
	pthread_mutex_t mu;
	pthread_cond_t  wake;         /* a job arrived, or stop */
	struct server_job *head, *tail;
	size_t   queued;              /* jobs in the list */
	size_t   cap;                 /* admission bound */
	int64_t  max_wait_ms;
	int64_t  mean_us;             /* design note 2; 0 until a job ran */
	int      running;             /* jobs inside their run function */
	int      stop;                /* under mu */
	atomic_int stopping;          /* the same, for jobs to read without the lock */
	pthread_t *threads;
	int      n_threads;
};

static struct server_job *pop_locked(struct server_queue *q)
{
	struct server_job *job = q->head;

	if (job == NULL)
		return NULL;
	q->head = job->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->queued--;
	job->next = NULL;
	return job;
}

static void *worker_main(void *arg)
{
	struct server_queue *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct server_job *job;
		int64_t took_us;
		int late;

		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->wake, &q->mu);
		if (q->stop)
			break;
		job = pop_locked(q);
		q->running++;
		pthread_mutex_unlock(&q->mu);
		late = q->max_wait_ms > 0 && wsus_now_ms() - job->queued_ms > q->max_wait_ms;
		took_us = now_us();
		job->run(job, late ? SERVER_JOB_LATE : SERVER_JOB_RUN);
		took_us = now_us() - took_us;
		pthread_mutex_lock(&q->mu);
		q->running--;
		if (!late)
			q->mean_us = q->mean_us == 0 ? took_us : q->mean_us + (took_us - q->mean_us) / 8;
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int server_queue_start(int workers, size_t per_worker, int64_t max_wait_ms, struct server_queue **out,
		       struct err *e)
{
	struct server_queue *q = calloc(1, sizeof(*q));
	int rc;

	if (q == NULL || workers < 1 || per_worker < 1) {
		free(q);
		return err_set(e, q ? -EINVAL : -ENOMEM, q ? "a queue needs workers and room" : "out of memory");
	}
	q->threads = calloc((size_t)workers, sizeof(*q->threads));
	if (q->threads == NULL) {
		free(q);
		return err_set(e, -ENOMEM, "out of memory");
	}
	q->cap = (size_t)workers * per_worker;
	q->max_wait_ms = max_wait_ms;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->wake, NULL);
	for (; q->n_threads < workers; q->n_threads++) {
		rc = pthread_create(&q->threads[q->n_threads], NULL, worker_main, q);
		if (rc != 0) {
			server_queue_stop(q, 0);
			return err_set(e, -rc, "cannot start a worker thread: %s", strerror(rc));
		}
	}
	*out = q;
	return 0;
}

/* Whether one more job would wait past max_wait_ms (design note 2). */
static int wait_too_long_locked(const struct server_queue *q)
{
	/* jobs that must end before this one starts, beyond the idle workers */
	int64_t ahead = (int64_t)q->queued + q->running - q->n_threads + 1;

	return q->max_wait_ms > 0 && ahead > 0 && ahead * q->mean_us / q->n_threads > q->max_wait_ms * 1000;
}

int server_queue_push(struct server_queue *q, struct server_job *job)
{
	int rc = 0;

	job->next = NULL;
	job->queued_ms = wsus_now_ms();
	pthread_mutex_lock(&q->mu);
	if (q->stop)
		rc = -ESHUTDOWN;
	else if (q->queued >= q->cap || wait_too_long_locked(q))
		rc = -EBUSY;
	if (rc == 0 && job->admit != NULL)
		job->admit(job);
	if (rc == 0) {
		if (q->tail != NULL)
			q->tail->next = job;
		else
			q->head = job;
		q->tail = job;
		q->queued++;
		pthread_cond_signal(&q->wake);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int server_queue_stopping(const struct server_queue *q)
{
	return q != NULL && atomic_load(&q->stopping);
}

/* Refuse every queued job (the lock is not held while they run). */
static void refuse_queued(struct server_queue *q)
{
	struct server_job *job;

	pthread_mutex_lock(&q->mu);
	while ((job = pop_locked(q)) != NULL) {
		pthread_mutex_unlock(&q->mu);
		job->run(job, SERVER_JOB_STOPPING);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
}

static int running_now(struct server_queue *q)
{
	int n;

	pthread_mutex_lock(&q->mu);
	n = q->running;
	pthread_mutex_unlock(&q->mu);
	return n;
}

int server_queue_stop(struct server_queue *q, int64_t deadline_ms)
{
	struct timespec tick = { 0, QUEUE_STOP_TICK_MS * 1000 * 1000 };
	int left;

	if (q == NULL)
		return 0;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	atomic_store(&q->stopping, 1);
	pthread_cond_broadcast(&q->wake);
	pthread_mutex_unlock(&q->mu);
	refuse_queued(q);
	while ((left = running_now(q)) > 0 && wsus_now_ms() < deadline_ms)
		nanosleep(&tick, NULL);
	if (left > 0)
		return left;          /* design note 3: left to process exit */
	for (int i = 0; i < q->n_threads; i++)
		pthread_join(q->threads[i], NULL);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->mu);
	free(q->threads);
	free(q);
	return 0;
}
