/*
 * common.h -- what every folder of wsus-replica shares: the error carrier, the
 * logger, the limits, small codecs (hex, base64, GUID), digests, file helpers,
 * and the in-memory model of one update revision (struct wsus_update) that
 * protocol/ fills from update XML and storage/ persists.
 *
 * Nothing here knows about SQL, HTTP or XML parsing. Every function returns 0
 * or a negative errno-style code; the words go into a struct err.
 */
#ifndef WSUS_COMMON_H
#define WSUS_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*---- Limits (every parser and buffer takes its ceiling from here) ----*/

#define WSUS_MAX_UPDATE_XML     (16u * 1024 * 1024) /* one update document */
#define WSUS_MAX_CAB_INPUT      (16u * 1024 * 1024) /* XmlUpdateBlobCompressed, decoded base64 */
#define WSUS_MAX_CAB_OUTPUT     (32u * 1024 * 1024) /* decompressed blob (UTF-16LE) */
#define WSUS_MAX_XML_DEPTH      256                 /* element nesting in update XML */
#define WSUS_MAX_FILES_PER_UPDATE 4096
#define WSUS_MAX_CONFIG_LINE    4096
#define WSUS_ERR_LEN            512

/*---- Errors ----*/

/* The message that travels with a negative return code. */
struct err {
	int  code;               /* the negative code last set, 0 if none */
	char msg[WSUS_ERR_LEN];  /* one line, no trailing newline */
};

/* Record code and message in e (no-op when e is NULL); returns code, so that
 * "return err_set(e, -EINVAL, ...)" reads naturally. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix the message already in e with "prefix: " (no-op when e is NULL). */
void err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);

/*---- Logging: one line per event, "level component message key=value..." ----
 * prefixed "<N>" (RFC 5424 severity: 3 error, 4 warn, 5 notice, 6 info, 7 debug) when
 * stderr is the journal (JOURNAL_STREAM), else by an ISO 8601 UTC timestamp. */

/* NOTICE: normal but significant (e.g. the trust verdict of every sync). */
enum log_level { LOG_SILENT = -1, LOG_ERR = 0, LOG_WARN = 1, LOG_NOTICE = 2, LOG_INFO = 3, LOG_DEBUG = 4 };

extern _Atomic int log_verbosity;         /* messages above this level are dropped (SIGHUP may change it) */
void log_set_verbosity(int level);
void log_set_stream(FILE *f);            /* default stderr */
int log_to_journal(void);                /* 1 when stderr is systemd's journal stream */
void log_timestamp(char out[32]);        /* now, "YYYY-MM-DDTHH:MM:SS.mmmZ" */
void log_msg(int level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(comp, ...)   log_msg(LOG_ERR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_notice(comp, ...) log_msg(LOG_NOTICE, comp, __VA_ARGS__)
#define log_info(comp, ...)  do { if (log_verbosity >= LOG_INFO) log_msg(LOG_INFO, comp, __VA_ARGS__); } while (0)
#define log_debug(comp, ...) do { if (log_verbosity >= LOG_DEBUG) log_msg(LOG_DEBUG, comp, __VA_ARGS__); } while (0)

/*---- Codecs ----*/

/* The value of one hex digit (either case), or -1. */
int wsus_hex_digit(int c);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void wsus_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly 2*n hex digits (either case); -EINVAL otherwise. */
int wsus_hex_decode(const char *in, uint8_t *out, size_t n);
/* Base64 (RFC 4648, with padding). encode: out needs 4*((n+2)/3)+1 bytes. */
void wsus_b64_encode(const uint8_t *in, size_t n, char *out);
size_t wsus_b64_encoded_len(size_t n);
/* Decode base64, ignoring ASCII white space; *out_len receives the length.
 * Writes at most cap bytes; -EINVAL on bad input, -E2BIG when cap is too small. */
int wsus_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);

/* A GUID in canonical form: 36 lower-case characters plus NUL. */
#define WSUS_GUID_LEN 37
/* Accepts 8-4-4-4-12 hex in any case, optionally in braces; writes lower case.
 * -EINVAL if in is not a GUID. */
int wsus_guid_normalize(const char *in, char out[WSUS_GUID_LEN]);
/* A random (version 4) GUID, lower case. */
int wsus_guid_random(char out[WSUS_GUID_LEN]);

/* FNV-1a of n bytes: a cheap hash for small in-memory tables (not for
 * anything a peer could aim at). */
uint32_t wsus_fnv1a(const void *p, size_t n);

/*---- Digests (OpenSSL libcrypto) ----*/

#define WSUS_SHA1_LEN   20
#define WSUS_SHA256_LEN 32
void wsus_sha1(const void *data, size_t n, uint8_t out[WSUS_SHA1_LEN]);
void wsus_sha256(const void *data, size_t n, uint8_t out[WSUS_SHA256_LEN]);
/* HMAC-SHA-256 of data under key. */
void wsus_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t n,
		      uint8_t out[WSUS_SHA256_LEN]);

