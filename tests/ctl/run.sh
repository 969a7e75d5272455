#!/bin/sh
# tests/ctl/run.sh BUILD_DIR: ctpctl's daemon commands (status, peers,
# transfers, stats, plugins, call) checked from outside, as an operator
# runs them:
#
#  1. no daemon: exit 3 and one line naming the socket, whether it comes
#     from -s (before or after the command), $CTPD_SOCKET or the default,
#     and for a socket file a dead daemon left behind;
#  2. usage errors: exit 2;
#  3. against tests/ctl/fake_ctpd.c (the real control socket server with
#     the canned replies of tests/ctl/replies.json, built here against
#     BUILD_DIR/libctp.a): the tables and --json output must equal
#     tests/ctl/expected/*, an error reply exits 1 with the daemon's words.
#     CTL_UPDATE=1 rewrites the expected files instead; review the diff.
#
# The round trip with the real ctpd is tested with the daemon.

# "test && ok || bad": ok and bad always succeed, so this is if-then-else.
# shellcheck disable=SC2015
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: tests/ctl/run.sh BUILD_DIR}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
CTL=$build/ctpctl
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
out=$build/tests/ctl
exp=$top/tests/ctl/expected

[ -x "$CTL" ] || { echo "ctl: $CTL not built" >&2; exit 1; }
# The caller's socket must not leak into the tests; they set it themselves.
unset CTPD_SOCKET
rm -rf "$out"
mkdir -p "$out"
# UNIX socket paths are short (108 octets): keep them out of BUILD_DIR.
sockdir=$(mktemp -d /tmp/ctpctl-test.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$sockdir"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run NAME ARGS...: ctpctl's exit status in $rc, its output in $out/NAME.{out,err}
run() {
	name=$1
	shift
	TZ=UTC "$CTL" "$@" > "$out/$name.out" 2> "$out/$name.err"
	rc=$?
}

# expect_nodaemon NAME SOCKET ARGS...
expect_nodaemon() {
	name=$1 sock=$2
	shift 2
	run "$name" "$@"
	want="ctpctl: no ctpd is listening on $sock (is it running? see -s)"
	if [ $rc -ne 3 ] || [ "$(cat "$out/$name.err")" != "$want" ] || [ -s "$out/$name.out" ]; then
		bad "$name: ctpctl $*: exit $rc, stderr: $(cat "$out/$name.err")"
	else
		ok
	fi
}

# expect_usage NAME ARGS...
expect_usage() {
	name=$1
	shift
	run "$name" "$@"
	if [ $rc -ne 2 ] || [ ! -s "$out/$name.err" ] || [ -s "$out/$name.out" ]; then
		bad "$name: ctpctl $*: exit $rc (want 2), stderr: $(cat "$out/$name.err")"
	else
		ok
	fi
}

# ---- 1. no daemon ---------------------------------------------------------

none=$sockdir/none.sock
for cmd in status peers transfers stats plugins; do
	expect_nodaemon "none-$cmd" "$none" -s "$none" "$cmd"
	expect_nodaemon "none-$cmd-json" "$none" "$cmd" --json -s "$none"
done
expect_nodaemon none-call "$none" -s "$none" call status
expect_nodaemon none-socket-eq "$none" --socket="$none" peers
export CTPD_SOCKET="$sockdir/env.sock"
expect_nodaemon none-env "$sockdir/env.sock" status
expect_nodaemon none-env-s "$none" -s "$none" status     # -s wins
unset CTPD_SOCKET
if [ -e /run/ctpd.sock ]; then
	echo "ctl: /run/ctpd.sock exists: not testing the default socket"
else
	expect_nodaemon none-default /run/ctpd.sock stats
fi

# ---- 2. usage ---------------------------------------------------------------

expect_usage usage-extra -s "$none" status extra
expect_usage usage-option -s "$none" peers --bogus
expect_usage usage-s-alone -s
expect_usage usage-call-none -s "$none" call
expect_usage usage-call-bad-json -s "$none" call peers '{bad'
expect_usage usage-call-array -s "$none" call peers '[1]'
expect_usage usage-call-cmd -s "$none" call peers '{"cmd":"x"}'
expect_usage usage-call-three -s "$none" call peers '{}' '{}'
for cmd in status peers transfers stats plugins sas call; do
	run "help-$cmd" "$cmd" --help
	[ $rc -eq 0 ] && grep -q "usage: ctpctl .*$cmd" "$out/help-$cmd.out" && ok ||
		bad "ctpctl $cmd --help: exit $rc"
done
"$CTL" --help | grep -q '^  transfers \[--json\]' && ok || bad "ctpctl --help lists no daemon commands"

# ---- 3. a fake daemon --------------------------------------------------------

cflags="-std=c11 -D_GNU_SOURCE -g -I$top/include $($PKG_CONFIG --cflags libuv)"
# a sanitized libctp.a needs the same runtime in the program
if nm "$build/libctp.a" 2>/dev/null | grep -q '__asan_report'; then
	cflags="$cflags -fsanitize=address,undefined"
fi
# shellcheck disable=SC2086,SC2046 # the flags are words
if ! $CC $cflags -o "$out/fake_ctpd" "$top/tests/ctl/fake_ctpd.c" "$build/libctp.a" \
	$($PKG_CONFIG --libs libuv openssl libxml-2.0 usrsctp libsctp) -ldl -lpthread \
	2> "$out/fake_ctpd.cc"; then
	cat "$out/fake_ctpd.cc" >&2
	bad "tests/ctl/fake_ctpd.c does not build"
	echo "ctl: $pass passed, $fail failed"
	exit 1
fi

# start_fake SOCKET: in the background, waiting until it answers (a stale
# socket file may be there before it is)
start_fake() {
	"$out/fake_ctpd" "$1" "$top/tests/ctl/replies.json" 2>> "$out/fake_ctpd.log" &
	fake=$!
	pids="$pids $fake"
	i=0
	until "$CTL" -s "$1" call help > /dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || return 1
		sleep 0.05
	done
}

sock=$sockdir/ctpd.sock
start_fake "$sock" && ok || bad "fake_ctpd did not start: $(cat "$out/fake_ctpd.log")"

# compare NAME FILE: output against tests/ctl/expected/NAME
compare() {
	if [ "${CTL_UPDATE:-0}" = 1 ]; then
		cp "$2" "$exp/$1"
		ok
	elif diff -u "$exp/$1" "$2" > "$out/$1.diff" 2>&1; then
		ok
	else
		bad "$1 differs from tests/ctl/expected/$1:"
		cat "$out/$1.diff"
	fi
}

for cmd in status peers transfers stats plugins sas; do
	run "$cmd" -s "$sock" "$cmd"
	[ $rc -eq 0 ] && [ ! -s "$out/$cmd.err" ] && ok || bad "ctpctl $cmd: exit $rc: $(cat "$out/$cmd.err")"
	compare "$cmd.txt" "$out/$cmd.out"
	run "$cmd-json" "$cmd" --json -s "$sock"
	[ $rc -eq 0 ] && ok || bad "ctpctl $cmd --json: exit $rc: $(cat "$out/$cmd-json.err")"
	compare "$cmd.json" "$out/$cmd-json.out"
	grep -q '"ok"' "$out/$cmd-json.out" && bad "$cmd --json prints \"ok\"" || ok
done
export CTPD_SOCKET="$sock"
run env-status status
unset CTPD_SOCKET
[ $rc -eq 0 ] && cmp -s "$out/env-status.out" "$out/status.out" && ok || bad "\$CTPD_SOCKET not used"

run call-echo -s "$sock" call echo '{"peer":"ar2","n":[1,true,null]}'
[ $rc -eq 0 ] && ok || bad "call echo: exit $rc: $(cat "$out/call-echo.err")"
compare call-echo.json "$out/call-echo.out"

run call-broken -s "$sock" call broken
[ $rc -eq 1 ] && [ "$(cat "$out/call-broken.err")" = "ctpctl broken: the engine is not running" ] &&
	[ ! -s "$out/call-broken.out" ] && ok || bad "error reply: exit $rc: $(cat "$out/call-broken.err")"
run call-unknown -s "$sock" call nosuch
[ $rc -eq 1 ] && [ "$(cat "$out/call-unknown.err")" = 'ctpctl nosuch: unknown command "nosuch"' ] &&
	ok || bad "unknown command: exit $rc: $(cat "$out/call-unknown.err")"

# a second daemon on a live socket refuses to start and leaves it alone
if "$out/fake_ctpd" "$sock" "$top/tests/ctl/replies.json" > /dev/null 2> "$out/second.err"; then
	bad "a second daemon started on $sock"
else
	grep -q 'already listening' "$out/second.err" && ok ||
		bad "a second daemon on $sock: $(cat "$out/second.err")"
fi
run after-second -s "$sock" status
[ $rc -eq 0 ] && ok || bad "the first daemon stopped answering: $(cat "$out/after-second.err")"

# a clean stop removes the socket
kill "$fake"
wait "$fake" 2>/dev/null
[ -e "$sock" ] && bad "the socket outlived the daemon" || ok

# a daemon killed outright leaves its socket: "no ctpd is listening" there,
# and the next daemon replaces it
start_fake "$sock" || bad "fake_ctpd did not start again"
kill -9 "$fake"
wait "$fake" 2>/dev/null
[ -S "$sock" ] && ok || bad "no stale socket after kill -9"
expect_nodaemon stale "$sock" -s "$sock" peers
start_fake "$sock" && ok || bad "fake_ctpd did not replace a stale socket: $(cat "$out/fake_ctpd.log")"
run after-stale -s "$sock" plugins
[ $rc -eq 0 ] && ok || bad "no answer after replacing the stale socket"
kill "$fake"
wait "$fake" 2>/dev/null

if grep -q 'ERROR: AddressSanitizer\|runtime error' "$out/fake_ctpd.log"; then
	bad "fake_ctpd: $(cat "$out/fake_ctpd.log")"
fi

echo "ctl: $pass passed, $fail failed"
[ $fail -eq 0 ]
