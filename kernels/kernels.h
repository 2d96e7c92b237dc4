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

/* Once per process and device, before any launch (and outside stream
 * capture): raises the shared-memory limits of the kernels that need it. */
cudaError_t orc_k_init(void);

/* Kernels that follow indices from device memory check them and, on a bad
 * one, skip the work and OR a bit into *flag (when flag is not NULL). */
#define ORC_K_BAD_INDEX 1
/* A tensor-core product (mm.cu) met a finite activation beyond the F16
 * range (|x| > 65504): its result is not to be trusted. */
#define ORC_K_F16_RANGE 2

/* ---- embedding gather, row scatter (rows.cu) ---- */
/* out[t, :] (+)= dequant(table row ids[t]) for t < n_tok, table rows of
 * row_len elements `table_stride` bytes apart; ids >= n_rows are flagged.
 * accumulate adds instead of storing. */
cudaError_t orc_k_get_rows(float *out, int ldo, const void *table, int type, int64_t row_len,
			   int64_t table_stride, int64_t n_rows, const int32_t *ids, int n_tok,
			   int accumulate, int *flag, cudaStream_t stream);
/* dst row idx[i] = src row i (F32 -> F32 or F16) for i < n; idx >= n_dst flagged. */
cudaError_t orc_k_set_rows(void *dst, int dst_type, int64_t lddst, int64_t n_dst, const float *src,
			   int ldsrc, const int32_t *idx, int n, int row_len, int *flag,
			   cudaStream_t stream);

/* ---- normalization (norm.cu) ---- */
/* out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, written as otype (F32/F16/BF16).
 * out may alias x. */
cudaError_t orc_k_rmsnorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
			  int n_rows, int dim, float eps, cudaStream_t stream);
/* out[r] = (x[r] - mean) / sqrt(var + eps) * w + b (b may be NULL). */
cudaError_t orc_k_layernorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
			    const float *b, int n_rows, int dim, float eps, cudaStream_t stream);
/* Row-wise softmax; out may alias x. */
cudaError_t orc_k_softmax(float *out, int ldo, const float *x, int ldx, int n_rows, int dim,
			  cudaStream_t stream);

/* ---- rotary position embedding (rope.cu) ---- */
struct orc_k_rope {
	int n_rot;        /* rotated dims per head (even, <= head_dim) */
	int neox;         /* 1: pairs (i, i + n_rot/2) (NeoX, qwen2/phi3); 0: adjacent pairs (llama) */
	float theta;      /* frequency base */
};
/* In place on x [n_tok, ldx]: n_heads heads of head_dim at the row start;
 * pair i of token t turns by pos[t] * theta^(-2i/n_rot), evaluated in double
 * and rounded to float as cos and sin. */
cudaError_t orc_k_rope(float *x, int ldx, const int32_t *pos, int n_tok, int n_heads, int head_dim,
		       const struct orc_k_rope *rope, cudaStream_t stream);

/* RoPE of q and k in place (as orc_k_rope), then k and v rows stored into
 * the caches at rows idx[t] (F32 or F16; bad rows flagged): the
 * arithmetic of orc_k_rope + orc_k_set_rows in one launch. */
struct orc_k_rope_kv {
	float *q; int ldq; int n_head;
	float *k; int ldk;
	const float *v; int ldv;
	int n_kv, head_dim;
	const int32_t *pos, *idx;
	int n_tok;
	void *kc, *vc; int cache_type; int64_t ldc, n_rows;
	int *flag;
};
cudaError_t orc_k_rope_kv(const struct orc_k_rope_kv *a, const struct orc_k_rope *rope, cudaStream_t stream);

/* ---- attention over the paged KV cache (attn_decode.cu, attn_prefill.cu) ----
 * Token t (sequence row seq[t] of block_table, position pos[t]) attends
 * causally to positions 0..pos[t] of its sequence; position p lives in
 * cache row block_table[seq][p / block_size] * block_size + p % block_size,
 * head kvh at column kvh * head_dim. Both kernels compute each (token,
 * head) by one canonical sequence of operations: keys in tiles of 32 with
 * an online softmax, tiles grouped in chunks of ORC_K_ATTN_CHUNK keys whose
 * partial results are folded in order. So a token's output is bit-identical
 * whichever kernel ran it and whatever else was in the batch. */
