/*
 * test_server_sss_reporting.c -- the rollup half of ReportingWebService:
 * what downstream servers report about themselves and their computers is
 * stored, and only for downstream servers we know.
 * Groups: 1 GetRollupConfiguration,
 *         2 RollupDownstreamServers (known servers only, all or nothing,
 *           hierarchy, summary, install counts, stale reports),
 *         3 RollupComputers (unknown parent, NewParent, Details, last writer),
 *         4 RollupComputerStatus and GetOutOfSyncComputers.
 * Every non-fault response is checked against ReportingWebService-sss.xsd.
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

#include "test_server_sss_util.h"

#define NS_SD PROTOCOL_NS_SD
#define DUMMY "<cookie><Expiration>9999-12-31T23:59:59.9999999</Expiration><EncryptedData /></cookie>"
#define CHILD "c1000000-0000-4000-8000-000000000001"       /* authorises with us */
#define GRAND "c1000000-0000-4000-8000-000000000002"       /* below CHILD */
#define STRANGER "c1000000-0000-4000-8000-00000000000f"    /* never seen */
#define ZERO  "00000000-0000-0000-0000-000000000000"
#define UPD   "d1000000-0000-4000-8000-000000000001"
#define UPD2  "d1000000-0000-4000-8000-000000000002"

static void report(struct sfx *x, const char *op_xml, struct server_resp *r)
{
	sfx_op(x, &server_reporting_service, op_xml, r);
}

/* One DownstreamServerRollupInfo with an UpdateCount and one install count. */
static char *server_info(const char *id, const char *parent, const char *rollup_time, int updates,
			 int installs)
{
	return sfx_fmt("<DownstreamServerRollupInfo><ServerId>%s</ServerId><FullDomainName>%s.lab.invalid"
		       "</FullDomainName><LastSyncTime>2026-01-01T00:00:00Z</LastSyncTime><ParentServerId>%s"
		       "</ParentServerId><Version>10.0.26100.1</Version><IsReplica>true</IsReplica>"
		       "<LastRollupTime>%s</LastRollupTime><ServerSummary><UpdateCount>%d</UpdateCount>"
		       "<DeclinedUpdateCount>1</DeclinedUpdateCount></ServerSummary><ClientSummaries>"
		       "<DownstreamServerRollupClientSummary><OSMajorVersion>10</OSMajorVersion><OSMinorVersion>0"
		       "</OSMinorVersion><OSBuildNumber>26100</OSBuildNumber><OSServicePackMajorNumber>0"
		       "</OSServicePackMajorNumber><OSServicePackMinorNumber>0</OSServicePackMinorNumber><OSLocale>"
		       "en-US</OSLocale><SuiteMask>272</SuiteMask><OldProductType>3</OldProductType><NewProductType>"
		       "7</NewProductType><SystemMetrics>0</SystemMetrics><ProcessorArchitecture>AMD64"
		       "</ProcessorArchitecture><Count>2</Count><ActivitySummaries>"
		       "<DownstreamServerRollupClientActivitySummary><UpdateId>%s</UpdateId><RevisionNumber>1"
		       "</RevisionNumber><InstallSuccessCount>%d</InstallSuccessCount><InstallFailureCount>1"
		       "</InstallFailureCount></DownstreamServerRollupClientActivitySummary></ActivitySummaries>"
		       "</DownstreamServerRollupClientSummary></ClientSummaries></DownstreamServerRollupInfo>",
		       id, id, parent, rollup_time, updates, UPD, installs);
}

static void rollup_servers(struct sfx *x, const char *infos, struct server_resp *r)
{
	char *op = sfx_fmt("<RollupDownstreamServers xmlns=\"%s\">%s<clientTime>2026-01-01T00:00:00Z</clientTime>"
			   "<downstreamServers>%s</downstreamServers></RollupDownstreamServers>", NS_SD, DUMMY, infos);

	report(x, op, r);
	free(op);
}

/*---- 1 GetRollupConfiguration ----*/

