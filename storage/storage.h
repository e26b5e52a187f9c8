/*
 * storage.h -- the SQLite database and the content store. Every SQL statement
 * of wsus-replica lives in storage/; callers see only these functions.
 *
 * One database (DATADIR/wsus.db, WAL, foreign_keys=ON, schema version in
 * user_version, migrations applied in order on open) and one content store
 * (content/<last 2 hex of SHA-1>/<SHA-1 hex>.<ext>) whose files are only ever
 * created by write-to-temp, verify every digest, fsync, rename.
 *
 * Unless a function says otherwise: returns 0 or a negative errno code, with
 * the reason in e; OUT parameters are untouched on error. A struct storage is
 * used by one thread at a time (open one per thread).
 */
#ifndef WSUS_STORAGE_H
#define WSUS_STORAGE_H

#include "common.h"

struct storage;

/* Where a revision came from (provenance). */
struct storage_origin {
	const char *upstream_url;  /* NULL = imported locally */
	const char *cert_sha256;   /* hex SHA-256 of the certificate that delivered it, or NULL */
	const char *source;        /* free text, e.g. the import directory */
	const char *chain;         /* the upstream's provenance chain for it (lines as
	                              storage_revision_chain gives them), NULL = none given */
};

/*---- storage.c: open, schema, transactions, identity ----*/

/* Open (creating when absent) data_dir/wsus.db and the content store under
 * content_dir (NULL = data_dir/content); create directories; apply migrations;
 * create the server identity (ServerID GUID, cookie key) on first open.
 * Caller frees with storage_close. */
int storage_open(const char *data_dir, const char *content_dir, struct storage **out, struct err *e);
void storage_close(struct storage *st);
/* Open an existing database read-only for a reporting command: creates,
 * migrates and writes nothing (not even a directory). Fails with one clear
 * message when the data directory or database is missing, or when the schema
 * is not exactly this build's (older: run `wsus-replica migrate`). Write
 * calls on the handle fail with -EROFS. */
int storage_open_ro(const char *data_dir, const char *content_dir, struct storage **out,
		    struct err *e);
/* Copy data_dir/wsus.db to dest (created 0600, replaced atomically) with
 * SQLite's online backup API over a read-only connection: a consistent
 * snapshot while serve and sync keep writing; any schema version. The copy
 * is a plain (rollback-journal) database: restore by stopping the service and
 * putting it back as DATADIR/wsus.db (removing wsus.db-wal and -shm). */
int storage_backup(const char *data_dir, const char *dest, struct err *e);

/* The schema version now in the database (PRAGMA user_version). */
int storage_schema_version(struct storage *st);
/* The version this build migrates to. */
int storage_schema_latest(void);

/* An explicit write transaction around several calls (e.g. a whole import).
 * Calls made without one run in their own transaction. */
int storage_begin(struct storage *st, struct err *e);
int storage_commit(struct storage *st, struct err *e);
int storage_rollback(struct storage *st);

/* The server's persistent identity. */
int storage_server_id(struct storage *st, char out[WSUS_GUID_LEN]);
/* Make server_id this database's ServerID (a front end of a site takes the
 * site's, [server] shared_secret_file); *changed = 1 when it was another. */
int storage_identity_adopt(struct storage *st, const char *server_id, int *changed, struct err *e);
/* A named 32-byte secret, generated on first use and kept in the database
 * (e.g. "cookie"). */
int storage_secret(struct storage *st, const char *name, uint8_t out[32], struct err *e);

/* Small persistent key/value state (anchors, last sync time, ...). get: -ENOENT
 * when absent; *value is malloc'd. */
int storage_state_get(struct storage *st, const char *key, char **value);
int storage_state_set(struct storage *st, const char *key, const char *value, struct err *e);
/* Every key starting with prefix, in key order; a non-zero return from fn
 * stops the walk and is returned. */
int storage_state_foreach(struct storage *st, const char *prefix,
			  int (*fn)(const char *key, const char *value, void *ctx), void *ctx, struct err *e);

/*---- storage_revision.c: the catalogue ----*/

/* Insert one parsed revision with its fragments, files, prerequisites, bundles,
 * supersedence and driver rows. A new (UpdateID, RevisionNumber) gets the next
 * RevisionID (never reused). Putting the same revision again with the same XML
 * changes nothing (*changed = 0); with different XML the stored one is
 * replaced, keeping its RevisionID (*changed = 1) -- except that a local
 * origin (origin NULL or origin->upstream_url NULL) never replaces a document
 * an upstream delivered: -EPERM, naming both origins, nothing changed. */
int storage_revision_put(struct storage *st, const struct wsus_update *u,
			 const struct storage_origin *origin,
			 int64_t *revision_id /* OUT, may be NULL */,
			 int *changed /* OUT, may be NULL */, struct err *e);

/*---- storage_origin.c: provenance chains and metadata digests ----*/

#define STORAGE_CHAIN_MAX_HOPS   16    /* tiers a chain may record */
#define STORAGE_CHAIN_MAX_FIELD  512   /* bytes of one hop's source */

/* The provenance chain of a revision: one line per tier it passed, the origin
 * first and this server's own receipt last, each "SOURCE\tCERT\tTIME\n":
 * SOURCE is the upstream URL that delivered it to that tier, or "local import
 * at server <ServerID>" for the origin of an imported document; CERT the hex
 * SHA-256 of the certificate that delivered it ("-" for an import); TIME ISO
 * 8601 UTC. Caller frees *chain. -ENOENT when the revision does not exist. */
int storage_revision_chain(struct storage *st, const char *update_id, int revision, char **chain,
			   struct err *e);

/* A chain received from an upstream, checked: at most STORAGE_CHAIN_MAX_HOPS
 * - 1 lines of three tab-separated fields, SOURCE 1..STORAGE_CHAIN_MAX_FIELD
 * printable bytes, CERT "-" or 64 lower-case hex digits, TIME 1..40 of
 * [0-9TZ:.-]. 0 when valid, -EINVAL with the reason otherwise. */
int storage_chain_check(const char *chain, struct err *e);

/* Where the catalogue came from: fn once per origin (the first line's
 * SOURCE of the chains), with how many revisions and the most tiers any of
 * them passed (this server included). */
int storage_origin_summary(struct storage *st,
			   int (*fn)(const char *origin, int64_t revisions, int tiers, void *ctx), void *ctx,
			   struct err *e);

/* `verify --metadata`: re-hash every stored document and compare with the
 * digests recorded when it was synced or imported (SHA-1 always, SHA-256
 * when recorded). fn is called for each mismatch; *checked and *bad count. */
int storage_verify_metadata(struct storage *st,
			    void (*fn)(const char *update_id, int revision, const char *why, void *ctx),
			    void *ctx, int64_t *checked, int64_t *bad, struct err *e);

/* Recompute IsLeaf for every revision over the whole prerequisite graph (a
 * revision is a leaf when no prerequisite row anywhere names its UpdateID),
 * recording when it flipped. Call after a batch of puts. */
int storage_leaf_refresh(struct storage *st, struct err *e);

struct storage_revision_row {
	int64_t revision_id;
	char    update_id[WSUS_GUID_LEN];
	int     revision;
	enum wsus_update_type type;
	char    category_type[32];   /* "" when none */
	char    title[512];          /* truncated if longer */
	char    kb_article[32];
	int     is_leaf;
	int     is_latest;           /* highest RevisionNumber of its UpdateID */
	int     declined;
	int     n_files;
	int64_t total_size;
	char    classification[WSUS_GUID_LEN]; /* UpdateClassification category among its prereqs, "" if none */
	char    origin[256];         /* upstream URL or "local import" */
};

