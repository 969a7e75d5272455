#!/bin/sh
# tests/pcap-writer/run.sh BUILD_DIR: the daemon's capture writer
# (src/ctp/ctp_pcap.c) checked by the tool its captures are for.
#
# The unit-test binary writes every tests/vectors/msg_*.hex through
# ctp_pcap_write (CTP_PCAP_OUT=FILE, test_pcap_export in
# tests/unit/test_pcap.c) with IPv4 and IPv6 addresses over SCTP, UDP and
# ICMP, and FILE.expected with what each record must decode to.  tshark then
# reads FILE with wireshark/cxtp.lua; every record must be
# exported_pdu:cxtp with the type, addresses, port type and ports written,
# and neither stderr nor the expert infos may mention a Lua error.
#
# UNIT=path overrides the unit-test binary ($BUILD_DIR/unit-tests).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: tests/pcap-writer/run.sh BUILD_DIR}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
TSHARK=${TSHARK:-tshark}
unit=${UNIT:-$build/unit-tests}

if ! command -v "$TSHARK" >/dev/null 2>&1; then
	echo "pcap-writer: $TSHARK not found (Debian package tshark)" >&2
	exit 1
fi
if [ ! -f "$unit" ] || [ ! -x "$unit" ]; then
	echo "pcap-writer: no unit-test binary at $unit (make $build/tests/unit, or set UNIT)" >&2
	exit 1
fi

out=$build/tests/pcap-writer
rm -rf "$out"
mkdir -p "$out/home"
# An empty home: no personal preferences or installed copy of cxtp.lua.
HOME=$out/home
XDG_CONFIG_HOME=$out/home/.config
export HOME XDG_CONFIG_HOME
unset WIRESHARK_CONFIG_DIR WIRESHARK_PLUGIN_DIR 2>/dev/null || true

cap=$out/writer.pcap
if ! (cd "$top" && CTP_PCAP_OUT=$cap "$unit" pcap) > "$out/unit.log" 2>&1; then
	echo "pcap-writer: the unit test that writes the capture failed:" >&2
	cat "$out/unit.log" >&2
	exit 1
fi
if [ ! -s "$cap.expected" ]; then
	echo "pcap-writer: $cap.expected is empty (no vectors under tests/vectors?)" >&2
	exit 1
fi

(cd "$top" && "$TSHARK" -n -r "$cap" -X lua_script:"$top/wireshark/cxtp.lua" -T fields \
	-e cxtp.type -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
	-e exported_pdu.port_type -e exported_pdu.src_port -e exported_pdu.dst_port \
	-e frame.protocols -e _ws.expert.message) > "$out/fields" 2> "$out/stderr"

failed=0
if grep -q 'Lua' "$out/stderr"; then
	echo "pcap-writer: Lua errors on tshark's stderr:" >&2
	grep 'Lua' "$out/stderr" >&2
	failed=1
fi
if grep -v 'Running as user' "$out/stderr" | grep -q .; then
	echo "pcap-writer: tshark complained:" >&2
	grep -v 'Running as user' "$out/stderr" >&2
	failed=1
fi

# One address column per side, whichever family the record has.
awk -F '\t' -v OFS='\t' -v bad="$out/bad" '
	$9 != "exported_pdu:cxtp" { print NR ": decoded as " $9 > bad }
	$10 ~ /Lua Error|[Mm]alformed/ { print NR ": " $10 > bad }
	{ print $1, ($2 != "" ? $2 : $4), ($3 != "" ? $3 : $5), $6, $7, $8 }
' "$out/fields" > "$out/got"
if [ -s "$out/bad" ]; then
	echo "pcap-writer: records not decoded cleanly as cxtp:" >&2
	cat "$out/bad" >&2
	failed=1
fi
if ! diff -u "$cap.expected" "$out/got" > "$out/diff"; then
	echo "pcap-writer: tshark does not see what was written (type, src, dst, port type, ports):" >&2
	cat "$out/diff" >&2
	failed=1
fi

n=$(wc -l < "$cap.expected")
echo "pcap-writer: $n records written, $(wc -l < "$out/got") decoded, $([ $failed = 0 ] && echo ok || echo FAILED)"
[ $failed = 0 ]
