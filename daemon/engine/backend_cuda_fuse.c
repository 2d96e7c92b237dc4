/* backend_cuda_fuse.c -- the ops of a step are recorded, then merged into
 * fewer launches before they run (and are captured into the step's graph):
 *   rms_norm + the matmuls reading its output -> the norm inside each GEMV
 *     (steps of at most CU_NORM_FUSE_TOK tokens, or of up to a few dozen
 *     when every such matmul runs on the tensor cores);
 *   matmul gate + matmul up + swiglu (or one [gate|up] matmul + swiglu)
 *     -> one SwiGLU GEMV;
 *   matmul + add into the residual -> a GEMV accumulating into it;
 *   up to 3 matmuls of the same input -> one launch;
 *   rope q + rope k + set_rows k + set_rows v -> one rope+store launch.
 * A merge happens only when the intermediate it skips is dead: no later op
 * of the step reads it before an op overwrites it whole. Every fused kernel
 * performs the same floating-point operations as the ops it replaces, so a
 * fused step gives the same bits as the ops run one by one. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_impl.h"

/* ---- recording ---- */

void cu_submit(struct cu_ctx *c, const struct cu_rec *r)
{
	if (c->err.code != 0 || c->mode == CU_REPLAY)
		return;
	if (!c->in_step) {
		cu_run(c, r, 0, 1);
		return;
	}
	if (c->n_recs == c->cap_recs) {
		size_t cap = c->cap_recs ? 2 * c->cap_recs : 256;
		struct cu_rec *p = realloc(c->recs, cap * sizeof(*p));
		if (!p) {
			cu_fail(c, -ENOMEM, "out of host memory recording a step");
			return;
		}
		c->recs = p;
		c->cap_recs = cap;
	}
	c->recs[c->n_recs++] = *r;
}

void cu_step_keep(struct orc_backend *be, const struct orc_tensor *t)
{
	struct cu_ctx *c = cu_ctx(be);

	if (!c->in_step || c->n_keep < 0)
		return;
	if (c->n_keep == ORC_STEP_KEEP_MAX) {
		c->n_keep = -1;   /* more than it can list: keep all */
		return;
	}
	c->keep[c->n_keep++] = *t;
}

/* ---- views ---- */

static bool has(const struct cu_rec *r, int i)
{
	return (r->has >> i) & 1u;
}

static uint64_t t_end(const struct orc_tensor *t)
{
	uint64_t row = orc_type_row_bytes(t->type, t->ne0);
	return t->ne1 ? t->offset + (uint64_t)(t->ne1 - 1) * t->nb1 + row : t->offset;
}

static bool same_view(const struct orc_tensor *a, const struct orc_tensor *b)
{
	return a->buf == b->buf && a->offset == b->offset && a->type == b->type && a->ne0 == b->ne0 &&
	       a->ne1 == b->ne1 && a->nb1 == b->nb1;
}

/* Do two views share a byte? Rows of a common stride P no longer than P
 * are told apart exactly, measured from the earlier view's start (column
 * slices of one matrix: q, k and v of a QKV product, wherever the matrix
 * starts); otherwise the byte spans decide. */
static bool overlaps(const struct orc_tensor *a, const struct orc_tensor *b)
{
	if (a->buf != b->buf || a->offset >= t_end(b) || b->offset >= t_end(a))
		return false;
	if (a->ne1 <= 1 && b->ne1 <= 1)
		return true;
	const uint64_t P = a->ne1 > 1 ? a->nb1 : b->nb1;
	if (P == 0 || (a->ne1 > 1 && a->nb1 != P) || (b->ne1 > 1 && b->nb1 != P))
		return true;
	if (b->offset < a->offset) {   /* measure b from a's start, whatever the buffer's */
		const struct orc_tensor *t = a;
		a = b;
		b = t;
	}
	const uint64_t ra = orc_tensor_row_bytes(a), rb = orc_tensor_row_bytes(b);
	if (ra > P || rb > P)
		return true;
	/* b's row i starts at column r of a's row k + i and may run into the next */
	const uint64_t na = a->ne1 ? a->ne1 : 1, d = b->offset - a->offset, k = d / P, r = d % P;
	return (k < na && r < ra) || (k + 1 < na && P - r < rb);
}

/* Does a write of view w replace every byte of t? */
static bool covers(const struct orc_tensor *w, const struct orc_tensor *t)
{
	if (same_view(w, t))
		return true;
	return w->buf == t->buf && w->nb1 == orc_type_row_bytes(w->type, w->ne0) && w->offset <= t->offset &&
	       t_end(w) >= t_end(t);
}

