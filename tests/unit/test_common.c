/*
 * test_common.c -- codecs and buffers shared by every folder.
 * Groups: 1 hex, 2 base64, 3 GUID, 4 buffer ceilings and XML escaping (attributes,
 * character data), 5 digests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

/* 1.1 hex round trip and rejection of odd characters */
static void test_hex(void **state)
{
	uint8_t in[4] = { 0x00, 0xab, 0x7f, 0xff }, out[4];
	char hex[9];

	(void)state;
	wsus_hex_encode(in, 4, hex);
	assert_string_equal(hex, "00ab7fff");
	assert_int_equal(wsus_hex_decode("00AB7FFF", out, 4), 0);
	assert_memory_equal(in, out, 4);
	assert_int_equal(wsus_hex_decode("00AB7FFG", out, 4), -EINVAL);
	assert_int_equal(wsus_hex_decode("00AB7FFF00", out, 4), -EINVAL);
}

/* 2.1 base64: RFC 4648 vectors both ways; white space ignored; garbage refused */
static void test_b64(void **state)
{
	static const struct { const char *plain, *enc; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char enc[64];
	uint8_t dec[64];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		wsus_b64_encode((const uint8_t *)v[i].plain, strlen(v[i].plain), enc);
		assert_string_equal(enc, v[i].enc);
		assert_int_equal(wsus_b64_decode(v[i].enc, strlen(v[i].enc), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, strlen(v[i].plain));
		assert_memory_equal(dec, v[i].plain, n);
	}
	assert_int_equal(wsus_b64_decode("Zm9v\r\n YmFy", 11, dec, sizeof(dec), &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(wsus_b64_decode("Zm9v!", 5, dec, sizeof(dec), &n), -EINVAL);
	assert_int_equal(wsus_b64_decode("Zg==Zg", 6, dec, sizeof(dec), &n), -EINVAL);
	assert_int_equal(wsus_b64_decode("Zm9vYmFy", 8, dec, 3, &n), -E2BIG);
}

/* 3.1 GUIDs are normalised to lower case; braces accepted; bad shapes refused */
static void test_guid(void **state)
{
	char g[WSUS_GUID_LEN], r1[WSUS_GUID_LEN], r2[WSUS_GUID_LEN];

	(void)state;
	assert_int_equal(wsus_guid_normalize("56309036-4C77-4DD9-951A-99EE9C246A94", g), 0);
	assert_string_equal(g, "56309036-4c77-4dd9-951a-99ee9c246a94");
	assert_int_equal(wsus_guid_normalize("{56309036-4C77-4DD9-951A-99EE9C246A94}", g), 0);
	assert_string_equal(g, "56309036-4c77-4dd9-951a-99ee9c246a94");
	assert_int_equal(wsus_guid_normalize("56309036-4C77-4DD9-951A99EE9C246A94", g), -EINVAL);
	assert_int_equal(wsus_guid_normalize("56309036-4C77-4DD9-951A-99EE9C246A9Z", g), -EINVAL);
	assert_int_equal(wsus_guid_random(r1), 0);
	assert_int_equal(wsus_guid_random(r2), 0);
	assert_int_equal(wsus_guid_normalize(r1, g), 0);
	assert_string_equal(r1, g);
	assert_int_equal(r1[14], '4');
	assert_string_not_equal(r1, r2);
}

/* 4.1 a buffer refuses to grow past its ceiling and keeps what it had */
static void test_buf(void **state)
{
	struct wsus_buf b;
	char *s;
	size_t n;

	(void)state;
	wsus_buf_init(&b, 16);
	assert_int_equal(wsus_buf_appends(&b, "0123456789"), 0);
	assert_int_equal(wsus_buf_printf(&b, "%d", 12345), 0);
	assert_int_equal(wsus_buf_appends(&b, "xyz"), -E2BIG);
	assert_string_equal(b.data, "012345678912345");
	wsus_buf_free(&b);

	wsus_buf_init(&b, 1024);
	assert_int_equal(wsus_buf_append_xml_escaped(&b, "a<b>&\"c\"", 8), 0);
	s = wsus_buf_steal(&b, &n);
	assert_string_equal(s, "a&lt;b&gt;&amp;&quot;c&quot;");
	assert_int_equal(n, strlen(s));
	free(s);
}

/* 4.2 character data keeps CR as a reference so CRLF survives a parser; quotes stay */
static void test_xml_text(void **state)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" },
		{ "plain", "plain" },
		{ "a<b>&c", "a&lt;b&gt;&amp;c" },
		{ "line\r\nnext", "line&#13;\nnext" },
		{ "\"q\" 'a'", "\"q\" 'a'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct wsus_buf b;

		wsus_buf_init(&b, 1024);
		assert_int_equal(wsus_buf_append_xml_text(&b, v[i].in, strlen(v[i].in)), 0);
		assert_string_equal(b.data ? b.data : "", v[i].out);
		wsus_buf_free(&b);
	}
}

/* 5.1 digests match published test vectors */
static void test_digests(void **state)
{
	uint8_t d1[20], d2[32];
	char hex[65];

	(void)state;
	wsus_sha1("abc", 3, d1);
	wsus_hex_encode(d1, 20, hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	wsus_sha256("abc", 3, d2);
	wsus_hex_encode(d2, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_guid),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_xml_text),
		cmocka_unit_test(test_digests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
