# tests/bench/local.mk -- benchmarks (not tests): `make bench` builds and runs them.
include $(srcdir)/tests/bench/tokenizer.mk
include $(srcdir)/tests/bench/prefix.mk
include $(srcdir)/tests/bench/engine.mk
include $(srcdir)/tests/bench/cuda.mk
