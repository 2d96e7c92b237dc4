/* gemv.cu -- matrix times a few vectors for decode, reading the weights in
 * their stored format (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K) with an
 * optional RMSNorm of the input, bias, GELU or SwiGLU and residual add.
 *
 * Work unit: 8 consecutive elements of a row. Thread t of the 128-thread
 * block takes units t, t+128, ... in order; each unit's dot product is an
 * fma chain, scaled per block format; the 128 partials are reduced by warp
 * butterflies and then warps 0..3 in order. That order depends on K and the
 * type alone, never on how many columns or rows a launch covers, so a
 * sequence gets bit-identical results alone or in any batch.
 * Products the tensor cores can take (mm.cuh: F16, Q8_0, Q4_0 with K a
 * multiple of 32) go to mm.cu instead, for every batch size alike. */
#include "kcommon.cuh"
#include "mm.cuh"

#define GEMV_THREADS 128
#define GEMV_WARPS (GEMV_THREADS / 32)

struct gemv_seg {
	const uint8_t *w, *w2;  /* w2: SwiGLU's up rows, or NULL */
	int N, n_out, nblk;     /* rows, outputs, blocks of this segment */
	const float *bias, *bias2;
	float *y;
	int ldy;
};

struct gemv_p {
	gemv_seg seg[3];
	int n_seg;
	int64_t row_bytes;
	int K;
	const float *x;
	int ldx, ncols, n_groups, xvec;
	const float *norm_w;
	float eps;
	int act, accumulate;
};

/* ---- 8 inputs of one column, normalized when asked ---- */
template <int NC>
__device__ __forceinline__ void load_x8(const gemv_p &p, int col0, int nc, int k0, const float *scale,
					float (&xv)[NC][8])
{
#pragma unroll
	for (int c = 0; c < NC; c++) {
		if (c >= nc) {
#pragma unroll
			for (int e = 0; e < 8; e++)
				xv[c][e] = 0.0f;
			continue;
		}
		const float *xp = p.x + (int64_t)(col0 + c) * p.ldx + k0;
		if (p.xvec) {
			float4 a = *(const float4 *)xp, b = *(const float4 *)(xp + 4);
			xv[c][0] = a.x; xv[c][1] = a.y; xv[c][2] = a.z; xv[c][3] = a.w;
			xv[c][4] = b.x; xv[c][5] = b.y; xv[c][6] = b.z; xv[c][7] = b.w;
		} else {
#pragma unroll
			for (int e = 0; e < 8; e++)
				xv[c][e] = xp[e];
		}
		if (p.norm_w) {
#pragma unroll
			for (int e = 0; e < 8; e++)
				xv[c][e] = __fmul_rn(__fmul_rn(xv[c][e], scale[c]), p.norm_w[k0 + e]);
		}
	}
}

/* acc[c] += sum_e w[e] * x[c][e] (scaled by the format's block scales) */
template <int NC>
__device__ __forceinline__ void dot8(const float (&w)[8], const float (&xv)[NC][8], float s, float (&acc)[NC])
{
#pragma unroll
	for (int c = 0; c < NC; c++) {
		float d = 0.0f;
#pragma unroll
		for (int e = 0; e < 8; e++)
			d = fmaf(w[e], xv[c][e], d);
		acc[c] = fmaf(s, d, acc[c]);
	}
}

__device__ __forceinline__ void h8_to_f(uint4 v, bool bf, float (&w)[8])
{
	uint32_t a[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
	for (int i = 0; i < 4; i++) {
		uint16_t lo = (uint16_t)(a[i] & 0xffff), hi = (uint16_t)(a[i] >> 16);
		w[2 * i] = bf ? k_bf2f(lo) : k_h2f(lo);
		w[2 * i + 1] = bf ? k_bf2f(hi) : k_h2f(hi);
	}
}

/* 8 bytes at a 2-byte aligned address */
__device__ __forceinline__ void ld8b(const uint8_t *p, uint8_t (&b)[8])
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		uint16_t v = k_ld16(p + 2 * i);
		b[2 * i] = (uint8_t)(v & 0xff);
		b[2 * i + 1] = (uint8_t)(v >> 8);
	}
}

