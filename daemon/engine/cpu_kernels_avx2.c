/* cpu_kernels_avx2.c -- the AVX2/FMA/F16C kernel set (see cpu_kernels.h).
 * Built when the compiler can target AVX2; used only when the CPU reports
 * it. Every function here is compiled for that target by the pragma below,
 * so the rest of the program stays portable. */
#include "config.h"

#ifdef HAVE_AVX2_COMPILER

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"

#define PF_DIST 8192   /* prefetch distance on each weight row, bytes (measured) */
#define ALWAYS_INLINE inline __attribute__((always_inline))
/* The tile loops must be unrolled completely, so that the accumulators
 * stay in registers. */
#if defined(__clang__)
#define UNROLL _Pragma("unroll")
#define UNROLL8 _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 4")
#define UNROLL8 _Pragma("GCC unroll 8")
#endif

/* ---- dequantization (same values as the scalar code: conversions and
 * products of a small integer by an F16 scale are exact in F32) ---- */

struct q8_0_block { uint16_t d; int8_t qs[32]; };
struct q4_0_block { uint16_t d; uint8_t qs[16]; };

static void f16_row(const uint16_t *src, uint32_t n, float *dst)
{
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
	for (; i < n; i++)
		dst[i] = orc_cpu_f16(src[i]);
}

static void bf16_row(const uint16_t *src, uint32_t n, float *dst)
{
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
		_mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
	}
	for (; i < n; i++)
		dst[i] = orc_cpu_bf16(src[i]);
}

static void q8_0_row(const void *row, uint32_t i0, uint32_t n, float *dst)
{
	const struct q8_0_block *b = (const struct q8_0_block *)row + i0 / 32;

	for (uint32_t i = 0; i < n; i += 32, b++) {
		__m256 d = _mm256_set1_ps(orc_cpu_f16(b->d));
		for (int j = 0; j < 32; j += 8) {
			__m128i q = _mm_loadl_epi64((const __m128i *)(b->qs + j));
			__m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
			_mm256_storeu_ps(dst + i + j, _mm256_mul_ps(f, d));
		}
	}
}

static void q4_0_row(const void *row, uint32_t i0, uint32_t n, float *dst)
{
	const struct q4_0_block *b = (const struct q4_0_block *)row + i0 / 32;
	const __m128i low = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);

	for (uint32_t i = 0; i < n; i += 32, b++) {
		__m256 d = _mm256_set1_ps(orc_cpu_f16(b->d));
		__m128i q = _mm_loadu_si128((const __m128i *)b->qs);
		__m128i lo = _mm_sub_epi8(_mm_and_si128(q, low), eight);
		__m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), low), eight);
		__m128i parts[4] = { lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8) };
		for (int j = 0; j < 4; j++) {
			__m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[j]));
			_mm256_storeu_ps(dst + i + 8 * j, _mm256_mul_ps(f, d));
		}
	}
}

/* Q4_K: f16 d | f16 dmin | scales[12] | qs[128]; eight 32-element groups,
 * each d * scale * q - dmin * min with the multiply and the subtract
 * rounded separately, as in quant.c. */
