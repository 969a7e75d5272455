#!/bin/bash
# tests/demo/handover.sh BUILD: what `make demo` shows: one mobile node's
# IPsec SAs move between real ctpd daemons during a handover, proved with
# real ESP packets before and after, with a timeline of every CXTP message,
# where each SA went (or why it stayed), the latency of each step, and
# captures left behind for Wireshark.
#
# The access network is the relay chain of tests/lib/chain.sh (PROFILE 3):
#
#     MN --- PR (pAR) --- S1, S2, G, RN        old path
#      \---- NR (nAR) --- S1', S2', G, RN      new path
#
# one ctpd per node (usrsctp in UDP, TLS 1.3 with certificates, the ipsec
# plugin on the mem SAD with a UDP ESP datapath that echoes).  As root, each
# node lives in a network namespace of its own, linked through a core
# router (where the wire capture is taken) and the MN talks ICMP (RFC 4067).
# Without root or namespaces (or with CTP_DEMO_LOOPBACK=1) the same daemons
# run on 127.0.77.x and the MN uses ctpmn's UDP encoding instead.
#
# The MN's SAs, one per type of the IPsec CT draft (keys fresh from
# `openssl rand`, of the algorithm's length; SPIs random):
#   type 5  MN <-> S2   AES-GCM-16 256 (32 + 4 octets of salt)   moves to S2'
#   type 3  S1 <-> RN   AES-CBC-128 + HMAC-SHA2-256, at the virtual SG
#                       address (indirect SG identity)           moves to S1'
#   type 2  MN <-> RN   ChaCha20-Poly1305 (32 + 4)               stays at RN
#   type 1  G  <-> RN   AES-GCM-16 128 (16 + 4), both copies     stays at G, RN
# (types 1 and 2 go in with SA type 0: a node may not be told them, it
# finds them from its paths, PROFILE 5; they are left in place, 0x8A).
#
# Output: the printed report (also $OUT/report.txt) and the folder $OUT
# (default BUILD/demo, or $CTP_DEMO_OUT): wire.pcap, tls-keylog.txt,
# cxtp-NODE.pcap, logs/, ctl/, secret/.  Exit 0 only on a PASS verdict.
# Knobs: CTP_DEMO_LOOPBACK=1 (force the loopback variant), CTP_DEMO_OUT,
# CTP_DEMO_PREDICTIVE=1 (a mobile-controlled predictive handover instead).

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# Timers for a demo, not for a timer test: a gateway on a loaded machine
# (CI, sanitizers) may take a few hundred ms to answer PR's CT-Req, and
# chain.sh's test default (100 ms) would then abort the collection.
CH_MAX_TRANSFER_MS=${CH_MAX_TRANSFER_MS:-2000}
CH_MAX_HANDOVER_MS=${CH_MAX_HANDOVER_MS:-5000}
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"

B=$(cd "${1:-build}" 2> /dev/null && pwd) || { echo "demo: no build folder ${1:-build}"; exit 2; }
OUT=${CTP_DEMO_OUT:-$B/demo}
LUA=$top/wireshark/cxtp.lua
T0=$(date +%s.%N)
MODE="" WHY="" TDPIDS=() FAILS=() DONE=0
declare -A PORT LABEL
LABEL=([pr]="PR" [nr]="NR" [s1]="S1" [s2]="S2" [s1p]="S1'" [s2p]="S2'" [g]="G" [rn]="RN"
	[mn]="MN")

for t in jq openssl tshark; do
	command -v $t > /dev/null 2>&1 || { echo "demo: FAIL — $t is missing (make deps installs it)"; exit 1; }
done
for f in ctpd ctpctl ctpmn plugins/ipsec.so; do
	[ -e "$B/$f" ] || { echo "demo: FAIL — $B/$f is missing (run make)"; exit 1; }
done

say() { echo "$*" | tee -a "$OUT/report.txt"; }
fail() { FAILS+=("$*"); say "  !! $*"; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }

