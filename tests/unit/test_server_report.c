/*
 * test_server_report.c -- ReportEventBatch and the client event writer
 * (server_report.c, storage_report.c): handler-level through
 * server_soap_dispatch with a real storage and a scripted client, then the
 * real daemon on loopback for the certificate gate and compression.
 * Groups: 1 the spec's examples answered and stored (schema-valid answers,
 *           events land, duplicates once, faults: cookie, ConfigChanged,
 *           parameters; the other client operations),
 *         2 update status derived from events (per-update events, the 156
 *           lists, ordering by the client's clock, unregistered computers
 *           refused),
 *         3 the writer (true only after the commit; a full queue drops and
 *           does not block, stop drains, a late commit is answered false,
 *           retention by age and count),
 *         4 over HTTPS: with client_cert_allow set, ReportEventBatch is open
 *           and the rollups are not; Xpress and gzip answers decode.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "server.h"
#include "test_server_report_util.h"
#include "test_xpress_decoder.h"

/*---- Helpers ----*/

struct status_row {
	char update_id[WSUS_GUID_LEN];
	int status;
};
struct status_set {
	struct status_row rows[256];
	size_t n;
};

static int collect_status(const char *uid, int status, int64_t when, void *ctx)
{
	struct status_set *s = ctx;

	(void)when;
	if (s->n < sizeof(s->rows) / sizeof(s->rows[0])) {
		snprintf(s->rows[s->n].update_id, WSUS_GUID_LEN, "%s", uid);
		s->rows[s->n].status = status;
	}
	s->n++;
	return 0;
}

static void load_status(struct tsrv *t, const char *computer, struct status_set *s)
{
	struct err e = { 0 };

	memset(s, 0, sizeof(*s));
	if (storage_report_computer_status(t->st, computer, collect_status, s, &e) < 0)
		fail_msg("status: %s", e.msg);
}

/* The status of uid, -1 when there is no row. */
static int status_of(const struct status_set *s, const char *uid)
{
	for (size_t i = 0; i < s->n && i < sizeof(s->rows) / sizeof(s->rows[0]); i++)
		if (strcmp(s->rows[i].update_id, uid) == 0)
			return s->rows[i].status;
	return -1;
}

/* The distinct GUIDs of the "V=" MiscData string of an example. */
static size_t installed_in_example(const char *file, char (*out)[WSUS_GUID_LEN], size_t max)
{
	char *ex = tx_example(file);
	const char *p = strstr(ex, "<string>V=");
	size_t n = 0;

	assert_non_null(p);
	for (p += 10; *p != '<';) {
		char raw[40], g[WSUS_GUID_LEN];
		size_t len = strcspn(p, ";<"), k;

		snprintf(raw, sizeof(raw), "%.*s", (int)len, p);
		assert_int_equal(wsus_guid_normalize(raw, g), 0);
		for (k = 0; k < n && strcmp(out[k], g) != 0; k++)
			;
		if (k == n && n < max)
			memcpy(out[n++], g, WSUS_GUID_LEN);
		p += len + (p[len] == ';');
	}
	free(ex);
	return n;
}

/*---- 1 the examples ----*/

/* 1.1 examples 16, 17 and 18 with our cookie: schema-valid true answers;
 * after the writer flushes, all 8 events are stored under the cookie's
 * computer (not the Sid they claim), the report time moves and 148/147 set
 * the last detection result */
static void test_examples_stored(void **state)
{
	struct tsrv t;
	struct tclient a, b;
	struct storage_report_summary s;
	struct server_report_stats st;
	char *body;
	int64_t before = wsus_now_ms();

	(void)state;
	tsrv_open(&t, NULL);
	start_writer(&t, NULL);
	tclient_init(&a, &t, "client-a", NULL);
	tclient_init(&b, &t, "client-b", NULL);
	tclient_handshake(&a, 1);
	tclient_handshake(&b, 1);
	body = example_for(&a, EX16);
	report_ok(&t, body, "true");
	free(body);
	server_report_flush(&t.srv);
	s = summary(&t);
	assert_int_equal(s.events, 2);
	assert_int_equal(s.computers, 2);
	assert_int_equal(s.computers_reporting, 1);
	assert_true(s.last_report_ms >= before && s.last_report_ms <= wsus_now_ms());
	body = example_for(&a, EX17);
	report_ok(&t, body, "true");
	free(body);
	body = example_for(&b, EX18);
	report_ok(&t, body, "true");
	free(body);
	server_report_flush(&t.srv);
	s = summary(&t);
	assert_int_equal(s.events, 8);
	assert_int_equal(s.computers_reporting, 2);
	server_report_get_stats(&t.srv, &st);
	assert_int_equal(st.queued, 8);
	assert_int_equal(st.written, 8);
	assert_int_equal(st.depth, 0);
	server_report_stop(&t.srv);
	assert_null(t.srv.report);
	tclient_free(&a);
	tclient_free(&b);
	tsrv_close(&t);
}

