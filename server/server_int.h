/*
 * server_int.h -- the contract between the front end core (server.c:
 * daemon, TLS, routing, bodies, storage handles) and the SOAP services
 * (server_sss.c, server_dssauth.c, server_reporting.c, and later the client
 * services). A service is a path plus a table of operations; the core parses
 * the SOAP envelope, finds the operation by the body's first element, calls
 * its handler, and wraps the result in an envelope or a fault.
 */
#ifndef WSUS_SERVER_INT_H
#define WSUS_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/stat.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "common.h"
#include "config.h"
#include "protocol.h"
#include "storage.h"

/* Cookie lifetimes (MS-WSUSSS <29>: 240 minutes). */
#define SERVER_AUTH_COOKIE_TTL_MS  (8LL * 3600 * 1000)
#define SERVER_COOKIE_TTL_MS       (240LL * 60 * 1000)
/* GetUpdateData response budget (MS-WSUSSS <37>). */
#define SERVER_UPDATE_DATA_BUDGET  2000000
/* The limit we advertise in GetConfigData and enforce in GetUpdateData. */
#define SERVER_MAX_UPDATES_PER_REQUEST 100
#define SERVER_MAX_DIGESTS_PER_DOWNLOAD 100

struct server_report;
struct server_limit;
struct server_scan_cache;
struct server_scan;
struct server_access;
struct server_fresh;

struct server {
	const struct wsus_config *cfg;
	char     server_id[WSUS_GUID_LEN];
	uint8_t  cookie_key[32];        /* storage_secret("cookie") */
	char     tls_fp[65];            /* our certificate's SHA-256 */
	char     public_url[512];       /* https://host:port, no trailing slash */
	char     content_url[512];      /* base of /Content URLs we hand out */
	/* storage handles: one per worker thread, taken and given back per request */
	pthread_mutex_t st_lock;
	struct storage **st_free;
	size_t   st_nfree, st_cap;
	void    *mhd;                   /* struct MHD_Daemon * (HTTPS) */
	void    *mhd_plain;             /* plain-HTTP content daemon, or NULL */
	int      port;
	char   **allow_fps;             /* downstream client-cert allow-list (lower-case hex) */
	size_t   n_allow_fps;           /* both under allow_lock (SIGHUP replaces them) */
	pthread_rwlock_t allow_lock;
	struct server_creds *_Atomic creds; /* TLS certificate and key (server_reload.c) */
	struct server_report *report;   /* client event writer (server_report.c), NULL when not running */
	struct server_queue *queue;     /* admission queue and workers (server_queue.c) */
	struct server_limit *register_limit; /* RegisterComputer per address, NULL = none (made and
					     freed with the writer: server_report_start/stop) */
	struct server_scan_cache *scan_cache; /* prepared scan states (server_scanstate.c), made on first use */
	struct server_access *access;   /* the access log's writer (server_access.c) */
	_Atomic uint64_t db_gen;        /* the database generation (server_fresh.c), 0 = not polled */
	struct server_fresh *fresh;     /* its poller, NULL when not running */
	uint64_t instance;              /* this server among those of the process (copies name it) */
};

