/*
 * sync_call.c -- one SOAP request to the upstream, as a DSS makes it: the
 * envelope (SOAP 1.1, what Windows servers speak), the cookie every
 * ServerSync operation carries, and the fault reactions of MS-WSUSSS 2.2.9.3
 * and 3.2.4 (re-authorise on InvalidCookie, back off on ServerBusy, start
 * again on ServerChanged, stop on anything else). Also the authorisation
 * itself (GetAuthConfig, GetAuthorizationCookie, GetCookie). Every request
 * goes through sync_http, which owns the trust decisions. The caller frees a
 * parsed answer with protocol_soap_msg_free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "sync_int.h"
#include "sync_phase.h"

#define DUMMY_COOKIE "<cookie><Expiration>9999-12-31T23:59:59.9999999</Expiration><EncryptedData /></cookie>"
#define SERVICE_URL_MAX 256

/*---- Request bodies ----*/

int sync_xml_text(struct wsus_buf *b, const char *name, const char *text)
{
	int rc = wsus_buf_printf(b, "<%s>", name);

	if (rc == 0)
		rc = wsus_buf_append_xml_escaped(b, text, strlen(text));
	if (rc == 0)
		rc = wsus_buf_printf(b, "</%s>", name);
	return rc;
}

int sync_xml_identity(struct wsus_buf *b, const char *wrapper, const struct sync_id *id)
{
	return wsus_buf_printf(b, "<%s><UpdateID>%s</UpdateID><RevisionNumber>%d</RevisionNumber></%s>",
			       wrapper, id->uid, id->rev, wrapper);
}

static const char *service_ns(enum sync_service svc)
{
	return svc == SYNC_SVC_AUTH ? PROTOCOL_NS_DSSAUTH : PROTOCOL_NS_SD;
}

static const char *service_url(const struct sync_ctx *c, enum sync_service svc)
{
	switch (svc) {
	case SYNC_SVC_AUTH:   return c->auth_url;
	case SYNC_SVC_REPORT: return c->report_url;
	default:              return c->sss_url;
	}
}

static int envelope(const struct sync_ctx *c, enum sync_service svc, const char *op, const char *args,
		    unsigned flags, struct wsus_buf *b)
{
	int rc = wsus_buf_printf(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
				 "<soap:Envelope xmlns:soap=\"%s\"><soap:Body><%s xmlns=\"%s\">",
				 PROTOCOL_NS_SOAP11, op, service_ns(svc));

	if (rc == 0 && (flags & SYNC_CALL_COOKIE)) {
		rc = wsus_buf_appends(b, "<cookie>");
		if (rc == 0)
			rc = sync_xml_text(b, "Expiration", c->cookie_exp);
		if (rc == 0)
			rc = sync_xml_text(b, "EncryptedData", c->cookie ? c->cookie : "");
		if (rc == 0)
			rc = wsus_buf_appends(b, "</cookie>");
	}
	if (rc == 0 && (flags & SYNC_CALL_DUMMY_COOKIE))
		rc = wsus_buf_appends(b, DUMMY_COOKIE);
	if (rc == 0 && args != NULL)
		rc = wsus_buf_appends(b, args);
	if (rc == 0)
		rc = wsus_buf_printf(b, "</%s></soap:Body></soap:Envelope>", op);
	return rc;
}

/*---- Faults ----*/

static xmlNodePtr first_of(xmlNodePtr parent, const char *a, const char *b)
{
	xmlNodePtr n = protocol_soap_child(parent, a);

	return n != NULL ? n : protocol_soap_child(parent, b);
}

