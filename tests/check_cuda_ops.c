/* check_cuda_ops.c -- every op of the CUDA backend against the same op of
 * the CPU backend, through the ops table, on random inputs of awkward sizes
 * (strided views, shapes off the kernels' tiles, every weight type the
 * CUDA kernels read); then a captured step replayed with new inputs, the
 * sticky error of a bad view, and memory accounting. Skips (77) without a
 * GPU; runs without fork (CUDA cannot cross a fork). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cudatest.h"
#include "limits.h"
#include "testutil.h"

static struct orc_backend *cpu, *gpu;

static void backends(void)
{
	struct orc_backend_opts o = { .n_threads = 2, .device = 0 };
	struct orc_err err = { 0 };

	ck_assert_int_eq(orc_backend_cpu_new(&o, &cpu, &err), 0);
	ck_assert_msg(orc_backend_cuda_new(&o, &gpu, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(gpu->ops->name, "cuda");
}

static void backends_free(void)
{
	orc_backend_free(cpu);
	orc_backend_free(gpu);
}

/* A tensor with its own buffer on each backend. */
struct dt {
	struct orc_bbuf *b[2];
	struct orc_tensor t[2];
	uint64_t size;
};

static struct orc_backend *be_of(int i)
{
	return i ? gpu : cpu;
}

static struct dt dup_t(enum orc_type type, uint32_t ne0, uint32_t ne1, uint64_t nb1, const void *data)
{
	struct dt r = { .size = nb1 * ne1 };
	struct orc_err err = { 0 };

	for (int i = 0; i < 2; i++) {
		struct orc_backend *be = be_of(i);
		ck_assert_msg(be->ops->buf_alloc(be, r.size ? r.size : 4, ORC_BUF_SCRATCH, &r.b[i], &err) == 0, "%s",
			      err.msg);
		if (data && r.size)
			ck_assert_int_eq(be->ops->buf_set(be, r.b[i], 0, data, r.size, &err), 0);
		r.t[i] = (struct orc_tensor){ .buf = r.b[i], .type = type, .ne0 = ne0, .ne1 = ne1, .nb1 = nb1 };
	}
	return r;
}

/* F32 [ne1, ne0] with `pad` extra floats per row, random in [lo, hi]. */
static struct dt rand_f32(uint32_t ne0, uint32_t ne1, uint32_t pad, float lo, float hi)
{
	size_t n = (size_t)(ne0 + pad) * ne1;
	float *h = malloc(n * sizeof(float) + 4);
	for (size_t i = 0; i < n; i++)
		h[i] = ct_uniform(lo, hi);
	struct dt r = dup_t(ORC_TYPE_F32, ne0, ne1, (uint64_t)(ne0 + pad) * 4, h);
	free(h);
	return r;
}

static struct dt i32(uint32_t n, const int32_t *v)
{
	return dup_t(ORC_TYPE_I32, n, 1, (uint64_t)n * 4, v);
}

static void dt_free(struct dt *d)
{
	for (int i = 0; i < 2; i++)
		be_of(i)->ops->buf_free(be_of(i), d->b[i]);
}

/* Both results; fails on a backend error. */
static void fetch(const struct dt *d, float *out[2])
{
	struct orc_err err = { 0 };

	for (int i = 0; i < 2; i++) {
		out[i] = malloc(d->size + 4);
		int rc = be_of(i)->ops->buf_get(be_of(i), d->b[i], 0, out[i], d->size, &err);
		ck_assert_msg(rc == 0, "%s backend: %s", i ? "cuda" : "cpu", err.msg);
	}
}

/* Compare the F32 views of d on both backends: |gpu - cpu| <= abs + rel |cpu|. */
static void compare(const struct dt *d, double abs_tol, double rel_tol, const char *what)
{
	float *o[2];
	double worst = 0;

	fetch(d, o);
	for (uint32_t r = 0; r < d->t[0].ne1; r++)
		for (uint32_t c = 0; c < d->t[0].ne0; c++) {
			size_t i = r * (d->t[0].nb1 / 4) + c;
			double e = fabs((double)o[1][i] - o[0][i]);
			ck_assert_msg(e <= abs_tol + rel_tol * fabs(o[0][i]), "%s [%u, %u]: cuda %.8g, cpu %.8g", what, r,
				      c, o[1][i], o[0][i]);
			worst = fmax(worst, e);
		}
	free(o[0]);
	free(o[1]);
}

