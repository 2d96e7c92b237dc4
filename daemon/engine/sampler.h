/* sampler.h -- picks the next token from a row of logits: repetition,
 * presence and frequency penalties, then greedy or top-k / top-p / min-p /
 * temperature sampling driven by a seeded portable PRNG (rng.h); also the
 * log-probabilities reported to clients. Library code.
 *
 * The algorithm, exactly (so that any implementation reproduces it):
 *
 *  0. The logits of one position, n_vocab floats, are checked: NaN or +inf
 *     is -EDOM naming the id. -inf is allowed (a masked token), all -inf is
 *     -EDOM. The caller's array is never modified; work happens on a copy.
 *  1. Penalties (llama.cpp semantics), over the history window: the last
 *     repeat_last_n tokens passed to orc_sampler_accept() (-1: all of them,
 *     0: none); the generation loop (gen.h) accepts the prompt tokens first,
 *     then every sampled token. For each distinct id in the window, with c
 *     its count there:
 *         logit = logit <= 0 ? logit * repeat_penalty : logit / repeat_penalty
 *         logit -= c * frequency_penalty + presence_penalty
 *     (all in float, in that order).
 *  2. temperature == 0: greedy. The result is the id of the largest
 *     penalised logit, the lowest id on a tie. The PRNG is not used, and the
 *     remaining stages do not apply.
 *  3. Candidate order: "better" means a larger logit, or an equal logit and
 *     a lower id; the stages below that sort use this total order.
 *  4. top-k (top_k > 0 and < n_vocab): keep the top_k best candidates,
 *     sorted best first.
 *  5. top-p (top_p < 1): p_i = exp(l_i - l_max) / sum_j exp(l_j - l_max)
 *     over the candidates left (in double; the sum runs over the
 *     candidates in their current order: best first after top-k,
 *     ascending id otherwise). Sort best first, and keep the shortest
 *     prefix whose cumulative p (summed best first) is >= top_p; at least
 *     one token.
 *  6. min-p (min_p > 0): keep the candidates with l_i >= l_max + logf(min_p)
 *     (float), preserving their order.
 *  7. Temperature and draw: w_i = exp((l_i - l_max) / temperature) in
 *     double, S = sum of w_i in candidate order (best first when stage 4 or
 *     5 ran, otherwise ascending id). u = orc_rng_uniform() * S (one PRNG
 *     draw per sampled token), and the result is the first candidate, in
 *     that same order, whose running sum of w exceeds u (the last one if
 *     rounding leaves u at S).
 *
 * top-p and min-p therefore see the distribution at temperature 1, as in
 * llama.cpp's default chain. The logits that go in, the integer PRNG and
 * IEEE double arithmetic fix the result; the only library function used is
 * exp(), so two machines agree whenever their libm's exp() agrees (glibc's
 * is correctly rounded in practice). Nothing depends on thread count.
 *
 * Log-probabilities (orc_logprobs_*) always describe the model's own
 * distribution: log_softmax of the raw logits, before penalties, top-k/p,
 * min-p or temperature. lse = l_max + log(sum exp(l_i - l_max)), summed in
 * double in ascending id order. */
#ifndef ORC_SAMPLER_H
#define ORC_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "limits.h"
#include "rng.h"

struct orc_sampler_params {
	float temperature;        /* [0, 1e6]; 0 = greedy             (default 0.8)  */
	int32_t top_k;            /* >= 0; 0 = off                    (default 40)   */
	float top_p;              /* [0, 1]; 1 = off                  (default 0.95) */
	float min_p;              /* [0, 1]; 0 = off                  (default 0.05) */
	float repeat_penalty;     /* (0, 100]; 1 = off                (default 1)    */
	int32_t repeat_last_n;    /* >= -1; -1 = all, 0 = none        (default 64)   */
	float presence_penalty;   /* [-2, 2] as in OpenAI's API; 0 = off (default 0) */
	float frequency_penalty;  /* [-2, 2]; 0 = off                 (default 0)    */
	uint64_t seed;            /* PRNG seed (rng.h)                (default 0)    */
};

/* A token and its log-probability under the model's raw distribution. */
struct orc_logprob {
	int32_t id;
	float logprob;
};

struct orc_sampler;