/*---- A site of front ends ([server] shared_secret_file) ----*/

/* Every front end of a site derives the same values from the site's 32-byte
 * secret: its ServerID (a version 4 shaped GUID), and 32-byte keys named by
 * label (the cookie key: "cookie"). HMAC-SHA-256(secret, "wsus-replica site "
 * label); the ServerID is the first 16 bytes of label "server id". */
#define WSUS_SITE_SECRET_LEN 32
void wsus_site_key(const uint8_t secret[WSUS_SITE_SECRET_LEN], const char *label, uint8_t out[32]);
void wsus_site_server_id(const uint8_t secret[WSUS_SITE_SECRET_LEN], char out[WSUS_GUID_LEN]);

/*---- Files ----*/

/* Read a whole file (at most max bytes, else -EFBIG). *out is NUL-terminated
 * (not counted in *len) and owned by the caller (free()). */
int wsus_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e);
/* mkdir -p with the given mode. */
int wsus_mkdir_p(const char *path, unsigned mode, struct err *e);
/* Write data to path atomically (temp file, fsync, rename, fsync dir). */
int wsus_write_file_atomic(const char *path, const void *data, size_t n, struct err *e);
/* fsync the directory that contains path. */
int wsus_fsync_parent(const char *path);

/*---- Dynamic string buffer with a ceiling ----*/

struct wsus_buf {
	char  *data;  /* NUL-terminated while len < cap */
	size_t len;
	size_t cap;   /* allocated */
	size_t max;   /* ceiling: appends past it fail with -E2BIG */
};
void wsus_buf_init(struct wsus_buf *b, size_t max);
int wsus_buf_append(struct wsus_buf *b, const void *data, size_t n);
int wsus_buf_appends(struct wsus_buf *b, const char *s);
int wsus_buf_printf(struct wsus_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with &, <, >, " escaped for XML text or attribute values. */
int wsus_buf_append_xml_escaped(struct wsus_buf *b, const char *s, size_t n);
/* Append s as XML character data: &, < and > escaped, and CR as &#13; so
 * that the reader's line-end folding cannot turn CRLF into LF (update
 * documents and fragments travel this way and must arrive byte-exact). */
int wsus_buf_append_xml_text(struct wsus_buf *b, const char *s, size_t n);
/* Hand over the data (caller frees) and reset b. */
char *wsus_buf_steal(struct wsus_buf *b, size_t *len);
void wsus_buf_free(struct wsus_buf *b);

/*---- Time ----*/

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) of now or of unix time t; out needs 32 bytes. */
void wsus_time_iso(int64_t unix_ms, char out[32]);
int64_t wsus_now_ms(void);
/* Wait on cv (made with pthread_condattr_setclock CLOCK_MONOTONIC) under mu
 * for up to ms, or until *stop (read under mu) is set; returns *stop. For
 * threads that sleep between runs and must wake at once on shutdown. */
int wsus_wait_stop(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stop, int64_t ms);

/*---- The update model (filled by protocol/, stored by storage/) ----*/

enum wsus_update_type {
	WSUS_UT_UNKNOWN = 0,
	WSUS_UT_SOFTWARE,
	WSUS_UT_DRIVER,
	WSUS_UT_CATEGORY,
	WSUS_UT_DETECTOID,
};
const char *wsus_update_type_name(enum wsus_update_type t); /* "Software", ... */
enum wsus_update_type wsus_update_type_parse(const char *s); /* case-insensitive */

enum wsus_fragment_type {
	WSUS_FRAG_CORE = 0,
	WSUS_FRAG_EXTENDED = 1,
	WSUS_FRAG_LOCALIZED = 2,  /* LocalizedProperties, one per language */
	WSUS_FRAG_EULA = 3,       /* one per EulaFile language */
};
const char *wsus_fragment_type_name(enum wsus_fragment_type t); /* "core", ... */

/* A prerequisite row: CNF. Rows with equal clause form one OR-clause. */
struct wsus_prereq {
	char update_id[WSUS_GUID_LEN];
	int  clause;       /* 0-based clause id within the revision */
	int  is_category;  /* from AtLeastOne/@IsCategory; 0 for bare identities */
};

