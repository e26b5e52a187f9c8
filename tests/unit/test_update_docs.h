/*
 * test_update_docs.h -- the nine real update documents of
 * ../shared/fixtures/update-docs (read from there, never copied): categories
 * Microsoft 56309036 r101 -> Windows 6964aab4 r100 -> OOBE ZDP dd78b8a1 r202,
 * a Defender bundle and its leaves.
 */
#ifndef TEST_UPDATE_DOCS_H
#define TEST_UPDATE_DOCS_H

#define TEST_UPDATE_DOCS_DIR WSUS_SHARED_DIR "/fixtures/update-docs/"

static const char *const test_update_docs[] = {
	"1f9bd9bb-7390-4aa3-bbdb-ded99fac2583-r200.xml",
	"266f6222-c89d-43f2-9f8a-69340271e677-r200.xml",
	"56309036-4c77-4dd9-951a-99ee9c246a94-r101.xml",
	"6964aab4-c5b5-43bd-a17d-ffb4346a8e1d-r100.xml",
	"7366a74a-ef29-44e1-b738-570b516aca1f-r200.xml",
	"a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml",
	"ccb78947-6453-4ecc-9de8-bc0305c98f2d-r200.xml",
	"dd78b8a1-0b20-45c1-add6-4da72e9364cf-r202.xml",
	"ff36f0b5-dded-4780-8664-cd78af8b62c1-r200.xml",
};
#define TEST_N_UPDATE_DOCS (sizeof(test_update_docs) / sizeof(test_update_docs[0]))

#endif /* TEST_UPDATE_DOCS_H */
