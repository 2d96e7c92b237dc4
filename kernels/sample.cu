/* sample.cu -- token choice on the GPU: greedy argmax, or temperature,
 * top-k, top-p and min-p sampling from a caller-drawn uniform, plus the
 * log-probabilities of the chosen and the most likely tokens. One block of
 * 1024 threads per row. The top candidates are found by a radix select on
 * order-preserving keys, ties broken towards the lower id, so the result is
 * a pure function of the row and its parameters. */
#include <math.h>

#include "kcommon.cuh"

#define SM_THREADS 1024
#define SM_WARPS (SM_THREADS / 32)

/* Order-preserving key of a logit; -0 and +0 are one value (as a float
 * comparison has them), so a tie between them goes to the lower id. */
__device__ __forceinline__ uint32_t s_key(float f)
{
	uint32_t b = __float_as_uint(f == 0.0f ? 0.0f : f);
	return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ float s_unkey(uint32_t k)
{
	return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

/* (max, argmax) merge: larger value, then lower id */
__device__ __forceinline__ void s_amax(float &v, int &i, float v2, int i2)
{
	if (v2 > v || (v2 == v && i2 < i)) {
		v = v2;
		i = i2;
	}
}

/* Online (max, sum of exp((x - max) * inv_t)) merge. */
__device__ __forceinline__ void s_lse(float &m, float &s, float m2, float s2, float inv_t)
{
	if (m2 == -INFINITY)
		return;
	if (m == -INFINITY) {
		m = m2;
		s = s2;
		return;
	}
	float mn = fmaxf(m, m2);
	s = s * expf((m - mn) * inv_t) + s2 * expf((m2 - mn) * inv_t);
	m = mn;
}

struct s_shared {
	float wv[SM_WARPS], ws1[SM_WARPS], wst[SM_WARPS];
	int wi[SM_WARPS];
	uint32_t hist[256];
	uint32_t ckey[ORC_K_TOPK_MAX];
	int32_t cid[ORC_K_TOPK_MAX];
	float cw[ORC_K_TOPK_MAX];
	uint32_t prefix, n_above, n_cand, sel;
	float scan[SM_WARPS];
};

/* Pass 1: argmax, log-sum-exp at temperature 1 and the sum at 1/inv_t. */
__device__ void s_stats(const float *x, int n, float inv_t, s_shared &sh, float *rmax, int *rarg, float *rlse,
			float *rzt)
{
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	float v = -INFINITY, m = -INFINITY, s1 = 0.0f, st = 0.0f;
	int vi = 0x7fffffff;
	for (int i = tid; i < n; i += SM_THREADS) {
		float y = x[i];
		s_amax(v, vi, y, i);
		if (y == -INFINITY)
			continue;
		if (y > m) {
			s1 = s1 * expf(m - y) + 1.0f;
			st = st * expf((m - y) * inv_t) + 1.0f;
			m = y;
		} else {
			s1 += expf(y - m);
			st += expf((y - m) * inv_t);
		}
	}
	/* m == v always (same elements); merge (m, s1) and (m, st) across lanes */
	float mt = m;
	for (int o = 16; o > 0; o >>= 1) {
		float v2 = __shfl_xor_sync(0xffffffffu, v, o);
		int i2 = __shfl_xor_sync(0xffffffffu, vi, o);
		float m2 = __shfl_xor_sync(0xffffffffu, m, o), a2 = __shfl_xor_sync(0xffffffffu, s1, o);
		float mt2 = __shfl_xor_sync(0xffffffffu, mt, o), b2 = __shfl_xor_sync(0xffffffffu, st, o);
		s_amax(v, vi, v2, i2);
		s_lse(m, s1, m2, a2, 1.0f);
		s_lse(mt, st, mt2, b2, inv_t);
	}
	if (lane == 0) {
		sh.wv[warp] = v;
		sh.wi[warp] = vi;
		sh.ws1[warp] = s1;
		sh.wst[warp] = st;
		sh.scan[warp] = m;
	}
	__syncthreads();
	if (tid == 0) {
		float bv = sh.wv[0], bm = sh.scan[0], b1 = sh.ws1[0], bmt = sh.scan[0], bt = sh.wst[0];
		int bi = sh.wi[0];
		for (int w = 1; w < SM_WARPS; w++) {
			s_amax(bv, bi, sh.wv[w], sh.wi[w]);
			s_lse(bm, b1, sh.scan[w], sh.ws1[w], 1.0f);
			s_lse(bmt, bt, sh.scan[w], sh.wst[w], inv_t);
		}
		*rmax = bv;
		*rarg = bi;
		*rlse = bm + logf(b1);
		*rzt = bt;
	}
	__syncthreads();
}

/* The K largest keys of x into sh.ckey/cid, sorted descending (ties: lower id first). */
__device__ void s_topk(const float *x, int n, int K, s_shared &sh)
{
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	uint32_t prefix = 0, mask = 0;
	uint32_t need = (uint32_t)K;   /* how many of the matching keys we still take */
	for (int shift = 24; shift >= 0; shift -= 8) {
		for (int i = tid; i < 256; i += SM_THREADS)
			sh.hist[i] = 0;
		__syncthreads();
		for (int i = tid; i < n; i += SM_THREADS) {
			uint32_t k = s_key(x[i]);
			if ((k & mask) == prefix)
				atomicAdd(&sh.hist[(k >> shift) & 0xff], 1u);
		}
		__syncthreads();
		if (tid == 0) {
			uint32_t c = 0;
			int d = 255;
			for (; d > 0; d--) {
				if (c + sh.hist[d] >= need)
					break;
				c += sh.hist[d];
			}
			sh.sel = (uint32_t)d;
			sh.n_above = c;
		}
		__syncthreads();
		need -= sh.n_above;
		prefix |= sh.sel << shift;
		mask |= 0xffu << shift;
		__syncthreads();
	}
	/* prefix is now the K-th largest key; take all above it, then the
	 * lowest ids equal to it */
	if (tid == 0)
		sh.n_cand = 0;
	__syncthreads();
	for (int i = tid; i < n; i += SM_THREADS) {
		uint32_t k = s_key(x[i]);
		if (k > prefix) {
			uint32_t at = atomicAdd(&sh.n_cand, 1u);
			sh.ckey[at] = k;
			sh.cid[at] = i;
		}
	}
	__syncthreads();
	uint32_t base = sh.n_cand;
	for (int t0 = 0; t0 < n && base < (uint32_t)K; t0 += SM_THREADS) {
		int i = t0 + tid;
		bool eq = i < n && s_key(x[i]) == prefix;
		uint32_t bal = __ballot_sync(0xffffffffu, eq);
		if (lane == 0)
			sh.hist[warp] = __popc(bal);
		__syncthreads();
		uint32_t before = 0, total = 0;
		for (int w = 0; w < SM_WARPS; w++) {
			if (w < warp)
				before += sh.hist[w];
			total += sh.hist[w];
		}
		uint32_t at = base + before + __popc(bal & ((1u << lane) - 1));
		if (eq && at < (uint32_t)K) {
			sh.ckey[at] = prefix;
			sh.cid[at] = i;
		}
		base += total;
		__syncthreads();
	}
	/* bitonic sort of ORC_K_TOPK_MAX slots, unused ones last */
	for (int i = tid; i < ORC_K_TOPK_MAX; i += SM_THREADS)
		if (i >= K) {
			sh.ckey[i] = 0;
			sh.cid[i] = 0x7fffffff;
		}
	__syncthreads();
	for (int size = 2; size <= ORC_K_TOPK_MAX; size <<= 1) {
		for (int stride = size >> 1; stride > 0; stride >>= 1) {
			for (int i = tid; i < ORC_K_TOPK_MAX; i += SM_THREADS) {
				int j = i ^ stride;
				if (j > i) {
					/* "a before b": larger key, then lower id */
					uint32_t ka = sh.ckey[i], kb = sh.ckey[j];
					int ia = sh.cid[i], ib = sh.cid[j];
					bool a_first = ka > kb || (ka == kb && ia < ib);
					bool up = (i & size) == 0;
					if (a_first != up) {
						sh.ckey[i] = kb; sh.ckey[j] = ka;
						sh.cid[i] = ib; sh.cid[j] = ia;
					}
				}
			}
			__syncthreads();
		}
	}
}

/* Inverse CDF over the whole row in id order: contiguous chunks per thread,
 * chunk sums scanned in thread order. */
__device__ int s_full(const float *x, int n, float mx, float inv_t, float u, s_shared &sh)
{
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int C = (n + SM_THREADS - 1) / SM_THREADS;
	const int b = tid * C, e = min(n, b + C);
	float s = 0.0f;
	for (int i = b; i < e; i++)
		s += expf((x[i] - mx) * inv_t);
	float inc = s;
	for (int o = 1; o < 32; o <<= 1) {
		float v = __shfl_up_sync(0xffffffffu, inc, o);
		if (lane >= o)
			inc += v;
	}
	if (lane == 31)
		sh.scan[warp] = inc;
	__syncthreads();
	if (tid == 0) {
		float c = 0.0f;
		for (int w = 0; w < SM_WARPS; w++) {
			float t = sh.scan[w];
			sh.scan[w] = c;
			c += t;
		}
		sh.wv[0] = c;
		sh.wi[0] = -1;
	}
	__syncthreads();
	inc += sh.scan[warp];
	float excl = inc - s, target = u * sh.wv[0];
	if (b < e && excl <= target && (target < inc || tid == (n - 1) / C)) {
		float r = target - excl, a = 0.0f;
		int pick = -1;
		for (int i = b; i < e; i++) {
			float w = expf((x[i] - mx) * inv_t);
			a += w;
			if (w > 0.0f)
				pick = i;
			if (a > r)
				break;
		}
		atomicMax(&sh.wi[0], pick);
	}
	__syncthreads();
	int id = sh.wi[0];
	__syncthreads();
	return id;   /* -1 only when every weight underflowed */
}

__global__ void __launch_bounds__(SM_THREADS)
k_sample(const float *logits, int ld, int n, const orc_k_sample_params *params, orc_k_sample_result *res)
{
	k_dep_wait();
	__shared__ s_shared sh;
	__shared__ float st_max, st_lse, st_zt;
	__shared__ int st_arg;
	const int row = blockIdx.x, tid = threadIdx.x;
	const float *x = logits + (int64_t)row * ld;
	const orc_k_sample_params P = params[row];
	const bool greedy = !(P.temp > 0.0f);
	const float inv_t = greedy ? 1.0f : 1.0f / P.temp;
	const int nlp = max(0, min(P.n_logprobs, ORC_K_LOGPROBS_MAX));
	int ktr = 0;
	if (!greedy) {
		if (P.top_k > 0 && P.top_k <= ORC_K_TOPK_MAX)
			ktr = P.top_k;
		else if (P.top_p < 1.0f || P.min_p > 0.0f)
			ktr = ORC_K_TOPK_MAX;
	}
	const int K = min(n, max(ktr, nlp));

	s_stats(x, n, inv_t, sh, &st_max, &st_arg, &st_lse, &st_zt);
	if (K > 0)
		s_topk(x, n, K, sh);
	int id = st_arg;
	if (!greedy && ktr == 0) {
		id = s_full(x, n, st_max, inv_t, P.u, sh);
		if (id < 0)
			id = st_arg;
	} else if (!greedy) {
		/* truncated: weights relative to the best candidate */
		const int kc = min(K, ktr);
		if (tid == 0) {
			float top = s_unkey(sh.ckey[0]);
			float zt = (P.top_k > 0 && P.top_k <= ORC_K_TOPK_MAX) ? 0.0f : st_zt;
			float tot = 0.0f;
			int keep = 0;
			for (int i = 0; i < kc; i++) {
				sh.cw[i] = expf((s_unkey(sh.ckey[i]) - top) * inv_t);
				if (zt == 0.0f)
					tot += sh.cw[i];
			}
			if (zt == 0.0f)
				zt = tot;
			/* st_zt is relative to the row max, which is the best candidate */
			float cum = 0.0f;
			for (int i = 0; i < kc; i++) {
				if (i > 0 && sh.cw[i] < P.min_p)
					break;
				if (i > 0 && cum >= P.top_p * zt)
					break;
				cum += sh.cw[i];
				keep = i + 1;
			}
			float target = P.u * cum, a = 0.0f;
			int pick = sh.cid[keep - 1];
			for (int i = 0; i < keep; i++) {
				a += sh.cw[i];
				if (a > target) {
					pick = sh.cid[i];
					break;
				}
			}
			st_arg = pick;
		}
		__syncthreads();
		id = st_arg;
	}
	if (tid == 0) {
		orc_k_sample_result *r = res + row;
		r->id = id;
		r->logprob = x[id] - st_lse;
		for (int i = 0; i < ORC_K_LOGPROBS_MAX; i++) {
			r->top_id[i] = i < nlp ? sh.cid[i] : -1;
			r->top_logprob[i] = i < nlp ? s_unkey(sh.ckey[i]) - st_lse : -INFINITY;
		}
	}
}

extern "C" cudaError_t orc_k_sample(const float *logits, int ld, int n_vocab, int n_rows,
				    const struct orc_k_sample_params *params, struct orc_k_sample_result *res,
				    cudaStream_t stream)
{
	if (n_vocab <= 0 || ld < n_vocab || n_rows < 0 || n_rows > 65535)
		return cudaErrorInvalidValue;
	if (n_rows == 0)
		return cudaSuccess;
	k_launch(k_sample, n_rows, SM_THREADS, 0, stream, logits, ld, n_vocab, params, res);
	return cudaGetLastError();
}

/* ---- top-k candidates for the host sampler ---- */

/* grid n_rows, block SM_THREADS: the K best logits of each row with their
 * ids, best first (larger logit, then lower id); id -1 first when the row
 * holds a NaN or +inf or only -inf (orc_sampler_greedy()'s refusals). */
__global__ void __launch_bounds__(SM_THREADS)
k_topk(const float *logits, int ld, int n, int K, float *out_logit, int32_t *out_id)
{
	k_dep_wait();
	__shared__ s_shared sh;
	const int row = blockIdx.x, tid = threadIdx.x;
	const float *x = logits + (int64_t)row * ld;
	int bad = 0, live = 0;
	for (int i = tid; i < n; i += SM_THREADS) {
		const float y = x[i];
		if (isnan(y) || y == INFINITY)
			bad = 1;
		else if (y != -INFINITY)
			live = 1;
	}
	bad = __syncthreads_or(bad);
	live = __syncthreads_or(live);
	s_topk(x, n, K, sh);
	float *ol = out_logit + (int64_t)row * K;
	int32_t *oi = out_id + (int64_t)row * K;
	for (int i = tid; i < K; i += SM_THREADS) {
		ol[i] = x[sh.cid[i]];
		oi[i] = (bad || !live) && i == 0 ? -1 : sh.cid[i];
	}
}

extern "C" cudaError_t orc_k_topk(const float *logits, int ld, int n_vocab, int n_rows, int K, float *out_logit,
				  int32_t *out_id, cudaStream_t stream)
{
	if (n_vocab <= 0 || ld < n_vocab || n_rows < 0 || n_rows > 65535 || K < 1 || K > n_vocab ||
	    K > ORC_K_TOPK_MAX)
		return cudaErrorInvalidValue;
	if (n_rows == 0)
		return cudaSuccess;
	k_launch(k_topk, n_rows, SM_THREADS, 0, stream, logits, ld, n_vocab, K, out_logit, out_id);
	return cudaGetLastError();
}

/* ---- greedy ---- */

/* (v, i) beats (bv, bi): larger, or equal and a lower id; ids < 0 are empty. */
__device__ __forceinline__ bool am_better(float v, int i, float bv, int bi)
{
	return bi < 0 || (i >= 0 && (v > bv || (v == bv && i < bi)));
}

/* The best (v, i) of the warp, in every lane. */
__device__ __forceinline__ void am_warp_best(float &bv, int &bi)
{
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) {
		float ov = __shfl_xor_sync(0xffffffffu, bv, o);
		int oi = __shfl_xor_sync(0xffffffffu, bi, o);
		if (am_better(ov, oi, bv, bi))
			bv = ov, bi = oi;
	}
}

/* grid n_rows, block SM_THREADS */
__global__ void __launch_bounds__(SM_THREADS) k_argmax(const float *logits, int ld, int n_vocab, int32_t *out)
{
	k_dep_wait();
	__shared__ float sv[SM_WARPS];
	__shared__ int si[SM_WARPS], sbad;
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const float *row = logits + (int64_t)blockIdx.x * ld;
	float bv = 0.0f;
	int bi = -1, bad = 0;

	if (tid == 0)
		sbad = 0;
	auto see = [&](float v, int i) {
		if (isnan(v) || v == INFINITY)
			bad = 1;
		else if (v != -INFINITY && am_better(v, i, bv, bi))
			bv = v, bi = i;
	};
	int done = 0;
	if ((uintptr_t)row % 16 == 0) {
		/* 4 float4 loads in flight per thread; the visiting order does not
		 * matter (ties go to the lower id) */
		const int n4 = n_vocab / 4;
		const float4 *r4 = (const float4 *)row;
		for (int b = 0; b < n4; b += 4 * SM_THREADS) {
			float4 v[4];
#pragma unroll
			for (int u = 0; u < 4; u++) {
				int j = b + u * SM_THREADS + tid;
				v[u] = j < n4 ? r4[j] : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
			}
#pragma unroll
			for (int u = 0; u < 4; u++) {
				int i = 4 * (b + u * SM_THREADS + tid);
				see(v[u].x, i), see(v[u].y, i + 1), see(v[u].z, i + 2), see(v[u].w, i + 3);
			}
		}
		done = 4 * n4;
	}
	for (int i = done + tid; i < n_vocab; i += SM_THREADS)
		see(row[i], i);
	am_warp_best(bv, bi);
	__syncthreads();
	if (bad)
		sbad = 1;
	if (lane == 0)
		sv[warp] = bv, si[warp] = bi;
	__syncthreads();
	if (warp != 0)
		return;
	bv = sv[lane];
	bi = si[lane];
	am_warp_best(bv, bi);
	if (lane == 0)
		out[blockIdx.x] = sbad ? -1 : bi;
}

extern "C" cudaError_t orc_k_argmax(const float *logits, int ld, int n_vocab, int n_rows, int32_t *out,
				    cudaStream_t stream)
{
	if (n_vocab <= 0 || n_rows < 0 || ld < n_vocab || !out)
		return cudaErrorInvalidValue;
	if (n_rows == 0)
		return cudaSuccess;
	k_launch(k_argmax, n_rows, SM_THREADS, 0, stream, logits, ld, n_vocab, out);
	return cudaGetLastError();
}
