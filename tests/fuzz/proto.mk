# tests/fuzz/proto.mk -- fuzz harness for proto
