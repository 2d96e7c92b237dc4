# client/libocclient.mk -- the client library (libocclient), its header and .pc
lib_LTLIBRARIES += client/libocclient.la
include_HEADERS += client/occlient.h
client_libocclient_la_SOURCES = \
	client/occ_internal.h \
	client/occ_conn.c \
	client/occ_gen.c \
	client/occ_calls.c
client_libocclient_la_CFLAGS = $(AM_CFLAGS) $(MSGPACK_CFLAGS)
client_libocclient_la_LIBADD = common/libcommon.la $(MSGPACK_LIBS)
# current:revision:age -- see the libtool manual before changing
client_libocclient_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 \
	-Wl,--version-script=$(srcdir)/client/libocclient.sym
EXTRA_client_libocclient_la_DEPENDENCIES = client/libocclient.sym
pkgconfig_DATA += client/libocclient.pc
EXTRA_DIST += client/libocclient.sym client/libocclient.pc.in

# A short example of the API, built by `make check` (it needs a running orcd).
check_PROGRAMS += client/example
client_example_SOURCES = client/example.c
client_example_LDADD = client/libocclient.la

# libocclient against a scripted fake server over a socketpair.
check_PROGRAMS += tests/check_occlient
tests_check_occlient_SOURCES = tests/check_occlient.c
tests_check_occlient_CFLAGS = $(TEST_CFLAGS) $(MSGPACK_CFLAGS)
tests_check_occlient_LDADD = client/libocclient.la $(TEST_LDADD)
TESTS += tests/check_occlient
