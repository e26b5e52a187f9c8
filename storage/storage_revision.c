/*
 * storage_revision.c -- the catalogue: storing a parsed revision with every row
 * derived from it, recomputing IsLeaf, and reading revisions, documents,
 * fragments and file lists back. Documents and fragments handed out are
 * malloc'd copies (NUL-terminated, not counted in *len) the caller frees.
 *
 * Classification is resolved when a revision is read (the UpdateClassification
 * category among its IsCategory prerequisites that is in the catalogue), not
 * when it is stored, because categories may arrive after the updates naming them.
 */
#include "storage_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Accumulate the first failing bind so a long bind list stays readable. */
#define BIND(rc, expr) do { if ((rc) == SQLITE_OK) (rc) = (expr); } while (0)

/*---- Validation ----*/

static int check_guid(const char *in, char out[WSUS_GUID_LEN], const char *what, struct err *e)
{
	if (wsus_guid_normalize(in, out) < 0)
		return err_set(e, -EINVAL, "%s '%.40s' is not a GUID", what, in ? in : "(null)");
	return 0;
}

static int validate(const struct wsus_update *u, char uid[WSUS_GUID_LEN], struct err *e)
{
	if (u == NULL)
		return err_set(e, -EINVAL, "no revision given");
	if (check_guid(u->update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	if (u->revision < 0)
		return err_set(e, -EINVAL, "revision %s has a negative RevisionNumber %d", uid, u->revision);
	if (u->type <= WSUS_UT_UNKNOWN || u->type > WSUS_UT_DETECTOID)
		return err_set(e, -EINVAL, "revision %s/%d has an unknown UpdateType (%d)", uid,
			       u->revision, (int)u->type);
	if (u->xml == NULL || u->xml_len == 0)
		return err_set(e, -EINVAL, "revision %s/%d has no XML document", uid, u->revision);
	if (u->xml_len > WSUS_MAX_UPDATE_XML)
		return err_set(e, -EFBIG, "revision %s/%d: document larger than %u bytes", uid,
			       u->revision, WSUS_MAX_UPDATE_XML);
	if (u->n_files > WSUS_MAX_FILES_PER_UPDATE)
		return err_set(e, -E2BIG, "revision %s/%d lists more than %u files", uid, u->revision,
			       WSUS_MAX_FILES_PER_UPDATE);
	for (size_t i = 0; i < u->n_fragments; i++) {
		const struct wsus_fragment *f = &u->fragments[i];
		int localized = f->type == WSUS_FRAG_LOCALIZED || f->type == WSUS_FRAG_EULA;

		if ((unsigned)f->type > WSUS_FRAG_EULA || f->xml == NULL)
			return err_set(e, -EINVAL, "revision %s/%d: fragment %zu is malformed", uid,
				       u->revision, i);
		if (localized && (f->locale == NULL || f->locale[0] == '\0'))
			return err_set(e, -EINVAL, "revision %s/%d: %s fragment without a locale", uid,
				       u->revision, wsus_fragment_type_name(f->type));
	}
	return 0;
}

/*---- Revision row ----*/

static const char SQL_REV_FIND[] =
	"SELECT revision_id, xml_sha1, origin_upstream, origin_cert_sha256, origin_source FROM revision"
	" WHERE update_id = ?1 AND revision_number = ?2";

/* Parameters shared by insert and replace: ?1 update_id .. ?24 origin_source,
 * ?25 origin_chain, ?26 xml_sha256. */
#define REV_VALUES \
	"?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19"

static const char SQL_REV_INSERT[] =
	"INSERT INTO revision(update_id, revision_number, update_type, category_type, title,"
	" description, kb_article, eula_id, default_language, creation_date, publication_state,"
	" handler, secured_fragment, is_mandatory, explicitly_deployable, max_download_size,"
	" min_download_size, xml, xml_sha1, created_at, modified_at, anchor, origin_upstream,"
	" origin_cert_sha256, origin_source, origin_time, origin_chain, xml_sha256, is_leaf,"
	" leaf_changed_at, hidden)"
	" VALUES (" REV_VALUES ", ?20, ?20, ?21, ?22, ?23, ?24, ?20, ?25, ?26,"
	" NOT EXISTS (SELECT 1 FROM prereq p WHERE p.update_id = ?1), ?20,"
	/* A new revision of a declined update stays declined. */
	" EXISTS (SELECT 1 FROM revision h WHERE h.update_id = ?1 AND h.hidden = 1))";

static const char SQL_REV_REPLACE[] =
	"UPDATE revision SET update_type = ?3, category_type = ?4, title = ?5, description = ?6,"
	" kb_article = ?7, eula_id = ?8, default_language = ?9, creation_date = ?10,"
	" publication_state = ?11, handler = ?12, secured_fragment = ?13, is_mandatory = ?14,"
	" explicitly_deployable = ?15, max_download_size = ?16, min_download_size = ?17,"
	" xml = ?18, xml_sha1 = ?19, modified_at = ?20, anchor = ?21, origin_upstream = ?22,"
	" origin_cert_sha256 = ?23, origin_source = ?24, origin_time = ?20, origin_chain = ?25,"
	" xml_sha256 = ?26 WHERE update_id = ?1 AND revision_number = ?2";

static int bind_size(sqlite3_stmt *s, int idx, int64_t v)
{
	return v < 0 ? sqlite3_bind_null(s, idx) : sqlite3_bind_int64(s, idx, v);
}

static int bind_revision(sqlite3_stmt *s, const struct wsus_update *u, const char *uid,
			 const uint8_t sha1[WSUS_SHA1_LEN], int64_t anchor,
			 const struct storage_origin *o, const char *chain)
{
	uint8_t sha256[WSUS_SHA256_LEN];
	int rc = SQLITE_OK;

	BIND(rc, sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT));
	BIND(rc, sqlite3_bind_int(s, 2, u->revision));
	BIND(rc, sqlite3_bind_text(s, 3, wsus_update_type_name(u->type), -1, SQLITE_STATIC));
	BIND(rc, st_bind_text(s, 4, u->category_type));
	BIND(rc, st_bind_text(s, 5, u->title));
	BIND(rc, st_bind_text(s, 6, u->description));
	BIND(rc, st_bind_text(s, 7, u->kb_article));
	BIND(rc, st_bind_text(s, 8, u->eula_id));
	BIND(rc, st_bind_text(s, 9, u->default_language));
	BIND(rc, st_bind_text(s, 10, u->creation_date));
	BIND(rc, st_bind_text(s, 11, u->publication_state));
	BIND(rc, st_bind_text(s, 12, u->handler));
	BIND(rc, st_bind_text(s, 13, u->secured_fragment));
	BIND(rc, sqlite3_bind_int(s, 14, u->is_mandatory != 0));
	BIND(rc, sqlite3_bind_int(s, 15, u->explicitly_deployable != 0));
	BIND(rc, bind_size(s, 16, u->max_download_size));
	BIND(rc, bind_size(s, 17, u->min_download_size));
	wsus_sha256(u->xml, u->xml_len, sha256);
	BIND(rc, sqlite3_bind_blob64(s, 18, u->xml, u->xml_len, SQLITE_STATIC));
	BIND(rc, sqlite3_bind_blob(s, 19, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT));
	BIND(rc, sqlite3_bind_int64(s, 20, wsus_now_ms()));
	BIND(rc, sqlite3_bind_int64(s, 21, anchor));
	BIND(rc, st_bind_text(s, 22, o ? o->upstream_url : NULL));
	BIND(rc, st_bind_text(s, 23, o ? o->cert_sha256 : NULL));
	BIND(rc, st_bind_text(s, 24, o ? o->source : NULL));
	BIND(rc, st_bind_text(s, 25, chain));
	BIND(rc, sqlite3_bind_blob(s, 26, sha256, WSUS_SHA256_LEN, SQLITE_TRANSIENT));
	return rc;
}

/* What find_revision learns about a stored revision. */
struct stored_rev {
	int64_t id;
	uint8_t sha1[WSUS_SHA1_LEN];
	int     from_upstream;        /* origin_upstream is set */
	char    upstream[256];        /* origin_upstream, truncated */
	char    cert[2 * WSUS_SHA256_LEN + 1];  /* origin_cert_sha256 or "" */
};

/* *found = 1 and what is stored when (uid, rev) is in the catalogue. */
static int find_revision(struct storage *st, const char *uid, int rev, struct stored_rev *out,
			 int *found, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_REV_FIND, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, rev);
	rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(s, 0);
		if (sqlite3_column_bytes(s, 1) == WSUS_SHA1_LEN)
			memcpy(out->sha1, sqlite3_column_blob(s, 1), WSUS_SHA1_LEN);
		out->from_upstream = sqlite3_column_type(s, 2) != SQLITE_NULL;
		st_column_copy(s, 2, out->upstream, sizeof(out->upstream));
		st_column_copy(s, 3, out->cert, sizeof(out->cert));
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "look up revision");
	}
	st_stmt_done(s);
	return rc;
}

