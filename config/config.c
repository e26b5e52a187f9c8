/*
 * config.c -- loads the wsus-replica INI file (through inih) into a validated
 * struct wsus_config. One table, cfg_keys[], names every key with its type,
 * bounds, default and field; nothing else knows a default. A load fills a
 * fresh struct, applies defaults for what the file left out, cross-checks,
 * and only then hands the struct over: on error the caller gets nothing.
 * Every string in the struct is malloc'd; config_free releases them all.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "config.h"

#define CFG_MAX_FILE   (1024 * 1024)  /* a config file is a few KiB; refuse anything silly */
#define CFG_WHY_LEN    256            /* the "problem" part of an error line */
#define CFG_QUOTE_LEN  72             /* a value quoted in an error message */
#define KIB            ((int64_t)1024)
#define DAY            (24 * 3600)

enum cfg_type {
	CT_PATH,          /* file or directory name, kept as written */
	CT_BOOL,          /* int 0/1 */
	CT_INT,           /* int within [min, max] */
	CT_SIZE,          /* int64_t bytes, optional K/M/G (binary) suffix */
	CT_DURATION,      /* int seconds, optional s/m/h/d suffix */
	CT_MODE,          /* enum wsus_mode */
	CT_DOWNSTREAM,    /* enum wsus_downstream */
	CT_HTTPS_URL,     /* https:// only (the upstream) */
	CT_URL,           /* http:// or https:// */
	CT_LISTEN,        /* ADDR:PORT or [IPv6]:PORT */
	CT_PROXY,         /* http(s)://HOST[:PORT] or HOST:PORT */
	CT_FINGERPRINTS,  /* SHA-256 list, normalised to bare lower-case hex */
	CT_GUIDS,         /* GUID list, normalised to lower case */
	CT_LANGUAGES,     /* "all" or a list of language tags, lower case */
	CT_LEVEL,         /* log level name -> enum log_level */
	CT_WINDOW,        /* "HH:MM-HH:MM", normalised to two-digit fields */
};

/* Where an installed build keeps its data (CMake option WSUS_SYSTEM_LAYOUT);
 * the development build and the demo use ./var. */
#ifndef WSUS_DEFAULT_DATA_DIR
#define WSUS_DEFAULT_DATA_DIR "./var"
#endif

#define CF_OPTIONAL   0x1u  /* an empty value means "unset" (NULL) */
#define CF_IN_DATADIR 0x2u  /* the default is a name under data_dir */

struct cfg_key {
	const char   *section;
	const char   *key;
	enum cfg_type type;
	unsigned      flags;    /* CF_* */
	int64_t       min, max; /* CT_INT, CT_SIZE, CT_DURATION */
	const char   *def;      /* the default, parsed like a value from the file; NULL = unset */
	size_t        off;      /* offsetof(struct wsus_config, field) */
};

#define F(field) offsetof(struct wsus_config, field)

