/*
 * protocol_update.c -- one update document (an <Update> in the msus/2002/12/
 * Update namespace) into a struct wsus_update: identity, type, the indexed
 * properties of MS-WSUSSS 3.1.1.1 and MS-WUSP 3.1.1.1, title, KB, files,
 * prerequisites and bundles in CNF, supersedence, driver metadata, and the
 * fragments (protocol_fragment.c). Elements are matched by namespace URI and
 * local name, never by prefix. The caller frees the result with
 * wsus_update_free; on error nothing is returned and everything is released.
 */
#include "protocol.h"
#include "protocol_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Ceiling for prerequisites, bundled revisions, superseded ids, languages and
 * driver rows of one revision: real metadata stays far below it (the largest
 * bundle we know lists a few hundred children). */
#define PROTO_MAX_ROWS 65536

/*---- Small value parsers ----*/

static int is_true(const char *s)
{
	return s != NULL && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

/* Strict decimal in [min, max], surrounding white space allowed (xs:long). */
static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void trim(char *s)
{
	size_t n, i = 0;

	if (s == NULL)
		return;
	while (isspace((unsigned char)s[i]))
		i++;
	n = strlen(s + i);
	memmove(s, s + i, n + 1);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static void lower(char *s)
{
	for (; s != NULL && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The array v (n used, *cap allocated) with room for one more element of
 * size elem: v itself or its reallocation; NULL with *rc set on failure (v is
 * then still valid and owned by the caller). */
static void *grow(void *v, size_t *cap, size_t n, size_t elem, size_t limit, int *rc)
{
	size_t ncap;
	void *nv;

	*rc = 0;
	if (n >= limit) {
		*rc = -E2BIG;
		return NULL;
	}
	if (v != NULL && n < *cap)
		return v;
	ncap = *cap ? 2 * *cap : 8;
	if (ncap > limit)
		ncap = limit;
	nv = realloc(v, ncap * elem);
	if (nv == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	*cap = ncap;
	return nv;
}

/* *out = attribute value copied; -ENOMEM only. */
static int get_attr(const xmlNode *n, const char *name, char **out, struct err *e)
{
	int rc = protocol_attr(n, name, out);

	return rc < 0 ? err_set(e, rc, "out of memory reading attribute %s", name) : 0;
}

static int get_text(const xmlNode *n, char **out, struct err *e)
{
	int rc = protocol_text(n, out);

	if (rc < 0)
		return err_set(e, rc, "out of memory reading element %s", (const char *)n->name);
	trim(*out);
	return 0;
}

/* Attribute `name` of n, which must be a GUID, normalised into out. */
static int get_guid(const xmlNode *n, const char *name, char out[WSUS_GUID_LEN], struct err *e)
{
	char *v = NULL;
	int rc = get_attr(n, name, &v, e);

	if (rc < 0)
		return rc;
	if (v == NULL)
		return err_set(e, -EINVAL, "%s without %s", (const char *)n->name, name);
	rc = wsus_guid_normalize(v, out);
	if (rc < 0)
		err_set(e, -EINVAL, "%s %s=\"%.64s\" is not a GUID", (const char *)n->name, name, v);
	free(v);
	return rc;
}

static int get_i64(const xmlNode *n, const char *name, int64_t min, int64_t max,
		   int64_t *out, int *present, struct err *e)
{
	char *v = NULL;
	int rc = get_attr(n, name, &v, e);

	*present = 0;
	if (rc < 0 || v == NULL)
		return rc;
	rc = parse_i64(v, min, max, out);
	if (rc < 0)
		err_set(e, -EINVAL, "%s %s=\"%.32s\" is not a valid number", (const char *)n->name, name, v);
	else
		*present = 1;
	free(v);
	return rc;
}

/*---- Identity and Properties ----*/

static int parse_identity(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	const xmlNode *id = protocol_child(root, PROTO_NS_UPDATE, "UpdateIdentity");
	int64_t rev = 0;
	int present, rc;

	if (id == NULL)
		return err_set(e, -EINVAL, "update document has no UpdateIdentity");
	rc = get_guid(id, "UpdateID", u->update_id, e);
	if (rc < 0)
		return rc;
	rc = get_i64(id, "RevisionNumber", 0, INT_MAX, &rev, &present, e);
	if (rc < 0)
		return rc;
	if (!present)
		return err_set(e, -EINVAL, "UpdateIdentity without RevisionNumber");
	u->revision = (int)rev;
	return 0;
}

static int parse_languages(const xmlNode *props, struct wsus_update *u, struct err *e)
{
	size_t cap = 0;

	for (const xmlNode *l = protocol_child(props, PROTO_NS_UPDATE, "Language"); l != NULL;
	     l = protocol_next(l, PROTO_NS_UPDATE, "Language")) {
		char *v = NULL;
		int rc;
		char **nv = grow(u->languages, &cap, u->n_languages, sizeof(char *), PROTO_MAX_ROWS, &rc);

		if (nv == NULL)
			return err_set(e, rc, "too many Properties/Language elements");
		u->languages = nv;
		rc = get_text(l, &v, e);
		if (rc < 0)
			return rc;
		lower(v);
		u->languages[u->n_languages++] = v;
	}
	return 0;
}

static int parse_properties(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	const xmlNode *p = protocol_child(root, PROTO_NS_UPDATE, "Properties"), *c;
	char *v = NULL;
	int present, rc;

	if (p == NULL)
		return err_set(e, -EINVAL, "update document has no Properties");
	rc = get_attr(p, "UpdateType", &v, e);
	if (rc < 0)
		return rc;
	u->type = wsus_update_type_parse(v);
	if (u->type == WSUS_UT_UNKNOWN) {
		rc = err_set(e, -EINVAL, "unknown UpdateType \"%.32s\"", v ? v : "(none)");
		free(v);
		return rc;
	}
	free(v);
	v = NULL;

	if ((rc = get_attr(p, "Handler", &u->handler, e)) < 0 ||
	    (rc = get_attr(p, "DefaultPropertiesLanguage", &u->default_language, e)) < 0 ||
	    (rc = get_attr(p, "CreationDate", &u->creation_date, e)) < 0 ||
	    (rc = get_attr(p, "PublicationState", &u->publication_state, e)) < 0 ||
	    (rc = get_attr(p, "EulaID", &u->eula_id, e)) < 0)
		return rc;
	if (u->eula_id != NULL) {
		char g[WSUS_GUID_LEN];

		/* A GUID in practice: store it in our canonical form. */
		if (wsus_guid_normalize(u->eula_id, g) == 0)
			memcpy(u->eula_id, g, WSUS_GUID_LEN);
	}

	rc = get_attr(p, "IsMandatory", &v, e);
	if (rc < 0)
		return rc;
	u->is_mandatory = is_true(v);
	free(v);
	v = NULL;
	rc = get_attr(p, "ExplicitlyDeployable", &v, e);
	if (rc < 0)
		return rc;
	u->explicitly_deployable = is_true(v);
	free(v);

	rc = get_i64(p, "MaxDownloadSize", 0, INT64_MAX, &u->max_download_size, &present, e);
	if (rc < 0)
		return rc;
	rc = get_i64(p, "MinDownloadSize", 0, INT64_MAX, &u->min_download_size, &present, e);
	if (rc < 0)
		return rc;

	c = protocol_child(p, PROTO_NS_UPDATE, "KBArticleID");
	if (c != NULL && (rc = get_text(c, &u->kb_article, e)) < 0)
		return rc;
	c = protocol_child(p, PROTO_NS_UPDATE, "SecuredFragment");
	if (c != NULL && (rc = get_text(c, &u->secured_fragment, e)) < 0)
		return rc;
	return parse_languages(p, u, e);
}

/* Title and description in the default language, else "en", else the first. */
static int parse_title(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	const xmlNode *coll = protocol_child(root, PROTO_NS_UPDATE, "LocalizedPropertiesCollection");
	const xmlNode *best = NULL, *lp;
	int best_rank = 0, rc;

	if (coll == NULL)
		return 0;
	for (lp = protocol_child(coll, PROTO_NS_UPDATE, "LocalizedProperties"); lp != NULL;
	     lp = protocol_next(lp, PROTO_NS_UPDATE, "LocalizedProperties")) {
		const xmlNode *ln = protocol_child(lp, PROTO_NS_UPDATE, "Language");
		char *lang = NULL;
		int rank = 1;

		if (ln != NULL) {
			rc = get_text(ln, &lang, e);
			if (rc < 0)
				return rc;
			if (u->default_language != NULL && strcasecmp(lang, u->default_language) == 0)
				rank = 3;
			else if (strcasecmp(lang, "en") == 0)
				rank = 2;
			free(lang);
		}
		if (rank > best_rank) {
			best = lp;
			best_rank = rank;
		}
	}
	if (best == NULL)
		return 0;
	lp = protocol_child(best, PROTO_NS_UPDATE, "Title");
	if (lp != NULL && (rc = get_text(lp, &u->title, e)) < 0)
		return rc;
	lp = protocol_child(best, PROTO_NS_UPDATE, "Description");
	if (lp != NULL && (rc = get_text(lp, &u->description, e)) < 0)
		return rc;
	return 0;
}

/*---- Relationships ----*/

static int add_prereq(struct wsus_update *u, size_t *cap, const xmlNode *id, int clause,
		      int is_category, struct err *e)
{
	struct wsus_prereq *p;
	int rc;

	p = grow(u->prereqs, cap, u->n_prereqs, sizeof(*p), PROTO_MAX_ROWS, &rc);
	if (p == NULL)
		return err_set(e, rc, "too many prerequisites");
	u->prereqs = p;
	p = &u->prereqs[u->n_prereqs];
	memset(p, 0, sizeof(*p));
	rc = get_guid(id, "UpdateID", p->update_id, e);
	if (rc < 0)
		return rc;
	p->clause = clause;
	p->is_category = is_category;
	u->n_prereqs++;
	return 0;
}

/* CNF: each AtLeastOne is one OR-clause; each bare UpdateIdentity its own clause. */
static int parse_prereqs(const xmlNode *pre, struct wsus_update *u, struct err *e)
{
	size_t cap = 0;
	int clause = 0, rc;

	for (const xmlNode *c = pre->children; c != NULL; c = c->next) {
		if (protocol_is_elem(c, PROTO_NS_UPDATE, "UpdateIdentity")) {
			rc = add_prereq(u, &cap, c, clause++, 0, e);
			if (rc < 0)
				return rc;
		} else if (protocol_is_elem(c, PROTO_NS_UPDATE, "AtLeastOne")) {
			char *cat = NULL;
			int is_cat, members = 0;

			rc = get_attr(c, "IsCategory", &cat, e);
			if (rc < 0)
				return rc;
			is_cat = is_true(cat);
			free(cat);
			for (const xmlNode *id = protocol_child(c, PROTO_NS_UPDATE, "UpdateIdentity");
			     id != NULL; id = protocol_next(id, PROTO_NS_UPDATE, "UpdateIdentity")) {
				rc = add_prereq(u, &cap, id, clause, is_cat, e);
				if (rc < 0)
					return rc;
				members++;
			}
			if (members > 0)
				clause++;
		}
	}
	return 0;
}

static int add_bundled(struct wsus_update *u, size_t *cap, const xmlNode *id, int clause,
		       struct err *e)
{
	struct wsus_bundled *b;
	int64_t rev = 0;
	int present, rc;

	b = grow(u->bundled, cap, u->n_bundled, sizeof(*b), PROTO_MAX_ROWS, &rc);
	if (b == NULL)
		return err_set(e, rc, "too many bundled updates");
	u->bundled = b;
	b = &u->bundled[u->n_bundled];
	memset(b, 0, sizeof(*b));
	rc = get_guid(id, "UpdateID", b->update_id, e);
	if (rc < 0)
		return rc;
	rc = get_i64(id, "RevisionNumber", 0, INT_MAX, &rev, &present, e);
	if (rc < 0)
		return rc;
	if (!present)
		return err_set(e, -EINVAL, "bundled update %s without RevisionNumber", b->update_id);
	b->revision = (int)rev;
	b->clause = clause;
	u->n_bundled++;
	return 0;
}

static int parse_bundled(const xmlNode *bu, struct wsus_update *u, struct err *e)
{
	size_t cap = 0;
	int clause = 0, rc;

	for (const xmlNode *c = bu->children; c != NULL; c = c->next) {
		if (protocol_is_elem(c, PROTO_NS_UPDATE, "UpdateIdentity")) {
			rc = add_bundled(u, &cap, c, clause++, e);
			if (rc < 0)
				return rc;
		} else if (protocol_is_elem(c, PROTO_NS_UPDATE, "AtLeastOne")) {
			int members = 0;

			for (const xmlNode *id = protocol_child(c, PROTO_NS_UPDATE, "UpdateIdentity");
			     id != NULL; id = protocol_next(id, PROTO_NS_UPDATE, "UpdateIdentity")) {
				rc = add_bundled(u, &cap, id, clause, e);
				if (rc < 0)
					return rc;
				members++;
			}
			if (members > 0)
				clause++;
		}
	}
	return 0;
}

static int parse_superseded(const xmlNode *su, struct wsus_update *u, struct err *e)
{
	size_t cap = 0;

	for (const xmlNode *id = protocol_child(su, PROTO_NS_UPDATE, "UpdateIdentity"); id != NULL;
	     id = protocol_next(id, PROTO_NS_UPDATE, "UpdateIdentity")) {
		int rc;
		char (*nv)[WSUS_GUID_LEN] = grow(u->superseded, &cap, u->n_superseded,
						 sizeof(u->superseded[0]), PROTO_MAX_ROWS, &rc);

		if (nv == NULL)
			return err_set(e, rc, "too many superseded updates");
		u->superseded = nv;
		rc = get_guid(id, "UpdateID", u->superseded[u->n_superseded], e);
		if (rc < 0)
			return rc;
		u->n_superseded++;
	}
	return 0;
}

static int parse_relationships(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	const xmlNode *rel = protocol_child(root, PROTO_NS_UPDATE, "Relationships"), *c;
	int rc;

	if (rel == NULL)
		return 0;
	c = protocol_child(rel, PROTO_NS_UPDATE, "Prerequisites");
	if (c != NULL && (rc = parse_prereqs(c, u, e)) < 0)
		return err_prefix(e, "Prerequisites"), rc;
	c = protocol_child(rel, PROTO_NS_UPDATE, "BundledUpdates");
	if (c != NULL && (rc = parse_bundled(c, u, e)) < 0)
		return err_prefix(e, "BundledUpdates"), rc;
	c = protocol_child(rel, PROTO_NS_UPDATE, "SupersededUpdates");
	if (c != NULL && (rc = parse_superseded(c, u, e)) < 0)
		return err_prefix(e, "SupersededUpdates"), rc;
	return 0;
}

/*---- Files ----*/

/* Base64 text that must decode to exactly n bytes. */
static int decode_digest(const char *b64, uint8_t *out, size_t n)
{
	uint8_t tmp[64];
	size_t got = 0;

	if (b64 == NULL || wsus_b64_decode(b64, strlen(b64), tmp, sizeof(tmp), &got) < 0 || got != n)
		return -EINVAL;
	memcpy(out, tmp, n);
	return 0;
}

static int parse_additional_digests(const xmlNode *fn, struct wsus_file *f, struct err *e)
{
	for (const xmlNode *ad = protocol_child(fn, PROTO_NS_UPDATE, "AdditionalDigest"); ad != NULL;
	     ad = protocol_next(ad, PROTO_NS_UPDATE, "AdditionalDigest")) {
		char *alg = NULL, *val = NULL;
		int rc = get_attr(ad, "Algorithm", &alg, e);

		if (rc < 0)
			return rc;
		/* Other algorithms may appear one day: they are kept in the XML and
		 * fragments, but only SHA-256 is indexed. */
		if (alg == NULL || strcasecmp(alg, "SHA256") != 0) {
			free(alg);
			continue;
		}
		free(alg);
		rc = get_text(ad, &val, e);
		if (rc < 0)
			return rc;
		rc = decode_digest(val, f->sha256, WSUS_SHA256_LEN);
		free(val);
		if (rc < 0)
			return err_set(e, -EINVAL, "AdditionalDigest SHA256 is not 32 bytes of base64");
		f->has_sha256 = 1;
	}
	return 0;
}

/* One File or EulaFile element into a new entry of u->files. */
static int parse_file(const xmlNode *fn, int is_eula, size_t *cap, struct wsus_update *u,
		      struct err *e)
{
	struct wsus_file *f;
	char *v = NULL;
	int present, rc;

	f = grow(u->files, cap, u->n_files, sizeof(*f), WSUS_MAX_FILES_PER_UPDATE, &rc);
	if (f == NULL)
		return err_set(e, rc, "more than %d files", WSUS_MAX_FILES_PER_UPDATE);
	u->files = f;
	f = &u->files[u->n_files++];
	memset(f, 0, sizeof(*f));
	f->size = -1;
	f->is_eula = is_eula;

	rc = get_attr(fn, "Digest", &v, e);
	if (rc < 0)
		return rc;
	rc = decode_digest(v, f->sha1, WSUS_SHA1_LEN);
	free(v);
	v = NULL;
	if (rc < 0)
		return err_set(e, -EINVAL, "Digest is not 20 bytes of base64 (a SHA-1)");
	rc = get_attr(fn, "DigestAlgorithm", &v, e);
	if (rc < 0)
		return rc;
	if (v != NULL && strcasecmp(v, "SHA1") != 0) {
		rc = err_set(e, -EINVAL, "DigestAlgorithm \"%.32s\" is not SHA1", v);
		free(v);
		return rc;
	}
	free(v);
	if ((rc = get_attr(fn, "FileName", &f->file_name, e)) < 0 ||
	    (rc = get_attr(fn, "Modified", &f->modified, e)) < 0 ||
	    (rc = get_attr(fn, "PatchingType", &f->patching_type, e)) < 0)
		return rc;
	if (f->file_name == NULL || f->file_name[0] == '\0')
		return err_set(e, -EINVAL, "file without FileName");
	rc = get_i64(fn, "Size", 0, INT64_MAX, &f->size, &present, e);
	if (rc < 0)
		return rc;
	v = NULL;
	rc = get_attr(fn, "IsEncrypted", &v, e);
	if (rc < 0)
		return rc;
	f->is_encrypted = is_true(v);
	free(v);
	if (is_eula && (rc = get_attr(fn, "Language", &f->language, e)) < 0)
		return rc;
	return parse_additional_digests(fn, f, e);
}

static int parse_files(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	const xmlNode *files = protocol_child(root, PROTO_NS_UPDATE, "Files");
	const xmlNode *coll = protocol_child(root, PROTO_NS_UPDATE, "LocalizedPropertiesCollection");
	size_t cap = 0;
	int rc;

	for (const xmlNode *f = protocol_child(files, PROTO_NS_UPDATE, "File"); f != NULL;
	     f = protocol_next(f, PROTO_NS_UPDATE, "File")) {
		rc = parse_file(f, 0, &cap, u, e);
		if (rc < 0)
			return err_prefix(e, "File %zu", u->n_files), rc;
	}
	for (const xmlNode *f = protocol_child(coll, PROTO_NS_UPDATE, "EulaFile"); f != NULL;
	     f = protocol_next(f, PROTO_NS_UPDATE, "EulaFile")) {
		rc = parse_file(f, 1, &cap, u, e);
		if (rc < 0)
			return err_prefix(e, "EulaFile"), rc;
	}
	return 0;
}

/*---- Category and driver handler data ----*/

static int parse_category(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	const xmlNode *hsd = protocol_child(root, PROTO_NS_UPDATE, "HandlerSpecificData");
	/* The Category handler namespace is not fixed by the specs: match the
	 * local name inside HandlerSpecificData. */
	const xmlNode *ci = protocol_child(hsd, NULL, "CategoryInformation");

	if (ci == NULL)
		return 0;
	return get_attr(ci, "CategoryType", &u->category_type, e);
}

static int push_str(char ***v, size_t *n, size_t *cap, char *s, struct err *e)
{
	int rc;
	char **nv = grow(*v, cap, *n, sizeof(char *), PROTO_MAX_ROWS, &rc);

	if (nv == NULL) {
		free(s);
		return err_set(e, rc, "too many driver hardware ids");
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

/* CHIDs are GUIDs: store them canonical when they are, as given otherwise. */
static int get_chid(const xmlNode *n, char **out, struct err *e)
{
	char g[WSUS_GUID_LEN];
	int rc = get_text(n, out, e);

	if (rc == 0 && strlen(*out) >= WSUS_GUID_LEN - 1 && wsus_guid_normalize(*out, g) == 0)
		memcpy(*out, g, WSUS_GUID_LEN);
	return rc;
}

static int parse_driver_children(const xmlNode *m, struct wsus_driver *d, struct err *e)
{
	size_t cap_s = 0, cap_d = 0, cap_t = 0;
	int rc = 0;

	for (const xmlNode *c = m->children; c != NULL && rc == 0; c = c->next) {
		char *s = NULL;

		if (protocol_is_elem(c, PROTO_NS_DRIVER, "FeatureScore")) {
			struct wsus_feature_score *ns;
			int64_t score = 0;
			int present;

			ns = grow(d->scores, &cap_s, d->n_scores, sizeof(*ns), PROTO_MAX_ROWS, &rc);
			if (ns == NULL)
				return err_set(e, rc, "too many FeatureScore elements");
			d->scores = ns;
			rc = get_i64(c, "FeatureScore", 0, 255, &score, &present, e);
			if (rc < 0)
				return rc;
			rc = get_attr(c, "OperatingSystem", &s, e);
			if (rc < 0)
				return rc;
			if (s == NULL || !present) {
				free(s);
				return err_set(e, -EINVAL, "FeatureScore without OperatingSystem or FeatureScore");
			}
			d->scores[d->n_scores].os = s;
			d->scores[d->n_scores].score = (int)score;
			d->n_scores++;
		} else if (protocol_is_elem(c, PROTO_NS_DRIVER, "DistributionComputerHardwareId")) {
			rc = get_chid(c, &s, e);
			if (rc == 0)
				rc = push_str(&d->distribution_chids, &d->n_distribution_chids, &cap_d, s, e);
		} else if (protocol_is_elem(c, PROTO_NS_DRIVER, "TargetComputerHardwareId")) {
			rc = get_chid(c, &s, e);
			if (rc == 0)
				rc = push_str(&d->target_chids, &d->n_target_chids, &cap_t, s, e);
		}
	}
	return rc;
}

static int parse_driver(const xmlNode *m, struct wsus_driver *d, struct err *e)
{
	int present, rc;

	d->whql_driver_id = -1;
	if ((rc = get_attr(m, "HardwareID", &d->hardware_id, e)) < 0 ||
	    (rc = get_attr(m, "DriverVerDate", &d->driver_ver_date, e)) < 0 ||
	    (rc = get_attr(m, "DriverVerVersion", &d->driver_ver_version, e)) < 0 ||
	    (rc = get_attr(m, "Class", &d->class_name, e)) < 0 ||
	    (rc = get_attr(m, "Manufacturer", &d->manufacturer, e)) < 0 ||
	    (rc = get_attr(m, "Provider", &d->provider, e)) < 0 ||
	    (rc = get_attr(m, "Model", &d->model, e)) < 0 ||
	    (rc = get_attr(m, "Company", &d->company, e)) < 0)
		return rc;
	if (d->hardware_id == NULL || d->hardware_id[0] == '\0')
		return err_set(e, -EINVAL, "WindowsDriverMetaData without HardwareID");
	rc = get_i64(m, "WhqlDriverID", 0, INT64_MAX, &d->whql_driver_id, &present, e);
	if (rc < 0)
		return rc;
	return parse_driver_children(m, d, e);
}

static int parse_drivers(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	const xmlNode *ar = protocol_child(root, PROTO_NS_UPDATE, "ApplicabilityRules");
	const xmlNode *meta = protocol_child(ar, PROTO_NS_UPDATE, "Metadata");
	size_t cap = 0;

	for (const xmlNode *m = protocol_child(meta, PROTO_NS_DRIVER, "WindowsDriverMetaData");
	     m != NULL; m = protocol_next(m, PROTO_NS_DRIVER, "WindowsDriverMetaData")) {
		int rc;
		struct wsus_driver *nd = grow(u->drivers, &cap, u->n_drivers, sizeof(*nd),
					      PROTO_MAX_ROWS, &rc);

		if (nd == NULL)
			return err_set(e, rc, "too many WindowsDriverMetaData elements");
		u->drivers = nd;
		memset(&u->drivers[u->n_drivers], 0, sizeof(u->drivers[0]));
		u->n_drivers++;
		rc = parse_driver(m, &u->drivers[u->n_drivers - 1], e);
		if (rc < 0)
			return err_prefix(e, "WindowsDriverMetaData %zu", u->n_drivers), rc;
	}
	return 0;
}

/*---- Entry point ----*/

static int parse_tree(xmlDocPtr doc, struct wsus_update *u, struct err *e)
{
	const xmlNode *root = xmlDocGetRootElement(doc);
	int rc;

	if (!protocol_is_elem(root, PROTO_NS_UPDATE, "Update"))
		return err_set(e, -EINVAL, "root element is {%s}%s, not an Update in %s",
			       root->ns && root->ns->href ? (const char *)root->ns->href : "",
			       (const char *)root->name, PROTO_NS_UPDATE);
	rc = parse_identity(root, u, e);
	if (rc < 0)
		return rc;
	if ((rc = parse_properties(root, u, e)) < 0 ||
	    (rc = parse_title(root, u, e)) < 0 ||
	    (rc = parse_category(root, u, e)) < 0 ||
	    (rc = parse_relationships(root, u, e)) < 0 ||
	    (rc = parse_files(root, u, e)) < 0 ||
	    (rc = parse_drivers(root, u, e)) < 0 ||
	    (rc = protocol_fragments_derive(doc, u, e)) < 0)
		err_prefix(e, "update %s r%d", u->update_id, u->revision);
	return rc;
}

int protocol_update_parse(const char *xml, size_t len, struct wsus_update **out, struct err *e)
{
	struct wsus_update *u = NULL;
	xmlDocPtr doc;
	int rc;

	doc = protocol_xml_parse(xml, len, e);
	if (doc == NULL)
		return e && e->code ? e->code : -EINVAL;
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	u->max_download_size = -1;
	u->min_download_size = -1;
	rc = parse_tree(doc, u, e);
	if (rc < 0)
		goto fail;
	u->xml = malloc(len + 1);
	if (u->xml == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory keeping the update XML");
		goto fail;
	}
	memcpy(u->xml, xml, len);
	u->xml[len] = '\0';
	u->xml_len = len;
	xmlFreeDoc(doc);
	*out = u;
	return 0;
fail:
	wsus_update_free(u);
	xmlFreeDoc(doc);
	return rc;
}
