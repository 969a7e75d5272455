#!/bin/bash
# tests/replay/record.sh BUILD [MODE...]: record pcap/daemon/ again from
# real ctpd daemons.  Run by hand (as root, with tcpdump and mergecap), not
# in CI; this script is the record of how every capture there was made.
#
# The topology and the four transfer modes are tests/netns/handover.sh's,
# in namespaces of their own (ctp-rec-*), so a handover test running at
# the same time is not disturbed:
#
#      ctp-rec-mn             ctp-rec-par                ctp-rec-nar
#   mn-a 10.1.0.10 ---- par-mn 10.1.0.1          nar-mn 10.2.0.1 ---- mn-b 10.2.0.10
#                          par-ar 10.0.0.1 ---- nar-ar 10.0.0.2
#
# For each transfer MODE (reactive predictive push pull; all of them and
# "ipsec" below when none is named), with fresh daemons so that each wire
# capture holds its own SCTP and TLS set-up:
#
#   MODE-par.pcap, MODE-nar.pcap  the daemons' own exported-PDU captures
#                                 (ctpd --pcap): every CXTP message each
#                                 AR sent and received, decrypted
#   MODE-wire.pcap                tcpdump on par-ar (SCTP in UDP 9899, TLS
#                                 inside) and on the MN's two links (ICMP
#                                 type 41), merged in time order
#   MODE-wire.keys                pAR's TLS key log (<tls keylog=...
#                                 allow-keylog="true">), for tshark
#   MODE-wire.tshark              the tshark options the wire capture needs
#
# MODE "ipsec" records the relay chain S -> PR -> NR -> S' of PROFILE 3
# through tests/lib/chain.sh (the topology and daemons of
# tests/netns/ipsec.sh, used as they are: only the configurations it
# writes get a <capture> and, at PR, the TLS key log): the MN's SAs
# of every type (chain_mn_sas), one reactive handover, no ESP traffic (so
# no counter moves).  It writes
#
#   ipsec-NODE.pcap               every node's exported-PDU capture
#   ipsec-NODE.xml                the node's configuration, its paths made
#                                 @DIR@ and @BUILD@ (run.sh puts them back)
#   ipsec-NODE.sas.json           the SAs chain_mn_sas gave the node (its
#                                 chain_sa_add calls, wrapped here to keep
#                                 them), as one `ctpctl call sa-add` request
#   ipsec-wire.pcap, .keys, .tshark   tcpdump on the core router's link to
#                                 S1 (the PR - S1 association: CT-Req, the
#                                 CTD with S1's SA CDBs, CTDR, all in TLS)
#                                 and on the MN's links (CTAR, CTAA, CTN,
#                                 CTNA); PR's key log
#
# chain.sh draws every SA key with `openssl rand -hex N`; here a shell
# function of that name answers such calls with octets of SHA-512 over
# "ctpd-replay-K" (K counting the calls, in the fixed order of
# chain_mn_sas), and the MN's key is fixed, so a re-recording carries the
# same SAs.
#
# What makes a re-recording carry the same CXTP content: the MN's key, its
# sequence number (ctpmn --seq) and the group pAR hands over are fixed
# (tests/replay/conf.sh); the mld plugin's CDBs follow from them.  What
# differs each time: the transfer id (random, in the control CDB), the
# times (the SAs' USAGE and SNAPSHOT_AGE), PR's fetch sequence numbers
# (random per fetch, ctp_engine.c send_fetches), the order in which the
# chain's gateways answer PR and NR (and so the order of the CDBs PR
# gathers), and everything of SCTP and TLS (tags, TSNs, keys, randoms).
# Those fields are left out of the NAME.expected files.
#
# Afterwards: CXTP_UPDATE=1 tests/dissector/run.sh BUILD rewrites every
# NAME.expected (review the diff), and tests/replay/run.sh BUILD replays
# the new captures into fresh daemons.
set -u
B=$(cd "${1:?usage: tests/replay/record.sh BUILD [MODE...]}" && pwd)
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/pcap/daemon
CTL=$B/ctpctl
MN=$B/ctpmn
# shellcheck source=tests/replay/conf.sh
. "$top/tests/replay/conf.sh"
modes=${*:-reactive predictive push pull ipsec}

