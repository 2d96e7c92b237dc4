/* backend_cuda_ops.c -- the CUDA backend's ops. Each public op records its
 * arguments (cu_submit: kept for fusion inside a step, run at once outside
 * one); each cu_run_* checks the views as the CPU backend does and enqueues
 * the kernels of kernels/ on the backend's stream. Failures become the
 * sticky error, reported at the next step_end, buf_get or synchronize. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "backend_cuda_impl.h"
#include "limits.h"

static void put(struct cu_rec *r, int i, const struct orc_tensor *t)
{
	if (t) {
		r->t[i] = *t;
		r->has |= (uint8_t)(1u << i);
	}
}

static bool has(const struct cu_rec *r, int i)
{
	return (r->has >> i) & 1u;
}

static const struct orc_tensor *opt(const struct cu_rec *r, int i)
{
	return has(r, i) ? &r->t[i] : NULL;
}

/* ---- recording ---- */

/* Record r (its kind and arguments) with views t0 .. t3 (NULL: absent) as
 * its tensors 0 .. 3. */
static void record(struct orc_backend *be, struct cu_rec r, const struct orc_tensor *t0,
		   const struct orc_tensor *t1, const struct orc_tensor *t2, const struct orc_tensor *t3)
{
	put(&r, 0, t0), put(&r, 1, t1), put(&r, 2, t2), put(&r, 3, t3);
	cu_submit(cu_ctx(be), &r);
}

void cu_op_get_rows(struct orc_backend *be, const struct orc_tensor *table, const struct orc_tensor *ids,
		    const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_GET_ROWS }, table, ids, out, NULL);
}

void cu_op_matmul(struct orc_backend *be, const struct orc_tensor *w, const struct orc_tensor *x,
		  const struct orc_tensor *bias, const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_MATMUL }, w, x, bias, out);
}

void cu_op_add(struct orc_backend *be, const struct orc_tensor *a, const struct orc_tensor *b,
	       const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_ADD }, a, b, out, NULL);
}

void cu_op_rms_norm(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *w, float eps,
		    const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_RMS, .eps = eps }, x, w, out, NULL);
}

void cu_op_layer_norm(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *w,
		      const struct orc_tensor *b, float eps, const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_LN, .eps = eps }, x, w, b, out);
}

void cu_op_rope(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *pos,
		const struct orc_rope_args *a)
{
	record(be, (struct cu_rec){ .k = CU_ROPE, .rope = *a }, x, pos, NULL, NULL);
}

void cu_op_set_rows(struct orc_backend *be, const struct orc_tensor *src, const struct orc_tensor *idx,
		    const struct orc_tensor *dst)
{
	record(be, (struct cu_rec){ .k = CU_SET_ROWS }, src, idx, dst, NULL);
}

void cu_op_attention(struct orc_backend *be, const struct orc_attn_args *a)
{
	struct cu_rec r = { .k = CU_ATTN, .attn = *a };
	put(&r, 0, a->q), put(&r, 1, a->k_cache), put(&r, 2, a->v_cache), put(&r, 3, a->pos);
	put(&r, 4, a->tok_seq), put(&r, 5, a->block_table), put(&r, 6, a->out);
	cu_submit(cu_ctx(be), &r);
}

void cu_op_swiglu(struct orc_backend *be, const struct orc_tensor *gate, const struct orc_tensor *up,
		  const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_SWIGLU }, gate, up, out, NULL);
}

void cu_op_gelu(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_GELU }, x, out, NULL, NULL);
}

void cu_op_softmax(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_SOFTMAX }, x, out, NULL, NULL);
}

void cu_op_argmax(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	record(be, (struct cu_rec){ .k = CU_ARGMAX }, x, out, NULL, NULL);
}

void cu_run_argmax(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *x = &r->t[0], *out = &r->t[1];

	if (!cu_check(c, "argmax", "x", x, ORC_TYPE_F32, 0, 0) ||
	    !cu_check(c, "argmax", "out", out, ORC_TYPE_I32, x->ne1, 1))
		return;
	cu_launch(c, orc_k_argmax(cu_ptr(x), (int)cu_ld(x), (int)x->ne0, (int)x->ne1, cu_ptr(out), c->stream),
		  "argmax");
}

