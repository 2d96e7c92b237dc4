/* gen_output.h -- what `orcctl generate` prints, for both ways it runs a
 * model (a private orcd for --file, the system's orcd for -m): the finished
 * generation as one document, printed as --json or as the one-line summary
 * on stderr; and the generation itself (gen_daemon.c). */
#ifndef ORCCTL_GEN_OUTPUT_H
#define ORCCTL_GEN_OUTPUT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "gen_opts.h"
#include "occlient.h"
#include "orcctl.h"

struct orcctl_gen_timings {
	uint32_t prompt_tokens, generated_tokens;
	uint32_t cached_prompt_tokens;  /* prompt tokens served from the prefix cache */
	double queue_ms, prompt_ms, ttft_ms, decode_ms, total_ms;
	double prompt_tokens_per_s, tokens_per_s;
};

struct orcctl_logprob {
	int32_t id;
	float logprob;
};

/* Top-K log-probabilities per position, flat. */
struct orcctl_gen_logprobs {
	uint32_t k;                     /* entries per position (0: none) */
	size_t n;                       /* positions */
	float *chosen;                  /* [n] the generated token's; NULL for the prompt */
	struct orcctl_logprob *top;     /* [n][k], best first */
};

/* A finished generation. */
struct orcctl_gen_doc {
	int32_t *prompt_ids;            /* [n_prompt] */
	size_t n_prompt;
	int32_t *ids;                   /* [n_ids] generated */
	size_t n_ids;
	char *text;                     /* [text_len + 1] */
	size_t text_len;
	struct orcctl_gen_timings timings;
	struct orcctl_gen_logprobs logprobs;         /* n == n_ids when asked for */
	struct orcctl_gen_logprobs prompt_logprobs;  /* n == n_prompt when asked for; entry i
	                                              * is the distribution after prompt token i */
};
void orcctl_gen_doc_free(struct orcctl_gen_doc *d);   /* frees the members */

/* One JSON document on stdout: prompt_ids, ids, text, stop_reason ("eos",
 * "length", "stop", "cancel", "context", "shutdown"), timings, and
 * logprobs / prompt_logprobs when recorded. */
void orcctl_gen_print_json(const struct orcctl_gen_doc *d, const char *stop);
/* "[N prompt tokens in X ms ...; stop: eos]" on stderr. */
void orcctl_gen_print_summary(const struct orcctl_gen_doc *d, const char *stop);

/* gen_daemon.c: run the generation of `o` with model `model` on connection
 * c (borrowed), streaming or printing as the options say. *interrupted is
 * set by SIGINT (the request is then cancelled). Returns the exit code. */
int orcctl_generate_on(occ_conn *c, const char *model, const struct orcctl_gen_opts *o,
		       const struct orcctl_global *g, volatile sig_atomic_t *interrupted);
/* `orcctl generate -m NAME`: connect to the daemon (--socket), then the above. */
int orcctl_generate_daemon(const struct orcctl_gen_opts *o, const struct orcctl_global *g,
			   volatile sig_atomic_t *interrupted);

#endif
