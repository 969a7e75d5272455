#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ike_exchanges.sh: IKEv2 per-exchange latency, messages and bytes,
# from a capture on loopback (perf-anchors.md section 2.2).
#
# One charon (load-tester, fake kernel) sets up IKE_SAs with itself, one
# every IKE_XCHG_DELAY_MS, while tcpdump captures UDP 500/4500 on lo; then
# every initiator-side CHILD_SA is rekeyed in turn with `swanctl --rekey`
# (the fake kernel sends no expire event, so child_rekey does nothing:
# pitfall 4).  tshark dumps the IKE header fields; bench/ike/xchg.awk pairs
# requests with responses.  Three variants, IKE_XCHG_REPS runs each, every
# run behind the quiet gate:
#   psk     IKE aes128gcm16-prfsha256-x25519, PSK; then CHILD_SA rekeys
#           without PFS (ESP aes128gcm16)
#   pfs     the same with ESP aes128gcm16-x25519: CHILD_SA rekeys with PFS
#           (its establishments are not counted: a different proposal)
#   ecdsa   ECDSA P-256 certificates (CA + srv + client, SHA-256)
# Prints: ike.{psk,ecdsa}.establish.{latency,bytes,messages,round_trips},
# ike.rekey.{child,child_pfs}.{latency,total_latency,bytes,messages}.
#
# Knobs: IKE_XCHG_REPS (3), IKE_XCHG_N (30 IKE_SAs a run), IKE_XCHG_DELAY_MS
# (100; the anchors used 150: either keeps each exchange alone on the wire,
# as one takes 1-5 ms), IKE_REKEY_GAP_S (0.1), IKE_PIN (e.g. "taskset -c 0").
set -u
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ike/lib.sh
. "$BENCH_TOP/bench/ike/lib.sh"

REPS=${IKE_XCHG_REPS:-3}
N=${IKE_XCHG_N:-30}
DELAY=${IKE_XCHG_DELAY_MS:-100}
GAP=${IKE_REKEY_GAP_S:-0.1}
CMD="bench/run.sh BUILD ike_exchanges  # IKE_XCHG_REPS=$REPS IKE_XCHG_N=$N IKE_XCHG_DELAY_MS=$DELAY"

# name unit
FIGURES="ike.psk.establish.latency ms
ike.psk.establish.bytes B
ike.psk.establish.messages messages
ike.psk.establish.round_trips round_trips
ike.ecdsa.establish.latency ms
ike.ecdsa.establish.bytes B
ike.ecdsa.establish.messages messages
ike.ecdsa.establish.round_trips round_trips
ike.rekey.child.latency ms
ike.rekey.child.total_latency ms
ike.rekey.child.bytes B
ike.rekey.child.messages messages
ike.rekey.child_pfs.latency ms
ike.rekey.child_pfs.total_latency ms
ike.rekey.child_pfs.bytes B
ike.rekey.child_pfs.messages messages"

not_measured_all() {
	local name unit
	while read -r name unit; do
		bench_not_measured "$name" "$unit" "IKEv2 side not measured: $1" "$CMD"
	done <<< "$FIGURES"
	exit 0
}

ike_prepare || not_measured_all "$IKE_REASON"
ike_enter_netns "$@"
if [ "${IKE_IN_NETNS:-}" != 1 ] && ike_port500_busy; then
	not_measured_all "UDP port 500 is in use and no network namespace could be made"
fi
trap ike_cleanup EXIT
trap 'exit 143' TERM INT

# Latency configurations: one initiator thread, one IKE_SA every DELAY ms.
ike_mkconf l-psk aes128gcm16-prfsha256-x25519 aes128gcm16 psk no 1 "$N" "$DELAY" 0
ike_mkconf l-psk-pfs aes128gcm16-prfsha256-x25519 aes128gcm16-x25519 psk no 1 "$N" "$DELAY" 0
ike_mkconf l-ecdsa aes128gcm16-prfsha256-x25519 aes128gcm16 pubkey no 1 "$N" "$DELAY" 0
ECDSA=$(ike_pki ecdsa)

