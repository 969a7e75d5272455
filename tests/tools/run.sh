#!/bin/sh
# tests/tools/run.sh BUILD: the command-line contract of ctpctl decode/encode
# and ctpmn token, checked from outside the way an operator uses them.
set -u
B=${1:-build}
CTL="$B/ctpctl"
MN="$B/ctpmn"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }

# 1. every committed vector: decode (tree and JSON), then encode the JSON and
#    compare the octets with the original, as hex and as raw output.
n=0
for v in tests/vectors/*.hex; do
	[ -f "$v" ] || continue
	n=$((n + 1))
	want=$(tr -d ' \t\r\n' < "$v" | tr 'A-F' 'a-f')
	if ! "$CTL" decode "$v" > "$tmp/tree" 2> "$tmp/err"; then
		bad "decode $v: $(cat "$tmp/err")"; continue
	fi
	grep -q '^type: ' "$tmp/tree" || { bad "decode $v: no type line"; continue; }
	"$CTL" decode --json "$v" > "$tmp/j" 2> "$tmp/err" || { bad "decode --json $v: $(cat "$tmp/err")"; continue; }
	got=$("$CTL" encode --json --hex "$tmp/j" 2> "$tmp/err") || { bad "encode $v: $(cat "$tmp/err")"; continue; }
	[ "$got" = "$want" ] || { bad "round trip $v: $got != $want"; continue; }
	"$CTL" decode --json "$v" | "$CTL" encode --json - > "$tmp/raw" 2> "$tmp/err" ||
		{ bad "pipe $v: $(cat "$tmp/err")"; continue; }
	[ "$(hexof "$tmp/raw")" = "$want" ] || { bad "raw round trip $v"; continue; }
	# the raw octets decode the same as the hex text
	"$CTL" decode --json "$tmp/raw" > "$tmp/j2" && cmp -s "$tmp/j" "$tmp/j2" ||
		{ bad "binary input $v decodes differently"; continue; }
	ok
done
[ $n -gt 0 ] || bad "no vectors in tests/vectors"

# 2. malformed input: exit 1, exactly one line on stderr, naming the offset
check_malformed() {   # hex, expected offset, what
	"$CTL" decode --hex "$1" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	lines=$(wc -l < "$tmp/err")
	if [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q "offset $2:" "$tmp/err" || [ -s "$tmp/out" ]; then
		bad "malformed ($3): rc=$rc lines=$lines: $(cat "$tmp/err")"
	else
		ok
	fi
}
check_malformed 21c0 0 "short header"
check_malformed 41c00008c0000201 0 "version 2"
check_malformed 2a800008c0000201 0 "type 10"
check_malformed 26800009c0000201 2 "Length longer than the data"
check_malformed 2680000cc000020100000000 8 "octets after CTC"
check_malformed 2380001000000000c0000201ff010300 14 "CDB Length past the end"
check_malformed 2380001000000000c0000201ff010000 14 "CDB Length 0 in a CTD"

# 3. ctpmn token against an HMAC computed by openssl, independently
key=000102030405060708090a0b0c0d0e0f10111213
want=$(printf '\300\000\002\012\022\064\126\170\377\001\000\000' |
	openssl dgst -sha1 -mac HMAC -macopt hexkey:$key | sed 's/.*= //' | cut -c1-8)
got=$("$MN" token --key $key --prev 192.0.2.10 --seq 0x12345678 --cdb ff010000)
[ "$got" = "$want" ] && ok || bad "ctpmn token: $got, openssl says $want"
got=$("$MN" token --key $key --prev 192.0.2.10 --seq 305419896 --cdb ff01)
[ "$got" = "$want" ] && ok || bad "ctpmn token with an FPT shorthand: $got != $want"
want6=$(printf '\040\001\015\270\000\000\000\000\000\000\000\000\000\000\000\001\000\000\000\007' |
	openssl dgst -sha1 -mac HMAC -macopt hexkey:$key | sed 's/.*= //' | cut -c1-8)
got=$("$MN" token --key $key --prev 2001:db8::1 --seq 7)
[ "$got" = "$want6" ] && ok || bad "ctpmn token IPv6: $got != $want6"
"$MN" token --key zz --prev 192.0.2.1 --seq 1 > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "ctpmn token accepted a bad key"

# 4. --help tells the truth and exits 0; unknown commands exit 2
"$CTL" --help | grep -q 'decode' && ok || bad "ctpctl --help"
"$MN" --help | grep -q 'token' && ok || bad "ctpmn --help"
"$CTL" frobnicate > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "ctpctl unknown command"

echo "tools: $pass passed, $fail failed ($n vectors round-tripped)"
[ $fail -eq 0 ]
