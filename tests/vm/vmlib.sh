# shellcheck shell=bash
# vmlib.sh: what the guest-side daemon tests of `make check-kernel` share
# (sourced by bash scripts in /test: ctpd_kernel.sh, ipsec_chain.sh,
# ipsec_policy.sh).  The programs and files lie next to the scripts: ctpd,
# ctpctl, ctpmn, plugins/, pki/ (tests/certs/make.sh, made on the host).
#
#   ok / bad WHY        count a check; bad prints FAIL and why
#   ns NAME...          fresh network namespaces (removed at exit)
#   link NS1 DEV1 NS2 DEV2   a veth pair between two namespaces, both up
#   daemon NAME NS CONF start ctpd -f in NS; log in $T/NAME.log, pid in pid_NAME
#   stop NAME           SIGTERM, wait, check the exit status (0: graceful)
#   ctl NAME ARGS...    ctpctl on NAME's control socket ($T/NAME.sock)
#   wait_auth NAME N    until N peers of NAME are up and authenticated
#   wait_for SECS CMD...  until CMD succeeds (0.1 s steps)
#   step TEXT...        print TEXT with the seconds since the script began
#   summary NAME        the "N passed, N failed" line; exit status
#
# Everything a daemon logs is kept in $T and shown (last lines) on failure.
set -u
VM=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/ctpvm.XXXXXX)
pass=0 fail=0
NSES=() PIDS=() DAEMONS=()
VM_START=$(cut -d' ' -f1 /proc/uptime)
step() {
	printf '[%5s s] %s\n' "$(awk -v s="$VM_START" -v e="$(cut -d' ' -f1 /proc/uptime)" \
		'BEGIN { printf "%.1f", e - s }')" "$*"
}
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

vm_cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2> /dev/null; done
	for n in "${NSES[@]}"; do ip netns del "$n" 2> /dev/null; done
}
trap vm_cleanup EXIT

ns() {
	for n in "$@"; do
		ip netns del "$n" 2> /dev/null
		ip netns add "$n" || { echo "cannot create namespace $n"; exit 1; }
		ip -n "$n" link set lo up
		ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
		NSES+=("$n")
	done
}

link() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

daemon() {
	local name=$1 n=$2 conf=$3
	ip netns exec "$n" "$VM/ctpd" -f -c "$conf" > "$T/$name.log" 2>&1 &
	PIDS+=($!)
	case " ${DAEMONS[*]} " in *" $name "*) ;; *) DAEMONS+=("$name") ;; esac
	eval "pid_$name=$!"
}

stop() {
	local name=$1 pid rc
	eval "pid=\${pid_$name:-}"
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2> /dev/null
	wait "$pid"
	rc=$?
	eval "pid_$name="
	[ $rc = 0 ] && ok || bad "$name exited $rc: $(tail -5 "$T/$name.log")"
}

ctl() {
	local name=$1
	shift
	"$VM/ctpctl" -s "$T/$name.sock" "$@"
}

wait_for() {
	local secs=$1 _
	shift
	for _ in $(seq $((secs * 10))); do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@" > /dev/null 2>&1
}

auth_count() { ctl "$1" peers --json 2> /dev/null | grep -c '"authenticated": true'; }
up_count() { ctl "$1" peers --json 2> /dev/null | tr -d ' \n' | grep -o '"state":"up"' | grep -c .; }
has_auth() { [ "$(auth_count "$1")" -ge "$2" ]; }
has_up() { [ "$(up_count "$1")" -ge "$2" ]; }

wait_auth() {
	wait_for "${3:-30}" has_auth "$1" "$2" && ok ||
		bad "$1: fewer than $2 peers authenticated: $(ctl "$1" peers 2>&1 | tail -n +1)"
}

# The state of one JSON member, spaces and newlines removed, for grep.
flat() { tr -d ' \n'; }

summary() {
	echo "$1: $pass passed, $fail failed"
	if [ $fail -ne 0 ]; then
		for d in "${DAEMONS[@]}"; do
			echo "--- $d (last 40 lines of its log)"
			tail -40 "$T/$d.log"
		done
	fi
	[ $fail -eq 0 ]
}
