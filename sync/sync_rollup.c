/*
 * sync_rollup.c -- the computer half of the reporting rollup (MS-WSUSSS
 * 3.2.4.5 steps 4 and 5), run when the upstream asks for a detailed rollup:
 * RollupComputers with the computers of ours and of our downstream servers
 * that the upstream has not seen as they are now (Details only when they
 * changed), then GetOutOfSyncComputers for the computers about to get an
 * incremental status rollup, then RollupComputerStatus with the statuses
 * that changed here after each computer's watermark (all of them, IsFullRollup,
 * for a computer never rolled up or named out of sync). What the upstream
 * accepted is recorded batch by batch (storage_rollup.c), so a rollup with
 * nothing new sends none of these three operations. A busy answer (FALSE)
 * stops here: what was not accepted goes with the next rollup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync_phase.h"

#define NEVER_TIME           "1753-01-01T00:00:00Z"
#define ROLLUP_REQUEST_BYTES (4u * 1024 * 1024)  /* one request, whatever the batch size */
#define ROLLUP_PASSES        2                   /* the second one resends NewParent Details */

/* One computer or status entry waiting to be sent. */
struct pend {
	char   *id;
	char   *xml;                      /* its ComputerRollupInfo / ComputerStatusRollupInfo */
	char    info[STORAGE_ROLLUP_FP_MAX];
	char    details[2 * WSUS_SHA256_LEN + 1];  /* "" = Details not sent */
	int     number;                   /* the RollupNumber sent */
	int     sent_number;              /* LastSentStatusRollupNumber */
	int64_t since;                    /* status watermark, INT64_MIN = full */
	int64_t newest;                   /* newest changed_at sent: the next watermark */
	int64_t detection;                /* EffectiveLastDetectionTime */
	int     done;
};

struct pending {
	struct pend *v;
	size_t n, cap;
};

static void pending_free(struct pending *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].id);
		free(p->v[i].xml);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static struct pend *pending_add(struct pending *p, const char *id)
{
	struct pend *x;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct pend *v = realloc(p->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		p->v = v;
		p->cap = cap;
	}
	x = &p->v[p->n];
	memset(x, 0, sizeof(*x));
	x->id = strdup(id);
	if (x->id == NULL)
		return NULL;
	p->n++;
	return x;
}

static void time_text(int64_t ms, char out[40])
{
	if (ms == INT64_MIN || ms <= 0)
		snprintf(out, 40, "%s", NEVER_TIME);
	else
		protocol_datetime_format(ms, out);
}

static int attr(struct wsus_buf *b, const char *name, const char *value)
{
	int rc;

	if (value == NULL || value[0] == '\0')
		return 0;
	rc = wsus_buf_printf(b, " %s=\"", name);
	if (rc == 0)
		rc = wsus_buf_append_xml_escaped(b, value, strlen(value));
	if (rc == 0)
		rc = wsus_buf_appends(b, "\"");
	return rc;
}

/* An optional string attribute the upstream bounds (MS-WSUSSS 3.1.4.15.3.3):
 * left out when longer. */
static int attr_max(struct wsus_buf *b, const char *name, const char *value, size_t max)
{
	return value != NULL && strlen(value) <= max ? attr(b, name, value) : 0;
}

static int clamp(int v, int lo, int hi)
{
	return v < lo || v > hi ? 0 : v;
}

/*---- RollupComputers ----*/

/* The requested group names: ';'-separated for ours, ','-separated as a
 * downstream rolled them up. */
static int requested_xml(struct wsus_buf *b, const char *list, char sep)
{
	int rc = wsus_buf_appends(b, "<RequestedTargetGroupNames>");

	for (const char *p = list; rc == 0 && *p != '\0';) {
		const char *end = strchr(p, sep);
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > 0 && n <= 256) {
			rc = wsus_buf_appends(b, "<string>");
			if (rc == 0)
				rc = wsus_buf_append_xml_escaped(b, p, n);
			if (rc == 0)
				rc = wsus_buf_appends(b, "</string>");
		}
		p += n + (end != NULL);
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "</RequestedTargetGroupNames>");
	return rc;
}

