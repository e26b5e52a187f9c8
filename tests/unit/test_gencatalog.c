/*
 * test_gencatalog.c -- the catalogue generator (tests/tools/gencatalog.c), run as a process
 * into temporary directories, its output read back with libxml2 and OpenSSL.
 * Groups: 1 determinism, 2 document shape, 3 payloads, 4 manifest and kinds,
 * 5 references (bundles, prerequisites, supersedence, revisions), 6 drivers, 7 command line.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "common.h"

#define TOOL    WSUS_BINARY_DIR "/wsus-gencatalog"
#define NS_UPD  "http://schemas.microsoft.com/msus/2002/12/Update"
#define NS_DRV  "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver"
#define REVISIONS "500"
#define REVISE    3

struct docrec {
	char      name[80];            /* file name, <id>-r<rev>.xml */
	char      id[WSUS_GUID_LEN];   /* from the file name */
	int       rev;
	char      kind[16];            /* from the manifest */
	xmlDocPtr doc;                 /* NULL if it did not parse */
};

struct names {
	char  **v;
	size_t  n, cap;
};

struct state {
	char           root[64];
	char           a[96], b[96], c[96];
	struct docrec *docs;
	size_t         n_docs;
	long           manifest_lines;  /* without the header */
};

/*---- helpers ----*/