/* Origin is immutable: a document an upstream delivered is never replaced
 * by a local one (a replacement with other bytes, DESIGN.md trust 7). */
static int refuse_local_replacement(const struct stored_rev *old, const struct storage_origin *o,
				    struct err *e)
{
	if (!old->from_upstream || (o != NULL && o->upstream_url != NULL))
		return 0;
	return err_set(e, -EPERM,
		       "refused: the stored document came from upstream %s (certificate sha256=%s); "
		       "a local import (%s) with other content may not replace it (origin is immutable)",
		       old->upstream, old->cert[0] ? old->cert : "unknown",
		       o != NULL && o->source != NULL ? o->source : "no source");
}

static int write_revision_row(struct storage *st, const struct wsus_update *u, const char *uid,
			      const uint8_t sha1[WSUS_SHA1_LEN], int replace,
			      const struct storage_origin *o, int64_t *id, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char *chain = NULL;
	int64_t anchor;
	int rc;

	rc = st_anchor(st, "revision", &anchor, e);
	if (rc < 0)
		return rc;
	rc = st_chain_compose(st, o, &chain, e);
	if (rc < 0)
		return rc;
	rc = st_prepare(st, replace ? SQL_REV_REPLACE : SQL_REV_INSERT, &s, e);
	if (rc < 0) {
		free(chain);
		return rc;
	}
	rc = bind_revision(s, u, uid, sha1, anchor, o, chain);
	if (rc != SQLITE_OK)
		rc = st_sql_err(st, e, rc, "bind revision");
	else
		rc = st_step_done(st, s, replace ? "replace revision" : "insert revision", e);
	st_stmt_done(s);
	free(chain);
	if (rc == 0 && !replace)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

/* Dependent rows of a replaced revision go; driver children follow by cascade. */
static const char *const SQL_DEPENDENTS[] = {
	"DELETE FROM fragment WHERE revision_id = ?1",
	"DELETE FROM revision_file WHERE revision_id = ?1",
	"DELETE FROM prereq WHERE revision_id = ?1",
	"DELETE FROM bundle WHERE revision_id = ?1",
	"DELETE FROM supersedes WHERE revision_id = ?1",
	"DELETE FROM language WHERE revision_id = ?1",
	"DELETE FROM driver WHERE revision_id = ?1",
};

static int delete_dependents(struct storage *st, int64_t id, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	for (size_t i = 0; i < sizeof(SQL_DEPENDENTS) / sizeof(SQL_DEPENDENTS[0]) && rc == 0; i++) {
		rc = st_prepare(st, SQL_DEPENDENTS[i], &s, e);
		if (rc < 0)
			break;
		sqlite3_bind_int64(s, 1, id);
		rc = st_step_done(st, s, "delete old rows of revision", e);
		st_stmt_done(s);
	}
	return rc;
}

/*---- Dependent rows ----*/

static const char SQL_FRAG_INSERT[] =
	"INSERT INTO fragment(revision_id, type, locale, xml) VALUES (?1, ?2, ?3, ?4)";

static int put_fragments(struct storage *st, int64_t id, const struct wsus_update *u, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	for (size_t i = 0; i < u->n_fragments && rc == 0; i++) {
		const struct wsus_fragment *f = &u->fragments[i];
		int localized = f->type == WSUS_FRAG_LOCALIZED || f->type == WSUS_FRAG_EULA;
		int brc = SQLITE_OK;

		rc = st_prepare(st, SQL_FRAG_INSERT, &s, e);
		if (rc < 0)
			break;
		BIND(brc, sqlite3_bind_int64(s, 1, id));
		BIND(brc, sqlite3_bind_int(s, 2, (int)f->type));
		BIND(brc, sqlite3_bind_text(s, 3, localized ? f->locale : "", -1, SQLITE_TRANSIENT));
		/* f->xml is never NULL (validated): a zero-length fragment stays "", not NULL. */
		BIND(brc, sqlite3_bind_blob64(s, 4, f->xml, f->len, SQLITE_STATIC));
		rc = brc != SQLITE_OK ? st_sql_err(st, e, brc, "bind fragment") :
			st_step_done(st, s, "insert fragment", e);
		if (rc == -EEXIST)
			err_set(e, rc, "%s fragment%s%s listed twice", wsus_fragment_type_name(f->type),
				localized ? " for locale " : "", localized ? f->locale : "");
		st_stmt_done(s);
	}
	return rc;
}

static const char SQL_FILE_FIND[] = "SELECT state FROM file WHERE sha1 = ?1";
static const char SQL_FILE_INSERT[] =
	"INSERT INTO file(sha1, sha256, size, file_name, patching_type, modified, is_encrypted,"
	" mu_url, state, store_ext, state_changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SQL_FILE_META[] =
	"UPDATE file SET sha256 = coalesce(?2, sha256), size = coalesce(?3, size),"
	" file_name = coalesce(?4, file_name), patching_type = coalesce(?5, patching_type),"
	" modified = coalesce(?6, modified), is_encrypted = ?7, mu_url = coalesce(?8, mu_url)"
	" WHERE sha1 = ?1";
static const char SQL_FILE_PRESENT[] =
	"UPDATE file SET state = 'present', store_ext = ?2, state_changed_at = ?3 WHERE sha1 = ?1";

/* A payload imported before its metadata is already in the store (design note 6). */
static int on_disk(struct storage *st, const struct wsus_file *f, char ext[10])
{
	char path[STORAGE_PATH_MAX];
	struct stat sb;

	st_content_ext(f->file_name, ext);
	if (st_content_file_path(st, f->sha1, ext, path, sizeof(path)) < 0)
		return 0;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int bind_file_meta(sqlite3_stmt *s, const struct wsus_file *f)
{
	int rc = SQLITE_OK;

	BIND(rc, sqlite3_bind_blob(s, 1, f->sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT));
	if (f->has_sha256)
		BIND(rc, sqlite3_bind_blob(s, 2, f->sha256, WSUS_SHA256_LEN, SQLITE_TRANSIENT));
	BIND(rc, bind_size(s, 3, f->size));
	BIND(rc, st_bind_text(s, 4, f->file_name));
	BIND(rc, st_bind_text(s, 5, f->patching_type));
	BIND(rc, st_bind_text(s, 6, f->modified));
	BIND(rc, sqlite3_bind_int(s, 7, f->is_encrypted != 0));
	BIND(rc, st_bind_text(s, 8, f->mu_url));
	return rc;
}

/* *state: -1 no row, 0 missing or quarantined, 1 present. */
static int file_state(struct storage *st, const uint8_t sha1[WSUS_SHA1_LEN], int *state,
		      struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_FILE_FIND, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	*state = -1;
	if (rc == SQLITE_ROW)
		*state = strcmp((const char *)sqlite3_column_text(s, 0), "present") == 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "look up file");
	st_stmt_done(s);
	return rc;
}

static int insert_file(struct storage *st, const struct wsus_file *f, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char ext[10];
	int disk = on_disk(st, f, ext);
	int rc = st_prepare(st, SQL_FILE_INSERT, &s, e);
	int brc;

	if (rc < 0)
		return rc;
	brc = bind_file_meta(s, f);
	BIND(brc, sqlite3_bind_text(s, 9, disk ? "present" : "missing", -1, SQLITE_STATIC));
	BIND(brc, sqlite3_bind_text(s, 10, disk ? ext : "", -1, SQLITE_TRANSIENT));
	BIND(brc, sqlite3_bind_int64(s, 11, wsus_now_ms()));
	rc = brc != SQLITE_OK ? st_sql_err(st, e, brc, "bind file") :
		st_step_done(st, s, "insert file row", e);
	st_stmt_done(s);
	return rc;
}

/* Insert or update the file row; a row that is not present yet becomes
 * present when its payload is already on disk. */
static int upsert_file(struct storage *st, const struct wsus_file *f, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char ext[10];
	int rc, state, brc;

	rc = file_state(st, f->sha1, &state, e);
	if (rc < 0)
		return rc;
	if (state < 0)
		return insert_file(st, f, e);
	rc = st_prepare(st, SQL_FILE_META, &s, e);
	if (rc < 0)
		return rc;
	brc = bind_file_meta(s, f);
	rc = brc != SQLITE_OK ? st_sql_err(st, e, brc, "bind file") :
		st_step_done(st, s, "update file row", e);
	st_stmt_done(s);
	if (rc < 0 || state == 1 || !on_disk(st, f, ext))
		return rc;
	rc = st_prepare(st, SQL_FILE_PRESENT, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, f->sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, ext, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, wsus_now_ms());
	rc = st_step_done(st, s, "mark file present", e);
	st_stmt_done(s);
	return rc;
}

static const char SQL_REVFILE_INSERT[] =
	"INSERT INTO revision_file(revision_id, ord, sha1, is_eula, language) VALUES (?1, ?2, ?3, ?4, ?5)";

static int put_files(struct storage *st, int64_t id, const struct wsus_update *u, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	for (size_t i = 0; i < u->n_files && rc == 0; i++) {
		const struct wsus_file *f = &u->files[i];

		rc = upsert_file(st, f, e);
		if (rc < 0)
			break;
		rc = st_prepare(st, SQL_REVFILE_INSERT, &s, e);
		if (rc < 0)
			break;
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_blob(s, 3, f->sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
		sqlite3_bind_int(s, 4, f->is_eula != 0);
		st_bind_text(s, 5, f->language);
		rc = st_step_done(st, s, "insert revision file", e);
		st_stmt_done(s);
	}
	return rc;
}

static const char SQL_PREREQ_INSERT[] =
	"INSERT INTO prereq(revision_id, clause_id, update_id, is_category) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_BUNDLE_INSERT[] =
	"INSERT INTO bundle(revision_id, clause_id, bundled_update_id, bundled_revision_number)"
	" VALUES (?1, ?2, ?3, ?4)";
static const char SQL_SUPERSEDES_INSERT[] =
	"INSERT INTO supersedes(revision_id, superseded_update_id) VALUES (?1, ?2)";
static const char SQL_LANGUAGE_INSERT[] =
	"INSERT OR IGNORE INTO language(revision_id, lang) VALUES (?1, ?2)";
/* ?1 (the revision) is bound but unused, so that put_text_row serves this one too. */
static const char SQL_EULA_INSERT[] = "INSERT OR IGNORE INTO eula(eula_id) VALUES (?2)";

/* A CNF row (prereq, bundle): revision, clause, update id, flag or revision number. */
static int put_clause_row(struct storage *st, const char *sql, int64_t id, int clause,
			  const char *uid, int extra, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, clause);
	sqlite3_bind_text(s, 3, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 4, extra);
	rc = st_step_done(st, s, "insert relationship", e);
	st_stmt_done(s);
	return rc;
}

/* A (revision, text) row: supersedence, language, EULA. */
static int put_text_row(struct storage *st, const char *sql, int64_t id, const char *text,
			struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_TRANSIENT);
	rc = st_step_done(st, s, "insert relationship", e);
	st_stmt_done(s);
	return rc;
}

