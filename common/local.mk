# common/: code linked by both orcd and the client side.
noinst_LTLIBRARIES += common/libcommon.la
common_libcommon_la_SOURCES = \
	common/limits.h \
	common/error.h common/error.c \
	common/log.h common/log.c
common_libcommon_la_CFLAGS = $(AM_CFLAGS) $(MSGPACK_CFLAGS)
common_libcommon_la_LIBADD = $(MSGPACK_LIBS)

include $(srcdir)/common/proto.mk
