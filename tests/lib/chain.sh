# tests/lib/chain.sh: the relay chain of PROFILE 3 (S -> PR -> NR -> S') in
# network namespaces, with real ctpd daemons, for tests/netns/ipsec*.sh.
# Sourced (bash), never run.  Needs root, iproute2, openssl and jq.
#
#                               rt (a router, 10.9.N.1 on each link)
#     +------+------+------+------+------+------+------+
#     pr     nr     s1     s2     s1p    s2p    g      rn      core: 10.9.N.2
#     |      |      (N = 1 ... 8 in this order; each its own /24 to rt)
#  10.1.0.1  10.2.0.1
#     |      |
#   mn-a    mn-b        mn: 10.1.0.10 and 10.2.0.10 on its two links,
#      \    /           and its previous address 10.200.0.10 (on lo), the
#        mn             stable address every SA of the MN names
#
#   PFP (data, at PR)  pr 10.1.0.1, s1, s2, g, rn   (s1, s2, g, rn: sg="true")
#   NFP (data, at NR)  nr 10.2.0.1, s1p, s2p, g, rn
#   <sg-replace> at NR: s1 -> s1p, s2 -> s2p
#   VIRTUAL_SG address 10.99.0.1 (indirect SG identity, type 3): on s1's lo,
#   routed by rt to s1; chain_vsg_at moves it.
#
# MOBILITY IS NOT CXTP'S JOB.  Which AR the core routes the MN's previous
# address through (rt's route to 10.200.0.10: via PR, then via NR) and the
# MN's own default route are switched by the test (chain_mn_attach), as a
# mobility protocol (Mobile IP, a routing update) would; CXTP (RFC 4067)
# only moves the contexts.  Likewise the network moves the virtual SG
# address (chain_vsg_at).
#
# One namespace per node, named ctpi<PID>-<node> (two runs on one machine
# do not meet).  Every node but the MN runs ctpd: usrsctp in UDP, TLS 1.3
# with certificates from tests/certs/make.sh, the ipsec plugin on the mem
# SAD (UDP datapath on port 4500, echo on, a state file that outlives a
# SIGKILL), short timers.  Peers: pr - nr, s1, s2, g, rn; nr - pr, s1p, s2p.
#
# The functions (CH_* variables hold the state; $CH_T is the run's folder):
#   chain_init BUILD          0, or 1 when not root / no namespaces (skip)
#   chain_topology            namespaces, links, addresses, routes
#   chain_start_all           PKI, configurations, every daemon, wait up
#   chain_start N / chain_stop N / chain_kill N / chain_restart N
#   chain_pause N / chain_resume N, chain_wait_up N..., chain_pid N
#   chain_ctl N ARGS...       ctpctl against node N's control socket
#   chain_sas N               `ctpctl sas --json` of node N
#   chain_sa_field N SPI DIR KEY   one member of one SA there ("" if none)
#   chain_sa_count N [STATE]  how many SAs node N holds (in that state)
#   chain_quiet N...          no transfer live at those nodes (bounded wait)
#   chain_sa NAME SPI DIR LOCAL PEER ALG [opts]   write $CH_SA/NAME.json
#   chain_sa_flip NAME NEW    the same SA from its other holder's side
#   chain_sa_add N NAME...    `ctpctl call sa-add` them at node N
#   chain_mn_sas OFF          the MN's SAs of the tests (types 1 to 5)
#   chain_where               every SA everywhere: "SPI DIR NODE STATE"
#   chain_reset               all up, nothing blocked, no SA anywhere
#   chain_esp NS OUT ARGS...  `ctpmn esp --json` in namespace NS ($CH_T/OUT.json)
#   chain_esp_send N SPI DST COUNT   the plugin's esp-send at node N
#   chain_handover OUT ARGS...       `ctpmn handover --json` as the MN
#   chain_mn_attach pr|nr     the MN's routes (and the core's) via that AR
#   chain_vsg_at s1|s1p       the virtual SG address on that node
#   chain_block A B / chain_unblock A B   drop / pass what A sends to B
#   chain_cleanup             always runs (EXIT trap): daemons, namespaces
# jq helpers: chain_j FILE FILTER (jq -r, "" on error).

