/*
 * server_client_sync.c -- SyncUpdates and SyncPrinterCatalog (MS-WUSP
 * 3.1.5.7, 3.1.5.12): which revisions a client is told about, page by page.
 *
 *   needed    = what is deployed to the client's groups plus the closure of
 *               its prerequisites and bundled updates (the prepared scan state,
 *               server_scanstate.c),
 *               restricted to revisions whose prerequisites the client reports
 *               installed; software mode keeps everything but drivers (the
 *               categories and detectoids are how a client evaluates the rest,
 *               T11), driver mode the best driver per device, printer mode the
 *               printer drivers;
 *   cached    = the ids the client says it holds;
 *   NewUpdates = needed - cached, non-leaf first, SYNC_PAGE at a time
 *               (Truncated when more remain); OutOfScope = cached - needed;
 *   ChangedUpdates = needed & cached whose deployment rows moved past the
 *               cookie's anchor, or whose IsLeaf differs from what it was
 *               at that anchor.
 * The client's lists are bounded; the work per call is a fixed number of
 * set queries plus one Core fragment read per revision sent.
 *
 * A software-mode answer is a function of the prepared states and of the
 * request's lists, SOAP version, protocol version, the cookie's anchor (as
 * far as it is behind the state's) and the coding asked for: all but its
 * NewCookie is kept in the state (server_scanstate.c design note 6), so
 * the clients of one group asking the same page, or the same delta, cost one
 * computation. The lists are hashed as sent; they are sorted only when the
 * answer has to be computed.
 */
#include "server_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SYNC_PAGE            30        /* NewUpdates per answer */
#define SYNC_MAX_INSTALLED   400       /* InstalledNonLeafUpdateIDs */
#define SYNC_MAX_CACHED      100000    /* OtherCachedUpdateIDs, CachedDriverIDs, printerUpdateIDs */
#define SYNC_MAX_FILTER      200       /* FilterCategoryIds */
#define SYNC_MAX_DEVICES     2000
#define SYNC_MAX_DEVICE_IDS  20000     /* HardwareIDs and CompatibleIDs of all devices */
#define SYNC_MAX_CHIDS       64        /* ComputerSpec HardwareIDs */
#define SYNC_MAX_HWIDS       16        /* HardwareIds listed in one driver deployment */

/*---- Request limits ----*/

static const struct protocol_list_limit sync_lists[] = {
	{ "InstalledNonLeafUpdateIDs", SYNC_MAX_INSTALLED },
	{ "installedNonLeafUpdateIDs", SYNC_MAX_INSTALLED },
	{ "OtherCachedUpdateIDs", SYNC_MAX_CACHED },
	{ "CachedDriverIDs", SYNC_MAX_CACHED },
	{ "printerUpdateIDs", SYNC_MAX_CACHED },
	{ NULL, 0 },
};

/* The id lists go to int64 arrays (not elements); the elements are the
 * SystemSpec of a driver sync at its ceilings, with room to spare. */
const struct protocol_limits server_client_sync_limits = {
	.max_bytes = PROTOCOL_MAX_SOAP_BODY,
	.max_elements = SYNC_MAX_DEVICES * 16 + SYNC_MAX_DEVICE_IDS + SYNC_MAX_FILTER * 3 + 4096,
	.max_attrs = 64,
	.max_depth = 32,
	.max_text = 16 * 1024,
	.max_tag = 16 * 1024,
	.max_ids = 1000,
	.lists = sync_lists,
};

/*---- Id sets ----*/

