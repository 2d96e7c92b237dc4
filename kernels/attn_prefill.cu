/* attn_prefill.cu -- attention for prompts, flash-attention style: a block
 * takes 16 consecutive tokens and one head; when they are consecutive
 * positions of one sequence (a prompt chunk) it walks the key tiles once,
 * staging K and V in shared memory for all 16 queries (4 per warp) with an
 * online softmax per query. Tokens of mixed sequences are served one by one
 * from the cache. The arithmetic per (token, head) is attn_common.cuh's,
 * identical to the decode kernel's. Also orc_k_init(). */
#include "attn_common.cuh"

#define AP_THREADS 128
#define AP_QW 4                  /* queries per warp */
#define AP_BQ (4 * AP_QW)        /* queries per block */

bool orc_k_attn_ok(const struct orc_k_attn *a);

template <int DL>
static size_t ap_smem(void)
{
	return (size_t)(AP_BQ * DL * 32 + 2 * AT_TILE * (DL * 32 + 1)) * sizeof(float);
}

template <typename KT, int DL>
__global__ void __launch_bounds__(AP_THREADS) k_attn_prefill(orc_k_attn a)
{
	k_dep_wait();
	constexpr int HD = DL * 32, LD = HD + 1;
	extern __shared__ float sm[];
	float *qs = sm, *ks = qs + AP_BQ * HD, *vs = ks + AT_TILE * LD;
	__shared__ int64_t rows[AT_TILE];
	__shared__ int uni;
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, hd = a.head_dim;
	const int i0 = blockIdx.x * AP_BQ, h = blockIdx.y, kvh = h / (a.n_head / a.n_kv_head);
	const int n_here = min(AP_BQ, a.n_tok - i0);
	const KT *K = (const KT *)a.k, *V = (const KT *)a.v;

	if (tid == 0) {
		int s0 = a.seq[i0], p0 = a.pos[i0], ok = s0 >= 0 && s0 < a.n_seq && p0 >= 0;
		for (int i = 1; i < n_here && ok; i++)
			ok = a.seq[i0 + i] == s0 && a.pos[i0 + i] == p0 + i;
		uni = ok;
	}
	for (int e = tid; e < AP_BQ * HD; e += AP_THREADS) {
		int r = e / HD, d = e % HD;
		qs[e] = r < n_here && d < hd ? a.q[(int64_t)(i0 + r) * a.ldq + h * hd + d] * a.scale : 0.0f;
	}
	__syncthreads();

	at_state<DL> run[AP_QW], cur[AP_QW];
	int nk[AP_QW];
#pragma unroll
	for (int qq = 0; qq < AP_QW; qq++) {
		int r = warp * AP_QW + qq;
		nk[qq] = r < n_here ? a.pos[i0 + r] + 1 : 0;
		at_reset(cur[qq]);
		at_reset(run[qq]);
	}

	if (uni) {
		const int32_t *bt = a.block_table + (int64_t)a.seq[i0] * a.bt_stride;
		const int max_keys = a.pos[i0] + n_here, n_tiles = (max_keys + AT_TILE - 1) / AT_TILE;
		for (int tile = 0; tile < n_tiles; tile++) {
			const int p0 = tile * AT_TILE;
			__syncthreads();
			if (tid < AT_TILE)
				rows[tid] = p0 + tid < max_keys ? at_row(a, bt, p0 + tid) : 0;
			__syncthreads();
			for (int e = tid; e < AT_TILE * hd; e += AP_THREADS) {
				int j = e / hd, d = e % hd;
				bool ok = p0 + j < max_keys;
				int64_t off = rows[j] * a.ldkv + (int64_t)kvh * hd + d;
				ks[j * LD + d] = ok ? at_ld(K + off) : 0.0f;
				vs[j * LD + d] = ok ? at_ld(V + off) : 0.0f;
			}
			__syncthreads();
#pragma unroll
			for (int qq = 0; qq < AP_QW; qq++) {
				if (p0 >= nk[qq])
					continue;
				const int nv = min(AT_TILE, nk[qq] - p0), last = (nk[qq] - 1) / AT_TILE;
				const float *q = qs + (warp * AP_QW + qq) * HD, *kr = ks + lane * LD;
				float s = lane < nv ? at_score(q, hd, [&](int d) { return kr[d]; }) : 0.0f;
				at_update<DL>(cur[qq], s, nv, hd, [&](int j) { return (const float *)(vs + j * LD); });
				if (tile % AT_TILES_PER_CHUNK == AT_TILES_PER_CHUNK - 1 || tile == last) {
					at_fold(run[qq], cur[qq], tile < AT_TILES_PER_CHUNK);
					at_reset(cur[qq]);
				}
			}
		}
	} else {
#pragma unroll
		for (int qq = 0; qq < AP_QW; qq++) {
			const int r = warp * AP_QW + qq;
			if (r >= n_here)
				continue;
			const int sq = a.seq[i0 + r];
			if (sq < 0 || sq >= a.n_seq || nk[qq] <= 0) {
				if (a.flag && lane == 0)
					atomicOr(a.flag, ORC_K_BAD_INDEX);
				nk[qq] = 0;
				continue;
			}
			const int32_t *bt = a.block_table + (int64_t)sq * a.bt_stride;
			const int n_tiles = (nk[qq] + AT_TILE - 1) / AT_TILE;
			for (int tile = 0; tile < n_tiles; tile++) {
				at_tile_global<DL, KT>(a, bt, qs + r * HD, kvh, tile * AT_TILE,
						       min(AT_TILE, nk[qq] - tile * AT_TILE), cur[qq]);
				if (tile % AT_TILES_PER_CHUNK == AT_TILES_PER_CHUNK - 1 || tile == n_tiles - 1) {
					at_fold(run[qq], cur[qq], tile < AT_TILES_PER_CHUNK);
					at_reset(cur[qq]);
				}
			}
		}
	}
#pragma unroll
	for (int qq = 0; qq < AP_QW; qq++) {
		const int r = warp * AP_QW + qq;
		if (r < n_here && nk[qq] > 0)
			at_write(run[qq], a.out + (int64_t)(i0 + r) * a.ldo + h * hd, hd);
	}
}