static void names_add(struct names *s, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		assert_non_null(s->v);
	}
	s->v[s->n] = strdup(name);
	assert_non_null(s->v[s->n]);
	s->n++;
}

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir, as paths relative to it, sorted. */
static void list_tree(const char *dir, const char *rel, struct names *out)
{
	char path[4096], sub[4096];
	DIR *dh;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
	dh = opendir(path);
	assert_non_null(dh);
	while ((de = readdir(dh)) != NULL) {
		struct stat st;
		char full[8192];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", dir, sub);
		assert_int_equal(lstat(full, &st), 0);
		if (S_ISDIR(st.st_mode))
			list_tree(dir, sub, out);
		else
			names_add(out, sub);
	}
	closedir(dh);
	if (rel[0] == '\0')
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

static char *slurp(const char *path, size_t *len)
{
	struct err e = { 0 };
	char *buf = NULL;
	size_t n = 0;

	if (wsus_read_file(path, 256u * 1024 * 1024, &buf, &n, &e) < 0)
		fail_msg("read %s: %s", path, e.msg);
	if (len)
		*len = n;
	return buf;
}

/* Run the generator with args (NULL-terminated); stderr goes to err_path.
 * Returns the exit status, or -1 if it did not exit normally. */
static int run_tool(const char *const *args, const char *err_path)
{
	const char *argv[32];
	size_t n = 0;
	pid_t pid;
	int status;

	argv[n++] = TOOL;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open("/dev/null", O_WRONLY);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		execv(TOOL, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The next '\n'-terminated line of *cursor (terminated in place), NULL at the end. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	return line;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*---- XPath over one document (prefixes u: Update, d: WindowsDriver) ----*/

static xmlXPathObjectPtr xp(xmlDocPtr doc, xmlNodePtr at, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr res;

	assert_non_null(ctx);
	xmlXPathRegisterNs(ctx, BAD_CAST "u", BAD_CAST NS_UPD);
	xmlXPathRegisterNs(ctx, BAD_CAST "d", BAD_CAST NS_DRV);
	if (at)
		ctx->node = at;
	res = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	xmlXPathFreeContext(ctx);
	if (res == NULL)
		fail_msg("bad XPath %s", expr);
	return res;
}

static int xp_nr(xmlXPathObjectPtr o)
{
	return o->nodesetval ? o->nodesetval->nodeNr : 0;
}

/* string(expr), malloc'd. */
static char *xp_str(xmlDocPtr doc, xmlNodePtr at, const char *expr)
{
	char wrapped[512];
	xmlXPathObjectPtr o;
	char *s;

	snprintf(wrapped, sizeof(wrapped), "string(%s)", expr);
	o = xp(doc, at, wrapped);
	s = strdup(o->stringval ? (const char *)o->stringval : "");
	xmlXPathFreeObject(o);
	assert_non_null(s);
	return s;
}

/* The normalised UpdateID attribute of an UpdateIdentity node. */
static void node_id(xmlNodePtr n, char out[WSUS_GUID_LEN])
{
	xmlChar *v = xmlGetProp(n, BAD_CAST "UpdateID");

	assert_non_null(v);
	assert_int_equal(wsus_guid_normalize((const char *)v, out), 0);
	xmlFree(v);
}

static int node_int(xmlNodePtr n, const char *attr)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST attr);
	char *end;
	long x;

	if (v == NULL)
		return -1;
	x = strtol((const char *)v, &end, 10);
	if (*end != '\0')
		x = -2;
	xmlFree(v);
	return (int)x;
}

static struct docrec *find_rev(const struct state *st, const char *id, int rev)
{
	for (size_t i = 0; i < st->n_docs; i++)
		if (st->docs[i].rev == rev && strcmp(st->docs[i].id, id) == 0)
			return &st->docs[i];
	return NULL;
}

static const struct docrec *find_id(const struct state *st, const char *id)
{
	for (size_t i = 0; i < st->n_docs; i++)
		if (strcmp(st->docs[i].id, id) == 0)
			return &st->docs[i];
	return NULL;
}

/*---- fixture: catalogues a, b (same seed) and c (another seed) ----*/

static void load_manifest_kinds(struct state *st)
{
	char path[256], *buf, *line, *cursor;

	snprintf(path, sizeof(path), "%s/manifest.tsv", st->a);
	buf = slurp(path, NULL);
	cursor = buf;
	line = next_line(&cursor);
	assert_non_null(line);
	assert_string_equal(line, "update_id\trevision\tupdate_type\tkind\tfiles\ttitle");
	while ((line = next_line(&cursor)) != NULL) {
		char id[64], type[32], kind[32];
		int rev, files;
		struct docrec *d;

		st->manifest_lines++;
		if (sscanf(line, "%63[^\t]\t%d\t%31[^\t]\t%31[^\t]\t%d\t", id, &rev, type, kind, &files) != 5)
			fail_msg("bad manifest line: %s", line);
		d = find_rev(st, id, rev);
		if (d == NULL)
			fail_msg("manifest names %s r%d, which has no document", id, rev);
		if (d->kind[0])
			fail_msg("manifest names %s r%d twice", id, rev);
		snprintf(d->kind, sizeof(d->kind), "%s", kind);
	}
	free(buf);
}

static void load_docs(struct state *st)
{
	struct names files = { 0 };

	list_tree(st->a, "", &files);
	st->docs = calloc(files.n, sizeof(*st->docs));
	assert_non_null(st->docs);
	for (size_t i = 0; i < files.n; i++) {
		struct docrec *d = &st->docs[st->n_docs];
		char path[512], *buf, *dash, *end;
		size_t len;

		if (strchr(files.v[i], '/') || strstr(files.v[i], ".xml") == NULL)
			continue;
		snprintf(d->name, sizeof(d->name), "%s", files.v[i]);
		assert_true(strlen(d->name) > WSUS_GUID_LEN + 2);
		memcpy(d->id, d->name, WSUS_GUID_LEN - 1);
		d->id[WSUS_GUID_LEN - 1] = '\0';
		dash = d->name + WSUS_GUID_LEN - 1;
		assert_true(dash[0] == '-' && dash[1] == 'r');
		d->rev = (int)strtol(dash + 2, &end, 10);
		assert_string_equal(end, ".xml");
		snprintf(path, sizeof(path), "%s/%s", st->a, d->name);
		buf = slurp(path, &len);
		d->doc = xmlReadMemory(buf, (int)len, d->name, NULL, XML_PARSE_NONET);
		free(buf);
		st->n_docs++;
	}
	names_free(&files);
}

static int setup(void **state)
{
	struct state *st = calloc(1, sizeof(*st));
	char err[160];

	assert_non_null(st);
	snprintf(st->root, sizeof(st->root), "/tmp/wsus-gencat.XXXXXX");
	assert_non_null(mkdtemp(st->root));
	snprintf(st->a, sizeof(st->a), "%s/a", st->root);
	snprintf(st->b, sizeof(st->b), "%s/b", st->root);
	snprintf(st->c, sizeof(st->c), "%s/c", st->root);
	snprintf(err, sizeof(err), "%s/stderr", st->root);
	/* a and b exist and are empty (mkdtemp-style), c does not exist yet: both are accepted */
	assert_int_equal(mkdir(st->a, 0755), 0);
	assert_int_equal(mkdir(st->b, 0755), 0);
	{
		const char *const ga[] = { "--seed", "11", "--revisions", REVISIONS, "--revise", "3",
					   "--out", st->a, NULL };
		const char *const gb[] = { "--seed", "11", "--revisions", REVISIONS, "--revise", "3",
					   "--out", st->b, NULL };
		const char *const gc[] = { "--seed", "12", "--revisions", REVISIONS, "--revise", "3",
					   "--out", st->c, NULL };

		assert_int_equal(run_tool(ga, err), 0);
		assert_int_equal(run_tool(gb, err), 0);
		assert_int_equal(run_tool(gc, err), 0);
	}
	xmlInitParser();
	load_docs(st);
	load_manifest_kinds(st);
	*state = st;
	return 0;
}

static int teardown(void **state)
{
	struct state *st = *state;

	for (size_t i = 0; i < st->n_docs; i++)
		xmlFreeDoc(st->docs[i].doc);
	free(st->docs);
	rm_tree(st->root);
	free(st);
	xmlCleanupParser();
	return 0;
}

/*---- 1 determinism ----*/

static void assert_trees_identical(const char *x, const char *y)
{
	struct names fx = { 0 }, fy = { 0 };

	list_tree(x, "", &fx);
	list_tree(y, "", &fy);
	assert_int_equal(fx.n, fy.n);
	for (size_t i = 0; i < fx.n; i++) {
		char px[512], py[512], *bx, *by;
		size_t lx, ly;

		assert_string_equal(fx.v[i], fy.v[i]);
		snprintf(px, sizeof(px), "%s/%s", x, fx.v[i]);
		snprintf(py, sizeof(py), "%s/%s", y, fy.v[i]);
		bx = slurp(px, &lx);
		by = slurp(py, &ly);
		if (lx != ly || memcmp(bx, by, lx) != 0)
			fail_msg("%s differs between the two runs", fx.v[i]);
		free(bx);
		free(by);
	}
	names_free(&fx);
	names_free(&fy);
}

/* 1.1 the same arguments write the same files, byte for byte */
static void test_same_seed_gives_identical_output(void **state)
{
	struct state *st = *state;

	assert_trees_identical(st->a, st->b);
}

/* 1.2 another seed gives other update IDs and another manifest */
static void test_other_seed_differs(void **state)
{
	struct state *st = *state;
	struct names fa = { 0 }, fc = { 0 };
	char pa[256], pc[256], *ma, *mc;
	size_t shared = 0;

	list_tree(st->a, "", &fa);
	list_tree(st->c, "", &fc);
	for (size_t i = 0; i < fc.n; i++) {
		char px[512], py[512], id[WSUS_GUID_LEN], *bx, *by;
		const struct docrec *d;

		if (strstr(fc.v[i], ".xml") == NULL ||
		    !bsearch(&fc.v[i], fa.v, fa.n, sizeof(*fa.v), cmp_str))
			continue;
		/* only the classifications (real GUIDs) are shared, and byte for byte */
		snprintf(id, sizeof(id), "%.36s", fc.v[i]);
		d = find_id(st, id);
		assert_non_null(d);
		assert_string_equal(d->kind, "classification");
		snprintf(px, sizeof(px), "%s/%s", st->a, fc.v[i]);
		snprintf(py, sizeof(py), "%s/%s", st->c, fc.v[i]);
		bx = slurp(px, NULL);
		by = slurp(py, NULL);
		assert_string_equal(bx, by);
		free(bx);
		free(by);
		shared++;
	}
	assert_int_equal(shared, 5);
	snprintf(pa, sizeof(pa), "%s/manifest.tsv", st->a);
	snprintf(pc, sizeof(pc), "%s/manifest.tsv", st->c);
	ma = slurp(pa, NULL);
	mc = slurp(pc, NULL);
	assert_string_not_equal(ma, mc);
	free(ma);
	free(mc);
	names_free(&fa);
	names_free(&fc);
}

/*---- 2 document shape ----*/

/* 2.1 every document parses and is an <Update> in the Update namespace, named after its identity */
static void test_documents_are_update_documents(void **state)
{
	struct state *st = *state;

	assert_true(st->n_docs >= 500);
	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		xmlNodePtr root;
		xmlXPathObjectPtr o;
		char id[WSUS_GUID_LEN], *type, *title;

		if (d->doc == NULL)
			fail_msg("%s is not well-formed", d->name);
		root = xmlDocGetRootElement(d->doc);
		assert_string_equal((const char *)root->name, "Update");
		assert_non_null(root->ns);
		assert_string_equal((const char *)root->ns->href, NS_UPD);

		o = xp(d->doc, NULL, "/u:Update/u:UpdateIdentity");
		assert_int_equal(xp_nr(o), 1);
		node_id(o->nodesetval->nodeTab[0], id);
		assert_string_equal(id, d->id);
		assert_int_equal(node_int(o->nodesetval->nodeTab[0], "RevisionNumber"), d->rev);
		xmlXPathFreeObject(o);

		type = xp_str(d->doc, NULL, "/u:Update/u:Properties/@UpdateType");
		assert_true(strcmp(type, "Category") == 0 || strcmp(type, "Detectoid") == 0 ||
			    strcmp(type, "Software") == 0 || strcmp(type, "Driver") == 0);
		free(type);
		/* both default languages are present, each with a title */
		title = xp_str(d->doc, NULL, "/u:Update/u:LocalizedPropertiesCollection/"
			       "u:LocalizedProperties[u:Language='de']/u:Title");
		assert_true(strlen(title) > 0);
		free(title);
		title = xp_str(d->doc, NULL, "/u:Update/u:LocalizedPropertiesCollection/"
			       "u:LocalizedProperties[u:Language='en']/u:Title");
		assert_true(strlen(title) > 0);
		free(title);
	}
}

