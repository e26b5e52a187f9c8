/*
 * sync.h -- the downstream (DSS) side of wsus-replica: the upstream HTTPS
 * client (sync_http.c), the only place that decides whether an upstream is
 * trusted, the certificate pin store (sync_trust.c), one sync with its phases
 * (sync_run.c and the sync_*.c files it drives, all built on sync_http_*) and
 * the schedule `serve` runs them on (sync_sched.c).
 *
 * Ownership: every *_new/_load has a matching *_free that accepts NULL.
 * Unless a function says otherwise it returns 0 or a negative errno code with
 * one line in e, and its OUT parameters are untouched on error.
 *
 * Design notes (the chain of trust, DESIGN.md):
 *  (1) Only https:// URLs are ever requested or followed (plain http:// only
 *      for payloads, only when [trust] allow_http_content = true). The check
 *      runs before any connection and again on every redirect hop.
 *  (2) TLS 1.2 minimum; chain and host name are verified against
 *      [upstream] ca_file (alone) or the system store. Nothing turns it off.
 *  (3) The pin decision happens inside the handshake, after the chain
 *      verified: a non-empty pin store must match a certificate of the
 *      verified chain (SHA-256 of DER) or the handshake is refused
 *      (enforce_pinning = false: allowed with a warning).
 *  (4) libcurl never reads proxy variables itself: the system proxy
 *      ([trust] proxy, or direct) is always tried first; the environment's
 *      proxy only with allow_user_proxy_fallback = true, after the system path
 *      failed at the connection level. TLS is tunnelled end to end (CONNECT)
 *      and pinning applies through every proxy.
 *  (5) A trust failure is never retried and never falls back to another
 *      proxy: it fails the request at once with a message that says why.
 */
#ifndef WSUS_SYNC_H
#define WSUS_SYNC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "config.h"

/*---- Limits ----*/

#define SYNC_MAX_SOAP_RESPONSE (256u * 1024 * 1024) /* one SOAP response body */
#define SYNC_MAX_PINS          1024                 /* certificates in a pin store */
#define SYNC_MAX_CHAIN         16                   /* certificates recorded per handshake */
#define SYNC_MAX_REDIRECTS     5
#define SYNC_SHA256_HEX        65                   /* 64 hex digits + NUL */
#define SYNC_PIN_WARN_DAYS     30                   /* warn at sync when the matched pin expires sooner */

/*---- Certificates and the trust verdict ----*/

/* What we show about one certificate. */
struct sync_cert_info {
	char    subject[256];            /* RFC 2253, truncated if longer */
	char    issuer[256];
	char    sha256[SYNC_SHA256_HEX]; /* lower-case hex SHA-256 of the DER */
	char    not_after[32];           /* "YYYY-MM-DDTHH:MM:SSZ" */
	int64_t not_after_unix;
	int     expired;                 /* notAfter is in the past */
};

enum sync_pin_result {
	SYNC_PIN_NONE = 0,           /* no handshake reached a decision yet */
	SYNC_PIN_UNTRUSTED,          /* chain verification failed before pinning */
	SYNC_PIN_STORE_EMPTY,        /* allowed: pin store empty, not enforced */
	SYNC_PIN_MATCHED,            /* allowed: a chain certificate is pinned */
	SYNC_PIN_NOT_PINNED,         /* refused: no chain certificate is pinned */
	SYNC_PIN_NOT_PINNED_ALLOWED, /* allowed with a warning: enforce_pinning = false */
};
const char *sync_pin_result_name(enum sync_pin_result r); /* "matched", ... */

/* The outcome of the last TLS handshake with the upstream. A reused
 * connection keeps the verdict of the handshake that opened it. */
struct sync_trust_verdict {
	enum sync_pin_result pin;
	int     allowed;                 /* 1: every trust check of that connection passed */
	char    host[256];               /* the host it was made for */
	size_t  n_chain;                 /* leaf first; the verified chain (with its anchor)
	                                    or, when verification failed, what was presented */
	struct sync_cert_info chain[SYNC_MAX_CHAIN];
	int     matched;                 /* index in chain of the pinned certificate, -1 */
	size_t  n_pins;                  /* certificates in the pin store */
	char    leaf_sha256[SYNC_SHA256_HEX]; /* provenance: the certificate that delivered */
	char    line[WSUS_ERR_LEN];      /* the verdict as logged (one line) */
};

/*---- sync_trust.c: the pin store (a directory of PEM certificates) ----*/

