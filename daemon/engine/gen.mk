# daemon/engine/gen.mk -- build fragment for the gen component (included by daemon/engine/local.mk)
