/* gen.c -- one generation as a state machine (see gen.h): prompt chunks,
 * then one token per step; sampling, log-probabilities, detokenizing, stop
 * strings and timings. orc_generate() drives it on one sequence. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"
#include "limits.h"
#include "stop.h"

struct orc_gen {
	const struct orc_model *model;
	const struct orc_tok *tok;
	uint32_t n_vocab;
	uint32_t max_tokens;
	uint32_t chunk;              /* prompt tokens per evaluation */
	uint32_t k_lp, k_plp;        /* logprobs / prompt_logprobs */
	bool reuse_prefix;
	uint32_t n_cached;           /* prompt tokens served from the prefix cache */

	int32_t *prompt;             /* [n_prompt] */
	size_t n_prompt;
	size_t n_fed;                /* prompt tokens evaluated so far */
	uint32_t pending;            /* tokens handed out, logits not yet fed */
	bool pending_all;            /* ... with logits for every position */
	bool pending_amax;           /* ... with the greedy id instead of logits */
	bool pending_top;            /* ... with the top-k candidates instead of logits */
	bool greedy;                 /* plain greedy: the engine may pick on the device */
	bool top;                    /* top-k sampling from the engine's candidates */
	int32_t amax;                /* the engine's greedy pick */
	struct orc_topk cands;       /* the engine's top-k candidates */
	int32_t last;                /* the token to feed in the next decode step */

	struct orc_sampler *smp;
	struct orc_detok *detok;
	struct orc_stop *stop;
	float *logits;               /* [logit_rows][n_vocab], handed out in items */

	int32_t *ids;                /* [cap] generated */
	size_t n_ids, cap;
	char *text;                  /* [text_cap], NUL-terminated */
	size_t text_len, text_cap;
	struct orc_gen_logprobs lp;  /* chosen [cap], top [cap][k_lp] */
	struct orc_gen_logprobs plp; /* top [n_prompt][k_plp] */

	enum orc_stop_reason reason;
	bool failed;
	struct timespec t_new, t_input, t_first, t_last;
	bool have_input;
};

/* ---- small helpers ---- */

const char *orc_stop_reason_name(enum orc_stop_reason r)
{
	switch (r) {
	case ORC_STOP_EOS: return "eos";
	case ORC_STOP_LENGTH: return "length";
	case ORC_STOP_STRING: return "stop";
	default: return "none";
	}
}

