# shellcheck shell=bash
# ike.sh: strongSwan's charon between two network namespaces, for
# ipsec_chain.sh ike (sourced; vmlib.sh before it).  Debian's charon and its
# plugins come into the guest at their own paths (kvm-run.sh -p
# /usr/lib/ipsec -p /usr/sbin/swanctl, and libgcc_s, which glibc loads for
# pthread_cancel without ldd knowing); each instance gets its own
# strongswan.conf (STRONGSWAN_CONF), a vici socket in $T and, since charon's
# pid file is fixed (/var/run/charon.pid), its own /var/run: `ip netns exec`
# already runs it in a mount namespace of its own, a tmpfs there is private.
#
#   ike_start NS_I ADDR_I NS_R ADDR_R
#       charon in both, IKEv2 with a PSK, initiated by NS_I (the MN): an
#       IKE_SA and two tunnel-mode CHILD_SAs, ESN, no rekeying, no DPD:
#         gcm  ADDR_I/32 <-> 10.99.0.0/24  aes128gcm16-esn, window 128
#         cbc  ADDR_I/32 <-> 10.98.0.0/24  aes128-sha256-esn, window 64
#   ike_spis        the MN's SPIs: out gcm, in gcm, out cbc, in cbc
#   ike_check_quiet no IKE message was sent since ike_mark (no exchange
#                   moved or re-keyed anything)
#   ike_mark        remember how many IKE messages each side has sent
#   ike_why         the last lines of both charons' logs
#   ike_stop        stop both
CHARON=/usr/lib/ipsec/charon
SWANCTL=/usr/sbin/swanctl
IKE_NS=() IKE_PIDS=()