#define ON_BOTH(...) \
	do { \
		for (int i_ = 0; i_ < 2; i_++) { \
			struct orc_backend *be = be_of(i_); \
			int i = i_; \
			(void)i; \
			__VA_ARGS__; \
		} \
	} while (0)

/* ---- matmul ---- */

static const enum orc_type wtypes[] = {ORC_TYPE_F32, ORC_TYPE_F16, ORC_TYPE_BF16, ORC_TYPE_Q8_0,
				       ORC_TYPE_Q4_0, ORC_TYPE_Q4_K, ORC_TYPE_Q6_K};

static int kt(enum orc_type t)
{
	return (int)t;   /* kernels.h numbers types as ggml (and enum orc_type) do */
}

static void check_matmul(enum orc_type type, uint32_t k, uint32_t n, uint32_t n_tok, bool bias)
{
	size_t wb;
	void *w = ct_rand_weights(kt(type), n, k, 0.5f, &wb);
	struct dt W = dup_t(type, k, n, orc_type_row_bytes(type, k), w);
	struct dt X = rand_f32(k, n_tok, 3, -1, 1), B = rand_f32(n, 1, 0, -1, 1);
	struct dt O = rand_f32(n, n_tok, 5, -1, 1);
	char what[96];

	ON_BOTH(be->ops->matmul(be, &W.t[i], &X.t[i], bias ? &B.t[i] : NULL, &O.t[i]));
	snprintf(what, sizeof(what), "matmul %s k=%u n=%u tok=%u", orc_type_info(type)->name, k, n, n_tok);
	/* both accumulate in F32, in different orders */
	compare(&O, 2e-5 * sqrt((double)k) * 4, 1e-5, what);
	dt_free(&W); dt_free(&X); dt_free(&B); dt_free(&O);
	free(w);
}

START_TEST(op_matmul)
{
	ct_seed(101);
	backends();
	/* what the CUDA backend reads it says at load; the rest it refuses there */
	for (size_t t = 0; t < sizeof(wtypes) / sizeof(wtypes[0]); t++)
		ck_assert_msg(gpu->ops->weight_ok(wtypes[t]), "%s", orc_type_info(wtypes[t])->name);
	ck_assert(!gpu->ops->weight_ok(ORC_TYPE_Q5_K) && !gpu->ops->weight_ok(ORC_TYPE_IQ4_XS));
	for (size_t t = 0; t < sizeof(wtypes) / sizeof(wtypes[0]); t++) {
		uint32_t blk = orc_type_info(wtypes[t])->block_elems;
		uint32_t ks[2] = {blk == 1 ? 77 : blk == 32 ? 96 : 256, blk == 1 ? 264 : blk == 32 ? 800 : 768};
		for (int v = 0; v < 2; v++) {
			check_matmul(wtypes[t], ks[v], 37, 1, v);
			check_matmul(wtypes[t], ks[v], 19, 5, !v);
			check_matmul(wtypes[t], ks[v], 45, 70, v);
		}
	}
	backends_free();
}
END_TEST

/* ---- rows, row-wise and elementwise ---- */

