# kernels/local.mk -- the CUDA kernels (one op per .cu file), built with nvcc
# into a static library only when configure found CUDA. libengine links it
# (daemon/engine/cuda.mk).
if HAVE_CUDA
noinst_LIBRARIES += kernels/liborckernels.a
kernels_liborckernels_a_SOURCES = \
	kernels/rows.cu kernels/norm.cu kernels/rope.cu kernels/ew.cu kernels/convert.cu \
	kernels/gemv.cu kernels/mm.cu kernels/attn_prefill.cu kernels/attn_decode.cu kernels/sample.cu
noinst_HEADERS += kernels/kernels.h kernels/kcommon.cuh kernels/attn_common.cuh kernels/mm.cuh
endif
EXTRA_DIST += kernels/kernels.h kernels/kcommon.cuh kernels/attn_common.cuh kernels/mm.cuh

NVCC_FLAGS = -std=c++17 -O3 -Xcompiler -fPIC -Xcompiler -Wall \
	-I$(top_srcdir)/kernels $(CUDA_CFLAGS)
KERNEL_DEPS = $(top_srcdir)/kernels/kernels.h $(top_srcdir)/kernels/kcommon.cuh \
	$(top_srcdir)/kernels/attn_common.cuh $(top_srcdir)/kernels/mm.cuh

.cu.o:
	$(AM_V_GEN)$(NVCC) $(NVCC_ARCH_FLAGS) $(NVCC_FLAGS) $(NVCCFLAGS) -c -o $@ $<

$(kernels_liborckernels_a_OBJECTS): $(KERNEL_DEPS)
