#!/bin/bash
# ipsec_chain.sh [manual | ike]: the IPsec plugin's xfrm backend moving a
# mobile node's ESP SAs from one security gateway's kernel to another's,
# through ctpd daemons on kernel SCTP with TLS (guest side of `make
# check-kernel`).  The relay chain of PROFILE 3 (IPsec CT draft, figure 6:
# SAs of type 5, MN <-> an SG on pAR's side of G):
#
#                 c-pr 10.11.0.1 --------- c-s 10.11.0.2 ------- c-g
#     10.1.0.1 /     | 10.0.0.1                (S)      10.21.0.x  |  10.99.0.1 and
#   c-mn              |                                           |  10.98.0.1 (RN = G)
#   10.9.0.10 \     | 10.0.0.2                                  |
#     10.2.0.1 \  c-nr 10.12.0.1 --------- c-sp 10.12.0.2 ----- c-g
#                                             (S')      10.22.0.x
#
# The MN (address 10.9.0.10) has two tunnel-mode ESP SA pairs with S, real
# kernel ESP at both ends, ESN and anti-replay on:
#   0x1001 / 0x1002  AES-GCM-16/128        10.9.0.10 <-> 10.99.0.0/24
#   0x2001 / 0x2002  AES-CBC-128 + HMAC-SHA-256-128   <-> 10.98.0.0/24
# manual: made with `ip xfrm` at the MN and at S;
# ike:    negotiated by strongSwan's charon (IKEv2, PSK) between the MN and
#         S, the two CHILD_SAs' traffic selectors as above.
#
# Pings from the MN to G go through S; then the MN hands over to nAR
# (ctpmn, ICMP CTAR, reactive): nAR asks pAR (CT-Req), pAR collects the SAs
# from S (CT-Req, token 0; S freezes and snapshots them from its kernel),
# nAR classifies them (type 5) and relays them to S' (sg-replace), which
# installs them in its kernel; the commits travel back and S deletes its
# copies; nAR tells the MN the new gateway address (CTN).  The MN applies
# the CTN to its own kernel SAs (xfrm_drv mn-move: same keys, same
# counters), G routes the MN's network through S', and pings go on through
# S' with no IKE exchange.  The checks read the kernels' own counters (`ip
# -s xfrm state`, /proc/net/xfrm_stat): the sequence numbers go on from
# where they were (S' sends from S's next number plus the margin), nothing
# is refused as a replay or for integrity, and S holds no SA of the MN.
. "$(dirname "$0")/vmlib.sh"
MODE=${1:-manual}
if [ "$MODE" = ike ] && { [ ! -x /usr/lib/ipsec/charon ] || [ ! -x /usr/sbin/swanctl ]; }; then
	echo "*** ipsec_chain ike: SKIPPED: strongSwan's charon and swanctl are not in the guest"
	echo "*** (install strongswan-charon and strongswan-swanctl on the host: make deps)"
	exit 77
fi
M=10.9.0.10 S=10.11.0.2 SP=10.12.0.2 PR=10.11.0.1 NR=10.12.0.1
MARGIN=16384   # the default seq-margin (PROFILE 5.1)
N1=4 N2=3      # pings per SA pair before and after the handover

ns c-mn c-pr c-nr c-s c-sp c-g
link c-mn mn-a c-pr pr-mn
link c-mn mn-b c-nr nr-mn
link c-pr pr-nr c-nr nr-pr
link c-pr pr-s c-s s-pr
link c-nr nr-sp c-sp sp-nr
link c-s s-g c-g g-s
link c-sp sp-g c-g g-sp
a() { ip -n "$1" addr add "$3" dev "$2"; }
a c-mn lo $M/32; a c-mn mn-a 10.1.0.10/24; a c-mn mn-b 10.2.0.10/24
a c-pr pr-mn 10.1.0.1/24; a c-pr pr-nr 10.0.0.1/30; a c-pr pr-s $PR/24
a c-nr nr-mn 10.2.0.1/24; a c-nr nr-pr 10.0.0.2/30; a c-nr nr-sp $NR/24
a c-s s-pr $S/24; a c-s s-g 10.21.0.1/24
a c-sp sp-nr $SP/24; a c-sp sp-g 10.22.0.1/24
a c-g g-s 10.21.0.2/24; a c-g g-sp 10.22.0.2/24; a c-g lo 10.99.0.1/32; a c-g lo 10.98.0.1/32
r() { n=$1; shift; ip -n "$n" route add "$@"; }
r c-mn default via 10.1.0.1 src $M                 # attached to pAR
r c-pr $M/32 via 10.1.0.10; r c-pr 10.12.0.0/24 via 10.0.0.2
r c-nr $M/32 via 10.2.0.10; r c-nr 10.11.0.0/24 via 10.0.0.1
r c-s $M/32 via $PR; r c-s 10.99.0.0/24 via 10.21.0.2; r c-s 10.98.0.0/24 via 10.21.0.2
r c-sp $M/32 via $NR; r c-sp 10.99.0.0/24 via 10.22.0.2; r c-sp 10.98.0.0/24 via 10.22.0.2
r c-g $M/32 via 10.21.0.1                          # the MN's traffic through S

