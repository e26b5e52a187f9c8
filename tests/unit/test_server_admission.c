/*
 * test_server_admission.c -- admission control of the front end, on a real
 * server on loopback (port 0) driven by libcurl over TLS: the bounded queue
 * answers 503 with Retry-After at once when full or when the wait it
 * expects passes queue_wait_ms, and for a request that waited past it; the per-address connection limit closes the
 * connections past it while another address is served; the parse budget
 * reaches the operation; server_stop refuses queued work, lets running work
 * finish within its grace period, and gives up on an operation that does
 * not end (returning at once rather than after it).
 * This binary brings its own service table: Echo answers at once, Slow
 * runs until the test releases it (an operation as slow as we want,
 * deterministically), Budget reports whether the request's budget is spent.
 * Each test starts its own server with its own limits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "config.h"
#include "server.h"
#include "server_int.h"

#define SLOW_MAX_MS 20000       /* a Slow operation never runs longer than this */

/*---- The service table of this binary ----*/

static atomic_int slow_running;    /* Slow operations inside their handler */
static atomic_int slow_release;    /* set: Slow operations return */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int op_echo(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		   struct server_fault *f)
{
	(void)req;
	(void)msg;
	(void)f;
	return wsus_buf_appends(out, "<EchoResponse xmlns=\"urn:test\"/>");
}

static int op_slow(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		   struct server_fault *f)
{
	(void)req;
	(void)msg;
	(void)f;
	atomic_fetch_add(&slow_running, 1);
	for (int waited = 0; !atomic_load(&slow_release) && waited < SLOW_MAX_MS; waited += 5)
		sleep_ms(5);
	atomic_fetch_sub(&slow_running, 1);
	return wsus_buf_appends(out, "<SlowResponse xmlns=\"urn:test\"/>");
}

/* <Over>before/after</Over>: the budget spent before and after 150 ms */
static int op_budget(struct server_req *req, struct protocol_req_msg *msg, struct wsus_buf *out,
		     struct server_fault *f)
{
	int before = server_req_over_budget(req);

	(void)msg;
	(void)f;
	sleep_ms(150);
	return wsus_buf_printf(out, "<BudgetResponse xmlns=\"urn:test\"><Over>%d/%d</Over></BudgetResponse>",
			       before, server_req_over_budget(req));
}

static const struct server_op test_ops[] = {
	{ "Echo", "urn:test/Echo", op_echo, 0, NULL },
	{ "Slow", "urn:test/Slow", op_slow, 0, NULL },
	{ "Budget", "urn:test/Budget", op_budget, 0, NULL },
};
static const char *const test_paths[] = { "/Test/Open.asmx", NULL };
static const struct server_service test_service = { test_paths, test_ops, 3, 0 };
const struct server_service *const server_services[] = { &test_service, NULL };

#define ENVELOPE(op) "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope " \
	"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>" \
	"<" op " xmlns=\"urn:test\"/></soap:Body></soap:Envelope>"

/*---- Fixture: a server with the limits a test sets ----*/

struct fixture {
	char dir[64];
	char ca[128];
	struct wsus_config *cfg;
	struct server *srv;
	char url[128];             /* https://127.0.0.1:port/Test/Open.asmx */
	int port;
};

static struct fixture *start(int threads, int per_worker, int wait_ms, int per_address, int budget_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct err e = { 0 };
	char fp[65];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/wsus-adm.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_default(f->dir, &f->cfg, &e), 0);
	free(f->cfg->srv_listen);
	f->cfg->srv_listen = strdup("127.0.0.1:0");
	f->cfg->srv_threads = threads;
	f->cfg->srv_queue_per_worker = per_worker;
	f->cfg->srv_queue_wait_ms = wait_ms;
	f->cfg->srv_max_per_address = per_address;
	f->cfg->srv_parse_budget_ms = budget_ms;
	f->cfg->srv_retry_after = 7;
	f->cfg->srv_timeout = 10;
	assert_int_equal(server_tls_ensure(f->cfg, fp, &e), 0);
	snprintf(f->ca, sizeof(f->ca), "%s/tls/server.crt", f->dir);
	if (server_start(f->cfg, &f->srv, &e) != 0)
		fail_msg("server_start: %s", e.msg);
	f->port = server_port(f->srv);
	snprintf(f->url, sizeof(f->url), "https://127.0.0.1:%d/Test/Open.asmx", f->port);
	atomic_store(&slow_release, 0);
	atomic_store(&slow_running, 0);
	return f;
}