/* 2.2 categories carry CategoryInformation, software leaves carry rules in the Base
 * namespace (b. in Core fragments) and a command line handler */
static void test_handler_data_matches_kind(void **state)
{
	struct state *st = *state;
	int seen_base = 0, seen_eula_id = 0, seen_mandatory = 0;

	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		char *v;

		if (strcmp(d->kind, "company") == 0 || strcmp(d->kind, "product") == 0 ||
		    strcmp(d->kind, "productfamily") == 0 || strcmp(d->kind, "classification") == 0) {
			static const char *const want[] = { "Company", "Product", "ProductFamily", "UpdateClassification" };
			int ok = 0;

			v = xp_str(d->doc, NULL, "/u:Update/u:HandlerSpecificData/*[local-name()='CategoryInformation']/@CategoryType");
			for (size_t k = 0; k < 4; k++)
				ok |= strcmp(v, want[k]) == 0;
			assert_true(ok);
			free(v);
		}
		if (strcmp(d->kind, "leaf") == 0 || strcmp(d->kind, "nonleaf") == 0) {
			xmlXPathObjectPtr o = xp(d->doc, NULL, "/u:Update/u:ApplicabilityRules//*[namespace-uri()="
						 "'http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules']");

			seen_base += xp_nr(o) > 0;
			xmlXPathFreeObject(o);
			v = xp_str(d->doc, NULL, "/u:Update/u:HandlerSpecificData/@*[local-name()='type']");
			assert_string_equal(v, "cmd:CommandLineInstallation");
			free(v);
			v = xp_str(d->doc, NULL, "/u:Update/u:Properties/u:KBArticleID");
			assert_true(strlen(v) > 0);
			free(v);
			v = xp_str(d->doc, NULL, "/u:Update/u:Properties/@EulaID");
			seen_eula_id += v[0] != '\0';
			free(v);
			v = xp_str(d->doc, NULL, "/u:Update/u:Properties/@IsMandatory");
			seen_mandatory += strcmp(v, "true") == 0;
			free(v);
		}
		if (strcmp(d->kind, "detectoid") == 0) {
			v = xp_str(d->doc, NULL, "/u:Update/u:Properties/@UpdateType");
			assert_string_equal(v, "Detectoid");
			free(v);
		}
		if (strcmp(d->kind, "bundle") == 0) {
			v = xp_str(d->doc, NULL, "/u:Update/u:Properties/@ExplicitlyDeployable");
			assert_string_equal(v, "true");
			free(v);
		}
	}
	assert_true(seen_base > 0);
	assert_true(seen_eula_id > 0);
	assert_true(seen_mandatory > 0);
}

