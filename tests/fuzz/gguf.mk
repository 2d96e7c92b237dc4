# tests/fuzz/gguf.mk -- libFuzzer harness for the GGUF parser (clang only).
#   make fuzz-gguf-build          build tests/fuzz/fuzz_gguf
#   make fuzz-gguf FUZZ_TIME=120  run it for FUZZ_TIME seconds on a copy of
#                                 tests/fuzz/corpus/gguf (new inputs and any
#                                 crash-* file land in tests/fuzz/)
# The harness is not part of `make check`; check_gguf replays the corpus.
FUZZ_GGUF_SRCS = \
	$(srcdir)/tests/fuzz/fuzz_gguf.c \
	$(srcdir)/daemon/engine/gguf.c $(srcdir)/daemon/engine/gguf_get.c \
	$(srcdir)/daemon/engine/quant.c \
	$(srcdir)/daemon/engine/model_desc.c \
	$(srcdir)/common/error.c

EXTRA_DIST += tests/fuzz/fuzz_gguf.c tests/fuzz/gguf.dict
CLEANFILES += tests/fuzz/fuzz_gguf

if HAVE_CLANG
tests/fuzz/fuzz_gguf: $(FUZZ_GGUF_SRCS) $(srcdir)/daemon/engine/gguf.h $(srcdir)/daemon/engine/gguf_impl.h \
		$(srcdir)/daemon/engine/quant.h $(srcdir)/daemon/engine/model_desc.h
	@$(MKDIR_P) tests/fuzz
	$(CLANG) $(FUZZ_CFLAGS) -fno-sanitize-recover=undefined -std=c11 -I$(top_builddir) \
		-I$(srcdir)/common -I$(srcdir)/daemon/engine -o $@ $(FUZZ_GGUF_SRCS) -lm

fuzz-gguf-build: tests/fuzz/fuzz_gguf

fuzz-gguf: tests/fuzz/fuzz_gguf
	rm -rf tests/fuzz/gguf-run
	$(MKDIR_P) tests/fuzz/gguf-run
	cp $(srcdir)/tests/fuzz/corpus/gguf/* tests/fuzz/gguf-run/
	./tests/fuzz/fuzz_gguf -max_total_time=$(FUZZ_TIME) -max_len=16384 \
		-dict=$(srcdir)/tests/fuzz/gguf.dict -artifact_prefix=tests/fuzz/ tests/fuzz/gguf-run
else
fuzz-gguf-build fuzz-gguf:
	@echo "$@: clang was not found by configure; install clang and re-run configure" >&2; exit 1
endif

clean-local: clean-fuzz-gguf
clean-fuzz-gguf:
	rm -rf tests/fuzz/gguf-run

.PHONY: fuzz-gguf-build fuzz-gguf clean-fuzz-gguf
