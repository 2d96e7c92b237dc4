# systemd/local.mk -- units, sysusers.d and tmpfiles.d files, the example
# orcd.conf, the Debian packaging's files, and the administration tests.
systemdunitdir = $(systemdsystemunitdir)
systemdunit_DATA = systemd/orcd.socket systemd/orcd.service
CLEANFILES += systemd/orcd.service
EXTRA_DIST += systemd/orcd.socket systemd/orcd.service.in systemd/orcd.sysusers systemd/orcd.tmpfiles

systemd/orcd.service: systemd/orcd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && sed \
		-e 's|@sbindir[@]|$(sbindir)|g' \
		$(srcdir)/systemd/orcd.service.in > $@

# The example configuration: in the documentation directory, and as
# $(sysconfdir)/orcd/orcd.conf unless one is there already (it is never
# overwritten, and `make uninstall` removes it only when unchanged).
dist_doc_DATA = systemd/orcd.conf.example
orcdconfdir = $(sysconfdir)/orcd

install-data-local: install-sysusers-tmpfiles install-orcd-conf
uninstall-local: uninstall-sysusers-tmpfiles uninstall-orcd-conf
.PHONY: install-sysusers-tmpfiles uninstall-sysusers-tmpfiles install-orcd-conf uninstall-orcd-conf

install-sysusers-tmpfiles:
	$(MKDIR_P) $(DESTDIR)$(sysusersdir) $(DESTDIR)$(tmpfilesdir)
	$(INSTALL_DATA) $(srcdir)/systemd/orcd.sysusers $(DESTDIR)$(sysusersdir)/orcd.conf
	$(INSTALL_DATA) $(srcdir)/systemd/orcd.tmpfiles $(DESTDIR)$(tmpfilesdir)/orcd.conf
uninstall-sysusers-tmpfiles:
	rm -f $(DESTDIR)$(sysusersdir)/orcd.conf $(DESTDIR)$(tmpfilesdir)/orcd.conf

install-orcd-conf:
	$(MKDIR_P) $(DESTDIR)$(orcdconfdir)
	@if test -e $(DESTDIR)$(orcdconfdir)/orcd.conf; then \
		echo "keeping the existing $(DESTDIR)$(orcdconfdir)/orcd.conf"; \
	else \
		echo " $(INSTALL_DATA) $(srcdir)/systemd/orcd.conf.example $(DESTDIR)$(orcdconfdir)/orcd.conf"; \
		$(INSTALL_DATA) $(srcdir)/systemd/orcd.conf.example $(DESTDIR)$(orcdconfdir)/orcd.conf; \
	fi
uninstall-orcd-conf:
	@if cmp -s $(srcdir)/systemd/orcd.conf.example $(DESTDIR)$(orcdconfdir)/orcd.conf; then \
		echo " rm -f $(DESTDIR)$(orcdconfdir)/orcd.conf"; \
		rm -f $(DESTDIR)$(orcdconfdir)/orcd.conf; \
	elif test -e $(DESTDIR)$(orcdconfdir)/orcd.conf; then \
		echo "keeping the changed $(DESTDIR)$(orcdconfdir)/orcd.conf"; \
	fi
	-rmdir $(DESTDIR)$(orcdconfdir) 2>/dev/null

EXTRA_DIST += debian/changelog debian/control debian/rules debian/source/format debian/.gitignore \
	debian/orcd.install debian/libocclient0.install debian/libocclient-dev.install debian/not-installed

# The administration component's acceptance tests.
include $(srcdir)/tests/admin/local.mk
