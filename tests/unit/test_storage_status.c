/*
 * test_storage_status.c -- the status counters agree with what was put in.
 * Groups: 1 empty store, 2 a populated store (types, category kinds,
 * deployments, declines, groups, files by state, bytes, last import/sync).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_storage_util.h"

/* 1.1 a fresh store: schema version, ServerID, two groups, nothing else */
static void test_status_of_empty_store(void **state)
{
	struct tsu *t = *state;
	struct storage_status s;
	char id[WSUS_GUID_LEN];

	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(storage_status_get(t->st, &s, NULL), 0);
	assert_int_equal(s.schema_version, storage_schema_latest());
	assert_int_equal(storage_server_id(t->st, id), 0);
	assert_string_equal(s.server_id, id);
	assert_int_equal(s.revisions, 0);
	assert_int_equal(s.updates, 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(s.by_type[i], 0);
	assert_int_equal(s.groups, 2);
	assert_int_equal(s.files, 0);
	assert_int_equal(s.content_bytes, 0);
	assert_string_equal(s.last_import, "");
	assert_string_equal(s.last_sync, "");
}

static void put_category(struct storage *st, int n, const char *kind)
{
	char uid[WSUS_GUID_LEN];
	struct wsus_update *u;

	snprintf(uid, sizeof(uid), "c0000000-0000-4000-8000-%012d", n);
	u = tsu_update(uid, 1, WSUS_UT_CATEGORY, "<cat/>");
	tsu_set_category(u, kind);
	tsu_put(st, u, NULL);
	wsus_update_free(u);
}

/* 2.1 every counter matches a store populated by hand */
static void test_status_counts_match(void **state)
{
	struct tsu *t = *state;
	struct wsus_update *sw1 = tsu_update("a0000000-0000-4000-8000-000000000001", 1, WSUS_UT_SOFTWARE, "<s1/>");
	struct wsus_update *sw2 = tsu_update("a0000000-0000-4000-8000-000000000001", 2, WSUS_UT_SOFTWARE, "<s2/>");
	struct wsus_update *sw3 = tsu_update("a0000000-0000-4000-8000-000000000002", 1, WSUS_UT_SOFTWARE, "<s3/>");
	struct wsus_update *drv = tsu_update("d0000000-0000-4000-8000-000000000001", 1, WSUS_UT_DRIVER, "<d/>");
	struct wsus_update *det = tsu_update("e0000000-0000-4000-8000-000000000001", 1, WSUS_UT_DETECTOID, "<e/>");
	struct storage_status s;
	struct err e = { 0 };
	char src[512];

	put_category(t->st, 1, "Company");
	put_category(t->st, 2, "ProductFamily");
	put_category(t->st, 3, "Product");
	put_category(t->st, 4, "Product");
	put_category(t->st, 5, "UpdateClassification");
	put_category(t->st, 6, "UpdateClassification");
	put_category(t->st, 7, "UpdateClassification");

	tsu_add_file(sw1, "shared.cab", "shared payload", 14, 1);
	tsu_add_file(sw2, "shared.cab", "shared payload", 14, 1);
	tsu_add_file(sw2, "bad.cab", "bad payload", 11, 1);
	tsu_add_file(sw3, "never.cab", "never fetched", 13, 1);
	tsu_put(t->st, sw1, NULL);
	tsu_put(t->st, sw2, NULL);
	tsu_put(t->st, sw3, NULL);
	tsu_put(t->st, drv, NULL);
	tsu_put(t->st, det, NULL);

	snprintf(src, sizeof(src), "%s/good", t->dir);
	tsu_write_file(src, "shared payload", 14);
	assert_int_equal(storage_content_import(t->st, src, &sw2->files[0], &e), 0);
	snprintf(src, sizeof(src), "%s/bad", t->dir);
	tsu_write_file(src, "bad paylaod", 11);
	assert_int_equal(storage_content_import(t->st, src, &sw2->files[1], &e), -EBADMSG);

	assert_int_equal(storage_group_add(t->st, "Pilot", NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, sw1->update_id, -1, "Pilot", STORAGE_ACTION_INSTALL,
						NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, sw1->update_id, -1, "Pilot", STORAGE_ACTION_BLOCK,
						NULL, &e), 0);  /* replaces: still one live */
	assert_int_equal(storage_deployment_set(t->st, sw1->update_id, -1, "All Computers",
						STORAGE_ACTION_INSTALL, NULL, &e), 0);
	assert_int_equal(storage_deployment_set(t->st, drv->update_id, -1, "All Computers",
						STORAGE_ACTION_INSTALL, NULL, &e), 0);
	assert_int_equal(storage_update_decline(t->st, drv->update_id, &e), 0);
	assert_int_equal(storage_state_set(t->st, "last_import", "2024-05-06T07:08:09.000Z", &e), 0);

	assert_int_equal(storage_status_get(t->st, &s, &e), 0);
	assert_int_equal(s.revisions, 7 + 5);
	assert_int_equal(s.updates, 7 + 4);
	assert_int_equal(s.by_type[WSUS_UT_SOFTWARE], 2);
	assert_int_equal(s.by_type[WSUS_UT_DRIVER], 1);
	assert_int_equal(s.by_type[WSUS_UT_CATEGORY], 7);
	assert_int_equal(s.by_type[WSUS_UT_DETECTOID], 1);
	assert_int_equal(s.categories_by_kind[0], 1);
	assert_int_equal(s.categories_by_kind[1], 1);
	assert_int_equal(s.categories_by_kind[2], 2);
	assert_int_equal(s.categories_by_kind[3], 3);
	assert_int_equal(s.deployments, 2);   /* Pilot block + All install of sw1; the driver's died */
	assert_int_equal(s.declined, 1);
	assert_int_equal(s.groups, 3);
	assert_int_equal(s.computers, 0);
	assert_int_equal(s.files, 3);
	assert_int_equal(s.files_present, 1);
	assert_int_equal(s.files_missing, 1);
	assert_int_equal(s.files_quarantined, 1);
	assert_int_equal(s.content_bytes, 14);
	assert_string_equal(s.last_import, "2024-05-06T07:08:09.000Z");
	assert_string_equal(s.last_sync, "");

	wsus_update_free(sw1);
	wsus_update_free(sw2);
	wsus_update_free(sw3);
	wsus_update_free(drv);
	wsus_update_free(det);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_of_empty_store, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_status_counts_match, tsu_setup, tsu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
