/*
 * test_protocol_cab.c -- XmlUpdateBlobCompressed decoding.
 * Groups: 1 the real blobs of a Windows Server 2025 USS capture decode to the
 *           update documents (and the plain XmlUpdateBlob matches too),
 *         2 damaged input is refused cleanly (truncated, corrupted, not a
 *           cabinet, oversized member, bad base64, member count),
 *         3 UTF-16LE: BOM, XML declaration, surrogate pairs, refusals.
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

#define CAPTURE WSUS_SHARED_DIR "/fixtures/ws2025-uss-capture/"
#define DOCS WSUS_SHARED_DIR "/fixtures/update-docs/"

static char *load(const char *path, size_t *len)
{
	char *buf = NULL;
	struct err e = { 0 };

	if (wsus_read_file(path, WSUS_MAX_UPDATE_XML, &buf, len, &e) < 0)
		fail_msg("%s", e.msg);
	return buf;
}

static const xmlNode *find_local(const xmlNode *n, const char *local)
{
	for (; n != NULL; n = n->next) {
		const xmlNode *hit;

		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0)
			return n;
		hit = find_local(n->children, local);
		if (hit != NULL)
			return hit;
	}
	return NULL;
}

/* Text of the first element named `local` in a captured SOAP response. */
static char *response_element(const char *num, const char *local)
{
	char path[1024];
	size_t len;
	char *body, *text;
	struct err e = { 0 };
	xmlDocPtr doc;
	const xmlNode *n;
	xmlChar *c;

	snprintf(path, sizeof(path), CAPTURE "%s-response.body", num);
	body = load(path, &len);
	doc = protocol_xml_parse(body, len, &e);
	if (doc == NULL)
		fail_msg("%s: %s", path, e.msg);
	n = find_local(xmlDocGetRootElement(doc), local);
	assert_non_null(n);
	c = xmlNodeGetContent(n);
	text = strdup((const char *)c);
	xmlFree(c);
	xmlFreeDoc(doc);
	free(body);
	return text;
}

/* Raw cabinet bytes of a captured XmlUpdateBlobCompressed. */
static uint8_t *capture_cab(const char *num, size_t *n)
{
	char *b64 = response_element(num, "XmlUpdateBlobCompressed");
	uint8_t *raw = malloc(strlen(b64));

	assert_non_null(raw);
	assert_int_equal(wsus_b64_decode(b64, strlen(b64), raw, strlen(b64), n), 0);
	free(b64);
	return raw;
}

static void expect_equivalent_to_doc(const char *xml, size_t len, const char *doc_name)
{
	char path[1024];
	size_t dlen;
	char *doc;
	struct err d = { 0 };
	int rc;

	snprintf(path, sizeof(path), DOCS "%s", doc_name);
	doc = load(path, &dlen);
	rc = protocol_xml_equivalent(xml, len, doc, dlen, &d);
	if (rc != 1)
		fail_msg("%s: rc=%d %s", doc_name, rc, d.msg);
	/* These fixtures were produced from the same blobs: byte for byte equal. */
	assert_int_equal(len, dlen);
	assert_memory_equal(xml, doc, len);
	free(doc);
}

