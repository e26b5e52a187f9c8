/*
 * cmd_catalog.c -- `catalog list`, `catalog show UPDATEID` and
 * `catalog fragment UPDATEID REV core|extended|localized LANG|eula LANG`:
 * read-only views of the stored catalogue. `fragment` prints the text exactly
 * as a client receives it (a newline is added only on a terminal).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int print_row(const struct storage_revision_row *r, void *ctx)
{
	size_t *n = ctx;

	printf("%-36s %5d  %-9s %-20s %-4s %5d  %s\n", r->update_id, r->revision,
	       wsus_update_type_name(r->type), r->category_type[0] ? r->category_type : "-",
	       r->is_leaf ? "yes" : "no", r->n_files, r->title);
	(*n)++;
	return 0;
}

static int catalog_list(struct storage *st)
{
	struct err e = { 0 };
	size_t n = 0;

	printf("%-36s %5s  %-9s %-20s %-4s %5s  %s\n", "UPDATE ID", "REV", "TYPE", "CATEGORY TYPE",
	       "LEAF", "FILES", "TITLE");
	if (storage_revision_foreach(st, print_row, &n, &e) < 0)
		return cli_fail("%s", e.msg);
	printf("%zu revisions\n", n);
	return CLI_OK;
}

static int print_file(const struct wsus_file *f, int present, void *ctx)
{
	char sha1[2 * WSUS_SHA1_LEN + 1], sha256[2 * WSUS_SHA256_LEN + 1];

	(void)ctx;
	wsus_hex_encode(f->sha1, WSUS_SHA1_LEN, sha1);
	if (f->has_sha256)
		wsus_hex_encode(f->sha256, WSUS_SHA256_LEN, sha256);
	printf("  file %s  %s  size=%lld  sha256=%s  %s%s\n", f->file_name ? f->file_name : "-",
	       sha1, (long long)f->size, f->has_sha256 ? sha256 : "-",
	       present ? "present" : "missing", f->is_eula ? "  (EULA)" : "");
	return 0;
}

/* The provenance chain, origin first: "provenance:   [0] SOURCE (sha256 CERT) TIME". */
static int print_chain(struct storage *st, const char *id, int rev, struct err *e)
{
	char *chain = NULL;
	int hop = 0;

	if (storage_revision_chain(st, id, rev, &chain, e) < 0)
		return -1;
	for (char *p = chain, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1, hop++) {
		char *t1 = memchr(p, '\t', (size_t)(nl - p)), *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1)) : NULL;

		if (t2 == NULL)
			break;
		printf("%s[%d] %.*s%s%.*s%s  %.*s\n", hop ? "                " : "provenance:     ", hop,
		       (int)(t1 - p), p, t1[1] == '-' ? "" : " (certificate sha256 ", t1[1] == '-' ? 0 : (int)(t2 - t1 - 1),
		       t1 + 1, t1[1] == '-' ? "" : ")", (int)(nl - t2 - 1), t2 + 1);
	}
	free(chain);
	return 0;
}

static int catalog_show(struct storage *st, const char *arg)
{
	struct storage_revision_row r;
	struct err e = { 0 };
	char id[WSUS_GUID_LEN];

	if (wsus_guid_normalize(arg, id) < 0)
		return cli_fail("'%s' is not an update id (GUID)", arg);
	if (storage_revision_get(st, id, -1, &r, &e) < 0)
		return cli_fail("%s", e.msg);
	printf("update id:      %s\n", r.update_id);
	printf("revision:       %d (local revision id %lld)%s\n", r.revision,
	       (long long)r.revision_id, r.declined ? ", declined" : "");
	printf("type:           %s%s%s\n", wsus_update_type_name(r.type),
	       r.category_type[0] ? " / " : "", r.category_type);
	printf("title:          %s\n", r.title);
	printf("kb article:     %s\n", r.kb_article[0] ? r.kb_article : "-");
	printf("classification: %s\n", r.classification[0] ? r.classification : "-");
	printf("leaf:           %s\n", r.is_leaf ? "yes" : "no");
	printf("origin:         %s\n", r.origin);
	if (print_chain(st, id, r.revision, &e) < 0)
		return cli_fail("%s", e.msg);
	printf("files:          %d (%lld bytes)\n", r.n_files, (long long)r.total_size);
	if (storage_revision_files(st, id, r.revision, print_file, NULL, &e) < 0)
		return cli_fail("%s", e.msg);
	return CLI_OK;
}

static int catalog_fragment(struct storage *st, int argc, char **argv)
{
	static const char synopsis[] =
		"catalog fragment UPDATEID REV core|extended|localized LANG|eula LANG";
	enum wsus_fragment_type type;
	const char *locale = NULL;
	struct err e = { 0 };
	char id[WSUS_GUID_LEN], *xml = NULL, *end;
	size_t len;
	long rev;

	if (argc < 5)
		return cli_usage(synopsis);
	if (wsus_guid_normalize(argv[2], id) < 0)
		return cli_fail("'%s' is not an update id (GUID)", argv[2]);
	errno = 0;
	rev = strtol(argv[3], &end, 10);
	if (errno || *end || end == argv[3] || rev < 0 || rev > 0x7fffffff)
		return cli_fail("'%s' is not a revision number", argv[3]);
	if (strcmp(argv[4], "core") == 0 && argc == 5) {
		type = WSUS_FRAG_CORE;
	} else if (strcmp(argv[4], "extended") == 0 && argc == 5) {
		type = WSUS_FRAG_EXTENDED;
	} else if (strcmp(argv[4], "localized") == 0 && argc == 6) {
		type = WSUS_FRAG_LOCALIZED;
		locale = argv[5];
	} else if (strcmp(argv[4], "eula") == 0 && argc == 6) {
		type = WSUS_FRAG_EULA;
		locale = argv[5];
	} else {
		return cli_usage(synopsis);
	}
	if (storage_fragment_get(st, id, (int)rev, type, locale, &xml, &len, &e) < 0)
		return cli_fail("%s", e.msg);
	fwrite(xml, 1, len, stdout);
	if (isatty(STDOUT_FILENO))
		fputc('\n', stdout);
	free(xml);
	return CLI_OK;
}

int cmd_catalog(struct cli *c, int argc, char **argv)
{
	static const char synopsis[] =
		"catalog list | catalog show UPDATEID | catalog fragment UPDATEID REV KIND [LANG]";
	struct storage *st = NULL;
	int rc;

	if (argc < 2)
		return cli_usage(synopsis);
	if (!((strcmp(argv[1], "list") == 0 && argc == 2) ||
	      (strcmp(argv[1], "show") == 0 && argc == 3) || strcmp(argv[1], "fragment") == 0))
		return cli_usage(synopsis);
	if (cli_open_storage_ro(c, &st) < 0)
		return CLI_FAIL;
	if (strcmp(argv[1], "list") == 0)
		rc = catalog_list(st);
	else if (strcmp(argv[1], "show") == 0)
		rc = catalog_show(st, argv[2]);
	else
		rc = catalog_fragment(st, argc, argv);
	storage_close(st);
	return rc;
}
