/* check_cuda_kernels.c -- every kernel of kernels/ against a double-precision
 * CPU reference written from the op's definition (ggml block layouts,
 * transformers' RoPE, softmax attention), on random inputs of awkward sizes
 * (not multiples of the tiles), plus the batch-invariance guarantees of the
 * GEMV and decode attention. Skips (77) without a GPU; runs without fork. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudatest.h"
#include "kernels.h"
#include "testutil.h"

static const int all_types[] = {ORC_KT_F32, ORC_KT_F16, ORC_KT_BF16, ORC_KT_Q8_0,
				ORC_KT_Q4_0, ORC_KT_Q4_K, ORC_KT_Q6_K};
#define N_TYPES (int)(sizeof(all_types) / sizeof(all_types[0]))

static float *rand_vec(size_t n, float lo, float hi)
{
	float *v = malloc(n * sizeof(float));
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++)
		v[i] = ct_uniform(lo, hi);
	return v;
}

static double act_val(int otype, const void *buf, size_t i)
{
	if (otype == ORC_KT_F32)
		return ((const float *)buf)[i];
	if (otype == ORC_KT_F16)
		return ct_h2f(((const uint16_t *)buf)[i]);
	return ct_bf2f(((const uint16_t *)buf)[i]);
}

static size_t act_size(int otype)
{
	return otype == ORC_KT_F32 ? 4 : 2;
}

/* relative precision of an output type */
static double act_eps(int otype)
{
	return otype == ORC_KT_F32 ? 2e-6 : otype == ORC_KT_F16 ? 1e-3 : 8e-3;
}

#define NEAR(got, ref, tol, ...) \
	ck_assert_msg(fabs((double)(got) - (ref)) <= (tol), __VA_ARGS__)

/* ---- row gather and scatter ---- */
START_TEST(test_get_rows)
{
	ct_seed(11);
	for (int ti = 0; ti < N_TYPES; ti++) {
		int type = all_types[ti];
		int64_t len = orc_k_type_block(type) == 256 ? 512 : orc_k_type_block(type) == 32 ? 96 : 77;
		int n_rows = 13, n_tok = 7, ldo = (int)len + 3;
		size_t bytes, rb = ct_row_bytes(type, len), stride = rb + 8;
		void *tab0 = ct_rand_weights(type, n_rows, len, 1.0f, &bytes);
		uint8_t *tab = calloc((size_t)n_rows, stride);  /* rows padded apart */
		for (int r = 0; r < n_rows; r++)
			memcpy(tab + r * stride, (uint8_t *)tab0 + r * rb, rb);
		int32_t ids[7] = {12, 0, 5, 5, 7, 1, 12};
		float *base = rand_vec((size_t)n_tok * ldo, -1, 1);
		void *d_tab = ct_dup(tab, (size_t)n_rows * stride);
		int32_t *d_ids = ct_dup(ids, sizeof(ids));
		float *d_out = ct_dup(base, (size_t)n_tok * ldo * 4);
		float *out = malloc((size_t)n_tok * ldo * 4);
		double *ref = malloc(len * sizeof(double));
		for (int acc = 0; acc < 2; acc++) {
			CT_OK(cudaMemcpy(d_out, base, (size_t)n_tok * ldo * 4, cudaMemcpyHostToDevice));
			CT_OK(orc_k_get_rows(d_out, ldo, d_tab, type, len, (int64_t)stride, n_rows, d_ids, n_tok, acc,
					     NULL, 0));
			ct_get(out, d_out, (size_t)n_tok * ldo * 4);
			for (int t = 0; t < n_tok; t++) {
				ct_dequant_row(type, tab + stride * ids[t], len, ref);
				for (int64_t i = 0; i < len; i++) {
					double want = ref[i] + (acc ? base[t * ldo + i] : 0.0);
					NEAR(out[t * ldo + i], want, 1e-6 * (1 + fabs(want)),
					     "get_rows type %d tok %d elem %ld: %g vs %g", type, t, (long)i,
					     out[t * ldo + i], want);
				}
				for (int i = (int)len; i < ldo; i++)  /* padding untouched */
					ck_assert(out[t * ldo + i] == base[t * ldo + i]);
			}
		}
		ct_free(d_tab); ct_free(d_ids); ct_free(d_out);
		free(tab0); free(tab); free(base); free(out); free(ref);
	}
}
END_TEST

START_TEST(test_bad_index_flag)
{
	ct_seed(20);
	const int len = 64, n_rows = 5;
	float *tab = rand_vec((size_t)n_rows * len, -1, 1);
	int32_t ids[3] = {1, 5, -1};
	float *d_tab = ct_dup(tab, sizeof(float) * n_rows * len), *d_out = ct_alloc(sizeof(float) * 3 * len);
	int32_t *d_ids = ct_dup(ids, sizeof(ids));
	int *d_flag = ct_alloc(sizeof(int)), flag;
	CT_OK(cudaMemset(d_flag, 0, sizeof(int)));
	CT_OK(orc_k_get_rows(d_out, len, d_tab, ORC_KT_F32, len, len * 4, n_rows, d_ids, 1, 0, d_flag, 0));
	ct_get(&flag, d_flag, sizeof(int));
	ck_assert_int_eq(flag, 0);
	CT_OK(orc_k_get_rows(d_out, len, d_tab, ORC_KT_F32, len, len * 4, n_rows, d_ids, 3, 0, d_flag, 0));
	ct_get(&flag, d_flag, sizeof(int));
	ck_assert_int_eq(flag, ORC_K_BAD_INDEX);
	CT_OK(cudaMemset(d_flag, 0, sizeof(int)));
	CT_OK(orc_k_set_rows(d_tab, ORC_KT_F32, len, n_rows, d_out, len, d_ids + 1, 2, len, d_flag, 0));
	ct_get(&flag, d_flag, sizeof(int));
	ck_assert_int_eq(flag, ORC_K_BAD_INDEX);
	ct_free(d_tab); ct_free(d_out); ct_free(d_ids); ct_free(d_flag);
	free(tab);
}
END_TEST

/* ---- normalization ---- */
START_TEST(test_norms)
{
	ct_seed(12);
	const int rows = 5, dim = 77, ldx = 80, ldo = 79;
	float *x = rand_vec((size_t)rows * ldx, -3, 3), *w = rand_vec(dim, 0.5f, 1.5f), *b = rand_vec(dim, -1, 1);
	float *d_x = ct_dup(x, (size_t)rows * ldx * 4), *d_w = ct_dup(w, dim * 4), *d_b = ct_dup(b, dim * 4);
	void *d_o = ct_alloc((size_t)rows * ldo * 4);
	void *o = malloc((size_t)rows * ldo * 4);
	int ots[3] = {ORC_KT_F32, ORC_KT_F16, ORC_KT_BF16};
	for (int oi = 0; oi < 3; oi++) {
		int ot = ots[oi];
		for (int kind = 0; kind < 3; kind++) {
			const float *bias = kind == 2 ? d_b : NULL;
			if (kind == 0)
				CT_OK(orc_k_rmsnorm(d_o, ot, ldo, d_x, ldx, d_w, rows, dim, 1e-5f, 0));
			else
				CT_OK(orc_k_layernorm(d_o, ot, ldo, d_x, ldx, d_w, bias, rows, dim, 1e-5f, 0));
			ct_get(o, d_o, (size_t)rows * ldo * act_size(ot));
			for (int r = 0; r < rows; r++) {
				const float *xr = x + r * ldx;
				double mean = 0, var = 0, ss = 0;
				for (int i = 0; i < dim; i++) {
					mean += xr[i];
					ss += (double)xr[i] * xr[i];
				}
				mean /= dim;
				for (int i = 0; i < dim; i++)
					var += (xr[i] - mean) * (xr[i] - mean);
				var /= dim;
				for (int i = 0; i < dim; i++) {
					double want = kind == 0 ? xr[i] / sqrt(ss / dim + 1e-5) * w[i]
								: (xr[i] - mean) / sqrt(var + 1e-5) * w[i] +
								  (kind == 2 ? b[i] : 0.0);
					double got = act_val(ot, o, (size_t)r * ldo + i);
					NEAR(got, want, act_eps(ot) * (1 + fabs(want)) * 2,
					     "norm kind %d otype %d row %d elem %d: %g vs %g", kind, ot, r, i, got, want);
				}
			}
		}
	}
	/* softmax, in place */
	CT_OK(orc_k_softmax(d_x, ldx, d_x, ldx, rows, dim, 0));
	float *sm = malloc((size_t)rows * ldx * 4);
	ct_get(sm, d_x, (size_t)rows * ldx * 4);
	for (int r = 0; r < rows; r++) {
		double m = -INFINITY, z = 0;
		for (int i = 0; i < dim; i++)
			m = fmax(m, x[r * ldx + i]);
		for (int i = 0; i < dim; i++)
			z += exp(x[r * ldx + i] - m);
		for (int i = 0; i < dim; i++) {
			double want = exp(x[r * ldx + i] - m) / z;
			NEAR(sm[r * ldx + i], want, 1e-6 * (1 + want), "softmax row %d elem %d", r, i);
		}
		for (int i = dim; i < ldx; i++)
			ck_assert(sm[r * ldx + i] == x[r * ldx + i]);
	}
	ct_free(d_x); ct_free(d_w); ct_free(d_b); ct_free(d_o);
	free(x); free(w); free(b); free(o); free(sm);
}
END_TEST

