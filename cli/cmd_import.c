/*
 * cmd_import.c -- `wsus-replica import DIR [--keep-going]`: load the update
 * documents of DIR (every *.xml file) and their payloads, which sit in
 * DIR/content named <sha1hex>[.ext].
 *
 * All or nothing by default: every document is parsed and stored inside one
 * transaction and every payload is hashed against the metadata before that
 * transaction commits; the first bad document or payload aborts the import
 * with its file name and nothing changes. --keep-going skips what is bad,
 * lists it, and imports the rest. Importing the same directory twice changes
 * nothing (revision puts and content imports are idempotent).
 *
 * Origin is immutable: a replica takes metadata from its upstream only, so
 * import is refused there before anything is opened; on an autonomous server
 * a document may be added but never replace one an upstream delivered
 * (storage_revision_put refuses it, naming both origins).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "protocol.h"

/* One payload the imported metadata refers to (deduplicated by SHA-1). */
struct payload {
	struct wsus_file f;  /* digests, size and name; file_name owned */
	char *src;           /* DIR/content/<name>, NULL when absent */
	int bad;             /* failed its digest check (--keep-going) */
};

struct import_run {
	const char *dir;
	int keep_going;
	char **content_names;   /* sorted names in DIR/content */
	size_t n_content;
	struct payload *payloads;
	size_t n_payloads, cap_payloads;
	size_t docs, added, changed, unchanged, skipped;
	size_t stored, already, missing, bad_payloads;
};

static int strptrcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The regular entries of dir whose name ends in suffix (NULL = all), sorted. */
static int list_dir(const char *dir, const char *suffix, char ***out, size_t *n_out, struct err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0, sl = suffix ? strlen(suffix) : 0;

	if (d == NULL)
		return err_set(e, -errno, "cannot read directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (suffix && (l <= sl || strcasecmp(de->d_name + l - sl, suffix) != 0))
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));

			if (nv == NULL)
				goto oom;
			v = nv;
			cap = cap ? cap * 2 : 64;
		}
		v[n] = strdup(de->d_name);
		if (v[n] == NULL)
			goto oom;
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), strptrcmp);
	*out = v;
	*n_out = n;
	return 0;
oom:
	closedir(d);
	free_names(v, n);
	return err_set(e, -ENOMEM, "out of memory listing %s", dir);
}

/* The payload file for a SHA-1: <hex> or <hex>.<anything> in DIR/content. */
static const char *find_content(const struct import_run *r, const char *hex)
{
	size_t lo = 0, hi = r->n_content;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncasecmp(r->content_names[mid], hex, 40);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Sorted order puts "<hex>" and "<hex>.ext" together; take the first. */
	for (size_t i = lo; i < r->n_content && strncasecmp(r->content_names[i], hex, 40) == 0; i++) {
		char end = r->content_names[i][40];

		if (end == '\0' || end == '.')
			return r->content_names[i];
	}
	return NULL;
}

static int remember_payloads(struct import_run *r, const struct wsus_update *u)
{
	for (size_t i = 0; i < u->n_files; i++) {
		struct payload *p;

		if (r->n_payloads == r->cap_payloads) {
			size_t ncap = r->cap_payloads ? r->cap_payloads * 2 : 256;
			struct payload *np = realloc(r->payloads, ncap * sizeof(*np));

			if (np == NULL)
				return -ENOMEM;
			r->payloads = np;
			r->cap_payloads = ncap;
		}
		p = &r->payloads[r->n_payloads];
		memset(p, 0, sizeof(*p));
		memcpy(p->f.sha1, u->files[i].sha1, WSUS_SHA1_LEN);
		p->f.has_sha256 = u->files[i].has_sha256;
		memcpy(p->f.sha256, u->files[i].sha256, WSUS_SHA256_LEN);
		p->f.size = u->files[i].size;
		p->f.file_name = strdup(u->files[i].file_name ? u->files[i].file_name : "");
		if (p->f.file_name == NULL)
			return -ENOMEM;
		r->n_payloads++;
	}
	return 0;
}

static int payload_cmp(const void *a, const void *b)
{
	return memcmp(((const struct payload *)a)->f.sha1, ((const struct payload *)b)->f.sha1,
		      WSUS_SHA1_LEN);
}

