/*
 * cmd_status.c -- `status [--json]`: catalogue counts by type, deployments,
 * content coverage, schema version, last import and sync. The JSON keys are
 * a stable interface documented in the README.
 */
#include <string.h>

#include "cli.h"

static void print_json(const struct storage_status *s, const struct wsus_config *cfg)
{
	printf("{\n  \"schema_version\": %d,\n  \"server_id\": ", s->schema_version);
	cli_json_str(stdout, s->server_id);
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
	printf("\n}\n");
}

static void print_text(const struct storage_status *s, const struct wsus_config *cfg)
{
	printf("server id:      %s (schema version %d, data in %s)\n", s->server_id,
	       s->schema_version, cfg->st_data_dir);
	printf("upstream:       %s\n", cfg->up_url ? cfg->up_url : "none (root server)");
	printf("catalogue:      %lld revisions of %lld updates\n", (long long)s->revisions,
	       (long long)s->updates);
	printf("  software %lld, driver %lld, category %lld, detectoid %lld\n",
	       (long long)s->by_type[WSUS_UT_SOFTWARE], (long long)s->by_type[WSUS_UT_DRIVER],
	       (long long)s->by_type[WSUS_UT_CATEGORY], (long long)s->by_type[WSUS_UT_DETECTOID]);
	printf("  categories: company %lld, product family %lld, product %lld, classification %lld\n",
	       (long long)s->categories_by_kind[0], (long long)s->categories_by_kind[1],
	       (long long)s->categories_by_kind[2], (long long)s->categories_by_kind[3]);
	printf("approvals:      %lld deployments, %lld declined updates, %lld groups\n",
	       (long long)s->deployments, (long long)s->declined, (long long)s->groups);
	printf("computers:      %lld\n", (long long)s->computers);
	printf("content:        %lld of %lld payloads present (%lld bytes), %lld missing, %lld quarantined\n",
	       (long long)s->files_present, (long long)s->files, (long long)s->content_bytes,
	       (long long)s->files_missing, (long long)s->files_quarantined);
	printf("last import:    %s\n", s->last_import[0] ? s->last_import : "never");
	printf("last sync:      %s\n", s->last_sync[0] ? s->last_sync : "never");
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	struct storage_status s;
	struct storage *st = NULL;
	struct err e = { 0 };
	int json = 0, rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1)
		return cli_usage("status [--json]");
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	memset(&s, 0, sizeof(s));
	rc = storage_status_get(st, &s, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	if (json)
		print_json(&s, c->cfg);
	else
		print_text(&s, c->cfg);
	return CLI_OK;
}
