/*
 * server_report_writer.c -- the event writer behind ReportEventBatch: a
 * bounded queue of requests' batches, a thread that stores them in group
 * transactions under the [clients] byte quotas and answers each request
 * once its batch is committed, and the hourly maintenance of what clients
 * leave behind. server_report.c reads the requests; the design notes there
 * (3, 5, 6, 7) describe what this file does.
 *
 * Ownership: a batch's events and their owner pass to the ticket at
 * server_report_store; the ticket is freed by its request once the outcome
 * is published under the lock, or by the writer when the request stopped
 * waiting (abandoned).
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT_QUEUE_EVENTS    50000
#define REPORT_QUEUE_BYTES     (64u * 1024 * 1024)
#define REPORT_MAX_ROWS        20000000          /* a safety net: event_store_max is the bound */
#define REPORT_GROUP_EVENTS    2000              /* events per group transaction (at least one ticket) */
#define REPORT_GROUP_TICKETS   256               /* requests per group transaction */
#define REPORT_ACK_WAIT_MS     10000             /* a request waits this long for its commit */
#define REPORT_MAINT_EVERY_MS  (3600LL * 1000)
#define REPORT_FULL_MAINT_MS   (60LL * 1000)
#define REPORT_DROP_LOG_MS     10000
#define REPORT_WARN_EVERY_MS   1000
#define REPORT_DAY_MS          (86400LL * 1000)

/* One request's batch on its way to a commit (design note 3). */
enum report_outcome {
	REPORT_PENDING = 0,
	REPORT_STORED,                        /* committed: answer true */
	REPORT_REFUSED,                       /* a quota or the registration check said no */
	REPORT_FAILED,                        /* a storage error */
};

struct report_ticket {
	struct report_ticket *next;
	struct storage_report_event *ev;      /* n events, in the request's order */
	size_t n, bytes;
	void (*release)(void *owner);         /* frees what ev points into */
	void *owner;
	char computer[256];                   /* the cookie's clientId */
	enum report_outcome outcome;          /* set by the writer under the lock */
	int abandoned;                        /* its request stopped waiting: the writer frees it */
};

static void ticket_free(struct report_ticket *t)
{
	if (t == NULL)
		return;
	if (t->release != NULL)
		t->release(t->owner);
	free(t->ev);
	free(t);
}

/*---- The writer ----*/

struct server_report {
	struct server *srv;
	struct storage *st;            /* the writer's own handle */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;           /* to the writer: work, flush or stop */
	pthread_cond_t idle;           /* from the writer: a flush is done */
	pthread_cond_t done;           /* from the writer: tickets were decided */
	struct report_ticket *head, *tail;
	size_t depth, bytes;           /* events and bytes queued */
	struct server_report_limits lim;
	struct storage_report_quota quota;
	uint64_t flush_req, flush_done;
	int stop, hold;
	struct server_report_stats stats;
	int64_t next_maint;            /* monotonic ms; 0 = at once */
	int64_t drop_logged;           /* monotonic ms of the last "queue full" line */
	uint64_t drop_unlogged;        /* events dropped since that line */
};

static struct server_log_gate refusal_gate = SERVER_LOG_GATE_INIT;

/* The warning of design note 7, for a ticket the writer refused. */
static void log_refusal(const char *computer, size_t n, const struct storage_report_batch *b,
			const struct storage_report_quota *q)
{
	uint64_t held = 0;

	if (b->verdict == STORAGE_REPORT_UNREGISTERED) {
		if (server_log_gate_pass(&refusal_gate, REPORT_WARN_EVERY_MS, &held))
			log_info("report", "events of a computer that is not registered refused computer=%s "
				 "events=%zu held_back=%llu", computer, n, (unsigned long long)held);
		return;
	}
	if (!b->first_refusal || !server_log_gate_pass(&refusal_gate, REPORT_WARN_EVERY_MS, &held))
		return;
	if (b->verdict == STORAGE_REPORT_OVER_DAY)
		log_warn("report", "computer over its daily event quota, batches refused until tomorrow (UTC) "
			 "computer=%s used=%lld quota=%lld stored_now=%zu events=%zu held_back=%llu",
			 computer, (long long)b->used, (long long)q->day_bytes, b->inserted, n,
			 (unsigned long long)held);
	else
		log_warn("report", "event store full, batch refused computer=%s store_bytes=%lld "
			 "event_store_max=%lld stored_now=%zu events=%zu held_back=%llu", computer,
			 (long long)b->used, (long long)q->store_bytes, b->inserted, n,
			 (unsigned long long)held);
}

