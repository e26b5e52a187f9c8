/*
 * test_sync_rollup.c -- the reporting rollup end to end in one process
 * (MS-WSUSSS 3.2.4.5): three tiers, each a storage with the upstream-role
 * server around it (test_server_sss_util). Tier 2 holds computers that
 * registered and reported; its sync context posts to tier 1's Reporting
 * service, and tier 1's to tier 0's. Every request our DSS sends and every
 * answer our USS gives is validated against ReportingWebService-sss.xsd.
 * Checked: tier 0 stores tier 2's computers under tier 2 with their update
 * states and real summary counts; a rollup with nothing new sends no
 * computer or status operation; a change goes as a delta after an
 * out-of-sync check; a computer the upstream names out of sync, or a new
 * RollupResetGuid, gets a full rollup; the watermark is our clock, and a
 * state that goes makes a full rollup. The admin views of tier 0 see
 * tier 2's computers. ClientSummaries: tier 0 stores tier 2's install
 * successes and failures (counted per operation, per OS group with its
 * computer count) as tier 1 forwarded them; a rollup with nothing new adds
 * none, a new event goes as a delta.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "sync_phase.h"
#include "test_server_sss_util.h"

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define U3 "33333333-3333-4333-8333-333333333333"
#define MAX_CALLS 64

struct tier {
	struct sfx *x;
	struct wsus_config *cfg;
	struct sync_options opt;
	struct sync_result res;
	struct sync_ctx c;               /* this tier as a DSS of the one above */
	struct tier *up;
	int  not_detailed;               /* the upstream's answer says DoDetailedRollup false */
	int  n_calls;
	char ops[MAX_CALLS][40];
	char *reqs[MAX_CALLS];
};

struct chain {
	struct tier t[3];
};

static int post(void *ctx, const char *url, const char *action, const char *body, size_t len, long *status,
		struct wsus_buf *out, struct err *e)
{
	struct tier *t = ctx;
	struct server_resp resp;
	const char *op = strrchr(action, '/') + 1;
	char why[512];

	(void)url;
	(void)e;
	assert_true(t->n_calls < MAX_CALLS);
	snprintf(t->ops[t->n_calls], sizeof(t->ops[0]), "%s", op);
	t->reqs[t->n_calls++] = strndup(body, len);
	if (sfx_validate(body, len, XSD_REPORTING, why, sizeof(why)) < 0)
		fail_msg("our %s request does not validate: %s", op, why);
	sfx_call(t->up->x, &server_reporting_service, REPORTING_PATH, body, &resp);
	if (resp.status != 200)
		fail_msg("%s answered %d: %.*s", op, resp.status, (int)resp.body.len, resp.body.data);
	sfx_assert_valid(&resp, XSD_REPORTING);
	if (t->not_detailed && strcmp(op, "GetRollupConfiguration") == 0) {
		char *d = strstr(resp.body.data, "<DoDetailedRollup>true");

		assert_non_null(d);
		memcpy(d + strlen("<DoDetailedRollup>"), "0   ", 4);
	}
	wsus_buf_free(out);
	*out = resp.body;
	*status = resp.status;
	return 0;
}

static int count_ops(const struct tier *t, const char *op)
{
	int n = 0;

	for (int i = 0; i < t->n_calls; i++)
		n += strcmp(t->ops[i], op) == 0;
	return n;
}

static const char *last_req(const struct tier *t, const char *op)
{
	for (int i = t->n_calls - 1; i >= 0; i--)
		if (strcmp(t->ops[i], op) == 0)
			return t->reqs[i];
	return NULL;
}

static void calls_reset(struct tier *t)
{
	for (int i = 0; i < t->n_calls; i++)
		free(t->reqs[i]);
	t->n_calls = 0;
}

static void tier_dss(struct tier *t, struct tier *up, const char *name)
{
	struct err e = { 0 };

	assert_int_equal(config_default(t->x->dir, &t->cfg, &e), 0);
	t->cfg->up_mode = WSUS_MODE_REPLICA;
	t->up = up;
	t->c.cfg = t->cfg;
	t->c.opt = &t->opt;
	t->c.res = &t->res;
	t->c.st = t->x->st;
	t->c.post = post;
	t->c.post_ctx = t;
	snprintf(t->c.base, sizeof(t->c.base), "https://%s.test", name);
	snprintf(t->c.report_url, sizeof(t->c.report_url), "%s" REPORTING_PATH, t->c.base);
	snprintf(t->c.account, sizeof(t->c.account), "%s.test", name);
	snprintf(t->c.server_id, sizeof(t->c.server_id), "%s", t->x->srv.server_id);
	/* The upstream knows us from GetAuthorizationCookie. */
	assert_int_equal(storage_dss_auth(up->x->st, t->c.server_id, t->c.account, "127.0.0.1", NULL, &e), 0);
}

