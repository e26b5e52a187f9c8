/*
 * config.h -- the wsus-replica configuration: one INI file (inih) loaded into
 * one validated struct wsus_config. Every key has its default in one table in
 * config.c; config/wsus-replica.conf.example documents them all.
 *
 * Loading parses and validates the whole file before returning anything: on
 * error nothing is returned and the message names file, line and key.
 */
#ifndef WSUS_CONFIG_H
#define WSUS_CONFIG_H

#include "common.h"

enum wsus_mode { WSUS_MODE_AUTONOMOUS = 0, WSUS_MODE_REPLICA = 1 };
/* Who may act as a downstream server (server sync, DssAuth, rollups). */
enum wsus_downstream { WSUS_DOWNSTREAM_OPEN = 0, WSUS_DOWNSTREAM_ALLOW_LIST = 1 };

struct wsus_config {
	/* [server] */
	char *srv_listen;             /* "127.0.0.1:8531" (ADDR:PORT, [v6]:PORT) */
	char *srv_tls_cert;           /* PEM path; NULL = generated under DATADIR/tls/ */
	char *srv_tls_key;
	char *srv_content_http_listen;/* plain-HTTP content-only port, NULL = off */
	char *srv_client_cert_allow;  /* comma-separated SHA-256 fingerprints for downstream mTLS; NULL = off */
	int   srv_downstream;         /* enum wsus_downstream: open (default, as WSUS) or allow_list
	                                 (only client_cert_allow; implied when that is set) */
	char *srv_public_url;         /* URL clients/downstreams use to reach us; NULL = https://<listen> */
	int   srv_threads;            /* 0 = one per core */
	int64_t srv_max_body;         /* request body cap, bytes */
	int   srv_max_connections;
	int   srv_timeout;            /* seconds */
	int   srv_max_per_address;    /* connections from one client address, 0 = no limit */
	int   srv_queue_per_worker;   /* requests waiting per worker thread before 503 */
	int   srv_queue_wait_ms;      /* a request queued longer gets 503, 0 = no limit */
	int   srv_retry_after;        /* seconds, the Retry-After of a 503 */
	int   srv_parse_budget_ms;    /* time allowed to read one request */
	int   srv_client_targeting;   /* 1 = honour client-side target group names */
	char *srv_selfupdate_dir;     /* the /SelfUpdate tree (served when it exists) */
	char *srv_shared_secret_file; /* a site of front ends: the secret they share; NULL = alone */
	int   srv_site;               /* 1 when srv_site_secret was read from it */
	uint8_t srv_site_secret[32];  /* 64 hex digits in the file (README: Scaling out) */

	/* [upstream] */
	char *up_url;                 /* https:// only; NULL = no upstream (root server) */
	enum wsus_mode up_mode;       /* replica | autonomous */
	char *up_ca_file;             /* CA bundle; NULL = system store */
	char *up_client_cert;         /* PEM client certificate shown to the upstream (mutual TLS), NULL = none */
	char *up_client_key;          /* its PEM private key */
	int   up_timeout;             /* seconds per request */
	int   up_retries;

	/* [trust] */
	char *tr_pin_store;           /* directory of PEM certificates; default DATADIR/pins */
	int   tr_pin_store_line;      /* line of the file that set it, 0 = the default */
	int   tr_enforce_pinning;     /* 1 (default) */
	char *tr_proxy;               /* the system proxy, NULL = direct */
	int   tr_allow_user_proxy_fallback; /* 0 (default) */
	int   tr_allow_http_content;  /* 0 (default) */
	char *tr_bundle_signers;      /* directory of Ed25519 public keys (PEM) trusted to sign
	                                 air-gap bundles; default DATADIR/signers */

	/* [storage] */
	char *st_data_dir;            /* default ./var (/var/lib/wsus-replica when installed) */
	char *st_content_dir;         /* default DATADIR/content */
	int   st_event_retention_days;

	/* [clients] */
	int     cl_max_computers;        /* computers registered directly */
	int     cl_computer_expiry_days; /* not seen for so long: removed; 0 = never */
	int     cl_register_per_minute;  /* RegisterComputer calls per client address; 0 = unlimited */
	int64_t cl_event_quota_day;      /* event bytes one computer may add per UTC day */
	int64_t cl_event_store_max;      /* event bytes the store may hold */

	/* [sync] */
	int   sy_interval;            /* seconds between scheduled syncs (default 86400/24h) */
	int   sy_jitter;              /* seconds of random jitter */
	int   sy_rollup;              /* 1 = send the reporting rollup (one front end of a site) */
	char *sy_languages;           /* comma-separated, "all" default */
	char *sy_products;            /* comma-separated product category GUIDs, NULL = all */
	char *sy_classifications;     /* comma-separated classification GUIDs, NULL = all */
	int   sy_content;             /* 1 = fetch payloads, 0 = catalogue only */
	int   sy_lazy_content;        /* 1 = fetch content only for approved updates */
	int   sy_batch;               /* max updates per GetUpdateData, 0 = upstream's limit */
	int64_t sy_max_download_rate; /* content bytes/s over all transfers, 0 = unlimited */
	char *sy_window;              /* "HH:MM-HH:MM" local time content may be fetched, NULL = always */
	int   sy_progress_interval;   /* seconds between content progress lines (default 30) */
	/* [cleanup] */
	int   cu_content_grace_days;  /* unreferenced payloads kept so many days before removal */
	int   cu_decline_unneeded;    /* autonomous: decline superseded updates no computer needs, and
	                                 expired ones (0 default) */


	/* [admin] */
	char *adm_listen;             /* health/metrics/status listener, NULL = off */
	char *adm_client_cert_allow;  /* required when adm_listen is not loopback */

	/* [log] */
	int   log_level;              /* enum log_level, reloaded on SIGHUP */
	char *log_access;             /* access log file, "stderr", or NULL = off */

	char *cfg_path;               /* the file it came from, NULL for the embedded default */
};

/* The embedded default (no file): every key at its default. data_dir, when not
 * NULL, overrides [storage] data_dir. Caller frees with config_free. */
int config_default(const char *data_dir, struct wsus_config **out, struct err *e);

/* Load and validate path. data_dir, when not NULL (-d on the command line),
 * overrides [storage] data_dir. On error *out is untouched and e names
 * "FILE:LINE: [section] key: problem". Caller frees with config_free. */
int config_load(const char *path, const char *data_dir, struct wsus_config **out, struct err *e);

/* Fail closed on the pin store (config_trust.c): with enforce_pinning, a
 * pin_store that is not a readable directory is an error naming where it was
 * set ("FILE:LINE: [trust] pin_store: ..."). A missing store is an error when
 * the file names it, and the empty store when it is the default. config_load
 * runs this; run it again before relying on the store. Returns 0, -ENOENT,
 * -ENOTDIR or another negative errno. */
int config_check_pin_store(const struct wsus_config *cfg, struct err *e);

/* Parse a [sync] window value "HH:MM-HH:MM" into minutes after midnight;
 * -EINVAL unless both times are valid and differ. */
int config_window_parse(const char *v, int *start_min, int *end_min);

/* "open" or "allow_list". */
const char *config_downstream_name(int policy);

/* Write every effective key=value (for `wsus-replica config show`-style output). */
void config_dump(const struct wsus_config *cfg, FILE *f);

void config_free(struct wsus_config *cfg);

/* 1 when an ADDR:PORT listen value is a loopback address (127.0.0.0/8, [::1]). */
int config_listen_is_loopback(const char *listen);

#endif /* WSUS_CONFIG_H */
