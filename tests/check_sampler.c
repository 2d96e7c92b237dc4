/* check_sampler.c -- the PRNG against the published reference outputs, the
 * sampler stages against distributions computed by hand from sampler.h's
 * definitions, log-probabilities, parameter checks, and stop strings. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "rng.h"
#include "sampler.h"
#include "stop.h"
#include "testutil.h"

/* ---- PRNG ---- */

START_TEST(test_splitmix64_reference)
{
	/* First outputs of splitmix64 from state 0 and 1234567, as published
	 * with Vigna's reference code (also in the rand_xoshiro test suite). */
	static const uint64_t from0[] = { UINT64_C(0xe220a8397b1dcdaf), UINT64_C(0x6e789e6aa1b965f4),
					  UINT64_C(0x06c45d188009454f), UINT64_C(0xf88bb8a8724c81ec) };
	static const uint64_t from1234567[] = {
		UINT64_C(6457827717110365317), UINT64_C(3203168211198807973),
		UINT64_C(9817491932198370423), UINT64_C(4593380528125082431),
		UINT64_C(16408922859458223821) };
	uint64_t st = 0;
	struct orc_rng r;

	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(orc_splitmix64(&st), from0[i]);
	st = 1234567;
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(orc_splitmix64(&st), from1234567[i]);
	/* Seeding fills the state with the first four outputs. */
	orc_rng_seed(&r, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(r.s[i], from0[i]);
}
END_TEST

START_TEST(test_xoshiro_reference)
{
	/* xoshiro256** from state {1, 2, 3, 4}: the reference implementation's
	 * first ten outputs (as listed in rand_xoshiro's `reference` test). */
	static const uint64_t want[] = {
		UINT64_C(11520), UINT64_C(0), UINT64_C(1509978240), UINT64_C(1215971899390074240),
		UINT64_C(1216172134540287360), UINT64_C(607988272756665600),
		UINT64_C(16172922978634559625), UINT64_C(8476171486693032832),
		UINT64_C(10595114339597558777), UINT64_C(2904607092377533576) };
	struct orc_rng r = { { 1, 2, 3, 4 } }, r2 = { { 1, 2, 3, 4 } };

	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(orc_rng_next(&r), want[i]);
	for (int i = 0; i < 10; i++) {
		double u = orc_rng_uniform(&r2);
		ck_assert(u == (double)(want[i] >> 11) / 9007199254740992.0);
		ck_assert(u >= 0.0 && u < 1.0);
	}
}
END_TEST

/* ---- parameters ---- */

static void expect_bad(const struct orc_sampler_params *p, const char *field)
{
	struct orc_err err = { 0 };
	struct orc_sampler *s = NULL;

	ck_assert_int_eq(orc_sampler_params_check(p, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, field), "message '%s' does not name %s", err.msg, field);
	ck_assert_int_eq(orc_sampler_new(p, 10, &s, NULL), -EINVAL);
	ck_assert_ptr_null(s);
}

START_TEST(test_params_rejected)
{
	struct orc_sampler_params d, p;

	orc_sampler_params_default(&d);
	ck_assert_int_eq(orc_sampler_params_check(&d, NULL), 0);
	p = d; p.temperature = -0.1f; expect_bad(&p, "temperature");
	p = d; p.temperature = NAN; expect_bad(&p, "temperature");
	p = d; p.temperature = INFINITY; expect_bad(&p, "temperature");
	p = d; p.top_k = -1; expect_bad(&p, "top_k");
	p = d; p.top_p = -0.5f; expect_bad(&p, "top_p");
	p = d; p.top_p = 1.5f; expect_bad(&p, "top_p");
	p = d; p.top_p = NAN; expect_bad(&p, "top_p");
	p = d; p.min_p = -0.01f; expect_bad(&p, "min_p");
	p = d; p.min_p = NAN; expect_bad(&p, "min_p");
	p = d; p.repeat_penalty = 0.0f; expect_bad(&p, "repeat_penalty");
	p = d; p.repeat_penalty = -1.0f; expect_bad(&p, "repeat_penalty");
	p = d; p.repeat_penalty = NAN; expect_bad(&p, "repeat_penalty");
	p = d; p.repeat_last_n = -2; expect_bad(&p, "repeat_last_n");
	p = d; p.presence_penalty = NAN; expect_bad(&p, "presence_penalty");
	p = d; p.presence_penalty = -2.5f; expect_bad(&p, "presence_penalty");
	p = d; p.frequency_penalty = 2.5f; expect_bad(&p, "frequency_penalty");
	p = d; p.frequency_penalty = NAN; expect_bad(&p, "frequency_penalty");
}
END_TEST

/* ---- distributions ---- */

static struct orc_sampler *mk(float temp, int top_k, float top_p, float min_p, uint32_t n_vocab)
{
	struct orc_sampler_params p;
	struct orc_sampler *s = NULL;
	struct orc_err err = { 0 };

	orc_sampler_params_default(&p);
	p.temperature = temp;
	p.top_k = top_k;
	p.top_p = top_p;
	p.min_p = min_p;
	ck_assert_msg(orc_sampler_new(&p, n_vocab, &s, &err) == 0, "%s", err.msg);
	return s;
}

/* Expect the distribution to be exactly ids[] with probabilities proportional to w[]. */
static void expect_dist(struct orc_sampler *s, const float *logits, size_t n,
			const int32_t *ids, const double *w)
{
	struct orc_token_prob got[64];
	struct orc_err err = { 0 };
	double sum = 0.0;
	size_t n_got = 0;

	ck_assert_msg(orc_sampler_dist(s, logits, got, &n_got, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(n_got, n);
	for (size_t i = 0; i < n; i++)
		sum += w[i];
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(got[i].id, ids[i]);
		ck_assert_msg(fabs(got[i].p - w[i] / sum) < 1e-12, "p[%zu] = %.15g, want %.15g",
			      i, got[i].p, w[i] / sum);
	}
}

static const float L4[] = { 1.0f, 2.0f, 3.0f, 4.0f };

START_TEST(test_plain_temperature)
{
	/* No cut-offs: every token, in ascending id order, w = exp((l - 4) / T). */
	struct orc_sampler *s = mk(1.0f, 0, 1.0f, 0.0f, 4);
	const int32_t ids[] = { 0, 1, 2, 3 };
	const double w1[] = { exp(-3.0), exp(-2.0), exp(-1.0), 1.0 };
	const double w2[] = { exp(-1.5), exp(-1.0), exp(-0.5), 1.0 };

	expect_dist(s, L4, 4, ids, w1);
	orc_sampler_free(s);
	s = mk(2.0f, 0, 1.0f, 0.0f, 4);
	expect_dist(s, L4, 4, ids, w2);
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_top_k)
{
	struct orc_sampler *s = mk(1.0f, 2, 1.0f, 0.0f, 4);
	const int32_t ids[] = { 3, 2 };
	const double w[] = { 1.0, exp(-1.0) };
	const float ties[] = { 5.0f, 7.0f, 7.0f, 7.0f };
	const int32_t tie_ids[] = { 1, 2 };
	const double tie_w[] = { 1.0, 1.0 };

	expect_dist(s, L4, 2, ids, w);
	/* Ties keep the lower ids. */
	expect_dist(s, ties, 2, tie_ids, tie_w);
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_top_p)
{
	/* softmax(1,2,3,4) = 0.0321, 0.0871, 0.2369, 0.6439: top_p 0.7 needs two
	 * tokens (0.6439 < 0.7 <= 0.8808), 0.6 only one, 0.9 three. */
	struct orc_sampler *s = mk(1.0f, 0, 0.7f, 0.0f, 4);
	const int32_t ids[] = { 3, 2, 1 };
	const double w[] = { 1.0, exp(-1.0), exp(-2.0) };

	expect_dist(s, L4, 2, ids, w);
	orc_sampler_free(s);
	s = mk(1.0f, 0, 0.6f, 0.0f, 4);
	expect_dist(s, L4, 1, ids, w);
	orc_sampler_free(s);
	s = mk(1.0f, 0, 0.9f, 0.0f, 4);
	expect_dist(s, L4, 3, ids, w);
	orc_sampler_free(s);
	/* top_p 0 keeps the best token. */
	s = mk(1.0f, 0, 0.0f, 0.0f, 4);
	expect_dist(s, L4, 1, ids, w);
	orc_sampler_free(s);
	/* After top-k 3, top-p renormalises over {3, 2, 1}: p(3) = 1/(1+e^-1+e^-2)
	 * = 0.6652 < 0.67, so 0.67 needs two tokens and 0.66 one. */
	s = mk(1.0f, 3, 0.67f, 0.0f, 4);
	expect_dist(s, L4, 2, ids, w);
	orc_sampler_free(s);
	s = mk(1.0f, 3, 0.66f, 0.0f, 4);
	expect_dist(s, L4, 1, ids, w);
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_top_p_large_vocab)
{
	/* A flat vocabulary forces top-p past its first 256-token window: with
	 * 3000 tokens of logit 0 and 3000 of logit -1, top_p 0.5 keeps the first
	 * k logit-0 tokens (lowest ids first) where k/Z >= 0.5, Z = 3000(1+e^-1). */
	enum { N = 6000 };
	float *l = malloc(N * sizeof(*l));
	struct orc_token_prob *got = malloc(N * sizeof(*got));
	struct orc_sampler *s = mk(1.0f, 0, 0.5f, 0.0f, N);
	double z = 3000.0 * (1.0 + exp(-1.0));
	size_t n = 0, want = (size_t)ceil(0.5 * z);

	for (int i = 0; i < N; i++)
		l[i] = (i % 2) ? -1.0f : 0.0f;   /* even ids 0, odd ids -1 */
	ck_assert_int_eq(orc_sampler_dist(s, l, got, &n, NULL), 0);
	ck_assert_uint_eq(n, want);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(got[i].id, (int32_t)(2 * i));
		ck_assert(fabs(got[i].p - 1.0 / (double)want) < 1e-12);
	}
	orc_sampler_free(s);
	free(l);
	free(got);
}
END_TEST

START_TEST(test_min_p)
{
	/* Threshold 4 + ln(min_p): 0.3 -> 2.796 keeps {2, 3}; 0.5 -> 3.307 keeps {3}. */
	struct orc_sampler *s = mk(1.0f, 0, 1.0f, 0.3f, 4);
	const int32_t ids[] = { 2, 3 };
	const double w[] = { exp(-1.0), 1.0 };
	const int32_t ids1[] = { 3 };
	const double w1[] = { 1.0 };

	expect_dist(s, L4, 2, ids, w);
	orc_sampler_free(s);
	s = mk(1.0f, 0, 1.0f, 0.5f, 4);
	expect_dist(s, L4, 1, ids1, w1);
	orc_sampler_free(s);
	/* Combined with top-k the order stays best first. */
	s = mk(0.5f, 3, 1.0f, 0.3f, 4);
	const int32_t ids2[] = { 3, 2 };
	const double w2[] = { 1.0, exp(-2.0) };
	expect_dist(s, L4, 2, ids2, w2);
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_penalties)
{
	/* logits (2, -1, 0.5, 3), history 0 0 1, repeat 2, frequency 0.5, presence 0.25:
	 *   id 0 (c = 2): 2 / 2 - (2 * 0.5 + 0.25) = -0.25
	 *   id 1 (c = 1): -1 * 2 - (0.5 + 0.25)   = -2.75
	 *   ids 2, 3 unchanged. */
	const float l[] = { 2.0f, -1.0f, 0.5f, 3.0f };
	const int32_t ids[] = { 0, 1, 2, 3 };
	const double w[] = { exp(-3.25), exp(-5.75), exp(-2.5), 1.0 };
	const double w_last2[] = { exp(2.0 / 2 - 0.75 - 3), exp(-5.75), exp(-2.5), 1.0 };
	struct orc_sampler_params p;
	struct orc_sampler *s;

	orc_sampler_params_default(&p);
	p.temperature = 1.0f; p.top_k = 0; p.top_p = 1.0f; p.min_p = 0.0f;
	p.repeat_penalty = 2.0f; p.frequency_penalty = 0.5f; p.presence_penalty = 0.25f;
	p.repeat_last_n = 3;
	ck_assert_int_eq(orc_sampler_new(&p, 4, &s, NULL), 0);
	ck_assert_int_eq(orc_sampler_accept(s, 0, NULL), 0);
	ck_assert_int_eq(orc_sampler_accept(s, 0, NULL), 0);
	ck_assert_int_eq(orc_sampler_accept(s, 1, NULL), 0);
	expect_dist(s, l, 4, ids, w);
	orc_sampler_free(s);

	/* A window of 2 sees only "0 1": id 0 has c = 1 (2 / 2 - 0.75 = 0.25). */
	p.repeat_last_n = 2;
	ck_assert_int_eq(orc_sampler_new(&p, 4, &s, NULL), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(orc_sampler_accept(s, i < 2 ? 0 : 1, NULL), 0);
	expect_dist(s, l, 4, ids, w_last2);
	orc_sampler_free(s);

	/* repeat_last_n -1: the whole history (grown past its first allocation). */
	p.repeat_last_n = -1; p.repeat_penalty = 1.0f; p.presence_penalty = 0.0f;
	p.frequency_penalty = 0.001f;
	ck_assert_int_eq(orc_sampler_new(&p, 4, &s, NULL), 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(orc_sampler_accept(s, 3, NULL), 0);
	/* id 3: 3 - 1000 * 0.001 = 2 (exactly, in float): a tie with id 0. */
	const double w_all[] = { 1.0, exp(-3.0), exp(-1.5), 1.0 };
	expect_dist(s, l, 4, ids, w_all);
	ck_assert_int_eq(orc_sampler_accept(s, 4, NULL), -EINVAL);
	ck_assert_int_eq(orc_sampler_accept(s, -1, NULL), -EINVAL);
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_greedy)
{
	const float l[] = { 0.5f, 3.0f, -2.0f, 3.0f, 1.0f };
	struct orc_sampler *s = mk(0.0f, 40, 0.95f, 0.05f, 5);
	int32_t id = -1;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(orc_sampler_sample(s, l, &id, NULL), 0);
		ck_assert_int_eq(id, 1);   /* tie between 1 and 3: the lower id */
	}
	orc_sampler_free(s);

	/* Penalties apply before greedy: 3 / 1.5 = 2 < 3 makes id 3 win. */
	struct orc_sampler_params p;
	orc_sampler_params_default(&p);
	p.temperature = 0.0f; p.repeat_penalty = 1.5f;
	ck_assert_int_eq(orc_sampler_new(&p, 5, &s, NULL), 0);
	ck_assert_int_eq(orc_sampler_accept(s, 1, NULL), 0);
	ck_assert_int_eq(orc_sampler_sample(s, l, &id, NULL), 0);
	ck_assert_int_eq(id, 3);
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_draw_rule)
{
	/* The draw: u = uniform * S, the first candidate whose running sum of w
	 * exceeds u. Reproduce it from an independent PRNG with the same seed. */
	struct orc_sampler_params p;
	struct orc_sampler *s;
	struct orc_rng r;
	const double w[] = { exp(-3.0), exp(-2.0), exp(-1.0), 1.0 };
	double sum = w[0] + w[1] + w[2] + w[3];

	orc_sampler_params_default(&p);
	p.temperature = 1.0f; p.top_k = 0; p.top_p = 1.0f; p.min_p = 0.0f; p.seed = 42;
	ck_assert_int_eq(orc_sampler_new(&p, 4, &s, NULL), 0);
	orc_rng_seed(&r, 42);
	for (int i = 0; i < 200; i++) {
		double u = orc_rng_uniform(&r) * sum, acc = 0.0;
		int32_t want = 3, got;
		for (int k = 0; k < 4; k++) {
			acc += w[k];
			if (acc > u) { want = k; break; }
		}
		ck_assert_int_eq(orc_sampler_sample(s, L4, &got, NULL), 0);
		ck_assert_int_eq(got, want);
	}
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_frequencies)
{
	/* p = (0.1, 0.2, 0.3, 0.4) from logits ln p: 20000 seeded draws land
	 * within 0.015 of each probability (about 4 standard deviations). */
	const float l[] = { logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f) };
	struct orc_sampler *s = mk(1.0f, 0, 1.0f, 0.0f, 4);
	int count[4] = { 0 };
	int32_t id;

	for (int i = 0; i < 20000; i++) {
		ck_assert_int_eq(orc_sampler_sample(s, l, &id, NULL), 0);
		count[id]++;
	}
	for (int k = 0; k < 4; k++)
		ck_assert_msg(fabs(count[k] / 20000.0 - 0.1 * (k + 1)) < 0.015, "id %d: %d", k,
			      count[k]);
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_bad_logits)
{
	float l[] = { 1.0f, NAN, 2.0f };
	const float all_inf[] = { -INFINITY, -INFINITY, -INFINITY };
	const float masked[] = { -INFINITY, 1.0f, -INFINITY };
	struct orc_sampler *s = mk(1.0f, 0, 1.0f, 0.0f, 3);
	struct orc_err err = { 0 };
	int32_t id = -1;

	ck_assert_int_eq(orc_sampler_sample(s, l, &id, &err), -EDOM);
	ck_assert_ptr_nonnull(strstr(err.msg, "token 1"));
	l[1] = INFINITY;
	ck_assert_int_eq(orc_sampler_sample(s, l, &id, NULL), -EDOM);
	ck_assert_int_eq(orc_sampler_sample(s, all_inf, &id, NULL), -EDOM);
	ck_assert_int_eq(id, -1);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(orc_sampler_sample(s, masked, &id, NULL), 0);
		ck_assert_int_eq(id, 1);
	}
	orc_sampler_free(s);
}
END_TEST

