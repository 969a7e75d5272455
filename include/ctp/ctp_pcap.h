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

#endif
