#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ctpd_profile.sh: where the CPU goes, in instructions (issue 8, 6).
#
# Wall-clock figures on a shared 2-vCPU VM move with the neighbours; the
# instructions a daemon executes per handover do not.  Every daemon runs
# under valgrind's callgrind (instrumentation off until the measurement:
# callgrind_control -i on), the same scenarios as the other ctpd scripts,
# slowed down so that nothing times out:
#   handover  the type5 reactive relay chain (PR, NR, S, S'), CTPD_PROF_HO
#             handovers (60) at CTPD_PROF_RATE a second (5)
#   bulk      S -> S' move-all of CTPD_PROF_BULK SAs (1000)
# Each count is taken over the run and again over an idle interval of the
# same length (the 10 ms usrsctp tick, the timers), and the difference is
# divided by the handovers or SAs.  callgrind counts user-space instructions
# only (no kernel: syscalls and wake-ups are not in it) and counts `rep
# stosb` one instruction per byte, so large memsets weigh more here than
# they cost.  The profiles are kept under raw/ctpd_profile/ (LABEL.NODE.callgrind
# for callgrind_annotate, and its inclusive summary in LABEL.NODE.annotate).
#
# Prints ctpd.profile.handover.ir.<node> (instructions per handover),
# ctpd.profile.handover.ir (all four nodes), ctpd.profile.bulk.ir_per_sa.<side>
# and ctpd.profile.bulk.ir_per_sa (source + sink).
# Knobs: CTPD_PROF_HO (60), CTPD_PROF_RATE (5), CTPD_PROF_BULK (1000),
# CTPD_PROF=0 skips the script (it prints "not measured").
set -u
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ctpd/lib.sh
. "$BENCH_TOP/bench/ctpd/lib.sh"

HO=${CTPD_PROF_HO:-60}
RATE=${CTPD_PROF_RATE:-5}
BULK=${CTPD_PROF_BULK:-1000}
CMD="bench/run.sh BUILD ctpd_profile  # CTPD_PROF_HO=$HO CTPD_PROF_BULK=$BULK"

nm_all() {
	local n
	for n in ctpd.profile.handover.ir ctpd.profile.bulk.ir_per_sa; do
		bench_not_measured "$n" instructions "$1" "$CMD"
	done
	exit 0
}
[ "${CTPD_PROF:-1}" = 0 ] && nm_all "skipped (CTPD_PROF=0)"
if ! command -v valgrind > /dev/null || ! command -v callgrind_control > /dev/null; then
	nm_all "valgrind (callgrind) is not installed"
fi
ctpd_bench_init "$@" || nm_all "$CTPD_REASON"
R=$BENCH_RAW
CTPD_WRAP="valgrind --tool=callgrind --instr-atstart=no -q --callgrind-out-file=$CTPD_W/cg.%p"
# attributes pasted into <timers> by ctpd_conf (the quotes are XML's)
# shellcheck disable=SC2089,SC2090
CTPD_TIMERS='max-transfer-ms="30000" max-handover-ms="60000" handshake-ms="60000"'
# shellcheck disable=SC2090
export CTPD_WRAP CTPD_TIMERS

# total NODE...: instructions since the last zero, per node ("node count")
cg_zero() {
	local n
	for n in "$@"; do
		callgrind_control -z "${CTPD_PID[$n]}" > /dev/null 2>&1
		callgrind_control -i on "${CTPD_PID[$n]}" > /dev/null 2>&1
	done
}
cg_dump() {   # label node...: dump, print "node Ir"; keep the profiles
	local label=$1 n f
	shift
	for n in "$@"; do callgrind_control -d "${CTPD_PID[$n]}" > /dev/null 2>&1; done
	sleep 1
	for n in "$@"; do
		f=$(ls -t "$CTPD_W"/cg."${CTPD_PID[$n]}".* 2> /dev/null | head -1)
		[ -n "$f" ] || { echo "$n 0"; continue; }
		echo "$n $(awk '/^summary:/ { print $2; exit } /^totals:/ { print $2; exit }' "$f")"
		if [ "$label" != idle ]; then
			cp "$f" "$R/$label.$n.callgrind"
			callgrind_annotate --inclusive=yes "$f" 2> /dev/null | head -150 > "$R/$label.$n.annotate"
		fi
	done
}
# measure LABEL SECONDS_CMD NODE...: Ir of the command, less idle of the same length
measure() {
	local label=$1 cmd=$2 t0 t1 dt
	shift 2
	cg_zero "$@"
	t0=$(date +%s%N)
	eval "$cmd"
	t1=$(date +%s%N)
	cg_dump "$label" "$@" > "$R/$label.run"
	dt=$(( (t1 - t0) / 1000000 ))
	cg_zero "$@"
	sleep "$(awk -v d="$dt" 'BEGIN { printf "%.3f", d / 1000 }')"
	cg_dump idle "$@" > "$R/$label.idle"
	join "$R/$label.run" "$R/$label.idle" > "$R/$label.ir"
}

