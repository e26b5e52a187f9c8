/*
 * test_server_soap.c -- server_soap_dispatch and server_fault_set against a
 * fake service of a few operations.
 * Groups: 1 success (SOAP 1.1 and 1.2 envelopes around the handler output),
 *         2 faults (unknown operation, handler fault, handler failure,
 *           malformed requests): always HTTP 500 and a parseable envelope,
 *         3 SOAPAction only a hint, the fault's actor and Method, the log line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server_int.h"

#define NS_TEST "urn:test"

/*---- the fake service ----*/

static int calls;

static int op_echo(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		   struct server_fault *f)
{
	char value[64];

	(void)req;
	calls++;
	if (protocol_req_child_text(msg->op, "value", value, sizeof(value)) < 0)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "value");
	if (wsus_buf_appends(out, "<EchoResponse xmlns=\"" NS_TEST "\"><EchoResult>") < 0 ||
	    wsus_buf_append_xml_escaped(out, value, strlen(value)) < 0 ||
	    wsus_buf_appends(out, "</EchoResult></EchoResponse>") < 0)
		return -ENOMEM;
	return 0;
}

static int op_refuse(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		     struct server_fault *f)
{
	(void)req;
	(void)msg;
	calls++;
	wsus_buf_appends(out, "<RefuseResponse xmlns=\"" NS_TEST "\"><Partial>");
	return server_fault_set(f, PROTOCOL_ERR_INVALID_COOKIE, "cookie %s <gone> & \"done\"", "x");
}

static int op_broken(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		     struct server_fault *f)
{
	(void)req;
	(void)msg;
	calls++;
	wsus_buf_appends(out, "<BrokenResponse xmlns=\"" NS_TEST "\"><Partial>");
	snprintf(f->message, sizeof(f->message), "database /secret/path locked");
	return -EIO;
}

static int op_positive(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		       struct server_fault *f)
{
	(void)req;
	(void)msg;
	(void)out;
	(void)f;
	calls++;
	return 1;
}

static const struct server_op test_ops[] = {
	{ "Echo", NS_TEST "/Echo", op_echo, 0, NULL },
	{ "Refuse", NS_TEST "/Refuse", op_refuse, 0, NULL },
	{ "Broken", NS_TEST "/Broken", op_broken, 0, NULL },
	{ "Positive", NS_TEST "/Positive", op_positive, 0, NULL },
};
static const char *const test_paths[] = { "/Test/Test.asmx", NULL };
static const struct server_service test_service = {
	.paths = test_paths,
	.ops = test_ops,
	.n_ops = sizeof(test_ops) / sizeof(test_ops[0]),
};

/*---- helpers ----*/

static const char env11[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\""
			    PROTOCOL_NS_SOAP11 "\"><soap:Body>";
static const char env12[] = "<env:Envelope xmlns:env=\"" PROTOCOL_NS_SOAP12 "\"><env:Body>";

static char *request(int v12, const char *op_xml)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 1 << 20);
	assert_int_equal(wsus_buf_printf(&b, "%s%s%s", v12 ? env12 : env11, op_xml,
					 v12 ? "</env:Body></env:Envelope>" : "</soap:Body></soap:Envelope>"),
			 0);
	return wsus_buf_steal(&b, NULL);
}

static void init_req(struct server_req *req, const char *body)
{
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->path = "/Test/Test.asmx";
	req->body = body;
	req->body_len = body ? strlen(body) : 0;
	snprintf(req->peer, sizeof(req->peer), "192.0.2.7");
	req->tls = 1;
}

/* Captures the log into a temporary file for one dispatch. */
struct logcap {
	FILE *f;
	char text[8192];
};

static void log_begin(struct logcap *lc)
{
	lc->f = tmpfile();
	assert_non_null(lc->f);
	log_set_stream(lc->f);
}

