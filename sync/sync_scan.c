/*
 * sync_scan.c -- the client role of MS-WUSP 3.2, for `wsus-replica scan` and
 * the wsus-scanload benchmark: build the requests a Windows Update client
 * sends, read the answers, keep what was offered. Everything goes through a
 * struct sync_http, so the trust policy of DESIGN.md applies to the scanned
 * server too. The scan owns its offers, files, cookies and URLs and frees
 * them in sync_scan_free; each answer is parsed into the scan and dropped.
 *
 * Design notes:
 * (1) Every call that carries a cookie is built by a function, so that after
 *     a recovered fault (CookieExpired / InvalidCookie: authorise again;
 *     ConfigChanged: GetConfig again; RegistrationRequired: register) the
 *     same request goes out again with the new cookie. Each recovery is
 *     allowed once per scan, so a server that keeps faulting ends the scan.
 * (2) Fragments (Core, Extended, LocalizedProperties) are several sibling
 *     elements, not documents: they are read inside a wrapper element that
 *     also binds the xsi prefix some Windows servers leave in them.
 * (3) Offers and files are found by RevisionID and SHA-1 through small open
 *     addressing tables, so a scan of thousands of revisions stays linear
 *     (the load tool runs hundreds of scans at once on the same machine).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "protocol.h"
#include "sync.h"

#define NS_REPORTING     "http://www.microsoft.com/SoftwareDistribution"
#define NS_XSI           "http://www.w3.org/2001/XMLSchema-instance"
#define CLIENT_PATH      "ClientWebService/Client.asmx"
#define REPORTING_PATH   "ReportingWebService/ReportingWebService.asmx"
#define PLUGIN_ID        "SimpleTargeting"
#define SCAN_URL_MAX     1024
#define SCAN_FAULT       (-EREMOTEIO)
#define EVENTS_PER_BATCH 200
#define CLIENT_VERSION   "10.0.19041.3636"   /* the Windows Update agent we claim to be */
#define OS_BUILD         19045
/* HRESULTs of the download events: WU_E_DM_INCORRECTFILEHASH and E_FAIL. */
#define HR_FILE_HASH     ((int32_t)((int64_t)0x80246002 - 0x100000000LL))
#define HR_FAIL          ((int32_t)((int64_t)0x80004005 - 0x100000000LL))

/*---- Tables by key ----*/

/* Open addressing, linear probing; key 0 marks an empty slot. A key may
 * repeat (two SHA-1s with the same first 8 bytes): eq tells them apart. */
struct idmap {
	uint64_t *k;
	size_t   *v;
	size_t    cap;          /* a power of two */
	size_t    n;
};

struct sync_scan;
typedef int (*idmap_eq)(const struct sync_scan *s, size_t v, const void *full);

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static void idmap_free(struct idmap *m)
{
	free(m->k);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int idmap_find(const struct idmap *m, uint64_t key, idmap_eq eq, const struct sync_scan *s,
		      const void *full, size_t *val)
{
	size_t i;

	if (m->cap == 0)
		return 0;
	for (i = (size_t)mix64(key) & (m->cap - 1); m->k[i] != 0; i = (i + 1) & (m->cap - 1)) {
		if (m->k[i] == key && (eq == NULL || eq(s, m->v[i], full))) {
			*val = m->v[i];
			return 1;
		}
	}
	return 0;
}

static void idmap_place(uint64_t *k, size_t *v, size_t cap, uint64_t key, size_t val)
{
	size_t i = (size_t)mix64(key) & (cap - 1);

	while (k[i] != 0)
		i = (i + 1) & (cap - 1);
	k[i] = key;
	v[i] = val;
}

/* Add key (not looked up first: the caller knows it is new). */
static int idmap_add(struct idmap *m, uint64_t key, size_t val)
{
	if (2 * (m->n + 1) > m->cap) {
		size_t ncap = m->cap ? 2 * m->cap : 256;
		uint64_t *nk = calloc(ncap, sizeof(*nk));
		size_t *nv = calloc(ncap, sizeof(*nv));

		if (nk == NULL || nv == NULL) {
			free(nk);
			free(nv);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->k[i] != 0)
				idmap_place(nk, nv, ncap, m->k[i], m->v[i]);
		free(m->k);
		free(m->v);
		m->k = nk;
		m->v = nv;
		m->cap = ncap;
	}
	idmap_place(m->k, m->v, m->cap, key, val);
	m->n++;
	return 0;
}

static uint64_t rev_key(int64_t id)
{
	return (uint64_t)(uint32_t)id | (1ULL << 32);
}

static uint64_t sha1_key(const uint8_t sha1[WSUS_SHA1_LEN])
{
	uint64_t k = 0;

	for (int i = 0; i < 8; i++)
		k = (k << 8) | sha1[i];
	return k | 1;
}

/*---- The scan ----*/

enum svc { SVC_CLIENT, SVC_AUTH, SVC_REPORTING };

struct sync_scan {
	struct sync_http *h;
	char  server[SCAN_URL_MAX];
	char  client_url[SCAN_URL_MAX];
	char  report_url[SCAN_URL_MAX];
	char  groups[1024];
	char  pv[16];
	char  locale[24];
	enum sync_scan_nonleaf nonleaf;
	char (*installed)[WSUS_GUID_LEN];   /* sorted UpdateIDs (NONLEAF_LIST) */
	size_t n_installed;
	char **hwids;
	size_t n_hwids;
	int   no_drivers, no_extended;
	struct sync_scan_info info;
	char *auth_cookie;                 /* CookieData of GetAuthorizationCookie */
	char *cookie;                      /* Cookie/EncryptedData */
	char  cookie_exp[64];              /* Cookie/Expiration, as sent */
	int   recovered_auth, recovered_config, recovered_reg;
	int   driver_not_needed;           /* the software pass said DriverSyncNotNeeded=true */
	int   downloaded;                  /* sync_scan_download ran */
	struct sync_scan_update *u;
	size_t n_u, cap_u;
	struct idmap by_id;
	struct sync_scan_file *f;
	size_t n_f, cap_f;
	struct idmap by_sha1;
};

static int is_fault(const struct sync_scan *s, const char *code)
{
	return strcmp(s->info.fault_code, code) == 0;
}

static struct sync_scan_update *offer_by_id(struct sync_scan *s, int64_t id)
{
	size_t i;

	return idmap_find(&s->by_id, rev_key(id), NULL, s, NULL, &i) ? &s->u[i] : NULL;
}

static int file_eq(const struct sync_scan *s, size_t v, const void *full)
{
	return memcmp(s->f[v].sha1, full, WSUS_SHA1_LEN) == 0;
}

static long file_index(const struct sync_scan *s, const uint8_t sha1[WSUS_SHA1_LEN])
{
	size_t i;

	return idmap_find(&s->by_sha1, sha1_key(sha1), file_eq, s, sha1, &i) ? (long)i : -1;
}

/*---- Small readers ----*/

/* Copy src into out (cap bytes), cut on a UTF-8 boundary, control
 * characters made spaces: what a server sends ends up on a terminal. */
static void copy_clean(char *out, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
	out[n] = '\0';
}

/* The trimmed text of n into out; -ENOENT when n is absent or nil. */
static int text_into(xmlNodePtr n, char *out, size_t cap)
{
	char *t = protocol_soap_text(n);

	if (t == NULL)
		return -ENOENT;
	copy_clean(out, cap, t);
	free(t);
	return 0;
}

static char *attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST name);
	char *out;

	if (v == NULL)
		return NULL;
	out = strdup((const char *)v);
	xmlFree(v);
	return out;
}

