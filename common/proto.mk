# common/proto.mk -- protocol schema, framing and codec (appends to libcommon.la)
