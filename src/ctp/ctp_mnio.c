/*
 * ctp_mnio.c: the MN-AR link of ctp_mnio.h (RFC 4067 2.11.2, PROFILE 2).
 *
 * Up to four plain non-blocking sockets, each watched by a uv_poll_t:
 *
 *   ICMP    socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)      sees the IP header
 *   ICMPv6  socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)   sees no IP header
 *   UDP     socket(AF_INET, SOCK_DGRAM)                  udp_port, or ephemeral
 *   UDPv6   socket(AF_INET6, SOCK_DGRAM), IPV6_V6ONLY    the same port
 *
 * Decisions, and why:
 *
 * - uv_poll and recvmsg() rather than uv_udp_t, for UDP too: one receive
 *   path for all four, and the ancillary data (IP_PKTINFO, IPV6_PKTINFO,
 *   IPV6_HOPLIMIT) that uv_udp_t does not hand out.
 *
 * - Receive checks, in order: the IPv4 header is sane (version 4, IHL at
 *   least 5 words and inside the packet, protocol ICMP); the ICMP type is
 *   41/150 (anything else is silently not ours; ICMP_FILTER and
 *   ICMP6_FILTER keep most of it in the kernel); the ICMP header is whole
 *   and, for IPv4, the checksum is right (malformed otherwise; the kernel
 *   checks ICMPv6 checksums of raw sockets itself and drops bad ones);
 *   code 0 and subtype 1 (another Seamoby protocol, e.g. CARD, is not ours:
 *   logged at debug, not counted as malformed); hop limit 255 (bad_hoplimit:
 *   RFC 4067 sends with 255 so that, as in Neighbor Discovery, a receiver
 *   can tell that the sender is on-link); the CXTP header fits and its
 *   Length lies between 4 and what arrived (malformed).  The codec does the
 *   rest.  UDP (a laboratory encoding that may cross routers) gets only the
 *   CXTP check: no hop limit is required of it.
 *
 * - The hop limit of every packet sent is 255 (IP_TTL, IPV6_UNICAST_HOPS),
 *   UDP included, so that a receiver may check it.  The IPv4 ICMP checksum
 *   is ours; the kernel computes the ICMPv6 one (RFC 3542 3.1: IPV6_CHECKSUM
 *   is always on for ICMPv6 raw sockets).  The ICMP header and the message
 *   go out as two iovecs: no copy.
 *
 * - Replies leave from the address the MN sent to (RFC 4067 2.11.2: "IP
 *   source and destination are the sending and receiving interface
 *   addresses").  A daemon listening on every address of a multi-homed
 *   node would otherwise answer from whatever address routing picks, and
 *   an MN that checks where its CTAA comes from would drop it.  The local
 *   address of each received packet (IP_PKTINFO, IPV6_PKTINFO) is kept in
 *   a small direct-mapped table keyed by the sender, and a send to that
 *   sender carries it as the source (a send that the kernel refuses with
 *   the address, because it went away meanwhile, is retried without).
 *   Sockets bound to one address need none of this.
 *
 * - cfg->bind is enforced with bind(): raw sockets bound to an address see
 *   only packets addressed to it, and send from it.
 *
 * - Bounded everywhere: one 64 KiB receive buffer, at most
 *   CTP_MNIO_BATCH datagrams per wake-up so that one busy socket cannot
 *   starve the loop, nothing queued on send (a datagram the kernel has no
 *   room for is dropped and counted: the MN retransmits CTAR, nAR CTN).
 *   Drops are logged at powers of two of their count, so a flood costs a
 *   few dozen lines.
 *
 * - Closing from inside the input callback is allowed: the receive loop
 *   stops, the handles close, and the memory goes in the last close
 *   callback, never before.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_mnio.h"
#include "ctp/ctp_proto.h"

#define CTP_MNIO_ICMP4_TYPE   41   /* Seamoby experimental mobility (RFC 4065) */
#define CTP_MNIO_ICMP6_TYPE   150
#define CTP_MNIO_SUBTYPE      1    /* CXTP */
#define CTP_MNIO_HOPLIMIT     255
#define CTP_MNIO_RX_MAX       65536
#define CTP_MNIO_BATCH        64
#define CTP_MNIO_RCVBUF       (1024 * 1024)
#define CTP_MNIO_SRC_SLOTS    256  /* reply-source table, a power of two */
#define CTP_MNIO_IP4_MIN      20

/* <linux/icmp.h> clashes with <netinet/ip_icmp.h>; the two values are ABI. */
#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif
#ifndef SOL_RAW
#define SOL_RAW 255
#endif

