/*
 * cmd_backup.c -- `migrate` (create the database or bring its schema to this
 * build's version, and nothing else) and `backup FILE` (a consistent copy of
 * the database through SQLite's online backup API, safe while serve runs).
 */
#include "cli.h"

int cmd_migrate(struct cli *c, int argc, char **argv)
{
	struct storage *st = NULL;
	int v;

	(void)argv;
	if (argc != 1)
		return cli_usage("migrate");
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	v = storage_schema_version(st);
	storage_close(st);
	printf("database %s/wsus.db at schema version %d\n", c->cfg->st_data_dir, v);
	return CLI_OK;
}

int cmd_backup(struct cli *c, int argc, char **argv)
{
	struct err e = { 0 };

	if (argc != 2 || argv[1][0] == '\0')
		return cli_usage("backup FILE");
	if (storage_backup(c->cfg->st_data_dir, argv[1], &e) < 0)
		return cli_fail("backup: %s", e.msg);
	printf("backed up %s/wsus.db to %s\n", c->cfg->st_data_dir, argv[1]);
	return CLI_OK;
}