static int setup(void **state)
{
	struct chain *ch = calloc(1, sizeof(*ch));
	void *s;

	for (int i = 0; i < 3; i++) {
		if (sfx_setup(&s) < 0)
			return -1;
		ch->t[i].x = s;
	}
	tier_dss(&ch->t[1], &ch->t[0], "t1");
	tier_dss(&ch->t[2], &ch->t[1], "t2");
	*state = ch;
	return 0;
}

static int teardown(void **state)
{
	struct chain *ch = *state;

	for (int i = 0; i < 3; i++) {
		void *s = ch->t[i].x;

		calls_reset(&ch->t[i]);
		config_free(ch->t[i].cfg);
		sfx_teardown(&s);
	}
	free(ch);
	return 0;
}

/* A computer registered with st. */
static void register_computer(struct storage *st, const char *id)
{
	struct storage_client_computer c;
	struct err e = { 0 };
	char dns[64];

	memset(&c, 0, sizeof(c));
	snprintf(dns, sizeof(dns), "%s.branch.test", id);
	c.computer_id = id;
	c.dns_name = dns;
	c.os_description = "Windows 11 Enterprise";
	c.os_locale = "en-US";
	c.os_major = 10;
	c.os_build = 26100;
	c.processor_arch = "AMD64";
	c.client_version = "10.0.26100.1";
	c.bios_release_date = "2024-05-01T00:00:00";
	if (storage_client_register(st, &c, 1, NULL, &e) < 0)
		fail_msg("register %s: %s", id, e.msg);
}

/* One event of id putting update uid in state status at time ms. */
static void report(struct storage *st, const char *id, const char *uid, int status, int64_t ms)
{
	static int seq;
	struct storage_report_state s = { .status = status };
	struct storage_report_event ev;
	char inst[WSUS_GUID_LEN];
	struct err e = { 0 };

	snprintf(s.update_id, sizeof(s.update_id), "%s", uid);
	snprintf(inst, sizeof(inst), "aaaaaaaa-0000-4000-8000-%012d", ++seq);
	memset(&ev, 0, sizeof(ev));
	ev.instance_id = inst;
	ev.computer_id = id;
	ev.received_ms = ms;
	ev.time_ms = ms;
	ev.namespace_id = 1;
	ev.event_id = 156;
	ev.states = &s;
	ev.n_states = 1;
	if (storage_report_put(st, &ev, 1, NULL, &e) < 0)
		fail_msg("report %s: %s", id, e.msg);
}

/* An install event (183 installed, 182 failed) of id for revision 200 of uid. */
static void install_event(struct storage *st, const char *id, const char *uid, int code)
{
	static int seq;
	struct storage_report_event ev;
	char inst[WSUS_GUID_LEN];
	struct err e = { 0 };

	snprintf(inst, sizeof(inst), "bbbbbbbb-0000-4000-8000-%012d", ++seq);
	memset(&ev, 0, sizeof(ev));
	ev.instance_id = inst;
	ev.computer_id = id;
	ev.received_ms = wsus_now_ms();
	ev.time_ms = ev.received_ms;
	ev.namespace_id = 1;
	ev.event_id = code;
	ev.update_id = uid;
	ev.revision = 200;
	if (storage_report_put(st, &ev, 1, NULL, &e) < 0)
		fail_msg("event %s: %s", id, e.msg);
}

static void rollup(struct tier *t)
{
	struct err e = { 0 };

	calls_reset(t);
	if (sync_phase_rollup(&t->c, &e) < 0)
		fail_msg("rollup: %s", e.msg);
}

