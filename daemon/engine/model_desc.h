/* model_desc.h -- one description of a qwen2, llama, phi3 or gpt2 model,
 * built from a validated GGUF: hyper-parameters (with llama.cpp's defaults)
 * and the tensor map, every needed tensor checked for presence and shape.
 * Library code. Tensor pointers borrow from the orc_gguf handle. */
#ifndef ORC_MODEL_DESC_H
#define ORC_MODEL_DESC_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"

enum orc_arch { ORC_ARCH_LLAMA, ORC_ARCH_QWEN2, ORC_ARCH_PHI3, ORC_ARCH_GPT2, ORC_ARCH_COUNT };

struct orc_hparams {
	enum orc_arch arch;
	uint32_t n_vocab;
	uint32_t n_ctx_train;
	uint32_t n_embd;
	uint32_t n_layer;
	uint32_t n_head;
	uint32_t n_head_kv;
	uint32_t head_dim;        /* n_embd / n_head unless the file says otherwise */
	uint32_t n_ff;
	uint32_t n_rot;           /* rotary dims (<= head_dim); 0 for gpt2 (no RoPE) */
	bool rope_neox;           /* NeoX halves (qwen2, phi3) vs adjacent pairs (llama) */
	float rope_theta;         /* default 10000; 0 for gpt2 (learned positions) */
	float norm_eps;           /* rms or layer norm epsilon */
	bool use_layernorm;       /* gpt2 */
	bool tied_output;         /* output.weight absent: logits use token_embd */
};

/* A weight, or NULL when optional and absent. Shapes are ggml's: ne[0] is the
 * input (row) dimension, ne[1] the output dimension. */
struct orc_layer_desc {
	const struct orc_gguf_tensor *attn_norm, *attn_norm_b;
	const struct orc_gguf_tensor *wq, *wk, *wv;     /* separate Q/K/V, or ...     */
	const struct orc_gguf_tensor *wqkv;             /* ... fused (phi3, gpt2)     */
	const struct orc_gguf_tensor *bq, *bk, *bv, *bqkv;
	const struct orc_gguf_tensor *wo, *bo;
	const struct orc_gguf_tensor *ffn_norm, *ffn_norm_b;
	const struct orc_gguf_tensor *ffn_gate;         /* NULL for phi3 (fused) and gpt2 */
	const struct orc_gguf_tensor *ffn_up, *ffn_up_b; /* phi3: [n_embd, 2*n_ff], gate then up */
	const struct orc_gguf_tensor *ffn_down, *ffn_down_b;
};

struct orc_model_desc {
	struct orc_hparams hp;
	const char *arch_name;                      /* "qwen2" */
	const struct orc_gguf_tensor *token_embd;   /* [n_embd, n_vocab] */
	const struct orc_gguf_tensor *pos_embd;     /* gpt2: [n_embd, n_ctx_train] */
	const struct orc_gguf_tensor *output_norm, *output_norm_b;
	const struct orc_gguf_tensor *output;       /* == token_embd when tied */
	struct orc_layer_desc *layers;              /* n_layer entries */
	uint64_t weight_bytes;                      /* sum over all tensors used */
};

const char *orc_arch_name(enum orc_arch a);

/* Hyper-parameters only, from the metadata: works on files without tensors
 * (vocabulary files). -ENOTSUP (message names it) for an architecture other
 * than the four; -EBADMSG for a missing, mistyped or out-of-range key, or
 * -E2BIG past the ORC_MODEL_* caps. n_vocab comes from tokenizer.ggml.tokens,
 * else ARCH.vocab_size, else token_embd.weight; 0 when none exists. */
int orc_hparams_read(const struct orc_gguf *g, struct orc_hparams *ret, struct orc_err *err);

/* Hyper-parameters plus the tensor map: every needed tensor must be present
 * with the shape llama.cpp expects; a missing or mis-shaped tensor is
 * -EBADMSG with its name in the message. */
int orc_model_desc_new(const struct orc_gguf *g, struct orc_model_desc **ret, struct orc_err *err);
void orc_model_desc_free(struct orc_model_desc *d);   /* NULL is a no-op */

/* Bytes of KV cache for n_ctx tokens of one sequence in F32 / F16. */
uint64_t orc_model_kv_bytes(const struct orc_model_desc *d, uint32_t n_ctx, uint32_t elem_bytes);

#endif