CH_NODES="pr nr s1 s2 s1p s2p g rn"
CH_PFX=ctpi$$             # namespaces: ctpiPID-NODE, one set per run
CH_MN=10.200.0.10         # the MN's previous address (stable)
CH_VSG=10.99.0.1          # the virtual SG address
CH_MN_A=10.1.0.10 CH_MN_B=10.2.0.10
CH_KEY=""                 # the MN-pAR key (chain_start_all)
CH_MARGIN=16384           # seq-margin (PROFILE 5.1 default)
CH_MAX_TRANSFER_MS=${CH_MAX_TRANSFER_MS:-100}
CH_MAX_HANDOVER_MS=${CH_MAX_HANDOVER_MS:-1000}
declare -A CH_ADDR CH_CORE CH_PID CH_ROLES CH_PEERS
CH_ADDR=([pr]=10.1.0.1 [nr]=10.2.0.1 [s1]=10.9.3.2 [s2]=10.9.4.2 [s1p]=10.9.5.2
	[s2p]=10.9.6.2 [g]=10.9.7.2 [rn]=10.9.8.2)
CH_CORE=([pr]=1 [nr]=2 [s1]=3 [s2]=4 [s1p]=5 [s2p]=6 [g]=7 [rn]=8)
CH_ROLES=([pr]=ar [nr]=ar [s1]=sg [s2]=sg [s1p]=sg [s2p]=sg [g]=sg [rn]=sg)
CH_PEERS=([pr]="nr s1 s2 g rn" [nr]="pr s1p s2p" [s1]=pr [s2]=pr [g]=pr [rn]=pr
	[s1p]=nr [s2p]=nr)
CH_T="" CH_B="" CH_TOP="" CH_SA=""

chain_ns() { echo "$CH_PFX-$1"; }
chain_j() { jq -r "$2" "$1" 2> /dev/null; }

chain_init() {
	CH_B=$(cd "${1:-build}" && pwd) || return 2
	CH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	[ "$(id -u)" = 0 ] || return 1
	ip netns add "$CH_PFX-probe-$$" 2> /dev/null || return 1
	ip netns del "$CH_PFX-probe-$$"
	for t in jq openssl; do
		command -v $t > /dev/null 2>&1 || { echo "chain: $t is needed" >&2; return 2; }
	done
	CH_T=$(mktemp -d /tmp/ctp-chain.XXXXXX)
	CH_SA=$CH_T/sa
	mkdir -p "$CH_SA"
	trap chain_cleanup EXIT
	trap 'exit 130' INT TERM
	return 0
}

chain_cleanup() {
	local n p
	for n in "${!CH_PID[@]}"; do
		p=${CH_PID[$n]}
		# (bash reports a job killed in a wait: quiet)
		[ -n "$p" ] && { kill -9 "$p"; kill -CONT "$p"; wait "$p"; } 2> /dev/null
	done
	for n in $CH_NODES mn rt; do ip netns del "$(chain_ns $n)" 2> /dev/null; done
	if [ -n "$CH_T" ] && [ -z "${CH_KEEP:-}" ]; then rm -rf "$CH_T"; fi
	[ -n "$CH_T" ] && [ -n "${CH_KEEP:-}" ] && echo "chain: kept $CH_T"
	CH_PID=()
}

# ---- the topology ----------------------------------------------------------------

chain_sysctl() {   # ns key value
	ip netns exec "$1" sh -c "echo $3 > /proc/sys/net/$2"
}

