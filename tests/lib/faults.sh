# tests/lib/faults.sh: the safety checks of PROFILE 5 over the relay chain of
# shellcheck shell=bash
# tests/lib/chain.sh, for tests/faults/run.sh (the fault matrix), on the
# checking logic of tests/netns/ipsec-abort.sh.  Sourced (bash) after
# chain.sh, never run.
#
# Each run gets a fresh, small set of the MN's SAs (new SPIs, new keys) at
# S1 and S2, the two gateways whose copies move (to S1' and S2'):
#   type 5  MN <-> S2 (AES-GCM-16, the MN's copies in $CH_SA/mn5-*.json)
#   type 4  S1 -> S2 and S2 -> S1 (ChaCha20-Poly1305), both copies of each
# so every link of the chain carries something: S1, S2 -> PR -> NR -> S1', S2'.
#
#   flt_sas OFF          install them (SPIs offset by OFF); FLT_IDS: one
#                        "SPI DIR OLD NEW" line per copy
#   flt_before RUN       traffic on every copy (S2's type 5 numbers 1..20,
#                        type 4 numbers 1..5 each way)
#   flt_check RUN        the invariants (FLT_KILLED: the node killed in
#                        the run: outbound counters restored from a state
#                        file skip ahead, at most the reservation, 4096); FLT_BAD: the violations ("" when
#                        none), FLT_OUT: the outcome, FLT_WHERE: where each
#                        copy ended, FLT_NOTE: what was not checked and why
#   flt_alive NODE...    each answers `ctpctl status`; the silent ones
#   flt_wait_log NODE OFF PATTERN MS   a line with PATTERN past octet OFF
#                        of NODE's log, within MS (inotify: no polling)
#
# The invariants (PROFILE 5.1, 5.2), after the chain is quiet:
#  - no copy active at two nodes, none stuck frozen;
#  - none lost: active at exactly one node, or quarantined at its old
#    holder (then it may also be active at its new one);
#  - ESP afterwards, on every copy active somewhere: the MN's type 5 pair
#    (ctpmn esp keeps its window across the run with --state: a number the
#    gateways send twice is a duplicate there, a bad ICV an error) is
#    echoed by its holder, whose numbers continue at 21 (S2, restored) or
#    start at or above 20 + the margin (S2', moved); type 4 dummies reach
#    the holder of the inbound copy with the highest number 10 (the old
#    sender resumed) or 10 + margin (a new sender); and no inbound copy
#    anywhere counted a replay or a bad ICV: no (SA, sequence number) pair
#    was ever used twice;
#  - no transfer still live anywhere; every daemon answers.

FLT_NODES="pr nr s1 s2 s1p s2p"
FLT_KILLED=""
flt_tp() { :; }   # a trace point (the caller may define it)

# One SA as chain_sa writes it (tests/lib/chain.sh), without a jq per SA:
# SPI DIR(in|out) LOCAL PEER ENCR BITS KEYHEX SEL(0|1) TYPE.
flt_sa_json() {
	local d=1 f=5 sel="" seq
	[ "$2" = out ] && d=2 f=1
	[ "$8" = 1 ] && sel=",{\"tlv\":\"SELECTOR\",\"family\":4,\"ulp\":0,\"src_prefix_len\":32,\"dst_prefix_len\":0,\"src_addr\":\"$CH_MN\",\"dst_addr\":\"0.0.0.0\",\"src_port_low\":0,\"src_port_high\":65535,\"dst_port_low\":0,\"dst_port_high\":65535}"
	if [ "$2" = in ]; then
		seq='{"tlv":"REPLAY","window":128,"highest":0,"bitmap":"00000000000000000000000000000000"}'
	else
		seq='{"tlv":"SEQ_OUT","next":1,"margin":0}'
	fi
	printf '{"fpt":65281,"tlvs":[{"tlv":"SA_ID","spi":%d,"protocol":50,"mode":2,"direction":%d,"flags":%d},{"tlv":"ENDPOINTS","family":4,"sa_type":%d,"moves":1,"local_addr":"%s","peer_addr":"%s"}%s,{"tlv":"ENCR","id":%d,"key_bits":%d,"key":"%s"},%s]}\n' \
		"$1" $d $f "$9" "$3" "$4" "$sel" "$5" "$6" "$7" "$seq"
}

