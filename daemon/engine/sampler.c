/* sampler.c -- penalties, greedy and top-k / top-p / min-p / temperature
 * sampling, and log-probabilities. The exact algorithm is written out in
 * sampler.h; the stages below follow it in order. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "sampler.h"

struct orc_cand {
	int32_t id;
	float logit;
};

struct orc_sampler {
	struct orc_sampler_params p;
	uint32_t n_vocab;
	struct orc_rng rng;
	int32_t *hist;            /* [hist_cap] ring (bounded window) or array (all) */
	size_t hist_cap, hist_n, hist_head;
	int32_t *window;          /* [hist_cap] scratch: sorted copy of the window */
	float *work;              /* [n_vocab] penalised logits */
	struct orc_cand *cand;    /* [n_vocab] candidates */
	struct orc_cand *scratch; /* [n_vocab] selection scratch */
};

/* ---- parameters ---- */

void orc_sampler_params_default(struct orc_sampler_params *p)
{
	*p = (struct orc_sampler_params){
		.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
		.repeat_penalty = 1.0f, .repeat_last_n = 64,
		.presence_penalty = 0.0f, .frequency_penalty = 0.0f, .seed = 0,
	};
}

static int check_range(const char *name, float v, float lo, float hi, bool lo_open,
			struct orc_err *err)
{
	if (isnan(v))
		return orc_err_set(err, -EINVAL, "%s is NaN", name);
	if (v < lo || (lo_open && v == lo) || v > hi)
		return orc_err_set(err, -EINVAL, "%s %g is out of range (%s %g, <= %g)", name,
				   (double)v, lo_open ? ">" : ">=", (double)lo, (double)hi);
	return 0;
}

int orc_sampler_params_check(const struct orc_sampler_params *p, struct orc_err *err)
{
	int r;

	if ((r = check_range("temperature", p->temperature, 0.0f, 1e6f, false, err)) < 0 ||
	    (r = check_range("top_p", p->top_p, 0.0f, 1.0f, false, err)) < 0 ||
	    (r = check_range("min_p", p->min_p, 0.0f, 1.0f, false, err)) < 0 ||
	    (r = check_range("repeat_penalty", p->repeat_penalty, 0.0f, 100.0f, true, err)) < 0 ||
	    (r = check_range("presence_penalty", p->presence_penalty, -2.0f, 2.0f, false, err)) < 0 ||
	    (r = check_range("frequency_penalty", p->frequency_penalty, -2.0f, 2.0f, false, err)) < 0)
		return r;
	if (p->top_k < 0)
		return orc_err_set(err, -EINVAL, "top_k %d is negative", (int)p->top_k);
	if (p->repeat_last_n < -1)
		return orc_err_set(err, -EINVAL, "repeat_last_n %d is out of range (>= -1)",
				   (int)p->repeat_last_n);
	if (p->repeat_last_n > (int32_t)ORC_CTX_MAX)
		return orc_err_set(err, -EINVAL, "repeat_last_n %d is above the context limit %u",
				   (int)p->repeat_last_n, (unsigned)ORC_CTX_MAX);
	return 0;
}

/* ---- construction ---- */

int orc_sampler_new(const struct orc_sampler_params *p, uint32_t n_vocab,
		    struct orc_sampler **ret, struct orc_err *err)
{
	struct orc_sampler *s;
	int r;