void cu_op_topk(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out_logit,
		const struct orc_tensor *out_id)
{
	record(be, (struct cu_rec){ .k = CU_TOPK }, x, out_logit, out_id, NULL);
}

void cu_run_topk(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *x = &r->t[0], *ol = &r->t[1], *oi = &r->t[2];
	const uint32_t K = ol->ne0;

	if (!cu_check(c, "topk", "x", x, ORC_TYPE_F32, 0, 0) ||
	    !cu_check(c, "topk", "out_logit", ol, ORC_TYPE_F32, 0, x->ne1) ||
	    !cu_check(c, "topk", "out_id", oi, ORC_TYPE_I32, K, x->ne1) ||
	    orc_topk_check_k(x, ol, oi, &c->err) != 0)
		return;
	cu_launch(c, orc_k_topk(cu_ptr(x), (int)cu_ld(x), (int)x->ne0, (int)x->ne1, (int)K, cu_ptr(ol),
				cu_ptr(oi), c->stream), "topk");
}

/* ---- rows ---- */

void cu_run_get_rows(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *table = &r->t[0], *ids = &r->t[1], *out = &r->t[2];

	if (!cu_check(c, "get_rows", "table", table, ORC_TYPE_COUNT, 0, 0) ||
	    !cu_check(c, "get_rows", "ids", ids, ORC_TYPE_I32, 0, 1) ||
	    !cu_check(c, "get_rows", "out", out, ORC_TYPE_F32, table->ne0, ids->ne0))
		return;
	cu_launch(c, orc_k_get_rows(cu_ptr(out), (int)cu_ld(out), cu_ptr(table), (int)table->type, table->ne0,
				    (int64_t)table->nb1, table->ne1, cu_ptr(ids), (int)ids->ne0, 0, c->dflag,
				    c->stream), "get_rows");
}

static enum orc_type cache_type(const struct orc_tensor *t)
{
	return t->type == ORC_TYPE_F16 ? ORC_TYPE_F16 : ORC_TYPE_F32;
}

void cu_run_set_rows(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *src = &r->t[0], *idx = &r->t[1], *dst = &r->t[2];

	if (!cu_check(c, "set_rows", "src", src, ORC_TYPE_F32, 0, 0) ||
	    !cu_check(c, "set_rows", "idx", idx, ORC_TYPE_I32, src->ne1, 1) ||
	    !cu_check(c, "set_rows", "dst", dst, cache_type(dst), src->ne0, 0))
		return;
	cu_launch(c, orc_k_set_rows(cu_ptr(dst), (int)dst->type, cu_ld(dst), dst->ne1, cu_ptr(src),
				    (int)cu_ld(src), cu_ptr(idx), (int)src->ne1, (int)src->ne0, c->dflag, c->stream),
		  "set_rows");
}

/* ---- matmul, with whatever the fusion passes merged into it ---- */

static bool matmul_ok(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *w = &r->t[0], *x = &r->t[1], *out = &r->t[3];
	const uint32_t n_out = r->glu == 1 ? w->ne1 / 2 : w->ne1;

	if (!cu_check(c, "matmul", "w", w, ORC_TYPE_COUNT, 0, 0) ||
	    !cu_check(c, "matmul", "x", x, ORC_TYPE_F32, w->ne0, 0) ||
	    (has(r, 2) && !cu_check(c, "matmul", "bias", &r->t[2], ORC_TYPE_F32, w->ne1, 1)) ||
	    !cu_check(c, "matmul", "out", out, ORC_TYPE_F32, n_out, x->ne1) ||
	    (has(r, 4) && !cu_check(c, "matmul", "w2", &r->t[4], w->type, w->ne0, w->ne1)) ||
	    (has(r, 5) && !cu_check(c, "matmul", "bias2", &r->t[5], ORC_TYPE_F32, w->ne1, 1)) ||
	    (has(r, 6) && !cu_check(c, "matmul", "norm", &r->t[6], ORC_TYPE_F32, w->ne0, 1)))
		return false;
	if ((w->ne1 > 1 && w->nb1 != orc_type_row_bytes(w->type, w->ne0)) ||
	    (has(r, 4) && r->t[4].ne1 > 1 && r->t[4].nb1 != w->nb1))
		return cu_fail(c, -EINVAL, "matmul: weight rows must be packed");
	return true;
}

/* What mm_ws() grows the products' scratch to for a product of ncols
 * columns of K (0: none used). */
