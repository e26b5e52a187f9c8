/*
 * protocol_fragment.c -- the fragments a WSUS hands to clients (MS-WUSP
 * 3.1.1.1 "Metadata"), derived once from the update document:
 *   Core      UpdateIdentity, Properties (only UpdateType, ExplicitlyDeployable,
 *             AutoSelectOnWebSites, OSUpgrade, EulaID, and no child element:
 *             SupportUrl, KBArticleID, InstallationBehavior... are Extended's,
 *             as a Windows Server WSUS sends them), Relationships,
 *             ApplicabilityRules -- a run of sibling elements, not a document;
 *   Extended  Properties renamed ExtendedProperties minus the Core/publishing
 *             attributes, then Files, then HandlerSpecificData;
 *   LocalizedProperties (one per language) and Eula (one per EulaFile).
 * Our own serialiser writes them: namespace declarations and prefixes go,
 * elements of the Base/Msi applicability-rule and WindowsDriver namespaces
 * become "b."/"m."/"d." + local name, empty elements are written "<X a="v" />".
 * Fragment texts are malloc'd and owned by the wsus_update they are added to.
 */
#include "protocol.h"
#include "protocol_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Attributes of Properties that Core keeps (all others go). */
static const char *const core_keep[] = {
	"UpdateType", "ExplicitlyDeployable", "AutoSelectOnWebSites", "OSUpgrade", "EulaID", NULL,
};

/* Attributes of Properties that Extended drops. PerUser is not in the spec's
 * list; Microsoft's reference server drops it and so do we. */
static const char *const extended_drop[] = {
	"UpdateType", "ExplicitlyDeployable", "AutoSelectOnWebSites", "EulaID",
	"PublicationState", "PublisherID", "CreationDate", "IsPublic", "LegacyName",
	"DetectoidType", "OSUpgrade", "PerUser", NULL,
};

/* How the top element of a part is written; its descendants are written whole. */
struct part_style {
	const char *rename;        /* element name to use instead of its own, or NULL */
	const char *const *keep;   /* only these attributes, or NULL for all */
	const char *const *drop;   /* all but these attributes, or NULL */
	int bare;                  /* its attributes only: no children, no text */
};

struct ser {
	struct wsus_buf *b;
	int core;  /* writing Core: WindowsDriverMetaData keeps only its attributes */
};

static int in_list(const char *const *list, const char *s)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/*---- Escaping ----*/

/* Attribute values: the markup characters and the white space that an XML
 * parser would otherwise normalise to plain spaces. */
static int put_attr_value(struct wsus_buf *b, const char *s)
{
	size_t start = 0, i;
	int rc = 0;

	for (i = 0; s[i] != '\0' && rc == 0; i++) {
		const char *rep;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\t': rep = "&#x9;"; break;
		case '\n': rep = "&#xA;"; break;
		case '\r': rep = "&#xD;"; break;
		default: continue;
		}
		rc = wsus_buf_append(b, s + start, i - start);
		if (rc == 0)
			rc = wsus_buf_appends(b, rep);
		start = i + 1;
	}
	if (rc == 0)
		rc = wsus_buf_append(b, s + start, i - start);
	return rc;
}

/* Character data: markup characters, and CR, which a parser would drop. */
static int put_text(struct wsus_buf *b, const char *s)
{
	size_t start = 0, i;
	int rc = 0;

	for (i = 0; s[i] != '\0' && rc == 0; i++) {
		const char *rep;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '\r': rep = "&#xD;"; break;
		default: continue;
		}
		rc = wsus_buf_append(b, s + start, i - start);
		if (rc == 0)
			rc = wsus_buf_appends(b, rep);
		start = i + 1;
	}
	if (rc == 0)
		rc = wsus_buf_append(b, s + start, i - start);
	return rc;
}

/*---- Serialiser ----*/

static int put_name(struct wsus_buf *b, const xmlNode *n, const char *rename)
{
	const char *href = n->ns != NULL && n->ns->href != NULL ? (const char *)n->ns->href : "";
	int rc = 0;

	if (rename != NULL)
		return wsus_buf_appends(b, rename);
	if (strcmp(href, PROTO_NS_BASE) == 0)
		rc = wsus_buf_appends(b, "b.");
	else if (strcmp(href, PROTO_NS_MSI) == 0)
		rc = wsus_buf_appends(b, "m.");
	else if (strcmp(href, PROTO_NS_DRIVER) == 0)
		rc = wsus_buf_appends(b, "d.");
	if (rc == 0)
		rc = wsus_buf_appends(b, (const char *)n->name);
	return rc;
}

static int attr_wanted(const xmlAttr *a, const struct part_style *st)
{
	const char *name = (const char *)a->name;

	if (st != NULL && st->keep != NULL && !in_list(st->keep, name))
		return 0;
	if (st != NULL && st->drop != NULL && in_list(st->drop, name))
		return 0;
	return 1;
}

