/*
 * wsus-httpget.c -- a test driver for sync/'s upstream client: runs one
 * request kind (probe, get, soap) through sync_http with a configuration
 * file, possibly several times on one client (keep-alive, verdict reuse),
 * and prints what happened as key=value lines on stdout. Exit 0 on success,
 * 1 with "error=<message>" otherwise, 2 on usage errors. Test tool only.
 *
 *   wsus-httpget -c CONF [-v] [-n REPEAT] probe URL
 *   wsus-httpget -c CONF [-v] [-n REPEAT] get URL [--offset N] [--payload] [--out FILE]
 *   wsus-httpget -c CONF [-v] [-n REPEAT] soap URL ACTION BODYFILE [--out FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "protocol.h"
#include "sync.h"

struct file_sink {
	int     fd;
	int64_t bytes;      /* delivered in this run */
	int     restarts;   /* times the data started again at 0 */
	int     regular;    /* a regular file (can be truncated) */
};

static int sink_write(void *ctx, int64_t offset, const void *data, size_t n)
{
	struct file_sink *fs = ctx;
	const char *p = data;

	if (offset == 0 && fs->bytes > 0)
		fs->restarts++;
	if (offset == 0 && fs->regular && ftruncate(fs->fd, 0) != 0)
		return -errno;
	while (n > 0) {
		ssize_t w = pwrite(fs->fd, p, n, (off_t)offset);

		if (w < 0)
			return -errno;
		p += w;
		offset += w;
		n -= (size_t)w;
		fs->bytes += w;
	}
	return 0;
}

static void report(struct sync_http *h, int rc, long status, const struct err *e)
{
	const struct sync_trust_verdict *v = sync_http_verdict(h);

	printf("status=%ld\n", status);
	printf("route=%s\n", sync_http_route(h));
	printf("pin=%s allowed=%d\n", sync_pin_result_name(v->pin), v->allowed);
	printf("verdict=%s\n", v->line);
	printf("leaf_sha256=%s\n", v->leaf_sha256);
	if (rc < 0)
		printf("error=%s\n", e->msg);
}

static int usage(void)
{
	fputs("usage: wsus-httpget -c CONF [-v] [-n REPEAT] probe URL | get URL [--offset N] [--payload] [--out FILE]"
	      " | soap URL ACTION BODYFILE [--out FILE]\n", stderr);
	return 2;
}

static int write_out(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return -1;
	if (n > 0 && fwrite(data, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static int do_get(struct sync_http *h, char **argv, int argc, long *status, struct err *e)
{
	struct file_sink fs = { .fd = -1 };
	struct stat sb;
	const char *out = "/dev/null";
	int64_t offset = 0;
	int flags = 0, rc;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--offset") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			offset = strtoll(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || offset < 0)
				return err_set(e, -EINVAL, "bad --offset");
		} else if (strcmp(argv[i], "--payload") == 0) {
			flags |= SYNC_GET_PAYLOAD;
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else {
			return err_set(e, -EINVAL, "unknown get option %s", argv[i]);
		}
	}
	fs.fd = open(out, O_WRONLY | O_CREAT, 0644);
	if (fs.fd < 0)
		return err_set(e, -errno, "%s: %s", out, strerror(errno));
	fs.regular = fstat(fs.fd, &sb) == 0 && S_ISREG(sb.st_mode);
	rc = sync_http_get(h, argv[1], flags, offset, sink_write, &fs, status, e);
	close(fs.fd);
	printf("bytes=%lld restarts=%d\n", (long long)fs.bytes, fs.restarts);
	return rc;
}

static int do_soap(struct sync_http *h, char **argv, int argc, long *status, struct err *e)
{
	struct wsus_buf out = { 0 };
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (argc < 4)
		return err_set(e, -EINVAL, "soap needs URL ACTION BODYFILE");
	rc = wsus_read_file(argv[3], 16u * 1024 * 1024, &body, &len, e);
	if (rc < 0)
		return rc;
	rc = sync_http_post_soap(h, argv[1], argv[2], body, len, status, &out, e);
	printf("body_bytes=%zu\n", out.len);
	if (argc >= 6 && strcmp(argv[4], "--out") == 0 && write_out(argv[5], out.data, out.len) < 0)
		fprintf(stderr, "cannot write %s\n", argv[5]);
	wsus_buf_free(&out);
	free(body);
	return rc;
}

int main(int argc, char **argv)
{
	struct wsus_config *cfg = NULL;
	struct sync_http *h = NULL;
	struct err e = { 0 };
	const char *conf = NULL;
	int opt, repeat = 1, rc = 0, verbosity = LOG_INFO;
	long status = 0;

	while ((opt = getopt(argc, argv, "+c:n:v")) != -1) {
		if (opt == 'c')
			conf = optarg;
		else if (opt == 'n')
			repeat = (int)strtol(optarg, NULL, 10);
		else if (opt == 'v')
			verbosity = LOG_DEBUG;
		else
			return usage();
	}
	if (conf == NULL || optind + 2 > argc || repeat < 1 || repeat > 100)
		return usage();
	log_set_verbosity(verbosity);
	protocol_xml_init();
	if (config_load(conf, NULL, &cfg, &e) < 0) {
		printf("error=%s\n", e.msg);
		return 1;
	}
	argv += optind;
	argc -= optind;
	rc = sync_http_new(cfg, &h, &e);
	if (rc < 0) {
		printf("error=%s\n", e.msg);
		config_free(cfg);
		return 1;
	}
	for (int i = 0; i < repeat && rc == 0; i++) {
		if (strcmp(argv[0], "probe") == 0)
			rc = sync_http_probe(h, argv[1], &status, &e);
		else if (strcmp(argv[0], "get") == 0)
			rc = do_get(h, argv, argc, &status, &e);
		else if (strcmp(argv[0], "soap") == 0)
			rc = do_soap(h, argv, argc, &status, &e);
		else
			rc = err_set(&e, -EINVAL, "unknown request kind %s", argv[0]);
		report(h, rc, status, &e);
	}
	sync_http_free(h);
	config_free(cfg);
	return rc < 0 ? 1 : 0;
}
