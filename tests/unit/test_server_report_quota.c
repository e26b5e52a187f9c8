/*
 * test_server_report_quota.c -- bounded reporting ([clients]): the byte
 * quotas of ReportEventBatch, the registration cap and rate limit, computer
 * expiry and the store's maintenance, handler-level through
 * server_soap_dispatch on a real storage.
 * Groups: 1 event quotas (a computer's day through the writer, with its
 *           warning once; the store ceiling without a writer, made room for
 *           by maintenance; status lists stored as counts),
 *         2 registration (the cap refuses new computers with ServerBusy, the
 *           rate per address, expiry),
 *         3 the per-address limiter itself (burst, refill, IPv6 /64,
 *           IPv4-mapped).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "test_server_report_util.h"

#define DAY_MS (86400LL * 1000)

/*---- Helpers ----*/

/* A body of n events with ids <prefix>-0000-0000-0000-<first+i>, each
 * carrying about pad bytes of ReplacementStrings. */
static char *padded_batch(const struct tclient *c, const char *prefix, int first, int n, size_t pad)
{
	struct wsus_buf ev;
	char *text = malloc(pad + 1), *body;

	assert_non_null(text);
	memset(text, 'x', pad);
	text[pad] = '\0';
	wsus_buf_init(&ev, 1u << 24);
	for (int i = 0; i < n; i++) {
		char id[WSUS_GUID_LEN];

		snprintf(id, sizeof(id), "%s-0000-0000-0000-%012d", prefix, first + i);
		add_event(&ev, id, 183, U1, "2025-03-01T10:00:00", "");
		/* the same event with ReplacementStrings: spliced before MiscData */
		{
			char *at = strstr(ev.data + ev.len - 700, "<MiscData>");
			struct wsus_buf tail;

			assert_non_null(at);
			wsus_buf_init(&tail, 1u << 24);
			assert_int_equal(wsus_buf_appends(&tail, at), 0);
			ev.len = (size_t)(at - ev.data);
			assert_int_equal(wsus_buf_printf(&ev, "<ReplacementStrings><string>%s</string>"
							 "</ReplacementStrings>%s", text, tail.data), 0);
			wsus_buf_free(&tail);
		}
	}
	body = batch_body(c, ev.data);
	wsus_buf_free(&ev);
	free(text);
	return body;
}

static void usage(struct tsrv *t, const char *computer, int64_t *day, int64_t *store)
{
	struct err e = { 0 };

	if (storage_report_usage(t->st, computer, wsus_now_ms(), day, store, &e) < 0)
		fail_msg("usage: %s", e.msg);
}

/* Log lines go to a temporary file while capturing. */
static FILE *log_capture(void)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	log_set_stream(f);
	return f;
}

