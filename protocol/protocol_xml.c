/*
 * protocol_xml.c -- the one way protocol/ turns bytes into a libxml2 tree:
 * no network, no DTD (a DOCTYPE refuses the document before its internal
 * subset is read), no entity substitution, size and depth ceilings, and
 * libxml2's messages captured into struct err instead of stderr. Also the
 * tree-level comparison of two documents and the small lookups shared by the
 * other files (protocol_int.h). Documents returned are freed with xmlFreeDoc.
 */
#include "protocol.h"
#include "protocol_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

/*---- Set-up ----*/

/* No document we read may pull anything from outside the buffer we were
 * given; NONET already covers the network, this covers files too. */
static xmlParserInputPtr refuse_external(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

static void xml_init_once(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(refuse_external);
}

void protocol_xml_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, xml_init_once);
}

/*---- Parsing ----*/

struct parse_state {
	struct err *e;
	int failed;   /* an error has been recorded in e */
	int doctype;  /* a DOCTYPE was met: the parse was stopped */
};

#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_arg;
#else
typedef xmlErrorPtr xml_error_arg;
#endif

/* Keep the first error (libxml2 stops at the first fatal one anyway); drop
 * warnings. The message already ends with a newline, which err_set must not keep. */
static void on_xml_error(void *ctx, xml_error_arg xe)
{
	struct parse_state *st = ctx;
	char msg[WSUS_ERR_LEN];
	size_t n;

	if (st == NULL || xe == NULL || xe->level < XML_ERR_ERROR || st->failed)
		return;
	snprintf(msg, sizeof(msg), "%s", xe->message ? xe->message : "unknown error");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	err_set(st->e, -EINVAL, "XML error at line %d: %s", xe->line, msg);
	st->failed = 1;
}

/* SAX internalSubset: called as soon as "<!DOCTYPE name" is read, before any
 * declaration inside it, so no entity is ever defined. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *st = ctxt->_private;

	(void)name;
	(void)ext;
	(void)sys;
	if (st != NULL)
		st->doctype = 1;
	xmlStopParser(ctxt);
}

/* Element nesting depth of the tree under root is at most limit? Iterative,
 * so that the check itself cannot exhaust the stack. */
static int depth_ok(const xmlNode *root, int limit)
{
	const xmlNode *n = root;
	int depth = 1;

	for (;;) {
		if (n->type == XML_ELEMENT_NODE) {
			if (depth > limit)
				return 0;
			if (n->children != NULL) {
				n = n->children;
				depth++;
				continue;
			}
		}
		while (n != root && n->next == NULL) {
			n = n->parent;
			depth--;
		}
		if (n == root)
			return 1;
		n = n->next;
	}
}

xmlDocPtr protocol_xml_parse(const char *buf, size_t len, struct err *e)
{
	struct parse_state st = { .e = e };
	xmlStructuredErrorFunc old_handler;
	void *old_ctx;
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc = NULL;
	int line;

	if (buf == NULL)
		return err_set(e, -EINVAL, "no XML given"), NULL;
	if (len > WSUS_MAX_UPDATE_XML)
		return err_set(e, -EFBIG, "XML document of %zu bytes exceeds the %u byte limit",
			       len, WSUS_MAX_UPDATE_XML), NULL;
	protocol_xml_init();
	ctxt = xmlNewParserCtxt();
	if (ctxt == NULL)
		return err_set(e, -ENOMEM, "out of memory creating an XML parser"), NULL;
	ctxt->_private = &st;
	ctxt->sax->internalSubset = on_doctype;

	/* The structured handler is per thread in libxml2: install ours for this
	 * parse only, so nothing reaches stderr and other threads are unaffected. */
	old_handler = xmlStructuredError;
	old_ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(&st, on_xml_error);
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL, XML_PARSE_NONET);
	xmlSetStructuredErrorFunc(old_ctx, old_handler);

	line = ctxt->input != NULL ? ctxt->input->line : 0;
	if (st.doctype) {
		err_set(e, -EINVAL, "XML error at line %d: DOCTYPE declarations are not accepted", line);
		goto fail;
	}
	if (st.failed)
		goto fail;
	if (doc == NULL || !ctxt->wellFormed) {
		err_set(e, -EINVAL, "XML error at line %d: document is not well-formed", line);
		goto fail;
	}
	if (!ctxt->nsWellFormed) {
		err_set(e, -EINVAL, "XML error at line %d: namespace error", line);
		goto fail;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		err_set(e, -EINVAL, "XML error: DOCTYPE declarations are not accepted");
		goto fail;
	}
	if (xmlDocGetRootElement(doc) == NULL) {
		err_set(e, -EINVAL, "XML error: document has no root element");
		goto fail;
	}
	if (!depth_ok(xmlDocGetRootElement(doc), WSUS_MAX_XML_DEPTH)) {
		err_set(e, -EINVAL, "XML error: elements nested deeper than %d", WSUS_MAX_XML_DEPTH);
		goto fail;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
fail:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return NULL;
}

