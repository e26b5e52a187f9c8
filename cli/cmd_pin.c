/*
 * cmd_pin.c -- `pin add FILE | pin list | pin remove SHA256 | pin check`:
 * manage the certificate pin store ([trust] pin_store) and show, on demand,
 * the verdict a sync would get: check makes a real TLS connection to the
 * configured upstream through the configured proxy policy. check exits 0
 * only when a sync would be allowed, and says what to change when a pinned
 * self-signed upstream is not trusted by the CA file or system store.
 *
 * `pin fetch [--accept SHA256]` is trust on first use made explicit: it
 * shows the chain the upstream presents (through the same proxy policy, the
 * handshake stopped before any request) and stores a certificate only when
 * --accept names its full SHA-256, which the admin has compared with the one
 * the upstream's admin gave out of band. A SHA-256 that is not in the
 * presented chain is refused and nothing is stored.
 */
#include <string.h>

#include "cli.h"
#include "sync.h"

#define PIN_SYNOPSIS "pin add FILE | pin list | pin remove SHA256 | pin check | pin fetch [--accept SHA256]"
#define PIN_SOON_DAYS 30  /* a pinned certificate this close to expiry is flagged */

static void cert_line(const char *lead, const struct sync_cert_info *ci)
{
	printf("%ssubject=\"%s\" sha256=%s not_after=%s%s\n", lead, ci->subject, ci->sha256,
	       ci->not_after, ci->expired ? " EXPIRED" : "");
}

/* Expires within PIN_SOON_DAYS (and not yet expired). */
static int expires_soon(const struct sync_cert_info *ci)
{
	int64_t left = ci->not_after_unix - wsus_now_ms() / 1000;

	return !ci->expired && ci->not_after_unix > 0 && left < (int64_t)PIN_SOON_DAYS * 86400;
}

static int pin_add(struct cli *c, const char *file)
{
	struct sync_cert_info ci;
	struct err e = { 0 };
	int existed = 0;

	if (sync_pin_add(c->cfg->tr_pin_store, file, &ci, &existed, &e) < 0)
		return cli_fail("pin add: %s", e.msg);
	cert_line(existed ? "already pinned: " : "pinned: ", &ci);
	if (!existed)
		printf("stored as %s/%s.pem\n", c->cfg->tr_pin_store, ci.sha256);
	if (ci.expired)
		fprintf(stderr, "wsus-replica: warning: this certificate expired on %s\n", ci.not_after);
	return CLI_OK;
}

static int pin_list(struct cli *c)
{
	struct sync_pin_store *ps = NULL;
	struct err e = { 0 };
	size_t n;

	if (sync_pin_store_load(c->cfg->tr_pin_store, &ps, &e) < 0)
		return cli_fail("pin list: %s", e.msg);
	n = sync_pin_store_count(ps);
	if (n == 0) {
		printf("pin store %s is empty: pinning is not enforced\n", c->cfg->tr_pin_store);
	} else {
		printf("%-64s  %-20s  %-7s  %s\n", "SHA256", "NOT AFTER", "STATUS", "SUBJECT");
		for (size_t i = 0; i < n; i++) {
			const struct sync_pin *p = sync_pin_store_at(ps, i);

			printf("%-64s  %-20s  %-7s  %s\n", p->cert.sha256, p->cert.not_after,
			       p->cert.expired ? "expired" : expires_soon(&p->cert) ? "expires" : "valid",
			       p->cert.subject);
		}
		printf("%zu pinned certificate%s in %s (enforce_pinning = %s)\n", n, n == 1 ? "" : "s",
		       c->cfg->tr_pin_store, c->cfg->tr_enforce_pinning ? "true" : "false");
	}
	if (sync_pin_store_skipped(ps) > 0)
		printf("%zu file%s in the store held no certificate (see the warnings above)\n",
		       sync_pin_store_skipped(ps), sync_pin_store_skipped(ps) == 1 ? "" : "s");
	sync_pin_store_free(ps);
	return CLI_OK;
}