START_TEST(test_logprobs)
{
	/* lse(1,2,3,4) = 4 + ln(1 + e^-1 + e^-2 + e^-3) */
	double lse = orc_logprobs_lse(L4, 4), want = 4.0 + log(1.0 + exp(-1.0) + exp(-2.0) + exp(-3.0));
	const float ties[] = { 1.0f, 5.0f, 5.0f, 0.0f };
	struct orc_logprob top[4];

	ck_assert(fabs(lse - want) < 1e-12);
	ck_assert_int_eq(orc_logprobs_top(L4, 4, lse, 3, top), 0);
	ck_assert_int_eq(top[0].id, 3);
	ck_assert_int_eq(top[1].id, 2);
	ck_assert_int_eq(top[2].id, 1);
	ck_assert(fabs(top[0].logprob - (4.0 - want)) < 1e-6);
	ck_assert(fabs(top[2].logprob - (2.0 - want)) < 1e-6);
	ck_assert_int_eq(orc_logprobs_top(ties, 4, 0.0, 4, top), 0);
	ck_assert_int_eq(top[0].id, 1);
	ck_assert_int_eq(top[1].id, 2);
	ck_assert_int_eq(top[2].id, 0);
	ck_assert_int_eq(top[3].id, 3);
	ck_assert_int_eq(orc_logprobs_top(ties, 4, 0.0, 5, top), -EINVAL);
}
END_TEST

