/* mm.cu -- matrix products on the tensor cores (mma.sync m16n8k16, F16 in,
 * F32 accumulate) for weights stored as F16, Q8_0 or Q4_0 with K a multiple
 * of 32: the decode GEMV and the prefill GEMM both, so that one arithmetic
 * serves every batch size. orc_k_gemv_multi() sends such products here.
 *
 * Arithmetic (the same for every launch shape, hence batch-invariant):
 *  - An activation x (F32, normalized first when the product fuses a norm)
 *    is split into two halves, hi = f16(x) and lo = f16(x - hi), so that
 *    about 22 bits of it reach the tensor cores. Weights are exact in F16
 *    (F16 itself; the integers of Q8_0 and Q4_0, scaled afterwards).
 *  - K is cut in chunks of 32. Lane (g, t) of a warp (g = lane / 4,
 *    t = lane % 4) loads elements 8t .. 8t+7 of a chunk for weight rows g
 *    and g + 8 of a 16-row tile and for token g of an 8-token tile; the two
 *    m16n8k16 steps of the chunk take elements 8t + 4s + {0,1,2,3} (s = 0,
 *    1) as their logical k = {2t, 2t+1, 2t+8, 2t+9}. Each step runs hi, then
 *    lo. Q8_0/Q4_0 chunks run into a zeroed tile scaled by the block's d.
 *  - Chunks are grouped in slices of MM_SLICE_CH; a slice accumulates from
 *    zero, and slices are added in order: ((s0 + s1) + s2) + ...
 *  - Then bias, GELU or SwiGLU, and the residual add, as the GEMV does.
 * Limit: an activation beyond the F16 range (|x| > 65504) cannot be split
 * so; the product ORs ORC_K_F16_RANGE into the caller's flag and the
 * backend fails the step with a clear error instead of returning garbage.
 * Kernels: up to MM_DEC_COLS columns, the decode kernels give each of
 * their 8 (or 16) warps a slice at a time, loading a whole slice before
 * using it, and warp 0 folds them; up to 8 columns (k_mm_dec1) a block
 * loops over units with the next weights in flight, from 9 (k_mm_dec) a
 * block takes one unit, and x is first prepared once (k_mm_prep) when the
 * caller lends scratch; products with fewer units than the device has
 * multiprocessors spread each unit's slices over a cluster of blocks
 * instead (k_mm_split), and F16 products (without SwiGLU) with at least as
 * many stream their weights through shared memory with cp.async, a round
 * ahead, across units (k_mm_stream). Beyond, the prefill kernel runs all slices of a
 * tile in one warp, its activations staged in shared memory. All fold
 * alike. */
#include "kcommon.cuh"
#include "mm.cuh"

#define MM_CH 32            /* k per chunk */
#define MM_SLICE_CH 4       /* chunks per slice */
#define MM_THREADS 128      /* the prefill kernel */
#define MM_DEC_WARPS 8      /* the decode kernel (16 for one plain tile of 8 columns) */
#define MM_DEC_COLS ORC_K_MM_WS_COLS     /* up to this many columns: the decode kernel */

struct mm_seg {
	const uint8_t *w, *w2;  /* w2: SwiGLU's up rows, or NULL */
	int N, n_out, n_units;  /* rows, outputs, 16-output tiles */
	const float *bias, *bias2;
	float *y;
	int ldy;
};

struct mm_p {
	mm_seg seg[3];
	int n_seg, n_units;     /* units of all segments */
	int64_t row_bytes;
	int K, n_ch, n_sl;
	const float *x;
	int ldx, ncols, xvec;
	const float *norm_w;
	float eps;
	int act, accumulate;
	int n_groups;           /* decode: column groups of 8 * NT */
	const uint4 *xp;        /* x prepared by k_mm_prep (then norm_w is NULL), or NULL */
	int *flag;              /* ORC_K_F16_RANGE, or NULL */
};

/* ---- loads ---- */

__device__ __forceinline__ uint32_t mm_pack(__half a, __half b)
{
	return (uint32_t)__half_as_ushort(a) | ((uint32_t)__half_as_ushort(b) << 16);
}

/* Elements 8t .. 8t+7 of chunk c of a weight row as 4 F16 pairs, and the
 * chunk's scale (1 for F16). */
template <int T>
__device__ __forceinline__ void mm_ldw(const uint8_t *row, int c, int t, uint32_t (&w)[4], float &d)
{
	if (T == ORC_KT_F16) {
		uint4 v = __ldg((const uint4 *)(row + (int64_t)c * 64 + 16 * t));
		w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
		d = 1.0f;
	} else {
		const uint8_t *b = row + (int64_t)c * (T == ORC_KT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES);
		const uint16_t *q16 = (const uint16_t *)(b + 2 + 8 * (T == ORC_KT_Q8_0 ? t : (t & 1)));
		d = k_h2f(__ldg((const unsigned short *)b));
#pragma unroll
		for (int i = 0; i < 4; i++) {
			uint16_t v = __ldg((const unsigned short *)q16 + i);
			int a, bb;
			if (T == ORC_KT_Q8_0) {
				a = (int8_t)(v & 0xff);
				bb = (int8_t)(v >> 8);
			} else {
				int sh = (t >> 1) ? 4 : 0;
				a = ((v >> sh) & 0xF) - 8;
				bb = ((v >> (8 + sh)) & 0xF) - 8;
			}
			w[i] = mm_pack(__int2half_rn(a), __int2half_rn(bb));
		}
	}
}

/* A finite activation that F16 cannot hold: flag it (the product's result
 * is wrong; the backend fails the step with a clear error). */
__device__ __forceinline__ void mm_range(const mm_p &p, float v, __half h)
{
	if (__hisinf(h) && isfinite(v) && p.flag)
		atomicOr(p.flag, ORC_K_F16_RANGE);
}

/* 8 activations as hi = f16(v) and lo = f16(v - hi), in F16 pairs. */
__device__ __forceinline__ void mm_split(const mm_p &p, const float (&v)[8], uint32_t (&hi)[4], uint32_t (&lo)[4])
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__half h0 = __float2half_rn(v[2 * i]), h1 = __float2half_rn(v[2 * i + 1]);
		mm_range(p, v[2 * i], h0);
		mm_range(p, v[2 * i + 1], h1);
		__half l0 = __float2half_rn(__fsub_rn(v[2 * i], __half2float(h0)));
		__half l1 = __float2half_rn(__fsub_rn(v[2 * i + 1], __half2float(h1)));
		hi[i] = mm_pack(h0, h1);
		lo[i] = mm_pack(l0, l1);
	}
}

/* Elements k0 .. k0+7 of token column col (normalized when asked) split
 * into hi and lo F16 pairs. */
__device__ __forceinline__ void mm_ldx(const mm_p &p, int col, int k0, float scale, uint32_t (&hi)[4],
				       uint32_t (&lo)[4])
{
	float v[8];
	const float *xp = p.x + (int64_t)col * p.ldx + k0;
	if (p.xvec) {
		float4 a = *(const float4 *)xp, b = *(const float4 *)(xp + 4);
		v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
	} else {
#pragma unroll
		for (int e = 0; e < 8; e++)
			v[e] = xp[e];
	}
	if (p.norm_w) {
#pragma unroll
		for (int e = 0; e < 8; e++)
			v[e] = __fmul_rn(__fmul_rn(v[e], scale), p.norm_w[k0 + e]);
	}
	mm_split(p, v, hi, lo);
}

