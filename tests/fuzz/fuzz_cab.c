/*
 * fuzz_cab.c -- libFuzzer target of XmlUpdateBlobCompressed decoding:
 * cabinet extraction with libmspack (protocol_cab_extract), the base64 front
 * (protocol_blob_decode_b64) and UTF-16LE to UTF-8 (protocol_utf16le_to_utf8).
 * Input: byte 0 picks the entry point (0: raw cabinet, 1: base64 text,
 * 2: UTF-16LE text, by its value modulo 3); the rest is its argument.
 * Checked: a success gives a NUL-terminated text of the length reported
 * and no NUL inside (UTF-8 decoded from the member).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "protocol.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	protocol_xml_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t out_len = 0;
	struct err e = { 0 };
	uint8_t *arg;
	int rc;

	if (size < 1)
		return 0;
	/* an exact-size copy: a read past the input is an ASan report */
	arg = malloc(size - 1 ? size - 1 : 1);
	FUZZ_CHECK(arg != NULL, "out of memory");
	memcpy(arg, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		rc = protocol_cab_extract(arg, size - 1, &out, &out_len, &e);
		break;
	case 1:
		rc = protocol_blob_decode_b64((const char *)arg, size - 1, &out, &out_len, &e);
		break;
	default:
		rc = protocol_utf16le_to_utf8(arg, size - 1, &out, &out_len, &e);
		break;
	}
	if (rc == 0) {
		FUZZ_CHECK(out != NULL && out[out_len] == '\0', "result not terminated");
		FUZZ_CHECK(data[0] % 3 == 2 || memchr(out, '\0', out_len) == NULL, "NUL inside the text");
		free(out);
	} else {
		FUZZ_CHECK(rc < 0 && e.msg[0] != '\0', "rc %d without a reason", rc);
	}
	free(arg);
	return 0;
}
