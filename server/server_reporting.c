/*
 * server_reporting.c -- ReportingWebService, the rollup half (MS-WSUSSS
 * 3.1.4.13-3.1.4.17): downstream servers report themselves, their own
 * downstreams, their computers and the computers' update status, so that an
 * upstream admin sees the whole hierarchy. These operations carry the dummy
 * cookie (no authentication in the protocol); a report is accepted only for a
 * downstream server we already know. Each request is stored in one
 * transaction. Windows clients post ReportEventBatch to the same path
 * (server_report.c), so the rollup operations are gated per operation
 * (downstream_only), not the path.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Batch sizes a Windows USS advertises (MS-WSUSSS <46>-<49>). */
#define ROLLUP_SERVERS_MAX   5000
#define ROLLUP_COMPUTERS_MAX 1500
#define OUT_OF_SYNC_MAX      20000
#define STATUS_MAX           500
#define STATUSES_PER_COMPUTER_MAX 100000
#define LIST_TEXT_MAX        8192   /* joined group ids / names of one computer */
#define SUMMARY_TEXT_MAX     2048
#define ZERO_GUID            "00000000-0000-0000-0000-000000000000"

int server_sss_ping(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		    struct server_fault *f);

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

/*---- Reading ----*/

/* An xs:dateTime; the "never" sentinels (0001-01-01, 1753-01-01) and
 * absence become INT64_MIN. -EINVAL when present but malformed. */
static int to_time(const char *text, int64_t *ms)
{
	*ms = INT64_MIN;
	if (text == NULL || text[0] == '\0')
		return 0;
	if (protocol_datetime_parse(text, ms) < 0)
		return -EINVAL;
	if (strncmp(text, "0001-", 5) == 0 || strncmp(text, "1753-", 5) == 0)
		*ms = INT64_MIN;
	return 0;
}

static int child_time(const struct protocol_node *parent, const char *name, int64_t *ms)
{
	char *t = protocol_req_text(protocol_req_child(parent, name));
	int rc = to_time(t, ms);

	free(t);
	return rc;
}

static int child_guid(const struct protocol_node *parent, const char *name, char out[WSUS_GUID_LEN])
{
	char raw[64];

	if (protocol_req_child_text(parent, name, raw, sizeof(raw)) < 0 ||
	    wsus_guid_normalize(raw, out) < 0)
		return -EINVAL;
	return 0;
}

/* An int attribute (0 when absent); -EINVAL when present but not an int. */
static int attr_int(const struct protocol_node *n, const char *name, int *out)
{
	const char *v = protocol_req_attr(n, name);
	char *end;
	long x;

	*out = 0;
	if (v == NULL)
		return 0;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < INT32_MIN || x > INT32_MAX)
		return -EINVAL;
	*out = (int)x;
	return 0;
}

static int attr_time(const struct protocol_node *n, const char *name, int64_t *ms)
{
	return to_time(protocol_req_attr(n, name), ms);
}

/* Attribute text (malloc'd, NULL when absent or longer than max). */
static char *attr_text(const struct protocol_node *n, const char *name, size_t max)
{
	const char *v = protocol_req_attr(n, name);

	return v != NULL && strlen(v) <= max ? strdup(v) : NULL;
}

/* The texts of list's children named item, joined by commas (bounded). */
static int join_children(const struct protocol_node *list, const char *item, int guids, char *out,
			 size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (const struct protocol_node *x = protocol_req_child(list, item); x != NULL;
	     x = protocol_req_next(x)) {
		char *t = protocol_req_text(x), guid[WSUS_GUID_LEN];
		const char *v = t;
		int n;

		if (t == NULL)
			return -ENOMEM;
		if (guids) {
			if (wsus_guid_normalize(t, guid) < 0) {
				free(t);
				return -EINVAL;
			}
			v = guid;
		}
		n = snprintf(out + len, cap - len, "%s%s", len ? "," : "", v);
		free(t);
		if (n < 0 || (size_t)n >= cap - len)
			return -E2BIG;
		len += (size_t)n;
	}
	return 0;
}

static size_t count_children(const struct protocol_node *list, const char *item)
{
	size_t n = 0;

	for (const struct protocol_node *x = protocol_req_child(list, item); x != NULL;
	     x = protocol_req_next(x))
		n++;
	return n;
}