/* Contribution of unit u (elements 8u..8u+7) of one row. */
template <int T, int NC>
__device__ __forceinline__ void unit(const uint8_t *row, int u, const float (&xv)[NC][8], float (&acc)[NC])
{
	float w[8];
	if (T == ORC_KT_F32) {
		float4 a = ((const float4 *)row)[2 * u], b = ((const float4 *)row)[2 * u + 1];
		w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w;
		w[4] = b.x; w[5] = b.y; w[6] = b.z; w[7] = b.w;
		dot8<NC>(w, xv, 1.0f, acc);
	} else if (T == ORC_KT_F16 || T == ORC_KT_BF16) {
		h8_to_f(((const uint4 *)row)[u], T == ORC_KT_BF16, w);
		dot8<NC>(w, xv, 1.0f, acc);
	} else if (T == ORC_KT_Q8_0) {
		const uint8_t *b = row + (u >> 2) * Q8_0_BYTES;
		uint8_t q[8];
		ld8b(b + 2 + 8 * (u & 3), q);
#pragma unroll
		for (int e = 0; e < 8; e++)
			w[e] = (float)(int8_t)q[e];
		dot8<NC>(w, xv, k_h2f(k_ld16(b)), acc);
	} else if (T == ORC_KT_Q4_0) {
		const uint8_t *b = row + (u >> 2) * Q4_0_BYTES;
		int part = u & 3;
		uint8_t q[8];
		ld8b(b + 2 + 8 * (part & 1), q);
#pragma unroll
		for (int e = 0; e < 8; e++)
			w[e] = (float)(((part >> 1) ? (q[e] >> 4) : (q[e] & 0xF)) - 8);
		dot8<NC>(w, xv, k_h2f(k_ld16(b)), acc);
	} else if (T == ORC_KT_Q4_K) {
		const uint8_t *b = row + (u >> 5) * Q4_K_BYTES;
		int r = u & 31, j = r >> 2, part = r & 3, sc, m;
		k_q4k_scale_min(j, b + 4, &sc, &m);
		uint2 qq = *(const uint2 *)(b + 16 + 32 * (j >> 1) + 8 * part);
		uint32_t qa[2] = {qq.x, qq.y};
#pragma unroll
		for (int e = 0; e < 8; e++) {
			uint32_t byte = (qa[e >> 2] >> (8 * (e & 3))) & 0xff;
			w[e] = (float)((j & 1) ? (byte >> 4) : (byte & 0xF));
		}
		float d = k_h2f(k_ld16(b)) * (float)sc, dm = k_h2f(k_ld16(b + 2)) * (float)m;
#pragma unroll
		for (int c = 0; c < NC; c++) {
			float dq = 0.0f, sx = 0.0f;
#pragma unroll
			for (int e = 0; e < 8; e++) {
				dq = fmaf(w[e], xv[c][e], dq);
				sx += xv[c][e];
			}
			acc[c] = fmaf(d, dq, acc[c]);
			acc[c] = fmaf(-dm, sx, acc[c]);
		}
	} else if (T == ORC_KT_Q6_K) {
		const uint8_t *b = row + (u >> 5) * Q6_K_BYTES;
		int r = u & 31, h = r >> 4, e0 = (r & 15) * 8, seg = e0 >> 5, l0 = e0 & 31;
		uint8_t ql[8], qh[8];
		ld8b(b + 64 * h + 32 * (seg & 1) + l0, ql);
		ld8b(b + 128 + 32 * h + l0, qh);
		int sc = ((const int8_t *)b)[192 + 8 * h + l0 / 16 + 2 * seg];
#pragma unroll
		for (int e = 0; e < 8; e++) {
			int lo = (seg >> 1) ? (ql[e] >> 4) : (ql[e] & 0xF);
			w[e] = (float)((lo | (((qh[e] >> (2 * seg)) & 3) << 4)) - 32);
		}
		dot8<NC>(w, xv, k_h2f(k_ld16(b + 208)) * (float)sc, acc);
	}
}

/* One element for the scalar path (float types with K % 8 != 0). */
template <int T>
__device__ __forceinline__ float welem(const uint8_t *row, int k)
{
	if (T == ORC_KT_F32)
		return ((const float *)row)[k];
	if (T == ORC_KT_F16)
		return k_h2f(((const uint16_t *)row)[k]);
	return k_bf2f(((const uint16_t *)row)[k]);
}

/* grid: (output-unit blocks of every segment x column groups), group
 * fastest; block 128. RB rows per block: consecutive rows, or the gate and
 * up rows of one output for SwiGLU. */