/*---- 3 payloads ----*/

/* 3.1 every File and EulaFile has content/<sha1>.<ext> whose size, SHA-1 and SHA-256 match */
static void test_payloads_match_metadata(void **state)
{
	struct state *st = *state;
	int files = 0, eulas = 0;

	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		xmlXPathObjectPtr o = xp(d->doc, NULL, "/u:Update/u:Files/u:File | "
					 "/u:Update/u:LocalizedPropertiesCollection/u:EulaFile");

		for (int k = 0; k < xp_nr(o); k++) {
			xmlNodePtr f = o->nodesetval->nodeTab[k];
			char *dig = xp_str(d->doc, f, "@Digest");
			char *dig256 = xp_str(d->doc, f, "u:AdditionalDigest[@Algorithm='SHA256']");
			char *name = xp_str(d->doc, f, "@FileName");
			char *alg = xp_str(d->doc, f, "@DigestAlgorithm");
			uint8_t want1[WSUS_SHA1_LEN], want256[WSUS_SHA256_LEN], got1[WSUS_SHA1_LEN], got256[WSUS_SHA256_LEN];
			char hex[2 * WSUS_SHA1_LEN + 1], path[512], *data;
			const char *ext = strrchr(name, '.');
			size_t n, len;

			assert_string_equal(alg, "SHA1");
			assert_int_equal(wsus_b64_decode(dig, strlen(dig), want1, sizeof(want1), &n), 0);
			assert_int_equal(n, WSUS_SHA1_LEN);
			assert_int_equal(wsus_b64_decode(dig256, strlen(dig256), want256, sizeof(want256), &n), 0);
			assert_int_equal(n, WSUS_SHA256_LEN);
			assert_non_null(ext);
			wsus_hex_encode(want1, WSUS_SHA1_LEN, hex);
			snprintf(path, sizeof(path), "%s/content/%s%s", st->a, hex, ext);
			if (access(path, R_OK) != 0)
				fail_msg("%s: no content for %s (%s)", d->name, name, path);
			data = slurp(path, &len);
			assert_int_equal(node_int(f, "Size"), (int)len);
			wsus_sha1(data, len, got1);
			wsus_sha256(data, len, got256);
			assert_memory_equal(got1, want1, WSUS_SHA1_LEN);
			assert_memory_equal(got256, want256, WSUS_SHA256_LEN);
			if (strcmp((const char *)f->name, "EulaFile") == 0) {
				eulas++;
				assert_string_equal(ext, ".txt");
			} else {
				files++;
			}
			free(data);
			free(dig);
			free(dig256);
			free(name);
			free(alg);
		}
		xmlXPathFreeObject(o);
	}
	assert_true(files >= 300);
	assert_true(eulas >= 2);
}

