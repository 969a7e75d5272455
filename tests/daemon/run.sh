#!/bin/bash
# tests/daemon/run.sh BUILD: two ctpd processes on loopback (usrsctp + TLS
# with certificates), as an operator runs them:
#   1. both come up and see each other as authenticated (ctpctl peers --json);
#   2. CXTP messages cross in both directions (ctpctl call send, then the
#      other side's ctpctl stats --json) and land in the --pcap capture;
#   3. SIGHUP reloads: an unchanged peer keeps its association, a new peer
#      appears;
#   4. SIGTERM stops both gracefully: SHUTDOWN, exit 0, no leak (valgrind
#      when the binaries are not sanitized, LeakSanitizer when they are);
#   5. ctpd --check-config prints the precise error (one line, two for a
#      truncated file) and exits 1 for every configuration in tests/conf/bad/;
#   6. least privilege (below);
#   7. tests/daemon/limits.sh: control clients, peers, the CTAR flood;
#   8. tests/daemon/secrets.sh: the keys' locked arena, no key in any log or
#      control-socket output after a handover that moves keys.
set -u
B=$(cd "${1:-build}" && pwd)
top=$(pwd)
CTL=$B/ctpctl
tmp=$(mktemp -d /tmp/ctpd-daemon.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$top/tests/certs/make.sh" "$tmp/pki" par nar > /dev/null 2>&1 || { echo "cannot make certificates"; exit 1; }

if nm "$B/ctpd" 2> /dev/null | grep -q __asan_init; then
	runner=()
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
	leakcheck="LeakSanitizer"
elif command -v valgrind > /dev/null; then
	runner=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
		--errors-for-leak-kinds=definite,indirect --error-exitcode=23)
	leakcheck="valgrind"
else
	runner=()
	leakcheck="none (neither a sanitized build nor valgrind)"
fi

conf() {   # name address peer-name peer-address [extra peer lines]
	cat > "$tmp/$1.xml" <<EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$1" roles="ar"><address>$2</address></node>
  <transport backend="usrsctp" bind="$2" udp-port="19899"/>
  <tls ca="pki/ca.pem" cert="pki/$1.pem" key="pki/$1.key"/>
  <peer name="$3" address="$4"/>
  ${5:-}
  <mobile-nodes icmp="false"/>
  <plugins dir="$B/plugins"><plugin name="ipsec"/><plugin name="mld"/></plugins>
  <timers reconnect-ms="200"/>
  <control socket="$tmp/$1.sock"/>
  <log level="info"/>
</ctpd>
EOF
}
conf par 127.0.0.1 nar 127.0.0.2
conf nar 127.0.0.2 par 127.0.0.1

start() {   # name
	"${runner[@]}" "$B/ctpd" -f -c "$tmp/$1.xml" --pcap "$tmp/$1.pcap" > "$tmp/$1.log" 2>&1 &
	pids+=($!)
	eval "pid_$1=$!"
}
start par
start nar

# 1. authenticated both ways (valgrind makes start-up slow: wait up to 60 s)
for _ in $(seq 300); do
	a=$("$CTL" -s "$tmp/par.sock" peers --json 2> /dev/null | grep -c '"authenticated": true')
	b=$("$CTL" -s "$tmp/nar.sock" peers --json 2> /dev/null | grep -c '"authenticated": true')
	[ "$a" = 1 ] && [ "$b" = 1 ] && break
	sleep 0.2
done
[ "$a" = 1 ] && ok || bad "par does not see nar authenticated: $("$CTL" -s "$tmp/par.sock" peers 2>&1)"
[ "$b" = 1 ] && ok || bad "nar does not see par authenticated: $("$CTL" -s "$tmp/nar.sock" peers 2>&1)"
"$CTL" -s "$tmp/par.sock" peers --json | grep -q '"cipher": "TLS_AES' && ok || bad "no TLS cipher shown"

# 2. messages both ways
pctd=$("$CTL" encode --json --hex examples/messages/02-pctd-ipsec-sa.json)
ctdr=$("$CTL" encode --json --hex examples/messages/03-ctdr-statuses.json)
ctdr4=$(sed 's/2001:db8:1::10/192.0.2.10/' examples/messages/03-ctdr-statuses.json | "$CTL" encode --json --hex -)
"$CTL" -s "$tmp/par.sock" call send "{\"peer\":\"nar\",\"hex\":\"$pctd\"}" > /dev/null && ok || bad "send PCTD"
"$CTL" -s "$tmp/nar.sock" call send "{\"peer\":\"par\",\"hex\":\"$ctdr4\"}" > /dev/null && ok || bad "send CTDR"
"$CTL" -s "$tmp/nar.sock" call send "{\"peer\":\"par\",\"hex\":\"$ctdr\"}" > /dev/null && ok || bad "send CTDR v6"
"$CTL" -s "$tmp/nar.sock" call send '{"peer":"par","hex":"2680"}' > /dev/null 2>&1 && bad "a malformed message was sent" || ok
"$CTL" -s "$tmp/nar.sock" call send '{"peer":"nobody","hex":"26800008c0000201"}' > /dev/null 2>&1 && bad "sent to an unknown peer" || ok
for _ in $(seq 50); do
	n_in=$("$CTL" -s "$tmp/nar.sock" stats --json | tr -d ' \n' | grep -o '"messages_in":{[^}]*}' | grep -o '"PCTD":[0-9]*' | cut -d: -f2)
	p_in=$("$CTL" -s "$tmp/par.sock" stats --json | tr -d ' \n' | grep -o '"messages_in":{[^}]*}' | grep -o '"CTDR":[0-9]*' | cut -d: -f2)
	[ "${n_in:-0}" = 1 ] && [ "${p_in:-0}" = 2 ] && break
	sleep 0.1
