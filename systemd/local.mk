# systemd/local.mk -- units, sysusers.d and tmpfiles.d files.
systemdunitdir = $(systemdsystemunitdir)
systemdunit_DATA = systemd/orcd.socket systemd/orcd.service
CLEANFILES += systemd/orcd.service
EXTRA_DIST += systemd/orcd.socket systemd/orcd.service.in systemd/orcd.sysusers systemd/orcd.tmpfiles

systemd/orcd.service: systemd/orcd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && sed \
		-e 's|@sbindir[@]|$(sbindir)|g' \
		-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/orcd.service.in > $@

install-data-local: install-sysusers-tmpfiles
uninstall-local: uninstall-sysusers-tmpfiles
install-sysusers-tmpfiles:
	$(MKDIR_P) $(DESTDIR)$(sysusersdir) $(DESTDIR)$(tmpfilesdir)
	$(INSTALL_DATA) $(srcdir)/systemd/orcd.sysusers $(DESTDIR)$(sysusersdir)/orcd.conf
	$(INSTALL_DATA) $(srcdir)/systemd/orcd.tmpfiles $(DESTDIR)$(tmpfilesdir)/orcd.conf
uninstall-sysusers-tmpfiles:
	rm -f $(DESTDIR)$(sysusersdir)/orcd.conf $(DESTDIR)$(tmpfilesdir)/orcd.conf

# The administration component's acceptance tests.
include $(srcdir)/tests/admin/local.mk
EXTRA_DIST += debian/changelog debian/control debian/rules debian/source/format debian/.gitignore
