#!/bin/bash
# tests/netns/ipsec-abort.sh BUILD: transfers of the relay chain (tests/lib/
# chain.sh) aborted at each step, between real ctpd daemons in network
# namespaces, and what PROFILE 5 demands afterwards.
#
# The faults, each on a fresh set of the MN's SAs (types 1 to 5, as in
# tests/netns/ipsec.sh), with traffic before:
#   loss       the PR <-> NR association loses everything (blackhole routes
#              at both ends: this host has neither netfilter nor netem, and
#              a route drops exactly that association's packets, nothing
#              else) after pAR pushed the contexts and before nAR's verdict
#              comes back: the MN claims them at nAR, nAR installs and
#              relays, its CTDR is lost; pAR times out
#   ctc        nAR cancels a held push (CTC, as tests/netns/handover.sh)
#   silent-s2p S2' stopped (SIGSTOP) during a reactive handover: nAR's
#              relay to it times out, S2' resumes afterwards
#   silent-nr  nAR stopped while pAR pushes: no verdict at all
#   kill-s2    S2 killed (SIGKILL) after it froze its SAs for a push, and
#              restarted from its state file; the MN then claims at nAR
#   kill-pr    pAR killed after its push, restarted; the MN claims at nAR
#   kill-nr    nAR killed while it holds the push, restarted
#   kill-s2p   S2' dead during a reactive handover, restarted after
# After each (PROFILE 5.1, 5.2):
#  - no SA lost: every copy of every SA is active at exactly one node, or
#    quarantined at its old holder when no verdict came (then it may be
#    active at its new holder too);
#  - none active twice, none stuck frozen;
#  - traffic after the abort on every SA that is active somewhere: the MN's
#    type 5 SA (ctpmn esp with its state: its window has seen every number
#    the gateways sent it), type 4 both ways (esp-send), and no gateway
#    ever refused a number as a replay or failed an ICV: no (SA, sequence
#    number) pair was used twice; a new holder starts above the old one's
#    highest number plus the margin.
# Timers are short (max-transfer-ms 100, max-handover-ms 1000): each case
# takes a few seconds.  SCEN=NAME runs one case only.

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
	echo "*** netns ipsec-abort: SKIPPED: needs root and network namespaces ***"
	echo "*** (the CI runs it as root; this run does NOT test aborted transfers) ***"
	exit 0 ;;
*) echo "netns ipsec-abort: cannot run"; exit 1 ;;
esac
t0=$SECONDS
chain_topology || { echo "netns ipsec-abort: no topology"; exit 1; }
chain_start_all || { echo "netns ipsec-abort: the daemons did not come up"; chain_logs; exit 1; }

S1=${CH_ADDR[s1]} S2=${CH_ADDR[s2]} S1P=${CH_ADDR[s1p]} S2P=${CH_ADDR[s2p]}
M=$CH_MARGIN
J() { chain_j "$CH_T/$1.json" "$2"; }
F() { chain_sa_field "$@"; }
want() { [ "$2" = "$3" ] && ok || bad "$1: got \"$2\", want \"$3\""; }