static ALWAYS_INLINE void q4_k_scale_min(int j, const uint8_t *q, float *d, float *m)
{
	if (j < 4) {
		*d = (float)(q[j] & 63);
		*m = (float)(q[j + 4] & 63);
	} else {
		*d = (float)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
		*m = (float)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

static void q4_k_row(const void *row, uint32_t i0, uint32_t n, float *dst)
{
	const uint8_t *x = (const uint8_t *)row + (size_t)(i0 / ORC_QK_K) * 144;
	const __m128i low = _mm_set1_epi8(0x0F);

	for (uint32_t i = 0; i < n; i += ORC_QK_K, x += 144) {
		const float d = orc_cpu_f16((uint16_t)(x[0] | x[1] << 8));
		const float dmin = orc_cpu_f16((uint16_t)(x[2] | x[3] << 8));
		const uint8_t *q = x + 16;
		for (int g = 0; g < 8; g++) {
			float s, m;
			q4_k_scale_min(g, x + 4, &s, &m);
			const __m256 dv = _mm256_set1_ps(d * s), mv = _mm256_set1_ps(dmin * m);
			const uint8_t *qg = q + 32 * (g / 2);
			for (int k = 0; k < 32; k += 8) {
				__m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(qg + k));
				b = g % 2 ? _mm_and_si128(_mm_srli_epi16(b, 4), low) : _mm_and_si128(b, low);
				__m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
				_mm256_storeu_ps(dst + i + 32 * g + k, _mm256_sub_ps(_mm256_mul_ps(dv, f), mv));
			}
		}
	}
}

/* Q6_K: ql[128] | qh[64] | int8 scales[16] | f16 d; each 128-element half
 * holds four runs of 32, run p's quant (low 4 bits from ql, 2 high bits
 * from qh) minus 32, times d * scale, multiplied in that order as in
 * quant.c. Run p of elements l .. l+7 of half h as int8 (-32 .. 31). */
static ALWAYS_INLINE __m128i q6_k_quants(const uint8_t *ql, const uint8_t *qh, int p, int l)
{
	const __m128i m4 = _mm_set1_epi8(0x0F), m3 = _mm_set1_epi8(3);
	__m128i lo = _mm_loadl_epi64((const __m128i *)(const void *)(ql + l + 32 * (p & 1)));
	__m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)(qh + l));

	lo = p < 2 ? _mm_and_si128(lo, m4) : _mm_and_si128(_mm_srli_epi16(lo, 4), m4);
	hi = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hi, 2 * p), m3), 4);
	return _mm_sub_epi8(_mm_or_si128(lo, hi), _mm_set1_epi8(32));
}

static void q6_k_row(const void *row, uint32_t i0, uint32_t n, float *dst)
{
	const uint8_t *x = (const uint8_t *)row + (size_t)(i0 / ORC_QK_K) * 210;

	for (uint32_t i = 0; i < n; i += ORC_QK_K, x += 210) {
		const float d = orc_cpu_f16((uint16_t)(x[208] | x[209] << 8));
		const int8_t *sc = (const int8_t *)(x + 192);
		for (int h = 0; h < 2; h++)
			for (int p = 0; p < 4; p++)
				for (int l = 0; l < 32; l += 8) {
					const __m256 dv = _mm256_set1_ps(d * (float)sc[8 * h + l / 16 + 2 * p]);
					const __m128i q = q6_k_quants(x + 64 * h, x + 128 + 32 * h, p, l);
					_mm256_storeu_ps(dst + i + 128 * h + 32 * p + l,
							 _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
				}
	}
}

static void avx2_dequant(enum orc_type type, const void *row, uint32_t i0, uint32_t n, float *dst)
{
	switch (type) {
	case ORC_TYPE_F32:
		memcpy(dst, (const float *)row + i0, (size_t)n * sizeof(float));
		break;
	case ORC_TYPE_F16:
		f16_row((const uint16_t *)row + i0, n, dst);
		break;
	case ORC_TYPE_BF16:
		bf16_row((const uint16_t *)row + i0, n, dst);
		break;
	case ORC_TYPE_Q8_0:
		q8_0_row(row, i0, n, dst);
		break;
	case ORC_TYPE_Q4_0:
		q4_0_row(row, i0, n, dst);
		break;
	case ORC_TYPE_Q4_K:
		q4_k_row(row, i0, n, dst);
		break;
	case ORC_TYPE_Q6_K:
		q6_k_row(row, i0, n, dst);
		break;
	default:
		orc_cpu_kern_generic.dequant(type, row, i0, n, dst);
		break;
	}
}

/* ---- matmul panel: ORC_CPU_MR rows x T tokens, one accumulator each ---- */

static ALWAYS_INLINE void mm_tile(const float *const w[ORC_CPU_MR], const float *const *x,
				  uint32_t n, float *acc, const int T)
{
	__m256 a[3][ORC_CPU_MR];

	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			a[t][r] = _mm256_loadu_ps(acc + (t * ORC_CPU_MR + r) * 8);
	/* 12 accumulators, the tokens' 3 vectors and one weight vector at a
	 * time: the 16 ymm registers exactly, so no accumulator is spilled
	 * (a spilled one puts a store and a reload into its FMA chain) */
	for (uint32_t j = 0; j < n; j += 8) {
		__m256 xv[3];
		UNROLL for (int t = 0; t < T; t++)
			xv[t] = _mm256_loadu_ps(x[t] + j);
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
			__m256 wv = _mm256_loadu_ps(w[r] + j);
			UNROLL for (int t = 0; t < T; t++)
				a[t][r] = _mm256_fmadd_ps(wv, xv[t], a[t][r]);
		}
	}
	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			_mm256_storeu_ps(acc + (t * ORC_CPU_MR + r) * 8, a[t][r]);
}

