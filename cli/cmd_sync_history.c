/*
 * cmd_sync_history.c -- `sync history [--limit N] [--json]`: the newest sync
 * runs (default SYNC_HISTORY_DEFAULT, newest first), failed ones included:
 * when, how long, from which upstream, the pin verdict, new and changed
 * revisions, payload bytes fetched, and the error of a failed run. Reads the
 * database read-only. The JSON keys are a stable interface (README).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SYNC_HISTORY_DEFAULT 20
#define SYNC_HISTORY_MAX     100000
#define SYNC_HISTORY_SYNOPSIS "sync history [--limit N] [--json]"

struct history_out {
	int json;
	int n;
};

static void iso_or_empty(int64_t ms, char out[32])
{
	if (ms > 0)
		wsus_time_iso(ms, out);
	else
		out[0] = '\0';
}

static double seconds(const struct storage_sync_record *r)
{
	return r->finished_ms > r->started_ms ? (double)(r->finished_ms - r->started_ms) / 1000.0 : 0;
}

static void print_json_row(const struct storage_sync_record *r, int first)
{
	char started[32], finished[32];

	iso_or_empty(r->started_ms, started);
	iso_or_empty(r->finished_ms, finished);
	printf("%s\n    {\"id\": %lld, \"started\": ", first ? "" : ",", (long long)r->id);
	cli_json_str(stdout, started);
	printf(", \"finished\": ");
	cli_json_str(stdout, finished);
	printf(", \"duration_seconds\": %.3f, \"upstream\": ", seconds(r));
	cli_json_str(stdout, r->upstream);
	printf(", \"cert_sha256\": ");
	cli_json_str(stdout, r->cert_sha256);
	printf(", \"pin_verdict\": ");
	cli_json_str(stdout, r->pin_verdict);
	printf(", \"result\": \"%s\", \"new_revisions\": %lld, \"changed_revisions\": %lld, "
	       "\"content_bytes\": %lld, \"error\": ", r->error[0] ? "failed" : "succeeded",
	       (long long)r->new_revisions, (long long)r->changed_revisions, (long long)r->content_bytes);
	if (r->error[0])
		cli_json_str(stdout, r->error);
	else
		fputs("null", stdout);
	fputc('}', stdout);
}

static void print_text_row(const struct storage_sync_record *r)
{
	char started[32];

	iso_or_empty(r->started_ms, started);
	printf("%-24s  %8.1f  %-9s  %6lld  %7lld  %13lld  %s\n", started, seconds(r),
	       r->error[0] ? "failed" : "succeeded", (long long)r->new_revisions,
	       (long long)r->changed_revisions, (long long)r->content_bytes, r->upstream);
	if (r->pin_verdict[0])
		printf("  pin: %s\n", r->pin_verdict);
	if (r->error[0])
		printf("  error: %s\n", r->error);
}

static int print_row(const struct storage_sync_record *r, void *ctx)
{
	struct history_out *o = ctx;

	if (o->json) {
		print_json_row(r, o->n == 0);
	} else {
		if (o->n == 0)
			printf("%-24s  %8s  %-9s  %6s  %7s  %13s  %s\n", "STARTED", "SECONDS", "RESULT", "NEW",
			       "CHANGED", "CONTENT_BYTES", "UPSTREAM");
		print_text_row(r);
	}
	o->n++;
	return 0;
}

static int parse_limit(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > SYNC_HISTORY_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

int cmd_sync_history(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'n' }, { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
	};
	struct history_out o = { 0 };
	struct storage *st = NULL;
	struct err e = { 0 };
	int limit = SYNC_HISTORY_DEFAULT, ch, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			o.json = 1;
		else if (ch == 'n' && parse_limit(optarg, &limit) == 0)
			continue;
		else
			return cli_usage(SYNC_HISTORY_SYNOPSIS);
	}
	if (optind != argc)
		return cli_usage(SYNC_HISTORY_SYNOPSIS);
	if (cli_open_storage_ro(c, &st) < 0)
		return CLI_FAIL;
	if (o.json)
		printf("{\n  \"sync_runs\": [");
	rc = storage_sync_history_foreach(st, limit, print_row, &o, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	if (o.json)
		printf("%s]\n}\n", o.n ? "\n  " : "");
	else if (o.n == 0)
		printf("no sync runs recorded\n");
	return CLI_OK;
}
