/* graph_load.c -- puts a model onto a backend: the 2-D weights in their
 * stored types (the CPU backend reads them from the mapping in place, other
 * backends get one copy), the 1-D norms and biases as F32, the paged KV
 * cache and the step scratch. See graph.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph_impl.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))

/* ---- which GGUF tensor lands in which view ---- */

struct wslot {
	const struct orc_gguf_tensor *gt;
	struct orc_tensor *dst;
	bool small;                 /* a norm or a bias: 1-D, kept as F32 */
};

struct wlist {
	struct wslot *v;
	size_t n;
};

static void add_slot(struct wlist *l, const struct orc_gguf_tensor *gt, struct orc_tensor *dst,
		     bool small)
{
	if (gt)
		l->v[l->n++] = (struct wslot){ .gt = gt, .dst = dst, .small = small };
}

static void collect_layer(struct wlist *l, const struct orc_layer_desc *ld, struct graph_layer *gl)
{
	add_slot(l, ld->attn_norm, &gl->attn_norm, true);
	add_slot(l, ld->attn_norm_b, &gl->attn_norm_b, true);
	add_slot(l, ld->wq, &gl->wq, false);
	add_slot(l, ld->wk, &gl->wk, false);
	add_slot(l, ld->wv, &gl->wv, false);
	add_slot(l, ld->wqkv, &gl->wqkv, false);
	add_slot(l, ld->bq, &gl->bq, true);
	add_slot(l, ld->bk, &gl->bk, true);
	add_slot(l, ld->bv, &gl->bv, true);
	add_slot(l, ld->bqkv, &gl->bqkv, true);
	add_slot(l, ld->wo, &gl->wo, false);
	add_slot(l, ld->bo, &gl->bo, true);
	add_slot(l, ld->ffn_norm, &gl->ffn_norm, true);
	add_slot(l, ld->ffn_norm_b, &gl->ffn_norm_b, true);
	add_slot(l, ld->ffn_gate, &gl->ffn_gate, false);
	add_slot(l, ld->ffn_up, &gl->ffn_up, false);
	add_slot(l, ld->ffn_up_b, &gl->ffn_up_b, true);
	add_slot(l, ld->ffn_down, &gl->ffn_down, false);
	add_slot(l, ld->ffn_down_b, &gl->ffn_down_b, true);
}

static int collect(struct orc_graph *g, struct wlist *l, struct orc_err *err)
{
	const struct orc_model_desc *d = g->d;

	l->v = calloc((size_t)d->hp.n_layer * 19 + 8, sizeof(*l->v));
	if (!l->v)
		return orc_err_set(err, -ENOMEM, "out of memory");
	add_slot(l, d->token_embd, &g->tok_embd, false);
	add_slot(l, d->pos_embd, &g->pos_embd, false);
	add_slot(l, d->output_norm, &g->output_norm, true);
	add_slot(l, d->output_norm_b, &g->output_norm_b, true);
	add_slot(l, d->output, &g->output, false);
	for (uint32_t i = 0; i < d->hp.n_layer; i++)
		collect_layer(l, &d->layers[i], &g->layers[i]);
	for (size_t i = 0; i < l->n; i++) {
		const struct orc_gguf_tensor *t = l->v[i].gt;
		if (t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] > UINT32_MAX || t->ne[1] > UINT32_MAX ||
		    (l->v[i].small && t->ne[1] != 1))
			return orc_err_set(err, -EBADMSG, "tensor %s has an unexpected shape", t->name);
		if (!l->v[i].small && orc_type_row_bytes(t->type, t->ne[0]) == 0)
			return orc_err_set(err, -EBADMSG, "tensor %s: rows of %llu are not whole blocks",
					   t->name, (unsigned long long)t->ne[0]);
		if (!l->v[i].small && g->be->ops->weight_ok && !g->be->ops->weight_ok(t->type))
			return orc_err_set(err, -ENOTSUP, "tensor %s: the %s backend does not read %s weights",
					   t->name, g->be->ops->name, orc_type_name(t->type));
	}
	return 0;
}

/* ---- 1-D weights as F32 ---- */

