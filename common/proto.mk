# common/proto.mk -- protocol schema, framing and codec (appends to libcommon.la)
common_libcommon_la_SOURCES += \
	common/proto.h \
	common/frame.h common/frame.c \
	common/prescan.h common/prescan.c \
	common/proto_schema.h common/proto_schema.c \
	common/proto_codec.h common/proto_codec.c \
	common/proto_enc.c common/proto_dec.c \
	common/proto_status.c
