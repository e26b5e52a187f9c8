/*
 * sync_bundle.c -- `import-bundle`: a sync whose upstream is a signed file
 * carried across an air gap (issue 13.5). The bundle (common/common_bundle.c)
 * takes the place of the SOAP calls; staging, publishing and content go
 * through the same functions as a network sync (sync_run.c), so the result
 * is what a sync of the exporting server would have published.
 *
 *     OPEN ----> CHECK ----> LOCK ----> REPLAY ----> STAGE ----> PUBLISH ----> CONTENT
 *   signature   every member  sync.lock   sequence     catalogue   one           payloads, each
 *   of the      hashed (no    (-EBUSY)    newer than   member ->   transaction   verified by the
 *   manifest    parsing yet)              the last     sync_stage  (sync_publish) content store
 *
 * Design notes:
 * (1) Nothing is parsed, and nothing written, before the signature over the
 *     manifest verified with a trusted key AND every member matched its
 *     signed SHA-256 (wsus_bundle_check). A refused bundle changes nothing:
 *     not the database, not the staging, not the content store.
 * (2) The bundle's origin is "bundle://<exporter ServerID>", its certificate
 *     the signer's key fingerprint: every revision's chain gets that hop after
 *     the exporter's own chain, and provenance/status show it like an
 *     upstream.
 * (3) Replay: per signer, the last imported sequence (and the exporter and
 *     anchor it reflected) is saved inside the publishing transaction; a
 *     bundle whose sequence is not newer is refused, and an incremental one
 *     (since > 0) only applies on top of an import of that exporter that
 *     reached its since anchor.
 * (4) Staged members are read through the reader again, which hashes what it
 *     hands out: a bundle changed between CHECK and STAGE fails the import
 *     and its staging is dropped before anything is published.
 * (5) Deployments, groups, declines and EULAs are applied as a replica sync
 *     applies GetDeployments ([upstream] mode = replica, the default);
 *     in autonomous mode only the catalogue is taken. A replica with an
 *     upstream configured refuses bundles: its metadata comes from there.
 * (6) Payloads are stored after the publishing transaction, each on its
 *     own. Until all of them are, the signer's state says "content pending"
 *     and the same bundle (same sequence) is accepted once more: publishing
 *     it again changes nothing, and its missing payloads are stored.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync_phase.h"

#define BUNDLE_ORIGIN_PREFIX   "bundle://"
#define BUNDLE_STAGE_BATCH     64                   /* documents per staging transaction */
#define BUNDLE_STAGE_BYTES     (32u * 1024 * 1024)  /* or this many bytes of them */
#define BUNDLE_MAX_SIGNERS     64                   /* keys in a signer store */
#define BUNDLE_MAX_DEPLOYMENTS 1000000
#define BUNDLE_CHUNK           (256u * 1024)

/* One staged document, owning its copies (the record buffer is reused). */
struct staged {
	char *uid, *xml, *mu, *keys, *chain;
	size_t xml_len;
	int rev;
};

struct bundle_run {
	struct sync_ctx c;
	struct sync_bundle_result *res;
	struct wsus_bundle_reader *r;
	struct wsus_bundle_key *keys[BUNDLE_MAX_SIGNERS];
	size_t n_keys;
	struct staged batch[BUNDLE_STAGE_BATCH];
	size_t n_batch, batch_bytes;
	size_t cap_live, cap_dead, cap_groups, cap_hidden, cap_eulas;
};

/*---- Signers ----*/

static int has_pem_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".pem") == 0;
}

