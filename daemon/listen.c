/* listen.c -- socket activation, or a Unix socket of our own (see listen.h).
 * Without libsystemd the LISTEN_PID / LISTEN_FDS protocol of
 * sd_listen_fds(3) is read directly; it is three environment variables. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "listen.h"

#define SD_FDS_START 3

#ifdef HAVE_SYSTEMD
static int activated_fds(void)
{
	return sd_listen_fds(1);
}
#else
static int activated_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long p, n;
	char *end;

	if (!pid || !fds)
		return 0;
	p = strtol(pid, &end, 10);
	if (*end || p != (long)getpid())
		return 0;
	n = strtol(fds, &end, 10);
	if (*end || n < 0 || n > 1024)
		return -EINVAL;
	for (long i = 0; i < n; i++)
		fcntl(SD_FDS_START + (int)i, F_SETFD, FD_CLOEXEC);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}
#endif

static int is_unix_stream_listener(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int type = 0, acc = 0;
	socklen_t l = sizeof(type);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.ss_family != AF_UNIX)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM)
		return 0;
	l = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0 || !acc)
		return 0;
	return 1;
}

static int take_activated(struct orc_listen *ls, int n, struct orc_err *err)
{
	if (n > ORC_LISTEN_FDS_MAX)
		return orc_err_set(err, -E2BIG, "systemd passed %d sockets; at most %d are used",
				   n, ORC_LISTEN_FDS_MAX);
	for (int i = 0; i < n; i++) {
		int fd = SD_FDS_START + i;

		if (!is_unix_stream_listener(fd))
			return orc_err_set(err, -EINVAL,
					   "socket %d from systemd is not a listening Unix stream socket", fd);
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			return orc_err_set(err, -errno, "fcntl on socket %d: %s", fd, strerror(errno));
		ls->fds[ls->n_fds++] = fd;
	}
	ls->activated = true;
	return 0;
}

/* Remove what is at `path` only when it is a socket of ours (owned by our
 * uid) that nobody listens on. Anything else there -- a file, a directory,
 * a link, or a socket another user made -- is left alone with an error:
 * orcd never removes what it does not own. */
static int unlink_stale(const char *path, struct orc_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : orc_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return orc_err_set(err, -EEXIST, "%s exists and is not a socket: not removing it", path);
	if (st.st_uid != geteuid())
		return orc_err_set(err, -EEXIST, "%s is a socket owned by uid %u, not by orcd's uid %u: "
				   "not removing it", path, (unsigned)st.st_uid, (unsigned)geteuid());
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return orc_err_set(err, -errno, "socket: %s", strerror(errno));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0)
		return orc_err_set(err, -EADDRINUSE, "%s: another daemon is listening there", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return orc_err_set(err, -errno, "unlink %s: %s", path, strerror(errno));
	return 0;
}

static int set_group(const char *path, const char *group, struct orc_err *err)
{
	struct group *gr = getgrnam(group);
	char *end;
	long gid;

	if (gr)
		gid = gr->gr_gid;
	else {
		gid = strtol(group, &end, 10);
		if (*group == '\0' || *end || gid < 0)
			return orc_err_set(err, -ENOENT, "socket_group: no group '%s'", group);
	}
	if (chown(path, (uid_t)-1, (gid_t)gid) < 0)
		return orc_err_set(err, -errno, "chgrp %s %s: %s", group, path, strerror(errno));
	return 0;
}

static int create_socket(struct orc_listen *ls, const char *path, const char *group,
			 struct orc_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return orc_err_set(err, -ENAMETOOLONG, "socket path too long: %s", path);
	r = unlink_stale(path, err);
	if (r < 0)
		return r;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return orc_err_set(err, -errno, "socket: %s", strerror(errno));
	old = umask(0117);   /* the socket is born 0660 */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0) {
		r = orc_err_set(err, -errno, "bind %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = orc_err_set(err, -errno, "listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	if (group && *group && (r = set_group(path, group, err)) < 0)
		goto fail;
	if (lstat(path, &st) < 0) {
		r = orc_err_set(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	ls->dev = st.st_dev;
	ls->ino = st.st_ino;
	ls->path = strdup(path);
	if (!ls->path) {
		r = orc_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	ls->fds[ls->n_fds++] = fd;
	return 0;
fail:
	close(fd);
	unlink(path);
	return r;
}

int orc_listen_open(struct orc_listen *ls, const char *path, const char *group,
		    struct orc_err *err)
{
	int n;

	memset(ls, 0, sizeof(*ls));
	n = activated_fds();
	if (n < 0)
		return orc_err_set(err, n, "socket activation: %s", strerror(-n));
	if (n > 0)
		return take_activated(ls, n, err);
	if (!path || !*path)
		return orc_err_set(err, -EINVAL, "no socket path and no socket from systemd");
	return create_socket(ls, path, group, err);
}

void orc_listen_close(struct orc_listen *ls)
{
	for (size_t i = 0; i < ls->n_fds; i++)
		close(ls->fds[i]);   /* closing our copy; never shutdown() */
	ls->n_fds = 0;
	if (ls->path) {
		struct stat st;
		/* only the socket we made: not what someone put there since */
		if (lstat(ls->path, &st) == 0 && st.st_dev == ls->dev && st.st_ino == ls->ino)
			unlink(ls->path);
		free(ls->path);
		ls->path = NULL;
	}
}