/* Every key, grouped by section in the order config_dump prints them. */
static const struct cfg_key cfg_keys[] = {
	{ "server", "listen", CT_LISTEN, 0, 0, 0, "127.0.0.1:8531", F(srv_listen) },
	{ "server", "tls_cert", CT_PATH, CF_OPTIONAL, 0, 0, NULL, F(srv_tls_cert) },
	{ "server", "tls_key", CT_PATH, CF_OPTIONAL, 0, 0, NULL, F(srv_tls_key) },
	{ "server", "content_http_listen", CT_LISTEN, CF_OPTIONAL, 0, 0, NULL, F(srv_content_http_listen) },
	{ "server", "client_cert_allow", CT_FINGERPRINTS, CF_OPTIONAL, 0, 0, NULL, F(srv_client_cert_allow) },
	{ "server", "downstream", CT_DOWNSTREAM, 0, 0, 0, "open", F(srv_downstream) },
	{ "server", "public_url", CT_URL, CF_OPTIONAL, 0, 0, NULL, F(srv_public_url) },
	{ "server", "threads", CT_INT, 0, 0, 1024, "0", F(srv_threads) },
	{ "server", "max_body", CT_SIZE, 0, 64 * KIB, 1024 * KIB * KIB, "16MiB", F(srv_max_body) },
	{ "server", "max_connections", CT_INT, 0, 1, 65536, "1024", F(srv_max_connections) },
	{ "server", "timeout", CT_DURATION, 0, 1, 3600, "60", F(srv_timeout) },
	{ "server", "max_connections_per_address", CT_INT, 0, 0, 65536, "128", F(srv_max_per_address) },
	{ "server", "queue_per_worker", CT_INT, 0, 1, 65536, "256", F(srv_queue_per_worker) },
	{ "server", "queue_wait_ms", CT_INT, 0, 0, 60000, "500", F(srv_queue_wait_ms) },
	{ "server", "retry_after", CT_DURATION, 0, 1, 3600, "30", F(srv_retry_after) },
	{ "server", "parse_budget_ms", CT_INT, 0, 10, 600000, "2000", F(srv_parse_budget_ms) },
	{ "server", "client_targeting", CT_BOOL, 0, 0, 0, "true", F(srv_client_targeting) },
	{ "server", "selfupdate_dir", CT_PATH, CF_IN_DATADIR, 0, 0, "selfupdate", F(srv_selfupdate_dir) },
	{ "server", "shared_secret_file", CT_PATH, CF_OPTIONAL, 0, 0, NULL, F(srv_shared_secret_file) },

	{ "upstream", "url", CT_HTTPS_URL, CF_OPTIONAL, 0, 0, NULL, F(up_url) },
	{ "upstream", "mode", CT_MODE, 0, 0, 0, "replica", F(up_mode) },
	{ "upstream", "ca_file", CT_PATH, CF_OPTIONAL, 0, 0, NULL, F(up_ca_file) },
	{ "upstream", "client_cert", CT_PATH, CF_OPTIONAL, 0, 0, NULL, F(up_client_cert) },
	{ "upstream", "client_key", CT_PATH, CF_OPTIONAL, 0, 0, NULL, F(up_client_key) },
	{ "upstream", "timeout", CT_DURATION, 0, 1, 3600, "120", F(up_timeout) },
	{ "upstream", "retries", CT_INT, 0, 0, 100, "3", F(up_retries) },

	{ "trust", "pin_store", CT_PATH, CF_IN_DATADIR, 0, 0, "pins", F(tr_pin_store) },
	{ "trust", "enforce_pinning", CT_BOOL, 0, 0, 0, "true", F(tr_enforce_pinning) },
	{ "trust", "proxy", CT_PROXY, CF_OPTIONAL, 0, 0, NULL, F(tr_proxy) },
	{ "trust", "allow_user_proxy_fallback", CT_BOOL, 0, 0, 0, "false", F(tr_allow_user_proxy_fallback) },
	{ "trust", "allow_http_content", CT_BOOL, 0, 0, 0, "false", F(tr_allow_http_content) },
	{ "trust", "bundle_signers", CT_PATH, CF_IN_DATADIR, 0, 0, "signers", F(tr_bundle_signers) },

	{ "storage", "data_dir", CT_PATH, 0, 0, 0, WSUS_DEFAULT_DATA_DIR, F(st_data_dir) },
	{ "storage", "content_dir", CT_PATH, CF_IN_DATADIR, 0, 0, "content", F(st_content_dir) },
	{ "storage", "event_retention_days", CT_INT, 0, 1, 3650, "90", F(st_event_retention_days) },

	{ "clients", "max_computers", CT_INT, 0, 1, 10000000, "200000", F(cl_max_computers) },
	{ "clients", "computer_expiry_days", CT_INT, 0, 0, 3650, "30", F(cl_computer_expiry_days) },
	{ "clients", "register_per_minute", CT_INT, 0, 0, 100000, "60", F(cl_register_per_minute) },
	{ "clients", "event_quota_per_day", CT_SIZE, 0, 256 * KIB, 1024 * KIB * KIB, "1MiB",
	  F(cl_event_quota_day) },
	{ "clients", "event_store_max", CT_SIZE, 0, 1024 * KIB, 1024 * KIB * KIB * KIB, "4GiB",
	  F(cl_event_store_max) },

	{ "sync", "interval", CT_DURATION, 0, 10, 30 * DAY, "86400", F(sy_interval) },
	{ "sync", "jitter", CT_DURATION, 0, 0, DAY, "600", F(sy_jitter) },
	{ "sync", "languages", CT_LANGUAGES, 0, 0, 0, "all", F(sy_languages) },
	{ "sync", "products", CT_GUIDS, CF_OPTIONAL, 0, 0, NULL, F(sy_products) },
	{ "sync", "classifications", CT_GUIDS, CF_OPTIONAL, 0, 0, NULL, F(sy_classifications) },
	{ "sync", "content", CT_BOOL, 0, 0, 0, "true", F(sy_content) },
	{ "sync", "lazy_content", CT_BOOL, 0, 0, 0, "false", F(sy_lazy_content) },
	{ "sync", "batch", CT_INT, 0, 0, 10000, "0", F(sy_batch) },
	{ "sync", "max_download_rate", CT_SIZE, 0, 0, 1024 * KIB * KIB * KIB, "0", F(sy_max_download_rate) },
	{ "sync", "window", CT_WINDOW, CF_OPTIONAL, 0, 0, NULL, F(sy_window) },
	{ "sync", "progress_interval", CT_DURATION, 0, 1, DAY, "30", F(sy_progress_interval) },
	{ "sync", "rollup", CT_BOOL, 0, 0, 0, "true", F(sy_rollup) },

	{ "cleanup", "content_grace_days", CT_INT, 0, 0, 3650, "7", F(cu_content_grace_days) },
	{ "cleanup", "decline_unneeded", CT_BOOL, 0, 0, 0, "false", F(cu_decline_unneeded) },

	{ "admin", "listen", CT_LISTEN, CF_OPTIONAL, 0, 0, "127.0.0.1:8532", F(adm_listen) },
	{ "admin", "client_cert_allow", CT_FINGERPRINTS, CF_OPTIONAL, 0, 0, NULL, F(adm_client_cert_allow) },

	{ "log", "level", CT_LEVEL, 0, 0, 0, "info", F(log_level) },
	{ "log", "access_log", CT_PATH, CF_OPTIONAL, 0, 0, NULL, F(log_access) },
};

#define N_KEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

/* A parsed value on its way into the struct. */
struct cfg_val {
	int64_t num;
	char   *str;  /* owned until stored */
};

/*---- Small helpers ----*/

static bool type_is_string(enum cfg_type t)
{
	return t != CT_BOOL && t != CT_INT && t != CT_SIZE && t != CT_DURATION && t != CT_MODE &&
	       t != CT_DOWNSTREAM && t != CT_LEVEL;
}

static char **field_str(struct wsus_config *cfg, const struct cfg_key *k)
{
	return (char **)(void *)((char *)cfg + k->off);
}

static int *field_int(struct wsus_config *cfg, const struct cfg_key *k)
{
	return (int *)(void *)((char *)cfg + k->off);
}

static const void *field_ro(const struct wsus_config *cfg, const struct cfg_key *k)
{
	return (const char *)cfg + k->off;
}

static const struct cfg_key *key_by_name(const char *section, const char *key, size_t *idx)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(cfg_keys[i].section, section) == 0 && strcmp(cfg_keys[i].key, key) == 0) {
			*idx = i;
			return &cfg_keys[i];
		}
	}
	return NULL;
}

static bool section_known(const char *name, size_t n)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strlen(cfg_keys[i].section) == n && memcmp(cfg_keys[i].section, name, n) == 0)
			return true;
	}
	return false;
}

/* "value" in quotes, cut short and with control characters masked, so an
 * error line stays one readable line whatever the file holds. */
