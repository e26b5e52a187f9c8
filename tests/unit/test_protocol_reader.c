/*
 * test_protocol_reader.c -- the bounded streaming request reader
 * (protocol_req_read) and the lenient readers over its nodes.
 * Groups: 1 envelope (1.1, 1.2, Header skipped, refusals, DOCTYPE),
 *         2 real-client quirks (spec examples, capture, nil, arrays, text),
 *         3 every limit exactly at its value and one past it,
 *         4 hostile shapes (60,000 attributes, millions of empty elements),
 *         5 the operation callback (unknown operation, per-operation limits).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

#define WUSP WSUS_SHARED_DIR "/spec/examples-wusp/"
#define CAPTURE WSUS_SHARED_DIR "/fixtures/ws2025-uss-capture/"
#define ENV_OPEN "<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\"><s:Body>"
#define ENV_CLOSE "</s:Body></s:Envelope>"
#define XSI "http://www.w3.org/2001/XMLSchema-instance"

/* protocol_req_read with the options spelled out. */
static int rd(const char *body, size_t len, const struct protocol_limits *pre, protocol_limits_fn pick,
	      void *ctx, struct protocol_req_msg *m, struct err *e)
{
	struct protocol_req_opts o = { .pre = pre, .pick = pick, .ctx = ctx };

	return protocol_req_read(body, len, &o, m, e);
}

static int read_str(const char *s, const struct protocol_limits *lim, struct protocol_req_msg *m,
		    struct err *e)
{
	return rd(s, strlen(s), lim, NULL, NULL, m, e);
}

static char *read_fixture(const char *path, size_t *len)
{
	struct err e = { 0 };
	char *buf = NULL;

	if (wsus_read_file(path, 1u << 20, &buf, len, &e) < 0)
		fail_msg("cannot read %s: %s", path, e.msg);
	return buf;
}

static void load_msg(const char *path, struct protocol_req_msg *m)
{
	struct err e = { 0 };
	size_t len;
	char *buf = read_fixture(path, &len);

	if (rd(buf, len, NULL, NULL, NULL, m, &e) < 0)
		fail_msg("%s: %s", path, e.msg);
	free(buf);
}

/* The body ENV_OPEN head, n copies of item, tail ENV_CLOSE, malloc'd. */
static char *repeat_doc(const char *head, const char *item, size_t n, const char *tail, size_t *len)
{
	struct wsus_buf b;

	wsus_buf_init(&b, SIZE_MAX);
	assert_int_equal(wsus_buf_appends(&b, ENV_OPEN), 0);
	assert_int_equal(wsus_buf_appends(&b, head), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(wsus_buf_appends(&b, item), 0);
	assert_int_equal(wsus_buf_appends(&b, tail), 0);
	assert_int_equal(wsus_buf_appends(&b, ENV_CLOSE), 0);
	*len = b.len;
	return wsus_buf_steal(&b, len);
}

/* Limits wide open but for the one a test narrows. */
static struct protocol_limits open_limits(void)
{
	struct protocol_limits l = {
		.max_bytes = 64u << 20,
		.max_elements = 10u << 20,
		.max_attrs = 1000000,
		.max_depth = 1000,
		.max_text = 64u << 20,
		.max_tag = 64u << 20,
		.max_ids = 10u << 20,
	};
	return l;
}

/*---- 1 envelope ----*/

/* 1.1 SOAP 1.1: version, the operation's local name and namespace, a
 * second Body child ignored */
static void test_envelope_soap11(void **state)
{
	struct protocol_req_msg m;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(read_str("<?xml version=\"1.0\"?>" ENV_OPEN "\n <!-- c --> <GetCookie xmlns=\""
				  PROTOCOL_NS_SD "\"/><Second/>" ENV_CLOSE, NULL, &m, &e), 0);
	assert_int_equal(m.version, PROTOCOL_SOAP11);
	assert_string_equal(m.op_name, "GetCookie");
	assert_string_equal(m.op_ns, PROTOCOL_NS_SD);
	assert_non_null(m.op);
	assert_null(m.op->first);
	assert_null(m.op->next);
	protocol_req_free(&m);
	assert_null(m.tree);
	protocol_req_free(&m); /* twice is harmless */
}

/* 1.2 SOAP 1.2 with a Header holding a Body of its own: skipped */
static void test_envelope_soap12_header(void **state)
{
	struct protocol_req_msg m;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(read_str("<env:Envelope xmlns:env=\"" PROTOCOL_NS_SOAP12 "\">"
				  "<env:Header><Body><Trap/></Body><env:Body><Trap2/></env:Body></env:Header>"
				  "<env:Body><Ping/></env:Body></env:Envelope>", NULL, &m, &e), 0);
	assert_int_equal(m.version, PROTOCOL_SOAP12);
	assert_string_equal(m.op_name, "Ping");
	assert_string_equal(m.op_ns, "");
	protocol_req_free(&m);
}

/* 1.3 every malformed envelope is refused with a reason; nothing is kept */
static void test_envelope_refusals(void **state)
{
	static const struct { const char *xml, *why; int rc; } v[] = {
		{ "", "empty", -EINVAL },
		{ "this is not XML", "XML error", -EINVAL },
		{ ENV_OPEN "<a></s:Body></s:Envelope>", "XML error", -EINVAL },
		{ ENV_OPEN "<a>&undefined;</a>" ENV_CLOSE, "XML error", -EINVAL },
		{ ENV_OPEN "<p:a/>" ENV_CLOSE, "XML error", -EINVAL },
		{ "<!DOCTYPE s [<!ENTITY x \"y\">]><s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11
		  "\"><s:Body><a>&x;</a></s:Body></s:Envelope>", "DOCTYPE", -EINVAL },
		{ "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>", "DOCTYPE", -EINVAL },
		{ "<!DOCTYPE r SYSTEM \"http://192.0.2.1/r.dtd\"><r/>", "DOCTYPE", -EINVAL },
		{ "<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\"/>", "no Body", -EINVAL },
		{ "<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\"><s:Header/></s:Envelope>", "no Body", -EINVAL },
		{ ENV_OPEN "  <!-- x --> text " ENV_CLOSE, "empty", -EINVAL },
		{ "<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\"><s:Body/></s:Envelope>", "empty", -EINVAL },
		{ "<Envelope><Body><a/></Body></Envelope>", "not a SOAP envelope", -EINVAL },
		{ "<s:Envelope xmlns:s=\"urn:other\"><s:Body><a/></s:Body></s:Envelope>", "not a SOAP envelope",
		  -EINVAL },
		{ "<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\" xmlns:t=\"" PROTOCOL_NS_SOAP12
		  "\"><t:Body><a/></t:Body></s:Envelope>", "no Body", -EINVAL },
		{ "<s:Body xmlns:s=\"" PROTOCOL_NS_SOAP11 "\"><a/></s:Body>", "not a SOAP envelope", -EINVAL },
		/* well-formed up to the operation, broken after it */
		{ ENV_OPEN "<Op><a>1</a><b></Op>" ENV_CLOSE, "XML error", -EINVAL },
		{ ENV_OPEN "<Op a=\"1\" a=\"2\"/>" ENV_CLOSE, "XML error", -EINVAL },
	};
	struct protocol_req_msg m;
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc;

		err_clear(&e);
		rc = read_str(v[i].xml, NULL, &m, &e);
		if (rc != v[i].rc || strstr(e.msg, v[i].why) == NULL)
			fail_msg("case %zu: rc %d \"%s\" lacks \"%s\"", i, rc, e.msg, v[i].why);
		assert_null(m.op);
		protocol_req_free(&m);
	}
}