static int load_small(struct orc_graph *g, const struct wlist *l, struct orc_err *err)
{
	struct orc_backend *be = g->be;
	uint64_t n = 0, off = 0;
	float *host;
	int rc = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].small)
			n += ALIGN_UP(l->v[i].gt->ne[0], 16);
	host = calloc(n ? n : 1, sizeof(float));
	if (!host)
		return orc_err_set(err, -ENOMEM, "out of memory for %llu norm/bias values",
				   (unsigned long long)n);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		const struct wslot *s = &l->v[i];
		if (!s->small)
			continue;
		rc = orc_dequant_row(s->gt->type, s->gt->data, host + off, s->gt->ne[0]);
		if (rc != 0)
			rc = orc_err_set(err, -EBADMSG, "tensor %s: type %s cannot be read", s->gt->name,
					 orc_type_name(s->gt->type));
		*s->dst = graph_f32(NULL, off * 4, (uint32_t)s->gt->ne[0], 1);
		off += ALIGN_UP(s->gt->ne[0], 16);
	}
	if (rc == 0)
		rc = be->ops->buf_alloc(be, n * 4, ORC_BUF_WEIGHTS, &g->auxbuf, err);
	if (rc == 0)
		rc = be->ops->buf_set(be, g->auxbuf, 0, host, n * 4, err);
	free(host);
	for (size_t i = 0; i < l->n && rc == 0; i++)
		if (l->v[i].small)
			l->v[i].dst->buf = g->auxbuf;
	g->mem.weights += n * 4;
	return rc;
}

/* ---- 2-D weights in their stored type ---- */

static void set_view(struct orc_tensor *dst, struct orc_bbuf *buf, uint64_t off,
		     const struct orc_gguf_tensor *t)
{
	*dst = (struct orc_tensor){ .buf = buf, .offset = off, .type = t->type,
				    .ne0 = (uint32_t)t->ne[0], .ne1 = (uint32_t)t->ne[1],
				    .nb1 = orc_type_row_bytes(t->type, t->ne[0]) };
}

static void progress(const struct orc_graph *g, uint64_t done, uint64_t total)
{
	if (g->o.progress)
		g->o.progress(g->o.progress_user, done, total);
}

/* The CPU backend reads the mapping in place: one buffer over the data section. */
static int wrap_big(struct orc_graph *g, const struct orc_gguf *gg, const struct wlist *l,
		    uint64_t total, struct orc_err *err)
{
	const struct orc_gguf_tensor *t0 = NULL;
	const uint8_t *base;
	int rc;

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].small)
			continue;
		t0 = l->v[i].gt;
		/* F32 rows must be float-aligned to be read in place */
		if (((uintptr_t)l->v[i].gt->data % 4) != 0)
			return 1;
	}
	if (!t0)
		return 1;
	base = (const uint8_t *)t0->data - t0->offset;
	rc = g->be->ops->buf_wrap_host(g->be, base, orc_gguf_file_size(gg) - orc_gguf_data_offset(gg),
				       &g->wbuf, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].small)
			set_view(l->v[i].dst, g->wbuf, l->v[i].gt->offset, l->v[i].gt);
	g->mem.weights += total;
	progress(g, total, total);
	return 0;
}

/* Other backends: one weight buffer, each distinct tensor copied once. */
static int copy_big(struct orc_graph *g, const struct wlist *l, uint64_t total, struct orc_err *err)
{
	uint64_t *offs = calloc(l->n ? l->n : 1, sizeof(uint64_t)), size = 0, done = 0;
	bool *dup = calloc(l->n ? l->n : 1, sizeof(bool));
	int rc = 0;

	if (!offs || !dup) {
		free(offs);
		free(dup);
		return orc_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < l->n; i++) {
		size_t j;
		if (l->v[i].small)
			continue;
		for (j = 0; j < i && l->v[j].gt != l->v[i].gt; j++)
			;
		if (j < i) {                  /* a tied output: the same tensor again */
			offs[i] = offs[j];
			dup[i] = true;
			continue;
		}
		offs[i] = size;
		size += ALIGN_UP(l->v[i].gt->size, 256);
	}
	rc = g->be->ops->buf_alloc(g->be, size, ORC_BUF_WEIGHTS, &g->wbuf, err);
	if (rc == 0)
		g->mem.weights += size;   /* what the buffer holds, its alignment padding too */
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		const struct orc_gguf_tensor *t = l->v[i].gt;
		if (l->v[i].small)
			continue;
		set_view(l->v[i].dst, g->wbuf, offs[i], t);
		if (dup[i])
			continue;
		rc = g->be->ops->buf_set(g->be, g->wbuf, offs[i], t->data, t->size, err);
		done += t->size;
		progress(g, done, total);
	}
	free(offs);
	free(dup);
	return rc;
}