die() {
	echo "record: $*" >&2
	for l in "${tmp:-/nonexistent}"/*.log; do
		[ -f "$l" ] && { echo "--- $l" >&2; tail -n 8 "$l" >&2; }
	done
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tcpdump)"
for t in tcpdump mergecap ip jq; do
	command -v $t > /dev/null || die "$t not found (Debian packages tcpdump, wireshark-common, iproute2, jq)"
done

tmp=$(mktemp -d /tmp/ctp-record.XXXXXX)
pids=()
NS="ctp-rec-mn ctp-rec-par ctp-rec-nar"
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	for n in $NS; do ip netns del $n 2> /dev/null; done
	[ -n "${KEEP:-}" ] && echo "record: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

for n in $NS; do ip netns del $n 2> /dev/null; ip netns add $n; done
ip link add mn-a netns ctp-rec-mn type veth peer name par-mn netns ctp-rec-par
ip link add mn-b netns ctp-rec-mn type veth peer name nar-mn netns ctp-rec-nar
ip link add par-ar netns ctp-rec-par type veth peer name nar-ar netns ctp-rec-nar
addr() { ip -n "$1" addr add "$3" dev "$2"; ip -n "$1" link set "$2" up; }
addr ctp-rec-mn mn-a $REPLAY_MN/24
addr ctp-rec-mn mn-b $REPLAY_MN_NOW/24
addr ctp-rec-par par-mn $REPLAY_PAR/24
addr ctp-rec-par par-ar 10.0.0.1/30
addr ctp-rec-nar nar-mn $REPLAY_NAR/24
addr ctp-rec-nar nar-ar 10.0.0.2/30
for n in $NS; do ip -n $n link set lo up; done
ip -n ctp-rec-par route add 10.2.0.0/24 via 10.0.0.2
ip -n ctp-rec-nar route add 10.1.0.0/24 via 10.0.0.1

"$top/tests/certs/make.sh" "$tmp/pki" par nar > /dev/null 2>&1 || die "no certificates"

P() { "$CTL" -s "$tmp/par.sock" "$@"; }
N() { "$CTL" -s "$tmp/nar.sock" "$@"; }
# the MN hands over (ctpmn, raw ICMP, the fixed key and sequence number)
handover() {   # mode [ctpmn options]
	local mode=$1
	shift
	ip netns exec ctp-rec-mn "$MN" handover --key $REPLAY_KEY --prev $REPLAY_MN \
		--par $REPLAY_PAR --nar $REPLAY_NAR --seq $REPLAY_SEQ --json "$@" \
		> "$tmp/$mode.mn.json" 2> "$tmp/$mode.mn.err" ||
		die "$mode: ctpmn failed: $(cat "$tmp/$mode.mn.err" "$tmp/$mode.mn.json")"
}
wait_for() {   # what command...: up to 5 s
	local what=$1
	shift
	for _ in $(seq 50); do
		"$@" && return 0
		sleep 0.1
	done
	die "$what: timed out"
}
nar_held() { N transfers --json | tr -d ' \n' | grep -q '"state":"held"'; }
# both ARs have finished: nothing live (outcome ""), the transfer committed
settled() {
	local t
	for c in P N; do
		t=$($c transfers --json | tr -d ' \n')
		case $t in *'"outcome":""'*) return 1 ;; *'"outcome":"committed"'*) ;; *) return 1 ;; esac
	done
}
authenticated() {
	P peers --json 2> /dev/null | grep -q '"authenticated": true' &&
		N peers --json 2> /dev/null | grep -q '"authenticated": true'
}

record() {   # mode
	local mode=$1 group caps=() tds=() i=0
	group=$(replay_group "$mode") || die "unknown mode $mode (reactive, predictive, push, pull)"
	echo "record: $mode"
	rm -f "$out/$mode-par.pcap" "$out/$mode-nar.pcap" "$tmp/keys"
	# tcpdump first: the wire capture must hold the TLS handshake to be
	# decrypted.  Only what CXTP is made of: SCTP in UDP, ICMP type 41.
	for link in ctp-rec-par:par-ar ctp-rec-mn:mn-a ctp-rec-mn:mn-b; do
		i=$((i + 1))
		ip netns exec "${link%%:*}" tcpdump -n -U --immediate-mode -s 0 -i "${link#*:}" \
			-w "$tmp/w$i.pcap" 'udp port 9899 or icmp[icmptype] == 41' \
			> /dev/null 2> "$tmp/w$i.err" &
		pids+=($!)
		tds+=($!)
		caps+=("$tmp/w$i.pcap")
	done
	for n in 1 2 3; do
		wait_for "tcpdump $n" grep -q 'listening on' "$tmp/w$n.err"
	done

	replay_conf "$tmp/par.xml" par $REPLAY_PAR nar $REPLAY_NAR par-mn icmp "$tmp/par.sock" \
		"$tmp/keys"
	replay_conf "$tmp/nar.xml" nar $REPLAY_NAR par $REPLAY_PAR nar-mn icmp "$tmp/nar.sock"
	ip netns exec ctp-rec-par "$B/ctpd" -f -c "$tmp/par.xml" --pcap "$out/$mode-par.pcap" \
		> "$tmp/$mode.par.log" 2>&1 &
	local par_pid=$!
	pids+=("$par_pid")
	ip netns exec ctp-rec-nar "$B/ctpd" -f -c "$tmp/nar.xml" --pcap "$out/$mode-nar.pcap" \
		> "$tmp/$mode.nar.log" 2>&1 &
	local nar_pid=$!
	pids+=("$nar_pid")
	wait_for "$mode: the ARs authenticate" authenticated

	# pAR knows the MN: its key (from the operator) and one group
	P mn-key set $REPLAY_MN $REPLAY_KEY > /dev/null || die "mn-key"
	P call mld "{\"op\":\"add\",\"mn\":\"$REPLAY_MN\",\"group\":\"$group\"}" > /dev/null ||
		die "mld add"
	case $mode in
	reactive)     # CTAR to nAR; CT-Req, CTD, CTDR; CTAA
		handover $mode ;;
	predictive)   # CTAR to pAR, CTAA; PCTD to nAR; CTAR to nAR; CTDR; CTAA
		handover $mode --predictive ;;
	push)         # pAR pushes (PCTD) on a trigger; nAR holds; the MN's CTAR
		P trigger push $REPLAY_MN nar > /dev/null || die "push trigger"
		wait_for "$mode: nAR holds" nar_held
		handover $mode ;;
	pull)         # nAR pulls (CT-Req, token 0), pAR answers PCTD; the MN's CTAR
		N trigger pull $REPLAY_MN par > /dev/null || die "pull trigger"
		wait_for "$mode: nAR holds" nar_held
		handover $mode ;;
	esac
	grep -q '"result": "ok"' "$tmp/$mode.mn.json" || die "$mode: $(cat "$tmp/$mode.mn.json")"
	wait_for "$mode: both transfers commit" settled
	ip -n ctp-rec-nar -6 maddr show dev nar-mn | grep -q "$group" ||
		die "$mode: nAR did not join $group"

	# a graceful stop (SHUTDOWN on the wire), then the capture ends
	kill -TERM $par_pid $nar_pid
	wait $par_pid $nar_pid
	sleep 0.3
	kill -INT "${tds[@]}"
	wait "${tds[@]}"
	pids=()
	mergecap -F pcap -w "$out/$mode-wire.pcap" "${caps[@]}" || die "mergecap"
	cp "$tmp/keys" "$out/$mode-wire.keys"
	chmod 644 "$out/$mode-par.pcap" "$out/$mode-nar.pcap" "$out/$mode-wire.pcap" \
		"$out/$mode-wire.keys"
	# the CXTP messages, and the Client Hello with its ALPN (one word: run.sh splits at blanks)
	echo "-o tls.keylog_file:pcap/daemon/$mode-wire.keys -Y cxtp||tls.handshake.type==1" \
		> "$out/$mode-wire.tshark"
	ls -l "$out/$mode"-* | awk '{ print "record:   " $5 "\t" $9 }'
}

# ---- the relay chain, through tests/lib/chain.sh ------------------------------

# Deterministic "random" octets for chain.sh's keys (see the top).
openssl() {
	if [ "${1:-}" = rand ] && [ "${2:-}" = -hex ]; then
		local k
		k=$(($(cat "$CH_T/rand.count" 2> /dev/null || echo 0) + 1))
		echo $k > "$CH_T/rand.count"
		printf 'ctpd-replay-%s' $k | command openssl dgst -sha512 -binary | od -An -v -tx1 |
			tr -d ' \n' | cut -c1-$(($3 * 2))
		echo
	else
		command openssl "$@"
	fi
}

record_ipsec() {
	local n names caps=() tds=() i=0 link
	echo "record: ipsec"
	# shellcheck source=tests/lib/chain.sh
	. "$top/tests/lib/chain.sh"
	chain_init "$B" || die "ipsec: chain_init: needs root, namespaces, jq, openssl"
	# what chain_mn_sas gives each node is kept, for run.sh to give it again
	eval "chain_sa_add_given$(declare -f chain_sa_add | sed '1s/^chain_sa_add//')"
	chain_sa_add() {
		local node=$1 name
		for name in "${@:2}"; do echo "$CH_SA/$name.json"; done >> "$CH_T/sas-$node.list"
		chain_sa_add_given "$@"
	}
	chain_topology || die "ipsec: no topology"
	for link in rt:to-s1 mn:mn-a mn:mn-b; do
		i=$((i + 1))
		ip netns exec "$(chain_ns "${link%%:*}")" tcpdump -n -U --immediate-mode -s 0 \
			-i "${link#*:}" -w "$CH_T/w$i.pcap" 'udp port 9899 or icmp[icmptype] == 41' \
			> /dev/null 2> "$CH_T/w$i.err" &
		tds+=($!)
		caps+=("$CH_T/w$i.pcap")
	done
	for n in 1 2 3; do
		wait_for "tcpdump $n" grep -q 'listening on' "$CH_T/w$n.err"
	done
	# chain_start_all, with a capture at every node and the key log at PR
	"$top/tests/certs/make.sh" "$CH_T/pki" $CH_NODES > /dev/null 2>&1 || die "ipsec: no certificates"
	for n in $CH_NODES; do
		rm -f "$out/ipsec-$n.pcap"
		chain_conf $n
		sed -i "s|</ctpd>|  <capture pcap=\"$out/ipsec-$n.pcap\"/>\n</ctpd>|" "$CH_T/$n.xml"
		case $n in pr)
			sed -i "s|\(<tls [^>]*\)/>|\1 keylog=\"$CH_T/$n.keys\" allow-keylog=\"true\"/>|" \
				"$CH_T/$n.xml" ;;
		esac
		# the configuration as recorded, for run.sh
		sed -e "s|$CH_T|@DIR@|g" -e "s|$B|@BUILD@|g" -e '/<capture /d' \
			-e 's| keylog="[^"]*" allow-keylog="true"||' "$CH_T/$n.xml" > "$out/ipsec-$n.xml"
		chain_start $n
	done
	chain_wait_up $CH_NODES || { chain_logs; die "ipsec: the daemons did not come up"; }
	CH_KEY=$REPLAY_KEY
	chain_ctl pr mn-key set "$CH_MN" "$CH_KEY" > /dev/null || { chain_logs; die "ipsec: mn-key"; }
	chain_mn_sas 0 || { chain_logs; die "ipsec: sa-add refused"; }
	rm -f "$out"/ipsec-*.sas.json
	for n in $CH_NODES; do
		[ -f "$CH_T/sas-$n.list" ] || continue
		# shellcheck disable=SC2046 # one file name a line
		jq -c -s '{sa: .}' $(cat "$CH_T/sas-$n.list") > "$out/ipsec-$n.sas.json"
	done
	chain_mn_attach nr
	chain_handover ipsec-ho --seq $REPLAY_SEQ --sa "$CH_SA/mn5-in.json" --sa "$CH_SA/mn5-out.json"
	[ $? -le 1 ] || { chain_logs; die "ipsec: ctpmn handover: $(cat "$CH_T/ipsec-ho.err")"; }
	chain_quiet $CH_NODES || { chain_logs; die "ipsec: transfers still live"; }
	for n in $CH_NODES; do chain_stop $n || die "ipsec: $n did not stop cleanly"; done
	sleep 0.3
	kill -INT "${tds[@]}"
	wait "${tds[@]}"
	mergecap -F pcap -w "$out/ipsec-wire.pcap" "${caps[@]}" || die "mergecap"
	cp "$CH_T/pr.keys" "$out/ipsec-wire.keys" || die "ipsec: PR wrote no key log"
	echo "-o tls.keylog_file:pcap/daemon/ipsec-wire.keys -Y cxtp||tls.handshake.type==1" \
		> "$out/ipsec-wire.tshark"
	chmod 644 "$out"/ipsec-*
	ls -l "$out"/ipsec-* | awk '{ print "record:   " $5 "\t" $9 }'
	jq -c '{result, ctaa: [.ctaa[] | {ar, status: [.status[].status]}], ctn: [.ctn[] | .verified]}' \
		"$CH_T/ipsec-ho.json" | sed 's/^/record:   the MN: /'
}

for mode in $modes; do
	case $mode in
	# in a subshell: chain.sh sets its own traps and cleans up after itself
	ipsec) ( record_ipsec ) || exit 1 ;;
	*) record "$mode" ;;
	esac
done
echo "record: done; now CXTP_UPDATE=1 tests/dissector/run.sh $B and review the diff"
