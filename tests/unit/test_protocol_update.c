/*
 * test_protocol_update.c -- update documents into struct wsus_update.
 * Groups: 1 the nine real documents (fixtures/update-docs) and their values,
 *         2 namespace prefixes do not matter, 3 drivers and EULA files
 *         (synthetic documents in the real namespaces), 4 refusals.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

#define DOCS WSUS_SHARED_DIR "/fixtures/update-docs/"

static const char *const doc_names[] = {
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

static char *load(const char *name, size_t *len)
{
	char path[1024];
	char *buf = NULL;
	struct err e = { 0 };

	snprintf(path, sizeof(path), DOCS "%s", name);
	if (wsus_read_file(path, WSUS_MAX_UPDATE_XML, &buf, len, &e) < 0)
		fail_msg("%s", e.msg);
	return buf;
}

static struct wsus_update *parse_doc(const char *name)
{
	struct wsus_update *u = NULL;
	struct err e = { 0 };
	size_t len;
	char *xml = load(name, &len);

	if (protocol_update_parse(xml, len, &u, &e) < 0)
		fail_msg("%s: %s", name, e.msg);
	free(xml);
	return u;
}

static struct wsus_update *parse_str(const char *xml, struct err *e)
{
	struct wsus_update *u = NULL;

	if (protocol_update_parse(xml, strlen(xml), &u, e) < 0)
		return NULL;
	return u;
}

static size_t count_clauses(const struct wsus_prereq *p, size_t n)
{
	int max = -1;

	for (size_t i = 0; i < n; i++)
		if (p[i].clause > max)
			max = p[i].clause;
	return (size_t)(max + 1);
}

/* 1.1 every real document parses; identity comes from the document, XML is kept */
static void test_all_docs_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(doc_names) / sizeof(doc_names[0]); i++) {
		struct wsus_update *u = parse_doc(doc_names[i]);
		size_t len;
		char *xml = load(doc_names[i], &len);
		char rev[16];

		assert_memory_equal(u->update_id, doc_names[i], 36);
		snprintf(rev, sizeof(rev), "-r%d.xml", u->revision);
		assert_string_equal(doc_names[i] + 36, rev);
		assert_int_not_equal(u->type, WSUS_UT_UNKNOWN);
		assert_int_equal(u->xml_len, len);
		assert_memory_equal(u->xml, xml, len);
		assert_int_equal(u->xml[len], '\0');
		assert_true(u->n_fragments >= 3);
		assert_int_equal(u->fragments[0].type, WSUS_FRAG_CORE);
		assert_int_equal(u->fragments[1].type, WSUS_FRAG_EXTENDED);
		assert_non_null(u->title);
		assert_string_equal(u->default_language, "en");
		assert_string_equal(u->publication_state, "Published");
		free(xml);
		wsus_update_free(u);
	}
}

