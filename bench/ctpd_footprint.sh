#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ctpd_footprint.sh: what holding many SAs costs (issue 8, 3): the
# resident memory of ctpd per SA in the mem SA database, and how handover
# latency and memory grow with the number of MNs a node holds.
#
# PR and NR on loopback (bench/ctpd/lib.sh, scenario "pr": the MNs' SAs are
# held by PR itself), TLS 1.3, mem SAD.  PR is filled in steps up to
# CTPD_FP_LEVELS MNs (1 1000 100000 1000000), one SA each: an inbound ESP
# tunnel SA whose peer is the MN and whose SELECTOR names the MN's address
# (AES-128-GCM, a 64-packet replay window), installed with the plugin's
# sa-add "count" in chunks.  At each level:
#   - PR's VmRSS (/proc) against its value before the first SA: bytes per MN
#     held (= per SA: one SA a MN);
#   - CTPD_FP_HO further MNs with an SA pair each hand over from PR to NR
#     (reactive, ctpmn many, CTPD_FP_RATE a second): the MN-side CTAR ->
#     CTAA latency.  Only these MNs' keys are loaded into PR (the key store
#     is not what is measured: loading a million keys through the control
#     socket would take minutes).
# Prints ctpd.footprint.bytes_per_sa (at the largest level: the issue's
# figure), ctpd.footprint.bytes_per_mn.<level>, ctpd.footprint.latency.<level>
# (µs), ctpd.footprint.install_us_per_sa (sa-add "count" time per SA).
#
# Knobs: CTPD_FP_LEVELS ("1 1000 100000 1000000"), CTPD_FP_HO (200),
# CTPD_FP_RUNS (2: fresh daemons each),
# CTPD_FP_RATE (250), CTPD_SA_CHUNK (100000 SAs a control request).
set -u
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ctpd/lib.sh
. "$BENCH_TOP/bench/ctpd/lib.sh"

LEVELS=${CTPD_FP_LEVELS:-1 1000 100000 1000000}
HO=${CTPD_FP_HO:-200}
RUNS=${CTPD_FP_RUNS:-2}
RATE=${CTPD_FP_RATE:-250}
CMD="bench/run.sh BUILD ctpd_footprint  # CTPD_FP_LEVELS=\"$LEVELS\" CTPD_FP_HO=$HO CTPD_FP_RUNS=$RUNS"
BG=10.0.0.0          # the MNs that stay (up to 16 M addresses)
HOBASE=10.201.0.0    # the MNs that hand over, a new block per level

ctpd_bench_init "$@" || {
	bench_not_measured ctpd.footprint.bytes_per_sa B "$CTPD_REASON" "$CMD"
	exit 0
}
R=$BENCH_RAW
: > "$R/install"
: > "$R/rss"
common="ctpd on loopback ($CTPD_NETNS), TLS 1.3, mem SAD; one inbound ESP tunnel SA a MN (AES-128-GCM, replay window 64, a SELECTOR for the MN), installed with sa-add \"count\"; $RUNS runs with fresh daemons, one sample per run (the latencies: every handover of every run)"
max=0
for L in $LEVELS; do : > "$R/bpm.$L"; : > "$R/lat.$L"; : > "$R/rss.$L"; done