static int load_store(struct bundle_run *b, const char *dir, struct err *e)
{
	char path[4096];
	struct dirent *d;
	DIR *dp = opendir(dir);
	int rc = 0;

	if (dp == NULL)
		return err_set(e, -ENOENT, "no trusted bundle signers: %s is not readable (%s); give --signer"
			       " PUBKEY.pem or put the exporter's public key there ([trust] bundle_signers)", dir,
			       strerror(errno));
	while ((d = readdir(dp)) != NULL && rc == 0) {
		if (d->d_name[0] == '.' || !has_pem_suffix(d->d_name))
			continue;
		if (b->n_keys == BUNDLE_MAX_SIGNERS) {
			rc = err_set(e, -E2BIG, "more than %d keys in %s", BUNDLE_MAX_SIGNERS, dir);
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		rc = wsus_bundle_key_load_public(path, &b->keys[b->n_keys], e);
		if (rc == 0)
			b->n_keys++;
	}
	closedir(dp);
	if (rc == 0 && b->n_keys == 0)
		rc = err_set(e, -ENOENT, "no trusted bundle signers: %s holds no *.pem public key; give --signer"
			     " PUBKEY.pem or put the exporter's public key there", dir);
	return rc;
}

static int load_signers(struct bundle_run *b, const struct wsus_config *cfg, const char *signer, struct err *e)
{
	if (signer != NULL) {
		int rc = wsus_bundle_key_load_public(signer, &b->keys[0], e);

		b->n_keys = rc == 0;
		return rc;
	}
	if (cfg->tr_bundle_signers == NULL)
		return err_set(e, -ENOENT, "no trusted bundle signers: give --signer PUBKEY.pem or set"
			       " [trust] bundle_signers");
	return load_store(b, cfg->tr_bundle_signers, e);
}

/*---- Members ----*/

static int is_sha1_hex(const char *s)
{
	if (strlen(s) != 2 * WSUS_SHA1_LEN)
		return 0;
	for (; *s; s++)
		if (wsus_hex_digit((unsigned char)*s) < 0)
			return 0;
	return 1;
}

/* One catalogue member first, then content members named by SHA-1. */
static int check_members(struct bundle_run *b, struct err *e)
{
	size_t n = wsus_bundle_member_count(b->r);
	const struct wsus_bundle_member *m = wsus_bundle_member(b->r, 0);

	if (m == NULL || strcmp(m->kind, "catalog") != 0)
		return err_set(e, -EBADMSG, "bundle has no catalogue member first");
	for (size_t i = 1; i < n; i++) {
		m = wsus_bundle_member(b->r, i);
		if (strcmp(m->kind, "content") != 0 || !is_sha1_hex(m->name))
			return err_set(e, -EBADMSG, "bundle member %zu (%s %s) is neither a payload nor known", i,
				       m->kind, m->name);
	}
	return 0;
}

/*---- Replay protection (state keys per signer) ----*/

static void state_key(char *out, size_t cap, const char *fp, const char *what)
{
	snprintf(out, cap, "bundle.signer.%s.%s", fp, what);
}

static int state_u64(struct storage *st, const char *fp, const char *what, uint64_t *v)
{
	char key[160], *val = NULL;

	state_key(key, sizeof(key), fp, what);
	*v = 0;
	if (storage_state_get(st, key, &val) < 0)
		return -ENOENT;
	*v = strtoull(val, NULL, 10);
	free(val);
	return 0;
}

/* The payloads of the last imported bundle of fp were not all stored. */
static int content_pending(struct storage *st, const char *fp)
{
	char key[160], *val = NULL;
	int pending;

	state_key(key, sizeof(key), fp, "content");
	pending = storage_state_get(st, key, &val) == 0 && strcmp(val, "pending") == 0;
	free(val);
	return pending;
}

static int set_content_state(struct storage *st, const char *fp, const char *state, struct err *e)
{
	char key[160];

	state_key(key, sizeof(key), fp, "content");
	return storage_state_set(st, key, state, e);
}

static int check_replay(struct bundle_run *b, struct err *e)
{
	const struct wsus_bundle_info *in = wsus_bundle_info(b->r);
	const char *fp = wsus_bundle_signer(b->r);
	char key[160], *exporter = NULL;
	uint64_t last = 0, anchor = 0;
	int had = state_u64(b->c.st, fp, "sequence", &last) == 0;
	int same;

	if (had && in->sequence == last && content_pending(b->c.st, fp)) {
		/* design note 6: the same bundle again finishes its payloads */
		log_info("sync", "bundle sequence %" PRIu64 " again: its payloads were not all stored", last);
		return 0;
	}
	if (had && in->sequence <= last)
		return err_set(e, -EALREADY, "bundle sequence %" PRIu64 " is not newer than the last one imported from"
			       " signer %s (%" PRIu64 "): replayed or older bundle refused", in->sequence, fp, last);
	if (in->since == 0)
		return 0;
	state_u64(b->c.st, fp, "anchor", &anchor);
	state_key(key, sizeof(key), fp, "exporter");
	same = storage_state_get(b->c.st, key, &exporter) == 0 && strcmp(exporter, in->exporter) == 0;
	free(exporter);
	if (!had || !same || anchor < (uint64_t)in->since)
		return err_set(e, -ESTALE, "incremental bundle (changes after anchor %" PRId64 " of server %s) needs"
			       " an earlier import from it that reached that anchor (here: %s %" PRIu64 "); import"
			       " a full bundle first", in->since, in->exporter, had && same ? "anchor" : "none,",
			       had && same ? anchor : 0);
	return 0;
}

/* An increment offered to a server without a database: refused before the
 * lock or the database are created (nothing changed, not even a file). */
static int check_fresh(const struct bundle_run *b, const struct wsus_config *cfg, struct err *e)
{
	const struct wsus_bundle_info *in = wsus_bundle_info(b->r);
	char path[4096];

	if (in->since == 0)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/wsus.db", cfg->st_data_dir) >= sizeof(path))
		return err_set(e, -ENAMETOOLONG, "data directory path too long");
	if (access(path, F_OK) == 0)
		return 0;
	return err_set(e, -ESTALE, "incremental bundle (changes after anchor %" PRId64 " of server %s) needs an"
		       " earlier import from it that reached that anchor (here: no database); import a full bundle"
		       " first", in->since, in->exporter);
}

/* Inside the publishing transaction (sync_publish). */
static int save_bundle_state(struct sync_ctx *c, struct err *e)
{
	struct bundle_run *b = (struct bundle_run *)c;
	const struct wsus_bundle_info *in = wsus_bundle_info(b->r);
	const char *fp = wsus_bundle_signer(b->r);
	char key[160], val[64], now[32];
	int rc;

	state_key(key, sizeof(key), fp, "sequence");
	snprintf(val, sizeof(val), "%" PRIu64, in->sequence);
	rc = storage_state_set(c->st, key, val, e);
	state_key(key, sizeof(key), fp, "anchor");
	snprintf(val, sizeof(val), "%" PRId64, in->anchor);
	if (rc == 0)
		rc = storage_state_set(c->st, key, val, e);
	state_key(key, sizeof(key), fp, "exporter");
	if (rc == 0)
		rc = storage_state_set(c->st, key, in->exporter, e);
	wsus_time_iso(wsus_now_ms(), now);
	if (rc == 0)
		rc = storage_state_set(c->st, "last_bundle_import", now, e);
	if (rc == 0)
		rc = set_content_state(c->st, fp, wsus_bundle_member_count(b->r) > 1 ? "pending" : "done", e);
	return rc;
}

/*---- Staging the catalogue member ----*/

static void staged_free(struct staged *s)
{
	free(s->uid);
	free(s->xml);
	free(s->mu);
	free(s->keys);
	free(s->chain);
	memset(s, 0, sizeof(*s));
}

/* A copy of field i with its NUL (binary-safe: a document may hold any byte). */
static char *dup_field(const struct wsus_bundle_record *r, size_t i)
{
	char *p;

	if (r->len[i] == 0)
		return NULL;
	p = malloc(r->len[i] + 1);
	if (p != NULL)
		memcpy(p, r->field[i], r->len[i] + 1);
	return p;
}

/* A decimal field within [min, max]; -EBADMSG otherwise. */
static int int_field(const struct wsus_bundle_record *r, size_t i, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(r->field[i], &end, 10);
	if (errno != 0 || end == r->field[i] || *end != '\0' || v < min || v > max)
		return -EBADMSG;
	*out = (int)v;
	return 0;
}

static int flush_batch(struct bundle_run *b, struct err *e)
{
	struct storage_stage_doc docs[BUNDLE_STAGE_BATCH];
	struct err ce = { 0 };
	int64_t now = wsus_now_ms();
	int rc;

	if (b->n_batch == 0)
		return 0;
	memset(docs, 0, sizeof(docs));
	for (size_t i = 0; i < b->n_batch; i++) {
		docs[i].update_id = b->batch[i].uid;
		docs[i].revision = b->batch[i].rev;
		docs[i].list = "bundle";
		docs[i].xml = b->batch[i].xml;
		docs[i].xml_len = b->batch[i].xml_len;
		docs[i].mu_urls = b->batch[i].mu;
		docs[i].cert_sha256 = wsus_bundle_signer(b->r);
		docs[i].fetched_ms = now;
	}
	/* The batch with its keys and chains in one transaction. */
	rc = storage_begin(b->c.st, e);
	if (rc == 0)
		rc = storage_stage_put(b->c.st, b->c.base, docs, b->n_batch, e);
	for (size_t i = 0; i < b->n_batch && rc == 0; i++) {
		struct staged *s = &b->batch[i];

		if (s->keys != NULL)
			rc = storage_stage_set_keys(b->c.st, s->uid, s->rev, s->keys, e);
		if (rc == 0 && s->chain != NULL && storage_chain_check(s->chain, &ce) == 0)
			rc = storage_stage_set_provenance(b->c.st, s->uid, s->rev, s->chain, e);
		else if (rc == 0 && s->chain != NULL)
			log_warn("sync", "bundle provenance chain of %s/%d not kept: %s", s->uid, s->rev, ce.msg);
	}
	if (rc == 0)
		rc = storage_commit(b->c.st, e);
	else
		storage_rollback(b->c.st);
	for (size_t i = 0; i < b->n_batch; i++)
		staged_free(&b->batch[i]);
	b->res->revisions += b->n_batch;
	b->n_batch = 0;
	b->batch_bytes = 0;
	return rc;
}

static int on_revision(struct bundle_run *b, const struct wsus_bundle_record *r, struct err *e)
{
	struct staged *s;
	int rev;

	if (r->n != 6)
		return err_set(e, -EBADMSG, "bundle revision record has %zu fields", r->n);
	if (int_field(r, 1, 0, INT32_MAX, &rev) < 0 || r->len[2] == 0)
		return err_set(e, -EBADMSG, "bundle revision record of %.40s is malformed", r->field[0]);
	s = &b->batch[b->n_batch++];
	s->uid = dup_field(r, 0);
	s->rev = rev;
	s->xml = dup_field(r, 2);
	s->xml_len = r->len[2];
	s->mu = dup_field(r, 3);
	s->keys = dup_field(r, 4);
	s->chain = dup_field(r, 5);
	if (s->uid == NULL || s->xml == NULL || (r->len[3] && !s->mu) || (r->len[4] && !s->keys) ||
	    (r->len[5] && !s->chain))
		return err_set(e, -ENOMEM, "out of memory");
	b->batch_bytes += r->len[2];
	if (b->n_batch == BUNDLE_STAGE_BATCH || b->batch_bytes >= BUNDLE_STAGE_BYTES)
		return flush_batch(b, e);
	return 0;
}

/* Room for one more element of a deployment-set array. */
static int grow(void **v, size_t n, size_t *cap, size_t size, struct err *e)
{
	void *nv;

	if (n < *cap)
		return 0;
	if (n >= BUNDLE_MAX_DEPLOYMENTS)
		return err_set(e, -E2BIG, "more than %d deployment records", BUNDLE_MAX_DEPLOYMENTS);
	nv = realloc(*v, (*cap ? *cap * 2 : 64) * size);
	if (nv == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	*v = nv;
	*cap = *cap ? *cap * 2 : 64;
	return 0;
}

static int copy_text(char *out, size_t cap, const struct wsus_bundle_record *r, size_t i)
{
	if (r->len[i] >= cap)
		return -EBADMSG;
	memcpy(out, r->field[i], r->len[i] + 1);
	return 0;
}

static int on_group(struct bundle_run *b, const struct wsus_bundle_record *r, struct err *e)
{
	struct sync_deploy_set *set = &b->c.dep;
	struct storage_group_row *g;
	int rc = grow((void **)&set->groups, set->n_groups, &b->cap_groups, sizeof(*g), e);

	if (rc < 0)
		return rc;
	g = &set->groups[set->n_groups];
	memset(g, 0, sizeof(*g));
	if (r->n != 3 || copy_text(g->group_id, sizeof(g->group_id), r, 0) < 0 ||
	    copy_text(g->name, sizeof(g->name), r, 1) < 0 || copy_text(g->parent_id, sizeof(g->parent_id), r, 2) < 0)
		return err_set(e, -EBADMSG, "bundle group record is malformed");
	set->n_groups++;
	return 0;
}

static int on_deployment(struct bundle_run *b, const struct wsus_bundle_record *r, struct err *e)
{
	struct sync_deploy_set *set = &b->c.dep;
	struct storage_deployment_row d;
	enum storage_action a;
	int rc;

	memset(&d, 0, sizeof(d));
	if (r->n != 11 || copy_text(d.deployment_id, sizeof(d.deployment_id), r, 0) < 0 ||
	    copy_text(d.update_id, sizeof(d.update_id), r, 1) < 0 || storage_action_parse(r->field[3], &a) < 0 ||
	    copy_text(d.admin_name, sizeof(d.admin_name), r, 4) < 0 ||
	    copy_text(d.deadline, sizeof(d.deadline), r, 5) < 0 || copy_text(d.go_live, sizeof(d.go_live), r, 7) < 0 ||
	    copy_text(d.group_id, sizeof(d.group_id), r, 8) < 0 || int_field(r, 2, 0, INT32_MAX, &d.revision) < 0 ||
	    int_field(r, 6, 0, 1, &d.is_assigned) < 0 || int_field(r, 9, 1, 3, &d.download_priority) < 0 ||
	    int_field(r, 10, 0, 1, &d.dead) < 0)
		return err_set(e, -EBADMSG, "bundle deployment record is malformed");
	d.action = a;
	if (d.dead) {
		rc = grow((void **)&set->dead, set->n_dead, &b->cap_dead, sizeof(*set->dead), e);
		if (rc == 0)
			memcpy(set->dead[set->n_dead++], d.deployment_id, WSUS_GUID_LEN);
		return rc;
	}
	rc = grow((void **)&set->live, set->n_live, &b->cap_live, sizeof(d), e);
	if (rc == 0)
		set->live[set->n_live++] = d;
	return rc;
}

static int on_guid(const struct wsus_bundle_record *r, char (**v)[WSUS_GUID_LEN], size_t *n, size_t *cap,
		   struct err *e)
{
	int rc = grow((void **)v, *n, cap, WSUS_GUID_LEN, e);

	if (rc < 0)
		return rc;
	if (r->n != 1 || wsus_guid_normalize(r->field[0], (*v)[*n]) < 0)
		return err_set(e, -EBADMSG, "bundle decline or EULA record is not a GUID");
	(*n)++;
	return 0;
}

static int on_record(struct bundle_run *b, const struct wsus_bundle_record *r, struct err *e)
{
	struct sync_deploy_set *set = &b->c.dep;

	switch (r->type) {
	case WSUS_BREC_REVISION:
		return on_revision(b, r, e);
	case WSUS_BREC_GROUP:
		return on_group(b, r, e);
	case WSUS_BREC_DEPLOYMENT:
		return on_deployment(b, r, e);
	case WSUS_BREC_DECLINED:
		return on_guid(r, &set->hidden, &set->n_hidden, &b->cap_hidden, e);
	case WSUS_BREC_EULA:
		return on_guid(r, &set->eulas, &set->n_eulas, &b->cap_eulas, e);
	default:
		return err_set(e, -EBADMSG, "bundle record of unknown type %d", r->type);
	}
}

static int stage_catalog(struct bundle_run *b, struct err *e)
{
	struct wsus_bundle_record rec;
	int rc = wsus_bundle_member_open(b->r, 0, e);

	while (rc == 0 && (rc = wsus_bundle_record_next(b->r, &rec, e)) == 1)
		rc = on_record(b, &rec, e);
	if (rc == 0)
		rc = flush_batch(b, e);
	if (rc == 0)
		rc = wsus_bundle_member_close(b->r, e);
	/* replica mode applies them; autonomous takes the catalogue only */
	b->c.dep.have = rc == 0 && b->c.cfg->up_mode == WSUS_MODE_REPLICA;
	return rc;
}

/*---- Payloads ----*/

static int cmp_file(const void *a, const void *b)
{
	return memcmp(((const struct wsus_file *)a)->sha1, ((const struct wsus_file *)b)->sha1, WSUS_SHA1_LEN);
}

static int store_payload(struct bundle_run *b, size_t i, const struct wsus_file *f, uint8_t *buf, struct err *e)
{
	struct storage_content_writer *w = NULL;
	size_t got = 0;
	int rc = wsus_bundle_member_open(b->r, i, e);

	if (rc == 0)
		rc = storage_content_begin(b->c.st, f, &w, e);
	do {
		if (rc == 0)
			rc = wsus_bundle_member_read(b->r, buf, BUNDLE_CHUNK, &got, e);
		if (rc == 0 && got > 0)
			rc = storage_content_write(w, buf, got, e);
		if (rc == 0)
			b->res->sync.bytes += (int64_t)got;
	} while (rc == 0 && got > 0);
	if (rc == 0)
		rc = wsus_bundle_member_close(b->r, e);
	if (rc < 0) {
		storage_content_abort(w);
		return rc;
	}
	/* verifies size, SHA-1 and SHA-256 against the catalogue; a mismatch is quarantined */
	rc = storage_content_finish(w, e);
	if (rc == -EBADMSG) {
		log_warn("sync", "bundle payload quarantined: %s", e ? e->msg : "digest mismatch");
		b->res->payloads_quarantined++;
		return 0;
	}
	if (rc == 0)
		b->res->payloads_stored++;
	return rc;
}

static int import_content(struct bundle_run *b, struct err *e)
{
	struct wsus_file *want = NULL, key;
	size_t n_want = 0, n = wsus_bundle_member_count(b->r);
	uint8_t *buf = NULL;
	int rc;

	if (n <= 1)
		return 0;
	rc = storage_sync_files_wanted(b->c.st, 0, INT64_MAX, &want, &n_want, e);
	if (rc < 0)
		return rc;
	qsort(want, n_want, sizeof(*want), cmp_file);
	buf = malloc(BUNDLE_CHUNK);
	if (buf == NULL)
		rc = err_set(e, -ENOMEM, "out of memory");
	for (size_t i = 1; i < n && rc == 0; i++) {
		const struct wsus_file *f;

		memset(&key, 0, sizeof(key));
		wsus_hex_decode(wsus_bundle_member(b->r, i)->name, key.sha1, WSUS_SHA1_LEN);
		f = bsearch(&key, want, n_want, sizeof(*want), cmp_file);
		b->res->payloads++;
		if (f == NULL) {
			b->res->payloads_skipped++;   /* present already, or not in the catalogue */
			continue;
		}
		rc = store_payload(b, i, f, buf, e);
	}
	free(buf);
	storage_sync_files_free(want, n_want);
	return rc;
}

/*---- The import ----*/

static int verify_bundle(struct bundle_run *b, const struct wsus_config *cfg, const struct sync_bundle_options *o,
			 struct err *e)
{
	const struct wsus_bundle_info *in;
	int rc = load_signers(b, cfg, o->signer, e);

	if (rc == 0)
		rc = wsus_bundle_open(o->path, b->keys, b->n_keys, &b->r, e);
	if (rc == 0)
		rc = check_members(b, e);
	if (rc == 0)
		rc = wsus_bundle_check(b->r, e);
	if (rc < 0)
		return rc;
	in = wsus_bundle_info(b->r);
	snprintf(b->res->signer, sizeof(b->res->signer), "%s", wsus_bundle_signer(b->r));
	memcpy(b->res->exporter, in->exporter, WSUS_GUID_LEN);
	b->res->sequence = in->sequence;
	b->res->anchor = in->anchor;
	b->res->since = in->since;
	return 0;
}

static int open_ctx(struct bundle_run *b, const struct wsus_config *cfg, const char *path, struct err *e)
{
	struct sync_ctx *c = &b->c;
	int64_t kept = 0;
	int rc;

	snprintf(c->base, sizeof(c->base), BUNDLE_ORIGIN_PREFIX "%s", b->res->exporter);
	c->offline = 1;
	c->source = "bundle";
	c->publish_state = save_bundle_state;
	snprintf(c->res->cert_sha256, sizeof(c->res->cert_sha256), "%s", b->res->signer);
	snprintf(c->res->verdict, sizeof(c->res->verdict), "bundle %.200s sequence %" PRIu64 " signed by %s",
		 path, b->res->sequence, b->res->signer);
	rc = storage_open(cfg->st_data_dir, cfg->st_content_dir, &c->st, e);
	if (rc == 0)
		rc = check_replay(b, e);
	if (rc == 0)
		rc = storage_stage_open(c->st, c->base, &kept, e);
	if (rc == 0 && kept > 0)
		log_info("sync", "bundle: %lld documents staged by an interrupted import are replaced", (long long)kept);
	return rc;
}

/* The sync_history row the publishing transaction wrote gets the payload
 * bytes and the end (or why the content phase stopped). A bundle refused or
 * failed before publishing records nothing: nothing changed. */
static void finish_history(struct bundle_run *b, int rc, const struct err *e)
{
	struct err he = { 0 };
	char why[256] = "";

	if (b->c.st == NULL || b->c.history_id <= 0)
		return;
	if (rc < 0)
		snprintf(why, sizeof(why), "%s: %s", b->res->sync.phase, e != NULL && e->msg[0] ? e->msg : "failed");
	if (storage_sync_history_finish(b->c.st, b->c.history_id, b->res->sync.finished_ms, b->res->sync.bytes,
					why, &he) < 0)
		log_warn("sync", "cannot record the bundle import in sync_history: %s", he.msg);
}

static void run_release(struct bundle_run *b)
{
	for (size_t i = 0; i < b->n_batch; i++)
		staged_free(&b->batch[i]);
	sync_deploy_free(&b->c.dep);
	storage_close(b->c.st);
	wsus_bundle_close(b->r);
	for (size_t i = 0; i < b->n_keys; i++)
		wsus_bundle_key_free(b->keys[i]);
}

int sync_bundle_import(const struct wsus_config *cfg, const struct sync_bundle_options *opt,
		       struct sync_bundle_result *res, struct err *e)
{
	static const struct sync_options none = { 0 };
	struct bundle_run *b = calloc(1, sizeof(*b));
	int rc, lock = -1;

	if (b == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	memset(res, 0, sizeof(*res));
	res->sync.phase = "verify";
	res->sync.started_ms = wsus_now_ms();
	b->res = res;
	b->c.cfg = cfg;
	b->c.opt = &none;
	b->c.res = &res->sync;
	/* One source of truth for a replica (DESIGN, trust 7): its upstream. */
	if (cfg->up_url != NULL && cfg->up_mode == WSUS_MODE_REPLICA)
		rc = err_set(e, -EPERM, "this server is a replica of %s and takes update metadata from it only;"
			     " import-bundle is for a server without an upstream (or with mode = autonomous)",
			     cfg->up_url);
	else
		rc = verify_bundle(b, cfg, opt, e);
	if (rc == 0)
		rc = check_fresh(b, cfg, e);
	if (rc == 0) {
		res->sync.phase = "stage";
		rc = sync_lock_take(cfg, &lock, e);
	}
	if (rc == 0)
		rc = open_ctx(b, cfg, opt->path, e);
	if (rc == 0)
		rc = stage_catalog(b, e);
	if (rc == 0) {
		res->sync.phase = "publish";
		rc = sync_publish(&b->c, e);
	}
	/* Nothing of a failed bundle stays staged (design note 4). */
	if (rc < 0 && b->c.st != NULL && res->revisions > 0 && !res->sync.published)
		storage_stage_clear(b->c.st, NULL);
	if (rc == 0) {
		res->sync.phase = "content";
		rc = import_content(b, e);
		if (rc == 0 && wsus_bundle_member_count(b->r) > 1)
			rc = set_content_state(b->c.st, res->signer, "done", e);
		if (rc < 0)
			err_prefix(e, "catalogue published; payloads (import the same bundle again to finish them)");
	}
	if (rc == 0)
		res->sync.phase = "done";
	res->sync.finished_ms = wsus_now_ms();
	finish_history(b, rc, e);
	if (rc == 0)
		log_info("sync", "bundle imported signer=%s exporter=%s sequence=%" PRIu64 " anchor=%" PRId64
			 " since=%" PRId64 " revisions=%zu new=%zu changed=%zu payloads=%zu stored=%zu", res->signer,
			 res->exporter, res->sequence, res->anchor, res->since, res->revisions,
			 res->sync.published_new, res->sync.published_changed, res->payloads, res->payloads_stored);
	run_release(b);
	free(b);
	if (lock >= 0)
		close(lock);
	return rc;
}