/* 1.2 the three categories: type, CategoryType, and the upper-case UpdateID normalised */
static void test_categories(void **state)
{
	static const struct { const char *doc, *cat, *title; int prereqs; } v[] = {
		{ "56309036-4c77-4dd9-951a-99ee9c246a94-r101.xml", "Company", "Microsoft", 0 },
		{ "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d-r100.xml", "ProductFamily", "Windows", 1 },
		{ "dd78b8a1-0b20-45c1-add6-4da72e9364cf-r202.xml", "Product", "OOBE ZDP", 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct wsus_update *u = parse_doc(v[i].doc);

		assert_int_equal(u->type, WSUS_UT_CATEGORY);
		assert_string_equal(u->category_type, v[i].cat);
		assert_string_equal(u->title, v[i].title);
		assert_int_equal(u->n_prereqs, v[i].prereqs);
		assert_int_equal(u->n_files, 0);
		assert_string_equal(u->handler,
				    "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category");
		wsus_update_free(u);
	}
	/* 56309036 is written in upper case in its document. */
	{
		struct wsus_update *u = parse_doc(v[0].doc);

		assert_string_equal(u->update_id, "56309036-4c77-4dd9-951a-99ee9c246a94");
		assert_int_equal(u->revision, 101);
		assert_string_equal(u->description, "Microsoft");
		assert_string_equal(u->creation_date, "2005-09-22T00:05:11.471Z");
		wsus_update_free(u);
	}
	/* The product's category prerequisite is flagged IsCategory. */
	{
		struct wsus_update *u = parse_doc(v[2].doc);

		assert_string_equal(u->prereqs[0].update_id, "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d");
		assert_int_equal(u->prereqs[0].is_category, 1);
		assert_int_equal(u->explicitly_deployable, 0);
		wsus_update_free(u);
	}
}

/* 1.3 the bundle KB2267602: 124 bundled revisions in 4 clauses, 10 superseded, CNF prerequisites */
static void test_bundle_a2fef9b0(void **state)
{
	struct wsus_update *u = parse_doc("a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml");
	size_t per_clause[4] = { 0 };

	(void)state;
	assert_int_equal(u->type, WSUS_UT_SOFTWARE);
	assert_null(u->category_type);
	assert_string_equal(u->kb_article, "2267602");
	assert_int_equal(u->explicitly_deployable, 1);
	assert_int_equal(u->max_download_size, 0);
	assert_int_equal(u->n_files, 0);
	assert_non_null(strstr(u->title, "KB2267602"));
	assert_int_equal(u->n_superseded, 10);
	assert_string_equal(u->superseded[0], "ce84983e-b20e-44d7-a412-1fd91fc7bda8");
	assert_string_equal(u->superseded[9], "bb663b81-45db-43cb-8bfa-33411e0d8a1f");

	assert_int_equal(u->n_bundled, 124);
	for (size_t i = 0; i < u->n_bundled; i++) {
		assert_in_range(u->bundled[i].clause, 0, 3);
		assert_int_equal(u->bundled[i].revision, 200);
		per_clause[u->bundled[i].clause]++;
	}
	assert_int_equal(per_clause[0], 7);
	assert_int_equal(per_clause[1], 7);
	assert_int_equal(per_clause[2], 7);
	assert_int_equal(per_clause[3], 103);
	assert_string_equal(u->bundled[0].update_id, "90f961a9-1756-4493-aade-644c37589961");
	assert_string_equal(u->bundled[5].update_id, "ccb78947-6453-4ecc-9de8-bc0305c98f2d");

	/* 2 bare + 2 AtLeastOne IsCategory="true" = 4 clauses. */
	assert_int_equal(u->n_prereqs, 4);
	assert_int_equal(count_clauses(u->prereqs, u->n_prereqs), 4);
	assert_int_equal(u->prereqs[0].is_category, 0);
	assert_int_equal(u->prereqs[1].is_category, 0);
	assert_int_equal(u->prereqs[2].is_category, 1);
	assert_int_equal(u->prereqs[3].is_category, 1);
	assert_string_equal(u->prereqs[3].update_id, "8c3fcc84-7410-4a95-8b89-a166a0190486");
	wsus_update_free(u);
}

/* 1.4 the leaf 266f6222: its file, digests against the document's base64, CNF of 4 clauses */
static void test_leaf_266f6222(void **state)
{
	struct wsus_update *u = parse_doc("266f6222-c89d-43f2-9f8a-69340271e677-r200.xml");
	static const char sha1_b64[] = "h/W9BGlYUAaqXTp30cZi/SiV3c0=";
	static const char sha256_b64[] = "Amt0qymy5KsROiwIXm4QIIV75Ju4r+Cl28Pg8gaLXUA=";
	uint8_t want1[20], want256[32];
	char hex[65];
	size_t n;
	const struct wsus_file *f;

	(void)state;
	assert_int_equal(u->type, WSUS_UT_SOFTWARE);
	assert_string_equal(u->handler,
			    "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation");
	assert_int_equal(u->max_download_size, 11606440);
	assert_int_equal(u->min_download_size, 0);
	assert_null(u->kb_article);
	assert_int_equal(u->n_files, 1);
	f = &u->files[0];
	assert_string_equal(f->file_name, "AM_Delta.exe");
	assert_int_equal(f->size, 11606440);
	assert_string_equal(f->modified, "2026-10-04T09:39:26Z");
	assert_null(f->patching_type);
	assert_int_equal(f->is_encrypted, 0);
	assert_int_equal(f->is_eula, 0);
	assert_int_equal(wsus_b64_decode(sha1_b64, strlen(sha1_b64), want1, sizeof(want1), &n), 0);
	assert_int_equal(n, 20);
	assert_memory_equal(f->sha1, want1, 20);
	wsus_hex_encode(f->sha1, 20, hex);
	assert_string_equal(hex, "87f5bd0469585006aa5d3a77d1c662fd2895ddcd");
	assert_int_equal(f->has_sha256, 1);
	assert_int_equal(wsus_b64_decode(sha256_b64, strlen(sha256_b64), want256, sizeof(want256), &n), 0);
	assert_int_equal(n, 32);
	assert_memory_equal(f->sha256, want256, 32);

	/* 3 bare identities, then one AtLeastOne: 4 clauses, none a category. */
	assert_int_equal(u->n_prereqs, 4);
	assert_int_equal(count_clauses(u->prereqs, u->n_prereqs), 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(u->prereqs[i].clause, (int)i);
		assert_int_equal(u->prereqs[i].is_category, 0);
	}
	assert_string_equal(u->prereqs[0].update_id, "be4048db-157c-4532-9582-7f05099590c9");
	assert_string_equal(u->prereqs[3].update_id, "8c3fcc84-7410-4a95-8b89-a166a0190486");
	assert_int_equal(u->n_bundled, 0);
	assert_int_equal(u->n_drivers, 0);
	wsus_update_free(u);
}

/* 1.5 ccb78947: two single-member AtLeastOne clauses and one bundle clause of four */
static void test_small_bundle_ccb78947(void **state)
{
	struct wsus_update *u = parse_doc("ccb78947-6453-4ecc-9de8-bc0305c98f2d-r200.xml");

	(void)state;
	assert_int_equal(u->n_prereqs, 2);
	assert_int_equal(u->prereqs[0].clause, 0);
	assert_int_equal(u->prereqs[1].clause, 1);
	assert_int_equal(u->n_bundled, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(u->bundled[i].clause, 0);
	assert_string_equal(u->bundled[3].update_id, "e052d9bd-e49c-4d6e-876e-005b49b89812");
	assert_int_equal(u->max_download_size, -1);
	assert_null(u->handler);
	wsus_update_free(u);
}

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t nf = strlen(from), nt = strlen(to), count = 0, n;
	const char *p;
	char *out, *o;

	for (p = strstr(s, from); p; p = strstr(p + nf, from))
		count++;
	n = strlen(s) + count * nt + 1;
	out = malloc(n);
	assert_non_null(out);
	o = out;
	while ((p = strstr(s, from)) != NULL) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, to, nt);
		o += nt;
		s = p + nf;
	}
	memcpy(o, s, strlen(s) + 1);
	return out;
}