struct sync_pin {
	struct sync_cert_info cert;
	char file[256];                  /* file name inside the store holding it (first one) */
};

struct sync_pin_store;

/* Load every certificate of every regular, non-hidden file in dir (a file
 * may hold several PEM certificates; files over 1 MiB and files without a
 * certificate are skipped with a warning and counted). A missing directory is
 * an empty store. The same certificate in several files counts once.
 * -ENOTDIR when dir is not a directory, -E2BIG past SYNC_MAX_PINS.
 * Caller frees with sync_pin_store_free. */
int sync_pin_store_load(const char *dir, struct sync_pin_store **out, struct err *e);
void sync_pin_store_free(struct sync_pin_store *ps);
size_t sync_pin_store_count(const struct sync_pin_store *ps);
/* Files skipped because they held no readable certificate. */
size_t sync_pin_store_skipped(const struct sync_pin_store *ps);
/* The i-th pin (load order: file names sorted, then order in file); NULL past the end. */
const struct sync_pin *sync_pin_store_at(const struct sync_pin_store *ps, size_t i);
/* The pin whose SHA-256 is sha256_hex (64 hex digits, any case), or NULL. */
const struct sync_pin *sync_pin_store_find(const struct sync_pin_store *ps, const char *sha256_hex);

/* `pin add`: read file (PEM or DER, exactly one certificate), create dir if
 * needed, write it as dir/<sha256>.pem (atomically). *existed = 1 when that
 * certificate was already pinned (nothing written). info receives what was
 * pinned. -EINVAL when file holds no certificate or several. */
int sync_pin_add(const char *dir, const char *file, struct sync_cert_info *info,
		 int *existed, struct err *e);

/* `pin remove`: sha256 is a full fingerprint or a unique prefix of at least 8
 * hex digits (any case, colons between byte pairs allowed). Deletes every
 * store file holding that certificate; refuses (-EBUSY) a file that also holds
 * other certificates. -ENOENT no match, -EINVAL bad form or too short,
 * -EEXIST ambiguous prefix (e lists the candidates). info: the removed pin. */
int sync_pin_remove(const char *dir, const char *sha256, struct sync_cert_info *info,
		    struct err *e);

/* `pin add` for a PEM text already in memory (one certificate), e.g. one
 * that `pin fetch` was shown. Same result as sync_pin_add. */
int sync_pin_add_pem(const char *dir, const char *pem, size_t len, struct sync_cert_info *info,
		     int *existed, struct err *e);

/* What an upstream presented in one TLS handshake (`pin fetch`), leaf first. */
struct sync_presented {
	size_t n;
	struct sync_cert_info cert[SYNC_MAX_CHAIN];
	char  *pem[SYNC_MAX_CHAIN];      /* owned: the certificate as PEM */
	char   route[600];               /* how the connection went out (sync_http_route) */
};
void sync_presented_free(struct sync_presented *p);

/*---- sync_http.c: the upstream client ----*/

struct sync_http;

/* A client for the upstream named in cfg (which must outlive it). Loads the
 * pin store (cfg->tr_pin_store) once, fails closed (-EPERM) on a store that
 * holds files but no readable certificate, decides the proxy plan, and sets
 * up one libcurl handle reused across requests (keep-alive). Fails when
 * libcurl is not built on OpenSSL (the pin hook needs it). Free with
 * sync_http_free. Not thread-safe: one thread at a time per client. */
int sync_http_new(const struct wsus_config *cfg, struct sync_http **out, struct err *e);
void sync_http_free(struct sync_http *h);

/* POST a SOAP 1.1 request: Content-Type text/xml; charset=utf-8, SOAPAction
 * "soap_action" (quoted here unless already quoted), gzip/deflate accepted.
 * out is reset first (any old content freed) and receives the body, at most
 * SYNC_MAX_SOAP_RESPONSE bytes, NUL-terminated; free it with wsus_buf_free
 * whatever the result. Returns 0 with *status 200 on success, and 0 with
 * *status 500 when the body is a SOAP Fault (the caller parses it). Other
 * statuses: -EIO (*status set, body in out). Connection failures, timeouts
 * and 5xx without a fault are retried (cfg->up_retries, exponential backoff
 * with jitter), then the user proxy is tried if policy allows. Trust
 * failures: -EPERM at once, never retried. Redirects (<= SYNC_MAX_REDIRECTS)
 * are followed keeping the POST, each target re-checked. */
