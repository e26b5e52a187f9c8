/*
 * test_server_scanstate.c -- the prepared scan state (server_scanstate.c)
 * across catalogue anchors, against a generated catalogue.
 *   1 a new approval brings a new state; a reference to the old one still
 *     reads the old closure, unchanged; the current one is shared;
 *   2 threads taking states while approvals commit each get a whole state,
 *     equal to the closure storage computes for that state's anchor;
 *   3 a client whose scan straddles an approval ends with exactly what a
 *     client scanning afterwards is offered, each revision once;
 *   4 the state's prerequisite test equals a direct reading of the
 *     documents (every clause names an installed update);
 *   5 GetExtendedUpdateInfo answers are memoised per state: the same request
 *     names the kept answer, another coding or id list does not, and a new
 *     anchor starts with nothing kept;
 *   6 SyncUpdates answers are kept round the cookie: in every coding a
 *     second client with the same lists is answered from what the first
 *     left, is offered exactly what an unkept scan offers, and gets its own
 *     cookie; a delta (nothing new) is kept too; a new anchor keeps nothing;
 *   7 the database generation: the poller moves it when another connection
 *     commits; while it stands a worker answers from its own references
 *     (an approval made meanwhile is not seen), once it moves the approval is.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_server_client_util.h"

#define GROUP_ALL_ID "a0a08746-4dbe-4a37-9adf-9e7652c0b421"

static struct tcat cat;

static int group_setup(void **state)
{
	(void)state;
	log_set_verbosity(getenv("WSUS_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR);
	tcat_make(&cat, 11, 300, 0);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tcat_free(&cat);
	return 0;
}

/* The software updates of the catalogue that can be approved (leaves and
 * bundles), in catalogue order. */
static size_t approvable(const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cat.n && n < max; i++) {
		const struct wsus_update *u = cat.u[i];

		if (u->type == WSUS_UT_SOFTWARE && tcat_latest(&cat, u->update_id) == u)
			out[n++] = u->update_id;
	}
	return n;
}

static void all_computers(struct storage_client_groups *g)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->ids[0], WSUS_GUID_LEN, "%s", GROUP_ALL_ID);
	g->n = 1;
}

static const struct server_scan *take(struct tsrv *t, struct storage *st)
{
	struct server_req req = { .srv = &t->srv, .st = st };
	struct storage_client_groups g;
	struct server_fault f = { 0 };
	const struct server_scan *s = NULL;

	all_computers(&g);
	if (server_scan_get(&req, &g, NULL, 0, &s, &f) < 0)
		fail_msg("server_scan_get: %s", f.message);
	return s;
}

static ptrdiff_t find_uid(const struct server_scan *s, const char *uid)
{
	for (size_t i = 0; i < server_scan_count(s); i++)
		if (strcmp(server_scan_rev(s, i)->update_id, uid) == 0)
			return (ptrdiff_t)i;
	return -1;
}

/*---- 1. A swap leaves the old state whole ----*/

