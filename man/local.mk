# man/local.mk -- the manual pages (mdoc), installed by `make install` and
# checked by tests/admin/manlint.test and tests/admin/docsync.test.
# man/orcd.8 and man/orcd.conf.5 are listed by daemon/local.mk.
dist_man_MANS += \
	man/orcctl.1 \
	man/libocclient.3 \
	man/orcd-protocol.7
