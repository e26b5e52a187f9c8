/*
 * server_report.c -- the client half of ReportingWebService (MS-WUSP
 * 3.1.5.11): ReportEventBatch, read leniently into events that the writer
 * (server_report_writer.c) stores, group-committed, under byte quotas,
 * answering each request once its batch is durable; and minimal answers for
 * the WSDL's other client operations. The writer belongs to struct server
 * (server_report_start/stop), with the RegisterComputer rate limit that
 * server_client.c applies.
 *
 * Design notes:
 * (1) The cookie is checked as Windows does on this endpoint (example 20 of
 *     MS-WUSP: ConfigChanged from ReportEventBatch); the computer an event
 *     belongs to is the cookie's clientId, never the TargetID it claims.
 * (2) Leniency: an event without a usable BasicData (no EventInstanceID, no
 *     EventID, a NamespaceID other than 1) is skipped, not a fault, so one
 *     odd event does not make a client resend its whole batch for ever.
 * (3) "true" means stored. A request's events become a ticket in a queue
 *     bounded in events and bytes (a ticket that does not fit is answered
 *     false at once) and the request waits, at most ack_wait_ms, until the
 *     writer has committed the transaction holding it. false tells the
 *     client to keep the events and send them again; events already stored
 *     are then skipped (EventInstanceID), so a late commit after a timeout
 *     costs nothing. A ticket whose request stopped waiting is freed by the
 *     writer; otherwise by its request, after the outcome is published
 *     under the lock.
 * (4) Each event is turned into update states here, where MS-WUSP's event
 *     ids and MiscData tags are understood; storage only orders and applies
 *     them (storage_report_put_batches). AGENT_STATUS (156) carries the
 *     U/V/W/g/h lists and is a snapshot; install, download and uninstall
 *     events name their update in BasicData/UpdateID. The lists become
 *     status rows, so the stored MiscData keeps only their length ("V=#47"):
 *     a 156 event of a computer with hundreds of updates would otherwise
 *     cost tens of KiB of log for what update_status already holds.
 * (5) Group commit: the writer takes the whole queue at each wake-up
 *     (requests keep queueing meanwhile, so groups grow with load) and
 *     stores it in transactions of whole tickets, up to REPORT_GROUP_EVENTS
 *     events each; the requests of a transaction are answered when it
 *     commits. A failed group is retried ticket by ticket.
 * (6) Quotas ([clients] event_quota_per_day, event_store_max) are checked
 *     by storage inside the same transaction (storage_report.c note 6), and
 *     events of computers not registered here are refused there too (a
 *     Windows client registers first; GetConfig says IsRegistrationRequired),
 *     so the registration cap and rate limit bound who can report at all.
 *     Maintenance (storage_maintain) runs at start and hourly: retention,
 *     the count cap, the store ceiling, computer expiry; a batch refused for
 *     a full store brings it forward to within REPORT_FULL_MAINT_MS.
 * (7) Warnings are rate-limited: a computer past its quota is named once a
 *     UTC day (storage counts its refusals), and at most one such line per
 *     REPORT_WARN_EVERY_MS goes out, with the number held back.
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
static int read_strings(const struct protocol_node *list, char **out, struct states *states)
{
	struct wsus_buf b;
	int full = 0, rc = 0;

	*out = NULL;
	wsus_buf_init(&b, REPORT_TEXT_MAX);
	for (const struct protocol_node *x = protocol_req_child(list, "string");
	     x != NULL && rc == 0;
	     x = protocol_req_next(x)) {
		char *t = protocol_req_text(x);

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

static int child_int(const struct protocol_node *parent, const char *name, int64_t min, int64_t max,
		     int dflt, int *out)
{
	int64_t v = 0;
	int rc = protocol_req_child_int(parent, name, min, max, &v);

	*out = rc == 0 ? (int)v : dflt;
	return rc;
}

/* The event's own update (BasicData/UpdateID), "" when none or all zero. */
static void basic_update(const struct protocol_node *basic, struct report_item *it)
{
	const struct protocol_node *u = protocol_req_child(basic, "UpdateID");
	char raw[64];

	it->update_id[0] = '\0';
	if (u == NULL || protocol_req_child_text(u, "UpdateID", raw, sizeof(raw)) < 0 ||
	    wsus_guid_normalize(raw, it->update_id) < 0 || strcmp(it->update_id, ZERO_GUID) == 0) {
		it->update_id[0] = '\0';
		return;
	}
	(void)child_int(u, "RevisionNumber", 0, INT32_MAX, 0, &it->ev.revision);
	it->ev.update_id = it->update_id;
}

