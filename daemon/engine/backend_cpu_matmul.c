/* backend_cpu_matmul.c -- the CPU backend's weight ops: get_rows and
 * matmul. Work is split over output rows (panels of ORC_CPU_MR weight rows),
 * and every output element follows the canonical dot product of
 * cpu_kernels.h over k, so a result does not depend on the batch size, on
 * the token's place in the batch or on the thread count. A panel is
 * dequantized CPU_CHUNK elements at a time into per-thread scratch and
 * reused by up to CPU_TOK_BLK tokens. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "backend_cpu_impl.h"

/* ---- get_rows ---- */

struct rows_gather {
	struct cpu_ctx *c;
	const struct orc_tensor *table, *ids, *out;
};

static void gather_item(void *ctx, uint32_t i, int ith)
{
	const struct rows_gather *g = ctx;
	const uint8_t *row = tdata(g->table) + (uint64_t)tidx(g->ids)[i] * g->table->nb1;

	g->c->kern->dequant(g->table->type, row, 0, g->table->ne0, trow(g->out, i));
}

void cpu_op_get_rows(struct orc_backend *be, const struct orc_tensor *table,
		     const struct orc_tensor *ids, const struct orc_tensor *out)
{
	struct rows_gather g = { .c = cpu_ctx(be), .table = table, .ids = ids, .out = out };

	if (!cpu_check(g.c, "get_rows", "table", table, ORC_TYPE_COUNT, 0, 0) ||
	    !cpu_check(g.c, "get_rows", "ids", ids, ORC_TYPE_I32, 0, 1) ||
	    !cpu_check(g.c, "get_rows", "out", out, ORC_TYPE_F32, table->ne0, ids->ne0))
		return;
	for (uint32_t i = 0; i < ids->ne0; i++) {
		int32_t id = tidx(ids)[i];
		if (id < 0 || (uint32_t)id >= table->ne1) {
			cpu_fail(g.c, -EINVAL, "get_rows: id %d outside the %u rows of the table", id,
				 table->ne1);
			return;
		}
	}
	cpu_run(g.c, gather_item, &g, ids->ne0, (uint64_t)ids->ne0 * table->ne0);
}

/* ---- matmul ---- */

struct mm_job {
	struct cpu_ctx *c;
	const struct orc_tensor *w, *x, *bias, *out;
	uint32_t n_panels;
	uint32_t per_item;          /* panels in one work item */
	uint32_t items_per_blk;     /* work items per token block */
	uint32_t n_items;
};

static const float zero_row[CPU_CHUNK];

/* Point wp[r] at elements [c0, c0 + cn) of the panel's weight rows, as F32. */
static void panel_chunk(const struct mm_job *j, struct cpu_scratch *s, uint32_t r0, uint32_t nr,
			uint32_t c0, uint32_t cn, const float *wp[ORC_CPU_MR])
{
	const struct orc_tensor *w = j->w;

	for (uint32_t r = 0; r < ORC_CPU_MR; r++) {
		const uint8_t *row = tdata(w) + (uint64_t)(r0 + r) * w->nb1;
		if (r >= nr) {
			wp[r] = zero_row;
		} else if (w->type == ORC_TYPE_F32) {
			wp[r] = (const float *)(const void *)row + c0;
		} else {
			j->c->kern->dequant(w->type, row, c0, cn, s->wbuf + r * CPU_CHUNK);
			wp[r] = s->wbuf + r * CPU_CHUNK;
		}
	}
}

/* Decode: the reduction straight from the stored rows, when the kernel set
 * can (same lane sums as through scratch). Up to 3 tokens take the whole of
 * k in one pass; up to CPU_DIRECT_TOK take each chunk of k in groups of 3
 * tokens, the first group bringing the chunk's weights into the cache for
 * the others (dequantizing them into scratch costs more than converting
 * them again in registers when few tokens share them). Rows past the end
 * of the matrix repeat row r0; their sums are not used. */
static bool direct_panel(const struct mm_job *j, uint32_t r0, uint32_t nr, uint32_t t0, uint32_t nt,
			 float *acc)
{
	const struct orc_tensor *w = j->w;
	const uint32_t k = w->ne0, step = nt <= 3 ? k : CPU_CHUNK;
	const uint8_t *rows[ORC_CPU_MR];
	const float *xp[3];

	if (!j->c->kern->mm_direct || nt > CPU_DIRECT_TOK || k % 8 != 0)
		return false;
	for (uint32_t r = 0; r < ORC_CPU_MR; r++)
		rows[r] = tdata(w) + (uint64_t)(r0 + (r < nr ? r : 0)) * w->nb1;
	for (uint32_t c0 = 0; c0 < k; c0 += step) {
		const uint32_t cn = k - c0 < step ? k - c0 : step;
		for (uint32_t t = 0; t < nt; t += 3) {
			const uint32_t g = nt - t < 3 ? nt - t : 3;
			for (uint32_t u = 0; u < g; u++)
				xp[u] = trow(j->x, t0 + t + u) + c0;
			if (!j->c->kern->mm_direct(w->type, rows, xp, g, c0, cn, acc + (size_t)t * ORC_CPU_MR * 8))
				return false;   /* a type it does not take: at the first call, nothing done */
		}
	}
	return true;
}

