/*
 * server_sss.c -- ServerSyncWebService, the upstream (USS) role of MS-WSUSSS:
 * what a downstream server (a wsus-replica or a Windows WSUS) calls to copy
 * our catalogue, deployments and content list. Every operation but
 * GetAuthConfig and GetCookie first checks the sealed cookie that GetCookie
 * issued. Handlers append one response element to the caller's buffer and
 * allocate nothing that outlives the call.
 *
 * Anchors are "N,yyyy-MM-dd HH:mm:ss.fff" (the Windows shape, so Windows
 * downstreams accept them): N is a committed catalogue anchor and the time is
 * when it was committed, so an anchor that names an N we never committed, or
 * an N with another time (a database reset, another server), is recognised as
 * foreign and answered with everything rather than with a wrong delta.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SSS_PROTOCOL_VERSION   "1.20"
#define ANCHOR_TEXT_MAX        64
#define FILTER_IDS_MAX         1000   /* categories or classifications in one filter */
#define RESPONSE_OVERHEAD      1024   /* envelope and wrapper elements around a GetUpdateData answer */
#define NONE_DEADLINE          "9999-12-31T23:59:59.9999999"
#define NONE_GO_LIVE           "1753-01-01T00:00:00Z"
#define ZERO_GUID              "00000000-0000-0000-0000-000000000000"

int server_sss_ping(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		    struct server_fault *f);

/*---- Writing ----*/

/* <name>text</name>, text escaped. */
static int put_text(struct wsus_buf *b, const char *name, const char *text)
{
	int rc = wsus_buf_printf(b, "<%s>", name);

	if (rc == 0)
		rc = wsus_buf_append_xml_escaped(b, text, strlen(text));
	if (rc == 0)
		rc = wsus_buf_printf(b, "</%s>", name);
	return rc;
}

static int put_identity(struct wsus_buf *b, const char *wrapper, const char *uid, int rev)
{
	return wsus_buf_printf(b, "<%s><UpdateID>%s</UpdateID><RevisionNumber>%d</RevisionNumber></%s>",
			       wrapper, uid, rev, wrapper);
}

static int put_digest(struct wsus_buf *b, const char *name, const uint8_t sha1[WSUS_SHA1_LEN])
{
	char b64[32];

	wsus_b64_encode(sha1, WSUS_SHA1_LEN, b64);
	return wsus_buf_printf(b, "<%s>%s</%s>", name, b64, name);
}

/* A stored date (ISO 8601 as an admin typed it or a parent sent it) as
 * xs:dateTime; none when empty or unreadable. */
static void wire_time(const char *stored, const char *none, char out[48])
{
	char full[48];
	int64_t ms;

	snprintf(out, 48, "%s", none);
	if (stored == NULL || stored[0] == '\0')
		return;
	if (protocol_datetime_parse(stored, &ms) < 0) {
		/* A date alone means its midnight, UTC. */
		if (strlen(stored) != 10 ||
		    (size_t)snprintf(full, sizeof(full), "%sT00:00:00Z", stored) >= sizeof(full) ||
		    protocol_datetime_parse(full, &ms) < 0) {
			log_warn("sss", "unreadable date in a deployment, sent as none value=\"%.40s\"", stored);
			return;
		}
	}
	protocol_datetime_format(ms, out);
}

/*---- Anchors ----*/

static void anchor_text(const struct storage_anchor *a, char out[ANCHOR_TEXT_MAX])
{
	char iso[40];

	protocol_datetime_format(a->time_ms, iso);   /* YYYY-MM-DDTHH:MM:SS.mmmZ */
	iso[10] = ' ';
	iso[23] = '\0';
	snprintf(out, ANCHOR_TEXT_MAX, "%lld,%s", (long long)a->n, iso);
}

/* Well-formed: N,yyyy-MM-dd HH:mm:ss with up to 7 fractional digits (ours
 * and Windows' both pass). */
static int anchor_split(const char *s, int64_t *n)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";
	const char *p = s;
	int64_t v = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9') {
		if (++digits > 18)
			return -EINVAL;
		v = v * 10 + (*p++ - '0');
	}
	if (digits == 0 || *p++ != ',')
		return -EINVAL;
	for (size_t i = 0; i < sizeof(shape) - 1; i++, p++) {
		int digit = *p >= '0' && *p <= '9';

		if (shape[i] == 'd' ? !digit : *p != shape[i])
			return -EINVAL;
	}
	if (*p == '.') {
		p++;
		for (digits = 0; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (digits < 1 || digits > 7)
			return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	*n = v;
	return 0;
}

enum anchor_kind { ANCHOR_NONE, ANCHOR_OURS, ANCHOR_FOREIGN };

/* What a received anchor means here. Returns an anchor_kind with *a set (the
 * empty anchor unless ours), or -EINVAL when it is not an anchor at all, or
 * another negative code when storage fails. */
static int anchor_resolve(struct storage *st, const char *text, struct storage_anchor *a,
			  struct err *e)
{
	struct storage_anchor got = { 0, 0 };
	char ours[ANCHOR_TEXT_MAX];
	int64_t v;
	int rc;

	a->n = 0;
	a->time_ms = 0;
	if (text == NULL || text[0] == '\0')
		return ANCHOR_NONE;
	if (anchor_split(text, &v) < 0)
		return -EINVAL;
	if (v > 0) {
		rc = storage_anchor_get(st, v, &got, e);
		if (rc == -ENOENT)
			return ANCHOR_FOREIGN;
		if (rc < 0)
			return rc;
	}
	anchor_text(&got, ours);
	if (strcmp(ours, text) != 0)
		return ANCHOR_FOREIGN;
	*a = got;
	return ANCHOR_OURS;
}

/* An optional anchor child: *kind and *a as anchor_resolve sets them; -1
 * (fault set) when malformed. */
static int anchor_child(struct server_req *req, const struct protocol_node *parent,
			const char *name,
			int *kind, struct storage_anchor *a, struct server_fault *f)
{
	char text[ANCHOR_TEXT_MAX * 2];
	struct err e = { 0 };
	int rc = protocol_req_child_text(parent, name, text, sizeof(text));

	if (rc == -ENOENT)
		text[0] = '\0';
	else if (rc < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "%s", name);
	rc = anchor_resolve(req->st, text, a, &e);
	if (rc == -EINVAL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "%s", name);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	if (rc == ANCHOR_FOREIGN)
		log_warn("sss", "anchor not issued by this server's current catalogue, answering in full"
			 " field=%s anchor=\"%.60s\" peer=%s", name, text, req->peer[0] ? req->peer : "-");
	*kind = rc;
	return 0;
}

static int current_anchor(struct server_req *req, struct storage_anchor *a, struct server_fault *f)
{
	struct err e = { 0 };
	int rc = storage_anchor_latest(req->st, a, &e);

	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	return rc;
}

/*---- Cookies ----*/

/* "x.y", both decimal: -1 (fault set) otherwise, or when x is not 1. */
static int check_version(const char *v, struct server_fault *f)
{
	const char *p = v;
	int major = 0, digits = 0;

	for (; *p >= '0' && *p <= '9' && digits < 5; p++, digits++)
		major = major * 10 + (*p - '0');
	if (digits == 0 || *p++ != '.')
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "protocolVersion");
	for (digits = 0; *p >= '0' && *p <= '9' && digits < 5; p++)
		digits++;
	if (digits == 0 || *p != '\0')
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "protocolVersion");
	if (major != 1)
		return server_fault_set(f, PROTOCOL_ERR_INCOMPATIBLE_VERSION,
					"protocol version %s is not 1.x", v);
	return 0;
}

