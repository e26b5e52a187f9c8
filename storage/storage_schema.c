/*
 * storage_schema.c -- the database schema as an ordered list of migrations.
 * migrations[i] takes user_version i to i+1. Append, never edit a released
 * entry: a database that ran it would not run it again. Nothing here is
 * allocated for the caller.
 *
 * The tables follow the abstract data models of MS-WSUSSS 3.1.1 and MS-WUSP
 * 3.1.1 (one revision table for categories, classifications, detectoids and
 * updates). UpdateIDs and GUIDs are stored in canonical lower case; times are
 * Unix milliseconds; digests are raw bytes (BLOB).
 */
#include "storage_int.h"

#include <errno.h>
#include <stdio.h>

/* Version 1: the catalogue, approvals, clients, downstream servers, content
 * bookkeeping and server state. */
static const char MIGRATION_1[] =
	/* One row per committed catalogue change set (design note 3). A
	 * GetRevisionIdList/GetDeployments anchor names one of these. */
	"CREATE TABLE catalog_change ("
	"  anchor INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time   INTEGER NOT NULL,"
	"  kind   TEXT NOT NULL"           /* revision | deployment | decline | mixed */
	");"

	"CREATE TABLE revision ("
	"  revision_id       INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: clients cache it */
	"  update_id         TEXT NOT NULL CHECK (length(update_id) = 36),"
	"  revision_number   INTEGER NOT NULL CHECK (revision_number >= 0),"
	"  update_type       TEXT NOT NULL CHECK (update_type IN ('Software','Driver','Category','Detectoid')),"
	"  category_type     TEXT,"        /* Company | ProductFamily | Product | UpdateClassification */
	"  title             TEXT,"
	"  description       TEXT,"
	"  kb_article        TEXT,"
	"  eula_id           TEXT,"
	"  default_language  TEXT,"
	"  creation_date     TEXT,"
	"  publication_state TEXT,"
	"  handler           TEXT,"
	"  secured_fragment  TEXT,"        /* FileUrl | FileDecryption: drives decryption-data sync */
	"  is_mandatory      INTEGER NOT NULL DEFAULT 0,"
	"  explicitly_deployable INTEGER NOT NULL DEFAULT 0,"
	"  max_download_size INTEGER,"
	"  min_download_size INTEGER,"
	"  is_leaf           INTEGER NOT NULL DEFAULT 1,"
	"  leaf_changed_at   INTEGER NOT NULL,"
	"  hidden            INTEGER NOT NULL DEFAULT 0,"  /* declined (MS-WSUSSS Hidden) */
	"  xml               BLOB NOT NULL,"
	"  xml_sha1          BLOB NOT NULL CHECK (length(xml_sha1) = 20),"
	"  created_at        INTEGER NOT NULL,"
	"  modified_at       INTEGER NOT NULL,"
	"  anchor            INTEGER NOT NULL REFERENCES catalog_change(anchor),"
	"  origin_upstream   TEXT,"        /* NULL = imported locally */
	"  origin_cert_sha256 TEXT,"
	"  origin_source     TEXT,"
	"  origin_time       INTEGER NOT NULL,"
	"  UNIQUE (update_id, revision_number)"
	");"
	"CREATE INDEX revision_anchor ON revision(anchor);"
	"CREATE INDEX revision_category ON revision(category_type) WHERE category_type IS NOT NULL;"

	/* Derived once at sync/import time; answering a client is a lookup. */
	"CREATE TABLE fragment ("
	"  revision_id INTEGER NOT NULL REFERENCES revision(revision_id) ON DELETE CASCADE,"
	"  type        INTEGER NOT NULL CHECK (type BETWEEN 0 AND 3)," /* enum wsus_fragment_type */
	"  locale      TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"       /* '' for Core and Extended */
	"  xml         BLOB NOT NULL,"
	"  PRIMARY KEY (revision_id, type, locale)"
	");"

	/* One row per payload, shared by every revision that lists it. */
	"CREATE TABLE file ("
	"  sha1          BLOB PRIMARY KEY CHECK (length(sha1) = 20),"
	"  sha256        BLOB CHECK (sha256 IS NULL OR length(sha256) = 32),"
	"  size          INTEGER,"
	"  file_name     TEXT,"
	"  patching_type TEXT,"
	"  modified      TEXT,"
	"  is_encrypted  INTEGER NOT NULL DEFAULT 0,"
	"  decryption_key BLOB,"
	"  mu_url        TEXT,"
	"  state         TEXT NOT NULL DEFAULT 'missing' CHECK (state IN ('missing','present','quarantined')),"
	"  store_ext     TEXT NOT NULL DEFAULT '',"  /* extension it is stored under, when present */
	"  state_changed_at INTEGER"
	");"
	"CREATE INDEX file_state ON file(state);"

	"CREATE TABLE revision_file ("
	"  revision_id INTEGER NOT NULL REFERENCES revision(revision_id) ON DELETE CASCADE,"
	"  ord         INTEGER NOT NULL,"
	"  sha1        BLOB NOT NULL REFERENCES file(sha1),"
	"  is_eula     INTEGER NOT NULL DEFAULT 0,"
	"  language    TEXT,"
	"  PRIMARY KEY (revision_id, ord)"
	");"
	"CREATE INDEX revision_file_sha1 ON revision_file(sha1);"

	/* CNF: rows with the same clause_id form one OR-clause. update_id names an
	 * update (its latest revision), not a revision. */
	"CREATE TABLE prereq ("
	"  revision_id INTEGER NOT NULL REFERENCES revision(revision_id) ON DELETE CASCADE,"
	"  clause_id   INTEGER NOT NULL,"
	"  update_id   TEXT NOT NULL,"
	"  is_category INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX prereq_revision ON prereq(revision_id);"
	"CREATE INDEX prereq_update ON prereq(update_id);"   /* IsLeaf and dependency walks */

	/* Bundled children may arrive after their parent: resolved by a join on
	 * (update_id, revision_number) when needed, never stored as an id. */
	"CREATE TABLE bundle ("
	"  revision_id INTEGER NOT NULL REFERENCES revision(revision_id) ON DELETE CASCADE,"
	"  clause_id   INTEGER NOT NULL,"
	"  bundled_update_id TEXT NOT NULL,"
	"  bundled_revision_number INTEGER NOT NULL"
	");"
	"CREATE INDEX bundle_revision ON bundle(revision_id);"
	"CREATE INDEX bundle_child ON bundle(bundled_update_id, bundled_revision_number);"

	"CREATE TABLE supersedes ("
	"  revision_id INTEGER NOT NULL REFERENCES revision(revision_id) ON DELETE CASCADE,"
	"  superseded_update_id TEXT NOT NULL"
	");"
	"CREATE INDEX supersedes_revision ON supersedes(revision_id);"
	"CREATE INDEX supersedes_update ON supersedes(superseded_update_id);"

	"CREATE TABLE language ("
	"  revision_id INTEGER NOT NULL REFERENCES revision(revision_id) ON DELETE CASCADE,"
	"  lang        TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (revision_id, lang)"
	");"

	"CREATE TABLE driver ("
	"  driver_id    INTEGER PRIMARY KEY,"
	"  revision_id  INTEGER NOT NULL REFERENCES revision(revision_id) ON DELETE CASCADE,"
	"  hardware_id  TEXT NOT NULL COLLATE NOCASE,"
	"  driver_ver_date TEXT,"
	"  driver_ver_version TEXT,"
	"  class        TEXT COLLATE NOCASE,"
	"  manufacturer TEXT,"
	"  provider     TEXT,"
	"  model        TEXT,"
	"  company      TEXT,"
	"  whql_driver_id INTEGER"
	");"
	"CREATE INDEX driver_revision ON driver(revision_id);"
	"CREATE INDEX driver_hardware ON driver(hardware_id);"
	"CREATE TABLE driver_feature_score ("
	"  driver_id INTEGER NOT NULL REFERENCES driver(driver_id) ON DELETE CASCADE,"
	"  os        TEXT NOT NULL COLLATE NOCASE,"  /* arch.major.minor */
	"  score     INTEGER NOT NULL CHECK (score BETWEEN 0 AND 255)"
	");"
	"CREATE INDEX driver_feature_score_driver ON driver_feature_score(driver_id);"
	"CREATE TABLE driver_distribution_chid ("
	"  driver_id INTEGER NOT NULL REFERENCES driver(driver_id) ON DELETE CASCADE,"
	"  chid      TEXT NOT NULL"
	");"
	"CREATE INDEX driver_distribution_chid_driver ON driver_distribution_chid(driver_id);"
	"CREATE TABLE driver_target_chid ("
	"  driver_id INTEGER NOT NULL REFERENCES driver(driver_id) ON DELETE CASCADE,"
	"  chid      TEXT NOT NULL"
	");"
	"CREATE INDEX driver_target_chid_driver ON driver_target_chid(driver_id);"

	"CREATE TABLE eula ("
	"  eula_id     TEXT PRIMARY KEY,"
	"  accepted    INTEGER NOT NULL DEFAULT 0,"
	"  accepted_at INTEGER"
	");"

	"CREATE TABLE target_group ("
	"  group_id   TEXT PRIMARY KEY CHECK (length(group_id) = 36),"
	"  name       TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  parent_id  TEXT REFERENCES target_group(group_id),"
	"  builtin    INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL"
	");"
	"INSERT INTO target_group(group_id, name, parent_id, builtin, created_at) VALUES"
	"  ('a0a08746-4dbe-4a37-9adf-9e7652c0b421', 'All Computers', NULL, 1, 0),"
	"  ('b73ca6ed-5727-47f3-84de-015e03f6a88a', 'Unassigned Computers',"
	"   'a0a08746-4dbe-4a37-9adf-9e7652c0b421', 1, 0);"

	/* An approval names an exact revision by (update_id, revision_number):
	 * a replica may receive a deployment before the revision it names. Dead
	 * rows are kept so that downstream servers learn of them (DeadDeployments). */
	"CREATE TABLE deployment ("
	"  id               INTEGER PRIMARY KEY AUTOINCREMENT," /* the int Deployment/ID clients see */
	"  deployment_id    TEXT NOT NULL UNIQUE CHECK (length(deployment_id) = 36),"
	"  update_id        TEXT NOT NULL,"
	"  revision_number  INTEGER NOT NULL,"
	"  group_id         TEXT NOT NULL REFERENCES target_group(group_id) ON DELETE CASCADE,"
	"  action           TEXT NOT NULL CHECK (action IN ('install','uninstall','evaluate','block')),"
	"  deadline         TEXT,"
	"  download_priority INTEGER NOT NULL DEFAULT 2 CHECK (download_priority BETWEEN 1 AND 3),"
	"  is_assigned      INTEGER NOT NULL DEFAULT 1,"
	"  go_live_time     TEXT,"
	"  last_change_time INTEGER NOT NULL,"
	"  admin_name       TEXT,"
	"  dead             INTEGER NOT NULL DEFAULT 0,"
	"  anchor           INTEGER NOT NULL REFERENCES catalog_change(anchor)"
	");"
	"CREATE UNIQUE INDEX deployment_live ON deployment(group_id, update_id) WHERE dead = 0;"
	"CREATE INDEX deployment_group ON deployment(group_id);"  /* dead rows too: group cascade */
	"CREATE INDEX deployment_update ON deployment(update_id, revision_number);"
	"CREATE INDEX deployment_anchor ON deployment(anchor);"

	/* Downstream servers (MS-WSUSSS DSS table); summary = the rollup counters. */
	"CREATE TABLE dss ("
	"  server_id        TEXT PRIMARY KEY,"
	"  fqdn             TEXT,"
	"  parent_server_id TEXT,"
	"  version          TEXT,"
	"  is_replica       INTEGER NOT NULL DEFAULT 0,"
	"  cert_sha256      TEXT,"
	"  last_sync_time   INTEGER,"
	"  last_rollup_time INTEGER,"
	"  summary          TEXT"
	");"

	/* Client computers: RegisterComputer fields plus sync/report bookkeeping.
	 * parent_server_id is set for computers rolled up from a downstream server. */
	"CREATE TABLE computer ("
	"  computer_id      TEXT PRIMARY KEY,"
	"  dns_name         TEXT,"
	"  group_id         TEXT REFERENCES target_group(group_id) ON DELETE SET NULL,"
	"  requested_groups TEXT,"
	"  parent_server_id TEXT REFERENCES dss(server_id) ON DELETE CASCADE,"
	"  ip_address       TEXT,"
	"  os_major INTEGER, os_minor INTEGER, os_build INTEGER,"
	"  os_sp_major INTEGER, os_sp_minor INTEGER,"
	"  os_locale TEXT, os_description TEXT,"
	"  suite_mask INTEGER, old_product_type INTEGER, new_product_type INTEGER,"
	"  system_metrics INTEGER, processor_arch TEXT,"
	"  manufacturer TEXT, model TEXT,"
	"  bios_name TEXT, bios_version TEXT, bios_release_date TEXT,"
	"  client_version TEXT, oem TEXT, device_type TEXT, firmware_version TEXT, mobile_operator TEXT,"
	"  protocol_version TEXT,"
	"  registered_at    INTEGER,"
	"  last_sync_time   INTEGER,"
	"  last_sync_result INTEGER NOT NULL DEFAULT 0,"  /* 0 unknown, 1 succeeded, 2 failed */
	"  last_report_time INTEGER,"
	"  last_status_time INTEGER"
	");"
	"CREATE INDEX computer_group ON computer(group_id);"
	"CREATE INDEX computer_parent ON computer(parent_server_id);"

	/* MS-WSUSSS Update Status table: 0 unknown .. 6 installed pending reboot. */
	"CREATE TABLE update_status ("
	"  computer_id TEXT NOT NULL REFERENCES computer(computer_id) ON DELETE CASCADE,"
	"  update_id   TEXT NOT NULL,"
	"  status      INTEGER NOT NULL CHECK (status BETWEEN 0 AND 6),"
	"  last_change_time INTEGER NOT NULL,"
	"  PRIMARY KEY (computer_id, update_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX update_status_update ON update_status(update_id);"

	/* ReportEventBatch events; event_instance_id de-duplicates retries. The
	 * table is bounded by the code that inserts (oldest rows pruned). */
	"CREATE TABLE event ("
	"  event_id          INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  event_instance_id TEXT UNIQUE,"
	"  computer_id       TEXT,"
	"  received_at       INTEGER NOT NULL,"
	"  time_at_target    TEXT,"
	"  namespace_id      INTEGER,"
	"  event_code        INTEGER,"     /* EventID */
	"  source_id         INTEGER,"
	"  update_id         TEXT,"
	"  revision_number   INTEGER,"
	"  win32_hresult     INTEGER,"
	"  app_name          TEXT,"
	"  replacement_strings TEXT,"
	"  misc_data         TEXT"
	");"
	"CREATE INDEX event_computer ON event(computer_id);"
	"CREATE INDEX event_received ON event(received_at);"

	"CREATE TABLE sync_history ("
	"  sync_id      INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind         TEXT NOT NULL,"    /* sync | import */
	"  started_at   INTEGER NOT NULL,"
	"  finished_at  INTEGER,"
	"  result       TEXT NOT NULL DEFAULT 'running' CHECK (result IN ('running','succeeded','failed')),"
	"  upstream     TEXT,"
	"  cert_sha256  TEXT,"
	"  pin_verdict  TEXT,"
	"  new_revisions INTEGER NOT NULL DEFAULT 0,"
	"  changed_revisions INTEGER NOT NULL DEFAULT 0,"
	"  error        TEXT"
	");"
	"CREATE INDEX sync_history_started ON sync_history(started_at);"

	"CREATE TABLE state ("
	"  key        TEXT PRIMARY KEY,"
	"  value      TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"

	"CREATE TABLE secret ("
	"  name       TEXT PRIMARY KEY,"
	"  value      BLOB NOT NULL CHECK (length(value) = 32),"
	"  created_at INTEGER NOT NULL"
	");"

	"CREATE TABLE server_identity ("
	"  id         INTEGER PRIMARY KEY CHECK (id = 1),"
	"  server_id  TEXT NOT NULL CHECK (length(server_id) = 36),"
	"  created_at INTEGER NOT NULL"
	");"

	/* Payloads that failed a check; path is where the bytes were moved. */
	"CREATE TABLE quarantine ("
	"  quarantine_id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  sha1   BLOB NOT NULL,"
	"  path   TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  time   INTEGER NOT NULL"
	");"
	"CREATE INDEX quarantine_sha1 ON quarantine(sha1);"

	/* The latest revision of every update (GetRevisionIdList, SyncUpdates send one). */
	"CREATE VIEW revision_latest AS"
	"  SELECT r.* FROM revision r"
	"  WHERE r.revision_number = (SELECT max(x.revision_number) FROM revision x"
	"                             WHERE x.update_id = r.update_id);"

	/* Classification is resolved when read, not when stored: the category may
	 * arrive after the update that names it. */
	"CREATE VIEW revision_classification AS"
	"  SELECT p.revision_id, min(p.update_id) AS classification FROM prereq p"
	"  WHERE p.is_category = 1 AND EXISTS (SELECT 1 FROM revision c"
	"        WHERE c.update_id = p.update_id AND c.category_type = 'UpdateClassification')"
	"  GROUP BY p.revision_id;";

