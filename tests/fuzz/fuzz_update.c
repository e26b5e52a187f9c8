/*
 * fuzz_update.c -- libFuzzer target of update XML: protocol_update_parse,
 * which extracts every indexed property and derives the fragments
 * (protocol_fragments_derive) of one update document.
 * Input: the document bytes (exactly as GetUpdateData would deliver them).
 * Checked on success: the document is kept byte for byte; the fragments
 * start with exactly one Core and one Extended, the others are
 * LocalizedProperties or Eula with a language; every fragment (a sequence
 * of elements) is well-formed XML inside one wrapping element.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

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

static void check_fragments(const struct wsus_update *u)
{
	FUZZ_CHECK(u->n_fragments >= 2, "%zu fragments", u->n_fragments);
	FUZZ_CHECK(u->fragments[0].type == WSUS_FRAG_CORE, "first is %d", (int)u->fragments[0].type);
	FUZZ_CHECK(u->fragments[1].type == WSUS_FRAG_EXTENDED, "second is %d", (int)u->fragments[1].type);
	for (size_t i = 0; i < u->n_fragments; i++) {
		const struct wsus_fragment *f = &u->fragments[i];
		struct err e = { 0 };
		struct wsus_buf b;
		xmlDocPtr d;

		if (i >= 2)
			FUZZ_CHECK((f->type == WSUS_FRAG_LOCALIZED || f->type == WSUS_FRAG_EULA) &&
				   f->locale != NULL, "fragment %zu type %d", i, (int)f->type);
		FUZZ_CHECK(f->xml != NULL && strlen(f->xml) == f->len, "fragment %zu length", i);
		wsus_buf_init(&b, f->len + 64);
		FUZZ_CHECK(wsus_buf_appends(&b, "<fragment>") == 0 && wsus_buf_append(&b, f->xml, f->len) == 0 &&
			   wsus_buf_appends(&b, "</fragment>") == 0, "out of memory");
		d = protocol_xml_parse(b.data, b.len, &e);
		FUZZ_CHECK(d != NULL, "fragment %zu is not XML (%s): %.300s", i, e.msg, f->xml);
		xmlFreeDoc(d);
		wsus_buf_free(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: a read past the document is an ASan report. */
	char *xml = malloc(size ? size : 1);
	struct wsus_update *u = NULL;
	struct err e = { 0 };

	FUZZ_CHECK(xml != NULL, "out of memory");
	memcpy(xml, data, size);
	if (protocol_update_parse(xml, size, &u, &e) == 0) {
		FUZZ_CHECK(u->xml_len == size && memcmp(u->xml, data, size) == 0, "document not kept");
		check_fragments(u);
		wsus_update_free(u);
	} else {
		FUZZ_CHECK(u == NULL, "output set on error");
		FUZZ_CHECK(e.msg[0] != '\0', "error without a reason");
	}
	free(xml);
	return 0;
}