int sync_fault_parse(const char *body, size_t len, char *code, size_t code_cap, char *msg,
		     size_t msg_cap)
{
	struct protocol_soap_msg m;
	xmlNodePtr detail, reason;
	int rc;

	code[0] = '\0';
	msg[0] = '\0';
	rc = protocol_soap_parse(body, len, &m, NULL);
	if (rc < 0)
		return rc;
	if (strcmp(m.op_name, "Fault") != 0) {
		protocol_soap_msg_free(&m);
		return -EINVAL;
	}
	/* SOAP 1.1: detail; SOAP 1.2: an unqualified Detail (MS-WSUSSS trap 8). */
	detail = first_of(m.op, "detail", "Detail");
	if (protocol_soap_child_text(detail, "ErrorCode", code, code_cap) < 0)
		code[0] = '\0';
	if (protocol_soap_child_text(detail, "Message", msg, msg_cap) < 0 || msg[0] == '\0') {
		reason = protocol_soap_child(m.op, "Reason");
		if (protocol_soap_child_text(reason ? reason : m.op, reason ? "Text" : "faultstring", msg,
					     msg_cap) < 0)
			msg[0] = '\0';
	}
	protocol_soap_msg_free(&m);
	return 0;
}

/* Printable for a log line: control characters become '?'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int fault_error(struct sync_ctx *c, const char *op, struct err *e)
{
	sanitize(c->fault_msg);
	if (c->fault[0] == '\0')
		return err_set(e, -EPROTO, "upstream answered %s with a SOAP fault without ErrorCode: %s",
			       op, c->fault_msg[0] ? c->fault_msg : "(no message)");
	return err_set(e, -EPROTO, "upstream answered %s with %s%s%s", op, c->fault,
		       c->fault_msg[0] ? ": " : "", c->fault_msg);
}

/*---- The call ----*/

