#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/run.sh BUILD [NAME...]: run the benchmarks and write their report.
#
# Called by `make bench` (after `make deps all`).  Creates the report folder
# bench/results/YYYY-MM-DD-HHMMSS-<host>/, records the machine and the
# versions, runs each group's prepare step (bench/<group>/prepare.sh BUILD,
# e.g. the strongSwan build of the IKEv2 side), then every benchmark script
# bench/<group>_<name>.sh (or only the NAMEs given, e.g. ike_rate), and
# merges what they printed into report.json and report.md (bench/report.sh).
# bench/README.md describes the contract between this driver and the
# scripts.
#
# A benchmark that fails or cannot measure is reported as "not measured"
# with its reason; the run goes on.  Exit status: 0 when a report was
# written.
#
# Knobs: BENCH_SCRIPT_TIMEOUT (600 s a script), the gate's BENCH_QUIET_CORES,
# BENCH_QUIET_SAMPLE_S, BENCH_GATE_MAX, BENCH_GATE_BUDGET (bench/lib/common.sh),
# REPORT_RADIO_RTT_MS (20), REPORT_BACKHAUL_RTT_MS (2).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
BUILD=$(cd "${1:-build}" 2> /dev/null && pwd) || {
	echo "bench/run.sh: no build directory ${1:-build} (run make first)" >&2
	exit 2
}
shift
TIMEOUT=${BENCH_SCRIPT_TIMEOUT:-600}

host=$(uname -n)
host=${host%%.*}
stamp=$(date +%Y-%m-%d-%H%M%S)
export BENCH_TOP=$TOP BENCH_BUILD=$BUILD BENCH_DIR=$TOP/bench/results/$stamp-$host
mkdir -p "$BENCH_DIR/json" "$BENCH_DIR/raw"
BENCH_RAW=$BENCH_DIR/raw/run
. "$TOP/bench/lib/common.sh"
: > "$BENCH_DIR/timing.tsv"
: > "$BENCH_DIR/gate.log"
exec 3>&2 2> >(tee -a "$BENCH_DIR/run.log" >&3)

say() {
	printf 'bench: %s\n' "$*" >&2
}

# phase NAME DETAIL SECONDS STATUS: one line of "where the time went".
phase() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$3" "$4" "$2" >> "$BENCH_DIR/timing.tsv"
}