/*---- 2 real-client quirks ----*/

/* 2.1 SyncUpdates (1st) of the spec: xsi:nil="1" arrays are absent,
 * booleans and a dateTime without Z read */
static void test_quirks_syncupdates_nil(void **state)
{
	const struct protocol_node *params, *cookie;
	struct protocol_req_msg m;
	char buf[64];
	int b = -1;
	int64_t ms;

	(void)state;
	load_msg(WUSP "12-SyncUpdates-1st-request.xml", &m);
	assert_string_equal(m.op_name, "SyncUpdates");
	assert_string_equal(m.op_ns, PROTOCOL_NS_CLIENT);
	params = protocol_req_child(m.op, "parameters");
	assert_non_null(params);
	assert_null(protocol_req_child(params, "InstalledNonLeafUpdateIDs"));
	assert_null(protocol_req_child(params, "OtherCachedUpdateIDs"));
	assert_null(protocol_req_child(params, "SystemSpec"));
	assert_int_equal(protocol_req_child_text(params, "CachedDriverIDs", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(protocol_req_child_bool(params, "ExpressQuery", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(protocol_req_child_bool(params, "SkipSoftwareSync", &b), 0);
	assert_int_equal(b, 0);
	cookie = protocol_req_child(m.op, "cookie");
	assert_int_equal(protocol_req_child_text(cookie, "Expiration", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2006-05-23T04:06:32.9843746");
	assert_int_equal(protocol_datetime_parse(buf, &ms), 0);
	assert_int_equal(ms, 1148357192984LL);
	protocol_req_free(&m);
}

/* 2.2 SyncUpdates (2nd): soapenc:arrayType ignored, the 29 <int> of
 * OtherCachedUpdateIDs are an array in document order, not nodes */
static void test_quirks_syncupdates_arrays(void **state)
{
	const struct protocol_node *params, *arr;
	struct protocol_req_msg m;
	const int64_t *ids;
	size_t n;

	(void)state;
	load_msg(WUSP "13-SyncUpdates-2nd-request.xml", &m);
	params = protocol_req_child(m.op, "parameters");
	arr = protocol_req_child(params, "OtherCachedUpdateIDs");
	assert_non_null(arr);
	assert_null(protocol_req_child(arr, "int"));
	assert_int_equal(protocol_req_ids(arr, &ids, &n), 0);
	assert_int_equal(n, 29);
	assert_int_equal(ids[0], 101);
	assert_int_equal(ids[28], 392);
	assert_int_equal(protocol_req_ids(protocol_req_child(params, "InstalledNonLeafUpdateIDs"), &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 109);
	/* absent list: no ids, no error */
	assert_int_equal(protocol_req_ids(protocol_req_child(params, "CachedDriverIDs"), &ids, &n), 0);
	assert_int_equal(n, 0);
	assert_null(ids);
	protocol_req_free(&m);
}

/* 2.3 GetCookie of the spec: the arrayType wrapper, the nil EncryptedData
 * of oldCookie, the base64 CookieData read whole */
static void test_quirks_getcookie(void **state)
{
	const struct protocol_node *ac, *old;
	struct protocol_req_msg m;
	char pv[16], plug[32];
	uint8_t raw[1024];
	size_t rawlen;
	char *data;

	(void)state;
	load_msg(WUSP "05-GetCookie-request.xml", &m);
	ac = protocol_req_child(protocol_req_child(m.op, "authCookies"), "AuthorizationCookie");
	assert_non_null(ac);
	assert_null(protocol_req_next(ac));
	assert_int_equal(protocol_req_child_text(ac, "PlugInId", plug, sizeof(plug)), 0);
	assert_string_equal(plug, "SimpleTargeting");
	data = protocol_req_text(protocol_req_child(ac, "CookieData"));
	assert_non_null(data);
	assert_int_equal(wsus_b64_decode(data, strlen(data), raw, sizeof(raw), &rawlen), 0);
	assert_int_equal(rawlen, 528);
	free(data);
	old = protocol_req_child(m.op, "oldCookie");
	assert_non_null(old);
	assert_null(protocol_req_child(old, "EncryptedData"));
	assert_int_equal(protocol_req_child_text(m.op, "protocolVersion", pv, sizeof(pv)), 0);
	assert_string_equal(pv, "1.8");
	assert_int_equal(protocol_req_child_text(m.op, "protocolVersion", pv, 3), -E2BIG);
	protocol_req_free(&m);
}

/* 2.4 ReportEventBatch: items, MiscData strings, negative HRESULT */
static void test_quirks_report_event_batch(void **state)
{
	const struct protocol_node *ev, *basic, *misc, *s;
	struct protocol_req_msg m;
	char guid[WSUS_GUID_LEN + 8];
	int64_t v;
	int n = 0;

	(void)state;
	load_msg(WUSP "16-ReportEventBatch-Event148-request.xml", &m);
	assert_string_equal(m.op_ns, PROTOCOL_NS_SD);
	ev = protocol_req_child(protocol_req_child(m.op, "eventBatch"), "ReportingEvent");
	basic = protocol_req_child(ev, "BasicData");
	assert_int_equal(protocol_req_child_int(basic, "EventID", 0, 65535, &v), 0);
	assert_int_equal(v, 148);
	assert_int_equal(protocol_req_child_int(basic, "Win32HResult", INT32_MIN, INT32_MAX, &v), 0);
	assert_int_equal(v, -2145107943);
	assert_int_equal(protocol_req_child_int(basic, "Win32HResult", 0, INT32_MAX, &v), -ERANGE);
	assert_int_equal(protocol_req_child_text(basic, "EventInstanceID", guid, sizeof(guid)), 0);
	assert_string_equal(guid, "E6D82915-627F-418B-A5CC-B9FCD400455B");
	misc = protocol_req_child(protocol_req_child(ev, "ExtendedData"), "MiscData");
	for (s = protocol_req_child(misc, "string"); s != NULL; s = protocol_req_next(s))
		n++;
	assert_int_equal(n, 5);
	protocol_req_free(&m);
}

/* 2.5 every request of the WS2025 capture reads, as the DOM parser read it */
static void test_quirks_capture(void **state)
{
	(void)state;
	for (int i = 1; i <= 19; i++) {
		char path[512], anchor[64];
		struct protocol_req_msg m;

		snprintf(path, sizeof(path), CAPTURE "%06d-request.body", i);
		load_msg(path, &m);
		assert_int_equal(m.version, PROTOCOL_SOAP11);
		assert_string_equal(m.op_ns, i == 2 ? PROTOCOL_NS_DSSAUTH : PROTOCOL_NS_SD);
		if (i == 18) {
			assert_int_equal(protocol_req_child_text(protocol_req_child(m.op, "filter"), "Anchor",
								 anchor, sizeof(anchor)), 0);
			assert_string_equal(anchor, "garbage");
		}
		protocol_req_free(&m);
	}
}

/* 2.6 nil spellings, trimming, bool and int syntax, any namespace, nil
 * items skipped, text across comments/CDATA/references, attributes */
static void test_quirks_edge_cases(void **state)
{
	static const char doc[] =
		"<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\" xmlns:i=\"" XSI "\">"
		"<s:Body><Op xmlns=\"urn:a\" xmlns:b=\"urn:b\" mode=\"x&amp;y\" b:q=\"ns\">"
		"<T>  padded\n text\t</T><E/><N1 i:nil=\"true\">x</N1><N2 i:nil=\" 1 \"/>"
		"<N3 i:nil=\"false\">kept</N3><N4 nil=\"true\">no xsi</N4>"
		"<b:Other>ns b</b:Other>"
		"<B1>true</B1><B2>0</B2><B3>yes</B3><B4>True</B4>"
		"<I1>+42</I1><I2>-7</I2><I3>4x</I3><I4></I4><I5>99999999999999999999</I5><I6> 12 </I6>"
		"<L><v>1</v><v i:nil=\"1\"/><w>x</w><v>3</v></L>"
		"<M>a<!-- c -->b<![CDATA[<c>]]>&lt;&#x41;&#66;</M>"
		"<Mixed>\n  <C>1</C>\n  </Mixed>"
		"<Ids><int> 5 </int><int i:nil=\"true\"/><int>-2147483648</int></Ids>"
		"<Bad><int>1</int><int>x1</int></Bad>"
		"</Op></s:Body></s:Envelope>";
	const struct protocol_node *n;
	struct protocol_req_msg m;
	struct err e = { 0 };
	const int64_t *ids;
	size_t k;
	char buf[32];
	char *t;
	int b, count = 0;
	int64_t v;

	(void)state;
	assert_int_equal(read_str(doc, NULL, &m, &e), 0);
	assert_string_equal(m.op_ns, "urn:a");
	assert_string_equal(protocol_req_attr(m.op, "mode"), "x&y");
	assert_null(protocol_req_attr(m.op, "q"));
	t = protocol_req_text(protocol_req_child(m.op, "T"));
	assert_string_equal(t, "padded\n text");
	free(t);
	assert_int_equal(protocol_req_child_text(m.op, "E", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_null(protocol_req_child(m.op, "N1"));
	assert_null(protocol_req_child(m.op, "N2"));
	assert_int_equal(protocol_req_child_text(m.op, "N3", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "kept");
	assert_int_equal(protocol_req_child_text(m.op, "N4", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "no xsi");
	for (n = m.op->first; n != NULL && strcmp(n->name, "N1") != 0; n = n->next)
		;
	assert_non_null(n);
	assert_true(n->nil);
	assert_null(protocol_req_text(n));
	assert_null(protocol_req_text(NULL));
	assert_int_equal(protocol_req_child_text(m.op, "Other", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ns b");
	assert_string_equal(protocol_req_child(m.op, "Other")->ns, "urn:b");
	assert_int_equal(protocol_req_child_text(m.op, "other", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(protocol_req_child_bool(m.op, "B1", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(protocol_req_child_bool(m.op, "B2", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(protocol_req_child_bool(m.op, "B3", &b), -EINVAL);
	assert_int_equal(protocol_req_child_bool(m.op, "B4", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(protocol_req_child_bool(m.op, "Missing", &b), -ENOENT);
	assert_int_equal(protocol_req_child_int(m.op, "I1", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(protocol_req_child_int(m.op, "I2", -10, 10, &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(protocol_req_child_int(m.op, "I2", 0, 10, &v), -ERANGE);
	assert_int_equal(protocol_req_child_int(m.op, "I3", 0, 100, &v), -EINVAL);
	assert_int_equal(protocol_req_child_int(m.op, "I4", 0, 100, &v), -EINVAL);
	assert_int_equal(protocol_req_child_int(m.op, "I5", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(protocol_req_child_int(m.op, "I6", 0, 100, &v), 0);
	assert_int_equal(v, 12);
	for (n = protocol_req_child(protocol_req_child(m.op, "L"), "v"); n; n = protocol_req_next(n))
		count++;
	assert_int_equal(count, 2);
	assert_int_equal(protocol_req_child_text(m.op, "M", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ab<c><AB");
	/* indentation around children is not text */
	assert_null(protocol_req_child(m.op, "Mixed")->text);
	assert_int_equal(protocol_req_ids(protocol_req_child(m.op, "Ids"), &ids, &k), 0);
	assert_int_equal(k, 2);
	assert_int_equal(ids[0], 5);
	assert_int_equal(ids[1], INT32_MIN);
	assert_int_equal(protocol_req_ids(protocol_req_child(m.op, "Bad"), &ids, &k), -EINVAL);
	assert_null(protocol_req_child(NULL, "v"));
	assert_null(protocol_req_next(NULL));
	protocol_req_free(&m);
}

/* 2.7 UTF-16 input with a BOM reads as UTF-8 text */
static void test_quirks_utf16(void **state)
{
	static const char utf8[] = ENV_OPEN "<Op><T>\xc3\xa9t\xc3\xa9</T></Op>" ENV_CLOSE;
	struct protocol_req_msg m;
	struct err e = { 0 };
	char buf[16], *u16;
	size_t n = 0;

	(void)state;
	u16 = malloc(2 + 2 * sizeof(utf8));
	assert_non_null(u16);
	u16[n++] = (char)0xff;
	u16[n++] = (char)0xfe;
	for (size_t i = 0; utf8[i] != '\0'; i++) {
		unsigned c = (unsigned char)utf8[i];

		if (c == 0xc3) {
			c = 0xc0 | ((unsigned char)utf8[++i] & 0x3f);
		}
		u16[n++] = (char)c;
		u16[n++] = 0;
	}
	assert_int_equal(rd(u16, n, NULL, NULL, NULL, &m, &e), 0);
	assert_int_equal(protocol_req_child_text(m.op, "T", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "\xc3\xa9t\xc3\xa9");
	protocol_req_free(&m);
	free(u16);
}

/*---- 3 limits, each at its value and one past ----*/

/* 3.1 bytes: a body of exactly max_bytes reads, one byte more is -EFBIG
 * before anything is parsed */
static void test_limit_bytes(void **state)
{
	struct protocol_limits l = open_limits();
	struct protocol_req_msg m;
	struct err e = { 0 };
	size_t len;
	char *doc = repeat_doc("<Op>", " ", 100, "</Op>", &len);

	(void)state;
	l.max_bytes = len;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), 0);
	protocol_req_free(&m);
	l.max_bytes = len - 1;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), -EFBIG);
	assert_non_null(strstr(e.msg, "byte limit"));
	assert_null(m.tree);
	protocol_req_free(&m);
	free(doc);
}

/* 3.2 elements: Envelope, Body, Op and k children are 3 + k elements */
static void test_limit_elements(void **state)
{
	struct protocol_limits l = open_limits();
	struct protocol_req_msg m;
	struct err e = { 0 };
	size_t len;
	char *doc = repeat_doc("<Op>", "<a/>", 1000, "</Op>", &len);

	(void)state;
	l.max_elements = 1003;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), 0);
	protocol_req_free(&m);
	l.max_elements = 1002;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "more than 1002 elements"));
	assert_string_equal(m.op_name, "Op");
	assert_null(m.op);
	protocol_req_free(&m);
	free(doc);
}

/* 3.3 attributes of one element, namespace declarations counted, '=' and
 * '>' inside quoted values not; checked by the scan before the parse */
static void test_limit_attrs(void **state)
{
	struct protocol_limits l = open_limits();
	struct protocol_req_msg m;
	struct err e = { 0 };
	char doc[512];

	(void)state;
	snprintf(doc, sizeof(doc), ENV_OPEN "<!-- <x a='1' b='2'> --><?pi a=1 b=2 c=3?>"
		 "<Op xmlns=\"urn:x\" xmlns:p=\"urn:p\" a=\"1=>\" b='2\"=' p:c=\"3\"><![CDATA[<y a=1 b=2 c=3 d=4"
		 " e=5>]]></Op>" ENV_CLOSE);
	l.max_attrs = 5;
	assert_int_equal(read_str(doc, &l, &m, &e), 0);
	assert_int_equal(m.op->n_attrs, 2);
	assert_string_equal(protocol_req_attr(m.op, "a"), "1=>");
	protocol_req_free(&m);
	l.max_attrs = 4;
	assert_int_equal(read_str(doc, &l, &m, &e), -E2BIG);
	assert_string_equal(e.msg, "element Op has more than 4 attributes");
	assert_null(m.tree);
	protocol_req_free(&m);
}

#define LONG_VALUE "0123456789012345678901234567890123456789012345678901234567890123456789"

/* 3.4 bytes of one start tag (between '<' and '>'; the longest here) */
static void test_limit_tag(void **state)
{
	static const char doc[] = ENV_OPEN "<Op a=\"" LONG_VALUE LONG_VALUE "\"/>" ENV_CLOSE;
	struct protocol_limits l = open_limits();
	struct protocol_req_msg m;
	struct err e = { 0 };
	char want[80];

	(void)state;
	l.max_tag = strlen("Op a=\"" LONG_VALUE LONG_VALUE "\"/");
	assert_int_equal(read_str(doc, &l, &m, &e), 0);
	protocol_req_free(&m);
	l.max_tag--;
	assert_int_equal(read_str(doc, &l, &m, &e), -E2BIG);
	snprintf(want, sizeof(want), "element Op has a tag longer than %zu bytes", l.max_tag);
	assert_string_equal(e.msg, want);
	protocol_req_free(&m);
}

/* 3.5 comments and processing instructions (max_tag), CDATA sections
 * (max_text) and end tags are bounded as well, at and one past */
static void test_limit_sections(void **state)
{
	static const struct { const char *doc; size_t at; const char *why; } v[] = {
		{ ENV_OPEN "<Op><!--" LONG_VALUE "--></Op>" ENV_CLOSE, 70, "a comment longer than 69 bytes" },
		{ ENV_OPEN "<Op><?pi " LONG_VALUE "?></Op>" ENV_CLOSE, 73, "a processing instruction longer" },
		{ ENV_OPEN "<Op><![CDATA[" LONG_VALUE "]]></Op>" ENV_CLOSE, 70, "a CDATA section longer" },
		{ ENV_OPEN "<Op" LONG_VALUE "></Op" LONG_VALUE ">" ENV_CLOSE, 72, "has a tag longer than" },
	};
	struct protocol_req_msg m;
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct protocol_limits l = open_limits();

		l.max_tag = i < 2 || i == 3 ? v[i].at : 1000;
		l.max_text = i == 2 ? v[i].at : 1000;
		if (read_str(v[i].doc, &l, &m, &e) != 0)
			fail_msg("case %zu at its limit: %s", i, e.msg);
		protocol_req_free(&m);
		if (i == 2)
			l.max_text--;
		else
			l.max_tag--;
		assert_int_equal(read_str(v[i].doc, &l, &m, &e), -E2BIG);
		if (strstr(e.msg, v[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, v[i].why);
		protocol_req_free(&m);
	}
}

/* 3.6 a body of many chunks: tags, text and references that straddle the
 * chunk boundaries read as in one piece */
static void test_chunks(void **state)
{
	struct protocol_req_msg m;
	struct err e = { 0 };
	struct wsus_buf b;
	const struct protocol_node *n;
	size_t len, count = 0;
	char *doc;

	(void)state;
	wsus_buf_init(&b, SIZE_MAX);
	assert_int_equal(wsus_buf_appends(&b, ENV_OPEN "<Op>"), 0);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(wsus_buf_printf(&b, "<v k=\"%d%.*s\">t&amp;%d<!--%d--></v>", i, i % 37,
						 LONG_VALUE, i, i), 0);
	assert_int_equal(wsus_buf_appends(&b, "</Op>" ENV_CLOSE), 0);
	doc = wsus_buf_steal(&b, &len);
	assert_true(len > 10 * 64 * 1024);
	assert_int_equal(rd(doc, len, NULL, NULL, NULL, &m, &e), -E2BIG);
	protocol_req_free(&m);
	{
		struct protocol_limits l = protocol_limits_default;

		l.max_elements = 20003;
		assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), 0);
	}
	for (n = protocol_req_child(m.op, "v"); n != NULL; n = protocol_req_next(n)) {
		char want[128];

		snprintf(want, sizeof(want), "t&%zu", count);
		assert_string_equal(n->text, want);
		snprintf(want, sizeof(want), "%zu%.*s", count, (int)(count % 37), LONG_VALUE);
		assert_string_equal(protocol_req_attr(n, "k"), want);
		count++;
	}
	assert_int_equal(count, 20000);
	protocol_req_free(&m);
	free(doc);
}

/* 3.7 depth: Envelope 1, Body 2, Op 3, then a chain */
static void test_limit_depth(void **state)
{
	struct protocol_limits l = open_limits();
	struct protocol_req_msg m;
	struct err e = { 0 };
	struct wsus_buf b;
	size_t len;
	char *doc;

	(void)state;
	wsus_buf_init(&b, SIZE_MAX);
	assert_int_equal(wsus_buf_appends(&b, ENV_OPEN "<Op>"), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(wsus_buf_appends(&b, "<d>"), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(wsus_buf_appends(&b, "</d>"), 0);
	assert_int_equal(wsus_buf_appends(&b, "</Op>" ENV_CLOSE), 0);
	doc = wsus_buf_steal(&b, &len);
	l.max_depth = 53;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), 0);
	protocol_req_free(&m);
	l.max_depth = 52;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "deeper than 52"));
	protocol_req_free(&m);
	free(doc);
}

/* 3.8 text of one element, counted after references are resolved and
 * across CDATA pieces */
static void test_limit_text(void **state)
{
	struct protocol_limits l = open_limits();
	struct protocol_req_msg m;
	struct err e = { 0 };
	size_t len;
	char *doc = repeat_doc("<Op><T>", "ab&amp;<![CDATA[c]]>", 1000, "</T></Op>", &len);

	(void)state;
	l.max_text = 4000;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), 0);
	assert_int_equal(protocol_req_child(m.op, "T")->text_len, 4000);
	protocol_req_free(&m);
	l.max_text = 3999;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "text of T longer than 3999"));
	protocol_req_free(&m);
	free(doc);
}

/* 3.9 ids per list: a named list at its cap, one past it; nil items are
 * not counted; an unnamed list falls under max_ids */
static void test_limit_ids(void **state)
{
	static const struct protocol_list_limit lists[] = { { "Installed", 400 }, { NULL, 0 } };
	struct protocol_limits l = open_limits();
	struct protocol_req_msg m;
	struct err e = { 0 };
	const int64_t *ids;
	size_t len, n;
	char *at = repeat_doc("<Op xmlns:i=\"" XSI "\"><Installed><int i:nil=\"true\"/>", "<int>7</int>", 400,
			      "</Installed></Op>", &len);
	char *past = repeat_doc("<Op><Installed>", "<int>7</int>", 401, "</Installed></Op>", &len);
	char *other = repeat_doc("<Op><Other>", "<int>7</int>", 11, "</Other></Op>", &len);

	(void)state;
	l.lists = lists;
	l.max_ids = 10;
	assert_int_equal(read_str(at, &l, &m, &e), 0);
	assert_int_equal(protocol_req_ids(protocol_req_child(m.op, "Installed"), &ids, &n), 0);
	assert_int_equal(n, 400);
	protocol_req_free(&m);
	assert_int_equal(read_str(past, &l, &m, &e), -E2BIG);
	assert_string_equal(e.msg, "Installed: more than 400 ids");
	protocol_req_free(&m);
	assert_int_equal(read_str(other, &l, &m, &e), -E2BIG);
	assert_string_equal(e.msg, "Other: more than 10 ids");
	protocol_req_free(&m);
	l.max_ids = 11;
	assert_int_equal(read_str(other, &l, &m, &e), 0);
	protocol_req_free(&m);
	free(at);
	free(past);
	free(other);
}

/*---- 4 hostile shapes ----*/

/* 4.1 one element with 60,000 attributes (the shape that keeps libxml2
 * busy for minutes): refused by the attribute limit; the same with 60,000
 * namespace declarations */
static void test_hostile_attributes(void **state)
{
	struct protocol_req_msg m;
	struct err e = { 0 };
	struct wsus_buf b;
	size_t len;
	char *doc;

	(void)state;
	for (int ns = 0; ns < 2; ns++) {
		wsus_buf_init(&b, SIZE_MAX);
		assert_int_equal(wsus_buf_appends(&b, ENV_OPEN "<Op"), 0);
		for (int i = 0; i < 60000; i++)
			assert_int_equal(wsus_buf_printf(&b, ns ? " xmlns:p%d=\"urn:%d\"" : " a%d=\"%d\"", i, i), 0);
		assert_int_equal(wsus_buf_appends(&b, "/>" ENV_CLOSE), 0);
		doc = wsus_buf_steal(&b, &len);
		assert_int_equal(rd(doc, len, NULL, NULL, NULL, &m, &e), -E2BIG);
		assert_non_null(strstr(e.msg, "attributes"));
		protocol_req_free(&m);
		free(doc);
	}
}

/* 4.2 15 MB of empty elements: reading stops at the element limit */
static void test_hostile_empty_elements(void **state)
{
	struct protocol_limits l = protocol_limits_default;
	struct protocol_req_msg m;
	struct err e = { 0 };
	size_t len;
	char *doc = repeat_doc("<Op>", "<a/>", 15u * 1024 * 1024 / 4, "</Op>", &len);

	(void)state;
	l.max_bytes = 16u * 1024 * 1024;
	assert_int_equal(rd(doc, len, &l, NULL, NULL, &m, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "elements"));
	protocol_req_free(&m);
	free(doc);
}

/*---- 5 the operation callback ----*/

static const struct protocol_limits tight = {
	.max_bytes = 4096, .max_elements = 8, .max_attrs = 4, .max_depth = 8, .max_text = 16, .max_tag = 64,
	.max_ids = 2,
};

static const struct protocol_limits *pick_known(void *ctx, const char *ns, const char *name)
{
	int *calls = ctx;

	(*calls)++;
	assert_string_equal(ns, "urn:svc");
	return strcmp(name, "Known") == 0 ? &tight : NULL;
}

/* 5.1 the callback sees the operation once; an unknown one stops the read
 * (-ENOENT) with its name kept; a known one's limits apply from there on,
 * while the Header before it was read under pre */
static void test_pick(void **state)
{
	struct protocol_req_msg m;
	struct err e = { 0 };
	int calls = 0;
	static const char unknown[] = ENV_OPEN "<Nope xmlns=\"urn:svc\"><a/></Nope>" ENV_CLOSE;
	static const char known_ok[] = ENV_OPEN "<Known xmlns=\"urn:svc\"><a>0123456789abcdef</a></Known>"
				       ENV_CLOSE;
	static const char known_text[] = ENV_OPEN "<Known xmlns=\"urn:svc\"><a>0123456789abcdefg</a></Known>"
					 ENV_CLOSE;
	static const char known_ids[] = ENV_OPEN "<Known xmlns=\"urn:svc\"><L><int>1</int><int>2</int>"
					"<int>3</int></L></Known>" ENV_CLOSE;
	static const char known_attrs[] = ENV_OPEN "<Known xmlns=\"urn:svc\"><a x='1' y='2' z='3' w='4'/>"
					  "<b x='1' y='2' z='3' w='4' v='5'/></Known>" ENV_CLOSE;
	static const char big_header[] = "<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\"><s:Header>"
					 "<h/><h/><h/><h/><h/><h/><h/><h/></s:Header><s:Body>"
					 "<Known xmlns=\"urn:svc\"/>" ENV_CLOSE;

	(void)state;
	assert_int_equal(rd(unknown, strlen(unknown), NULL, pick_known, &calls, &m, &e), -ENOENT);
	assert_int_equal(calls, 1);
	assert_string_equal(m.op_name, "Nope");
	assert_null(m.op);
	protocol_req_free(&m);
	assert_int_equal(rd(known_ok, strlen(known_ok), NULL, pick_known, &calls, &m, &e), 0);
	assert_int_equal(calls, 2);
	protocol_req_free(&m);
	assert_int_equal(rd(known_text, strlen(known_text), NULL, pick_known, &calls, &m, &e),
			 -E2BIG);
	protocol_req_free(&m);
	assert_int_equal(rd(known_ids, strlen(known_ids), NULL, pick_known, &calls, &m, &e),
			 -E2BIG);
	assert_string_equal(e.msg, "L: more than 2 ids");
	protocol_req_free(&m);
	assert_int_equal(rd(known_attrs, strlen(known_attrs), NULL, pick_known, &calls, &m, &e),
			 -E2BIG);
	assert_string_equal(e.msg, "element b has more than 4 attributes");
	protocol_req_free(&m);
	/* 8 header elements + Envelope, Header, Body pass pre; Known is the 12th */
	assert_int_equal(rd(big_header, strlen(big_header), NULL, pick_known, &calls, &m, &e),
			 -E2BIG);
	assert_non_null(strstr(e.msg, "more than 8 elements"));
	protocol_req_free(&m);
}

/* 5.2 a body over the operation's byte limit (under pre's) is -EFBIG once
 * the operation is known */
static void test_pick_bytes(void **state)
{
	struct protocol_req_msg m;
	struct err e = { 0 };
	int calls = 0;
	size_t len;
	char *doc = repeat_doc("<Known xmlns=\"urn:svc\">", " ", 5000, "</Known>", &len);

	(void)state;
	assert_int_equal(rd(doc, len, NULL, pick_known, &calls, &m, &e), -EFBIG);
	assert_string_equal(m.op_name, "Known");
	assert_non_null(strstr(e.msg, "4096 byte limit"));
	protocol_req_free(&m);
	free(doc);
}

/* 5.3 the time budget: checked before each 64 KiB chunk; spent, the read
 * stops with -ETIMEDOUT */
static void test_deadline(void **state)
{
	struct protocol_req_opts o = { .deadline_ms = wsus_now_ms() + 600000 };
	struct protocol_req_msg m;
	struct err e = { 0 };
	size_t len;
	char *doc = repeat_doc("<Op>", "<a/>", 100000, "</Op>", &len);
	struct protocol_limits l = protocol_limits_default;

	(void)state;
	l.max_elements = 100003;
	o.pre = &l;
	assert_int_equal(protocol_req_read(doc, len, &o, &m, &e), 0);
	protocol_req_free(&m);
	o.deadline_ms = wsus_now_ms() - 1;
	assert_int_equal(protocol_req_read(doc, len, &o, &m, &e), -ETIMEDOUT);
	assert_non_null(strstr(e.msg, "time budget"));
	protocol_req_free(&m);
	assert_int_equal(protocol_req_read(doc, len, NULL, &m, &e), -E2BIG);
	protocol_req_free(&m);
	free(doc);
}

/* 5.4 id lists read past expat (plain <int>N</int> runs) and through it
 * (any other form) give one array in document order, under one cap */
static void test_id_runs(void **state)
{
	static const char doc[] =
		"<s:Envelope xmlns:s=\"" PROTOCOL_NS_SOAP11 "\" xmlns:i=\"" XSI "\"><s:Header><int>0</int></s:Header>"
		"<s:Body><Op><L>\n  <int>1</int>\n<int> 2 </int><int>+3</int><int>-4</int>"
		"<int a=\"x\">5</int><int>6</int><!-- c --><int>7</int><int i:nil=\"true\"/>"
		"<int>8<!--x--></int><int>&#57;</int><int><![CDATA[10]]></int><int>11</int >"
		"<int>12</int></L><Big><int>99999999999999999999</int></Big><Odd><int>1 2</int></Odd></Op>"
		ENV_CLOSE;
	static const struct protocol_list_limit cap[] = { { "L", 12 }, { NULL, 0 } };
	struct protocol_limits l = protocol_limits_default;
	struct protocol_req_msg m;
	struct err e = { 0 };
	const int64_t *ids;
	size_t n, len;
	char *big;

	(void)state;
	l.lists = cap;
	if (read_str(doc, &l, &m, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(protocol_req_ids(protocol_req_child(m.op, "L"), &ids, &n), 0);
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], i == 3 ? -4 : (int64_t)i + 1);
	assert_int_equal(protocol_req_ids(protocol_req_child(m.op, "Big"), &ids, &n), -EINVAL);
	assert_int_equal(protocol_req_ids(protocol_req_child(m.op, "Odd"), &ids, &n), -EINVAL);
	protocol_req_free(&m);
	/* 100,000 plain ids across many chunks: at the cap, and one past */
	big = repeat_doc("<Op><L>", "<int>123456</int>\n", 100000, "</L></Op>", &len);
	{
		static const struct protocol_list_limit wide[] = { { "L", 100000 }, { NULL, 0 } };

		l.lists = wide;
		assert_int_equal(rd(big, len, &l, NULL, NULL, &m, &e), 0);
		assert_int_equal(protocol_req_ids(protocol_req_child(m.op, "L"), &ids, &n), 0);
		assert_int_equal(n, 100000);
		assert_int_equal(ids[99999], 123456);
		protocol_req_free(&m);
		l.lists = cap;
		assert_int_equal(rd(big, len, &l, NULL, NULL, &m, &e), -E2BIG);
		assert_string_equal(e.msg, "L: more than 12 ids");
		protocol_req_free(&m);
	}
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_soap11),
		cmocka_unit_test(test_envelope_soap12_header),
		cmocka_unit_test(test_envelope_refusals),
		cmocka_unit_test(test_quirks_syncupdates_nil),
		cmocka_unit_test(test_quirks_syncupdates_arrays),
		cmocka_unit_test(test_quirks_getcookie),
		cmocka_unit_test(test_quirks_report_event_batch),
		cmocka_unit_test(test_quirks_capture),
		cmocka_unit_test(test_quirks_edge_cases),
		cmocka_unit_test(test_quirks_utf16),
		cmocka_unit_test(test_limit_bytes),
		cmocka_unit_test(test_limit_elements),
		cmocka_unit_test(test_limit_attrs),
		cmocka_unit_test(test_limit_tag),
		cmocka_unit_test(test_limit_sections),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_text),
		cmocka_unit_test(test_limit_ids),
		cmocka_unit_test(test_hostile_attributes),
		cmocka_unit_test(test_hostile_empty_elements),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_pick_bytes),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_id_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
