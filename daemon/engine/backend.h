/* backend.h -- the compute backend ops table (CPU now, CUDA later).
 * The model graph (graph.c) is backend-agnostic: it allocates backend
 * buffers, uploads weights once in their stored format, uploads a few small
 * index buffers per step, and calls the ops below on 2-D views of backend
 * memory. Each backend fills one struct orc_backend_ops. Library code. */
#ifndef ORC_BACKEND_H
#define ORC_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"      /* enum orc_backend_kind */
#include "error.h"
#include "quant.h"

struct orc_backend;
struct orc_bbuf;            /* opaque: memory owned by a backend */

/* ---- tensors: 2-D views of backend memory ----
 * Row r, element i lives at buf + offset + r * nb1 + (bytes of i elements).
 * Weights have their stored type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q4_K, Q5_K, Q6_K) and rows of ne0 elements (a multiple of the block).
 * Activations are F32; index buffers are I32 (ne1 = 1, ne0 = count, or rows
 * of a table). An F32 view may be a column slice of a wider tensor
 * (nb1 > ne0 * 4, e.g. Q inside a fused QKV output): every op accepts such
 * strided views for its inputs and outputs unless stated otherwise. */
struct orc_tensor {
	struct orc_bbuf *buf;
	uint64_t offset;        /* bytes from the start of buf */
	enum orc_type type;
	uint32_t ne0;           /* elements per row */
	uint32_t ne1;           /* rows */
	uint64_t nb1;           /* bytes from one row to the next */
};

/* The layout checks both backends make on view t of a buffer of buf_size
 * bytes, operand `what` of op `op` (both named in the message): [ne1, ne0]
 * where those are nonzero, rows of whole blocks, a stride of at least one
 * row, every row inside the buffer, and F32 / I32 views 4-byte aligned.
 * 0 or -EINVAL (backend_view.c). */
int orc_tensor_check_layout(const struct orc_tensor *t, uint64_t buf_size, const char *op, const char *what,
			    uint32_t ne0, uint32_t ne1, struct orc_err *err);
/* The shape rule of the topk op beyond the layout checks: K = out_logit's
 * ne0 from 1 to min(x's ne0, ORC_SAMPLE_TOPK_MAX), rows of out_logit and
 * out_id packed (K elements apart). 0 or -EINVAL (backend_view.c). */
int orc_topk_check_k(const struct orc_tensor *x, const struct orc_tensor *out_logit,
		     const struct orc_tensor *out_id, struct orc_err *err);
/* The type's name for messages; "?" for an unknown type. */
const char *orc_tensor_type_name(enum orc_type t);

/* What a buffer is for; a backend may place them differently (pinned, VRAM). */
enum orc_buf_usage {
	ORC_BUF_WEIGHTS,        /* written once at load, then read-only */
	ORC_BUF_KV,             /* the paged KV cache */
	ORC_BUF_SCRATCH,        /* activations of one step */
	ORC_BUF_IO,             /* per-step inputs (ids, positions, ...) and logits */
};

/* Arguments of the attention op. Each token t belongs to sequence row
 * tok_seq[t] of block_table, sits at position pos[t] of that sequence, and
 * attends causally to positions 0..pos[t] of its sequence, whose K/V rows
 * are at cache row block_table[s][p / block_size] * block_size + p % block_size.
 * Those rows (the token's own included) were written by set_rows before. */
struct orc_attn_args {
	const struct orc_tensor *q;           /* F32 [n_tok, n_head * head_dim] */
	const struct orc_tensor *k_cache;     /* [n_blocks * block_size, n_head_kv * head_dim] */
	const struct orc_tensor *v_cache;     /* same shape and type as k_cache */
	const struct orc_tensor *pos;         /* I32 [n_tok] */
	const struct orc_tensor *tok_seq;     /* I32 [n_tok] */
	const struct orc_tensor *block_table; /* I32 [n_seq, max_blocks] (rows = sequences) */
	uint32_t block_size;
	uint32_t n_head, n_head_kv, head_dim; /* query head h reads KV head h / (n_head / n_head_kv) */
	float scale;                          /* usually 1 / sqrt(head_dim) */
	const struct orc_tensor *out;         /* F32 [n_tok, n_head * head_dim] */
};

/* Rotary position embedding parameters. For pair i (0 <= i < n_rot / 2) of
 * each head, angle = pos * theta^(-2i / n_rot), evaluated in double and
 * rounded to float as cos/sin. llama layout rotates (x[2i], x[2i+1]); NeoX
 * layout (neox = true) rotates (x[i], x[i + n_rot/2]). Dims >= n_rot pass. */
struct orc_rope_args {
	uint32_t n_head, head_dim, n_rot;
	float theta;
	bool neox;
};

