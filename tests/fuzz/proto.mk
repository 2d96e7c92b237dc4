# tests/fuzz/proto.mk -- fuzz harness for the protocol (frame reader, prescan,
# codec). `make fuzz-proto FUZZ_TIME=SECONDS` runs it on the seed corpus;
# crashers go to tests/fuzz/corpus/proto/ so check_proto replays them.
EXTRA_DIST += tests/fuzz/corpus/proto
FUZZ_PROTO_SRCS = \
	$(srcdir)/tests/fuzz/fuzz_proto.c \
	$(srcdir)/common/error.c $(srcdir)/common/frame.c $(srcdir)/common/prescan.c \
	$(srcdir)/common/proto_schema.c $(srcdir)/common/proto_codec.c \
	$(srcdir)/common/proto_enc.c $(srcdir)/common/proto_dec.c $(srcdir)/common/proto_status.c

if HAVE_CLANG
tests/fuzz/fuzz_proto: $(FUZZ_PROTO_SRCS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -std=c11 -Wno-include-next-absolute-path -DORC_FUZZ_MAIN $(DEFS) $(DEFAULT_INCLUDES) \
		$(AM_CPPFLAGS) -I$(srcdir)/tests/fuzz $(MSGPACK_CFLAGS) -o $@ $(FUZZ_PROTO_SRCS) $(MSGPACK_LIBS)

fuzz-proto-build: tests/fuzz/fuzz_proto

fuzz-proto: fuzz-proto-build
	@$(MKDIR_P) tests/fuzz/work-proto
	tests/fuzz/fuzz_proto -max_total_time=$(FUZZ_TIME) -max_len=8192 -timeout=10 \
		-artifact_prefix=$(srcdir)/tests/fuzz/corpus/proto/ \
		tests/fuzz/work-proto $(srcdir)/tests/fuzz/corpus/proto
else
fuzz-proto-build fuzz-proto:
	@echo "fuzz-proto needs clang (not found by configure)"; exit 1
endif
.PHONY: fuzz-proto-build fuzz-proto
CLEANFILES += tests/fuzz/fuzz_proto
