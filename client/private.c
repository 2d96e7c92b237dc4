/* private.c -- the private orcd of orcctl's local mode (see private.h):
 * find the binary, start it on one end of a socketpair with settings that
 * make it behave like the in-process engine did (one sequence, 256 tokens
 * by default, no system configuration, quiet but for errors), and
 * reap it when the command is done. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "orcctl.h"
#include "private.h"

#ifndef ORC_SBINDIR
#define ORC_SBINDIR "/usr/local/sbin"
#endif

#define SERVE_FD 3
#define STOP_WAIT_MS 10000   /* after the connection closes, then SIGTERM, then as long again: SIGKILL */

struct orcctl_private {
	pid_t pid;
	char path[4096];         /* the orcd binary */
	char model[256];         /* the file's stem */
};

/* ---- finding orcd ---- */

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* $ORCD_BINARY; else ../daemon/orcd beside our executable (in the build
 * tree; libtool keeps the real binary in client/.libs); else the installed
 * one. 0, or -ENOENT after saying where it looked. */
static int find_orcd(const char *cmd, char *buf, size_t size)
{
	const char *env = getenv("ORCD_BINARY");
	char exe[4096], sibling[4096 + 32] = "", *slash;
	ssize_t n;

	if (env && *env) {
		if (executable(env) && (size_t)snprintf(buf, size, "%s", env) < size)
			return 0;
		fprintf(stderr, "orcctl %s: ORCD_BINARY=%s is not an executable orcd (%s)\n", cmd, env,
			strerror(errno ? errno : ENAMETOOLONG));
		return -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')))
			*slash = '\0';
		n = (ssize_t)strlen(exe);
		if (n >= 6 && strcmp(exe + n - 6, "/.libs") == 0)
			exe[n - 6] = '\0';
		snprintf(sibling, sizeof(sibling), "%s/../daemon/orcd", exe);
		if (executable(sibling) && (size_t)snprintf(buf, size, "%s", sibling) < size)
			return 0;
	}
	if (executable(ORC_SBINDIR "/orcd") && (size_t)snprintf(buf, size, "%s", ORC_SBINDIR "/orcd") < size)
		return 0;
	fprintf(stderr, "orcctl %s: --file needs orcd, which runs the model; it is not at %s%s"
		ORC_SBINDIR "/orcd (set ORCD_BINARY to its path)\n", cmd, sibling,
		*sibling ? " nor " : "");
	return -ENOENT;
}

/* The model's name in the private orcd: the file name without ".gguf". */
static int stem(const char *cmd, const char *file, char *buf, size_t size)
{
	const char *base = strrchr(file, '/');
	size_t len;

	base = base ? base + 1 : file;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".gguf") == 0)
		len -= 5;
	if (len == 0 || len >= size) {
		fprintf(stderr, "orcctl %s: %s: the file name cannot name a model\n", cmd, file);
		return -EINVAL;
	}
	memcpy(buf, base, len);
	buf[len] = '\0';
	return 0;
}

/* ---- starting it ---- */

/* In the child: close what orcctl inherited beyond stdin/out/err (orcd
 * must not hold a caller's pipe or socket open), except `keep`. */
static void close_inherited(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (fd > STDERR_FILENO && fd != keep && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

/* In the child: fd 3 is our end of the pair, stdout goes to stderr (the
 * generated text is orcctl's alone), no systemd hand-over reaches it, and
 * its own process group keeps the terminal's signals away from it (it
 * stops when the connection closes). */
static void exec_orcd(const char *path, const char *const argv[], int fd)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);
	if (fd == SERVE_FD)
		fcntl(fd, F_SETFD, 0);
	else if (dup2(fd, SERVE_FD) < 0)
		_exit(127);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	close_inherited(SERVE_FD);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	execv(path, (char *const *)argv);
	fprintf(stderr, "orcctl: cannot run %s: %s\n", path, strerror(errno));
	_exit(127);
}

