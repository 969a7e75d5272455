#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ctpd_handover.sh: handover latency of ctpd (issue 8, 1 and 4), with
# the MN's signalling.
#
# Separate ctpd processes on loopback (bench/ctpd/lib.sh has the nodes),
# TLS 1.3 on every association, the MN simulated by `ctpmn many` over the
# UDP encoding, CTPD_HO_N handovers a scenario (1000), CTPD_HO_RATE of them
# a second (250: one at a time in practice, each takes well under 4 ms).
# Each MN has two SAs (in and out, AES-128-GCM, ESP tunnel) and hands over
# once; a fresh set of daemons serves each scenario.
#
# Scenarios (SAs where, mode):
#   type5       the MN's SAs with S, on PR's path: PR collects them from S,
#               NR classifies them (type 5) and relays them to S', S'
#               installs; nAR tells the MN its new SG by CTN (direct SG
#               identity, the default)
#   type3       an SA pair between S and RN whose selectors carry the MN's
#               traffic (type 3): the same relay chain, nothing for the MN
#   pr          the MN's SAs with PR itself (figure 9, type 5 collocated): no
#               SGs, NR installs them
# each reactive (the MN's CTAR to NR) and, for type5 and pr, predictive (the
# CTAR to PR first, PCTD to NR, --wait-ms 20 of "layer-2 handover", then the
# CTAR to NR).
#
# Two clocks:
#   MN side    ctpmn's CTAR -> CTAA round trip (uv_hrtime), per AR; for
#              predictive the pAR and nAR legs added (the emulated 20 ms gap
#              between them left out)
#   in-daemon  every daemon writes its exported-PDU capture (--pcap, on
#              tmpfs, one timestamp per message in and out, µs, one clock
#              for all processes); tshark reads them back.  NR's CTAR in ->
#              CTAA out, and for the reactive chains the steps between: the
#              arrival of each message of the critical path at the next node
#              (so each step is one node's work plus one hop), which add up
#              to the whole.
# The headline, ctpd.handover.latency, is the type5 reactive chain measured
# from the MN, in a run of its own without captures (a capture costs a
# write() per message).
#
# Prints: ctpd.handover.latency (ms), ctpd.handover.<scenario>.<mode>.{mn,nr}
# (µs), ctpd.handover.type5.reactive.step<k> and type3/pr likewise (µs),
# ctpd.handover.<scenario>.<mode>.cpu (ms per handover, all daemons),
# ctpd.mn.{bytes,messages,round_trips}, ctpd.mn.<scenario>.<mode>.bytes,
# ctpd.backhaul.round_trips.
#
# Knobs: CTPD_HO_N (1000), CTPD_HO_RATE (250), CTPD_HO_SCENARIOS
# ("type5:reactive type5:predictive type3:reactive pr:reactive pr:predictive"),
# CTPD_HO_WAIT_MS (20), CTPD_LOG (notice), CTPD_PIN (e.g. "taskset -c 0":
# every daemon and the MN on one vCPU, perf-anchors 2.4).
set -u
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ctpd/lib.sh
. "$BENCH_TOP/bench/ctpd/lib.sh"

N=${CTPD_HO_N:-1000}
RATE=${CTPD_HO_RATE:-250}
WAIT=${CTPD_HO_WAIT_MS:-20}
SCEN=${CTPD_HO_SCENARIOS:-type5:reactive type5:predictive type3:reactive pr:reactive pr:predictive}
CMD="bench/run.sh BUILD ctpd_handover  # CTPD_HO_N=$N CTPD_HO_RATE=$RATE"
BASE=10.201.0.0

not_measured_all() {
	local n
	for n in ctpd.handover.latency ctpd.mn.bytes ctpd.mn.messages ctpd.mn.round_trips \
		ctpd.backhaul.round_trips; do
		bench_not_measured "$n" "" "$1" "$CMD"
	done
	exit 0
}