enum { MNIO_ICMP4, MNIO_ICMP6, MNIO_UDP4, MNIO_UDP6, MNIO_NSOCK };

static const char *const ctp_mnio_sock_names[MNIO_NSOCK] = {
	"ICMP", "ICMPv6", "UDP", "UDPv6"
};

struct ctp_mnio_sock {
	uv_poll_t              poll;
	struct ctp_mnio       *io;
	int                    fd;        /* -1 when not open */
	int                    polling;   /* poll initialised: needs uv_close */
	int                    family;    /* AF_INET, AF_INET6 */
	enum ctp_mnio_carrier  carrier;
	int                    bound;     /* to one address: no source table */
	uint64_t               errors;
};

/* Where a sender's packets arrived: the source for what we send it. */
struct ctp_mnio_src {
	uint8_t  used;
	uint8_t  carrier;
	uint8_t  family;
	uint16_t port;       /* network order; 0 for ICMP */
	uint32_t scope;
	uint8_t  peer[16];
	uint8_t  local[16];
};

struct ctp_mnio {
	uv_loop_t            *loop;
	ctp_mnio_input_fn     input;
	void                 *ud;
	struct ctp_mnio_sock  sock[MNIO_NSOCK];
	unsigned              open_handles;
	int                   closing;
	uint64_t              in, bad_hoplimit, malformed, out;
	uint64_t              not_ours, send_drops;
	struct ctp_mnio_src   src[CTP_MNIO_SRC_SLOTS];
	uint8_t               rx[CTP_MNIO_RX_MAX];
	union {                           /* ancillary data of one datagram */
		struct cmsghdr    align;
		uint8_t           buf[256];
	} cbuf;
};

/* Log the 1st, 2nd, 4th, 8th... occurrence only. */
static int
ctp_mnio_pow2(uint64_t n)
{
	return n && (n & (n - 1)) == 0;
}

/* ---- checksum and framing ---------------------------------------------- */

/* RFC 1071 one's-complement sum, continued over several pieces; every
 * piece but the last must have an even length. */
static uint32_t
ctp_mnio_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
ctp_mnio_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The 8-octet header of ctp_mnio.h; the IPv4 checksum covers msg too. */
static void
ctp_mnio_header(int family, const uint8_t *msg, size_t len, uint8_t hdr[CTP_MNIO_HDR_LEN])
{
	uint16_t ck;

	memset(hdr, 0, CTP_MNIO_HDR_LEN);
	hdr[0] = family == 4 ? CTP_MNIO_ICMP4_TYPE : CTP_MNIO_ICMP6_TYPE;
	hdr[1] = 0;
	hdr[4] = CTP_MNIO_SUBTYPE;
	if (family == 4) {
		ck = ctp_mnio_fold(ctp_mnio_sum(ctp_mnio_sum(0, hdr, CTP_MNIO_HDR_LEN), msg, len));
		hdr[2] = (uint8_t)(ck >> 8);
		hdr[3] = (uint8_t)ck;
	}
}

int
ctp_mnio_frame(int family, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
    size_t *outlen)
{
	if ((family != 4 && family != 6) || (!msg && len) || !out || !outlen)
		return CTP_E_INVAL;
	if (len > CTP_MAX_MSG_LEN)
		return CTP_E_LIMIT;
	if (cap < CTP_MNIO_HDR_LEN + len)
		return CTP_E_NOSPACE;
	ctp_mnio_header(family, msg, len, out);
	if (len)
		memcpy(out + CTP_MNIO_HDR_LEN, msg, len);
	*outlen = CTP_MNIO_HDR_LEN + len;
	return 0;
}

/* ---- addresses and the reply-source table ---------------------------------- */

static const char *
ctp_mnio_sa_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    !inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static unsigned
ctp_mnio_src_slot(unsigned carrier, unsigned family, const uint8_t *peer, uint16_t port,
    uint32_t scope)
{
	uint32_t h = 2166136261u;   /* FNV-1a */
	size_t n = family == AF_INET ? 4 : 16;

	h = (h ^ carrier) * 16777619u;
	h = (h ^ family) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ peer[i]) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	h = (h ^ (scope & 0xff)) * 16777619u;
	return h & (CTP_MNIO_SRC_SLOTS - 1);
}

/* Split a sockaddr into the table's key. */
static void
ctp_mnio_src_key(const struct sockaddr *sa, const uint8_t **peer, uint16_t *port,
    uint32_t *scope)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		*peer = (const uint8_t *)&s4->sin_addr;
		*port = s4->sin_port;
		*scope = 0;
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		*peer = s6->sin6_addr.s6_addr;
		*port = s6->sin6_port;
		*scope = s6->sin6_scope_id;
	}
}