/* Sort by SHA-1, drop duplicates, and find each payload's source file. */
static int resolve_payloads(struct import_run *r)
{
	size_t w = 0;
	char hex[2 * WSUS_SHA1_LEN + 1], path[4096];

	qsort(r->payloads, r->n_payloads, sizeof(*r->payloads), payload_cmp);
	for (size_t i = 0; i < r->n_payloads; i++) {
		const char *name;

		if (w > 0 && payload_cmp(&r->payloads[w - 1], &r->payloads[i]) == 0) {
			free(r->payloads[i].f.file_name);
			continue;
		}
		r->payloads[w++] = r->payloads[i];
		wsus_hex_encode(r->payloads[w - 1].f.sha1, WSUS_SHA1_LEN, hex);
		name = find_content(r, hex);
		if (name) {
			snprintf(path, sizeof(path), "%s/content/%s", r->dir, name);
			r->payloads[w - 1].src = strdup(path);
			if (r->payloads[w - 1].src == NULL)
				return -ENOMEM;
		}
	}
	r->n_payloads = w;
	return 0;
}

/* Hash src and compare with the metadata: 0, or -EBADMSG with the reason. */
static int check_payload(const struct payload *p, struct err *e)
{
	unsigned char buf[65536], d1[EVP_MAX_MD_SIZE], d2[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *c1 = EVP_MD_CTX_new(), *c2 = EVP_MD_CTX_new();
	int64_t total = 0;
	int fd = -1, rc = 0;
	ssize_t n;

	if (c1 == NULL || c2 == NULL || !EVP_DigestInit_ex(c1, EVP_sha1(), NULL) ||
	    !EVP_DigestInit_ex(c2, EVP_sha256(), NULL)) {
		rc = err_set(e, -ENOMEM, "cannot set up digests");
		goto out;
	}
	fd = open(p->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = err_set(e, -errno, "cannot open %s: %s", p->src, strerror(errno));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(c1, buf, (size_t)n);
		EVP_DigestUpdate(c2, buf, (size_t)n);
		total += n;
	}
	if (n < 0) {
		rc = err_set(e, -errno, "cannot read %s: %s", p->src, strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(c1, d1, NULL);
	EVP_DigestFinal_ex(c2, d2, NULL);
	if (p->f.size >= 0 && total != p->f.size)
		rc = err_set(e, -EBADMSG, "%s: size %lld, metadata says %lld", p->src,
			     (long long)total, (long long)p->f.size);
	else if (memcmp(d1, p->f.sha1, WSUS_SHA1_LEN) != 0)
		rc = err_set(e, -EBADMSG, "%s: SHA-1 does not match the metadata", p->src);
	else if (p->f.has_sha256 && memcmp(d2, p->f.sha256, WSUS_SHA256_LEN) != 0)
		rc = err_set(e, -EBADMSG, "%s: SHA-256 does not match the metadata", p->src);
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(c1);
	EVP_MD_CTX_free(c2);
	return rc;
}

/* Parse and store one document inside the open transaction. */
static int import_doc(struct import_run *r, struct storage *st, const char *name,
		      const struct storage_origin *origin, struct err *e)
{
	char path[4096], *xml = NULL;
	struct wsus_update *u = NULL;
	size_t len;
	int rc, changed = 0;
	int64_t before = 0;

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	rc = wsus_read_file(path, WSUS_MAX_UPDATE_XML, &xml, &len, e);
	if (rc < 0)
		goto out;
	rc = protocol_update_parse(xml, len, &u, e);
	if (rc < 0)
		goto out;
	{
		struct storage_revision_row row;

		before = storage_revision_get(st, u->update_id, u->revision, &row, NULL) == 0;
	}
	rc = storage_revision_put(st, u, origin, NULL, &changed, e);
	if (rc < 0)
		goto out;
	rc = remember_payloads(r, u);
	if (rc < 0) {
		err_set(e, rc, "out of memory");
		goto out;
	}
	if (!before)
		r->added++;
	else if (changed)
		r->changed++;
	else
		r->unchanged++;
out:
	if (rc < 0)
		err_prefix(e, "%s", path);
	wsus_update_free(u);
	free(xml);
	return rc;
}

static void free_run(struct import_run *r)
{
	free_names(r->content_names, r->n_content);
	for (size_t i = 0; i < r->n_payloads; i++) {
		free(r->payloads[i].f.file_name);
		free(r->payloads[i].src);
	}
	free(r->payloads);
}

int cmd_import(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep-going", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	static const char synopsis[] = "import DIR [--keep-going]";
	struct import_run r = { 0 };
	struct storage *st = NULL;
	struct storage_origin origin = { 0 };
	struct err e = { 0 };
	char **docs = NULL, content_dir[4096];
	size_t n_docs = 0;
	int opt, rc = CLI_FAIL, in_tx = 0;

	while ((opt = getopt_long(argc, argv, "k", opts, NULL)) != -1) {
		if (opt != 'k')
			return cli_usage(synopsis);
		r.keep_going = 1;
	}
	if (optind != argc - 1)
		return cli_usage(synopsis);
	r.dir = argv[optind];
	origin.source = r.dir;
	if (c->cfg->up_url != NULL && c->cfg->up_mode == WSUS_MODE_REPLICA)
		return cli_fail("import refused: this server is a replica of %s and takes update metadata "
				"from it only (origin is immutable); nothing was imported "
				"(set [upstream] mode = autonomous to add local updates)", c->cfg->up_url);

	if (list_dir(r.dir, ".xml", &docs, &n_docs, &e) < 0)
		return cli_fail("%s", e.msg);
	if (n_docs == 0) {
		free_names(docs, n_docs);
		return cli_fail("no update documents (*.xml) in %s", r.dir);
	}
	snprintf(content_dir, sizeof(content_dir), "%s/content", r.dir);
	if (access(content_dir, F_OK) == 0 &&
	    list_dir(content_dir, NULL, &r.content_names, &r.n_content, &e) < 0) {
		cli_fail("%s", e.msg);
		goto out;
	}
	if (cli_open_storage(c, &st) < 0)
		goto out;
	if (storage_begin(st, &e) < 0) {
		cli_fail("%s", e.msg);
		goto out;
	}
	in_tx = 1;

	for (size_t i = 0; i < n_docs; i++) {
		if (import_doc(&r, st, docs[i], &origin, &e) == 0) {
			r.docs++;
			continue;
		}
		if (!r.keep_going) {
			cli_fail("%s; nothing was imported", e.msg);
			goto out;
		}
		fprintf(stderr, "skipped %s\n", e.msg);
		r.skipped++;
	}
	if (storage_leaf_refresh(st, &e) < 0) {
		cli_fail("%s", e.msg);
		goto out;
	}
	if (resolve_payloads(&r) < 0) {
		cli_fail("out of memory");
		goto out;
	}
	/* Every payload is checked before the metadata becomes visible. */
	for (size_t i = 0; i < r.n_payloads; i++) {
		if (r.payloads[i].src == NULL)
			continue;
		if (check_payload(&r.payloads[i], &e) == 0)
			continue;
		if (!r.keep_going) {
			cli_fail("%s; nothing was imported", e.msg);
			goto out;
		}
		fprintf(stderr, "skipped payload %s\n", e.msg);
		r.payloads[i].bad = 1;
		r.bad_payloads++;
	}
	if (r.added + r.changed > 0) {
		char now[32];

		wsus_time_iso(wsus_now_ms(), now);
		if (storage_state_set(st, "last_import", now, &e) < 0) {
			cli_fail("%s", e.msg);
			goto out;
		}
	}
	if (storage_commit(st, &e) < 0) {
		cli_fail("%s", e.msg);
		goto out;
	}
	in_tx = 0;

	for (size_t i = 0; i < r.n_payloads; i++) {
		struct payload *p = &r.payloads[i];
		char path[4096];

		if (p->src == NULL) {
			r.missing++;
			continue;
		}
		if (p->bad)
			continue;
		if (storage_content_path(st, p->f.sha1, path, sizeof(path)) == 0) {
			r.already++;
			continue;
		}
		if (storage_content_import(st, p->src, &p->f, &e) < 0) {
			cli_fail("%s", e.msg);
			goto out;
		}
		r.stored++;
	}
	printf("imported %zu documents from %s: %zu new, %zu changed, %zu unchanged, %zu skipped\n",
	       r.docs, r.dir, r.added, r.changed, r.unchanged, r.skipped);
	printf("payloads: %zu stored, %zu already present, %zu not in %s/content, %zu rejected\n",
	       r.stored, r.already, r.missing, r.dir, r.bad_payloads);
	log_info("import", "import done dir=%s docs=%zu new=%zu changed=%zu skipped=%zu payloads_stored=%zu",
		 r.dir, r.docs, r.added, r.changed, r.skipped, r.stored);
	rc = CLI_OK;
out:
	if (in_tx)
		storage_rollback(st);
	storage_close(st);
	free_names(docs, n_docs);
	free_run(&r);
	return rc;
}
