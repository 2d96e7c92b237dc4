/* mm.cuh -- the tensor-core matrix product (mm.cu) behind orc_k_gemv_multi():
 * gemv.cu sends it every product whose weight type and K it takes. */
#ifndef ORC_MM_CUH
#define ORC_MM_CUH

#include "kernels.h"

/* F16, Q8_0 or Q4_0 weights, K a multiple of 32, a GPU of compute
 * capability 8.0 or newer: the product runs on the tensor cores. The answer
 * depends on the type and K only, so a given product always takes the same
 * path (and arithmetic) whatever the batch. */
extern "C" bool orc_k_mm_usable(int wtype, int K);
/* As orc_k_gemv_multi(), for arguments it has already checked. */
extern "C" cudaError_t orc_k_mm_multi(const struct orc_k_gemv *a, int n, cudaStream_t stream);

#endif
