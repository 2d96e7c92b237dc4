/* listen.h -- the listening sockets of orcd: those systemd passes through
 * socket activation (sd_listen_fds), else one Unix stream socket that orcd
 * creates itself (stale socket unlinked, mode 0660, the configured group).
 * A socket systemd handed over is never unlinked or shut down. */
#ifndef ORC_LISTEN_H
#define ORC_LISTEN_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>

#include "error.h"

#define ORC_LISTEN_FDS_MAX 8

struct orc_listen {
	int fds[ORC_LISTEN_FDS_MAX];
	size_t n_fds;
	bool activated;        /* the fds came from systemd */
	char *path;            /* the socket we created (unlinked on close); NULL when activated */
	dev_t dev;             /* ... and its inode: close unlinks only that file */
	ino_t ino;
};

/* Take systemd's sockets when there are any, else create `path`.
 * `group` (may be NULL) names the group the created socket gets. */
int orc_listen_open(struct orc_listen *ls, const char *path, const char *group,
		    struct orc_err *err);
/* Stop listening: close the fds; unlink the socket only when we created it. */
void orc_listen_close(struct orc_listen *ls);

#endif
