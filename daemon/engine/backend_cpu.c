/* backend_cpu.c -- the CPU backend: its ops table, buffers (malloc'ed, or
 * the mmap'ed weights used in place), the sticky error, view checks and the
 * row-wise ops (add, norms, activations, softmax, set_rows). Matmul and
 * get_rows are in backend_cpu_matmul.c, rope and attention in backend_cpu_attn.c. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu_impl.h"
#include "sampler.h"

/* ---- errors and checks ---- */

bool cpu_fail(struct cpu_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	orc_err_set_first_v(&c->err, code, fmt, ap);
	va_end(ap);
	return false;
}

bool cpu_weight_type_ok(enum orc_type type)
{
	switch (type) {
	case ORC_TYPE_F32: case ORC_TYPE_F16: case ORC_TYPE_BF16: case ORC_TYPE_Q8_0:
	case ORC_TYPE_Q4_0: case ORC_TYPE_Q4_1: case ORC_TYPE_Q5_0: case ORC_TYPE_Q5_1:
	case ORC_TYPE_Q4_K: case ORC_TYPE_Q5_K: case ORC_TYPE_Q6_K:
		return true;
	default:
		return false;
	}
}

bool cpu_check(struct cpu_ctx *c, const char *op, const char *what, const struct orc_tensor *t,
	       enum orc_type type, uint32_t ne0, uint32_t ne1)
{
	if (c->err.code != 0)
		return false;
	if (!t || !t->buf)
		return cpu_fail(c, -EINVAL, "%s: %s is missing", op, what);
	if (type == ORC_TYPE_COUNT ? !cpu_weight_type_ok(t->type) : t->type != type)
		return cpu_fail(c, -EINVAL, "%s: %s has type %s, not supported here", op, what,
				orc_tensor_type_name(t->type));
	return orc_tensor_check_layout(t, t->buf->size, op, what, ne0, ne1, &c->err) == 0;
}

bool cpu_scratch_reserve(struct cpu_ctx *c, uint64_t n)
{
	for (int i = 0; i < c->n_threads; i++) {
		struct cpu_scratch *s = &c->scratch[i];
		float *p;

		if (s->att_cap >= n)
			continue;
		p = realloc(s->att, n * sizeof(float));
		if (!p)
			return cpu_fail(c, -ENOMEM, "out of memory for %llu floats of scratch",
					(unsigned long long)n);
		s->att = p;
		s->att_cap = n;
	}
	return true;
}

/* ---- row-wise ops ---- */

struct rows_job {
	struct cpu_ctx *c;
	void (*row)(const struct rows_job *j, uint32_t r);
	uint32_t n_rows;
	const struct orc_tensor *a, *b, *w, *bias, *out, *out2;
	float eps;
};

static void rows_item(void *ctx, uint32_t r, int ith)
{
	const struct rows_job *j = ctx;
	j->row(j, r);
}

static void run_rows(struct rows_job *j, uint64_t elems_per_row)
{
	cpu_run(j->c, rows_item, j, j->n_rows, (uint64_t)j->n_rows * elems_per_row);
}

static bool same_shape(struct cpu_ctx *c, const char *op, const struct orc_tensor *a,
		       const struct orc_tensor *b, const struct orc_tensor *out)
{
	return cpu_check(c, op, "a", a, ORC_TYPE_F32, 0, 0) &&
	       (!b || cpu_check(c, op, "b", b, ORC_TYPE_F32, a->ne0, a->ne1)) &&
	       cpu_check(c, op, "out", out, ORC_TYPE_F32, a->ne0, a->ne1);
}

static void add_row(const struct rows_job *j, uint32_t r)
{
	const float *a = trow(j->a, r), *b = trow(j->b, r);
	float *o = trow(j->out, r);

	for (uint32_t i = 0; i < j->a->ne0; i++)
		o[i] = a[i] + b[i];
}

static void cpu_add(struct orc_backend *be, const struct orc_tensor *a, const struct orc_tensor *b,
		    const struct orc_tensor *out)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = add_row, .a = a, .b = b, .out = out };

	if (!same_shape(j.c, "add", a, b, out))
		return;
	j.n_rows = a->ne1;
	run_rows(&j, a->ne0);
}

static void rms_norm_row(const struct rows_job *j, uint32_t r)
{
	const float *x = trow(j->a, r), *w = trow(j->w, 0);
	float *o = trow(j->out, r);
	uint32_t n = j->a->ne0;
	double sum = 0;
	float scale;

	for (uint32_t i = 0; i < n; i++)
		sum += (double)x[i] * x[i];
	scale = (float)(1.0 / sqrt(sum / n + j->eps));
	for (uint32_t i = 0; i < n; i++)
		o[i] = (x[i] * scale) * w[i];
}

