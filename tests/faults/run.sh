#!/bin/bash
# tests/faults/run.sh BUILD: the fault matrix (issue 9, item 2).  The IPsec
# handover of the relay chain S1, S2 -> PR -> NR -> S1', S2' (tests/lib/
# chain.sh: real ctpd daemons in network namespaces, usrsctp over UDP, TLS,
# the ipsec plugin with its UDP ESP datapath) runs again and again while
# one fault hits it; after each run tests/lib/faults.sh checks PROFILE 5
# with the ESP engine and the daemons' state (no SA lost, none active
# twice, no sequence number used twice, every daemon answering).
#
# A run is (fault, where, step, mode):
#   drop dup delay reorder   packets between two nodes, one way (a>b) or
#              both (a<>b), on every link of the chain (pr-nr, pr-s1,
#              pr-s2, nr-s1p, nr-s2p): drop 25 %, duplicate 60 %, delay
#              40 ms, reorder 60 % (one datagram held until the next
#              passes it); this host has no netem and no netfilter, so
#              the daemons' own UDP wire does it: CTPD_TEST_FAULTS (ctpd(8),
#              a test mode) points every daemon at one rule file that the
#              run rewrites
#   blackhole  everything between two nodes lost, both ways
#   kill       SIGKILL of a node (pr nr s1 s2 s1p s2p), restarted (from its
#              SA state file) once the handover is over
#   killrestart  the same, restarted at once, while the chain runs
#   step: start (the fault is there before the MN's first CTAR), fetch (pAR
#              logs CT-Req to the sources), held (predictive: nAR holds
#              pAR's PCTD), relay (nAR installed the contexts and relays
#              them to S1', S2'), notify (nAR committed and notifies the
#              MN); a later step is caught from the node's log (inotify)
#              and the fault applied at once
#   mode: reactive (the MN's CTAR at nAR) or predictive (first at pAR)
# Both outcomes are fine (committed, aborted with the SAs restored or
# quarantined); a violated invariant fails the run, and the script.
#
# Knobs: FAULT_RUNS=N (the first N runs of an interleaved order: every
# kind, link and step early; default all), FAULT_JOBS=J chains in
# parallel (default 3), FAULT_ONLY=REGEX (runs whose "kind where step mode"
# matches), FAULT_SKIP=REGEX (runs that do not), CH_KEEP=1 keeps each
# chain's folder (and copies the logs of a failed run to BUILD/faults/logs).
# The report: BUILD/faults/report.md and runs.tsv (one line per run).

# shellcheck disable=SC2015
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:-build}" && pwd) || exit 1
OUT=${FLT_OUT:-$B/faults}
JOBS=${FAULT_JOBS:-3}

# ---- the matrix -------------------------------------------------------------------
LINKS="pr-nr pr-s1 pr-s2 nr-s1p nr-s2p"
NODES="pr nr s1 s2 s1p s2p"

matrix_all() {
	local k l a b m n s
	for m in reactive predictive; do
		for k in drop dup delay reorder; do
			for l in $LINKS; do
				a=${l%-*} b=${l#*-}
				echo "$k $a>$b start $m"
				echo "$k $b>$a start $m"
				echo "$k $a<>$b start $m"
				[ $m = reactive ] && s=relay || s=held
				echo "$k $a<>$b $s $m"
			done
		done
		for l in $LINKS; do
			a=${l%-*} b=${l#*-}
			echo "blackhole $a<>$b start $m"
			[ $m = reactive ] && s=relay || s=held
			echo "blackhole $a<>$b $s $m"
		done
		for k in kill killrestart; do
			for n in $NODES; do
				for s in start fetch relay notify; do echo "$k $n $s $m"; done
				[ $m = predictive ] && echo "$k $n held $m"
			done
		done
	done
}

# Interleaved (kinds, links and steps mixed), numbered.
matrix() {
	matrix_all | grep -E -- "${FAULT_ONLY:-.}" | { [ -z "${FAULT_SKIP:-}" ] && cat || grep -v -E -- "$FAULT_SKIP"; } | awk '{print (NR * 7919) % 100003, $0}' |
		sort -n | cut -d' ' -f2- | head -n "${FAULT_RUNS:-100000}" | awk '{printf "%03d %s\n", NR, $0}'
}

# ---- one worker: one chain, its share of the runs ---------------------------------
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"
# shellcheck source=tests/lib/faults.sh
. "$top/tests/lib/faults.sh"

worker() {
	local k=$1
	chain_init "$B"
	case $? in
	0) ;;
	1) echo "SKIP" > "$OUT/w$k.skip"; exit 0 ;;
	*) echo "faults: worker $k cannot run" >&2; exit 1 ;;
	esac
	FAULTS=$CH_T/faults
	: > "$FAULTS"
	export CTPD_TEST_FAULTS=@$FAULTS
	chain_topology || { echo "faults: worker $k: no topology" >&2; exit 1; }
	# shellcheck disable=SC2119
	chain_start_all || { echo "faults: worker $k: the daemons did not come up" >&2; chain_logs >&2; exit 1; }
	OFF=0
	local id kind where step mode
	while read -r id kind where step mode; do
		run_one "$id" "$kind" "$where" "$step" "$mode" >> "$OUT/w$k.tsv"
	done < <(matrix | awk -v k="$k" -v j="$JOBS" '(NR - 1) % j == k')
}