# ---- the MN's SAs with S ----------------------------------------------------------
# key N SEED: N octets of a fixed pattern (test SAs that never leave the guest)
key() { awk -v n="$1" -v s="$2" 'BEGIN { printf "0x"; for (i = 0; i < n; i++) printf "%02x", (s + 29 * i) % 256 }'; }
if [ "$MODE" = manual ]; then
	G1=$(key 20 1) G2=$(key 20 2) C1=$(key 16 3) H1=$(key 32 4) C2=$(key 16 5) H2=$(key 32 6)
	for n in c-mn c-s; do
		# shellcheck disable=SC2086 # keys are hex words
		{
		ip -n $n xfrm state add src $M dst $S proto esp spi 0x1001 reqid 1 mode tunnel \
			replay-window 128 flag esn aead 'rfc4106(gcm(aes))' $G1 128
		ip -n $n xfrm state add src $S dst $M proto esp spi 0x1002 reqid 1 mode tunnel \
			replay-window 128 flag esn aead 'rfc4106(gcm(aes))' $G2 128
		ip -n $n xfrm state add src $M dst $S proto esp spi 0x2001 reqid 2 mode tunnel \
			replay-window 64 flag esn enc 'cbc(aes)' $C1 auth-trunc 'hmac(sha256)' $H1 128
		ip -n $n xfrm state add src $S dst $M proto esp spi 0x2002 reqid 2 mode tunnel \
			replay-window 64 flag esn enc 'cbc(aes)' $C2 auth-trunc 'hmac(sha256)' $H2 128
		}
	done
	pol() {  # NS SRC DST DIR TMPL-SRC TMPL-DST REQID
		ip -n "$1" xfrm policy add src "$2" dst "$3" dir "$4" tmpl src "$5" dst "$6" \
			proto esp reqid "$7" mode tunnel
	}
	for net in 10.99.0.0/24:1 10.98.0.0/24:2; do
		id=${net#*:} net=${net%:*}
		pol c-mn $M/32 "$net" out $M $S "$id"
		pol c-mn "$net" $M/32 in $S $M "$id"
		pol c-s "$net" $M/32 out $S $M "$id"
		pol c-s $M/32 "$net" in $M $S "$id"
		pol c-s $M/32 "$net" fwd $M $S "$id"
	done
	step "manual: the MN's two SA pairs with S made with ip xfrm"
else
	. "$VM/ike.sh"
	ike_start c-mn $M c-s $S || { bad "ike: no CHILD_SAs: $(ike_why)"; summary ipsec_chain; exit 1; }
fi

# ---- helpers on the kernels' counters -------------------------------------------
# sa NS SPI: "src=A dst=B seq=N oseq=N packets=N replay=N failed=N" from ip -s xfrm state
# (or "none"); the SPI of the IKE mode's SAs is looked up by the SA's role
sa() {
	ip -n "$1" -s xfrm state 2> /dev/null | awk -v spi="$(printf '0x%08x' "$2")" '
		/^src / { if (on) exit; src = $2; dst = $4 }
		/proto esp spi/ { on = ($4 ~ "^" spi) }
		on && /seq-hi/ { gsub(",", ""); for (i = 1; i < NF; i++) {
			if ($i == "seq") s = $(i + 1); if ($i == "oseq") o = $(i + 1) } }
		on && /[0-9]\(packets\)/ { gsub("[(),]", " "); p = $3 }
		on && /replay-window .* replay .* failed/ { r = $4; f = $6 }
		END { if (!on) { print "none"; exit }
		      printf "src=%s dst=%s seq=%s oseq=%s packets=%s replay=%s failed=%s\n",
		          src, dst, s, o, p, r, f }'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
num() { printf '%d' "$(field "$1" "$2")"; }
xstat() {   # NS: the non-zero counters of /proc/net/xfrm_stat, or "all 0"
	local z
	z=$(ip netns exec "$1" awk '$2 != 0 { printf " %s=%s", $1, $2 }' /proc/net/xfrm_stat)
	echo "${z:- all 0}"
}
pings() {   # COUNT: the MN pings both of G's networks; both must answer every time
	local ok=0
	ip netns exec c-mn ping -q -A -c "$1" -W 3 -I $M 10.99.0.1 > "$T/ping1" 2>&1 && ok=$((ok + 1))
	ip netns exec c-mn ping -q -A -c "$1" -W 3 -I $M 10.98.0.1 > "$T/ping2" 2>&1 && ok=$((ok + 1))
	[ $ok = 2 ] || { cat "$T/ping1" "$T/ping2"; return 1; }
}

# the SPIs as the MN holds them: out GCM, in GCM, out CBC, in CBC
if [ "$MODE" = manual ]; then
	SPIS="0x1001 0x1002 0x2001 0x2002"
else
	SPIS=$(ike_spis)
fi
set -- $SPIS
O1=$1 I1=$2 O2=$3 I2=$4
step "$MODE: SPIs out/in $O1/$I1 (AES-GCM) and $O2/$I2 (AES-CBC + HMAC-SHA-256)"

# ---- traffic through S --------------------------------------------------------------
pings $N1 && ok || bad "pings through S before the handover"
for spi in $O1 $O2; do   # S received N1 (ike: plus nothing else) on each inbound SA
	v=$(sa c-s "$spi")
	[ "$(num "$v" seq)" = $N1 ] && [ "$(num "$v" packets)" = $N1 ] && ok ||
		bad "S: SA $spi after $N1 pings: $v"
done
for spi in $I1 $I2; do
	v=$(sa c-s "$spi")
	[ "$(num "$v" oseq)" = $N1 ] && ok || bad "S: SA $spi sent: $v"
done
step "before: S in  $O1: $(sa c-s "$O1")"
step "before: S out $I1: $(sa c-s "$I1")"

# ---- the daemons ---------------------------------------------------------------------
step "daemons starting"
conf() {   # name address roles peers-xml plugin-xml [mobile-nodes]
	cat > "$T/$1.xml" <<EOF
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$1" roles="$3"><address>$2</address></node>
  <transport backend="kernel" bind="$2"/>
  <tls ca="$VM/pki/ca.pem" cert="$VM/pki/$1.pem" key="$VM/pki/$1.key"/>
  $4
  <mobile-nodes icmp="${6:-false}"/>
  <plugins dir="$VM/plugins"><plugin name="ipsec">$5</plugin></plugins>
  <timers reconnect-ms="200" max-transfer-ms="2000" max-handover-ms="10000"/>
  <control socket="$T/$1.sock"/>
  <log level="info"/>
</ctpd>
EOF
}
SAD='<sad backend="xfrm"/>'
conf pr $PR ar "<peer name=\"nr\" address=\"$NR\"/><peer name=\"s\" address=\"$S\" roles=\"sg\"/>" \
	"$SAD<path plane=\"data\"><hop address=\"$PR\"/><hop address=\"$S\" sg=\"true\"/><hop address=\"10.99.0.1\"/></path>" true
conf nr $NR ar "<peer name=\"pr\" address=\"$PR\"/><peer name=\"sp\" address=\"$SP\" roles=\"sg\"/>" \
	"$SAD<path plane=\"data\"><hop address=\"$NR\"/><hop address=\"$SP\"/><hop address=\"10.99.0.1\"/></path><sg-replace local=\"$SP\" remote=\"$S\" peer=\"sp\"/>" true
conf s $S sg "<peer name=\"pr\" address=\"$PR\"/>" "$SAD"
conf sp $SP sg "<peer name=\"nr\" address=\"$NR\"/>" "$SAD"
daemon s c-s "$T/s.xml"
daemon sp c-sp "$T/sp.xml"
daemon pr c-pr "$T/pr.xml"
daemon nr c-nr "$T/nr.xml"
wait_auth pr 2 60
wait_auth nr 2 60
wait_auth s 1
wait_auth sp 1
ctl s call sas '{}' > "$T/s-sas.json" 2>&1
[ "$(grep -c '"spi"' "$T/s-sas.json")" -ge 4 ] && ok || bad "S's ctpd does not see the 4 SAs: $(cat "$T/s-sas.json")"
step "daemons up and authenticated (TLS), S's ctpd sees the MN's 4 SAs"

# ---- the handover ----------------------------------------------------------------------
KEY=00112233445566778899aabbccddeeff00112233
ctl pr mn-key set $M $KEY > /dev/null && ok || bad "mn-key refused"
ip -n c-mn route replace default via 10.2.0.1 src $M    # the MN moves to nAR's link
ip netns exec c-mn "$VM/ctpmn" handover --key $KEY --prev $M --par $PR --nar $NR --src $M \
	--timeout-ms 20000 --ctn-ms 5000 --json > "$T/ho.json" 2> "$T/ho.err"
rc=$?
[ $rc = 0 ] && grep -q '"result": "ok"' "$T/ho.json" && ok ||
	bad "handover: ctpmn exit $rc: $(cat "$T/ho.err") $(cat "$T/ho.json")"
step "handover: $(tr -d '\n' < "$T/ho.json" | grep -o '"rtt_ms": [0-9.]*' | head -1), CTN: $(tr -d ' \n' < "$T/ho.json" |
	grep -o '"verified":[a-z]*' | head -1)"
tr -d ' \n' < "$T/ho.json" | grep -q '"verified":true' && ok || bad "no verified CTN: $(cat "$T/ho.json")"
tr -d ' \n' < "$T/ho.json" | grep -q "\"$SP\"" && ok || bad "the CTN does not name S' ($SP): $(cat "$T/ho.json")"
wait_for 10 sh -c "[ \"\$(ip -n c-s xfrm state | grep -c '^src')\" = 0 ]"
left=$(ip -n c-s xfrm state | grep -c '^src')
[ "$left" = 0 ] && ok || bad "S still holds $left SAs: $(ip -n c-s xfrm state | grep -A1 '^src')"
for spi in $O1 $I1 $O2 $I2; do
	v=$(sa c-sp "$spi")
	case $v in
	"src=$M dst=$SP "* | "src=$SP dst=$M "*) ok ;;
	*) bad "S' holds SA $spi as: $v" ;;
	esac
