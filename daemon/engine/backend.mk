# daemon/engine/backend.mk -- build fragment for the backend component (included by daemon/engine/local.mk):
# the backend ops table, the CPU backend, the model graphs and the engine.

# tests/jsonr.c is the tests' JSON reader (it encodes with the tokenizer's
# orc_utf8_encode); suites that need it list it in their sources and link the engine.
check_PROGRAMS += tests/check_jsonr
tests_check_jsonr_SOURCES = tests/check_jsonr.c tests/jsonr.c tests/jsonr.h
tests_check_jsonr_CFLAGS = $(TEST_CFLAGS)
tests_check_jsonr_LDADD = $(ENGINE_LIBS) $(ENGINE_EXTRA_LIBS) $(TEST_LDADD) $(UNISTRING_LIBS) -lm
TESTS += tests/check_jsonr

daemon_engine_libengine_la_SOURCES += \
	daemon/engine/backend.h daemon/engine/backend.c daemon/engine/backend_view.c daemon/engine/device.c \
	daemon/engine/threadpool.h daemon/engine/threadpool.c \
	daemon/engine/cpu_kernels.h daemon/engine/cpu_kernels.c daemon/engine/cpu_kernels_avx2.c \
	daemon/engine/backend_cpu_impl.h daemon/engine/backend_cpu.c \
	daemon/engine/backend_cpu_matmul.c daemon/engine/backend_cpu_attn.c \
	daemon/engine/kvcache.h daemon/engine/kvcache.c \
	daemon/engine/graph.h daemon/engine/graph_impl.h daemon/engine/graph.c \
	daemon/engine/graph_load.c \
	daemon/engine/engine.h daemon/engine/engine.c

check_PROGRAMS += tests/check_ops
tests_check_ops_SOURCES = tests/check_ops.c
tests_check_ops_CFLAGS = $(TEST_CFLAGS)
tests_check_ops_LDADD = $(ENGINE_LIBS) $(ENGINE_EXTRA_LIBS) $(TEST_LDADD) -lm
TESTS += tests/check_ops

check_PROGRAMS += tests/check_engine
tests_check_engine_SOURCES = tests/check_engine.c tests/engine_testutil.c tests/engine_testutil.h \
	tests/jsonr.c tests/jsonr.h
tests_check_engine_CFLAGS = $(TEST_CFLAGS)
tests_check_engine_LDADD = $(ENGINE_LIBS) $(ENGINE_EXTRA_LIBS) $(TEST_LDADD) $(UNISTRING_LIBS) -lm
TESTS += tests/check_engine

check_PROGRAMS += tests/check_device
tests_check_device_SOURCES = tests/check_device.c
tests_check_device_CFLAGS = $(TEST_CFLAGS)
tests_check_device_LDADD = $(ENGINE_LIBS) $(ENGINE_EXTRA_LIBS) $(TEST_LDADD) $(UNISTRING_LIBS) -lm
TESTS += tests/check_device

# prefix reuse of the KV cache (kvcache.c, engine.c) and orc_gen_attach
check_PROGRAMS += tests/check_prefix
tests_check_prefix_SOURCES = tests/check_prefix.c tests/engine_testutil.c tests/engine_testutil.h \
	tests/jsonr.c tests/jsonr.h
tests_check_prefix_CFLAGS = $(TEST_CFLAGS)
tests_check_prefix_LDADD = $(ENGINE_LIBS) $(ENGINE_EXTRA_LIBS) $(TEST_LDADD) $(UNISTRING_LIBS) -lm
TESTS += tests/check_prefix