/* ---- stop strings ---- */

struct stop_run {
	char out[256];
	size_t n;
	bool stopped;
};

static void push(struct orc_stop *s, struct stop_run *r, const char *text, const char *want)
{
	const char *o;
	size_t n;
	bool st;

	ck_assert_int_eq(orc_stop_push(s, text, strlen(text), &o, &n, &st, NULL), 0);
	ck_assert_msg(n == strlen(want) && memcmp(o, want, n) == 0,
		      "push '%s': released '%.*s', want '%s'", text, (int)n, o, want);
	memcpy(r->out + r->n, o, n);
	r->n += n;
	r->stopped = st;
}

START_TEST(test_stop_holdback)
{
	const char *stops[] = { "\n\n", "END" };
	struct orc_stop *s;
	struct stop_run r = { .n = 0 };
	const char *o;
	size_t n;

	ck_assert_int_eq(orc_stop_new(stops, 2, &s, NULL), 0);
	push(s, &r, "Hello", "Hello");
	push(s, &r, " E", " ");          /* "E" could start "END" */
	push(s, &r, "N", "");            /* "EN" still could */
	push(s, &r, "X", "ENX");         /* not any more */
	push(s, &r, "a\n", "a");
	push(s, &r, "b", "\nb");
	push(s, &r, " E", " ");
	push(s, &r, "ND of it", "");      /* "END" completed across three pieces */
	ck_assert(r.stopped);
	push(s, &r, "more", "");
	ck_assert(r.stopped);
	orc_stop_flush(s, &o, &n);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq((r.out[r.n] = '\0', r.out), "Hello ENXa\nb ");
	orc_stop_free(s);
}
END_TEST

