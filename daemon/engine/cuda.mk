# daemon/engine/cuda.mk -- the CUDA backend (host side) and its tests, built
# only when configure found CUDA; the kernels themselves are kernels/local.mk.
if HAVE_CUDA
daemon_engine_libengine_la_SOURCES += \
	daemon/engine/backend_cuda_impl.h daemon/engine/backend_cuda.c \
	daemon/engine/backend_cuda_mem.c daemon/engine/backend_cuda_ops.c \
	daemon/engine/backend_cuda_fuse.c
daemon_engine_libengine_la_LIBADD += -L$(abs_top_builddir)/kernels -lorckernels $(CUDA_LIBS)
EXTRA_daemon_engine_libengine_la_DEPENDENCIES = kernels/liborckernels.a

check_PROGRAMS += tests/check_cuda_kernels
tests_check_cuda_kernels_SOURCES = tests/check_cuda_kernels.c tests/cudatest.c tests/cudatest.h
tests_check_cuda_kernels_CFLAGS = $(TEST_CFLAGS) $(CUDA_CFLAGS)
tests_check_cuda_kernels_LDADD = kernels/liborckernels.a $(TEST_LDADD) $(CUDA_LIBS)
TESTS += tests/check_cuda_kernels

check_PROGRAMS += tests/check_cuda_ops
tests_check_cuda_ops_SOURCES = tests/check_cuda_ops.c tests/cudatest.c tests/cudatest.h
tests_check_cuda_ops_CFLAGS = $(TEST_CFLAGS) $(CUDA_CFLAGS)
tests_check_cuda_ops_LDADD = $(ENGINE_LIBS) $(ENGINE_EXTRA_LIBS) $(TEST_LDADD) $(CUDA_LIBS) -lm
TESTS += tests/check_cuda_ops

check_PROGRAMS += tests/check_cuda_engine
tests_check_cuda_engine_SOURCES = tests/check_cuda_engine.c tests/cudatest.c tests/cudatest.h \
	tests/engine_testutil.c tests/engine_testutil.h tests/jsonr.c tests/jsonr.h
tests_check_cuda_engine_CFLAGS = $(TEST_CFLAGS) $(CUDA_CFLAGS)
tests_check_cuda_engine_LDADD = $(ENGINE_LIBS) $(ENGINE_EXTRA_LIBS) $(TEST_LDADD) $(CUDA_LIBS) \
	$(UNISTRING_LIBS) -lm
TESTS += tests/check_cuda_engine

# The backend's host code on a fake CUDA runtime (no GPU needed): the
# engine's sources built again, linked without cudart and the kernels.
check_PROGRAMS += tests/check_cuda_faults
tests_check_cuda_faults_SOURCES = tests/check_cuda_faults.c tests/fakecuda.c tests/fakecuda.h \
	$(daemon_engine_libengine_la_SOURCES)
tests_check_cuda_faults_CFLAGS = $(TEST_CFLAGS) $(PCRE2_CFLAGS) $(CUDA_CFLAGS) $(FAULT_SAN_CFLAGS)
tests_check_cuda_faults_LDFLAGS = $(FAULT_SAN_LDFLAGS)
tests_check_cuda_faults_LDADD = $(TEST_LDADD) $(PCRE2_LIBS) $(UNISTRING_LIBS) -lm
TESTS += tests/check_cuda_faults
endif
EXTRA_DIST += tests/cudatest.h tests/fakecuda.h tests/bench/hf_side_by_side.py
