/*
 * protocol.h -- everything about bytes on the wire and update XML:
 *   - secure libxml2 parsing (no DTD loading, no entity expansion, no network,
 *     depth and size limits);
 *   - extraction of the indexed properties of an update document (MS-WSUSSS
 *     3.1.1.1 and MS-WUSP 3.1.1.1, plus title, KB, supersedence, files, drivers)
 *     into a struct wsus_update;
 *   - fragment derivation (Core, Extended, LocalizedProperties, Eula) exactly as
 *     a Windows WSUS sends them to clients;
 *   - decoding of XmlUpdateBlobCompressed (an MSCF cabinet holding one LZX
 *     member, UTF-16LE XML) with libmspack.
 *   - SOAP 1.1/1.2 envelopes read by a bounded streaming reader (libexpat, no
 *     DOM), lenient accessors over what it keeps, faults, dateTime;
 *   - the Xpress and gzip encodings of responses.
 */
#ifndef WSUS_PROTOCOL_H
#define WSUS_PROTOCOL_H

#include <libxml/tree.h>

#include "common.h"

/*---- protocol_xml.c ----*/

/* One-time libxml2 set-up (no network, no external entities). Idempotent. */
void protocol_xml_init(void);

/* Parse buf into a document with DTD loading, entity substitution and network
 * access off and the WSUS_MAX_XML_DEPTH / size limits on. The caller frees the
 * result with xmlFreeDoc. NULL on error, with e set. */
xmlDocPtr protocol_xml_parse(const char *buf, size_t len, struct err *e);

/* Compare two XML documents as parsed trees (element names + namespaces,
 * attributes as sets, text content), ignoring the serialisation (namespace
 * prefixes, attribute order, quote style, whitespace-only text between elements).
 * Returns 1 if equivalent, 0 if not, negative on parse error. When not
 * equivalent and diff is non-NULL, it describes the first difference. */
int protocol_xml_equivalent(const char *a, size_t alen, const char *b, size_t blen,
			    struct err *diff);

/*---- protocol_update.c ----*/

/* Parse one update document (an <Update> in the msus/2002/12/Update namespace,
 * UTF-8 as GetUpdateData delivers it) into *out: identity, type, every indexed
 * property, files, prerequisites, bundles, supersedence, drivers and all
 * fragments. The document text is kept in (*out)->xml. On error *out is
 * untouched. The caller frees with wsus_update_free. */
int protocol_update_parse(const char *xml, size_t len, struct wsus_update **out, struct err *e);

/*---- protocol_fragment.c ----*/

/* Derive the fragments of an already-parsed update document and append them to
 * u->fragments: exactly one Core, exactly one Extended, one LocalizedProperties
 * per language, one Eula per EulaFile. Called by protocol_update_parse. */
int protocol_fragments_derive(xmlDocPtr doc, struct wsus_update *u, struct err *e);

/*---- protocol_cab.c ----*/

/* Decode an XmlUpdateBlobCompressed value: base64 text -> MSCF cabinet -> the
 * single member -> UTF-16LE -> UTF-8. *xml is NUL-terminated, caller frees.
 * Bounded by WSUS_MAX_CAB_INPUT / WSUS_MAX_CAB_OUTPUT. */
int protocol_blob_decode_b64(const char *b64, size_t b64_len, char **xml, size_t *xml_len,
			     struct err *e);

/* The same from raw cabinet bytes. */
int protocol_cab_extract(const uint8_t *cab, size_t cab_len, char **xml, size_t *xml_len,
			 struct err *e);

/* UTF-16LE (optional BOM) to UTF-8; caller frees *out. */
int protocol_utf16le_to_utf8(const uint8_t *in, size_t n, char **out, size_t *out_len,
			     struct err *e);


/*---- protocol_soap.c: SOAP 1.1 / 1.2 envelopes, faults, wire types ----*/

#define PROTOCOL_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define PROTOCOL_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define PROTOCOL_NS_SD     "http://www.microsoft.com/SoftwareDistribution"
#define PROTOCOL_NS_DSSAUTH "http://www.microsoft.com/SoftwareDistribution/Server/DssAuthWebService"
#define PROTOCOL_NS_CLIENT "http://www.microsoft.com/SoftwareDistribution/Server/ClientWebService"
#define PROTOCOL_NS_SIMPLEAUTH "http://www.microsoft.com/SoftwareDistribution/Server/SimpleAuthWebService"
#define PROTOCOL_NS_MONITOR "http://www.microsoft.com/SoftwareDistribution/Server/IMonitorable"
/* wsus-replica's own extension of ServerSyncWebService (not in MS-WSUSSS):
 * GetUpdateProvenance, asked only by wsus-replica downstreams. */
