/*
 * protocol_int.h -- helpers shared by the .c files of protocol/ only (not part
 * of the public interface): the namespaces of update metadata and small
 * lookups over a libxml2 tree that match elements by namespace URI and local
 * name, never by prefix. Strings handed out by protocol_attr/protocol_text are
 * malloc'd copies owned by the caller (free()).
 */
#ifndef WSUS_PROTOCOL_INT_H
#define WSUS_PROTOCOL_INT_H

#include <libxml/tree.h>

#define PROTO_NS_UPDATE  "http://schemas.microsoft.com/msus/2002/12/Update"
#define PROTO_NS_BASE    "http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules"
#define PROTO_NS_MSI     "http://schemas.microsoft.com/msus/2002/12/MsiApplicabilityRules"
#define PROTO_NS_DRIVER  "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver"

/* Fragment text may grow past the document through escaping; this bounds it. */
#define PROTO_MAX_FRAGMENT (2u * WSUS_MAX_UPDATE_XML)

/* 1 if n is an element with local name `local` in namespace `ns`
 * (ns NULL: any namespace, including none). */
int protocol_is_elem(const xmlNode *n, const char *ns, const char *local);
/* First element child of parent matching (ns, local), or NULL. */
xmlNodePtr protocol_child(const xmlNode *parent, const char *ns, const char *local);
/* Next element sibling after n matching (ns, local), or NULL. */
xmlNodePtr protocol_next(const xmlNode *n, const char *ns, const char *local);
/* *out = copy of the value of the attribute `name` that has no namespace, or
 * NULL if absent. 0, or -ENOMEM. */
int protocol_attr(const xmlNode *n, const char *name, char **out);
/* *out = copy of the text content of n (all descendant text). 0, or -ENOMEM. */
int protocol_text(const xmlNode *n, char **out);

/* s[0..n) as a decimal integer with an optional sign and nothing else
 * (no white space), within [min, max]: -EINVAL not such a number, -ERANGE
 * outside the range (or past int64). */
int protocol_span_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out);

#endif /* WSUS_PROTOCOL_INT_H */