static int b64_exact(const char *text, uint8_t *out, size_t want)
{
	uint8_t buf[64];
	size_t n = 0;

	if (text == NULL || wsus_b64_decode(text, strlen(text), buf, sizeof(buf), &n) < 0 || n != want)
		return -EINVAL;
	memcpy(out, buf, want);
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.fff", the clientTime/TimeAtTarget form of the examples. */
static void client_time(char out[40])
{
	size_t n;

	protocol_datetime_format(wsus_now_ms(), out);
	n = strlen(out);
	if (n > 0 && out[n - 1] == 'Z')
		out[n - 1] = '\0';
}

/* A fragment as a document: its siblings under one wrapper element. */
static xmlDocPtr fragment_doc(const char *xml, struct err *e)
{
	struct wsus_buf b;
	xmlDocPtr doc = NULL;

	wsus_buf_init(&b, WSUS_MAX_UPDATE_XML);
	if (wsus_buf_appends(&b, "<f xmlns:xsi=\"" NS_XSI "\">") == 0 && wsus_buf_appends(&b, xml) == 0 &&
	    wsus_buf_appends(&b, "</f>") == 0)
		doc = protocol_xml_parse(b.data, b.len, e);
	else
		err_set(e, -E2BIG, "fragment too large");
	wsus_buf_free(&b);
	return doc;
}

static xmlNodePtr first_element(xmlNodePtr n)
{
	for (; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

/*---- SOAP calls ----*/

static const char *svc_ns(enum svc v)
{
	switch (v) {
	case SVC_AUTH: return PROTOCOL_NS_SIMPLEAUTH;
	case SVC_REPORTING: return NS_REPORTING;
	default: return PROTOCOL_NS_CLIENT;
	}
}

static const char *svc_url(const struct sync_scan *s, enum svc v)
{
	switch (v) {
	case SVC_AUTH: return s->info.auth_url;
	case SVC_REPORTING: return s->report_url;
	default: return s->client_url;
	}
}

/* A SOAP fault into the info and e: "fault <ErrorCode>: <Message> in <op>". */
static int read_fault(struct sync_scan *s, const char *op, const struct protocol_soap_msg *m, struct err *e)
{
	struct sync_scan_info *in = &s->info;
	xmlNodePtr detail = protocol_soap_child(m->op, "detail");

	if (detail == NULL)
		detail = protocol_soap_child(m->op, "Detail");
	if (text_into(protocol_soap_child(detail, "ErrorCode"), in->fault_code, sizeof(in->fault_code)) < 0 ||
	    in->fault_code[0] == '\0')
		snprintf(in->fault_code, sizeof(in->fault_code), "(no ErrorCode)");
	if (text_into(protocol_soap_child(detail, "Message"), in->fault_message, sizeof(in->fault_message)) < 0 ||
	    in->fault_message[0] == '\0') {
		xmlNodePtr reason = protocol_soap_child(m->op, "Reason");

		if (text_into(protocol_soap_child(m->op, "faultstring"), in->fault_message,
			      sizeof(in->fault_message)) < 0 &&
		    text_into(protocol_soap_child(reason, "Text"), in->fault_message, sizeof(in->fault_message)) < 0)
			snprintf(in->fault_message, sizeof(in->fault_message), "(no message)");
	}
	snprintf(in->fault_op, sizeof(in->fault_op), "%s", op);
	return err_set(e, SCAN_FAULT, "fault %s: %s in %s", in->fault_code, in->fault_message, op);
}

/* POST op with args (its children, XML) and parse the answer. On success
 * the caller frees m; *result is the <op>Result element (NULL when absent). */
static int call(struct sync_scan *s, enum svc v, const char *op, const struct wsus_buf *args,
		struct protocol_soap_msg *m, xmlNodePtr *result, struct err *e)
{
	const char *ns = svc_ns(v);
	struct wsus_buf body, out;
	char action[256], want[64];
	long status = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	*result = NULL;
	wsus_buf_init(&body, PROTOCOL_MAX_SOAP_BODY);
	wsus_buf_init(&out, SYNC_MAX_SOAP_RESPONSE);
	rc = wsus_buf_printf(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"%s\""
			     " xmlns:xsi=\"" NS_XSI "\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">"
			     "<soap:Body><%s xmlns=\"%s\">", PROTOCOL_NS_SOAP11, op, ns);
	if (rc == 0 && args != NULL && args->len > 0)
		rc = wsus_buf_append(&body, args->data, args->len);
	if (rc == 0)
		rc = wsus_buf_printf(&body, "</%s></soap:Body></soap:Envelope>", op);
	if (rc < 0) {
		err_set(e, rc, "%s: the request does not fit %u bytes", op, PROTOCOL_MAX_SOAP_BODY);
		goto done;
	}
	snprintf(action, sizeof(action), "%s/%s", ns, op);
	s->info.calls++;
	rc = sync_http_post_soap(s->h, svc_url(s, v), action, body.data, body.len, &status, &out, e);
	if (rc < 0) {
		err_prefix(e, "%s", op);
		goto done;
	}
	rc = protocol_soap_parse(out.data, out.len, m, e);
	if (rc < 0) {
		err_prefix(e, "%s: the answer is not a SOAP envelope", op);
		goto done;
	}
	if (status == 500 || strcmp(m->op_name, "Fault") == 0) {
		rc = read_fault(s, op, m, e);
		protocol_soap_msg_free(m);
		goto done;
	}
	snprintf(want, sizeof(want), "%sResponse", op);
	if (strcmp(m->op_name, want) != 0) {
		rc = err_set(e, -EPROTO, "%s: answered with <%.60s> instead of <%s>", op, m->op_name, want);
		protocol_soap_msg_free(m);
		goto done;
	}
	snprintf(want, sizeof(want), "%sResult", op);
	*result = protocol_soap_child(m->op, want);
done:
	wsus_buf_free(&body);
	wsus_buf_free(&out);
	return rc;
}

static int put_text(struct wsus_buf *b, const char *name, const char *text)
{
	int rc = wsus_buf_printf(b, "<%s>", name);

	if (rc == 0)
		rc = wsus_buf_append_xml_escaped(b, text, strlen(text));
	if (rc == 0)
		rc = wsus_buf_printf(b, "</%s>", name);
	return rc;
}

static int put_cookie(const struct sync_scan *s, struct wsus_buf *b)
{
	int rc = wsus_buf_appends(b, "<cookie>");

	if (rc == 0)
		rc = put_text(b, "Expiration", s->cookie_exp);
	if (rc == 0)
		rc = put_text(b, "EncryptedData", s->cookie);
	if (rc == 0)
		rc = wsus_buf_appends(b, "</cookie>");
	return rc;
}

/* A Cookie element (GetCookieResult, NewCookie) becomes ours. */
static int take_cookie(struct sync_scan *s, xmlNodePtr c, const char *op, struct err *e)
{
	char *data = protocol_soap_text(protocol_soap_child(c, "EncryptedData"));

	if (data == NULL || data[0] == '\0') {
		free(data);
		return err_set(e, -EPROTO, "%s: no cookie EncryptedData in the answer", op);
	}
	if (text_into(protocol_soap_child(c, "Expiration"), s->cookie_exp, sizeof(s->cookie_exp)) < 0)
		protocol_datetime_format(wsus_now_ms() + 3600 * 1000, s->cookie_exp);
	free(s->cookie);
	s->cookie = data;
	return 0;
}

/*---- The handshake: GetConfig, GetAuthorizationCookie, GetCookie, RegisterComputer ----*/

static int resolve_service_url(const struct sync_scan *s, const char *url, char *out, size_t cap)
{
	if (strstr(url, "://") != NULL) {
		if ((size_t)snprintf(out, cap, "%s", url) >= cap)
			return -E2BIG;
		return 0;
	}
	return sync_url_join(s->server, url, out, cap);
}

static int read_auth_info(struct sync_scan *s, xmlNodePtr r, struct err *e)
{
	xmlNodePtr list = protocol_soap_child(r, "AuthInfo");

	for (xmlNodePtr p = protocol_soap_child(list, "AuthPlugInInfo"); p != NULL; p = protocol_soap_next(p)) {
		char id[64], url[SCAN_URL_MAX];

		if (text_into(protocol_soap_child(p, "PlugInID"), id, sizeof(id)) < 0 ||
		    strcasecmp(id, PLUGIN_ID) != 0)
			continue;
		if (text_into(protocol_soap_child(p, "ServiceUrl"), url, sizeof(url)) < 0 || url[0] == '\0')
			return err_set(e, -EPROTO, "GetConfig: the SimpleTargeting plug-in has no ServiceUrl");
		if (resolve_service_url(s, url, s->info.auth_url, sizeof(s->info.auth_url)) < 0)
			return err_set(e, -E2BIG, "GetConfig: ServiceUrl too long");
		return 0;
	}
	return err_set(e, -EPROTO, "GetConfig: AuthInfo offers no SimpleTargeting plug-in");
}

static int read_config(struct sync_scan *s, xmlNodePtr r, struct err *e)
{
	xmlNodePtr props = protocol_soap_child(r, "Properties");
	int rc;

	if (r == NULL)
		return err_set(e, -EPROTO, "GetConfig: no GetConfigResult");
	if (text_into(protocol_soap_child(r, "LastChange"), s->info.last_change, sizeof(s->info.last_change)) < 0)
		return err_set(e, -EPROTO, "GetConfig: no LastChange");
	if (protocol_soap_child_bool(r, "IsRegistrationRequired", &s->info.registration_required) < 0)
		s->info.registration_required = 1;
	rc = read_auth_info(s, r, e);
	if (rc < 0)
		return rc;
	s->info.max_extended = 0;
	s->info.server_pv[0] = '\0';
	for (xmlNodePtr p = protocol_soap_child(props, "ConfigurationProperty"); p; p = protocol_soap_next(p)) {
		char name[64], value[64], *end;
		long v;

		if (text_into(protocol_soap_child(p, "Name"), name, sizeof(name)) < 0 ||
		    text_into(protocol_soap_child(p, "Value"), value, sizeof(value)) < 0)
			continue;
		if (strcmp(name, "ProtocolVersion") == 0) {
			snprintf(s->info.server_pv, sizeof(s->info.server_pv), "%s", value);
		} else if (strcmp(name, "MaxExtendedUpdatesPerRequest") == 0) {
			errno = 0;
			v = strtol(value, &end, 10);
			if (errno == 0 && end != value && *end == '\0' && v > 0 && v <= 100000)
				s->info.max_extended = (int)v;
		}
	}
	if (s->info.max_extended == 0)
		return err_set(e, -EPROTO, "GetConfig: no usable MaxExtendedUpdatesPerRequest property");
	return 0;
}

static int get_config(struct sync_scan *s, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf a;
	xmlNodePtr r;
	int rc;

	wsus_buf_init(&a, 1024);
	rc = wsus_buf_appends(&a, "<protocolVersion>" SYNC_SCAN_CONFIG_PV "</protocolVersion>");
	if (rc == 0)
		rc = call(s, SVC_CLIENT, "GetConfig", &a, &m, &r, e);
	wsus_buf_free(&a);
	if (rc < 0)
		return rc;
	rc = read_config(s, r, e);
	protocol_soap_msg_free(&m);
	return rc;
}

static int get_authorization_cookie(struct sync_scan *s, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf a;
	xmlNodePtr r;
	char *data;
	int rc;

	wsus_buf_init(&a, 8192);
	rc = put_text(&a, "clientId", s->info.client_id);
	if (rc == 0)
		rc = put_text(&a, "targetGroupName", s->groups);
	if (rc == 0)
		rc = put_text(&a, "dnsName", s->info.dns_name);
	if (rc == 0)
		rc = call(s, SVC_AUTH, "GetAuthorizationCookie", &a, &m, &r, e);
	wsus_buf_free(&a);
	if (rc < 0)
		return rc;
	data = protocol_soap_text(protocol_soap_child(r, "CookieData"));
	protocol_soap_msg_free(&m);
	if (data == NULL || data[0] == '\0') {
		free(data);
		return err_set(e, -EPROTO, "GetAuthorizationCookie: no CookieData in the answer");
	}
	free(s->auth_cookie);
	s->auth_cookie = data;
	return 0;
}

static int get_cookie(struct sync_scan *s, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf a;
	xmlNodePtr r;
	char now[40];
	int rc;

	client_time(now);
	wsus_buf_init(&a, 1u << 20);
	rc = wsus_buf_appends(&a, "<authCookies><AuthorizationCookie><PlugInId>" PLUGIN_ID "</PlugInId>");
	if (rc == 0)
		rc = put_text(&a, "CookieData", s->auth_cookie);
	if (rc == 0)
		rc = wsus_buf_appends(&a, "</AuthorizationCookie></authCookies>");
	/* The cookie being renewed, so the server can carry its state over. */
	if (rc == 0 && s->cookie != NULL) {
		rc = wsus_buf_appends(&a, "<oldCookie>");
		if (rc == 0)
			rc = put_text(&a, "Expiration", s->cookie_exp);
		if (rc == 0)
			rc = put_text(&a, "EncryptedData", s->cookie);
		if (rc == 0)
			rc = wsus_buf_appends(&a, "</oldCookie>");
	} else if (rc == 0) {
		rc = wsus_buf_appends(&a, "<oldCookie xsi:nil=\"true\" />");
	}
	if (rc == 0)
		rc = put_text(&a, "lastChange", s->info.last_change);
	if (rc == 0)
		rc = put_text(&a, "currentTime", now);
	if (rc == 0)
		rc = put_text(&a, "protocolVersion", s->pv);
	if (rc == 0)
		rc = call(s, SVC_CLIENT, "GetCookie", &a, &m, &r, e);
	wsus_buf_free(&a);
	if (rc < 0)
		return rc;
	rc = r ? take_cookie(s, r, "GetCookie", e) : err_set(e, -EPROTO, "GetCookie: no GetCookieResult");
	protocol_soap_msg_free(&m);
	return rc;
}

/* What RegisterComputer says about us: a Windows 10 22H2 workstation whose
 * make and model name this tool, so that an admin can tell it apart. */
static int computer_info_args(struct sync_scan *s, void *ctx, struct wsus_buf *a)
{
	int rc = wsus_buf_appends(a, "<computerInfo>");

	(void)ctx;
	if (rc == 0)
		rc = put_text(a, "DnsName", s->info.dns_name);
	if (rc == 0)
		rc = wsus_buf_printf(a, "<OSMajorVersion>10</OSMajorVersion><OSMinorVersion>0</OSMinorVersion>"
				     "<OSBuildNumber>%d</OSBuildNumber><OSServicePackMajorNumber>0"
				     "</OSServicePackMajorNumber><OSServicePackMinorNumber>0"
				     "</OSServicePackMinorNumber><OSLocale>en-US</OSLocale>", OS_BUILD);
	if (rc == 0)
		rc = wsus_buf_appends(a, "<ComputerManufacturer>wsus-replica</ComputerManufacturer>"
				      "<ComputerModel>scan diagnostic client</ComputerModel>"
				      "<BiosVersion>1.0</BiosVersion><BiosName>wsus-replica scan</BiosName>"
				      "<BiosReleaseDate>2024-01-01T00:00:00</BiosReleaseDate>"
				      "<ProcessorArchitecture>AMD64</ProcessorArchitecture><SuiteMask>256</SuiteMask>"
				      "<OldProductType>1</OldProductType><NewProductType>48</NewProductType>"
				      "<SystemMetrics>0</SystemMetrics>"
				      "<ClientVersionMajorNumber>10</ClientVersionMajorNumber>"
				      "<ClientVersionMinorNumber>0</ClientVersionMinorNumber>"
				      "<ClientVersionBuildNumber>19041</ClientVersionBuildNumber>"
				      "<ClientVersionQfeNumber>3636</ClientVersionQfeNumber>"
				      "<OSDescription>Windows 10 Pro</OSDescription>"
				      "<DeviceType>Desktop</DeviceType></computerInfo>");
	return rc;
}

static int simple_cookie_call(struct sync_scan *s, const char *op,
			      int (*build)(struct sync_scan *, void *, struct wsus_buf *), void *ctx,
			      struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf a;
	xmlNodePtr r;
	int rc;

	if (s->cookie == NULL)
		return err_set(e, -EPROTO, "%s: no cookie", op);
	wsus_buf_init(&a, PROTOCOL_MAX_SOAP_BODY);
	rc = put_cookie(s, &a);
	if (rc == 0)
		rc = build(s, ctx, &a);
	if (rc < 0) {
		wsus_buf_free(&a);
		return err_set(e, rc, "%s: cannot build the request", op);
	}
	rc = call(s, SVC_CLIENT, op, &a, &m, &r, e);
	wsus_buf_free(&a);
	if (rc == 0)
		protocol_soap_msg_free(&m);
	return rc;
}

static int register_computer(struct sync_scan *s, struct err *e)
{
	return simple_cookie_call(s, "RegisterComputer", computer_info_args, NULL, e);
}

/* GetAuthorizationCookie + GetCookie; a ConfigChanged from GetCookie (a
 * LastChange that moved since GetConfig) sends us through GetConfig once. */
static int authorize(struct sync_scan *s, struct err *e)
{
	int rc = get_authorization_cookie(s, e);

	if (rc == 0)
		rc = get_cookie(s, e);
	if (rc == SCAN_FAULT && is_fault(s, "ConfigChanged") && !s->recovered_config) {
		s->recovered_config = 1;
		s->info.recoveries++;
		snprintf(s->info.recovered, sizeof(s->info.recovered), "ConfigChanged in GetCookie");
		rc = get_config(s, e);
		if (rc == 0)
			rc = get_authorization_cookie(s, e);
		if (rc == 0)
			rc = get_cookie(s, e);
	}
	return rc;
}

/* After a fault of a call that carried the cookie: 1 when recovered (send
 * the call again), 0 when the fault stands, negative when recovering failed. */
static int recover(struct sync_scan *s, struct err *e)
{
	char what[sizeof(s->info.recovered)];
	int rc;

	snprintf(what, sizeof(what), "%s in %s", s->info.fault_code, s->info.fault_op);
	if ((is_fault(s, "CookieExpired") || is_fault(s, "InvalidCookie")) && !s->recovered_auth) {
		s->recovered_auth = 1;
		if (is_fault(s, "InvalidCookie")) {
			free(s->cookie);     /* not ours any more: GetCookie must not see it again */
			s->cookie = NULL;
		}
		rc = authorize(s, e);
	} else if (is_fault(s, "ConfigChanged") && !s->recovered_config) {
		s->recovered_config = 1;
		rc = get_config(s, e);
		if (rc == 0)
			rc = authorize(s, e);
	} else if (is_fault(s, "RegistrationRequired") && !s->recovered_reg) {
		s->recovered_reg = 1;
		rc = register_computer(s, e);
	} else {
		return 0;
	}
	if (rc < 0)
		return rc;
	s->info.recoveries++;
	snprintf(s->info.recovered, sizeof(s->info.recovered), "%s", what);
	s->info.fault_code[0] = s->info.fault_message[0] = s->info.fault_op[0] = '\0';
	log_info("scan", "recovered from a fault fault=\"%s\"", what);
	return 1;
}

typedef int (*args_fn)(struct sync_scan *s, void *ctx, struct wsus_buf *a);

/* A call that carries the cookie, sent again after a recovered fault. */
static int cookie_call(struct sync_scan *s, enum svc v, const char *op, args_fn build, void *ctx,
		       struct protocol_soap_msg *m, xmlNodePtr *r, struct err *e)
{
	for (;;) {
		struct wsus_buf a;
		struct err saved;
		int rc, again;

		if (s->cookie == NULL)
			return err_set(e, -EPROTO, "%s: no cookie", op);
		wsus_buf_init(&a, PROTOCOL_MAX_SOAP_BODY);
		rc = put_cookie(s, &a);
		if (rc == 0)
			rc = build(s, ctx, &a);
		if (rc < 0) {
			wsus_buf_free(&a);
			return err_set(e, rc, "%s: the request does not fit %u bytes", op, PROTOCOL_MAX_SOAP_BODY);
		}
		rc = call(s, v, op, &a, m, r, e);
		wsus_buf_free(&a);
		if (rc != SCAN_FAULT)
			return rc;
		saved = *e;
		again = recover(s, e);
		if (again < 0)
			return again;
		if (again == 0) {
			*e = saved;
			return rc;
		}
	}
}

static int handshake(struct sync_scan *s, struct err *e)
{
	int rc = get_config(s, e);

	if (rc == 0)
		rc = authorize(s, e);
	if (rc == 0 && s->info.registration_required) {
		struct protocol_soap_msg m;
		xmlNodePtr r;

		rc = cookie_call(s, SVC_CLIENT, "RegisterComputer", computer_info_args, NULL, &m, &r, e);
		if (rc == 0)
			protocol_soap_msg_free(&m);
	}
	return rc;
}

/*---- SyncUpdates ----*/

static int cmp_guid(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Does this client say the non-leaf revision u is installed? */
static int nonleaf_installed(const struct sync_scan *s, const struct sync_scan_update *u)
{
	switch (s->nonleaf) {
	case SYNC_SCAN_NONLEAF_ALL:
		return 1;
	case SYNC_SCAN_NONLEAF_LIST:
		return s->n_installed > 0 &&
		       bsearch(u->update_id, s->installed, s->n_installed, WSUS_GUID_LEN, cmp_guid) != NULL;
	default:
		return 0;
	}
}

enum id_list { IDS_INSTALLED, IDS_OTHER, IDS_DRIVER };

static int put_ids(const struct sync_scan *s, struct wsus_buf *a, const char *name, enum id_list which)
{
	int rc = 0, open = 0;

	for (size_t i = 0; i < s->n_u && rc == 0; i++) {
		const struct sync_scan_update *u = &s->u[i];
		int take;

		if (u->out_of_scope)
			continue;
		switch (which) {
		case IDS_INSTALLED: take = u->installed; break;
		case IDS_OTHER: take = !u->installed && !u->driver_pass; break;
		default: take = u->driver_pass && !u->installed; break;
		}
		if (!take)
			continue;
		if (!open) {
			rc = wsus_buf_printf(a, "<%s>", name);
			open = 1;
		}
		if (rc == 0)
			rc = wsus_buf_printf(a, "<int>%lld</int>", (long long)u->revision_id);
	}
	if (rc == 0 && open)
		rc = wsus_buf_printf(a, "</%s>", name);
	return rc;
}

static int put_system_spec(const struct sync_scan *s, struct wsus_buf *a)
{
	int rc = wsus_buf_appends(a, "<SystemSpec>");

	for (size_t i = 0; i < s->n_hwids && rc == 0; i++) {
		rc = wsus_buf_appends(a, "<Device><HardwareIDs>");
		if (rc == 0)
			rc = put_text(a, "string", s->hwids[i]);
		if (rc == 0)
			rc = wsus_buf_appends(a, "</HardwareIDs></Device>");
	}
	if (rc == 0)
		rc = wsus_buf_appends(a, "</SystemSpec>");
	return rc;
}

/* SyncUpdateParameters in schema order. */
static int sync_args(struct sync_scan *s, void *ctx, struct wsus_buf *a)
{
	int drivers = *(const int *)ctx;
	int rc = wsus_buf_appends(a, "<parameters><ExpressQuery>false</ExpressQuery>");

	if (rc == 0)
		rc = put_ids(s, a, "InstalledNonLeafUpdateIDs", IDS_INSTALLED);
	if (rc == 0 && !drivers)
		rc = put_ids(s, a, "OtherCachedUpdateIDs", IDS_OTHER);
	if (rc == 0 && drivers)
		rc = put_system_spec(s, a);
	if (rc == 0 && drivers)
		rc = put_ids(s, a, "CachedDriverIDs", IDS_DRIVER);
	if (rc == 0)
		rc = wsus_buf_printf(a, "<SkipSoftwareSync>%s</SkipSoftwareSync></parameters>",
				     drivers ? "true" : "false");
	return rc;
}

static void read_deployment(xmlNodePtr d, struct sync_scan_update *u)
{
	if (d == NULL)
		return;
	if (protocol_soap_child_int(d, "ID", INT32_MIN, INT32_MAX, &u->deployment_id) < 0)
		u->deployment_id = 0;
	if (text_into(protocol_soap_child(d, "Action"), u->action, sizeof(u->action)) < 0)
		u->action[0] = '\0';
	if (text_into(protocol_soap_child(d, "Deadline"), u->deadline, sizeof(u->deadline)) < 0)
		u->deadline[0] = '\0';
	if (protocol_soap_child_bool(d, "IsAssigned", &u->is_assigned) < 0)
		u->is_assigned = 0;
}

/* Identity, type and bundling from the Core fragment. */
static int read_core(const char *xml, struct sync_scan_update *u, struct err *e)
{
	xmlDocPtr doc = fragment_doc(xml, e);
	xmlNodePtr root, id, props;
	char *uid = NULL, *rev = NULL, *type = NULL, *end;
	long r;
	int rc = 0;

	if (doc == NULL) {
		err_prefix(e, "SyncUpdates: Core fragment of revision %lld", (long long)u->revision_id);
		return -EPROTO;
	}
	root = xmlDocGetRootElement(doc);
	id = protocol_soap_child(root, "UpdateIdentity");
	props = protocol_soap_child(root, "Properties");
	uid = id ? attr(id, "UpdateID") : NULL;
	rev = id ? attr(id, "RevisionNumber") : NULL;
	type = props ? attr(props, "UpdateType") : NULL;
	errno = 0;
	r = rev ? strtol(rev, &end, 10) : -1;
	if (uid == NULL || wsus_guid_normalize(uid, u->update_id) < 0 || rev == NULL || errno != 0 ||
	    end == rev || *end != '\0' || r < 0 || r > INT32_MAX) {
		rc = err_set(e, -EPROTO, "SyncUpdates: revision %lld has no readable UpdateIdentity in its Core fragment",
			     (long long)u->revision_id);
		goto done;
	}
	u->revision = (int)r;
	u->type = type ? wsus_update_type_parse(type) : WSUS_UT_UNKNOWN;
	u->is_bundle = protocol_soap_child(protocol_soap_child(root, "Relationships"), "BundledUpdates") != NULL;
done:
	free(uid);
	free(rev);
	free(type);
	xmlFreeDoc(doc);
	return rc;
}

static struct sync_scan_update *new_offer(struct sync_scan *s)
{
	if (s->n_u == s->cap_u) {
		size_t ncap = s->cap_u ? 2 * s->cap_u : 256;
		struct sync_scan_update *nu;

		if (s->n_u >= SYNC_SCAN_MAX_OFFERS)
			return NULL;
		nu = realloc(s->u, ncap * sizeof(*nu));
		if (nu == NULL)
			return NULL;
		s->u = nu;
		s->cap_u = ncap;
	}
	memset(&s->u[s->n_u], 0, sizeof(s->u[0]));
	return &s->u[s->n_u];
}

/* One NewUpdates/UpdateInfo. *reported counts non-leaf revisions we now
 * report installed (they change what the server offers next). */
static int add_offer(struct sync_scan *s, xmlNodePtr it, int drivers, int *reported, struct err *e)
{
	struct sync_scan_update *u, *old;
	int64_t id;
	char *xml;
	int rc;

	if (protocol_soap_child_int(it, "ID", INT32_MIN, INT32_MAX, &id) < 0)
		return err_set(e, -EPROTO, "SyncUpdates: an UpdateInfo without a readable ID");
	old = offer_by_id(s, id);
	if (old != NULL) {
		/* Offered again although we hold it: take the news, keep one entry. */
		log_warn("scan", "server offered a revision again revision_id=%lld", (long long)id);
		read_deployment(protocol_soap_child(it, "Deployment"), old);
		return 0;
	}
	u = new_offer(s);
	if (u == NULL)
		return err_set(e, -ENOMEM, "SyncUpdates: more than %d revisions offered", SYNC_SCAN_MAX_OFFERS);
	u->revision_id = id;
	u->driver_pass = drivers;
	read_deployment(protocol_soap_child(it, "Deployment"), u);
	if (protocol_soap_child_bool(it, "IsLeaf", &u->is_leaf) < 0)
		u->is_leaf = 1;
	xml = protocol_soap_text(protocol_soap_child(it, "Xml"));
	if (xml == NULL)
		return err_set(e, -EPROTO, "SyncUpdates: revision %lld came without its Core fragment (Xml)",
			       (long long)id);
	rc = read_core(xml, u, e);
	free(xml);
	if (rc < 0)
		return rc;
	if (!u->is_leaf && nonleaf_installed(s, u)) {
		u->installed = 1;
		(*reported)++;
	}
	rc = idmap_add(&s->by_id, rev_key(id), s->n_u);
	if (rc < 0)
		return err_set(e, rc, "out of memory");
	s->n_u++;
	return 0;
}

static void apply_change(struct sync_scan *s, xmlNodePtr it, int *reported)
{
	struct sync_scan_update *u;
	int64_t id;
	int leaf;

	if (protocol_soap_child_int(it, "ID", INT32_MIN, INT32_MAX, &id) < 0 || (u = offer_by_id(s, id)) == NULL)
		return;
	read_deployment(protocol_soap_child(it, "Deployment"), u);
	if (protocol_soap_child_bool(it, "IsLeaf", &leaf) == 0 && leaf != u->is_leaf) {
		u->is_leaf = leaf;
		if (!leaf && !u->installed && nonleaf_installed(s, u)) {
			u->installed = 1;
			(*reported)++;
		}
		if (leaf)
			u->installed = 0;
	}
}

struct page {
	int truncated;
	int fresh;          /* NewUpdates entries */
	int reported;       /* of them (or changed), non-leaf revisions now reported installed */
};

static int read_sync_page(struct sync_scan *s, xmlNodePtr r, int drivers, struct page *p, struct err *e)
{
	xmlNodePtr list;
	char flag[16];
	int rc;

	memset(p, 0, sizeof(*p));
	if (r == NULL)
		return err_set(e, -EPROTO, "SyncUpdates: no SyncUpdatesResult");
	list = protocol_soap_child(r, "NewUpdates");
	for (xmlNodePtr it = protocol_soap_child(list, "UpdateInfo"); it != NULL; it = protocol_soap_next(it)) {
		rc = add_offer(s, it, drivers, &p->reported, e);
		if (rc < 0)
			return rc;
		p->fresh++;
	}
	list = protocol_soap_child(r, "OutOfScopeRevisionIDs");
	for (xmlNodePtr it = protocol_soap_child(list, "int"); it != NULL; it = protocol_soap_next(it)) {
		char text[24];
		struct sync_scan_update *u;

		if (text_into(it, text, sizeof(text)) == 0 && (u = offer_by_id(s, strtoll(text, NULL, 10))) != NULL)
			u->out_of_scope = 1;
	}
	list = protocol_soap_child(r, "ChangedUpdates");
	for (xmlNodePtr it = protocol_soap_child(list, "UpdateInfo"); it != NULL; it = protocol_soap_next(it))
		apply_change(s, it, &p->reported);
	if (protocol_soap_child_bool(r, "Truncated", &p->truncated) < 0)
		return err_set(e, -EPROTO, "SyncUpdates: no Truncated in the answer");
	rc = take_cookie(s, protocol_soap_child(r, "NewCookie"), "SyncUpdates", e);
	if (rc < 0)
		return rc;
	if (!drivers && text_into(protocol_soap_child(r, "DriverSyncNotNeeded"), flag, sizeof(flag)) == 0)
		s->driver_not_needed = strcasecmp(flag, "true") == 0 || strcmp(flag, "1") == 0;
	return 0;
}

/* One pass: pages until the server has nothing new for what we report
 * (3.1.5.7: call again while Truncated, or after reporting new non-leaf
 * revisions installed). */
static int sync_pass(struct sync_scan *s, int drivers, struct err *e)
{
	size_t *pages = drivers ? &s->info.driver_pages : &s->info.software_pages;

	for (;;) {
		struct protocol_soap_msg m;
		struct page p;
		xmlNodePtr r;
		int rc;

		if (*pages >= SYNC_SCAN_MAX_PAGES)
			return err_set(e, -ELOOP, "SyncUpdates: the %s pass did not end after %d pages",
				       drivers ? "driver" : "software", SYNC_SCAN_MAX_PAGES);
		rc = cookie_call(s, SVC_CLIENT, "SyncUpdates", sync_args, &drivers, &m, &r, e);
		if (rc < 0)
			return rc;
		(*pages)++;
		rc = read_sync_page(s, r, drivers, &p, e);
		protocol_soap_msg_free(&m);
		if (rc < 0)
			return rc;
		if (p.truncated && p.fresh == 0)
			return err_set(e, -EPROTO, "SyncUpdates: a Truncated page without new updates (page %zu)",
				       *pages);
		if (!p.truncated && p.reported == 0)
			return 0;
	}
}

/*---- GetExtendedUpdateInfo ----*/

static struct sync_scan_file *new_file(struct sync_scan *s, const uint8_t sha1[WSUS_SHA1_LEN], long *index)
{
	struct sync_scan_file *f;

	if (s->n_f == s->cap_f) {
		size_t ncap = s->cap_f ? 2 * s->cap_f : 128;
		struct sync_scan_file *nf = realloc(s->f, ncap * sizeof(*nf));

		if (nf == NULL)
			return NULL;
		s->f = nf;
		s->cap_f = ncap;
	}
	if (idmap_add(&s->by_sha1, sha1_key(sha1), s->n_f) < 0)
		return NULL;
	f = &s->f[s->n_f];
	memset(f, 0, sizeof(*f));
	memcpy(f->sha1, sha1, WSUS_SHA1_LEN);
	f->size = -1;
	*index = (long)s->n_f++;
	return f;
}

static int attach_file(struct sync_scan_update *u, size_t index)
{
	size_t *nv;

	for (size_t i = 0; i < u->n_files; i++)
		if (u->files[i] == index)
			return 0;
	nv = realloc(u->files, (u->n_files + 1) * sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	u->files = nv;
	u->files[u->n_files++] = index;
	return 0;
}

/* One Files/File of an Extended fragment. */
static int add_file(struct sync_scan *s, size_t ui, xmlNodePtr fn)
{
	uint8_t sha1[WSUS_SHA1_LEN];
	struct sync_scan_file *f;
	char *digest = attr(fn, "Digest"), *alg = attr(fn, "DigestAlgorithm");
	long index;
	int rc;

	rc = (alg == NULL || strcasecmp(alg, "SHA1") == 0) ? b64_exact(digest, sha1, WSUS_SHA1_LEN) : -EINVAL;
	free(digest);
	free(alg);
	if (rc < 0) {
		log_warn("scan", "a file without a readable SHA-1 Digest update=%s revision=%d", s->u[ui].update_id,
			 s->u[ui].revision);
		return 0;
	}
	index = file_index(s, sha1);
	f = index >= 0 ? &s->f[index] : new_file(s, sha1, &index);
	if (f == NULL)
		return -ENOMEM;
	if (f->name[0] == '\0') {
		char *name = attr(fn, "FileName"), *size = attr(fn, "Size"), *end;
		long long v;

		if (name != NULL)
			copy_clean(f->name, sizeof(f->name), name);
		errno = 0;
		v = size ? strtoll(size, &end, 10) : -1;
		if (size != NULL && errno == 0 && end != size && *end == '\0' && v >= 0)
			f->size = v;
		free(name);
		free(size);
	}
	for (xmlNodePtr ad = protocol_soap_child(fn, "AdditionalDigest"); ad && !f->has_sha256;
	     ad = protocol_soap_next(ad)) {
		char *a = attr(ad, "Algorithm"), *text = protocol_soap_text(ad);

		if (a != NULL && strcasecmp(a, "SHA256") == 0 && b64_exact(text, f->sha256, WSUS_SHA256_LEN) == 0)
			f->has_sha256 = 1;
		free(a);
		free(text);
	}
	return attach_file(&s->u[ui], (size_t)index);
}

/* A localized title: the one in our locale wins, else the first one. */
static void take_title(struct sync_scan *s, struct sync_scan_update *u, xmlNodePtr lp)
{
	char lang[24];
	int exact = text_into(protocol_soap_child(lp, "Language"), lang, sizeof(lang)) == 0 &&
		    strcasecmp(lang, s->locale) == 0;

	if (u->title[0] == '\0' || exact)
		text_into(protocol_soap_child(lp, "Title"), u->title, sizeof(u->title));
}

static int read_update_data(struct sync_scan *s, xmlNodePtr it, struct err *e)
{
	struct sync_scan_update *u;
	xmlNodePtr root, first;
	xmlDocPtr doc;
	int64_t id;
	char *xml;
	int rc = 0;

	if (protocol_soap_child_int(it, "ID", INT32_MIN, INT32_MAX, &id) < 0)
		return err_set(e, -EPROTO, "GetExtendedUpdateInfo: an Update without a readable ID");
	u = offer_by_id(s, id);
	xml = protocol_soap_text(protocol_soap_child(it, "Xml"));
	if (u == NULL || xml == NULL) {
		free(xml);
		log_warn("scan", "GetExtendedUpdateInfo sent data of a revision we did not ask for revision_id=%lld",
			 (long long)id);
		return 0;
	}
	doc = fragment_doc(xml, e);
	free(xml);
	if (doc == NULL) {
		err_prefix(e, "GetExtendedUpdateInfo: fragment of revision %lld", (long long)id);
		return -EPROTO;
	}
	root = xmlDocGetRootElement(doc);
	first = first_element(root->children);
	if (first != NULL && strcmp((const char *)first->name, "LocalizedProperties") == 0) {
		take_title(s, u, first);
	} else if (first != NULL && strcmp((const char *)first->name, "ExtendedProperties") == 0) {
		size_t ui = (size_t)(u - s->u);
		xmlNodePtr files = protocol_soap_child(root, "Files");

		u->have_extended = 1;
		for (xmlNodePtr fn = protocol_soap_child(files, "File"); fn && rc == 0; fn = protocol_soap_next(fn))
			rc = add_file(s, ui, fn);
		if (rc < 0)
			err_set(e, rc, "out of memory");
	}
	xmlFreeDoc(doc);
	return rc;
}

static int read_location(struct sync_scan *s, xmlNodePtr loc)
{
	uint8_t sha1[WSUS_SHA1_LEN];
	char *digest = protocol_soap_text(protocol_soap_child(loc, "FileDigest"));
	char *url = protocol_soap_text(protocol_soap_child(loc, "Url"));
	long index = -1;

	if (b64_exact(digest, sha1, WSUS_SHA1_LEN) == 0)
		index = file_index(s, sha1);
	free(digest);
	if (index < 0 || url == NULL || url[0] == '\0' || s->f[index].url != NULL) {
		free(url);
		return 0;
	}
	s->f[index].url = url;
	return 0;
}

struct chunk {
	const int64_t *ids;
	size_t n;
};

static int extended_args(struct sync_scan *s, void *ctx, struct wsus_buf *a)
{
	const struct chunk *c = ctx;
	int rc = wsus_buf_appends(a, "<revisionIDs>");

	for (size_t i = 0; i < c->n && rc == 0; i++)
		rc = wsus_buf_printf(a, "<int>%lld</int>", (long long)c->ids[i]);
	if (rc == 0)
		rc = wsus_buf_appends(a, "</revisionIDs><infoTypes><XmlUpdateFragmentType>Extended"
				      "</XmlUpdateFragmentType><XmlUpdateFragmentType>LocalizedProperties"
				      "</XmlUpdateFragmentType></infoTypes><locales>");
	if (rc == 0)
		rc = put_text(a, "string", s->locale);
	if (rc == 0)
		rc = wsus_buf_appends(a, "</locales>");
	return rc;
}

static int read_extended(struct sync_scan *s, xmlNodePtr r, struct err *e)
{
	xmlNodePtr list;
	int rc = 0;

	if (r == NULL)
		return err_set(e, -EPROTO, "GetExtendedUpdateInfo: no GetExtendedUpdateInfoResult");
	list = protocol_soap_child(r, "Updates");
	for (xmlNodePtr it = protocol_soap_child(list, "Update"); it && rc == 0; it = protocol_soap_next(it))
		rc = read_update_data(s, it, e);
	list = protocol_soap_child(r, "FileLocations");
	for (xmlNodePtr it = protocol_soap_child(list, "FileLocation"); it && rc == 0; it = protocol_soap_next(it))
		rc = read_location(s, it);
	list = protocol_soap_child(r, "OutOfScopeRevisionIDs");
	for (xmlNodePtr it = protocol_soap_child(list, "int"); it && rc == 0; it = protocol_soap_next(it)) {
		char text[24];
		struct sync_scan_update *u;

		if (text_into(it, text, sizeof(text)) == 0 && (u = offer_by_id(s, strtoll(text, NULL, 10))) != NULL)
			u->out_of_scope = 1;
	}
	return rc;
}

/* Extended + LocalizedProperties of every offered revision, in chunks of
 * MaxExtendedUpdatesPerRequest: titles, files with digests, and their URLs. */
static int extended_info(struct sync_scan *s, struct err *e)
{
	int64_t *ids = malloc((s->n_u ? s->n_u : 1) * sizeof(*ids));
	size_t n = 0;
	int rc = 0;

	if (ids == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n_u; i++)
		if (!s->u[i].out_of_scope)
			ids[n++] = s->u[i].revision_id;
	for (size_t at = 0; at < n && rc == 0; at += (size_t)s->info.max_extended) {
		struct chunk c = { ids + at, n - at };
		struct protocol_soap_msg m;
		xmlNodePtr r;

		if (c.n > (size_t)s->info.max_extended)
			c.n = (size_t)s->info.max_extended;
		rc = cookie_call(s, SVC_CLIENT, "GetExtendedUpdateInfo", extended_args, &c, &m, &r, e);
		if (rc < 0)
			break;
		s->info.extended_calls++;
		rc = read_extended(s, r, e);
		protocol_soap_msg_free(&m);
	}
	free(ids);
	return rc;
}

/*---- The scan ----*/

static int client_id_ok(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);

	if (n == 0 || n >= cap || n > 255)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (i < n && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return -EINVAL;
		out[i] = c;
	}
	return 0;
}

static int copy_options(struct sync_scan *s, const struct sync_scan_opts *o, struct err *e)
{
	if (o->client_id != NULL) {
		if (client_id_ok(o->client_id, s->info.client_id, sizeof(s->info.client_id)) < 0)
			return err_set(e, -EINVAL, "client id \"%.80s\": 1-255 letters, digits and '-'", o->client_id);
	} else if (wsus_guid_random(s->info.client_id) < 0) {
		return err_set(e, -EIO, "no randomness for a client id");
	}
	if (o->dns_name != NULL)
		copy_clean(s->info.dns_name, sizeof(s->info.dns_name), o->dns_name);
	else
		snprintf(s->info.dns_name, sizeof(s->info.dns_name), "scan-%.8s.wsus-replica.invalid",
			 s->info.client_id);
	if (o->groups != NULL && strlen(o->groups) >= sizeof(s->groups))
		return err_set(e, -E2BIG, "target group names longer than %zu bytes", sizeof(s->groups) - 1);
	copy_clean(s->groups, sizeof(s->groups), o->groups ? o->groups : "");
	copy_clean(s->pv, sizeof(s->pv), o->protocol_version ? o->protocol_version : SYNC_SCAN_CLIENT_PV);
	copy_clean(s->locale, sizeof(s->locale), o->locale ? o->locale : "en");
	s->nonleaf = o->nonleaf;
	s->no_drivers = o->no_drivers;
	s->no_extended = o->no_extended;
	return 0;
}

static int copy_lists(struct sync_scan *s, const struct sync_scan_opts *o, struct err *e)
{
	if (o->n_installed > 0) {
		s->installed = calloc(o->n_installed, sizeof(*s->installed));
		if (s->installed == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		for (size_t i = 0; i < o->n_installed; i++)
			if (wsus_guid_normalize(o->installed[i], s->installed[i]) < 0)
				return err_set(e, -EINVAL, "installed update \"%.60s\" is not an UpdateID (GUID)",
					       o->installed[i]);
		s->n_installed = o->n_installed;
		qsort(s->installed, s->n_installed, WSUS_GUID_LEN, cmp_guid);
	}
	if (o->n_hwids > SYNC_SCAN_MAX_HWIDS)
		return err_set(e, -E2BIG, "more than %d hardware ids", SYNC_SCAN_MAX_HWIDS);
	if (o->n_hwids > 0) {
		s->hwids = calloc(o->n_hwids, sizeof(*s->hwids));
		if (s->hwids == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		for (size_t i = 0; i < o->n_hwids; i++) {
			if (o->hwids[i][0] == '\0' || strlen(o->hwids[i]) >= 200)
				return err_set(e, -EINVAL, "hardware id \"%.60s\": 1-199 characters", o->hwids[i]);
			s->hwids[i] = strdup(o->hwids[i]);
			if (s->hwids[i] == NULL)
				return err_set(e, -ENOMEM, "out of memory");
			s->n_hwids++;
		}
	}
	return 0;
}

int sync_scan_new(const struct sync_scan_opts *o, struct sync_http *h, struct sync_scan **out,
		  struct err *e)
{
	struct sync_scan *s;
	int rc;

	if (o->server == NULL || o->server[0] == '\0')
		return err_set(e, -EINVAL, "no server URL");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	s->h = h;
	if ((size_t)snprintf(s->server, sizeof(s->server), "%s", o->server) >= sizeof(s->server) ||
	    sync_url_join(s->server, CLIENT_PATH, s->client_url, sizeof(s->client_url)) < 0 ||
	    sync_url_join(s->server, REPORTING_PATH, s->report_url, sizeof(s->report_url)) < 0) {
		rc = err_set(e, -E2BIG, "server URL too long");
		goto fail;
	}
	rc = copy_options(s, o, e);
	if (rc == 0)
		rc = copy_lists(s, o, e);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	sync_scan_free(s);
	return rc;
}

void sync_scan_free(struct sync_scan *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_u; i++)
		free(s->u[i].files);
	free(s->u);
	for (size_t i = 0; i < s->n_f; i++)
		free(s->f[i].url);
	free(s->f);
	idmap_free(&s->by_id);
	idmap_free(&s->by_sha1);
	free(s->installed);
	for (size_t i = 0; i < s->n_hwids; i++)
		free(s->hwids[i]);
	free(s->hwids);
	free(s->auth_cookie);
	free(s->cookie);
	free(s);
}

int sync_scan_run(struct sync_scan *s, struct err *e)
{
	int rc = handshake(s, e);

	if (rc == 0)
		rc = sync_pass(s, 0, e);
	if (rc == 0) {
		if (s->no_drivers) {
			s->info.driver_pass = -1;
		} else if (s->driver_not_needed) {
			s->info.driver_pass = 0;
		} else {
			rc = sync_pass(s, 1, e);
			s->info.driver_pass = 1;
		}
	}
	if (rc == 0 && !s->no_extended)
		rc = extended_info(s, e);
	return rc;
}

/*---- Downloads ----*/

struct dl {
	int fd;
	EVP_MD_CTX *sha1, *sha256;
	int64_t have;         /* bytes in the file */
	int64_t limit;        /* the metadata's size, -1 unknown */
	int64_t received;
};

static int dl_reset(struct dl *d)
{
	if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
		return -errno;
	d->have = 0;
	if (EVP_DigestInit_ex(d->sha1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(d->sha256, EVP_sha256(), NULL) != 1)
		return -EIO;
	return 0;
}

static int dl_add(struct dl *d, const void *data, size_t n)
{
	if (EVP_DigestUpdate(d->sha1, data, n) != 1 || EVP_DigestUpdate(d->sha256, data, n) != 1)
		return -EIO;
	d->have += (int64_t)n;
	return 0;
}

static int dl_sink(void *ctx, int64_t offset, const void *data, size_t n)
{
	struct dl *d = ctx;
	const char *p = data;
	size_t left = n;
	int rc;

	if (offset != d->have) {
		/* A 200 to our Range request: the body starts over. */
		if (offset != 0)
			return -EIO;
		rc = dl_reset(d);
		if (rc < 0)
			return rc;
	}
	if (d->limit >= 0 && d->have + (int64_t)n > d->limit)
		return -EFBIG;
	while (left > 0) {
		ssize_t w = write(d->fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		left -= (size_t)w;
	}
	d->received += (int64_t)n;
	return dl_add(d, data, n);
}

/* Feed what the file already holds (a partial download, or a finished one
 * being re-checked) to the digests. */
static int dl_absorb(struct dl *d)
{
	char buf[65536];

	if (lseek(d->fd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		ssize_t r = read(d->fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		if (d->limit >= 0 && d->have + r > d->limit)
			return dl_reset(d);     /* longer than it can be: start over */
		if (dl_add(d, buf, (size_t)r) < 0)
			return -EIO;
	}
}

/* The extension the file is stored under: [a-z0-9]{1,8} after the last dot of its name. */
static void file_ext(const char *name, char out[10])
{
	const char *dot = strrchr(name, '.');
	size_t n;

	out[0] = '\0';
	if (dot == NULL || strchr(dot, '/') != NULL || strchr(dot, '\\') != NULL)
		return;
	n = strlen(dot + 1);
	if (n == 0 || n > 8)
		return;
	out[0] = '.';
	for (size_t i = 0; i < n; i++) {
		char c = dot[1 + i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			out[0] = '\0';
			return;
		}
		out[1 + i] = c;
	}
	out[1 + n] = '\0';
}

static int set_failed(struct sync_scan_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_failed(struct sync_scan_file *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
	f->state = SYNC_SCAN_FILE_FAILED;
	return -EIO;
}

/* Size, SHA-1 and SHA-256 of what d holds against the metadata: 0 when
 * all match, -ENODATA when everything there is matched but the metadata has
 * no SHA-256 (the bytes are right, a Windows client would still refuse
 * them), -EBADMSG on a mismatch. */
static int dl_check(struct dl *d, struct sync_scan_file *f)
{
	uint8_t sha1[EVP_MAX_MD_SIZE], sha256[EVP_MAX_MD_SIZE];
	unsigned n1 = 0, n2 = 0;

	if (EVP_DigestFinal_ex(d->sha1, sha1, &n1) != 1 || EVP_DigestFinal_ex(d->sha256, sha256, &n2) != 1)
		return set_failed(f, "digest computation failed");
	if (f->size >= 0 && d->have != f->size) {
		set_failed(f, "%lld bytes, the metadata says %lld", (long long)d->have, (long long)f->size);
		return -EBADMSG;
	}
	if (n1 != WSUS_SHA1_LEN || memcmp(sha1, f->sha1, WSUS_SHA1_LEN) != 0) {
		set_failed(f, "SHA-1 does not match the metadata");
		return -EBADMSG;
	}
	if (!f->has_sha256) {
		set_failed(f, "no SHA-256 AdditionalDigest in the metadata (Windows 8 and later refuse it)");
		return -ENODATA;
	}
	if (n2 != WSUS_SHA256_LEN || memcmp(sha256, f->sha256, WSUS_SHA256_LEN) != 0) {
		set_failed(f, "SHA-256 does not match the metadata");
		return -EBADMSG;
	}
	f->state = SYNC_SCAN_FILE_VERIFIED;
	return 0;
}

static int dl_open(struct dl *d, const char *path, int flags)
{
	memset(d, 0, sizeof(*d));
	d->fd = open(path, flags | O_CLOEXEC, 0644);
	if (d->fd < 0)
		return -errno;
	d->sha1 = EVP_MD_CTX_new();
	d->sha256 = EVP_MD_CTX_new();
	if (d->sha1 == NULL || d->sha256 == NULL || EVP_DigestInit_ex(d->sha1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(d->sha256, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	return 0;
}

static void dl_close(struct dl *d)
{
	if (d->fd >= 0)
		close(d->fd);
	EVP_MD_CTX_free(d->sha1);
	EVP_MD_CTX_free(d->sha256);
	d->fd = -1;
}

/* A file already in place is only re-checked: 1 when that settled it (f's
 * state says how), 0 when it is to be fetched (absent, or removed because it
 * did not match). */
static int check_existing(struct sync_scan_file *f, const char *path)
{
	struct dl d;
	int rc = dl_open(&d, path, O_RDONLY);

	if (rc == -ENOENT) {
		dl_close(&d);
		return 0;
	}
	d.limit = f->size;
	if (rc == 0)
		rc = dl_absorb(&d);
	if (rc < 0) {
		dl_close(&d);
		return set_failed(f, "%s: %s", path, strerror(-rc));
	}
	rc = dl_check(&d, f);
	dl_close(&d);
	if (rc == 0 || rc == -ENODATA)
		return 1;
	log_warn("scan", "a file in the download directory does not match its metadata, fetching it again "
		 "path=%s why=\"%s\"", path, f->why);
	f->state = SYNC_SCAN_FILE_LISTED;
	f->why[0] = '\0';
	if (unlink(path) < 0 && errno != ENOENT)
		return set_failed(f, "unlink %s: %s", path, strerror(errno));
	return 0;
}

static int download_one(struct sync_scan *s, const char *dir, struct sync_scan_file *f)
{
	char hex[2 * WSUS_SHA1_LEN + 1], ext[10], path[4096], part[4200];
	struct err e = { 0 };
	struct dl d;
	long status = 0;
	int rc;

	wsus_hex_encode(f->sha1, WSUS_SHA1_LEN, hex);
	file_ext(f->name, ext);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, hex, ext) >= sizeof(path))
		return set_failed(f, "download path too long");
	snprintf(part, sizeof(part), "%s.part", path);
	rc = check_existing(f, path);
	if (rc != 0)
		return f->state == SYNC_SCAN_FILE_VERIFIED ? 0 : -EIO;
	if (f->url == NULL)
		return set_failed(f, "the server gave no URL for it (GetExtendedUpdateInfo FileLocations)");
	rc = dl_open(&d, part, O_RDWR | O_CREAT);
	d.limit = f->size;
	if (rc == 0)
		rc = dl_absorb(&d);
	if (rc < 0) {
		dl_close(&d);
		return set_failed(f, "%s: %s", part, strerror(-rc));
	}
	if (d.have > 0)
		log_info("scan", "resuming a download url=%s offset=%lld", f->url, (long long)d.have);
	if (f->size < 0 || d.have < f->size)
		rc = sync_http_get(s->h, f->url, SYNC_GET_PAYLOAD, d.have, dl_sink, &d, &status, &e);
	f->received = d.received;
	if (rc < 0) {
		dl_close(&d);
		/* Keep a partial file for the next run, unless it cannot be right. */
		if (rc == -EFBIG)
			unlink(part);
		return set_failed(f, "%s", rc == -EFBIG ? "longer than the metadata's Size" : e.msg);
	}
	rc = dl_check(&d, f);
	dl_close(&d);
	if (rc < 0 && rc != -ENODATA) {
		unlink(part);
		return -EIO;
	}
	if (rename(part, path) < 0)
		return set_failed(f, "rename to %s: %s", path, strerror(errno));
	return rc == 0 ? 0 : -EIO;
}

int sync_scan_download(struct sync_scan *s, const char *dir, struct err *e)
{
	size_t failed = 0;
	int rc = wsus_mkdir_p(dir, 0755, e);

	if (rc < 0)
		return rc;
	s->downloaded = 1;
	for (size_t i = 0; i < s->n_f; i++) {
		struct sync_scan_file *f = &s->f[i];

		f->state = SYNC_SCAN_FILE_LISTED;
		f->why[0] = '\0';
		if (download_one(s, dir, f) < 0) {
			failed++;
			log_warn("scan", "download failed sha1=%02x%02x%02x%02x... name=\"%s\" why=\"%s\"", f->sha1[0],
				 f->sha1[1], f->sha1[2], f->sha1[3], f->name, f->why);
		}
	}
	if (failed > 0)
		return err_set(e, -EIO, "%zu of %zu files did not download and verify", failed, s->n_f);
	return 0;
}

/*---- ReportEventBatch ----*/

struct event {
	int         id;            /* EventID */
	const struct sync_scan_update *u;   /* NULL: not about one update */
	int32_t     hresult;
	const char *replacement;   /* one ReplacementStrings entry, or NULL */
	const char *misc[4];       /* MiscData entries, NULL-terminated */
};

static int put_event(const struct sync_scan *s, struct wsus_buf *a, const struct event *ev)
{
	char guid[WSUS_GUID_LEN], now[40];
	int rc;

	if (wsus_guid_random(guid) < 0)
		return -EIO;
	client_time(now);
	rc = wsus_buf_appends(a, "<ReportingEvent><BasicData><TargetID>");
	if (rc == 0)
		rc = put_text(a, "Sid", s->info.client_id);
	if (rc == 0)
		rc = wsus_buf_printf(a, "</TargetID><SequenceNumber>0</SequenceNumber><TimeAtTarget>%s</TimeAtTarget>"
				     "<EventInstanceID>%s</EventInstanceID><NamespaceID>1</NamespaceID>"
				     "<EventID>%d</EventID><SourceID>101</SourceID><UpdateID><UpdateID>%s</UpdateID>"
				     "<RevisionNumber>%d</RevisionNumber></UpdateID><Win32HResult>%d</Win32HResult>"
				     "<AppName>wsus-replica scan</AppName></BasicData><ExtendedData>",
				     now, guid, ev->id,
				     ev->u ? ev->u->update_id : "00000000-0000-0000-0000-000000000000",
				     ev->u ? ev->u->revision : 0, (int)ev->hresult);
	if (rc == 0 && ev->replacement != NULL) {
		rc = wsus_buf_appends(a, "<ReplacementStrings>");
		if (rc == 0)
			rc = put_text(a, "string", ev->replacement);
		if (rc == 0)
			rc = wsus_buf_appends(a, "</ReplacementStrings>");
	} else if (rc == 0) {
		rc = wsus_buf_appends(a, "<ReplacementStrings xsi:nil=\"true\" />");
	}
	if (rc == 0)
		rc = wsus_buf_appends(a, "<MiscData>");
	for (int i = 0; i < 4 && ev->misc[i] != NULL && rc == 0; i++)
		rc = put_text(a, "string", ev->misc[i]);
	if (rc == 0)
		rc = wsus_buf_printf(a, "<string>G=" CLIENT_VERSION "</string><string>A=%d</string>"
				     "<string>c=1</string></MiscData>"
				     "<ComputerBrand>wsus-replica</ComputerBrand>"
				     "<ComputerModel>scan diagnostic client</ComputerModel><BiosRevision>1.0</BiosRevision>"
				     "<ProcessorArchitecture>Amd64Compatible</ProcessorArchitecture><OSVersion>"
				     "<Major>10</Major><Minor>0</Minor><Build>%d</Build><Revision>0</Revision>"
				     "<ServicePackMajor>0</ServicePackMajor><ServicePackMinor>0</ServicePackMinor>"
				     "</OSVersion><OSLocaleID>1033</OSLocaleID><DeviceID>%s</DeviceID></ExtendedData>"
				     "<PrivateData><ComputerDnsName /><UserAccountName /></PrivateData>"
				     "</ReportingEvent>", OS_BUILD, OS_BUILD,
				     ev->u && ev->u->type == WSUS_UT_DRIVER ? "1" : "");
	return rc;
}

struct batch {
	const struct event *ev;
	size_t n;
};

static int report_args(struct sync_scan *s, void *ctx, struct wsus_buf *a)
{
	const struct batch *b = ctx;
	char now[40];
	int rc;

	client_time(now);
	rc = wsus_buf_printf(a, "<clientTime>%s</clientTime><eventBatch>", now);
	for (size_t i = 0; i < b->n && rc == 0; i++)
		rc = put_event(s, a, &b->ev[i]);
	if (rc == 0)
		rc = wsus_buf_appends(a, "</eventBatch>");
	return rc;
}

/* An update counts as detected (applicable, not installed) when it is an
 * offered leaf that installs something. */
static int detected(const struct sync_scan_update *u)
{
	return !u->out_of_scope && u->is_leaf && (u->type == WSUS_UT_SOFTWARE || u->type == WSUS_UT_DRIVER);
}

static int download_event(const struct sync_scan *s, const struct sync_scan_update *u, struct event *ev,
			  char *bytes, size_t cap)
{
	int64_t total = 0;
	int32_t hr = 0;

	if (u->out_of_scope || u->n_files == 0)
		return 0;
	for (size_t i = 0; i < u->n_files; i++) {
		const struct sync_scan_file *f = &s->f[u->files[i]];

		total += f->size > 0 ? f->size : 0;
		if (f->state != SYNC_SCAN_FILE_VERIFIED && hr == 0)
			hr = strncmp(f->why, "SHA", 3) == 0 || strncmp(f->why, "no SHA", 6) == 0 ? HR_FILE_HASH
												   : HR_FAIL;
	}
	memset(ev, 0, sizeof(*ev));
	ev->id = hr == 0 ? 162 : 161;
	ev->u = u;
	ev->hresult = hr;
	snprintf(bytes, cap, "B=%lld", (long long)total);
	ev->misc[0] = bytes;
	ev->misc[1] = u->is_bundle ? "Q=2" : "Q=1";
	return 1;
}

int sync_scan_report(struct sync_scan *s, struct err *e)
{
	struct wsus_buf ulist;
	struct event *ev = NULL;
	char (*bytes)[32] = NULL, count[24], dcount[32];
	size_t n = 0, applicable = 0;
	int rc = 0;

	wsus_buf_init(&ulist, 64u * 1024 * 1024);
	ev = calloc(s->n_u + 2, sizeof(*ev));
	bytes = calloc(s->n_u + 1, sizeof(*bytes));
	if (ev == NULL || bytes == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto done;
	}
	rc = wsus_buf_appends(&ulist, "U=");
	for (size_t i = 0; i < s->n_u && rc == 0; i++) {
		if (!detected(&s->u[i]))
			continue;
		rc = wsus_buf_printf(&ulist, "%s%s", applicable ? ";" : "", s->u[i].update_id);
		applicable++;
	}
	if (rc < 0) {
		rc = err_set(e, rc, "out of memory");
		goto done;
	}
	snprintf(count, sizeof(count), "%zu", applicable);
	snprintf(dcount, sizeof(dcount), "D=%zu", applicable);
	ev[n++] = (struct event){ .id = 147, .replacement = count, .misc = { dcount, "Q=1", NULL } };
	/* 156: the status of every update, U = installable (none is installed). */
	ev[n++] = (struct event){ .id = 156, .misc = { applicable ? ulist.data : "Q=1", applicable ? "Q=1" : NULL } };
	for (size_t i = 0; i < s->n_u && s->downloaded; i++)
		if (download_event(s, &s->u[i], &ev[n], bytes[i], sizeof(bytes[i])))
			n++;
	s->info.report = 0;
	for (size_t at = 0; at < n && rc == 0; at += EVENTS_PER_BATCH) {
		struct batch b = { ev + at, n - at > EVENTS_PER_BATCH ? EVENTS_PER_BATCH : n - at };
		struct protocol_soap_msg m;
		xmlNodePtr r;
		int ok = 0;

		rc = cookie_call(s, SVC_REPORTING, "ReportEventBatch", report_args, &b, &m, &r, e);
		if (rc < 0)
			break;
		if (r == NULL || protocol_soap_child_bool(m.op, "ReportEventBatchResult", &ok) < 0 || !ok) {
			s->info.report = -1;
			rc = err_set(e, -EBADMSG, "ReportEventBatch: the server did not accept the events (result %s)",
				     r == NULL ? "missing" : "false");
		} else {
			s->info.events_sent += b.n;
			s->info.report = 1;
		}
		protocol_soap_msg_free(&m);
	}
done:
	wsus_buf_free(&ulist);
	free(ev);
	free(bytes);
	return rc;
}

/*---- Reading the results ----*/

const struct sync_scan_info *sync_scan_info(const struct sync_scan *s)
{
	return &s->info;
}

size_t sync_scan_count(const struct sync_scan *s)
{
	return s->n_u;
}

const struct sync_scan_update *sync_scan_update_at(const struct sync_scan *s, size_t i)
{
	return i < s->n_u ? &s->u[i] : NULL;
}

size_t sync_scan_file_count(const struct sync_scan *s)
{
	return s->n_f;
}

const struct sync_scan_file *sync_scan_file_at(const struct sync_scan *s, size_t i)
{
	return i < s->n_f ? &s->f[i] : NULL;
}
