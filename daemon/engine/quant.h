/* quant.h -- ggml tensor types: sizes, names and dequantization to F32.
 * Block layouts follow ggml's (ggml-common.h). Library code. */
#ifndef ORC_QUANT_H
#define ORC_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Numbered as ggml numbers them; these values appear in GGUF files. */
enum orc_type {
	ORC_TYPE_F32 = 0, ORC_TYPE_F16 = 1, ORC_TYPE_Q4_0 = 2, ORC_TYPE_Q4_1 = 3,
	ORC_TYPE_Q5_0 = 6, ORC_TYPE_Q5_1 = 7, ORC_TYPE_Q8_0 = 8, ORC_TYPE_Q8_1 = 9,
	ORC_TYPE_Q2_K = 10, ORC_TYPE_Q3_K = 11, ORC_TYPE_Q4_K = 12, ORC_TYPE_Q5_K = 13,
	ORC_TYPE_Q6_K = 14, ORC_TYPE_Q8_K = 15,
	ORC_TYPE_IQ2_XXS = 16, ORC_TYPE_IQ2_XS = 17, ORC_TYPE_IQ3_XXS = 18, ORC_TYPE_IQ1_S = 19,
	ORC_TYPE_IQ4_NL = 20, ORC_TYPE_IQ3_S = 21, ORC_TYPE_IQ2_S = 22, ORC_TYPE_IQ4_XS = 23,
	ORC_TYPE_I8 = 24, ORC_TYPE_I16 = 25, ORC_TYPE_I32 = 26, ORC_TYPE_I64 = 27,
	ORC_TYPE_F64 = 28, ORC_TYPE_IQ1_M = 29, ORC_TYPE_BF16 = 30,
	ORC_TYPE_TQ1_0 = 34, ORC_TYPE_TQ2_0 = 35,
	ORC_TYPE_MXFP4 = 39, ORC_TYPE_NVFP4 = 40, ORC_TYPE_Q1_0 = 41, ORC_TYPE_Q2_0 = 42,
	ORC_TYPE_COUNT = 43   /* 4, 5, 31-33 and 36-38 are retired numbers: not valid */
};

#define ORC_QK_K 256

struct orc_type_info {
	const char *name;        /* "Q4_K" */
	uint32_t block_elems;    /* elements per block (1 for plain types) */
	uint32_t block_bytes;    /* bytes per block */
	bool dequant;            /* orc_dequant_row() supports it */
};

/* NULL for a type number ggml does not define. */
const struct orc_type_info *orc_type_info(uint32_t type);
/* Bytes for n elements; 0 when n is not a multiple of the block. */
uint64_t orc_type_row_bytes(enum orc_type type, uint64_t n);

/* Dequantize n elements (a multiple of the block size) into dst.
 * Returns 0, or -ENOTSUP for a type without dequantization, -EINVAL for a bad n.
 * src needs no alignment. Results equal ggml's dequantize_row_* bit for bit. */
int orc_dequant_row(enum orc_type type, const void *src, float *dst, uint64_t n);
/* Name of a type number, or "?" for one ggml does not define. */
const char *orc_type_name(uint32_t type);

float orc_f16_to_f32(uint16_t h);
uint16_t orc_f32_to_f16(float f);      /* round to nearest even */
float orc_bf16_to_f32(uint16_t h);
uint16_t orc_f32_to_bf16(float f);     /* round to nearest even */

#endif
