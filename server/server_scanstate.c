/*
 * server_scanstate.c -- the prepared scan state: what SyncUpdates,
 * GetExtendedUpdateInfo(2) and RefreshCache answers are computed from, built
 * once per (target groups, filter, catalogue anchor) and shared read-only by
 * every worker thread.
 *
 * A state holds the client closure as storage prepares it (revisions by
 * RevisionID, prerequisite clauses as arrays of update numbers, the map from
 * installed RevisionIDs to update numbers: storage_client_scan_build), plus
 * what this file derives from it once: the NewUpdates order, an index by
 * UpdateID, whether the closure holds a driver. Per revision it keeps, filled
 * on first use, the stored fragments already escaped for an <Xml> element
 * (Core for SyncUpdates; Extended, LocalizedProperties and Eula per locale for
 * GetExtendedUpdateInfo) and the payload list for FileLocations.
 *
 * Design notes:
 * (1) A request takes a reference (server_scan_get) and drops it when done
 *     (server_scan_put); a state is freed by whoever drops the last one. The
 *     cache's mutex guards only the slot table and reference counts: it is
 *     never held while a state is built or read.
 * (2) The key is the client's group set and filter; the anchor read on the
 *     request's storage handle decides whether the slot's state is current.
 *     A stale state is rebuilt by the first request that sees it stale while
 *     later ones keep answering from the old state (their NewCookie carries
 *     its anchor, so the client hears of the change on its next call); only
 *     a key that has never been built makes requests wait for the builder.
 *     A state is published whole, under the mutex: no request sees half of
 *     one.
 * (3) A state answers for exactly one anchor: everything in it, including
 *     the fragments filled later, belongs to revisions the anchor names.
 *     Fragments change only with a new anchor, which brings a new state.
 * (4) Lazily filled entries are published with a compare-and-swap on the
 *     revision's list head; two threads filling the same entry both succeed
 *     and the loser's copy is freed. Entries per revision are bounded
 *     (SCAN_BLOCKS_PER_REV); past that a fragment is read for the one request.
 * (5) An answer that is a pure function of a state and of the request's
 *     semantic inputs (GetExtendedUpdateInfo: the ids, fragment types,
 *     locales, SOAP version and the coding asked for; never the cookie) is
 *     kept whole, encoded, in that state: clients of one group fetching the
 *     same batches get the bytes without rebuilding or recompressing them.
 *     It dies with the state, so an answer never outlives its anchor. At most
 *     SCAN_MEMO_BYTES per state; past that nothing more is kept.
 * (6) An answer that holds one per-request part (SyncUpdates: the NewCookie
 *     sealed for this client) is kept split round it: the part before,
 *     encoded as the head of a stream (protocol_xpress.c design note 5), and
 *     the plain part after. A request that finds it makes only its own part
 *     and encodes that with the kept tail as the stream's rest.
 */
#include "server_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_SLOTS          16    /* group/filter sets kept */
#define SCAN_BLOCKS_PER_REV 8     /* cached fragments per revision (types x locales) */
#define SCAN_LOCALE_MAX     24
#define SCAN_MEMO_BYTES     (32u * 1024 * 1024)   /* memoised answers per state */
#define SCAN_MEMO_BUCKETS   64    /* memo lists per state, by the key's first byte */
#define SCAN_LOCAL          4     /* states a worker thread keeps references to (design note 7) */

/* One stored fragment of a revision, escaped as <Xml> character data. */
struct server_scan_block {
	struct server_scan_block *next;
	int    type;                  /* enum wsus_fragment_type */
	char   locale[SCAN_LOCALE_MAX];
	int    present;               /* 0: the revision has no such fragment */
	size_t len;
	char   text[];
};

struct scan_rev_cache {
	_Atomic(struct server_scan_block *) blocks;
	atomic_int n_blocks;
	_Atomic(struct server_scan_files *) files;
};

/* A kept answer (design notes 5, 6): a's pointers point into data. */
struct server_scan_memo {
	struct server_scan_memo *next;
	uint8_t key[WSUS_SHA1_LEN];
	struct server_scan_answer a;
	char data[];
};

struct server_scan {
	atomic_int refs;
	_Atomic(struct server_scan_memo *) memo[SCAN_MEMO_BUCKETS];
	atomic_size_t memo_bytes;
	struct storage_client_scan c;
	uint32_t *order;              /* NewUpdates order: indices of c.revs */
	uint32_t *by_uid;             /* indices of c.revs by UpdateID */
	int has_driver;
	struct scan_rev_cache *cache; /* per revision */
};

