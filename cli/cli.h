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
	const char *cfg_path;      /* the config file read, NULL = embedded default (SIGHUP re-reads it) */
	const char *data_dir_arg;  /* -d DATADIR, NULL = from the config */
	int verbosity_fixed;       /* -v/-q given: SIGHUP keeps the log level */
};

/* Print "wsus-replica: <message>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error for a subcommand; returns CLI_USAGE. */
int cli_usage(const char *synopsis);
/* Open the storage named by the configuration; prints the reason on failure. */
int cli_open_storage(struct cli *c, struct storage **st);
/* Open the existing database read-only (reporting commands): creates and
 * migrates nothing; prints the reason on failure. */
int cli_open_storage_ro(struct cli *c, struct storage **st);
/* A front end of a site ([server] shared_secret_file): give the database
 * the site's ServerID before serving or syncing (0, or CLI_FAIL printed). */
int cli_adopt_site(struct cli *c);
/* Defaults of this build: the system config read without -c (NULL in the
 * development build) and the data directory. */
const char *cli_default_config(void);
const char *cli_default_data_dir(void);
/* notify.c: systemd's NOTIFY_SOCKET ("READY=1", "STOPPING=1"); 0 without systemd. */
int cli_notify(const char *state);
int cli_notify_reloading(void);
/* cmd_help.c */
void cli_print_usage(FILE *f);
int cli_print_command_help(const char *name);
void cli_print_version(FILE *f);

/* Write s as a JSON string literal (with quotes) to f. */
void cli_json_str(FILE *f, const char *s);

/* The subcommands: argv[0] is the subcommand name. */
int cmd_import(struct cli *c, int argc, char **argv);
int cmd_approve(struct cli *c, int argc, char **argv);
int cmd_decline(struct cli *c, int argc, char **argv);
int cmd_group(struct cli *c, int argc, char **argv);
int cmd_catalog(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_computer(struct cli *c, int argc, char **argv);
int cmd_report(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_reset(struct cli *c, int argc, char **argv);
int cmd_cleanup(struct cli *c, int argc, char **argv);
/* cmd_cleanup.c: the cleanup pass once a day inside serve (a thread with
 * its own storage handle; cfg must outlive it). */
struct cli_cleanup_daily;
int cli_cleanup_daily_start(const struct wsus_config *cfg, struct cli_cleanup_daily **out, struct err *e);
void cli_cleanup_daily_stop(struct cli_cleanup_daily *d);
/* cmd_verify.c: verify --repair (also `reset`). */
int cli_verify_repair(struct cli *c);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_sync(struct cli *c, int argc, char **argv);
/* cmd_sync_history.c: `sync history` (cmd_sync hands it argv from "history") */
int cmd_sync_history(struct cli *c, int argc, char **argv);
int cmd_pin(struct cli *c, int argc, char **argv);
int cmd_scan(struct cli *c, int argc, char **argv);
int cmd_migrate(struct cli *c, int argc, char **argv);
int cmd_backup(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_import_bundle(struct cli *c, int argc, char **argv);
int cmd_help(struct cli *c, int argc, char **argv);

#endif /* WSUS_CLI_H */
