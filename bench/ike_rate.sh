#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ike_rate.sh: IKEv2 setups per second and CPU per SA, load-tester
# self-loop (perf-anchors.md section 2.1).
#
# One charon drives load against itself with the plugin's own initiator
# threads (4 threads, 1 ms pacing, at most 64 half-open IKE_SAs: never the
# control socket, pitfall 2).  After a warm-up, each window of IKE_RATE_WIN_S
# seconds samples the "IKE_SA ... established" log lines (two per tunnel:
# both ends log), charon's utime+stime from /proc and the whole machine's
# busy time from /proc/stat.  rate = tunnels/s; CPU per SA = charon CPU /
# tunnels, both ends together; other = busy cores charon did not use.
# Only windows with other < BENCH_QUIET_CORES count; when fewer than 3 are
# quiet, all windows count and the object says so (quiet: false).
#   psk        PSK, x25519, each IKE_SA deleted as soon as it is up (steady
#              state: the SA table does not grow): ike.psk.*
#   ecdsa      ECDSA P-256 certificates, deleted likewise: ike.ecdsa.*
#   psk.kept   PSK, SAs kept (setup only): ike.psk.kept.*
# Knobs: IKE_RATE_RUNS (3 runs a variant), IKE_RATE_WARM_S (2 s of warm-up;
# IKE_RATE_WARM_CERT_S, 3, for certificates: perf-anchors pitfall 9),
# IKE_RATE_WIN_S (1), IKE_RATE_NWIN (6), IKE_PIN.
set -u
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ike/lib.sh
. "$BENCH_TOP/bench/ike/lib.sh"

RUNS=${IKE_RATE_RUNS:-3}
WARM=${IKE_RATE_WARM_S:-2}
WARM_CERT=${IKE_RATE_WARM_CERT_S:-3}
WIN=${IKE_RATE_WIN_S:-1}
NWIN=${IKE_RATE_NWIN:-6}
CMD="bench/run.sh BUILD ike_rate  # IKE_RATE_RUNS=$RUNS IKE_RATE_WARM_S=$WARM IKE_RATE_WARM_CERT_S=$WARM_CERT IKE_RATE_WIN_S=$WIN IKE_RATE_NWIN=$NWIN"
VARIANTS="psk ecdsa psk.kept"

not_measured_all() {
	local v
	for v in $VARIANTS; do
		bench_not_measured "ike.$v.setups_per_s" SAs/s "IKEv2 side not measured: $1" "$CMD"
		bench_not_measured "ike.$v.cpu_per_sa" ms "IKEv2 side not measured: $1" "$CMD"
	done
	exit 0
}

ike_prepare || not_measured_all "$IKE_REASON"
ike_enter_netns "$@"
if [ "${IKE_IN_NETNS:-}" != 1 ] && ike_port500_busy; then
	not_measured_all "UDP port 500 is in use and no network namespace could be made"
fi
trap ike_cleanup EXIT
trap 'exit 143' TERM INT

# Rate configurations: 4 initiator threads, 1 ms pacing, <= 64 half-open.
ike_mkconf d-psk aes128gcm16-prfsha256-x25519 aes128gcm16 psk yes 4 100000 1 64
ike_mkconf d-ecdsa aes128gcm16-prfsha256-x25519 aes128gcm16 pubkey yes 4 100000 1 64
ike_mkconf r-psk aes128gcm16-prfsha256-x25519 aes128gcm16 psk no 4 100000 1 64
ECDSA=$(ike_pki ecdsa)
TCK=$(getconf CLK_TCK)

# rate NAME CREDS|- OUT: one run; window lines to OUT.
rate() {
	local name=$1 creds=$2 out=$3 warm=$4 w prev cur
	ike_charon_start "$name" || return 1
	# The initiators start as soon as the plugin loads: the first
	# certificate SAs stall half-open until half_open_timeout (2 s) because
	# the credentials come a moment later (pitfall 9); the warm-up covers it.
	if [ "$creds" != - ]; then
		ike_load_creds "$name" "$creds" || bench_log "loading credentials failed"
	fi
	sample() {
		echo "$(date +%s%N) $(bench_proc_jiffies "$IKE_PID")" \
			"$(grep -c 'IKE_SA load-test\[[0-9]*\] established' "$IKE_W/logs/$name.log")" \
			"$(bench_busy_jiffies)"
	}
	sleep "$warm"
	prev=$(sample)
	: > "$out"
	for w in $(seq "$NWIN"); do
		sleep "$WIN"
		cur=$(sample)
		echo "$prev $cur" | awk -v tck="$TCK" -v w="$w" '{
			dt = ($5 - $1) / 1e9; dc = ($6 - $2) / tck; n = ($7 - $3) / 2
			other = (($8 - $4) / tck - dc) / dt
			printf "win %d dt_s %.3f tunnels %d rate_per_s %.1f charon_cpu_s %.3f cpu_ms_per_sa %.4f other_cores %.2f\n",
				w, dt, n, n / dt, dc, (n > 0 ? dc * 1000 / n : -1), other }' >> "$out"
		prev=$cur
	done
	echo "# charon RSS kB $(awk '/VmRSS/ { print $2 }' "/proc/$IKE_PID/status")" >> "$out"
	ike_charon_stop now
	# the log of a run with SAs kept is large; the window lines are the data
	rm -f "$IKE_W/logs/$name.log"
}

