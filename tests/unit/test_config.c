/*
 * test_config.c -- loading, validating and printing the configuration.
 * Groups: 1 defaults and -d, 2 good files (values parsed and normalised),
 * 3 bad files (every error names file, line and key; nothing is returned),
 * 4 the shipped example file, 5 config_dump.
 * Files are written under a mkdtemp directory that the group teardown removes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define EXAMPLE WSUS_SOURCE_DIR "/config/wsus-replica.conf.example"

/* sha256("abc") and sha256(""), handy 64-digit fingerprints */
#define FP_ABC   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define FP_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char tmpdir[64];

/* Every name a test writes, so that teardown can remove them. */
static const char *const tmp_names[] = { "good.conf", "site.secret", "bad.conf", "example.conf", "dump.conf", "a-dir",
					 "pins", "pins-file", "var/pins", "var" };

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wsus-test-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char p[256];

	(void)state;
	for (size_t i = 0; i < sizeof(tmp_names) / sizeof(tmp_names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, tmp_names[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	return rmdir(tmpdir);
}

/* Write n bytes of text to tmpdir/name; path receives the full name. */
static void write_file(const char *name, const char *text, size_t n, char path[256])
{
	FILE *f;

	snprintf(path, 256, "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static int load_text(const char *name, const char *text, const char *data_dir,
		     struct wsus_config **cfg, struct err *e)
{
	char path[256];

	write_file(name, text, strlen(text), path);
	return config_load(path, data_dir, cfg, e);
}

/* The next '\n'-terminated line of *cur, cut in place; NULL at the end. */
static char *next_line(char **cur)
{
	char *line = *cur, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*cur = nl + 1;
	} else {
		*cur = line + strlen(line);
	}
	return line;
}

/* config_dump into a string (caller frees). */
static char *dump_str(const struct wsus_config *cfg)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	config_dump(cfg, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

static char *default_dump(void)
{
	struct wsus_config *cfg = NULL;
	struct err e = { 0 };
	char *s;

	assert_int_equal(config_default(NULL, &cfg, &e), 0);
	s = dump_str(cfg);
	config_free(cfg);
	return s;
}

/* Load text that must be good; fails the test with the loader's message otherwise. */
static struct wsus_config *load_good(const char *text, const char *data_dir)
{
	struct wsus_config *cfg = NULL;
	struct err e = { 0 };
	int rc = load_text("good.conf", text, data_dir, &cfg, &e);

	if (rc != 0)
		fail_msg("unexpected error %d: %s\n--- file:\n%s", rc, e.msg, text);
	assert_non_null(cfg);
	return cfg;
}

/* Load text that must fail; checks the message holds want and *out stays untouched. */
static void expect_error(const char *text, const char *want)
{
	struct wsus_config sentinel, *cfg = &sentinel;
	struct err e = { 0 };
	int rc = load_text("bad.conf", text, NULL, &cfg, &e);

	if (rc >= 0)
		fail_msg("loaded although it should fail with '%s':\n%s", want, text);
	assert_ptr_equal(cfg, &sentinel);
	assert_int_equal(e.code, rc);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error\n  '%s'\ndoes not contain\n  '%s'\n--- file:\n%s", e.msg, want, text);
}

/*---- 1. defaults and -d ----*/

/* 1.1 the embedded default has every documented value */
static void test_default_has_documented_values(void **state)
{
	struct wsus_config *c = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(config_default(NULL, &c, &e), 0);
	assert_string_equal(c->srv_listen, "127.0.0.1:8531");
	assert_null(c->srv_tls_cert);
	assert_null(c->srv_tls_key);
	assert_null(c->srv_content_http_listen);
	assert_null(c->srv_client_cert_allow);
	assert_null(c->srv_public_url);
	assert_int_equal(c->srv_threads, 0);
	assert_int_equal(c->srv_max_body, 16 * 1024 * 1024);
	assert_int_equal(c->srv_max_connections, 1024);
	assert_int_equal(c->srv_timeout, 60);
	assert_int_equal(c->srv_max_per_address, 128);
	assert_int_equal(c->srv_queue_per_worker, 256);
	assert_int_equal(c->srv_queue_wait_ms, 500);
	assert_int_equal(c->srv_retry_after, 30);
	assert_int_equal(c->srv_parse_budget_ms, 2000);
	assert_int_equal(c->srv_client_targeting, 1);
	assert_null(c->up_url);
	assert_int_equal(c->up_mode, WSUS_MODE_REPLICA);
	assert_null(c->up_ca_file);
	assert_int_equal(c->up_timeout, 120);
	assert_int_equal(c->up_retries, 3);
	assert_string_equal(c->tr_pin_store, "./var/pins");
	assert_int_equal(c->tr_enforce_pinning, 1);
	assert_null(c->tr_proxy);
	assert_int_equal(c->tr_allow_user_proxy_fallback, 0);
	assert_int_equal(c->tr_allow_http_content, 0);
	assert_string_equal(c->st_data_dir, "./var");
	assert_string_equal(c->st_content_dir, "./var/content");
	assert_int_equal(c->st_event_retention_days, 90);
	assert_int_equal(c->cl_max_computers, 200000);
	assert_int_equal(c->cl_computer_expiry_days, 30);
	assert_int_equal(c->cl_register_per_minute, 60);
	assert_true(c->cl_event_quota_day == 1024 * 1024);
	assert_true(c->cl_event_store_max == 4LL * 1024 * 1024 * 1024);
	assert_int_equal(c->sy_interval, 86400);
	assert_int_equal(c->sy_jitter, 600);
	assert_string_equal(c->sy_languages, "all");
	assert_null(c->sy_products);
	assert_null(c->sy_classifications);
	assert_int_equal(c->sy_content, 1);
	assert_int_equal(c->sy_lazy_content, 0);
	assert_int_equal(c->sy_batch, 0);
	assert_null(c->cfg_path);
	config_free(c);
	config_free(NULL);
}

/* 1.2 -d moves data_dir and the pin store and content store follow it */
static void test_default_data_dir_moves_derived_paths(void **state)
{
	struct wsus_config sentinel, *c = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(config_default("/srv/wsus/", &c, &e), 0);
	assert_string_equal(c->st_data_dir, "/srv/wsus/");
	assert_string_equal(c->tr_pin_store, "/srv/wsus/pins");
	assert_string_equal(c->st_content_dir, "/srv/wsus/content");
	config_free(c);

	c = &sentinel;
	assert_int_equal(config_default("", &c, &e), -EINVAL);
	assert_ptr_equal(c, &sentinel);
	assert_non_null(strstr(e.msg, "-d"));
}

/* 1.3 an empty file (and one with only comments) yields the defaults, and cfg_path */
static void test_empty_file_is_default(void **state)
{
	const char *texts[] = { "", "; nothing\n# here\n\n[server]\n[sync]\n" };
	char *want = default_dump();

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct wsus_config *c = load_good(texts[i], NULL);
		char *got = dump_str(c);

		assert_string_equal(got, want);
		assert_non_null(c->cfg_path);
		assert_non_null(strstr(c->cfg_path, "good.conf"));
		free(got);
		config_free(c);
	}
	free(want);
}

/*---- 2. good files ----*/

/* 2.1 each value form is accepted and shows up normalised in the effective config */
static void test_good_values_normalised(void **state)
{
	static const struct { const char *text, *line; } v[] = {
		{ "[sync]\ninterval = 2d\n", "[sync] interval = 172800\n" },
		{ "[sync]\nwindow = 1:30-5:00\n", "[sync] window = 01:30-05:00\n" },
		{ "[sync]\nwindow = 22:00-06:00\n", "[sync] window = 22:00-06:00\n" },
		{ "[sync]\nmax_download_rate = 2M\n", "[sync] max_download_rate = 2097152\n" },
		{ "[sync]\nprogress_interval = 1\n", "[sync] progress_interval = 1\n" },
		{ "[cleanup]\ncontent_grace_days = 0\n", "[cleanup] content_grace_days = 0\n" },
		{ "[sync]\ninterval = 6H\n", "[sync] interval = 21600\n" },
		{ "[sync]\ninterval = 90m\n", "[sync] interval = 5400\n" },
		{ "[sync]\ninterval = 3600\n", "[sync] interval = 3600\n" },
		{ "[sync]\njitter = 45s\n", "[sync] jitter = 45\n" },
		{ "[sync]\njitter = 0\n", "[sync] jitter = 0\n" },
		{ "[server]\ntimeout = 2m\n", "[server] timeout = 120\n" },
		{ "[upstream]\ntimeout = 1h\n", "[upstream] timeout = 3600\n" },
		{ "[server]\nmax_body = 64K\n", "[server] max_body = 65536\n" },
		{ "[server]\nmax_body = 1GiB\n", "[server] max_body = 1073741824\n" },
		{ "[server]\nmax_body = 32m\n", "[server] max_body = 33554432\n" },
		{ "[server]\nmax_body = 100000\n", "[server] max_body = 100000\n" },
		{ "[upstream]\nmode = Autonomous\n", "[upstream] mode = autonomous\n" },
		{ "[upstream]\nmode = replica\n", "[upstream] mode = replica\n" },
		{ "[upstream]\nurl = HTTPS://wsus.example.com:8531/\n",
		  "[upstream] url = HTTPS://wsus.example.com:8531/\n" },
		{ "[upstream]\nurl = https://[2001:db8::5]:8531\n", "[upstream] url = https://[2001:db8::5]:8531\n" },
		{ "[upstream]\nurl =\n", "[upstream] url = \n" },
		{ "[server]\nlisten = [::]:8531\n", "[server] listen = [::]:8531\n" },
		{ "[server]\nlisten = 0.0.0.0:443\n", "[server] listen = 0.0.0.0:443\n" },
		{ "[server]\ncontent_http_listen = 0.0.0.0:8530\n", "[server] content_http_listen = 0.0.0.0:8530\n" },
		{ "[server]\ncontent_http_listen = off\n", "[server] content_http_listen = \n" },
		{ "[server]\npublic_url = http://wsus.branch.example/\n",
		  "[server] public_url = http://wsus.branch.example/\n" },
		{ "[server]\ntls_cert = cert.pem\ntls_key = key.pem\n", "[server] tls_key = key.pem\n" },
		{ "[server]\nthreads = 4 ; four per box\n", "[server] threads = 4\n" },
		{ "[trust]\nproxy = http://proxy.corp:3128\n", "[trust] proxy = http://proxy.corp:3128\n" },
		{ "[trust]\nproxy = HTTPS://[fd00::1]:8443/\n", "[trust] proxy = HTTPS://[fd00::1]:8443/\n" },
		{ "[trust]\nproxy = proxy.corp:3128\n", "[trust] proxy = proxy.corp:3128\n" },
		{ "[trust]\npin_store = pins-local\nenforce_pinning = false\n", "[trust] pin_store = pins-local\n" },
		{ "[sync]\nproducts = {0FA1201D-4330-4FA8-8AE9-B877473B6441} , 28bc880e-0592-4cbf-8f95-c79b17911d5f\n",
		  "[sync] products = 0fa1201d-4330-4fa8-8ae9-b877473b6441,28bc880e-0592-4cbf-8f95-c79b17911d5f\n" },
		{ "[sync]\nlanguages = EN, de-DE,zh-cn\n", "[sync] languages = en,de-de,zh-cn\n" },
		{ "[sync]\nlanguages = ALL\n", "[sync] languages = all\n" },
		{ "[sync]\nbatch = 10000\n", "[sync] batch = 10000\n" },
		{ "[storage]\nevent_retention_days = 3650\n", "[storage] event_retention_days = 3650\n" },
		{ "[server]\nclient_cert_allow = " FP_ABC "\n", "[server] client_cert_allow = " FP_ABC "\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct wsus_config *c = load_good(v[i].text, NULL);
		char *got = dump_str(c);

		if (strstr(got, v[i].line) == NULL)
			fail_msg("for\n%sexpected line\n%sin\n%s", v[i].text, v[i].line, got);
		free(got);
		config_free(c);
	}
}

/* 2.2 every boolean spelling, in any case */
static void test_good_bool_spellings(void **state)
{
	static const struct { const char *word; int value; } v[] = {
		{ "true", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "On", 1 }, { "1", 1 },
		{ "false", 0 }, { "False", 0 }, { "no", 0 }, { "OFF", 0 }, { "0", 0 },
	};
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct wsus_config *c;

		/* the opposite of the default, for both defaults, so a no-op cannot pass */
		snprintf(text, sizeof(text), "[trust]\nallow_http_content = %s\nenforce_pinning = %s\n",
			 v[i].word, v[i].word);
		c = load_good(text, NULL);
		assert_int_equal(c->tr_allow_http_content, v[i].value);
		assert_int_equal(c->tr_enforce_pinning, v[i].value);
		config_free(c);
	}
}

/* 2.3 fields land in the struct: IPv6 listen, mode, durations, size, url */
static void test_good_fields_set(void **state)
{
	struct wsus_config *c;

	(void)state;
	c = load_good("[server]\nlisten = [::1]:8531\nmax_body = 1G\nthreads = 8\n"
		      "[upstream]\nurl = https://up.example:8531\nmode = autonomous\nretries = 0\n"
		      "[sync]\ninterval = 6h\njitter = 1d\ncontent = no\nlazy_content = yes\n", NULL);
	assert_string_equal(c->srv_listen, "[::1]:8531");
	assert_int_equal(c->srv_max_body, 1024 * 1024 * 1024);
	assert_int_equal(c->srv_threads, 8);
	assert_string_equal(c->up_url, "https://up.example:8531");
	assert_int_equal(c->up_mode, WSUS_MODE_AUTONOMOUS);
	assert_int_equal(c->up_retries, 0);
	assert_int_equal(c->sy_interval, 6 * 3600);
	assert_int_equal(c->sy_jitter, 86400);
	assert_int_equal(c->sy_content, 0);
	assert_int_equal(c->sy_lazy_content, 1);
	config_free(c);
}

/* 2.4 fingerprints: colons dropped, lower-cased, blanks around commas ignored */
static void test_good_fingerprints_normalised(void **state)
{
	char colon_form[3 * 32], text[512];
	struct wsus_config *c;

	(void)state;
	for (size_t i = 0; i < 32; i++) {
		colon_form[3 * i] = (char)(FP_ABC[2 * i] >= 'a' ? FP_ABC[2 * i] - 32 : FP_ABC[2 * i]);
		colon_form[3 * i + 1] = (char)(FP_ABC[2 * i + 1] >= 'a' ? FP_ABC[2 * i + 1] - 32 : FP_ABC[2 * i + 1]);
		colon_form[3 * i + 2] = i < 31 ? ':' : '\0';
	}
	snprintf(text, sizeof(text), "[server]\nclient_cert_allow = %s , " FP_EMPTY "\n", colon_form);
	c = load_good(text, NULL);
	assert_string_equal(c->srv_client_cert_allow, FP_ABC "," FP_EMPTY);
	config_free(c);
}

/* 2.5 -d beats [storage] data_dir; derived defaults follow, explicit paths stay */
static void test_good_data_dir_override(void **state)
{
	const char *text = "[storage]\ndata_dir = /srv/a\ncontent_dir = /mnt/content\n";
	struct wsus_config *c;

	(void)state;
	c = load_good(text, NULL);
	assert_string_equal(c->st_data_dir, "/srv/a");
	assert_string_equal(c->tr_pin_store, "/srv/a/pins");
	assert_string_equal(c->st_content_dir, "/mnt/content");
	config_free(c);

	c = load_good(text, "/tmp/d");
	assert_string_equal(c->st_data_dir, "/tmp/d");
	assert_string_equal(c->tr_pin_store, "/tmp/d/pins");
	assert_string_equal(c->st_content_dir, "/mnt/content");
	config_free(c);

	c = load_good("[trust]\npin_store = my-pins\nenforce_pinning = no\n", "/tmp/d");
	assert_string_equal(c->tr_pin_store, "my-pins");
	assert_string_equal(c->st_content_dir, "/tmp/d/content");
	config_free(c);
}

/* 2.6 BOM, CRLF, indentation and comments neither break parsing nor shift line numbers */
static void test_good_layout_and_line_numbers(void **state)
{
	const char *text = "\xEF\xBB\xBF; head\r\n[server]\r\n    threads = 3\r\n\t# note\r\n"
			   "  max_connections = 10   ; inline\r\n[sync]\r\nbatch = 7\r\n";
	struct wsus_config *c;

	(void)state;
	c = load_good(text, NULL);
	assert_int_equal(c->srv_threads, 3);
	assert_int_equal(c->srv_max_connections, 10);
	assert_int_equal(c->sy_batch, 7);
	config_free(c);
	expect_error("\xEF\xBB\xBF[server]\r\n  threads = 1\r\n; x\r\n\tmax_connections = 0\r\n",
		     "bad.conf:4: [server] max_connections: 0 is out of range (1..65536)");
}

/* 2.7 long lines: comments of any length are fine; values up to the line limit
 * load where inih can grow its buffer; beyond that the line is refused by number */
static void test_long_lines(void **state)
{
	char *text = malloc(8192), fp_colon[96], *p;
	struct wsus_config *c;
	size_t n;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < 32; i++)
		snprintf(fp_colon + 3 * i, 4, "%c%c%s", FP_ABC[2 * i], FP_ABC[2 * i + 1], i < 31 ? ":" : "");
	/* line 1: a 5000-character comment; line 3: four fingerprints (about 400 characters) */
	memset(text, 0, 8192);
	text[0] = '#';
	memset(text + 1, 'c', 4999);
	p = text + 5000;
	n = (size_t)snprintf(p, 8192 - 5000, "\n[server]\nclient_cert_allow = %s,%s,%s,%s\n",
			     fp_colon, FP_EMPTY, fp_colon, FP_EMPTY);
	assert_true(n < 8192 - 5000);
#ifdef WSUS_INIH_RUNTIME_OPTIONS
	c = load_good(text, NULL);
	assert_string_equal(c->srv_client_cert_allow, FP_ABC "," FP_EMPTY "," FP_ABC "," FP_EMPTY);
	config_free(c);
#else
	(void)c;
	expect_error(text, "bad.conf:3: line longer than");
#endif
	/* a value line beyond WSUS_MAX_CONFIG_LINE is refused with its number */
	snprintf(text, 8192, "[server]\nthreads = 1\npublic_url = https://x/");
	n = strlen(text);
	memset(text + n, 'a', 5000);
	text[n + 5000] = '\0';
	expect_error(text, "bad.conf:3: line longer than");
	free(text);
}

/*---- 3. bad files ----*/

/* 3.1 every kind of mistake is refused with file, line, key and the problem */
static void test_bad_files_named_precisely(void **state)
{
	static const struct { const char *text, *want; } v[] = {
		/* structure */
		{ "[bogus]\nkey = 1\n", "bad.conf:1: unknown section \"bogus\"" },
		{ "[server]\n[Server]\n", "bad.conf:2: unknown section \"Server\"" },
		{ "[server]\nthreads = 1\n[storage]\nnonsense = 1\n", "bad.conf:4: [storage] nonsense: unknown key" },
		{ "[server]\nthreads = 2\n\n[sync]\ncontent = true\n[server]\nthreads = 3\n",
		  "bad.conf:7: [server] threads: duplicate key (first set on line 2)" },
		{ "[server]\n  threads = 1\n\tthreads = 2\n",
		  "bad.conf:3: [server] threads: duplicate key (first set on line 2)" },
		{ "threads = 4\n", "bad.conf:1: threads: key outside any [section]" },
		{ "[server]\nlisten = 127.0.0.1:8531\nthis line has no equals sign\n",
		  "bad.conf:3: syntax error: expected \"key = value\" or \"[section]\", got \"this line has no equals sign\"" },
		{ "[server\nthreads = 1\n", "bad.conf:1: syntax error" },
		/* the first error in the file is the one reported */
		{ "[server]\nthreads = 1\nbroken\n[sync]\nbatch = -1\n", "bad.conf:3: syntax error" },
		{ "[sync]\nbatch = -1\n[server]\nbroken\n", "bad.conf:2: [sync] batch: -1 is out of range (0..10000)" },
		/* booleans, numbers, durations, sizes, enums */
		{ "; comment\n[trust]\n\nenforce_pinning = maybe\n",
		  "bad.conf:4: [trust] enforce_pinning: expected true or false (or yes/no, on/off, 1/0), got \"maybe\"" },
		{ "[server]\nthreads = 5000\n", "bad.conf:2: [server] threads: 5000 is out of range (0..1024)" },
		{ "[server]\nthreads = 4.5\n", "bad.conf:2: [server] threads: expected an integer, got \"4.5\"" },
		{ "[server]\nthreads = four\n", "bad.conf:2: [server] threads: expected a number, got \"four\"" },
		{ "[server]\nthreads = 99999999999999999999\n", "bad.conf:2: [server] threads: \"99999999999999999999\" is too large" },
		{ "[server]\nthreads =\n", "bad.conf:2: [server] threads: a value is required" },
		{ "[server]\nmax_body = 1K\n",
		  "bad.conf:2: [server] max_body: 1024 bytes is out of range (65536..1073741824 bytes)" },
		{ "[server]\nmax_body = 2G\n", "bad.conf:2: [server] max_body: 2147483648 bytes is out of range" },
		{ "[server]\nmax_body = 16MB\n", "bad.conf:2: [server] max_body: expected bytes with an optional K, M or G suffix" },
		{ "[sync]\nbatch = 10001\n", "bad.conf:2: [sync] batch: 10001 is out of range (0..10000)" },
		{ "[sync]\ninterval = 5s\n", "bad.conf:2: [sync] interval: 5 seconds is out of range (10..2592000 seconds)" },
		{ "[sync]\ninterval = 5x\n", "bad.conf:2: [sync] interval: expected seconds with an optional s, m, h or d suffix" },
		{ "[sync]\ninterval = 1dd\n", "bad.conf:2: [sync] interval: expected seconds" },
		{ "[sync]\ninterval = 99999999999999999d\n", "bad.conf:2: [sync] interval: \"99999999999999999d\" is out of range" },
		{ "[upstream]\nmode = mirror\n", "bad.conf:2: [upstream] mode: expected replica or autonomous, got \"mirror\"" },
		{ "[storage]\ndata_dir =\n", "bad.conf:2: [storage] data_dir: a value is required" },
		/* the upstream is HTTPS only */
		{ "[upstream]\nurl = http://wsus.example.com:8530\n",
		  "bad.conf:2: [upstream] url: \"http://wsus.example.com:8530\" is not an https:// URL: "
		  "update metadata is only fetched over HTTPS" },
		{ "[upstream]\nurl = HTTP://wsus.example.com\n", "bad.conf:2: [upstream] url: \"HTTP://wsus.example.com\" is not an https:// URL" },
		{ "[upstream]\nurl = wsus.example.com:8531\n", "bad.conf:2: [upstream] url: \"wsus.example.com:8531\" is not an https:// URL" },
		{ "[upstream]\nurl = https://\n", "bad.conf:2: [upstream] url: \"https://\": no valid host name or address" },
		{ "[upstream]\nurl = https://user:pw@wsus.example.com/\n",
		  "bad.conf:2: [upstream] url: \"https://user:pw@wsus.example.com/\": user names and passwords are not accepted" },
		{ "[upstream]\nurl = https://wsus.example.com:0/\n", "bad.conf:2: [upstream] url: \"https://wsus.example.com:0/\": the port must be 1..65535" },
		{ "[server]\npublic_url = ftp://x/\n", "bad.conf:2: [server] public_url: expected an http:// or https:// URL" },
		/* listen addresses */
		{ "[server]\nlisten = 127.0.0.1\n", "bad.conf:2: [server] listen: expected ADDR:PORT" },
		{ "[server]\nlisten = 127.0.0.1:65536\n", "bad.conf:2: [server] listen: expected ADDR:PORT" },
		{ "[server]\nlisten = 127.0.0.1:\n", "bad.conf:2: [server] listen: expected ADDR:PORT" },
		{ "[server]\nlisten = localhost:8531\n", "bad.conf:2: [server] listen: expected ADDR:PORT" },
		{ "[server]\nlisten = ::1:8531\n", "bad.conf:2: [server] listen: an IPv6 address goes in brackets" },
		{ "[server]\nlisten = [::1]:0\n", "bad.conf:2: [server] listen: expected [IPv6]:PORT with PORT 1..65535" },
		{ "[server]\nlisten = [::1]8531\n", "bad.conf:2: [server] listen: expected [IPv6]:PORT" },
		{ "[server]\ncontent_http_listen = 8530\n", "bad.conf:2: [server] content_http_listen: expected ADDR:PORT" },
		/* TLS pair and fingerprints */
		{ "[server]\nthreads = 2\ntls_cert = /etc/wsus/cert.pem\n",
		  "bad.conf:3: [server] tls_cert: set without tls_key (give both or neither)" },
		{ "[server]\ntls_key = /etc/wsus/key.pem\n", "bad.conf:2: [server] tls_key: set without tls_cert" },
		{ "[server]\nclient_cert_allow = abcd\n",
		  "bad.conf:2: [server] client_cert_allow: entry 1 \"abcd\" is not a SHA-256 fingerprint" },
		{ "[server]\nclient_cert_allow = " FP_ABC ",," FP_EMPTY "\n",
		  "bad.conf:2: [server] client_cert_allow: entry 2 is empty" },
		{ "[server]\nclient_cert_allow = " FP_ABC "0\n", "bad.conf:2: [server] client_cert_allow: entry 1" },
		{ "[server]\nclient_cert_allow = b:a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
		  "bad.conf:2: [server] client_cert_allow: entry 1" },
		{ "[server]\nclient_cert_allow = ba::7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
		  "bad.conf:2: [server] client_cert_allow: entry 1" },
		{ "[server]\nclient_cert_allow = " FP_ABC ":\n", "bad.conf:2: [server] client_cert_allow: entry 1" },
		/* proxy, lists */
		{ "[trust]\nproxy = socks5://proxy:1080\n",
		  "bad.conf:2: [trust] proxy: expected http://HOST[:PORT], https://HOST[:PORT] or HOST:PORT, got \"socks5://proxy:1080\"" },
		{ "[trust]\nproxy = proxy.corp\n", "bad.conf:2: [trust] proxy: \"proxy.corp\": a port is required" },
		{ "[trust]\nproxy = [fd00::1]x\n", "bad.conf:2: [trust] proxy: \"[fd00::1]x\": expected :PORT after the host" },
		{ "[trust]\nproxy = http://proxy.corp:3128/path\n", "bad.conf:2: [trust] proxy: expected http://HOST[:PORT]" },
		{ "[trust]\nproxy = http://me:secret@proxy.corp:3128\n", "bad.conf:2: [trust] proxy: \"http://me:secret@proxy.corp:3128\": user names and passwords" },
		{ "[sync]\nproducts = not-a-guid\n", "bad.conf:2: [sync] products: entry 1 \"not-a-guid\" is not a GUID" },
		{ "[sync]\nlanguages = en, all\n", "bad.conf:2: [sync] languages: entry 2 \"all\" cannot be combined with other languages" },
		{ "[sync]\nlanguages = en_US\n", "bad.conf:2: [sync] languages: entry 1 \"en_US\" is not a language tag" },
		{ "[sync]\nwindow = 25:00-06:00\n", "bad.conf:2: [sync] window: expected HH:MM-HH:MM" },
		{ "[sync]\nwindow = 06:00-06:00\n", "bad.conf:2: [sync] window: expected HH:MM-HH:MM with two different times" },
		{ "[sync]\nwindow = 06:00 - 07:00\n", "bad.conf:2: [sync] window: expected HH:MM-HH:MM" },
		{ "[sync]\nmax_download_rate = -1\n", "bad.conf:2: [sync] max_download_rate: -1 bytes is out of range" },
		{ "[sync]\nprogress_interval = 0\n", "bad.conf:2: [sync] progress_interval: 0 seconds is out of range" },
		{ "[cleanup]\ncontent_grace_days = 4000\n", "bad.conf:2: [cleanup] content_grace_days: 4000 is out of range" },
		{ "[cleanup]\ndecline_unneeded = maybe\n", "bad.conf:2: [cleanup] decline_unneeded:" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		expect_error(v[i].text, v[i].want);
}

/* 3.2 a missing file, a directory and a file with a NUL byte are refused by name */
static void test_bad_unreadable_files(void **state)
{
	struct wsus_config sentinel, *c = &sentinel;
	struct err e = { 0 };
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/no-such.conf", tmpdir);
	assert_int_equal(config_load(path, NULL, &c, &e), -ENOENT);
	assert_ptr_equal(c, &sentinel);
	assert_non_null(strstr(e.msg, path));

	snprintf(path, sizeof(path), "%s/a-dir", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(config_load(path, NULL, &c, &e) < 0);
	assert_ptr_equal(c, &sentinel);
	assert_non_null(strstr(e.msg, path));

	write_file("bad.conf", "[server]\nthreads = 1\0\n", 22, path);
	assert_int_equal(config_load(path, NULL, &c, &e), -EINVAL);
	assert_ptr_equal(c, &sentinel);
	assert_non_null(strstr(e.msg, "bad.conf:2: the file contains a NUL byte"));
}

/*---- 4. the example file ----*/


/* 2.9 fail closed: with enforce_pinning, a pin_store the file names must be a
 * readable directory (error FILE:LINE: [trust] pin_store); the default one may
 * be absent (a fresh install's empty store); the check holds again later */
static void test_pin_store_fail_closed(void **state)
{
	char text[512], dir[256], file[256], want[512];
	struct wsus_config *c;
	struct err e = { 0 };

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pins", tmpdir);
	snprintf(text, sizeof(text), "[upstream]\nurl = https://up.example\n[trust]\n\npin_store = %s\n", dir);
	snprintf(want, sizeof(want), "bad.conf:5: [trust] pin_store: %s does not exist", dir);
	expect_error(text, want);
	/* enforce_pinning = false: the store is advisory, nothing is checked */
	snprintf(text, sizeof(text), "[trust]\npin_store = %s\nenforce_pinning = false\n", dir);
	c = load_good(text, NULL);
	assert_int_equal(config_check_pin_store(c, &e), 0);
	config_free(c);
	/* a file where the directory should be */
	write_file("pins-file", "x", 1, file);
	snprintf(text, sizeof(text), "[trust]\npin_store = %s\n", file);
	snprintf(want, sizeof(want), "bad.conf:2: [trust] pin_store: %s is not a directory", file);
	expect_error(text, want);
	/* the default store, absent: loads; present as a file: refused */
	snprintf(text, sizeof(text), "[storage]\ndata_dir = %s/nowhere\n", tmpdir);
	c = load_good(text, NULL);
	assert_int_equal(c->tr_pin_store_line, 0);
	config_free(c);
	snprintf(text, sizeof(text), "[storage]\ndata_dir = %s\n", tmpdir);
	assert_int_equal(rename(file, dir), 0);
	expect_error(text, "bad.conf: [trust] pin_store (default): ");
	assert_int_equal(unlink(dir), 0);
	/* loaded while the directory existed, checked again after it went */
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(text, sizeof(text), "[trust]\npin_store = %s\n", dir);
	c = load_good(text, NULL);
	assert_int_equal(c->tr_pin_store_line, 2);
	assert_int_equal(config_check_pin_store(c, &e), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(config_check_pin_store(c, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "good.conf:2: [trust] pin_store: "));
	assert_non_null(strstr(e.msg, "set enforce_pinning = false"));
	config_free(c);
}

/* 2.10 [server] shared_secret_file: 64 hex digits (whitespace around them
 * ignored) in a file only its owner may read or write; anything else is an
 * error FILE:LINE: [server] shared_secret_file naming why; the same secret
 * gives every front end the same ServerID and cookie key */
static void test_shared_secret_file(void **state)
{
	char text[512], file[256], id1[WSUS_GUID_LEN], id2[WSUS_GUID_LEN];
	uint8_t k1[32], k2[32];
	struct wsus_config *c;

	(void)state;
	write_file("site.secret", "\n" FP_ABC "\n", 66, file);
	chmod(file, 0600);
	snprintf(text, sizeof(text), "[server]\n\nshared_secret_file = %s\n", file);
	c = load_good(text, NULL);
	assert_int_equal(c->srv_site, 1);
	assert_int_equal(c->srv_site_secret[0], 0xba);
	assert_int_equal(c->srv_site_secret[31], 0xad);
	wsus_site_server_id(c->srv_site_secret, id1);
	wsus_site_server_id(c->srv_site_secret, id2);
	assert_string_equal(id1, id2);
	assert_int_equal(id1[14], '4');           /* version 4 shape */
	wsus_site_key(c->srv_site_secret, "cookie", k1);
	wsus_site_key(c->srv_site_secret, "server id", k2);
	assert_memory_not_equal(k1, k2, 32);
	config_free(c);
	/* the default: no site */
	c = load_good("[server]\n", NULL);
	assert_int_equal(c->srv_site, 0);
	config_free(c);
	/* readable by the group */
	chmod(file, 0640);
	expect_error(text, "bad.conf:3: [server] shared_secret_file: ");
	expect_error(text, "mode 0640 lets group or others at it (chmod 600 it)");
	/* not 64 hex digits */
	write_file("site.secret", FP_ABC "00", 66, file);
	chmod(file, 0600);
	expect_error(text, "must hold 64 hex digits and nothing else");
	write_file("site.secret", "not hex", 7, file);
	chmod(file, 0600);
	expect_error(text, "must hold 64 hex digits and nothing else");
	/* missing */
	snprintf(text, sizeof(text), "[server]\nshared_secret_file = %s/none\n", tmpdir);
	expect_error(text, "bad.conf:2: [server] shared_secret_file: ");
}

/* 4.1 the example as shipped loads and gives exactly the defaults */
static void test_example_loads_as_defaults(void **state)
{
	struct wsus_config *c = NULL;
	struct err e = { 0 };
	char *want = default_dump(), *got;

	(void)state;
	if (config_load(EXAMPLE, NULL, &c, &e) != 0)
		fail_msg("%s", e.msg);
	got = dump_str(c);
	assert_string_equal(got, want);
	free(got);
	free(want);
	config_free(c);
}

/* 4.2 uncommenting every "#key = value" line still gives the defaults: the
 * documented defaults are the real ones */
static void test_example_documented_defaults_are_real(void **state)
{
	struct wsus_config *c;
	char *text = NULL, *want = default_dump(), *got, cwd[4096];
	size_t len = 0, o = 0;
	int uncommented = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(wsus_read_file(EXAMPLE, 1 << 20, &text, &len, &e), 0);
	for (size_t i = 0; i < len; i++) {
		bool line_start = i == 0 || text[i - 1] == '\n';

		if (line_start && text[i] == '#' && i + 1 < len && text[i + 1] >= 'a' && text[i + 1] <= 'z') {
			uncommented++;
			continue;
		}
		text[o++] = text[i];
	}
	text[o] = '\0';
	assert_true(uncommented > 0);
	/* pin_store = ./var/pins, now written in the file, must exist (fail closed) */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(mkdir("var", 0755), 0);
	assert_int_equal(mkdir("var/pins", 0755), 0);
	c = load_good(text, NULL);
	assert_int_equal(chdir(cwd), 0);
	got = dump_str(c);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(text);
	config_free(c);
}

/* 4.3 the example documents exactly the keys the loader knows, each in its section */
static void test_example_documents_every_key(void **state)
{
	char *text = NULL, *dump = default_dump(), *line, *save = NULL;
	size_t len = 0, keys = 0, documented = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(wsus_read_file(EXAMPLE, 1 << 20, &text, &len, &e), 0);
	/* count the example's "#key =" lines */
	for (size_t i = 0; i < len; i++) {
		if ((i == 0 || text[i - 1] == '\n') && text[i] == '#' && text[i + 1] >= 'a' && text[i + 1] <= 'z')
			documented++;
	}
	save = dump;
	for (line = next_line(&save); line != NULL; line = next_line(&save)) {
		char section[32], key[64], head[40], want[80];
		const char *sec_at, *next_sec, *hit;

		assert_int_equal(sscanf(line, "[%31[^]]] %63s =", section, key), 2);
		keys++;
		snprintf(head, sizeof(head), "\n[%s]\n", section);
		sec_at = strstr(text, head);
		if (sec_at == NULL)
			fail_msg("the example has no [%s] section", section);
		next_sec = strstr(sec_at + 1, "\n[");
		snprintf(want, sizeof(want), "\n#%s = ", key);
		hit = strstr(sec_at, want);
		if (hit == NULL || (next_sec != NULL && hit > next_sec)) {
			snprintf(want, sizeof(want), "\n#%s =\n", key);
			hit = strstr(sec_at, want);
		}
		if (hit == NULL || (next_sec != NULL && hit > next_sec))
			fail_msg("[%s] %s is not documented in the example's [%s] section", section, key, section);
	}
	assert_int_equal(documented, keys);
	free(dump);
	free(text);
}

/*---- 5. config_dump ----*/

/* 5.1 one "[section] key = value" line per key, each section in one block */
static void test_dump_one_line_per_key_grouped(void **state)
{
	char *dump = default_dump(), *line, *save = NULL;
	char seen[9][32], prev[32] = "";
	size_t n_seen = 0, lines = 0;

	(void)state;
	assert_non_null(strstr(dump, "[server] listen = 127.0.0.1:8531\n"));
	assert_non_null(strstr(dump, "[sync] interval = 86400\n"));
	assert_non_null(strstr(dump, "[server] tls_cert = \n"));
	assert_non_null(strstr(dump, "[trust] enforce_pinning = true\n"));
	assert_non_null(strstr(dump, "[admin] listen = 127.0.0.1:8532\n"));
	assert_non_null(strstr(dump, "[log] level = info\n"));
	save = dump;
	for (line = next_line(&save); line != NULL; line = next_line(&save)) {
		char section[32], key[64];

		lines++;
		assert_int_equal(sscanf(line, "[%31[^]]] %63s =", section, key), 2);
		if (strcmp(section, prev) == 0)
			continue;
		for (size_t i = 0; i < n_seen; i++) {
			if (strcmp(seen[i], section) == 0)
				fail_msg("section [%s] appears in two blocks", section);
		}
		assert_true(n_seen < 9);
		snprintf(seen[n_seen++], 32, "%s", section);
		snprintf(prev, sizeof(prev), "%s", section);
	}
	assert_int_equal(n_seen, 9);
	assert_true(lines >= 30);
	free(dump);
}

/* 5.2 a dump turned back into a file loads to the same configuration */
static void test_dump_round_trips(void **state)
{
	struct wsus_config *a, *b;
	struct wsus_buf ini;
	char *d1, *d2, *line, *save = NULL, *copy, prev[32] = "";

	(void)state;
	a = load_good("[server]\nlisten = [::]:9000\ntls_cert = c.pem\ntls_key = k.pem\nmax_body = 2M\n"
		      "client_cert_allow = " FP_ABC "\n[upstream]\nurl = https://up:8531\nmode = autonomous\n"
		      "[trust]\nproxy = proxy:3128\nenforce_pinning = off\n[sync]\ninterval = 1h\n"
		      "languages = de,fr\n", "/var/lib/wsus");
	d1 = dump_str(a);
	copy = strdup(d1);
	assert_non_null(copy);
	wsus_buf_init(&ini, 1 << 16);
	save = copy;
	for (line = next_line(&save); line != NULL; line = next_line(&save)) {
		char section[32];
		const char *rest = strchr(line, ']');

		assert_int_equal(sscanf(line, "[%31[^]]]", section), 1);
		if (strcmp(section, prev) != 0) {
			assert_int_equal(wsus_buf_printf(&ini, "[%s]\n", section), 0);
			snprintf(prev, sizeof(prev), "%s", section);
		}
		assert_int_equal(wsus_buf_printf(&ini, "%s\n", rest + 2), 0);
	}
	b = load_good(ini.data, NULL);
	d2 = dump_str(b);
	assert_string_equal(d1, d2);
	assert_string_equal(b->st_data_dir, "/var/lib/wsus");
	wsus_buf_free(&ini);
	free(copy);
	free(d1);
	free(d2);
	config_free(a);
	config_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_has_documented_values),
		cmocka_unit_test(test_default_data_dir_moves_derived_paths),
		cmocka_unit_test(test_empty_file_is_default),
		cmocka_unit_test(test_good_values_normalised),
		cmocka_unit_test(test_good_bool_spellings),
		cmocka_unit_test(test_good_fields_set),
		cmocka_unit_test(test_good_fingerprints_normalised),
		cmocka_unit_test(test_good_data_dir_override),
		cmocka_unit_test(test_good_layout_and_line_numbers),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_bad_files_named_precisely),
		cmocka_unit_test(test_bad_unreadable_files),
		cmocka_unit_test(test_pin_store_fail_closed),
		cmocka_unit_test(test_shared_secret_file),
		cmocka_unit_test(test_example_loads_as_defaults),
		cmocka_unit_test(test_example_documented_defaults_are_real),
		cmocka_unit_test(test_example_documents_every_key),
		cmocka_unit_test(test_dump_one_line_per_key_grouped),
		cmocka_unit_test(test_dump_round_trips),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
