/*
 * mld_cdb.h: the IPv6 Multicast Listener context (RFC 4067 appendix B,
 * FPT 0x0001, the only FPT IANA has registered): one CDB per subscribed
 * group, telling nAR to enter "Listeners Present" for the group on the
 * interface the prefix names, as if an MLD Report had arrived.
 *
 * Decode checks structure and meaning (mld_cdb.c lists the rules); nothing
 * allocates.
 */
#ifndef MLD_CDB_H
#define MLD_CDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_cur.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_msg.h"

/* Presence vector bits, bit 0 (the MSB) first, in field order. */
#define MLD_PV_PREFIX 0x80000000u
#define MLD_PV_GROUP  0x40000000u
#define MLD_PV_ALL    (MLD_PV_PREFIX | MLD_PV_GROUP)

struct mld_ctx {
	bool    has_prefix;  /* the prefix was on the wire (always, without P) */
	uint8_t prefix[16];  /* subnet prefix on nAR's wireless interface; :: = default */
	uint8_t group[16];   /* subscribed IPv6 multicast address */
};

/*
 * Decode and verify one MLD CDB (cdb->fpt 0x0001).  0, or CTP_E_* with
 * err->off a message offset and err->status 0x05 (malformed CDB).  On
 * failure *ctx is zeroed.
 */
int mld_cdb_decode(const struct ctp_cdb *cdb, struct mld_ctx *ctx, struct ctp_err *err);

/* The rules of meaning alone (for a context built locally; offsets are 0). */
int mld_cdb_verify(const struct mld_ctx *ctx, struct ctp_err *err);

/*
 * Write one whole CDB: P = 0 with both fields (40 octets, Length 5) when
 * has_prefix, else P = 1 with the group alone (24 octets, Length 3).
 * 0 or CTP_E_NOSPACE.  Does not verify.
 */
int mld_cdb_encode(const struct mld_ctx *ctx, struct ctp_wbuf *w);

#endif
