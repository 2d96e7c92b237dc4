# tests/fuzz/local.mk -- libFuzzer harnesses (built with clang when present).
# `make fuzz-NAME FUZZ_TIME=SECONDS` runs one; each fragment adds its own.
FUZZ_TIME ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
include $(srcdir)/tests/fuzz/gguf.mk
include $(srcdir)/tests/fuzz/tokenizer.mk
include $(srcdir)/tests/fuzz/proto.mk
include $(srcdir)/tests/fuzz/chat_template.mk