/* 3.2 the content directory holds exactly the referenced payloads, each once */
static void test_content_has_no_orphans(void **state)
{
	struct state *st = *state;
	struct names content = { 0 }, referenced = { 0 };
	char dir[256];
	size_t uniq = 0;

	snprintf(dir, sizeof(dir), "%s/content", st->a);
	list_tree(dir, "", &content);
	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		xmlXPathObjectPtr o = xp(d->doc, NULL, "//u:File/@Digest | //u:EulaFile/@Digest");

		for (int k = 0; k < xp_nr(o); k++) {
			xmlChar *v = xmlNodeGetContent(o->nodesetval->nodeTab[k]);
			uint8_t sha1[WSUS_SHA1_LEN];
			char hex[2 * WSUS_SHA1_LEN + 1];
			size_t n;

			assert_int_equal(wsus_b64_decode((const char *)v, strlen((const char *)v), sha1, sizeof(sha1), &n), 0);
			wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
			names_add(&referenced, hex);
			xmlFree(v);
		}
		xmlXPathFreeObject(o);
	}
	qsort(referenced.v, referenced.n, sizeof(*referenced.v), cmp_str);
	for (size_t i = 0; i < referenced.n; i++)
		uniq += i == 0 || strcmp(referenced.v[i], referenced.v[i - 1]) != 0;
	/* shared payloads (EULAs, revised leaves) make references outnumber files */
	assert_true(referenced.n > uniq);
	assert_int_equal(content.n, uniq);
	for (size_t i = 0; i < content.n; i++) {
		char key[2 * WSUS_SHA1_LEN + 1], *kp = key;

		snprintf(key, sizeof(key), "%.*s", 2 * WSUS_SHA1_LEN, content.v[i]);
		if (!bsearch(&kp, referenced.v, referenced.n, sizeof(*referenced.v), cmp_str))
			fail_msg("content/%s is referenced by no document", content.v[i]);
	}
	names_free(&content);
	names_free(&referenced);
}

/*---- 4 manifest and kinds ----*/

/* 4.1 one manifest line per document, with its type and its number of files */
static void test_manifest_lists_every_revision(void **state)
{
	struct state *st = *state;
	char path[256], *buf, *line, *cursor;

	assert_int_equal(st->manifest_lines, (long)st->n_docs);
	snprintf(path, sizeof(path), "%s/manifest.tsv", st->a);
	buf = slurp(path, NULL);
	cursor = buf;
	next_line(&cursor);
	while ((line = next_line(&cursor)) != NULL) {
		char id[64], type[32], kind[32], *doc_type;
		int rev, files;
		const struct docrec *d;
		xmlXPathObjectPtr o;

		assert_int_equal(sscanf(line, "%63[^\t]\t%d\t%31[^\t]\t%31[^\t]\t%d\t", id, &rev, type, kind, &files), 5);
		d = find_rev(st, id, rev);
		assert_non_null(d);
		doc_type = xp_str(d->doc, NULL, "/u:Update/u:Properties/@UpdateType");
		assert_string_equal(type, doc_type);
		free(doc_type);
		o = xp(d->doc, NULL, "/u:Update/u:Files/u:File | /u:Update/u:LocalizedPropertiesCollection/u:EulaFile");
		assert_int_equal(files, xp_nr(o));
		xmlXPathFreeObject(o);
	}
	free(buf);
}