__device__ __forceinline__ void mm_mma(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
				       uint32_t b0, uint32_t b1)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
	asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
	    "{%0,%1,%2,%3};\n"
	    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
	    : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
	__trap();   /* never launched: orc_k_mm_usable() is false below sm_80 */
#endif
}

/* One chunk of one 16-row tile times one 8-token tile: c += W x. */
__device__ __forceinline__ void mm_chunk(float (&c)[4], const uint32_t (&wg)[4], const uint32_t (&wg8)[4],
					 const uint32_t (&hi)[4], const uint32_t (&lo)[4])
{
#pragma unroll
	for (int s = 0; s < 2; s++) {
		mm_mma(c, wg[2 * s], wg8[2 * s], wg[2 * s + 1], wg8[2 * s + 1], hi[2 * s], hi[2 * s + 1]);
		mm_mma(c, wg[2 * s], wg8[2 * s], wg[2 * s + 1], wg8[2 * s + 1], lo[2 * s], lo[2 * s + 1]);
	}
}

/* acc += one chunk of a 16-row tile times an 8-token tile: straight into
 * acc for F16; for Q8_0/Q4_0 into a zeroed tile scaled by each row's block
 * scale (dg for rows g, dg8 for rows g + 8). */
template <int T>
__device__ __forceinline__ void mm_acc_chunk(float (&acc)[4], const uint32_t (&wg)[4], const uint32_t (&wg8)[4],
					     float dg, float dg8, const uint32_t (&hi)[4], const uint32_t (&lo)[4])
{
	if (T == ORC_KT_F16) {
		mm_chunk(acc, wg, wg8, hi, lo);
		return;
	}
	float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
	mm_chunk(c, wg, wg8, hi, lo);
	acc[0] = fmaf(dg, c[0], acc[0]);
	acc[1] = fmaf(dg, c[1], acc[1]);
	acc[2] = fmaf(dg8, c[2], acc[2]);
	acc[3] = fmaf(dg8, c[3], acc[3]);
}

/* f(i, j, e) for every element of a warp's MT x NT accumulator tiles. */
template <int MT, int NT, typename F>
__device__ __forceinline__ void mm_each(F f)
{
#pragma unroll
	for (int i = 0; i < MT; i++)
#pragma unroll
		for (int j = 0; j < NT; j++)
#pragma unroll
			for (int e = 0; e < 4; e++)
				f(i, j, e);
}

template <int MT, int NT>
__device__ __forceinline__ void mm_zero(float (&acc)[MT][NT][4])
{
	mm_each<MT, NT>([&](int i, int j, int e) { acc[i][j][e] = 0.0f; });
}

/* The weight rows of a warp's tile: MT 16-row tiles (1, or 2 for SwiGLU's
 * gate and up), rows g and g + 8 of each; NULL past the end. */
template <int MT>
struct mm_rows {
	const uint8_t *r[MT][2];
};

template <int MT>
__device__ __forceinline__ void mm_tile_rows(const mm_p &p, const mm_seg &sg, int unit, int g, mm_rows<MT> &rw)
{
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const int o = unit * 16 + g + 8 * h;
		if (MT == 1) {
			rw.r[0][h] = o < sg.N ? sg.w + (int64_t)o * p.row_bytes : NULL;
		} else {
			const bool live = o < sg.n_out;
			rw.r[0][h] = live ? sg.w + (int64_t)o * p.row_bytes : NULL;
			rw.r[MT - 1][h] = !live ? NULL
				: sg.w2 ? sg.w2 + (int64_t)o * p.row_bytes
				: sg.w + (int64_t)(o + sg.N / 2) * p.row_bytes;
		}
	}
}

/* The weights of slice sl (MM_SLICE_CH chunks, loaded together) of a
 * warp's tile; zeros past the end. */
template <int T, int MT>
struct mm_wslice {
	uint32_t w[MM_SLICE_CH][MT][2][4];
	float d[MM_SLICE_CH][MT][2];
};

/* Chunk c of every row of a warp's tile (lane group t); zeros for rows
 * past the end and chunks past K. */
template <int T, int MT>
__device__ __forceinline__ void mm_ld_tile(const mm_p &p, const mm_rows<MT> &rw, int c, int t,
					   uint32_t (&w)[MT][2][4], float (&d)[MT][2])
{
#pragma unroll
	for (int i = 0; i < MT; i++)
#pragma unroll
		for (int h = 0; h < 2; h++) {
			if (c < p.n_ch && rw.r[i][h]) {
				mm_ldw<T>(rw.r[i][h], c, t, w[i][h], d[i][h]);
			} else {
				w[i][h][0] = w[i][h][1] = w[i][h][2] = w[i][h][3] = 0;
				d[i][h] = 0.0f;
			}
		}
}

template <int T, int MT>
__device__ __forceinline__ void mm_slice_load(const mm_p &p, const mm_rows<MT> &rw, int sl, mm_wslice<T, MT> &ws)
{
	const int t = threadIdx.x & 3, c0 = sl * MM_SLICE_CH;
#pragma unroll
	for (int q = 0; q < MM_SLICE_CH; q++)
		mm_ld_tile<T, MT>(p, rw, c0 + q, t, ws.w[q], ws.d[q]);
}

/* The B fragment of chunk c for token col (lane group t), as hi and lo F16
 * pairs: from the prepared x when there is one, else from x (normalized
 * with scale); zeros for col -1. */
__device__ __forceinline__ void mm_ldb(const mm_p &p, int col, float scale, int c, int t, uint32_t (&hi)[4],
				       uint32_t (&lo)[4])
{
	if (col >= 0 && p.xp) {
		const uint4 *b = p.xp + (((int64_t)col * p.n_ch + c) * 4 + t) * 2;
		const uint4 h4 = __ldg(b), l4 = __ldg(b + 1);
		hi[0] = h4.x, hi[1] = h4.y, hi[2] = h4.z, hi[3] = h4.w;
		lo[0] = l4.x, lo[1] = l4.y, lo[2] = l4.z, lo[3] = l4.w;
	} else if (col >= 0) {
		mm_ldx(p, col, c * MM_CH + 8 * t, scale, hi, lo);
	} else {
#pragma unroll
		for (int e = 0; e < 4; e++)
			hi[e] = lo[e] = 0;
	}
}

/* Slice sl of a warp's tile: acc = sum over its chunks (from zero), the
 * weights of chunk q (and their scales) from wq(q, w, d). cols[j]: the
 * token of this lane's B rows in n-tile j, or -1; scale[j] its norm. */
template <int T, int MT, int NT, typename WQ>
__device__ __forceinline__ void mm_slice_of(const mm_p &p, const int (&cols)[NT], const float (&scale)[NT], int sl,
					    float (&acc)[MT][NT][4], WQ wq)
{
	const int t = threadIdx.x & 3, c0 = sl * MM_SLICE_CH;

	mm_zero<MT, NT>(acc);
#pragma unroll
	for (int q = 0; q < MM_SLICE_CH; q++) {
		const int c = c0 + q;
		if (c >= p.n_ch)
			break;
		uint32_t w[MT][2][4];
		float d[MT][2];
		wq(q, w, d);
#pragma unroll
		for (int j = 0; j < NT; j++) {
			uint32_t hi[4], lo[4];
			mm_ldb(p, cols[j], scale[j], c, t, hi, lo);
#pragma unroll
			for (int i = 0; i < MT; i++)
				mm_acc_chunk<T>(acc[i][j], w[i][0], w[i][1], d[i][0], d[i][1], hi, lo);
		}
	}
}

