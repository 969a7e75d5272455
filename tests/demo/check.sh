#!/bin/bash
# tests/demo/check.sh BUILD: `make demo` (tests/demo/handover.sh) does what
# it says.  For each variant it can run (network namespaces as root, and
# the loopback variant, forced with CTP_DEMO_LOOPBACK=1):
#  - the demo exits 0 and its last line is the PASS verdict;
#  - the files it names exist: the wire capture (not on loopback without
#    root), the TLS key log, the eight daemons' exported-PDU captures and
#    logs, ctpctl's outputs;
#  - the tshark command it prints, run as printed, decodes the wire
#    capture and shows the IPsec TLVs: the SPIs of the SAs that moved (type 5
#    and type 3), and the dissector prints no Lua error;
#  - no key of the demo (each SA's ENCR and INTEG keys, the MN-pAR key)
#    appears in a daemon log, a ctpctl or ctpmn output or the report
#    (tests/secrets/grep-keys.sh; it must find them in the SA files the
#    demo keeps in secret/, so that the search is known to work).
# Then a run stopped with SIGTERM while its daemons are up leaves no ctpd
# and no namespace behind.  About 1 min.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:-build}" && pwd) || exit 2
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
W=$(mktemp -d /tmp/ctp-demo-check.XXXXXX)
trap 'rm -rf "$W"' EXIT

variant() {   # name env...
	local name=$1 out=$W/$1 rep cmd spi5 spi3 n rc dec
	shift
	echo "demo check: $name"
	env "$@" CTP_DEMO_OUT="$out" "$top/tests/demo/handover.sh" "$B" > "$W/$name.out" 2>&1
	rc=$?
	rep=$W/$name.out
	[ $rc = 0 ] && ok || bad "$name: the demo exited $rc: $(tail -3 "$rep")"
	grep -q '^demo: PASS — ' <<< "$(tail -1 "$rep")" && ok ||
		bad "$name: the last line is not the PASS verdict: $(tail -1 "$rep")"
	grep -q "^== left in $out\$" "$rep" && ok || bad "$name: the folder $out is not named"
	for f in tls-keylog.txt README.txt report.txt secret/sa-keys.txt secret/mn-par-key.txt; do
		[ -s "$out/$f" ] && ok || bad "$name: $f missing or empty"
	done
	for n in pr nr s1 s2 s1p s2p g rn; do
		[ -s "$out/cxtp-$n.pcap" ] && [ -s "$out/logs/$n.log" ] && [ -s "$out/ctl/$n-sas-after.json" ] &&
			ok || bad "$name: the capture, log or ctpctl output of $n is missing"
	done
	[ -s "$out/logs/mn-handover.json" ] && ok || bad "$name: no ctpmn handover report"
	# the timeline lists the CXTP messages of a reactive chain handover
	for m in CTAR CT-Req CTD CTDR CTAA CTN CTNA; do
		grep -Eq "^ +\+[0-9.]+ +[A-Z0-9']+ +-> +[A-Z0-9']+ +$m " "$rep" && ok ||
			bad "$name: no $m in the printed timeline"
	done
	grep -q 'total: the CTAR at NR -> the CTAA sent *[0-9.]* ms' "$rep" && ok ||
		bad "$name: no total latency line"
	spi5=$(jq -r '.tlvs[] | select(.tlv == "SA_ID") | .spi' "$out/secret/t5i.json" 2> /dev/null)
	spi3=$(jq -r '.tlvs[] | select(.tlv == "SA_ID") | .spi' "$out/secret/t3i.json" 2> /dev/null)
	if [ -s "$out/wire.pcap" ]; then
		ok
		cmd=$(grep -A1 'decode the whole exchange' "$rep" | tail -1 | sed 's/^ *//')
		case $cmd in
		"tshark -X lua_script:$top/wireshark/cxtp.lua -o tls.keylog_file:$out/tls-keylog.txt "*"-r $out/wire.pcap -Y cxtp -V") ok ;;
		*) bad "$name: the printed command is not the expected tshark line: $cmd" ;;
		esac
		# as printed (the words are paths without blanks)
		# shellcheck disable=SC2086
		$cmd > "$W/$name.tshark" 2> "$W/$name.tshark.err"
		grep -q 'Lua' "$W/$name.tshark.err" && bad "$name: Lua errors: $(grep -m2 Lua "$W/$name.tshark.err")"
		for s in "$spi5" "$spi3"; do
			[ -n "$s" ] && grep -Eqi "SPI: .*$(printf '0x%08x' "$s")" "$W/$name.tshark" && ok ||
				bad "$name: the printed command does not show SPI $(printf '0x%08x' "${s:-0}")"
		done
		# and the field itself
		dec=()
		[ "$name" = loopback ] && dec=(-d udp.port==39899,sctp)
		n=$(tshark -X lua_script:"$top/wireshark/cxtp.lua" -o tls.keylog_file:"$out/tls-keylog.txt" \
			"${dec[@]}" -r "$out/wire.pcap" -Y cxtp.ipsec.spi -T fields -e cxtp.ipsec.spi 2> /dev/null |
			tr ',' '\n' | grep -ci "$(printf '0x%08x' "$spi5")")
		[ "${n:-0}" -ge 2 ] && ok || bad "$name: cxtp.ipsec.spi $(printf '0x%08x' "$spi5") in $n CDBs on the wire, want >= 2 (CT-Req answers and relays)"
	elif [ "$name" = netns ] || [ "$(id -u)" = 0 ]; then
		bad "$name: no wire.pcap"
	else
		grep -q 'no wire capture' "$rep" && ok || bad "$name: no wire.pcap and no word why"
	fi
	# keys: nowhere in logs or outputs, but found where they are (secret/)
	mkdir -p "$W/$name.keys" "$W/$name.text"
	cp "$out/secret/sa-keys.txt" "$out/secret/mn-par-key.txt" "$W/$name.keys/"
	[ "$(wc -l < "$W/$name.keys/sa-keys.txt")" = 10 ] && ok || bad "$name: not the 10 keys of the 8 SAs listed"
	cp -r "$out/logs" "$out/ctl" "$out/report.txt" "$out/README.txt" "$W/$name.text/"
	cp "$rep" "$W/$name.text/stdout.txt"
	"$top/tests/secrets/grep-keys.sh" "$W/$name.text" "$W/$name.keys/sa-keys.txt" \
		"$W/$name.keys/mn-par-key.txt" > "$W/$name.grep" 2>&1
	rc=$?
	[ $rc = 0 ] && ok || bad "$name: keys in the logs or outputs (grep-keys exit $rc): $(head -5 "$W/$name.grep")"
	"$top/tests/secrets/grep-keys.sh" "$out/secret" "$W/$name.keys/sa-keys.txt" > /dev/null 2>&1
	[ $? = 1 ] && ok || bad "$name: grep-keys does not find the keys in the SA files (the search is broken)"
}