ike_conf() {   # name local remote local-ts-prefix remote-ts-prefix... (gcm, cbc)
	local d=$T/ike-$1
	mkdir -p "$d"
	cat > "$d/strongswan.conf" <<EOF
charon {
  load = random nonce aes sha1 sha2 hmac gmp kdf pem pkcs1 x509 pubkey kernel-netlink socket-default vici
  install_routes = no
  install_virtual_ip = no
  retransmit_timeout = 8.0
  plugins {
    vici { socket = unix://$d/charon.vici }
    random { random = /dev/urandom }
  }
  filelog {
    ike {
      path = $d/charon.log
      flush_line = yes
      default = 1
      net = 1
      ike = 1
      time_format = %T
    }
  }
}
swanctl {
  load = pem pkcs1 x509 pubkey random
}
EOF
	cat > "$d/swanctl.conf" <<EOF
connections {
  ctp {
    version = 2
    local_addrs = $2
    remote_addrs = $3
    proposals = aes128-sha256-modp2048
    dpd_delay = 0
    rekey_time = 0
    reauth_time = 0
    local { auth = psk
            id = $1 }
    remote { auth = psk
             id = $6 }
    children {
      gcm { local_ts = $4
            remote_ts = $5
            esp_proposals = aes128gcm16-esn
            mode = tunnel
            replay_window = 128
            rekey_time = 0
            life_time = 0
            start_action = none }
      cbc { local_ts = $7
            remote_ts = $8
            esp_proposals = aes128-sha256-esn
            mode = tunnel
            replay_window = 64
            rekey_time = 0
            life_time = 0
            start_action = none }
    }
  }
}
secrets {
  ike-lab { id-a = mn
            id-b = s
            secret = 0x5a5b5c5d5e5f606162636465666768696a6b6c6d }
}
EOF
}

ike_run() {   # name ns
	local d=$T/ike-$1
	mkdir -p /var/run
	ip netns exec "$2" env STRONGSWAN_CONF="$d/strongswan.conf" sh -c \
		"mount -t tmpfs tmpfs /var/run && exec $CHARON" > "$d/stdout" 2>&1 &
	IKE_PIDS+=($!)
	PIDS+=($!)
	IKE_NS+=("$1")
}

ctl_ike() {   # name swanctl-args...
	local d=$T/ike-$1
	shift
	STRONGSWAN_CONF="$d/strongswan.conf" $SWANCTL "$@" --uri "unix://$d/charon.vici"
}

ike_ready() { ctl_ike "$1" --stats > /dev/null 2>&1; }

ike_start() {
	local nsi=$1 ai=$2 nsr=$3 ar=$4
	if [ ! -x $CHARON ] || [ ! -x $SWANCTL ]; then
		IKE_WHY="strongSwan is not in the guest (charon, swanctl)"
		return 1
	fi
	ike_conf mn "$ai" "$ar" "$ai/32" 10.99.0.0/24 s "$ai/32" 10.98.0.0/24
	ike_conf s "$ar" "$ai" 10.99.0.0/24 "$ai/32" mn 10.98.0.0/24 "$ai/32"
	ike_run mn "$nsi"
	ike_run s "$nsr"
	wait_for 20 ike_ready mn && wait_for 20 ike_ready s || { IKE_WHY="charon did not start"; return 1; }
	for n in mn s; do
		ctl_ike $n --load-all --file "$T/ike-$n/swanctl.conf" > "$T/ike-$n/load" 2>&1 ||
			{ IKE_WHY="swanctl --load-all ($n): $(cat "$T/ike-$n/load")"; return 1; }
	done
	for c in gcm cbc; do
		ctl_ike mn --initiate --child $c --timeout 60 > "$T/ike-mn/init-$c" 2>&1 ||
			{ IKE_WHY="initiate $c: $(tail -5 "$T/ike-mn/init-$c")"; return 1; }
	done
	step "ike: $(grep -c 'CHILD_SA .* established' "$T/ike-mn/charon.log") CHILD_SAs established by charon" \
		"($(grep -o 'IKE_SA ctp\[[0-9]*\] established.*' "$T/ike-mn/charon.log" | head -1))"
	ctl_ike mn --list-sas > "$T/ike-mn/sas" 2>&1
	sed 's/^/  ike: /' "$T/ike-mn/sas"
	ike_mark
	return 0
}

# The MN's SAs by direction and algorithm, from its kernel.
ike_spis() {
	ip -n c-mn xfrm state | awk -v m="$M" '
		/^src / { out = ($2 == m) }
		/proto esp spi/ { spi = $4; sub("\\(.*", "", spi) }
		/^\taead / { k[(out ? "o" : "i") "gcm"] = spi }
		/^\tenc / { k[(out ? "o" : "i") "cbc"] = spi }
		END { print k["ogcm"], k["igcm"], k["ocbc"], k["icbc"] }'
}

ike_sent() { grep -c 'sending packet' "$T/ike-$1/charon.log" || true; }
ike_mark() { IKE_SENT_MN=$(ike_sent mn) IKE_SENT_S=$(ike_sent s); }
ike_check_quiet() {
	[ "$(ike_sent mn)" = "$IKE_SENT_MN" ] && [ "$(ike_sent s)" = "$IKE_SENT_S" ] && {
		step "ike: no IKE message since the SAs were set up (mn sent $IKE_SENT_MN, s $IKE_SENT_S in all)"
		return 0
	}
	IKE_WHY="IKE messages were sent after the set-up: mn $IKE_SENT_MN -> $(ike_sent mn), s $IKE_SENT_S -> $(ike_sent s)"
	return 1
}

ike_why() {
	echo "${IKE_WHY:-}"
	for n in mn s; do
		[ -f "$T/ike-$n/charon.log" ] && { echo "--- charon $n"; tail -15 "$T/ike-$n/charon.log"; }
		[ -f "$T/ike-$n/stdout" ] && tail -5 "$T/ike-$n/stdout"
	done
}

ike_stop() {
	for p in "${IKE_PIDS[@]}"; do kill -TERM "$p" 2> /dev/null; done
	for p in "${IKE_PIDS[@]}"; do wait "$p" 2> /dev/null; done
	IKE_PIDS=()
}
