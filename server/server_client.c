/*
 * server_client.c -- ClientWebService (MS-WUSP 3.1.5), what Windows Update
 * clients call: GetConfig, GetCookie, RegisterComputer, StartCategoryScan,
 * RefreshCache, GetExtendedUpdateInfo(2) and GetFileLocations here, the two
 * metadata syncs in server_client_sync.c. Handlers append one response
 * element to the caller's buffer; nothing they allocate outlives the call.
 *
 * State lives in the sealed client cookie (server_cookie.c): subject = the
 * clientId, groups = the requested target group names (';'-separated),
 * protocol_version = the client's, issued_ms (older than GetConfig's
 * LastChange means ConfigChanged), aux = the catalogue anchor the client is
 * up to date with (ChangedUpdates). A cookie that does not open is
 * InvalidCookie; one that opens but names another ServerID is ServerChanged.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_SERVER_PV      SERVER_CLIENT_PROTOCOL_VERSION
#define CLIENT_MAX_EXTENDED   50       /* MaxExtendedUpdatesPerRequest */
#define CLIENT_MAX_GLOBAL_IDS 20000    /* RefreshCache identities (a cache holds a few thousand) */
#define CLIENT_MAX_DIGESTS    5000     /* GetFileLocations */
#define CLIENT_MAX_LOCALES    32
#define CLIENT_MAX_CATEGORIES 200      /* StartCategoryScan wants fewer (<52>) */
#define CLIENT_TEXT_MAX       256      /* a ComputerInfo string kept for the admin */
#define REGISTER_WARN_EVERY_MS 1000    /* at most one registration-refused line a second */
/* Dependency-only revisions carry no deployment of their own: they get an ID
 * of their own above any real deployment's, stable for the revision. */
#define CLIENT_SYNTHETIC_DEPLOYMENT 0x40000000LL

/*---- Writing ----*/

static int put_text(struct wsus_buf *b, const char *name, const char *text)
{
	int rc = wsus_buf_printf(b, "<%s>", name);

	if (rc == 0)
		rc = wsus_buf_append_xml_escaped(b, text, strlen(text));
	if (rc == 0)
		rc = wsus_buf_printf(b, "</%s>", name);
	return rc;
}

/* xs:date of a time (Deployment/LastChangeTime, T15). */
static void wire_date(int64_t ms, char out[16])
{
	char full[40];

	protocol_datetime_format(ms, full);
	snprintf(out, 16, "%.10s", full);
}

/* A stored deadline as xs:dateTime; "" when it cannot be read. */
static void wire_deadline(const char *stored, char out[40])
{
	char full[48];
	int64_t ms;

	out[0] = '\0';
	if (stored[0] == '\0')
		return;
	if (protocol_datetime_parse(stored, &ms) < 0) {
		if (strlen(stored) != 10 ||
		    (size_t)snprintf(full, sizeof(full), "%sT00:00:00Z", stored) >= sizeof(full) ||
		    protocol_datetime_parse(full, &ms) < 0) {
			log_warn("client", "unreadable deadline left out value=\"%.40s\"", stored);
			return;
		}
	}
	protocol_datetime_format(ms, out);
}

/*---- Protocol versions ----*/

static int pv_parse(const char *pv, int *major, int *minor)
{
	const char *p = pv;
	int v[2] = { 0, 0 };

	for (int part = 0; part < 2; part++) {
		int digits = 0;

		for (; *p >= '0' && *p <= '9'; p++) {
			if (++digits > 6)
				return -EINVAL;
			v[part] = v[part] * 10 + (*p - '0');
		}
		if (digits == 0 || *p != (part == 0 ? '.' : '\0'))
			return -EINVAL;
		p++;
	}
	*major = v[0];
	*minor = v[1];
	return 0;
}

int server_client_pv_at_least(const char *pv, int major, int minor)
{
	int a, b;

	if (pv == NULL || pv_parse(pv, &a, &b) < 0)
		return 0;
	return a > major || (a == major && b >= minor);
}

/*---- GetConfig and its LastChange ----*/

/* Everything GetConfig says after LastChange. The properties are MS-WUSP's
 * for a 3.2 server; PackageServerShare is left out (we have no repair share),
 * AllowedEventIds too, as Windows servers do: clients then report every event. */
static const char config_tail[] =
	"<IsRegistrationRequired>true</IsRegistrationRequired>"
	"<AuthInfo><AuthPlugInInfo><PlugInID>SimpleTargeting</PlugInID>"
	"<ServiceUrl>SimpleAuthWebService/SimpleAuth.asmx</ServiceUrl></AuthPlugInInfo></AuthInfo>"
	"<Properties>"
	"<ConfigurationProperty><Name>MaxExtendedUpdatesPerRequest</Name><Value>50</Value>"
	"</ConfigurationProperty>"
	"<ConfigurationProperty><Name>ProtocolVersion</Name><Value>" CLIENT_SERVER_PV "</Value>"
	"</ConfigurationProperty>"
	"<ConfigurationProperty><Name>IsInventoryRequired</Name><Value>0</Value>"
	"</ConfigurationProperty>"
	"<ConfigurationProperty><Name>ClientReportingLevel</Name><Value>2</Value>"
	"</ConfigurationProperty>"
	"</Properties>";

/* A site's LastChange: the same on every front end (server.c design note
 * 10), a function of the secret and of what GetConfig answers, so it changes
 * when the answer does. A whole second between 2001 and 2021: never in the
 * future, so no cookie issued since looks older than it. */
#define SITE_STAMP_BASE_S  978307200LL            /* 2001-01-01T00:00:00Z */
#define SITE_STAMP_RANGE_S (20LL * 365 * 86400)

static int64_t site_stamp(const uint8_t secret[WSUS_SITE_SECRET_LEN], const char *fingerprint)
{
	char label[128];
	uint8_t k[32];
	uint64_t v = 0;

	snprintf(label, sizeof(label), "config stamp %s", fingerprint);
	wsus_site_key(secret, label, k);
	for (int i = 0; i < 8; i++)
		v = v << 8 | k[i];
	return (SITE_STAMP_BASE_S + (int64_t)(v % (uint64_t)SITE_STAMP_RANGE_S)) * 1000;
}

int server_client_site_join(struct server_req *req, const struct server_cookie_claims *c)
{
	struct storage_client_computer comp;
	struct err e = { 0 };
	int targeting = req->srv->cfg == NULL || req->srv->cfg->srv_client_targeting;
	int rc, unknown = 0;

	if (req->srv->cfg == NULL || !req->srv->cfg->srv_site)
		return -ENOENT;
	memset(&comp, 0, sizeof(comp));
	comp.computer_id = c->subject;
	comp.ip_address = req->peer[0] != '\0' ? req->peer : NULL;
	comp.protocol_version = c->protocol_version[0] != '\0' ? c->protocol_version : NULL;
	comp.requested_groups = c->groups;
	comp.max_computers = req->srv->cfg->cl_max_computers;
	rc = storage_client_register(req->st, &comp, targeting, &unknown, &e);
	if (rc < 0) {
		log_warn("client", "site cookie, but the computer could not be registered here computer_id=%s: %s",
			 c->subject, e.msg);
		return rc;
	}
	log_info("client", "registered from a site cookie computer_id=%s peer=%s", c->subject,
		 req->peer[0] ? req->peer : "-");
	return 0;
}

