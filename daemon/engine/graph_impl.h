/* graph_impl.h -- the graph's private state, shared by graph_load.c
 * (weights, cache and scratch on the backend) and graph.c (the forward
 * pass). A weight view with buf == NULL is absent. */
#ifndef ORC_GRAPH_IMPL_H
#define ORC_GRAPH_IMPL_H

#include "graph.h"

/* Logits rows computed per output step (at most). */
#define ORC_GRAPH_OUT_GROUP 32
/* Step-key variant bit of an output step that also picks greedy ids. */
#define ORC_STEP_ARGMAX 0x80000000u
/* ... that also picks top-k candidates (ORC_SAMPLE_TOPK_MAX a row). */
#define ORC_STEP_TOPK 0x40000000u

struct graph_layer {
	struct orc_tensor attn_norm, attn_norm_b;
	struct orc_tensor wq, wk, wv, wqkv, bq, bk, bv, bqkv, wo, bo;
	struct orc_tensor ffn_norm, ffn_norm_b;
	struct orc_tensor ffn_gate, ffn_up, ffn_up_b, ffn_down, ffn_down_b;
	struct orc_tensor k_cache, v_cache;    /* [n_kv_blocks * block_size, n_kv_dim] */
};

/* Step scratch: F32 activations for up to n_batch tokens. */
struct graph_scratch {
	struct orc_tensor x;        /* [n_batch, n_embd] the residual stream */
	struct orc_tensor xn;       /* [n_batch, n_embd] normalised */
	struct orc_tensor qkv;      /* [n_batch, n_q + 2 n_kv_dim] */
	struct orc_tensor att;      /* [n_batch, n_q] */
	struct orc_tensor ffn;      /* [n_batch, 2 n_ff] gate | up (gpt2: up only) */
	struct orc_tensor act;      /* [n_batch, n_ff] */
	struct orc_tensor tmp;      /* [n_batch, n_embd] a block's output */
	struct orc_tensor hid;      /* [n_out_grp, n_embd] final hidden rows */
	struct orc_tensor logits;   /* [n_out_grp, n_vocab] */
};

/* The I/O buffer: a pass's I32 inputs packed from byte 0 (graph.c's
 * in_layout(), uploaded with one copy), then the outputs read back. */
struct graph_io {
	uint64_t in_bytes;                    /* room for the inputs of the largest pass */
	uint64_t off_amax;                    /* [n_out_grp] greedy ids */
	uint64_t off_top;                     /* n rows of candidates' logits [n, K], then their
	                                       * ids [n, K] (K = ORC_SAMPLE_TOPK_MAX) */
};

struct orc_graph {
	struct orc_backend *be;
	const struct orc_model_desc *d;
	struct orc_graph_opts o;
	uint32_t n_q, n_kv_dim;          /* n_head * head_dim, n_head_kv * head_dim */
	uint32_t n_out_grp;              /* logits rows computed per output step */

	struct orc_tensor tok_embd, pos_embd, output_norm, output_norm_b, output;
	struct graph_layer *layers;      /* [n_layer] */

	struct orc_bbuf *wbuf;           /* the 2-D weights (wrapped mapping or a copy) */
	struct orc_bbuf *auxbuf;         /* 1-D weights (norms, biases) as F32 */
	struct orc_bbuf *kvbuf;          /* K and V of every layer */
	struct orc_bbuf *scratchbuf;
	struct orc_bbuf *iobuf;
	struct graph_scratch s;
	struct graph_io io;
	int32_t *in_host;                /* a pass's inputs packed as in the I/O buffer */
	/* an output step's top-k candidates on the host, before they go to
	 * the callers' orc_topk */
	uint32_t top_raw[2 * ORC_GRAPH_OUT_GROUP * ORC_SAMPLE_TOPK_MAX];   /* as at off_top */
	struct orc_model_mem mem;
};

/* A view of `rows` rows of `ne0` F32 starting at byte `off` of `buf`. */
static inline struct orc_tensor graph_f32(struct orc_bbuf *buf, uint64_t off, uint32_t ne0,
					  uint32_t rows)
{
	return (struct orc_tensor){ .buf = buf, .offset = off, .type = ORC_TYPE_F32,
				    .ne0 = ne0, .ne1 = rows, .nb1 = (uint64_t)ne0 * 4 };
}

/* Columns [c0, c0 + n) of the first `rows` rows of an F32 view. */
static inline struct orc_tensor graph_cols(const struct orc_tensor *t, uint32_t c0, uint32_t n,
					   uint32_t rows)
{
	struct orc_tensor v = *t;
	v.offset += (uint64_t)c0 * 4;
	v.ne0 = n;
	v.ne1 = rows;
	return v;
}

static inline const struct orc_tensor *graph_opt(const struct orc_tensor *t)
{
	return t->buf ? t : NULL;
}

#endif
