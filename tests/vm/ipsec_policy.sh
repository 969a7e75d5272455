#!/bin/bash
# ipsec_policy.sh: security mode `ipsec` on the kernel's SCTP refuses a peer
# that no ESP policy covers, and accepts it once one does (PROFILE 2;
# src/ctp/ctp_xfrm_policy.c).  Guest side of `make check-kernel`.
#
#   p-a 10.30.0.1 ------------ p-b 10.30.0.2     (two ctpd, security="ipsec")
#
#   1. no policy: each side refuses the other when the association comes
#      up, and its log names the peer and both missing directions; no CXTP
#      message crosses, the peers stay down (and keep retrying).
#   2. an outbound-only policy at a (its SA at both ends, nothing else at
#      b): still refused, now for the inbound direction alone.
#   (a restarts after each change, so as not to wait for its reconnection
#   back-off, which doubles up to 30 s)
#   3. ESP (AES-GCM, transport, SCTP only) both ways at both ends: the next
#      association (a restarted) is accepted by both; a CXTP message crosses, and the kernel's ESP SAs
#      counted the association's packets (so CXTP really went through ESP).
. "$(dirname "$0")/vmlib.sh"
A=10.30.0.1 B=10.30.0.2
ns p-a p-b
link p-a va p-b vb
ip -n p-a addr add $A/24 dev va
ip -n p-b addr add $B/24 dev vb

conf() {   # name address peer peer-address
	cat > "$T/$1.xml" <<EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$1" roles="ar"><address>$2</address></node>
  <transport backend="kernel" bind="$2"/>
  <peer name="$3" address="$4" security="ipsec"/>
  <mobile-nodes icmp="false"/>
  <timers reconnect-ms="200"/>
  <control socket="$T/$1.sock"/>
  <log level="info"/>
</ctpd>
EOF
}
conf a $A b $B
conf b $B a $A
daemon a p-a "$T/a.xml"
daemon b p-b "$T/b.xml"

refused() {   # name: its log has the refusal of its peer
	grep -q 'refused: security ipsec, but no ESP policy covers it' "$T/$1.log"
}
# 1. nothing covers the peer
wait_for 20 refused a && ok || bad "a did not refuse b: $(tail -5 "$T/a.log")"
wait_for 20 refused b && ok || bad "b did not refuse a: $(tail -5 "$T/b.log")"
line=$(grep -m1 'no ESP policy covers it' "$T/a.log")
step "1: a logs: ${line#*: }"
case $line in
*"peer b ($B"*"outbound $A port 5091 -> $B port 5091 (SCTP): no policy applies"*"inbound $B port 5091 -> $A port 5091 (SCTP): no policy applies"*) ok ;;
*) bad "a's refusal does not name the peer and both directions: $line" ;;
esac
ctl a peers --json | flat | grep -q '"last_error":"securityipsec:noESPpolicyoutboundinbound"' && ok ||
	bad "a's peer list does not say why: $(ctl a peers --json)"
sleep 1
has_up a 1 && bad "a has b up without ESP" || ok
has_up b 1 && bad "b has a up without ESP" || ok
ctl b stats --json | flat | grep -q '"messages_in":{[^}]*[1-9]' && bad "a CXTP message got through" || ok

# 2. an outbound policy at a only: a still refuses, for inbound
#    (with its SA at both ends, or a could not send at all)
GA=0x$(printf '%040x' 1) GB=0x$(printf '%040x' 2)
for n in p-a p-b; do
	ip -n $n xfrm state add src $A dst $B proto esp spi 0x3001 mode transport \
		replay-window 64 flag esn aead 'rfc4106(gcm(aes))' $GA 128
done
ip -n p-a xfrm policy add src $A dst $B proto sctp dir out \
	tmpl src $A dst $B proto esp mode transport
stop a     # (and starts again at once, rather than after its back-off)
daemon a p-a "$T/a.xml"
wait_for 30 refused a && ok || bad "a did not refuse b again: $(tail -5 "$T/a.log")"
line=$(grep -m1 'no ESP policy covers it' "$T/a.log")
step "2: a logs: ${line#*: }"
case $line in
*"outbound"*) bad "a still misses the outbound policy: $line" ;;
*"inbound $B port 5091 -> $A port 5091 (SCTP): no policy applies"*) ok ;;
*) bad "a's refusal: $line" ;;
esac

# 3. ESP both ways at both ends
for n in p-a p-b; do
	ip -n $n xfrm state add src $B dst $A proto esp spi 0x3002 mode transport \
		replay-window 64 flag esn aead 'rfc4106(gcm(aes))' $GB 128
done
# (b's first: a plaintext packet from b meeting a's new inbound policy would
# count as XfrmInTmplMismatch)
ip -n p-b xfrm policy add src $B dst $A proto sctp dir out tmpl src $B dst $A proto esp mode transport
ip -n p-b xfrm policy add src $A dst $B proto sctp dir in tmpl src $A dst $B proto esp mode transport
ip -n p-a xfrm policy add src $B dst $A proto sctp dir in tmpl src $B dst $A proto esp mode transport
# (a restarts again: b accepts a's new association, a accepts its own)
stop a
daemon a p-a "$T/a.xml"
wait_for 60 has_up a 1 && ok || bad "a does not accept b with ESP: $(ctl a peers; tail -3 "$T/a.log")"
wait_for 20 has_up b 1 && ok || bad "b does not accept a with ESP: $(ctl b peers; tail -3 "$T/b.log")"
ctl a peers --json | flat | grep -q '"security":"ipsec"' && ok || bad "a's peer is not security ipsec"
ctl a call send '{"peer":"b","hex":"26800008c0000201"}' > /dev/null && ok || bad "a cannot send to b"
ctc_in() { ctl b stats --json | flat | grep -q '"messages_in":{[^}]*"CTC":1'; }
wait_for 10 ctc_in && ok || bad "b did not get the CTC: $(ctl b stats --json | flat)"
pk() { ip -n "$1" -s xfrm state | awk -v spi="$2" '$0 ~ "spi " spi { on = 1 } on && /[0-9]\(packets\)/ {
	gsub("[(),]", " "); print $3; exit }'; }
out=$(pk p-a 0x00003001) in=$(pk p-b 0x00003001)
z=$(ip netns exec p-a awk '$2 != 0 { printf " %s=%s", $1, $2 }' /proc/net/xfrm_stat)
step "3: accepted; ESP SA 0x3001 a -> b: a sent ${out:-?} packets, b received ${in:-?}; xfrm_stat a:${z:- all 0}"
[ "${out:-0}" -gt 0 ] && [ "${in:-0}" -gt 0 ] && ok || bad "no SCTP packet went through ESP (a ${out:-?}, b ${in:-?})"
stop a
stop b
summary ipsec_policy
