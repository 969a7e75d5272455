#!/bin/sh
# record.sh OUT: the guest side of the xfrm recordings (see README).  SAs
# made with `ip xfrm` (iproute2), never with ctpd, traffic through them in
# namespaces a and b, then the kernel's raw answers to GETSA, GETAE and a
# GETPOLICY dump, taken with xfrm_drv (the backend's own netlink layer),
# and what `ip -s xfrm state` and `ip xfrm policy` print about the same.
set -e
OUT=$1
mkdir -p "$OUT"
ip netns add a; ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a link set va address 02:00:00:00:00:0a; ip -n b link set vb address 02:00:00:00:00:0b
for i in 1 3 11 21 31 41; do ip -n a addr add 192.0.2.$i/24 dev va; done
for i in 2 4 12 22 32 42; do ip -n b addr add 192.0.2.$i/24 dev vb; done
ip -n a addr add 2001:db8::1/64 dev va nodad; ip -n b addr add 2001:db8::2/64 dev vb nodad
for ns in a b; do ip -n $ns link set lo up; done
ip -n a link set va up; ip -n b link set vb up
# no ARP/ND: IPv6 neighbour discovery would go through the SAs too
for i in 2 4 12 22 32 42; do ip -n a neigh add 192.0.2.$i lladdr 02:00:00:00:00:0b dev va; done
for i in 1 3 11 21 31 41; do ip -n b neigh add 192.0.2.$i lladdr 02:00:00:00:00:0a dev vb; done
ip -n a neigh add 2001:db8::2 lladdr 02:00:00:00:00:0b dev va
ip -n b neigh add 2001:db8::1 lladdr 02:00:00:00:00:0a dev vb
ip -n a addr add 10.1.0.1/32 dev lo; ip -n a route add 10.2.0.0/16 via 192.0.2.12 src 10.1.0.1
ip -n b addr add 10.2.0.1/32 dev lo; ip -n b route add 10.1.0.0/16 via 192.0.2.11 src 10.2.0.1

# key N SEED: N octets of a fixed pattern (these SAs never leave the guest)
key() { awk -v n="$1" -v s="$2" 'BEGIN { printf "0x"; for (i = 0; i < n; i++) printf "%02x", (s + 13 * i) % 256 }'; }
both() { ip -n a xfrm "$@"; ip -n b xfrm "$@"; }
pol() {  # pol NS SRC DST DIR TMPL-SRC TMPL-DST REQID MODE
  ip -n "$1" xfrm policy add src "$2" dst "$3" dir "$4" \
     tmpl src "$5" dst "$6" proto esp reqid "$7" mode "$8"
}
pair() {  # pair A-ADDR B-ADDR REQID: transport-mode policies both ways
  pol a "$1" "$2" out "$1" "$2" "$3" transport; pol a "$2" "$1" in "$2" "$1" "$3" transport
  pol b "$2" "$1" out "$2" "$1" "$3" transport; pol b "$1" "$2" in "$1" "$2" "$3" transport
}
# ping_ DST COUNT [OPTIONS]: a -> b; the source must be the SA's own address
# (-I), not the interface's first one, or no policy matches
# shellcheck disable=SC2086 # $3 is options, split on purpose
ping_() { ip netns exec a ping -A -q -c "$2" -W 2 $3 "$1" | tail -1; }

echo "record.sh: gcm"
# gcm: AES-GCM-16/128, ESN, window 64, three bursts a -> b (1-3, 41-43,
# 98-100: the last two straddle the receiver's ring, 100 - 1 = 99 % 64 = 35)
# (the keys are hex words: unquoted $K is safe)
K1=$(key 20 1) K2=$(key 20 2)
gcm_out() {  # the sender's SA, its counter at $1
  ip -n a xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x101 reqid 1 \
     mode transport replay-window 64 flag esn replay-oseq "$1" aead 'rfc4106(gcm(aes))' $K1 128
}
gcm_out 0
ip -n b xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x101 reqid 1 mode transport \
   replay-window 64 flag esn aead 'rfc4106(gcm(aes))' $K1 128
both state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x102 reqid 1 mode transport \
   replay-window 64 flag esn aead 'rfc4106(gcm(aes))' $K2 128
pair 192.0.2.1 192.0.2.2 1
ping_ 192.0.2.2 3
ip -n a xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x101; gcm_out 40
ping_ 192.0.2.2 3
ip -n a xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x101; gcm_out 97
ping_ 192.0.2.2 3

