/*
 * fuzz_xpress.c -- libFuzzer target of the response encodings: Xpress
 * (protocol_xpress_encode, protocol_xpress_block) decoded again by the
 * tests' independent decoder (tests/unit/test_xpress_decoder.h), and gzip
 * (protocol_gzip_encode) decoded by zlib. Input: the response bytes; byte 0
 * also sets the output room given to protocol_xpress_block.
 * Checked: both round trips give the input back exactly; a block either fits
 * its room and decodes to the input, or says -E2BIG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fuzz_util.h"
#include "protocol.h"
#include "test_xpress_decoder.h"

#define FUZZ_XPRESS_MAX (4u * PROTOCOL_XPRESS_BLOCK)

static void xpress_stream(const uint8_t *data, size_t size)
{
	struct wsus_buf b;
	uint8_t *back = NULL;
	size_t back_len = 0;

	wsus_buf_init(&b, 2 * FUZZ_XPRESS_MAX + 1024);
	FUZZ_CHECK(protocol_xpress_encode(data, size, &b) == 0, "encode failed");
	FUZZ_CHECK(txd_stream((const uint8_t *)b.data, b.len, &back, &back_len) == 0,
		   "stream of %zu bytes does not decode", size);
	FUZZ_CHECK(back_len == size && memcmp(back, data, size) == 0, "stream round trip differs");
	free(back);
	wsus_buf_free(&b);
}

static void xpress_block(const uint8_t *data, size_t size)
{
	size_t n = size < PROTOCOL_XPRESS_BLOCK ? size : PROTOCOL_XPRESS_BLOCK;
	size_t cap = n == 0 ? 0 : (size_t)data[0] * n / 255 + 4, out_len = 0;
	uint8_t *out = malloc(cap ? cap : 1), *back = malloc(n ? n : 1);
	int rc;

	FUZZ_CHECK(out != NULL && back != NULL, "out of memory");
	rc = protocol_xpress_block(data, n, out, cap, &out_len);
	FUZZ_CHECK(rc == 0 || rc == -E2BIG, "block rc %d", rc);
	if (rc == 0) {
		FUZZ_CHECK(out_len <= cap, "wrote %zu of %zu", out_len, cap);
		FUZZ_CHECK(txd_block(out, out_len, back, n) == 0 && memcmp(back, data, n) == 0,
			   "block round trip differs");
	}
	free(out);
	free(back);
}

static void gzip_round_trip(const uint8_t *data, size_t size)
{
	struct wsus_buf b;
	uint8_t *back = malloc(size + 1);
	z_stream z;
	int rc;

	FUZZ_CHECK(back != NULL, "out of memory");
	wsus_buf_init(&b, 2 * FUZZ_XPRESS_MAX + 1024);
	FUZZ_CHECK(protocol_gzip_encode(data, size, &b) == 0, "gzip failed");
	memset(&z, 0, sizeof(z));
	FUZZ_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, "inflateInit2");
	z.next_in = (Bytef *)b.data;
	z.avail_in = (uInt)b.len;
	z.next_out = back;
	z.avail_out = (uInt)size + 1;
	rc = inflate(&z, Z_FINISH);
	FUZZ_CHECK(rc == Z_STREAM_END && z.total_out == size && z.avail_in == 0,
		   "gzip member does not inflate back (%d)", rc);
	FUZZ_CHECK(memcmp(back, data, size) == 0, "gzip round trip differs");
	inflateEnd(&z);
	wsus_buf_free(&b);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_XPRESS_MAX)
		return 0;
	xpress_stream(data, size);
	xpress_block(data, size);
	gzip_round_trip(data, size);
	return 0;
}