/* Outputs [t0, t0 + nt) x panel p: the whole reduction over k, then the
 * tail (k % 8 elements, in the last chunk) and the bias. */
static void mm_panel(const struct mm_job *j, struct cpu_scratch *s, uint32_t p, uint32_t t0,
		     uint32_t nt)
{
	const uint32_t k = j->w->ne0, r0 = p * ORC_CPU_MR;
	const uint32_t nr = j->w->ne1 - r0 < ORC_CPU_MR ? j->w->ne1 - r0 : ORC_CPU_MR;
	const float *wp[ORC_CPU_MR], *xp[CPU_TOK_BLK];
	uint32_t c0 = 0, cn = 0;

	memset(s->acc, 0, sizeof(float) * nt * ORC_CPU_MR * 8);
	if (direct_panel(j, r0, nr, t0, nt, s->acc))
		goto finish;
	for (c0 = 0; c0 < k; c0 += CPU_CHUNK) {
		cn = k - c0 < CPU_CHUNK ? k - c0 : CPU_CHUNK;
		panel_chunk(j, s, r0, nr, c0, cn, wp);
		for (uint32_t t = 0; t < nt; t++)
			xp[t] = trow(j->x, t0 + t) + c0;
		j->c->kern->mm_chunk(wp, xp, nt, cn & ~7u, s->acc);
	}
finish:
	for (uint32_t t = 0; t < nt; t++) {
		float *o = trow(j->out, t0 + t);
		for (uint32_t r = 0; r < nr; r++) {
			float sum = orc_cpu_hsum8(s->acc + ((size_t)t * ORC_CPU_MR + r) * 8);
			for (uint32_t i = cn & ~7u; i < cn; i++)
				sum = sum + wp[r][i] * xp[t][i];
			if (j->bias)
				sum = sum + trow(j->bias, 0)[r0 + r];
			o[r0 + r] = sum;
		}
	}
}

/* One work item: a run of panels for one token block. Items are claimed
 * from the pool's shared counter; which thread computes an output never
 * changes its value. */
static void mm_item(void *ctx, uint32_t it, int ith)
{
	const struct mm_job *j = ctx;
	struct cpu_scratch *s = &j->c->scratch[ith];
	const uint32_t n_tok = j->x->ne1;
	const uint32_t t0 = it / j->items_per_blk * CPU_TOK_BLK;
	const uint32_t p0 = it % j->items_per_blk * j->per_item;
	const uint32_t p1 = p0 + j->per_item < j->n_panels ? p0 + j->per_item : j->n_panels;
	const uint32_t nt = n_tok - t0 < CPU_TOK_BLK ? n_tok - t0 : CPU_TOK_BLK;

	for (uint32_t p = p0; p < p1; p++)
		mm_panel(j, s, p, t0, nt);
}

void cpu_op_matmul(struct orc_backend *be, const struct orc_tensor *w, const struct orc_tensor *x,
		   const struct orc_tensor *bias, const struct orc_tensor *out)
{
	struct mm_job j = { .c = cpu_ctx(be), .w = w, .x = x, .bias = bias, .out = out };

	if (!cpu_check(j.c, "matmul", "weight", w, ORC_TYPE_COUNT, 0, 0) ||
	    !cpu_check(j.c, "matmul", "x", x, ORC_TYPE_F32, w->ne0, 0) ||
	    (bias && !cpu_check(j.c, "matmul", "bias", bias, ORC_TYPE_F32, w->ne1, 1)) ||
	    !cpu_check(j.c, "matmul", "out", out, ORC_TYPE_F32, w->ne1, x->ne1))
		return;
	j.n_panels = (w->ne1 + ORC_CPU_MR - 1) / ORC_CPU_MR;
	j.per_item = j.n_panels / (8 * (uint32_t)j.c->n_threads);
	j.per_item = j.per_item ? j.per_item : 1;
	j.items_per_blk = (j.n_panels + j.per_item - 1) / j.per_item;
	j.n_items = j.items_per_blk * ((x->ne1 + CPU_TOK_BLK - 1) / CPU_TOK_BLK);
	cpu_run(j.c, mm_item, &j, j.n_items, (uint64_t)w->ne0 * w->ne1 * x->ne1 / 4);
}
