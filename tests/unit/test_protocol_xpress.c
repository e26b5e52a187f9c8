/*
 * test_protocol_xpress.c -- the response encodings of protocol_xpress.c,
 * checked through decoders that do not share its code: the Xpress decoder of
 * test_xpress_decoder.h (written from MS-WUSP 2.1.1) and zlib's inflate.
 * Groups: 1 hand-made vectors (the decoder reads the spec's encodings; the
 *           encoder writes exactly them for simple input),
 *         2 Xpress round trips: empty, 1 byte, repetitive, random, a real
 *           SOAP response, several blocks; block limits and match lengths,
 *         3 gzip round trips with inflate,
 *         4 answers encoded in two parts (a kept head, a per-answer rest)
 *           decode to the two parts joined, in both encodings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "protocol.h"
#include "test_xpress_decoder.h"

#define CAPTURE WSUS_SHARED_DIR "/fixtures/ws2025-uss-capture/"

static char *load(const char *path, size_t *len)
{
	char *buf = NULL;
	struct err e = { 0 };

	if (wsus_read_file(path, 1u << 24, &buf, len, &e) < 0)
		fail_msg("%s", e.msg);
	return buf;
}

/* Deterministic pseudo-random bytes (xorshift32). */
static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* Encode, check every block header against the limits, decode, compare.
 * Returns the encoded size. */
static size_t xpress_round_trip(const void *in, size_t n)
{
	struct wsus_buf b;
	uint8_t *dec = NULL;
	size_t dec_len = 0, pos = 0, blocks = 0, enc_len;

	wsus_buf_init(&b, 4 * n + 1024);
	assert_int_equal(protocol_xpress_encode(in, n, &b), 0);
	enc_len = b.len;
	while (pos < b.len) {
		const uint8_t *h = (const uint8_t *)b.data + pos;
		uint32_t orig = txd_le32(h), comp = txd_le32(h + 4);

		assert_true(pos + 8 <= b.len);
		assert_true(orig >= 1 && orig <= 65535);
		assert_true(comp >= 4 && comp <= 65535);
		pos += 8 + comp;
		blocks++;
	}
	assert_int_equal(pos, b.len);
	assert_true(blocks >= (n + 65534) / 65535);
	if (txd_stream((const uint8_t *)b.data, b.len, &dec, &dec_len) != 0)
		fail_msg("the stream of %zu bytes does not decode", n);
	assert_int_equal(dec_len, n);
	if (n > 0)
		assert_memory_equal(dec, in, n);
	free(dec);
	wsus_buf_free(&b);
	return enc_len;
}

/*---- 1 hand-made vectors ----*/

/* 1.1 three literals, a match (offset 3, length 9) and the end bit: flags
 * 0,0,0,1,1 then ones; the decoder reads it and the encoder writes it */