/* The cookie every operation after GetCookie carries. MS-WSUSSS has no
 * CookieExpired for servers: expired, forged, another server's or another
 * kind all answer InvalidCookie, which makes a DSS authorise again. */
static int require_cookie(struct server_req *req, struct protocol_req_msg *msg,
			  struct server_cookie_claims *c, struct server_fault *f)
{
	const struct protocol_node *ck = protocol_req_child(msg->op, "cookie");
	char *data = protocol_req_text(protocol_req_child(ck, "EncryptedData"));
	struct err e = { 0 };
	int rc;

	if (data == NULL || data[0] == '\0') {
		free(data);
		return server_fault_set(f, PROTOCOL_ERR_INVALID_COOKIE, "no cookie");
	}
	rc = server_cookie_open(req->srv->cookie_key, data, SERVER_COOKIE_DSS, wsus_now_ms(), c, &e);
	free(data);
	if (rc < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_COOKIE, "%s", e.msg);
	if (strcmp(c->server_id, req->srv->server_id) != 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_COOKIE, "cookie issued by another server");
	if (check_version(c->protocol_version, f) < 0)
		return -1;
	/* Bookkeeping only: a DSS the admin removed authorises again next time. */
	rc = storage_dss_touch(req->st, c->subject, NULL, &e);
	if (rc < 0 && rc != -ENOENT)
		log_warn("sss", "cannot record downstream activity server_id=%s: %s", c->subject, e.msg);
	return 0;
}

/*---- GetAuthConfig, GetCookie ----*/

static int op_get_auth_config(struct server_req *req, struct protocol_req_msg *msg,
			      struct wsus_buf *out, struct server_fault *f)
{
	char now[40];

	(void)req;
	(void)msg;
	(void)f;
	protocol_datetime_format(wsus_now_ms(), now);
	/* Windows sends the empty Parameter too, though 3.1.4.1 says not to. */
	return wsus_buf_printf(out,
			       "<GetAuthConfigResponse xmlns=\"%s\"><GetAuthConfigResult>"
			       "<LastChange>%s</LastChange><AuthInfo><AuthPlugInInfo>"
			       "<PlugInID>DssTargeting</PlugInID>"
			       "<ServiceUrl>DssAuthWebService/DssAuthWebService.asmx</ServiceUrl>"
			       "<Parameter /></AuthPlugInInfo></AuthInfo></GetAuthConfigResult>"
			       "</GetAuthConfigResponse>",
			       PROTOCOL_NS_SD, now);
}

static int op_get_cookie(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
			 struct server_fault *f)
{
	struct server_cookie_claims auth, c;
	const struct protocol_node *list = protocol_req_child(msg->op, "authCookies");
	const struct protocol_node *ac = protocol_req_child(list, "AuthorizationCookie");
	char version[16], expires[40], *data, *sealed = NULL;
	struct err e = { 0 };
	int64_t now = wsus_now_ms();
	int rc;

	if (ac == NULL || protocol_req_next(ac) != NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "authCookies");
	data = protocol_req_text(protocol_req_child(ac, "CookieData"));
	rc = data ? server_cookie_open(req->srv->cookie_key, data, SERVER_COOKIE_DSS_AUTH, now, &auth, &e)
		  : err_set(&e, -EBADMSG, "no CookieData");
	free(data);
	if (rc < 0 || strcmp(auth.server_id, req->srv->server_id) != 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_AUTH_COOKIE, "%s",
					rc < 0 ? e.msg : "authorization cookie of another server");
	if (protocol_req_child_text(msg->op, "protocolVersion", version, sizeof(version)) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "protocolVersion");
	if (check_version(version, f) < 0)
		return -1;

