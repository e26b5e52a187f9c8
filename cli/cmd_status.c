/*
 * cmd_status.c -- `status [--json]`: catalogue counts by type, deployments,
 * content coverage, schema version, last import and sync. The JSON keys are
 * a stable interface documented in the README.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "server.h"


/* Downstream servers that synced from us (the USS records each one that
 * authorizes), as text lines or as JSON array elements. */
struct dss_out {
	int json;
	int n;
};

static void iso_or(int64_t ms, char out[32], const char *none)
{
	if (ms > 0)
		wsus_time_iso(ms, out);
	else
		snprintf(out, 32, "%s", none);
}

static int print_dss(const struct storage_dss_row *d, void *ctx)
{
	struct dss_out *o = ctx;
	char auth[32], seen[32];

	iso_or(d->last_auth, auth, o->json ? "" : "never");
	iso_or(d->last_seen, seen, o->json ? "" : "never");
	if (!o->json) {
		printf("  %s  %s  %s  last auth %s  last seen %s  protocol %s  computers %lld  "
		       "client certificate %s\n", d->server_id,
		       d->fqdn[0] ? d->fqdn : "-", d->address[0] ? d->address : "-", auth, seen,
		       d->protocol_version[0] ? d->protocol_version : "-", (long long)d->computers,
		       d->cert_sha256[0] ? d->cert_sha256 : "none");
	} else {
		printf("%s\n    {\"server_id\": ", o->n ? "," : "");
		cli_json_str(stdout, d->server_id);
		printf(", \"fqdn\": ");
		cli_json_str(stdout, d->fqdn);
		printf(", \"address\": ");
		cli_json_str(stdout, d->address);
		printf(", \"protocol_version\": ");
		cli_json_str(stdout, d->protocol_version);
		printf(", \"last_auth\": ");
		cli_json_str(stdout, auth);
		printf(", \"last_seen\": ");
		cli_json_str(stdout, seen);
		printf(", \"cert_sha256\": ");
		cli_json_str(stdout, d->cert_sha256);
		printf(", \"computers\": %lld}", (long long)d->computers);
	}
	o->n++;
	return 0;
}

/* Client reports: computers, how many report, and the derived update states
 * (Update Status values: 2 needed, 3 downloaded, 4 installed, 5 failed,
 * 6 installed pending reboot). */
static void print_reports(const struct storage_report_summary *r, int json)
{
	char last[32];

	if (r->last_report_ms > 0)
		wsus_time_iso(r->last_report_ms, last);
	if (json) {
		printf("  \"reports\": {\"computers\": %lld, \"computers_reporting\": %lld, "
		       "\"computers_needing\": %lld, \"computers_with_errors\": %lld, \"events\": %lld,\n"
		       "    \"needed\": %lld, \"downloaded\": %lld, \"installed\": %lld, "
		       "\"failed\": %lld, \"pending_reboot\": %lld, \"last_report\": ",
		       (long long)r->computers, (long long)r->computers_reporting,
		       (long long)r->computers_needing, (long long)r->computers_with_errors,
		       (long long)r->events, (long long)r->by_status[2], (long long)r->by_status[3],
		       (long long)r->by_status[4], (long long)r->by_status[5],
		       (long long)r->by_status[6]);
		if (r->last_report_ms > 0)
			cli_json_str(stdout, last);
		else
			fputs("null", stdout);
		printf("},\n");
		return;
	}
	printf("client reports: %lld computers, %lld reporting, last report %s, %lld events kept\n",
	       (long long)r->computers, (long long)r->computers_reporting,
	       r->last_report_ms > 0 ? last : "never", (long long)r->events);
	printf("  update status: installed %lld, pending reboot %lld, needed %lld, downloaded %lld, "
	       "failed %lld (%lld computers need updates, %lld with errors)\n",
	       (long long)r->by_status[4], (long long)r->by_status[6], (long long)r->by_status[2],
	       (long long)r->by_status[3], (long long)r->by_status[5],
	       (long long)r->computers_needing, (long long)r->computers_with_errors);
}

/* Where the catalogue came from: one entry per (upstream, certificate), and
 * the last sync with its trust verdict. */
struct prov_out {
	int json;
	int n;
};