/* Free the fixture; the server is stopped unless stopped is set. */
static void finish(struct fixture *f, int stopped)
{
	char cmd[128];

	if (!stopped)
		assert_int_equal(server_stop(f->srv), 0);
	config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

/*---- A libcurl call, on this thread or its own ----*/

struct call {
	const struct fixture *f;
	const char *body;
	const char *source;        /* local address to connect from, or NULL */
	pthread_t thread;
	int curl_rc;
	long status;
	char retry_after[16];      /* Retry-After, "" when none */
	char text[512];            /* the body (cut) */
	size_t len;
	int64_t ms;                /* how long the call took */
};

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
	struct call *c = cls;
	size_t take = size * n;

	if (take > sizeof(c->text) - 1 - c->len)
		take = sizeof(c->text) - 1 - c->len;
	memcpy(c->text + c->len, p, take);
	c->len += take;
	c->text[c->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct call *c = cls;
	size_t len = size * n;

	if (len > 13 && strncasecmp(p, "Retry-After: ", 13) == 0)
		snprintf(c->retry_after, sizeof(c->retry_after), "%.*s", (int)(len - 15), p + 13);
	return len;
}

static void call_run(struct call *c)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	int64_t t0 = wsus_now_ms();

	c->status = 0;
	c->len = 0;
	c->text[0] = '\0';
	c->retry_after[0] = '\0';
	assert_non_null(h);
	hd = curl_slist_append(hd, "Content-Type: text/xml; charset=utf-8");
	hd = curl_slist_append(hd, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, c->f->url);
	curl_easy_setopt(h, CURLOPT_CAINFO, c->f->ca);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (c->source != NULL)
		curl_easy_setopt(h, CURLOPT_INTERFACE, c->source);
	c->curl_rc = (int)curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	c->ms = wsus_now_ms() - t0;
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
}

static void *call_thread(void *arg)
{
	call_run(arg);
	return NULL;
}

static void call_start(struct call *c, const struct fixture *f, const char *body)
{
	memset(c, 0, sizeof(*c));
	c->f = f;
	c->body = body;
	assert_int_equal(pthread_create(&c->thread, NULL, call_thread, c), 0);
}

static void call_now(struct call *c, const struct fixture *f, const char *body, const char *source)
{
	memset(c, 0, sizeof(*c));
	c->f = f;
	c->body = body;
	c->source = source;
	call_run(c);
}

/* Wait (at most 5 s) until n Slow operations run. */
static void wait_running(int n)
{
	for (int i = 0; i < 1000 && atomic_load(&slow_running) != n; i++)
		sleep_ms(5);
	assert_int_equal(atomic_load(&slow_running), n);
}

/*---- Tests ----*/

/* 1. one worker, one queue place: a running Slow and a queued Slow fill it;
 * the next request gets 503 with Retry-After at once; once they finish,
 * both got 200 and the server answers again */