/* A bundled revision: exact (UpdateID, RevisionNumber), CNF clauses as above. */
struct wsus_bundled {
	char update_id[WSUS_GUID_LEN];
	int  revision;
	int  clause;
};

struct wsus_file {
	char    *file_name;       /* FileName */
	uint8_t  sha1[WSUS_SHA1_LEN];
	int      has_sha256;
	uint8_t  sha256[WSUS_SHA256_LEN];
	int64_t  size;            /* -1 if absent */
	char    *modified;        /* Modified attribute, NULL if absent */
	char    *patching_type;   /* PatchingType ("Express" = PSF), NULL if absent */
	int      is_encrypted;    /* IsEncrypted="true" */
	int      is_eula;         /* came from LocalizedPropertiesCollection/EulaFile */
	char    *language;        /* EulaFile Language, NULL otherwise */
	char    *mu_url;          /* Microsoft Update URL (from GetUpdateData fileUrls), NULL if none */
};

struct wsus_feature_score {
	char *os;    /* "amd64.10.0" */
	int   score; /* 0..255, lower is better */
};

struct wsus_driver {
	char    *hardware_id;
	char    *driver_ver_date;     /* xs:date */
	char    *driver_ver_version;  /* a.b.c.d */
	char    *class_name;
	char    *manufacturer;
	char    *provider;
	char    *model;
	char    *company;
	int64_t  whql_driver_id;
	struct wsus_feature_score *scores;  size_t n_scores;
	char   **distribution_chids;        size_t n_distribution_chids;
	char   **target_chids;              size_t n_target_chids;
};

struct wsus_fragment {
	enum wsus_fragment_type type;
	char  *locale;  /* LocalizedProperties/Eula language, NULL for Core/Extended */
	char  *xml;     /* the fragment text exactly as a client receives it (unescaped) */
	size_t len;
};

struct wsus_update {
	char  update_id[WSUS_GUID_LEN];   /* lower case */
	int   revision;                    /* RevisionNumber */
	enum wsus_update_type type;
	char *category_type;     /* Company | ProductFamily | Product | UpdateClassification; NULL otherwise */
	char *title;             /* title in the default language (or "en", or the first) */
	char *description;       /* same language as title, NULL if none */
	char *kb_article;        /* Properties/KBArticleID, NULL if none */
	char *eula_id;           /* Properties/@EulaID, NULL if none */
	char *default_language;  /* Properties/@DefaultPropertiesLanguage */
	char *creation_date;     /* Properties/@CreationDate */
	char *publication_state; /* Properties/@PublicationState */
	char *secured_fragment;  /* Properties/SecuredFragment text (FileUrl, FileDecryption), NULL if none */
	char *handler;           /* Properties/@Handler */
	int   is_mandatory;      /* Properties/@IsMandatory = true */
	int   explicitly_deployable;
	int64_t max_download_size; /* -1 if absent */
	int64_t min_download_size; /* -1 if absent */

	char **languages;          size_t n_languages;   /* Properties/Language, lower case */
	struct wsus_prereq *prereqs;   size_t n_prereqs;
	struct wsus_bundled *bundled;  size_t n_bundled;
	char (*superseded)[WSUS_GUID_LEN]; size_t n_superseded; /* SupersededUpdates UpdateIDs */
	struct wsus_file *files;       size_t n_files;   /* Files/File then EulaFile entries */
	struct wsus_driver *drivers;   size_t n_drivers;
	struct wsus_fragment *fragments; size_t n_fragments; /* Core, Extended, then the rest */

	char  *xml;      /* the whole document, UTF-8, as received */
	size_t xml_len;
};

/* Frees everything a wsus_update owns, then u itself. Accepts NULL. */
void wsus_update_free(struct wsus_update *u);

/*---- Signed air-gap bundles (common_bundle.c) ----*/

#define WSUS_BUNDLE_MAX_MANIFEST (32u * 1024 * 1024)  /* the signed manifest text */
#define WSUS_BUNDLE_MAX_MEMBERS  500000               /* members (catalogue + payloads) */
#define WSUS_BUNDLE_MAX_FIELDS   16                   /* fields of one record */
#define WSUS_BUNDLE_MAX_RECORD   (WSUS_MAX_UPDATE_XML + 4u * 1024 * 1024) /* one record */

/* The records of a bundle's catalogue member (fields in this order). */
enum wsus_bundle_record_type {
	WSUS_BREC_REVISION = 1,    /* update_id, revision, xml, mu_urls, keys, chain */
	WSUS_BREC_GROUP = 2,       /* group_id, name, parent_id */
	WSUS_BREC_DEPLOYMENT = 3,  /* deployment_id, update_id, revision, action, admin, deadline,
	                              is_assigned, go_live, group_id, priority, dead */
	WSUS_BREC_DECLINED = 4,    /* update_id */
	WSUS_BREC_EULA = 5,        /* eula_id */
};

