#!/bin/sh
# runall.sh: the guest side of `make check-kernel`.  Runs each test command
# (one argument each, split into words; the default list when none is given)
# from /test, shows its output, and ends with the plain summary line CI reads:
# "N passed, N failed".  Exit status 0 only when every test passed.
cd "$(dirname "$0")" || exit 1
[ $# -gt 0 ] || set -- "./unit-tests tr_kernel" "./tr_kernel_test t1" "./tr_kernel_t2.sh" \
  "./xfrm_test.sh"
echo "runall: kernel $(uname -r), $# test(s)"
pass=0 fail=0 n=0
for t in "$@"; do
  n=$((n + 1))
  log=/tmp/runall.$n.log
  start=$(cut -d' ' -f1 /proc/uptime)
  # shellcheck disable=SC2086 # word splitting is the point
  if $t > "$log" 2>&1; then rc=0; else rc=$?; fi
  secs=$(awk -v s="$start" -v e="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", e - s }')
  if [ "$rc" -eq 0 ]; then
    pass=$((pass + 1)); echo "ok   $t (${secs} s)"
  else
    fail=$((fail + 1)); echo "FAIL $t (exit $rc, ${secs} s)"
  fi
  sed 's/^/     | /' "$log"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
