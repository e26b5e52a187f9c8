/*
 * cmd_report.c -- `report updates [--needed] [--failed] [--json]` (each
 * update some computer reported a state for: the computers per state) and
 * `report summary [--json]` (the overview the WSUS console opens with:
 * computers needing updates, with errors, up to date, not reported; updates
 * approved, declined, needed, failing; the last sync). Computers rolled up
 * from downstream servers count with ours. Read-only. The JSON keys are a
 * stable interface documented in the README.
 */
#include <string.h>

#include "cli.h"

/*---- report updates ----*/

struct updates_out {
	int json;
	size_t n;
};

static int print_counts(const struct storage_update_counts *u, void *ctx)
{
	struct updates_out *o = ctx;

	if (o->json) {
		printf("%s\n    {\"update_id\": ", o->n ? "," : "");
		cli_json_str(stdout, u->update_id);
		printf(", \"title\": ");
		cli_json_str(stdout, u->title);
		printf(", \"kb\": ");
		cli_json_str(stdout, u->kb);
		printf(", \"approved\": %s, \"declined\": %s, \"needed\": %lld, \"downloaded\": %lld, "
		       "\"installed\": %lld, \"installed_pending_reboot\": %lld, \"failed\": %lld, "
		       "\"not_applicable\": %lld, \"unknown\": %lld}",
		       u->approved ? "true" : "false", u->declined ? "true" : "false", (long long)u->needed,
		       (long long)u->downloaded, (long long)u->installed, (long long)u->pending_reboot,
		       (long long)u->failed, (long long)u->not_applicable, (long long)u->unknown);
	} else {
		printf("%-36s %6lld %10lld %9lld %6lld %6lld %7lld %7lld  %-8s %s\n", u->update_id,
		       (long long)u->needed, (long long)u->downloaded, (long long)u->installed,
		       (long long)u->pending_reboot, (long long)u->failed, (long long)u->not_applicable,
		       (long long)u->unknown, u->declined ? "declined" : u->approved ? "approved" : "-",
		       u->title[0] ? u->title : "(not in the catalogue)");
	}
	o->n++;
	return 0;
}

static int report_updates(struct storage *st, int argc, char **argv)
{
	static const char synopsis[] = "report updates [--needed] [--failed] [--json]";
	struct updates_out o = { 0 };
	struct err e = { 0 };
	int needed = 0, failed = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--needed") == 0)
			needed = 1;
		else if (strcmp(argv[i], "--failed") == 0)
			failed = 1;
		else if (strcmp(argv[i], "--json") == 0)
			o.json = 1;
		else
			return cli_usage(synopsis);
	}
	if (o.json)
		printf("{\n  \"updates\": [");
	else
		printf("%-36s %6s %10s %9s %6s %6s %7s %7s  %-8s %s\n", "UPDATE ID", "NEEDED", "DOWNLOADED",
		       "INSTALLED", "REBOOT", "FAILED", "NOT APP", "UNKNOWN", "APPROVAL", "TITLE");
	rc = storage_update_counts(st, needed, failed, print_counts, &o, &e);
	if (rc < 0) {
		if (o.json)
			printf("]\n}\n");
		return cli_fail("%s", e.msg);
	}
	if (o.json)
		printf("%s],\n  \"count\": %zu\n}\n", o.n ? "\n  " : "", o.n);
	else
		printf("%zu updates\n", o.n);
	return CLI_OK;
}

/*---- report summary ----*/

static void summary_json(const struct storage_overview *v)
{
	char t[32];

	printf("{\n  \"computers\": {\"total\": %lld, \"registered_here\": %lld, \"via_downstream\": %lld, "
	       "\"reporting\": %lld, \"needing_updates\": %lld, \"with_errors\": %lld, \"up_to_date\": %lld, "
	       "\"not_reported\": %lld},\n",
	       (long long)v->computers, (long long)v->computers_ours, (long long)v->computers_rolled_up,
	       (long long)v->computers_reporting, (long long)v->computers_needing,
	       (long long)v->computers_with_errors, (long long)v->computers_up_to_date,
	       (long long)v->computers_not_reported);
	printf("  \"updates\": {\"total\": %lld, \"approved\": %lld, \"declined\": %lld, \"not_approved\": %lld, "
	       "\"needed_by_computers\": %lld, \"with_errors\": %lld, \"needing_files\": %lld},\n",
	       (long long)v->updates, (long long)v->updates_approved, (long long)v->updates_declined,
	       (long long)v->updates_not_approved, (long long)v->updates_needed,
	       (long long)v->updates_with_errors, (long long)v->updates_needing_files);
	printf("  \"downstream_servers\": %lld,\n  \"last_sync\": ", (long long)v->downstream_servers);
	if (v->last_sync_ms > 0) {
		wsus_time_iso(v->last_sync_ms, t);
		printf("{\"started\": ");
		cli_json_str(stdout, t);
		printf(", \"result\": ");
		cli_json_str(stdout, v->last_sync_result);
		printf("}\n}\n");
	} else {
		printf("null\n}\n");
	}
}

static void summary_text(const struct storage_overview *v)
{
	char t[32] = "never";

	if (v->last_sync_ms > 0)
		wsus_time_iso(v->last_sync_ms, t);
	printf("computers:           %lld (%lld registered here, %lld through %lld downstream servers)\n",
	       (long long)v->computers, (long long)v->computers_ours, (long long)v->computers_rolled_up,
	       (long long)v->downstream_servers);
	printf("  needing updates:   %lld\n", (long long)v->computers_needing);
	printf("  with errors:       %lld\n", (long long)v->computers_with_errors);
	printf("  up to date:        %lld\n", (long long)v->computers_up_to_date);
	printf("  not yet reported:  %lld\n", (long long)v->computers_not_reported);
	printf("updates:             %lld (%lld approved, %lld declined, %lld not approved)\n",
	       (long long)v->updates, (long long)v->updates_approved, (long long)v->updates_declined,
	       (long long)v->updates_not_approved);
	printf("  needed by computers: %lld\n", (long long)v->updates_needed);
	printf("  with errors:       %lld\n", (long long)v->updates_with_errors);
	printf("  needing files:     %lld\n", (long long)v->updates_needing_files);
	printf("last sync:           %s%s%s\n", t, v->last_sync_result[0] ? ", " : "", v->last_sync_result);
}

static int report_summary(struct storage *st, int argc, char **argv)
{
	struct storage_overview v;
	struct err e = { 0 };
	int json = argc == 2 && strcmp(argv[1], "--json") == 0;

	if (argc > 2 || (argc == 2 && !json))
		return cli_usage("report summary [--json]");
	if (storage_overview(st, &v, &e) < 0)
		return cli_fail("%s", e.msg);
	if (json)
		summary_json(&v);
	else
		summary_text(&v);
	return CLI_OK;
}

int cmd_report(struct cli *c, int argc, char **argv)
{
	static const char synopsis[] = "report updates [--needed] [--failed] [--json] | report summary [--json]";
	struct storage *st = NULL;
	int rc;

	if (argc < 2 || (strcmp(argv[1], "updates") != 0 && strcmp(argv[1], "summary") != 0))
		return cli_usage(synopsis);
	if (cli_open_storage_ro(c, &st) < 0)
		return CLI_FAIL;
	if (strcmp(argv[1], "updates") == 0)
		rc = report_updates(st, argc - 1, argv + 1);
	else
		rc = report_summary(st, argc - 1, argv + 1);
	storage_close(st);
	return rc;
}
