#!/bin/sh
# tests/esp/run.sh BUILD_DIR: `ctpmn esp` (the MN's ESP traffic) against
# tests/esp/gw.c, a test gateway built here against BUILD_DIR/libctpipsec.a
# and libctp.a: the real mem SAD with the UDP datapath and echo on.
#
#  1. usage: exit 2, --help exits 0;
#  2. traffic: every packet echoed, the gateway's numbers 1..N, none twice;
#     --replay K: the gateway refuses the replayed packet (no echo);
#     --state: the next run continues with the next numbers; without it
#     the MN starts over and the gateway refuses everything as replays;
#  3. a handover by hand: gateway 1 frozen and snapshot (SIGUSR1), the MN's
#     packets still accepted there but no echo; gateway 2 installs the
#     snapshots with a margin of 16384 and the MN carries on with it: the
#     echoes start above the margin, never a number twice;
#  4. a gateway with a state file killed with SIGKILL and restarted: its
#     echoes resume above the reservation, the MN sees no number twice;
#  5. an endpoint without the algorithm refuses the SA;
#  6. as root: raw ESP (IP protocol 50) on 127.0.0.1.
#
# Runs in about 5 s.

# "test && ok || bad": ok and bad always succeed, so this is if-then-else.
# shellcheck disable=SC2015
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: tests/esp/run.sh BUILD_DIR}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
out=$build/tests/esp