static void test_full_queue_answers_503_at_once(void **state)
{
	struct fixture *f = start(1, 1, 0, 0, 2000);
	struct call running, queued, refused, after;

	(void)state;
	call_start(&running, f, ENVELOPE("Slow"));
	wait_running(1);
	call_start(&queued, f, ENVELOPE("Slow"));
	sleep_ms(300);              /* it is read and waits in the queue */
	assert_int_equal(atomic_load(&slow_running), 1);
	call_now(&refused, f, ENVELOPE("Echo"), NULL);
	assert_int_equal(refused.curl_rc, CURLE_OK);
	assert_int_equal(refused.status, 503);
	assert_string_equal(refused.retry_after, "7");
	assert_true(refused.ms < 1000);
	atomic_store(&slow_release, 1);
	pthread_join(running.thread, NULL);
	pthread_join(queued.thread, NULL);
	assert_int_equal(running.status, 200);
	assert_int_equal(queued.status, 200);
	assert_non_null(strstr(queued.text, "SlowResponse"));
	call_now(&after, f, ENVELOPE("Echo"), NULL);
	assert_int_equal(after.status, 200);
	assert_non_null(strstr(after.text, "EchoResponse"));
	finish(f, 0);
}

/* 2. a request that waited past queue_wait_ms behind a slow one gets 503
 * (with Retry-After) instead of being run late */
static void test_late_request_answers_503(void **state)
{
	struct fixture *f = start(1, 8, 200, 0, 2000);
	struct call running, late, after;

	(void)state;
	call_start(&running, f, ENVELOPE("Slow"));
	wait_running(1);
	call_start(&late, f, ENVELOPE("Echo"));
	sleep_ms(600);
	atomic_store(&slow_release, 1);
	pthread_join(running.thread, NULL);
	pthread_join(late.thread, NULL);
	assert_int_equal(running.status, 200);
	assert_int_equal(late.status, 503);
	assert_string_equal(late.retry_after, "7");
	assert_null(strstr(late.text, "EchoResponse"));
	call_now(&after, f, ENVELOPE("Echo"), NULL);
	assert_int_equal(after.status, 200);
	finish(f, 0);
}

/* 2b. once operations have taken 300 ms or more, a request that would wait
 * behind one (queue_wait_ms = 200) gets 503 at once (while that one still
 * runs), with room left in the queue */
static void test_expected_wait_answers_503_at_once(void **state)
{
	struct fixture *f = start(1, 8, 200, 0, 2000);
	struct call first, running, refused, after;

	(void)state;
	call_start(&first, f, ENVELOPE("Slow"));             /* teaches the queue: >= 300 ms */
	wait_running(1);
	sleep_ms(300);
	atomic_store(&slow_release, 1);
	pthread_join(first.thread, NULL);
	assert_int_equal(first.status, 200);
	atomic_store(&slow_release, 0);
	call_start(&running, f, ENVELOPE("Slow"));
	wait_running(1);
	call_now(&refused, f, ENVELOPE("Echo"), NULL);
	assert_int_equal(refused.status, 503);
	assert_string_equal(refused.retry_after, "7");
	assert_true(refused.ms < 1000);        /* and while the Slow one still runs */
	assert_int_equal(atomic_load(&slow_running), 1);
	atomic_store(&slow_release, 1);
	pthread_join(running.thread, NULL);
	assert_int_equal(running.status, 200);
	call_now(&after, f, ENVELOPE("Echo"), NULL);            /* nothing ahead: admitted */
	assert_int_equal(after.status, 200);
	finish(f, 0);
}

/* A plain TCP connection to the server from source, left idle. */
static int idle_connection(int port, const char *source)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, source, &b.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	a.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* 3. max_connections_per_address = 3: three idle connections from
 * 127.0.0.1 use its share; a fourth from there is closed, while 127.0.0.2
 * is served; once one idle connection goes, 127.0.0.1 is served again */
