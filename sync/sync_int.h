/*
 * sync_int.h -- what sync_http.c and sync_trust.c share, and the pure
 * decision helpers the unit tests drive with vector tables. Not for callers
 * outside sync/ (they use sync.h).
 */
#ifndef WSUS_SYNC_INT_H
#define WSUS_SYNC_INT_H

#include <openssl/x509.h>

#include "sync.h"

/*---- sync_trust.c: the in-handshake pin hook ----*/

/* The hook's state, one per client. The hook fills v during a handshake; the
 * client sets host (and tls_proxy) before each transfer. */
struct sync_trust {
	const struct sync_pin_store *pins;
	int         enforce;          /* [trust] enforce_pinning */
	int         tls_proxy;        /* route uses an https:// proxy: a handshake whose leaf
	                                 does not name host is the proxy's, pinning skipped */
	char        host[256];        /* host of the current hop (no brackets) */
	unsigned    decisions;        /* upstream handshakes decided since the client reset it */
	const void *decided_for;      /* the SSL * of the last decision */
	int         decided_ok;
	struct sync_trust_verdict v;
	struct sync_presented *observe; /* pin fetch: record the presented chain here and
	                                   stop every handshake (no request is sent) */
};

/* Called from libcurl's CURLOPT_SSL_CTX_FUNCTION with the SSL_CTX of a new
 * connection: installs the verify callback that records the chain and makes
 * the pin decision. Returns 0, or -1 when the context cannot carry the hook. */
int sync_trust_ctx_hook(void *ssl_ctx, struct sync_trust *t);

/* Fill out from a certificate (subject, issuer, SHA-256 of DER, notAfter). */
int sync_cert_info_from_x509(X509 *x, struct sync_cert_info *out);

/* The pin decision on a recorded chain (v->chain, v->n_chain): sets pin,
 * allowed, matched, n_pins, leaf_sha256 and line. ps may be NULL (empty). */
void sync_trust_decide(const struct sync_pin_store *ps, int enforce, struct sync_trust_verdict *v);

/* A fingerprint or prefix as typed by an admin (colons between byte pairs
 * allowed, any case) into lower-case hex digits in out (SYNC_SHA256_HEX).
 * -EINVAL when it is not hex, longer than 64 digits or shorter than 8. */
int sync_pin_prefix_normalize(const char *in, char out[SYNC_SHA256_HEX], struct err *e);

/*---- sync_http.c: decision helpers ----*/

/* Accept url for a request: https:// (any case), or http:// when allow_http;
 * a host; no white space or control characters. host (cap bytes) receives
 * the host name without IPv6 brackets. -EPERM for a refused scheme, -EINVAL
 * for a malformed URL. */
int sync_url_check(const char *url, int allow_http, char *host, size_t cap, struct err *e);

/* Which proxies a client uses, decided once from the configuration and the
 * environment (get is getenv in production, a table in tests). */
struct sync_proxy_plan {
	char        system[512];      /* [trust] proxy, "" = direct */
	char        user[512];        /* fallback proxy from the environment, "" = none */
	const char *user_var;         /* the variable user came from */
	const char *ignored_var;      /* a proxy variable that is set but ignored (policy off) */
};
void sync_proxy_plan_make(const char *system_proxy, int allow_user_fallback,
			  char *(*get)(const char *name), struct sync_proxy_plan *out);

/* A proxy URL for logs, with any user:password@ removed. */
void sync_proxy_display(const char *proxy, char *out, size_t cap);

/* How a failed (or completed) attempt is treated. */
enum sync_fail {
	SYNC_OK = 0,
	SYNC_FAIL_TRUST,       /* TLS/trust/URL policy: never retried, no fallback */
	SYNC_FAIL_CONNECT,     /* connection or proxy level: retried, then user-proxy fallback */
	SYNC_FAIL_HTTP_RETRY,  /* 5xx (not a SOAP fault), 408, 429: retried, no fallback */
	SYNC_FAIL_HTTP,        /* any other HTTP status: returned to the caller */
	SYNC_FAIL_OTHER,       /* local errors (write, too large, ...): not retried */
};
/* curl_code is a CURLcode; status the HTTP status (0 if none); soap_fault
 * whether a 500 body is a SOAP Fault. */
enum sync_fail sync_http_classify(int curl_code, long status, int soap_fault);

/* Delay before retry number attempt (0-based): 500 ms doubling per attempt,
 * capped at 30 s, plus up to half of it again from rnd (jitter). */
unsigned sync_backoff_ms(int attempt, uint32_t rnd);

#endif /* WSUS_SYNC_INT_H */
