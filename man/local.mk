# man/local.mk -- the manual pages (mdoc), installed by `make install` and
# checked by tests/admin/manlint.test and tests/admin/docsync.test.
dist_man_MANS += \
	man/orcctl.1 \
	man/libocclient.3 \
	man/orcd.conf.5 \
	man/orcd-protocol.7 \
	man/orcd.8