	memset(&c, 0, sizeof(c));
	c.kind = SERVER_COOKIE_DSS;
	memcpy(c.subject, auth.subject, sizeof(c.subject));
	memcpy(c.server_id, req->srv->server_id, WSUS_GUID_LEN);
	snprintf(c.protocol_version, sizeof(c.protocol_version), "%s", version);
	c.issued_ms = now;
	/* MS-WSUSSS <29>: 240 minutes, or sooner if the authorization ends sooner. */
	c.expires_ms = now + SERVER_COOKIE_TTL_MS < auth.expires_ms ? now + SERVER_COOKIE_TTL_MS
								      : auth.expires_ms;
	rc = server_cookie_seal(req->srv->cookie_key, &c, &sealed, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	if (storage_dss_touch(req->st, c.subject, version, &e) < 0)
		log_warn("sss", "cookie for a downstream server not in the DSS table server_id=%s: %s",
			 c.subject, e.msg);
	protocol_datetime_format(c.expires_ms, expires);
	rc = wsus_buf_printf(out,
			     "<GetCookieResponse xmlns=\"%s\"><GetCookieResult><Expiration>%s</Expiration>"
			     "<EncryptedData>%s</EncryptedData></GetCookieResult></GetCookieResponse>",
			     PROTOCOL_NS_SD, expires, sealed);
	free(sealed);
	return rc;
}

/*---- GetConfigData ----*/

/* Language codes as update metadata spells them, with the LCID and name a
 * Windows USS advertises for each (MS-WSUSSS 3.1.4.4, LanguageUpdateList). */
static const struct lcid {
	const char *code;
	int lcid;
	const char *name;
} lcids[] = {
	{ "ar", 1025, "Arabic" }, { "bg", 1026, "Bulgarian" }, { "zh-tw", 1028, "Chinese (Traditional)" },
	{ "cs", 1029, "Czech" }, { "da", 1030, "Danish" }, { "de", 1031, "German" },
	{ "el", 1032, "Greek" }, { "en", 1033, "English" }, { "es", 1034, "Spanish" },
	{ "fi", 1035, "Finnish" }, { "fr", 1036, "French" }, { "he", 1037, "Hebrew" },
	{ "hu", 1038, "Hungarian" }, { "it", 1040, "Italian" }, { "ja", 1041, "Japanese" },
	{ "ko", 1042, "Korean" }, { "nl", 1043, "Dutch" }, { "no", 1044, "Norwegian" },
	{ "pl", 1045, "Polish" }, { "pt-br", 1046, "Portuguese (Brazil)" }, { "ro", 1048, "Romanian" },
	{ "ru", 1049, "Russian" }, { "hr", 1050, "Croatian" }, { "sk", 1051, "Slovak" },
	{ "sv", 1053, "Swedish" }, { "th", 1054, "Thai" }, { "tr", 1055, "Turkish" },
	{ "uk", 1058, "Ukrainian" }, { "sl", 1060, "Slovenian" }, { "et", 1061, "Estonian" },
	{ "lv", 1062, "Latvian" }, { "lt", 1063, "Lithuanian" }, { "hi", 1081, "Hindi" },
	{ "zh-cn", 2052, "Chinese (Simplified)" }, { "pt", 2070, "Portuguese (Portugal)" },
	{ "sr", 2074, "Serbian (Latin)" }, { "zh-hk", 3076, "Chinese (Hong Kong SAR)" },
	{ "ja-nec", 66577, "Japanese NEC" },
};
#define N_LCIDS (sizeof(lcids) / sizeof(lcids[0]))

/* Marks the table entries the catalogue has. */
static int mark_language(const char *lang, void *ctx)
{
	unsigned char *present = ctx;

	for (size_t i = 0; i < N_LCIDS; i++)
		if (strcmp(lcids[i].code, lang) == 0)
			present[i] = 1;
	return 0;
}

static int put_language(struct wsus_buf *b, int lcid, const char *code, const char *name)
{
	return wsus_buf_printf(b,
			       "<ServerSyncLanguageData><LanguageID>%d</LanguageID>"
			       "<ShortLanguage>%s</ShortLanguage><LongLanguage>%s</LongLanguage>"
			       "<Enabled>true</Enabled></ServerSyncLanguageData>",
			       lcid, code, name);
}

static int op_get_config_data(struct server_req *req, struct protocol_req_msg *msg,
			      struct wsus_buf *out, struct server_fault *f)
{
	const struct wsus_config *cfg = req->srv->cfg;
	struct server_cookie_claims c;
	struct storage_anchor now, old;
	unsigned char present[N_LCIDS] = { 0 };
	char anchor[ANCHOR_TEXT_MAX];
	struct err e = { 0 };
	int rc, kind;

	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	/* Answered in full whatever configAnchor says; it must still be an anchor. */
	rc = anchor_child(req, msg->op, "configAnchor", &kind, &old, f);
	if (rc < 0)
		return rc;
	rc = current_anchor(req, &now, f);
	if (rc < 0)
		return rc;
	rc = storage_languages(req->st, mark_language, present, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	anchor_text(&now, anchor);
	/* Element order of the Appendix A schema, which is also what Windows
	 * Server 2025 sends (the 3.1.4.4.3.1 prose lists another order). */
	rc = wsus_buf_printf(out,
			     "<GetConfigDataResponse xmlns=\"%s\"><GetConfigDataResult>"
			     "<CatalogOnlySync>%s</CatalogOnlySync><LazySync>%s</LazySync>"
			     "<ServerHostsPsfFiles>false</ServerHostsPsfFiles>"
			     "<MaxNumberOfComputerIdsInRequest>0</MaxNumberOfComputerIdsInRequest>"
			     "<MaxNumberOfDriverSetsPerRequest>0</MaxNumberOfDriverSetsPerRequest>"
			     "<MaxNumberOfPnpHardwareIdsInRequest>0</MaxNumberOfPnpHardwareIdsInRequest>"
			     "<MaxNumberOfUpdatesPerRequest>%d</MaxNumberOfUpdatesPerRequest>"
			     "<NewConfigAnchor>%s</NewConfigAnchor><ProtocolVersion>%s</ProtocolVersion>"
			     "<LanguageUpdateList>",
			     PROTOCOL_NS_SD, cfg != NULL && !cfg->sy_content ? "true" : "false",
			     cfg != NULL && cfg->sy_content && cfg->sy_lazy_content ? "true" : "false",
			     SERVER_MAX_UPDATES_PER_REQUEST, anchor, SSS_PROTOCOL_VERSION);
	if (rc == 0)
		rc = put_language(out, 0, "all", "all");
	for (size_t i = 0; i < N_LCIDS && rc == 0; i++)
		if (present[i])
			rc = put_language(out, lcids[i].lcid, lcids[i].code, lcids[i].name);
	if (rc == 0)
		rc = wsus_buf_printf(out,
				     "</LanguageUpdateList><MaxUpdatesPerRequestInGetUpdateDecryptionData>%d"
				     "</MaxUpdatesPerRequestInGetUpdateDecryptionData></GetConfigDataResult>"
				     "</GetConfigDataResponse>",
				     SERVER_MAX_UPDATES_PER_REQUEST);
	return rc;
}

/*---- GetRevisionIdList ----*/

struct id_list {
	struct storage_id_delta *v;
	size_t n;
};

/* An ArrayOfIdAndDelta; Delta defaults to true (a plain delta). */
static int parse_id_deltas(const struct protocol_node *list, struct id_list *out)
{
	size_t n = 0;
	int delta;

	out->v = NULL;
	out->n = 0;
	for (const struct protocol_node *x = protocol_req_child(list, "IdAndDelta"); x != NULL;
	     x = protocol_req_next(x))
		n++;
	if (n == 0)
		return 0;
	if (n > FILTER_IDS_MAX)
		return -E2BIG;
	out->v = calloc(n, sizeof(*out->v));
	if (out->v == NULL)
		return -ENOMEM;
	for (const struct protocol_node *x = protocol_req_child(list, "IdAndDelta"); x != NULL;
	     x = protocol_req_next(x)) {
		char raw[64];
		struct storage_id_delta *d = &out->v[out->n];

		if (protocol_req_child_text(x, "Id", raw, sizeof(raw)) < 0 ||
		    wsus_guid_normalize(raw, d->id) < 0)
			return -EINVAL;
		d->delta = 1;
		if (protocol_req_child_bool(x, "Delta", &delta) == 0)
			d->delta = delta;
		out->n++;
	}
	return 0;
}

struct id_writer {
	struct wsus_buf *out;
	size_t count;
};

static int write_identity(const char *update_id, int revision, void *ctx)
{
	struct id_writer *w = ctx;

	w->count++;
	return put_identity(w->out, "UpdateIdentity", update_id, revision);
}

static int op_get_revision_id_list(struct server_req *req, struct protocol_req_msg *msg,
				   struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct storage_revision_filter rf = { 0 };
	struct id_list cats = { 0 }, clss = { 0 };
	struct id_writer w = { out, 0 };
	struct storage_anchor now, since;
	const struct protocol_node *filter = protocol_req_child(msg->op, "filter");
	char anchor[ANCHOR_TEXT_MAX];
	struct err e = { 0 };
	int rc, kind = ANCHOR_NONE, config;

	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	if (filter == NULL || protocol_req_child_bool(filter, "GetConfig", &config) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "filter");
	rc = anchor_child(req, filter, "Anchor", &kind, &since, f);
	if (rc < 0) {
		if (rc == -1)
			snprintf(f->message, sizeof(f->message), "filter");  /* as Windows names it */
		return rc;
	}
	rf.since = since.n;
	if (!config) {
		rc = parse_id_deltas(protocol_req_child(filter, "Categories"), &cats);
		if (rc == 0)
			rc = parse_id_deltas(protocol_req_child(filter, "Classifications"), &clss);
		if (rc < 0) {
			rc = rc == -ENOMEM ? rc : server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "filter");
			goto done;
		}
	}
	rc = current_anchor(req, &now, f);
	if (rc < 0)
		goto done;
	rf.config = config;
	rf.upto = now.n;
	rf.categories = cats.v;
	rf.n_categories = cats.n;
	rf.classifications = clss.v;
	rf.n_classifications = clss.n;
	anchor_text(&now, anchor);
	rc = wsus_buf_printf(out, "<GetRevisionIdListResponse xmlns=\"%s\"><GetRevisionIdListResult>"
			     "<Anchor>%s</Anchor><NewRevisions>", PROTOCOL_NS_SD, anchor);
	if (rc == 0)
		rc = storage_revision_ids(req->st, &rf, write_identity, &w, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg[0] ? e.msg : "response too large");
		goto done;
	}
	rc = wsus_buf_appends(out, "</NewRevisions></GetRevisionIdListResult></GetRevisionIdListResponse>");
	log_info("sss", "revision list server_id=%s config=%d since=%lld anchor=%lld filter=%zu/%zu count=%zu",
		 c.subject, config, (long long)rf.since, (long long)now.n, cats.n, clss.n, w.count);
done:
	free(cats.v);
	free(clss.v);
	return rc;
}