static void
ctp_mnio_src_learn(struct ctp_mnio *io, const struct ctp_mnio_sock *s,
    const struct sockaddr *from, const uint8_t *local)
{
	const uint8_t *peer;
	struct ctp_mnio_src *e;
	uint16_t port;
	uint32_t scope;
	size_t n = s->family == AF_INET ? 4 : 16;

	if (s->bound || !local)
		return;
	/* a packet to a group or the broadcast address is answered from
	 * whatever routing picks, as without the table */
	if (s->family == AF_INET6 && local[0] == 0xff)
		return;
	if (s->family == AF_INET && (local[0] >= 224 || memcmp(local, "\0\0\0\0", 4) == 0))
		return;
	ctp_mnio_src_key(from, &peer, &port, &scope);
	e = &io->src[ctp_mnio_src_slot(s->carrier, (unsigned)s->family, peer, port, scope)];
	memset(e, 0, sizeof *e);
	e->used = 1;
	e->carrier = (uint8_t)s->carrier;
	e->family = (uint8_t)s->family;
	e->port = port;
	e->scope = scope;
	memcpy(e->peer, peer, n);
	memcpy(e->local, local, n);
}

static const struct ctp_mnio_src *
ctp_mnio_src_find(const struct ctp_mnio *io, const struct ctp_mnio_sock *s,
    const struct sockaddr *to)
{
	const struct ctp_mnio_src *e;
	const uint8_t *peer;
	uint16_t port;
	uint32_t scope;
	size_t n = s->family == AF_INET ? 4 : 16;

	if (s->bound)
		return NULL;
	ctp_mnio_src_key(to, &peer, &port, &scope);
	e = &io->src[ctp_mnio_src_slot(s->carrier, (unsigned)s->family, peer, port, scope)];
	if (!e->used || e->carrier != s->carrier || e->family != s->family || e->port != port ||
	    e->scope != scope || memcmp(e->peer, peer, n) != 0)
		return NULL;
	return e;
}

/* ---- receiving ------------------------------------------------------------------- */

/* The CXTP header fits and its Length lies within what arrived. */
static int
ctp_mnio_cxtp_ok(const uint8_t *msg, size_t len)
{
	size_t l;

	if (len < CTP_HDR_LEN)
		return 0;
	l = (size_t)msg[2] << 8 | msg[3];
	return l >= CTP_HDR_LEN && l <= len;
}

static void
ctp_mnio_drop(struct ctp_mnio *io, struct ctp_mnio_sock *s, const struct sockaddr *from,
    uint64_t *counter, const char *why)
{
	char a[INET6_ADDRSTRLEN];

	++*counter;
	if (ctp_mnio_pow2(*counter))
		log_info("%s from %s dropped: %s (%llu so far)", ctp_mnio_sock_names[s - io->sock],
		    ctp_mnio_sa_fmt(from, a, sizeof a), why, (unsigned long long)*counter);
}

/*
 * The ICMP part of a packet (an IPv4 raw socket's IP header already
 * removed): the CXTP message through msg/len, or why it is not one.
 */
static int
ctp_mnio_icmp_check(int family, const uint8_t *icmp, size_t ilen, int hoplimit,
    const uint8_t **msg, size_t *len, char *why, size_t whylen)
{
	unsigned want = family == AF_INET ? CTP_MNIO_ICMP4_TYPE : CTP_MNIO_ICMP6_TYPE;

	if (ilen < 1 || icmp[0] != want)
		return CTP_MNIO_NOT_OURS;   /* another ICMP type: the filter lets some through */
	if (ilen < CTP_MNIO_HDR_LEN) {
		snprintf(why, whylen, "truncated ICMP header");
		return CTP_MNIO_MALFORMED;
	}
	if (family == AF_INET && ctp_mnio_fold(ctp_mnio_sum(0, icmp, ilen)) != 0) {
		snprintf(why, whylen, "bad ICMP checksum");
		return CTP_MNIO_MALFORMED;
	}
	if (icmp[1] != 0 || icmp[4] != CTP_MNIO_SUBTYPE) {
		snprintf(why, whylen, "code %u subtype %u, not CXTP", icmp[1], icmp[4]);
		return CTP_MNIO_NOT_OURS;
	}
	if (hoplimit != CTP_MNIO_HOPLIMIT) {
		if (hoplimit < 0)
			snprintf(why, whylen, "hop limit unknown, 255 required");
		else
			snprintf(why, whylen, "hop limit %d, 255 required", hoplimit);
		return CTP_MNIO_BAD_HOPLIMIT;
	}
	*msg = icmp + CTP_MNIO_HDR_LEN;
	*len = ilen - CTP_MNIO_HDR_LEN;
	return CTP_MNIO_CXTP;
}

