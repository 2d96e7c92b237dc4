/* attn_prefill.cu -- causal grouped-query attention for a prompt chunk, in
 * flash-attention style: a block takes 16 queries of one head, walks the
 * cache pages (32 keys each) that the chunk may see, stages each page's K
 * and V in shared memory as F32, and keeps an online softmax per query
 * (4 queries per warp; a lane scores one key, then owns head dims
 * lane, lane+32, ... of the output). */
#include <math.h>

#include "kcommon.cuh"

#define AP_THREADS 128
#define AP_WARPS 4
#define AP_QW 4                      /* queries per warp */
#define AP_BQ (AP_WARPS * AP_QW)     /* queries per block */

template <typename KT, int HD>
__global__ void __launch_bounds__(AP_THREADS)
k_attn_prefill(void *out, int otype, int ldo, const float *q, int ldq, const KT *kc, const KT *vc,
	       const int32_t *btr, int n_kv, int hd, int G, int pos0, int n_tok, float scale)
{
	constexpr int DL = HD / 32;
	constexpr int LD = HD + 1;   /* padded rows: lane j reads row j without bank conflicts */
	extern __shared__ float sm[];
	float *qs = sm;                   /* [AP_BQ][HD] */
	float *ks = qs + AP_BQ * HD;      /* [32][LD] */
	float *vs = ks + ORC_KV_BLOCK * LD;
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int h = blockIdx.y, kvh = h / G, i0 = blockIdx.x * AP_BQ;
	const int n_keys = pos0 + min(n_tok, i0 + AP_BQ);  /* keys this block may see */

	for (int i = tid; i < AP_BQ * HD; i += AP_THREADS) {
		int r = i / HD, d = i % HD;
		qs[i] = (i0 + r < n_tok && d < hd) ? q[(int64_t)(i0 + r) * ldq + h * hd + d] * scale : 0.0f;
	}
	int qp[AP_QW];
	float m[AP_QW], l[AP_QW], acc[AP_QW][DL];
#pragma unroll
	for (int qq = 0; qq < AP_QW; qq++) {
		int i = i0 + warp * AP_QW + qq;
		qp[qq] = pos0 + min(i, n_tok - 1);  /* rows past the chunk compute row n_tok-1, unstored */
		m[qq] = -INFINITY;
		l[qq] = 0.0f;
#pragma unroll
		for (int k = 0; k < DL; k++)
			acc[qq][k] = 0.0f;
	}

	const int n_pages = (n_keys + ORC_KV_BLOCK - 1) / ORC_KV_BLOCK;
	for (int pg = 0; pg < n_pages; pg++) {
		const int64_t base = ((int64_t)btr[pg] * n_kv + kvh) * ORC_KV_BLOCK * hd;
		const int kpos0 = pg * ORC_KV_BLOCK;
		__syncthreads();
		for (int e = tid; e < ORC_KV_BLOCK * hd; e += AP_THREADS) {
			int j = e / hd, d = e % hd;
			bool ok = kpos0 + j < n_keys;
			ks[j * LD + d] = ok ? k_ld1(kc + base + e) : 0.0f;
			vs[j * LD + d] = ok ? k_ld1(vc + base + e) : 0.0f;
		}
		__syncthreads();

		float s[AP_QW], p[AP_QW];
#pragma unroll
		for (int qq = 0; qq < AP_QW; qq++)
			s[qq] = 0.0f;
		const float *kr = ks + lane * LD, *qw = qs + warp * AP_QW * HD;
		for (int d = 0; d < hd; d++) {
			float kv = kr[d];
#pragma unroll
			for (int qq = 0; qq < AP_QW; qq++)
				s[qq] = fmaf(qw[qq * HD + d], kv, s[qq]);
		}
		const int kpos = kpos0 + lane;
#pragma unroll
		for (int qq = 0; qq < AP_QW; qq++) {
			float sv = kpos <= qp[qq] ? s[qq] : -INFINITY;
			float mx = k_warp_max(sv);
			if (mx == -INFINITY) {   /* page entirely after this query */
				p[qq] = 0.0f;
				continue;
			}
			float mn = fmaxf(m[qq], mx);
			float corr = expf(m[qq] - mn);
			p[qq] = kpos <= qp[qq] ? expf(sv - mn) : 0.0f;
			l[qq] = l[qq] * corr + k_warp_sum(p[qq]);
			m[qq] = mn;
#pragma unroll
			for (int k = 0; k < DL; k++)
				acc[qq][k] *= corr;
		}
		const int jn = min(ORC_KV_BLOCK, n_keys - kpos0);
		for (int j = 0; j < jn; j++) {
			float vv[DL];
#pragma unroll
			for (int k = 0; k < DL; k++)
				vv[k] = vs[j * LD + lane + 32 * k];
#pragma unroll
			for (int qq = 0; qq < AP_QW; qq++) {
				float pj = __shfl_sync(0xffffffffu, p[qq], j);
#pragma unroll
				for (int k = 0; k < DL; k++)
					acc[qq][k] = fmaf(pj, vv[k], acc[qq][k]);
			}
		}
	}

#pragma unroll
	for (int qq = 0; qq < AP_QW; qq++) {
		int i = i0 + warp * AP_QW + qq;
		if (i >= n_tok)
			continue;
		float inv = 1.0f / l[qq];
#pragma unroll
		for (int k = 0; k < DL; k++) {
			int d = lane + 32 * k;
			if (d < hd)
				k_store_rt(out, otype, (int64_t)i * ldo + h * hd + d, acc[qq][k] * inv);
		}
	}
}