template <typename KT, int DL>
static void ap_launch(const orc_k_attn &a, cudaStream_t s)
{
	dim3 grid((a.n_tok + AP_BQ - 1) / AP_BQ, a.n_head);
	k_launch(k_attn_prefill<KT, DL>, grid, AP_THREADS, ap_smem<DL>(), s, a);
}

template <typename KT>
static void ap_launch_t(const orc_k_attn &a, cudaStream_t s)
{
	if (a.head_dim <= 32)
		ap_launch<KT, 1>(a, s);
	else if (a.head_dim <= 64)
		ap_launch<KT, 2>(a, s);
	else if (a.head_dim <= 128)
		ap_launch<KT, 4>(a, s);
	else
		ap_launch<KT, 8>(a, s);
}

extern "C" cudaError_t orc_k_attn_prefill(const struct orc_k_attn *a, cudaStream_t stream)
{
	if (!orc_k_attn_ok(a) || a->n_head > 65535)
		return cudaErrorInvalidValue;
	if (a->n_tok == 0)
		return cudaSuccess;
	if (a->kv_type == ORC_KT_F32)
		ap_launch_t<float>(*a, stream);
	else
		ap_launch_t<__half>(*a, stream);
	return cudaGetLastError();
}

template <typename KT, int DL>
static cudaError_t ap_attr(void)
{
	return cudaFuncSetAttribute(k_attn_prefill<KT, DL>, cudaFuncAttributeMaxDynamicSharedMemorySize,
				    (int)ap_smem<DL>());
}

extern "C" cudaError_t orc_k_init(void)
{
	cudaError_t e;
	if ((e = ap_attr<float, 4>()) != cudaSuccess || (e = ap_attr<float, 8>()) != cudaSuccess ||
	    (e = ap_attr<__half, 4>()) != cudaSuccess || (e = ap_attr<__half, 8>()) != cudaSuccess)
		return e;
	return cudaSuccess;
}