/* Call fn for every revision (ordered by UpdateID, RevisionNumber); a non-zero
 * return from fn stops the walk and is returned. */
int storage_revision_foreach(struct storage *st,
			     int (*fn)(const struct storage_revision_row *row, void *ctx),
			     void *ctx, struct err *e);

/* One revision; revision < 0 = the latest of update_id. -ENOENT if none. */
int storage_revision_get(struct storage *st, const char *update_id, int revision,
			 struct storage_revision_row *out, struct err *e);

/* The full document of a revision (as received). Caller frees *xml. */
int storage_revision_xml(struct storage *st, const char *update_id, int revision,
			 char **xml, size_t *len, struct err *e);

/* How the program turns a stored document back into a parsed revision with
 * its fragments (protocol_update_parse). A schema migration that changes how
 * fragments are derived calls it for every stored document, so a database
 * written by an older release serves the current fragments without a resync.
 * Set once at start-up, before any storage_open; without it, opening such a
 * database that holds revisions fails (-ENOTSUP) and leaves it untouched. */
typedef int (*storage_doc_parser)(const char *xml, size_t len, struct wsus_update **out, struct err *e);
void storage_set_doc_parser(storage_doc_parser fn);

/* A stored fragment; locale only for LOCALIZED and EULA. Caller frees *xml.
 * -ENOENT when the revision or fragment does not exist. */
int storage_fragment_get(struct storage *st, const char *update_id, int revision,
			 enum wsus_fragment_type type, const char *locale,
			 char **xml, size_t *len, struct err *e);

/* Files of a revision: fn is called once per file. */
int storage_revision_files(struct storage *st, const char *update_id, int revision,
			   int (*fn)(const struct wsus_file *f, int present, void *ctx),
			   void *ctx, struct err *e);

/*---- storage_deploy.c: target groups, approvals, declines ----*/

#define STORAGE_GROUP_ALL        "All Computers"
#define STORAGE_GROUP_UNASSIGNED "Unassigned Computers"

enum storage_action {
	STORAGE_ACTION_INSTALL = 0,
	STORAGE_ACTION_UNINSTALL = 1,
	STORAGE_ACTION_EVALUATE = 2,  /* "scan" in MS-WSUSSS */
	STORAGE_ACTION_BLOCK = 3,
};
const char *storage_action_name(enum storage_action a);   /* "install", ... */
int storage_action_parse(const char *s, enum storage_action *out); /* case-insensitive */

/* Create a group (parent NULL = under All Computers). -EEXIST if it exists. */
int storage_group_add(struct storage *st, const char *name, const char *parent, struct err *e);
int storage_group_foreach(struct storage *st,
			  int (*fn)(const char *group_id, const char *name, const char *parent,
				    int builtin, void *ctx),
			  void *ctx, struct err *e);

/* Approve (deploy) a revision to a group; revision < 0 = latest. Replaces an
 * existing deployment of that update to that group. deadline may be NULL. */
int storage_deployment_set(struct storage *st, const char *update_id, int revision,
			   const char *group, enum storage_action action,
			   const char *deadline, struct err *e);
/* Decline an update: every revision hidden, its deployments made dead. */
int storage_update_decline(struct storage *st, const char *update_id, struct err *e);

/*---- storage_content.c: the content store ----*/

/* Path of a verified content file (whatever the extension), for serving.
 * -ENOENT when not present. */
int storage_content_path(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN],
			 char *out, size_t out_size);

/* Copy src into the store as the payload described by f: write to a temporary
 * name, check size, SHA-1 and SHA-256 (when f has one), fsync, rename into
 * content/<XX>/<sha1hex>.<ext of f->file_name>. On mismatch the bytes go to
 * DATADIR/quarantine/, a row records it, and -EBADMSG is returned. Already
 * present and verified: 0, nothing written. */
int storage_content_import(struct storage *st, const char *src, const struct wsus_file *f,
			   struct err *e);

/* Streaming form of the same (for the sync worker): begin, write*, finish.
 * finish verifies and publishes, or quarantines (-EBADMSG). abort discards. */
struct storage_content_writer;
int storage_content_begin(struct storage *st, const struct wsus_file *f,
			  struct storage_content_writer **out, struct err *e);
int storage_content_write(struct storage_content_writer *w, const void *data, size_t n,
			  struct err *e);
int storage_content_finish(struct storage_content_writer *w, struct err *e);
void storage_content_abort(struct storage_content_writer *w);

struct storage_verify_result {
	int64_t checked;      /* files hashed */
	int64_t ok;
	int64_t corrupt;      /* failed a digest or size check */
	int64_t quarantined;  /* repair: of those, moved to quarantine */
	int64_t lost;         /* recorded as stored, the file is gone */
	int64_t missing;      /* catalogue payloads not stored (after the run) */
};
/* One problem verify found: kind "corrupt" or "lost", the payload's SHA-1 in
 * hex, the file, and one line saying what is wrong. */
typedef void (*storage_verify_fn)(void *ctx, const char *kind, const char *sha1_hex, const char *path,
				  const char *detail);
/* Re-hash every stored payload against the catalogue digests and report each
 * problem to fn (may be NULL). Without repair nothing is written (works on a
 * storage_open_ro handle). With repair a corrupt file is moved to quarantine
 * (it stops being served), a good file whose row lagged is adopted, and the
 * rows of corrupt and lost files become missing, so the next content phase
 * fetches them again. */
int storage_content_verify(struct storage *st, int repair, storage_verify_fn fn, void *ctx,
			   struct storage_verify_result *out, struct err *e);
/* Quarantined payloads none of whose quarantine files exist any more (an
 * admin deleted them) become missing: wanted again by the next content
 * phase. *requeued = how many. */
int storage_content_requeue(struct storage *st, int64_t *requeued, struct err *e);

/*---- storage_status.c ----*/

struct storage_status {
	int     schema_version;
	char    server_id[WSUS_GUID_LEN];
	int64_t revisions;
	int64_t updates;              /* distinct UpdateIDs */
	int64_t by_type[5];           /* indexed by enum wsus_update_type */
	int64_t categories_by_kind[4];/* Company, ProductFamily, Product, UpdateClassification */
	int64_t deployments;          /* live deployments */
	int64_t declined;
	int64_t groups;
	int64_t computers;
	int64_t files;                /* distinct payloads in the catalogue */
	int64_t files_present;
	int64_t files_missing;
	int64_t files_quarantined;
	int64_t content_bytes;        /* bytes of present payloads */
	char    last_import[32];      /* ISO time, "" if never */
	char    last_sync[32];
};
int storage_status_get(struct storage *st, struct storage_status *out, struct err *e);
/* Lower-case hex SHA-256 over every "RevisionID UpdateID RevisionNumber\n",
 * by RevisionID: equal on two servers exactly when they number the same
 * revisions the same (front ends of a site must; README: Scaling out). */
int storage_revision_ids_digest(struct storage *st, char out[2 * WSUS_SHA256_LEN + 1], struct err *e);

/*---- storage_sss.c: queries for the upstream role ----*/

/* A committed catalogue state: the catalog_change anchor n and the time it
 * was committed. n = 0 (time 0) is the empty catalogue. Every revision,
 * deployment and decline is stamped with the anchor of its transaction, so
 * "changed after anchor A" is "stamped > A.n". */