chain_topology() {
	local n ns i
	for n in $CH_NODES mn rt; do
		ns=$(chain_ns $n)
		ip netns del "$ns" 2> /dev/null
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		# symmetric routes everywhere, but no strict reverse-path check
		# may drop a packet while the test switches the MN's route
		chain_sysctl "$ns" ipv4/conf/all/rp_filter 0
		chain_sysctl "$ns" ipv4/conf/default/rp_filter 0
	done
	for n in rt pr nr; do chain_sysctl "$(chain_ns $n)" ipv4/ip_forward 1; done
	for n in $CH_NODES; do
		ns=$(chain_ns $n) i=${CH_CORE[$n]}
		ip link add core netns "$ns" type veth peer name "to-$n" netns "$(chain_ns rt)" ||
			return 1
		ip -n "$ns" addr add "10.9.$i.2/24" dev core
		ip -n "$ns" link set core up
		ip -n "$(chain_ns rt)" addr add "10.9.$i.1/24" dev "to-$n"
		ip -n "$(chain_ns rt)" link set "to-$n" up
		ip -n "$ns" route add default via "10.9.$i.1"
	done
	ns=$(chain_ns mn)
	ip link add mn-a netns "$ns" type veth peer name pr-mn netns "$(chain_ns pr)" || return 1
	ip link add mn-b netns "$ns" type veth peer name nr-mn netns "$(chain_ns nr)" || return 1
	ip -n "$ns" addr add "$CH_MN_A/24" dev mn-a
	ip -n "$ns" addr add "$CH_MN_B/24" dev mn-b
	ip -n "$ns" addr add "$CH_MN/32" dev lo
	ip -n "$ns" link set mn-a up
	ip -n "$ns" link set mn-b up
	ip -n "$(chain_ns pr)" addr add 10.1.0.1/24 dev pr-mn
	ip -n "$(chain_ns pr)" link set pr-mn up
	ip -n "$(chain_ns nr)" addr add 10.2.0.1/24 dev nr-mn
	ip -n "$(chain_ns nr)" link set nr-mn up
	# each AR reaches the MN's previous address over its own link
	ip -n "$(chain_ns pr)" route add "$CH_MN/32" via $CH_MN_A dev pr-mn
	ip -n "$(chain_ns nr)" route add "$CH_MN/32" via $CH_MN_B dev nr-mn
	ip -n "$(chain_ns rt)" route add 10.1.0.0/24 via 10.9.1.2
	ip -n "$(chain_ns rt)" route add 10.2.0.0/24 via 10.9.2.2
	ip -n "$(chain_ns s1)" addr add "$CH_VSG/32" dev lo
	ip -n "$(chain_ns rt)" route add "$CH_VSG/32" via 10.9.3.2
	chain_mn_attach pr
}

# Mobility management (not CXTP): the MN and the core route the MN's
# previous address through AR $1.
chain_mn_attach() {
	local i=${CH_CORE[$1]} gw
	[ "$1" = pr ] && gw=10.1.0.1 || gw=10.2.0.1
	ip -n "$(chain_ns mn)" route replace default via $gw src "$CH_MN"
	ip -n "$(chain_ns rt)" route replace "$CH_MN/32" via "10.9.$i.2"
}

# The network moves the virtual SG address to node $1 (s1 or s1p).
chain_vsg_at() {
	local n
	for n in s1 s1p; do ip -n "$(chain_ns $n)" addr del "$CH_VSG/32" dev lo 2> /dev/null; done
	ip -n "$(chain_ns "$1")" addr add "$CH_VSG/32" dev lo
	ip -n "$(chain_ns rt)" route replace "$CH_VSG/32" via "10.9.${CH_CORE[$1]}.2"
}

# What node $1 sends to node $2's address is dropped (a blackhole route:
# no netfilter, no netem needed); chain_unblock lets it through again.
chain_block() { ip -n "$(chain_ns "$1")" route add blackhole "${CH_ADDR[$2]}/32"; }
chain_unblock() { ip -n "$(chain_ns "$1")" route del blackhole "${CH_ADDR[$2]}/32" 2> /dev/null; }

# ---- the daemons -------------------------------------------------------------------

