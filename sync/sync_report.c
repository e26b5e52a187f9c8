/*
 * sync_report.c -- the reporting rollup to the upstream (MS-WSUSSS 3.2.4.5):
 * GetRollupConfiguration, then RollupDownstreamServers with our own
 * downstream servers (parents before children) and ourselves last, with the
 * ServerSummary counters the catalogue and the Update Status table give;
 * then, when the upstream asks for a detailed rollup, the computers and
 * their update statuses that changed since it last accepted them
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

struct rollup {
	struct sync_ctx *c;
	struct wsus_buf  body;       /* DownstreamServerRollupInfo elements of the pending batch */
	size_t           in_batch;
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
	if (rc == 0)
		protocol_soap_msg_free(&m);
	r->sent += r->in_batch;
	r->calls++;
	r->in_batch = 0;
	r->body.len = 0;
	return rc;
}

static int server_info(struct rollup *r, const char *id, const char *fqdn, int64_t last_sync,
		       const char *parent, const char *version, int replica, int64_t last_rollup,
		       const char *summary)
{
	char t1[40], t2[40];
	int rc;

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
		rc = wsus_buf_appends(&r->body, "</DownstreamServerRollupInfo>");
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

static int each_dss(const struct storage_dss_row *d, void *ctx)
{
	struct rollup *r = ctx;
	const char *parent = d->parent_id[0] ? d->parent_id : r->c->server_id;
	char summary[2048];
	int have = d->summary[0] == '{' && summary_from_json(d->summary, summary, sizeof(summary)) == 0;

	return server_info(r, d->server_id, d->fqdn, d->last_sync, parent,
			   version_ok(d->version) ? d->version : NULL, d->is_replica, d->last_rollup,
			   have ? summary : NULL);
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
	/* Ourselves last, with a zero parent: "the USS receiving this call". */
	if (rc == 0)
		rc = server_info(&r, c->server_id, c->account, now, ZERO_GUID,
				 version_ok(WSUS_VERSION_STRING) ? WSUS_VERSION_STRING : NULL,
				 c->cfg->up_mode == WSUS_MODE_REPLICA, now, summary);
	if (rc == 0)
		rc = flush(&r);
	wsus_buf_free(&r.body);
	stats.servers = r.sent;
	stats.server_calls = r.calls;
	/* DoDetailedRollup FALSE: the steps after the servers MUST NOT run (3.2.4.5). */
	if (rc == 0 && conf.detailed)
		rc = sync_rollup_computers(c, &conf, &stats, e);
	if (rc == 0)
		log_info("sync", "phase=rollup servers=%zu detailed=%s reset=%s computers=%zu details=%zu "
			 "out_of_sync_calls=%zu out_of_sync=%zu statuses=%zu status_items=%zu calls=%zu",
			 stats.servers, conf.detailed ? "yes" : "no", stats.reset ? "yes" : "no", stats.computers,
			 stats.details, stats.out_of_sync_calls, stats.out_of_sync, stats.statuses,
			 stats.status_items,
			 stats.server_calls + stats.computer_calls + stats.out_of_sync_calls + stats.status_calls);
	return rc;
}
