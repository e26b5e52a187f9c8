/*
 * config_trust.c -- fail closed on trust settings (DESIGN.md trust 8): a pin
 * store that cannot be honoured while pinning is enforced is an error, never
 * an empty store.
 *
 * The check runs at config load and again where a sync, `pin check` or
 * `serve` is about to rely on the store (the directory may have gone since
 * the file was read). What an admin expects:
 *  - pin_store written in the file: it must exist, be a directory and be
 *    readable; a missing one is a typo, not "no pins".
 *  - pin_store left at its default (DATADIR/pins, with or without -c): a
 *    missing directory is the empty store of a fresh install (pinning not
 *    enforced, and every sync says so); if it exists it must be a readable
 *    directory.
 * With enforce_pinning = false nothing is checked here: the store is then
 * advisory and every verdict is still logged.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"

/* Where the setting came from, for the message: "FILE:LINE: [trust] pin_store"
 * or "FILE: [trust] pin_store (default)" or "[trust] pin_store (default)". */
static void where(const struct wsus_config *cfg, char *out, size_t cap)
{
	if (cfg->cfg_path != NULL && cfg->tr_pin_store_line > 0)
		snprintf(out, cap, "%s:%d: [trust] pin_store", cfg->cfg_path, cfg->tr_pin_store_line);
	else if (cfg->cfg_path != NULL)
		snprintf(out, cap, "%s: [trust] pin_store (default)", cfg->cfg_path);
	else
		snprintf(out, cap, "[trust] pin_store (default)");
}

/* 0 when dir can be listed; otherwise the errno of the attempt. */
static int dir_readable(const char *dir)
{
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL)
		return errno ? errno : EACCES;
	errno = 0;
	if (readdir(d) == NULL && errno != 0)
		rc = errno;
	closedir(d);
	return rc;
}

int config_check_pin_store(const struct wsus_config *cfg, struct err *e)
{
	static const char fix[] = "enforce_pinning = true needs a readable directory of pinned certificates: "
				  "correct the path, create it, or set enforce_pinning = false";
	const char *dir = cfg->tr_pin_store;
	char at[1200];
	struct stat sb;
	int why;

	if (!cfg->tr_enforce_pinning || dir == NULL || dir[0] == '\0')
		return 0;
	where(cfg, at, sizeof(at));
	if (stat(dir, &sb) != 0) {
		why = errno;
		if (why == ENOENT && cfg->tr_pin_store_line <= 0)
			return 0;  /* the default store of a fresh install: empty */
		if (why == ENOENT)
			return err_set(e, -ENOENT, "%s: %s does not exist; %s", at, dir, fix);
		return err_set(e, -why, "%s: %s cannot be examined: %s; %s", at, dir, strerror(why), fix);
	}
	if (!S_ISDIR(sb.st_mode))
		return err_set(e, -ENOTDIR, "%s: %s is not a directory; %s", at, dir, fix);
	why = dir_readable(dir);
	if (why != 0)
		return err_set(e, -why, "%s: %s cannot be read: %s; %s", at, dir, strerror(why), fix);
	return 0;
}