chain_conf() {   # node
	local n=$1 a=${CH_ADDR[$1]} p peers="" mn="" ipsec
	for p in ${CH_PEERS[$n]}; do
		peers="$peers  <peer name=\"$p\" address=\"${CH_ADDR[$p]}\" roles=\"${CH_ROLES[$p]}\"/>
"
	done
	[ "${CH_ROLES[$n]}" = ar ] && mn='  <mobile-nodes icmp="true"/>'
	ipsec="      <sad backend=\"mem\" datapath=\"udp\" port=\"4500\" echo=\"true\"
           state-file=\"$CH_T/$n.sad\"/>
      <policy seq-margin=\"$CH_MARGIN\"/>"
	case $n in
	pr) ipsec="$ipsec
      <path plane=\"data\">
        <hop address=\"${CH_ADDR[pr]}\"/>
        <hop address=\"${CH_ADDR[s1]}\" sg=\"true\"/>
        <hop address=\"${CH_ADDR[s2]}\" sg=\"true\"/>
        <hop address=\"${CH_ADDR[g]}\" sg=\"true\"/>
        <hop address=\"${CH_ADDR[rn]}\" sg=\"true\"/>
      </path>" ;;
	nr) ipsec="$ipsec
      <path plane=\"data\">
        <hop address=\"${CH_ADDR[nr]}\"/>
        <hop address=\"${CH_ADDR[s1p]}\"/>
        <hop address=\"${CH_ADDR[s2p]}\"/>
        <hop address=\"${CH_ADDR[g]}\"/>
        <hop address=\"${CH_ADDR[rn]}\"/>
      </path>
      <sg-replace local=\"${CH_ADDR[s1p]}\" remote=\"${CH_ADDR[s1]}\" peer=\"s1p\"/>
      <sg-replace local=\"${CH_ADDR[s2p]}\" remote=\"${CH_ADDR[s2]}\" peer=\"s2p\"/>" ;;
	esac
	cat > "$CH_T/$n.xml" << EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$n" roles="${CH_ROLES[$n]}"><address>$a</address></node>
  <transport backend="usrsctp" bind="$a"/>
  <tls ca="$CH_T/pki/ca.pem" cert="$CH_T/pki/$n.pem" key="$CH_T/pki/$n.key"/>
$peers$mn
  <plugins dir="$CH_B/plugins">
    <plugin name="ipsec">
$ipsec
    </plugin>
  </plugins>
  <timers reconnect-ms="100" request-rate="1000" max-transfer-ms="$CH_MAX_TRANSFER_MS"
          max-handover-ms="$CH_MAX_HANDOVER_MS" request-retry-ms="500" retry-max-ms="3000"/>
  <control socket="$CH_T/$n.sock"/>
  <log level="info"/>
</ctpd>
EOF
}

chain_pid() { echo "${CH_PID[$1]:-}"; }

chain_start() {   # node
	echo "=== start $(date +%T.%N | cut -c1-12)" >> "$CH_T/$1.log"
	ip netns exec "$(chain_ns "$1")" "$CH_B/ctpd" -f -c "$CH_T/$1.xml" >> "$CH_T/$1.log" 2>&1 &
	CH_PID[$1]=$!
}

# SIGTERM and wait (bounded); the exit status.
chain_stop() {
	local p=${CH_PID[$1]:-} i rc
	[ -n "$p" ] || return 0
	kill -CONT "$p" 2> /dev/null
	kill -TERM "$p" 2> /dev/null
	for i in $(seq 100); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
	kill -9 "$p" 2> /dev/null
	wait "$p" 2> /dev/null
	rc=$?
	CH_PID[$1]=""
	return $rc
}

chain_kill() {
	local p=${CH_PID[$1]:-}
	[ -n "$p" ] || return 0
	{ kill -9 "$p"; kill -CONT "$p"; wait "$p"; } 2> /dev/null
	CH_PID[$1]=""
}

chain_pause() { kill -STOP "${CH_PID[$1]}"; }
chain_resume() { kill -CONT "${CH_PID[$1]}"; }

chain_restart() { chain_kill "$1"; chain_start "$1"; chain_wait_up "$1" ${CH_PEERS[$1]}; }

chain_ctl() {   # node args...
	local n=$1
	shift
	"$CH_B/ctpctl" -s "$CH_T/$n.sock" "$@"
}

