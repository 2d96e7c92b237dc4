/* bench_engine.c -- engine throughput on one model file: prefill tokens/s
 * for 128 and 512 tokens, decode tokens/s, and the weight bytes streamed
 * per second in decode against a memcpy bandwidth measured in the same run
 * with the same number of threads; with -b B, also the aggregate decode
 * tokens/s of B sequences stepped together; with -l L, decode tokens/s
 * after an L-token prompt (attention over a long context). A benchmark,
 * not a test: it prints. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "rng.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- memcpy bandwidth ---- */

struct copy_job {
	char *dst;
	const char *src;
	size_t n;
};

static void *copy_worker(void *arg)
{
	struct copy_job *j = arg;
	memcpy(j->dst, j->src, j->n);
	return NULL;
}

/* Bytes copied per second, best of 5, by n_threads threads on disjoint slices. */
static double memcpy_bandwidth(size_t bytes, int n_threads)
{
	char *src = malloc(bytes), *dst = malloc(bytes);
	pthread_t th[64];
	struct copy_job jobs[64];
	double best = 0;

	if (!src || !dst || n_threads < 1 || n_threads > 64) {
		free(src);
		free(dst);
		return 0;
	}
	memset(src, 1, bytes);
	memset(dst, 2, bytes);
	for (int rep = 0; rep < 6; rep++) {
		size_t slice = bytes / (size_t)n_threads;
		double t0 = now_s(), dt;
		for (int i = 0; i < n_threads; i++) {
			jobs[i] = (struct copy_job){ dst + i * slice, src + i * slice, slice };
			pthread_create(&th[i], NULL, copy_worker, &jobs[i]);
		}
		for (int i = 0; i < n_threads; i++)
			pthread_join(th[i], NULL);
		dt = now_s() - t0;
		if (rep > 0 && (double)bytes / dt > best)   /* rep 0 warms the pages */
			best = (double)bytes / dt;
	}
	free(src);
	free(dst);
	return best;
}

/* ---- engine runs ---- */

static int eval(struct orc_model *m, struct orc_seq *s, const int32_t *ids, uint32_t n,
		float *logits)
{
	struct orc_eval_item it = { .seq = s, .ids = ids, .n = n, .logits = logits };
	struct orc_err err = { 0 };
	int r = orc_model_eval(m, &it, 1, &err);

	if (r < 0)
		fprintf(stderr, "bench_engine: eval: %s\n", orc_err_msg(&err));
	return r;
}

static int32_t argmax(const float *l, uint32_t n)
{
	uint32_t b = 0;
	for (uint32_t i = 1; i < n; i++)
		if (l[i] > l[b])
			b = i;
	return (int32_t)b;
}

/* Prefill n random tokens on a cleared sequence; tokens/s (best of reps). */
static double prefill(struct orc_model *m, struct orc_seq *s, const int32_t *ids, uint32_t n,
		      float *logits, int reps)
{
	double best = 0;

	for (int i = 0; i < reps; i++) {
		double t0, dt;
		orc_seq_clear(s);
		t0 = now_s();
		if (eval(m, s, ids, n, logits) < 0)
			return -1;
		dt = now_s() - t0;
		if ((double)n / dt > best)
			best = (double)n / dt;
	}
	return best;
}

/* Decode n tokens after the sequence's current content; tokens/s. */
static double decode(struct orc_model *m, struct orc_seq *s, uint32_t n, float *logits)
{
	uint32_t nv = orc_model_n_vocab(m);
	int32_t id = argmax(logits, nv);
	double t0 = now_s();

	for (uint32_t i = 0; i < n; i++) {
		if (eval(m, s, &id, 1, logits) < 0)
			return -1;
		id = argmax(logits, nv);
	}
	return (double)n / (now_s() - t0);
}

/* Decode n tokens after a prompt of len tokens (ids repeated from
 * `ids`, 512 of them), on a fresh sequence; tokens/s. */