/* Stop capturing; the number of lines holding needle. */
static int log_count(FILE *f, const char *needle)
{
	char line[2048];
	int n = 0;

	log_set_stream(stderr);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/*---- 1 event quotas ----*/

/* 1.1 a computer flooding through the writer: batches are answered true
 * until its bytes for the day would pass event_quota_per_day, then false
 * (nothing past the quota is stored, a resend changes nothing), one warning
 * names the computer however many batches are refused; another computer is
 * not affected; the next UTC day the rest of the refused batch goes in */
static void test_day_quota(void **state)
{
	struct tsrv t;
	struct tclient a, b;
	struct server_report_stats st;
	int64_t day = 0, store = 0, quota = 64 * 1024;
	int accepted = 0, refused = 0, status;
	char *body = NULL, *resp, needle[128];
	FILE *log;

	(void)state;
	tsrv_open(&t, NULL);
	t.cfg->cl_event_quota_day = quota;
	tclient_init(&a, &t, "client-flood", NULL);
	tclient_init(&b, &t, "client-calm", NULL);
	tclient_handshake(&a, 1);
	tclient_handshake(&b, 1);
	start_writer(&t, NULL);
	log_set_verbosity(LOG_WARN);
	log = log_capture();
	for (int i = 0; i < 40 && refused < 5; i++) {
		free(body);
		body = padded_batch(&a, "f0000000", i * 4, 4, 3000);  /* about 13 KB a batch */
		resp = report_post(&t, body, &status);
		assert_int_equal(status, 200);
		if (report_result(resp))
			accepted++;
		else
			refused++;
		free(resp);
	}
	snprintf(needle, sizeof(needle), "computer=%s", "client-flood");
	assert_int_equal(log_count(log, needle), 1);
	log_set_verbosity(LOG_ERR);
	assert_int_equal(refused, 5);
	assert_true(accepted >= 3 && accepted <= 5);
	usage(&t, "client-flood", &day, &store);
	assert_true(day <= quota);
	assert_true(day > quota - 4 * 3500);   /* stopped by the quota, not before */
	assert_true(store == day);
	report_ok(&t, body, "false");          /* the resend of a refused batch */
	usage(&t, "client-flood", &day, &store);
	assert_true(store <= quota);
	server_report_get_stats(&t.srv, &st);
	assert_true(st.refused > 0);
	free(body);
	body = example_for(&b, EX18);
	report_ok(&t, body, "true");
	free(body);
	server_report_stop(&t.srv);
	{
		/* tomorrow: the last refused batch, sent again, is stored */
		struct storage_report_batch one;
		struct storage_report_event ev[4];
		struct storage_report_quota q = { .day_bytes = quota };
		char ids[4][WSUS_GUID_LEN], pad[3001];
		struct err e = { 0 };
		int64_t now = wsus_now_ms(), before = store;

		memset(pad, 'x', 3000);
		pad[3000] = '\0';
		memset(ev, 0, sizeof(ev));
		for (int i = 0; i < 4; i++) {
			snprintf(ids[i], sizeof(ids[i]), "f0000000-0000-0000-0000-%012d", 1000 + i);
			ev[i].instance_id = ids[i];
			ev[i].computer_id = "client-flood";
			ev[i].received_ms = now + DAY_MS;
			ev[i].namespace_id = 1;
			ev[i].event_id = 147;
			ev[i].replacement = pad;        /* as big as the flood's: over today's quota */
		}
		memset(&one, 0, sizeof(one));
		one.computer_id = "client-flood";
		one.ev = ev;
		one.n = 4;
		assert_int_equal(storage_report_put_batches(t.st, &one, 1, &q, now, &e), 0);
		assert_int_equal(one.verdict, STORAGE_REPORT_OVER_DAY);
		assert_int_equal(one.inserted, 0);
		assert_int_equal(storage_report_put_batches(t.st, &one, 1, &q, now + DAY_MS, &e), 0);
		assert_int_equal(one.verdict, STORAGE_REPORT_STORED);
		assert_int_equal(one.inserted, 4);
		usage(&t, "client-flood", &day, &store);
		assert_true(store > before);
	}
	tclient_free(&a);
	tclient_free(&b);
	tsrv_close(&t);
}

/* 1.2 the store ceiling, without a writer: two computers fill the store
 * until batches are refused (the store never passes event_store_max);
 * maintenance then removes the oldest events down to 8/10 of it, and
 * reports are taken again */
static void test_store_ceiling(void **state)
{
	struct storage_maint_policy p = { 0 };
	struct storage_maint_result r;
	struct tsrv t;
	struct tclient a, b;
	struct err e = { 0 };
	int64_t day = 0, store = 0, ceiling = 100 * 1024;
	int refused = 0, status;
	char *body, *resp;

	(void)state;
	tsrv_open(&t, NULL);
	t.cfg->cl_event_store_max = ceiling;
	tclient_init(&a, &t, "client-one", NULL);
	tclient_init(&b, &t, "client-two", NULL);
	tclient_handshake(&a, 1);
	tclient_handshake(&b, 1);
	for (int i = 0; i < 40 && refused < 2; i++) {
		body = padded_batch(i % 2 ? &b : &a, i % 2 ? "b0000000" : "a0000000", i * 2, 2, 4000);
		resp = report_post(&t, body, &status);
		refused += report_result(resp) == 0;
		free(resp);
		free(body);
	}
	assert_int_equal(refused, 2);
	usage(&t, "client-one", &day, &store);
	assert_true(store <= ceiling);
	assert_true(store > ceiling - 2 * 4500);
	p.now_ms = wsus_now_ms();
	p.event_max_bytes = ceiling;
	assert_int_equal(storage_maintain(t.st, &p, &r, &e), 0);
	assert_true(r.events_over_bytes > 0);
	usage(&t, "client-one", &day, &store);
	assert_true(store <= ceiling / 10 * 8);
	assert_true(store > ceiling / 10 * 8 - 4500);
	body = padded_batch(&a, "c0000000", 0, 2, 4000);
	report_ok(&t, body, "true");
	free(body);
	/* below 9/10: maintenance leaves the store alone */
	assert_int_equal(storage_maintain(t.st, &p, &r, &e), 0);
	assert_int_equal(r.events_over_bytes, 0);
	tclient_free(&a);
	tclient_free(&b);
	tsrv_close(&t);
}

/* The stored MiscData of an event. */
static char *stored_misc(struct tsrv *t, const char *instance_id)
{
	char path[512], *out = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	snprintf(path, sizeof(path), "%s/wsus.db", t->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT misc_data FROM event WHERE event_instance_id = ?1", -1,
					    &s, NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, instance_id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		out = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

/* 1.3 a 156 event's update lists become status rows and are stored as
 * their length; its other MiscData stays as sent */
static void test_status_lists_stored_as_counts(void **state)
{
	struct tsrv t;
	struct tclient a;
	struct wsus_buf ev;
	char *body, *misc;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-lists", NULL);
	tclient_handshake(&a, 1);
	wsus_buf_init(&ev, 1u << 20);
	add_event(&ev, "e0000000-0000-0000-0000-000000000001", 156, NULL, "2025-03-01T11:00:00",
		  "<string>V=" U1 ";" U2 ";" U3 "</string><string>U=" U4 "</string><string>G=10.0.1</string>"
		  "<string>W=</string>");
	body = batch_body(&a, ev.data);
	report_ok(&t, body, "true");
	free(body);
	wsus_buf_free(&ev);
	misc = stored_misc(&t, "e0000000-0000-0000-0000-000000000001");
	assert_non_null(misc);
	assert_string_equal(misc, "V=#3\nU=#1\nG=10.0.1\nW=");
	free(misc);
	tclient_free(&a);
	tsrv_close(&t);
}

/*---- 2 registration ----*/

static void register_expect(struct tclient *c, const char *fault)
{
	int status;
	char *resp = tclient_register(c, &status), *code;

	if (fault == NULL) {
		if (status != 200)
			fail_msg("RegisterComputer of %s refused: %.1000s", c->id, resp);
	} else {
		assert_int_equal(status, 500);
		code = tx_fault_code(resp);
		if (code == NULL || strcmp(code, fault) != 0)
			fail_msg("want %s, got %s: %.1000s", fault, code ? code : "no ErrorCode", resp);
		free(code);
	}
	free(resp);
}

/* 2.1 past max_computers a new computer is refused with ServerBusy (its
 * report too: it is not registered), a known one registers again; once
 * expiry removed the others there is room */
static void test_registration_cap(void **state)
{
	struct storage_maint_policy p = { 0 };
	struct storage_maint_result r;
	struct tsrv t;
	struct tclient a, b, c;
	struct err e = { 0 };
	char *body;
	FILE *log;

	(void)state;
	tsrv_open(&t, NULL);
	t.cfg->cl_max_computers = 2;
	tclient_init(&a, &t, "client-1", NULL);
	tclient_init(&b, &t, "client-2", NULL);
	tclient_init(&c, &t, "client-3", NULL);
	tclient_handshake(&a, 1);
	tclient_handshake(&b, 1);
	tclient_handshake(&c, 0);
	log_set_verbosity(LOG_WARN);
	log = log_capture();
	register_expect(&c, "ServerBusy");
	assert_int_equal(log_count(log, "computer limit reached computer_id=client-3"), 1);
	log_set_verbosity(LOG_ERR);
	register_expect(&a, NULL);
	body = example_for(&c, EX16);
	report_ok(&t, body, "false");
	free(body);
	assert_int_equal(summary(&t).computers, 2);
	p.now_ms = wsus_now_ms();
	p.computer_before_ms = p.now_ms - 1000;   /* all were seen just now: none goes */
	assert_int_equal(storage_maintain(t.st, &p, &r, &e), 0);
	assert_int_equal(r.computers, 0);
	p.computer_before_ms = p.now_ms + 1000;
	assert_int_equal(storage_maintain(t.st, &p, &r, &e), 0);
	assert_int_equal(r.computers, 2);
	register_expect(&c, NULL);
	assert_int_equal(summary(&t).computers, 1);
	tclient_free(&a);
	tclient_free(&b);
	tclient_free(&c);
	tsrv_close(&t);
}

/* 2.2 register_per_minute: the address's burst registers, the next call is
 * ServerBusy and stores nothing */
static void test_registration_rate(void **state)
{
	struct tsrv t;
	struct tclient c[4];
	struct err e = { 0 };

	(void)state;
	tsrv_open(&t, NULL);
	assert_int_equal(server_limit_new(3, &t.srv.register_limit, &e), 0);
	for (int i = 0; i < 4; i++) {
		char id[32];

		snprintf(id, sizeof(id), "client-rate-%d", i);
		tclient_init(&c[i], &t, id, NULL);
		tclient_handshake(&c[i], 0);
		register_expect(&c[i], i < 3 ? NULL : "ServerBusy");
	}
	assert_int_equal(summary(&t).computers, 3);
	server_limit_free(t.srv.register_limit);
	t.srv.register_limit = NULL;
	for (int i = 0; i < 4; i++)
		tclient_free(&c[i]);
	tsrv_close(&t);
}

/* 2.3 expiry removes a computer with its update status, keeps its events
 * (retention removes those), and the writer's start runs it from
 * computer_expiry_days */
static void test_expiry(void **state)
{
	struct storage_maint_policy p = { 0 };
	struct storage_maint_result r;
	struct storage_report_summary s;
	struct tsrv t;
	struct tclient a;
	struct err e = { 0 };
	struct server_report_stats st;
	char *body;

	(void)state;
	tsrv_open(&t, NULL);
	tclient_init(&a, &t, "client-gone", NULL);
	tclient_handshake(&a, 1);
	body = example_for(&a, EX17);
	report_ok(&t, body, "true");
	free(body);
	s = summary(&t);
	assert_int_equal(s.computers, 1);
	assert_true(s.by_status[4] > 10);
	p.now_ms = wsus_now_ms() + 31 * DAY_MS;
	p.computer_before_ms = p.now_ms - 30 * DAY_MS;
	assert_int_equal(storage_maintain(t.st, &p, &r, &e), 0);
	assert_int_equal(r.computers, 1);
	s = summary(&t);
	assert_int_equal(s.computers, 0);
	assert_int_equal(s.by_status[4], 0);
	assert_int_equal(s.events, 2);
	/* the writer's maintenance at start: 0 days would be "never" */
	tclient_handshake(&a, 1);
	t.cfg->cl_computer_expiry_days = 0;
	start_writer(&t, NULL);
	server_report_flush(&t.srv);
	server_report_get_stats(&t.srv, &st);
	assert_int_equal(st.expired, 0);
	assert_int_equal(summary(&t).computers, 1);
	server_report_stop(&t.srv);
	tclient_free(&a);
	tsrv_close(&t);
}

/*---- 3 the limiter ----*/

/* 3.1 a burst of per_minute calls, then one per 60/per_minute seconds;
 * addresses are counted apart, IPv6 per /64, IPv4-mapped as IPv4 */
static void test_limiter(void **state)
{
	struct server_limit *l = NULL;
	struct err e = { 0 };
	int64_t t0 = 1000000;
	int n = 0;

	(void)state;
	assert_int_equal(server_limit_new(0, &l, &e), -EINVAL);
	assert_int_equal(server_limit_new(6, &l, &e), 0);
	for (int i = 0; i < 10; i++)
		n += server_limit_take(l, "192.0.2.1", t0);
	assert_int_equal(n, 6);
	assert_int_equal(server_limit_take(l, "::ffff:192.0.2.1", t0), 0);
	assert_int_equal(server_limit_take(l, "192.0.2.2", t0), 1);
	assert_int_equal(server_limit_take(l, "192.0.2.1", t0 + 9000), 0);    /* 0.9 of a call */
	assert_int_equal(server_limit_take(l, "192.0.2.1", t0 + 10000), 1);   /* one more */
	assert_int_equal(server_limit_take(l, "192.0.2.1", t0 + 10000), 0);
	for (n = 0; n < 6; n++)
		assert_int_equal(server_limit_take(l, "2001:db8:0:1::1", t0), 1);
	assert_int_equal(server_limit_take(l, "2001:db8:0:1:ffff::2", t0), 0);  /* same /64 */
	assert_int_equal(server_limit_take(l, "2001:db8:0:2::1", t0), 1);
	n = 0;
	for (int i = 0; i < 10; i++)
		n += server_limit_take(l, "192.0.2.1", t0 + 10000 + 60000);
	assert_int_equal(n, 6);                                                /* full again, not more */
	assert_int_equal(server_limit_take(NULL, "192.0.2.1", t0), 1);
	server_limit_free(l);
}

/* 3.2 many addresses cannot grow the table: after thousands of others, the
 * limit still holds for an address that is calling */
static void test_limiter_many_addresses(void **state)
{
	struct server_limit *l = NULL;
	struct err e = { 0 };
	char addr[64];

	(void)state;
	assert_int_equal(server_limit_new(2, &l, &e), 0);
	assert_int_equal(server_limit_take(l, "198.51.100.7", 0), 1);
	assert_int_equal(server_limit_take(l, "198.51.100.7", 0), 1);
	for (int i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		server_limit_take(l, addr, 0);
		if (i % 100 == 0)   /* the caller keeps calling: its bucket stays in use and empty */
			assert_int_equal(server_limit_take(l, "198.51.100.7", 1 + i / 100), 0);
	}
	server_limit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_day_quota),
		cmocka_unit_test(test_store_ceiling),
		cmocka_unit_test(test_status_lists_stored_as_counts),
		cmocka_unit_test(test_registration_cap),
		cmocka_unit_test(test_registration_rate),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_limiter),
		cmocka_unit_test(test_limiter_many_addresses),
	};

	log_set_verbosity(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
