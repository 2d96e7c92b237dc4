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