/* Version 2: the upstream role (MS-WSUSSS USS). What we learn about our
 * downstream servers when they authorise and sync, and the per-computer
 * rollup state of RollupComputers / RollupComputerStatus. */
static const char MIGRATION_2[] =
	"ALTER TABLE dss ADD COLUMN address TEXT;"            /* peer address at the last authorisation */
	"ALTER TABLE dss ADD COLUMN first_seen INTEGER;"
	"ALTER TABLE dss ADD COLUMN last_auth_time INTEGER;"  /* last GetAuthorizationCookie */
	"ALTER TABLE dss ADD COLUMN last_seen INTEGER;"       /* last request with a valid cookie */
	"ALTER TABLE dss ADD COLUMN protocol_version TEXT;"   /* announced in GetCookie */

	"ALTER TABLE computer ADD COLUMN last_rollup_number INTEGER;"       /* LastReceivedRollupNumber */
	"ALTER TABLE computer ADD COLUMN effective_last_detection INTEGER;"
	"ALTER TABLE computer ADD COLUMN last_reboot_time INTEGER;"
	"ALTER TABLE computer ADD COLUMN last_inventory_time INTEGER;"
	"ALTER TABLE computer ADD COLUMN os_family TEXT;"
	"ALTER TABLE computer ADD COLUMN target_group_ids TEXT;"  /* a downstream's GroupIDs, comma-separated */

	/* Install counts a downstream rolls up (deltas, summed here), per OS. */
	"CREATE TABLE dss_activity ("
	"  server_id       TEXT NOT NULL REFERENCES dss(server_id) ON DELETE CASCADE,"
	"  update_id       TEXT NOT NULL,"
	"  revision_number INTEGER NOT NULL,"
	"  os              TEXT NOT NULL,"   /* major.minor.build.spmajor.spminor/locale/arch/... */
	"  install_success INTEGER NOT NULL DEFAULT 0,"
	"  install_failure INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (server_id, update_id, revision_number, os)"
	") WITHOUT ROWID;"
	"CREATE INDEX dss_parent ON dss(parent_server_id);";