demo_cleanup() {
	local p rc=$?
	for p in "${TDPIDS[@]}"; do kill "$p" 2> /dev/null; done
	for p in "${TDPIDS[@]}"; do wait "$p" 2> /dev/null; done
	if [ $DONE = 0 ] && [ -n "$CH_T" ]; then
		mkdir -p "$OUT/logs"
		cp "$CH_T"/*.log "$OUT/logs/" 2> /dev/null
		echo "demo: stopped before the end; logs so far in $OUT/logs"
	fi
	chain_cleanup
	exit $rc
}

# ---- which variant: namespaces or loopback ---------------------------------------

rm -rf "$OUT"
mkdir -p "$OUT/logs" "$OUT/ctl" "$OUT/secret"
chmod 700 "$OUT/secret"
: > "$OUT/report.txt"

if [ "${CTP_DEMO_LOOPBACK:-}" = 1 ]; then
	MODE=loopback WHY="forced by CTP_DEMO_LOOPBACK=1"
else
	chain_init "$B"
	case $? in
	0) MODE=netns ;;
	1)
		MODE=loopback
		if [ "$(id -u)" != 0 ]; then WHY="not root: network namespaces need root"
		else WHY="\`ip netns add\` failed: no network namespaces here"; fi ;;
	*) echo "demo: FAIL — cannot set up the namespaces (see above)"; exit 1 ;;
	esac
fi
if [ $MODE = loopback ]; then
	CH_T=$(mktemp -d /tmp/ctp-demo.XXXXXX)
	CH_SA=$CH_T/sa
	mkdir -p "$CH_SA"
	# shellcheck disable=SC2034 # read by chain.sh
	CH_B=$B CH_TOP=$top
	CH_ADDR=([pr]=127.0.77.1 [nr]=127.0.77.2 [s1]=127.0.77.3 [s2]=127.0.77.4
		[s1p]=127.0.77.5 [s2p]=127.0.77.6 [g]=127.0.77.7 [rn]=127.0.77.8)
	CH_VSG=127.0.77.99 CH_MN=127.0.77.100
	# the ESP datapath binds its port on the wildcard: one port per node
	i=0
	for n in $CH_NODES; do i=$((i + 1)); PORT[$n]=$((34500 + i)); done
fi
trap demo_cleanup EXIT
demo_int() { echo; echo "demo: interrupted, cleaning up"; exit 130; }
demo_term() { echo "demo: terminated, cleaning up"; exit 143; }
trap demo_int INT
trap demo_term TERM

say "== ctpd demo: an MN's IPsec SAs move from PR to NR (RFC 4067 + PROFILE 3)"
if [ $MODE = netns ]; then
	say "   network namespaces ctpi$$-*: MN, PR, NR, S1, S2, S1', S2', G, RN and a core router;"
	say "   the MN speaks ICMP (type 41) to the ARs; the wire is captured at the core router and the MN"
else
	say "   NO NETWORK NAMESPACES ($WHY): the same nine nodes run on loopback"
	say "   (127.0.77.x, one ESP port each), the MN speaks ctpmn's UDP encoding to the ARs"
fi

# ---- the daemons -------------------------------------------------------------------

# chain_conf's configuration, plus the TLS key log (explicitly allowed),
# and on loopback the UDP ports that separate the nodes.
demo_conf() {
	local n=$1 f=$CH_T/$1.xml
	chain_conf "$n"
	sed -i "s|<tls |<tls keylog=\"$CH_T/$n.keys\" allow-keylog=\"true\" |" "$f"
	if [ $MODE = loopback ]; then
		sed -i -e "s|<transport backend=\"usrsctp\" bind=\"\([^\"]*\)\"|& udp-port=\"39899\"|" \
			-e "s|port=\"4500\"|port=\"${PORT[$n]}\"|" "$f"
		case $n in
		pr) sed -i 's|<mobile-nodes icmp="true"/>|<mobile-nodes icmp="false" udp-port="39896"/>|' "$f" ;;
		nr) sed -i 's|<mobile-nodes icmp="true"/>|<mobile-nodes icmp="false" udp-port="39897"/>|' "$f" ;;
		esac
	fi
}

demo_start() {
	local n=$1 pre=()
	[ $MODE = netns ] && pre=(ip netns exec "$(chain_ns "$n")")
	echo "=== start $(date +%T.%N | cut -c1-12)" >> "$CH_T/$n.log"
	"${pre[@]}" "$B/ctpd" -f -c "$CH_T/$n.xml" --pcap "$OUT/cxtp-$n.pcap" >> "$CH_T/$n.log" 2>&1 &
	CH_PID[$n]=$!   # chain_stop and chain_cleanup know it
}

# tcpdump NAME NS ARGS...: a wire capture, started before any daemon so that
# every TLS handshake is in it (the key log needs them).
demo_tcpdump() {
	local name=$1 ns=$2 i pre=()
	shift 2
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	"${pre[@]}" tcpdump -n -U -s 0 -w "$CH_T/wire-$name.pcap" "$@" 2> "$CH_T/tcpdump-$name.err" &
	TDPIDS+=($!)
	for i in $(seq 50); do
		grep -q "listening on" "$CH_T/tcpdump-$name.err" 2> /dev/null && return 0
		kill -0 "${TDPIDS[-1]}" 2> /dev/null || break
		sleep 0.1
	done
	return 1
}

if [ $MODE = netns ]; then
	chain_topology || { echo "demo: FAIL — could not build the namespaces"; exit 1; }
	# at the core router each packet once (as it comes in), and the MN's links
	demo_tcpdump core "$(chain_ns rt)" -i any -Q in ||
		fail "no wire capture at the core router: $(tail -1 "$CH_T/tcpdump-core.err")"
	demo_tcpdump mn "$(chain_ns mn)" -i any 'not host 127.0.0.1' ||
		fail "no wire capture at the MN: $(tail -1 "$CH_T/tcpdump-mn.err")"
else
	WIRE_NOTE=""
	if ! command -v tcpdump > /dev/null 2>&1 || ! demo_tcpdump lo "" -i lo 'net 127.0.77.0/24'; then
		WIRE_NOTE="no wire capture (tcpdump on lo needs root or CAP_NET_RAW)"
		say "   $WIRE_NOTE: the daemons' own captures remain"
	fi
fi

# shellcheck disable=SC2086
"$top/tests/certs/make.sh" "$CH_T/pki" $CH_NODES > "$CH_T/pki.log" 2>&1 ||
	{ echo "demo: FAIL — no certificates: $(tail -2 "$CH_T/pki.log")"; exit 1; }
for n in $CH_NODES; do demo_conf $n; demo_start $n; done
# shellcheck disable=SC2086
if ! chain_wait_up $CH_NODES; then
	chain_logs
	echo "demo: FAIL — the daemons did not come up (logs above)"
	exit 1
fi
CH_KEY=$(openssl rand -hex 20)
chain_ctl pr mn-key set "$CH_MN" "$CH_KEY" > /dev/null
say "-- $(elapsed): 8 daemons up, every association authenticated (TLS 1.3); the MN-pAR key given to PR"

# ---- the MN's SAs ------------------------------------------------------------------

S2=${CH_ADDR[s2]} G=${CH_ADDR[g]} RN=${CH_ADDR[rn]}
o=$(( ($(od -An -N2 -tu2 /dev/urandom) % 0xfff + 1) << 16 ))
T5I=$((0x5001 + o)) T5O=$((0x5002 + o)) T3I=$((0x3001 + o)) T3O=$((0x3002 + o))
T1C=$((0x1001 + o)) T1D=$((0x1002 + o)) T2I=$((0x2001 + o)) T2O=$((0x2002 + o))
# In a subshell: bash 5.2 may fail to parse a trap's action when the
# signal arrives while it parses chain_sa's command substitutions (seen
# with SIGTERM: "unexpected EOF while looking for matching `)'", and the
# script carried on); the parent only waits here.
(
	chain_sa t5i $T5I in "$S2" "$CH_MN" gcm16-256 type=5
	chain_sa t5o $T5O out "$S2" "$CH_MN" gcm16-256 type=5
	chain_sa t3i $T3I in "$CH_VSG" "$RN" cbc128-sha256 sel vsg type=3
	chain_sa t3o $T3O out "$CH_VSG" "$RN" cbc128-sha256 sel vsg type=3
	chain_sa t2i $T2I in "$RN" "$CH_MN" chacha
	chain_sa t2o $T2O out "$RN" "$CH_MN" chacha
	chain_sa t1c $T1C out "$G" "$RN" gcm16-128 sel
	chain_sa_flip t1c t1c-rn
	chain_sa t1d $T1D out "$RN" "$G" gcm16-128 sel
	chain_sa_flip t1d t1d-g
	if [ $MODE = loopback ]; then
		# gateway to gateway on loopback: the peer's ESP port (RFC 3948 ENCAP)
		encap() { jq --argjson s "$2" --argjson d "$3" \
			'.tlvs += [{tlv: "ENCAP", encap_type: 1, sport: $s, dport: $d}]' "$CH_SA/$1.json" \
			> "$CH_SA/$1.tmp" && mv "$CH_SA/$1.tmp" "$CH_SA/$1.json"; }
		encap t1c "${PORT[g]}" "${PORT[rn]}"
		encap t1d "${PORT[rn]}" "${PORT[g]}"
	fi
)
cp "$CH_SA/t5i.json" "$CH_SA/mn5-in.json"
cp "$CH_SA/t5o.json" "$CH_SA/mn5-out.json"
chain_sa_add s2 t5i t5o && chain_sa_add s1 t3i t3o && chain_sa_add g t1c t1d-g &&
	chain_sa_add rn t1c-rn t1d t2i t2o || fail "a gateway refused the SAs (sa-add)"
# the keys, for whoever decodes the exported-PDU captures, and for check.sh
jq -r '.tlvs[] | select(.tlv == "ENCR" or .tlv == "INTEG") | .key' \
	"$CH_SA"/t{5i,5o,3i,3o,2i,2o,1c,1d}.json > "$OUT/secret/sa-keys.txt"
echo "$CH_KEY" > "$OUT/secret/mn-par-key.txt"
cp "$CH_SA"/*.json "$OUT/secret/"
chmod 600 "$OUT/secret"/*

# holders SPI TAG: every node holding a copy of SPI (either direction) in
# the snapshot TAG, as "NODE(state) ..."
holders() {
	local n h="" st
	for n in $CH_NODES; do
		st=$(jq -r --argjson spi "$(($1))" '[.sas[] | select(.spi == $spi) | .state] | unique | join(",")' \
			"$OUT/ctl/$n-sas-$2.json" 2> /dev/null)
		[ -n "$st" ] && h="$h ${LABEL[$n]}($st)"
	done
	echo "${h# }"
}
snapshot() {   # tag: every node's SAs, peers, transfers, stats into ctl/
	local n
	for n in $CH_NODES; do
		chain_sas $n > "$OUT/ctl/$n-sas-$1.json"
		[ "$1" = after ] || continue
		chain_ctl $n transfers --json > "$OUT/ctl/$n-transfers.json" 2> /dev/null
		chain_ctl $n peers --json > "$OUT/ctl/$n-peers.json" 2> /dev/null
		chain_ctl $n stats --json > "$OUT/ctl/$n-stats.json" 2> /dev/null
	done
}

# The table of SAs, whose holders are looked up now, before anything moves.
SAS="5 $T5I in AES-GCM-16/256 MN->S2
5 $T5O out AES-GCM-16/256 S2->MN
3 $T3I in AES-CBC-128+HMAC-SHA2-256 RN->S1(VSG)
3 $T3O out AES-CBC-128+HMAC-SHA2-256 S1(VSG)->RN
2 $T2I in ChaCha20-Poly1305 MN->RN
2 $T2O out ChaCha20-Poly1305 RN->MN
1 $T1C out AES-GCM-16/128 G->RN
1 $T1D out AES-GCM-16/128 RN->G"
snapshot before
say "-- $(elapsed): the MN's SAs installed: types 5, 3, 2, 1 with fresh random keys and SPIs"

# ---- ESP traffic ----------------------------------------------------------------------

# esp NS NAME SA-IN SA-OUT TO-NODE COUNT [more ctpmn esp args]: the MN's (or
# RN's) ESP through the gateway's echo; records "sent echoed auth" in ESP_*.
declare -A ESP_RES
esp() {
	local ns=$1 name=$2 si=$3 so=$4 to=$5 count=$6 pre=() extra=()
	shift 6
	if [ $MODE = netns ]; then pre=(ip netns exec "$(chain_ns "$ns")")
	else extra=(--udp "${PORT[$to]}"); fi
	"${pre[@]}" "$B/ctpmn" esp --json --sa "$CH_SA/$si.json" --sa "$CH_SA/$so.json" \
		--count "$count" --state "$CH_T/$si.state" "${extra[@]}" "$@" \
		> "$OUT/logs/esp-$name.json" 2> "$OUT/logs/esp-$name.err"
	local rc=$? j=$OUT/logs/esp-$name.json
	ESP_RES[$name]="$(chain_j "$j" .sent) $(chain_j "$j" .echoed) $(chain_j "$j" .auth_failures)"
	set -- ${ESP_RES[$name]}
	[ $rc = 0 ] && [ "${1:-}" = "$count" ] && [ "${2:-}" = "$count" ] && [ "${3:-}" = 0 ] ||
		fail "ESP $name: ctpmn esp exit $rc, sent/echoed/auth failures ${ESP_RES[$name]:-?} of $count $(head -c 200 "$OUT/logs/esp-$name.err")"
}
# gateway to gateway (type 1): esp-send at NODE on SPI to DST, COUNT dummies
gw_send() {   # node spi dst count rxnode rxdir want
	local i
	chain_esp_send "$1" "$2" "$3" "$4" > "$OUT/ctl/esp-send-$1-$2.json" ||
		{ fail "esp-send at ${LABEL[$1]} refused"; return; }
	for i in $(seq 50); do
		[ "$(chain_sa_field "$5" "$2" "$6" packets)" = "$7" ] && return 0
		sleep 0.1
	done
	fail "type 1: ${LABEL[$5]} counted $(chain_sa_field "$5" "$2" "$6" packets) packets on $(printf 0x%08x "$2"), want $7"
}
# netns: the MN reaches the gateways through PR first
[ $MODE = netns ] && chain_mn_attach pr
esp mn 5-before mn5-in mn5-out s2 20
esp rn 3-before t3i t3o s1 10
esp mn 2-before t2i t2o rn 10
gw_send g $T1C "$RN" 5 rn in 5
say "-- $(elapsed): ESP before: type 5 MN<->S2 20/20 echoed, type 3 RN<->S1 10/10, type 2 MN<->RN 10/10, type 1 G->RN 5 dummies counted"
S2_SEEN=$(chain_sa_field s2 $T5I in highest_seen)

# ---- the handover -------------------------------------------------------------------

HOMODE=reactive hopt=()
[ "${CTP_DEMO_PREDICTIVE:-}" = 1 ] && HOMODE=predictive hopt=(--predictive)
if [ $MODE = netns ]; then
	chain_mn_attach nr   # mobility (not CXTP): the MN and the core now go through NR
	pre=(ip netns exec "$(chain_ns mn)")
else
	pre=()
	hopt+=(--udp 39897 --par-udp 39896)
fi
"${pre[@]}" "$B/ctpmn" handover --key "$CH_KEY" --prev "$CH_MN" --par "${CH_ADDR[pr]}" \
	--nar "${CH_ADDR[nr]}" --json "${hopt[@]}" --sa "$CH_SA/mn5-in.json" \
	--sa "$CH_SA/mn5-out.json" --timeout-ms 5000 > "$OUT/logs/mn-handover.json" \
	2> "$OUT/logs/mn-handover.err"
horc=$?
H=$OUT/logs/mn-handover.json
# shellcheck disable=SC2086
chain_quiet $CH_NODES || fail "transfers still live 10 s after the handover"
[ $MODE = netns ] && chain_vsg_at s1p   # the network moves the virtual SG address
say "-- $(elapsed): $HOMODE handover done (ctpmn: $(chain_j "$H" .result), exit $horc; \"refused\" = the CTAA lists SAs left in place, as it must)"

# ---- ESP after ------------------------------------------------------------------------

esp mn 5-after mn5-in mn5-out s2p 20
esp rn 3-after t3i t3o s1p 10
esp mn 2-after t2i t2o rn 10
gw_send g $T1C "$RN" 5 rn in 10
snapshot after

# ---- stop everything: captures complete ------------------------------------------------

for n in $CH_NODES; do
	chain_stop $n || fail "${LABEL[$n]}'s ctpd exited $? on SIGTERM"
done
for p in "${TDPIDS[@]}"; do kill "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
TDPIDS=()
cat "$CH_T"/*.keys > "$OUT/tls-keylog.txt" 2> /dev/null
chmod 600 "$OUT/tls-keylog.txt"
cp "$CH_T"/*.log "$OUT/logs/"
cp "$CH_T"/*.xml "$OUT/logs/"
WIRE=""
if ls "$CH_T"/wire-*.pcap > /dev/null 2>&1; then
	WIRE=$OUT/wire.pcap
	if command -v mergecap > /dev/null; then mergecap -w "$WIRE" "$CH_T"/wire-*.pcap
	else cp "$(ls "$CH_T"/wire-*.pcap | head -1)" "$WIRE"; fi
fi

# ---- the timeline, from the daemons' exported-PDU captures ---------------------------------

# one line per capture record: "epoch|node|src|dst|info"
ev=$CH_T/events
: > "$ev"
for n in $CH_NODES; do
	tshark -r "$OUT/cxtp-$n.pcap" -X lua_script:"$LUA" -T fields -E separator='|' \
		-e frame.time_epoch -e _ws.col.Source -e _ws.col.Destination -e _ws.col.Info \
		2>> "$CH_T/tshark.err" | sed "s/^\([^|]*\)|/\1|$n|/" >> "$ev"
done
grep -q 'Lua' "$CH_T/tshark.err" 2> /dev/null && fail "the dissector printed errors: $(grep -m1 Lua "$CH_T/tshark.err")"
amap=""
for n in $CH_NODES; do amap="$amap ${CH_ADDR[$n]}=$n"; done
# each message once, at the time its receiver had it (the MN has no capture:
# what it receives, at the time its AR sent it).  A daemon records what it
# sends once the send has returned, often after the receiver has it: the
# arrival is the time that orders the exchange.
sort -t'|' -k1,1n "$ev" | awk -F'|' -v amap="$amap" '
BEGIN {
	n = split(amap, a, " ")
	for (i = 1; i <= n; i++) { split(a[i], kv, "="); who[kv[1]] = kv[2] }
	L["pr"] = "PR"; L["nr"] = "NR"; L["s1"] = "S1"; L["s2"] = "S2"; L["s1p"] = "S1'\''"
	L["s2p"] = "S2'\''"; L["g"] = "G"; L["rn"] = "RN"; L["mn"] = "MN"
}
function node(addr, self) {
	sub(/:.*/, "", addr)
	if (addr == "") return self
	return (addr in who) ? who[addr] : "mn"
}
{
	t = $1; at = $2; s = node($3, at); d = node($4, at); info = $5
	type = info; sub(/ .*/, "", type)
	k = s SUBSEP d SUBSEP type
	if (s == at || s == "mn") {
		# the record of the sender, or of the receiver of what the MN sent
		m++; S[m] = s; D[m] = d; Y[m] = type; I[m] = info; T[m] = t
		ns[k]++; send[k, ns[k]] = m
		if (s == "mn") T[m] = t
	} else {
		na[k]++; arr[k, na[k]] = t
	}
}
END {
	for (k in ns)
		for (i = 1; i <= ns[k] && i <= na[k]; i++)
			T[send[k, i]] = arr[k, i]
	for (i = 1; i <= m; i++)
		if (Y[i] == "CTAR" && D[i] == "nr" && (t0 == "" || T[i] < t0)) t0 = T[i]
	for (i = 1; i <= m; i++) {
		if (t0 == "" || T[i] < t0 && Y[i] != "CTAR") continue
		x = I[i]
		sub(/^[^ ]+ /, "", x)
		sub(/MN=[^ ]+ ?/, "", x)
		if (match(x, /status=[^ ]*/)) {
			st = substr(x, RSTART + 7, RLENGTH - 7)
			ne = split(st, e, ",")
			delete c; out = ""
			for (j = 1; j <= ne; j++) { sub(/^[A-Z_]+:/, "", e[j]); c[e[j]]++ }
			for (nm in c) out = out (out == "" ? "" : ", ") c[nm] " " nm
			x = substr(x, 1, RSTART - 1) "status: " out
		}
		printf "%.3f|%s|%s|%s|%s\n", (T[i] - t0) * 1000, L[S[i]], L[D[i]], Y[i], x
	}
}' | sort -t'|' -k1,1g > "$CH_T/timeline"
cp "$CH_T/timeline" "$OUT/logs/timeline.psv"

