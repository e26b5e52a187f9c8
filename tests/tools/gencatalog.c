/*
 * gencatalog.c -- wsus-gencatalog: writes a synthetic WSUS catalogue in the shapes and
 * namespaces of real upstream metadata (categories, classifications, detectoids, software
 * leaves, bundles, non-leaf prerequisites, superseded chains, drivers, EULAs), the payload
 * of every file, and a manifest, for `wsus-replica import`, tests and benchmarks.
 * Same arguments, same bytes: every choice comes from PRNG streams keyed by --seed, and
 * dates are derived from the seed, never from the clock. Documents are built one at a
 * time in a reused buffer and written at once; everything allocated is freed in main().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/*---- Limits and defaults ----*/

#define MAX_LANGS       16
#define LANG_LEN        12
#define MAX_FILE_SIZE   (64u * 1024 * 1024)   /* one payload is generated in memory */
#define MIN_REVISIONS   30                    /* room for the fixed categories and a few updates */
#define MAX_REVISIONS   10000000L
#define DEFAULT_SIZE_MIN 256
#define DEFAULT_SIZE_MAX 4096

#define NS_UPD   "http://schemas.microsoft.com/msus/2002/12/Update"
#define NS_PUB   "http://schemas.microsoft.com/msus/2002/12/Publishing"
#define NS_BAR   "http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules"
#define NS_LAR   "http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules"
#define NS_MSIAR "http://schemas.microsoft.com/msus/2002/12/MsiApplicabilityRules"
#define NS_CAT   "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category"
#define NS_CMD   "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation"
#define NS_DRV   "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver"
#define NS_XSI   "http://www.w3.org/2001/XMLSchema-instance"

#define DAY_MS   (86400LL * 1000)
#define HOUR_MS  (3600LL * 1000)

struct opts {
	uint64_t    seed;
	long        revisions;                  /* every document, categories included */
	size_t      size_min, size_max;         /* payload sizes */
	char        langs[MAX_LANGS][LANG_LEN]; /* LocalizedProperties languages, lower case */
	int         n_langs;
	long        drivers;                    /* driver revisions; -1 = 2% of the updates */
	long        revise;                     /* leaves that also get a second revision */
	const char *out;
	int         force;
};

/*---- PRNG: xoshiro256** seeded through splitmix64 ----*/

struct rng {
	uint64_t s[4];
};

/* Streams: each purpose and each document index has its own sequence, so that adding a
 * document, a revision or a file never shifts the choices made for another one. */