# The benchmarks: bench/<group>_<name>.sh, or the names given.
scripts=()
if [ $# -gt 0 ]; then
	for n in "$@"; do
		n=${n%.sh}
		n=${n#bench/}
		if [ -x "bench/$n.sh" ] && [[ $n == *_* ]]; then
			scripts+=("bench/$n.sh")
		else
			say "no benchmark bench/$n.sh"
			exit 2
		fi
	done
else
	for f in bench/*_*.sh; do
		[ -x "$f" ] && scripts+=("$f")
	done
fi
say "report folder $BENCH_DIR"
say "benchmarks: ${scripts[*]:-none}"

# ---- the machine and the versions -----------------------------------------
t0=$(date +%s)
pkgver() {
	dpkg-query -W -f='${Version}' "$1" 2> /dev/null || echo "not installed"
}
rev=$(git -C "$TOP" rev-parse --short=12 HEAD 2> /dev/null || echo unknown)
dirty=$(git -C "$TOP" status --porcelain --untracked-files=no 2> /dev/null | wc -l)
[ "$dirty" -gt 0 ] && rev="$rev + $dirty uncommitted changes"
busy=$(bench_busy_cores 1)
{
	echo "started	$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host	$host"
	echo "cpu_model	$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "cpu_family_model	$(awk -F': ' '/^cpu family/ { f = $2 } /^model\t/ { m = $2 } END { print "family " f ", model " m }' /proc/cpuinfo)"
	echo "cpus	$(nproc)"
	echo "cpu_features	$(grep -m1 -o -w -E 'aes|vaes|avx2|avx512f|sha_ni|hypervisor' /proc/cpuinfo | sort -u | tr '\n' ' ')"
	echo "memory	$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel	$(uname -r) $(uname -m)"
	echo "cpuidle	$(cat /sys/devices/system/cpu/cpuidle/current_driver 2> /dev/null || echo unknown)"
	echo "os	$(awk -F= '$1 == "PRETTY_NAME" { gsub(/"/, "", $2); print $2 }' /etc/os-release)"
	echo "debian	$(cat /etc/debian_version 2> /dev/null || echo not Debian)"
	echo "busy_cores_at_start	$busy"
	echo "loadavg_at_start	$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "git_revision	$rev"
	echo "openssl	$(pkgver openssl) ($(openssl version 2> /dev/null))"
	echo "libssl3	$(pkgver libssl3)"
	echo "strongswan_debian	$(pkgver strongswan-charon) (Debian's package, not used: it has no load-tester)"
	echo "libuv1	$(pkgver libuv1)"
	echo "libusrsctp2	$(pkgver libusrsctp2)"
	echo "tcpdump	$(pkgver tcpdump)"
	echo "tshark	$(pkgver tshark)"
	echo "gcc	$(gcc -dumpfullversion 2> /dev/null || echo none)"
	echo "quiet_gate	< $BENCH_QUIET_CORES busy cores over $BENCH_QUIET_SAMPLE_S s, at most $BENCH_GATE_MAX s a gate and $BENCH_GATE_BUDGET s for all gates of a group"
	echo "radio_rtt_ms	${REPORT_RADIO_RTT_MS:-20}"
	echo "backhaul_rtt_ms	${REPORT_BACKHAUL_RTT_MS:-2}"
} > "$BENCH_DIR/machine.tsv"
bench_awk '{ i = index($0, "\t"); k[++n] = substr($0, 1, i - 1); v[n] = substr($0, i + 1) }
	END {
		out = "{"
		for (j = 1; j <= n; j++) out = out (j > 1 ? "," : "") json_str(k[j]) ":" json_str(v[j])
		print out "}"
	}' "$BENCH_DIR/machine.tsv" > "$BENCH_DIR/machine.json"
phase machine "machine and versions" $(($(date +%s) - t0)) ok

# ---- prepare steps ---------------------------------------------------------
groups=$(for s in "${scripts[@]}"; do b=${s#bench/}; echo "${b%%_*}"; done | sort -u)
for g in $groups; do
	[ -x "bench/$g/prepare.sh" ] || continue
	say "prepare $g: bench/$g/prepare.sh (cached after the first run)"
	t0=$(date +%s)
	verdict=$(timeout "$TIMEOUT" "bench/$g/prepare.sh" "$BUILD" 2>> "$BENCH_DIR/run.log" | tail -1)
	[ -n "$verdict" ] || verdict="fail bench/$g/prepare.sh printed no verdict (timed out after ${TIMEOUT}s?)"
	echo "$verdict" > "$BENCH_DIR/$g.prepare"
	say "prepare $g: $verdict"
	phase "prepare $g" "${verdict#* }" $(($(date +%s) - t0)) "${verdict%% *}"
done

# ---- the benchmarks --------------------------------------------------------
for s in "${scripts[@]}"; do
	b=$(basename "$s" .sh)
	out=$BENCH_DIR/json/$b.jsonl
	say "run $s"
	t0=$(date +%s)
	BENCH_RAW=$BENCH_DIR/raw/$b timeout "$TIMEOUT" "$s" > "$out.tmp"
	rc=$?
	# Keep only JSON objects with a name; report anything else.
	bench_awk '{ if (json_parse($0) && ("name" in J)) print; else if ($0 !~ /^[ \t]*$/) bad++ }
		END { if (bad) printf "%d lines that are not JSON objects with a name\n", bad > "/dev/stderr" }' \
		"$out.tmp" > "$out" 2> "$out.bad"
	n=$(wc -l < "$out")
	status=ok
	detail="$n figures"
	if [ "$rc" != 0 ]; then
		status="exit $rc"
		[ "$rc" = 124 ] && status="timed out after ${TIMEOUT}s"
	fi
	if [ -s "$out.bad" ]; then
		detail="$detail; $(cat "$out.bad")"
		cp "$out.tmp" "$BENCH_DIR/raw/$b.stdout"
	fi
	if [ "$n" = 0 ]; then
		bench_not_measured "$b" "" "$s printed no figures ($status)" "bench/run.sh BUILD $b" >> "$out"
	fi
	rm -f "$out.tmp" "$out.bad"
	nm=$(grep -c '"status":"not measured"' "$out")
	[ "$nm" -gt 0 ] && detail="$detail, $nm not measured"
	phase "$b" "$detail" $(($(date +%s) - t0)) "$status"
	say "$b: $detail ($status, $(($(date +%s) - t0)) s)"
done

# ---- the report ------------------------------------------------------------
phase report "bench/report.sh" 0 ok
"$TOP/bench/report.sh" "$BENCH_DIR" || exit 1
say "report: $BENCH_DIR/report.md and report.json"
# the headline on the terminal: the ratios and the projection
awk '/^## / { show = ($2 == "1." || $2 == "3.") } NR < 6 || show' "$BENCH_DIR/report.md" >&2
