#!/bin/bash
# tests/daemon/limits.sh BUILD: what a client, a peer or a crowd of mobile
# nodes can make a running ctpd hold is bounded, and the daemon says so.
# ctpd processes on loopback (usrsctp, TLS), as tests/daemon/run.sh runs them:
#   1. control-clients="2": three clients open at once; two are answered,
#      the third is told "too many clients (at most 2)" and closed, and the
#      daemon logs it; once they have gone a new client is answered;
#   2. peers="1": nar associates with par, its one peer; sg, a third daemon
#      that tries to associate with nar, is turned away at the transport
#      ("peer table full (1): INIT from 127.0.0.3 dropped") while par stays up;
#   3. --check-config refuses more configured peers than limits peers allows;
#   4. a CTAR flood: 3000 MNs (3000 previous addresses, three sources at
#      once, two all at once and one at 400 a second; the UDP encoding)
#      against nar with request-rate="50".  nar
#      admits at most rate x elapsed + burst (the burst is one second's
#      worth) and drops the rest, says so in a warning at powers of two,
#      answers every CTAR it admits, answers its control socket during the
#      flood and after, and a genuine handover afterwards succeeds.
# The only clock in the assertions is the rate limit's own bound, measured
# generously (the elapsed time of the whole flood plus a second).
#
# With KEYS_OUT=DIR the logs and outputs of the run and the keys it used are
# left in DIR (tests/secrets/grep-keys.sh looks for the keys in them).
set -u
B=$(cd "${1:-build}" && pwd)
top=$(pwd)
CTL=$B/ctpctl
MN=$B/ctpmn
tmp=$(mktemp -d /tmp/ctpd-limits.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	if [ -n "${KEYS_OUT:-}" ]; then
		mkdir -p "$KEYS_OUT" && cp "$tmp"/*.log "$tmp"/*.json "$tmp"/*.out "$tmp"/*.hex \
			"$tmp"/*.pcap "$KEYS_OUT"/ 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

"$top/tests/certs/make.sh" "$tmp/pki" par nar sg > /dev/null 2>&1 || { echo "cannot make certificates"; exit 1; }
if nm "$B/ctpd" 2> /dev/null | grep -q __asan_init; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
fi

conf() {   # name address limits timers mobile-nodes peer-lines...
	local name=$1 addr=$2 limits=$3 timers=$4 mn=$5
	shift 5
	cat > "$tmp/$name.xml" <<EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$name" roles="ar"><address>$addr</address></node>
  <transport backend="usrsctp" bind="$addr" udp-port="19899"/>
  <tls ca="pki/ca.pem" cert="pki/$name.pem" key="pki/$name.key"/>
  $*
  $mn
  <plugins dir="$B/plugins"><plugin name="ipsec"/><plugin name="mld"/></plugins>
  <timers reconnect-ms="200" $timers/>
  $limits
  <control socket="$tmp/$name.sock"/>
  <log level="info"/>
</ctpd>
EOF
}

start() {   # name
	"$B/ctpd" -f -c "$tmp/$1.xml" --pcap "$tmp/$1.pcap" > "$tmp/$1.log" 2>&1 &
	pids+=($!)
	eval "pid_$1=$!"
}

stop() {   # name: SIGTERM, exit 0
	local pid
	eval "pid=\$pid_$1"
	kill -TERM "$pid"
	wait "$pid" && ok || bad "$1 did not stop cleanly: $(tail -n 5 "$tmp/$1.log")"
}

up() {   # socket peer: the peer is up and authenticated
	"$CTL" -s "$1" peers --json 2> /dev/null | tr -d ' \n' |
		grep -q "\"name\":\"$2\"[^}]*\"state\":\"up\",\"authenticated\":true"
}

wait_up() {   # socket peer
	for _ in $(seq 150); do
		up "$1" "$2" && return 0
		sleep 0.2
	done
	return 1
}

stat() {   # socket name: one counter of stats --json
	"$CTL" -s "$1" stats --json | tr -d ' \n' | grep -o "\"$2\":[0-9]*" | head -1 | cut -d: -f2
}

# ---- 1 and 2: control clients, peers ------------------------------------------

conf par 127.0.0.1 '' '' '<mobile-nodes icmp="false"/>' '<peer name="nar" address="127.0.0.2"/>'
conf nar 127.0.0.2 '<limits peers="1" control-clients="2"/>' '' '<mobile-nodes icmp="false"/>' \
	'<peer name="par" address="127.0.0.1"/>'
conf sg 127.0.0.3 '' '' '<mobile-nodes icmp="false"/>' '<peer name="nar" address="127.0.0.2"/>'
start par
start nar
wait_up "$tmp/nar.sock" par && ok || bad "nar does not see par up: $("$CTL" -s "$tmp/nar.sock" peers 2>&1)"

# 1. three clients at once against control-clients="2"
out=$("$B/tests/daemon/ctl_clients" "$tmp/nar.sock" 3 2>&1)
[ "$(echo "$out" | grep -c '^[01]: {"ok":true,"node":"nar"')" = 2 ] && ok ||
	bad "the first two clients were not answered: $out"
echo "$out" | grep -q '^2: {"ok":false,"error":"too many clients (at most 2); try again later"}$' &&
	ok || bad "the third client was not turned away clearly: $out"
grep -q "control socket $tmp/nar.sock: a client beyond the 2 allowed was turned away" \
	"$tmp/nar.log" && ok || bad "the refusal of a control client was not logged"
"$CTL" -s "$tmp/nar.sock" status > /dev/null && ok || bad "no client answered after the three left"

# 2. peers="1": sg is turned away while par stays up
start sg
for _ in $(seq 100); do
	grep -q 'peer table full (1): INIT from 127.0.0.3' "$tmp/nar.log" && break
	sleep 0.1
done
grep -q 'peer table full (1): INIT from 127.0.0.3' "$tmp/nar.log" && ok ||
	bad "nar did not turn sg away at its peer limit: $(grep -i 'sg\|127.0.0.3\|table' "$tmp/nar.log" | tail -n 3)"
up "$tmp/sg.sock" nar && bad "sg got an association with nar beyond peers=\"1\"" || ok
up "$tmp/nar.sock" par && ok || bad "par is no longer up at nar"
stop sg
stop nar
stop par
pids=()

# 3. more configured peers than the limit: a configuration error with its line
conf nar 127.0.0.2 '<limits peers="1"/>' '' '<mobile-nodes icmp="false"/>' \
	'<peer name="par" address="127.0.0.1"/> <peer name="sg" address="127.0.0.3"/>'
out=$("$B/ctpd" --check-config -c "$tmp/nar.xml" 2>&1)
[ $? = 1 ] && echo "$out" | grep -q 'nar.xml:6: peer "sg": 2 peers configured, more than limits peers="1" allows' &&
	ok || bad "more peers than the limit was accepted or not explained: $out"

# ---- 4. the CTAR flood ---------------------------------------------------------

RATE=50
PORT=19811
KEY=00112233445566778899aabbccddeeff00112233
MASTER=5a5a0102030405060708090a0b0c0d0e
echo "$KEY" > "$tmp/keys.hex"
echo "$MASTER" >> "$tmp/keys.hex"
conf par 127.0.0.1 '' '' '<mobile-nodes icmp="false"/>' '<peer name="nar" address="127.0.0.2"/>'
conf nar 127.0.0.2 '' "request-rate=\"$RATE\"" "<mobile-nodes icmp=\"false\" udp-port=\"$PORT\"/>" \
	'<peer name="par" address="127.0.0.1"/>'
start par
start nar
wait_up "$tmp/nar.sock" par && ok || bad "flood: nar does not see par up"
in0=$(stat "$tmp/nar.sock" ctar_in)

# the control socket, asked every 0.2 s while the flood lasts
( n=0 bad=0
  while [ ! -f "$tmp/flood.done" ]; do
	  "$CTL" -s "$tmp/nar.sock" status > /dev/null 2>&1 || bad=$((bad + 1))
	  n=$((n + 1))
	  sleep 0.2
  done
  echo "$n $bad" > "$tmp/ctl.out" ) &
poller=$!

t0=$(now_ms)
for k in 1 2 3; do
	# two sources send their 1000 at once, the third 400 a second for
	# 2.5 s; the MNs the rate limit silences give up after 4 s, never
	# retransmitting
	pace=()
	[ $k = 3 ] && pace=(--rate 400)
	"$MN" many --count 1000 "${pace[@]}" --prev-base "10.$k.0.1" --key-master "$MASTER" \
		--par 127.0.0.1 --nar 127.0.0.2 --udp $PORT --src "127.0.1.$k" \
		--retry-ms 60000 --timeout-ms 4000 --ctn-ms 0 --json > "$tmp/many$k.json" 2> "$tmp/many$k.out" &
	eval "many$k=\$!"
done
wait "$many1" "$many2" "$many3"
t1=$(now_ms)
touch "$tmp/flood.done"
wait $poller

in1=$(stat "$tmp/nar.sock" ctar_in)
dropped=$(stat "$tmp/nar.sock" ctar_dropped_rate)
ctaa=$("$CTL" -s "$tmp/nar.sock" stats --json | tr -d ' \n' | grep -o '"messages_out":{[^}]*}' |
	grep -o '"CTAA":[0-9]*' | cut -d: -f2)
arrived=$((in1 - in0))
admitted=$((arrived - dropped))
elapsed=$((t1 - t0))
bound=$(( (elapsed + 1000) * RATE / 1000 + RATE ))
answered=0
for k in 1 2 3; do
	a=$(tr -d ' \n' < "$tmp/many$k.json" | grep -o '"ok":[0-9]*' | head -1 | cut -d: -f2)
	f=$(tr -d ' \n' < "$tmp/many$k.json" | grep -o '"failed":[0-9]*' | head -1 | cut -d: -f2)
	answered=$((answered + ${a:-0} + ${f:-0}))
done
echo "limits: flood of 3000 CTARs: $arrived reached nar in $elapsed ms, $admitted admitted" \
	"(bound $bound), $dropped dropped, $ctaa CTAAs, $answered MNs answered"
[ "$arrived" -ge 1000 ] && ok || bad "flood: only $arrived CTARs reached nar"
[ "$admitted" -le "$bound" ] && ok ||
	bad "flood: $admitted CTARs admitted in $elapsed ms, above $RATE/s + a burst of $RATE ($bound)"
[ "$admitted" -ge 1 ] && [ "$dropped" -ge 1 ] && ok || bad "flood: admitted $admitted, dropped $dropped"
[ "${ctaa:-0}" -le "$admitted" ] && ok || bad "flood: $ctaa CTAAs for $admitted admitted CTARs"
[ "$answered" -le "$admitted" ] && [ "$answered" -ge 1 ] && ok ||
	bad "flood: $answered MNs answered, $admitted CTARs admitted"
grep -q "CTAR dropped: above CT_REQUEST_RATE ($RATE a second); [0-9]* dropped so far" "$tmp/nar.log" &&
	ok || bad "flood: the rate limit was not logged"
lines=$(grep -c 'CTAR dropped: above CT_REQUEST_RATE' "$tmp/nar.log")
[ "$lines" -le 20 ] && ok || bad "flood: $lines log lines about dropped CTARs (powers of two only)"
read -r polls polls_bad < "$tmp/ctl.out"
[ "${polls:-0}" -ge 1 ] && [ "${polls_bad:-1}" = 0 ] && ok ||
	bad "flood: the control socket failed $polls_bad of $polls times"
"$CTL" -s "$tmp/nar.sock" status > /dev/null && ok || bad "flood: no control socket after it"
up "$tmp/nar.sock" par && ok || bad "flood: par is no longer up at nar"
live=$("$CTL" -s "$tmp/nar.sock" status --json | tr -d ' \n' | grep -o '"transfers_live":[0-9]*' | cut -d: -f2)
[ "${live:-1}" = 0 ] && ok || bad "flood: $live transfers still live at nar"

# a genuine handover after the flood
"$CTL" -s "$tmp/par.sock" mn-key set 10.9.9.9 "$KEY" > /dev/null && ok || bad "mn-key set"
"$MN" handover --key "$KEY" --prev 10.9.9.9 --par 127.0.0.1 --nar 127.0.0.2 --udp $PORT \
	--src 127.0.1.9 --ctn-ms 0 --json > "$tmp/handover.json" 2> "$tmp/handover.out" &&
	ok || bad "no handover after the flood: $(cat "$tmp/handover.json" "$tmp/handover.out")"
grep -q '"result": *"ok"' "$tmp/handover.json" && ok || bad "handover: $(cat "$tmp/handover.json")"

stop nar
stop par
pids=()
echo "daemon limits: $pass passed, $fail failed"
[ $fail -eq 0 ]
