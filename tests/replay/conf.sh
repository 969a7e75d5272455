# tests/replay/conf.sh: sourced by record.sh and run.sh, so that a replayed
# node runs the configuration its recording was made with.
#
# replay_conf FILE NAME ADDR PEER PEER-ADDR MN-IF MN CONTROL [KEYLOG]
#   an access router as tests/netns/handover.sh runs it: usrsctp + TLS with
#   the certificates in pki/ next to FILE, the mld plugin joining on MN-IF,
#   MN = "icmp" (raw ICMP, the recordings) or a UDP port (the replays,
#   which need no raw sockets); KEYLOG, when given, is where the TLS key
#   log goes (the wire recordings).
replay_conf() {
	_keylog=
	[ -n "${9:-}" ] && _keylog=" keylog=\"$9\" allow-keylog=\"true\""
	if [ "$7" = icmp ]; then
		_mn='<mobile-nodes icmp="true"/>'
	else
		_mn="<mobile-nodes icmp=\"false\" udp-port=\"$7\"/>"
	fi
	cat > "$1" <<EOC
<?xml version="1.0"?>
<ctpd xmlns="urn:ctpd:config:1">
  <node name="$2" roles="ar"><address>$3</address></node>
  <transport backend="usrsctp" bind="$3"/>
  <tls ca="pki/ca.pem" cert="pki/$2.pem" key="pki/$2.key"$_keylog/>
  <peer name="$4" address="$5"/>
  $_mn
  <plugins dir="$B/plugins"><plugin name="mld"><interface name="$6"/></plugin></plugins>
  <timers reconnect-ms="200" max-transfer-ms="200" max-handover-ms="3000"/>
  <control socket="$8"/>
  <log level="info"/>
</ctpd>
EOC
}

# The recorded handover: one MN, its key and sequence number, and the
# group pAR hands over, fixed so that re-recording gives the same CXTP
# messages (only the random transfer id and the times differ).
REPLAY_MN=10.1.0.10
REPLAY_MN_NOW=10.2.0.10
REPLAY_KEY=00112233445566778899aabbccddeeff00112233
REPLAY_SEQ=4660
REPLAY_PAR=10.1.0.1
REPLAY_NAR=10.2.0.1

# The group pAR hands over in each mode (as tests/netns/handover.sh has them).
replay_group() {
	case $1 in
	reactive) echo ff0e::101 ;;
	predictive) echo ff0e::102 ;;
	push) echo ff0e::103 ;;
	pull) echo ff0e::104 ;;
	*) return 1 ;;
	esac
}