/*---- GetUpdateData, GetUpdateDecryptionData ----*/

struct ident {
	char uid[WSUS_GUID_LEN];
	int  rev;
};

/* updateIds: 1..max identities, each well-formed, duplicates dropped. -1
 * (fault set) otherwise. */
static int parse_identities(struct protocol_req_msg *msg, struct ident *out, size_t max, size_t *n,
			    struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(msg->op, "updateIds");
	size_t count = 0;

	*n = 0;
	for (const struct protocol_node *x = protocol_req_child(list, "UpdateIdentity"); x != NULL;
	     x = protocol_req_next(x))
		if (++count > max)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
						"updateIds: more than %zu identities", max);
	if (count == 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "updateIds: none given");
	for (const struct protocol_node *x = protocol_req_child(list, "UpdateIdentity"); x != NULL;
	     x = protocol_req_next(x)) {
		char raw[64];
		int64_t rev;
		struct ident id;
		int dup = 0;

		if (protocol_req_child_text(x, "UpdateID", raw, sizeof(raw)) < 0 ||
		    wsus_guid_normalize(raw, id.uid) < 0 ||
		    protocol_req_child_int(x, "RevisionNumber", 0, INT32_MAX, &rev) < 0)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "updateIds");
		id.rev = (int)rev;
		for (size_t i = 0; i < *n && !dup; i++)
			dup = out[i].rev == id.rev && strcmp(out[i].uid, id.uid) == 0;
		if (!dup)
			out[(*n)++] = id;
	}
	return 0;
}

struct file_ref {
	uint8_t sha1[WSUS_SHA1_LEN];
	char   *mu_url;          /* NULL when none */
};

struct file_refs {
	struct file_ref *v;
	size_t n, cap;
};

static void file_refs_free(struct file_refs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].mu_url);
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

