/*
 * cmd_computer.c -- `computer list [--group G] [--needing] [--failed]
 * [--stale DAYS] [--json]` and `computer show ID|NAME [--json]`: the
 * computers this server knows, its own and those rolled up from downstream
 * servers (with the server they came through), their groups, last sync and
 * report, OS and update states. Read-only. The JSON keys are a stable
 * interface documented in the README.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define STALE_DAYS_MAX 36500

static const char *const state_names[7] = {
	"unknown", "not_applicable", "needed", "downloaded", "installed", "failed", "installed_pending_reboot",
};

static const char *sync_result_name(int r)
{
	return r == 1 ? "succeeded" : r == 2 ? "failed" : "unknown";
}

static void when(int64_t ms, char out[32], const char *none)
{
	if (ms > 0)
		wsus_time_iso(ms, out);
	else
		snprintf(out, 32, "%s", none);
}

static void json_time(const char *key, int64_t ms)
{
	char t[32];

	printf(", \"%s\": ", key);
	if (ms > 0) {
		wsus_time_iso(ms, t);
		cli_json_str(stdout, t);
	} else {
		fputs("null", stdout);
	}
}

/* The group names as a JSON array (the view separates them with '\x1f',
 * which no name holds). */
static void json_groups(const char *groups)
{
	char name[sizeof(((struct storage_computer_row *)0)->groups)];
	int n = 0;

	putchar('[');
	for (const char *p = groups; *p != '\0';) {
		size_t len = strcspn(p, "\x1f");

		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		printf("%s", n++ ? ", " : "");
		cli_json_str(stdout, name);
		p += len + (p[len] != '\0');
	}
	putchar(']');
}

/* The same for people: "A, B", or "-" for none. */
static const char *groups_text(const char *groups, char *out, size_t cap)
{
	size_t o = 0;

	if (groups[0] == '\0')
		return "-";
	for (const char *p = groups; *p != '\0' && o + 3 < cap; p++) {
		if (*p == '\x1f') {
			out[o++] = ',';
			out[o++] = ' ';
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return out;
}

static void json_computer(const struct storage_computer_row *c)
{
	printf("{\"id\": ");
	cli_json_str(stdout, c->computer_id);
	printf(", \"name\": ");
	cli_json_str(stdout, c->name);
	printf(", \"ip\": ");
	cli_json_str(stdout, c->ip);
	printf(", \"os\": ");
	cli_json_str(stdout, c->os);
	printf(", \"groups\": ");
	json_groups(c->groups);
	printf(", \"requested_groups\": ");
	cli_json_str(stdout, c->requested);
	printf(", \"downstream_server\": ");
	if (c->parent_id[0]) {
		printf("{\"id\": ");
		cli_json_str(stdout, c->parent_id);
		printf(", \"fqdn\": ");
		cli_json_str(stdout, c->parent_name);
		printf("}");
	} else {
		fputs("null", stdout);
	}
	json_time("registered", c->registered_ms);
	json_time("last_sync", c->last_sync_ms);
	printf(", \"last_sync_result\": \"%s\"", sync_result_name(c->last_sync_result));
	json_time("last_report", c->last_report_ms);
	printf(", \"updates\": {");
	for (int i = 0; i < 7; i++)
		printf("%s\"%s\": %lld", i ? ", " : "", state_names[i], (long long)c->by_status[i]);
	printf("}}");
}

/*---- computer list ----*/

struct list_out {
	int json;
	size_t n;
};

static int print_computer(const struct storage_computer_row *c, void *ctx)
{
	struct list_out *o = ctx;
	char sync[32], rep[32], groups[2 * sizeof(c->groups)];

	if (o->json) {
		printf("%s\n    ", o->n ? "," : "");
		json_computer(c);
	} else {
		when(c->last_sync_ms, sync, "never");
		when(c->last_report_ms, rep, "never");
		printf("%-30s %-24s %-24s %-24s %-24s %-24s %6lld %6lld %9lld\n", c->name[0] ? c->name : c->computer_id,
		       c->os, groups_text(c->groups, groups, sizeof(groups)), c->parent_id[0] ? (c->parent_name[0] ? c->parent_name
									 : c->parent_id) : "-",
		       sync, rep, (long long)(c->by_status[2] + c->by_status[3]), (long long)c->by_status[5],
		       (long long)(c->by_status[4] + c->by_status[6]));
	}
	o->n++;
	return 0;
}

static int computer_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "needing", no_argument, NULL, 'n' },
		{ "failed", no_argument, NULL, 'f' },
		{ "stale", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char synopsis[] = "computer list [--group NAME] [--needing] [--failed] [--stale DAYS] [--json]";
	struct storage_computer_filter f = { 0 };
	struct list_out o = { 0 };
	struct storage *st = NULL;
	struct err e = { 0 };
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "g:nfs:j", opts, NULL)) != -1) {
		char *end;
		long days;

		switch (opt) {
		case 'g': f.group = optarg; break;
		case 'n': f.needing = 1; break;
		case 'f': f.failed = 1; break;
		case 'j': o.json = 1; break;
		case 's':
			errno = 0;
			days = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || days < 0 || days > STALE_DAYS_MAX)
				return cli_fail("--stale wants a number of days from 0 to %d", STALE_DAYS_MAX);
			f.stale_before_ms = wsus_now_ms() - (int64_t)days * 86400000;
			break;
		default: return cli_usage(synopsis);
		}
	}
	if (optind != argc)
		return cli_usage(synopsis);
	if (cli_open_storage_ro(c, &st) < 0)
		return CLI_FAIL;
	if (o.json)
		printf("{\n  \"computers\": [");
	else
		printf("%-30s %-24s %-24s %-24s %-24s %-24s %6s %6s %9s\n", "NAME", "OS", "GROUPS", "VIA",
		       "LAST SYNC", "LAST REPORT", "NEEDED", "FAILED", "INSTALLED");
	rc = storage_computer_list(st, &f, print_computer, &o, &e);
	storage_close(st);
	if (rc < 0) {
		if (o.json)
			printf("]\n}\n");
		return cli_fail("%s", e.msg);
	}
	if (o.json)
		printf("%s],\n  \"count\": %zu\n}\n", o.n ? "\n  " : "", o.n);
	else
		printf("%zu computers\n", o.n);
	return CLI_OK;
}