static void mm_tile1(const float *const w[ORC_CPU_MR], const float *const *x, uint32_t n, float *acc)
{
	mm_tile(w, x, n, acc, 1);
}

static void mm_tile2(const float *const w[ORC_CPU_MR], const float *const *x, uint32_t n, float *acc)
{
	mm_tile(w, x, n, acc, 2);
}

static void mm_tile3(const float *const w[ORC_CPU_MR], const float *const *x, uint32_t n, float *acc)
{
	mm_tile(w, x, n, acc, 3);
}

static void avx2_mm_chunk(const float *const w[ORC_CPU_MR], const float *const *x, uint32_t n_tok,
			  uint32_t n, float *acc)
{
	uint32_t t = 0;

	for (; t + 3 <= n_tok; t += 3)
		mm_tile3(w, x + t, n, acc + (size_t)t * ORC_CPU_MR * 8);
	if (n_tok - t == 2)
		mm_tile2(w, x + t, n, acc + (size_t)t * ORC_CPU_MR * 8);
	else if (n_tok - t == 1)
		mm_tile1(w, x + t, n, acc + (size_t)t * ORC_CPU_MR * 8);
}

/* ---- matmul panel straight from the stored rows (decode) ----
 * Each loader returns weights [j, j + 8) of a row as F32, the same values
 * the *_row dequantizers above store. */

static ALWAYS_INLINE __m256 w8_f16(const uint8_t *row, uint32_t j)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(row + 2 * (size_t)j)));
}

static ALWAYS_INLINE __m256 w8_bf16(const uint8_t *row, uint32_t j)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(row + 2 * (size_t)j)));
	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static ALWAYS_INLINE __m256 block_scale(const uint8_t *b)
{
	uint16_t h;
	memcpy(&h, b, 2);
	return _mm256_set1_ps(_cvtsh_ss(h));
}

/* Quants [8s, 8s + 8) of a 32-element block as F32 (not yet scaled). */
static ALWAYS_INLINE __m256 q8_0_sub(const uint8_t *b, int s)
{
	__m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(b + 2 + 8 * s));
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

