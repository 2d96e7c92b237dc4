/* check_quantize.c -- mkmodel's quantizers against the engine's
 * dequantization: orc_dequant_row(quantize(x)) is close to x within the
 * error each format allows, and exact where the format can hold x exactly. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "quantize.h"
#include "rng.h"
#include "testutil.h"

static void gaussian(float *x, size_t n, uint64_t seed)
{
	struct orc_rng r;

	orc_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i += 2) {
		double u1 = 1.0 - orc_rng_uniform(&r), u2 = orc_rng_uniform(&r);
		x[i] = (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
		x[i + 1] = (float)(sqrt(-2.0 * log(u1)) * sin(2.0 * M_PI * u2));
	}
}

/* Quantize and dequantize x [n]; y gets the result. */
static void round_trip(enum orc_type t, const float *x, float *y, size_t n)
{
	uint64_t bytes = orc_type_row_bytes(t, n);
	void *q = malloc(bytes);

	ck_assert_uint_gt(bytes, 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(orc_quantize_row(t, x, q, n), 0);
	ck_assert_int_eq(orc_dequant_row(t, q, y, n), 0);
	free(q);
}

/* Per block of `blk` elements: |x - y| <= factor * amax(block). */
static void expect_block_bound(const float *x, const float *y, size_t n, size_t blk, double factor)
{
	for (size_t b = 0; b < n; b += blk) {
		double amax = 0;
		for (size_t i = b; i < b + blk; i++)
			amax = fmax(amax, fabs(x[i]));
		for (size_t i = b; i < b + blk; i++)
			ck_assert_msg(fabs(x[i] - y[i]) <= factor * amax + 1e-12,
				      "element %zu: %g -> %g (block amax %g)", i, x[i], y[i], amax);
	}
}

/* The RMS of the error under bound times the RMS of x. */
static void expect_rel_rms(const float *x, const float *y, size_t n, double bound)
{
	double se = 0, sx = 0;

	for (size_t i = 0; i < n; i++) {
		se += (x[i] - y[i]) * (x[i] - y[i]);
		sx += x[i] * x[i];
	}
	ck_assert_msg(sqrt(se / sx) < bound, "relative RMS error %g", sqrt(se / sx));
}

enum { N = 4096 };

START_TEST(test_q8_0)
{
	/* d = amax / 127 stored as f16: error <= d/2 + 127 * |d - f16(d)| < 0.6 d. */
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));

	gaussian(x, N, 1);
	round_trip(ORC_TYPE_Q8_0, x, y, N);
	expect_block_bound(x, y, N, 32, 0.6 / 127.0);
	free(x);
	free(y);
}
END_TEST

START_TEST(test_q4_0)
{
	/* d = -max / 8 (max: the element of largest magnitude, signed), q = x/d + 8
	 * clamped to 15: the opposite extreme may be off by a whole step d. */
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
	float ex[32], ey[32];

	gaussian(x, N, 2);
	round_trip(ORC_TYPE_Q4_0, x, y, N);
	expect_block_bound(x, y, N, 32, 1.01 / 8.0);
	/* Integers in [-8, 7] with -8 present: d = 1, exact (checks nibble order). */
	for (int j = 0; j < 32; j++)
		ex[j] = (float)((j * 7 + 3) % 16 - 8);
	ex[5] = -8.0f;
	round_trip(ORC_TYPE_Q4_0, ex, ey, 32);
	for (int j = 0; j < 32; j++)
		ck_assert_msg(ey[j] == ex[j], "element %d: %g -> %g", j, ex[j], ey[j]);
	free(x);
	free(y);
}
END_TEST

START_TEST(test_q4_k)
{
	/* 4-bit levels with a 6-bit scale and min per 32 elements: for Gaussian
	 * data the RMS error stays under 0.1 of the RMS (a wrong layout gives ~1). */
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
	float ex[256], ey[256];

	gaussian(x, N, 3);
	round_trip(ORC_TYPE_Q4_K, x, y, N);
	expect_rel_rms(x, y, N, 0.1);
	expect_block_bound(x, y, N, 32, 0.25);
	/* Sub-blocks of integers 0..15 (offset -3 in the odd ones): representable
	 * up to the f16 rounding of d = 1/63 and dmin = 3/63, i.e. within 0.01. */
	for (int j = 0; j < 256; j++)
		ex[j] = (float)((j * 5) % 16 - ((j / 32) % 2 ? 3 : 0));
	round_trip(ORC_TYPE_Q4_K, ex, ey, 256);
	for (int j = 0; j < 256; j++)
		ck_assert_msg(fabsf(ey[j] - ex[j]) < 0.01f, "element %d: %g -> %g", j, ex[j], ey[j]);
	free(x);
	free(y);
}
END_TEST

START_TEST(test_q6_k)
{
	/* 6-bit levels with an 8-bit scale per 16 elements: for Gaussian data
	 * the RMS error stays under 0.03 of the RMS (a wrong layout gives ~1). */
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));

	gaussian(x, N, 4);
	round_trip(ORC_TYPE_Q6_K, x, y, N);
	expect_rel_rms(x, y, N, 0.03);
	expect_block_bound(x, y, N, 16, 0.05);
	free(x);
	free(y);
}
END_TEST

START_TEST(test_f16_bf16_f32)
{
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));

	gaussian(x, N, 4);
	round_trip(ORC_TYPE_F16, x, y, N);
	for (size_t i = 0; i < N; i++)   /* normal range: relative 2^-11; subnormal: 2^-25 */
		ck_assert(fabs(x[i] - y[i]) <= fabs(x[i]) * 0x1p-11 + 0x1p-25);
	round_trip(ORC_TYPE_BF16, x, y, N);
	for (size_t i = 0; i < N; i++)
		ck_assert(fabs(x[i] - y[i]) <= fabs(x[i]) * 0x1p-8);
	round_trip(ORC_TYPE_F32, x, y, N);
	ck_assert(memcmp(x, y, N * sizeof(float)) == 0);
	free(x);
	free(y);
}
END_TEST

START_TEST(test_rejects)
{
	float x[256] = { 0 };
	uint8_t q[1024];

	ck_assert_int_eq(orc_quantize_row(ORC_TYPE_Q5_K, x, q, 256), -ENOTSUP);
	ck_assert_int_eq(orc_quantize_row(ORC_TYPE_Q8_0, x, q, 33), -EINVAL);
	ck_assert_int_eq(orc_quantize_row(ORC_TYPE_Q4_K, x, q, 128), -EINVAL);
	ck_assert(!orc_quantize_supported(ORC_TYPE_Q5_K));
	/* All zeros stay zeros. */
	float y[256];
	round_trip(ORC_TYPE_Q4_K, x, y, 256);
	for (int i = 0; i < 256; i++)
		ck_assert(y[i] == 0.0f);
	round_trip(ORC_TYPE_Q6_K, x, y, 256);
	for (int i = 0; i < 256; i++)
		ck_assert(y[i] == 0.0f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("quantize");
	TCase *tc = tcase_create("round_trip");

	tcase_add_test(tc, test_q8_0);
	tcase_add_test(tc, test_q4_0);
	tcase_add_test(tc, test_q4_k);
	tcase_add_test(tc, test_q6_k);
	tcase_add_test(tc, test_f16_bf16_f32);
	tcase_add_test(tc, test_rejects);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