/* 1.2 a batch sent again (same EventInstanceIDs, any case) is stored once */
static void test_duplicates_once(void **state)
{
	struct tsrv t;
	struct tclient a;
	struct server_report_stats st;
	char *body, *lower;

	(void)state;
	tsrv_open(&t, NULL);
	start_writer(&t, NULL);
	tclient_init(&a, &t, "client-dup", NULL);
	tclient_handshake(&a, 1);
	body = example_for(&a, EX17);
	report_ok(&t, body, "true");
	report_ok(&t, body, "true");
	lower = tx_replace_text(body, "EventInstanceID", "d61e5ee1-968b-4162-88be-bcea05c5992f");
	report_ok(&t, lower, "true");
	server_report_flush(&t.srv);
	assert_int_equal(summary(&t).events, 2);
	server_report_get_stats(&t.srv, &st);
	assert_int_equal(st.written, 2);
	assert_int_equal(st.duplicates, 4);
	free(lower);
	free(body);
	server_report_stop(&t.srv);
	tclient_free(&a);
	tsrv_close(&t);
}

/* 1.3 the cookie is checked as on the client service: missing or forged is
 * InvalidCookie, a cookie older than GetConfig's LastChange is
 * ConfigChanged (MS-WUSP example 20); clientTime and eventBatch are required;
 * nothing is stored for a refused request */
static void test_faults(void **state)
{
	struct tsrv t;
	struct tclient a;
	struct err e = { 0 };
	struct timespec second = { 1, 100 * 1000 * 1000 };
	char *body, *bad, *ex;
	int64_t stamp;
	int status;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-faults", NULL);
	tclient_handshake(&a, 1);
	ex = tx_example(EX16);            /* the spec's own cookie: another server's */
	report_fault(&t, ex, "InvalidCookie");
	free(ex);
	body = example_for(&a, EX16);
	bad = tx_replace_text(body, "clientTime", "yesterday");
	report_fault(&t, bad, "InvalidParameters");
	free(bad);
	{
		/* no eventBatch element at all */
		char *cut = strdup(body), *p = strstr(cut, "<eventBatch"), *q = strstr(cut, "</eventBatch>");

		assert_non_null(p);
		assert_non_null(q);
		memmove(p, q + 13, strlen(q + 13) + 1);
		report_fault(&t, cut, "InvalidParameters");
		free(cut);
	}
	assert_int_equal(summary(&t).events, 0);
	/* the configuration changes after the cookie was issued */
	nanosleep(&second, NULL);
	assert_int_equal(storage_client_config_stamp(t.st, "another-build", &stamp, &e), 0);
	{
		char *resp = report_post(&t, body, &status), *code = tx_fault_code(resp);

		assert_int_equal(status, 500);
		assert_non_null(code);
		assert_string_equal(code, "ConfigChanged");
		assert_non_null(strstr(resp, "\"" PROTOCOL_NS_SD "/ReportEventBatch\""));
		free(code);
		free(resp);
	}
	assert_int_equal(summary(&t).events, 0);
	free(body);
	tclient_free(&a);
	tsrv_close(&t);
}

