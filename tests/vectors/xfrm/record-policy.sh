#!/bin/sh
# record-policy.sh OUT: the guest side of the SPD recording for ctpd's ESP
# coverage check (src/ctp/ctp_xfrm_policy.c, tests/unit/test_xfrm_policy.c;
# README, "The policies of c-spd.hex").  Policies only, no SAs and no
# traffic: every case below is one peer of the local address 192.0.2.50 in
# namespace c (2001:db8::50 for IPv6), made with `ip xfrm policy` (iproute2).
# Run from the host with: tests/vectors/xfrm/record-vm.sh BUILD record-policy.sh
set -e
OUT=$1
mkdir -p "$OUT"
ip netns add c
ip link add vc netns c type dummy
ip -n c link set vc up; ip -n c link set lo up
ip -n c addr add 192.0.2.50/24 dev vc; ip -n c addr add 2001:db8::50/64 dev vc nodad
L=192.0.2.50
x() { ip -n c xfrm policy add "$@"; }
# esp SRC DST DIR [SELECTOR/POLICY OPTIONS...]: an ESP transport template
esp() { s=$1 d=$2 dir=$3; shift 3; x src "$s" dst "$d" "$@" dir "$dir" tmpl src "$s" dst "$d" proto esp mode transport; }
both() { p=$1; shift; esp "$L" "$p" out "$@"; esp "$p" "$L" in "$@"; }

both 192.0.2.51                                   # covered, any protocol
both 192.0.2.52 proto sctp                        # covered for SCTP only
both 192.0.2.53 proto udp                         # covered for UDP (encapsulated SCTP) only
esp $L 192.0.2.54 out                             # outbound only
# (a policy is known by its selector and direction: the competing ones
# below differ from the ESP ones in their protocol)
both 192.0.2.55 priority 100                      # an SCTP bypass in wins over ESP in
x src 192.0.2.55 dst $L proto sctp dir in priority 50
both 192.0.2.56 priority 100                      # an SCTP block out wins over ESP out
x src $L dst 192.0.2.56 proto sctp dir out priority 10 action block
both 192.0.2.57                                   # ESP in is optional (level use)
ip -n c xfrm policy update src 192.0.2.57 dst $L dir in \
  tmpl src 192.0.2.57 dst $L proto esp mode transport level use
x src $L dst 192.0.2.58 dir out tmpl src $L dst 192.0.2.58 proto ah mode transport   # AH only
x src 192.0.2.58 dst $L dir in tmpl src 192.0.2.58 dst $L proto ah mode transport
# SCTP port 5091 both ways only
esp $L 192.0.2.59 out proto sctp sport 5091 dport 5091
esp 192.0.2.59 $L in proto sctp sport 5091 dport 5091
both 192.0.2.60 mark 0x10 mask 0xff               # marked packets only
both 192.0.2.61                                   # a sub policy blocks out
x src $L dst 192.0.2.61 dir out ptype sub priority 5000 action block
both 192.0.2.62 priority 100                      # a tie: allow out, same priority
x src $L dst 192.0.2.62 proto sctp dir out priority 100
both 192.0.2.63 dev vc                            # bound to an interface
# a tunnel to a whole network, the outer addresses differ from the flow's
x src $L/32 dst 198.51.100.0/24 dir out tmpl src $L dst 203.0.113.1 proto esp mode tunnel
x src 198.51.100.0/24 dst $L/32 dir in tmpl src 203.0.113.1 dst $L proto esp mode tunnel
# IPv6, and a /64 of peers
L=2001:db8::50 both 2001:db8::51
x src 2001:db8::50 dst 2001:db8:1::/64 dir out tmpl src 2001:db8::50 dst 2001:db8:1::1 proto esp mode tunnel
x src 2001:db8:1::/64 dst 2001:db8::50 dir in tmpl src 2001:db8:1::1 dst 2001:db8::50 proto esp mode tunnel

ip netns exec c ./xfrm_drv dump-spd "$OUT/c-spd.hex"
ip -n c xfrm policy > "$OUT/c-policy.txt"     # (sub policies included)
echo "record-policy: $(grep -c . "$OUT/c-spd.hex") lines of SPD dump, $(grep -c '^src' "$OUT/c-policy.txt") policies"
