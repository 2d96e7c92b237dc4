/* check_ops.c -- every CPU backend op against a straightforward scalar
 * reference in double precision, on random inputs of awkward sizes (rows not
 * a multiple of the panel, k not a multiple of 8, batches that cross the
 * token block), for both kernel sets (AVX2 when the CPU has it, and the
 * portable one). Matmul runs on every weight type against orc_dequant_row.
 * Also the reproducibility contract: bit-identical results across batch
 * compositions and thread counts. */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu_kernels.h"
#include "threadpool.h"
#include "quant.h"
#include "testutil.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd_u32(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static float rnd_f(float lo, float hi)
{
	return lo + (hi - lo) * (float)(rnd_u32() >> 8) / (float)(1u << 24);
}

static void fill(float *x, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		x[i] = rnd_f(lo, hi);
}

/* A half with a moderate magnitude (2^-6 .. 2^-1), random sign and mantissa. */
static uint16_t rnd_half(void)
{
	return (uint16_t)(((rnd_u32() & 1) << 15) | ((9 + rnd_u32() % 6) << 10) | (rnd_u32() & 0x3ff));
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* Random bytes for a row of n elements of `type`, with every F16 scale field sane. */
static void *rnd_weights(enum orc_type type, uint32_t n, uint32_t rows)
{
	const struct orc_type_info *ti = orc_type_info(type);
	uint64_t rb = orc_type_row_bytes(type, n), nblk = (uint64_t)rows * n / ti->block_elems;
	uint8_t *w = malloc(rb * rows);

	for (uint64_t i = 0; i < rb * rows; i++)
		w[i] = (uint8_t)rnd_u32();
	for (uint64_t b = 0; b < nblk; b++) {
		uint8_t *blk = w + b * ti->block_bytes;
		switch (type) {
		case ORC_TYPE_F32:
			for (int j = 0; j < 1; j++) {
				float f = rnd_f(-1, 1);
				memcpy(blk, &f, 4);
			}
			break;
		case ORC_TYPE_F16:
			put16(blk, rnd_half());
			break;
		case ORC_TYPE_BF16:
			put16(blk, orc_f32_to_bf16(rnd_f(-1, 1)));
			break;
		case ORC_TYPE_Q8_0: case ORC_TYPE_Q4_0: case ORC_TYPE_Q5_0:
			put16(blk, rnd_half());
			break;
		case ORC_TYPE_Q4_1: case ORC_TYPE_Q5_1: case ORC_TYPE_Q4_K: case ORC_TYPE_Q5_K:
			put16(blk, rnd_half());
			put16(blk + 2, rnd_half());
			break;
		case ORC_TYPE_Q6_K:
			put16(blk + ti->block_bytes - 2, rnd_half());
			break;
		default:
			break;
		}
	}
	return w;
}

struct bt {     /* a tensor with its own buffer */
	struct orc_bbuf *buf;
	struct orc_tensor t;
};

static struct bt upload(struct orc_backend *be, enum orc_type type, uint32_t ne0, uint32_t ne1,
			uint64_t nb1, const void *data)
{
	struct bt r = { 0 };
	struct orc_err err = { 0 };
	uint64_t size = nb1 * ne1;

	ck_assert_int_eq(be->ops->buf_alloc(be, size, ORC_BUF_SCRATCH, &r.buf, &err), 0);
	if (data)
		ck_assert_int_eq(be->ops->buf_set(be, r.buf, 0, data, size, &err), 0);
	r.t = (struct orc_tensor){ .buf = r.buf, .type = type, .ne0 = ne0, .ne1 = ne1, .nb1 = nb1 };
	return r;
}

static struct bt upload_f32(struct orc_backend *be, uint32_t ne0, uint32_t ne1, const float *data)
{
	return upload(be, ORC_TYPE_F32, ne0, ne1, (uint64_t)ne0 * 4, data);
}

static struct bt upload_i32(struct orc_backend *be, uint32_t n, const int32_t *data)
{
	return upload(be, ORC_TYPE_I32, n, 1, (uint64_t)n * 4, data);
}

static void download(struct orc_backend *be, const struct bt *b, void *dst)
{
	struct orc_err err = { 0 };
	int rc = be->ops->buf_get(be, b->buf, 0, dst, b->buf ? b->t.nb1 * b->t.ne1 : 0, &err);
	ck_assert_msg(rc == 0, "backend error: %s", err.msg);
}

static void drop(struct orc_backend *be, struct bt *b)
{
	be->ops->buf_free(be, b->buf);
	b->buf = NULL;
}

static struct orc_backend *new_backend(int threads, bool generic)
{
	struct orc_backend_opts o = { .n_threads = threads };
	struct orc_backend *be = NULL;
	struct orc_err err = { 0 };

	if (generic)
		setenv("ORC_CPU_SIMD", "generic", 1);
	else
		unsetenv("ORC_CPU_SIMD");
	ck_assert_int_eq(orc_backend_cpu_new(&o, &be, &err), 0);
	unsetenv("ORC_CPU_SIMD");
	return be;
}

/* ---- matmul against orc_dequant_row + double ---- */

static const enum orc_type all_types[] = {
	ORC_TYPE_F32, ORC_TYPE_F16, ORC_TYPE_BF16, ORC_TYPE_Q8_0, ORC_TYPE_Q4_0, ORC_TYPE_Q4_1,
	ORC_TYPE_Q5_0, ORC_TYPE_Q5_1, ORC_TYPE_Q4_K, ORC_TYPE_Q5_K, ORC_TYPE_Q6_K,
};

static uint32_t k_for(enum orc_type type, int variant)
{
	uint32_t be = orc_type_info(type)->block_elems;
	if (be == 1)
		return variant ? 264 : 77;       /* 77: not a multiple of 8 */
	if (be == 32)
		return variant ? 800 : 96;       /* 800 crosses chunks, ends mid-chunk */
	return variant ? 768 : 256;
}

static void check_matmul(struct orc_backend *be, enum orc_type type, uint32_t k, uint32_t n,
			 uint32_t n_tok, bool with_bias)
{
	uint64_t rb = orc_type_row_bytes(type, k);
	void *wq = rnd_weights(type, k, n);
	float *wf = malloc(sizeof(float) * k * n), *x = malloc(sizeof(float) * (k + 3) * n_tok);
	float *bias = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n * n_tok);
	struct bt W, X, B = { 0 }, O;

	for (uint32_t r = 0; r < n; r++)
		ck_assert_int_eq(orc_dequant_row(type, (uint8_t *)wq + r * rb, wf + (size_t)r * k, k), 0);
	fill(x, (size_t)(k + 3) * n_tok, -1, 1);
	fill(bias, n, -1, 1);
	W = upload(be, type, k, n, rb, wq);
	X = upload(be, ORC_TYPE_F32, k, n_tok, (uint64_t)(k + 3) * 4, x);   /* strided rows */
	if (with_bias)
		B = upload_f32(be, n, 1, bias);
	O = upload_f32(be, n, n_tok, NULL);
	be->ops->matmul(be, &W.t, &X.t, with_bias ? &B.t : NULL, &O.t);
	download(be, &O, out);
	for (uint32_t t = 0; t < n_tok; t++) {
		for (uint32_t r = 0; r < n; r++) {
			double ref = with_bias ? bias[r] : 0, mag = fabs(ref);
			for (uint32_t i = 0; i < k; i++) {
				ref += (double)wf[(size_t)r * k + i] * x[(size_t)t * (k + 3) + i];
				mag += fabs((double)wf[(size_t)r * k + i] * x[(size_t)t * (k + 3) + i]);
			}
			/* worst-case bound of the 8-lane summation in float */
			double tol = (k / 8.0 + 10) * FLT_EPSILON * mag + 1e-30;
			ck_assert_msg(fabs(out[(size_t)t * n + r] - ref) <= tol,
				      "%s k=%u n=%u n_tok=%u [%u,%u]: %.9g vs %.9g (tol %.3g)",
				      orc_type_info(type)->name, k, n, n_tok, t, r,
				      out[(size_t)t * n + r], ref, tol);
		}
	}
	drop(be, &W);
	drop(be, &X);
	drop(be, &B);
	drop(be, &O);
	free(wq);
	free(wf);
	free(x);
	free(bias);
	free(out);
}