int sync_http_post_soap(struct sync_http *h, const char *url, const char *soap_action,
			const char *body, size_t len, long *status /* OUT, may be NULL */,
			struct wsus_buf *out, struct err *e);

/* Where GET bodies go: data is the bytes at absolute offset `offset` of the
 * resource. Requested with a Range but answered 200, the data starts again at
 * offset 0: the sink must then restart (truncate). Return 0 to continue,
 * negative to abort the transfer (that code is returned, not retried). */
typedef int (*sync_sink_fn)(void *ctx, int64_t offset, const void *data, size_t n);

/* GET flags */
#define SYNC_GET_PAYLOAD 1  /* a payload protected by metadata digests: http:// is
			       allowed when [trust] allow_http_content = true */

/* GET url from byte offset (> 0 sends Range: bytes=offset-; a 206 must start
 * there). The body of a 200/206 goes to sink; a retried transfer resumes
 * where the sink stopped. Returns 0 on 200/206, -ENOENT on 404, -EIO on other
 * statuses (*status set in all three), -EPERM for trust failures, another
 * negative code for connection failures after retries and fallback. No total
 * time limit: a transfer stalled for cfg->up_timeout seconds fails. */
int sync_http_get(struct sync_http *h, const char *url, int flags, int64_t offset,
		  sync_sink_fn sink, void *ctx, long *status /* OUT, may be NULL */,
		  struct err *e);

/* One GET of url whose body is read up to 64 KiB and dropped: a real TLS
 * handshake through the proxy policy, for `pin check`. Any HTTP status counts
 * as success (0, *status set): what it tests is the connection's trust. */
/* The receive limit (bytes/s, 0 = none) of payload GETs (SYNC_GET_PAYLOAD)
 * made from now on: libcurl's CURLOPT_MAX_RECV_SPEED_LARGE for that transfer.
 * SOAP requests are never limited. */
void sync_http_set_recv_limit(struct sync_http *h, int64_t bytes_per_s);

int sync_http_probe(struct sync_http *h, const char *url, long *status, struct err *e);

/* `pin fetch`: one handshake with cfg->up_url through the configured proxy
 * policy that records the chain the upstream presents and then stops, before
 * any request is sent (whatever the CA file, the system store or the pins
 * would say: the admin decides, with --accept). 0 with out filled (caller
 * frees with sync_presented_free) when a chain was presented; otherwise the
 * connection's error. Nothing is stored. */
int sync_pin_fetch(const struct wsus_config *cfg, struct sync_presented *out, struct err *e);

/* The verdict of the most recent handshake (pin == SYNC_PIN_NONE before the
 * first). Valid until the next request or sync_http_free. */
const struct sync_trust_verdict *sync_http_verdict(const struct sync_http *h);

/* How the last request went out: "direct", "system proxy http://h:p" or
 * "user proxy http://h:p (from $https_proxy)"; credentials never shown. */
const char *sync_http_route(const struct sync_http *h);

/* Join base (an upstream URL, trailing slashes ignored) and path (leading
 * slash optional) into out. -E2BIG when it does not fit. */
int sync_url_join(const char *base, const char *path, char *out, size_t cap);

/*---- sync_run.c: one sync with the upstream ----*/

/* What a sync did; filled as far as it got, on failure too. */
struct sync_result {
	const char *phase;             /* the phase reached (where it stopped on failure) */
	int64_t started_ms;
	int64_t finished_ms;
	size_t  listed;                /* identities the revision lists named */
	size_t  fetched;               /* documents GetUpdateData delivered in this run */
	size_t  resumed;               /* documents an interrupted run had staged, reused */
	size_t  batches;               /* GetUpdateData calls */
	size_t  published_new;         /* revisions new to the catalogue */
	size_t  published_changed;     /* revisions whose document changed */
	size_t  deployments;           /* live deployments added or changed (replica) */
	size_t  deployments_dead;      /* deployments retired */
	size_t  groups;                /* target groups the upstream has (replica) */
	size_t  hidden;                /* revisions whose decline flag flipped */
	size_t  files_wanted;          /* payloads the content phase set out to fetch */
	size_t  files_fetched;         /* verified and published */
	size_t  files_quarantined;     /* failed a digest check: quarantined, never served */
	size_t  files_deferred;        /* 404 from the upstream: DownloadFiles asked, next sync */
	size_t  files_failed;          /* other download errors: next sync */
	int64_t bytes;                 /* payload bytes received */
	int     window_closed;         /* content left for later: outside [sync] window */
	int64_t window_opens_ms;       /* then: how long until it opens */
	int     rollup;                /* 1 reported to the upstream, 0 not tried, -1 failed */
	int     published;             /* 1 when the publishing transaction committed */
	char    cert_sha256[SYNC_SHA256_HEX]; /* the upstream certificate that delivered */
	char    verdict[WSUS_ERR_LEN];        /* the trust verdict, as logged */
};