flt_sas() {
	local o=$1 s1=${CH_ADDR[s1]} s2=${CH_ADDR[s2]} k
	T5I=$((0x5001 + o)) T5O=$((0x5002 + o)) T4A=$((0x4001 + o)) T4B=$((0x4002 + o))
	k=$(openssl rand -hex 144) || return 1
	flt_sa_json $T5I in "$s2" "$CH_MN" 20 256 "${k:0:72}" 0 5 > "$CH_SA/t5i.json"
	flt_sa_json $T5O out "$s2" "$CH_MN" 20 256 "${k:72:72}" 0 5 > "$CH_SA/t5o.json"
	flt_sa_json $T4A out "$s1" "$s2" 28 256 "${k:144:72}" 1 4 > "$CH_SA/t4a.json"
	flt_sa_json $T4A in "$s2" "$s1" 28 256 "${k:144:72}" 1 4 > "$CH_SA/t4a-s2.json"
	flt_sa_json $T4B out "$s2" "$s1" 28 256 "${k:216:72}" 1 4 > "$CH_SA/t4b.json"
	flt_sa_json $T4B in "$s1" "$s2" 28 256 "${k:216:72}" 1 4 > "$CH_SA/t4b-s1.json"
	FLT_IDS="$T5I in s2 s2p
$T5O out s2 s2p
$T4A out s1 s1p
$T4A in s2 s2p
$T4B out s2 s2p
$T4B in s1 s1p"
	cp "$CH_SA/t5i.json" "$CH_SA/mn5-in.json"
	cp "$CH_SA/t5o.json" "$CH_SA/mn5-out.json"
	rm -f "$CH_T/mn5.state"
	chain_ctl s2 call sa-add "{\"sa\":[$(cat "$CH_SA/t5i.json"),$(cat "$CH_SA/t5o.json"),$(cat "$CH_SA/t4a-s2.json"),$(cat "$CH_SA/t4b.json")]}" > /dev/null &&
		chain_ctl s1 call sa-add "{\"sa\":[$(cat "$CH_SA/t4a.json"),$(cat "$CH_SA/t4b-s1.json")]}" > /dev/null
}

# ctpmn esp's result $1 (pretty JSON: one member a line): "echoed
# duplicates seq_first", without jq.
flt_esp_res() {
	awk -F'[:,]' '/^  "(echoed|duplicates|seq_first)":/ {gsub(/[ "]/, "", $1); gsub(/ /, "", $2); v[$1] = $2}
		END {print (v["echoed"] == "" ? "-" : v["echoed"]), (v["duplicates"] == "" ? "-" : v["duplicates"]),
			(v["seq_first"] == "" ? "-" : v["seq_first"])}' "$CH_T/$1.json" 2> /dev/null
}

# The MN's type 5 traffic: $1 output name, $2 count, more options.
flt_mn5() {
	chain_esp mn "$1" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" --count "$2" \
		--state "$CH_T/mn5.state" --wait-ms "${FLT_ESP_WAIT_MS:-150}" "${@:3}"
}

