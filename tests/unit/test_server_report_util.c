/*
 * test_server_report_util.c -- what the client report tests share: posting
 * to ReportingWebService through server_soap_dispatch with answers checked
 * against its XSD, request bodies built from the spec's examples or from
 * single events, and the writer started with test limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "test_server_report_util.h"

static xmlSchemaPtr reporting_schema(void)
{
	static xmlSchemaPtr s;
	xmlSchemaParserCtxtPtr pc;
	xmlExternalEntityLoader prev;

	if (s != NULL)
		return s;
	/* protocol/ refuses external loads; the schema imports a local file */
	protocol_xml_init();
	prev = xmlGetExternalEntityLoader();
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
	pc = xmlSchemaNewParserCtxt(WSUS_SHARED_DIR "/spec/wsdl/ReportingWebService.xsd");
	assert_non_null(pc);
	s = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	xmlSetExternalEntityLoader(prev);
	assert_non_null(s);
	return s;
}

static xmlNodePtr first_element(xmlNodePtr n)
{
	for (; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

/* The Body's first child, alone in a document, against ReportingWebService.xsd. */
void validate_reporting(const char *text)
{
	xmlDocPtr doc = tx_parse(text), one;
	xmlNodePtr body = first_element(xmlDocGetRootElement(doc)->children), copy;
	xmlSchemaValidCtxtPtr vc;
	int rc;

	assert_non_null(body);
	assert_non_null(first_element(body->children));
	one = xmlNewDoc(BAD_CAST "1.0");
	copy = xmlDocCopyNode(first_element(body->children), one, 1);
	xmlDocSetRootElement(one, copy);
	xmlReconciliateNs(one, copy);
	vc = xmlSchemaNewValidCtxt(reporting_schema());
	rc = xmlSchemaValidateDoc(vc, one);
	xmlSchemaFreeValidCtxt(vc);
	if (rc != 0)
		fail_msg("answer does not validate against ReportingWebService.xsd: %.2000s", text);
	xmlFreeDoc(one);
	xmlFreeDoc(doc);
}

/* POST a whole envelope to Reporting; a 200 answer is schema-checked. */
char *report_post(struct tsrv *t, const char *body, int *status)
{
	struct server_req req;
	struct server_resp resp;
	char *out;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.srv = &t->srv;
	req.method = "POST";
	req.path = REPORT_PATH;
	req.body = body;
	req.body_len = strlen(body);
	req.st = t->st;
	req.tls = 1;
	snprintf(req.peer, sizeof(req.peer), "192.0.2.20");
	server_soap_dispatch(&req, &server_reporting_service, &resp);
	*status = resp.status;
	out = wsus_buf_steal(&resp.body, NULL);
	assert_non_null(out);
	if (resp.status == 200)
		validate_reporting(out);
	return out;
}

/* An example request with the client's cookie in it. */
char *example_for(const struct tclient *c, const char *file)
{
	char *ex = tx_example(file), *body = tx_replace_text(ex, "EncryptedData", c->cookie);

	free(ex);
	return body;
}

/* Post an example (or any body) and expect ReportEventBatchResult. */
void report_ok(struct tsrv *t, const char *body, const char *want)
{
	int status;
	char *resp = report_post(t, body, &status), expect[128];

	if (status != 200)
		fail_msg("ReportEventBatch failed: %.1500s", resp);
	snprintf(expect, sizeof(expect), "<ReportEventBatchResult>%s</ReportEventBatchResult>", want);
	assert_non_null(strstr(resp, expect));
	free(resp);
}

void report_fault(struct tsrv *t, const char *body, const char *code)
{
	int status;
	char *resp = report_post(t, body, &status), *got;

	assert_int_equal(status, 500);
	got = tx_fault_code(resp);
	if (got == NULL || strcmp(got, code) != 0)
		fail_msg("want %s, got %s: %.1000s", code, got ? got : "no ErrorCode", resp);
	free(got);
	free(resp);
}

struct storage_report_summary summary(struct tsrv *t)
{
	struct storage_report_summary s;
	struct err e = { 0 };

	if (storage_report_summary(t->st, &s, &e) < 0)
		fail_msg("summary: %s", e.msg);
	return s;
}

/* A ReportEventBatch body of raw ReportingEvent elements. */
char *batch_body(const struct tclient *c, const char *events)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 1u << 22);
	assert_int_equal(wsus_buf_printf(&b, "<soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11 "\""
					 " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Body>"
					 "<ReportEventBatch xmlns=\"" PROTOCOL_NS_SD "\"><cookie>"
					 "<Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>%s"
					 "</EncryptedData></cookie><clientTime>2025-03-01T12:00:00</clientTime>"
					 "<eventBatch>%s</eventBatch></ReportEventBatch></soap:Body>"
					 "</soap:Envelope>", c->cookie, events), 0);
	return wsus_buf_steal(&b, NULL);
}