static void test_new_anchor_brings_a_new_state_and_the_old_one_stays_whole(void **state)
{
	const char *ids[64];
	const struct server_scan *s1, *s2, *s3;
	size_t n = approvable(ids, 64), n1, later;
	int64_t first;
	struct tsrv t;

	(void)state;
	assert_true(n >= 4);
	tsrv_open(&t, &cat);
	tsrv_approve(&t, ids[0], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	s1 = take(&t, t.st);
	n1 = server_scan_count(s1);
	first = server_scan_rev(s1, 0)->revision_id;
	assert_true(find_uid(s1, ids[0]) >= 0);
	/* ids[later]: an update the first closure does not hold */
	for (later = 1; later < n && find_uid(s1, ids[later]) >= 0; later++)
		;
	assert_true(later < n);
	/* the same anchor: the same state */
	s2 = take(&t, t.st);
	assert_ptr_equal(s1, s2);
	server_scan_put(s2);

	tsrv_approve(&t, ids[later], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	s3 = take(&t, t.st);
	assert_ptr_not_equal(s1, s3);
	assert_true(server_scan_anchor(s3) > server_scan_anchor(s1));
	assert_true(find_uid(s3, ids[later]) >= 0);
	/* the old reference still reads its own closure */
	assert_int_equal(server_scan_count(s1), n1);
	assert_int_equal(server_scan_rev(s1, 0)->revision_id, first);
	assert_int_equal(find_uid(s1, ids[later]), -1);
	server_scan_put(s1);
	server_scan_put(s3);
	tsrv_close(&t);
}

/*---- 2. Threads across approvals ----*/

#define RACE_THREADS   4
#define RACE_APPROVALS 12
#define RACE_SEEN      4096

struct race {
	struct tsrv *t;
	int64_t anchors[RACE_APPROVALS + 1];   /* after each approval, and its closure size */
	size_t sizes[RACE_APPROVALS + 1];
	int n_known;
	volatile int stop;
};

struct racer {
	struct race *r;
	pthread_t th;
	int64_t seen_anchor[RACE_SEEN];
	size_t seen_size[RACE_SEEN];
	size_t n_seen;
	int bad;
};

static void *racer_run(void *arg)
{
	struct racer *me = arg;
	struct storage *st = NULL;
	struct err e = { 0 };

	if (storage_open(me->r->t->dir, NULL, &st, &e) < 0) {
		me->bad = 1;
		return NULL;
	}
	while (!me->r->stop && me->n_seen < RACE_SEEN) {
		const struct server_scan *s = take(me->r->t, st);
		size_t n = server_scan_count(s);

		/* whole: sorted by RevisionID, and every index finds itself */
		for (size_t i = 1; i < n; i++)
			if (server_scan_rev(s, i - 1)->revision_id >= server_scan_rev(s, i)->revision_id)
				me->bad = 1;
		for (size_t i = 0; i < n; i++)
			if (server_scan_find(s, server_scan_rev(s, i)->revision_id) != (ptrdiff_t)i)
				me->bad = 1;
		me->seen_anchor[me->n_seen] = server_scan_anchor(s);
		me->seen_size[me->n_seen++] = n;
		server_scan_put(s);
	}
	storage_close(st);
	return NULL;
}

static size_t closure_size(struct storage *st, int64_t *anchor)
{
	struct storage_client_groups g;
	struct storage_client_scan c;
	struct err e = { 0 };
	size_t n;

	all_computers(&g);
	if (storage_client_scan_build(st, &g, NULL, 0, &c, &e) < 0)
		fail_msg("build: %s", e.msg);
	n = c.n;
	*anchor = c.anchor;
	storage_client_scan_free(&c);
	return n;
}

static void test_threads_across_approvals_see_whole_states_of_their_anchor(void **state)
{
	const char *ids[RACE_APPROVALS];
	static struct racer racers[RACE_THREADS];
	static struct race r;
	struct tsrv t;
	size_t n = approvable(ids, RACE_APPROVALS);

	(void)state;
	assert_int_equal(n, RACE_APPROVALS);
	tsrv_open(&t, &cat);
	memset(&r, 0, sizeof(r));
	r.t = &t;
	r.sizes[0] = closure_size(t.st, &r.anchors[0]);
	r.n_known = 1;
	memset(racers, 0, sizeof(racers));
	for (int i = 0; i < RACE_THREADS; i++) {
		racers[i].r = &r;
		assert_int_equal(pthread_create(&racers[i].th, NULL, racer_run, &racers[i]), 0);
	}
	for (size_t k = 0; k < n; k++) {
		tsrv_approve(&t, ids[k], "All Computers", STORAGE_ACTION_INSTALL, NULL);
		r.sizes[r.n_known] = closure_size(t.st, &r.anchors[r.n_known]);
		r.n_known++;
	}
	r.stop = 1;
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(racers[i].th, NULL);
	assert_true(r.sizes[r.n_known - 1] > r.sizes[0]);
	for (int i = 0; i < RACE_THREADS; i++) {
		assert_false(racers[i].bad);
		assert_true(racers[i].n_seen > 0);
		for (size_t k = 0; k < racers[i].n_seen; k++) {
			int found = 0;

			for (int a = 0; a < r.n_known && !found; a++)
				if (r.anchors[a] == racers[i].seen_anchor[k]) {
					assert_int_equal(racers[i].seen_size[k], r.sizes[a]);
					found = 1;
				}
			if (!found)
				fail_msg("a state of anchor %lld that no approval made",
					 (long long)racers[i].seen_anchor[k]);
		}
	}
	tsrv_close(&t);
}

/*---- 3. A scan that straddles an approval ----*/

static void test_scan_straddling_an_approval_ends_with_what_a_new_client_gets(void **state)
{
	const char *ids[40];
	size_t n = approvable(ids, 40);
	struct tclient a, b;
	struct tsrv t;
	char *answer;
	int status;

	(void)state;
	assert_true(n >= 40);
	tsrv_open(&t, &cat);
	for (size_t i = 0; i < 30; i++)
		tsrv_approve(&t, ids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	tclient_init(&a, &t, "3f7a0c1e-52a4-4f55-9d0b-6c1f3d9e2a10", "");
	tclient_handshake(&a, 1);
	/* two pages in: the scan is under way (more to come) */
	for (int page = 0; page < 2; page++) {
		answer = tclient_sync(&a, &status);
		assert_int_equal(status, 200);
		assert_non_null(strstr(answer, "<UpdateInfo>"));
		free(answer);
	}
	/* the catalogue moves in the middle of the scan */
	for (size_t i = 30; i < 40; i++)
		tsrv_approve(&t, ids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	tclient_scan(&a);

	tclient_init(&b, &t, "8d1e2f3a-4b5c-4d6e-8f70-0a1b2c3d4e5f", "");
	tclient_handshake(&b, 1);
	tclient_scan(&b);
	assert_int_equal(a.n_offers, b.n_offers);
	for (size_t i = 0; i < a.n_offers; i++) {
		const struct toffer *o = tclient_offer(&b, a.offers[i].uid);

		assert_non_null(o);
		assert_int_equal(o->id, a.offers[i].id);
		for (size_t k = i + 1; k < a.n_offers; k++)
			assert_int_not_equal(a.offers[k].id, a.offers[i].id);
	}
	tclient_free(&a);
	tclient_free(&b);
	tsrv_close(&t);
}

/*---- 4. Prerequisites from the documents ----*/

static int installed_has(const char *const *uids, size_t n, const char *uid)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(uids[i], uid) == 0)
			return 1;
	return 0;
}

/* Every clause of u names one of the installed updates. */
static int doc_met(const struct wsus_update *u, const char *const *inst, size_t n_inst)
{
	for (size_t k = 0; k < u->n_prereqs; k++) {
		int clause = u->prereqs[k].clause, met = 0;

		for (size_t j = 0; j < u->n_prereqs; j++)
			if (u->prereqs[j].clause == clause && installed_has(inst, n_inst, u->prereqs[j].update_id))
				met = 1;
		if (!met)
			return 0;
	}
	return 1;
}

static void test_prerequisite_test_matches_the_documents(void **state)
{
	const char *ids[64], *inst_uids[64];
	int64_t inst_ids[64];
	size_t n = approvable(ids, 64), n_inst = 0, checked = 0;
	const struct server_scan *s;
	uint64_t *bits;
	struct tsrv t;

	(void)state;
	tsrv_open(&t, &cat);
	for (size_t i = 0; i < n; i++)
		tsrv_approve(&t, ids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	s = take(&t, t.st);
	/* install every other non-leaf revision of the closure */
	for (size_t i = 0; i < server_scan_count(s) && n_inst < 64; i++) {
		const struct storage_client_rev *r = server_scan_rev(s, i);

		if (!r->is_leaf && i % 2 == 0) {
			inst_ids[n_inst] = r->revision_id;
			inst_uids[n_inst++] = r->update_id;
		}
	}
	assert_true(n_inst > 2);
	bits = calloc(server_scan_words(s) + 1, sizeof(*bits));
	assert_non_null(bits);
	server_scan_installed(s, inst_ids, n_inst, bits);
	for (size_t i = 0; i < server_scan_count(s); i++) {
		const struct storage_client_rev *r = server_scan_rev(s, i);
		const struct wsus_update *u = tcat_latest(&cat, r->update_id);

		assert_non_null(u);
		assert_int_equal(server_scan_met(s, i, bits), doc_met(u, inst_uids, n_inst));
		checked += u->n_prereqs > 0;
	}
	assert_true(checked > 10);
	free(bits);
	server_scan_put(s);
	tsrv_close(&t);
}

/*---- 5. Memoised answers ----*/

/* Run one GetExtendedUpdateInfo as server.c does (memo_ok), keeping the
 * answer on a miss; returns the answer and whether it was a hit. */
static char *eui_memo(struct tclient *c, const int64_t *ids, size_t n, const char *coding, int *hit)
{
	struct wsus_buf b;
	struct server_req req;
	struct server_resp resp;
	char *ck = tclient_cookie_xml(c), *out;

	wsus_buf_init(&b, 1u << 20);
	assert_int_equal(wsus_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope"
					 " xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
					 "<GetExtendedUpdateInfo xmlns=\"" PROTOCOL_NS_CLIENT "\">%s<revisionIDs>", ck), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(wsus_buf_printf(&b, "<int>%lld</int>", (long long)ids[i]), 0);
	assert_int_equal(wsus_buf_appends(&b, "</revisionIDs><infoTypes><XmlUpdateFragmentType>Extended"
					  "</XmlUpdateFragmentType></infoTypes><locales><string>en</string></locales>"
					  "</GetExtendedUpdateInfo></soap:Body></soap:Envelope>"), 0);
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.srv = &c->t->srv;
	req.method = "POST";
	req.path = "/ClientWebService/Client.asmx";
	req.body = b.data;
	req.body_len = b.len;
	req.st = c->t->st;
	req.accept_encoding = coding;
	req.memo_ok = 1;
	server_soap_dispatch(&req, &server_client_service, &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(req.memo_state);
	*hit = req.memo_hit;
	assert_true(server_encode_answer(&req, &resp.status, &resp.body) == NULL || coding != NULL);
	assert_null(req.memo_state);
	out = strndup(resp.body.data, resp.body.len);
	wsus_buf_free(&resp.body);
	wsus_buf_free(&b);
	free(ck);
	assert_non_null(out);
	return out;
}

static void test_extended_info_is_memoised_per_state(void **state)
{
	const char *ids[8];
	size_t n = approvable(ids, 8);
	int64_t rev[3];
	struct tclient c;
	struct tsrv t;
	char *a1, *a2, *a3, *a4, *a5;
	int hit;

	(void)state;
	tsrv_open(&t, &cat);
	for (size_t i = 0; i < 4 && i < n; i++)
		tsrv_approve(&t, ids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	tclient_init(&c, &t, "6a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	assert_true(c.n_offers >= 3);
	for (int i = 0; i < 3; i++)
		rev[i] = c.offers[i].id;
	a1 = eui_memo(&c, rev, 3, NULL, &hit);
	assert_false(hit);
	assert_non_null(strstr(a1, "<Update><ID>"));
	a2 = eui_memo(&c, rev, 3, NULL, &hit);
	assert_true(hit);
	assert_string_equal(a1, a2);
	/* another coding asked for, another id list: not the same answer */
	a3 = eui_memo(&c, rev, 3, "gzip", &hit);
	assert_false(hit);
	a4 = eui_memo(&c, rev, 2, NULL, &hit);
	assert_false(hit);
	/* a new anchor: a new state, nothing kept */
	tsrv_approve(&t, ids[5], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	a5 = eui_memo(&c, rev, 3, NULL, &hit);
	assert_false(hit);
	assert_string_equal(a1, a5);
	free(a1);
	free(a2);
	free(a3);
	free(a4);
	free(a5);
	tclient_free(&c);
	tsrv_close(&t);
}

/*---- 6. SyncUpdates kept round the cookie ----*/

static void scan_as(struct tsrv *t, struct tclient *c, const char *id)
{
	tclient_init(c, t, id, "");
	tclient_handshake(c, 1);
	tclient_scan(c);
}

static void assert_same_offers(const struct tclient *a, const struct tclient *b)
{
	assert_int_equal(a->n_offers, b->n_offers);
	for (size_t i = 0; i < a->n_offers; i++) {
		assert_int_equal(a->offers[i].id, b->offers[i].id);
		assert_int_equal(a->offers[i].is_leaf, b->offers[i].is_leaf);
	}
}

/* One more SyncUpdates of a scanned client: nothing new. */
static void delta(struct tclient *c)
{
	int status;
	char *answer = tclient_sync(c, &status);

	assert_int_equal(status, 200);
	assert_null(strstr(answer, "<UpdateInfo>"));
	assert_non_null(strstr(answer, "<NewCookie>"));
	free(answer);
}

static void test_sync_answers_are_kept_round_the_cookie(void **state)
{
	static const char *const codings[] = { NULL, "gzip", "xpress" };
	static const char *const ids[][2] = {
		{ "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002" },
		{ "22222222-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002" },
		{ "33333333-0000-4000-8000-000000000001", "33333333-0000-4000-8000-000000000002" },
	};
	const char *uids[60];
	size_t n = approvable(uids, 60);
	struct tclient ref, a, b, c, d;
	struct tsrv t;

	(void)state;
	assert_true(n >= 50);
	tsrv_open(&t, &cat);
	for (size_t i = 0; i < 40; i++)
		tsrv_approve(&t, uids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	scan_as(&t, &ref, "0aaaaaaa-0000-4000-8000-000000000000");
	assert_true(ref.pages >= 3);      /* several pages: non-leaf first, then the rest */
	t.memo = 1;
	for (size_t k = 0; k < 3; k++) {
		t.coding = codings[k];
		t.memo_hits = 0;
		scan_as(&t, &a, ids[k][0]);
		assert_int_equal(t.memo_hits, 0);         /* this coding's first client computes */
		scan_as(&t, &b, ids[k][1]);
		assert_int_equal(t.memo_hits, b.pages);   /* the second is answered from it */
		assert_same_offers(&ref, &a);
		assert_same_offers(&ref, &b);
		assert_string_not_equal(a.cookie, b.cookie);
		/* a delta asks what the scan's last (empty) page asked */
		t.memo_hits = 0;
		delta(&a);
		delta(&b);
		assert_int_equal(t.memo_hits, 2);
		/* another list is another answer: b forgets one update it holds */
		{
			int status;
			char *answer;

			char *body;

			assert_true(b.n_other > 0);
			b.n_other--;
			body = tclient_sync_body(&b, NULL);
			answer = tsrv_call(&t, &server_client_service, body, &status);
			free(body);
			assert_int_equal(status, 200);
			assert_int_equal(t.memo_hits, 2);
			assert_non_null(strstr(answer, "<UpdateInfo>"));
			free(answer);
		}
		tclient_free(&a);
		tclient_free(&b);
	}
	/* A new anchor: nothing kept; what is offered is what an unkept scan offers. */
	for (size_t i = 40; i < 50; i++)
		tsrv_approve(&t, uids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	t.coding = "gzip";
	t.memo_hits = 0;
	scan_as(&t, &c, "0ccccccc-0000-4000-8000-000000000000");
	assert_int_equal(t.memo_hits, 0);
	t.memo = 0;
	scan_as(&t, &d, "0ddddddd-0000-4000-8000-000000000000");
	assert_same_offers(&c, &d);
	assert_true(c.n_offers > ref.n_offers);
	tclient_free(&ref);
	tclient_free(&c);
	tclient_free(&d);
	tsrv_close(&t);
}

/*---- 7. The database generation ----*/

/* 7.1 another connection's commit moves the generation within a second */
static void test_generation_moves_on_a_commit(void **state)
{
	struct storage *other = NULL;
	struct err e = { 0 };
	struct tsrv t;
	uint64_t g0;

	(void)state;
	tsrv_open(&t, &cat);
	assert_int_equal(server_fresh_gen(&t.srv), 0);      /* no poller: read the database */
	assert_int_equal(server_fresh_start(&t.srv, &e), 0);
	g0 = server_fresh_gen(&t.srv);
	assert_true(g0 >= 1);
	assert_int_equal(storage_open(t.dir, NULL, &other, &e), 0);
	assert_int_equal(storage_group_add(other, "Moved", NULL, &e), 0);
	for (int i = 0; i < 100 && server_fresh_gen(&t.srv) == g0; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	assert_true(server_fresh_gen(&t.srv) > g0);
	storage_close(other);
	server_fresh_stop(&t.srv);
	assert_int_equal(server_fresh_gen(&t.srv), 0);
	tsrv_close(&t);
}

/* 7.2 with the generation held still, scans come from this thread's
 * references even after an approval; when it moves, the approval is seen */
static void test_scans_follow_the_generation(void **state)
{
	const char *uids[40];
	size_t n = approvable(uids, 40);
	struct tclient a, b, c;
	struct tsrv t;

	(void)state;
	assert_true(n >= 30);
	tsrv_open(&t, &cat);
	for (size_t i = 0; i < 20; i++)
		tsrv_approve(&t, uids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	t.srv.instance = 77;
	atomic_store(&t.srv.db_gen, 5);                    /* a poller that has seen nothing */
	tclient_init(&a, &t, "5a5a5a5a-0000-4000-8000-000000000001", "");
	tclient_handshake(&a, 1);
	tclient_scan(&a);
	for (size_t i = 20; i < 30; i++)
		tsrv_approve(&t, uids[i], "All Computers", STORAGE_ACTION_INSTALL, NULL);
	tclient_init(&b, &t, "5a5a5a5a-0000-4000-8000-000000000002", "");
	tclient_handshake(&b, 1);
	tclient_scan(&b);
	assert_int_equal(b.n_offers, a.n_offers);          /* answered from the kept state */
	atomic_store(&t.srv.db_gen, 6);                    /* the poller saw the approvals */
	tclient_init(&c, &t, "5a5a5a5a-0000-4000-8000-000000000003", "");
	tclient_handshake(&c, 1);
	tclient_scan(&c);
	assert_true(c.n_offers > a.n_offers);
	server_scan_locals_drop();
	atomic_store(&t.srv.db_gen, 0);
	tclient_free(&a);
	tclient_free(&b);
	tclient_free(&c);
	tsrv_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_anchor_brings_a_new_state_and_the_old_one_stays_whole),
		cmocka_unit_test(test_threads_across_approvals_see_whole_states_of_their_anchor),
		cmocka_unit_test(test_scan_straddling_an_approval_ends_with_what_a_new_client_gets),
		cmocka_unit_test(test_prerequisite_test_matches_the_documents),
		cmocka_unit_test(test_extended_info_is_memoised_per_state),
		cmocka_unit_test(test_sync_answers_are_kept_round_the_cookie),
		cmocka_unit_test(test_generation_moves_on_a_commit),
		cmocka_unit_test(test_scans_follow_the_generation),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
