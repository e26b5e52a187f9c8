/*
 * cmd_serve.c -- `serve [--listen ADDR:PORT]`: make sure a TLS certificate
 * exists, start the front end, print one "listening on" line on stdout, and
 * run until SIGTERM or SIGINT, then stop within 5 s and exit 0 (an operation
 * still running after the server's grace period is left to process exit,
 * see server_stop). The signals are
 * blocked in every thread and taken with sigwait here, so no work ever runs
 * in a signal handler. With [upstream] url set, the sync scheduler (sync/)
 * runs beside the front end (server/); the two only meet here. The cleanup
 * pass (cmd_cleanup.c) runs once a day on a thread of its own.
 *
 * SIGHUP reloads (reload() below): the configuration file is read again;
 * the front end takes the new TLS certificate and key and client_cert_allow,
 * the admin listener its client_cert_allow, the access log is reopened,
 * the scheduler restarts with the new [upstream], [sync] and [trust] (the pin
 * store is read again), the log level follows [log] level. Settings that need
 * a restart are reported and keep their running values: the front end keeps
 * the configuration it started with, and every configuration loaded stays
 * allocated until exit (nothing that runs ever sees one freed). A config
 * file with an error changes nothing. systemd hears RELOADING=1, READY=1.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "server.h"
#include "sync.h"

#define SERVE_MAX_RELOADS 1024  /* configurations kept until exit */

struct serve_state {
	struct cli *c;
	const char *listen_arg;         /* --listen, which beats the file on reload too */
	struct server *srv;
	struct server_admin *admin;     /* NULL when off or its address was taken */
	struct sync_scheduler *sched;
	struct cli_cleanup_daily *cleanup;  /* the daily cleanup pass (cmd_cleanup.c) */
	const struct wsus_config *run;  /* what the scheduler and admin run with */
	struct wsus_config *kept[SERVE_MAX_RELOADS];
	size_t n_kept;
};

static int differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* Settings the running process cannot change: say so, keep the old value. */
static void report_restart_only(const struct wsus_config *old, const struct wsus_config *new)
{
	static const char later[] = "reload: %s changed: needs a restart, keeping %s";

	if (differs(old->srv_listen, new->srv_listen))
		log_warn("serve", later, "[server] listen", old->srv_listen);
	if (differs(old->srv_content_http_listen, new->srv_content_http_listen))
		log_warn("serve", later, "[server] content_http_listen",
			 old->srv_content_http_listen ? old->srv_content_http_listen : "off");
	if (differs(old->adm_listen, new->adm_listen))
		log_warn("serve", later, "[admin] listen", old->adm_listen ? old->adm_listen : "off");
	if (differs(old->srv_shared_secret_file, new->srv_shared_secret_file) || old->srv_site != new->srv_site ||
	    memcmp(old->srv_site_secret, new->srv_site_secret, sizeof(old->srv_site_secret)) != 0)
		log_warn("serve", later, "[server] shared_secret_file (or the secret in it)", "the running site identity");
	if (differs(old->st_data_dir, new->st_data_dir))
		log_warn("serve", later, "[storage] data_dir", old->st_data_dir);
	if (differs(old->st_content_dir, new->st_content_dir))
		log_warn("serve", later, "[storage] content_dir", old->st_content_dir);
	if (differs(old->srv_public_url, new->srv_public_url) || old->srv_threads != new->srv_threads ||
	    old->srv_max_body != new->srv_max_body || old->srv_max_connections != new->srv_max_connections ||
	    old->srv_timeout != new->srv_timeout || old->srv_client_targeting != new->srv_client_targeting)
		log_warn("serve", later, "[server] public_url/threads/max_body/max_connections/timeout/"
			 "client_targeting", "the running values");
}

/* The admin listener is for people and monitoring: when its address is
 * taken, serve logs it and goes on serving clients without it. */
static void start_admin(struct serve_state *ss)
{
	const struct wsus_config *cfg = ss->c->cfg;
	struct err e = { 0 };

	if (cfg->adm_listen == NULL)
		return;
	if (server_admin_start(cfg, ss->srv, &ss->admin, &e) < 0) {
		log_warn("serve", "admin listener not started: %s", e.msg);
		return;
	}
	printf("admin on %s://%s\n", config_listen_is_loopback(cfg->adm_listen) ? "http" : "https",
	       cfg->adm_listen);
	fflush(stdout);
}