/* One ReportingEvent; misc is a list of <string> elements or "". */
void add_event(struct wsus_buf *b, const char *instance, int event_id, const char *uid,
		      const char *when, const char *misc)
{
	assert_int_equal(wsus_buf_printf(b, "<ReportingEvent><BasicData><TargetID><Sid>someone-else</Sid>"
					 "</TargetID><SequenceNumber>0</SequenceNumber><TimeAtTarget>%s"
					 "</TimeAtTarget><EventInstanceID>%s</EventInstanceID>"
					 "<NamespaceID>1</NamespaceID><EventID>%d</EventID><SourceID>101"
					 "</SourceID><UpdateID><UpdateID>%s</UpdateID><RevisionNumber>1"
					 "</RevisionNumber></UpdateID><Win32HResult>0</Win32HResult>"
					 "<AppName>AutomaticUpdates</AppName></BasicData><ExtendedData>"
					 "<MiscData>%s</MiscData><ProcessorArchitecture>Amd64Compatible"
					 "</ProcessorArchitecture><OSVersion><Major>10</Major><Minor>0</Minor>"
					 "<Build>22631</Build><Revision>0</Revision><ServicePackMajor>0"
					 "</ServicePackMajor><ServicePackMinor>0</ServicePackMinor></OSVersion>"
					 "<OSLocaleID>1033</OSLocaleID></ExtendedData><PrivateData />"
					 "</ReportingEvent>", when, instance, event_id,
					 uid ? uid : "00000000-0000-0000-0000-000000000000", misc), 0);
}

void start_writer(struct tsrv *t, const struct server_report_limits *lim)
{
	struct err e = { 0 };

	if (server_report_start(&t->srv, lim, &e) < 0)
		fail_msg("writer: %s", e.msg);
}

static void *post_main(void *arg)
{
	struct tpost *p = arg;

	p->resp = report_post(p->t, p->body, &p->status);
	return NULL;
}

void tpost_start(struct tpost *p, struct tsrv *t, const char *body)
{
	memset(p, 0, sizeof(*p));
	p->t = t;
	p->body = body;
	assert_int_equal(pthread_create(&p->thread, NULL, post_main, p), 0);
}

char *tpost_join(struct tpost *p, int *status)
{
	assert_int_equal(pthread_join(p->thread, NULL), 0);
	*status = p->status;
	return p->resp;
}

/* The ReportEventBatchResult of an answer: 1 true, 0 false (fails otherwise). */
int report_result(const char *resp)
{
	if (strstr(resp, "<ReportEventBatchResult>true</ReportEventBatchResult>") != NULL)
		return 1;
	if (strstr(resp, "<ReportEventBatchResult>false</ReportEventBatchResult>") != NULL)
		return 0;
	fail_msg("no ReportEventBatchResult: %.1000s", resp);
	return -1;
}

void wait_queued(struct tsrv *t, size_t depth)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct server_report_stats st;

	for (int i = 0; i < 500; i++) {
		server_report_get_stats(&t->srv, &st);
		if (st.depth == depth)
			return;
		nanosleep(&tick, NULL);
	}
	fail_msg("the queue never held %zu events (holds %zu)", depth, st.depth);
}