static int print_provenance(const struct storage_provenance_row *p, void *ctx)
{
	struct prov_out *o = ctx;
	char first[32], last[32];

	iso_or(p->first_ms, first, "");
	iso_or(p->last_ms, last, "");
	if (o->json) {
		printf("%s\n    {\"upstream\": ", o->n ? "," : "");
		cli_json_str(stdout, p->upstream);
		printf(", \"cert_sha256\": ");
		cli_json_str(stdout, p->cert_sha256);
		printf(", \"revisions\": %lld, \"deployments\": %lld, \"first\": ",
		       (long long)p->revisions, (long long)p->deployments);
		cli_json_str(stdout, first);
		printf(", \"last\": ");
		cli_json_str(stdout, last);
		printf("}");
	} else {
		printf("  %s%s%s: %lld revisions, %lld deployments, %s .. %s\n",
		       p->upstream[0] ? p->upstream : "local import",
		       p->cert_sha256[0] ? " certificate sha256 " : "", p->cert_sha256,
		       (long long)p->revisions, (long long)p->deployments, first, last);
	}
	o->n++;
	return 0;
}

static int print_sync(struct storage *st, int json, struct err *e)
{
	struct storage_sync_record r;
	struct prov_out o = { .json = json };
	char fin[32];
	int rc, have;

	rc = storage_sync_last(st, 1, &r, e);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	have = rc == 0;
	if (have)
		iso_or(r.finished_ms, fin, "");
	if (json) {
		printf("  \"last_sync_detail\": ");
		if (have) {
			printf("{\"upstream\": ");
			cli_json_str(stdout, r.upstream);
			printf(", \"cert_sha256\": ");
			cli_json_str(stdout, r.cert_sha256);
			printf(", \"pin_verdict\": ");
			cli_json_str(stdout, r.pin_verdict);
			printf(", \"finished\": ");
			cli_json_str(stdout, fin);
			printf(", \"new_revisions\": %lld, \"changed_revisions\": %lld},\n",
			       (long long)r.new_revisions, (long long)r.changed_revisions);
		} else {
			printf("null,\n");
		}
		printf("  \"provenance\": [");
	} else {
		if (have)
			printf("last sync:      %s from %s (%lld new, %lld changed); %s\n", fin, r.upstream,
			       (long long)r.new_revisions, (long long)r.changed_revisions, r.pin_verdict);
		printf("provenance:\n");
	}
	rc = storage_sync_provenance(st, print_provenance, &o, e);
	if (json)
		printf("%s],\n", o.n ? "\n  " : "");
	else if (o.n == 0)
		printf("  empty catalogue\n");
	return rc;
}

static void print_json(const struct storage_status *s, const struct wsus_config *cfg,
		       const char *tls_fp, const char *ids_sha256)
{
	printf("{\n  \"schema_version\": %d,\n  \"server_id\": ", s->schema_version);
	cli_json_str(stdout, s->server_id);
	printf(",\n  \"tls_sha256\": ");
	if (tls_fp)
		cli_json_str(stdout, tls_fp);
	else
		fputs("null", stdout);
	printf(",\n  \"data_dir\": ");
	cli_json_str(stdout, cfg->st_data_dir);
	printf(",\n  \"catalog\": {\n    \"revisions\": %lld,\n    \"updates\": %lld,\n",
	       (long long)s->revisions, (long long)s->updates);
	printf("    \"by_type\": {\"software\": %lld, \"driver\": %lld, \"category\": %lld, "
	       "\"detectoid\": %lld},\n",
	       (long long)s->by_type[WSUS_UT_SOFTWARE], (long long)s->by_type[WSUS_UT_DRIVER],
	       (long long)s->by_type[WSUS_UT_CATEGORY], (long long)s->by_type[WSUS_UT_DETECTOID]);
	printf("    \"categories\": {\"company\": %lld, \"product_family\": %lld, \"product\": %lld, "
	       "\"classification\": %lld}\n  },\n",
	       (long long)s->categories_by_kind[0], (long long)s->categories_by_kind[1],
	       (long long)s->categories_by_kind[2], (long long)s->categories_by_kind[3]);
	printf("  \"deployments\": %lld,\n  \"declined\": %lld,\n  \"groups\": %lld,\n"
	       "  \"computers\": %lld,\n",
	       (long long)s->deployments, (long long)s->declined, (long long)s->groups,
	       (long long)s->computers);
	printf("  \"content\": {\"files\": %lld, \"present\": %lld, \"missing\": %lld, "
	       "\"quarantined\": %lld, \"bytes\": %lld},\n",
	       (long long)s->files, (long long)s->files_present, (long long)s->files_missing,
	       (long long)s->files_quarantined, (long long)s->content_bytes);
	printf("  \"last_import\": ");
	cli_json_str(stdout, s->last_import);
	printf(",\n  \"last_sync\": ");
	cli_json_str(stdout, s->last_sync);
	printf(",\n  \"upstream\": ");
	if (cfg->up_url)
		cli_json_str(stdout, cfg->up_url);
	else
		fputs("null", stdout);
	printf(",\n  \"downstream_policy\": \"%s\",\n", config_downstream_name(cfg->srv_downstream));
	printf("  \"revision_ids_sha256\": \"%s\",\n", ids_sha256);
}