/* LastChange moves only when the answer above does (a new build), so clients
 * are not sent through the handshake for nothing. */
static char config_fingerprint[2 * WSUS_SHA1_LEN + 1];
static pthread_once_t config_fingerprint_once = PTHREAD_ONCE_INIT;

static void make_config_fingerprint(void)
{
	uint8_t sha1[WSUS_SHA1_LEN];

	wsus_sha1(config_tail, sizeof(config_tail) - 1, sha1);
	wsus_hex_encode(sha1, WSUS_SHA1_LEN, config_fingerprint);
}

/* The stamp this thread read last, good while the database generation
 * stands (server_fresh.c). */
static _Thread_local struct {
	uint64_t instance, gen;
	int64_t ms;
} stamp_local;

static int config_stamp(struct server_req *req, int64_t *ms, struct server_fault *f)
{
	uint64_t gen = server_fresh_gen(req->srv);
	struct err e = { 0 };
	int rc;

	pthread_once(&config_fingerprint_once, make_config_fingerprint);
	if (req->srv->cfg != NULL && req->srv->cfg->srv_site) {
		*ms = site_stamp(req->srv->cfg->srv_site_secret, config_fingerprint);
		return 0;
	}
	if (gen != 0 && stamp_local.instance == req->srv->instance && stamp_local.gen == gen) {
		*ms = stamp_local.ms;
		return 0;
	}
	rc = storage_client_config_stamp(req->st, config_fingerprint, ms, &e);
	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	if (rc == 0 && gen != 0) {
		stamp_local.instance = req->srv->instance;
		stamp_local.gen = gen;
		stamp_local.ms = *ms;
	}
	return rc;
}

static int op_get_config(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
			 struct server_fault *f)
{
	char when[40];
	int64_t ms;
	int rc;

	/* protocolVersion MAY be checked; GetConfig is stateless, so any is served. */
	(void)msg;
	rc = config_stamp(req, &ms, f);
	if (rc < 0)
		return rc;
	protocol_datetime_format(ms, when);
	return wsus_buf_printf(out,
			       "<GetConfigResponse xmlns=\"%s\"><GetConfigResult><LastChange>%s</LastChange>"
			       "%s</GetConfigResult></GetConfigResponse>",
			       PROTOCOL_NS_CLIENT, when, config_tail);
}

/*---- Cookies ----*/

int server_client_cookie(struct server_req *req, const struct protocol_node *op, int check_config,
			 struct server_cookie_claims *c, struct server_fault *f)
{
	const struct protocol_node *ck = protocol_req_child(op, "cookie");
	char *data = protocol_req_text(protocol_req_child(ck, "EncryptedData"));
	struct err e = { 0 };
	int64_t stamp;
	int rc;

	if (data == NULL || data[0] == '\0') {
		free(data);
		return server_fault_set(f, PROTOCOL_ERR_INVALID_COOKIE, "no cookie");
	}
	rc = server_cookie_open(req->srv->cookie_key, data, SERVER_COOKIE_CLIENT, wsus_now_ms(), c, &e);
	free(data);
	if (rc < 0 && rc != -ETIMEDOUT)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_COOKIE, "%s", e.msg);
	server_req_computer(req, c->subject);
	/* It opened with our key: a ServerID that is not ours means our
	 * identity was replaced underneath the key (a restored database). */
	if (strcmp(c->server_id, req->srv->server_id) != 0)
		return server_fault_set(f, PROTOCOL_ERR_SERVER_CHANGED, "cookie issued by server %.36s",
					c->server_id);
	if (rc == -ETIMEDOUT)
		return server_fault_set(f, PROTOCOL_ERR_COOKIE_EXPIRED, "cookie expired");
	if (!check_config)
		return 0;
	rc = config_stamp(req, &stamp, f);
	if (rc < 0)
		return rc;
	if (c->issued_ms < stamp)
		return server_fault_set(f, PROTOCOL_ERR_CONFIG_CHANGED,
					"configuration changed since the cookie");
	return 0;
}

static int put_cookie_text(struct wsus_buf *out, const char *name, int64_t expires, const char *sealed)
{
	char when[40];

	protocol_datetime_format(expires, when);
	return wsus_buf_printf(out, "<%s><Expiration>%s</Expiration><EncryptedData>%s</EncryptedData></%s>",
			       name, when, sealed, name);
}

int server_client_put_cookie(struct server_req *req, struct wsus_buf *out, const char *name,
			     const struct server_cookie_claims *c, int64_t aux, struct server_fault *f)
{
	struct server_cookie_claims n = *c;
	struct err e = { 0 };
	char *sealed = NULL;
	int rc;

	n.kind = SERVER_COOKIE_CLIENT;
	memcpy(n.server_id, req->srv->server_id, WSUS_GUID_LEN);
	n.issued_ms = wsus_now_ms();
	n.expires_ms = n.issued_ms + SERVER_COOKIE_TTL_MS;
	n.aux = aux;
	rc = server_cookie_seal(req->srv->cookie_key, &n, &sealed, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	rc = put_cookie_text(out, name, n.expires_ms, sealed);
	free(sealed);
	return rc;
}

int server_client_groups(struct server_req *req, const struct server_cookie_claims *c,
			 struct storage_client_groups *g, struct server_fault *f)
{
	int targeting = req->srv->cfg == NULL || req->srv->cfg->srv_client_targeting;
	struct err e = { 0 };
	int rc = storage_client_groups_at(req->st, server_fresh_gen(req->srv), c->subject, c->groups, targeting, g,
					  &e);

	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	return rc;
}

/*---- Request readers ----*/

int server_client_ids(const struct protocol_node *list, const char *what, size_t max, int64_t **out,
		      size_t *n, struct server_fault *f)
{
	const int64_t *ids;
	size_t k;

	*out = NULL;
	*n = 0;
	if (protocol_req_ids(list, &ids, &k) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "%s", what);
	if (k > max)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "%s: more than %zu ids",
					what, max);
	for (size_t i = 0; i < k; i++)
		if (ids[i] < INT32_MIN || ids[i] > INT32_MAX)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "%s", what);
	if (k == 0)
		return 0;
	*out = malloc(k * sizeof(**out));
	if (*out == NULL) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	memcpy(*out, ids, k * sizeof(**out));
	*n = k;
	return 0;
}

/* Text of a child into out, cut at cap-1 bytes on a UTF-8 boundary; NULL
 * when absent. Strings a client reports are only kept, never interpreted. */
