/*
 * server_access.c -- the access log ([log] access_log): one line per request
 * the front end answered, written by a thread of its own.
 *
 * Design notes:
 * (1) Request threads never touch the file. server_access_note formats the
 *     line on the caller's stack and appends it to a buffer of
 *     ACCESS_BUF_BYTES under a mutex held for a memcpy; the writer thread
 *     swaps that buffer for its spare one and writes the spare with
 *     write(2). Two buffers, so the memory is bounded; when the filling one
 *     is full (the disk is slower than the requests) the line is dropped and
 *     counted, and a warning says so at most once a minute. A slow disk
 *     costs lines, never request latency.
 * (2) The file is opened O_APPEND (several writers, logrotate's
 *     copytruncate) and created 0640. SIGHUP (server_access_reload) hands
 *     the writer a path to open again: the same one after logrotate moved
 *     the file, or a new one; "stderr" is file descriptor 2; NULL or "" turns
 *     the log off. A path that cannot be opened keeps the previous file.
 * (3) The line (README, wsus-replica.conf(5)), fields separated by one space,
 *     "-" for what is not known:
 *       TIME CLIENT METHOD PATH OPERATION STATUS BYTES MILLISECONDS COMPUTER
 *     TIME is ISO 8601 UTC with milliseconds when the answer was complete;
 *     PATH has bytes outside printable ASCII, space, '"' and '%' as %XX and
 *     is cut at ACCESS_PATH_MAX with "..."; OPERATION is the SOAP
 *     operation, "Content" or "SelfUpdate" for files, "-" for anything
 *     refused before it was routed; BYTES the body bytes of the answer (the
 *     payload bytes of the ranges for a partial answer, 0 for HEAD);
 *     COMPUTER the client's ComputerID once a cookie or request named it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_int.h"

#define ACCESS_BUF_BYTES   (1024 * 1024)  /* each of the two buffers */
#define ACCESS_LINE_MAX    1024
#define ACCESS_PATH_MAX    256
#define ACCESS_WARN_MS     60000          /* at most one "lines dropped" warning per minute */

struct server_access {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int running;
	char *fill, *spare;        /* fill: where notes go; spare: the writer's */
	size_t len;                /* bytes in fill */
	int stop;
	int reopen;                /* a path is waiting in next_path */
	char *next_path;           /* owned; NULL = off */
	atomic_int on;             /* a file is open: notes are kept */
	int fd;                    /* the writer's; -1 none */
	int fd_is_stderr;
	atomic_ullong dropped;     /* lines that did not fit */
	atomic_ullong lines;       /* lines handed to the writer */
	int64_t warned_ms;
};

static int open_path(const char *path, int *fd, int *is_stderr, struct err *e)
{
	if (strcmp(path, "stderr") == 0) {
		*fd = STDERR_FILENO;
		*is_stderr = 1;
		return 0;
	}
	*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (*fd < 0)
		return err_set(e, -errno, "cannot open the access log %s: %s", path, strerror(errno));
	*is_stderr = 0;
	return 0;
}

static void close_fd(struct server_access *a)
{
	if (a->fd >= 0 && !a->fd_is_stderr)
		close(a->fd);
	a->fd = -1;
	a->fd_is_stderr = 0;
}

/* Writer thread, lock not held: a new path (design note 2). */
static void switch_file(struct server_access *a, char *path)
{
	struct err e = { 0 };
	int fd = -1, is_stderr = 0;

	if (path == NULL || path[0] == '\0') {
		close_fd(a);
		atomic_store(&a->on, 0);
		log_info("server", "access log off");
	} else if (open_path(path, &fd, &is_stderr, &e) < 0) {
		log_err("server", "access log: %s; keeping the previous one", e.msg);
	} else {
		close_fd(a);
		a->fd = fd;
		a->fd_is_stderr = is_stderr;
		atomic_store(&a->on, 1);
		log_info("server", "access log reopened path=%s", path);
	}
	free(path);
}

