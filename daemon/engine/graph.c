/* graph.c -- the forward pass of llama, qwen2, phi3 and gpt2, written once
 * against the backend ops table. Per layer:
 *   xn = norm(x); [q|k|v] = xn Wqkv (+b) (fused, or three matmuls into the
 *   column slices); rope(q, k) (not gpt2); K/V rows -> paged cache;
 *   x += attention(q) Wo (+b); xn = norm(x);
 *   x += act(xn Wgate (+b), xn Wup (+b)) Wdown (+b)
 * where act is SwiGLU (llama, qwen2, phi3 whose ffn_up holds gate then up)
 * or GELU of the up projection alone (gpt2). The logits step gathers the
 * rows that want logits, applies the final norm and the output matmul. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "graph_impl.h"

/* ---- per-pass views ---- */

/* Byte offsets of a pass's inputs in the I/O buffer: packed, so that one
 * copy uploads them, and a function of n_tok and n_seq alone (both in
 * every step's key, so a captured step finds them where they were). */
struct in_layout {
	uint64_t ids, pos, slots, tok_seq, table, out;
};

static struct in_layout in_layout(const struct orc_graph *g, uint32_t n_tok, uint32_t n_seq)
{
	struct in_layout l = { .ids = 0 };

	l.pos = l.ids + (uint64_t)n_tok * 4;
	l.slots = l.pos + (uint64_t)n_tok * 4;
	l.tok_seq = l.slots + (uint64_t)n_tok * 4;
	l.table = l.tok_seq + (uint64_t)n_tok * 4;
	l.out = l.table + (uint64_t)n_seq * g->o.max_blocks * 4;
	return l;
}

struct pass_views {
	uint32_t n_tok, n_seq;
	struct in_layout in;
	struct orc_tensor x, xn, qkv, q, k, v, att, tmp;
	struct orc_tensor ids, pos, slots, tok_seq, table;
};

/* rows of ne0 packed 4-byte elements (I32 or F32) at byte off of the I/O buffer */
static struct orc_tensor io_view(const struct orc_graph *g, uint64_t off, enum orc_type type, uint32_t ne0,
				 uint32_t rows)
{
	return (struct orc_tensor){ .buf = g->iobuf, .offset = off, .type = type,
				    .ne0 = ne0, .ne1 = rows, .nb1 = (uint64_t)ne0 * 4 };
}

static struct orc_tensor io_i32(const struct orc_graph *g, uint64_t off, uint32_t ne0, uint32_t rows)
{
	return io_view(g, off, ORC_TYPE_I32, ne0, rows);
}

static void make_views(const struct orc_graph *g, uint32_t n_tok, uint32_t n_seq,
		       struct pass_views *v)
{
	const struct graph_scratch *s = &g->s;

	v->n_tok = n_tok;
	v->n_seq = n_seq;
	v->in = in_layout(g, n_tok, n_seq);
	v->x = graph_cols(&s->x, 0, s->x.ne0, n_tok);
	v->xn = graph_cols(&s->xn, 0, s->xn.ne0, n_tok);
	v->qkv = graph_cols(&s->qkv, 0, s->qkv.ne0, n_tok);
	v->q = graph_cols(&s->qkv, 0, g->n_q, n_tok);
	v->k = graph_cols(&s->qkv, g->n_q, g->n_kv_dim, n_tok);
	v->v = graph_cols(&s->qkv, g->n_q + g->n_kv_dim, g->n_kv_dim, n_tok);
	v->att = graph_cols(&s->att, 0, s->att.ne0, n_tok);
	v->tmp = graph_cols(&s->tmp, 0, s->tmp.ne0, n_tok);
	v->ids = io_i32(g, v->in.ids, n_tok, 1);
	v->pos = io_i32(g, v->in.pos, n_tok, 1);
	v->slots = io_i32(g, v->in.slots, n_tok, 1);
	v->tok_seq = io_i32(g, v->in.tok_seq, n_tok, 1);
	v->table = io_i32(g, v->in.table, g->o.max_blocks, n_seq);
}

/* ---- building blocks ---- */

