#!/bin/sh
# xfrm_test.sh: the xfrm SAD backend on a real kernel (guest side of
# `make check-kernel`; the checks are in xfrm_drv.c).  Namespaces xa and
# xb (other tests of the same boot have an a and a b) joined by a veth pair;
# every SA and SPD entry goes in through the backend.  The addresses are
# documentation ones (RFC 5737, RFC 3849) and exist only inside the guest,
# which has no NIC at all.
set -e
A=192.0.2.1 B=192.0.2.2 MA=02:00:00:00:00:0a MB=02:00:00:00:00:0b
ip netns add xa
ip netns add xb
trap 'ip netns del xa; ip netns del xb' EXIT
ip link add va netns xa type veth peer name vb netns xb
ip -n xa link set va address $MA; ip -n xb link set vb address $MB
ip -n xa addr add $A/24 dev va; ip -n xa addr add 2001:db8::1/64 dev va nodad
ip -n xb addr add $B/24 dev vb; ip -n xb addr add 2001:db8::2/64 dev vb nodad
for ns in xa xb; do ip -n $ns link set lo up; done
ip -n xa link set va up; ip -n xb link set vb up
# Fixed neighbours: IPv6 neighbour discovery between the two would run
# through the transport-mode SAs and use up sequence numbers the test counts.
ip -n xa neigh add $B lladdr $MB dev va nud permanent
ip -n xa neigh add 2001:db8::2 lladdr $MB dev va nud permanent
ip -n xb neigh add $A lladdr $MA dev vb nud permanent
ip -n xb neigh add 2001:db8::1 lladdr $MA dev vb nud permanent
# the tunnel leg's inner networks, behind each end
ip -n xa addr add 10.1.0.1/32 dev lo; ip -n xa route add 10.2.0.0/16 via $B src 10.1.0.1
ip -n xb addr add 10.2.0.1/32 dev lo; ip -n xb route add 10.1.0.0/16 via $A src 10.2.0.1
./xfrm_drv test /run/netns/xa $A /run/netns/xb $B
