/*
 * test_server_client_util.h -- what the client-service tests share: a
 * generated catalogue parsed once, a test server (storage on a temporary
 * directory, the catalogue imported) answering through server_soap_dispatch,
 * responses checked against the MS-WUSP XSDs, XPath readers, and a scripted
 * Windows Update client. Strings returned are malloc'd for the caller.
 */
#ifndef TEST_SERVER_CLIENT_UTIL_H
#define TEST_SERVER_CLIENT_UTIL_H

#include <libxml/tree.h>

#include "server_int.h"

/* A generated catalogue (wsus-gencatalog), every document parsed. */
struct tcat {
	char dir[256];
	struct wsus_update **u;
	size_t n;
};
void tcat_make(struct tcat *c, unsigned seed, int revisions, int drivers);
void tcat_free(struct tcat *c);
/* The latest revision of uid in the catalogue, or NULL. */
const struct wsus_update *tcat_latest(const struct tcat *c, const char *uid);

/* A server on a fresh data directory holding the catalogue. */
struct tsrv {
	char dir[256];
	struct wsus_config *cfg;
	struct server srv;
	struct storage *st;
	/* memo: answer as the worker does (server_encode_answer, kept answers)
	 * with Accept-Encoding coding (NULL: none), decoding what comes back;
	 * memo_hits counts the answers taken from what was kept. */
	int memo;
	const char *coding;
	int memo_hits;
};
void tsrv_open(struct tsrv *t, const struct tcat *c);
void tsrv_close(struct tsrv *t);
void tsrv_approve(struct tsrv *t, const char *uid, const char *group, enum storage_action a,
		  const char *deadline);

/* POST a body (a whole envelope) to a service. A 200 answer's Body child is
 * validated against the service's XSD (the test fails otherwise). */
char *tsrv_post(struct tsrv *t, const struct server_service *svc, const char *body, int *status);
/* The same with the operation element wrapped in a SOAP 1.1 envelope. */
char *tsrv_call(struct tsrv *t, const struct server_service *svc, const char *op_xml, int *status);

/* XPath over a response: prefixes s (SOAP 1.1), c (ClientWebService),
 * a (SimpleAuth). */
xmlDocPtr tx_parse(const char *text);
char *tx_text(xmlDocPtr d, const char *xpath);          /* first match, NULL if none */
int tx_count(xmlDocPtr d, const char *xpath);
/* The ErrorCode of a fault response, NULL when it is not a fault. */
char *tx_fault_code(const char *resp);
/* A file of the shared spec examples, read whole. */
char *tx_example(const char *name);
/* Replace every "<tag>...</tag>" (first occurrence of each element named
 * tag) text in s by value; returns a new string. */
char *tx_replace_text(const char *s, const char *tag, const char *value);

/* A revision a client was offered. */
struct toffer {
	int64_t id;
	char    uid[WSUS_GUID_LEN];
	int     rev;
	int     is_leaf;
	char    action[32];
	char    deadline[48];
};

/* A scripted Windows Update client. */
struct tclient {
	struct tsrv *t;
	char id[64];
	char group[256];            /* targetGroupName */
	char pv[16];                /* protocolVersion for GetCookie */
	char last_change[64];
	char *cookie;               /* EncryptedData */
	int64_t *installed, *other; /* InstalledNonLeafUpdateIDs, OtherCachedUpdateIDs */
	size_t n_installed, n_other;
	struct toffer *offers;      /* everything NewUpdates brought, in order */
	size_t n_offers;
	int pages;
	int max_page;               /* largest NewUpdates seen */
};
void tclient_init(struct tclient *c, struct tsrv *t, const char *id, const char *group);
void tclient_free(struct tclient *c);
/* RegisterComputer with the client's cookie; returns the answer. */
char *tclient_register(struct tclient *c, int *status);
/* GetConfig, GetAuthorizationCookie, GetCookie (and RegisterComputer). */
void tclient_handshake(struct tclient *c, int do_register);
/* The SyncUpdates body for the client's lists (extra: inserted in parameters). */
char *tclient_sync_body(const struct tclient *c, const char *extra);
/* One SyncUpdates; on 200 the NewUpdates are recorded (non-leaf ones as
 * installed, the rest as other) and the cookie replaced. Returns the answer. */
char *tclient_sync(struct tclient *c, int *status);
/* SyncUpdates until NewUpdates comes back empty (asserts it ends). */
void tclient_scan(struct tclient *c);
const struct toffer *tclient_offer(const struct tclient *c, const char *uid);
/* The client's cookie element for a request body. */
char *tclient_cookie_xml(const struct tclient *c);

#endif /* TEST_SERVER_CLIENT_UTIL_H */
