/* cpu_kernels.c -- the portable kernel set (plain C, any CPU) and the
 * run-time choice between it and the AVX2 set (see cpu_kernels.h). Types
 * without a dedicated loop here are dequantized by orc_dequant_row. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_AVX2_COMPILER
#include <cpuid.h>
#endif

#include "cpu_kernels.h"

/* ---- dequantization ---- */

struct q8_0_block { uint16_t d; int8_t qs[32]; };
struct q4_0_block { uint16_t d; uint8_t qs[16]; };

static void dequant_q8_0(const void *row, uint32_t i0, uint32_t n, float *dst)
{
	const struct q8_0_block *b = (const struct q8_0_block *)row + i0 / 32;

	for (uint32_t i = 0; i < n; i += 32, b++) {
		float d = orc_cpu_f16(b->d);
		for (int j = 0; j < 32; j++)
			dst[i + j] = (float)b->qs[j] * d;
	}
}

static void dequant_q4_0(const void *row, uint32_t i0, uint32_t n, float *dst)
{
	const struct q4_0_block *b = (const struct q4_0_block *)row + i0 / 32;

	for (uint32_t i = 0; i < n; i += 32, b++) {
		float d = orc_cpu_f16(b->d);
		for (int j = 0; j < 16; j++) {
			dst[i + j] = (float)((b->qs[j] & 0x0F) - 8) * d;
			dst[i + j + 16] = (float)((b->qs[j] >> 4) - 8) * d;
		}
	}
}

/* Any other type through the reference dequantizer, on whole blocks. */
static void dequant_ref(enum orc_type type, const void *row, uint32_t i0, uint32_t n, float *dst)
{
	const struct orc_type_info *ti = orc_type_info(type);
	const uint8_t *src = (const uint8_t *)row + (uint64_t)(i0 / ti->block_elems) * ti->block_bytes;

	orc_dequant_row(type, src, dst, n);
}

static void generic_dequant(enum orc_type type, const void *row, uint32_t i0, uint32_t n,
			    float *dst)
{
	switch (type) {
	case ORC_TYPE_F32:
		memcpy(dst, (const float *)row + i0, (size_t)n * sizeof(float));
		break;
	case ORC_TYPE_F16:
		for (uint32_t i = 0; i < n; i++)
			dst[i] = orc_cpu_f16(((const uint16_t *)row)[i0 + i]);
		break;
	case ORC_TYPE_BF16:
		for (uint32_t i = 0; i < n; i++)
			dst[i] = orc_cpu_bf16(((const uint16_t *)row)[i0 + i]);
		break;
	case ORC_TYPE_Q8_0:
		dequant_q8_0(row, i0, n, dst);
		break;
	case ORC_TYPE_Q4_0:
		dequant_q4_0(row, i0, n, dst);
		break;
	default:
		dequant_ref(type, row, i0, n, dst);
		break;
	}
}

/* ---- dot products (multiply then add: no FMA in the portable set) ---- */

static void generic_mm_chunk(const float *const w[ORC_CPU_MR], const float *const *x,
			     uint32_t n_tok, uint32_t n, float *acc)
{
	for (uint32_t t = 0; t < n_tok; t++) {
		for (int r = 0; r < ORC_CPU_MR; r++) {
			float *a = acc + ((size_t)t * ORC_CPU_MR + (size_t)r) * 8;
			const float *wr = w[r], *xt = x[t];
			for (uint32_t j = 0; j < n; j += 8)
				for (int l = 0; l < 8; l++)
					a[l] = a[l] + wr[j + l] * xt[j + l];
		}
	}
}

static float generic_dot(const float *a, const float *b, uint32_t n)
{
	float acc[8] = { 0 };
	uint32_t n8 = n & ~7u;
	float s;

	for (uint32_t j = 0; j < n8; j += 8)
		for (int l = 0; l < 8; l++)
			acc[l] = acc[l] + a[j + l] * b[j + l];
	s = orc_cpu_hsum8(acc);
	for (uint32_t j = n8; j < n; j++)
		s = s + a[j] * b[j];
	return s;
}

static void generic_dots(const float *q, const float *const *rows, uint32_t n_rows, uint32_t n, float *out)
{
	for (uint32_t r = 0; r < n_rows; r++)
		out[r] = generic_dot(q, rows[r], n);
}

static void generic_wsum(const float *w, const float *const *rows, uint32_t n_rows, uint32_t n, float *y)
{
	for (uint32_t r = 0; r < n_rows; r++)
		for (uint32_t i = 0; i < n; i++)
			y[i] = y[i] + w[r] * rows[r][i];
}

const struct orc_cpu_kern orc_cpu_kern_generic = {
	.name = "generic",
	.dequant = generic_dequant,
	.mm_chunk = generic_mm_chunk,
	.dots = generic_dots,
	.wsum = generic_wsum,
};

#ifdef HAVE_AVX2_COMPILER
/* F16C from CPUID leaf 1, ECX bit 29 (not every compiler's
 * __builtin_cpu_supports knows "f16c"). */
static bool cpu_has_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
#endif

const struct orc_cpu_kern *orc_cpu_kern_select(void)
{
	const char *force = getenv("ORC_CPU_SIMD");

	if (force && strcmp(force, "generic") == 0)
		return &orc_cpu_kern_generic;
#ifdef HAVE_AVX2_COMPILER
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c())
		return &orc_cpu_kern_avx2;
#endif
	return &orc_cpu_kern_generic;
}