/* Run fn inside one storage transaction: all of a report is kept, or none. */
static int in_transaction(struct server_req *req, struct server_fault *f,
			  int (*fn)(struct server_req *, const struct protocol_node *,
				    struct wsus_buf *, struct server_fault *),
			  const struct protocol_node *op, struct wsus_buf *out)
{
	struct err e = { 0 };
	int rc = storage_begin(req->st, &e);

	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	rc = fn(req, op, out, f);
	if (rc == 0)
		rc = storage_commit(req->st, &e);
	else
		storage_rollback(req->st);
	if (rc < -1 && f->message[0] == '\0')
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	return rc;
}

/*---- GetRollupConfiguration ----*/

/* A GUID that changes only when we want every downstream to roll up in full
 * again (a fresh database gets a fresh one). */
static int reset_guid(struct storage *st, char out[WSUS_GUID_LEN], struct err *e)
{
	char *v = NULL;
	int rc = storage_state_get(st, "rollup_reset_guid", &v);

	if (rc == 0 && wsus_guid_normalize(v, out) == 0) {
		free(v);
		return 0;
	}
	free(v);
	rc = wsus_guid_random(out);
	if (rc < 0)
		return err_set(e, rc, "cannot generate a rollup reset GUID");
	return storage_state_set(st, "rollup_reset_guid", out, e);
}

static int op_get_rollup_configuration(struct server_req *req, struct protocol_req_msg *msg,
				       struct wsus_buf *out, struct server_fault *f)
{
	char guid[WSUS_GUID_LEN];
	struct err e = { 0 };
	int rc;

	(void)msg;
	rc = reset_guid(req->st, guid, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	/* Detailed rollup on: we keep what downstreams send about their computers. */
	return wsus_buf_printf(out,
			       "<GetRollupConfigurationResponse xmlns=\"%s\"><GetRollupConfigurationResult>"
			       "<DoDetailedRollup>true</DoDetailedRollup>"
			       "<RollupResetGuid>%s</RollupResetGuid><ServerId>%s</ServerId>"
			       "<RollupDownstreamServersMaxBatchSize>%d</RollupDownstreamServersMaxBatchSize>"
			       "<RollupComputersMaxBatchSize>%d</RollupComputersMaxBatchSize>"
			       "<GetOutOfSyncComputersMaxBatchSize>%d</GetOutOfSyncComputersMaxBatchSize>"
			       "<RollupComputerStatusMaxBatchSize>%d</RollupComputerStatusMaxBatchSize>"
			       "</GetRollupConfigurationResult></GetRollupConfigurationResponse>",
			       PROTOCOL_NS_SD, guid, req->srv->server_id, ROLLUP_SERVERS_MAX,
			       ROLLUP_COMPUTERS_MAX, OUT_OF_SYNC_MAX, STATUS_MAX);
}

/*---- RollupDownstreamServers ----*/

/* ServerSummary as a JSON object of its 18 counters (absent ones 0). */
static int summary_json(const struct protocol_node *sum, char *out, size_t cap)
{
	size_t len = 0;
	int n;

	n = snprintf(out, cap, "{");
	len = (size_t)n;
	for (size_t i = 0; i < sizeof(summary_fields) / sizeof(summary_fields[0]); i++) {
		int64_t v = 0;

		if (protocol_req_child_int(sum, summary_fields[i], INT32_MIN, INT32_MAX,
					   &v) == -EINVAL)
			return -EINVAL;
		n = snprintf(out + len, cap - len, "%s\"%s\":%lld", i ? "," : "", summary_fields[i],
			     (long long)v);
		if (n < 0 || (size_t)n >= cap - len)
			return -E2BIG;
		len += (size_t)n;
	}
	if (len + 2 > cap)
		return -E2BIG;
	out[len++] = '}';
	out[len] = '\0';
	return 0;
}

/* One DownstreamServerRollupClientSummary: its install counts per update. */
static int store_client_summary(struct server_req *req, const char *server_id,
				const struct protocol_node *cs,
				struct server_fault *f)
{
	char os[160], locale[24] = "", arch[24] = "";
	int64_t v[9] = { 0 };
	static const char *const os_fields[] = {
		"OSMajorVersion", "OSMinorVersion", "OSBuildNumber", "OSServicePackMajorNumber",
		"OSServicePackMinorNumber", "SuiteMask", "OldProductType", "NewProductType", "SystemMetrics",
	};
	struct err e = { 0 };
	int rc = 0;

