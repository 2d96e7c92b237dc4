# daemon/engine/local.mk -- the inference engine library (libengine.la):
# GGUF loader, tokenizer, backends, model graphs, sampler. Linked by orcd,
# orcctl's offline commands, the tests and the benchmarks. Each component
# appends its sources from its own fragment.
noinst_LTLIBRARIES += daemon/engine/libengine.la
daemon_engine_libengine_la_SOURCES =
daemon_engine_libengine_la_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(CUDA_CFLAGS)
daemon_engine_libengine_la_LIBADD = common/libcommon.la $(PCRE2_LIBS) $(UNISTRING_LIBS) -lm
ENGINE_LIBS = daemon/engine/libengine.la
ENGINE_EXTRA_LIBS =

include $(srcdir)/daemon/engine/gguf.mk
include $(srcdir)/daemon/engine/tokenizer.mk
include $(srcdir)/daemon/engine/backend.mk
include $(srcdir)/daemon/engine/gen.mk
include $(srcdir)/daemon/engine/cuda.mk