/* ... from the slice's weights loaded into registers (mm_slice_load). */
template <int T, int MT, int NT>
__device__ __forceinline__ void mm_slice(const mm_p &p, const mm_wslice<T, MT> &ws, const int (&cols)[NT],
					 const float (&scale)[NT], int sl, float (&acc)[MT][NT][4])
{
	mm_slice_of<T, MT, NT>(p, cols, scale, sl, acc, [&](int q, uint32_t (&w)[MT][2][4], float (&d)[MT][2]) {
#pragma unroll
		for (int i = 0; i < MT; i++)
#pragma unroll
			for (int h = 0; h < 2; h++) {
				d[i][h] = ws.d[q][i][h];
#pragma unroll
				for (int e = 0; e < 4; e++)
					w[i][h][e] = ws.w[q][i][h][e];
			}
	});
}

/* total = slice (the first) or total + slice. */
template <int MT, int NT>
__device__ __forceinline__ void mm_fold(float (&total)[MT][NT][4], const float (&acc)[MT][NT][4], bool first)
{
	mm_each<MT, NT>([&](int i, int j, int e) {
		total[i][j][e] = first ? acc[i][j][e] : __fadd_rn(total[i][j][e], acc[i][j][e]);
	});
}

/* Bias, activation and the store (or residual add) of element e of n-tile
 * j of a warp's tile, v[i] from its 16-row tile i. tok0: the token of
 * n-tile 0's column 0. */
template <int MT>
__device__ __forceinline__ void mm_out(const mm_p &p, const mm_seg &sg, int unit, int tok0, int j, int e,
				       const float (&v)[MT])
{
	const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
	const int o = unit * 16 + g + 8 * (e >> 1), tok = tok0 + 8 * j + 2 * t + (e & 1);
	if (tok >= p.ncols || o >= sg.n_out)
		return;
	float out;
	if (MT == 2) {
		float gv = v[0], uv = v[MT - 1];
		if (sg.bias)
			gv += sg.bias[o];
		const float *ub = sg.w2 ? sg.bias2 : sg.bias;
		if (ub)
			uv += ub[sg.w2 ? o : o + sg.N / 2];
		out = k_silu(gv) * uv;
	} else {
		out = v[0];
		if (sg.bias)
			out += sg.bias[o];
		if (p.act == ORC_K_ACT_GELU)
			out = k_gelu(out);
	}
	float *yp = sg.y + (int64_t)tok * sg.ldy + o;
	*yp = p.accumulate ? *yp + out : out;
}

/* mm_out() for every element of a warp's tile. */
template <int MT, int NT>
__device__ __forceinline__ void mm_store(const mm_p &p, const mm_seg &sg, int unit, int tok0,
					 const float (&total)[MT][NT][4])
{
#pragma unroll
	for (int j = 0; j < NT; j++)
#pragma unroll
		for (int e = 0; e < 4; e++) {
			float v[MT];
#pragma unroll
			for (int i = 0; i < MT; i++)
				v[i] = total[i][j][e];
			mm_out<MT>(p, sg, unit, tok0, j, e, v);
		}
}

/* The segment of global unit u (u becomes the unit inside it). */
__device__ __forceinline__ const mm_seg &mm_find(const mm_p &p, int &u)
{
	int si = 0;
	while (si + 1 < p.n_seg && u >= p.seg[si].n_units) {
		u -= p.seg[si].n_units;
		si++;
	}
	return p.seg[si];
}

/* k_rms_scale() for a block of 128 or more threads: the first 128 sum as
 * k_rms_scale's do, the others add exact zeros, so the bits are the same. */
__device__ __forceinline__ float mm_rms_scale(const float *x, int dim, float eps, float *red)
{
	float ss = 0.0f;
	if (threadIdx.x < 128)
		for (int i = threadIdx.x; i < dim; i += 128)
			ss = fmaf(x[i], x[i], ss);
	ss = k_block_sum(ss, red);
	return rsqrtf(ss / (float)dim + eps);
}

/* Norm scales of columns col0 .. col0 + n - 1 into sc[] (the whole block). */
__device__ __forceinline__ void mm_scales(const mm_p &p, int col0, int n, float *sc, float *red)
{
	if (!p.norm_w)
		return;
	for (int c = 0; c < n; c++) {
		if (col0 + c >= p.ncols)
			break;
		float s = mm_rms_scale(p.x + (int64_t)(col0 + c) * p.ldx, p.K, p.eps, red);
		if (threadIdx.x == 0)
			sc[c] = s;
	}
	__syncthreads();
}

/* For each n-tile j from column col0: the token of this lane's B rows
 * (lane group g), or -1 past the end, and its norm scale from sc[]
 * (mm_scales'; 1 without a norm). */
template <int NT>
__device__ __forceinline__ void mm_cols(const mm_p &p, int col0, int g, const float *sc, int (&cols)[NT],
					float (&scale)[NT])
{
#pragma unroll
	for (int j = 0; j < NT; j++) {
		const int c = col0 + 8 * j + g;
		cols[j] = c < p.ncols ? c : -1;
		scale[j] = p.norm_w && c < p.ncols ? sc[8 * j + g] : 1.0f;
	}
}

/* A decode kernel's start, lane group g: the rows of unit u's tile, and
 * its slice sl's weights on their way when `load`; then the wait for the
 * kernels before this one (weights are never written by a kernel: only x,
 * scratch and y need it), the norm scales of the columns from col0 and the
 * n-tiles' tokens. */
template <int T, int MT, int NT>
__device__ __forceinline__ void mm_begin(const mm_p &p, const mm_seg &sg, int u, int g, int sl, bool load,
					 int col0, float *sc, float *red, mm_rows<MT> &rw, mm_wslice<T, MT> &wsl,
					 int (&cols)[NT], float (&scale)[NT])
{
	mm_tile_rows<MT>(p, sg, u, g, rw);
	if (load)
		mm_slice_load<T, MT>(p, rw, sl, wsl);
	k_dep_wait();
	mm_scales(p, col0, 8 * NT, sc, red);
	mm_cols<NT>(p, col0, g, sc, cols, scale);
}

/* x prepared for the tensor cores, once per product of many columns: grid
 * ncols, block 128; column c's chunk ch, lane group t at
 * xp[((c * n_ch + ch) * 4 + t) * 2 + {0: hi, 1: lo}], the same bits
 * mm_ldx() makes. */
__global__ void __launch_bounds__(MM_THREADS) k_mm_prep(mm_p p, uint4 *xp)
{
	k_dep_wait();
	__shared__ float red[32];
	__shared__ float sc[1];
	const int col = blockIdx.x;

	mm_scales(p, col, 1, sc, red);
	const float scale = p.norm_w ? sc[0] : 1.0f;
	for (int u = threadIdx.x; u < p.n_ch * 4; u += MM_THREADS) {
		uint32_t hi[4], lo[4];
		mm_ldx(p, col, (u >> 2) * MM_CH + 8 * (u & 3), scale, hi, lo);
		uint4 *o = xp + ((int64_t)col * p.n_ch * 4 + u) * 2;
		o[0] = make_uint4(hi[0], hi[1], hi[2], hi[3]);
		o[1] = make_uint4(lo[0], lo[1], lo[2], lo[3]);
	}
}

/* Warp 0 folds the partial sums of round r (slices r .. r + WARPS - 1,
 * which the warps left in part[]) in order into total; the whole block
 * calls it (it holds the barrier between writing and reading part[]). */