void orc_gen_params_default(struct orc_gen_params *p)
{
	memset(p, 0, sizeof(*p));
	orc_sampler_params_default(&p->sampling);
	p->reuse_prefix = true;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int text_append(struct orc_gen *g, const char *s, size_t n)
{
	if (g->text_len + n + 1 > g->text_cap) {
		size_t cap = g->text_cap * 2;
		while (cap < g->text_len + n + 1)
			cap *= 2;
		char *t = realloc(g->text, cap);
		if (!t)
			return -ENOMEM;
		g->text = t;
		g->text_cap = cap;
	}
	memcpy(g->text + g->text_len, s, n);
	g->text_len += n;
	g->text[g->text_len] = '\0';
	return 0;
}

/* Room for one more generated token (ids and its logprobs). */
static int grow_ids(struct orc_gen *g)
{
	size_t cap = g->cap ? g->cap * 2 : 64;
	int32_t *ids;

	if (g->n_ids < g->cap)
		return 0;
	if (!(ids = realloc(g->ids, cap * sizeof(*ids))))
		return -ENOMEM;
	g->ids = ids;
	if (g->k_lp) {
		float *c = realloc(g->lp.chosen, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		g->lp.chosen = c;
		struct orc_logprob *t = realloc(g->lp.top, cap * g->k_lp * sizeof(*t));
		if (!t)
			return -ENOMEM;
		g->lp.top = t;
	}
	g->cap = cap;
	return 0;
}

/* ---- construction ---- */

static int check_request(const struct orc_model *m, const struct orc_gen_params *p,
			 const int32_t *prompt, size_t n_prompt, uint32_t *ret_max,
			 struct orc_err *err)
{
	uint32_t n_vocab = orc_model_n_vocab(m), n_ctx = orc_model_n_ctx(m);
	int r;

	if (n_prompt == 0)
		return orc_err_set(err, -EINVAL, "the prompt is empty");
	if (n_prompt > ORC_PROMPT_TOKENS_MAX)
		return orc_err_set(err, -E2BIG, "prompt of %zu tokens (at most %u)", n_prompt,
				   (unsigned)ORC_PROMPT_TOKENS_MAX);
	for (size_t i = 0; i < n_prompt; i++)
		if (prompt[i] < 0 || (uint32_t)prompt[i] >= n_vocab)
			return orc_err_set(err, -EINVAL,
					   "prompt token %zu: id %d is out of range (vocabulary %u)",
					   i, (int)prompt[i], n_vocab);
	if ((r = orc_sampler_params_check(&p->sampling, err)) < 0)
		return r;
	if (p->max_tokens > ORC_MAX_TOKENS_CAP)
		return orc_err_set(err, -E2BIG, "max_tokens %u is above the limit %u", p->max_tokens,
				   (unsigned)ORC_MAX_TOKENS_CAP);
	if (p->logprobs > ORC_LOGPROBS_TOP_MAX || p->prompt_logprobs > ORC_LOGPROBS_TOP_MAX)
		return orc_err_set(err, -E2BIG, "%s %u is above the limit %u",
				   p->logprobs > ORC_LOGPROBS_TOP_MAX ? "logprobs" : "prompt_logprobs",
				   p->logprobs > ORC_LOGPROBS_TOP_MAX ? p->logprobs : p->prompt_logprobs,
				   (unsigned)ORC_LOGPROBS_TOP_MAX);
	if (n_prompt >= n_ctx)
		return orc_err_set(err, -E2BIG,
				   "prompt of %zu tokens leaves no room in the context of %u tokens",
				   n_prompt, n_ctx);
	if (p->max_tokens > n_ctx - n_prompt)
		return orc_err_set(err, -E2BIG,
				   "prompt (%zu tokens) + max_tokens (%u) exceeds the context of %u tokens",
				   n_prompt, p->max_tokens, n_ctx);
	*ret_max = p->max_tokens ? p->max_tokens : n_ctx - (uint32_t)n_prompt;
	return 0;
}

/* Feed the prompt to the detokenizer so the output is spaced as a decode of
 * prompt + output would be; the prompt's own text is dropped. */
static int prime_detok(struct orc_gen *g, struct orc_err *err)
{
	const char *s;
	size_t n;
	int r;

	for (size_t i = 0; i < g->n_prompt; i++)
		if ((r = orc_detok_push(g->detok, g->prompt[i], &s, &n, err)) < 0)
			return r;
	return 0;
}

static int alloc_buffers(struct orc_gen *g, const struct orc_gen_params *p, const int32_t *prompt)
{
	uint32_t rows = 1;

	g->chunk = p->prefill_chunk ? p->prefill_chunk : (uint32_t)g->n_prompt;
	if (g->k_plp) {
		if (g->chunk > ORC_GEN_LOGITS_ROWS_MAX)
			g->chunk = ORC_GEN_LOGITS_ROWS_MAX;
		rows = g->chunk < g->n_prompt ? g->chunk : (uint32_t)g->n_prompt;
		g->plp.k = g->k_plp;
		g->plp.n = g->n_prompt;
		if (!(g->plp.top = malloc(g->n_prompt * g->k_plp * sizeof(*g->plp.top))))
			return -ENOMEM;
	}
	g->lp.k = g->k_lp;
	g->prompt = malloc(g->n_prompt * sizeof(*g->prompt));
	g->logits = malloc((size_t)rows * g->n_vocab * sizeof(*g->logits));
	g->text_cap = 256;
	g->text = malloc(g->text_cap);
	if (!g->prompt || !g->logits || !g->text)
		return -ENOMEM;
	memcpy(g->prompt, prompt, g->n_prompt * sizeof(*g->prompt));
	g->text[0] = '\0';
	return grow_ids(g);
}

int orc_gen_new(const struct orc_model *m, const struct orc_gen_params *p,
		const int32_t *prompt, size_t n_prompt, struct orc_gen **ret, struct orc_err *err)
{
	struct orc_gen *g;
	uint32_t max_tokens = 0;
	int r;

	if ((r = check_request(m, p, prompt, n_prompt, &max_tokens, err)) < 0)
		return r;
	if (!(g = calloc(1, sizeof(*g))))
		return orc_err_set(err, -ENOMEM, "out of memory for a generation");
	clock_gettime(CLOCK_MONOTONIC, &g->t_new);
	g->model = m;
	g->tok = orc_model_get_tok(m);
	g->n_vocab = orc_model_n_vocab(m);
	g->max_tokens = max_tokens;
	g->n_prompt = n_prompt;
	g->k_lp = p->logprobs;
	g->k_plp = p->prompt_logprobs;
	g->reuse_prefix = p->reuse_prefix && p->prompt_logprobs == 0;
	/* Greedy without penalties or logprobs needs no logits on the host: the
	 * engine's argmax is the sampler's pick (sampler.h, stage 2). */
	g->greedy = p->sampling.temperature == 0.0f && p->sampling.repeat_penalty == 1.0f &&
		    p->sampling.presence_penalty == 0.0f && p->sampling.frequency_penalty == 0.0f &&
		    p->logprobs == 0 && !p->host_logits;
	/* Top-k sampling without penalties or logprobs needs only the top_k
	 * best logits: the engine picks them where the logits are, and the
	 * sampler's pick from them is the one from the whole row. */
	g->top = !g->greedy && p->logprobs == 0 && !p->host_logits &&
		 orc_sampler_top_ok(&p->sampling, g->n_vocab) && orc_model_has_topk(m);
	if (alloc_buffers(g, p, prompt) < 0) {
		r = orc_err_set(err, -ENOMEM, "out of memory for a generation");
		goto fail;
	}
	if ((r = orc_sampler_new(&p->sampling, g->n_vocab, &g->smp, err)) < 0 ||
	    (r = orc_stop_new(p->stop, p->n_stop, &g->stop, err)) < 0)
		goto fail;
	for (size_t i = 0; i < n_prompt; i++)
		if ((r = orc_sampler_accept(g->smp, prompt[i], err)) < 0)
			goto fail;
	if (!(g->detok = orc_detok_new(g->tok, ORC_DETOK_SKIP_SPECIAL))) {
		r = orc_err_set(err, -ENOMEM, "out of memory for the detokenizer");
		goto fail;
	}
	if ((r = prime_detok(g, err)) < 0)
		goto fail;
	*ret = g;
	return 0;
fail:
	orc_gen_free(g);
	return r;
}

void orc_gen_free(struct orc_gen *g)
{
	if (!g)
		return;
	orc_sampler_free(g->smp);
	orc_detok_free(g->detok);
	orc_stop_free(g->stop);
	free(g->prompt);
	free(g->logits);
	free(g->ids);
	free(g->text);
	free(g->lp.chosen);
	free(g->lp.top);
	free(g->plp.top);
	free(g);
}

/* ---- steps ---- */

bool orc_gen_done(const struct orc_gen *g)
{
	return g->reason != ORC_STOP_NONE || g->failed;
}

int orc_gen_attach(struct orc_gen *g, struct orc_seq *seq, uint32_t *ret_cached,
		   struct orc_err *err)
{
	uint32_t n = 0;
	int r;

	if (g->have_input || orc_gen_done(g))
		return orc_err_set(err, -EINVAL, "orc_gen_attach after the generation started");
	if (orc_seq_pos(seq) != 0)
		return orc_err_set(err, -EINVAL, "orc_gen_attach needs a fresh sequence, not one at %u",
				   orc_seq_pos(seq));
	if (g->reuse_prefix &&
	    (r = orc_seq_reuse_prefix(seq, g->prompt, (uint32_t)g->n_prompt, &n, err)) < 0)
		return r;
	g->n_fed = n;
	g->n_cached = n;
	if (ret_cached)
		*ret_cached = n;
	return 0;
}

int orc_gen_next_input(struct orc_gen *g, struct orc_eval_item *item)
{
	if (orc_gen_done(g) || g->pending)
		return -EINVAL;
	if (!g->have_input) {
		clock_gettime(CLOCK_MONOTONIC, &g->t_input);
		g->have_input = true;
	}
	if (g->n_fed < g->n_prompt) {
		size_t left = g->n_prompt - g->n_fed;
		item->ids = g->prompt + g->n_fed;
		item->n = left < g->chunk ? (uint32_t)left : g->chunk;
		item->logits_all = g->k_plp > 0;
		/* A chunk before the last needs logits only for prompt_logprobs. */
		item->logits = item->logits_all || item->n == left ? g->logits : NULL;
		item->argmax = NULL;
		item->top = NULL;
		if ((g->greedy || g->top) && !item->logits_all && item->n == left) {
			item->logits = NULL;
			item->argmax = g->greedy ? &g->amax : NULL;
			item->top = g->top ? &g->cands : NULL;
		}
	} else {
		item->ids = &g->last;
		item->n = 1;
		item->logits_all = false;
		item->logits = g->greedy || g->top ? NULL : g->logits;
		item->argmax = g->greedy ? &g->amax : NULL;
		item->top = g->top ? &g->cands : NULL;
	}
	g->pending = item->n;
	g->pending_all = item->logits_all;
	g->pending_amax = item->argmax != NULL;
	g->pending_top = item->top != NULL;
	return 0;
}

static void record_prompt_logprobs(struct orc_gen *g, const float *logits, uint32_t rows)
{
	for (uint32_t r = 0; r < rows; r++) {
		const float *row = logits + (size_t)r * g->n_vocab;
		double lse = orc_logprobs_lse(row, g->n_vocab);
		orc_logprobs_top(row, g->n_vocab, lse, g->k_plp,
				 g->plp.top + (g->n_fed + r) * g->k_plp);
	}
}

/* Push text through the stop strings into the output; sets reason on a match. */
static int release(struct orc_gen *g, const char *s, size_t n, struct orc_err *err)
{
	const char *out;
	size_t n_out;
	bool stopped;
	int r;

	if ((r = orc_stop_push(g->stop, s, n, &out, &n_out, &stopped, err)) < 0)
		return r;
	if (text_append(g, out, n_out) < 0)
		return orc_err_set(err, -ENOMEM, "out of memory for the generated text");
	if (stopped)
		g->reason = ORC_STOP_STRING;
	return 0;
}

/* End of generation: what the detokenizer and the stop matcher still hold. */
static int finish_text(struct orc_gen *g, enum orc_stop_reason reason, struct orc_err *err)
{
	const char *s;
	size_t n;
	int r;

	orc_detok_flush(g->detok, &s, &n);
	if ((r = release(g, s, n, err)) < 0)
		return r;
	orc_stop_flush(g->stop, &s, &n);
	if (text_append(g, s, n) < 0)
		return orc_err_set(err, -ENOMEM, "out of memory for the generated text");
	if (g->reason == ORC_STOP_NONE)
		g->reason = reason;
	return 0;
}

/* The next token: sampled from row, or (row NULL) from the engine's top-k
 * candidates, or the engine's greedy pick. */
static int pick(struct orc_gen *g, const float *row, int32_t *ret_id, struct orc_err *err)
{
	if (row)
		return orc_sampler_sample(g->smp, row, ret_id, err);
	if (g->pending_top)
		return orc_sampler_sample_top(g->smp, &g->cands, ret_id, err);
	if (g->amax < 0 || (uint32_t)g->amax >= g->n_vocab)
		return orc_err_set(err, -EDOM, "a logit is NaN or +inf, or every logit is -inf");
	*ret_id = g->amax;
	return 0;
}

/* Sample from row (or take the greedy pick), record the token, run the stop
 * conditions. */
static int step_token(struct orc_gen *g, const float *row, struct orc_gen_event *ev,
		      struct orc_err *err)
{
	int32_t id;
	const char *s;
	size_t n, k = g->n_ids;
	int r;

	if ((r = pick(g, row, &id, err)) < 0 ||
	    (r = orc_sampler_accept(g->smp, id, err)) < 0)
		return r;
	if (grow_ids(g) < 0)
		return orc_err_set(err, -ENOMEM, "out of memory for generated tokens");
	clock_gettime(CLOCK_MONOTONIC, &g->t_last);
	if (k == 0)
		g->t_first = g->t_last;
	g->ids[g->n_ids++] = id;
	g->last = id;
	if (g->k_lp) {
		double lse = orc_logprobs_lse(row, g->n_vocab);
		g->lp.chosen[k] = (float)((double)row[id] - lse);
		orc_logprobs_top(row, g->n_vocab, lse, g->k_lp, g->lp.top + k * g->k_lp);
		g->lp.n = g->n_ids;
		ev->logprob = g->lp.chosen[k];
		ev->top = g->lp.top + k * g->k_lp;
		ev->n_top = g->k_lp;
	}
	ev->has_token = true;
	ev->id = id;
	if (orc_tok_is_eog(g->tok, id))
		return finish_text(g, ORC_STOP_EOS, err);
	if ((r = orc_detok_push(g->detok, id, &s, &n, err)) < 0 ||
	    (r = release(g, s, n, err)) < 0)
		return r;
	if (g->reason == ORC_STOP_NONE && g->n_ids >= g->max_tokens)
		return finish_text(g, ORC_STOP_LENGTH, err);
	return 0;
}

int orc_gen_feed_logits(struct orc_gen *g, const float *logits, struct orc_gen_event *ret_ev,
			struct orc_err *err)
{
	struct orc_gen_event ev = { 0 };
	size_t text_start = g->text_len;
	const float *row = g->pending_amax || g->pending_top ? NULL : logits;
	uint32_t n = g->pending;
	int r;

	if (orc_gen_done(g) || n == 0)
		return orc_err_set(err, -EINVAL, "no evaluation is outstanding for this generation");
	g->pending = 0;
	if (g->n_fed < g->n_prompt) {
		if (g->pending_all) {
			record_prompt_logprobs(g, logits, n);
			row = logits + (size_t)(n - 1) * g->n_vocab;
		}
		g->n_fed += n;
		if (g->n_fed < g->n_prompt) {
			*ret_ev = ev;
			return 0;
		}
	}
	if ((r = step_token(g, row, &ev, err)) < 0) {
		g->failed = true;
		return r;
	}
	ev.text = g->text + text_start;
	ev.text_len = g->text_len - text_start;
	ev.done = g->reason != ORC_STOP_NONE;
	ev.stop_reason = g->reason;
	*ret_ev = ev;
	return 0;
}

/* ---- results ---- */

const int32_t *orc_gen_ids(const struct orc_gen *g, size_t *ret_n)
{
	*ret_n = g->n_ids;
	return g->ids;
}

const char *orc_gen_text(const struct orc_gen *g, size_t *ret_len)
{
	*ret_len = g->text_len;
	return g->text;
}

enum orc_stop_reason orc_gen_stop_reason(const struct orc_gen *g)
{
	return g->reason;
}

const struct orc_gen_logprobs *orc_gen_logprobs(const struct orc_gen *g)
{
	return &g->lp;
}

const struct orc_gen_logprobs *orc_gen_prompt_logprobs(const struct orc_gen *g)
{
	return &g->plp;
}

void orc_gen_get_timings(const struct orc_gen *g, struct orc_gen_timings *t)
{
	memset(t, 0, sizeof(*t));
	t->prompt_tokens = (uint32_t)g->n_prompt;
	t->generated_tokens = (uint32_t)g->n_ids;
	t->cached_prompt_tokens = g->n_cached;
	if (!g->have_input)
		return;
	if (g->n_ids == 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		t->queue_ms = ms_between(&g->t_new, &g->t_input);
		t->total_ms = ms_between(&g->t_new, &now);
		return;
	}
	t->queue_ms = ms_between(&g->t_new, &g->t_input);
	t->prompt_ms = ms_between(&g->t_input, &g->t_first);
	t->ttft_ms = ms_between(&g->t_new, &g->t_first);
	t->decode_ms = ms_between(&g->t_first, &g->t_last);
	t->total_ms = ms_between(&g->t_new, &g->t_last);
	if (t->prompt_ms > 0)
		t->prompt_tokens_per_s = (double)g->n_prompt / (t->prompt_ms / 1e3);
	if (g->n_ids > 1 && t->decode_ms > 0)
		t->tokens_per_s = (double)(g->n_ids - 1) / (t->decode_ms / 1e3);
}

void orc_gen_take_result(struct orc_gen *g, struct orc_gen_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	orc_gen_get_timings(g, &ret->timings);
	ret->prompt_ids = g->prompt;
	ret->n_prompt = g->n_prompt;
	ret->ids = g->ids;
	ret->n_ids = g->n_ids;
	ret->text = g->text;
	ret->text_len = g->text_len;
	ret->stop_reason = g->reason;
	ret->logprobs = g->lp;
	ret->prompt_logprobs = g->plp;
	g->prompt = NULL;
	g->ids = NULL;
	g->text = NULL;
	memset(&g->lp, 0, sizeof(g->lp));
	memset(&g->plp, 0, sizeof(g->plp));
	g->n_prompt = g->n_ids = g->text_len = 0;
	g->failed = true;
}

void orc_gen_result_free(struct orc_gen_result *r)
{
	if (!r)
		return;
	free(r->prompt_ids);
	free(r->ids);
	free(r->text);
	free(r->logprobs.chosen);
	free(r->logprobs.top);
	free(r->prompt_logprobs.top);
	memset(r, 0, sizeof(*r));
}

/* ---- single use ---- */

static int run_loop(struct orc_model *m, struct orc_gen *g, struct orc_seq *seq,
		    orc_gen_event_fn cb, void *user, struct orc_err *err)
{
	while (!orc_gen_done(g)) {
		struct orc_eval_item item = { 0 };
		struct orc_gen_event ev;
		int r;

		if ((r = orc_gen_next_input(g, &item)) < 0)
			return orc_err_set(err, r, "generation state error");
		item.seq = seq;
		if ((r = orc_model_eval(m, &item, 1, err)) < 0 ||
		    (r = orc_gen_feed_logits(g, item.logits, &ev, err)) < 0)
			return r;
		if (ev.has_token && cb && cb(user, &ev) != 0)
			return orc_err_set(err, -ECANCELED, "generation cancelled");
	}
	return 0;
}

int orc_generate(struct orc_model *m, const struct orc_gen_params *p, const int32_t *prompt,
		 size_t n_prompt, orc_gen_event_fn cb, void *user, struct orc_gen_result *ret,
		 struct orc_err *err)
{
	struct orc_gen *g = NULL;
	struct orc_seq *seq = NULL;
	int r;

	if ((r = orc_gen_new(m, p, prompt, n_prompt, &g, err)) < 0)
		return r;
	if ((r = orc_seq_new(m, &seq, err)) < 0 || (r = orc_gen_attach(g, seq, NULL, err)) < 0)
		goto out;
	if ((r = run_loop(m, g, seq, cb, user, err)) < 0)
		goto out;
	if (ret)
		orc_gen_take_result(g, ret);
out:
	orc_seq_free(seq);
	orc_gen_free(g);
	return r;
}