START_TEST(op_rows_and_rowwise)
{
	ct_seed(102);
	backends();
	const uint32_t n = 11, d = 77;
	/* get_rows from a quantized table and from F32 activations */
	int32_t ids[11] = {3, 0, 9, 9, 1, 2, 8, 7, 6, 5, 4};
	struct dt I = i32(n, ids);
	for (size_t t = 0; t < sizeof(wtypes) / sizeof(wtypes[0]); t++) {
		uint32_t blk = orc_type_info(wtypes[t])->block_elems, len = blk == 1 ? d : blk == 32 ? 96 : 256;
		size_t wb;
		void *w = ct_rand_weights(kt(wtypes[t]), 10, len, 1.0f, &wb);
		struct dt T = dup_t(wtypes[t], len, 10, orc_type_row_bytes(wtypes[t], len), w);
		struct dt O = rand_f32(len, n, 2, 0, 1);
		ON_BOTH(be->ops->get_rows(be, &T.t[i], &I.t[i], &O.t[i]));
		compare(&O, 0, 0, "get_rows");
		dt_free(&T); dt_free(&O);
		free(w);
	}
	struct dt X = rand_f32(d, n, 4, -3, 3), Y = rand_f32(d, n, 1, -3, 3), W = rand_f32(d, 1, 0, 0.5f, 1.5f);
	struct dt Bv = rand_f32(d, 1, 0, -1, 1), O = rand_f32(d, n, 3, 0, 1);
	ON_BOTH(be->ops->add(be, &X.t[i], &Y.t[i], &O.t[i]));
	compare(&O, 0, 0, "add");
	ON_BOTH(be->ops->rms_norm(be, &X.t[i], &W.t[i], 1e-5f, &O.t[i]));
	compare(&O, 1e-6, 2e-6, "rms_norm");
	ON_BOTH(be->ops->layer_norm(be, &X.t[i], &W.t[i], &Bv.t[i], 1e-5f, &O.t[i]));
	compare(&O, 1e-6, 2e-6, "layer_norm");
	ON_BOTH(be->ops->swiglu(be, &X.t[i], &Y.t[i], &O.t[i]));
	compare(&O, 1e-6, 2e-6, "swiglu");
	ON_BOTH(be->ops->gelu(be, &X.t[i], &O.t[i]));
	compare(&O, 1e-6, 2e-6, "gelu");
	ON_BOTH(be->ops->softmax(be, &X.t[i], &O.t[i]));
	compare(&O, 1e-7, 2e-6, "softmax");
	ON_BOTH(be->ops->add(be, &X.t[i], &Y.t[i], &X.t[i]));   /* aliasing */
	compare(&X, 0, 0, "add in place");
	ON_BOTH(be->ops->rms_norm(be, &X.t[i], &W.t[i], 1e-5f, &X.t[i]));
	compare(&X, 1e-6, 2e-6, "rms_norm in place");
	dt_free(&I); dt_free(&X); dt_free(&Y); dt_free(&W); dt_free(&Bv); dt_free(&O);
	backends_free();
}
END_TEST

START_TEST(op_rope)
{
	ct_seed(103);
	backends();
	const uint32_t n_tok = 9;
	int32_t pos[9] = {0, 1, 2, 17, 100, 511, 1000, 3, 4095};
	struct dt P = i32(n_tok, pos);
	const struct orc_rope_args cfg[3] = {
		{.n_head = 3, .head_dim = 24, .n_rot = 24, .theta = 1e6f, .neox = true},
		{.n_head = 2, .head_dim = 16, .n_rot = 16, .theta = 1e4f, .neox = false},
		{.n_head = 4, .head_dim = 12, .n_rot = 8, .theta = 1e4f, .neox = true},
	};
	for (int v = 0; v < 3; v++) {
		struct dt X = rand_f32(cfg[v].n_head * cfg[v].head_dim, n_tok, 7, -2, 2);
		ON_BOTH(be->ops->rope(be, &X.t[i], &P.t[i], &cfg[v]));
		compare(&X, 2e-6, 2e-6, "rope");
		dt_free(&X);
	}
	dt_free(&P);
	backends_free();
}
END_TEST

/* ---- set_rows + attention over a paged cache ---- */

