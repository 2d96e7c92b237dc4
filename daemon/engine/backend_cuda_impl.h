/* backend_cuda_impl.h -- what the CUDA backend's files share: its context
 * (device, stream, pinned staging, memory accounting, the sticky error,
 * captured step graphs), buffers, the CUDA check macro and view checks.
 * Private to backend_cuda*.c. */
#ifndef ORC_BACKEND_CUDA_IMPL_H
#define ORC_BACKEND_CUDA_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <cuda_runtime_api.h>

#include "backend.h"
#include "kernels.h"

#define CU_STAGE_BYTES   (8u << 20)   /* one pinned staging buffer for large copies */
#define CU_IORING_BYTES  (1u << 20)   /* pinned ring for small per-step uploads */
#define CU_SMALL_COPY    (64u << 10)  /* uploads up to this size go through the ring */
#define CU_GRAPHS_MAX    64           /* captured steps kept (least recently used dropped) */
#define CU_CAPTURE_TOK   64           /* steps of more tokens run uncaptured */
#define CU_DECODE_TOK    64           /* attention of at most this many tokens: decode kernel */
#define CU_NORM_FUSE_TOK 4            /* norms fused into GEMVs for steps of at most this many tokens */

struct orc_bbuf {
	void *dev;
	uint64_t size;
	enum orc_buf_usage usage;
};

/* A step seen before (exec == NULL until it was captured). */
struct cu_graph {
	struct orc_step_key key;
	cudaGraphExec_t exec;
	uint64_t last_use;
	bool used;
};

enum cu_mode { CU_DIRECT, CU_CAPTURE, CU_REPLAY };

/* One op as called, recorded during a step so that backend_cuda_fuse.c can
 * merge neighbours into fused launches at step_end. Operand slots:
 *   GET_ROWS table ids out | MATMUL w x bias out w2 bias2 norm_w |
 *   ADD a b out | RMS x w out | LN x w b out | ROPE x pos |
 *   SET_ROWS src idx dst | ATTN q k v pos tok_seq table out |
 *   SWIGLU gate up out | GELU x out | SOFTMAX x out */
enum cu_rk { CU_GET_ROWS, CU_MATMUL, CU_ADD, CU_RMS, CU_LN, CU_ROPE, CU_SET_ROWS, CU_ATTN, CU_SWIGLU,
	     CU_GELU, CU_SOFTMAX, CU_ARGMAX, CU_TOPK };
#define CU_REC_T 7

struct cu_rec {
	enum cu_rk k;
	struct orc_tensor t[CU_REC_T];
	uint8_t has;                  /* bit i: t[i] is given */
	float eps;                    /* norms; a fused norm's epsilon for MATMUL */
	struct orc_rope_args rope;
	struct orc_attn_args attn;    /* scalars only; its tensors are in t[] */
	/* set by the fusion passes */
	bool dead;                    /* merged into another record */
	bool grouped;                 /* launched by the head of its group */
	uint8_t glu;                  /* MATMUL: 1 SwiGLU over [gate | up] rows, 2 with w2 */
	bool accumulate;              /* MATMUL: out += product */
	uint8_t group;                /* MATMUL: products launched together; ROPE: 4 = rope+store */
};

struct cu_ctx {
	int device;
	char name[256];
	cudaStream_t stream;          /* every op and copy, in order */
	void *stage[2];               /* pinned, CU_STAGE_BYTES each */
	cudaEvent_t stage_ev[2];      /* last copy out of each staging buffer */
	uint8_t *ioring;              /* pinned, CU_IORING_BYTES */
	uint64_t io_off;
	cudaEvent_t io_ev;
	int *dflag, *hflag;           /* bad-index flag on the device / pinned host copy */

	uint64_t used[4];             /* bytes allocated per enum orc_buf_usage */

	void *mm_ws;                  /* prepared activations of tensor-core products */
	size_t mm_ws_bytes;
	void *attn_ws;                /* decode attention scratch */
	size_t attn_ws_bytes;
	int ws_heads, ws_hd, ws_keys;

	struct cu_rec *recs;          /* the step being recorded */
	size_t n_recs, cap_recs;
	bool in_step;
	struct orc_tensor keep[ORC_STEP_KEEP_MAX];   /* read after the step (step_keep) */
	int n_keep;                   /* 0: the step keeps all it writes; -1: too many kept */

	enum cu_mode mode;
	struct cu_graph graphs[CU_GRAPHS_MAX];
	int cur;                      /* graph slot of the step being captured or replayed */
	uint64_t clock;

	struct orc_err err;           /* the sticky error; err.code != 0 when set */
};

static inline struct cu_ctx *cu_ctx(struct orc_backend *be)
{
	return be->ctx;
}

