# daemon/engine/cuda.mk -- build fragment for the cuda component (included by daemon/engine/local.mk)