/* 2.1 default namespace or another prefix: same values and the same fragments */
static void test_prefix_independent(void **state)
{
	size_t len;
	char *orig = load("266f6222-c89d-43f2-9f8a-69340271e677-r200.xml", &len);
	char *t1 = replace_all(orig, "upd:", "");
	char *dflt = replace_all(t1, "xmlns:upd=", "xmlns=");
	char *other = replace_all(orig, "upd:", "u9:");
	char *other2 = replace_all(other, "xmlns:upd=", "xmlns:u9=");
	struct wsus_update *a = parse_doc("266f6222-c89d-43f2-9f8a-69340271e677-r200.xml");
	struct wsus_update *b, *c;
	struct err e = { 0 };

	(void)state;
	b = parse_str(dflt, &e);
	if (b == NULL)
		fail_msg("%s", e.msg);
	c = parse_str(other2, &e);
	if (c == NULL)
		fail_msg("%s", e.msg);
	assert_non_null(strstr(other2, "<u9:UpdateIdentity"));
	assert_null(strstr(dflt, "upd:"));
	for (struct wsus_update *x = b; x != NULL; x = x == b ? c : NULL) {
		assert_string_equal(x->update_id, a->update_id);
		assert_int_equal(x->n_prereqs, a->n_prereqs);
		assert_int_equal(x->n_files, 1);
		assert_memory_equal(x->files[0].sha256, a->files[0].sha256, 32);
		assert_int_equal(x->n_fragments, a->n_fragments);
		for (size_t i = 0; i < a->n_fragments; i++)
			assert_string_equal(x->fragments[i].xml, a->fragments[i].xml);
	}
	wsus_update_free(a);
	wsus_update_free(b);
	wsus_update_free(c);
	free(orig);
	free(t1);
	free(dflt);
	free(other);
	free(other2);
}

#define NS_DECLS \
	"xmlns:upd=\"http://schemas.microsoft.com/msus/2002/12/Update\" " \
	"xmlns:drv=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver\" " \
	"xmlns:bar=\"http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules\""

