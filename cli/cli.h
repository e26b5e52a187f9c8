/*
 * cli.h -- what the subcommands of wsus-replica share: the parsed global
 * options, the loaded configuration, and small output helpers. Each
 * subcommand lives in its own cmd_<name>.c and returns the process exit
 * status (0 success, 1 failure after one clear line on stderr, 2 usage).
 */
#ifndef WSUS_CLI_H
#define WSUS_CLI_H

#include <stdio.h>

#include "common.h"
#include "config.h"
#include "storage.h"

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

struct cli {
	struct wsus_config *cfg;   /* loaded config (or the embedded default) */
	const char *prog;          /* argv[0] for messages */
};

/* Print "wsus-replica: <message>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error for a subcommand; returns CLI_USAGE. */
int cli_usage(const char *synopsis);
/* Open the storage named by the configuration; prints the reason on failure. */
int cli_open_storage(struct cli *c, struct storage **st);
/* Write s as a JSON string literal (with quotes) to f. */
void cli_json_str(FILE *f, const char *s);

/* The subcommands: argv[0] is the subcommand name. */
int cmd_import(struct cli *c, int argc, char **argv);
int cmd_approve(struct cli *c, int argc, char **argv);
int cmd_decline(struct cli *c, int argc, char **argv);
int cmd_group(struct cli *c, int argc, char **argv);
int cmd_catalog(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_sync(struct cli *c, int argc, char **argv);
int cmd_pin(struct cli *c, int argc, char **argv);
int cmd_scan(struct cli *c, int argc, char **argv);

#endif /* WSUS_CLI_H */