/* Version 3: the downstream role (sync). What a sync fetched waits in
 * sync_stage, which no client or downstream query reads, until one
 * transaction publishes it (storage_sync.c); deployments record which
 * upstream and certificate delivered them, as revisions already do. */
static const char MIGRATION_3[] =
	"CREATE TABLE sync_stage ("
	"  update_id       TEXT NOT NULL CHECK (length(update_id) = 36),"
	"  revision_number INTEGER NOT NULL CHECK (revision_number >= 0),"
	"  upstream        TEXT NOT NULL,"   /* staging belongs to one upstream URL */
	"  list            TEXT NOT NULL,"   /* config | updates | deployments */
	"  xml             BLOB NOT NULL,"   /* the decoded document, UTF-8 */
	"  mu_urls         TEXT,"            /* '<sha1 hex> <url>' lines from fileUrls */
	"  needs_keys      INTEGER NOT NULL DEFAULT 0,"
	"  keys            TEXT,"            /* '<sha1 hex> <key base64>' lines, NULL until fetched */
	"  cert_sha256     TEXT,"
	"  fetched_at      INTEGER NOT NULL,"
	"  PRIMARY KEY (update_id, revision_number)"
	");"
	"ALTER TABLE deployment ADD COLUMN origin_upstream TEXT;"     /* NULL = approved here */
	"ALTER TABLE deployment ADD COLUMN origin_cert_sha256 TEXT;"
	"ALTER TABLE deployment ADD COLUMN origin_time INTEGER;"
	"CREATE INDEX revision_origin ON revision(origin_upstream, origin_cert_sha256);";

