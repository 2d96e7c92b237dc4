/* fakecuda.h -- a stand-in for the CUDA runtime and for orcd's kernel
 * launchers (kernels.h), in host memory, so that the CUDA backend's host
 * code runs on a machine without a GPU: device buffers are malloc'ed and
 * counted, copies are memcpy, launches and graphs do nothing (their
 * results stay zero). Any one call can be made to fail, to prove that
 * every failure becomes an error and leaks nothing (check_cuda_faults.c).
 * Test code only: never linked into orcd. */
#ifndef ORC_FAKECUDA_H
#define ORC_FAKECUDA_H

#include <stdbool.h>
#include <stdint.h>

/* What the fake holds: device and pinned allocations, streams, events,
 * graphs and executable graphs not yet released. */
struct fake_cuda_held {
	uint64_t dev_bytes;
	int dev, pinned, streams, events, graphs, execs;
};

/* Forget the call count and the planned failure (what is held stays). */
void fake_cuda_reset(void);
/* Make call n (1-based, counted from the last reset) fail; 0: none. Frees,
 * destroys, cudaGetLastError and cudaGetErrorString never fail and do not
 * count. */
void fake_cuda_fail_at(uint64_t n);
/* Calls counted since the last reset; of one function (or launcher, by
 * its full name). */
uint64_t fake_cuda_calls(void);
uint64_t fake_cuda_calls_of(const char *what);
/* The planned failure happened; *what names the call (a launcher or the
 * runtime function). */
bool fake_cuda_failed(const char **what);
void fake_cuda_held(struct fake_cuda_held *ret);
/* The kernel launchers called since the last reset, in order (their names
 * without "orc_k_"), up to FAKE_CUDA_LOG; returns how many were called. */
#define FAKE_CUDA_LOG 4096
size_t fake_cuda_launches(const char **names, size_t max);
/* Device memory the fake reports as total (free is that minus what is held). */
#define FAKE_CUDA_TOTAL (4ull << 30)

#endif