static void seed(struct chain *ch)
{
	struct storage *st = ch->t[2].x->st;
	int64_t now = wsus_now_ms();

	register_computer(st, "pc-needs");
	register_computer(st, "pc-fails");
	register_computer(st, "pc-silent");
	report(st, "pc-needs", U1, 2, now - 60000);
	report(st, "pc-needs", U2, 3, now - 60000);
	report(st, "pc-fails", U1, 4, now - 50000);
	report(st, "pc-fails", U2, 5, now - 50000);
}

static char *status_of(struct sfx *x, const char *id)
{
	char *q = sfx_fmt("SELECT group_concat(update_id || '=' || status, ' ') FROM (SELECT * FROM update_status"
			  " WHERE computer_id = '%s' ORDER BY update_id)", id);
	char *v = sfx_sql_text(x, q);

	free(q);
	return v;
}

/* 1. Tier 2's computers reach tier 0 through tier 1, under tier 2, with
 * their states and real counts; every request and answer validates. */
static void test_three_tiers(void **state)
{
	struct chain *ch = *state;
	struct tier *t1 = &ch->t[1], *t2 = &ch->t[2];
	char *v, *q;

	seed(ch);
	rollup(t2);
	assert_int_equal(count_ops(t2, "GetRollupConfiguration"), 1);
	assert_int_equal(count_ops(t2, "RollupDownstreamServers"), 1);
	assert_int_equal(count_ops(t2, "RollupComputers"), 1);
	assert_int_equal(count_ops(t2, "GetOutOfSyncComputers"), 0);   /* nothing incremental yet */
	assert_int_equal(count_ops(t2, "RollupComputerStatus"), 1);
	assert_non_null(strstr(last_req(t2, "RollupDownstreamServers"),
			       "<ComputerTargetCount>3</ComputerTargetCount>"
			       "<ComputerTargetsNeedingUpdatesCount>1</ComputerTargetsNeedingUpdatesCount>"
			       "<ComputerTargetsWithUpdateErrorsCount>1</ComputerTargetsWithUpdateErrorsCount>"));
	assert_non_null(strstr(last_req(t2, "RollupDownstreamServers"),
			       "<UpdatesWithClientErrorsCount>1</UpdatesWithClientErrorsCount>"));
	assert_non_null(strstr(last_req(t2, "RollupComputerStatus"), "<IsFullRollup>true</IsFullRollup>"));
	/* SummarizationState keeps 2..6; Details go the first time */
	assert_non_null(strstr(last_req(t2, "RollupComputers"), "OSDescription=\"Windows 11 Enterprise\""));

	rollup(t1);
	assert_int_equal(count_ops(t1, "RollupComputers"), 1);
	assert_int_equal(count_ops(t1, "RollupComputerStatus"), 1);
	/* tier 1 sends tier 2 first (as a descendant), then itself */
	v = strstr(last_req(t1, "RollupDownstreamServers"), t2->c.server_id);
	assert_non_null(v);
	assert_true(v < strstr(last_req(t1, "RollupDownstreamServers"), t1->c.server_id));

	q = sfx_fmt("SELECT count(*) FROM computer WHERE parent_server_id = '%s'", t2->c.server_id);
	assert_int_equal(sfx_sql_int(ch->t[0].x, q), 3);
	free(q);
	v = status_of(ch->t[0].x, "pc-needs");
	assert_string_equal(v, U1 "=2 " U2 "=3");
	free(v);
	v = status_of(ch->t[0].x, "pc-fails");
	assert_string_equal(v, U1 "=4 " U2 "=5");
	free(v);
	v = sfx_sql_text(ch->t[0].x, "SELECT dns_name || ' ' || os_description FROM computer"
			 " WHERE computer_id = 'pc-needs'");
	assert_string_equal(v, "pc-needs.branch.test Windows 11 Enterprise");
	free(v);
	/* tier 2's summary as tier 0 stored it */
	q = sfx_fmt("SELECT json_extract(summary, '$.ComputerTargetsWithUpdateErrorsCount') FROM dss"
		    " WHERE server_id = '%s'", t2->c.server_id);
	assert_int_equal(sfx_sql_int(ch->t[0].x, q), 1);
	free(q);
}

/* 1b. EffectiveLastDetectionTime is the newest succeeded sync before the
 * computer's last detection (3.2.4.5 step 5.3); 1753-01-01 without one. */