/* ---- RoPE ---- */
static void ref_rope(double *v, int n_rot, int neox, double theta, int pos)
{
	for (int i = 0; i < n_rot / 2; i++) {
		int a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
		double ang = pos * (1.0 / pow(theta, 2.0 * i / n_rot));
		double x0 = v[a], x1 = v[b];
		v[a] = x0 * cos(ang) - x1 * sin(ang);
		v[b] = x0 * sin(ang) + x1 * cos(ang);
	}
}

START_TEST(test_rope)
{
	ct_seed(13);
	const int n_tok = 9, heads = 3, hd = 24, ldx = heads * hd + 5;
	int32_t pos[9] = {0, 1, 2, 17, 100, 511, 1000, 3, 4095};
	float *x = rand_vec((size_t)n_tok * ldx, -2, 2), *o = malloc((size_t)n_tok * ldx * 4);
	int32_t *d_pos = ct_dup(pos, sizeof(pos));
	float *d_x = ct_alloc((size_t)n_tok * ldx * 4);
	for (int cfg = 0; cfg < 3; cfg++) {
		struct orc_k_rope r = {cfg == 2 ? 16 : hd, cfg != 1, cfg == 2 ? 10000.0f : 1e6f};
		CT_OK(cudaMemcpy(d_x, x, (size_t)n_tok * ldx * 4, cudaMemcpyHostToDevice));
		CT_OK(orc_k_rope(d_x, ldx, d_pos, n_tok, heads, hd, &r, 0));
		ct_get(o, d_x, (size_t)n_tok * ldx * 4);
		for (int t = 0; t < n_tok; t++)
			for (int h = 0; h < heads; h++) {
				double v[24];
				for (int d = 0; d < hd; d++)
					v[d] = x[t * ldx + h * hd + d];
				ref_rope(v, r.n_rot, r.neox, r.theta, pos[t]);
				for (int d = 0; d < hd; d++)
					NEAR(o[t * ldx + h * hd + d], v[d], 1e-5,
					     "rope cfg %d tok %d head %d dim %d", cfg, t, h, d);
			}
		for (int t = 0; t < n_tok; t++)
			for (int i = heads * hd; i < ldx; i++)
				ck_assert(o[t * ldx + i] == x[t * ldx + i]);
	}
	ct_free(d_pos); ct_free(d_x);
	free(x); free(o);
}
END_TEST

/* ---- GEMV ---- */
struct gv_case {
	int K, N, ncols, act, bias, norm, accumulate;
};

static double silu(double x)
{
	return x / (1 + exp(-x));
}

