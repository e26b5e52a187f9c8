/*
 * cmd_approve.c -- `approve UPDATEID[:REV] --group NAME --action ACTION
 * [--deadline ISO8601]` and `decline UPDATEID`: the local approvals of an
 * autonomous server (or of the root of a hierarchy). A replica takes its
 * approvals from upstream, so both are refused there.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int refuse_in_replica(const struct cli *c)
{
	if (c->cfg->up_url != NULL && c->cfg->up_mode == WSUS_MODE_REPLICA)
		return cli_fail("this server is a replica of %s: approvals and declines come from "
				"upstream (set [upstream] mode = autonomous to manage them here)",
				c->cfg->up_url);
	return 0;
}

/* "GUID" or "GUID:REV" -> normalised GUID and revision (-1 = latest). */
static int parse_update_ref(const char *s, char id[WSUS_GUID_LEN], int *rev)
{
	char buf[64];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (wsus_guid_normalize(buf, id) < 0)
		return -EINVAL;
	*rev = -1;
	if (colon) {
		char *end;
		long v;

		errno = 0;
		v = strtol(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || v < 0 || v > 0x7fffffff)
			return -EINVAL;
		*rev = (int)v;
	}
	return 0;
}

static int valid_deadline(const char *s)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	char tail[16] = "";

	if (sscanf(s, "%4d-%2d-%2d%15s", &y, &mo, &d, tail) < 3)
		return 0;
	if (tail[0] && sscanf(tail, "T%2d:%2d:%2d", &h, &mi, &sec) < 2)
		return 0;
	return y >= 1753 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 &&
	       mi < 60 && sec < 61;
}

int cmd_approve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "action", required_argument, NULL, 'a' },
		{ "deadline", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	static const char synopsis[] =
		"approve UPDATEID[:REV] --group NAME --action install|uninstall|block|evaluate "
		"[--deadline ISO8601]";
	const char *group = NULL, *action_s = NULL, *deadline = NULL;
	enum storage_action action;
	char id[WSUS_GUID_LEN];
	struct storage *st = NULL;
	struct err e = { 0 };
	int opt, rev, rc;

	while ((opt = getopt_long(argc, argv, "g:a:t:", opts, NULL)) != -1) {
		switch (opt) {
		case 'g': group = optarg; break;
		case 'a': action_s = optarg; break;
		case 't': deadline = optarg; break;
		default: return cli_usage(synopsis);
		}
	}
	if (optind != argc - 1 || group == NULL || action_s == NULL)
		return cli_usage(synopsis);
	if (parse_update_ref(argv[optind], id, &rev) < 0)
		return cli_fail("'%s' is not UPDATEID or UPDATEID:REVISION", argv[optind]);
	if (storage_action_parse(action_s, &action) < 0)
		return cli_fail("unknown action '%s' (install, uninstall, block or evaluate)", action_s);
	if (deadline && !valid_deadline(deadline))
		return cli_fail("deadline '%s' is not an ISO 8601 date or date-time", deadline);
	if (refuse_in_replica(c))
		return CLI_FAIL;
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	rc = storage_deployment_set(st, id, rev, group, action, deadline, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	printf("approved %s%s%s for %s: %s\n", id, rev >= 0 ? ":" : "",
	       rev >= 0 ? argv[optind] + strcspn(argv[optind], ":") + 1 : "", group,
	       storage_action_name(action));
	return CLI_OK;
}

int cmd_decline(struct cli *c, int argc, char **argv)
{
	char id[WSUS_GUID_LEN];
	struct storage *st = NULL;
	struct err e = { 0 };
	int rc;

	if (argc != 2)
		return cli_usage("decline UPDATEID");
	if (wsus_guid_normalize(argv[1], id) < 0)
		return cli_fail("'%s' is not an update id (GUID)", argv[1]);
	if (refuse_in_replica(c))
		return CLI_FAIL;
	if (cli_open_storage(c, &st) < 0)
		return CLI_FAIL;
	rc = storage_update_decline(st, id, &e);
	storage_close(st);
	if (rc < 0)
		return cli_fail("%s", e.msg);
	printf("declined %s\n", id);
	return CLI_OK;
}
