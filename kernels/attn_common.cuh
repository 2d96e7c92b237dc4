/* attn_common.cuh -- the canonical arithmetic of one (token, head) of
 * attention, shared by the decode and prefill kernels so that both produce
 * the same bits: a warp takes keys in tiles of 32 (lane j scores key j by an
 * fma chain over the head dims in order), keeps an online softmax (m, l,
 * acc, lane owning dims lane + 32 i), and folds the partial results of
 * chunks of ORC_K_ATTN_CHUNK keys in chunk order. Products and sums that
 * must not be contracted into fma use the _rn intrinsics. */
#ifndef ORC_ATTN_COMMON_CUH
#define ORC_ATTN_COMMON_CUH

#include <math.h>

#include "kcommon.cuh"

#define AT_TILE 32
#define AT_TILES_PER_CHUNK (ORC_K_ATTN_CHUNK / AT_TILE)

/* Online-softmax state of one (token, head) in one warp. */
template <int DL>
struct at_state {
	float m, l, acc[DL];
};

template <int DL>
__device__ __forceinline__ void at_reset(at_state<DL> &s)
{
	s.m = -INFINITY;
	s.l = 0.0f;
#pragma unroll
	for (int i = 0; i < DL; i++)
		s.acc[i] = 0.0f;
}

/* Cache row of position p; a bad block index is flagged and reads row 0. */
__device__ __forceinline__ int64_t at_row(const orc_k_attn &a, const int32_t *bt, int p)
{
	int b = p / a.block_size;
	int32_t blk = b < a.bt_stride ? bt[b] : -1;
	int64_t row = (int64_t)blk * a.block_size + p % a.block_size;
	if (blk < 0 || row >= a.n_rows) {
		if (a.flag)
			atomicOr(a.flag, ORC_K_BAD_INDEX);
		return 0;
	}
	return row;
}

/* A cache element as float. */
__device__ __forceinline__ float at_ld(const float *p)
{
	return *p;
}
__device__ __forceinline__ float at_ld(const __half *p)
{
	return __half2float(*p);
}

/* Score of the lane's key: sum over d ascending of q[d] * k[d] (q prescaled). */
template <typename KF>
__device__ __forceinline__ float at_score(const float *q, int hd, KF kval)
{
	float s = 0.0f;
	for (int d = 0; d < hd; d++)
		s = fmaf(q[d], kval(d), s);
	return s;
}

/* at_score over a cache row, with 16-byte (F32) or 8-byte (F16) loads when
 * aligned: the same fma chain, fewer load instructions. */
__device__ __forceinline__ float at_score_vec(const float *q, int hd, const float *kr)
{
	if ((hd & 3) || ((uintptr_t)kr & 15))
		return at_score(q, hd, [&](int d) { return kr[d]; });
	float s = 0.0f;
	for (int d = 0; d < hd; d += 4) {
		float4 k4 = *(const float4 *)(kr + d);
		s = fmaf(q[d], k4.x, s);
		s = fmaf(q[d + 1], k4.y, s);
		s = fmaf(q[d + 2], k4.z, s);
		s = fmaf(q[d + 3], k4.w, s);
	}
	return s;
}

__device__ __forceinline__ float at_score_vec(const float *q, int hd, const __half *kr)
{
	if ((hd & 3) || ((uintptr_t)kr & 7))
		return at_score(q, hd, [&](int d) { return at_ld(kr + d); });
	float s = 0.0f;
	for (int d = 0; d < hd; d += 4) {
		uint2 u = *(const uint2 *)(kr + d);
		float2 a = __half22float2(*(const __half2 *)&u.x), b = __half22float2(*(const __half2 *)&u.y);
		s = fmaf(q[d], a.x, s);
		s = fmaf(q[d + 1], a.y, s);
		s = fmaf(q[d + 2], b.x, s);
		s = fmaf(q[d + 3], b.y, s);
	}
	return s;
}