/* 1.1 responses 13, 14, 16: the compressed blobs are the update documents */
static void test_capture_blobs_decode(void **state)
{
	static const struct { const char *num, *id, *doc; } v[] = {
		{ "000013", "a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe",
		  "a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml" },
		{ "000014", "266f6222-c89d-43f2-9f8a-69340271e677",
		  "266f6222-c89d-43f2-9f8a-69340271e677-r200.xml" },
		{ "000016", "56309036-4c77-4dd9-951a-99ee9c246a94",
		  "56309036-4c77-4dd9-951a-99ee9c246a94-r101.xml" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *id = response_element(v[i].num, "UpdateID");
		char *b64 = response_element(v[i].num, "XmlUpdateBlobCompressed");
		char *xml = NULL;
		size_t len = 0;
		struct err e = { 0 };
		struct wsus_update *u = NULL;

		/* The document we compare with is the one the response is about. */
		assert_string_equal(id, v[i].id);
		if (protocol_blob_decode_b64(b64, strlen(b64), &xml, &len, &e) < 0)
			fail_msg("%s: %s", v[i].num, e.msg);
		assert_int_equal(strlen(xml), len);
		expect_equivalent_to_doc(xml, len, v[i].doc);
		assert_int_equal(protocol_update_parse(xml, len, &u, &e), 0);
		assert_string_equal(u->update_id, v[i].id);
		wsus_update_free(u);
		free(xml);
		free(b64);
		free(id);
	}
}

/* 1.2 the decoded blob gives the very same fragments as the stored document */
static void test_capture_fragments_match_doc(void **state)
{
	char *b64 = response_element("000014", "XmlUpdateBlobCompressed");
	char path[] = DOCS "266f6222-c89d-43f2-9f8a-69340271e677-r200.xml";
	char *xml = NULL, *doc;
	size_t len = 0, dlen;
	struct err e = { 0 };
	struct wsus_update *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(protocol_blob_decode_b64(b64, strlen(b64), &xml, &len, &e), 0);
	doc = load(path, &dlen);
	assert_int_equal(protocol_update_parse(xml, len, &a, &e), 0);
	assert_int_equal(protocol_update_parse(doc, dlen, &b, &e), 0);
	assert_int_equal(a->n_fragments, b->n_fragments);
	for (size_t i = 0; i < a->n_fragments; i++)
		assert_string_equal(a->fragments[i].xml, b->fragments[i].xml);
	wsus_update_free(a);
	wsus_update_free(b);
	free(doc);
	free(xml);
	free(b64);
}

/* 1.3 response 15's plain XmlUpdateBlob, unescaped, is the ccb78947 document */
static void test_plain_blob_matches(void **state)
{
	char *xml = response_element("000015", "XmlUpdateBlob");
	char path[] = DOCS "ccb78947-6453-4ecc-9de8-bc0305c98f2d-r200.xml";
	size_t dlen;
	char *doc = load(path, &dlen);

	(void)state;
	assert_int_equal(strlen(xml), dlen);
	assert_memory_equal(xml, doc, dlen);
	free(doc);
	free(xml);
}

static void expect_cab_refused(const uint8_t *cab, size_t n, int code, const char *needle)
{
	char *xml = NULL;
	size_t len = 0;
	struct err e = { 0 };
	int rc = protocol_cab_extract(cab, n, &xml, &len, &e);

	if (rc >= 0)
		fail_msg("cabinet accepted (%zu bytes out)", len);
	if (code != 0)
		assert_int_equal(rc, code);
	assert_int_equal(e.code, rc);
	if (needle != NULL && strstr(e.msg, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", e.msg, needle);
	assert_null(xml);
}

/* 2.1 a cabinet cut short is refused, wherever it is cut */
static void test_truncated_refused(void **state)
{
	size_t n;
	uint8_t *cab = capture_cab("000013", &n);

	(void)state;
	expect_cab_refused(cab, n / 2, 0, "cabinet");
	expect_cab_refused(cab, n - 1, 0, "cabinet");
	expect_cab_refused(cab, 60, 0, "cabinet");
	expect_cab_refused(cab, 20, 0, "cabinet");
	expect_cab_refused(cab, 0, 0, "cabinet");
	free(cab);
}

/* 2.2 a flipped byte in the compressed data fails the block checksum */
static void test_corrupted_refused(void **state)
{
	size_t n;
	uint8_t *cab = capture_cab("000014", &n);
	uint32_t data_off = (uint32_t)cab[36] | (uint32_t)cab[37] << 8 | (uint32_t)cab[38] << 16 |
			    (uint32_t)cab[39] << 24;

	(void)state;
	assert_true(data_off + 100 < n);
	cab[data_off + 100] ^= 0x5a;
	expect_cab_refused(cab, n, -EINVAL, "checksum");
	free(cab);
}

/* 2.3 bytes that are not a cabinet are refused by signature */
static void test_not_a_cab_refused(void **state)
{
	static const char text[] = "<upd:Update>this is XML, not a cabinet, and long enough</upd:Update>";

	(void)state;
	expect_cab_refused((const uint8_t *)text, sizeof(text) - 1, -EINVAL, "signature");
}

/* 2.4 a member declaring more than WSUS_MAX_CAB_OUTPUT is refused before extraction */
static void test_oversized_member_refused(void **state)
{
	size_t n;
	uint8_t *cab = capture_cab("000016", &n);
	uint32_t files = (uint32_t)cab[16] | (uint32_t)cab[17] << 8;
	uint32_t big = WSUS_MAX_CAB_OUTPUT + 2;

	(void)state;
	/* CFFILE.cbFile is not covered by any checksum. */
	cab[files] = (uint8_t)big;
	cab[files + 1] = (uint8_t)(big >> 8);
	cab[files + 2] = (uint8_t)(big >> 16);
	cab[files + 3] = (uint8_t)(big >> 24);
	expect_cab_refused(cab, n, -EFBIG, "limit");
	free(cab);
}

/* 2.5 base64 garbage is refused before any cabinet work */
static void test_bad_base64_refused(void **state)
{
	static const char *bad[] = { "TVNDRg!!AAAA", "TVND RgAA==AA", "%%%%" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *xml = NULL;
		size_t len;
		struct err e = { 0 };

		assert_int_equal(protocol_blob_decode_b64(bad[i], strlen(bad[i]), &xml, &len, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "base64"));
		assert_null(xml);
	}
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* A stored (uncompressed) single-folder cabinet with the given members, built
 * by hand from the MS-CAB layout: header, CFFOLDER, CFFILEs, one CFDATA block
 * (checksum 0 = not checked). */
static uint8_t *make_cab(const uint8_t *const *data, const size_t *sizes, size_t count, size_t *out)
{
	size_t files_len = 0, total_data = 0, off;
	uint8_t *c;

	for (size_t i = 0; i < count; i++) {
		files_len += 16 + 3; /* name "mN" + NUL; entries are packed */
		total_data += sizes[i];
	}
	assert_true(total_data <= 32768);
	*out = 36 + 8 + files_len + 8 + total_data;
	c = calloc(1, *out);
	assert_non_null(c);
	memcpy(c, "MSCF", 4);
	put32(c + 8, (uint32_t)*out);
	put32(c + 16, 36 + 8);               /* coffFiles */
	c[24] = 3;                           /* version 1.3 */
	c[25] = 1;
	put16(c + 26, 1);                    /* folders */
	put16(c + 28, (unsigned)count);      /* files */
	put32(c + 36, (uint32_t)(36 + 8 + files_len)); /* CFFOLDER.coffCabStart */
	put16(c + 40, 1);                    /* one CFDATA */
	put16(c + 42, 0);                    /* no compression */
	off = 44;
	for (size_t i = 0, start = 0; i < count; i++) {
		put32(c + off, (uint32_t)sizes[i]);
		put32(c + off + 4, (uint32_t)start);
		put16(c + off + 10, 0x5821);     /* any valid DOS date */
		snprintf((char *)c + off + 16, 3, "m%zu", i);
		start += sizes[i];
		off += 19;
	}
	put16(c + off + 4, (unsigned)total_data);
	put16(c + off + 6, (unsigned)total_data);
	off += 8;
	for (size_t i = 0; i < count; i++) {
		memcpy(c + off, data[i], sizes[i]);
		off += sizes[i];
	}
	return c;
}

/* UTF-8 (BMP and one astral character) to UTF-16LE, with an optional BOM. */
static uint8_t *to_utf16(const char *s, int bom, size_t *n)
{
	size_t len = strlen(s), o = 0;
	uint8_t *u = malloc(2 * len + 4);

	assert_non_null(u);
	if (bom) {
		u[o++] = 0xff;
		u[o++] = 0xfe;
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;

		if (c < 0x80) {
			cp = c;
			i += 1;
		} else if ((c & 0xe0) == 0xc0) {
			cp = (uint32_t)(c & 0x1f) << 6 | ((unsigned char)s[i + 1] & 0x3f);
			i += 2;
		} else if ((c & 0xf0) == 0xe0) {
			cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)((unsigned char)s[i + 1] & 0x3f) << 6 |
			     ((unsigned char)s[i + 2] & 0x3f);
			i += 3;
		} else {
			cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)((unsigned char)s[i + 1] & 0x3f) << 12 |
			     (uint32_t)((unsigned char)s[i + 2] & 0x3f) << 6 | ((unsigned char)s[i + 3] & 0x3f);
			i += 4;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put16(u + o, 0xd800 + (cp >> 10));
			put16(u + o + 2, 0xdc00 + (cp & 0x3ff));
			o += 4;
		} else {
			put16(u + o, cp);
			o += 2;
		}
	}
	*n = o;
	return u;
}

static const char utf16_doc[] =
	"<?xml version=\"1.0\" encoding=\"utf-16\"?>"
	"<upd:Update xmlns:upd=\"http://schemas.microsoft.com/msus/2002/12/Update\">"
	"<upd:UpdateIdentity UpdateID=\"266f6222-c89d-43f2-9f8a-69340271e677\" RevisionNumber=\"3\" />"
	"<upd:Properties UpdateType=\"Software\" />"
	"<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>fr</upd:Language>"
	"<upd:Title>Mise \xc3\xa0 jour \xe2\x82\xac \xf0\x9f\x98\x80</upd:Title>"
	"</upd:LocalizedProperties></upd:LocalizedPropertiesCollection></upd:Update>";

/* 3.1 BOM + "encoding=utf-16" declaration + surrogate pair: UTF-8 that parses */
static void test_utf16_blob_with_declaration(void **state)
{
	size_t un, cn, len = 0;
	uint8_t *u16 = to_utf16(utf16_doc, 1, &un);
	const uint8_t *members[] = { u16 };
	uint8_t *cab = make_cab(members, &un, 1, &cn);
	char *xml = NULL;
	struct err e = { 0 };
	struct wsus_update *u = NULL;

	(void)state;
	if (protocol_cab_extract(cab, cn, &xml, &len, &e) < 0)
		fail_msg("%s", e.msg);
	/* The declaration named UTF-16; the text is UTF-8 now and must parse. */
	assert_null(strstr(xml, "utf-16"));
	assert_memory_equal(xml, "<upd:Update", 11);
	if (protocol_update_parse(xml, len, &u, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(u->title, "Mise \xc3\xa0 jour \xe2\x82\xac \xf0\x9f\x98\x80");
	wsus_update_free(u);
	free(xml);
	free(cab);
	free(u16);
}

/* 3.2 a cabinet with two members, or none, is refused */
static void test_member_count_refused(void **state)
{
	static const uint8_t a[] = { '<', 0, 'a', 0, '/', 0, '>', 0 };
	const uint8_t *two[] = { a, a };
	size_t sizes[] = { sizeof(a), sizeof(a) }, n;
	uint8_t *cab = make_cab(two, sizes, 2, &n);
	char *xml = NULL;
	size_t len;
	struct err e = { 0 };

	(void)state;
	expect_cab_refused(cab, n, -EINVAL, "2 members");
	free(cab);
	/* The same builder with one member gives a cabinet we accept. */
	cab = make_cab(two, sizes, 1, &n);
	assert_int_equal(protocol_cab_extract(cab, n, &xml, &len, &e), 0);
	assert_string_equal(xml, "<a/>");
	free(xml);
	/* Zero files in the header. */
	put16(cab + 28, 0);
	expect_cab_refused(cab, n, -EINVAL, "cabinet");
	free(cab);
}

/* 3.3 UTF-16LE conversion: pairs joined, unpaired surrogates and odd sizes refused */
static void test_utf16_conversion(void **state)
{
	static const uint8_t pair[] = { 0x3d, 0xd8, 0x00, 0xde, 'x', 0 };
	static const uint8_t bom_only[] = { 0xff, 0xfe };
	static const uint8_t padded[] = { 'o', 0, 'k', 0, 0, 0, 0, 0 };
	static const uint8_t lone_high[] = { 'a', 0, 0x3d, 0xd8, 'b', 0 };
	static const uint8_t high_at_end[] = { 'a', 0, 0x3d, 0xd8 };
	static const uint8_t lone_low[] = { 0x00, 0xde, 'a', 0 };
	static const uint8_t inner_nul[] = { 'a', 0, 0, 0, 'b', 0 };
	static const uint8_t odd[] = { 'a', 0, 'b' };
	char *out = NULL;
	size_t n = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(protocol_utf16le_to_utf8(pair, sizeof(pair), &out, &n, &e), 0);
	assert_string_equal(out, "\xf0\x9f\x98\x80x");
	assert_int_equal(n, 5);
	free(out);
	assert_int_equal(protocol_utf16le_to_utf8(bom_only, sizeof(bom_only), &out, &n, &e), 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(protocol_utf16le_to_utf8(padded, sizeof(padded), &out, &n, &e), 0);
	assert_string_equal(out, "ok");
	free(out);
	out = NULL;
	assert_int_equal(protocol_utf16le_to_utf8(lone_high, sizeof(lone_high), &out, &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "surrogate"));
	assert_int_equal(protocol_utf16le_to_utf8(high_at_end, sizeof(high_at_end), &out, &n, &e), -EINVAL);
	assert_int_equal(protocol_utf16le_to_utf8(lone_low, sizeof(lone_low), &out, &n, &e), -EINVAL);
	assert_int_equal(protocol_utf16le_to_utf8(inner_nul, sizeof(inner_nul), &out, &n, &e), -EINVAL);
	assert_int_equal(protocol_utf16le_to_utf8(odd, sizeof(odd), &out, &n, &e), -EINVAL);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_blobs_decode),
		cmocka_unit_test(test_capture_fragments_match_doc),
		cmocka_unit_test(test_plain_blob_matches),
		cmocka_unit_test(test_truncated_refused),
		cmocka_unit_test(test_corrupted_refused),
		cmocka_unit_test(test_not_a_cab_refused),
		cmocka_unit_test(test_oversized_member_refused),
		cmocka_unit_test(test_bad_base64_refused),
		cmocka_unit_test(test_utf16_blob_with_declaration),
		cmocka_unit_test(test_member_count_refused),
		cmocka_unit_test(test_utf16_conversion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