static int groups_xml(struct wsus_buf *b, const char *list)
{
	int rc = wsus_buf_appends(b, "<TargetGroupIdList>");

	for (const char *p = list; rc == 0 && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char raw[WSUS_GUID_LEN + 4], guid[WSUS_GUID_LEN];

		if (n < sizeof(raw)) {
			memcpy(raw, p, n);
			raw[n] = '\0';
			if (wsus_guid_normalize(raw, guid) == 0)
				rc = wsus_buf_printf(b, "<guid>%s</guid>", guid);
		}
		p += n + (end != NULL);
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "</TargetGroupIdList>");
	return rc;
}

/* ComputerRollupDetails, attributes in schema order. */
static int details_xml(struct wsus_buf *b, const struct storage_rollup_out *c)
{
	char bios[40];
	int64_t ms;
	int rc;

	if (c->bios_date[0] != '\0' && protocol_datetime_parse(c->bios_date, &ms) == 0)
		time_text(ms, bios);
	else
		snprintf(bios, sizeof(bios), "%s", NEVER_TIME);
	rc = wsus_buf_appends(b, "<Details");
	if (rc == 0)
		rc = attr_max(b, "IPAddress", c->ip, 64);
	if (rc == 0)
		rc = attr_max(b, "FullDomainName", c->fqdn, 255);
	if (rc == 0)
		rc = wsus_buf_printf(b, " OSMajorVersion=\"%d\" OSMinorVersion=\"%d\" OSBuildNumber=\"%d\""
				     " OSServicePackMajorNumber=\"%d\" OSServicePackMinorNumber=\"%d\"",
				     c->os_major, c->os_minor, c->os_build, c->os_sp_major, c->os_sp_minor);
	if (rc == 0)
		rc = attr_max(b, "OSLocale", c->os_locale, 32);
	if (rc == 0)
		rc = attr(b, "OSFamily", c->os_family[0] ? c->os_family : "Windows");
	if (rc == 0)
		rc = attr_max(b, "OSDescription", c->os_description, 256);
	if (rc == 0)
		rc = attr_max(b, "ComputerMake", c->make, 64);
	if (rc == 0)
		rc = attr_max(b, "ComputerModel", c->model, 64);
	if (rc == 0)
		rc = attr_max(b, "BiosVersion", c->bios_version, 64);
	if (rc == 0)
		rc = attr_max(b, "BiosName", c->bios_name, 64);
	if (rc == 0)
		rc = wsus_buf_printf(b, " BiosReleaseDate=\"%s\"", bios);
	if (rc == 0)
		rc = attr_max(b, "ProcessorArchitecture", c->arch, 50);
	if (rc == 0)
		rc = wsus_buf_printf(b, " SuiteMask=\"%d\" OldProductType=\"%d\" NewProductType=\"%d\""
				     " SystemMetrics=\"%d\"", clamp(c->suite_mask, -32768, 32767),
				     clamp(c->old_product_type, 0, 255), c->new_product_type, c->system_metrics);
	if (rc == 0)
		rc = attr_max(b, "ClientVersion", c->client_version, 20);
	if (rc == 0)
		rc = wsus_buf_appends(b, ">");
	if (rc == 0)
		rc = groups_xml(b, c->group_ids);
	if (rc == 0)
		rc = requested_xml(b, c->requested, c->parent_id[0] ? ',' : ';');
	if (rc == 0)
		rc = wsus_buf_appends(b, "</Details>");
	return rc;
}

struct computers_walk {
	struct sync_ctx *c;
	struct pending   p;
	int              forced;   /* a reset: everything goes */
};

