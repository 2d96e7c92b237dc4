/* kernels.h -- C launchers of orcd's CUDA kernels (one op per .cu file in kernels/).
 * Every launcher enqueues work on `stream`, returns the launch's
 * cudaError_t (cudaSuccess, or cudaErrorInvalidValue for arguments it
 * refuses) and never synchronizes. Activations are row-major, F32 unless a
 * parameter says otherwise; weights keep ggml's layout: a [K, N] tensor is
 * N rows of K elements in the tensor's block format. Usable from C11. */
#ifndef ORC_KERNELS_H
#define ORC_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tensor types, numbered as ggml (and enum orc_type) number them. */
#define ORC_KT_F32   0
#define ORC_KT_F16   1
#define ORC_KT_Q4_0  2
#define ORC_KT_Q8_0  8
#define ORC_KT_Q4_K 12
#define ORC_KT_Q6_K 14
#define ORC_KT_BF16 30

/* Elements per block of a type the kernels read (0 when unsupported). */
int orc_k_type_block(int type);
/* Bytes of one row of n elements (n a multiple of the block), -1 if unsupported. */
int64_t orc_k_row_bytes(int type, int64_t n);

/* ---- embedding gather (embed.cu) ---- */
/* out[t, :] (+)= dequant(table row ids[t]); ids on the device, checked by
 * the caller. accumulate adds instead of storing (learned positions). */
cudaError_t orc_k_embed(float *out, int ldo, const void *table, int type, int64_t row_len,
			const int32_t *ids, int n_tok, int accumulate, cudaStream_t stream);

/* ---- normalization (norm.cu) ---- */
/* out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, written as otype (F32/F16/BF16). */
cudaError_t orc_k_rmsnorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
			  int n_rows, int dim, float eps, cudaStream_t stream);
/* out[r] = (x[r] - mean) / sqrt(var + eps) * w + b (b may be NULL). */
cudaError_t orc_k_layernorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
			    const float *b, int n_rows, int dim, float eps, cudaStream_t stream);

/* ---- rotary position embedding (rope.cu) ---- */
struct orc_k_rope {
	int n_rot;        /* rotated dims per head (even, <= head_dim) */
	int neox;         /* 1: pairs (i, i + n_rot/2) (NeoX, qwen2/phi3); 0: adjacent pairs (llama) */
	float theta;      /* frequency base */
};
/* In place on x [n_tok, ldx]: n_heads heads of head_dim at the row start;
 * token t rotated by angle pos[t] * theta^(-2i/n_rot). */
cudaError_t orc_k_rope(float *x, int ldx, const int32_t *pos, int n_tok, int n_heads, int head_dim,
		       const struct orc_k_rope *rope, cudaStream_t stream);

/* ---- paged KV cache ---- */
#define ORC_KV_BLOCK 32   /* tokens per page */
/* One layer's cache. Page p of K holds [n_kv_head][ORC_KV_BLOCK][head_dim]
 * elements of `type` (F32 or F16); V likewise. Sequence slot s stores
 * position j in page block_table[s * bt_stride + j / ORC_KV_BLOCK]. */
struct orc_k_kv {
	void *k, *v;
	int type;
	const int32_t *block_table;
	int bt_stride;
	int n_kv_head, head_dim;
};
/* qkv [n_tok, ldqkv] = q (n_head*hd) | k (n_kv*hd) | v (n_kv*hd). Adds bias
 * [(n_head + 2 n_kv) * hd] when given, applies RoPE to q and k, writes q to
 * q_out [n_tok, n_head*hd] and k, v into the cache at (slot[t], pos[t]). */
cudaError_t orc_k_rope_store(const float *qkv, int ldqkv, const float *bias, float *q_out,
			     const struct orc_k_kv *kv, const int32_t *pos, const int32_t *slot,
			     int n_tok, int n_head, const struct orc_k_rope *rope, cudaStream_t stream);

/* ---- attention (attn_prefill.cu, attn_decode.cu) ---- */
#define ORC_K_HEAD_DIM_MAX 256
/* Prefill of one sequence chunk: q [n_tok, ldq] (n_head heads, after RoPE)
 * for positions pos0 .. pos0+n_tok-1 of sequence `slot`, whose K/V
 * (positions 0 .. pos0+n_tok-1) are in the cache. Causal, grouped-query.
 * out [n_tok, ldo] as otype. Tiled with an online softmax. */
cudaError_t orc_k_attn_prefill(void *out, int otype, int ldo, const float *q, int ldq,
			       const struct orc_k_kv *kv, int slot, int pos0, int n_tok, int n_head,
			       float scale, cudaStream_t stream);

