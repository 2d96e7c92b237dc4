/* private.h -- orcctl's local mode (--file MODEL.gguf): a private orcd that
 * serves just that file over a socketpair, started the way tmux starts its
 * server (orcd --serve-fd 3 --model-file PATH), and then spoken to through
 * libocclient like any daemon. orcd is found through $ORCD_BINARY, next to
 * orcctl's own executable in the build tree (../daemon/orcd), or in the
 * configured sbindir. orcctl itself never initialises CUDA, so forking here
 * is safe; the private orcd may use the GPU. */
#ifndef ORCCTL_PRIVATE_H
#define ORCCTL_PRIVATE_H

#include <stdint.h>

#include "occlient.h"

struct orcctl_private_opts {
	const char *file;          /* the GGUF file to serve */
	int threads;               /* CPU threads; 0: orcd's default (the cores available) */
	uint32_t ctx;              /* tokens per sequence; 0: orcd's default */
	uint32_t max_tokens;       /* what a request that sets none generates, clipped to the
	                            * room left in the context; 0: all that room. A request
	                            * may ask for up to ORC_MAX_TOKENS_CAP. */
};

struct orcctl_private;

/* Start the private orcd and connect to it. Returns ORCCTL_EXIT_OK with
 * *ret (the process), *ret_conn and *ret_model (the file's stem: the
 * model's name there, owned by *ret), or an exit code after saying why on
 * stderr (prefixed with `cmd`). */
int orcctl_private_start(const char *cmd, const struct orcctl_private_opts *po,
			 struct orcctl_private **ret, occ_conn **ret_conn, const char **ret_model);

/* Close the connection (the private orcd then stops), wait for the
 * process and free p. `rc` is the command's exit code so far; it is
 * returned, except that a lost connection becomes ORCCTL_EXIT_FAILURE when
 * orcd failed (it said why on stderr). */
int orcctl_private_end(const char *cmd, struct orcctl_private *p, occ_conn *c, int rc);

#endif
