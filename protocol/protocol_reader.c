/*
 * protocol_reader.c -- the bounded streaming reader of SOAP requests.
 *
 * A request body is read in one pass by libexpat (namespace-aware, no DTD,
 * no external entities) and only what handlers read is kept: the elements
 * under the operation element (the first element child of Body) as a small
 * tree of our own nodes in an arena, their direct text and their attributes
 * without a namespace; the <int> children of an element are not nodes at
 * all but parsed straight into that element's int64 array. Everything
 * outside the operation (Header, a second Body child) is read and dropped.
 *
 * Design notes:
 * (1) Why expat and not libxml2: libxml2 2.9 checks duplicate attributes
 *     with a quadratic scan inside its parser core, before SAX2 or
 *     xmlTextReader callbacks run, so no libxml2-based reader can bound an
 *     element with 60,000 attributes; expat finds duplicates with a salted
 *     hash (linear), lets a callback stop the parse (XML_StopParser), and is
 *     a fuzzed, well-kept library. A purpose-built tokenizer would have to
 *     get UTF-8/UTF-16 input, character references and namespaces right on
 *     its own. Expat 2.5 scans a token split across two calls again from
 *     its start; the body goes to expat in 64 KiB chunks and every token
 *     that can straddle one is bounded first (feed, scan_until), so that
 *     costs at most one token per chunk.
 * (2) Limits (struct protocol_limits) are checked in the callbacks, while
 *     reading: bytes when the operation is known, elements at each start
 *     tag, attributes (namespace declarations included) and depth at each
 *     start tag, text per element as character data arrives, ids per list at
 *     each <int>. Expat reads a whole start tag before its callback, so the
 *     attributes and bytes of every tag are first counted by a plain scan
 *     of each chunk (scan_until) under the pre-operation limits. The first
 *     limit passed stops expat at once; what was read is bounded by the
 *     limit, the tree never grows past it. The limits in force before the
 *     operation element are the caller's `pre`; from the operation element
 *     on, those its callback picks for the operation.
 * (3) DOCTYPE is refused as soon as "<!" is seen outside a comment or CDATA
 *     (by the scan, or by expat's doctype callback for UTF-16): no entity
 *     is ever declared (XXE, billion laughs).
 * (4) One owner: struct protocol_tree holds the arena and the id arrays;
 *     protocol_req_free releases all of it.
 */
#include "protocol.h"
#include "protocol_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include <expat.h>

#define NS_SEP   '\x01'                     /* between namespace URI and local name */
#define NS_XSI   "http://www.w3.org/2001/XMLSchema-instance"
#define MAX_INTERNED_NS 8
#define MAX_INTERNED_NAMES 512

const struct protocol_limits protocol_limits_default = {
	.max_bytes = PROTOCOL_MAX_SOAP_BODY,
	.max_elements = 4096,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 64 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 1000,
	.lists = NULL,
};

/*---- Arena ----*/

/* The first block is small (most requests are a cookie and a few scalars);
 * the others are mapped directly, so that a large request's memory goes
 * back to the system when it is freed, whatever malloc's thresholds are. */
#define ARENA_FIRST  (16u * 1024)
#define ARENA_MAPPED (256u * 1024)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	int mapped;
	_Alignas(16) unsigned char data[];
};

struct protocol_tree {
	struct arena_block *blocks;
	struct protocol_ids **lists;        /* id arrays (malloc'd), freed with the tree */
	size_t n_lists, cap_lists;
};

static struct arena_block *block_new(size_t cap, int first)
{
	struct arena_block *b;
	size_t total = sizeof(*b) + cap;

	if (first) {
		b = malloc(total);
		if (b == NULL)
			return NULL;
	} else {
		total = (total + ARENA_MAPPED - 1) / ARENA_MAPPED * ARENA_MAPPED;
		b = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return NULL;
	}
	b->used = 0;
	b->cap = total - sizeof(*b);
	b->mapped = !first;
	return b;
}