struct storage_anchor {
	int64_t n;
	int64_t time_ms;
};
/* The newest anchor. */
int storage_anchor_latest(struct storage *st, struct storage_anchor *out, struct err *e);
/* Anchor n (its time); -ENOENT when no such anchor was ever committed. */
int storage_anchor_get(struct storage *st, int64_t n, struct storage_anchor *out, struct err *e);

/* One read snapshot around several reads: one consistent view of the
 * database and one lock for all of them. Returns 1 when it opened the
 * snapshot, 0 when the handle was already inside a transaction (nothing to
 * do), or a negative code; pass the result to storage_read_end. No writes
 * inside. */
int storage_read_begin(struct storage *st, struct err *e);
void storage_read_end(struct storage *st, int opened);

/* A revision's document with its file digests and MUUrls (GetUpdateData).
 * Free with storage_update_blob_free. */
struct storage_blob_file {
	uint8_t sha1[WSUS_SHA1_LEN];
	char   *mu_url;          /* NULL when none */
};
struct storage_update_blob {
	char   *xml;             /* NUL-terminated, len bytes */
	size_t  len;
	struct storage_blob_file *files;   /* each digest once, in document order */
	size_t  n_files;
};
/* The exact revision; -ENOENT when it is not in the catalogue. */
int storage_update_blob_get(struct storage *st, const char *update_id, int revision,
			    struct storage_update_blob *out, struct err *e);
void storage_update_blob_free(struct storage_update_blob *b);

/* A category or classification of a GetRevisionIdList filter. delta = 0
 * asks for every update in it, whatever the anchor. */
struct storage_id_delta {
	char id[WSUS_GUID_LEN];
	int  delta;
};

struct storage_revision_filter {
	int     config;   /* 1: categories, classifications, detectoids; 0: software and drivers */
	int64_t since;    /* only revisions stamped after this anchor (0: all) */
	int64_t upto;     /* nothing stamped after this anchor (the answer's anchor) */
	/* Both empty: no product filter. Otherwise an update must name (as a
	 * prerequisite) a listed category, or a category below one, AND a listed
	 * classification; exactly one list empty matches nothing. Ignored when
	 * config = 1. Bundled children of matching bundles are added. */
	const struct storage_id_delta *categories;      size_t n_categories;
	const struct storage_id_delta *classifications; size_t n_classifications;
};

/* The highest revision of every update the filter selects, oldest first: fn
 * is called once per (update_id, revision); a non-zero return stops the walk
 * and is returned. Declined updates are included (declines travel in
 * GetDeployments). */
int storage_revision_ids(struct storage *st, const struct storage_revision_filter *f,
			 int (*fn)(const char *update_id, int revision, void *ctx), void *ctx,
			 struct err *e);

/* The languages of the catalogue (Properties/Language and the locales of
 * LocalizedProperties), lower case, sorted, each once. */
int storage_languages(struct storage *st, int (*fn)(const char *lang, void *ctx), void *ctx,
		      struct err *e);

/* The files of one exact revision with their decryption keys: key is NULL
 * (key_len 0) when none is known. -ENOENT when the revision is unknown. */
int storage_revision_keys(struct storage *st, const char *update_id, int revision,
			  int (*fn)(const uint8_t sha1[WSUS_SHA1_LEN], const uint8_t *key, size_t key_len,
				    void *ctx),
			  void *ctx, struct err *e);

/* Whether a payload is known to the catalogue (-ENOENT if not) and, if so,
 * whether it is in the content store (*present = 1). */
int storage_file_state(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], int *present,
		       struct err *e);

/* Target groups with their parent's GroupID ("" for the root). */
struct storage_group_row {
	char group_id[WSUS_GUID_LEN];
	char parent_id[WSUS_GUID_LEN];
	char name[260];
	int  builtin;
};
int storage_group_rows(struct storage *st, int (*fn)(const struct storage_group_row *g, void *ctx),
		       void *ctx, struct err *e);

struct storage_deployment_row {
	char    deployment_id[WSUS_GUID_LEN];
	char    update_id[WSUS_GUID_LEN];
	int     revision;
	enum storage_action action;
	char    admin_name[128];      /* "" when none */
	char    deadline[48];         /* ISO text as stored, "" when none */
	int     is_assigned;
	char    go_live[48];          /* ISO text as stored, "" when none */
	char    group_id[WSUS_GUID_LEN];
	int     download_priority;    /* 1..3 */
	int     dead;
	int64_t anchor;
};
/* Deployments created or retired in (since, upto], oldest first; dead = 1
 * for the retired ones (a DeadDeployment). */
int storage_deployment_changes(struct storage *st, int64_t since, int64_t upto,
			       int (*fn)(const struct storage_deployment_row *d, void *ctx),
			       void *ctx, struct err *e);
/* Every declined UpdateID, each once. */
int storage_hidden_updates(struct storage *st, int (*fn)(const char *update_id, void *ctx),
			   void *ctx, struct err *e);
/* Every accepted EulaID. */
int storage_accepted_eulas(struct storage *st, int (*fn)(const char *eula_id, void *ctx),
			   void *ctx, struct err *e);

/* Downstream servers (the DSS table). server_id is a GUID (any case). */

/* GetAuthorizationCookie: create the row, or refresh fqdn, address,
 * certificate and the authorisation time. cert_sha256 may be NULL or "". */
int storage_dss_auth(struct storage *st, const char *server_id, const char *fqdn,
		     const char *address, const char *cert_sha256, struct err *e);
/* A request with a valid cookie: record the time (at most once a minute, so
 * that steady traffic does not serialise on the write lock) and, when not
 * NULL, the protocol version. -ENOENT when the server is unknown. */
int storage_dss_touch(struct storage *st, const char *server_id, const char *protocol_version,
		      struct err *e);
/* 0 when server_id is in the DSS table, -ENOENT when not. */
int storage_dss_known(struct storage *st, const char *server_id, struct err *e);

/* One DownstreamServerRollupInfo. */
struct storage_dss_rollup {
	char        server_id[WSUS_GUID_LEN];
	char        parent_id[WSUS_GUID_LEN]; /* "" = a direct child of ours */
	const char *fqdn;                      /* NULL: keep */
	const char *version;                   /* NULL: keep */
	int         is_replica;
	int64_t     last_sync_ms;              /* INT64_MIN: never */
	int64_t     last_rollup_ms;
	const char *summary;                   /* ServerSummary as JSON text, NULL: keep */
};
/* Insert the server, or update it when the stored LastRollupTime is not
 * newer than the incoming one (*applied = 1; 0 when it was stale). */
int storage_dss_rollup(struct storage *st, const struct storage_dss_rollup *r, int *applied,
		       struct err *e);
/* Add install counts (deltas) rolled up by server_id for one revision and OS. */
int storage_dss_activity_add(struct storage *st, const char *server_id, const char *update_id,
			     int revision, const char *os, int64_t success, int64_t failure,
			     struct err *e);

struct storage_dss_row {
	char    server_id[WSUS_GUID_LEN];
	char    parent_id[WSUS_GUID_LEN];  /* "" = a direct child */
	char    fqdn[256];
	char    address[64];
	char    version[40];
	char    protocol_version[16];
	char    cert_sha256[65];
	int     is_replica;
	int64_t first_seen;                /* Unix ms, 0 when unknown */
	int64_t last_auth;
	int64_t last_seen;
	int64_t last_sync;                 /* as the server reported it in its rollup */
	int64_t last_rollup;
	int64_t computers;                 /* computers rolled up with it as parent */
	char    summary[1536];             /* its ServerSummary as JSON ("" none) */
};
/* Every downstream server, parents before children (direct children
 * first), then by FQDN. */
