# tests/bench/engine.mk -- engine benchmark