template <typename KT, int HD>
static cudaError_t ap_launch(void *out, int otype, int ldo, const float *q, int ldq, const struct orc_k_kv *kv,
			     int slot, int pos0, int n_tok, int n_head, float scale, cudaStream_t s)
{
	size_t smem = (AP_BQ * HD + 2 * ORC_KV_BLOCK * (HD + 1)) * sizeof(float);
	if (smem > 48 * 1024) {
		cudaError_t e = cudaFuncSetAttribute(k_attn_prefill<KT, HD>,
						     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
		if (e != cudaSuccess)
			return e;
	}
	dim3 grid(k_cdiv(n_tok, AP_BQ), n_head);
	k_attn_prefill<KT, HD><<<grid, AP_THREADS, smem, s>>>(out, otype, ldo, q, ldq, (const KT *)kv->k,
		(const KT *)kv->v, kv->block_table + (int64_t)slot * kv->bt_stride, kv->n_kv_head,
		kv->head_dim, n_head / kv->n_kv_head, pos0, n_tok, scale);
	return cudaGetLastError();
}

template <typename KT>
static cudaError_t ap_launch_t(void *out, int otype, int ldo, const float *q, int ldq, const struct orc_k_kv *kv,
			       int slot, int pos0, int n_tok, int n_head, float scale, cudaStream_t s)
{
	int hd = kv->head_dim;
	if (hd <= 32)
		return ap_launch<KT, 32>(out, otype, ldo, q, ldq, kv, slot, pos0, n_tok, n_head, scale, s);
	if (hd <= 64)
		return ap_launch<KT, 64>(out, otype, ldo, q, ldq, kv, slot, pos0, n_tok, n_head, scale, s);
	if (hd <= 128)
		return ap_launch<KT, 128>(out, otype, ldo, q, ldq, kv, slot, pos0, n_tok, n_head, scale, s);
	return ap_launch<KT, 256>(out, otype, ldo, q, ldq, kv, slot, pos0, n_tok, n_head, scale, s);
}

extern "C" cudaError_t orc_k_attn_prefill(void *out, int otype, int ldo, const float *q, int ldq,
					  const struct orc_k_kv *kv, int slot, int pos0, int n_tok, int n_head,
					  float scale, cudaStream_t stream)
{
	int hd = kv->head_dim, nkv = kv->n_kv_head;
	if (!k_is_act_type(otype) || hd <= 0 || hd > ORC_K_HEAD_DIM_MAX || nkv <= 0 || n_head % nkv ||
	    n_tok < 0 || pos0 < 0 || slot < 0 || ldq < n_head * hd || ldo < n_head * hd || n_head > 65535)
		return cudaErrorInvalidValue;
	if (n_tok == 0)
		return cudaSuccess;
	if (kv->type == ORC_KT_F32)
		return ap_launch_t<float>(out, otype, ldo, q, ldq, kv, slot, pos0, n_tok, n_head, scale, stream);
	if (kv->type == ORC_KT_F16)
		return ap_launch_t<__half>(out, otype, ldo, q, ldq, kv, slot, pos0, n_tok, n_head, scale, stream);
	return cudaErrorInvalidValue;
}