/*---- computer show ----*/

struct show_out {
	int json;
	size_t n;
};

static int print_update(const struct storage_computer_update *u, void *ctx)
{
	struct show_out *o = ctx;
	const char *state = u->status >= 0 && u->status <= 6 ? state_names[u->status] : "unknown";
	char changed[32], ev[32];

	if (o->json) {
		printf("%s\n    {\"update_id\": ", o->n ? "," : "");
		cli_json_str(stdout, u->update_id);
		printf(", \"title\": ");
		cli_json_str(stdout, u->title);
		printf(", \"state\": \"%s\"", state);
		json_time("changed", u->changed_ms);
		printf(", \"last_event\": ");
		if (u->event_ms > 0) {
			wsus_time_iso(u->event_ms, ev);
			printf("{\"time\": ");
			cli_json_str(stdout, ev);
			printf(", \"event_id\": %d, \"hresult\": %d}", u->event_id, u->hresult);
		} else {
			fputs("null", stdout);
		}
		printf("}");
	} else {
		when(u->changed_ms, changed, "-");
		when(u->event_ms, ev, "-");
		printf("  %-25s %-24s %-24s %6d 0x%08x  %s  %s\n", state, changed, ev, u->event_id,
		       (unsigned)u->hresult, u->update_id, u->title);
	}
	o->n++;
	return 0;
}

static void print_show_text(const struct storage_computer_row *c)
{
	char reg[32], sync[32], rep[32], groups[2 * sizeof(c->groups)];

	when(c->registered_ms, reg, "-");
	when(c->last_sync_ms, sync, "never");
	when(c->last_report_ms, rep, "never");
	printf("computer:      %s\n", c->computer_id);
	printf("name:          %s\n", c->name[0] ? c->name : "-");
	printf("ip address:    %s\n", c->ip[0] ? c->ip : "-");
	printf("os:            %s%s%s\n", c->os, c->arch[0] ? " " : "", c->arch);
	printf("make/model:    %s %s\n", c->make[0] ? c->make : "-", c->model[0] ? c->model : "-");
	printf("client:        %s\n", c->client_version[0] ? c->client_version : "-");
	printf("groups:        %s\n", groups_text(c->groups, groups, sizeof(groups)));
	printf("requested:     %s\n", c->requested[0] ? c->requested : "-");
	if (c->parent_id[0])
		printf("via:           %s (%s)\n", c->parent_name[0] ? c->parent_name : "-", c->parent_id);
	else
		printf("via:           registered here\n");
	printf("registered:    %s\n", reg);
	printf("last sync:     %s (%s)\n", sync, sync_result_name(c->last_sync_result));
	printf("last report:   %s\n", rep);
	printf("updates:       %lld needed, %lld downloaded, %lld installed, %lld pending reboot, %lld failed, "
	       "%lld not applicable, %lld unknown\n", (long long)c->by_status[2], (long long)c->by_status[3],
	       (long long)c->by_status[4], (long long)c->by_status[6], (long long)c->by_status[5],
	       (long long)c->by_status[1], (long long)c->by_status[0]);
	printf("  %-25s %-24s %-24s %6s %-10s  %-36s  %s\n", "STATE", "CHANGED", "LAST EVENT", "EVENT",
	       "HRESULT", "UPDATE ID", "TITLE");
}

static int computer_show(struct cli *c, int argc, char **argv)
{
	static const char synopsis[] = "computer show ID|NAME [--json]";
	struct storage_computer_row *row = malloc(sizeof(*row));
	struct show_out o = { 0 };
	struct storage *st = NULL;
	struct err e = { 0 };
	const char *who = NULL;
	int rc;

	if (row == NULL)
		return cli_fail("out of memory");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			o.json = 1;
		else if (who == NULL && argv[i][0] != '-' && argv[i][0] != '\0')
			who = argv[i];
		else
			who = "";
	}
	if (who == NULL || who[0] == '\0') {
		free(row);
		return cli_usage(synopsis);
	}
	if (cli_open_storage_ro(c, &st) < 0) {
		free(row);
		return CLI_FAIL;
	}
	rc = storage_computer_find(st, who, row, &e);
	if (rc == 0) {
		if (o.json) {
			printf("{\n  \"computer\": ");
			json_computer(row);
			printf(",\n  \"updates\": [");
		} else {
			print_show_text(row);
		}
		rc = storage_computer_updates(st, row->computer_id, print_update, &o, &e);
		if (o.json)
			printf("%s]\n}\n", o.n ? "\n  " : "");
	}
	storage_close(st);
	free(row);
	return rc < 0 ? cli_fail("%s", e.msg) : CLI_OK;
}

int cmd_computer(struct cli *c, int argc, char **argv)
{
	static const char synopsis[] =
		"computer list [--group NAME] [--needing] [--failed] [--stale DAYS] [--json] | "
		"computer show ID|NAME [--json]";

	if (argc < 2)
		return cli_usage(synopsis);
	if (strcmp(argv[1], "list") == 0)
		return computer_list(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return computer_show(c, argc - 1, argv + 1);
	return cli_usage(synopsis);
}