static const char *quote(const char *v, size_t n, char out[CFG_QUOTE_LEN])
{
	size_t o = 0, room = CFG_QUOTE_LEN - 6;  /* quotes, "...", NUL */

	out[o++] = '"';
	for (size_t i = 0; i < n && v[i] != '\0'; i++) {
		if (o >= room) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		out[o++] = ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) ? '?' : v[i];
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static int why_set(char *why, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int why_set(char *why, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CFG_WHY_LEN, fmt, ap);
	va_end(ap);
	return code;
}

/* data_dir + "/" + leaf, without doubling a trailing slash. */
static char *path_join(const char *dir, const char *leaf)
{
	size_t dn = strlen(dir), ln = strlen(leaf);
	bool slash = dn > 0 && dir[dn - 1] == '/';
	char *p = malloc(dn + ln + 2);

	if (p == NULL)
		return NULL;
	snprintf(p, dn + ln + 2, "%s%s%s", dir, slash ? "" : "/", leaf);
	return p;
}

/*---- Value parsers: 0, or -EINVAL/-ERANGE/-ENOMEM with the problem in why ----*/

/* A decimal integer followed by an optional unit suffix; *rest points at it. */
static int parse_number(const char *v, int64_t *out, const char **rest, char *why)
{
	char q[CFG_QUOTE_LEN];
	char *end;
	long long n;

	if (!isdigit((unsigned char)v[0]) && !(v[0] == '-' && isdigit((unsigned char)v[1])))
		return why_set(why, -EINVAL, "expected a number, got %s", quote(v, strlen(v), q));
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno == ERANGE)
		return why_set(why, -ERANGE, "%s is too large", quote(v, strlen(v), q));
	*out = n;
	*rest = end;
	return 0;
}

static int check_range(const struct cfg_key *k, int64_t n, const char *unit, char *why)
{
	if (n < k->min || n > k->max)
		return why_set(why, -ERANGE, "%" PRId64 "%s is out of range (%" PRId64 "..%" PRId64 "%s)",
			       n, unit, k->min, k->max, unit);
	return 0;
}

/* n * mult, refusing overflow (reported as out of range like any big value). */
static int scale(int64_t n, int64_t mult, const char *v, char *why)
{
	char q[CFG_QUOTE_LEN];

	if (n > INT64_MAX / mult || n < INT64_MIN / mult)
		return why_set(why, -ERANGE, "%s is out of range", quote(v, strlen(v), q));
	return 0;
}

static int parse_int(const struct cfg_key *k, const char *v, struct cfg_val *out, char *why)
{
	char q[CFG_QUOTE_LEN];
	const char *rest;
	int rc = parse_number(v, &out->num, &rest, why);

	if (rc < 0)
		return rc;
	if (*rest != '\0')
		return why_set(why, -EINVAL, "expected an integer, got %s", quote(v, strlen(v), q));
	return check_range(k, out->num, "", why);
}

static int parse_size(const struct cfg_key *k, const char *v, struct cfg_val *out, char *why)
{
	static const struct { const char *sfx; int64_t mult; } units[] = {
		{ "", 1 }, { "k", KIB }, { "kib", KIB }, { "m", KIB * KIB }, { "mib", KIB * KIB },
		{ "g", KIB * KIB * KIB }, { "gib", KIB * KIB * KIB },
	};
	char q[CFG_QUOTE_LEN];
	const char *rest;
	int rc = parse_number(v, &out->num, &rest, why);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(rest, units[i].sfx) != 0)
			continue;
		rc = scale(out->num, units[i].mult, v, why);
		if (rc < 0)
			return rc;
		out->num *= units[i].mult;
		return check_range(k, out->num, " bytes", why);
	}
	return why_set(why, -EINVAL, "expected bytes with an optional K, M or G suffix, got %s",
		       quote(v, strlen(v), q));
}

static int parse_duration(const struct cfg_key *k, const char *v, struct cfg_val *out, char *why)
{
	static const struct { char sfx; int64_t mult; } units[] = {
		{ '\0', 1 }, { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', DAY },
	};
	char q[CFG_QUOTE_LEN];
	const char *rest;
	int rc = parse_number(v, &out->num, &rest, why);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (tolower((unsigned char)rest[0]) != units[i].sfx || (rest[0] != '\0' && rest[1] != '\0'))
			continue;
		rc = scale(out->num, units[i].mult, v, why);
		if (rc < 0)
			return rc;
		out->num *= units[i].mult;
		return check_range(k, out->num, " seconds", why);
	}
	return why_set(why, -EINVAL, "expected seconds with an optional s, m, h or d suffix, got %s",
		       quote(v, strlen(v), q));
}

/* "HH:MM-HH:MM" (start and end differ; the end may be past midnight). */
static int parse_window(const char *v, struct cfg_val *out, char *why)
{
	char q[CFG_QUOTE_LEN];
	int start, end;

	if (config_window_parse(v, &start, &end) < 0)
		return why_set(why, -EINVAL, "expected HH:MM-HH:MM with two different times, got %s",
			       quote(v, strlen(v), q));
	out->str = malloc(12);
	if (out->str == NULL)
		return -ENOMEM;
	snprintf(out->str, 12, "%02d:%02d-%02d:%02d", start / 60, start % 60, end / 60, end % 60);
	return 0;
}

int config_window_parse(const char *v, int *start_min, int *end_min)
{
	int h1, m1, h2, m2, used = 0;

	if (v == NULL || strlen(v) > 11 ||
	    sscanf(v, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &used) != 4 || v[used] != '\0')
		return -EINVAL;
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p) && *p != ':' && *p != '-')
			return -EINVAL;
	if (h1 < 0 || h1 > 23 || h2 < 0 || h2 > 23 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 ||
	    h1 * 60 + m1 == h2 * 60 + m2)
		return -EINVAL;
	*start_min = h1 * 60 + m1;
	*end_min = h2 * 60 + m2;
	return 0;
}

static int parse_bool(const char *v, struct cfg_val *out, char *why)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	char q[CFG_QUOTE_LEN];

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			out->num = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			out->num = 0;
			return 0;
		}
	}
	return why_set(why, -EINVAL, "expected true or false (or yes/no, on/off, 1/0), got %s",
		       quote(v, strlen(v), q));
}

static int parse_mode(const char *v, struct cfg_val *out, char *why)
{
	char q[CFG_QUOTE_LEN];

	if (strcasecmp(v, "replica") == 0)
		out->num = WSUS_MODE_REPLICA;
	else if (strcasecmp(v, "autonomous") == 0)
		out->num = WSUS_MODE_AUTONOMOUS;
	else
		return why_set(why, -EINVAL, "expected replica or autonomous, got %s",
			       quote(v, strlen(v), q));
	return 0;
}

