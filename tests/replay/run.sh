#!/bin/bash
# tests/replay/run.sh BUILD: the replay interop tests (make check-replay).
#
# Each exported-PDU capture of pcap/daemon/ (tests/replay/record.sh made
# them from real daemons) is replayed into a fresh ctpd configured as the
# node that recorded it (pAR or nAR), over a new association, by
# tests/replay/replay_peer.c playing the recorded peer (same name, address
# and certificate identity) and, where the capture has it, the mobile node
# (in the UDP encoding: no raw sockets needed).  The daemon's answers are
# compared with the recorded ones field by field; the fields allowed to
# differ, each with its reason, are in tests/replay/allowed-differences.
# After each replay the daemon's state is checked too: nAR has joined the
# group it took over, pAR has let it go.
#
# The relay chain (pcap/daemon/ipsec-*): each security gateway that took
# part is replayed alone, as its capture shows it, with its recorded
# configuration (ipsec-NODE.xml) and SAs (ipsec-NODE.sas.json): S1 and S2
# as sources (CT-Req from PR, their CTD, PR's commit; afterwards they hold
# no SA), S1' and S2' as sinks (NR's CTD, their CTDR; afterwards they hold
# the SAs, active), G and RN, which keep theirs (0x8A).
#
# Then altered recordings must fail, each with its difference named: an
# answer changed in the recording (a different group, a flag), a message
# sent into the daemon changed (a wrong token, which pAR must refuse), an
# answer the daemon never gives, one the recording lacks, and a truncated
# capture.
#
# Everything runs in one new network namespace (unshare), where the
# recorded addresses live on lo: as root, or unprivileged where user
# namespaces are allowed.  Without either the test says SKIPPED, loudly.
# "test && ok || bad": ok and bad always succeed, so this is if-then-else.
# shellcheck disable=SC2015
set -u
B=$(cd "${1:?usage: tests/replay/run.sh BUILD}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ -z "${CTP_REPLAY_NETNS:-}" ]; then
	if [ "$(id -u)" = 0 ] && unshare --net true 2> /dev/null; then
		CTP_REPLAY_NETNS=1 exec unshare --net -- "$0" "$@"
	elif unshare --map-root-user --net true 2> /dev/null; then
		CTP_REPLAY_NETNS=1 exec unshare --map-root-user --net -- "$0" "$@"
	fi
	echo "*** replay: SKIPPED: needs root or user namespaces (unshare --net) ***"
	echo "*** (the CI runs it as root; this run does NOT test the replays) ***"
	exit 0
fi

# shellcheck source=tests/replay/conf.sh
. "$top/tests/replay/conf.sh"
CTL=$B/ctpctl
out=$B/tests/replay
caps=$top/pcap/daemon
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
MN_PORT=9897
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
t_start=$(date +%s)

rm -rf "$out"
mkdir -p "$out"
tmp=$(mktemp -d /tmp/ctp-replay.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# ---- the replaying peer, built against the library like tests/mn/fake_ar.c

cflags="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
 -Wmissing-prototypes -Wcast-qual -Wwrite-strings -Wno-unused-parameter -Werror
 -I$top/include $($PKG_CONFIG --cflags libuv)"
if nm "$B/libctp.a" 2> /dev/null | grep -q '__asan_report'; then
	cflags="$cflags -fsanitize=address,undefined"
fi
# shellcheck disable=SC2086,SC2046 # the flags are words
if ! $CC $cflags -o "$out/replay_peer" "$top/tests/replay/replay_peer.c" "$B/libctp.a" \
	$($PKG_CONFIG --libs libuv openssl libxml-2.0 usrsctp libsctp) -ldl -lpthread \
	2> "$out/replay_peer.cc"; then
	cat "$out/replay_peer.cc" >&2
	echo "replay: tests/replay/replay_peer.c does not build"
	exit 1
fi

# ---- the namespace: the recorded addresses on lo, the MN links as a veth pair

ip link set lo up
# the ARs and the MN of the four modes; the chain's gateways (tests/lib/chain.sh)
for a in $REPLAY_PAR $REPLAY_NAR $REPLAY_MN $REPLAY_MN_NOW 10.9.3.2 10.9.4.2 10.9.5.2 10.9.6.2 \
	10.9.7.2 10.9.8.2; do
	ip addr add "$a/32" dev lo || { echo "replay: cannot add $a to lo"; exit 1; }
done
# the mld plugin joins on the interface it was recorded with
ip link add par-mn type veth peer name nar-mn && ip link set par-mn up && ip link set nar-mn up ||
	{ echo "replay: cannot create the MN links"; exit 1; }
"$top/tests/certs/make.sh" "$tmp/pki" par nar pr nr s1 s2 s1p s2p g rn > /dev/null 2>&1 ||
	{ echo "replay: no certificates"; exit 1; }

# The node replay_peer plays: name, address, certificate, and one peer.
peer_conf() {   # file name address sut sut-address capture [sut-roles]
	cat > "$1" <<EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$2" roles="ar"><address>$3</address></node>
  <transport backend="usrsctp" bind="$3"/>
  <tls ca="pki/ca.pem" cert="pki/$2.pem" key="pki/$2.key"/>
  <peer name="$4" address="$5" roles="${7:-ar}"/>
  <timers reconnect-ms="200"/>
  <capture pcap="$6"/>
</ctpd>
EOF
}

other() { [ "$1" = par ] && echo nar || echo par; }
addr_of() { [ "$1" = par ] && echo "$REPLAY_PAR" || echo "$REPLAY_NAR"; }

# replay NAME CAPTURE MODE SUT [replay_peer options]: a fresh ctpd as SUT,
# set up as it was for the recording of MODE (pAR: the MN's key and
# group), replay_peer as the other AR; the report goes to $out/NAME.out.
# Returns replay_peer's status.
sut_pid=
replay() {
	local name=$1 cap=$2 mode=$3 sut=$4 peer group rc
	shift 4
	peer=$(other "$sut")
	group=$(replay_group "$mode")
	replay_conf "$tmp/$name.sut.xml" "$sut" "$(addr_of "$sut")" "$peer" "$(addr_of "$peer")" \
		"$sut-mn" $MN_PORT "$tmp/$name.sock"
	peer_conf "$tmp/$name.peer.xml" "$peer" "$(addr_of "$peer")" "$sut" "$(addr_of "$sut")" \
		"$out/$name.peer.pcap"
	"$B/ctpd" -f -c "$tmp/$name.sut.xml" --pcap "$out/$name.sut.pcap" > "$out/$name.sut.log" 2>&1 &
	sut_pid=$!
	pids+=("$sut_pid")
	for _ in $(seq 50); do
		"$CTL" -s "$tmp/$name.sock" status > /dev/null 2>&1 && break
		sleep 0.1
	done
	if [ "$sut" = par ]; then
		"$CTL" -s "$tmp/$name.sock" mn-key set "$REPLAY_MN" "$REPLAY_KEY" > /dev/null &&
			"$CTL" -s "$tmp/$name.sock" call mld \
				"{\"op\":\"add\",\"mn\":\"$REPLAY_MN\",\"group\":\"$group\"}" > /dev/null ||
			echo "replay: $name: the daemon was not set up: $(tail -3 "$out/$name.sut.log")"
	fi
	"$out/replay_peer" --conf "$tmp/$name.peer.xml" --capture "$cap" --plugins "$B/plugins" \
		--ctl "$tmp/$name.sock" --allow "$top/tests/replay/allowed-differences" \
		--settle-ms 300 --deadline-ms 15000 "$@" > "$out/$name.out" 2> "$out/$name.err"
	rc=$?
	return $rc
}

# stop the SUT gracefully; 0 when it exits 0
sut_stop() {
	kill -TERM "$sut_pid" 2> /dev/null
	wait "$sut_pid"
}

show() {   # name: the report and the daemon's last words
	sed 's/^/    /' "$out/$1.out" "$out/$1.err"
	echo "    --- the daemon's log (last lines)"
	tail -n 8 "$out/$1.sut.log" | sed 's/^/    /'
}

S() { "$CTL" -s "$tmp/$1.sock" "${@:2}"; }

# ---- every capture against the node that recorded it

for mode in reactive predictive push pull; do
	group=$(replay_group $mode)
	for sut in par nar; do
		name=$mode-$sut
		cap=$caps/$name.pcap
		[ -f "$cap" ] || { bad "$name: pcap/daemon/$name.pcap is missing (tests/replay/record.sh)"; continue; }
		# the MN's messages too, where the capture has them
		opts=(--mn-port "$MN_PORT")
		# the network triggers that started the recorded transfer
		case $name in
		push-par) opts+=(--call "{\"cmd\":\"trigger\",\"kind\":\"push\",\"mn\":\"$REPLAY_MN\",\"peer\":\"nar\"}") ;;
		pull-nar) opts+=(--call "{\"cmd\":\"trigger\",\"kind\":\"pull\",\"mn\":\"$REPLAY_MN\",\"peer\":\"par\"}") ;;
		esac
		if replay "$name" "$cap" $mode $sut "${opts[@]}"; then
			ok
			echo "replay: $name: as recorded ($(grep -c ' same' "$out/$name.out") answers compared)"
		else
			bad "$name: the daemon did not answer as recorded"
			show "$name"
		fi
		# what the daemon did with it
		if [ $sut = nar ]; then
			ip -6 maddr show dev nar-mn | grep -q "$group" && ok ||
				bad "$name: nAR did not join $group"
		else
			S "$name" call mld '{"op":"list"}' | grep -q "$group" &&
				bad "$name: pAR still holds $group after the commit" || ok
		fi
		S "$name" transfers --json | tr -d ' \n' | grep -q '"outcome":"committed"' && ok ||
			bad "$name: the daemon's transfer did not commit: $(S "$name" transfers 2>&1 | tail -3)"
		sut_stop && ok || bad "$name: the daemon did not stop cleanly: $(tail -5 "$out/$name.sut.log")"
		# the joined groups go with the daemon; the next replay starts clean
	done