	for (size_t i = 0; i < 9; i++)
		if (protocol_req_child_int(cs, os_fields[i], INT32_MIN, INT32_MAX,
					   &v[i]) == -EINVAL)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "ClientSummaries");
	(void)protocol_req_child_text(cs, "OSLocale", locale, sizeof(locale));
	(void)protocol_req_child_text(cs, "ProcessorArchitecture", arch, sizeof(arch));
	snprintf(os, sizeof(os), "%lld.%lld.%lld.%lld.%lld/%s/%s/%lld/%lld/%lld/%lld", (long long)v[0],
		 (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4], locale, arch,
		 (long long)v[5], (long long)v[6], (long long)v[7], (long long)v[8]);
	for (const struct protocol_node *a = protocol_req_child(protocol_req_child(cs,
										   "ActivitySummaries"),
						"DownstreamServerRollupClientActivitySummary");
	     a != NULL && rc == 0; a = protocol_req_next(a)) {
		char uid[WSUS_GUID_LEN];
		int64_t rev, ok, bad;

		if (child_guid(a, "UpdateId", uid) < 0 ||
		    protocol_req_child_int(a, "RevisionNumber", 0, INT32_MAX, &rev) < 0 ||
		    protocol_req_child_int(a, "InstallSuccessCount", 0, INT32_MAX, &ok) < 0 ||
		    protocol_req_child_int(a, "InstallFailureCount", 0, INT32_MAX, &bad) < 0)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "ActivitySummaries");
		rc = storage_dss_activity_add(req->st, server_id, uid, (int)rev, os, ok, bad, &e);
	}
	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	return rc;
}

/* Descendants come parents first and the caller itself last, so each
 * entry's parent is already known when it arrives: the caller (a zero
 * ParentServerId) from its own authorisation, the others from this report. */
static int store_server(struct server_req *req, const struct protocol_node *info,
			struct server_fault *f)
{
	struct storage_dss_rollup r;
	char fqdn[256] = "", version[40] = "", summary[SUMMARY_TEXT_MAX];
	const struct protocol_node *sum = protocol_req_child(info, "ServerSummary");
	struct err e = { 0 };
	int replica = 0, applied = 0, rc;

	memset(&r, 0, sizeof(r));
	if (child_guid(info, "ServerId", r.server_id) < 0 ||
	    child_guid(info, "ParentServerId", r.parent_id) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "downstreamServers: ServerId");
	if (child_time(info, "LastSyncTime", &r.last_sync_ms) < 0 ||
	    child_time(info, "LastRollupTime", &r.last_rollup_ms) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "downstreamServers: times");
	if (protocol_req_child_text(info, "FullDomainName", fqdn, sizeof(fqdn)) == -E2BIG ||
	    protocol_req_child_text(info, "Version", version, 33) == -E2BIG)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "downstreamServers: names");
	(void)protocol_req_child_bool(info, "IsReplica", &replica);
	if (strcmp(r.parent_id, ZERO_GUID) == 0)
		r.parent_id[0] = '\0';
	rc = storage_dss_known(req->st, r.parent_id[0] ? r.parent_id : r.server_id, &e);
	if (rc == -ENOENT)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
					"downstreamServers: %s %s is not a known downstream server",
					r.parent_id[0] ? "ParentServerId" : "ServerId",
					r.parent_id[0] ? r.parent_id : r.server_id);
	if (rc == 0 && sum != NULL && summary_json(sum, summary, sizeof(summary)) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "ServerSummary");
	if (rc == 0) {
		r.fqdn = fqdn;
		r.version = version;
		r.is_replica = replica;
		r.summary = sum != NULL ? summary : NULL;
		rc = storage_dss_rollup(req->st, &r, &applied, &e);
	}
	if (rc == -EINVAL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "%s", e.msg);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	/* The activity counts are deltas: a stale (replayed) report adds none. */
	for (const struct protocol_node *cs = protocol_req_child(protocol_req_child(info,
										    "ClientSummaries"),
						 "DownstreamServerRollupClientSummary");
	     cs != NULL && applied && rc == 0; cs = protocol_req_next(cs))
		rc = store_client_summary(req, r.server_id, cs, f);
	return rc;
}