/* Version 4: bounded client reports. Each event carries an estimate of the
 * bytes it occupies (row and index entries, storage_report.c); a trigger
 * pair keeps their sum in event_store, the number the store ceiling is
 * checked against, whatever deletes events. event_usage counts what each
 * computer added per UTC day (the daily quota; never lowered by pruning)
 * and how many of its batches were refused that day. */
static const char MIGRATION_4[] =
	"ALTER TABLE event ADD COLUMN size INTEGER NOT NULL DEFAULT 0;"
	"UPDATE event SET size = 200 + length(event_instance_id) + 2 * coalesce(length(computer_id), 0)"
	" + coalesce(length(time_at_target), 0) + coalesce(length(update_id), 0)"
	" + coalesce(length(app_name), 0) + coalesce(length(replacement_strings), 0)"
	" + coalesce(length(misc_data), 0);"
	"CREATE TABLE event_store ("
	"  id    INTEGER PRIMARY KEY CHECK (id = 1),"
	"  bytes INTEGER NOT NULL"
	");"
	"INSERT INTO event_store(id, bytes) SELECT 1, coalesce(sum(size), 0) FROM event;"
	"CREATE TRIGGER event_store_add AFTER INSERT ON event BEGIN"
	"  UPDATE event_store SET bytes = bytes + new.size WHERE id = 1;"
	" END;"
	"CREATE TRIGGER event_store_remove AFTER DELETE ON event BEGIN"
	"  UPDATE event_store SET bytes = bytes - old.size WHERE id = 1;"
	" END;"
	"CREATE TABLE event_usage ("
	"  computer_id TEXT NOT NULL,"
	"  day         INTEGER NOT NULL,"   /* UTC days since 1970 */
	"  bytes       INTEGER NOT NULL DEFAULT 0,"
	"  refused     INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (computer_id, day)"
	") WITHOUT ROWID;"
	"INSERT INTO event_usage(computer_id, day, bytes)"
	" SELECT computer_id, received_at / 86400000, sum(size) FROM event"
	" WHERE computer_id IS NOT NULL GROUP BY 1, 2;"
	"CREATE INDEX event_usage_day ON event_usage(day);";