static void cpu_rms_norm(struct orc_backend *be, const struct orc_tensor *x,
			 const struct orc_tensor *w, float eps, const struct orc_tensor *out)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = rms_norm_row, .a = x, .w = w, .out = out,
			      .eps = eps };

	if (!same_shape(j.c, "rms_norm", x, NULL, out) ||
	    !cpu_check(j.c, "rms_norm", "weight", w, ORC_TYPE_F32, x->ne0, 1))
		return;
	j.n_rows = x->ne1;
	run_rows(&j, x->ne0);
}

static void layer_norm_row(const struct rows_job *j, uint32_t r)
{
	const float *x = trow(j->a, r), *w = trow(j->w, 0), *b = trow(j->bias, 0);
	float *o = trow(j->out, r);
	uint32_t n = j->a->ne0;
	double sum = 0, var = 0;
	float mean, inv;

	for (uint32_t i = 0; i < n; i++)
		sum += x[i];
	mean = (float)(sum / n);
	for (uint32_t i = 0; i < n; i++) {
		double d = (double)x[i] - mean;
		var += d * d;
	}
	inv = (float)(1.0 / sqrt(var / n + j->eps));
	for (uint32_t i = 0; i < n; i++)
		o[i] = ((x[i] - mean) * inv) * w[i] + b[i];
}

static void cpu_layer_norm(struct orc_backend *be, const struct orc_tensor *x,
			   const struct orc_tensor *w, const struct orc_tensor *b, float eps,
			   const struct orc_tensor *out)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = layer_norm_row, .a = x, .w = w, .bias = b,
			      .out = out, .eps = eps };

	if (!same_shape(j.c, "layer_norm", x, NULL, out) ||
	    !cpu_check(j.c, "layer_norm", "weight", w, ORC_TYPE_F32, x->ne0, 1) ||
	    !cpu_check(j.c, "layer_norm", "bias", b, ORC_TYPE_F32, x->ne0, 1))
		return;
	j.n_rows = x->ne1;
	run_rows(&j, x->ne0);
}

static void swiglu_row(const struct rows_job *j, uint32_t r)
{
	const float *g = trow(j->a, r), *u = trow(j->b, r);
	float *o = trow(j->out, r);

	for (uint32_t i = 0; i < j->a->ne0; i++)
		o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void cpu_swiglu(struct orc_backend *be, const struct orc_tensor *gate,
		       const struct orc_tensor *up, const struct orc_tensor *out)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = swiglu_row, .a = gate, .b = up, .out = out };

	if (!same_shape(j.c, "swiglu", gate, up, out))
		return;
	j.n_rows = gate->ne1;
	run_rows(&j, gate->ne0);
}

static void gelu_row(const struct rows_job *j, uint32_t r)
{
	const float *x = trow(j->a, r);
	float *o = trow(j->out, r);
	const float k = 0.7978845608028654f;   /* sqrt(2 / pi) */

	for (uint32_t i = 0; i < j->a->ne0; i++) {
		float v = x[i];
		o[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
	}
}

static void cpu_gelu(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = gelu_row, .a = x, .out = out };

	if (!same_shape(j.c, "gelu", x, NULL, out))
		return;
	j.n_rows = x->ne1;
	run_rows(&j, x->ne0);
}

static void softmax_row(const struct rows_job *j, uint32_t r)
{
	const float *x = trow(j->a, r);
	float *o = trow(j->out, r);
	uint32_t n = j->a->ne0;
	float max = -INFINITY;
	double sum = 0;

	for (uint32_t i = 0; i < n; i++)
		max = x[i] > max ? x[i] : max;
	for (uint32_t i = 0; i < n; i++) {
		o[i] = expf(x[i] - max);
		sum += o[i];
	}
	for (uint32_t i = 0; i < n; i++)
		o[i] = (float)(o[i] / sum);
}

static void cpu_softmax(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = softmax_row, .a = x, .out = out };

	if (!same_shape(j.c, "softmax", x, NULL, out))
		return;
	j.n_rows = x->ne1;
	run_rows(&j, x->ne0);
}

static void argmax_row(const struct rows_job *j, uint32_t r)
{
	((int32_t *)trow(j->out, 0))[r] = orc_sampler_greedy(trow(j->a, r), j->a->ne0);
}

static void cpu_argmax(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = argmax_row, .a = x, .out = out };

	if (!cpu_check(j.c, "argmax", "x", x, ORC_TYPE_F32, 0, 0) ||
	    !cpu_check(j.c, "argmax", "out", out, ORC_TYPE_I32, x->ne1, 1))
		return;
	j.n_rows = x->ne1;
	run_rows(&j, x->ne0);
}