/* Operand slots an op reads, and the slot it writes whole (-1: none). */
static int reads(const struct cu_rec *r, int *slots)
{
	int n = 0;
	switch (r->k) {
	case CU_GET_ROWS: slots[n++] = 0; slots[n++] = 1; break;
	case CU_MATMUL:
		for (int i = 0; i < CU_REC_T; i++)
			if (i != 3 && has(r, i))
				slots[n++] = i;
		if (r->accumulate)
			slots[n++] = 3;
		break;
	case CU_ADD: case CU_SWIGLU: slots[n++] = 0; slots[n++] = 1; break;
	case CU_RMS: slots[n++] = 0; slots[n++] = 1; break;
	case CU_LN: slots[n++] = 0; slots[n++] = 1; if (has(r, 2)) slots[n++] = 2; break;
	case CU_ROPE: slots[n++] = 0; slots[n++] = 1; break;
	case CU_SET_ROWS: slots[n++] = 0; slots[n++] = 1; slots[n++] = 2; break;  /* dst partly kept */
	case CU_ATTN: for (int i = 0; i < 6; i++) slots[n++] = i; break;
	case CU_GELU: case CU_SOFTMAX: case CU_ARGMAX: case CU_TOPK: slots[n++] = 0; break;
	}
	return n;
}

static int writes_whole(const struct cu_rec *r)
{
	switch (r->k) {
	case CU_GET_ROWS: case CU_ADD: case CU_RMS: case CU_SWIGLU: return 2;
	case CU_MATMUL: case CU_LN: return 3;
	case CU_ATTN: return 6;
	case CU_GELU: case CU_SOFTMAX: case CU_ARGMAX: return 1;
	default: return -1;   /* rope writes what it reads; set_rows some rows; topk two outputs */
	}
}

/* Is view t read after the step ends? Memory other than scratch always
 * is, and scratch too unless the step said what it keeps (step_keep). */
static bool live_at_end(const struct cu_ctx *c, const struct orc_tensor *t)
{
	if (c->n_keep <= 0 || !t->buf || t->buf->usage != ORC_BUF_SCRATCH)
		return true;
	for (int k = 0; k < c->n_keep; k++)
		if (overlaps(&c->keep[k], t))
			return true;
	return false;
}

/* Is view t dead after record i: overwritten whole before any later read,
 * or not read again and not live at the step's end? */
static bool dead_after(const struct cu_ctx *c, const struct orc_tensor *t, size_t i)
{
	for (size_t j = i + 1; j < c->n_recs; j++) {
		const struct cu_rec *r = &c->recs[j];
		int slots[CU_REC_T + 1], n, w;
		if (r->dead)
			continue;
		n = reads(r, slots);
		for (int s = 0; s < n; s++)
			if (overlaps(&r->t[slots[s]], t))
				return false;
		w = writes_whole(r);
		if (w >= 0 && covers(&r->t[w], t))
			return true;
	}
	return !live_at_end(c, t);
}

static size_t next_live(const struct cu_ctx *c, size_t i)
{
	for (i++; i < c->n_recs && c->recs[i].dead; i++)
		;
	return i;
}

static bool is(const struct cu_ctx *c, size_t i, enum cu_rk k)
{
	return i < c->n_recs && !c->recs[i].dead && c->recs[i].k == k;
}

/* Same input and the same fused norm: products that may share a launch or a SwiGLU. */
static bool same_input(const struct cu_rec *a, const struct cu_rec *b)
{
	return same_view(&a->t[1], &b->t[1]) && has(a, 6) == has(b, 6) &&
	       (!has(a, 6) || (same_view(&a->t[6], &b->t[6]) && a->eps == b->eps));
}

/* ---- passes ---- */

/* Whether matmul m can take the norm of its ncols input columns: a GEMV
 * block recomputes the norms of its columns, which is worth a launch for a
 * few tokens only; a tensor-core product with scratch (orc_k_mm_ws_bytes)
 * normalizes each column once while preparing it, up to a few dozen
 * columns. Not for prompts. Same bits either way. */
static bool norm_fusable(const struct cu_rec *m, int64_t ncols)
{
	return ncols <= CU_NORM_FUSE_TOK ||
	       orc_k_mm_ws_bytes((int)m->t[0].type, (int)m->t[0].ne0, (int)ncols) > 0;
}

