/*
 * server_dssauth.c -- DssAuthWebService (MS-WSUSSS 3.1.4.2): where a
 * downstream server first becomes known. GetAuthorizationCookie checks the
 * name and GUID it announces, records it in the DSS table and hands back a
 * sealed authorisation cookie that only GetCookie accepts. Responses are in
 * the DssAuth namespace; nothing here allocates for the caller.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DSS_NAME_MAX 255     /* RFC 1035: a whole domain name */

/* Ping is shared by the three upstream services; defined in server_sss.c. */
int server_sss_ping(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		    struct server_fault *f);

/* A host name as RFC 1035 2.3 spells it: letters, digits and hyphens in
 * dot-separated labels of 1-63 characters. A trailing dot is allowed. */
static int fqdn_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > DSS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;  /* leading or doubled dot */
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

static int op_get_authorization_cookie(struct server_req *req, struct protocol_req_msg *msg,
				       struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	char name[DSS_NAME_MAX + 2], guid[WSUS_GUID_LEN], raw[128];
	char *sealed = NULL;
	struct err e = { 0 };
	int64_t now = wsus_now_ms();
	int rc;

	/* programKeys is "reserved, empty": whatever it holds is ignored. */
	if (protocol_req_child_text(msg->op, "accountName", name, sizeof(name)) < 0 ||
	    !fqdn_valid(name))
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "accountName");
	if (protocol_req_child_text(msg->op, "accountGuid", raw, sizeof(raw)) < 0 ||
	    wsus_guid_normalize(raw, guid) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "accountGuid");

	rc = storage_dss_auth(req->st, guid, name, req->peer, req->client_fp, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	memset(&c, 0, sizeof(c));
	c.kind = SERVER_COOKIE_DSS_AUTH;
	snprintf(c.subject, sizeof(c.subject), "%s", guid);
	memcpy(c.server_id, req->srv->server_id, WSUS_GUID_LEN);
	c.issued_ms = now;
	c.expires_ms = now + SERVER_AUTH_COOKIE_TTL_MS;
	rc = server_cookie_seal(req->srv->cookie_key, &c, &sealed, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		return rc;
	}
	rc = wsus_buf_printf(out,
			     "<GetAuthorizationCookieResponse xmlns=\"%s\"><GetAuthorizationCookieResult>"
			     "<PlugInId>DssTargeting</PlugInId><CookieData>%s</CookieData>"
			     "</GetAuthorizationCookieResult></GetAuthorizationCookieResponse>",
			     PROTOCOL_NS_DSSAUTH, sealed);
	free(sealed);
	if (rc == 0)
		log_info("sss", "downstream server authorised server_id=%s name=%s peer=%s", guid, name,
			 req->peer[0] != '\0' ? req->peer : "-");
	return rc;
}

static const char *const dssauth_paths[] = {
	"/DssAuthWebService/DssAuthWebService.asmx",
	NULL,
};

static const struct server_op dssauth_ops[] = {
	{ "GetAuthorizationCookie", PROTOCOL_NS_DSSAUTH "/GetAuthorizationCookie",
	  op_get_authorization_cookie, 1, &server_limits_small },
	{ "Ping", PROTOCOL_NS_MONITOR "/Ping", server_sss_ping, 1, &server_limits_small },
};

const struct server_service server_dssauth_service = {
	.paths = dssauth_paths,
	.ops = dssauth_ops,
	.n_ops = sizeof(dssauth_ops) / sizeof(dssauth_ops[0]),
	.downstream_only = 1,
};
