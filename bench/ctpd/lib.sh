# shellcheck shell=bash disable=SC2034
# bench/ctpd/lib.sh: the ctpd side's helpers, sourced by bench/ctpd_*.sh
# after bench/lib/common.sh.
#
# The nodes.  Every benchmark runs real ctpd processes, one per node, on
# loopback addresses of one host: usrsctp in UDP between them, TLS 1.3 with
# certificates from tests/certs/make.sh on every association, the ipsec
# plugin on the mem SA database (no datapath, no state file), the log at
# the daemon's default level (notice).  The relay chain of PROFILE 3:
#
#     MN --UDP-- NR 127.0.80.2 --- PR 127.0.80.1 --- S  127.0.80.3
#                   |
#                   S' 127.0.80.4        G 127.0.80.9, RN 127.0.80.10 (paths only)
#
#   PFP (data, at PR)  PR, S (sg), G, RN
#   NFP (data, at NR)  NR, S' (sg), G, RN; <sg-replace> S -> S'
#
# The MN is `ctpmn many` over the UDP encoding (no privilege needed; the same
# CXTP octets as ICMP).  A ctpd binds its MN port on the wildcard, so PR and
# NR listen on different ports (CTPD_MN_PORT_PR, CTPD_MN_PORT_NR) and ctpmn
# is told both (--udp, --par-udp).
#
# When it can, the calling script runs in a network namespace of its own
# (unshare --net, loopback only): nothing else shares its loopback or its
# ports, and tests running meanwhile cannot collide with it.
#
# Processes: every daemon and ctpmn started here is recorded and killed by
# its PID in ctpd_cleanup (the EXIT trap, also on SIGTERM and SIGINT); the
# work folder (keys, captures, certificates) lives in /dev/shm and is
# removed then.  Daemon logs are copied to $BENCH_RAW first.
#
# The functions:
#   ctpd_bench_init "$@"      binaries, namespace, work folder, PKI, traps;
#                             1 with CTPD_REASON set when it cannot run
#   ctpd_conf NODE SCENARIO   write NODE's configuration (SCENARIO: pr, chain)
#   ctpd_start NODE [--pcap]  start it; ctpd_stop_all stops every daemon
#   ctpd_up NODE...           wait until every peer of every NODE is up
#   ctpd_ctl NODE ARGS...     ctpctl against NODE's control socket
#   ctpd_sa_tpl ...           one SA CDB as JSON (a template for sa-add)
#   ctpd_sa_add NODE COUNT MN TEMPLATE   sa-add with "count" (in chunks)
#   ctpd_keys BASE COUNT      load the simulated MNs' keys into PR
#   ctpd_many ARGS...         ctpmn many against PR and NR, JSON on stdout
#   ctpd_mn_rows FILE         one line per MN from ctpmn's JSON:
#                             mn par_us nar_us bytes_out bytes_in pkts_out pkts_in result ctna
#   ctpd_pcap_events NODE...  "epoch_us node type mn src dst length" from the
#                             captures
#   ctpd_rss NODE / ctpd_cpu NODE   resident KiB / CPU jiffies of NODE's daemon
#   ctpd_sys NODE             the system (kernel) part of those jiffies
#   ctpd_gate LABEL           bench_gate, counting "quiet" for the objects
#   ctpd_extra                the "quiet"/gates members for bench_emit

CTPD_B=$BENCH_BUILD
CTPD_CTPD=$CTPD_B/ctpd
CTPD_CTL=$CTPD_B/ctpctl
CTPD_MN=$CTPD_B/ctpmn
CTPD_NODES="pr nr s sp"
declare -A CTPD_ADDR CTPD_PID CTPD_ROLES
CTPD_ADDR=([pr]=127.0.80.1 [nr]=127.0.80.2 [s]=127.0.80.3 [sp]=127.0.80.4)
CTPD_ROLES=([pr]=ar [nr]=ar [s]=sg [sp]=sg)
CTPD_G=127.0.80.9
CTPD_RN=127.0.80.10
CTPD_UDP_PORT=${CTPD_UDP_PORT:-29899}
CTPD_MN_PORT_PR=${CTPD_MN_PORT_PR:-29896}
CTPD_MN_PORT_NR=${CTPD_MN_PORT_NR:-29897}
CTPD_MASTER=5a5a0123456789abcdef
CTPD_W=""
CTPD_REASON=""
CTPD_OTHER_PIDS=()
CTPD_QUIET=true