static void write_all(struct server_access *a, const char *p, size_t n)
{
	while (n > 0 && a->fd >= 0) {
		ssize_t w = write(a->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_err("server", "access log write failed: %s", w < 0 ? strerror(errno) : "no progress");
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void *writer(void *arg)
{
	struct server_access *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		char *buf;
		size_t n;

		while (a->len == 0 && !a->stop && !a->reopen)
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->reopen) {
			char *path = a->next_path;

			a->next_path = NULL;
			a->reopen = 0;
			pthread_mutex_unlock(&a->lock);
			switch_file(a, path);
			pthread_mutex_lock(&a->lock);
			continue;
		}
		if (a->len == 0 && a->stop)
			break;
		buf = a->fill;
		n = a->len;
		a->fill = a->spare;
		a->spare = buf;
		a->len = 0;
		pthread_mutex_unlock(&a->lock);
		write_all(a, buf, n);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int server_access_open(const char *path, struct server_access **out, struct err *e)
{
	struct server_access *a = calloc(1, sizeof(*a));
	int rc = 0;

	*out = NULL;
	if (a == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	a->fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	a->fill = malloc(ACCESS_BUF_BYTES);
	a->spare = malloc(ACCESS_BUF_BYTES);
	if (a->fill == NULL || a->spare == NULL)
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc == 0 && path != NULL && path[0] != '\0')
		rc = open_path(path, &a->fd, &a->fd_is_stderr, e);
	if (rc == 0 && pthread_create(&a->thread, NULL, writer, a) != 0)
		rc = err_set(e, -EAGAIN, "cannot start the access log writer");
	if (rc < 0) {
		close_fd(a);
		server_access_close(a);
		return rc;
	}
	a->running = 1;
	atomic_store(&a->on, a->fd >= 0);
	*out = a;
	return 0;
}

int server_access_reload(struct server_access *a, const char *path, struct err *e)
{
	char *copy = NULL;

	if (a == NULL)
		return 0;
	if (path != NULL && path[0] != '\0' && (copy = strdup(path)) == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_lock(&a->lock);
	free(a->next_path);
	a->next_path = copy;
	a->reopen = 1;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

void server_access_close(struct server_access *a)
{
	if (a == NULL)
		return;
	if (a->running) {
		pthread_mutex_lock(&a->lock);
		a->stop = 1;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	}
	close_fd(a);
	free(a->next_path);
	free(a->fill);
	free(a->spare);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

uint64_t server_access_dropped(const struct server_access *a)
{
	return a ? atomic_load(&a->dropped) : 0;
}

/* "-" for an empty or missing field; the rest as given (callers clean). */
static const char *or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

static void warn_dropped(struct server_access *a, int64_t now)
{
	if (now - a->warned_ms < ACCESS_WARN_MS)
		return;
	a->warned_ms = now;
	log_warn("server", "access log: the writer is behind, lines dropped total=%llu",
		 (unsigned long long)atomic_load(&a->dropped));
}

void server_access_note(struct server_access *a, const struct server_access_entry *x)
{
	char line[ACCESS_LINE_MAX], when[32], path[ACCESS_PATH_MAX + 8], computer[ACCESS_PATH_MAX + 8];
	int64_t now;
	int n;

	if (a == NULL || !atomic_load(&a->on))
		return;
	now = wsus_now_ms();
	wsus_time_iso(now, when);
	server_text_clean(x->path, path, sizeof(path));
	server_text_clean(x->computer, computer, sizeof(computer));
	n = snprintf(line, sizeof(line), "%s %s %s %s %s %u %llu %.3f %s\n", when, or_dash(x->peer),
		     or_dash(x->method), or_dash(path), or_dash(x->op), x->status,
		     (unsigned long long)x->bytes, (double)x->micros / 1000.0, or_dash(computer));
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	pthread_mutex_lock(&a->lock);
	if (a->len + (size_t)n > ACCESS_BUF_BYTES) {
		atomic_fetch_add(&a->dropped, 1);
		warn_dropped(a, now);
	} else {
		if (a->len == 0)
			pthread_cond_signal(&a->wake);
		memcpy(a->fill + a->len, line, (size_t)n);
		a->len += (size_t)n;
		atomic_fetch_add(&a->lines, 1);
	}
	pthread_mutex_unlock(&a->lock);
}
