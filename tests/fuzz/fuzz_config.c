/*
 * fuzz_config.c -- libFuzzer target of the config loader (config_load):
 * the input is written as the configuration file on tmpfs and loaded.
 * Checked: a refused file names itself in the error (FILE:LINE: ...); an
 * accepted one dumps (config_dump, "[section] key = value" lines), and that
 * dump written back as an INI file loads to the same dump.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"

static char conf_path[400], dump_path[400], data_dir[400];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir;

	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	dir = fuzz_scratch("config");
	snprintf(conf_path, sizeof(conf_path), "%s/wsus-replica.conf", dir);
	snprintf(dump_path, sizeof(dump_path), "%s/dump.conf", dir);
	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	return 0;
}

static char *dump(const struct wsus_config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	FUZZ_CHECK(f != NULL, "open_memstream");
	config_dump(cfg, f);
	fclose(f);
	return text;
}

/* "[s] k = v" lines as an INI file: a section header before each key. */
static char *dump_as_ini(const char *text, size_t len, size_t *out_len)
{
	struct wsus_buf b;
	const char *p = text, *end = text + len;

	wsus_buf_init(&b, 4 * len + 64);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *close = memchr(p, ']', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		FUZZ_CHECK(p[0] == '[' && close != NULL && close < p + n, "dump line %.*s", (int)n, p);
		FUZZ_CHECK(wsus_buf_append(&b, p, (size_t)(close - p) + 1) == 0 &&
			   wsus_buf_appends(&b, "\n") == 0 &&
			   wsus_buf_append(&b, close + 2, n - (size_t)(close + 2 - p)) == 0 &&
			   wsus_buf_appends(&b, "\n") == 0, "dump too long");
		p += n + 1;
	}
	return wsus_buf_steal(&b, out_len);
}

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	FUZZ_CHECK(f != NULL, "cannot write %s", path);
	FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size, "short write");
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsus_config *cfg = NULL, *again = NULL;
	struct err e = { 0 };
	char *text, *text2, *ini;
	size_t len, len2, ini_len;

	write_file(conf_path, data, size);
	if (config_load(conf_path, data_dir, &cfg, &e) < 0) {
		FUZZ_CHECK(cfg == NULL, "output set on error");
		FUZZ_CHECK(strstr(e.msg, conf_path) != NULL, "error does not name the file: %s", e.msg);
		return 0;
	}
	text = dump(cfg, &len);
	ini = dump_as_ini(text, len, &ini_len);
	write_file(dump_path, ini, ini_len);
	free(ini);
	if (config_load(dump_path, data_dir, &again, &e) == 0) {
		text2 = dump(again, &len2);
		FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0, "dump does not load back the same");
		free(text2);
		config_free(again);
	}
	free(text);
	config_free(cfg);
	return 0;
}
