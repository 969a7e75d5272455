#!/bin/bash
# bench/ike/prepare.sh BUILD: build strongSwan with the load-tester plugin
# for the IKEv2 side of the benchmarks.  Nothing of strongSwan is committed:
# this fetches Debian's own source package and builds it under BUILD/bench/.
#
# Debian ships no load-tester plugin in any strongSwan package, so the way of
# perf-anchors.md section 6 is followed:
#  - a private apt configuration (its own sources, lists and cache under
#    BUILD/bench/apt) with one deb-src entry for <codename>-security, the
#    same mirror and keyring as the system's security entry: the system's
#    sources are never touched;
#  - `apt-get source --download-only strongswan`; the orig tarball is
#    upstream strongSwan, checked against the signed Sources index;
#  - configure with the anchors' flags (--enable-load-tester ...), build
#    into BUILD/bench/strongswan, linked against the system OpenSSL.
# Cached: when BUILD/bench/strongswan/.stamp exists nothing is done.
#
# Prints one line on stdout: "ok <description>" or "fail <reason>", and
# exits 0 or 1 with it.  The build log goes to BUILD/bench/src/build.log.
# Debian's patches are not applied (the stamp says "Debian patches: no"):
# the mirror has no debian.tar.xz for 5.9.8-5+deb12u6 (404), as the anchors
# found.  Debian's changelog lists them as security fixes (perf-anchors
# section 1); the build is upstream 5.9.8, as the anchors measured it.
set -u
B=$(cd "${1:-build}" && pwd)
W=$B/bench
SS=$W/strongswan
A=$W/apt
SRC=$W/src
LOG=$SRC/build.log
PKG=strongswan

fail() {
	echo "fail $*"
	exit 1
}

if [ -f "$SS/.stamp" ] && [ -x "$SS/libexec/ipsec/charon" ]; then
	echo "ok $(cat "$SS/.stamp") (cached)"
	exit 0
fi

for t in apt-get apt-cache tar bzip2 gcc make pkg-config sha256sum; do
	command -v "$t" > /dev/null || fail "$t is missing (scripts/deps.sh bench installs it)"
done
pkg-config --exists libcrypto || fail "libssl-dev is missing (scripts/deps.sh bench)"
[ -f /usr/include/gmp.h ] || [ -f /usr/include/x86_64-linux-gnu/gmp.h ] ||
	fail "libgmp-dev is missing (scripts/deps.sh bench)"

