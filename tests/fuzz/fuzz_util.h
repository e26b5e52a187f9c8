/*
 * fuzz_util.h -- what the libFuzzer targets of tests/fuzz share: a scratch
 * directory on tmpfs (/dev/shm when it exists) removed at exit, a quiet log
 * (the targets provoke a fault or a warning per input; FUZZ_VERBOSE=1 keeps
 * the log), and a NUL-terminated copy of the input. Header-only (static
 * functions): each target is one translation unit linked with libFuzzer.
 */
#ifndef WSUS_FUZZ_UTIL_H
#define WSUS_FUZZ_UTIL_H

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* A fuzz target failing its own set-up or a stated property: stop loudly
 * (libFuzzer reports the abort with the input that caused it). */
#define FUZZ_CHECK(cond, ...)                                                         \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, \
				__LINE__, #cond);                                     \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
			abort();                                                      \
		}                                                                     \
	} while (0)

static char fuzz_dir[256];

static inline int fuzz_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static inline void fuzz_dir_remove(void)
{
	if (fuzz_dir[0] != '\0')
		nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fuzz_dir[0] = '\0';
}

/* Create the scratch directory once (tmpfs when there is one) and return it. */
static inline const char *fuzz_scratch(const char *name)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (fuzz_dir[0] != '\0')
		return fuzz_dir;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/wsus-fuzz-%s-XXXXXX", base, name);
	FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL, "mkdtemp %s", fuzz_dir);
	atexit(fuzz_dir_remove);
	return fuzz_dir;
}

static inline void fuzz_quiet_log(void)
{
	const char *v = getenv("FUZZ_VERBOSE");

	if (v != NULL && v[0] == '1')
		return;
	log_set_verbosity(LOG_ERR);
	log_set_stream(fopen("/dev/null", "w"));
}

/* A NUL-terminated copy of the input (caller frees). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL, "out of memory");
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif /* WSUS_FUZZ_UTIL_H */