static long count_kind(const struct state *st, const char *kind)
{
	long n = 0;

	for (size_t i = 0; i < st->n_docs; i++)
		n += strcmp(st->docs[i].kind, kind) == 0;
	return n;
}

/* 4.2 --revisions 500 gives the catalogue shape asked for: fixed categories, real
 * classification GUIDs, ~70% leaves, ~15% bundles, some drivers and non-leaves */
static void test_kinds_as_specified(void **state)
{
	struct state *st = *state;
	static const char *const classes[] = {
		"e6cf1350-c01b-414d-a61f-263d14d133b4", "0fa1201d-4330-4fa8-8ae9-b877473b6441",
		"e0789628-ce08-4437-be74-2495b842f43b", "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83",
		"ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0",
	};
	long leaves = count_kind(st, "leaf") - REVISE;

	assert_int_equal((long)st->n_docs, 500 + REVISE);
	assert_int_equal(count_kind(st, "company"), 1);
	assert_int_equal(count_kind(st, "productfamily"), 2);
	assert_int_equal(count_kind(st, "product"), 6);
	assert_int_equal(count_kind(st, "classification"), 5);
	assert_true(count_kind(st, "detectoid") >= 1);
	assert_true(leaves >= 500 * 60 / 100 && leaves <= 500 * 85 / 100);
	assert_true(count_kind(st, "bundle") >= 500 * 10 / 100 && count_kind(st, "bundle") <= 500 * 20 / 100);
	assert_true(count_kind(st, "driver") >= 3);
	assert_true(count_kind(st, "nonleaf") >= 1);
	for (size_t i = 0; i < 5; i++) {
		const struct docrec *d = find_id(st, classes[i]);

		assert_non_null(d);
		assert_string_equal(d->kind, "classification");
	}
}

/*---- 5 references ----*/

/* 5.1 every bundled (UpdateID, RevisionNumber) is a leaf revision of the output */
static void test_bundled_revisions_exist(void **state)
{
	struct state *st = *state;
	long refs = 0;

	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		xmlXPathObjectPtr o = xp(d->doc, NULL, "/u:Update/u:Relationships/u:BundledUpdates/u:AtLeastOne/u:UpdateIdentity");

		if (xp_nr(o) > 0)
			assert_string_equal(d->kind, "bundle");
		for (int k = 0; k < xp_nr(o); k++) {
			char id[WSUS_GUID_LEN];
			int rev = node_int(o->nodesetval->nodeTab[k], "RevisionNumber");
			const struct docrec *t;

			node_id(o->nodesetval->nodeTab[k], id);
			t = find_rev(st, id, rev);
			if (t == NULL)
				fail_msg("%s bundles %s r%d, which is not in the output", d->name, id, rev);
			assert_string_equal(t->kind, "leaf");
			refs++;
		}
		xmlXPathFreeObject(o);
	}
	assert_true(refs >= count_kind(st, "bundle"));
}

/* 5.2 prerequisites name existing updates; categories only inside IsCategory clauses;
 * IsLeaf agrees with the manifest: non-leaves are named, leaves/bundles/drivers never */
static void test_prerequisites_resolve_and_match_leafness(void **state)
{
	struct state *st = *state;
	struct names named = { 0 };

	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		xmlXPathObjectPtr o = xp(d->doc, NULL, "/u:Update/u:Relationships/u:Prerequisites//u:UpdateIdentity");

		for (int k = 0; k < xp_nr(o); k++) {
			xmlNodePtr n = o->nodesetval->nodeTab[k];
			xmlChar *is_cat = n->parent ? xmlGetProp(n->parent, BAD_CAST "IsCategory") : NULL;
			char id[WSUS_GUID_LEN];
			const struct docrec *t;

			node_id(n, id);
			t = find_id(st, id);
			if (t == NULL)
				fail_msg("%s requires %s, which is not in the output", d->name, id);
			if (is_cat && strcmp((const char *)is_cat, "true") == 0)
				assert_true(strcmp(t->kind, "product") == 0 || strcmp(t->kind, "classification") == 0 ||
					    strcmp(t->kind, "productfamily") == 0 || strcmp(t->kind, "company") == 0);
			else
				assert_true(strcmp(t->kind, "detectoid") == 0 || strcmp(t->kind, "nonleaf") == 0);
			xmlFree(is_cat);
			names_add(&named, id);
		}
		xmlXPathFreeObject(o);
	}
	qsort(named.v, named.n, sizeof(*named.v), cmp_str);
	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		const char *key = d->id;
		int is_named = bsearch(&key, named.v, named.n, sizeof(*named.v), cmp_str) != NULL;

		if (strcmp(d->kind, "nonleaf") == 0 && !is_named)
			fail_msg("non-leaf %s is nobody's prerequisite", d->name);
		if ((strcmp(d->kind, "leaf") == 0 || strcmp(d->kind, "bundle") == 0 ||
		     strcmp(d->kind, "driver") == 0) && is_named)
			fail_msg("%s %s is somebody's prerequisite", d->kind, d->name);
	}
	names_free(&named);
}