START_TEST(matmul_types)
{
	const enum orc_type type = all_types[_i % 11];
	const bool generic = _i >= 11;
	struct orc_backend *be = new_backend(2, generic);

	for (int v = 0; v < 2; v++) {
		uint32_t k = k_for(type, v);
		check_matmul(be, type, k, 13, 1, v == 0);
		check_matmul(be, type, k, 7, 2, v == 1);
		check_matmul(be, type, k, 5, 3, v == 0);
		check_matmul(be, type, k, 6, 5, v == 1);
		check_matmul(be, type, k, 9, 67, true);
	}
	orc_backend_free(be);
}
END_TEST

/* get_rows gives exactly orc_dequant_row's values */
START_TEST(get_rows_types)
{
	const enum orc_type type = all_types[_i % 11];
	struct orc_backend *be = new_backend(2, _i >= 11);
	const uint32_t k = k_for(type, 1), rows = 7;
	uint64_t rb = orc_type_row_bytes(type, k);
	void *wq = rnd_weights(type, k, rows);
	int32_t ids[5] = { 6, 0, 3, 3, 1 };
	float *out = malloc(sizeof(float) * k * 5), *ref = malloc(sizeof(float) * k);
	struct bt T = upload(be, type, k, rows, rb, wq), I = upload_i32(be, 5, ids);
	struct bt O = upload_f32(be, k, 5, NULL);

	be->ops->get_rows(be, &T.t, &I.t, &O.t);
	download(be, &O, out);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(orc_dequant_row(type, (uint8_t *)wq + ids[i] * rb, ref, k), 0);
		ck_assert_msg(memcmp(ref, out + (size_t)i * k, sizeof(float) * k) == 0,
			      "%s row %d differs from orc_dequant_row", orc_type_info(type)->name, ids[i]);
	}
	drop(be, &T);
	drop(be, &I);
	drop(be, &O);
	orc_backend_free(be);
	free(wq);
	free(out);
	free(ref);
}
END_TEST

