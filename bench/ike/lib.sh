# shellcheck shell=bash disable=SC2034
# bench/ike/lib.sh: the IKEv2 side's helpers, sourced by bench/ike_*.sh
# after bench/lib/common.sh.
#
# The method is perf-anchors.md's: one charon with the load-tester plugin
# and its fake kernel (no SA ever reaches the kernel) initiates to itself on
# 127.0.0.1, so initiator and responder share one process and every figure
# covers both ends.  We run it in a network namespace of its own when we
# can: its loopback carries nothing but our IKE traffic, and a system IKE
# daemon on UDP 500 is no obstacle (the plugin always talks to port 500).

IKE_SS=$BENCH_BUILD/bench/strongswan
IKE_CHARON=$IKE_SS/libexec/ipsec/charon
IKE_SWANCTL=$IKE_SS/sbin/swanctl
IKE_PKI=$IKE_SS/bin/pki
IKE_W=$BENCH_RAW
IKE_PSK=ctpd-bench-psk-0123456789abcdef
mkdir -p "$IKE_W/cfg" "$IKE_W/logs"

# ike_prepare: is the IKEv2 side measurable?  Sets IKE_STRONGSWAN (what was
# built) or IKE_REASON (why not) and returns 0 or 1.  bench/run.sh runs the
# build as its own phase and leaves its verdict in $BENCH_DIR/ike.prepare;
# a script run alone builds (or finds the cached build) itself.
ike_prepare() {
	local verdict
	IKE_REASON=
	if [ "$(id -u)" != 0 ]; then
		IKE_REASON="needs root (charon binds UDP 500, tcpdump captures)"
		return 1
	fi
	if [ -f "$BENCH_DIR/ike.prepare" ]; then
		verdict=$(cat "$BENCH_DIR/ike.prepare")
	else
		verdict=$("$BENCH_TOP/bench/ike/prepare.sh" "$BENCH_BUILD" 2>&1 | tail -1)
	fi
	case $verdict in
	ok\ *)
		IKE_STRONGSWAN_BUILD=${verdict#ok }
		# "strongSwan 5.9.8" for the notes; the whole line is in the report
		IKE_STRONGSWAN="$(echo "$IKE_STRONGSWAN_BUILD" | cut -d' ' -f1-2) + load-tester"
		;;
	fail\ *)
		IKE_REASON="strongSwan with load-tester could not be built: ${verdict#fail }"
		return 1
		;;
	*)
		IKE_REASON="strongSwan build gave no verdict: $verdict"
		return 1
		;;
	esac
	local t
	for t in tcpdump tshark setsid nice; do
		if ! command -v "$t" > /dev/null; then
			IKE_REASON="$t is missing (scripts/deps.sh bench installs it)"
			return 1
		fi
	done
	return 0
}

# ike_enter_netns "$@": re-run the calling script inside a new network
# namespace with its loopback up; falls back to the host's namespace, where
# UDP 500 must then be free.  Sets IKE_NETNS to say which.
ike_enter_netns() {
	if [ -z "${IKE_IN_NETNS:-}" ] && command -v unshare > /dev/null &&
		command -v ip > /dev/null && unshare --net true 2> /dev/null; then
		IKE_IN_NETNS=1 exec unshare --net -- "$0" "$@"
	fi
	if [ "${IKE_IN_NETNS:-}" = 1 ]; then
		ip link set lo up
		IKE_NETNS="a network namespace of its own (unshare --net), loopback only"
	else
		IKE_NETNS="the host's network namespace"
	fi
	export IKE_NETNS
}

# ike_port500_busy: is some socket bound to UDP 500 (0x01F4) here?
ike_port500_busy() {
	awk 'NR > 1 { split($2, a, ":"); if (a[2] == "01F4") f = 1 } END { exit !f }' \
		/proc/net/udp /proc/net/udp6 2> /dev/null
}

