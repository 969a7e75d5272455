/*
 * ctp_addr.c: CXTP addresses to and from text.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"

int
ctp_addr_parse(struct ctp_addr *a, const char *s)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = 6;
		return 0;
	}
	return CTP_E_VALUE;
}

const char *
ctp_addr_fmt(const struct ctp_addr *a, char *buf, size_t len)
{
	if (!a || (a->family != 4 && a->family != 6) ||
	    !inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, buf, (socklen_t)len))
		snprintf(buf, len, "-");
	return buf;
}

int
ctp_addr_eq(const struct ctp_addr *x, const struct ctp_addr *y)
{
	return x->family == y->family &&
	    memcmp(x->a, y->a, ctp_addr_len(x->family)) == 0;
}

int
ctp_addr_set(struct ctp_addr *a, unsigned family, const uint8_t *octets)
{
	size_t n = ctp_addr_len(family);

	memset(a, 0, sizeof *a);
	if (n == 0)
		return CTP_E_VALUE;
	a->family = (uint8_t)family;
	memcpy(a->a, octets, n);
	return 0;
}

int
ctp_addr_in_prefix(const struct ctp_addr *addr, const struct ctp_addr *prefix, unsigned plen)
{
	size_t n = ctp_addr_len(addr->family);

	if (addr->family != prefix->family || plen > n * 8)
		return 0;
	for (unsigned i = 0; i < plen; i++) {
		unsigned byte = i / 8, bit = 7 - i % 8;

		if (((addr->a[byte] >> bit) & 1) != ((prefix->a[byte] >> bit) & 1))
			return 0;
	}
	return 1;
}
