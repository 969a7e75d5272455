#!/bin/sh
# deps.sh [GROUP...]: install the Debian packages ctpd needs, when missing.
#
# As root it runs apt-get non-interactively (waiting for a dpkg lock another
# apt holds); otherwise it prints the exact command and exits 1.  Packages
# already installed are never touched.  Groups: build (compile and unit
# tests), test (everything `make check` runs), all (default: build and
# test), bench (what the IKEv2 side of `make bench` needs: the tools that
# build strongSwan from Debian's source package, capture and dissect IKE),
# coverage (test and gcovr, for `make coverage`).
set -eu

# make check-kernel: qemu and what the guest's initramfs is made of, and
# strongSwan for the IKEv2 leg of the SA handover in the guest
kernel="qemu-system-x86 busybox-static cpio xz-utils strongswan-charon strongswan-swanctl"
build="make gcc pkg-config libc6-dev libuv1-dev libssl-dev openssl libxml2-dev libxml2-utils
 libcunit1-dev libusrsctp-dev libsctp-dev"
test="tshark clang libclang-rt-14-dev valgrind iproute2 spin jq tcpdump wireshark-common
 cppcheck clang-tidy $kernel"
bench="make gcc pkg-config libc6-dev libssl-dev openssl libgmp-dev bzip2 tcpdump tshark iproute2"

groups=${*:-all}
want=
for g in $groups; do
	case $g in
	build) want="$want $build" ;;
	test) want="$want $build $test" ;;
	all) want="$want $build $test" ;;
	bench) want="$want $bench" ;;
	coverage) want="$want $build $test gcovr" ;;
	*) echo "deps.sh: unknown group $g (build, test, all, bench, coverage)" >&2; exit 2 ;;
	esac
done

missing=
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "ctpd needs these Debian packages:$missing" >&2
	echo "run as root:  apt-get update && $cmd" >&2
	exit 1
fi

echo "deps: installing$missing"
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
log=$(mktemp)
trap 'rm -f "$log"' EXIT
updated=0
for try in 1 2 3 4 5 6 7 8 9 10 11 12; do
	if env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    $missing >"$log" 2>&1; then
		echo "deps: done"
		exit 0
	fi
	if grep -q -i 'lock' "$log"; then
		echo "deps: dpkg is locked by another apt; waiting (try $try)"
		sleep 10
	elif [ $updated = 0 ]; then
		echo "deps: refreshing the package lists"
		apt-get update -q >/dev/null 2>&1 || true
		updated=1
	else
		break
	fi
done
cat "$log" >&2
echo "deps: could not install:$missing" >&2
exit 1