static int rollup_servers(struct server_req *req, const struct protocol_node *op,
			  struct wsus_buf *out,
			  struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(op, "downstreamServers");
	size_t servers = 0, clients = 0;
	int rc = 0;

	if (list == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "downstreamServers");
	for (const struct protocol_node *x = protocol_req_child(list, "DownstreamServerRollupInfo");
	     x != NULL;
	     x = protocol_req_next(x)) {
		servers++;
		clients += count_children(protocol_req_child(x, "ClientSummaries"),
					  "DownstreamServerRollupClientSummary");
	}
	if (servers > ROLLUP_SERVERS_MAX || clients > ROLLUP_SERVERS_MAX)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
					"downstreamServers: more than %d entries", ROLLUP_SERVERS_MAX);
	for (const struct protocol_node *x = protocol_req_child(list, "DownstreamServerRollupInfo");
	     x != NULL && rc == 0;
	     x = protocol_req_next(x))
		rc = store_server(req, x, f);
	if (rc == 0)
		rc = wsus_buf_printf(out, "<RollupDownstreamServersResponse xmlns=\"%s\" />", PROTOCOL_NS_SD);
	if (rc == 0)
		log_info("sss", "downstream servers rolled up count=%zu client_summaries=%zu peer=%s",
			 servers,
			 clients, req->peer[0] ? req->peer : "-");
	return rc;
}

static int op_rollup_downstream_servers(struct server_req *req, struct protocol_req_msg *msg,
					struct wsus_buf *out, struct server_fault *f)
{
	return in_transaction(req, f, rollup_servers, msg->op, out);
}

/*---- RollupComputers ----*/

struct computer_text {
	char *ip, *fqdn, *locale, *family, *description, *make, *model, *bios_version, *bios_name;
	char *bios_date, *arch, *client_version;
	char groups[LIST_TEXT_MAX], requested[LIST_TEXT_MAX];
};

static void computer_text_free(struct computer_text *t)
{
	free(t->ip);
	free(t->fqdn);
	free(t->locale);
	free(t->family);
	free(t->description);
	free(t->make);
	free(t->model);
	free(t->bios_version);
	free(t->bios_name);
	free(t->bios_date);
	free(t->arch);
	free(t->client_version);
}

/* ComputerRollupDetails (attributes plus two lists) into c. */
static int read_details(const struct protocol_node *d, struct storage_rollup_computer *c,
			struct computer_text *t)
{
	int rc = 0;

	t->ip = attr_text(d, "IPAddress", 64);
	t->fqdn = attr_text(d, "FullDomainName", 255);
	t->locale = attr_text(d, "OSLocale", 32);
	t->family = attr_text(d, "OSFamily", 64);
	t->description = attr_text(d, "OSDescription", 256);
	t->make = attr_text(d, "ComputerMake", 64);
	t->model = attr_text(d, "ComputerModel", 64);
	t->bios_version = attr_text(d, "BiosVersion", 64);
	t->bios_name = attr_text(d, "BiosName", 64);
	t->bios_date = attr_text(d, "BiosReleaseDate", 40);
	t->arch = attr_text(d, "ProcessorArchitecture", 50);
	t->client_version = attr_text(d, "ClientVersion", 20);
	if (attr_int(d, "OSMajorVersion", &c->os_major) < 0 || attr_int(d, "OSMinorVersion",
									&c->os_minor) < 0 ||
	    attr_int(d, "OSBuildNumber", &c->os_build) < 0 ||
	    attr_int(d, "OSServicePackMajorNumber", &c->os_sp_major) < 0 ||
	    attr_int(d, "OSServicePackMinorNumber", &c->os_sp_minor) < 0 ||
	    attr_int(d, "SuiteMask", &c->suite_mask) < 0 ||
	    attr_int(d, "OldProductType", &c->old_product_type) < 0 ||
	    attr_int(d, "NewProductType", &c->new_product_type) < 0 ||
	    attr_int(d, "SystemMetrics", &c->system_metrics) < 0)
		return -EINVAL;
	rc = join_children(protocol_req_child(d, "TargetGroupIdList"), "guid", 1, t->groups,
			   sizeof(t->groups));
	if (rc == 0)
		rc = join_children(protocol_req_child(d, "RequestedTargetGroupNames"), "string", 0,
				   t->requested, sizeof(t->requested));
	c->has_details = 1;
	c->ip_address = t->ip;
	c->fqdn = t->fqdn;
	c->os_locale = t->locale;
	c->os_family = t->family;
	c->os_description = t->description;
	c->make = t->make;
	c->model = t->model;
	c->bios_version = t->bios_version;
	c->bios_name = t->bios_name;
	c->bios_release_date = t->bios_date;
	c->processor_arch = t->arch;
	c->client_version = t->client_version;
	c->target_group_ids = t->groups;
	c->requested_groups = t->requested;
	return rc;
}

