/*
 * sync_report.c -- the reporting rollup to the upstream (MS-WSUSSS 3.2.4.5):
 * GetRollupConfiguration, then RollupDownstreamServers with our own
 * downstream servers (parents before children) and ourselves last, with the
 * ServerSummary counters the catalogue and the Update Status table give,
 * and the ClientSummaries: per OS group, the installs and failed installs
 * the upstream has not counted yet (ours from our computers' install
 * events after a watermark, a descendant's as it rolled them up to us;
 * what the upstream accepted comes off, batch by batch); then, when the
 * upstream asks for a detailed rollup, the computers and their update
 * statuses that changed since it last accepted them
 * (sync_rollup.c). These operations carry the dummy cookie. A rollup
 * failure is logged and counted, never fatal: the metadata is published by
 * then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync_phase.h"

#define ZERO_GUID     "00000000-0000-0000-0000-000000000000"
#define NEVER_TIME    "1753-01-01T00:00:00Z"
/* Batch sizes a Windows USS uses (MS-WSUSSS <46>-<49>): the most we send
 * whatever the upstream allows. */
#define ROLLUP_SERVERS_MAX     5000
#define ROLLUP_COMPUTERS_MAX   1500
#define ROLLUP_OUT_OF_SYNC_MAX 20000
#define ROLLUP_STATUS_MAX      500

#ifndef WSUS_VERSION_STRING
#define WSUS_VERSION_STRING "0"
#endif

/* A descendant's activity row in a pending request: taken off once accepted. */
struct ack {
	char server_id[WSUS_GUID_LEN];
	struct storage_rollup_activity a;
};

struct acks {
	struct ack *v;
	size_t n, cap;
};

struct rollup {
	struct sync_ctx *c;
	struct wsus_buf  body;       /* DownstreamServerRollupInfo elements of the pending batch */
	size_t           in_batch;
	size_t           summaries;  /* DownstreamServerRollupClientSummary elements in it */
	struct acks      acks;       /* the descendants' activity rows in it */
	int64_t          our_event;  /* ours in it: the event watermark to record, 0 none */
	size_t           activity;   /* activity rows accepted */
	size_t           batch_max;
	size_t           sent;
	size_t           calls;
	int              rc;
	struct err      *e;
};

static void time_text(int64_t ms, char out[40])
{
	if (ms <= 0)
		snprintf(out, 40, "%s", NEVER_TIME);
	else
		protocol_datetime_format(ms, out);
}