#define PROTOCOL_NS_PROVENANCE "urn:wsus-replica:provenance:1"

/* The largest SOAP request body we parse (the front end caps bodies too). */
#define PROTOCOL_MAX_SOAP_BODY (16u * 1024 * 1024)

enum protocol_soap_version { PROTOCOL_SOAP11 = 1, PROTOCOL_SOAP12 = 2 };

/* A SOAP message parsed into a libxml2 document: what the sync client reads
 * from an upstream server's answers (requests to this server are read by
 * protocol_req_read below, without a DOM). op is the first element child of
 * Body. */
struct protocol_soap_msg {
	xmlDocPtr  doc;
	xmlNodePtr op;           /* first element child of Body */
	const char *op_name;     /* its local name (points into doc) */
	const char *op_ns;       /* its namespace URI, "" if none (points into doc) */
	enum protocol_soap_version version;
};

/* Parse a SOAP 1.1 or 1.2 request body (secure parser, size-bounded). On
 * error (not XML, no Envelope/Body, empty Body) returns negative with e set;
 * the caller answers with a fault. Free with protocol_soap_msg_free. */
int protocol_soap_parse(const char *body, size_t len, struct protocol_soap_msg *out, struct err *e);
void protocol_soap_msg_free(struct protocol_soap_msg *m);

/* Lenient readers (real peers send soapenc:arrayType, xsi:nil on
 * non-nillable elements, unknown extra elements): children are matched by
 * local name only. child: the first element child named local, or NULL.
 * next: the next element sibling with the same local name as n, or NULL.
 * Both skip elements marked xsi:nil="true"/"1", which count as absent.
 * text: the trimmed text of n, malloc'd; NULL when n is NULL or xsi:nil. */
xmlNodePtr protocol_soap_child(xmlNodePtr parent, const char *local);
xmlNodePtr protocol_soap_next(xmlNodePtr n);
char *protocol_soap_text(xmlNodePtr n);
/* The trimmed value of n's attribute name (no namespace), malloc'd; NULL when absent. */
char *protocol_soap_attr(xmlNodePtr n, const char *name);
/* Text of the child named local into out (cap bytes); -ENOENT when absent or
 * nil, -E2BIG when longer than cap-1. */
int protocol_soap_child_text(xmlNodePtr parent, const char *local, char *out, size_t cap);
/* Boolean / int child values ("true"/"false"/"1"/"0"; decimal int32). */
int protocol_soap_child_bool(xmlNodePtr parent, const char *local, int *out);
int protocol_soap_child_int(xmlNodePtr parent, const char *local, int64_t min, int64_t max,
			    int64_t *out);

/*---- protocol_reader.c: the bounded streaming request reader ----*/

/* Hard limits on one request, checked while it is read (never on a tree
 * built first). Past any of them reading stops: -EFBIG for bytes (the front
 * end answers 413), -E2BIG for the others (a SOAP fault). max_attrs and
 * max_tag of the pre-operation limits are checked on every start tag of the
 * body by a scan before the parse (the parser reads a whole start tag
 * before it reports it); the operation's max_attrs again as it is read. */
struct protocol_list_limit {
	const char *name;      /* local name of a list element whose <int> children are ids */
	size_t max;            /* its items (xsi:nil ones not counted) */
};
struct protocol_limits {
	size_t max_bytes;      /* the whole body */
	size_t max_elements;   /* elements of the document, <int> list items excepted */
	size_t max_attrs;      /* attributes of one element, namespace declarations included */
	size_t max_depth;      /* element nesting, the Envelope being 1 */
	size_t max_text;       /* character data of one element, in bytes */
	size_t max_tag;        /* bytes of one start tag, name and attributes */
	size_t max_ids;        /* <int> items under an element that lists[] does not name */
	const struct protocol_list_limit *lists; /* NULL, or ended by a NULL name */
};
/* The limits of protocol_req_read when the caller gives none. */
extern const struct protocol_limits protocol_limits_default;

/* Picks the limits of an operation from the namespace URI and local name of
 * the Body's first element; NULL when the operation is unknown. */
typedef const struct protocol_limits *(*protocol_limits_fn)(void *ctx, const char *ns,
							     const char *name);