struct id_set {
	int64_t *v;       /* sorted, unique */
	size_t n;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Take over a and b (both malloc'd) as one sorted set. */
static int set_make(struct id_set *s, int64_t *a, size_t na, int64_t *b, size_t nb)
{
	int64_t *v = realloc(a, (na + nb ? na + nb : 1) * sizeof(*v));
	size_t k = 0;

	if (v == NULL) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	if (nb)
		memcpy(v + na, b, nb * sizeof(*v));
	free(b);
	qsort(v, na + nb, sizeof(*v), cmp_i64);
	for (size_t i = 0; i < na + nb; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	s->v = v;
	s->n = k;
	return 0;
}

static int set_has(const struct id_set *s, int64_t id)
{
	return s->n > 0 && bsearch(&id, s->v, s->n, sizeof(*s->v), cmp_i64) != NULL;
}

/*---- Request ----*/

struct device {
	char  **ids;                /* HardwareIDs then CompatibleIDs, best first */
	size_t  n_ids;
	int     installed;          /* an installedDriver was reported */
	char    matching_id[208];
	char    date[16];           /* its DriverVerDate, yyyy-mm-dd */
	uint64_t version;
	char    class_name[64], provider[128], manufacturer[128];
	char    chid[WSUS_GUID_LEN];
};

enum sync_mode { MODE_SOFTWARE, MODE_DRIVER, MODE_PRINTER };

struct sync {
	struct server_req *req;
	struct server_cookie_claims c;
	enum sync_mode mode;
	int version;                /* SOAP version of the request */
	int64_t *installed;         /* InstalledNonLeafUpdateIDs, as sent */
	size_t n_installed;
	int64_t *rest;              /* the other cached list, as sent, until cached is made */
	size_t n_rest;
	struct id_set cached;
	char (*filter)[WSUS_GUID_LEN];
	size_t n_filter;
	int need_two;               /* split OutOfScope (gated) */
	int late_client;            /* client protocol >= 1.7 */
	struct device *dev;
	size_t n_dev, n_dev_ids;
	char chids[SYNC_MAX_CHIDS][WSUS_GUID_LEN];
	size_t n_chids;
	char score_os[64];
	/* results */
	const struct server_scan *full, *scan;  /* scan == full without a filter */
	uint64_t *inst_full, *inst_scan;        /* the installed ids as update-number sets of each */
	int32_t *cidx;              /* per cached id: its index in scan, -1 when not in the closure */
	uint8_t *cpick;             /* per cached id: 1 when it is a NeededRevision of this mode */
	uint32_t *cin;              /* the cached indices of scan, ascending */
	size_t n_cin;
	struct pick {
		const struct storage_client_rev *r;
		size_t idx;                 /* r's index in scan */
		const char *hwids[SYNC_MAX_HWIDS];
		size_t n_hwids;
	} *picks;                   /* driver and printer modes: the NeededRevisions, by RevisionID */
	size_t n_picks;
	int64_t *flipped;           /* cached picks whose IsLeaf was the other way at the cookie's anchor */
	size_t n_flipped;
	int64_t anchor;
	struct storage_client_driver *rows;
	size_t n_rows;
};

static void device_free(struct device *d)
{
	for (size_t i = 0; i < d->n_ids; i++)
		free(d->ids[i]);
	free(d->ids);
}

static void sync_free(struct sync *s)
{
	free(s->installed);
	free(s->rest);
	free(s->cached.v);
	free(s->filter);
	for (size_t i = 0; i < s->n_dev; i++)
		device_free(&s->dev[i]);
	free(s->dev);
	if (s->scan != s->full)
		server_scan_put(s->scan);
	server_scan_put(s->full);
	free(s->inst_full);
	free(s->inst_scan);
	free(s->cidx);
	free(s->cpick);
	free(s->cin);
	free(s->picks);
	free(s->flipped);
	free(s->rows);
}

/* "a.b.c.d" as 16-bit parts of one 64-bit value (missing parts are 0). */
static uint64_t version_pack(const char *s)
{
	uint64_t v = 0;
	int parts = 0;

	while (parts < 4) {
		char *end;
		unsigned long x = strtoul(s, &end, 10);

		if (end == s || x > 0xffff)
			break;
		v |= (uint64_t)x << (48 - 16 * parts);
		parts++;
		if (*end != '.')
			break;
		s = end + 1;
	}
	return v;
}

static void copy_text(const struct protocol_node *parent, const char *name, char *out, size_t cap)
{
	char *t = protocol_req_text(protocol_req_child(parent, name));

	snprintf(out, cap, "%s", t ? t : "");
	free(t);
}

static int add_device_ids(struct sync *s, struct device *d, const struct protocol_node *list,
			  struct server_fault *f)
{
	for (const struct protocol_node *it = protocol_req_child(list, "string"); it;
	     it = protocol_req_next(it)) {
		char *t = protocol_req_text(it), **nv;

		if (t == NULL || t[0] == '\0' || strlen(t) >= 200) {
			free(t);
			continue;
		}
		if (++s->n_dev_ids > SYNC_MAX_DEVICE_IDS) {
			free(t);
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "SystemSpec: too many ids");
		}
		nv = realloc(d->ids, (d->n_ids + 1) * sizeof(*nv));
		if (nv == NULL) {
			free(t);
			server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
			return -ENOMEM;
		}
		d->ids = nv;
		d->ids[d->n_ids++] = t;
	}
	return 0;
}

static int read_device(struct sync *s, const struct protocol_node *n, struct device *d,
		       struct server_fault *f)
{
	const struct protocol_node *inst = protocol_req_child(n, "installedDriver");
	char text[64];
	int64_t v;
	int rc;

	rc = add_device_ids(s, d, protocol_req_child(n, "HardwareIDs"), f);
	if (rc == 0)
		rc = add_device_ids(s, d, protocol_req_child(n, "CompatibleIDs"), f);
	if (rc < 0 || inst == NULL)
		return rc;
	d->installed = 1;
	copy_text(inst, "MatchingID", d->matching_id, sizeof(d->matching_id));
	copy_text(inst, "DriverVerDate", text, sizeof(text));
	snprintf(d->date, sizeof(d->date), "%.10s", text);
	if (protocol_req_child_int(inst, "DriverVerVersion", INT64_MIN, INT64_MAX, &v) == 0)
		d->version = (uint64_t)v;
	copy_text(inst, "Class", d->class_name, sizeof(d->class_name));
	copy_text(inst, "Provider", d->provider, sizeof(d->provider));
	copy_text(inst, "Manufacturer", d->manufacturer, sizeof(d->manufacturer));
	copy_text(inst, "MatchingComputerHWID", text, sizeof(text));
	if (wsus_guid_normalize(text, d->chid) < 0)
		d->chid[0] = '\0';
	return 0;
}

static int read_system_spec(struct sync *s, const struct protocol_node *spec,
			    struct server_fault *f)
{
	size_t n = 0;

	for (const struct protocol_node *it = protocol_req_child(spec, "Device"); it;
	     it = protocol_req_next(it))
		if (++n > SYNC_MAX_DEVICES)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "SystemSpec: too many devices");
	s->dev = calloc(n ? n : 1, sizeof(*s->dev));
	if (s->dev == NULL) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	for (const struct protocol_node *it = protocol_req_child(spec, "Device"); it;
	     it = protocol_req_next(it)) {
		int rc = read_device(s, it, &s->dev[s->n_dev++], f);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int read_computer_spec(struct sync *s, const struct protocol_node *params,
			      struct server_fault *f)
{
	const struct protocol_node *ids = protocol_req_child(protocol_req_child(params,
										"ComputerSpec"), "HardwareIDs");

	for (const struct protocol_node *it = protocol_req_child(ids, "guid"); it;
	     it = protocol_req_next(it)) {
		char *t = protocol_req_text(it);
		int rc = t && s->n_chids < SYNC_MAX_CHIDS ? wsus_guid_normalize(t, s->chids[s->n_chids]) : -1;

		free(t);
		if (s->n_chids >= SYNC_MAX_CHIDS)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "ComputerSpec");
		if (rc == 0)
			s->n_chids++;
	}
	copy_text(params, "FeatureScoreMatchingKey", s->score_os, sizeof(s->score_os));
	return 0;
}

static int read_filter(struct sync *s, const struct protocol_node *params, struct server_fault *f)
{
	const struct protocol_node *list = protocol_req_child(params, "FilterCategoryIds");
	size_t n = 0;

	for (const struct protocol_node *it = protocol_req_child(list, "CategoryIdentifier"); it;
	     it = protocol_req_next(it))
		if (++n > SYNC_MAX_FILTER)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "FilterCategoryIds");
	if (n == 0)
		return 0;
	s->filter = calloc(n, sizeof(*s->filter));
	if (s->filter == NULL) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	for (const struct protocol_node *it = protocol_req_child(list, "CategoryIdentifier"); it;
	     it = protocol_req_next(it)) {
		char text[64];

		if (protocol_req_child_text(it, "Id", text, sizeof(text)) < 0 ||
		    wsus_guid_normalize(text, s->filter[s->n_filter]) < 0)
			return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "FilterCategoryIds");
		s->n_filter++;
	}
	return 0;
}