START_TEST(test_stop_cases)
{
	const char *s1[] = { "aab" };
	const char *s2[] = { "cd", "bcde" };
	const char *s3[] = { "\xc3\xa9!" };     /* "é!" */
	struct orc_stop *s;
	struct stop_run r = { .n = 0 };
	const char *o;
	size_t n;

	ck_assert_int_eq(orc_stop_new(s1, 1, &s, NULL), 0);
	push(s, &r, "aaab", "a");            /* overlapping prefix */
	ck_assert(r.stopped);
	orc_stop_free(s);

	ck_assert_int_eq(orc_stop_new(s2, 2, &s, NULL), 0);
	push(s, &r, "abcdef", "a");          /* the earliest match wins */
	orc_stop_free(s);

	ck_assert_int_eq(orc_stop_new(s3, 1, &s, NULL), 0);
	push(s, &r, "caf\xc3\xa9", "caf");   /* the held part is a whole character */
	push(s, &r, "?", "\xc3\xa9?");
	push(s, &r, "x\xc3\xa9", "x");
	orc_stop_flush(s, &o, &n);           /* the end releases what is held */
	ck_assert_uint_eq(n, 2);
	ck_assert(memcmp(o, "\xc3\xa9", 2) == 0);
	orc_stop_free(s);

	ck_assert_int_eq(orc_stop_new(NULL, 0, &s, NULL), 0);
	push(s, &r, "END", "END");
	orc_stop_free(s);
}
END_TEST