static void test_detection_time(void **state)
{
	struct chain *ch = *state;
	struct tier *t2 = &ch->t[2];
	char *q;

	seed(ch);
	q = sfx_fmt("UPDATE computer SET last_sync_time = %lld WHERE computer_id = 'pc-needs'",
		    (long long)wsus_now_ms());
	sfx_sql(t2->x, q);
	free(q);
	sfx_sql(t2->x, "INSERT INTO sync_history(kind, started_at, finished_at, result) VALUES"
		" ('sync', 1699999990000, 1700000000000, 'succeeded'), ('sync', 1700000500000, 1700000600000, 'failed')");
	rollup(t2);
	assert_non_null(strstr(last_req(t2, "RollupComputerStatus"), "<ComputerId>pc-needs</ComputerId>"
			       "<EffectiveLastDetectionTime>2023-11-14T22:13:20"));
	assert_non_null(strstr(last_req(t2, "RollupComputerStatus"), "<ComputerId>pc-fails</ComputerId>"
			       "<EffectiveLastDetectionTime>1753-01-01T00:00:00"));
}

/* 2. Nothing new: only the configuration and the server records go. */
static void test_nothing_new(void **state)
{
	struct chain *ch = *state;
	struct tier *t1 = &ch->t[1], *t2 = &ch->t[2];

	seed(ch);
	rollup(t2);
	rollup(t1);
	rollup(t2);
	assert_int_equal(t2->n_calls, 2);
	assert_int_equal(count_ops(t2, "RollupComputers") + count_ops(t2, "GetOutOfSyncComputers") +
			 count_ops(t2, "RollupComputerStatus"), 0);
	rollup(t1);
	assert_int_equal(t1->n_calls, 2);
}

/* 3. A change goes as a delta: the changed computer only, its new status
 * only, after asking whether the upstream is in step with it. */
static void test_delta(void **state)
{
	struct chain *ch = *state;
	struct tier *t1 = &ch->t[1], *t2 = &ch->t[2];
	const char *r;
	char *v;

	seed(ch);
	rollup(t2);
	rollup(t1);
	report(t2->x->st, "pc-needs", U1, 4, wsus_now_ms());
	rollup(t2);
	assert_int_equal(count_ops(t2, "RollupComputers"), 1);
	r = last_req(t2, "RollupComputers");
	assert_non_null(strstr(r, "ComputerId=\"pc-needs\""));
	assert_null(strstr(r, "pc-fails"));
	assert_null(strstr(r, "<Details"));          /* its details did not change */
	assert_int_equal(count_ops(t2, "GetOutOfSyncComputers"), 1);
	assert_non_null(strstr(last_req(t2, "GetOutOfSyncComputers"), "<RollupNumber>1</RollupNumber>"));
	r = last_req(t2, "RollupComputerStatus");
	assert_non_null(strstr(r, "<IsFullRollup>false</IsFullRollup>"));
	assert_non_null(strstr(r, "<RollupNumber>2</RollupNumber>"));
	assert_null(strstr(r, U2));
	rollup(t1);
	v = status_of(ch->t[0].x, "pc-needs");
	assert_string_equal(v, U1 "=4 " U2 "=3");
	free(v);
}

/* 4. GetOutOfSyncComputers names a computer whose number the upstream does
 * not have: it goes in full. */
static void test_out_of_sync(void **state)
{
	struct chain *ch = *state;
	struct tier *t2 = &ch->t[2];
	char *v;

	seed(ch);
	rollup(t2);
	sfx_sql(ch->t[1].x, "UPDATE computer SET last_rollup_number = 7 WHERE computer_id = 'pc-fails'");
	sfx_sql(ch->t[1].x, "DELETE FROM update_status WHERE computer_id = 'pc-fails'");
	report(t2->x->st, "pc-fails", U3, 2, wsus_now_ms());
	rollup(t2);
	assert_int_equal(count_ops(t2, "GetOutOfSyncComputers"), 1);
	assert_non_null(strstr(last_req(t2, "RollupComputerStatus"), "<IsFullRollup>true</IsFullRollup>"));
	v = status_of(ch->t[1].x, "pc-fails");
	assert_string_equal(v, U1 "=4 " U2 "=5 " U3 "=2");
	free(v);
}

