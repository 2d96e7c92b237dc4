/* bench_cuda.c -- the engine on the CUDA backend: prefill tokens/s at 512,
 * time to first token for a 10-token prompt, decode tokens/s for one
 * sequence and aggregate decode tokens/s for B sequences at once (the
 * median of 5 runs of fresh sequences, with the spread; greedy:
 * the engine's argmax on the device, as orcd does for greedy requests; with
 * -L, every logit to the host and the argmax there), with the decode
 * product kernels that -k allows (orc_k_mm_set_kernels' mask;
 * ORC_K_MM_DEFAULT without -k), and with -H the KV cache in F16. With -r it
 * instead compares the model's logits and greedy tokens with a
 * tools/hf_reference.py JSON. A benchmark and a tool, not a test: it prints. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "jsonr.h"
#include "kernels.h"
#include "sampler.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int eval(struct orc_model *m, struct orc_eval_item *it, size_t n)
{
	struct orc_err err = { 0 };
	int r = orc_model_eval(m, it, n, &err);
	if (r < 0)
		fprintf(stderr, "bench_cuda: eval: %s\n", orc_err_msg(&err));
	return r;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- benchmarks ---- */

/* Seconds for a fresh sequence to evaluate n prompt tokens and return the
 * last logits (median of reps). */
static bool host_logits;   /* -L */

static double prompt_time(struct orc_model *m, struct orc_seq *s, const int32_t *ids, uint32_t n, float *logits,
			  int reps)
{
	double t[32];
	int32_t id;
	for (int i = 0; i < reps; i++) {
		struct orc_eval_item it = { .seq = s, .ids = ids, .n = n, .logits = host_logits ? logits : NULL,
					    .argmax = host_logits ? NULL : &id };
		orc_seq_clear(s);
		double t0 = now_s();
		if (eval(m, &it, 1) < 0)
			return -1;
		t[i] = now_s() - t0;
	}
	qsort(t, (size_t)reps, sizeof(double), cmp_d);
	return t[reps / 2];
}

/* B sequences, each after a prompt of 16 tokens, decode `steps` tokens
 * together (one token per sequence per evaluation). Tokens/s over all. */
/* One timed run: B fresh sequences, a 16-token prompt each, three warm-up
 * steps (graphs captured), then `steps` timed steps; tokens/s, or -1.
 * *t_host gets the seconds a step spent in the host's loop. */
static double decode_run(struct orc_model *m, uint32_t B, uint32_t steps, const int32_t *ids, double *t_host)
{
	const uint32_t nv = orc_model_n_vocab(m);
	struct orc_seq **s = calloc(B, sizeof(*s));
	struct orc_eval_item *it = calloc(B, sizeof(*it));
	int32_t *next = calloc(B, sizeof(int32_t));
	float *logits = malloc(sizeof(float) * nv * B);
	struct orc_err err = { 0 };
	double rate = -1, t0 = 0;

	*t_host = 0;
	for (uint32_t i = 0; i < B; i++)
		if (orc_seq_new(m, &s[i], &err) < 0) {
			fprintf(stderr, "bench_cuda: %s\n", orc_err_msg(&err));
			goto out;
		}
	for (uint32_t i = 0; i < B; i++)
		it[i] = (struct orc_eval_item){ .seq = s[i], .ids = ids + i % 64, .n = 16,
						.logits = host_logits ? logits + (size_t)i * nv : NULL,
						.argmax = host_logits ? NULL : &next[i] };
	if (eval(m, it, B) < 0)
		goto out;
	for (uint32_t k = 0; k < steps + 3; k++) {
		if (k == 3)
			t0 = now_s();
		double th = now_s();
		for (uint32_t i = 0; i < B; i++) {
			if (host_logits)
				next[i] = orc_sampler_argmax(logits + (size_t)i * nv, nv);
			else if (next[i] < 0)
				goto out;
			it[i].ids = &next[i];
			it[i].n = 1;
		}
		if (k >= 3)
			*t_host += now_s() - th;
		if (eval(m, it, B) < 0)
			goto out;
	}
	rate = (double)B * steps / (now_s() - t0);
	*t_host /= steps;
out:
	for (uint32_t i = 0; i < B; i++)
		orc_seq_free(s[i]);
	free(s);
	free(it);
	free(next);
	free(logits);
	return rate;
}

#define DECODE_RUNS 5

/* The median of DECODE_RUNS runs (the first run of a process is often a
 * few percent slower than the rest); -1 if one fails. */