/* A Reporting request of one operation element (a whole envelope). */
static char *op_envelope(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *op_envelope(const char *fmt, ...)
{
	size_t cap = 1u << 16;
	char *op = malloc(cap), *out = malloc(cap + 256);
	va_list ap;
	int n;

	assert_non_null(op);
	assert_non_null(out);
	va_start(ap, fmt);
	n = vsnprintf(op, cap, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < cap);
	snprintf(out, cap + 256, "<soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11 "\"><soap:Body>%s"
		 "</soap:Body></soap:Envelope>", op);
	free(op);
	return out;
}

static char *answer_of(struct tsrv *t, char *body, int *status)
{
	char *resp = report_post(t, body, status);

	free(body);
	return resp;
}

#define INVENTORY_TYPE_OP \
	"<GetRequiredInventoryType xmlns=\"" PROTOCOL_NS_SD "\"><cookie><Expiration>" \
	"2030-01-01T00:00:00Z</Expiration><EncryptedData>%s</EncryptedData></cookie>" \
	"<rulesId>%s</rulesId><rulesVersion>1</rulesVersion></GetRequiredInventoryType>"
#define INVENTORY_OP \
	"<ReportInventory xmlns=\"" PROTOCOL_NS_SD "\"><cookie><Expiration>2030-01-01T00:00:00Z" \
	"</Expiration><EncryptedData>%s</EncryptedData></cookie><clientTime>2025-01-01T00:00:00" \
	"</clientTime><inventory><IsCompressed>false</IsCompressed><RawXml>%s</RawXml></inventory>" \
	"</ReportInventory>"

/* 1.4 the WSDL's other client operations: ReportEventBatch2 (no cookie) is
 * answered false and stores nothing; GetRequiredInventoryType answers 0 and
 * ReportInventory true behind a valid cookie, InvalidCookie without */
static void test_other_operations(void **state)
{
	struct tsrv t;
	struct tclient a;
	struct wsus_buf ev;
	char *resp, *code;
	int status;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-other", NULL);
	tclient_handshake(&a, 1);
	wsus_buf_init(&ev, 1u << 16);
	add_event(&ev, "d0000000-0000-0000-0000-000000000001", 183, U1, "2025-03-01T10:00:00", "");
	resp = answer_of(&t, op_envelope("<ReportEventBatch2 xmlns=\"" PROTOCOL_NS_SD "\"><computerId>%s"
					 "</computerId><clientTime>2025-03-01T12:00:00</clientTime><eventBatch>"
					 "%s</eventBatch></ReportEventBatch2>", "client-other", ev.data), &status);
	wsus_buf_free(&ev);
	assert_int_equal(status, 200);
	assert_non_null(strstr(resp, "<ReportEventBatch2Result>false</ReportEventBatch2Result>"));
	free(resp);
	assert_int_equal(summary(&t).events, 0);

	resp = answer_of(&t, op_envelope(INVENTORY_TYPE_OP, a.cookie, U1), &status);
	assert_int_equal(status, 200);
	assert_non_null(strstr(resp, "<GetRequiredInventoryTypeResult>0</GetRequiredInventoryTypeResult>"));
	free(resp);
	resp = answer_of(&t, op_envelope(INVENTORY_OP, a.cookie, "&lt;x/&gt;"), &status);
	assert_int_equal(status, 200);
	assert_non_null(strstr(resp, "<ReportInventoryResult>true</ReportInventoryResult>"));
	free(resp);
	resp = answer_of(&t, op_envelope(INVENTORY_OP, "bm90IGEgY29va2ll", ""), &status);
	assert_int_equal(status, 500);
	code = tx_fault_code(resp);
	assert_non_null(code);
	assert_string_equal(code, "InvalidCookie");
	free(code);
	free(resp);
	resp = answer_of(&t, op_envelope(INVENTORY_TYPE_OP, "bm90IGEgY29va2ll", U1), &status);
	assert_int_equal(status, 500);
	free(resp);
	tclient_free(&a);
	tsrv_close(&t);
}

/*---- 2 status from events ----*/

/* 2.1 per-update events: installed, failed, downloaded, pending reboot;
 * an older event does not override a newer state; an uninstall forgets;
 * unusable events are skipped without failing the batch */
static void test_status_from_events(void **state)
{
	struct tsrv t;
	struct tclient a;
	struct status_set s;
	struct storage_report_summary sum;
	struct wsus_buf ev;
	char *body;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-status", NULL);
	tclient_handshake(&a, 1);
	wsus_buf_init(&ev, 1u << 20);
	add_event(&ev, "a0000000-0000-0000-0000-000000000001", 183, U1, "2025-03-01T10:00:00", "");
	add_event(&ev, "a0000000-0000-0000-0000-000000000002", 182, U2, "2025-03-01T10:00:00", "");
	add_event(&ev, "a0000000-0000-0000-0000-000000000003", 162, U3, "2025-03-01T10:00:00", "");
	add_event(&ev, "a0000000-0000-0000-0000-000000000004", 184, U4, "2025-03-01T10:00:00", "");
	add_event(&ev, "a0000000-0000-0000-0000-000000000005", 162, U1, "2025-03-01T09:00:00", "");
	add_event(&ev, "a0000000-0000-0000-0000-000000000006", 190, U5, "2025-03-01T08:00:00", "");
	add_event(&ev, "a0000000-0000-0000-0000-000000000007", 222, U5, "2025-03-01T10:30:00", "");
	/* skipped: no EventInstanceID, another namespace, an EventID that is no number, nil */
	assert_int_equal(wsus_buf_appends(&ev, "<ReportingEvent><BasicData><EventID>183</EventID>"
					  "</BasicData></ReportingEvent><ReportingEvent xsi:nil=\"true\" />"), 0);
	add_event(&ev, "a0000000-0000-0000-0000-000000000008", 183, U6, "2025-03-01T10:00:00", "");
	body = batch_body(&a, ev.data);
	{
		char *p = strstr(body, "a0000000-0000-0000-0000-000000000008</EventInstanceID><NamespaceID>1");

		assert_non_null(p);
		p[strlen("a0000000-0000-0000-0000-000000000008</EventInstanceID><NamespaceID>")] = '2';
	}
	report_ok(&t, body, "true");
	free(body);
	wsus_buf_free(&ev);
	load_status(&t, "client-status", &s);
	assert_int_equal(status_of(&s, U1), 4);
	assert_int_equal(status_of(&s, U2), 5);
	assert_int_equal(status_of(&s, U3), 3);
	assert_int_equal(status_of(&s, U4), 6);
	assert_int_equal(status_of(&s, U5), -1);
	assert_int_equal(status_of(&s, U6), -1);
	assert_int_equal(s.n, 4);
	sum = summary(&t);
	assert_int_equal(sum.events, 7);
	assert_int_equal(sum.by_status[4], 1);
	assert_int_equal(sum.by_status[5], 1);
	assert_int_equal(sum.by_status[3], 1);
	assert_int_equal(sum.by_status[6], 1);
	assert_int_equal(sum.computers_with_errors, 1);
	assert_int_equal(sum.computers_needing, 1);
	tclient_free(&a);
	tsrv_close(&t);
}

/* 2.2 an AGENT_STATUS (156) event sets every listed update (U needed,
 * h downloaded, g failed, V installed, W pending reboot; an update in two
 * lists takes the stronger) and drops older rows it does not list; an
 * event older than the snapshot does not undo it */
static void test_status_snapshot(void **state)
{
	struct tsrv t;
	struct tclient a;
	struct status_set s;
	struct wsus_buf ev;
	char *body;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-snap", NULL);
	tclient_handshake(&a, 1);
	wsus_buf_init(&ev, 1u << 20);
	add_event(&ev, "b0000000-0000-0000-0000-000000000001", 183, U1, "2025-03-01T10:00:00", "");
	add_event(&ev, "b0000000-0000-0000-0000-000000000002", 183, U5, "2025-03-01T10:00:00", "");
	add_event(&ev, "b0000000-0000-0000-0000-000000000003", 183, U6, "2025-03-01T13:00:00", "");
	add_event(&ev, "b0000000-0000-0000-0000-000000000004", 156, NULL, "2025-03-01T11:00:00",
		  "<string>U=" U2 ";" U1 "</string><string>V=" U1 "</string><string>W=" U4
		  "</string><string>g=" U3 ";not-a-guid</string><string>h=" U2 "</string>"
		  "<string>D=3</string>");
	add_event(&ev, "b0000000-0000-0000-0000-000000000005", 161, U4, "2025-03-01T10:59:00", "");
	body = batch_body(&a, ev.data);
	report_ok(&t, body, "true");
	free(body);
	wsus_buf_free(&ev);
	load_status(&t, "client-snap", &s);
	assert_int_equal(status_of(&s, U1), 4);   /* U and V: installed */
	assert_int_equal(status_of(&s, U2), 3);   /* U and h: downloaded */
	assert_int_equal(status_of(&s, U3), 5);
	assert_int_equal(status_of(&s, U4), 6);   /* the older download failure loses */
	assert_int_equal(status_of(&s, U5), -1);  /* older, not listed: dropped */
	assert_int_equal(status_of(&s, U6), 4);   /* newer than the snapshot: kept */
	assert_int_equal(s.n, 5);
	tclient_free(&a);
	tsrv_close(&t);
}

/* 2.3 the examples' 156 lists: every V= update of example 17 is installed
 * for the reporting computer; a computer that never registered is answered
 * false and nothing of it is stored */
static void test_status_examples(void **state)
{
	static char v17[128][WSUS_GUID_LEN];
	struct tsrv t;
	struct tclient a, u;
	struct status_set s;
	size_t n17;
	char *body;

	(void)state;
	n17 = installed_in_example(EX17, v17, 128);
	assert_true(n17 > 10);
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-ex17", NULL);
	tclient_init(&u, &t, "client-unregistered", NULL);
	tclient_handshake(&a, 1);
	tclient_handshake(&u, 0);
	body = example_for(&a, EX17);
	report_ok(&t, body, "true");
	free(body);
	load_status(&t, "client-ex17", &s);
	assert_int_equal(s.n, n17);
	for (size_t i = 0; i < n17; i++)
		assert_int_equal(status_of(&s, v17[i]), 4);
	body = example_for(&u, EX18);
	report_ok(&t, body, "false");
	free(body);
	load_status(&t, "client-unregistered", &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(summary(&t).events, 2);
	assert_int_equal(summary(&t).computers_reporting, 1);
	tclient_free(&a);
	tclient_free(&u);
	tsrv_close(&t);
}

/*---- 3 the writer ----*/

/* 3.1 a full queue: with the writer held, a request waits for its commit
 * while a batch that does not fit is answered false at once (counted as
 * dropped), one bigger than the whole queue too; released, the waiting
 * request is answered true once its events are stored */
static void test_queue_full(void **state)
{
	struct server_report_limits lim = { .max_events = 3 };
	struct server_report_stats st;
	struct tsrv t;
	struct tclient a;
	struct tpost p;
	char *b16, *b17, *b18, *resp;
	int64_t t0;
	int status;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-full", NULL);
	tclient_handshake(&a, 1);
	start_writer(&t, &lim);
	b16 = example_for(&a, EX16);
	b17 = example_for(&a, EX17);
	b18 = example_for(&a, EX18);
	server_report_hold(&t.srv, 1);
	tpost_start(&p, &t, b16);                /* 2 of 3, waiting */
	wait_queued(&t, 2);
	t0 = wsus_now_ms();
	report_ok(&t, b17, "false");             /* 2 more do not fit */
	report_ok(&t, b18, "false");             /* 4 never fit */
	assert_true(wsus_now_ms() - t0 < 1000);
	server_report_get_stats(&t.srv, &st);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.dropped, 6);
	assert_int_equal(st.depth, 2);
	assert_int_equal(summary(&t).events, 0);
	server_report_hold(&t.srv, 0);
	resp = tpost_join(&p, &status);
	assert_int_equal(status, 200);
	assert_int_equal(report_result(resp), 1);
	free(resp);
	assert_int_equal(summary(&t).events, 2);
	report_ok(&t, b17, "true");              /* room again */
	assert_int_equal(summary(&t).events, 4);
	free(b16);
	free(b17);
	free(b18);
	server_report_stop(&t.srv);
	tclient_free(&a);
	tsrv_close(&t);
}

/* 3.2 stopping the writer stores what is still queued and answers its
 * request true */
static void test_stop_drains(void **state)
{
	struct tsrv t;
	struct tclient a;
	struct tpost p;
	char *body, *resp;
	int status;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-stop", NULL);
	tclient_handshake(&a, 1);
	start_writer(&t, NULL);
	server_report_hold(&t.srv, 1);
	body = example_for(&a, EX18);
	tpost_start(&p, &t, body);
	wait_queued(&t, 4);
	assert_int_equal(summary(&t).events, 0);
	server_report_stop(&t.srv);
	resp = tpost_join(&p, &status);
	assert_int_equal(report_result(resp), 1);
	free(resp);
	free(body);
	assert_int_equal(summary(&t).events, 4);
	tclient_free(&a);
	tsrv_close(&t);
}

/* 3.3 a commit that does not come within ack_wait_ms is answered false;
 * the batch is stored later all the same, and the client's resend is then
 * answered true without storing anything twice */
static void test_ack_timeout(void **state)
{
	struct server_report_limits lim = { .ack_wait_ms = 300 };
	struct server_report_stats st;
	struct tsrv t;
	struct tclient a;
	char *body;
	int64_t t0;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-late", NULL);
	tclient_handshake(&a, 1);
	start_writer(&t, &lim);
	server_report_hold(&t.srv, 1);
	body = example_for(&a, EX18);
	t0 = wsus_now_ms();
	report_ok(&t, body, "false");
	assert_true(wsus_now_ms() - t0 >= 250);
	server_report_get_stats(&t.srv, &st);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(st.depth, 4);
	server_report_hold(&t.srv, 0);
	server_report_flush(&t.srv);
	assert_int_equal(summary(&t).events, 4);
	report_ok(&t, body, "true");
	server_report_get_stats(&t.srv, &st);
	assert_int_equal(st.written, 4);
	assert_int_equal(st.duplicates, 4);
	free(body);
	server_report_stop(&t.srv);
	tclient_free(&a);
	tsrv_close(&t);
}

/* Store n events named <prefix>-...-<i> directly; returns how many were new. */
static size_t put_events(struct tsrv *t, const char *prefix, size_t n, int64_t received)
{
	struct storage_report_event ev[16];
	char ids[16][WSUS_GUID_LEN];
	struct err e = { 0 };
	size_t inserted = 0;

	assert_true(n <= 16);
	memset(ev, 0, sizeof(ev));
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%s-0000-0000-0000-%012zu", prefix, i);
		ev[i].instance_id = ids[i];
		ev[i].computer_id = "old-client";
		ev[i].received_ms = received;
		ev[i].time_ms = received;
		ev[i].namespace_id = 1;
		ev[i].event_id = 147;
	}
	if (storage_report_put(t->st, ev, n, &inserted, &e) < 0)
		fail_msg("put: %s", e.msg);
	return inserted;
}