# Every peer of every node given is up and authenticated (at most ~20 s).
chain_wait_up() {
	local n i left
	for i in $(seq 200); do
		left=""
		for n in "$@"; do
			chain_ctl "$n" peers --json 2> /dev/null |
				jq -e '.peers | length > 0 and all(.authenticated == true and .state == "up")' \
				> /dev/null 2>&1 || left="$left $n"
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "chain: not up:$left" >&2
	return 1
}

chain_start_all() {
	local n
	# shellcheck disable=SC2086
	"$CH_TOP/tests/certs/make.sh" "$CH_T/pki" $CH_NODES > /dev/null 2>&1 ||
		{ echo "chain: no certificates" >&2; return 1; }
	for n in $CH_NODES; do chain_conf $n; chain_start $n; done
	# shellcheck disable=SC2086
	chain_wait_up $CH_NODES || return 1
	CH_KEY=$(openssl rand -hex 20)
	chain_ctl pr mn-key set "$CH_MN" "$CH_KEY" > /dev/null
}

# No transfer live at any of the nodes given (at most ~$2 s... 10 s).
chain_quiet() {
	local n i busy
	for i in $(seq 100); do
		busy=""
		for n in "$@"; do
			chain_ctl "$n" transfers --json 2> /dev/null |
				jq -e 'all(.transfers[]; .state == "done")' > /dev/null 2>&1 || busy=1
		done
		[ -z "$busy" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- SAs -------------------------------------------------------------------------------

chain_sas() { chain_ctl "$1" sas --json 2> /dev/null; }

chain_sa_field() {   # node spi dir key
	chain_sas "$1" | jq -r --argjson spi "$(($2))" --arg d "$3" --arg k "$4" \
		'[.sas[] | select(.spi == $spi and .direction == $d)][0][$k] // empty' 2> /dev/null
}

chain_sa_count() {   # node [state]
	chain_sas "$1" | jq -r --arg s "${2:-}" \
		'[.sas[] | select($s == "" or .state == $s)] | length' 2> /dev/null
}

# chain_sa NAME SPI DIR LOCAL PEER ALG [sel] [vsg] [type=T]: one SA from its
# holder's side (DIR in|out), ESP tunnel, ESN; inbound with anti-replay
# and a window of 128.  ALG: gcm16-256 gcm16-128 chacha cbc128-sha256
# cbc256-sha512; keys fresh from openssl rand.  sel: a selector that makes
# it the MN's (source the MN's address); vsg: VIRTUAL_SG, local = that.
chain_sa() {
	local name=$1 spi=$(($2)) dir=$3 local=$4 peer=$5 alg=$6 sel=0 vsg=0 type=0 o
	local encr bits ko integ=0 ik=0
	shift 6
	for o in "$@"; do
		case $o in
		sel) sel=1 ;;
		vsg) vsg=1 ;;
		type=*) type=${o#type=} ;;
		esac
	done
	case $alg in
	gcm16-256) encr=20 bits=256 ko=36 ;;
	gcm16-128) encr=20 bits=128 ko=20 ;;
	chacha) encr=28 bits=256 ko=36 ;;
	cbc128-sha256) encr=12 bits=128 ko=16 integ=12 ik=32 ;;
	cbc256-sha512) encr=12 bits=256 ko=32 integ=14 ik=64 ;;
	*) echo "chain_sa: unknown algorithm $alg" >&2; return 1 ;;
	esac
	jq -n --argjson spi "$spi" --arg dir "$dir" --arg l "$local" --arg p "$peer" \
		--argjson encr $encr --argjson bits $bits --arg key "$(openssl rand -hex $ko)" \
		--argjson integ $integ --arg ikey "$( [ $ik -gt 0 ] && openssl rand -hex $ik)" \
		--argjson sel $sel --argjson vsg $vsg --argjson type "$type" --arg mn "$CH_MN" '
	{fpt: 65281, tlvs: (
	  [{tlv: "SA_ID", spi: $spi, protocol: 50, mode: 2,
	    direction: (if $dir == "in" then 1 else 2 end),
	    flags: (if $dir == "in" then 5 else 1 end)},
	   {tlv: "ENDPOINTS", family: 4, sa_type: $type, moves: 1, local_addr: $l, peer_addr: $p}]
	  + (if $sel == 1 then [{tlv: "SELECTOR", family: 4, ulp: 0, src_prefix_len: 32,
	      dst_prefix_len: 0, src_addr: $mn, dst_addr: "0.0.0.0", src_port_low: 0,
	      src_port_high: 65535, dst_port_low: 0, dst_port_high: 65535}] else [] end)
	  + [{tlv: "ENCR", id: $encr, key_bits: $bits, key: $key}]
	  + (if $integ > 0 then [{tlv: "INTEG", id: $integ, key: $ikey}] else [] end)
	  + (if $dir == "in" then [{tlv: "REPLAY", window: 128, highest: 0,
	      bitmap: "00000000000000000000000000000000"}]
	     else [{tlv: "SEQ_OUT", next: 1, margin: 0}] end)
	  + (if $vsg == 1 then [{tlv: "VIRTUAL_SG", family: 4, vsg_addr: $l}] else [] end))}
	' > "$CH_SA/$name.json"
}