/* An IPv4 raw socket's packet: the IP header, then ICMP. */
static int
ctp_mnio_ip4_check(const uint8_t *pkt, size_t n, const uint8_t **msg, size_t *len, char *why,
    size_t whylen)
{
	size_t ihl, tot;

	if (n < CTP_MNIO_IP4_MIN || pkt[0] >> 4 != 4 || pkt[9] != IPPROTO_ICMP) {
		snprintf(why, whylen, "bad IPv4 header");
		return CTP_MNIO_MALFORMED;
	}
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = (size_t)pkt[2] << 8 | pkt[3];
	if (ihl < CTP_MNIO_IP4_MIN || ihl > n) {
		snprintf(why, whylen, "bad IPv4 header length");
		return CTP_MNIO_MALFORMED;
	}
	/* Linux hands over exactly the datagram; should a total length ever
	 * say less, it is the one to believe */
	if (tot >= ihl && tot < n)
		n = tot;
	return ctp_mnio_icmp_check(AF_INET, pkt + ihl, n - ihl, pkt[8], msg, len, why, whylen);
}

int
ctp_mnio_parse(enum ctp_mnio_carrier carrier, int family, const uint8_t *pkt, size_t n,
    int hoplimit, const uint8_t **msg, size_t *len, char *why, size_t whylen)
{
	char dummy[1];
	int v;

	if (!why || !whylen) {
		why = dummy;
		whylen = sizeof dummy;
	}
	why[0] = 0;
	*msg = NULL;
	*len = 0;
	if (carrier == CTP_MNIO_ICMP && family == AF_INET)
		v = ctp_mnio_ip4_check(pkt, n, msg, len, why, whylen);
	else if (carrier == CTP_MNIO_ICMP)
		v = ctp_mnio_icmp_check(family, pkt, n, hoplimit, msg, len, why, whylen);
	else {
		*msg = pkt;
		*len = n;
		v = CTP_MNIO_CXTP;
	}
	if (v == CTP_MNIO_CXTP && !ctp_mnio_cxtp_ok(*msg, *len)) {
		snprintf(why, whylen, "%s", *len < CTP_HDR_LEN ? "shorter than the CXTP header" :
		    "CXTP Length disagrees with the packet");
		v = CTP_MNIO_MALFORMED;
	}
	if (v != CTP_MNIO_CXTP) {
		*msg = NULL;
		*len = 0;
	}
	return v;
}

/* One datagram: 1 when one was taken (whatever became of it), 0 when the
 * socket is empty or failed. */
static int
ctp_mnio_read(struct ctp_mnio *io, struct ctp_mnio_sock *s)
{
	struct sockaddr_storage from;
	struct iovec iov = { io->rx, sizeof io->rx };
	struct msghdr mh;
	struct cmsghdr *cm;
	const uint8_t *msg, *local;
	uint8_t local4[4];
	char why[64];
	size_t len;
	ssize_t n;
	int hoplimit;

	memset(&mh, 0, sizeof mh);
	mh.msg_name = &from;
	mh.msg_namelen = sizeof from;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = io->cbuf.buf;
	mh.msg_controllen = sizeof io->cbuf.buf;
	memset(&from, 0, sizeof from);
	n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    ctp_mnio_pow2(++s->errors))
			log_info("%s receive: %s (%llu so far)", ctp_mnio_sock_names[s - io->sock],
			    strerror(errno), (unsigned long long)s->errors);
		return errno == EINTR;
	}
	if (from.ss_family != s->family) {
		ctp_mnio_drop(io, s, (struct sockaddr *)&from, &io->malformed, "no sender address");
		return 1;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		ctp_mnio_drop(io, s, (struct sockaddr *)&from, &io->malformed,
		    "larger than the receive buffer");
		return 1;
	}

	hoplimit = -1;
	local = NULL;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof pi);
			/* spec_dst: the local address a reply should come from
			 * (Linux picks one for broadcast too) */
			memcpy(local4, &pi.ipi_spec_dst, 4);
			local = local4;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			/* in place: CMSG_DATA is aligned for the structure */
			local = ((const struct in6_pktinfo *)(const void *)CMSG_DATA(cm))->
			    ipi6_addr.s6_addr;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			memcpy(&hoplimit, CMSG_DATA(cm), sizeof hoplimit);
		}
	}

	switch (ctp_mnio_parse(s->carrier, s->family, io->rx, (size_t)n, hoplimit, &msg, &len, why,
	    sizeof why)) {
	case CTP_MNIO_CXTP:
		break;
	case CTP_MNIO_NOT_OURS:
		if (why[0] && ctp_mnio_pow2(++io->not_ours)) {
			char a[INET6_ADDRSTRLEN];

			log_debug("%s from %s: %s (%llu so far)", ctp_mnio_sock_names[s - io->sock],
			    ctp_mnio_sa_fmt((struct sockaddr *)&from, a, sizeof a), why,
			    (unsigned long long)io->not_ours);
		}
		return 1;
	case CTP_MNIO_BAD_HOPLIMIT:
		ctp_mnio_drop(io, s, (struct sockaddr *)&from, &io->bad_hoplimit, why);
		return 1;
	default:
		ctp_mnio_drop(io, s, (struct sockaddr *)&from, &io->malformed, why);
		return 1;
	}
	if (s->carrier == CTP_MNIO_ICMP) {
		if (s->family == AF_INET)
			((struct sockaddr_in *)&from)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&from)->sin6_port = 0;
	}
	ctp_mnio_src_learn(io, s, (struct sockaddr *)&from, local);
	io->in++;
	io->input(io->ud, (struct sockaddr *)&from, s->carrier, msg, len);
	return 1;
}

