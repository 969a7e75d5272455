#!/bin/sh
# tests/fuzz/check.sh BUILD: the fuzz part of `make check`.
#
#  1. Replay: every file of tests/fuzz/corpus/NAME/ through BUILD/fuzz-replay/
#     fuzz_NAME (the harness with tests/fuzz/replay.c's main, built by make
#     with the ordinary compiler and the build's sanitizers).  A harness
#     reports a finding by aborting: any failure fails the check.  Every
#     harness must have a corpus, and every corpus a harness.
#  2. When clang is installed: a short libFuzzer run of every harness
#     (tests/fuzz/run.sh, into BUILD/fuzz), FUZZ_CHECK_BUDGET seconds in all
#     (default 120, at least 5 each; 0 skips it), seeded (FUZZ_SEED, 1) so
#     that a run is close to repeatable.  `make fuzz` is the long run.
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${1:-build}
budget=${FUZZ_CHECK_BUDGET:-120}
fail=0
n=0
inputs=0

export CTPD_PLUGIN_DIR="$B/plugins"
for src in tests/fuzz/fuzz_*.c; do
	h=$(basename "$src" .c)
	name=${h#fuzz_}
	corpus=tests/fuzz/corpus/$name
	n=$((n + 1))
	if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		echo "FAIL: $h has no committed corpus ($corpus)"
		fail=1
		continue
	fi
	if ! out=$("$B/fuzz-replay/$h" "$corpus" 2>&1); then
		echo "FAIL: $h: an input of $corpus fails:"
		echo "$out" | tail -n 20 | sed 's/^/    /'
		fail=1
		continue
	fi
	k=$(echo "$out" | sed -n 's/.*: \([0-9]*\) inputs replayed$/\1/p' | tail -1)
	inputs=$((inputs + ${k:-0}))
done
for d in tests/fuzz/corpus/*/; do
	name=$(basename "$d")
	[ -f "tests/fuzz/fuzz_$name.c" ] || { echo "FAIL: corpus $d has no harness"; fail=1; }
done
echo "fuzz: $inputs committed inputs through $n harnesses: $([ $fail = 0 ] && echo ok || echo FAILED)"

if [ "$budget" = 0 ]; then
	echo "fuzz: no libFuzzer run here (FUZZ_CHECK_BUDGET=0; make check-fuzz runs one, make fuzz a long one)"
elif [ "$budget" -gt 0 ] 2>/dev/null; then
	if command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
		each=$((budget / n))
		[ $each -lt 5 ] && each=5
		echo "fuzz: libFuzzer, $each s per harness (make fuzz runs them longer)"
		# the harnesses load run.sh's own clang-built plugins: the build's
		# (gcc, perhaps with gcc's ASan) would mix two ASan runtimes
		env -u CTPD_PLUGIN_DIR B="$B" FUZZ_SEED="${FUZZ_SEED:-1}" tests/fuzz/run.sh "$each" || fail=1
	else
		echo "fuzz: clang not installed: the short libFuzzer run is skipped"
	fi
fi
[ $fail = 0 ]
