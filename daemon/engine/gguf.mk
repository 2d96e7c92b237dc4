# daemon/engine/gguf.mk -- build fragment for the gguf component (included by daemon/engine/local.mk):
# the GGUF parser, the ggml type table and dequantization, the model
# description, the GGUF writer used by tests and tools, and their suites.
daemon_engine_libengine_la_SOURCES += \
	daemon/engine/gguf.h daemon/engine/gguf_impl.h daemon/engine/gguf.c daemon/engine/gguf_file.c \
	daemon/engine/gguf_get.c \
	daemon/engine/quant.h daemon/engine/quant.c \
	daemon/engine/model_desc.h daemon/engine/model_desc.c

# ggufw: a small GGUF writer (tests craft files with it; so does the model generator)
noinst_LTLIBRARIES += tests/tools/libggufw.la
tests_tools_libggufw_la_SOURCES = tests/tools/ggufw.h tests/tools/ggufw.c
tests_tools_libggufw_la_CFLAGS = $(AM_CFLAGS)
GGUFW_CFLAGS = -I$(top_srcdir)/tests/tools
GGUFW_LIBS = tests/tools/libggufw.la

check_PROGRAMS += tests/check_gguf
tests_check_gguf_SOURCES = tests/check_gguf.c
tests_check_gguf_CFLAGS = $(TEST_CFLAGS) $(GGUFW_CFLAGS)
tests_check_gguf_LDADD = $(GGUFW_LIBS) $(ENGINE_LIBS) $(TEST_LDADD)
TESTS += tests/check_gguf

check_PROGRAMS += tests/check_quant
tests_check_quant_SOURCES = tests/check_quant.c
tests_check_quant_CFLAGS = $(TEST_CFLAGS)
tests_check_quant_LDADD = $(ENGINE_LIBS) $(TEST_LDADD)
TESTS += tests/check_quant

check_PROGRAMS += tests/check_model_desc
tests_check_model_desc_SOURCES = tests/check_model_desc.c
tests_check_model_desc_CFLAGS = $(TEST_CFLAGS) $(GGUFW_CFLAGS)
tests_check_model_desc_LDADD = $(GGUFW_LIBS) $(ENGINE_LIBS) $(TEST_LDADD)
TESTS += tests/check_model_desc

EXTRA_DIST += tests/fuzz/corpus/gguf

# orcctl inspect (client/cmd_inspect.c) against the shared fixtures
TESTS += tests/inspect.test
EXTRA_DIST += tests/inspect.test

check_PROGRAMS += tests/check_gguf_malformed
tests_check_gguf_malformed_SOURCES = tests/check_gguf_malformed.c
tests_check_gguf_malformed_CFLAGS = $(TEST_CFLAGS) $(GGUFW_CFLAGS)
tests_check_gguf_malformed_LDADD = $(GGUFW_LIBS) $(ENGINE_LIBS) $(TEST_LDADD)
TESTS += tests/check_gguf_malformed

# how the bytes are read (mmap, read() copy, tables only) and files that
# change underneath (SIGBUS safety, loads that fail half way)
check_PROGRAMS += tests/check_gguf_file
tests_check_gguf_file_SOURCES = tests/check_gguf_file.c
tests_check_gguf_file_CFLAGS = $(TEST_CFLAGS) $(GGUFW_CFLAGS)
tests_check_gguf_file_LDADD = $(GGUFW_LIBS) $(ENGINE_LIBS) $(TEST_LDADD)
TESTS += tests/check_gguf_file