static int put_relationships(struct storage *st, int64_t id, const struct wsus_update *u,
			     struct err *e)
{
	char g[WSUS_GUID_LEN];
	int rc = 0;

	for (size_t i = 0; i < u->n_prereqs && rc == 0; i++) {
		rc = check_guid(u->prereqs[i].update_id, g, "prerequisite", e);
		if (rc == 0)
			rc = put_clause_row(st, SQL_PREREQ_INSERT, id, u->prereqs[i].clause, g,
					    u->prereqs[i].is_category != 0, e);
	}
	for (size_t i = 0; i < u->n_bundled && rc == 0; i++) {
		rc = check_guid(u->bundled[i].update_id, g, "bundled update", e);
		if (rc == 0)
			rc = put_clause_row(st, SQL_BUNDLE_INSERT, id, u->bundled[i].clause, g,
					    u->bundled[i].revision, e);
	}
	for (size_t i = 0; i < u->n_superseded && rc == 0; i++) {
		rc = check_guid(u->superseded[i], g, "superseded update", e);
		if (rc == 0)
			rc = put_text_row(st, SQL_SUPERSEDES_INSERT, id, g, e);
	}
	for (size_t i = 0; i < u->n_languages && rc == 0; i++)
		if (u->languages[i] != NULL)
			rc = put_text_row(st, SQL_LANGUAGE_INSERT, id, u->languages[i], e);
	if (rc == 0 && u->eula_id != NULL) {
		/* EULA ids are GUIDs in practice; keep whatever form is not. */
		if (wsus_guid_normalize(u->eula_id, g) < 0)
			snprintf(g, sizeof(g), "%.36s", u->eula_id);
		rc = put_text_row(st, SQL_EULA_INSERT, 0, g, e);
	}
	return rc;
}

