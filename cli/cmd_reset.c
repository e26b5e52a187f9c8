/*
 * cmd_reset.c -- `reset`: what wsusutil reset does on Windows, re-verify
 * every stored payload against the catalogue and download again whatever
 * fails or is missing. It is `verify --repair` (cmd_verify.c) by that name.
 */
#include "cli.h"

int cmd_reset(struct cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cli_usage("reset");
	return cli_verify_repair(c);
}