done

# ---- the relay chain: each gateway against the AR it talked to

# sg_replay SG AR AR-ADDRESS: the SG as recorded (configuration, SAs), the
# AR played by replay_peer.  Returns replay_peer's status.
sg_replay() {
	local sg=$1 ar=$2 rc
	sed -e "s|@DIR@|$tmp|g" -e "s|@BUILD@|$B|g" "$caps/ipsec-$sg.xml" > "$tmp/ipsec-$sg.xml"
	peer_conf "$tmp/ipsec-$sg.peer.xml" "$ar" "$3" "$sg" \
		"$(sed -n 's|.*<node name="[^"]*" roles="sg"><address>\([^<]*\)<.*|\1|p' "$tmp/ipsec-$sg.xml")" \
		"$out/ipsec-$sg.peer.pcap" sg
	"$B/ctpd" -f -c "$tmp/ipsec-$sg.xml" --pcap "$out/ipsec-$sg.sut.pcap" \
		> "$out/ipsec-$sg.sut.log" 2>&1 &
	sut_pid=$!
	pids+=("$sut_pid")
	for _ in $(seq 50); do
		"$CTL" -s "$tmp/$sg.sock" status > /dev/null 2>&1 && break
		sleep 0.1
	done
	if [ -f "$caps/ipsec-$sg.sas.json" ]; then
		"$CTL" -s "$tmp/$sg.sock" call sa-add "$(cat "$caps/ipsec-$sg.sas.json")" > /dev/null ||
			echo "replay: ipsec-$sg: sa-add refused: $(tail -3 "$out/ipsec-$sg.sut.log")"
	fi
	"$out/replay_peer" --conf "$tmp/ipsec-$sg.peer.xml" --capture "$caps/ipsec-$sg.pcap" \
		--plugins "$B/plugins" --ctl "$tmp/$sg.sock" \
		--allow "$top/tests/replay/allowed-differences" --settle-ms 300 --deadline-ms 15000 \
		> "$out/ipsec-$sg.out" 2> "$out/ipsec-$sg.err"
	rc=$?
	return $rc
}

# the SAs an SG holds, active
sg_active() { "$CTL" -s "$tmp/$1.sock" sas --json | tr -d ' \n' | grep -o '"state":"active"' | wc -l; }

for sg in s1 s2 g rn s1p s2p; do
	case $sg in
	s1p | s2p) ar=nr ar_addr=$REPLAY_NAR ;;
	*) ar=pr ar_addr=$REPLAY_PAR ;;
	esac
	[ -f "$caps/ipsec-$sg.pcap" ] || { bad "ipsec-$sg: pcap/daemon/ipsec-$sg.pcap is missing"; continue; }
	if sg_replay $sg $ar $ar_addr; then
		ok
		echo "replay: ipsec-$sg: as recorded ($(grep -c ' same' "$out/ipsec-$sg.out") answers compared)"
	else
		bad "ipsec-$sg: the gateway did not answer as recorded"
		show "ipsec-$sg"
	fi
	# what the gateway holds now: the SAs it took over (S1', S2'), none
	# when it handed them over (S1, S2), its own when they stay (G, RN)
	want=$(grep -o '"tlv":"SA_ID"' "$caps/ipsec-$sg.sas.json" 2> /dev/null | wc -l)
	case $sg in
	s1 | s2) want=0 ;;
	s1p) want=$(grep -o '"tlv":"SA_ID"' "$caps/ipsec-s1.sas.json" | wc -l) ;;
	s2p) want=$(grep -o '"tlv":"SA_ID"' "$caps/ipsec-s2.sas.json" | wc -l) ;;
	esac
	got=$(sg_active $sg)
	[ "$got" = "$want" ] && ok || bad "ipsec-$sg: $got SAs active afterwards, expected $want"
	sut_stop && ok || bad "ipsec-$sg: the gateway did not stop cleanly: $(tail -5 "$out/ipsec-$sg.sut.log")"