static int load_weights(struct orc_graph *g, const struct orc_gguf *gg, struct orc_err *err)
{
	struct wlist l = { 0 };
	uint64_t total = 0;
	int rc = collect(g, &l, err);

	for (size_t i = 0; i < l.n; i++) {
		size_t j;
		for (j = 0; j < i && l.v[j].gt != l.v[i].gt; j++)
			;
		if (!l.v[i].small && j == i)        /* a tied output counts once */
			total += l.v[i].gt->size;
	}
	if (rc == 0)
		rc = load_small(g, &l, err);
	if (rc == 0 && g->be->ops->buf_wrap_host) {
		rc = wrap_big(g, gg, &l, total, err);
		if (rc == 1)
			rc = copy_big(g, &l, total, err);
	} else if (rc == 0) {
		rc = copy_big(g, &l, total, err);
	}
	free(l.v);
	return rc;
}

/* ---- KV cache, scratch and I/O buffers ---- */

/* The type of the KV cache rows: F16 when asked for, else the backend's. */
static enum orc_type kv_type(const struct orc_graph *g)
{
	return g->o.kv_f16 ? ORC_TYPE_F16 : g->be->ops->kv_type;
}

static struct orc_tensor kv_view(const struct orc_graph *g, uint64_t off, uint32_t rows)
{
	enum orc_type t = kv_type(g);
	return (struct orc_tensor){ .buf = g->kvbuf, .offset = off, .type = t, .ne0 = g->n_kv_dim,
				    .ne1 = rows, .nb1 = orc_type_row_bytes(t, g->n_kv_dim) };
}

static int alloc_kv(struct orc_graph *g, struct orc_err *err)
{
	const enum orc_type kt = kv_type(g);
	const uint64_t rows = (uint64_t)g->o.n_kv_blocks * g->o.block_size;
	const uint64_t one = rows * orc_type_row_bytes(kt, g->n_kv_dim);
	int rc;

	if (kt != ORC_TYPE_F32 && kt != ORC_TYPE_F16)
		return orc_err_set(err, -EINVAL, "backend %s: KV cache type %s", g->be->ops->name,
				   orc_type_name(kt));
	if (rows > UINT32_MAX)
		return orc_err_set(err, -E2BIG, "a KV cache of %llu token rows is too large",
				   (unsigned long long)rows);
	rc = g->be->ops->buf_alloc(g->be, one * 2 * g->d->hp.n_layer, ORC_BUF_KV, &g->kvbuf, err);
	if (rc != 0)
		return orc_err_prefix(err, "KV cache");
	for (uint32_t l = 0; l < g->d->hp.n_layer; l++) {
		g->layers[l].k_cache = kv_view(g, one * 2 * l, (uint32_t)rows);
		g->layers[l].v_cache = kv_view(g, one * (2 * l + 1), (uint32_t)rows);
	}
	g->mem.kv_cache = one * 2 * g->d->hp.n_layer;
	return 0;
}

static struct orc_tensor carve(uint64_t *off, uint32_t ne0, uint32_t rows)
{
	struct orc_tensor t = graph_f32(NULL, *off, ne0, rows);
	*off += ALIGN_UP((uint64_t)ne0 * rows * 4, 256);
	return t;
}