say ""
say "== the CXTP messages (from the daemons' captures; ms since the CTAR reached NR, each message when its receiver had it)"
say "        ms  from    to    message  details"
while IFS='|' read -r t f d y x; do
	say "$(printf '%+10.2f  %-4s -> %-4s  %-7s  %s' "$t" "$f" "$d" "$y" "${x:0:80}")"
done < "$CH_T/timeline"
[ -s "$CH_T/timeline" ] || fail "no CXTP message in the daemons' captures"

# ---- the latency by step ----------------------------------------------------------------

# ms TYPE FROM TO first|last: when the first or last such message (FROM and
# TO regular expressions over the labels) was had, in ms since the CTAR
ms() {
	awk -F'|' -v y="$1" -v f="^($2)\$" -v d="^($3)\$" -v w="$4" '
	$4 == y && $2 ~ f && $3 ~ d { if (w == "last" || got == "") got = $1 }
	END { print got }' "$CH_T/timeline"
}
step() {   # label from to
	if [ -n "$2" ] && [ -n "$3" ]; then
		say "$(awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "   %-62s %8.2f ms\n", l, b - a }')"
	else say "   $(printf '%-62s %8s' "$1" "-")"; fi
}
OLD="S1|S2|G|RN" NEW="S1'|S2'"
a=$(ms CTAR MN NR first)
b=$(ms CT-Req NR PR first)
c=$(ms CT-Req PR "$OLD" first)
d=$(ms CTD "$OLD" PR last)
e=$(ms CTD PR NR first)
g=$(ms CTD NR "$NEW" first)
h=$(ms CTDR "$NEW" NR last)
i=$(ms CTDR NR PR first)
j=$(ms CTAA NR MN last)
k=$(ms CTN NR MN last)
l=$(ms CTNA MN NR last)
say ""
say "== the handover latency, step by step (from the captures)"
[ "$HOMODE" = predictive ] &&
	say "   (predictive: pAR pushed the contexts before the MN moved; these are the steps at NR)"