static ALWAYS_INLINE __m256 q4_0_sub(const uint8_t *b, int s)
{
	__m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(b + 2 + 8 * (s & 1)));
	if (s >= 2)
		q = _mm_srli_epi16(q, 4);
	q = _mm_sub_epi8(_mm_and_si128(q, _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

typedef __m256 (*sub_fn)(const uint8_t *b, int s);

/* Like direct_tile for 32-element blocks with an F16 scale first: the
 * scale is read once per block, each weight is (float)q * d as in *_row. */
static ALWAYS_INLINE void direct_tile_b32(sub_fn sub, size_t bsize, const uint8_t *const rows[ORC_CPU_MR],
					  const float *const *x, uint32_t i0, uint32_t n, float *acc,
					  const int T)
{
	__m256 a[3][ORC_CPU_MR];

	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			a[t][r] = _mm256_loadu_ps(acc + (t * ORC_CPU_MR + r) * 8);
	for (uint32_t j = 0; j < n; j += 32) {
		const size_t off = (size_t)((i0 + j) / 32) * bsize;
		const uint8_t *b0 = rows[0] + off, *b1 = rows[1] + off, *b2 = rows[2] + off, *b3 = rows[3] + off;
		__m256 d0 = block_scale(b0), d1 = block_scale(b1), d2 = block_scale(b2), d3 = block_scale(b3);
		_mm_prefetch((const char *)b0 + PF_DIST, _MM_HINT_T0);
		_mm_prefetch((const char *)b1 + PF_DIST, _MM_HINT_T0);
		_mm_prefetch((const char *)b2 + PF_DIST, _MM_HINT_T0);
		_mm_prefetch((const char *)b3 + PF_DIST, _MM_HINT_T0);
		const uint8_t *const b[ORC_CPU_MR] = { b0, b1, b2, b3 };
		const __m256 d[ORC_CPU_MR] = { d0, d1, d2, d3 };
		UNROLL for (int s = 0; s < 4; s++) {
			__m256 xv[3];
			UNROLL for (int t = 0; t < T; t++)
				xv[t] = _mm256_loadu_ps(x[t] + j + 8 * s);
			UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
				__m256 wv = _mm256_mul_ps(sub(b[r], s), d[r]);
				UNROLL for (int t = 0; t < T; t++)
					a[t][r] = _mm256_fmadd_ps(wv, xv[t], a[t][r]);
			}
		}
	}
	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			_mm256_storeu_ps(acc + (t * ORC_CPU_MR + r) * 8, a[t][r]);
}

typedef __m256 (*w8_fn)(const uint8_t *row, uint32_t j);

static ALWAYS_INLINE void direct_tile(w8_fn ld, const uint8_t *const rows[ORC_CPU_MR],
				      const float *const *x, uint32_t i0, uint32_t n, float *acc,
				      const int T)
{
	__m256 a[3][ORC_CPU_MR];

	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			a[t][r] = _mm256_loadu_ps(acc + (t * ORC_CPU_MR + r) * 8);
	for (uint32_t j = 0; j < n; j += 8) {
		if (j % 32 == 0) {
			_mm_prefetch((const char *)rows[0] + 2 * (i0 + j) + PF_DIST, _MM_HINT_T0);
			_mm_prefetch((const char *)rows[1] + 2 * (i0 + j) + PF_DIST, _MM_HINT_T0);
			_mm_prefetch((const char *)rows[2] + 2 * (i0 + j) + PF_DIST, _MM_HINT_T0);
			_mm_prefetch((const char *)rows[3] + 2 * (i0 + j) + PF_DIST, _MM_HINT_T0);
		}
		__m256 xv[3];
		UNROLL for (int t = 0; t < T; t++)
			xv[t] = _mm256_loadu_ps(x[t] + j);
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
			__m256 wv = ld(rows[r], i0 + j);
			UNROLL for (int t = 0; t < T; t++)
				a[t][r] = _mm256_fmadd_ps(wv, xv[t], a[t][r]);
		}
	}
	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			_mm256_storeu_ps(acc + (t * ORC_CPU_MR + r) * 8, a[t][r]);
}

/* Every cache line of bytes [p, p + n) (a K-quant super-block spans 3 to
 * 5 lines; one prefetch a block left most of them to the hardware). */
static ALWAYS_INLINE void prefetch_span(const uint8_t *p, size_t n)
{
	const uintptr_t end = (uintptr_t)p + n - 1;

	for (uintptr_t a = (uintptr_t)p & ~(uintptr_t)63; a <= end; a += 64)
		_mm_prefetch((const char *)a, _MM_HINT_T0);
}