static void topk_row(const struct rows_job *j, uint32_t r)
{
	(void)orc_sampler_top_cands(trow(j->a, r), j->a->ne0, j->out->ne0, trow(j->out, r),
				    (int32_t *)trow(j->out2, r));
}

static void cpu_topk(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out_logit,
		     const struct orc_tensor *out_id)
{
	struct rows_job j = { .c = cpu_ctx(be), .row = topk_row, .a = x, .out = out_logit, .out2 = out_id };

	if (!cpu_check(j.c, "topk", "x", x, ORC_TYPE_F32, 0, 0) ||
	    !cpu_check(j.c, "topk", "out_logit", out_logit, ORC_TYPE_F32, 0, x->ne1) ||
	    !cpu_check(j.c, "topk", "out_id", out_id, ORC_TYPE_I32, out_logit->ne0, x->ne1) ||
	    orc_topk_check_k(x, out_logit, out_id, &j.c->err) != 0)
		return;
	j.n_rows = x->ne1;
	run_rows(&j, x->ne0);
}

static void cpu_set_rows(struct orc_backend *be, const struct orc_tensor *src,
			 const struct orc_tensor *idx, const struct orc_tensor *dst)
{
	struct cpu_ctx *c = cpu_ctx(be);

	if (!cpu_check(c, "set_rows", "src", src, ORC_TYPE_F32, 0, 0) ||
	    !cpu_check(c, "set_rows", "idx", idx, ORC_TYPE_I32, src->ne1, 1) ||
	    !cpu_check(c, "set_rows", "dst", dst, ORC_TYPE_F32, src->ne0, 0))
		return;
	for (uint32_t i = 0; i < src->ne1; i++) {
		int32_t r = tidx(idx)[i];
		if (r < 0 || (uint32_t)r >= dst->ne1) {
			cpu_fail(c, -EINVAL, "set_rows: row %d outside the %u rows of dst", r, dst->ne1);
			return;
		}
		memcpy(trow(dst, (uint32_t)r), trow(src, i), (size_t)src->ne0 * sizeof(float));
	}
}

/* ---- memory ---- */

static const char *usage_name(enum orc_buf_usage u)
{
	static const char *const names[] = { "weights", "KV cache", "scratch", "I/O" };
	return (unsigned)u < 4 ? names[u] : "?";
}

static int cpu_buf_alloc(struct orc_backend *be, uint64_t size, enum orc_buf_usage usage,
			 struct orc_bbuf **ret, struct orc_err *err)
{
	struct orc_bbuf *b = calloc(1, sizeof(*b));
	void *p = NULL;

	if (!b || size > SIZE_MAX - 64 || posix_memalign(&p, 64, size ? (size_t)size : 1) != 0) {
		free(b);
		return orc_err_set(err, -ENOMEM, "cannot allocate %llu bytes of CPU memory for the %s",
				   (unsigned long long)size, usage_name(usage));
	}
	b->data = p;
	b->size = size;
	*ret = b;
	return 0;
}

static void cpu_buf_free(struct orc_backend *be, struct orc_bbuf *b)
{
	if (!b)
		return;
	if (!b->wrapped)
		free(b->data);
	free(b);
}

static int cpu_buf_wrap_host(struct orc_backend *be, const void *host, uint64_t size,
			     struct orc_bbuf **ret, struct orc_err *err)
{
	struct orc_bbuf *b = calloc(1, sizeof(*b));

	if (!b)
		return orc_err_set(err, -ENOMEM, "out of memory");
	b->data = (void *)(uintptr_t)host;   /* read-only use: weights are never written */
	b->size = size;
	b->wrapped = true;
	*ret = b;
	return 0;
}

static int take_error(struct cpu_ctx *c, struct orc_err *err)
{
	int code = c->err.code;

	if (code == 0)
		return 0;
	orc_err_set(err, code, "%s", c->err.msg);
	orc_err_clear(&c->err);
	return code;
}

static int cpu_buf_set(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset,
		       const void *src, uint64_t size, struct orc_err *err)
{
	if (b->wrapped)
		return orc_err_set(err, -EINVAL, "buf_set: the buffer wraps read-only host memory");
	if (offset > b->size || size > b->size - offset)
		return orc_err_set(err, -EINVAL, "buf_set: %llu bytes at %llu outside a buffer of %llu",
				   (unsigned long long)size, (unsigned long long)offset,
				   (unsigned long long)b->size);
	memcpy((uint8_t *)b->data + offset, src, (size_t)size);
	return 0;
}