struct server_req {
	struct server *srv;
	const char *method;            /* "GET", "HEAD", "POST" */
	const char *path;              /* the URL path as received */
	const char *soap_action;       /* SOAPAction header (quotes kept), or the 1.2 action, or NULL */
	const char *accept_encoding;   /* or NULL */
	const char *body;              /* POST body, NUL-terminated; NULL for GET/HEAD */
	size_t      body_len;
	char        peer[64];          /* client address as text */
	char        client_fp[65];     /* SHA-256 of the client certificate, "" if none */
	int         tls;               /* arrived over HTTPS */
	struct storage *st;            /* this request's storage handle */
	/* memo_ok: the caller (server.c) takes care of memoised answers. Then a
	 * handler whose answer may be memoised sets the state (a reference the
	 * caller releases) and the key (server_scan_memo_get); memo_hit when the
	 * answer is already kept (memo_answer). Whole (memo_split 0): the
	 * handler's output is dropped for it. Split round a per-request part
	 * (server_scanstate.c design note 6): on a hit the handler writes only
	 * that part and the kept tail, from body offset memo_cut; on a miss it
	 * writes the whole answer and marks the part [memo_cut, memo_cut_end)
	 * and the tail's end memo_tail_end. Else the caller keeps what it sends. */
	int         memo_ok;
	const struct server_scan *memo_state;
	uint8_t     memo_key[WSUS_SHA1_LEN];
	int         memo_hit;
	struct server_scan_answer {
		const char *coding;            /* static string, NULL: none */
		const char *data;              /* whole: the encoded answer; split: the encoded head */
		size_t len;
		int split;
		struct protocol_gzip_part gz;  /* split, gzip: what the head's rest needs */
		const char *tail;              /* split: the plain bytes after the request's part */
		size_t tail_len;
	} memo_answer;
	int         memo_split;
	size_t      memo_cut, memo_cut_end, memo_tail_end;
	int64_t     deadline_ms;       /* wsus_now_ms() past which reading the request should
					  give up ([server] parse_budget_ms), 0 = none */
	/* for the access log: the operation dispatched (static), and the
	 * client's ComputerID once a cookie or the request named it */
	const char *op_name;
	char        computer_id[256];
};

/* server_fresh.c: the database generation (design notes there). start
 * polls from a connection of its own and sets db_gen to 1; stop ends it and
 * sets it back to 0. gen: the current generation, 0 when not polled. */
int server_fresh_start(struct server *srv, struct err *e);
void server_fresh_stop(struct server *srv);
uint64_t server_fresh_gen(const struct server *srv);

/* Note the ComputerID req is for (the access log's last field). */
void server_req_computer(struct server_req *req, const char *id);

/* After server_soap_dispatch: encode a 200 answer as the request asked, or
 * from the memo its handler named (server_scanstate.c design notes 5, 6),
 * keeping what was encoded, and release the memo state. Returns the coding
 * sent (NULL: none); on failure the answer is an empty 500. */
const char *server_encode_answer(struct server_req *req, int *status, struct wsus_buf *body);

/* 1 once req's time budget is spent (server_req.deadline_ms): a request
 * reader checks it while it reads and answers a fault instead of going on. */
int server_req_over_budget(const struct server_req *req);

/* What an operation handler reports instead of a response. */
struct server_fault {
	enum protocol_error code;
	char message[256];
};

/* An operation: on success append the response element (e.g.
 * <GetCookieResponse xmlns="...">...</GetCookieResponse>) to out and return 0;
 * on a protocol error fill f and return -1 (the core writes the fault). Any
 * other negative return is an InternalServerError. */
typedef int (*server_op_fn)(struct server_req *req, struct protocol_req_msg *msg,
			    struct wsus_buf *out, struct server_fault *f);

struct server_op {
	const char  *name;     /* local name of the body element, e.g. "GetCookie" */
	const char  *action;   /* the SOAPAction URI (for the fault's Method) */
	server_op_fn fn;
	int downstream_only;   /* a server-to-server (MS-WSUSSS) operation: subject to
				  [server] client_cert_allow (server_soap_dispatch, 403) */
	const struct protocol_limits *limits; /* what its request may hold; NULL:
						 server_limits_small */
};

struct server_service {
	const char *const *paths;      /* NULL-terminated, matched case-insensitively */
	const struct server_op *ops;
	size_t n_ops;
	int downstream_only;           /* every operation is server-to-server: the whole path is
					  gated before the body is read (server.c, 403) */
};

/* Request limits shared by the operation tables (server_soap.c). small: an
 * operation of a few scalars and a cookie; medium: lists of some thousand
 * items; bulk: batches of events or rollups (16 MiB, 200,000 elements).
 * Before the operation element, server_limits_pre applies. */
extern const struct protocol_limits server_limits_pre;
extern const struct protocol_limits server_limits_small;
extern const struct protocol_limits server_limits_medium;
extern const struct protocol_limits server_limits_bulk;