/* Store k tickets in one transaction, retrying once after a pause (a busy
 * database). */
static int write_group(struct storage *st, struct storage_report_batch *b, size_t k,
		       const struct storage_report_quota *q)
{
	struct timespec pause = { 1, 0 };
	struct err e = { 0 };
	int rc = storage_report_put_batches(st, b, k, q, wsus_now_ms(), &e);

	if (rc < 0) {
		log_warn("report", "storing events failed, retrying batches=%zu err=\"%s\"", k, e.msg);
		nanosleep(&pause, NULL);
		rc = storage_report_put_batches(st, b, k, q, wsus_now_ms(), &e);
	}
	if (rc < 0)
		log_err("report", "events not stored, answered false batches=%zu err=\"%s\"", k, e.msg);
	return rc;
}

/* Store tickets[0..k) as one group into b[] and out[] (the tickets are only
 * read: their requests may look at them); when the group fails and holds
 * more than one ticket, each alone, so one bad batch cannot keep the rest
 * out. Returns the number of transactions committed. */
static int store_group(struct storage *st, const struct storage_report_quota *q, struct report_ticket **t,
		       size_t k, struct storage_report_batch *b, enum report_outcome *out)
{
	int commits = 0;

	for (size_t i = 0; i < k; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].computer_id = t[i]->computer;
		b[i].ev = t[i]->ev;
		b[i].n = t[i]->n;
		out[i] = REPORT_FAILED;
	}
	if (write_group(st, b, k, q) == 0) {
		commits = 1;
		for (size_t i = 0; i < k; i++)
			out[i] = REPORT_PENDING;
	} else if (k > 1) {
		for (size_t i = 0; i < k; i++) {
			struct err e = { 0 };

			if (storage_report_put_batches(st, &b[i], 1, q, wsus_now_ms(), &e) < 0) {
				log_err("report", "batch not stored computer=%s events=%zu err=\"%s\"",
					t[i]->computer, t[i]->n, e.msg);
				continue;
			}
			commits++;
			out[i] = REPORT_PENDING;
		}
	}
	for (size_t i = 0; i < k; i++)
		if (out[i] == REPORT_PENDING)
			out[i] = b[i].verdict == STORAGE_REPORT_STORED ? REPORT_STORED : REPORT_REFUSED;
	return commits;
}

/* Publish the outcomes of tickets[0..k): count, free what was abandoned,
 * wake the waiting requests. */
static void publish(struct server_report *r, struct report_ticket **t, size_t k,
		    const struct storage_report_batch *b, const enum report_outcome *out, int commits)
{
	int store_full = 0;

	for (size_t i = 0; i < k; i++)
		if (out[i] == REPORT_REFUSED)
			log_refusal(t[i]->computer, t[i]->n, &b[i], &r->quota);
	pthread_mutex_lock(&r->lock);
	r->stats.commits += (uint64_t)commits;
	for (size_t i = 0; i < k; i++) {
		struct report_ticket *x = t[i];

		if (x->release != NULL)
			x->release(x->owner);   /* stored or not, the events are done with */
		x->release = NULL;
		if (out[i] == REPORT_FAILED) {
			r->stats.failed += x->n;
		} else {
			r->stats.written += b[i].inserted;
			if (out[i] == REPORT_STORED)
				r->stats.duplicates += x->n - b[i].inserted;
			else
				r->stats.refused += x->n - b[i].inserted;
			store_full |= b[i].verdict == STORAGE_REPORT_OVER_STORE;
		}
		x->outcome = out[i];
		if (x->abandoned)
			ticket_free(x);
	}
	/* a full store brings the next maintenance forward (design note 6) */
	if (store_full && r->next_maint > server_mono_ms() + REPORT_FULL_MAINT_MS)
		r->next_maint = server_mono_ms() + REPORT_FULL_MAINT_MS;
	pthread_cond_broadcast(&r->done);
	pthread_mutex_unlock(&r->lock);
}