static const char SQL_DRIVER_INSERT[] =
	"INSERT INTO driver(revision_id, hardware_id, driver_ver_date, driver_ver_version, class,"
	" manufacturer, provider, model, company, whql_driver_id)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_SCORE_INSERT[] =
	"INSERT INTO driver_feature_score(driver_id, os, score) VALUES (?1, ?2, ?3)";
static const char SQL_DIST_CHID_INSERT[] =
	"INSERT INTO driver_distribution_chid(driver_id, chid) VALUES (?1, ?2)";
static const char SQL_TARGET_CHID_INSERT[] =
	"INSERT INTO driver_target_chid(driver_id, chid) VALUES (?1, ?2)";

static int put_driver_child(struct storage *st, const char *sql, int64_t driver, const char *text,
			    int score, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, sql, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, driver);
	st_bind_text(s, 2, text);
	if (sql == SQL_SCORE_INSERT)
		sqlite3_bind_int(s, 3, score);
	rc = st_step_done(st, s, "insert driver detail", e);
	st_stmt_done(s);
	return rc;
}

static int put_driver(struct storage *st, int64_t id, const struct wsus_driver *d, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int64_t driver;
	int rc, brc = SQLITE_OK;

	if (d->hardware_id == NULL)
		return err_set(e, -EINVAL, "driver metadata without a HardwareID");
	rc = st_prepare(st, SQL_DRIVER_INSERT, &s, e);
	if (rc < 0)
		return rc;
	BIND(brc, sqlite3_bind_int64(s, 1, id));
	BIND(brc, st_bind_text(s, 2, d->hardware_id));
	BIND(brc, st_bind_text(s, 3, d->driver_ver_date));
	BIND(brc, st_bind_text(s, 4, d->driver_ver_version));
	BIND(brc, st_bind_text(s, 5, d->class_name));
	BIND(brc, st_bind_text(s, 6, d->manufacturer));
	BIND(brc, st_bind_text(s, 7, d->provider));
	BIND(brc, st_bind_text(s, 8, d->model));
	BIND(brc, st_bind_text(s, 9, d->company));
	BIND(brc, sqlite3_bind_int64(s, 10, d->whql_driver_id));
	rc = brc != SQLITE_OK ? st_sql_err(st, e, brc, "bind driver") :
		st_step_done(st, s, "insert driver", e);
	st_stmt_done(s);
	if (rc < 0)
		return rc;
	driver = sqlite3_last_insert_rowid(st->db);
	for (size_t i = 0; i < d->n_scores && rc == 0; i++)
		rc = put_driver_child(st, SQL_SCORE_INSERT, driver, d->scores[i].os, d->scores[i].score, e);
	for (size_t i = 0; i < d->n_distribution_chids && rc == 0; i++)
		rc = put_driver_child(st, SQL_DIST_CHID_INSERT, driver, d->distribution_chids[i], 0, e);
	for (size_t i = 0; i < d->n_target_chids && rc == 0; i++)
		rc = put_driver_child(st, SQL_TARGET_CHID_INSERT, driver, d->target_chids[i], 0, e);
	return rc;
}