# ike_mkconf NAME IKE_PROPOSAL ESP_PROPOSAL AUTH(psk|pubkey) DELETE(yes|no)
#     INITIATORS ITERATIONS DELAY_MS INIT_LIMIT
# Writes $IKE_W/cfg/NAME.conf, a complete strongswan.conf
# (perf-anchors.md appendix A, mkconf.sh, with half_open_timeout = 2).
ike_mkconf() {
	local name=$1 prop=$2 esp=$3 auth=$4 del=$5 ids
	if [ "$auth" = pubkey ]; then
		# The plugin's built-in RSA-1024 CA and per-lookup certificates are
		# switched off by pointing at missing files; real certificates are
		# loaded with swanctl --load-creds (ike_load_creds).
		ids="initiator_id = CN=client, OU=load-test, O=strongSwan
      responder_id = CN=srv, OU=load-test, O=strongSwan
      issuer_key = $IKE_W/cfg/none.key
      issuer_cert = $IKE_W/cfg/none.crt"
	else
		ids="preshared_key = $IKE_PSK"
	fi
	cat > "$IKE_W/cfg/$name.conf" << EOF
charon {
  reuse_ikesa = no
  dos_protection = no
  ikesa_table_size = 4096
  ikesa_table_segments = 16
  threads = 16
  install_routes = no
  retransmit_timeout = 4.0
  accept_private_algs = yes
  half_open_timeout = 2
  filelog {
    main {
      path = $IKE_W/logs/$name.log
      time_format = %s
      time_add_ms = yes
      default = 0
      flush_line = yes
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
  plugins {
    load-tester {
      enable = yes
      fake_kernel = yes
      initiators = $6
      iterations = $7
      delay = $8
      init_limit = $9
      proposal = $prop
      esp = $esp
      initiator_auth = $auth
      responder_auth = $auth
      child_rekey = 600
      delete_after_established = $del
      $ids
    }
  }
}
EOF
}

# ike_pki KIND(ecdsa): a CA and a "srv" and a "client" certificate, laid out
# for `swanctl --load-creds --file DIR/swanctl.conf`.  Prints DIR.
ike_pki() {
	local kind=$1 d=$IKE_W/pki/$1 gen typ n
	case $kind in
	ecdsa) gen=(--type ecdsa --size 256) typ=ecdsa ;;
	rsa) gen=(--type rsa --size 2048) typ=rsa ;;
	esac
	if [ ! -f "$d/x509/client.pem" ]; then
		mkdir -p "$d/x509ca" "$d/x509" "$d/private"
		: > "$d/swanctl.conf"
		"$IKE_PKI" --gen "${gen[@]}" --outform pem > "$d/ca.key"
		"$IKE_PKI" --self --ca --lifetime 3650 --in "$d/ca.key" --type "$typ" \
			--dn "CN=ctpd bench CA, O=strongSwan" --digest sha256 \
			--outform pem > "$d/x509ca/ca.pem"
		for n in srv client; do
			"$IKE_PKI" --gen "${gen[@]}" --outform pem > "$d/private/$n.pem"
			"$IKE_PKI" --pub --in "$d/private/$n.pem" --type "$typ" |
				"$IKE_PKI" --issue --cacert "$d/x509ca/ca.pem" --cakey "$d/ca.key" \
					--digest sha256 --dn "CN=$n, OU=load-test, O=strongSwan" \
					--outform pem > "$d/x509/$n.pem"
		done
	fi
	echo "$d"
}

# ike_charon_start NAME: start charon on cfg/NAME.conf at nice -20 (in its
# own session: the load-tester's shutdown path may kill(0, ...), pitfall 3),
# optionally pinned ($IKE_PIN, e.g. "taskset -c 0"); wait for its vici
# socket.  Sets IKE_PID.
ike_charon_start() {
	local name=$1 i pin
	read -r -a pin <<< "${IKE_PIN:-}"
	rm -f "$IKE_W/logs/$name.log" "$IKE_SS/run/charon.pid" "$IKE_SS/run/charon.vici"
	STRONGSWAN_CONF=$IKE_W/cfg/$name.conf nice -n -20 "${pin[@]}" setsid \
		"$IKE_CHARON" > "$IKE_W/logs/$name.out" 2>&1 &
	IKE_PID=$!
	for i in $(seq 150); do
		if [ -S "$IKE_SS/run/charon.vici" ]; then
			# $! is charon itself (setsid execs when not a group leader);
			# its PID file says so for certain
			[ -s "$IKE_SS/run/charon.pid" ] && IKE_PID=$(cat "$IKE_SS/run/charon.pid")
			return 0
		fi
		kill -0 "$IKE_PID" 2> /dev/null || break
		sleep 0.02
	done
	bench_log "charon ($name) did not come up: $(tail -2 "$IKE_W/logs/$name.out")"
	return 1
}

# ike_charon_stop [now]: SIGTERM, then SIGKILL after 3 s (a charon whose
# initiator threads wait on init_limit may hang in shutdown, pitfall 10);
# "now": SIGKILL at once, when the measurement is over and a clean shutdown
# would only cost time (the fake kernel leaves nothing to clean up).
ike_charon_stop() {
	[ -n "${IKE_PID:-}" ] || return 0
	if [ "${1:-}" != now ]; then
		kill -TERM "$IKE_PID" 2> /dev/null
		for _ in $(seq 30); do
			kill -0 "$IKE_PID" 2> /dev/null || break
			sleep 0.1
		done
	fi
	kill -KILL "$IKE_PID" 2> /dev/null
	wait "$IKE_PID" 2> /dev/null
	IKE_PID=
	rm -f "$IKE_SS/run/charon.pid" "$IKE_SS/run/charon.vici"
}

# ike_load_creds NAME DIR: load certificates and keys into the running charon.
ike_load_creds() {
	STRONGSWAN_CONF=$IKE_W/cfg/$1.conf "$IKE_SWANCTL" --load-creds --noprompt \
		--file "$2/swanctl.conf" > "$IKE_W/logs/$1.creds" 2>&1
}

ike_swanctl() {
	local name=$1
	shift
	STRONGSWAN_CONF=$IKE_W/cfg/$name.conf nice -n -20 "$IKE_SWANCTL" "$@"
}

# ike_other_cores BUSY0 BUSY1 CHARON0 CHARON1 T0_NS T1_NS: cores used by
# everything but charon over the interval.
ike_other_cores() {
	awk -v s0="$1" -v s1="$2" -v c0="$3" -v c1="$4" -v t0="$5" -v t1="$6" \
		-v tck="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.2f\n", ((s1 - s0) - (c1 - c0)) / tck / ((t1 - t0) / 1e9) }'
}

# ike_cleanup: never leave a charon or a tcpdump behind.
ike_cleanup() {
	ike_charon_stop now
	if [ -n "${IKE_TD:-}" ]; then
		kill -INT "$IKE_TD" 2> /dev/null
		wait "$IKE_TD" 2> /dev/null
		IKE_TD=
	fi
}
