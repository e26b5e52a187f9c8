/*
 * server_simpleauth.c -- SimpleAuthWebService (MS-WUSP 3.1.5.3): the one
 * operation a Windows client calls to be authorised, GetAuthorizationCookie.
 * The answer is an AuthorizationCookie whose CookieData is sealed with the
 * server key: the clientId as subject and the target group names the client
 * asked for (client-side targeting), ';'-separated as Group Policy writes
 * them. Nothing is stored here; RegisterComputer records the computer.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_ID        "SimpleTargeting"
#define CLIENT_ID_MAX    255
#define DNS_NAME_MAX     255

/* ClientIdString (2.2.3.1): 1-255 of a-z, 0-9 and '-'. Windows sends a
 * GUID; upper case is accepted and folded, as GUIDs travel in both cases. */
static int client_id_norm(const char *in, char out[CLIENT_ID_MAX + 1])
{
	size_t n = strlen(in);

	if (n == 0 || n > CLIENT_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return -EINVAL;
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

/* A host name: labels of letters, digits, '-' and '_' (NetBIOS-derived
 * names carry it) separated by dots. */
static int dns_name_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > DNS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

/* The requested group names, trimmed, empty ones dropped, joined with ';'.
 * -E2BIG when they do not fit a cookie, -EINVAL on a control character. */
static int groups_norm(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = in;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ';'), *q = end ? end : p + strlen(p);

		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		for (const char *c = p; c < q; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return -EINVAL;
		if (q > p) {
			size_t n = (size_t)(q - p);

			if (o + (o ? 1 : 0) + n >= cap)
				return -E2BIG;
			if (o)
				out[o++] = ';';
			memcpy(out + o, p, n);
			o += n;
			out[o] = '\0';
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static int op_get_authorization_cookie(struct server_req *req, struct protocol_req_msg *msg,
				       struct wsus_buf *out, struct server_fault *f)
{
	struct server_cookie_claims c;
	char *id_text, *dns_text, *groups_text, *sealed = NULL;
	struct err e = { 0 };
	int64_t now = wsus_now_ms();
	int rc;

	memset(&c, 0, sizeof(c));
	id_text = protocol_req_text(protocol_req_child(msg->op, "clientId"));
	dns_text = protocol_req_text(protocol_req_child(msg->op, "dnsName"));
	groups_text = protocol_req_text(protocol_req_child(msg->op, "targetGroupName"));
	/* Windows servers answer a bad clientId or dnsName with InternalServerError
	 * (<50>, <51>); so do we, with the reason in Message. */
	if (id_text == NULL || client_id_norm(id_text, c.subject) < 0) {
		rc = server_fault_set(f, PROTOCOL_ERR_INTERNAL, "clientId is not a valid client id");
		goto done;
	}
	server_req_computer(req, c.subject);
	if (dns_text == NULL || !dns_name_ok(dns_text)) {
		rc = server_fault_set(f, PROTOCOL_ERR_INTERNAL, "dnsName is not a valid host name");
		goto done;
	}
	rc = groups_norm(groups_text ? groups_text : "", c.groups, sizeof(c.groups));
	if (rc < 0) {
		rc = server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "targetGroupName");
		goto done;
	}
	c.kind = SERVER_COOKIE_CLIENT_AUTH;
	memcpy(c.server_id, req->srv->server_id, WSUS_GUID_LEN);
	c.issued_ms = now;
	c.expires_ms = now + SERVER_AUTH_COOKIE_TTL_MS;
	rc = server_cookie_seal(req->srv->cookie_key, &c, &sealed, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		goto done;
	}
	rc = wsus_buf_printf(out,
			     "<GetAuthorizationCookieResponse xmlns=\"%s\"><GetAuthorizationCookieResult>"
			     "<PlugInId>" PLUGIN_ID "</PlugInId><CookieData>%s</CookieData>"
			     "</GetAuthorizationCookieResult></GetAuthorizationCookieResponse>",
			     PROTOCOL_NS_SIMPLEAUTH, sealed);
	log_debug("client", "authorization cookie client_id=%s groups=\"%s\"", c.subject, c.groups);
done:
	free(sealed);
	free(id_text);
	free(dns_text);
	free(groups_text);
	return rc;
}

static const char *const simpleauth_paths[] = {
	"/SimpleAuthWebService/SimpleAuth.asmx",
	NULL,
};

static const struct server_op simpleauth_ops[] = {
	{ "GetAuthorizationCookie", PROTOCOL_NS_SIMPLEAUTH "/GetAuthorizationCookie",
	  op_get_authorization_cookie, 0, &server_limits_small },
};

const struct server_service server_simpleauth_service = {
	.paths = simpleauth_paths,
	.ops = simpleauth_ops,
	.n_ops = sizeof(simpleauth_ops) / sizeof(simpleauth_ops[0]),
	.downstream_only = 0,
};
