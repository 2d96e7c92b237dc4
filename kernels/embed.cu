/* embed.cu -- embedding gather: one row of a (possibly quantized) table per
 * token, dequantized to F32; optionally added (learned position rows).
 * Also the small type queries of kernels.h. */
#include "kcommon.cuh"

extern "C" int orc_k_type_block(int type)
{
	switch (type) {
	case ORC_KT_F32: case ORC_KT_F16: case ORC_KT_BF16: return 1;
	case ORC_KT_Q8_0: case ORC_KT_Q4_0: return 32;
	case ORC_KT_Q4_K: case ORC_KT_Q6_K: return QK_K;
	default: return 0;
	}
}

extern "C" int64_t orc_k_row_bytes(int type, int64_t n)
{
	int b = orc_k_type_block(type);
	if (b == 0 || n % b)
		return -1;
	return k_row_bytes(type, n);
}

/* grid (n_tok, column blocks), block 256 */
__global__ void k_embed(float *out, int ldo, const uint8_t *table, int type, int64_t row_len,
			int64_t row_bytes, const int32_t *ids, int accumulate)
{
	int t = blockIdx.x;
	int64_t c = (int64_t)blockIdx.y * blockDim.x + threadIdx.x;
	if (c >= row_len)
		return;
	const uint8_t *row = table + (int64_t)ids[t] * row_bytes;
	float v = k_dequant_elem(row, type, c);
	float *o = out + (int64_t)t * ldo + c;
	*o = accumulate ? *o + v : v;
}

extern "C" cudaError_t orc_k_embed(float *out, int ldo, const void *table, int type, int64_t row_len,
				   const int32_t *ids, int n_tok, int accumulate, cudaStream_t stream)
{
	int64_t rb = orc_k_row_bytes(type, row_len);
	if (rb < 0 || n_tok < 0 || ldo < row_len)
		return cudaErrorInvalidValue;
	if (n_tok == 0)
		return cudaSuccess;
	dim3 grid(n_tok, k_cdiv(row_len, 256));
	k_embed<<<grid, 256, 0, stream>>>(out, ldo, (const uint8_t *)table, type, row_len, rb, ids,
					  accumulate);
	return cudaGetLastError();
}