/* Record the first failure (later ones are dropped); returns false. */
bool cu_fail(struct cu_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Check a CUDA status: on failure record -EIO naming the statement, file
 * and line as the sticky error and return false. Never logs, never aborts. */
#define CU_OK(c, stmt) cu_ok((c), (stmt), #stmt, __FILE__, __LINE__)
bool cu_ok(struct cu_ctx *c, cudaError_t e, const char *what, const char *file, int line);
/* The same for functions that report through their own struct orc_err:
 * returns 0, or -EIO with the message in err. */
#define CU_TRY(err, stmt) cu_try((err), (stmt), #stmt, __FILE__, __LINE__)
int cu_try(struct orc_err *err, cudaError_t e, const char *what, const char *file, int line);

/* Return the sticky error into err and clear it; 0 when none. With drain,
 * first wait for the stream and read (and clear) the device's bad-index flag. */
int cu_take_error(struct cu_ctx *c, bool drain, struct orc_err *err);

/* True when ops must not launch: a replayed step, or an earlier failure. */
static inline bool cu_skip(const struct cu_ctx *c)
{
	return c->mode == CU_REPLAY || c->err.code != 0;
}

/* Device address of a view's first element. */
static inline void *cu_ptr(const struct orc_tensor *t)
{
	return (uint8_t *)t->buf->dev + t->offset;
}

/* Check a view as the CPU backend does (inside its buffer, type, shape,
 * alignment); type ORC_TYPE_COUNT accepts any weight type the kernels read. */
bool cu_check(struct cu_ctx *c, const char *op, const char *what, const struct orc_tensor *t,
	      enum orc_type type, uint32_t ne0, uint32_t ne1);
/* Elements from one row of an F32/I32/F16 view to the next. */
static inline int64_t cu_ld(const struct orc_tensor *t)
{
	return (int64_t)(t->nb1 / (t->type == ORC_TYPE_F16 ? 2 : 4));
}

/* Launch status of a kernel call, recorded as op `op` on failure. */
bool cu_launch(struct cu_ctx *c, cudaError_t e, const char *op);

/* Drop every captured step's graph (buffers they use changed); the keys
 * stay remembered as seen, so each is captured again at its next sight. */
void cu_graphs_clear(struct cu_ctx *c);

/* ---- memory (backend_cuda_mem.c) ---- */
/* Replace the scratch buffer *p (*size bytes, or NULL) by a new one of
 * need bytes; outside captured steps only. An old buffer is freed after
 * the stream drains, and the captured steps that hold it are dropped.
 * cudaSuccess; or the wait's error (also made the sticky error), or the
 * allocation's (not: the caller decides), with *p NULL and *size 0. */
cudaError_t cu_scratch_realloc(struct cu_ctx *c, void **p, size_t *size, size_t need);
/* The same at load (reserve): 0, or -ENOMEM naming the sizes when the new
 * buffer does not fit (*p NULL then), or the wait's CUDA error. */
int cu_scratch_reserve(struct cu_ctx *c, void **p, size_t *size, size_t need, struct orc_err *err);
int cu_buf_alloc(struct orc_backend *be, uint64_t size, enum orc_buf_usage usage, struct orc_bbuf **ret,
		 struct orc_err *err);
void cu_buf_free(struct orc_backend *be, struct orc_bbuf *b);
int cu_buf_set(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset, const void *src, uint64_t size,
	       struct orc_err *err);
int cu_buf_get(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset, void *dst, uint64_t size,
	       struct orc_err *err);
void cu_mem_info(struct orc_backend *be, uint64_t *ret_free, uint64_t *ret_total);
int cu_staging_new(struct cu_ctx *c, struct orc_err *err);
void cu_staging_free(struct cu_ctx *c);

/* ---- recording and fusion (backend_cuda_fuse.c) ---- */
/* Record an op inside a step, or run it now outside one. */
void cu_submit(struct cu_ctx *c, const struct cu_rec *r);
/* The step_keep op. */
void cu_step_keep(struct orc_backend *be, const struct orc_tensor *t);
/* Fuse the recorded step and launch it; clears the record. */
void cu_flush(struct cu_ctx *c);
/* Size the scratch the recorded step's ops will use (outside a capture),
 * so that it can be captured: kernels may not allocate inside one. */
void cu_reserve(struct cu_ctx *c);
/* Launch records[i] (and the rest of its group); returns how many it used. */
size_t cu_run(struct cu_ctx *c, const struct cu_rec *recs, size_t i, size_t n);

/* ---- ops (backend_cuda_ops.c) ---- */
/* The reserve op: the decode attention scratch and the products' prepared
 * activations for the plan's shapes, allocated now. */
int cu_op_reserve(struct orc_backend *be, const struct orc_backend_plan *p, uint64_t *bytes, struct orc_err *err);
void cu_run_get_rows(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_matmul(struct cu_ctx *c, const struct cu_rec *const *g, size_t n);
void cu_run_add(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_rms(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_ln(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_rope(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_rope_kv(struct cu_ctx *c, const struct cu_rec *const *g);
void cu_run_set_rows(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_attn(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_swiglu(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_gelu(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_softmax(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_argmax(struct cu_ctx *c, const struct cu_rec *r);
void cu_run_topk(struct cu_ctx *c, const struct cu_rec *r);

void cu_op_get_rows(struct orc_backend *be, const struct orc_tensor *table, const struct orc_tensor *ids,
		    const struct orc_tensor *out);
void cu_op_matmul(struct orc_backend *be, const struct orc_tensor *w, const struct orc_tensor *x,
		  const struct orc_tensor *bias, const struct orc_tensor *out);
void cu_op_add(struct orc_backend *be, const struct orc_tensor *a, const struct orc_tensor *b,
	       const struct orc_tensor *out);
void cu_op_rms_norm(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *w, float eps,
		    const struct orc_tensor *out);
void cu_op_layer_norm(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *w,
		      const struct orc_tensor *b, float eps, const struct orc_tensor *out);
void cu_op_rope(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *pos,
		const struct orc_rope_args *args);
void cu_op_set_rows(struct orc_backend *be, const struct orc_tensor *src, const struct orc_tensor *idx,
		    const struct orc_tensor *dst);
void cu_op_attention(struct orc_backend *be, const struct orc_attn_args *a);
void cu_op_swiglu(struct orc_backend *be, const struct orc_tensor *gate, const struct orc_tensor *up,
		  const struct orc_tensor *out);
void cu_op_gelu(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out);
void cu_op_softmax(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out);
void cu_op_argmax(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out);
void cu_op_topk(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *out_logit,
		const struct orc_tensor *out_id);

#endif
