#!/bin/bash
# soak.sh -- make soak: start orcd (as built: the ASan build under
# --enable-sanitizers, or under valgrind with SOAK_VALGRIND=1) on the CPU
# with the small shared models, run the soak driver against it, stop it
# with SIGTERM and require a clean exit (no leak or error report).
# Environment: ORC_SHARED, SOAK_CLIENTS (64), SOAK_REQUESTS (2000),
# SOAK_DISTINCT (200), SOAK_SEED, SOAK_VALGRIND, SOAK_KEEP (keep the directory).
set -u
B=${ORC_BUILDDIR:-$(pwd)}
: "${ORC_SHARED:=$B/../../shared}"
M=$ORC_SHARED/models
[ -d "$M" ] || { echo "soak: no shared models at $ORC_SHARED (set ORC_SHARED)"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/orcd-soak.XXXXXX") || exit 1
mkdir -p "$T/models" "$T/out"
MODELS="stories260K tiny-qwen2-q8_0 tiny-llama-f16 tiny-phi3-bf16 tiny-gpt2-f32"
for m in $MODELS; do ln -s "$M/$m.gguf" "$T/models/$m.gguf"; done
PRE=()
[ -n "${SOAK_VALGRIND:-}" ] && PRE=(valgrind --leak-check=full --errors-for-leak-kinds=definite
	--error-exitcode=99 --log-file="$T/valgrind.log")
"${PRE[@]}" "$B/daemon/orcd" --socket "$T/orcd.sock" --models "$T/models" --backend cpu --threads 1 \
	--config /dev/null --set max_sequences=16 --set max_queued=1024 --set keep_alive=forever \
	>"$T/orcd.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -S "$T/orcd.sock" ] && break; sleep 0.1; done
"$B/tests/soak/soak" -S "$T/orcd.sock" -p $pid -m "$(echo $MODELS | tr ' ' ,)" \
	-c "${SOAK_CLIENTS:-64}" -n "${SOAK_REQUESTS:-2000}" -d "${SOAK_DISTINCT:-200}" \
	-s "${SOAK_SEED:-1}" -o "$T/out"
rc=$?
kill -TERM $pid
wait $pid
orc=$?
echo "orcd exit status after SIGTERM: $orc"
grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$T/orcd.log" | head -5
[ -n "${SOAK_VALGRIND:-}" ] && grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$T/valgrind.log"
echo "RSS samples (s, KiB): $T/out/rss.tsv"
awk 'NR % 10 == 1 { printf "%s:%s ", $1, $2 } END { print "" }' "$T/out/rss.tsv"
[ -n "${SOAK_KEEP:-}" ] || { cp "$T/out/rss.tsv" soak-rss.tsv 2>/dev/null; rm -rf "$T"; }
[ $rc -eq 0 ] && [ $orc -eq 0 ]