static void test_per_address_limit(void **state)
{
	struct fixture *f = start(2, 8, 500, 3, 2000);
	struct call c;
	int fds[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		fds[i] = idle_connection(f->port, "127.0.0.1");
	sleep_ms(200);              /* accepted by the server */
	call_now(&c, f, ENVELOPE("Echo"), "127.0.0.1");
	assert_int_not_equal(c.curl_rc, CURLE_OK);
	assert_int_equal(c.status, 0);
	call_now(&c, f, ENVELOPE("Echo"), "127.0.0.2");
	assert_int_equal(c.curl_rc, CURLE_OK);
	assert_int_equal(c.status, 200);
	close(fds[0]);
	for (int i = 0; i < 100; i++) {
		call_now(&c, f, ENVELOPE("Echo"), "127.0.0.1");
		if (c.status == 200)
			break;
		sleep_ms(20);
	}
	assert_int_equal(c.status, 200);
	close(fds[1]);
	close(fds[2]);
	finish(f, 0);
}

/* 4. the budget set when the operation starts is spent 150 ms later with
 * parse_budget_ms = 100, and not at the start */
static void test_parse_budget_reaches_the_request(void **state)
{
	struct fixture *f = start(1, 8, 500, 0, 100);
	struct call c;

	(void)state;
	call_now(&c, f, ENVELOPE("Budget"), NULL);
	assert_int_equal(c.status, 200);
	assert_non_null(strstr(c.text, "<Over>0/1</Over>"));
	finish(f, 0);
}

static void *release_after_500ms(void *arg)
{
	(void)arg;
	sleep_ms(500);
	atomic_store(&slow_release, 1);
	return NULL;
}

/* 5. stopping: the queued request gets 503 at once, the running one
 * finishes (released 500 ms into the stop) with 200, and server_stop
 * returns 0 once it has, well within its grace period */
static void test_stop_refuses_queued_and_finishes_running(void **state)
{
	struct fixture *f = start(1, 4, 0, 0, 2000);
	struct call running, queued;
	pthread_t releaser;
	int64_t t0, took;

	(void)state;
	call_start(&running, f, ENVELOPE("Slow"));
	wait_running(1);
	call_start(&queued, f, ENVELOPE("Echo"));
	sleep_ms(300);
	assert_int_equal(pthread_create(&releaser, NULL, release_after_500ms, NULL), 0);
	t0 = wsus_now_ms();
	assert_int_equal(server_stop(f->srv), 0);
	took = wsus_now_ms() - t0;
	pthread_join(releaser, NULL);
	pthread_join(queued.thread, NULL);
	pthread_join(running.thread, NULL);
	assert_true(took >= 400 && took < 3000);
	assert_int_equal(queued.status, 503);
	assert_string_equal(queued.retry_after, "7");
	assert_int_equal(running.status, 200);
	assert_non_null(strstr(running.text, "SlowResponse"));
	finish(f, 1);
}

/* The server of test 6, which outlives its test (its worker still runs). */
static struct fixture *abandoned;

/* 6. an operation that does not end: server_stop gives up after its grace
 * period (3 s), well within the 5 s serve has after SIGTERM, and says one
 * operation is still running. (Last: the server is left to process exit.) */
static void test_stop_gives_up_on_endless_operation(void **state)
{
	struct call running;
	int64_t t0, took;
	int left;
	char cmd[128];

	(void)state;
	abandoned = start(1, 4, 0, 0, 2000);
	call_start(&running, abandoned, ENVELOPE("Slow"));
	wait_running(1);
	t0 = wsus_now_ms();
	left = server_stop(abandoned->srv);
	took = wsus_now_ms() - t0;
	assert_int_equal(left, 1);
	assert_true(took >= 2900 && took < 4500);
	atomic_store(&slow_release, 1);
	pthread_join(running.thread, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", abandoned->dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_queue_answers_503_at_once),
		cmocka_unit_test(test_late_request_answers_503),
		cmocka_unit_test(test_expected_wait_answers_503_at_once),
		cmocka_unit_test(test_per_address_limit),
		cmocka_unit_test(test_parse_budget_reaches_the_request),
		cmocka_unit_test(test_stop_refuses_queued_and_finishes_running),
		cmocka_unit_test(test_stop_gives_up_on_endless_operation),
	};
	int rc;

	log_set_verbosity(LOG_ERR);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