static size_t mm_ws_need(int wtype, int K, int ncols)
{
	return orc_k_mm_ws_bytes(wtype, K, ncols) > 0 ? orc_k_mm_ws_bytes(wtype, K, ORC_K_MM_WS_COLS) : 0;
}

/* Scratch for the tensor-core products' prepared activations (kernels.h,
 * orc_k_gemv.ws): grown outside captures only (a captured step keeps the
 * pointer); without it the products take the same bits, only slower.
 * Growing drops every captured step, so it grows at once to the most a
 * product of this K can use (ORC_K_MM_WS_COLS columns: half a megabyte a
 * thousand of K), not a column at a time as batches grow. */
static void mm_ws(struct cu_ctx *c, int wtype, int K, int ncols)
{
	size_t need = mm_ws_need(wtype, K, ncols);

	/* a failed allocation is not fatal: the products run without it */
	if (need > c->mm_ws_bytes && c->mode == CU_DIRECT)
		cu_scratch_realloc(c, &c->mm_ws, &c->mm_ws_bytes, need);
}

void cu_run_matmul(struct cu_ctx *c, const struct cu_rec *const *g, size_t n)
{
	struct orc_k_gemv a[3] = { 0 };

	for (size_t i = 0; i < n; i++) {
		const struct cu_rec *r = g[i];
		if (!matmul_ok(c, r))
			return;
		a[i] = (struct orc_k_gemv){
			.w = cu_ptr(&r->t[0]), .wtype = (int)r->t[0].type, .K = (int)r->t[0].ne0,
			.N = (int)r->t[0].ne1, .x = cu_ptr(&r->t[1]), .ldx = (int)cu_ld(&r->t[1]),
			.ncols = (int)r->t[1].ne1, .y = cu_ptr(&r->t[3]), .ldy = (int)cu_ld(&r->t[3]),
			.bias = has(r, 2) ? cu_ptr(&r->t[2]) : NULL, .norm_w = has(r, 6) ? cu_ptr(&r->t[6]) : NULL,
			.norm_eps = has(r, 6) ? r->eps : 0.0f, .act = r->glu ? ORC_K_ACT_SWIGLU : ORC_K_ACT_NONE,
			.w2 = has(r, 4) ? cu_ptr(&r->t[4]) : NULL, .bias2 = has(r, 5) ? cu_ptr(&r->t[5]) : NULL,
			.accumulate = r->accumulate };
	}
	mm_ws(c, a[0].wtype, a[0].K, a[0].ncols);
	for (size_t i = 0; i < n; i++)
		a[i].ws = c->mm_ws, a[i].ws_bytes = c->mm_ws_bytes, a[i].flag = c->dflag;
	cu_launch(c, orc_k_gemv_multi(a, (int)n, c->stream), "matmul");
}

/* ---- row-wise ---- */

static bool same_shape(struct cu_ctx *c, const char *op, const struct orc_tensor *a, const struct orc_tensor *b,
		       const struct orc_tensor *out)
{
	return cu_check(c, op, "a", a, ORC_TYPE_F32, 0, 0) &&
	       (!b || cu_check(c, op, "b", b, ORC_TYPE_F32, a->ne0, a->ne1)) &&
	       cu_check(c, op, "out", out, ORC_TYPE_F32, a->ne0, a->ne1);
}

void cu_run_add(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *a = &r->t[0], *b = &r->t[1], *out = &r->t[2];

	if (!same_shape(c, "add", a, b, out))
		return;
	cu_launch(c, orc_k_add(cu_ptr(out), (int)cu_ld(out), cu_ptr(a), (int)cu_ld(a), cu_ptr(b), (int)cu_ld(b),
			       (int)a->ne1, (int)a->ne0, c->stream), "add");
}

void cu_run_rms(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *x = &r->t[0], *w = &r->t[1], *out = &r->t[2];

	if (!same_shape(c, "rms_norm", x, NULL, out) || !cu_check(c, "rms_norm", "w", w, ORC_TYPE_F32, x->ne0, 1))
		return;
	cu_launch(c, orc_k_rmsnorm(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x), cu_ptr(w),
				   (int)x->ne1, (int)x->ne0, r->eps, c->stream), "rms_norm");
}