static int pin_remove(struct cli *c, const char *fp)
{
	struct sync_cert_info ci;
	struct err e = { 0 };

	if (sync_pin_remove(c->cfg->tr_pin_store, fp, &ci, &e) < 0)
		return cli_fail("pin remove: %s", e.msg);
	cert_line("removed: ", &ci);
	return CLI_OK;
}

static void print_verdict(const struct sync_trust_verdict *v)
{
	if (v->n_chain == 0) {
		printf("presented chain: none (the handshake did not get that far)\n");
	} else {
		printf("presented chain (leaf first):\n");
		for (size_t i = 0; i < v->n_chain; i++) {
			const struct sync_cert_info *ci = &v->chain[i];

			printf("  [%zu] subject=\"%s\" issuer=\"%s\" sha256=%s not_after=%s%s%s\n", i,
			       ci->subject, ci->issuer, ci->sha256, ci->not_after,
			       ci->expired ? " EXPIRED" : "", (int)i == v->matched ? "  <- pinned" : "");
		}
	}
	if (v->matched >= 0)
		printf("matched: [%d] sha256=%s\n", v->matched, v->chain[v->matched].sha256);
	else
		printf("matched: none\n");
	if (v->pin != SYNC_PIN_NONE)
		printf("verdict: %s\n", v->line);
}

/* A self-signed upstream certificate fails chain verification unless it is
 * its own CA: say what to change, whether or not it is pinned. */
static void self_signed_hint(const struct wsus_config *cfg, const struct sync_trust_verdict *v)
{
	struct sync_pin_store *ps = NULL;
	const struct sync_pin *p = NULL;
	struct err e = { 0 };

	if (v->pin != SYNC_PIN_UNTRUSTED || v->n_chain != 1 ||
	    strcmp(v->chain[0].subject, v->chain[0].issuer) != 0)
		return;
	if (sync_pin_store_load(cfg->tr_pin_store, &ps, &e) == 0)
		p = sync_pin_store_find(ps, v->chain[0].sha256);
	if (p != NULL)
		printf("to change: the upstream's certificate is self-signed and pinned (%s/%s), but chain "
		       "verification uses %s%s, which does not hold it: set [upstream] ca_file = %s/%s "
		       "(pinning narrows trust, it never replaces chain verification)\n",
		       cfg->tr_pin_store, p->file, cfg->up_ca_file ? "ca_file " : "the system store",
		       cfg->up_ca_file ? cfg->up_ca_file : "", cfg->tr_pin_store, p->file);
	else
		printf("to change: the upstream's certificate is self-signed: pin it (wsus-replica pin fetch "
		       "--accept %s, after comparing the SHA-256 with the upstream's admin) and set "
		       "[upstream] ca_file to the pinned file\n", v->chain[0].sha256);
	sync_pin_store_free(ps);
}

static int pin_check(struct cli *c)
{
	const struct wsus_config *cfg = c->cfg;
	struct sync_http *h = NULL;
	struct err e = { 0 };
	long status = 0;
	int rc;

	if (cfg->up_url == NULL)
		return cli_fail("pin check: no upstream: set [upstream] url in the configuration");
	printf("upstream: %s\n", cfg->up_url);
	printf("pin store: %s (enforce_pinning = %s)\n", cfg->tr_pin_store,
	       cfg->tr_enforce_pinning ? "true" : "false");
	rc = sync_http_new(cfg, &h, &e);
	if (rc == 0) {
		rc = sync_http_probe(h, cfg->up_url, &status, &e);
		printf("route: %s\n", sync_http_route(h));
		print_verdict(sync_http_verdict(h));
		if (rc == 0)
			printf("http status: %ld\n", status);
	}
	if (rc < 0 && h != NULL)
		self_signed_hint(cfg, sync_http_verdict(h));
	sync_http_free(h);
	if (rc < 0) {
		printf("refused: %s\n", e.msg);
		printf("a sync would be allowed: no\n");
		return cli_fail("pin check: %s", e.msg);
	}
	printf("a sync would be allowed: yes\n");
	return CLI_OK;
}