/* The services (each defined in its own file). */
extern const struct server_service server_sss_service;        /* ServerSyncWebService */
extern const struct server_service server_dssauth_service;    /* DssAuthWebService */
extern const struct server_service server_reporting_service;  /* ReportingWebService (rollups, client reports) */
extern const struct server_service server_client_service;     /* ClientWebService (MS-WUSP) */
extern const struct server_service server_simpleauth_service; /* SimpleAuthWebService (MS-WUSP) */

/* Every service the front end serves, NULL-terminated (server_services.c). */
extern const struct server_service *const server_services[];

/* A finished response of the SOAP layer. */
struct server_resp {
	int status;                    /* 200, 500 for a fault, 413 for a body over a limit */
	const char *content_type;      /* static string */
	struct wsus_buf body;          /* owned; wsus_buf_free when sent */
};

/* Run one SOAP request against svc (server_soap.c): read the envelope with
 * the bounded reader under the operation's limits, find the operation by the
 * Body's first element (SOAPAction is only a hint), call its handler, wrap
 * the result in an envelope of the request's SOAP version. Always fills
 * resp: malformed XML, a missing Body, an unknown operation, a limit passed,
 * a handler fault or a handler failure all become a SOAP fault with HTTP
 * 500, except a body over the operation's byte limit (413). Logs one line
 * per refusal. */
void server_soap_dispatch(struct server_req *req, const struct server_service *svc,
			  struct server_resp *resp);

/*---- Admission queue (server_queue.c) ----*/

/* How a job is run: for real, or refused (it waited past the queue's wait
 * limit, or the server is stopping). */
enum server_job_verdict { SERVER_JOB_RUN = 0, SERVER_JOB_LATE, SERVER_JOB_STOPPING };

struct server_job {
	struct server_job *next;       /* queue link (the queue's) */
	int64_t queued_ms;             /* set by server_queue_push */
	/* called under the queue's lock once the job is admitted, before any
	 * worker can see it (server.c suspends the connection here); or NULL */
	void (*admit)(struct server_job *job);
	/* called exactly once, by a worker or by server_queue_stop */
	void (*run)(struct server_job *job, enum server_job_verdict v);
};

struct server_queue;

/* Start workers threads sharing one queue of at most workers x per_worker
 * jobs; a job taken after waiting max_wait_ms (0 = no limit) is run LATE. */
int server_queue_start(int workers, size_t per_worker, int64_t max_wait_ms, struct server_queue **out,
		       struct err *e);
/* Admit job: 0, -EBUSY when the queue is full, -ESHUTDOWN once stopping
 * (job untouched on error). */
int server_queue_push(struct server_queue *q, struct server_job *job);
/* 1 once server_queue_stop has begun (for long jobs that can give up). */
int server_queue_stopping(const struct server_queue *q);
/* Refuse queued jobs (run STOPPING), wait for running ones until
 * deadline_ms (wsus_now_ms), then free everything and return 0; or, with
 * jobs still running, free nothing and return how many (the process is
 * expected to exit and end them). Accepts NULL. */
int server_queue_stop(struct server_queue *q, int64_t deadline_ms);

/* 1 when [server] downstream = allow_list: downstream_only services and
 * operations need a client certificate in client_cert_allow (else 403). */
int server_downstream_gated(const struct server *srv);

/* 1 when fp (lower-case hex SHA-256, "" for none) is in [server]
 * client_cert_allow. */
int server_fp_allowed(const struct server *srv, const char *fp);

/*---- server_reload.c: what SIGHUP changes (certificate, allow-list) ----*/
struct server_creds;
/* The GnuTLS certificate callback the HTTPS daemon is started with. */
int server_tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		       gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);
/* The first credentials (before the daemon starts), the daemon they serve,
 * and their release at stop. */
int server_creds_init(struct server *srv, const char *cert_pem, const char *key_pem, struct err *e);
int server_creds_register(struct server *srv, int port);
void server_creds_release(struct server *srv);
/* client_cert_allow: parse into a list of lower-case hex fingerprints; the
 * lock guarding srv's list; whether mutual TLS is on. */
