#!/bin/sh
# check-kernel.sh TIMEOUT [-p PATH]... [-9 DIR] FILE...: `make check-kernel`.
# Boots the kernel VM once with FILE... in its /test (and each PATH at its
# own place, DIR shared) and runs runall.sh there.  kvm-run.sh's status 77
# means the VM cannot run on this machine: that is a skip, said loudly, and
# a success unless KVM_REQUIRED=1.  Extra environment for the guest's tests
# goes through KVMRUN_APPEND (see runall.sh).
timeout=$1; shift
opts=
while [ $# -gt 0 ]; do
  case $1 in
    -p|-9) opts="$opts $1 $2"; shift 2 ;;
    *) break ;;
  esac
done
n=$#
for f in "$@"; do set -- "$@" -f "$f"; done   # FILE... -> -f FILE...
shift "$n"
dir=$(dirname "$0")
case $opts in *" -p /usr/lib/ipsec"*) ;; *)
  cat >&2 <<MSG

  *  check-kernel: strongSwan (strongswan-charon, strongswan-swanctl) is not
  *  installed on this machine: ipsec_chain.sh ike will be SKIPPED.
  *  (make deps installs it)

MSG
esac
start=$(date +%s)
# shellcheck disable=SC2086 # opts are words
"$dir/kvm-run.sh" -m 1024 -t "$timeout" $opts "$@" "$dir/runall.sh"
rc=$?
secs=$(( $(date +%s) - start ))
if [ "$rc" -eq 77 ]; then
  cat >&2 <<MSG

  ************************************************************************
  *  check-kernel SKIPPED: the kernel VM cannot run on this machine      *
  *  (see the kvm-run: SKIP line above for why).  NOT tested: the kernel *
  *  SCTP transport and its usrsctp interop, ctpd on kernel SCTP, the    *
  *  xfrm SAD backend, the SA handover between gateways' kernels (also   *
  *  with strongSwan), the ESP policy check of security ipsec.           *
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
