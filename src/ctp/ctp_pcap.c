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

/* ---- reading ------------------------------------------------------------------ */

/*
 * A classic pcap file, as ctp_pcap_open writes it or tcpdump and tshark do:
 *
 *   file header (24): magic (4) | major (2) | minor (2) | thiszone (4) |
 *                     sigfigs (4) | snaplen (4) | link type (4)
 *   record (16 + n):  seconds (4) | micro- or nanoseconds (4) |
 *                     captured length n (4) | original length (4) | data (n)
 *
 * All of them in the writer's byte order, which the magic tells: read
 * big-endian, 0xa1b2c3d4 (microseconds) or 0xa1b23c4d (nanoseconds) is a
 * big-endian file; the same octets reversed, a little-endian one.  The
 * data of a link-type-252 record is the tag list drawn at the top of this
 * file, then the PDU.
 */
#define PCAP_MAGIC_NSEC   0xa1b23c4du
#define PCAP_FILE_HDR_LEN 24
#define PCAP_REC_HDR_LEN  16

static uint32_t
ctp_pcap_swap32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

/* A header field in the file's byte order (the cursor reads big-endian). */
static int
ctp_pcap_get32(struct ctp_pcap_reader *r, struct ctp_cur *c, uint32_t *v)
{
	int rc = ctp_cur_u32(c, v);

	if (rc == 0 && r->little)
		*v = ctp_pcap_swap32(*v);
	return rc;
}

int
ctp_pcap_read_begin(struct ctp_pcap_reader *r, const uint8_t *buf, size_t len,
    struct ctp_err *err)
{
	struct ctp_cur c;
	uint32_t magic, ver, zone, sigfigs, snaplen, linktype;

	if (!r || (!buf && len))
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_pcap_read_begin: no buffer");
	memset(r, 0, sizeof *r);
	ctp_cur_init(&c, buf, len, 0);
	if (len < PCAP_FILE_HDR_LEN)
		return ctp_err_set(err, CTP_E_SHORT, 0, 0,
		    "not a pcap file: %zu octets, a file header has %d", len, PCAP_FILE_HDR_LEN);
	(void)ctp_cur_u32(&c, &magic);
	if (magic == PCAP_MAGIC || magic == PCAP_MAGIC_NSEC)
		r->little = 0;
	else if (ctp_pcap_swap32(magic) == PCAP_MAGIC || ctp_pcap_swap32(magic) == PCAP_MAGIC_NSEC)
		r->little = 1;
	else
		return ctp_err_set(err, CTP_E_VALUE, 0, 0,
		    "not a pcap file: magic %08x (pcapng is not read: tshark -F pcap converts it)",
		    magic);
	r->nsec = (r->little ? ctp_pcap_swap32(magic) : magic) == PCAP_MAGIC_NSEC;
	/* the version is two 16-bit fields: read as one word, major first
	 * in either order once the halves are put right */
	(void)ctp_pcap_get32(r, &c, &ver);
	if ((r->little ? ver & 0xffff : ver >> 16) != 2)
		return ctp_err_set(err, CTP_E_VALUE, 4, 0, "pcap version %u, only 2 is read",
		    (unsigned)(r->little ? ver & 0xffff : ver >> 16));
	(void)ctp_pcap_get32(r, &c, &zone);
	(void)ctp_pcap_get32(r, &c, &sigfigs);
	(void)ctp_pcap_get32(r, &c, &snaplen);
	(void)ctp_pcap_get32(r, &c, &linktype);
	if (linktype != PCAP_LINKTYPE_UPPER_PDU)
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 20, 0,
		    "link type %u: only exported PDUs (252, ctpd --pcap) are read", linktype);
	r->cur = c;
	return 0;
}

/* The tags the reader knows, each allowed once: ctp_pcap_rec_tag's mask. */
enum {
	PCAP_SEEN_NAME = 0x01,
	PCAP_SEEN_SRC = 0x02,
	PCAP_SEEN_DST = 0x04,
	PCAP_SEEN_PT = 0x08,
	PCAP_SEEN_SPORT = 0x10,
	PCAP_SEEN_DPORT = 0x20,
};

