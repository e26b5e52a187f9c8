/*
 * server_report.c -- the client half of ReportingWebService (MS-WUSP
 * 3.1.5.11): ReportEventBatch, read leniently into events that a writer
 * thread stores in batches, off the request path; and minimal answers for
 * the WSDL's other client operations. The writer belongs to struct server
 * (server_report_start/stop); every queued event is owned by the queue until
 * the writer has stored and freed it.
 *
 * Design notes:
 * (1) The cookie is checked as Windows does on this endpoint (example 20 of
 *     MS-WUSP: ConfigChanged from ReportEventBatch); the computer an event
 *     belongs to is the cookie's clientId, never the TargetID it claims.
 * (2) Leniency: an event without a usable BasicData (no EventInstanceID, no
 *     EventID, a NamespaceID other than 1) is skipped, not a fault, so one
 *     odd event does not make a client resend its whole batch for ever.
 * (3) The queue is bounded in events and bytes. A batch that does not fit is
 *     dropped whole, counted and answered false ("not received", so the
 *     client keeps it); a request never waits for the database.
 * (4) Each event is turned into update states here, where MS-WUSP's event
 *     ids and MiscData tags are understood; storage only orders and applies
 *     them (storage_report_put). AGENT_STATUS (156) carries the U/V/W/g/h
 *     lists and is a snapshot; install, download and uninstall events name
 *     their update in BasicData/UpdateID.
 * (5) The writer drains the whole queue at each wake-up (requests keep
 *     queueing meanwhile, so batches grow with load), in transactions of at
 *     most REPORT_WRITE_CHUNK events, and prunes by age and count at start
 *     and then hourly.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT_MAX_BATCH       5000              /* events in one request */
#define REPORT_MAX_STATES      20000             /* GUIDs in one event's status lists */
#define REPORT_TEXT_MAX        (64u * 1024)      /* ReplacementStrings / MiscData kept per event */
#define REPORT_APP_MAX         256
#define REPORT_QUEUE_EVENTS    50000
#define REPORT_QUEUE_BYTES     (64u * 1024 * 1024)
#define REPORT_MAX_ROWS        5000000
#define REPORT_WRITE_CHUNK     500
#define REPORT_PRUNE_EVERY_MS  (3600LL * 1000)
#define REPORT_DROP_LOG_MS     10000
#define REPORT_DAY_MS          (86400LL * 1000)
#define ZERO_GUID              "00000000-0000-0000-0000-000000000000"

/*---- Events as queued ----*/

struct report_item {
	struct report_item *next;
	struct storage_report_event ev;       /* its pointers lead into the fields below */
	char   instance_id[WSUS_GUID_LEN];
	char   update_id[WSUS_GUID_LEN];
	char  *computer_id, *app_name, *replacement, *misc;
	struct storage_report_state *states;
	size_t bytes;                         /* what it costs the queue */
};

static void item_free(struct report_item *it)
{
	if (it == NULL)
		return;
	free(it->computer_id);
	free(it->app_name);
	free(it->replacement);
	free(it->misc);
	free(it->states);
	free(it);
}

static void items_free(struct report_item *list)
{
	while (list != NULL) {
		struct report_item *next = list->next;

		item_free(list);
		list = next;
	}
}

/*---- The writer ----*/

