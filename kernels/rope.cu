/* rope.cu -- rotary position embedding in place, in both layouts: NeoX
 * halves (qwen2, phi3) and llama's adjacent pairs. Angles are evaluated in
 * double and rounded to float, as the CPU backend does (the frequencies with
 * the host's pow(), cos and sin on the device, once per token and pair). Also the fused
 * form that rotates q and k and stores k and v into the cache rows. */
#include "kcommon.cuh"

#include <math.h>

/* theta^(-2i / n_rot) of every pair, in double, computed on the host once
 * per launch (as the CPU backend computes it) and passed by value. */
struct rope_freq {
	double f[ORC_K_HEAD_DIM_MAX / 2];
};

static rope_freq rope_freqs(const struct orc_k_rope *r)
{
	rope_freq q;
	for (int i = 0; i < r->n_rot / 2; i++)
		q.f[i] = pow((double)r->theta, -2.0 * i / r->n_rot);
	return q;
}

/* cos and sin of every pair's angle at position p into cs[], sn[] (the
 * angle depends on the position and the pair, not on the head; one double
 * cos or sin per thread), then a barrier. */
__device__ __forceinline__ void k_rope_angles(float *cs, float *sn, int n_rot, const rope_freq &fq, double p)
{
	const int half = n_rot / 2;
	for (int e = threadIdx.x; e < 2 * half; e += blockDim.x) {
		const int i = e < half ? e : e - half;
		double ang = p * fq.f[i];
		if (e < half)
			cs[i] = (float)cos(ang);
		else
			sn[i] = (float)sin(ang);
	}
	__syncthreads();
}

/* Rotate pair i (elements a, b) of a head in place. */
__device__ __forceinline__ void k_rope_rot(float *v, int i, int n_rot, int neox, const float *cs, const float *sn,
					   int *ra, int *rb)
{
	const int half = n_rot / 2;
	const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
	float c = cs[i], s = sn[i];
	float x0 = v[a], x1 = v[b];
	v[a] = x0 * c - x1 * s;
	v[b] = x0 * s + x1 * c;
	*ra = a;
	*rb = b;
}

/* grid n_tok, block 128: one thread per (head, pair) */
__global__ void k_rope(float *x, int ldx, const int32_t *pos, int n_heads, int head_dim, int n_rot, int neox,
		       rope_freq fq)
{
	__shared__ float cs[ORC_K_HEAD_DIM_MAX / 2], sn[ORC_K_HEAD_DIM_MAX / 2];
	const int t = blockIdx.x, half = n_rot / 2;
	float *row = x + (int64_t)t * ldx;
	/* positions are a step's inputs, copied in before its kernels and
	 * written by none: the angles are computed while the kernel before
	 * this one finishes */
	k_rope_angles(cs, sn, n_rot, fq, (double)pos[t]);
	k_dep_wait();
	for (int e = threadIdx.x; e < n_heads * half; e += blockDim.x) {
		int a, b;
		k_rope_rot(row + (e / half) * head_dim, e % half, n_rot, neox, cs, sn, &a, &b);
	}
}

template <typename T> __device__ __forceinline__ void k_cache_put(void *c, int64_t i, float v);
template <> __device__ __forceinline__ void k_cache_put<float>(void *c, int64_t i, float v)
{
	((float *)c)[i] = v;
}
template <> __device__ __forceinline__ void k_cache_put<__half>(void *c, int64_t i, float v)
{
	((__half *)c)[i] = __float2half_rn(v);
}

