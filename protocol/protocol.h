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
 * SOAP envelopes and faults join this header with the front end.
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

#endif /* WSUS_PROTOCOL_H */
