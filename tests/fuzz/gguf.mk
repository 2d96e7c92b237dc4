# tests/fuzz/gguf.mk -- fuzz harness for gguf
