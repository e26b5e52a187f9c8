/*
 * cmd_scan.c -- `scan --server URL [--ca FILE] [--group NAME] [--download DIR]
 * ...`: act as a Windows Update client against any MS-WUSP server (ours or a
 * Windows WSUS) and say what it offers: the client sequence of sync_scan.c,
 * then a table (or --json) of every offered revision, its deployment, title,
 * files and download verdict, and one summary line. Exit 0 only when the
 * whole cycle worked: no fault, every file verified (with --download), the
 * report accepted (unless --no-report). Everything allocated here is freed
 * before returning.
 *
 * Options beyond the DESIGN.md line:
 *   --client-id ID|new   the clientId (default: kept in DATADIR/scan-client-id
 *                        when the data directory exists, so repeated scans are
 *                        one computer; "new": a fresh one, not kept)
 *   --dns-name NAME      RegisterComputer/GetAuthorizationCookie dnsName
 *                        (default scan-<first 8 of the id>.wsus-replica.invalid)
 *   --installed-nonleaf all|none|UPDATEID,...  which offered non-leaf revisions
 *                        (categories, detectoids, prerequisite updates) the client
 *                        says are installed: all (default) sees the whole closure
 *                        of the approvals; none only what has no prerequisites.
 *                        Leaf updates are never reported installed.
 *   --hwid ID            a device for the driver pass (repeat for more)
 *   --no-drivers         skip the driver pass (it is also skipped when the
 *                        server says DriverSyncNotNeeded)
 *   --no-report          no ReportEventBatch
 *   --locale LANG        locale of the titles (default en)
 *   --pins DIR           pin store for the scanned server (default: none, or
 *                        [trust] pin_store when -c names a configuration)
 *   --allow-http-content payloads over http:// (digests still checked)
 *   --json               the stable output: server, client_id, dns_name, group,
 *                        server_protocol_version, max_extended, software_pages,
 *                        driver_pages, driver_pass (done|not-needed|skipped),
 *                        extended_calls, requests, recoveries, updates[] (revision_id,
 *                        update_id, revision, type, kind, bundle, leaf,
 *                        installed_reported, driver_pass, out_of_scope,
 *                        deployment_id, action, deadline, assigned, title,
 *                        files[] of SHA-1 hex), files[] (sha1, sha256, name,
 *                        size, url, state listed|verified|failed, received, why),
 *                        summary, downloaded, report {sent, accepted, events},
 *                        fault (null or {code, message, operation}), ok.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "protocol.h"
#include "sync.h"

#define SCAN_SYNOPSIS "scan --server URL [--ca FILE] [--group NAME] [--download DIR] [--client-id ID|new]\n" \
	"       [--dns-name NAME] [--installed-nonleaf all|none|UPDATEID,...] [--hwid ID]... [--no-drivers]\n" \
	"       [--no-report] [--locale LANG] [--pins DIR] [--allow-http-content] [--json]"
#define SCAN_ID_FILE "scan-client-id"

struct scan_args {
	const char *server, *ca, *group, *download, *client_id, *dns_name, *locale, *pins;
	const char *nonleaf;
	const char *hwids[SYNC_SCAN_MAX_HWIDS];
	size_t n_hwids;
	int no_drivers, no_report, json, allow_http;
};

struct scan_counts {
	size_t offered, software, bundles, catdet, drivers, out_of_scope;
	size_t files, verified, failed;
};

/*---- Options ----*/

static int parse_args(int argc, char **argv, struct scan_args *a)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' }, { "ca", required_argument, NULL, 'a' },
		{ "group", required_argument, NULL, 'g' }, { "download", required_argument, NULL, 'D' },
		{ "client-id", required_argument, NULL, 'i' }, { "dns-name", required_argument, NULL, 'n' },
		{ "installed-nonleaf", required_argument, NULL, 'I' }, { "hwid", required_argument, NULL, 'H' },
		{ "no-drivers", no_argument, NULL, 'R' }, { "no-report", no_argument, NULL, 'P' },
		{ "locale", required_argument, NULL, 'l' }, { "pins", required_argument, NULL, 'p' },
		{ "allow-http-content", no_argument, NULL, 'h' }, { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof(*a));
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': a->server = optarg; break;
		case 'a': a->ca = optarg; break;
		case 'g': a->group = optarg; break;
		case 'D': a->download = optarg; break;
		case 'i': a->client_id = optarg; break;
		case 'n': a->dns_name = optarg; break;
		case 'I': a->nonleaf = optarg; break;
		case 'H':
			if (a->n_hwids == SYNC_SCAN_MAX_HWIDS) {
				cli_fail("scan: at most %d --hwid", SYNC_SCAN_MAX_HWIDS);
				return -1;
			}
			a->hwids[a->n_hwids++] = optarg;
			break;
		case 'R': a->no_drivers = 1; break;
		case 'P': a->no_report = 1; break;
		case 'l': a->locale = optarg; break;
		case 'p': a->pins = optarg; break;
		case 'h': a->allow_http = 1; break;
		case 'j': a->json = 1; break;
		default: return -2;
		}
	}
	if (optind != argc || a->server == NULL)
		return -2;
	return 0;
}

