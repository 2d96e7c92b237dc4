/* convert.cu -- dequantize or convert a weight matrix to a dense activation
 * type (F32/F16/BF16): the operand of cuBLAS GEMMs for quantized weights. */
#include "kcommon.cuh"

/* grid (column blocks, rows), block 256 */
template <int OT>
__global__ void k_convert(void *out, const uint8_t *w, int wtype, int64_t row_len, int64_t row_bytes)
{
	k_dep_wait();
	int64_t r = blockIdx.y;
	int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= row_len)
		return;
	k_store<OT>(out, r * row_len + c, k_dequant_elem(w + r * row_bytes, wtype, c));
}

extern "C" cudaError_t orc_k_convert(void *out, int otype, const void *w, int wtype, int64_t n_rows,
				     int64_t row_len, cudaStream_t stream)
{
	int64_t rb = orc_k_row_bytes(wtype, row_len);
	if (rb < 0 || n_rows < 0 || n_rows > 65535L * 1024)
		return cudaErrorInvalidValue;
	if (n_rows == 0 || row_len == 0)
		return cudaSuccess;
	/* gridDim.y is limited to 65535: walk the rows in slabs */
	for (int64_t r0 = 0; r0 < n_rows; r0 += 65535) {
		int64_t nr = n_rows - r0 < 65535 ? n_rows - r0 : 65535;
		dim3 grid(k_cdiv(row_len, 256), (unsigned)nr);
		size_t esz = otype == ORC_KT_F32 ? 4 : 2;
		void *o = (char *)out + (size_t)(r0 * row_len) * esz;
		const uint8_t *src = (const uint8_t *)w + r0 * rb;
		K_DISPATCH_OT(otype, k_convert, grid, 256, 0, stream, o, src, wtype, row_len, rb);
	}
	return cudaGetLastError();
}