/* Identifies one step's op sequence for capture (CUDA graphs). The graph
 * code guarantees: two steps with equal keys issue the identical sequence
 * of ops with identical arguments (same buffers, offsets and shapes); all
 * that changes between them is the content of ORC_BUF_IO buffers written by
 * buf_set before step_begin. */
#define ORC_STEP_KEEP_MAX 4
struct orc_step_key {
	uint32_t n_tok;         /* tokens in the step */
	uint32_t n_seq;         /* rows of the block table */
	uint32_t n_out;         /* rows that get logits */
	uint32_t variant;       /* graph-specific; 0 for now */
};

/* The most a model's steps ask of a backend's ops, for reserve: tokens a
 * step, attention's shape and the keys a sequence's block table spans, and
 * the 2-D weights that matmul reads (their types and K). */
struct orc_backend_plan {
	uint32_t n_tok;                       /* tokens in one step, at most */
	uint32_t n_head, head_dim;            /* query heads of attention and their size */
	uint32_t max_keys;                    /* block table columns * block_size */
	const struct orc_tensor *weights;     /* [n_weights] */
	size_t n_weights;
};

/* ---- the ops table ----
 * Ops are ENQUEUED in call order and may run asynchronously (a CUDA stream).
 * They return nothing: a failure (an unsupported type, a device error) is
 * recorded in the backend, later ops may be skipped, and the first failure
 * is returned with its message by the next synchronize, buf_get or step_end
 * (a sticky error, cleared when reported). No op requires the host to wait
 * for an earlier one; only buf_get and synchronize wait.
 *
 * Reproducibility contract for every op: each output element is computed by
 * a sequence of floating-point operations that depends only on that
 * element's own inputs and the op's shape parameters along its reduction
 * (k of matmul, ne0 of norms, the token's context of attention), never on
 * n_tok, on the row's place in the batch, on other rows or on the number of
 * threads. So a sequence's results are bit-identical whatever it is batched
 * with, on a given backend and machine.
 *
 * Members marked REQUIRED must be set; OPTIONAL ones may be NULL, and the
 * stated default applies. Views passed to an op never overlap unless the op
 * says that aliasing is allowed. */
struct orc_backend_ops {
	const char *name;                    /* REQUIRED: "cpu", "cuda" */
	/* OPTIONAL: the type of the KV cache rows that set_rows writes and
	 * attention reads: F32 (0, the default; the CPU backend's) or F16. */
	enum orc_type kv_type;
	/* OPTIONAL: set_rows and attention also take F16 cache rows, so that a
	 * model may ask for them (orc_model_opts.kv_f16). */
	bool kv_f16;
	/* OPTIONAL: whether matmul and get_rows read weights stored as t, asked
	 * at load so that a model the backend cannot run fails there. NULL:
	 * every type that orc_dequant_row() reads. */
	bool (*weight_ok)(enum orc_type t);

	/* REQUIRED. Free the backend. Buffers must have been freed before. */
	void (*free)(struct orc_backend *be);

	/* ---- memory ---- */
	/* REQUIRED. Allocate size bytes (contents undefined). -ENOMEM with the
	 * size and usage in the message when it does not fit. */
	int (*buf_alloc)(struct orc_backend *be, uint64_t size, enum orc_buf_usage usage,
			 struct orc_bbuf **ret, struct orc_err *err);
	/* REQUIRED. NULL is a no-op. Waits for pending ops that use it. */
	void (*buf_free)(struct orc_backend *be, struct orc_bbuf *b);
	/* OPTIONAL. A weight buffer holding the `size` host bytes at `host`, which
	 * stay valid and unchanged until buf_free (the mmap'ed GGUF). The CPU
	 * backend uses them in place (no copy). Default (NULL): the caller uses
	 * buf_alloc(ORC_BUF_WEIGHTS) + buf_set. */
	int (*buf_wrap_host)(struct orc_backend *be, const void *host, uint64_t size,
			     struct orc_bbuf **ret, struct orc_err *err);
	/* REQUIRED. Copy host bytes into the buffer, ordered after the ops
	 * enqueued before it and before those enqueued after it. `src` may be
	 * reused as soon as it returns. -EINVAL when the range is outside. */
	int (*buf_set)(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset,
		       const void *src, uint64_t size, struct orc_err *err);
	/* REQUIRED. Wait for every enqueued op, then copy bytes to the host.
	 * Returns the sticky error first, if any. */
	int (*buf_get)(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset,
		       void *dst, uint64_t size, struct orc_err *err);
	/* REQUIRED. Wait for every enqueued op; return the sticky error. */
	int (*synchronize)(struct orc_backend *be, struct orc_err *err);
	/* OPTIONAL. Free and total bytes of the memory this backend places
	 * buffers in (device memory; the host's RAM for the CPU backend); 0 and
	 * 0 when they cannot be read. Any thread may call it, also while ops
	 * run (orc_model_get_device_info, status). Default: unknown (the
	 * caller treats it as unlimited and relies on buf_alloc failing). */
	void (*mem_info)(struct orc_backend *be, uint64_t *ret_free, uint64_t *ret_total);
	/* OPTIONAL. The device's name ("NVIDIA H100 80GB HBM3"; the CPU's
	 * model name), NUL-terminated in buf[size]. Any thread. Default: "". */
	void (*device_name)(struct orc_backend *be, char *buf, size_t size);
	/* OPTIONAL. Allocate now the working memory of the backend's own (not
	 * the caller's buffers) that steps within the plan will use, so that it
	 * counts in the model's memory and a model that cannot fit fails at
	 * load, not in a step. *bytes: what the backend's own working memory
	 * holds after the call (also with an empty plan). -ENOMEM with the sizes
	 * when it does not fit. Default: the backend keeps none. */
	int (*reserve)(struct orc_backend *be, const struct orc_backend_plan *plan, uint64_t *bytes,
		       struct orc_err *err);