static double gelu(double x)
{
	return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

static void run_gemv_case(int type, const struct gv_case *c)
{
	const int ldx = c->K + 4, n_out = c->act == ORC_K_ACT_SWIGLU ? c->N / 2 : c->N, ldy = n_out + 3;
	size_t wbytes;
	void *w = ct_rand_weights(type, c->N, c->K, 0.5f, &wbytes);
	float *x = rand_vec((size_t)c->ncols * ldx, -1, 1), *bias = rand_vec(c->N, -0.5f, 0.5f);
	float *nw = rand_vec(c->K, 0.5f, 1.5f), *y0 = rand_vec((size_t)c->ncols * ldy, -1, 1);
	float *y = malloc((size_t)c->ncols * ldy * 4);
	double *wd = malloc(sizeof(double) * c->K), *dot = malloc(sizeof(double) * c->N);
	double *mag = malloc(sizeof(double) * c->N), *xn = malloc(sizeof(double) * c->K);
	void *d_w = ct_dup(w, wbytes);
	float *d_x = ct_dup(x, (size_t)c->ncols * ldx * 4), *d_b = ct_dup(bias, c->N * 4);
	float *d_nw = ct_dup(nw, c->K * 4), *d_y = ct_dup(y0, (size_t)c->ncols * ldy * 4);
	struct orc_k_gemv a = {.w = d_w, .wtype = type, .K = c->K, .N = c->N, .x = d_x, .ldx = ldx,
			       .ncols = c->ncols, .y = d_y, .ldy = ldy, .bias = c->bias ? d_b : NULL,
			       .norm_w = c->norm ? d_nw : NULL, .norm_eps = 1e-6f, .act = c->act,
			       .accumulate = c->accumulate};

	CT_OK(orc_k_gemv(&a, 0));
	ct_get(y, d_y, (size_t)c->ncols * ldy * 4);
	for (int col = 0; col < c->ncols; col++) {
		const float *xc = x + col * ldx;
		double ss = 0;
		for (int k = 0; k < c->K; k++)
			ss += (double)xc[k] * xc[k];
		double sc = c->norm ? 1.0 / sqrt(ss / c->K + 1e-6) : 1.0;
		for (int k = 0; k < c->K; k++)
			xn[k] = xc[k] * sc * (c->norm ? nw[k] : 1.0);
		for (int n = 0; n < c->N; n++) {
			ct_dequant_row(type, (uint8_t *)w + ct_row_bytes(type, c->K) * n, c->K, wd);
			dot[n] = c->bias ? bias[n] : 0.0;
			mag[n] = fabs(dot[n]);
			for (int k = 0; k < c->K; k++) {
				dot[n] += wd[k] * xn[k];
				mag[n] += fabs(wd[k] * xn[k]);
			}
		}
		for (int j = 0; j < n_out; j++) {
			double want, tol;
			if (c->act == ORC_K_ACT_SWIGLU) {
				double g = dot[j], u = dot[j + n_out];
				want = silu(g) * u;
				tol = 3e-6 * (mag[j] * (1 + fabs(u)) + mag[j + n_out] * (1 + fabs(g)));
			} else {
				want = c->act == ORC_K_ACT_GELU ? gelu(dot[j]) : dot[j];
				tol = 3e-6 * mag[j] * 1.2;
			}
			if (c->accumulate)
				want += y0[col * ldy + j];
			tol += 1e-6 * (1 + fabs(want));
			NEAR(y[col * ldy + j], want, tol, "gemv type %d K %d N %d col %d out %d: %.8g vs %.8g",
			     type, c->K, c->N, col, j, y[col * ldy + j], want);
		}
		for (int j = n_out; j < ldy; j++)
			ck_assert(y[col * ldy + j] == y0[col * ldy + j]);
	}
	ct_free(d_w); ct_free(d_x); ct_free(d_b); ct_free(d_nw); ct_free(d_y);
	free(w); free(x); free(bias); free(nw); free(y0); free(y); free(wd); free(dot); free(mag); free(xn);
}

START_TEST(test_gemv_types)
{
	ct_seed(14);
	for (int ti = 0; ti < N_TYPES; ti++) {
		int type = all_types[ti], blk = orc_k_type_block(type);
		int K1 = blk == 256 ? 512 : blk == 32 ? 288 : 264;
		struct gv_case cases[] = {
			{K1, 37, 1, ORC_K_ACT_NONE, 0, 0, 0},
			{K1, 37, 3, ORC_K_ACT_NONE, 1, 1, 1},
			{K1, 38, 2, ORC_K_ACT_SWIGLU, 1, 1, 0},
			{K1, 22, 9, ORC_K_ACT_GELU, 1, 0, 0},
			{K1, 30, 1, ORC_K_ACT_SWIGLU, 0, 0, 1},
			{blk == 1 ? 100 : 3 * blk, 11, 5, ORC_K_ACT_NONE, 1, 1, 0}, /* K % 8 != 0 for plain types */
			/* K of 17 slices of 128: the tensor-core products spread a
			 * unit over a cluster of blocks, one column tile and more */
			{blk == 256 ? 2304 : 2080, 37, 1, ORC_K_ACT_NONE, 1, 1, 1},
			{blk == 256 ? 2304 : 2080, 38, 12, ORC_K_ACT_SWIGLU, 1, 1, 0},
			/* 7 slices, few units, 20 columns: clusters of two blocks */
			{blk == 256 ? 768 : 864, 45, 20, ORC_K_ACT_NONE, 0, 1, 1},
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_gemv_case(type, &cases[i]);
	}
}
END_TEST

/* Random weights [N rows of K], maxc columns of x, norm weights, and their
 * device copies, an output buffer and host buffers for one column and for
 * maxc columns: the setup of the batch-invariance tests. */
struct gemv_fix {
	void *w, *d_w;
	float *x, *nw, *d_x, *d_nw, *d_y, *alone, *batch;
};

static void gemv_fix_new(struct gemv_fix *f, int type, int N, int K, int maxc)
{
	size_t wb;
	f->w = ct_rand_weights(type, N, K, 0.5f, &wb);
	f->x = rand_vec((size_t)maxc * K, -1, 1);
	f->nw = rand_vec(K, 0.5f, 1.5f);
	f->d_w = ct_dup(f->w, wb);
	f->d_x = ct_dup(f->x, (size_t)maxc * K * 4);
	f->d_nw = ct_dup(f->nw, (size_t)K * 4);
	f->d_y = ct_alloc((size_t)maxc * N * 4);
	f->alone = malloc((size_t)N * 4);
	f->batch = malloc((size_t)maxc * N * 4);
}

static void gemv_fix_free(struct gemv_fix *f)
{
	ct_free(f->d_w); ct_free(f->d_x); ct_free(f->d_nw); ct_free(f->d_y);
	free(f->w); free(f->x); free(f->nw); free(f->alone); free(f->batch);
}

/* Column j of a batch of n equals the same column computed alone, bit for
 * bit: for every type, activation and fused norm, with K of two slices, of
 * seven and of nine (mm.cu folds slices of 128; seven and nine take its
 * clustered kernels), and batches that take each kernel (up to 128 columns
 * the decode kernels, beyond the prefill one). */
START_TEST(test_gemv_batch_invariance)
{
	ct_seed(15);
	for (int ti = 0; ti < 3 * N_TYPES; ti++) {
		int type = all_types[ti % N_TYPES], blk = orc_k_type_block(type);
		const bool big = ti >= N_TYPES;
		const int K = ti >= 2 * N_TYPES ? (blk == 256 ? 768 : 800)
			      : big ? (blk == 256 ? 1280 : 1056) : blk == 256 ? 768 : 224;
		const int N = big ? 86 : 50, maxc = big ? 200 : 64, ldx = K, ldy = N;
		for (int act = 0; act < 3; act++) {
			struct gemv_fix f;
			gemv_fix_new(&f, type, N, K, maxc);
			void *d_w = f.d_w;
			float *d_x = f.d_x, *d_nw = f.d_nw, *d_y = f.d_y, *alone = f.alone, *batch = f.batch;
			int n_out = act == ORC_K_ACT_SWIGLU ? N / 2 : N;
			int sizes[] = {2, 3, 8, 9, 17, 32, 64, 129, 200};
			for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
				int n = sizes[si];
				if (n > maxc)
					break;
				struct orc_k_gemv a = {.w = d_w, .wtype = type, .K = K, .N = N, .x = d_x, .ldx = ldx,
						       .ncols = n, .y = d_y, .ldy = ldy, .norm_w = d_nw, .norm_eps = 1e-6f,
						       .act = act};
				CT_OK(orc_k_gemv(&a, 0));
				ct_get(batch, d_y, (size_t)n * N * 4);
				/* with scratch for the prepared activations: the same bits */
				size_t wsb = orc_k_mm_ws_bytes(type, K, n);
				if (wsb) {
					float *prep = malloc((size_t)n * N * 4);
					struct orc_k_gemv b = a;
					b.ws = ct_alloc(wsb);
					b.ws_bytes = wsb;
					CT_OK(orc_k_gemv(&b, 0));
					ct_get(prep, d_y, (size_t)n * N * 4);
					for (int j = 0; j < n; j++)
						ck_assert_msg(memcmp(prep + (size_t)j * N, batch + (size_t)j * N,
								     (size_t)n_out * 4) == 0,
							      "type %d act %d: column %d of %d differs with scratch",
							      type, act, j, n);
					ct_free(b.ws);
					free(prep);
				}
				for (int j = 0; j < n; j += (j < 4 ? 1 : n > 64 ? 23 : 7)) {
					struct orc_k_gemv b = a;
					b.x = d_x + (size_t)j * ldx;
					b.ncols = 1;
					CT_OK(orc_k_gemv(&b, 0));
					ct_get(alone, d_y, (size_t)N * 4);
					ck_assert_msg(memcmp(alone, batch + (size_t)j * N, (size_t)n_out * 4) == 0,
						      "type %d act %d: column %d of %d differs from alone", type, act, j, n);
				}
			}
			gemv_fix_free(&f);
		}
	}
}
END_TEST

/* Products with more 16-row units than the device holds blocks, where the
 * decode kernels loop over units in each block (or cluster): each column of
 * a batch (with scratch) still equals the same column computed alone, bit
 * for bit, and the same column from the one-block kernels (which prepare x
 * only for a norm), for one slice of K and several (17: clusters of 3, for
 * fewer units; 9 and 7: two rounds and one of the streaming kernel, for
 * more), plain (F16: the streaming kernel) with and without the norm, and
 * SwiGLU's two rows per output with it. Streaming over several rounds is
 * compared too (ORC_K_MM_STREAM_LONG, in the default). */
START_TEST(test_gemv_many_units)
{
	ct_seed(16);
	const int types[] = {ORC_KT_F16, ORC_KT_Q8_0};
	const int Ks[] = {96, 864, 1056, 2080};
	orc_k_mm_set_kernels(ORC_K_MM_DEFAULT);
	for (int ti = 0; ti < 2; ti++)
		for (int ki = 0; ki < 4; ki++)
			for (int v = 0; v < 3; v++) {
				/* K = 2080: 94 units, under the multiprocessors of any
				 * sm_90 device, so the clustered kernel serves them, and
				 * more than its clusters, so that they loop */
				const int act = v == 2 ? ORC_K_ACT_SWIGLU : ORC_K_ACT_NONE;
				const int type = types[ti], K = Ks[ki], maxc = 40;
				const int N = K == 2080 ? 1500 : K == 1056 ? 4500 : 9000;
				const int n_out = act == ORC_K_ACT_SWIGLU ? N / 2 : N;
				struct gemv_fix f;
				gemv_fix_new(&f, type, N, K, maxc);
				float *d_x = f.d_x, *d_y = f.d_y, *alone = f.alone, *batch = f.batch;
				const int sizes[] = {1, 9, 17, 32, 40};
				for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
					const int n = sizes[si];
					/* the plain product without the norm compares both
					 * ways of preparing x */
					struct orc_k_gemv a = {.w = f.d_w, .wtype = type, .K = K, .N = N, .x = d_x,
							       .ldx = K, .ncols = n, .y = d_y, .ldy = N,
							       .norm_w = v > 0 ? f.d_nw : NULL,
							       .norm_eps = 1e-6f, .act = act};
					a.ws_bytes = orc_k_mm_ws_bytes(type, K, n);
					a.ws = a.ws_bytes ? ct_alloc(a.ws_bytes) : NULL;
					CT_OK(orc_k_gemv(&a, 0));
					ct_get(batch, d_y, (size_t)n * N * 4);
					/* the one-block kernels give the bits of the clustered
					 * and the streaming ones */
					orc_k_mm_set_kernels(0);
					CT_OK(orc_k_gemv(&a, 0));
					orc_k_mm_set_kernels(ORC_K_MM_DEFAULT);
					float *one = malloc((size_t)n * N * 4);
					ct_get(one, d_y, (size_t)n * N * 4);
					for (int j = 0; j < n; j++)
						ck_assert_msg(memcmp(one + (size_t)j * N, batch + (size_t)j * N,
								     (size_t)n_out * 4) == 0,
							      "type %d K %d variant %d: column %d of %d differs on one block",
							      type, K, v, j, n);
					free(one);
					for (int j = 0; j < n; j += (n > 9 ? 7 : 1)) {
						struct orc_k_gemv b = a;
						b.x = d_x + (size_t)j * K;
						b.ncols = 1;
						b.ws = NULL;
						b.ws_bytes = 0;
						CT_OK(orc_k_gemv(&b, 0));
						ct_get(alone, d_y, (size_t)N * 4);
						ck_assert_msg(memcmp(alone, batch + (size_t)j * N, (size_t)n_out * 4) == 0,
							      "type %d K %d variant %d: column %d of %d differs from alone",
							      type, K, v, j, n);
					}
					ct_free(a.ws);
				}
				gemv_fix_free(&f);
			}
	orc_k_mm_set_kernels(ORC_K_MM_DEFAULT);
}
END_TEST