static void acks_free(struct acks *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static int acks_add(struct acks *a, const char *server_id, const struct storage_rollup_activity *row)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 32;
		struct ack *v = realloc(a->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	snprintf(a->v[a->n].server_id, sizeof(a->v[a->n].server_id), "%s", server_id);
	a->v[a->n++].a = *row;
	return 0;
}

/* The upstream accepted the batch: its activity counts are its now. */
static int accepted(struct rollup *r)
{
	int rc = storage_begin(r->c->st, r->e);

	for (size_t i = 0; i < r->acks.n && rc == 0; i++)
		rc = storage_rollup_activity_sent(r->c->st, r->acks.v[i].server_id, &r->acks.v[i].a, r->e);
	if (rc == 0 && r->our_event > 0)
		rc = storage_rollup_activity_mark(r->c->st, r->our_event, r->e);
	if (rc == 0)
		rc = storage_commit(r->c->st, r->e);
	else
		storage_rollback(r->c->st);
	return rc;
}

static int flush(struct rollup *r)
{
	struct protocol_soap_msg m;
	struct wsus_buf args;
	char now[40];
	int rc;

	if (r->in_batch == 0)
		return 0;
	protocol_datetime_format(wsus_now_ms(), now);
	wsus_buf_init(&args, r->body.len + 256);
	rc = wsus_buf_printf(&args, "<clientTime>%s</clientTime><downstreamServers>", now);
	if (rc == 0)
		rc = wsus_buf_append(&args, r->body.data, r->body.len);
	if (rc == 0)
		rc = wsus_buf_appends(&args, "</downstreamServers>");
	if (rc == 0)
		rc = sync_call(r->c, SYNC_SVC_REPORT, "RollupDownstreamServers", args.data, SYNC_CALL_DUMMY_COOKIE,
			       &m, r->e);
	else
		err_set(r->e, rc, "rollup request too large");
	wsus_buf_free(&args);
	if (rc == 0) {
		protocol_soap_msg_free(&m);
		rc = accepted(r);
		r->activity += rc == 0 ? r->acks.n : 0;
	}
	r->sent += r->in_batch;
	r->calls++;
	r->in_batch = 0;
	r->summaries = 0;
	r->acks.n = 0;
	r->our_event = 0;
	r->body.len = 0;
	return rc;
}

/* One server's ClientSummaries, built before it joins a batch. */
struct clients {
	struct wsus_buf xml;
	size_t          groups;
	struct acks     acks;       /* a descendant's rows in xml */
	int64_t         our_event;  /* ours: the watermark once accepted */
};

static int server_info(struct rollup *r, const char *id, const char *fqdn, int64_t last_sync,
		       const char *parent, const char *version, int replica, int64_t last_rollup,
		       const char *summary, struct clients *cl)
{
	char t1[40], t2[40];
	int rc = 0;

	/* At most batch_max ClientSummary elements in one request (3.1.4.14). */
	if (r->in_batch > 0 && r->summaries + cl->groups > r->batch_max)
		rc = flush(r);
	for (size_t i = 0; i < cl->acks.n && rc == 0; i++)
		rc = acks_add(&r->acks, cl->acks.v[i].server_id, &cl->acks.v[i].a);
	if (rc < 0)
		return rc == -ENOMEM ? err_set(r->e, rc, "out of memory") : rc;
	r->summaries += cl->groups;
	if (cl->our_event > 0)
		r->our_event = cl->our_event;
	time_text(last_sync, t1);
	time_text(last_rollup, t2);
	rc = wsus_buf_printf(&r->body, "<DownstreamServerRollupInfo><ServerId>%s</ServerId>", id);
	if (rc == 0 && fqdn != NULL && fqdn[0] != '\0')
		rc = sync_xml_text(&r->body, "FullDomainName", fqdn);
	if (rc == 0)
		rc = wsus_buf_printf(&r->body, "<LastSyncTime>%s</LastSyncTime><ParentServerId>%s</ParentServerId>",
				     t1, parent);
	if (rc == 0 && version != NULL && version[0] != '\0')
		rc = sync_xml_text(&r->body, "Version", version);
	if (rc == 0)
		rc = wsus_buf_printf(&r->body, "<IsReplica>%s</IsReplica><LastRollupTime>%s</LastRollupTime>",
				     replica ? "true" : "false", t2);
	if (rc == 0 && summary != NULL)
		rc = wsus_buf_appends(&r->body, summary);
	if (rc == 0)
		rc = wsus_buf_appends(&r->body, "<ClientSummaries>");
	if (rc == 0 && cl->xml.len > 0)
		rc = wsus_buf_append(&r->body, cl->xml.data, cl->xml.len);
	if (rc == 0)
		rc = wsus_buf_appends(&r->body, "</ClientSummaries></DownstreamServerRollupInfo>");
	if (rc < 0)
		return err_set(r->e, rc, "rollup request too large");
	if (++r->in_batch >= r->batch_max)
		return flush(r);
	return 0;
}

/* A Version the upstream accepts: 1-4 dot-separated integers, <= 32 characters. */
static int version_ok(const char *v)
{
	size_t n = strlen(v), dots = 0;

	if (n == 0 || n > 32 || v[0] == '.' || v[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '.') {
			if (++dots > 3 || v[i + 1] == '.')
				return 0;
		} else if (v[i] < '0' || v[i] > '9') {
			return 0;
		}
	}
	return 1;
}

/* The ServerSummary counters, in schema order (MS-WSUSSS 3.1.4.14.3.3). */
static const char *const summary_fields[] = {
	"UpdateCount", "DeclinedUpdateCount", "ApprovedUpdateCount", "NotApprovedUpdateCount",
	"UpdatesWithStaleUpdateApprovalsCount", "ExpiredUpdateCount",
	"CriticalOrSecurityUpdatesNotApprovedForInstallCount",
	"WsusInfrastructureUpdatesNotApprovedForInstallCount", "UpdatesWithClientErrorsCount",
	"UpdatesWithServerErrorsCount", "UpdatesNeedingFilesCount", "UpdatesNeededByComputersCount",
	"UpdatesUpToDateCount", "CustomComputerTargetGroupCount", "ComputerTargetCount",
	"ComputerTargetsNeedingUpdatesCount", "ComputerTargetsWithUpdateErrorsCount",
	"ComputersUpToDateCount",
};

/* A descendant's ServerSummary as our upstream role stored it ({"Name": n,
 * ...}, the counters it sent) back into XML; 0 for a counter not there. */
static int summary_from_json(const char *json, char *out, size_t cap)
{
	size_t len = 0;
	int n = snprintf(out, cap, "<ServerSummary>");

	for (size_t i = 0; n > 0 && (size_t)n < cap - len && i < sizeof(summary_fields) / sizeof(summary_fields[0]);
	     i++) {
		char key[80];
		const char *at;
		long long v = 0;

		len += (size_t)n;
		snprintf(key, sizeof(key), "\"%s\":", summary_fields[i]);
		at = strstr(json, key);
		if (at != NULL)
			v = strtoll(at + strlen(key), NULL, 10);
		if (v < INT32_MIN || v > INT32_MAX)
			v = 0;
		n = snprintf(out + len, cap - len, "<%s>%lld</%s>", summary_fields[i], v, summary_fields[i]);
	}
	if (n > 0 && (size_t)n < cap - len) {
		len += (size_t)n;
		n = snprintf(out + len, cap - len, "</ServerSummary>");
	}
	return n > 0 && (size_t)n < cap - len ? 0 : -E2BIG;
}

/*---- ClientSummaries (MS-WSUSSS 3.1.4.14.3.5-7) ----*/

/* An OS group key as dss_activity keeps it:
 * major.minor.build.spmajor.spminor/locale/arch/suite/oldtype/newtype/metrics. */
struct os_group {
	int  v[5];
	char locale[64], arch[64];
	int  suite, old_type, new_type, metrics;
};

static int os_part(const char **p, char *out, size_t cap)
{
	const char *end = strchr(*p, '/');

	if (end == NULL || (size_t)(end - *p) >= cap)
		return -1;
	memcpy(out, *p, (size_t)(end - *p));
	out[end - *p] = '\0';
	*p = end + 1;
	return 0;
}

static int os_parse(const char *key, struct os_group *g)
{
	const char *p = key;
	int used = 0;

	memset(g, 0, sizeof(*g));
	if (sscanf(p, "%d.%d.%d.%d.%d/%n", &g->v[0], &g->v[1], &g->v[2], &g->v[3], &g->v[4], &used) != 5 ||
	    used == 0)
		return -1;
	p += used;
	if (os_part(&p, g->locale, sizeof(g->locale)) < 0 || os_part(&p, g->arch, sizeof(g->arch)) < 0)
		return -1;
	used = 0;
	if (sscanf(p, "%d/%d/%d/%d%n", &g->suite, &g->old_type, &g->new_type, &g->metrics, &used) != 4 ||
	    p[used] != '\0')
		return -1;
	return 0;
}

static int int_in(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? (int)lo : v > hi ? (int)hi : (int)v;
}

static int group_open(struct wsus_buf *b, const struct os_group *g, int64_t computers)
{
	int rc = wsus_buf_printf(b, "<DownstreamServerRollupClientSummary><OSMajorVersion>%d</OSMajorVersion>"
				 "<OSMinorVersion>%d</OSMinorVersion><OSBuildNumber>%d</OSBuildNumber>"
				 "<OSServicePackMajorNumber>%d</OSServicePackMajorNumber>"
				 "<OSServicePackMinorNumber>%d</OSServicePackMinorNumber>",
				 g->v[0], g->v[1], g->v[2], g->v[3], g->v[4]);

	if (rc == 0 && g->locale[0] != '\0')
		rc = sync_xml_text(b, "OSLocale", g->locale);
	if (rc == 0)
		rc = wsus_buf_printf(b, "<SuiteMask>%d</SuiteMask><OldProductType>%d</OldProductType>"
				     "<NewProductType>%d</NewProductType><SystemMetrics>%d</SystemMetrics>",
				     int_in(g->suite, -32768, 32767), int_in(g->old_type, 0, 255), g->new_type,
				     g->metrics);
	if (rc == 0 && g->arch[0] != '\0')
		rc = sync_xml_text(b, "ProcessorArchitecture", g->arch);
	if (rc == 0)
		rc = wsus_buf_printf(b, "<Count>%d</Count><ActivitySummaries>", int_in(computers, 0, INT32_MAX));
	return rc;
}

struct clients_walk {
	struct clients *cl;
	const char     *server_id;   /* NULL: ours */
	size_t          max;         /* groups one request carries */
	char            os[STORAGE_ROLLUP_OS_MAX];   /* the open group ("" none) */
	int             skip;        /* its key does not parse: left for later */
	size_t          left;        /* groups past max, left for the next rollup */
};

static int close_group(struct clients_walk *w)
{
	if (w->os[0] == '\0' || w->skip)
		return 0;
	return wsus_buf_appends(&w->cl->xml, "</ActivitySummaries></DownstreamServerRollupClientSummary>");
}

/* Rows come by group: a new key closes the open group and opens the next. */
static int each_activity(const struct storage_rollup_activity *a, void *ctx)
{
	struct clients_walk *w = ctx;
	struct storage_rollup_activity sent = *a;
	char guid[WSUS_GUID_LEN];
	int rc = 0;

	if (strcmp(a->os, w->os) != 0) {
		struct os_group g;

		rc = close_group(w);
		snprintf(w->os, sizeof(w->os), "%s", a->os);
		w->skip = os_parse(a->os, &g) < 0 || w->cl->groups == w->max;
		w->left += w->cl->groups == w->max;
		if (rc == 0 && !w->skip) {
			rc = group_open(&w->cl->xml, &g, a->computers);
			w->cl->groups++;
		}
	}
	if (rc < 0 || w->skip || wsus_guid_normalize(a->update_id, guid) < 0)
		return rc;
	sent.success = int_in(a->success, 0, INT32_MAX);
	sent.failure = int_in(a->failure, 0, INT32_MAX);
	rc = wsus_buf_printf(&w->cl->xml, "<DownstreamServerRollupClientActivitySummary><UpdateId>%s</UpdateId>"
			     "<RevisionNumber>%d</RevisionNumber><InstallSuccessCount>%lld</InstallSuccessCount>"
			     "<InstallFailureCount>%lld</InstallFailureCount>"
			     "</DownstreamServerRollupClientActivitySummary>",
			     guid, a->revision, (long long)sent.success, (long long)sent.failure);
	if (rc == 0 && w->server_id != NULL)
		rc = acks_add(&w->cl->acks, w->server_id, &sent);
	return rc;
}

/* The ClientSummaries of server_id (NULL: ours) into cl. */
static int clients_build(struct rollup *r, const char *server_id, struct clients *cl)
{
	struct clients_walk w = { .cl = cl, .server_id = server_id, .max = r->batch_max };
	int rc;

	wsus_buf_init(&cl->xml, SYNC_MAX_SOAP_RESPONSE);
	rc = storage_rollup_activity(r->c->st, server_id, &cl->our_event, each_activity, &w, r->e);
	if (rc == 0)
		rc = close_group(&w);
	if (rc == -ENOMEM || rc == -E2BIG)
		return err_set(r->e, rc, rc == -ENOMEM ? "out of memory" : "rollup request too large");
	if (w.left > 0)
		log_warn("sync", "phase=rollup server=%s client_summaries_left=%zu (more OS groups than a request "
			 "carries)", server_id ? server_id : "self", w.left);
	/* ours: what did not fit is not counted again (the watermark moves) */
	return rc;
}

static void clients_free(struct clients *cl)
{
	wsus_buf_free(&cl->xml);
	acks_free(&cl->acks);
}

static int each_dss(const struct storage_dss_row *d, void *ctx)
{
	struct rollup *r = ctx;
	const char *parent = d->parent_id[0] ? d->parent_id : r->c->server_id;
	char summary[2048];
	int have = d->summary[0] == '{' && summary_from_json(d->summary, summary, sizeof(summary)) == 0;
	struct clients cl = { 0 };
	int rc = clients_build(r, d->server_id, &cl);

	if (rc == 0)
		rc = server_info(r, d->server_id, d->fqdn, d->last_sync, parent,
				 version_ok(d->version) ? d->version : NULL, d->is_replica, d->last_rollup,
				 have ? summary : NULL, &cl);
	clients_free(&cl);
	return rc;
}

/* ServerSummary (18 counters, in schema order, MS-WSUSSS 3.2.4.5 step
 * 2.1.7) from the catalogue and the Update Status table of our computers.
 * Stale approvals and expired updates are not tracked here: 0. */
static int summary_xml(struct sync_ctx *c, char *out, size_t cap, struct err *e)
{
	struct storage_sync_summary s;
	struct storage_rollup_counts k;
	int rc = storage_sync_summary(c->st, &s, e);
	int64_t not_approved;

	if (rc == 0)
		rc = storage_rollup_counts(c->st, &k, e);
	if (rc < 0)
		return rc;
	not_approved = s.updates - s.approved - s.declined;
	if (not_approved < 0)
		not_approved = 0;
	snprintf(out, cap,
		 "<ServerSummary><UpdateCount>%lld</UpdateCount><DeclinedUpdateCount>%lld</DeclinedUpdateCount>"
		 "<ApprovedUpdateCount>%lld</ApprovedUpdateCount><NotApprovedUpdateCount>%lld</NotApprovedUpdateCount>"
		 "<UpdatesWithStaleUpdateApprovalsCount>0</UpdatesWithStaleUpdateApprovalsCount>"
		 "<ExpiredUpdateCount>0</ExpiredUpdateCount>"
		 "<CriticalOrSecurityUpdatesNotApprovedForInstallCount>%lld</CriticalOrSecurityUpdatesNotApprovedForInstallCount>"
		 "<WsusInfrastructureUpdatesNotApprovedForInstallCount>%lld</WsusInfrastructureUpdatesNotApprovedForInstallCount>"
		 "<UpdatesWithClientErrorsCount>%lld</UpdatesWithClientErrorsCount>"
		 "<UpdatesWithServerErrorsCount>%lld</UpdatesWithServerErrorsCount>"
		 "<UpdatesNeedingFilesCount>%lld</UpdatesNeedingFilesCount>"
		 "<UpdatesNeededByComputersCount>%lld</UpdatesNeededByComputersCount>"
		 "<UpdatesUpToDateCount>%lld</UpdatesUpToDateCount>"
		 "<CustomComputerTargetGroupCount>%lld</CustomComputerTargetGroupCount>"
		 "<ComputerTargetCount>%lld</ComputerTargetCount>"
		 "<ComputerTargetsNeedingUpdatesCount>%lld</ComputerTargetsNeedingUpdatesCount>"
		 "<ComputerTargetsWithUpdateErrorsCount>%lld</ComputerTargetsWithUpdateErrorsCount>"
		 "<ComputersUpToDateCount>%lld</ComputersUpToDateCount></ServerSummary>",
		 (long long)s.updates, (long long)s.declined, (long long)s.approved, (long long)not_approved,
		 (long long)k.critical_not_approved, (long long)k.infrastructure_not_approved,
		 (long long)k.updates_with_client_errors, (long long)k.updates_with_server_errors,
		 (long long)s.needing_files, (long long)k.updates_needed, (long long)k.updates_up_to_date,
		 (long long)s.custom_groups, (long long)s.computers, (long long)k.computers_needing,
		 (long long)k.computers_with_errors, (long long)k.computers_up_to_date);
	return 0;
}

/* A batch size from the configuration: the upstream's, at most ours. */
static size_t batch_size(xmlNodePtr r, const char *name, size_t ours)
{
	int64_t v;

	return protocol_soap_child_int(r, name, 1, INT32_MAX, &v) == 0 && (size_t)v < ours ? (size_t)v : ours;
}

static int rollup_configuration(struct sync_ctx *c, struct sync_rollup_conf *conf, struct err *e)
{
	struct protocol_soap_msg m;
	xmlNodePtr r;
	char raw[64];
	int rc = sync_call(c, SYNC_SVC_REPORT, "GetRollupConfiguration", NULL, SYNC_CALL_DUMMY_COOKIE, &m, e);

	if (rc < 0)
		return rc;
	r = sync_call_result(&m, "GetRollupConfiguration");
	conf->servers_max = batch_size(r, "RollupDownstreamServersMaxBatchSize", ROLLUP_SERVERS_MAX);
	conf->computers_max = batch_size(r, "RollupComputersMaxBatchSize", ROLLUP_COMPUTERS_MAX);
	conf->out_of_sync_max = batch_size(r, "GetOutOfSyncComputersMaxBatchSize", ROLLUP_OUT_OF_SYNC_MAX);
	conf->status_max = batch_size(r, "RollupComputerStatusMaxBatchSize", ROLLUP_STATUS_MAX);
	if (protocol_soap_child_bool(r, "DoDetailedRollup", &conf->detailed) < 0)
		conf->detailed = 0;
	/* Without the upstream's identity we cannot tell when to start over. */
	if (conf->detailed &&
	    (protocol_soap_child_text(r, "ServerId", raw, sizeof(raw)) < 0 ||
	     wsus_guid_normalize(raw, conf->uss_id) < 0 ||
	     protocol_soap_child_text(r, "RollupResetGuid", raw, sizeof(raw)) < 0 ||
	     wsus_guid_normalize(raw, conf->reset_guid) < 0))
		rc = err_set(e, -EBADMSG, "GetRollupConfiguration: ServerId or RollupResetGuid is not a GUID");
	protocol_soap_msg_free(&m);
	return rc;
}

int sync_phase_rollup(struct sync_ctx *c, struct err *e)
{
	struct rollup r = { .c = c, .e = e };
	struct sync_rollup_conf conf = { 0 };
	struct sync_rollup_stats stats = { 0 };
	struct clients cl = { 0 };
	char summary[2048];
	int64_t now = wsus_now_ms();
	int rc;

	/* A 1.0-1.2 upstream has no rollup (MS-WSUSSS 1.7). */
	if (c->up.protocol[0] != '\0' && (strcmp(c->up.protocol, "1.1") == 0 || strcmp(c->up.protocol, "1.2") == 0)) {
		log_info("sync", "phase=rollup skipped=\"upstream protocol %s has no reporting\"", c->up.protocol);
		return 0;
	}
	rc = rollup_configuration(c, &conf, e);
	if (rc < 0)
		return rc;
	r.batch_max = conf.servers_max;
	wsus_buf_init(&r.body, SYNC_MAX_SOAP_RESPONSE);
	rc = storage_dss_foreach(c->st, each_dss, &r, e);
	if (rc == 0)
		rc = summary_xml(c, summary, sizeof(summary), e);
	if (rc == 0)
		rc = clients_build(&r, NULL, &cl);
	/* Ourselves last, with a zero parent: "the USS receiving this call". */
	if (rc == 0)
		rc = server_info(&r, c->server_id, c->account, now, ZERO_GUID,
				 version_ok(WSUS_VERSION_STRING) ? WSUS_VERSION_STRING : NULL,
				 c->cfg->up_mode == WSUS_MODE_REPLICA, now, summary, &cl);
	if (rc == 0)
		rc = flush(&r);
	clients_free(&cl);
	wsus_buf_free(&r.body);
	acks_free(&r.acks);
	stats.servers = r.sent;
	stats.server_calls = r.calls;
	/* DoDetailedRollup FALSE: the steps after the servers MUST NOT run (3.2.4.5). */
	if (rc == 0 && conf.detailed)
		rc = sync_rollup_computers(c, &conf, &stats, e);
	if (rc == 0)
		log_info("sync", "phase=rollup servers=%zu detailed=%s reset=%s computers=%zu details=%zu "
			 "out_of_sync_calls=%zu out_of_sync=%zu statuses=%zu status_items=%zu calls=%zu "
			 "activity_rows=%zu",
			 stats.servers, conf.detailed ? "yes" : "no", stats.reset ? "yes" : "no", stats.computers,
			 stats.details, stats.out_of_sync_calls, stats.out_of_sync, stats.statuses,
			 stats.status_items,
			 stats.server_calls + stats.computer_calls + stats.out_of_sync_calls + stats.status_calls,
			 r.activity);
	return rc;
}