/* 3.4 retention: the writer prunes events received before
 * event_retention_days when it starts (and hourly); the count cap keeps the
 * newest rows */
static void test_retention(void **state)
{
	struct server_report_stats st;
	struct tsrv t;
	struct err e = { 0 };
	int64_t now = wsus_now_ms(), deleted = -1;

	(void)state;
	tsrv_open(&t, NULL);
	t.cfg->st_event_retention_days = 30;
	assert_int_equal(put_events(&t, "c0000000", 5, now - 40LL * 86400 * 1000), 5);
	assert_int_equal(put_events(&t, "c1000000", 3, now - 20LL * 86400 * 1000), 3);
	assert_int_equal(put_events(&t, "c2000000", 4, now), 4);
	assert_int_equal(summary(&t).events, 12);
	start_writer(&t, NULL);
	server_report_flush(&t.srv);
	assert_int_equal(summary(&t).events, 7);
	server_report_get_stats(&t.srv, &st);
	assert_int_equal(st.pruned, 5);
	server_report_stop(&t.srv);
	assert_int_equal(storage_report_prune(t.st, now - 86400000, 1000, &deleted, &e), 0);
	assert_int_equal(deleted, 3);
	assert_int_equal(storage_report_prune(t.st, 0, 2, &deleted, &e), 0);
	assert_int_equal(deleted, 2);
	assert_int_equal(summary(&t).events, 2);
	/* what stays is the newest two: storing all four again adds the
	 * two oldest back and finds the others */
	assert_int_equal(put_events(&t, "c2000000", 4, now), 2);
	assert_int_equal(summary(&t).events, 4);
	tsrv_close(&t);
}

