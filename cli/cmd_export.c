/*
 * cmd_export.c -- `export BUNDLE --key KEY.pem [--since ANCHOR] [--content]`:
 * write this server's catalogue as a signed air-gap bundle (issue 13.5; file
 * layout in common/common_bundle.c). The bundle holds, in one catalogue
 * member: the target groups, every revision stamped after ANCHOR (document
 * as received, MU URLs, decryption keys, provenance chain), the deployments
 * created or retired after it, and the complete lists of declined updates
 * and accepted EULAs; with --content, one member per payload present here of
 * those revisions. Everything is read in one snapshot, so the bundle is one
 * catalogue state (its anchor). Memory: one document and the list of payload
 * digests at a time, never a payload.
 *
 * Each export takes the next sequence number of this server (kept in the
 * database: never smaller than the last one + 1, nor than the time in ms),
 * which importers use to refuse a replayed or older bundle.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define EXPORT_SEQ_KEY "bundle.export.sequence"
#define EXPORT_CHUNK   (256u * 1024)

struct export_ctx {
	struct storage *st;
	struct wsus_bundle_writer *w;
	struct err *e;
	int with_content;
	int64_t revisions, deployments, groups, declined, eulas, payloads;
	uint64_t payload_bytes;
	uint8_t (*sha1)[WSUS_SHA1_LEN];  /* payloads present here, to copy with --content */
	size_t n_sha1, cap_sha1;
	struct wsus_buf mu, keys;        /* per-revision scratch */
};

/*---- Catalogue records ----*/

static int put_rec(struct export_ctx *x, int type, const char *const *f, size_t n)
{
	size_t lens[WSUS_BUNDLE_MAX_FIELDS];

	for (size_t i = 0; i < n; i++)
		lens[i] = f[i] ? strlen(f[i]) : 0;
	return wsus_bundle_record_write(x->w, type, f, lens, n, x->e);
}

static int on_group(const struct storage_group_row *g, void *ctx)
{
	struct export_ctx *x = ctx;
	const char *f[] = { g->group_id, g->name, g->parent_id };

	x->groups++;
	return put_rec(x, WSUS_BREC_GROUP, f, 3);
}

static int on_key(const uint8_t sha1[WSUS_SHA1_LEN], const uint8_t *key, size_t key_len, void *ctx)
{
	struct export_ctx *x = ctx;
	char hex[2 * WSUS_SHA1_LEN + 1], *b64;
	int rc;

	if (key == NULL || key_len == 0)
		return 0;
	b64 = malloc(wsus_b64_encoded_len(key_len) + 1);
	if (b64 == NULL)
		return err_set(x->e, -ENOMEM, "out of memory");
	wsus_b64_encode(key, key_len, b64);
	wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
	rc = wsus_buf_printf(&x->keys, "%s %s\n", hex, b64);
	free(b64);
	return rc < 0 ? err_set(x->e, rc, "decryption keys too large") : 0;
}

static int on_file(const struct wsus_file *f, int present, void *ctx)
{
	struct export_ctx *x = ctx;

	if (!present || !x->with_content)
		return 0;
	if (x->n_sha1 == x->cap_sha1) {
		size_t cap = x->cap_sha1 ? x->cap_sha1 * 2 : 1024;
		uint8_t (*nv)[WSUS_SHA1_LEN] = realloc(x->sha1, cap * sizeof(*nv));

		if (nv == NULL)
			return err_set(x->e, -ENOMEM, "out of memory");
		x->sha1 = nv;
		x->cap_sha1 = cap;
	}
	memcpy(x->sha1[x->n_sha1++], f->sha1, WSUS_SHA1_LEN);
	return 0;
}

static int mu_lines(struct export_ctx *x, const struct storage_update_blob *b)
{
	char hex[2 * WSUS_SHA1_LEN + 1];
	int rc = 0;

	for (size_t i = 0; i < b->n_files && rc == 0; i++) {
		if (b->files[i].mu_url == NULL)
			continue;
		wsus_hex_encode(b->files[i].sha1, WSUS_SHA1_LEN, hex);
		rc = wsus_buf_printf(&x->mu, "%s %s\n", hex, b->files[i].mu_url);
	}
	return rc < 0 ? err_set(x->e, rc, "MU URLs too large") : 0;
}