echo "record.sh: esnhi"
# esnhi: AES-GCM-8/256 ESN, numbers above 2^32 (the receiver starts at
# seq-hi 1, the sender at oseq-hi 1, oseq 0x20)
K3=$(key 36 3) K4=$(key 36 4)
ip -n a xfrm state add src 192.0.2.3 dst 192.0.2.4 proto esp spi 0x103 reqid 3 mode transport \
   replay-window 64 flag esn replay-oseq-hi 1 replay-oseq 0x20 aead 'rfc4106(gcm(aes))' $K3 64
ip -n b xfrm state add src 192.0.2.3 dst 192.0.2.4 proto esp spi 0x103 reqid 3 mode transport \
   replay-window 64 flag esn replay-seq-hi 1 replay-seq 0x10 aead 'rfc4106(gcm(aes))' $K3 64
both state add src 192.0.2.4 dst 192.0.2.3 proto esp spi 0x104 reqid 3 mode transport \
   replay-window 64 flag esn aead 'rfc4106(gcm(aes))' $K4 64
pair 192.0.2.3 192.0.2.4 3
ping_ 192.0.2.4 3 "-I 192.0.2.3"

echo "record.sh: cbc"
# cbc: AES-CBC-128 + HMAC-SHA-256-128, tunnel 10.1/16 <-> 10.2/16 over
# .11 <-> .12, window 32 without ESN (the legacy XFRMA_REPLAY_VAL), an SA
# selector of its own and lifetimes
K5=$(key 16 5) K6=$(key 32 6) K7=$(key 16 7) K8=$(key 32 8)
LIM="limit byte-soft 900000 limit byte-hard 1000000 limit packet-soft 9000 limit packet-hard 10000
 limit time-soft 3000 limit time-hard 3600 limit time-use-soft 1000 limit time-use-hard 1200"
# shellcheck disable=SC2086
both state add src 192.0.2.11 dst 192.0.2.12 proto esp spi 0x201 reqid 2 mode tunnel \
   replay-window 32 sel src 10.1.0.0/16 dst 10.2.0.0/16 \
   enc 'cbc(aes)' $K5 auth-trunc 'hmac(sha256)' $K6 128 $LIM
# shellcheck disable=SC2086
both state add src 192.0.2.12 dst 192.0.2.11 proto esp spi 0x202 reqid 2 mode tunnel \
   replay-window 32 sel src 10.2.0.0/16 dst 10.1.0.0/16 \
   enc 'cbc(aes)' $K7 auth-trunc 'hmac(sha256)' $K8 128 $LIM
pol a 10.1.0.0/16 10.2.0.0/16 out 192.0.2.11 192.0.2.12 2 tunnel
pol a 10.2.0.0/16 10.1.0.0/16 in 192.0.2.12 192.0.2.11 2 tunnel
pol a 10.2.0.0/16 10.1.0.0/16 fwd 192.0.2.12 192.0.2.11 2 tunnel
pol b 10.2.0.0/16 10.1.0.0/16 out 192.0.2.12 192.0.2.11 2 tunnel
pol b 10.1.0.0/16 10.2.0.0/16 in 192.0.2.11 192.0.2.12 2 tunnel
pol b 10.1.0.0/16 10.2.0.0/16 fwd 192.0.2.11 192.0.2.12 2 tunnel
ping_ 10.2.0.1 4 "-I 10.1.0.1"

echo "record.sh: chacha"
# chacha: ChaCha20-Poly1305 in UDP (RFC 3948) 4500 <-> 4500, window 32
K9=$(key 36 9) K10=$(key 36 10)
both state add src 192.0.2.21 dst 192.0.2.22 proto esp spi 0x301 reqid 4 mode transport \
   replay-window 32 encap espinudp 4500 4500 0.0.0.0 aead 'rfc7539esp(chacha20,poly1305)' $K9 128
both state add src 192.0.2.22 dst 192.0.2.21 proto esp spi 0x302 reqid 4 mode transport \
   replay-window 32 encap espinudp 4500 4500 0.0.0.0 aead 'rfc7539esp(chacha20,poly1305)' $K10 128
pair 192.0.2.21 192.0.2.22 4
ip netns exec a ./xfrm_drv encap-sock 4500 & ea=$!
ip netns exec b ./xfrm_drv encap-sock 4500 & eb=$!
sleep 1
ping_ 192.0.2.22 2 "-I 192.0.2.21"
kill $ea $eb

