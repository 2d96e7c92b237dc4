/* bench_prefix.c -- time to first token with a shared system prompt: a
 * request of S system + Q question tokens on an empty prefix cache, then a
 * second request with the same system prompt and another question, which
 * reuses the cached KV blocks (orc_gen's reuse_prefix). Prints both TTFTs
 * and their ratio, best of -r rounds (the cache is dropped before each).
 * A benchmark, not a test: it prints. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "gen.h"
#include "rng.h"

struct shot {
	double ttft_ms;
	uint32_t cached;
	int32_t first;      /* the first generated token */
};

/* One greedy request for one token. */
static int request(struct orc_model *m, const int32_t *ids, size_t n, bool reuse, struct shot *ret)
{
	struct orc_gen_params p;
	struct orc_gen_result r;
	struct orc_err err = { 0 };

	orc_gen_params_default(&p);
	p.sampling.temperature = 0;
	p.max_tokens = 1;
	p.reuse_prefix = reuse;
	if (orc_generate(m, &p, ids, n, NULL, NULL, &r, &err) < 0) {
		fprintf(stderr, "bench_prefix: %s\n", orc_err_msg(&err));
		return -1;
	}
	ret->ttft_ms = r.timings.ttft_ms;
	ret->cached = r.timings.cached_prompt_tokens;
	ret->first = r.n_ids ? r.ids[0] : -1;
	orc_gen_result_free(&r);
	return 0;
}

static enum orc_backend_kind backend_kind(const char *s)
{
	if (strcmp(s, "cpu") == 0)
		return ORC_BACKEND_CPU;
	if (strcmp(s, "cuda") == 0)
		return ORC_BACKEND_CUDA;
	return ORC_BACKEND_AUTO;
}

/* Rounds of cold / warm / cold-without-reuse check; the best TTFTs. */
static int rounds(struct orc_model *m, int32_t *a, int32_t *b, size_t n, int reps,
		  struct shot *cold, struct shot *warm, bool *same)
{
	*same = true;
	for (int i = 0; i < reps; i++) {
		struct shot c, w, plain;

		orc_model_drop_prefix_cache(m);
		if (request(m, a, n, true, &c) < 0 || request(m, b, n, true, &w) < 0 ||
		    request(m, b, n, false, &plain) < 0)
			return -1;
		*same = *same && w.first == plain.first && c.cached == 0;
		if (i == 0 || c.ttft_ms < cold->ttft_ms)
			*cold = c;
		if (i == 0 || w.ttft_ms < warm->ttft_ms)
			*warm = w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct orc_model_opts mo = { .backend = ORC_BACKEND_CPU, .n_ctx = 2048, .n_seq_max = 1 };
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };
	uint32_t n_sys = 1000, n_q = 24, nv;
	int reps = 1, c, rc = 1;
	int32_t *a = NULL, *b = NULL;
	struct orc_rng rng;
	struct shot cold = { 0 }, warm = { 0 }, w0;
	bool same;

	while ((c = getopt(argc, argv, "t:s:q:r:b:")) != -1) {
		if (c == 't')
			mo.n_threads = atoi(optarg);
		else if (c == 's')
			n_sys = (uint32_t)atoi(optarg);
		else if (c == 'q')
			n_q = (uint32_t)atoi(optarg);
		else if (c == 'r')
			reps = atoi(optarg);
		else if (c == 'b')
			mo.backend = backend_kind(optarg);
		else
			goto usage;
	}
	if (optind + 1 != argc || n_sys + n_q + 2 > 16384 || n_q == 0 || reps < 1)
		goto usage;
	if (mo.n_threads <= 0)
		mo.n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	mo.n_ctx = (n_sys + n_q + 2 + 15) / 16 * 16;
	if (orc_model_load(argv[optind], &mo, &m, &err) < 0) {
		fprintf(stderr, "bench_prefix: %s: %s\n", argv[optind], orc_err_msg(&err));
		return 1;
	}
	nv = orc_model_n_vocab(m);
	a = malloc(sizeof(int32_t) * (n_sys + n_q));
	b = malloc(sizeof(int32_t) * (n_sys + n_q));
	if (!a || !b)
		goto out;
	orc_rng_seed(&rng, 11);
	for (uint32_t i = 0; i < n_sys + n_q; i++)
		a[i] = b[i] = (int32_t)(orc_rng_next(&rng) % nv);
	for (uint32_t i = n_sys; i < n_sys + n_q; i++)   /* another question */
		b[i] = (int32_t)(orc_rng_next(&rng) % nv);
	if (request(m, b + n_sys, n_q, false, &w0) < 0)  /* warm the weights' pages */
		goto out;
	if (rounds(m, a, b, n_sys + n_q, reps, &cold, &warm, &same) < 0)
		goto out;
	printf("model        %s (%s backend, %d threads)\n", argv[optind], orc_model_backend_name(m),
	       orc_model_n_threads(m));
	printf("prompt       %u system + %u question tokens, best of %d rounds\n", n_sys, n_q, reps);
	printf("ttft first   %.1f ms (%u tokens evaluated)\n", cold.ttft_ms, n_sys + n_q);
	printf("ttft second  %.1f ms (%u tokens from the cache, %u evaluated)\n", warm.ttft_ms,
	       warm.cached, n_sys + n_q - warm.cached);
	printf("speedup      %.1fx; first token as without reuse: %s\n",
	       warm.ttft_ms > 0 ? cold.ttft_ms / warm.ttft_ms : 0.0, same ? "yes" : "NO");
	rc = same ? 0 : 1;
out:
	free(a);
	free(b);
	orc_model_free(m);
	return rc;
usage:
	fprintf(stderr, "usage: bench_prefix [-t THREADS] [-s SYSTEM_TOKENS] [-q QUESTION_TOKENS] "
		"[-r ROUNDS] [-b cpu|cuda|auto] MODEL.gguf\n");
	return 2;
}