struct sync_options {
	int progress;                  /* a \r-updated progress line on stderr */
	const atomic_int *cancel;      /* non-zero: stop before the next request (NULL: never) */
	int retry_quarantined;         /* fetch quarantined payloads now, not a day after they failed */
	int ignore_window;             /* an admin's explicit repair: fetch outside [sync] window too */
};

/* One sync of cfg's upstream (cfg->up_url must be set): authorisation,
 * config, categories, updates, decryption keys, deployments (replica mode),
 * then one transaction that publishes all of it with the anchors, then
 * content and the reporting rollup. Opens its own storage and HTTP client.
 * Fails (nothing published, staging kept for the next run) with one line in
 * e; -EBUSY when another sync of this data directory is running, -ECANCELED
 * when opt->cancel was set. Content and rollup problems do not fail a sync
 * whose metadata was published: res counts them. opt and res may be NULL. */
int sync_run(const struct wsus_config *cfg, const struct sync_options *opt, struct sync_result *res,
	     struct err *e);

/*---- sync_bundle.c: signed air-gap bundles (issue 13.5) ----*/

struct sync_bundle_options {
	const char *path;              /* the bundle file */
	const char *signer;            /* a trusted Ed25519 public key (PEM); NULL = every *.pem in
	                                  [trust] bundle_signers */
};
struct sync_bundle_result {
	struct sync_result sync;       /* phase, published_new/changed, deployments, ... */
	char     signer[SYNC_SHA256_HEX];  /* SHA-256 of the signer's public key */
	char     exporter[WSUS_GUID_LEN];  /* ServerID of the exporting server */
	uint64_t sequence;
	int64_t  anchor, since;        /* the exporter's anchors the bundle spans */
	size_t   revisions;            /* revisions the bundle carried */
	size_t   payloads;             /* payload members */
	size_t   payloads_stored;      /* verified and published into the content store */
	size_t   payloads_skipped;     /* present already, or of no catalogued file */
	size_t   payloads_quarantined; /* failed a digest check: never served */
};
/* Import a bundle written by `export`: the signature is verified against the
 * trusted keys and every member against its signed digest before anything is
 * parsed or written; a replayed or older bundle (sequence not newer than the
 * last imported from that signer) is refused; then the catalogue is staged
 * and published like a sync from "bundle://<exporter ServerID>" (replica
 * mode: with its groups, deployments, declines and EULAs) and the payloads go
 * through the content store's verification. Fails with one line in e and
 * nothing changed before publishing; -EBUSY when a sync runs. res->sync.phase
 * says how far it got. */
int sync_bundle_import(const struct wsus_config *cfg, const struct sync_bundle_options *opt,
		       struct sync_bundle_result *res, struct err *e);

/* The content phase alone (verify --repair, reset): under the same lock as a
 * sync, fetch the payloads the catalogue wants and the store lacks, with the
 * same rate limit and window (unless opt->ignore_window). No metadata is
 * asked for; DownloadFiles is asked for what answers 404. */
int sync_content_run(const struct wsus_config *cfg, const struct sync_options *opt, struct sync_result *res,
		     struct err *e);

/* [sync] window at now (local time): 1 open (or no window), 0 closed;
 * *opens_in_ms (may be NULL) = milliseconds until it next opens (0 when open). */
int sync_window_open(const struct wsus_config *cfg, time_t now, int64_t *opens_in_ms);

/*---- sync_sched.c: the schedule inside serve ----*/

struct sync_scheduler;

/* A thread that runs sync_run every [sync] interval plus a random part of
 * [sync] jitter (the first run when the last successful sync is an interval
 * old, or at start when there was none, plus the random part), retrying a
 * failed sync with exponential backoff. One sync at a time: the thread runs them one
 * after another, and sync_run's lock keeps out a `wsus-replica sync` running
 * beside it. cfg must outlive the scheduler. */
int sync_scheduler_start(const struct wsus_config *cfg, struct sync_scheduler **out, struct err *e);
/* Cancel a running sync at its next request, stop and join the thread, free.
 * Accepts NULL. */