ctpd_bench_init "$@" || not_measured_all "$CTPD_REASON"
HAVE_TSHARK=1
command -v tshark > /dev/null || HAVE_TSHARK=0
R=$BENCH_RAW

# The SAs of N MNs from BASE, for a scenario.
place_sas() {
	case $1 in
	type5)
		ctpd_sa_add s "$N" "$BASE" ctpd_sa_tpl 4096 in "${CTPD_ADDR[s]}" "$BASE" &&
			ctpd_sa_add s "$N" "$BASE" ctpd_sa_tpl 1052672 out "${CTPD_ADDR[s]}" "$BASE" ;;
	type3)
		ctpd_sa_add s "$N" "$BASE" ctpd_sa_tpl 4096 in "${CTPD_ADDR[s]}" "$BASE" sel "$CTPD_RN" &&
			ctpd_sa_add s "$N" "$BASE" ctpd_sa_tpl 1052672 out "${CTPD_ADDR[s]}" "$BASE" sel "$CTPD_RN" ;;
	pr)
		ctpd_sa_add pr "$N" "$BASE" ctpd_sa_tpl 4096 in "${CTPD_ADDR[pr]}" "$BASE" &&
			ctpd_sa_add pr "$N" "$BASE" ctpd_sa_tpl 1052672 out "${CTPD_ADDR[pr]}" "$BASE" ;;
	esac
}

# The critical path of a reactive scenario: node/type/src/dst of the
# message arrivals (and the last: NR's CTAA), "*" for any; the step names.
path_of() {
	case $1 in
	type5 | type3)
		EV="nr/1/*/* pr/7/*/pr s/7/*/s pr/3/s/pr nr/3/pr/nr sp/3/*/sp nr/5/sp/nr nr/2/*/*"
		STEPS="NR: CTAR in, CT-Req to PR|PR: CT-Req to S|S: freeze and snapshot, CTD to PR|PR: CTD to NR|NR: classify, relay the CTD to S'|S': install, CTDR to NR|NR: CTDR in, CTAA to the MN"
		BACKHAUL=3 ;;
	pr)
		EV="nr/1/*/* pr/7/*/pr nr/3/pr/nr nr/2/*/*"
		STEPS="NR: CTAR in, CT-Req to PR|PR: freeze and snapshot, CTD to NR|NR: install, CTDR to PR, CTAA to the MN"
		BACKHAUL=1 ;;
	esac
}

# timeline FILE_EVENTS SPEC: per MN that has every event, its timestamps.
timeline() {
	local map=""
	for n in $CTPD_NODES; do map="$map $n=${CTPD_ADDR[$n]}"; done
	awk -v spec="$2" -v map="$map" '
		BEGIN {
			k = split(spec, S, " ")
			m = split(map, M, " ")
			for (i = 1; i <= m; i++) { split(M[i], kv, "="); A[kv[1]] = kv[2] }
			for (i = 1; i <= k; i++) {
				split(S[i], f, "/")
				node[i] = f[1]; typ[i] = f[2]
				src[i] = (f[3] == "*" ? "*" : A[f[3]]); dst[i] = (f[4] == "*" ? "*" : A[f[4]])
			}
		}
		{
			for (i = 1; i <= k; i++)
				if ($2 == node[i] && $3 == typ[i] && (src[i] == "*" || $5 == src[i]) &&
				    (dst[i] == "*" || $6 == dst[i]) && !((i, $4) in T)) {
					T[i, $4] = $1
					seen[$4] = 1
				}
		}
		END {
			for (mn in seen) {
				line = mn
				for (i = 1; i <= k; i++) {
					if (!((i, mn) in T)) { line = ""; break }
					line = line " " T[i, mn]
				}
				if (line != "") print line
			}
		}' "$1"
}