/* Queue c when the upstream has not seen it as it is now. */
static int each_computer(const struct storage_rollup_out *co, void *ctx)
{
	struct computers_walk *w = ctx;
	char t[4][40], info[STORAGE_ROLLUP_FP_MAX], details_fp[2 * WSUS_SHA256_LEN + 1];
	uint8_t digest[WSUS_SHA256_LEN];
	struct wsus_buf d, x;
	const char *parent = co->parent_id[0] ? co->parent_id : w->c->server_id;
	struct pend *p;
	int rc, send_details;

	snprintf(info, sizeof(info), "%lld/%d/%lld/%lld/%lld/%s", (long long)co->last_sync_ms,
		 co->last_sync_result, (long long)co->last_reboot_ms, (long long)co->last_report_ms,
		 (long long)co->last_inventory_ms, parent);
	wsus_buf_init(&d, 64 * 1024);
	rc = details_xml(&d, co);
	if (rc < 0) {
		wsus_buf_free(&d);
		return rc;
	}
	wsus_sha256(d.data, d.len, digest);
	wsus_hex_encode(digest, sizeof(digest), details_fp);
	send_details = strcmp(details_fp, co->details_sent) != 0;
	if (!send_details && strcmp(info, co->info_sent) == 0) {
		wsus_buf_free(&d);
		return 0;
	}
	time_text(co->last_sync_ms, t[0]);
	time_text(co->last_reboot_ms, t[1]);
	time_text(co->last_report_ms, t[2]);
	time_text(co->last_inventory_ms, t[3]);
	wsus_buf_init(&x, 128 * 1024);
	rc = wsus_buf_appends(&x, "<ComputerRollupInfo");
	if (rc == 0)
		rc = attr(&x, "ComputerId", co->computer_id);
	if (rc == 0)
		rc = wsus_buf_printf(&x, " LastSyncTime=\"%s\" LastSyncResult=\"%d\" LastReportedRebootTime=\"%s\""
				     " LastReportedStatusTime=\"%s\" LastInventoryTime=\"%s\" ParentServerId=\"%s\">",
				     t[0], co->last_sync_result, t[1], t[2], t[3], parent);
	if (rc == 0 && send_details)
		rc = wsus_buf_append(&x, d.data, d.len);
	if (rc == 0)
		rc = wsus_buf_appends(&x, "</ComputerRollupInfo>");
	wsus_buf_free(&d);
	p = rc == 0 ? pending_add(&w->p, co->computer_id) : NULL;
	if (p == NULL) {
		wsus_buf_free(&x);
		return rc < 0 ? rc : -ENOMEM;
	}
	p->xml = x.data;   /* the buffer's text is handed over */
	snprintf(p->info, sizeof(p->info), "%s", info);
	if (send_details)
		snprintf(p->details, sizeof(p->details), "%s", details_fp);
	return 0;
}

/* The ChangedComputer entries of an answer. */
static int changed_computers(struct sync_ctx *c, xmlNodePtr result, size_t *again, struct err *e)
{
	int rc = 0;

	for (xmlNodePtr x = protocol_soap_child(result, "ChangedComputer"); x != NULL && rc == 0;
	     x = protocol_soap_next(x)) {
		char *id = protocol_soap_attr(x, "ComputerId"), *change = protocol_soap_attr(x, "Change");

		if (id != NULL && change != NULL && strcmp(change, "Deleted") == 0) {
			rc = storage_rollup_computer_changed(c->st, id, 1, e);
			log_info("sync", "phase=rollup upstream deleted computer=%s", id);
		} else if (id != NULL && change != NULL && strcmp(change, "NewParent") == 0) {
			rc = storage_rollup_computer_changed(c->st, id, 0, e);
			(*again)++;
		}
		free(id);
		free(change);
	}
	return rc;
}

/* Send p->v[from, to) in one RollupComputers and record what was accepted. */
static int send_computers(struct sync_ctx *c, struct pending *p, size_t from, size_t to, size_t *again,
			  struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf a;
	char now[40];
	int rc;

	protocol_datetime_format(wsus_now_ms(), now);
	wsus_buf_init(&a, SYNC_MAX_SOAP_RESPONSE);
	rc = wsus_buf_printf(&a, "<clientTime>%s</clientTime><computers>", now);
	for (size_t i = from; i < to && rc == 0; i++)
		rc = wsus_buf_appends(&a, p->v[i].xml);
	if (rc == 0)
		rc = wsus_buf_appends(&a, "</computers>");
	if (rc < 0) {
		wsus_buf_free(&a);
		return err_set(e, rc, "rollup request too large");
	}
	rc = sync_call(c, SYNC_SVC_REPORT, "RollupComputers", a.data, SYNC_CALL_DUMMY_COOKIE, &m, e);
	wsus_buf_free(&a);
	if (rc < 0)
		return rc;
	rc = storage_begin(c->st, e);
	for (size_t i = from; i < to && rc == 0; i++)
		rc = storage_rollup_computer_sent(c->st, p->v[i].id, p->v[i].info,
						  p->v[i].details[0] ? p->v[i].details : NULL, e);
	/* After the marks: NewParent clears the Details mark again. */
	if (rc == 0)
		rc = changed_computers(c, sync_call_result(&m, "RollupComputers"), again, e);
	if (rc == 0)
		rc = storage_commit(c->st, e);
	else
		storage_rollback(c->st);
	protocol_soap_msg_free(&m);
	return rc;
}