set_rules() {   # the rule file, atomically (the daemons see a new inode)
	printf '%s\n' "$@" > "$FAULTS.new" && mv "$FAULTS.new" "$FAULTS"
}

rules_for() {   # kind where seed: the rule lines
	local kind=$1 w=$2 seed=$3 a b both=0 v
	case $w in
	*"<>"*) a=${w%<>*} b=${w#*<>} both=1 ;;
	*) a=${w%>*} b=${w#*>} ;;
	esac
	case $kind in
	drop) v="drop=25" ;;
	dup) v="dup=60" ;;
	delay) v="delay=40" ;;
	reorder) v="reorder=60" ;;
	blackhole) v="drop=100" ;;
	esac
	echo "from=${CH_ADDR[$a]},peer=${CH_ADDR[$b]},$v,seed=$seed"
	[ $both = 0 ] || echo "from=${CH_ADDR[$b]},peer=${CH_ADDR[$a]},$v,seed=$((seed + 1000))"
}

# What the previous rules did at node $1 (its last report line), short.
applied_at() {
	grep 'faults under the previous rules' "$CH_T/$1.log" 2> /dev/null | tail -1 |
		sed -E 's/.*rules: ([0-9]+) datagrams matched, ([0-9]+) dropped, ([0-9]+) duplicated, ([0-9]+) delayed, ([0-9]+) reordered.*/\1 matched \2 dropped \3 dup \4 delayed \5 reordered/'
}

apply() {   # kind where
	case $1 in
	kill) chain_kill "$2" ;;
	killrestart) chain_kill "$2"; start_node "$2" ;;
	*) set_rules "${RULES[@]}" ;;
	esac
}

# Start node $1, again while the exec fails (another job relinking the
# binary: "Permission denied", "Text file busy"); not for a daemon that
# starts and then dies: that is what the checks are for.
start_node() {
	local i p
	for i in 1 2 3 4 5 6 7 8 9 10; do
		chain_start "$1"
		p=${CH_PID[$1]}
		sleep 0.05
		kill -0 "$p" 2> /dev/null && return 0
		wait "$p" 2> /dev/null
		tail -1 "$CH_T/$1.log" | grep -q '^exec of' || return 1
		echo "faults: $1: exec failed, again ($i)" >&2
		sleep 0.3
	done
	return 1
}

# Every daemon running (those not running started again) and up.
revive() {
	local n p dead=""
	for n in $CH_NODES; do
		p=${CH_PID[$n]:-}
		if [ -z "$p" ] || ! kill -0 "$p" 2> /dev/null; then
			[ -z "$p" ] || wait "$p" 2> /dev/null
			start_node "$n"
			dead="$dead $n"
		fi
	done
	[ -n "$dead$RESTARTED" ] || return 0
	RESTARTED=""
	# shellcheck disable=SC2086
	flt_wait_up $CH_NODES
}

flt_tp() { [ -z "${FLT_TRACE:-}" ] || echo "trace $1: $(((${EPOCHREALTIME/./} - t0) / 1000)) ms" >&2; }