/* 5.3 superseded UpdateIDs exist, are older software updates, and chains are present */
static void test_superseded_updates_exist(void **state)
{
	struct state *st = *state;
	long refs = 0;

	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		xmlXPathObjectPtr o = xp(d->doc, NULL, "/u:Update/u:Relationships/u:SupersededUpdates/u:UpdateIdentity");

		for (int k = 0; k < xp_nr(o); k++) {
			char id[WSUS_GUID_LEN];
			const struct docrec *t;

			node_id(o->nodesetval->nodeTab[k], id);
			t = find_id(st, id);
			assert_non_null(t);
			assert_string_not_equal(t->id, d->id);
			assert_string_equal(t->kind, d->kind);
			refs++;
		}
		xmlXPathFreeObject(o);
	}
	assert_true(refs >= 5);
}

/* 5.4 --revise 3: three leaves have a second revision, same files, another title */
static void test_revise_adds_a_new_revision(void **state)
{
	struct state *st = *state;
	int pairs = 0;

	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		const struct docrec *newer = find_rev(st, d->id, d->rev + 1);
		char *t1, *t2, *f1, *f2;

		if (newer == NULL)
			continue;
		pairs++;
		assert_string_equal(d->kind, "leaf");
		assert_string_equal(newer->kind, "leaf");
		t1 = xp_str(d->doc, NULL, "//u:LocalizedProperties[u:Language='en']/u:Title");
		t2 = xp_str(newer->doc, NULL, "//u:LocalizedProperties[u:Language='en']/u:Title");
		assert_string_not_equal(t1, t2);
		f1 = xp_str(d->doc, NULL, "/u:Update/u:Files/u:File[1]/@Digest");
		f2 = xp_str(newer->doc, NULL, "/u:Update/u:Files/u:File[1]/@Digest");
		assert_true(strlen(f1) > 0);
		assert_string_equal(f1, f2);
		free(t1);
		free(t2);
		free(f1);
		free(f2);
	}
	assert_int_equal(pairs, REVISE);
}

/*---- 6 drivers ----*/

static int is_version4(const char *s)
{
	int parts = 0, digits = 0;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			digits++;
		} else if (*s == '.' && digits) {
			parts++;
			digits = 0;
		} else {
			return 0;
		}
	}
	return digits && parts == 3;
}

/* 6.1 driver metadata in the WindowsDriver namespace; HardwareIDs shared by several
 * drivers that differ in score, date or version, so ranking has work to do */
static void test_drivers_share_hardware_ids_and_differ_in_rank(void **state)
{
	struct state *st = *state;
	struct names rows = { 0 };   /* "hwid\tscore\tdate\tversion" */
	int shared_with_diff = 0;

	for (size_t i = 0; i < st->n_docs; i++) {
		const struct docrec *d = &st->docs[i];
		xmlXPathObjectPtr o;
		char *handler;

		if (strcmp(d->kind, "driver") != 0)
			continue;
		handler = xp_str(d->doc, NULL, "/u:Update/u:Properties/@Handler");
		assert_string_equal(handler, NS_DRV);
		free(handler);
		o = xp(d->doc, NULL, "/u:Update/u:ApplicabilityRules/u:Metadata/d:WindowsDriverMetaData");
		assert_true(xp_nr(o) >= 1);
		for (int k = 0; k < xp_nr(o); k++) {
			xmlNodePtr m = o->nodesetval->nodeTab[k];
			char *hw = xp_str(d->doc, m, "@HardwareID"), *date = xp_str(d->doc, m, "@DriverVerDate");
			char *ver = xp_str(d->doc, m, "@DriverVerVersion");
			char *score = xp_str(d->doc, m, "d:FeatureScore[@OperatingSystem='amd64.10.0']/@FeatureScore");
			char *cls = xp_str(d->doc, m, "@Class"), *whql = xp_str(d->doc, m, "@WhqlDriverID");
			char row[512];
			int y, mo, dd;
			char tail;

			assert_true(strlen(hw) > 0 && strlen(cls) > 0 && strlen(whql) > 0);
			assert_int_equal(sscanf(date, "%4d-%2d-%2d%c", &y, &mo, &dd, &tail), 3);
			assert_true(strlen(date) == 10);
			assert_true(is_version4(ver));
			assert_true(strlen(score) > 0);
			snprintf(row, sizeof(row), "%s\t%s\t%s\t%s", hw, score, date, ver);
			names_add(&rows, row);
			free(hw);
			free(date);
			free(ver);
			free(score);
			free(cls);
			free(whql);
		}
		xmlXPathFreeObject(o);
	}
	qsort(rows.v, rows.n, sizeof(*rows.v), cmp_str);
	for (size_t i = 1; i < rows.n; i++) {
		size_t h = strcspn(rows.v[i], "\t");

		if (strncmp(rows.v[i], rows.v[i - 1], h + 1) == 0 && strcmp(rows.v[i], rows.v[i - 1]) != 0)
			shared_with_diff++;
	}
	assert_true(shared_with_diff >= 1);
	names_free(&rows);
}