START_TEST(test_stop_invalid)
{
	char longs[ORC_STOP_STRING_LEN_MAX + 2];
	const char *empty[] = { "x", "" };
	const char *bad[] = { "\xff" };
	const char *surrogate[] = { "\xed\xa0\x80" };
	const char *lng[] = { longs };
	const char *many[ORC_STOP_STRINGS_MAX + 1];
	struct orc_err err = { 0 };
	struct orc_stop *s = NULL;

	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	for (size_t i = 0; i < ORC_STOP_STRINGS_MAX + 1; i++)
		many[i] = "x";
	ck_assert_int_eq(orc_stop_new(empty, 2, &s, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "stop string 1"));
	ck_assert_int_eq(orc_stop_new(bad, 1, &s, NULL), -EILSEQ);
	ck_assert_int_eq(orc_stop_new((const char *[]){ "a", NULL }, 2, &s, NULL), -EINVAL);
	ck_assert_int_eq(orc_stop_new(NULL, 1, &s, NULL), -EINVAL);
	ck_assert_int_eq(orc_stop_new(surrogate, 1, &s, NULL), -EILSEQ);
	ck_assert_int_eq(orc_stop_new(lng, 1, &s, NULL), -E2BIG);
	ck_assert_int_eq(orc_stop_new(many, ORC_STOP_STRINGS_MAX + 1, &s, NULL), -E2BIG);
	ck_assert_ptr_null(s);
}
END_TEST

