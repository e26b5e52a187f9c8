/*
 * cmd_import_bundle.c -- `import-bundle BUNDLE [--signer PUBKEY.pem]`: take
 * a signed air-gap bundle written by `export` on another server (issue
 * 13.5; sync/sync_bundle.c does the work). Without --signer the bundle must
 * be signed by a key in [trust] bundle_signers. 0 when the catalogue was
 * published; 1 with one line on stderr when the bundle is refused (tampered,
 * unsigned, unknown signer, replayed or older) or the import failed, in
 * which case nothing changed. Works without an upstream (air-gapped tier).
 */
#include <string.h>

#include "cli.h"
#include "sync.h"

int cmd_import_bundle(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "import-bundle BUNDLE [--signer PUBKEY.pem]";
	struct sync_bundle_options opt = { 0 };
	struct sync_bundle_result r;
	struct err e = { 0 };
	const struct sync_result *s = &r.sync;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--signer") == 0 && i + 1 < argc)
			opt.signer = argv[++i];
		else if (argv[i][0] != '-' && opt.path == NULL)
			opt.path = argv[i];
		else
			return cli_usage(usage);
	}
	if (opt.path == NULL)
		return cli_usage(usage);
	if (sync_bundle_import(c->cfg, &opt, &r, &e) < 0) {
		if (!s->published)
			return cli_fail("bundle %s refused, nothing changed: %s", opt.path, e.msg);
		return cli_fail("bundle %s: catalogue published, then %s failed: %s", opt.path, s->phase, e.msg);
	}
	printf("imported bundle %s from server %s (sequence %llu, anchor %lld, since %lld) signed by %s\n", opt.path,
	       r.exporter, (unsigned long long)r.sequence, (long long)r.anchor, (long long)r.since, r.signer);
	printf("revisions: %zu in the bundle, %zu new, %zu changed\n", r.revisions, s->published_new,
	       s->published_changed);
	if (c->cfg->up_mode == WSUS_MODE_REPLICA)
		printf("deployments: %zu added or changed, %zu retired; %zu groups; %zu decline changes\n",
		       s->deployments, s->deployments_dead, s->groups, s->hidden);
	printf("content: %zu payloads in the bundle, %zu stored, %zu already present or not catalogued,"
	       " %zu quarantined\n", r.payloads, r.payloads_stored, r.payloads_skipped, r.payloads_quarantined);
	if (r.payloads_quarantined > 0)
		fprintf(stderr, "wsus-replica: %zu payloads of the bundle failed verification and were quarantined"
			" (not served)\n", r.payloads_quarantined);
	return CLI_OK;
}