/* BasicData into it; -EINVAL when the event is to be skipped (note 2). */
static int read_basic(const struct protocol_node *basic, int64_t now, struct report_item *it)
{
	char raw[64], text[64];
	int ns, rc;

	if (basic == NULL || protocol_req_child_text(basic, "EventInstanceID", raw,
						     sizeof(raw)) < 0 ||
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
	if (protocol_req_child_text(basic, "TimeAtTarget", text, sizeof(text)) == 0 &&
	    protocol_datetime_parse(text, &it->ev.time_ms) < 0)
		it->ev.time_ms = now;
	if (protocol_req_child_text(basic, "AppName", text, sizeof(text)) == 0) {
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
static int read_event(const struct protocol_node *x, const char *computer, int64_t now,
		      struct report_item **out)
{
	struct report_item *it = calloc(1, sizeof(*it));
	const struct protocol_node *ext = protocol_req_child(x, "ExtendedData");
	struct states s = { 0 };
	int rc;

	*out = NULL;
	if (it == NULL)
		return -ENOMEM;
	rc = read_basic(protocol_req_child(x, "BasicData"), now, it);
	if (rc == -EINVAL) {
		item_free(it);
		return 0;
	}
	it->computer_id = rc == 0 ? strdup(computer) : NULL;
	if (rc == 0 && it->computer_id == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = read_strings(protocol_req_child(ext, "ReplacementStrings"), &it->replacement,
				  NULL);
	if (rc == 0)
		rc = read_strings(protocol_req_child(ext, "MiscData"), &it->misc,
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

struct batch {
	struct report_item *head, *tail;
	size_t n, bytes, skipped;
};

static int read_batch(const struct protocol_node *list, const char *computer, struct batch *b,
		      struct server_fault *f)
{
	int64_t now = wsus_now_ms();
	size_t count = 0;

	memset(b, 0, sizeof(*b));
	for (const struct protocol_node *x = protocol_req_child(list, "ReportingEvent"); x != NULL;
	     x = protocol_req_next(x))
		if (++count > REPORT_MAX_BATCH)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
						"eventBatch: more than %d events", REPORT_MAX_BATCH);
	for (const struct protocol_node *x = protocol_req_child(list, "ReportingEvent"); x != NULL;
	     x = protocol_req_next(x)) {
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

/* Design note 4: a status list in the stored MiscData is cut to its length
 * ("V=#47"); the other tags, and lists too short to hold a GUID, stay as
 * they were, so the text never grows. */
static void compact_misc(char *misc)
{
	char *w = misc;

	for (const char *p = misc; *p != '\0';) {
		size_t n = strcspn(p, "\n"), ids = 0;
		int list = 0;

		for (size_t i = 0; i < sizeof(status_lists) / sizeof(status_lists[0]); i++)
			list |= p[0] == status_lists[i].tag && n >= 2 + 36 && p[1] == '=';
		if (w != misc)
			*w++ = '\n';
		if (list) {
			for (size_t i = 2; i < n; i++)
				ids += p[i] == ';';
			ids += n > 2 && p[n - 1] != ';';
			w += sprintf(w, "%c=#%zu", p[0], ids);
		} else {
			memmove(w, p, n);
			w += n;
		}
		p += n + (p[n] == '\n');
	}
	*w = '\0';
}

static void compact_lists(struct report_item *list)
{
	for (struct report_item *it = list; it != NULL; it = it->next)
		if (it->ev.event_id == EVENT_AGENT_STATUS && it->misc != NULL)
			compact_misc(it->misc);
}

static void release_items(void *list)
{
	items_free(list);
}

/* Hand the batch's events to the writer (design note 3): 1 stored, 0 not. */
static int store_batch(struct server_req *req, const char *computer, struct batch *b)
{
	struct storage_report_event *ev = malloc(b->n * sizeof(*ev));
	size_t i = 0;

	if (ev == NULL) {
		items_free(b->head);
		return -ENOMEM;
	}
	for (struct report_item *it = b->head; it != NULL; it = it->next)
		ev[i++] = it->ev;
	return server_report_store(req, computer, ev, b->n, b->bytes, release_items, b->head);
}

static int answer_bool(struct wsus_buf *out, const char *op, int value)
{
	return wsus_buf_printf(out, "<%sResponse xmlns=\"%s\"><%sResult>%s</%sResult></%sResponse>", op,
			       PROTOCOL_NS_SD, op, value ? "true" : "false", op, op);
}

int server_report_event_batch(struct server_req *req, struct protocol_req_msg *msg,
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
	if (protocol_req_child_text(msg->op, "clientTime", text, sizeof(text)) < 0 ||
	    protocol_datetime_parse(text, &client_ms) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "clientTime");
	if (protocol_req_child(msg->op, "eventBatch") == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "eventBatch");
	rc = read_batch(protocol_req_child(msg->op, "eventBatch"), c.subject, &b, f);
	if (rc < 0)
		return rc;
	/* a front end of a site: a computer another front end registered */
	if (b.head != NULL && req->srv->cfg != NULL && req->srv->cfg->srv_site &&
	    storage_client_touch(req->st, c.subject, NULL, NULL) == -ENOENT)
		server_client_site_join(req, &c);
	if (b.head != NULL) {
		compact_lists(b.head);
		rc = store_batch(req, c.subject, &b);
		if (rc < 0) {
			server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
			return rc;
		}
		accepted = rc;
	}
	log_debug("report", "event batch computer=%s events=%zu skipped=%zu accepted=%d peer=%s", c.subject,
		  b.n, b.skipped, accepted, req->peer[0] ? req->peer : "-");
	return answer_bool(out, "ReportEventBatch", accepted);
}

int server_report_event_batch2(struct server_req *req, struct protocol_req_msg *msg,
			       struct wsus_buf *out, struct server_fault *f)
{
	(void)msg;
	(void)f;
	/* No cookie: whoever sends it cannot be told from anyone else. */
	log_debug("report", "ReportEventBatch2 refused (no cookie) peer=%s", req->peer[0] ? req->peer : "-");
	return answer_bool(out, "ReportEventBatch2", 0);
}

int server_report_inventory_type(struct server_req *req, struct protocol_req_msg *msg,
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

int server_report_inventory(struct server_req *req, struct protocol_req_msg *msg,
			    struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	int rc = server_client_cookie(req, msg->op, 1, &c, f);

	if (rc < 0)
		return rc;
	log_debug("report", "inventory discarded computer=%s", c.subject);
	return answer_bool(out, "ReportInventory", 1);
}