/* --installed-nonleaf: all, none, or a comma-separated list of UpdateIDs
 * (copied into *list, NULL-terminated, which the caller frees). */
static int parse_nonleaf(const char *v, struct sync_scan_opts *o, char ***list)
{
	size_t n = 0;

	*list = NULL;
	if (v == NULL || strcmp(v, "all") == 0) {
		o->nonleaf = SYNC_SCAN_NONLEAF_ALL;
		return 0;
	}
	if (strcmp(v, "none") == 0) {
		o->nonleaf = SYNC_SCAN_NONLEAF_NONE;
		return 0;
	}
	*list = calloc(strlen(v) + 2, sizeof(**list));
	if (*list == NULL)
		return -ENOMEM;
	for (const char *p = v; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > 0 && ((*list)[n++] = strndup(p, len)) == NULL)
			return -ENOMEM;
		p += len + (end != NULL);
	}
	o->nonleaf = SYNC_SCAN_NONLEAF_LIST;
	o->installed = (const char *const *)*list;
	o->n_installed = n;
	return 0;
}

static void free_list(char **list)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* The id this data directory keeps for its scans, made on first use; -ENOENT
 * when there is no data directory to keep it in. */
static int kept_client_id(struct cli *c, char out[WSUS_GUID_LEN])
{
	char path[4096], line[WSUS_GUID_LEN + 1], *text = NULL;
	struct stat st;
	struct err e = { 0 };
	size_t len = 0;

	if (stat(c->cfg->st_data_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    (size_t)snprintf(path, sizeof(path), "%s/" SCAN_ID_FILE, c->cfg->st_data_dir) >= sizeof(path))
		return -ENOENT;
	if (wsus_read_file(path, 256, &text, &len, &e) == 0) {
		char *nl = strchr(text, '\n');
		int rc;

		if (nl != NULL)
			*nl = '\0';
		rc = wsus_guid_normalize(text, out);
		free(text);
		if (rc == 0)
			return 0;
	}
	if (wsus_guid_random(out) < 0)
		return -EIO;
	snprintf(line, sizeof(line), "%s\n", out);
	return wsus_write_file_atomic(path, line, strlen(line), &e) < 0 ? -ENOENT : 0;
}

/* The clientId: --client-id (or a fresh one for "new"), else the kept one,
 * so that repeated scans are one computer to the server. */
static int client_id(struct cli *c, const char *given, char out[256], int *kept)
{
	*kept = 0;
	if (given != NULL && strcmp(given, "new") != 0) {
		snprintf(out, 256, "%s", given);
		*kept = 1;
		return 0;
	}
	if (given == NULL && kept_client_id(c, out) == 0) {
		*kept = 1;
		return 0;
	}
	return wsus_guid_random(out) < 0 ? -EIO : 0;
}

/*---- Output ----*/

static const char *kind_name(const struct sync_scan_update *u)
{
	switch (u->type) {
	case WSUS_UT_CATEGORY: return "category";
	case WSUS_UT_DETECTOID: return "detectoid";
	case WSUS_UT_DRIVER: return "driver";
	case WSUS_UT_SOFTWARE: return u->is_bundle ? "bundle" : "software";
	default: return "unknown";
	}
}

static const char *file_state(enum sync_scan_file_state s)
{
	switch (s) {
	case SYNC_SCAN_FILE_VERIFIED: return "verified";
	case SYNC_SCAN_FILE_FAILED: return "failed";
	default: return "listed";
	}
}

/* What the update's files came to: "-" (none), "listed", "verified", "FAILED". */
static const char *update_files_state(const struct sync_scan *s, const struct sync_scan_update *u)
{
	int verified = 0, failed = 0;

	if (u->n_files == 0)
		return "-";
	for (size_t i = 0; i < u->n_files; i++) {
		enum sync_scan_file_state st = sync_scan_file_at(s, u->files[i])->state;

		verified += st == SYNC_SCAN_FILE_VERIFIED;
		failed += st == SYNC_SCAN_FILE_FAILED;
	}
	if (failed > 0)
		return "FAILED";
	return (size_t)verified == u->n_files ? "verified" : "listed";
}

static void count(const struct sync_scan *s, struct scan_counts *k)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < sync_scan_count(s); i++) {
		const struct sync_scan_update *u = sync_scan_update_at(s, i);

		if (u->out_of_scope) {
			k->out_of_scope++;
			continue;
		}
		k->offered++;
		if (u->type == WSUS_UT_CATEGORY || u->type == WSUS_UT_DETECTOID)
			k->catdet++;
		else if (u->type == WSUS_UT_DRIVER)
			k->drivers++;
		else if (u->is_bundle)
			k->bundles++;
		else
			k->software++;
	}
	k->files = sync_scan_file_count(s);
	for (size_t i = 0; i < k->files; i++) {
		enum sync_scan_file_state st = sync_scan_file_at(s, i)->state;

		k->verified += st == SYNC_SCAN_FILE_VERIFIED;
		k->failed += st == SYNC_SCAN_FILE_FAILED;
	}
}

