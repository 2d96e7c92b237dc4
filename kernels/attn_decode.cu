/* attn_decode.cu -- attention for a few tokens (decode): the keys of a
 * token are cut in chunks of ORC_K_ATTN_CHUNK, processed in parallel by one
 * block per (chunk, 4 query heads, token), a warp per head; the last block
 * of a token's chunks to finish folds their partial results in chunk
 * order. The chunk count follows from the token's position alone. */
#include "attn_common.cuh"

#define AD_THREADS 128
#define AD_HEADS 4

struct ad_ws {
	int *cnt;     /* [max_tok * n_head] arrival counters */
	float *ml;    /* [max_tok, n_head, stride, 2] chunk max and sum */
	float *o;     /* [max_tok, n_head, stride, head_dim] chunk accumulators */
	int stride;   /* chunks per (token, head) in the allocation */
};

static size_t ad_align(size_t n)
{
	return (n + 255) & ~(size_t)255;
}

static int ad_chunks(int max_keys)
{
	return (max_keys + ORC_K_ATTN_CHUNK - 1) / ORC_K_ATTN_CHUNK;
}

extern "C" size_t orc_k_attn_ws_bytes(int max_tok, int n_head, int head_dim, int max_keys)
{
	size_t slots = (size_t)max_tok * n_head, ch = (size_t)ad_chunks(max_keys);
	return ad_align(slots * sizeof(int)) + ad_align(slots * ch * 2 * sizeof(float)) +
	       ad_align(slots * ch * head_dim * sizeof(float));
}

/* Block (x, y, z) takes chunks x, x + gridDim.x, ... of token z's keys
 * for heads 4y .. 4y+3: the grid is sized for the cache's longest context
 * but holds no more blocks than keep the device busy, so that short
 * contexts do not launch thousands of blocks that find no keys. */
template <typename KT, int DL>
__global__ void __launch_bounds__(AD_THREADS) k_attn_decode(orc_k_attn a, ad_ws ws)
{
	k_dep_wait();
	__shared__ float qs[AD_HEADS][DL * 32];
	__shared__ int last;
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, hd = a.head_dim;
	const int t = blockIdx.z, h = blockIdx.y * AD_HEADS + warp;
	const int p = a.pos[t], sq = a.seq[t];
	if (p < 0 || sq < 0 || sq >= a.n_seq) {
		if (a.flag && tid == 0 && blockIdx.x == 0)
			atomicOr(a.flag, ORC_K_BAD_INDEX);
		return;
	}
	const int n_keys = p + 1, n_chunks = (n_keys + ORC_K_ATTN_CHUNK - 1) / ORC_K_ATTN_CHUNK;
	if ((int)blockIdx.x >= n_chunks)
		return;
	const bool active = h < a.n_head;
	const int kvh = active ? h / (a.n_head / a.n_kv_head) : 0;
	for (int d = lane; d < DL * 32; d += 32)
		qs[warp][d] = active && d < hd ? a.q[(int64_t)t * a.ldq + h * hd + d] * a.scale : 0.0f;
	__syncwarp();

	const int32_t *bt = a.block_table + (int64_t)sq * a.bt_stride;
	const int64_t base = ((int64_t)t * a.n_head + h) * ws.stride;
	int *cnt = ws.cnt + (int64_t)t * gridDim.y + blockIdx.y;
	for (int c = (int)blockIdx.x; c < n_chunks; c += (int)gridDim.x) {
		at_state<DL> st;
		at_reset(st);
		const int t_end = min((c + 1) * AT_TILES_PER_CHUNK, (n_keys + AT_TILE - 1) / AT_TILE);
		if (active)
			for (int tile = c * AT_TILES_PER_CHUNK; tile < t_end; tile++)
				at_tile_global<DL, KT>(a, bt, qs[warp], kvh, tile * AT_TILE,
						       min(AT_TILE, n_keys - tile * AT_TILE), st);
		if (n_chunks == 1) {
			if (active)
				at_write(st, a.out + (int64_t)t * a.ldo + h * hd, hd);
			return;
		}

		/* keep this chunk's state; the last chunk to arrive folds them all */
		if (active) {
#pragma unroll
			for (int i = 0; i < DL; i++)
				if (lane + 32 * i < hd)
					ws.o[(base + c) * hd + lane + 32 * i] = st.acc[i];
			if (lane == 0) {
				ws.ml[(base + c) * 2] = st.m;
				ws.ml[(base + c) * 2 + 1] = st.l;
			}
		}
		__threadfence();
		__syncthreads();
		if (tid == 0)
			last = atomicAdd(cnt, 1) == n_chunks - 1;
		__syncthreads();
		if (last)
			break;
	}
	if (!last)
		return;
	__threadfence();
	if (active) {
		/* chunk states in groups of 4, loaded before they are folded (in order) */
		at_state<DL> run, cs[4];
		for (int c0 = 0; c0 < n_chunks; c0 += 4) {
#pragma unroll
			for (int q = 0; q < 4; q++) {
				const int cc = c0 + q < n_chunks ? c0 + q : c0;
				cs[q].m = __ldcg(ws.ml + (base + cc) * 2);
				cs[q].l = __ldcg(ws.ml + (base + cc) * 2 + 1);
#pragma unroll
				for (int i = 0; i < DL; i++)
					cs[q].acc[i] = lane + 32 * i < hd ? __ldcg(ws.o + (base + cc) * hd + lane + 32 * i) : 0.0f;
			}
#pragma unroll
			for (int q = 0; q < 4; q++)
				if (c0 + q < n_chunks)
					at_fold(run, cs[q], c0 + q == 0);
		}
		at_write(run, a.out + (int64_t)t * a.ldo + h * hd, hd);
	}
	if (tid == 0)
		*cnt = 0;
}