static void log_end(struct logcap *lc)
{
	size_t n;

	fflush(lc->f);
	rewind(lc->f);
	n = fread(lc->text, 1, sizeof(lc->text) - 1, lc->f);
	lc->text[n] = '\0';
	fclose(lc->f);
	log_set_stream(NULL);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void dispatch(struct server_req *req, struct server_resp *resp, struct logcap *lc)
{
	log_begin(lc);
	server_soap_dispatch(req, &test_service, resp);
	log_end(lc);
}

/* Text of the first element named local (any namespace) under n, or NULL. */
static char *find_text(xmlNodePtr n, const char *local)
{
	for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next) {
		char *t;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, local) == 0) {
			xmlChar *x = xmlNodeGetContent(c);

			t = strdup(x ? (const char *)x : "");
			xmlFree(x);
			return t;
		}
		t = find_text(c, local);
		if (t != NULL)
			return t;
	}
	return NULL;
}

/* The response parses as a SOAP envelope of version v whose Body holds a
 * Fault; returns the parsed message for further checks. */
static void expect_fault(const struct server_resp *resp, enum protocol_soap_version v,
			 struct protocol_soap_msg *m)
{
	struct err e = { 0 };

	assert_int_equal(resp->status, 500);
	assert_string_equal(resp->content_type, protocol_soap_content_type(v));
	if (protocol_soap_parse(resp->body.data, resp->body.len, m, &e) != 0)
		fail_msg("fault does not parse: %s\n%s", e.msg, resp->body.data);
	assert_int_equal(m->version, v);
	assert_string_equal(m->op_name, "Fault");
}

static void expect_error_code(const struct protocol_soap_msg *m, const char *code)
{
	char *t = find_text(m->op, "ErrorCode");

	if (code == NULL) {
		assert_null(t);
		return;
	}
	assert_non_null(t);
	assert_string_equal(t, code);
	free(t);
}

/*---- 1 success ----*/

/* 1.1 SOAP 1.1: the handler's element is wrapped in our envelope, HTTP 200,
 * text/xml, no log line */
static void test_success_soap11(void **state)
{
	struct server_req req;
	struct server_resp resp;
	struct protocol_soap_msg m;
	struct logcap lc;
	struct err e = { 0 };
	char *body = request(0, "<Echo xmlns=\"" NS_TEST "\"><value> a&amp;b </value></Echo>"), *t;

	(void)state;
	init_req(&req, body);
	calls = 0;
	dispatch(&req, &resp, &lc);
	assert_int_equal(calls, 1);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/xml; charset=utf-8");
	assert_true(strncmp(resp.body.data, "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope", 52) == 0);
	assert_non_null(strstr(resp.body.data, "<soap:Body><EchoResponse xmlns=\"" NS_TEST
					       "\"><EchoResult>a&amp;b</EchoResult></EchoResponse></soap:Body></soap:Envelope>"));
	assert_int_equal(protocol_soap_parse(resp.body.data, resp.body.len, &m, &e), 0);
	assert_int_equal(m.version, PROTOCOL_SOAP11);
	assert_string_equal(m.op_name, "EchoResponse");
	t = find_text(m.op, "EchoResult");
	assert_string_equal(t, "a&b");
	free(t);
	assert_string_equal(lc.text, "");
	protocol_soap_msg_free(&m);
	wsus_buf_free(&resp.body);
	free(body);
}

/* 1.2 SOAP 1.2 request: SOAP 1.2 envelope and content type back */
static void test_success_soap12(void **state)
{
	struct server_req req;
	struct server_resp resp;
	struct protocol_soap_msg m;
	struct logcap lc;
	struct err e = { 0 };
	char *body = request(1, "<Echo xmlns=\"" NS_TEST "\"><value>v</value></Echo>");

	(void)state;
	init_req(&req, body);
	dispatch(&req, &resp, &lc);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/soap+xml; charset=utf-8");
	assert_int_equal(protocol_soap_parse(resp.body.data, resp.body.len, &m, &e), 0);
	assert_int_equal(m.version, PROTOCOL_SOAP12);
	assert_string_equal(m.op_name, "EchoResponse");
	protocol_soap_msg_free(&m);
	wsus_buf_free(&resp.body);
	free(body);
}

