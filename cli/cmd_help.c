/*
 * cmd_help.c -- what wsus-replica says about itself: `--help`, `help
 * [COMMAND]`, `COMMAND --help` and `--version`. One table holds each
 * subcommand's synopsis and description; main.c dispatches from the same
 * names. Help goes to stdout and exits 0; a usage error is one line on
 * stderr and exit 2.
 */
#include <string.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <libxml/xmlversion.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "cli.h"

#ifndef WSUS_VERSION
#define WSUS_VERSION "0"
#endif
#ifndef WSUS_GIT_REV
#define WSUS_GIT_REV "unknown"
#endif

struct cmd_help {
	const char *name;
	const char *synopsis;  /* after "wsus-replica " */
	const char *text;      /* what it does, options; lines indented by two */
};

static const struct cmd_help helps[] = {
	{ "import", "import DIR [--keep-going]",
	  "  Load DIR/*.xml (one <Update> document each, as GetUpdateData delivers them)\n"
	  "  and DIR/content/* (payloads named by SHA-1 hex). All or nothing unless\n"
	  "  --keep-going, which skips and lists what is bad. Migrates the database.\n" },
	{ "approve", "approve UPDATEID[:REV] --group NAME --action install|uninstall|block|evaluate "
		     "[--deadline ISO8601]",
	  "  Approve an update for a computer group (refused on a replica).\n" },
	{ "decline", "decline UPDATEID",
	  "  Decline an update: clients are no longer offered it (refused on a replica).\n" },
	{ "group", "group add NAME [--parent NAME] | group list",
	  "  Create or list computer target groups (add is refused on a replica).\n" },
	{ "catalog", "catalog list | catalog show UPDATEID | catalog fragment UPDATEID REV KIND [LANG]",
	  "  Read the catalogue (read-only: works as any user who can read the data).\n"
	  "  KIND is core, extended, localized LANG or eula LANG: the fragment exactly as\n"
	  "  a client receives it.\n" },
	{ "status", "status [--json]",
	  "  Catalogue counts, approvals, content coverage, schema version, last syncs,\n"
	  "  provenance and downstream servers. Read-only: never creates or migrates a\n"
	  "  database; fails with one line when the data directory is missing.\n" },
	{ "computer", "computer list [--group NAME] [--needing] [--failed] [--stale DAYS] [--json] | "
		      "computer show ID|NAME [--json]",
	  "  The computers this server knows: its own and those rolled up from downstream\n"
	  "  servers (VIA: the server they came through). --needing: an update needed or\n"
	  "  downloaded; --failed: an update failed; --stale DAYS: no sync for DAYS days.\n"
	  "  show: groups, last sync and report, OS, each update's state and last event.\n"
	  "  Read-only.\n" },
	{ "report", "report updates [--needed] [--failed] [--json] | report summary [--json]",
	  "  updates: each update a computer reported on, with the computers that need it,\n"
	  "  downloaded, installed, failed, found it not applicable or have no state.\n"
	  "  summary: the overview (computers needing updates, with errors, up to date;\n"
	  "  updates approved, needed, failing; the last sync). Read-only.\n" },
	{ "verify", "verify [--repair | --metadata]",
	  "  Re-hash the content store and list corrupt and lost payloads (read-only).\n"
	  "  --repair quarantines what fails and fetches it (and quarantined payloads)\n"
	  "  again from the upstream. --metadata re-checks the stored update documents.\n" },
	{ "cleanup", "cleanup [--dry-run]",
	  "  The cleanup wizard (also daily inside serve): remove expired computers and\n"
	  "  unreferenced payloads, decline unneeded updates ([cleanup] decline_unneeded,\n"
	  "  autonomous only), trim client events, compact the database. --dry-run lists.\n" },
	{ "reset", "reset",
	  "  As wsusutil reset: re-verify every payload, download again what fails.\n" },
	{ "serve", "serve [--listen ADDR:PORT]",
	  "  HTTPS front end until SIGTERM/SIGINT; scheduled syncs with an upstream; the\n"
	  "  admin listener ([admin] listen: /health, /metrics, status page). SIGHUP\n"
	  "  re-reads the configuration, pin store, TLS certificate and key,\n"
	  "  client_cert_allow and log level. Tells systemd READY/RELOADING/STOPPING.\n" },
	{ "sync", "sync | sync history [--limit N] [--json]",
	  "  One sync with the configured upstream now, then exit: 0 when published, else\n"
	  "  1 and one line on stderr (the log lines with -v). Every run is recorded.\n"
	  "  history: the newest N runs (default 20), failed ones included: start,\n"
	  "  duration, result, new and changed revisions, payload bytes, upstream, pin\n"
	  "  verdict and error; read-only. --json: the stable form (README).\n" },
	{ "pin", "pin add FILE | pin list | pin remove SHA256 | pin check",
	  "  Manage the pin store ([trust] pin_store). check: a real handshake with the\n"
	  "  upstream, the presented chain and the verdict a sync would get.\n" },
	{ "scan", "scan --server URL [--ca FILE] [--group NAME] [--download DIR] [--json] "
		  "[--client-id ID|new] [--installed-nonleaf all|none|IDs] [--hwid ID]... "
		  "[--no-drivers] [--no-report] [--pins DIR] [--locale LANG] [--dns-name NAME] "
		  "[--allow-http-content]",
	  "  Act as a Windows Update client against any server (ours or a Windows WSUS):\n"
	  "  what it is offered, optional download with digest checks, and a report.\n" },
	{ "migrate", "migrate",
	  "  Create the database or bring its schema up to this build's version. serve,\n"
	  "  sync and import do this too; read-only commands never do.\n" },
	{ "backup", "backup FILE",
	  "  Copy the database to FILE (0600) with SQLite's online backup API: a\n"
	  "  consistent snapshot, also while serve runs. Restore: stop the service, copy\n"
	  "  FILE to DATADIR/wsus.db (remove wsus.db-wal and wsus.db-shm), start it.\n"
	  "  Payloads under content/ are not in it (they are re-fetched or re-imported).\n" },
	{ "export", "export BUNDLE --key KEY.pem [--since ANCHOR] [--content]",
	  "  Write the catalogue (revisions with provenance, groups, deployments, declines,\n"
	  "  EULAs; with --content the payloads present here) to BUNDLE, signed with the\n"
	  "  Ed25519 private key KEY.pem (openssl genpkey -algorithm ed25519 -out KEY.pem).\n"
	  "  --since ANCHOR: only what changed after that catalogue anchor (printed by\n"
	  "  the previous export). Every export gets a higher sequence number.\n" },
	{ "import-bundle", "import-bundle BUNDLE [--signer PUBKEY.pem]",
	  "  Verify BUNDLE's signature (with PUBKEY.pem, else the keys in [trust]\n"
	  "  bundle_signers) and every member's digest before reading it, refuse a\n"
	  "  replayed or older one, then publish it like a sync (all or nothing) and\n"
	  "  store its payloads after digest checks. Needs no upstream.\n" },
	{ "help", "help [COMMAND]",
	  "  This text, or one command's.\n" },
};