static void sha1_hex(const struct sync_scan_file *f, char out[2 * WSUS_SHA1_LEN + 1])
{
	wsus_hex_encode(f->sha1, WSUS_SHA1_LEN, out);
}

static const char *driver_pass_text(int v)
{
	return v > 0 ? "done" : v == 0 ? "not needed (DriverSyncNotNeeded)" : "skipped (--no-drivers)";
}

static void print_table(const struct sync_scan *s, const struct scan_args *a, int id_kept)
{
	const struct sync_scan_info *in = sync_scan_info(s);
	char hex[2 * WSUS_SHA1_LEN + 1];

	printf("server:   %s (protocol %s, MaxExtendedUpdatesPerRequest %d)\n", a->server,
	       in->server_pv[0] ? in->server_pv : "?", in->max_extended);
	printf("client:   %s dns=%s group=\"%s\"%s\n", in->client_id, in->dns_name, a->group ? a->group : "",
	       id_kept ? "" : " (client id not kept)");
	printf("sync:     %zu software page%s, driver pass %s", in->software_pages,
	       in->software_pages == 1 ? "" : "s", driver_pass_text(in->driver_pass));
	if (in->driver_pass > 0)
		printf(" (%zu page%s)", in->driver_pages, in->driver_pages == 1 ? "" : "s");
	printf(", %zu GetExtendedUpdateInfo call%s, %zu requests\n", in->extended_calls,
	       in->extended_calls == 1 ? "" : "s", in->calls);
	if (in->recoveries > 0)
		printf("recovered from %d fault%s (last: %s)\n", in->recoveries, in->recoveries == 1 ? "" : "s",
		       in->recovered);
	printf("%-10s  %-36s  %5s  %-9s  %-4s  %-10s  %5s  %-8s  %s\n", "REVISION", "UPDATE ID", "REV", "KIND",
	       "LEAF", "ACTION", "FILES", "DOWNLOAD", "TITLE");
	for (size_t i = 0; i < sync_scan_count(s); i++) {
		const struct sync_scan_update *u = sync_scan_update_at(s, i);
		char action[64];

		snprintf(action, sizeof(action), "%s%s", u->out_of_scope ? "OUT-OF-SCOPE " : "",
			 u->action[0] ? u->action : "?");
		printf("%-10lld  %-36s  %5d  %-9s  %-4s  %-10s  %5zu  %-8s  %s%s%s\n", (long long)u->revision_id,
		       u->update_id, u->revision, kind_name(u), u->is_leaf ? "yes" : "no", action, u->n_files,
		       update_files_state(s, u), u->title, u->deadline[0] ? "  deadline " : "", u->deadline);
	}
	for (size_t i = 0; i < sync_scan_file_count(s); i++) {
		const struct sync_scan_file *f = sync_scan_file_at(s, i);

		if (f->state != SYNC_SCAN_FILE_FAILED)
			continue;
		sha1_hex(f, hex);
		printf("file %s (%s): %s\n", hex, f->name, f->why);
	}
}

