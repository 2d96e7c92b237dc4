# tests/fuzz/chat_template.mk -- libFuzzer harness for chat-template
# recognition and rendering (daemon/chat_template.c; clang only).
#   make fuzz-chat-template-build          build tests/fuzz/fuzz_chat_template
#   make fuzz-chat-template FUZZ_TIME=120  run it on tests/fuzz/corpus/chat_template;
#       new inputs go to tests/fuzz/work-chat-template, crashers to the corpus
# check_chat_template_fuzz replays the corpus (seeds and crashers) in make check.
EXTRA_DIST += tests/fuzz/corpus/chat_template tests/fuzz/chat_template.mk
FUZZ_CHAT_TEMPLATE_SRCS = \
	$(srcdir)/tests/fuzz/fuzz_chat_template.c \
	$(srcdir)/daemon/chat_template.c $(srcdir)/common/error.c

if HAVE_CLANG
tests/fuzz/fuzz_chat_template: $(FUZZ_CHAT_TEMPLATE_SRCS) $(srcdir)/daemon/chat_template.h \
		$(srcdir)/tests/fuzz/fuzz_chat_template.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -fno-sanitize-recover=undefined -std=c11 -DORC_FUZZ_MAIN \
		-I$(top_builddir) -I$(srcdir)/common -I$(srcdir)/daemon -I$(srcdir)/tests/fuzz \
		-o $@ $(FUZZ_CHAT_TEMPLATE_SRCS)

fuzz-chat-template-build: tests/fuzz/fuzz_chat_template

fuzz-chat-template: fuzz-chat-template-build
	@$(MKDIR_P) tests/fuzz/work-chat-template
	tests/fuzz/fuzz_chat_template -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 \
		-artifact_prefix=$(srcdir)/tests/fuzz/corpus/chat_template/ \
		tests/fuzz/work-chat-template $(srcdir)/tests/fuzz/corpus/chat_template
else
fuzz-chat-template-build fuzz-chat-template:
	@echo "$@: clang was not found by configure; install clang and re-run configure" >&2; exit 1
endif
.PHONY: fuzz-chat-template-build fuzz-chat-template
CLEANFILES += tests/fuzz/fuzz_chat_template
