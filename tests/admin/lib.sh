# tests/admin/lib.sh -- sourced by tests/admin/*.test: where things are, the
# build's settings (env.sh), skip/fail helpers and the shared DESTDIR tree.
set -u

: "${ORC_SRCDIR:?run through make check}"
: "${ORC_BUILDDIR:?run through make check}"
. "$ORC_BUILDDIR/tests/admin/env.sh"

ADMIN_DESTDIR="$ORC_BUILDDIR/tests/admin/destdir"
ADMIN_STAMP="$ADMIN_DESTDIR.ok"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
need_tool() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }

# A scratch directory of this test, removed on exit.
admin_tmp() {
	mkdir -p "$ORC_BUILDDIR/tests/admin/tmp"
	ADMIN_TMP=$(mktemp -d "$ORC_BUILDDIR/tests/admin/tmp/${0##*/}.XXXXXX")
	trap 'rm -rf "$ADMIN_TMP"' EXIT
}

# The tree that install.test made; the tests that use it run after it.
need_destdir() {
	[ -f "$ADMIN_STAMP" ] || fail "no DESTDIR tree: install.test did not succeed"
}

# Is the word $1 in the list $2?
in_list() {
	case " $2 " in *" $1 "*) return 0 ;; esac
	return 1
}