static double decode_batch(struct orc_model *m, uint32_t B, uint32_t steps, const int32_t *ids)
{
	double rate[DECODE_RUNS], host[DECODE_RUNS];

	for (int r = 0; r < DECODE_RUNS; r++)
		if ((rate[r] = decode_run(m, B, steps, ids, &host[r])) < 0)
			return -1;
	qsort(rate, DECODE_RUNS, sizeof(double), cmp_d);
	qsort(host, DECODE_RUNS, sizeof(double), cmp_d);
	const double med = rate[DECODE_RUNS / 2], step = B / med;
	printf("                 (runs %.1f .. %.1f tokens/s; a step: %.1f us in the host's loop, %.1f us in "
	       "orc_model_eval)\n", rate[0], rate[DECODE_RUNS - 1], host[DECODE_RUNS / 2] * 1e6,
	       (step - host[DECODE_RUNS / 2]) * 1e6);
	return med;
}

static int bench(struct orc_model *m, uint32_t steps, uint32_t batch, bool decode_only)
{
	const uint32_t nv = orc_model_n_vocab(m);
	int32_t ids[1024];
	struct orc_seq *s = NULL;
	struct orc_err err = { 0 };
	float *logits = malloc(sizeof(float) * nv);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 1024; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ids[i] = (int32_t)(x % nv);
	}
	if (orc_seq_new(m, &s, &err) < 0) {
		fprintf(stderr, "bench_cuda: %s\n", orc_err_msg(&err));
		return 1;
	}
	double p512 = 1, ttft = 1;
	if (!decode_only) {
		prompt_time(m, s, ids, 512, logits, 1);     /* warm-up */
		p512 = prompt_time(m, s, ids, 512, logits, 5);
		printf("prefill 512      %.0f tokens/s (%.2f ms, median of 5)\n", 512 / p512, p512 * 1e3);
		prompt_time(m, s, ids, 10, logits, 3);
		ttft = prompt_time(m, s, ids, 10, logits, 21);
		printf("TTFT 10 tokens   %.2f ms (median of 21, %s)\n", ttft * 1e3,
		       host_logits ? "logits on the host" : "greedy id from the device");
	}
	orc_seq_free(s);
	double d1 = decode_batch(m, 1, steps, ids);
	printf("decode batch 1   %.1f tokens/s (%u steps after 16 prompt tokens, median of %d runs)\n", d1, steps,
	       DECODE_RUNS);
	double dB = decode_batch(m, batch, steps, ids);
	printf("decode batch %-3u %.1f tokens/s aggregate (%.1f per sequence, median of %d runs)\n", batch, dB,
	       dB / batch, DECODE_RUNS);
	free(logits);
	return p512 > 0 && ttft > 0 && d1 > 0 && dB > 0 ? 0 : 1;
}

/* ---- comparison with tools/hf_reference.py ---- */

static int compare_ref(struct orc_model *m, const char *path, double tol)
{
	char emsg[256];
	struct orc_jsonr *root = orc_jsonr_parse_file(path, emsg, sizeof(emsg));
	int32_t *prompt = NULL, *greedy = NULL;
	size_t np = 0, ng = 0, checked = 0, agree = 0;
	struct orc_seq *s = NULL;
	struct orc_err err = { 0 };
	double worst = 0;
	int rc = 1;

	if (!root || orc_jsonr_i32_array(orc_jsonr_get(root, "prompt_ids"), &prompt, &np) != 0 ||
	    orc_jsonr_i32_array(orc_jsonr_get(root, "greedy"), &greedy, &ng) != 0 || np == 0) {
		fprintf(stderr, "bench_cuda: %s: %s\n", path, root ? "missing prompt_ids or greedy" : emsg);
		goto out;
	}
	const uint32_t nv = orc_model_n_vocab(m);
	const struct orc_jsonr *pos = orc_jsonr_get(root, "positions"), *margin = orc_jsonr_get(root, "greedy_margin");
	float *lg = malloc(sizeof(float) * nv * np);
	struct orc_eval_item it = { .ids = prompt, .n = (uint32_t)np, .logits_all = true, .logits = lg };
	if (orc_seq_new(m, &s, &err) < 0)
		goto out_free;
	it.seq = s;
	if (eval(m, &it, 1) < 0)
		goto out_free;
	for (size_t p = 0; p < np; p++) {
		const struct orc_jsonr *pp = orc_jsonr_at(pos, p), *top = orc_jsonr_get(pp, "top");
		const float *l = lg + p * nv;
		double mx = -INFINITY, z = 0;
		for (uint32_t i = 0; i < nv; i++)
			mx = fmax(mx, l[i]);
		for (uint32_t i = 0; i < nv; i++)
			z += exp(l[i] - mx);
		worst = fmax(worst, fabs(mx + log(z) - orc_jsonr_num(orc_jsonr_get(pp, "lse"), NAN)));
		for (size_t k = 0; k < orc_jsonr_len(top); k++) {
			const struct orc_jsonr *e = orc_jsonr_at(top, k);
			uint32_t id = (uint32_t)orc_jsonr_num(orc_jsonr_at(e, 0), 0);
			worst = fmax(worst, fabs(l[id] - orc_jsonr_num(orc_jsonr_at(e, 1), NAN)));
		}
	}
	/* greedy with the reference's ids fed back; steps with a clear margin must agree */
	memmove(lg, lg + (np - 1) * nv, sizeof(float) * nv);
	for (size_t k = 0; k < ng; k++) {
		if (orc_jsonr_num(orc_jsonr_at(margin, k), 0) > 2 * tol) {
			checked++;
			agree += orc_sampler_argmax(lg, nv) == greedy[k];
		}
		struct orc_eval_item one = { .seq = s, .ids = &greedy[k], .n = 1, .logits = lg };
		if (k + 1 < ng && eval(m, &one, 1) < 0)
			goto out_free;
	}
	printf("reference %s: max |logit - ref| %.3g over %zu positions (tolerance %.3g); greedy %zu/%zu clear steps agree\n",
	       path, worst, np, tol, agree, checked);
	rc = worst <= tol && agree == checked ? 0 : 1;
out_free:
	free(lg);
out:
	orc_seq_free(s);
	orc_jsonr_free(root);
	free(prompt);
	free(greedy);
	return rc;
}