static void print_summary(const struct sync_scan *s, const struct scan_args *a, const struct scan_counts *k)
{
	const struct sync_scan_info *in = sync_scan_info(s);

	printf("offered %zu updates (%zu software, %zu bundles, %zu categories/detectoids, %zu drivers)",
	       k->offered, k->software, k->bundles, k->catdet, k->drivers);
	if (k->out_of_scope > 0)
		printf(", %zu out of scope", k->out_of_scope);
	if (a->download == NULL)
		printf("; %zu files listed, not downloaded", k->files);
	else if (k->failed == 0 && k->verified == k->files)
		printf("; downloaded %zu files, all digests verified", k->verified);
	else
		printf("; downloaded %zu of %zu files verified, %zu FAILED", k->verified, k->files, k->failed);
	if (in->report > 0)
		printf("; report accepted (%zu events)\n", in->events_sent);
	else if (in->report < 0)
		printf("; report NOT accepted\n");
	else
		printf("; no report sent\n");
}

static void json_bool(const char *name, int v, int comma)
{
	printf("\"%s\": %s%s", name, v ? "true" : "false", comma ? ", " : "");
}

static void print_json_update(const struct sync_scan *s, const struct sync_scan_update *u)
{
	char hex[2 * WSUS_SHA1_LEN + 1];

	printf("    {\"revision_id\": %lld, \"update_id\": \"%s\", \"revision\": %d, \"type\": ",
	       (long long)u->revision_id, u->update_id, u->revision);
	cli_json_str(stdout, wsus_update_type_name(u->type));
	printf(", \"kind\": \"%s\", ", kind_name(u));
	json_bool("bundle", u->is_bundle, 1);
	json_bool("leaf", u->is_leaf, 1);
	json_bool("installed_reported", u->installed, 1);
	json_bool("driver_pass", u->driver_pass, 1);
	json_bool("out_of_scope", u->out_of_scope, 1);
	printf("\"deployment_id\": %lld, \"action\": ", (long long)u->deployment_id);
	cli_json_str(stdout, u->action);
	printf(", \"deadline\": ");
	cli_json_str(stdout, u->deadline);
	printf(", ");
	json_bool("assigned", u->is_assigned, 1);
	printf("\"title\": ");
	cli_json_str(stdout, u->title);
	printf(", \"files\": [");
	for (size_t i = 0; i < u->n_files; i++) {
		sha1_hex(sync_scan_file_at(s, u->files[i]), hex);
		printf("%s\"%s\"", i ? ", " : "", hex);
	}
	printf("]}");
}

static void print_json_file(const struct sync_scan_file *f)
{
	char hex[2 * WSUS_SHA1_LEN + 1], h256[2 * WSUS_SHA256_LEN + 1] = "";

	sha1_hex(f, hex);
	if (f->has_sha256)
		wsus_hex_encode(f->sha256, WSUS_SHA256_LEN, h256);
	printf("    {\"sha1\": \"%s\", \"sha256\": \"%s\", \"name\": ", hex, h256);
	cli_json_str(stdout, f->name);
	printf(", \"size\": %lld, \"url\": ", (long long)f->size);
	cli_json_str(stdout, f->url ? f->url : "");
	printf(", \"state\": \"%s\", \"received\": %lld, \"why\": ", file_state(f->state), (long long)f->received);
	cli_json_str(stdout, f->why);
	printf("}");
}

static void print_json(const struct sync_scan *s, const struct scan_args *a, const struct scan_counts *k,
		       int ok)
{
	const struct sync_scan_info *in = sync_scan_info(s);

	printf("{\n  \"server\": ");
	cli_json_str(stdout, a->server);
	printf(",\n  \"client_id\": \"%s\",\n  \"dns_name\": ", in->client_id);
	cli_json_str(stdout, in->dns_name);
	printf(",\n  \"group\": ");
	cli_json_str(stdout, a->group ? a->group : "");
	printf(",\n  \"server_protocol_version\": ");
	cli_json_str(stdout, in->server_pv);
	printf(",\n  \"max_extended\": %d,\n  \"software_pages\": %zu,\n  \"driver_pages\": %zu,\n"
	       "  \"driver_pass\": \"%s\",\n  \"extended_calls\": %zu,\n  \"requests\": %zu,\n  \"recoveries\": %d,\n"
	       "  \"updates\": [\n", in->max_extended, in->software_pages, in->driver_pages,
	       in->driver_pass > 0 ? "done" : in->driver_pass == 0 ? "not-needed" : "skipped",
	       in->extended_calls, in->calls, in->recoveries);
	for (size_t i = 0; i < sync_scan_count(s); i++) {
		print_json_update(s, sync_scan_update_at(s, i));
		printf("%s\n", i + 1 < sync_scan_count(s) ? "," : "");
	}
	printf("  ],\n  \"files\": [\n");
	for (size_t i = 0; i < sync_scan_file_count(s); i++) {
		print_json_file(sync_scan_file_at(s, i));
		printf("%s\n", i + 1 < sync_scan_file_count(s) ? "," : "");
	}
	printf("  ],\n  \"summary\": {\"offered\": %zu, \"software\": %zu, \"bundles\": %zu, "
	       "\"categories_detectoids\": %zu, \"drivers\": %zu, \"out_of_scope\": %zu, \"files\": %zu, "
	       "\"verified\": %zu, \"failed\": %zu},\n", k->offered, k->software, k->bundles, k->catdet,
	       k->drivers, k->out_of_scope, k->files, k->verified, k->failed);
	printf("  \"downloaded\": %s,\n  \"report\": {\"sent\": %s, \"accepted\": %s, \"events\": %zu},\n",
	       a->download ? "true" : "false", in->report != 0 ? "true" : "false", in->report > 0 ? "true" : "false",
	       in->events_sent);
	if (in->fault_code[0] != '\0') {
		printf("  \"fault\": {\"code\": ");
		cli_json_str(stdout, in->fault_code);
		printf(", \"message\": ");
		cli_json_str(stdout, in->fault_message);
		printf(", \"operation\": ");
		cli_json_str(stdout, in->fault_op);
		printf("},\n");
	} else {
		printf("  \"fault\": null,\n");
	}
	printf("  \"ok\": %s\n}\n", ok ? "true" : "false");
}