/* The reproducibility contract for matmul: a token's outputs are the same
 * bits alone, at any place in any batch, with 1 or 2 threads. */
START_TEST(matmul_batch_invariance)
{
	const enum orc_type types[] = { ORC_TYPE_F32, ORC_TYPE_F16, ORC_TYPE_BF16, ORC_TYPE_Q8_0,
					ORC_TYPE_Q4_0, ORC_TYPE_Q4_K, ORC_TYPE_Q6_K };
	struct orc_backend *be1 = new_backend(1, false), *be2 = new_backend(2, false);

	for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
		const uint32_t k = k_for(types[ti], 1), n = 37, n_tok = 70;
		uint64_t rb = orc_type_row_bytes(types[ti], k);
		void *wq = rnd_weights(types[ti], k, n);
		float *x = malloc(sizeof(float) * k * n_tok);
		float *all = malloc(sizeof(float) * n * n_tok), *one = malloc(sizeof(float) * n);
		float *all1 = malloc(sizeof(float) * n * n_tok);

		fill(x, (size_t)k * n_tok, -2, 2);
		for (int b = 0; b < 2; b++) {
			struct orc_backend *be = b ? be2 : be1;
			struct bt W = upload(be, types[ti], k, n, rb, wq), X = upload_f32(be, k, n_tok, x);
			struct bt O = upload_f32(be, n, n_tok, NULL);
			be->ops->matmul(be, &W.t, &X.t, NULL, &O.t);
			download(be, &O, b ? all : all1);
			drop(be, &X);
			drop(be, &O);
			/* batches of 3 (decode tiles over the whole of k), 7 and 12 (decode
			 * tiles chunk by chunk) against the batch of n_tok (tiles through
			 * scratch) */
			static const uint32_t sizes[] = { 3, 7, 12 };
			for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
				const uint32_t nb = sizes[si];
				struct bt Xb = upload_f32(be, k, nb, x + (size_t)40 * k), Ob = upload_f32(be, n, nb, NULL);
				float part[12 * 37];
				be->ops->matmul(be, &W.t, &Xb.t, NULL, &Ob.t);
				download(be, &Ob, part);
				ck_assert_msg(memcmp(part, (b ? all : all1) + (size_t)40 * n, sizeof(float) * n * nb) == 0,
					      "%s: tokens 40..%u as a batch of %u differ from in a batch of %u",
					      orc_type_info(types[ti])->name, 39 + nb, nb, n_tok);
				drop(be, &Xb);
				drop(be, &Ob);
			}
			for (uint32_t t = 0; t < n_tok; t += 23) {
				struct bt X1 = upload_f32(be, k, 1, x + (size_t)t * k), O1 = upload_f32(be, n, 1, NULL);
				be->ops->matmul(be, &W.t, &X1.t, NULL, &O1.t);
				download(be, &O1, one);
				ck_assert_msg(memcmp(one, (b ? all : all1) + (size_t)t * n, sizeof(float) * n) == 0,
					      "%s: token %u alone differs from in a batch of %u",
					      orc_type_info(types[ti])->name, t, n_tok);
				drop(be, &X1);
				drop(be, &O1);
			}
			drop(be, &W);
		}
		ck_assert_msg(memcmp(all, all1, sizeof(float) * n * n_tok) == 0,
			      "%s: 1 and 2 threads differ", orc_type_info(types[ti])->name);
		free(wq);
		free(x);
		free(all);
		free(all1);
		free(one);
	}
	orc_backend_free(be1);
	orc_backend_free(be2);
}
END_TEST

/* ---- row-wise ops ---- */

static void check_close(const float *got, const double *ref, size_t n, double tol, const char *what)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fabs(got[i] - ref[i]) <= tol * (1 + fabs(ref[i])),
			      "%s[%zu]: %.9g vs %.9g", what, i, got[i], ref[i]);
}

