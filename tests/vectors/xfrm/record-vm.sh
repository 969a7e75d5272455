#!/bin/sh
# record-vm.sh [BUILD]: make the recordings of this folder again (README):
# boots the kernel VM (tests/vm/kvm-run.sh) with record.sh and xfrm_drv,
# the guest writing into a shared temporary folder, then copies the
# results here.  Needs `make BUILD/tests/vm/xfrm_drv` first.
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
b=${1:-$top/build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$top/tests/vm/kvm-run.sh" -t 300 -9 "$out" -f "$b/tests/vm/xfrm_drv" "$here/record.sh" "$out"
cp "$out"/*.hex "$out"/*.txt "$here/"
echo "record-vm.sh: $(ls "$out" | wc -l) files copied to $here"