/* The best ORC_SAMPLE_TOPK_MAX of l [n] in stage 3's order, found by a
 * plain selection (as a backend's topk op must give them). */
static void ref_topk(const float *l, uint32_t n, struct orc_topk *t)
{
	bool *used = calloc(n, sizeof(bool));
	for (int k = 0; k < ORC_SAMPLE_TOPK_MAX; k++) {
		int32_t b = -1;
		for (uint32_t i = 0; i < n; i++)
			if (!used[i] && (b < 0 || l[i] > l[b]))
				b = (int32_t)i;
		used[b] = true;
		t->id[k] = b;
		t->logit[k] = l[b];
	}
	free(used);
}

/* Sampling from the top candidates alone picks what sampling from the
 * whole row picks, draw for draw, for top_k from 1 to the limit with top-p
 * and min-p on and off, on rows with ties and -inf. */
START_TEST(test_sample_top_exact)
{
	const uint32_t n = 3000;
	float *l = malloc(n * sizeof(float));
	struct orc_topk t;
	struct orc_err err = { 0 };
	uint64_t st = 99;
	const int ks[] = {1, 2, 7, 40, 127, ORC_SAMPLE_TOPK_MAX};
	const float ps[] = {1.0f, 0.9f, 0.5f}, mps[] = {0.0f, 0.05f, 0.3f}, temps[] = {0.3f, 1.0f, 2.5f};

	for (int row = 0; row < 6; row++) {
		for (uint32_t i = 0; i < n; i++) {
			st = st * 6364136223846793005ull + 1442695040888963407ull;
			/* coarse values: many ties; some -inf */
			int v = (int)(st >> 40) % 200;
			l[i] = v == 0 ? -INFINITY : (float)(v % 97) * (row % 2 ? 0.25f : 0.0625f);
		}
		ref_topk(l, n, &t);
		for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
			for (int c = 0; c < 3; c++) {
				struct orc_sampler *a = mk(temps[c], ks[ki], ps[(row + c) % 3], mps[(ki + c) % 3], n);
				struct orc_sampler *b = mk(temps[c], ks[ki], ps[(row + c) % 3], mps[(ki + c) % 3], n);
				for (int d = 0; d < 50; d++) {
					int32_t ia, ib;
					ck_assert_int_eq(orc_sampler_sample(a, l, &ia, &err), 0);
					ck_assert_msg(orc_sampler_sample_top(b, &t, &ib, &err) == 0, "%s", err.msg);
					ck_assert_msg(ia == ib, "row %d top_k %d case %d draw %d: %d vs %d", row,
						      ks[ki], c, d, ia, ib);
				}
				orc_sampler_free(a);
				orc_sampler_free(b);
			}
	}
	free(l);
}
END_TEST

