#!/bin/bash
# tests/netns/ipsec.sh BUILD: an MN's IPsec SAs move along the relay chain
# S -> PR -> NR -> S' (PROFILE 3) between real ctpd daemons in network
# namespaces (tests/lib/chain.sh draws the topology), proved with real ESP
# packets (UDP-encapsulated, RFC 3948) before and after the handover.
#
# The MN's SAs, one per type of the IPsec CT draft (section 5):
#   type 5  MN <-> S2     ESP tunnel, AES-GCM-16 (256), ESN, anti-replay: to S2'
#   type 3  S1 <-> RN     AES-CBC + HMAC-SHA2-256, VIRTUAL_SG 10.99.0.1 (indirect
#                         SG identity): to S1', the network moves the address
#   type 4  S1 <-> S2     ChaCha20-Poly1305, one SA each way, both copies of
#                         each (at S1 and at S2): to S1' and S2'
#   type 1  G <-> RN      AES-GCM-16 (128), both copies: stays (0x8A)
#   type 2  MN <-> RN     AES-CBC-256 + HMAC-SHA2-512: stays (0x8A)
# SAs between two network nodes carry a selector with the MN's address (what
# makes them the MN's).  Traffic: `ctpmn esp` from the MN (types 5, 2) and
# from RN (type 3) against the gateways' echo; the plugin's esp-send at the
# gateways (types 4, 1), whose dummies the peer counts.
#
# What it proves, reactive and then predictive (`ctpmn handover
# --predictive`):
#  - the MN's CTAA lists exactly the six copies of types 1 and 2 as left in
#    place (0x8A), everything else moved; the CTN verifies and rewrites the
#    MN's type 5 SA files with S2's successor S2' (direct SG identity);
#  - afterwards every SA is where the draft puts it, active, and nowhere
#    else: S1, S2 and PR hold nothing; S1', S2' the moved copies; G, RN
#    types 1 and 2; no SA is active at two nodes;
#  - type 5 traffic goes to S2' and authenticates there (S2''s counters);
#    the gateway's numbers the MN receives continue above the last one
#    before plus the margin (16384), none twice (the MN's own window, kept
#    across runs by --state), and S2''s highest-sent and highest-seen
#    counters agree with what the MN sent and received; the MN's own
#    numbers simply continue and S2' accepts them;
#  - replays are refused: sequence numbers the MN used before the handover,
#    sent again to S2' (ctpmn esp without its state starts over at 1, and
#    --replay sends one of them once more octet for octet): no echo, and
#    S2''s replay counter grows by exactly that many;
#  - type 3 traffic reaches S1' at the virtual address, above the margin;
#    type 4 traffic flows S1' <-> S2' both ways, above the margin; types 1
#    and 2 still pass traffic where they were, their numbers continuing
#    without a jump.
# Finally every daemon stops on SIGTERM with status 0 (under the sanitizers
# of `make check CI=true`: no leak).  About 25 s.

# "test && ok || bad": ok and bad always succeed, so this is if-then-else.
# shellcheck disable=SC2015
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/chain.sh
. "$top/tests/lib/chain.sh"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

chain_init "${1:-build}"
case $? in
0) ;;
1)
	echo "*** netns ipsec: SKIPPED: needs root and network namespaces ***"
	echo "*** (the CI runs it as root; this run does NOT test the relay chain) ***"
	exit 0 ;;
*) echo "netns ipsec: cannot run"; exit 1 ;;
esac
t0=$SECONDS
chain_topology || { echo "netns ipsec: no topology"; exit 1; }
chain_start_all || { echo "netns ipsec: the daemons did not come up"; chain_logs; exit 1; }

S1=${CH_ADDR[s1]} S2=${CH_ADDR[s2]} S1P=${CH_ADDR[s1p]} S2P=${CH_ADDR[s2p]}
G=${CH_ADDR[g]} RN=${CH_ADDR[rn]} MN=$CH_MN V=$CH_VSG M=$CH_MARGIN
J() { chain_j "$CH_T/$1.json" "$2"; }
F() { chain_sa_field "$@"; }