static void reload(struct serve_state *ss)
{
	struct cli *c = ss->c;
	struct wsus_config *cfg = NULL;
	struct sync_pin_store *ps = NULL;
	struct err e = { 0 };
	int rc;

	cli_notify_reloading();
	log_info("serve", "reload: reading %s", c->cfg_path ? c->cfg_path : "the embedded default");
	rc = c->cfg_path ? config_load(c->cfg_path, c->data_dir_arg, &cfg, &e)
			 : config_default(c->data_dir_arg, &cfg, &e);
	if (rc == 0 && ss->n_kept == SERVE_MAX_RELOADS)
		rc = err_set(&e, -ENOSPC, "reloaded %d times: restart to reload again", SERVE_MAX_RELOADS);
	if (rc == 0 && ss->listen_arg != NULL) {
		free(cfg->srv_listen);
		cfg->srv_listen = strdup(ss->listen_arg);
		if (cfg->srv_listen == NULL)
			rc = err_set(&e, -ENOMEM, "out of memory");
	}
	if (rc == 0)
		rc = sync_pin_store_load(cfg->tr_pin_store, &ps, &e);
	if (rc < 0) {
		log_err("serve", "reload failed, nothing changed: %s", e.msg);
		config_free(cfg);
		cli_notify("READY=1\nSTATUS=reload failed, running with the previous configuration");
		return;
	}
	log_info("serve", "reload: pin store %s has %zu certificates", cfg->tr_pin_store,
		 sync_pin_store_count(ps));
	sync_pin_store_free(ps);
	report_restart_only(c->cfg, cfg);
	/* the front end and admin listener keep the addresses and data dir they run with */
	free(cfg->st_data_dir);
	cfg->st_data_dir = strdup(c->cfg->st_data_dir);
	free(cfg->st_content_dir);
	cfg->st_content_dir = strdup(c->cfg->st_content_dir);
	if (cfg->st_data_dir == NULL || cfg->st_content_dir == NULL) {
		log_err("serve", "reload failed: out of memory");
		config_free(cfg);
		cli_notify("READY=1");
		return;
	}
	if (server_reload(ss->srv, cfg, &e) < 0)
		log_err("serve", "reload: certificate and allow-list unchanged: %s", e.msg);
	if (server_admin_reload(ss->admin, cfg, &e) < 0)
		log_err("serve", "reload: admin client_cert_allow unchanged: %s", e.msg);
	if (server_reopen_logs(ss->srv, cfg->log_access, &e) < 0)
		log_err("serve", "reload: access log unchanged: %s", e.msg);
	ss->kept[ss->n_kept++] = cfg;
	sync_scheduler_stop(ss->sched);
	ss->sched = NULL;
	ss->run = cfg;
	if (cfg->up_url != NULL && sync_scheduler_start(cfg, &ss->sched, &e) < 0)
		log_err("serve", "reload: the sync scheduler did not restart: %s", e.msg);
	cli_cleanup_daily_stop(ss->cleanup);
	ss->cleanup = NULL;
	if (cli_cleanup_daily_start(cfg, &ss->cleanup, &e) < 0)
		log_err("serve", "reload: the daily cleanup did not restart: %s", e.msg);
	log_info("serve", "reloaded");
	if (!c->verbosity_fixed)
		log_set_verbosity(cfg->log_level);
	cli_notify("READY=1\nSTATUS=reloaded");
}

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
	struct serve_state ss = { .c = c };
	struct err e = { 0 };
	char fp[65];
	sigset_t stop;
	int opt, sig = 0;

	while ((opt = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
		if (opt != 'l')
			return cli_usage("serve [--listen ADDR:PORT]");
		free(c->cfg->srv_listen);
		c->cfg->srv_listen = strdup(optarg);
		ss.listen_arg = optarg;
		if (c->cfg->srv_listen == NULL)
			return cli_fail("out of memory");
	}
	if (optind != argc)
		return cli_usage("serve [--listen ADDR:PORT]");

	/* before any thread exists, so that the workers inherit the mask */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* fail closed before serving anything synced under a store now gone */
	if (c->cfg->up_url != NULL && config_check_pin_store(c->cfg, &e) < 0)
		return cli_fail("%s", e.msg);
	if (server_tls_ensure(c->cfg, fp, &e) < 0)
		return cli_fail("%s", e.msg);
	if (cli_adopt_site(c) != 0)
		return CLI_FAIL;
	if (server_start(c->cfg, &ss.srv, &e) < 0)
		return cli_fail("%s", e.msg);
	ss.run = c->cfg;
	print_listening(c->cfg->srv_listen, server_port(ss.srv), fp);
	start_admin(&ss);
	/* With an upstream, syncs run on their schedule beside the front end. */
	if (c->cfg->up_url != NULL && sync_scheduler_start(c->cfg, &ss.sched, &e) < 0) {
		server_stop(ss.srv);
		return cli_fail("%s", e.msg);
	}
	if (cli_cleanup_daily_start(c->cfg, &ss.cleanup, &e) < 0)
		log_warn("serve", "no daily cleanup: %s", e.msg);
	cli_notify("READY=1\nSTATUS=serving");

	for (;;) {
		if (sigwait(&stop, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		reload(&ss);
	}
	cli_notify("STOPPING=1");
	server_admin_stop(ss.admin);
	log_info("server", "stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
	sync_scheduler_stop(ss.sched);
	cli_cleanup_daily_stop(ss.cleanup);
	if (server_stop(ss.srv) > 0) {
		/* an operation is still running and uses the configuration: end
		 * the process here rather than free anything under it */
		log_info("server", "stopped");
		fflush(NULL);
		_exit(CLI_OK);
	}
	for (size_t i = 0; i < ss.n_kept; i++)
		config_free(ss.kept[i]);
	log_info("server", "stopped");
	return CLI_OK;
}