static void
ctp_mnio_poll_cb(uv_poll_t *h, int status, int events)
{
	struct ctp_mnio_sock *s = h->data;
	struct ctp_mnio *io = s->io;

	(void)events;
	if (status < 0 && ctp_mnio_pow2(++s->errors))
		log_info("%s poll: %s (%llu so far)", ctp_mnio_sock_names[s - io->sock],
		    uv_strerror(status), (unsigned long long)s->errors);
	/* a read also collects a pending socket error; the batch bounds the
	 * time one socket holds the loop (level-triggered: the rest waits
	 * for the next turn) */
	for (int i = 0; i < CTP_MNIO_BATCH && !io->closing; i++)
		if (!ctp_mnio_read(io, s))
			break;
}

/* ---- sending --------------------------------------------------------------- */

int
ctp_mnio_send(struct ctp_mnio *io, const struct sockaddr *to, enum ctp_mnio_carrier carrier,
    const uint8_t *msg, size_t len)
{
	union {
		struct sockaddr     sa;
		struct sockaddr_in  s4;
		struct sockaddr_in6 s6;
	} dst;
	union {
		struct cmsghdr hdr;
		uint8_t        buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} cbuf;
	const struct ctp_mnio_src *src;
	struct ctp_mnio_sock *s;
	uint8_t hdr[CTP_MNIO_HDR_LEN];
	struct iovec iov[2];
	struct msghdr mh;
	socklen_t dlen;
	char a[INET6_ADDRSTRLEN];
	int idx, fam, tries;
	ssize_t n;

	if (!io || !to || !msg || io->closing)
		return CTP_E_INVAL;
	if (len < CTP_HDR_LEN || len > CTP_MAX_MSG_LEN)
		return CTP_E_LIMIT;

	/* IPv4 as itself, also when it comes v4-mapped */
	memset(&dst, 0, sizeof dst);
	if (to->sa_family == AF_INET) {
		memcpy(&dst.s4, to, sizeof dst.s4);
	} else if (to->sa_family == AF_INET6) {
		memcpy(&dst.s6, to, sizeof dst.s6);
		if (IN6_IS_ADDR_V4MAPPED(&dst.s6.sin6_addr)) {
			struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = dst.s6.sin6_port };

			memcpy(&s4.sin_addr, &dst.s6.sin6_addr.s6_addr[12], 4);
			memset(&dst, 0, sizeof dst);
			dst.s4 = s4;
		}
	} else {
		return CTP_E_INVAL;
	}
	fam = dst.sa.sa_family;
	dlen = fam == AF_INET ? sizeof dst.s4 : sizeof dst.s6;
	if (carrier == CTP_MNIO_ICMP)
		idx = fam == AF_INET ? MNIO_ICMP4 : MNIO_ICMP6;
	else if (carrier == CTP_MNIO_UDP)
		idx = fam == AF_INET ? MNIO_UDP4 : MNIO_UDP6;
	else
		return CTP_E_INVAL;
	s = &io->sock[idx];
	if (s->fd < 0)
		return CTP_E_UNSUPPORTED;

	memset(&mh, 0, sizeof mh);
	if (carrier == CTP_MNIO_ICMP) {
		/* a raw IPv6 socket reads a port as the protocol: it must be 0 */
		if (fam == AF_INET)
			dst.s4.sin_port = 0;
		else
			dst.s6.sin6_port = 0;
		ctp_mnio_header(fam == AF_INET ? 4 : 6, msg, len, hdr);
		iov[0] = (struct iovec){ hdr, sizeof hdr };
		iov[1] = (struct iovec){ (void *)(uintptr_t)msg, len };
		mh.msg_iov = iov;
		mh.msg_iovlen = 2;
	} else {
		if ((fam == AF_INET ? dst.s4.sin_port : dst.s6.sin6_port) == 0)
			return CTP_E_INVAL;
		iov[0] = (struct iovec){ (void *)(uintptr_t)msg, len };
		mh.msg_iov = iov;
		mh.msg_iovlen = 1;
	}
	mh.msg_name = &dst;
	mh.msg_namelen = dlen;

	src = ctp_mnio_src_find(io, s, &dst.sa);
	if (src) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf.buf;
		if (fam == AF_INET) {
			struct in_pktinfo pi;

			memset(&pi, 0, sizeof pi);
			memcpy(&pi.ipi_spec_dst, src->local, 4);
			mh.msg_controllen = CMSG_SPACE(sizeof pi);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof pi);
			memcpy(CMSG_DATA(cm), &pi, sizeof pi);
		} else {
			struct in6_pktinfo pi;

			memset(&pi, 0, sizeof pi);
			memcpy(&pi.ipi6_addr, src->local, 16);
			mh.msg_controllen = CMSG_SPACE(sizeof pi);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof pi);
			memcpy(CMSG_DATA(cm), &pi, sizeof pi);
		}
	}

	for (tries = 0; tries < 3; tries++) {
		n = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		/* the address we learnt has gone: let routing choose */
		if (mh.msg_control && (errno == EINVAL || errno == EADDRNOTAVAIL)) {
			mh.msg_control = NULL;
			mh.msg_controllen = 0;
			continue;
		}
		break;
	}
	if (n < 0) {
		int e = errno;

		if (ctp_mnio_pow2(++io->send_drops))
			log_info("%s to %s: %s: message dropped (%llu so far)",
			    ctp_mnio_sock_names[idx], ctp_mnio_sa_fmt(&dst.sa, a, sizeof a),
			    strerror(e), (unsigned long long)io->send_drops);
		if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
			return CTP_E_AGAIN;
		if (e == EMSGSIZE)
			return CTP_E_LIMIT;
		return CTP_E_IO;
	}
	io->out++;
	return 0;
}