done

# ---- altered recordings must fail

# alter IN OUT FROM TO: OUT is IN with the one occurrence of the octets FROM
# (hex) replaced by TO (as many octets)
alter() {
	local hex n
	hex=$(od -An -v -tx1 "$1" | tr -d ' \n')
	n=$(printf '%s' "$hex" | awk -v f="$3" '{ n = 0; s = $0; o = 0
		while ((i = index(s, f)) > 0) { if ((o + i) % 2 == 1) n++; o += i; s = substr(s, i + 1) }
		print n }')
	[ "$n" = 1 ] || { echo "alter: $3 occurs $n times at an octet boundary in $1" >&2; return 1; }
	hex=$(printf '%s' "$hex" | awk -v f="$3" -v t="$4" '{ s = $0; o = 0
		while ((i = index(substr(s, o + 1), f)) > 0) { p = o + i; if (p % 2 == 1) break; o = p }
		print substr(s, 1, p - 1) t substr(s, p + length(f)) }')
	printf '%b' "$(printf '%s' "$hex" | sed 's/../\\x&/g')" > "$2"
	[ "$(wc -c < "$2")" = "$(wc -c < "$1")" ]
}

# 1. an answer altered in the recording: pAR's CTD carries ff0e::101, the
#    recording now says ff0e::1ff
g101=ff0e0000000000000000000000000101
if alter "$caps/reactive-par.pcap" "$tmp/bad-answer.pcap" $g101 ff0e00000000000000000000000001ff; then
	replay bad-answer "$tmp/bad-answer.pcap" reactive par
	rc=$?
	[ $rc = 1 ] && ok || bad "bad-answer: replay_peer exited $rc, expected 1 (a difference)"
	grep -q 'cdbs.1:MLD.group: recorded "ff0e::1ff", replayed "ff0e::101"' "$out/bad-answer.out" &&
		ok || { bad "bad-answer: the difference is not reported as expected"; show bad-answer; }
	grep -q 'FAIL: the SUT did not answer as recorded' "$out/bad-answer.out" && ok ||
		bad "bad-answer: no FAIL verdict"
	sut_stop
