# tests/fuzz/tokenizer.mk -- fuzz harness for tokenizer: libFuzzer, clang only,
# not part of `make check` (the corpus and past crashers are replayed there by
# tests/check_tokenizer_fuzz). `make fuzz-tokenizer FUZZ_TIME=SECONDS` runs it;
# ORC_FUZZ_TOK_BIG names the big vocabulary (default: ../shared qwen2-vocab.gguf).
FUZZ_TOK_SRCS = \
	$(srcdir)/tests/fuzz/fuzz_tokenizer.c $(srcdir)/tests/fuzz/tok_fuzz_one.c \
	$(srcdir)/daemon/engine/tokenizer.c $(srcdir)/daemon/engine/tok_vocab.c \
	$(srcdir)/daemon/engine/tok_special.c $(srcdir)/daemon/engine/tok_pretok.c \
	$(srcdir)/daemon/engine/tok_bpe.c $(srcdir)/daemon/engine/tok_spm.c \
	$(srcdir)/daemon/engine/tok_utf8.c $(srcdir)/daemon/engine/detok.c \
	$(srcdir)/daemon/engine/gguf.c $(srcdir)/daemon/engine/gguf_file.c $(srcdir)/daemon/engine/gguf_get.c \
	$(srcdir)/daemon/engine/quant.c \
	$(srcdir)/common/error.c
EXTRA_DIST += tests/fuzz/fuzz_tokenizer.c tests/fuzz/corpus/tokenizer
CLEANFILES += tests/fuzz/fuzz_tokenizer

if HAVE_CLANG
tests/fuzz/fuzz_tokenizer: $(FUZZ_TOK_SRCS) $(srcdir)/daemon/engine/tok_internal.h \
		$(srcdir)/daemon/engine/tokenizer.h $(srcdir)/tests/fuzz/tok_fuzz_one.h
	@mkdir -p tests/fuzz
	$(CLANG) $(FUZZ_CFLAGS) -fno-sanitize-recover=undefined -std=c11 $(AM_CPPFLAGS) -I$(top_srcdir)/tests/fuzz $(PCRE2_CFLAGS) \
		-o $@ $(FUZZ_TOK_SRCS) $(PCRE2_LIBS) $(UNISTRING_LIBS) -lm

fuzz-tokenizer-build: tests/fuzz/fuzz_tokenizer

fuzz-tokenizer: tests/fuzz/fuzz_tokenizer
	@mkdir -p tests/fuzz/corpus-tokenizer
	ORC_SHARED="$${ORC_SHARED:-$(abs_top_srcdir)/../shared}" tests/fuzz/fuzz_tokenizer \
		-max_total_time=$(FUZZ_TIME) -max_len=4096 \
		tests/fuzz/corpus-tokenizer $(srcdir)/tests/fuzz/corpus/tokenizer
else
fuzz-tokenizer-build fuzz-tokenizer:
	@echo "fuzz-tokenizer needs clang (configure found none)"; exit 1
endif
.PHONY: fuzz-tokenizer-build fuzz-tokenizer