int storage_dss_foreach(struct storage *st, int (*fn)(const struct storage_dss_row *d, void *ctx),
			void *ctx, struct err *e);

/* One ComputerRollupInfo (times in Unix ms, INT64_MIN when never). */
struct storage_rollup_computer {
	const char *computer_id;
	char        parent_id[WSUS_GUID_LEN];
	int64_t     last_sync_ms;
	int         last_sync_result;          /* 0 unknown, 1 succeeded, 2 failed */
	int64_t     last_reboot_ms;
	int64_t     last_status_ms;
	int64_t     last_inventory_ms;
	int         has_details;               /* the fields below are set */
	const char *ip_address, *fqdn, *os_locale, *os_family, *os_description;
	const char *make, *model, *bios_version, *bios_name, *bios_release_date;
	const char *processor_arch, *client_version;
	const char *target_group_ids;          /* comma-separated */
	const char *requested_groups;          /* comma-separated */
	int         os_major, os_minor, os_build, os_sp_major, os_sp_minor;
	int         suite_mask, old_product_type, new_product_type, system_metrics;
};
/* Store a rolled-up computer (MS-WSUSSS 3.1.4.15): insert it, or replace it
 * when the stored LastSyncTime is not newer. *new_parent = 1 when it came
 * without Details and was new or changed parent (the DSS must send them). */
int storage_rollup_computer(struct storage *st, const struct storage_rollup_computer *c,
			    int *new_parent, struct err *e);
/* GetOutOfSyncComputers: *out_of_sync = 1 when computer_id is a computer of
 * parent_id or of one of its descendants whose last received rollup number
 * differs from rollup_number. */
int storage_rollup_out_of_sync(struct storage *st, const char *parent_id, const char *computer_id,
			       int rollup_number, int *out_of_sync, struct err *e);

struct storage_rollup_status {
	char    update_id[WSUS_GUID_LEN];
	int     status;            /* Update Status table value 0..6 */
	int64_t last_change_ms;
};
/* RollupComputerStatus for one computer rolled up under parent_id or a
 * descendant: record the rollup number and detection time, drop its status
 * rows on a full rollup, then upsert the statuses (newer LastChangeTime
 * wins). *known = 0 (nothing done) when no such computer exists. */
int storage_rollup_status(struct storage *st, const char *parent_id, const char *computer_id,
			  int rollup_number, int64_t detection_ms, int full,
			  const struct storage_rollup_status *items, size_t n, int *known,
			  struct err *e);

/*---- storage_rollup.c: the rollup we send to our upstream (DSS role) ----*/

/* The upstream a rollup goes to (its ServerId and RollupResetGuid from
 * GetRollupConfiguration). When either differs from the last rollup's,
 * every computer goes again in full (Details and every status; a new
 * ServerId also restarts the rollup numbers): *reset = 1. Stored at once. */
int storage_rollup_begin(struct storage *st, const char *uss_id, const char *reset_guid, int *reset,
			 struct err *e);

#define STORAGE_ROLLUP_LIST_MAX 4096     /* joined group ids / requested names of one computer */
#define STORAGE_ROLLUP_FP_MAX   160      /* a fingerprint of what was sent */

/* One computer of ours or of a downstream server, as the rollup sends it
 * (times in Unix ms, INT64_MIN when never; texts "" when unknown). */
struct storage_rollup_out {
	char    computer_id[257];
	char    parent_id[WSUS_GUID_LEN];       /* "" = registered with us */
	int64_t last_sync_ms, last_reboot_ms, last_report_ms, last_inventory_ms;
	int64_t detection_ms;                   /* EffectiveLastDetectionTime: the newest succeeded
						   sync before its last detection, INT64_MIN none */
	int     last_sync_result;               /* 0 unknown, 1 succeeded, 2 failed */
	char    ip[64], fqdn[256], os_locale[32], os_family[64], os_description[256];
	char    make[64], model[64], bios_version[64], bios_name[64], bios_date[40], arch[50];
	char    client_version[24];
	int     os_major, os_minor, os_build, os_sp_major, os_sp_minor;
	int     suite_mask, old_product_type, new_product_type, system_metrics;
	char    group_ids[STORAGE_ROLLUP_LIST_MAX];   /* comma-separated */
	char    requested[STORAGE_ROLLUP_LIST_MAX];   /* as stored: ';' (ours) or ',' (rolled up) */
	char    info_sent[STORAGE_ROLLUP_FP_MAX];     /* fingerprints the upstream last accepted */
	char    details_sent[STORAGE_ROLLUP_FP_MAX];
	int     sent_number;                          /* LastSentStatusRollupNumber */
	int64_t status_time;                          /* the status watermark, INT64_MIN = full next */
	int64_t newest_status_ms;                     /* newest changed_at of its statuses, INT64_MIN none */
};
/* Every computer (ours and rolled up), by ComputerId. */
int storage_rollup_computers(struct storage *st, int (*fn)(const struct storage_rollup_out *c, void *ctx),
			     void *ctx, struct err *e);
/* The upstream accepted the computer: remember the fingerprints (details
 * NULL: keep). */
int storage_rollup_computer_sent(struct storage *st, const char *computer_id, const char *info,
				 const char *details, struct err *e);
/* RollupComputers' ChangedComputer: Deleted drops the computer, NewParent
 * makes its Details go again. */
int storage_rollup_computer_changed(struct storage *st, const char *computer_id, int deleted,
				    struct err *e);
/* A computer's status rows that changed here after since_ms (INT64_MIN:
 * all), status as the Update Status table holds it (0..6), last_change_ms
 * the reported LastChangeTime, changed_ms when it changed here (our clock). */
int storage_rollup_status_rows(struct storage *st, const char *computer_id, int64_t since_ms,
			       int (*fn)(const char *update_id, int status, int64_t last_change_ms,
					 int64_t changed_ms, void *ctx),
			       void *ctx, struct err *e);
/* GetOutOfSyncComputers named it: its next status rollup is a full one. */
int storage_rollup_status_full(struct storage *st, const char *computer_id, struct err *e);
/* RollupComputerStatus was accepted: the rollup number sent and the newest
 * changed_at in it (the watermark) become the computer's. */
int storage_rollup_status_sent(struct storage *st, const char *computer_id, int number,
			       int64_t newest_ms, struct err *e);

/* ServerSummary counters computed from the Update Status table over the
 * computers registered with us (MS-WSUSSS 3.2.4.5 step 2.1.7). */
struct storage_rollup_counts {
	int64_t updates_with_client_errors;   /* an update some computer failed to install */
	int64_t updates_with_server_errors;   /* approved, with a payload quarantined */
	int64_t updates_needed;               /* needed or downloaded by some computer */
	int64_t updates_up_to_date;           /* applicable somewhere, installed everywhere */
	int64_t critical_not_approved;        /* Critical/Security classification, no install approval */
	int64_t infrastructure_not_approved;  /* IsMandatory, no install approval */
	int64_t computers_needing;
	int64_t computers_with_errors;
	int64_t computers_up_to_date;         /* reported, nothing needed, nothing failed */
};
int storage_rollup_counts(struct storage *st, struct storage_rollup_counts *out, struct err *e);

/* Install activity for the ClientSummaries of RollupDownstreamServers
 * (MS-WSUSSS 3.1.4.14.3.5-7, 3.2.4.5): per OS group and update revision,
 * the installs and failed installs the upstream has not counted yet. Ours
 * come from the install events of our computers after the event watermark;
 * a descendant's are what our upstream role summed for it (dss_activity).
 * Rows come ordered by OS group. */
