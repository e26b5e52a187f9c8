/*
 * test_protocol_xml.c -- the hardened XML parser and the tree comparison.
 * Groups: 1 refusals (DOCTYPE, entities, depth, size, namespaces, not XML),
 *         2 silence (nothing reaches stderr), 3 protocol_xml_equivalent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol.h"

static xmlDocPtr parse_str(const char *s, struct err *e)
{
	return protocol_xml_parse(s, strlen(s), e);
}

/* A document nesting `depth` elements. */
static char *nested(int depth)
{
	size_t n = (size_t)depth * 7 + 1;
	char *s = malloc(n), *p = s;

	assert_non_null(s);
	for (int i = 0; i < depth; i++) {
		memcpy(p, "<a>", 3);
		p += 3;
	}
	for (int i = 0; i < depth; i++) {
		memcpy(p, "</a>", 4);
		p += 4;
	}
	*p = '\0';
	return s;
}

/* 1.1 the billion-laughs document is refused at its DOCTYPE, nothing expanded */
static void test_entity_bomb_refused(void **state)
{
	static const char bomb[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		" <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		" <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		" <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		" <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		" <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		"]>\n"
		"<lolz>&lol9;</lolz>\n";
	struct err e = { 0 };

	(void)state;
	assert_null(parse_str(bomb, &e));
	assert_int_equal(e.code, -EINVAL);
	assert_non_null(strstr(e.msg, "DOCTYPE"));
}

/* 1.2 any DOCTYPE is refused: an external entity and a bare declaration alike */
static void test_doctype_refused(void **state)
{
	static const char ext[] =
		"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
	static const char bare[] = "<!DOCTYPE r><r/>";
	static const char sys[] = "<!DOCTYPE r SYSTEM \"http://192.0.2.1/r.dtd\"><r/>";
	struct err e = { 0 };

	(void)state;
	assert_null(parse_str(ext, &e));
	assert_non_null(strstr(e.msg, "DOCTYPE"));
	err_clear(&e);
	assert_null(parse_str(bare, &e));
	assert_non_null(strstr(e.msg, "DOCTYPE"));
	err_clear(&e);
	assert_null(parse_str(sys, &e));
	assert_non_null(strstr(e.msg, "DOCTYPE"));
}

/* 1.3 nesting up to WSUS_MAX_XML_DEPTH parses; one level more is refused */
static void test_depth_limit(void **state)
{
	char *ok = nested(WSUS_MAX_XML_DEPTH), *deep = nested(WSUS_MAX_XML_DEPTH + 1);
	char *very = nested(5000);
	struct err e = { 0 };
	xmlDocPtr d;

	(void)state;
	d = protocol_xml_parse(ok, strlen(ok), &e);
	assert_non_null(d);
	xmlFreeDoc(d);
	assert_null(protocol_xml_parse(deep, strlen(deep), &e));
	assert_int_equal(e.code, -EINVAL);
	assert_true(strstr(e.msg, "depth") != NULL || strstr(e.msg, "deeper") != NULL);
	err_clear(&e);
	assert_null(protocol_xml_parse(very, strlen(very), &e));
	assert_int_equal(e.code, -EINVAL);
	free(ok);
	free(deep);
	free(very);
}

/* 1.4 a document above WSUS_MAX_UPDATE_XML is refused before parsing */
static void test_size_limit(void **state)
{
	size_t n = WSUS_MAX_UPDATE_XML + 1;
	char *big = malloc(n);
	struct err e = { 0 };

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "<r>", 3);
	memcpy(big + n - 4, "</r>", 4);
	assert_null(protocol_xml_parse(big, n, &e));
	assert_int_equal(e.code, -EFBIG);
	free(big);
}