# One scenario; $1 scenario, $2 mode, $3 "pcap" or "clean".
run_scenario() {
	local sc=$1 mode=$2 kind=$3 conf=chain nodes="pr nr s sp" tag=$1.$2 opts=() j0 j1 n
	[ "$sc" = pr ] && { conf="pr"; nodes="pr nr"; }
	[ "$mode" = predictive ] && opts=(--predictive --wait-ms "$WAIT")
	[ "$kind" = clean ] && tag=$tag.clean
	ctpd_log "$tag: $N handovers at $RATE/s"
	local pcap=()
	[ "$kind" = pcap ] && pcap=(--pcap)
	# shellcheck disable=SC2086 # nodes are words
	if ! ctpd_boot "$conf" "${pcap[@]}" $nodes; then
		ctpd_log "$tag: the daemons did not come up"
		return 1
	fi
	place_sas "$sc" && ctpd_keys "$BASE" "$N" || return 1
	ctpd_gate "ctpd handover $tag"
	j0=0 y0=0
	for n in $nodes; do j0=$((j0 + $(ctpd_cpu "$n"))) y0=$((y0 + $(ctpd_sys "$n"))); done
	ctpd_many "$BASE" "$N" "$RATE" "${opts[@]}" > "$R/$tag.json"
	j1=0 y1=0
	for n in $nodes; do j1=$((j1 + $(ctpd_cpu "$n"))) y1=$((y1 + $(ctpd_sys "$n"))); done
	awk -v y="$((y1 - y0))" -v j="$((j1 - j0))" 'BEGIN { if (j > 0) printf "%.3g\n", y / j * 100 }' > "$R/$tag.sys"
	# let the last CTN/CTNA and commits settle before the daemons stop
	sleep 0.3
	ctpd_mn_rows "$R/$tag.json" > "$R/$tag.mn"
	awk -v j="$((j1 - j0))" -v n="$N" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.6g\n", j / hz * 1000 / n }' > "$R/$tag.cpu"
	ok=$(awk '$8 == "ok"' "$R/$tag.mn" | wc -l)
	ctpd_log "$tag: $ok of $N ok ($(grep -c . "$CTPD_W/many.err") lines on ctpmn's stderr)"
	[ -s "$CTPD_W/many.err" ] && cp "$CTPD_W/many.err" "$R/$tag.ctpmn.err"
	if [ "$kind" = pcap ] && [ "$HAVE_TSHARK" = 1 ]; then
		# shellcheck disable=SC2086
		ctpd_stop_all   # the captures are complete once the daemons are gone
		# shellcheck disable=SC2086
		ctpd_pcap_events $nodes > "$R/$tag.events"
	fi
	ctpd_stop_all
	return 0
}

# TAG MODE: the MN-side latency of each MN that succeeded, µs, into TAG.mn_us.
mn_us() {
	if [ "$2" = predictive ]; then
		awk '$8 == "ok" && $2 != "-" && $3 != "-" { print $2 + $3 }' "$R/$1.mn" > "$R/$1.mn_us"
	else
		awk '$8 == "ok" && $3 != "-" { print $3 }' "$R/$1.mn" > "$R/$1.mn_us"
	fi
}

