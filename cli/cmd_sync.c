/*
 * cmd_sync.c -- `sync`: one sync with the configured upstream now, then
 * exit. 0 when the metadata was published (content and rollup problems are
 * reported, they are retried by the next sync); 1 with one line on stderr
 * saying why otherwise, in which case nothing was published and the next
 * sync resumes. A progress line is drawn when stderr is a terminal.
 * Every run, failed ones too, is recorded: `sync history`
 * (cmd_sync_history.c) shows them.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sync.h"

int cmd_sync(struct cli *c, int argc, char **argv)
{
	struct sync_options opt = { 0 };
	struct sync_result r;
	struct err e = { 0 };
	int rc;

	if (argc >= 2 && strcmp(argv[1], "history") == 0)
		return cmd_sync_history(c, argc - 1, argv + 1);
	if (argc != 1)
		return cli_usage("sync | sync history [--limit N] [--json]");
	if (c->cfg->up_url == NULL)
		return cli_fail("no upstream configured: set [upstream] url in the configuration file (-c FILE)");
	if (cli_adopt_site(c) != 0)
		return CLI_FAIL;
	opt.progress = isatty(STDERR_FILENO);
	rc = sync_run(c->cfg, &opt, &r, &e);
	if (rc < 0)
		return cli_fail("sync with %s failed during %s: %s", c->cfg->up_url, r.phase, e.msg);
	printf("synced from %s: %zu new and %zu changed revisions (%zu listed, %zu fetched in %zu batches,"
	       " %zu resumed)\n", c->cfg->up_url, r.published_new, r.published_changed, r.listed, r.fetched,
	       r.batches, r.resumed);
	if (c->cfg->up_mode == WSUS_MODE_REPLICA)
		printf("deployments: %zu added or changed, %zu retired; %zu groups; %zu decline changes\n",
		       r.deployments, r.deployments_dead, r.groups, r.hidden);
	printf("content: %zu of %zu payloads fetched, %zu quarantined, %zu deferred, %zu failed\n",
	       r.files_fetched, r.files_wanted, r.files_quarantined, r.files_deferred, r.files_failed);
	if (r.window_closed)
		printf("content: the rest waits for [sync] window %s (opens in %llds)\n", c->cfg->sy_window,
		       (long long)(r.window_opens_ms / 1000));
	if (r.files_quarantined > 0)
		fprintf(stderr, "wsus-replica: %zu payloads from the upstream failed verification and were"
			" quarantined (not served)\n", r.files_quarantined);
	return CLI_OK;
}
