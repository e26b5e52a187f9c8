/*
 * cmd_pin.c -- `pin add FILE | pin list | pin remove SHA256 | pin check`:
 * manage the certificate pin store ([trust] pin_store) and show, on demand,
 * the verdict a sync would get: check makes a real TLS connection to the
 * configured upstream through the configured proxy policy. check exits 0
 * only when a sync would be allowed.
 */
#include <string.h>

#include "cli.h"
#include "sync.h"

#define PIN_SYNOPSIS "pin add FILE | pin list | pin remove SHA256 | pin check"

static void cert_line(const char *lead, const struct sync_cert_info *ci)
{
	printf("%ssubject=\"%s\" sha256=%s not_after=%s%s\n", lead, ci->subject, ci->sha256,
	       ci->not_after, ci->expired ? " EXPIRED" : "");
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
			       p->cert.expired ? "expired" : "valid", p->cert.subject);
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
	sync_http_free(h);
	if (rc < 0) {
		printf("refused: %s\n", e.msg);
		printf("a sync would be allowed: no\n");
		return cli_fail("pin check: %s", e.msg);
	}
	printf("a sync would be allowed: yes\n");
	return CLI_OK;
}

int cmd_pin(struct cli *c, int argc, char **argv)
{
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