else
	bad "bad-answer: cannot alter the recording"
fi

# 2. a message into the daemon altered: nAR's CT-Req with another token;
#    pAR must refuse (CTD with a STATUS), not hand the group over
tok=$(od -An -v -tx1 "$caps/reactive-par.pcap" | tr -d ' \n' | grep -o '278000100a01000a00001234........' |
	cut -c25-32)
if [ -n "$tok" ] && alter "$caps/reactive-par.pcap" "$tmp/bad-token.pcap" \
	"278000100a01000a00001234$tok" 278000100a01000a00001234deadbeef; then
	replay bad-token "$tmp/bad-token.pcap" reactive par
	rc=$?
	[ $rc = 1 ] && ok || bad "bad-token: replay_peer exited $rc, expected 1"
	grep -q 'tlvs.STATUS.*recorded (absent), replayed' "$out/bad-token.out" && ok ||
		{ bad "bad-token: pAR's refusal is not what the diff shows"; show bad-token; }
	S bad-token call mld '{"op":"list"}' | grep -q ff0e::101 && ok ||
		bad "bad-token: pAR gave the group away on a wrong token"
	sut_stop
else
	bad "bad-token: cannot alter the recording"
fi

# 3. an answer altered in a flag: the recording says nAR refused (CTDR with
#    S = 0 and no entries) where the daemon commits (S = 1)
if alter "$caps/reactive-nar.pcap" "$tmp/bad-ctdr.pcap" 25c000080a01000a 258000080a01000a; then
	replay bad-ctdr "$tmp/bad-ctdr.pcap" reactive nar --mn-port $MN_PORT
	rc=$?
	[ $rc = 1 ] && ok || bad "bad-ctdr: replay_peer exited $rc, expected 1"
	grep -q ' s: recorded 0, replayed 1' "$out/bad-ctdr.out" && ok ||
		{ bad "bad-ctdr: the S flag difference is not reported"; show bad-ctdr; }
	sut_stop