static int spawn(struct orcctl_private *p, const struct orcctl_private_opts *po, int *ret_fd)
{
	char threads[32], ctx[48], max_tokens[48], dflt_tokens[48], fd_arg[16];
	const char *argv[24];
	int n = 0, sv[2];

	snprintf(fd_arg, sizeof(fd_arg), "%d", SERVE_FD);
	argv[n++] = "orcd";
	argv[n++] = "--serve-fd";
	argv[n++] = fd_arg;
	argv[n++] = "--model-file";
	argv[n++] = po->file;
	argv[n++] = "--config";
	argv[n++] = "/dev/null";
	argv[n++] = "--backend";
	argv[n++] = "auto";
	argv[n++] = "--set";
	argv[n++] = "log_level=err";
	argv[n++] = "--set";
	argv[n++] = "max_sequences=1";
	if (po->threads > 0) {
		snprintf(threads, sizeof(threads), "%d", po->threads);
		argv[n++] = "--threads";
		argv[n++] = threads;
	}
	if (po->ctx > 0) {
		snprintf(ctx, sizeof(ctx), "max_context=%" PRIu32, po->ctx);
		argv[n++] = "--set";
		argv[n++] = ctx;
	}
	snprintf(max_tokens, sizeof(max_tokens), "max_tokens=%u", (unsigned)ORC_MAX_TOKENS_CAP);
	argv[n++] = "--set";
	argv[n++] = max_tokens;
	if (po->max_tokens > 0) {
		snprintf(dflt_tokens, sizeof(dflt_tokens), "default_max_tokens=%" PRIu32, po->max_tokens);
		argv[n++] = "--set";
		argv[n++] = dflt_tokens;
	}
	argv[n] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (p->pid == 0)
		exec_orcd(p->path, argv, sv[1]);
	close(sv[1]);
	*ret_fd = sv[0];
	return 0;
}

/* ---- reaping it ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait up to ms for the process; true when it was reaped (*status set). */
static bool wait_for(pid_t pid, long ms, int *status)
{
	long waited = 0, step = 1;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return r == pid;
		if (waited >= ms)
			return false;
		sleep_ms(step);
		waited += step;
		step = step < 50 ? step * 2 : 50;
	}
}

static int reap(const char *cmd, struct orcctl_private *p)
{
	int status = 0;

	if (!wait_for(p->pid, STOP_WAIT_MS, &status)) {
		fprintf(stderr, "orcctl %s: the private orcd did not stop; terminating it\n", cmd);
		kill(p->pid, SIGTERM);
		if (!wait_for(p->pid, STOP_WAIT_MS, &status)) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
		}
	}
	return status;
}

/* ---- the interface ---- */

int orcctl_private_start(const char *cmd, const struct orcctl_private_opts *po,
			 struct orcctl_private **ret, occ_conn **ret_conn, const char **ret_model)
{
	struct orcctl_private *p = calloc(1, sizeof(*p));
	enum occ_status s;
	int fd, r, rc;

	if (!p) {
		fprintf(stderr, "orcctl %s: out of memory\n", cmd);
		return ORCCTL_EXIT_FAILURE;
	}
	if (find_orcd(cmd, p->path, sizeof(p->path)) < 0 ||
	    stem(cmd, po->file, p->model, sizeof(p->model)) < 0) {
		free(p);
		return ORCCTL_EXIT_FAILURE;
	}
	if ((r = spawn(p, po, &fd)) < 0) {
		fprintf(stderr, "orcctl %s: starting %s: %s\n", cmd, p->path, strerror(-r));
		free(p);
		return ORCCTL_EXIT_FAILURE;
	}
	s = occ_connect_fd(fd, ret_conn);
	if (s != OCC_OK) {
		const char *detail = occ_last_error();

		rc = orcctl_private_end(cmd, p, NULL, ORCCTL_EXIT_CONNECT);
		if (rc == ORCCTL_EXIT_CONNECT)
			fprintf(stderr, "orcctl %s: the private orcd: %s\n", cmd,
				detail && *detail ? detail : occ_strerror(s));
		return rc;
	}
	*ret = p;
	*ret_model = p->model;
	return ORCCTL_EXIT_OK;
}

int orcctl_private_end(const char *cmd, struct orcctl_private *p, occ_conn *c, int rc)
{
	int status;

	occ_close(c);
	if (!p)
		return rc;
	status = reap(cmd, p);
	free(p);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "orcctl %s: the private orcd was killed by signal %d\n", cmd,
			WTERMSIG(status));
		return rc == ORCCTL_EXIT_OK ? rc : ORCCTL_EXIT_FAILURE;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && rc == ORCCTL_EXIT_CONNECT)
		return ORCCTL_EXIT_FAILURE;   /* it said why */
	return rc;
}