#define STORAGE_ROLLUP_OS_MAX 160
struct storage_rollup_activity {
	char    os[STORAGE_ROLLUP_OS_MAX];  /* the group key, as dss_activity keeps it */
	int64_t computers;                  /* Count: computers of the group behind that server */
	char    update_id[WSUS_GUID_LEN];
	int     revision;
	int64_t success, failure;
};
/* server_id NULL: ours, and *last_event = the newest event id now (the
 * watermark once the upstream accepted them); 0 for a descendant. */
int storage_rollup_activity(struct storage *st, const char *server_id, int64_t *last_event,
			    int (*fn)(const struct storage_rollup_activity *a, void *ctx), void *ctx,
			    struct err *e);
/* The upstream accepted a descendant's row: its counts come off (what
 * arrived meanwhile stays), the row goes at zero (3.2.4.5 step 3). */
int storage_rollup_activity_sent(struct storage *st, const char *server_id,
				 const struct storage_rollup_activity *a, struct err *e);
/* The upstream accepted ours: the event watermark moves to last_event. */
int storage_rollup_activity_mark(struct storage *st, int64_t last_event, struct err *e);

/*---- storage_views.c: what the admin sees of computers and update states ----*/

/* Which computers `computer list` shows (all of them when zeroed). */
struct storage_computer_filter {
	const char *group;           /* a group name: computers in it ("All Computers": every one) */
	int         needing;         /* with an update needed or downloaded */
	int         failed;          /* with an update that failed */
	int64_t     stale_before_ms; /* not synced since (or never), 0 = any */
};
/* One computer, ours or rolled up from a downstream server (times Unix ms, 0 never). */
struct storage_computer_row {
	char    computer_id[257];
	char    name[256];                  /* its DNS name, "" unknown */
	char    groups[1024];               /* group names, separated by '\x1f' (a name may hold ", ") */
	char    requested[1024];            /* requested group names as reported */
	char    parent_id[WSUS_GUID_LEN];   /* the downstream server it came through, "" = ours */
	char    parent_name[256];
	char    os[300];                    /* OSDescription, or "Windows major.minor.build" */
	char    ip[64], arch[50], make[64], model[64], client_version[24];
	int64_t registered_ms, last_sync_ms, last_report_ms, last_status_ms;
	int     last_sync_result;           /* 0 unknown, 1 succeeded, 2 failed */
	int64_t by_status[7];               /* its updates per Update Status value */
};
int storage_computer_list(struct storage *st, const struct storage_computer_filter *f,
			  int (*fn)(const struct storage_computer_row *c, void *ctx), void *ctx, struct err *e);
/* One computer by ComputerId, else by DNS name (case-insensitive); -ENOENT
 * when none, -EEXIST when a name matches several. */
int storage_computer_find(struct storage *st, const char *id_or_name, struct storage_computer_row *out,
			  struct err *e);
/* One update's state on a computer with the newest event about it. */
struct storage_computer_update {
	char    update_id[WSUS_GUID_LEN];
	char    title[256];                 /* "" when the catalogue does not have it */
	int     status;                     /* Update Status 0..6 */
	int64_t changed_ms;                 /* LastChangeTime */
	int64_t event_ms;                   /* the newest event about it (ours only), 0 none */
	int     event_id;
	int     hresult;
};
int storage_computer_updates(struct storage *st, const char *computer_id,
			     int (*fn)(const struct storage_computer_update *u, void *ctx), void *ctx,
			     struct err *e);
/* One update with the computers per state (unknown: no state reported). */
struct storage_update_counts {
	char    update_id[WSUS_GUID_LEN];
	char    title[256];
	char    kb[32];
	int     approved;                   /* a live install approval */
	int     declined;
	int64_t needed, downloaded, installed, pending_reboot, failed, not_applicable, unknown;
};
/* The updates some computer reported a state for (needed: only those
 * needed or downloaded somewhere; failed: only those failed somewhere). */
int storage_update_counts(struct storage *st, int needed, int failed,
			  int (*fn)(const struct storage_update_counts *u, void *ctx), void *ctx, struct err *e);
/* The overview the WSUS console opens with. */
struct storage_overview {
	int64_t computers, computers_ours, computers_rolled_up, computers_reporting;
	int64_t computers_needing, computers_with_errors, computers_up_to_date, computers_not_reported;
	int64_t downstream_servers;
	int64_t updates, updates_approved, updates_declined, updates_not_approved;
	int64_t updates_needed, updates_with_errors, updates_needing_files;
	int64_t last_sync_ms;                /* started_at of the newest sync, 0 none */
	char    last_sync_result[16];        /* running | succeeded | failed, "" none */
};
int storage_overview(struct storage *st, struct storage_overview *out, struct err *e);

/*---- storage_client.c: queries for the client role ----*/

/* GetConfig's LastChange. The stamp is kept with the fingerprint of the
 * answer it dates (1-100 characters, no spaces); when there is none yet, or
 * this build answers differently, now (whole seconds) is stored. *unix_ms is
 * the stamp in force. */
int storage_client_config_stamp(struct storage *st, const char *fingerprint, int64_t *unix_ms,
				struct err *e);

/* The groups whose deployments reach a client: the requested groups (names,
 * ';'-separated, only when client_targeting) that exist, else the computer's
 * assigned group, else Unassigned Computers; then every ancestor, All
 * Computers always. -E2BIG past STORAGE_CLIENT_MAX_GROUPS. */
#define STORAGE_CLIENT_MAX_GROUPS 64
struct storage_client_groups {
	char   ids[STORAGE_CLIENT_MAX_GROUPS][WSUS_GUID_LEN];
	size_t n;
	int    unknown;            /* requested names that match no group */
	int    requested_known;    /* requested names that do */
};
int storage_client_groups(struct storage *st, const char *computer_id, const char *requested,
			  int client_targeting, struct storage_client_groups *out, struct err *e);
/* The same, where the caller knows the database has not changed since its
 * own generation gen (nonzero) began: a resolution this handle kept at gen
 * (and before its own last write) is used without asking the database.
 * gen 0: as storage_client_groups, which always reads. */
int storage_client_groups_at(struct storage *st, uint64_t gen, const char *computer_id, const char *requested,
			     int client_targeting, struct storage_client_groups *out, struct err *e);
/* PRAGMA data_version: moves when another connection has committed. */
int storage_data_version(struct storage *st, int64_t *v, struct err *e);

/* RegisterComputer's ComputerInfo (strings may be NULL). */
struct storage_client_computer {
	const char *computer_id;        /* the clientId, lower case */
	const char *dns_name, *ip_address, *os_locale, *os_description, *processor_arch;
	const char *manufacturer, *model, *bios_name, *bios_version, *bios_release_date;
	const char *client_version, *oem, *device_type, *firmware_version, *mobile_operator;
	const char *protocol_version;
	const char *requested_groups;   /* ';'-separated target group names, NULL or "" for none */
	int os_major, os_minor, os_build, os_sp_major, os_sp_minor;
	int suite_mask, old_product_type, new_product_type, system_metrics;
	int64_t max_computers;          /* registration cap (0 = none), see below */
};
/* Insert or refresh a directly registered computer (a computer rolled up
 * from a downstream server becomes ours). assign_from_request: the group
 * becomes the first requested group that exists (none: unassigned);
 * otherwise the admin's assignment is kept. *unknown_groups (may be NULL) =
 * requested names with no group. A computer not yet registered directly is
 * refused with -EDQUOT when c->max_computers are already. */
