/*
 * fuzz_mnio.c: libFuzzer harness for what ctpd does with a datagram from a
 * mobile node before the engine sees it: the receive checks of ctp_mnio.c
 * (IPv4 header, ICMP type, checksum, code, subtype, hop limit, the CXTP
 * Length against the packet: ctp_mnio_parse), then the decoder as the
 * engine calls it (ctp_msg_decode with CTP_DEC_ICMP).
 *
 * Input: octet 0 picks the socket (0 raw ICMP with the IPv4 header, 1 raw
 * ICMPv6, 2 UDP), octet 1 is the hop limit IPV6_HOPLIMIT reported (0: none
 * reported), the rest is the datagram as recvmsg() returns it.
 *
 * Properties: the message handed on lies inside the datagram and its CXTP
 * Length fits; a refusal says why in one printable line; what decodes,
 * framed again by ctp_mnio_frame (as an MN sends it), passes the checks
 * again as the same message.  Anything else is a finding: abort().
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctp/ctp_mnio.h"
#include "ctp/ctp_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctp_msg fuzz_mnio_m;
static uint8_t fuzz_mnio_buf[20 + CTP_MNIO_HDR_LEN + CTP_MAX_MSG_LEN];

static void
fuzz_mnio_why(const char *why, int verdict)
{
	size_t n = strlen(why);

	if ((verdict < 0 && n == 0) || n >= 64)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] == 0x7f)
			abort();
}

/* The message framed as a mobile node sends it passes the checks again. */
static void
fuzz_mnio_reframe(enum ctp_mnio_carrier carrier, int family, const uint8_t *msg, size_t len)
{
	uint8_t *p = fuzz_mnio_buf;
	const uint8_t *got = NULL;
	size_t n = 0, glen = 0, hdr = 0;
	char why[64];

	if (carrier == CTP_MNIO_ICMP && family == AF_INET) {
		/* a 20-octet IPv4 header, TTL 255, protocol ICMP; the rest is
		 * not checked by the receive path (the kernel did) */
		hdr = 20;
		memset(p, 0, hdr);
		p[0] = 0x45;
		p[8] = 255;
		p[9] = IPPROTO_ICMP;
	}
	if (carrier == CTP_MNIO_ICMP) {
		if (ctp_mnio_frame(family == AF_INET ? 4 : 6, msg, len, p + hdr,
		    sizeof fuzz_mnio_buf - hdr, &n) != 0)
			abort();
		n += hdr;
		p[2] = (uint8_t)(n >> 8);
		p[3] = (uint8_t)n;
	} else {
		memcpy(p, msg, len);
		n = len;
	}
	/* ICMPv6: the kernel fills the checksum in and checks it on receipt */
	if (ctp_mnio_parse(carrier, family, p, n, 255, &got, &glen, why, sizeof why) !=
	    CTP_MNIO_CXTP || glen != len || memcmp(got, msg, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		enum ctp_mnio_carrier carrier;
		int family;
	} socks[3] = { { CTP_MNIO_ICMP, AF_INET }, { CTP_MNIO_ICMP, AF_INET6 },
		{ CTP_MNIO_UDP, AF_INET } };
	const uint8_t *msg = NULL, *pkt;
	struct ctp_err err = { 0 };
	char why[64];
	size_t len = 0, n;
	int k, hop, v;

	if (size < 2)
		return 0;
	k = data[0] % 3;
	hop = data[1] ? data[1] : -1;
	pkt = data + 2;
	n = size - 2;
	v = ctp_mnio_parse(socks[k].carrier, socks[k].family, pkt, n, hop, &msg, &len, why,
	    sizeof why);
	fuzz_mnio_why(why, v);
	if (v != CTP_MNIO_CXTP) {
		if ((v != CTP_MNIO_NOT_OURS && v != CTP_MNIO_MALFORMED &&
		    v != CTP_MNIO_BAD_HOPLIMIT) || msg || len)
			abort();
		return 0;
	}
	if (!msg || msg < pkt || len > n || (size_t)(msg - pkt) > n - len || len < 4 ||
	    ((size_t)msg[2] << 8 | msg[3]) > len)
		abort();
	/* the engine's decode (ctp_engine_mn_input) */
	if (ctp_msg_decode(&fuzz_mnio_m, msg, len, CTP_DEC_ICMP, &err) < 0) {
		if (!err.what[0] || err.off > len)
			abort();
		return 0;
	}
	if (fuzz_mnio_m.length > len)
		abort();
	fuzz_mnio_reframe(socks[k].carrier, socks[k].family, msg, fuzz_mnio_m.length);
	return 0;
}