#define ORC_K_HEAD_DIM_MAX 256
#define ORC_K_ATTN_CHUNK 64
struct orc_k_attn {
	const float *q; int ldq;            /* [n_tok, ldq], head h at h * head_dim */
	const void *k, *v; int kv_type;     /* cache rows, F32 or F16 */
	int64_t ldkv;                       /* elements from one cache row to the next */
	int64_t n_rows;                     /* cache rows (for index checks) */
	const int32_t *pos, *seq;           /* [n_tok] */
	const int32_t *block_table;         /* [n_seq, bt_stride] */
	int bt_stride, n_seq, block_size;
	int n_tok, n_head, n_kv_head, head_dim;
	float scale;
	float *out; int ldo;                /* [n_tok, ldo] */
	int max_keys;                       /* bound on pos[t] + 1 (decode grid size) */
	int *flag;                          /* bad indices, or NULL */
};
/* Scratch of the decode kernel's chunk fold, for at most max_tok tokens
 * and max_keys keys: orc_k_attn_ws_bytes() bytes, zeroed once (the kernel
 * leaves its counters at zero again). */
struct orc_k_attn_ws {
	void *buf;
	int max_tok, max_keys;
};
size_t orc_k_attn_ws_bytes(int max_tok, int n_head, int head_dim, int max_keys);
/* Chunks in parallel, one block per (chunk, 4 heads, token): for few tokens. */
cudaError_t orc_k_attn_decode(const struct orc_k_attn *a, const struct orc_k_attn_ws *ws,
			      cudaStream_t stream);
/* Query tiles of 16 tokens sharing K/V tiles in shared memory when they are
 * consecutive positions of one sequence: for prompts. */
cudaError_t orc_k_attn_prefill(const struct orc_k_attn *a, cudaStream_t stream);

/* ---- matrix-vector products for decode (gemv.cu) ---- */
enum orc_k_act { ORC_K_ACT_NONE = 0, ORC_K_ACT_GELU = 1, ORC_K_ACT_SWIGLU = 2 };
struct orc_k_gemv {
	const void *w; int wtype;  /* [K, N]: N rows of K elements */
	int K, N;
	const float *x; int ldx;   /* [ncols, ldx] */
	int ncols;
	float *y; int ldy;         /* [ncols, ldy] */
	const float *bias;         /* [N] or NULL */
	const float *norm_w;       /* RMSNorm of each x column first (weights [K]), or NULL:
	                            * the same arithmetic as orc_k_rmsnorm() */
	float norm_eps;
	int act;                   /* GELU: y = gelu(Wx + b); SWIGLU: y[j] = silu(g_j) * u_j, with
	                            * g from rows [0, N/2) and u from rows [N/2, N) of w, or,
	                            * when w2 is set, g from row j of w and u from row j of w2 */
	const void *w2;            /* SWIGLU's up rows [K, N] (same type), or NULL */
	const float *bias2;        /* their bias, or NULL */
	int accumulate;            /* y += result (residual) */
	void *ws;                  /* device scratch of ws_bytes, or NULL: with at least
	                            * orc_k_mm_ws_bytes(), a tensor-core product of a few
	                            * dozen columns prepares x there once (faster; the
	                            * same bits either way). One product at a time per
	                            * buffer (stream order). */
	size_t ws_bytes;
	int *flag;                 /* ORC_K_F16_RANGE is ORed in here, or NULL */
};
/* Scratch a product of ncols columns of K of weight type wtype can use (see
 * orc_k_gemv.ws); 0 when it uses none, as for more than ORC_K_MM_WS_COLS. */