static const char driver_doc[] =
	"<upd:Update " NS_DECLS ">"
	"<upd:UpdateIdentity UpdateID=\"{0B9B36F5-1D2E-4C3B-8A7F-0123456789AB}\" RevisionNumber=\"7\" />"
	"<upd:Properties UpdateType=\"Driver\" DefaultPropertiesLanguage=\"de\" IsMandatory=\"true\""
	" Handler=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver\""
	" MaxDownloadSize=\"4096\" MinDownloadSize=\"1024\">"
	"<upd:Language>EN</upd:Language><upd:Language>de</upd:Language>"
	"<upd:SecuredFragment>FileUrl</upd:SecuredFragment></upd:Properties>"
	"<upd:LocalizedPropertiesCollection>"
	"<upd:LocalizedProperties><upd:Language>en</upd:Language><upd:Title>Contoso NIC</upd:Title>"
	"</upd:LocalizedProperties>"
	"<upd:LocalizedProperties><upd:Language>de</upd:Language><upd:Title>Contoso Netzwerk</upd:Title>"
	"<upd:Description>Treiber</upd:Description></upd:LocalizedProperties>"
	"<upd:EulaFile Digest=\"AAAAAAAAAAAAAAAAAAAAAAAAAAA=\" DigestAlgorithm=\"SHA1\" FileName=\"eula-de.txt\""
	" Size=\"12\" Language=\"de\" />"
	"</upd:LocalizedPropertiesCollection>"
	"<upd:ApplicabilityRules>"
	"<upd:IsInstalled><drv:WindowsDriverInstalled /></upd:IsInstalled>"
	"<upd:IsInstallable><drv:WindowsDriverInstallable /></upd:IsInstallable>"
	"<upd:Metadata>"
	"<drv:WindowsDriverMetaData HardwareID=\"PCI\\VEN_8086&amp;DEV_1234\" WhqlDriverID=\"1234567\""
	" Company=\"Contoso\" Provider=\"Contoso Ltd\" Manufacturer=\"Contoso Mfg\" Model=\"NIC 1\""
	" Class=\"Net\" DriverVerDate=\"2024-03-01\" DriverVerVersion=\"1.2.3.4\">"
	"<drv:FeatureScore OperatingSystem=\"amd64.10.0\" FeatureScore=\"255\" />"
	"<drv:FeatureScore OperatingSystem=\"x86.10.0\" FeatureScore=\"10\" />"
	"<drv:DistributionComputerHardwareId>{5E1D4F6A-AAAA-BBBB-CCCC-0123456789AB}</drv:DistributionComputerHardwareId>"
	"<drv:TargetComputerHardwareId>11111111-2222-3333-4444-555555555555</drv:TargetComputerHardwareId>"
	"<drv:TargetComputerHardwareId>66666666-7777-8888-9999-AAAAAAAAAAAA</drv:TargetComputerHardwareId>"
	"</drv:WindowsDriverMetaData>"
	"<drv:WindowsDriverMetaData HardwareID=\"USB\\VID_1234\" DriverVerDate=\"2023-01-02\""
	" DriverVerVersion=\"2.0.0.0\" Class=\"USB\" Manufacturer=\"M\" Provider=\"P\" Model=\"X\" />"
	"</upd:Metadata>"
	"</upd:ApplicabilityRules>"
	"<upd:Files><upd:File Digest=\"h/W9BGlYUAaqXTp30cZi/SiV3c0=\" DigestAlgorithm=\"SHA1\""
	" FileName=\"nic.cab\" Size=\"4096\" PatchingType=\"Express\" IsEncrypted=\"true\">"
	"<upd:AdditionalDigest Algorithm=\"SHA256\">Amt0qymy5KsROiwIXm4QIIV75Ju4r+Cl28Pg8gaLXUA=</upd:AdditionalDigest>"
	"</upd:File></upd:Files>"
	"</upd:Update>";

