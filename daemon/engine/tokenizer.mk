# daemon/engine/tokenizer.mk -- build fragment for the tokenizer component (included by daemon/engine/local.mk):
# byte-level BPE and SentencePiece tokenizers built from GGUF metadata, the
# streaming detokenizer, and their suites.
daemon_engine_libengine_la_SOURCES += \
	daemon/engine/tokenizer.h daemon/engine/tok_internal.h \
	daemon/engine/tokenizer.c daemon/engine/tok_vocab.c daemon/engine/tok_special.c \
	daemon/engine/tok_pretok.c daemon/engine/tok_bpe.c daemon/engine/tok_spm.c \
	daemon/engine/tok_utf8.c daemon/engine/detok.c

check_PROGRAMS += tests/check_tokenizer
tests_check_tokenizer_SOURCES = tests/check_tokenizer.c tests/tok_testutil.h tests/tok_testutil.c
tests_check_tokenizer_CFLAGS = $(TEST_CFLAGS)
tests_check_tokenizer_LDADD = $(ENGINE_LIBS) $(TEST_LDADD) $(UNISTRING_LIBS)
TESTS += tests/check_tokenizer

check_PROGRAMS += tests/check_tokenizer_fuzz
tests_check_tokenizer_fuzz_SOURCES = tests/check_tokenizer_fuzz.c \
	tests/fuzz/tok_fuzz_one.h tests/fuzz/tok_fuzz_one.c
tests_check_tokenizer_fuzz_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/fuzz
tests_check_tokenizer_fuzz_LDADD = $(ENGINE_LIBS) $(TEST_LDADD) $(UNISTRING_LIBS)
TESTS += tests/check_tokenizer_fuzz

# orcctl tokenize / detokenize, end to end
TESTS += tests/tokenize.test
EXTRA_DIST += tests/tokenize.test

check_PROGRAMS += tests/check_tokenizer_build
tests_check_tokenizer_build_SOURCES = tests/check_tokenizer_build.c tests/tok_testutil.h tests/tok_testutil.c
tests_check_tokenizer_build_CFLAGS = $(TEST_CFLAGS) $(GGUFW_CFLAGS)
tests_check_tokenizer_build_LDADD = $(GGUFW_LIBS) $(ENGINE_LIBS) $(TEST_LDADD)
TESTS += tests/check_tokenizer_build