#define ORC_K_MM_WS_COLS 128
size_t orc_k_mm_ws_bytes(int wtype, int K, int ncols);
/* What the tensor-core decode products may use besides the one-block
 * kernels, each where it pays: ORC_K_MM_SPLIT spreads a unit's K over a
 * cluster of blocks (sm_90 and later), ORC_K_MM_STREAM streams F16 weights
 * of products without SwiGLU through shared memory (sm_80 and later), and
 * (ORC_K_MM_STREAM_LONG: also those of K beyond 1,024), and
 * ORC_K_MM_PREP prepares x in scratch (orc_k_gemv.ws) once for products of
 * 9 or more columns without a norm too (with one, always). 0 keeps every
 * product on one block per unit of 16 rows, preparing x only for a norm.
 * The results are the same bits either way. For tests and benchmarks; not
 * for use while products run. */
#define ORC_K_MM_SPLIT 1u
#define ORC_K_MM_STREAM 2u
#define ORC_K_MM_PREP 4u      /* prepare x in scratch also without a norm */
#define ORC_K_MM_STREAM_LONG 8u  /* stream also K of more than one round (8 slices) */
#define ORC_K_MM_DEFAULT (ORC_K_MM_SPLIT | ORC_K_MM_STREAM | ORC_K_MM_PREP | ORC_K_MM_STREAM_LONG)
void orc_k_mm_set_kernels(unsigned mask);
/* Each output element is reduced in one fixed order that depends on K and
 * the weight type only: never on ncols, N or the launch. */
cudaError_t orc_k_gemv(const struct orc_k_gemv *a, cudaStream_t stream);
/* Up to 3 products sharing x (and its norm), K, the type and ncols, in one
 * launch (act NONE); each element computed exactly as orc_k_gemv would. */
cudaError_t orc_k_gemv_multi(const struct orc_k_gemv *a, int n, cudaStream_t stream);

/* ---- elementwise (ew.cu) ---- */
/* out[r, c] = act(x[r, c] + bias[c]) (bias may be NULL; act NONE or GELU); out may alias x. */
cudaError_t orc_k_bias_act(void *out, int otype, int ldo, const float *x, int ldx, const float *bias,
			   int act, int n_rows, int n_cols, cudaStream_t stream);
/* out[r, j] = silu(gate[r, j]) * up[r, j]; out may alias gate or up. */
cudaError_t orc_k_swiglu(void *out, int otype, int ldo, const float *gate, int ldg, const float *up,
			 int ldu, int n_rows, int n, cudaStream_t stream);
/* out = a + b over [n_rows, n_cols]; out may alias a or b. */
cudaError_t orc_k_add(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int n_rows,
		      int n_cols, cudaStream_t stream);

/* ---- type conversion (convert.cu) ---- */
/* Dequantize or convert n_rows rows of row_len elements of wtype into otype
 * (F32/F16/BF16), dense [n_rows, row_len]. */
cudaError_t orc_k_convert(void *out, int otype, const void *w, int wtype, int64_t n_rows,
			  int64_t row_len, cudaStream_t stream);

/* ---- sampling (sample.cu) ---- */
/* out[r] = the id of the largest logit of row r (the lowest id on a tie),
 * or -1 when the row holds a NaN or +inf or only -inf: the sampler's
 * greedy pick (orc_sampler_greedy), so that only ids cross to the host. */
cudaError_t orc_k_argmax(const float *logits, int ld, int n_vocab, int n_rows, int32_t *out,
			 cudaStream_t stream);
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
/* The K best logits of each row [n_rows, ld] (1 <= K <= min(n_vocab,
 * ORC_K_TOPK_MAX)) with their ids, best first: a larger logit, then the
 * lower id (sampler.h's candidate order), into out_logit and out_id
 * [n_rows, K]. out_id[row * K] is -1 when the row holds a NaN or +inf or
 * only -inf. */
cudaError_t orc_k_topk(const float *logits, int ld, int n_vocab, int n_rows, int K, float *out_logit,
		       int32_t *out_id, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