int server_allow_parse(const char *list, char ***out, size_t *n, struct err *e);
void server_allow_free(char **fps, size_t n);
pthread_rwlock_t *server_allow_lock(const struct server *srv);
int server_allow_active(const struct server *srv);

/*---- server.c / server_admin.c ----*/
/* Bind and listen on ADDR:PORT (port 0 = any); *port = the bound port. */
int server_listen_socket(const char *addr, int *port, struct err *e);
/* One SOAP answer for /metrics: the SOAPAction names the operation. */
void server_metrics_note(const char *soap_action, unsigned status, int64_t micros);

/* SyncUpdates answered, for /metrics: full (the cookie carried no catalogue
 * anchor) or delta. */
void server_metrics_scan(int full);

/*---- server_access.c: the access log ----*/
struct server_access_entry {
	const char *peer, *method, *path, *op;  /* any may be NULL or "" ("-") */
	unsigned    status;
	uint64_t    bytes;                      /* body bytes of the answer */
	int64_t     micros;                     /* first byte read to answer queued */
	const char *computer;
};
/* Start the writer; path NULL or "" = off until a reload names one. */
int server_access_open(const char *path, struct server_access **out, struct err *e);
/* SIGHUP: reopen path (or turn off); the writer does it, a failure is logged. */
int server_access_reload(struct server_access *a, const char *path, struct err *e);
/* One line, never blocking on the file (dropped when the buffer is full). */
void server_access_note(struct server_access *a, const struct server_access_entry *x);
uint64_t server_access_dropped(const struct server_access *a);
/* Write what is buffered, stop the writer, free (accepts NULL). */
void server_access_close(struct server_access *a);

/* Percent-encode what would break a space-separated log line (bytes <= 0x20
 * or >= 0x7f, '"', '%'); cut with "..." to fit cap. */
void server_text_clean(const char *in, char *out, size_t cap);
struct MHD_Connection;
struct MHD_Response;
/* Queue r with status and note both and the body bytes for the access log
 * of the request whose callback runs on this thread. */
int server_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r, uint64_t bytes);