static void norm(const struct orc_graph *g, const struct orc_tensor *x, const struct orc_tensor *w,
		 const struct orc_tensor *b, const struct orc_tensor *out)
{
	struct orc_backend *be = g->be;

	if (g->d->hp.use_layernorm)
		be->ops->layer_norm(be, x, w, b, g->d->hp.norm_eps, out);
	else
		be->ops->rms_norm(be, x, w, g->d->hp.norm_eps, out);
}

static void attention_block(const struct orc_graph *g, const struct graph_layer *L,
			    const struct pass_views *v)
{
	struct orc_backend *be = g->be;
	const struct orc_hparams *hp = &g->d->hp;

	norm(g, &v->x, &L->attn_norm, &L->attn_norm_b, &v->xn);
	if (L->wqkv.buf) {
		be->ops->matmul(be, &L->wqkv, &v->xn, graph_opt(&L->bqkv), &v->qkv);
	} else {
		be->ops->matmul(be, &L->wq, &v->xn, graph_opt(&L->bq), &v->q);
		be->ops->matmul(be, &L->wk, &v->xn, graph_opt(&L->bk), &v->k);
		be->ops->matmul(be, &L->wv, &v->xn, graph_opt(&L->bv), &v->v);
	}
	if (!g->pos_embd.buf) {
		struct orc_rope_args rq = { .n_head = hp->n_head, .head_dim = hp->head_dim,
					    .n_rot = hp->n_rot, .theta = hp->rope_theta,
					    .neox = hp->rope_neox };
		struct orc_rope_args rk = rq;
		rk.n_head = hp->n_head_kv;
		be->ops->rope(be, &v->q, &v->pos, &rq);
		be->ops->rope(be, &v->k, &v->pos, &rk);
	}
	be->ops->set_rows(be, &v->k, &v->slots, &L->k_cache);
	be->ops->set_rows(be, &v->v, &v->slots, &L->v_cache);
	be->ops->attention(be, &(struct orc_attn_args){
		.q = &v->q, .k_cache = &L->k_cache, .v_cache = &L->v_cache, .pos = &v->pos,
		.tok_seq = &v->tok_seq, .block_table = &v->table, .block_size = g->o.block_size,
		.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
		.scale = 1.0f / sqrtf((float)hp->head_dim), .out = &v->att });
	be->ops->matmul(be, &L->wo, &v->att, graph_opt(&L->bo), &v->tmp);
	be->ops->add(be, &v->x, &v->tmp, &v->x);
}

static void ffn_block(const struct orc_graph *g, const struct graph_layer *L,
		      const struct pass_views *v)
{
	struct orc_backend *be = g->be;
	const uint32_t n_ff = g->d->hp.n_ff, n = v->n_tok;
	const struct orc_tensor gate = graph_cols(&g->s.ffn, 0, n_ff, n);
	const struct orc_tensor up = graph_cols(&g->s.ffn, n_ff, n_ff, n);
	const struct orc_tensor act = graph_cols(&g->s.act, 0, n_ff, n);

	norm(g, &v->x, &L->ffn_norm, &L->ffn_norm_b, &v->xn);
	if (g->d->hp.use_layernorm) {                   /* gpt2: GELU(up) */
		be->ops->matmul(be, &L->ffn_up, &v->xn, graph_opt(&L->ffn_up_b), &act);
		be->ops->gelu(be, &act, &act);
	} else {
		if (L->ffn_gate.buf) {
			be->ops->matmul(be, &L->ffn_gate, &v->xn, NULL, &gate);
			be->ops->matmul(be, &L->ffn_up, &v->xn, graph_opt(&L->ffn_up_b), &up);
		} else {                                /* phi3: one matmul, gate then up */
			const struct orc_tensor both = graph_cols(&g->s.ffn, 0, 2 * n_ff, n);
			be->ops->matmul(be, &L->ffn_up, &v->xn, graph_opt(&L->ffn_up_b), &both);
		}
		be->ops->swiglu(be, &gate, &up, &act);
	}
	be->ops->matmul(be, &L->ffn_down, &act, graph_opt(&L->ffn_down_b), &v->tmp);
	be->ops->add(be, &v->x, &v->tmp, &v->x);
}

