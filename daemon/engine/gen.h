/* gen.h -- one generation (prompt in, tokens out) as a step-wise state
 * machine that a scheduler can batch with others, and orc_generate(), a
 * loop around it for single use (orcctl's local mode, tests, benchmarks).
 * Library code.
 *
 * Steps. orc_gen_new() checks the request. Then, until orc_gen_done():
 *   orc_gen_next_input(g, &item)   the tokens to evaluate: the prompt (in
 *                                  chunks of prefill_chunk), then one token
 *                                  per step; the caller sets item.seq
 *   orc_model_eval(m, items, n)    the caller evaluates a batch of items
 *   orc_gen_feed_logits(g, ...)    samples, detokenizes, applies the stop
 *                                  conditions, and yields an event
 * Each generation needs its own orc_seq, fresh (position 0) at the start.
 *
 * Prefix reuse (optional): orc_gen_attach(g, seq), called once before the
 * first orc_gen_next_input, starts seq from the model's cached KV blocks of
 * the longest matching prompt prefix (engine.h, orc_seq_reuse_prefix) when
 * params.reuse_prefix is set; those prompt tokens are then not handed out.
 * Outputs are unchanged (the engine's contract); timings report the count.
 *
 * Stop conditions, checked in this order after each sampled token:
 *   eos     the token is an end-of-generation token (orc_tok_is_eog). It is
 *           counted and listed in the ids, but adds no text.
 *   stop    the text now contains a stop string. The text ends just before
 *           it; the tokens that made it are in the ids. Text that could
 *           still become a stop string is held back, so a stop string never
 *           appears in any released text.
 *   length  max_tokens tokens have been generated.
 *
 * Context: prompt tokens + max_tokens must fit in the model's n_ctx
 * (orc_model_n_ctx); a request that does not is refused with -E2BIG by
 * orc_gen_new (nothing is truncated). max_tokens 0 asks for the room left.
 *
 * Text: the generated ids are decoded by the incremental detokenizer
 * (tokenizer.h, control tokens skipped) after the prompt ids, so spacing
 * depends on the prompt exactly as a one-shot decode of prompt + output
 * would. Every released piece is complete UTF-8.
 *
 * Log-probabilities (sampler.h): of the model's raw distribution. With
 * logprobs K, each generated token gets its own log-probability and the K
 * best; with prompt_logprobs K, each prompt position i gets the K best of
 * the distribution after prompt tokens 0..i (the one predicting token
 * i + 1; the last predicts the first generated token). That needs the
 * logits of every prompt position, so the prompt then goes in chunks of at
 * most ORC_GEN_LOGITS_ROWS_MAX tokens.
 *
 * Reproducibility contract: the same model file, prompt ids, parameters
 * and seed give the same ids and byte-identical text, whatever the number
 * of threads, the prefill chunking and whatever else shares the batch. It
 * rests on the engine's guarantee that a sequence's logits do not depend on
 * the batch, its splitting or the thread count (engine.h), and on the
 * sampler being a pure function of the logits and its own PRNG
 * (sampler.h). Timings are the only varying output. */
#ifndef ORC_GEN_H
#define ORC_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"
#include "sampler.h"

/* Prompt tokens per evaluation when every position's logits are needed
 * (prompt_logprobs): bounds the logits buffer to 32 x n_vocab floats. */
#define ORC_GEN_LOGITS_ROWS_MAX 32u

enum orc_stop_reason {
	ORC_STOP_NONE = 0,      /* still running */
	ORC_STOP_EOS,           /* "eos" */
	ORC_STOP_LENGTH,        /* "length" */
	ORC_STOP_STRING,        /* "stop" */
};
/* "eos", "length", "stop" ("none" while running). */
const char *orc_stop_reason_name(enum orc_stop_reason r);

struct orc_gen_params {
	struct orc_sampler_params sampling;
	uint32_t max_tokens;        /* 1..ORC_MAX_TOKENS_CAP; 0 = the room left in the context */
	const char *const *stop;    /* n_stop stop strings, copied by orc_gen_new (stop.h) */
	size_t n_stop;
	uint32_t logprobs;          /* top-K per generated token, 0..ORC_LOGPROBS_TOP_MAX */
	uint32_t prompt_logprobs;   /* top-K per prompt position, 0..ORC_LOGPROBS_TOP_MAX */
	bool host_logits;           /* the caller reads every step's logits itself (its own
	                             * logprobs): never ask the engine for its argmax instead */
	uint32_t prefill_chunk;     /* prompt tokens per evaluation; 0 = all at once */
	bool reuse_prefix;          /* orc_gen_attach reuses cached prompt blocks (default
	                             * true); never with prompt_logprobs, which need the
	                             * logits of every prompt position */
};

/* Sampling defaults (sampler.h), max_tokens 0, no stop strings or logprobs,
 * reuse_prefix true. */
void orc_gen_params_default(struct orc_gen_params *p);

struct orc_gen_timings {
	uint32_t prompt_tokens;
	uint32_t generated_tokens;
	uint32_t cached_prompt_tokens; /* prompt tokens served from the prefix cache */
	double queue_ms;            /* orc_gen_new .. the first orc_gen_next_input */
	double prompt_ms;           /* first input .. first token sampled */
	double ttft_ms;             /* orc_gen_new .. first token sampled */
	double decode_ms;           /* first token .. last token */
	double total_ms;            /* orc_gen_new .. last token */
	double prompt_tokens_per_s; /* prompt_tokens / prompt_ms */
	double tokens_per_s;        /* (generated_tokens - 1) / decode_ms; 0 with one token */
};