static int file_refs_add(struct file_refs *r, const uint8_t sha1[WSUS_SHA1_LEN], const char *mu_url)
{
	struct file_ref *ref;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct file_ref *v = realloc(r->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	ref = &r->v[r->n];
	memcpy(ref->sha1, sha1, WSUS_SHA1_LEN);
	ref->mu_url = NULL;
	if (mu_url != NULL && mu_url[0] != '\0') {
		ref->mu_url = strdup(mu_url);
		if (ref->mu_url == NULL)
			return -ENOMEM;
	}
	r->n++;
	return 0;
}

static int put_url(struct wsus_buf *b, const struct file_ref *ref)
{
	int rc = wsus_buf_appends(b, "<ServerSyncUrlData>");

	if (rc == 0)
		rc = put_digest(b, "FileDigest", ref->sha1);
	/* MUUrl only when the file has one; UssUrl never (MS-WSUSSS <39>). */
	if (rc == 0 && ref->mu_url != NULL)
		rc = put_text(b, "MUUrl", ref->mu_url);
	if (rc == 0)
		rc = wsus_buf_appends(b, "</ServerSyncUrlData>");
	return rc;
}

/* One ServerSyncUpdateData into b; its files are appended to refs. */
static int render_update(struct storage *st, const struct ident *id, struct wsus_buf *b,
			 struct file_refs *refs, struct err *e)
{
	struct storage_update_blob u;
	int rc = storage_update_blob_get(st, id->uid, id->rev, &u, e);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < u.n_files && rc == 0; i++)
		rc = file_refs_add(refs, u.files[i].sha1, u.files[i].mu_url);
	if (rc == 0)
		rc = wsus_buf_appends(b, "<ServerSyncUpdateData>");
	if (rc == 0)
		rc = put_identity(b, "Id", id->uid, id->rev);
	if (rc == 0)
		rc = wsus_buf_appends(b, "<XmlUpdateBlob>");
	if (rc == 0)
		rc = wsus_buf_append_xml_text(b, u.xml, u.len);
	if (rc == 0)
		rc = wsus_buf_appends(b, "</XmlUpdateBlob>");
	if (rc == 0 && u.n_files > 0) {
		rc = wsus_buf_appends(b, "<FileDigestList>");
		for (size_t i = 0; i < u.n_files && rc == 0; i++)
			rc = put_digest(b, "base64Binary", u.files[i].sha1);
		if (rc == 0)
			rc = wsus_buf_appends(b, "</FileDigestList>");
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "</ServerSyncUpdateData>");
	storage_update_blob_free(&u);
	return rc;
}

static int cmp_ref(const void *a, const void *b)
{
	return memcmp(((const struct file_ref *)a)->sha1, ((const struct file_ref *)b)->sha1,
		      WSUS_SHA1_LEN);
}

/* fileUrls: one entry per distinct file of the whole batch. */
static int put_file_urls(struct wsus_buf *out, struct file_refs *all)
{
	int rc = wsus_buf_appends(out, "<fileUrls>");

	if (all->n > 1)
		qsort(all->v, all->n, sizeof(all->v[0]), cmp_ref);
	for (size_t i = 0; i < all->n && rc == 0; i++) {
		/* Of equal digests keep the one that knows an MUUrl. */
		size_t j = i;

		while (j + 1 < all->n && memcmp(all->v[j + 1].sha1, all->v[i].sha1, WSUS_SHA1_LEN) == 0)
			j++;
		for (size_t k = i; k <= j; k++)
			if (all->v[k].mu_url != NULL) {
				rc = put_url(out, &all->v[k]);
				goto next;
			}
		rc = put_url(out, &all->v[i]);
next:
		i = j;
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</fileUrls>");
	return rc;
}

/* What the fileUrls entries of refs can cost at most (before de-duplication). */
static size_t urls_cost(const struct file_refs *refs)
{
	size_t n = 0;

	for (size_t i = 0; i < refs->n; i++)
		n += 80 + (refs->v[i].mu_url ? 6 * strlen(refs->v[i].mu_url) + 16 : 0);
	return n;
}

static int move_refs(struct file_refs *to, struct file_refs *from)
{
	int rc = 0;

	for (size_t i = 0; i < from->n && rc == 0; i++)
		rc = file_refs_add(to, from->v[i].sha1, from->v[i].mu_url);
	file_refs_free(from);
	return rc;
}

struct update_batch {
	struct wsus_buf updates;   /* the ServerSyncUpdateData elements */
	struct file_refs files;    /* every file of the updates taken */
	size_t url_bytes;          /* upper bound of the fileUrls they need */
	size_t taken, unknown, deferred;
};

/* Render as many updates as fit the response budget (MS-WSUSSS <37>), in
 * request order; the first known one always goes, so a DSS always advances. */
static int fill_batch(struct server_req *req, const struct ident *ids, size_t n,
		      struct update_batch *bt, struct server_fault *f)
{
	struct wsus_buf one;
	struct file_refs refs = { 0 };
	struct err e = { 0 };
	int rc = 0;

	wsus_buf_init(&one, WSUS_MAX_UPDATE_XML * 6u + 65536);
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t cost;

		one.len = 0;
		rc = render_update(req->st, &ids[i], &one, &refs, &e);
		if (rc == -ENOENT) {
			log_warn("sss", "GetUpdateData: unknown identity skipped update=%s revision=%d peer=%s",
				 ids[i].uid, ids[i].rev, req->peer[0] ? req->peer : "-");
			bt->unknown++;
			file_refs_free(&refs);
			rc = 0;
			continue;
		}
		if (rc < 0) {
			server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg[0] ? e.msg : "render failed");
			break;
		}
		cost = bt->updates.len + one.len + bt->url_bytes + urls_cost(&refs) + RESPONSE_OVERHEAD;
		if (bt->taken > 0 && cost > SERVER_UPDATE_DATA_BUDGET) {
			bt->deferred = n - i;
			file_refs_free(&refs);
			break;
		}
		bt->url_bytes += urls_cost(&refs);
		rc = wsus_buf_append(&bt->updates, one.data, one.len);
		if (rc == 0)
			rc = move_refs(&bt->files, &refs);
		bt->taken++;
	}
	file_refs_free(&refs);
	wsus_buf_free(&one);
	return rc;
}