	/* ---- step capture ---- */
	/* OPTIONAL (both or neither). The ops between step_begin and step_end form
	 * one step (see struct orc_step_key); no buf_set/buf_get/synchronize in
	 * between. A backend may record them the first time a key is seen and
	 * replay the recording at step_end later (treating the op calls of a
	 * replayed step as no-ops). step_end launches the step and returns the
	 * sticky error. Default: ops run as they are called. */
	void (*step_begin)(struct orc_backend *be, const struct orc_step_key *key);
	int (*step_end)(struct orc_backend *be, struct orc_err *err);
	/* OPTIONAL. Inside a step: view t is read after the step ends (by a
	 * later step, or buf_get). Once a step has kept a view, what its ops
	 * write to ORC_BUF_SCRATCH buffers and no kept view overlaps is dead
	 * when the step ends, so that a backend may fuse away the writes (a
	 * step that keeps nothing keeps all). Up to ORC_STEP_KEEP_MAX views a
	 * step. Default: no-op. */
	void (*step_keep)(struct orc_backend *be, const struct orc_tensor *t);

	/* ---- ops (all REQUIRED) ---- */
	/* out[i] = dequant(table row ids[i]).
	 * table: any weight type or F32 [n_rows, ne0]; ids: I32 [1, n] with
	 * 0 <= ids[i] < n_rows (the caller checks); out: F32 [n, ne0]. */
	void (*get_rows)(struct orc_backend *be, const struct orc_tensor *table,
			 const struct orc_tensor *ids, const struct orc_tensor *out);

	/* out[t][r] = sum_k w[r][k] * x[t][k] (+ bias[r]).
	 * w: weight [n, k] of any supported type; x: F32 [n_tok, k];
	 * bias: F32 [1, n] or NULL; out: F32 [n_tok, n]. The weights are read in
	 * their stored type (dequantized on the fly, exactly as orc_dequant_row
	 * would) and products are accumulated in F32. */
	void (*matmul)(struct orc_backend *be, const struct orc_tensor *w,
		       const struct orc_tensor *x, const struct orc_tensor *bias,
		       const struct orc_tensor *out);

	/* out = a + b, elementwise over [n, ne0]. out may alias a or b. */
	void (*add)(struct orc_backend *be, const struct orc_tensor *a,
		    const struct orc_tensor *b, const struct orc_tensor *out);

	/* out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w. x, out: F32 [n, ne0];
	 * w: F32 [1, ne0]. out may alias x. */
	void (*rms_norm)(struct orc_backend *be, const struct orc_tensor *x,
			 const struct orc_tensor *w, float eps, const struct orc_tensor *out);

	/* out[t] = (x[t] - mean) / sqrt(var + eps) * w + b (biased variance).
	 * w, b: F32 [1, ne0]. out may alias x. */
	void (*layer_norm)(struct orc_backend *be, const struct orc_tensor *x,
			   const struct orc_tensor *w, const struct orc_tensor *b, float eps,
			   const struct orc_tensor *out);

	/* Rotate x in place: x F32 [n_tok, n_head * head_dim], pos I32 [1, n_tok]. */
	void (*rope)(struct orc_backend *be, const struct orc_tensor *x,
		     const struct orc_tensor *pos, const struct orc_rope_args *args);

	/* dst row idx[i] = src row i, converted to dst's type (F32; a backend may
	 * also accept F16 for its KV cache). src: F32 [n, ne0]; idx: I32 [1, n],
	 * distinct and < dst->ne1 (the caller checks). */
	void (*set_rows)(struct orc_backend *be, const struct orc_tensor *src,
			 const struct orc_tensor *idx, const struct orc_tensor *dst);

