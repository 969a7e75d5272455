#!/bin/bash
# tests/faults/env.sh BUILD: CTPD_TEST_FAULTS (ctpd(8), ENVIRONMENT) is parsed
# strictly: every malformed value makes ctpd refuse to start, with exit
# status 1 and a line naming the problem; a good value (or rule file) starts
# it with a TEST MODE warning that lists the rules; unset, no word of it.
# No root needed: the daemon binds a loopback address of its own.

# "test && ok || bad": ok and bad always succeed, so this is if-then-else.
# shellcheck disable=SC2015
set -u
B=$(cd "${1:-build}" && pwd) || exit 1
T=$(mktemp -d /tmp/ctp-faults-env.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
A=127.0.0.$((100 + $$ % 100))
cat > "$T/a.xml" << EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="a" roles="ar"><address>$A</address></node>
  <transport backend="usrsctp" bind="$A"/>
  <control socket="$T/a.sock"/>
  <log level="info"/>
</ctpd>
EOF

# refused: value, what the message must say
refused() {
	local out rc
	out=$(CTPD_TEST_FAULTS="$1" timeout 10 "$B/ctpd" -f -c "$T/a.xml" 2>&1)
	rc=$?
	[ $rc = 1 ] && ok || bad "\"$1\": exit $rc, want 1"
	grep -q "CTPD_TEST_FAULTS.*$2" <<< "$out" && ok || bad "\"$1\": no \"$2\" in: $(tail -1 <<< "$out")"
}
refused "" "no rule"
refused "drop=5" "a rule without peer="
refused "peer=10.0.0.300,drop=5" "not an address"
refused "peer=*,drop=101" "drop=101: not a percentage"
refused "peer=*,dup=-1" "dup=-1: not a percentage"
refused "peer=*,reorder=5x" "reorder=5x: not a percentage"
refused "peer=*,delay=60001" "delay=60001: not milliseconds"
refused "peer=*,seed=abc" "seed=abc: not an unsigned integer"
refused "peer=*,loss=5" "unknown key \"loss\""
refused "peer=*,drop" "is not KEY=VALUE"
refused "peer=*;from=1.2.3.4" "a rule without peer="
refused "@" "no file"
refused "@$T/missing" "No such file"
printf 'peer=*,drop=5\npeer=*,bogus=1\n' > "$T/badfile"
refused "@$T/badfile" "unknown key \"bogus\""

# accepted: starts, says TEST MODE with its rules, stops on SIGTERM with 0
accepted() {   # value, the number of rules
	local p rc
	CTPD_TEST_FAULTS="$1" "$B/ctpd" -f -c "$T/a.xml" > "$T/log" 2>&1 &
	p=$!
	for _ in $(seq 100); do grep -q 'TEST MODE' "$T/log" && break; sleep 0.05; done
	kill -TERM $p 2> /dev/null
	wait $p
	rc=$?
	[ $rc = 0 ] && ok || bad "\"$1\": exit $rc after SIGTERM: $(tail -2 "$T/log")"
	grep -q "warning.*TEST MODE (CTPD_TEST_FAULTS.*$2 rule" "$T/log" && ok ||
		bad "\"$1\": no TEST MODE warning with $2 rule(s): $(grep -i fault "$T/log" | head -2)"
	[ "$(grep -c 'TEST MODE fault rule' "$T/log")" = "$2" ] && ok || bad "\"$1\": rules not all logged"
}
accepted "peer=10.1.0.1,drop=25,seed=3" 1
accepted " peer=*, from=$A, dup=100 ; peer=::1,delay=60000,reorder=0 " 2
printf '# a comment\n\npeer=10.2.0.1,reorder=50 # the link to NR\n' > "$T/rules"
accepted "@$T/rules" 1
: > "$T/empty"
accepted "@$T/empty" 0

# unset: not a word of it
unset CTPD_TEST_FAULTS
"$B/ctpd" -f -c "$T/a.xml" > "$T/log" 2>&1 &
p=$!
for _ in $(seq 100); do [ -S "$T/a.sock" ] && break; sleep 0.05; done
kill -TERM $p; wait $p
grep -q 'TEST MODE\|CTPD_TEST_FAULTS' "$T/log" && bad "unset: the log speaks of faults" || ok

echo "faults env: $pass passed, $fail failed"
[ $fail = 0 ]
