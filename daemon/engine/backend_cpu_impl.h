/* backend_cpu_impl.h -- what the CPU backend's files share: its context,
 * buffers, per-thread scratch, the sticky error and view checks. Private to
 * backend_cpu*.c. */
#ifndef ORC_BACKEND_CPU_IMPL_H
#define ORC_BACKEND_CPU_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "cpu_kernels.h"
#include "threadpool.h"

#define CPU_CHUNK   256    /* weight elements dequantized at a time (a multiple of every block) */
#define CPU_TOK_BLK 64     /* tokens that share one dequantized weight panel */
#define CPU_DIRECT_TOK 12  /* up to this many tokens, panels read the stored weights directly */

struct orc_bbuf {
	void *data;
	uint64_t size;
	bool wrapped;          /* host memory we do not own */
};

/* Scratch of one worker thread, reused by every op. */
struct cpu_scratch {
	float *wbuf;           /* [ORC_CPU_MR, CPU_CHUNK] dequantized weight panel */
	float *acc;            /* [CPU_TOK_BLK, ORC_CPU_MR, 8] lane accumulators */
	float *att;            /* [att_cap] attention scores, or [att_cap] rope cos/sin */
	uint64_t att_cap;
};

struct cpu_ctx {
	struct orc_pool *pool;
	const struct orc_cpu_kern *kern;
	struct cpu_scratch *scratch;   /* one per thread */
	int n_threads;
	struct orc_err err;            /* the sticky error; err.code != 0 when set */
};

static inline struct cpu_ctx *cpu_ctx(struct orc_backend *be)
{
	return be->ctx;
}

static inline uint8_t *tdata(const struct orc_tensor *t)
{
	return (uint8_t *)t->buf->data + t->offset;
}

static inline float *trow(const struct orc_tensor *t, uint64_t r)
{
	return (float *)(void *)(tdata(t) + r * t->nb1);
}

static inline const int32_t *tidx(const struct orc_tensor *t)
{
	return (const int32_t *)(void *)tdata(t);
}

/* Record the first failure (later ones are dropped); returns false. */
bool cpu_fail(struct cpu_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Check that a view is inside its buffer, has the type `type` (any
 * supported weight type when type == ORC_TYPE_COUNT) and, when ne0/ne1 are
 * not 0, that shape. Records a failure naming op and what, returns false. */
bool cpu_check(struct cpu_ctx *c, const char *op, const char *what, const struct orc_tensor *t,
	       enum orc_type type, uint32_t ne0, uint32_t ne1);
/* Can the CPU backend read weights of this type? */
bool cpu_weight_type_ok(enum orc_type type);
/* Grow every thread's attention/rope scratch to n floats. */
bool cpu_scratch_reserve(struct cpu_ctx *c, uint64_t n);

/* Call fn for items 0..n_items-1: on the pool, or on this thread when
 * there is one thread or the job is small (`work`: about the elements it
 * touches), since waking the workers would cost more than it saves. */
static inline void cpu_run(struct cpu_ctx *c, orc_pool_fn fn, void *ctx, uint32_t n_items,
			   uint64_t work)
{
	if (c->n_threads == 1 || work < 16384) {
		for (uint32_t i = 0; i < n_items; i++)
			fn(ctx, i, 0);
	} else {
		orc_pool_run(c->pool, fn, ctx, n_items);
	}
}

/* Ops living in other files. */
void cpu_op_get_rows(struct orc_backend *be, const struct orc_tensor *table,
		     const struct orc_tensor *ids, const struct orc_tensor *out);
void cpu_op_matmul(struct orc_backend *be, const struct orc_tensor *w, const struct orc_tensor *x,
		   const struct orc_tensor *bias, const struct orc_tensor *out);
void cpu_op_rope(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *pos,
		 const struct orc_rope_args *args);
void cpu_op_attention(struct orc_backend *be, const struct orc_attn_args *a);

#endif