static int parse_downstream(const char *v, struct cfg_val *out, char *why)
{
	char q[CFG_QUOTE_LEN];

	if (strcasecmp(v, "open") == 0)
		out->num = WSUS_DOWNSTREAM_OPEN;
	else if (strcasecmp(v, "allow_list") == 0)
		out->num = WSUS_DOWNSTREAM_ALLOW_LIST;
	else
		return why_set(why, -EINVAL, "expected open or allow_list, got %s", quote(v, strlen(v), q));
	return 0;
}

static const struct {
	const char *name;
	int level;
} level_names[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARN }, { "warn", LOG_WARN }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

static int parse_level(const char *v, struct cfg_val *out, char *why)
{
	char q[CFG_QUOTE_LEN];

	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(v, level_names[i].name) == 0) {
			out->num = level_names[i].level;
			return 0;
		}
	}
	return why_set(why, -EINVAL, "expected error, warning, notice, info or debug, got %s",
		       quote(v, strlen(v), q));
}

static const char *level_name(int level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return "info";
}

/* 1..65535 from exactly n decimal digits. */
static bool port_ok(const char *p, size_t n)
{
	long port = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		port = port * 10 + (p[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* Does p[0..n) hold an address of family af? */
static bool addr_ok(int af, const char *p, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return inet_pton(af, buf, bin) == 1;
}

static bool hostname_ok(const char *p, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return false;
	}
	return true;
}

static int parse_listen(const char *v, char *why)
{
	char q[CFG_QUOTE_LEN];
	size_t n = strlen(v);
	const char *colon;

	if (v[0] == '[') {
		const char *rb = strchr(v, ']');

		if (rb != NULL && addr_ok(AF_INET6, v + 1, (size_t)(rb - v - 1)) && rb[1] == ':'
		    && port_ok(rb + 2, strlen(rb + 2)))
			return 0;
		return why_set(why, -EINVAL, "expected [IPv6]:PORT with PORT 1..65535, got %s",
			       quote(v, n, q));
	}
	colon = strrchr(v, ':');
	if (colon != NULL && memchr(v, ':', (size_t)(colon - v)) != NULL)
		return why_set(why, -EINVAL, "an IPv6 address goes in brackets, as in [::1]:8531; got %s",
			       quote(v, n, q));
	if (colon != NULL && addr_ok(AF_INET, v, (size_t)(colon - v)) && port_ok(colon + 1, strlen(colon + 1)))
		return 0;
	return why_set(why, -EINVAL,
		       "expected ADDR:PORT (an IPv4 address, or [IPv6]) with PORT 1..65535, got %s",
		       quote(v, n, q));
}

/* HOST[:PORT] where HOST is a name, an IPv4 address or [IPv6]. Credentials
 * are refused: config_dump prints every value, and this file holds no secrets. */
static int check_authority(const char *a, size_t n, bool need_port, char *why)
{
	const char *host_end, *end = a + n;
	bool ok;

	if (memchr(a, '@', n) != NULL)
		return why_set(why, -EINVAL, "user names and passwords are not accepted here");
	if (n > 0 && a[0] == '[') {
		host_end = memchr(a, ']', n);
		ok = host_end != NULL && addr_ok(AF_INET6, a + 1, (size_t)(host_end - a - 1));
		if (ok)
			host_end++;
	} else {
		host_end = memchr(a, ':', n);
		if (host_end == NULL)
			host_end = end;
		ok = hostname_ok(a, (size_t)(host_end - a));
	}
	if (!ok)
		return why_set(why, -EINVAL, "no valid host name or address");
	if (host_end == end)
		return need_port ? why_set(why, -EINVAL, "a port is required") : 0;
	if (*host_end != ':')
		return why_set(why, -EINVAL, "expected :PORT after the host");
	if (!port_ok(host_end + 1, (size_t)(end - host_end - 1)))
		return why_set(why, -EINVAL, "the port must be 1..65535");
	return 0;
}

/* Scheme length when v starts with "http://" or "https://" (any case), 0 otherwise;
 * *https tells which. */
static size_t http_scheme(const char *v, bool *https)
{
	if (strncasecmp(v, "https://", 8) == 0) {
		*https = true;
		return 8;
	}
	*https = false;
	return strncasecmp(v, "http://", 7) == 0 ? 7 : 0;
}

static bool has_space_or_control(const char *v)
{
	for (; *v != '\0'; v++) {
		if ((unsigned char)*v <= 0x20 || *v == 0x7f)
			return true;
	}
	return false;
}

static int parse_url(const char *v, bool https_only, char *why)
{
	char q[CFG_QUOTE_LEN], sub[CFG_WHY_LEN];
	size_t skip, alen;
	bool https;
	int rc;

	skip = http_scheme(v, &https);
	if (https_only && !https)
		return why_set(why, -EINVAL,
			       "%s is not an https:// URL: update metadata is only fetched over HTTPS",
			       quote(v, strlen(v), q));
	if (skip == 0)
		return why_set(why, -EINVAL, "expected an http:// or https:// URL, got %s",
			       quote(v, strlen(v), q));
	if (has_space_or_control(v))
		return why_set(why, -EINVAL, "%s contains white space or control characters",
			       quote(v, strlen(v), q));
	alen = strcspn(v + skip, "/?#");
	rc = check_authority(v + skip, alen, false, sub);
	if (rc < 0)
		return why_set(why, rc, "%s: %s", quote(v, strlen(v), q), sub);
	return 0;
}

static int parse_proxy(const char *v, char *why)
{
	char q[CFG_QUOTE_LEN], sub[CFG_WHY_LEN];
	size_t skip, alen;
	bool https;
	int rc;

	skip = http_scheme(v, &https);
	if (skip == 0 && strstr(v, "://") != NULL)
		goto bad_form;
	if (has_space_or_control(v))
		goto bad_form;
	alen = strcspn(v + skip, "/?#");
	/* A proxy is a host and port; a path after it would be silently ignored. */
	if (v[skip + alen] != '\0' && strcmp(v + skip + alen, "/") != 0)
		goto bad_form;
	rc = check_authority(v + skip, alen, skip == 0, sub);
	if (rc < 0)
		return why_set(why, rc, "%s: %s", quote(v, strlen(v), q), sub);
	return 0;
bad_form:
	return why_set(why, -EINVAL, "expected http://HOST[:PORT], https://HOST[:PORT] or HOST:PORT, got %s",
		       quote(v, strlen(v), q));
}

/* One list entry p[0..n): append its normalised form to out or explain. */
typedef int (*item_fn)(const char *p, size_t n, struct wsus_buf *out, char *why);

static int item_fingerprint(const char *p, size_t n, struct wsus_buf *out, char *why)
{
	char hex[2 * WSUS_SHA256_LEN];
	size_t digits = 0;

	for (size_t i = 0; i < n; i++) {
		/* a colon may sit only between two complete byte pairs */
		if (p[i] == ':' && digits % 2 == 0 && digits > 0 && digits < sizeof(hex) && i + 1 < n
		    && p[i - 1] != ':')
			continue;
		if (!isxdigit((unsigned char)p[i]) || digits == sizeof(hex))
			goto bad;
		hex[digits++] = (char)tolower((unsigned char)p[i]);
	}
	if (digits != sizeof(hex))
		goto bad;
	return wsus_buf_append(out, hex, sizeof(hex));
bad:
	return why_set(why, -EINVAL, "is not a SHA-256 fingerprint (64 hex digits, colons allowed between byte pairs)");
}

static int item_guid(const char *p, size_t n, struct wsus_buf *out, char *why)
{
	char in[48], g[WSUS_GUID_LEN];

	if (n >= sizeof(in))
		goto bad;
	memcpy(in, p, n);
	in[n] = '\0';
	if (wsus_guid_normalize(in, g) < 0)
		goto bad;
	return wsus_buf_append(out, g, WSUS_GUID_LEN - 1);
bad:
	return why_set(why, -EINVAL, "is not a GUID");
}

/* Language tags as WSUS uses them: "en", "de", "zh-cn", "pt-br". */
static int item_language(const char *p, size_t n, struct wsus_buf *out, char *why)
{
	char tag[36];

	if (n == 3 && strncasecmp(p, "all", 3) == 0)
		return why_set(why, -EINVAL, "cannot be combined with other languages");
	if (n == 0 || n >= sizeof(tag) || !isalpha((unsigned char)p[0]))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			goto bad;
		tag[i] = (char)tolower((unsigned char)p[i]);
	}
	return wsus_buf_append(out, tag, n);
bad:
	return why_set(why, -EINVAL, "is not a language tag (letters, digits and '-', like en or zh-cn)");
}

/* Split v on commas, trim blanks, run each entry through fn; the normalised
 * entries are joined with bare commas into *out. */
static int parse_list(const char *v, item_fn fn, char **out, char *why)
{
	char q[CFG_QUOTE_LEN], sub[CFG_WHY_LEN];
	struct wsus_buf b;
	const char *p = v;
	int rc = 0, idx = 0;

	wsus_buf_init(&b, strlen(v) + 1);
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		idx++;
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0) {
			rc = why_set(why, -EINVAL, "entry %d is empty", idx);
			goto fail;
		}
		if (b.len > 0)
			rc = wsus_buf_append(&b, ",", 1);
		if (rc == 0)
			rc = fn(p, n, &b, sub);
		if (rc == -EINVAL) {
			why_set(why, rc, "entry %d %s %s", idx, quote(p, n, q), sub);
			goto fail;
		}
		if (rc < 0)
			goto fail;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*out = wsus_buf_steal(&b, NULL);
	return *out ? 0 : -ENOMEM;
fail:
	wsus_buf_free(&b);
	return rc;
}