struct scan_slot {
	char *key;
	struct server_scan *cur;
	int building;
	uint64_t used;
};

struct server_scan_cache {
	pthread_mutex_t lock;
	pthread_cond_t built;
	struct scan_slot slot[SCAN_SLOTS];
	uint64_t tick;
};

static pthread_mutex_t cache_init_lock = PTHREAD_MUTEX_INITIALIZER;

/*---- Building ----*/

/* NewUpdates order: non-leaf revisions first (they unlock the rest), then
 * bundles, then the others, each by RevisionID. */
static int cmp_new(const void *a, const void *b, void *base)
{
	const struct storage_client_rev *x = (const struct storage_client_rev *)base + *(const uint32_t *)a;
	const struct storage_client_rev *y = (const struct storage_client_rev *)base + *(const uint32_t *)b;

	if (x->is_leaf != y->is_leaf)
		return x->is_leaf - y->is_leaf;
	if (x->has_bundled != y->has_bundled)
		return y->has_bundled - x->has_bundled;
	return x->revision_id < y->revision_id ? -1 : x->revision_id > y->revision_id;
}

static int cmp_by_uid(const void *a, const void *b, void *base)
{
	const struct storage_client_rev *r = base;

	return strcmp(r[*(const uint32_t *)a].update_id, r[*(const uint32_t *)b].update_id);
}

static int derive(struct server_scan *s)
{
	size_t n = s->c.n;

	s->order = malloc((n ? n : 1) * sizeof(*s->order));
	s->by_uid = malloc((n ? n : 1) * sizeof(*s->by_uid));
	s->cache = calloc(n ? n : 1, sizeof(*s->cache));
	if (s->order == NULL || s->by_uid == NULL || s->cache == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s->order[i] = s->by_uid[i] = (uint32_t)i;
		if (s->c.revs[i].type == WSUS_UT_DRIVER)
			s->has_driver = 1;
	}
	qsort_r(s->order, n, sizeof(*s->order), cmp_new, s->c.revs);
	qsort_r(s->by_uid, n, sizeof(*s->by_uid), cmp_by_uid, s->c.revs);
	return 0;
}

static void scan_free(struct server_scan *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; s->cache != NULL && i < s->c.n; i++) {
		struct server_scan_block *b = atomic_load(&s->cache[i].blocks);

		while (b != NULL) {
			struct server_scan_block *next = b->next;

			free(b);
			b = next;
		}
		free(atomic_load(&s->cache[i].files));
	}
	for (size_t b = 0; b < SCAN_MEMO_BUCKETS; b++)
		for (struct server_scan_memo *m = atomic_load(&s->memo[b]), *next; m != NULL; m = next) {
			next = m->next;
			free(m);
		}
	free(s->cache);
	free(s->order);
	free(s->by_uid);
	storage_client_scan_free(&s->c);
	free(s);
}

static int scan_build(struct storage *st, const struct storage_client_groups *g,
		      const char (*filter)[WSUS_GUID_LEN], size_t n_filter, struct server_scan **out,
		      struct err *e)
{
	struct server_scan *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (s == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = storage_client_scan_build(st, g, filter, n_filter, &s->c, e);
	if (rc == 0 && derive(s) < 0)
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc < 0) {
		scan_free(s);
		return rc;
	}
	atomic_init(&s->refs, 1);
	log_debug("client", "scan state built anchor=%lld revisions=%zu clauses=%zu updates=%zu",
		  (long long)s->c.anchor, s->c.n, s->c.n_clauses, s->c.n_updates);
	*out = s;
	return 0;
}

/*---- References ----*/

void server_scan_put(const struct server_scan *cs)
{
	struct server_scan *s = (struct server_scan *)cs;

	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		scan_free(s);
}

static struct server_scan *scan_ref(struct server_scan *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

const struct server_scan *server_scan_ref(const struct server_scan *s)
{
	return scan_ref((struct server_scan *)s);
}

/*---- The cache ----*/

static struct server_scan_cache *cache_of(struct server *srv)
{
	struct server_scan_cache *c;

	pthread_mutex_lock(&cache_init_lock);
	c = srv->scan_cache;
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c != NULL) {
			pthread_mutex_init(&c->lock, NULL);
			pthread_cond_init(&c->built, NULL);
			srv->scan_cache = c;
		}
	}
	pthread_mutex_unlock(&cache_init_lock);
	return c;
}

