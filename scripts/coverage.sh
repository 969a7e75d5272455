#!/bin/sh
# coverage.sh: `make coverage`.  Line coverage of src/ by the whole test
# suite, the tests in the kernel VM included:
#
#   1. builds everything with gcc --coverage (-O0) into build-cov/
#      (COV_B), apart from build/;
#   2. runs `make tests` there: every host test group and check-kernel,
#      whose guest writes its .gcda files into its own tmpfs (GCOV_PREFIX)
#      and copies them at the end into build-cov/gcov-guest, a folder
#      shared with the host (virtio-9p; tests/vm/runall.sh), moved to
#      build-cov.guest/ afterwards;
#   3. merges the guest's counts into the host's (gcov-tool merge: the same
#      objects, so the counters add up);
#   4. prints the per-file table (gcovr) into build-cov/coverage.txt, and
#      for the files only a real kernel exercises, their coverage from the
#      host alone next to host + guest.
#
# Exit status: that of the tests (the report is made either way).
# COV_TESTS (default "tests": everything) names the make targets to run,
# e.g. COV_TESTS=check-kernel for the guest's share alone (then "host
# alone" below means no test at all).
# COV_JOBS (default 2) is passed to make -j; FUZZ_CHECK_BUDGET defaults to
# 0 here (the libFuzzer runs add nothing to a report of these sources that
# the replay of their corpora does not).
set -u
cd "$(dirname "$0")/.." || exit 1
B=${COV_B:-build-cov}
JOBS=${COV_JOBS:-2}
TESTS=${COV_TESTS:-tests}
# the kernel-only paths: the kernel SCTP transport, the xfrm SAD backend and
# the ESP policy check of security ipsec
KFILES="src/ctp/ctp_tr_kernel.c src/features/ipsec/ipsec_sad_xfrm.c src/ctp/ctp_xfrm_policy.c"

scripts/deps.sh coverage || exit 1
make --no-print-directory B="$B" COVERAGE=1 -j"$JOBS" all || exit 1
find "$B" -name '*.gcda' -delete
rm -rf "$B/gcov-guest" "$B/gcov-host"

echo "coverage: running \"$TESTS\" with $B (COVERAGE=1)"
# shellcheck disable=SC2086 # TESTS are words
make --no-print-directory -k B="$B" COVERAGE=1 FUZZ_CHECK_BUDGET="${FUZZ_CHECK_BUDGET:-0}" \
	-j"$JOBS" $TESTS
rc=$?
[ $rc = 0 ] || echo "coverage: some tests FAILED (status $rc); the report covers what ran"

report() {   # OUT: gcovr's table of src/ for the .gcda files in $B
	gcovr -r . --object-directory "$B" --filter 'src/' --exclude 'src/.*_proto\.c' \
		--sort-uncovered --txt > "$1" 2> "$1.err" ||
		{ echo "coverage: gcovr failed:"; cat "$1.err"; return 1; }
}
# "LINES EXEC COVER" of file $2 in gcovr's table $1 (a long name wraps: its
# numbers are then on the next line)
line_of() {
	awk -v f="$2" 'w { print $1, $2, $3; exit } $1 == f { if (NF == 1) w = 1; else { print $2, $3, $4; exit } }' "$1"
}

# the host's counts alone, for the comparison
report "$B/coverage-host.txt" || exit 1
# (the guest's tree moves out of $B first, or the merge would see it twice)
abs=$(cd "$B" && pwd)
rm -rf "$abs.guest" "$abs.merged"
[ -d "$B/gcov-guest" ] && mv "$B/gcov-guest" "$abs.guest"
guest="$abs.guest$abs"
if [ -d "$guest" ] && [ -n "$(find "$guest" -name '*.gcda' | head -1)" ]; then
	n=$(find "$guest" -name '*.gcda' | wc -l)
	if [ -z "$(find "$abs" -name '*.gcda' | head -1)" ]; then
		# no host counts (COV_TESTS without host tests): gcov-tool merge
		# refuses an empty folder, and there is nothing to add up anyway
		(cd "$guest" && find . -name '*.gcda' -exec cp --parents {} "$abs/" \;)
	else
		# (the union: a file only one side has is taken as it is)
		gcov-tool merge -o "$abs.merged" "$guest" "$abs" > /dev/null 2>&1 ||
			{ echo "coverage: gcov-tool merge failed"; exit 1; }
		(cd "$abs.merged" && find . -name '*.gcda' -exec cp --parents {} "$abs/" \;)
		rm -rf "$abs.merged"
	fi
	echo "coverage: $n .gcda files from the guest merged into $B"
else
	echo "coverage: NO coverage data came back from the guest (was check-kernel skipped?):"
	echo "coverage: the kernel-only files below count the host's tests alone"
fi
report "$B/coverage.txt" || exit 1
cat "$B/coverage.txt"
echo
echo "kernel-only files            host alone (lines, executed, %)   host + guest"
for f in $KFILES; do
	printf '  %-34s %-24s %s\n' "$f" "$(line_of "$B/coverage-host.txt" "$f")" \
		"$(line_of "$B/coverage.txt" "$f")"
done
echo "coverage: the table is in $B/coverage.txt (host alone: $B/coverage-host.txt)"
exit $rc