static void *arena_alloc(struct protocol_tree *t, size_t n)
{
	struct arena_block *b = t->blocks;

	n = (n + 7) & ~(size_t)7;
	if (b == NULL || b->cap - b->used < n) {
		int first = b == NULL && n <= ARENA_FIRST - sizeof(*b);

		b = block_new(first ? ARENA_FIRST - sizeof(*b) : n, first);
		if (b == NULL)
			return NULL;
		b->next = t->blocks;
		t->blocks = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

static char *arena_strndup(struct protocol_tree *t, const char *s, size_t n)
{
	char *r = arena_alloc(t, n + 1);

	if (r != NULL) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

void protocol_tree_free(struct protocol_tree *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_lists; i++)
		free(t->lists[i]->v);
	free(t->lists);
	while (t->blocks != NULL) {
		struct arena_block *b = t->blocks;

		t->blocks = b->next;
		if (b->mapped)
			munmap(b, sizeof(*b) + b->cap);
		else
			free(b);
	}
	free(t);
}

/*---- Reader state ----*/

enum level_kind {
	LV_SKIP,      /* read and dropped (Header, extra Body children, their subtrees) */
	LV_ENVELOPE,
	LV_BODY,
	LV_NODE,      /* kept: the operation element or an element under it */
	LV_INT,       /* an <int> item of its parent's id list */
};

struct level {
	enum level_kind kind;
	struct protocol_node *node;   /* LV_NODE */
	struct protocol_node *last;   /* LV_NODE: its last child so far */
	size_t text_len;              /* character data of this element so far */
	size_t list_max;              /* LV_NODE: <int> items it may hold */
	size_t items;                 /* LV_NODE: <int> items met (nil ones excepted) */
	int nil;                      /* LV_INT: xsi:nil */
};

struct reader {
	XML_Parser xp;
	struct protocol_tree *tree;
	const struct protocol_limits *lim;   /* in force: pre, then the operation's */
	protocol_limits_fn pick;
	void *pick_ctx;
	size_t body_len;
	int64_t deadline_ms;          /* 0: none */
	struct level *stack;
	size_t depth, stack_cap;
	size_t elements;
	size_t ns_decls;              /* namespace declarations of the coming start tag */
	const char *env_ns;           /* SOAP namespace of the Envelope */
	int body_seen;
	enum protocol_soap_version version;
	struct protocol_node *op;
	char *text;                   /* character data of the innermost element, not yet kept */
	size_t pending, text_cap;
	const char *ns_seen[MAX_INTERNED_NS];
	const char *names[MAX_INTERNED_NAMES];
	size_t n_ns_seen;
	int rc;                       /* the first failure; it stops the parse */
	struct err *e;
};

static int is_xml_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Record the first failure and stop expat. */
static void stop(struct reader *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void stop(struct reader *r, int rc, const char *fmt, ...)
{
	va_list ap;
	char msg[WSUS_ERR_LEN];

	if (r->rc != 0)
		return;
	r->rc = rc;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(r->e, rc, "%s", msg);
	XML_StopParser(r->xp, XML_FALSE);
}

static void stop_nomem(struct reader *r)
{
	stop(r, -ENOMEM, "out of memory reading a SOAP request");
}

/* Split expat's "uri\x01local" (or "local"). */
static const char *split_name(const char *qn, size_t *ns_len)
{
	const char *sep = strchr(qn, NS_SEP);

	*ns_len = sep ? (size_t)(sep - qn) : 0;
	return sep ? sep + 1 : qn;
}

static int ns_is(const char *ns, size_t len, const char *uri)
{
	return strlen(uri) == len && memcmp(ns, uri, len) == 0;
}

/* The few namespace URIs of a request are copied once. */
static const char *intern_ns(struct reader *r, const char *ns, size_t len)
{
	char *copy;

	if (len == 0)
		return "";
	for (size_t i = 0; i < r->n_ns_seen; i++)
		if (strncmp(r->ns_seen[i], ns, len) == 0 && r->ns_seen[i][len] == '\0')
			return r->ns_seen[i];
	copy = arena_strndup(r->tree, ns, len);
	if (copy != NULL && r->n_ns_seen < MAX_INTERNED_NS)
		r->ns_seen[r->n_ns_seen++] = copy;
	return copy;
}

/* Element names repeat (thousands of <UpdateIdentity>): one copy each, in
 * a small open-addressed table; past it names are copied per node. */
static const char *intern_name(struct reader *r, const char *local)
{
	size_t len = strlen(local);
	uint32_t h = wsus_fnv1a(local, len);

	for (size_t k = 0; k < 8; k++) {
		const char **slot = &r->names[(h + k) % MAX_INTERNED_NAMES];

		if (*slot == NULL) {
			*slot = arena_strndup(r->tree, local, len);
			return *slot;
		}
		if (strcmp(*slot, local) == 0)
			return *slot;
	}
	return arena_strndup(r->tree, local, len);
}

/* "true" or "1", with or without XML white space around it. */
static int nil_value(const char *v)
{
	size_t n;

	while (is_xml_space((unsigned char)*v))
		v++;
	n = strlen(v);
	while (n > 0 && is_xml_space((unsigned char)v[n - 1]))
		n--;
	return (n == 4 && memcmp(v, "true", 4) == 0) || (n == 1 && v[0] == '1');
}

static int attrs_nil(const XML_Char **atts)
{
	for (size_t i = 0; atts[i] != NULL; i += 2)
		if (strncmp(atts[i], NS_XSI, sizeof(NS_XSI) - 1) == 0 &&
		    atts[i][sizeof(NS_XSI) - 1] == NS_SEP && strcmp(atts[i] + sizeof(NS_XSI), "nil") == 0)
			return nil_value(atts[i + 1]);
	return 0;
}

/* The attributes without a namespace, copied into the arena. */
static int keep_attrs(struct reader *r, struct protocol_node *n, const XML_Char **atts)
{
	struct protocol_attr *a;
	size_t k = 0;

	for (size_t i = 0; atts[i] != NULL; i += 2)
		k += strchr(atts[i], NS_SEP) == NULL;
	if (k == 0)
		return 0;
	if (k > UINT16_MAX)
		return -E2BIG;
	a = arena_alloc(r->tree, k * sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	k = 0;
	for (size_t i = 0; atts[i] != NULL; i += 2) {
		if (strchr(atts[i], NS_SEP) != NULL)
			continue;
		a[k].name = arena_strndup(r->tree, atts[i], strlen(atts[i]));
		a[k].value = arena_strndup(r->tree, atts[i + 1], strlen(atts[i + 1]));
		if (a[k].name == NULL || a[k].value == NULL)
			return -ENOMEM;
		k++;
	}
	n->attrs = a;
	n->n_attrs = (uint16_t)k;
	return 0;
}

static size_t list_cap(const struct protocol_limits *lim, const char *local)
{
	for (const struct protocol_list_limit *l = lim->lists; l != NULL && l->name != NULL; l++)
		if (strcmp(l->name, local) == 0)
			return l->max;
	return lim->max_ids;
}

/*---- Text and ids ----*/

static int all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_xml_space((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Move the pending character data of the innermost element to its node,
 * after what it already has. White space alone is dropped when the element
 * has (or is about to get) children: it is only indentation. */
static int commit_text(struct reader *r, struct level *lv, int has_children)
{
	struct protocol_node *n = lv->node;
	size_t add = r->pending;
	char *t;

	r->pending = 0;
	if (add == 0 || lv->kind != LV_NODE || (has_children && all_space(r->text, add)))
		return 0;
	t = arena_alloc(r->tree, n->text_len + add + 1);
	if (t == NULL)
		return -ENOMEM;
	if (n->text_len)
		memcpy(t, n->text, n->text_len);
	memcpy(t + n->text_len, r->text, add);
	n->text_len += (uint32_t)add;
	t[n->text_len] = '\0';
	n->text = t;
	return 0;
}

/* An <int> item: a decimal integer with XML white space around it. */
static int parse_id(const char *s, size_t n, int64_t *out)
{
	while (n > 0 && is_xml_space((unsigned char)s[n - 1]))
		n--;
	while (n > 0 && is_xml_space((unsigned char)*s)) {
		s++;
		n--;
	}
	return protocol_span_int(s, n, INT64_MIN, INT64_MAX, out);
}

/* The id list of n, made on its first <int>. */
static struct protocol_ids *ids_of(struct reader *r, struct protocol_node *n)
{
	struct protocol_tree *t = r->tree;
	struct protocol_ids *l;

	if (n->ids != NULL)
		return n->ids;
	if (t->n_lists == t->cap_lists) {
		size_t cap = t->cap_lists ? t->cap_lists * 2 : 8;
		struct protocol_ids **nl = realloc(t->lists, cap * sizeof(*nl));

		if (nl == NULL)
			return NULL;
		t->lists = nl;
		t->cap_lists = cap;
	}
	l = arena_alloc(t, sizeof(*l));
	if (l == NULL)
		return NULL;
	memset(l, 0, sizeof(*l));
	t->lists[t->n_lists++] = l;
	n->ids = l;
	return l;
}

static int append_id(struct protocol_ids *l, int64_t v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		int64_t *nv = realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = v;
	return 0;
}

/*---- Callbacks ----*/

static struct level *top(struct reader *r)
{
	return r->depth > 0 ? &r->stack[r->depth - 1] : NULL;
}

static void on_ns_decl(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
	struct reader *r = ud;

	(void)prefix;
	(void)uri;
	r->ns_decls++;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sys, const XML_Char *pub,
		       int has_internal)
{
	struct reader *r = ud;

	(void)name;
	(void)sys;
	(void)pub;
	(void)has_internal;
	stop(r, -EINVAL, "XML error at line %lu: DOCTYPE declarations are not accepted",
	     (unsigned long)XML_GetCurrentLineNumber(r->xp));
}

/* The root: an Envelope of SOAP 1.1 or 1.2. */
static int start_root(struct reader *r, const char *ns, size_t ns_len, const char *local)
{
	if (strcmp(local, "Envelope") == 0 && ns_is(ns, ns_len, PROTOCOL_NS_SOAP11))
		r->version = PROTOCOL_SOAP11;
	else if (strcmp(local, "Envelope") == 0 && ns_is(ns, ns_len, PROTOCOL_NS_SOAP12))
		r->version = PROTOCOL_SOAP12;
	else {
		stop(r, -EINVAL, "not a SOAP envelope: root element {%.*s}%s", (int)(ns_len > 200 ? 200 : ns_len),
		     ns, local);
		return LV_SKIP;
	}
	r->env_ns = r->version == PROTOCOL_SOAP12 ? PROTOCOL_NS_SOAP12 : PROTOCOL_NS_SOAP11;
	return LV_ENVELOPE;
}

/* A new node, the last child of parent's node (parent NULL: the operation). */
static struct protocol_node *new_node(struct reader *r, struct level *parent, const char *ns,
				      size_t ns_len, const char *local, const XML_Char **atts)
{
	struct protocol_node *n = arena_alloc(r->tree, sizeof(*n));

	if (n == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->name = intern_name(r, local);
	n->ns = intern_ns(r, ns, ns_len);
	if (n->name == NULL || n->ns == NULL || keep_attrs(r, n, atts) < 0)
		return NULL;
	n->nil = (uint8_t)attrs_nil(atts);
	if (parent != NULL) {
		if (parent->last != NULL)
			parent->last->next = n;
		else
			parent->node->first = n;
		parent->last = n;
	}
	return n;
}

/* The operation element: its limits replace the pre-operation ones. */
static int start_op(struct reader *r, const char *ns, size_t ns_len, const char *local,
		    const XML_Char **atts)
{
	const struct protocol_limits *lim = r->lim;
	struct protocol_node *n = new_node(r, NULL, ns, ns_len, local, atts);

	if (n == NULL) {
		stop_nomem(r);
		return LV_SKIP;
	}
	r->op = n;
	if (r->pick != NULL)
		lim = r->pick(r->pick_ctx, n->ns, n->name);
	if (lim == NULL) {
		stop(r, -ENOENT, "Unknown operation %s", n->name);
		return LV_SKIP;
	}
	r->lim = lim;
	if (r->body_len > lim->max_bytes)
		stop(r, -EFBIG, "%s request of %zu bytes exceeds its %zu byte limit", n->name, r->body_len,
		     lim->max_bytes);
	return LV_NODE;
}

static int push(struct reader *r)
{
	if (r->depth == r->stack_cap) {
		size_t cap = r->stack_cap ? r->stack_cap * 2 : 16;
		struct level *ns = realloc(r->stack, cap * sizeof(*ns));

		if (ns == NULL)
			return -ENOMEM;
		r->stack = ns;
		r->stack_cap = cap;
	}
	memset(&r->stack[r->depth++], 0, sizeof(struct level));
	return 0;
}

/* The kind of a new element under parent (NULL: the root). */
static int classify(struct reader *r, struct level *parent, const char *ns, size_t ns_len,
		    const char *local, const XML_Char **atts)
{
	if (parent == NULL)
		return start_root(r, ns, ns_len, local);
	switch (parent->kind) {
	case LV_ENVELOPE:
		if (!r->body_seen && strcmp(local, "Body") == 0 && ns_is(ns, ns_len, r->env_ns)) {
			r->body_seen = 1;
			return LV_BODY;
		}
		return LV_SKIP;
	case LV_BODY:
		return r->op == NULL ? start_op(r, ns, ns_len, local, atts) : LV_SKIP;
	case LV_NODE:
		return strcmp(local, "int") == 0 ? LV_INT : LV_NODE;
	default:
		return LV_SKIP;
	}
}

static void on_start(void *ud, const XML_Char *qname, const XML_Char **atts)
{
	struct reader *r = ud;
	struct level *parent = top(r), *lv;
	size_t ns_len, n_attrs = r->ns_decls;
	const char *local = split_name(qname, &ns_len);
	int kind;

	r->ns_decls = 0;
	if (r->rc != 0)
		return;
	for (size_t i = 0; atts[i] != NULL; i += 2)
		n_attrs++;
	if (n_attrs > r->lim->max_attrs) {
		stop(r, -E2BIG, "element %.64s has more than %zu attributes", local, r->lim->max_attrs);
		return;
	}
	if (r->depth + 1 > r->lim->max_depth) {
		stop(r, -E2BIG, "elements nested deeper than %zu", r->lim->max_depth);
		return;
	}
	kind = classify(r, parent, qname, ns_len, local, atts);
	if (r->rc != 0)
		return;
	if (kind != LV_INT && ++r->elements > r->lim->max_elements) {
		stop(r, -E2BIG, "more than %zu elements", r->lim->max_elements);
		return;
	}
	if (kind == LV_INT && !attrs_nil(atts) && parent->items++ >= parent->list_max) {
		stop(r, -E2BIG, "%s: more than %zu ids", parent->node->name, parent->list_max);
		return;
	}
	if (parent != NULL && commit_text(r, parent, 1) < 0) {
		stop_nomem(r);
		return;
	}
	if (push(r) < 0) {
		stop_nomem(r);
		return;
	}
	lv = top(r);
	parent = r->depth > 1 ? &r->stack[r->depth - 2] : NULL;
	lv->kind = (enum level_kind)kind;
	if (kind == LV_INT) {
		lv->nil = attrs_nil(atts);
	} else if (kind == LV_NODE) {
		lv->node = parent->kind == LV_NODE ? new_node(r, parent, qname, ns_len, local, atts) : r->op;
		if (lv->node == NULL) {
			stop_nomem(r);
			return;
		}
		lv->list_max = list_cap(r->lim, local);
	}
}

static void end_int(struct reader *r, struct level *lv)
{
	struct protocol_ids *l;
	int64_t v;

	if (lv->nil)
		return;
	l = ids_of(r, r->stack[r->depth - 2].node);
	if (l == NULL)
		stop_nomem(r);
	else if (parse_id(r->text, r->pending, &v) < 0)
		l->bad = 1;
	else if (append_id(l, v) < 0)
		stop_nomem(r);
}

static void on_end(void *ud, const XML_Char *qname)
{
	struct reader *r = ud;
	struct level *lv = top(r);

	(void)qname;
	if (r->rc != 0 || lv == NULL)
		return;
	if (lv->kind == LV_INT)
		end_int(r, lv);
	else if (lv->kind == LV_NODE && commit_text(r, lv, lv->node->first != NULL) < 0)
		stop_nomem(r);
	r->pending = 0;
	r->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct reader *r = ud;
	struct level *lv = top(r);
	size_t need;

	if (r->rc != 0 || lv == NULL || len <= 0)
		return;
	/* White space that opens a run of text is never kept (readers trim
	 * it; between children it is indentation): not stored, not counted. */
	while (r->pending == 0 && len > 0 && is_xml_space((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len == 0)
		return;
	lv->text_len += (size_t)len;
	if (lv->text_len > r->lim->max_text) {
		stop(r, -E2BIG, "text of %.64s longer than %zu bytes",
		     lv->kind == LV_NODE ? lv->node->name : "an element", r->lim->max_text);
		return;
	}
	if (lv->kind != LV_NODE && lv->kind != LV_INT)
		return;
	need = r->pending + (size_t)len + 1;
	if (need > r->text_cap) {
		size_t cap = r->text_cap ? r->text_cap : 256;
		char *nt;

		while (cap < need)
			cap *= 2;
		nt = realloc(r->text, cap);
		if (nt == NULL) {
			stop_nomem(r);
			return;
		}
		r->text = nt;
		r->text_cap = cap;
	}
	memcpy(r->text + r->pending, s, (size_t)len);
	r->pending += (size_t)len;
}

static int finish(struct reader *r, enum XML_Status st)
{
	if (r->rc != 0)
		return r->rc;
	if (st != XML_STATUS_OK)
		return err_set(r->e, -EINVAL, "XML error at line %lu: %s",
			       (unsigned long)XML_GetCurrentLineNumber(r->xp),
			       XML_ErrorString(XML_GetErrorCode(r->xp)));
	if (!r->body_seen)
		return err_set(r->e, -EINVAL, "SOAP envelope has no Body");
	if (r->op == NULL)
		return err_set(r->e, -EINVAL, "SOAP Body is empty");
	return 0;
}

/*---- Markup bounds, just ahead of expat ----*/

/* Expat gathers every attribute of a start tag before its callback runs
 * (a tag of 60,000 attributes would be read whole, about 80 ns a byte),
 * and expat 2.5 scans a token split across two calls again from its start.
 * So the body is given to expat in chunks, and each chunk is first scanned
 * here under the pre-operation limits: start and end tags (bytes, and
 * attributes as '=' outside quoted values), comments and processing
 * instructions (max_tag), CDATA sections (max_text); a markup declaration
 * (DOCTYPE) is refused. Every token that can straddle a chunk is then
 * bounded, and reading stops at the first tag past a limit. UTF-16 bodies
 * are left to expat whole (and to the byte limit). */
#define FEED_CHUNK (64u * 1024)

struct scan {
	const char *p, *begin, *end;  /* next byte to scan; the body */
	const char *no_cut;           /* an "<int>" left to expat */
	const struct protocol_limits *lim;
	struct err *e;
};

static int tag_name_len(const char *p, const char *end)
{
	int n = 0;

	while (p + n < end && n < 64 && strchr(" \t\r\n/>=", p[n]) == NULL)
		n++;
	return n;
}

static unsigned long line_at(const struct scan *sc, const char *p)
{
	unsigned long line = 1;

	for (const char *q = sc->begin; (q = memchr(q, '\n', (size_t)(p - q))) != NULL; q++)
		line++;
	return line;
}

/* A tag from p (just after '<'; after "</" for an end tag) to its '>'. */
static int scan_tag(struct scan *sc, const char *p)
{
	const char *start = p;
	size_t attrs = 0;
	char quote = 0;

	for (; p < sc->end; p++) {
		char c = *p;

		if (c == '>' && !quote)
			break;
		if ((size_t)(p - start) + 1 > sc->lim->max_tag)
			return err_set(sc->e, -E2BIG, "element %.*s has a tag longer than %zu bytes",
				       tag_name_len(start, sc->end), start, sc->lim->max_tag);
		if (quote)
			quote = c == quote ? 0 : quote;
		else if (c == '"' || c == '\'')
			quote = c;
		else if (c == '=' && ++attrs > sc->lim->max_attrs)
			return err_set(sc->e, -E2BIG, "element %.*s has more than %zu attributes",
				       tag_name_len(start, sc->end), start, sc->lim->max_attrs);
	}
	sc->p = p;
	return 0;
}

/* A comment, CDATA section or processing instruction from p (its body)
 * to just past its closing mark, at most max bytes. */
static int scan_section(struct scan *sc, const char *p, const char *mark, size_t max, const char *what)
{
	size_t room = (size_t)(sc->end - p), span = room < max + strlen(mark) ? room : max + strlen(mark);
	const char *hit = memmem(p, span, mark, strlen(mark));

	if (hit == NULL && span < room)
		return err_set(sc->e, -E2BIG, "%s longer than %zu bytes", what, max);
	sc->p = hit != NULL ? hit + strlen(mark) : sc->end;
	return 0;
}

/* Scan the markup that begins before upto (each token to its end). With
 * cut set, stop instead at a plain "<int>" tag (not at sc->no_cut) and
 * point *cut at its '<': the caller may read that run of ids itself. */
static int scan_until(struct scan *sc, const char *upto, const char **cut)
{
	*cut = NULL;
	while (sc->p < upto) {
		const char *p = memchr(sc->p, '<', (size_t)(upto - sc->p));
		size_t left;
		int rc;

		if (p == NULL) {
			sc->p = upto;
			return 0;
		}
		left = (size_t)(sc->end - p - 1);
		if (left >= 4 && memcmp(p + 1, "int>", 4) == 0 && p != sc->no_cut) {
			sc->p = p;
			*cut = p;
			return 0;
		}
		p++;
		if (left >= 3 && memcmp(p, "!--", 3) == 0)
			rc = scan_section(sc, p + 3, "-->", sc->lim->max_tag, "a comment");
		else if (left >= 8 && memcmp(p, "![CDATA[", 8) == 0)
			rc = scan_section(sc, p + 8, "]]>", sc->lim->max_text, "a CDATA section");
		else if (left >= 1 && *p == '?')
			rc = scan_section(sc, p + 1, "?>", sc->lim->max_tag, "a processing instruction");
		else if (left >= 1 && *p == '!')
			rc = err_set(sc->e, -EINVAL, "XML error at line %lu: DOCTYPE declarations are not accepted",
				     line_at(sc, p));
		else
			rc = scan_tag(sc, left >= 1 && *p == '/' ? p + 1 : p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int looks_utf16(const unsigned char *s, size_t n)
{
	return n >= 2 && ((s[0] == 0xfe && s[1] == 0xff) || (s[0] == 0xff && s[1] == 0xfe) || s[0] == 0 ||
			  s[1] == 0);
}

/*---- Id lists without expat ----*/

/* The bulk of a delta scan is thousands of <int>123</int> items; through
 * expat each costs some 800 instructions. A run of items in exactly that
 * plain form (optional white space around the number and between items;
 * no attribute, prefix, comment or reference) directly under a kept
 * element is read here instead, with the same limits and results as
 * on_start/end_int; expat never sees it, and what it sees stays a
 * well-formed document (whole elements were left out). Anything else ends
 * the run and goes to expat. Line numbers in expat's later errors do not
 * count the lines of such runs. */
static const char *skip_space(const char *p, const char *end)
{
	while (p < end && is_xml_space((unsigned char)*p))
		p++;
	return p;
}

/* One plain item at p: its end (past "</int>"), or NULL when p does not
 * hold one in full; the value in *v. */
static const char *plain_int(const char *p, const char *end, int64_t *v)
{
	const char *q = p + 5, *digits;

	q = skip_space(q, end);
	digits = q;
	if (q < end && (*q == '-' || *q == '+'))
		q++;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	if (protocol_span_int(digits, (size_t)(q - digits), INT64_MIN, INT64_MAX, v) < 0)
		return NULL;
	q = skip_space(q, end);
	if ((size_t)(end - q) < 6 || memcmp(q, "</int>", 6) != 0)
		return NULL;
	return q + 6;
}

/* Read the run of plain items at p (the '<' of "<int>") into the list of
 * the innermost element; the bytes consumed (0: none, leave it to expat). */
static size_t int_run(struct reader *r, const char *p, const char *end)
{
	struct level *lv = top(r);
	const char *start = p, *done = p;
	struct protocol_ids *l;
	int64_t v;

	if (r->rc != 0 || lv == NULL || lv->kind != LV_NODE)
		return 0;
	if (commit_text(r, lv, 1) < 0 || (l = ids_of(r, lv->node)) == NULL) {
		stop_nomem(r);
		return 0;
	}
	while ((size_t)(end - p) >= 5 && memcmp(p, "<int>", 5) == 0) {
		const char *next = plain_int(p, end, &v);

		if (next == NULL)
			break;
		if (lv->items++ >= lv->list_max) {
			stop(r, -E2BIG, "%s: more than %zu ids", lv->node->name, lv->list_max);
			return 0;
		}
		if (append_id(l, v) < 0) {
			stop_nomem(r);
			return 0;
		}
		done = next;
		p = skip_space(next, end);
	}
	return (size_t)(done - start);
}

/* The body to expat, chunk by chunk, each scanned first; runs of plain
 * ids read by int_run between. Stops at the first failure (ours from a
 * callback or int_run, expat's, or the scan's). */
static int feed(struct reader *r, const char *body, size_t len, const struct protocol_limits *pre)
{
	struct scan sc = { .p = body, .begin = body, .end = body + len, .lim = pre, .e = r->e };
	int whole = looks_utf16((const unsigned char *)body, len), final = 0;
	size_t pos = 0;

	while (pos < len) {
		size_t upto = whole || len - pos < FEED_CHUNK ? len : pos + FEED_CHUNK;
		const char *cut = NULL;
		int rc = whole ? 0 : scan_until(&sc, body + upto, &cut);

		if (rc < 0)
			return rc;
		if (r->deadline_ms > 0 && wsus_now_ms() > r->deadline_ms)
			return err_set(r->e, -ETIMEDOUT, "reading the request took longer than its time budget");
		if (cut != NULL)
			upto = (size_t)(cut - body);
		if (upto > pos) {
			final = upto == len;
			if (XML_Parse(r->xp, body + pos, (int)(upto - pos), final) != XML_STATUS_OK)
				return finish(r, XML_STATUS_ERROR);
		}
		pos = upto;
		if (cut != NULL) {
			size_t used = int_run(r, cut, body + len);

			if (r->rc != 0)
				return finish(r, XML_STATUS_ERROR);
			pos += used;
			sc.p = body + pos;
			if (used == 0)
				sc.no_cut = cut;
		}
	}
	if (!final && XML_Parse(r->xp, "", 0, XML_TRUE) != XML_STATUS_OK)
		return finish(r, XML_STATUS_ERROR);
	return finish(r, XML_STATUS_OK);
}

/*---- Entry point ----*/

int protocol_req_read(const char *body, size_t len, const struct protocol_req_opts *opts,
		      struct protocol_req_msg *out, struct err *e)
{
	static const struct protocol_req_opts none = { 0 };
	struct reader r = { .body_len = len, .e = e };
	int rc;

	memset(out, 0, sizeof(*out));
	opts = opts ? opts : &none;
	r.lim = opts->pre ? opts->pre : &protocol_limits_default;
	r.pick = opts->pick;
	r.pick_ctx = opts->ctx;
	r.deadline_ms = opts->deadline_ms;
	if (body == NULL || len == 0)
		return err_set(e, -EINVAL, "empty SOAP request");
	if (len > r.lim->max_bytes || len > INT32_MAX)
		return err_set(e, -EFBIG, "SOAP request of %zu bytes exceeds the %zu byte limit", len,
			       r.lim->max_bytes);
	r.tree = calloc(1, sizeof(*r.tree));
	r.xp = r.tree ? XML_ParserCreateNS(NULL, NS_SEP) : NULL;
	if (r.xp == NULL) {
		free(r.tree);
		return err_set(e, -ENOMEM, "out of memory creating an XML reader");
	}
	XML_SetUserData(r.xp, &r);
	XML_SetElementHandler(r.xp, on_start, on_end);
	XML_SetCharacterDataHandler(r.xp, on_text);
	XML_SetStartNamespaceDeclHandler(r.xp, on_ns_decl);
	XML_SetStartDoctypeDeclHandler(r.xp, on_doctype);
	XML_SetParamEntityParsing(r.xp, XML_PARAM_ENTITY_PARSING_NEVER);
	rc = feed(&r, body, len, r.lim);
	XML_ParserFree(r.xp);
	free(r.stack);
	free(r.text);
	if (r.op != NULL) {
		/* Kept for the caller on success, and for the fault of an
		 * unknown operation or a limit it passed. */
		out->tree = r.tree;
		out->op = rc == 0 ? r.op : NULL;
		out->op_name = r.op->name;
		out->op_ns = r.op->ns;
		out->version = r.version;
	} else {
		protocol_tree_free(r.tree);
		out->version = r.version ? r.version : PROTOCOL_SOAP11;
	}
	return rc;
}