# The same SA from its other holder: ends swapped, direction flipped
# (an outbound copy counts from 1, an inbound one has an empty window).
chain_sa_flip() {   # name newname
	jq '.tlvs |= map(
	  if .tlv == "SA_ID" then
	    (if .direction == 1 then .direction = 2 | .flags = 1 else .direction = 1 | .flags = 5 end)
	  elif .tlv == "ENDPOINTS" then .local_addr as $l | .local_addr = .peer_addr | .peer_addr = $l
	  elif .tlv == "SEQ_OUT" then {tlv: "REPLAY", window: 128, highest: 0,
	    bitmap: "00000000000000000000000000000000"}
	  elif .tlv == "REPLAY" then {tlv: "SEQ_OUT", next: 1, margin: 0}
	  else . end)' "$CH_SA/$1.json" > "$CH_SA/$2.json"
}

chain_sa_add() {   # node name...
	local n=$1 f=()
	shift
	for s in "$@"; do f+=("$CH_SA/$s.json"); done
	chain_ctl "$n" call sa-add "$(jq -c -s '{sa: .}' "${f[@]}")" > /dev/null
}

# chain_mn_sas OFF: the MN's SAs of tests/netns/ipsec*.sh, one per type of
# the IPsec CT draft, SPIs offset by OFF, fresh keys; sets T5I T5O (type 5,
# MN - S2, in and out at S2), T3I T3O (type 3, S1 - RN, VIRTUAL_SG), T4A
# (S1 -> S2) T4B (S2 -> S1) (type 4, a copy at each end), T1C (G -> RN)
# T1D (RN -> G) (type 1, a copy at each end), T2I T2O (type 2, MN - RN,
# at RN), and CH_IDS: every copy as "SPI DIR HOLDER".  The MN's copies of
# its type 5 SAs are $CH_SA/mn5-in.json and mn5-out.json (a CTN rewrites
# them).  Non-zero when a node refuses its SAs.
chain_mn_sas() {
	local o=$1 s1=${CH_ADDR[s1]} s2=${CH_ADDR[s2]} g=${CH_ADDR[g]} rn=${CH_ADDR[rn]}
	T5I=$((0x5001 + o)) T5O=$((0x5002 + o)) T3I=$((0x3001 + o)) T3O=$((0x3002 + o))
	T4A=$((0x4001 + o)) T4B=$((0x4002 + o)) T1C=$((0x1001 + o)) T1D=$((0x1002 + o))
	T2I=$((0x2001 + o)) T2O=$((0x2002 + o))
	chain_sa t5i $T5I in "$s2" "$CH_MN" gcm16-256 type=5
	chain_sa t5o $T5O out "$s2" "$CH_MN" gcm16-256 type=5
	chain_sa t3i $T3I in "$CH_VSG" "$rn" cbc128-sha256 sel vsg type=3
	chain_sa t3o $T3O out "$CH_VSG" "$rn" cbc128-sha256 sel vsg type=3
	chain_sa t4a $T4A out "$s1" "$s2" chacha sel type=4
	chain_sa_flip t4a t4a-s2
	chain_sa t4b $T4B out "$s2" "$s1" chacha sel type=4
	chain_sa_flip t4b t4b-s1
	chain_sa t1c $T1C out "$g" "$rn" gcm16-128 sel
	chain_sa_flip t1c t1c-rn
	chain_sa t1d $T1D out "$rn" "$g" gcm16-128 sel
	chain_sa_flip t1d t1d-g
	chain_sa t2i $T2I in "$rn" "$CH_MN" cbc256-sha512
	chain_sa t2o $T2O out "$rn" "$CH_MN" cbc256-sha512
	CH_IDS="$T5I in s2
$T5O out s2
$T3I in s1
$T3O out s1
$T4A out s1
$T4A in s2
$T4B out s2
$T4B in s1
$T1C out g
$T1C in rn
$T1D out rn
$T1D in g
$T2I in rn
$T2O out rn"
	cp "$CH_SA/t5i.json" "$CH_SA/mn5-in.json"
	cp "$CH_SA/t5o.json" "$CH_SA/mn5-out.json"
	chain_sa_add s2 t5i t5o t4a-s2 t4b && chain_sa_add s1 t3i t3o t4a t4b-s1 &&
		chain_sa_add g t1c t1d-g && chain_sa_add rn t1c-rn t1d t2i t2o
}