/* One ComputerRollupInfo; appends a NewParent ChangedComputer when we need
 * its Details. */
static int store_computer(struct server_req *req, const struct protocol_node *info,
			  struct wsus_buf *out,
			  struct server_fault *f)
{
	struct storage_rollup_computer c;
	struct computer_text *t = calloc(1, sizeof(*t));
	const struct protocol_node *details = protocol_req_child(info, "Details");
	char *id = attr_text(info, "ComputerId", 256), *parent = attr_text(info, "ParentServerId", 64);
	struct err e = { 0 };
	int rc = 0, new_parent = 0;

	memset(&c, 0, sizeof(c));
	if (t == NULL) {
		rc = -ENOMEM;
		goto done;
	}
	c.computer_id = id;
	if (id == NULL || id[0] == '\0' || parent == NULL || wsus_guid_normalize(parent, c.parent_id) < 0 ||
	    attr_int(info, "LastSyncResult", &c.last_sync_result) < 0 ||
	    attr_time(info, "LastSyncTime", &c.last_sync_ms) < 0 ||
	    attr_time(info, "LastReportedRebootTime", &c.last_reboot_ms) < 0 ||
	    attr_time(info, "LastReportedStatusTime", &c.last_status_ms) < 0 ||
	    attr_time(info, "LastInventoryTime", &c.last_inventory_ms) < 0 ||
	    (details != NULL && read_details(details, &c, t) < 0)) {
		rc = server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "computers: ComputerRollupInfo");
		goto done;
	}
	/* MS-WSUSSS 3.1.4.15: a parent not in the DSS table is InternalServerError. */
	if (storage_dss_known(req->st, c.parent_id, &e) < 0) {
		rc = server_fault_set(f, PROTOCOL_ERR_INTERNAL,
				      "ParentServerId %s is not a known downstream server",
				      c.parent_id);
		goto done;
	}
	rc = storage_rollup_computer(req->st, &c, &new_parent, &e);
	if (rc < 0) {
		server_fault_set(f, rc == -EINVAL ? PROTOCOL_ERR_INVALID_PARAMETERS : PROTOCOL_ERR_INTERNAL,
				 "%s", e.msg);
		if (rc == -EINVAL)
			rc = -1;
		goto done;
	}
	if (new_parent) {
		rc = wsus_buf_appends(out, "<ChangedComputer ComputerId=\"");
		if (rc == 0)
			rc = wsus_buf_append_xml_escaped(out, id, strlen(id));
		if (rc == 0)
			rc = wsus_buf_appends(out, "\" Change=\"NewParent\" />");
	}
done:
	if (t != NULL)
		computer_text_free(t);
	free(t);
	free(id);
	free(parent);
	return rc;
}

static int rollup_computers(struct server_req *req, const struct protocol_node *op,
			    struct wsus_buf *out,
			    struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(op, "computers");
	size_t n = count_children(list, "ComputerRollupInfo");
	int rc;

	if (list == NULL || n > ROLLUP_COMPUTERS_MAX)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "computers: 0 to %d entries",
					ROLLUP_COMPUTERS_MAX);
	rc = wsus_buf_printf(out, "<RollupComputersResponse xmlns=\"%s\"><RollupComputersResult>",
			     PROTOCOL_NS_SD);
	for (const struct protocol_node *x = protocol_req_child(list, "ComputerRollupInfo");
	     x != NULL && rc == 0;
	     x = protocol_req_next(x))
		rc = store_computer(req, x, out, f);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</RollupComputersResult></RollupComputersResponse>");
	if (rc == 0)
		log_info("sss", "computers rolled up count=%zu peer=%s", n, req->peer[0] ? req->peer : "-");
	return rc;
}