done
[ "${n_in:-0}" = 1 ] && ok || bad "nar received ${n_in:-?} PCTD, expected 1"
[ "${p_in:-0}" = 2 ] && ok || bad "par received ${p_in:-?} CTDR, expected 2"

# 3. SIGHUP: keep the association to par, add a peer
hs_before=$("$CTL" -s "$tmp/nar.sock" stats --json | grep -o '"handshakes": [0-9]*')
conf nar 127.0.0.2 par 127.0.0.1 '<peer name="ghost" address="127.0.0.9"/>'
kill -HUP "$pid_nar"
for _ in $(seq 50); do
	"$CTL" -s "$tmp/nar.sock" peers --json 2> /dev/null | grep -q '"name": "ghost"' && break
	sleep 0.1
done
"$CTL" -s "$tmp/nar.sock" peers --json | grep -q '"name": "ghost"' && ok || bad "reload did not add peer ghost"
hs_after=$("$CTL" -s "$tmp/nar.sock" stats --json | grep -o '"handshakes": [0-9]*')
[ "$hs_before" = "$hs_after" ] && ok || bad "reload re-established an unchanged association ($hs_before, $hs_after)"
"$CTL" -s "$tmp/nar.sock" peers --json | tr -d ' \n' | grep -q '"name":"par"[^}]*"state":"up"' && ok ||
	bad "par no longer up after the reload"
grep -q 'reload: 1 peers kept, 0 changed, 1 added, 0 removed' "$tmp/nar.log" && ok || bad "reload summary not logged"

# 4. SIGTERM: graceful, exit 0, no leaks
kill -TERM "$pid_par"
wait "$pid_par"; rc_par=$?
kill -TERM "$pid_nar"
wait "$pid_nar"; rc_nar=$?
pids=()
[ $rc_par = 0 ] && ok || bad "par exited $rc_par ($leakcheck): $(tail -n 20 "$tmp/par.log")"
[ $rc_nar = 0 ] && ok || bad "nar exited $rc_nar ($leakcheck): $(tail -n 20 "$tmp/nar.log")"
grep -q 'down (shutdown)' "$tmp/par.log" && ok || bad "par did not close its association with SHUTDOWN"
grep -q 'stopped' "$tmp/par.log" && grep -q 'stopped' "$tmp/nar.log" && ok || bad "a daemon did not log its stop"

# the capture holds the messages, decrypted
if command -v tshark > /dev/null; then
	got=$(tshark -r "$tmp/par.pcap" -X lua_script:wireshark/cxtp.lua -T fields -e cxtp.type 2> "$tmp/tshark.err" | tr '\n' ' ')
	[ "$got" = "4 5 5 " ] && ok || bad "par's capture shows \"$got\", expected PCTD out, CTDR in twice"
	grep -q 'Lua' "$tmp/tshark.err" && bad "Lua error decoding the capture" || ok
fi

# 5. --check-config on every broken configuration
n=0
for f in tests/conf/bad/*.xml; do
	exp=${f%.xml}.expected
	[ -f "$exp" ] || continue
	n=$((n + 1))
	out=$(cd tests/conf && "$B/ctpd" --check-config -c "bad/$(basename "$f")" 2>&1)
	rc=$?
	if [ $rc -ne 1 ] || [ "$out" != "$(cat "$exp")" ]; then
		bad "check-config $f (rc $rc): $out"
	else
		ok
	fi
done
[ $n -ge 25 ] && ok || bad "only $n broken configurations"
"$B/ctpd" --check-config -c "$tmp/par.xml" > /dev/null && ok || bad "a valid configuration was refused"
"$B/ctpd" --help | grep -q -- '--check-config' && ok || bad "ctpd --help"

# 6. least privilege: with <user>, the running daemon is that user with only
#    CAP_NET_ADMIN (and CAP_NET_RAW when it answers MNs over ICMP), and
#    no_new_privs; it still answers its control socket
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
	sed 's|<log level="info"/>|<log level="info"/><user name="nobody"/>|' "$tmp/par.xml" > "$tmp/par-user.xml"
	"$B/ctpd" -f -c "$tmp/par-user.xml" > "$tmp/par-user.log" 2>&1 &
	upid=$!
	pids+=($upid)
	for _ in $(seq 50); do
		grep -q 'now user nobody' "$tmp/par-user.log" && break
		sleep 0.1
	done
	st=/proc/$upid/status
	[ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$st")" = 65534655346553465534 ] && ok ||
		bad "privilege drop: $(grep ^Uid "$st") $(tail -3 "$tmp/par-user.log")"
	[ "$(awk '/^CapEff:/ {print $2}' "$st")" = 0000000000001000 ] && ok ||
		bad "capabilities after the drop: $(grep ^Cap "$st")"
	[ "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" = 1 ] && ok || bad "no_new_privs not set"
	"$CTL" -s "$tmp/par.sock" status > /dev/null && ok || bad "no control socket after the drop"
	kill -TERM $upid
	wait $upid && ok || bad "the unprivileged daemon did not stop cleanly: $(tail -5 "$tmp/par-user.log")"
	pids=()
else
	echo "daemon: privilege drop NOT tested (needs root and a user nobody)"
fi

# 7. the limits of <limits> and CT_REQUEST_RATE (a script of its own)
"$top/tests/daemon/limits.sh" "$B" && ok || bad "tests/daemon/limits.sh"

# 8. keys: locked, and nowhere in logs or control-socket output (a script of its own)
"$top/tests/daemon/secrets.sh" "$B" && ok || bad "tests/daemon/secrets.sh"

echo "daemon: $pass passed, $fail failed (leak check: $leakcheck)"
[ $fail -eq 0 ]