/*---- 2 faults ----*/

/* 2.1 an unknown body element, or a known one in the wrong case, is a plain
 * fault without ErrorCode, in the request's SOAP version; no handler runs */
static void test_unknown_operation(void **state)
{
	static const char *const ops[] = { "<Frob xmlns=\"" NS_TEST "\"/>", "<echo xmlns=\"" NS_TEST "\"/>" };

	(void)state;
	for (int v12 = 0; v12 <= 1; v12++) {
		for (size_t i = 0; i < 2; i++) {
			struct server_req req;
			struct server_resp resp;
			struct protocol_soap_msg m;
			struct logcap lc;
			char *body = request(v12, ops[i]);

			init_req(&req, body);
			calls = 0;
			dispatch(&req, &resp, &lc);
			assert_int_equal(calls, 0);
			expect_fault(&resp, v12 ? PROTOCOL_SOAP12 : PROTOCOL_SOAP11, &m);
			expect_error_code(&m, NULL);
			assert_non_null(strstr(resp.body.data, i == 0 ? "Unknown operation Frob"
								      : "Unknown operation echo"));
			assert_int_equal(count_lines(lc.text), 1);
			assert_non_null(strstr(lc.text, i == 0 ? "warn soap fault op=Frob code=UnknownOperation "
								   "peer=192.0.2.7 msg=\""
								 : "warn soap fault op=echo code=UnknownOperation"));
			protocol_soap_msg_free(&m);
			wsus_buf_free(&resp.body);
			free(body);
		}
	}
}

/* 2.2 a handler fault: its ErrorCode and escaped message, its partial
 * output discarded, the op's action quoted in Method, one log line */
static void test_handler_fault(void **state)
{
	struct server_req req;
	struct server_resp resp;
	struct protocol_soap_msg m;
	struct logcap lc;
	char *body = request(0, "<Refuse xmlns=\"" NS_TEST "\"/>"), *t;

	(void)state;
	init_req(&req, body);
	dispatch(&req, &resp, &lc);
	expect_fault(&resp, PROTOCOL_SOAP11, &m);
	expect_error_code(&m, "InvalidCookie");
	t = find_text(m.op, "Message");
	assert_string_equal(t, "cookie x <gone> & \"done\"");
	free(t);
	t = find_text(m.op, "Method");
	assert_string_equal(t, "\"" NS_TEST "/Refuse\"");
	free(t);
	t = find_text(m.op, "faultcode");
	assert_string_equal(t, "soap:Client");
	free(t);
	assert_null(strstr(resp.body.data, "Partial"));
	assert_null(strstr(resp.body.data, "RefuseResponse"));
	assert_int_equal(count_lines(lc.text), 1);
	assert_non_null(strstr(lc.text, "warn soap fault op=Refuse code=InvalidCookie peer=192.0.2.7 "
					"msg=\"cookie x <gone> & 'done'\""));
	protocol_soap_msg_free(&m);
	wsus_buf_free(&resp.body);
	free(body);
}

/* 2.3 a handler failure (negative errno, or a result that is not one) is an
 * InternalServerError with a generic message: the details reach the log only */