static void forward_layers(const struct orc_graph *g, const struct pass_views *v)
{
	struct orc_backend *be = g->be;

	be->ops->get_rows(be, &g->tok_embd, &v->ids, &v->x);
	if (g->pos_embd.buf) {                          /* gpt2: learned positions */
		be->ops->get_rows(be, &g->pos_embd, &v->pos, &v->tmp);
		be->ops->add(be, &v->x, &v->tmp, &v->x);
	}
	for (uint32_t l = 0; l < g->d->hp.n_layer; l++) {
		attention_block(g, &g->layers[l], v);
		ffn_block(g, &g->layers[l], v);
	}
}

/* The step reads v after it ends: a later step, or the host (see the
 * backend's step_keep: what a step writes to scratch and keeps not is
 * dead at its end). */
static void keep(const struct orc_graph *g, const struct orc_tensor *v)
{
	if (g->be->ops->step_keep)
		g->be->ops->step_keep(g->be, v);
}

/* Logits of out_idx[o0 .. o0 + n) into the logits scratch; with amax, their
 * greedy ids into the I/O buffer too, with top their best candidates. */
static void forward_output(const struct orc_graph *g, const struct pass_views *v, uint32_t o0,
			   uint32_t n, bool amax, bool top)
{
	struct orc_backend *be = g->be;
	const struct orc_tensor idx = io_i32(g, v->in.out + (uint64_t)o0 * 4, n, 1);
	const struct orc_tensor hid = graph_cols(&g->s.hid, 0, g->s.hid.ne0, n);
	const struct orc_tensor logits = graph_cols(&g->s.logits, 0, g->s.logits.ne0, n);

	be->ops->get_rows(be, &v->x, &idx, &hid);
	norm(g, &hid, &g->output_norm, &g->output_norm_b, &hid);
	be->ops->matmul(be, &g->output, &hid, NULL, &logits);
	keep(g, &logits);   /* for buf_get */
	if (amax) {
		const struct orc_tensor ids = io_i32(g, g->io.off_amax, n, 1);
		be->ops->argmax(be, &logits, &ids);
	}
	if (top) {
		const uint32_t K = ORC_SAMPLE_TOPK_MAX;
		const struct orc_tensor tl = io_view(g, g->io.off_top, ORC_TYPE_F32, K, n);
		const struct orc_tensor ti = io_i32(g, g->io.off_top + (uint64_t)n * K * 4, K, n);
		be->ops->topk(be, &logits, &tl, &ti);
	}
}

/* ---- one pass ---- */

/* Pack the pass's inputs as in_layout() places them; one copy up. */
static int upload_pass(const struct orc_graph *g, const struct orc_graph_pass *p, const struct in_layout *l,
		       struct orc_err *err)
{
	int32_t *h = g->in_host;
	const uint64_t end = l->out + (uint64_t)p->n_out * 4;

	memcpy(h + l->ids / 4, p->ids, (size_t)p->n_tok * 4);
	memcpy(h + l->pos / 4, p->pos, (size_t)p->n_tok * 4);
	memcpy(h + l->slots / 4, p->slots, (size_t)p->n_tok * 4);
	memcpy(h + l->tok_seq / 4, p->tok_seq, (size_t)p->n_tok * 4);
	memcpy(h + l->table / 4, p->block_table, (size_t)p->n_seq * g->o.max_blocks * 4);
	if (p->n_out)
		memcpy(h + l->out / 4, p->out_idx, (size_t)p->n_out * 4);
	return g->be->ops->buf_set(g->be, g->iobuf, 0, h, end, err);
}

static void step_begin(const struct orc_graph *g, uint32_t n_tok, uint32_t n_seq, uint32_t n_out,
		       uint32_t variant)
{
	struct orc_step_key key = { .n_tok = n_tok, .n_seq = n_seq, .n_out = n_out, .variant = variant };

	if (g->be->ops->step_begin)
		g->be->ops->step_begin(g->be, &key);
}

static int step_end(const struct orc_graph *g, struct orc_err *err)
{
	if (g->be->ops->step_end)
		return g->be->ops->step_end(g->be, err);
	return 0;
}

/* Does any of the n output rows from o0 want its greedy id (*amax), or
 * its top-k candidates (*top)? */