/* rms_norm(x) -> n, then matmuls of n: each GEMV normalizes x itself. */
static void fuse_norms(struct cu_ctx *c)
{
	for (size_t i = 0; i < c->n_recs; i++) {
		struct cu_rec *nr = &c->recs[i];
		size_t j = i, last = i;
		bool ok = true;
		if (nr->dead || nr->k != CU_RMS)
			continue;
		while (is(c, (j = next_live(c, j)), CU_MATMUL) && same_view(&c->recs[j].t[1], &nr->t[2]) &&
		       !has(&c->recs[j], 6)) {
			ok = ok && !overlaps(&c->recs[j].t[3], &nr->t[0]) && !overlaps(&c->recs[j].t[3], &nr->t[1]) &&
			     norm_fusable(&c->recs[j], nr->t[0].ne1);
			last = j;
		}
		if (last == i || !ok || !dead_after(c, &nr->t[2], last))
			continue;
		for (j = next_live(c, i); j <= last; j = next_live(c, j)) {
			struct cu_rec *m = &c->recs[j];
			m->t[1] = nr->t[0];
			m->t[6] = nr->t[1];
			m->has |= 1u << 6;
			m->eps = nr->eps;
		}
		nr->dead = true;
	}
}

/* matmul gate, matmul up, swiglu -> one GEMV with w2; or the [gate|up]
 * product of one matrix followed by swiglu of its two halves. */
static void fuse_swiglu(struct cu_ctx *c)
{
	for (size_t i = 0; i < c->n_recs; i++) {
		struct cu_rec *g = &c->recs[i];
		size_t j = next_live(c, i), k;
		if (g->dead || g->k != CU_MATMUL || g->glu || g->accumulate || has(g, 4))
			continue;
		if (is(c, j, CU_MATMUL) && is(c, (k = next_live(c, j)), CU_SWIGLU)) {
			struct cu_rec *u = &c->recs[j], *s = &c->recs[k];
			if (same_input(g, u) && !u->glu && !u->accumulate && u->t[0].type == g->t[0].type &&
			    u->t[0].ne0 == g->t[0].ne0 && u->t[0].ne1 == g->t[0].ne1 && same_view(&s->t[0], &g->t[3]) &&
			    same_view(&s->t[1], &u->t[3]) && !overlaps(&s->t[2], &g->t[1]) &&
			    dead_after(c, &g->t[3], k) && dead_after(c, &u->t[3], k)) {
				g->glu = 2;
				g->t[4] = u->t[0];
				g->has |= 1u << 4;
				if (has(u, 2)) {
					g->t[5] = u->t[2];
					g->has |= 1u << 5;
				}
				g->t[3] = s->t[2];
				u->dead = s->dead = true;
				continue;
			}
		}
		if (is(c, j, CU_SWIGLU) && g->t[3].ne0 % 2 == 0) {
			struct cu_rec *s = &c->recs[j];
			struct orc_tensor gate = g->t[3], up = g->t[3];
			gate.ne0 = up.ne0 = g->t[3].ne0 / 2;
			up.offset += (uint64_t)gate.ne0 * 4;
			if (same_view(&s->t[0], &gate) && same_view(&s->t[1], &up) && !overlaps(&s->t[2], &g->t[1]) &&
			    dead_after(c, &g->t[3], j)) {
				g->glu = 1;
				g->t[3] = s->t[2];
				s->dead = true;
			}
		}
	}
}

/* matmul -> t, then add(r, t) -> r: the GEMV adds into r. */
static void fuse_residual(struct cu_ctx *c)
{
	for (size_t i = 0; i < c->n_recs; i++) {
		struct cu_rec *m = &c->recs[i];
		size_t j = next_live(c, i);
		if (m->dead || m->k != CU_MATMUL || m->accumulate || !is(c, j, CU_ADD))
			continue;
		struct cu_rec *a = &c->recs[j];
		if (!same_view(&a->t[2], &a->t[0]) || !same_view(&a->t[1], &m->t[3]) || overlaps(&a->t[0], &m->t[3]) ||
		    overlaps(&a->t[0], &m->t[1]) || (has(m, 6) && overlaps(&a->t[0], &m->t[6])) ||
		    !dead_after(c, &m->t[3], j))
			continue;
		m->t[3] = a->t[0];
		m->accumulate = true;
		a->dead = true;
	}
}

