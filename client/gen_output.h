/* gen_output.h -- what `orcctl generate` prints, shared by the local mode
 * (--file) and the daemon mode (-m): the --json document and the one-line
 * summary on stderr, both from an engine result struct. */
#ifndef ORCCTL_GEN_OUTPUT_H
#define ORCCTL_GEN_OUTPUT_H

#include <signal.h>

#include "gen.h"
#include "gen_opts.h"
#include "orcctl.h"

/* One JSON document on stdout: prompt_ids, ids, text, stop_reason (`stop`:
 * "eos", "length", "stop", and with a daemon also "cancel", "context",
 * "shutdown"), timings, and logprobs / prompt_logprobs when recorded. */
void orcctl_gen_print_json(const struct orc_gen_result *r, const char *stop);
/* "[N prompt tokens in X ms ...; stop: eos]" on stderr. */
void orcctl_gen_print_summary(const struct orc_gen_result *r, const char *stop);

/* gen_daemon.c: `orcctl generate -m NAME`; *interrupted is set by SIGINT. */
int orcctl_generate_daemon(const struct orcctl_gen_opts *o, const struct orcctl_global *g,
			   volatile sig_atomic_t *interrupted);

#endif