/* Fill a fault (always returns -1, for "return server_fault_set(f, ...)"). */
int server_fault_set(struct server_fault *f, enum protocol_error code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*---- server_cookie.c: sealed cookies (AES-256-GCM under the server key) ----*/

enum server_cookie_kind {
	SERVER_COOKIE_DSS_AUTH = 1,    /* MS-WSUSSS AuthorizationCookie.CookieData */
	SERVER_COOKIE_DSS = 2,         /* MS-WSUSSS Cookie.EncryptedData */
	SERVER_COOKIE_CLIENT_AUTH = 3, /* MS-WUSP AuthorizationCookie.CookieData */
	SERVER_COOKIE_CLIENT = 4,      /* MS-WUSP Cookie.EncryptedData */
};

struct server_cookie_claims {
	enum server_cookie_kind kind;
	char    subject[256];          /* DSS ServerID GUID, or client ComputerID */
	char    server_id[WSUS_GUID_LEN]; /* the issuing server (ServerChanged detection) */
	char    protocol_version[16];  /* "1.20" etc., "" if not yet known */
	char    groups[1024];          /* target group names, comma-separated, "" if none */
	int64_t issued_ms;
	int64_t expires_ms;
	int64_t aux;                   /* kind-specific (client: last deployment change time) */
};

/* Seal claims into base64 text (caller frees *out). */
int server_cookie_seal(const uint8_t key[32], const struct server_cookie_claims *c, char **out,
		       struct err *e);
/* Open base64 text sealed by server_cookie_seal with key and check that it
 * is of kind and not expired at now_ms. Returns 0, -EBADMSG when it does not
 * open (forged, truncated, other key, wrong kind, garbage: InvalidCookie), or
 * -ETIMEDOUT when it opened but has expired (*out is then filled). */
int server_cookie_open(const uint8_t key[32], const char *b64, enum server_cookie_kind kind,
		       int64_t now_ms, struct server_cookie_claims *out, struct err *e);

/*---- server_client.c: shared by the client service files (server_client*.c) ----*/

/* Check the Cookie element named "cookie" under op: InvalidCookie when it is
 * missing or does not open, ServerChanged when another server identity
 * issued it, CookieExpired when it has expired; with check_config also
 * ConfigChanged when it predates GetConfig's LastChange. c is filled. */
int server_client_cookie(struct server_req *req, const struct protocol_node *op, int check_config,
			 struct server_cookie_claims *c, struct server_fault *f);
/* A front end of a site (server.c design note 10): register the computer
 * of c here, from what its cookie says, when another front end registered
 * it. 0 done; -ENOENT when this server is not in a site; other negative on
 * failure (logged). */
int server_client_site_join(struct server_req *req, const struct server_cookie_claims *c);
/* Append <name><Expiration/><EncryptedData/></name>: a fresh cookie with
 * the claims of c and aux as the client's change horizon. */
int server_client_put_cookie(struct server_req *req, struct wsus_buf *out, const char *name,
			     const struct server_cookie_claims *c, int64_t aux, struct server_fault *f);
/* The target groups of the cookie's client (storage_client_groups). */
int server_client_groups(struct server_req *req, const struct server_cookie_claims *c,
			 struct storage_client_groups *g, struct server_fault *f);
/* The <int> children of list (absent or nil: none). More than max, or an
 * item that is not an int32: InvalidParameters naming what. Caller frees. */
int server_client_ids(const struct protocol_node *list, const char *what, size_t max, int64_t **out,
		      size_t *n,
		      struct server_fault *f);
/* 1 when protocol version pv ("major.minor") is at least major.minor. */
int server_client_pv_at_least(const char *pv, int major, int minor);
/* Append <Deployment> for r as the client with protocol version pv reads it;
 * hwids (n may be 0) become HardwareIds. */
int server_client_put_deployment(struct wsus_buf *out, const struct storage_client_rev *r,
				 const char *pv, const char *const *hwids, size_t n_hwids);

/*---- server_scanstate.c: the prepared scan state of a group set ----*/

/* A client closure at one catalogue anchor, shared read-only by the workers
 * (storage_client_scan plus derived indexes and cached answer blocks). */
struct server_scan;
/* A payload list of a revision (cached in the state). */
struct server_scan_files {
	size_t n;
	int    encrypted;              /* one of them is encrypted */
	struct storage_client_file items[];
};
/* A reference to the state for groups g (and the category filter) that is
 * current for the catalogue anchor of req's storage handle, built when
 * needed; while another request rebuilds a stale one, the previous state is
 * returned. Release with server_scan_put. InternalServerError on failure. */
int server_scan_get(struct server_req *req, const struct storage_client_groups *g,
		    const char (*filter)[WSUS_GUID_LEN], size_t n_filter, const struct server_scan **out,
		    struct server_fault *f);
void server_scan_put(const struct server_scan *s);
/* Another reference to s. */
const struct server_scan *server_scan_ref(const struct server_scan *s);
/* Free the states of srv (server_stop; tests). */
void server_scan_cache_free(struct server *srv);
int64_t server_scan_anchor(const struct server_scan *s);
size_t server_scan_count(const struct server_scan *s);
/* Revision i (0 .. count-1, by RevisionID). */
const struct storage_client_rev *server_scan_rev(const struct server_scan *s, size_t i);
/* All of them (count entries, by RevisionID). */
const struct storage_client_rev *server_scan_revs(const struct server_scan *s);
/* The k-th revision in NewUpdates order (non-leaf, bundles, others). */
size_t server_scan_order(const struct server_scan *s, size_t k);
int server_scan_has_driver(const struct server_scan *s);
/* The index of a revision, -1 when it is not in the closure. */
ptrdiff_t server_scan_find(const struct server_scan *s, int64_t revision_id);
ptrdiff_t server_scan_find_identity(const struct server_scan *s, const char *uid, int revision);
/* The installed RevisionIDs as a set of the state's update numbers: bits
 * has server_scan_words(s) words (a few: one bit per update that some
 * prerequisite names). Ids the state has no use for are left out. */
size_t server_scan_words(const struct server_scan *s);
void server_scan_installed(const struct server_scan *s, const int64_t *ids, size_t n, uint64_t *bits);
/* 1 when every prerequisite clause of revision i names an installed update. */
int server_scan_met(const struct server_scan *s, size_t i, const uint64_t *bits);
/* Append revision i's fragment (escaped as <Xml> character data) to out;
 * *present = 0 (nothing appended) when the revision has none. */
int server_scan_fragment(struct server_req *req, const struct server_scan *s, size_t i,
			 enum wsus_fragment_type type, const char *locale, struct wsus_buf *out, int *present);
/* Revision i's payloads. */
int server_scan_files(struct server_req *req, const struct server_scan *s, size_t i,
		      const struct server_scan_files **out);
/* Drop the calling thread's references to states (design note 7); threads
 * that end drop theirs by themselves. For tests answering on their own thread. */
void server_scan_locals_drop(void);
/* Answers kept in a state (design notes 5, 6), by a SHA-1 of what the
 * answer is a function of besides the state (the caller's choice; it must
 * include the coding asked for). get: 1 and *a (its bytes valid while s is
 * referenced), or 0 when none is kept. put keeps a copy (silently not, past
 * the state's budget). */
int server_scan_memo_get(const struct server_scan *s, const uint8_t key[WSUS_SHA1_LEN], struct server_scan_answer *a);
void server_scan_memo_put(const struct server_scan *s, const uint8_t key[WSUS_SHA1_LEN],
			  const struct server_scan_answer *a);

/* server_client_sync.c: the SyncUpdates and SyncPrinterCatalog operations
 * and the limits of their requests (id lists up to the SYNC_MAX_* caps). */
extern const struct protocol_limits server_client_sync_limits;
int server_client_sync_updates(struct server_req *req, struct protocol_req_msg *msg,
			       struct wsus_buf *out, struct server_fault *f);
int server_client_sync_printers(struct server_req *req, struct protocol_req_msg *msg,
				struct wsus_buf *out, struct server_fault *f);

/*---- server_limit.c: per-address rate limits, log gates ----*/

int64_t server_mono_ms(void);
/* A limit of per_minute calls per client address (a burst of as many). */
int server_limit_new(int per_minute, struct server_limit **out, struct err *e);
void server_limit_free(struct server_limit *l);
/* 1 when peer (an address as text) may make one more call at now_ms
 * (monotonic), 0 when it is over its rate; l NULL: always 1. */
int server_limit_take(struct server_limit *l, const char *peer, int64_t now_ms);

/* A warning that may be logged at most once per period: declare it
 * static with SERVER_LOG_GATE_INIT. */
struct server_log_gate {
	pthread_mutex_t lock;
	int64_t last_ms;
	uint64_t suppressed;
};
#define SERVER_LOG_GATE_INIT { PTHREAD_MUTEX_INITIALIZER, 0, 0 }
/* 1 when the line may be logged now; *suppressed = the lines held back since
 * the last one that passed. */
int server_log_gate_pass(struct server_log_gate *g, int64_t every_ms, uint64_t *suppressed);

/*---- server_report.c: ReportEventBatch and the client event writer ----*/

/* Each ReportEventBatch becomes a batch in a bounded queue; a writer thread
 * (its own storage handle) stores the queued batches in one transaction (a
 * group commit) under the byte quotas of [clients], and a request answers
 * true only once its batch is committed: false when the queue is full, when
 * a quota or the registration check refuses it, on a storage error, or when
 * the commit does not come within ack_wait_ms. The writer also runs the
 * maintenance (storage_maintain: retention, the store ceiling, computer
 * expiry) at start and then hourly. Without a running writer (srv->report
 * NULL) a batch is written on the request's own handle, under the same
 * quotas. */
struct server_report_limits {
	size_t  max_events;        /* queued events; 0 = default */
	size_t  max_bytes;         /* queued event memory; 0 = default */
	int64_t max_rows;          /* events kept in the database; 0 = default */
	int64_t ack_wait_ms;       /* how long a request waits for its commit; 0 = default */
};
struct server_report_stats {
	uint64_t queued;           /* events accepted into the queue */
	uint64_t written;          /* new events stored */
	uint64_t duplicates;       /* events already stored (resent batches) */
	uint64_t dropped;          /* events refused because the queue was full */
	uint64_t refused;          /* events of batches refused by a quota or registration */
	uint64_t failed;           /* events of batches a storage error kept out */
	uint64_t timed_out;        /* batches answered false because the commit came late */
	uint64_t commits;          /* group transactions committed */
	uint64_t pruned;           /* events removed by maintenance */
	uint64_t expired;          /* computers removed by maintenance */
	size_t   depth;            /* events waiting now */
};
/* Start the writer for srv (limits NULL = defaults); srv->report is set, and
 * srv->register_limit when [clients] register_per_minute is not 0. */
int server_report_start(struct server *srv, const struct server_report_limits *limits, struct err *e);
/* Store what is queued (answering its requests), stop the thread, free;
 * srv->report and srv->register_limit become NULL. Accepts a server without
 * a writer. */
void server_report_stop(struct server *srv);
/* Return once every batch queued before the call is decided (and a
 * maintenance that was due has run). */
void server_report_flush(struct server *srv);
/* Hold (1) or release (0) the writer: held, it stores nothing until
 * released, flushed or stopped (tests). */
void server_report_hold(struct server *srv, int hold);
void server_report_get_stats(struct server *srv, struct server_report_stats *out);
/* Store the n events of one request of computer (ev, and owner through
 * release, are the callee's from here on, whatever happens): through the
 * writer, waiting for the commit, or on req's own handle without one.
 * bytes is what the events cost in memory. 1 when stored, 0 when not (the
 * answer is false), -ENOMEM. */
int server_report_store(struct server_req *req, const char *computer, struct storage_report_event *ev, size_t n,
			size_t bytes, void (*release)(void *owner), void *owner);

/* The client operations of ReportingWebService (server_reporting.c lists
 * them): ReportEventBatch; ReportEventBatch2, which carries no cookie and is
 * answered false (nothing unauthenticated is stored); GetRequiredInventoryType
 * (0: no inventory, as GetConfig's IsInventoryRequired says) and
 * ReportInventory (accepted and discarded), both behind the client cookie. */
int server_report_event_batch(struct server_req *req, struct protocol_req_msg *msg,
			      struct wsus_buf *out, struct server_fault *f);
int server_report_event_batch2(struct server_req *req, struct protocol_req_msg *msg,
			       struct wsus_buf *out, struct server_fault *f);
int server_report_inventory_type(struct server_req *req, struct protocol_req_msg *msg,
				 struct wsus_buf *out, struct server_fault *f);
int server_report_inventory(struct server_req *req, struct protocol_req_msg *msg,
			    struct wsus_buf *out, struct server_fault *f);

/*---- server.c: responses and logging shared by the handlers ----*/

struct MHD_Connection;

/* The response encoding a request's Accept-Encoding asks for: xpress
 * (preferred, MS-WUSP 2.1) or gzip, each unless given q=0; NULL for none. */
const char *server_accept_encoding(const char *header);

/* Queue a small text/plain response with status (404, 405, 403, 413, ...).
 * allow, when not NULL, becomes the Allow header. Returns MHD_YES/MHD_NO. */
int server_reply_status(struct MHD_Connection *conn, unsigned status, const char *allow);
/* One log line for a refused request: "<level> server refused status=...
 * method=... path=... peer=... why=..."; the path is cut and cleaned of
 * control characters. 4xx that are routine (404, 405, 416) log at info. */
void server_log_refused(const struct server_req *req, unsigned status, const char *why);

/*---- server_tls.c: certificate, key, fingerprints ----*/

/* The GnuTLS priority string: TLS 1.3, and TLS 1.2 with ECDHE and AEAD
 * ciphers (AES-GCM, ChaCha20-Poly1305) only. */
extern const char server_tls_priorities[];
/* server_tls_ensure, then read the PEM texts of the certificate (chain) and
 * key for the daemon. Caller frees both; the key after explicit_bzero. */
int server_tls_load(const struct wsus_config *cfg, char **cert_pem, char **key_pem,
		    char fp[65], struct err *e);
/* Lower-case hex SHA-256 of the first certificate in PEM text. */
int server_tls_pem_fp(const char *pem, size_t len, char fp[65], struct err *e);
/* Lower-case hex SHA-256 of DER bytes (a certificate as sent on the wire). */
void server_tls_der_fp(const void *der, size_t n, char fp[65]);

/*---- server_content.c: GET/HEAD /Content/<XX>/<SHA1>.<ext> ----*/

#define SERVER_MAX_RANGES 64

/* One satisfiable byte range, inclusive positions. */
struct server_range {
	int64_t first;
	int64_t last;
};

/* Parse a Range header value for a representation of size bytes.
 * Returns the number of satisfiable ranges put in out (1..max, in request
 * order, clamped to the size); 0 when the header is to be ignored and the
 * whole file served (not "bytes=", malformed, more than max ranges, or the
 * ranges add up to more than the file); -ERANGE when it is well formed but
 * nothing in it is satisfiable (416). */
int server_range_parse(const char *hdr, int64_t size, struct server_range *out, size_t max);

/* Parse the path of a content request: /Content/<XX>/<40 hex>[.<ext>],
 * case-insensitive, where XX must be the last two hex digits of the SHA-1
 * and ext is 1-15 letters or digits. Fills sha1 and ext ("" when absent).
 * -ENOENT for anything else. */
int server_content_parse_path(const char *path, uint8_t sha1[WSUS_SHA1_LEN], char ext[16]);

/* The conditional request headers of RFC 9110 (NULL when absent). */
struct server_cond {
	const char *if_match;
	const char *if_none_match;
	const char *if_modified_since;
	const char *if_unmodified_since;
	const char *if_range;
};
enum server_cond_result {
	SERVER_COND_SERVE = 0,         /* serve; *use_range says whether Range applies */
	SERVER_COND_NOT_MODIFIED = 304,
	SERVER_COND_FAILED = 412,
};
/* Evaluate the conditions against our strong ETag (with quotes) and the
 * file's modification time, in the order RFC 9110 13.2.2 gives. */
enum server_cond_result server_cond_eval(const struct server_cond *c, const char *etag,
					 int64_t mtime, int *use_range);
/* An HTTP-date (IMF-fixdate, RFC 850 or asctime form) as Unix seconds;
 * -EINVAL when it is none of them. */
int server_http_date_parse(const char *s, int64_t *out);

/* Answer a request whose path starts with /Content/ (GET/HEAD only). */
int server_content_handle(struct server_req *req, struct MHD_Connection *conn);
/* Serve the regular file fd (owned from here on; sb its fstat) to a GET/HEAD
 * as /Content does: the conditions against etag (a strong one, with quotes)
 * and its mtime, single and multipart ranges, 416, 304, 412; Content-Type
 * application/octet-stream, Accept-Ranges, ETag, Last-Modified. */
int server_file_serve(struct server_req *req, struct MHD_Connection *conn, int fd, const struct stat *sb,
		      const char *etag);

/*---- server_selfupdate.c: /SelfUpdate/ and wusserverversion.xml ----*/

/* The protocol version the client service announces (GetConfig). */
#define SERVER_CLIENT_PROTOCOL_VERSION "3.2"

enum {
	SERVER_STATIC_SELFUPDATE = 1,  /* /SelfUpdate/... */
	SERVER_STATIC_VERSION,         /* /ClientWebService/wusserverversion.xml */
};
/* Which static path this is (case-insensitive), 0 for none. */
int server_static_path(const char *path);
/* Answer it (GET/HEAD; 404 for anything not in [server] selfupdate_dir). */
int server_static_handle(struct server_req *req, struct MHD_Connection *conn, int which);

#endif /* WSUS_SERVER_INT_H */
