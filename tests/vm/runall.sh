#!/bin/sh
# runall.sh: the guest side of `make check-kernel`.  Runs each test command
# (one argument each, split into words; the default list when none is given)
# from /test, shows its output, and ends with the plain summary line CI reads:
# "N passed, N failed, N skipped".  A test that exits 77 is skipped (it says
# why, loudly).  Exit status 0 only when no test failed.
#
# Coverage (`make coverage`): when the kernel command line gives GCOV_PREFIX
# (the kernel hands unknown NAME=VALUE words to init as its environment)
# the programs write their .gcda files under it, in the guest's own tmpfs
# where file locks work; CTP_GCOV_OUT names the folder shared with the host
# (kvm-run.sh -9) they are copied to at the end.
cd "$(dirname "$0")" || exit 1
[ $# -gt 0 ] || set -- "./unit-tests tr_kernel" "./tr_kernel_test t1" "./tr_kernel_t2.sh" \
  "./xfrm_test.sh" "./ctpd_kernel.sh" "./ipsec_chain.sh manual" "./ipsec_chain.sh ike" \
  "./ipsec_policy.sh"
echo "runall: kernel $(uname -r), $# test(s)"
pass=0 fail=0 skip=0 n=0
for t in "$@"; do
  n=$((n + 1))
  log=/tmp/runall.$n.log
  start=$(cut -d' ' -f1 /proc/uptime)
  # shellcheck disable=SC2086 # word splitting is the point
  if $t > "$log" 2>&1; then rc=0; else rc=$?; fi
  secs=$(awk -v s="$start" -v e="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", e - s }')
  if [ "$rc" -eq 0 ]; then
    pass=$((pass + 1)); echo "ok   $t (${secs} s)"
  elif [ "$rc" -eq 77 ]; then
    skip=$((skip + 1)); echo "SKIP $t (${secs} s)"
  else
    fail=$((fail + 1)); echo "FAIL $t (exit $rc, ${secs} s)"
  fi
  sed 's/^/     | /' "$log"
done
if [ -n "${GCOV_PREFIX:-}" ] && [ -n "${CTP_GCOV_OUT:-}" ] && [ -d "$GCOV_PREFIX" ]; then
  cp -r "$GCOV_PREFIX"/. "$CTP_GCOV_OUT"/ &&
    echo "runall: $(find "$GCOV_PREFIX" -name '*.gcda' | wc -l) .gcda files copied to $CTP_GCOV_OUT"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
