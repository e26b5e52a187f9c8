/*
 * sync_deploy.c -- GetDeployments, the replica half of a sync (MS-WSUSSS
 * 3.2.4.3): the upstream's target groups, deployments (approvals), retired
 * deployments, declined updates and accepted EULAs. The answer is held in
 * memory (struct sync_deploy_set, freed by sync_deploy_free) until the
 * publishing transaction applies it, together with the revisions it names
 * that we lacked (fetched here with GetUpdateData). An autonomous server
 * never calls GetDeployments.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync_phase.h"

#define DEPLOY_MAX 1000000   /* entries of one list in one answer */

/*---- Parsing ----*/

void sync_deploy_free(struct sync_deploy_set *set)
{
	free(set->groups);
	free(set->live);
	free(set->dead);
	free(set->hidden);
	free(set->eulas);
	memset(set, 0, sizeof(*set));
}

static size_t count_items(xmlNodePtr list, const char *item)
{
	size_t n = 0;

	for (xmlNodePtr x = protocol_soap_child(list, item); x != NULL; x = protocol_soap_next(x))
		n++;
	return n;
}

/* An ArrayOfGuid into a fresh array (malformed entries are an error). */
static int parse_guids(xmlNodePtr list, const char *what, char (**out)[WSUS_GUID_LEN], size_t *n,
		       struct err *e)
{
	size_t cnt = count_items(list, "guid"), i = 0;
	char (*v)[WSUS_GUID_LEN];

