/* gen_opts.h -- the command line of `orcctl generate`, parsed into plain
 * values that both modes (--file: a private orcd; -m: the daemon) turn
 * into a protocol request. Fields a user did not give stay unset and the
 * engine's defaults apply. */
#ifndef ORCCTL_GEN_OPTS_H
#define ORCCTL_GEN_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "limits.h"

/* Default --max-tokens (clipped to the room left in the context). */
#define ORCCTL_GEN_MAX_TOKENS_DEFAULT 256u

/* Bits of orcctl_gen_opts.set: which sampling options were given. */
enum {
	ORCCTL_GEN_SET_MAX_TOKENS  = 1u << 0,
	ORCCTL_GEN_SET_TEMPERATURE = 1u << 1,
	ORCCTL_GEN_SET_TOP_K       = 1u << 2,
	ORCCTL_GEN_SET_TOP_P       = 1u << 3,
	ORCCTL_GEN_SET_MIN_P       = 1u << 4,
	ORCCTL_GEN_SET_REPEAT      = 1u << 5,
	ORCCTL_GEN_SET_REPEAT_N    = 1u << 6,
	ORCCTL_GEN_SET_PRESENCE    = 1u << 7,
	ORCCTL_GEN_SET_FREQUENCY   = 1u << 8,
	ORCCTL_GEN_SET_SEED        = 1u << 9,
};

struct orcctl_gen_opts {
	const char *file;            /* --file MODEL.gguf (local mode: a private orcd) */
	const char *model;           /* -m NAME (daemon mode); exactly one of file/model */
	const char *prompt;          /* the PROMPT argument; NULL when absent */
	int32_t *prompt_ids;         /* --prompt-ids, malloc'ed */
	size_t n_prompt_ids;
	bool have_prompt_ids;

	unsigned set;                /* ORCCTL_GEN_SET_* */
	uint32_t max_tokens;
	float temperature, top_p, min_p;
	int32_t top_k, repeat_last_n;
	float repeat_penalty, presence_penalty, frequency_penalty;
	uint64_t seed;
	const char *stop[ORC_STOP_STRINGS_MAX];  /* borrowed from argv */
	size_t n_stop;
	uint32_t logprobs, prompt_logprobs;

	int threads;                 /* 0 = the cores available */
	uint32_t ctx;                /* 0 = the engine's default */
	bool json;
	bool help;                   /* --help was given: usage printed, nothing else to do */
};

/* Parse `orcctl generate ...` (argv[0] is "generate"). Returns 0, or
 * ORCCTL_EXIT_USAGE after printing what was wrong to stderr. Free with
 * orcctl_gen_opts_free() in both cases. */
int orcctl_gen_opts_parse(int argc, char **argv, struct orcctl_gen_opts *o);
void orcctl_gen_opts_free(struct orcctl_gen_opts *o);
void orcctl_gen_opts_usage(FILE *out);

/* "1,2,3" -> ids (malloc'ed). -EINVAL on syntax, -E2BIG over the limit. */
int orcctl_parse_ids(const char *s, int32_t **ret, size_t *ret_n);

#endif