/* The dissector name: NUL padding stripped, then 1..31 printable octets. */
static int
ctp_pcap_rec_name(struct ctp_pcap_rec *rec, struct ctp_cur *v, struct ctp_err *err)
{
	const uint8_t *s;
	size_t n = v->left, at = v->off;

	(void)ctp_cur_view(v, n, &s);
	while (n > 0 && s[n - 1] == 0)
		n--;
	if (n == 0 || n >= sizeof rec->name)
		return ctp_err_set(err, CTP_E_VALUE, at, 0,
		    "record %zu: dissector name of %zu octets (1 to %zu)", rec->index, n,
		    sizeof rec->name - 1);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return ctp_err_set(err, CTP_E_VALUE, at + i, 0,
			    "record %zu: dissector name has octet 0x%02x", rec->index, s[i]);
	memcpy(rec->name, s, n);
	rec->name[n] = 0;
	return 0;
}

static int
ctp_pcap_rec_u32(struct ctp_pcap_rec *rec, uint16_t tag, struct ctp_cur *v, uint32_t max,
    uint32_t *out, struct ctp_err *err)
{
	size_t at = v->off;

	if (v->left != 4)
		return ctp_err_set(err, CTP_E_VALUE, at, 0, "record %zu: tag %u has %zu octets, not 4",
		    rec->index, tag, v->left);
	(void)ctp_cur_u32(v, out);
	if (*out > max)
		return ctp_err_set(err, CTP_E_VALUE, at, 0, "record %zu: tag %u: %u is above %u",
		    rec->index, tag, *out, max);
	return 0;
}

/* One tag of the list (not the end tag) into rec. */
static int
ctp_pcap_rec_tag(struct ctp_pcap_rec *rec, uint16_t tag, struct ctp_cur *v, unsigned *seen,
    struct ctp_err *err)
{
	unsigned bit;
	uint32_t u;
	size_t at = v->off;
	int rc;

	switch (tag) {
	case EXP_PDU_TAG_PROTO_NAME: bit = PCAP_SEEN_NAME; break;
	case EXP_PDU_TAG_IPV4_SRC: case EXP_PDU_TAG_IPV6_SRC: bit = PCAP_SEEN_SRC; break;
	case EXP_PDU_TAG_IPV4_DST: case EXP_PDU_TAG_IPV6_DST: bit = PCAP_SEEN_DST; break;
	case EXP_PDU_TAG_PORT_TYPE: bit = PCAP_SEEN_PT; break;
	case EXP_PDU_TAG_SRC_PORT: bit = PCAP_SEEN_SPORT; break;
	case EXP_PDU_TAG_DST_PORT: bit = PCAP_SEEN_DPORT; break;
	default:
		return 0;   /* not ours to judge: skipped */
	}
	if (*seen & bit)
		return ctp_err_set(err, CTP_E_DUP, at, 0, "record %zu: tag %u repeats a %s",
		    rec->index, tag, bit == PCAP_SEEN_NAME ? "dissector name" :
		    bit == PCAP_SEEN_SRC ? "source address" : bit == PCAP_SEEN_DST ?
		    "destination address" : bit == PCAP_SEEN_PT ? "port type" : "port");
	*seen |= bit;
	switch (tag) {
	case EXP_PDU_TAG_PROTO_NAME:
		return ctp_pcap_rec_name(rec, v, err);
	case EXP_PDU_TAG_IPV4_SRC: case EXP_PDU_TAG_IPV4_DST:
	case EXP_PDU_TAG_IPV6_SRC: case EXP_PDU_TAG_IPV6_DST: {
		unsigned fam = tag == EXP_PDU_TAG_IPV4_SRC || tag == EXP_PDU_TAG_IPV4_DST ? 4 : 6;

		if (v->left != ctp_addr_len(fam))
			return ctp_err_set(err, CTP_E_VALUE, at, 0,
			    "record %zu: IPv%u address tag %u has %zu octets", rec->index, fam, tag,
			    v->left);
		(void)ctp_addr_set(bit == PCAP_SEEN_SRC ? &rec->src : &rec->dst, fam, v->p);
		return 0;
	}
	case EXP_PDU_TAG_PORT_TYPE:
		if ((rc = ctp_pcap_rec_u32(rec, tag, v, UINT32_MAX, &u, err)) < 0)
			return rc;
		switch (u) {
		case 0: rec->proto = 0; return 0;
		case EXP_PDU_PT_SCTP: rec->proto = IPPROTO_SCTP; return 0;
		case EXP_PDU_PT_TCP: rec->proto = IPPROTO_TCP; return 0;
		case EXP_PDU_PT_UDP: rec->proto = IPPROTO_UDP; return 0;
		default:
			return ctp_err_set(err, CTP_E_UNSUPPORTED, at, 0,
			    "record %zu: port type %u (0 none, 1 SCTP, 2 TCP, 3 UDP)", rec->index, u);
		}
	default:   /* the ports */
		if ((rc = ctp_pcap_rec_u32(rec, tag, v, 65535, &u, err)) < 0)
			return rc;
		*(tag == EXP_PDU_TAG_SRC_PORT ? &rec->sport : &rec->dport) = (uint16_t)u;
		return 0;
	}
}