template <int T, int NC, int RB>
__global__ void __launch_bounds__(GEMV_THREADS) k_gemv(gemv_p p)
{
	k_dep_wait();
	__shared__ float red[32];
	__shared__ float scale[NC];
	__shared__ float part[GEMV_WARPS][RB][NC];
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int group = blockIdx.x % p.n_groups;
	const int col0 = group * NC, nc = min(NC, p.ncols - col0);
	const bool glu = p.act == ORC_K_ACT_SWIGLU;
	int ublk = blockIdx.x / p.n_groups, si = 0;
	while (si + 1 < p.n_seg && ublk >= p.seg[si].nblk) {
		ublk -= p.seg[si].nblk;
		si++;
	}
	const gemv_seg sg = p.seg[si];
	const uint8_t *wr[RB];
	int rows[RB];
	bool live[RB];

#pragma unroll
	for (int r = 0; r < RB; r++) {
		const bool two = glu && sg.w2 && r == 1;
		rows[r] = glu ? (sg.w2 ? ublk : ublk + r * (sg.N / 2)) : ublk * RB + r;
		live[r] = glu ? ublk < sg.n_out : rows[r] < sg.N;
		wr[r] = (two ? sg.w2 : sg.w) + (int64_t)rows[r] * p.row_bytes;
	}
	if (p.norm_w) {
		for (int c = 0; c < nc; c++) {
			float sc = k_rms_scale(p.x + (int64_t)(col0 + c) * p.ldx, p.K, p.eps, red);
			if (tid == 0)
				scale[c] = sc;
		}
		__syncthreads();
	}

	float acc[RB][NC];
#pragma unroll
	for (int r = 0; r < RB; r++)
#pragma unroll
		for (int c = 0; c < NC; c++)
			acc[r][c] = 0.0f;

	if ((T == ORC_KT_F32 || T == ORC_KT_F16 || T == ORC_KT_BF16) && (p.K & 7)) {
		for (int k = tid; k < p.K; k += GEMV_THREADS) {
			float xs[NC];
#pragma unroll
			for (int c = 0; c < NC; c++) {
				xs[c] = c < nc ? p.x[(int64_t)(col0 + c) * p.ldx + k] : 0.0f;
				if (p.norm_w)
					xs[c] = __fmul_rn(__fmul_rn(xs[c], scale[c]), p.norm_w[k]);
			}
#pragma unroll
			for (int r = 0; r < RB; r++) {
				if (!live[r])
					continue;
				float w = welem<T>(wr[r], k);
#pragma unroll
				for (int c = 0; c < NC; c++)
					acc[r][c] = fmaf(w, xs[c], acc[r][c]);
			}
		}
	} else {
		const int n_units = p.K >> 3;
		for (int u = tid; u < n_units; u += GEMV_THREADS) {
			float xv[NC][8];
			load_x8<NC>(p, col0, nc, 8 * u, scale, xv);
#pragma unroll
			for (int r = 0; r < RB; r++)
				if (live[r])
					unit<T, NC>(wr[r], u, xv, acc[r]);
		}
	}

#pragma unroll
	for (int r = 0; r < RB; r++)
#pragma unroll
		for (int c = 0; c < NC; c++) {
			float v = k_warp_sum(acc[r][c]);
			if (lane == 0)
				part[warp][r][c] = v;
		}
	__syncthreads();
	if (tid >= RB * NC)
		return;
	const int r = tid / NC, c = tid % NC;
	if (c >= nc)
		return;
	float v[RB];
#pragma unroll
	for (int i = 0; i < RB; i++) {
		v[i] = part[0][i][c];
#pragma unroll
		for (int w = 1; w < GEMV_WARPS; w++)
			v[i] += part[w][i][c];
		const float *b = glu && sg.w2 && i == 1 ? sg.bias2 : sg.bias;
		if (b && live[i])
			v[i] += b[rows[i]];
	}
	float out;
	int oi;
	if (glu) {
		if (r != 0 || !live[0])
			return;
		out = k_silu(v[0]) * v[RB - 1];
		oi = ublk;
	} else {
		if (!live[r])
			return;
		out = v[r];
		if (p.act == ORC_K_ACT_GELU)
			out = k_gelu(out);
		oi = rows[r];
	}
	float *yp = sg.y + (int64_t)(col0 + c) * sg.ldy + oi;
	*yp = p.accumulate ? *yp + out : out;
}

/* ---- launch ---- */
template <int T, int NC, int RB>
static void launch(const gemv_p &p0, cudaStream_t s)
{
	gemv_p p = p0;
	unsigned nblk = 0;
	for (int i = 0; i < p.n_seg; i++) {
		p.seg[i].nblk = p.act == ORC_K_ACT_SWIGLU ? p.seg[i].n_out : (p.seg[i].N + RB - 1) / RB;
		nblk += (unsigned)p.seg[i].nblk;
	}
	p.n_groups = (p.ncols + NC - 1) / NC;
	k_launch(k_gemv<T, NC, RB>, nblk * (unsigned)p.n_groups, GEMV_THREADS, 0, s, p);
}

