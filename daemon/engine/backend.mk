# daemon/engine/backend.mk -- build fragment for the backend component (included by daemon/engine/local.mk)