/*---- The command ----*/

/* The trust policy for the scanned server: the CA given (or the config's),
 * no pins unless --pins or a configuration file names a pin store. */
static void scan_config(const struct cli *c, const struct scan_args *a, struct wsus_config *sc)
{
	*sc = *c->cfg;
	sc->up_url = (char *)a->server;
	if (a->ca != NULL)
		sc->up_ca_file = (char *)a->ca;
	if (a->pins != NULL) {
		sc->tr_pin_store = (char *)a->pins;
		sc->tr_pin_store_line = 0;       /* not the file's: missing = empty */
	} else if (c->cfg->cfg_path == NULL) {
		sc->tr_pin_store = (char *)"";   /* a missing store: empty, not enforced */
	}
	if (a->allow_http)
		sc->tr_allow_http_content = 1;
}

int cmd_scan(struct cli *c, int argc, char **argv)
{
	struct scan_args a;
	struct sync_scan_opts o;
	struct wsus_config sc;
	struct sync_http *h = NULL;
	struct sync_scan *s = NULL;
	struct scan_counts k;
	struct err e = { 0 }, first = { 0 };
	char id[256], **installed = NULL;
	int kept = 0, rc;

	rc = parse_args(argc, argv, &a);
	if (rc == -2)
		return cli_usage(SCAN_SYNOPSIS);
	if (rc < 0)
		return CLI_USAGE;
	memset(&o, 0, sizeof(o));
	if (parse_nonleaf(a.nonleaf, &o, &installed) < 0)
		return cli_fail("scan: out of memory");
	if (client_id(c, a.client_id, id, &kept) < 0) {
		free_list(installed);
		return cli_fail("scan: no randomness for a client id");
	}
	o.server = a.server;
	o.client_id = id;
	o.dns_name = a.dns_name;
	o.groups = a.group;
	o.locale = a.locale;
	o.hwids = a.hwids;
	o.n_hwids = a.n_hwids;
	o.no_drivers = a.no_drivers;
	scan_config(c, &a, &sc);
	rc = sync_http_new(&sc, &h, &e);
	if (rc == 0)
		rc = sync_scan_new(&o, h, &s, &e);
	free_list(installed);
	if (rc < 0) {
		sync_http_free(h);
		return cli_fail("scan: %s", e.msg);
	}
	rc = sync_scan_run(s, &e);
	if (rc < 0)
		first = e;
	if (rc == 0 && a.download != NULL && sync_scan_download(s, a.download, &e) < 0)
		first = e;
	/* The report goes out after a failed download too: it says which failed. */
	if (rc == 0 && !a.no_report && sync_scan_report(s, &e) < 0 && first.msg[0] == '\0')
		first = e;
	count(s, &k);
	if (a.json) {
		print_json(s, &a, &k, first.msg[0] == '\0');
	} else {
		print_table(s, &a, kept);
		print_summary(s, &a, &k);
	}
	fflush(stdout);
	sync_scan_free(s);
	sync_http_free(h);
	if (first.msg[0] != '\0')
		return cli_fail("scan: %s", first.msg);
	return CLI_OK;
}
