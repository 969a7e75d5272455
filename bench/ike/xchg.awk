# bench/ike/xchg.awk: IKEv2 exchanges from a tshark field dump of a capture
# on loopback (perf-anchors.md appendix A, xchg_analyze.py, in awk).
#
# Input, one frame a line (tshark -T fields -E separator=' '):
#   frame.time_epoch udp.length isakmp.ispi isakmp.rspi isakmp.exchangetype
#   isakmp.flag_i isakmp.flag_r isakmp.messageid
# -v tmin=EPOCH  ignore IKE_SAs whose IKE_SA_INIT request came before it
#                (certificate runs: SAs started before swanctl loaded the
#                credentials cannot authenticate)
#
# An exchange is (initiator SPI, exchange type, message ID, who started it);
# its time is first request frame -> last response frame, so a retransmission
# lengthens it and counts as a message.  Who started it: the I flag marks
# every message the original initiator sends, the R flag every response, so
# I xor R is 1 for exchanges the original initiator started.  Bytes are UDP
# payload (IKE header and payloads; IPv4 adds 28 B a message).
#
# Output, one line per complete unit:
#   est MS MESSAGES BYTES ROUND_TRIPS   IKE_SA_INIT request -> last IKE_AUTH
#                                       response of one IKE_SA
#   rekey MS TOTAL_MS MESSAGES BYTES    a CREATE_CHILD_SA the initiator
#                                       started and the INFORMATIONAL (next
#                                       message ID) that deletes the old
#                                       SA: MS is the CREATE_CHILD_SA round
#                                       trip, TOTAL_MS runs to the delete's
#                                       response
# and a last line "frames N exchanges M incomplete K".

function hex(s,    i, c, v) {
	s = tolower(s)
	sub(/^0x/, "", s)
	v = 0
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789abcdef", substr(s, i, 1))
		if (c == 0) return -1
		v = v * 16 + c - 1
	}
	return v
}

function flag(s) {
	return s == "1" || s == "True" || s == "true"
}

NF >= 8 {
	frames++
	t = $1 + 0
	len = $2 - 8
	spi = $3
	et = $5 + 0
	mid = ($8 ~ /^0x/) ? hex($8) : $8 + 0
	resp = flag($7)
	orig = (flag($6) != resp) ? 1 : 0
	k = spi SUBSEP et SUBSEP mid SUBSEP orig
	if (!(k in seen)) {
		seen[k] = 1
		keys[++nkeys] = k
		nreq[k] = 0
		nresp[k] = 0
		bytes[k] = 0
	}
	if (resp) {
		nresp[k]++
		if (!(k in tresp) || t > tresp[k]) tresp[k] = t
	} else {
		nreq[k]++
		if (!(k in treq) || t < treq[k]) treq[k] = t
	}
	bytes[k] += len
}

END {
	for (i = 1; i <= nkeys; i++) {
		k = keys[i]
		if (!nreq[k] || !nresp[k]) { incomplete++; continue }
		split(k, f, SUBSEP)
		spi = f[1]; et = f[2] + 0; mid = f[3] + 0; orig = f[4] + 0
		if (!orig) continue
		if (et == 34 && mid == 0) {
			init[spi] = k
			spis[++nspis] = spi
		} else if (et == 35) {
			if (!(spi in authmid) || mid > authmid[spi]) { authmid[spi] = mid; auth[spi] = k }
			authn[spi]++
			authmsgs[spi] += nreq[k] + nresp[k]
			authbytes[spi] += bytes[k]
		}
	}
	for (i = 1; i <= nspis; i++) {
		spi = spis[i]
		ki = init[spi]
		if (!(spi in auth) || treq[ki] < tmin) continue
		ka = auth[spi]
		printf "est %.4f %d %d %d\n", (tresp[ka] - treq[ki]) * 1000,
			nreq[ki] + nresp[ki] + authmsgs[spi], bytes[ki] + authbytes[spi],
			1 + authn[spi]
	}
	for (i = 1; i <= nkeys; i++) {
		k = keys[i]
		if (!nreq[k] || !nresp[k]) continue
		split(k, f, SUBSEP)
		if (f[2] != 36 || f[4] != 1) continue
		kd = f[1] SUBSEP 37 SUBSEP (f[3] + 1) SUBSEP 1
		if (!(kd in seen) || !nreq[kd] || !nresp[kd]) continue
		printf "rekey %.4f %.4f %d %d\n", (tresp[k] - treq[k]) * 1000,
			(tresp[kd] - treq[k]) * 1000,
			nreq[k] + nresp[k] + nreq[kd] + nresp[kd], bytes[k] + bytes[kd]
	}
	printf "frames %d exchanges %d incomplete %d\n", frames, nkeys, incomplete
}