# want NAME GOT WANT: equality, named in the failure
want() { [ "$2" = "$3" ] && ok || bad "$1: got \"$2\", want \"$3\""; }
# at_least NAME GOT MIN
at_least() { [ -n "$2" ] && [ "$2" -ge "$3" ] 2> /dev/null && ok || bad "$1: got \"$2\", want >= $3"; }

# wait_field NODE SPI DIR KEY VALUE: until the SA's member is VALUE (~5 s)
wait_field() {
	local i
	for i in $(seq 50); do
		[ "$(F "$1" "$2" "$3" "$4")" = "$5" ] && return 0
		sleep 0.1
	done
	return 1
}

# esp_ok NAME SENT ECHOED: a ctpmn esp run's exit status and report
esp_ok() {
	local rc=$1 name=$2
	[ "$rc" = 0 ] && ok || bad "$name: ctpmn esp exit $rc: $(head -c 300 "$CH_T/$name.err")"
	want "$name: sent" "$(J "$name" .sent)" "$3"
	want "$name: echoed" "$(J "$name" .echoed)" "$4"
	want "$name: duplicates (a gateway number seen twice)" "$(J "$name" .duplicates)" 0
	want "$name: auth failures" "$(J "$name" .auth_failures)" 0
}

install_sas() {
	chain_mn_sas "$1" && ok || bad "sa-add refused"
}
where() { chain_where; }
reset_all() { chain_reset || bad "the daemons are not all up"; }

