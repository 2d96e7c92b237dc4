/* backend_cuda_ops.c -- the CUDA backend's ops: each checks its views as the
 * CPU backend does, then enqueues the kernels of kernels/ on the backend's
 * stream (or does nothing while a captured step is replayed). Failures
 * become the sticky error, reported at the next step_end, buf_get or
 * synchronize. */
#include "config.h"

#include <errno.h>

#include "backend_cuda_impl.h"
#include "limits.h"

/* ---- rows ---- */

void cu_op_get_rows(struct orc_backend *be, const struct orc_tensor *table, const struct orc_tensor *ids,
		    const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !cu_check(c, "get_rows", "table", table, ORC_TYPE_COUNT, 0, 0) ||
	    !cu_check(c, "get_rows", "ids", ids, ORC_TYPE_I32, 0, 1) ||
	    !cu_check(c, "get_rows", "out", out, ORC_TYPE_F32, table->ne0, ids->ne0))
		return;
	cu_launch(c, orc_k_get_rows(cu_ptr(out), (int)cu_ld(out), cu_ptr(table), (int)table->type, table->ne0,
				    (int64_t)table->nb1, table->ne1, cu_ptr(ids), (int)ids->ne0, 0, c->dflag,
				    c->stream), "get_rows");
}

void cu_op_set_rows(struct orc_backend *be, const struct orc_tensor *src, const struct orc_tensor *idx,
		    const struct orc_tensor *dst)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !cu_check(c, "set_rows", "src", src, ORC_TYPE_F32, 0, 0) ||
	    !cu_check(c, "set_rows", "idx", idx, ORC_TYPE_I32, src->ne1, 1) ||
	    !cu_check(c, "set_rows", "dst", dst, dst->type == ORC_TYPE_F16 ? ORC_TYPE_F16 : ORC_TYPE_F32,
		      src->ne0, 0))
		return;
	cu_launch(c, orc_k_set_rows(cu_ptr(dst), (int)dst->type, cu_ld(dst), dst->ne1, cu_ptr(src),
				    (int)cu_ld(src), cu_ptr(idx), (int)src->ne1, (int)src->ne0, c->dflag, c->stream),
		  "set_rows");
}

/* ---- matmul ---- */

void cu_op_matmul(struct orc_backend *be, const struct orc_tensor *w, const struct orc_tensor *x,
		  const struct orc_tensor *bias, const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);
	struct orc_k_gemv a;

	if (cu_skip(c) || !cu_check(c, "matmul", "w", w, ORC_TYPE_COUNT, 0, 0) ||
	    !cu_check(c, "matmul", "x", x, ORC_TYPE_F32, w->ne0, 0) ||
	    (bias && !cu_check(c, "matmul", "bias", bias, ORC_TYPE_F32, w->ne1, 1)) ||
	    !cu_check(c, "matmul", "out", out, ORC_TYPE_F32, w->ne1, x->ne1))
		return;
	if (w->ne1 > 1 && w->nb1 != orc_type_row_bytes(w->type, w->ne0)) {
		cu_fail(c, -EINVAL, "matmul: weight rows must be packed");
		return;
	}
	a = (struct orc_k_gemv){ .w = cu_ptr(w), .wtype = (int)w->type, .K = (int)w->ne0, .N = (int)w->ne1,
				 .x = cu_ptr(x), .ldx = (int)cu_ld(x), .ncols = (int)x->ne1,
				 .y = cu_ptr(out), .ldy = (int)cu_ld(out),
				 .bias = bias ? cu_ptr(bias) : NULL, .norm_w = NULL, .norm_eps = 0.0f,
				 .act = ORC_K_ACT_NONE, .accumulate = 0 };
	cu_launch(c, orc_k_gemv(&a, c->stream), "matmul");
}

/* ---- row-wise ---- */

static bool same_shape(struct cu_ctx *c, const char *op, const struct orc_tensor *a, const struct orc_tensor *b,
		       const struct orc_tensor *out)
{
	return cu_check(c, op, "a", a, ORC_TYPE_F32, 0, 0) &&
	       (!b || cu_check(c, op, "b", b, ORC_TYPE_F32, a->ne0, a->ne1)) &&
	       cu_check(c, op, "out", out, ORC_TYPE_F32, a->ne0, a->ne1);
}