static const char *opt_text(const struct protocol_node *parent, const char *name, char *out,
			    size_t cap)
{
	char *t = protocol_req_text(protocol_req_child(parent, name));
	size_t n;

	if (t == NULL)
		return NULL;
	n = strlen(t);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, t, n);
	out[n] = '\0';
	free(t);
	return out;
}

static int opt_int(const struct protocol_node *parent, const char *name, int64_t min, int64_t max)
{
	int64_t v = 0;

	if (protocol_req_child_int(parent, name, min, max, &v) < 0)
		return 0;
	return (int)v;
}

/* An UpdateIdentity element. */
static int read_identity(const struct protocol_node *n, char uid[WSUS_GUID_LEN], int *rev)
{
	char text[64];
	int64_t v;

	if (protocol_req_child_text(n, "UpdateID", text, sizeof(text)) < 0 ||
	    wsus_guid_normalize(text, uid) < 0 ||
	    protocol_req_child_int(n, "RevisionNumber", 0, INT32_MAX, &v) < 0)
		return -EINVAL;
	*rev = (int)v;
	return 0;
}

/*---- Deployments ----*/

static const char *action_wire(enum storage_client_action a)
{
	switch (a) {
	case STORAGE_CLIENT_INSTALL: return "Install";
	case STORAGE_CLIENT_UNINSTALL: return "Uninstall";
	case STORAGE_CLIENT_BLOCK: return "PreDeploymentCheck";   /* the SHOULD for Block */
	case STORAGE_CLIENT_BUNDLE: return "Bundle";
	default: return "Evaluate";
	}
}

int server_client_put_deployment(struct wsus_buf *out, const struct storage_client_rev *r,
				 const char *pv, const char *const *hwids, size_t n_hwids)
{
	char date[16], deadline[40] = "";
	int64_t id = r->deployment_id;
	int assigned = 0, rc;

	if (r->action == STORAGE_CLIENT_DEPENDENCY || r->implicit)
		id = CLIENT_SYNTHETIC_DEPLOYMENT + r->revision_id % CLIENT_SYNTHETIC_DEPLOYMENT;
	else
		wire_deadline(r->deadline, deadline);
	if (r->action == STORAGE_CLIENT_INSTALL || r->action == STORAGE_CLIENT_UNINSTALL ||
	    r->action == STORAGE_CLIENT_BUNDLE || r->implicit)
		assigned = r->is_assigned;
	if (r->action == STORAGE_CLIENT_BLOCK)
		deadline[0] = '\0';
	wire_date(r->last_change_ms, date);
	rc = wsus_buf_printf(out, "<Deployment><ID>%lld</ID><Action>%s</Action>", (long long)id,
			     action_wire(r->action));
	if (rc == 0 && deadline[0] != '\0')
		rc = wsus_buf_printf(out, "<Deadline>%s</Deadline>", deadline);
	if (rc == 0)
		rc = wsus_buf_printf(out, "<IsAssigned>%s</IsAssigned><LastChangeTime>%s</LastChangeTime>",
				     assigned ? "true" : "false", date);
	if (rc == 0 && n_hwids > 0 && server_client_pv_at_least(pv, 1, 6)) {
		rc = wsus_buf_appends(out, "<HardwareIds>");
		for (size_t i = 0; i < n_hwids && rc == 0; i++)
			rc = put_text(out, "string", hwids[i]);
		if (rc == 0)
			rc = wsus_buf_appends(out, "</HardwareIds>");
	}
	/* MUST NOT below 1.8, and "0" when sent. */
	if (rc == 0 && server_client_pv_at_least(pv, 1, 8))
		rc = wsus_buf_appends(out, "<AutoSelect>0</AutoSelect><AutoDownload>0</AutoDownload>"
				      "<SupersedenceBehavior>0</SupersedenceBehavior><FlagBitmask>0</FlagBitmask>");
	if (rc == 0)
		rc = wsus_buf_appends(out, "</Deployment>");
	return rc;
}

/*---- The client's closure, for the operations that look revisions up ----*/

/* Everything deployed to the client plus its closure (T16: a category, a
 * detectoid or a bundled child is "deployed to the client" too): the
 * prepared state of its groups. Release with server_scan_put. */
static int scope_load(struct server_req *req, const struct server_cookie_claims *c,
		      const struct server_scan **out, struct server_fault *f)
{
	struct storage_client_groups g;
	int rc = server_client_groups(req, c, &g, f);

	*out = NULL;
	return rc < 0 ? rc : server_scan_get(req, &g, NULL, 0, out, f);
}

/*---- GetCookie ----*/

/* The one AuthorizationCookie of authCookies, opened. */
static int open_auth_cookie(struct server_req *req, const struct protocol_node *op,
			    struct server_cookie_claims *auth,
			    struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(op, "authCookies");
	const struct protocol_node *ac = protocol_req_child(list, "AuthorizationCookie");
	char *data;
	struct err e = { 0 };
	int rc;

	if (ac == NULL || protocol_req_next(ac) != NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_AUTH_COOKIE,
					"authCookies must hold exactly one AuthorizationCookie");
	data = protocol_req_text(protocol_req_child(ac, "CookieData"));
	rc = data ? server_cookie_open(req->srv->cookie_key, data, SERVER_COOKIE_CLIENT_AUTH, wsus_now_ms(),
				       auth, &e)
		  : err_set(&e, -EBADMSG, "no CookieData");
	free(data);
	if (rc < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_AUTH_COOKIE, "%s", e.msg);
	if (strcmp(auth->server_id, req->srv->server_id) != 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_AUTH_COOKIE,
					"authorization cookie of another server");
	return 0;
}

/* oldCookie: absent or without EncryptedData is a first cookie (aux 0);
 * otherwise it must be ours (expired is the usual case), and its change
 * horizon carries over when it was the same client's. */
static int old_cookie_aux(struct server_req *req, const struct protocol_node *op,
			  const char *subject, int64_t *aux,
			  struct server_fault *f)
{
	const struct protocol_node *old = protocol_req_child(op, "oldCookie");
	char *data = protocol_req_text(protocol_req_child(old, "EncryptedData"));
	struct server_cookie_claims c;
	struct err e = { 0 };
	int rc;

	*aux = 0;
	if (data == NULL || data[0] == '\0') {
		free(data);
		return 0;
	}
	rc = server_cookie_open(req->srv->cookie_key, data, SERVER_COOKIE_CLIENT, wsus_now_ms(), &c, &e);
	free(data);
	if (rc < 0 && rc != -ETIMEDOUT)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_COOKIE, "oldCookie: %s", e.msg);
	if (strcmp(c.server_id, req->srv->server_id) != 0)
		return server_fault_set(f, PROTOCOL_ERR_SERVER_CHANGED, "oldCookie issued by server %.36s",
					c.server_id);
	if (strcmp(c.subject, subject) == 0)
		*aux = c.aux;
	return 0;
}

static int op_get_cookie(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
			 struct server_fault *f)
{
	struct server_cookie_claims auth, c;
	char text[64], pv[16];
	int64_t last_change, stamp, aux;
	int major, minor, rc;

