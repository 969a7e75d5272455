/*
 * ctp_pcap.c: the exported-PDU capture writer (ctp_pcap.h).
 *
 * Neither libpcap nor libwireshark is needed: a classic pcap file is a
 * 24-octet header and records of a 16-octet header plus data, both in the
 * writer's byte order (readers tell it from the magic).  With link type 252
 * (LINKTYPE_WIRESHARK_UPPER_PDU) each record's data is a list of tags that
 * tells Wireshark which dissector to call and what to show as addresses and
 * ports, then the PDU itself:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |        tag = 12 (name)        |          length = 4           |
 *   +-------------------------------+-------------------------------+
 *   |                  "cxtp" (NUL-padded to 4n)                    |
 *   +-------------------------------+-------------------------------+
 *   |   tag = 20 (IPv4 src) / 22    |       length = 4 / 16         |
 *   +-------------------------------+-------------------------------+
 *   |                   source address (4 or 16)                    |
 *   +-------------------------------+-------------------------------+
 *   |   tag = 21 (IPv4 dst) / 23    |       length = 4 / 16         |
 *   +-------------------------------+-------------------------------+
 *   |                destination address (4 or 16)                  |
 *   +-------------------------------+-------------------------------+
 *   |      tag = 24 (port type)     |          length = 4           |
 *   +-------------------------------+-------------------------------+
 *   |             port type: 1 SCTP, 2 TCP, 3 UDP (u32)             |
 *   +-------------------------------+-------------------------------+
 *   |      tag = 25 (src port)      |          length = 4           |
 *   +-------------------------------+-------------------------------+
 *   |                      source port (u32)                        |
 *   +-------------------------------+-------------------------------+
 *   |      tag = 26 (dst port)      |          length = 4           |
 *   +-------------------------------+-------------------------------+
 *   |                   destination port (u32)                      |
 *   +-------------------------------+-------------------------------+
 *   |        tag = 0 (end)          |          length = 0           |
 *   +-------------------------------+-------------------------------+
 *   |                     CXTP message ...                          |
 *
 * Tags are big-endian whatever the host.  The port types are those of
 * tshark 4.0.17's exported_pdu dissector, checked by writing a file with
 * every value and reading it with `tshark -V`: 0 NONE, 1 SCTP, 2 TCP,
 * 3 UDP, 4 DCCP, 5 IPX; 6 and 7 trip an assertion in the dissector.
 * ICMP has no ports, so its records carry neither tag 24 nor 25/26.
 *
 * The capture holds decrypted messages, PCTD keys and IPsec SA keys
 * included (that is its purpose: Wireshark reads it without a key log), so
 * the file is created, or truncated and re-moded, 0600.
 *
 * Loop thread only, like the rest of the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctp/ctp_cur.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_pcap.h"

#define PCAP_MAGIC        0xa1b2c3d4u   /* microsecond timestamps */
#define PCAP_LINKTYPE_UPPER_PDU 252u
/* libpcap's usual maximum; far above CXTP's 65535-octet messages. */
#define PCAP_SNAPLEN      262144u

enum {
	EXP_PDU_TAG_END = 0,
	EXP_PDU_TAG_PROTO_NAME = 12,
	EXP_PDU_TAG_IPV4_SRC = 20,
	EXP_PDU_TAG_IPV4_DST = 21,
	EXP_PDU_TAG_IPV6_SRC = 22,
	EXP_PDU_TAG_IPV6_DST = 23,
	EXP_PDU_TAG_PORT_TYPE = 24,
	EXP_PDU_TAG_SRC_PORT = 25,
	EXP_PDU_TAG_DST_PORT = 26,
};

enum {
	EXP_PDU_PT_SCTP = 1,
	EXP_PDU_PT_TCP = 2,
	EXP_PDU_PT_UDP = 3,
};

/* Tag list at its longest: name 8, two IPv6 addresses 40, ports 24, end 4. */
#define PCAP_TAGS_MAX 76

struct ctp_pcap {
	FILE *f;
	char *path;
	int   broken;   /* a write failed: logged once, nothing more written */
};

/* Host-order fields of the file and record headers. */
static void
ctp_pcap_put32(uint8_t *q, uint32_t v)
{
	memcpy(q, &v, sizeof v);
}

static void
ctp_pcap_put16(uint8_t *q, uint16_t v)
{
	memcpy(q, &v, sizeof v);
}

int
ctp_pcap_open(const char *path, struct ctp_pcap **out, struct ctp_err *err)
{
	uint8_t hdr[24];
	struct ctp_pcap *p;
	struct stat st;
	int fd, e;

	if (!path || !out)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_pcap_open: no path");
	*out = NULL;
	if ((p = calloc(1, sizeof *p)) == NULL || (p->path = strdup(path)) == NULL) {
		free(p);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "capture %s: out of memory", path);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	/* O_CREAT's mode does not apply to a file that was already there. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
	    fchmod(fd, 0600) < 0) {
		e = errno;
		close(fd);
		goto fail;
	}
	if ((p->f = fdopen(fd, "wb")) == NULL) {
		e = errno;
		close(fd);
		goto fail;
	}
	ctp_pcap_put32(hdr, PCAP_MAGIC);
	ctp_pcap_put16(hdr + 4, 2);             /* version 2.4 */
	ctp_pcap_put16(hdr + 6, 4);
	ctp_pcap_put32(hdr + 8, 0);             /* thiszone: UTC */
	ctp_pcap_put32(hdr + 12, 0);            /* sigfigs */
	ctp_pcap_put32(hdr + 16, PCAP_SNAPLEN);
	ctp_pcap_put32(hdr + 20, PCAP_LINKTYPE_UPPER_PDU);
	if (fwrite(hdr, 1, sizeof hdr, p->f) != sizeof hdr || fflush(p->f) != 0) {
		e = errno;
		goto fail;
	}
	*out = p;
	return 0;
fail:
	ctp_err_set(err, CTP_E_IO, 0, 0, "capture %s: %s", path, strerror(e));
	if (p->f)
		fclose(p->f);
	free(p->path);
	free(p);
	return CTP_E_IO;
}

