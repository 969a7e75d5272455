#!/bin/sh
# check-kernel.sh TIMEOUT FILE...: `make check-kernel`.  Boots the kernel VM
# once with FILE... in its /test and runs runall.sh there.  kvm-run.sh's
# status 77 means the VM cannot run on this machine: that is a skip, said
# loudly, and a success unless KVM_REQUIRED=1.
timeout=$1; shift
n=$#
for f in "$@"; do set -- "$@" -f "$f"; done   # FILE... -> -f FILE...
shift "$n"
dir=$(dirname "$0")
start=$(date +%s)
"$dir/kvm-run.sh" -t "$timeout" "$@" "$dir/runall.sh"
rc=$?
secs=$(( $(date +%s) - start ))
if [ "$rc" -eq 77 ]; then
  cat >&2 <<MSG

  ************************************************************************
  *  check-kernel SKIPPED: the kernel VM cannot run on this machine      *
  *  (see the kvm-run: SKIP line above for why).  The kernel SCTP        *
  *  transport and its usrsctp interop were NOT tested.                  *
  ************************************************************************

MSG
  [ "${KVM_REQUIRED:-0}" = 1 ] && { echo "check-kernel: KVM_REQUIRED=1: failing" >&2; exit 1; }
  exit 0
fi
case $rc in
  0) echo "check-kernel: passed (${secs} s)" ;;
  124) echo "check-kernel: FAILED: the VM timed out after $timeout s" >&2 ;;
  125) echo "check-kernel: FAILED: the guest died before reporting" >&2 ;;
  *) echo "check-kernel: FAILED (status $rc, ${secs} s)" >&2 ;;
esac
exit "$rc"