static int put_children(struct storage *st, int64_t id, const struct wsus_update *u, struct err *e)
{
	int rc = put_fragments(st, id, u, e);

	if (rc == 0)
		rc = put_files(st, id, u, e);
	if (rc == 0)
		rc = put_relationships(st, id, u, e);
	for (size_t i = 0; i < u->n_drivers && rc == 0; i++)
		rc = put_driver(st, id, &u->drivers[i], e);
	return rc;
}

static const char SQL_FILE_MU_URL[] =
	"UPDATE file SET mu_url = ?2 WHERE sha1 = ?1 AND mu_url IS NOT ?2";

/* MUUrl travels beside the document (GetUpdateData fileUrls), not in it, so an
 * unchanged document may still bring a new one. Not a catalogue change. */
static int refresh_mu_urls(struct storage *st, const struct wsus_update *u, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	for (size_t i = 0; i < u->n_files && rc == 0; i++) {
		if (u->files[i].mu_url == NULL)
			continue;
		rc = st_prepare(st, SQL_FILE_MU_URL, &s, e);
		if (rc < 0)
			break;
		sqlite3_bind_blob(s, 1, u->files[i].sha1, WSUS_SHA1_LEN, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, u->files[i].mu_url, -1, SQLITE_TRANSIENT);
		rc = st_step_done(st, s, "update MUUrl", e);
		st_stmt_done(s);
	}
	return rc;
}

int storage_revision_put(struct storage *st, const struct wsus_update *u,
			 const struct storage_origin *origin, int64_t *revision_id, int *changed,
			 struct err *e)
{
	char uid[WSUS_GUID_LEN] = "";
	uint8_t digest[WSUS_SHA1_LEN];
	struct stored_rev old = { 0 };
	int64_t id = 0;
	int rc, found, is_changed = 0;