# one run: fill PR level by level; at each level its RSS and the handovers
one_run() {
	local run=$1 held=0 spi=65536 level_no=0 L add t0 t1 rss rss0 hb
	if ! ctpd_boot pr pr nr; then
		ctpd_log "run $run: the daemons did not come up"
		return 1
	fi
	sleep 0.5
	rss0=$(ctpd_rss pr)
	for L in $LEVELS; do
		level_no=$((level_no + 1))
		add=$((L - held))
		if [ "$add" -gt 0 ]; then
			t0=$(date +%s%N)
			if ! ctpd_sa_add pr "$add" "$(ctpd_addr_add "$BG" "$held")" ctpd_sa_tpl "$spi" in \
				"${CTPD_ADDR[pr]}" "$(ctpd_addr_add "$BG" "$held")" sel "$(ctpd_addr_add "$BG" "$held")"; then
				ctpd_log "run $run: sa-add did not take $add SAs (raw/ctpd_footprint/pr.log)"
				break
			fi
			t1=$(date +%s%N)
			# (a handful of SAs is mostly ctpctl's own start-up)
			[ "$add" -ge 1000 ] &&
				awk -v t="$((t1 - t0))" -v n="$add" 'BEGIN { printf "%.6g\n", t / 1000 / n }' >> "$R/install"
			spi=$((spi + add))
			held=$L
		fi
		sleep 0.3
		rss=$(ctpd_rss pr)
		echo "$run $L $rss $rss0" >> "$R/rss"
		echo "$rss" >> "$R/rss.$L"
		awk -v r="$rss" -v r0="$rss0" -v n="$L" 'BEGIN { printf "%.6g\n", (r - r0) * 1024 / n }' >> "$R/bpm.$L"
		[ "$L" -gt "$max" ] && max=$L
		# the handovers at this level: their own MNs, an SA pair each
		hb=$(ctpd_addr_add "$HOBASE" $((level_no * 65536)))
		if ctpd_sa_add pr "$HO" "$hb" ctpd_sa_tpl $((spi)) in "${CTPD_ADDR[pr]}" "$hb" sel "$hb" &&
			ctpd_sa_add pr "$HO" "$hb" ctpd_sa_tpl $((spi + HO)) out "${CTPD_ADDR[pr]}" "$hb" sel "$hb" &&
			ctpd_keys "$hb" "$HO"; then
			spi=$((spi + 2 * HO))
			ctpd_gate "ctpd footprint run $run $L"
			ctpd_many "$hb" "$HO" "$RATE" > "$R/ho.$run.$L.json"
			ctpd_mn_rows "$R/ho.$run.$L.json" | awk '$8 == "ok" && $3 != "-" { print $3 }' >> "$R/lat.$L"
			ctpd_log "run $run, level $L: RSS $rss KiB (at start $rss0), $(wc -l < "$R/lat.$L") handovers ok so far"
		fi
	done
	ctpd_stop_all
}

for run in $(seq "$RUNS"); do one_run "$run"; done
for L in $LEVELS; do
	[ -s "$R/bpm.$L" ] || continue
	bench_emit "ctpd.footprint.bytes_per_mn.$L" B "$R/bpm.$L" "$CMD" "PR's resident memory (VmRSS) holding $L MNs' SAs, less its value before the first SA, divided by $L. $common." "\"rss_kib\":$(sort -n "$R/rss.$L" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'),$(ctpd_extra)"
	bench_emit "ctpd.footprint.latency.$L" us "$R/lat.$L" "$CMD" "Handover latency at the MN (reactive CTAR to NR -> CTAA, the MN's SAs held by PR: no SGs) while PR holds $L other MNs' SAs; $HO handovers a run at $RATE/s. $common." "$(ctpd_p99 "$R/lat.$L"),$(ctpd_extra)"
done
if [ "$max" -gt 0 ] && [ -s "$R/bpm.$max" ]; then
	cp "$R/bpm.$max" "$R/bps"
	bench_emit ctpd.footprint.bytes_per_sa B "$R/bps" "$CMD" "Resident memory of ctpd per SA in the mem SA database: (VmRSS holding $max SAs - VmRSS before) / $max. $common." "$(ctpd_extra)"
	bench_emit ctpd.footprint.install_us_per_sa us "$R/install" "$CMD" "Wall time of sa-add \"count\" per SA (control requests of up to ${CTPD_SA_CHUNK:-100000} SAs), one sample per level that adds at least 1000. $common." "$(ctpd_extra)"
else
	bench_not_measured ctpd.footprint.bytes_per_sa B "no level could be filled (raw/ctpd_footprint/pr.log)" "$CMD"
fi
exit 0