void cu_run_ln(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *x = &r->t[0], *w = &r->t[1], *b = opt(r, 2), *out = &r->t[3];

	if (!same_shape(c, "layer_norm", x, NULL, out) ||
	    !cu_check(c, "layer_norm", "w", w, ORC_TYPE_F32, x->ne0, 1) ||
	    (b && !cu_check(c, "layer_norm", "b", b, ORC_TYPE_F32, x->ne0, 1)))
		return;
	cu_launch(c, orc_k_layernorm(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x),
				     cu_ptr(w), b ? cu_ptr(b) : NULL, (int)x->ne1, (int)x->ne0, r->eps, c->stream),
		  "layer_norm");
}

void cu_run_swiglu(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *g = &r->t[0], *u = &r->t[1], *out = &r->t[2];

	if (!same_shape(c, "swiglu", g, u, out))
		return;
	cu_launch(c, orc_k_swiglu(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(g), (int)cu_ld(g), cu_ptr(u),
				  (int)cu_ld(u), (int)g->ne1, (int)g->ne0, c->stream), "swiglu");
}

void cu_run_gelu(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *x = &r->t[0], *out = &r->t[1];

	if (!same_shape(c, "gelu", x, NULL, out))
		return;
	cu_launch(c, orc_k_bias_act(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x), NULL,
				    ORC_K_ACT_GELU, (int)x->ne1, (int)x->ne0, c->stream), "gelu");
}

void cu_run_softmax(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_tensor *x = &r->t[0], *out = &r->t[1];

	if (!same_shape(c, "softmax", x, NULL, out))
		return;
	cu_launch(c, orc_k_softmax(cu_ptr(out), (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x), (int)x->ne1,
				   (int)x->ne0, c->stream), "softmax");
}

/* ---- rope, and rope fused with the K/V store ---- */

static bool rope_ok(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_rope_args *a = &r->rope;

	if (!cu_check(c, "rope", "x", &r->t[0], ORC_TYPE_F32, a->n_head * a->head_dim, 0) ||
	    !cu_check(c, "rope", "pos", &r->t[1], ORC_TYPE_I32, r->t[0].ne1, 1))
		return false;
	if (a->n_rot > a->head_dim || a->n_rot % 2 != 0 || a->n_rot == 0)
		return cu_fail(c, -EINVAL, "rope: %u rotary dims for heads of %u", a->n_rot, a->head_dim);
	return true;
}

void cu_run_rope(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_rope_args *a = &r->rope;
	struct orc_k_rope kr = { .n_rot = (int)a->n_rot, .neox = a->neox, .theta = a->theta };

	if (!rope_ok(c, r))
		return;
	cu_launch(c, orc_k_rope(cu_ptr(&r->t[0]), (int)cu_ld(&r->t[0]), cu_ptr(&r->t[1]), (int)r->t[0].ne1,
				(int)a->n_head, (int)a->head_dim, &kr, c->stream), "rope");
}

/* g: rope q, rope k, set_rows k -> K cache, set_rows v -> V cache */
void cu_run_rope_kv(struct cu_ctx *c, const struct cu_rec *const *g)
{
	const struct orc_rope_args *a = &g[0]->rope;
	const struct orc_tensor *q = &g[0]->t[0], *k = &g[1]->t[0], *v = &g[3]->t[0], *idx = &g[2]->t[1];
	const struct orc_tensor *kc = &g[2]->t[2], *vc = &g[3]->t[2];
	struct orc_k_rope kr = { .n_rot = (int)a->n_rot, .neox = a->neox, .theta = a->theta };

	if (!rope_ok(c, g[0]) || !rope_ok(c, g[1]) ||
	    !cu_check(c, "set_rows", "src", v, ORC_TYPE_F32, k->ne0, k->ne1) ||
	    !cu_check(c, "set_rows", "idx", idx, ORC_TYPE_I32, k->ne1, 1) ||
	    !cu_check(c, "set_rows", "dst", kc, cache_type(kc), k->ne0, 0) ||
	    !cu_check(c, "set_rows", "dst", vc, kc->type, k->ne0, kc->ne1))
		return;
	struct orc_k_rope_kv p = {
		.q = cu_ptr(q), .ldq = (int)cu_ld(q), .n_head = (int)a->n_head, .k = cu_ptr(k), .ldk = (int)cu_ld(k),
		.v = cu_ptr(v), .ldv = (int)cu_ld(v), .n_kv = (int)g[1]->rope.n_head, .head_dim = (int)a->head_dim,
		.pos = cu_ptr(&g[0]->t[1]), .idx = cu_ptr(idx), .n_tok = (int)q->ne1, .kc = cu_ptr(kc),
		.vc = cu_ptr(vc), .cache_type = (int)kc->type, .ldc = cu_ld(kc), .n_rows = kc->ne1, .flag = c->dflag };
	cu_launch(c, orc_k_rope_kv(&p, &kr, c->stream), "rope");
}