	rc = validate(u, uid, e);
	if (rc < 0)
		return rc;
	wsus_sha1(u->xml, u->xml_len, digest);
	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = find_revision(st, uid, u->revision, &old, &found, e);
	if (rc < 0)
		goto fail;
	id = old.id;
	if (found && memcmp(old.sha1, digest, sizeof(digest)) == 0) {
		rc = refresh_mu_urls(st, u, e);
	} else {
		is_changed = 1;
		rc = found ? refuse_local_replacement(&old, origin, e) : 0;
		if (rc == 0)
			rc = write_revision_row(st, u, uid, digest, found, origin, &id, e);
		if (rc == 0 && found)
			rc = delete_dependents(st, id, e);
		if (rc == 0)
			rc = put_children(st, id, u, e);
	}
	if (rc < 0)
		goto fail;
	rc = st_tx_commit(st, e);
	if (rc < 0)
		goto fail_committed;
	if (revision_id != NULL)
		*revision_id = id;
	if (changed != NULL)
		*changed = is_changed;
	return 0;
fail:
	st_tx_rollback(st);
fail_committed:
	err_prefix(e, "revision %s/%d", uid, u->revision);
	return rc;
}

/*---- IsLeaf ----*/

/* One set-based statement: each row probes prereq_update twice at most. */
static const char SQL_LEAF_REFRESH[] =
	"UPDATE revision SET"
	" is_leaf = NOT EXISTS (SELECT 1 FROM prereq p WHERE p.update_id = revision.update_id),"
	" leaf_changed_at = ?1"
	" WHERE is_leaf IS NOT (NOT EXISTS (SELECT 1 FROM prereq p WHERE p.update_id = revision.update_id))";

int storage_leaf_refresh(struct storage *st, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc, flipped = 0;

	rc = st_tx_begin(st, e);
	if (rc < 0)
		return rc;
	rc = st_prepare(st, SQL_LEAF_REFRESH, &s, e);
	if (rc == 0) {
		sqlite3_bind_int64(s, 1, wsus_now_ms());
		rc = st_step_done(st, s, "refresh IsLeaf", e);
		flipped = sqlite3_changes(st->db);
		st_stmt_done(s);
	}
	if (rc == 0)
		rc = st_tx_commit(st, e);
	else
		st_tx_rollback(st);
	if (rc == 0 && flipped > 0)
		log_info("storage", "IsLeaf refreshed flipped=%d", flipped);
	return rc;
}

/*---- Reading ----*/

#define REVISION_ROW_SELECT \
	"SELECT r.revision_id, r.update_id, r.revision_number, r.update_type, r.category_type," \
	" r.title, r.kb_article, r.is_leaf," \
	" r.revision_number = (SELECT max(x.revision_number) FROM revision x WHERE x.update_id = r.update_id)," \
	" r.hidden," \
	" (SELECT count(*) FROM revision_file rf WHERE rf.revision_id = r.revision_id)," \
	" (SELECT coalesce(sum(f.size), 0) FROM revision_file rf JOIN file f ON f.sha1 = rf.sha1" \
	"   WHERE rf.revision_id = r.revision_id)," \
	" (SELECT min(p.update_id) FROM prereq p WHERE p.revision_id = r.revision_id AND p.is_category = 1" \
	"   AND EXISTS (SELECT 1 FROM revision c WHERE c.update_id = p.update_id" \
	"               AND c.category_type = 'UpdateClassification'))," \
	" r.origin_upstream" \
	" FROM revision r"

static const char SQL_REV_GET[] = REVISION_ROW_SELECT
	" WHERE r.update_id = ?1 AND (?2 < 0 OR r.revision_number = ?2)"
	" ORDER BY r.revision_number DESC LIMIT 1";
static const char SQL_REV_ALL[] = REVISION_ROW_SELECT " ORDER BY r.update_id, r.revision_number";

static void fill_row(sqlite3_stmt *s, struct storage_revision_row *row)
{
	memset(row, 0, sizeof(*row));
	row->revision_id = sqlite3_column_int64(s, 0);
	st_column_copy(s, 1, row->update_id, sizeof(row->update_id));
	row->revision = sqlite3_column_int(s, 2);
	row->type = wsus_update_type_parse((const char *)sqlite3_column_text(s, 3));
	st_column_copy(s, 4, row->category_type, sizeof(row->category_type));
	st_column_copy(s, 5, row->title, sizeof(row->title));
	st_column_copy(s, 6, row->kb_article, sizeof(row->kb_article));
	row->is_leaf = sqlite3_column_int(s, 7);
	row->is_latest = sqlite3_column_int(s, 8);
	row->declined = sqlite3_column_int(s, 9);
	row->n_files = sqlite3_column_int(s, 10);
	row->total_size = sqlite3_column_int64(s, 11);
	st_column_copy(s, 12, row->classification, sizeof(row->classification));
	if (sqlite3_column_type(s, 13) == SQLITE_NULL)
		snprintf(row->origin, sizeof(row->origin), "local import");
	else
		st_column_copy(s, 13, row->origin, sizeof(row->origin));
}