#define N_HELPS (sizeof(helps) / sizeof(helps[0]))

static const struct cmd_help *find_help(const char *name)
{
	for (size_t i = 0; i < N_HELPS; i++)
		if (strcmp(helps[i].name, name) == 0)
			return &helps[i];
	return NULL;
}

void cli_print_usage(FILE *f)
{
	fputs("usage: wsus-replica [-c FILE] [-d DATADIR] [-v|-q] COMMAND [ARGS]\n"
	      "       wsus-replica --help | --version | help COMMAND | COMMAND --help\n\ncommands:\n", f);
	for (size_t i = 0; i < N_HELPS; i++)
		fprintf(f, "  %s\n", helps[i].synopsis);
	fprintf(f, "\noptions:\n"
		"  -c FILE     configuration file (default: %s)\n"
		"  -d DATADIR  data directory (overrides [storage] data_dir; default %s)\n"
		"  -v / -q     more / less logging on stderr (one-shot commands log only with -v)\n"
		"  --version   version, git revision and library versions\n"
		"exit status: 0 success, 1 failure (one line on stderr), 2 usage error\n",
		cli_default_config() ? cli_default_config() : "the embedded default, no upstream",
		cli_default_data_dir());
}

int cli_print_command_help(const char *name)
{
	const struct cmd_help *h = find_help(name);

	if (h == NULL) {
		fprintf(stderr, "wsus-replica: no command '%s' (see wsus-replica --help)\n", name);
		return CLI_USAGE;
	}
	printf("usage: wsus-replica [GLOBAL OPTIONS] %s\n%s", h->synopsis, h->text);
	return CLI_OK;
}

int cmd_help(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc == 1) {
		cli_print_usage(stdout);
		return CLI_OK;
	}
	if (argc == 2)
		return cli_print_command_help(argv[1]);
	return cli_usage("help [COMMAND]");
}

void cli_print_version(FILE *f)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	fprintf(f, "wsus-replica %s (git %s)%s\n", WSUS_VERSION, WSUS_GIT_REV,
		cli_default_config() ? " installed layout" : "");
	fprintf(f, "sqlite %s, libcurl %s, libmicrohttpd %s, gnutls %s, %s, libxml2 %s\n",
		sqlite3_libversion(), cv ? cv->version : "?", MHD_get_version(),
		gnutls_check_version(NULL), OpenSSL_version(OPENSSL_VERSION), LIBXML_DOTTED_VERSION);
}