/* How many fingerprints a comma-separated client_cert_allow holds. */
static int allow_count(const char *list)
{
	int n = list != NULL && *list != '\0';

	for (const char *p = list; p != NULL && *p; p++)
		n += *p == ',';
	return n;
}

static void print_text(const struct storage_status *s, const struct wsus_config *cfg,
		       const char *tls_fp, const char *ids_sha256)
{
	printf("server id:      %s (schema version %d, data in %s)\n", s->server_id,
	       s->schema_version, cfg->st_data_dir);
	printf("tls certificate: %s%s\n", tls_fp ? "sha256 " : "", tls_fp ? tls_fp : "generated on first serve");
	printf("upstream:       %s\n", cfg->up_url ? cfg->up_url : "none (root server)");
	if (cfg->srv_downstream == WSUS_DOWNSTREAM_ALLOW_LIST)
		printf("downstreams:    allow_list: only the %d client certificate(s) of client_cert_allow may "
		       "sync or roll up\n", allow_count(cfg->srv_client_cert_allow));
	else
		printf("downstreams:    open: any server may sync from us and roll up computers (as WSUS; "
		       "set [server] downstream = allow_list to restrict)\n");
	printf("catalogue:      %lld revisions of %lld updates\n", (long long)s->revisions,
	       (long long)s->updates);
	printf("  software %lld, driver %lld, category %lld, detectoid %lld\n",
	       (long long)s->by_type[WSUS_UT_SOFTWARE], (long long)s->by_type[WSUS_UT_DRIVER],
	       (long long)s->by_type[WSUS_UT_CATEGORY], (long long)s->by_type[WSUS_UT_DETECTOID]);
	printf("  categories: company %lld, product family %lld, product %lld, classification %lld\n",
	       (long long)s->categories_by_kind[0], (long long)s->categories_by_kind[1],
	       (long long)s->categories_by_kind[2], (long long)s->categories_by_kind[3]);
	printf("  revision ids: sha256 %s\n", ids_sha256);
	printf("approvals:      %lld deployments, %lld declined updates, %lld groups\n",
	       (long long)s->deployments, (long long)s->declined, (long long)s->groups);
	printf("computers:      %lld\n", (long long)s->computers);
	printf("content:        %lld of %lld payloads present (%lld bytes), %lld missing, %lld quarantined\n",
	       (long long)s->files_present, (long long)s->files, (long long)s->content_bytes,
	       (long long)s->files_missing, (long long)s->files_quarantined);
	printf("last import:    %s\n", s->last_import[0] ? s->last_import : "never");
	printf("last sync:      %s\n", s->last_sync[0] ? s->last_sync : "never");
}

struct origin_out {
	int json;
	int n;
};

static int print_origin(const char *origin, int64_t revisions, int tiers, void *ctx)
{
	struct origin_out *o = ctx;

	if (o->json) {
		printf("%s\n    {\"origin\": ", o->n ? "," : "");
		cli_json_str(stdout, origin);
		printf(", \"revisions\": %lld, \"tiers\": %d}", (long long)revisions, tiers);
	} else {
		printf("  %s: %lld revision%s, through up to %d tier%s\n", origin, (long long)revisions,
		       revisions == 1 ? "" : "s", tiers, tiers == 1 ? "" : "s");
	}
	o->n++;
	return 0;
}

/* Origins: the first source of every revision's provenance chain
 * (`catalog show` prints a whole chain). */
static int print_origins(struct storage *st, int json, struct err *e)
{
	struct origin_out o = { .json = json };
	int rc;

	printf(json ? "  \"origins\": [" : "origins (where each revision first came from):\n");
	rc = storage_origin_summary(st, print_origin, &o, e);
	if (json)
		printf("%s],\n", o.n ? "\n  " : "");
	else if (o.n == 0)
		printf("  none\n");
	return rc;
}

/* Air-gap bundle signers: the state import-bundle keeps per signer
 * ("bundle.signer.<fp>.{anchor,exporter,sequence}", in key order). */
struct signer_out {
	int  json, n;
	char fp[65], exporter[WSUS_GUID_LEN], sequence[24], anchor[24];
	int  pending;                    /* its payloads are not all stored */
};

