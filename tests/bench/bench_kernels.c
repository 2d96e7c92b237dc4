/* bench_kernels.c -- the decode products of kernels/ alone, at the shapes of
 * a model geometry (Qwen2.5-0.5B by default, -p phi3 for Phi-3-mini): the
 * norm-fused QKV triple, the output projection with its residual add, the
 * norm-fused SwiGLU gate/up pair, the down projection and the output head,
 * each for 1, 8 and 32 token columns. Each figure is the median over 7
 * replays of a CUDA graph of 40 back-to-back launches that cycle through
 * enough weight copies (at least 256 MiB) that nothing is served from L2:
 * microseconds a launch, launch gaps included, as a decode step sees them,
 * and the weight bytes over that time, with what -k allows besides the
 * one-block kernels (orc_k_mm_set_kernels' mask: ORC_K_MM_SPLIT = 1,
 * ORC_K_MM_STREAM = 2, ORC_K_MM_PREP = 4, ORC_K_MM_STREAM_LONG = 8;
 * ORC_K_MM_DEFAULT without -k)
 * where the launcher picks it.
 * A benchmark, not a test: it prints. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudatest.h"
#include "kernels.h"

#define LAUNCHES 40
#define REPLAYS 7
#define ROTATE_BYTES ((size_t)256 << 20)

struct shape {
	const char *name;
	int K, N[3], n_mat;     /* n_mat: products in one launch (QKV: 3) */
	int swiglu, norm, accumulate;
};

/* ---- device buffers (cudatest.h's assert through check, which needs a
 * running test) ---- */

static void die_cuda(cudaError_t e, const char *what)
{
	if (e != cudaSuccess) {
		fprintf(stderr, "bench_kernels: %s: %s\n", what, cudaGetErrorString(e));
		exit(1);
	}
}

