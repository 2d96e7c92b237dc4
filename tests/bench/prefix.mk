# tests/bench/prefix.mk -- prefix-reuse benchmark: `make bench-prefix` (part
# of `make bench`) measures time to first token for a 1,000-token shared
# system prompt, first request against second, on the Qwen2.5-0.5B geometry
# in Q8_0 (written by mkmodel, as bench-engine does, when absent).
noinst_PROGRAMS += tests/bench/bench_prefix
tests_bench_bench_prefix_SOURCES = tests/bench/bench_prefix.c
tests_bench_bench_prefix_CFLAGS = $(AM_CFLAGS)
tests_bench_bench_prefix_LDADD = $(ENGINE_LIBS) common/libcommon.la $(ENGINE_EXTRA_LIBS)

BENCH_PREFIX_ROUNDS ?= 1

bench-prefix: tests/bench/bench_prefix$(EXEEXT) tests/tools/mkmodel$(EXEEXT)
	@$(MKDIR_P) $(BENCH_MODELS)
	@f=$(BENCH_MODELS)/qwen2.5-0.5b-Q8_0.gguf; \
	if test ! -f $$f; then \
	  echo "mkmodel: writing $$f"; \
	  ORC_SHARED="$${ORC_SHARED:-$(abs_top_srcdir)/../shared}" \
	    tests/tools/mkmodel --preset qwen2.5-0.5b --type Q8_0 -o $$f.tmp && mv $$f.tmp $$f || exit 1; \
	fi; \
	tests/bench/bench_prefix -t $(BENCH_THREADS) -r $(BENCH_PREFIX_ROUNDS) $$f

bench: bench-prefix
.PHONY: bench-prefix