/* Store a list taken from the queue, in groups (design note 5). */
static void write_tickets(struct server_report *r, struct report_ticket *list)
{
	struct report_ticket *group[REPORT_GROUP_TICKETS];
	struct storage_report_batch b[REPORT_GROUP_TICKETS];
	enum report_outcome out[REPORT_GROUP_TICKETS];

	while (list != NULL) {
		size_t k = 0, events = 0;
		int commits;

		while (list != NULL && k < REPORT_GROUP_TICKETS && (k == 0 || events + list->n <= REPORT_GROUP_EVENTS)) {
			group[k++] = list;
			events += list->n;
			list = list->next;
			group[k - 1]->next = NULL;
		}
		commits = store_group(r->st, &r->quota, group, k, b, out);
		publish(r, group, k, b, out, commits);
	}
}

static int64_t days_ms(int days)
{
	return (int64_t)days * REPORT_DAY_MS;
}

/* Design note 6: retention, the store ceiling, computer expiry. */
static void maintain(struct server_report *r, uint64_t *pruned, uint64_t *expired)
{
	const struct wsus_config *cfg = r->srv->cfg;
	struct storage_maint_policy p = { 0 };
	struct storage_maint_result res = { 0 };
	struct err e = { 0 };

	p.now_ms = wsus_now_ms();
	p.event_before_ms = p.now_ms - days_ms(cfg->st_event_retention_days > 0 ? cfg->st_event_retention_days : 90);
	p.event_max_rows = r->lim.max_rows;
	p.event_max_bytes = r->quota.store_bytes;
	p.computer_before_ms = cfg->cl_computer_expiry_days > 0 ? p.now_ms - days_ms(cfg->cl_computer_expiry_days) : 0;
	if (storage_maintain(r->st, &p, &res, &e) < 0)
		log_warn("report", "maintenance failed err=\"%s\"", e.msg);
	*pruned = (uint64_t)(res.events_aged + res.events_over_count + res.events_over_bytes);
	*expired = (uint64_t)res.computers;
	if (*pruned > 0)
		log_info("report", "events pruned aged=%lld over_count=%lld over_bytes=%lld retention_days=%d "
			 "max_rows=%lld event_store_max=%lld", (long long)res.events_aged,
			 (long long)res.events_over_count, (long long)res.events_over_bytes,
			 cfg->st_event_retention_days, (long long)r->lim.max_rows, (long long)r->quota.store_bytes);
	if (res.computers > 0)
		log_info("report", "computers expired count=%lld computer_expiry_days=%d",
			 (long long)res.computers, cfg->cl_computer_expiry_days);
}

/* Wait (lock held) until there is something to do; 1 when maintenance is due. */
static int writer_wait(struct server_report *r)
{
	for (;;) {
		int64_t now = server_mono_ms();
		int maint_due = now >= r->next_maint;
		int work = r->head != NULL && !r->hold;
		struct timespec until;
		int64_t at;

		if (r->stop || r->flush_req != r->flush_done || work || maint_due)
			return maint_due;
		at = r->next_maint;
		until.tv_sec = (time_t)(at / 1000);
		until.tv_nsec = (long)(at % 1000) * 1000000;
		pthread_cond_timedwait(&r->wake, &r->lock, &until);
	}
}