static void check_attention(uint32_t n_head, uint32_t n_kv, uint32_t hd, uint32_t bs, uint32_t n_tok_seq1)
{
	const uint32_t kvd = n_kv * hd, qd = n_head * hd, max_blocks = (n_tok_seq1 + 40) / bs + 2;
	const uint32_t n_blocks = 2 * max_blocks + 3, rows = n_blocks * bs;
	int32_t *table = malloc(sizeof(int32_t) * 2 * max_blocks), *perm = malloc(sizeof(int32_t) * n_blocks);
	for (uint32_t i = 0; i < n_blocks; i++)
		perm[i] = (int32_t)i;
	for (uint32_t i = n_blocks - 1; i > 0; i--) {
		uint32_t j = ct_u32() % (i + 1);
		int32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	memcpy(table, perm, sizeof(int32_t) * 2 * max_blocks);
	/* sequence 0: 37 positions; sequence 1: n_tok_seq1 positions; all written by set_rows */
	const uint32_t len[2] = {37, n_tok_seq1}, n = len[0] + len[1];
	int32_t *slots = malloc(sizeof(int32_t) * n), *seq = malloc(sizeof(int32_t) * n);
	int32_t *pos = malloc(sizeof(int32_t) * n);
	for (uint32_t t = 0, s = 0; s < 2; s++)
		for (uint32_t p = 0; p < len[s]; p++, t++) {
			seq[t] = (int32_t)s;
			pos[t] = (int32_t)p;
			slots[t] = table[s * max_blocks + p / bs] * (int32_t)bs + (int32_t)(p % bs);
		}
	struct dt K = rand_f32(kvd, rows, 0, 0, 0), V = rand_f32(kvd, rows, 0, 0, 0);
	struct dt Kn = rand_f32(kvd, n, 2, -1, 1), Vn = rand_f32(kvd, n, 0, -1, 1);
	struct dt S = i32(n, slots), Q = rand_f32(qd, n, 1, -1.5f, 1.5f), O = rand_f32(qd, n, 3, 0, 1);
	struct dt Ts = i32(n, seq), Ps = i32(n, pos);
	struct dt T = dup_t(ORC_TYPE_I32, max_blocks, 2, max_blocks * 4, table);
	ON_BOTH(be->ops->set_rows(be, &Kn.t[i], &S.t[i], &K.t[i]));
	ON_BOTH(be->ops->set_rows(be, &Vn.t[i], &S.t[i], &V.t[i]));
	compare(&K, 0, 0, "set_rows K");
	ON_BOTH({
		struct orc_attn_args a = {.q = &Q.t[i], .k_cache = &K.t[i], .v_cache = &V.t[i], .pos = &Ps.t[i],
					  .tok_seq = &Ts.t[i], .block_table = &T.t[i], .block_size = bs,
					  .n_head = n_head, .n_head_kv = n_kv, .head_dim = hd,
					  .scale = 1.0f / sqrtf((float)hd), .out = &O.t[i]};
		be->ops->attention(be, &a);
	});
	compare(&O, 2e-6, 2e-5, "attention");
	dt_free(&K); dt_free(&V); dt_free(&Kn); dt_free(&Vn); dt_free(&S); dt_free(&Q); dt_free(&O);
	dt_free(&Ts); dt_free(&Ps); dt_free(&T);
	free(table); free(perm); free(slots); free(seq); free(pos);
}

START_TEST(op_attention)
{
	ct_seed(104);
	backends();
	check_attention(14, 2, 64, 16, 3);      /* 40 tokens: the decode kernel */
	check_attention(14, 2, 64, 16, 600);    /* prompt-sized: the prefill kernel, several chunks */
	check_attention(4, 1, 16, 7, 90);
	check_attention(32, 32, 96, 16, 50);
	check_attention(6, 3, 12, 16, 20);
	backends_free();
}
END_TEST

/* ---- step capture: first run direct, second captured, third replayed ---- */

START_TEST(step_capture_replay)
{
	ct_seed(105);
	backends();
	const uint32_t k = 256, n = 40, n_tok = 3;
	size_t wb;
	void *w = ct_rand_weights(kt(ORC_TYPE_Q8_0), n, k, 0.5f, &wb);
	struct dt W = dup_t(ORC_TYPE_Q8_0, k, n, orc_type_row_bytes(ORC_TYPE_Q8_0, k), w);
	struct dt X = rand_f32(k, n_tok, 0, -1, 1), Nw = rand_f32(k, 1, 0, 0.5f, 1.5f);
	struct dt Xn = rand_f32(k, n_tok, 0, 0, 1), O = rand_f32(n, n_tok, 0, 0, 1);
	struct orc_step_key key = {.n_tok = n_tok, .n_seq = 1, .n_out = 0, .variant = 0};
	struct orc_err err = {0};
	float *x = malloc(sizeof(float) * k * n_tok);
	for (int rep = 0; rep < 4; rep++) {
		for (size_t e = 0; e < (size_t)k * n_tok; e++)
			x[e] = ct_uniform(-1, 1);
		ON_BOTH({
			ck_assert_int_eq(be->ops->buf_set(be, X.b[i], 0, x, sizeof(float) * k * n_tok, &err), 0);
			if (be->ops->step_begin)
				be->ops->step_begin(be, &key);
			be->ops->rms_norm(be, &X.t[i], &Nw.t[i], 1e-6f, &Xn.t[i]);
			be->ops->matmul(be, &W.t[i], &Xn.t[i], NULL, &O.t[i]);
			if (be->ops->step_end)
				ck_assert_msg(be->ops->step_end(be, &err) == 0, "%s", err.msg);
		});
		compare(&O, 2e-4, 1e-5, "captured step");
	}
	dt_free(&W); dt_free(&X); dt_free(&Nw); dt_free(&Xn); dt_free(&O);
	free(w); free(x);
	backends_free();
}
END_TEST

/* ---- reserve: the backend's own scratch, allocated at load ---- */

START_TEST(reserve_covers_the_ops)
{
	ct_seed(106);
	backends();
	struct orc_err err = {0};
	uint64_t b0 = 0, b1 = 0, b2 = 0, b3 = 0;
	/* the shapes of the ops below: 40 tokens of attention (the decode
	 * kernel) over 14 heads of 64 and block tables of 4 blocks of 16;
	 * products of up to 40 columns, K 256 (F16) and 512 (Q8_0) */
	const struct orc_tensor w[2] = {{.type = ORC_TYPE_F16, .ne0 = 256, .ne1 = 40},
					{.type = ORC_TYPE_Q8_0, .ne0 = 512, .ne1 = 8}};
	struct orc_backend_plan p = {.n_tok = 40, .n_head = 14, .head_dim = 64, .max_keys = 4 * 16,
				     .weights = w, .n_weights = 2};
	const struct orc_backend_plan none = {0};

	ck_assert_ptr_nonnull(gpu->ops->reserve);
	ck_assert_msg(gpu->ops->reserve(gpu, &p, &b0, &err) == 0, "%s", err.msg);
	ck_assert_uint_gt(b0, 512u * 128 * 4);   /* Q8_0's prepared columns and attention's */
	check_attention(14, 2, 64, 16, 3);
	check_matmul(ORC_TYPE_F16, 256, 40, 40, false);
	check_matmul(ORC_TYPE_Q8_0, 512, 8, 33, true);
	/* the ops found all they use: nothing grew */
	ck_assert_int_eq(gpu->ops->reserve(gpu, &none, &b1, &err), 0);
	ck_assert_uint_eq(b1, b0);
	/* a longer context needs more; what was reserved never shrinks */
	p.max_keys = 4096;
	ck_assert_int_eq(gpu->ops->reserve(gpu, &p, &b2, &err), 0);
	ck_assert_uint_gt(b2, b1);
	/* more than the card holds: -ENOMEM with the sizes, and the ops still run */
	p.n_head = 4096;
	p.head_dim = 256;
	p.max_keys = 2 * ORC_CTX_MAX;
	ck_assert_int_eq(gpu->ops->reserve(gpu, &p, &b3, &err), -ENOMEM);
	ck_assert_msg(strstr(err.msg, "MiB") && strstr(err.msg, "scratch"), "%s", err.msg);
	ck_assert_uint_lt(b3, b2);
	check_attention(14, 2, 64, 16, 3);
	ck_assert_int_eq(gpu->ops->synchronize(gpu, &err), 0);
	backends_free();
}
END_TEST

/* ---- errors and memory ---- */

START_TEST(errors_and_memory)
{
	backends();
	struct orc_err err = {0};
	struct orc_bbuf *b = NULL;
	uint64_t fr0, total, fr1;

	gpu->ops->mem_info(gpu, &fr0, &total);
	ck_assert_uint_gt(total, 0);
	/* more than the card holds: -ENOMEM naming sizes, nothing leaked */
	ck_assert_int_eq(gpu->ops->buf_alloc(gpu, total + (1ull << 30), ORC_BUF_WEIGHTS, &b, &err), -ENOMEM);
	ck_assert_msg(strstr(err.msg, "MiB") && strstr(err.msg, "weights"), "%s", err.msg);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(gpu->ops->buf_alloc(gpu, 64 << 20, ORC_BUF_KV, &b, &err), 0);
	gpu->ops->mem_info(gpu, &fr1, &total);
	ck_assert_uint_le(fr1 + (64 << 20), fr0 + (8 << 20));
	/* a copy outside the buffer */
	char tmp[16] = {0};
	ck_assert_int_eq(gpu->ops->buf_set(gpu, b, (64 << 20) - 8, tmp, 16, &err), -EINVAL);
	/* a bad view becomes the sticky error, reported once by synchronize */
	struct orc_tensor bad = {.buf = b, .offset = (64 << 20) - 4, .type = ORC_TYPE_F32, .ne0 = 8, .ne1 = 1, .nb1 = 32};
	gpu->ops->softmax(gpu, &bad, &bad);
	ck_assert_int_eq(gpu->ops->synchronize(gpu, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "softmax") != NULL, "%s", err.msg);
	ck_assert_int_eq(gpu->ops->synchronize(gpu, &err), 0);
	/* an index out of range on the device */
	struct orc_bbuf *tb = NULL, *ib = NULL, *ob = NULL;
	int32_t ids[2] = {0, 99};
	ck_assert_int_eq(gpu->ops->buf_alloc(gpu, 4 * 16 * 4, ORC_BUF_WEIGHTS, &tb, &err), 0);
	ck_assert_int_eq(gpu->ops->buf_alloc(gpu, 8, ORC_BUF_IO, &ib, &err), 0);
	ck_assert_int_eq(gpu->ops->buf_alloc(gpu, 2 * 16 * 4, ORC_BUF_SCRATCH, &ob, &err), 0);
	ck_assert_int_eq(gpu->ops->buf_set(gpu, ib, 0, ids, 8, &err), 0);
	struct orc_tensor T = {.buf = tb, .type = ORC_TYPE_F32, .ne0 = 16, .ne1 = 4, .nb1 = 64};
	struct orc_tensor I = {.buf = ib, .type = ORC_TYPE_I32, .ne0 = 2, .ne1 = 1, .nb1 = 8};
	struct orc_tensor O = {.buf = ob, .type = ORC_TYPE_F32, .ne0 = 16, .ne1 = 2, .nb1 = 64};
	gpu->ops->get_rows(gpu, &T, &I, &O);
	ck_assert_int_eq(gpu->ops->synchronize(gpu, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "out of range") != NULL, "%s", err.msg);
	ck_assert_int_eq(gpu->ops->synchronize(gpu, &err), 0);
	gpu->ops->buf_free(gpu, tb);
	gpu->ops->buf_free(gpu, ib);
	gpu->ops->buf_free(gpu, ob);
	gpu->ops->buf_free(gpu, b);
	backends_free();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cuda_ops");
	TCase *tc = tcase_create("vs_cpu");

	ct_require_gpu();
	setenv("CK_FORK", "no", 1);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, op_matmul);
	tcase_add_test(tc, op_rows_and_rowwise);
	tcase_add_test(tc, op_rope);
	tcase_add_test(tc, op_attention);
	tcase_add_test(tc, step_capture_replay);
	tcase_add_test(tc, reserve_covers_the_ops);
	tcase_add_test(tc, errors_and_memory);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
