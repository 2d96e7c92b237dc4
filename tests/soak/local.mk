# tests/soak/local.mk -- `make soak`: 64 clients, 2,000 requests against a
# real orcd (run it in the --enable-sanitizers build for ASan, or with
# SOAK_VALGRIND=1); see tests/soak/soak.sh. Not part of make check.
EXTRA_PROGRAMS = tests/soak/soak
tests_soak_soak_SOURCES = tests/soak/soak.c
tests_soak_soak_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/client
tests_soak_soak_LDADD = client/libocclient.la
EXTRA_DIST += tests/soak/soak.sh tests/soak/local.mk
CLEANFILES += tests/soak/soak soak-rss.tsv

soak: tests/soak/soak daemon/orcd
	ORC_BUILDDIR=$(abs_builddir) $(srcdir)/tests/soak/soak.sh
.PHONY: soak