static int alloc_scratch(struct orc_graph *g, struct orc_err *err)
{
	const struct orc_hparams *hp = &g->d->hp;
	const uint32_t B = g->o.n_batch, G = g->n_out_grp;
	struct graph_scratch *s = &g->s;
	struct orc_tensor *all[] = { &s->x, &s->xn, &s->qkv, &s->att, &s->ffn, &s->act, &s->tmp,
				     &s->hid, &s->logits };
	uint64_t off = 0, io = 0;
	int rc;

	s->x = carve(&off, hp->n_embd, B);
	s->xn = carve(&off, hp->n_embd, B);
	s->qkv = carve(&off, g->n_q + 2 * g->n_kv_dim, B);
	s->att = carve(&off, g->n_q, B);
	s->ffn = carve(&off, 2 * hp->n_ff, B);
	s->act = carve(&off, hp->n_ff, B);
	s->tmp = carve(&off, hp->n_embd, B);
	s->hid = carve(&off, hp->n_embd, G);
	s->logits = carve(&off, hp->n_vocab, G);
	rc = g->be->ops->buf_alloc(g->be, off, ORC_BUF_SCRATCH, &g->scratchbuf, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		all[i]->buf = g->scratchbuf;

	/* ids, positions, slots, sequence rows and output rows of up to B
	 * tokens, and the block table, packed (graph.c's in_layout) */
	g->io.in_bytes = (uint64_t)B * 5 * 4 + (uint64_t)g->o.n_seq_rows * g->o.max_blocks * 4;
	io = ALIGN_UP(g->io.in_bytes, 256);
	g->in_host = malloc(g->io.in_bytes);
	if (!g->in_host)
		return orc_err_set(err, -ENOMEM, "out of memory");
	g->io.off_amax = io, io += ALIGN_UP((uint64_t)G * 4, 256);
	g->io.off_top = io, io += ALIGN_UP((uint64_t)G * ORC_SAMPLE_TOPK_MAX * 4 * 2, 256);
	rc = g->be->ops->buf_alloc(g->be, io, ORC_BUF_IO, &g->iobuf, err);
	g->mem.scratch = off + io;
	return rc;
}

/* The backend's own working memory for this graph's steps (the CUDA
 * backend's decode attention scratch and prepared activations), allocated
 * at load and counted as scratch. */
static int reserve_backend(struct orc_graph *g, struct orc_err *err)
{
	const struct orc_hparams *hp = &g->d->hp;
	struct orc_backend_plan p = { .n_tok = g->o.n_batch, .n_head = hp->n_head, .head_dim = hp->head_dim,
				      .max_keys = g->o.max_blocks * g->o.block_size };
	struct orc_tensor *w;
	uint64_t bytes = 0;
	int rc;

	if (!g->be->ops->reserve)
		return 0;
	w = malloc(((size_t)hp->n_layer * 8 + 1) * sizeof(*w));
	if (!w)
		return orc_err_set(err, -ENOMEM, "out of memory");
	for (uint32_t l = 0; l < hp->n_layer; l++) {
		const struct graph_layer *L = &g->layers[l];
		const struct orc_tensor *lw[] = { &L->wq, &L->wk, &L->wv, &L->wqkv,
						  &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down };
		for (size_t i = 0; i < sizeof(lw) / sizeof(lw[0]); i++)
			if (lw[i]->buf)
				w[p.n_weights++] = *lw[i];
	}
	if (g->output.buf)
		w[p.n_weights++] = g->output;
	p.weights = w;
	rc = g->be->ops->reserve(g->be, &p, &bytes, err);
	free(w);
	if (rc != 0)
		return orc_err_prefix(err, "working memory of the %s backend", g->be->ops->name);
	g->mem.scratch += bytes;
	return 0;
}

/* ---- lifetime ---- */

void orc_graph_free(struct orc_graph *g)
{
	if (!g)
		return;
	if (g->be) {
		g->be->ops->buf_free(g->be, g->iobuf);
		g->be->ops->buf_free(g->be, g->scratchbuf);
		g->be->ops->buf_free(g->be, g->kvbuf);
		g->be->ops->buf_free(g->be, g->auxbuf);
		g->be->ops->buf_free(g->be, g->wbuf);
	}
	free(g->layers);
	free(g->in_host);
	free(g);
}

int orc_graph_new(struct orc_backend *be, const struct orc_gguf *gg, const struct orc_model_desc *d,
		  const struct orc_graph_opts *o, struct orc_graph **ret, struct orc_err *err)
{
	struct orc_graph *g;
	int rc;

	/* before anything is uploaded */
	if (o->kv_f16 && !be->ops->kv_f16)
		return orc_err_set(err, -EINVAL, "a KV cache in f16: the %s backend keeps it in %s only",
				   be->ops->name, orc_type_name(be->ops->kv_type));
	g = calloc(1, sizeof(*g));
	if (!g)
		return orc_err_set(err, -ENOMEM, "out of memory");
	g->be = be;
	g->d = d;
	g->o = *o;
	g->n_q = d->hp.n_head * d->hp.head_dim;
	g->n_kv_dim = d->hp.n_head_kv * d->hp.head_dim;
	g->n_out_grp = o->n_batch < ORC_GRAPH_OUT_GROUP ? o->n_batch : ORC_GRAPH_OUT_GROUP;
	g->layers = calloc(d->hp.n_layer, sizeof(*g->layers));
	if (!g->layers) {
		orc_graph_free(g);
		return orc_err_set(err, -ENOMEM, "out of memory");
	}
	if ((rc = load_weights(g, gg, err)) != 0 || (rc = alloc_kv(g, err)) != 0 ||
	    (rc = alloc_scratch(g, err)) != 0 || (rc = reserve_backend(g, err)) != 0) {
		orc_graph_free(g);
		return rc;
	}
	*ret = g;
	return 0;
}

void orc_graph_get_mem(const struct orc_graph *g, struct orc_model_mem *ret)
{
	*ret = g->mem;
}