/* Blocks along the chunks: all of them where the device holds that many
 * (a few tokens), else about 8 blocks a multiprocessor in all. */
static int ad_grid_x(int chunks, int per_chunk)
{
	const int sms = k_device_sms(), want = sms > 0 ? (8 * sms + per_chunk - 1) / per_chunk : chunks;
	return want < 1 ? 1 : want < chunks ? want : chunks;
}

template <typename KT, int DL>
static void ad_launch(const orc_k_attn &a, ad_ws ws, int chunks, cudaStream_t s)
{
	const int hg = (a.n_head + AD_HEADS - 1) / AD_HEADS;
	dim3 grid(ad_grid_x(chunks, hg * a.n_tok), hg, a.n_tok);
	k_launch(k_attn_decode<KT, DL>, grid, AD_THREADS, 0, s, a, ws);
}

template <typename KT>
static void ad_launch_t(const orc_k_attn &a, ad_ws ws, int chunks, cudaStream_t s)
{
	if (a.head_dim <= 32)
		ad_launch<KT, 1>(a, ws, chunks, s);
	else if (a.head_dim <= 64)
		ad_launch<KT, 2>(a, ws, chunks, s);
	else if (a.head_dim <= 128)
		ad_launch<KT, 4>(a, ws, chunks, s);
	else
		ad_launch<KT, 8>(a, ws, chunks, s);
}

/* Shape checks shared with the prefill kernel. */
bool orc_k_attn_ok(const struct orc_k_attn *a)
{
	return a->head_dim > 0 && a->head_dim <= ORC_K_HEAD_DIM_MAX && a->n_kv_head > 0 && a->n_head > 0 &&
	       a->n_head % a->n_kv_head == 0 && a->n_tok >= 0 && a->block_size > 0 && a->bt_stride > 0 &&
	       a->ldq >= a->n_head * a->head_dim && a->ldo >= a->n_head * a->head_dim &&
	       a->ldkv >= (int64_t)a->n_kv_head * a->head_dim && a->max_keys > 0 &&
	       (a->kv_type == ORC_KT_F32 || a->kv_type == ORC_KT_F16);
}

extern "C" cudaError_t orc_k_attn_decode(const struct orc_k_attn *a, const struct orc_k_attn_ws *w,
					 cudaStream_t stream)
{
	if (!orc_k_attn_ok(a) || !w || a->n_tok > w->max_tok || a->max_keys > w->max_keys || a->n_tok > 65535)
		return cudaErrorInvalidValue;
	if (a->n_tok == 0)
		return cudaSuccess;
	size_t slots = (size_t)w->max_tok * a->n_head;
	ad_ws ws;
	ws.stride = ad_chunks(w->max_keys);
	ws.cnt = (int *)w->buf;
	ws.ml = (float *)((char *)w->buf + ad_align(slots * sizeof(int)));
	ws.o = (float *)((char *)ws.ml + ad_align(slots * ws.stride * 2 * sizeof(float)));
	if (a->kv_type == ORC_KT_F32)
		ad_launch_t<float>(*a, ws, ad_chunks(a->max_keys), stream);
	else
		ad_launch_t<__half>(*a, ws, ad_chunks(a->max_keys), stream);
	return cudaGetLastError();
}
