/*
 * main.c -- wsus-replica's entry point: global options, configuration, and a
 * table that dispatches to one function per subcommand (cmd_*.c).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "protocol.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
} commands[] = {
	{ "import", cmd_import },
	{ "approve", cmd_approve },
	{ "decline", cmd_decline },
	{ "group", cmd_group },
	{ "catalog", cmd_catalog },
	{ "status", cmd_status },
	{ "verify", cmd_verify },
	{ "serve", cmd_serve },
	{ "sync", cmd_sync },
	{ "pin", cmd_pin },
	{ "scan", cmd_scan },
};

static void usage(FILE *f)
{
	fputs("usage: wsus-replica [-c FILE] [-d DATADIR] [-v|-q] COMMAND [ARGS]\n"
	      "  import DIR [--keep-going]    load DIR/*.xml update documents and DIR/content/* payloads\n"
	      "  approve UPDATEID[:REV] --group NAME --action install|uninstall|block|evaluate [--deadline ISO8601]\n"
	      "  decline UPDATEID\n"
	      "  group add NAME [--parent NAME] | group list\n"
	      "  catalog list | catalog show UPDATEID\n"
	      "  catalog fragment UPDATEID REV core|extended|localized LANG|eula LANG\n"
	      "  status [--json]              catalogue counts, content coverage, last import/sync\n"
	      "  verify                       re-hash the content store; quarantine what does not match\n"
	      "  serve [--listen ADDR:PORT]   HTTPS front end, until SIGTERM/SIGINT (syncs on schedule with an upstream)\n"
	      "  sync                         one sync with the configured upstream now, then exit\n"
	      "  pin add FILE | pin list | pin remove SHA256 | pin check   (check: the trust verdict a sync would get)\n"
	      "  scan --server URL [--ca FILE] [--group NAME] [--download DIR] [--json] ...\n"
	      "                               act as a Windows Update client against any server; what is offered\n"
	      "options:\n"
	      "  -c FILE     configuration file (default: the embedded default, no upstream)\n"
	      "  -d DATADIR  data directory (default ./var; overrides [storage] data_dir)\n"
	      "  -v / -q     more / less logging on stderr\n", f);
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

int cli_open_storage(struct cli *c, struct storage **st)
{
	struct err e = { 0 };

	if (storage_open(c->cfg->st_data_dir, c->cfg->st_content_dir, st, &e) < 0) {
		cli_fail("%s", e.msg);
		return -1;
	}
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

int main(int argc, char **argv)
{
	const char *cfg_path = NULL, *data_dir = NULL;
	struct cli c = { .prog = argv[0] };
	struct err e = { 0 };
	int opt, verbosity = LOG_INFO, rc;

	while ((opt = getopt(argc, argv, "+c:d:vqh")) != -1) {
		switch (opt) {
		case 'c': cfg_path = optarg; break;
		case 'd': data_dir = optarg; break;
		case 'v': verbosity++; break;
		case 'q': verbosity = LOG_WARN; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	log_set_verbosity(verbosity > LOG_DEBUG ? LOG_DEBUG : verbosity);
	protocol_xml_init();
	/* A database of an older release gets its fragments derived again on open. */
	storage_set_doc_parser(protocol_update_parse);

	rc = cfg_path ? config_load(cfg_path, data_dir, &c.cfg, &e)
		      : config_default(data_dir, &c.cfg, &e);
	if (rc < 0)
		return cli_fail("%s", e.msg);

	argc -= optind;
	argv += optind;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) == 0) {
			/* optind = 0 fully re-initialises GNU getopt for the subcommand, which
			 * parses its own options from argv[1] on (with argument permutation). */
			optind = 0;
			rc = commands[i].fn(&c, argc, argv);
			config_free(c.cfg);
			return rc;
		}
	}
	config_free(c.cfg);
	fprintf(stderr, "wsus-replica: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return CLI_USAGE;
}