template <int MT, int NT, int WARPS>
__device__ __forceinline__ void mm_round_fold(const mm_p &p, float (*part)[MT][NT][4][32], int r,
					      float (&acc)[MT][NT][4], float (&total)[MT][NT][4])
{
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	mm_each<MT, NT>([&](int i, int j, int e) { part[warp][i][j][e][lane] = acc[i][j][e]; });
	__syncthreads();
	if (warp == 0) {
		for (int w = 0; w < WARPS && r + w < p.n_sl; w++) {
			mm_each<MT, NT>([&](int i, int j, int e) { acc[i][j][e] = part[w][i][j][e][lane]; });
			mm_fold<MT, NT>(total, acc, r + w == 0);
		}
	}
}

/* Decode of 9 to MM_DEC_COLS columns: grid (units x column groups), group
 * fastest; the WARPS warps take slices w, w + WARPS, ... and warp 0 folds
 * them in order. */
template <int T, int MT, int NT, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) k_mm_dec(mm_p p)
{
	__shared__ float red[32];
	__shared__ float sc[8 * NT];
	__shared__ float part[WARPS][MT][NT][4][32];
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
	const int col0 = (blockIdx.x % p.n_groups) * 8 * NT;
	int unit = blockIdx.x / p.n_groups;
	const mm_seg &sg = mm_find(p, unit);
	mm_rows<MT> rw;
	int cols[NT];
	float scale[NT];

	mm_wslice<T, MT> wsl;
	/* the first slice's weights are on their way while the norm is computed */
	mm_begin<T, MT, NT>(p, sg, unit, g, warp, warp < p.n_sl, col0, sc, red, rw, wsl, cols, scale);
	float total[MT][NT][4], acc[MT][NT][4] = {};
	for (int r = 0; r < p.n_sl; r += WARPS) {
		if (r + warp < p.n_sl) {
			if (r > 0)
				mm_slice_load<T, MT>(p, rw, r + warp, wsl);
			mm_slice<T, MT, NT>(p, wsl, cols, scale, r + warp, acc);
		}
		mm_round_fold<MT, NT, WARPS>(p, part, r, acc, total);
		__syncthreads();
	}
	if (warp == 0)
		mm_store<MT, NT>(p, sg, unit, col0, total);
}

/* Decode of up to 8 columns (one column tile): block b takes units b,
 * b + gridDim.x, ... (the grid holds as many blocks as fit on the device at
 * once, at most one per unit), and each unit in rounds of WARPS slices as
 * above. The weights of the next item (the next round, or the next unit's
 * first) are loaded while this one's products run, so a block keeps its
 * loads in flight from its first unit to its last; the norm scales of the
 * columns are computed once per block. */
template <int T, int MT, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) k_mm_dec1(mm_p p)
{
	constexpr int NT = 1;
	__shared__ float red[32];
	__shared__ float sc[8 * NT];
	__shared__ float part[WARPS][MT][NT][4][32];
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
	const int col0 = 0, stride = (int)gridDim.x;
	int unit = (int)blockIdx.x, r = 0;
	int u_in = unit;                       /* the unit inside its segment */
	const mm_seg *sg = &mm_find(p, u_in);
	mm_rows<MT> rw, rw_next;
	mm_wslice<T, MT> wsl, w_next;

	int cols[NT];
	float scale[NT];
	/* the first item's weights are on their way while the norm is computed */
	mm_begin<T, MT, NT>(p, *sg, u_in, g, warp, warp < p.n_sl, col0, sc, red, rw, wsl, cols, scale);
	float total[MT][NT][4], acc[MT][NT][4] = {};
	for (;;) {
		/* the next item, and its weights in flight during this one */
		int r_next = r + WARPS, unit_next = unit, u_next = u_in;
		const mm_seg *sg_next = sg;
		if (r_next >= p.n_sl) {
			r_next = 0;
			unit_next = unit + stride;
			u_next = unit_next;
			if (unit_next < p.n_units) {
				sg_next = &mm_find(p, u_next);
				mm_tile_rows<MT>(p, *sg_next, u_next, g, rw_next);
			}
		} else {
			rw_next = rw;
		}
		const bool more = unit_next < p.n_units;
		if (more && r_next + warp < p.n_sl)
			mm_slice_load<T, MT>(p, rw_next, r_next + warp, w_next);
		if (r + warp < p.n_sl)
			mm_slice<T, MT, NT>(p, wsl, cols, scale, r + warp, acc);
		mm_round_fold<MT, NT, WARPS>(p, part, r, acc, total);
		if (warp == 0 && r_next == 0)
			mm_store<MT, NT>(p, *sg, u_in, col0, total);
		if (!more)
			break;
		__syncthreads();
		r = r_next;
		unit = unit_next;
		u_in = u_next;
		sg = sg_next;
		rw = rw_next;
		wsl = w_next;
	}
}

/* ---- F16 decode with the weights streamed through shared memory ----
 * Products of F16 weights with at least as many units (times column groups)
 * as the device has multiprocessors: a block of mm_st_dim::warps warps takes
 * items (unit, column group) b, b + gridDim.x, ... (the grid holds as many
 * blocks as fit at once), and each item in rounds of that many slices,
 * folded in order by warp 0 as above. Each lane copies the weight bytes it
 * will itself use (those mm_ldw reads) with cp.async into a ring of S
 * slice slots of its warp, S - 1 rounds ahead, across items: no register
 * holds weights in flight, and no barrier guards the ring, since a lane
 * reads only what it copied. So the loads of the next items overlap this
 * one's products and fold, and the bits are those of the other kernels.
 * 8 warps and 2 slots: 64 KB of ring a block (one 16-row tile a warp), 3
 * blocks a multiprocessor up to 16 columns, 2 at 32. These products are
 * bound by the latency of each unit's chain, not by bandwidth: 4 warps
 * with 2 to 4 slots were slower than the one-block kernels everywhere
 * (bench_kernels, H100). Which products stream: mm_stream_launch. */
template <int MT, int NT>
struct mm_st_dim {
	static constexpr int warps = 8;
	static constexpr int stages = 2;
	static constexpr int slot = MM_SLICE_CH * MT * 2 * 32;     /* uint4 per warp slot */
	static constexpr size_t ring_bytes = (size_t)warps * stages * slot * sizeof(uint4);
};

/* cp.async of 16 bytes to shared memory, bypassing L1; zeros when !valid
 * (src must still be a global address). */
__device__ __forceinline__ void mm_cp16(uint4 *dst, const void *src, bool valid)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
	const uint32_t d = (uint32_t)__cvta_generic_to_shared(dst);
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(d), "l"(src), "r"(valid ? 16 : 0)
		     : "memory");
#else
	*dst = valid ? *(const uint4 *)src : make_uint4(0, 0, 0, 0);
#endif
}