/* Batches of at most max entries and ROLLUP_REQUEST_BYTES bytes: [from, *to). */
static size_t batch_end(const struct pending *p, size_t from, size_t max)
{
	size_t to = from, bytes = 0;

	while (to < p->n && to - from < max) {
		size_t n = strlen(p->v[to].xml);

		if (to > from && bytes + n > ROLLUP_REQUEST_BYTES)
			break;
		bytes += n;
		to++;
	}
	return to;
}

static int rollup_computers(struct sync_ctx *c, const struct sync_rollup_conf *conf,
			    struct sync_rollup_stats *out, struct err *e)
{
	int rc = 0;

	for (int pass = 0; pass < ROLLUP_PASSES && rc == 0; pass++) {
		struct computers_walk w = { .c = c };
		size_t again = 0;

		rc = storage_rollup_computers(c->st, each_computer, &w, e);
		for (size_t at = 0; at < w.p.n && rc == 0;) {
			size_t to = batch_end(&w.p, at, conf->computers_max);

			rc = send_computers(c, &w.p, at, to, &again, e);
			if (rc == 0) {
				out->computer_calls++;
				for (size_t i = at; i < to; i++) {
					out->computers++;
					out->details += w.p.v[i].details[0] != '\0';
				}
			}
			at = to;
		}
		pending_free(&w.p);
		if (again == 0)
			break;
	}
	return rc;
}

/*---- GetOutOfSyncComputers ----*/

struct status_walk {
	struct pending p;
};

/* Queue a computer whose statuses changed after its watermark. */
static int each_status_candidate(const struct storage_rollup_out *co, void *ctx)
{
	struct status_walk *w = ctx;
	struct pend *p;

	if (co->newest_status_ms == INT64_MIN ||
	    (co->status_time != INT64_MIN && co->newest_status_ms <= co->status_time))
		return 0;
	p = pending_add(&w->p, co->computer_id);
	if (p == NULL)
		return -ENOMEM;
	p->since = co->status_time;
	p->sent_number = co->sent_number;
	p->detection = co->detection_ms;
	return 0;
}

static int out_of_sync_batch(struct sync_ctx *c, struct pending *p, const size_t *idx, size_t n,
			     size_t *stale, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf a;
	xmlNodePtr r;
	int rc;

	wsus_buf_init(&a, SYNC_MAX_SOAP_RESPONSE);
	rc = wsus_buf_printf(&a, "<parentServerId>%s</parentServerId><lastRollupNumbers>", c->server_id);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = wsus_buf_appends(&a, "<ComputerLastRollupNumber>");
		if (rc == 0)
			rc = sync_xml_text(&a, "ComputerId", p->v[idx[i]].id);
		if (rc == 0)
			rc = wsus_buf_printf(&a, "<RollupNumber>%d</RollupNumber></ComputerLastRollupNumber>",
					     p->v[idx[i]].sent_number);
	}
	if (rc == 0)
		rc = wsus_buf_appends(&a, "</lastRollupNumbers>");
	if (rc < 0) {
		wsus_buf_free(&a);
		return err_set(e, rc, "rollup request too large");
	}
	rc = sync_call(c, SYNC_SVC_REPORT, "GetOutOfSyncComputers", a.data, SYNC_CALL_DUMMY_COOKIE, &m, e);
	wsus_buf_free(&a);
	if (rc < 0)
		return rc;
	r = sync_call_result(&m, "GetOutOfSyncComputers");
	/* one transaction for the whole answer, not one commit per computer */
	rc = storage_begin(c->st, e);
	for (xmlNodePtr x = protocol_soap_child(r, "string"); x != NULL && rc == 0; x = protocol_soap_next(x)) {
		char *id = protocol_soap_text(x);

		for (size_t i = 0; id != NULL && i < n && rc == 0; i++) {
			struct pend *q = &p->v[idx[i]];

			if (strcmp(q->id, id) == 0 && q->since != INT64_MIN) {
				q->since = INT64_MIN;
				(*stale)++;
				rc = storage_rollup_status_full(c->st, id, e);
			}
		}
		free(id);
	}
	if (rc == 0)
		rc = storage_commit(c->st, e);
	else
		storage_rollback(c->st);
	protocol_soap_msg_free(&m);
	return rc;
}

