# shellcheck shell=bash
# bench/lib/common.sh: sourced by bench/run.sh and by every benchmark script.
#
# The contract (bench/README.md has it in full): a benchmark script
# bench/<group>_<name>.sh prints JSON objects on stdout, one per line, and
# nothing else there; progress goes to stderr.  bench_emit writes such an
# object from a file of samples, bench_not_measured one that says why a
# figure is missing.  bench_gate is the quiet-machine gate of
# perf-anchors.md section 2.1: wait, for a bounded time, until the whole
# machine is nearly idle.
#
# Environment, set by bench/run.sh (defaults allow running a script alone):
#   BENCH_TOP    the project's top directory
#   BENCH_BUILD  the project's build directory (make's $(B))
#   BENCH_DIR    the report folder of this run
#   BENCH_RAW    where this script keeps its raw logs
# Knobs: BENCH_QUIET_CORES (0.15) busy cores below which the machine counts
# as quiet, BENCH_QUIET_SAMPLE_S (1) the sampling interval, BENCH_GATE_MAX
# (20) seconds one gate waits at most, BENCH_GATE_BUDGET (60) seconds all
# gates of one group (ike, ctpd: the part of a script's name before "_") may
# wait together in a run (the anchors waited up to 300 s a gate; `make
# bench` has 15 minutes in all).

BENCH_TOP=${BENCH_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BENCH_BUILD=${BENCH_BUILD:-$BENCH_TOP/build}
BENCH_DIR=${BENCH_DIR:-$BENCH_BUILD/bench/adhoc}
BENCH_RAW=${BENCH_RAW:-$BENCH_DIR/raw/$(basename "$0" .sh)}
BENCH_QUIET_CORES=${BENCH_QUIET_CORES:-0.15}
BENCH_QUIET_SAMPLE_S=${BENCH_QUIET_SAMPLE_S:-1}
BENCH_GATE_MAX=${BENCH_GATE_MAX:-20}
BENCH_GATE_BUDGET=${BENCH_GATE_BUDGET:-60}
BENCH_GROUP=$(basename "$0" .sh)
BENCH_GROUP=${BENCH_GROUP%%_*}
BENCH_JSON_AWK=$BENCH_TOP/bench/lib/json.awk
export BENCH_TOP BENCH_BUILD BENCH_DIR BENCH_QUIET_CORES BENCH_QUIET_SAMPLE_S \
	BENCH_GATE_MAX BENCH_GATE_BUDGET
mkdir -p "$BENCH_RAW"

# Gates this script passed and gave up on; bench_quiet_json reports them.
BENCH_GATES=0
BENCH_GATES_GAVE_UP=0

bench_log() {
	printf '  %s: %s\n' "$(basename "$0" .sh)" "$*" >&2
}

# Busy jiffies of the whole machine (user nice system irq softirq steal).
bench_busy_jiffies() {
	awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# CPU jiffies (utime + stime) a process has used so far.
bench_proc_jiffies() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2> /dev/null || echo 0
}

# bench_busy_cores SECONDS: how many cores were busy, on average, over SECONDS.
bench_busy_cores() {
	local a b
	a=$(bench_busy_jiffies)
	sleep "$1"
	b=$(bench_busy_jiffies)
	awk -v a="$a" -v b="$b" -v t="$1" -v tck="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.2f\n", (b - a) / tck / t }'
}