/* The full SHA-256 --accept names: 64 hex digits, colons between byte pairs allowed. */
static int accept_arg(const char *in, char out[SYNC_SHA256_HEX])
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		if (*p == ':')
			continue;
		if (wsus_hex_digit((unsigned char)*p) < 0 || n == SYNC_SHA256_HEX - 1)
			return -1;
		out[n++] = (char)((*p >= 'A' && *p <= 'F') ? *p - 'A' + 'a' : *p);
	}
	out[n] = '\0';
	return n == SYNC_SHA256_HEX - 1 ? 0 : -1;
}

static void print_presented(const struct sync_presented *p, const struct sync_pin_store *ps)
{
	printf("presented chain (leaf first):\n");
	for (size_t i = 0; i < p->n; i++) {
		const struct sync_cert_info *ci = &p->cert[i];

		printf("  [%zu] subject=\"%s\"\n      issuer=\"%s\"\n      sha256=%s\n      not_after=%s%s%s\n",
		       i, ci->subject, ci->issuer, ci->sha256, ci->not_after, ci->expired ? " EXPIRED" : "",
		       sync_pin_store_find(ps, ci->sha256) ? "  (already pinned)" : "");
	}
}

static int pin_fetch(struct cli *c, const char *accept)
{
	const struct wsus_config *cfg = c->cfg;
	struct sync_presented p;
	struct sync_pin_store *ps = NULL;
	struct sync_cert_info ci;
	struct err e = { 0 };
	char want[SYNC_SHA256_HEX];
	size_t at;
	int existed = 0, rc = CLI_OK;

	if (accept != NULL && accept_arg(accept, want) < 0)
		return cli_fail("pin fetch: --accept needs the full SHA-256 (64 hex digits) of the certificate "
				"to pin, as printed by pin fetch; nothing stored");
	if (sync_pin_fetch(cfg, &p, &e) < 0)
		return cli_fail("pin fetch: %s", e.msg);
	if (sync_pin_store_load(cfg->tr_pin_store, &ps, &e) < 0) {
		sync_presented_free(&p);
		return cli_fail("pin fetch: %s", e.msg);
	}
	printf("upstream: %s\nroute: %s\n", cfg->up_url, p.route);
	print_presented(&p, ps);
	sync_pin_store_free(ps);
	if (accept == NULL) {
		printf("nothing stored. To pin one of these, compare its sha256 with the one the upstream's "
		       "admin gives you, then run: wsus-replica pin fetch --accept SHA256\n"
		       "(pinning the leaf [0] follows that one certificate; pinning a CA follows every "
		       "certificate it issues)\n");
		sync_presented_free(&p);
		return CLI_OK;
	}
	for (at = 0; at < p.n && strcmp(p.cert[at].sha256, want) != 0; at++)
		;
	if (at == p.n) {
		rc = cli_fail("pin fetch: refused: %s is not the SHA-256 of any certificate the upstream "
			      "presented; nothing stored", want);
	} else if (sync_pin_add_pem(cfg->tr_pin_store, p.pem[at], strlen(p.pem[at]), &ci, &existed, &e) < 0) {
		rc = cli_fail("pin fetch: %s; nothing stored", e.msg);
	} else {
		cert_line(existed ? "already pinned: " : "pinned: ", &ci);
		if (!existed)
			printf("stored as %s/%s.pem\n", cfg->tr_pin_store, ci.sha256);
	}
	sync_presented_free(&p);
	return rc;
}

int cmd_pin(struct cli *c, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "fetch") == 0)
		return pin_fetch(c, NULL);
	if (argc == 4 && strcmp(argv[1], "fetch") == 0 && strcmp(argv[2], "--accept") == 0)
		return pin_fetch(c, argv[3]);
	if (argc >= 2 && strcmp(argv[1], "add") == 0 && argc == 3)
		return pin_add(c, argv[2]);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return pin_list(c);
	if (argc >= 2 && strcmp(argv[1], "remove") == 0 && argc == 3)
		return pin_remove(c, argv[2]);
	if (argc == 2 && strcmp(argv[1], "check") == 0)
		return pin_check(c);
	return cli_usage(PIN_SYNOPSIS);
}
