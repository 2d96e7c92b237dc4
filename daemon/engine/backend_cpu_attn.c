/* backend_cpu_attn.c -- the CPU backend's rope and attention ops. Attention
 * runs one (token, head) pair per task over the paged KV cache: scores by
 * the canonical dot product, a softmax in token order, then the weighted
 * sum of V rows in token order, so each result depends only on its own
 * sequence's cache and position. The kernels take up to ATT_ROWS keys at
 * a time (several dot products, or V rows, in flight at once). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "backend_cpu_impl.h"

/* ---- rope ---- */

struct rope_job {
	struct cpu_ctx *c;
	const struct orc_tensor *x, *pos;
	const struct orc_rope_args *a;
};

static void rope_row(const struct rope_job *j, float *cs, uint32_t t)
{
	const struct orc_rope_args *a = j->a;
	const uint32_t half = a->n_rot / 2;
	float *row = trow(j->x, t);
	double p = tidx(j->pos)[t];

	for (uint32_t i = 0; i < half; i++) {
		double ang = p * pow((double)a->theta, -2.0 * i / a->n_rot);
		cs[2 * i] = (float)cos(ang);
		cs[2 * i + 1] = (float)sin(ang);
	}
	for (uint32_t h = 0; h < a->n_head; h++) {
		float *v = row + (size_t)h * a->head_dim;
		for (uint32_t i = 0; i < half; i++) {
			uint32_t i0 = a->neox ? i : 2 * i, i1 = a->neox ? i + half : 2 * i + 1;
			float x0 = v[i0], x1 = v[i1], c = cs[2 * i], s = cs[2 * i + 1];
			v[i0] = x0 * c - x1 * s;
			v[i1] = x0 * s + x1 * c;
		}
	}
}

static void rope_item(void *ctx, uint32_t t, int ith)
{
	const struct rope_job *j = ctx;
	rope_row(j, j->c->scratch[ith].att, t);
}

void cpu_op_rope(struct orc_backend *be, const struct orc_tensor *x, const struct orc_tensor *pos,
		 const struct orc_rope_args *a)
{
	struct rope_job j = { .c = cpu_ctx(be), .x = x, .pos = pos, .a = a };

	if (!cpu_check(j.c, "rope", "x", x, ORC_TYPE_F32, a->n_head * a->head_dim, 0) ||
	    !cpu_check(j.c, "rope", "pos", pos, ORC_TYPE_I32, x->ne1, 1))
		return;
	if (a->n_rot > a->head_dim || a->n_rot % 2 != 0 || a->n_rot == 0) {
		cpu_fail(j.c, -EINVAL, "rope: %u rotary dims for heads of %u", a->n_rot, a->head_dim);
		return;
	}
	if (!cpu_scratch_reserve(j.c, a->n_rot))
		return;
	cpu_run(j.c, rope_item, &j, x->ne1, (uint64_t)x->ne1 * x->ne0);
}

/* ---- attention ---- */

struct attn_job {
	struct cpu_ctx *c;
	const struct orc_attn_args *a;
	uint32_t n_tasks;
};

/* Keys (then V rows) handed to the kernels at a time. */
#define ATT_ROWS 64

/* rows[u] = head column col of the cache row of position i0 + u, u < n
 * (one division for the run, not one a key). */
static void gather_rows(const struct orc_tensor *cache, const int32_t *bt, uint32_t bs, uint32_t i0, uint32_t n,
			size_t col, const float **rows)
{
	uint32_t b = i0 / bs, off = i0 % bs;

	for (uint32_t u = 0; u < n; u++) {
		rows[u] = trow(cache, (uint64_t)bt[b] * bs + off) + col;
		if (++off == bs) {
			off = 0;
			b++;
		}
	}
}

static void attn_task(const struct attn_job *j, float *sc, uint32_t task)
{
	const struct orc_attn_args *a = j->a;
	const struct orc_cpu_kern *k = j->c->kern;
	const uint32_t t = task / a->n_head, h = task % a->n_head, hd = a->head_dim;
	const uint32_t kvh = h / (a->n_head / a->n_head_kv), p = (uint32_t)tidx(a->pos)[t];
	const int32_t *bt = tidx(a->block_table) +
			    (uint64_t)tidx(a->tok_seq)[t] * (a->block_table->nb1 / sizeof(int32_t));
	const float *q = trow(a->q, t) + (size_t)h * hd;
	const float *rows[ATT_ROWS];
	float *o = trow(a->out, t) + (size_t)h * hd;
	float max = -INFINITY, sum = 0.0f;

	for (uint32_t i0 = 0; i0 <= p; i0 += ATT_ROWS) {
		const uint32_t n = p + 1 - i0 < ATT_ROWS ? p + 1 - i0 : ATT_ROWS;
		gather_rows(a->k_cache, bt, a->block_size, i0, n, (size_t)kvh * hd, rows);
		k->dots(q, rows, n, hd, sc + i0);
	}
	for (uint32_t i = 0; i <= p; i++) {
		sc[i] = sc[i] * a->scale;
		max = sc[i] > max ? sc[i] : max;
	}
	for (uint32_t i = 0; i <= p; i++) {
		sc[i] = expf(sc[i] - max);
		sum = sum + sc[i];
	}
	for (uint32_t i = 0; i <= p; i++)
		sc[i] = sc[i] / sum;
	memset(o, 0, sizeof(float) * hd);
	for (uint32_t i0 = 0; i0 <= p; i0 += ATT_ROWS) {
		const uint32_t n = p + 1 - i0 < ATT_ROWS ? p + 1 - i0 : ATT_ROWS;
		gather_rows(a->v_cache, bt, a->block_size, i0, n, (size_t)kvh * hd, rows);
		k->wsum(sc + i0, rows, n, hd, o);
	}
}