echo "record.sh: ctr6"
# ctr6: IPv6, AES-CTR-256 + HMAC-SHA-512-256, window 256 without ESN (the
# ESN structure in bitmap mode); bursts 1-3, 101-103, 301-303
K11=$(key 36 11) K12=$(key 64 12) K13=$(key 36 13) K14=$(key 64 14)
ctr_out() {
  ip -n a xfrm state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x401 reqid 5 \
     mode transport replay-window 256 replay-oseq "$1" \
     enc 'rfc3686(ctr(aes))' $K11 auth-trunc 'hmac(sha512)' $K12 256
}
ctr_out 0
ip -n b xfrm state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x401 reqid 5 \
   mode transport replay-window 256 enc 'rfc3686(ctr(aes))' $K11 auth-trunc 'hmac(sha512)' $K12 256
both state add src 2001:db8::2 dst 2001:db8::1 proto esp spi 0x402 reqid 5 mode transport \
   replay-window 256 enc 'rfc3686(ctr(aes))' $K13 auth-trunc 'hmac(sha512)' $K14 256
pair 2001:db8::1 2001:db8::2 5
ping_ 2001:db8::2 3 -6
ip -n a xfrm state delete src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x401; ctr_out 100
ping_ 2001:db8::2 3 -6
ip -n a xfrm state delete src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x401; ctr_out 300
ping_ 2001:db8::2 3 -6

echo "record.sh: marked"
# marked: AES-CBC-256 + HMAC-SHA-384-192, mark and if_id, no traffic
ip -n a xfrm state add src 192.0.2.31 dst 192.0.2.32 proto esp spi 0x501 reqid 6 \
   mode transport mark 0x10 mask 0xff if_id 7 replay-window 32 \
   enc 'cbc(aes)' "$(key 32 15)" auth-trunc 'hmac(sha384)' "$(key 48 16)" 192
# sha96: HMAC-SHA-256 truncated to 96 bits, which PROFILE 6 cannot carry
ip -n a xfrm state add src 192.0.2.41 dst 192.0.2.42 proto esp spi 0x601 reqid 7 \
   mode transport enc 'cbc(aes)' "$(key 16 17)" auth 'hmac(sha256)' "$(key 32 18)"

# the recordings: GETSA + GETAE per SA as each namespace holds it, the SPD
date +%s > "$OUT/now.txt"
rec() {  # rec NS NAME DST SPI [MARK MASK]
  ns=$1 name=$2; shift 2
  ip netns exec "$ns" ./xfrm_drv dump-sa "$OUT/$ns-$name" "$@"
}
for ns in a b; do
  rec $ns gcm-ab 192.0.2.2 0x101; rec $ns gcm-ba 192.0.2.1 0x102
  rec $ns esnhi-ab 192.0.2.4 0x103; rec $ns esnhi-ba 192.0.2.3 0x104
  rec $ns cbc-ab 192.0.2.12 0x201; rec $ns cbc-ba 192.0.2.11 0x202
  rec $ns chacha-ab 192.0.2.22 0x301; rec $ns chacha-ba 192.0.2.21 0x302
  rec $ns ctr6-ab 2001:db8::2 0x401; rec $ns ctr6-ba 2001:db8::1 0x402
  ip netns exec $ns ./xfrm_drv dump-spd "$OUT/$ns-spd.hex"
done
rec a marked 192.0.2.32 0x501 0x10 0xff
rec a sha96 192.0.2.42 0x601
# every SA must have carried what was sent through it
for ns in a b; do
  ip -n $ns -s xfrm state > "$OUT/$ns-state.txt"
  ip -n $ns xfrm policy > "$OUT/$ns-policy.txt"
  ip netns exec $ns cat /proc/net/xfrm_stat > "$OUT/$ns-xfrm_stat.txt"
done
# traffic went where it was meant to: the receivers counted it
for spi in 0x00000101 0x00000103 0x00000201 0x00000301 0x00000401; do
  n=$(awk -v s="$spi" 'index($4, s) == 1 { f = 1 } f && c { sub(/\(packets\)/, "", $2); print $2; exit }
      f && /lifetime current:/ { c = 1 }' \
      "$OUT/b-state.txt")
  [ "${n:-0}" -gt 0 ] || { echo "record.sh: no traffic through SA $spi in b"; exit 1; }
done
uname -r > "$OUT/kernel.txt"; ip -V >> "$OUT/kernel.txt"
echo "record.sh: $(ls "$OUT" | wc -l) files in $OUT"
