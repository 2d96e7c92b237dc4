# daemon/engine/gguf.mk -- build fragment for the gguf component (included by daemon/engine/local.mk)