if [ "$(id -u)" = 0 ] && ip netns add "ctpdemo-probe-$$" 2> /dev/null; then
	ip netns del "ctpdemo-probe-$$"
	variant netns
else
	echo "demo check: no network namespaces here (needs root): the loopback variant only"
fi
variant loopback CTP_DEMO_LOOPBACK=1

# ---- interrupted: nothing left behind ----
echo "demo check: SIGTERM"
out=$W/term
CTP_DEMO_OUT=$out "$top/tests/demo/handover.sh" "$B" > "$W/term.out" 2>&1 &
dp=$!
for i in $(seq 300); do
	grep -q 'daemons up' "$out/report.txt" 2> /dev/null && break
	kill -0 $dp 2> /dev/null || break
	sleep 0.1
done
grep -q 'daemons up' "$out/report.txt" 2> /dev/null && ok || bad "term: the daemons never came up"
kill -TERM $dp
for i in $(seq 300); do kill -0 $dp 2> /dev/null || break; sleep 0.1; done
wait $dp
rc=$?
[ $rc = 143 ] && ok || bad "term: the demo exited $rc on SIGTERM, want 143"
sleep 0.5
# shellcheck disable=SC2009
left=$(ps -eo pid=,args= | grep -F -- "--pcap $out/" | grep -v grep)
[ -z "$left" ] && ok || bad "term: daemons left running: $left"
left=$(ip netns list 2> /dev/null | grep -c "^ctpi$dp-")
[ "$left" = 0 ] && ok || bad "term: $left namespaces ctpi$dp-* left"
grep -q 'cleaning up' "$W/term.out" && ok || bad "term: no word of the cleanup"

echo "demo check: $pass passed, $fail failed"
[ $fail = 0 ] || { trap - EXIT; echo "demo check: kept $W"; }
[ $fail = 0 ]
