# daemon/engine/gen.mk -- build fragment for the gen component (included by daemon/engine/local.mk)
daemon_engine_libengine_la_SOURCES += \
	daemon/engine/rng.h daemon/engine/rng.c \
	daemon/engine/sampler.h daemon/engine/sampler.c \
	daemon/engine/stop.h daemon/engine/stop.c \
	daemon/engine/gen.h daemon/engine/gen.c

check_PROGRAMS += tests/check_sampler
tests_check_sampler_SOURCES = tests/check_sampler.c
tests_check_sampler_CFLAGS = $(TEST_CFLAGS)
tests_check_sampler_LDADD = $(ENGINE_LIBS) $(TEST_LDADD) $(ENGINE_EXTRA_LIBS)
TESTS += tests/check_sampler

# mkmodel: GGUFs with random weights at real geometries (benchmarks, GPU checks)
noinst_PROGRAMS += tests/tools/mkmodel
tests_tools_mkmodel_SOURCES = tests/tools/mkmodel.c tests/tools/quantize.h tests/tools/quantize.c
tests_tools_mkmodel_CFLAGS = $(AM_CFLAGS) $(GGUFW_CFLAGS)
tests_tools_mkmodel_LDADD = $(GGUFW_LIBS) $(ENGINE_LIBS) common/libcommon.la $(ENGINE_EXTRA_LIBS)

check_PROGRAMS += tests/check_quantize
tests_check_quantize_SOURCES = tests/check_quantize.c tests/tools/quantize.h tests/tools/quantize.c
tests_check_quantize_CFLAGS = $(TEST_CFLAGS) $(GGUFW_CFLAGS)
tests_check_quantize_LDADD = $(ENGINE_LIBS) $(TEST_LDADD)
TESTS += tests/check_quantize

check_PROGRAMS += tests/check_gen
tests_check_gen_SOURCES = tests/check_gen.c tests/jsonr.c tests/jsonr.h
tests_check_gen_CFLAGS = $(TEST_CFLAGS)
tests_check_gen_LDADD = $(ENGINE_LIBS) $(TEST_LDADD) $(ENGINE_EXTRA_LIBS) -lm
TESTS += tests/check_gen

# orcctl generate, driven from the shell (needs jq)
TESTS += tests/generate.test
EXTRA_DIST += tests/generate.test

# mkmodel's output runs in the engine, deterministically (needs jq)
TESTS += tests/mkmodel.test
EXTRA_DIST += tests/mkmodel.test