__device__ __forceinline__ void mm_cp_commit(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
	asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

/* Wait until at most N of this thread's cp.async groups are pending. */
template <int N>
__device__ __forceinline__ void mm_cp_wait(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
	asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

/* A warp's place in the (item, round) sequence of a k_mm_stream block. */
struct mm_st_pos {
	int item, r;
};

template <int WARPS>
__device__ __forceinline__ void mm_st_next(const mm_p &p, mm_st_pos &at, int n_items)
{
	if (at.item >= n_items)
		return;
	at.r += WARPS;
	if (at.r >= p.n_sl) {
		at.r = 0;
		at.item += (int)gridDim.x;
	}
}

/* Copy slice at.r + warp of item at.item's weights (if any) into slot,
 * then close the round's cp.async group (an empty one past the end, so
 * that every lane counts its groups alike). */
template <int MT>
__device__ __forceinline__ void mm_st_issue(const mm_p &p, const mm_st_pos &at, int n_items, uint4 *slot)
{
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
	const int sl = at.r + warp;
	if (at.item < n_items && sl < p.n_sl) {
		int u = at.item / p.n_groups;
		const mm_seg &sg = mm_find(p, u);
		mm_rows<MT> rw;
		mm_tile_rows<MT>(p, sg, u, g, rw);
#pragma unroll
		for (int q = 0; q < MM_SLICE_CH; q++) {
			const int c = sl * MM_SLICE_CH + q;
#pragma unroll
			for (int i = 0; i < MT; i++)
#pragma unroll
				for (int h = 0; h < 2; h++) {
					const bool ok = c < p.n_ch && rw.r[i][h];
					mm_cp16(slot + ((q * MT + i) * 2 + h) * 32 + lane,
						ok ? rw.r[i][h] + (int64_t)c * 64 + 16 * t : sg.w, ok);
				}
		}
	}
	mm_cp_commit();
}

/* ... for F16 weights copied into a ring slot by mm_st_issue. */
template <int MT, int NT>
__device__ __forceinline__ void mm_slice_st(const mm_p &p, const uint4 *slot, const int (&cols)[NT],
					    const float (&scale)[NT], int sl, float (&acc)[MT][NT][4])
{
	const int lane = threadIdx.x & 31;

	mm_slice_of<ORC_KT_F16, MT, NT>(p, cols, scale, sl, acc,
					[&](int q, uint32_t (&w)[MT][2][4], float (&d)[MT][2]) {
#pragma unroll
		for (int i = 0; i < MT; i++)
#pragma unroll
			for (int h = 0; h < 2; h++) {
				const uint4 v = slot[((q * MT + i) * 2 + h) * 32 + lane];
				w[i][h][0] = v.x, w[i][h][1] = v.y, w[i][h][2] = v.z, w[i][h][3] = v.w;
				d[i][h] = 1.0f;
			}
	});
}

/* With a norm to apply (norm_w), the launcher gives one column group. */
template <int MT, int NT>
__global__ void __launch_bounds__(mm_st_dim<MT, NT>::warps * 32) k_mm_stream(mm_p p)
{
	constexpr int S = mm_st_dim<MT, NT>::stages, SLOT = mm_st_dim<MT, NT>::slot;
	constexpr int WARPS = mm_st_dim<MT, NT>::warps;
	extern __shared__ uint4 mm_ring[];
	__shared__ float red[32];
	__shared__ float sc[8 * NT];
	__shared__ float part[WARPS][MT][NT][4][32];
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
	const int n_items = p.n_units * p.n_groups;
	uint4 *ring = mm_ring + (size_t)warp * S * SLOT;

	/* the first S - 1 rounds' weights are on their way while the norm is
	 * computed */
	mm_st_pos ld = {(int)blockIdx.x, 0};
	int n_ld = 0;
	for (int k = 0; k < S - 1; k++, n_ld++) {
		mm_st_issue<MT>(p, ld, n_items, ring + (n_ld % S) * SLOT);
		mm_st_next<WARPS>(p, ld, n_items);
	}
	k_dep_wait();
	mm_scales(p, 0, 8 * NT, sc, red);
	int n_use = 0;
	for (int item = (int)blockIdx.x; item < n_items; item += (int)gridDim.x) {
		int unit = item / p.n_groups;
		const int col0 = (item % p.n_groups) * 8 * NT;
		const mm_seg &sg = mm_find(p, unit);
		int cols[NT];
		float scale[NT];
		mm_cols<NT>(p, col0, g, sc, cols, scale);
		float total[MT][NT][4], acc[MT][NT][4] = {};
		for (int r = 0; r < p.n_sl; r += WARPS, n_use++, n_ld++) {
			/* the slot refilled is the one the previous round read */
			mm_st_issue<MT>(p, ld, n_items, ring + (n_ld % S) * SLOT);
			mm_st_next<WARPS>(p, ld, n_items);
			mm_cp_wait<S - 1>();
			if (r + warp < p.n_sl)
				mm_slice_st<MT, NT>(p, ring + (n_use % S) * SLOT, cols, scale, r + warp, acc);
			mm_round_fold<MT, NT, WARPS>(p, part, r, acc, total);
			__syncthreads();
		}
		if (warp == 0)
			mm_store<MT, NT>(p, sg, unit, col0, total);
	}
	mm_cp_wait<0>();
}

/* ---- decode with a unit's slices over a cluster (sm_90 and later) ----
 * Products whose units are too few to fill the device spread each unit's
 * slices over a cluster of C blocks (thread block clusters): warp w of
 * rank r takes slice
 * r * WARPS + w of every unit its cluster serves (units c, c + clusters,
 * ...). The (j, e) element pairs of a unit's tile are dealt out to the
 * ranks (pair pe to rank pe % C); each warp stores its slice's sum (from
 * zero, as mm_slice makes it) straight into the owning rank's shared memory,
 * and after a cluster barrier the owners fold their pairs over all slices in
 * order, locally, as mm_round_fold does, and store them. So the bits are
 * those of k_mm_dec1 and k_mm_dec; only the warps that compute change. */

/* Arrive at and wait on the cluster barrier (release, acquire: shared
 * memory written before the arrival is visible after the wait). The
 * .aligned forms, which every call site allows (whole warps, uniform
 * control flow); the toolkit's __cluster_barrier_arrive/wait are not.
 * Likewise mm_cl_store below names the cluster window directly, where a
 * pointer from __cluster_map_shared_rank would be stored through generic
 * addressing. */
__device__ __forceinline__ void mm_cl_arrive(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
#endif
}

__device__ __forceinline__ void mm_cl_wait(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
#endif
}

/* st.shared::cluster of v at the address of local shared *p mapped into
 * rank r's shared memory. */
__device__ __forceinline__ void mm_cl_store(float *p, unsigned r, float v)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	uint32_t local = (uint32_t)__cvta_generic_to_shared(p), remote;
	asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local), "r"(r));
	asm volatile("st.shared::cluster.f32 [%0], %1;" ::"r"(remote), "f"(v) : "memory");
#else
	(void)r;
	*p = v;
#endif
}

/* Slots of the fold buffer: slices times pairs a rank owns, at most
 * C * WARPS * ceil(4 NT / C) <= WARPS * (4 NT + 7) for C <= 8. */
template <int NT, int WARPS>
struct mm_split_dim {
	static constexpr int slots = WARPS * (4 * NT + 7);
};