void orc_sampler_params_default(struct orc_sampler_params *p);
/* -EINVAL naming the first parameter that is NaN, infinite or out of range. */
int orc_sampler_params_check(const struct orc_sampler_params *p, struct orc_err *err);

/* Validates p (see above), seeds the PRNG with p->seed. */
int orc_sampler_new(const struct orc_sampler_params *p, uint32_t n_vocab,
		    struct orc_sampler **ret, struct orc_err *err);
void orc_sampler_free(struct orc_sampler *s);   /* NULL is a no-op */

/* Append a token to the penalty history (-EINVAL when out of range,
 * -ENOMEM when the unbounded history cannot grow). */
int orc_sampler_accept(struct orc_sampler *s, int32_t id, struct orc_err *err);

/* Pick the next token from logits [n_vocab] as described above. It does not
 * accept the token: call orc_sampler_accept() with it. */
int orc_sampler_sample(struct orc_sampler *s, const float *logits, int32_t *ret_id,
		       struct orc_err *err);

/* The ORC_SAMPLE_TOPK_MAX best logits of a row and their ids, best first in
 * stage 3's order, as a backend picks them where the logits are (the GPU;
 * backend.h's topk op); id[0] is -1 where stage 0 would refuse the row. */
struct orc_topk {
	float logit[ORC_SAMPLE_TOPK_MAX];
	int32_t id[ORC_SAMPLE_TOPK_MAX];
};

/* The k best of logits [n] (1 <= k <= min(n, ORC_SAMPLE_TOPK_MAX), else
 * -EINVAL) with their ids, best first in stage 3's order, into ret_logit
 * and ret_id [k]; ret_id[0] is -1 where stage 0 would refuse the row.
 * What a backend's topk op computes (backend.h). */
int orc_sampler_top_cands(const float *logits, uint32_t n, uint32_t k, float *ret_logit, int32_t *ret_id);

/* Whether p lets a sampler pick from a row's top candidates alone: sampling
 * (temperature > 0) with no penalty and with 0 < top_k <=
 * ORC_SAMPLE_TOPK_MAX and top_k < n_vocab, where stage 4 leaves just
 * those. */
bool orc_sampler_top_ok(const struct orc_sampler_params *p, uint32_t n_vocab);

/* orc_sampler_sample() from the row's candidates alone (orc_sampler_top_ok
 * must hold, else -EINVAL): stages 5 to 7 run on top's first top_k, so the
 * pick and the PRNG's state are exactly those orc_sampler_sample() gives
 * on the whole row. -EDOM for a refused row, -EINVAL for candidates out of
 * range or order. */
int orc_sampler_sample_top(struct orc_sampler *s, const struct orc_topk *top, int32_t *ret_id,
			   struct orc_err *err);
/* The id of the largest of l [n] (n >= 1), the lowest id on a tie: stage 2's
 * greedy pick on logits that are already checked and penalised. */
int32_t orc_sampler_argmax(const float *l, uint32_t n);

/* Stages 0 and 2 alone: the greedy pick of raw logits [n] (n >= 1), or -1
 * where stage 0 would refuse them (a NaN or +inf, or every logit -inf).
 * The backends' argmax op (backend.h) computes exactly this. */
int32_t orc_sampler_greedy(const float *logits, uint32_t n);

/* A token and its probability in the distribution stage 7 draws from. */
struct orc_token_prob {
	int32_t id;
	double p;
};

/* Stages 0-6 and the probabilities w_i / S of stage 7, without a draw (the
 * PRNG does not move): ret [n_vocab] gets the candidates in draw order,
 * *ret_n their count. Greedy gives the winner with p = 1. For tests and
 * diagnostics. */
int orc_sampler_dist(struct orc_sampler *s, const float *logits, struct orc_token_prob *ret,
		     size_t *ret_n, struct orc_err *err);

/* log-sum-exp of logits [n] (see above); -inf when all are -inf. */
double orc_logprobs_lse(const float *logits, uint32_t n);
/* The k best tokens of logits [n] (best first, ties to the lower id), each
 * with logit - lse; k > n is -EINVAL. ret holds k entries. */
int orc_logprobs_top(const float *logits, uint32_t n, double lse, uint32_t k,
		     struct orc_logprob *ret);

#endif
