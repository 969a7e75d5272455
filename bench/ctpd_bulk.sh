#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ctpd_bulk.sh: a whole gateway's fail-over (issue 8, 2): every SA of
# one SG moved to another with `ctpctl trigger move-all`.
#
# Two ctpd processes on loopback (bench/ctpd/lib.sh), S and S', SGs and
# peers of each other, TLS 1.3, mem SAD.  S holds CTPD_BULK_SAS SAs (100000)
# of CTPD_BULK_SAS / 2 MNs, an in and an out SA each (AES-128-GCM, ESP
# tunnel, installed with sa-add "count"); then `ctpctl -s S trigger move-all
# S'` and the engine moves one MN per transfer (CTD, CTDR), at most
# min(transfers, transfers-per-peer) / 2 at a time (the defaults: 512), until
# `ctpctl status --json` says the batch has finished.  The limits are the
# daemon's defaults.  CTPD_BULK_RUNS runs (2), each with fresh daemons.
#
# Prints per run:
#   ctpd.bulk.sas_per_s        SAs committed / the batch's own elapsed time
#   ctpd.bulk.cpu_per_sa       CPU (user + system) of both daemons over the
#                              batch / SAs, ms (both ends together)
#   ctpd.bulk.cpu_per_sa.source, .sink   each side, µs
#   ctpd.bulk.wire_bytes_per_sa   what crossed loopback (IP packets: UDP,
#                              SCTP, TLS, CXTP, SACKs, both ways) / SAs,
#                              when the script has loopback to itself
#   ctpd.bulk.cxtp_bytes_per_sa   CXTP octets both ways / SAs (ctpctl stats)
#   ctpd.bulk.cpu_sys_pct      the kernel's share of that CPU time, %
# Knobs: CTPD_BULK_SAS (100000), CTPD_BULK_RUNS (2), CTPD_BULK_TIMEOUT_S
# (240), CTPD_LIMITS (the <limits> attributes; default: the daemon's).
set -u
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ctpd/lib.sh
. "$BENCH_TOP/bench/ctpd/lib.sh"

SAS=${CTPD_BULK_SAS:-100000}
RUNS=${CTPD_BULK_RUNS:-2}
TMO=${CTPD_BULK_TIMEOUT_S:-240}
CTPD_LIMITS=${CTPD_LIMITS-}
MNS=$((SAS / 2))
SAS=$((MNS * 2))
CMD="bench/run.sh BUILD ctpd_bulk  # CTPD_BULK_SAS=$SAS CTPD_BULK_RUNS=$RUNS"
BASE=10.100.0.0
FIG="ctpd.bulk.sas_per_s SAs/s
ctpd.bulk.cpu_per_sa ms
ctpd.bulk.cpu_per_sa.source us
ctpd.bulk.cpu_per_sa.sink us
ctpd.bulk.wire_bytes_per_sa B
ctpd.bulk.cxtp_bytes_per_sa B"

not_measured_all() {
	local name unit
	while read -r name unit; do
		bench_not_measured "$name" "$unit" "$1" "$CMD"
	done <<< "$FIG"
	exit 0
}

ctpd_bench_init "$@" || not_measured_all "$CTPD_REASON"
if ! grep -q 'move-all' <("$CTPD_CTL" --help 2>&1); then
	not_measured_all "this ctpctl has no \"trigger move-all\" (the fail-over command has not landed)"
fi
R=$BENCH_RAW
HZ=$(getconf CLK_TCK)
for f in sps cpu src snk wire cxtp sys; do : > "$R/$f"; done

# lo's transmitted octets (every packet between the daemons crosses it once)
lo_tx() {
	awk '$1 == "lo:" { print $10 }' /proc/net/dev
}

stat_bytes() {   # node: CXTP octets in + out
	ctpd_ctl "$1" stats --json 2> /dev/null | tr -d ' \n' |
		awk '{ i = 0; o = 0
			if (match($0, /"bytes_in":[0-9]+/)) i = substr($0, RSTART + 11, RLENGTH - 11)
			if (match($0, /"bytes_out":[0-9]+/)) o = substr($0, RSTART + 12, RLENGTH - 12)
			print i + o }'
}

field() {   # json-one-line key
	echo "$1" | awk -v k="\"$2\":" '{ i = index($0, k); if (!i) { print ""; exit }
		s = substr($0, i + length(k)); gsub(/^"/, "", s); sub(/[",}].*/, "", s); print s }'
}