ctpd_log() {
	bench_log "$*"
}

# ctpd_bench_init "$@": 0 when the benchmarks can run, else 1 and
# CTPD_REASON says why.  Re-executes the calling script in a new network
# namespace when it can (the script must call this before anything else).
ctpd_bench_init() {
	local f
	for f in "$CTPD_CTPD" "$CTPD_CTL" "$CTPD_MN" "$CTPD_B/plugins/ipsec.so"; do
		if [ ! -x "$f" ] && [ ! -f "$f" ]; then
			CTPD_REASON="$f is missing (run make first)"
			return 1
		fi
	done
	if [ -z "${CTPD_IN_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare > /dev/null &&
		command -v ip > /dev/null && unshare --net true 2> /dev/null; then
		CTPD_IN_NETNS=1 exec unshare --net -- "$0" "$@"
	fi
	if [ "${CTPD_IN_NETNS:-}" = 1 ]; then
		ip link set lo up
		CTPD_NETNS="a network namespace of its own (unshare --net), loopback only"
	else
		CTPD_NETNS="the host's network namespace (loopback)"
	fi
	CTPD_W=$(mktemp -d /dev/shm/ctpd-bench.XXXXXX 2> /dev/null || mktemp -d /tmp/ctpd-bench.XXXXXX)
	trap ctpd_cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	if ! "$BENCH_TOP/tests/certs/make.sh" "$CTPD_W/pki" $CTPD_NODES > "$CTPD_W/pki.log" 2>&1; then
		CTPD_REASON="no certificates: $(tail -1 "$CTPD_W/pki.log")"
		return 1
	fi
	return 0
}

ctpd_cleanup() {
	local n p
	for n in "${!CTPD_PID[@]}"; do
		p=${CTPD_PID[$n]}
		[ -n "$p" ] && kill -9 "$p" 2> /dev/null
	done
	for p in "${CTPD_OTHER_PIDS[@]}"; do kill -9 "$p" 2> /dev/null; done
	wait 2> /dev/null
	if [ -n "$CTPD_W" ] && [ -d "$CTPD_W" ]; then
		for n in $CTPD_NODES; do
			[ -f "$CTPD_W/$n.log" ] && cp "$CTPD_W/$n.log" "$BENCH_RAW/" 2> /dev/null
		done
		rm -rf "$CTPD_W"
	fi
	CTPD_PID=()
}

# ctpd_conf NODE SCENARIO: the configuration of NODE for a scenario.
#   pr     the MN's SAs are held by PR itself (the MN-PR SAs of the IPsec CT
#          draft's figure 9, type 5 with S collocated at PR): PR and NR only
#   chain  the relay chain above: PR collects from S, NR relays to S'
#   bulk   S and S' peers of each other, for a whole gateway's fail-over
#          (ctpctl trigger move-all)
# Knobs: CTPD_LOG (notice), CTPD_MAX_SAS (1048576), CTPD_TIMERS (extra
# attributes of <timers>), CTPD_POLICY (extra attributes of <policy>),
# CTPD_LIMITS (the attributes of <limits>; default: room for every
# handover of a run at once).
ctpd_conf() {
	local n=$1 sc=$2 a=${CTPD_ADDR[$1]} peers="" mn="" ipsec p
	case $n/$sc in
	pr/chain) peers="nr s" ;;
	nr/chain) peers="pr sp" ;;
	pr/*) peers="nr" ;;
	nr/*) peers="pr" ;;
	s/bulk) peers="sp" ;;
	sp/bulk) peers="s" ;;
	s/*) peers="pr" ;;
	sp/*) peers="nr" ;;
	esac
	p=""
	for q in $peers; do
		p="$p  <peer name=\"$q\" address=\"${CTPD_ADDR[$q]}\" roles=\"${CTPD_ROLES[$q]}\"/>
"
	done
	case $n in
	pr) mn="  <mobile-nodes icmp=\"false\" udp-port=\"$CTPD_MN_PORT_PR\"/>" ;;
	nr) mn="  <mobile-nodes icmp=\"false\" udp-port=\"$CTPD_MN_PORT_NR\"/>" ;;
	*) mn="  <mobile-nodes icmp=\"false\"/>" ;;
	esac
	ipsec="      <sad backend=\"mem\" max-sas=\"${CTPD_MAX_SAS:-1048576}\"/>
      <policy ${CTPD_POLICY:-}/>"
	case $n/$sc in
	pr/chain) ipsec="$ipsec
      <path plane=\"data\"><hop address=\"$a\"/><hop address=\"${CTPD_ADDR[s]}\" sg=\"true\"/>
        <hop address=\"$CTPD_G\"/><hop address=\"$CTPD_RN\"/></path>" ;;
	nr/chain) ipsec="$ipsec
      <path plane=\"data\"><hop address=\"$a\"/><hop address=\"${CTPD_ADDR[sp]}\" sg=\"true\"/>
        <hop address=\"$CTPD_G\"/><hop address=\"$CTPD_RN\"/></path>
      <sg-replace local=\"${CTPD_ADDR[sp]}\" remote=\"${CTPD_ADDR[s]}\" peer=\"sp\"/>" ;;
	pr/pr | nr/pr) ipsec="$ipsec
      <path plane=\"data\"><hop address=\"$a\"/><hop address=\"$CTPD_G\"/>
        <hop address=\"$CTPD_RN\"/></path>" ;;
	esac
	local limits='transfers="1048576" transfers-per-peer="1048576" cached-pctd="1048576"'
	[ -n "${CTPD_LIMITS+set}" ] && limits=$CTPD_LIMITS
	cat > "$CTPD_W/$n.xml" << EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$n" roles="${CTPD_ROLES[$n]}"><address>$a</address></node>
  <transport backend="usrsctp" bind="$a" udp-port="$CTPD_UDP_PORT"/>
  <tls ca="$CTPD_W/pki/ca.pem" cert="$CTPD_W/pki/$n.pem" key="$CTPD_W/pki/$n.key"/>
$p$mn
  <plugins dir="$CTPD_B/plugins">
    <plugin name="ipsec">
$ipsec
    </plugin>
  </plugins>
  <timers request-rate="100000" ${CTPD_TIMERS:-}/>
  <limits $limits/>
  <control socket="$CTPD_W/$n.sock"/>
  <log level="${CTPD_LOG:-notice}"/>
</ctpd>
EOF
}

# ctpd_start NODE [--pcap]: start NODE's daemon (optionally under
# $CTPD_WRAP, e.g. valgrind); its capture goes to $CTPD_W/NODE.pcap.
ctpd_start() {
	local n=$1 wrap=()
	shift
	local extra=()
	[ "${1:-}" = --pcap ] && extra=(--pcap "$CTPD_W/$n.pcap")
	read -r -a wrap <<< "${CTPD_WRAP:-} ${CTPD_PIN:-}"
	rm -f "$CTPD_W/$n.pcap"
	echo "=== start $(date +%T)" >> "$CTPD_W/$n.log"
	"${wrap[@]}" "$CTPD_CTPD" -f -c "$CTPD_W/$n.xml" "${extra[@]}" >> "$CTPD_W/$n.log" 2>&1 &
	CTPD_PID[$n]=$!
}

# Stop every daemon (SIGTERM, then SIGKILL after 5 s).
ctpd_stop_all() {
	local n p i
	for n in "${!CTPD_PID[@]}"; do
		p=${CTPD_PID[$n]}
		[ -n "$p" ] && kill -TERM "$p" 2> /dev/null
	done
	for n in "${!CTPD_PID[@]}"; do
		p=${CTPD_PID[$n]}
		[ -n "$p" ] || continue
		for i in $(seq 50); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
		kill -9 "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
	CTPD_PID=()
}

ctpd_ctl() {
	local n=$1
	shift
	"$CTPD_CTL" -s "$CTPD_W/$n.sock" "$@"
}

ctpd_pid() { echo "${CTPD_PID[$1]:-}"; }

# ctpd_up NODE...: every configured peer of each NODE up and authenticated
# (at most about 60 s: valgrind is slow).  1 and a log line otherwise.
ctpd_up() {
	local n i left want got
	for i in $(seq 300); do
		left=""
		for n in "$@"; do
			if ! kill -0 "${CTPD_PID[$n]:-0}" 2> /dev/null; then
				ctpd_log "$n exited: $(tail -2 "$CTPD_W/$n.log" 2> /dev/null | tr '\n' ' ')"
				return 1
			fi
			want=$(grep -c '<peer ' "$CTPD_W/$n.xml")
			got=$(ctpd_ctl "$n" peers --json 2> /dev/null | grep -c '"authenticated": true')
			[ "$got" = "$want" ] || left="$left $n"
		done
		[ -z "$left" ] && return 0
		sleep 0.2
	done
	for n in $left; do ctpd_log "$n not up: $(tail -2 "$CTPD_W/$n.log" 2> /dev/null | tr '\n' ' ')"; done
	return 1
}

# ctpd_boot SCENARIO [--pcap] NODE...: configure, start and wait for NODEs.
ctpd_boot() {
	local sc=$1 pcap="" n
	shift
	[ "${1:-}" = --pcap ] && { pcap=--pcap; shift; }
	ctpd_stop_all
	for n in "$@"; do ctpd_conf "$n" "$sc"; done
	for n in "$@"; do ctpd_start "$n" $pcap; done
	ctpd_up "$@"
}

# ctpd_sa_tpl SPI DIR(in|out) LOCAL PEER [sel]: one SA CDB (as ctpctl decode
# --json prints it): ESP tunnel mode, AES-128-GCM-16 (ENCR 20), the key a
# placeholder (sa-add "count" draws a fresh one for every SA); an inbound SA
# with anti-replay and a window of 64, an outbound one from number 1.  sel:
# a SELECTOR for the traffic of PEER (source PEER/32 outbound, destination
# PEER/32 inbound) instead of PEER being an endpoint: give the MN as PEER
# and the real peer as the sixth argument.
ctpd_sa_tpl() {
	local spi=$1 dir=$2 l=$3 p=$4 sel=${5:-} far=${6:-} d fl tail selj=""
	if [ "$dir" = in ]; then
		d=1 fl=5 tail='{"tlv":"REPLAY","window":64,"highest":0,"bitmap":"0000000000000000"}'
	else
		d=2 fl=1 tail='{"tlv":"SEQ_OUT","next":1,"margin":0}'
	fi
	if [ "$sel" = sel ]; then
		if [ "$dir" = out ]; then
			selj="{\"tlv\":\"SELECTOR\",\"family\":4,\"ulp\":0,\"src_prefix_len\":32,\"dst_prefix_len\":0,\"src_addr\":\"$p\",\"dst_addr\":\"0.0.0.0\",\"src_port_low\":0,\"src_port_high\":65535,\"dst_port_low\":0,\"dst_port_high\":65535},"
		else
			selj="{\"tlv\":\"SELECTOR\",\"family\":4,\"ulp\":0,\"src_prefix_len\":0,\"dst_prefix_len\":32,\"src_addr\":\"0.0.0.0\",\"dst_addr\":\"$p\",\"src_port_low\":0,\"src_port_high\":65535,\"dst_port_low\":0,\"dst_port_high\":65535},"
		fi
		p=$far
	fi
	printf '{"fpt":65281,"tlvs":[{"tlv":"SA_ID","spi":%d,"protocol":50,"mode":2,"direction":%d,"flags":%d},{"tlv":"ENDPOINTS","family":4,"sa_type":0,"moves":1,"local_addr":"%s","peer_addr":"%s"},%s{"tlv":"ENCR","id":20,"key_bits":128,"key":"000102030405060708090a0b0c0d0e0f10111213"},%s]}' \
		"$spi" "$d" "$fl" "$l" "$p" "$selj" "$tail"
}

# ctpd_addr_add ADDR N: the IPv4 address N after ADDR.
ctpd_addr_add() {
	awk -v a="$1" -v n="$2" 'BEGIN { split(a, o, "."); v = ((o[1] * 256 + o[2]) * 256 + o[3]) * 256 + o[4] + n
		printf "%d.%d.%d.%d\n", int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256 }'
}

# ctpd_sa_add NODE COUNT MN TEMPLATE_FN ARGS...: COUNT SAs at NODE made from
# the template that `TEMPLATE_FN SPI ARGS...` prints, with MN + i for MN, in
# chunks of CTPD_SA_CHUNK (100000: ctpctl waits 5 s for an answer).  The
# template's SPI is taken from its first argument and advanced per chunk.
# 0, or 1 with a log line.
ctpd_sa_add() {
	local n=$1 count=$2 mn=$3 fn=$4 spi=$5 done=0 k chunk=${CTPD_SA_CHUNK:-100000} out
	shift 5
	while [ "$done" -lt "$count" ]; do
		k=$((count - done))
		[ "$k" -gt "$chunk" ] && k=$chunk
		if ! out=$(ctpd_ctl "$n" call sa-add "{\"count\":$k,\"mn\":\"$(ctpd_addr_add "$mn" "$done")\",\"sa\":$($fn $((spi + done)) "$@")}" 2>&1); then
			ctpd_log "sa-add at $n failed: $(echo "$out" | tail -2 | tr '\n' ' ')"
			return 1
		fi
		done=$((done + k))
	done
	return 0
}

# ctpd_keys BASE COUNT [NODE]: the simulated MNs' keys (ctpmn keys, the
# derivation ctpmn many uses) into NODE (pr), 500 a request (the control
# socket takes 64 KiB a line).
ctpd_keys() {
	local base=$1 count=$2 n=${3:-pr} f
	"$CTPD_MN" keys --key-master "$CTPD_MASTER" --prev-base "$base" --count "$count" --json |
		grep '"mn"' | sed 's/,$//' > "$CTPD_W/keys.all"
	split -l 500 "$CTPD_W/keys.all" "$CTPD_W/keys.part."
	for f in "$CTPD_W"/keys.part.*; do
		{ echo '['; paste -sd, "$f"; echo ']'; } > "$CTPD_W/keys.json"
		ctpd_ctl "$n" mn-key load "$CTPD_W/keys.json" > /dev/null || {
			ctpd_log "mn-key load at $n failed"
			rm -f "$CTPD_W"/keys.part.* "$CTPD_W/keys.all" "$CTPD_W/keys.json"
			return 1
		}
	done
	rm -f "$CTPD_W"/keys.part.* "$CTPD_W/keys.all" "$CTPD_W/keys.json"
}

# ctpd_many BASE COUNT RATE [ctpmn options]: the MNs hand over from PR to NR;
# ctpmn's JSON on stdout.
ctpd_many() {
	local base=$1 count=$2 rate=$3 pin=()
	shift 3
	read -r -a pin <<< "${CTPD_PIN:-}"
	"${pin[@]}" "$CTPD_MN" many --count "$count" --prev-base "$base" --key-master "$CTPD_MASTER" \
		--par "${CTPD_ADDR[pr]}" --nar "${CTPD_ADDR[nr]}" --udp "$CTPD_MN_PORT_NR" \
		--par-udp "$CTPD_MN_PORT_PR" --rate "$rate" --json "$@" 2> "$CTPD_W/many.err" &
	local p=$!
	CTPD_OTHER_PIDS+=("$p")
	wait "$p"
}

# ctpd_mn_rows FILE: per MN, from `ctpmn many --json` (pretty-printed: one
# member a line): mn par_us nar_us bytes_out bytes_in pkts_out pkts_in result
# ctna (par_us, nar_us: CTAR -> CTAA at that AR, "-" when none came; ctna:
# CTNAs sent).
ctpd_mn_rows() {
	awk '
		/"mns": \[/ { in_mns = 1; next }
		!in_mns { next }
		/^      "mn": "/ { v = $2; gsub(/[",]/, "", v); mn = v; par = "-"; nar = "-"; leg = "" }
		/"ar": "par"/ { leg = "par" }
		/"ar": "nar"/ { leg = "nar" }
		/"rtt_us":/ { v = $2; gsub(/,/, "", v); if (leg == "par") par = v; else if (leg == "nar") nar = v }
		/^      "ctna_sent":/ { v = $2; gsub(/,/, "", v); ctna = v }
		/^      "bytes_sent":/ { v = $2; gsub(/,/, "", v); bo = v }
		/^      "bytes_received":/ { v = $2; gsub(/,/, "", v); bi = v }
		/^      "packets_sent":/ { v = $2; gsub(/,/, "", v); po = v }
		/^      "packets_received":/ { v = $2; gsub(/,/, "", v); pi = v }
		/^      "result":/ { v = $2; gsub(/[",]/, "", v); print mn, par, nar, bo, bi, po, pi, v, ctna }
	' "$1"
}

# ctpd_pcap_events NODE...: every message in the nodes' captures, one line
# each: epoch_us node type mn src dst length (src/dst "-" for the MN's side;
# length: the CXTP Length field, octets).
# Needs tshark and wireshark/cxtp.lua.
ctpd_pcap_events() {
	local n
	for n in "$@"; do
		[ -s "$CTPD_W/$n.pcap" ] || continue
		tshark -r "$CTPD_W/$n.pcap" -X "lua_script:$BENCH_TOP/wireshark/cxtp.lua" -T fields \
			-e frame.time_epoch -e cxtp.type -e cxtp.mn_prev_addr -e exported_pdu.ipv4_src \
			-e exported_pdu.ipv4_dst -e cxtp.length 2> /dev/null |
			awk -v n="$n" -F'\t' '{
				split($1, t, ".")
				us = t[1] * 1000000 + substr(t[2] "000000", 1, 6)
				printf "%.0f %s %s %s %s %s %s\n", us, n, $2, $3, ($4 == "" ? "-" : $4), ($5 == "" ? "-" : $5), ($6 == "" ? 0 : $6)
			}'
	done
}

ctpd_rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/${CTPD_PID[$1]}/status" 2> /dev/null || echo 0
}

ctpd_cpu() {
	bench_proc_jiffies "${CTPD_PID[$1]}"
}

# ctpd_sys NODE: the system (kernel) part of ctpd_cpu NODE, jiffies
ctpd_sys() {
	awk '{ print $15 }' "/proc/${CTPD_PID[$1]}/stat" 2> /dev/null || echo 0
}

# ctpd_gate LABEL: the quiet gate; a gate that gives up marks every later
# figure of this script "quiet": false.
ctpd_gate() {
	bench_gate "$1" || CTPD_QUIET=false
}

ctpd_extra() {
	printf '"quiet":%s,%s' "$CTPD_QUIET" "$(bench_gate_json)"
}

# ctpd_p99 FILE: the 99th percentile of a file of samples as an extra member
# ("p99":X), interpolated between ranks as bench_emit's p10 and p90.
ctpd_p99() {
	sort -g "$1" | awk '{ s[++n] = $1 } END {
		if (!n) { printf "\"p99\":null"; exit }
		p = (n - 1) * 0.99 + 1; lo = int(p)
		v = (lo >= n) ? s[n] : s[lo] + (p - lo) * (s[lo + 1] - s[lo])
		printf "\"p99\":%.6g", v }'
}
