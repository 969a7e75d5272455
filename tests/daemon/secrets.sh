#!/bin/bash
# tests/daemon/secrets.sh BUILD: keys stay where they belong (PROFILE 5.3),
# on two ctpd on loopback (usrsctp, TLS, both logging at debug):
#   1. the keys' arena: run as root, each daemon reports a locked arena
#      (ctpctl status: key_arena_bytes) and the kernel counts at least that
#      much locked memory for the process (VmLck);
#   2. a network-controlled predictive handover that moves the MN's key
#      (PCTD) and two SAs whose keys are known (one AES-GCM, one AES-CBC
#      with HMAC-SHA-256) from par to nar, then the MN's CTAR to nar;
#   3. tests/secrets/grep-keys.sh (itself tested first: tests/secrets/test.sh)
#      finds none of those keys in the logs, nor
#      in any output of ctpctl (status, peers, transfers, stats, plugins,
#      sas, mn-key list; plain and --json) on either daemon, nor in what the
#      MN printed.
# The capture (--pcap) is searched too but only reported: it holds the
# messages decrypted, keys included, by design (ctpd(8)).
#
# With KEYS_OUT=DIR the outputs and the key file are left in DIR.
set -u
B=$(cd "${1:-build}" && pwd)
top=$(pwd)
CTL=$B/ctpctl
tmp=$(mktemp -d /tmp/ctpd-secrets.XXXXXX)
mkdir -p "$tmp/out"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	[ -n "${KEYS_OUT:-}" ] && mkdir -p "$KEYS_OUT" && cp -R "$tmp/out" "$tmp/keys.txt" \
		"$tmp"/*.pcap "$KEYS_OUT"/ 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# the tool first: it finds a key in every form it promises
"$top/tests/secrets/test.sh" > "$tmp/grep-keys-test.out" 2>&1 && ok ||
	bad "tests/secrets/test.sh: $(cat "$tmp/grep-keys-test.out")"
"$top/tests/certs/make.sh" "$tmp/pki" par nar > /dev/null 2>&1 || { echo "cannot make certificates"; exit 1; }
if nm "$B/ctpd" 2> /dev/null | grep -q __asan_init; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
	sanitized=1
else
	sanitized=0
fi

PORT=19821
MNA=10.9.9.9
KEY=$(openssl rand -hex 20)
EK1=$(openssl rand -hex 36)      # AES-GCM-256: key and salt
EK2=$(openssl rand -hex 16)      # AES-CBC-128
IK2=$(openssl rand -hex 32)      # HMAC-SHA-256
printf '%s\n' "$KEY" "$EK1" "$EK2" "$IK2" > "$tmp/keys.txt"

conf() {   # name address peer peer-address mobile-nodes
	cat > "$tmp/$1.xml" <<EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$1" roles="ar"><address>$2</address></node>
  <transport backend="usrsctp" bind="$2" udp-port="19899"/>
  <tls ca="pki/ca.pem" cert="pki/$1.pem" key="pki/$1.key"/>
  <peer name="$3" address="$4"/>
  $5
  <plugins dir="$B/plugins"><plugin name="ipsec"/><plugin name="mld"/></plugins>
  <timers reconnect-ms="200" max-handover-ms="10000"/>
  <control socket="$tmp/$1.sock"/>
  <log level="debug"/>
</ctpd>
EOF
}
conf par 127.0.0.1 nar 127.0.0.2 '<mobile-nodes icmp="false"/>'
conf nar 127.0.0.2 par 127.0.0.1 "<mobile-nodes icmp=\"false\" udp-port=\"$PORT\"/>"
for n in par nar; do
	"$B/ctpd" -f -c "$tmp/$n.xml" --pcap "$tmp/$n.pcap" > "$tmp/out/$n.log" 2>&1 &
	pids+=($!)
	eval "pid_$n=$!"
done
for _ in $(seq 150); do
	"$CTL" -s "$tmp/nar.sock" peers --json 2> /dev/null | tr -d ' \n' |
		grep -q '"state":"up","authenticated":true' && break
	sleep 0.2
done

# 1. the arena
for n in par nar; do
	eval "pid=\$pid_$n"
	arena=$("$CTL" -s "$tmp/$n.sock" status --json | tr -d ' \n' | grep -o '"key_arena_bytes":[0-9]*' |
		cut -d: -f2)
	lck=$(awk '/^VmLck:/ { print $2 }' "/proc/$pid/status")
	if [ $sanitized = 1 ]; then
		[ "${arena:-1}" = 0 ] && ok || bad "$n: a sanitized build set up an arena ($arena)"
	elif [ "$(id -u)" = 0 ]; then
		[ "${arena:-0}" -gt 0 ] && [ "${lck:-0}" -ge $((arena / 1024)) ] && ok ||
			bad "$n: key arena $arena octets, VmLck $lck kB"
	else
		echo "secrets: $n: not root: arena $arena octets, VmLck $lck kB (not checked)"
	fi
done

# 2. the handover: the MN's key and two SAs go from par to nar
sa() {   # spi direction encr bits key [integ key]
	local dirtlv integ=""
	if [ "$2" = 1 ]; then
		dirtlv='{"tlv":"REPLAY","window":128,"highest":0,"bitmap":"00000000000000000000000000000000"}'
	else
		dirtlv='{"tlv":"SEQ_OUT","next":1,"margin":0}'
	fi
	[ $# -gt 5 ] && integ=",{\"tlv\":\"INTEG\",\"id\":$6,\"key\":\"$7\"}"
	printf '{"fpt":65281,"tlvs":[{"tlv":"SA_ID","spi":%d,"protocol":50,"mode":2,"direction":%d,"flags":%d},{"tlv":"ENDPOINTS","family":4,"sa_type":5,"moves":1,"local_addr":"127.0.0.1","peer_addr":"%s"},{"tlv":"ENCR","id":%d,"key_bits":%d,"key":"%s"}%s,%s]}' \
		"$1" "$2" $(($2 == 1 ? 5 : 1)) "$MNA" "$3" "$4" "$5" "$integ" "$dirtlv"
}
"$CTL" -s "$tmp/par.sock" call sa-add "{\"sa\":[$(sa 20481 1 20 256 "$EK1"),$(sa 20482 2 12 128 "$EK2" 12 "$IK2")]}" \
	> "$tmp/out/sa-add.out" 2>&1 && ok || bad "sa-add: $(cat "$tmp/out/sa-add.out")"
"$CTL" -s "$tmp/par.sock" mn-key set $MNA "$KEY" > "$tmp/out/mn-key.out" 2>&1 && ok ||
	bad "mn-key set: $(cat "$tmp/out/mn-key.out")"
"$CTL" -s "$tmp/par.sock" trigger push $MNA nar > "$tmp/out/trigger.out" 2>&1 && ok ||
	bad "trigger push: $(cat "$tmp/out/trigger.out")"
for _ in $(seq 100); do
	"$CTL" -s "$tmp/nar.sock" stats --json | tr -d ' \n' | grep -q '"held":1' && break
	sleep 0.1
done
"$B/ctpmn" handover --key "$KEY" --prev $MNA --par 127.0.0.1 --nar 127.0.0.2 --udp $PORT \
	--src 127.0.1.9 --ctn-ms 0 --json > "$tmp/out/handover.json" 2> "$tmp/out/handover.err" &&
	ok || bad "handover: $(cat "$tmp/out/handover.json" "$tmp/out/handover.err")"
for _ in $(seq 50); do
	"$CTL" -s "$tmp/par.sock" transfers --json | tr -d ' \n' | grep -q '"outcome":"committed"' && break
	sleep 0.1
done
"$CTL" -s "$tmp/par.sock" transfers --json | tr -d ' \n' | grep -q '"outcome":"committed"' && ok ||
	bad "the push was not committed: $("$CTL" -s "$tmp/par.sock" transfers 2>&1)"
"$CTL" -s "$tmp/nar.sock" sas --json | tr -d ' \n' | grep -q '"spi":20482' && ok ||
	bad "nar does not hold the SAs: $("$CTL" -s "$tmp/nar.sock" sas 2>&1)"

# 3. every output, both daemons
for n in par nar; do
	for c in status peers transfers stats plugins sas; do
		"$CTL" -s "$tmp/$n.sock" $c > "$tmp/out/$n-$c.txt" 2>&1
		"$CTL" -s "$tmp/$n.sock" $c --json > "$tmp/out/$n-$c.json" 2>&1
	done
	"$CTL" -s "$tmp/$n.sock" mn-key list > "$tmp/out/$n-mn-key.txt" 2>&1
done
grep -q "$MNA" "$tmp/out/par-sas.txt" "$tmp/out/nar-sas.txt" && ok || bad "no SA listed anywhere"
for n in par nar; do
	eval "pid=\$pid_$n"
	kill -TERM "$pid"
	wait "$pid" && ok || bad "$n did not stop cleanly: $(tail -n 5 "$tmp/out/$n.log")"
done
pids=()
out=$("$top/tests/secrets/grep-keys.sh" "$tmp/out" "$tmp/keys.txt") && ok ||
	bad "keys in the logs or outputs: $out"
mkdir -p "$tmp/cap"
cp "$tmp"/*.pcap "$tmp/cap/"
if cap=$("$top/tests/secrets/grep-keys.sh" "$tmp/cap" "$tmp/keys.txt"); then
	echo "secrets: the captures hold no key"
else
	echo "secrets: note: the captures hold keys, as --pcap writes messages decrypted:"
	echo "$cap" | sed "s|$tmp/cap/|    |"
fi
echo "daemon secrets: $pass passed, $fail failed"
[ $fail -eq 0 ]