/* 5. A new RollupResetGuid upstream: every computer and status goes again. */
static void test_reset(void **state)
{
	struct chain *ch = *state;
	struct tier *t2 = &ch->t[2];
	const char *r;

	seed(ch);
	rollup(t2);
	sfx_sql(ch->t[1].x, "UPDATE state SET value = '44444444-4444-4444-8444-444444444444'"
		" WHERE key = 'rollup_reset_guid'");
	rollup(t2);
	r = last_req(t2, "RollupComputers");
	assert_non_null(r);
	assert_non_null(strstr(r, "pc-silent"));
	assert_non_null(strstr(r, "<Details"));
	assert_non_null(strstr(last_req(t2, "RollupComputerStatus"), "<IsFullRollup>true</IsFullRollup>"));
	assert_int_equal(count_ops(t2, "GetOutOfSyncComputers"), 0);
}

/* 6. DoDetailedRollup false (a USS that keeps no computers): the steps
 * after the servers are not run (MS-WSUSSS 3.2.4.5). */
static void test_not_detailed(void **state)
{
	struct chain *ch = *state;
	struct tier *t2 = &ch->t[2];

	seed(ch);
	t2->not_detailed = 1;
	rollup(t2);
	assert_int_equal(t2->n_calls, 2);
	assert_int_equal(count_ops(t2, "RollupDownstreamServers"), 1);
}

/* 9. The watermark is our clock: a state a client reports late (an older
 * TimeAtTarget than what went before) still goes; the same state reported
 * again sends no status; a state that no longer holds makes the next
 * status rollup a full one, so the upstream drops it too. */
static void test_watermark(void **state)
{
	struct chain *ch = *state;
	struct tier *t2 = &ch->t[2];
	struct storage *st = t2->x->st;
	int64_t now = wsus_now_ms();
	const char *r;
	char *v;

	seed(ch);
	rollup(t2);
	report(st, "pc-needs", U3, 2, now - 3600000);
	rollup(t2);
	r = last_req(t2, "RollupComputerStatus");
	assert_non_null(r);
	assert_non_null(strstr(r, U3));
	assert_non_null(strstr(r, "<IsFullRollup>false</IsFullRollup>"));
	report(st, "pc-fails", U1, 4, now);           /* the state it already had */
	rollup(t2);
	assert_int_equal(count_ops(t2, "RollupComputers"), 1);   /* its last report time moved */
	assert_int_equal(count_ops(t2, "RollupComputerStatus"), 0);
	report(st, "pc-fails", U2, -1, now + 1000);   /* uninstalled: the failure no longer holds */
	rollup(t2);
	r = last_req(t2, "RollupComputerStatus");
	assert_non_null(r);
	assert_non_null(strstr(r, "<IsFullRollup>true</IsFullRollup>"));
	v = status_of(ch->t[1].x, "pc-fails");
	assert_string_equal(v, U1 "=4");
	free(v);
}

struct seen {
	char ids[8][64];
	char parents[8][WSUS_GUID_LEN];
	int  n;
};

static int collect(const struct storage_computer_row *c, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", c->computer_id);
	snprintf(s->parents[s->n++], sizeof(s->parents[0]), "%s", c->parent_id);
	return 0;
}

struct counts_seen {
	struct storage_update_counts u1;
	int n;
};

static int collect_counts(const struct storage_update_counts *u, void *ctx)
{
	struct counts_seen *c = ctx;

	if (strcmp(u->update_id, U1) == 0)
		c->u1 = *u;
	c->n++;
	return 0;
}

/* 7. The admin views at the top of the chain see tier 2's computers: by
 * state, by name, per update, in the overview. */
