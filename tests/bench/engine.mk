# tests/bench/engine.mk -- engine benchmark: `make bench-engine` (part of
# `make bench`) generates the Qwen2.5-0.5B geometry in F16 and Q8_0 with
# mkmodel into the build tree when absent, then runs bench_engine on each.
noinst_PROGRAMS += tests/bench/bench_engine
tests_bench_bench_engine_SOURCES = tests/bench/bench_engine.c
tests_bench_bench_engine_CFLAGS = $(AM_CFLAGS)
tests_bench_bench_engine_LDADD = $(ENGINE_LIBS) common/libcommon.la $(ENGINE_EXTRA_LIBS)

BENCH_MODELS = $(abs_top_builddir)/tests/bench/models
BENCH_THREADS ?= 0
BENCH_DECODE ?= 32

bench-engine: tests/bench/bench_engine$(EXEEXT) tests/tools/mkmodel$(EXEEXT)
	@$(MKDIR_P) $(BENCH_MODELS)
	@shared="$${ORC_SHARED:-$(abs_top_srcdir)/../shared}"; \
	for t in F16 Q8_0; do \
	  f=$(BENCH_MODELS)/qwen2.5-0.5b-$$t.gguf; \
	  if test ! -f $$f; then \
	    echo "mkmodel: writing $$f"; \
	    ORC_SHARED="$$shared" tests/tools/mkmodel --preset qwen2.5-0.5b --type $$t -o $$f.tmp && \
	      mv $$f.tmp $$f || exit 1; \
	  fi; \
	  tests/bench/bench_engine -t $(BENCH_THREADS) -n $(BENCH_DECODE) $$f || exit 1; \
	done

bench: bench-engine
.PHONY: bench bench-engine
CLEANFILES += $(BENCH_MODELS)/*.gguf
