/* graph.h -- a model on a backend: its weights (uploaded once, in their
 * stored types), its paged KV cache memory and step scratch, and the
 * forward pass of the llama, qwen2, phi3 and gpt2 architectures written
 * once against the backend ops table. The engine (engine.c) decides which
 * tokens go into a pass; this module runs the pass. Library code. */
#ifndef ORC_GRAPH_H
#define ORC_GRAPH_H

#include <stdint.h>

#include "backend.h"
#include "engine.h"
#include "model_desc.h"

struct orc_graph;

struct orc_graph_opts {
	uint32_t n_batch;         /* most tokens in one pass */
	uint32_t n_kv_blocks;     /* blocks in the KV cache */
	uint32_t block_size;      /* tokens per block */
	uint32_t max_blocks;      /* blocks one sequence may use (n_ctx / block_size, rounded up) */
	uint32_t n_seq_rows;      /* most sequences in one pass */
	bool kv_f16;              /* KV cache rows in F16 (the backend must take them) */
	orc_progress_fn progress; /* optional: weight bytes uploaded */
	void *progress_user;
};

/* The host-side inputs of one pass. Token t of the pass belongs to
 * sequence row tok_seq[t] (a row of block_table), sits at position pos[t],
 * and its K/V go to cache row slots[t]. */
struct orc_graph_pass {
	uint32_t n_tok, n_seq, n_out;
	const int32_t *ids;          /* [n_tok] */
	const int32_t *pos;          /* [n_tok] */
	const int32_t *slots;        /* [n_tok] */
	const int32_t *tok_seq;      /* [n_tok] */
	const int32_t *block_table;  /* [n_seq, max_blocks] */
	const int32_t *out_idx;      /* [n_out]: tokens whose logits are wanted, ascending */
	float *const *out_logits;    /* [n_out]: where each row of n_vocab logits goes, or NULL */
	int32_t *const *out_argmax;  /* [n_out]: where each row's orc_sampler_greedy() goes, or NULL */
	struct orc_topk *const *out_top; /* [n_out]: where each row's top-k candidates go, or NULL
	                              * (only with the backend's topk op) */
};

/* `be`, `gg` and `d` (built from gg) are borrowed and must outlive the
 * graph: the CPU backend reads the weights from the mapping in place. */
int orc_graph_new(struct orc_backend *be, const struct orc_gguf *gg, const struct orc_model_desc *d,
		  const struct orc_graph_opts *o, struct orc_graph **ret, struct orc_err *err);
void orc_graph_free(struct orc_graph *g);   /* NULL is a no-op */

/* Run one pass; the caller has checked every id, position and slot. */
int orc_graph_eval(struct orc_graph *g, const struct orc_graph_pass *p, struct orc_err *err);

void orc_graph_get_mem(const struct orc_graph *g, struct orc_model_mem *ret);

#endif
