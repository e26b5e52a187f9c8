/*
 * cmd_verify.c -- `verify`: re-hash every payload in the content store
 * against the catalogue digests; whatever does not match is moved to
 * quarantine and stops being served. Exit 1 when anything was quarantined.
 */
#include "cli.h"

int cmd_verify(struct cli *c, int argc, char **argv)
{
	struct storage_verify_result r = { 0 };
	struct storage *st = NULL;
	struct err e = { 0 };
	int rc;

	(void)argv;
	if (argc != 1)
		return cli_usage("verify");
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
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