step "the CTAR at NR -> NR's CT-Req at PR" "$a" "$b"
step "PR asks the old path: -> the first CT-Req at S1, S2, G or RN" "$b" "$c"
step "the old path answers: -> the last of their CTDs at PR" "$c" "$d"
step "PR merges them: -> its CTD at NR" "$d" "$e"
step "NR relays: -> the first CTD at S1' or S2'" "$e" "$g"
step "the new path installs: -> the last of their CTDRs at NR" "$g" "$h"
step "NR answers the MN: -> the CTAA sent" "$h" "$j"
step "total: the CTAR at NR -> the CTAA sent" "$a" "$j"
step "  (NR's commit, the CTDR, at PR: after the CTAR)" "$a" "$i"
step "  (the CTN sent -> the MN's CTNA at NR)" "$k" "$l"
say "   the MN's own view: CTAR -> CTAA $(jq -r '[.ctaa[] | select(.ar == "nar")][0] | "\(.rtt_us / 1000) ms, \(.retransmissions) retransmissions"' "$H" 2> /dev/null), whole handover $(chain_j "$H" .elapsed_ms) ms"
say "   the engine's steps at NR (ctpctl transfers, ms): $(jq -r '[.transfers[] | select(.role == "nar")][-1] | [.steps[] | "\(.state) \(.at_ms)"] | join(", ")' "$OUT/ctl/nr-transfers.json" 2> /dev/null)"

