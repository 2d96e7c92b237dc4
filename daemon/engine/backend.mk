# daemon/engine/backend.mk -- build fragment for the backend component (included by daemon/engine/local.mk):
# the backend ops table, the CPU backend, the model graphs and the engine.

# tests/jsonr.c is the tests' JSON reader; suites that need it list it in their sources.
check_PROGRAMS += tests/check_jsonr
tests_check_jsonr_SOURCES = tests/check_jsonr.c tests/jsonr.c tests/jsonr.h
tests_check_jsonr_CFLAGS = $(TEST_CFLAGS)
tests_check_jsonr_LDADD = $(TEST_LDADD) -lm
TESTS += tests/check_jsonr