/* Ask about the computers about to get an incremental rollup; those the
 * upstream names go in full (MS-WSUSSS 3.1.4.16). */
static int out_of_sync(struct sync_ctx *c, const struct sync_rollup_conf *conf, struct pending *p,
		       struct sync_rollup_stats *out, struct err *e)
{
	size_t *idx = calloc(conf->out_of_sync_max, sizeof(*idx)), n = 0;
	int rc = 0;

	if (idx == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i <= p->n && rc == 0; i++) {
		if (i < p->n && p->v[i].since != INT64_MIN)
			idx[n++] = i;
		if (n > 0 && (n == conf->out_of_sync_max || i == p->n)) {
			rc = out_of_sync_batch(c, p, idx, n, &out->out_of_sync, e);
			if (rc == 0)
				out->out_of_sync_calls++;
			n = 0;
		}
	}
	free(idx);
	return rc;
}

/*---- RollupComputerStatus ----*/

struct status_xml {
	struct wsus_buf *b;
	int64_t newest;
	size_t n;
};

/* Update Status (0 unknown, 1 not applicable, 2..6) to SummarizationState
 * (0 not applicable, 1 unknown, 2..6): MS-WSUSSS 3.1.4.17.3.4. */
static int status_to_wire(int s)
{
	return s == 0 ? 1 : s == 1 ? 0 : s;
}

static int each_status(const char *update_id, int status, int64_t last_change_ms, int64_t changed_ms,
		       void *ctx)
{
	struct status_xml *x = ctx;
	char guid[WSUS_GUID_LEN], t[40];

	if (wsus_guid_normalize(update_id, guid) < 0 || status < 0 || status > 6)
		return 0;
	time_text(last_change_ms, t);
	if (changed_ms > x->newest)
		x->newest = changed_ms;
	x->n++;
	return wsus_buf_printf(x->b, "<ComputerStatusRollupUpdateStatus><UpdateId>%s</UpdateId>"
			       "<SummarizationState>%d</SummarizationState><LastChangeTime>%s</LastChangeTime>"
			       "</ComputerStatusRollupUpdateStatus>", guid, status_to_wire(status), t);
}

static int status_entry(struct sync_ctx *c, struct pend *p, size_t *items, struct err *e)
{
	struct wsus_buf b;
	struct status_xml x = { .b = &b, .newest = INT64_MIN };
	char instance[WSUS_GUID_LEN], t[40];
	int rc;

	if (wsus_guid_random(instance) < 0)
		return err_set(e, -EIO, "cannot generate an InstanceId");
	time_text(p->detection, t);
	p->number = p->sent_number + 1;
	wsus_buf_init(&b, SYNC_MAX_SOAP_RESPONSE);
	rc = wsus_buf_printf(&b, "<ComputerStatusRollupInfo><InstanceId>%s</InstanceId>", instance);
	if (rc == 0)
		rc = sync_xml_text(&b, "ComputerId", p->id);
	if (rc == 0)
		rc = wsus_buf_printf(&b, "<EffectiveLastDetectionTime>%s</EffectiveLastDetectionTime>"
				     "<RollupNumber>%d</RollupNumber><IsFullRollup>%s</IsFullRollup><UpdateStatus>",
				     t, p->number, p->since == INT64_MIN ? "true" : "false");
	if (rc == 0)
		rc = storage_rollup_status_rows(c->st, p->id, p->since, each_status, &x, e);
	if (rc == 0)
		rc = wsus_buf_appends(&b, "</UpdateStatus></ComputerStatusRollupInfo>");
	if (rc < 0) {
		wsus_buf_free(&b);
		return e->msg[0] ? rc : err_set(e, rc, "rollup request too large");
	}
	p->xml = b.data;
	p->newest = x.newest;
	*items += x.n;
	return 0;
}