done
# the replay state came along: S' received up to N1, sends from N1 + 1 + margin
v=$(sa c-sp "$O1"); [ "$(num "$v" seq)" = $N1 ] && ok || bad "S' in $O1 starts at: $v (expected seq $N1)"
v=$(sa c-sp "$I1"); [ "$(num "$v" oseq)" = $((N1 + MARGIN)) ] && ok ||
	bad "S' out $I1 starts at: $v (expected oseq $((N1 + MARGIN)))"
step "moved: S' in  $O1: $(sa c-sp "$O1")"
step "moved: S' out $I1: $(sa c-sp "$I1")"

# ---- the MN applies the CTN; the network routes its traffic through S' ----------------------
ip netns exec c-mn "$VM/xfrm_drv" mn-move $M $S $SP > "$T/mn-move" 2>&1 && ok || bad "mn-move: $(cat "$T/mn-move")"
sed 's/^/  /' "$T/mn-move"
ip -n c-g route replace $M/32 via 10.22.0.1
pings $N2 && ok || bad "pings through S' after the handover"

# ---- the kernels' counters -----------------------------------------------------------------
for spi in $O1 $O2; do
	v=$(sa c-sp "$spi")
	[ "$(num "$v" seq)" = $((N1 + N2)) ] && [ "$(num "$v" packets)" = $((N1 + N2)) ] && ok ||
		bad "S' in $spi: $v (expected seq and packets $((N1 + N2)))"
	[ "$(num "$v" replay)" = 0 ] && [ "$(num "$v" failed)" = 0 ] && ok || bad "S' in $spi: $v"