for run in $(seq "$RUNS"); do
	ctpd_log "run $run: $SAS SAs of $MNS MNs at S, move-all to S'"
	if ! ctpd_boot bulk s sp; then
		ctpd_log "run $run: the daemons did not come up"
		continue
	fi
	if ! ctpd_sa_add s "$MNS" "$BASE" ctpd_sa_tpl 4096 in "${CTPD_ADDR[s]}" "$BASE" ||
		! ctpd_sa_add s "$MNS" "$BASE" ctpd_sa_tpl 1052672 out "${CTPD_ADDR[s]}" "$BASE"; then
		ctpd_stop_all
		continue
	fi
	ctpd_gate "ctpd bulk run $run"
	b0=$(( $(stat_bytes s) + $(stat_bytes sp) ))
	w0=$(lo_tx)
	cs0=$(ctpd_cpu s) ck0=$(ctpd_cpu sp)
	sy0=$(( $(ctpd_sys s) + $(ctpd_sys sp) ))
	out=$(ctpd_ctl s trigger move-all sp 2>&1)
	ctpd_log "run $run: $out"
	st=""
	for _ in $(seq $((TMO * 5))); do
		st=$(ctpd_ctl s status --json 2> /dev/null | tr -d ' \n')
		[ "$(field "$st" state)" = finished ] && break
		sleep 0.2
	done
	cs1=$(ctpd_cpu s) ck1=$(ctpd_cpu sp)
	sy1=$(( $(ctpd_sys s) + $(ctpd_sys sp) ))
	w1=$(lo_tx)
	b1=$(( $(stat_bytes s) + $(stat_bytes sp) ))
	echo "$st" > "$R/status.$run.json"
	if [ "$(field "$st" state)" != finished ]; then
		ctpd_log "run $run: the batch did not finish within $TMO s: $st"
		ctpd_stop_all
		continue
	fi
	committed=$(field "$st" committed)
	ms=$(field "$st" elapsed_ms)
	sas_moved=$((committed * 2))
	ctpd_log "run $run: $committed MNs committed in $ms ms, failed $(field "$st" failed), skipped $(field "$st" skipped)"
	if [ "$sas_moved" -gt 0 ] && [ "${ms:-0}" -gt 0 ]; then
		awk -v n="$sas_moved" -v ms="$ms" 'BEGIN { printf "%.6g\n", n / (ms / 1000) }' >> "$R/sps"
		awk -v a="$((cs1 - cs0))" -v b="$((ck1 - ck0))" -v n="$sas_moved" -v hz="$HZ" \
			'BEGIN { printf "%.6g\n", (a + b) / hz * 1000 / n }' >> "$R/cpu"
		awk -v a="$((cs1 - cs0))" -v n="$sas_moved" -v hz="$HZ" 'BEGIN { printf "%.6g\n", a / hz * 1e6 / n }' >> "$R/src"
		awk -v b="$((ck1 - ck0))" -v n="$sas_moved" -v hz="$HZ" 'BEGIN { printf "%.6g\n", b / hz * 1e6 / n }' >> "$R/snk"
		awk -v b="$((b1 - b0))" -v n="$sas_moved" 'BEGIN { printf "%.6g\n", b / 2 / n }' >> "$R/cxtp"
		awk -v y="$((sy1 - sy0))" -v t="$((cs1 - cs0 + ck1 - ck0))" 'BEGIN { if (t > 0) printf "%.3g\n", y / t * 100 }' >> "$R/sys"
		[ "${CTPD_IN_NETNS:-}" = 1 ] &&
			awk -v b="$((w1 - w0))" -v n="$sas_moved" 'BEGIN { printf "%.6g\n", b / n }' >> "$R/wire"
	fi
	ctpd_stop_all
done

common="$SAS SAs ($MNS MNs, an in and an out SA each, AES-128-GCM) moved from one SG to another with ctpctl trigger move-all; two ctpd processes on loopback ($CTPD_NETNS), usrsctp, TLS 1.3, mem SAD, the engine's default pacing (at most half of min(transfers, transfers-per-peer) at a time), log level ${CTPD_LOG:-notice}; one sample per run"
bench_emit ctpd.bulk.sas_per_s SAs/s "$R/sps" "$CMD" "SAs committed per second of the batch (its elapsed_ms in ctpctl status). $common." "$(ctpd_extra)"
bench_emit ctpd.bulk.cpu_per_sa ms "$R/cpu" "$CMD" "CPU time (user + system, /proc) of both daemons over the batch, per SA moved: source and sink together. $common." "$(ctpd_extra)"
bench_emit ctpd.bulk.cpu_sys_pct % "$R/sys" "$CMD" "The kernel's share (system time) of both daemons' CPU time over the batch, percent; the rest is user space, which ctpd_profile counts in instructions. $common." "$(ctpd_extra)"
bench_emit ctpd.bulk.cpu_per_sa.source us "$R/src" "$CMD" "CPU time of the source SG per SA moved. $common." "$(ctpd_extra)"
bench_emit ctpd.bulk.cpu_per_sa.sink us "$R/snk" "$CMD" "CPU time of the receiving SG per SA moved. $common." "$(ctpd_extra)"
if [ "${CTPD_IN_NETNS:-}" = 1 ]; then
	bench_emit ctpd.bulk.wire_bytes_per_sa B "$R/wire" "$CMD" "Octets of every IP packet on the private loopback during the batch (UDP, SCTP with its SACKs, TLS records, CXTP), both directions, per SA moved. $common." "$(ctpd_extra)"
else
	bench_not_measured ctpd.bulk.wire_bytes_per_sa B "the script could not have a network namespace of its own (loopback carries other traffic)" "$CMD"
fi
bench_emit ctpd.bulk.cxtp_bytes_per_sa B "$R/cxtp" "$CMD" "CXTP octets (the messages themselves: CTD with the SA CDBs, CTDR) both ways per SA moved, from ctpctl stats. $common." "$(ctpd_extra)"
exit 0