/*---- Lookups shared inside protocol/ ----*/

int protocol_is_elem(const xmlNode *n, const char *ns, const char *local)
{
	if (n == NULL || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, local) != 0)
		return 0;
	if (ns == NULL)
		return 1;
	return n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

xmlNodePtr protocol_next(const xmlNode *n, const char *ns, const char *local)
{
	for (n = n ? n->next : NULL; n != NULL; n = n->next)
		if (protocol_is_elem(n, ns, local))
			return (xmlNodePtr)n;
	return NULL;
}

xmlNodePtr protocol_child(const xmlNode *parent, const char *ns, const char *local)
{
	const xmlNode *n;

	if (parent == NULL)
		return NULL;
	for (n = parent->children; n != NULL; n = n->next)
		if (protocol_is_elem(n, ns, local))
			return (xmlNodePtr)n;
	return NULL;
}

/* libxml2 strings come from xmlMalloc; callers of protocol/ free with free(). */
static int dup_xml_string(xmlChar *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	*out = strdup((const char *)s);
	xmlFree(s);
	return *out ? 0 : -ENOMEM;
}

int protocol_attr(const xmlNode *n, const char *name, char **out)
{
	const xmlAttr *a;

	*out = NULL;
	if (n == NULL || n->type != XML_ELEMENT_NODE)
		return 0;
	for (a = n->properties; a != NULL; a = a->next) {
		xmlChar *v;

		if (a->ns != NULL || strcmp((const char *)a->name, name) != 0)
			continue;
		if (a->children == NULL) {
			*out = strdup("");
			return *out ? 0 : -ENOMEM;
		}
		v = xmlNodeListGetString(n->doc, a->children, 1);
		if (v == NULL)
			return -ENOMEM;
		return dup_xml_string(v, out);
	}
	return 0;
}

int protocol_text(const xmlNode *n, char **out)
{
	xmlChar *v = xmlNodeGetContent(n);

	*out = NULL;
	if (v == NULL) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	return dup_xml_string(v, out);
}

/*---- Tree comparison ----*/

/* A child that counts for equivalence: an element, or a run of adjacent text
 * (text and CDATA merged) that is not only white space. */
struct sig_child {
	const xmlNode *elem;
	char *text;
};

struct sig_list {
	struct sig_child *v;
	size_t n, cap;
};

static void sig_free(struct sig_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
}

static int sig_push(struct sig_list *l, const xmlNode *elem, char *text)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? 2 * l->cap : 8;
		struct sig_child *nv = realloc(l->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n].elem = elem;
	l->v[l->n].text = text;
	l->n++;
	return 0;
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

static int flush_text(struct sig_list *l, struct wsus_buf *run)
{
	char *t;
	int rc;

	if (run->len == 0 || is_blank(run->data, run->len)) {
		wsus_buf_free(run);
		return 0;
	}
	t = wsus_buf_steal(run, NULL);
	rc = sig_push(l, NULL, t);
	if (rc < 0)
		free(t);
	return rc;
}

static int sig_collect(const xmlNode *parent, struct sig_list *l)
{
	struct wsus_buf run;
	int rc = 0;

	wsus_buf_init(&run, WSUS_MAX_UPDATE_XML);
	for (const xmlNode *c = parent->children; c != NULL && rc == 0; c = c->next) {
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			if (c->content != NULL)
				rc = wsus_buf_appends(&run, (const char *)c->content);
		} else if (c->type == XML_ELEMENT_NODE) {
			rc = flush_text(l, &run);
			if (rc == 0)
				rc = sig_push(l, c, NULL);
		}
	}
	if (rc == 0)
		rc = flush_text(l, &run);
	wsus_buf_free(&run);
	return rc;
}

static const char *ns_href(const xmlNode *n)
{
	return n->ns != NULL && n->ns->href != NULL ? (const char *)n->ns->href : "";
}

static const char *attr_ns_href(const xmlAttr *a)
{
	return a->ns != NULL && a->ns->href != NULL ? (const char *)a->ns->href : "";
}

static const xmlAttr *find_attr(const xmlNode *n, const char *ns, const char *name)
{
	for (const xmlAttr *a = n->properties; a != NULL; a = a->next)
		if (strcmp(attr_ns_href(a), ns) == 0 && strcmp((const char *)a->name, name) == 0)
			return a;
	return NULL;
}

