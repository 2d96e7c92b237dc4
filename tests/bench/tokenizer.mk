# tests/bench/tokenizer.mk -- tokenizer benchmark: build time and encode MB/s
# per vocabulary (`make bench-tokenizer`, or `make bench` for all benchmarks).
noinst_PROGRAMS += tests/bench/bench_tokenizer
tests_bench_bench_tokenizer_SOURCES = tests/bench/bench_tokenizer.c
tests_bench_bench_tokenizer_CFLAGS = $(AM_CFLAGS)
tests_bench_bench_tokenizer_LDADD = $(ENGINE_LIBS) common/libcommon.la $(ENGINE_EXTRA_LIBS)
EXTRA_DIST += tests/bench/data/english.txt tests/bench/data/multilingual.txt

bench-tokenizer: tests/bench/bench_tokenizer$(EXEEXT)
	ORC_SRCDIR="$(abs_top_srcdir)" ORC_SHARED="$${ORC_SHARED:-$(abs_top_srcdir)/../shared}" \
		tests/bench/bench_tokenizer$(EXEEXT)

bench: bench-tokenizer
.PHONY: bench bench-tokenizer