/* ---- opening and closing --------------------------------------------------- */

static int
ctp_mnio_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr == INADDR_ANY;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr);
	return 1;
}

static int
ctp_mnio_setint(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof v);
}

/*
 * One socket, configured; returns the fd, or -errno with *what naming the
 * step that failed.
 */
static int
ctp_mnio_socket(const struct ctp_mnio_cfg *cfg, int idx, const struct sockaddr_storage *local,
    uint16_t port, const char **what)
{
	int family = (idx == MNIO_ICMP4 || idx == MNIO_UDP4) ? AF_INET : AF_INET6;
	int raw = idx == MNIO_ICMP4 || idx == MNIO_ICMP6;
	int fd, rcvbuf = CTP_MNIO_RCVBUF, e;
	union {
		struct sockaddr     sa;
		struct sockaddr_in  s4;
		struct sockaddr_in6 s6;
	} b;

	*what = "socket";
	fd = socket(family, (raw ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    raw ? (family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6) : 0);
	if (fd < 0)
		return -errno;

	if (family == AF_INET) {
		*what = "IP_TTL";
		if (ctp_mnio_setint(fd, IPPROTO_IP, IP_TTL, CTP_MNIO_HOPLIMIT) < 0)
			goto fail;
		*what = "IP_PKTINFO";
		if (ctp_mnio_setint(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0)
			goto fail;
		if (raw) {
			/* types 0..31 (echo, unreachable...) stay in the kernel;
			 * Linux cannot filter 41, which we check ourselves */
			uint32_t block = 0xffffffffu;

			*what = "ICMP_FILTER";
			if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &block, sizeof block) < 0)
				goto fail;
		}
	} else {
		if (!raw) {
			*what = "IPV6_V6ONLY";
			if (ctp_mnio_setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0)
				goto fail;
		}
		*what = "IPV6_UNICAST_HOPS";
		if (ctp_mnio_setint(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, CTP_MNIO_HOPLIMIT) < 0)
			goto fail;
		*what = "IPV6_RECVPKTINFO";
		if (ctp_mnio_setint(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0)
			goto fail;
		if (raw) {
			struct icmp6_filter f;

			*what = "IPV6_RECVHOPLIMIT";
			if (ctp_mnio_setint(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) < 0)
				goto fail;
			ICMP6_FILTER_SETBLOCKALL(&f);
			ICMP6_FILTER_SETPASS(CTP_MNIO_ICMP6_TYPE, &f);
			*what = "ICMP6_FILTER";
			if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f) < 0)
				goto fail;
		}
	}
	/* a burst of a hundred MNs must not overflow the default buffer
	 * (best effort: capped by net.core.rmem_max) */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (cfg->ifname && *cfg->ifname) {
		*what = "SO_BINDTODEVICE";
		if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, cfg->ifname,
		    (socklen_t)strlen(cfg->ifname) + 1) < 0)
			goto fail;
	}

	memset(&b, 0, sizeof b);
	if (family == AF_INET) {
		b.s4.sin_family = AF_INET;
		if (local->ss_family == AF_INET)
			b.s4.sin_addr = ((const struct sockaddr_in *)(const void *)local)->sin_addr;
		b.s4.sin_port = raw ? 0 : htons(port);
	} else {
		b.s6.sin6_family = AF_INET6;
		if (local->ss_family == AF_INET6) {
			const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)(const void *)local;

			b.s6.sin6_addr = l6->sin6_addr;
			b.s6.sin6_scope_id = l6->sin6_scope_id;
		}
		b.s6.sin6_port = raw ? 0 : htons(port);
	}
	/* raw sockets on the wildcard need no bind; everything else binds */
	if (!raw || !ctp_mnio_is_any(local)) {
		*what = "bind";
		if (bind(fd, &b.sa, family == AF_INET ? sizeof b.s4 : sizeof b.s6) < 0)
			goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

static void
ctp_mnio_closed(uv_handle_t *h)
{
	struct ctp_mnio_sock *s = h->data;
	struct ctp_mnio *io = s->io;

	close(s->fd);
	s->fd = -1;
	if (--io->open_handles == 0)
		free(io);
}

void
ctp_mnio_close(struct ctp_mnio *io)
{
	int pending = 0;

	if (!io || io->closing)
		return;
	io->closing = 1;
	if (io->malformed || io->bad_hoplimit || io->send_drops)
		log_info("%llu in, %llu out, dropped: %llu malformed, %llu bad hop limit, "
		    "%llu not sent", (unsigned long long)io->in, (unsigned long long)io->out,
		    (unsigned long long)io->malformed, (unsigned long long)io->bad_hoplimit,
		    (unsigned long long)io->send_drops);
	for (int i = 0; i < MNIO_NSOCK; i++) {
		struct ctp_mnio_sock *s = &io->sock[i];

		if (s->polling) {
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll, ctp_mnio_closed);
			pending = 1;
		} else if (s->fd >= 0) {
			close(s->fd);
			s->fd = -1;
		}
	}
	if (!pending)
		free(io);
}