static int parse_path(const char *v, char *why)
{
	char q[CFG_QUOTE_LEN];

	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return why_set(why, -EINVAL, "%s contains control characters", quote(v, strlen(v), q));
	}
	return 0;
}

/* Check v against k's type; string results are normalised copies in out->str. */
static int parse_value(const struct cfg_key *k, const char *v, struct cfg_val *out, char *why)
{
	int rc = 0;

	out->num = 0;
	out->str = NULL;
	if (v == NULL || *v == '\0') {
		if (k->flags & CF_OPTIONAL)
			return 0;
		return why_set(why, -EINVAL, "a value is required");
	}
	switch (k->type) {
	case CT_BOOL:      return parse_bool(v, out, why);
	case CT_INT:       return parse_int(k, v, out, why);
	case CT_SIZE:      return parse_size(k, v, out, why);
	case CT_DURATION:  return parse_duration(k, v, out, why);
	case CT_MODE:      return parse_mode(v, out, why);
	case CT_DOWNSTREAM: return parse_downstream(v, out, why);
	case CT_LEVEL:     return parse_level(v, out, why);
	case CT_WINDOW:    return parse_window(v, out, why);
	case CT_FINGERPRINTS: return parse_list(v, item_fingerprint, &out->str, why);
	case CT_GUIDS:     return parse_list(v, item_guid, &out->str, why);
	case CT_LANGUAGES:
		if (strcasecmp(v, "all") != 0)
			return parse_list(v, item_language, &out->str, why);
		v = "all";
		break;
	case CT_LISTEN:
		if ((k->flags & CF_OPTIONAL) && strcasecmp(v, "off") == 0)
			return 0;
		rc = parse_listen(v, why);
		break;
	case CT_HTTPS_URL: rc = parse_url(v, true, why); break;
	case CT_URL:       rc = parse_url(v, false, why); break;
	case CT_PROXY:     rc = parse_proxy(v, why); break;
	case CT_PATH:      rc = parse_path(v, why); break;
	}
	if (rc < 0)
		return rc;
	out->str = strdup(v);
	return out->str ? 0 : -ENOMEM;
}

/* Move a parsed value into its field (the struct takes over out->str). */
static void store(struct wsus_config *cfg, const struct cfg_key *k, struct cfg_val *v)
{
	if (type_is_string(k->type)) {
		char **slot = field_str(cfg, k);

		free(*slot);
		*slot = v->str;
		v->str = NULL;
	} else if (k->type == CT_SIZE) {
		*(int64_t *)(void *)((char *)cfg + k->off) = v->num;
	} else if (k->type == CT_MODE) {
		*(enum wsus_mode *)(void *)((char *)cfg + k->off) = (enum wsus_mode)v->num;
	} else {
		*field_int(cfg, k) = (int)v->num;  /* bounds keep it within int */
	}
}

