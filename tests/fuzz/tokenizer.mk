# tests/fuzz/tokenizer.mk -- fuzz harness for tokenizer