# ---- the SAs: where each went ----------------------------------------------------------

say ""
say "== the MN's SAs (holders: ctpctl sas at every node, before and after)"
say "$(printf "   %-4s %-10s %-4s %-27s %-21s %-21s %s" type SPI dir algorithm before after why)"
while read -r ty spi dir alg _; do
	case $ty in
	5) why="moved: S2 is replaced by S2' on the new path"; want="S2'(active)" ;;
	3) why="moved: S1 -> S1' (the virtual SG address follows)"; want="S1'(active)" ;;
	2) why="stays: MN<->RN end to end, RN on both paths (0x8A)"; want="RN(active)" ;;
	1) why="stays: G and RN are on both paths (0x8A)"; want="G(active) RN(active)" ;;
	esac
	after=$(holders "$spi" after)
	say "$(printf '   %-4s 0x%08x %-4s %-27s %-21s %-21s %s' "$ty" "$spi" "$dir" "$alg" \
		"$(holders "$spi" before)" "$after" "$why")"
	[ "$after" = "$want" ] || fail "SA $(printf 0x%08x "$spi") is at \"$after\", want \"$want\""
done <<< "$SAS"
for n in s1 s2 pr nr; do
	c=$(jq '.sas | length' "$OUT/ctl/$n-sas-after.json" 2> /dev/null)
	[ "$c" = 0 ] || fail "${LABEL[$n]} still holds $c SAs after the handover"
