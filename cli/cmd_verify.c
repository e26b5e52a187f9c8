/*
 * cmd_verify.c -- `verify`, `verify --repair`, `verify --metadata` and
 * `reset`.
 *
 * `verify` is a read-only check: it opens the database read-only (never
 * creates, migrates or writes it), re-hashes every stored payload against
 * the catalogue digests, and prints one line per problem (CORRUPT: the bytes
 * do not match; LOST: recorded as stored, the file is gone) and a summary.
 * Exit 1 when anything is corrupt or lost.
 *
 * `verify --repair` does the same check writing: a corrupt file goes to
 * quarantine (it stops being served), a good file the catalogue had not
 * recorded is adopted, corrupt and lost payloads are marked missing; then,
 * with an upstream configured, the content phase runs at once (under the
 * sync lock, [sync] max_download_rate applies, [sync] window does not: the
 * admin asked now) and fetches them again, together with every quarantined
 * payload (not only those that failed a day ago, as a sync would). Exit 1
 * when something is still not stored in good shape afterwards.
 *
 * `reset` is `verify --repair` under the name wsusutil gives it: re-verify
 * every payload, re-download what fails or is missing.
 *
 * `verify --metadata`: re-hash every stored update document against the
 * digests recorded when it was synced or imported (a change behind the
 * server's back, e.g. an edited database); each mismatch is listed. Exit 1
 * when any document differs. Read-only as well.
 */
#include <string.h>

#include "cli.h"
#include "sync.h"

static void print_bad_doc(const char *update_id, int revision, const char *why, void *ctx)
{
	(void)ctx;
	printf("MISMATCH %s/%d: %s\n", update_id, revision, why);
}

static int verify_metadata(struct storage *st)
{
	struct err e = { 0 };
	int64_t checked = 0, bad = 0;
	int rc = storage_verify_metadata(st, print_bad_doc, NULL, &checked, &bad, &e);

	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	printf("verified %lld update documents: %lld match their recorded digests, %lld differ\n",
	       (long long)checked, (long long)(checked - bad), (long long)bad);
	if (bad > 0)
		return cli_fail("%lld update documents differ from what was synced or imported", (long long)bad);
	return CLI_OK;
}

static void print_problem(void *ctx, const char *kind, const char *sha1_hex, const char *path, const char *detail)
{
	(void)ctx;
	printf("%s %s %s: %s\n", strcmp(kind, "lost") == 0 ? "LOST" : "CORRUPT", sha1_hex, path, detail);
}

/* The read-only check. */
static int verify_check(struct cli *c)
{
	struct storage_verify_result r = { 0 };
	struct storage *st = NULL;
	struct err e = { 0 };
	int rc;

	if (cli_open_storage_ro(c, &st) < 0)
		return CLI_FAIL;
	rc = storage_content_verify(st, 0, print_problem, NULL, &r, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	printf("verified %lld payloads: %lld good, %lld corrupt, %lld lost, %lld not stored yet\n",
	       (long long)r.checked, (long long)r.ok, (long long)r.corrupt, (long long)r.lost,
	       (long long)r.missing);
	if (r.corrupt + r.lost > 0)
		return cli_fail("%lld payloads are corrupt and %lld lost: `verify --repair` quarantines and "
				"fetches them again", (long long)r.corrupt, (long long)r.lost);
	return CLI_OK;
}

/* Fetch what the repair left missing, and the quarantined payloads. */
static int refetch(struct cli *c, int *fetched_all)
{
	struct sync_options opt = { .retry_quarantined = 1, .ignore_window = 1 };
	struct sync_result r;
	struct err e = { 0 };

	*fetched_all = 0;
	if (c->cfg->up_url == NULL) {
		printf("no upstream configured: nothing fetched again\n");
		return 0;
	}
	if (sync_content_run(c->cfg, &opt, &r, &e) < 0)
		return cli_fail("fetching payloads again from %s failed: %s", c->cfg->up_url, e.msg);
	printf("fetched again from %s: %zu of %zu payloads, %zu quarantined, %zu deferred, %zu failed\n",
	       c->cfg->up_url, r.files_fetched, r.files_wanted, r.files_quarantined, r.files_deferred,
	       r.files_failed);
	*fetched_all = r.files_fetched == r.files_wanted;
	return 0;
}

int cli_verify_repair(struct cli *c)
{
	struct storage_verify_result r = { 0 };
	struct storage *st = NULL;
	struct err e = { 0 };
	int rc, all = 0;

	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	rc = storage_content_verify(st, 1, print_problem, NULL, &r, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	printf("verified %lld payloads: %lld good, %lld quarantined, %lld lost\n", (long long)r.checked,
	       (long long)r.ok, (long long)r.quarantined, (long long)r.lost);
	if (refetch(c, &all) != 0)
		return CLI_FAIL;
	if (r.quarantined + r.lost > 0 && !all)
		return cli_fail("%lld payloads were quarantined or lost and are not all stored again yet",
				(long long)(r.quarantined + r.lost));
	return CLI_OK;
}

int cmd_verify(struct cli *c, int argc, char **argv)
{
	struct storage *st = NULL;

	if (argc == 1)
		return verify_check(c);
	if (argc == 2 && strcmp(argv[1], "--repair") == 0)
		return cli_verify_repair(c);
	if (argc != 2 || strcmp(argv[1], "--metadata") != 0)
		return cli_usage("verify [--repair | --metadata]");
	if (cli_open_storage_ro(c, &st) < 0)
		return CLI_FAIL;
	return verify_metadata(st);
}