static int read_lists(struct sync *s, const struct protocol_node *parent, const char *installed,
		      const char *other,
		      struct server_fault *f)
{
	int64_t *inst = NULL, *rest = NULL;
	size_t n_inst = 0, n_rest = 0;
	int rc;

	/* More than 400 installed non-leaf revisions is not a real client. */
	rc = server_client_ids(protocol_req_child(parent, installed), installed, SYNC_MAX_INSTALLED,
			       &inst, &n_inst, f);
	if (rc == 0)
		rc = server_client_ids(protocol_req_child(parent, other), other, SYNC_MAX_CACHED,
				       &rest,
				       &n_rest, f);
	if (rc < 0) {
		free(inst);
		return rc;
	}
	s->installed = inst;
	s->n_installed = n_inst;
	s->rest = rest;
	s->n_rest = n_rest;
	return 0;
}

/* The cached set from the lists as sent. Software mode caches installed and
 * other ids; the other modes name their own cache list and send the
 * installed ones only as evidence. */
static int make_cached(struct sync *s, struct server_fault *f)
{
	size_t n_inst = s->mode == MODE_SOFTWARE ? s->n_installed : 0;
	int64_t *copy = malloc((n_inst ? n_inst : 1) * sizeof(*copy));
	int rc;

	if (copy != NULL && n_inst)
		memcpy(copy, s->installed, n_inst * sizeof(*copy));
	rc = copy != NULL ? set_make(&s->cached, copy, n_inst, s->rest, s->n_rest) : -ENOMEM;
	if (copy == NULL)
		free(s->rest);
	s->rest = NULL;
	s->n_rest = 0;
	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
	return rc;
}

static int read_sync_params(struct sync *s, const struct protocol_node *op, struct server_fault *f)
{
	const struct protocol_node *params = protocol_req_child(op, "parameters");
	const struct protocol_node *spec;
	int skip = 0, rc;

	if (params == NULL)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "parameters");
	if (protocol_req_child_bool(params, "SkipSoftwareSync", &skip) < 0)
		skip = 0;
	s->mode = skip ? MODE_DRIVER : MODE_SOFTWARE;
	spec = protocol_req_child(params, "SystemSpec");
	if (spec != NULL && !skip)
		return server_fault_set(f, PROTOCOL_ERR_INVALID_PARAMETERS, "SystemSpec in a software sync");
	rc = read_lists(s, params, "InstalledNonLeafUpdateIDs",
			skip ? "CachedDriverIDs" : "OtherCachedUpdateIDs", f);
	if (rc == 0 && skip)
		rc = read_system_spec(s, spec, f);
	if (rc == 0 && skip)
		rc = read_computer_spec(s, params, f);
	/* Category scans exist for clients of 1.7 and later (we serve 3.2). */
	if (rc == 0 && s->late_client) {
		rc = read_filter(s, params, f);
		if (rc == 0 && protocol_req_child_bool(params, "NeedTwoGroupOutOfScopeUpdates",
						       &s->need_two) < 0)
			s->need_two = 0;
	}
	return rc;
}

/*---- Selection ----*/

/* Revision i of state sc is offered in software mode: not a driver, and its
 * prerequisites are installed (inst: the client's installed update set in sc). */
static int soft_pick(const struct server_scan *sc, const uint64_t *inst, size_t i)
{
	return server_scan_rev(sc, i)->type != WSUS_UT_DRIVER && server_scan_met(sc, i, inst);
}

