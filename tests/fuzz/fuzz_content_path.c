/*
 * fuzz_content_path.c -- libFuzzer target of the content path parser
 * (server_content_parse_path: /Content/<XX>/<40 hex>[.<ext>]).
 * Checked: an accepted path's folder is the last byte of the SHA-1, its
 * extension is 0-15 letters or digits, and the canonical spelling of what
 * was parsed parses back to the same SHA-1 and extension.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = fuzz_strndup(data, size);
	uint8_t sha1[WSUS_SHA1_LEN], again[WSUS_SHA1_LEN];
	char ext[16], ext2[16], hex[2 * WSUS_SHA1_LEN + 1], canon[128];
	size_t n;

	memset(ext, 'x', sizeof(ext));
	if (server_content_parse_path(path, sha1, ext) == 0) {
		n = strnlen(ext, sizeof(ext));
		FUZZ_CHECK(n < sizeof(ext), "extension not terminated");
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(isalnum((unsigned char)ext[i]), "extension byte 0x%02x", ext[i]);
		wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
		snprintf(canon, sizeof(canon), "/Content/%.2s/%s%s%s", hex + 38, hex, n ? "." : "", ext);
		FUZZ_CHECK(server_content_parse_path(canon, again, ext2) == 0, "canonical %s refused", canon);
		FUZZ_CHECK(memcmp(sha1, again, WSUS_SHA1_LEN) == 0 && strcmp(ext, ext2) == 0,
			   "canonical %s differs", canon);
	}
	free(path);
	return 0;
}