/* ---- attention ---- */

/* Decode scratch for CU_DECODE_TOK tokens, covering (n_head, hd, max_keys)
 * and every shape it covered before; (re)allocated outside captures only. */
static int attn_ws_grow(struct cu_ctx *c, int n_head, int hd, int max_keys, struct orc_err *err)
{
	size_t need;
	int rc;

	if (c->attn_ws && c->ws_heads >= n_head && c->ws_hd >= hd && c->ws_keys >= max_keys)
		return 0;
	if (c->mode != CU_DIRECT)
		return orc_err_set(err, -EINVAL, "attention: decode scratch cannot grow inside a captured step");
	if (n_head < c->ws_heads)
		n_head = c->ws_heads;
	if (hd < c->ws_hd)
		hd = c->ws_hd;
	if (max_keys < c->ws_keys)
		max_keys = c->ws_keys;
	need = orc_k_attn_ws_bytes(CU_DECODE_TOK, n_head, hd, max_keys);
	/* the kernel expects its counters zeroed; until they are, no size counts */
	c->ws_heads = c->ws_hd = c->ws_keys = 0;
	if ((rc = cu_scratch_reserve(c, &c->attn_ws, &c->attn_ws_bytes, need, err)) != 0 ||
	    (rc = CU_TRY(err, cudaMemsetAsync(c->attn_ws, 0, need, c->stream))) != 0)
		return rc;
	c->ws_heads = n_head;
	c->ws_hd = hd;
	c->ws_keys = max_keys;
	return 0;
}

static bool attn_ws(struct cu_ctx *c, int n_head, int hd, int max_keys)
{
	struct orc_err e = { 0 };

	return attn_ws_grow(c, n_head, hd, max_keys, &e) == 0 || cu_fail(c, e.code, "%s", e.msg);
}

static bool attn_shapes(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_attn_args *a = &r->attn;
	const uint32_t qd = a->n_head * a->head_dim, kvd = a->n_head_kv * a->head_dim;
	const enum orc_type kt = cache_type(&r->t[1]);

	if (a->n_head == 0 || a->n_head_kv == 0 || a->head_dim == 0 || a->block_size == 0 ||
	    a->n_head % a->n_head_kv != 0 || a->head_dim > ORC_K_HEAD_DIM_MAX)
		return cu_fail(c, -EINVAL, "attention: %u heads over %u KV heads of %u, blocks of %u", a->n_head,
			       a->n_head_kv, a->head_dim, a->block_size);
	return cu_check(c, "attention", "q", &r->t[0], ORC_TYPE_F32, qd, 0) &&
	       cu_check(c, "attention", "out", &r->t[6], ORC_TYPE_F32, qd, r->t[0].ne1) &&
	       cu_check(c, "attention", "k_cache", &r->t[1], kt, kvd, 0) &&
	       cu_check(c, "attention", "v_cache", &r->t[2], kt, kvd, r->t[1].ne1) &&
	       cu_check(c, "attention", "pos", &r->t[3], ORC_TYPE_I32, r->t[0].ne1, 1) &&
	       cu_check(c, "attention", "tok_seq", &r->t[4], ORC_TYPE_I32, r->t[0].ne1, 1) &&
	       cu_check(c, "attention", "block_table", &r->t[5], ORC_TYPE_I32, 0, 0);
}

/* The checked shapes of an attention record and the keys its block table
 * spans (the decode grid's bound). */
static bool attn_keys(struct cu_ctx *c, const struct cu_rec *r, uint64_t *max_keys)
{
	const struct orc_attn_args *a = &r->attn;

	if (!attn_shapes(c, r))
		return false;
	*max_keys = (uint64_t)r->t[5].ne0 * a->block_size;
	if (*max_keys > ORC_CTX_MAX + (uint64_t)a->block_size)
		return cu_fail(c, -E2BIG, "attention: a block table of %u blocks of %u exceeds the context limit",
			       r->t[5].ne0, a->block_size);
	return true;
}