	rc = open_auth_cookie(req, msg->op, &auth, f);
	if (rc < 0)
		return rc;
	server_req_computer(req, auth.subject);
	rc = old_cookie_aux(req, msg->op, auth.subject, &aux, f);
	if (rc < 0)
		return rc;
	if (protocol_req_child_text(msg->op, "lastChange", text, sizeof(text)) < 0 ||
	    protocol_datetime_parse(text, &last_change) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "lastChange");
	rc = config_stamp(req, &stamp, f);
	if (rc < 0)
		return rc;
	/* Compared in whole seconds: the stamp has no fraction, and clients
	 * keep a varying number of digits of the text we sent. */
	if (last_change / 1000 != stamp / 1000)
		return server_fault_set(f, PROTOCOL_ERR_CONFIG_CHANGED, "lastChange is not the current one");
	if (protocol_req_child_text(msg->op, "protocolVersion", pv, sizeof(pv)) < 0 ||
	    pv_parse(pv, &major, &minor) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "protocolVersion");

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, auth.subject, sizeof(c.subject));
	memcpy(c.groups, auth.groups, sizeof(c.groups));
	snprintf(c.protocol_version, sizeof(c.protocol_version), "%s", pv);
	rc = wsus_buf_printf(out, "<GetCookieResponse xmlns=\"%s\">", PROTOCOL_NS_CLIENT);
	if (rc == 0)
		rc = server_client_put_cookie(req, out, "GetCookieResult", &c, aux, f);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</GetCookieResponse>");
	return rc;
}

/*---- RegisterComputer ----*/

struct computer_text {
	char dns[CLIENT_TEXT_MAX], locale[CLIENT_TEXT_MAX], desc[CLIENT_TEXT_MAX], arch[CLIENT_TEXT_MAX];
	char make[CLIENT_TEXT_MAX], model[CLIENT_TEXT_MAX], bios_name[CLIENT_TEXT_MAX];
	char bios_ver[CLIENT_TEXT_MAX], bios_date[CLIENT_TEXT_MAX], oem[CLIENT_TEXT_MAX];
	char device[CLIENT_TEXT_MAX], firmware[CLIENT_TEXT_MAX], mobile[CLIENT_TEXT_MAX];
	char client_version[64];
};

static void read_computer(const struct protocol_node *ci, struct storage_client_computer *c,
			  struct computer_text *t)
{
	c->dns_name = opt_text(ci, "DnsName", t->dns, sizeof(t->dns));
	c->os_major = opt_int(ci, "OSMajorVersion", INT32_MIN, INT32_MAX);
	c->os_minor = opt_int(ci, "OSMinorVersion", INT32_MIN, INT32_MAX);
	c->os_build = opt_int(ci, "OSBuildNumber", INT32_MIN, INT32_MAX);
	c->os_sp_major = opt_int(ci, "OSServicePackMajorNumber", INT16_MIN, INT16_MAX);
	c->os_sp_minor = opt_int(ci, "OSServicePackMinorNumber", INT16_MIN, INT16_MAX);
	c->os_locale = opt_text(ci, "OSLocale", t->locale, sizeof(t->locale));
	c->manufacturer = opt_text(ci, "ComputerManufacturer", t->make, sizeof(t->make));
	c->model = opt_text(ci, "ComputerModel", t->model, sizeof(t->model));
	c->bios_version = opt_text(ci, "BiosVersion", t->bios_ver, sizeof(t->bios_ver));
	c->bios_name = opt_text(ci, "BiosName", t->bios_name, sizeof(t->bios_name));
	c->bios_release_date = opt_text(ci, "BiosReleaseDate", t->bios_date, sizeof(t->bios_date));
	c->processor_arch = opt_text(ci, "ProcessorArchitecture", t->arch, sizeof(t->arch));
	c->suite_mask = opt_int(ci, "SuiteMask", INT16_MIN, UINT16_MAX);
	c->old_product_type = opt_int(ci, "OldProductType", 0, UINT8_MAX);
	c->new_product_type = opt_int(ci, "NewProductType", INT32_MIN, INT32_MAX);
	c->system_metrics = opt_int(ci, "SystemMetrics", INT32_MIN, INT32_MAX);
	snprintf(t->client_version, sizeof(t->client_version), "%d.%d.%d.%d",
		 opt_int(ci, "ClientVersionMajorNumber", INT16_MIN, INT16_MAX),
		 opt_int(ci, "ClientVersionMinorNumber", INT16_MIN, INT16_MAX),
		 opt_int(ci, "ClientVersionBuildNumber", INT16_MIN, UINT16_MAX),
		 opt_int(ci, "ClientVersionQfeNumber", INT16_MIN, UINT16_MAX));
	c->client_version = t->client_version;
	c->os_description = opt_text(ci, "OSDescription", t->desc, sizeof(t->desc));
	c->oem = opt_text(ci, "OEM", t->oem, sizeof(t->oem));
	c->device_type = opt_text(ci, "DeviceType", t->device, sizeof(t->device));
	c->firmware_version = opt_text(ci, "FirmwareVersion", t->firmware, sizeof(t->firmware));
	c->mobile_operator = opt_text(ci, "MobileOperator", t->mobile, sizeof(t->mobile));
}

static struct server_log_gate register_gate = SERVER_LOG_GATE_INIT;

/* Registration policy ([clients]): a rate per client address, before any
 * work; ServerBusy asks the client to try again later (MS-WUSP 2.2.2.4). */
static int register_allowed(struct server_req *req, const char *computer, struct server_fault *f)
{
	uint64_t held = 0;

	if (server_limit_take(req->srv->register_limit, req->peer, server_mono_ms()))
		return 0;
	if (server_log_gate_pass(&register_gate, REGISTER_WARN_EVERY_MS, &held))
		log_warn("client", "RegisterComputer over the rate of its address, refused peer=%s computer_id=%s "
			 "register_per_minute=%d held_back=%llu", req->peer[0] ? req->peer : "-", computer,
			 req->srv->cfg ? req->srv->cfg->cl_register_per_minute : 0, (unsigned long long)held);
	return server_fault_set(f, PROTOCOL_ERR_SERVER_BUSY, "too many registrations from this address");
}

/* The cap refused a new computer: ServerBusy too (it may find room later). */
static int register_full(struct server_req *req, const char *computer, const struct err *e,
			 struct server_fault *f)
{
	uint64_t held = 0;

	if (server_log_gate_pass(&register_gate, REGISTER_WARN_EVERY_MS, &held))
		log_warn("client", "registration refused, computer limit reached computer_id=%s peer=%s "
			 "max_computers=%d held_back=%llu", computer, req->peer[0] ? req->peer : "-",
			 req->srv->cfg ? req->srv->cfg->cl_max_computers : 0, (unsigned long long)held);
	return server_fault_set(f, PROTOCOL_ERR_SERVER_BUSY, "%s", e->msg);
}