int
ctp_mnio_open(uv_loop_t *loop, const struct ctp_mnio_cfg *cfg, ctp_mnio_input_fn input,
    void *ud, struct ctp_mnio **out, struct ctp_err *err)
{
	const struct sockaddr_storage *local = &cfg->bind;
	int want[MNIO_NSOCK] = { 0 }, v4, v6, v6_optional, rc, udp;
	uint16_t port;
	struct ctp_mnio *io;
	const char *what;
	char a[INET6_ADDRSTRLEN];

	if (!loop || !cfg || !input || !out)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_mnio_open: missing argument");
	*out = NULL;
	if (local->ss_family != AF_UNSPEC && local->ss_family != AF_INET &&
	    local->ss_family != AF_INET6)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "bind address of family %u",
		    local->ss_family);
	if (cfg->udp_ephemeral && cfg->udp_port)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0,
		    "UDP port %u and an ephemeral port asked for at once", cfg->udp_port);
	udp = cfg->udp_port != 0 || cfg->udp_ephemeral;
	if (!cfg->icmp && !udp)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "neither ICMP nor UDP asked for");
	if (cfg->ifname && strlen(cfg->ifname) >= IF_NAMESIZE)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "interface name \"%s\" is too long",
		    cfg->ifname);

	/* see ctp_mnio.h: which families the bind address asks for */
	v4 = local->ss_family == AF_UNSPEC || local->ss_family == AF_INET ||
	    (local->ss_family == AF_INET6 && ctp_mnio_is_any(local));
	v6 = local->ss_family != AF_INET;
	v6_optional = v4 && v6;
	want[MNIO_ICMP4] = cfg->icmp && v4;
	want[MNIO_ICMP6] = cfg->icmp && v6;
	want[MNIO_UDP4] = udp && v4;
	want[MNIO_UDP6] = udp && v6;
	port = cfg->udp_port;

	if ((io = calloc(1, sizeof *io)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	io->loop = loop;
	io->input = input;
	io->ud = ud;
	for (int i = 0; i < MNIO_NSOCK; i++) {
		io->sock[i].fd = -1;
		io->sock[i].io = io;
		io->sock[i].family = (i == MNIO_ICMP4 || i == MNIO_UDP4) ? AF_INET : AF_INET6;
		io->sock[i].carrier = (i == MNIO_ICMP4 || i == MNIO_ICMP6) ? CTP_MNIO_ICMP : CTP_MNIO_UDP;
		io->sock[i].bound = !ctp_mnio_is_any(local);
	}

	for (int i = 0; i < MNIO_NSOCK; i++) {
		int fd;

		if (!want[i])
			continue;
		fd = ctp_mnio_socket(cfg, i, local, port, &what);
		if (fd == -EAFNOSUPPORT && io->sock[i].family == AF_INET6 && v6_optional) {
			log_notice("no IPv6 on this host: %s over IPv4 only",
			    i == MNIO_ICMP6 ? "ICMP" : "UDP");
			continue;
		}
		if (fd < 0) {
			const char *hint = (fd == -EPERM || fd == -EACCES) &&
			    (i == MNIO_ICMP4 || i == MNIO_ICMP6) ?
			    " (raw ICMP needs root or CAP_NET_RAW)" : "";

			rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s socket%s%s%s: %s: %s%s",
			    ctp_mnio_sock_names[i], local->ss_family ? " on " : "",
			    local->ss_family ? ctp_mnio_sa_fmt((const struct sockaddr *)local, a,
			    sizeof a) : "", cfg->ifname ? " (device)" : "", what, strerror(-fd), hint);
			ctp_mnio_close(io);
			return rc;
		}
		io->sock[i].fd = fd;
	}
	for (int i = 0; i < MNIO_NSOCK; i++) {
		struct ctp_mnio_sock *s = &io->sock[i];

		if (s->fd < 0)
			continue;
		if ((rc = uv_poll_init(loop, &s->poll, s->fd)) < 0) {
			ctp_err_set(err, CTP_E_IO, 0, 0, "%s: uv_poll_init: %s", ctp_mnio_sock_names[i],
			    uv_strerror(rc));
			ctp_mnio_close(io);
			return CTP_E_IO;
		}
		s->poll.data = s;
		s->polling = 1;
		io->open_handles++;
		if ((rc = uv_poll_start(&s->poll, UV_READABLE, ctp_mnio_poll_cb)) < 0) {
			ctp_err_set(err, CTP_E_IO, 0, 0, "%s: uv_poll_start: %s", ctp_mnio_sock_names[i],
			    uv_strerror(rc));
			ctp_mnio_close(io);
			return CTP_E_IO;
		}
	}
	if (io->open_handles == 0) {
		ctp_mnio_close(io);
		return ctp_err_set(err, CTP_E_IO, 0, 0, "no socket could be opened");
	}
	log_debug("open: ICMP %s, ICMPv6 %s, UDP %s, UDPv6 %s, port %u%s%s",
	    io->sock[MNIO_ICMP4].fd >= 0 ? "on" : "off", io->sock[MNIO_ICMP6].fd >= 0 ? "on" : "off",
	    io->sock[MNIO_UDP4].fd >= 0 ? "on" : "off", io->sock[MNIO_UDP6].fd >= 0 ? "on" : "off",
	    port, cfg->ifname ? ", device " : "", cfg->ifname ? cfg->ifname : "");
	*out = io;
	return 0;
}

void
ctp_mnio_stats(const struct ctp_mnio *io, uint64_t *in, uint64_t *bad_hoplimit,
    uint64_t *malformed, uint64_t *out)
{
	if (in)
		*in = io ? io->in : 0;
	if (bad_hoplimit)
		*bad_hoplimit = io ? io->bad_hoplimit : 0;
	if (malformed)
		*malformed = io ? io->malformed : 0;
	if (out)
		*out = io ? io->out : 0;
}