static void test_views_at_top(void **state)
{
	struct chain *ch = *state;
	struct storage *top = ch->t[0].x->st;
	struct storage_computer_filter f = { 0 };
	struct storage_computer_row *row = malloc(sizeof(*row));
	struct storage_overview v;
	struct counts_seen cs = { 0 };
	struct seen s = { 0 };
	struct err e = { 0 };

	assert_non_null(row);
	seed(ch);
	rollup(&ch->t[2]);
	rollup(&ch->t[1]);
	assert_int_equal(storage_computer_list(top, &f, collect, &s, &e), 0);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(s.parents[i], ch->t[2].c.server_id);
	memset(&s, 0, sizeof(s));
	f.failed = 1;
	assert_int_equal(storage_computer_list(top, &f, collect, &s, &e), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "pc-fails");
	memset(&s, 0, sizeof(s));
	f.failed = 0;
	f.needing = 1;
	assert_int_equal(storage_computer_list(top, &f, collect, &s, &e), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "pc-needs");
	/* by DNS name, case-insensitively; the counts per state */
	assert_int_equal(storage_computer_find(top, "PC-FAILS.branch.test", row, &e), 0);
	assert_string_equal(row->computer_id, "pc-fails");
	assert_int_equal(row->by_status[4], 1);
	assert_int_equal(row->by_status[5], 1);
	assert_int_equal(storage_computer_find(top, "nobody", row, &e), -ENOENT);
	/* a rolled-up computer's groups: names apart by '\x1f', so one may hold ", " */
	assert_int_equal(storage_group_add(top, "Sales, EU", NULL, &e), 0);
	assert_int_equal(storage_group_add(top, "Lab", NULL, &e), 0);
	sfx_sql(ch->t[0].x, "UPDATE computer SET target_group_ids = (SELECT group_concat(group_id) FROM target_group"
			    " WHERE name IN ('Sales, EU', 'Lab')) WHERE computer_id = 'pc-fails'");
	assert_int_equal(storage_computer_find(top, "pc-fails.branch.test", row, &e), 0);
	assert_int_equal(strlen(row->groups), strlen("Sales, EU") + 1 + strlen("Lab"));
	assert_true(strcmp(row->groups, "Sales, EU\x1fLab") == 0 || strcmp(row->groups, "Lab\x1fSales, EU") == 0);
	sfx_sql(ch->t[0].x, "UPDATE computer SET dns_name = 'twin.test' WHERE computer_id IN ('pc-needs', 'pc-silent')");
	assert_int_equal(storage_computer_find(top, "twin.test", row, &e), -EEXIST);
	/* U1: pc-needs needs it, pc-fails installed it, pc-silent has no state */
	assert_int_equal(storage_update_counts(top, 0, 0, collect_counts, &cs, &e), 0);
	assert_int_equal(cs.n, 2);
	assert_int_equal(cs.u1.needed, 1);
	assert_int_equal(cs.u1.installed, 1);
	assert_int_equal(cs.u1.failed, 0);
	assert_int_equal(cs.u1.unknown, 1);
	memset(&cs, 0, sizeof(cs));
	assert_int_equal(storage_update_counts(top, 0, 1, collect_counts, &cs, &e), 0);
	assert_int_equal(cs.n, 1);   /* U2 only */
	assert_int_equal(storage_overview(top, &v, &e), 0);
	assert_int_equal(v.computers, 3);
	assert_int_equal(v.computers_rolled_up, 3);
	assert_int_equal(v.computers_needing, 1);
	assert_int_equal(v.computers_with_errors, 1);
	assert_int_equal(v.computers_not_reported, 1);
	assert_int_equal(v.downstream_servers, 2);
	free(row);
}

static int collect_dss(const struct storage_dss_row *d, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", d->fqdn);
	return 0;
}

/* 8. Servers go parents first at any depth (3.2.4.5 step 2.2), even when
 * a grandchild's name sorts before its parent's. */
static void test_dss_order(void **state)
{
	struct chain *ch = *state;
	struct storage *st = ch->t[0].x->st;
	static const struct { const char *id, *parent, *fqdn; } rows[] = {
		{ "cccccccc-0000-4000-8000-000000000003", "bbbbbbbb-0000-4000-8000-000000000002", "a-grandchild" },
		{ "bbbbbbbb-0000-4000-8000-000000000002", "aaaaaaaa-0000-4000-8000-000000000001", "m-child" },
		{ "aaaaaaaa-0000-4000-8000-000000000001", "", "z-direct" },
	};
	struct seen s = { 0 };
	struct err e = { 0 };

	for (size_t i = 0; i < 3; i++) {
		struct storage_dss_rollup r = { .fqdn = rows[i].fqdn, .last_sync_ms = INT64_MIN, .last_rollup_ms = 1 };
		int applied = 0;

		snprintf(r.server_id, sizeof(r.server_id), "%s", rows[i].id);
		snprintf(r.parent_id, sizeof(r.parent_id), "%s", rows[i].parent);
		assert_int_equal(storage_dss_rollup(st, &r, &applied, &e), 0);
	}
	assert_int_equal(storage_dss_foreach(st, collect_dss, &s, &e), 0);
	/* tier 1 (authorised in setup, direct) and z-direct first, then the child, then the grandchild */
	assert_int_equal(s.n, 4);
	assert_string_equal(s.ids[2], "m-child");
	assert_string_equal(s.ids[3], "a-grandchild");
}

