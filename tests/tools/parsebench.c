/*
 * parsebench.c -- wsus-parsebench: CPU per request of reading a delta-scan
 * SyncUpdates body (a cookie, 40 installed and 2,504 cached revision ids,
 * the shape of issue 8's measurements) two ways: the libxml2 DOM with the
 * lenient readers walking the <int> nodes (how requests were read before the
 * bounded reader), and protocol_req_read with the id lists as arrays.
 *
 *   wsus-parsebench dom|reader [ITERATIONS [INSTALLED CACHED]]
 *
 * Prints the request size and the process CPU time per request. Run it
 * under `valgrind --tool=callgrind` for instruction counts that do not
 * depend on the machine's load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"

static double cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The request body, as a Windows client sends it (no indentation). */
static char *delta_request(int installed, int cached, size_t *len)
{
	struct wsus_buf b;
	int rc;

	wsus_buf_init(&b, SIZE_MAX);
	rc = wsus_buf_appends(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\""
			      PROTOCOL_NS_SOAP11 "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
			      " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body><SyncUpdates xmlns=\""
			      PROTOCOL_NS_CLIENT "\"><cookie><Expiration>2026-12-08T04:00:00Z</Expiration>"
			      "<EncryptedData>");
	for (int i = 0; i < 12 && rc == 0; i++)
		rc = wsus_buf_appends(&b, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx");
	if (rc == 0)
		rc = wsus_buf_appends(&b, "</EncryptedData></cookie><parameters><ExpressQuery>false</ExpressQuery>"
				      "<InstalledNonLeafUpdateIDs>");
	for (int i = 0; i < installed && rc == 0; i++)
		rc = wsus_buf_printf(&b, "<int>%d</int>", 100000 + i * 7);
	if (rc == 0)
		rc = wsus_buf_appends(&b, "</InstalledNonLeafUpdateIDs><OtherCachedUpdateIDs>");
	for (int i = 0; i < cached && rc == 0; i++)
		rc = wsus_buf_printf(&b, "<int>%d</int>", 200000 + i * 3);
	if (rc == 0)
		rc = wsus_buf_appends(&b, "</OtherCachedUpdateIDs><SkipSoftwareSync>false</SkipSoftwareSync>"
				      "<NeedTwoGroupOutOfScopeUpdates>true</NeedTwoGroupOutOfScopeUpdates>"
				      "<FilterCategoryIds xsi:nil=\"true\"/><AlsoPerformRegularSync>false"
				      "</AlsoPerformRegularSync><ComputerSpec/></parameters></SyncUpdates>"
				      "</soap:Body></soap:Envelope>");
	if (rc < 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return wsus_buf_steal(&b, len);
}

/* The old way: a DOM, a malloc'd text and strtoll per <int>. */
static long sum_dom_list(xmlNodePtr list)
{
	long sum = 0;

	for (xmlNodePtr it = protocol_soap_child(list, "int"); it != NULL; it = protocol_soap_next(it)) {
		char *t = protocol_soap_text(it);

		sum += t ? strtol(t, NULL, 10) : 0;
		free(t);
	}
	return sum;
}

static long read_dom(const char *body, size_t len)
{
	struct protocol_soap_msg m;
	struct err e = { 0 };
	xmlNodePtr params;
	long sum;

	if (protocol_soap_parse(body, len, &m, &e) < 0) {
		fprintf(stderr, "dom: %s\n", e.msg);
		exit(1);
	}
	params = protocol_soap_child(m.op, "parameters");
	sum = sum_dom_list(protocol_soap_child(params, "InstalledNonLeafUpdateIDs")) +
	      sum_dom_list(protocol_soap_child(params, "OtherCachedUpdateIDs"));
	protocol_soap_msg_free(&m);
	return sum;
}

static long sum_ids(const struct protocol_node *list)
{
	const int64_t *v;
	size_t n;
	long sum = 0;

	if (protocol_req_ids(list, &v, &n) == 0)
		for (size_t i = 0; i < n; i++)
			sum += (long)v[i];
	return sum;
}

static long read_bounded(const char *body, size_t len)
{
	static const struct protocol_list_limit lists[] = {
		{ "InstalledNonLeafUpdateIDs", 400 },
		{ "OtherCachedUpdateIDs", 100000 },
		{ NULL, 0 },
	};
	struct protocol_limits lim = protocol_limits_default;
	struct protocol_req_opts opts = { .pre = &lim };
	const struct protocol_node *params;
	struct protocol_req_msg m;
	struct err e = { 0 };
	long sum;

	lim.lists = lists;
	if (protocol_req_read(body, len, &opts, &m, &e) < 0) {
		fprintf(stderr, "reader: %s\n", e.msg);
		exit(1);
	}
	params = protocol_req_child(m.op, "parameters");
	sum = sum_ids(protocol_req_child(params, "InstalledNonLeafUpdateIDs")) +
	      sum_ids(protocol_req_child(params, "OtherCachedUpdateIDs"));
	protocol_req_free(&m);
	return sum;
}

int main(int argc, char **argv)
{
	int dom = argc > 1 && strcmp(argv[1], "dom") == 0;
	int iterations = argc > 2 ? atoi(argv[2]) : 2000;
	int installed = argc > 4 ? atoi(argv[3]) : 40, cached = argc > 4 ? atoi(argv[4]) : 2504;
	size_t len;
	char *body;
	long check = 0;
	double t0;

	if (argc < 2 || (!dom && strcmp(argv[1], "reader") != 0) || iterations < 1) {
		fprintf(stderr, "usage: wsus-parsebench dom|reader [ITERATIONS [INSTALLED CACHED]]\n");
		return 2;
	}
	protocol_xml_init();
	body = delta_request(installed, cached, &len);
	t0 = cpu_seconds();
	for (int i = 0; i < iterations; i++)
		check += dom ? read_dom(body, len) : read_bounded(body, len);
	printf("%s: %zu-byte request (%d installed, %d cached ids), %d iterations, %.1f us CPU per request"
	       " (check %ld)\n", dom ? "libxml2 DOM + lenient readers" : "bounded reader", len, installed,
	       cached, iterations, (cpu_seconds() - t0) * 1e6 / iterations, check / iterations);
	free(body);
	return 0;
}