for s in $SCEN; do
	sc=${s%%:*} mode=${s#*:}
	tag=$sc.$mode
	if ! run_scenario "$sc" "$mode" pcap; then
		bench_not_measured "ctpd.handover.$tag.mn" us "the daemons did not come up or take the SAs (raw/ctpd_handover has their logs)" "$CMD"
		continue
	fi
	case $mode in
	reactive) mdesc="reactive: the MN's CTAR to NR, CTAA from NR" ;;
	predictive) mdesc="predictive: CTAR to PR and its CTAA, then (after $WAIT ms) CTAR to NR and its CTAA; the two round trips added" ;;
	esac
	case $sc in
	type5) sdesc="relay chain, the MN's two SAs (in, out) held by S on PR's path, moved to S' on NR's (type 5); nAR tells the MN its new SG by CTN" ;;
	type3) sdesc="relay chain, an SA pair between S and RN carrying the MN's traffic (its selectors; type 3), moved to S'" ;;
	pr) sdesc="the MN's two SAs held by PR itself (MN-PR, figure 9), installed at NR; no SGs" ;;
	esac
	common="$N handovers (one MN each, $RATE/s), separate ctpd processes on loopback ($CTPD_NETNS), usrsctp, TLS 1.3 with certificates on every association, mem SAD, log level ${CTPD_LOG:-notice}, every daemon writing its --pcap capture; $sdesc"
	mn_us "$tag" "$mode"
	bench_emit "ctpd.handover.$tag.mn" us "$R/$tag.mn_us" "$CMD" "MN side, $mdesc (ctpmn's clock). $common." "$(ctpd_p99 "$R/$tag.mn_us"),$(ctpd_extra)"
	bench_emit "ctpd.handover.$tag.cpu" ms "$R/$tag.cpu" "$CMD" "CPU time (user + system) of all the daemons of the scenario over the run, divided by the handovers: ms per handover for every node together. $common." "$(ctpd_extra)"
	awk '$8 == "ok" { print $4 + $5 }' "$R/$tag.mn" > "$R/$tag.bytes"
	bench_emit "ctpd.handover.$tag.cpu_sys_pct" % "$R/$tag.sys" "$CMD" "The kernel's share (system time) of the daemons' CPU time over the run, percent. $common." "$(ctpd_extra)"
	bench_emit "ctpd.mn.$tag.bytes" B "$R/$tag.bytes" "$CMD" "CXTP octets the MN sent and received per handover (CTAR, CTAA; CTN and CTNA when nAR notifies), above UDP. $common." "$(ctpd_extra)"
	if [ "$HAVE_TSHARK" = 0 ] || [ ! -s "$R/$tag.events" ]; then
		bench_not_measured "ctpd.handover.$tag.nr" us "no captures read (tshark missing or no capture written)" "$CMD"
		continue
	fi
	awk '$2 == "nr" && ($3 == 1 || $3 == 2)' "$R/$tag.events" > "$R/$tag.nrev"
	timeline "$R/$tag.nrev" "nr/1/*/* nr/2/*/*" | awk '{ print $3 - $2 }' > "$R/$tag.nr_us"
	bench_emit "ctpd.handover.$tag.nr" us "$R/$tag.nr_us" "$CMD" "In NR: the CTAR's arrival to the CTAA's departure, from NR's capture (µs timestamps of the exported-PDU records). $mdesc. $common." "$(ctpd_p99 "$R/$tag.nr_us"),$(ctpd_extra)"
	if [ "$mode" = reactive ]; then
		path_of "$sc"
		timeline "$R/$tag.events" "$EV" > "$R/$tag.timeline"
		nsteps=$(echo "$STEPS" | awk -F'|' '{ print NF }')
		awk '{ print $NF - $2 }' "$R/$tag.timeline" > "$R/$tag.total"
		tot=$(awk '{ s += $1 } END { if (NR) printf "%.6g", s / NR }' "$R/$tag.total")
		for k in $(seq "$nsteps"); do
			what=$(echo "$STEPS" | cut -d'|' -f"$k")
			awk -v k="$k" '{ print $(k + 2) - $(k + 1) }' "$R/$tag.timeline" > "$R/$tag.step$k"
			share=$(awk -v t="$tot" '{ s += $1 } END { if (NR && t > 0) printf "%.1f", s / NR / t * 100; else print "?" }' "$R/$tag.step$k")
			bench_emit "ctpd.handover.$tag.step$k" us "$R/$tag.step$k" "$CMD" \
				"Step $k of $nsteps of the critical path, $what: from the arrival of one message at its node to the arrival of the next at the next node (each node's work plus one hop: TLS, usrsctp, UDP on loopback, the wake-up), from the daemons' captures; $share% of the mean in-daemon time (mean $tot µs, CTAR at NR to CTAA). $common." \
				"\"share_pct\":$share,\"step\":\"$what\",\"steps\":$nsteps,$(ctpd_p99 "$R/$tag.step$k"),$(ctpd_extra)"
		done
	fi
	if [ "$tag" = type5.reactive ]; then
		# the critical path's own octets: the CTAR in and the CTAA out at NR
		awk '$2 == "nr" && ($3 == 1 || $3 == 2) { b[$4] += $7; k[$4]++ }
			END { for (m in b) if (k[m] == 2) print b[m] }' "$R/$tag.events" > "$R/mn.critical_bytes"
		awk '$8 == "ok" { print $4 + $5 }' "$R/$tag.mn" > "$R/mn.bytes"
		awk '$8 == "ok" { print $6 + $7 }' "$R/$tag.mn" > "$R/mn.messages"
		echo "$BACKHAUL" > "$R/backhaul"
	fi