/* grid n_tok, block 128 */
template <typename CT>
__global__ void k_rope_kv(struct orc_k_rope_kv a, int n_rot, int neox, rope_freq fq)
{
	__shared__ float cs[ORC_K_HEAD_DIM_MAX / 2], sn[ORC_K_HEAD_DIM_MAX / 2];
	const int t = blockIdx.x, half = n_rot / 2, hd = a.head_dim;
	/* positions and cache rows are a step's inputs, copied in before its
	 * kernels and written by none: the angles are computed while the
	 * kernel before this one finishes */
	const int64_t r = a.idx[t];
	const bool bad = r < 0 || r >= a.n_rows;
	float *q = a.q + (int64_t)t * a.ldq, *k = a.k + (int64_t)t * a.ldk;
	const float *v = a.v + (int64_t)t * a.ldv;
	k_rope_angles(cs, sn, n_rot, fq, (double)a.pos[t]);
	k_dep_wait();
	if (bad && a.flag && threadIdx.x == 0)
		atomicOr(a.flag, ORC_K_BAD_INDEX);
	for (int e = threadIdx.x; e < a.n_head * half; e += blockDim.x) {
		int x0, x1;
		k_rope_rot(q + (e / half) * hd, e % half, n_rot, neox, cs, sn, &x0, &x1);
	}
	for (int e = threadIdx.x; e < a.n_kv * hd; e += blockDim.x) {
		const int h = e / hd, d = e % hd;
		if (d < n_rot) {
			int i = neox ? (d < half ? d : -1) : (d % 2 == 0 ? d / 2 : -1);
			if (i < 0)
				continue;     /* the second of a pair: done by the first */
			int x0, x1;
			k_rope_rot(k + h * hd, i, n_rot, neox, cs, sn, &x0, &x1);
			if (!bad) {
				k_cache_put<CT>(a.kc, r * a.ldc + h * hd + x0, k[h * hd + x0]);
				k_cache_put<CT>(a.kc, r * a.ldc + h * hd + x1, k[h * hd + x1]);
			}
		} else if (!bad) {
			k_cache_put<CT>(a.kc, r * a.ldc + e, k[e]);
		}
	}
	if (!bad)
		for (int e = threadIdx.x; e < a.n_kv * hd; e += blockDim.x)
			k_cache_put<CT>(a.vc, r * a.ldc + e, v[e]);
}

extern "C" cudaError_t orc_k_rope_kv(const struct orc_k_rope_kv *a, const struct orc_k_rope *r, cudaStream_t stream)
{
	const int hd = a->head_dim;
	if (!r || r->n_rot <= 0 || r->n_rot % 2 || r->n_rot > hd || hd > ORC_K_HEAD_DIM_MAX || !(r->theta > 0.0f) ||
	    a->n_tok < 0 ||
	    a->n_head <= 0 || a->n_kv <= 0 || a->ldq < a->n_head * hd || a->ldk < a->n_kv * hd ||
	    a->ldv < a->n_kv * hd || a->ldc < (int64_t)a->n_kv * hd)
		return cudaErrorInvalidValue;
	if (a->n_tok == 0)
		return cudaSuccess;
	if (a->cache_type == ORC_KT_F32)
		k_launch(k_rope_kv<float>, a->n_tok, 128, 0, stream, *a, r->n_rot, r->neox, rope_freqs(r));
	else if (a->cache_type == ORC_KT_F16)
		k_launch(k_rope_kv<__half>, a->n_tok, 128, 0, stream, *a, r->n_rot, r->neox, rope_freqs(r));
	else
		return cudaErrorInvalidValue;
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_rope(float *x, int ldx, const int32_t *pos, int n_tok, int n_heads, int head_dim,
				  const struct orc_k_rope *r, cudaStream_t stream)
{
	if (!r || r->n_rot <= 0 || r->n_rot % 2 || r->n_rot > head_dim || head_dim > ORC_K_HEAD_DIM_MAX ||
	    !(r->theta > 0.0f) || n_tok < 0 || n_heads <= 0 || ldx < n_heads * head_dim)
		return cudaErrorInvalidValue;
	if (n_tok == 0)
		return cudaSuccess;
	k_launch(k_rope, n_tok, 128, 0, stream, x, ldx, pos, n_heads, head_dim, r->n_rot, r->neox, rope_freqs(r));
	return cudaGetLastError();
}
