/*
 * sync_phase.h -- what the phase files of a sync share (sync_run.c,
 * sync_call.c, sync_meta.c, sync_deploy.c, sync_content.c, sync_report.c):
 * the run context, the SOAP call with fault handling, and one entry point per
 * phase. Not for callers outside sync/ (they use sync.h). A context belongs
 * to one sync_run and one thread; everything it points to is freed by
 * sync_ctx_release.
 */
#ifndef WSUS_SYNC_PHASE_H
#define WSUS_SYNC_PHASE_H

#include <libxml/tree.h>

#include "protocol.h"
#include "storage.h"
#include "sync.h"

#define SYNC_PROTOCOL_VERSION  "1.20"
#define SYNC_URL_MAX           2048
#define SYNC_ANCHOR_MAX        512     /* an anchor text we keep (Windows: ~30 bytes) */
#define SYNC_BATCH_MAX         1000    /* identities per GetUpdateData, whatever the upstream says */
#define SYNC_KEYS_BATCH_MAX    100
#define SYNC_DIGESTS_PER_CALL  100     /* DownloadFiles (MS-WSUSSS 3.1.4.11) */
#define SYNC_COOKIE_MARGIN_MS  (5 * 60 * 1000)  /* renew a cookie this long before it expires */
#define SYNC_BUSY_RETRIES      3       /* ServerBusy: back off and ask again */
#define SYNC_QUARANTINE_RETRY_MS (24LL * 3600 * 1000) /* retry a quarantined payload after a day */

/*---- Data types ----*/

struct sync_id {
	char uid[WSUS_GUID_LEN];
	int  rev;
};

/* A growable list of identities. */
struct sync_ids {
	struct sync_id *v;
	size_t n, cap;
};

/* The anchors, each kept exactly as the upstream sent it. */
enum sync_anchor_kind {
	SYNC_ANCHOR_CONFIG = 0,        /* GetConfigData NewConfigAnchor */
	SYNC_ANCHOR_CATEGORIES,        /* GetRevisionIdList, GetConfig = true */
	SYNC_ANCHOR_UPDATES,           /* GetRevisionIdList, GetConfig = false (the syncAnchor) */
	SYNC_ANCHOR_DEPLOYMENTS,       /* GetDeployments Anchor */
	SYNC_N_ANCHORS,
};

/* What GetConfigData told us about the upstream. */
struct sync_upconf {
	int  catalog_only;             /* CatalogOnlySync: no /Content, payloads from MUUrl */
	int  lazy;                     /* LazySync: 404 until someone asks (DownloadFiles) */
	int  hosts_psf;
	int  max_updates;              /* MaxNumberOfUpdatesPerRequest */
	int  max_keys;                 /* MaxUpdatesPerRequestInGetUpdateDecryptionData, 0 = unsupported */
	char protocol[16];             /* ProtocolVersion, "" when not sent */
};

/* A GetDeployments answer (replica mode), held until the publishing transaction. */
struct sync_deploy_set {
	int have;                                /* GetDeployments answered */
	struct storage_group_row *groups;        size_t n_groups;
	struct storage_deployment_row *live;     size_t n_live;
	char (*dead)[WSUS_GUID_LEN];             size_t n_dead;
	char (*hidden)[WSUS_GUID_LEN];           size_t n_hidden;
	char (*eulas)[WSUS_GUID_LEN];            size_t n_eulas;
};

/* How a SOAP request reaches the upstream: sync_http_post_soap on the
 * context's client in production; unit tests put canned answers here. */
typedef int (*sync_post_fn)(void *ctx, const char *url, const char *soap_action, const char *body,
			    size_t len, long *status, struct wsus_buf *out, struct err *e);

struct sync_ctx {
	const struct wsus_config  *cfg;
	const struct sync_options *opt;
	struct sync_result        *res;
	struct storage            *st;
	struct sync_http          *http;     /* NULL when post is set */
	sync_post_fn               post;     /* NULL: sync_http_post_soap(http, ...) */
	void                      *post_ctx;