static int attr_values_equal(const xmlAttr *a, const xmlAttr *b, int *equal)
{
	xmlChar *va = xmlNodeListGetString(a->doc, a->children, 1);
	xmlChar *vb = xmlNodeListGetString(b->doc, b->children, 1);
	int rc = 0;

	if ((a->children != NULL && va == NULL) || (b->children != NULL && vb == NULL))
		rc = -ENOMEM;
	else
		*equal = strcmp(va ? (const char *)va : "", vb ? (const char *)vb : "") == 0;
	xmlFree(va);
	xmlFree(vb);
	return rc;
}

/* Attributes of a and b as sets of (namespace, name, value): 1 equal, 0 not. */
static int attrs_equal(const xmlNode *a, const xmlNode *b, struct err *diff, const char *path)
{
	size_t na = 0, nb = 0;
	const xmlAttr *x;

	for (x = a->properties; x != NULL; x = x->next)
		na++;
	for (x = b->properties; x != NULL; x = x->next)
		nb++;
	for (x = a->properties; x != NULL; x = x->next) {
		const xmlAttr *y = find_attr(b, attr_ns_href(x), (const char *)x->name);
		int eq = 0, rc;

		if (y == NULL) {
			err_set(diff, 0, "%s: attribute %s only in the first document", path, x->name);
			return 0;
		}
		rc = attr_values_equal(x, y, &eq);
		if (rc < 0)
			return rc;
		if (!eq) {
			err_set(diff, 0, "%s: attribute %s differs", path, x->name);
			return 0;
		}
	}
	if (na != nb) {
		err_set(diff, 0, "%s: the second document has %zu attributes, the first %zu", path, nb, na);
		return 0;
	}
	return 1;
}

static int elems_equal(const xmlNode *a, const xmlNode *b, struct err *diff, const char *parent_path)
{
	struct sig_list la = { 0 }, lb = { 0 };
	char path[WSUS_ERR_LEN / 2];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", parent_path, (const char *)a->name);
	if (strcmp((const char *)a->name, (const char *)b->name) != 0 ||
	    strcmp(ns_href(a), ns_href(b)) != 0) {
		err_set(diff, 0, "%s: element {%s}%s against {%s}%s", parent_path, ns_href(a),
			(const char *)a->name, ns_href(b), (const char *)b->name);
		return 0;
	}
	rc = attrs_equal(a, b, diff, path);
	if (rc <= 0)
		return rc;
	rc = sig_collect(a, &la);
	if (rc == 0)
		rc = sig_collect(b, &lb);
	if (rc < 0)
		goto done;
	rc = 1;
	for (size_t i = 0; i < la.n && i < lb.n && rc == 1; i++) {
		const struct sig_child *ca = &la.v[i], *cb = &lb.v[i];

		if (ca->elem != NULL && cb->elem != NULL) {
			rc = elems_equal(ca->elem, cb->elem, diff, path);
		} else if (ca->elem == NULL && cb->elem == NULL) {
			if (strcmp(ca->text, cb->text) != 0) {
				err_set(diff, 0, "%s: text differs", path);
				rc = 0;
			}
		} else {
			err_set(diff, 0, "%s: child %zu is text in one document and an element in the other",
				path, i + 1);
			rc = 0;
		}
	}
	if (rc == 1 && la.n != lb.n) {
		err_set(diff, 0, "%s: %zu significant children against %zu", path, la.n, lb.n);
		rc = 0;
	}
done:
	sig_free(&la);
	sig_free(&lb);
	return rc;
}

int protocol_xml_equivalent(const char *a, size_t alen, const char *b, size_t blen,
			    struct err *diff)
{
	struct err pe = { 0 };
	xmlDocPtr da = NULL, db = NULL;
	int rc;

	da = protocol_xml_parse(a, alen, &pe);
	if (da == NULL) {
		rc = err_set(diff, pe.code ? pe.code : -EINVAL, "first document: %s", pe.msg);
		goto done;
	}
	db = protocol_xml_parse(b, blen, &pe);
	if (db == NULL) {
		rc = err_set(diff, pe.code ? pe.code : -EINVAL, "second document: %s", pe.msg);
		goto done;
	}
	rc = elems_equal(xmlDocGetRootElement(da), xmlDocGetRootElement(db), diff, "");
	if (rc < 0)
		err_set(diff, rc, "out of memory comparing documents");
done:
	xmlFreeDoc(da);
	xmlFreeDoc(db);
	return rc;
}