void server_scan_cache_free(struct server *srv)
{
	struct server_scan_cache *c = srv->scan_cache;

	if (c == NULL)
		return;
	for (int i = 0; i < SCAN_SLOTS; i++) {
		free(c->slot[i].key);
		server_scan_put(c->slot[i].cur);
	}
	pthread_cond_destroy(&c->built);
	pthread_mutex_destroy(&c->lock);
	free(c);
	srv->scan_cache = NULL;
}

static int make_key(const struct storage_client_groups *g, const char (*filter)[WSUS_GUID_LEN], size_t n_filter,
		    struct wsus_buf *k)
{
	int rc = 0;

	for (size_t i = 0; i < g->n && rc == 0; i++)
		rc = wsus_buf_printf(k, "%s;", g->ids[i]);
	if (rc == 0)
		rc = wsus_buf_appends(k, "|");
	for (size_t i = 0; i < n_filter && rc == 0; i++)
		rc = wsus_buf_printf(k, "%s;", filter[i]);
	return rc;
}

static struct scan_slot *slot_find(struct server_scan_cache *c, const char *key)
{
	for (int i = 0; i < SCAN_SLOTS; i++)
		if (c->slot[i].key != NULL && strcmp(c->slot[i].key, key) == 0)
			return &c->slot[i];
	return NULL;
}

/* A slot for a new key: a free one, else the least recently used one that
 * nobody is building; NULL when every slot is being built. */
static struct scan_slot *slot_claim(struct server_scan_cache *c, const char *key)
{
	struct scan_slot *best = NULL;
	char *k;

	for (int i = 0; i < SCAN_SLOTS; i++) {
		struct scan_slot *sl = &c->slot[i];

		if (sl->building)
			continue;
		if (sl->key == NULL) {
			best = sl;
			break;
		}
		if (best == NULL || sl->used < best->used)
			best = sl;
	}
	if (best == NULL || (k = strdup(key)) == NULL)
		return NULL;
	free(best->key);
	server_scan_put(best->cur);
	best->key = k;
	best->cur = NULL;
	return best;
}

/* Build for slot sl (marked building by the caller, mutex not held) and
 * publish; *out gets a reference. */
