/*
 * protocol_soap.c -- SOAP 1.1 and 1.2 on the wire: envelopes parsed into a
 * libxml2 document (the sync client's view of upstream answers), lenient
 * readers for what real peers put inside them, the same readers over the
 * nodes of the request reader (protocol_reader.c), the response envelope,
 * faults in the shape a Windows WSUS sends them, and xs:dateTime. A parsed
 * message owns its document or nodes; reader strings are malloc'd, the
 * caller frees them with free(). Everything here is reentrant.
 */
#include "protocol.h"
#include "protocol_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_XSD "http://www.w3.org/2001/XMLSchema"

/*---- Request envelope ----*/

static int is_xml_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *node_ns(const xmlNode *n)
{
	return n->ns != NULL && n->ns->href != NULL ? (const char *)n->ns->href : "";
}

static xmlNodePtr first_element(xmlNodePtr n)
{
	for (; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

int protocol_soap_parse(const char *body, size_t len, struct protocol_soap_msg *out, struct err *e)
{
	struct err pe = { 0 };
	xmlDocPtr doc;
	xmlNodePtr root, sbody, op;
	const char *ns;
	int rc;

	memset(out, 0, sizeof(*out));
	if (body == NULL || len == 0)
		return err_set(e, -EINVAL, "empty SOAP request");
	if (len > PROTOCOL_MAX_SOAP_BODY)
		return err_set(e, -EFBIG, "SOAP request of %zu bytes exceeds the %u byte limit", len,
			       PROTOCOL_MAX_SOAP_BODY);
	doc = protocol_xml_parse(body, len, &pe);
	if (doc == NULL)
		return err_set(e, pe.code < 0 ? pe.code : -EINVAL, "%s", pe.msg);

	root = xmlDocGetRootElement(doc);
	ns = node_ns(root);
	if (strcmp((const char *)root->name, "Envelope") != 0 ||
	    (strcmp(ns, PROTOCOL_NS_SOAP11) != 0 && strcmp(ns, PROTOCOL_NS_SOAP12) != 0)) {
		rc = err_set(e, -EINVAL, "not a SOAP envelope: root element {%s}%s", ns,
			     (const char *)root->name);
		goto fail;
	}
	/* A Header (which MS-WSUSSS and MS-WUSP forbid, but a peer may still
	 * send) is skipped: nothing in it changes what we answer. */
	sbody = protocol_child(root, ns, "Body");
	if (sbody == NULL) {
		rc = err_set(e, -EINVAL, "SOAP envelope has no Body");
		goto fail;
	}
	op = first_element(sbody->children);
	if (op == NULL) {
		rc = err_set(e, -EINVAL, "SOAP Body is empty");
		goto fail;
	}
	out->doc = doc;
	out->op = op;
	out->op_name = (const char *)op->name;
	out->op_ns = node_ns(op);
	out->version = strcmp(ns, PROTOCOL_NS_SOAP12) == 0 ? PROTOCOL_SOAP12 : PROTOCOL_SOAP11;
	return 0;
fail:
	xmlFreeDoc(doc);
	return rc;
}

void protocol_soap_msg_free(struct protocol_soap_msg *m)
{
	if (m == NULL)
		return;
	xmlFreeDoc(m->doc);
	memset(m, 0, sizeof(*m));
}

/*---- Lenient readers ----*/

/* Narrow s[0..*n) to leave out the XML white space at either end. */
static const char *trim_span(const char *s, size_t *n)
{
	while (*n > 0 && is_xml_space((unsigned char)*s)) {
		s++;
		(*n)--;
	}
	while (*n > 0 && is_xml_space((unsigned char)s[*n - 1]))
		(*n)--;
	return s;
}

/* Copy of s[0..n) without the XML white space at either end. */
static char *dup_trimmed(const char *s, size_t n)
{
	char *r;

	s = trim_span(s, &n);
	r = malloc(n + 1);
	if (r == NULL)
		return NULL;
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* xsi:nil="true" or "1": .NET clients mark absent arrays this way even where
 * the schema says minOccurs=0 and not nillable. */
static int is_nil(const xmlNode *n)
{
	for (const xmlAttr *a = n->properties; a != NULL; a = a->next) {
		xmlChar *v;
		char *t;
		int nil;

		if (a->ns == NULL || a->ns->href == NULL ||
		    strcmp((const char *)a->ns->href, NS_XSI) != 0 ||
		    strcmp((const char *)a->name, "nil") != 0)
			continue;
		v = xmlNodeListGetString(n->doc, a->children, 1);
		if (v == NULL)
			return 0;
		t = dup_trimmed((const char *)v, strlen((const char *)v));
		xmlFree(v);
		nil = t != NULL && (strcmp(t, "true") == 0 || strcmp(t, "1") == 0);
		free(t);
		return nil;
	}
	return 0;
}

static int named(const xmlNode *n, const char *local)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0 && !is_nil(n);
}

xmlNodePtr protocol_soap_child(xmlNodePtr parent, const char *local)
{
	if (parent == NULL || local == NULL)
		return NULL;
	for (xmlNodePtr n = parent->children; n != NULL; n = n->next)
		if (named(n, local))
			return n;
	return NULL;
}

xmlNodePtr protocol_soap_next(xmlNodePtr n)
{
	const char *local;

	if (n == NULL || n->type != XML_ELEMENT_NODE)
		return NULL;
	local = (const char *)n->name;
	for (n = n->next; n != NULL; n = n->next)
		if (named(n, local))
			return n;
	return NULL;
}

char *protocol_soap_text(xmlNodePtr n)
{
	xmlChar *v;
	char *r;

	if (n == NULL || n->type != XML_ELEMENT_NODE || is_nil(n))
		return NULL;
	v = xmlNodeGetContent(n);
	if (v == NULL)
		return dup_trimmed("", 0);
	r = dup_trimmed((const char *)v, strlen((const char *)v));
	xmlFree(v);
	return r;
}

char *protocol_soap_attr(xmlNodePtr n, const char *name)
{
	xmlChar *v;
	char *r;

	if (n == NULL || n->type != XML_ELEMENT_NODE)
		return NULL;
	v = xmlGetNoNsProp(n, BAD_CAST name);
	if (v == NULL)
		return NULL;
	r = dup_trimmed((const char *)v, strlen((const char *)v));
	xmlFree(v);
	return r;
}

/* The trimmed text of the child named local: -ENOENT absent or nil. */
static int child_text_alloc(xmlNodePtr parent, const char *local, char **out)
{
	xmlNodePtr c = protocol_soap_child(parent, local);

	*out = NULL;
	if (c == NULL)
		return -ENOENT;
	*out = protocol_soap_text(c);
	return *out ? 0 : -ENOMEM;
}

int protocol_soap_child_text(xmlNodePtr parent, const char *local, char *out, size_t cap)
{
	char *t;
	size_t n;
	int rc;

	if (out == NULL || cap == 0)
		return -EINVAL;
	rc = child_text_alloc(parent, local, &t);
	if (rc < 0)
		return rc;
	n = strlen(t);
	if (n >= cap) {
		free(t);
		return -E2BIG;
	}
	memcpy(out, t, n + 1);
	free(t);
	return 0;
}

static int span_is(const char *s, size_t n, const char *word, int nocase)
{
	return strlen(word) == n && (nocase ? strncasecmp(s, word, n) : strncmp(s, word, n)) == 0;
}

/* xs:boolean is lower case; .NET never sends anything else, but "True"
 * costs nothing to accept. */
static int span_bool(const char *t, size_t n, int *out)
{
	if (span_is(t, n, "true", 1) || span_is(t, n, "1", 0))
		*out = 1;
	else if (span_is(t, n, "false", 1) || span_is(t, n, "0", 0))
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

int protocol_span_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
	uint64_t v = 0, lim = (uint64_t)INT64_MAX;
	size_t i = 0;
	int neg = 0;
	int64_t x;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return -EINVAL;
	for (size_t k = i; k < n; k++)
		if (s[k] < '0' || s[k] > '9')
			return -EINVAL;
	if (neg)
		lim++;
	/* 18 digits cannot pass lim (10^18 - 1 < 2^63 - 1): only longer
	 * numbers pay for the overflow test (a division per digit). */
	if (n - i <= 18) {
		for (; i < n; i++)
			v = v * 10 + (unsigned)(s[i] - '0');
	}
	for (; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (lim - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	x = neg ? (int64_t)(0 - v) : (int64_t)v;
	if (x < min || x > max)
		return -ERANGE;
	*out = x;
	return 0;
}

int protocol_soap_child_bool(xmlNodePtr parent, const char *local, int *out)
{
	char *t;
	int rc = child_text_alloc(parent, local, &t);

	if (rc < 0)
		return rc;
	rc = span_bool(t, strlen(t), out);
	free(t);
	return rc;
}

int protocol_soap_child_int(xmlNodePtr parent, const char *local, int64_t min, int64_t max,
			    int64_t *out)
{
	char *t;
	int rc = child_text_alloc(parent, local, &t);

	if (rc < 0)
		return rc;
	rc = protocol_span_int(t, strlen(t), min, max, out);
	free(t);
	return rc;
}

/*---- The same readers over the nodes of protocol_req_read ----*/

/* The text of n without the XML white space at either end (not copied). */
static const char *node_text(const struct protocol_node *n, size_t *len)
{
	*len = n->text ? n->text_len : 0;
	return trim_span(n->text ? n->text : "", len);
}

static int node_named(const struct protocol_node *n, const char *local)
{
	return strcmp(n->name, local) == 0 && !n->nil;
}

const struct protocol_node *protocol_req_child(const struct protocol_node *parent, const char *local)
{
	if (parent == NULL || local == NULL)
		return NULL;
	for (const struct protocol_node *n = parent->first; n != NULL; n = n->next)
		if (node_named(n, local))
			return n;
	return NULL;
}

const struct protocol_node *protocol_req_next(const struct protocol_node *n)
{
	const char *local;

	if (n == NULL)
		return NULL;
	local = n->name;
	for (n = n->next; n != NULL; n = n->next)
		if (node_named(n, local))
			return n;
	return NULL;
}

char *protocol_req_text(const struct protocol_node *n)
{
	const char *s;
	size_t len;
	char *r;

	if (n == NULL || n->nil)
		return NULL;
	s = node_text(n, &len);
	r = malloc(len + 1);
	if (r == NULL)
		return NULL;
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

/* The trimmed text of the child named local (not copied): -ENOENT absent or nil. */
static int node_child_text(const struct protocol_node *parent, const char *local, const char **s,
			   size_t *len)
{
	const struct protocol_node *c = protocol_req_child(parent, local);

	if (c == NULL)
		return -ENOENT;
	*s = node_text(c, len);
	return 0;
}

int protocol_req_child_text(const struct protocol_node *parent, const char *local, char *out,
			    size_t cap)
{
	const char *s;
	size_t n;
	int rc;

	if (out == NULL || cap == 0)
		return -EINVAL;
	rc = node_child_text(parent, local, &s, &n);
	if (rc < 0)
		return rc;
	if (n >= cap)
		return -E2BIG;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int protocol_req_child_bool(const struct protocol_node *parent, const char *local, int *out)
{
	const char *t;
	size_t n;
	int rc = node_child_text(parent, local, &t, &n);

	return rc < 0 ? rc : span_bool(t, n, out);
}

int protocol_req_child_int(const struct protocol_node *parent, const char *local, int64_t min,
			   int64_t max, int64_t *out)
{
	const char *t;
	size_t n;
	int rc = node_child_text(parent, local, &t, &n);

	return rc < 0 ? rc : protocol_span_int(t, n, min, max, out);
}

const char *protocol_req_attr(const struct protocol_node *n, const char *name)
{
	for (size_t i = 0; n != NULL && i < n->n_attrs; i++)
		if (strcmp(n->attrs[i].name, name) == 0)
			return n->attrs[i].value;
	return NULL;
}

int protocol_req_ids(const struct protocol_node *list, const int64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	if (list == NULL)
		return 0;
	if (list->ids == NULL)
		return 0;
	if (list->ids->bad)
		return -EINVAL;
	*ids = list->ids->v;
	*n = list->ids->n;
	return 0;
}

void protocol_req_free(struct protocol_req_msg *m)
{
	if (m == NULL)
		return;
	protocol_tree_free(m->tree);
	memset(m, 0, sizeof(*m));
}

/*---- Response envelope ----*/

static const char *envelope_ns(enum protocol_soap_version v)
{
	return v == PROTOCOL_SOAP12 ? PROTOCOL_NS_SOAP12 : PROTOCOL_NS_SOAP11;
}

/* The same prefix for both versions: only the namespace URI differs, so the
 * handlers' output and the fault code QNames read the same either way. */
int protocol_soap_begin(struct wsus_buf *b, enum protocol_soap_version v)
{
	return wsus_buf_printf(b,
			       "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
			       "<soap:Envelope xmlns:soap=\"%s\" xmlns:xsi=\"" NS_XSI
			       "\" xmlns:xsd=\"" NS_XSD "\"><soap:Body>",
			       envelope_ns(v));
}

int protocol_soap_end(struct wsus_buf *b, enum protocol_soap_version v)
{
	(void)v;
	return wsus_buf_appends(b, "</soap:Body></soap:Envelope>");
}

const char *protocol_soap_content_type(enum protocol_soap_version v)
{
	return v == PROTOCOL_SOAP12 ? "application/soap+xml; charset=utf-8" : "text/xml; charset=utf-8";
}

/*---- Faults ----*/

static const char *const error_names[] = {
	[PROTOCOL_ERR_INTERNAL] = "InternalServerError",
	[PROTOCOL_ERR_INVALID_COOKIE] = "InvalidCookie",
	[PROTOCOL_ERR_COOKIE_EXPIRED] = "CookieExpired",
	[PROTOCOL_ERR_INVALID_AUTH_COOKIE] = "InvalidAuthorizationCookie",
	[PROTOCOL_ERR_INVALID_PARAMETERS] = "InvalidParameters",
	[PROTOCOL_ERR_INCOMPATIBLE_VERSION] = "IncompatibleProtocolVersion",
	[PROTOCOL_ERR_FILE_DIGESTS_MISSING] = "FileDigestsMissing",
	[PROTOCOL_ERR_CONFIG_CHANGED] = "ConfigChanged",
	[PROTOCOL_ERR_REGISTRATION_REQUIRED] = "RegistrationRequired",
	[PROTOCOL_ERR_SERVER_CHANGED] = "ServerChanged",
	[PROTOCOL_ERR_SERVER_BUSY] = "ServerBusy",
	[PROTOCOL_ERR_TOO_MANY_IDS] = "TooManyIds",
	[PROTOCOL_ERR_REGISTRATION_NOT_REQUIRED] = "RegistrationNotRequired",
	/* Never written as an ErrorCode; the name is for logs. */
	[PROTOCOL_ERR_UNKNOWN_OPERATION] = "UnknownOperation",
};

const char *protocol_error_name(enum protocol_error code)
{
	if ((unsigned)code >= sizeof(error_names) / sizeof(error_names[0]))
		return error_names[PROTOCOL_ERR_INTERNAL];
	return error_names[code];
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Element text that is always well-formed XML, whatever a message holds
 * (messages may quote what a peer sent): &, < and > escaped, control
 * characters XML forbids and invalid UTF-8 replaced by '?'. Quotes stay
 * literal, as Windows writes the Method value. */
static int append_text(struct wsus_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;
	int rc = 0;

	while (i < n && rc == 0) {
		const char *rep = NULL;
		size_t len = utf8_seq(p + i, n - i);

		if (len == 0 || (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r'))
			rep = "?";
		else if (p[i] == '&')
			rep = "&amp;";
		else if (p[i] == '<')
			rep = "&lt;";
		else if (p[i] == '>')
			rep = "&gt;";
		if (rep == NULL) {
			i += len;
			continue;
		}
		rc = wsus_buf_append(b, s + run, i - run);
		if (rc == 0)
			rc = wsus_buf_appends(b, rep);
		i += len ? len : 1;
		run = i;
	}
	if (rc == 0)
		rc = wsus_buf_append(b, s + run, n - run);
	return rc;
}

static int append_elem(struct wsus_buf *b, const char *name, const char *text)
{
	int rc = wsus_buf_printf(b, "<%s>", name);

	if (rc == 0)
		rc = append_text(b, text ? text : "");
	if (rc == 0)
		rc = wsus_buf_printf(b, "</%s>", name);
	return rc;
}

/* The ErrorCode/Message/ID/Method children, all unqualified. */
static int append_detail_children(struct wsus_buf *b, enum protocol_error code,
				  const char *message, const char *method)
{
	char id[WSUS_GUID_LEN];
	int rc;

	if (wsus_guid_random(id) < 0)
		snprintf(id, sizeof(id), "00000000-0000-0000-0000-000000000000");
	rc = append_elem(b, "ErrorCode", protocol_error_name(code));
	if (rc == 0)
		rc = append_elem(b, "Message", message);
	if (rc == 0)
		rc = append_elem(b, "ID", id);
	if (rc == 0 && method != NULL) {
		int quoted = method[0] == '"';

		rc = wsus_buf_appends(b, quoted ? "<Method>" : "<Method>\"");
		if (rc == 0)
			rc = append_text(b, method);
		if (rc == 0)
			rc = wsus_buf_appends(b, quoted ? "</Method>" : "\"</Method>");
	}
	return rc;
}

static int fault11(struct wsus_buf *b, enum protocol_error code, const char *reason,
		   const char *message, const char *actor, const char *method)
{
	int rc;

	rc = wsus_buf_appends(b, "<soap:Fault>");
	if (rc == 0)
		rc = append_elem(b, "faultcode",
				 code == PROTOCOL_ERR_INTERNAL ? "soap:Server" : "soap:Client");
	if (rc == 0)
		rc = append_elem(b, "faultstring", reason);
	if (rc == 0 && actor != NULL)
		rc = append_elem(b, "faultactor", actor);
	if (rc == 0 && code == PROTOCOL_ERR_UNKNOWN_OPERATION) {
		/* SOAP 1.1 4.4: a Body we could not process still gets a detail. */
		rc = wsus_buf_appends(b, "<detail />");
	} else if (rc == 0) {
		rc = wsus_buf_appends(b, "<detail>");
		if (rc == 0)
			rc = append_detail_children(b, code, message, method);
		if (rc == 0)
			rc = wsus_buf_appends(b, "</detail>");
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "</soap:Fault>");
	return rc;
}

static int fault12(struct wsus_buf *b, enum protocol_error code, const char *reason,
		   const char *message, const char *actor, const char *method)
{
	int rc;

	rc = wsus_buf_appends(b, "<soap:Fault><soap:Code>");
	if (rc == 0)
		rc = append_elem(b, "soap:Value",
				 code == PROTOCOL_ERR_INTERNAL ? "soap:Receiver" : "soap:Sender");
	if (rc == 0)
		rc = wsus_buf_appends(b, "</soap:Code><soap:Reason><soap:Text xml:lang=\"en\">");
	if (rc == 0)
		rc = append_text(b, reason);
	if (rc == 0)
		rc = wsus_buf_appends(b, "</soap:Text></soap:Reason>");
	if (rc == 0 && actor != NULL)
		rc = append_elem(b, "soap:Node", actor);
	/* MS-WSUSSS 2.2.9.2: Detail in no namespace, not soap:Detail. */
	if (rc == 0 && code != PROTOCOL_ERR_UNKNOWN_OPERATION) {
		rc = wsus_buf_appends(b, "<Detail>");
		if (rc == 0)
			rc = append_detail_children(b, code, message, method);
		if (rc == 0)
			rc = wsus_buf_appends(b, "</Detail>");
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "</soap:Fault>");
	return rc;
}

int protocol_soap_fault(struct wsus_buf *b, enum protocol_soap_version v, enum protocol_error code,
			const char *message, const char *actor, const char *method)
{
	const char *reason = "Fault occurred";
	int rc;

	if ((unsigned)code > PROTOCOL_ERR_UNKNOWN_OPERATION)
		code = PROTOCOL_ERR_INTERNAL;
	if (code == PROTOCOL_ERR_UNKNOWN_OPERATION)
		reason = message != NULL && message[0] != '\0' ? message : "Unknown operation";
	rc = protocol_soap_begin(b, v);
	if (rc == 0 && v == PROTOCOL_SOAP12)
		rc = fault12(b, code, reason, message, actor, method);
	else if (rc == 0)
		rc = fault11(b, code, reason, message, actor, method);
	if (rc == 0)
		rc = protocol_soap_end(b, v);
	return rc;
}

/*---- xs:dateTime ----*/

#define MS_PER_DAY 86400000LL

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. The
 * year is shifted to start in March so that the leap day is the last day of
 * the shifted year; eras are 400-year cycles of 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Exactly n decimal digits at *p. */
static int take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return 0;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 1;
}

static int take_char(const char **p, char c)
{
	if (**p != c)
		return 0;
	(*p)++;
	return 1;
}

/* ".f" with 1-7 digits (the 100 ns ticks of .NET); milliseconds into *ms. */
static int take_fraction(const char **p, int *ms)
{
	int n = 0, v = 0;

	*ms = 0;
	if (!take_char(p, '.'))
		return 1;
	while ((*p)[n] >= '0' && (*p)[n] <= '9') {
		if (n < 3)
			v = v * 10 + ((*p)[n] - '0');
		n++;
	}
	if (n == 0 || n > 7)
		return 0;
	for (int i = n; i < 3; i++)
		v *= 10;
	*p += n;
	*ms = v;
	return 1;
}

/* "Z", "+hh:mm", "-hh:mm" or nothing (UTC); the offset in minutes. */
static int take_offset(const char **p, int *minutes)
{
	int sign, hh, mm;

	*minutes = 0;
	if (take_char(p, 'Z') || **p == '\0' || is_xml_space((unsigned char)**p))
		return 1;
	if (**p != '+' && **p != '-')
		return 0;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!take_digits(p, 2, &hh) || !take_char(p, ':') || !take_digits(p, 2, &mm))
		return 0;
	if (mm > 59 || hh > 14 || (hh == 14 && mm != 0))
		return 0;
	*minutes = sign * (hh * 60 + mm);
	return 1;
}

int protocol_datetime_parse(const char *s, int64_t *unix_ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, ms, off;
	int64_t days;

	if (s == NULL)
		return -EINVAL;
	while (is_xml_space((unsigned char)*p))
		p++;
	if (!take_digits(&p, 4, &y) || !take_char(&p, '-') || !take_digits(&p, 2, &mo) ||
	    !take_char(&p, '-') || !take_digits(&p, 2, &d) || !take_char(&p, 'T') ||
	    !take_digits(&p, 2, &h) || !take_char(&p, ':') || !take_digits(&p, 2, &mi) ||
	    !take_char(&p, ':') || !take_digits(&p, 2, &sec) || !take_fraction(&p, &ms) ||
	    !take_offset(&p, &off))
		return -EINVAL;
	while (is_xml_space((unsigned char)*p))
		p++;
	if (*p != '\0')
		return -EINVAL;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return -EINVAL;
	days = days_from_civil(y, mo, d);
	*unix_ms = days * MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + ms -
		   (int64_t)off * 60000;
	return 0;
}

void protocol_datetime_format(int64_t unix_ms, char out[40])
{
	const int64_t min_ms = days_from_civil(1, 1, 1) * MS_PER_DAY;
	const int64_t max_ms = days_from_civil(9999, 12, 31) * MS_PER_DAY + MS_PER_DAY - 1;
	int64_t days, rem, y;
	int m, d;

	if (unix_ms < min_ms)
		unix_ms = min_ms;
	if (unix_ms > max_ms)
		unix_ms = max_ms;
	days = unix_ms / MS_PER_DAY;
	rem = unix_ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
		 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		 (int)(rem % 1000));
}