/* What tier's upstream role holds for server: "update=success/failure ...". */
static char *activity_of(struct tier *t, const char *server)
{
	char *q = sfx_fmt("SELECT group_concat(update_id || '=' || install_success || '/' || install_failure, ' ')"
			  " FROM (SELECT update_id, sum(install_success) AS install_success,"
			  " sum(install_failure) AS install_failure FROM dss_activity WHERE server_id = '%s'"
			  " GROUP BY update_id ORDER BY update_id)", server);
	char *v = sfx_sql_text(t->x, q);

	free(q);
	return v;
}

/* 10. ClientSummaries (MS-WSUSSS 3.1.4.14.3.5-7, 3.2.4.5): tier 2's
 * install operations reach tier 0 through tier 1, per OS group with the
 * group's computer count; tier 1 forwards and then drops them; a second
 * rollup sends no activity; a new failure goes as a delta. */
static void test_client_summaries(void **state)
{
	struct chain *ch = *state;
	struct tier *t0 = &ch->t[0], *t1 = &ch->t[1], *t2 = &ch->t[2];
	const char *r;
	char *v;

	seed(ch);
	install_event(t2->x->st, "pc-needs", U1, 183);
	install_event(t2->x->st, "pc-fails", U1, 183);
	install_event(t2->x->st, "pc-fails", U2, 182);
	install_event(t2->x->st, "pc-fails", U2, 182);
	rollup(t2);
	r = last_req(t2, "RollupDownstreamServers");
	/* one group: the three computers share an OS */
	assert_non_null(strstr(r, "<OSMajorVersion>10</OSMajorVersion><OSMinorVersion>0</OSMinorVersion>"
			       "<OSBuildNumber>26100</OSBuildNumber>"));
	assert_non_null(strstr(r, "<OSLocale>en-US</OSLocale>"));
	assert_non_null(strstr(r, "<ProcessorArchitecture>AMD64</ProcessorArchitecture><Count>3</Count>"));
	assert_null(strstr(strstr(r, "</DownstreamServerRollupClientSummary>") + 1,
			   "<DownstreamServerRollupClientSummary>"));
	assert_non_null(strstr(r, "<UpdateId>" U2 "</UpdateId><RevisionNumber>200</RevisionNumber>"
			       "<InstallSuccessCount>0</InstallSuccessCount><InstallFailureCount>2</InstallFailureCount>"));
	v = activity_of(t1, t2->c.server_id);
	assert_string_equal(v, U1 "=2/0 " U2 "=0/2");
	free(v);

	rollup(t1);
	r = last_req(t1, "RollupDownstreamServers");
	/* tier 2's group, counted from the computers tier 2 rolled up to tier 1 */
	assert_non_null(strstr(r, "<Count>3</Count>"));
	v = activity_of(t0, t2->c.server_id);
	assert_string_equal(v, U1 "=2/0 " U2 "=0/2");
	free(v);
	v = activity_of(t0, t1->c.server_id);
	assert_string_equal(v, "");                       /* tier 1's own computers did nothing */
	free(v);
	assert_int_equal(sfx_sql_int(t1->x, "SELECT count(*) FROM dss_activity"), 0);   /* forwarded */

	/* nothing new: no activity goes, tier 0's counts stay */
	rollup(t2);
	assert_null(strstr(last_req(t2, "RollupDownstreamServers"), "ActivitySummary>"));
	rollup(t1);
	assert_null(strstr(last_req(t1, "RollupDownstreamServers"), "ActivitySummary>"));
	v = activity_of(t0, t2->c.server_id);
	assert_string_equal(v, U1 "=2/0 " U2 "=0/2");
	free(v);

	/* a new failure goes as a delta */
	install_event(t2->x->st, "pc-needs", U2, 182);
	rollup(t2);
	rollup(t1);
	v = activity_of(t0, t2->c.server_id);
	assert_string_equal(v, U1 "=2/0 " U2 "=0/3");
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_three_tiers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detection_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_detailed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_views_at_top, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dss_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watermark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_summaries, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
