# common/proto.mk -- protocol schema, framing and codec (appends to libcommon.la)
common_libcommon_la_SOURCES += \
	common/proto.h \
	common/frame.h common/frame.c \
	common/prescan.h common/prescan.c \
	common/proto_schema.h common/proto_schema.c \
	common/proto_codec.h common/proto_codec.c \
	common/proto_enc.c common/proto_dec.c \
	common/proto_status.c

check_PROGRAMS += tests/check_proto
tests_check_proto_SOURCES = tests/check_proto.c tests/check_proto_frame.c \
	tests/fuzz/fuzz_proto.h tests/fuzz/fuzz_proto.c
tests_check_proto_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/fuzz
tests_check_proto_CFLAGS = $(TEST_CFLAGS) $(MSGPACK_CFLAGS)
tests_check_proto_LDADD = $(ENGINE_LIBS) $(TEST_LDADD) $(ENGINE_EXTRA_LIBS)
TESTS += tests/check_proto