void cu_run_attn(struct cu_ctx *c, const struct cu_rec *r)
{
	const struct orc_attn_args *a = &r->attn;
	struct orc_k_attn k;
	uint64_t max_keys;

	if (!attn_keys(c, r, &max_keys))
		return;
	k = (struct orc_k_attn){
		.q = cu_ptr(&r->t[0]), .ldq = (int)cu_ld(&r->t[0]), .k = cu_ptr(&r->t[1]), .v = cu_ptr(&r->t[2]),
		.kv_type = (int)r->t[1].type, .ldkv = cu_ld(&r->t[1]), .n_rows = r->t[1].ne1,
		.pos = cu_ptr(&r->t[3]), .seq = cu_ptr(&r->t[4]), .block_table = cu_ptr(&r->t[5]),
		.bt_stride = (int)cu_ld(&r->t[5]), .n_seq = (int)r->t[5].ne1, .block_size = (int)a->block_size,
		.n_tok = (int)r->t[0].ne1, .n_head = (int)a->n_head, .n_kv_head = (int)a->n_head_kv,
		.head_dim = (int)a->head_dim, .scale = a->scale, .out = cu_ptr(&r->t[6]), .ldo = (int)cu_ld(&r->t[6]),
		.max_keys = (int)max_keys, .flag = c->dflag };
	if (r->t[0].ne1 > CU_DECODE_TOK) {
		cu_launch(c, orc_k_attn_prefill(&k, c->stream), "attention");
		return;
	}
	if (!attn_ws(c, k.n_head, k.head_dim, k.max_keys))
		return;
	struct orc_k_attn_ws ws = { .buf = c->attn_ws, .max_tok = CU_DECODE_TOK, .max_keys = c->ws_keys };
	cu_launch(c, orc_k_attn_decode(&k, &ws, c->stream), "attention");
}

/* ---- scratch ---- */

void cu_reserve(struct cu_ctx *c)
{
	for (size_t i = 0; i < c->n_recs && c->err.code == 0; i++) {
		const struct cu_rec *r = &c->recs[i];
		uint64_t max_keys;

		if (r->k == CU_MATMUL && has(r, 0) && has(r, 1))
			mm_ws(c, (int)r->t[0].type, (int)r->t[0].ne0, (int)r->t[1].ne1);
		else if (r->k == CU_ATTN && r->t[0].ne1 <= CU_DECODE_TOK && attn_keys(c, r, &max_keys))
			attn_ws(c, (int)r->attn.n_head, (int)r->attn.head_dim, (int)max_keys);
	}
}

int cu_op_reserve(struct orc_backend *be, const struct orc_backend_plan *p, uint64_t *bytes, struct orc_err *err)
{
	struct cu_ctx *c = cu_ctx(be);
	const int cols = p->n_tok < ORC_K_MM_WS_COLS ? (int)p->n_tok : ORC_K_MM_WS_COLS;
	size_t mm = 0;
	int rc = 0;

	*bytes = c->mm_ws_bytes + c->attn_ws_bytes;
	if (c->in_step || c->mode != CU_DIRECT)
		return orc_err_set(err, -EINVAL, "reserve inside a step");
	for (size_t i = 0; i < p->n_weights; i++) {
		size_t need = mm_ws_need((int)p->weights[i].type, (int)p->weights[i].ne0, cols);
		mm = need > mm ? need : mm;
	}
	if (mm > c->mm_ws_bytes)
		rc = cu_scratch_reserve(c, &c->mm_ws, &c->mm_ws_bytes, mm, err);
	/* shapes the attention op refuses reserve nothing (blocks round the
	 * context up, never past twice the limit) */
	if (rc == 0 && p->n_head > 0 && p->head_dim > 0 && p->head_dim <= ORC_K_HEAD_DIM_MAX &&
	    p->max_keys > 0 && p->max_keys <= 2u * ORC_CTX_MAX)
		rc = attn_ws_grow(c, (int)p->n_head, (int)p->head_dim, (int)p->max_keys, err);
	*bytes = c->mm_ws_bytes + c->attn_ws_bytes;
	return rc;
}