static double decode_long(struct orc_model *m, uint32_t len, uint32_t n, const int32_t *ids, float *logits)
{
	struct orc_seq *s = NULL;
	struct orc_err err = { 0 };
	int32_t *p = malloc(sizeof(*p) * len);
	double rate = -1;

	if (!p || orc_seq_new(m, &s, &err) < 0) {
		fprintf(stderr, "bench_engine: %s\n", p ? orc_err_msg(&err) : "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < len; i++)
		p[i] = ids[i % 512];
	for (uint32_t i = 0; i < len; i += 512)
		if (eval(m, s, p + i, len - i < 512 ? len - i : 512, logits) < 0)
			goto out;
	rate = decode(m, s, n, logits);
out:
	orc_seq_free(s);
	free(p);
	return rate;
}

/* B sequences after a 16-token prompt each, stepped together for n
 * greedy tokens (the argmax picked by the engine); aggregate tokens/s. */
static double decode_batch(struct orc_model *m, uint32_t B, uint32_t n, const int32_t *ids)
{
	struct orc_seq **s = calloc(B, sizeof(*s));
	struct orc_eval_item *it = calloc(B, sizeof(*it));
	int32_t *next = calloc(B, sizeof(*next));
	struct orc_err err = { 0 };
	double rate = -1, t0 = 0;

	if (!s || !it || !next)
		goto out;
	for (uint32_t i = 0; i < B; i++) {
		if (orc_seq_new(m, &s[i], &err) < 0)
			goto fail;
		it[i] = (struct orc_eval_item){ .seq = s[i], .ids = ids + 16 * (i % 32), .n = 16, .argmax = &next[i] };
	}
	for (uint32_t k = 0; k <= n; k++) {
		if (k == 1)
			t0 = now_s();   /* after the prompts */
		if (orc_model_eval(m, it, B, &err) < 0)
			goto fail;
		for (uint32_t i = 0; i < B; i++) {
			it[i].ids = &next[i];
			it[i].n = 1;
		}
	}
	rate = (double)B * n / (now_s() - t0);
	goto out;
fail:
	fprintf(stderr, "bench_engine: batch of %u: %s\n", B, orc_err_msg(&err));
out:
	for (uint32_t i = 0; s && i < B; i++)
		orc_seq_free(s[i]);
	free(s);
	free(it);
	free(next);
	return rate;
}

/* Bytes of weights one decode step reads: every matrix, but only one row
 * of the embedding table unless the output projection is tied to it. */
static uint64_t decode_bytes(const struct orc_model_desc *d)
{
	uint64_t b = d->weight_bytes;

	if (!d->hp.tied_output)
		b -= d->token_embd->size - d->token_embd->size / d->token_embd->ne[1];
	return b;
}

int main(int argc, char **argv)
{
	struct orc_model_opts mo = { .backend = ORC_BACKEND_CPU, .n_ctx = 1024, .n_seq_max = 1 };
	struct orc_model *m = NULL;
	struct orc_seq *s = NULL;
	struct orc_err err = { 0 };
	uint32_t n_decode = 32, batch = 0, long_ctx = 0, nv;
	int32_t ids[512];
	float *logits = NULL;
	struct orc_rng rng;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "t:n:b:l:")) != -1) {
		if (c == 't')
			mo.n_threads = atoi(optarg);
		else if (c == 'n')
			n_decode = (uint32_t)atoi(optarg);
		else if (c == 'b')
			batch = (uint32_t)atoi(optarg);
		else if (c == 'l')
			long_ctx = (uint32_t)atoi(optarg);
		else
			goto usage;
	}
	if (optind + 1 != argc || batch > 64)
		goto usage;
	mo.n_seq_max = (batch > 1 ? batch + 1 : 1) + (long_ctx ? 1 : 0);   /* beside the single sequence */
	if (long_ctx + n_decode + 1 > mo.n_ctx)
		mo.n_ctx = long_ctx + n_decode + 1;
	if (mo.n_threads <= 0)
		mo.n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);

	double bw = memcpy_bandwidth((size_t)256 << 20, mo.n_threads);
	double t0 = now_s();
	if (orc_model_load(argv[optind], &mo, &m, &err) < 0 || orc_seq_new(m, &s, &err) < 0) {
		fprintf(stderr, "bench_engine: %s: %s\n", argv[optind], orc_err_msg(&err));
		goto out;
	}
	const struct orc_model_desc *d = orc_model_get_desc(m);
	nv = orc_model_n_vocab(m);
	orc_rng_seed(&rng, 7);
	for (int i = 0; i < 512; i++)
		ids[i] = (int32_t)(orc_rng_next(&rng) % nv);
	if (!(logits = malloc((size_t)nv * sizeof(*logits))))
		goto out;
	printf("model        %s (%s, %u layers, dim %u, %s backend, %d threads), loaded in %.1f s\n",
	       argv[optind], d->arch_name, d->hp.n_layer, d->hp.n_embd, orc_model_backend_name(m),
	       mo.n_threads, now_s() - t0);
	printf("weights      %.1f MiB; %.1f MiB read per decode step\n",
	       (double)d->weight_bytes / 1048576.0, (double)decode_bytes(d) / 1048576.0);
	printf("memcpy       %.2f GB/s (%d threads, bytes copied per second)\n", bw / 1e9, mo.n_threads);

	double p128 = prefill(m, s, ids, 128, logits, 2);
	printf("prefill 128  %.1f tokens/s\n", p128);
	double dec = p128 > 0 ? decode(m, s, n_decode, logits) : -1;  /* after the 128 */
	double p512 = dec > 0 ? prefill(m, s, ids, 512, logits, 1) : -1;
	printf("prefill 512  %.1f tokens/s\n", p512);
	if (dec > 0) {
		double bps = dec * (double)decode_bytes(d);
		printf("decode       %.2f tokens/s (%u tokens after a 128-token prompt)\n", dec, n_decode);
		printf("streamed     %.2f GB/s of weights = %.0f%% of memcpy\n", bps / 1e9,
		       bw > 0 ? 100.0 * bps / bw : 0.0);
	}
	double decb = batch > 1 && dec > 0 ? decode_batch(m, batch, n_decode, ids) : 0;
	if (batch > 1 && decb > 0)
		printf("decode x%-3u  %.2f tokens/s aggregate (%u sequences, %u tokens each after 16)\n", batch, decb,
		       batch, n_decode);
	double decl = long_ctx && dec > 0 ? decode_long(m, long_ctx, n_decode, ids, logits) : 0;
	if (long_ctx && decl > 0)
		printf("decode @%-5u %.2f tokens/s (%u tokens after a %u-token prompt)\n", long_ctx, decl, n_decode,
		       long_ctx);
	rc = p128 > 0 && p512 > 0 && dec > 0 && decb >= 0 && decl >= 0 ? 0 : 1;
out:
	free(logits);
	orc_seq_free(s);
	orc_model_free(m);
	return rc;
usage:
	fprintf(stderr, "usage: bench_engine [-t THREADS] [-n DECODE_TOKENS] [-b SEQUENCES<=64] [-l LONG_PROMPT] MODEL.gguf\n");
	return 2;
}