/* An attribute without a namespace. */
struct protocol_attr {
	const char *name;
	const char *value;
};

/* The values of the <int> children of an element, in document order. */
struct protocol_ids {
	int64_t *v;
	size_t n, cap;
	int bad;                          /* one of them was not a decimal integer */
};

/* An element of the operation's subtree as the reader keeps it (64 bytes;
 * names are shared). The <int> children of an element are not nodes:
 * their values are in ids. */
struct protocol_node {
	const char *name;                 /* local name */
	const char *ns;                   /* namespace URI, "" for none */
	struct protocol_node *first;      /* first element child */
	struct protocol_node *next;       /* next element sibling */
	const char *text;                 /* its own character data (NUL-ended), NULL if none */
	const struct protocol_attr *attrs;
	struct protocol_ids *ids;         /* NULL when it has no <int> child */
	uint32_t text_len;
	uint16_t n_attrs;
	uint8_t nil;                      /* marked xsi:nil="true" or "1" */
};

/* Owner of the nodes, their strings and id arrays. */
struct protocol_tree;
void protocol_tree_free(struct protocol_tree *t);

/* A read request: the operation element (the first element child of Body,
 * which decides the operation whatever SOAPAction says) and its subtree. */
struct protocol_req_msg {
	struct protocol_tree *tree;       /* owns everything below */
	const struct protocol_node *op;   /* NULL unless read in full */
	const char *op_name;     /* its local name, "" when not reached */
	const char *op_ns;       /* its namespace URI, "" if none */
	enum protocol_soap_version version;
};

/* How to read one request. */
struct protocol_req_opts {
	const struct protocol_limits *pre; /* until the operation element; NULL: protocol_limits_default */
	protocol_limits_fn pick;           /* the operation's limits; NULL: pre throughout */
	void *ctx;                         /* for pick */
	int64_t deadline_ms;               /* wsus_now_ms() past which reading stops; 0: none */
};

/* Read a SOAP 1.1 or 1.2 request body in one pass under opts (NULL: the
 * defaults). Returns 0, or negative with e set: -EINVAL not XML / no
 * Envelope / no Body / empty Body / DOCTYPE, -ENOENT an unknown operation
 * (pick returned NULL), -EFBIG over max_bytes, -E2BIG over another limit,
 * -ETIMEDOUT past the deadline (checked every 64 KiB), -ENOMEM. On failure
 * past the operation element op_name/op_ns/version still say what was
 * asked. Free with protocol_req_free in every case. */
int protocol_req_read(const char *body, size_t len, const struct protocol_req_opts *opts,
		      struct protocol_req_msg *out, struct err *e);
void protocol_req_free(struct protocol_req_msg *m);

/*---- protocol_soap.c: the same lenient readers over the reader's nodes ----*/

/* As protocol_soap_child/next/text/child_text/child_bool/child_int above,
 * matching by local name and skipping xsi:nil elements. */
const struct protocol_node *protocol_req_child(const struct protocol_node *parent, const char *local);
const struct protocol_node *protocol_req_next(const struct protocol_node *n);
char *protocol_req_text(const struct protocol_node *n);
int protocol_req_child_text(const struct protocol_node *parent, const char *local, char *out,
			    size_t cap);
int protocol_req_child_bool(const struct protocol_node *parent, const char *local, int *out);
int protocol_req_child_int(const struct protocol_node *parent, const char *local, int64_t min,
			   int64_t max, int64_t *out);
/* The value of n's attribute `name` (no namespace), or NULL. */
const char *protocol_req_attr(const struct protocol_node *n, const char *name);
/* The <int> items of list (n NULL: none): *ids points into the tree.
 * -EINVAL when one of them was not a decimal integer. */
int protocol_req_ids(const struct protocol_node *list, const int64_t **ids, size_t *n);

/* Response writer: the XML declaration, Envelope and Body open tags for the
 * version (end closes them). Between them the caller appends the response
 * element with wsus_buf_* (escaping text with wsus_buf_append_xml_escaped). */
int protocol_soap_begin(struct wsus_buf *b, enum protocol_soap_version v);
int protocol_soap_end(struct wsus_buf *b, enum protocol_soap_version v);
/* The Content-Type header value for a response of this version. */
const char *protocol_soap_content_type(enum protocol_soap_version v);