/* 3.1 driver metadata rows: attributes, feature scores, CHIDs (normalised) */
static void test_driver_rows(void **state)
{
	struct err e = { 0 };
	struct wsus_update *u = parse_str(driver_doc, &e);
	const struct wsus_driver *d;

	(void)state;
	if (u == NULL)
		fail_msg("%s", e.msg);
	assert_string_equal(u->update_id, "0b9b36f5-1d2e-4c3b-8a7f-0123456789ab");
	assert_int_equal(u->revision, 7);
	assert_int_equal(u->type, WSUS_UT_DRIVER);
	assert_int_equal(u->is_mandatory, 1);
	assert_int_equal(u->min_download_size, 1024);
	assert_string_equal(u->secured_fragment, "FileUrl");
	assert_int_equal(u->n_languages, 2);
	assert_string_equal(u->languages[0], "en");
	assert_string_equal(u->languages[1], "de");
	/* Title follows DefaultPropertiesLanguage="de", not the first or "en". */
	assert_string_equal(u->title, "Contoso Netzwerk");
	assert_string_equal(u->description, "Treiber");

	assert_int_equal(u->n_drivers, 2);
	d = &u->drivers[0];
	assert_string_equal(d->hardware_id, "PCI\\VEN_8086&DEV_1234");
	assert_string_equal(d->driver_ver_date, "2024-03-01");
	assert_string_equal(d->driver_ver_version, "1.2.3.4");
	assert_string_equal(d->class_name, "Net");
	assert_string_equal(d->manufacturer, "Contoso Mfg");
	assert_string_equal(d->provider, "Contoso Ltd");
	assert_string_equal(d->model, "NIC 1");
	assert_string_equal(d->company, "Contoso");
	assert_int_equal(d->whql_driver_id, 1234567);
	assert_int_equal(d->n_scores, 2);
	assert_string_equal(d->scores[0].os, "amd64.10.0");
	assert_int_equal(d->scores[0].score, 255);
	assert_string_equal(d->scores[1].os, "x86.10.0");
	assert_int_equal(d->scores[1].score, 10);
	assert_int_equal(d->n_distribution_chids, 1);
	assert_string_equal(d->distribution_chids[0], "5e1d4f6a-aaaa-bbbb-cccc-0123456789ab");
	assert_int_equal(d->n_target_chids, 2);
	assert_string_equal(d->target_chids[1], "66666666-7777-8888-9999-aaaaaaaaaaaa");
	d = &u->drivers[1];
	assert_string_equal(d->hardware_id, "USB\\VID_1234");
	assert_int_equal(d->whql_driver_id, -1);
	assert_null(d->company);
	assert_int_equal(d->n_scores, 0);
	assert_int_equal(d->n_target_chids, 0);
	wsus_update_free(u);
}

/* 3.2 Files/File first, then EulaFile entries flagged with their language */
static void test_files_and_eula_files(void **state)
{
	struct err e = { 0 };
	struct wsus_update *u = parse_str(driver_doc, &e);

	(void)state;
	if (u == NULL)
		fail_msg("%s", e.msg);
	assert_int_equal(u->n_files, 2);
	assert_string_equal(u->files[0].file_name, "nic.cab");
	assert_string_equal(u->files[0].patching_type, "Express");
	assert_int_equal(u->files[0].is_encrypted, 1);
	assert_int_equal(u->files[0].is_eula, 0);
	assert_null(u->files[0].language);
	assert_int_equal(u->files[0].has_sha256, 1);
	assert_string_equal(u->files[1].file_name, "eula-de.txt");
	assert_int_equal(u->files[1].is_eula, 1);
	assert_string_equal(u->files[1].language, "de");
	assert_int_equal(u->files[1].size, 12);
	assert_int_equal(u->files[1].has_sha256, 0);
	wsus_update_free(u);
}

#define U_OPEN "<u:Update xmlns:u=\"http://schemas.microsoft.com/msus/2002/12/Update\">"
#define U_ID "<u:UpdateIdentity UpdateID=\"266f6222-c89d-43f2-9f8a-69340271e677\" RevisionNumber=\"1\"/>"
#define U_PROPS "<u:Properties UpdateType=\"Software\"/>"

