# client/local.mk -- orcctl (one file per subcommand) and libocclient.
bin_PROGRAMS += client/orcctl
client_orcctl_SOURCES = \
	client/orcctl.h client/orcctl.c \
	client/jsonw.h client/jsonw.c \
	client/gen_opts.h client/gen_opts.c \
	client/cmd_generate.c \
	client/cmd_inspect.c \
	client/cmd_tokenize.c
client_orcctl_CFLAGS = $(AM_CFLAGS)
client_orcctl_LDADD = $(ENGINE_LIBS) common/libcommon.la $(ENGINE_EXTRA_LIBS)

include $(srcdir)/client/libocclient.mk