/* 1.5 not-XML is refused with libxml2's reason and the line it failed on */
static void test_not_xml_has_line(void **state)
{
	static const char bad[] = "<r>\n<a>ok</a>\n<b>unclosed</c>\n</r>";
	struct err e = { 0 };

	(void)state;
	assert_null(parse_str(bad, &e));
	assert_int_equal(e.code, -EINVAL);
	assert_non_null(strstr(e.msg, "line 3"));
	assert_null(strchr(e.msg, '\n'));
	err_clear(&e);
	assert_null(parse_str("this is not xml", &e));
	assert_non_null(strstr(e.msg, "line 1"));
	err_clear(&e);
	assert_null(parse_str("", &e));
	assert_int_not_equal(e.code, 0);
}

/* 1.6 an undeclared namespace prefix is an error, not a silently unqualified name */
static void test_undeclared_prefix_refused(void **state)
{
	struct err e = { 0 };

	(void)state;
	assert_null(parse_str("<upd:Update><upd:Properties/></upd:Update>", &e));
	assert_int_equal(e.code, -EINVAL);
}

/* 2.1 failed parses write nothing to stderr (errors go to struct err only) */
static void test_errors_not_on_stderr(void **state)
{
	FILE *tmp = tmpfile();
	int saved;
	struct err e = { 0 };
	long size;

	(void)state;
	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	assert_null(parse_str("<r><a></r>", &e));
	assert_null(parse_str("<x:r/>", &e));
	assert_null(parse_str("<!DOCTYPE r [<!ENTITY a 'b'>]><r>&a;</r>", &e));
	assert_null(parse_str("<r>&undefined;</r>", &e));
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
	size = ftell(tmp);
	fclose(tmp);
	assert_int_equal(size, 0);
}

/* 3.1 prefixes, attribute order, quotes and blank text do not matter */
static void test_equivalent_ignores_serialisation(void **state)
{
	static const char a[] =
		"<p:Update xmlns:p=\"urn:u\"><p:Id A=\"1\" B='2'/>\n  <p:T>x</p:T></p:Update>";
	static const char b[] =
		"<?xml version=\"1.0\"?><Update xmlns=\"urn:u\"><Id B=\"2\" A=\"1\"></Id>"
		"<!-- note --><T>x</T></Update>";
	struct err d = { 0 };

	(void)state;
	assert_int_equal(protocol_xml_equivalent(a, strlen(a), b, strlen(b), &d), 1);
}

/* 3.2 a differing attribute value, namespace, text or child is reported */
static void test_equivalent_finds_differences(void **state)
{
	static const char base[] = "<U xmlns=\"urn:u\"><I A=\"1\"/><T>x</T></U>";
	static const struct { const char *other, *where; } v[] = {
		{ "<U xmlns=\"urn:u\"><I A=\"2\"/><T>x</T></U>", "attribute A" },
		{ "<U xmlns=\"urn:v\"><I A=\"1\"/><T>x</T></U>", "element" },
		{ "<U xmlns=\"urn:u\"><I A=\"1\"/><T>y</T></U>", "text" },
		{ "<U xmlns=\"urn:u\"><I A=\"1\"/><T>x</T><T/></U>", "children" },
		{ "<U xmlns=\"urn:u\"><I A=\"1\" B=\"1\"/><T>x</T></U>", "attributes" },
		{ "<U xmlns=\"urn:u\"><I/><T>x</T></U>", "attribute A" },
	};
	struct err d;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		err_clear(&d);
		assert_int_equal(protocol_xml_equivalent(base, strlen(base), v[i].other,
							 strlen(v[i].other), &d), 0);
		assert_non_null(strstr(d.msg, v[i].where));
	}
	err_clear(&d);
	assert_true(protocol_xml_equivalent(base, strlen(base), "<U>", 3, &d) < 0);
	assert_non_null(strstr(d.msg, "second document"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entity_bomb_refused),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_not_xml_has_line),
		cmocka_unit_test(test_undeclared_prefix_refused),
		cmocka_unit_test(test_errors_not_on_stderr),
		cmocka_unit_test(test_equivalent_ignores_serialisation),
		cmocka_unit_test(test_equivalent_finds_differences),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