done

# the MN's CTAA: exactly the copies of types 1 and 2 left in place
ctaa=$(jq -r '[.ctaa[] | select(.ar == "nar")][0].status | map(.status_name) | group_by(.) | map("\(length) \(.[0])") | join(", ")' "$H" 2> /dev/null)
[ "$ctaa" = "6 IPSEC_LEFT_IN_PLACE" ] ||
	fail "the CTAA to the MN says \"$ctaa\", want the 6 copies of types 1 and 2 left in place"
ctn=$(jq -r '[.ctn[] | select(.verified)] | length' "$H" 2> /dev/null)
gw=$(jq -r '.tlvs[] | select(.tlv == "ENDPOINTS") | .local_addr' "$CH_SA/mn5-in.json")
[ "$ctn" = 1 ] && [ "$gw" = "${CH_ADDR[s2p]}" ] ||
	fail "the MN was not told of S2' (verified CTNs: $ctn, its type 5 SA names $gw)"
say "   the MN's CTAA: $ctaa; its CTN verified, its type 5 SA files now name S2' ($gw)"

# ---- the traffic ----------------------------------------------------------------------------

s2p_pk=$(jq -r --argjson s $T5I '[.sas[] | select(.spi == $s and .direction == "in")][0] | "\(.packets) \(.auth_failures) \(.highest_seen)"' "$OUT/ctl/s2p-sas-after.json" 2> /dev/null)
set -- $s2p_pk
[ "${1:-}" = 40 ] && [ "${2:-}" = 0 ] ||
	fail "S2' counted \"$s2p_pk\" (packets auth-failures highest) on the type 5 SA, want 40 packets (20 carried over + 20), 0 failures"