static void signer_flush(struct signer_out *o)
{
	if (o->fp[0] == '\0')
		return;
	if (o->json) {
		printf("%s\n    {\"signer\": ", o->n ? "," : "");
		cli_json_str(stdout, o->fp);
		printf(", \"exporter\": ");
		cli_json_str(stdout, o->exporter);
		printf(", \"sequence\": %s, \"anchor\": %s, \"payloads_pending\": %s}", o->sequence[0] ? o->sequence : "0",
		       o->anchor[0] ? o->anchor : "0", o->pending ? "true" : "false");
	} else {
		printf("  key %s: server %s, sequence %s, anchor %s (its next export: --since %s)%s\n", o->fp,
		       o->exporter[0] ? o->exporter : "?", o->sequence[0] ? o->sequence : "?",
		       o->anchor[0] ? o->anchor : "?", o->anchor[0] ? o->anchor : "0",
		       o->pending ? "; payloads pending: import the same bundle again" : "");
	}
	o->n++;
	memset(o->fp, 0, sizeof(o->fp));
	o->exporter[0] = o->sequence[0] = o->anchor[0] = '\0';
	o->pending = 0;
}

static int signer_row(const char *key, const char *value, void *ctx)
{
	struct signer_out *o = ctx;
	const char *fp = key + strlen("bundle.signer."), *dot = strchr(fp, '.');

	if (dot == NULL || dot - fp != 64)
		return 0;
	if (strncmp(o->fp, fp, 64) != 0) {
		signer_flush(o);
		memcpy(o->fp, fp, 64);
	}
	if (strcmp(dot + 1, "exporter") == 0)
		snprintf(o->exporter, sizeof(o->exporter), "%s", value);
	else if (strcmp(dot + 1, "sequence") == 0)
		snprintf(o->sequence, sizeof(o->sequence), "%s", value);
	else if (strcmp(dot + 1, "anchor") == 0)
		snprintf(o->anchor, sizeof(o->anchor), "%s", value);
	else if (strcmp(dot + 1, "content") == 0)
		o->pending = strcmp(value, "pending") == 0;
	return 0;
}

static int print_signers(struct storage *st, int json, struct err *e)
{
	struct signer_out o = { .json = json };
	int rc;

	printf(json ? "  \"bundle_signers\": [" : "air-gap bundles imported (per signer):\n");
	rc = storage_state_foreach(st, "bundle.signer.", signer_row, &o, e);
	signer_flush(&o);
	if (json)
		printf("%s],\n", o.n ? "\n  " : "");
	else if (o.n == 0)
		printf("  none\n");
	return rc;
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	struct storage_status s;
	struct storage *st = NULL;
	struct err e = { 0 };
	char fp[65], ids[2 * WSUS_SHA256_LEN + 1];
	int json = 0, rc, have_fp;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1)
		return cli_usage("status [--json]");
	if (cli_open_storage_ro(c, &st) < 0)
		return CLI_FAIL;
	memset(&s, 0, sizeof(s));
	rc = storage_status_get(st, &s, &e);
	if (rc == 0)
		rc = storage_revision_ids_digest(st, ids, &e);
	if (rc < 0) {
		storage_close(st);
		return cli_fail("%s", e.msg);
	}
	/* Read-only: status must not create the key (it may run as another user). */
	have_fp = server_tls_fingerprint(c->cfg, fp, NULL) == 0;
	if (json)
		print_json(&s, c->cfg, have_fp ? fp : NULL, ids);
	else
		print_text(&s, c->cfg, have_fp ? fp : NULL, ids);
	{
		struct storage_report_summary rep;
		struct dss_out o = { .json = json };

		memset(&rep, 0, sizeof(rep));
		if (storage_report_summary(st, &rep, &e) < 0) {
			storage_close(st);
			return cli_fail("%s", e.msg);
		}
		print_reports(&rep, json);
		if (print_sync(st, json, &e) < 0) {
			storage_close(st);
			return cli_fail("%s", e.msg);
		}

		if (print_origins(st, json, &e) < 0 || print_signers(st, json, &e) < 0) {
			storage_close(st);
			return cli_fail("%s", e.msg);
		}
		if (json)
			printf("  \"downstream_servers\": [");
		else
			printf("downstream servers:\n");
		rc = storage_dss_foreach(st, print_dss, &o, &e);
		if (json)
			printf("%s]\n}\n", o.n ? "\n  " : "");
		else if (o.n == 0)
			printf("  none\n");
	}
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	return CLI_OK;
}