/* 4.1 bad documents are refused with a clear message and *out untouched */
static void test_refusals(void **state)
{
	static const struct { const char *xml, *needle; } v[] = {
		{ "this is not XML", "XML error" },
		{ "<Update><UpdateIdentity/></Update>", "root element" },
		{ "<u:Update xmlns:u=\"urn:other\">" U_ID U_PROPS "</u:Update>", "root element" },
		{ U_OPEN U_PROPS "</u:Update>", "UpdateIdentity" },
		{ U_OPEN "<u:UpdateIdentity RevisionNumber=\"1\"/>" U_PROPS "</u:Update>", "UpdateID" },
		{ U_OPEN "<u:UpdateIdentity UpdateID=\"not-a-guid\" RevisionNumber=\"1\"/>" U_PROPS
		  "</u:Update>", "not a GUID" },
		{ U_OPEN "<u:UpdateIdentity UpdateID=\"266f6222-c89d-43f2-9f8a-69340271e677\"/>" U_PROPS
		  "</u:Update>", "RevisionNumber" },
		{ U_OPEN "<u:UpdateIdentity UpdateID=\"266f6222-c89d-43f2-9f8a-69340271e677\""
		  " RevisionNumber=\"12a\"/>" U_PROPS "</u:Update>", "RevisionNumber" },
		{ U_OPEN "<u:UpdateIdentity UpdateID=\"266f6222-c89d-43f2-9f8a-69340271e677\""
		  " RevisionNumber=\"-1\"/>" U_PROPS "</u:Update>", "RevisionNumber" },
		{ U_OPEN U_ID "</u:Update>", "Properties" },
		{ U_OPEN U_ID "<u:Properties UpdateType=\"Firmware\"/></u:Update>", "UpdateType" },
		{ U_OPEN U_ID "<u:Properties/></u:Update>", "UpdateType" },
		{ U_OPEN U_ID U_PROPS "<u:Files><u:File Digest=\"AAAA\" DigestAlgorithm=\"SHA1\""
		  " FileName=\"a\"/></u:Files></u:Update>", "Digest" },
		{ U_OPEN U_ID U_PROPS "<u:Files><u:File Digest=\"h/W9BGlYUAaqXTp30cZi/SiV3c0=\""
		  " DigestAlgorithm=\"MD5\" FileName=\"a\"/></u:Files></u:Update>", "DigestAlgorithm" },
		{ U_OPEN U_ID U_PROPS "<u:Files><u:File Digest=\"h/W9BGlYUAaqXTp30cZi/SiV3c0=\""
		  " DigestAlgorithm=\"SHA1\" FileName=\"a\"><u:AdditionalDigest Algorithm=\"SHA256\">"
		  "h/W9BGlYUAaqXTp30cZi/SiV3c0=</u:AdditionalDigest></u:File></u:Files></u:Update>",
		  "SHA256" },
		{ U_OPEN U_ID U_PROPS "<u:Files><u:File Digest=\"h/W9BGlYUAaqXTp30cZi/SiV3c0=\""
		  " DigestAlgorithm=\"SHA1\"/></u:Files></u:Update>", "FileName" },
		{ U_OPEN U_ID U_PROPS "<u:Relationships><u:BundledUpdates><u:AtLeastOne>"
		  "<u:UpdateIdentity UpdateID=\"ccb78947-6453-4ecc-9de8-bc0305c98f2d\"/>"
		  "</u:AtLeastOne></u:BundledUpdates></u:Relationships></u:Update>", "RevisionNumber" },
		{ U_OPEN U_ID U_PROPS "<u:Relationships><u:Prerequisites>"
		  "<u:UpdateIdentity UpdateID=\"zz\"/></u:Prerequisites></u:Relationships></u:Update>",
		  "Prerequisites" },
	};
	struct wsus_update sentinel, *u = &sentinel;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct err e = { 0 };
		int rc = protocol_update_parse(v[i].xml, strlen(v[i].xml), &u, &e);

		if (rc >= 0 || strstr(e.msg, v[i].needle) == NULL)
			fail_msg("case %zu: rc=%d msg='%s' (wanted '%s')", i, rc, e.msg, v[i].needle);
		assert_int_equal(e.code, rc);
		assert_ptr_equal(u, &sentinel);
	}
}

/* 4.2 the smallest valid document parses: only identity and Properties */
static void test_minimal_document(void **state)
{
	static const char doc[] = U_OPEN U_ID U_PROPS "</u:Update>";
	struct err e = { 0 };
	struct wsus_update *u = parse_str(doc, &e);

	(void)state;
	if (u == NULL)
		fail_msg("%s", e.msg);
	assert_int_equal(u->type, WSUS_UT_SOFTWARE);
	assert_null(u->title);
	assert_int_equal(u->n_fragments, 2);
	assert_string_equal(u->fragments[0].xml,
			    "<UpdateIdentity UpdateID=\"266f6222-c89d-43f2-9f8a-69340271e677\""
			    " RevisionNumber=\"1\" /><Properties UpdateType=\"Software\" />");
	assert_string_equal(u->fragments[1].xml, "<ExtendedProperties />");
	wsus_update_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_docs_parse),
		cmocka_unit_test(test_categories),
		cmocka_unit_test(test_bundle_a2fef9b0),
		cmocka_unit_test(test_leaf_266f6222),
		cmocka_unit_test(test_small_bundle_ccb78947),
		cmocka_unit_test(test_prefix_independent),
		cmocka_unit_test(test_driver_rows),
		cmocka_unit_test(test_files_and_eula_files),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_minimal_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