void cu_op_add(struct orc_backend *be, const struct orc_tensor *a, const struct orc_tensor *b,
	       const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !same_shape(c, "add", a, b, out))
		return;
	cu_launch(c, orc_k_add(cu_ptr(out), (int)cu_ld(out), cu_ptr(a), (int)cu_ld(a), cu_ptr(b), (int)cu_ld(b),
			       (int)a->ne1, (int)a->ne0, c->stream), "add");
}

void cu_op_rms_norm(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *w, float eps,
		    const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !same_shape(c, "rms_norm", x, NULL, out) ||
	    !cu_check(c, "rms_norm", "w", w, ORC_TYPE_F32, x->ne0, 1))
		return;
	cu_launch(c, orc_k_rmsnorm(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x), cu_ptr(w),
				   (int)x->ne1, (int)x->ne0, eps, c->stream), "rms_norm");
}

void cu_op_layer_norm(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *w,
		      const struct orc_tensor *b, float eps, const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !same_shape(c, "layer_norm", x, NULL, out) ||
	    !cu_check(c, "layer_norm", "w", w, ORC_TYPE_F32, x->ne0, 1) ||
	    (b && !cu_check(c, "layer_norm", "b", b, ORC_TYPE_F32, x->ne0, 1)))
		return;
	cu_launch(c, orc_k_layernorm(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x),
				     cu_ptr(w), b ? cu_ptr(b) : NULL, (int)x->ne1, (int)x->ne0, eps, c->stream),
		  "layer_norm");
}

void cu_op_swiglu(struct orc_backend *be, const struct orc_tensor *gate, const struct orc_tensor *up,
		  const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !same_shape(c, "swiglu", gate, up, out))
		return;
	cu_launch(c, orc_k_swiglu(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(gate), (int)cu_ld(gate),
				  cu_ptr(up), (int)cu_ld(up), (int)gate->ne1, (int)gate->ne0, c->stream), "swiglu");
}

void cu_op_gelu(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !same_shape(c, "gelu", x, NULL, out))
		return;
	cu_launch(c, orc_k_bias_act(cu_ptr(out), ORC_KT_F32, (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x), NULL,
				    ORC_K_ACT_GELU, (int)x->ne1, (int)x->ne0, c->stream), "gelu");
}

void cu_op_softmax(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out)
{
	struct cu_ctx *c = cu_ctx(be);

	if (cu_skip(c) || !same_shape(c, "softmax", x, NULL, out))
		return;
	cu_launch(c, orc_k_softmax(cu_ptr(out), (int)cu_ld(out), cu_ptr(x), (int)cu_ld(x), (int)x->ne1,
				   (int)x->ne0, c->stream), "softmax");
}

void cu_op_rope(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *pos,
		const struct orc_rope_args *a)
{
	struct cu_ctx *c = cu_ctx(be);
	struct orc_k_rope r = { .n_rot = (int)a->n_rot, .neox = a->neox, .theta = a->theta };

	if (cu_skip(c) || !cu_check(c, "rope", "x", x, ORC_TYPE_F32, a->n_head * a->head_dim, 0) ||
	    !cu_check(c, "rope", "pos", pos, ORC_TYPE_I32, x->ne1, 1))
		return;
	if (a->n_rot > a->head_dim || a->n_rot % 2 != 0 || a->n_rot == 0) {
		cu_fail(c, -EINVAL, "rope: %u rotary dims for heads of %u", a->n_rot, a->head_dim);
		return;
	}
	cu_launch(c, orc_k_rope(cu_ptr(x), (int)cu_ld(x), cu_ptr(pos), (int)x->ne1, (int)a->n_head,
				(int)a->head_dim, &r, c->stream), "rope");
}

/* ---- attention ---- */

/* Decode scratch for CU_DECODE_TOK tokens; (re)allocated outside captures only. */
static bool attn_ws(struct cu_ctx *c, int n_head, int hd, int max_keys)
{
	size_t need;

	if (c->attn_ws && c->ws_heads >= n_head && c->ws_hd >= hd && c->ws_keys >= max_keys)
		return true;
	if (c->mode != CU_DIRECT)
		return cu_fail(c, -EINVAL, "attention: decode scratch must grow inside a captured step");
	if (n_head < c->ws_heads)
		n_head = c->ws_heads;
	if (hd < c->ws_hd)
		hd = c->ws_hd;
	if (max_keys < c->ws_keys)
		max_keys = c->ws_keys;
	need = orc_k_attn_ws_bytes(CU_DECODE_TOK, n_head, hd, max_keys);
	if (c->attn_ws) {
		if (!CU_OK(c, cudaStreamSynchronize(c->stream)))
			return false;
		cu_graphs_clear(c);
		cudaFree(c->attn_ws);
		c->attn_ws = NULL;
	}
	if (!CU_OK(c, cudaMalloc(&c->attn_ws, need)) || !CU_OK(c, cudaMemsetAsync(c->attn_ws, 0, need, c->stream))) {
		c->attn_ws = NULL;
		return false;
	}
	c->attn_ws_bytes = need;
	c->ws_heads = n_head;
	c->ws_hd = hd;
	c->ws_keys = max_keys;
	return true;
}