/* Decode: token t (sequence slot[t], position pos[t]) attends over
 * positions 0..pos[t]. Keys are split in chunks of ORC_K_ATTN_SPLIT; the
 * chunk count depends on pos[t] only, so results never depend on the batch.
 * max_splits bounds the chunks of every token of this call (grid size; a
 * graph captured with a bound stays valid while positions fit it). */
#define ORC_K_ATTN_SPLIT 256
/* Scratch of the split combine, allocated by the caller for at most
 * max_tok tokens and max_splits chunks, zeroed once (the kernel leaves its
 * counters at zero again). */
struct orc_k_attn_ws {
	void *buf;
	int max_tok, max_splits;
};
size_t orc_k_attn_decode_ws_bytes(int max_tok, int n_head, int head_dim, int max_splits);
/* out [n_tok, ldo] F32 */
cudaError_t orc_k_attn_decode(float *out, int ldo, const float *q, int ldq,
			      const struct orc_k_kv *kv, const int32_t *pos, const int32_t *slot,
			      int n_tok, int n_head, float scale, int max_splits,
			      const struct orc_k_attn_ws *ws, cudaStream_t stream);

/* ---- matrix-vector products for decode (gemv.cu) ---- */
enum orc_k_act { ORC_K_ACT_NONE = 0, ORC_K_ACT_GELU = 1, ORC_K_ACT_SWIGLU = 2 };
struct orc_k_gemv {
	const void *w; int wtype;  /* [K, N]: N rows of K elements */
	int K, N;
	const float *x; int ldx;   /* [ncols, ldx] */
	int ncols;
	float *y; int ldy;         /* [ncols, ldy] */
	const float *bias;         /* [N] or NULL */
	const float *norm_w;       /* RMSNorm of each x column first (weights [K]), or NULL */
	float norm_eps;
	int act;                   /* GELU: y = gelu(Wx + b); SWIGLU: rows [0, N/2) gate and
	                            * [N/2, N) up, y[j] = silu(g_j) * u_j, N/2 outputs */
	int accumulate;            /* y += result (residual) */
};
/* Each output element is reduced in one fixed order that depends on K and
 * the weight type only: never on ncols, N or the launch. */
cudaError_t orc_k_gemv(const struct orc_k_gemv *a, cudaStream_t stream);

/* ---- elementwise (ew.cu) ---- */
/* out[r, c] = act(x[r, c] + bias[c]) (bias may be NULL; act NONE or GELU). */
cudaError_t orc_k_bias_act(void *out, int otype, int ldo, const float *x, int ldx, const float *bias,
			   int act, int n_rows, int n_cols, cudaStream_t stream);
/* out[r, j] = silu(gu[r, j]) * gu[r, n + j] for j < n. */
cudaError_t orc_k_swiglu(void *out, int otype, int ldo, const float *gu, int ldgu, int n_rows, int n,
			 cudaStream_t stream);
/* y[r, c] += x[r, c] */
cudaError_t orc_k_add(float *y, int ldy, const float *x, int ldx, int n_rows, int n_cols,
		      cudaStream_t stream);

/* ---- type conversion (convert.cu) ---- */
/* Dequantize or convert n_rows rows of row_len elements of wtype into otype
 * (F32/F16/BF16), dense [n_rows, row_len]. */
cudaError_t orc_k_convert(void *out, int otype, const void *w, int wtype, int64_t n_rows,
			  int64_t row_len, cudaStream_t stream);

/* ---- sampling (sample.cu) ---- */
#define ORC_K_TOPK_MAX 1024
#define ORC_K_LOGPROBS_MAX 20
struct orc_k_sample_params {
	float temp;       /* <= 0: greedy (lowest id among equal maxima) */
	int top_k;        /* 0 or > ORC_K_TOPK_MAX: no top-k */
	float top_p;      /* 1: off */
	float min_p;      /* 0: off */
	float u;          /* uniform in [0, 1) drawn by the caller's RNG for this row */
	int n_logprobs;   /* top log-probabilities wanted, 0..ORC_K_LOGPROBS_MAX */
};
struct orc_k_sample_result {
	int32_t id;
	float logprob;                          /* log softmax(raw logits)[id] */
	int32_t top_id[ORC_K_LOGPROBS_MAX];     /* the n_logprobs most likely, descending */
	float top_logprob[ORC_K_LOGPROBS_MAX];
};
/* One row of logits [n_rows, ld] per sequence. Temperature first, then
 * top-k, top-p (nucleus) and min-p over the temperature-scaled softmax;
 * without top-k, top-p and min-p consider the ORC_K_TOPK_MAX most likely
 * tokens only. With no truncation at all it samples the whole vocabulary.
 * params and res live on the device. */
cudaError_t orc_k_sample(const float *logits, int ld, int n_vocab, int n_rows,
			 const struct orc_k_sample_params *params, struct orc_k_sample_result *res,
			 cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
