/* quantize.h -- F32 to the weight types mkmodel writes: F32, F16, BF16,
 * Q8_0, Q4_0, Q4_K and Q6_K, following ggml's reference quantizers
 * (quantize_row_*_ref) so the blocks are what llama.cpp would write.
 * Test-tool code: it is not part of the engine, which only dequantizes. */
#ifndef ORC_TOOLS_QUANTIZE_H
#define ORC_TOOLS_QUANTIZE_H

#include <stdint.h>

#include "quant.h"

/* Does orc_quantize_row() support the type? */
bool orc_quantize_supported(enum orc_type type);

/* Quantize src [n] into dst (orc_type_row_bytes(type, n) bytes). n must be a
 * multiple of the type's block (-EINVAL); other types are -ENOTSUP. */
int orc_quantize_row(enum orc_type type, const float *src, void *dst, uint64_t n);

#endif
