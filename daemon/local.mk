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

# the chat-template fuzzer's corpus, replayed (tests/fuzz/chat_template.mk)
check_PROGRAMS += tests/check_chat_template_fuzz
tests_check_chat_template_fuzz_SOURCES = tests/check_chat_template_fuzz.c \
	tests/fuzz/fuzz_chat_template.h tests/fuzz/fuzz_chat_template.c
tests_check_chat_template_fuzz_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/fuzz -I$(top_srcdir)/daemon
tests_check_chat_template_fuzz_LDADD = $(DAEMON_TEST_LDADD)
TESTS += tests/check_chat_template_fuzz

dist_man_MANS += man/orcd.8 man/orcd.conf.5

sbin_PROGRAMS += daemon/orcd
daemon_orcd_SOURCES = \
	daemon/main.c \
	daemon/server.h daemon/server.c \
	daemon/conn.h daemon/conn.c \
	daemon/req.h daemon/req.c \
	daemon/req_hello.c \
	daemon/req_generate.c \
	daemon/req_cancel.c \
	daemon/req_tokenize.c \
	daemon/req_models.c \
	daemon/req_status.c \
	daemon/stats.h daemon/stats.c \
	daemon/deliver.h daemon/deliver.c \
	daemon/job.h daemon/job.c \
	daemon/registry.h daemon/registry_impl.h daemon/registry.c \
	daemon/residency.c \
	daemon/loader.h daemon/loader.c \
	daemon/scheduler.h daemon/scheduler_impl.h daemon/scheduler.c \
	daemon/sched_events.c
daemon_orcd_CPPFLAGS = $(AM_CPPFLAGS) -DORC_SYSCONFDIR='"$(sysconfdir)"'
daemon_orcd_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(MSGPACK_CFLAGS)
daemon_orcd_LDADD = daemon/libdaemon.la $(ENGINE_LIBS) common/libcommon.la $(ENGINE_EXTRA_LIBS) \
	$(SYSTEMD_LIBS) -lm

# ---- integration tests: the real orcd, driven over its socket ----
check_PROGRAMS += tests/integration/orcd-client
tests_integration_orcd_client_SOURCES = tests/integration/orcd_client.c
tests_integration_orcd_client_CFLAGS = $(AM_CFLAGS) $(MSGPACK_CFLAGS)
tests_integration_orcd_client_LDADD = common/libcommon.la
ORCD_TESTS = \
	tests/integration/golden.test \
	tests/integration/activate.test \
	tests/integration/concurrent.test \
	tests/integration/cancel.test \
	tests/integration/malformed.test \
	tests/integration/budget.test \
	tests/integration/prefill.test \
	tests/integration/drain.test \
	tests/integration/reload.test \
	tests/integration/access.test \
	tests/integration/local.test \
	tests/integration/models.test \
	tests/integration/slow.test \
	tests/integration/metrics.test \
	tests/integration/notify.test \
	tests/integration/logprobs.test \
	tests/integration/prefix.test \
	tests/integration/device.test \
	tests/integration/orcctl_file.test \
	tests/integration/fault_model_file.test \
	tests/integration/fault_conn.test \
	tests/integration/fault_access.test \
	tests/demo.test
TESTS += $(ORCD_TESTS)
EXTRA_DIST += $(ORCD_TESTS) tests/integration/lib.sh scripts/demo
