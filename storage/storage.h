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
};

/*---- storage.c: open, schema, transactions, identity ----*/

/* Open (creating when absent) data_dir/wsus.db and the content store under
 * content_dir (NULL = data_dir/content); create directories; apply migrations;
 * create the server identity (ServerID GUID, cookie key) on first open.
 * Caller frees with storage_close. */
int storage_open(const char *data_dir, const char *content_dir, struct storage **out, struct err *e);
void storage_close(struct storage *st);

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
/* A named 32-byte secret, generated on first use and kept in the database
 * (e.g. "cookie"). */
int storage_secret(struct storage *st, const char *name, uint8_t out[32], struct err *e);

/* Small persistent key/value state (anchors, last sync time, ...). get: -ENOENT
 * when absent; *value is malloc'd. */
int storage_state_get(struct storage *st, const char *key, char **value);
int storage_state_set(struct storage *st, const char *key, const char *value, struct err *e);

/*---- storage_revision.c: the catalogue ----*/

/* Insert one parsed revision with its fragments, files, prerequisites, bundles,
 * supersedence and driver rows. A new (UpdateID, RevisionNumber) gets the next
 * RevisionID (never reused). Putting the same revision again with the same XML
 * changes nothing (*changed = 0); with different XML the stored one is
 * replaced, keeping its RevisionID (*changed = 1). */
int storage_revision_put(struct storage *st, const struct wsus_update *u,
			 const struct storage_origin *origin,
			 int64_t *revision_id /* OUT, may be NULL */,
			 int *changed /* OUT, may be NULL */, struct err *e);

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
	int64_t checked;
	int64_t ok;
	int64_t quarantined;
	int64_t missing;    /* files in the catalogue whose payload is absent */
};
/* Re-hash every stored payload against the catalogue digests; quarantine what
 * does not match (it stops being served). */
int storage_content_verify(struct storage *st, struct storage_verify_result *out, struct err *e);

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

#endif /* WSUS_STORAGE_H */
