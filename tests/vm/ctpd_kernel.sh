#!/bin/bash
# ctpd_kernel.sh: ctpd daemons on the kernel's SCTP (guest side of `make
# check-kernel`).  pAR and nAR in their own network namespaces, TLS with
# certificates, the MN in a third, as tests/netns/handover.sh lays them out:
#
#      k-mn                  k-par                      k-nar
#   mn-a 10.1.0.10 ---- par-mn 10.1.0.1          nar-mn 10.2.0.1 ---- mn-b 10.2.0.10
#                           par-ar 10.0.0.1 ---- nar-ar 10.0.0.2
#
#   leg native  both daemons on the kernel backend: native SCTP (IP protocol
#               132), the associations in /proc/net/sctp/assocs of both
#   leg encaps  pAR on the kernel backend with udp-encaps, nAR on usrsctp:
#               RFC 6951 SCTP in UDP 9899 between the two stacks
#
# In each leg a real handover moves the MN's multicast listening state (the
# mld plugin): ctpmn sends the CTAR over ICMP, nAR fetches the context with
# CT-Req/CTD over the association, and then really joins the group on its
# MN-facing link (`ip -6 maddr`), while pAR no longer holds it.  The native
# leg also runs a network-controlled push (PCTD, held, claimed by the MN).
. "$(dirname "$0")/vmlib.sh"

ns k-mn k-par k-nar
link k-mn mn-a k-par par-mn
link k-mn mn-b k-nar nar-mn
link k-par par-ar k-nar nar-ar
ip -n k-mn addr add 10.1.0.10/24 dev mn-a
ip -n k-mn addr add 10.2.0.10/24 dev mn-b
ip -n k-par addr add 10.1.0.1/24 dev par-mn
ip -n k-par addr add 10.0.0.1/30 dev par-ar
ip -n k-nar addr add 10.2.0.1/24 dev nar-mn
ip -n k-nar addr add 10.0.0.2/30 dev nar-ar
ip -n k-par route add 10.2.0.0/24 via 10.0.0.2
ip -n k-nar route add 10.1.0.0/24 via 10.0.0.1

conf() {   # name address peer peer-address mn-interface transport-attributes
	cat > "$T/$1.xml" <<EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$1" roles="ar"><address>$2</address></node>
  <transport $6 bind="$2"/>
  <tls ca="$VM/pki/ca.pem" cert="$VM/pki/$1.pem" key="$VM/pki/$1.key"/>
  <peer name="$3" address="$4"/>
  <mobile-nodes icmp="true"/>
  <plugins dir="$VM/plugins"><plugin name="mld"><interface name="$5"/></plugin></plugins>
  <timers reconnect-ms="200" max-transfer-ms="1000" max-handover-ms="5000"/>
  <control socket="$T/$1.sock"/>
  <log level="info"/>
</ctpd>
EOF
}

KEY=00112233445566778899aabbccddeeff00112233
MNX=10.1.0.10
prepare() {   # group: pAR knows the MN, its key and one group
	ctl par mn-key set $MNX $KEY > /dev/null
	ctl par call mld "{\"op\":\"add\",\"mn\":\"$MNX\",\"group\":\"$1\"}" > /dev/null
}
nar_has() { ip -n k-nar -6 maddr show dev nar-mn | grep -q "$1"; }
par_has() { ctl par call mld '{"op":"list"}' | grep -q "\"$1\""; }
handover() {   # name [ctpmn options]
	local name=$1
	shift
	ip netns exec k-mn "$VM/ctpmn" handover --key $KEY --prev $MNX --par 10.1.0.1 \
		--nar 10.2.0.1 --timeout-ms 10000 --json "$@" > "$T/$name.json" 2> "$T/$name.err"
}
assocs() { ip netns exec "$1" awk 'NR > 1' /proc/net/sctp/assocs | grep -c .; }
# "port LPORT -> RPORT, LADDRS <-> RADDRS" of the first association
assoc_line() {
	ip netns exec "$1" awk 'NR == 2 { s = "port " $12 " -> " $13 ","
		for (i = 14; i <= NF && ($i == "<->" || $i ~ /[.:]/); i++) s = s " " $i; print s }' \
		/proc/net/sctp/assocs
}