/*---- Reading the file through inih ----*/

/* inih does not hand the line number to the handler (INI_HANDLER_LINENO is 0
 * in distribution builds), so we feed it through our own reader and count
 * lines there: the handler runs on the line the reader handed out last. */
struct cfg_load {
	const char *path;
	const char *text;          /* whole file, NUL-terminated, no NUL inside */
	size_t len, pos;
	size_t line_end;           /* offset of the current line's '\n' (or len) */
	bool at_line_start;
	int lineno;                /* 1-based line the reader is on */
	size_t max_line;           /* longest line we accept; 0 = what inih's buffer holds */
	struct wsus_config *cfg;
	int line_of[N_KEYS];       /* line that set each key, 0 = not in the file */
	struct err *e;
	int rc;                    /* first error, 0 if none */
	int err_line;              /* its line */
};

static void load_fail(struct cfg_load *ld, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Keep only the first error: inih reads on after one, and the first is the
 * one the admin has to fix. */
static void load_fail(struct cfg_load *ld, int code, const char *fmt, ...)
{
	char msg[WSUS_ERR_LEN];
	va_list ap;

	if (ld->rc != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ld->rc = err_set(ld->e, code, "%s:%d: %s", ld->path, ld->lineno, msg);
	ld->err_line = ld->lineno;
}

/* At the start of each line: skip a BOM and leading blanks (so that indented
 * lines are never taken as inih continuation lines), and catch unknown
 * sections here, since inih only reports sections that hold keys.
 * Returns false when the line must be replaced by an empty one. */
static bool begin_line(struct cfg_load *ld, size_t limit)
{
	const char *nl = memchr(ld->text + ld->pos, '\n', ld->len - ld->pos);
	const char *s;
	size_t n;

	ld->lineno++;
	ld->line_end = nl ? (size_t)(nl - ld->text) : ld->len;
	if (ld->lineno == 1 && ld->len - ld->pos >= 3 && memcmp(ld->text, "\xEF\xBB\xBF", 3) == 0)
		ld->pos += 3;
	while (ld->pos < ld->line_end && (ld->text[ld->pos] == ' ' || ld->text[ld->pos] == '\t'))
		ld->pos++;
	s = ld->text + ld->pos;
	n = ld->line_end - ld->pos;
	if (n > 0 && (s[0] == ';' || s[0] == '#'))
		return false;  /* a comment: its length does not matter */
	if (n > limit) {
		load_fail(ld, -E2BIG, "line longer than %zu characters", limit);
		return false;
	}
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb != NULL && !section_known(s + 1, (size_t)(rb - s - 1))) {
			char q[CFG_QUOTE_LEN];

			load_fail(ld, -EINVAL, "unknown section %s (known: server, upstream, trust, storage, sync)",
				  quote(s + 1, (size_t)(rb - s - 1), q));
			return false;
		}
	}
	return true;
}

/* ini_reader: hands inih the file one line at a time (in pieces when its
 * buffer is smaller, which it then grows), always ending a line with '\n'. */
static char *cfg_reader(char *buf, int num, void *stream)
{
	struct cfg_load *ld = stream;
	size_t room, n;

	if (num < 2) {
		/* never seen; stopping quietly would drop the rest of the file */
		load_fail(ld, -EIO, "inih offered a %d-byte line buffer", num);
		return NULL;
	}
	room = (size_t)num - 1;
	if (ld->at_line_start) {
		if (ld->pos >= ld->len)
			return NULL;
		if (!begin_line(ld, ld->max_line ? ld->max_line : room - 1)) {
			ld->pos = ld->line_end < ld->len ? ld->line_end + 1 : ld->len;
			memcpy(buf, "\n", 2);
			return buf;
		}
		ld->at_line_start = false;
	}
	n = ld->line_end - ld->pos;
	if (n > room)
		n = room;
	memcpy(buf, ld->text + ld->pos, n);
	ld->pos += n;
	if (ld->pos == ld->line_end && n < room) {
		buf[n++] = '\n';
		ld->pos = ld->line_end < ld->len ? ld->line_end + 1 : ld->len;
		ld->at_line_start = true;
	}
	buf[n] = '\0';
	return buf;
}

/* ini_handler: look the key up, refuse repeats, parse and store. Always
 * returns 1 so that inih's own return value reports syntax errors only. */
static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_load *ld = user;
	const struct cfg_key *k;
	struct cfg_val v;
	char why[CFG_WHY_LEN];
	size_t idx;
	int rc;

	if (ld->rc != 0)
		return 1;
	if (*section == '\0') {
		load_fail(ld, -EINVAL, "%s: key outside any [section]", name);
		return 1;
	}
	if (!section_known(section, strlen(section))) {
		load_fail(ld, -EINVAL, "[%s] %s: unknown section", section, name);
		return 1;
	}
	k = key_by_name(section, name, &idx);
	if (k == NULL) {
		load_fail(ld, -EINVAL, "[%s] %s: unknown key", section, name);
		return 1;
	}
	if (ld->line_of[idx] != 0) {
		load_fail(ld, -EINVAL, "[%s] %s: duplicate key (first set on line %d)", section, name,
			  ld->line_of[idx]);
		return 1;
	}
	ld->line_of[idx] = ld->lineno;
	rc = parse_value(k, value, &v, why);
	if (rc == -ENOMEM) {
		load_fail(ld, rc, "out of memory");
		return 1;
	}
	if (rc < 0) {
		load_fail(ld, rc, "[%s] %s: %s", section, name, why);
		return 1;
	}
	store(ld->cfg, k, &v);
	return 1;
}