/* The fused forms (norm inside the GEMV, SwiGLU with two matrices, several
 * products in one launch, RoPE with the K/V store) give the same bits as the
 * separate kernels. */
START_TEST(test_fused_exact)
{
	ct_seed(21);
	const int types[] = {ORC_KT_F16, ORC_KT_Q8_0, ORC_KT_F32};
	for (int ti = 0; ti < 3; ti++) {
		const int type = types[ti], K = 320, N = 75, nc = 5;
		size_t wb;
		void *wg = ct_rand_weights(type, N, K, 0.5f, &wb), *wu = ct_rand_weights(type, N, K, 0.5f, &wb);
		void *d_wg = ct_dup(wg, wb), *d_wu = ct_dup(wu, wb);
		float *x = rand_vec((size_t)nc * K, -2, 2), *nw = rand_vec(K, 0.5f, 1.5f), *bu = rand_vec(N, -1, 1);
		float *d_x = ct_dup(x, sizeof(float) * nc * K), *d_nw = ct_dup(nw, sizeof(float) * K);
		float *d_bu = ct_dup(bu, sizeof(float) * N), *d_xn = ct_alloc(sizeof(float) * nc * K);
		float *d_g = ct_alloc(sizeof(float) * nc * N), *d_u = ct_alloc(sizeof(float) * nc * N);
		float *d_s1 = ct_alloc(sizeof(float) * nc * N), *d_s2 = ct_alloc(sizeof(float) * nc * N);
		float *h1 = malloc(sizeof(float) * nc * N), *h2 = malloc(sizeof(float) * nc * N);
		/* separate: rmsnorm, gate, up, swiglu */
		CT_OK(orc_k_rmsnorm(d_xn, ORC_KT_F32, K, d_x, K, d_nw, nc, K, 1e-6f, 0));
		struct orc_k_gemv g = {.w = d_wg, .wtype = type, .K = K, .N = N, .x = d_xn, .ldx = K, .ncols = nc,
				       .y = d_g, .ldy = N};
		struct orc_k_gemv u = g;
		u.w = d_wu, u.y = d_u, u.bias = d_bu;
		CT_OK(orc_k_gemv(&g, 0));
		CT_OK(orc_k_gemv(&u, 0));
		CT_OK(orc_k_swiglu(d_s1, ORC_KT_F32, N, d_g, N, d_u, N, nc, N, 0));
		/* fused: one GEMV with the norm and both matrices */
		struct orc_k_gemv f = {.w = d_wg, .wtype = type, .K = K, .N = N, .x = d_x, .ldx = K, .ncols = nc,
				       .y = d_s2, .ldy = N, .norm_w = d_nw, .norm_eps = 1e-6f, .act = ORC_K_ACT_SWIGLU,
				       .w2 = d_wu, .bias2 = d_bu};
		CT_OK(orc_k_gemv(&f, 0));
		ct_get(h1, d_s1, sizeof(float) * nc * N);
		ct_get(h2, d_s2, sizeof(float) * nc * N);
		ck_assert_msg(memcmp(h1, h2, sizeof(float) * nc * N) == 0, "type %d: fused SwiGLU GEMV differs", type);
		/* three products in one launch, the norm inside: as g, u and g again */
		struct orc_k_gemv m[3] = {g, u, g};
		for (int k = 0; k < 3; k++) {
			m[k].x = d_x;
			m[k].norm_w = d_nw;
			m[k].norm_eps = 1e-6f;
		}
		m[0].y = d_s1;
		m[1].N = N - 7, m[1].y = d_s2;
		m[2].N = N - 30, m[2].y = d_xn;
		CT_OK(orc_k_gemv_multi(m, 3, 0));
		float *h3 = malloc(sizeof(float) * nc * N), *h4 = malloc(sizeof(float) * nc * N);
		ct_get(h1, d_g, sizeof(float) * nc * N);
		ct_get(h2, d_s1, sizeof(float) * nc * N);
		ck_assert_msg(memcmp(h1, h2, sizeof(float) * nc * N) == 0, "type %d: norm fused in GEMV differs", type);
		ct_get(h3, d_u, sizeof(float) * nc * N);
		ct_get(h4, d_s2, sizeof(float) * nc * N);
		ct_get(h2, d_xn, sizeof(float) * nc * N);
		for (int cc = 0; cc < nc; cc++) {
			ck_assert(memcmp(h3 + cc * N, h4 + cc * N, sizeof(float) * (N - 7)) == 0);
			ck_assert(memcmp(h1 + cc * N, h2 + cc * N, sizeof(float) * (N - 30)) == 0);
		}
		free(h4);
		ct_free(d_wg); ct_free(d_wu); ct_free(d_x); ct_free(d_nw); ct_free(d_bu); ct_free(d_xn);
		ct_free(d_g); ct_free(d_u); ct_free(d_s1); ct_free(d_s2);
		free(wg); free(wu); free(x); free(nw); free(bu); free(h1); free(h2); free(h3);
	}
	/* rope q and k + store k and v, against rope + set_rows */
	const int n_tok = 7, nh = 6, nkv = 2, hd = 24, qd = nh * hd, kd = nkv * hd, rows = 40;
	int32_t pos[7] = {0, 5, 17, 300, 4000, 1, 2}, idx[7] = {3, 9, 0, 39, 12, 13, 20};
	float *q = rand_vec((size_t)n_tok * (qd + 2 * kd), -1, 1);
	int32_t *d_pos = ct_dup(pos, sizeof(pos)), *d_idx = ct_dup(idx, sizeof(idx));
	for (int ct = 0; ct < 2; ct++) {
		int ctype = ct ? ORC_KT_F16 : ORC_KT_F32;
		size_t cb = (size_t)rows * kd * (ct ? 2 : 4);
		struct orc_k_rope r = {hd - 8, ct, 1e4f};
		float *a = ct_dup(q, sizeof(float) * n_tok * (qd + 2 * kd)), *b = ct_dup(q, sizeof(float) * n_tok * (qd + 2 * kd));
		void *ka = ct_alloc(cb), *va = ct_alloc(cb), *kb = ct_alloc(cb), *vb = ct_alloc(cb);
		const int ld = qd + 2 * kd;
		CT_OK(orc_k_rope(a, ld, d_pos, n_tok, nh, hd, &r, 0));
		CT_OK(orc_k_rope(a + qd, ld, d_pos, n_tok, nkv, hd, &r, 0));
		CT_OK(orc_k_set_rows(ka, ctype, kd, rows, a + qd, ld, d_idx, n_tok, kd, NULL, 0));
		CT_OK(orc_k_set_rows(va, ctype, kd, rows, a + qd + kd, ld, d_idx, n_tok, kd, NULL, 0));
		struct orc_k_rope_kv p = {.q = b, .ldq = ld, .n_head = nh, .k = b + qd, .ldk = ld, .v = b + qd + kd,
					  .ldv = ld, .n_kv = nkv, .head_dim = hd, .pos = d_pos, .idx = d_idx,
					  .n_tok = n_tok, .kc = kb, .vc = vb, .cache_type = ctype, .ldc = kd, .n_rows = rows};
		CT_OK(orc_k_rope_kv(&p, &r, 0));
		void *h1 = malloc(cb > sizeof(float) * n_tok * ld ? cb : sizeof(float) * n_tok * ld);
		void *h2 = malloc(cb > sizeof(float) * n_tok * ld ? cb : sizeof(float) * n_tok * ld);
		ct_get(h1, a, sizeof(float) * n_tok * ld);
		ct_get(h2, b, sizeof(float) * n_tok * ld);
		ck_assert(memcmp(h1, h2, sizeof(float) * n_tok * ld) == 0);
		for (int i = 0; i < n_tok; i++) {
			size_t o = (size_t)idx[i] * kd * (ct ? 2 : 4), len = (size_t)kd * (ct ? 2 : 4);
			ct_get(h1, (char *)ka + o, len);
			ct_get(h2, (char *)kb + o, len);
			ck_assert_msg(memcmp(h1, h2, len) == 0, "rope_kv K row %d", i);
			ct_get(h1, (char *)va + o, len);
			ct_get(h2, (char *)vb + o, len);
			ck_assert_msg(memcmp(h1, h2, len) == 0, "rope_kv V row %d", i);
		}
		ct_free(a); ct_free(b); ct_free(ka); ct_free(va); ct_free(kb); ct_free(vb);
		free(h1); free(h2);
	}
	ct_free(d_pos); ct_free(d_idx);
	free(q);
}
END_TEST