/* Version 5: Core fragments carry Properties without child elements, as a
 * Windows Server WSUS sends them (SupportUrl, KBArticleID... are Extended's).
 * No table changes: every stored fragment is derived again from its stored
 * document, which itself stays byte for byte what the upstream delivered. */

/* Version 6: provenance through the hierarchy and the digest for `verify
 * --metadata` (issue 9.1). origin_chain: every tier a revision passed, the
 * origin first, one "source TAB cert_sha256 TAB time" line each, ours last
 * (storage_origin.c); NULL for rows stored before it (derived from the
 * origin_* columns when read). xml_sha256: SHA-256 of xml when stored.
 * sync_stage.provenance: the chain the upstream gave for a staged document. */
static const char MIGRATION_6[] =
	"ALTER TABLE revision ADD COLUMN origin_chain TEXT;"
	"ALTER TABLE revision ADD COLUMN xml_sha256 BLOB;"
	"ALTER TABLE sync_stage ADD COLUMN provenance TEXT;";

/* 7: every sync run is recorded, failed ones too (issue 11): the payload
 * bytes the run fetched. Its duration is finished_at - started_at, its
 * result and error line were there already. */
static const char MIGRATION_7[] =
	"ALTER TABLE sync_history ADD COLUMN content_bytes INTEGER NOT NULL DEFAULT 0;";

