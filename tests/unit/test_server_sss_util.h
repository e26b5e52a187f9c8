/*
 * test_server_sss_util.h -- shared helpers of the upstream-role tests: a
 * storage on a temporary directory with a struct server around it, SOAP
 * calls through server_soap_dispatch, the fixture update documents, XSD
 * validation of a response's payload (libxml2, the validator xmllint uses)
 * and a structural comparison of two responses. Strings returned are
 * malloc'd for the caller unless noted. SSS_TEST_DUMP=1 prints every
 * request and answer, SSS_TEST_VERBOSE=1 the server's log.
 */
#ifndef TEST_SERVER_SSS_UTIL_H
#define TEST_SERVER_SSS_UTIL_H

#include <stddef.h>

#include "server_int.h"

#define SSS_PATH       "/ServerSyncWebService/ServerSyncWebService.asmx"
#define DSSAUTH_PATH   "/DssAuthWebService/DssAuthWebService.asmx"
#define REPORTING_PATH "/ReportingWebService/ReportingWebService.asmx"
#define XSD_SSS        "ServerSyncWebService.xsd"
#define XSD_DSSAUTH    "DssAuthWebService.xsd"
#define XSD_REPORTING  "ReportingWebService-sss.xsd"
#define XSD_MONITOR    "ServerSyncWebService.IMonitorable.xsd"

#define TEST_DSS_GUID  "6f1c2f6e-3f0b-4d3a-9b1e-0d2f6a1c5e12"
#define TEST_DSS_NAME  "probe.lab.invalid"

struct sfx {
	char dir[256];
	struct storage *st;
	struct server srv;
};

/* cmocka setup/teardown: *state becomes a struct sfx with an open storage. */
int sfx_setup(void **state);
int sfx_teardown(void **state);

/* A SOAP 1.1 envelope around op_xml. */
char *sfx_envelope(const char *op_xml);
/* Dispatch body to the service; the caller frees resp->body (wsus_buf_free). */
void sfx_call(struct sfx *x, const struct server_service *svc, const char *path, const char *body,
	      struct server_resp *resp);
/* sfx_envelope + sfx_call on the service path matching svc. */
void sfx_op(struct sfx *x, const struct server_service *svc, const char *op_xml,
	    struct server_resp *resp);

/* GetAuthorizationCookie then GetCookie for (guid, name): the CookieData
 * and the EncryptedData texts (either out may be NULL). Asserts success. */
void sfx_login(struct sfx *x, const char *guid, const char *name, char **auth, char **cookie);
/* <cookie><Expiration>..</Expiration><EncryptedData>enc</EncryptedData></cookie> */
char *sfx_cookie_xml(const char *enc);

/* Parse and store every *.xml of dir in one transaction (sorted by name).
 * mu_url, when not NULL, is given to the files of the documents. Returns
 * the number stored. */
int sfx_import_dir(struct storage *st, const char *dir, const char *mu_url);
/* Parse and store one document text. */
void sfx_import_doc(struct storage *st, const char *xml);

/* A generated update document. */
struct sfx_docspec {
	const char *uid;
	int         rev;
	const char *type;         /* "Software" when NULL, "Category", "Detectoid" */
	const char *category;     /* CategoryType of a Category */
	const char *prereqs[4];   /* UpdateIDs named in AtLeastOne IsCategory="true" clauses */
	const char *bundled[4];   /* UpdateIDs bundled (revision 1) */
	const char *file_data;    /* payload bytes: one Files/File entry for them */
	size_t      pad;          /* bytes of Description filler */
	int         crlf;         /* CR LF between the top-level elements */
};
char *sfx_doc(const struct sfx_docspec *s);
/* sfx_doc + sfx_import_doc. */
void sfx_put(struct storage *st, const struct sfx_docspec *s);

/* The ErrorCode of a fault response, "" when it is not one (static buffer). */
const char *sfx_fault_code(const struct server_resp *r);
/* The text of the first element named local (any namespace) in the body;
 * NULL when absent. */
char *sfx_text(const struct server_resp *r, const char *local);
/* Number of elements named local in the body. */
int sfx_count(const struct server_resp *r, const char *local);
/* Texts of every element named local, joined by '\n' (a trailing one too). */
char *sfx_texts(const struct server_resp *r, const char *local);

/* Validate the Body's first child against shared/spec/wsdl/<xsd>: 0 when
 * valid, else -1 with the first error in why. */
int sfx_validate(const char *body, size_t len, const char *xsd, char *why, size_t cap);
/* Assert a 200 response whose payload validates against xsd. */
void sfx_assert_valid(const struct server_resp *r, const char *xsd);

/* Structural comparison of two SOAP responses from the Body down: element
 * local names and nesting, text ignored; runs of equally named siblings
 * compare by their first member (counts ignored), and an empty element
 * matches one holding a single run. XmlUpdateBlobCompressed counts as
 * XmlUpdateBlob (the same slot) and UssUrl (which we never send) is
 * skipped. 0 when alike, else -1 with the first difference in why. */
int sfx_same_shape(const char *a, size_t alen, const char *b, size_t blen, char *why, size_t cap);

/* printf into a fresh string. */
char *sfx_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The UpdateIdentity pairs of a response as sorted "uid:rev" lines. */
char *sfx_ids(const struct server_resp *r);

/* Replace every run of at least 40 'A' characters in text by repl. */
char *sfx_replace_runs(const char *text, const char *repl);
/* Raw SQL on x's database (a second connection), for white-box checks. */
void sfx_sql(struct sfx *x, const char *stmt);
long long sfx_sql_int(struct sfx *x, const char *query);
char *sfx_sql_text(struct sfx *x, const char *query);   /* "" for NULL */

/* Read a file (asserts). */
char *sfx_read(const char *path, size_t *len);

#endif /* TEST_SERVER_SSS_UTIL_H */
