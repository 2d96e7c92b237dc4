/* orcctl.h -- what orcctl's subcommands share: global options, exit codes
 * and the subcommand entry points (one file per subcommand, cmd_*.c). */
#ifndef ORCCTL_H
#define ORCCTL_H

#include <stdbool.h>

/* Exit codes (documented in orcctl(1)). */
#define ORCCTL_EXIT_OK       0
#define ORCCTL_EXIT_FAILURE  1  /* the operation failed (bad file, server error, ...) */
#define ORCCTL_EXIT_USAGE    2  /* bad command line */
#define ORCCTL_EXIT_CONNECT  3  /* the daemon could not be reached */
#define ORCCTL_EXIT_CANCELED 4  /* interrupted (SIGINT) */
#define ORCCTL_EXIT_BUSY     5  /* the daemon is busy (queue full, too many requests): retry */
#define ORCCTL_EXIT_NOT_FOUND 6 /* no such model */
#define ORCCTL_EXIT_PROTOCOL 7  /* the daemon speaks another protocol version, or sent garbage */

struct orcctl_global {
	const char *socket_path;   /* --socket, else $ORCD_SOCKET, else the default */
	bool json;                 /* --json */
	bool quiet;                /* --quiet */
};

struct orcctl_cmd {
	const char *name;
	const char *summary;       /* one line for `orcctl --help` */
	/* argv[0] is the subcommand name; getopt state is reset before the call. */
	int (*run)(int argc, char **argv, const struct orcctl_global *g);
};

/* The table, in orcctl.c; NULL-terminated. */
extern const struct orcctl_cmd orcctl_cmds[];

/* Subcommands (cmd_<name>.c), in the order of `orcctl --help`. */
int cmd_generate(int argc, char **argv, const struct orcctl_global *g);
int cmd_chat(int argc, char **argv, const struct orcctl_global *g);
int cmd_tokenize(int argc, char **argv, const struct orcctl_global *g);
int cmd_detokenize(int argc, char **argv, const struct orcctl_global *g);
int cmd_models(int argc, char **argv, const struct orcctl_global *g);
int cmd_load(int argc, char **argv, const struct orcctl_global *g);
int cmd_unload(int argc, char **argv, const struct orcctl_global *g);
int cmd_status(int argc, char **argv, const struct orcctl_global *g);
int cmd_bench(int argc, char **argv, const struct orcctl_global *g);
int cmd_inspect(int argc, char **argv, const struct orcctl_global *g);
#endif