/*---- 7 command line ----*/

static void assert_one_error_line(const char *err_path)
{
	char *msg = slurp(err_path, NULL);
	char *nl = strchr(msg, '\n');

	assert_true(strncmp(msg, "wsus-gencatalog: ", 17) == 0);
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	free(msg);
}

/* 7.1 bad arguments and a non-empty DIR fail with exactly one line on stderr */
static void test_bad_arguments_fail_with_one_line(void **state)
{
	struct state *st = *state;
	char err[160], fresh[128], manifest[160];
	const char *const cases[][8] = {
		{ NULL },
		{ "--out", fresh, "--revisions", "abc", NULL },
		{ "--out", fresh, "--revisions", "5", NULL },
		{ "--out", fresh, "--seed", "-3", NULL },
		{ "--out", fresh, "--file-size", "10:5", NULL },
		{ "--out", fresh, "--languages", "EN,de", NULL },
		{ "--out", fresh, "--revise", "100000", NULL },
		{ "--out", fresh, "--bogus", NULL },
		{ "--out", fresh, "stray", NULL },
		{ "--out", NULL },
		{ "--out", st->a, NULL },   /* not empty, no --force */
	};
	struct stat sb;

	snprintf(err, sizeof(err), "%s/stderr", st->root);
	snprintf(fresh, sizeof(fresh), "%s/never", st->root);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run_tool(cases[i], err);

		if (rc == 0)
			fail_msg("case %zu was accepted", i);
		assert_true(rc > 0 && rc < 126);
		assert_one_error_line(err);
	}
	assert_int_not_equal(stat(fresh, &sb), 0);
	snprintf(manifest, sizeof(manifest), "%s/manifest.tsv", st->a);
	assert_int_equal(stat(manifest, &sb), 0);
}

/* 7.2 --force regenerates into a used directory: leftovers go, the result is identical */
static void test_force_regenerates_identically(void **state)
{
	struct state *st = *state;
	char err[160], stale[256], stale_payload[256];
	const char *const args[] = { "--seed", "11", "--revisions", REVISIONS, "--revise", "3",
				     "--out", st->b, "--force", NULL };
	FILE *f;

	snprintf(err, sizeof(err), "%s/stderr", st->root);
	snprintf(stale, sizeof(stale), "%s/00000000-0000-0000-0000-000000000000-r1.xml", st->b);
	snprintf(stale_payload, sizeof(stale_payload), "%s/content/0000000000000000000000000000000000000000.cab", st->b);
	f = fopen(stale, "w");
	assert_non_null(f);
	fputs("<stale/>", f);
	fclose(f);
	f = fopen(stale_payload, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(run_tool(args, err), 0);
	assert_int_not_equal(access(stale, F_OK), 0);
	assert_trees_identical(st->a, st->b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_gives_identical_output),
		cmocka_unit_test(test_other_seed_differs),
		cmocka_unit_test(test_documents_are_update_documents),
		cmocka_unit_test(test_handler_data_matches_kind),
		cmocka_unit_test(test_payloads_match_metadata),
		cmocka_unit_test(test_content_has_no_orphans),
		cmocka_unit_test(test_manifest_lists_every_revision),
		cmocka_unit_test(test_kinds_as_specified),
		cmocka_unit_test(test_bundled_revisions_exist),
		cmocka_unit_test(test_prerequisites_resolve_and_match_leafness),
		cmocka_unit_test(test_superseded_updates_exist),
		cmocka_unit_test(test_revise_adds_a_new_revision),
		cmocka_unit_test(test_drivers_share_hardware_ids_and_differ_in_rank),
		cmocka_unit_test(test_bad_arguments_fail_with_one_line),
		cmocka_unit_test(test_force_regenerates_identically),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
