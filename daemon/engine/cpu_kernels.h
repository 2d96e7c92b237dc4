/* cpu_kernels.h -- the CPU backend's inner loops: row dequantization into
 * F32 and the F32 dot-product kernels that matmul and attention use. Two
 * sets, portable C and AVX2/FMA/F16C, chosen once at run time.
 *
 * The canonical dot product of n elements (every kernel follows it, so a
 * result never depends on which caller or tile computed it): 8 lane
 * accumulators, lane l summing products j = l, l+8, ... < n8 = n & ~7 in
 * order (FMA in the AVX2 set, multiply then add in the portable one); then
 * orc_cpu_hsum8(); then the tail j = n8..n-1 added in order, multiply then add. */
#ifndef ORC_CPU_KERNELS_H
#define ORC_CPU_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "quant.h"

#define ORC_CPU_MR 4      /* weight rows per matmul panel */

struct orc_cpu_kern {
	const char *name;                  /* "avx2", "generic" */
	/* Elements [i0, i0 + n) of a weight row of `type` into dst, exactly the
	 * values orc_dequant_row gives. i0 and n are multiples of the block
	 * (n may end at the row's end). */
	void (*dequant)(enum orc_type type, const void *row, uint32_t i0, uint32_t n, float *dst);
	/* acc[(t * ORC_CPU_MR + r) * 8 + l] continues the canonical lane sums of
	 * w[r] . x[t] over n elements (a multiple of 8), t < n_tok, r < ORC_CPU_MR. */
	void (*mm_chunk)(const float *const w[ORC_CPU_MR], const float *const *x, uint32_t n_tok,
			 uint32_t n, float *acc);
	/* OPTIONAL (NULL in the portable set): the same lane sums as mm_chunk
	 * over elements [i0, i0 + n) (multiples of 8 and of the block) of the
	 * stored rows, dequantized in registers instead of through scratch, for
	 * 1 <= n_tok <= 3 (decode); x[t] points at token t's element i0.
	 * Returns false for a type it does not handle. */
	bool (*mm_direct)(enum orc_type type, const uint8_t *const rows[ORC_CPU_MR],
			  const float *const *x, uint32_t n_tok, uint32_t i0, uint32_t n, float *acc);
	/* out[r] = the canonical dot product of q and rows[r] (n elements),
	 * r < n_rows: attention's scores. */
	void (*dots)(const float *q, const float *const *rows, uint32_t n_rows, uint32_t n, float *out);
	/* For r = 0, 1, ... n_rows - 1 in turn: y[i] = y[i] + w[r] * rows[r][i]
	 * (FMA in the AVX2 set), i < n: attention's weighted sum of V rows. */
	void (*wsum)(const float *w, const float *const *rows, uint32_t n_rows, uint32_t n, float *y);
};

extern const struct orc_cpu_kern orc_cpu_kern_generic;
#ifdef HAVE_AVX2_COMPILER
extern const struct orc_cpu_kern orc_cpu_kern_avx2;
#endif

/* The best set this CPU runs (ORC_CPU_SIMD=generic in the environment forces
 * the portable one, for tests). */
const struct orc_cpu_kern *orc_cpu_kern_select(void);

/* The fixed horizontal sum of 8 lanes: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). */
static inline float orc_cpu_hsum8(const float *l)
{
	float a0 = l[0] + l[4], a1 = l[1] + l[5], a2 = l[2] + l[6], a3 = l[3] + l[7];
	return (a0 + a2) + (a1 + a3);
}

/* Exact half -> float (all values, subnormals, inf and NaN). */
static inline float orc_cpu_f16(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
	union { uint32_t u; float f; } v;

	if (e == 0 && m == 0) {
		v.u = sign;
	} else if (e == 0) {            /* subnormal: m * 2^-24, renormalised */
		int s = 0;
		while (!(m & 0x400u)) {
			m <<= 1;
			s++;
		}
		v.u = sign | ((uint32_t)(113 - s) << 23) | ((m & 0x3ffu) << 13);
	} else if (e == 31) {
		v.u = sign | 0x7f800000u | (m << 13);
	} else {
		v.u = sign | ((e + 112) << 23) | (m << 13);
	}
	return v.f;
}

static inline float orc_cpu_bf16(uint16_t h)
{
	union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
	return v.f;
}

#endif