static int op_rollup_computers(struct server_req *req, struct protocol_req_msg *msg,
			       struct wsus_buf *out, struct server_fault *f)
{
	return in_transaction(req, f, rollup_computers, msg->op, out);
}

/*---- GetOutOfSyncComputers ----*/

static int op_get_out_of_sync_computers(struct server_req *req, struct protocol_req_msg *msg,
					struct wsus_buf *out, struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(msg->op, "lastRollupNumbers");
	char parent[WSUS_GUID_LEN];
	struct err e = { 0 };
	size_t n = count_children(list, "ComputerLastRollupNumber"), stale = 0;
	int rc, known;

	if (child_guid(msg->op, "parentServerId", parent) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "parentServerId");
	if (list == NULL || n > OUT_OF_SYNC_MAX)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
					"lastRollupNumbers: 0 to %d entries",
					OUT_OF_SYNC_MAX);
	rc = storage_dss_known(req->st, parent, &e);
	if (rc < 0 && rc != -ENOENT) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	/* An unknown parent gets an empty list (MS-WSUSSS 3.1.4.16). */
	known = rc == 0;
	rc = wsus_buf_printf(out, "<GetOutOfSyncComputersResponse xmlns=\"%s\"><GetOutOfSyncComputersResult>",
			     PROTOCOL_NS_SD);
	for (const struct protocol_node *x = protocol_req_child(list, "ComputerLastRollupNumber");
	     x != NULL && known && rc == 0;
	     x = protocol_req_next(x)) {
		char id[260];
		int64_t number;
		int out_of_sync = 0;

		if (protocol_req_child_text(x, "ComputerId", id, sizeof(id)) < 0 ||
		    protocol_req_child_int(x, "RollupNumber", 0, INT32_MAX, &number) < 0)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "lastRollupNumbers");
		rc = storage_rollup_out_of_sync(req->st, parent, id, (int)number, &out_of_sync, &e);
		if (rc == 0 && out_of_sync) {
			stale++;
			rc = wsus_buf_appends(out, "<string>");
			if (rc == 0)
				rc = wsus_buf_append_xml_escaped(out, id, strlen(id));
			if (rc == 0)
				rc = wsus_buf_appends(out, "</string>");
		}
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</GetOutOfSyncComputersResult></GetOutOfSyncComputersResponse>");
	if (rc < 0 && e.msg[0] != '\0')
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	if (rc == 0)
		log_info("sss", "out-of-sync check parent=%s asked=%zu stale=%zu", parent, n, stale);
	return rc;
}

/*---- RollupComputerStatus ----*/

/* SummarizationState (0 not applicable, 2..6 as the table) to the Update
 * Status table (0 unknown, 1 not applicable, 2..6). */
static int status_from_wire(int64_t s, int *out)
{
	if (s == 0)
		*out = 1;
	else if (s == 1)
		*out = 0;
	else if (s >= 2 && s <= 6)
		*out = (int)s;
	else
		return -EINVAL;
	return 0;
}

static int store_status(struct server_req *req, const char *parent,
			const struct protocol_node *info,
			struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(info, "UpdateStatus");
	size_t n = count_children(list, "ComputerStatusRollupUpdateStatus"), i = 0;
	struct storage_rollup_status *items = NULL;
	char id[260];
	int64_t number, detection;
	struct err e = { 0 };
	int full = 0, known = 0, rc;

	if (protocol_req_child_text(info, "ComputerId", id, sizeof(id)) < 0 ||
	    protocol_req_child_int(info, "RollupNumber", 0, INT32_MAX, &number) < 0 ||
	    child_time(info, "EffectiveLastDetectionTime", &detection) < 0 ||
	    n > STATUSES_PER_COMPUTER_MAX)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
					"computers: ComputerStatusRollupInfo");
	(void)protocol_req_child_bool(info, "IsFullRollup", &full);
	if (n > 0) {
		items = calloc(n, sizeof(*items));
		if (items == NULL)
			return -ENOMEM;
	}
	for (const struct protocol_node *x = protocol_req_child(list,
								"ComputerStatusRollupUpdateStatus"); x != NULL;
	     x = protocol_req_next(x), i++) {
		int64_t state;

		if (child_guid(x, "UpdateId", items[i].update_id) < 0 ||
		    protocol_req_child_int(x, "SummarizationState", 0, 6, &state) < 0 ||
		    status_from_wire(state, &items[i].status) < 0 ||
		    child_time(x, "LastChangeTime", &items[i].last_change_ms) < 0) {
			free(items);
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "UpdateStatus");
		}
	}
	rc = storage_rollup_status(req->st, parent, id, (int)number, detection, full, items, n, &known, &e);
	free(items);
	if (rc == -EINVAL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "%s", e.msg);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	if (!known)
		log_debug("sss", "status for a computer not rolled up under parent=%s ignored computer=%s",
			  parent, id);
	return 0;
}