flt_before() {
	local r=$1 e
	FLT_BAD=""
	flt_mn5 "$r-5a" 20
	read -r e _ _ <<< "$(flt_esp_res "$r-5a")"
	[ "$e" = 20 ] || FLT_BAD="$FLT_BAD; before: S2 echoed $e/20"
	chain_esp_send s1 "$T4A" "${CH_ADDR[s2]}" 5 > /dev/null &&
		chain_esp_send s2 "$T4B" "${CH_ADDR[s1]}" 5 > /dev/null ||
		FLT_BAD="$FLT_BAD; before: esp-send refused"
	FLT_BAD=${FLT_BAD#; }
}

# Every SA of the nodes given, one jq for all: "SPI DIR NODE STATE PACKETS
# HIGHEST_SEEN REPLAY_DROPS AUTH_FAILURES PEER DST" ("-" when absent).
flt_table() {
	local n
	for n in "$@"; do
		printf '{"node":"%s","d":' "$n"
		chain_sas "$n" || printf '{"sas":[]}'
		printf '}\n'
	done | jq -r '.node as $n | .d.sas[]? | "\(.spi) \(.direction) \($n) \(.state) \(.packets // "-")
		\(.highest_seen // "-") \(.replay_drops // "-") \(.auth_failures // "-") \(.peer // "-")
		\(.dst // "-")" | gsub("\n\t*"; " ")' 2> /dev/null
}

# Only the run's copies (SPIs of FLT_IDS), of $1 (a table).
flt_mine() {
	awk 'NR == FNR {m[$1] = 1; next} ($1 in m)' <(echo "$FLT_IDS") - <<< "$1"
}

# Table $1 with every SPI a CTN renamed (FLT_ALIAS: "NEW PREV" lines)
# written as its previous one: a renamed copy counts as a copy of its SA,
# so an SA installed twice (once renamed) is active twice.
flt_unalias() {
	awk 'NR == FNR {if (NF == 2) a[$1] = $2; next} NF {if ($1 in a) $1 = a[$1]; print}' \
		<(echo "$FLT_ALIAS") - <<< "$1"
}

# The live transfers of the nodes given, one jq: "node:role/state ...".
flt_busy() {
	local n
	for n in "$@"; do
		printf '{"node":"%s","d":' "$n"
		chain_ctl "$n" transfers --json 2> /dev/null || printf '{"transfers":[]}'
		printf '}\n'
	done | jq -r '.node as $n | .d.transfers[]? | select(.state != "done") | "\($n):\(.role)/\(.state)"' \
		2> /dev/null | tr '\n' ' '
}

# No transfer live at the nodes given (bounded, ~10 s).
flt_quiet() {
	local i
	for i in $(seq 40); do
		[ -z "$(flt_busy "$@")" ] && return 0
		sleep 0.2
	done
	return 1
}

# Every peer of the nodes given up and authenticated (~20 s): one jq a round.
flt_wait_up() {
	local n i
	for i in $(seq 100); do
		for n in "$@"; do
			printf '{"node":"%s","d":' "$n"
			chain_ctl "$n" peers --json 2> /dev/null || printf '{"peers":[]}'
			printf '}\n'
		done | jq -e -s 'all(.[]; .d.peers | length > 0 and all(.authenticated == true and .state == "up"))' \
			> /dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

flt_alive() {
	local n silent=""
	for n in "$@"; do
		chain_ctl "$n" status > /dev/null 2>&1 || silent="$silent $n"
	done
	echo "${silent# }"
}

flt_wait_log() {   # node off pattern ms
	local fd tp line rc=1 end left
	end=$((${EPOCHREALTIME/./} / 1000 + $4))
	exec {fd}< <(exec tail -c +$(($2 + 1)) -f "$CH_T/$1.log" 2> /dev/null)
	tp=$!
	while :; do
		left=$((end - ${EPOCHREALTIME/./} / 1000))
		[ $left -gt 0 ] || break
		IFS= read -r -t "$((left / 1000)).$(printf %03d $((left % 1000)))" -u "$fd" line || break
		[[ $line == *"$3"* ]] && { rc=0; break; }
	done
	kill "$tp" 2> /dev/null
	exec {fd}<&-
	return $rc
}

flt_log_size() { stat -c %s "$CH_T/$1.log" 2> /dev/null || echo 0; }

# The holder of copy SPI DIR in state ST (default active) in $FLT_W, or "".
flt_holder() {
	awk -v s="$1" -v d="$2" -v st="${3:-active}" '$1 == s && $2 == d && $4 == st {print $3; exit}' \
		<<< "$FLT_W"
}

# A field of copy SPI DIR at NODE in table $FLT_W: 5 packets, 6 highest
# seen, 9 peer.
flt_field() {
	awk -v s="$1" -v d="$2" -v n="$3" -v f="$4" '$1 == s && $2 == d && $3 == n {print $f; exit}' \
		<<< "$FLT_W"
}

flt_check() {
	local r=$1 line bad=() note=() moved=0 restored=0 quar=0 m=$CH_MARGIN
	local gw5 o5 e5 d5 first5 sa from to peer n0 n1 hi i refused silent t4="" want
	# shellcheck disable=SC2086
	flt_quiet $FLT_NODES || bad+=("transfers still live: $(flt_busy $FLT_NODES)")
	flt_tp quiet
	# every SA of the nodes: the run's copies, under their own SPI or
	# under the one a CTN renamed them to (an SPI conflict at the sink:
	# ctpmn's sa_updates), and nothing else (everything was removed
	# before the run)
	# shellcheck disable=SC2086
	FLT_ALL=$(flt_table $FLT_NODES)
	FLT_ALIAS=""
	grep -q '"sa_updates"' "$CH_T/$r-ho.json" 2> /dev/null &&
		FLT_ALIAS=$(jq -r '.ctn[]?.sa_updates[]? | select(.prev_spi != null and .spi != null and .prev_spi != .spi) | "\(.spi) \(.prev_spi)"' "$CH_T/$r-ho.json" 2> /dev/null)
	FLT_W=$(flt_unalias "$FLT_ALL")
	line=$(awk 'NR == FNR {m[$1] = 1; next} !($1 in m) {printf "%s:%s/%s ", $3, $1, $2}' \
		<(echo "$FLT_IDS") - <<< "$FLT_W")
	[ -z "$line" ] || bad+=("SAs that are none of the run's (node:spi/dir): $line")
	FLT_W=$(flt_mine "$FLT_W")
	# one awk over the table: per copy (FLT_IDS order) where it is, what
	# is wrong, and how it ended (moved, restored, quarantined)
	line=$(awk 'NR == FNR {k = $1 " " $2; st[k] = st[k] (st[k] == "" ? "" : "+") $4 "@" $3
			if ($4 == "active") { act[k]++; at[k] = $3; an[k] = an[k] " " $3 } if ($4 == "frozen") fz[k]++
			if ($4 == "quarantined") qat[k] = qat[k] " " $3; next}
		{k = $1 " " $2
		 if (act[k] > 1) print "BAD SA " k " active " act[k] " times (at" an[k] ")"
		 q = index(qat[k] " ", " " $3 " ") > 0
		 if (act[k] == 0 && !q) print "BAD SA " k " lost (not active anywhere, not quarantined at " $3 ")"
		 if (fz[k] > 0) print "BAD SA " k " stuck frozen"
		 w = w " " (st[k] == "" ? "none" : st[k])
		 if (q) nq++; else if (at[k] == $4) nm++; else if (at[k] == $3) nr++}
		END {print "WHERE" w; print "COUNT", nm + 0, nr + 0, nq + 0}' \
		<(echo "$FLT_W") - <<< "$FLT_IDS")
	while IFS= read -r i; do
		case $i in
		"BAD "*) bad+=("${i#BAD }") ;;
		"WHERE "*) FLT_WHERE=${i#WHERE } ;;
		"COUNT "*) read -r _ moved restored quar <<< "$i" ;;
		esac
	done <<< "$line"
	FLT_WHERE=${FLT_WHERE# }
	# shellcheck disable=SC2034   # FLT_OUT: for the caller
	if [ "$moved" = 6 ]; then
		FLT_OUT=committed
	elif [ "$restored" = 6 ]; then
		FLT_OUT=aborted-restored
	elif [ "$moved" = 0 ] && [ "$quar" -gt 0 ]; then
		FLT_OUT=aborted-quarantined
	else
		FLT_OUT="partial(moved=$moved,restored=$restored,quarantined=$quar)"
	fi
	flt_tp where

	# type 4 both ways, from wherever the outbound copy is active (sent
	# first: the MN's traffic below gives them time to arrive)
	for sa in "$T4A" "$T4B"; do
		from=$(flt_holder "$sa" out)
		to=$(flt_holder "$sa" in)
		[ -n "$from" ] || { note+=("type 4 $sa out active nowhere"); continue; }
		peer=$(flt_field "$sa" out "$from" 9)
		chain_esp_send "$from" "$sa" "$peer" 5 > /dev/null || bad+=("esp-send $sa at $from refused")
		if [ -n "$to" ] && [ "$peer" = "${CH_ADDR[$to]}" ]; then
			t4="$t4 $sa:$from:$to:$(flt_field "$sa" in "$to" 5)"
		else
			note+=("type 4 $sa split: out@$from in@${to:-none}")
		fi
	done
	# type 5: the MN talks to whoever holds the gateway's inbound copy,
	# else to S2, which must not answer
	gw5=$(flt_holder "$T5I" in)
	o5=$(flt_holder "$T5O" out)
	if [ -n "$FLT_ALIAS" ]; then
		# a CTN renamed one of the MN's SA files (ctpmn esp --state then
		# refuses to go on: another SPI); what the sink did is checked above
		note+=("a CTN renamed SPIs ($(tr '\n' ' ' <<< "$FLT_ALIAS")): the MN's type 5 ESP check skipped")
	else
		flt_mn5 "$r-5b" 10 --to "${CH_ADDR[${gw5:-s2}]}" ||
			bad+=("MN: ctpmn esp failed (a number twice or a bad ICV): $(head -c 200 "$CH_T/$r-5b.err" | tr '\n\t' '  ')")
		read -r e5 d5 first5 <<< "$(flt_esp_res "$r-5b")"
		[ "$d5" = 0 ] || bad+=("MN: type 5 duplicates $d5")
		if [ -n "$gw5" ] && [ "$gw5" = "$o5" ]; then
			[ "$e5" = 10 ] || bad+=("MN: type 5 echoed by $gw5: $e5/10")
			# (a sender restarted from its state file skips at most its
			# reservation, 4096: never back)
			if [ "$gw5" = s2 ] && [ -z "$FLT_KILLED" ]; then
				[ "$first5" = 21 ] || bad+=("MN: S2 resumed at $first5, not 21")
			elif [ "$gw5" = s2 ]; then
				[ "${first5:-0}" -ge 21 ] 2> /dev/null && [ "$first5" -le $((21 + 4096)) ] ||
					bad+=("MN: S2 ($FLT_KILLED killed) resumed at $first5, not 21...21 + 4096")
			else
				[ "${first5:-0}" -ge $((20 + m)) ] 2> /dev/null ||
					bad+=("MN: $gw5's first number $first5 < 20 + margin")
			fi
		else
			[ "$e5" = 0 ] || bad+=("MN: type 5 echoed with no active pair (in@${gw5:-none} out@${o5:-none})")
			note+=("type 5 has no active pair")
		fi
	fi
	flt_tp esp5
	# the type 4 dummies arrived, numbered past the old sender's (10) or
	# past the margin (a new sender: 10 + margin)
	for i in $(seq 20); do
		# shellcheck disable=SC2086
		FLT_W=$(flt_mine "$(flt_unalias "$(flt_table $FLT_NODES)")")
		local all=1
		for line in $t4; do
			IFS=: read -r sa from to n0 <<< "$line"
			[ "$(flt_field "$sa" in "$to" 5)" = $((n0 + 5)) ] || all=0
		done
		[ $all = 1 ] && break
		sleep 0.1
	done
	for line in $t4; do
		IFS=: read -r sa from to n0 <<< "$line"
		n1=$(flt_field "$sa" in "$to" 5)
		hi=$(flt_field "$sa" in "$to" 6)
		[ "$n1" = $((n0 + 5)) ] || bad+=("type 4 $sa $from -> $to: $n1 packets, want $((n0 + 5))")
		case $from in
		s1 | s2) want=10 ;;
		*) want=$((10 + m)) ;;
		esac
		# a node killed in the run (the sender, or the old holder whose
		# restored counter the snapshot then carried) may have skipped up
		# to its reservation: the range, never below
		if [ -z "$FLT_KILLED" ]; then
			[ "$hi" = $want ] || bad+=("type 4 $sa $from -> $to: highest $hi, want $want")
		else
			[ "${hi:-0}" -ge $want ] 2> /dev/null && [ "$hi" -le $((want + 4096)) ] ||
				bad+=("type 4 $sa $from -> $to ($FLT_KILLED killed): highest $hi, want $want...$want + 4096")
		fi
	done
	flt_tp esp4
	# no inbound copy anywhere saw a number twice, nor a bad ICV
	refused=$(awk '$2 == "in" && ($7 + 0 > 0 || $8 + 0 > 0) {printf "%s:%s/%s/%s ", $3, $1, $7, $8}' <<< "$FLT_W")
	[ -z "$refused" ] || bad+=("replays or bad ICVs counted (node:spi/replays/icv): $refused")
	flt_tp refused
	# shellcheck disable=SC2086
	silent=$(flt_alive $CH_NODES)
	[ -z "$silent" ] || bad+=("daemons not answering: $silent")
	FLT_BAD=$(printf '%s; ' "${bad[@]}")
	FLT_BAD=${FLT_BAD%; }
	FLT_NOTE=$(printf '%s; ' "${note[@]}")
	FLT_NOTE=${FLT_NOTE%; }
	[ -z "$FLT_BAD" ]
}
