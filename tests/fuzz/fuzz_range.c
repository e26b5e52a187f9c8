/*
 * fuzz_range.c -- libFuzzer target of the content path's request headers:
 * Range (server_range_parse), the conditional headers (server_cond_eval) and
 * HTTP-dates (server_http_date_parse).
 *
 * Input, lines separated by '\n': "SIZE MTIME" (decimal file size and
 * modification time), then Range, If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since, If-Range. A missing line is an absent header.
 * Checked: every range returned lies inside the file, in order of request
 * with first <= last; -ERANGE only for a "bytes=" header; a date that parses
 * formats back (IMF-fixdate) to one that parses to the same second.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_util.h"
#include "server_int.h"

#define FUZZ_RANGE_LINES 7

static void check_ranges(const char *hdr, int64_t size)
{
	struct server_range r[SERVER_MAX_RANGES];
	int n = server_range_parse(hdr, size, r, SERVER_MAX_RANGES);

	FUZZ_CHECK(n == -ERANGE || (n >= 0 && n <= SERVER_MAX_RANGES), "result %d", n);
	if (n == -ERANGE)
		FUZZ_CHECK(strcasestr(hdr, "bytes") != NULL, "416 for a non-bytes header");
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(r[i].first >= 0 && r[i].first <= r[i].last && r[i].last < size,
			   "range %d: %" PRId64 "-%" PRId64 " of %" PRId64, i, r[i].first, r[i].last, size);
}

static void check_date(const char *s)
{
	static const char *const days[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
						"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int64_t t, again;
	char text[64];
	struct tm tm;
	time_t tt;

	if (s == NULL || server_http_date_parse(s, &t) < 0)
		return;
	tt = (time_t)t;
	FUZZ_CHECK(gmtime_r(&tt, &tm) != NULL, "date %" PRId64 " out of range", t);
	snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	FUZZ_CHECK(server_http_date_parse(text, &again) == 0 && again == t,
		   "\"%s\" -> %" PRId64 " -> \"%s\" does not come back", s, t, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *line[FUZZ_RANGE_LINES] = { 0 }, *p = text;
	long long fsize = 0, mtime = 0;
	struct server_cond c;
	int use_range = -1;
	enum server_cond_result r;

	for (int i = 0; i < FUZZ_RANGE_LINES && p != NULL; i++) {
		line[i] = p;
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
	}
	if (line[0] == NULL || sscanf(line[0], "%lld %lld", &fsize, &mtime) < 1 || fsize < 0) {
		free(text);
		return 0;
	}
	if (line[1] != NULL)
		check_ranges(line[1], fsize);
	c = (struct server_cond){ .if_match = line[2], .if_none_match = line[3],
				  .if_modified_since = line[4], .if_unmodified_since = line[5],
				  .if_range = line[6] };
	r = server_cond_eval(&c, "\"0123456789abcdef0123456789abcdef01234567\"", mtime, &use_range);
	FUZZ_CHECK(r == SERVER_COND_SERVE || r == SERVER_COND_NOT_MODIFIED || r == SERVER_COND_FAILED,
		   "result %d", (int)r);
	FUZZ_CHECK(use_range == 0 || use_range == 1, "use_range %d", use_range);
	for (int i = 4; i < FUZZ_RANGE_LINES; i++)
		check_date(line[i]);
	free(text);
	return 0;
}