run_one() {
	local id=$1 kind=$2 where=$3 step=$4 mode=$5 t0=${EPOCHREALTIME/./} n sa opt=() rc
	local wn pat off hp applied="" rnote="" checks ends a b outcome
	# a clean slate: every daemon up, no SA, the MN at PR with its key
	revive || rnote="not all up after the previous run"
	# shellcheck disable=SC2086
	flt_table $FLT_NODES | {
		while read -r sa _ n _ _ _ _ _ _ dst; do
			chain_ctl "$n" call sa-del "{\"spi\":$sa,\"dst\":\"$dst\"}" > /dev/null &
		done
		wait   # (in this subshell: its own sa-dels, not the daemons)
	}
	flt_tp reset
	chain_mn_attach pr
	chain_ctl pr mn-key set "$CH_MN" "$CH_KEY" > /dev/null
	OFF=$((OFF + 16))
	if ! flt_sas "$OFF"; then
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$kind" "$where" "$step" "$mode" \
			"-" "FAIL: sa-add refused" "" "" "$(((${EPOCHREALTIME/./} - t0) / 1000))"
		return
	fi
	flt_tp sas
	flt_before "$id"
	flt_tp before
	[ -z "$FLT_BAD" ] || rnote="${rnote:+$rnote; }$FLT_BAD"
	RULES=()
	FLT_KILLED=""
	case $kind in
	kill | killrestart) applied="SIGKILL $where"; RESTARTED=1 FLT_KILLED=$where ;;
	*) mapfile -t RULES < <(rules_for "$kind" "$where" "$((10#$id))") ;;
	esac
	[ "$mode" = predictive ] && opt=(--predictive --wait-ms 100)
	chain_mn_attach nr
	case $step in
	start) wn="" ;;
	fetch) wn=pr pat="-> fetching (" ;;
	held) wn=nr pat="-> held (" ;;
	relay) wn=nr pat="-> relaying (" ;;
	notify) wn=nr pat="-> notifying (" ;;
	esac
	[ -n "$wn" ] && off=$(flt_log_size "$wn")
	[ -n "$wn" ] || apply "$kind" "$where"
	chain_handover "$id-ho" "${opt[@]}" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" \
		--retry-ms 300 --timeout-ms 2500 &
	hp=$!
	if [ -n "$wn" ]; then
		if flt_wait_log "$wn" "$off" "$pat" 3000; then
			apply "$kind" "$where"
			applied="$applied at $step"
		else
			rnote="${rnote:+$rnote; }step $step never reached: fault not applied"
			applied="none"
		fi
	fi
	wait $hp
	rc=$?
	flt_tp handover
	if [ "$kind" = kill ] && [ -z "${CH_PID[$where]:-}" ]; then
		start_node "$where"
	fi
	case $kind in
	kill | killrestart) flt_wait_up "$where" || rnote="${rnote:+$rnote; }$where not up again" ;;
	*) set_rules ;;
	esac
	flt_tp restart
	flt_check "$id"
	flt_tp check
	checks=$([ -z "$FLT_BAD" ] && echo pass || echo "FAIL: $FLT_BAD")
	if [ ${#RULES[@]} -gt 0 ]; then
		case $where in
		*"<>"*) a=${where%<>*} b=${where#*<>}
			applied="$a: $(applied_at "$a"); $b: $(applied_at "$b")" ;;
		*) a=${where%>*}; applied="$a: $(applied_at "$a")${applied:+ $applied}" ;;
		esac
	fi
	[ -z "$FLT_NOTE" ] || rnote="${rnote:+$rnote; }$FLT_NOTE"
	ends="ctpmn exit $rc"
	outcome=$FLT_OUT
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$kind" "$where" "$step" "$mode" \
		"$outcome" "$checks" "$applied" "$ends; $FLT_WHERE" "$rnote" \
		"$(((${EPOCHREALTIME/./} - t0) / 1000))"
	if [ -n "$FLT_BAD" ] && [ -n "${CH_KEEP:-}" ]; then
		mkdir -p "$OUT/logs/$id" && cp "$CH_T"/*.log "$OUT/logs/$id/" 2> /dev/null
	fi
}
RESTARTED=""

if [ -n "${FLT_WORKER:-}" ]; then
	worker "$FLT_WORKER"
	exit $?
fi

# ---- the driver: workers, then the report -----------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "*** faults: SKIPPED: needs root and network namespaces ***"
	echo "*** (the CI runs it as root; this run does NOT inject faults) ***"
	exit 0
fi
mkdir -p "$OUT"
rm -f "$OUT"/w*.tsv "$OUT"/w*.skip "$OUT"/w*.err
planned=$(matrix | wc -l)
t0=$SECONDS
echo "faults: $planned runs on $JOBS chains"
# the daemons and tools as they are now: a rebuild during the run (make
# in another terminal) must not swap them under the chains
SNAP=$OUT/bin
rm -rf "$SNAP"
mkdir -p "$SNAP/plugins"
cp -p "$B/ctpd" "$B/ctpctl" "$B/ctpmn" "$SNAP/" && cp -p "$B"/plugins/*.so "$SNAP/plugins/" ||
	{ echo "faults: no build in $B"; exit 1; }
pids=()
for k in $(seq 0 $((JOBS - 1))); do
	FLT_OUT=$OUT FLT_WORKER=$k bash "$0" "$SNAP" 2> "$OUT/w$k.err" &
	pids+=($!)
done
wrc=0
for p in "${pids[@]}"; do wait "$p" || wrc=1; done
wall=$((SECONDS - t0))
if ls "$OUT"/w*.skip > /dev/null 2>&1; then
	echo "*** faults: SKIPPED: no network namespaces here ***"
	exit 0
fi
hdr="id	fault	where	step	mode	outcome	checks	applied	handover and where each SA ended	notes	ms"
{ echo "$hdr"; sort -n "$OUT"/w*.tsv 2> /dev/null; } > "$OUT/runs.tsv"
done_runs=$(tail -n +2 "$OUT/runs.tsv" | wc -l)
failed=$(tail -n +2 "$OUT/runs.tsv" | awk -F'\t' '$7 != "pass"' | wc -l)
{
	echo "# Fault injection: $done_runs runs"
	echo
	echo "tests/faults/run.sh, $(date -u +%Y-%m-%dT%H:%MZ), $JOBS chains in parallel, $wall s wall time."
	echo "Every run: the MN's SAs (type 5 MN - S2, type 4 S1 <-> S2 both copies) hand over"
	echo "from S1, S2 to S1', S2' while the fault hits; then PROFILE 5 is checked"
	echo "(tests/lib/faults.sh). Runs planned: $planned; done: $done_runs; invariants violated: $failed."
	echo
	echo "## Outcomes by fault"
	echo
	echo "\"hit\": the fault did something (a datagram dropped, duplicated, delayed or"
	echo "reordered; a node killed at its step). \"partial\": some copies moved, others"
	echo "restored or quarantined (a verdict per SA). Every outcome is allowed; a"
	echo "violation is not."
	echo
	echo "| fault | runs | hit | committed | aborted-restored | aborted-quarantined | partial | violations |"
	echo "|---|---|---|---|---|---|---|---|"
	tail -n +2 "$OUT/runs.tsv" | awk -F'\t' '{
		k = $2; n[k]++; o = $6; sub(/\(.*/, "", o); c[k, o]++; if ($7 != "pass") f[k]++
		a = $8; hit = 0
		if (a ~ /^SIGKILL/) hit = 1
		while (match(a, /[0-9]+ (dropped|dup|delayed|reordered)/)) {
			if (substr(a, RSTART, RLENGTH) + 0 > 0) hit = 1; a = substr(a, RSTART + RLENGTH) }
		h[k] += hit }
		END { for (k in n) printf "| %s | %d | %d | %d | %d | %d | %d | %d |\n", k, n[k], h[k],
			c[k, "committed"], c[k, "aborted-restored"], c[k, "aborted-quarantined"], c[k, "partial"],
			f[k] }' | sort
	echo
	echo "## Violations"
	echo
	tail -n +2 "$OUT/runs.tsv" | awk -F'\t' '$7 != "pass" {print "- run " $1 " (" $2 " " $3 " at " $4 ", " $5 "): " $7 "; SAs: " $9}'
	[ "$failed" != 0 ] || echo "None."
	echo
	echo "## Every run"
	echo
	echo "| id | fault | where | step | mode | outcome | checks | applied | ms |"
	echo "|---|---|---|---|---|---|---|---|---|"
	tail -n +2 "$OUT/runs.tsv" | awk -F'\t' '{ gsub(/\|/, "/", $8); gsub(/\|/, "/", $7);
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $11 }'
} > "$OUT/report.md"
tail -n +2 "$OUT/runs.tsv" | awk -F'\t' '$7 != "pass" {print "FAIL: run " $1 " (" $2 " " $3 " " $4 " " $5 "): " $7}'
for k in $(seq 0 $((JOBS - 1))); do
	[ -s "$OUT/w$k.err" ] && { echo "--- worker $k:"; tail -5 "$OUT/w$k.err"; }
done
echo "faults: $done_runs of $planned runs, $failed with a violated invariant, $wall s; report: $OUT/report.md"
[ "$wrc" = 0 ] && [ "$failed" = 0 ] && [ "$done_runs" = "$planned" ]