static struct pick *find_pick(const struct sync *s, int64_t id)
{
	for (size_t lo = 0, hi = s->n_picks; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v = s->picks[mid].r->revision_id;

		if (v == id)
			return &s->picks[mid];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The NeededRevision of the i-th cached id, or NULL (software mode: made
 * in tmp; the driver modes: from picks). */
static const struct pick *cached_pick(const struct sync *s, size_t i, struct pick *tmp)
{
	if (!s->cpick[i])
		return NULL;
	if (s->mode != MODE_SOFTWARE)
		return find_pick(s, s->cached.v[i]);
	memset(tmp, 0, sizeof(*tmp));
	tmp->idx = (size_t)s->cidx[i];
	tmp->r = server_scan_rev(s->scan, tmp->idx);
	return tmp;
}

/* Index i of scan is among the client's cached ids. Asked in NewUpdates
 * order, whose runs (non-leaf, bundles, the rest) each ascend: *pos walks
 * cin forward within a run and starts over when i goes down. */
static int scan_cached(const struct sync *s, size_t i, size_t *prev, size_t *pos)
{
	if (i < *prev)
		*pos = 0;
	*prev = i;
	while (*pos < s->n_cin && s->cin[*pos] < i)
		(*pos)++;
	return *pos < s->n_cin && s->cin[*pos] == i;
}

/* The same from the unfiltered closure (the split OutOfScope lists). */
static int picked_full(const struct sync *s, int64_t id)
{
	ptrdiff_t i = server_scan_find(s->full, id);

	return i >= 0 && soft_pick(s->full, s->inst_full, (size_t)i);
}

/* Where each cached id is in scan and whether it is needed: one merge of
 * two sorted lists, kept for the three parts of the answer. */
static int classify_cached(struct sync *s)
{
	const struct storage_client_rev *revs = server_scan_revs(s->scan);
	size_t n = server_scan_count(s->scan), j = 0, m = s->cached.n ? s->cached.n : 1;

	s->cidx = malloc(m * sizeof(*s->cidx));
	s->cpick = malloc(m * sizeof(*s->cpick));
	s->cin = malloc(m * sizeof(*s->cin));
	if (s->cidx == NULL || s->cpick == NULL || s->cin == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->cached.n; i++) {
		int64_t id = s->cached.v[i];

		while (j < n && revs[j].revision_id < id)
			j++;
		s->cidx[i] = -1;
		s->cpick[i] = 0;
		if (j == n || revs[j].revision_id != id)
			continue;
		s->cidx[i] = (int32_t)j;
		s->cin[s->n_cin++] = (uint32_t)j;
		s->cpick[i] = s->mode == MODE_SOFTWARE ? soft_pick(s->scan, s->inst_scan, j) : find_pick(s, id) != NULL;
	}
	return 0;
}

/* The driver-table ranking of 3.1.5.7, as a key: lower is better. */
struct rank {
	int      chid;      /* index of the most specific matching computer CHID */
	int      score;     /* feature score for the OS key (none: after all scores) */
	int      hwpos;     /* position of the matched id in the device's list */
	const char *date;
	uint64_t version;
	int64_t  revision_id;
};

static int rank_better(const struct rank *a, const struct rank *b)
{
	int d;

	if (a->chid != b->chid)
		return a->chid < b->chid;
	if (a->score != b->score)
		return a->score < b->score;
	if (a->hwpos != b->hwpos)
		return a->hwpos < b->hwpos;
	d = strcmp(a->date, b->date);
	if (d != 0)
		return d > 0;
	if (a->version != b->version)
		return a->version > b->version;
	return a->revision_id < b->revision_id;
}

static int chid_index(const struct sync *s, const char *guid)
{
	char norm[WSUS_GUID_LEN];

	if (wsus_guid_normalize(guid, norm) < 0)
		return INT_MAX;
	for (size_t i = 0; i < s->n_chids; i++)
		if (strcmp(s->chids[i], norm) == 0)
			return (int)i;
	return INT_MAX;
}

static int row_chid(const struct sync *s, const struct storage_client_driver *d)
{
	char one[64];
	const char *p = d->chids;
	int best = INT_MAX;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int k;

		snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n : sizeof(one) - 1), p);
		k = chid_index(s, one);
		if (k < best)
			best = k;
		p += n + (end != NULL);
	}
	return best;
}

static int device_pos(const struct device *d, const char *id)
{
	for (size_t i = 0; i < d->n_ids; i++)
		if (strcasecmp(d->ids[i], id) == 0)
			return (int)i;
	return INT_MAX;
}

/* Better than what the device has: the same order without the feature
 * score, which a client does not report for its installed driver. */
static int beats_installed(const struct sync *s, const struct device *d, const struct rank *r)
{
	int chid = d->chid[0] ? chid_index(s, d->chid) : INT_MAX;
	int pos = device_pos(d, d->matching_id);
	int c;

	if (r->chid != chid)
		return r->chid < chid;
	if (r->hwpos != pos)
		return r->hwpos < pos;
	c = strcmp(r->date, d->date);
	if (c != 0)
		return c > 0;
	return r->version > d->version;
}

static int pick_hwid(struct pick *p, const char *hwid)
{
	for (size_t i = 0; i < p->n_hwids; i++)
		if (strcasecmp(p->hwids[i], hwid) == 0)
			return 0;
	if (p->n_hwids < SYNC_MAX_HWIDS)
		p->hwids[p->n_hwids++] = hwid;
	return 0;
}

/* The best driver row for device d, or NULL when no row matches it. */
static const struct storage_client_driver *best_row_for(const struct sync *s, const struct device *d,
							  struct rank *best)
{
	const struct storage_client_driver *best_row = NULL;

	for (size_t i = 0; i < s->n_rows; i++) {
		const struct storage_client_driver *row = &s->rows[i];
		struct rank r;

		r.hwpos = device_pos(d, row->hardware_id);
		if (r.hwpos == INT_MAX)
			continue;
		r.chid = row_chid(s, row);
		r.score = row->feature_score >= 0 ? row->feature_score : 256;
		r.date = row->ver_date;
		r.version = version_pack(row->ver_version);
		r.revision_id = row->revision_id;
		if (best_row == NULL || rank_better(&r, best)) {
			*best = r;
			best_row = row;
		}
	}
	return best_row;
}

/* Pick the candidate revision of row (once), noting the row's HardwareID. */
static void pick_row(const struct pick *cand, size_t n_cand, const struct storage_client_driver *row,
		     struct pick *out, size_t *n_out)
{
	size_t i, k;

	for (i = 0; i < n_cand && cand[i].r->revision_id != row->revision_id; i++)
		;
	if (i == n_cand)
		return;
	for (k = 0; k < *n_out && out[k].r != cand[i].r; k++)
		;
	if (k == *n_out)
		out[(*n_out)++] = cand[i];
	pick_hwid(&out[k], row->hardware_id);
}