/* One RollupComputerStatus; *busy = 1 when the upstream answered FALSE. */
static int send_status(struct sync_ctx *c, struct pending *p, size_t from, size_t to, int *busy,
		       struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf a;
	char now[40];
	int rc, ok = 0;

	protocol_datetime_format(wsus_now_ms(), now);
	wsus_buf_init(&a, SYNC_MAX_SOAP_RESPONSE);
	rc = wsus_buf_printf(&a, "<clientTime>%s</clientTime><parentServerId>%s</parentServerId><computers>", now,
			     c->server_id);
	for (size_t i = from; i < to && rc == 0; i++)
		rc = wsus_buf_appends(&a, p->v[i].xml);
	if (rc == 0)
		rc = wsus_buf_appends(&a, "</computers>");
	if (rc < 0) {
		wsus_buf_free(&a);
		return err_set(e, rc, "rollup request too large");
	}
	rc = sync_call(c, SYNC_SVC_REPORT, "RollupComputerStatus", a.data, SYNC_CALL_DUMMY_COOKIE, &m, e);
	wsus_buf_free(&a);
	if (rc < 0)
		return rc;
	if (protocol_soap_child_bool(m.op, "RollupComputerStatusResult", &ok) < 0) {
		protocol_soap_msg_free(&m);
		return err_set(e, -EBADMSG, "RollupComputerStatus: the answer has no RollupComputerStatusResult");
	}
	protocol_soap_msg_free(&m);
	if (!ok) {
		*busy = 1;
		return 0;
	}
	rc = storage_begin(c->st, e);
	for (size_t i = from; i < to && rc == 0; i++)
		if (p->v[i].newest != INT64_MIN)
			rc = storage_rollup_status_sent(c->st, p->v[i].id, p->v[i].number, p->v[i].newest, e);
	if (rc == 0)
		rc = storage_commit(c->st, e);
	else
		storage_rollback(c->st);
	return rc;
}

static int rollup_status(struct sync_ctx *c, const struct sync_rollup_conf *conf, struct sync_rollup_stats *out,
			 struct err *e)
{
	struct status_walk w = { { 0 } };
	int rc, busy = 0;

	rc = storage_rollup_computers(c->st, each_status_candidate, &w, e);
	if (rc == 0)
		rc = out_of_sync(c, conf, &w.p, out, e);
	for (size_t i = 0; i < w.p.n && rc == 0; i++)
		rc = status_entry(c, &w.p.v[i], &out->status_items, e);
	for (size_t at = 0; at < w.p.n && rc == 0 && !busy;) {
		size_t to = batch_end(&w.p, at, conf->status_max);

		rc = send_status(c, &w.p, at, to, &busy, e);
		if (rc == 0 && !busy) {
			out->status_calls++;
			out->statuses += to - at;
		}
		at = to;
	}
	pending_free(&w.p);
	if (busy)
		log_warn("sync", "phase=rollup upstream busy (RollupComputerStatus answered false): "
			 "the rest goes with the next rollup");
	return rc;
}

int sync_rollup_computers(struct sync_ctx *c, const struct sync_rollup_conf *conf,
			  struct sync_rollup_stats *out, struct err *e)
{
	int reset = 0;
	int rc = storage_rollup_begin(c->st, conf->uss_id, conf->reset_guid, &reset, e);

	if (rc < 0)
		return rc;
	out->reset = reset;
	rc = rollup_computers(c, conf, out, e);
	if (rc == 0)
		rc = rollup_status(c, conf, out, e);
	return rc;
}