else
	bad "bad-ctdr: cannot alter the recording"
fi

# 4. an answer the daemon never gives (the recording's last record, nAR's
#    CTAA to the MN, twice), and one it gives that the recording lacks
#    (that record cut off)
size=$(wc -c < "$caps/reactive-nar.pcap")
last=44   # record header 16; tags: name 8, destination 8, end 4; the CTAA 8
if [ "$(od -An -tu4 -j $((size - last + 8)) -N4 "$caps/reactive-nar.pcap" | tr -d ' ')" = \
	$((last - 16)) ]; then
	{ cat "$caps/reactive-nar.pcap"; tail -c $last "$caps/reactive-nar.pcap"; } > "$tmp/extra.pcap"
	head -c $((size - last)) "$caps/reactive-nar.pcap" > "$tmp/short.pcap"
	replay missing "$tmp/extra.pcap" reactive nar --mn-port $MN_PORT --wait-ms 1000
	rc=$?
	[ $rc = 1 ] && grep -q 'CTAA    MISSING: nothing came within 1000 ms' "$out/missing.out" && ok ||
		{ bad "missing: status $rc, no MISSING line"; show missing; }
	sut_stop
	replay unexpected "$tmp/short.pcap" reactive nar --mn-port $MN_PORT
	rc=$?
	[ $rc = 1 ] && grep -q 'unexpected: nar -> MN CTAA' "$out/unexpected.out" && ok ||
		{ bad "unexpected: status $rc, no unexpected CTAA"; show unexpected; }
	sut_stop
else
	bad "the last record of pcap/daemon/reactive-nar.pcap is not the 8-octet CTAA it was"
fi

# 5. a capture that is not one: refused with the file and the offset, status 2
head -c 40 "$caps/reactive-par.pcap" > "$tmp/cut.pcap"
peer_conf "$tmp/cut.xml" nar $REPLAY_NAR par $REPLAY_PAR "$tmp/cut.peer.pcap"
"$out/replay_peer" --conf "$tmp/cut.xml" --capture "$tmp/cut.pcap" --plugins "$B/plugins" \
	> "$out/cut.out" 2> "$out/cut.err"
rc=$?
[ $rc = 2 ] && grep -q "cut.pcap: offset 32: record 1: 68 octets announced, 0 left" "$out/cut.err" && ok ||
	bad "a truncated capture: status $rc, $(cat "$out/cut.err")"

echo "replay: $pass passed, $fail failed ($(($(date +%s) - t_start)) s)"
[ $fail -eq 0 ]