/* The text of line lineno (leading blanks skipped), quoted, for syntax errors. */
static const char *line_text(const struct cfg_load *ld, int lineno, char out[CFG_QUOTE_LEN])
{
	const char *p = ld->text, *end = ld->text + ld->len, *nl;

	for (int i = 1; i < lineno && p < end; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		nl = end;
	while (p < nl && (*p == ' ' || *p == '\t'))
		p++;
	if (nl > p && nl[-1] == '\r')
		nl--;
	return quote(p, (size_t)(nl - p), out);
}

static int run_inih(struct cfg_load *ld)
{
	int rc;
#ifdef WSUS_INIH_RUNTIME_OPTIONS
	/* Debian's libinih turns its build options into globals. Its default
	 * 200-byte stack buffer cuts long lines (a few client fingerprints);
	 * ask for a growable heap buffer instead, and put everything back.
	 * Touching globals makes a load unsafe beside another thread using
	 * inih; config is loaded once, at start-up, before any thread. */
	bool use_stack = ini_use_stack, allow_realloc = ini_allow_realloc;
	int max_line = ini_max_line;

	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = WSUS_MAX_CONFIG_LINE + 2;  /* the line, '\n', NUL */
	ld->max_line = WSUS_MAX_CONFIG_LINE;
	rc = ini_parse_stream(cfg_reader, ld, cfg_handler, ld);
	ini_use_stack = use_stack;
	ini_allow_realloc = allow_realloc;
	ini_max_line = max_line;
#else
	ld->max_line = 0;  /* whatever fits inih's fixed buffer */
	rc = ini_parse_stream(cfg_reader, ld, cfg_handler, ld);
#endif
	return rc;
}

static int parse_text(struct cfg_load *ld)
{
	char q[CFG_QUOTE_LEN];
	const char *nul = memchr(ld->text, '\0', ld->len);
	int rc;

	if (nul != NULL) {
		int line = 1;

		for (const char *p = ld->text; p < nul; p++)
			line += *p == '\n';
		return err_set(ld->e, -EINVAL, "%s:%d: the file contains a NUL byte", ld->path, line);
	}
	ld->at_line_start = true;
	rc = run_inih(ld);
	if (rc == -2)
		return err_set(ld->e, -ENOMEM, "%s: out of memory while parsing", ld->path);
	if (rc > 0 && (ld->rc == 0 || rc < ld->err_line)) {
		return err_set(ld->e, -EINVAL, "%s:%d: syntax error: expected \"key = value\" or \"[section]\", got %s",
			       ld->path, rc, line_text(ld, rc, q));
	}
	return ld->rc;
}

/*---- Defaults and cross-checks ----*/

static int apply_default(struct wsus_config *cfg, const struct cfg_key *k, struct err *e)
{
	char why[CFG_WHY_LEN];
	char *joined = NULL;
	const char *def = k->def;
	struct cfg_val v;
	int rc;

	if ((k->flags & CF_IN_DATADIR) && def != NULL) {
		joined = path_join(cfg->st_data_dir, def);
		if (joined == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		def = joined;
	}
	rc = parse_value(k, def, &v, why);
	free(joined);
	if (rc < 0)  /* only a broken table or -d gets here */
		return err_set(e, rc, "[%s] %s: default %s", k->section, k->key, why);
	store(cfg, k, &v);
	return 0;
}

/* Fill what the file left out. data_dir comes first because the derived
 * defaults (pin_store, content_dir) sit under it; -d beats the file. */
static int finish(struct wsus_config *cfg, const int *line_of, const char *data_dir, struct err *e)
{
	size_t dd = 0;
	int rc;

	key_by_name("storage", "data_dir", &dd);
	if (data_dir != NULL) {
		char *copy;

		if (*data_dir == '\0')
			return err_set(e, -EINVAL, "the data directory given with -d is empty");
		copy = strdup(data_dir);
		if (copy == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		free(cfg->st_data_dir);
		cfg->st_data_dir = copy;
	} else if (line_of[dd] == 0) {
		rc = apply_default(cfg, &cfg_keys[dd], e);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		if (i == dd || line_of[i] != 0)
			continue;
		rc = apply_default(cfg, &cfg_keys[i], e);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* client_cert_allow alone has always meant "only these downstreams": it
 * implies downstream = allow_list; written together with open it is a
 * contradiction, refused rather than silently opening server sync. */
static int check_downstream(const struct cfg_load *ld)
{
	struct wsus_config *c = ld->cfg;
	size_t id = 0, ia = 0;

	key_by_name("server", "downstream", &id);
	key_by_name("server", "client_cert_allow", &ia);
	if (c->srv_client_cert_allow == NULL || c->srv_downstream == WSUS_DOWNSTREAM_ALLOW_LIST)
		return 0;
	if (ld->line_of[id] == 0) {
		c->srv_downstream = WSUS_DOWNSTREAM_ALLOW_LIST;
		return 0;
	}
	return err_set(ld->e, -EINVAL,
		       "%s:%d: [server] downstream: open contradicts client_cert_allow (line %d): set "
		       "downstream = allow_list to admit only those certificates, or remove client_cert_allow",
		       ld->path, ld->line_of[id], ld->line_of[ia]);
}

/* The admin listener speaks plain HTTP on loopback only; anywhere else it is
 * HTTPS and requires a client-certificate allow-list. */
static int check_admin(const struct cfg_load *ld)
{
	const struct wsus_config *c = ld->cfg;
	size_t il = 0;

	key_by_name("admin", "listen", &il);
	if (c->adm_listen == NULL || config_listen_is_loopback(c->adm_listen) ||
	    c->adm_client_cert_allow != NULL)
		return 0;
	return err_set(ld->e, -EINVAL, "%s:%d: [admin] listen: %s is not a loopback address: "
		       "set [admin] client_cert_allow (HTTPS with client certificates) or use 127.0.0.1",
		       ld->path, ld->line_of[il], c->adm_listen);
}

/* [server] shared_secret_file: a regular file no one but its owner may read
 * or write, holding 64 hex digits (32 bytes; whitespace around them is
 * ignored): `umask 077; openssl rand -hex 32 > FILE`. */
static int load_site_secret(const struct cfg_load *ld)
{
	struct wsus_config *c = ld->cfg;
	char *text = NULL, hex[65];
	const char *p;
	struct stat sb;
	struct err fe = { 0 };
	size_t is = 0, len = 0, n;
	int rc;

	if (c->srv_shared_secret_file == NULL)
		return 0;
	key_by_name("server", "shared_secret_file", &is);
#define SECRET_ERR(...) err_set(ld->e, -EINVAL, "%s:%d: [server] shared_secret_file: %s: %s", ld->path, \
				ld->line_of[is], c->srv_shared_secret_file, (snprintf(why, sizeof(why), __VA_ARGS__), why))
	{
		char why[CFG_WHY_LEN];

		if (stat(c->srv_shared_secret_file, &sb) < 0)
			return SECRET_ERR("%s", strerror(errno));
		if (!S_ISREG(sb.st_mode))
			return SECRET_ERR("not a regular file");
		if ((sb.st_mode & 077) != 0)
			return SECRET_ERR("mode %04o lets group or others at it (chmod 600 it)",
					  (unsigned)(sb.st_mode & 07777));
		rc = wsus_read_file(c->srv_shared_secret_file, 4096, &text, &len, &fe);
		if (rc < 0)
			return SECRET_ERR("%s", fe.msg);
		for (p = text; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
			;
		n = strspn(p, "0123456789abcdefABCDEF");
		rc = n == 64 && p[n + strspn(p + n, " \t\r\n")] == '\0' ? 0 : -1;
		if (rc == 0) {
			memcpy(hex, p, 64);
			hex[64] = '\0';
			rc = wsus_hex_decode(hex, c->srv_site_secret, sizeof(c->srv_site_secret)) < 0 ? -1 : 0;
			explicit_bzero(hex, sizeof(hex));
		}
		explicit_bzero(text, len);
		free(text);
		if (rc < 0)
			return SECRET_ERR("must hold 64 hex digits and nothing else (openssl rand -hex 32)");
	}
#undef SECRET_ERR
	c->srv_site = 1;
	return 0;
}

int config_listen_is_loopback(const char *listen)
{
	return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0 ||
	       strncasecmp(listen, "localhost:", 10) == 0;
}

/* A certificate without its key (or the reverse) cannot serve TLS; say which
 * one is set and where. */
static int cross_check(const struct cfg_load *ld)
{
	const struct wsus_config *c = ld->cfg;
	size_t ic = 0, ik = 0;
	int rc;

	key_by_name("server", "tls_cert", &ic);
	key_by_name("server", "tls_key", &ik);
	if (c->srv_tls_cert != NULL && c->srv_tls_key == NULL)
		return err_set(ld->e, -EINVAL, "%s:%d: [server] tls_cert: set without tls_key (give both or neither)",
			       ld->path, ld->line_of[ic]);
	if (c->srv_tls_key != NULL && c->srv_tls_cert == NULL)
		return err_set(ld->e, -EINVAL, "%s:%d: [server] tls_key: set without tls_cert (give both or neither)",
			       ld->path, ld->line_of[ik]);
	key_by_name("upstream", "client_cert", &ic);
	key_by_name("upstream", "client_key", &ik);
	if ((c->up_client_cert == NULL) != (c->up_client_key == NULL))
		return err_set(ld->e, -EINVAL, "%s:%d: [upstream] %s: set without %s (give both or neither)",
			       ld->path, ld->line_of[c->up_client_cert ? ic : ik],
			       c->up_client_cert ? "client_cert" : "client_key",
			       c->up_client_cert ? "client_key" : "client_cert");
	rc = check_downstream(ld);
	if (rc < 0)
		return rc;
	rc = check_admin(ld);
	return rc < 0 ? rc : load_site_secret(ld);
}

/* Fail closed on the trust settings (config_trust.c). */
static int check_trust(struct cfg_load *ld)
{
	size_t ip = 0;

	key_by_name("trust", "pin_store", &ip);
	ld->cfg->tr_pin_store_line = ld->line_of[ip];
	return config_check_pin_store(ld->cfg, ld->e);
}

/*---- Public API ----*/

const char *config_downstream_name(int policy)
{
	return policy == WSUS_DOWNSTREAM_ALLOW_LIST ? "allow_list" : "open";
}

int config_default(const char *data_dir, struct wsus_config **out, struct err *e)
{
	static const int none[N_KEYS];
	struct wsus_config *cfg = calloc(1, sizeof(*cfg));
	int rc;

	if (cfg == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = finish(cfg, none, data_dir, e);
	if (rc < 0) {
		config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

int config_load(const char *path, const char *data_dir, struct wsus_config **out, struct err *e)
{
	struct cfg_load ld;
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	ld.e = e;
	ld.cfg = calloc(1, sizeof(*ld.cfg));
	if (ld.cfg == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = wsus_read_file(path, CFG_MAX_FILE, &text, &len, e);
	if (rc < 0)
		goto fail;
	ld.text = text;
	ld.len = len;
	rc = parse_text(&ld);
	if (rc < 0)
		goto fail;
	rc = finish(ld.cfg, ld.line_of, data_dir, e);
	if (rc < 0)
		goto fail;
	rc = cross_check(&ld);
	if (rc < 0)
		goto fail;
	ld.cfg->cfg_path = strdup(path);
	if (ld.cfg->cfg_path == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = check_trust(&ld);
	if (rc < 0)
		goto fail;
	free(text);
	*out = ld.cfg;
	return 0;
fail:
	free(text);
	config_free(ld.cfg);
	return rc;
}

void config_dump(const struct wsus_config *cfg, FILE *f)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const void *p = field_ro(cfg, k);

		fprintf(f, "[%s] %s = ", k->section, k->key);
		switch (k->type) {
		case CT_BOOL:
			fputs(*(const int *)p ? "true" : "false", f);
			break;
		case CT_INT:
		case CT_DURATION:
			fprintf(f, "%d", *(const int *)p);
			break;
		case CT_SIZE:
			fprintf(f, "%" PRId64, *(const int64_t *)p);
			break;
		case CT_MODE:
			fputs(*(const enum wsus_mode *)p == WSUS_MODE_AUTONOMOUS ? "autonomous" : "replica", f);
			break;
		case CT_DOWNSTREAM:
			fputs(config_downstream_name(*(const int *)p), f);
			break;
		case CT_LEVEL:
			fputs(level_name(*(const int *)p), f);
			break;
		default:
			if (*(char *const *)p != NULL)
				fputs(*(char *const *)p, f);
			break;
		}
		fputc('\n', f);
	}
}

void config_free(struct wsus_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (type_is_string(cfg_keys[i].type))
			free(*field_str(cfg, &cfg_keys[i]));
	}
	free(cfg->cfg_path);
	explicit_bzero(cfg->srv_site_secret, sizeof(cfg->srv_site_secret));
	free(cfg);
}