static int op_register_computer(struct server_req *req, struct protocol_req_msg *msg,
				struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct storage_client_computer comp;
	struct computer_text *t;
	const struct protocol_node *ci;
	struct err e = { 0 };
	int targeting = req->srv->cfg == NULL || req->srv->cfg->srv_client_targeting;
	int rc, unknown = 0;

	rc = server_client_cookie(req, msg->op, 0, &c, f);
	if (rc < 0)
		return rc;
	rc = register_allowed(req, c.subject, f);
	if (rc < 0)
		return rc;
	ci = protocol_req_child(msg->op, "computerInfo");
	if (ci == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "computerInfo");
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	memset(&comp, 0, sizeof(comp));
	read_computer(ci, &comp, t);
	comp.computer_id = c.subject;
	comp.ip_address = req->peer[0] != '\0' ? req->peer : NULL;
	comp.protocol_version = c.protocol_version[0] != '\0' ? c.protocol_version : NULL;
	comp.requested_groups = c.groups;
	comp.max_computers = req->srv->cfg != NULL ? req->srv->cfg->cl_max_computers : 0;
	rc = storage_client_register(req->st, &comp, targeting, &unknown, &e);
	free(t);
	if (rc == -EDQUOT)
		return register_full(req, c.subject, &e, f);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	if (unknown > 0 && targeting)
		log_warn("client",
			 "client asked for target groups that do not exist computer_id=%s groups=\"%s\""
			 " unknown=%d", c.subject, c.groups, unknown);
	return wsus_buf_printf(out, "<RegisterComputerResponse xmlns=\"%s\" />", PROTOCOL_NS_CLIENT);
}

/*---- StartCategoryScan ----*/

struct cat_req {
	int group;
	char id[WSUS_GUID_LEN];
	int kind;          /* 0 unknown, 1 product, 2 classification, 3 other category */
};

static int cat_kind(struct storage *st, const char *id)
{
	struct storage_revision_row row;

	if (storage_revision_get(st, id, -1, &row, NULL) < 0 || row.type != WSUS_UT_CATEGORY)
		return 0;
	if (strcmp(row.category_type, "Product") == 0)
		return 1;
	return strcmp(row.category_type, "UpdateClassification") == 0 ? 2 : 3;
}

static int put_guid_list(struct wsus_buf *out, const char *name, const struct cat_req *r, size_t n,
			 const int *take)
{
	int rc = wsus_buf_printf(out, "<%s>", name);

	for (size_t i = 0; i < n && rc == 0; i++)
		if (take[i])
			rc = wsus_buf_printf(out, "<guid>%s</guid>", r[i].id);
	if (rc == 0)
		rc = wsus_buf_printf(out, "</%s>", name);
	return rc;
}

/* 3.1.5.6: unknown categories are errors and drop their AND group; each
 * remaining group must be one product, or a product and a classification
 * (the product is preferred); any other shape empties the preferred list. */
static void choose_preferred(const struct cat_req *r, size_t n, int *error, int *preferred)
{
	for (size_t i = 0; i < n; i++)
		error[i] = r[i].kind == 0;
	for (size_t i = 0; i < n; i++) {
		size_t members = 0, products = 0, classes = 0, product = 0;
		int dropped = 0, seen = 0;

		for (size_t j = 0; j < i && !seen; j++)
			seen = r[j].group == r[i].group;
		if (seen)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (r[j].group != r[i].group)
				continue;
			members++;
			dropped |= error[j];
			if (r[j].kind == 1) {
				products++;
				product = j;
			}
			classes += r[j].kind == 2;
		}
		if (dropped)
			continue;
		if ((members == 1 && products == 1) || (members == 2 && products == 1 && classes == 1)) {
			preferred[product] = 1;
			continue;
		}
		memset(preferred, 0, n * sizeof(*preferred));
		return;
	}
}

static int op_start_category_scan(struct server_req *req, struct protocol_req_msg *msg,
				  struct wsus_buf *out, struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(msg->op, "requestedCategories");
	struct cat_req *r = NULL;
	int *error = NULL, *preferred = NULL;
	size_t n = 0;
	int rc;

	if (list == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "requestedCategories");
	for (const struct protocol_node *it = protocol_req_child(list, "CategoryRelationship"); it;
	     it = protocol_req_next(it))
		n++;
	if (n >= CLIENT_MAX_CATEGORIES)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
					"requestedCategories: %d or more categories", CLIENT_MAX_CATEGORIES);
	r = calloc(n ? n : 1, sizeof(*r));
	error = calloc(n ? n : 1, sizeof(*error));
	preferred = calloc(n ? n : 1, sizeof(*preferred));
	if (r == NULL || error == NULL || preferred == NULL) {
		rc = -ENOMEM;
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
		goto done;
	}
	n = 0;
	for (const struct protocol_node *it = protocol_req_child(list, "CategoryRelationship"); it;
	     it = protocol_req_next(it)) {
		char text[64];
		int64_t g;

		if (protocol_req_child_int(it, "IndexOfAndGroup", INT32_MIN, INT32_MAX, &g) < 0 ||
		    protocol_req_child_text(it, "CategoryId", text, sizeof(text)) < 0 ||
		    wsus_guid_normalize(text, r[n].id) < 0) {
			rc = server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "requestedCategories");
			goto done;
		}
		r[n].group = (int)g;
		r[n].kind = cat_kind(req->st, r[n].id);
		n++;
	}
	choose_preferred(r, n, error, preferred);
	rc = wsus_buf_printf(out, "<StartCategoryScanResponse xmlns=\"%s\">", PROTOCOL_NS_CLIENT);
	if (rc == 0)
		rc = put_guid_list(out, "preferredCategoryIds", r, n, preferred);
	if (rc == 0)
		rc = put_guid_list(out, "requestedCategoryIdsInError", r, n, error);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</StartCategoryScanResponse>");
done:
	free(r);
	free(error);
	free(preferred);
	return rc;
}

/*---- RefreshCache ----*/

static int op_refresh_cache(struct server_req *req, struct protocol_req_msg *msg,
			    struct wsus_buf *out,
			    struct server_fault *f)
{
	struct server_cookie_claims c;
	const struct server_scan *s;
	const struct protocol_node *list;
	size_t count = 0;
	int rc;