int storage_client_register(struct storage *st, const struct storage_client_computer *c,
			    int assign_from_request, int *unknown_groups, struct err *e);
/* A sync of a registered client: record the time (at most once a minute)
 * and its protocol version (NULL: keep). -ENOENT when it is not registered. */
int storage_client_touch(struct storage *st, const char *computer_id, const char *protocol_version,
			 struct err *e);

/* How a needed revision reaches a client. */
enum storage_client_action {
	STORAGE_CLIENT_INSTALL = 0,     /* explicit deployments, as approved */
	STORAGE_CLIENT_UNINSTALL,
	STORAGE_CLIENT_EVALUATE,
	STORAGE_CLIENT_BLOCK,
	STORAGE_CLIENT_BUNDLE,          /* bundled by an approved (install) bundle: its deployment */
	STORAGE_CLIENT_DEPENDENCY,      /* only a prerequisite or bundled child of something needed */
};

/* One revision of a client's NeededRevisions (the latest of its update). */
struct storage_client_rev {
	int64_t revision_id;
	char    update_id[WSUS_GUID_LEN];
	int     revision;
	enum wsus_update_type type;
	int     is_leaf;               /* no prerequisite row anywhere names its UpdateID */
	int64_t leaf_changed_ms;       /* when storage_leaf_refresh last set it */
	int     has_bundled;           /* it bundles other revisions */
	enum storage_client_action action;
	int     implicit;              /* EVALUATE by the implicit deployment of every category and
					  detectoid to All Computers (no deployment row) */
	int64_t deployment_id;         /* Deployment/ID; 0 for DEPENDENCY and implicit */
	char    deadline[48];          /* ISO text as stored, "" when none */
	int     is_assigned;
	int64_t last_change_ms;        /* the deployment's (DEPENDENCY: leaf_changed_ms) */
	int64_t change_anchor;         /* newest anchor of a deployment row, live or dead, of this
					  update or of a bundle of it, in the client's groups */
};
/* The closure of a client's groups, prepared to answer many requests: the
 * revisions deployed to groups g plus their closure over prerequisites and
 * bundled updates, ordered by RevisionID. Every category and detectoid
 * counts as deployed (implicit Evaluate to All Computers) unless an explicit
 * deployment to g names it. With n_filter > 0 the closure starts only from
 * deployed updates that are a filter category or a category below one, or
 * are in one; the filter categories' ancestors come in as their
 * prerequisites. Prerequisites are numbered updates: revision i has the
 * clauses [clauses[i], clauses[i+1]), clause k names the updates
 * need[members[k] .. members[k+1]); it is met when one of them is installed,
 * and a revision's prerequisites are met when all its clauses are. revmap
 * maps every revision of a numbered update (by RevisionID) to its number, so
 * installed RevisionIDs become update numbers. Immutable once built. */
struct storage_client_scan {
	int64_t  anchor;                   /* the catalogue anchor it reflects */
	struct storage_client_rev *revs;
	size_t   n;
	uint32_t *clauses;                 /* n + 1 entries */
	uint32_t *members;                 /* n_clauses + 1 entries */
	uint32_t *need;                    /* n_need update numbers */
	size_t   n_clauses, n_need;
	struct storage_client_revmap {
		int64_t  revision_id;
		uint32_t update;
	} *revmap;                         /* by RevisionID */
	size_t   n_revmap;
	size_t   n_updates;                /* update numbers are 0 .. n_updates - 1 */
};
/* Build one in a single read snapshot (out is filled; free it with
 * storage_client_scan_free, also after a failure). */
int storage_client_scan_build(struct storage *st, const struct storage_client_groups *g,
			      const char (*filter)[WSUS_GUID_LEN], size_t n_filter,
			      struct storage_client_scan *out, struct err *e);
void storage_client_scan_free(struct storage_client_scan *c);
/* The catalogue anchor now (0 for an empty catalogue). */
int storage_client_anchor(struct storage *st, int64_t *anchor, struct err *e);
/* IsLeaf of each revision (ids sorted ascending, unique) counting only the
 * prerequisites of revisions stamped no later than anchor: what a client
 * answered at that anchor was told. leaf[i] for ids[i]; 1 for unknown ids. */
int storage_client_leaf_at(struct storage *st, const int64_t *ids, size_t n, int64_t anchor, int *leaf,
			   struct err *e);

/* A payload of a revision as FileLocations names it. */
struct storage_client_file {
	uint8_t sha1[WSUS_SHA1_LEN];
	char    name[160];             /* FileName, "" when none */
	int     encrypted;
};
/* The payloads of a revision in document order (caller frees *out). */
int storage_client_files(struct storage *st, int64_t revision_id, struct storage_client_file **out, size_t *n,
			 struct err *e);
/* A stored fragment of a revision (locale "" or NULL for Core and Extended),
 * malloc'd and NUL-terminated; -ENOENT when there is none. */
int storage_client_fragment(struct storage *st, int64_t revision_id, enum wsus_fragment_type type,
			    const char *locale, char **xml, size_t *len, struct err *e);

/* A driver-table row of a candidate driver revision. */
struct storage_client_driver {
	int64_t revision_id;
	char    hardware_id[208];
	char    ver_date[16];          /* yyyy-mm-dd */
	char    ver_version[32];       /* a.b.c.d */
	char    class_name[64];
	char    manufacturer[128];
	char    provider[128];
	int     feature_score;         /* for the OS key, -1 when none */
	char    chids[1024];           /* distribution and target CHIDs, comma-separated */
};
/* Driver rows of the given revisions whose HardwareID is one of device_ids
 * (case-insensitive; device_ids NULL = every row), printers only if asked,
 * ordered by RevisionID. Caller frees *out. */
int storage_client_drivers(struct storage *st, const int64_t *revision_ids, size_t n_ids,
			   const char *const *device_ids, size_t n_device_ids, const char *score_os,
			   int printers_only, struct storage_client_driver **out, size_t *n,
			   struct err *e);

/* The FileName of a payload known to the catalogue; -ENOENT when unknown. */
int storage_client_file_name(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], char *name,
			     size_t cap, struct err *e);

/*---- storage_sync.c: staging and publishing a sync ----*/

/* A sync stages what it fetched in a table no client or downstream query
 * reads, then publishes it in one transaction (storage_begin ... commit):
 * staged documents through storage_revision_put, the replica's groups,
 * deployments, declines and EULAs through the *_apply calls below, the
 * anchors through storage_state_set, then storage_stage_clear. A crash at any
 * point leaves the previous catalogue visible and the staging resumable. */

/* One fetched revision (the document as GetUpdateData delivered it, decoded). */
struct storage_stage_doc {
	const char *update_id;
	int         revision;
	const char *list;          /* which answer named it: "config", "updates", "deployments" */
	const char *xml;           /* UTF-8 document */
	size_t      xml_len;
	const char *mu_urls;       /* "<sha1 hex> <url>\n" lines from fileUrls, NULL when none */
	int         needs_keys;    /* SecuredFragment FileDecryption: keys still to fetch */
	const char *cert_sha256;   /* certificate of the connection that delivered it */
	int64_t     fetched_ms;
};
/* A staged revision as read back; pointers valid during the callback only. */
struct storage_stage_row {
	const char *update_id;
	int         revision;
	const char *list;
	const void *xml;
	size_t      xml_len;
	const char *mu_urls;       /* NULL when none */
	const char *keys;          /* "<sha1 hex> <key base64>\n" lines, NULL when none fetched */
	const char *cert_sha256;   /* NULL when unknown */
	int64_t     fetched_ms;
	const char *provenance;    /* the upstream's chain for it, NULL when none */
};
struct storage_stage_id {
	char update_id[WSUS_GUID_LEN];
	int  revision;
};