template <int T, int MT, int NT, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) k_mm_split(mm_p p)
{
	__shared__ float red[32];
	__shared__ float sc[8 * NT];
	__shared__ float buf[mm_split_dim<NT, WARPS>::slots][MT][32];
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
	const int C = (int)__clusterSizeInBlocks(), rank = (int)__clusterRelativeBlockRank();
	const int col0 = (int)blockIdx.y * 8 * NT, stride = (int)gridDim.x / C;
	const int sl = rank * WARPS + warp;            /* this warp's slice of every unit */
	const bool has = sl < p.n_sl;
	const int ppr = (4 * NT + C - 1) / C;          /* pairs a rank owns, at most */
	const int mine = (4 * NT - rank + C - 1) / C;  /* pairs this rank owns */
	int unit = (int)blockIdx.x / C, u_in = unit;
	const mm_seg *sg = &mm_find(p, u_in);
	mm_rows<MT> rw;
	mm_wslice<T, MT> wsl;

	/* no rank writes into another's shared memory before that one runs:
	 * this arrival pairs with the first unit's wait */
	mm_cl_arrive();
	int cols[NT];
	float scale[NT];
	/* the first unit's weights are on their way while the norm is computed */
	mm_begin<T, MT, NT>(p, *sg, u_in, g, sl, has, col0, sc, red, rw, wsl, cols, scale);
	for (;;) {
		const int unit_next = unit + stride;
		const bool more = unit_next < p.n_units;
		int u_next = unit_next;
		const mm_seg *sg_next = sg;
		mm_rows<MT> rw_next;
		mm_wslice<T, MT> w_next;
		if (more) {
			sg_next = &mm_find(p, u_next);
			mm_tile_rows<MT>(p, *sg_next, u_next, g, rw_next);
		}
		/* one column tile: the next unit's weights load during this one's
		 * products; more: during the barriers and the fold */
		if constexpr (NT == 1) {
			if (more && has)
				mm_slice_load<T, MT>(p, rw_next, sl, w_next);
		}
		float acc[MT][NT][4];
		if (has)
			mm_slice<T, MT, NT>(p, wsl, cols, scale, sl, acc);
		if constexpr (NT > 1) {
			if (more && has)
				mm_slice_load<T, MT>(p, rw_next, sl, wsl);
		}
		/* every rank runs, and the owners have folded the previous unit:
		 * buf is free */
		mm_cl_wait();
		if (has)
			mm_each<MT, NT>([&](int i, int j, int e) {
				const int pe = 4 * j + e;
				mm_cl_store(&buf[sl * ppr + pe / C][i][lane], (unsigned)(pe % C), acc[i][j][e]);
			});
		mm_cl_arrive();
		mm_cl_wait();
		/* this rank's pairs pe = rank + C q, warp w folding q = w */
		for (int q = warp; q < mine; q += WARPS) {
			const int pe = rank + C * q, j = pe >> 2, e = pe & 3;
			float tot[MT] = {}, v[8][MT];
			for (int s0 = 0; s0 < p.n_sl; s0 += 8) {
#pragma unroll
				for (int k = 0; k < 8; k++)
#pragma unroll
					for (int i = 0; i < MT; i++)
						v[k][i] = s0 + k < p.n_sl ? buf[(s0 + k) * ppr + q][i][lane] : 0.0f;
#pragma unroll
				for (int k = 0; k < 8; k++)
#pragma unroll
					for (int i = 0; i < MT; i++)
						if (s0 + k < p.n_sl)
							tot[i] = s0 + k == 0 ? v[k][i] : __fadd_rn(tot[i], v[k][i]);
			}
			mm_out<MT>(p, *sg, u_in, col0, j, e, tot);
		}
		mm_cl_arrive();
		if (!more)
			break;
		unit = unit_next;
		u_in = u_next;
		sg = sg_next;
		rw = rw_next;
		if constexpr (NT == 1)
			wsl = w_next;
	}
	/* no rank leaves while another may still read its shared memory */
	mm_cl_wait();
}

/* Prefill: a block is 4 warps on 4 consecutive units and one tile of
 * MM_PRE_TOK tokens. Each chunk of the tile's activations is loaded once
 * (the next chunk's loads overlap this chunk's products), split into hi and
 * lo halves by the whole block into shared memory, laid out as the lanes'
 * B fragments want them; every warp runs the products of its unit. */
#define MM_PRE_TOK 64

template <int T, int MT>
__global__ void __launch_bounds__(MM_THREADS) k_mm_pre(mm_p p)
{
	constexpr int NT = MM_PRE_TOK / 8;
	__shared__ float red[32];
	__shared__ float sc[MM_PRE_TOK];
	__shared__ uint4 xs[MM_PRE_TOK][4][2];      /* [token][t][hi, lo] */
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
	const int col0 = blockIdx.y * MM_PRE_TOK;
	int unit = blockIdx.x * 4 + warp;
	const bool live = unit < p.n_units;
	/* staging: thread tid loads 16 elements of token st (k 16 sh .. 16 sh + 15) */
	const int st = tid >> 1, sh = tid & 1, scol = col0 + st;
	const bool sok = scol < p.ncols;

	k_dep_wait();
	mm_scales(p, col0, MM_PRE_TOK, sc, red);
	const float sscale = p.norm_w && sok ? sc[st] : 1.0f;
	const mm_seg &sg = mm_find(p, live ? unit : (unit = 0));
	mm_rows<MT> rw;
	mm_tile_rows<MT>(p, sg, unit, g, rw);
	if (!live)
#pragma unroll
		for (int i = 0; i < MT; i++)
			rw.r[i][0] = rw.r[i][1] = NULL;

	auto load_w = [&](int c, uint32_t (&w)[MT][2][4], float (&d)[MT][2]) {
		mm_ld_tile<T, MT>(p, rw, c, t, w, d);
	};
	auto load_x = [&](int c, float4 (&v)[4]) {
#pragma unroll
		for (int q = 0; q < 4; q++)
			v[q] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
		if (!sok || c >= p.n_ch)
			return;
		const float *xp = p.x + (int64_t)scol * p.ldx + c * MM_CH + 16 * sh;
#pragma unroll
		for (int q = 0; q < 4; q++)
			v[q] = p.xvec ? *(const float4 *)(xp + 4 * q)
				      : make_float4(xp[4 * q], xp[4 * q + 1], xp[4 * q + 2], xp[4 * q + 3]);
	};

	float total[MT][NT][4], acc[MT][NT][4];
	uint32_t w[MT][2][4], wn[MT][2][4];
	float d[MT][2], dn[MT][2];
	float4 xv[4], xn[4];
	load_w(0, w, d);
	load_x(0, xv);
	for (int c = 0; c < p.n_ch; c++) {
		if (c % MM_SLICE_CH == 0)
			mm_zero<MT, NT>(acc);
		/* this chunk's activations -> hi/lo in shared memory */
		__syncthreads();
#pragma unroll
		for (int q = 0; q < 2; q++) {
			float v[8] = {xv[2 * q].x, xv[2 * q].y, xv[2 * q].z, xv[2 * q].w,
				      xv[2 * q + 1].x, xv[2 * q + 1].y, xv[2 * q + 1].z, xv[2 * q + 1].w};
			uint32_t hi[4], lo[4];
			if (p.norm_w) {
				const int k0 = c * MM_CH + 16 * sh + 8 * q;
#pragma unroll
				for (int e = 0; e < 8; e++)
					v[e] = __fmul_rn(__fmul_rn(v[e], sscale), p.norm_w[k0 + e]);
			}
			mm_split(p, v, hi, lo);
			xs[st][2 * sh + q][0] = make_uint4(hi[0], hi[1], hi[2], hi[3]);
			xs[st][2 * sh + q][1] = make_uint4(lo[0], lo[1], lo[2], lo[3]);
		}
		__syncthreads();
		/* the next chunk's loads overlap this one's products */
		load_w(c + 1, wn, dn);
		load_x(c + 1, xn);
		if (live) {
#pragma unroll
			for (int j = 0; j < NT; j++) {
				const uint4 h4 = xs[8 * j + g][t][0], l4 = xs[8 * j + g][t][1];
				const uint32_t hi[4] = {h4.x, h4.y, h4.z, h4.w}, lo[4] = {l4.x, l4.y, l4.z, l4.w};
#pragma unroll
				for (int i = 0; i < MT; i++)
					mm_acc_chunk<T>(acc[i][j], w[i][0], w[i][1], d[i][0], d[i][1], hi, lo);
			}
		}
		if (c % MM_SLICE_CH == MM_SLICE_CH - 1 || c == p.n_ch - 1)
			mm_fold<MT, NT>(total, acc, c < MM_SLICE_CH);
#pragma unroll
		for (int i = 0; i < MT; i++)
#pragma unroll
			for (int h = 0; h < 2; h++) {
				d[i][h] = dn[i][h];
#pragma unroll
				for (int e = 0; e < 4; e++)
					w[i][h][e] = wn[i][h][e];
			}
#pragma unroll
		for (int q = 0; q < 4; q++)
			xv[q] = xn[q];
	}
	if (live)
		mm_store<MT, NT>(p, sg, unit, col0, total);
}