void sync_scheduler_stop(struct sync_scheduler *s);

/* Milliseconds to wait before the next attempt: after a success (failures =
 * 0) interval plus up to jitter; after the n-th failure in a row a backoff of
 * 30 s doubling per failure, capped at the interval, plus up to jitter. rnd
 * supplies the randomness. */
int64_t sync_schedule_delay_ms(int interval_s, int jitter_s, int failures, uint32_t rnd);


/*---- sync_scan.c: the client role of MS-WUSP (3.2), for `scan` and wsus-scanload ----*/

/* A diagnostic Windows Update client: GetConfig, GetAuthorizationCookie,
 * GetCookie, RegisterComputer, the SyncUpdates software pages and the driver
 * pass, GetExtendedUpdateInfo, then on request the downloads (digests checked)
 * and a ReportEventBatch. It talks to any MS-WUSP server through a
 * struct sync_http (so the chain-of-trust policy applies), keeps every offer
 * in memory and says what it got. One scan belongs to one thread; several
 * scans may run at once in several threads, each with its own sync_http. */

#define SYNC_SCAN_CLIENT_PV  "2.4"    /* GetCookie protocolVersion: Windows 10 20H2 and later */
#define SYNC_SCAN_CONFIG_PV  "1.8"    /* GetConfig protocolVersion, as the spec asks */
#define SYNC_SCAN_MAX_PAGES  2000     /* SyncUpdates calls per pass before we call it a loop */
#define SYNC_SCAN_MAX_OFFERS 500000   /* revisions one scan keeps */
#define SYNC_SCAN_MAX_HWIDS  64       /* devices claimed for the driver pass */

/* Which offered non-leaf revisions the client says are installed
 * (InstalledNonLeafUpdateIDs). A server offers a revision only once every
 * prerequisite clause names an installed update, so this decides how far
 * into the catalogue the scan sees. Leaf updates are never reported installed:
 * every offered update is treated as needed. */
enum sync_scan_nonleaf {
	SYNC_SCAN_NONLEAF_ALL = 0,       /* every offered non-leaf revision: the whole closure (default) */
	SYNC_SCAN_NONLEAF_NONE,          /* none: only what has no prerequisites */
	SYNC_SCAN_NONLEAF_LIST,          /* the UpdateIDs in installed[] */
};

struct sync_scan_opts {
	const char *server;              /* the client's WUServer URL (https://host:port) */
	const char *client_id;           /* ClientIdString, a GUID in practice; NULL: a random one */
	const char *dns_name;            /* NULL: "scan-<first 8 of client_id>.wsus-replica.invalid" */
	const char *groups;              /* targetGroupName (';'-separated); NULL or "": none */
	const char *protocol_version;    /* GetCookie's; NULL: SYNC_SCAN_CLIENT_PV */
	const char *locale;              /* GetExtendedUpdateInfo locale; NULL: "en" */
	enum sync_scan_nonleaf nonleaf;
	const char *const *installed;    /* UpdateIDs, for SYNC_SCAN_NONLEAF_LIST */
	size_t n_installed;
	const char *const *hwids;        /* one device per HardwareID for the driver pass */
	size_t n_hwids;
	int no_drivers;                  /* skip the driver pass */
	int no_extended;                 /* skip GetExtendedUpdateInfo (no titles, no files) */
};

enum sync_scan_file_state {
	SYNC_SCAN_FILE_LISTED = 0,       /* known from the metadata, not downloaded */
	SYNC_SCAN_FILE_VERIFIED,         /* downloaded (or already there) and every digest matched */
	SYNC_SCAN_FILE_FAILED,           /* no URL, transfer failed, or a digest/size did not match */
};

struct sync_scan_file {
	uint8_t sha1[WSUS_SHA1_LEN];     /* File/@Digest */
	uint8_t sha256[WSUS_SHA256_LEN]; /* AdditionalDigest Algorithm="SHA256" */
	int     has_sha256;
	int64_t size;                    /* File/@Size, -1 when not given */
	char    name[256];               /* File/@FileName (cut), "" when not given */
	char   *url;                     /* from FileLocations; NULL when the server gave none */
	enum sync_scan_file_state state;
	int64_t received;                /* bytes transferred by this run */
	char    why[200];                /* FAILED: the reason */
};