static bool attn_shapes(struct cu_ctx *c, const struct orc_attn_args *a)
{
	const uint32_t qd = a->n_head * a->head_dim, kvd = a->n_head_kv * a->head_dim;
	enum orc_type kt = a->k_cache && a->k_cache->type == ORC_TYPE_F16 ? ORC_TYPE_F16 : ORC_TYPE_F32;

	if (a->n_head == 0 || a->n_head_kv == 0 || a->head_dim == 0 || a->block_size == 0 ||
	    a->n_head % a->n_head_kv != 0 || a->head_dim > ORC_K_HEAD_DIM_MAX)
		return cu_fail(c, -EINVAL, "attention: %u heads over %u KV heads of %u, blocks of %u", a->n_head,
			       a->n_head_kv, a->head_dim, a->block_size);
	return cu_check(c, "attention", "q", a->q, ORC_TYPE_F32, qd, 0) &&
	       cu_check(c, "attention", "out", a->out, ORC_TYPE_F32, qd, a->q->ne1) &&
	       cu_check(c, "attention", "k_cache", a->k_cache, kt, kvd, 0) &&
	       cu_check(c, "attention", "v_cache", a->v_cache, kt, kvd, a->k_cache->ne1) &&
	       cu_check(c, "attention", "pos", a->pos, ORC_TYPE_I32, a->q->ne1, 1) &&
	       cu_check(c, "attention", "tok_seq", a->tok_seq, ORC_TYPE_I32, a->q->ne1, 1) &&
	       cu_check(c, "attention", "block_table", a->block_table, ORC_TYPE_I32, 0, 0);
}

void cu_op_attention(struct orc_backend *be, const struct orc_attn_args *a)
{
	struct cu_ctx *c = cu_ctx(be);
	struct orc_k_attn k;
	uint64_t max_keys;

	if (cu_skip(c) || !attn_shapes(c, a))
		return;
	max_keys = (uint64_t)a->block_table->ne0 * a->block_size;
	if (max_keys > ORC_CTX_MAX + (uint64_t)a->block_size) {
		cu_fail(c, -E2BIG, "attention: a block table of %u blocks of %u exceeds the context limit",
			a->block_table->ne0, a->block_size);
		return;
	}
	k = (struct orc_k_attn){
		.q = cu_ptr(a->q), .ldq = (int)cu_ld(a->q), .k = cu_ptr(a->k_cache), .v = cu_ptr(a->v_cache),
		.kv_type = (int)a->k_cache->type, .ldkv = cu_ld(a->k_cache), .n_rows = a->k_cache->ne1,
		.pos = cu_ptr(a->pos), .seq = cu_ptr(a->tok_seq), .block_table = cu_ptr(a->block_table),
		.bt_stride = (int)cu_ld(a->block_table), .n_seq = (int)a->block_table->ne1,
		.block_size = (int)a->block_size, .n_tok = (int)a->q->ne1, .n_head = (int)a->n_head,
		.n_kv_head = (int)a->n_head_kv, .head_dim = (int)a->head_dim, .scale = a->scale,
		.out = cu_ptr(a->out), .ldo = (int)cu_ld(a->out), .max_keys = (int)max_keys, .flag = c->dflag };
	if (a->q->ne1 > CU_DECODE_TOK) {
		cu_launch(c, orc_k_attn_prefill(&k, c->stream), "attention");
		return;
	}
	if (!attn_ws(c, k.n_head, k.head_dim, k.max_keys))
		return;
	struct orc_k_attn_ws ws = { .buf = c->attn_ws, .max_tok = CU_DECODE_TOK, .max_keys = c->ws_keys };
	cu_launch(c, orc_k_attn_decode(&k, &ws, c->stream), "attention");
}