/*---- 4 over HTTPS ----*/

struct fixture {
	char dir[64];
	char ca[128];
	char cert_a[128], key_a[128];
	struct wsus_config *cfg;
	struct server *srv;
	char base[128];
};

struct reply {
	long status;
	struct wsus_buf body;
	char encoding[32];
};

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;

	if (wsus_buf_append(&r->body, p, size * n) < 0)
		return 0;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;
	size_t len = size * n;

	if (len > 18 && strncasecmp(p, "Content-Encoding: ", 18) == 0)
		snprintf(r->encoding, sizeof(r->encoding), "%.*s", (int)(len - 20), p + 18);
	return len;
}

/* POST body to path; accept is sent as Accept-Encoding (not decoded),
 * decode makes curl ask for and decode a coding itself. */
static void https_post(const struct fixture *f, const char *path, const char *body, const char *accept,
		       const char *decode, int with_cert, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], line[128];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	wsus_buf_init(&r->body, 1u << 22);
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, f->ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	h = curl_slist_append(h, "Content-Type: text/xml; charset=utf-8");
	h = curl_slist_append(h, "Expect:");
	if (accept != NULL) {
		snprintf(line, sizeof(line), "Accept-Encoding: %s", accept);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (decode != NULL)
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, decode);
	if (with_cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, f->cert_a);
		curl_easy_setopt(c, CURLOPT_SSLKEY, f->key_a);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	/* keep it a C string for strstr */
	assert_int_equal(wsus_buf_append(&r->body, "", 1), 0);
	r->body.len--;
}