for f in libctp.a libctpipsec.a ctpmn; do
	[ -e "$build/$f" ] || { echo "esp: $build/$f not built (make $build/ctpmn)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out"
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# ---- the programs -------------------------------------------------------------

cflags="-std=c11 -D_GNU_SOURCE -g -I$top/include -I$top/src $($PKG_CONFIG --cflags libuv openssl)"
# a sanitized library needs the same runtime in the program
if nm "$build/libctp.a" 2>/dev/null | grep -q '__asan_report'; then
	cflags="$cflags -fsanitize=address,undefined"
fi
libs="$build/libctpipsec.a $build/libctp.a $($PKG_CONFIG --libs libuv openssl libxml-2.0 usrsctp libsctp) -ldl -lpthread"
# shellcheck disable=SC2086 # the flags are words
if ! $CC $cflags -o "$out/gw" "$top/tests/esp/gw.c" $libs 2> "$out/gw.cc"; then
	cat "$out/gw.cc" >&2
	bad "tests/esp/gw.c does not build"
	echo "esp: $pass passed, $fail failed"
	exit 1
fi
MN=$build/ctpmn
"$MN" esp --help > /dev/null 2>&1 || { bad "ctpmn esp --help fails"; exit 1; }

# ---- the SAs, from the gateway's side -------------------------------------------

K1=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fa0a1a2a3
K2=202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3fb0b1b2b3
# into the gateway (the MN's outbound): AES-GCM-16, ESN, anti-replay
cat > "$out/gw-in.json" << EOF
{"tlvs": [
  {"tlv": "SA_ID", "spi": 4096, "protocol": 50, "mode": 2, "direction": 1, "flags": 5},
  {"tlv": "ENDPOINTS", "family": 4, "sa_type": 3, "moves": 1,
   "local_addr": "127.0.0.1", "peer_addr": "127.0.0.1"},
  {"tlv": "ENCR", "id": 20, "key_bits": 256, "key": "$K1"},
  {"tlv": "REPLAY", "window": 64, "highest": 0, "bitmap": "0000000000000000"}
]}
EOF
# out of the gateway (the MN's inbound)
cat > "$out/gw-out.json" << EOF
{"tlvs": [
  {"tlv": "SA_ID", "spi": 4097, "protocol": 50, "mode": 2, "direction": 2, "flags": 1},
  {"tlv": "ENDPOINTS", "family": 4, "sa_type": 3, "moves": 1,
   "local_addr": "127.0.0.1", "peer_addr": "127.0.0.1"},
  {"tlv": "ENCR", "id": 20, "key_bits": 256, "key": "$K2"},
  {"tlv": "SEQ_OUT", "next": 1, "margin": 0}
]}
EOF
SAS="--sa $out/gw-in.json --sa $out/gw-out.json"

# ---- helpers -------------------------------------------------------------------------

# start_gw NAME ARGS...: in the background until its log says ready; $gwpid
start_gw() {
	name=$1
	shift
	mkdir -p "$out/$name"
	"$out/gw" --log "$out/$name.log" --dir "$out/$name" "$@" 2>> "$out/$name.err" &
	gwpid=$!
	pids="$pids $gwpid"
	i=0
	until grep -q '^ready' "$out/$name.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || grep -q '^error' "$out/$name.log" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
}

# signal_gw NAME PID SIG WORD: send SIG, wait for one more log line WORD
signal_gw() {
	n0=$(grep -c "^$4" "$out/$1.log")
	kill "-$3" "$2"
	i=0
	until [ "$(grep -c "^$4" "$out/$1.log")" -gt "$n0" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.02
	done
}

# run NAME ARGS...: the MN's exit status in $rc, output in $out/NAME.{out,err}
run() {
	name=$1
	shift
	"$MN" esp "$@" > "$out/$name.out" 2> "$out/$name.err"
	rc=$?
}

# field NAME KEY: a number of the JSON report
field() {
	if command -v jq > /dev/null 2>&1; then
		jq -r ".$2" "$out/$1.out" 2>/dev/null
	else
		sed -n "s/^  \"$2\": \\([0-9a-z]*\\),*\$/\\1/p" "$out/$1.out"
	fi
}

# expect NAME CODE KEY=VALUE...: exit status and report fields
expect() {
	name=$1 code=$2
	shift 2
	if [ "$rc" -ne "$code" ]; then
		bad "$name: exit $rc, want $code: $(head -c 400 "$out/$name.err")"
		return 1
	fi
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		got=$(field "$name" "$k")
		if [ "$got" != "$v" ]; then
			bad "$name: $k is \"$got\", want \"$v\""
			return 1
		fi
	done
	ok
}

port=$((30000 + $$ % 20000))

# ---- 1. usage ---------------------------------------------------------------------------

run usage-none
[ $rc -eq 2 ] && grep -q -- '--sa' "$out/usage-none.err" && ok || bad "no arguments: exit $rc"
run usage-both $SAS --udp 4500 --raw
[ $rc -eq 2 ] && ok || bad "--udp with --raw: exit $rc"
run usage-replay $SAS --count 3 --replay 4
[ $rc -eq 2 ] && ok || bad "--replay beyond --count: exit $rc"
run usage-bad $SAS --count lots
[ $rc -eq 2 ] && ok || bad "--count lots: exit $rc"
run help --help
[ $rc -eq 0 ] && grep -q 'usage: ctpmn esp' "$out/help.out" && ok || bad "--help: exit $rc"
run one-sa --sa "$out/gw-in.json" --sa "$out/gw-in.json"
[ $rc -eq 1 ] && grep -q 'both SAs have direction 1' "$out/one-sa.err" && ok ||
	bad "two inbound SAs: exit $rc: $(cat "$out/one-sa.err")"

# ---- 2. traffic with one gateway ----------------------------------------------------------

p1=$port
start_gw gw1 --port "$p1" $SAS && ok || bad "gateway 1 did not start: $(cat "$out/gw1.log" "$out/gw1.err")"
gw1=$gwpid
st=$out/mn.state
run first $SAS --udp "$p1" --count 20 --json --state "$st"
expect first 0 sent=20 echoed=20 duplicates=0 auth_failures=0 seq_first=1 seq_last=20 \
	sent_seq_first=1 sent_seq_last=20 next_seq=21
[ -s "$st" ] && ! grep -q "$K1" "$st" && ok || bad "the state file is missing or holds a key"
run replay $SAS --udp "$p1" --count 5 --replay 3 --wait-ms 300 --json --state "$st"
expect replay 0 sent=5 echoed=5 duplicates=0 seq_first=21 seq_last=25 sent_seq_first=21 \
	replay.packet=3 replay.seq=23 replay.sent=true replay.echoed=false
run text $SAS --udp "$p1" --count 2 --state "$st"
[ $rc -eq 0 ] && grep -q '^sent 2 (sequence 26..27), echoed 2' "$out/text.out" && ok ||
	bad "text report: exit $rc: $(cat "$out/text.out" "$out/text.err")"
# without its state the MN starts over at 1: every packet is a replay there
run restart $SAS --udp "$p1" --count 3 --wait-ms 200 --json
expect restart 0 sent=3 echoed=0 sent_seq_first=1

# ---- 3. a handover by hand ------------------------------------------------------------------

signal_gw gw1 "$gw1" USR1 snapshot && grep -q '^snapshot 2' "$out/gw1.log" && ok ||
	bad "gateway 1 made no snapshot: $(cat "$out/gw1.log")"
# frozen: the MN's packets are accepted at gateway 1 but nothing comes back
run frozen $SAS --udp "$p1" --count 3 --wait-ms 200 --json --state "$st"
expect frozen 0 sent=3 echoed=0 sent_seq_first=28
signal_gw gw1 "$gw1" USR1 snapshot || bad "no second snapshot"
signal_gw gw1 "$gw1" USR2 described || bad "gateway 1 did not describe"
jq -e '.sas[] | select(.direction == "out") | .blocked == 3 and .state == "frozen"' \
	"$out/gw1/describe.json" > /dev/null 2>&1 && ok || bad "gateway 1: no 3 blocked echoes"
# 20 + 5 + 2 + 3 accepted; the replay of 23 and the 3 of the restart refused
jq -e '.sas[] | select(.direction == "in") | .packets == 30 and .replay_drops == 4' \
	"$out/gw1/describe.json" > /dev/null 2>&1 && ok || bad "gateway 1: inbound counters"
grep -q "$(printf %s "$K1" | cut -c1-16)" "$out/gw1/describe.json" &&
	bad "describe shows key octets" || ok
jq -e '.tlvs[] | select(.tlv == "SEQ_OUT") | .next == 28 and .margin == 0' \
	"$out/gw1/out.json" > /dev/null 2>&1 && ok || bad "the snapshot's SEQ_OUT: $(cat "$out/gw1/out.json")"
p2=$((port + 1))
start_gw gw2 --port "$p2" --margin 16384 --sa "$out/gw1/in.json" --sa "$out/gw1/out.json" &&
	ok || bad "gateway 2 did not start: $(cat "$out/gw2.log" "$out/gw2.err")"
gw2=$gwpid
run moved $SAS --udp "$p2" --count 10 --json --state "$st"
expect moved 0 sent=10 echoed=10 duplicates=0 sent_seq_first=31 seq_first=16412 seq_last=16421
# the commit: gateway 1 lets go; the MN's packets are unknown there now
signal_gw gw1 "$gw1" HUP removed || bad "gateway 1 removed nothing"
run stray $SAS --udp "$p1" --count 1 --wait-ms 100 --json --state "$st"
expect stray 0 echoed=0
signal_gw gw1 "$gw1" USR2 described || bad "gateway 1 did not describe again"
jq -e '.counters.unknown_spi == 1 and (.sas | length) == 0' "$out/gw1/describe.json" \
	> /dev/null 2>&1 && ok || bad "gateway 1 after the commit: $(cat "$out/gw1/describe.json")"
kill "$gw1" "$gw2"

# ---- 4. a gateway killed outright ---------------------------------------------------------------

p3=$((port + 2))
rm -f "$st"
start_gw gw3 --port "$p3" --state-file "$out/gw3.sad" --seq-reserve 50 $SAS && ok ||
	bad "gateway 3 did not start: $(cat "$out/gw3.log")"
run before-kill $SAS --udp "$p3" --count 30 --json --state "$st"
expect before-kill 0 echoed=30 seq_last=30
kill -9 "$gwpid"
wait "$gwpid" 2>/dev/null
start_gw gw3b --port "$p3" --state-file "$out/gw3.sad" --seq-reserve 50 && ok ||
	bad "gateway 3 did not restart: $(cat "$out/gw3b.log")"
run after-kill $SAS --udp "$p3" --count 10 --json --state "$st"
expect after-kill 0 echoed=10 duplicates=0 sent_seq_first=31 seq_first=51 seq_last=60
kill "$gwpid"

# ---- 5. an endpoint without the algorithm ------------------------------------------------------------

if start_gw gw4 --port $((port + 3)) --algorithms "ENCR_AES_CBC AUTH_HMAC_SHA2_256_128" $SAS; then
	bad "gateway 4 installed an AES-GCM SA it must not support"
	kill "$gwpid"
else
	grep -q 'ENCR_AES_GCM_16 is not supported at this endpoint' "$out/gw4.log" && ok ||
		bad "gateway 4: $(cat "$out/gw4.log")"
fi

# ---- 6. raw ESP -----------------------------------------------------------------------------------

if [ "$(id -u)" -eq 0 ]; then
	rm -f "$st"
	start_gw gw5 --raw $SAS && ok || bad "gateway 5 (raw) did not start: $(cat "$out/gw5.log")"
	run raw $SAS --raw --count 10 --json --state "$st"
	expect raw 0 transport=raw sent=10 echoed=10 duplicates=0 seq_first=1 seq_last=10
	kill "$gwpid"
else
	echo "esp: not root: raw ESP not tested"
fi

if grep -q 'ERROR: AddressSanitizer\|runtime error' "$out"/*.err 2>/dev/null; then
	bad "sanitizer: $(grep -l 'ERROR: AddressSanitizer\|runtime error' "$out"/*.err)"
fi
echo "esp: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