/* ---- elementwise and conversion ---- */
START_TEST(test_elementwise)
{
	ct_seed(16);
	const int rows = 3, n = 45, ldx = 2 * n + 3, ldo = n + 1;
	float *x = rand_vec((size_t)rows * ldx, -4, 4), *b = rand_vec(n, -1, 1);
	float *d_x = ct_dup(x, (size_t)rows * ldx * 4), *d_b = ct_dup(b, n * 4);
	void *d_o = ct_alloc((size_t)rows * ldo * 4);
	void *o = malloc((size_t)rows * ldo * 4);
	int ots[3] = {ORC_KT_F32, ORC_KT_F16, ORC_KT_BF16};
	for (int oi = 0; oi < 3; oi++) {
		int ot = ots[oi];
		for (int op = 0; op < 3; op++) {
			if (op < 2)
				CT_OK(orc_k_bias_act(d_o, ot, ldo, d_x, ldx, d_b, op == 1 ? ORC_K_ACT_GELU : ORC_K_ACT_NONE,
						     rows, n, 0));
			else
				CT_OK(orc_k_swiglu(d_o, ot, ldo, d_x, ldx, d_x + n, ldx, rows, n, 0));
			ct_get(o, d_o, (size_t)rows * ldo * act_size(ot));
			for (int r = 0; r < rows; r++)
				for (int j = 0; j < n; j++) {
					double v = x[r * ldx + j], want;
					if (op == 2)
						want = silu(v) * x[r * ldx + n + j];
					else
						want = op == 1 ? gelu(v + b[j]) : v + b[j];
					NEAR(act_val(ot, o, (size_t)r * ldo + j), want, act_eps(ot) * 2 * (1 + fabs(want)),
					     "ew op %d otype %d at %d,%d", op, ot, r, j);
				}
		}
	}
	/* addition, out aliasing a */
	float *y = rand_vec((size_t)rows * ldo, -1, 1), *got = malloc((size_t)rows * ldo * 4);
	float *d_y = ct_dup(y, (size_t)rows * ldo * 4);
	CT_OK(orc_k_add(d_y, ldo, d_y, ldo, d_x, ldx, rows, n, 0));
	ct_get(got, d_y, (size_t)rows * ldo * 4);
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < ldo; j++)
			ck_assert(got[r * ldo + j] == (j < n ? y[r * ldo + j] + x[r * ldx + j] : y[r * ldo + j]));
	ct_free(d_x); ct_free(d_b); ct_free(d_o); ct_free(d_y);
	free(x); free(b); free(o); free(y); free(got);
}
END_TEST

START_TEST(test_convert)
{
	ct_seed(17);
	int ots[3] = {ORC_KT_F32, ORC_KT_F16, ORC_KT_BF16};
	for (int ti = 0; ti < N_TYPES; ti++) {
		int type = all_types[ti], blk = orc_k_type_block(type);
		int64_t len = blk == 256 ? 256 : blk == 32 ? 160 : 33, rows = 7;
		size_t wb;
		void *w = ct_rand_weights(type, rows, len, 2.0f, &wb);
		void *d_w = ct_dup(w, wb), *d_o = ct_alloc((size_t)(rows * len) * 4), *o = malloc((size_t)(rows * len) * 4);
		double *ref = malloc(sizeof(double) * len);
		for (int oi = 0; oi < 3; oi++) {
			CT_OK(orc_k_convert(d_o, ots[oi], d_w, type, rows, len, 0));
			ct_get(o, d_o, (size_t)(rows * len) * act_size(ots[oi]));
			for (int64_t r = 0; r < rows; r++) {
				ct_dequant_row(type, (uint8_t *)w + ct_row_bytes(type, len) * r, len, ref);
				for (int64_t i = 0; i < len; i++)
					NEAR(act_val(ots[oi], o, (size_t)(r * len + i)), ref[i],
					     act_eps(ots[oi]) * (1 + fabs(ref[i])), "convert %d->%d at %ld,%ld", type,
					     ots[oi], (long)r, (long)i);
			}
		}
		ct_free(d_w); ct_free(d_o);
		free(w); free(o); free(ref);
	}
}
END_TEST

/* ---- attention over the paged cache ---- */
struct at_cfg {
	int n_head, n_kv, hd, kv_type, bs;
};

#define AT_SEQ 3
static const int at_len[AT_SEQ] = {83, 610, 6};

struct at_case {
	const struct at_cfg *c;
	int bt_stride, n_blocks, ldkv;
	int32_t *bt;              /* [AT_SEQ, bt_stride] */
	double *k, *v;            /* [AT_SEQ][pos][n_kv * hd] as stored */
	void *d_k, *d_v;
	int32_t *d_bt;
};

static int64_t at_row_of(const struct at_case *A, int s, int p)
{
	return (int64_t)A->bt[s * A->bt_stride + p / A->c->bs] * A->c->bs + p % A->c->bs;
}

