/* backend_cuda_mem.c -- the CUDA backend's memory: device buffers with the
 * bytes of each usage accounted, and host<->device copies. Large uploads
 * (the weights, once at load) go through two pinned staging buffers so that
 * copying chunk k+1 into one overlaps the DMA of chunk k from the other;
 * small per-step uploads go through a pinned ring. Stream order keeps every
 * copy between the ops enqueued before and after it. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_impl.h"

#define MIB(x) ((double)(x) / (1024.0 * 1024.0))

static const char *usage_name(enum orc_buf_usage u)
{
	switch (u) {
	case ORC_BUF_WEIGHTS: return "weights";
	case ORC_BUF_KV: return "KV cache";
	case ORC_BUF_SCRATCH: return "scratch";
	case ORC_BUF_IO: return "I/O";
	}
	return "?";
}

int cu_staging_new(struct cu_ctx *c, struct orc_err *err)
{
	int rc;

	for (int i = 0; i < 2; i++)
		if ((rc = CU_TRY(err, cudaMallocHost(&c->stage[i], CU_STAGE_BYTES))) != 0 ||
		    (rc = CU_TRY(err, cudaEventCreateWithFlags(&c->stage_ev[i], cudaEventDisableTiming))) != 0)
			return rc;
	if ((rc = CU_TRY(err, cudaMallocHost((void **)&c->ioring, CU_IORING_BYTES))) != 0 ||
	    (rc = CU_TRY(err, cudaEventCreateWithFlags(&c->io_ev, cudaEventDisableTiming))) != 0)
		return rc;
	return 0;
}

void cu_staging_free(struct cu_ctx *c)
{
	for (int i = 0; i < 2; i++) {
		if (c->stage[i])
			cudaFreeHost(c->stage[i]);
		if (c->stage_ev[i])
			cudaEventDestroy(c->stage_ev[i]);
	}
	if (c->ioring)
		cudaFreeHost(c->ioring);
	if (c->io_ev)
		cudaEventDestroy(c->io_ev);
}

static int no_fit(struct cu_ctx *c, uint64_t size, enum orc_buf_usage usage, struct orc_err *err)
{
	size_t fr = 0, total = 0;

	cudaGetLastError();   /* clear a failed allocation's error */
	cudaMemGetInfo(&fr, &total);
	return orc_err_set(err, -ENOMEM,
			   "%s buffer of %.1f MiB does not fit on %s: %.1f MiB free of %.1f MiB "
			   "(this model holds %.1f MiB of weights, %.1f MiB of KV cache, %.1f MiB of scratch)",
			   usage_name(usage), MIB(size), c->name, MIB(fr), MIB(total), MIB(c->used[ORC_BUF_WEIGHTS]),
			   MIB(c->used[ORC_BUF_KV]), MIB(c->used[ORC_BUF_SCRATCH] + c->used[ORC_BUF_IO]));
}

int cu_buf_alloc(struct orc_backend *be, uint64_t size, enum orc_buf_usage usage, struct orc_bbuf **ret,
		 struct orc_err *err)
{
	struct cu_ctx *c = cu_ctx(be);
	struct orc_bbuf *b;
	size_t fr = 0, total = 0;
	int rc;

	if ((unsigned)usage > ORC_BUF_IO)
		return orc_err_set(err, -EINVAL, "unknown buffer usage %d", (int)usage);
	if ((rc = CU_TRY(err, cudaSetDevice(c->device))) != 0 ||
	    (rc = CU_TRY(err, cudaMemGetInfo(&fr, &total))) != 0)
		return rc;
	if (size > fr)
		return no_fit(c, size, usage, err);
	b = calloc(1, sizeof(*b));
	if (!b)
		return orc_err_set(err, -ENOMEM, "out of host memory");
	if (cudaMalloc(&b->dev, size ? size : 1) != cudaSuccess) {
		free(b);
		return no_fit(c, size, usage, err);
	}
	b->size = size;
	b->usage = usage;
	c->used[usage] += size;
	*ret = b;
	return 0;
}

void cu_buf_free(struct orc_backend *be, struct orc_bbuf *b)
{
	struct cu_ctx *c = cu_ctx(be);

	if (!b)
		return;
	cudaStreamSynchronize(c->stream);
	cu_graphs_clear(c);   /* captured steps may use it */
	cudaFree(b->dev);
	c->used[b->usage] -= b->size;
	free(b);
}

cudaError_t cu_scratch_realloc(struct cu_ctx *c, void **p, size_t *size, size_t need)
{
	cudaError_t e;

	if (*p) {
		if (!cu_ok(c, (e = cudaStreamSynchronize(c->stream)), "cudaStreamSynchronize", __FILE__, __LINE__))
			return e;
		cu_graphs_clear(c);   /* captured steps hold the old pointer */
		cudaFree(*p);
		c->used[ORC_BUF_SCRATCH] -= *size;
		*p = NULL;
		*size = 0;
	}
	if ((e = cudaMalloc(p, need)) != cudaSuccess) {
		cudaGetLastError();   /* clear the failed allocation's error */
		*p = NULL;
		return e;
	}
	*size = need;
	c->used[ORC_BUF_SCRATCH] += need;
	return cudaSuccess;
}

int cu_scratch_reserve(struct cu_ctx *c, void **p, size_t *size, size_t need, struct orc_err *err)
{
	cudaError_t e = cu_scratch_realloc(c, p, size, need);

	if (e == cudaSuccess)
		return 0;
	if (!*p)   /* the allocation failed (a failed wait keeps the old buffer) */
		return no_fit(c, need, ORC_BUF_SCRATCH, err);
	return CU_TRY(err, e);
}