START_TEST(rowwise_ops)
{
	struct orc_backend *be = new_backend(2, _i == 1);
	const uint32_t ne0 = 201, n = 131;   /* 131 x 201 crosses the threading threshold */
	const size_t total = (size_t)ne0 * n;
	float *a = malloc(sizeof(float) * total), *b = malloc(sizeof(float) * total);
	float *w = malloc(sizeof(float) * ne0), *bias = malloc(sizeof(float) * ne0);
	float *out = malloc(sizeof(float) * total);
	double *ref = malloc(sizeof(double) * total);
	struct bt A, B, Wt, Bt, O;

	fill(a, total, -3, 3);
	fill(b, total, -3, 3);
	fill(w, ne0, -2, 2);
	fill(bias, ne0, -1, 1);
	A = upload_f32(be, ne0, n, a);
	B = upload_f32(be, ne0, n, b);
	Wt = upload_f32(be, ne0, 1, w);
	Bt = upload_f32(be, ne0, 1, bias);
	O = upload_f32(be, ne0, n, NULL);

	be->ops->add(be, &A.t, &B.t, &O.t);
	download(be, &O, out);
	for (size_t i = 0; i < total; i++)
		ref[i] = (double)a[i] + b[i];
	check_close(out, ref, total, 1e-7, "add");

	be->ops->swiglu(be, &A.t, &B.t, &O.t);
	download(be, &O, out);
	for (size_t i = 0; i < total; i++)
		ref[i] = a[i] / (1 + exp(-(double)a[i])) * b[i];
	check_close(out, ref, total, 1e-6, "swiglu");

	be->ops->gelu(be, &A.t, &O.t);
	download(be, &O, out);
	for (size_t i = 0; i < total; i++) {
		double v = a[i];
		ref[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
	}
	check_close(out, ref, total, 1e-6, "gelu");

	be->ops->rms_norm(be, &A.t, &Wt.t, 1e-5f, &O.t);
	download(be, &O, out);
	for (uint32_t r = 0; r < n; r++) {
		double ss = 0;
		for (uint32_t i = 0; i < ne0; i++)
			ss += (double)a[r * ne0 + i] * a[r * ne0 + i];
		for (uint32_t i = 0; i < ne0; i++)
			ref[r * ne0 + i] = a[r * ne0 + i] / sqrt(ss / ne0 + 1e-5) * w[i];
	}
	check_close(out, ref, total, 1e-6, "rms_norm");

	be->ops->layer_norm(be, &A.t, &Wt.t, &Bt.t, 1e-5f, &O.t);
	download(be, &O, out);
	for (uint32_t r = 0; r < n; r++) {
		double mean = 0, var = 0;
		for (uint32_t i = 0; i < ne0; i++)
			mean += a[r * ne0 + i];
		mean /= ne0;
		for (uint32_t i = 0; i < ne0; i++)
			var += (a[r * ne0 + i] - mean) * (a[r * ne0 + i] - mean);
		var /= ne0;
		for (uint32_t i = 0; i < ne0; i++)
			ref[r * ne0 + i] = (a[r * ne0 + i] - mean) / sqrt(var + 1e-5) * w[i] + bias[i];
	}
	check_close(out, ref, total, 1e-6, "layer_norm");

	be->ops->softmax(be, &A.t, &O.t);
	download(be, &O, out);
	for (uint32_t r = 0; r < n; r++) {
		double mx = -INFINITY, s = 0;
		for (uint32_t i = 0; i < ne0; i++)
			mx = fmax(mx, a[r * ne0 + i]);
		for (uint32_t i = 0; i < ne0; i++)
			s += exp(a[r * ne0 + i] - mx);
		for (uint32_t i = 0; i < ne0; i++)
			ref[r * ne0 + i] = exp(a[r * ne0 + i] - mx) / s;
	}
	check_close(out, ref, total, 1e-6, "softmax");

	/* in place (out aliases x) is allowed for the norms */
	be->ops->rms_norm(be, &A.t, &Wt.t, 1e-5f, &A.t);
	download(be, &A, out);
	for (uint32_t r = 0; r < n; r++) {
		double ss = 0;
		for (uint32_t i = 0; i < ne0; i++)
			ss += (double)a[r * ne0 + i] * a[r * ne0 + i];
		for (uint32_t i = 0; i < ne0; i++)
			ref[r * ne0 + i] = a[r * ne0 + i] / sqrt(ss / ne0 + 1e-5) * w[i];
	}
	check_close(out, ref, total, 1e-6, "rms_norm in place");

	drop(be, &A);
	drop(be, &B);
	drop(be, &Wt);
	drop(be, &Bt);
	drop(be, &O);
	orc_backend_free(be);
	free(a);
	free(b);
	free(w);
	free(bias);
	free(out);
	free(ref);
}
END_TEST

/* ---- rope ---- */

static void rope_ref(double *v, const float *x, uint32_t hd, uint32_t n_rot, double theta, bool neox,
		     int32_t pos)
{
	for (uint32_t i = 0; i < hd; i++)
		v[i] = x[i];
	for (uint32_t i = 0; i < n_rot / 2; i++) {
		uint32_t i0 = neox ? i : 2 * i, i1 = neox ? i + n_rot / 2 : 2 * i + 1;
		double ang = pos * pow(theta, -2.0 * i / n_rot);
		v[i0] = x[i0] * cos(ang) - x[i1] * sin(ang);
		v[i1] = x[i0] * sin(ang) + x[i1] * cos(ang);
	}
}

START_TEST(rope_layouts)
{
	struct orc_backend *be = new_backend(2, false);
	const uint32_t n_head = 3, hd = 20, n_tok = 300, width = n_head * hd + 7;
	int32_t *pos = malloc(sizeof(int32_t) * n_tok);
	float *x = malloc(sizeof(float) * width * n_tok), *out = malloc(sizeof(float) * width * n_tok);
	double ref[20];

	for (uint32_t t = 0; t < n_tok; t++)
		pos[t] = (int32_t)(rnd_u32() % 5000);
	for (int v = 0; v < 4; v++) {
		struct orc_rope_args ra = { .n_head = n_head, .head_dim = hd, .n_rot = v & 1 ? 12 : hd,
					    .theta = v & 2 ? 1e6f : 10000.0f, .neox = v & 1 };
		struct bt X, P = upload_i32(be, n_tok, pos);
		fill(x, (size_t)width * n_tok, -2, 2);
		/* a column slice of a wider row, as Q inside a fused QKV output */
		X = upload(be, ORC_TYPE_F32, n_head * hd, n_tok, (uint64_t)width * 4, x);
		X.t.offset = 0;
		be->ops->rope(be, &X.t, &P.t, &ra);
		download(be, &X, out);
		for (uint32_t t = 0; t < n_tok; t++) {
			for (uint32_t h = 0; h < n_head; h++) {
				const size_t o = (size_t)t * width + h * hd;
				rope_ref(ref, x + o, hd, ra.n_rot, ra.theta, ra.neox, pos[t]);
				for (uint32_t i = 0; i < hd; i++)
					ck_assert_msg(fabs(out[o + i] - ref[i]) <= 1e-5,
						      "rope variant %d t=%u h=%u i=%u: %.8g vs %.8g", v, t,
						      h, i, out[o + i], ref[i]);
			}
			for (uint32_t i = n_head * hd; i < width; i++)   /* beyond the view: untouched */
				ck_assert(out[(size_t)t * width + i] == x[(size_t)t * width + i]);
		}
		drop(be, &X);
		drop(be, &P);
	}
	orc_backend_free(be);
	free(pos);
	free(x);
	free(out);
}
END_TEST

/* ---- set_rows + paged attention ---- */

struct attn_case {
	uint32_t n_head, n_kv, hd, bs, n_blocks, max_blocks;
};

/* Fill a paged cache for 2 sequences with scrambled block tables; check a
 * batch of queries against a double reference, then the same tokens alone. */
static void check_attention(struct orc_backend *be, const struct attn_case *ac)
{
	const uint32_t kvd = ac->n_kv * ac->hd, qd = ac->n_head * ac->hd, rows = ac->n_blocks * ac->bs;
	const uint32_t len[2] = { ac->max_blocks * ac->bs - 3, 5 };
	int32_t table[2 * 64], tok_seq[8], pos[8];
	float *kc = calloc((size_t)rows * kvd, sizeof(float)), *vc = calloc((size_t)rows * kvd, sizeof(float));
	float *q = malloc(sizeof(float) * qd * 8), *out = malloc(sizeof(float) * qd * 8);
	float *one = malloc(sizeof(float) * qd);
	uint32_t n_tok = 0, perm[64];
	struct bt K, V, Q, O, T, S, P;

	ck_assert_uint_le(2 * ac->max_blocks, ac->n_blocks);
	for (uint32_t i = 0; i < ac->n_blocks; i++)
		perm[i] = i;
	for (uint32_t i = ac->n_blocks - 1; i > 0; i--) {
		uint32_t j = rnd_u32() % (i + 1), tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	for (uint32_t i = 0; i < 2 * ac->max_blocks; i++)
		table[i] = (int32_t)perm[i];
	fill(kc, (size_t)rows * kvd, -1, 1);
	fill(vc, (size_t)rows * kvd, -1, 1);
	/* tokens: a few positions of sequence 0 (incl. the last), all of sequence 1 */
	for (uint32_t p = 0; p < len[0]; p += len[0] / 3 + 1) {
		tok_seq[n_tok] = 0;
		pos[n_tok++] = (int32_t)p;
	}
	tok_seq[n_tok] = 0;
	pos[n_tok++] = (int32_t)len[0] - 1;
	for (uint32_t p = 0; p < 3; p++) {
		tok_seq[n_tok] = 1;
		pos[n_tok++] = (int32_t)(p * 2);
	}
	fill(q, (size_t)qd * n_tok, -1, 1);
	K = upload_f32(be, kvd, rows, kc);
	V = upload_f32(be, kvd, rows, vc);
	Q = upload_f32(be, qd, n_tok, q);
	O = upload_f32(be, qd, n_tok, NULL);
	T = upload(be, ORC_TYPE_I32, ac->max_blocks, 2, ac->max_blocks * 4, table);
	S = upload_i32(be, n_tok, tok_seq);
	P = upload_i32(be, n_tok, pos);
	struct orc_attn_args a = { .q = &Q.t, .k_cache = &K.t, .v_cache = &V.t, .pos = &P.t,
				   .tok_seq = &S.t, .block_table = &T.t, .block_size = ac->bs,
				   .n_head = ac->n_head, .n_head_kv = ac->n_kv, .head_dim = ac->hd,
				   .scale = 1.0f / sqrtf((float)ac->hd), .out = &O.t };
	be->ops->attention(be, &a);
	download(be, &O, out);
	for (uint32_t t = 0; t < n_tok; t++) {
		for (uint32_t h = 0; h < ac->n_head; h++) {
			const uint32_t kvh = h / (ac->n_head / ac->n_kv);
			double sc[1024], mx = -INFINITY, sum = 0, o[256] = { 0 };
			for (int32_t p = 0; p <= pos[t]; p++) {
				uint32_t row = (uint32_t)table[tok_seq[t] * (int32_t)ac->max_blocks + p / (int32_t)ac->bs] * ac->bs + (uint32_t)p % ac->bs;
				double d = 0;
				for (uint32_t i = 0; i < ac->hd; i++)
					d += (double)q[t * qd + h * ac->hd + i] * kc[(size_t)row * kvd + kvh * ac->hd + i];
				sc[p] = d / sqrt(ac->hd);
				mx = fmax(mx, sc[p]);
			}
			for (int32_t p = 0; p <= pos[t]; p++)
				sum += exp(sc[p] - mx);
			for (int32_t p = 0; p <= pos[t]; p++) {
				uint32_t row = (uint32_t)table[tok_seq[t] * (int32_t)ac->max_blocks + p / (int32_t)ac->bs] * ac->bs + (uint32_t)p % ac->bs;
				for (uint32_t i = 0; i < ac->hd; i++)
					o[i] += exp(sc[p] - mx) / sum * vc[(size_t)row * kvd + kvh * ac->hd + i];
			}
			for (uint32_t i = 0; i < ac->hd; i++)
				ck_assert_msg(fabs(out[t * qd + h * ac->hd + i] - o[i]) <= 2e-6,
					      "attention t=%u (pos %d) h=%u i=%u: %.8g vs %.8g", t, pos[t], h,
					      i, out[t * qd + h * ac->hd + i], o[i]);
		}
	}
	/* each token alone: the same bits */
	for (uint32_t t = 0; t < n_tok; t++) {
		struct bt Q1 = upload_f32(be, qd, 1, q + (size_t)t * qd), O1 = upload_f32(be, qd, 1, NULL);
		struct bt S1 = upload_i32(be, 1, &tok_seq[t]), P1 = upload_i32(be, 1, &pos[t]);
		struct orc_attn_args a1 = a;
		a1.q = &Q1.t;
		a1.out = &O1.t;
		a1.tok_seq = &S1.t;
		a1.pos = &P1.t;
		be->ops->attention(be, &a1);
		download(be, &O1, one);
		ck_assert_msg(memcmp(one, out + (size_t)t * qd, sizeof(float) * qd) == 0,
			      "attention: token %u alone differs from in the batch", t);
		drop(be, &Q1);
		drop(be, &O1);
		drop(be, &S1);
		drop(be, &P1);
	}
	drop(be, &K);
	drop(be, &V);
	drop(be, &Q);
	drop(be, &O);
	drop(be, &T);
	drop(be, &S);
	drop(be, &P);
	free(kc);
	free(vc);
	free(q);
	free(out);
	free(one);
}

/* Attention's kernels in both sets: several rows at once give the bits of
 * one row at a time (the canonical dot product; the same FMA chain per
 * element), for row counts and lengths off their blocks of 8 and 64. */
START_TEST(attention_kernels_batched)
{
	const struct orc_cpu_kern *sets[2] = { &orc_cpu_kern_generic, orc_cpu_kern_select() };
	enum { R = 13, N = 139 };
	float *m = malloc(sizeof(float) * R * N), q[N], w[R], one[R], all[R], y1[N], yn[N];
	const float *rows[R];

	fill(m, (size_t)R * N, -1, 1);
	fill(q, N, -1, 1);
	fill(w, R, 0, 0.2f);
	for (int r = 0; r < R; r++)
		rows[r] = m + (size_t)r * N;
	for (int si = 0; si < 2; si++) {
		const struct orc_cpu_kern *k = sets[si];
		for (uint32_t n = 1; n <= N; n += 23) {
			k->dots(q, rows, R, n, all);
			for (int r = 0; r < R; r++)
				k->dots(q, rows + r, 1, n, one + r);
			ck_assert_msg(memcmp(all, one, sizeof(all)) == 0, "%s dots, n=%u: 13 rows differ from one by one",
				      k->name, n);
			fill(y1, N, -1, 1);
			memcpy(yn, y1, sizeof(yn));
			k->wsum(w, rows, R, n, yn);
			for (int r = 0; r < R; r++)
				k->wsum(w + r, rows + r, 1, n, y1);
			ck_assert_msg(memcmp(yn, y1, sizeof(yn)) == 0, "%s wsum, n=%u: 13 rows differ from one by one",
				      k->name, n);
		}
	}
	free(m);
}
END_TEST

START_TEST(attention_paged)
{
	static const struct attn_case cases[] = {
		{ .n_head = 4, .n_kv = 2, .hd = 20, .bs = 16, .n_blocks = 13, .max_blocks = 6 },
		{ .n_head = 6, .n_kv = 1, .hd = 64, .bs = 4, .n_blocks = 40, .max_blocks = 17 },
		{ .n_head = 3, .n_kv = 3, .hd = 13, .bs = 1, .n_blocks = 50, .max_blocks = 25 },
	};
	for (int b = 0; b < 2; b++) {
		struct orc_backend *be = new_backend(b + 1, _i == 1);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			check_attention(be, &cases[i]);
		orc_backend_free(be);
	}
}
END_TEST

START_TEST(set_rows_scatter)
{
	struct orc_backend *be = new_backend(2, false);
	float src[3 * 5], dst[9 * 5];
	int32_t idx[3] = { 7, 0, 4 };
	struct bt S, I, D;

	fill(src, 15, -1, 1);
	S = upload_f32(be, 5, 3, src);
	I = upload_i32(be, 3, idx);
	D = upload_f32(be, 5, 9, NULL);
	memset(dst, 0, sizeof(dst));
	ck_assert_int_eq(be->ops->buf_set(be, D.buf, 0, dst, sizeof(dst), NULL), 0);
	be->ops->set_rows(be, &S.t, &I.t, &D.t);
	download(be, &D, dst);
	for (int i = 0; i < 3; i++)
		ck_assert(memcmp(dst + idx[i] * 5, src + i * 5, 5 * sizeof(float)) == 0);
	ck_assert(dst[5] == 0 && dst[8 * 5 + 4] == 0);
	drop(be, &S);
	drop(be, &I);
	drop(be, &D);
	orc_backend_free(be);
}
END_TEST

/* argmax: the largest, the lowest id on a tie; -1 for a row with a NaN or
 * +inf, or with only -inf (orc_sampler_greedy, the sampler's greedy pick). */
START_TEST(argmax_rows)
{
	struct orc_backend *be = new_backend(2, false);
	enum { N = 1001, R = 6 };
	float *x = malloc(sizeof(float) * N * R);
	int32_t got[R] = { 0 };
	const int32_t want[R] = { 700, 3, -1, -1, -1, 999 };
	struct bt X, O;

	ck_assert_ptr_nonnull(x);
	fill(x, N * R, -5, 5);
	x[0 * N + 700] = 9.0f;
	x[1 * N + 500] = 9.5f, x[1 * N + 3] = 9.5f;
	x[2 * N + 10] = NAN;
	x[3 * N + 20] = INFINITY;
	for (int i = 0; i < N; i++)
		x[4 * N + i] = -INFINITY, x[5 * N + i] = i == 999 ? -7.0f : -INFINITY;
	X = upload_f32(be, N, R, x);
	O = upload_i32(be, R, got);
	be->ops->argmax(be, &X.t, &O.t);
	ck_assert_int_eq(be->ops->buf_get(be, O.buf, 0, got, sizeof(got), NULL), 0);
	for (int r = 0; r < R; r++)
		ck_assert_msg(got[r] == want[r], "row %d: %d, want %d", r, got[r], want[r]);
	drop(be, &X);
	drop(be, &O);
	orc_backend_free(be);
	free(x);
}
END_TEST

/* topk: the K best of each row with their ids, best first (larger, then
 * the lower id); id -1 first for a row with a NaN; a K beyond the row or
 * the limit is refused by name. */
START_TEST(topk_rows)
{
	struct orc_backend *be = new_backend(2, false);
	struct orc_err err = { 0 };
	enum { N = 300, R = 2, K = 5 };
	float x[N * R], lo[K * R];
	int32_t id[K * R];
	struct bt X, L, I;

	for (int i = 0; i < N * R; i++)
		x[i] = (float)((i * 37) % 11);      /* 10 is the largest, tied many times */
	x[N + 40] = NAN;
	X = upload_f32(be, N, R, x);
	L = upload_f32(be, K, R, NULL);
	I = upload(be, ORC_TYPE_I32, K, R, K * 4, NULL);
	be->ops->topk(be, &X.t, &L.t, &I.t);
	ck_assert_int_eq(be->ops->synchronize(be, &err), 0);
	download(be, &L, lo);
	download(be, &I, id);
	for (int k = 0, prev = -1; k < K; k++) {
		int next = prev + 1;
		while (x[next] != 10.0f)
			next++;
		ck_assert_msg(id[k] == next && lo[k] == 10.0f, "rank %d: (%d, %g), want (%d, 10)", k, id[k],
			      lo[k], next);
		prev = next;
	}
	ck_assert_int_eq(id[K], -1);
	/* rows of 3 cannot give 5 */
	X.t.ne0 = 3, X.t.nb1 = 12;
	be->ops->topk(be, &X.t, &L.t, &I.t);
	ck_assert_int_eq(be->ops->synchronize(be, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "topk: K = 5 for rows of 3") != NULL, "%s", err.msg);
	/* rows not packed */
	X.t.ne0 = N, X.t.nb1 = N * 4;
	L.t.nb1 = 8, L.t.ne0 = 2, L.t.ne1 = 1;
	I.t.ne0 = 2, I.t.ne1 = 1, I.t.nb1 = 8;
	X.t.ne1 = 1;
	be->ops->topk(be, &X.t, &L.t, &I.t);
	ck_assert_int_eq(be->ops->synchronize(be, &err), 0);
	I.t.nb1 = 12;
	be->ops->topk(be, &X.t, &L.t, &I.t);
	ck_assert_int_eq(be->ops->synchronize(be, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "rows packed") != NULL, "%s", err.msg);
	drop(be, &X);
	drop(be, &L);
	drop(be, &I);
	orc_backend_free(be);
}
END_TEST

/* A bad op records a sticky error: later ops are skipped, the next
 * synchronize reports the first one with its message, then it is cleared. */
START_TEST(sticky_errors)
{
	struct orc_backend *be = new_backend(1, false);
	struct orc_err err = { 0 };
	float a[12] = { 0 };
	int32_t bad = 9;
	struct bt A = upload_f32(be, 4, 3, a), B = upload_f32(be, 3, 4, a), I = upload_i32(be, 1, &bad);
	struct bt O = upload_f32(be, 4, 1, NULL);

	be->ops->add(be, &A.t, &B.t, &A.t);
	be->ops->get_rows(be, &A.t, &I.t, &O.t);
	ck_assert_int_eq(be->ops->synchronize(be, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "add: b is [4, 3], expected [3, 4]") != NULL, "%s", err.msg);
	ck_assert_int_eq(be->ops->synchronize(be, &err), 0);
	be->ops->get_rows(be, &A.t, &I.t, &O.t);
	ck_assert_int_eq(be->ops->synchronize(be, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "id 9 outside the 3 rows") != NULL, "%s", err.msg);
	/* a view past the end of its buffer */
	A.t.ne1 = 4;
	be->ops->add(be, &A.t, &A.t, &A.t);
	ck_assert_int_eq(be->ops->synchronize(be, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "outside its buffer") != NULL, "%s", err.msg);
	A.t.ne1 = 3;
	drop(be, &A);
	drop(be, &B);
	drop(be, &I);
	drop(be, &O);
	orc_backend_free(be);
}
END_TEST

START_TEST(backend_choice)
{
	struct orc_backend *be = NULL;
	struct orc_err err = { 0 };
	char why[256];

	/* Without a usable GPU (or without the CUDA backend built in) CUDA is
	 * -ENODEV with a message, and AUTO falls back to the CPU saying why. */
	if (orc_backend_new(ORC_BACKEND_CUDA, NULL, &be, why, sizeof(why), &err) == 0) {
		orc_backend_free(be);
	} else {
		ck_assert_int_eq(err.code, -ENODEV);
		ck_assert_msg(strstr(err.msg, "CUDA") != NULL, "%s", err.msg);
		ck_assert_int_eq(orc_backend_new(ORC_BACKEND_AUTO, NULL, &be, why, sizeof(why), &err), 0);
		ck_assert_str_eq(be->ops->name, "cpu");
		ck_assert_msg(strstr(why, "CUDA not used") != NULL, "%s", why);
		orc_backend_free(be);
	}
	ck_assert_int_eq(orc_backend_new(ORC_BACKEND_CPU, NULL, &be, why, sizeof(why), &err), 0);
	ck_assert_int_ge(orc_backend_cpu_threads(be), 1);
	orc_backend_free(be);
}
END_TEST

/* ---- the thread pool: every item runs exactly once, job after job ---- */

struct pool_job {
	unsigned *count;
	int max_ith;
};

static void count_item(void *ctx, uint32_t i, int ith)
{
	struct pool_job *j = ctx;
	__atomic_fetch_add(&j->count[i], 1, __ATOMIC_RELAXED);
	if (ith > j->max_ith)
		__atomic_store_n(&j->max_ith, ith, __ATOMIC_RELAXED);
}

START_TEST(pool_items)
{
	struct orc_pool *p = NULL;
	struct orc_err err = { 0 };
	unsigned count[97];

	ck_assert_int_eq(orc_pool_new(0, &p, &err), -EINVAL);
	ck_assert_int_eq(orc_pool_new(4, &p, &err), 0);
	ck_assert_int_eq(orc_pool_size(p), 4);
	for (int rep = 0; rep < 2000; rep++) {
		struct pool_job j = { .count = count };
		uint32_t n = (uint32_t)(rep % 97) + 1;
		memset(count, 0, sizeof(count));
		orc_pool_run(p, count_item, &j, n);
		for (uint32_t i = 0; i < 97; i++)
			ck_assert_msg(count[i] == (i < n ? 1u : 0u), "job %d: item %u ran %u times", rep, i,
				      count[i]);
		ck_assert_int_lt(j.max_ith, 4);
	}
	orc_pool_free(p);
	ck_assert_int_ge(orc_cpu_count(), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("cpu");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, matmul_types, 0, 22);
	tcase_add_loop_test(tc, get_rows_types, 0, 22);
	tcase_add_test(tc, matmul_batch_invariance);
	tcase_add_loop_test(tc, rowwise_ops, 0, 2);
	tcase_add_test(tc, rope_layouts);
	tcase_add_test(tc, attention_kernels_batched);
	tcase_add_loop_test(tc, attention_paged, 0, 2);
	tcase_add_test(tc, set_rows_scatter);
	tcase_add_test(tc, argmax_rows);
	tcase_add_test(tc, topk_rows);
	tcase_add_test(tc, sticky_errors);
	tcase_add_test(tc, backend_choice);
	tcase_add_test(tc, pool_items);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
