/*
 * ctp_pcap.h: a capture of the CXTP messages a daemon sends and receives,
 * after decryption, as an exported-PDU pcap (link type 252,
 * LINKTYPE_WIRESHARK_UPPER_PDU) tagged with the dissector name "cxtp", so
 * Wireshark and tshark decode it with wireshark/cxtp.lua and no key log.
 *
 * Each record: tag 12 (dissector name "cxtp"), the addresses (tags 20/21 or
 * 22/23), the port type (tag 24: 1 = SCTP, 2 = TCP, 3 = UDP, as tshark
 * 4.0's exported_pdu numbers it) and ports (25/26), end (0), then the CXTP
 * message.  ICMP has no ports: its records carry no tags 24-26.  Writes
 * are buffered and flushed after each record so a crash loses nothing.
 * The file is mode 0600: it holds the decrypted messages, keys included.
 */
#ifndef CTP_PCAP_H
#define CTP_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_cur.h"
#include "ctp/ctp_err.h"

struct ctp_pcap;

int ctp_pcap_open(const char *path, struct ctp_pcap **out, struct ctp_err *err);
/* proto: IPPROTO_SCTP for AR-AR messages, IPPROTO_ICMP/ICMPV6 or
 * IPPROTO_UDP for the mobile node's (IPPROTO_TCP also works); others are
 * CTP_E_INVAL.  src/dst carry the ports; an address that is NULL or neither
 * AF_INET nor AF_INET6 is left out of the record.  After a write error
 * (logged once, naming the file) every later write returns CTP_E_IO. */
int ctp_pcap_write(struct ctp_pcap *p, const struct sockaddr *src, const struct sockaddr *dst,
    int proto, const uint8_t *pdu, size_t len);
void ctp_pcap_close(struct ctp_pcap *p);

/* ---- reading ------------------------------------------------------------ */

#define CTP_PCAP_NAME_MAX 32

/* One record of an exported-PDU capture; pdu points into the caller's buffer. */
struct ctp_pcap_rec {
	size_t          index;        /* 1 for the first record */
	size_t          off;          /* file offset of its record header */
	uint64_t        ts_us;        /* capture time, microseconds since the epoch */
	char            name[CTP_PCAP_NAME_MAX]; /* tag 12, the dissector ("cxtp");
	                                 "" when absent */
	int             proto;        /* tag 24: IPPROTO_SCTP, _TCP or _UDP; 0 when
	                                 absent or NONE (the ICMP records) */
	struct ctp_addr src, dst;     /* tags 20/21 or 22/23; family 0 when absent */
	uint16_t        sport, dport; /* tags 25/26; 0 when absent */
	const uint8_t  *pdu;          /* what follows the end tag */
	size_t          len;
};

struct ctp_pcap_reader {
	struct ctp_cur cur;           /* the records not read yet */
	int            little;        /* the file's integers are little-endian */
	int            nsec;          /* nanosecond time stamps (magic 0xa1b23c4d) */
	size_t         index;         /* records read so far */
};

/*
 * Start reading the capture in buf (len octets; the reader keeps pointers
 * into it).  Accepts both byte orders and both time-stamp resolutions of
 * the classic pcap format, version 2.x, link type 252 only.  0, or
 * CTP_E_SHORT (no whole file header), CTP_E_VALUE (not a pcap file, or
 * another version), CTP_E_UNSUPPORTED (another link type), with err->off.
 */
int ctp_pcap_read_begin(struct ctp_pcap_reader *r, const uint8_t *buf, size_t len,
    struct ctp_err *err);
/*
 * The next record: 1 with *rec filled, 0 at the end of the file, or an
 * error naming the record and with err->off its file offset:
 *   CTP_E_SHORT   the record header, the record, a tag or the tag list
 *                 (no end tag) runs past what is there; or the record was
 *                 cut at the snap length (its PDU is not whole);
 *   CTP_E_LENGTH  more octets captured than the packet had;
 *   CTP_E_VALUE   a tag of the wrong size, a port above 65535, a name that
 *                 is not printable, a sub-second field out of range, an end
 *                 tag with a value;
 *   CTP_E_DUP     a source, destination, port type or port given twice;
 *   CTP_E_UNSUPPORTED  a port type other than NONE, SCTP, TCP, UDP.
 * Tags the reader does not know (dissector tables, column texts) are
 * skipped.  After an error, the reader stays at the bad record.
 */
int ctp_pcap_read_next(struct ctp_pcap_reader *r, struct ctp_pcap_rec *rec,
    struct ctp_err *err);

#endif