static void attn_item(void *ctx, uint32_t task, int ith)
{
	const struct attn_job *j = ctx;
	attn_task(j, j->c->scratch[ith].att, task);
}

static bool attn_check_shapes(struct cpu_ctx *c, const struct orc_attn_args *a)
{
	const uint32_t qd = a->n_head * a->head_dim, kvd = a->n_head_kv * a->head_dim;

	if (a->n_head == 0 || a->n_head_kv == 0 || a->head_dim == 0 || a->block_size == 0 ||
	    a->n_head % a->n_head_kv != 0)
		return cpu_fail(c, -EINVAL, "attention: %u heads over %u KV heads of %u, blocks of %u",
				a->n_head, a->n_head_kv, a->head_dim, a->block_size);
	return cpu_check(c, "attention", "q", a->q, ORC_TYPE_F32, qd, 0) &&
	       cpu_check(c, "attention", "out", a->out, ORC_TYPE_F32, qd, a->q->ne1) &&
	       cpu_check(c, "attention", "k_cache", a->k_cache, ORC_TYPE_F32, kvd, 0) &&
	       cpu_check(c, "attention", "v_cache", a->v_cache, ORC_TYPE_F32, kvd, a->k_cache->ne1) &&
	       cpu_check(c, "attention", "pos", a->pos, ORC_TYPE_I32, a->q->ne1, 1) &&
	       cpu_check(c, "attention", "tok_seq", a->tok_seq, ORC_TYPE_I32, a->q->ne1, 1) &&
	       cpu_check(c, "attention", "block_table", a->block_table, ORC_TYPE_I32, 0, 0);
}

/* Every index the tasks will follow is checked here, on one thread, so that
 * the tasks themselves cannot fail. Returns the longest context, or 0. */
static uint32_t attn_check_indices(struct cpu_ctx *c, const struct orc_attn_args *a)
{
	const uint32_t max_blocks = a->block_table->ne0, n_cache_blocks = a->k_cache->ne1 / a->block_size;
	uint32_t longest = 0;

	for (uint32_t t = 0; t < a->q->ne1; t++) {
		int32_t p = tidx(a->pos)[t], s = tidx(a->tok_seq)[t];
		const int32_t *bt;

		if (p < 0 || (uint32_t)p / a->block_size >= max_blocks || s < 0 ||
		    (uint32_t)s >= a->block_table->ne1) {
			cpu_fail(c, -EINVAL, "attention: token %u at position %d of sequence row %d is outside the block table [%u, %u]",
				 t, p, s, a->block_table->ne1, max_blocks);
			return 0;
		}
		bt = tidx(a->block_table) + (uint64_t)s * (a->block_table->nb1 / sizeof(int32_t));
		for (uint32_t b = 0; b <= (uint32_t)p / a->block_size; b++) {
			if (bt[b] < 0 || (uint32_t)bt[b] >= n_cache_blocks) {
				cpu_fail(c, -EINVAL, "attention: block %d outside the %u cache blocks",
					 bt[b], n_cache_blocks);
				return 0;
			}
		}
		longest = (uint32_t)p + 1 > longest ? (uint32_t)p + 1 : longest;
	}
	return longest;
}

void cpu_op_attention(struct orc_backend *be, const struct orc_attn_args *a)
{
	struct attn_job j = { .c = cpu_ctx(be), .a = a };
	uint32_t longest;

	if (!attn_check_shapes(j.c, a))
		return;
	if (a->block_table->nb1 % sizeof(int32_t) != 0) {
		cpu_fail(j.c, -EINVAL, "attention: block table stride is not a whole int32");
		return;
	}
	longest = attn_check_indices(j.c, a);
	if (longest == 0 || !cpu_scratch_reserve(j.c, longest))
		return;
	j.n_tasks = a->q->ne1 * a->n_head;
	cpu_run(j.c, attn_item, &j, j.n_tasks, (uint64_t)j.n_tasks * longest * a->head_dim / 2);
}
