# tests/bench/cuda.mk -- the CUDA backend's benchmark: `make bench-cuda`
# (part of `make bench` when CUDA is built) generates the Qwen2.5-0.5B
# geometry in F16 and Q8_0 and Phi-3-mini in F16 with mkmodel into the build
# tree when absent, then runs bench_cuda on each, and bench_kernels (the
# decode products alone) at both geometries. bench_cuda -r REF.json
# compares a model's logits with tools/hf_reference.py output.
if HAVE_CUDA
noinst_PROGRAMS += tests/bench/bench_cuda
tests_bench_bench_cuda_SOURCES = tests/bench/bench_cuda.c tests/jsonr.c tests/jsonr.h
tests_bench_bench_cuda_CFLAGS = $(AM_CFLAGS) $(CUDA_CFLAGS) -I$(top_srcdir)/tests -I$(top_srcdir)/kernels
tests_bench_bench_cuda_LDADD = $(ENGINE_LIBS) common/libcommon.la $(ENGINE_EXTRA_LIBS) -lm

noinst_PROGRAMS += tests/bench/bench_kernels
tests_bench_bench_kernels_SOURCES = tests/bench/bench_kernels.c tests/cudatest.c tests/cudatest.h
tests_bench_bench_kernels_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CUDA_CFLAGS) -I$(top_srcdir)/tests
tests_bench_bench_kernels_LDADD = kernels/liborckernels.a $(CHECK_LIBS) $(CUDA_LIBS) -lm

BENCH_CUDA_DEPS = tests/bench/bench_cuda$(EXEEXT) tests/bench/bench_kernels$(EXEEXT) tests/tools/mkmodel$(EXEEXT)
else
BENCH_CUDA_DEPS =
endif

bench-cuda: $(BENCH_CUDA_DEPS)
	@if test -z "$(BENCH_CUDA_DEPS)"; then echo "bench-cuda: the CUDA backend is not built"; exit 0; fi; \
	$(MKDIR_P) $(BENCH_MODELS); \
	shared="$${ORC_SHARED:-$(abs_top_srcdir)/../shared}"; \
	for spec in qwen2.5-0.5b:F16 qwen2.5-0.5b:Q8_0 phi3-mini:F16; do \
	  p=$${spec%%:*}; t=$${spec##*:}; f=$(BENCH_MODELS)/$$p-$$t.gguf; \
	  if test ! -f $$f; then \
	    echo "mkmodel: writing $$f"; \
	    ORC_SHARED="$$shared" tests/tools/mkmodel --preset $$p --type $$t -o $$f.tmp && \
	      mv $$f.tmp $$f || exit 1; \
	  fi; \
	  tests/bench/bench_cuda -c 1024 -s 32 $$f || exit 1; \
	done; \
	tests/bench/bench_kernels && tests/bench/bench_kernels -p phi3

bench: bench-cuda
.PHONY: bench-cuda