static int on_revision(const char *update_id, int revision, void *ctx)
{
	struct export_ctx *x = ctx;
	struct storage_update_blob b = { 0 };
	char rev[16], *chain = NULL;
	const char *f[6];
	size_t lens[6];
	int rc;

	wsus_buf_free(&x->mu);
	wsus_buf_free(&x->keys);
	rc = storage_update_blob_get(x->st, update_id, revision, &b, x->e);
	if (rc == 0)
		rc = mu_lines(x, &b);
	if (rc == 0)
		rc = storage_revision_keys(x->st, update_id, revision, on_key, x, x->e);
	if (rc == 0)
		rc = storage_revision_chain(x->st, update_id, revision, &chain, x->e);
	if (rc == 0)
		rc = storage_revision_files(x->st, update_id, revision, on_file, x, x->e);
	if (rc == 0) {
		snprintf(rev, sizeof(rev), "%d", revision);
		f[0] = update_id; f[1] = rev; f[2] = b.xml; f[3] = x->mu.data; f[4] = x->keys.data; f[5] = chain;
		for (int i = 0; i < 6; i++)
			lens[i] = i == 2 ? b.len : f[i] ? strlen(f[i]) : 0;
		rc = wsus_bundle_record_write(x->w, WSUS_BREC_REVISION, f, lens, 6, x->e);
	}
	if (rc < 0)
		err_prefix(x->e, "revision %s/%d", update_id, revision);
	free(chain);
	storage_update_blob_free(&b);
	x->revisions++;
	return rc;
}

static int on_deployment(const struct storage_deployment_row *d, void *ctx)
{
	struct export_ctx *x = ctx;
	char rev[16], assigned[4], prio[4], dead[4];
	const char *f[11];

	snprintf(rev, sizeof(rev), "%d", d->revision);
	snprintf(assigned, sizeof(assigned), "%d", d->is_assigned != 0);
	snprintf(prio, sizeof(prio), "%d", d->download_priority);
	snprintf(dead, sizeof(dead), "%d", d->dead != 0);
	f[0] = d->deployment_id; f[1] = d->update_id; f[2] = rev; f[3] = storage_action_name(d->action);
	f[4] = d->admin_name; f[5] = d->deadline; f[6] = assigned; f[7] = d->go_live; f[8] = d->group_id;
	f[9] = prio; f[10] = dead;
	x->deployments++;
	return put_rec(x, WSUS_BREC_DEPLOYMENT, f, 11);
}

static int on_full_deployment(const struct storage_deployment_row *d, void *ctx)
{
	/* A full bundle carries the live deployments only: a retired one means
	 * nothing to a server that never had it. */
	return d->dead ? 0 : on_deployment(d, ctx);
}

static int on_declined(const char *update_id, void *ctx)
{
	struct export_ctx *x = ctx;

	x->declined++;
	return put_rec(x, WSUS_BREC_DECLINED, &update_id, 1);
}

static int on_eula(const char *eula_id, void *ctx)
{
	struct export_ctx *x = ctx;

	x->eulas++;
	return put_rec(x, WSUS_BREC_EULA, &eula_id, 1);
}

static int write_catalog(struct export_ctx *x, int64_t since, int64_t upto)
{
	int rc = wsus_bundle_member_begin(x->w, "catalog", "catalog", x->e);

	if (rc == 0)
		rc = storage_group_rows(x->st, on_group, x, x->e);
	if (rc == 0)
		rc = storage_bundle_revisions(x->st, since, upto, on_revision, x, x->e);
	if (rc == 0)
		rc = storage_deployment_changes(x->st, since, upto, since == 0 ? on_full_deployment : on_deployment,
						x, x->e);
	if (rc == 0)
		rc = storage_hidden_updates(x->st, on_declined, x, x->e);
	if (rc == 0)
		rc = storage_accepted_eulas(x->st, on_eula, x, x->e);
	if (rc == 0)
		rc = wsus_bundle_member_end(x->w, x->e);
	return rc;
}

/*---- Payloads ----*/

static int cmp_sha1(const void *a, const void *b)
{
	return memcmp(a, b, WSUS_SHA1_LEN);
}

static int copy_payload(struct export_ctx *x, const uint8_t sha1[WSUS_SHA1_LEN], char *buf)
{
	char path[4096], hex[2 * WSUS_SHA1_LEN + 1];
	FILE *f;
	size_t n;
	int rc;

	wsus_hex_encode(sha1, WSUS_SHA1_LEN, hex);
	if (storage_content_path(x->st, sha1, path, sizeof(path)) < 0)
		return 0;   /* quarantined or removed meanwhile: not exported */
	f = fopen(path, "rb");
	if (f == NULL)
		return err_set(x->e, -errno, "cannot open payload %s: %s", path, strerror(errno));
	rc = wsus_bundle_member_begin(x->w, "content", hex, x->e);
	while (rc == 0 && (n = fread(buf, 1, EXPORT_CHUNK, f)) > 0) {
		rc = wsus_bundle_member_write(x->w, buf, n, x->e);
		x->payload_bytes += n;
	}
	if (rc == 0 && ferror(f))
		rc = err_set(x->e, -EIO, "cannot read payload %s", path);
	fclose(f);
	if (rc == 0)
		rc = wsus_bundle_member_end(x->w, x->e);
	if (rc == 0)
		x->payloads++;
	return rc;
}