# bench_gate LABEL: wait until the machine is quiet.  Returns 0 when it is,
# 1 when the gate gave up (this gate's limit or the group's budget spent).
# Every gate leaves a line in $BENCH_DIR/gate.log; the report counts them.
bench_gate() {
	local label=$1 start now spent busy waited limit
	start=$(date +%s)
	spent=$(cat "$BENCH_DIR/gate.$BENCH_GROUP.spent" 2> /dev/null || echo 0)
	limit=$((BENCH_GATE_BUDGET - spent))
	[ "$limit" -gt "$BENCH_GATE_MAX" ] && limit=$BENCH_GATE_MAX
	BENCH_GATES=$((BENCH_GATES + 1))
	while :; do
		busy=$(bench_busy_cores "$BENCH_QUIET_SAMPLE_S")
		now=$(date +%s)
		waited=$((now - start))
		if awk -v b="$busy" -v t="$BENCH_QUIET_CORES" 'BEGIN { exit !(b < t) }'; then
			echo "$now $label quiet $busy ${waited}s" >> "$BENCH_DIR/gate.log"
			break
		fi
		if [ "$waited" -ge "$limit" ]; then
			echo "$now $label gave-up $busy ${waited}s" >> "$BENCH_DIR/gate.log"
			bench_log "gate $label: still $busy cores busy after ${waited}s; measuring anyway"
			BENCH_GATES_GAVE_UP=$((BENCH_GATES_GAVE_UP + 1))
			echo $((spent + waited)) > "$BENCH_DIR/gate.$BENCH_GROUP.spent"
			return 1
		fi
		sleep 1
	done
	echo $((spent + waited)) > "$BENCH_DIR/gate.$BENCH_GROUP.spent"
	return 0
}

# The gate fields of an object: "gates":N,"gates_gave_up":M
bench_gate_json() {
	printf '"gates":%d,"gates_gave_up":%d' "$BENCH_GATES" "$BENCH_GATES_GAVE_UP"
}

# bench_awk PROGRAM [FILE...]: awk with bench/lib/json.awk's functions
# (mawk takes no -e beside -f, so the texts are joined).  Values go in
# through the environment (ENVIRON), which, unlike -v, keeps backslashes.
bench_awk() {
	local prog=$1
	shift
	awk "$(cat "$BENCH_JSON_AWK")
$prog" "$@"
}

# bench_emit NAME UNIT SAMPLES_FILE COMMAND NOTES [EXTRA]
# One object from a file with one sample per line.  EXTRA is a fragment of
# further members, without braces ("quiet":true,"other_cores":0.04).
# No samples: the figure is not measured, and NOTES says why.
bench_emit() {
	BE_NAME=$1 BE_UNIT=$2 BE_CMD=$4 BE_NOTES=$5 BE_EXTRA=${6:-} bench_awk '
		$1 ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ { s[++n] = $1 + 0 }
		END {
			out = "{\"name\":" json_str(ENVIRON["BE_NAME"]) \
				",\"unit\":" json_str(ENVIRON["BE_UNIT"])
			if (n == 0) {
				out = out ",\"status\":\"not measured\",\"reason\":" \
					json_str("no samples") ",\"n\":0,\"samples\":[]"
			} else {
				list = ""
				for (i = 1; i <= n; i++)
					list = list (i > 1 ? "," : "") sprintf("%.6g", s[i])
				stats_sort(s, n)
				out = out ",\"status\":\"ok\"" \
					",\"median\":" sprintf("%.6g", stats_q(s, n, 0.5)) \
					",\"p10\":" sprintf("%.6g", stats_q(s, n, 0.1)) \
					",\"p90\":" sprintf("%.6g", stats_q(s, n, 0.9)) \
					",\"min\":" sprintf("%.6g", s[1]) \
					",\"max\":" sprintf("%.6g", s[n]) \
					",\"n\":" n ",\"samples\":[" list "]"
			}
			out = out ",\"command\":" json_str(ENVIRON["BE_CMD"]) \
				",\"notes\":" json_str(ENVIRON["BE_NOTES"])
			if (ENVIRON["BE_EXTRA"] != "") out = out "," ENVIRON["BE_EXTRA"]
			print out "}"
		}' "$3"
}

# bench_not_measured NAME UNIT REASON COMMAND [NOTES]
bench_not_measured() {
	BE_NAME=$1 BE_UNIT=$2 BE_REASON=$3 BE_CMD=$4 BE_NOTES=${5:-} bench_awk 'BEGIN {
		print "{\"name\":" json_str(ENVIRON["BE_NAME"]) \
			",\"unit\":" json_str(ENVIRON["BE_UNIT"]) \
			",\"status\":\"not measured\",\"reason\":" json_str(ENVIRON["BE_REASON"]) \
			",\"n\":0,\"samples\":[],\"command\":" json_str(ENVIRON["BE_CMD"]) \
			",\"notes\":" json_str(ENVIRON["BE_NOTES"]) "}"
	}'
}