enum stream {
	ST_SCHEDULE = 1, ST_DOC, ST_ID, ST_FILE, ST_EULA, ST_EULA_FILE, ST_HWGROUP, ST_CHID, ST_PUBLISHER,
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t seed, enum stream st, uint64_t index)
{
	uint64_t x = seed;

	x = splitmix64(&x) ^ (uint64_t)st;
	x = splitmix64(&x) ^ index;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl64(uint64_t v, int k)
{
	return (v << k) | (v >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform enough for a test catalogue: n is always tiny next to 2^64. */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static int rng_chance(struct rng *r, unsigned percent)
{
	return rng_below(r, 100) < percent;
}

/* A version-4 shaped GUID, lower case, from the stream. */
static void rng_guid(struct rng *r, char out[WSUS_GUID_LEN])
{
	uint8_t b[16];
	uint64_t hi = rng_next(r), lo = rng_next(r);

	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(hi >> (8 * i));
		b[8 + i] = (uint8_t)(lo >> (8 * i));
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, WSUS_GUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
		 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*---- The fixed part of the catalogue ----*/

enum kind {
	K_COMPANY, K_FAMILY, K_PRODUCT, K_CLASS, K_DETECTOID, K_LEAF, K_BUNDLE, K_DRIVER, K_NONLEAF, K__N
};
static const char *const kind_names[K__N] = {
	"company", "productfamily", "product", "classification", "detectoid",
	"leaf", "bundle", "driver", "nonleaf",
};

enum { CL_CRITICAL, CL_SECURITY, CL_DEFINITION, CL_UPDATES, CL_DRIVERS, N_CLASSES };

/* The real classification GUIDs, so that filters written against Microsoft's catalogue work. */
static const struct {
	const char *id, *en, *de, *desc;
} classes[N_CLASSES] = {
	{ "e6cf1350-c01b-414d-a61f-263d14d133b4", "Critical Updates", "Kritische Updates",
	  "A broadly released fix for a specific problem addressing a critical, non-security related bug." },
	{ "0fa1201d-4330-4fa8-8ae9-b877473b6441", "Security Updates", "Sicherheitsupdates",
	  "A broadly released fix for a product-specific security-related vulnerability." },
	{ "e0789628-ce08-4437-be74-2495b842f43b", "Definition Updates", "Definitionsupdates",
	  "A broadly released and frequent software update containing additions to a product's definition database." },
	{ "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83", "Updates", "Updates",
	  "A broadly released fix for a specific problem addressing a non-critical, non-security related bug." },
	{ "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0", "Drivers", "Treiber",
	  "A software component necessary to control or regulate another device." },
};

enum { P_OS10, P_OS11, P_SRV2022, P_DRIVERS, P_OFFICE, P_DEFENDER, N_PRODUCTS };
#define N_OS_PRODUCTS 3   /* P_OS10..P_SRV2022: the ones that get servicing stacks */

static const struct {
	const char *en, *de, *tag;  /* tag: used in file names and registry paths */
	int family, detectoid, major, minor, build;
} products[N_PRODUCTS] = {
	{ "Contoso OS 10", "Contoso OS 10", "os10", 0, 0, 10, 0, 19041 },
	{ "Contoso OS 11", "Contoso OS 11", "os11", 0, 1, 10, 0, 22000 },
	{ "Contoso Server 2022", "Contoso Server 2022", "server2022", 0, 2, 10, 0, 20348 },
	{ "Contoso OS Drivers", "Contoso OS-Treiber", "drivers", 0, 3, 10, 0, 0 },
	{ "Contoso Office & Tools 2021", "Contoso Office & Tools 2021", "office2021", 1, 3, 10, 0, 0 },
	{ "Contoso Defender Engine", "Contoso Defender-Modul", "defender", 1, 3, 10, 0, 0 },
};

static const struct {
	const char *en, *de;
} families[2] = {
	{ "Contoso OS", "Contoso OS" },
	{ "Contoso Applications", "Contoso Anwendungen" },
};

enum { N_DETECTOIDS = 4 };
static const struct {
	const char *en;
	const char *comparison;
	int major, minor, build, product_type;  /* build/product_type 0: attribute left out */
} detectoids[N_DETECTOIDS] = {
	{ "Contoso OS 10 x64", "EqualTo", 10, 0, 19041, 1 },
	{ "Contoso OS 11 x64", "EqualTo", 10, 0, 22000, 1 },
	{ "Contoso Server 2022 x64", "EqualTo", 10, 0, 20348, 3 },
	{ "Contoso OS 10 or later", "GreaterThanOrEqualTo", 10, 0, 0, 0 },
};

#define N_FIXED (1 + 2 + N_PRODUCTS + N_CLASSES + N_DETECTOIDS)
#define N_EULAS 3
#define N_CHIDS 4

static const struct {
	const char *class_name, *manufacturer, *provider, *company, *model, *compatible_id;
	const char *bus;
} devices[] = {
	{ "Net", "Contoso Networking", "Contoso", "Contoso Ltd.", "Contoso Gigabit Ethernet", "pci\\cc_0200", "pci" },
	{ "Display", "Fabrikam Graphics", "Fabrikam", "Fabrikam, Inc.", "Fabrikam Display Adapter", "pci\\cc_0300", "pci" },
	{ "USB", "Litware", "Litware", "Litware Inc.", "Litware USB Controller", "usb\\class_ff", "usb" },
	{ "Bluetooth", "Northwind Radio", "Northwind", "Northwind Traders", "Northwind Bluetooth Radio", "usb\\class_e0", "usb" },
	{ "Printer", "Adatum", "Adatum", "Adatum Corporation", "Adatum LaserJet 500", "usbprint\\adatumlaserjet", "usbprint" },
};
#define N_DEVICES (sizeof(devices) / sizeof(devices[0]))

/*---- One document, described as data, then rendered ----*/

#define MAX_REFS     16
#define MAX_CLAUSES  4
#define MAX_PAYLOADS 2
#define MAX_DRVMETA  2
#define TITLE_LEN    256
#define TEXT_LEN     512

struct payload {
	char     name[160];               /* FileName */
	uint8_t  sha1[WSUS_SHA1_LEN];
	uint8_t  sha256[WSUS_SHA256_LEN];
	uint64_t size;
	char     modified[24];            /* Modified attribute; empty for EULA files */
};

struct clause {                           /* one Prerequisites/AtLeastOne */
	int  is_category;
	int  n;
	char ids[MAX_REFS][WSUS_GUID_LEN];
};

struct drvmeta {                          /* one WindowsDriverMetaData element */
	char        hwid[128];
	char        date[16];             /* yyyy-mm-dd */
	char        version[32];          /* a.b.c.d */
	uint32_t    whql;
	int         device;               /* index into devices[] */
	int         n_scores;
	const char *score_os[2];
	int         score[2];
	int         n_dist, n_target;
	char        dist[2][WSUS_GUID_LEN], target[2][WSUS_GUID_LEN];
};

enum rules { R_NONE, R_TRUE, R_WINVER, R_SOFTWARE, R_DRIVER };
enum handler { H_NONE, H_CATEGORY, H_CMD, H_DRIVER };

struct doc {
	enum kind    kind;
	const char  *update_type;          /* Category, Detectoid, Software, Driver */
	char         id[WSUS_GUID_LEN];
	int          rev;
	int          id_upper;             /* real category documents spell their ID in capitals */
	int64_t      created_ms;
	char         title[2][TITLE_LEN];  /* [0] en, [1] de ("" = use en) */
	char         desc[2][TEXT_LEN];    /* "" = no Description */
	int          names_only;           /* a proper name: the same text in every language */
	const char  *publisher;            /* PublisherID; NULL = the catalogue's, from the seed */
	int          kb;                   /* KBArticleID and support URLs; 0 = none */
	/* Properties */
	enum handler handler;
	int          mandatory;
	int          bundle;               /* ExplicitlyDeployable/AutoSelectOnWebSites */
	int          eula;                 /* index into the EULA table, -1 = none */
	const char  *prop_language;        /* Properties/Language, NULL = none */
	const char  *impact;               /* InstallationBehavior/@Impact, NULL = no element */
	int          may_reboot;
	/* Relationships */
	int          n_superseded;
	char         superseded[MAX_REFS][WSUS_GUID_LEN];
	int          n_bare;
	char         bare[MAX_REFS][WSUS_GUID_LEN];
	int          n_clauses;
	struct clause clauses[MAX_CLAUSES];
	int          n_bundled;
	char         bundled[MAX_REFS][WSUS_GUID_LEN];
	int          bundled_rev[MAX_REFS];
	/* ApplicabilityRules */
	enum rules   rules;
	const char  *win_comparison;
	int          win_major, win_minor, win_build, win_ptype;
	char         rule_file[96], rule_version[32], reg_subkey[128], msi_product[48];
	int          n_drv;
	struct drvmeta drv[MAX_DRVMETA];
	/* Files and HandlerSpecificData */
	int          n_files;
	struct payload files[MAX_PAYLOADS];
	const char  *category_type;
	int          display_order, prohibits_subcategories, prohibits_updates;
	char         program[160];
	const char  *arguments;
};

/*---- Generator state ----*/

#define POOL_LEN   64   /* leaves not bundled yet */
#define RECENT_LEN 16   /* the last leaves, bundled or not */
#define MAX_PENDING 8

struct leafref {
	char id[WSUS_GUID_LEN];
	int  rev, product, cls;
};

struct eula {
	char           id[WSUS_GUID_LEN];
	struct payload pl[MAX_LANGS];
	int            done[MAX_LANGS];
};

struct xw {                       /* an XML text writer whose first error sticks */
	struct wsus_buf b;
	int             rc;
};

struct gen {
	const struct opts *o;
	const char    *default_lang;
	char           content_dir[PATH_MAX];
	uint8_t       *scratch;        /* one payload, size_max bytes */
	struct xw      w;
	FILE          *manifest;
	struct doc     d;
	char           publisher[WSUS_GUID_LEN];
	int64_t        base_ms;        /* creation date of the first update, from the seed */
	long           doc_index;      /* position in the document stream; keys ST_DOC/ST_ID */

	char           company[WSUS_GUID_LEN];
	char           family_ids[2][WSUS_GUID_LEN];
	char           product_ids[N_PRODUCTS][WSUS_GUID_LEN];
	char           detectoid_ids[N_DETECTOIDS][WSUS_GUID_LEN];
	char           chids[N_CHIDS][WSUS_GUID_LEN];
	struct eula    eulas[N_EULAS];

	/* what later documents refer to */
	struct leafref pool[POOL_LEN];
	int            n_pool;
	struct leafref recent[RECENT_LEN];
	int            n_recent;
	char           last_bundle[N_PRODUCTS][WSUS_GUID_LEN];
	char           last_leaf[N_PRODUCTS][WSUS_GUID_LEN];
	char           pending[MAX_PENDING][WSUS_GUID_LEN];  /* non-leaves nobody named yet */
	int            n_pending;
	char           last_nonleaf[WSUS_GUID_LEN];
	long           n_leaves, n_drivers, hw_groups;
	int            next_kb;

	long           counts[K__N];
	long           n_docs, n_payloads;
	uint64_t       payload_bytes;
};

/*---- XML writer ----*/

static void xw_raw(struct xw *w, const char *s)
{
	if (w->rc == 0)
		w->rc = wsus_buf_appends(&w->b, s);
}

static void xw_fmt(struct xw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xw_fmt(struct xw *w, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	if (w->rc != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		w->rc = -E2BIG;
		return;
	}
	w->rc = wsus_buf_append(&w->b, tmp, (size_t)n);
}

static void xw_text(struct xw *w, const char *s)
{
	if (w->rc == 0)
		w->rc = wsus_buf_append_xml_escaped(&w->b, s, strlen(s));
}

static void xw_attr(struct xw *w, const char *name, const char *value)
{
	xw_fmt(w, " %s=\"", name);
	xw_text(w, value);
	xw_raw(w, "\"");
}

static void xw_elem(struct xw *w, const char *tag, const char *text)
{
	xw_fmt(w, "<%s>", tag);
	xw_text(w, text);
	xw_fmt(w, "</%s>", tag);
}

/*---- Small helpers ----*/

static void iso_seconds(int64_t ms, char out[24])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 24, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void iso_date(int64_t ms, char out[16])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 16, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static void upper_guid(const char *in, char out[WSUS_GUID_LEN])
{
	size_t i;

	for (i = 0; in[i] && i < WSUS_GUID_LEN - 1; i++)
		out[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 'a' + 'A') : in[i];
	out[i] = '\0';
}

/* dst and src may be the same id (memmove; snprintf's restrict broke the
 * sanitizer build under -Werror=restrict). */
static void copy_id(char dst[WSUS_GUID_LEN], const char *src)
{
	size_t n = strnlen(src, WSUS_GUID_LEN - 1);

	memmove(dst, src, n);
	dst[n] = '\0';
}

static void append(char *s, size_t cap, const char *suffix)
{
	size_t n = strlen(s);

	snprintf(s + n, cap - n, "%s", suffix);
}

/* Title or description in lang: the German text where we have one, the English one for
 * "en", names and languages we have no text for, the latter marked with the language. */
static void text_for(const struct doc *d, const char *lang, int desc, char *out, size_t n)
{
	const char *en = desc ? d->desc[0] : d->title[0];
	const char *de = desc ? d->desc[1] : d->title[1];

	if (strcmp(lang, "de") == 0 && de[0])
		snprintf(out, n, "%s", de);
	else if (strcmp(lang, "en") == 0 || strcmp(lang, "de") == 0 || d->names_only)
		snprintf(out, n, "%s", en);
	else
		snprintf(out, n, "[%s] %s", lang, en);
}

static int write_all(int fd, const void *data, size_t n, const char *path, struct err *e)
{
	const uint8_t *p = data;

	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			int en = errno;

			if (en == EINTR)
				continue;
			return err_set(e, -en, "write %s: %s", path, strerror(en));
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Create path (it must not exist yet, unless may_exist) and write data into it.
 * Returns 1 when may_exist and the file was already there. */
static int file_create(const char *path, const void *data, size_t n, int may_exist, struct err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int rc;

	if (fd < 0) {
		int en = errno;

		if (en == EEXIST && may_exist)
			return 1;
		return err_set(e, -en, "create %s: %s", path, strerror(en));
	}
	rc = write_all(fd, data, n, path, e);
	if (close(fd) != 0 && rc == 0) {
		int en = errno;

		rc = err_set(e, -en, "close %s: %s", path, strerror(en));
	}
	return rc;
}

/*---- Payloads ----*/

static void fill_bytes(struct rng *r, uint8_t *p, size_t n, int text)
{
	static const char *const words[] = {
		"the", "licensee", "software", "agreement", "shall", "use", "contoso", "rights",
		"terms", "may", "not", "copy", "warranty", "limited", "support", "license",
	};
	size_t i = 0, col = 0;

	if (!text) {
		while (i < n) {
			uint64_t v = rng_next(r);

			for (int k = 0; k < 8 && i < n; k++)
				p[i++] = (uint8_t)(v >> (8 * k));
		}
		return;
	}
	while (i < n) {
		const char *wd = words[rng_below(r, sizeof(words) / sizeof(words[0]))];

		for (; *wd && i < n; wd++, col++)
			p[i++] = (uint8_t)*wd;
		if (i < n) {
			p[i++] = col > 70 ? '\n' : ' ';
			col = col > 70 ? 0 : col + 1;
		}
	}
}

/* Generate one payload from r, hash it and store it as content/<sha1>.<ext> unless an
 * earlier revision already did. FileName is prefix[_sha1].ext; modified_ms < 0 leaves
 * Modified out (EulaFile has none). */
static int payload_make(struct gen *g, struct rng *r, const char *prefix, int with_sha, const char *ext,
			int text, int64_t modified_ms, struct payload *p, struct err *e)
{
	const struct opts *o = g->o;
	size_t n = o->size_min + (size_t)rng_below(r, o->size_max - o->size_min + 1);
	char hex[2 * WSUS_SHA1_LEN + 1], path[PATH_MAX];
	int rc;

	fill_bytes(r, g->scratch, n, text);
	wsus_sha1(g->scratch, n, p->sha1);
	wsus_sha256(g->scratch, n, p->sha256);
	wsus_hex_encode(p->sha1, WSUS_SHA1_LEN, hex);
	p->size = n;
	if (with_sha)
		snprintf(p->name, sizeof(p->name), "%s_%s.%s", prefix, hex, ext);
	else
		snprintf(p->name, sizeof(p->name), "%s.%s", prefix, ext);
	p->modified[0] = '\0';
	if (modified_ms >= 0)
		iso_seconds(modified_ms, p->modified);

	if (snprintf(path, sizeof(path), "%s/%s.%s", g->content_dir, hex, ext) >= (int)sizeof(path))
		return err_set(e, -ENAMETOOLONG, "content path too long in %s", g->content_dir);
	rc = file_create(path, g->scratch, n, 1, e);
	if (rc == 0) {
		g->n_payloads++;
		g->payload_bytes += n;
	}
	return rc < 0 ? rc : 0;
}

/* The EULA text of one (EULA, language) pair: made once, shared by every update that
 * names the EULA. */
static int eula_payload(struct gen *g, int eula, int lang, const struct payload **out, struct err *e)
{
	struct eula *eu = &g->eulas[eula];
	char prefix[64];
	struct rng r;
	int rc;

	if (!eu->done[lang]) {
		rng_init(&r, g->o->seed, ST_EULA_FILE, (uint64_t)eula * MAX_LANGS + (uint64_t)lang);
		snprintf(prefix, sizeof(prefix), "eula-%.8s-%s", eu->id, g->o->langs[lang]);
		rc = payload_make(g, &r, prefix, 0, "txt", 1, -1, &eu->pl[lang], e);
		if (rc < 0)
			return rc;
		eu->done[lang] = 1;
	}
	*out = &eu->pl[lang];
	return 0;
}

/*---- Rendering ----*/

static void render_identity(struct xw *w, const char *id, int rev, int with_rev)
{
	xw_raw(w, "<upd:UpdateIdentity");
	xw_attr(w, "UpdateID", id);
	if (with_rev)
		xw_fmt(w, " RevisionNumber=\"%d\"", rev);
	xw_raw(w, " />");
}

static void render_root(struct xw *w, const struct doc *d)
{
	int bar = d->rules == R_WINVER || d->rules == R_SOFTWARE;
	int lar = d->rules == R_TRUE || d->rules == R_SOFTWARE;

	xw_raw(w, "<upd:Update xmlns:pub=\"" NS_PUB "\"");
	if (bar)
		xw_raw(w, " xmlns:bar=\"" NS_BAR "\"");
	if (lar)
		xw_raw(w, " xmlns:lar=\"" NS_LAR "\"");
	if (d->msi_product[0])
		xw_raw(w, " xmlns:msiar=\"" NS_MSIAR "\"");
	if (d->handler == H_CATEGORY)
		xw_raw(w, " xmlns:cat=\"" NS_CAT "\"");
	if (d->handler == H_CMD)
		xw_raw(w, " xmlns:cmd=\"" NS_CMD "\"");
	if (d->handler == H_DRIVER)
		xw_raw(w, " xmlns:drv=\"" NS_DRV "\"");
	xw_raw(w, " xmlns:upd=\"" NS_UPD "\">");
}

static const char *handler_uri(enum handler h)
{
	switch (h) {
	case H_CATEGORY: return NS_CAT;
	case H_CMD:      return NS_CMD;
	case H_DRIVER:   return NS_DRV;
	default:         return NULL;
	}
}

static void render_properties(struct gen *g, const struct doc *d)
{
	struct xw *w = &g->w;
	char date[32];
	uint64_t total = 0;

	wsus_time_iso(d->created_ms, date);
	xw_raw(w, "<upd:Properties");
	if (d->handler == H_CATEGORY) {
		/* attribute order of the real category documents */
		xw_attr(w, "DefaultPropertiesLanguage", g->default_lang);
		xw_attr(w, "UpdateType", d->update_type);
		if (d->kind == K_PRODUCT)
			xw_raw(w, " ExplicitlyDeployable=\"false\" PerUser=\"false\"");
		xw_raw(w, " IsPublic=\"true\"");
		xw_attr(w, "Handler", NS_CAT);
	} else {
		xw_attr(w, "UpdateType", d->update_type);
		xw_attr(w, "DefaultPropertiesLanguage", g->default_lang);
		if (handler_uri(d->handler))
			xw_attr(w, "Handler", handler_uri(d->handler));
		if (d->bundle)
			xw_raw(w, " AutoSelectOnWebSites=\"true\" ExplicitlyDeployable=\"true\"");
		for (int i = 0; i < d->n_files; i++)
			total += d->files[i].size;
		if (d->kind != K_DETECTOID)
			xw_fmt(w, " MaxDownloadSize=\"%" PRIu64 "\" MinDownloadSize=\"0\"", total);
		if (d->mandatory)
			xw_raw(w, " IsMandatory=\"true\"");
		if (d->eula >= 0)
			xw_attr(w, "EulaID", g->eulas[d->eula].id);
	}
	xw_raw(w, " PublicationState=\"Published\"");
	xw_attr(w, "CreationDate", date);
	xw_attr(w, "PublisherID", d->publisher ? d->publisher : g->publisher);
	xw_raw(w, ">");
	if (d->impact) {
		xw_fmt(w, "<upd:InstallationBehavior Impact=\"%s\"%s />", d->impact,
		       d->may_reboot ? " RebootBehavior=\"CanRequestReboot\"" : "");
	}
	if (d->prop_language)
		xw_elem(w, "upd:Language", d->prop_language);
	if (d->kb) {
		xw_fmt(w, "<upd:SupportUrl>https://support.contoso.example/help?kb=%d</upd:SupportUrl>", d->kb);
		xw_fmt(w, "<upd:KBArticleID>%d</upd:KBArticleID>", d->kb);
	}
	xw_raw(w, "</upd:Properties>");
}

static int render_localized(struct gen *g, const struct doc *d, struct err *e)
{
	struct xw *w = &g->w;
	char text[TEXT_LEN + 16];

	xw_raw(w, "<upd:LocalizedPropertiesCollection>");
	for (int l = 0; l < g->o->n_langs; l++) {
		const char *lang = g->o->langs[l];

		xw_raw(w, "<upd:LocalizedProperties>");
		xw_elem(w, "upd:Language", lang);
		text_for(d, lang, 0, text, sizeof(text));
		xw_elem(w, "upd:Title", text);
		if (d->desc[0][0]) {
			text_for(d, lang, 1, text, sizeof(text));
			xw_elem(w, "upd:Description", text);
		}
		if (d->kb) {
			/* '&' in a URL: the escaping must survive every fragment */
			xw_fmt(w, "<upd:MoreInfoUrl>https://support.contoso.example/help?kb=%d&amp;lang=%s"
			       "</upd:MoreInfoUrl>", d->kb, lang);
			xw_fmt(w, "<upd:SupportUrl>https://support.contoso.example/help?kb=%d</upd:SupportUrl>", d->kb);
		}
		xw_raw(w, "</upd:LocalizedProperties>");
	}
	for (int l = 0; d->eula >= 0 && l < g->o->n_langs; l++) {
		const struct payload *p;
		char b64[64];
		int rc = eula_payload(g, d->eula, l, &p, e);

		if (rc < 0)
			return rc;
		wsus_b64_encode(p->sha1, WSUS_SHA1_LEN, b64);
		xw_raw(w, "<upd:EulaFile");
		xw_attr(w, "Digest", b64);
		xw_raw(w, " DigestAlgorithm=\"SHA1\"");
		xw_attr(w, "FileName", p->name);
		xw_fmt(w, " Size=\"%" PRIu64 "\"", p->size);
		xw_attr(w, "Language", g->o->langs[l]);
		wsus_b64_encode(p->sha256, WSUS_SHA256_LEN, b64);
		xw_fmt(w, "><upd:AdditionalDigest Algorithm=\"SHA256\">%s</upd:AdditionalDigest></upd:EulaFile>", b64);
	}
	xw_raw(w, "</upd:LocalizedPropertiesCollection>");
	return 0;
}

static void render_relationships(struct xw *w, const struct doc *d)
{
	if (!d->n_superseded && !d->n_bare && !d->n_clauses && !d->n_bundled)
		return;
	/* element order of the real bundle documents */
	xw_raw(w, "<upd:Relationships>");
	if (d->n_superseded) {
		xw_raw(w, "<upd:SupersededUpdates>");
		for (int i = 0; i < d->n_superseded; i++)
			render_identity(w, d->superseded[i], 0, 0);
		xw_raw(w, "</upd:SupersededUpdates>");
	}
	if (d->n_bare || d->n_clauses) {
		xw_raw(w, "<upd:Prerequisites>");
		for (int i = 0; i < d->n_bare; i++)
			render_identity(w, d->bare[i], 0, 0);
		for (int c = 0; c < d->n_clauses; c++) {
			xw_raw(w, d->clauses[c].is_category ? "<upd:AtLeastOne IsCategory=\"true\">" : "<upd:AtLeastOne>");
			for (int i = 0; i < d->clauses[c].n; i++)
				render_identity(w, d->clauses[c].ids[i], 0, 0);
			xw_raw(w, "</upd:AtLeastOne>");
		}
		xw_raw(w, "</upd:Prerequisites>");
	}
	if (d->n_bundled) {
		xw_raw(w, "<upd:BundledUpdates><upd:AtLeastOne>");
		for (int i = 0; i < d->n_bundled; i++)
			render_identity(w, d->bundled[i], d->bundled_rev[i], 1);
		xw_raw(w, "</upd:AtLeastOne></upd:BundledUpdates>");
	}
	xw_raw(w, "</upd:Relationships>");
}

static void render_windows_version(struct xw *w, const struct doc *d)
{
	xw_fmt(w, "<bar:WindowsVersion Comparison=\"%s\" MajorVersion=\"%d\" MinorVersion=\"%d\"",
	       d->win_comparison, d->win_major, d->win_minor);
	if (d->win_build)
		xw_fmt(w, " BuildNumber=\"%d\"", d->win_build);
	if (d->win_ptype)
		xw_fmt(w, " ProductType=\"%d\"", d->win_ptype);
	xw_raw(w, " xmlns:bar=\"" NS_BAR "\" />");
}

static void render_regdword(struct xw *w, const struct doc *d, const char *value)
{
	xw_raw(w, "<lar:Not><bar:RegDword Key=\"HKEY_LOCAL_MACHINE\"");
	xw_attr(w, "Subkey", d->reg_subkey);
	xw_attr(w, "Value", value);
	xw_raw(w, " Comparison=\"EqualTo\" Data=\"1\" xmlns:bar=\"" NS_BAR "\" /></lar:Not>");
}

/* Real documents repeat xmlns:lar / xmlns:bar on the rule elements; so do we, so that
 * fragment builders meet redundant declarations. */
static void render_software_rules(struct xw *w, const struct doc *d)
{
	xw_raw(w, "<upd:IsInstalled><lar:And xmlns:lar=\"" NS_LAR "\">");
	xw_raw(w, "<bar:FileVersion Csidl=\"37\"");
	xw_attr(w, "Path", d->rule_file);
	xw_raw(w, " Comparison=\"GreaterThanOrEqualTo\"");
	xw_attr(w, "Version", d->rule_version);
	xw_raw(w, " xmlns:bar=\"" NS_BAR "\" />");
	render_regdword(w, d, "InstallFailed");
	xw_raw(w, "</lar:And></upd:IsInstalled>");
	xw_raw(w, "<upd:IsInstallable><lar:And xmlns:lar=\"" NS_LAR "\">");
	render_windows_version(w, d);
	render_regdword(w, d, "Blocked");
	if (d->msi_product[0]) {
		xw_raw(w, "<msiar:MsiProductInstalled");
		xw_attr(w, "ProductCode", d->msi_product);
		xw_raw(w, " xmlns:msiar=\"" NS_MSIAR "\" />");
	}
	xw_raw(w, "</lar:And></upd:IsInstallable>");
}

static void render_driver_rules(struct xw *w, const struct doc *d)
{
	xw_raw(w, "<upd:IsInstalled><drv:WindowsDriverInstalled /></upd:IsInstalled>"
		  "<upd:IsSuperseded><drv:WindowsDriverSuperseded /></upd:IsSuperseded>"
		  "<upd:IsInstallable><drv:WindowsDriverInstallable /></upd:IsInstallable><upd:Metadata>");
	for (int i = 0; i < d->n_drv; i++) {
		const struct drvmeta *m = &d->drv[i];

		xw_raw(w, "<drv:WindowsDriverMetaData");
		xw_attr(w, "HardwareID", m->hwid);
		xw_fmt(w, " WhqlDriverID=\"%" PRIu32 "\"", m->whql);
		xw_attr(w, "Manufacturer", devices[m->device].manufacturer);
		xw_attr(w, "Company", devices[m->device].company);
		xw_attr(w, "Provider", devices[m->device].provider);
		xw_attr(w, "DriverVerDate", m->date);
		xw_attr(w, "DriverVerVersion", m->version);
		xw_attr(w, "Class", devices[m->device].class_name);
		xw_attr(w, "Model", devices[m->device].model);
		xw_raw(w, ">");
		/* Two hex digits, as Microsoft's metadata writes them; kept to 00..09 so that
		 * a reader taking them as decimal ranks the same way. */
		for (int s = 0; s < m->n_scores; s++)
			xw_fmt(w, "<drv:FeatureScore OperatingSystem=\"%s\" FeatureScore=\"%02X\" />",
			       m->score_os[s], m->score[s]);
		for (int s = 0; s < m->n_dist; s++)
			xw_fmt(w, "<drv:DistributionComputerHardwareId>%s</drv:DistributionComputerHardwareId>",
			       m->dist[s]);
		for (int s = 0; s < m->n_target; s++)
			xw_fmt(w, "<drv:TargetComputerHardwareId>%s</drv:TargetComputerHardwareId>", m->target[s]);
		xw_raw(w, "</drv:WindowsDriverMetaData>");
	}
	xw_raw(w, "</upd:Metadata>");
}

static void render_rules(struct xw *w, const struct doc *d)
{
	if (d->rules == R_NONE)
		return;
	xw_raw(w, "<upd:ApplicabilityRules>");
	switch (d->rules) {
	case R_TRUE:
		xw_raw(w, "<upd:IsInstalled><lar:True /></upd:IsInstalled>");
		break;
	case R_WINVER:
		xw_raw(w, "<upd:IsInstalled>");
		render_windows_version(w, d);
		xw_raw(w, "</upd:IsInstalled>");
		break;
	case R_SOFTWARE:
		render_software_rules(w, d);
		break;
	case R_DRIVER:
		render_driver_rules(w, d);
		break;
	default:
		break;
	}
	xw_raw(w, "</upd:ApplicabilityRules>");
}

static void render_files(struct xw *w, const struct doc *d)
{
	char b64[64];

	if (d->n_files == 0)
		return;
	xw_raw(w, "<upd:Files>");
	for (int i = 0; i < d->n_files; i++) {
		const struct payload *p = &d->files[i];

		wsus_b64_encode(p->sha1, WSUS_SHA1_LEN, b64);
		xw_raw(w, "<upd:File");
		xw_attr(w, "Digest", b64);
		xw_raw(w, " DigestAlgorithm=\"SHA1\"");
		xw_attr(w, "FileName", p->name);
		xw_fmt(w, " Size=\"%" PRIu64 "\"", p->size);
		xw_attr(w, "Modified", p->modified);
		wsus_b64_encode(p->sha256, WSUS_SHA256_LEN, b64);
		xw_fmt(w, "><upd:AdditionalDigest Algorithm=\"SHA256\">%s</upd:AdditionalDigest></upd:File>", b64);
	}
	xw_raw(w, "</upd:Files>");
}

static void render_handler_data(struct xw *w, const struct doc *d)
{
	switch (d->handler) {
	case H_CATEGORY:
		xw_raw(w, "<upd:HandlerSpecificData xsi:type=\"cat:Category\" xmlns:xsi=\"" NS_XSI "\">");
		xw_raw(w, "<cat:CategoryInformation");
		xw_attr(w, "CategoryType", d->category_type);
		xw_fmt(w, " ProhibitsSubcategories=\"%s\" ProhibitsUpdates=\"%s\" DisplayOrder=\"%d\" />",
		       d->prohibits_subcategories ? "true" : "false",
		       d->prohibits_updates ? "true" : "false", d->display_order);
		xw_raw(w, "</upd:HandlerSpecificData>");
		break;
	case H_CMD:
		xw_raw(w, "<upd:HandlerSpecificData xsi:type=\"cmd:CommandLineInstallation\" xmlns:xsi=\""
			  NS_XSI "\"><cmd:InstallCommand");
		xw_attr(w, "Program", d->program);
		xw_attr(w, "Arguments", d->arguments);
		xw_raw(w, " xmlns:cmd=\"" NS_CMD "\"><cmd:ReturnCode Code=\"0\" Result=\"Succeeded\" />"
			  "<cmd:ReturnCode Code=\"3010\" Result=\"Succeeded\" Reboot=\"true\" />"
			  "</cmd:InstallCommand></upd:HandlerSpecificData>");
		break;
	case H_DRIVER:
		xw_raw(w, "<upd:HandlerSpecificData xsi:type=\"drv:WindowsDriver\" xmlns:xsi=\"" NS_XSI "\" />");
		break;
	default:
		break;
	}
}

/* Render g->d, write it as <id>-r<rev>.xml and add its manifest line. */
static int doc_emit(struct gen *g, struct err *e)
{
	const struct doc *d = &g->d;
	struct xw *w = &g->w;
	char id[WSUS_GUID_LEN], path[PATH_MAX], title[TITLE_LEN + 16];
	int rc, n_files;

	w->b.len = 0;
	w->rc = 0;
	if (d->id_upper)
		upper_guid(d->id, id);
	else
		copy_id(id, d->id);
	render_root(w, d);
	render_identity(w, id, d->rev, 1);
	render_properties(g, d);
	rc = render_localized(g, d, e);
	if (rc < 0)
		return rc;
	render_relationships(w, d);
	render_rules(w, d);
	render_files(w, d);
	render_handler_data(w, d);
	xw_raw(w, "</upd:Update>");
	if (w->rc < 0)
		return err_set(e, w->rc, "document %s r%d: %s", d->id, d->rev, strerror(-w->rc));

	if (snprintf(path, sizeof(path), "%s/%s-r%d.xml", g->o->out, d->id, d->rev) >= (int)sizeof(path))
		return err_set(e, -ENAMETOOLONG, "output path too long: %s", g->o->out);
	rc = file_create(path, w->b.data, w->b.len, 0, e);
	if (rc < 0)
		return rc;

	n_files = d->n_files + (d->eula >= 0 ? g->o->n_langs : 0);
	text_for(d, g->default_lang, 0, title, sizeof(title));
	if (fprintf(g->manifest, "%s\t%d\t%s\t%s\t%d\t%s\n", d->id, d->rev, d->update_type,
		    kind_names[d->kind], n_files, title) < 0)
		return err_set(e, -EIO, "write manifest.tsv: %s", strerror(errno));
	g->counts[d->kind]++;
	g->n_docs++;
	return 0;
}

/*---- Building documents ----*/

/* Start g->d for the next document of the stream: its ID, its rng, its date. */
static void doc_begin(struct gen *g, enum kind kind, const char *update_type, struct rng *r)
{
	struct doc *d = &g->d;
	struct rng idr;

	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->update_type = update_type;
	d->eula = -1;
	rng_init(r, g->o->seed, ST_DOC, (uint64_t)g->doc_index);
	rng_init(&idr, g->o->seed, ST_ID, (uint64_t)g->doc_index);
	rng_guid(&idr, d->id);
	d->created_ms = g->base_ms + g->doc_index * 37 * 60 * 1000LL + (int64_t)rng_below(r, 60000);
	g->doc_index++;
}

static struct clause *add_clause(struct doc *d, int is_category)
{
	struct clause *c = &d->clauses[d->n_clauses++];

	c->is_category = is_category;
	c->n = 0;
	return c;
}

static void clause_add(struct clause *c, const char *id)
{
	if (c->n < MAX_REFS)
		copy_id(c->ids[c->n++], id);
}

static void add_bare(struct doc *d, const char *id)
{
	if (d->n_bare < MAX_REFS)
		copy_id(d->bare[d->n_bare++], id);
}

static void set_category(struct doc *d, const char *type, int order, int no_sub, int no_upd)
{
	d->handler = H_CATEGORY;
	d->category_type = type;
	d->display_order = order;
	d->prohibits_subcategories = no_sub;
	d->prohibits_updates = no_upd;
	d->names_only = 1;
}

static int emit_company(struct gen *g, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;

	doc_begin(g, K_COMPANY, "Category", &r);
	d->created_ms -= 3 * 365 * DAY_MS;
	d->rev = 101;
	d->id_upper = 1;
	snprintf(d->title[0], TITLE_LEN, "Contoso");
	snprintf(d->desc[0], TEXT_LEN, "Contoso");
	set_category(d, "Company", 1, 0, 1);
	d->rules = R_TRUE;
	copy_id(g->company, d->id);
	return doc_emit(g, e);
}

static int emit_family(struct gen *g, int f, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;

	doc_begin(g, K_FAMILY, "Category", &r);
	d->created_ms -= 3 * 365 * DAY_MS;
	d->rev = 100 + (int)rng_below(&r, 3);
	d->id_upper = 1;
	snprintf(d->title[0], TITLE_LEN, "%s", families[f].en);
	snprintf(d->title[1], TITLE_LEN, "%s", families[f].de);
	snprintf(d->desc[0], TEXT_LEN, "%s", families[f].en);
	snprintf(d->desc[1], TEXT_LEN, "%s", families[f].de);
	set_category(d, "ProductFamily", 2 + f, 0, 1);
	d->rules = R_TRUE;
	clause_add(add_clause(d, 1), g->company);
	copy_id(g->family_ids[f], d->id);
	return doc_emit(g, e);
}

static int emit_product(struct gen *g, int p, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;

	doc_begin(g, K_PRODUCT, "Category", &r);
	d->created_ms -= 2 * 365 * DAY_MS;
	d->rev = 200 + (int)rng_below(&r, 3);
	snprintf(d->title[0], TITLE_LEN, "%s", products[p].en);
	snprintf(d->title[1], TITLE_LEN, "%s", products[p].de);
	snprintf(d->desc[0], TEXT_LEN, "Updates for %s.", products[p].en);
	snprintf(d->desc[1], TEXT_LEN, "Updates für %s.", products[p].de);
	set_category(d, "Product", 1 + p, 1, 0);
	d->rules = R_WINVER;
	d->win_comparison = "GreaterThanOrEqualTo";
	d->win_major = products[p].major;
	d->win_minor = products[p].minor;
	clause_add(add_clause(d, 1), g->family_ids[products[p].family]);
	copy_id(g->product_ids[p], d->id);
	return doc_emit(g, e);
}

/* Classifications are byte-identical in every catalogue (real IDs, fixed dates, the
 * publisher of Microsoft's category documents), so that catalogues made with different
 * seeds never disagree about the same (UpdateID, RevisionNumber). */
static int emit_classification(struct gen *g, int c, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;

	doc_begin(g, K_CLASS, "Category", &r);
	copy_id(d->id, classes[c].id);
	d->created_ms = 1100000000000LL + c * DAY_MS;   /* November 2004 */
	d->publisher = "42f20e12-2856-447d-a8b2-68f06c2e9b45";
	d->rev = 100 + c;
	snprintf(d->title[0], TITLE_LEN, "%s", classes[c].en);
	snprintf(d->title[1], TITLE_LEN, "%s", classes[c].de);
	snprintf(d->desc[0], TEXT_LEN, "%s", classes[c].desc);
	set_category(d, "UpdateClassification", 1 + c, 1, 0);
	return doc_emit(g, e);
}

static int emit_detectoid(struct gen *g, int i, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;

	doc_begin(g, K_DETECTOID, "Detectoid", &r);
	d->created_ms -= 365 * DAY_MS;
	d->rev = 100 + (int)rng_below(&r, 5);
	snprintf(d->title[0], TITLE_LEN, "%s", detectoids[i].en);
	d->names_only = 1;
	d->rules = R_WINVER;
	d->win_comparison = detectoids[i].comparison;
	d->win_major = detectoids[i].major;
	d->win_minor = detectoids[i].minor;
	d->win_build = detectoids[i].build;
	d->win_ptype = detectoids[i].product_type;
	copy_id(g->detectoid_ids[i], d->id);
	return doc_emit(g, e);
}

/* Prerequisites of a software update: the product's detectoid (bare, or sometimes an
 * OR of the OS detectoids), then the product and the classification as categories. */
static void software_prereqs(struct gen *g, struct rng *r, int product, int cls)
{
	struct doc *d = &g->d;

	if (product <= P_SRV2022 && rng_chance(r, 25)) {
		struct clause *c = add_clause(d, 0);

		for (int i = 0; i < N_OS_PRODUCTS; i++)
			clause_add(c, g->detectoid_ids[products[i].detectoid]);
	} else {
		add_bare(d, g->detectoid_ids[products[product].detectoid]);
	}
	clause_add(add_clause(d, 1), g->product_ids[product]);
	clause_add(add_clause(d, 1), classes[cls].id);
}

static void software_rules(struct gen *g, struct rng *r, int product)
{
	struct doc *d = &g->d;
	char guid[WSUS_GUID_LEN], up[WSUS_GUID_LEN];

	d->rules = R_SOFTWARE;
	d->win_comparison = "GreaterThanOrEqualTo";
	d->win_major = products[product].major;
	d->win_minor = products[product].minor;
	d->win_build = products[product].build;
	snprintf(d->rule_file, sizeof(d->rule_file), "System32\\contoso-%s.dll", products[product].tag);
	snprintf(d->rule_version, sizeof(d->rule_version), "%d.%d.%d.%d", products[product].major,
		 products[product].minor, products[product].build, d->kb % 10000);
	snprintf(d->reg_subkey, sizeof(d->reg_subkey), "SOFTWARE\\Contoso\\Updates\\KB%d", d->kb);
	if (product == P_OFFICE) {
		rng_guid(r, guid);
		upper_guid(guid, up);
		snprintf(d->msi_product, sizeof(d->msi_product), "{%s}", up);
	}
}

static const char *const class_verb_en[N_CLASSES] = {
	"Critical Update", "Security Update", "Definition Update", "Update", "Driver",
};
static const char *const class_verb_de[N_CLASSES] = {
	"Kritisches Update", "Sicherheitsupdate", "Definitionsupdate", "Update", "Treiber",
};

static void software_texts(struct doc *d, const char *what_en, const char *what_de, int product)
{
	snprintf(d->title[0], TITLE_LEN, "%s for %s (KB%d)", what_en, products[product].en, d->kb);
	snprintf(d->title[1], TITLE_LEN, "%s für %s (KB%d)", what_de, products[product].de, d->kb);
	snprintf(d->desc[0], TEXT_LEN, "Install this update to resolve issues in %s. After you install "
		 "this item, you may have to restart your computer.", products[product].en);
	snprintf(d->desc[1], TEXT_LEN, "Installieren Sie dieses Update, um Probleme in %s zu beheben. "
		 "Nach der Installation müssen Sie den Computer möglicherweise neu starten.",
		 products[product].de);
}

static int software_files(struct gen *g, int n, const char *kind_tag, int product, struct err *e)
{
	struct doc *d = &g->d;
	char prefix[128];

	for (int i = 0; i < n; i++) {
		struct rng fr;
		const char *ext = i ? "cab" : (product >= P_OFFICE ? "exe" : "msu");
		int with_sha = strcmp(ext, "exe") != 0;
		int rc;

		rng_init(&fr, g->o->seed, ST_FILE, (uint64_t)(g->doc_index - 1) * MAX_PAYLOADS + (uint64_t)i);
		snprintf(prefix, sizeof(prefix), "contoso-%s-%skb%d-x64%s", products[product].tag, kind_tag,
			 d->kb, i ? "-data" : "");
		rc = payload_make(g, &fr, prefix, with_sha, ext, 0,
				  d->created_ms - (int64_t)(1 + rng_below(&fr, 72)) * HOUR_MS, &d->files[i], e);
		if (rc < 0)
			return rc;
	}
	d->n_files = n;
	d->handler = H_CMD;
	d->impact = "Normal";
	d->may_reboot = 1;
	snprintf(d->program, sizeof(d->program), "%s", d->files[0].name);
	d->arguments = "/quiet /norestart";
	return 0;
}

static void remember_leaf(struct gen *g, int product, int cls)
{
	const struct doc *d = &g->d;
	struct leafref ref;

	copy_id(ref.id, d->id);
	ref.rev = d->rev;
	ref.product = product;
	ref.cls = cls;
	if (g->n_pool == POOL_LEN) {
		memmove(&g->pool[0], &g->pool[1], (POOL_LEN - 1) * sizeof(g->pool[0]));
		g->n_pool--;
	}
	g->pool[g->n_pool++] = ref;
	if (g->n_recent == RECENT_LEN) {
		memmove(&g->recent[0], &g->recent[1], (RECENT_LEN - 1) * sizeof(g->recent[0]));
		g->n_recent--;
	}
	g->recent[g->n_recent++] = ref;
}

static int pick_leaf_class(struct rng *r, int product)
{
	uint64_t x = rng_below(r, 100);

	if (product == P_DEFENDER)
		return CL_DEFINITION;
	if (x < 40)
		return CL_SECURITY;
	if (x < 55)
		return CL_CRITICAL;
	if (x < 65)
		return CL_DEFINITION;
	return CL_UPDATES;
}

/* A software leaf; with --revise it may also get a second revision with a new title. */
static int emit_leaf(struct gen *g, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;
	int product, cls, rc;
	long nth = g->n_leaves++;

	doc_begin(g, K_LEAF, "Software", &r);
	product = (int)rng_below(&r, N_PRODUCTS - 1);
	if (product >= P_DRIVERS)
		product++;
	cls = pick_leaf_class(&r, product);
	d->rev = 200 + (int)rng_below(&r, 2);
	d->kb = g->next_kb++;
	software_texts(d, class_verb_en[cls], class_verb_de[cls], product);
	/* the first leaves carry each optional feature, so small catalogues have them too */
	d->eula = (nth == 1 || rng_chance(&r, 6)) ? (int)rng_below(&r, N_EULAS) : -1;
	d->mandatory = nth == 2 || rng_chance(&r, 3);
	if (g->o->n_langs > 1 && (nth == 3 || rng_chance(&r, 4)))
		d->prop_language = g->o->langs[g->o->n_langs - 1];

	if (g->last_leaf[product][0] && rng_chance(&r, 10))
		copy_id(d->superseded[d->n_superseded++], g->last_leaf[product]);
	/* IsLeaf must be false for every non-leaf: the first leaf after one names it */
	for (int i = 0; i < g->n_pending; i++)
		add_bare(d, g->pending[i]);
	if (g->n_pending == 0 && g->last_nonleaf[0] && rng_chance(&r, 25))
		add_bare(d, g->last_nonleaf);
	g->n_pending = 0;
	software_prereqs(g, &r, product, cls);
	software_rules(g, &r, product);
	rc = software_files(g, 1 + rng_chance(&r, 30), "", product, e);
	if (rc == 0)
		rc = doc_emit(g, e);
	if (rc < 0)
		return rc;
	copy_id(g->last_leaf[product], d->id);
	remember_leaf(g, product, cls);

	if (nth < g->o->revise) {
		/* the same update revised upstream: same UpdateID and files, new number and title */
		d->rev++;
		d->created_ms += 7 * DAY_MS;
		append(d->title[0], TITLE_LEN, " (revised)");
		append(d->title[1], TITLE_LEN, " (überarbeitet)");
		rc = doc_emit(g, e);
	}
	return rc;
}

/* A servicing-stack-like update that later leaves require as a bare prerequisite. */
static int emit_nonleaf(struct gen *g, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;
	int product, cls, rc;

	doc_begin(g, K_NONLEAF, "Software", &r);
	product = (int)rng_below(&r, N_OS_PRODUCTS);
	cls = rng_chance(&r, 50) ? CL_SECURITY : CL_CRITICAL;
	d->rev = 200;
	d->kb = g->next_kb++;
	software_texts(d, "Servicing Stack Update", "Wartungsstapelupdate", product);
	if (g->n_pending == MAX_PENDING) {
		/* a long run of non-leaves: this one requires them, as servicing stacks chain */
		for (int i = 0; i < g->n_pending; i++)
			add_bare(d, g->pending[i]);
		g->n_pending = 0;
	}
	software_prereqs(g, &r, product, cls);
	software_rules(g, &r, product);
	rc = software_files(g, 1, "ssu-", product, e);
	if (rc == 0)
		rc = doc_emit(g, e);
	if (rc < 0)
		return rc;
	copy_id(g->pending[g->n_pending++], d->id);
	copy_id(g->last_nonleaf, d->id);
	return 0;
}

static int bundle_has(const struct doc *d, const char *id)
{
	for (int i = 0; i < d->n_bundled; i++)
		if (strcmp(d->bundled[i], id) == 0)
			return 1;
	return 0;
}

/* The first leaf taken decides the bundle's product and classification. */
static void bundle_add(struct doc *d, const struct leafref *ref, struct leafref *lead)
{
	if (d->n_bundled == 0)
		*lead = *ref;
	copy_id(d->bundled[d->n_bundled], ref->id);
	d->bundled_rev[d->n_bundled++] = ref->rev;
}

/* Bundles take 1-4 earlier leaves that no bundle has taken yet; when too few are left,
 * recent leaves are bundled a second time (real catalogues do that too). */
static int emit_bundle(struct gen *g, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r;
	struct leafref lead = { 0 };
	int want, product;
	char month[16];

	doc_begin(g, K_BUNDLE, "Software", &r);
	want = 1 + (int)rng_below(&r, 4);
	while (d->n_bundled < want && g->n_pool > 0) {
		int k = (int)rng_below(&r, (uint64_t)g->n_pool);

		bundle_add(d, &g->pool[k], &lead);
		memmove(&g->pool[k], &g->pool[k + 1], (size_t)(g->n_pool - k - 1) * sizeof(g->pool[0]));
		g->n_pool--;
	}
	for (int i = g->n_recent - 1; i >= 0 && d->n_bundled < want; i--)
		if (!bundle_has(d, g->recent[i].id))
			bundle_add(d, &g->recent[i], &lead);
	if (d->n_bundled == 0)
		return err_set(e, -EINVAL, "bundle with no leaf before it (schedule bug)");
	product = lead.product;
	d->rev = 200;
	d->kb = g->next_kb++;
	d->bundle = 1;
	iso_date(d->created_ms, month);
	month[7] = '\0';
	snprintf(d->title[0], TITLE_LEN, "%s Cumulative Update for %s (KB%d)", month, products[product].en, d->kb);
	snprintf(d->title[1], TITLE_LEN, "%s Kumulatives Update für %s (KB%d)", month, products[product].de, d->kb);
	snprintf(d->desc[0], TEXT_LEN, "Install this update to resolve issues in %s. This update "
		 "contains %d component updates.", products[product].en, d->n_bundled);
	snprintf(d->desc[1], TEXT_LEN, "Installieren Sie dieses Update, um Probleme in %s zu beheben. "
		 "Es enthält %d Komponentenupdates.", products[product].de, d->n_bundled);
	if (g->last_bundle[product][0] && rng_chance(&r, 40))
		copy_id(d->superseded[d->n_superseded++], g->last_bundle[product]);
	software_prereqs(g, &r, product, lead.cls);
	copy_id(g->last_bundle[product], d->id);
	return doc_emit(g, e);
}

/* Drivers come in groups of about three sharing a HardwareID, different in feature score,
 * date and version, so that ranking has something to decide. */
static int emit_driver(struct gen *g, struct err *e)
{
	struct doc *d = &g->d;
	struct rng r, hr, fr;
	long j = g->n_drivers++;
	long group = j % g->hw_groups;
	int dev;
	unsigned vendor, device, major;
	struct drvmeta *m;
	char prefix[64];
	int rc;

	doc_begin(g, K_DRIVER, "Driver", &r);
	rng_init(&hr, g->o->seed, ST_HWGROUP, (uint64_t)group);
	dev = (int)(group % (long)N_DEVICES);
	vendor = 0x1000 + (unsigned)rng_below(&hr, 0xe000);
	device = (unsigned)rng_below(&hr, 0x10000);
	major = 1 + (unsigned)rng_below(&hr, 30);
	d->rev = 200;
	d->handler = H_DRIVER;
	d->impact = "Normal";
	d->may_reboot = 1;
	d->rules = R_DRIVER;
	d->n_drv = 1 + (j % 3 == 2);
	for (int i = 0; i < d->n_drv; i++) {
		m = &d->drv[i];
		m->device = dev;
		if (i == 0)
			snprintf(m->hwid, sizeof(m->hwid), "%s\\ven_%04x&dev_%04x", devices[dev].bus, vendor, device);
		else
			snprintf(m->hwid, sizeof(m->hwid), "%s", devices[dev].compatible_id);
		iso_date(1514764800000LL + (int64_t)rng_below(&r, 5 * 365) * DAY_MS, m->date);  /* 2018.. */
		snprintf(m->version, sizeof(m->version), "%u.%u.%u.%u", major, (unsigned)rng_below(&r, 10),
			 (unsigned)rng_below(&r, 1000), (unsigned)rng_below(&r, 10000));
		m->whql = (uint32_t)(20000000 + j * 37 + (long)rng_below(&r, 37));
		m->n_scores = 1 + rng_chance(&r, 50);
		m->score_os[0] = "amd64.10.0";
		m->score_os[1] = "x86.10.0";
		m->score[0] = (int)rng_below(&r, 10);
		m->score[1] = (int)rng_below(&r, 10);
		if (j % 4 == 1)
			copy_id(m->dist[m->n_dist++], g->chids[group % N_CHIDS]);
		if (j % 4 == 2) {
			copy_id(m->target[m->n_target++], g->chids[group % N_CHIDS]);
			copy_id(m->target[m->n_target++], g->chids[(group + 1) % N_CHIDS]);
		}
	}
	m = &d->drv[0];
	snprintf(d->title[0], TITLE_LEN, "%s - %s - %s", devices[dev].manufacturer, devices[dev].class_name,
		 m->version);
	d->names_only = 1;
	add_bare(d, g->detectoid_ids[products[P_DRIVERS].detectoid]);
	clause_add(add_clause(d, 1), g->product_ids[P_DRIVERS]);
	clause_add(add_clause(d, 1), classes[CL_DRIVERS].id);

	rng_init(&fr, g->o->seed, ST_FILE, (uint64_t)(g->doc_index - 1) * MAX_PAYLOADS);
	snprintf(prefix, sizeof(prefix), "%" PRIu32, m->whql);
	rc = payload_make(g, &fr, prefix, 1, "cab", 0, d->created_ms - 24 * HOUR_MS, &d->files[0], e);
	if (rc < 0)
		return rc;
	d->n_files = 1;
	return doc_emit(g, e);
}

/*---- Plan and schedule ----*/

struct plan {
	long updates, leaves, bundles, nonleaves, drivers;
};

static int plan_make(const struct opts *o, struct plan *p, struct err *e)
{
	p->updates = o->revisions - N_FIXED;
	p->bundles = p->updates * 15 / 100;
	p->nonleaves = p->updates * 5 / 100;
	if (p->bundles < 1)
		p->bundles = 1;
	if (p->nonleaves < 1)
		p->nonleaves = 1;
	/* Real catalogues have few non-leaf updates (servicing stacks and the
	 * like), and a WSUS refuses a SyncUpdates naming more than 400 installed
	 * non-leaf revisions: 200 keeps a client that installed all of them
	 * within that cap on any catalogue size. */
	if (p->nonleaves > 200)
		p->nonleaves = 200;
	p->drivers = o->drivers >= 0 ? o->drivers : p->updates * 2 / 100;
	if (o->drivers < 0 && p->drivers < 3)
		p->drivers = 3;
	p->leaves = p->updates - p->bundles - p->nonleaves - p->drivers;
	if (p->leaves < 6 || p->leaves < p->updates / 2)
		return err_set(e, -EINVAL, "--drivers %ld leaves too few software leaves for --revisions %ld",
			       p->drivers, o->revisions);
	if (o->revise > p->leaves)
		return err_set(e, -EINVAL, "--revise %ld is more than the %ld software leaves", o->revise,
			       p->leaves);
	return 0;
}

/* The kind of every update slot, shuffled. The first slots and the last are leaves:
 * bundles need leaves before them, and every non-leaf needs a leaf after it. */
static unsigned char *schedule_make(const struct opts *o, const struct plan *p)
{
	unsigned char *s = malloc((size_t)p->updates);
	struct rng r;
	long i = 0, n = p->updates;

	if (s == NULL)
		return NULL;
	for (long k = 0; k < p->bundles; k++)
		s[i++] = K_BUNDLE;
	for (long k = 0; k < p->nonleaves; k++)
		s[i++] = K_NONLEAF;
	for (long k = 0; k < p->drivers; k++)
		s[i++] = K_DRIVER;
	while (i < n)
		s[i++] = K_LEAF;
	rng_init(&r, o->seed, ST_SCHEDULE, 0);
	for (long k = n - 1; k > 0; k--) {
		long j = (long)rng_below(&r, (uint64_t)k + 1);
		unsigned char t = s[k];

		s[k] = s[j];
		s[j] = t;
	}
	for (int k = 0; k < 5; k++) {
		long pos = k < 4 ? k : n - 1;   /* slots 0..3 and the last one */

		for (long q = 4; s[pos] != K_LEAF && q < n - 1; q++) {
			if (s[q] == K_LEAF) {
				s[q] = s[pos];
				s[pos] = K_LEAF;
			}
		}
	}
	return s;
}

/*---- Output directory ----*/

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Remove what a previous run left (documents, manifest, payloads): with --force the
 * output must still be exactly what these arguments produce. Other files stay. */
static int dir_clean(const char *dir, int top, struct err *e)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];
	int rc = 0;

	if (dh == NULL) {
		int en = errno;

		if (en == ENOENT && !top)
			return 0;
		return err_set(e, -en, "open %s: %s", dir, strerror(en));
	}
	while (rc == 0 && (de = readdir(dh)) != NULL) {
		struct stat st;

		if (top && !has_suffix(de->d_name, ".xml") && strcmp(de->d_name, "manifest.tsv") != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
			rc = err_set(e, -ENAMETOOLONG, "path too long in %s", dir);
			break;
		}
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (unlink(path) != 0) {
			int en = errno;

			rc = err_set(e, -en, "remove %s: %s", path, strerror(en));
		}
	}
	closedir(dh);
	if (rc == 0 && top) {
		if (snprintf(path, sizeof(path), "%s/content", dir) >= (int)sizeof(path))
			return err_set(e, -ENAMETOOLONG, "path too long in %s", dir);
		rc = dir_clean(path, 0, e);
	}
	return rc;
}

static int dir_is_empty(const char *dir, int *empty, struct err *e)
{
	DIR *dh = opendir(dir);
	struct dirent *de;

	if (dh == NULL) {
		int en = errno;

		return err_set(e, -en, "open %s: %s", dir, strerror(en));
	}
	*empty = 1;
	while ((de = readdir(dh)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			*empty = 0;
			break;
		}
	}
	closedir(dh);
	return 0;
}

static int out_prepare(const struct opts *o, char *content_dir, size_t n, struct err *e)
{
	struct stat st;
	int rc, empty = 0;

	if (stat(o->out, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return err_set(e, -ENOTDIR, "%s exists and is not a directory", o->out);
		rc = dir_is_empty(o->out, &empty, e);
		if (rc < 0)
			return rc;
		if (!empty && !o->force)
			return err_set(e, -EEXIST, "%s is not empty (use --force to regenerate into it)", o->out);
		if (!empty) {
			rc = dir_clean(o->out, 1, e);
			if (rc < 0)
				return rc;
		}
	}
	if (snprintf(content_dir, n, "%s/content", o->out) >= (int)n)
		return err_set(e, -ENAMETOOLONG, "output path too long: %s", o->out);
	return wsus_mkdir_p(content_dir, 0755, e);
}

/*---- The run ----*/

static void gen_fixed_ids(struct gen *g)
{
	struct rng r;

	rng_init(&r, g->o->seed, ST_PUBLISHER, 0);
	rng_guid(&r, g->publisher);
	for (int i = 0; i < N_EULAS; i++) {
		rng_init(&r, g->o->seed, ST_EULA, (uint64_t)i);
		rng_guid(&r, g->eulas[i].id);
	}
	for (int i = 0; i < N_CHIDS; i++) {
		rng_init(&r, g->o->seed, ST_CHID, (uint64_t)i);
		rng_guid(&r, g->chids[i]);
	}
	/* 2019-01-01 plus up to four years, chosen by the seed */
	g->base_ms = 1546300800000LL + (int64_t)(g->o->seed % 1461) * DAY_MS;
	g->next_kb = 5000001 + (int)(g->o->seed % 100) * 10000;
}

static int gen_fixed(struct gen *g, struct err *e)
{
	int rc = emit_company(g, e);

	for (int i = 0; rc == 0 && i < 2; i++)
		rc = emit_family(g, i, e);
	for (int i = 0; rc == 0 && i < N_PRODUCTS; i++)
		rc = emit_product(g, i, e);
	for (int i = 0; rc == 0 && i < N_CLASSES; i++)
		rc = emit_classification(g, i, e);
	for (int i = 0; rc == 0 && i < N_DETECTOIDS; i++)
		rc = emit_detectoid(g, i, e);
	return rc;
}

static int generate(const struct opts *o, const struct plan *plan, struct err *e)
{
	struct gen *g = calloc(1, sizeof(*g));
	unsigned char *sched = NULL;
	char path[PATH_MAX];
	int rc;

	if (g == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	g->o = o;
	wsus_buf_init(&g->w.b, WSUS_MAX_UPDATE_XML);
	g->default_lang = o->langs[0];
	for (int i = 0; i < o->n_langs; i++)
		if (strcmp(o->langs[i], "en") == 0)
			g->default_lang = o->langs[i];

	g->hw_groups = plan->drivers / 3 > 0 ? plan->drivers / 3 : 1;
	sched = schedule_make(o, plan);
	g->scratch = malloc(o->size_max);
	if (sched == NULL || g->scratch == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = out_prepare(o, g->content_dir, sizeof(g->content_dir), e);
	if (rc < 0)
		goto fail;
	if (snprintf(path, sizeof(path), "%s/manifest.tsv", o->out) >= (int)sizeof(path)) {
		rc = err_set(e, -ENAMETOOLONG, "output path too long: %s", o->out);
		goto fail;
	}
	g->manifest = fopen(path, "w");
	if (g->manifest == NULL) {
		int en = errno;

		rc = err_set(e, -en, "create %s: %s", path, strerror(en));
		goto fail;
	}
	fputs("update_id\trevision\tupdate_type\tkind\tfiles\ttitle\n", g->manifest);

	gen_fixed_ids(g);
	rc = gen_fixed(g, e);
	for (long i = 0; rc == 0 && i < plan->updates; i++) {
		switch (sched[i]) {
		case K_LEAF:    rc = emit_leaf(g, e); break;
		case K_NONLEAF: rc = emit_nonleaf(g, e); break;
		case K_BUNDLE:  rc = emit_bundle(g, e); break;
		default:        rc = emit_driver(g, e); break;
		}
	}
	if (rc < 0)
		goto fail;
	if (fclose(g->manifest) != 0) {
		g->manifest = NULL;
		rc = err_set(e, -EIO, "write %s: %s", path, strerror(errno));
		goto fail;
	}
	g->manifest = NULL;
	printf("wsus-gencatalog: %ld revisions (", g->n_docs);
	for (int k = 0; k < K__N; k++)
		printf("%s%ld %s", k ? ", " : "", g->counts[k], kind_names[k]);
	printf("), %ld payloads (%" PRIu64 " bytes) in %s\n", g->n_payloads, g->payload_bytes, o->out);

fail:
	if (g->manifest)
		fclose(g->manifest);
	wsus_buf_free(&g->w.b);
	free(g->scratch);
	free(sched);
	free(g);
	return rc;
}

/*---- Arguments ----*/

static void usage(FILE *f)
{
	fputs("usage: wsus-gencatalog --out DIR [--seed N] [--revisions N] [--file-size MIN:MAX]\n"
	      "                       [--languages en,de] [--drivers N] [--revise K] [--force]\n"
	      "  --seed N            PRNG seed; the same arguments give byte-identical output (1)\n"
	      "  --revisions N       documents to write, categories and detectoids included (200, >= 30)\n"
	      "  --file-size MIN:MAX payload sizes in bytes (256:4096, at most 64 MiB)\n"
	      "  --languages LIST    LocalizedProperties languages (en,de)\n"
	      "  --drivers N         driver revisions among them (2% of the updates, at least 3)\n"
	      "  --revise K          also write a second revision of the first K software leaves\n"
	      "  --force             regenerate into a non-empty DIR (its *.xml, manifest.tsv and\n"
	      "                      content/* are removed first)\n"
	      "Writes DIR/<updateid>-r<rev>.xml, DIR/content/<sha1>.<ext>, DIR/manifest.tsv.\n", f);
}

/* Digits only (strtoull alone accepts signs and blanks), at most max. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_sizes(const char *s, struct opts *o, struct err *e)
{
	char lo[32];
	const char *colon = strchr(s, ':');
	uint64_t a, b;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(lo))
		return err_set(e, -EINVAL, "--file-size wants MIN:MAX, got '%s'", s);
	memcpy(lo, s, (size_t)(colon - s));
	lo[colon - s] = '\0';
	if (parse_u64(lo, MAX_FILE_SIZE, &a) < 0 || parse_u64(colon + 1, MAX_FILE_SIZE, &b) < 0 || a < 1 || a > b)
		return err_set(e, -EINVAL, "--file-size wants 1 <= MIN <= MAX <= %u, got '%s'", MAX_FILE_SIZE, s);
	o->size_min = (size_t)a;
	o->size_max = (size_t)b;
	return 0;
}

static int lang_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] >= 'a' && s[i] <= 'z')
		i++;
	if (i < 2 || i > 3)
		return 0;
	if (i == n)
		return 1;
	if (s[i++] != '-' || n - i < 2 || n - i > 8)
		return 0;
	for (; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int parse_langs(const char *s, struct opts *o, struct err *e)
{
	const char *p = s;

	o->n_langs = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (!lang_valid(p, n))
			return err_set(e, -EINVAL, "--languages: '%.*s' is not a lower-case language tag",
				       (int)n, p);
		if (o->n_langs == MAX_LANGS)
			return err_set(e, -EINVAL, "--languages: at most %d languages", MAX_LANGS);
		memcpy(o->langs[o->n_langs], p, n);
		o->langs[o->n_langs][n] = '\0';
		for (int i = 0; i < o->n_langs; i++)
			if (strcmp(o->langs[i], o->langs[o->n_langs]) == 0)
				return err_set(e, -EINVAL, "--languages: '%s' twice", o->langs[i]);
		o->n_langs++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* 0 to run, 1 after --help, negative with e filled on a bad command line. */
static int opts_parse(int argc, char **argv, struct opts *o, struct err *e)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "revisions", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "file-size", required_argument, NULL, 'z' },
		{ "languages", required_argument, NULL, 'l' },
		{ "drivers", required_argument, NULL, 'd' },
		{ "revise", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->revisions = 200;
	o->size_min = DEFAULT_SIZE_MIN;
	o->size_max = DEFAULT_SIZE_MAX;
	o->drivers = -1;
	parse_langs("en,de", o, e);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 's':
			if (parse_u64(optarg, UINT64_MAX, &v) < 0)
				return err_set(e, -EINVAL, "--seed wants an unsigned integer, got '%s'", optarg);
			o->seed = v;
			break;
		case 'n':
			if (parse_u64(optarg, MAX_REVISIONS, &v) < 0 || v < MIN_REVISIONS)
				return err_set(e, -EINVAL, "--revisions wants %d..%ld, got '%s'", MIN_REVISIONS,
					       MAX_REVISIONS, optarg);
			o->revisions = (long)v;
			break;
		case 'o':
			if (optarg[0] == '\0')
				return err_set(e, -EINVAL, "--out wants a directory");
			o->out = optarg;
			break;
		case 'z':
			rc = parse_sizes(optarg, o, e);
			break;
		case 'l':
			rc = parse_langs(optarg, o, e);
			break;
		case 'd':
			if (parse_u64(optarg, MAX_REVISIONS, &v) < 0)
				return err_set(e, -EINVAL, "--drivers wants a count, got '%s'", optarg);
			o->drivers = (long)v;
			break;
		case 'r':
			if (parse_u64(optarg, MAX_REVISIONS, &v) < 0)
				return err_set(e, -EINVAL, "--revise wants a count, got '%s'", optarg);
			o->revise = (long)v;
			break;
		case 'f':
			o->force = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case ':':
			return err_set(e, -EINVAL, "%s wants a value (see --help)", argv[optind - 1]);
		default:
			return err_set(e, -EINVAL, "unknown argument '%s' (see --help)", argv[optind - 1]);
		}
		if (rc < 0)
			return rc;
	}
	if (optind < argc)
		return err_set(e, -EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
	if (o->out == NULL)
		return err_set(e, -EINVAL, "--out DIR is required (see --help)");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct plan plan = { 0 };
	struct err e = { 0 };
	int rc = opts_parse(argc, argv, &o, &e);

	if (rc == 1)
		return 0;
	if (rc == 0)
		rc = plan_make(&o, &plan, &e);
	if (rc < 0) {
		fprintf(stderr, "wsus-gencatalog: %s\n", e.msg);
		return 2;
	}
	rc = generate(&o, &plan, &e);
	if (rc < 0) {
		fprintf(stderr, "wsus-gencatalog: %s\n", e.msg);
		return 1;
	}
	return 0;
}
