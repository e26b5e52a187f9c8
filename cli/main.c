/*
 * main.c -- wsus-replica's entry point: global options, configuration, and a
 * table that dispatches to one function per subcommand (cmd_*.c).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "protocol.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	int daemon;  /* logs at [log] level by default; one-shot commands only with -v */
} commands[] = {
	{ "import", cmd_import, 0 },
	{ "approve", cmd_approve, 0 },
	{ "decline", cmd_decline, 0 },
	{ "group", cmd_group, 0 },
	{ "catalog", cmd_catalog, 0 },
	{ "status", cmd_status, 0 },
	{ "computer", cmd_computer, 0 },
	{ "report", cmd_report, 0 },
	{ "verify", cmd_verify, 0 },
	{ "reset", cmd_reset, 0 },
	{ "cleanup", cmd_cleanup, 0 },
	{ "serve", cmd_serve, 1 },
	{ "sync", cmd_sync, 0 },
	{ "pin", cmd_pin, 0 },
	{ "scan", cmd_scan, 0 },
	{ "migrate", cmd_migrate, 0 },
	{ "backup", cmd_backup, 0 },
	{ "export", cmd_export, 0 },
	{ "import-bundle", cmd_import_bundle, 0 },
	{ "help", cmd_help, 0 },
};

const char *cli_default_config(void)
{
#ifdef WSUS_SYSTEM_CONFIG
	return WSUS_SYSTEM_CONFIG;
#else
	return NULL;
#endif
}

const char *cli_default_data_dir(void)
{
#ifdef WSUS_SYSTEM_DATA_DIR
	return WSUS_SYSTEM_DATA_DIR;
#else
	return "./var";
#endif
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("wsus-replica: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int cli_usage(const char *synopsis)
{
	fprintf(stderr, "usage: wsus-replica %s\n", synopsis);
	return CLI_USAGE;
}

int cli_open_storage_ro(struct cli *c, struct storage **st)
{
	struct err e = { 0 };

	if (storage_open_ro(c->cfg->st_data_dir, c->cfg->st_content_dir, st, &e) < 0) {
		cli_fail("%s", e.msg);
		return -1;
	}
	return 0;
}

int cli_open_storage(struct cli *c, struct storage **st)
{
	struct err e = { 0 };

	if (storage_open(c->cfg->st_data_dir, c->cfg->st_content_dir, st, &e) < 0) {
		cli_fail("%s", e.msg);
		return -1;
	}
	return 0;
}

int cli_adopt_site(struct cli *c)
{
	char id[WSUS_GUID_LEN];
	struct storage *st = NULL;
	struct err e = { 0 };
	int changed = 0;

	if (!c->cfg->srv_site)
		return 0;
	wsus_site_server_id(c->cfg->srv_site_secret, id);
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	if (storage_identity_adopt(st, id, &changed, &e) < 0) {
		storage_close(st);
		return cli_fail("%s", e.msg);
	}
	storage_close(st);
	return 0;
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* `COMMAND --help` (or -h) anywhere before "--" asks for that command's help. */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

struct globals {
	const char *cfg_path, *data_dir;
	int more, quiet;
};

/* Global options given after the command (`status -d DIR`) are taken out of
 * the command's arguments, up to "--". Returns the new argc, or -1 when -c or
 * -d lacks its value. */
static int take_globals(int argc, char **argv, struct globals *g)
{
	int out = 1, i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "-d") == 0)) {
			if (i + 1 >= argc)
				return -1;
			*(argv[i][1] == 'c' ? &g->cfg_path : &g->data_dir) = argv[i + 1];
			i++;
		} else if (strcmp(argv[i], "-v") == 0) {
			g->more++;
		} else if (strcmp(argv[i], "-q") == 0) {
			g->quiet = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	while (i < argc)
		argv[out++] = argv[i++];
	argv[out] = NULL;
	return out;
}

/* Without -c: the installed build reads its system config when it exists. */
static int load_config(const char *cfg_path, const char *data_dir, struct wsus_config **out,
		       struct err *e)
{
	const char *sys = cli_default_config();

	if (cfg_path == NULL && sys != NULL && access(sys, F_OK) == 0)
		cfg_path = sys;
	return cfg_path ? config_load(cfg_path, data_dir, out, e) : config_default(data_dir, out, e);
}

/* serve logs at [log] level (-v/-q move it); one-shot commands print their
 * result and, on failure, one line: their log lines only with -v. */
static int pick_verbosity(int daemon, int more, int quiet, const struct wsus_config *cfg)
{
	int v;

	if (daemon)
		v = quiet ? LOG_WARN : cfg->log_level + more;
	else
		v = quiet || more == 0 ? LOG_SILENT : LOG_INFO + more;
	return v > LOG_DEBUG ? LOG_DEBUG : v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct globals g = { 0 };
	struct cli c = { .prog = argv[0] };
	struct err e = { 0 };
	int opt, rc;
	size_t i;

	opterr = 0;  /* every usage error is our one line */
	while ((opt = getopt_long(argc, argv, "+c:d:vqh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': g.cfg_path = optarg; break;
		case 'd': g.data_dir = optarg; break;
		case 'v': g.more++; break;
		case 'q': g.quiet = 1; break;
		case 'h': cli_print_usage(stdout); return CLI_OK;
		case 'V': cli_print_version(stdout); return CLI_OK;
		default:
			fprintf(stderr, "wsus-replica: bad option '%s' (see wsus-replica --help)\n",
				argv[optind - 1]);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "wsus-replica: no command given (see wsus-replica --help)\n");
		return CLI_USAGE;
	}
	argc -= optind;
	argv += optind;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "wsus-replica: unknown command '%s' (see wsus-replica --help)\n", argv[0]);
		return CLI_USAGE;
	}
	if (wants_help(argc, argv))
		return cli_print_command_help(argv[0]);
	argc = take_globals(argc, argv, &g);
	if (argc < 0) {
		fprintf(stderr, "wsus-replica: -c and -d need a value (see wsus-replica --help)\n");
		return CLI_USAGE;
	}
	if (commands[i].fn == cmd_help)
		return cmd_help(&c, argc, argv);
	log_set_verbosity(commands[i].daemon ? LOG_INFO : LOG_SILENT);
	protocol_xml_init();
	/* A database of an older release gets its fragments derived again on open. */
	storage_set_doc_parser(protocol_update_parse);
	rc = load_config(g.cfg_path, g.data_dir, &c.cfg, &e);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	log_set_verbosity(pick_verbosity(commands[i].daemon, g.more, g.quiet, c.cfg));
	c.cfg_path = c.cfg->cfg_path;
	c.data_dir_arg = g.data_dir;
	c.verbosity_fixed = g.more > 0 || g.quiet;
	/* optind = 0 fully re-initialises GNU getopt for the subcommand, which
	 * parses its own options from argv[1] on (with argument permutation). */
	optind = 0;
	rc = commands[i].fn(&c, argc, argv);
	config_free(c.cfg);
	return rc;
}
