/* rows.cu -- row gather and scatter: get_rows (embedding lookup and row
 * selection, dequantizing any weight type to F32) and set_rows (K/V rows
 * into the cache). Also the small type queries of kernels.h. */
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
__global__ void k_get_rows(float *out, int ldo, const uint8_t *table, int type, int64_t row_len,
			   int64_t stride, int64_t n_rows, const int32_t *ids, int accumulate, int *flag)
{
	k_dep_wait();
	int t = blockIdx.x;
	int64_t c = (int64_t)blockIdx.y * blockDim.x + threadIdx.x;
	int32_t id = ids[t];
	if (id < 0 || id >= n_rows) {
		if (flag && c == 0)
			atomicOr(flag, ORC_K_BAD_INDEX);
		return;
	}
	if (c >= row_len)
		return;
	float v = k_dequant_elem(table + (int64_t)id * stride, type, c);
	float *o = out + (int64_t)t * ldo + c;
	*o = accumulate ? *o + v : v;
}

extern "C" cudaError_t orc_k_get_rows(float *out, int ldo, const void *table, int type, int64_t row_len,
				      int64_t table_stride, int64_t n_rows, const int32_t *ids, int n_tok,
				      int accumulate, int *flag, cudaStream_t stream)
{
	int64_t rb = orc_k_row_bytes(type, row_len);
	if (rb < 0 || table_stride < rb || n_tok < 0 || n_tok > 65535 * 1024 || ldo < row_len)
		return cudaErrorInvalidValue;
	/* elements are read at their natural alignment (quant blocks: 2 bytes) */
	int align = type == ORC_KT_F32 ? 4 : 2;
	if (table_stride % align || (uintptr_t)table % align)
		return cudaErrorInvalidValue;
	if (n_tok == 0 || row_len == 0)
		return cudaSuccess;
	dim3 grid(n_tok, k_cdiv(row_len, 256));
	k_launch(k_get_rows, grid, 256, 0, stream, out, ldo, (const uint8_t *)table, type, row_len, table_stride,
		 n_rows, ids, accumulate, flag);
	return cudaGetLastError();
}

template <typename T>
__global__ void k_set_rows(T *dst, int64_t lddst, int64_t n_dst, const float *src, int ldsrc,
			   const int32_t *idx, int row_len, int *flag)
{
	k_dep_wait();
	int i = blockIdx.x;
	int64_t r = idx[i];
	if (r < 0 || r >= n_dst) {
		if (flag && threadIdx.x == 0)
			atomicOr(flag, ORC_K_BAD_INDEX);
		return;
	}
	for (int c = threadIdx.x; c < row_len; c += blockDim.x) {
		float v = src[(int64_t)i * ldsrc + c];
		if (sizeof(T) == 2)
			((__half *)dst)[r * lddst + c] = __float2half_rn(v);
		else
			((float *)dst)[r * lddst + c] = v;
	}
}

extern "C" cudaError_t orc_k_set_rows(void *dst, int dst_type, int64_t lddst, int64_t n_dst, const float *src,
				      int ldsrc, const int32_t *idx, int n, int row_len, int *flag,
				      cudaStream_t stream)
{
	if (n < 0 || row_len < 0 || lddst < row_len || ldsrc < row_len || n > 2147483647)
		return cudaErrorInvalidValue;
	if (n == 0 || row_len == 0)
		return cudaSuccess;
	if (dst_type == ORC_KT_F32)
		k_launch(k_set_rows<float>, n, 128, 0, stream, (float *)dst, lddst, n_dst, src, ldsrc, idx, row_len,
			 flag);
	else if (dst_type == ORC_KT_F16)
		k_launch(k_set_rows<__half>, n, 128, 0, stream, (__half *)dst, lddst, n_dst, src, ldsrc, idx, row_len,
			 flag);
	else
		return cudaErrorInvalidValue;
	return cudaGetLastError();
}