round() {   # mode: reactive | predictive
	local mode=$1 r=$1 opt=() ctaa
	[ "$mode" = predictive ] && opt=(--predictive)
	echo "netns ipsec: $mode handover ($((SECONDS - t0)) s)"

	# ---- before: traffic on every SA ----
	chain_esp mn "$r-5a" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" --count 20 \
		--state "$CH_T/mn5.state"
	esp_ok $? "$r-5a" 20 20
	want "$r-5a: S2's numbers" "$(J "$r-5a" '"\(.seq_first)-\(.seq_last)"')" 1-20
	chain_esp mn "$r-2a" --sa "$CH_SA/t2i.json" --sa "$CH_SA/t2o.json" --count 10 \
		--state "$CH_T/mn2.state"
	esp_ok $? "$r-2a" 10 10
	chain_esp rn "$r-3a" --sa "$CH_SA/t3i.json" --sa "$CH_SA/t3o.json" --count 10 \
		--state "$CH_T/rn3.state"
	esp_ok $? "$r-3a" 10 10
	chain_esp_send s1 $T4A "$S2" 5 > /dev/null && chain_esp_send s2 $T4B "$S1" 5 > /dev/null &&
		chain_esp_send g $T1C "$RN" 5 > /dev/null && chain_esp_send rn $T1D "$G" 5 > /dev/null &&
		ok || bad "$r: esp-send refused"
	wait_field s2 $T4A in packets 5 && wait_field s1 $T4B in packets 5 &&
		wait_field rn $T1C in packets 5 && wait_field g $T1D in packets 5 &&
		ok || bad "$r: gateway traffic did not arrive: $(where)"
	want "$r: S2 type 5 highest seen" "$(F s2 $T5I in highest_seen)" 20
	want "$r: S2 type 5 highest sent" "$(F s2 $T5O out highest_sent)" 20

	# ---- the handover (the MN moves to NR's link first: mobility) ----
	chain_mn_attach nr
	chain_handover "$r-ho" "${opt[@]}" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" \
		--timeout-ms 5000
	rc=$?
	# ctpmn counts 0x8A as "not transferred" (exit 1, "refused"): the
	# statuses say what happened
	[ $rc -le 1 ] && ok || bad "$r: ctpmn handover exit $rc: $(cat "$CH_T/$r-ho.err")"
	ctaa=$(J "$r-ho" '[.ctaa[] | select(.ar == "nar")][0].status | map(.status) | sort | join(",")')
	want "$r: CTAA statuses (6 copies of types 1, 2 left in place)" "$ctaa" \
		"138,138,138,138,138,138"
	if [ "$mode" = predictive ]; then
		want "$r: pAR's CTAA" "$(J "$r-ho" '[.ctaa[] | select(.ar == "par")][0].status | length')" 0
	fi
	want "$r: CTN verified" "$(J "$r-ho" '[.ctn[] | select(.verified)] | length')" 1
	want "$r: the MN's SA files now name S2'" \
		"$(J "$r-ho" '[.ctn[].sa_updates[]?.gateway] | unique | join(",")')" "$S2P"
	want "$r: the file's gateway" \
		"$(chain_j "$CH_SA/mn5-in.json" '.tlvs[] | select(.tlv == "ENDPOINTS") | .local_addr')" "$S2P"
	# shellcheck disable=SC2086
	chain_quiet $CH_NODES && ok || bad "$r: transfers still live"
	chain_vsg_at s1p   # the network moves the virtual SG address

	# ---- where every SA is now ----
	for n in s1 s2 pr nr; do
		want "$r: SAs left at $n" "$(chain_sa_count $n)" 0
	done
	local w
	w=$(where)
	for e in "$T5I in s2p" "$T5O out s2p" "$T4A in s2p" "$T4B out s2p" "$T3I in s1p" \
		"$T3O out s1p" "$T4A out s1p" "$T4B in s1p" "$T1C out g" "$T1D in g" "$T1C in rn" \
		"$T1D out rn" "$T2I in rn" "$T2O out rn"; do
		grep -qx "$e active" <<< "$w" && ok || bad "$r: not active: $e (have: $(echo $w))"
	done
	want "$r: SAs in all" "$(wc -l <<< "$w")" 14
	want "$r: active at two nodes" "$(awk '$4 == "active" {print $1, $2}' <<< "$w" | sort |
		uniq -d | wc -l)" 0
	want "$r: S1' type 3 local end" "$(F s1p $T3I in local)" "$V"
	want "$r: S2' type 5 next number" "$(F s2p $T5O out next_seq)" $((21 + M))

	# ---- after: type 5 at S2', no number twice ----
	chain_esp mn "$r-5b" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" --count 20 \
		--state "$CH_T/mn5.state"
	esp_ok $? "$r-5b" 20 20
	want "$r-5b: sent to" "$(J "$r-5b" .to)" "$S2P"
	at_least "$r-5b: first number from S2' (last from S2 + margin)" "$(J "$r-5b" .seq_first)" \
		$(($(J "$r-5a" .seq_last) + M))
	want "$r-5b: ascending, none skipped" "$(J "$r-5b" '.seq_last - .seq_first')" 19
	want "$r-5b: the MN's numbers continue" "$(J "$r-5b" .sent_seq_first)" \
		$(($(J "$r-5a" .sent_seq_last) + 1))
	want "$r: S2' highest seen (type 5)" "$(F s2p $T5I in highest_seen)" "$(J "$r-5b" .sent_seq_last)"
	want "$r: S2' packets (20 carried + 20)" "$(F s2p $T5I in packets)" 40
	want "$r: S2' auth failures" "$(F s2p $T5I in auth_failures)" 0
	want "$r: S2' highest sent (type 5)" "$(F s2p $T5O out highest_sent)" "$(J "$r-5b" .seq_last)"

	# replays: the MN's numbers 1..3 of before, again (no --state: it starts
	# at 1), then its 2nd packet once more, octet for octet
	chain_esp mn "$r-5r" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" --count 3 \
		--replay 2 --wait-ms 300
	rc=$?
	want "$r-5r: exit" $rc 0
	want "$r-5r: old numbers sent" "$(J "$r-5r" '"\(.sent_seq_first)-\(.sent_seq_last)"')" 1-3
	want "$r-5r: echoed" "$(J "$r-5r" .echoed)" 0
	want "$r-5r: replay echoed" "$(J "$r-5r" .replay.echoed)" false
	wait_field s2p $T5I in replay_drops 4 && ok ||
		bad "$r: S2' replay drops $(F s2p $T5I in replay_drops), want 4"
	want "$r: S2' packets after the replays" "$(F s2p $T5I in packets)" 40

	# ---- type 3 at S1', by the virtual address ----
	chain_esp rn "$r-3b" --sa "$CH_SA/t3i.json" --sa "$CH_SA/t3o.json" --count 10 \
		--state "$CH_T/rn3.state"
	esp_ok $? "$r-3b" 10 10
	want "$r-3b: sent to" "$(J "$r-3b" .to)" "$V"
	at_least "$r-3b: first number from S1'" "$(J "$r-3b" .seq_first)" $(($(J "$r-3a" .seq_last) + M))
	want "$r: S1' type 3 packets (10 + 10)" "$(F s1p $T3I in packets)" 20

	# ---- type 4 both ways between S1' and S2' ----
	chain_esp_send s1p $T4A "$S2P" 5 > /dev/null && chain_esp_send s2p $T4B "$S1P" 5 > /dev/null &&
		ok || bad "$r: esp-send at S1' or S2' refused"
	wait_field s2p $T4A in packets 10 && wait_field s1p $T4B in packets 10 && ok ||
		bad "$r: type 4 traffic S1' <-> S2': $(F s2p $T4A in packets), $(F s1p $T4B in packets)"
	want "$r: S2' type 4 highest seen" "$(F s2p $T4A in highest_seen)" $((10 + M))
	want "$r: S1' type 4 highest seen" "$(F s1p $T4B in highest_seen)" $((10 + M))
	want "$r: S2' type 4 refused" "$(F s2p $T4A in replay_drops)/$(F s2p $T4A in auth_failures)" 0/0
	want "$r: S1' type 4 refused" "$(F s1p $T4B in replay_drops)/$(F s1p $T4B in auth_failures)" 0/0

	# ---- types 1 and 2, where they were ----
	chain_esp_send g $T1C "$RN" 5 > /dev/null || bad "$r: esp-send at G refused"
	wait_field rn $T1C in packets 10 && ok || bad "$r: type 1 traffic G -> RN"
	want "$r: RN type 1 highest seen (no jump)" "$(F rn $T1C in highest_seen)" 10
	chain_esp mn "$r-2b" --sa "$CH_SA/t2i.json" --sa "$CH_SA/t2o.json" --count 10 \
		--state "$CH_T/mn2.state"
	esp_ok $? "$r-2b" 10 10
	want "$r-2b: RN's numbers continue" "$(J "$r-2b" .seq_first)" 11

	# ---- the old gateway: an MN that still sends there finds nothing ----
	local u0
	u0=$(chain_sas s2 | jq .counters.unknown_spi)
	chain_esp mn "$r-5s" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" --count 3 \
		--to "$S2" --wait-ms 200 --state "$CH_T/mn5.state"
	want "$r-5s: echoes from S2" "$(J "$r-5s" .echoed)" 0
	for i in $(seq 30); do
		[ "$(chain_sas s2 | jq .counters.unknown_spi)" = $((u0 + 3)) ] && break
		sleep 0.1
	done
	want "$r: S2's unknown SPIs" "$(chain_sas s2 | jq .counters.unknown_spi)" $((u0 + 3))
}

install_sas 0
round reactive
reset_all
install_sas 256
round predictive

# ---- every daemon stops cleanly ----
for n in $CH_NODES; do
	chain_stop $n
	rc=$?
	[ $rc = 0 ] && ok || bad "$n exited $rc: $(tail -5 "$CH_T/$n.log")"
done

echo "netns ipsec: $pass passed, $fail failed ($((SECONDS - t0)) s)"
[ $fail -eq 0 ] || chain_logs
[ $fail -eq 0 ]