static void *dev_dup(const void *h, size_t bytes)
{
	void *d = NULL;
	die_cuda(cudaMalloc(&d, bytes), "cudaMalloc");
	die_cuda(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
	return d;
}

static void *dev_zero(size_t bytes)
{
	void *d = NULL;
	die_cuda(cudaMalloc(&d, bytes), "cudaMalloc");
	die_cuda(cudaMemset(d, 0, bytes), "cudaMemset");
	return d;
}

static int cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

/* Median microseconds of one launch of shape s with ncols columns. */
static float time_shape(const struct shape *s, int wtype, int ncols, double *gbs)
{
	size_t mat_bytes = 0, rb = (size_t)orc_k_row_bytes(wtype, s->K);
	int rows[3];
	for (int i = 0; i < s->n_mat; i++) {
		rows[i] = s->N[i] * (s->swiglu ? 2 : 1);
		mat_bytes += rb * (size_t)rows[i];
	}
	int copies = (int)((ROTATE_BYTES + mat_bytes - 1) / mat_bytes);
	if (copies < 2)
		copies = 2;
	if (copies > LAUNCHES)
		copies = LAUNCHES;
	void *w[LAUNCHES][3];
	for (int i = 0; i < s->n_mat; i++) {
		size_t bytes;
		void *h = ct_rand_weights(wtype, rows[i], s->K, 0.05f, &bytes);
		for (int c = 0; c < copies; c++)
			w[c][i] = dev_dup(h, bytes);
		free(h);
	}
	int ldy = 0;
	for (int i = 0; i < s->n_mat; i++)
		ldy += s->N[i];
	float *hx = malloc(sizeof(float) * (size_t)ncols * s->K);
	float *hn = malloc(sizeof(float) * (size_t)s->K);
	if (!hx || !hn) {
		fprintf(stderr, "bench_kernels: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < (size_t)ncols * s->K; i++)
		hx[i] = ct_uniform(-1.0f, 1.0f);
	for (int i = 0; i < s->K; i++)
		hn[i] = ct_uniform(0.5f, 1.5f);
	float *x = dev_dup(hx, sizeof(float) * (size_t)ncols * s->K), *nw = dev_dup(hn, sizeof(float) * s->K);
	float *y = dev_zero(sizeof(float) * (size_t)ncols * ldy);
	size_t ws_bytes = orc_k_mm_ws_bytes(wtype, s->K, ncols);
	void *ws = ws_bytes ? dev_zero(ws_bytes) : NULL;
	int *flag = dev_zero(sizeof(int));

	cudaStream_t st;
	cudaGraph_t g;
	cudaGraphExec_t ge;
	cudaEvent_t e0, e1;
	die_cuda(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "stream");
	die_cuda(cudaEventCreate(&e0), "event");
	die_cuda(cudaEventCreate(&e1), "event");
	die_cuda(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal), "capture");
	for (int l = 0; l < LAUNCHES; l++) {
		struct orc_k_gemv a[3];
		int off = 0;
		for (int i = 0; i < s->n_mat; i++) {
			a[i] = (struct orc_k_gemv){
				.w = w[l % copies][i], .wtype = wtype, .K = s->K, .N = rows[i], .x = x, .ldx = s->K,
				.ncols = ncols, .y = y + off, .ldy = ldy, .norm_w = s->norm ? nw : NULL,
				.norm_eps = 1e-6f, .act = s->swiglu ? ORC_K_ACT_SWIGLU : ORC_K_ACT_NONE,
				.accumulate = s->accumulate, .ws = ws, .ws_bytes = ws_bytes, .flag = flag,
			};
			off += s->N[i];
		}
		cudaError_t e = s->n_mat > 1 ? orc_k_gemv_multi(a, s->n_mat, st) : orc_k_gemv(a, st);
		die_cuda(e, s->name);
	}
	die_cuda(cudaStreamEndCapture(st, &g), "end capture");
	die_cuda(cudaGraphInstantiate(&ge, g, 0), "instantiate");
	die_cuda(cudaGraphLaunch(ge, st), "warm-up");
	float t[REPLAYS];
	for (int r = 0; r < REPLAYS; r++) {
		die_cuda(cudaEventRecord(e0, st), "record");
		die_cuda(cudaGraphLaunch(ge, st), "replay");
		die_cuda(cudaEventRecord(e1, st), "record");
		die_cuda(cudaEventSynchronize(e1), "sync");
		die_cuda(cudaEventElapsedTime(&t[r], e0, e1), "elapsed");
		t[r] *= 1000.0f / LAUNCHES;
	}
	qsort(t, REPLAYS, sizeof(float), cmp_f);
	*gbs = (double)mat_bytes / (t[REPLAYS / 2] * 1e-6) / 1e9;

	cudaGraphExecDestroy(ge);
	cudaGraphDestroy(g);
	cudaEventDestroy(e0);
	cudaEventDestroy(e1);
	cudaStreamDestroy(st);
	int bad = 0;
	die_cuda(cudaMemcpy(&bad, flag, sizeof(int), cudaMemcpyDeviceToHost), "flag");
	if (bad) {
		fprintf(stderr, "bench_kernels: %s: the kernel flagged its input (%d)\n", s->name, bad);
		exit(1);
	}
	for (int c = 0; c < copies; c++)
		for (int i = 0; i < s->n_mat; i++)
			cudaFree(w[c][i]);
	cudaFree(x);
	cudaFree(nw);
	cudaFree(y);
	cudaFree(ws);
	cudaFree(flag);
	free(hx);
	free(hn);
	return t[REPLAYS / 2];
}

int main(int argc, char **argv)
{
	static const struct shape qwen[] = {
		{"qkv", 896, {896, 128, 128}, 3, 0, 1, 0},
		{"o", 896, {896}, 1, 0, 0, 1},
		{"gate_up", 896, {4864}, 1, 1, 1, 0},
		{"down", 4864, {896}, 1, 0, 0, 1},
		{"head", 896, {151936}, 1, 0, 1, 0},
	};
	static const struct shape phi3[] = {
		{"qkv", 3072, {9216}, 1, 0, 1, 0},
		{"o", 3072, {3072}, 1, 0, 0, 1},
		{"gate_up", 3072, {8192}, 1, 1, 1, 0},
		{"down", 8192, {3072}, 1, 0, 0, 1},
		{"head", 3072, {32064}, 1, 0, 1, 0},
	};
	static const int types[] = {ORC_KT_F16, ORC_KT_Q8_0};
	static const int cols[] = {1, 8, 32};
	const struct shape *sh = qwen;
	unsigned mask = ORC_K_MM_DEFAULT, k;
	char junk;
	int c;

	while ((c = getopt(argc, argv, "p:k:")) != -1) {
		if (c == 'p' && strcmp(optarg, "phi3") == 0)
			sh = phi3;
		else if (c == 'k' && sscanf(optarg, "%u%c", &k, &junk) == 1 && k < 16)
			mask = k;
		else if (!(c == 'p' && strcmp(optarg, "qwen") == 0)) {
			fprintf(stderr, "usage: bench_kernels [-p qwen|phi3] [-k 0..15]\n");
			return 2;
		}
	}
	int n_dev = 0;
	if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
		fprintf(stderr, "bench_kernels: no CUDA device\n");
		return 77;
	}
	die_cuda(orc_k_init(), "init");
	orc_k_mm_set_kernels(mask);
	ct_seed(1);
	printf("%-8s %-5s %5s %10s %9s\n", "product", "type", "cols", "us/launch", "GB/s");
	for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++)
		for (int si = 0; si < 5; si++)
			for (size_t ci = 0; ci < sizeof(cols) / sizeof(cols[0]); ci++) {
				double gbs;
				float us = time_shape(&sh[si], types[ti], cols[ci], &gbs);
				printf("%-8s %-5s %5d %10.2f %9.0f\n", sh[si].name,
				       types[ti] == ORC_KT_F16 ? "F16" : "Q8_0", cols[ci], us, gbs);
			}
	return 0;
}