/* The ErrorCode values of MS-WSUSSS 2.2.9.3 and MS-WUSP 2.2.2.4. */
enum protocol_error {
	PROTOCOL_ERR_INTERNAL = 0,             /* InternalServerError */
	PROTOCOL_ERR_INVALID_COOKIE,           /* InvalidCookie */
	PROTOCOL_ERR_COOKIE_EXPIRED,           /* CookieExpired */
	PROTOCOL_ERR_INVALID_AUTH_COOKIE,      /* InvalidAuthorizationCookie */
	PROTOCOL_ERR_INVALID_PARAMETERS,       /* InvalidParameters */
	PROTOCOL_ERR_INCOMPATIBLE_VERSION,     /* IncompatibleProtocolVersion */
	PROTOCOL_ERR_FILE_DIGESTS_MISSING,     /* FileDigestsMissing */
	PROTOCOL_ERR_CONFIG_CHANGED,           /* ConfigChanged */
	PROTOCOL_ERR_REGISTRATION_REQUIRED,    /* RegistrationRequired */
	PROTOCOL_ERR_SERVER_CHANGED,           /* ServerChanged */
	PROTOCOL_ERR_SERVER_BUSY,              /* ServerBusy */
	PROTOCOL_ERR_TOO_MANY_IDS,             /* TooManyIds */
	PROTOCOL_ERR_REGISTRATION_NOT_REQUIRED,/* RegistrationNotRequired */
	PROTOCOL_ERR_UNKNOWN_OPERATION,        /* no ErrorCode: a plain SOAP fault (unknown body element) */
};
const char *protocol_error_name(enum protocol_error code);

/* A complete fault response (Envelope included) for version v, in the shape
 * Windows servers send: faultcode soap:Client (soap:Server for
 * InternalServerError), faultstring, faultactor (the request URL, may be
 * NULL), detail with unqualified ErrorCode, Message, ID (a fresh GUID) and
 * Method (the SOAPAction of the operation, written in double quotes; a value
 * already quoted is kept as it is; may be NULL). SOAP 1.2 uses
 * Code/Reason/Node and an unqualified Detail element. Served with HTTP 500.
 * PROTOCOL_ERR_UNKNOWN_OPERATION: faultstring = message, no ErrorCode. */
int protocol_soap_fault(struct wsus_buf *b, enum protocol_soap_version v, enum protocol_error code,
			const char *message, const char *actor, const char *method);

/* xs:dateTime: parse 0-7 fractional digits, optional 'Z' or +hh:mm offset
 * (no designator = UTC), the sentinels 0001-01-01, 1753-01-01 and
 * 9999-12-31T23:59:59.9999999. Milliseconds since the Unix epoch (may be
 * negative; digits past the millisecond are truncated); -EINVAL when
 * malformed. */
int protocol_datetime_parse(const char *s, int64_t *unix_ms);
/* "YYYY-MM-DDTHH:MM:SS.fffZ" (out: 40 bytes), clamped to years 0001-9999. */
void protocol_datetime_format(int64_t unix_ms, char out[40]);

/*---- protocol_xpress.c: response encodings (Accept-Encoding) ----*/

/* The largest block of an Xpress stream, in and out (MS-WUSP 2.1.1, <8>). */
#define PROTOCOL_XPRESS_BLOCK 65535

/* Compress one block (n <= PROTOCOL_XPRESS_BLOCK) with plain LZ77 + DIRECT2
 * into out (cap bytes); *out_len bytes written. -E2BIG when the result does
 * not fit in cap, -EINVAL when n is too big. */
int protocol_xpress_block(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);
/* Append the Xpress stream of n bytes to out: blocks, each preceded by its
 * original and compressed sizes (int32 little-endian), neither over 65535.
 * Empty input appends nothing. */
int protocol_xpress_encode(const void *in, size_t n, struct wsus_buf *out);
/* Append a gzip member (RFC 1952) of n bytes to out. */
int protocol_gzip_encode(const void *in, size_t n, struct wsus_buf *out);
/* One gzip member in two parts made apart: head(A) then rest(B) append a
 * member whose content is A B, so a head made once can start many answers.
 * head appends the header and A's blocks and fills part; rest appends B's
 * blocks and the trailer. Inputs up to 4 GiB each. */
struct protocol_gzip_part {
	uint32_t crc;          /* CRC-32 of A */
	size_t   len;          /* A's length */
};
int protocol_gzip_head(const void *in, size_t n, struct wsus_buf *out, struct protocol_gzip_part *part);
int protocol_gzip_rest(const void *in, size_t n, const struct protocol_gzip_part *head, struct wsus_buf *out);

#endif /* WSUS_PROTOCOL_H */