done

# The headline: the full chain, reactive, measured from the MN, no captures.
if run_scenario type5 reactive clean; then
	mn_us type5.reactive.clean reactive
	awk '{ print $1 / 1000 }' "$R/type5.reactive.clean.mn_us" > "$R/latency.ms"
	bench_emit ctpd.handover.latency ms "$R/latency.ms" "$CMD" "Moving one MN's SA context across the whole relay chain, measured at the MN: its CTAR to NR -> CTAA from NR, reactive; NR fetches from PR, PR from S, NR relays to S' and waits for its CTDR before the CTAA (3 backhaul round trips). $N handovers at $RATE/s, separate ctpd processes on loopback ($CTPD_NETNS), usrsctp, TLS 1.3, mem SAD, no captures. The MN's link is UDP on loopback: add the radio RTT (section 3)." "$(ctpd_p99 "$R/latency.ms"),$(ctpd_extra)"
else
	bench_not_measured ctpd.handover.latency ms "the daemons did not come up (raw/ctpd_handover has their logs)" "$CMD"
fi

if [ -s "$R/mn.bytes" ]; then
	bench_emit ctpd.mn.bytes B "$R/mn.bytes" "$CMD" "CXTP octets the MN sent and received in one handover of the type5 reactive chain: CTAR and CTAA, then the CTN that tells it the new SG (direct SG identity) and its CTNA; above UDP (ICMP carries the same octets). IKEv2's figure is the UDP payload of IKE_SA_INIT + IKE_AUTH." "$(ctpd_extra)"
	if [ -s "$R/mn.critical_bytes" ]; then
		bench_emit ctpd.mn.critical_bytes B "$R/mn.critical_bytes" "$CMD" "CXTP octets of the handover's critical path over the MN's link in the type5 reactive chain: its CTAR and the CTAA (their Length fields, from NR's capture); ctpd.mn.bytes adds the CTN and CTNA that follow the CTAA." "$(ctpd_extra)"
	fi
	bench_emit ctpd.mn.messages messages "$R/mn.messages" "$CMD" "Messages the MN sent and received in one handover (type5 reactive chain): CTAR, CTAA, CTN, CTNA." "$(ctpd_extra)"
	awk '$8 == "ok" { print $6 - $9 }' "$R/type5.reactive.mn" > "$R/mn.rt"
	bench_emit ctpd.mn.round_trips round_trips "$R/mn.rt" "$CMD" "Round trips over the MN's link on the handover's critical path: the CTAR and its CTAA (the CTN/CTNA that follows the CTAA when the SG changed is nAR's notice, not waited for by the handover; without retransmissions: 1)." "$(ctpd_extra)"
	bench_emit ctpd.backhaul.round_trips round_trips "$R/backhaul" "$CMD" "Sequential round trips between nodes on the critical path of the type5 reactive chain: NR-PR (CT-Req/CTD), PR-S (CT-Req/CTD), NR-S' (CTD/CTDR); NR's CTDR to PR and PR's to S (the commits) follow the CTAA." "$(ctpd_extra)"
fi
exit 0