say ""
say "== ESP through the SAs (ctpmn esp; sent echoed auth-failures)"
say "   before  type 5 MN<->S2 ${ESP_RES[5-before]}   type 3 RN<->S1 ${ESP_RES[3-before]}   type 2 MN<->RN ${ESP_RES[2-before]}"
say "   after   type 5 MN<->S2' ${ESP_RES[5-after]}  type 3 RN<->S1' ${ESP_RES[3-after]}  type 2 MN<->RN ${ESP_RES[2-after]}"
say "   S2' authenticated the MN's packets: ${1:-?} on its inbound SA (20 before, carried in the context), ${2:-?} auth failures, highest number ${3:-?}; S2 had seen $S2_SEEN"
say "   the gateway's numbers the MN received after: $(chain_j "$OUT/logs/esp-5-after.json" '"\(.seq_first)-\(.seq_last)"') (S2's last + the margin $CH_MARGIN: no number used twice)"
say "   type 1 G->RN: RN counted $(jq -r --argjson s $T1C '[.sas[] | select(.spi == $s)][0].packets' "$OUT/ctl/rn-sas-after.json") dummies (5 before, 5 after)"

# ---- the MN's bytes -----------------------------------------------------------------------------

say ""
say "== what the MN sent and received"
say "   CXTP: $(jq -r '"\(.packets_sent) messages, \(.bytes_sent) octets sent; \(.packets_received) messages, \(.bytes_received) octets received"' "$H")"
esp_tot=$(cat "$OUT"/logs/esp-[52]-*.json | jq -s '"\(map(.sent) | add) ESP packets sent, \(map(.echoed) | add) echoes received (types 5 and 2)"' -r)
say "   ESP:  $esp_tot"