# check_handover LEG GROUP: a reactive handover moves GROUP to nAR
check_handover() {
	prepare "$2"
	handover "$1" && ok || bad "$1: ctpmn failed: $(cat "$T/$1.err" "$T/$1.json")"
	grep -q '"result": "ok"' "$T/$1.json" && ok || bad "$1: $(cat "$T/$1.json")"
	nar_has "$2" && ok || bad "$1: nAR did not join $2: $(ip -n k-nar -6 maddr show dev nar-mn)"
	par_has "$2" && bad "$1: pAR still holds $2" || ok
	step "$1: CTAR -> CTAA in $(grep -o '"rtt_ms": [0-9.]*' "$T/$1.json" | head -1 | cut -d' ' -f2) ms;" \
		"nAR joined $2"
}

# ---- leg 1: kernel <-> kernel, native SCTP -----------------------------------
conf par 10.1.0.1 nar 10.2.0.1 par-mn 'backend="kernel"'
conf nar 10.2.0.1 par 10.1.0.1 nar-mn 'backend="kernel"'
daemon par k-par "$T/par.xml"
daemon nar k-nar "$T/nar.xml"
wait_auth par 1
wait_auth nar 1
for d in par nar; do
	ctl $d status --json | flat | grep -q '"backend":"kernel"' && ok ||
		bad "native: $d is not on the kernel backend: $(ctl $d status)"
done
ctl par peers --json | flat | grep -q '"cipher":"TLS_' && ok || bad "native: no TLS cipher shown"
[ "$(assocs k-par)" = 1 ] && [ "$(assocs k-nar)" = 1 ] && ok ||
	bad "native: kernel associations par $(assocs k-par), nar $(assocs k-nar), expected 1 each"
step "native: k-par's kernel association: $(assoc_line k-par), TLS $(ctl par peers --json |
	flat | grep -o '"cipher":"[^"]*"' | cut -d'"' -f4)"

check_handover native ff0e::201

# network-controlled, predictive: pAR pushes (PCTD, key included), nAR holds
# it until the MN's CTAR
prepare ff0e::202
ctl par trigger push $MNX nar > /dev/null && ok || bad "native: push trigger refused"
nar_held() { ctl nar transfers --json | flat | grep -q '"state":"held"'; }
wait_for 10 nar_held && ok || bad "native: nAR does not hold the pushed contexts"
nar_has ff0e::202 && bad "native: installed before the MN's CTAR" || ok
handover native-push && ok || bad "native push: $(cat "$T/native-push.err")"
nar_has ff0e::202 && ok || bad "native push: nAR did not join ff0e::202"
step "native: network-controlled push of ff0e::202 held at nAR, then claimed by the MN"
stop par
stop nar

# ---- leg 2: kernel (RFC 6951 encapsulation) <-> usrsctp --------------------------
conf par 10.1.0.1 nar 10.2.0.1 par-mn 'backend="kernel" udp-encaps="true"'
conf nar 10.2.0.1 par 10.1.0.1 nar-mn 'backend="usrsctp"'
daemon par k-par "$T/par.xml"
daemon nar k-nar "$T/nar.xml"
wait_auth par 1 60
wait_auth nar 1 60
ctl par status --json | flat | grep -q '"backend":"kernel"' && ok || bad "encaps: par not on kernel"
ctl nar status --json | flat | grep -q '"backend":"usrsctp"' && ok || bad "encaps: nar not on usrsctp"
[ "$(ip netns exec k-par cat /proc/sys/net/sctp/udp_port)" = 9899 ] && ok ||
	bad "encaps: net.sctp.udp_port in k-par is $(ip netns exec k-par cat /proc/sys/net/sctp/udp_port)"
# pAR's association is the kernel's; nAR's is usrsctp's (none in its kernel)
[ "$(assocs k-par)" = 1 ] && [ "$(assocs k-nar)" = 0 ] && ok ||
	bad "encaps: kernel associations par $(assocs k-par), nar $(assocs k-nar), expected 1 and 0"
step "encaps: k-par's kernel association (in UDP 9899): $(assoc_line k-par); k-nar: usrsctp"
check_handover encaps ff0e::203
stop par
stop nar

summary ctpd_kernel