	/* Causal grouped-query attention over the paged KV cache (see
	 * struct orc_attn_args): out = softmax(q K^T * scale) V per head. */
	void (*attention)(struct orc_backend *be, const struct orc_attn_args *args);

	/* out = silu(gate) * up = gate / (1 + exp(-gate)) * up; all [n, ne0].
	 * out may alias gate or up. */
	void (*swiglu)(struct orc_backend *be, const struct orc_tensor *gate,
		       const struct orc_tensor *up, const struct orc_tensor *out);

	/* out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). out may alias x. */
	void (*gelu)(struct orc_backend *be, const struct orc_tensor *x,
		     const struct orc_tensor *out);

	/* Row-wise softmax of F32 [n, ne0]. out may alias x. */
	void (*softmax)(struct orc_backend *be, const struct orc_tensor *x,
			const struct orc_tensor *out);

	/* out[r] = orc_sampler_greedy(row r of x) (sampler.h): greedy picks
	 * where the logits are, so that only ids cross to the host. x: F32
	 * [n, ne0]; out: I32 [1, n]. */
	void (*argmax)(struct orc_backend *be, const struct orc_tensor *x,
		       const struct orc_tensor *out);

	/* OPTIONAL (NULL: samplers read the logits on the host). The K best
	 * logits of each row of x with their ids, best first in the sampler's
	 * candidate order (sampler.h, stage 3), so that a sampler with top-k
	 * needs only these: out_logit[r] and out_id[r] for row r; out_id[r][0]
	 * is -1 where orc_sampler_greedy() would refuse the row. x: F32
	 * [n, ne0]; out_logit: F32 [n, K]; out_id: I32 [n, K], both packed;
	 * 1 <= K <= min(ne0, ORC_SAMPLE_TOPK_MAX) (orc_topk_check_k). */
	void (*topk)(struct orc_backend *be, const struct orc_tensor *x,
		     const struct orc_tensor *out_logit, const struct orc_tensor *out_id);
};

/* A backend instance. Backends allocate it and fill both fields. */
struct orc_backend {
	const struct orc_backend_ops *ops;
	void *ctx;                           /* backend-private */
};

/* ---- creating a backend ---- */
struct orc_backend_opts {
	int n_threads;          /* CPU: worker threads; 0 = the cores available to us */
	int device;             /* CUDA: device ordinal */
};

/* The CPU backend: a thread pool plus SIMD kernels chosen at run time. */
int orc_backend_cpu_new(const struct orc_backend_opts *opts, struct orc_backend **ret,
			struct orc_err *err);
/* Threads the CPU backend uses (for reports); 0 for other backends. */
int orc_backend_cpu_threads(const struct orc_backend *be);
/* The SIMD kernel set in use: "avx2", "generic". */
const char *orc_backend_cpu_simd(const struct orc_backend *be);

/* The CUDA backend (helper code in backend_cuda*.c, only built with
 * HAVE_CUDA): -ENODEV with a message when no usable GPU is present. */
int orc_backend_cuda_new(const struct orc_backend_opts *opts, struct orc_backend **ret,
			 struct orc_err *err);

/* The one place that chooses: CPU; CUDA (-ENODEV with a clear message when
 * it is not built in or no GPU is usable); or AUTO (CUDA when it starts,
 * else CPU; *ret_fallback_msg, when not NULL, receives why CUDA was not used
 * or "" so the caller can log it once). */
int orc_backend_new(enum orc_backend_kind kind, const struct orc_backend_opts *opts, struct orc_backend **ret,
		    char *ret_fallback_msg, size_t fallback_len, struct orc_err *err);

/* The device a backend runs on (device.c): name and memory through the
 * optional members above; gpu is set for every backend but the CPU's. */
void orc_backend_describe(struct orc_backend *be, struct orc_device_info *ret);
/* The host's RAM (/proc/meminfo: MemAvailable, MemTotal; 0 and 0 when
 * unreadable) and CPU model name (/proc/cpuinfo; "" when absent), for
 * backends whose memory is the host's. */
void orc_host_mem_info(uint64_t *ret_free, uint64_t *ret_total);
void orc_host_cpu_name(char *buf, size_t size);

static inline void orc_backend_free(struct orc_backend *be)
{
	if (be)
		be->ops->free(be);
}

/* Bytes of one row of a view's type (0 when ne0 is not a multiple of the block). */
static inline uint64_t orc_tensor_row_bytes(const struct orc_tensor *t)
{
	return orc_type_row_bytes(t->type, t->ne0);
}

#endif
