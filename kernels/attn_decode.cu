/* attn_decode.cu -- decode attention over the paged KV cache (flash
 * decoding): one block per (split of 256 keys, KV head, token) serves the
 * up to 8 query heads of its group; 4 warps take the split's pages in turn
 * with an online softmax; the last block of a token's splits to finish
 * merges the partial results in split order. The split count follows from
 * the token's position only, so the arithmetic never depends on the batch. */
#include <math.h>

#include "kcommon.cuh"

#define AD_THREADS 128
#define AD_WARPS 4
#define AD_G 8   /* query heads per block */
#define AD_PAGES (ORC_K_ATTN_SPLIT / ORC_KV_BLOCK)

struct ad_ws {
	int *cnt;     /* [max_tok * n_head] */
	float *ml;    /* [max_tok, n_head, max_splits, 2] running max and sum */
	float *o;     /* [max_tok, n_head, max_splits, head_dim] unnormalized outputs */
	int stride;   /* max_splits of the allocation */
};

static size_t ad_align(size_t n)
{
	return (n + 255) & ~(size_t)255;
}

extern "C" size_t orc_k_attn_decode_ws_bytes(int max_tok, int n_head, int head_dim, int max_splits)
{
	size_t slots = (size_t)max_tok * n_head;
	return ad_align(slots * sizeof(int)) + ad_align(slots * max_splits * 2 * sizeof(float)) +
	       ad_align(slots * max_splits * head_dim * sizeof(float));
}

