/* cudatest.h -- helpers for the CUDA suites: skip (77) without a usable GPU,
 * device buffers from host arrays, random data (including valid quantized
 * blocks) and reference dequantization written from ggml's block layouts.
 * Tests only; every CUDA failure is a test failure. */
#ifndef ORC_CUDATEST_H
#define ORC_CUDATEST_H

#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime_api.h>

/* Exit 77 with a message when no CUDA device can be used. */
void ct_require_gpu(void);

/* ck_assert on a CUDA status, naming the statement. */
#define CT_OK(stmt) ct_ok((stmt), #stmt, __FILE__, __LINE__)
void ct_ok(cudaError_t e, const char *what, const char *file, int line);

void *ct_dup(const void *host, size_t bytes);        /* device copy */
void *ct_alloc(size_t bytes);                        /* device, filled with 0xff (NaN floats) */
void ct_get(void *host, const void *dev, size_t bytes); /* synchronizes */
void ct_free(void *dev);

/* xorshift random numbers */
void ct_seed(uint64_t s);
uint32_t ct_u32(void);
float ct_uniform(float lo, float hi);

uint16_t ct_f2h(float f);
float ct_h2f(uint16_t h);
uint16_t ct_f2bf(float f);
float ct_bf2f(uint16_t h);

/* Random weights: n_rows rows of row_len elements of `type` (a kernels.h
 * ORC_KT_* type), values of magnitude about `scale`. Returns malloc'ed bytes
 * and their size. The random helpers assert nothing through check, so
 * benchmarks may use them outside a test. */
void *ct_rand_weights(int type, int64_t n_rows, int64_t row_len, float scale, size_t *ret_bytes);
/* Reference dequantization of one row (double precision out). */
void ct_dequant_row(int type, const void *row, int64_t n, double *out);
size_t ct_row_bytes(int type, int64_t n);

#endif