static void test_vector_short_match(void **state)
{
	static const uint8_t block[] = { 0xff, 0xff, 0xff, 0x1f, 'a', 'b', 'c', 0x16, 0x00 };
	const char *want = "abcabcabcabc";
	uint8_t out[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(txd_block(block, sizeof(block), out, 12), 0);
	assert_memory_equal(out, want, 12);
	assert_int_equal(protocol_xpress_block((const uint8_t *)want, 12, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(block));
	assert_memory_equal(out, block, sizeof(block));
}

/* 1.2 a length of 30 takes the token's 7, a nibble of 15 and a byte of 5;
 * the end bit follows the match */
static void test_vector_long_match(void **state)
{
	static const uint8_t block[] = { 0xff, 0xff, 0xff, 0x7f, 'a', 0x07, 0x00, 0x0f, 0x05 };
	uint8_t in[31], out[64];
	size_t len = 0;

	(void)state;
	memset(in, 'a', sizeof(in));
	assert_int_equal(txd_block(block, sizeof(block), out, sizeof(in)), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(protocol_xpress_block(in, sizeof(in), out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(block));
	assert_memory_equal(out, block, sizeof(block));
}

/* 1.3 a block that does not fit the room given is refused, not cut */
static void test_block_too_small(void **state)
{
	uint8_t in[256], out[64];
	size_t len = 0;

	(void)state;
	fill_random(in, sizeof(in), 7);
	assert_int_equal(protocol_xpress_block(in, sizeof(in), out, sizeof(out), &len), -E2BIG);
	assert_int_equal(protocol_xpress_block(in, 70000, out, sizeof(out), &len), -EINVAL);
}

/*---- 2 Xpress round trips ----*/

/* 2.1 empty input is an empty stream; one byte is one block */
static void test_empty_and_one(void **state)
{
	struct wsus_buf b;

	(void)state;
	wsus_buf_init(&b, 1024);
	assert_int_equal(protocol_xpress_encode("", 0, &b), 0);
	assert_int_equal(b.len, 0);
	wsus_buf_free(&b);
	assert_int_equal(xpress_round_trip("x", 1), 8 + 4 + 1);
}

/* 2.2 repetitive input compresses to almost nothing, across blocks */
static void test_repetitive(void **state)
{
	size_t n = 300000;
	uint8_t *in = malloc(n);
	size_t enc;

	(void)state;
	assert_non_null(in);
	memset(in, 'A', n);
	enc = xpress_round_trip(in, n);
	assert_true(enc < 200);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)("<string>Q=1</string>"[i % 20]);
	enc = xpress_round_trip(in, n);
	assert_true(enc < n / 50);
	free(in);
}

/* 2.3 random input does not compress: blocks are split so that none passes
 * 65535 compressed bytes, and it still round-trips */
static void test_random(void **state)
{
	size_t n = 200000;
	uint8_t *in = malloc(n);

	(void)state;
	assert_non_null(in);
	fill_random(in, n, 12345);
	assert_true(xpress_round_trip(in, n) > n);
	for (size_t len = 1; len < 300; len += 37)
		xpress_round_trip(in, len);
	free(in);
}

/* 2.4 real SOAP responses of a Windows Server 2025 USS: GetConfigData
 * (markup) compresses well, GetUpdateData (mostly base64 of cabinets) still
 * round-trips; ten GetConfigData answers in a row take several blocks */
static void test_soap_response(void **state)
{
	size_t n = 0, n2 = 0, enc;
	char *xml = load(CAPTURE "000005-response.body", &n);
	char *blob = load(CAPTURE "000013-response.body", &n2);
	char *big = malloc(10 * n);

	(void)state;
	assert_non_null(big);
	assert_non_null(strstr(xml, "GetConfigDataResponse"));
	enc = xpress_round_trip(xml, n);
	assert_true(enc < n / 3);
	xpress_round_trip(blob, n2);
	for (int i = 0; i < 10; i++)
		memcpy(big + (size_t)i * n, xml, n);
	assert_true(10 * n > 65535);
	enc = xpress_round_trip(big, 10 * n);
	assert_true(enc < 10 * n / 3);
	free(big);
	free(blob);
	free(xml);
}

/* Append period random bytes, then the same pattern continued for len
 * more bytes (one match of exactly len at offset period), then a byte that
 * breaks the pattern. */
static size_t put_run(uint8_t *in, size_t n, const uint8_t *rnd, size_t period, size_t len)
{
	memcpy(in + n, rnd, period);
	for (size_t k = 0; k < len; k++)
		in[n + period + k] = rnd[k % period];
	n += period + len;
	in[n] = (uint8_t)(rnd[len % period] ^ 0xff);
	return n + 1;
}

/* 2.5 every length form: 3..9 in the token, 10..24 in a nibble (low and
 * high halves of shared bytes), 25..279 with a byte, 280+ with a word;
 * offsets up to the edge of the 8192-byte window and one past it */
static void test_match_lengths(void **state)
{
	static const size_t lens[] = { 3, 4, 9, 10, 11, 24, 25, 26, 100, 278, 279, 280, 281,
				       1000, 8192, 40000, 65000 };
	static const size_t periods[] = { 1, 2, 50, 8191, 8192, 8193 };
	size_t cap = 300000;
	uint8_t *in = malloc(cap), *rnd = malloc(cap);

	(void)state;
	assert_non_null(in);
	assert_non_null(rnd);
	fill_random(rnd, cap, 99);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* twice with other bytes, so both nibbles of a shared byte serve */
		size_t n = put_run(in, 0, rnd, 50, lens[i]);

		n = put_run(in, n, rnd + 1000, 50, lens[i]);
		xpress_round_trip(in, n);
	}
	for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++)
		xpress_round_trip(in, put_run(in, 0, rnd + 5000, periods[i], 20000));
	free(rnd);
	free(in);
}

/*---- 3 gzip ----*/

/* b holds one gzip member whose content is exactly in. */
static void assert_gunzips_to(const struct wsus_buf *b, const void *in, size_t n)
{
	z_stream z;
	uint8_t *out = malloc(n + 1);
	int rc;

	assert_non_null(out);
	assert_true(b->len >= 18);
	assert_int_equal((uint8_t)b->data[0], 0x1f);   /* the gzip magic */
	assert_int_equal((uint8_t)b->data[1], 0x8b);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)b->data;
	z.avail_in = (uInt)b->len;
	z.next_out = out;
	z.avail_out = (uInt)(n + 1);
	rc = inflate(&z, Z_FINISH);
	assert_int_equal(rc, Z_STREAM_END);    /* CRC and length checked by inflate */
	assert_int_equal(z.total_out, n);
	assert_int_equal(z.avail_in, 0);
	if (n > 0)
		assert_memory_equal(out, in, n);
	inflateEnd(&z);
	free(out);
}