static int op_get_update_data(struct server_req *req, struct protocol_req_msg *msg,
			      struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct ident ids[SERVER_MAX_UPDATES_PER_REQUEST];
	struct update_batch bt = { .files = { 0 } };
	size_t n;
	int rc, snap;

	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	if (parse_identities(msg, ids, SERVER_MAX_UPDATES_PER_REQUEST, &n, f) < 0)
		return -1;
	wsus_buf_init(&bt.updates, SERVER_UPDATE_DATA_BUDGET + WSUS_MAX_UPDATE_XML * 6u);
	snap = storage_read_begin(req->st, NULL);
	rc = fill_batch(req, ids, n, &bt, f);
	storage_read_end(req->st, snap);
	if (rc == 0 && bt.taken == 0) {
		/* Windows answers a request for unknown updates this way (and
		 * nothing else: every identity here was unknown). */
		rc = server_fault_set(f, PROTOCOL_ERR_INTERNAL, "no update of the request is in the catalogue");
		goto done;
	}
	if (rc == 0)
		rc = wsus_buf_printf(out, "<GetUpdateDataResponse xmlns=\"%s\"><GetUpdateDataResult><updates>",
				     PROTOCOL_NS_SD);
	if (rc == 0)
		rc = wsus_buf_append(out, bt.updates.data, bt.updates.len);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</updates>");
	if (rc == 0)
		rc = put_file_urls(out, &bt.files);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</GetUpdateDataResult></GetUpdateDataResponse>");
	if (rc == 0)
		log_info("sss", "update data server_id=%s requested=%zu sent=%zu unknown=%zu deferred=%zu bytes=%zu",
			 c.subject, n, bt.taken, bt.unknown, bt.deferred, out->len);
done:
	file_refs_free(&bt.files);
	wsus_buf_free(&bt.updates);
	return rc;
}

static int put_key(const uint8_t sha1[WSUS_SHA1_LEN], const uint8_t *key, size_t key_len, void *ctx)
{
	struct wsus_buf *b = ctx;
	char *b64;
	int rc = wsus_buf_appends(b, "<ServerSyncFileDecryption>");

	if (rc == 0)
		rc = put_digest(b, "FileDigest", sha1);
	if (rc == 0 && key != NULL) {
		b64 = malloc(wsus_b64_encoded_len(key_len) + 1);
		if (b64 == NULL)
			return -ENOMEM;
		wsus_b64_encode(key, key_len, b64);
		rc = wsus_buf_printf(b, "<DecryptionKey>%s</DecryptionKey>", b64);
		free(b64);
	}
	if (rc == 0)
		rc = wsus_buf_appends(b, "</ServerSyncFileDecryption>");
	return rc;
}

static int op_get_update_decryption_data(struct server_req *req, struct protocol_req_msg *msg,
					 struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct ident ids[SERVER_MAX_UPDATES_PER_REQUEST];
	struct err e = { 0 };
	size_t n, mark;
	int rc;

	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	if (parse_identities(msg, ids, SERVER_MAX_UPDATES_PER_REQUEST, &n, f) < 0)
		return -1;
	rc = wsus_buf_printf(out, "<GetUpdateDecryptionDataResponse xmlns=\"%s\">"
			     "<GetUpdateDecryptionDataResult><UpdateFileDecryptionData>", PROTOCOL_NS_SD);
	for (size_t i = 0; i < n && rc == 0; i++) {
		mark = out->len;
		rc = wsus_buf_appends(out, "<ServerSyncUpdateFileDecryption>");
		if (rc == 0)
			rc = put_identity(out, "UpdateId", ids[i].uid, ids[i].rev);
		if (rc == 0)
			rc = wsus_buf_appends(out, "<FileDecryptionData>");
		if (rc == 0)
			rc = storage_revision_keys(req->st, ids[i].uid, ids[i].rev, put_key, out, &e);
		if (rc == -ENOENT) {
			/* Nothing to say about an update we do not have. */
			out->len = mark;
			out->data[mark] = '\0';
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = wsus_buf_appends(out, "</FileDecryptionData></ServerSyncUpdateFileDecryption>");
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</UpdateFileDecryptionData></GetUpdateDecryptionDataResult>"
				      "</GetUpdateDecryptionDataResponse>");
	if (rc < 0 && e.msg[0] != '\0')
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	return rc;
}

/*---- GetDeployments ----*/

static int put_group(const struct storage_group_row *g, void *ctx)
{
	struct wsus_buf *b = ctx;
	int rc = wsus_buf_printf(b, "<ServerSyncTargetGroup><TargetGroupID>%s</TargetGroupID>"
				 "<ParentGroupId>%s</ParentGroupId>", g->group_id,
				 g->parent_id[0] ? g->parent_id : ZERO_GUID);

	if (rc == 0)
		rc = put_text(b, "Name", g->name);
	if (rc == 0)
		rc = wsus_buf_printf(b, "<IsBuiltin>%s</IsBuiltin></ServerSyncTargetGroup>",
				     g->builtin ? "true" : "false");
	return rc;
}

struct deploy_out {
	struct wsus_buf live;   /* ServerSyncDeployment elements */
	struct wsus_buf dead;   /* guid elements */
	size_t n_live, n_dead;
};

static int put_deployment(const struct storage_deployment_row *d, void *ctx)
{
	struct deploy_out *o = ctx;
	char deadline[48], go_live[48];
	struct wsus_buf *b = &o->live;
	int rc;

	if (d->dead) {
		o->n_dead++;
		return wsus_buf_printf(&o->dead, "<guid>%s</guid>", d->deployment_id);
	}
	o->n_live++;
	wire_time(d->deadline, NONE_DEADLINE, deadline);
	wire_time(d->go_live, NONE_GO_LIVE, go_live);
	rc = wsus_buf_printf(b, "<ServerSyncDeployment><UpdateId>%s</UpdateId>"
			     "<RevisionNumber>%d</RevisionNumber><Action>%d</Action>",
			     d->update_id, d->revision, (int)d->action);
	/* Windows always names who approved; ours are local approvals. */
	if (rc == 0)
		rc = put_text(b, "AdminName", d->admin_name[0] ? d->admin_name : "wsus-replica");
	if (rc == 0)
		rc = wsus_buf_printf(b, "<Deadline>%s</Deadline><IsAssigned>%s</IsAssigned>"
				     "<GoLiveTime>%s</GoLiveTime><DeploymentGuid>%s</DeploymentGuid>"
				     "<TargetGroupId>%s</TargetGroupId><DownloadPriority>%d</DownloadPriority>"
				     "</ServerSyncDeployment>",
				     deadline, d->is_assigned ? "true" : "false", go_live, d->deployment_id,
				     d->group_id, d->download_priority >= 1 && d->download_priority <= 3 ?
				     d->download_priority : 2);
	return rc;
}

static int put_guid(const char *id, void *ctx)
{
	return wsus_buf_printf(ctx, "<guid>%s</guid>", id);
}

/* The answer for the window (since, upto], read in one snapshot. */
static int write_deployments(struct server_req *req, int64_t since, const struct storage_anchor *upto,
			     struct wsus_buf *out, struct deploy_out *o, struct err *e)
{
	char anchor[ANCHOR_TEXT_MAX];
	int snap = storage_read_begin(req->st, e), rc;

	anchor_text(upto, anchor);
	rc = wsus_buf_printf(out, "<GetDeploymentsResponse xmlns=\"%s\"><GetDeploymentsResult>"
			     "<Anchor>%s</Anchor><Groups>", PROTOCOL_NS_SD, anchor);
	if (rc == 0)
		rc = storage_group_rows(req->st, put_group, out, e);
	if (rc == 0)
		rc = storage_deployment_changes(req->st, since, upto->n, put_deployment, o, e);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</Groups><Deployments>");
	if (rc == 0)
		rc = wsus_buf_append(out, o->live.data ? o->live.data : "", o->live.len);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</Deployments><DeadDeployments>");
	if (rc == 0)
		rc = wsus_buf_append(out, o->dead.data ? o->dead.data : "", o->dead.len);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</DeadDeployments><HiddenUpdates>");
	if (rc == 0)
		rc = storage_hidden_updates(req->st, put_guid, out, e);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</HiddenUpdates><AcceptedEulas>");
	if (rc == 0)
		rc = storage_accepted_eulas(req->st, put_guid, out, e);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</AcceptedEulas></GetDeploymentsResult></GetDeploymentsResponse>");
	storage_read_end(req->st, snap);
	return rc;
}

static int op_get_deployments(struct server_req *req, struct protocol_req_msg *msg,
			      struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct storage_anchor now, from, upto;
	struct deploy_out o;
	struct err e = { 0 };
	int64_t since;
	int rc, kind = ANCHOR_NONE, sync_kind = ANCHOR_NONE;

	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	rc = anchor_child(req, msg->op, "deploymentAnchor", &kind, &from, f);
	if (rc < 0)
		return rc;
	rc = anchor_child(req, msg->op, "syncAnchor", &sync_kind, &upto, f);
	if (rc < 0)
		return rc;
	if (sync_kind == ANCHOR_NONE)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "syncAnchor");
	rc = current_anchor(req, &now, f);
	if (rc < 0)
		return rc;
	/* The window ends at the catalogue state the DSS has synced, so it never
	 * gets an approval for a revision it has not received yet. A foreign sync
	 * anchor (another server's) ends it now, and a foreign deployment anchor
	 * starts it at the beginning. */
	if (sync_kind != ANCHOR_OURS)
		upto = now;
	since = from.n < upto.n ? from.n : upto.n;

	wsus_buf_init(&o.live, out->max);
	wsus_buf_init(&o.dead, out->max);
	o.n_live = o.n_dead = 0;
	rc = write_deployments(req, since, &upto, out, &o, &e);
	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg[0] ? e.msg : "response too large");
	else
		log_info("sss", "deployments server_id=%s since=%lld upto=%lld live=%zu dead=%zu", c.subject,
			 (long long)since, (long long)upto.n, o.n_live, o.n_dead);
	wsus_buf_free(&o.live);
	wsus_buf_free(&o.dead);
	return rc;
}

