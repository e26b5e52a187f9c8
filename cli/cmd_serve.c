/*
 * cmd_serve.c -- `serve [--listen ADDR:PORT]`: make sure a TLS certificate
 * exists, start the front end, print one "listening on" line on stdout, and
 * run until SIGTERM or SIGINT, then stop within 5 s and exit 0 (an operation
 * still running after the server's grace period is left to process exit,
 * see server_stop). The signals are
 * blocked in every thread and taken with sigwait here, so no work ever runs
 * in a signal handler. With [upstream] url set, the sync scheduler (sync/)
 * runs beside the front end (server/); the two only meet here.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "server.h"
#include "sync.h"

/* The address as given with the port actually bound (port 0 = any). */
static void print_listening(const char *listen_addr, int port, const char *fp)
{
	const char *colon = listen_addr[0] == '[' ? strchr(listen_addr, ']') : strrchr(listen_addr, ':');
	int hn = colon ? (int)(colon - listen_addr) + (listen_addr[0] == '[') : 0;

	printf("listening on https://%.*s:%d certificate sha256 %s\n", hn, listen_addr, port, fp);
	fflush(stdout);
}

int cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct server *srv = NULL;
	struct sync_scheduler *sched = NULL;
	struct err e = { 0 };
	char fp[65];
	sigset_t stop;
	int opt, sig = 0;

	while ((opt = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
		if (opt != 'l')
			return cli_usage("serve [--listen ADDR:PORT]");
		free(c->cfg->srv_listen);
		c->cfg->srv_listen = strdup(optarg);
		if (c->cfg->srv_listen == NULL)
			return cli_fail("out of memory");
	}
	if (optind != argc)
		return cli_usage("serve [--listen ADDR:PORT]");

	/* before any thread exists, so that the workers inherit the mask */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* fail closed before serving anything synced under a store now gone */
	if (c->cfg->up_url != NULL && config_check_pin_store(c->cfg, &e) < 0)
		return cli_fail("%s", e.msg);
	if (server_tls_ensure(c->cfg, fp, &e) < 0)
		return cli_fail("%s", e.msg);
	if (server_start(c->cfg, &srv, &e) < 0)
		return cli_fail("%s", e.msg);
	print_listening(c->cfg->srv_listen, server_port(srv), fp);
	/* With an upstream, syncs run on their schedule beside the front end. */
	if (c->cfg->up_url != NULL && sync_scheduler_start(c->cfg, &sched, &e) < 0) {
		server_stop(srv);
		return cli_fail("%s", e.msg);
	}

	while (sigwait(&stop, &sig) != 0)
		;
	log_info("server", "stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
	sync_scheduler_stop(sched);
	if (server_stop(srv) > 0) {
		/* an operation is still running and uses the configuration: end
		 * the process here rather than free anything under it */
		log_info("server", "stopped");
		fflush(NULL);
		_exit(CLI_OK);
	}
	log_info("server", "stopped");
	return CLI_OK;
}
