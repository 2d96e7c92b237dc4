# lib.sh -- shared by orcd's integration tests (sourced, not run).
# Starts the real orcd on a temporary socket with a models directory of
# symlinks into ../shared, and cleans up on every exit: the daemon is
# killed, waited for (bounded), and the temporary directory removed.
# Every wait here is bounded; no test can hang.

set -u
: "${ORC_BUILDDIR:=$(pwd)}"
: "${ORC_SHARED:=$ORC_BUILDDIR/../../shared}"
ORCD=$ORC_BUILDDIR/daemon/orcd
CLIENT=$ORC_BUILDDIR/tests/integration/orcd-client
ORCCTL=$ORC_BUILDDIR/client/orcctl
MODELS_SRC=$ORC_SHARED/models

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -n "${T:-}" ] && [ -f "$T/orcd.log" ] && tail -n 40 "$T/orcd.log"; exit 1; }

[ -d "$MODELS_SRC" ] || skip "shared fixtures not found at $ORC_SHARED (set ORC_SHARED)"
[ -x "$ORCD" ] || fail "no orcd at $ORCD"
[ -x "$CLIENT" ] || fail "no orcd-client at $CLIENT"

T=$(mktemp -d "${TMPDIR:-/tmp}/orcd-test.XXXXXX") || exit 1
SOCK=$T/orcd.sock
mkdir -p "$T/models"
DAEMON_PID=

cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# add_model NAME [FILE]: link a shared model into the models directory.
add_model() {
	ln -sf "$MODELS_SRC/${2:-$1}.gguf" "$T/models/$1.gguf"
}

# client ARGS...: the test client on our socket, with a time limit.
client() { timeout "${CLIENT_TIMEOUT:-120}" "$CLIENT" -S "$SOCK" "$@"; }

# wait_ready: until orcd answers status, even with an error (at most ~20 s).
wait_ready() {
	local rc
	for _ in $(seq 1 200); do
		if [ -S "$SOCK" ]; then
			"$CLIENT" -S "$SOCK" status >/dev/null 2>&1
			rc=$?
			[ $rc -eq 0 ] || [ $rc -eq 1 ] && return 0
		fi
		[ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null && fail "orcd exited early"
		sleep 0.1
	done
	fail "orcd did not become ready"
}

# start_orcd [ARGS...]: orcd on $SOCK serving $T/models on the CPU.
start_orcd() {
	"$ORCD" --socket "$SOCK" --models "$T/models" --backend cpu --threads 1 \
		--config /dev/null "$@" >"$T/orcd.log" 2>&1 &
	DAEMON_PID=$!
	wait_ready
}

# stop_orcd: SIGTERM, and the exit status must be 0 within 15 s.
stop_orcd() {
	kill -TERM "$DAEMON_PID" || fail "orcd is gone"
	for _ in $(seq 1 150); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DAEMON_PID" 2>/dev/null && fail "orcd did not stop within 15 s of SIGTERM"
	wait "$DAEMON_PID"
	rc=$?
	DAEMON_PID=
	[ "$rc" -eq 0 ] || fail "orcd exited $rc after SIGTERM"
}

# counter NAME: a counter from status.
counter() { client status | awk -v n="$1" '$1 == n { print $2 }'; }

# wait_counter NAME VALUE: until the counter equals VALUE (at most ~20 s).
wait_counter() {
	for _ in $(seq 1 200); do
		[ "$(counter "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "counter $1 never reached $2 (now $(counter "$1"))"
}