template <int T>
static void launch_t(const gemv_p &p, cudaStream_t s)
{
	bool glu = p.act == ORC_K_ACT_SWIGLU;
	if (p.ncols >= 8)
		launch<T, 8, 2>(p, s);
	else if (p.ncols >= 3)
		launch<T, 4, 2>(p, s);
	else if (p.ncols == 2)
		launch<T, 2, 2>(p, s);
	else if (glu)
		launch<T, 1, 2>(p, s);
	else if (p.seg[0].N >= 4096)
		launch<T, 1, 4>(p, s);   /* fewer, larger blocks for the big ones (logits) */
	else
		launch<T, 1, 1>(p, s);
}

/* Check one product and fill its segment; the shared fields come from a[0]. */
static bool seg_of(const struct orc_k_gemv *a, const struct orc_k_gemv *a0, gemv_seg *sg)
{
	int blk = orc_k_type_block(a->wtype);
	bool glu = a->act == ORC_K_ACT_SWIGLU;
	if (blk == 0 || a->K <= 0 || a->N <= 0 || a->K % blk || a->ncols < 0 || a->ldx < a->K ||
	    (glu && !a->w2 && a->N % 2) || a->act < ORC_K_ACT_NONE || a->act > ORC_K_ACT_SWIGLU ||
	    (blk > 1 && a->K % 8) || (a->w2 && !glu))
		return false;
	if (a != a0 && (a->wtype != a0->wtype || a->K != a0->K || a->x != a0->x || a->ldx != a0->ldx ||
			a->ncols != a0->ncols || a->norm_w != a0->norm_w || a->act != a0->act ||
			a->accumulate != a0->accumulate || a->norm_eps != a0->norm_eps))
		return false;
	/* the vector path reads 16-byte units of F32/F16/BF16 rows, 8-byte ones of Q4_K */
	if (a->wtype != ORC_KT_Q8_0 && a->wtype != ORC_KT_Q4_0 && a->wtype != ORC_KT_Q6_K &&
	    ((uintptr_t)a->w % 16 || (uintptr_t)a->w2 % 16))
		return false;
	sg->w = (const uint8_t *)a->w;
	sg->w2 = (const uint8_t *)a->w2;
	sg->N = a->N;
	sg->n_out = glu && !a->w2 ? a->N / 2 : a->N;
	sg->bias = a->bias;
	sg->bias2 = a->bias2;
	sg->y = a->y;
	sg->ldy = a->ldy;
	return a->ldy >= sg->n_out;
}

extern "C" cudaError_t orc_k_gemv_multi(const struct orc_k_gemv *a, int n, cudaStream_t stream)
{
	gemv_p p;
	if (n < 1 || n > 3 || (n > 1 && a[0].act != ORC_K_ACT_NONE))
		return cudaErrorInvalidValue;
	for (int i = 0; i < n; i++)
		if (!seg_of(&a[i], &a[0], &p.seg[i]))
			return cudaErrorInvalidValue;
	p.n_seg = n;
	p.row_bytes = orc_k_row_bytes(a->wtype, a->K);
	p.K = a->K;
	p.x = a->x;
	p.ldx = a->ldx;
	p.ncols = a->ncols;
	p.xvec = (a->ldx % 4 == 0) && ((uintptr_t)a->x % 16 == 0);
	p.norm_w = a->norm_w;
	p.eps = a->norm_eps;
	p.act = a->act;
	p.accumulate = a->accumulate;
	if (a->ncols == 0)
		return cudaSuccess;
	if (orc_k_mm_usable(a->wtype, a->K))
		return orc_k_mm_multi(a, n, stream);
	switch (a->wtype) {
	case ORC_KT_F32: launch_t<ORC_KT_F32>(p, stream); break;
	case ORC_KT_F16: launch_t<ORC_KT_F16>(p, stream); break;
	case ORC_KT_BF16: launch_t<ORC_KT_BF16>(p, stream); break;
	case ORC_KT_Q8_0: launch_t<ORC_KT_Q8_0>(p, stream); break;
	case ORC_KT_Q4_0: launch_t<ORC_KT_Q4_0>(p, stream); break;
	case ORC_KT_Q4_K: launch_t<ORC_KT_Q4_K>(p, stream); break;
	case ORC_KT_Q6_K: launch_t<ORC_KT_Q6_K>(p, stream); break;
	default: return cudaErrorInvalidValue;
	}
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_gemv(const struct orc_k_gemv *a, cudaStream_t stream)
{
	return orc_k_gemv_multi(a, 1, stream);
}
