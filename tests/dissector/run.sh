#!/bin/sh
# tests/dissector/run.sh BUILD_DIR: decode every capture under pcap/ with
# wireshark/cxtp.lua and compare what tshark prints with pcap/NAME.expected.
#
# A capture is pcap/NAME.txt (hex octets that text2pcap turns into a pcap
# here), pcap/NAME.pcap, or pcap/daemon/NAME.pcap (recorded from real
# daemons by tests/replay/record.sh; NAME below is then daemon/NAME).  The
# format of NAME.txt:
#
#   # comment                      ignored, as is anything after '#'
#   %text2pcap -S 5091,5091,...    options for text2pcap (one line)
#   %same-without-dissector        the fields must not change when the
#                                  dissector is not loaded (ordinary traffic)
#   --- title                      starts the next packet
#   21 40 00 14   # header ...     the packet's octets, two hex digits each
#
# NAME.pcap takes its extra tshark options from NAME.tshark (one line, run
# from the repository top, split into words at blanks: no quoting), if
# present.
#
# NAME.expected is the exact output of
#   tshark -n -r NAME -X lua_script:wireshark/cxtp.lua -T fields -E header=y -e F1 -e F2 ...
# and its first line (the header) names the fields F1 F2 ... to print.
# To add a capture, write that header line alone into NAME.expected and run
# with CXTP_UPDATE=1, which rewrites every .expected; review the diff.
#
# The test fails on any difference, on "Lua" in tshark's stderr (a script
# that does not load still exits 0) and on "Lua Error" in the expert infos
# (what a dissector that throws leaves in the tree).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: tests/dissector/run.sh BUILD_DIR}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
out=$build/tests/dissector
lua=$top/wireshark/cxtp.lua
TSHARK=${TSHARK:-tshark}
TEXT2PCAP=${TEXT2PCAP:-text2pcap}

for tool in "$TSHARK" "$TEXT2PCAP"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "dissector: $tool not found (Debian packages tshark, wireshark-common)" >&2
		exit 1
	fi
done

rm -rf "$out"
mkdir -p "$out/home"
# An empty home: no personal preferences, and no installed copy of cxtp.lua
# in the personal plugins folder that would clash with the one under test.
HOME=$out/home
XDG_CONFIG_HOME=$out/home/.config
export HOME XDG_CONFIG_HOME
unset WIRESHARK_CONFIG_DIR WIRESHARK_PLUGIN_DIR 2>/dev/null || true

