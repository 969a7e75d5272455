#!/bin/sh
# record-vm.sh [BUILD [SCRIPT]]: make the recordings of this folder again
# (README): boots the kernel VM (tests/vm/kvm-run.sh) with SCRIPT (default
# record.sh; record-policy.sh makes c-spd.hex and c-policy.txt) and
# xfrm_drv, the guest writing into a shared temporary folder, then copies
# the results here.  Needs `make BUILD/tests/vm/xfrm_drv` first.
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
b=${1:-$top/build}
script=${2:-record.sh}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$top/tests/vm/kvm-run.sh" -t 300 -9 "$out" -f "$b/tests/vm/xfrm_drv" "$here/$script" "$out"
cp "$out"/*.hex "$out"/*.txt "$here/"
echo "record-vm.sh: $(ls "$out" | wc -l) files copied to $here"