/* Start a sync's staging for upstream: rows staged for another upstream are
 * dropped. *kept = rows left from an interrupted sync of this one. */
int storage_stage_open(struct storage *st, const char *upstream, int64_t *kept, struct err *e);
/* Stage n documents in one transaction (an answer is staged whole or not at
 * all); staging a revision again replaces it. */
int storage_stage_put(struct storage *st, const char *upstream, const struct storage_stage_doc *docs,
		      size_t n, struct err *e);
/* Whether (update_id, revision) is staged (*staged) and in the catalogue
 * (*published); either may be NULL. */
int storage_sync_have(struct storage *st, const char *update_id, int revision, int *staged,
		      int *published, struct err *e);
/* Staged revisions that need decryption keys and have none yet, in staging
 * order. Caller frees *out with free(). */
int storage_stage_need_keys(struct storage *st, struct storage_stage_id **out, size_t *n,
			    struct err *e);
/* Record the keys of a staged revision ("" = the upstream knows none). */
/* The upstream's provenance chain for a staged document (checked by the caller
 * with storage_chain_check). No-op when it is not staged. */
int storage_stage_set_provenance(struct storage *st, const char *update_id, int revision,
				 const char *chain, struct err *e);
int storage_stage_set_keys(struct storage *st, const char *update_id, int revision, const char *keys,
			   struct err *e);
/* Every staged revision in staging order; fn may write to any table but
 * sync_stage. A non-zero return from fn stops the walk and is returned. */
int storage_stage_foreach(struct storage *st, int (*fn)(const struct storage_stage_row *r, void *ctx),
			  void *ctx, struct err *e);
int storage_stage_count(struct storage *st, int64_t *n, struct err *e);
/* Empty the staging (inside the publishing transaction). */
int storage_stage_clear(struct storage *st, struct err *e);

/* The decryption key of a payload (GetUpdateDecryptionData); key NULL clears it. */
int storage_sync_file_key(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], const uint8_t *key,
			  size_t key_len, struct err *e);

/* Replica mode. Make the target groups exactly the upstream's list (the two
 * built-in groups are always kept): insert, rename, re-parent (an unknown
 * parent means All Computers), delete the others with their deployments.
 * *changed (may be NULL) = 1 when anything differs. */
int storage_sync_groups_apply(struct storage *st, const struct storage_group_row *groups, size_t n,
			      int *changed, struct err *e);
/* Store one deployment as the upstream sent it (its DeploymentGuid, action,
 * deadline, go-live, priority, IsAssigned, admin; "" = none), retiring any
 * other live deployment of that update to that group; d->dead = 1 retires the
 * deployment d->deployment_id (only that field is read; unknown ones are
 * ignored). origin = provenance. Unchanged rows stay as they are (*changed =
 * 0). -ENOENT when the target group does not exist. */
int storage_sync_deployment_apply(struct storage *st, const struct storage_deployment_row *d,
				  const struct storage_origin *origin, int *changed, struct err *e);
/* Replica mode: retire every live deployment that did not come from upstream
 * (made here, or by a previous upstream). *retired = how many (may be NULL). */
int storage_sync_retire_others(struct storage *st, const char *upstream, int *retired, struct err *e);
/* The complete list of declined updates: listed ones hidden (their live
 * deployments retired), every other one not. *changed = revisions flipped. */
int storage_sync_hidden_apply(struct storage *st, const char (*ids)[WSUS_GUID_LEN], size_t n,
			      int *changed, struct err *e);
/* The complete list of accepted EULAs. */
int storage_sync_eulas_apply(struct storage *st, const char (*ids)[WSUS_GUID_LEN], size_t n,
			     struct err *e);

/* One row of sync_history: one sync run, failed ones included. */
struct storage_sync_record {
	int64_t id;                  /* sync_id (read back; ignored by _add) */
	char    upstream[512];
	char    cert_sha256[65];
	char    pin_verdict[256];
	int64_t started_ms;
	int64_t finished_ms;
	int64_t new_revisions;
	int64_t changed_revisions;
	int64_t content_bytes;       /* payload bytes the run fetched */
	char    error[256];          /* "" = succeeded, else the reason it failed */
};
/* Record a run; *id (may be NULL) = its sync_id, for storage_sync_history_finish. */
int storage_sync_history_add(struct storage *st, const struct storage_sync_record *r, int64_t *id,
			     struct err *e);
/* Complete the row id once the run has ended: when it finished, its payload
 * bytes, and error (NULL or "": it succeeded) which makes it a failed run. */
int storage_sync_history_finish(struct storage *st, int64_t id, int64_t finished_ms, int64_t content_bytes,
				const char *error, struct err *e);
/* The newest sync row (ok_only: the newest successful one); -ENOENT when
 * there was none. */
int storage_sync_last(struct storage *st, int ok_only, struct storage_sync_record *out, struct err *e);
/* The newest limit sync rows, newest first, to fn (a non-zero return stops
 * the walk and is returned). */
int storage_sync_history_foreach(struct storage *st, int limit,
				 int (*fn)(const struct storage_sync_record *r, void *ctx), void *ctx,
				 struct err *e);
/* Sync runs recorded, by result. */
int storage_sync_counts(struct storage *st, int64_t *succeeded, int64_t *failed, struct err *e);

/* Provenance per (upstream, certificate): what it delivered and when. The
 * revisions imported locally come as upstream "" (cert ""). */
struct storage_provenance_row {
	char    upstream[512];
	char    cert_sha256[65];
	int64_t revisions;
	int64_t deployments;         /* live ones */
	int64_t first_ms;            /* Unix ms */
	int64_t last_ms;
};
int storage_sync_provenance(struct storage *st,
			    int (*fn)(const struct storage_provenance_row *p, void *ctx), void *ctx,
			    struct err *e);

/* Payloads the content phase should fetch: missing ones, and quarantined ones
 * whose last quarantine is older than retry_before_ms; approved_only: only
 * those of updates approved for install (directly or by a bundle). PSF
 * (Express) files are never listed. Each element has sha1, sha256, size,
 * file_name, patching_type and mu_url. Free with storage_sync_files_free. */
int storage_sync_files_wanted(struct storage *st, int approved_only, int64_t retry_before_ms,
			      struct wsus_file **out, size_t *n, struct err *e);
void storage_sync_files_free(struct wsus_file *files, size_t n);
/* The extension the content store gives a payload named name (".cab", ""). */
void storage_content_ext(const char *name, char out[10]);

/* What a rollup reports about this server (MS-WSUSSS ServerSummary). */
struct storage_sync_summary {
	int64_t updates;             /* software and driver updates */
	int64_t declined;
	int64_t approved;            /* updates with a live install deployment */
	int64_t needing_files;       /* approved ones with a payload not present */
	int64_t custom_groups;
	int64_t computers;           /* registered directly with this server */
};
int storage_sync_summary(struct storage *st, struct storage_sync_summary *out, struct err *e);

/*---- storage_report.c: client reports ----*/

/* What an event says about one update on the reporting computer. */
struct storage_report_state {
	char update_id[WSUS_GUID_LEN];
	int  status;                 /* Update Status value 2..6, or -1: what was known no longer holds */
};

