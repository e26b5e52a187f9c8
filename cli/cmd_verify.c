/*
 * cmd_verify.c -- `verify`: re-hash every payload in the content store
 * against the catalogue digests; whatever does not match is moved to
 * quarantine and stops being served. Exit 1 when anything was quarantined.
 *
 * `verify --metadata`: re-hash every stored update document against the
 * digests recorded when it was synced or imported (a change behind the
 * server's back, e.g. an edited database); each mismatch is listed. Exit 1
 * when any document differs.
 */
#include <string.h>

#include "cli.h"

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

int cmd_verify(struct cli *c, int argc, char **argv)
{
	struct storage_verify_result r = { 0 };
	struct storage *st = NULL;
	struct err e = { 0 };
	int rc, metadata = argc == 2 && strcmp(argv[1], "--metadata") == 0;

	if (argc != 1 && !metadata)
		return cli_usage("verify [--metadata]");
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	if (metadata)
		return verify_metadata(st);
	rc = storage_content_verify(st, &r, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	printf("verified %lld payloads: %lld good, %lld quarantined, %lld missing\n",
	       (long long)r.checked, (long long)r.ok, (long long)r.quarantined, (long long)r.missing);
	if (r.quarantined > 0)
		return cli_fail("%lld payloads did not match their metadata and were quarantined",
				(long long)r.quarantined);
	return CLI_OK;
}