/* With prefixes gone, two attributes (say x:type and type) could share a
 * name; only the first is written so that the fragment stays well-formed. */
static int attr_shadowed(const xmlAttr *a, const struct part_style *st)
{
	for (const xmlAttr *p = a->parent->properties; p != NULL && p != a; p = p->next)
		if (attr_wanted(p, st) && strcmp((const char *)p->name, (const char *)a->name) == 0)
			return 1;
	return 0;
}

static int put_attrs(struct wsus_buf *b, const xmlNode *n, const struct part_style *st)
{
	for (const xmlAttr *a = n->properties; a != NULL; a = a->next) {
		xmlChar *v;
		int rc;

		if (!attr_wanted(a, st) || attr_shadowed(a, st))
			continue;
		v = a->children != NULL ? xmlNodeListGetString(n->doc, a->children, 1) : NULL;
		if (a->children != NULL && v == NULL)
			return -ENOMEM;
		rc = wsus_buf_printf(b, " %s=\"", (const char *)a->name);
		if (rc == 0)
			rc = put_attr_value(b, v ? (const char *)v : "");
		if (rc == 0)
			rc = wsus_buf_appends(b, "\"");
		xmlFree(v);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Core sends driver metadata without its children (FeatureScore, CHIDs): the
 * server matches those itself, as Microsoft's reference server does. */
static int drop_children(const struct ser *s, const xmlNode *n)
{
	return s->core && protocol_is_elem(n, PROTO_NS_DRIVER, "WindowsDriverMetaData") &&
	       protocol_is_elem(n->parent, PROTO_NS_UPDATE, "Metadata");
}

static int has_content(const xmlNode *n)
{
	for (const xmlNode *c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE || c->type == XML_TEXT_NODE ||
		    c->type == XML_CDATA_SECTION_NODE)
			return 1;
	return 0;
}

/* Comments and processing instructions are not carried into fragments.
 * Recursion depth is bounded by WSUS_MAX_XML_DEPTH, checked at parse time. */
static int put_elem(struct ser *s, const xmlNode *n, const struct part_style *st)
{
	int rc;

	rc = wsus_buf_appends(s->b, "<");
	if (rc == 0)
		rc = put_name(s->b, n, st ? st->rename : NULL);
	if (rc == 0)
		rc = put_attrs(s->b, n, st);
	if (rc < 0)
		return rc;
	if ((st != NULL && st->bare) || drop_children(s, n) || !has_content(n))
		return wsus_buf_appends(s->b, " />");
	rc = wsus_buf_appends(s->b, ">");
	for (const xmlNode *c = n->children; c != NULL && rc == 0; c = c->next) {
		if (c->type == XML_ELEMENT_NODE)
			rc = put_elem(s, c, NULL);
		else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
			 c->content != NULL)
			rc = put_text(s->b, (const char *)c->content);
	}
	if (rc == 0)
		rc = wsus_buf_appends(s->b, "</");
	if (rc == 0)
		rc = put_name(s->b, n, st ? st->rename : NULL);
	if (rc == 0)
		rc = wsus_buf_appends(s->b, ">");
	return rc;
}

/*---- Fragments ----*/

static int add_fragment(struct wsus_update *u, enum wsus_fragment_type type, const char *locale,
			struct wsus_buf *b, struct err *e)
{
	struct wsus_fragment *nv, *f;
	char *loc = NULL;

	if (locale != NULL) {
		loc = strdup(locale);
		if (loc == NULL)
			return err_set(e, -ENOMEM, "out of memory");
	}
	nv = realloc(u->fragments, (u->n_fragments + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(loc);
		return err_set(e, -ENOMEM, "out of memory");
	}
	u->fragments = nv;
	f = &nv[u->n_fragments++];
	f->type = type;
	f->locale = loc;
	f->xml = wsus_buf_steal(b, &f->len);
	return f->xml ? 0 : err_set(e, -ENOMEM, "out of memory");
}

static int buf_error(int rc, const char *what, struct err *e)
{
	return err_set(e, rc, "%s fragment: %s", what,
		       rc == -E2BIG ? "larger than the limit" : "out of memory");
}

static int derive_core(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	static const struct part_style props = { .keep = core_keep, .bare = 1 };
	const xmlNode *id = protocol_child(root, PROTO_NS_UPDATE, "UpdateIdentity");
	const xmlNode *p = protocol_child(root, PROTO_NS_UPDATE, "Properties");
	const xmlNode *rel = protocol_child(root, PROTO_NS_UPDATE, "Relationships");
	const xmlNode *ar = protocol_child(root, PROTO_NS_UPDATE, "ApplicabilityRules");
	struct wsus_buf b;
	struct ser s = { .b = &b, .core = 1 };
	int rc;

	if (id == NULL || p == NULL)
		return err_set(e, -EINVAL, "Core fragment needs UpdateIdentity and Properties");
	wsus_buf_init(&b, PROTO_MAX_FRAGMENT);
	rc = put_elem(&s, id, NULL);
	if (rc == 0)
		rc = put_elem(&s, p, &props);
	if (rc == 0 && rel != NULL)
		rc = put_elem(&s, rel, NULL);
	if (rc == 0 && ar != NULL)
		rc = put_elem(&s, ar, NULL);
	if (rc < 0) {
		wsus_buf_free(&b);
		return buf_error(rc, "Core", e);
	}
	return add_fragment(u, WSUS_FRAG_CORE, NULL, &b, e);
}

static int derive_extended(const xmlNode *root, struct wsus_update *u, struct err *e)
{
	static const struct part_style props = { .rename = "ExtendedProperties", .drop = extended_drop };
	const xmlNode *p = protocol_child(root, PROTO_NS_UPDATE, "Properties");
	const xmlNode *files = protocol_child(root, PROTO_NS_UPDATE, "Files");
	const xmlNode *hsd = protocol_child(root, PROTO_NS_UPDATE, "HandlerSpecificData");
	struct wsus_buf b;
	struct ser s = { .b = &b, .core = 0 };
	int rc;

	if (p == NULL)
		return err_set(e, -EINVAL, "Extended fragment needs Properties");
	wsus_buf_init(&b, PROTO_MAX_FRAGMENT);
	rc = put_elem(&s, p, &props);
	if (rc == 0 && files != NULL)
		rc = put_elem(&s, files, NULL);
	if (rc == 0 && hsd != NULL)
		rc = put_elem(&s, hsd, NULL);
	if (rc < 0) {
		wsus_buf_free(&b);
		return buf_error(rc, "Extended", e);
	}
	return add_fragment(u, WSUS_FRAG_EXTENDED, NULL, &b, e);
}

/* One fragment for node n, addressed by locale. */
static int derive_one(const xmlNode *n, enum wsus_fragment_type type, const char *locale,
		      struct wsus_update *u, struct err *e)
{
	struct wsus_buf b;
	struct ser s = { .b = &b, .core = 0 };
	int rc;

	wsus_buf_init(&b, PROTO_MAX_FRAGMENT);
	rc = put_elem(&s, n, NULL);
	if (rc < 0) {
		wsus_buf_free(&b);
		return buf_error(rc, wsus_fragment_type_name(type), e);
	}
	return add_fragment(u, type, locale, &b, e);
}

static int derive_localized(const xmlNode *coll, struct wsus_update *u, struct err *e)
{
	for (const xmlNode *lp = protocol_child(coll, PROTO_NS_UPDATE, "LocalizedProperties");
	     lp != NULL; lp = protocol_next(lp, PROTO_NS_UPDATE, "LocalizedProperties")) {
		const xmlNode *ln = protocol_child(lp, PROTO_NS_UPDATE, "Language");
		char *lang = NULL;
		int rc;

		if (ln == NULL) {
			/* A client asks by language: without one nobody can get it. */
			log_warn("protocol", "LocalizedProperties without Language skipped update=%s",
				 u->update_id);
			continue;
		}
		rc = protocol_text(ln, &lang);
		if (rc < 0)
			return err_set(e, rc, "out of memory");
		rc = derive_one(lp, WSUS_FRAG_LOCALIZED, lang, u, e);
		free(lang);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int derive_eula(const xmlNode *coll, struct wsus_update *u, struct err *e)
{
	for (const xmlNode *ef = protocol_child(coll, PROTO_NS_UPDATE, "EulaFile"); ef != NULL;
	     ef = protocol_next(ef, PROTO_NS_UPDATE, "EulaFile")) {
		char *lang = NULL;
		int rc = protocol_attr(ef, "Language", &lang);

		if (rc < 0)
			return err_set(e, rc, "out of memory");
		if (lang == NULL) {
			log_warn("protocol", "EulaFile without Language skipped update=%s", u->update_id);
			continue;
		}
		rc = derive_one(ef, WSUS_FRAG_EULA, lang, u, e);
		free(lang);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int protocol_fragments_derive(xmlDocPtr doc, struct wsus_update *u, struct err *e)
{
	const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	const xmlNode *coll;
	int rc;

	if (!protocol_is_elem(root, PROTO_NS_UPDATE, "Update"))
		return err_set(e, -EINVAL, "fragments: the document is not an Update");
	coll = protocol_child(root, PROTO_NS_UPDATE, "LocalizedPropertiesCollection");
	if ((rc = derive_core(root, u, e)) < 0 ||
	    (rc = derive_extended(root, u, e)) < 0 ||
	    (rc = derive_localized(coll, u, e)) < 0 ||
	    (rc = derive_eula(coll, u, e)) < 0)
		return rc;
	return 0;
}