/* Version 8: the reporting rollup we send upstream (MS-WSUSSS 3.2.4.5),
 * incremental. Per computer: what the upstream last accepted (a fingerprint
 * of the ComputerRollupInfo attributes and one of its Details; NULL = never
 * sent, so sent in full), LastSentStatusRollupNumber, and
 * LastStatusRollupTime, the newest LastChangeTime the upstream has (the
 * status watermark, on our clock from migration 9; NULL = the next status rollup is a full one). */
static const char MIGRATION_8[] =
	"ALTER TABLE computer ADD COLUMN rollup_info_sent TEXT;"
	"ALTER TABLE computer ADD COLUMN rollup_details_sent TEXT;"
	"ALTER TABLE computer ADD COLUMN rollup_sent_number INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE computer ADD COLUMN rollup_status_time INTEGER;";

/* Version 9: the rollup watermark on our clock. changed_at is when a
 * status row last changed value here (server time; LastChangeTime stays the
 * client's, which may run behind or arrive out of order), so a state a
 * client reports late still goes with the next incremental rollup. A row
 * that goes (uninstalled, dropped by a snapshot, a downstream's full
 * rollup) makes the computer's next status rollup a full one, which is how
 * the upstream learns of it. */
static const char MIGRATION_9[] =
	"ALTER TABLE update_status ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;"
	"UPDATE update_status SET changed_at = last_change_time;"
	"CREATE TRIGGER update_status_gone AFTER DELETE ON update_status BEGIN"
	"  UPDATE computer SET rollup_status_time = NULL WHERE computer_id = old.computer_id"
	"   AND rollup_status_time IS NOT NULL;"
	" END;";

