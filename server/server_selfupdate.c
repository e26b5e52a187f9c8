/*
 * server_selfupdate.c -- the static client-facing paths a Windows WSUS
 * answers besides its web services and /Content:
 *   /SelfUpdate/...  the Windows Update Agent self-update tree: wuident.cab
 *                    and the files it points Windows 7/8.1 clients to (MS-WUSP
 *                    3.1.5.1; those clients stop talking to a server that
 *                    lacks it, Windows 10 and later never ask). Served read
 *                    only from [server] selfupdate_dir when that directory
 *                    exists, 404 otherwise: the files must be Microsoft's,
 *                    unmodified (copy the tree from a Windows WSUS).
 *   /ClientWebService/wusserverversion.xml  a small document naming the
 *                    server, which administrators and Microsoft's
 *                    connectivity checks (KB3090184) fetch to see that the
 *                    client web service answers.
 * The request text never becomes a path as is: every segment must be 1..128
 * characters of [A-Za-z0-9._-] not starting with '.', at most
 * SELFUPDATE_MAX_DEPTH of them, and each is matched case-insensitively (as
 * IIS does) against the entries of the directory reached so far, opened with
 * O_NOFOLLOW. Only regular files are served, with the ranges and validators
 * of /Content (server_file_serve). Nothing here is kept between requests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server_int.h"

#define SELFUPDATE_PREFIX       "/SelfUpdate/"
#define SELFUPDATE_PREFIX_LEN   12
#define SELFUPDATE_MAX_DEPTH    8
#define SELFUPDATE_MAX_SEGMENT  128
#define SELFUPDATE_MAX_ENTRIES  4096   /* directory entries looked at per segment */
#define VERSION_PATH            "/ClientWebService/wusserverversion.xml"

int server_static_path(const char *path)
{
	if (strncasecmp(path, SELFUPDATE_PREFIX, SELFUPDATE_PREFIX_LEN) == 0)
		return SERVER_STATIC_SELFUPDATE;
	if (strcasecmp(path, VERSION_PATH) == 0)
		return SERVER_STATIC_VERSION;
	return 0;
}

/*---- The self-update tree ----*/

static int segment_ok(const char *s, size_t n)
{
	if (n == 0 || n > SELFUPDATE_MAX_SEGMENT || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* The entry of directory dirfd named like seg, ignoring case (an exact
 * match wins); *name receives its real name. -ENOENT when there is none. */
static int find_entry(int dirfd, const char *seg, char name[SELFUPDATE_MAX_SEGMENT + 1])
{
	struct stat sb;
	struct dirent *de;
	DIR *d;
	int fd, n = 0, rc = -ENOENT;

	if (fstatat(dirfd, seg, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(name, SELFUPDATE_MAX_SEGMENT + 1, "%s", seg);
		return 0;
	}
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -ENOENT;
	}
	while (rc != 0 && n++ < SELFUPDATE_MAX_ENTRIES && (de = readdir(d)) != NULL)
		if (strcasecmp(de->d_name, seg) == 0 && strlen(de->d_name) <= SELFUPDATE_MAX_SEGMENT) {
			snprintf(name, SELFUPDATE_MAX_SEGMENT + 1, "%s", de->d_name);
			rc = 0;
		}
	closedir(d);
	return rc;
}

/* Open the file rel (below the prefix) in root: an fd of a regular file, or
 * -ENOENT for anything else (bad segment, missing, a directory, a link). */
static int open_in_tree(const char *root, const char *rel, struct stat *sb)
{
	char seg[SELFUPDATE_MAX_SEGMENT + 1], name[SELFUPDATE_MAX_SEGMENT + 1];
	int dirfd, depth = 0;

	dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -ENOENT;
	for (;;) {
		const char *slash = strchr(rel, '/');
		size_t n = slash ? (size_t)(slash - rel) : strlen(rel);
		int fd;

		if (!segment_ok(rel, n) || ++depth > SELFUPDATE_MAX_DEPTH)
			break;
		memcpy(seg, rel, n);
		seg[n] = '\0';
		if (find_entry(dirfd, seg, name) < 0)
			break;
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (slash ? O_DIRECTORY : 0));
		close(dirfd);
		if (fd < 0)
			return -ENOENT;
		if (slash == NULL) {
			if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode)) {
				close(fd);
				return -ENOENT;
			}
			return fd;
		}
		dirfd = fd;
		rel = slash + 1;
	}
	close(dirfd);
	return -ENOENT;
}

static int handle_selfupdate(struct server_req *req, struct MHD_Connection *conn)
{
	const char *root = req->srv->cfg->srv_selfupdate_dir;
	char etag[64];
	struct stat sb;
	int fd = -ENOENT;

	if (root != NULL)
		fd = open_in_tree(root, req->path + SELFUPDATE_PREFIX_LEN, &sb);
	if (fd < 0) {
		server_log_refused(req, MHD_HTTP_NOT_FOUND, root ? "not in the self-update tree"
								 : "no self-update directory");
		return server_reply_status(conn, MHD_HTTP_NOT_FOUND, NULL);
	}
	/* A file changes as a whole when the tree is replaced: size and
	 * modification time in nanoseconds tell versions apart. */
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)sb.st_size,
		 (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull + (unsigned long long)sb.st_mtim.tv_nsec);
	return server_file_serve(req, conn, fd, &sb, etag);
}

/*---- wusserverversion.xml ----*/

static int handle_version(struct server_req *req, struct MHD_Connection *conn)
{
	char body[256];
	struct MHD_Response *r;
	int n, ret;

	n = snprintf(body, sizeof(body),
		     "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
		     "<ServerVersion><Product>wsus-replica</Product>"
		     "<ProtocolVersion>%s</ProtocolVersion></ServerVersion>\r\n",
		     SERVER_CLIENT_PROTOCOL_VERSION);
	r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return server_reply_status(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	MHD_add_response_header(r, "Content-Type", "text/xml");
	log_debug("server", "wusserverversion.xml peer=%s", req->peer);
	ret = server_queue_response(conn, MHD_HTTP_OK, r, (uint64_t)n);
	MHD_destroy_response(r);
	return ret;
}

int server_static_handle(struct server_req *req, struct MHD_Connection *conn, int which)
{
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		server_log_refused(req, MHD_HTTP_METHOD_NOT_ALLOWED, "GET/HEAD only");
		return server_reply_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD");
	}
	return which == SERVER_STATIC_VERSION ? handle_version(req, conn) : handle_selfupdate(req, conn);
}