static void wants(const struct orc_graph_pass *p, uint32_t o0, uint32_t n, bool *amax, bool *top)
{
	*amax = *top = false;
	for (uint32_t i = 0; i < n; i++) {
		*amax = *amax || (p->out_argmax && p->out_argmax[o0 + i]);
		*top = *top || (p->out_top && p->out_top[o0 + i]);
	}
}

/* The candidates of the n rows (logits, then ids: one copy) into the
 * callers' orc_topk. */
static int fetch_top(struct orc_graph *g, const struct orc_graph_pass *p, uint32_t o0, uint32_t n,
		     struct orc_err *err)
{
	const size_t K = ORC_SAMPLE_TOPK_MAX;
	int rc;

	if ((rc = g->be->ops->buf_get(g->be, g->iobuf, g->io.off_top, g->top_raw, (uint64_t)n * K * 4 * 2, err)) != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		struct orc_topk *t = p->out_top[o0 + i];
		if (!t)
			continue;
		memcpy(t->logit, g->top_raw + i * K, sizeof(t->logit));
		memcpy(t->id, g->top_raw + (n + i) * K, sizeof(t->id));
	}
	return 0;
}

/* *read: a buf_get ran (which waits for the ops before it and returns
 * their error). */
static int fetch_outputs(const struct orc_graph *g, const struct orc_graph_pass *p, uint32_t o0,
			 uint32_t n, bool amax, bool *read, struct orc_err *err)
{
	const uint64_t row = (uint64_t)g->s.logits.ne0 * 4;
	int32_t ids[ORC_GRAPH_OUT_GROUP];
	int rc;

	for (uint32_t i = 0; i < n; i++) {
		if (!p->out_logits[o0 + i])
			continue;
		rc = g->be->ops->buf_get(g->be, g->scratchbuf, g->s.logits.offset + i * row,
					 p->out_logits[o0 + i], row, err);
		*read = true;
		if (rc != 0)
			return rc;
	}
	if (!amax)
		return 0;
	*read = true;
	if ((rc = g->be->ops->buf_get(g->be, g->iobuf, g->io.off_amax, ids, (uint64_t)n * 4, err)) != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++)
		if (p->out_argmax[o0 + i])
			*p->out_argmax[o0 + i] = ids[i];
	return 0;
}

int orc_graph_eval(struct orc_graph *g, const struct orc_graph_pass *p, struct orc_err *err)
{
	struct pass_views v;
	int rc;

	if (p->n_tok == 0 || p->n_tok > g->o.n_batch || p->n_seq == 0 || p->n_seq > g->o.n_seq_rows ||
	    p->n_out > p->n_tok)
		return orc_err_set(err, -EINVAL, "a pass of %u tokens, %u sequences, %u outputs "
				   "(at most %u tokens, %u sequences)", p->n_tok, p->n_seq, p->n_out,
				   g->o.n_batch, g->o.n_seq_rows);
	make_views(g, p->n_tok, p->n_seq, &v);
	if ((rc = upload_pass(g, p, &v.in, err)) != 0)
		return rc;
	step_begin(g, p->n_tok, p->n_seq, 0, 0);
	forward_layers(g, &v);
	keep(g, &v.x);      /* for the output steps */
	if ((rc = step_end(g, err)) != 0)
		return rc;
	bool read = false;   /* a buf_get ran after the last step: nothing is left to wait for */
	for (uint32_t o0 = 0; o0 < p->n_out; o0 += g->n_out_grp) {
		uint32_t n = p->n_out - o0 < g->n_out_grp ? p->n_out - o0 : g->n_out_grp;
		bool amax, top;
		wants(p, o0, n, &amax, &top);
		step_begin(g, p->n_tok, p->n_seq, n,
			   (1 + o0 / g->n_out_grp) | (amax ? ORC_STEP_ARGMAX : 0) | (top ? ORC_STEP_TOPK : 0));
		forward_output(g, &v, o0, n, amax, top);
		read = top;
		if ((rc = step_end(g, err)) != 0 || (rc = fetch_outputs(g, p, o0, n, amax, &read, err)) != 0 ||
		    (top && (rc = fetch_top(g, p, o0, n, err)) != 0))
			return rc;
	}
	return read ? 0 : g->be->ops->synchronize(g->be, err);
}