template <typename KT, int HD>
__global__ void __launch_bounds__(AD_THREADS)
k_attn_decode(float *out, int ldo, const float *q, int ldq, const KT *kc, const KT *vc, const int32_t *bt,
	      int bt_stride, const int32_t *pos, const int32_t *slot, int n_head, int n_kv, int hd, float scale,
	      ad_ws ws)
{
	constexpr int DL = HD / 32; /* dims per lane in P.V: lane*DL .. lane*DL+DL-1 */
	__shared__ float qs[AD_G][HD];
	__shared__ float wm[AD_WARPS][AD_G], wl[AD_WARPS][AD_G];
	__shared__ float wacc[AD_WARPS][AD_G][HD];
	__shared__ int last;
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int split = blockIdx.x, t = blockIdx.z;
	const int G = n_head / n_kv, n_hg = (G + AD_G - 1) / AD_G;
	const int kvh = blockIdx.y / n_hg, h0 = kvh * G + (blockIdx.y % n_hg) * AD_G;
	const int ng = min(AD_G, G - (int)(blockIdx.y % n_hg) * AD_G);
	const int n_keys = pos[t] + 1, n_split = (n_keys + ORC_K_ATTN_SPLIT - 1) / ORC_K_ATTN_SPLIT;
	if (split >= n_split)
		return;

	for (int i = tid; i < AD_G * HD; i += AD_THREADS) {
		int g = i / HD, d = i % HD;
		qs[g][d] = g < ng && d < hd ? q[(int64_t)t * ldq + (h0 + g) * hd + d] * scale : 0.0f;
	}
	__syncthreads();

	float m[AD_G], l[AD_G], acc[AD_G][DL];
#pragma unroll
	for (int g = 0; g < AD_G; g++) {
		m[g] = -INFINITY;
		l[g] = 0.0f;
#pragma unroll
		for (int i = 0; i < DL; i++)
			acc[g][i] = 0.0f;
	}
	const int32_t *btr = bt + (int64_t)slot[t] * bt_stride;
	const int pg_end = min(split * AD_PAGES + AD_PAGES, (n_keys + ORC_KV_BLOCK - 1) / ORC_KV_BLOCK);
	for (int pg = split * AD_PAGES + warp; pg < pg_end; pg += AD_WARPS) {
		const int64_t base = ((int64_t)btr[pg] * n_kv + kvh) * ORC_KV_BLOCK * hd;
		const KT *kp = kc + base, *vp = vc + base;
		const int nvalid = min(ORC_KV_BLOCK, n_keys - pg * ORC_KV_BLOCK);
		float s[AD_G], p[AD_G];
#pragma unroll
		for (int g = 0; g < AD_G; g++)
			s[g] = 0.0f;
		if (lane < nvalid) {
			const KT *kr = kp + lane * hd;
			for (int d = 0; d < hd; d += 2) {
				float2 kk = k_ld2(kr + d);
#pragma unroll
				for (int g = 0; g < AD_G; g++) {
					s[g] = fmaf(qs[g][d], kk.x, s[g]);
					s[g] = fmaf(qs[g][d + 1], kk.y, s[g]);
				}
			}
		}
#pragma unroll
		for (int g = 0; g < AD_G; g++) {
			float sv = lane < nvalid ? s[g] : -INFINITY;
			float mn = fmaxf(m[g], k_warp_max(sv));
			float corr = expf(m[g] - mn);
			p[g] = lane < nvalid ? expf(sv - mn) : 0.0f;
			l[g] = l[g] * corr + k_warp_sum(p[g]);
			m[g] = mn;
#pragma unroll
			for (int i = 0; i < DL; i++)
				acc[g][i] *= corr;
		}
		for (int j = 0; j < nvalid; j++) {
			const KT *vr = vp + j * hd;
			float vv[DL];
#pragma unroll
			for (int i = 0; i < DL; i += 2) {
				int d = lane * DL + i;
				float2 v2 = d < hd ? k_ld2(vr + d) : make_float2(0.0f, 0.0f);
				vv[i] = v2.x;
				vv[i + 1] = v2.y;
			}
#pragma unroll
			for (int g = 0; g < AD_G; g++) {
				float pj = __shfl_sync(0xffffffffu, p[g], j);
#pragma unroll
				for (int i = 0; i < DL; i++)
					acc[g][i] = fmaf(pj, vv[i], acc[g][i]);
			}
		}
	}

	/* merge the warps in order 0..3 */
#pragma unroll
	for (int g = 0; g < AD_G; g++) {
		if (lane == 0) {
			wm[warp][g] = m[g];
			wl[warp][g] = l[g];
		}
#pragma unroll
		for (int i = 0; i < DL; i++)
			wacc[warp][g][lane * DL + i] = acc[g][i];
	}
	__syncthreads();
	const bool single = n_split == 1;
	for (int i = tid; i < ng * hd; i += AD_THREADS) {
		int g = i / hd, d = i % hd;
		float M = wm[0][g];
		for (int w = 1; w < AD_WARPS; w++)
			M = fmaxf(M, wm[w][g]);
		float L = 0.0f, O = 0.0f;
		for (int w = 0; w < AD_WARPS; w++) {
			float e = expf(wm[w][g] - M);
			L += wl[w][g] * e;
			O += wacc[w][g][d] * e;
		}
		int64_t sl = (int64_t)t * n_head + h0 + g;
		if (single) {
			out[(int64_t)t * ldo + (h0 + g) * hd + d] = O / L;
		} else {
			ws.o[(sl * ws.stride + split) * hd + d] = O;
			if (d == 0) {
				ws.ml[(sl * ws.stride + split) * 2] = M;
				ws.ml[(sl * ws.stride + split) * 2 + 1] = L;
			}
		}
	}
	if (single)
		return;

	/* the last block of this (token, head group) merges the splits */
	__threadfence();
	__syncthreads();
	int *cnt = ws.cnt + (int64_t)t * n_head + blockIdx.y;
	if (tid == 0)
		last = atomicAdd(cnt, 1) == n_split - 1;
	__syncthreads();
	if (!last)
		return;
	__threadfence();
	for (int i = tid; i < ng * hd; i += AD_THREADS) {
		int g = i / hd, d = i % hd;
		int64_t sl = (int64_t)t * n_head + h0 + g;
		const float *ml = ws.ml + sl * ws.stride * 2;
		float M = -INFINITY;
		for (int s = 0; s < n_split; s++)
			M = fmaxf(M, __ldcg(ml + 2 * s));
		float L = 0.0f, O = 0.0f;
		for (int s = 0; s < n_split; s++) {
			float e = expf(__ldcg(ml + 2 * s) - M);
			L += __ldcg(ml + 2 * s + 1) * e;
			O += __ldcg(ws.o + (sl * ws.stride + s) * hd + d) * e;
		}
		out[(int64_t)t * ldo + (h0 + g) * hd + d] = O / L;
	}
	if (tid == 0)
		*cnt = 0;
}