	rc = server_client_cookie(req, msg->op, 0, &c, f);
	if (rc < 0)
		return rc;
	list = protocol_req_child(msg->op, "globalIDs");
	if (list == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "globalIDs");
	for (const struct protocol_node *it = protocol_req_child(list, "UpdateIdentity"); it;
	     it = protocol_req_next(it))
		if (++count > CLIENT_MAX_GLOBAL_IDS)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "globalIDs: more than %d",
						CLIENT_MAX_GLOBAL_IDS);
	rc = scope_load(req, &c, &s, f);
	if (rc < 0)
		return rc;
	rc = wsus_buf_printf(out, "<RefreshCacheResponse xmlns=\"%s\"><RefreshCacheResult>",
			     PROTOCOL_NS_CLIENT);
	/* Only what is exactly the revision we would send: anything else stays
	 * unknown to the client and comes back through SyncUpdates (T25). */
	for (const struct protocol_node *it = protocol_req_child(list, "UpdateIdentity");
	     it && rc == 0;
	     it = protocol_req_next(it)) {
		const struct storage_client_rev *r;
		char uid[WSUS_GUID_LEN];
		ptrdiff_t k;
		int rev;

		if (read_identity(it, uid, &rev) < 0) {
			rc = server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "globalIDs");
			break;
		}
		k = server_scan_find_identity(s, uid, rev);
		if (k < 0)
			continue;
		r = server_scan_rev(s, (size_t)k);
		rc = wsus_buf_printf(out, "<RefreshCacheResult><RevisionID>%lld</RevisionID><GlobalID>"
				     "<UpdateID>%s</UpdateID><RevisionNumber>%d</RevisionNumber></GlobalID>"
				     "<IsLeaf>%s</IsLeaf>",
				     (long long)r->revision_id, uid, rev, r->is_leaf ? "true" : "false");
		if (rc == 0)
			rc = server_client_put_deployment(out, r, c.protocol_version, NULL, 0);
		if (rc == 0)
			rc = wsus_buf_appends(out, "</RefreshCacheResult>");
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</RefreshCacheResult></RefreshCacheResponse>");
	server_scan_put(s);
	return rc;
}

/*---- File locations ----*/

/* <FileLocation> with the URL of our /Content directory: the last two hex
 * digits of the SHA-1 name the folder, upper case as Windows servers write
 * it. with_algorithm adds FileDigestAlgorithm (GetExtendedUpdateInfo2). */
static int put_location(struct server_req *req, struct wsus_buf *out, const uint8_t sha1[WSUS_SHA1_LEN],
			const char *file_name, int with_algorithm)
{
	char b64[32], hex[2 * WSUS_SHA1_LEN + 1], ext[10];
	int rc;

	wsus_b64_encode(sha1, WSUS_SHA1_LEN, b64);
	wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
	for (char *p = hex; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	storage_content_ext(file_name, ext);
	rc = wsus_buf_printf(out, "<FileLocation><FileDigest>%s</FileDigest><Url>", b64);
	if (rc == 0)
		rc = wsus_buf_append_xml_escaped(out, req->srv->content_url, strlen(req->srv->content_url));
	if (rc == 0)
		rc = wsus_buf_printf(out, "/Content/%s/%s%s</Url>", hex + 38, hex, ext);
	if (rc == 0 && with_algorithm)
		rc = wsus_buf_appends(out, "<FileDigestAlgorithm>SHA1</FileDigestAlgorithm>");
	if (rc == 0)
		rc = wsus_buf_appends(out, "</FileLocation>");
	return rc;
}

/* The payloads of the revisions answered, each once. */
struct file_set {
	const struct storage_client_file **items;
	size_t n, cap;
};

static int add_files(struct file_set *fs, const struct server_scan_files *fl)
{
	for (size_t k = 0; k < fl->n; k++) {
		size_t i;

		for (i = 0; i < fs->n && memcmp(fs->items[i]->sha1, fl->items[k].sha1, WSUS_SHA1_LEN) != 0; i++)
			;
		if (i < fs->n)
			continue;
		if (fs->n == fs->cap) {
			size_t ncap = fs->cap ? fs->cap * 2 : 16;
			const struct storage_client_file **p = realloc(fs->items, ncap * sizeof(*p));

			if (p == NULL)
				return -ENOMEM;
			fs->items = p;
			fs->cap = ncap;
		}
		fs->items[fs->n++] = &fl->items[k];
	}
	return 0;
}

static int put_locations(struct server_req *req, struct wsus_buf *out, const struct file_set *fs,
			 int with_algorithm)
{
	int rc = wsus_buf_appends(out, "<FileLocations>");

	for (size_t i = 0; i < fs->n && rc == 0; i++)
		rc = put_location(req, out, fs->items[i]->sha1, fs->items[i]->name, with_algorithm);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</FileLocations>");
	return rc;
}

static int op_get_file_locations(struct server_req *req, struct protocol_req_msg *msg,
				 struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	const struct protocol_node *list;
	size_t count = 0;
	int rc;

	rc = server_client_cookie(req, msg->op, 0, &c, f);
	if (rc < 0)
		return rc;
	list = protocol_req_child(msg->op, "fileDigests");
	if (list == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "fileDigests");
	rc = wsus_buf_printf(out, "<GetFileLocationsResponse xmlns=\"%s\"><GetFileLocationsResult>"
			     "<FileLocations>", PROTOCOL_NS_CLIENT);
	for (const struct protocol_node *it = protocol_req_child(list, "base64Binary");
	     it && rc == 0;
	     it = protocol_req_next(it)) {
		char *text = protocol_req_text(it), name[160];
		uint8_t sha1[WSUS_SHA1_LEN + 1];
		size_t len = 0;
		int known;

		if (++count > CLIENT_MAX_DIGESTS) {
			free(text);
			rc = server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "fileDigests: more than %d",
					      CLIENT_MAX_DIGESTS);
			break;
		}
		if (text == NULL || wsus_b64_decode(text, strlen(text), sha1, sizeof(sha1), &len) < 0 ||
		    len != WSUS_SHA1_LEN) {
			free(text);
			rc = server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "fileDigests");
			break;
		}
		free(text);
		known = storage_client_file_name(req->st, sha1, name, sizeof(name), NULL);
		if (known == 0)
			rc = put_location(req, out, sha1, name, 0);
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</FileLocations>");
	if (rc == 0)
		rc = server_client_put_cookie(req, out, "NewCookie", &c, c.aux, f);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</GetFileLocationsResult></GetFileLocationsResponse>");
	return rc;
}

/*---- GetExtendedUpdateInfo ----*/

struct info_req {
	int want[4];                          /* indexed by enum wsus_fragment_type */
	char locales[CLIENT_MAX_LOCALES][24]; /* lower case, "en" always among them */
	size_t n_locales;
};

static int add_locale(struct info_req *q, const char *loc)
{
	char low[24];
	size_t n = strlen(loc);

	if (n == 0)
		return 0;
	if (n >= sizeof(low))
		return -EINVAL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (loc[i] >= 'A' && loc[i] <= 'Z') ? (char)(loc[i] - 'A' + 'a') : loc[i];
	for (size_t i = 0; i < q->n_locales; i++)
		if (strcmp(q->locales[i], low) == 0)
			return 0;
	if (q->n_locales == CLIENT_MAX_LOCALES)
		return -E2BIG;
	memcpy(q->locales[q->n_locales++], low, n + 1);
	return 0;
}