/* xb[r]: super-block k (bsize bytes) of row r, its lines PF_DIST ahead
 * prefetched. */
static ALWAYS_INLINE void super_blocks(const uint8_t *const rows[ORC_CPU_MR], uint32_t k, size_t bsize,
				       const uint8_t *xb[ORC_CPU_MR])
{
	UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
		xb[r] = rows[r] + (size_t)k * bsize;
		prefetch_span(xb[r] + PF_DIST, bsize);
	}
}

/* The lane accumulators acc[(t * ORC_CPU_MR + r) * 8 ..] as b[r][t]
 * (row-major, so that a row's T accumulators can be passed along). */
static ALWAYS_INLINE void rows_acc_load(const float *acc, __m256 b[ORC_CPU_MR][3], const int T)
{
	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			b[r][t] = _mm256_loadu_ps(acc + (t * ORC_CPU_MR + r) * 8);
}

static ALWAYS_INLINE void rows_acc_store(float *acc, __m256 b[ORC_CPU_MR][3], const int T)
{
	UNROLL for (int t = 0; t < T; t++)
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			_mm256_storeu_ps(acc + (t * ORC_CPU_MR + r) * 8, b[r][t]);
}

/* Group g (32 weights, elements e0 .. e0+31) of the 4 rows' Q4_K
 * super-blocks xb[r]: each weight d * scale * q - dmin * min exactly as
 * q4_k_row stores it, then mm_tile's FMA; the rows interleaved, so that
 * their accumulators are independent chains. hi: the group's quants are
 * the bytes' high nibbles. */
static ALWAYS_INLINE void q4_k_group(const uint8_t *const xb[ORC_CPU_MR], const float *const *x, uint32_t e0,
				     int g, const __m256 dv[ORC_CPU_MR], const __m256 mv[ORC_CPU_MR],
				     __m256 b[ORC_CPU_MR][3], const int T, const int hi)
{
	const __m128i low = _mm_set1_epi8(0x0F);

	UNROLL for (int k = 0; k < 32; k += 8) {
		__m256 xv[3];
		UNROLL for (int t = 0; t < T; t++)
			xv[t] = _mm256_loadu_ps(x[t] + e0 + k);
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
			__m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(xb[r] + 16 + 32 * (g / 2) + k));
			q = hi ? _mm_and_si128(_mm_srli_epi16(q, 4), low) : _mm_and_si128(q, low);
			const __m256 w = _mm256_sub_ps(_mm256_mul_ps(dv[r], _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q))),
						       mv[r]);
			UNROLL for (int t = 0; t < T; t++)
				b[r][t] = _mm256_fmadd_ps(w, xv[t], b[r][t]);
		}
	}
}

static ALWAYS_INLINE void direct_tile_q4_k(size_t bsize, const uint8_t *const rows[ORC_CPU_MR],
					   const float *const *x, uint32_t i0, uint32_t n, float *acc, const int T)
{
	__m256 b[ORC_CPU_MR][3];

	rows_acc_load(acc, b, T);
	for (uint32_t j = 0; j < n; j += ORC_QK_K) {
		const uint8_t *xb[ORC_CPU_MR];
		float d[ORC_CPU_MR], dmin[ORC_CPU_MR];
		super_blocks(rows, (i0 + j) / ORC_QK_K, bsize, xb);
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
			d[r] = orc_cpu_f16((uint16_t)(xb[r][0] | xb[r][1] << 8));
			dmin[r] = orc_cpu_f16((uint16_t)(xb[r][2] | xb[r][3] << 8));
		}
		for (int g = 0; g < 8; g += 2) {
			__m256 dv[ORC_CPU_MR], mv[ORC_CPU_MR];
			UNROLL for (int h = 0; h < 2; h++) {
				UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
					float sc, mn;
					q4_k_scale_min(g + h, xb[r] + 4, &sc, &mn);
					dv[r] = _mm256_set1_ps(d[r] * sc);
					mv[r] = _mm256_set1_ps(dmin[r] * mn);
				}
				if (h == 0)
					q4_k_group(xb, x, j + 32 * (uint32_t)g, g, dv, mv, b, T, 0);
				else
					q4_k_group(xb, x, j + 32 * (uint32_t)(g + 1), g + 1, dv, mv, b, T, 1);
			}
		}
	}
	rows_acc_store(acc, b, T);
}