int storage_revision_foreach(struct storage *st,
			     int (*fn)(const struct storage_revision_row *row, void *ctx),
			     void *ctx, struct err *e)
{
	struct storage_revision_row row;
	sqlite3_stmt *s = NULL;
	int rc;

	/* Not cached: fn may call back into storage (design note 7). */
	rc = sqlite3_prepare_v2(st->db, SQL_REV_ALL, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return st_sql_err(st, e, rc, "list revisions");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int r;

		fill_row(s, &row);
		r = fn(&row, ctx);
		if (r != 0) {
			sqlite3_finalize(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list revisions");
	sqlite3_finalize(s);
	return rc;
}

static int no_revision(struct err *e, const char *uid, int revision)
{
	if (revision < 0)
		return err_set(e, -ENOENT, "update %s is not in the catalogue", uid);
	return err_set(e, -ENOENT, "update %s revision %d is not in the catalogue", uid, revision);
}

int storage_revision_get(struct storage *st, const char *update_id, int revision,
			 struct storage_revision_row *out, struct err *e)
{
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	rc = st_prepare(st, SQL_REV_GET, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		fill_row(s, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? no_revision(e, uid, revision) :
			st_sql_err(st, e, rc, "read revision");
	}
	st_stmt_done(s);
	return rc;
}

/* Copy a BLOB column into a fresh NUL-terminated buffer. */
static int copy_blob(sqlite3_stmt *s, int col, char **out, size_t *len, struct err *e)
{
	const void *p = sqlite3_column_blob(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	char *buf = malloc(n + 1);

	if (buf == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	if (n)
		memcpy(buf, p, n);
	buf[n] = '\0';
	*out = buf;
	if (len != NULL)
		*len = n;
	return 0;
}

static const char SQL_REV_XML[] =
	"SELECT xml FROM revision WHERE update_id = ?1 AND (?2 < 0 OR revision_number = ?2)"
	" ORDER BY revision_number DESC LIMIT 1";

int storage_revision_xml(struct storage *st, const char *update_id, int revision, char **xml,
			 size_t *len, struct err *e)
{
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	rc = st_prepare(st, SQL_REV_XML, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = copy_blob(s, 0, xml, len, e);
	else
		rc = rc == SQLITE_DONE ? no_revision(e, uid, revision) :
			st_sql_err(st, e, rc, "read revision document");
	st_stmt_done(s);
	return rc;
}

/* The revision a (update_id, revision) pair designates: the exact one, or the
 * latest when revision < 0. */
#define TARGET_REVISION \
	"(SELECT revision_id FROM revision WHERE update_id = ?1 AND (?2 < 0 OR revision_number = ?2)" \
	" ORDER BY revision_number DESC LIMIT 1)"

static const char SQL_REV_ID[] = "SELECT " TARGET_REVISION;
static const char SQL_FRAG_GET[] =
	"SELECT xml FROM fragment WHERE revision_id = " TARGET_REVISION " AND type = ?3 AND locale = ?4";

static int revision_exists(struct storage *st, const char *uid, int revision, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_REV_ID, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_type(s, 0) == SQLITE_NULL ? no_revision(e, uid, revision) : 0;
	else
		rc = st_sql_err(st, e, rc, "look up revision");
	st_stmt_done(s);
	return rc;
}

int storage_fragment_get(struct storage *st, const char *update_id, int revision,
			 enum wsus_fragment_type type, const char *locale, char **xml, size_t *len,
			 struct err *e)
{
	int localized = type == WSUS_FRAG_LOCALIZED || type == WSUS_FRAG_EULA;
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	if ((unsigned)type > WSUS_FRAG_EULA)
		return err_set(e, -EINVAL, "unknown fragment type %d", (int)type);
	if (localized && (locale == NULL || locale[0] == '\0'))
		return err_set(e, -EINVAL, "a %s fragment needs a locale", wsus_fragment_type_name(type));
	rc = st_prepare(st, SQL_FRAG_GET, &s, e);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	sqlite3_bind_int(s, 3, (int)type);
	sqlite3_bind_text(s, 4, localized ? locale : "", -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = copy_blob(s, 0, xml, len, e);
		st_stmt_done(s);
		return rc;
	}
	rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "read fragment");
	st_stmt_done(s);
	if (rc == 0)
		rc = revision_exists(st, uid, revision, e);
	if (rc < 0)
		return rc;
	return err_set(e, -ENOENT, "update %s has no %s fragment%s%s", uid,
		       wsus_fragment_type_name(type), localized ? " for locale " : "",
		       localized ? locale : "");
}

static const char SQL_REV_FILES[] =
	"SELECT f.sha1, f.sha256, f.size, f.file_name, f.patching_type, f.modified, f.is_encrypted,"
	" f.mu_url, f.state, rf.is_eula, rf.language"
	" FROM revision_file rf JOIN file f ON f.sha1 = rf.sha1"
	" WHERE rf.revision_id = " TARGET_REVISION " ORDER BY rf.ord";

/* One row of SQL_REV_FILES, copied out of SQLite (so that the cached
 * statement is reset before any callback runs, design note 7 of storage.c). */
struct file_row {
	struct wsus_file f;
	int present;
};

static char *dup_column(sqlite3_stmt *s, int col, int *failed)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	char *d;

	if (t == NULL)
		return NULL;
	d = strdup(t);
	if (d == NULL)
		*failed = 1;
	return d;
}

static void file_row_clear(struct file_row *r)
{
	free(r->f.file_name);
	free(r->f.patching_type);
	free(r->f.modified);
	free(r->f.mu_url);
	free(r->f.language);
}

static int fill_file(sqlite3_stmt *s, struct file_row *r)
{
	struct wsus_file *f = &r->f;
	const char *state = (const char *)sqlite3_column_text(s, 8);
	int failed = 0;

	memset(r, 0, sizeof(*r));
	if (sqlite3_column_bytes(s, 0) == WSUS_SHA1_LEN)
		memcpy(f->sha1, sqlite3_column_blob(s, 0), WSUS_SHA1_LEN);
	if (sqlite3_column_bytes(s, 1) == WSUS_SHA256_LEN) {
		memcpy(f->sha256, sqlite3_column_blob(s, 1), WSUS_SHA256_LEN);
		f->has_sha256 = 1;
	}
	f->size = sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 2);
	f->file_name = dup_column(s, 3, &failed);
	f->patching_type = dup_column(s, 4, &failed);
	f->modified = dup_column(s, 5, &failed);
	f->is_encrypted = sqlite3_column_int(s, 6);
	f->mu_url = dup_column(s, 7, &failed);
	f->is_eula = sqlite3_column_int(s, 9);
	f->language = dup_column(s, 10, &failed);
	r->present = state != NULL && strcmp(state, "present") == 0;
	return failed ? -ENOMEM : 0;
}

static int read_file_rows(struct storage *st, const char *uid, int revision, struct file_row **out, size_t *n,
			  struct err *e)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = st_prepare(st, SQL_REV_FILES, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, revision);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct file_row *p = realloc(*out, ncap * sizeof(*p));

			if (p == NULL) {
				rc = -ENOMEM;
				break;
			}
			*out = p;
			cap = ncap;
		}
		if (fill_file(s, &(*out)[(*n)++]) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	else
		rc = rc == SQLITE_DONE ? 0 : st_sql_err(st, e, rc, "list files");
	st_stmt_done(s);
	return rc;
}

int storage_revision_files(struct storage *st, const char *update_id, int revision,
			   int (*fn)(const struct wsus_file *f, int present, void *ctx),
			   void *ctx, struct err *e)
{
	char uid[WSUS_GUID_LEN];
	struct file_row *rows = NULL;
	size_t n = 0;
	int rc;

	if (check_guid(update_id, uid, "UpdateID", e) < 0)
		return -EINVAL;
	rc = revision_exists(st, uid, revision, e);
	if (rc == 0)
		rc = read_file_rows(st, uid, revision, &rows, &n, e);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fn(&rows[i].f, rows[i].present, ctx);
	for (size_t i = 0; i < n; i++)
		file_row_clear(&rows[i]);
	free(rows);
	return rc;
}

/*---- Re-deriving fragments (a schema migration) ----*/

/* Set once by the program before any storage_open; NULL in programs that
 * never open a database older than the derivation they link. */
static storage_doc_parser doc_parser;

void storage_set_doc_parser(storage_doc_parser fn)
{
	doc_parser = fn;
}

/* Keyset walk: one revision at a time, no cursor held while writing. */
static const char SQL_REV_NEXT_DOC[] =
	"SELECT revision_id, xml FROM revision WHERE revision_id > ?1 ORDER BY revision_id LIMIT 1";
static const char SQL_REV_ANY[] = "SELECT count(*) FROM (SELECT 1 FROM revision LIMIT 1)";

static int next_doc(struct storage *st, int64_t after, int64_t *id, char **xml, size_t *len,
		    struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = st_prepare(st, SQL_REV_NEXT_DOC, &s, e);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, after);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		rc = copy_blob(s, 1, xml, len, e);
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : st_sql_err(st, e, rc, "read stored document");
	}
	st_stmt_done(s);
	return rc;
}

/* A document that no longer parses keeps the fragments it had: losing them
 * would take the revision away from clients. */
static int rederive_one(struct storage *st, int64_t id, const char *xml, size_t len, int *kept,
			struct err *e)
{
	struct wsus_update *u = NULL;
	struct err pe = { 0 };
	char uid[WSUS_GUID_LEN];
	sqlite3_stmt *s = NULL;
	int rc = doc_parser(xml, len, &u, &pe);

	if (rc == 0)
		rc = validate(u, uid, &pe);
	if (rc < 0) {
		log_warn("storage", "fragments kept as they were revision_id=%lld: %s", (long long)id, pe.msg);
		(*kept)++;
		wsus_update_free(u);
		return 0;
	}
	rc = st_prepare(st, SQL_DEPENDENTS[0], &s, e);
	if (rc == 0) {
		sqlite3_bind_int64(s, 1, id);
		rc = st_step_done(st, s, "delete old fragments", e);
		st_stmt_done(s);
	}
	if (rc == 0)
		rc = put_fragments(st, id, u, e);
	wsus_update_free(u);
	return rc;
}

int st_fragments_rederive(struct storage *st, struct err *e)
{
	int64_t any = 0, id = 0, n = 0;
	int kept = 0, rc;

	rc = st_query_int64(st, SQL_REV_ANY, &any, e);
	if (rc < 0 || any == 0)
		return rc;
	if (doc_parser == NULL)
		return err_set(e, -ENOTSUP, "the stored fragments must be derived again from the documents "
			       "and this program cannot parse documents");
	for (;;) {
		char *xml = NULL;
		size_t len = 0;

		rc = next_doc(st, id, &id, &xml, &len, e);
		if (rc == -ENOENT)
			break;
		if (rc == 0)
			rc = rederive_one(st, id, xml, len, &kept, e);
		free(xml);
		if (rc < 0)
			return rc;
		n++;
	}
	log_info("storage", "fragments derived again from the stored documents revisions=%lld kept=%d",
		 (long long)(n - kept), kept);
	return 0;
}