/* A tag with a value of n octets (n a multiple of 4 here). */
static void
ctp_pcap_tag(struct ctp_wbuf *w, uint16_t tag, const void *val, uint16_t n)
{
	ctp_wbuf_u16(w, tag);
	ctp_wbuf_u16(w, n);
	ctp_wbuf_bytes(w, val, n);
}

static void
ctp_pcap_tag_u32(struct ctp_wbuf *w, uint16_t tag, uint32_t v)
{
	ctp_wbuf_u16(w, tag);
	ctp_wbuf_u16(w, 4);
	ctp_wbuf_u32(w, v);
}

/*
 * The address tag of sa, and its port (0 when it has none).  A dual-stack
 * socket reports IPv4 peers as ::ffff:a.b.c.d; those are written as IPv4
 * so the capture shows the address the peer really has.  Other families
 * (usrsctp's AF_CONN, or no address at all) leave the tag out: the record
 * still decodes, only without addresses.
 */
static uint16_t
ctp_pcap_addr(struct ctp_wbuf *w, const struct sockaddr *sa, int dst)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (!sa)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		ctp_pcap_tag(w, dst ? EXP_PDU_TAG_IPV4_DST : EXP_PDU_TAG_IPV4_SRC,
		    &sin->sin_addr, 4);
		return ntohs(sin->sin_port);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			ctp_pcap_tag(w, dst ? EXP_PDU_TAG_IPV4_DST : EXP_PDU_TAG_IPV4_SRC,
			    sin6->sin6_addr.s6_addr + 12, 4);
		else
			ctp_pcap_tag(w, dst ? EXP_PDU_TAG_IPV6_DST : EXP_PDU_TAG_IPV6_SRC,
			    &sin6->sin6_addr, 16);
		return ntohs(sin6->sin6_port);
	default:
		return 0;
	}
}

int
ctp_pcap_write(struct ctp_pcap *p, const struct sockaddr *src, const struct sockaddr *dst,
    int proto, const uint8_t *pdu, size_t len)
{
	uint8_t rec[16], tags[PCAP_TAGS_MAX];
	struct ctp_wbuf w;
	struct timespec ts;
	uint16_t sport, dport;
	uint32_t pt = 0;
	size_t caplen, total;

	if (!p || (!pdu && len))
		return CTP_E_INVAL;
	switch (proto) {
	case IPPROTO_SCTP: pt = EXP_PDU_PT_SCTP; break;
	case IPPROTO_TCP: pt = EXP_PDU_PT_TCP; break;
	case IPPROTO_UDP: pt = EXP_PDU_PT_UDP; break;
	case IPPROTO_ICMP: case IPPROTO_ICMPV6: break;
	default: return CTP_E_INVAL;
	}
	if (p->broken)
		return CTP_E_IO;

	ctp_wbuf_init(&w, tags, sizeof tags);
	ctp_pcap_tag(&w, EXP_PDU_TAG_PROTO_NAME, "cxtp", 4);
	sport = ctp_pcap_addr(&w, src, 0);
	dport = ctp_pcap_addr(&w, dst, 1);
	if (pt) {
		ctp_pcap_tag_u32(&w, EXP_PDU_TAG_PORT_TYPE, pt);
		ctp_pcap_tag_u32(&w, EXP_PDU_TAG_SRC_PORT, sport);
		ctp_pcap_tag_u32(&w, EXP_PDU_TAG_DST_PORT, dport);
	}
	ctp_wbuf_u16(&w, EXP_PDU_TAG_END);
	ctp_wbuf_u16(&w, 0);
	if (w.err)
		return CTP_E_NOSPACE;   /* PCAP_TAGS_MAX is wrong: an invariant */

	/* An oversized PDU is cut at the snap length, as a capture would. */
	total = w.len + len;
	caplen = total > PCAP_SNAPLEN ? PCAP_SNAPLEN : total;
	clock_gettime(CLOCK_REALTIME, &ts);
	ctp_pcap_put32(rec, (uint32_t)ts.tv_sec);
	ctp_pcap_put32(rec + 4, (uint32_t)(ts.tv_nsec / 1000));
	ctp_pcap_put32(rec + 8, (uint32_t)caplen);
	ctp_pcap_put32(rec + 12, total > UINT32_MAX ? UINT32_MAX : (uint32_t)total);

	/* Flushed per record, so a crash loses at most the record being written. */
	if (fwrite(rec, 1, sizeof rec, p->f) != sizeof rec ||
	    fwrite(tags, 1, w.len, p->f) != w.len ||
	    (caplen > w.len && fwrite(pdu, 1, caplen - w.len, p->f) != caplen - w.len) ||
	    fflush(p->f) != 0) {
		/* Once a record is half written, anything after it would be read
		 * as garbage: stop here and say so once. */
		log_err("capture %s: %s; no more messages are written to it", p->path,
		    strerror(errno));
		p->broken = 1;
		return CTP_E_IO;
	}
	return 0;
}

void
ctp_pcap_close(struct ctp_pcap *p)
{
	if (!p)
		return;
	if (fclose(p->f) != 0 && !p->broken)
		log_err("capture %s: %s", p->path, strerror(errno));
	free(p->path);
	free(p);
}
