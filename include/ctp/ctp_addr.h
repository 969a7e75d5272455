/*
 * ctp_addr.h: an IPv4 or IPv6 address as CXTP carries it (no port, no scope).
 */
#ifndef CTP_ADDR_H
#define CTP_ADDR_H

#include <stddef.h>
#include <stdint.h>

struct ctp_addr {
	uint8_t family;   /* 4, 6, or 0 when unset */
	uint8_t a[16];    /* network byte order; IPv4 uses a[0..3] */
};

#define CTP_ADDRSTRLEN 46

/* 4 or 16 for a valid family, 0 otherwise. */
static inline size_t
ctp_addr_len(unsigned family)
{
	return family == 4 ? 4 : family == 6 ? 16 : 0;
}

/* Parse dotted-quad or IPv6 text; 0 or CTP_E_VALUE. */
int ctp_addr_parse(struct ctp_addr *a, const char *s);
/* Format into buf (at least CTP_ADDRSTRLEN); returns buf. "-" for unset. */
const char *ctp_addr_fmt(const struct ctp_addr *a, char *buf, size_t len);
int ctp_addr_eq(const struct ctp_addr *x, const struct ctp_addr *y);
/* Fill from raw octets of the given family; 0 or CTP_E_VALUE. */
int ctp_addr_set(struct ctp_addr *a, unsigned family, const uint8_t *octets);
/* 1 when addr lies in prefix/plen of the same family. */
int ctp_addr_in_prefix(const struct ctp_addr *addr, const struct ctp_addr *prefix, unsigned plen);

#endif