static void gzip_round_trip(const void *in, size_t n)
{
	struct wsus_buf b;

	wsus_buf_init(&b, 2 * n + 1024);
	assert_int_equal(protocol_gzip_encode(in, n, &b), 0);
	assert_gunzips_to(&b, in, n);
	wsus_buf_free(&b);
}

/* 3.1 gzip of empty, small, random and a real SOAP response inflates back */
static void test_gzip(void **state)
{
	size_t n = 0;
	char *xml = load(CAPTURE "000013-response.body", &n);
	uint8_t *rnd = malloc(100000);

	(void)state;
	assert_non_null(rnd);
	fill_random(rnd, 100000, 5);
	gzip_round_trip("", 0);
	gzip_round_trip("x", 1);
	gzip_round_trip(rnd, 100000);
	gzip_round_trip(xml, n);
	free(rnd);
	free(xml);
}

/*---- 4 two parts ----*/

/* Encode in[0, cut) as a head once and in[cut, n) as the rest, the way a
 * memoised answer is sent; both encodings must decode to in. */
static void two_parts(const uint8_t *in, size_t n, size_t cut)
{
	struct protocol_gzip_part part;
	struct wsus_buf head, b;
	uint8_t *dec = NULL;
	size_t dec_len = 0;

	wsus_buf_init(&head, 2 * n + 1024);
	wsus_buf_init(&b, 2 * n + 1024);
	assert_int_equal(protocol_gzip_head(in, cut, &head, &part), 0);
	assert_int_equal(part.len, cut);
	assert_int_equal(wsus_buf_append(&b, head.data, head.len), 0);
	assert_int_equal(protocol_gzip_rest(in + cut, n - cut, &part, &b), 0);
	assert_gunzips_to(&b, in, n);
	/* The same head starts another answer with another rest. */
	b.len = head.len;
	assert_int_equal(protocol_gzip_rest("<x/>", 4, &part, &b), 0);
	{
		uint8_t *want = malloc(cut + 4);

		assert_non_null(want);
		memcpy(want, in, cut);
		memcpy(want + cut, "<x/>", 4);
		assert_gunzips_to(&b, want, cut + 4);
		free(want);
	}
	b.len = 0;
	assert_int_equal(protocol_xpress_encode(in, cut, &b), 0);
	assert_int_equal(protocol_xpress_encode(in + cut, n - cut, &b), 0);
	assert_int_equal(txd_stream((const uint8_t *)b.data, b.len, &dec, &dec_len), 0);
	assert_int_equal(dec_len, n);
	if (n > 0)
		assert_memory_equal(dec, in, n);
	free(dec);
	wsus_buf_free(&head);
	wsus_buf_free(&b);
}

/* 4.1 cut at 0, inside the first block, past a whole Xpress block, at the end;
 * a real answer and random bytes (no match may reach back into the head). */
static void test_two_parts(void **state)
{
	size_t n = 0;
	char *xml = load(CAPTURE "000013-response.body", &n);
	uint8_t *rnd = malloc(200000);
	uint8_t *rep = malloc(200000);

	(void)state;
	assert_non_null(rnd);
	assert_non_null(rep);
	fill_random(rnd, 200000, 9);
	for (size_t i = 0; i < 200000; i++)
		rep[i] = "<UpdateInfo><ID>1</ID></UpdateInfo>"[i % 35];
	two_parts((const uint8_t *)xml, n, 0);
	two_parts((const uint8_t *)xml, n, n / 3);
	two_parts((const uint8_t *)xml, n, n);
	two_parts(rnd, 200000, 70000);
	two_parts(rep, 200000, 1);
	two_parts(rep, 200000, 65535 + 17);
	free(rnd);
	free(rep);
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_short_match),
		cmocka_unit_test(test_vector_long_match),
		cmocka_unit_test(test_block_too_small),
		cmocka_unit_test(test_empty_and_one),
		cmocka_unit_test(test_repetitive),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_soap_response),
		cmocka_unit_test(test_match_lengths),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_two_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