/* The best row for each device; its revision is picked when it also beats
 * the installed driver (and, for a printer, comes from the same provider
 * and manufacturer). */
static void pick_drivers(struct sync *s, const struct pick *cand, size_t n_cand, struct pick *out,
			 size_t *n_out)
{
	*n_out = 0;
	for (size_t di = 0; di < s->n_dev; di++) {
		const struct device *d = &s->dev[di];
		struct rank best = { 0 };
		const struct storage_client_driver *row = best_row_for(s, d, &best);

		if (row == NULL || (d->installed && !beats_installed(s, d, &best)))
			continue;
		if (d->installed && strcasecmp(d->class_name, "Printer") == 0 &&
		    (strcasecmp(row->provider, d->provider) != 0 ||
		     strcasecmp(row->manufacturer, d->manufacturer) != 0))
			continue;
		pick_row(cand, n_cand, row, out, n_out);
	}
}

static int cmp_pick_id(const void *a, const void *b)
{
	int64_t x = ((const struct pick *)a)->r->revision_id, y = ((const struct pick *)b)->r->revision_id;

	return x < y ? -1 : x > y;
}

/* Driver and printer modes: the satisfied drivers of the closure, then the
 * rows that decide among them. */
static int select_drivers(struct sync *s, struct server_fault *f)
{
	size_t n_scan = server_scan_count(s->scan);
	int64_t *ids = NULL;
	const char **dev_ids = NULL;
	struct pick *cand = NULL;
	size_t n_ids = 0, k = 0;
	struct err e = { 0 };
	int rc = -ENOMEM;

	ids = malloc((n_scan ? n_scan : 1) * sizeof(*ids));
	cand = calloc(n_scan ? n_scan : 1, sizeof(*cand));
	dev_ids = malloc((s->n_dev_ids ? s->n_dev_ids : 1) * sizeof(*dev_ids));
	if (ids == NULL || cand == NULL || dev_ids == NULL)
		goto oom;
	for (size_t i = 0; i < n_scan; i++) {
		const struct storage_client_rev *r = server_scan_rev(s->scan, i);

		if (r->type != WSUS_UT_DRIVER || !server_scan_met(s->scan, i, s->inst_scan))
			continue;
		cand[n_ids].r = r;
		cand[n_ids].idx = i;
		ids[n_ids++] = r->revision_id;
	}
	for (size_t i = 0; i < s->n_dev; i++)
		for (size_t j = 0; j < s->dev[i].n_ids; j++)
			dev_ids[k++] = s->dev[i].ids[j];
	rc = n_ids == 0 ? 0 :
		storage_client_drivers(s->req->st, ids, n_ids, s->mode == MODE_PRINTER ? NULL : dev_ids, k,
				       s->score_os, s->mode == MODE_PRINTER, &s->rows, &s->n_rows, &e);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
		goto done;
	}
	s->picks = calloc(n_ids ? n_ids : 1, sizeof(*s->picks));
	if (s->picks == NULL)
		goto oom;
	if (s->mode == MODE_PRINTER) {
		/* No system spec: every approved printer driver the client may evaluate. */
		for (size_t i = 0; i < n_ids; i++)
			for (size_t r = 0; r < s->n_rows; r++)
				if (s->rows[r].revision_id == cand[i].r->revision_id) {
					s->picks[s->n_picks++] = cand[i];
					break;
				}
	} else {
		pick_drivers(s, cand, n_ids, s->picks, &s->n_picks);
	}
	qsort(s->picks, s->n_picks, sizeof(*s->picks), cmp_pick_id);
	rc = 0;
	goto done;
oom:
	server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
	rc = -ENOMEM;
done:
	free(ids);
	free(cand);
	free(dev_ids);
	return rc;
}

static int cmp_i64_key(const void *key, const void *elem)
{
	return cmp_i64(key, elem);
}

static int leaf_flipped(const struct sync *s, int64_t id)
{
	return s->n_flipped > 0 && bsearch(&id, s->flipped, s->n_flipped, sizeof(*s->flipped), cmp_i64_key);
}

/* Which revisions the client holds had another IsLeaf at the cookie's
 * anchor (only asked when the catalogue moved since). */
static int leaf_flips(struct sync *s, struct server_fault *f)
{
	int64_t *ids;
	int *was, *leafs;
	size_t n = 0;
	struct err e = { 0 };
	int rc;

	if (s->c.aux >= s->anchor || s->cached.n == 0)
		return 0;
	ids = malloc(s->cached.n * sizeof(*ids));
	was = malloc(s->cached.n * sizeof(*was));
	leafs = malloc(s->cached.n * sizeof(*leafs));
	if (ids == NULL || was == NULL || leafs == NULL) {
		free(ids);
		free(was);
		free(leafs);
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cached.n; i++)   /* sorted: so is ids */
		if (s->cpick[i]) {
			leafs[n] = server_scan_rev(s->scan, (size_t)s->cidx[i])->is_leaf;
			ids[n++] = s->cached.v[i];
		}
	rc = storage_client_leaf_at(s->req->st, ids, n, s->c.aux, was, &e);
	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (was[i] != leafs[i])
			ids[s->n_flipped++] = ids[i];
	free(was);
	free(leafs);
	if (rc == 0 && s->n_flipped > 0)
		s->flipped = ids;
	else
		free(ids);
	return rc;
}