/* Random K/V for every position of every sequence, written with set_rows. */
static void at_build(struct at_case *A, const struct at_cfg *c)
{
	const int kvd = c->n_kv * c->hd, maxlen = 640;
	const size_t esz = c->kv_type == ORC_KT_F16 ? 2 : 4;
	A->c = c;
	A->bt_stride = (maxlen + c->bs - 1) / c->bs;
	A->n_blocks = AT_SEQ * A->bt_stride + 5;
	A->ldkv = kvd + 3;
	A->bt = malloc(sizeof(int32_t) * AT_SEQ * A->bt_stride);
	int32_t *perm = malloc(sizeof(int32_t) * A->n_blocks);
	for (int i = 0; i < A->n_blocks; i++)
		perm[i] = i;
	for (int i = A->n_blocks - 1; i > 0; i--) {
		int j = (int)(ct_u32() % (uint32_t)(i + 1)), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	memcpy(A->bt, perm, sizeof(int32_t) * AT_SEQ * A->bt_stride);
	free(perm);
	const int64_t rows = (int64_t)A->n_blocks * c->bs;
	A->d_k = ct_alloc((size_t)rows * A->ldkv * esz);
	A->d_v = ct_alloc((size_t)rows * A->ldkv * esz);
	A->d_bt = ct_dup(A->bt, sizeof(int32_t) * AT_SEQ * A->bt_stride);
	A->k = calloc((size_t)AT_SEQ * maxlen * kvd, sizeof(double));
	A->v = calloc((size_t)AT_SEQ * maxlen * kvd, sizeof(double));
	for (int s = 0; s < AT_SEQ; s++) {
		const int n = at_len[s];
		float *kk = rand_vec((size_t)n * kvd, -1, 1), *vv = rand_vec((size_t)n * kvd, -1, 1);
		int32_t *idx = malloc(sizeof(int32_t) * n);
		for (int p = 0; p < n; p++)
			idx[p] = (int32_t)at_row_of(A, s, p);
		float *d_kk = ct_dup(kk, sizeof(float) * n * kvd), *d_vv = ct_dup(vv, sizeof(float) * n * kvd);
		int32_t *d_idx = ct_dup(idx, sizeof(int32_t) * n);
		CT_OK(orc_k_set_rows(A->d_k, c->kv_type, A->ldkv, rows, d_kk, kvd, d_idx, n, kvd, NULL, 0));
		CT_OK(orc_k_set_rows(A->d_v, c->kv_type, A->ldkv, rows, d_vv, kvd, d_idx, n, kvd, NULL, 0));
		for (size_t e = 0; e < (size_t)n * kvd; e++) {
			size_t o = (size_t)s * maxlen * kvd + e;
			A->k[o] = c->kv_type == ORC_KT_F16 ? ct_h2f(ct_f2h(kk[e])) : kk[e];
			A->v[o] = c->kv_type == ORC_KT_F16 ? ct_h2f(ct_f2h(vv[e])) : vv[e];
		}
		ct_free(d_kk); ct_free(d_vv); ct_free(d_idx);
		free(kk); free(vv); free(idx);
	}
	/* what set_rows stored, read back for one row of each sequence */
	uint8_t *row = malloc((size_t)A->ldkv * esz);
	for (int s = 0; s < AT_SEQ; s++) {
		int p = at_len[s] - 1;
		ct_get(row, (uint8_t *)A->d_v + (size_t)at_row_of(A, s, p) * A->ldkv * esz, (size_t)A->ldkv * esz);
		for (int e = 0; e < kvd; e++) {
			double got = c->kv_type == ORC_KT_F16 ? ct_h2f(((uint16_t *)row)[e]) : ((float *)row)[e];
			ck_assert(got == A->v[((size_t)s * maxlen + p) * kvd + e]);
		}
	}
	free(row);
}

static void at_free(struct at_case *A)
{
	ct_free(A->d_k); ct_free(A->d_v); ct_free(A->d_bt);
	free(A->bt); free(A->k); free(A->v);
}

static void at_ref(const struct at_case *A, const float *q, int s, int p, float scale, double *o)
{
	const struct at_cfg *c = A->c;
	const int kvd = c->n_kv * c->hd, G = c->n_head / c->n_kv;
	double *sc = malloc(sizeof(double) * (p + 1));
	for (int h = 0; h < c->n_head; h++) {
		double m = -INFINITY, z = 0;
		for (int j = 0; j <= p; j++) {
			const double *k = A->k + ((size_t)s * 640 + j) * kvd + (h / G) * c->hd;
			double d = 0;
			for (int e = 0; e < c->hd; e++)
				d += (double)(q[h * c->hd + e] * scale) * k[e];
			sc[j] = d;
			m = fmax(m, d);
		}
		for (int j = 0; j <= p; j++)
			z += (sc[j] = exp(sc[j] - m));
		for (int e = 0; e < c->hd; e++) {
			double acc = 0;
			for (int j = 0; j <= p; j++)
				acc += sc[j] * A->v[((size_t)s * 640 + j) * kvd + (h / G) * c->hd + e];
			o[h * c->hd + e] = acc / z;
		}
	}
	free(sc);
}

static void run_attention(const struct at_cfg *c)
{
	struct at_case A;
	at_build(&A, c);
	const int qd = c->n_head * c->hd, ldq = qd + 1, ldo = qd + 2;
	/* one batch: all of sequence 1, the tail of sequence 0, all of sequence 2 */
	int n = 0, *seq = malloc(sizeof(int) * 700), *pos = malloc(sizeof(int) * 700);
	for (int p = 0; p < at_len[1]; p++, n++) { seq[n] = 1; pos[n] = p; }
	for (int p = 60; p < at_len[0]; p++, n++) { seq[n] = 0; pos[n] = p; }
	for (int p = 0; p < at_len[2]; p++, n++) { seq[n] = 2; pos[n] = p; }
	float *q = rand_vec((size_t)n * ldq, -1.5f, 1.5f);
	float *d_q = ct_dup(q, sizeof(float) * n * ldq), *d_o1 = ct_alloc(sizeof(float) * n * ldo);
	float *d_o2 = ct_alloc(sizeof(float) * n * ldo);
	int32_t *d_pos = ct_dup(pos, sizeof(int) * n), *d_seq = ct_dup(seq, sizeof(int) * n);
	const float scale = 1.0f / sqrtf((float)c->hd);
	struct orc_k_attn k = {
		.q = d_q, .ldq = ldq, .k = A.d_k, .v = A.d_v, .kv_type = c->kv_type, .ldkv = A.ldkv,
		.n_rows = (int64_t)A.n_blocks * c->bs, .pos = d_pos, .seq = d_seq, .block_table = A.d_bt,
		.bt_stride = A.bt_stride, .n_seq = AT_SEQ, .block_size = c->bs, .n_tok = n, .n_head = c->n_head,
		.n_kv_head = c->n_kv, .head_dim = c->hd, .scale = scale, .out = d_o1, .ldo = ldo,
		.max_keys = A.bt_stride * c->bs, .flag = NULL };
	struct orc_k_attn_ws ws = { NULL, n, k.max_keys };
	size_t wsb = orc_k_attn_ws_bytes(n, c->n_head, c->hd, k.max_keys);
	ws.buf = ct_alloc(wsb);
	CT_OK(cudaMemset(ws.buf, 0, wsb));

	CT_OK(orc_k_attn_prefill(&k, 0));
	k.out = d_o2;
	CT_OK(orc_k_attn_decode(&k, &ws, 0));
	float *o1 = malloc(sizeof(float) * n * ldo), *o2 = malloc(sizeof(float) * n * ldo);
	ct_get(o1, d_o1, sizeof(float) * n * ldo);
	ct_get(o2, d_o2, sizeof(float) * n * ldo);
	double *ref = malloc(sizeof(double) * qd);
	for (int t = 0; t < n; t++) {
		ck_assert_msg(memcmp(o1 + (size_t)t * ldo, o2 + (size_t)t * ldo, sizeof(float) * qd) == 0,
			      "token %d (seq %d pos %d): prefill and decode kernels differ", t, seq[t], pos[t]);
		if (t % 7 && t != n - 1 && pos[t] != 255 && pos[t] != 256 && pos[t] != 511)
			continue;
		at_ref(&A, q + (size_t)t * ldq, seq[t], pos[t], scale, ref);
		for (int e = 0; e < qd; e++)
			NEAR(o1[(size_t)t * ldo + e], ref[e], 3e-5 * (1 + fabs(ref[e])),
			     "attention token %d (seq %d pos %d) elem %d: %.7g vs %.7g", t, seq[t], pos[t], e,
			     o1[(size_t)t * ldo + e], ref[e]);
	}
	/* a few tokens alone give the same bits */
	const int alone[] = {0, 300, 609, 610, n - 1};
	for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
		int t = alone[i];
		struct orc_k_attn k1 = k;
		k1.q = d_q + (size_t)t * ldq;
		k1.pos = d_pos + t;
		k1.seq = d_seq + t;
		k1.n_tok = 1;
		k1.out = d_o2;
		CT_OK(orc_k_attn_decode(&k1, &ws, 0));
		ct_get(o2, d_o2, sizeof(float) * qd);
		ck_assert_msg(memcmp(o2, o1 + (size_t)t * ldo, sizeof(float) * qd) == 0, "token %d alone differs", t);
		CT_OK(orc_k_attn_prefill(&k1, 0));
		ct_get(o2, d_o2, sizeof(float) * qd);
		ck_assert_msg(memcmp(o2, o1 + (size_t)t * ldo, sizeof(float) * qd) == 0,
			      "token %d alone (prefill kernel) differs", t);
	}
	ct_free(d_q); ct_free(d_o1); ct_free(d_o2); ct_free(d_pos); ct_free(d_seq); ct_free(ws.buf);
	free(seq); free(pos); free(q); free(o1); free(o2); free(ref);
	at_free(&A);
}