int
ctp_pcap_read_next(struct ctp_pcap_reader *r, struct ctp_pcap_rec *rec, struct ctp_err *err)
{
	struct ctp_cur c, data;
	uint32_t sec, frac, caplen, origlen;
	size_t at;
	unsigned seen = 0;
	int rc;

	if (!r || !rec)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_pcap_read_next: no reader");
	if (r->cur.left == 0)
		return 0;
	c = r->cur;
	at = c.off;
	memset(rec, 0, sizeof *rec);
	rec->index = r->index + 1;
	rec->off = at;
	if (c.left < PCAP_REC_HDR_LEN)
		return ctp_err_set(err, CTP_E_SHORT, at, 0,
		    "record %zu: %zu octets left, a record header has %d", rec->index, c.left,
		    PCAP_REC_HDR_LEN);
	(void)ctp_pcap_get32(r, &c, &sec);
	(void)ctp_pcap_get32(r, &c, &frac);
	(void)ctp_pcap_get32(r, &c, &caplen);
	(void)ctp_pcap_get32(r, &c, &origlen);
	if (frac >= (r->nsec ? 1000000000u : 1000000u))
		return ctp_err_set(err, CTP_E_VALUE, at + 4, 0, "record %zu: %u %s in a second",
		    rec->index, frac, r->nsec ? "nanoseconds" : "microseconds");
	if (caplen > origlen)
		return ctp_err_set(err, CTP_E_LENGTH, at + 8, 0,
		    "record %zu: %u octets captured of a packet of %u", rec->index, caplen, origlen);
	if (ctp_cur_sub(&c, caplen, &data) < 0)
		return ctp_err_set(err, CTP_E_SHORT, at + 8, 0,
		    "record %zu: %u octets announced, %zu left in the file", rec->index, caplen,
		    c.left);
	if (caplen < origlen)
		return ctp_err_set(err, CTP_E_SHORT, at + 8, 0,
		    "record %zu: cut at the snap length (%u of %u octets): the PDU is not whole",
		    rec->index, caplen, origlen);
	rec->ts_us = (uint64_t)sec * 1000000u + (r->nsec ? frac / 1000u : frac);

	/* the tag list, up to and including the end tag */
	for (;;) {
		struct ctp_cur v;
		uint16_t tag, tlen;
		size_t tat = data.off;

		if (ctp_cur_u16(&data, &tag) < 0 || ctp_cur_u16(&data, &tlen) < 0)
			return ctp_err_set(err, CTP_E_SHORT, tat, 0,
			    "record %zu: the tag list has no end tag", rec->index);
		if (ctp_cur_sub(&data, tlen, &v) < 0)
			return ctp_err_set(err, CTP_E_SHORT, tat, 0,
			    "record %zu: tag %u of %u octets runs past the record (%zu left)",
			    rec->index, tag, tlen, data.left);
		if (tag == EXP_PDU_TAG_END) {
			if (tlen != 0)
				return ctp_err_set(err, CTP_E_VALUE, tat, 0,
				    "record %zu: the end tag has a value of %u octets", rec->index, tlen);
			break;
		}
		if ((rc = ctp_pcap_rec_tag(rec, tag, &v, &seen, err)) < 0)
			return rc;
	}
	rec->len = data.left;
	(void)ctp_cur_view(&data, data.left, &rec->pdu);
	r->cur = c;
	r->index++;
	return 1;
}