# Every SA of every node, one line each: "SPI DIR NODE STATE".
chain_where() {
	local n
	for n in $CH_NODES; do
		chain_sas $n | jq -r --arg n $n '.sas[] | "\(.spi) \(.direction) \($n) \(.state)"'
	done
}

# A clean slate: every daemon running and up, nothing blocked, every SA
# removed everywhere, the MN back at PR (with its key there), the virtual
# address back at S1.
chain_reset() {
	local n a b sa
	for a in pr nr; do for b in $CH_NODES; do chain_unblock $a $b; done; done
	for n in $CH_NODES; do
		if [ -z "${CH_PID[$n]:-}" ]; then chain_start $n; else chain_resume $n; fi
	done
	# shellcheck disable=SC2086
	chain_wait_up $CH_NODES || return 1
	for n in $CH_NODES; do
		chain_sas $n | jq -c '.sas[] | {spi, dst}' | while read -r sa; do
			chain_ctl $n call sa-del "$sa" > /dev/null
		done
	done
	chain_mn_attach pr
	chain_vsg_at s1
	chain_ctl pr mn-key set "$CH_MN" "$CH_KEY" > /dev/null
	rm -f "$CH_T"/*.state
}

# ---- traffic and the MN ----------------------------------------------------------------

chain_esp() {   # ns out args...
	local ns=$1 out=$2
	shift 2
	ip netns exec "$(chain_ns "$ns")" "$CH_B/ctpmn" esp --json "$@" > "$CH_T/$out.json" \
		2> "$CH_T/$out.err"
}

chain_esp_send() {   # node spi dst count
	chain_ctl "$1" call esp-send "{\"spi\":$(($2)),\"dst\":\"$3\",\"count\":$4}"
}

chain_handover() {   # out args...
	local out=$1
	shift
	ip netns exec "$(chain_ns mn)" "$CH_B/ctpmn" handover --key "$CH_KEY" --prev "$CH_MN" \
		--par "${CH_ADDR[pr]}" --nar "${CH_ADDR[nr]}" --json "$@" > "$CH_T/$out.json" \
		2> "$CH_T/$out.err"
}

# The last lines of every daemon's log, for a failure report.
chain_logs() {
	local n
	for n in ${*:-$CH_NODES}; do
		echo "--- $n"
		tail -"${CH_LOG_LINES:-25}" "$CH_T/$n.log" 2> /dev/null
	done
}