START_TEST(test_attention)
{
	ct_seed(18);
	const struct at_cfg cfgs[] = {
		{14, 2, 64, ORC_KT_F32, 16},   /* qwen2.5-0.5b heads */
		{6, 2, 40, ORC_KT_F16, 16},
		{4, 1, 16, ORC_KT_F32, 7},     /* awkward block size */
		{3, 3, 96, ORC_KT_F32, 16},    /* phi-3 head size, no GQA */
		{2, 1, 200, ORC_KT_F16, 32},
	};
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++)
		run_attention(&cfgs[i]);
}
END_TEST

/* ---- sampling ---- */
static const float *cmp_logits;

static int cmp_desc(const void *a, const void *b)
{
	int i = *(const int *)a, j = *(const int *)b;
	if (cmp_logits[i] != cmp_logits[j])
		return cmp_logits[i] > cmp_logits[j] ? -1 : 1;
	return i - j;
}

/* Reference choice; *ambiguous when u lands within rounding of a boundary. */
static int ref_sample(const float *l, int n, const int *order, const struct orc_k_sample_params *p, bool *ambiguous)
{
	double mx = l[order[0]];
	*ambiguous = false;
	if (!(p->temp > 0))
		return order[0];
	int ktr = 0;
	bool has_k = p->top_k > 0 && p->top_k <= ORC_K_TOPK_MAX;
	if (has_k)
		ktr = p->top_k;
	else if (p->top_p < 1 || p->min_p > 0)
		ktr = ORC_K_TOPK_MAX;
	double zall = 0;
	for (int i = 0; i < n; i++)
		zall += exp((l[i] - mx) / p->temp);
	double cum = 0, target;
	if (ktr == 0) {
		target = p->u * zall;
		for (int i = 0; i < n; i++) {
			double w = exp((l[i] - mx) / p->temp);
			if (fabs(cum + w - target) < 1e-4 * zall || fabs(cum - target) < 1e-4 * zall)
				*ambiguous = true;
			cum += w;
			if (cum > target)
				return i;
		}
		return n - 1;
	}
	int kc = ktr < n ? ktr : n, keep = 0;
	double zt = 0;
	for (int i = 0; i < kc; i++)
		zt += exp((l[order[i]] - mx) / p->temp);
	if (!has_k)
		zt = zall;
	for (int i = 0; i < kc; i++) {
		double w = exp((l[order[i]] - mx) / p->temp);
		if (i > 0 && w < p->min_p)
			break;
		if (i > 0 && cum >= p->top_p * zt)
			break;
		if (i > 0 && (fabs(w - p->min_p) < 1e-5 || fabs(cum - p->top_p * zt) < 1e-5 * zt))
			*ambiguous = true;
		cum += w;
		keep = i + 1;
	}
	target = p->u * cum;
	double a = 0;
	for (int i = 0; i < keep; i++) {
		double w = exp((l[order[i]] - mx) / p->temp);
		if (fabs(a + w - target) < 1e-5 * cum)
			*ambiguous = true;
		a += w;
		if (a > target)
			return order[i];
	}
	return order[keep - 1];
}

START_TEST(test_sample)
{
	ct_seed(19);
	const int n = 50257, rows = 24;
	float *l = rand_vec(n, -8, 8);
	l[777] = 9.5f;
	l[40000] = 9.5f;  /* tie at the top: the lower id wins */
	l[5] = 9.25f;
	for (int i = 100; i < 160; i++)
		l[i] = 4.0f;  /* a block of ties inside the top-k */
	int *order = malloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
		order[i] = i;
	cmp_logits = l;
	qsort(order, n, sizeof(int), cmp_desc);
	double lse = 0;
	for (int i = 0; i < n; i++)
		lse += exp((double)l[i] - 9.5);
	lse = 9.5 + log(lse);

	float *L = malloc(sizeof(float) * (size_t)rows * n);
	for (int r = 0; r < rows; r++)
		memcpy(L + (size_t)r * n, l, sizeof(float) * n);
	float *d_l = ct_dup(L, sizeof(float) * (size_t)rows * n);
	struct orc_k_sample_params P[24];
	struct orc_k_sample_result res[24], res2[24];
	const struct orc_k_sample_params kinds[] = {
		{0.0f, 0, 1.0f, 0.0f, 0.5f, 20},  /* greedy with logprobs */
		{1.0f, 1, 1.0f, 0.0f, 0.9f, 3},   /* top_k 1 = greedy */
		{0.7f, 50, 1.0f, 0.0f, 0, 0},
		{1.3f, 0, 0.9f, 0.0f, 0, 5},
		{1.0f, 0, 1.0f, 0.0f, 0, 0},      /* whole vocabulary */
		{0.9f, 200, 0.95f, 0.05f, 0, 1},
	};
	const int n_kinds = (int)(sizeof(kinds) / sizeof(kinds[0]));
	for (int r = 0; r < rows; r++) {
		P[r] = kinds[r % n_kinds];
		if (P[r].u == 0)
			P[r].u = ct_uniform(0, 1);
	}
	void *d_p = ct_dup(P, sizeof(P));
	struct orc_k_sample_result *d_r = ct_alloc(sizeof(res));
	CT_OK(orc_k_sample(d_l, n, n, rows, d_p, d_r, 0));
	ct_get(res, d_r, sizeof(res));
	CT_OK(orc_k_sample(d_l, n, n, rows, d_p, d_r, 0));
	ct_get(res2, d_r, sizeof(res2));
	ck_assert(memcmp(res, res2, sizeof(res)) == 0);
	int checked = 0;
	for (int r = 0; r < rows; r++) {
		bool amb;
		int want = ref_sample(l, n, order, &P[r], &amb);
		if (P[r].temp > 0 && P[r].top_k == 0 && P[r].top_p >= 1 && P[r].min_p <= 0) {
			/* whole vocabulary: the id's CDF interval holds u, within float rounding */
			double z = 0, below = 0;
			for (int i = 0; i < n; i++)
				z += exp((l[i] - 9.5) / P[r].temp);
			for (int i = 0; i < res[r].id; i++)
				below += exp((l[i] - 9.5) / P[r].temp);
			double w = exp((l[res[r].id] - 9.5) / P[r].temp), tgt = P[r].u * z;
			ck_assert_msg(below - 1e-5 * z <= tgt && tgt < below + w + 1e-5 * z, "row %d: id %d does not hold u",
				      r, res[r].id);
			checked++;
		} else if (!amb) {
			ck_assert_msg(res[r].id == want, "row %d (kind %d): id %d, want %d", r, r % n_kinds, res[r].id,
				      want);
			checked++;
		}
		NEAR(res[r].logprob, l[res[r].id] - lse, 1e-4, "row %d chosen logprob", r);
		for (int i = 0; i < P[r].n_logprobs; i++) {
			ck_assert_msg(res[r].top_id[i] == order[i], "row %d top %d: %d vs %d", r, i, res[r].top_id[i],
				      order[i]);
			NEAR(res[r].top_logprob[i], l[order[i]] - lse, 1e-4, "row %d top logprob %d", r, i);
		}
		for (int i = P[r].n_logprobs; i < ORC_K_LOGPROBS_MAX; i++)
			ck_assert_int_eq(res[r].top_id[i], -1);
	}
	ck_assert_int_ge(checked, rows - 2);
	ck_assert_int_eq(res[0].id, 777);
	ck_assert_int_eq(res[1].id, 777);

	/* a small vocabulary, smaller than the requested top-k */
	const int n2 = 37;
	struct orc_k_sample_params p2 = {1.0f, 100, 1.0f, 0.0f, 0.999f, 20};
	float *d_l2 = ct_dup(l, sizeof(float) * n2);
	void *d_p2 = ct_dup(&p2, sizeof(p2));
	CT_OK(orc_k_sample(d_l2, n2, n2, 1, d_p2, d_r, 0));
	ct_get(res, d_r, sizeof(res[0]));
	int *o2 = malloc(sizeof(int) * n2);
	for (int i = 0; i < n2; i++)
		o2[i] = i;
	qsort(o2, n2, sizeof(int), cmp_desc);
	bool amb;
	int want = ref_sample(l, n2, o2, &p2, &amb);
	if (!amb)
		ck_assert_int_eq(res[0].id, want);
	ck_assert_int_eq(res[0].top_id[0], o2[0]);

	ct_free(d_l); ct_free(d_p); ct_free(d_r); ct_free(d_l2); ct_free(d_p2);
	free(l); free(order); free(L); free(o2);
}
END_TEST