# ---- handover: the type5 reactive chain
if ctpd_boot chain pr nr s sp && ctpd_sa_add s "$HO" 10.201.0.0 ctpd_sa_tpl 4096 in "${CTPD_ADDR[s]}" 10.201.0.0 &&
	ctpd_sa_add s "$HO" 10.201.0.0 ctpd_sa_tpl 1052672 out "${CTPD_ADDR[s]}" 10.201.0.0 &&
	ctpd_keys 10.201.0.0 "$HO"; then
	measure handover "ctpd_many 10.201.0.0 $HO $RATE --timeout-ms 120000 --retry-ms 60000 > $R/handover.json" \
		pr nr s sp
	ok=$(ctpd_mn_rows "$R/handover.json" | awk '$8 == "ok"' | wc -l)
	ctpd_log "handover: $ok of $HO ok; $(tr '\n' ' ' < "$R/handover.ir")"
	: > "$R/ho.all"
	for n in pr nr s sp; do
		awk -v n="$n" -v k="$ok" '$1 == n && k > 0 { printf "%.0f\n", ($2 - $3) / k }' "$R/handover.ir" > "$R/ho.$n"
		cat "$R/ho.$n" >> "$R/ho.all"
		bench_emit "ctpd.profile.handover.ir.$n" instructions "$R/ho.$n" "$CMD" "Instructions (callgrind, user space) node $n executed per handover of the type5 reactive relay chain ($ok handovers at $RATE/s under valgrind, less an idle interval of the same length). Per-function profile: raw/ctpd_profile/handover.$n.annotate." "\"handovers\":$ok"
	done
	awk '{ s += $1 } END { if (NR == 4) printf "%.0f\n", s }' "$R/ho.all" > "$R/ho.sum"
	bench_emit ctpd.profile.handover.ir instructions "$R/ho.sum" "$CMD" "Instructions per handover of the type5 reactive relay chain, PR + NR + S + S' (callgrind, user space only: syscalls and wake-ups are not counted)." "\"handovers\":$ok"
else
	bench_not_measured ctpd.profile.handover.ir instructions "the chain did not come up under valgrind" "$CMD"
fi
ctpd_stop_all

# ---- bulk: S -> S' move-all
MNS=$((BULK / 2))
CTPD_LIMITS=""
if ctpd_boot bulk s sp && ctpd_sa_add s "$MNS" 10.100.0.0 ctpd_sa_tpl 4096 in "${CTPD_ADDR[s]}" 10.100.0.0 &&
	ctpd_sa_add s "$MNS" 10.100.0.0 ctpd_sa_tpl 1052672 out "${CTPD_ADDR[s]}" 10.100.0.0; then
	bulk_run() {
		local st
		ctpd_ctl s trigger move-all sp > "$R/bulk.trigger" 2>&1 || return
		for _ in $(seq 1500); do
			st=$(ctpd_ctl s status --json 2> /dev/null | tr -d ' \n')
			case $st in *'"state":"finished"'*) break ;; esac
			sleep 0.2
		done
		echo "$st" > "$R/bulk.status"
	}
	measure bulk bulk_run s sp
	c=$(sed -n 's/.*"committed":\([0-9]*\).*/\1/p' "$R/bulk.status")
	sas=$(( ${c:-0} * 2 ))
	ctpd_log "bulk: $sas SAs committed; $(tr '\n' ' ' < "$R/bulk.ir")"
	awk -v k="$sas" '$1 == "s" && k > 0 { printf "%.0f\n", ($2 - $3) / k }' "$R/bulk.ir" > "$R/bulk.src"
	awk -v k="$sas" '$1 == "sp" && k > 0 { printf "%.0f\n", ($2 - $3) / k }' "$R/bulk.ir" > "$R/bulk.snk"
	bench_emit ctpd.profile.bulk.ir_per_sa.source instructions "$R/bulk.src" "$CMD" "Instructions (callgrind) of the source SG per SA moved by move-all ($sas SAs, an in and an out SA per MN), less idle. Profile: raw/ctpd_profile/bulk.s.annotate." "\"sas\":$sas"
	bench_emit ctpd.profile.bulk.ir_per_sa.sink instructions "$R/bulk.snk" "$CMD" "Instructions (callgrind) of the receiving SG per SA moved. Profile: raw/ctpd_profile/bulk.sp.annotate." "\"sas\":$sas"
	cat "$R/bulk.src" "$R/bulk.snk" | awk '{ s += $1 } END { if (NR == 2) printf "%.0f\n", s }' > "$R/bulk.sum"
	bench_emit ctpd.profile.bulk.ir_per_sa instructions "$R/bulk.sum" "$CMD" "Instructions per SA moved in bulk, source and sink together (callgrind, user space only)." "\"sas\":$sas"
else
	bench_not_measured ctpd.profile.bulk.ir_per_sa instructions "the SGs did not come up under valgrind, or have no move-all" "$CMD"
fi
exit 0