static int rollup_status(struct server_req *req, const struct protocol_node *op,
			 struct wsus_buf *out,
			 struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(op, "computers");
	char parent[WSUS_GUID_LEN];
	struct err e = { 0 };
	size_t n = count_children(list, "ComputerStatusRollupInfo");
	int rc = 0;

	if (child_guid(op, "parentServerId", parent) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "parentServerId");
	if (list == NULL || n > STATUS_MAX)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "computers: 0 to %d entries",
					STATUS_MAX);
	rc = storage_dss_known(req->st, parent, &e);
	if (rc == -ENOENT)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
					"parentServerId %s is not a known downstream server", parent);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	for (const struct protocol_node *x = protocol_req_child(list, "ComputerStatusRollupInfo");
	     x != NULL && rc == 0;
	     x = protocol_req_next(x))
		rc = store_status(req, parent, x, f);
	/* FALSE would mean "busy, retry later"; we never shed load here. */
	if (rc == 0)
		rc = wsus_buf_printf(out, "<RollupComputerStatusResponse xmlns=\"%s\">"
				     "<RollupComputerStatusResult>true</RollupComputerStatusResult>"
				     "</RollupComputerStatusResponse>", PROTOCOL_NS_SD);
	return rc;
}

static int op_rollup_computer_status(struct server_req *req, struct protocol_req_msg *msg,
				     struct wsus_buf *out, struct server_fault *f)
{
	return in_transaction(req, f, rollup_status, msg->op, out);
}

/*---- The service ----*/

static const char *const reporting_paths[] = {
	"/ReportingWebService/ReportingWebService.asmx",
	"/ReportingWebService/WebService.asmx",   /* the WSDL's soap:address */
	NULL,
};

#define SD_ACTION(op) PROTOCOL_NS_SD "/" op

/* The last field: downstream_only (MS-WSUSSS, mutual TLS when configured). */
static const struct server_op reporting_ops[] = {
	{ "GetRollupConfiguration", SD_ACTION("GetRollupConfiguration"), op_get_rollup_configuration, 1,
	  &server_limits_small },
	{ "RollupDownstreamServers", SD_ACTION("RollupDownstreamServers"),
	  op_rollup_downstream_servers, 1, &server_limits_bulk },
	{ "RollupComputers", SD_ACTION("RollupComputers"), op_rollup_computers, 1, &server_limits_bulk },
	{ "GetOutOfSyncComputers", SD_ACTION("GetOutOfSyncComputers"), op_get_out_of_sync_computers, 1,
	  &server_limits_bulk },
	{ "RollupComputerStatus", SD_ACTION("RollupComputerStatus"), op_rollup_computer_status, 1,
	  &server_limits_bulk },
	{ "Ping", PROTOCOL_NS_MONITOR "/Ping", server_sss_ping, 1, &server_limits_small },
	/* MS-WUSP: what Windows clients call */
	{ "ReportEventBatch", SD_ACTION("ReportEventBatch"), server_report_event_batch, 0,
	  &server_limits_bulk },
	{ "ReportEventBatch2", SD_ACTION("ReportEventBatch2"), server_report_event_batch2, 0,
	  &server_limits_bulk },
	{ "GetRequiredInventoryType", SD_ACTION("GetRequiredInventoryType"), server_report_inventory_type, 0,
	  &server_limits_small },
	{ "ReportInventory", SD_ACTION("ReportInventory"), server_report_inventory, 0, &server_limits_medium },
};

const struct server_service server_reporting_service = {
	.paths = reporting_paths,
	.ops = reporting_ops,
	.n_ops = sizeof(reporting_ops) / sizeof(reporting_ops[0]),
	.downstream_only = 0,
};