/* Top-K log-probabilities per position, flat. */
struct orc_gen_logprobs {
	uint32_t k;                 /* entries per position (0: none recorded) */
	size_t n;                   /* positions */
	float *chosen;              /* [n] the sampled token's logprob; NULL for the prompt */
	struct orc_logprob *top;    /* [n][k], best first */
};

/* What one orc_gen_feed_logits() produced. Pointers borrow from the
 * generation and stay valid until its next call. */
struct orc_gen_event {
	bool has_token;             /* false while the prompt is still going in */
	int32_t id;
	const char *text;           /* text released by this step (may be empty) */
	size_t text_len;
	float logprob;              /* with logprobs > 0 */
	const struct orc_logprob *top;
	uint32_t n_top;
	bool done;                  /* the generation is over: stop_reason says why */
	enum orc_stop_reason stop_reason;
};

struct orc_gen;

/* Checks everything and copies what it needs (prompt, stop strings). Errors:
 * -EINVAL empty prompt, id out of range (naming index and id), bad
 * parameter (naming it); -E2BIG prompt + max_tokens over n_ctx or a limit;
 * -EILSEQ a stop string that is not UTF-8. The model must outlive g. */
int orc_gen_new(const struct orc_model *m, const struct orc_gen_params *p,
		const int32_t *prompt, size_t n_prompt, struct orc_gen **ret, struct orc_err *err);
void orc_gen_free(struct orc_gen *g);   /* NULL is a no-op */

bool orc_gen_done(const struct orc_gen *g);

/* Optional, once, before the first orc_gen_next_input: seq is the fresh
 * sequence (position 0) that will evaluate g. With params.reuse_prefix (and
 * no prompt_logprobs) the cached blocks of the longest matching prompt
 * prefix are attached to seq and those tokens are skipped; at least the
 * last prompt token is still evaluated. *ret_cached (may be NULL): the
 * prompt tokens reused, 0 when nothing was. -EINVAL when called late or
 * when seq is not at position 0. */
int orc_gen_attach(struct orc_gen *g, struct orc_seq *seq, uint32_t *ret_cached,
		   struct orc_err *err);

/* Fill item->ids, n, logits_all, logits (a buffer owned by g, big enough
 * for the answer; NULL for a prompt chunk before the last when no
 * prompt_logprobs are wanted) and argmax with the next tokens to evaluate;
 * item->seq is left to the caller. A plain greedy request (temperature 0, no
 * penalties, no logprobs) asks for the engine's argmax (engine.h) instead of
 * logits, so that on a GPU only the id crosses to the host; the tokens are
 * the same. -EINVAL when the generation is done or an evaluation is
 * outstanding. */
int orc_gen_next_input(struct orc_gen *g, struct orc_eval_item *item);

/* After the item was evaluated: its logits (item->logits, or a copy laid out
 * the same: n x n_vocab when logits_all, else n_vocab; ignored, and may be
 * NULL, when the item asked for none or for the argmax, which g holds). */
int orc_gen_feed_logits(struct orc_gen *g, const float *logits, struct orc_gen_event *ret_ev,
			struct orc_err *err);

/* ---- results so far (borrowed) ---- */
const int32_t *orc_gen_ids(const struct orc_gen *g, size_t *ret_n);
const char *orc_gen_text(const struct orc_gen *g, size_t *ret_len);  /* NUL-terminated */
enum orc_stop_reason orc_gen_stop_reason(const struct orc_gen *g);
void orc_gen_get_timings(const struct orc_gen *g, struct orc_gen_timings *ret);
const struct orc_gen_logprobs *orc_gen_logprobs(const struct orc_gen *g);
const struct orc_gen_logprobs *orc_gen_prompt_logprobs(const struct orc_gen *g);

/* ---- single use ---- */

struct orc_gen_result {
	int32_t *prompt_ids;        /* [n_prompt] */
	size_t n_prompt;
	int32_t *ids;               /* [n_ids] generated */
	size_t n_ids;
	char *text;                 /* [text_len + 1], NUL-terminated */
	size_t text_len;
	enum orc_stop_reason stop_reason;
	struct orc_gen_timings timings;
	struct orc_gen_logprobs logprobs;         /* n == n_ids when requested */
	struct orc_gen_logprobs prompt_logprobs;  /* n == n_prompt when requested */
};

/* Move the results out of g (which then only serves orc_gen_free). */
void orc_gen_take_result(struct orc_gen *g, struct orc_gen_result *ret);
void orc_gen_result_free(struct orc_gen_result *r);   /* frees the members */

/* Called for every event that has a token; a non-zero return stops the
 * generation, and orc_generate() returns -ECANCELED. */
typedef int (*orc_gen_event_fn)(void *user, const struct orc_gen_event *ev);

/* Run one generation to the end on a fresh sequence of m. `ret` may be NULL
 * when the caller only streams; on success the caller frees it with
 * orc_gen_result_free(). */
int orc_generate(struct orc_model *m, const struct orc_gen_params *p, const int32_t *prompt,
		 size_t n_prompt, orc_gen_event_fn cb, void *user, struct orc_gen_result *ret,
		 struct orc_err *err);

#endif