/* A migration is SQL, a step in C, or both (SQL first), in one transaction. */
struct migration {
	const char *sql;
	int (*step)(struct storage *st, struct err *e);
};

static const struct migration migrations[] = {
	{ MIGRATION_1, NULL },
	{ MIGRATION_2, NULL },
	{ MIGRATION_3, NULL },
	{ MIGRATION_4, NULL },
	{ NULL, st_fragments_rederive },
	{ MIGRATION_6, NULL },
	{ MIGRATION_7, NULL },
	{ MIGRATION_8, NULL },
	{ MIGRATION_9, NULL },
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int st_schema_count(void)
{
	return N_MIGRATIONS;
}

static int read_version(struct storage *st, int64_t *v, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = st_sql_err(st, e, rc, "read schema version");
		sqlite3_finalize(s);
		return rc;
	}
	*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

static int refuse_newer(int64_t v, struct err *e)
{
	return err_set(e, -ENOTSUP,
		       "database schema version %lld is newer than this build supports (%d); "
		       "upgrade wsus-replica or restore a matching backup", (long long)v, N_MIGRATIONS);
}

/* Apply migration index i (version i -> i+1) unless another process did it
 * while we waited for the write lock (design note 5). */
static int apply_one(struct storage *st, int i, struct err *e)
{
	char bump[64];
	int64_t v = 0;
	int rc;

	rc = st_exec(st, "BEGIN IMMEDIATE", e);
	if (rc < 0)
		return rc;
	rc = read_version(st, &v, e);
	if (rc < 0)
		goto fail;
	if (v > N_MIGRATIONS) {
		rc = refuse_newer(v, e);
		goto fail;
	}
	if (v > i) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if (migrations[i].sql != NULL)
		rc = st_exec(st, migrations[i].sql, e);
	if (rc == 0 && migrations[i].step != NULL)
		rc = migrations[i].step(st, e);
	if (rc < 0) {
		err_prefix(e, "migration %d", i + 1);
		goto fail;
	}
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", i + 1);
	rc = st_exec(st, bump, e);
	if (rc == 0)
		rc = st_exec(st, "COMMIT", e);
	if (rc < 0)
		goto fail;
	log_info("storage", "schema migrated version=%d", i + 1);
	return 0;
fail:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int st_schema_refuse_newer(struct storage *st, struct err *e)
{
	int64_t v = 0;
	int rc = read_version(st, &v, e);

	if (rc == 0 && v > N_MIGRATIONS)
		rc = refuse_newer(v, e);
	return rc;
}

int st_schema_migrate(struct storage *st, struct err *e)
{
	int64_t v = 0;
	int rc = read_version(st, &v, e);

	if (rc < 0)
		return rc;
	if (v > N_MIGRATIONS)
		return refuse_newer(v, e);
	if (v < 0)
		return err_set(e, -EIO, "database schema version %lld is invalid", (long long)v);
	for (int i = (int)v; i < N_MIGRATIONS; i++) {
		rc = apply_one(st, i, e);
		if (rc < 0)
			return rc;
	}
	return 0;
}