static void *writer_main(void *arg)
{
	struct server_report *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		int maint_due = writer_wait(r), stopping = r->stop;
		uint64_t req = r->flush_req, pruned = 0, expired = 0;
		struct report_ticket *list = NULL;

		/* held: only a flush or the stop takes the queue */
		if (!r->hold || stopping || req != r->flush_done) {
			list = r->head;
			r->head = r->tail = NULL;
			r->depth = 0;
			r->bytes = 0;
		}
		pthread_mutex_unlock(&r->lock);
		write_tickets(r, list);
		if (maint_due)
			maintain(r, &pruned, &expired);
		pthread_mutex_lock(&r->lock);
		if (maint_due)
			r->next_maint = server_mono_ms() + REPORT_MAINT_EVERY_MS;
		r->stats.pruned += pruned;
		r->stats.expired += expired;
		r->flush_done = req;
		pthread_cond_broadcast(&r->idle);
		if (stopping && r->head == NULL)
			break;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void limits_set(struct server_report *r, const struct server_report_limits *l)
{
	const struct wsus_config *cfg = r->srv->cfg;

	r->lim.max_events = l && l->max_events ? l->max_events : REPORT_QUEUE_EVENTS;
	r->lim.max_bytes = l && l->max_bytes ? l->max_bytes : REPORT_QUEUE_BYTES;
	r->lim.max_rows = l && l->max_rows ? l->max_rows : REPORT_MAX_ROWS;
	r->lim.ack_wait_ms = l && l->ack_wait_ms ? l->ack_wait_ms : REPORT_ACK_WAIT_MS;
	r->quota.day_bytes = cfg->cl_event_quota_day;
	r->quota.store_bytes = cfg->cl_event_store_max;
}

static void report_free(struct server_report *r)
{
	pthread_cond_destroy(&r->done);
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	storage_close(r->st);
	free(r);
}

int server_report_start(struct server *srv, const struct server_report_limits *limits, struct err *e)
{
	struct server_report *r;
	pthread_condattr_t ca;
	int rc;

	if (srv->cfg == NULL)
		return err_set(e, -EINVAL, "the event writer needs the configuration");
	if (srv->cfg->cl_register_per_minute > 0 && srv->register_limit == NULL) {
		rc = server_limit_new(srv->cfg->cl_register_per_minute, &srv->register_limit, e);
		if (rc < 0)
			return rc;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	r->srv = srv;
	limits_set(r, limits);
	rc = storage_open(srv->cfg->st_data_dir, srv->cfg->st_content_dir, &r->st, e);
	if (rc < 0) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_cond_init(&r->done, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&r->idle, NULL);
	rc = pthread_create(&r->thread, NULL, writer_main, r);
	if (rc != 0) {
		report_free(r);
		return err_set(e, -rc, "cannot start the event writer: %s", strerror(rc));
	}
	srv->report = r;
	return 0;
}

void server_report_stop(struct server *srv)
{
	struct server_report *r = srv != NULL ? srv->report : NULL;

	if (srv != NULL) {
		server_limit_free(srv->register_limit);
		srv->register_limit = NULL;
	}
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	if (r->stats.dropped > 0 || r->stats.failed > 0 || r->stats.refused > 0)
		log_warn("report", "event writer stopped written=%llu dropped=%llu refused=%llu failed=%llu "
			 "timed_out=%llu", (unsigned long long)r->stats.written, (unsigned long long)r->stats.dropped,
			 (unsigned long long)r->stats.refused, (unsigned long long)r->stats.failed,
			 (unsigned long long)r->stats.timed_out);
	else
		log_info("report", "event writer stopped written=%llu duplicates=%llu commits=%llu timed_out=%llu",
			 (unsigned long long)r->stats.written, (unsigned long long)r->stats.duplicates,
			 (unsigned long long)r->stats.commits, (unsigned long long)r->stats.timed_out);
	srv->report = NULL;
	report_free(r);
}

void server_report_flush(struct server *srv)
{
	struct server_report *r = srv->report;
	uint64_t want;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	want = ++r->flush_req;
	pthread_cond_signal(&r->wake);
	while (r->flush_done < want)
		pthread_cond_wait(&r->idle, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

void server_report_hold(struct server *srv, int hold)
{
	struct server_report *r = srv->report;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->hold = hold;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

void server_report_get_stats(struct server *srv, struct server_report_stats *out)
{
	struct server_report *r = srv->report;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	out->depth = r->depth;
	pthread_mutex_unlock(&r->lock);
}

/* Lock held: refuse a ticket that does not fit the queue (design note 3). */
static int queue_full(struct server_report *r, const struct report_ticket *t)
{
	int64_t now;

	if (r->depth + t->n <= r->lim.max_events && r->bytes + t->bytes <= r->lim.max_bytes)
		return 0;
	r->stats.dropped += t->n;
	r->drop_unlogged += t->n;
	now = server_mono_ms();
	if (r->drop_logged == 0 || now - r->drop_logged >= REPORT_DROP_LOG_MS) {
		log_warn("report", "event queue full, batch refused computer=%s events=%zu "
			 "dropped_since_last=%llu dropped_total=%llu depth=%zu", t->computer, t->n,
			 (unsigned long long)r->drop_unlogged, (unsigned long long)r->stats.dropped, r->depth);
		r->drop_logged = now;
		r->drop_unlogged = 0;
	}
	return 1;
}

/* Queue a ticket and wait for its commit (design note 3); the outcome.
 * The ticket is freed here or, when the wait ends first, by the writer. */
static enum report_outcome submit(struct server_report *r, struct report_ticket *t)
{
	enum report_outcome out;
	struct timespec until;
	int64_t deadline;

	pthread_mutex_lock(&r->lock);
	if (queue_full(r, t)) {
		pthread_mutex_unlock(&r->lock);
		ticket_free(t);
		return REPORT_REFUSED;
	}
	if (r->tail != NULL)
		r->tail->next = t;
	else
		r->head = t;
	r->tail = t;
	r->depth += t->n;
	r->bytes += t->bytes;
	r->stats.queued += t->n;
	pthread_cond_signal(&r->wake);
	deadline = server_mono_ms() + r->lim.ack_wait_ms;
	until.tv_sec = (time_t)(deadline / 1000);
	until.tv_nsec = (long)(deadline % 1000) * 1000000;
	while (t->outcome == REPORT_PENDING)
		if (pthread_cond_timedwait(&r->done, &r->lock, &until) == ETIMEDOUT &&
		    t->outcome == REPORT_PENDING)
			break;
	out = t->outcome;
	if (out == REPORT_PENDING) {
		t->abandoned = 1;          /* the writer frees it once decided */
		r->stats.timed_out++;
	}
	pthread_mutex_unlock(&r->lock);
	if (out != REPORT_PENDING)
		ticket_free(t);
	return out;
}

/* Without a writer (handler-level harnesses): on the request's handle,
 * under the same quotas. */
static int store_now(struct server_req *req, struct report_ticket *t)
{
	const struct wsus_config *cfg = req->srv->cfg;
	struct storage_report_quota q = { 0 };
	struct storage_report_batch b = { 0 };
	struct err e = { 0 };
	int rc;

	if (cfg != NULL) {
		q.day_bytes = cfg->cl_event_quota_day;
		q.store_bytes = cfg->cl_event_store_max;
	}
	b.computer_id = t->computer;
	b.ev = t->ev;
	b.n = t->n;
	rc = storage_report_put_batches(req->st, &b, 1, &q, wsus_now_ms(), &e);
	if (rc < 0)
		log_err("report", "batch not stored computer=%s events=%zu err=\"%s\"", t->computer, t->n, e.msg);
	else if (b.verdict != STORAGE_REPORT_STORED)
		log_refusal(t->computer, t->n, &b, &q);
	ticket_free(t);
	return rc == 0 && b.verdict == STORAGE_REPORT_STORED;
}

int server_report_store(struct server_req *req, const char *computer, struct storage_report_event *ev, size_t n,
			size_t bytes, void (*release)(void *owner), void *owner)
{
	struct report_ticket *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		if (release != NULL)
			release(owner);
		free(ev);
		return -ENOMEM;
	}
	t->ev = ev;
	t->n = n;
	t->bytes = bytes;
	t->release = release;
	t->owner = owner;
	snprintf(t->computer, sizeof(t->computer), "%s", computer);
	if (req->srv->report == NULL)
		return store_now(req, t);
	return submit(req->srv->report, t) == REPORT_STORED;
}