/*---- DownloadFiles, GetRelatedRevisionsForUpdates ----*/

/* Append "|digest" to a FileDigestsMissing message while it fits. */
static void note_missing(char *msg, size_t cap, const char *b64, size_t *dropped)
{
	size_t len = strlen(msg);

	if (len + strlen(b64) + 2 > cap) {
		(*dropped)++;
		return;
	}
	snprintf(msg + len, cap - len, "%s%s", len ? "|" : "", b64);
}

static int op_download_files(struct server_req *req, struct protocol_req_msg *msg,
			     struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	const struct protocol_node *list = protocol_req_child(msg->op, "fileDigestList");
	char missing[sizeof(f->message)] = "";
	size_t count = 0, n_missing = 0, dropped = 0, absent = 0;
	struct err e = { 0 };
	int rc;

	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	for (const struct protocol_node *x = protocol_req_child(list, "base64Binary"); x != NULL;
	     x = protocol_req_next(x))
		count++;
	if (count == 0 || count > SERVER_MAX_DIGESTS_PER_DOWNLOAD)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS,
					"fileDigestList: 1 to %d digests", SERVER_MAX_DIGESTS_PER_DOWNLOAD);
	for (const struct protocol_node *x = protocol_req_child(list, "base64Binary"); x != NULL;
	     x = protocol_req_next(x)) {
		uint8_t sha1[WSUS_SHA1_LEN];
		char *text = protocol_req_text(x), b64[32];
		size_t n = 0;
		int present = 0;

		rc = text ? wsus_b64_decode(text, strlen(text), sha1, sizeof(sha1), &n) : -EINVAL;
		free(text);
		if (rc < 0 || n != WSUS_SHA1_LEN)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "fileDigestList");
		wsus_b64_encode(sha1, WSUS_SHA1_LEN, b64);
		rc = storage_file_state(req->st, sha1, &present, &e);
		if (rc == -ENOENT) {
			n_missing++;
			note_missing(missing, sizeof(missing), b64, &dropped);
			continue;
		}
		if (rc < 0) {
			server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
			return rc;
		}
		if (!present) {
			/* The content fetcher picks missing payloads up; nothing to start here. */
			absent++;
			log_info("sss", "downstream asks for a payload not in the store yet digest=%s server_id=%s",
				 b64, c.subject);
		}
	}
	if (n_missing > 0) {
		if (dropped > 0)
			log_warn("sss", "FileDigestsMissing lists %zu of %zu unknown digests (message full)",
				 n_missing - dropped, n_missing);
		return server_fault_set(f, PROTOCOL_ERR_FILE_DIGESTS_MISSING, "%s", missing);
	}
	log_debug("sss", "DownloadFiles server_id=%s digests=%zu absent=%zu", c.subject, count, absent);
	return wsus_buf_printf(out, "<DownloadFilesResponse xmlns=\"%s\" />", PROTOCOL_NS_SD);
}

static int op_get_related_revisions(struct server_req *req, struct protocol_req_msg *msg,
				    struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;

	/* MS-WSUSSS 3.1.4.9: the USS ignores the request. */
	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	return wsus_buf_printf(out, "<GetRelatedRevisionsForUpdatesResponse xmlns=\"%s\">"
			       "<GetRelatedRevisionsForUpdatesResult /></GetRelatedRevisionsForUpdatesResponse>",
			       PROTOCOL_NS_SD);
}