static int http_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct wsus_config *c;
	struct err e = { 0 };
	char sub[128], fp_a[65], fp_srv[65];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/wsus-report.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(sub, sizeof(sub), "%s/client-a", f->dir);
	assert_int_equal(config_default(sub, &c, &e), 0);
	assert_int_equal(server_tls_ensure(c, fp_a, &e), 0);
	config_free(c);
	snprintf(f->cert_a, sizeof(f->cert_a), "%s/tls/server.crt", sub);
	snprintf(f->key_a, sizeof(f->key_a), "%s/tls/server.key", sub);
	assert_int_equal(config_default(f->dir, &f->cfg, &e), 0);
	free(f->cfg->srv_listen);
	f->cfg->srv_listen = strdup("127.0.0.1:0");
	f->cfg->srv_threads = 2;
	f->cfg->srv_timeout = 5;
	f->cfg->srv_client_cert_allow = strdup(fp_a);
	assert_int_equal(server_tls_ensure(f->cfg, fp_srv, &e), 0);
	snprintf(f->ca, sizeof(f->ca), "%s/tls/server.crt", f->dir);
	if (server_start(f->cfg, &f->srv, &e) != 0)
		fail_msg("server_start: %s", e.msg);
	assert_non_null(f->srv->report);
	snprintf(f->base, sizeof(f->base), "https://127.0.0.1:%d", server_port(f->srv));
	*state = f;
	return 0;
}