S=$IKE_W/samples
mkdir -p "$S"
rm -f "$S"/*
for r in $(seq "$RUNS"); do
	for v in $VARIANTS; do
		case $v in
		psk) name=d-psk creds=- warm=$WARM ;;
		ecdsa) name=d-ecdsa creds=$ECDSA warm=$WARM_CERT ;;
		psk.kept) name=r-psk creds=- warm=$WARM ;;
		esac
		bench_gate "ike_rate/$v/$r"
		bench_log "run $r/$RUNS: $v"
		out=$IKE_W/$v-$r.win
		rate "$name" "$creds" "$out" "$warm" || { bench_log "run $r $v failed"; continue; }
		awk '/^win/ { printf "%s %s %s %s\n", $8, $12, $14, $6 }' "$out" >> "$S/$v.win"
		bench_log "  $(awk '/^win/ { r = r " " int($8) } END { print "setups/s:" r }' "$out"); other load $(awk '/^win/ { printf "%s ", $14 }' "$out")"
	done
done

for v in $VARIANTS; do
	f=$S/$v.win
	[ -f "$f" ] || : > "$f"
	nq=$(awk -v q="$BENCH_QUIET_CORES" '$4 > 0 && $3 < q { n++ } END { print n + 0 }' "$f")
	nall=$(awk '$4 > 0 { n++ } END { print n + 0 }' "$f")
	if [ "$nq" -ge 3 ]; then
		awk -v q="$BENCH_QUIET_CORES" '$4 > 0 && $3 < q { print $1 > "/dev/stderr"; print $2 }' "$f" \
			2> "$S/$v.rate" > "$S/$v.cpu"
		quiet=true
		sel="$nq quiet windows of $nall (other load < $BENCH_QUIET_CORES cores)"
	else
		awk '$4 > 0 { print $1 > "/dev/stderr"; print $2 }' "$f" 2> "$S/$v.rate" > "$S/$v.cpu"
		quiet=false
		sel="all $nall windows: only $nq had other load < $BENCH_QUIET_CORES cores, so the machine was NOT quiet and these figures are low"
	fi
	other=$(awk '$4 > 0 { print $3 }' "$f" | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "null" }')
	extra="\"quiet\":$quiet,$(bench_gate_json),\"other_cores\":$other,\"runs\":$RUNS,\"windows\":$nall,\"quiet_windows\":$nq"
	case $v in
	psk) what="IKE_SA + first CHILD_SA, PSK, IKE aes128gcm16-prfsha256-x25519, ESP aes128gcm16, each IKE_SA deleted right after it is up (setup + delete)" ;;
	ecdsa) what="IKE_SA + first CHILD_SA, ECDSA P-256 certificates, IKE aes128gcm16-prfsha256-x25519, ESP aes128gcm16, each IKE_SA deleted right after it is up (setup + delete)" ;;
	psk.kept) what="IKE_SA + first CHILD_SA, PSK, x25519, SAs kept (setup only; the SA table grows during the run)" ;;
	esac
	where="load-tester self-loop on 127.0.0.1, both ends in one charon ($IKE_STRONGSWAN), fake kernel, 4 initiator threads, init_limit 64, in $IKE_NETNS; $RUNS runs x $NWIN windows of $WIN s after a warm-up of $WARM s ($WARM_CERT s with certificates); $sel"
	bench_emit "ike.$v.setups_per_s" SAs/s "$S/$v.rate" "$CMD" "$what; $where" "$extra"
	bench_emit "ike.$v.cpu_per_sa" ms "$S/$v.cpu" "$CMD" "$what; charon CPU (utime+stime) per tunnel, initiator and responder together; $where" "$extra"
done