	if ((r = orc_sampler_params_check(p, err)) < 0)
		return r;
	if (n_vocab == 0 || n_vocab > ORC_MODEL_VOCAB_MAX)
		return orc_err_set(err, -EINVAL, "vocabulary size %u is out of range", n_vocab);
	s = calloc(1, sizeof(*s));
	if (!s)
		return orc_err_set(err, -ENOMEM, "out of memory for the sampler");
	s->p = *p;
	s->n_vocab = n_vocab;
	orc_rng_seed(&s->rng, p->seed);
	s->hist_cap = p->repeat_last_n > 0 ? (size_t)p->repeat_last_n : 0;
	s->work = malloc((size_t)n_vocab * sizeof(*s->work));
	s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
	s->scratch = malloc((size_t)n_vocab * sizeof(*s->scratch));
	if (s->hist_cap) {
		s->hist = malloc(s->hist_cap * sizeof(*s->hist));
		s->window = malloc(s->hist_cap * sizeof(*s->window));
	}
	if (!s->work || !s->cand || !s->scratch || (s->hist_cap && (!s->hist || !s->window))) {
		orc_sampler_free(s);
		return orc_err_set(err, -ENOMEM, "out of memory for the sampler (%u tokens)", n_vocab);
	}
	*ret = s;
	return 0;
}

void orc_sampler_free(struct orc_sampler *s)
{
	if (!s)
		return;
	free(s->hist);
	free(s->window);
	free(s->work);
	free(s->cand);
	free(s->scratch);
	free(s);
}

/* ---- penalty history ---- */

static int hist_grow(struct orc_sampler *s)
{
	size_t cap = s->hist_cap ? s->hist_cap * 2 : 256;
	int32_t *h = realloc(s->hist, cap * sizeof(*h));
	int32_t *w;

	if (!h)
		return -ENOMEM;
	s->hist = h;
	w = realloc(s->window, cap * sizeof(*w));
	if (!w)
		return -ENOMEM;
	s->window = w;
	s->hist_cap = cap;
	return 0;
}