	*out = NULL;
	*n = 0;
	if (cnt == 0)
		return 0;
	if (cnt > DEPLOY_MAX)
		return err_set(e, -E2BIG, "GetDeployments %s lists more than %d entries", what, DEPLOY_MAX);
	v = calloc(cnt, sizeof(*v));
	if (v == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	for (xmlNodePtr x = protocol_soap_child(list, "guid"); x != NULL; x = protocol_soap_next(x)) {
		char *t = protocol_soap_text(x);
		int bad = t == NULL || wsus_guid_normalize(t, v[i]) < 0;

		free(t);
		if (bad) {
			free(v);
			return err_set(e, -EPROTO, "GetDeployments %s holds a malformed GUID", what);
		}
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

static int child_guid(xmlNodePtr parent, const char *name, char out[WSUS_GUID_LEN])
{
	char raw[64];

	if (protocol_soap_child_text(parent, name, raw, sizeof(raw)) < 0 || wsus_guid_normalize(raw, out) < 0)
		return -EINVAL;
	return 0;
}

static int parse_groups(xmlNodePtr list, struct sync_deploy_set *set, struct err *e)
{
	size_t cnt = count_items(list, "ServerSyncTargetGroup");

	if (cnt > DEPLOY_MAX)
		return err_set(e, -E2BIG, "GetDeployments lists more than %d groups", DEPLOY_MAX);
	set->groups = calloc(cnt ? cnt : 1, sizeof(*set->groups));
	if (set->groups == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	for (xmlNodePtr x = protocol_soap_child(list, "ServerSyncTargetGroup"); x != NULL; x = protocol_soap_next(x)) {
		struct storage_group_row *g = &set->groups[set->n_groups];
		int builtin = 0;

		memset(g, 0, sizeof(*g));
		/* TargetGroupID, but ParentGroupId (trap 7), optional in the example. */
		if (child_guid(x, "TargetGroupID", g->group_id) < 0 ||
		    protocol_soap_child_text(x, "Name", g->name, sizeof(g->name)) < 0 || g->name[0] == '\0')
			return err_set(e, -EPROTO, "GetDeployments holds a target group without ID or name");
		if (child_guid(x, "ParentGroupId", g->parent_id) < 0 ||
		    strcmp(g->parent_id, "00000000-0000-0000-0000-000000000000") == 0)
			g->parent_id[0] = '\0';
		(void)protocol_soap_child_bool(x, "IsBuiltin", &builtin);
		g->builtin = builtin;
		set->n_groups++;
	}
	return 0;
}

/* A dateTime as we store it: the text as sent, "" for the none sentinels. */
static void wire_date(xmlNodePtr parent, const char *name, char *out, size_t cap)
{
	int64_t ms;

	if (protocol_soap_child_text(parent, name, out, cap) < 0 || protocol_datetime_parse(out, &ms) < 0 ||
	    strncmp(out, "9999-", 5) == 0 || strncmp(out, "1753-", 5) == 0 || strncmp(out, "0001-", 5) == 0)
		out[0] = '\0';
}

static int parse_deployment(xmlNodePtr x, struct storage_deployment_row *d, struct err *e)
{
	int64_t rev, action, prio;
	int assigned = 1;

	memset(d, 0, sizeof(*d));
	if (child_guid(x, "DeploymentGuid", d->deployment_id) < 0 || child_guid(x, "UpdateId", d->update_id) < 0 ||
	    child_guid(x, "TargetGroupId", d->group_id) < 0 ||
	    protocol_soap_child_int(x, "RevisionNumber", 0, INT32_MAX, &rev) < 0 ||
	    protocol_soap_child_int(x, "Action", 0, 3, &action) < 0)
		return err_set(e, -EPROTO, "GetDeployments holds a deployment without a valid "
			       "DeploymentGuid, UpdateId, RevisionNumber, Action or TargetGroupId");
	d->revision = (int)rev;
	d->action = (enum storage_action)action;
	if (protocol_soap_child_text(x, "AdminName", d->admin_name, sizeof(d->admin_name)) < 0)
		d->admin_name[0] = '\0';
	for (char *p = d->admin_name; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	wire_date(x, "Deadline", d->deadline, sizeof(d->deadline));
	wire_date(x, "GoLiveTime", d->go_live, sizeof(d->go_live));
	(void)protocol_soap_child_bool(x, "IsAssigned", &assigned);
	d->is_assigned = assigned;
	d->download_priority = protocol_soap_child_int(x, "DownloadPriority", 1, 3, &prio) == 0 ? (int)prio : 2;
	return 0;
}

static int parse_deployments(xmlNodePtr list, struct sync_deploy_set *set, struct err *e)
{
	size_t cnt = count_items(list, "ServerSyncDeployment");
	int rc = 0;

	if (cnt > DEPLOY_MAX)
		return err_set(e, -E2BIG, "GetDeployments lists more than %d deployments", DEPLOY_MAX);
	set->live = calloc(cnt ? cnt : 1, sizeof(*set->live));
	if (set->live == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	for (xmlNodePtr x = protocol_soap_child(list, "ServerSyncDeployment"); x != NULL && rc == 0;
	     x = protocol_soap_next(x)) {
		rc = parse_deployment(x, &set->live[set->n_live], e);
		if (rc == 0)
			set->n_live++;
	}
	return rc;
}

int sync_deploy_parse(xmlNodePtr result, struct sync_deploy_set *set, char **anchor, struct err *e)
{
	char buf[SYNC_ANCHOR_MAX + 1];
	int rc;

	memset(set, 0, sizeof(*set));
	*anchor = NULL;
	if (result == NULL)
		return err_set(e, -EPROTO, "GetDeployments answer has no GetDeploymentsResult");
	rc = protocol_soap_child_text(result, "Anchor", buf, sizeof(buf));
	if (rc < 0 || buf[0] == '\0')
		return err_set(e, -EPROTO, "GetDeployments answer has no usable Anchor");
	rc = parse_groups(protocol_soap_child(result, "Groups"), set, e);
	if (rc == 0)
		rc = parse_deployments(protocol_soap_child(result, "Deployments"), set, e);
	if (rc == 0)
		rc = parse_guids(protocol_soap_child(result, "DeadDeployments"), "DeadDeployments", &set->dead,
				 &set->n_dead, e);
	if (rc == 0)
		rc = parse_guids(protocol_soap_child(result, "HiddenUpdates"), "HiddenUpdates", &set->hidden,
				 &set->n_hidden, e);
	if (rc == 0)
		rc = parse_guids(protocol_soap_child(result, "AcceptedEulas"), "AcceptedEulas", &set->eulas,
				 &set->n_eulas, e);
	if (rc == 0) {
		*anchor = strdup(buf);
		if (*anchor == NULL)
			rc = err_set(e, -ENOMEM, "out of memory");
	}
	if (rc < 0)
		sync_deploy_free(set);
	else
		set->have = 1;
	return rc;
}

/*---- The phase ----*/

/* Revisions the deployments name that are neither staged nor published:
 * GetRevisionIdList lists only the newest revision of each update, an
 * approval may name an older one (3.2.4.3). */
static int missing_revisions(struct sync_ctx *c, struct sync_ids *want, struct err *e)
{
	int rc = 0;

	for (size_t i = 0; i < c->dep.n_live && rc == 0; i++) {
		const struct storage_deployment_row *d = &c->dep.live[i];
		int staged = 0, published = 0, dup = 0;

		rc = storage_sync_have(c->st, d->update_id, d->revision, &staged, &published, e);
		if (rc < 0 || staged || published)
			continue;
		for (size_t j = 0; j < want->n && !dup; j++)
			dup = want->v[j].rev == d->revision && strcmp(want->v[j].uid, d->update_id) == 0;
		if (!dup && sync_ids_add(want, d->update_id, d->revision) < 0)
			rc = err_set(e, -ENOMEM, "out of memory");
	}
	return rc;
}

int sync_phase_deployments(struct sync_ctx *c, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf args;
	struct sync_ids want = { 0 };
	char *anchor = NULL;
	int rc;

	wsus_buf_init(&args, 1u << 16);
	rc = c->anchor_old[SYNC_ANCHOR_DEPLOYMENTS] ?
		sync_xml_text(&args, "deploymentAnchor", c->anchor_old[SYNC_ANCHOR_DEPLOYMENTS]) : 0;
	/* syncAnchor: the update list we just took, so no approval names a
	 * revision newer than what we hold. */
	if (rc == 0)
		rc = sync_xml_text(&args, "syncAnchor", c->anchor_new[SYNC_ANCHOR_UPDATES] ?
				   c->anchor_new[SYNC_ANCHOR_UPDATES] : "");
	if (rc == 0)
		rc = sync_call(c, SYNC_SVC_SSS, "GetDeployments", args.data, SYNC_CALL_COOKIE, &m, e);
	wsus_buf_free(&args);
	if (rc < 0)
		return rc;
	sync_deploy_free(&c->dep);
	rc = sync_deploy_parse(sync_call_result(&m, "GetDeployments"), &c->dep, &anchor, e);
	protocol_soap_msg_free(&m);
	if (rc < 0)
		return rc;
	free(c->anchor_new[SYNC_ANCHOR_DEPLOYMENTS]);
	c->anchor_new[SYNC_ANCHOR_DEPLOYMENTS] = anchor;
	rc = missing_revisions(c, &want, e);
	if (rc == 0 && want.n > 0) {
		log_info("sync", "deployments name %zu revisions not synced yet, fetching them", want.n);
		rc = sync_fetch(c, "deployments", &want, e);
		sync_progress_end(c);
	}
	sync_ids_free(&want);
	if (rc == 0)
		log_info("sync", "phase=deployments groups=%zu deployments=%zu dead=%zu hidden=%zu eulas=%zu"
			 " extra_revisions=%zu anchor=\"%s\"", c->dep.n_groups, c->dep.n_live, c->dep.n_dead,
			 c->dep.n_hidden, c->dep.n_eulas, want.n, anchor);
	return rc;
}

/*---- Publishing (inside the caller's transaction) ----*/

int sync_deploy_publish(struct sync_ctx *c, const struct storage_origin *o, struct err *e)
{
	struct sync_deploy_set *set = &c->dep;
	struct storage_deployment_row dead;
	int rc, changed = 0;

	if (!set->have)
		return 0;
	rc = storage_sync_groups_apply(c->st, set->groups, set->n_groups, &changed, e);
	c->res->groups = set->n_groups;
	/* A replica's approvals are the upstream's (3.2.4.3): none of its own. */
	if (rc == 0)
		rc = storage_sync_retire_others(c->st, o->upstream_url, &changed, e);
	if (rc == 0 && changed > 0) {
		log_warn("sync", "replica mode: %d deployments not from %s retired", changed, o->upstream_url);
		c->res->deployments_dead += (size_t)changed;
	}
	/* Retired first: a replacement may take the same update and group. */
	for (size_t i = 0; i < set->n_dead && rc == 0; i++) {
		memset(&dead, 0, sizeof(dead));
		memcpy(dead.deployment_id, set->dead[i], WSUS_GUID_LEN);
		dead.dead = 1;
		changed = 0;
		rc = storage_sync_deployment_apply(c->st, &dead, o, &changed, e);
		c->res->deployments_dead += (size_t)changed;
	}
	for (size_t i = 0; i < set->n_live && rc == 0; i++) {
		changed = 0;
		rc = storage_sync_deployment_apply(c->st, &set->live[i], o, &changed, e);
		if (rc == -ENOENT) {
			/* A group the answer did not list: nobody could be targeted by it. */
			log_warn("sync", "%s", e ? e->msg : "deployment for an unknown group skipped");
			rc = 0;
		}
		c->res->deployments += (size_t)changed;
	}
	if (rc == 0)
		rc = storage_sync_hidden_apply(c->st, (const char (*)[WSUS_GUID_LEN])set->hidden, set->n_hidden,
					       &changed, e);
	if (rc == 0)
		c->res->hidden = (size_t)changed;
	if (rc == 0)
		rc = storage_sync_eulas_apply(c->st, (const char (*)[WSUS_GUID_LEN])set->eulas, set->n_eulas, e);
	return rc;
}