/* Consecutive plain products of the same input: one launch of up to 3. */
static void fuse_multi(struct cu_ctx *c)
{
	for (size_t i = 0; i < c->n_recs; i++) {
		struct cu_rec *h = &c->recs[i];
		size_t j = i, n = 1;
		if (h->dead || h->grouped || h->k != CU_MATMUL || h->glu)
			continue;
		while (n < 3 && is(c, (j = next_live(c, j)), CU_MATMUL)) {
			struct cu_rec *m = &c->recs[j];
			if (!same_input(h, m) || m->glu || m->accumulate != h->accumulate ||
			    m->t[0].type != h->t[0].type || m->t[0].ne0 != h->t[0].ne0 || overlaps(&m->t[3], &h->t[1]))
				break;
			m->grouped = true;
			n++;
		}
		h->group = (uint8_t)n;
	}
}

/* rope q, rope k, set_rows k, set_rows v -> one launch. */
static void fuse_rope_kv(struct cu_ctx *c)
{
	for (size_t i = 0; i < c->n_recs; i++) {
		size_t j = next_live(c, i), k = next_live(c, j), l = next_live(c, k);
		struct cu_rec *q = &c->recs[i];
		if (q->dead || q->k != CU_ROPE || !is(c, j, CU_ROPE) || !is(c, k, CU_SET_ROWS) || !is(c, l, CU_SET_ROWS))
			continue;
		struct cu_rec *kr = &c->recs[j], *sk = &c->recs[k], *sv = &c->recs[l];
		if (!same_view(&q->t[1], &kr->t[1]) || q->rope.head_dim != kr->rope.head_dim ||
		    q->rope.n_rot != kr->rope.n_rot || q->rope.neox != kr->rope.neox || q->rope.theta != kr->rope.theta ||
		    !same_view(&sk->t[0], &kr->t[0]) || !same_view(&sk->t[1], &sv->t[1]) ||
		    sk->t[2].type != sv->t[2].type || sk->t[2].nb1 != sv->t[2].nb1 || sk->t[2].ne1 != sv->t[2].ne1 ||
		    overlaps(&q->t[0], &kr->t[0]) || overlaps(&sv->t[0], &q->t[0]) || overlaps(&sv->t[0], &kr->t[0]) ||
		    overlaps(&sk->t[2], &sv->t[2]))
			continue;
		q->group = 4;
		kr->grouped = sk->grouped = sv->grouped = true;
	}
}

/* ---- running ---- */

size_t cu_run(struct cu_ctx *c, const struct cu_rec *recs, size_t i, size_t n)
{
	const struct cu_rec *r = &recs[i];
	const struct cu_rec *g[4] = { r };
	size_t m = 1;

	if ((r->k == CU_MATMUL && r->group > 1) || (r->k == CU_ROPE && r->group == 4)) {
		size_t want = r->k == CU_ROPE ? 4 : r->group;
		for (size_t j = i + 1; j < n && m < want; j++)
			if (!recs[j].dead && recs[j].grouped)
				g[m++] = &recs[j];
		if (m != want) {
			cu_fail(c, -EIO, "CUDA backend: a fused group lost its members");
			return 1;
		}
	}
	switch (r->k) {
	case CU_GET_ROWS: cu_run_get_rows(c, r); break;
	case CU_MATMUL: cu_run_matmul(c, g, m); break;
	case CU_ADD: cu_run_add(c, r); break;
	case CU_RMS: cu_run_rms(c, r); break;
	case CU_LN: cu_run_ln(c, r); break;
	case CU_ROPE:
		if (m == 4)
			cu_run_rope_kv(c, g);
		else
			cu_run_rope(c, r);
		break;
	case CU_SET_ROWS: cu_run_set_rows(c, r); break;
	case CU_ATTN: cu_run_attn(c, r); break;
	case CU_SWIGLU: cu_run_swiglu(c, r); break;
	case CU_GELU: cu_run_gelu(c, r); break;
	case CU_SOFTMAX: cu_run_softmax(c, r); break;
	case CU_ARGMAX: cu_run_argmax(c, r); break;
	case CU_TOPK: cu_run_topk(c, r); break;
	}
	return m;
}

void cu_flush(struct cu_ctx *c)
{
	const char *off = getenv("ORC_CUDA_NOFUSE");   /* for comparisons: run the ops as called */

	if (c->err.code == 0 && !(off && *off == '1')) {
		fuse_norms(c);
		fuse_swiglu(c);
		fuse_residual(c);
		fuse_multi(c);
		fuse_rope_kv(c);
	}
	for (size_t i = 0; i < c->n_recs && c->err.code == 0; i++)
		if (!c->recs[i].dead && !c->recs[i].grouped)
			cu_run(c, c->recs, i, c->n_recs);
	c->n_recs = 0;
}