/* 1.1 detailed rollup on, our ServerId, the Windows batch sizes and a reset
 * GUID that stays the same */
static void test_rollup_configuration(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *g1, *g2, *v;

	report(x, "<GetRollupConfiguration xmlns=\"" NS_SD "\">" DUMMY "</GetRollupConfiguration>", &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	g1 = sfx_text(&r, "RollupResetGuid");
	v = sfx_text(&r, "ServerId");
	assert_string_equal(v, x->srv.server_id);
	free(v);
	v = sfx_text(&r, "DoDetailedRollup");
	assert_string_equal(v, "true");
	free(v);
	v = sfx_text(&r, "RollupComputerStatusMaxBatchSize");
	assert_string_equal(v, "500");
	free(v);
	wsus_buf_free(&r.body);
	report(x, "<GetRollupConfiguration xmlns=\"" NS_SD "\"/>", &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	g2 = sfx_text(&r, "RollupResetGuid");
	assert_string_equal(g1, g2);
	wsus_buf_free(&r.body);
	free(g1);
	free(g2);
}

/*---- 2 RollupDownstreamServers ----*/

/* 2.1 a report about a server we do not know (as itself, or as the parent
 * of another) is refused whole: nothing of it is stored */
static void test_rollup_servers_needs_known_servers(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *ok, *bad, *both;

	sfx_login(x, CHILD, "child.lab.invalid", NULL, NULL);
	ok = server_info(CHILD, ZERO, "2026-01-02T00:00:00Z", 5, 1);
	bad = server_info(GRAND, STRANGER, "2026-01-02T00:00:00Z", 5, 1);
	both = sfx_fmt("%s%s", ok, bad);
	rollup_servers(x, both, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	free(both);
	free(bad);
	bad = server_info(STRANGER, ZERO, "2026-01-02T00:00:00Z", 5, 1);
	rollup_servers(x, bad, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	assert_int_equal(sfx_sql_int(x, "SELECT count(*) FROM dss"), 1);
	assert_int_equal(sfx_sql_int(x, "SELECT count(*) FROM dss WHERE summary IS NOT NULL"), 0);
	assert_int_equal(sfx_sql_int(x, "SELECT count(*) FROM dss_activity"), 0);
	report(x, "<RollupDownstreamServers xmlns=\"" NS_SD "\">" DUMMY "</RollupDownstreamServers>", &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	free(bad);
	free(ok);
}

/* 2.2 descendants first, the caller last: the grandchild is stored under
 * its parent, the summary is kept, install counts add up across reports,
 * and a stale report (older LastRollupTime) changes nothing */
static void test_rollup_servers_stores_hierarchy(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *g, *c, *both, *v;

	sfx_login(x, CHILD, "child.lab.invalid", NULL, NULL);
	g = server_info(GRAND, CHILD, "2026-01-02T00:00:00Z", 7, 3);
	c = server_info(CHILD, ZERO, "2026-01-02T00:00:00Z", 9, 2);
	both = sfx_fmt("%s%s", g, c);
	rollup_servers(x, both, &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	wsus_buf_free(&r.body);
	free(both);
	v = sfx_sql_text(x, "SELECT parent_server_id || '|' || fqdn || '|' || version || '|' || is_replica"
			 " FROM dss WHERE server_id = '" GRAND "'");
	assert_string_equal(v, CHILD "|" GRAND ".lab.invalid|10.0.26100.1|1");
	free(v);
	v = sfx_sql_text(x, "SELECT summary FROM dss WHERE server_id = '" CHILD "'");
	assert_non_null(strstr(v, "\"UpdateCount\":9,\"DeclinedUpdateCount\":1,\"ApprovedUpdateCount\":0"));
	free(v);
	v = sfx_sql_text(x, "SELECT coalesce(parent_server_id, 'none') FROM dss WHERE server_id = '" CHILD "'");
	assert_string_equal(v, "none");
	free(v);
	assert_int_equal(sfx_sql_int(x, "SELECT sum(install_success) FROM dss_activity WHERE server_id = '"
				     CHILD "'"), 2);

	free(c);
	c = server_info(CHILD, ZERO, "2026-01-03T00:00:00Z", 10, 4);   /* newer: counts add */
	rollup_servers(x, c, &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	wsus_buf_free(&r.body);
	free(c);
	c = server_info(CHILD, ZERO, "2026-01-01T00:00:00Z", 99, 50);  /* stale: ignored */
	rollup_servers(x, c, &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	wsus_buf_free(&r.body);
	assert_int_equal(sfx_sql_int(x, "SELECT sum(install_success) FROM dss_activity WHERE server_id = '"
				     CHILD "'"), 6);
	assert_int_equal(sfx_sql_int(x, "SELECT sum(install_failure) FROM dss_activity WHERE server_id = '"
				     CHILD "'"), 2);
	v = sfx_sql_text(x, "SELECT summary FROM dss WHERE server_id = '" CHILD "'");
	assert_non_null(strstr(v, "\"UpdateCount\":10,"));
	free(v);
	free(c);
	free(g);
}

/*---- 3 RollupComputers ----*/

static char *computer(const char *id, const char *parent, const char *sync_time, int details)
{
	return sfx_fmt("<ComputerRollupInfo ComputerId=\"%s\" LastSyncTime=\"%s\" LastSyncResult=\"1\""
		       " LastReportedRebootTime=\"0001-01-01T00:00:00\" LastReportedStatusTime=\"%s\""
		       " LastInventoryTime=\"0001-01-01T00:00:00\" ParentServerId=\"%s\">%s</ComputerRollupInfo>",
		       id, sync_time, sync_time, parent,
		       details ? "<Details IPAddress=\"10.0.0.5\" FullDomainName=\"pc.lab.invalid\" OSMajorVersion=\"10\""
				 " OSMinorVersion=\"0\" OSBuildNumber=\"26100\" OSServicePackMajorNumber=\"0\""
				 " OSServicePackMinorNumber=\"0\" OSLocale=\"en-US\" ComputerMake=\"Acme\""
				 " ComputerModel=\"Box\" BiosReleaseDate=\"2024-01-01T00:00:00Z\""
				 " ProcessorArchitecture=\"AMD64\" SuiteMask=\"272\" OldProductType=\"1\""
				 " NewProductType=\"48\" SystemMetrics=\"0\" ClientVersion=\"10.0.26100.1\">"
				 "<TargetGroupIdList><guid>b73ca6ed-5727-47f3-84de-015e03f6a88a</guid>"
				 "</TargetGroupIdList><RequestedTargetGroupNames><string>Lab</string>"
				 "<string>Desktops</string></RequestedTargetGroupNames></Details>" : "");
}

static void rollup_computers(struct sfx *x, const char *infos, struct server_resp *r)
{
	char *op = sfx_fmt("<RollupComputers xmlns=\"%s\">%s<clientTime>2026-01-01T00:00:00Z</clientTime>"
			   "<computers>%s</computers></RollupComputers>", NS_SD, DUMMY, infos);

	report(x, op, r);
	free(op);
}

/* 3.1 computers of an unknown parent are InternalServerError (3.1.4.15);
 * a new computer without Details is answered NewParent, one with Details is
 * stored with them; an older LastSyncTime changes nothing; moving to another
 * known server without Details asks for them again */
static void test_rollup_computers(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *a, *b, *both, *v;

	sfx_login(x, CHILD, "child.lab.invalid", NULL, NULL);
	sfx_login(x, GRAND, "grand.lab.invalid", NULL, NULL);
	a = computer("pc-a", STRANGER, "2026-01-02T00:00:00Z", 1);
	rollup_computers(x, a, &r);
	assert_string_equal(sfx_fault_code(&r), "InternalServerError");
	wsus_buf_free(&r.body);
	free(a);

	a = computer("pc-a", CHILD, "2026-01-02T00:00:00Z", 0);
	b = computer("pc-b", CHILD, "2026-01-02T00:00:00Z", 1);
	both = sfx_fmt("%s%s", a, b);
	rollup_computers(x, both, &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	assert_int_equal(sfx_count(&r, "ChangedComputer"), 1);
	assert_non_null(strstr(r.body.data, "<ChangedComputer ComputerId=\"pc-a\" Change=\"NewParent\" />"));
	wsus_buf_free(&r.body);
	free(both);
	free(a);
	free(b);
	v = sfx_sql_text(x, "SELECT parent_server_id || '|' || dns_name || '|' || os_build || '|' || model || '|'"
			 " || requested_groups || '|' || target_group_ids || '|' || last_sync_result"
			 " FROM computer WHERE computer_id = 'pc-b'");
	assert_string_equal(v, CHILD "|pc.lab.invalid|26100|Box|Lab,Desktops|b73ca6ed-5727-47f3-84de-015e03f6a88a|1");
	free(v);

	a = computer("pc-b", GRAND, "2026-01-01T00:00:00Z", 0);   /* older: ignored */
	rollup_computers(x, a, &r);
	assert_int_equal(sfx_count(&r, "ChangedComputer"), 0);
	wsus_buf_free(&r.body);
	free(a);
	v = sfx_sql_text(x, "SELECT parent_server_id FROM computer WHERE computer_id = 'pc-b'");
	assert_string_equal(v, CHILD);
	free(v);
	a = computer("pc-b", GRAND, "2026-01-05T00:00:00Z", 0);   /* moved */
	rollup_computers(x, a, &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	assert_non_null(strstr(r.body.data, "ComputerId=\"pc-b\" Change=\"NewParent\""));
	wsus_buf_free(&r.body);
	free(a);
	v = sfx_sql_text(x, "SELECT parent_server_id || '|' || dns_name FROM computer WHERE computer_id = 'pc-b'");
	assert_string_equal(v, GRAND "|pc.lab.invalid");   /* the details stay */
	free(v);
}

/*---- 4 status and out-of-sync ----*/

static void status(struct sfx *x, const char *parent, const char *computer_id, int number, int full,
		   const char *items, struct server_resp *r)
{
	char *op = sfx_fmt("<RollupComputerStatus xmlns=\"%s\">%s<clientTime>2026-01-01T00:00:00Z</clientTime>"
			   "<parentServerId>%s</parentServerId><computers><ComputerStatusRollupInfo>"
			   "<InstanceId>e1000000-0000-4000-8000-000000000001</InstanceId><ComputerId>%s</ComputerId>"
			   "<EffectiveLastDetectionTime>2026-01-02T03:04:05Z</EffectiveLastDetectionTime>"
			   "<RollupNumber>%d</RollupNumber><IsFullRollup>%s</IsFullRollup><UpdateStatus>%s"
			   "</UpdateStatus></ComputerStatusRollupInfo></computers></RollupComputerStatus>",
			   NS_SD, DUMMY, parent, computer_id, number, full ? "true" : "false", items);

	report(x, op, r);
	free(op);
}

static char *item(const char *uid, int state, const char *when)
{
	return sfx_fmt("<ComputerStatusRollupUpdateStatus><UpdateId>%s</UpdateId><SummarizationState>%d"
		       "</SummarizationState><LastChangeTime>%s</LastChangeTime></ComputerStatusRollupUpdateStatus>",
		       uid, state, when);
}

static void out_of_sync(struct sfx *x, const char *parent, const char *list, struct server_resp *r)
{
	char *op = sfx_fmt("<GetOutOfSyncComputers xmlns=\"%s\">%s<parentServerId>%s</parentServerId>"
			   "<lastRollupNumbers>%s</lastRollupNumbers></GetOutOfSyncComputers>",
			   NS_SD, DUMMY, parent, list);

	report(x, op, r);
	free(op);
}

/* 4.1 statuses are stored per computer (not applicable mapped to the table's
 * 1), newer LastChangeTime wins, a full rollup replaces them all; the rollup
 * number then decides GetOutOfSyncComputers, also for the computers of a
 * descendant; an unknown parent is refused (status) or gets nothing
 * (out-of-sync) */
static void test_status_and_out_of_sync(void **state)
{
	struct sfx *x = *state;
	struct server_resp r;
	char *c, *i1, *i2, *items, *v;

	sfx_login(x, CHILD, "child.lab.invalid", NULL, NULL);
	c = server_info(GRAND, CHILD, "2026-01-02T00:00:00Z", 1, 0);
	rollup_servers(x, c, &r);
	wsus_buf_free(&r.body);
	free(c);
	c = computer("pc-g", GRAND, "2026-01-02T00:00:00Z", 1);
	rollup_computers(x, c, &r);
	wsus_buf_free(&r.body);
	free(c);

	i1 = item(UPD, 0, "2026-01-02T00:00:00Z");
	i2 = item(UPD2, 4, "2026-01-02T00:00:00Z");
	items = sfx_fmt("%s%s", i1, i2);
	status(x, STRANGER, "pc-g", 1, 1, items, &r);
	assert_string_equal(sfx_fault_code(&r), "InvalidParameters");
	wsus_buf_free(&r.body);
	status(x, CHILD, "pc-g", 1, 1, items, &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	v = sfx_text(&r, "RollupComputerStatusResult");
	assert_string_equal(v, "true");
	free(v);
	wsus_buf_free(&r.body);
	v = sfx_sql_text(x, "SELECT group_concat(update_id || '=' || status, ',') FROM"
			 " (SELECT * FROM update_status WHERE computer_id = 'pc-g' ORDER BY update_id)");
	assert_string_equal(v, UPD "=1," UPD2 "=4");
	free(v);
	free(items);
	free(i1);
	free(i2);

	i1 = item(UPD2, 5, "2026-01-01T00:00:00Z");   /* older: ignored */
	status(x, CHILD, "pc-g", 2, 0, i1, &r);
	wsus_buf_free(&r.body);
	free(i1);
	assert_int_equal(sfx_sql_int(x, "SELECT status FROM update_status WHERE update_id = '" UPD2 "'"), 4);
	i1 = item(UPD2, 6, "2026-01-03T00:00:00Z");   /* full: UPD goes */
	status(x, CHILD, "pc-g", 3, 1, i1, &r);
	wsus_buf_free(&r.body);
	free(i1);
	v = sfx_sql_text(x, "SELECT group_concat(update_id || '=' || status, ',') FROM update_status"
			 " WHERE computer_id = 'pc-g'");
	assert_string_equal(v, UPD2 "=6");
	free(v);

	out_of_sync(x, CHILD, "<ComputerLastRollupNumber><ComputerId>pc-g</ComputerId><RollupNumber>3</RollupNumber>"
		    "</ComputerLastRollupNumber><ComputerLastRollupNumber><ComputerId>nobody</ComputerId>"
		    "<RollupNumber>1</RollupNumber></ComputerLastRollupNumber>", &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	assert_int_equal(sfx_count(&r, "string"), 0);
	wsus_buf_free(&r.body);
	out_of_sync(x, CHILD, "<ComputerLastRollupNumber><ComputerId>pc-g</ComputerId><RollupNumber>2</RollupNumber>"
		    "</ComputerLastRollupNumber>", &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	v = sfx_texts(&r, "string");
	assert_string_equal(v, "pc-g\n");
	free(v);
	wsus_buf_free(&r.body);
	out_of_sync(x, STRANGER, "<ComputerLastRollupNumber><ComputerId>pc-g</ComputerId><RollupNumber>2"
		    "</RollupNumber></ComputerLastRollupNumber>", &r);
	sfx_assert_valid(&r, XSD_REPORTING);
	assert_int_equal(sfx_count(&r, "string"), 0);
	wsus_buf_free(&r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rollup_configuration, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_rollup_servers_needs_known_servers, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_rollup_servers_stores_hierarchy, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_rollup_computers, sfx_setup, sfx_teardown),
		cmocka_unit_test_setup_teardown(test_status_and_out_of_sync, sfx_setup, sfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
