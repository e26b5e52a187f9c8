/*
 * sync_report.c -- the reporting rollup to the upstream (MS-WSUSSS 3.2.4.5):
 * GetRollupConfiguration, then RollupDownstreamServers with our own
 * downstream servers (parents before children) and ourselves last, with the
 * ServerSummary counters the catalogue gives. These operations carry the
 * dummy cookie. Computer-level rollup (RollupComputers and the status calls)
 * is not sent yet. A rollup failure is logged and counted, never fatal: the
 * metadata is published by then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync_phase.h"

#define ZERO_GUID     "00000000-0000-0000-0000-000000000000"
#define NEVER_TIME    "1753-01-01T00:00:00Z"
#define ROLLUP_BATCH_DEFAULT 5000

#ifndef WSUS_VERSION_STRING
#define WSUS_VERSION_STRING "0"
#endif

struct rollup {
	struct sync_ctx *c;
	struct wsus_buf  body;       /* DownstreamServerRollupInfo elements of the pending batch */
	size_t           in_batch;
	size_t           batch_max;
	size_t           sent;
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

static int each_dss(const struct storage_dss_row *d, void *ctx)
{
	struct rollup *r = ctx;
	const char *parent = d->parent_id[0] ? d->parent_id : r->c->server_id;

	return server_info(r, d->server_id, d->fqdn, d->last_sync, parent,
			   version_ok(d->version) ? d->version : NULL, d->is_replica, d->last_rollup, NULL);
}

/* ServerSummary (18 counters, in schema order) from the catalogue. */
static int summary_xml(struct sync_ctx *c, char *out, size_t cap, struct err *e)
{
	struct storage_sync_summary s;
	int rc = storage_sync_summary(c->st, &s, e);
	int64_t not_approved;

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
		 "<CriticalOrSecurityUpdatesNotApprovedForInstallCount>0</CriticalOrSecurityUpdatesNotApprovedForInstallCount>"
		 "<WsusInfrastructureUpdatesNotApprovedForInstallCount>0</WsusInfrastructureUpdatesNotApprovedForInstallCount>"
		 "<UpdatesWithClientErrorsCount>0</UpdatesWithClientErrorsCount>"
		 "<UpdatesWithServerErrorsCount>0</UpdatesWithServerErrorsCount>"
		 "<UpdatesNeedingFilesCount>%lld</UpdatesNeedingFilesCount>"
		 "<UpdatesNeededByComputersCount>0</UpdatesNeededByComputersCount>"
		 "<UpdatesUpToDateCount>0</UpdatesUpToDateCount>"
		 "<CustomComputerTargetGroupCount>%lld</CustomComputerTargetGroupCount>"
		 "<ComputerTargetCount>%lld</ComputerTargetCount>"
		 "<ComputerTargetsNeedingUpdatesCount>0</ComputerTargetsNeedingUpdatesCount>"
		 "<ComputerTargetsWithUpdateErrorsCount>0</ComputerTargetsWithUpdateErrorsCount>"
		 "<ComputersUpToDateCount>0</ComputersUpToDateCount></ServerSummary>",
		 (long long)s.updates, (long long)s.declined, (long long)s.approved, (long long)not_approved,
		 (long long)s.needing_files, (long long)s.custom_groups, (long long)s.computers);
	return 0;
}

static int rollup_configuration(struct sync_ctx *c, size_t *batch_max, struct err *e)
{
	struct protocol_soap_msg m;
	int64_t v;
	int rc = sync_call(c, SYNC_SVC_REPORT, "GetRollupConfiguration", NULL, SYNC_CALL_DUMMY_COOKIE, &m, e);

	if (rc < 0)
		return rc;
	*batch_max = protocol_soap_child_int(sync_call_result(&m, "GetRollupConfiguration"),
					     "RollupDownstreamServersMaxBatchSize", 1, INT32_MAX, &v) == 0 ?
		(size_t)v : ROLLUP_BATCH_DEFAULT;
	protocol_soap_msg_free(&m);
	return 0;
}

int sync_phase_rollup(struct sync_ctx *c, struct err *e)
{
	struct rollup r = { .c = c, .e = e };
	char summary[2048];
	int64_t now = wsus_now_ms();
	int rc;

	/* A 1.0-1.2 upstream has no rollup (MS-WSUSSS 1.7). */
	if (c->up.protocol[0] != '\0' && (strcmp(c->up.protocol, "1.1") == 0 || strcmp(c->up.protocol, "1.2") == 0)) {
		log_info("sync", "phase=rollup skipped=\"upstream protocol %s has no reporting\"", c->up.protocol);
		return 0;
	}
	rc = rollup_configuration(c, &r.batch_max, e);
	if (rc < 0)
		return rc;
	if (r.batch_max > ROLLUP_BATCH_DEFAULT)
		r.batch_max = ROLLUP_BATCH_DEFAULT;
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
	if (rc == 0)
		log_info("sync", "phase=rollup servers=%zu", r.sent);
	return rc;
}