static int build_into(struct server_scan_cache *c, struct scan_slot *sl, struct server_req *req,
		      const struct storage_client_groups *g, const char (*filter)[WSUS_GUID_LEN],
		      size_t n_filter, const struct server_scan **out, struct err *e)
{
	struct server_scan *fresh = NULL;
	int rc = scan_build(req->st, g, filter, n_filter, &fresh, e);

	pthread_mutex_lock(&c->lock);
	sl->building = 0;
	if (rc == 0) {
		server_scan_put(sl->cur);
		sl->cur = fresh;
		*out = scan_ref(fresh);
	}
	pthread_cond_broadcast(&c->built);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/*---- A worker's own references (design note 7) ----*/

struct scan_local {
	uint64_t instance, gen;
	char *key;
	const struct server_scan *s;
};

struct scan_locals {
	struct scan_local e[SCAN_LOCAL];
	unsigned next;
};

static pthread_key_t locals_key;
static pthread_once_t locals_once = PTHREAD_ONCE_INIT;

static void locals_free(void *p)
{
	struct scan_locals *l = p;

	for (size_t i = 0; l != NULL && i < SCAN_LOCAL; i++) {
		free(l->e[i].key);
		server_scan_put(l->e[i].s);
	}
	free(l);
}

static void locals_init(void)
{
	pthread_key_create(&locals_key, locals_free);
}

static struct scan_locals *locals(int make)
{
	struct scan_locals *l;

	pthread_once(&locals_once, locals_init);
	l = pthread_getspecific(locals_key);
	if (l == NULL && make && (l = calloc(1, sizeof(*l))) != NULL && pthread_setspecific(locals_key, l) != 0) {
		free(l);
		l = NULL;
	}
	return l;
}

void server_scan_locals_drop(void)
{
	struct scan_locals *l = locals(0);

	if (l != NULL) {
		pthread_setspecific(locals_key, NULL);
		locals_free(l);
	}
}

static int local_get(const struct server *srv, uint64_t gen, const char *key, const struct server_scan **out)
{
	struct scan_locals *l = locals(0);

	for (size_t i = 0; l != NULL && i < SCAN_LOCAL; i++) {
		struct scan_local *x = &l->e[i];

		if (x->s != NULL && x->instance == srv->instance && x->gen == gen && strcmp(x->key, key) == 0) {
			*out = server_scan_ref(x->s);
			return 1;
		}
	}
	return 0;
}

static void local_keep(const struct server *srv, uint64_t gen, const char *key, const struct server_scan *s)
{
	struct scan_locals *l = locals(1);
	struct scan_local *x = NULL;
	char *k;

	if (l == NULL || (k = strdup(key)) == NULL)
		return;
	for (size_t i = 0; i < SCAN_LOCAL && x == NULL; i++)
		if (l->e[i].s != NULL && l->e[i].instance == srv->instance && strcmp(l->e[i].key, key) == 0)
			x = &l->e[i];
	if (x == NULL)
		x = &l->e[l->next++ % SCAN_LOCAL];
	free(x->key);
	server_scan_put(x->s);
	x->instance = srv->instance;
	x->gen = gen;
	x->key = k;
	x->s = server_scan_ref(s);
}

static int scan_get_shared(struct server_req *req, const struct storage_client_groups *g,
			   const char (*filter)[WSUS_GUID_LEN], size_t n_filter, const char *key,
			   const struct server_scan **out, struct err *e)
{
	struct server_scan_cache *c = cache_of(req->srv);
	struct scan_slot *sl;
	int64_t anchor = 0;
	int rc = storage_client_anchor(req->st, &anchor, e);

	if (rc < 0)
		return rc;
	if (c == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_lock(&c->lock);
	for (;;) {
		sl = slot_find(c, key);
		if (sl != NULL && sl->cur != NULL && (sl->cur->c.anchor >= anchor || sl->building)) {
			/* current, or being rebuilt by someone else: design note 2 */
			sl->used = ++c->tick;
			*out = scan_ref(sl->cur);
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		if (sl == NULL || !sl->building)
			break;
		pthread_cond_wait(&c->built, &c->lock);
	}
	if (sl == NULL)
		sl = slot_claim(c, key);
	if (sl == NULL) {
		/* every slot busy building: a state for this request alone */
		struct server_scan *own = NULL;

		pthread_mutex_unlock(&c->lock);
		rc = scan_build(req->st, g, filter, n_filter, &own, e);
		*out = own;
		return rc;
	}
	sl->building = 1;
	sl->used = ++c->tick;
	pthread_mutex_unlock(&c->lock);
	return build_into(c, sl, req, g, filter, n_filter, out, e);
}

/* From this thread's references while the generation stands (read before
 * anything else: server_fresh.c design note 3), else from the table. */
static int scan_get(struct server_req *req, const struct storage_client_groups *g,
		    const char (*filter)[WSUS_GUID_LEN], size_t n_filter, const char *key,
		    const struct server_scan **out, struct err *e)
{
	uint64_t gen = server_fresh_gen(req->srv);
	int rc;

	if (gen != 0 && local_get(req->srv, gen, key, out))
		return 0;
	rc = scan_get_shared(req, g, filter, n_filter, key, out, e);
	if (rc == 0 && gen != 0)
		local_keep(req->srv, gen, key, *out);
	return rc;
}

int server_scan_get(struct server_req *req, const struct storage_client_groups *g,
		    const char (*filter)[WSUS_GUID_LEN], size_t n_filter, const struct server_scan **out,
		    struct server_fault *f)
{
	struct wsus_buf key;
	struct err e = { 0 };
	int rc;

	*out = NULL;
	wsus_buf_init(&key, 64u * 1024);
	rc = make_key(g, filter, n_filter, &key);
	if (rc == 0)
		rc = scan_get(req, g, filter, n_filter, key.data, out, &e);
	else
		err_set(&e, rc, "client group and filter lists too long");
	wsus_buf_free(&key);
	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	return rc;
}

/*---- Reading a state ----*/

int64_t server_scan_anchor(const struct server_scan *s)
{
	return s->c.anchor;
}

size_t server_scan_count(const struct server_scan *s)
{
	return s->c.n;
}

const struct storage_client_rev *server_scan_rev(const struct server_scan *s, size_t i)
{
	return &s->c.revs[i];
}

const struct storage_client_rev *server_scan_revs(const struct server_scan *s)
{
	return s->c.revs;
}

size_t server_scan_order(const struct server_scan *s, size_t k)
{
	return s->order[k];
}

int server_scan_has_driver(const struct server_scan *s)
{
	return s->has_driver;
}

ptrdiff_t server_scan_find(const struct server_scan *s, int64_t revision_id)
{
	size_t lo = 0, hi = s->c.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v = s->c.revs[mid].revision_id;

		if (v == revision_id)
			return (ptrdiff_t)mid;
		if (v < revision_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

ptrdiff_t server_scan_find_identity(const struct server_scan *s, const char *uid, int revision)
{
	size_t lo = 0, hi = s->c.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct storage_client_rev *r = &s->c.revs[s->by_uid[mid]];
		int d = strcmp(r->update_id, uid);

		if (d == 0)
			return r->revision == revision ? (ptrdiff_t)s->by_uid[mid] : -1;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

size_t server_scan_words(const struct server_scan *s)
{
	return (s->c.n_updates + 63) / 64;
}

void server_scan_installed(const struct server_scan *s, const int64_t *ids, size_t n, uint64_t *bits)
{
	memset(bits, 0, server_scan_words(s) * sizeof(*bits));
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = s->c.n_revmap;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int64_t v = s->c.revmap[mid].revision_id;

			if (v == ids[i]) {
				uint32_t u = s->c.revmap[mid].update;

				bits[u / 64] |= UINT64_C(1) << (u % 64);
				break;
			}
			if (v < ids[i])
				lo = mid + 1;
			else
				hi = mid;
		}
	}
}

int server_scan_met(const struct server_scan *s, size_t i, const uint64_t *bits)
{
	for (uint32_t k = s->c.clauses[i]; k < s->c.clauses[i + 1]; k++) {
		int met = 0;

		for (uint32_t m = s->c.members[k]; m < s->c.members[k + 1] && !met; m++) {
			uint32_t u = s->c.need[m];

			met = (bits[u / 64] >> (u % 64)) & 1;
		}
		if (!met)
			return 0;
	}
	return 1;
}

/*---- Cached fragments and payload lists (design note 4) ----*/

static const struct server_scan_block *block_find(const struct server_scan_block *b, int type,
						  const char *locale)
{
	for (; b != NULL; b = b->next)
		if (b->type == type && strcmp(b->locale, locale) == 0)
			return b;
	return NULL;
}

static struct server_scan_block *block_read(struct storage *st, const struct storage_client_rev *r, int type,
					    const char *locale, struct err *e)
{
	struct server_scan_block *b;
	struct wsus_buf esc;
	char *xml = NULL;
	size_t len = 0;
	int rc = storage_client_fragment(st, r->revision_id, (enum wsus_fragment_type)type, locale, &xml, &len, e);

	if (rc < 0 && rc != -ENOENT)
		return NULL;
	wsus_buf_init(&esc, SIZE_MAX / 2);
	if (rc == 0 && wsus_buf_append_xml_text(&esc, xml, len) < 0) {
		free(xml);
		wsus_buf_free(&esc);
		err_set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	free(xml);
	b = malloc(sizeof(*b) + esc.len + 1);
	if (b == NULL) {
		wsus_buf_free(&esc);
		err_set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	b->next = NULL;
	b->type = type;
	snprintf(b->locale, sizeof(b->locale), "%s", locale);
	b->present = rc == 0;
	b->len = esc.len;
	if (esc.len)
		memcpy(b->text, esc.data, esc.len);
	b->text[esc.len] = '\0';
	wsus_buf_free(&esc);
	return b;
}

int server_scan_fragment(struct server_req *req, const struct server_scan *cs, size_t i,
			 enum wsus_fragment_type type, const char *locale, struct wsus_buf *out, int *present)
{
	struct scan_rev_cache *rc = &cs->cache[i];
	const struct server_scan_block *hit;
	struct server_scan_block *b, *head;
	struct err e = { 0 };
	int ret;

	if (locale == NULL || strlen(locale) >= SCAN_LOCALE_MAX)
		locale = "";
	hit = block_find(atomic_load(&rc->blocks), (int)type, locale);
	if (hit != NULL) {
		*present = hit->present;
		return hit->present ? wsus_buf_append(out, hit->text, hit->len) : 0;
	}
	b = block_read(req->st, &cs->c.revs[i], (int)type, locale, &e);
	if (b == NULL) {
		log_err("client", "cannot read fragment revision_id=%lld type=%d: %s",
			(long long)cs->c.revs[i].revision_id, (int)type, e.msg);
		return e.code ? e.code : -EIO;
	}
	*present = b->present;
	ret = b->present ? wsus_buf_append(out, b->text, b->len) : 0;
	if (atomic_fetch_add(&rc->n_blocks, 1) >= SCAN_BLOCKS_PER_REV) {
		atomic_fetch_sub(&rc->n_blocks, 1);
		free(b);
		return ret;
	}
	head = atomic_load(&rc->blocks);
	do
		b->next = head;
	while (!atomic_compare_exchange_weak(&rc->blocks, &head, b));
	return ret;
}

int server_scan_files(struct server_req *req, const struct server_scan *cs, size_t i,
		      const struct server_scan_files **out)
{
	struct scan_rev_cache *rc = &cs->cache[i];
	struct server_scan_files *fl = atomic_load(&rc->files), *expect = NULL;
	struct storage_client_file *items = NULL;
	struct err e = { 0 };
	size_t n = 0;
	int ret;

	if (fl != NULL) {
		*out = fl;
		return 0;
	}
	ret = storage_client_files(req->st, cs->c.revs[i].revision_id, &items, &n, &e);
	if (ret < 0) {
		log_err("client", "cannot list files revision_id=%lld: %s", (long long)cs->c.revs[i].revision_id,
			e.msg);
		return ret;
	}
	fl = malloc(sizeof(*fl) + (n ? n : 1) * sizeof(fl->items[0]));
	if (fl == NULL) {
		free(items);
		return -ENOMEM;
	}
	fl->n = n;
	fl->encrypted = 0;
	for (size_t k = 0; k < n; k++) {
		fl->items[k] = items[k];
		fl->encrypted |= items[k].encrypted != 0;
	}
	free(items);
	if (!atomic_compare_exchange_strong(&rc->files, &expect, fl)) {
		free(fl);
		fl = expect;
	}
	*out = fl;
	return 0;
}

/*---- Memoised answers (design note 5) ----*/

static _Atomic(struct server_scan_memo *) *memo_bucket(const struct server_scan *s, const uint8_t key[WSUS_SHA1_LEN])
{
	return &((struct server_scan *)s)->memo[key[0] % SCAN_MEMO_BUCKETS];
}

int server_scan_memo_get(const struct server_scan *s, const uint8_t key[WSUS_SHA1_LEN], struct server_scan_answer *a)
{
	for (struct server_scan_memo *m = atomic_load(memo_bucket(s, key)); m != NULL; m = m->next)
		if (memcmp(m->key, key, WSUS_SHA1_LEN) == 0) {
			*a = m->a;
			return 1;
		}
	return 0;
}

void server_scan_memo_put(const struct server_scan *cs, const uint8_t key[WSUS_SHA1_LEN],
			  const struct server_scan_answer *a)
{
	struct server_scan *s = (struct server_scan *)cs;
	_Atomic(struct server_scan_memo *) *bucket = memo_bucket(s, key);
	size_t size = a->len + a->tail_len;
	struct server_scan_answer seen;
	struct server_scan_memo *m, *head;

	if (server_scan_memo_get(s, key, &seen))
		return;
	if (atomic_fetch_add(&s->memo_bytes, size) + size > SCAN_MEMO_BYTES) {
		atomic_fetch_sub(&s->memo_bytes, size);
		return;
	}
	m = malloc(sizeof(*m) + (size ? size : 1));
	if (m == NULL) {
		atomic_fetch_sub(&s->memo_bytes, size);
		return;
	}
	memcpy(m->key, key, WSUS_SHA1_LEN);
	m->a = *a;
	if (a->len)
		memcpy(m->data, a->data, a->len);
	if (a->tail_len)
		memcpy(m->data + a->len, a->tail, a->tail_len);
	m->a.data = m->data;
	m->a.tail = a->tail != NULL ? m->data + a->len : NULL;
	head = atomic_load(bucket);
	do
		m->next = head;
	while (!atomic_compare_exchange_weak(bucket, &head, m));
}