/* Like direct_tile_q4_k for Q6_K's super-blocks (210 bytes), each weight
 * (d * scale) * q as q6_k_row stores it. */
static ALWAYS_INLINE void direct_tile_q6_k(size_t bsize, const uint8_t *const rows[ORC_CPU_MR],
					   const float *const *x, uint32_t i0, uint32_t n, float *acc, const int T)
{
	__m256 b[ORC_CPU_MR][3];

	rows_acc_load(acc, b, T);
	for (uint32_t j = 0; j < n; j += ORC_QK_K) {
		const uint8_t *xb[ORC_CPU_MR];
		float d[ORC_CPU_MR];
		super_blocks(rows, (i0 + j) / ORC_QK_K, bsize, xb);
		UNROLL for (int r = 0; r < ORC_CPU_MR; r++)
			d[r] = orc_cpu_f16((uint16_t)(xb[r][208] | xb[r][209] << 8));
		for (int h = 0; h < 2; h++)
			for (int p = 0; p < 4; p++)
				UNROLL for (int l = 0; l < 32; l += 8) {
					const uint32_t e = j + 128 * (uint32_t)h + 32 * (uint32_t)p + (uint32_t)l;
					__m256 xv[3];
					UNROLL for (int t = 0; t < T; t++)
						xv[t] = _mm256_loadu_ps(x[t] + e);
					UNROLL for (int r = 0; r < ORC_CPU_MR; r++) {
						const float dsc = d[r] * (float)((const int8_t *)(xb[r] + 192))[8 * h + l / 16 + 2 * p];
						const __m128i q = q6_k_quants(xb[r] + 64 * h, xb[r] + 128 + 32 * h, p, l);
						const __m256 w = _mm256_mul_ps(_mm256_set1_ps(dsc),
									       _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
						UNROLL for (int t = 0; t < T; t++)
							b[r][t] = _mm256_fmadd_ps(w, xv[t], b[r][t]);
					}
				}
	}
	rows_acc_store(acc, b, T);
}

#define DIRECT(NAME, TILE, ...)                                                             \
	static void NAME(const uint8_t *const rows[ORC_CPU_MR], const float *const *x,      \
			 uint32_t n_tok, uint32_t i0, uint32_t n, float *acc)               \
	{                                                                                   \
		if (n_tok == 1)                                                             \
			TILE(__VA_ARGS__, rows, x, i0, n, acc, 1);                          \
		else if (n_tok == 2)                                                        \
			TILE(__VA_ARGS__, rows, x, i0, n, acc, 2);                          \
		else                                                                        \
			TILE(__VA_ARGS__, rows, x, i0, n, acc, 3);                          \
	}

DIRECT(direct_f16, direct_tile, w8_f16)
DIRECT(direct_bf16, direct_tile, w8_bf16)
DIRECT(direct_q8_0, direct_tile_b32, q8_0_sub, sizeof(struct q8_0_block))
DIRECT(direct_q4_0, direct_tile_b32, q4_0_sub, sizeof(struct q4_0_block))
DIRECT(direct_q4_k, direct_tile_q4_k, 144)
DIRECT(direct_q6_k, direct_tile_q6_k, 210)


static bool avx2_mm_direct(enum orc_type type, const uint8_t *const rows[ORC_CPU_MR],
			   const float *const *x, uint32_t n_tok, uint32_t i0, uint32_t n, float *acc)
{
	switch (type) {
	case ORC_TYPE_F16: direct_f16(rows, x, n_tok, i0, n, acc); return true;
	case ORC_TYPE_BF16: direct_bf16(rows, x, n_tok, i0, n, acc); return true;
	case ORC_TYPE_Q8_0: direct_q8_0(rows, x, n_tok, i0, n, acc); return true;
	case ORC_TYPE_Q4_0: direct_q4_0(rows, x, n_tok, i0, n, acc); return true;
	case ORC_TYPE_Q4_K: direct_q4_k(rows, x, n_tok, i0, n, acc); return true;
	case ORC_TYPE_Q6_K: direct_q6_k(rows, x, n_tok, i0, n, acc); return true;
	default: return false;
	}
}

/* Canonical dot products of q with up to 8 rows at once: each row keeps
 * its own lane accumulators (8 independent FMA chains instead of one). */
static void avx2_dots(const float *q, const float *const *rows, uint32_t n_rows, uint32_t n, float *out)
{
	const uint32_t n8 = n & ~7u;
	float lanes[8][8];

	for (uint32_t r0 = 0; r0 < n_rows; r0 += 8) {
		const uint32_t m = n_rows - r0 < 8 ? n_rows - r0 : 8;
		const float *const *rr = rows + r0;
		__m256 acc[8];
		UNROLL8 for (int r = 0; r < 8; r++)
			acc[r] = _mm256_setzero_ps();
		if (m == 8) {
			for (uint32_t j = 0; j < n8; j += 8) {
				__m256 qv = _mm256_loadu_ps(q + j);
				UNROLL8 for (int r = 0; r < 8; r++)
					acc[r] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(rr[r] + j), acc[r]);
			}
		} else {
			for (uint32_t r = 0; r < m; r++)
				for (uint32_t j = 0; j < n8; j += 8)
					acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(rr[r] + j), acc[r]);
		}
		UNROLL8 for (int r = 0; r < 8; r++)
			_mm256_storeu_ps(lanes[r], acc[r]);
		for (uint32_t r = 0; r < m; r++) {
			float s = orc_cpu_hsum8(lanes[r]);
			for (uint32_t j = n8; j < n; j++)
				s = s + q[j] * rr[r][j];
			out[r0 + r] = s;
		}
	}
}