static int cpu_buf_get(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset, void *dst,
		       uint64_t size, struct orc_err *err)
{
	int rc = take_error(cpu_ctx(be), err);

	if (rc != 0)
		return rc;
	if (offset > b->size || size > b->size - offset)
		return orc_err_set(err, -EINVAL, "buf_get: %llu bytes at %llu outside a buffer of %llu",
				   (unsigned long long)size, (unsigned long long)offset,
				   (unsigned long long)b->size);
	memcpy(dst, (const uint8_t *)b->data + offset, (size_t)size);
	return 0;
}

static int cpu_synchronize(struct orc_backend *be, struct orc_err *err)
{
	return take_error(cpu_ctx(be), err);
}

/* ---- the backend object ---- */

static void cpu_free(struct orc_backend *be)
{
	struct cpu_ctx *c;

	if (!be)
		return;
	c = be->ctx;
	if (c) {
		orc_pool_free(c->pool);
		for (int i = 0; c->scratch && i < c->n_threads; i++) {
			free(c->scratch[i].wbuf);
			free(c->scratch[i].acc);
			free(c->scratch[i].att);
		}
		free(c->scratch);
		free(c);
	}
	free(be);
}

static void cpu_mem_info(struct orc_backend *be, uint64_t *ret_free, uint64_t *ret_total)
{
	(void)be;
	orc_host_mem_info(ret_free, ret_total);
}

static void cpu_device_name(struct orc_backend *be, char *buf, size_t size)
{
	(void)be;
	orc_host_cpu_name(buf, size);
}

static const struct orc_backend_ops cpu_ops = {
	.name = "cpu",
	.free = cpu_free,
	.buf_alloc = cpu_buf_alloc,
	.buf_free = cpu_buf_free,
	.buf_wrap_host = cpu_buf_wrap_host,
	.buf_set = cpu_buf_set,
	.buf_get = cpu_buf_get,
	.synchronize = cpu_synchronize,
	.mem_info = cpu_mem_info,
	.device_name = cpu_device_name,
	.step_begin = NULL,
	.step_end = NULL,
	.get_rows = cpu_op_get_rows,
	.matmul = cpu_op_matmul,
	.add = cpu_add,
	.rms_norm = cpu_rms_norm,
	.layer_norm = cpu_layer_norm,
	.rope = cpu_op_rope,
	.set_rows = cpu_set_rows,
	.attention = cpu_op_attention,
	.swiglu = cpu_swiglu,
	.gelu = cpu_gelu,
	.softmax = cpu_softmax,
	.argmax = cpu_argmax,
	.topk = cpu_topk,
};

static int alloc_scratch(struct cpu_ctx *c, struct orc_err *err)
{
	c->scratch = calloc((size_t)c->n_threads, sizeof(*c->scratch));
	if (!c->scratch)
		return orc_err_set(err, -ENOMEM, "out of memory for CPU scratch");
	for (int i = 0; i < c->n_threads; i++) {
		struct cpu_scratch *s = &c->scratch[i];
		if (posix_memalign((void **)&s->wbuf, 64, sizeof(float) * ORC_CPU_MR * CPU_CHUNK) != 0 ||
		    posix_memalign((void **)&s->acc, 64, sizeof(float) * CPU_TOK_BLK * ORC_CPU_MR * 8) != 0)
			return orc_err_set(err, -ENOMEM, "out of memory for CPU scratch");
	}
	return 0;
}

int orc_backend_cpu_new(const struct orc_backend_opts *opts, struct orc_backend **ret,
			struct orc_err *err)
{
	struct orc_backend *be = calloc(1, sizeof(*be));
	struct cpu_ctx *c = calloc(1, sizeof(*c));
	int n = opts && opts->n_threads > 0 ? opts->n_threads : orc_cpu_count();
	int rc;

	if (!be || !c) {
		free(be);
		free(c);
		return orc_err_set(err, -ENOMEM, "out of memory for the CPU backend");
	}
	be->ops = &cpu_ops;
	be->ctx = c;
	if (n > ORC_THREADS_MAX) {
		cpu_free(be);
		return orc_err_set(err, -EINVAL, "%d threads requested, at most %d", n, ORC_THREADS_MAX);
	}
	c->n_threads = n;
	c->kern = orc_cpu_kern_select();
	if ((rc = alloc_scratch(c, err)) != 0 || (rc = orc_pool_new(n, &c->pool, err)) != 0) {
		cpu_free(be);
		return rc;
	}
	*ret = be;
	return 0;
}

int orc_backend_cpu_threads(const struct orc_backend *be)
{
	return be && be->ops == &cpu_ops ? ((const struct cpu_ctx *)be->ctx)->n_threads : 0;
}

const char *orc_backend_cpu_simd(const struct orc_backend *be)
{
	return be && be->ops == &cpu_ops ? ((const struct cpu_ctx *)be->ctx)->kern->name : "";
}