# Until a transfer of node $1 is in state $2 (~5 s).
wait_state() {
	local i
	for i in $(seq 50); do
		chain_ctl "$1" transfers --json 2> /dev/null |
			jq -e --arg s "$2" 'any(.transfers[]; .state == $s)' > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Until node $1 holds an SA in state $2 (~5 s).
wait_sa_state() {
	local i
	for i in $(seq 50); do
		[ "$(chain_sa_count "$1" "$2")" -gt 0 ] 2> /dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Run the MN's type 5 traffic to whoever holds it now ($2: extra options).
mn5() {
	chain_esp mn "$1" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" --count "${2:-10}" \
		--state "$CH_T/mn5.state" --wait-ms 400 "${@:3}"
}

# The traffic before every fault: type 5 (20 packets, S2's numbers 1..20),
# type 4 both ways (5 dummies each).
before() {
	mn5 "$1-5a" 20
	want "$1: before: echoed" "$(J "$1-5a" .echoed)" 20
	chain_esp_send s1 $T4A "$S2" 5 > /dev/null && chain_esp_send s2 $T4B "$S1" 5 > /dev/null ||
		bad "$1: esp-send refused"
}

# The holder of copy "SPI DIR" in state $3 (default active), or "".
holder() { awk -v s="$1" -v d="$2" -v st="${3:-active}" '$1 == s && $2 == d && $4 == st {print $3}' <<< "$W"; }

# PROFILE 5 over every copy of the case's SAs, then traffic on what is
# active.  $1 the case; $2: the expected summary, "SPI DIR" -> where, as
# "active@NODE" or "quarantined@NODE" words per copy in CH_IDS order
# (checked when given).
after() {
	local c=$1 exp=${2:-} id dir old act q fz got="" line i
	# shellcheck disable=SC2086
	chain_quiet $CH_NODES || bad "$c: transfers still live: $(for n in $CH_NODES; do chain_ctl $n transfers --json | jq -c '[.transfers[] | select(.state != "done") | {role, state}]'; done)"
	W=$(chain_where)
	while read -r id dir old; do
		act=$(awk -v s="$id" -v d="$dir" '$1 == s && $2 == d && $4 == "active"' <<< "$W" | wc -l)
		q=$(awk -v s="$id" -v d="$dir" -v o="$old" '$1 == s && $2 == d && $3 == o && $4 == "quarantined"' <<< "$W" | wc -l)
		fz=$(awk -v s="$id" -v d="$dir" '$1 == s && $2 == d && $4 == "frozen"' <<< "$W" | wc -l)
		[ "$act" -le 1 ] && ok || bad "$c: SA $id $dir active at $act nodes"
		[ "$act" = 1 ] || [ "$q" = 1 ] && ok || bad "$c: SA $id $dir lost (neither active anywhere nor quarantined at $old)"
		[ "$fz" = 0 ] && ok || bad "$c: SA $id $dir stuck frozen"
		line=$(awk -v s="$id" -v d="$dir" '$1 == s && $2 == d {print $4 "@" $3}' <<< "$W" | sort | tr '\n' '+')
		got="$got ${line%+}"
	done <<< "$CH_IDS"
	GOT=${got# }
	[ -z "${VERBOSE:-}" ] || echo "  $c: $GOT"
	[ -z "$exp" ] || want "$c: where the SAs are" "$GOT" "$(echo $exp)"

	# type 5: the MN talks to whoever holds the gateway's inbound copy
	# (the CTN told it, or it never moved), else to its old gateway, which
	# must not answer
	local gw5 o5 first5
	gw5=$(holder $T5I in)
	o5=$(holder $T5O out)
	mn5 "$c-5b" 10 --to "${CH_ADDR[${gw5:-s2}]}"
	want "$c: MN exit (no number twice, no bad ICV)" $? 0
	want "$c: type 5 duplicates" "$(J "$c-5b" .duplicates)" 0
	if [ -n "$gw5" ] && [ "$gw5" = "$o5" ]; then
		want "$c: type 5 echoed by $gw5" "$(J "$c-5b" .echoed)" 10
		first5=$(J "$c-5b" .seq_first)
		if [ "$gw5" = s2 ]; then
			want "$c: S2 resumes where it stopped" "$first5" 21
		else
			[ "$first5" -ge $((20 + M)) ] && ok || bad "$c: $gw5's first number $first5 < 20 + margin"
		fi
	else
		want "$c: type 5 echoes with no active pair" "$(J "$c-5b" .echoed)" 0
		# out of the datapath: its old gateway takes none of them
		[ -n "$gw5" ] || want "$c: S2 blocked the MN's packets" "$(F s2 $T5I in blocked)" 10
	fi
	# type 4 both ways, from wherever the outbound copy is active
	for sa in "$T4A" "$T4B"; do
		local from to n0
		from=$(holder "$sa" out)
		to=$(holder "$sa" in)
		[ -n "$from" ] || continue
		n0=$(F "${to:-none}" "$sa" in packets)
		chain_esp_send "$from" "$sa" "$(F "$from" "$sa" out peer)" 5 > /dev/null ||
			bad "$c: esp-send $sa at $from refused"
		if [ -n "$to" ]; then
			for i in $(seq 30); do [ "$(F "$to" "$sa" in packets)" = $((n0 + 5)) ] && break; sleep 0.1; done
			want "$c: type 4 $sa $from -> $to" "$(F "$to" "$sa" in packets)" $((n0 + 5))
			# numbers 1..5 went before; a new sender starts past the margin
			case $from in
			s1 | s2) want "$c: type 4 $sa highest at $to" "$(F "$to" "$sa" in highest_seen)" 10 ;;
			*) want "$c: type 4 $sa highest at $to" "$(F "$to" "$sa" in highest_seen)" $((10 + M)) ;;
			esac
		fi
	done
	# no gateway ever saw a number twice, nor a bad ICV
	local refused
	refused=$(for n in $CH_NODES; do chain_sas $n | jq -r '.sas[] | select(.direction == "in") |
		select(.replay_drops > 0 or .auth_failures > 0) | "\(.spi) \(.replay_drops)/\(.auth_failures)"' |
		sed "s/^/$n /"; done)
	want "$c: gateways that refused replays or bad ICVs" "$refused" ""
}

# The MN claims its contexts at nAR (a reactive CTAR), as after a push.
claim() {
	chain_mn_attach nr
	chain_handover "$1-ho" --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json" --timeout-ms 3000 \
		"${@:2}"
}

push() {
	chain_ctl pr trigger push "$CH_MN" nr > /dev/null && ok || bad "$1: push refused"
}

# Expected placements, in CH_IDS order: T5I T5O T3I T3O T4A-out T4A-in T4B-out
# T4B-in T1C-out T1C-in T1D-out T1D-in T2I T2O.
ALL_HOME="active@s2 active@s2 active@s1 active@s1 active@s1 active@s2 active@s2 active@s1 \
active@g active@rn active@rn active@g active@rn active@rn"
ALL_Q="quarantined@s2 quarantined@s2 quarantined@s1 quarantined@s1 quarantined@s1 \
quarantined@s2 quarantined@s2 quarantined@s1 quarantined@g quarantined@rn quarantined@rn \
quarantined@g quarantined@rn quarantined@rn"
MOVED_Q="active@s2p+quarantined@s2 active@s2p+quarantined@s2 active@s1p+quarantined@s1 \
active@s1p+quarantined@s1 active@s1p+quarantined@s1 active@s2p+quarantined@s2 \
active@s2p+quarantined@s2 active@s1p+quarantined@s1"
STAYED_Q="quarantined@g quarantined@rn quarantined@rn quarantined@g quarantined@rn quarantined@rn"
KILL_S2="active@s2p+quarantined@s2 active@s2p+quarantined@s2 active@s1p active@s1p active@s1p \
active@s2p+quarantined@s2 active@s2p+quarantined@s2 active@s1p active@g active@rn active@rn \
active@g active@rn active@rn"
# S1's copies (T3I T3O T4A-out T4B-in) moved cleanly to S1'
S1_MOVED="active@s1p active@s1p active@s1p active@s1p"
S1SIDE() { awk '{print $3, $4, $5, $8}' <<< "$GOT"; }
S2SIDE() { awk '{print $1, $2, $6, $7}' <<< "$GOT"; }

OFF=0
scenario() {   # name: fresh SAs, traffic
	echo "netns ipsec-abort: $1 ($((SECONDS - t0)) s)"
	OFF=$((OFF + 256))
	chain_reset || bad "$1: the daemons are not all up: $(chain_logs)"
	chain_mn_sas $OFF || bad "$1: sa-add refused"
	before "$1"
}
run() { [ -z "${SCEN:-}" ] || [ "$SCEN" = "$1" ]; }

# ---- loss: the verdict never reaches pAR ----------------------------------------------
if run loss; then
	scenario loss
	push loss
	wait_state nr held || bad "loss: nAR holds nothing"
	chain_block pr nr
	chain_block nr pr
	claim loss
	# pAR gives up after H + 4T; its sources quarantine
	wait_sa_state s2 quarantined || bad "loss: S2 did not quarantine"
	chain_unblock pr nr
	chain_unblock nr pr
	# everything that moves is at its new holder and quarantined at its
	# old one; types 1 and 2 (0x8A in the lost CTDR) quarantined in place
	after loss "$MOVED_Q $STAYED_Q"
fi

# ---- ctc: nAR cancels the push --------------------------------------------------------
if run ctc; then
	scenario ctc
	push ctc
	wait_state nr held || bad "ctc: nAR holds nothing"
	hex=$(printf '{"type":"CTC","mn_prev_addr":"%s"}' "$CH_MN" | "$CH_B/ctpctl" encode --json --hex -)
	chain_ctl nr call send "{\"peer\":\"pr\",\"hex\":\"$hex\"}" > /dev/null && ok || bad "ctc: not sent"
	# a clean abort: every source resumes
	after ctc "$ALL_HOME"
fi

# ---- silent-s2p: the relay to S2' times out ---------------------------------------------
if run silent-s2p; then
	scenario silent-s2p
	chain_pause s2p
	claim silent-s2p
	chain_resume s2p
	# S1's side moved; S2's copies are quarantined at S2 (nAR reported
	# "timed out" for them) and active at S2' only if it installed the
	# relay once it woke up
	after silent-s2p
	want "silent-s2p: S1's side" "$(S1SIDE)" "$S1_MOVED"
fi

# ---- silent-nr: no verdict at all ---------------------------------------------------------
if run silent-nr; then
	scenario silent-nr
	chain_pause nr
	push silent-nr
	wait_sa_state s2 quarantined || bad "silent-nr: S2 did not quarantine"
	chain_resume nr
	# no verdict: every source keeps its copy out of the datapath
	after silent-nr "$ALL_Q"
fi

# ---- kill-s2: S2 dies with its SAs frozen ---------------------------------------------------
if run kill-s2; then
	scenario kill-s2
	push kill-s2
	wait_state nr held || bad "kill-s2: nAR holds nothing"
	chain_kill s2
	chain_start s2
	chain_wait_up s2 || bad "kill-s2: S2 did not come back"
	claim kill-s2
	# S2 came back with the copies it had frozen quarantined (no verdict
	# can reach a transfer that died with it); S2' has them
	after kill-s2 "$KILL_S2"
fi

# ---- kill-pr: pAR dies after its push -------------------------------------------------------
if run kill-pr; then
	scenario kill-pr
	push kill-pr
	wait_state nr held || bad "kill-pr: nAR holds nothing"
	chain_kill pr
	chain_start pr
	claim kill-pr
	chain_wait_up pr || bad "kill-pr: pAR did not come back"
	# nAR completed; the sources never heard from pAR again
	after kill-pr "$MOVED_Q $STAYED_Q"
fi

# ---- kill-nr: nAR dies holding the push -----------------------------------------------------
if run kill-nr; then
	scenario kill-nr
	push kill-nr
	wait_state nr held || bad "kill-nr: nAR holds nothing"
	chain_kill nr
	chain_start nr
	chain_wait_up nr || bad "kill-nr: nAR did not come back"
	wait_sa_state s2 quarantined || bad "kill-nr: S2 did not quarantine"
	after kill-nr "$ALL_Q"
fi

# ---- kill-s2p: S2' dead during a reactive handover ---------------------------------------------
if run kill-s2p; then
	scenario kill-s2p
	chain_kill s2p
	claim kill-s2p
	chain_start s2p
	chain_wait_up s2p || bad "kill-s2p: S2' did not come back"
	# S2' never answered: S2 quarantines what was bound for it; S1's side
	# moved
	after kill-s2p
	want "kill-s2p: S1's side" "$(S1SIDE)" "$S1_MOVED"
	# S2's copies stay at S2: quarantined when nAR's relay went out into
	# the void (it timed out), active again when nAR already knew S2' was
	# down and the relay never left (0x85, a clean refusal)
	for w in $(S2SIDE); do
		case $w in
		quarantined@s2 | active@s2) ok ;;
		*) bad "kill-s2p: an SA of S2's side is $w" ;;
		esac
	done
fi

echo "netns ipsec-abort: $pass passed, $fail failed ($((SECONDS - t0)) s)"
[ $fail -eq 0 ] || chain_logs
[ $fail -eq 0 ]