/* y += w[r] * rows[r], row after row, 64 elements of y kept in registers
 * while every row passes. */
static void avx2_wsum(const float *w, const float *const *rows, uint32_t n_rows, uint32_t n, float *y)
{
	uint32_t i = 0;

	for (; i + 64 <= n; i += 64) {
		__m256 acc[8];
		UNROLL8 for (int k = 0; k < 8; k++)
			acc[k] = _mm256_loadu_ps(y + i + 8 * k);
		for (uint32_t r = 0; r < n_rows; r++) {
			const __m256 av = _mm256_set1_ps(w[r]);
			UNROLL8 for (int k = 0; k < 8; k++)
				acc[k] = _mm256_fmadd_ps(av, _mm256_loadu_ps(rows[r] + i + 8 * k), acc[k]);
		}
		UNROLL8 for (int k = 0; k < 8; k++)
			_mm256_storeu_ps(y + i + 8 * k, acc[k]);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 acc = _mm256_loadu_ps(y + i);
		for (uint32_t r = 0; r < n_rows; r++)
			acc = _mm256_fmadd_ps(_mm256_set1_ps(w[r]), _mm256_loadu_ps(rows[r] + i), acc);
		_mm256_storeu_ps(y + i, acc);
	}
	for (; i < n; i++)
		for (uint32_t r = 0; r < n_rows; r++)
			y[i] = fmaf(w[r], rows[r][i], y[i]);
}

const struct orc_cpu_kern orc_cpu_kern_avx2 = {
	.name = "avx2",
	.dequant = avx2_dequant,
	.mm_chunk = avx2_mm_chunk,
	.mm_direct = avx2_mm_direct,
	.dots = avx2_dots,
	.wsum = avx2_wsum,
};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* HAVE_AVX2_COMPILER */
