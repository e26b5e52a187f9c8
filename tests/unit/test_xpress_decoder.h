/*
 * test_xpress_decoder.h -- an Xpress decoder for the tests, written from the
 * decoding rules of MS-WUSP 2.1.1 (block headers) and 2.1.1.1.2 (DIRECT2:
 * 32-bit flag words read from the top bit, 16-bit match tokens, the shared
 * length nibble, the byte and word escapes), separately from the encoder in
 * protocol/protocol_xpress.c so that a shared misreading cannot hide.
 * Header-only (static functions): included by the tests that need it.
 */
#ifndef TEST_XPRESS_DECODER_H
#define TEST_XPRESS_DECODER_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t txd_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One block: src (slen bytes) into dst, which must come out exactly dlen
 * bytes long. 0, or -1 for any malformation. */
static int txd_block(const uint8_t *src, size_t slen, uint8_t *dst, size_t dlen)
{
	size_t ip = 0, op = 0, half = 0;   /* half: index of a byte with a pending high nibble, 0 none */
	uint32_t mask = 0;
	int bits = 0;

	for (;;) {
		if (bits == 0) {
			if (ip + 4 > slen)
				return -1;
			mask = txd_le32(src + ip);
			ip += 4;
			bits = 32;
		}
		bits--;
		if (((mask >> bits) & 1u) == 0) {
			if (ip >= slen || op >= dlen)
				return -1;
			dst[op++] = src[ip++];
			continue;
		}
		if (ip == slen)   /* a 1 with nothing after it: the end */
			break;
		if (ip + 2 > slen)
			return -1;
		{
			unsigned tok = (unsigned)src[ip] | (unsigned)src[ip + 1] << 8;
			size_t back = (tok >> 3) + 1, len = tok & 7u;

			ip += 2;
			if (len == 7) {
				unsigned nib;

				if (half == 0) {
					if (ip >= slen)
						return -1;
					half = ip++;
					nib = src[half] & 0x0fu;
				} else {
					nib = src[half] >> 4;
					half = 0;
				}
				len = 7 + nib;
				if (nib == 15) {
					if (ip >= slen)
						return -1;
					if (src[ip] != 255) {
						len = 7 + 15 + src[ip];
						ip++;
					} else {
						if (ip + 3 > slen)
							return -1;
						/* the word is the whole length less the minimum */
						len = ((size_t)src[ip + 1] | (size_t)src[ip + 2] << 8);
						ip += 3;
						if (len < 7 + 15)
							return -1;
					}
				}
			}
			len += 3;
			if (back > op || op + len > dlen)
				return -1;
			for (size_t k = 0; k < len; k++, op++)
				dst[op] = dst[op - back];
		}
	}
	return op == dlen ? 0 : -1;
}

/* A whole stream (headers + blocks) into a malloc'd buffer *out of *out_len
 * bytes (NUL-terminated for convenience). 0, or -1 when malformed. */
static int txd_stream(const uint8_t *src, size_t slen, uint8_t **out, size_t *out_len)
{
	size_t ip = 0, total = 0;
	uint8_t *buf = malloc(1);

	if (buf == NULL)
		return -1;
	while (ip < slen) {
		int32_t orig, comp;
		uint8_t *nb;

		if (ip + 8 > slen)
			goto bad;
		orig = (int32_t)txd_le32(src + ip);
		comp = (int32_t)txd_le32(src + ip + 4);
		ip += 8;
		if (orig < 0 || orig > 65535 || comp < 0 || comp > 65535 || (size_t)comp > slen - ip)
			goto bad;
		nb = realloc(buf, total + (size_t)orig + 1);
		if (nb == NULL)
			goto bad;
		buf = nb;
		if (txd_block(src + ip, (size_t)comp, buf + total, (size_t)orig) < 0)
			goto bad;
		total += (size_t)orig;
		ip += (size_t)comp;
	}
	buf[total] = '\0';
	*out = buf;
	*out_len = total;
	return 0;
bad:
	free(buf);
	return -1;
}

#endif /* TEST_XPRESS_DECODER_H */
