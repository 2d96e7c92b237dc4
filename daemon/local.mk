# daemon/local.mk -- orcd, the daemon (included by the top Makefile.am).
# One file per job: main (command line, startup), conf (orcd.conf), listen
# (socket activation), loop (epoll), conn (a client), req_* (one file per
# request type), registry (models, residency, budget), loader and scheduler
# (the worker threads), deliver (events to replies), notify (sd_notify).
#
# libdaemon.la holds the modules that need no engine, so their unit tests
# link without it.
noinst_LTLIBRARIES += daemon/libdaemon.la
daemon_libdaemon_la_SOURCES = \
	daemon/conf.h daemon/conf.c \
	daemon/listen.h daemon/listen.c \
	daemon/loop.h daemon/loop.c \
	daemon/notify.h daemon/notify.c \
	daemon/evq.h daemon/evq.c \
	daemon/metrics.h daemon/metrics.c \
	daemon/chat_template.h daemon/chat_template.c
daemon_libdaemon_la_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
daemon_libdaemon_la_LIBADD = common/libcommon.la $(SYSTEMD_LIBS)

DAEMON_TEST_LDADD = daemon/libdaemon.la $(TEST_LDADD)

check_PROGRAMS += tests/check_conf tests/check_loop tests/check_chat_template
tests_check_conf_SOURCES = tests/check_conf.c
tests_check_conf_CFLAGS = $(TEST_CFLAGS)
tests_check_conf_LDADD = $(DAEMON_TEST_LDADD)
tests_check_loop_SOURCES = tests/check_loop.c
tests_check_loop_CFLAGS = $(TEST_CFLAGS)
tests_check_loop_LDADD = $(DAEMON_TEST_LDADD)
tests_check_chat_template_SOURCES = tests/check_chat_template.c
tests_check_chat_template_CFLAGS = $(TEST_CFLAGS)
tests_check_chat_template_LDADD = $(DAEMON_TEST_LDADD)
TESTS += tests/check_conf tests/check_loop tests/check_chat_template