/* One ReportEventBatch event (strings may be NULL unless said otherwise). */
struct storage_report_event {
	const char *instance_id;     /* EventInstanceID, canonical GUID (required): de-duplicates */
	const char *computer_id;     /* the reporting client, as its cookie names it (required) */
	int64_t     received_ms;     /* our clock: retention and last report time */
	int64_t     time_ms;         /* TimeAtTarget, the client's clock: orders status changes */
	int         namespace_id, event_id, source_id;
	const char *update_id;       /* canonical GUID, NULL when the event names no update */
	int         revision;
	int         hresult;         /* Win32HResult */
	const char *app_name;
	const char *replacement;     /* ReplacementStrings, one per line */
	const char *misc;            /* MiscData ("tag=value"), one per line */
	const struct storage_report_state *states;
	size_t      n_states;
	int         snapshot;        /* states are the computer's whole picture (AGENT_STATUS) */
	int         sync_result;     /* 0 none, 1 detection succeeded, 2 failed (last_sync_result) */
};
/* Store n events in one transaction. A known EventInstanceID is skipped; a
 * new event of a directly registered computer applies its states (a state
 * never overrides a newer one; a snapshot then drops the rows older than it)
 * and sync_result. Every event of such a computer moves its last report
 * time. *inserted (may be NULL) = the new events. */
int storage_report_put(struct storage *st, const struct storage_report_event *ev, size_t n,
		       size_t *inserted, struct err *e);
/* What an event costs the store, in bytes (an estimate of its row and index
 * entries: its text plus STORAGE_EVENT_FIXED_BYTES). */
#define STORAGE_EVENT_FIXED_BYTES 200
int64_t storage_report_event_size(const struct storage_report_event *ev);

/* The quotas a client's batch is stored under (0 = no limit). */
struct storage_report_quota {
	int64_t day_bytes;           /* event bytes one computer may add per UTC day */
	int64_t store_bytes;         /* event bytes the store may hold */
};
enum storage_report_verdict {
	STORAGE_REPORT_STORED = 0,   /* every event is stored (new or already known) */
	STORAGE_REPORT_UNREGISTERED, /* not a computer registered directly with us: nothing stored */
	STORAGE_REPORT_OVER_DAY,     /* stopped at the computer's daily quota */
	STORAGE_REPORT_OVER_STORE,   /* stopped at the store's ceiling */
};
/* One ReportEventBatch request as a unit of a group commit. */
struct storage_report_batch {
	const char *computer_id;     /* the computer of every event (required) */
	const struct storage_report_event *ev;
	size_t n;
	/* filled by storage_report_put_batches */
	enum storage_report_verdict verdict;
	size_t  inserted;            /* new events stored (also when refused: a prefix) */
	int64_t bytes;               /* what they cost */
	int64_t used;                /* refused: the bytes the quota had already counted */
	int     first_refusal;       /* refused, and the computer's first refusal this UTC day */
};
/* Store n batches in one transaction. Each batch is checked as a whole for
 * the registration of its computer, then its events go in order as
 * storage_report_put stores them until a new one would pass a quota: the
 * batch is refused (a prefix may be stored; known events cost nothing, so a
 * resend gets further). now_ms chooses the UTC day. Any storage error rolls
 * back all n (the caller may retry them one by one). */
int storage_report_put_batches(struct storage *st, struct storage_report_batch *b, size_t n,
			       const struct storage_report_quota *q, int64_t now_ms, struct err *e);
/* The event bytes computer_id added on now_ms's UTC day, and the store's total. */
int storage_report_usage(struct storage *st, const char *computer_id, int64_t now_ms, int64_t *day_bytes,
			 int64_t *store_bytes, struct err *e);

/*---- storage_maint.c: retention and expiry ----*/

/* Delete events received before before_ms, then all but the newest max_rows,
 * in short transactions (call outside any). *deleted (may be NULL) = rows gone. */
int storage_report_prune(struct storage *st, int64_t before_ms, int64_t max_rows, int64_t *deleted,
			 struct err *e);

/* One maintenance pass (a limit of 0: that step is skipped). */
struct storage_maint_policy {
	int64_t now_ms;
	int64_t event_before_ms;     /* events received before it go */
	int64_t event_max_rows;      /* all but the newest so many events go */
	int64_t event_max_bytes;     /* the store's ceiling: above 9/10 of it the oldest events
					go until 8/10 is left */
	int64_t computer_before_ms;  /* computers registered here, last seen before it, go */
};
struct storage_maint_result {
	int64_t events_aged, events_over_count, events_over_bytes;
	int64_t usage_rows;          /* per-day quota rows older than a week */
	int64_t computers;           /* computers expired */
};
/* Run the steps in short transactions (call outside any); out may be NULL. */
int storage_maintain(struct storage *st, const struct storage_maint_policy *p, struct storage_maint_result *out,
		     struct err *e);

/*---- storage_cleanup.c: the cleanup wizard ----*/

struct storage_cleanup_policy {
	int64_t now_ms;
	int     dry_run;             /* report what would go, change nothing */
	int64_t computer_before_ms;  /* computers registered here, last seen before it, go; 0 = keep */
	int64_t content_grace_ms;    /* unreferenced payloads older than this go */
	int     decline_unneeded;    /* decline superseded updates no computer needs, and expired ones */
	int64_t event_before_ms;     /* events received before it go */
	int64_t event_max_bytes;     /* the event store's ceiling (storage_maintain) */
	int     vacuum;              /* VACUUM when over a quarter of the pages are free */
};
struct storage_cleanup_result {
	int64_t computers;
	int64_t files, file_bytes;   /* unreferenced payloads removed */
	int64_t files_in_grace;      /* unreferenced, kept until the grace period passes */
	int64_t declined_superseded, declined_expired;
	int64_t events;
	int64_t db_bytes_before, db_bytes_after;
	int     vacuumed;
};
/* Each thing removed (or, dry run, to be removed): what ("computer",
 * "payload", "superseded", "expired"), its id and one line about it. */
typedef void (*storage_cleanup_fn)(void *ctx, const char *what, const char *id, const char *detail);
/* One cleanup pass, in short transactions (call outside any); out may be NULL. */
int storage_cleanup(struct storage *st, const struct storage_cleanup_policy *p, storage_cleanup_fn fn, void *ctx,
		    struct storage_cleanup_result *out, struct err *e);

/* Client reports at a glance (computers registered directly with us). */
struct storage_report_summary {
	int64_t computers;           /* registered */
	int64_t computers_reporting; /* that have reported at least once */
	int64_t computers_needing;   /* with an update needed or downloaded, not installed */
	int64_t computers_with_errors; /* with an update that failed */
	int64_t by_status[7];        /* (computer, update) rows per Update Status value 0..6 */
	int64_t events;              /* events kept */
	int64_t last_report_ms;      /* newest report, 0 = none */
};
int storage_report_summary(struct storage *st, struct storage_report_summary *out, struct err *e);
/* One computer's status rows, ordered by UpdateID; a non-zero return from
 * fn stops the walk and is returned. */
int storage_report_computer_status(struct storage *st, const char *computer_id,
				   int (*fn)(const char *update_id, int status, int64_t last_change_ms,
					     void *ctx),
				   void *ctx, struct err *e);

/*---- storage_bundle.c: what an air-gap export reads ----*/

/* Every revision stamped in (since, upto], in RevisionID order (declined ones
 * included); a non-zero return from fn stops the walk and is returned. */
int storage_bundle_revisions(struct storage *st, int64_t since, int64_t upto,
			     int (*fn)(const char *update_id, int revision, void *ctx), void *ctx,
			     struct err *e);

#endif /* WSUS_STORAGE_H */