# The security mirror and keyring the system itself uses (deb822 or
# one-line format), unless BENCH_IKE_SRC_URI says otherwise.
codename=$(awk -F= '$1 == "VERSION_CODENAME" { print $2 }' /etc/os-release 2> /dev/null)
codename=${codename:-bookworm}
suite=$codename-security
uri=${BENCH_IKE_SRC_URI:-}
if [ -z "$uri" ]; then
	uri=$(cat /etc/apt/sources.list.d/*.sources 2> /dev/null | awk -v s="$suite" '
		/^[ \t]*$/ { if (sec && u != "") { print u; exit } u = ""; sec = 0; next }
		/^URIs:/ { u = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) sec = 1 }
		END { if (sec && u != "") print u }' | head -1)
fi
if [ -z "$uri" ]; then
	uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2> /dev/null |
		awk -v s="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == s) { u = $(i - 1); sub(/^\[.*\]$/, "", u); print u; exit } }')
fi
uri=${uri:-http://deb.debian.org/debian-security}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$A/etc/sources.list.d" "$A/lists/partial" "$A/cache/archives/partial" "$SRC"
cat > "$A/etc/sources.list.d/src.sources" << EOF
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring
EOF
APTO=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$A/etc/sources.list.d"
	-o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o APT::Sandbox::User=root)

: > "$LOG"
echo "== apt-get update ($uri $suite, deb-src)" >> "$LOG"
apt-get "${APTO[@]}" update >> "$LOG" 2>&1 ||
	fail "apt-get update of the deb-src index ($uri $suite) failed: $(grep -E '^(E|Err):' "$LOG" | tail -1)"
showsrc=$(apt-cache "${APTO[@]}" showsrc "$PKG" 2> /dev/null)
version=$(printf '%s\n' "$showsrc" | awk '/^Version:/ { print $2; exit }')
[ -n "$version" ] ||
	fail "no $PKG source package in $uri $suite: $(grep -A1 -E '^(E|Err|W):' "$LOG" | head -2 | tr -s ' \n' ' ')"
orig=$(printf '%s\n' "$showsrc" | awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 }
	f && $3 ~ /\.orig\.tar\./ && $3 !~ /\.asc$/ { print $1, $3; exit }')
[ -n "$orig" ] || fail "the $PKG $version source package lists no orig tarball"
sum=${orig%% *}
tarball=${orig#* }
upstream=${tarball#"${PKG}"_}
upstream=${upstream%.orig.tar.*}

if ! { [ -f "$SRC/$tarball" ] && echo "$sum  $SRC/$tarball" | sha256sum -c --status; }; then
	echo "== apt-get source --download-only $PKG=$version" >> "$LOG"
	# Debian's .dsc and debian.tar.xz may be gone from the mirror (they were
	# for 5.9.8-5+deb12u6: 404) while the orig tarball is there: only the
	# tarball is needed, so apt's error is judged by what arrived.
	(cd "$SRC" && apt-get "${APTO[@]}" source --download-only "$PKG=$version") >> "$LOG" 2>&1
	[ -f "$SRC/$tarball" ] ||
		fail "could not fetch $tarball of $PKG $version from $uri: $(grep -E '^(E|Err):' "$LOG" | head -1)"
	echo "$sum  $SRC/$tarball" | sha256sum -c --status ||
		fail "$tarball does not match the SHA-256 of the signed Sources index"
fi
patches="no"
if [ -n "$(find "$SRC" -maxdepth 1 -name "${PKG}_${version#*:}.debian.tar.*" -print -quit)" ]; then
	patches="available, not applied"
fi

dir=$SRC/$PKG-$upstream
rm -rf "$dir"
echo "== tar xf $tarball" >> "$LOG"
tar -C "$SRC" -xf "$SRC/$tarball" >> "$LOG" 2>&1 || fail "could not unpack $tarball"
[ -d "$dir" ] || fail "$tarball did not unpack into $PKG-$upstream"

# The anchors' flags (perf-anchors.md section 6), with our own prefix.
flags=(--prefix="$SS" --sysconfdir="$SS/etc" --with-piddir="$SS/run"
	--enable-load-tester --enable-openssl --enable-curve25519 --enable-chapoly
	--enable-aesni --enable-gcm --enable-swanctl --enable-vici --disable-stroke
	--disable-scepclient --with-systemdsystemunitdir=no
	--disable-dependency-tracking)
t0=$(date +%s)
echo "== configure ${flags[*]} CFLAGS=-O2 -g" >> "$LOG"
(cd "$dir" && ./configure "${flags[@]}" CFLAGS="-O2 -g") >> "$LOG" 2>&1 ||
	fail "configure failed: $(grep -E 'error' "$LOG" | tail -1)"
echo "== make -j$(nproc)" >> "$LOG"
(cd "$dir" && make -j"$(nproc)") >> "$LOG" 2>&1 ||
	fail "make failed: $(grep -E 'error' "$LOG" | tail -1)"
rm -rf "$SS"
(cd "$dir" && make install) >> "$LOG" 2>&1 || fail "make install failed"
mkdir -p "$SS/run"
if [ ! -x "$SS/libexec/ipsec/charon" ] ||
	[ ! -f "$SS/lib/ipsec/plugins/libstrongswan-load-tester.so" ]; then
	fail "the build has no charon or no load-tester plugin"
fi
t1=$(date +%s)
stamp="strongSwan $upstream built from Debian source package $PKG $version ($tarball, sha256 ${sum:0:16}..., from $uri $suite), Debian patches: $patches; built in $((t1 - t0)) s"
echo "$stamp" > "$SS/.stamp"
echo "${flags[*]} CFLAGS=-O2 -g" > "$SS/.configure-flags"
rm -rf "$dir"
echo "ok $stamp"
