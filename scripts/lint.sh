#!/bin/sh
# scripts/lint.sh: the static checks of `make lint` (part of `make check`),
# over the product's code (src/; tests are not linted).  Both must be clean.
#
#   cppcheck    --enable=warning,portability,performance: real defects and
#               undefined behaviour, not style.  A false positive is
#               suppressed where it occurs (// cppcheck-suppress ID) with
#               the reason next to it.
#   clang-tidy  the checks of .clang-tidy (the bugprone family, with the
#               exclusions it explains), every warning an error; a false
#               positive gets // NOLINT(check): reason.
# A tool that is not installed is reported and skipped (make deps installs
# both).
set -u
cd "$(dirname "$0")/.." || exit 2
fail=0
srcs=$(ls src/ctp/*.c src/ctpmn/*.c src/features/*/*.c)
# the words keep their quotes: each -D gives a C string
LINT_CFLAGS='-std=c11 -D_GNU_SOURCE -DCTP_VERSION_STR="lint" -DCTP_PLUGINDIR="lib" -DCTP_DATADIR="share" -Iinclude -Isrc'
LINT_CFLAGS="$LINT_CFLAGS $(pkg-config --cflags libxml-2.0 2>/dev/null)"
export LINT_CFLAGS

if command -v cppcheck >/dev/null 2>&1; then
	out=$(cppcheck -q --std=c11 --enable=warning,portability,performance --inline-suppr \
	    --error-exitcode=1 --suppress=missingIncludeSystem -Iinclude -Isrc -D__GNUC__ \
	    -j "$(nproc 2>/dev/null || echo 1)" $srcs 2>&1) || fail=1
	[ -n "$out" ] && { echo "$out"; fail=1; }
	echo "lint: cppcheck over $(echo "$srcs" | wc -w) files: $([ -z "$out" ] && echo clean || echo FINDINGS)"
else
	echo "lint: cppcheck is not installed: SKIPPED (make deps installs it)"
fi
if command -v clang-tidy >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	out=$(echo "$srcs" | tr ' ' '\n' | xargs -P "$(nproc 2>/dev/null || echo 1)" -n 8 \
	    sh -c 'clang-tidy -quiet "$@" -- $LINT_CFLAGS 2>/dev/null' lint |
	    grep -E 'warning:|error:')
	[ -n "$out" ] && { echo "$out"; fail=1; }
	echo "lint: clang-tidy (.clang-tidy) over $(echo "$srcs" | wc -w) files: $([ -z "$out" ] && echo clean || echo FINDINGS)"
else
	echo "lint: clang-tidy is not installed: SKIPPED (make deps installs it)"
fi
exit $fail