static int read_info_req(const struct protocol_node *op, struct info_req *q, struct server_fault *f)
{
	const struct protocol_node *types = protocol_req_child(op, "infoTypes");
	const struct protocol_node *locs = protocol_req_child(op, "locales");

	memset(q, 0, sizeof(*q));
	if (types == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "infoTypes");
	for (const struct protocol_node *it = protocol_req_child(types, "XmlUpdateFragmentType");
	     it; it = protocol_req_next(it)) {
		char *t = protocol_req_text(it);

		if (t != NULL && strcmp(t, "Core") == 0)
			q->want[WSUS_FRAG_CORE] = 1;
		else if (t != NULL && strcmp(t, "Extended") == 0)
			q->want[WSUS_FRAG_EXTENDED] = 1;
		else if (t != NULL && strcmp(t, "LocalizedProperties") == 0)
			q->want[WSUS_FRAG_LOCALIZED] = 1;
		else if (t != NULL && strcmp(t, "Eula") == 0)
			q->want[WSUS_FRAG_EULA] = 1;
		/* Published, VerificationRule, FileUrl, FileDecryption: nothing to add */
		free(t);
	}
	if ((q->want[WSUS_FRAG_LOCALIZED] || q->want[WSUS_FRAG_EULA]) && locs == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "locales");
	for (const struct protocol_node *it = protocol_req_child(locs, "string"); it;
	     it = protocol_req_next(it)) {
		char *t = protocol_req_text(it);
		int rc = t ? add_locale(q, t) : 0;

		free(t);
		if (rc < 0)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "locales");
	}
	/* The spec asks for English always, so a client has some title. */
	if (add_locale(q, "en") < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "locales");
	return 0;
}

static int put_fragment(struct server_req *req, struct wsus_buf *out, const struct server_scan *s, size_t i,
			enum wsus_fragment_type type, const char *locale)
{
	size_t mark = out->len;
	int present = 0;
	int rc = wsus_buf_printf(out, "<Update><ID>%lld</ID><Xml>", (long long)server_scan_rev(s, i)->revision_id);

	if (rc == 0)
		rc = server_scan_fragment(req, s, i, type, locale, out, &present);
	if (rc < 0)
		return rc;
	if (!present) {
		out->len = mark;           /* nothing of this one */
		if (out->data != NULL)
			out->data[mark] = '\0';
		return 1;
	}
	return wsus_buf_appends(out, "</Xml></Update>");
}

/* Localized fragments: each requested locale exactly, else its language
 * ("en-us" -> "en"), each stored locale at most once. */
static int put_localized(struct server_req *req, struct wsus_buf *out, const struct server_scan *s, size_t i,
			 enum wsus_fragment_type type, const struct info_req *q)
{
	char sent[CLIENT_MAX_LOCALES][24];
	size_t n_sent = 0;
	int rc = 0;

	for (size_t l = 0; l < q->n_locales && rc >= 0; l++) {
		char lang[24];
		const char *cand[2] = { q->locales[l], NULL };
		const char *dash = strchr(q->locales[l], '-');

		if (dash != NULL) {
			snprintf(lang, sizeof(lang), "%.*s", (int)(dash - q->locales[l]), q->locales[l]);
			cand[1] = lang;
		}
		for (int k = 0; k < 2 && cand[k] != NULL; k++) {
			int dup = 0;

			for (size_t j = 0; j < n_sent && !dup; j++)
				dup = strcmp(sent[j], cand[k]) == 0;
			if (dup)
				break;
			rc = put_fragment(req, out, s, i, type, cand[k]);
			if (rc == 0) {
				snprintf(sent[n_sent++], sizeof(sent[0]), "%s", cand[k]);
				break;
			}
			if (rc < 0)
				break;
		}
	}
	return rc < 0 ? rc : 0;
}

static int put_update_data(struct server_req *req, struct wsus_buf *out, const struct server_scan *s, size_t i,
			   const struct info_req *q)
{
	int rc = 0;

	for (int t = WSUS_FRAG_CORE; t <= WSUS_FRAG_EXTENDED && rc >= 0; t++)
		if (q->want[t])
			rc = put_fragment(req, out, s, i, (enum wsus_fragment_type)t, NULL);
	if (rc >= 0 && q->want[WSUS_FRAG_LOCALIZED])
		rc = put_localized(req, out, s, i, WSUS_FRAG_LOCALIZED, q);
	if (rc >= 0 && q->want[WSUS_FRAG_EULA])
		rc = put_localized(req, out, s, i, WSUS_FRAG_EULA, q);
	return rc < 0 ? rc : 0;
}

/* Revision i's answer and its payloads into fs; *encrypted tells whether
 * one of them is encrypted. */
static int put_revision(struct server_req *req, struct wsus_buf *out, const struct server_scan *s, size_t i,
			const struct info_req *q, struct file_set *fs, int *encrypted)
{
	const struct server_scan_files *fl = NULL;
	int rc = put_update_data(req, out, s, i, q);

	if (rc == 0)
		rc = server_scan_files(req, s, i, &fl);
	if (rc == 0)
		rc = add_files(fs, fl);
	if (rc == 0 && encrypted != NULL)
		*encrypted = fl->encrypted;
	return rc;
}

/* Name the answer for the memo (server_scanstate.c design note 5): it is a
 * function of the state, the ids, the types and locales asked for, the SOAP
 * version and the coding. 1 when the whole answer is already kept. */
static int memo_name(struct server_req *req, const struct server_scan *s, const char *op, int version,
		     const int64_t *ids, size_t n_ids, const struct info_req *q)
{
	const char *asked = server_accept_encoding(req->accept_encoding);
	struct wsus_buf k;
	int rc;

	if (!req->memo_ok)
		return 0;
	wsus_buf_init(&k, 64u * 1024);
	rc = wsus_buf_printf(&k, "%s|%d|%s|%d%d%d%d|", op, version, asked ? asked : "-", q->want[0], q->want[1],
			     q->want[2], q->want[3]);
	for (size_t i = 0; i < q->n_locales && rc == 0; i++)
		rc = wsus_buf_printf(&k, "%s,", q->locales[i]);
	for (size_t i = 0; i < n_ids && rc == 0; i++)
		rc = wsus_buf_printf(&k, "|%lld", (long long)ids[i]);
	if (rc == 0) {
		wsus_sha1(k.data, k.len, req->memo_key);
		req->memo_state = server_scan_ref(s);
		req->memo_hit = server_scan_memo_get(s, req->memo_key, &req->memo_answer);
	}
	wsus_buf_free(&k);
	return req->memo_hit;
}