static void test_handler_failure(void **state)
{
	static const char *const ops[] = { "<Broken xmlns=\"" NS_TEST "\"/>", "<Positive xmlns=\"" NS_TEST "\"/>" };

	(void)state;
	for (int v12 = 0; v12 <= 1; v12++) {
		for (size_t i = 0; i < 2; i++) {
			struct server_req req;
			struct server_resp resp;
			struct protocol_soap_msg m;
			struct logcap lc;
			char *body = request(v12, ops[i]), *t;

			init_req(&req, body);
			dispatch(&req, &resp, &lc);
			expect_fault(&resp, v12 ? PROTOCOL_SOAP12 : PROTOCOL_SOAP11, &m);
			expect_error_code(&m, "InternalServerError");
			t = find_text(m.op, "Message");
			assert_string_equal(t, "internal server error");
			free(t);
			assert_null(strstr(resp.body.data, "secret"));
			assert_null(strstr(resp.body.data, "Partial"));
			assert_non_null(strstr(resp.body.data, v12 ? "soap:Receiver" : "soap:Server"));
			assert_int_equal(count_lines(lc.text), 1);
			assert_non_null(strstr(lc.text, "code=InternalServerError"));
			assert_non_null(strstr(lc.text, i == 0 ? "handler returned -5" : "handler returned 1"));
			if (i == 0)
				assert_non_null(strstr(lc.text, "/secret/path locked"));
			protocol_soap_msg_free(&m);
			wsus_buf_free(&resp.body);
			free(body);
		}
	}
}

/* 2.4 requests that are not SOAP (no body, not XML, DOCTYPE, no Body, empty
 * Body, a handler's missing parameter): InvalidParameters in SOAP 1.1,
 * HTTP 500, a parseable envelope; the client's SOAPAction becomes Method */
static void test_malformed_requests(void **state)
{
	static const struct { const char *body; const char *why; } v[] = {
		{ NULL, "empty" },
		{ "", "empty" },
		{ "this is not XML", "XML error" },
		{ "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"x\">]><soap:Envelope xmlns:soap=\""
		  PROTOCOL_NS_SOAP11 "\"><soap:Body><Echo/></soap:Body></soap:Envelope>", "DOCTYPE" },
		{ "<soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11 "\"/>", "no Body" },
		{ "<soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11 "\"><soap:Body> </soap:Body></soap:Envelope>",
		  "empty" },
		{ "<Echo><value>1</value></Echo>", "not a SOAP envelope" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct server_req req;
		struct server_resp resp;
		struct protocol_soap_msg m;
		struct logcap lc;
		char *t;

		init_req(&req, v[i].body);
		req.soap_action = "\"" NS_TEST "/Echo\"";
		calls = 0;
		dispatch(&req, &resp, &lc);
		assert_int_equal(calls, 0);
		expect_fault(&resp, PROTOCOL_SOAP11, &m);
		expect_error_code(&m, "InvalidParameters");
		t = find_text(m.op, "Message");
		if (strstr(t, v[i].why) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, t, v[i].why);
		free(t);
		t = find_text(m.op, "Method");
		assert_string_equal(t, "\"" NS_TEST "/Echo\"");
		free(t);
		assert_int_equal(count_lines(lc.text), 1);
		assert_non_null(strstr(lc.text, "warn soap fault op=- code=InvalidParameters peer=192.0.2.7"));
		protocol_soap_msg_free(&m);
		wsus_buf_free(&resp.body);
	}
	/* a handler's own InvalidParameters reaches the client the same way */
	{
		struct server_req req;
		struct server_resp resp;
		struct protocol_soap_msg m;
		struct logcap lc;
		char *body = request(0, "<Echo xmlns=\"" NS_TEST "\"><value xmlns:i=\"http://www.w3.org/2001/"
					"XMLSchema-instance\" i:nil=\"true\"/></Echo>"), *t;

		init_req(&req, body);
		dispatch(&req, &resp, &lc);
		expect_fault(&resp, PROTOCOL_SOAP11, &m);
		expect_error_code(&m, "InvalidParameters");
		t = find_text(m.op, "Message");
		assert_string_equal(t, "value");
		free(t);
		protocol_soap_msg_free(&m);
		wsus_buf_free(&resp.body);
		free(body);
	}
}

/*---- 3 SOAPAction, actor, log ----*/

/* 3.1 a SOAPAction naming another operation changes nothing but a debug
 * line; a matching or absent one is silent */
static void test_soapaction_is_a_hint(void **state)
{
	static const struct { const char *action; int noted; } v[] = {
		{ NULL, 0 },
		{ "\"" NS_TEST "/Echo\"", 0 },
		{ NS_TEST "/Echo", 0 },
		{ "\"\"", 0 },
		{ "\"urn:elsewhere/Echo\"", 0 },
		{ "\"" NS_TEST "/Refuse\"", 1 },
		{ "\"urn:x\nforged line\"", 1 },
	};
	int saved = log_verbosity;

	(void)state;
	log_set_verbosity(LOG_DEBUG);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct server_req req;
		struct server_resp resp;
		struct logcap lc;
		char *body = request(0, "<Echo xmlns=\"" NS_TEST "\"><value>1</value></Echo>");

		init_req(&req, body);
		req.soap_action = v[i].action;
		dispatch(&req, &resp, &lc);
		assert_int_equal(resp.status, 200);
		assert_non_null(strstr(resp.body.data, "<EchoResult>1</EchoResult>"));
		if (v[i].noted) {
			assert_int_equal(count_lines(lc.text), 1);
			assert_non_null(strstr(lc.text, "debug soap SOAPAction differs from the body"));
			assert_non_null(strstr(lc.text, "op=Echo"));
		} else {
			if (lc.text[0] != '\0')
				fail_msg("case %zu logged: %s", i, lc.text);
		}
		wsus_buf_free(&resp.body);
		free(body);
	}
	log_set_verbosity(saved);
}