/* What the candidates cannot serve is refused: greedy, penalties, top_k
 * off or beyond the candidates, a refused row, candidates out of order. */
START_TEST(test_sample_top_refused)
{
	const uint32_t n = 500;
	float l[500];
	struct orc_topk t;
	struct orc_err err = { 0 };
	struct orc_sampler_params p;
	int32_t id;

	for (uint32_t i = 0; i < n; i++)
		l[i] = (float)((i * 37) % 101);
	ref_topk(l, n, &t);
	orc_sampler_params_default(&p);
	ck_assert(orc_sampler_top_ok(&p, n));
	p.temperature = 0.0f;
	ck_assert(!orc_sampler_top_ok(&p, n));
	orc_sampler_params_default(&p);
	p.repeat_penalty = 1.1f;
	ck_assert(!orc_sampler_top_ok(&p, n));
	p.repeat_penalty = 1.0f;
	p.top_k = 0;
	ck_assert(!orc_sampler_top_ok(&p, n));
	p.top_k = ORC_SAMPLE_TOPK_MAX + 1;
	ck_assert(!orc_sampler_top_ok(&p, n));
	p.top_k = 40;
	ck_assert(!orc_sampler_top_ok(&p, 40));

	struct orc_sampler *g = mk(0.0f, 40, 1.0f, 0.0f, n);
	ck_assert_int_eq(orc_sampler_sample_top(g, &t, &id, &err), -EINVAL);
	orc_sampler_free(g);
	struct orc_sampler *s = mk(1.0f, 40, 1.0f, 0.0f, n);
	t.id[0] = -1;
	ck_assert_int_eq(orc_sampler_sample_top(s, &t, &id, &err), -EDOM);
	ck_assert_ptr_nonnull(strstr(err.msg, "NaN"));
	ref_topk(l, n, &t);
	int32_t tid = t.id[3];
	float tl = t.logit[3];
	t.id[3] = t.id[4], t.logit[3] = t.logit[4];
	t.id[4] = tid, t.logit[4] = tl;
	ck_assert_int_eq(orc_sampler_sample_top(s, &t, &id, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "order"));
	ref_topk(l, n, &t);
	t.id[2] = (int32_t)n;
	ck_assert_int_eq(orc_sampler_sample_top(s, &t, &id, &err), -EINVAL);
	orc_sampler_free(s);
}
END_TEST

static Suite *sampler_suite(void)
{
	Suite *s = suite_create("sampler");
	TCase *tc = tcase_create("rng");

	tcase_add_test(tc, test_splitmix64_reference);
	tcase_add_test(tc, test_xoshiro_reference);
	suite_add_tcase(s, tc);
	tc = tcase_create("sampler");
	tcase_add_test(tc, test_params_rejected);
	tcase_add_test(tc, test_plain_temperature);
	tcase_add_test(tc, test_top_k);
	tcase_add_test(tc, test_top_p);
	tcase_add_test(tc, test_top_p_large_vocab);
	tcase_add_test(tc, test_min_p);
	tcase_add_test(tc, test_penalties);
	tcase_add_test(tc, test_greedy);
	tcase_add_test(tc, test_draw_rule);
	tcase_add_test(tc, test_frequencies);
	tcase_add_test(tc, test_bad_logits);
	tcase_add_test(tc, test_logprobs);
	tcase_add_test(tc, test_sample_top_exact);
	tcase_add_test(tc, test_sample_top_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("stop");
	tcase_add_test(tc, test_stop_holdback);
	tcase_add_test(tc, test_stop_cases);
	tcase_add_test(tc, test_stop_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return orc_test_run(sampler_suite());
}