/*---- Ping (IMonitorable, shared with DssAuth and Reporting) ----*/

int server_sss_ping(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		    struct server_fault *f)
{
	char now[40];

	(void)msg;
	(void)f;
	protocol_datetime_format(wsus_now_ms(), now);
	return wsus_buf_printf(out,
			       "<PingResponse xmlns=\"%s\"><PingResult><SuccessFlag>true</SuccessFlag>"
			       "<ServicesTime>%s</ServicesTime><ServicesName>wsus-replica</ServicesName>"
			       "<IsHttps>%s</IsHttps>"
			       "<ConfigFileLastModifiedTime>0001-01-01T00:00:00Z</ConfigFileLastModifiedTime>"
			       "<ConfigFileNextExpirationTime>9999-12-31T23:59:59Z</ConfigFileNextExpirationTime>"
			       "<ConfigFileExpirationModuloInMinutes>0</ConfigFileExpirationModuloInMinutes>"
			       "</PingResult></PingResponse>",
			       PROTOCOL_NS_MONITOR, now, req->tls ? "true" : "false");
}

/*---- The service ----*/

#define SD_ACTION(op) PROTOCOL_NS_SD "/" op

/*---- GetUpdateProvenance (our extension, not in MS-WSUSSS) ----*/

/* One revision's chain as <Revision><UpdateID/><RevisionNumber/><Hop>
 * <Source/><Cert/><Time/></Hop>...</Revision>; absent revisions are left out. */
static int put_chain(struct wsus_buf *out, const struct ident *id, const char *chain)
{
	int rc = wsus_buf_printf(out, "<Revision><UpdateID>%s</UpdateID><RevisionNumber>%d</RevisionNumber>",
				 id->uid, id->rev);

	for (const char *p = chain; rc == 0 && *p != '\0';) {
		const char *nl = strchr(p, '\n'), *t1 = strchr(p, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;

		if (nl == NULL || t1 == NULL || t2 == NULL || t2 > nl)
			break;
		rc = wsus_buf_appends(out, "<Hop><Source>");
		if (rc == 0)
			rc = wsus_buf_append_xml_escaped(out, p, (size_t)(t1 - p));
		if (rc == 0)
			rc = wsus_buf_printf(out, "</Source><Cert>%.*s</Cert><Time>%.*s</Time></Hop>",
					     (int)(t2 - t1 - 1), t1 + 1, (int)(nl - t2 - 1), t2 + 1);
		p = nl + 1;
	}
	return rc == 0 ? wsus_buf_appends(out, "</Revision>") : rc;
}

/* The provenance chains of the asked revisions, for a wsus-replica
 * downstream: same request shape and gate as GetUpdateData. Windows
 * downstreams never call it; nothing in the MS-WSUSSS answers changes. */
static int op_get_update_provenance(struct server_req *req, struct protocol_req_msg *msg,
				    struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	struct ident ids[SERVER_MAX_UPDATES_PER_REQUEST];
	struct err e = { 0 };
	size_t n, sent = 0;
	int rc, snap;

	if (require_cookie(req, msg, &c, f) < 0)
		return -1;
	if (parse_identities(msg, ids, SERVER_MAX_UPDATES_PER_REQUEST, &n, f) < 0)
		return -1;
	rc = wsus_buf_printf(out, "<GetUpdateProvenanceResponse xmlns=\"%s\"><GetUpdateProvenanceResult>",
			     PROTOCOL_NS_PROVENANCE);
	snap = storage_read_begin(req->st, NULL);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *chain = NULL;
		int got = storage_revision_chain(req->st, ids[i].uid, ids[i].rev, &chain, &e);

		if (got == -ENOENT)
			continue;
		rc = got < 0 ? got : put_chain(out, &ids[i], chain);
		sent += rc == 0;
		free(chain);
	}
	storage_read_end(req->st, snap);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</GetUpdateProvenanceResult></GetUpdateProvenanceResponse>");
	if (rc == 0)
		log_info("sss", "provenance server_id=%s requested=%zu sent=%zu", c.subject, n, sent);
	return rc;
}

static const char *const sss_paths[] = {
	"/ServerSyncWebService/ServerSyncWebService.asmx",
	"/ServerSyncWebService/ServerSyncProxy.asmx",   /* the WSDL's soap:address */
	NULL,
};

static const struct server_op sss_ops[] = {
	{ "GetAuthConfig", SD_ACTION("GetAuthConfig"), op_get_auth_config, 1, &server_limits_small },
	{ "GetCookie", SD_ACTION("GetCookie"), op_get_cookie, 1, &server_limits_small },
	{ "GetConfigData", SD_ACTION("GetConfigData"), op_get_config_data, 1, &server_limits_small },
	{ "GetRevisionIdList", SD_ACTION("GetRevisionIdList"), op_get_revision_id_list, 1,
	  &server_limits_medium },
	{ "GetUpdateData", SD_ACTION("GetUpdateData"), op_get_update_data, 1, &server_limits_small },
	{ "GetUpdateDecryptionData", SD_ACTION("GetUpdateDecryptionData"), op_get_update_decryption_data, 1,
	  &server_limits_small },
	{ "GetDeployments", SD_ACTION("GetDeployments"), op_get_deployments, 1, &server_limits_small },
	{ "DownloadFiles", SD_ACTION("DownloadFiles"), op_download_files, 1, &server_limits_medium },
	{ "GetRelatedRevisionsForUpdates", SD_ACTION("GetRelatedRevisionsForUpdates"),
	  op_get_related_revisions, 1, &server_limits_small },
	{ "Ping", PROTOCOL_NS_MONITOR "/Ping", server_sss_ping, 1, &server_limits_small },
	{ "GetUpdateProvenance", PROTOCOL_NS_PROVENANCE "/GetUpdateProvenance", op_get_update_provenance, 1,
	  &server_limits_small },
};

const struct server_service server_sss_service = {
	.paths = sss_paths,
	.ops = sss_ops,
	.n_ops = sizeof(sss_ops) / sizeof(sss_ops[0]),
	.downstream_only = 1,
};
