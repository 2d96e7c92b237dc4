# client/local.mk -- orcctl (one file per subcommand) and libocclient.
bin_PROGRAMS += client/orcctl
client_orcctl_SOURCES = \
	client/orcctl.h client/orcctl.c \
	client/jsonw.h client/jsonw.c \
	client/gen_opts.h client/gen_opts.c \
	client/gen_output.h client/gen_output.c \
	client/daemon.h client/daemon.c \
	client/cmd_generate.c client/gen_daemon.c \
	client/private.h client/private.c \
	client/cmd_chat.c \
	client/cmd_models.c client/cmd_load.c client/cmd_unload.c \
	client/cmd_status.c \
	client/tok_common.h client/tok_common.c \
	client/cmd_tokenize.c client/cmd_detokenize.c \
	client/cmd_bench.c \
	client/cmd_inspect.c
client_orcctl_CPPFLAGS = $(AM_CPPFLAGS) -DORC_SBINDIR='"$(sbindir)"'
client_orcctl_CFLAGS = $(AM_CFLAGS)
# The engine archive provides only the GGUF reader and the tokenizer here
# (inspect, tokenize/detokenize --file): orcctl never runs a model itself;
# generate --file starts a private orcd (client/private.c).
client_orcctl_LDADD = client/libocclient.la $(ENGINE_LIBS) common/libcommon.la -lm

include $(srcdir)/client/libocclient.mk

# orcctl's daemon-side commands against a fake server (runs the built orcctl).
check_PROGRAMS += tests/check_orcctl_daemon
tests_check_orcctl_daemon_SOURCES = tests/check_orcctl_daemon.c
tests_check_orcctl_daemon_CFLAGS = $(TEST_CFLAGS) $(MSGPACK_CFLAGS)
tests_check_orcctl_daemon_LDADD = $(TEST_LDADD)
TESTS += tests/check_orcctl_daemon