struct sync_scan_update {
	int64_t revision_id;             /* the server's RevisionID */
	char    update_id[WSUS_GUID_LEN];
	int     revision;
	enum wsus_update_type type;      /* from the Core fragment */
	int     is_leaf;
	int     is_bundle;               /* the Core fragment lists BundledUpdates */
	int     driver_pass;             /* offered by the driver pass */
	int     installed;               /* reported in InstalledNonLeafUpdateIDs */
	int64_t deployment_id;
	char    action[24];              /* Deployment/Action: Install, Bundle, Evaluate, ... */
	char    deadline[40];            /* Deployment/Deadline, "" when none */
	int     is_assigned;
	char    title[256];              /* LocalizedProperties/Title (cut at a UTF-8 boundary), "" */
	int     have_extended;           /* GetExtendedUpdateInfo returned its Extended fragment */
	int     out_of_scope;            /* GetExtendedUpdateInfo listed it in OutOfScopeRevisionIDs */
	size_t *files;                   /* indexes for sync_scan_file_at */
	size_t  n_files;
};

struct sync_scan_info {
	char    client_id[256];
	char    dns_name[256];
	char    last_change[64];         /* GetConfig LastChange, as sent */
	char    server_pv[16];           /* GetConfig ProtocolVersion, "" when not sent */
	int     max_extended;            /* MaxExtendedUpdatesPerRequest */
	int     registration_required;
	char    auth_url[1024];          /* the SimpleAuth ServiceUrl, resolved */
	size_t  software_pages;          /* SyncUpdates calls of the software pass */
	size_t  driver_pages;            /* ... of the driver pass */
	int     driver_pass;             /* 1 done, 0 skipped: server said DriverSyncNotNeeded, -1 skipped by option */
	size_t  extended_calls;
	size_t  calls;                   /* SOAP requests made */
	int     recoveries;              /* faults recovered from (re-auth, GetConfig again, register) */
	char    recovered[160];          /* the last one: "<ErrorCode> in <operation>", "" when none */
	size_t  events_sent;             /* ReportEventBatch */
	int     report;                  /* 1 accepted, 0 not sent, -1 refused (result false) */
	char    fault_code[64];          /* the last SOAP fault, "" when none */
	char    fault_message[256];
	char    fault_op[48];
};

struct sync_scan;

/* A scan of o->server through h (its cfg decides CA, pins, proxy; h must
 * outlive the scan). The strings of o are copied. Free with sync_scan_free. */
int sync_scan_new(const struct sync_scan_opts *o, struct sync_http *h, struct sync_scan **out,
		  struct err *e);
void sync_scan_free(struct sync_scan *s);

/* The metadata part of a client cycle: GetConfig through the last SyncUpdates
 * page of both passes, then GetExtendedUpdateInfo for every offered revision.
 * CookieExpired and InvalidCookie are recovered once by a new authorization,
 * ConfigChanged once by GetConfig again, RegistrationRequired once by
 * RegisterComputer. Any other fault: -EREMOTEIO with e = "fault <ErrorCode>:
 * <Message> in <operation>" (also in the info). What was offered before a
 * failure stays readable. */
int sync_scan_run(struct sync_scan *s, struct err *e);

/* Fetch every file of the offered updates into dir (created if needed) as
 * <sha1 hex><.ext>, resuming a <name>.part with a Range request, then check
 * size, SHA-1 and SHA-256 against the metadata; a file already in dir is only
 * re-checked. A mismatch deletes the download. Returns 0 when every file
 * verified, -EIO when some did not (each file says why), another negative
 * code when dir is unusable. */
int sync_scan_download(struct sync_scan *s, const char *dir, struct err *e);

/* ReportEventBatch: 147 (detection finished) and 156 (status) for the scan,
 * and per downloaded update 162 (download succeeded) or 161 (failed).
 * Returns 0 when the server answered true; -EREMOTEIO on a fault (e as for
 * sync_scan_run), -EBADMSG when it answered false. */
int sync_scan_report(struct sync_scan *s, struct err *e);

const struct sync_scan_info *sync_scan_info(const struct sync_scan *s);
size_t sync_scan_count(const struct sync_scan *s);          /* offered revisions, in offer order */
const struct sync_scan_update *sync_scan_update_at(const struct sync_scan *s, size_t i);
size_t sync_scan_file_count(const struct sync_scan *s);
const struct sync_scan_file *sync_scan_file_at(const struct sync_scan *s, size_t i);

#endif /* WSUS_SYNC_H */