static int write_content(struct export_ctx *x)
{
	char *buf;
	int rc = 0;

	if (x->n_sha1 == 0)
		return 0;
	qsort(x->sha1, x->n_sha1, WSUS_SHA1_LEN, cmp_sha1);
	buf = malloc(EXPORT_CHUNK);
	if (buf == NULL)
		return err_set(x->e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < x->n_sha1 && rc == 0; i++)
		if (i == 0 || memcmp(x->sha1[i], x->sha1[i - 1], WSUS_SHA1_LEN) != 0)
			rc = copy_payload(x, x->sha1[i], buf);
	free(buf);
	return rc;
}

/*---- The command ----*/

static int next_sequence(struct storage *st, uint64_t *seq, struct err *e)
{
	char *old = NULL, buf[32];
	uint64_t prev = 0, now = (uint64_t)wsus_now_ms();

	if (storage_state_get(st, EXPORT_SEQ_KEY, &old) == 0)
		prev = strtoull(old, NULL, 10);
	free(old);
	*seq = prev + 1 > now ? prev + 1 : now;
	snprintf(buf, sizeof(buf), "%" PRIu64, *seq);
	return storage_state_set(st, EXPORT_SEQ_KEY, buf, e);
}

static int parse_anchor(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int run_export(struct export_ctx *x, const char *path, const struct wsus_bundle_key *key, int64_t since,
		      struct wsus_bundle_info *info)
{
	struct storage_anchor a = { 0, 0 };
	int opened, rc;

	memset(info, 0, sizeof(*info));
	rc = next_sequence(x->st, &info->sequence, x->e);
	if (rc < 0)
		return rc;
	opened = storage_read_begin(x->st, x->e);
	if (opened < 0)
		return opened;
	rc = storage_anchor_latest(x->st, &a, x->e);
	if (rc == 0 && since > a.n)
		rc = err_set(x->e, -EINVAL, "--since %lld is newer than this server's catalogue anchor %lld",
			     (long long)since, (long long)a.n);
	if (rc == 0)
		rc = wsus_bundle_writer_new(path, &x->w, x->e);
	if (rc == 0)
		rc = write_catalog(x, since, a.n);
	if (rc == 0)
		rc = write_content(x);
	storage_read_end(x->st, opened);
	if (rc < 0)
		return rc;
	storage_server_id(x->st, info->exporter);
	info->anchor = a.n;
	info->since = since;
	info->content = x->with_content;
	wsus_time_iso(wsus_now_ms(), info->created);
	return wsus_bundle_writer_finish(x->w, info, key, x->e);
}

int cmd_export(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "export BUNDLE --key KEY.pem [--since ANCHOR] [--content]";
	const char *path = NULL, *key_path = NULL;
	struct wsus_bundle_key *key = NULL;
	struct wsus_bundle_info info;
	struct export_ctx x;
	struct err e = { 0 };
	int64_t since = 0;
	int rc;

	memset(&x, 0, sizeof(x));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key_path = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			if (parse_anchor(argv[++i], &since) < 0)
				return cli_fail("--since wants a catalogue anchor (a number >= 0), not '%s'", argv[i]);
		} else if (strcmp(argv[i], "--content") == 0)
			x.with_content = 1;
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			return cli_usage(usage);
	}
	if (path == NULL || key_path == NULL)
		return cli_usage(usage);
	if (wsus_bundle_key_load_private(key_path, &key, &e) < 0)
		return cli_fail("%s", e.msg);
	if (cli_open_storage(c, &x.st) < 0) {
		wsus_bundle_key_free(key);
		return CLI_FAIL;
	}
	x.e = &e;
	wsus_buf_init(&x.mu, WSUS_MAX_UPDATE_XML);
	wsus_buf_init(&x.keys, WSUS_MAX_UPDATE_XML);
	rc = run_export(&x, path, key, since, &info);
	wsus_bundle_writer_free(x.w);
	wsus_buf_free(&x.mu);
	wsus_buf_free(&x.keys);
	free(x.sha1);
	storage_close(x.st);
	if (rc < 0) {
		wsus_bundle_key_free(key);
		return cli_fail("export to %s failed: %s", path, e.msg);
	}
	printf("exported %s: %lld revisions, %lld deployments, %lld groups, %lld declined, %lld payloads"
	       " (%" PRIu64 " bytes)\n", path, (long long)x.revisions, (long long)x.deployments,
	       (long long)x.groups, (long long)x.declined, (long long)x.payloads, x.payload_bytes);
	printf("anchor %lld (since %lld), sequence %" PRIu64 ", signed by key %s\n", (long long)info.anchor,
	       (long long)info.since, info.sequence, wsus_bundle_key_fingerprint(key));
	wsus_bundle_key_free(key);
	return CLI_OK;
}