static int cookie_fresh(const struct sync_ctx *c)
{
	return c->authorised && c->cookie != NULL && c->cookie_exp_ms - wsus_now_ms() > SYNC_COOKIE_MARGIN_MS;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One POST; 0 with resp parsed (the op's response), -EPROTO for a fault. */
static int post_once(struct sync_ctx *c, enum sync_service svc, const char *op, const char *args,
		     unsigned flags, struct protocol_soap_msg *resp, struct err *e)
{
	struct wsus_buf req, out;
	char action[256], want[96];
	long status = 0;
	int rc;

	wsus_buf_init(&req, SYNC_MAX_SOAP_RESPONSE);
	wsus_buf_init(&out, SYNC_MAX_SOAP_RESPONSE);
	c->fault[0] = '\0';
	c->fault_msg[0] = '\0';
	rc = envelope(c, svc, op, args, flags, &req);
	if (rc < 0) {
		err_set(e, rc, "%s request too large", op);
		goto out;
	}
	snprintf(action, sizeof(action), "%s/%s", service_ns(svc), op);
	if (c->post != NULL)
		rc = c->post(c->post_ctx, service_url(c, svc), action, req.data, req.len, &status, &out, e);
	else
		rc = sync_http_post_soap(c->http, service_url(c, svc), action, req.data, req.len, &status, &out, e);
	if (rc < 0)
		goto out;
	if (status == 500) {
		sync_fault_parse(out.data, out.len, c->fault, sizeof(c->fault), c->fault_msg,
				 sizeof(c->fault_msg));
		rc = fault_error(c, op, e);
		goto out;
	}
	rc = protocol_soap_parse(out.data, out.len, resp, e);
	if (rc < 0) {
		err_prefix(e, "upstream answer to %s", op);
		goto out;
	}
	snprintf(want, sizeof(want), "%sResponse", op);
	if (strcmp(resp->op_name, want) != 0) {
		rc = err_set(e, -EPROTO, "upstream answered %s with <%s>, not <%s>", op, resp->op_name, want);
		protocol_soap_msg_free(resp);
	}
out:
	wsus_buf_free(&req);
	wsus_buf_free(&out);
	return rc;
}

static int is_fault(const struct sync_ctx *c, const char *code)
{
	return strcmp(c->fault, code) == 0;
}

int sync_call(struct sync_ctx *c, enum sync_service svc, const char *op, const char *args,
	      unsigned flags, struct protocol_soap_msg *resp, struct err *e)
{
	int rc, reauth = 0, busy = 0;
	uint32_t rnd;

	memset(resp, 0, sizeof(*resp));
	for (;;) {
		rc = sync_check_cancel(c, e);
		if (rc < 0)
			return rc;
		/* Never send an expired cookie (3.2.4.1): renew it shortly before. */
		if ((flags & SYNC_CALL_COOKIE) && !cookie_fresh(c)) {
			rc = sync_auth(c, e);
			if (rc < 0)
				return rc;
		}
		rc = post_once(c, svc, op, args, flags, resp, e);
		if (rc == 0 && (reauth || busy))
			err_clear(e);   /* what was retried is no longer an error */
		if (rc != -EPROTO || c->fault[0] == '\0')
			return rc;
		if ((flags & SYNC_CALL_COOKIE) && !reauth &&
		    (is_fault(c, "InvalidCookie") || is_fault(c, "InvalidAuthorizationCookie"))) {
			log_warn("sync", "upstream refused the cookie op=%s fault=%s: authorising again",
				 op, c->fault);
			c->authorised = 0;
			reauth = 1;
			continue;
		}
		if (is_fault(c, "ServerBusy") && busy < SYNC_BUSY_RETRIES) {
			if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
				rnd = (uint32_t)time(NULL);
			busy++;
			log_warn("sync", "upstream is busy op=%s attempt=%d: backing off", op, busy);
			sleep_ms(sync_backoff_ms(busy, rnd));
			continue;
		}
		if (is_fault(c, "ServerChanged"))
			c->server_changed = 1;
		return rc;
	}
}

xmlNodePtr sync_call_result(const struct protocol_soap_msg *resp, const char *op)
{
	char name[96];

	snprintf(name, sizeof(name), "%sResult", op);
	return protocol_soap_child(resp->op, name);
}

/*---- Authorisation (MS-WSUSSS 3.2.4.1) ----*/

/* The DssAuth path GetAuthConfig names, joined to the upstream's base: a
 * relative path of plain characters only, so that the upstream cannot send
 * us elsewhere (or to another scheme) with it. */
static int auth_url_from(struct sync_ctx *c, const char *service_url, struct err *e)
{
	size_t n = strlen(service_url);

	if (n == 0 || n > SERVICE_URL_MAX || service_url[0] == '/' || strstr(service_url, "..") != NULL)
		return err_set(e, -EPROTO, "GetAuthConfig names an unusable DssAuth ServiceUrl '%.80s'",
			       service_url);
	for (size_t i = 0; i < n; i++) {
		char ch = service_url[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '/' || ch == '.' || ch == '_' || ch == '-'))
			return err_set(e, -EPROTO, "GetAuthConfig names an unusable DssAuth ServiceUrl '%.80s'",
				       service_url);
	}
	if (sync_url_join(c->base, service_url, c->auth_url, sizeof(c->auth_url)) < 0)
		return err_set(e, -E2BIG, "DssAuth URL too long");
	return 0;
}

static int get_auth_config(struct sync_ctx *c, struct err *e)
{
	struct protocol_soap_msg m;
	xmlNodePtr info, res;
	char url[SERVICE_URL_MAX + 2], plugin[64];
	int rc = sync_call(c, SYNC_SVC_SSS, "GetAuthConfig", NULL, 0, &m, e);

	if (rc < 0)
		return rc;
	res = sync_call_result(&m, "GetAuthConfig");
	/* Exactly one plug-in, DssTargeting (3.1.4.1); take the first DssTargeting. */
	for (info = protocol_soap_child(protocol_soap_child(res, "AuthInfo"), "AuthPlugInInfo");
	     info != NULL; info = protocol_soap_next(info)) {
		if (protocol_soap_child_text(info, "PlugInID", plugin, sizeof(plugin)) == 0 &&
		    strcasecmp(plugin, "DssTargeting") == 0)
			break;
	}
	if (info == NULL || protocol_soap_child_text(info, "ServiceUrl", url, sizeof(url)) < 0)
		rc = err_set(e, -EPROTO, "GetAuthConfig answer has no DssTargeting plug-in with a ServiceUrl");
	else
		rc = auth_url_from(c, url, e);
	protocol_soap_msg_free(&m);
	return rc;
}

static int get_authorization_cookie(struct sync_ctx *c, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf args;
	char *data = NULL;
	int rc;

	wsus_buf_init(&args, 4096);
	rc = sync_xml_text(&args, "accountName", c->account);
	if (rc == 0)
		rc = sync_xml_text(&args, "accountGuid", c->server_id);
	if (rc < 0) {
		wsus_buf_free(&args);
		return err_set(e, rc, "GetAuthorizationCookie request too large");
	}
	rc = sync_call(c, SYNC_SVC_AUTH, "GetAuthorizationCookie", args.data, 0, &m, e);
	wsus_buf_free(&args);
	if (rc < 0)
		return rc;
	data = protocol_soap_text(protocol_soap_child(sync_call_result(&m, "GetAuthorizationCookie"),
						      "CookieData"));
	protocol_soap_msg_free(&m);
	if (data == NULL || data[0] == '\0') {
		free(data);
		return err_set(e, -EPROTO, "GetAuthorizationCookie answer has no CookieData");
	}
	free(c->auth_cookie);
	c->auth_cookie = data;
	return 0;
}

static int get_cookie(struct sync_ctx *c, struct err *e)
{
	struct protocol_soap_msg m;
	struct wsus_buf args;
	xmlNodePtr res;
	char *data;
	int rc;

	wsus_buf_init(&args, 1u << 20);
	rc = wsus_buf_appends(&args, "<authCookies><AuthorizationCookie><PlugInId>DssTargeting</PlugInId>");
	if (rc == 0)
		rc = sync_xml_text(&args, "CookieData", c->auth_cookie);
	if (rc == 0)
		rc = wsus_buf_appends(&args, "</AuthorizationCookie></authCookies>");
	if (rc == 0)
		rc = sync_xml_text(&args, "protocolVersion", SYNC_PROTOCOL_VERSION);
	if (rc < 0) {
		wsus_buf_free(&args);
		return err_set(e, rc, "GetCookie request too large");
	}
	rc = sync_call(c, SYNC_SVC_SSS, "GetCookie", args.data, 0, &m, e);
	wsus_buf_free(&args);
	if (rc < 0)
		return rc;
	res = sync_call_result(&m, "GetCookie");
	data = protocol_soap_text(protocol_soap_child(res, "EncryptedData"));
	if (data == NULL || data[0] == '\0' ||
	    protocol_soap_child_text(res, "Expiration", c->cookie_exp, sizeof(c->cookie_exp)) < 0 ||
	    protocol_datetime_parse(c->cookie_exp, &c->cookie_exp_ms) < 0) {
		free(data);
		protocol_soap_msg_free(&m);
		return err_set(e, -EPROTO, "GetCookie answer has no usable Cookie (EncryptedData, Expiration)");
	}
	protocol_soap_msg_free(&m);
	free(c->cookie);
	c->cookie = data;
	/* An expiry already (nearly) past on our clock is clock skew or a very
	 * short life: use the cookie for a while anyway, InvalidCookie tells us
	 * when the upstream stops taking it. */
	if (c->cookie_exp_ms - wsus_now_ms() <= 3 * SYNC_COOKIE_MARGIN_MS) {
		log_warn("sync", "upstream cookie expires %s, within minutes by our clock (skew?)", c->cookie_exp);
		c->cookie_exp_ms = wsus_now_ms() + 3 * SYNC_COOKIE_MARGIN_MS;
	}
	return 0;
}

int sync_auth(struct sync_ctx *c, struct err *e)
{
	int rc;

	c->authorised = 0;
	rc = get_auth_config(c, e);
	if (rc == 0)
		rc = get_authorization_cookie(c, e);
	if (rc == 0)
		rc = get_cookie(c, e);
	if (rc < 0)
		return rc;
	c->authorised = 1;
	log_info("sync", "phase=auth account=%s server_id=%s cookie_expires=%s", c->account, c->server_id,
		 c->cookie_exp);
	return 0;
}