static int installed_in(const struct server_scan *sc, const struct sync *s, uint64_t **out)
{
	size_t words = server_scan_words(sc);

	*out = malloc((words ? words : 1) * sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	server_scan_installed(sc, s->installed, s->n_installed, *out);
	return 0;
}

/* The client's states (unfiltered and, with a filter, filtered) and the
 * anchor its answer reflects. */
static int scope(struct sync *s, struct server_fault *f)
{
	struct storage_client_groups g;
	int rc;

	rc = server_client_groups(s->req, &s->c, &g, f);
	if (rc < 0)
		return rc;
	/* The NewCookie records the anchor the answer reflects: whatever
	 * commits later is reported on the next call. */
	rc = server_scan_get(s->req, &g, NULL, 0, &s->full, f);
	if (rc == 0 && s->n_filter > 0)
		rc = server_scan_get(s->req, &g, (const char (*)[WSUS_GUID_LEN])s->filter, s->n_filter, &s->scan,
				     f);
	if (rc < 0)
		return rc;
	if (s->n_filter == 0)
		s->scan = s->full;
	s->anchor = server_scan_anchor(s->full);
	if (server_scan_anchor(s->scan) < s->anchor)
		s->anchor = server_scan_anchor(s->scan);
	return 0;
}

static int compute(struct sync *s, struct server_fault *f)
{
	int rc = make_cached(s, f);

	if (rc < 0)
		return rc;
	rc = installed_in(s->full, s, &s->inst_full);
	if (rc == 0)
		rc = installed_in(s->scan, s, &s->inst_scan);
	if (rc < 0) {
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
		return rc;
	}
	if (s->mode != MODE_SOFTWARE)
		rc = select_drivers(s, f);
	if (rc == 0 && classify_cached(s) < 0)
		rc = server_fault_set(f, PROTOCOL_ERR_INTERNAL, "out of memory");
	if (rc == 0)
		rc = leaf_flips(s, f);
	return rc;
}

/*---- Answer ----*/

/* NewUpdates order (as server_scan_order): non-leaf revisions first (they
 * unlock the rest), then bundles, then the others, each by RevisionID. */
static int cmp_new(const void *a, const void *b)
{
	const struct storage_client_rev *x = ((const struct pick *)a)->r, *y = ((const struct pick *)b)->r;

	if (x->is_leaf != y->is_leaf)
		return x->is_leaf - y->is_leaf;
	if (x->has_bundled != y->has_bundled)
		return y->has_bundled - x->has_bundled;
	return x->revision_id < y->revision_id ? -1 : x->revision_id > y->revision_id;
}

static int put_update_info(struct sync *s, struct wsus_buf *out, const struct pick *p, int with_xml)
{
	const struct storage_client_rev *r = p->r;
	int rc, present = 1;

	rc = wsus_buf_printf(out, "<UpdateInfo><ID>%lld</ID>", (long long)r->revision_id);
	if (rc == 0)
		rc = server_client_put_deployment(out, r, s->c.protocol_version, p->hwids, p->n_hwids);
	if (rc == 0)
		rc = wsus_buf_printf(out, "<IsLeaf>%s</IsLeaf>", r->is_leaf ? "true" : "false");
	if (rc == 0 && with_xml) {
		rc = wsus_buf_appends(out, "<Xml>");
		if (rc == 0)
			rc = server_scan_fragment(s->req, s->scan, p->idx, WSUS_FRAG_CORE, NULL, out, &present);
		if (rc == 0 && !present) {
			log_err("client", "no Core fragment update=%s revision=%d", r->update_id, r->revision);
			rc = -ENOENT;
		}
		if (rc == 0)
			rc = wsus_buf_appends(out, "</Xml>");
	}
	if (rc == 0)
		rc = wsus_buf_appends(out, "</UpdateInfo>");
	return rc;
}

/* Software mode: the closure in NewUpdates order, what the client lacks. */
static int put_new_software(struct sync *s, struct wsus_buf *out, int *truncated)
{
	size_t n = server_scan_count(s->scan), sent = 0, prev = 0, pos = 0;
	int rc = 0;

	for (size_t k = 0; k < n && rc == 0; k++) {
		size_t i = server_scan_order(s->scan, k);
		struct pick p = { .r = server_scan_rev(s->scan, i), .idx = i };

		if (scan_cached(s, i, &prev, &pos) || !soft_pick(s->scan, s->inst_scan, i))
			continue;
		if (sent == SYNC_PAGE) {
			*truncated = 1;
			break;
		}
		rc = put_update_info(s, out, &p, 1);
		sent++;
	}
	return rc;
}

static int put_new_picks(struct sync *s, struct wsus_buf *out, int *truncated)
{
	struct pick *fresh = malloc((s->n_picks ? s->n_picks : 1) * sizeof(*fresh));
	size_t n = 0;
	int rc = 0;

	if (fresh == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_picks; i++)
		if (!set_has(&s->cached, s->picks[i].r->revision_id))
			fresh[n++] = s->picks[i];
	qsort(fresh, n, sizeof(*fresh), cmp_new);
	*truncated = n > SYNC_PAGE;
	for (size_t i = 0; i < n && i < SYNC_PAGE && rc == 0; i++)
		rc = put_update_info(s, out, &fresh[i], 1);
	free(fresh);
	return rc;
}

static int put_new_updates(struct sync *s, struct wsus_buf *out, int *truncated)
{
	int rc = wsus_buf_appends(out, "<NewUpdates>");

	*truncated = 0;
	if (rc == 0)
		rc = s->mode == MODE_SOFTWARE ? put_new_software(s, out, truncated) : put_new_picks(s, out, truncated);
	if (rc == 0)
		rc = wsus_buf_appends(out, "</NewUpdates>");
	return rc;
}

/* One id of an <int> list, opening the list first when it is the first. */
static int put_list_int(struct wsus_buf *out, const char *name, int *open, int64_t id)
{
	int rc = 0;

	if (!*open) {
		rc = wsus_buf_printf(out, "<%s>", name);
		*open = 1;
	}
	return rc < 0 ? rc : wsus_buf_printf(out, "<int>%lld</int>", (long long)id);
}

/* OutOfScope: cached - needed. With the split lists (a category scan that
 * asked for them), what is still deployed elsewhere goes to the second list. */
static int put_out_of_scope(struct sync *s, struct wsus_buf *out, int split, struct wsus_buf *deployed)
{
	int rc = 0, open = 0;

	for (size_t i = 0; i < s->cached.n && rc == 0; i++) {
		int64_t id = s->cached.v[i];

		if (s->cpick[i])
			continue;
		if (split && picked_full(s, id))
			rc = wsus_buf_printf(deployed, "<int>%lld</int>", (long long)id);
		else
			rc = put_list_int(out, "OutOfScopeRevisionIDs", &open, id);
	}
	if (rc == 0 && open)
		rc = wsus_buf_appends(out, "</OutOfScopeRevisionIDs>");
	return rc;
}

static int put_changed(struct sync *s, struct wsus_buf *out)
{
	int rc = 0, open = 0;
	struct pick tmp;

	for (size_t i = 0; i < s->cached.n && rc == 0; i++) {
		const struct pick *p = cached_pick(s, i, &tmp);

		if (p == NULL || (p->r->change_anchor <= s->c.aux && !leaf_flipped(s, p->r->revision_id)))
			continue;
		if (!open) {
			rc = wsus_buf_appends(out, "<ChangedUpdates>");
			open = 1;
		}
		if (rc == 0)
			rc = put_update_info(s, out, p, 0);
	}
	if (rc == 0 && open)
		rc = wsus_buf_appends(out, "</ChangedUpdates>");
	return rc;
}

static int put_sync_info(struct sync *s, struct wsus_buf *out, const char *response, const char *result,
			 struct server_fault *f)
{
	struct wsus_buf deployed;
	int split = s->mode == MODE_SOFTWARE && s->need_two && s->n_filter > 0;
	int truncated = 0, rc;

	wsus_buf_init(&deployed, 64u * 1024 * 1024);
	rc = wsus_buf_printf(out, "<%s xmlns=\"%s\"><%s>", response, PROTOCOL_NS_CLIENT, result);
	if (rc == 0)
		rc = put_new_updates(s, out, &truncated);
	if (rc == 0 && split)
		rc = wsus_buf_appends(&deployed, "<DeployedOutOfScopeRevisionIds>");
	if (rc == 0)
		rc = put_out_of_scope(s, out, split, &deployed);
	if (rc == 0 && split)
		rc = wsus_buf_appends(&deployed, "</DeployedOutOfScopeRevisionIds>");
	if (rc == 0)
		rc = put_changed(s, out);
	if (rc == 0)
		rc = wsus_buf_printf(out, "<Truncated>%s</Truncated>", truncated ? "true" : "false");
	s->req->memo_cut = out->len;
	if (rc == 0)
		rc = server_client_put_cookie(s->req, out, "NewCookie", &s->c, s->anchor, f);
	s->req->memo_cut_end = out->len;
	if (rc == 0 && deployed.len > 0)
		rc = wsus_buf_append(out, deployed.data, deployed.len);
	if (rc == 0 && s->late_client && s->mode != MODE_PRINTER)
		rc = wsus_buf_printf(out, "<DriverSyncNotNeeded>%s</DriverSyncNotNeeded>",
				     server_scan_has_driver(s->full) ? "false" : "true");
	if (rc == 0)
		rc = wsus_buf_printf(out, "</%s></%s>", result, response);
	s->req->memo_tail_end = out->len;
	wsus_buf_free(&deployed);
	return rc;
}

/*---- Kept answers ----*/

/* What a software-mode answer is a function of besides the states (see the
 * top of this file): hashed into the request's memo key. */
static int memo_key(const struct sync *s, uint8_t key[WSUS_SHA1_LEN])
{
	const char *asked = server_accept_encoding(s->req->accept_encoding);
	int64_t aux = s->c.aux < s->anchor ? s->c.aux : s->anchor;
	struct wsus_buf k;
	int rc;

	wsus_buf_init(&k, 1024 + (s->n_installed + s->n_rest) * sizeof(int64_t));
	rc = wsus_buf_printf(&k, "SyncUpdates|%d|%s|%.32s|%d|%zu|%lld|%lld|%lld|%zu|%zu|", s->version,
			     asked ? asked : "-", s->c.protocol_version, s->need_two, s->n_filter, (long long)aux,
			     (long long)server_scan_anchor(s->full), (long long)server_scan_anchor(s->scan),
			     s->n_installed, s->n_rest);
	if (rc == 0 && s->n_installed)
		rc = wsus_buf_append(&k, s->installed, s->n_installed * sizeof(int64_t));
	if (rc == 0 && s->n_rest)
		rc = wsus_buf_append(&k, s->rest, s->n_rest * sizeof(int64_t));
	if (rc == 0)
		wsus_sha1(k.data, k.len, key);
	wsus_buf_free(&k);
	return rc;
}

/* Name the answer for the memo; 1 when it is kept (software mode only: the
 * driver modes depend on the device lists too). */
static int memo_find(struct sync *s)
{
	struct server_req *req = s->req;

	if (!req->memo_ok || s->mode != MODE_SOFTWARE || memo_key(s, req->memo_key) < 0)
		return 0;
	req->memo_state = server_scan_ref(s->scan);
	req->memo_split = 1;
	req->memo_hit = server_scan_memo_get(s->scan, req->memo_key, &req->memo_answer);
	return req->memo_hit;
}

/* A kept answer: only this client's NewCookie, then the kept tail (the
 * caller puts the kept head before them). */
static int put_from_memo(struct sync *s, struct wsus_buf *out, struct server_fault *f)
{
	int rc;

	s->req->memo_cut = out->len;
	rc = server_client_put_cookie(s->req, out, "NewCookie", &s->c, s->anchor, f);
	if (rc == 0)
		rc = wsus_buf_append(out, s->req->memo_answer.tail, s->req->memo_answer.tail_len);
	return rc;
}

/*---- Operations ----*/

/* Cookie (with ConfigChanged), then registration (RegistrationRequired). */
static int sync_begin(struct sync *s, struct server_req *req, struct protocol_req_msg *msg,
		      struct server_fault *f)
{
	memset(s, 0, sizeof(*s));
	s->req = req;
	s->version = (int)msg->version;
	if (server_client_cookie(req, msg->op, 1, &s->c, f) < 0)
		return -1;
	s->late_client = server_client_pv_at_least(s->c.protocol_version, 1, 7);
	return 0;
}

/* Computers this thread found registered (and recorded as seen) lately:
 * while the database generation stands (server_fresh.c) and for at most
 * SYNC_SEEN_FRESH_MS, the same computer with the same protocol version is
 * neither read nor recorded again. Any commit, a registration or a removal
 * included, moves the generation. */
#define SYNC_SEEN_LOCAL    64
#define SYNC_SEEN_FRESH_MS 60000       /* as storage_client_touch's own rate */

static _Thread_local struct seen_local {
	uint64_t instance, gen;
	int64_t at_ms;
	char id[64];
	char pv[16];
} seen_local[SYNC_SEEN_LOCAL];

static struct seen_local *seen_slot(const char *id)
{
	return &seen_local[wsus_fnv1a(id, strlen(id)) % SYNC_SEEN_LOCAL];
}

static int seen_lately(const struct sync *s, uint64_t gen, int64_t now)
{
	const struct seen_local *x = seen_slot(s->c.subject);

	return gen != 0 && x->instance == s->req->srv->instance && x->gen == gen && now - x->at_ms >= 0 &&
	       now - x->at_ms < SYNC_SEEN_FRESH_MS && strcmp(x->id, s->c.subject) == 0 &&
	       strcmp(x->pv, s->c.protocol_version) == 0;
}

static void seen_keep(const struct sync *s, uint64_t gen, int64_t now)
{
	struct seen_local *x = seen_slot(s->c.subject);

	if (gen == 0 || strlen(s->c.subject) >= sizeof(x->id) || strlen(s->c.protocol_version) >= sizeof(x->pv))
		return;
	x->instance = s->req->srv->instance;
	x->gen = gen;
	x->at_ms = now;
	snprintf(x->id, sizeof(x->id), "%s", s->c.subject);
	snprintf(x->pv, sizeof(x->pv), "%s", s->c.protocol_version);
}

static int sync_registered(struct sync *s, struct server_fault *f)
{
	uint64_t gen = server_fresh_gen(s->req->srv);
	int64_t now = wsus_now_ms();
	struct err e = { 0 };
	int rc;

	if (seen_lately(s, gen, now))
		return 0;
	rc = storage_client_touch(s->req->st, s->c.subject, s->c.protocol_version[0] ? s->c.protocol_version : NULL,
				  &e);
	if (rc == 0)
		seen_keep(s, gen, now);
	if (rc == -ENOENT && server_client_site_join(s->req, &s->c) == 0)
		rc = 0;
	if (rc == -ENOENT)
		return server_fault_set(f, PROTOCOL_ERR_REGISTRATION_REQUIRED, "computer %s is not registered",
					s->c.subject);
	if (rc < 0)
		server_fault_set(f, PROTOCOL_ERR_INTERNAL, "%s", e.msg);
	return rc;
}

static int sync_finish(struct sync *s, struct wsus_buf *out, const char *response, const char *result,
		       struct server_fault *f)
{
	int rc = sync_registered(s, f), kept = 0;

	if (rc == 0)
		rc = scope(s, f);
	if (rc == 0 && (kept = memo_find(s)) != 0)
		rc = put_from_memo(s, out, f);
	else if (rc == 0)
		rc = compute(s, f);
	if (rc == 0 && !kept)
		rc = put_sync_info(s, out, response, result, f);
	if (rc == 0)
		log_debug("client", "sync computer_id=%s mode=%d closure=%zu cached=%zu anchor=%lld kept=%d",
			  s->c.subject, (int)s->mode, server_scan_count(s->scan), s->cached.n + s->n_rest,
			  (long long)s->anchor, kept);
	return rc;
}

int server_client_sync_updates(struct server_req *req, struct protocol_req_msg *msg,
			       struct wsus_buf *out, struct server_fault *f)
{
	struct sync s;
	int rc = sync_begin(&s, req, msg, f);

	if (rc == 0)
		rc = read_sync_params(&s, msg->op, f);
	if (rc == 0)
		rc = sync_finish(&s, out, "SyncUpdatesResponse", "SyncUpdatesResult", f);
	if (rc == 0)
		server_metrics_scan(s.c.aux == 0);
	sync_free(&s);
	return rc;
}

int server_client_sync_printers(struct server_req *req, struct protocol_req_msg *msg,
				struct wsus_buf *out, struct server_fault *f)
{
	struct sync s;
	int rc = sync_begin(&s, req, msg, f);

	if (rc == 0) {
		s.mode = MODE_PRINTER;
		rc = read_lists(&s, msg->op, "installedNonLeafUpdateIDs", "printerUpdateIDs", f);
	}
	if (rc == 0)
		rc = sync_finish(&s, out, "SyncPrinterCatalogResponse", "SyncPrinterCatalogResult", f);
	sync_free(&s);
	return rc;
}