	char base[SYNC_URL_MAX];                 /* upstream URL, no trailing slash */
	char sss_url[SYNC_URL_MAX];              /* ServerSyncWebService */
	char auth_url[SYNC_URL_MAX];             /* DssAuthWebService (from GetAuthConfig) */
	char report_url[SYNC_URL_MAX];           /* ReportingWebService */
	char account[256];                       /* accountName: our host name */
	char server_id[WSUS_GUID_LEN];           /* accountGuid: our ServerID */

	char   *auth_cookie;                     /* AuthorizationCookie/CookieData */
	char   *cookie;                          /* Cookie/EncryptedData */
	char    cookie_exp[64];                  /* Cookie/Expiration as received */
	int64_t cookie_exp_ms;
	int     authorised;

	struct sync_upconf up;
	char   *anchor_old[SYNC_N_ANCHORS];      /* as stored by the last published sync, NULL none */
	char   *anchor_new[SYNC_N_ANCHORS];      /* as received in this run */
	struct sync_deploy_set dep;

	char    fault[48];                       /* ErrorCode of the last fault, "" none */
	char    fault_msg[256];
	int     server_changed;                  /* ServerChanged: anchors reset, start again */
	int     provenance_off;                  /* the upstream answered GetUpdateProvenance with a
	                                            fault: not a wsus-replica, not asked again */
	int     offline;                         /* a bundle import (sync_bundle.c): no HTTP client,
	                                            no upstream anchors */
	const char *source;                      /* origin_source of what is published, NULL = "sync" */
	/* Inside the publishing transaction, instead of saving the upstream's
	 * anchors (NULL: save them): a bundle import records its sequence. */
	int   (*publish_state)(struct sync_ctx *c, struct err *e);
	int     progress_on;                     /* a progress line is showing */
	int64_t progress_ms;                     /* when it was last drawn */
	int64_t history_id;                      /* this run's sync_history row, 0 before publish */
};

/*---- sync_run.c ----*/

/* The certificate that delivered the last answer ("" without a client). */
const char *sync_cert(const struct sync_ctx *c);
int  sync_ids_add(struct sync_ids *l, const char *uid, int rev);
void sync_ids_free(struct sync_ids *l);
/* Stop point between requests: -ECANCELED (e set) when the caller cancelled. */
int  sync_check_cancel(struct sync_ctx *c, struct err *e);
/* The \r progress line (only with opt->progress on a terminal); end clears it. */
void sync_progress(struct sync_ctx *c, const char *what, size_t done, size_t total);
void sync_progress_end(struct sync_ctx *c);
/* DATADIR/sync.lock (flock): one sync or bundle import per data directory;
 * -EBUSY when held. Close *fd to release. */
int  sync_lock_take(const struct wsus_config *cfg, int *fd, struct err *e);
/* PUBLISH: move the staging into the catalogue with the deployment set
 * (replica mode), the state and a history row, in one transaction. */
int  sync_publish(struct sync_ctx *c, struct err *e);

/*---- sync_call.c: SOAP requests with fault handling ----*/

enum sync_service { SYNC_SVC_SSS, SYNC_SVC_AUTH, SYNC_SVC_REPORT };

#define SYNC_CALL_COOKIE       1   /* the op's first child is <cookie>, renewed as needed */
#define SYNC_CALL_DUMMY_COOKIE 2   /* the reporting ops' dummy cookie */

/* POST <op xmlns=ns>[cookie]args</op> to the service and parse the answer.
 * 0: resp->op is the <op>Response element (free resp with
 * protocol_soap_msg_free). A fault sets c->fault/fault_msg and returns
 * -EPROTO (e: "upstream answered <op> with <ErrorCode>: <message>"), after
 * the reactions of MS-WSUSSS 2.2.9.3: InvalidCookie / InvalidAuthorization-
 * Cookie authorise again and repeat the call once, ServerBusy backs off and
 * repeats, ServerChanged sets c->server_changed. */
int sync_call(struct sync_ctx *c, enum sync_service svc, const char *op, const char *args,
	      unsigned flags, struct protocol_soap_msg *resp, struct err *e);
/* The <op>Result child of a response element, or NULL. */
xmlNodePtr sync_call_result(const struct protocol_soap_msg *resp, const char *op);
/* Authorise: GetAuthConfig, GetAuthorizationCookie, GetCookie. */
int sync_auth(struct sync_ctx *c, struct err *e);
/* The fault parts of a SOAP fault body (code "" when it has no ErrorCode). */
int sync_fault_parse(const char *body, size_t len, char *code, size_t code_cap, char *msg,
		     size_t msg_cap);