struct server_report {
	struct server *srv;
	struct storage *st;            /* the writer's own handle */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;           /* to the writer: work, flush or stop */
	pthread_cond_t idle;           /* from the writer: a flush is done */
	struct report_item *head, *tail;
	size_t depth, bytes;           /* events and bytes queued */
	struct server_report_limits lim;
	uint64_t flush_req, flush_done;
	int stop, hold;
	struct server_report_stats stats;
	int64_t next_prune;            /* monotonic ms; 0 = at once */
	int64_t drop_logged;           /* monotonic ms of the last "queue full" line */
	uint64_t drop_unlogged;        /* events dropped since that line */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Store n events in one transaction, retrying once after a pause (a busy
 * database); *inserted = the new ones. */
static int write_chunk(struct storage *st, const struct storage_report_event *ev, size_t n,
		       size_t *inserted)
{
	struct timespec pause = { 1, 0 };
	struct err e = { 0 };
	int rc = storage_report_put(st, ev, n, inserted, &e);

	if (rc < 0) {
		log_warn("report", "storing events failed, retrying events=%zu err=\"%s\"", n, e.msg);
		nanosleep(&pause, NULL);
		rc = storage_report_put(st, ev, n, inserted, &e);
	}
	if (rc < 0)
		log_err("report", "events lost events=%zu err=\"%s\"", n, e.msg);
	return rc;
}

/* Store and free a list (design note 5); counts go to *written etc. */
static void write_items(struct storage *st, struct report_item *list, uint64_t *written,
			uint64_t *duplicates, uint64_t *failed)
{
	struct storage_report_event *chunk = malloc(REPORT_WRITE_CHUNK * sizeof(*chunk));

	while (list != NULL) {
		struct report_item *first = list;
		size_t n = 0, inserted = 0;

		for (; list != NULL && n < REPORT_WRITE_CHUNK; list = list->next)
			if (chunk != NULL)
				chunk[n++] = list->ev;
			else
				n++;
		if (chunk != NULL && write_chunk(st, chunk, n, &inserted) == 0) {
			*written += inserted;
			*duplicates += n - inserted;
		} else {
			*failed += n;
		}
		while (first != list) {
			struct report_item *next = first->next;

			item_free(first);
			first = next;
		}
	}
	if (chunk == NULL && *failed > 0)
		log_err("report", "events lost: out of memory");
	free(chunk);
}

static int64_t retention_days(const struct server *srv)
{
	return srv->cfg != NULL && srv->cfg->st_event_retention_days > 0 ? srv->cfg->st_event_retention_days
									   : 90;
}

static uint64_t prune(struct server_report *r)
{
	int64_t before = wsus_now_ms() - retention_days(r->srv) * REPORT_DAY_MS, deleted = 0;
	struct err e = { 0 };

	if (storage_report_prune(r->st, before, r->lim.max_rows, &deleted, &e) < 0)
		log_warn("report", "pruning events failed err=\"%s\"", e.msg);
	if (deleted > 0)
		log_info("report", "events pruned rows=%lld retention_days=%lld max_rows=%lld",
			 (long long)deleted, (long long)retention_days(r->srv), (long long)r->lim.max_rows);
	return (uint64_t)deleted;
}

/* Wait (lock held) until there is something to do; 1 when a prune is due. */
static int writer_wait(struct server_report *r)
{
	for (;;) {
		int64_t now = mono_ms();
		int prune_due = now >= r->next_prune;
		int work = r->head != NULL && !r->hold;
		struct timespec until;
		int64_t at;

		if (r->stop || r->flush_req != r->flush_done || work || prune_due)
			return prune_due;
		at = r->next_prune;
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
		int prune_due = writer_wait(r), stopping = r->stop;
		uint64_t req = r->flush_req, written = 0, duplicates = 0, failed = 0, pruned = 0;
		struct report_item *list = NULL;

		/* held: only a flush or the stop takes the queue */
		if (!r->hold || stopping || req != r->flush_done) {
			list = r->head;
			r->head = r->tail = NULL;
			r->depth = 0;
			r->bytes = 0;
		}
		pthread_mutex_unlock(&r->lock);
		write_items(r->st, list, &written, &duplicates, &failed);
		if (prune_due)
			pruned = prune(r);
		pthread_mutex_lock(&r->lock);
		if (prune_due)
			r->next_prune = mono_ms() + REPORT_PRUNE_EVERY_MS;
		r->stats.written += written;
		r->stats.duplicates += duplicates;
		r->stats.failed += failed;
		r->stats.pruned += pruned;
		r->flush_done = req;
		pthread_cond_broadcast(&r->idle);
		if (stopping && r->head == NULL)
			break;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int server_report_start(struct server *srv, const struct server_report_limits *limits, struct err *e)
{
	struct server_report *r;
	pthread_condattr_t ca;
	int rc;

	if (srv->cfg == NULL)
		return err_set(e, -EINVAL, "the event writer needs the configuration");
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	r->srv = srv;
	r->lim.max_events = limits && limits->max_events ? limits->max_events : REPORT_QUEUE_EVENTS;
	r->lim.max_bytes = limits && limits->max_bytes ? limits->max_bytes : REPORT_QUEUE_BYTES;
	r->lim.max_rows = limits && limits->max_rows ? limits->max_rows : REPORT_MAX_ROWS;
	rc = storage_open(srv->cfg->st_data_dir, srv->cfg->st_content_dir, &r->st, e);
	if (rc < 0) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&r->idle, NULL);
	rc = pthread_create(&r->thread, NULL, writer_main, r);
	if (rc != 0) {
		pthread_cond_destroy(&r->idle);
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		storage_close(r->st);
		free(r);
		return err_set(e, -rc, "cannot start the event writer: %s", strerror(rc));
	}
	srv->report = r;
	return 0;
}

void server_report_stop(struct server *srv)
{
	struct server_report *r = srv != NULL ? srv->report : NULL;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	if (r->stats.dropped > 0 || r->stats.failed > 0)
		log_warn("report", "event writer stopped written=%llu dropped=%llu failed=%llu",
			 (unsigned long long)r->stats.written, (unsigned long long)r->stats.dropped,
			 (unsigned long long)r->stats.failed);
	items_free(r->head);
	storage_close(r->st);
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
	srv->report = NULL;
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

/* Queue a batch, or drop it whole when it does not fit (design note 3).
 * The list is the queue's either way. 0, or -ENOSPC when dropped. */
static int enqueue(struct server_report *r, struct report_item *list, size_t n, size_t bytes,
		   const char *computer)
{
	struct report_item *last = list;
	int64_t now;

	pthread_mutex_lock(&r->lock);
	if (r->depth + n > r->lim.max_events || r->bytes + bytes > r->lim.max_bytes) {
		r->stats.dropped += n;
		r->drop_unlogged += n;
		now = mono_ms();
		if (r->drop_logged == 0 || now - r->drop_logged >= REPORT_DROP_LOG_MS) {
			log_warn("report", "event queue full, batch refused computer=%s events=%zu "
				 "dropped_since_last=%llu dropped_total=%llu depth=%zu", computer, n,
				 (unsigned long long)r->drop_unlogged, (unsigned long long)r->stats.dropped,
				 r->depth);
			r->drop_logged = now;
			r->drop_unlogged = 0;
		}
		pthread_mutex_unlock(&r->lock);
		items_free(list);
		return -ENOSPC;
	}
	while (last->next != NULL)
		last = last->next;
	if (r->tail != NULL)
		r->tail->next = list;
	else
		r->head = list;
	r->tail = last;
	r->depth += n;
	r->bytes += bytes;
	r->stats.queued += n;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/*---- Reading a ReportingEvent ----*/

/* MiscData status lists of AGENT_STATUS, weakest first: an update in two
 * lists takes the later one (installed beats failed beats downloaded beats
 * needed; pending reboot is installed and more). */
static const struct {
	char tag;
	int  status;
} status_lists[] = {
	{ 'U', 2 },   /* InstallableUpdateIDs: needed */
	{ 'h', 3 },   /* DownloadedUpdateIDs */
	{ 'g', 5 },   /* FailedUpdateIDs */
	{ 'V', 4 },   /* InstalledUpdateIDs */
	{ 'W', 6 },   /* InstalledPendingRebootIDs */
};

/* Events about the update of BasicData/UpdateID and what they make of it
 * (-1: what was known no longer holds). */
static const struct {
	int event;
	int status;
} event_states[] = {
	{ 161, 5 },                         /* download failed */
	{ 162, 3 }, { 164, 3 },             /* downloaded (164: partly from a peer) */
	{ 182, 5 }, { 195, 5 }, { 198, 5 }, /* install failed: user, scheduled, at shutdown */
	{ 187, 5 }, { 192, 5 }, { 200, 5 }, /* install killed */
	{ 203, 5 }, { 204, 5 },             /* failed after the reboot */
	{ 183, 4 }, { 190, 4 }, { 197, 4 }, /* installed */
	{ 184, 6 }, { 191, 6 }, { 199, 6 }, /* installed, reboot pending */
	{ 221, 5 }, { 225, 5 },             /* uninstall failed or killed */
	{ 222, -1 }, { 224, -1 },           /* uninstalled */
};

#define EVENT_DETECTION_FINISHED 147
#define EVENT_DETECTION_FAILED   148
#define EVENT_AGENT_STATUS       156

static int state_rank(int status)
{
	for (size_t i = 0; i < sizeof(status_lists) / sizeof(status_lists[0]); i++)
		if (status_lists[i].status == status)
			return (int)i;
	return -1;
}

static int cmp_state(const void *a, const void *b)
{
	const struct storage_report_state *x = a, *y = b;
	int c = strcmp(x->update_id, y->update_id);

	return c != 0 ? c : state_rank(x->status) - state_rank(y->status);
}

struct states {
	struct storage_report_state *v;
	size_t n, cap;
};

static int states_add(struct states *s, const char *guid, int status)
{
	if (s->n == REPORT_MAX_STATES)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct storage_report_state *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memcpy(s->v[s->n].update_id, guid, WSUS_GUID_LEN);
	s->v[s->n].status = status;
	s->n++;
	return 0;
}

/* "X=guid;guid;..." for a status tag X; GUIDs that do not read are skipped. */
static int states_from_misc(struct states *s, const char *text)
{
	int status = -1;

	for (size_t i = 0; i < sizeof(status_lists) / sizeof(status_lists[0]); i++)
		if (text[0] == status_lists[i].tag && text[1] == '=')
			status = status_lists[i].status;
	if (status < 0)
		return 0;
	for (const char *p = text + 2; *p != '\0';) {
		size_t n = strcspn(p, ";");
		char raw[64], guid[WSUS_GUID_LEN];

		if (n > 0 && n < sizeof(raw)) {
			memcpy(raw, p, n);
			raw[n] = '\0';
			if (wsus_guid_normalize(raw, guid) == 0 && strcmp(guid, ZERO_GUID) != 0 &&
			    states_add(s, guid, status) < 0)
				return -ENOMEM;
		}
		p += n + (p[n] == ';');
	}
	return 0;
}

/* Sort and keep one state per update, the strongest. */
static void states_settle(struct states *s)
{
	size_t w = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_state);
	for (size_t i = 0; i < s->n; i++) {
		if (w > 0 && strcmp(s->v[w - 1].update_id, s->v[i].update_id) == 0)
			s->v[w - 1] = s->v[i];      /* sorted weakest first: the later wins */
		else
			s->v[w++] = s->v[i];
	}
	s->n = w;
}

/* Text as stored: control characters become spaces (one string per line). */
static int append_line(struct wsus_buf *b, const char *t)
{
	size_t start = b->len;
	int rc;

	if (b->len > 0 && wsus_buf_appends(b, "\n") < 0)
		return -E2BIG;
	start = b->len;
	rc = wsus_buf_appends(b, t);
	for (size_t i = start; rc == 0 && i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
			b->data[i] = ' ';
	return rc;
}

/* The <string> children of list joined into *out (NULL when none); past
 * REPORT_TEXT_MAX the rest is left out. Each string is also shown to
 * states (when not NULL) before any cut. */
static int read_strings(xmlNodePtr list, char **out, struct states *states)
{
	struct wsus_buf b;
	int full = 0, rc = 0;

	*out = NULL;
	wsus_buf_init(&b, REPORT_TEXT_MAX);
	for (xmlNodePtr x = protocol_soap_child(list, "string"); x != NULL && rc == 0;
	     x = protocol_soap_next(x)) {
		char *t = protocol_soap_text(x);

		if (t == NULL)
			continue;
		if (states != NULL)
			rc = states_from_misc(states, t);
		if (rc == 0 && !full && append_line(&b, t) < 0)
			full = 1;
		free(t);
	}
	if (rc == 0 && b.len > 0)
		*out = wsus_buf_steal(&b, NULL);
	wsus_buf_free(&b);
	return rc;
}

static int child_int(xmlNodePtr parent, const char *name, int64_t min, int64_t max, int dflt, int *out)
{
	int64_t v = 0;
	int rc = protocol_soap_child_int(parent, name, min, max, &v);

	*out = rc == 0 ? (int)v : dflt;
	return rc;
}

/* The event's own update (BasicData/UpdateID), "" when none or all zero. */
static void basic_update(xmlNodePtr basic, struct report_item *it)
{
	xmlNodePtr u = protocol_soap_child(basic, "UpdateID");
	char raw[64];

	it->update_id[0] = '\0';
	if (u == NULL || protocol_soap_child_text(u, "UpdateID", raw, sizeof(raw)) < 0 ||
	    wsus_guid_normalize(raw, it->update_id) < 0 || strcmp(it->update_id, ZERO_GUID) == 0) {
		it->update_id[0] = '\0';
		return;
	}
	(void)child_int(u, "RevisionNumber", 0, INT32_MAX, 0, &it->ev.revision);
	it->ev.update_id = it->update_id;
}

/* BasicData into it; -EINVAL when the event is to be skipped (note 2). */
static int read_basic(xmlNodePtr basic, int64_t now, struct report_item *it)
{
	char raw[64], text[64];
	int ns, rc;

	if (basic == NULL || protocol_soap_child_text(basic, "EventInstanceID", raw, sizeof(raw)) < 0 ||
	    wsus_guid_normalize(raw, it->instance_id) < 0 ||
	    child_int(basic, "EventID", INT16_MIN, UINT16_MAX, 0, &it->ev.event_id) < 0)
		return -EINVAL;
	rc = child_int(basic, "NamespaceID", INT32_MIN, INT32_MAX, 1, &ns);
	if ((rc < 0 && rc != -ENOENT) || ns != 1)
		return -EINVAL;
	it->ev.namespace_id = ns;
	it->ev.instance_id = it->instance_id;
	(void)child_int(basic, "SourceID", INT16_MIN, UINT16_MAX, 0, &it->ev.source_id);
	/* the WSDL spells it Win32HResult, the prose Win32Hresult */
	if (child_int(basic, "Win32HResult", INT32_MIN, INT32_MAX, 0, &it->ev.hresult) < 0)
		(void)child_int(basic, "Win32Hresult", INT32_MIN, INT32_MAX, 0, &it->ev.hresult);
	it->ev.time_ms = now;
	if (protocol_soap_child_text(basic, "TimeAtTarget", text, sizeof(text)) == 0 &&
	    protocol_datetime_parse(text, &it->ev.time_ms) < 0)
		it->ev.time_ms = now;
	if (protocol_soap_child_text(basic, "AppName", text, sizeof(text)) == 0) {
		it->app_name = strndup(text, REPORT_APP_MAX);
		if (it->app_name == NULL)
			return -ENOMEM;
		it->ev.app_name = it->app_name;
	}
	basic_update(basic, it);
	return 0;
}

/* What the event says about updates (design note 4). */
static int derive_states(struct report_item *it, struct states *s)
{
	int id = it->ev.event_id;

	if (id == EVENT_DETECTION_FINISHED)
		it->ev.sync_result = 1;
	else if (id == EVENT_DETECTION_FAILED)
		it->ev.sync_result = 2;
	if (id == EVENT_AGENT_STATUS) {
		states_settle(s);
		it->ev.snapshot = 1;
	} else {
		s->n = 0;
		for (size_t i = 0; i < sizeof(event_states) / sizeof(event_states[0]); i++)
			if (event_states[i].event == id && it->ev.update_id != NULL &&
			    states_add(s, it->ev.update_id, event_states[i].status) < 0)
				return -ENOMEM;
	}
	it->states = s->v;
	it->ev.states = s->v;
	it->ev.n_states = s->n;
	s->v = NULL;
	return 0;
}

static size_t text_cost(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/* One ReportingEvent into a new item (*out NULL when it is skipped). */
static int read_event(xmlNodePtr x, const char *computer, int64_t now, struct report_item **out)
{
	struct report_item *it = calloc(1, sizeof(*it));
	xmlNodePtr ext = protocol_soap_child(x, "ExtendedData");
	struct states s = { 0 };
	int rc;

	*out = NULL;
	if (it == NULL)
		return -ENOMEM;
	rc = read_basic(protocol_soap_child(x, "BasicData"), now, it);
	if (rc == -EINVAL) {
		item_free(it);
		return 0;
	}
	it->computer_id = rc == 0 ? strdup(computer) : NULL;
	if (rc == 0 && it->computer_id == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = read_strings(protocol_soap_child(ext, "ReplacementStrings"), &it->replacement, NULL);
	if (rc == 0)
		rc = read_strings(protocol_soap_child(ext, "MiscData"), &it->misc,
				  it->ev.event_id == EVENT_AGENT_STATUS ? &s : NULL);
	if (rc == 0)
		rc = derive_states(it, &s);
	free(s.v);
	if (rc < 0) {
		item_free(it);
		return rc;
	}
	it->ev.computer_id = it->computer_id;
	it->ev.received_ms = now;
	it->ev.replacement = it->replacement;
	it->ev.misc = it->misc;
	it->bytes = sizeof(*it) + text_cost(it->computer_id) + text_cost(it->app_name) +
		    text_cost(it->replacement) + text_cost(it->misc) + it->ev.n_states * sizeof(*it->states);
	*out = it;
	return 0;
}

/*---- The operations ----*/

/* Without a writer (handler-level harnesses), on the request's handle. */
static int write_now(struct server_req *req, struct report_item *list, struct server_fault *f)
{
	uint64_t written = 0, duplicates = 0, failed = 0;

	write_items(req->st, list, &written, &duplicates, &failed);
	if (failed > 0)
		return server_fault_set(f, PROTOCOL_ERR_INTERNAL, "events could not be stored");
	return 0;
}

struct batch {
	struct report_item *head, *tail;
	size_t n, bytes, skipped;
};

static int read_batch(xmlNodePtr list, const char *computer, struct batch *b, struct server_fault *f)
{
	int64_t now = wsus_now_ms();
	size_t count = 0;

	memset(b, 0, sizeof(*b));
	for (xmlNodePtr x = protocol_soap_child(list, "ReportingEvent"); x != NULL; x = protocol_soap_next(x))
		if (++count > REPORT_MAX_BATCH)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
						"eventBatch: more than %d events", REPORT_MAX_BATCH);
	for (xmlNodePtr x = protocol_soap_child(list, "ReportingEvent"); x != NULL; x = protocol_soap_next(x)) {
		struct report_item *it = NULL;
		int rc = read_event(x, computer, now, &it);

		if (rc < 0) {
			items_free(b->head);
			b->head = NULL;
			server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
			return rc;
		}
		if (it == NULL) {
			b->skipped++;
			continue;
		}
		if (b->tail != NULL)
			b->tail->next = it;
		else
			b->head = it;
		b->tail = it;
		b->n++;
		b->bytes += it->bytes;
	}
	return 0;
}

static int answer_bool(struct wsus_buf *out, const char *op, int value)
{
	return wsus_buf_printf(out, "<%sResponse xmlns=\"%s\"><%sResult>%s</%sResult></%sResponse>", op,
			       PROTOCOL_NS_SD, op, value ? "true" : "false", op, op);
}

int server_report_event_batch(struct server_req *req, struct protocol_soap_msg *msg,
			      struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct batch b;
	char text[64];
	int64_t client_ms;
	int rc, accepted = 1;

	rc = server_client_cookie(req, msg->op, 1, &c, f);
	if (rc < 0)
		return rc;
	if (protocol_soap_child_text(msg->op, "clientTime", text, sizeof(text)) < 0 ||
	    protocol_datetime_parse(text, &client_ms) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "clientTime");
	if (protocol_soap_child(msg->op, "eventBatch") == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "eventBatch");
	rc = read_batch(protocol_soap_child(msg->op, "eventBatch"), c.subject, &b, f);
	if (rc < 0)
		return rc;
	if (b.head != NULL && req->srv->report != NULL)
		accepted = enqueue(req->srv->report, b.head, b.n, b.bytes, c.subject) == 0;
	else if (b.head != NULL)
		rc = write_now(req, b.head, f);
	if (rc < 0)
		return rc;
	log_debug("report", "event batch computer=%s events=%zu skipped=%zu accepted=%d peer=%s", c.subject,
		  b.n, b.skipped, accepted, req->peer[0] ? req->peer : "-");
	return answer_bool(out, "ReportEventBatch", accepted);
}

int server_report_event_batch2(struct server_req *req, struct protocol_soap_msg *msg,
			       struct wsus_buf *out, struct server_fault *f)
{
	(void)msg;
	(void)f;
	/* No cookie: whoever sends it cannot be told from anyone else. */
	log_debug("report", "ReportEventBatch2 refused (no cookie) peer=%s", req->peer[0] ? req->peer : "-");
	return answer_bool(out, "ReportEventBatch2", 0);
}

int server_report_inventory_type(struct server_req *req, struct protocol_soap_msg *msg,
				 struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	int rc = server_client_cookie(req, msg->op, 1, &c, f);

	if (rc < 0)
		return rc;
	return wsus_buf_printf(out, "<GetRequiredInventoryTypeResponse xmlns=\"%s\">"
			       "<GetRequiredInventoryTypeResult>0</GetRequiredInventoryTypeResult>"
			       "</GetRequiredInventoryTypeResponse>", PROTOCOL_NS_SD);
}

int server_report_inventory(struct server_req *req, struct protocol_soap_msg *msg,
			    struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	int rc = server_client_cookie(req, msg->op, 1, &c, f);

	if (rc < 0)
		return rc;
	log_debug("report", "inventory discarded computer=%s", c.subject);
	return answer_bool(out, "ReportInventory", 1);
}
