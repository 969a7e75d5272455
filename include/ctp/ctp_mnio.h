/*
 * ctp_mnio.h: the mobile node's link to its access routers (PROFILE 2):
 * CXTP messages in ICMP type 41 (IPv4) and ICMPv6 type 150, code 0,
 * subtype 1, sent and required with hop limit 255; or, for unprivileged
 * laboratory use, in UDP datagrams on a configured port.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Type (41/150) |   Code (0)    |           Checksum            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Subtype (1)  |                   Reserved (0)                |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   the whole CXTP message, header included ...
 *
 * The UDP encoding carries the CXTP message alone.  Both ctpd (the AR side)
 * and ctpmn (the MN side) use this module.  Raw ICMP sockets need
 * CAP_NET_RAW.
 */
#ifndef CTP_MNIO_H
#define CTP_MNIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "ctp/ctp_err.h"

#define CTP_MNIO_HDR_LEN 8

enum ctp_mnio_carrier { CTP_MNIO_ICMP = 1, CTP_MNIO_UDP = 2 };

/*
 * Which families are opened follows bind: unset (AF_UNSPEC) or the IPv6
 * wildcard "::" = IPv4 and IPv6 on every address (IPv6 is skipped, with a
 * notice, when the host has none); 0.0.0.0 = IPv4 only; any other address =
 * its family only, and only packets addressed to it are accepted.  The port
 * of bind is not used: UDP listens on udp_port.
 */
struct ctp_mnio_cfg {
	int                     icmp;      /* open raw ICMP and ICMPv6 sockets */
	uint16_t                udp_port;  /* UDP encoding on this port, 0 = off */
	int                     udp_ephemeral; /* UDP on a port the kernel picks
	                                      (the MN side); udp_port must be 0 */
	struct sockaddr_storage bind;      /* local address for UDP (and, when set,
	                                      the only address ICMP is accepted on) */
	const char             *ifname;    /* bind the sockets to a device, or NULL */
};

struct ctp_mnio;

/*
 * One received CXTP message: from carries the sender's address (and UDP
 * port); the ICMP header has been checked (type, code 0, subtype 1, hop
 * limit 255) and stripped; msg is the rest of the packet (the CXTP Length
 * may be shorter: decode with CTP_DEC_ICMP).  The CXTP header is known to
 * fit, with a Length between 4 and len.  msg lives for the call only.  The
 * callback may send, and may close io.  On a host that is both MN and AR
 * (loopback tests) a raw socket also sees what this process sent to one of
 * its own addresses: callers ignore the message types they send.
 */
typedef void (*ctp_mnio_input_fn)(void *ud, const struct sockaddr *from,
    enum ctp_mnio_carrier carrier, const uint8_t *msg, size_t len);

/* 0, or CTP_E_INVAL (cfg), CTP_E_NOMEM, CTP_E_IO (a socket could not be
 * opened or set up: err->what names which and why, e.g. raw ICMP without
 * CAP_NET_RAW).  Loop thread only. */
int ctp_mnio_open(uv_loop_t *loop, const struct ctp_mnio_cfg *cfg, ctp_mnio_input_fn input,
    void *ud, struct ctp_mnio **out, struct ctp_err *err);
/*
 * Send one message to `to` (over UDP when the carrier is UDP: to's port;
 * IPv4-mapped IPv6 goes as IPv4) with hop limit 255, from the local
 * address the last packet from `to` arrived on when the sockets are not
 * bound to one.  Never blocks and never queues: 0, CTP_E_AGAIN (the
 * kernel had no room: dropped), CTP_E_LIMIT (len outside 4..65535, or
 * larger than a packet), CTP_E_UNSUPPORTED (no socket for that carrier
 * and family), CTP_E_INVAL, CTP_E_IO.
 */
int ctp_mnio_send(struct ctp_mnio *io, const struct sockaddr *to,
    enum ctp_mnio_carrier carrier, const uint8_t *msg, size_t len);
/* Counters: received (delivered to input), dropped for a bad hop limit,
 * dropped as malformed, sent.  io may be NULL (all 0). */
void ctp_mnio_stats(const struct ctp_mnio *io, uint64_t *in, uint64_t *bad_hoplimit,
    uint64_t *malformed, uint64_t *out);
/* Memory goes once the handles have closed (the loop turns once more);
 * no input is delivered after the call.  NULL is fine. */
void ctp_mnio_close(struct ctp_mnio *io);

/* What the receive checks make of one datagram (ctp_mnio_parse). */
enum ctp_mnio_verdict {
	CTP_MNIO_CXTP = 1,           /* a CXTP message for the engine */
	CTP_MNIO_NOT_OURS = 0,       /* another ICMP type, code or subtype */
	CTP_MNIO_MALFORMED = -1,
	CTP_MNIO_BAD_HOPLIMIT = -2,  /* ICMP not sent with hop limit 255 */
};

/*
 * The receive checks of ctp_mnio.c on one datagram as the socket of
 * carrier and family hands it over (IPv4 ICMP: with its IP header, whose
 * TTL is the hop limit; ICMPv6: hoplimit from IPV6_HOPLIMIT, -1 when the
 * kernel did not say; UDP: the CXTP message itself).  Returns an enum
 * ctp_mnio_verdict; CTP_MNIO_CXTP with the message in *msg and *len (a view
 * into pkt whose CXTP Length fits), else why (may be NULL) says why in a
 * line ("" for an ICMP type that is simply not ours).  Pure: the receive
 * path and the fuzz harness (tests/fuzz/fuzz_mnio.c) share it.
 */
int ctp_mnio_parse(enum ctp_mnio_carrier carrier, int family, const uint8_t *pkt, size_t n,
    int hoplimit, const uint8_t **msg, size_t *len, char *why, size_t whylen);

/* The ICMP message for a CXTP message (family 4 or 6; the ICMPv6 checksum
 * is left 0 for the kernel to fill): for tests and captures. */
int ctp_mnio_frame(int family, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
    size_t *outlen);

#endif
