/*
 * cmd_group.c -- `group add NAME [--parent NAME]` and `group list`: the
 * computer target groups approvals are made for.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static int print_group(const char *group_id, const char *name, const char *parent, int builtin,
		       void *ctx)
{
	(void)ctx;
	printf("%-36s  %-30s  %-30s%s\n", group_id, name, parent ? parent : "-",
	       builtin ? "  (built in)" : "");
	return 0;
}

int cmd_group(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static const char synopsis[] = "group add NAME [--parent NAME] | group list";
	struct storage *st = NULL;
	struct err e = { 0 };
	const char *parent = NULL;
	int rc, opt;

	if (argc < 2)
		return cli_usage(synopsis);
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 2)
			return cli_usage(synopsis);
		if (cli_open_storage_ro(c, &st) < 0)
			return CLI_FAIL;
		printf("%-36s  %-30s  %-30s\n", "GROUP ID", "NAME", "PARENT");
		rc = storage_group_foreach(st, print_group, NULL, &e);
		storage_close(st);
		return rc < 0 ? cli_fail("%s", e.msg) : CLI_OK;
	}
	if (strcmp(argv[1], "add") != 0)
		return cli_usage(synopsis);
	/* Parse from "add" on: optind = 0 re-initialises getopt for the new vector. */
	argc--;
	argv++;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
		if (opt != 'p')
			return cli_usage(synopsis);
		parent = optarg;
	}
	if (optind != argc - 1 || argv[optind][0] == '\0')
		return cli_usage(synopsis);
	if (strlen(argv[optind]) > 256)
		return cli_fail("group name longer than 256 characters");
	if (c->cfg->up_url != NULL && c->cfg->up_mode == WSUS_MODE_REPLICA)
		return cli_fail("this server is a replica of %s: target groups come from upstream",
				c->cfg->up_url);
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	rc = storage_group_add(st, argv[optind], parent, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	printf("added group %s%s%s\n", argv[optind], parent ? " under " : "", parent ? parent : "");
	return CLI_OK;
}
