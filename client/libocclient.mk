# client/libocclient.mk -- the client library (libocclient), its header and .pc