static int http_teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	server_stop(f->srv);
	config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char get_config_env[] =
	"<soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11 "\"><soap:Body><GetConfig xmlns=\""
	PROTOCOL_NS_CLIENT "\"><protocolVersion>1.8</protocolVersion></GetConfig></soap:Body>"
	"</soap:Envelope>";
static const char rollup_env[] =
	"<soap:Envelope xmlns:soap=\"" PROTOCOL_NS_SOAP11 "\"><soap:Body><RollupDownstreamServers xmlns=\""
	PROTOCOL_NS_SD "\"><cookie><Expiration>2030-01-01T00:00:00Z</Expiration><EncryptedData>AAAA"
	"</EncryptedData></cookie><clientTime>2025-01-01T00:00:00Z</clientTime><downstreamServers />"
	"</RollupDownstreamServers></soap:Body></soap:Envelope>";

/* Register a computer directly in the fixture's store (what RegisterComputer does). */
static void register_direct(const struct fixture *f, const char *id)
{
	struct storage_client_computer c;
	struct storage *st = NULL;
	struct err e = { 0 };

	memset(&c, 0, sizeof(c));
	c.computer_id = id;
	assert_int_equal(storage_open(f->cfg->st_data_dir, f->cfg->st_content_dir, &st, &e), 0);
	if (storage_client_register(st, &c, 0, NULL, &e) < 0)
		fail_msg("register %s: %s", id, e.msg);
	storage_close(st);
}

/* A client cookie sealed with the running server's key, issued now (after
 * GetConfig fixed LastChange). */
static char *sealed_cookie(const struct fixture *f, const char *client)
{
	struct server_cookie_claims c;
	struct err e = { 0 };
	char *out = NULL;

	memset(&c, 0, sizeof(c));
	c.kind = SERVER_COOKIE_CLIENT;
	snprintf(c.subject, sizeof(c.subject), "%s", client);
	memcpy(c.server_id, f->srv->server_id, WSUS_GUID_LEN);
	snprintf(c.protocol_version, sizeof(c.protocol_version), "2.4");
	c.issued_ms = wsus_now_ms();
	c.expires_ms = c.issued_ms + 3600 * 1000;
	if (server_cookie_seal(f->srv->cookie_key, &c, &out, &e) < 0)
		fail_msg("seal: %s", e.msg);
	return out;
}

/* 4.1 with client_cert_allow set, a client without a certificate reaches
 * ReportEventBatch (a SOAP answer: the spec's cookie is InvalidCookie, ours
 * is stored) while RollupDownstreamServers gets 403; the listed
 * certificate reaches the rollup */