/* 3.2 the faultactor is the public URL plus the path when the server is
 * known, the bare path otherwise */
static void test_fault_actor(void **state)
{
	struct server srv;
	struct server_req req;
	struct server_resp resp;
	struct protocol_soap_msg m;
	struct logcap lc;
	char *body = request(0, "<Refuse xmlns=\"" NS_TEST "\"/>"), *t;

	(void)state;
	memset(&srv, 0, sizeof(srv));
	snprintf(srv.public_url, sizeof(srv.public_url), "https://wsus.example.test:8531");
	init_req(&req, body);
	req.srv = &srv;
	dispatch(&req, &resp, &lc);
	expect_fault(&resp, PROTOCOL_SOAP11, &m);
	t = find_text(m.op, "faultactor");
	assert_string_equal(t, "https://wsus.example.test:8531/Test/Test.asmx");
	free(t);
	protocol_soap_msg_free(&m);
	wsus_buf_free(&resp.body);

	init_req(&req, body);
	dispatch(&req, &resp, &lc);
	expect_fault(&resp, PROTOCOL_SOAP11, &m);
	t = find_text(m.op, "faultactor");
	assert_string_equal(t, "/Test/Test.asmx");
	free(t);
	protocol_soap_msg_free(&m);
	wsus_buf_free(&resp.body);
	free(body);
}

/* 3.3 server_fault_set fills code and message, truncates, returns -1 */
static void test_fault_set(void **state)
{
	struct server_fault f;
	char big[600];

	(void)state;
	memset(&f, 0x55, sizeof(f));
	assert_int_equal(server_fault_set(&f, PROTOCOL_ERR_TOO_MANY_IDS, "%d ids", 101), -1);
	assert_int_equal(f.code, PROTOCOL_ERR_TOO_MANY_IDS);
	assert_string_equal(f.message, "101 ids");
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(server_fault_set(&f, PROTOCOL_ERR_SERVER_BUSY, "%s", big), -1);
	assert_int_equal(strlen(f.message), sizeof(f.message) - 1);
	assert_int_equal(server_fault_set(NULL, PROTOCOL_ERR_SERVER_BUSY, "x"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_soap11),
		cmocka_unit_test(test_success_soap12),
		cmocka_unit_test(test_unknown_operation),
		cmocka_unit_test(test_handler_fault),
		cmocka_unit_test(test_handler_failure),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_soapaction_is_a_hint),
		cmocka_unit_test(test_fault_actor),
		cmocka_unit_test(test_fault_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