/* ---- launch ---- */

static int mm_major(void)   /* compute capability */
{
	static std::atomic<int> cached{-1};
	return k_dev_attr(cached, cudaDevAttrComputeCapabilityMajor);
}

/* The device's multiprocessors if it launches clusters (compute capability
 * 9 or later); 0 if not or unknown. */
static int mm_cluster_sms(void)
{
	return mm_major() >= 9 ? k_device_sms() : 0;
}

/* Blocks of kern (threads each, smem bytes of dynamic shared memory) that
 * the device holds at once: multiprocessors times blocks per
 * multiprocessor; 0 if unknown. Only a launch size: any grid gives the
 * same result. */
template <typename K>
static int mm_resident(K kern, int threads, size_t smem)
{
	int per_sm = 0;
	const int sms = k_device_sms();
	return sms > 0 && cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, threads, smem) == cudaSuccess
		? sms * per_sm : 0;
}

template <int T, int MT, int WARPS>
static int mm_dec1_resident(void)
{
	static std::atomic<int> cached{-1};
	return k_once(cached, [] { return mm_resident(k_mm_dec1<T, MT, WARPS>, WARPS * 32, 0); });
}

/* Decode of one column tile: one block per unit, up to what the device
 * holds at once; then blocks loop over units. */
template <int T, int MT, int WARPS>
static void mm_dec1_launch(const mm_p &p, cudaStream_t s)
{
	const int resident = mm_dec1_resident<T, MT, WARPS>();
	const int grid = resident > 0 && p.n_units > resident ? resident : p.n_units;
	k_launch(k_mm_dec1<T, MT, WARPS>, (unsigned)grid, WARPS * 32, 0, s, p);
}

/* ... of k_mm_stream<MT, NT>, once the kernel is allowed its ring. */
template <int MT, int NT>
static int mm_stream_resident(void)
{
	static std::atomic<int> cached{-1};
	return k_once(cached, [] {
		const int ring = (int)mm_st_dim<MT, NT>::ring_bytes;
		return cudaFuncSetAttribute(k_mm_stream<MT, NT>, cudaFuncAttributeMaxDynamicSharedMemorySize, ring) ==
				cudaSuccess
			? mm_resident(k_mm_stream<MT, NT>, mm_st_dim<MT, NT>::warps * 32, (size_t)ring) : 0;
	});
}

template <int MT, int NT>
static bool mm_stream_go(const mm_p &p, cudaStream_t s)
{
	const int resident = mm_stream_resident<MT, NT>(), items = p.n_units * p.n_groups;
	if (resident <= 0)
		return false;
	k_launch(k_mm_stream<MT, NT>, (unsigned)(items < resident ? items : resident),
		 mm_st_dim<MT, NT>::warps * 32,
		 mm_st_dim<MT, NT>::ring_bytes, s, p);
	return true;
}


/* Which of k_mm_split and k_mm_stream the launcher may use (ORC_K_MM_*;
 * both by default, each where it pays). */
static std::atomic<unsigned> mm_kernels{ORC_K_MM_DEFAULT};

extern "C" void orc_k_mm_set_kernels(unsigned mask)
{
	mm_kernels.store(mask & (ORC_K_MM_SPLIT | ORC_K_MM_STREAM | ORC_K_MM_PREP | ORC_K_MM_STREAM_LONG),
			 std::memory_order_relaxed);
}

/* Clusters of C blocks of k_mm_split<T, MT, NT, WARPS> that the device
 * holds at once, asked once per C; 0 if unknown. Only a launch size. */
template <int T, int MT, int NT, int WARPS>
static int mm_split_resident(int C)
{
	static std::atomic<int> cached[9] = {{-1}, {-1}, {-1}, {-1}, {-1}, {-1}, {-1}, {-1}, {-1}};
	return k_once(cached[C], [C] {
		cudaLaunchAttribute at[1];
		at[0].id = cudaLaunchAttributeClusterDimension;
		at[0].val.clusterDim.x = (unsigned)C;
		at[0].val.clusterDim.y = 1;
		at[0].val.clusterDim.z = 1;
		cudaLaunchConfig_t cfg = {};
		cfg.gridDim = dim3((unsigned)C);
		cfg.blockDim = dim3(WARPS * 32);
		cfg.attrs = at;
		cfg.numAttrs = 1;
		int v = 0;
		return cudaOccupancyMaxActiveClusters(&v, k_mm_split<T, MT, NT, WARPS>, &cfg) == cudaSuccess ? v : 0;
	});
}

template <int T, int MT, int NT, int WARPS>
static void mm_split_go(const mm_p &p, int C, cudaStream_t s)
{
	const int res = mm_split_resident<T, MT, NT, WARPS>(C) / p.n_groups;
	const int clusters = res > 0 && p.n_units > res ? res : p.n_units;
	k_launch_cluster(k_mm_split<T, MT, NT, WARPS>, dim3((unsigned)(clusters * C), (unsigned)p.n_groups),
			 WARPS * 32, 0, s, (unsigned)C, p);
}

/* A product on k_mm_split, where that pays: when its units (times column
 * groups) are fewer than the device's multiprocessors, so that one block
 * per unit leaves most of them idle, and K has 9 to 64 slices (clusters of
 * 2 to 8 blocks of 8 warps) or, beyond one column tile, 5 to 8 (2 blocks of
 * 4 warps). False: use the one-block kernels. Measured on an H100
 * (bench_kernels, us a launch, one-block against clustered): Qwen2.5's
 * down projection (56 units, 38 slices) 40.5 against 28.8 at 32 columns
 * and 19.5 against 16.7 in Q8_0 at one, its output projection (56 units,
 * 7 slices) 12.2 against 9.6 at 32; but F16 at one column 13.4 against
 * 14.4, and every Phi-3-mini product (192 to 2,004 units) slower. */
template <int T, int MT>
static bool mm_split_launch(const mm_p &p, int nt, cudaStream_t s)
{
	const int sms = mm_cluster_sms();
	if (sms == 0 || !(mm_kernels.load(std::memory_order_relaxed) & ORC_K_MM_SPLIT) ||
	    p.n_units * p.n_groups >= sms ||
	    (nt == 1 && T == ORC_KT_F16))
		return false;
	const int c8 = (p.n_sl + 7) / 8, c4 = (p.n_sl + 3) / 4;
	if (c8 >= 2 && c8 <= 8) {
		if (nt == 1)
			mm_split_go<T, MT, 1, 8>(p, c8, s);
		else if (nt == 2)
			mm_split_go<T, MT, 2, 8>(p, c8, s);
		else
			mm_split_go<T, MT, 4, 8>(p, c8, s);
		return true;
	}
	if (nt > 1 && c8 == 1 && c4 == 2) {
		if (nt == 2)
			mm_split_go<T, MT, 2, 4>(p, c4, s);
		else
			mm_split_go<T, MT, 4, 4>(p, c4, s);
		return true;
	}
	return false;
}

