# daemon/engine/tokenizer.mk -- build fragment for the tokenizer component (included by daemon/engine/local.mk)