static int op_get_extended_update_info(struct server_req *req, struct protocol_req_msg *msg,
				       struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct info_req q;
	const struct server_scan *s = NULL;
	struct file_set fs = { 0 };
	int64_t *ids = NULL;
	size_t n_ids = 0;
	int rc;

	rc = server_client_cookie(req, msg->op, 0, &c, f);
	if (rc < 0)
		return rc;
	if (protocol_req_child(msg->op, "revisionIDs") == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "revisionIDs");
	rc = server_client_ids(protocol_req_child(msg->op, "revisionIDs"), "revisionIDs",
			       CLIENT_MAX_EXTENDED,
			       &ids, &n_ids, f);
	if (rc == 0)
		rc = read_info_req(msg->op, &q, f);
	if (rc == 0)
		rc = scope_load(req, &c, &s, f);
	if (rc < 0 || memo_name(req, s, "GetExtendedUpdateInfo", (int)msg->version, ids, n_ids, &q))
		goto done;
	rc = wsus_buf_printf(out, "<GetExtendedUpdateInfoResponse xmlns=\"%s\"><GetExtendedUpdateInfoResult>"
			     "<Updates>", PROTOCOL_NS_CLIENT);
	for (size_t i = 0; i < n_ids && rc == 0; i++) {
		ptrdiff_t k = server_scan_find(s, ids[i]);

		if (k >= 0)
			rc = put_revision(req, out, s, (size_t)k, &q, &fs, NULL);
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</Updates>");
	if (rc == 0)
		rc = put_locations(req, out, &fs, 0);
	if (rc == 0)
		rc = wsus_buf_appends(out, "<OutOfScopeRevisionIDs>");
	for (size_t i = 0; i < n_ids && rc == 0; i++)
		if (server_scan_find(s, ids[i]) < 0)
			rc = wsus_buf_printf(out, "<int>%lld</int>", (long long)ids[i]);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</OutOfScopeRevisionIDs></GetExtendedUpdateInfoResult>"
				      "</GetExtendedUpdateInfoResponse>");
done:
	free(ids);
	free(fs.items);
	server_scan_put(s);
	return rc;
}

/* Version 2 names revisions by identity and adds what Windows 11 24H2 reads:
 * the digest algorithm and, per update, whether any file is encrypted (we
 * serve none, so the decryption lists stay empty). */
static int op_get_extended_update_info2(struct server_req *req, struct protocol_req_msg *msg,
					struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct info_req q;
	const struct server_scan *s = NULL;
	struct file_set fs = { 0 };
	struct wsus_buf details;
	const struct protocol_node *list;
	size_t count = 0;
	int rc;

	rc = server_client_cookie(req, msg->op, 0, &c, f);
	if (rc < 0)
		return rc;
	list = protocol_req_child(msg->op, "updateIDs");
	if (list == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "updateIDs");
	for (const struct protocol_node *it = protocol_req_child(list, "UpdateIdentity"); it;
	     it = protocol_req_next(it))
		if (++count > CLIENT_MAX_EXTENDED)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "updateIDs: more than %d",
						CLIENT_MAX_EXTENDED);
	rc = read_info_req(msg->op, &q, f);
	if (rc == 0)
		rc = scope_load(req, &c, &s, f);
	if (rc < 0)
		return rc;
	wsus_buf_init(&details, 1u << 20);
	rc = wsus_buf_printf(out,
			     "<GetExtendedUpdateInfo2Response xmlns=\"%s\"><GetExtendedUpdateInfo2Result>"
			     "<Updates>", PROTOCOL_NS_CLIENT);
	for (const struct protocol_node *it = protocol_req_child(list, "UpdateIdentity");
	     it && rc == 0;
	     it = protocol_req_next(it)) {
		char uid[WSUS_GUID_LEN];
		int rev, encrypted = 0;
		ptrdiff_t k;

		if (read_identity(it, uid, &rev) < 0) {
			rc = server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "updateIDs");
			break;
		}
		k = server_scan_find_identity(s, uid, rev);
		if (k < 0)
			continue;
		rc = put_revision(req, out, s, (size_t)k, &q, &fs, &encrypted);
		if (rc == 0)
			rc = wsus_buf_printf(&details, "<UpdateEncryptionDetail><UpdateIdentity><UpdateID>%s"
					     "</UpdateID><RevisionNumber>%d</RevisionNumber></UpdateIdentity>"
					     "<HasEncryptedFiles>%s</HasEncryptedFiles></UpdateEncryptionDetail>",
					     uid, rev, encrypted ? "true" : "false");
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</Updates>");
	if (rc == 0)
		rc = put_locations(req, out, &fs, 1);
	if (rc == 0)
		rc = wsus_buf_appends(out, "<UpdateEncryptionDetails>");
	if (rc == 0 && details.len > 0)
		rc = wsus_buf_append(out, details.data, details.len);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</UpdateEncryptionDetails></GetExtendedUpdateInfo2Result>"
				      "</GetExtendedUpdateInfo2Response>");
	wsus_buf_free(&details);
	free(fs.items);
	server_scan_put(s);
	return rc;
}

/*---- The service ----*/

#define CLIENT_ACTION(op) PROTOCOL_NS_CLIENT "/" op

static const char *const client_paths[] = {
	"/ClientWebService/Client.asmx",
	NULL,
};

/* RefreshCache: an UpdateIdentity is three elements. */
static const struct protocol_limits refresh_limits = {
	.max_bytes = PROTOCOL_MAX_SOAP_BODY,
	.max_elements = 3 * CLIENT_MAX_GLOBAL_IDS + 1024,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 16 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 100,
};

static const struct protocol_list_limit extended_lists[] = {
	{ "revisionIDs", CLIENT_MAX_EXTENDED },
	{ NULL, 0 },
};

static const struct protocol_limits extended_limits = {
	.max_bytes = 1024 * 1024,
	.max_elements = 2048,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 16 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 100,
	.lists = extended_lists,
};

static const struct server_op client_ops[] = {
	{ "GetConfig", CLIENT_ACTION("GetConfig"), op_get_config, 0, &server_limits_small },
	{ "GetCookie", CLIENT_ACTION("GetCookie"), op_get_cookie, 0, &server_limits_small },
	{ "RegisterComputer", CLIENT_ACTION("RegisterComputer"), op_register_computer, 0,
	  &server_limits_small },
	{ "StartCategoryScan", CLIENT_ACTION("StartCategoryScan"), op_start_category_scan, 0,
	  &server_limits_medium },
	{ "SyncUpdates", CLIENT_ACTION("SyncUpdates"), server_client_sync_updates, 0,
	  &server_client_sync_limits },
	{ "SyncPrinterCatalog", CLIENT_ACTION("SyncPrinterCatalog"), server_client_sync_printers, 0,
	  &server_client_sync_limits },
	{ "RefreshCache", CLIENT_ACTION("RefreshCache"), op_refresh_cache, 0, &refresh_limits },
	{ "GetExtendedUpdateInfo", CLIENT_ACTION("GetExtendedUpdateInfo"), op_get_extended_update_info, 0,
	  &extended_limits },
	{ "GetExtendedUpdateInfo2", CLIENT_ACTION("GetExtendedUpdateInfo2"), op_get_extended_update_info2, 0,
	  &server_limits_medium },
	{ "GetFileLocations", CLIENT_ACTION("GetFileLocations"), op_get_file_locations, 0,
	  &server_limits_medium },
};

const struct server_service server_client_service = {
	.paths = client_paths,
	.ops = client_ops,
	.n_ops = sizeof(client_ops) / sizeof(client_ops[0]),
	.downstream_only = 0,
};