/* XML text helpers for request bodies. */
int sync_xml_text(struct wsus_buf *b, const char *name, const char *text);
int sync_xml_identity(struct wsus_buf *b, const char *wrapper, const struct sync_id *id);

/*---- sync_meta.c: config, revision lists, documents, keys ----*/

int sync_phase_config(struct sync_ctx *c, struct err *e);
/* GetRevisionIdList (config: categories, else updates) and fetch every
 * listed revision that is neither staged nor in the catalogue. */
int sync_phase_list(struct sync_ctx *c, int config, struct err *e);
/* GetUpdateData for ids in batches, staging each answer; ids the answer left
 * out are asked again. list names the staging list. */
int sync_fetch(struct sync_ctx *c, const char *list, const struct sync_ids *ids, struct err *e);
int sync_phase_keys(struct sync_ctx *c, struct err *e);
/* One ServerSyncUrlData of a GetUpdateData answer. */
struct sync_file_url {
	uint8_t sha1[WSUS_SHA1_LEN];
	char   *mu_url;                /* NULL when none */
};
/* Parse one GetUpdateDataResult: fn gets each ServerSyncUpdateData's
 * identity and decoded document (XmlUpdateBlob, or XmlUpdateBlobCompressed
 * decompressed) with the answer's fileUrls. A non-zero return from fn stops
 * and is returned. */
typedef int (*sync_doc_fn)(void *ctx, const struct sync_id *id, const char *xml, size_t len,
			   const struct sync_file_url *urls, size_t n_urls);
int sync_update_data_parse(xmlNodePtr result, sync_doc_fn fn, void *ctx, struct err *e);

/*---- sync_deploy.c: GetDeployments (replica mode) ----*/

int  sync_phase_deployments(struct sync_ctx *c, struct err *e);
/* Parse a GetDeploymentsResult into set (normalised: "" for none values). */
int  sync_deploy_parse(xmlNodePtr result, struct sync_deploy_set *set, char **anchor, struct err *e);
/* Inside the publishing transaction: apply set to storage. */
int  sync_deploy_publish(struct sync_ctx *c, const struct storage_origin *o, struct err *e);
void sync_deploy_free(struct sync_deploy_set *set);

/*---- sync_content.c ----*/

int sync_phase_content(struct sync_ctx *c, struct err *e);
/* /Content/<XX>/<SHA1><.ext> under base (upper-case hex, the Windows layout). */
int sync_content_url(const char *base, const uint8_t sha1[WSUS_SHA1_LEN], const char *file_name,
		     char *out, size_t cap);
/* The plain-HTTP content URL a Windows upstream serves (port N-1, 443 -> 80). */
int sync_content_http_base(const char *https_base, char *out, size_t cap);

/*---- sync_report.c ----*/

int sync_phase_rollup(struct sync_ctx *c, struct err *e);

/* What GetRollupConfiguration answered, batch sizes capped by ours. */
struct sync_rollup_conf {
	int    detailed;                        /* DoDetailedRollup */
	char   uss_id[WSUS_GUID_LEN];           /* the upstream's ServerId */
	char   reset_guid[WSUS_GUID_LEN];       /* RollupResetGuid */
	size_t servers_max, computers_max, out_of_sync_max, status_max;
};
/* What one rollup sent. */
struct sync_rollup_stats {
	size_t server_calls, servers;
	size_t computer_calls, computers, details;
	size_t out_of_sync_calls, out_of_sync;
	size_t status_calls, statuses, status_items;
	int    reset;                           /* a new upstream or RollupResetGuid: all in full */
};

/*---- sync_rollup.c ----*/

/* RollupComputers, GetOutOfSyncComputers, RollupComputerStatus with what
 * changed since the upstream last accepted it (DoDetailedRollup only). */
int sync_rollup_computers(struct sync_ctx *c, const struct sync_rollup_conf *conf,
			  struct sync_rollup_stats *out, struct err *e);

#endif /* WSUS_SYNC_PHASE_H */