/* One tile: lane j < nv holds score s of key j; vrow(j) (called by every
 * lane alike) points at V row j's head, read as at_ld(ptr + d). V rows are
 * loaded G at a time (from global memory, as many as the registers allow:
 * one round trip a tile where the head is small). */
template <int DL, int G = 8, typename VF>
__device__ __forceinline__ void at_update(at_state<DL> &st, float s, int nv, int hd, VF vrow)
{
	const int lane = threadIdx.x & 31;
	float sv = lane < nv ? s : -INFINITY;
	float mn = fmaxf(st.m, k_warp_max(sv));
	float corr = expf(st.m - mn);
	float p = lane < nv ? expf(sv - mn) : 0.0f;
	st.l = __fadd_rn(__fmul_rn(st.l, corr), k_warp_sum(p));
	st.m = mn;
#pragma unroll
	for (int i = 0; i < DL; i++)
		st.acc[i] = __fmul_rn(st.acc[i], corr);
	/* V rows in groups of G, loaded before use (the loads overlap); the
	 * fma chain is the same as one key at a time */
	for (int j0 = 0; j0 < nv; j0 += G) {
		float vv[G][DL];
#pragma unroll
		for (int jj = 0; jj < G; jj++) {
			if (j0 + jj < nv) {
				auto vr = vrow(j0 + jj);
#pragma unroll
				for (int i = 0; i < DL; i++) {
					int d = lane + 32 * i;
					vv[jj][i] = d < hd ? at_ld(vr + d) : 0.0f;
				}
			}
		}
#pragma unroll
		for (int jj = 0; jj < G; jj++) {
			if (j0 + jj >= nv)
				break;
			float pj = __shfl_sync(0xffffffffu, p, j0 + jj);
#pragma unroll
			for (int i = 0; i < DL; i++) {
				int d = lane + 32 * i;
				if (d < hd)
					st.acc[i] = fmaf(pj, vv[jj][i], st.acc[i]);
			}
		}
	}
}

/* Fold a finished chunk into the running result (first: take it). */
template <int DL>
__device__ __forceinline__ void at_fold(at_state<DL> &run, const at_state<DL> &c, bool first)
{
	if (first) {
		run = c;
		return;
	}
	float mn = fmaxf(run.m, c.m);
	float a = expf(run.m - mn), b = expf(c.m - mn);
	run.l = __fadd_rn(__fmul_rn(run.l, a), __fmul_rn(c.l, b));
#pragma unroll
	for (int i = 0; i < DL; i++)
		run.acc[i] = __fadd_rn(__fmul_rn(run.acc[i], a), __fmul_rn(c.acc[i], b));
	run.m = mn;
}

template <int DL>
__device__ __forceinline__ void at_write(const at_state<DL> &run, float *o, int hd)
{
	const int lane = threadIdx.x & 31;
#pragma unroll
	for (int i = 0; i < DL; i++) {
		int d = lane + 32 * i;
		if (d < hd)
			o[d] = __fdiv_rn(run.acc[i], run.l);
	}
}

/* One (token, head) tile read straight from the cache: keys p0 .. p0+nv-1. */
template <int DL, typename KT>
__device__ __forceinline__ void at_tile_global(const orc_k_attn &a, const int32_t *bt, const float *q,
					       int kvh, int p0, int nv, at_state<DL> &st)
{
	const int lane = threadIdx.x & 31, hd = a.head_dim;
	const KT *K = (const KT *)a.k, *V = (const KT *)a.v;
	int64_t row = lane < nv ? at_row(a, bt, p0 + lane) : 0;
	const KT *kr = K + row * a.ldkv + (int64_t)kvh * hd;
	float s = 0.0f;
	if (lane < nv)
		s = at_score_vec(q, hd, kr);
	at_update<DL, (DL <= 2 ? AT_TILE : 8)>(st, s, nv, hd, [&](int j) {
		int64_t rj = __shfl_sync(0xffffffffu, row, j);
		return V + rj * a.ldkv + (int64_t)kvh * hd;
	});
}

#endif