done
for spi in $I1 $I2; do
	v=$(sa c-sp "$spi")
	[ "$(num "$v" oseq)" = $((N1 + MARGIN + N2)) ] && ok ||
		bad "S' out $spi: $v (expected oseq $((N1 + MARGIN + N2)))"
	w=$(sa c-mn "$spi")
	[ "$(num "$w" seq)" = $((N1 + MARGIN + N2)) ] && [ "$(num "$w" replay)" = 0 ] &&
		[ "$(num "$w" failed)" = 0 ] && ok || bad "the MN's in $spi: $w"
done
for spi in $O1 $O2; do
	w=$(sa c-mn "$spi")
	[ "$(num "$w" oseq)" = $((N1 + N2)) ] && ok || bad "the MN's out $spi: $w"
done
step "after:  S' in  $O1: $(sa c-sp "$O1")"
step "after:  S' out $I1: $(sa c-sp "$I1")"
step "after:  MN in  $I1: $(sa c-mn "$I1")"
for n in c-mn c-s c-sp; do
	z=$(xstat $n)
	step "xfrm_stat $n:$z"
	[ "$z" = " all 0" ] && ok || bad "$n: xfrm_stat errors:$z"
done
if [ "$MODE" = ike ]; then
	ike_check_quiet && ok || bad "ike: $(ike_why)"
fi

for d in pr nr s sp; do stop $d; done
[ "$MODE" = ike ] && ike_stop
summary "ipsec_chain $MODE"
