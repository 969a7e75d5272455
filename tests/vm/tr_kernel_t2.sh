#!/bin/sh
# tr_kernel_t2.sh: T2 of the kernel transport tests (guest side).  A kernel
# SCTP node with RFC 6951 UDP encapsulation in network namespace a and a
# usrsctp node in namespace b, joined by a veth pair.  The addresses are
# documentation ones (RFC 5737) and exist only inside the guest, which has
# no NIC at all.
set -e
K=192.0.2.1 U=192.0.2.2
ip netns add a
ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add $K/24 dev va; ip -n a link set va up; ip -n a link set lo up
ip -n b addr add $U/24 dev vb; ip -n b link set vb up; ip -n b link set lo up
./tr_kernel_test "$@" t2 /run/netns/a $K /run/netns/b $U
# what the kernel node's namespace holds afterwards (udp_port set by the transport)
echo "net.sctp.udp_port in a: $(ip netns exec a cat /proc/sys/net/sctp/udp_port)"
# the kernel node's retransmissions; no UDP socket drops anything (below), so
# they are timeouts: usrsctp under TCG often answers later than RTO.min (50 ms)
ip netns exec a awk '/Retrans|Discard|Drop|OutOfBlue|Checksum/ && $2 != 0 {
  printf "  %s %s", $1, $2 } END { print "" }' /proc/net/sctp/snmp
# the kernel's own UDP 9899 sockets (IPv4 and IPv6; 26AB in /proc/net/udp*) and
# how many datagrams they dropped (the last column)
ip netns exec a awk 'FNR == 1 { f = FILENAME; sub(".*/", "", f) }
  $2 ~ /:26AB$/ { printf "  kernel node: %s 9899 socket, %s drops\n", f, $NF }' \
  /proc/net/udp /proc/net/udp6