/* An Ed25519 key (private for export, public for import). */
struct wsus_bundle_key;
int wsus_bundle_key_load_private(const char *path, struct wsus_bundle_key **out, struct err *e);
int wsus_bundle_key_load_public(const char *path, struct wsus_bundle_key **out, struct err *e);
/* Lower-case hex SHA-256 of the public key's DER SubjectPublicKeyInfo. */
const char *wsus_bundle_key_fingerprint(const struct wsus_bundle_key *k);
void wsus_bundle_key_free(struct wsus_bundle_key *k);

/* The signed manifest's header. */
struct wsus_bundle_info {
	char     exporter[WSUS_GUID_LEN];  /* ServerID of the exporting server */
	uint64_t sequence;                 /* grows with every export of that server (replay guard) */
	int64_t  anchor;                   /* the exporter's catalogue anchor the bundle reflects */
	int64_t  since;                    /* 0 = full; else only changes after this anchor */
	int      content;                  /* payloads included */
	char     created[32];              /* ISO 8601 UTC */
	/* filled by the reader */
	uint64_t members;
	uint64_t manifest_offset, manifest_len;
};
struct wsus_bundle_member {
	char     kind[16];                 /* "catalog", "content" */
	char     name[72];
	uint64_t offset, size;
	uint8_t  sha256[WSUS_SHA256_LEN];
};
/* One record of a member: n fields, each NUL-terminated after len bytes;
 * valid until the next record_next. */
struct wsus_bundle_record {
	int         type;
	size_t      n;
	const char *field[WSUS_BUNDLE_MAX_FIELDS];
	size_t      len[WSUS_BUNDLE_MAX_FIELDS];
};

/* Writing: new (PATH.part), then per member begin, write/record_write, end;
 * finish signs and renames to PATH. free without finish removes PATH.part. */
struct wsus_bundle_writer;
int wsus_bundle_writer_new(const char *path, struct wsus_bundle_writer **out, struct err *e);
int wsus_bundle_member_begin(struct wsus_bundle_writer *w, const char *kind, const char *name, struct err *e);
int wsus_bundle_member_write(struct wsus_bundle_writer *w, const void *data, size_t n, struct err *e);
int wsus_bundle_record_write(struct wsus_bundle_writer *w, int type, const char *const *fields,
			     const size_t *lens, size_t n, struct err *e);
int wsus_bundle_member_end(struct wsus_bundle_writer *w, struct err *e);
int wsus_bundle_writer_finish(struct wsus_bundle_writer *w, const struct wsus_bundle_info *info,
			      const struct wsus_bundle_key *key, struct err *e);
uint64_t wsus_bundle_writer_size(const struct wsus_bundle_writer *w);
void wsus_bundle_writer_free(struct wsus_bundle_writer *w);

/* Reading. open: the trailer names the signer, which must be one of keys;
 * the signature is verified before any manifest line is parsed (-EBADMSG
 * damaged/altered/unsigned, -EKEYREJECTED unknown signer). check: hash every
 * member against the manifest (streaming). Then member_open, record_next
 * (1 = a record, 0 = end of member) or member_read, member_close (verifies
 * the hash again). */
struct wsus_bundle_reader;
int wsus_bundle_open(const char *path, struct wsus_bundle_key *const *keys, size_t n_keys,
		     struct wsus_bundle_reader **out, struct err *e);
const struct wsus_bundle_info *wsus_bundle_info(const struct wsus_bundle_reader *r);
const char *wsus_bundle_signer(const struct wsus_bundle_reader *r);
size_t wsus_bundle_member_count(const struct wsus_bundle_reader *r);
const struct wsus_bundle_member *wsus_bundle_member(const struct wsus_bundle_reader *r, size_t i);
int wsus_bundle_check(struct wsus_bundle_reader *r, struct err *e);
int wsus_bundle_member_open(struct wsus_bundle_reader *r, size_t i, struct err *e);
int wsus_bundle_member_read(struct wsus_bundle_reader *r, void *buf, size_t cap, size_t *got, struct err *e);
int wsus_bundle_record_next(struct wsus_bundle_reader *r, struct wsus_bundle_record *rec, struct err *e);
int wsus_bundle_member_close(struct wsus_bundle_reader *r, struct err *e);
void wsus_bundle_close(struct wsus_bundle_reader *r);

#endif /* WSUS_COMMON_H */
