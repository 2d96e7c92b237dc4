/* backend.c -- the one place that chooses a compute backend (CPU, CUDA or
 * AUTO). HAVE_CUDA appears here and nowhere else outside the CUDA backend. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "backend.h"

static int cuda_new(const struct orc_backend_opts *opts, struct orc_backend **ret,
		    struct orc_err *err)
{
#ifdef HAVE_CUDA
	/* a strong reference: the CUDA backend's objects come from a static
	 * archive, which a weak reference would not pull in */
	return orc_backend_cuda_new(opts, ret, err);
#else
	(void)opts;
	(void)ret;
	return orc_err_set(err, -ENODEV, "the CUDA backend is not built into this orcd (configure found no CUDA toolkit)");
#endif
}

bool orc_backend_built(enum orc_backend_kind kind)
{
	switch (kind) {
	case ORC_BACKEND_CPU:
	case ORC_BACKEND_AUTO:
		return true;
	case ORC_BACKEND_CUDA:
#ifdef HAVE_CUDA
		return true;
#else
		return false;
#endif
	}
	return false;
}

int orc_backend_new(enum orc_backend_kind kind, const struct orc_backend_opts *opts,
		    struct orc_backend **ret, char *ret_fallback_msg, size_t fallback_len,
		    struct orc_err *err)
{
	struct orc_err cuda_err = { 0 };
	int rc;

	if (ret_fallback_msg && fallback_len)
		ret_fallback_msg[0] = '\0';
	switch (kind) {
	case ORC_BACKEND_CPU:
		return orc_backend_cpu_new(opts, ret, err);
	case ORC_BACKEND_CUDA:
		return cuda_new(opts, ret, err);
	case ORC_BACKEND_AUTO:
		rc = cuda_new(opts, ret, &cuda_err);
		if (rc == 0)
			return 0;
		if (ret_fallback_msg && fallback_len)
			snprintf(ret_fallback_msg, fallback_len, "CUDA not used: %s; running on the CPU",
				 orc_err_msg(&cuda_err));
		return orc_backend_cpu_new(opts, ret, err);
	}
	return orc_err_set(err, -EINVAL, "unknown backend kind %d", (int)kind);
}