int main(int argc, char **argv)
{
	struct orc_model_opts mo = { .backend = ORC_BACKEND_CUDA, .n_ctx = 1024, .n_seq_max = 64 };
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };
	const char *ref = NULL;
	uint32_t steps = 128, batch = 32;
	double tol = 1e-2;
	bool decode_only = false;
	unsigned mask;
	char junk;
	int c, rc;

	while ((c = getopt(argc, argv, "n:b:r:t:c:s:k:dLH")) != -1) {
		if (c == 'H')
			mo.kv_f16 = true;
		else if (c == 'k' && sscanf(optarg, "%u%c", &mask, &junk) == 1 && mask < 16)
			orc_k_mm_set_kernels(mask);
		else if (c == 'd')
			decode_only = true;
		else if (c == 'L')
			host_logits = true;
		else if (c == 'c')
			mo.n_ctx = (uint32_t)atoi(optarg);
		else if (c == 's')
			mo.n_seq_max = (uint32_t)atoi(optarg);
		else if (c == 'n')
			steps = (uint32_t)atoi(optarg);
		else if (c == 'b')
			batch = (uint32_t)atoi(optarg);
		else if (c == 'r')
			ref = optarg;
		else if (c == 't')
			tol = atof(optarg);
		else
			goto usage;
	}
	if (optind + 1 != argc || batch == 0 || batch > 64 || batch > mo.n_seq_max || steps == 0)
		goto usage;
	double t0 = now_s();
	if (orc_model_load(argv[optind], &mo, &m, &err) < 0) {
		fprintf(stderr, "bench_cuda: %s: %s\n", argv[optind], orc_err_msg(&err));
		return 1;
	}
	const struct orc_model_desc *d = orc_model_get_desc(m);
	struct orc_model_mem mem;
	orc_model_get_mem(m, &mem);
	printf("model            %s (%s, %u layers, dim %u, %s), loaded in %.2f s\n", argv[optind], d->arch_name,
	       d->hp.n_layer, d->hp.n_embd, orc_model_backend_name(m), now_s() - t0);
	printf("memory           weights %.1f MiB, KV cache %.1f MiB, scratch %.1f MiB\n", mem.weights / 1048576.0,
	       mem.kv_cache / 1048576.0, mem.scratch / 1048576.0);
	rc = ref ? compare_ref(m, ref, tol) : bench(m, steps, batch, decode_only);
	orc_model_free(m);
	return rc;
usage:
	fprintf(stderr, "usage: bench_cuda [-d] [-L] [-H] [-k KERNEL_MASK] [-c N_CTX] [-s N_SEQ] [-n DECODE_STEPS] [-b BATCH<=64]"
			" MODEL.gguf\n"
			"       bench_cuda -r REF.json [-t TOLERANCE] MODEL.gguf\n");
	return 2;
}
