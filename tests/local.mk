# tests/local.mk -- shared test helpers and the suites of common/.
# Each engine/daemon/client component declares its own suites in its fragment.
noinst_LTLIBRARIES += tests/libtestutil.la
tests_libtestutil_la_SOURCES = tests/testutil.h tests/testutil.c
tests_libtestutil_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

TEST_LDADD = tests/libtestutil.la common/libcommon.la $(CHECK_LIBS)
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

check_PROGRAMS += tests/check_error
tests_check_error_SOURCES = tests/check_error.c
tests_check_error_CFLAGS = $(TEST_CFLAGS)
tests_check_error_LDADD = $(TEST_LDADD)

TESTS += tests/check_error