# xchg NAME CREDS|- REKEY(child|none) OUT: one capture run.  Leaves
# OUT.fields (tshark), OUT.log (charon), OUT.info (tmin, other cores).
xchg() {
	local name=$1 creds=$2 rekey=$3 out=$4 i ids s0 s1 c1 k0 k1 t0 t1 tmin=0
	rm -f "$out.pcap"
	tcpdump -i lo -n -U -s 0 -w "$out.pcap" 'udp port 500 or udp port 4500' \
		> "$out.tcpdump" 2>&1 &
	IKE_TD=$!
	for i in $(seq 100); do
		grep -q 'listening on' "$out.tcpdump" 2> /dev/null && break
		sleep 0.02
	done
	t0=$(date +%s%N)
	s0=$(bench_busy_jiffies)
	# our own swanctl calls are this shell's waited-for children: their CPU
	# is not "other load"
	k0=$(awk '{ print $16 + $17 }' "/proc/$$/stat")
	if ! ike_charon_start "$name"; then
		ike_cleanup
		return 1
	fi
	if [ "$creds" != - ]; then
		ike_load_creds "$name" "$creds" || bench_log "loading credentials failed: $(tail -1 "$IKE_W/logs/$name.creds")"
		tmin=$(date +%s.%N)
	fi
	# all IKE_SAs up: N x DELAY, plus half a second
	sleep "$(awk -v n="$N" -v d="$DELAY" 'BEGIN { printf "%.2f", n * d / 1000 + 0.5 }')"
	if [ "$rekey" = child ]; then
		# Only the initiator's CHILD_SAs (IKE_SA line with "_i* "), so the
		# two ends never rekey the same SA at once (pitfall 4).
		ids=$(ike_swanctl "$name" --list-sas | awk '
			/^[^ ].*ESTABLISHED/ { ini = ($0 ~ /_i\* /) }
			/^  [^ ].*reqid/ { if (ini) { sub(/.*#/, ""); sub(/,.*/, ""); print } }')
		for i in $ids; do
			ike_swanctl "$name" --rekey --child-id "$i" > /dev/null
			sleep "$GAP"
		done
		sleep 0.5
	fi
	c1=$(bench_proc_jiffies "$IKE_PID")
	s1=$(bench_busy_jiffies)
	t1=$(date +%s%N)
	k1=$(awk '{ print $16 + $17 }' "/proc/$$/stat")
	ike_charon_stop now
	sleep 0.2
	kill -INT "$IKE_TD" 2> /dev/null
	wait "$IKE_TD" 2> /dev/null
	IKE_TD=
	cp "$IKE_W/logs/$name.log" "$out.log"
	tshark -r "$out.pcap" -T fields -E separator=' ' -e frame.time_epoch \
		-e udp.length -e isakmp.ispi -e isakmp.rspi -e isakmp.exchangetype \
		-e isakmp.flag_i -e isakmp.flag_r -e isakmp.messageid \
		> "$out.fields" 2> "$out.tshark"
	echo "tmin $tmin other_cores $(ike_other_cores "$s0" "$s1" 0 $((c1 + k1 - k0)) "$t0" "$t1")" > "$out.info"
	return 0
}

S=$IKE_W/samples
mkdir -p "$S"
rm -f "$S"/*
for r in $(seq "$REPS"); do
	for v in "psk l-psk - child" "pfs l-psk-pfs - child" "ecdsa l-ecdsa $ECDSA none"; do
		read -r tag name creds rekey <<< "$v"
		bench_gate "ike_exchanges/$tag/$r"
		bench_log "run $r/$REPS: $tag"
		out=$IKE_W/$tag-$r
		if ! xchg "$name" "$creds" "$rekey" "$out"; then
			bench_log "run $r $tag failed"
			continue
		fi
		read -r _ tmin _ other < "$out.info"
		printf '%s ' "$other" >> "$S/$tag.other"
		awk -v tmin="$tmin" -f "$BENCH_TOP/bench/ike/xchg.awk" "$out.fields" > "$out.xchg"
		bench_log "  $(tail -1 "$out.xchg"); other load $other cores"
		# keep one capture of each variant to look at; the rest are big
		[ "$r" -gt 1 ] && rm -f "$out.pcap"
		case $tag in
		psk | ecdsa)
			awk -v p="$S/$tag." '$1 == "est" {
				print $2 > (p "latency"); print $4 > (p "bytes")
				print $3 > (p "messages"); print $5 > (p "round_trips") }' "$out.xchg"
			awk -v tag="$tag" '$1 == "est" { s[++n] = $2 } END {
				for (i = 2; i <= n; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t }
				if (n) printf "%.3f\n", s[int((n + 1) / 2)] }' "$out.xchg" >> "$S/$tag.runmed"
			;;
		esac
		case $tag in
		psk | pfs)
			k=child
			[ "$tag" = pfs ] && k=child_pfs
			awk -v p="$S/$k." '$1 == "rekey" {
				print $2 > (p "latency"); print $3 > (p "total_latency")
				print $4 > (p "messages"); print $5 > (p "bytes") }' "$out.xchg"
			;;
		esac
	done
done

# quiet: every run of the variant had less other load than the gate allows
extra_for() {
	local other quiet
	other=$(tr ' ' '\n' < "$S/$1.other" 2> /dev/null | sort -n |
		awk 'NF { a[++n] = $1 } END { if (n) print a[int((n + 1) / 2)]; else print "null" }')
	quiet=$(tr ' ' '\n' < "$S/$1.other" 2> /dev/null | awk -v q="$BENCH_QUIET_CORES" '
		NF { n++; if ($1 >= q) loud++ } END { print (n && !loud) ? "true" : "false" }')
	echo "\"quiet\":$quiet,$(bench_gate_json),\"other_cores\":$other,\"runs\":$REPS"
}
where="127.0.0.1 self-loop, both ends in one charon ($IKE_STRONGSWAN), fake kernel, in $IKE_NETNS, default scheduling${IKE_PIN:+, pinned: $IKE_PIN}"
lat="first request frame -> last response frame on lo (tcpdump), $REPS runs of $N IKE_SAs $DELAY ms apart; $where. On this kind of VM an idle vCPU halts and waking it costs ~90 us a message (perf-anchors 2.4), so other load can lower these latencies as well as raise them"
bytes="UDP payload (IKE header + payloads), both directions; IPv4 adds 28 B a message; $where"

emit() {
	local name=$1 unit=$2 file=$3 notes=$4 tag=$5
	bench_emit "$name" "$unit" "$S/$file" "$CMD" \
		"$notes; other load per run (cores): $(cat "$S/$tag.other" 2> /dev/null)" "$(extra_for "$tag")"
}
for a in psk ecdsa; do
	case $a in
	psk) what="IKE_SA_INIT + IKE_AUTH with the first CHILD_SA, PSK, IKE aes128gcm16-prfsha256-x25519, ESP aes128gcm16" ;;
	ecdsa) what="IKE_SA_INIT + IKE_AUTH with the first CHILD_SA, ECDSA P-256 certificates (SHA-256), IKE aes128gcm16-prfsha256-x25519, ESP aes128gcm16" ;;
	esac
	runmed=$(tr '\n' ' ' < "$S/$a.runmed" 2> /dev/null)
	emit "ike.$a.establish.latency" ms "$a.latency" "$what: IKE_SA_INIT request -> IKE_AUTH response; $lat; per-run medians (ms): ${runmed:-none}. Leaves out the initiator's processing of the last response" "$a"
	emit "ike.$a.establish.bytes" B "$a.bytes" "$what; $bytes" "$a"
	emit "ike.$a.establish.messages" messages "$a.messages" "$what; messages on the wire, both directions, retransmissions included" "$a"
	emit "ike.$a.establish.round_trips" round_trips "$a.round_trips" "$what; request/response exchanges the initiator needs before the SA is up" "$a"
done
for k in child child_pfs; do
	tag=psk
	[ "$k" = child_pfs ] && tag=pfs
	case $k in
	child) what="CHILD_SA rekey without PFS (CREATE_CHILD_SA, ESP aes128gcm16), PSK IKE_SA" ;;
	child_pfs) what="CHILD_SA rekey with PFS (CREATE_CHILD_SA with KE x25519, ESP aes128gcm16-x25519), PSK IKE_SA" ;;
	esac
	emit "ike.rekey.$k.latency" ms "$k.latency" "$what: the CREATE_CHILD_SA round trip; triggered by swanctl --rekey on the initiator's CHILD_SAs, $GAP s apart; $lat" "$tag"
	emit "ike.rekey.$k.total_latency" ms "$k.total_latency" "$what: CREATE_CHILD_SA request -> response of the INFORMATIONAL that deletes the old SA; $lat" "$tag"
	emit "ike.rekey.$k.bytes" B "$k.bytes" "$what: CREATE_CHILD_SA + INFORMATIONAL delete; $bytes" "$tag"
	emit "ike.rekey.$k.messages" messages "$k.messages" "$what: CREATE_CHILD_SA + INFORMATIONAL delete, both directions" "$tag"
done