# ---- the capture decodes ------------------------------------------------------------------------

# SCTP in UDP is decoded on Wireshark's port 9899 by default; loopback uses 39899
DEC=()
[ $MODE = loopback ] && DEC=(-d udp.port==39899,sctp)
CMD="tshark -X lua_script:$LUA -o tls.keylog_file:$OUT/tls-keylog.txt ${DEC[*]}${DEC:+ }-r $OUT/wire.pcap -Y cxtp -V"
spis=""
if [ -n "$WIRE" ]; then
	spis=$(tshark -X lua_script:"$LUA" -o tls.keylog_file:"$OUT/tls-keylog.txt" "${DEC[@]}" -r "$WIRE" -Y cxtp \
		-T fields -e cxtp.ipsec.spi 2> "$CH_T/tshark-wire.err" | tr ',' '\n' | grep -c -i \
		"$(printf '0x%08x' $T5I)")
	[ "${spis:-0}" -ge 1 ] || fail "the wire capture does not decode to the type 5 SPI $(printf '0x%08x' $T5I)"
elif [ $MODE = netns ]; then
	fail "no wire capture"
fi

# ---- the files --------------------------------------------------------------------------------

cat > "$OUT/README.txt" << EOF
ctpd demo ($MODE, $HOMODE handover), $(date -u +%FT%TZ)

wire.pcap         the wire: $( [ $MODE = netns ] && echo "every packet into the core router, and the MN's links" || echo "loopback 127.0.77.0/24")
                  (CXTP in TLS 1.3 over SCTP in UDP $( [ $MODE = netns ] && echo "9899, the MN's CXTP in ICMP type 41" || echo "39899 (tshark -d udp.port==39899,sctp); the MN's CXTP in UDP 39896/39897 is in the daemons' captures"), ESP in UDP)
tls-keylog.txt    the TLS secrets (ctpd <tls keylog> with allow-keylog): decrypts wire.pcap
cxtp-NODE.pcap    each daemon's exported-PDU capture (--pcap): its messages, decrypted
logs/             the daemons' logs and configurations, ctpmn's reports, the timeline
ctl/              ctpctl sas/transfers/peers/stats of every node, before and after
secret/           the SAs as installed (with their keys), the keys alone, the MN-pAR key

Decode the wire:     $CMD
A daemon's capture:  tshark -X lua_script:$LUA -r $OUT/cxtp-nr.pcap -V
EOF
say ""
say "== left in $OUT"
say "   ${WIRE:+wire.pcap, }tls-keylog.txt, cxtp-{pr,nr,s1,s2,s1p,s2p,g,rn}.pcap, logs/, ctl/, secret/ (README.txt says what each is)"
[ $MODE = loopback ] && [ -n "${WIRE_NOTE:-}" ] && say "   $WIRE_NOTE"
if [ -n "$WIRE" ]; then
	say "   decode the whole exchange, IPsec TLVs included ($spis SA CDBs of SPI $(printf '0x%08x' $T5I) on the wire):"
	say "   $CMD"
fi
say "   each daemon's view: tshark -X lua_script:$LUA -r $OUT/cxtp-nr.pcap -V"

DONE=1
say ""
if [ ${#FAILS[@]} = 0 ]; then
	say "demo: PASS — $HOMODE handover ($MODE) in $(awk -v a="$a" -v b="$j" 'BEGIN { printf "%.1f", b - a }') ms at the network: types 5 and 3 moved to S2' and S1' and authenticate there, types 1 and 2 stayed and still pass traffic ($(elapsed))"
	exit 0
fi
say "demo: FAIL — ${FAILS[0]}${FAILS[1]:+ (and $((${#FAILS[@]} - 1)) more above)}"
exit 1