# NAME.txt -> text2pcap's hexdump (offset, then up to 16 octets a line).
to_hexdump() {
	awk '
	function flush() { if (n > 0) { line(); printf "\n" } n = 0; col = 0 }
	function line() { if (col > 0) printf "\n"; col = 0 }
	/^%/ { next }
	/^---/ { flush(); started = 1; next }
	{
		sub(/#.*/, "")
		for (i = 1; i <= NF; i++) {
			if ($i !~ /^[0-9a-fA-F][0-9a-fA-F]$/) {
				printf "%s:%d: not an octet: %s\n", FILENAME, FNR, $i > "/dev/stderr"
				bad = 1; exit 1
			}
			if (!started) {
				printf "%s:%d: octets before the first --- line\n", FILENAME, FNR > "/dev/stderr"
				bad = 1; exit 1
			}
			if (col == 16) line()
			if (col == 0) printf "%06x", n
			printf " %s", $i
			col++; n++
		}
	}
	END { if (!bad) flush(); exit bad }
	' "$1"
}

# Drops the last tab-separated column (the expert infos the test adds).
drop_last() {
	awk '{ s = $0; sub(/\t[^\t]*$/, "", s); print s }'
}

captures=0
differences=0
failed=0
for src in "$top"/pcap/*.txt "$top"/pcap/*.pcap "$top"/pcap/daemon/*.pcap; do
	[ -e "$src" ] || continue
	name=${src#"$top"/pcap/}
	name=${name%.*}
	# output files of daemon/NAME go to $out/daemon_NAME.*
	base=$(printf '%s' "$name" | tr / _)
	expected=$top/pcap/$name.expected
	captures=$((captures + 1))
	if [ ! -s "$expected" ]; then
		echo "dissector: $name: pcap/$name.expected is missing (its first line names the fields)" >&2
		failed=1
		continue
	fi

	topts=
	case $src in
	*.txt)
		pcap=$out/$base.pcap
		if ! to_hexdump "$src" > "$out/$base.hex"; then failed=1; continue; fi
		opts=$(sed -n 's/^%text2pcap[[:space:]]*//p' "$src")
		# shellcheck disable=SC2086 # the options are words
		if ! "$TEXT2PCAP" -q -F pcap $opts "$out/$base.hex" "$pcap" > "$out/$base.t2p" 2>&1; then
			echo "dissector: $name: text2pcap failed:" >&2
			grep -v 'Running as user' "$out/$base.t2p" >&2
			failed=1
			continue
		fi
		;;
	*)
		pcap=$src
		[ -f "$top/pcap/$name.tshark" ] && topts=$(cat "$top/pcap/$name.tshark")
		;;
	esac

	# The expert infos are always printed, to find "Lua Error" in them; as
	# an extra last column when the capture does not ask for them.
	set --
	extra=1
	for f in $(head -n 1 "$expected"); do
		set -- "$@" -e "$f"
		[ "$f" = _ws.expert.message ] && extra=0
	done
	[ $extra = 1 ] && set -- "$@" -e _ws.expert.message
	# shellcheck disable=SC2086
	if ! (cd "$top" && "$TSHARK" -n -r "$pcap" -X lua_script:"$lua" $topts \
		-T fields -E header=y "$@") > "$out/$base.raw" 2> "$out/$base.err"; then
		# a bad option or display filter (NAME.tshark) prints nothing but the header
		echo "dissector: $name: tshark failed:" >&2
		grep -v 'Running as user' "$out/$base.err" >&2
		failed=1
	fi
	if [ $extra = 1 ]; then
		drop_last < "$out/$base.raw" > "$out/$base.out"
	else
		cp "$out/$base.raw" "$out/$base.out"
	fi

	if grep -q 'Lua' "$out/$base.err"; then
		echo "dissector: $name: Lua errors on stderr:" >&2
		grep 'Lua' "$out/$base.err" >&2
		failed=1
	fi
	if grep -q 'Lua Error' "$out/$base.raw"; then
		echo "dissector: $name: the dissector threw:" >&2
		grep -o 'Lua Error[^,	]*' "$out/$base.raw" >&2
		failed=1
	fi
	if grep -q '^%same-without-dissector' "$src" 2>/dev/null; then
		# shellcheck disable=SC2086
		(cd "$top" && "$TSHARK" -n -r "$pcap" $topts -T fields -E header=y "$@") \
			> "$out/$base.plain.raw" 2> /dev/null
		if [ $extra = 1 ]; then
			drop_last < "$out/$base.plain.raw" > "$out/$base.plain"
		else
			cp "$out/$base.plain.raw" "$out/$base.plain"
		fi
		if ! diff -u "$out/$base.plain" "$out/$base.out" > "$out/$base.plain.diff"; then
			echo "dissector: $name: loading the dissector changes ordinary packets:" >&2
			cat "$out/$base.plain.diff" >&2
			differences=$((differences + 1))
		fi
	fi

	if [ "${CXTP_UPDATE:-0}" = 1 ]; then
		cp "$out/$base.out" "$expected"
	elif ! diff -u "$expected" "$out/$base.out" > "$out/$base.diff"; then
		echo "dissector: $name: output differs from pcap/$name.expected:" >&2
		cat "$out/$base.diff" >&2
		differences=$((differences + 1))
	fi
done

echo "dissector: $captures captures, $differences differences"
[ "$captures" -gt 0 ] && [ "$differences" -eq 0 ] && [ "$failed" -eq 0 ]