int orc_sampler_accept(struct orc_sampler *s, int32_t id, struct orc_err *err)
{
	if (id < 0 || (uint32_t)id >= s->n_vocab)
		return orc_err_set(err, -EINVAL, "token id %d is out of range (vocabulary %u)",
				   (int)id, s->n_vocab);
	if (s->p.repeat_last_n == 0)
		return 0;
	if (s->p.repeat_last_n < 0) {           /* unbounded: a growing array */
		if (s->hist_n == s->hist_cap && hist_grow(s) < 0)
			return orc_err_set(err, -ENOMEM, "out of memory for the penalty history");
		s->hist[s->hist_n++] = id;
		return 0;
	}
	s->hist[s->hist_head] = id;             /* bounded: a ring of the last N */
	s->hist_head = (s->hist_head + 1) % s->hist_cap;
	if (s->hist_n < s->hist_cap)
		s->hist_n++;
	return 0;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Stage 1: penalise each distinct id of the window once, with its count. */
static void apply_penalties(struct orc_sampler *s)
{
	const struct orc_sampler_params *p = &s->p;
	size_t n = s->hist_n;

	if (n == 0 || (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f &&
		       p->frequency_penalty == 0.0f))
		return;
	memcpy(s->window, s->hist, n * sizeof(*s->window));
	qsort(s->window, n, sizeof(*s->window), cmp_i32);
	for (size_t i = 0; i < n;) {
		int32_t id = s->window[i];
		size_t c = 0;
		float *l = &s->work[id];

		while (i < n && s->window[i] == id) {
			c++;
			i++;
		}
		*l = *l <= 0.0f ? *l * p->repeat_penalty : *l / p->repeat_penalty;
		*l -= (float)c * p->frequency_penalty + p->presence_penalty;
	}
}

/* ---- candidate order and selection ---- */

static inline bool better(const struct orc_cand *a, const struct orc_cand *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *a, const void *b)
{
	const struct orc_cand *x = a, *y = b;
	return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

/* Sift the root of a heap whose root is its WORST element. */
static void heap_down(struct orc_cand *h, size_t n, size_t i)
{
	for (;;) {
		size_t w = i, l = 2 * i + 1, r = l + 1;
		if (l < n && better(&h[w], &h[l]))
			w = l;
		if (r < n && better(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		struct orc_cand t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

static void heap_up(struct orc_cand *h, size_t i)
{
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!better(&h[up], &h[i]))
			return;
		struct orc_cand t = h[i];
		h[i] = h[up];
		h[up] = t;
		i = up;
	}
}

/* Offer c to the heap h of the best m seen so far (*k of them held). */
static void heap_offer(struct orc_cand *h, size_t *k, size_t m, struct orc_cand c)
{
	if (*k < m) {
		h[*k] = c;
		heap_up(h, (*k)++);
	} else if (better(&c, &h[0])) {
		h[0] = c;
		heap_down(h, m, 0);
	}
}

/* The m best of src [n] into dst [m], sorted best first. dst may not alias src. */
static void select_top(const struct orc_cand *src, size_t n, size_t m, struct orc_cand *dst)
{
	size_t k = 0;

	if (m >= n) {
		memcpy(dst, src, n * sizeof(*dst));
		qsort(dst, n, sizeof(*dst), cmp_cand);
		return;
	}
	for (size_t i = 0; i < n; i++)
		heap_offer(dst, &k, m, src[i]);
	qsort(dst, m, sizeof(*dst), cmp_cand);
}

/* ---- sampling ---- */

static int check_logits(const float *logits, uint32_t n, float *ret_max, struct orc_err *err)
{
	float mx = -INFINITY;

	for (uint32_t i = 0; i < n; i++) {
		if (isnan(logits[i]) || logits[i] == INFINITY)
			return orc_err_set(err, -EDOM, "logit of token %u is %s", i,
					   isnan(logits[i]) ? "NaN" : "+inf");
		if (logits[i] > mx)
			mx = logits[i];
	}
	if (mx == -INFINITY)
		return orc_err_set(err, -EDOM, "every logit is -inf");
	*ret_max = mx;
	return 0;
}

int32_t orc_sampler_argmax(const float *l, uint32_t n)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < n; i++)
		if (l[i] > l[best])
			best = i;
	return (int32_t)best;
}

int32_t orc_sampler_greedy(const float *logits, uint32_t n)
{
	struct orc_err err = { 0 };
	float mx;

	if (check_logits(logits, n, &mx, &err) < 0)
		return -1;
	return orc_sampler_argmax(logits, n);
}

/* Stage 5 on cand [*n] (sorted iff `sorted`). Leaves the kept prefix,
 * sorted best first, in s->cand. The cumulative sum only needs the best
 * candidates, so it selects the best 256, then 16x more, ... until the
 * prefix reaches top_p: the same prefix a full sort would give. */
static void top_p(struct orc_sampler *s, size_t *n, bool sorted, float lmax)
{
	struct orc_cand *scratch = s->scratch;
	double z = 0.0, target, cum = 0.0;
	size_t m = 256;

	for (size_t i = 0; i < *n; i++)
		z += exp((double)s->cand[i].logit - (double)lmax);
	target = (double)s->p.top_p * z;
	for (;;) {
		struct orc_cand *c = s->cand;
		if (!sorted) {
			if (m > *n)
				m = *n;
			select_top(s->cand, *n, m, scratch);
			c = scratch;
		} else {
			m = *n;
		}
		cum = 0.0;
		for (size_t i = 0; i < m; i++) {
			cum += exp((double)c[i].logit - (double)lmax);
			if (cum >= target || i + 1 == *n) {
				if (c != s->cand)
					memcpy(s->cand, c, (i + 1) * sizeof(*c));
				*n = i + 1;
				return;
			}
		}
		m *= 16;   /* the prefix did not reach top_p: look further */
	}
}

/* Stages 5 and 6 on cand [n] (sorted best first iff `sorted`); returns
 * the count left. */
static size_t truncate_cands(struct orc_sampler *s, size_t n, bool sorted, float lmax)
{
	const struct orc_sampler_params *p = &s->p;

	if (p->top_p < 1.0f)
		top_p(s, &n, sorted, lmax);
	if (p->min_p > 0.0f) {
		float thr = lmax + logf(p->min_p);
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (s->cand[i].logit >= thr)
				s->cand[k++] = s->cand[i];
		n = k;
	}
	return n;
}

/* Stage 7: draw from cand [n] at the temperature. */
static int32_t draw(struct orc_sampler *s, size_t n, float lmax)
{
	double inv_t = 1.0 / (double)s->p.temperature, sum = 0.0, u, acc = 0.0;
	size_t last = 0;

	for (size_t i = 0; i < n; i++)
		sum += exp(((double)s->cand[i].logit - (double)lmax) * inv_t);
	u = orc_rng_uniform(&s->rng) * sum;
	for (size_t i = 0; i < n; i++) {
		double w = exp(((double)s->cand[i].logit - (double)lmax) * inv_t);
		acc += w;
		if (acc > u)
			return s->cand[i].id;
		if (w > 0.0)
			last = i;
	}
	return s->cand[last].id;
}

/* Stages 0-6: leaves the candidates to draw from in s->cand [*ret_n], in
 * draw order, and the largest penalised logit in *ret_lmax. Greedy leaves
 * the single winner. */
static int prepare(struct orc_sampler *s, const float *logits, size_t *ret_n, float *ret_lmax,
		   struct orc_err *err)
{
	const struct orc_sampler_params *p = &s->p;
	uint32_t nv = s->n_vocab;
	size_t n = nv;
	bool sorted = false;
	int32_t best;
	float lmax;
	int r;

	if ((r = check_logits(logits, nv, &lmax, err)) < 0)
		return r;
	memcpy(s->work, logits, (size_t)nv * sizeof(*s->work));
	apply_penalties(s);
	best = orc_sampler_argmax(s->work, nv);
	lmax = s->work[best];
	if (!isfinite(lmax))   /* a huge logit divided by a tiny repeat_penalty */
		return orc_err_set(err, -EDOM, "penalised logit of token %d is not finite",
				   (int)best);
	*ret_lmax = lmax;
	if (p->temperature == 0.0f) {
		s->cand[0] = (struct orc_cand){ .id = best, .logit = lmax };
		*ret_n = 1;
		return 0;
	}
	for (uint32_t i = 0; i < nv; i++)
		s->cand[i] = (struct orc_cand){ .id = (int32_t)i, .logit = s->work[i] };
	if (p->top_k > 0 && (uint32_t)p->top_k < nv) {
		n = (size_t)p->top_k;
		select_top(s->cand, nv, n, s->scratch);
		memcpy(s->cand, s->scratch, n * sizeof(*s->cand));
		sorted = true;
	}
	*ret_n = truncate_cands(s, n, sorted, lmax);
	return 0;
}

bool orc_sampler_top_ok(const struct orc_sampler_params *p, uint32_t n_vocab)
{
	return p->temperature > 0.0f && p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f &&
	       p->frequency_penalty == 0.0f && p->top_k > 0 && p->top_k <= ORC_SAMPLE_TOPK_MAX &&
	       (uint32_t)p->top_k < n_vocab;
}

int orc_sampler_sample_top(struct orc_sampler *s, const struct orc_topk *top, int32_t *ret_id,
			   struct orc_err *err)
{
	const size_t k = (size_t)s->p.top_k;

	if (!orc_sampler_top_ok(&s->p, s->n_vocab))
		return orc_err_set(err, -EINVAL, "these sampling parameters need the whole row of logits");
	if (top->id[0] < 0)
		return orc_err_set(err, -EDOM, "a logit is NaN or +inf, or every logit is -inf");
	for (size_t i = 0; i < k; i++) {
		if (top->id[i] < 0 || (uint32_t)top->id[i] >= s->n_vocab ||
		    (i > 0 && !better(&(struct orc_cand){ .id = top->id[i - 1], .logit = top->logit[i - 1] },
				      &(struct orc_cand){ .id = top->id[i], .logit = top->logit[i] })))
			return orc_err_set(err, -EINVAL, "top-k candidate %zu (id %d) is out of range or order",
					   i, (int)top->id[i]);
		s->cand[i] = (struct orc_cand){ .id = top->id[i], .logit = top->logit[i] };
	}
	/* stage 4 is done: the candidates are the top_k best, sorted */
	*ret_id = draw(s, truncate_cands(s, k, true, top->logit[0]), top->logit[0]);
	return 0;
}

int orc_sampler_sample(struct orc_sampler *s, const float *logits, int32_t *ret_id,
		       struct orc_err *err)
{
	size_t n;
	float lmax;
	int r;

	if ((r = prepare(s, logits, &n, &lmax, err)) < 0)
		return r;
	*ret_id = s->p.temperature == 0.0f ? s->cand[0].id : draw(s, n, lmax);
	return 0;
}

int orc_sampler_dist(struct orc_sampler *s, const float *logits, struct orc_token_prob *ret,
		     size_t *ret_n, struct orc_err *err)
{
	double inv_t, sum = 0.0;
	size_t n;
	float lmax;
	int r;

	if ((r = prepare(s, logits, &n, &lmax, err)) < 0)
		return r;
	if (s->p.temperature == 0.0f) {
		ret[0] = (struct orc_token_prob){ .id = s->cand[0].id, .p = 1.0 };
		*ret_n = 1;
		return 0;
	}
	inv_t = 1.0 / (double)s->p.temperature;
	for (size_t i = 0; i < n; i++)
		sum += exp(((double)s->cand[i].logit - (double)lmax) * inv_t);
	for (size_t i = 0; i < n; i++)
		ret[i] = (struct orc_token_prob){
			.id = s->cand[i].id,
			.p = exp(((double)s->cand[i].logit - (double)lmax) * inv_t) / sum,
		};
	*ret_n = n;
	return 0;
}

/* ---- log-probabilities ---- */

double orc_logprobs_lse(const float *logits, uint32_t n)
{
	float mx = -INFINITY;
	double sum = 0.0;

	for (uint32_t i = 0; i < n; i++)
		if (logits[i] > mx)
			mx = logits[i];
	if (mx == -INFINITY)
		return -INFINITY;
	for (uint32_t i = 0; i < n; i++)
		sum += exp((double)logits[i] - (double)mx);
	return (double)mx + log(sum);
}

/* The k best of logits [n] (k <= n) into h [k], best first (stage 3's
 * order), without making a candidate of every logit first. */
static void best_k(const float *logits, uint32_t n, uint32_t k, struct orc_cand *h)
{
	size_t m = 0;

	for (uint32_t i = 0; i < n && k > 0; i++)
		heap_offer(h, &m, k, (struct orc_cand){ .id = (int32_t)i, .logit = logits[i] });
	qsort(h, m, sizeof(*h), cmp_cand);
}

int orc_sampler_top_cands(const float *logits, uint32_t n, uint32_t k, float *ret_logit, int32_t *ret_id)
{
	struct orc_cand h[ORC_SAMPLE_TOPK_MAX];

	if (k < 1 || k > n || k > ORC_SAMPLE_TOPK_MAX)
		return -EINVAL;
	best_k(logits, n, k, h);
	for (uint32_t i = 0; i < k; i++) {
		ret_logit[i] = h[i].logit;
		ret_id[i] = h[i].id;
	}
	if (orc_sampler_greedy(logits, n) < 0)
		ret_id[0] = -1;
	return 0;
}

int orc_logprobs_top(const float *logits, uint32_t n, double lse, uint32_t k,
		     struct orc_logprob *ret)
{
	struct orc_cand heap[64], *h = heap;
	const size_t m = k;

	if (k > n)
		return -EINVAL;
	if (k > sizeof(heap) / sizeof(heap[0]) && !(h = malloc(k * sizeof(*h))))
		return -ENOMEM;
	best_k(logits, n, k, h);
	for (size_t i = 0; i < m; i++)
		ret[i] = (struct orc_logprob){ .id = h[i].id,
					       .logprob = (float)((double)h[i].logit - lse) };
	if (h != heap)
		free(h);
	return 0;
}
