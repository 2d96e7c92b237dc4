# common/proto.mk -- protocol schema, framing and codec (appends to libcommon.la)
common_libcommon_la_SOURCES += \
	common/proto.h \
	common/frame.h \
	common/prescan.h
