# tests/bench/tokenizer.mk -- tokenizer benchmark