/* A tensor-core product flags a finite activation beyond the F16 range
 * (its result cannot be right), not a large one within it, nor inf. */
START_TEST(test_mm_f16_range)
{
	const int K = 64, N = 16;
	size_t wb;
	void *w = ct_rand_weights(ORC_KT_F16, N, K, 0.5f, &wb);
	void *d_w = ct_dup(w, wb);
	float x[64];
	const float probe[] = {60000.0f, 70000.0f, INFINITY, -1e30f};
	const int want[] = {0, ORC_K_F16_RANGE, 0, ORC_K_F16_RANGE};

	if (!orc_k_mm_ws_bytes(ORC_KT_F16, K, 16))
		return;   /* no tensor cores here: the CUDA-core GEMV has no such limit */
	for (int p = 0; p < 4; p++) {
		for (int i = 0; i < K; i++)
			x[i] = ct_uniform(-1, 1);
		x[17] = probe[p];
		float *d_x = ct_dup(x, sizeof(x)), *d_y = ct_alloc(sizeof(float) * N);
		int flag = 0, *d_flag = ct_dup(&flag, sizeof(flag));
		struct orc_k_gemv a = {.w = d_w, .wtype = ORC_KT_F16, .K = K, .N = N, .x = d_x, .ldx = K,
				       .ncols = 1, .y = d_y, .ldy = N, .flag = d_flag};
		CT_OK(orc_k_gemv(&a, 0));
		ct_get(&flag, d_flag, sizeof(flag));
		ck_assert_msg(flag == want[p], "x = %g: flag %d, want %d", probe[p], flag, want[p]);
		ct_free(d_x); ct_free(d_y); ct_free(d_flag);
	}
	ct_free(d_w);
	free(w);
}
END_TEST

/* The device argmax: the largest logit, the lowest id on a tie; -1 for a
 * row with a NaN or +inf, or with only -inf. */
START_TEST(test_argmax)
{
	const int n = 151936, rows = 6;
	float *l = rand_vec((size_t)rows * n, -5, 5);
	int32_t out[6], want[6];

	ct_seed(31);
	l[0 * n + 100] = 9.0f;                                      /* plain maximum */
	l[1 * n + 70000] = 9.5f, l[1 * n + 3] = 9.5f;               /* tie: the lower id */
	l[2 * n + 5] = NAN, l[2 * n + 6] = 99.0f;                   /* NaN */
	l[3 * n + n - 1] = INFINITY;                                /* +inf */
	for (int i = 0; i < n; i++)
		l[4 * n + i] = -INFINITY;                           /* all -inf */
	for (int i = 0; i < n; i++)
		l[5 * n + i] = i == 12345 ? -1.0f : -INFINITY;      /* one finite */
	want[0] = 100, want[1] = 3, want[2] = -1, want[3] = -1, want[4] = -1, want[5] = 12345;
	float *d_l = ct_dup(l, sizeof(float) * rows * n);
	int32_t *d_o = ct_alloc(sizeof(out));
	CT_OK(orc_k_argmax(d_l, n, n, rows, d_o, 0));
	ct_get(out, d_o, sizeof(out));
	for (int r = 0; r < rows; r++)
		ck_assert_msg(out[r] == want[r], "row %d: argmax %d, want %d", r, out[r], want[r]);
	ck_assert_int_eq(orc_k_argmax(d_l, n - 1, n, rows, d_o, 0), cudaErrorInvalidValue);
	ct_free(d_l); ct_free(d_o);
	free(l);
}
END_TEST

/* The K best of each row with their ids, best first (larger, then the
 * lower id; -0 ties +0), against a host selection; id -1 first for a row
 * with a NaN or +inf or only -inf. Rows of coarse values (many ties), of
 * random ones, and the bad ones, at the Qwen vocabulary and an odd size. */
START_TEST(test_topk)
{
	const int sizes[] = {151936, 1001}, Ks[] = {1, 40, 128, 1001};
	ct_seed(32);
	for (int si = 0; si < 2; si++) {
		const int n = sizes[si], rows = 6;
		float *l = rand_vec((size_t)rows * n, -5, 5);
		for (int i = 0; i < n; i++)
			l[(size_t)1 * n + i] = (float)(int)ct_uniform(0.0f, 63.99f) * 0.5f - 16.0f;   /* ties */
		l[(size_t)1 * n + 7] = -0.0f, l[(size_t)1 * n + 3] = 0.0f, l[(size_t)1 * n + 9] = 99.0f;
		l[(size_t)2 * n + 5] = NAN;
		l[(size_t)3 * n + n - 1] = INFINITY;
		for (int i = 0; i < n; i++)
			l[(size_t)4 * n + i] = -INFINITY;
		for (int i = 0; i < n; i++)
			if (i % 3)
				l[(size_t)5 * n + i] = -INFINITY;               /* a third finite */
		float *d_l = ct_dup(l, sizeof(float) * rows * n);
		for (int ki = 0; ki < 4; ki++) {
			const int K = Ks[ki];
			if (K > n || K > 1024)
				continue;
			float *ol = malloc(sizeof(float) * rows * K), *d_ol = ct_alloc(sizeof(float) * rows * K);
			int32_t *oi = malloc(sizeof(int32_t) * rows * K), *d_oi = ct_alloc(sizeof(int32_t) * rows * K);
			CT_OK(orc_k_topk(d_l, n, n, rows, K, d_ol, d_oi, 0));
			ct_get(ol, d_ol, sizeof(float) * rows * K);
			ct_get(oi, d_oi, sizeof(int32_t) * rows * K);
			for (int r = 0; r < rows; r++) {
				const float *x = l + (size_t)r * n;
				if (r >= 2 && r <= 4) {
					ck_assert_msg(oi[r * K] == -1, "n %d K %d row %d: id %d, want -1", n, K, r,
						      oi[r * K]);
					continue;
				}
				char *used = calloc((size_t)n, 1);
				for (int k = 0; k < K; k++) {
					int b = -1;
					for (int i = 0; i < n; i++)
						if (!used[i] && (b < 0 || x[i] > x[b]))
							b = i;
					used[b] = 1;
					ck_assert_msg(oi[r * K + k] == b && memcmp(&ol[r * K + k], &x[b], 4) == 0,
						      "n %d K %d row %d rank %d: (%d, %g), want (%d, %g)", n, K, r, k,
						      oi[r * K + k], ol[r * K + k], b, x[b]);
				}
				free(used);
			}
			ct_free(d_ol); ct_free(d_oi);
			free(ol); free(oi);
		}
		ck_assert_int_eq(orc_k_topk(d_l, n, n, rows, 0, NULL, NULL, 0), cudaErrorInvalidValue);
		ck_assert_int_eq(orc_k_topk(d_l, n, n, rows, 1025, NULL, NULL, 0), cudaErrorInvalidValue);
		ct_free(d_l);
		free(l);
	}
}
END_TEST

static Suite *cuda_kernels_suite(void)
{
	Suite *s = suite_create("cuda_kernels");
	TCase *tc = tcase_create("ops");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_get_rows);
	tcase_add_test(tc, test_bad_index_flag);
	tcase_add_test(tc, test_norms);
	tcase_add_test(tc, test_rope);
	tcase_add_test(tc, test_gemv_types);
	tcase_add_test(tc, test_gemv_batch_invariance);
	tcase_add_test(tc, test_gemv_many_units);
	tcase_add_test(tc, test_fused_exact);
	tcase_add_test(tc, test_elementwise);
	tcase_add_test(tc, test_convert);
	tcase_add_test(tc, test_attention);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_argmax);
	tcase_add_test(tc, test_topk);
	tcase_add_test(tc, test_mm_f16_range);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	ct_require_gpu();
	if (orc_k_init() != cudaSuccess) {
		fprintf(stderr, "orc_k_init failed\n");
		return 1;
	}
	/* CUDA cannot be used in a child forked after initialization */
	setenv("CK_FORK", "no", 1);
	return orc_test_run(cuda_kernels_suite());
}