static void test_https_gate(void **state)
{
	struct fixture *f = *state;
	struct storage_report_summary s;
	struct storage *st = NULL;
	struct err e = { 0 };
	struct reply r;
	char *ex = tx_example(EX16), *cookie, *body;

	https_post(f, REPORT_PATH, ex, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body.data, "<ErrorCode>InvalidCookie</ErrorCode>"));
	wsus_buf_free(&r.body);
	https_post(f, "/ReportingWebService/WebService.asmx", rollup_env, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body.data, "Envelope"));
	wsus_buf_free(&r.body);
	https_post(f, REPORT_PATH, rollup_env, NULL, NULL, 1, &r);
	assert_true(r.status == 200 || r.status == 500);
	assert_non_null(strstr(r.body.data, "Envelope"));
	wsus_buf_free(&r.body);

	https_post(f, "/ClientWebService/Client.asmx", get_config_env, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	wsus_buf_free(&r.body);
	register_direct(f, "https-client");
	cookie = sealed_cookie(f, "https-client");
	body = tx_replace_text(ex, "EncryptedData", cookie);
	https_post(f, REPORT_PATH, body, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	validate_reporting(r.body.data);
	assert_non_null(strstr(r.body.data, "<ReportEventBatchResult>true</ReportEventBatchResult>"));
	wsus_buf_free(&r.body);
	server_report_flush(f->srv);
	assert_int_equal(storage_open(f->cfg->st_data_dir, f->cfg->st_content_dir, &st, &e), 0);
	assert_int_equal(storage_report_summary(st, &s, &e), 0);
	assert_int_equal(s.events, 2);
	storage_close(st);
	free(body);
	free(cookie);
	free(ex);
}

/* 4.2 Accept-Encoding: xpress answers ReportEventBatch with an Xpress body
 * that our decoder turns into a schema-valid envelope; gzip (curl
 * --compressed) likewise; GetConfig on the client service too */
static void test_https_compression(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char *ex = tx_example(EX17), *cookie, *body;
	uint8_t *dec = NULL;
	size_t n = 0;

	https_post(f, "/ClientWebService/Client.asmx", get_config_env, "xpress", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.encoding, "xpress");
	assert_int_equal(txd_stream((const uint8_t *)r.body.data, r.body.len, &dec, &n), 0);
	assert_non_null(strstr((const char *)dec, "<GetConfigResult>"));
	free(dec);
	wsus_buf_free(&r.body);

	register_direct(f, "compressed-client");
	cookie = sealed_cookie(f, "compressed-client");
	body = tx_replace_text(ex, "EncryptedData", cookie);
	https_post(f, REPORT_PATH, body, "xpress", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.encoding, "xpress");
	assert_null(strstr(r.body.data, "ReportEventBatchResult"));
	assert_int_equal(txd_stream((const uint8_t *)r.body.data, r.body.len, &dec, &n), 0);
	validate_reporting((const char *)dec);
	assert_non_null(strstr((const char *)dec, "<ReportEventBatchResult>true</ReportEventBatchResult>"));
	free(dec);
	wsus_buf_free(&r.body);

	https_post(f, REPORT_PATH, body, NULL, "gzip", 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.encoding, "gzip");
	validate_reporting(r.body.data);
	assert_non_null(strstr(r.body.data, "<ReportEventBatchResult>true</ReportEventBatchResult>"));
	wsus_buf_free(&r.body);
	free(body);
	free(cookie);
	free(ex);
}

int main(void)
{
	const struct CMUnitTest dispatch[] = {
		cmocka_unit_test(test_examples_stored),
		cmocka_unit_test(test_duplicates_once),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_other_operations),
		cmocka_unit_test(test_status_from_events),
		cmocka_unit_test(test_status_snapshot),
		cmocka_unit_test(test_status_examples),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_stop_drains),
		cmocka_unit_test(test_ack_timeout),
		cmocka_unit_test(test_retention),
	};
	const struct CMUnitTest https[] = {
		cmocka_unit_test(test_https_gate),
		cmocka_unit_test(test_https_compression),
	};
	int rc;

	log_set_verbosity(LOG_ERR);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(dispatch, NULL, NULL);
	rc |= cmocka_run_group_tests(https, http_setup, http_teardown);
	curl_global_cleanup();
	return rc;
}
