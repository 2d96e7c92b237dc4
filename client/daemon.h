/* daemon.h -- what orcctl's daemon-side commands share: connecting with
 * the global --socket, turning libocclient status codes into exit codes
 * and one-line error messages, and small parsers. */
#ifndef ORCCTL_DAEMON_H
#define ORCCTL_DAEMON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "occlient.h"
#include "orcctl.h"

/* Connect to --socket / $ORCD_SOCKET / the default. Returns ORCCTL_EXIT_OK,
 * or an exit code after printing why (prefixed with `cmd`). */
int orcctl_connect(const char *cmd, const struct orcctl_global *g, occ_conn **ret);

/* 0 when `name` is a valid model name, else ORCCTL_EXIT_USAGE after saying so. */
int orcctl_check_model(const char *cmd, const char *name);

/* The exit code for a status (orcctl.h; documented in orcctl(1)). */
int orcctl_exit_for(enum occ_status s);

/* Print "orcctl CMD: NAME: detail" on stderr and return the exit code. */
int orcctl_fail(const char *cmd, occ_conn *c, enum occ_status s);

/* Options of a command that takes only --json and --help and no operands.
 * Returns -1 to go on, with *ret_json set (from -j or the global --json),
 * or the exit code to return (after --help, or a usage error). */
int orcctl_parse_json_only(int argc, char **argv, const struct orcctl_global *g,
			   void (*usage)(FILE *out), bool *ret_json);


/* "1,2,3", "1 2 3" or "[1, 2, 3]" (any mix of commas, blanks and brackets)
 * -> ids (malloc'ed). Returns ORCCTL_EXIT_OK, or an exit code after saying
 * why (naming the word that is not an id). */
int orcctl_parse_id_list(const char *cmd, const char *s, int32_t **ret, size_t *ret_n);

/* "123", "5m", "2h", "forever" (-1) -> seconds; -EINVAL. */
int orcctl_parse_duration(const char *s, int64_t *ret);

/* A model as a JSON object (models, load, status). */
struct jsonw;
void orcctl_json_model(struct jsonw *w, const occ_model *m);

/* Human sizes: "1.5 GiB". buf of at least 16 bytes. */
const char *orcctl_fmt_bytes(uint64_t n, char *buf, size_t size);

#endif
