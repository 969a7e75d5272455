#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/report.sh DIR: report.json and report.md from a report folder that
# bench/run.sh filled (machine.json, json/*.jsonl, timing.tsv, gate.log,
# <group>.prepare).  Can be re-run on an old folder.  sh and awk only: a
# fresh Debian has no python3.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(cd "${1:?usage: bench/report.sh DIR}" && pwd) || exit 2
files=()
for f in "$DIR/machine.json" "$DIR"/json/*.jsonl "$DIR/timing.tsv" "$DIR/gate.log" \
	"$DIR"/*.prepare "$TOP/bench/ike/reference.tsv"; do
	[ -f "$f" ] && files+=("$f")
done
REPORT_DIR=$DIR \
	REPORT_RADIO_RTT_MS=${REPORT_RADIO_RTT_MS:-20} \
	REPORT_BACKHAUL_RTT_MS=${REPORT_BACKHAUL_RTT_MS:-2} \
	awk "$(cat "$TOP/bench/lib/json.awk" "$TOP/bench/lib/report.awk")" "${files[@]}"