static int range_ok(const struct orc_bbuf *b, uint64_t offset, uint64_t size, const char *what,
		    struct orc_err *err)
{
	if (!b || offset > b->size || size > b->size - offset)
		return orc_err_set(err, -EINVAL, "%s of %llu bytes at %llu is outside the buffer of %llu bytes",
				   what, (unsigned long long)size, (unsigned long long)offset,
				   (unsigned long long)(b ? b->size : 0));
	return 0;
}

/* A small upload through the pinned ring; the ring restarts after the
 * copies of its previous lap have completed. */
static int set_small(struct cu_ctx *c, uint8_t *dst, const void *src, uint64_t size, struct orc_err *err)
{
	uint64_t need = (size + 255) & ~(uint64_t)255;
	int rc;

	if (c->io_off + need > CU_IORING_BYTES) {
		if ((rc = CU_TRY(err, cudaEventRecord(c->io_ev, c->stream))) != 0 ||
		    (rc = CU_TRY(err, cudaEventSynchronize(c->io_ev))) != 0)
			return rc;
		c->io_off = 0;
	}
	memcpy(c->ioring + c->io_off, src, size);
	rc = CU_TRY(err, cudaMemcpyAsync(dst, c->ioring + c->io_off, size, cudaMemcpyHostToDevice, c->stream));
	c->io_off += need;
	return rc;
}

/* A large upload: chunk k is copied into staging buffer k % 2 once the
 * previous DMA out of it has finished, then sent asynchronously. */
static int set_large(struct cu_ctx *c, uint8_t *dst, const uint8_t *src, uint64_t size, struct orc_err *err)
{
	int rc;

	for (uint64_t pos = 0, k = 0; pos < size; pos += CU_STAGE_BYTES, k++) {
		uint64_t n = size - pos < CU_STAGE_BYTES ? size - pos : CU_STAGE_BYTES;
		int i = (int)(k & 1);
		if ((rc = CU_TRY(err, cudaEventSynchronize(c->stage_ev[i]))) != 0)
			return rc;
		memcpy(c->stage[i], src + pos, n);
		if ((rc = CU_TRY(err, cudaMemcpyAsync(dst + pos, c->stage[i], n, cudaMemcpyHostToDevice, c->stream))) != 0 ||
		    (rc = CU_TRY(err, cudaEventRecord(c->stage_ev[i], c->stream))) != 0)
			return rc;
	}
	return 0;
}

int cu_buf_set(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset, const void *src, uint64_t size,
	       struct orc_err *err)
{
	struct cu_ctx *c = cu_ctx(be);
	int rc = range_ok(b, offset, size, "a copy to the GPU", err);

	if (rc != 0 || size == 0)
		return rc;
	if (c->mode != CU_DIRECT)
		return orc_err_set(err, -EINVAL, "buf_set inside a step");
	if (size <= CU_SMALL_COPY)
		return set_small(c, (uint8_t *)b->dev + offset, src, size, err);
	return set_large(c, (uint8_t *)b->dev + offset, src, size, err);
}

int cu_buf_get(struct orc_backend *be, struct orc_bbuf *b, uint64_t offset, void *dst, uint64_t size,
	       struct orc_err *err)
{
	struct cu_ctx *c = cu_ctx(be);
	int rc = range_ok(b, offset, size, "a copy from the GPU", err);

	if (rc != 0)
		return rc;
	if (c->mode != CU_DIRECT)
		return orc_err_set(err, -EINVAL, "buf_get inside a step");
	if (size <= CU_STAGE_BYTES) {
		/* one wait for the ops, the bytes and the index flag together */
		if ((rc = CU_TRY(err, cudaEventSynchronize(c->stage_ev[0]))) != 0)
			return rc;
		CU_OK(c, cudaMemcpyAsync(c->stage[0], (uint8_t *)b->dev + offset, size, cudaMemcpyDeviceToHost,
					 c->stream));
		if ((rc = cu_take_error(c, true, err)) != 0)   /* drains the stream, reads the flag */
			return rc;
		memcpy(dst, c->stage[0], size);
		return 0;
	}
	if ((rc = cu_take_error(c, true, err)) != 0)   /* drains the stream, reads the index flag */
		return rc;
	for (uint64_t pos = 0; pos < size; pos += CU_STAGE_BYTES) {
		uint64_t n = size - pos < CU_STAGE_BYTES ? size - pos : CU_STAGE_BYTES;
		if ((rc = CU_TRY(err, cudaEventSynchronize(c->stage_ev[0]))) != 0 ||
		    (rc = CU_TRY(err, cudaMemcpyAsync(c->stage[0], (uint8_t *)b->dev + offset + pos, n,
						      cudaMemcpyDeviceToHost, c->stream))) != 0 ||
		    (rc = CU_TRY(err, cudaStreamSynchronize(c->stream))) != 0)
			return rc;
		memcpy((uint8_t *)dst + pos, c->stage[0], n);
	}
	return 0;
}

void cu_mem_info(struct orc_backend *be, uint64_t *ret_free, uint64_t *ret_total)
{
	struct cu_ctx *c = cu_ctx(be);
	size_t fr = 0, total = 0;

	cudaSetDevice(c->device);
	if (cudaMemGetInfo(&fr, &total) != cudaSuccess)
		fr = total = 0;
	*ret_free = fr;
	*ret_total = total;
}