template <typename KT, int HD>
static void ad_launch(dim3 grid, cudaStream_t s, float *out, int ldo, const float *q, int ldq,
		      const struct orc_k_kv *kv, const int32_t *pos, const int32_t *slot, int n_head,
		      float scale, ad_ws ws)
{
	k_attn_decode<KT, HD><<<grid, AD_THREADS, 0, s>>>(out, ldo, q, ldq, (const KT *)kv->k, (const KT *)kv->v,
		kv->block_table, kv->bt_stride, pos, slot, n_head, kv->n_kv_head, kv->head_dim, scale, ws);
}

template <typename KT>
static cudaError_t ad_launch_t(dim3 grid, cudaStream_t s, float *out, int ldo, const float *q, int ldq,
			       const struct orc_k_kv *kv, const int32_t *pos, const int32_t *slot,
			       int n_head, float scale, ad_ws ws)
{
	int hd = kv->head_dim;
	if (hd <= 64)
		ad_launch<KT, 64>(grid, s, out, ldo, q, ldq, kv, pos, slot, n_head, scale, ws);
	else if (hd <= 128)
		ad_launch<KT, 128>(grid, s, out, ldo, q, ldq, kv, pos, slot, n_head, scale, ws);
	else
		ad_launch<KT, 256>(grid, s, out, ldo, q, ldq, kv, pos, slot, n_head, scale, ws);
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_attn_decode(float *out, int ldo, const float *q, int ldq,
					 const struct orc_k_kv *kv, const int32_t *pos, const int32_t *slot,
					 int n_tok, int n_head, float scale, int max_splits,
					 const struct orc_k_attn_ws *w, cudaStream_t stream)
{
	int hd = kv->head_dim, nkv = kv->n_kv_head;
	if (hd <= 0 || hd > ORC_K_HEAD_DIM_MAX || hd % 2 || nkv <= 0 || n_head % nkv || n_tok < 0 ||
	    max_splits <= 0 || !w || n_tok > w->max_tok || max_splits > w->max_splits ||
	    ldq < n_head * hd || ldo < n_head * hd || n_tok > 65535)
		return cudaErrorInvalidValue;
	if (n_tok == 0)
		return cudaSuccess;
	size_t slots = (size_t)w->max_tok * n_head;
	ad_ws ws;
	ws.cnt = (int *)w->buf;
	ws.ml = (float *)((char *)w->buf + ad_align(slots * sizeof(int)));
	ws.o = (float *)((char *)ws.ml + ad_align(slots * w->max_splits * 2 * sizeof(float)));
	ws.stride = w->max_splits;
	int G = n_head / nkv, n_hg = (G + AD_G - 1) / AD_G;
	dim3 grid(max_splits, nkv * n_hg, n_tok);
	if (kv->type == ORC_KT_F32)
		return ad_launch_t<float>(grid, stream, out, ldo, q, ldq, kv, pos, slot, n_head, scale, ws);
	if (kv->type == ORC_KT_F16)
		return ad_launch_t<__half>(grid, stream, out, ldo, q, ldq, kv, pos, slot, n_head, scale, ws);
	return cudaErrorInvalidValue;
}