/* A product on k_mm_stream, where that pays: F16 weights with at least
 * as many units (times column groups) as the device has multiprocessors,
 * so that every one streams (fewer go to the clusters, or to the one-block
 * kernels' wider blocks), one 16-row tile a warp (SwiGLU's pairs of tiles
 * need a 128 KB ring, one block a multiprocessor, and were slower:
 * Qwen2.5's gate/up 15.9 against 16.6 us at one column, Phi-3's 73.5
 * against 86.0 at 8), one column group when a norm is still to be
 * applied, and K of one round (up to 8 slices) only unless
 * ORC_K_MM_STREAM_LONG (in the default). Measured on an H100 (us a
 * launch, one-block against streamed): Qwen2.5's output head 150.9
 * against 125.6 at one column, Phi-3-mini's 134.4 against 104.6, its QKV
 * 47.2 against 39.3; Phi-3-mini decodes 8 sequences at 1,050 tok/s
 * against 991 with several rounds streamed. False: use another kernel. */
template <int T, int MT>
static bool mm_stream_launch(const mm_p &p, int nt, cudaStream_t s)
{
	const unsigned mask = mm_kernels.load(std::memory_order_relaxed);
	if (T != ORC_KT_F16 || MT != 1 || !(mask & ORC_K_MM_STREAM) || (p.norm_w && p.n_groups > 1) ||
	    (p.n_sl > mm_st_dim<1, 1>::warps && !(mask & ORC_K_MM_STREAM_LONG)))
		return false;
	const int sms = k_device_sms();
	if (sms == 0 || p.n_units * p.n_groups < sms)
		return false;
	if constexpr (MT == 1)
		return nt == 1 ? mm_stream_go<1, 1>(p, s) : nt == 2 ? mm_stream_go<1, 2>(p, s) : mm_stream_go<1, 4>(p, s);
	return false;
}

template <int T, int MT>
static void mm_launch_t(mm_p &p, cudaStream_t s)
{
	if (p.ncols > MM_DEC_COLS) {
		p.xp = NULL;
		dim3 grid((unsigned)(p.n_units + 3) / 4, (unsigned)(p.ncols + MM_PRE_TOK - 1) / MM_PRE_TOK);
		k_launch(k_mm_pre<T, MT>, grid, MM_THREADS, 0, s, p);
		return;
	}
	const int nt = p.ncols <= 8 ? 1 : p.ncols <= 16 ? 2 : 4;
	if (nt == 1 || (!p.norm_w && !(mm_kernels.load(std::memory_order_relaxed) & ORC_K_MM_PREP)))
		p.xp = NULL;
	if (p.xp) {
		k_launch(k_mm_prep, p.ncols, MM_THREADS, 0, s, p, (uint4 *)p.xp);
		p.norm_w = NULL;     /* applied by the preparation */
	}
	p.n_groups = (p.ncols + 8 * nt - 1) / (8 * nt);
	if (mm_split_launch<T, MT>(p, nt, s) || mm_stream_launch<T, MT>(p, nt, s))
		return;
	const unsigned grid = (unsigned)p.n_units * (unsigned)p.n_groups;
	if (nt == 1) {
		if constexpr (MT == 1) {
			if (p.n_sl > MM_DEC_WARPS) {
				mm_dec1_launch<T, MT, 2 * MM_DEC_WARPS>(p, s);
				return;
			}
		}
		mm_dec1_launch<T, MT, MM_DEC_WARPS>(p, s);
	} else if (nt == 2) {
		k_launch(k_mm_dec<T, MT, 2, MM_DEC_WARPS>, grid, MM_DEC_WARPS * 32, 0, s, p);
	} else {
		k_launch(k_mm_dec<T, MT, 4, MM_DEC_WARPS>, grid, MM_DEC_WARPS * 32, 0, s, p);
	}
}

template <int T>
static void mm_launch(mm_p &p, cudaStream_t s)
{
	if (p.act == ORC_K_ACT_SWIGLU)
		mm_launch_t<T, 2>(p, s);
	else
		mm_launch_t<T, 1>(p, s);
}

extern "C" bool orc_k_mm_usable(int wtype, int K)
{
	return mm_major() >= 8 && K > 0 && K % MM_CH == 0 &&
	       (wtype == ORC_KT_F16 || wtype == ORC_KT_Q8_0 || wtype == ORC_KT_Q4_0);
}

extern "C" size_t orc_k_mm_ws_bytes(int wtype, int K, int ncols)
{
	if (ncols <= 8 || ncols > MM_DEC_COLS || !orc_k_mm_usable(wtype, K))
		return 0;
	return (size_t)K * (size_t)ncols * 4;
}

extern "C" cudaError_t orc_k_mm_multi(const struct orc_k_gemv *a, int n, cudaStream_t stream)
{
	mm_p p;

	if (n < 1 || n > 3 || !orc_k_mm_usable(a[0].wtype, a[0].K))
		return cudaErrorInvalidValue;
	p.n_units = 0;
	for (int i = 0; i < n; i++) {
		const bool glu = a[i].act == ORC_K_ACT_SWIGLU;
		mm_seg &sg = p.seg[i];
		sg.w = (const uint8_t *)a[i].w;
		sg.w2 = (const uint8_t *)a[i].w2;
		sg.N = a[i].N;
		sg.n_out = glu && !a[i].w2 ? a[i].N / 2 : a[i].N;
		sg.n_units = (sg.n_out + 15) / 16;
		sg.bias = a[i].bias;
		sg.bias2 = a[i].bias2;
		sg.y = a[i].y;
		sg.ldy = a[i].ldy;
		p.n_units += sg.n_units;
	}
	p.n_seg = n;
	p.row_bytes = orc_k_row_bytes(a->wtype, a->K);
	p.K = a->K;
	p.n_ch = a->K / MM_CH;
	p.n_sl = (p.n_ch + MM_SLICE_CH - 1) / MM_SLICE_CH;
	p.x = a->x;
	p.ldx = a->ldx;
	p.ncols = a->ncols;
	p.xvec = (a->ldx % 4 == 0) && ((uintptr_t)a->x % 16 == 0);
	p.norm_w = a->norm_w;
	p.eps = a->norm_eps;
	p.act = a->act;
	p.accumulate = a->accumulate;
	p.n_groups = 1;
	p.flag = a->flag;
	const size_t need = orc_k_mm_ws_bytes(a->wtype, a->K, a->ncols);
	p.xp = need && a->ws && a->ws_bytes >= need ? (const uint4 *)a->ws : NULL;
	if (a->ncols == 0)
		return cudaSuccess;
	switch (a->wtype) {
	case ORC_KT_F16: mm_launch<ORC_KT_F16>(p, stream); break;
	case ORC_KT_Q8_0: mm_launch<ORC_KT_Q8_0>(p, stream); break;
	case ORC_KT_Q4_0: mm_launch<ORC_KT_Q4_0>(p, stream); break;
	default: return cudaErrorInvalidValue;
	}
	return cudaGetLastError();
}
