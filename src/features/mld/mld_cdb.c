/*
 * mld_cdb.c: the Multicast Listener context (RFC 4067 appendix B, FPT 0x0001).
 *
 * Appendix B gives the data (the subnet prefix on nAR's wireless interface,
 * then the subscribed IPv6 multicast address) but not its encoding.  The
 * decisions taken here, where RFC 4067 and PROFILE.md are silent:
 *
 *  1. Both fields are 16 octets, in that order.  Without P the CDB is
 *     4 + 16 + 16 = 36 octets, zero-padded to 40 (Length 5).
 *  2. With P = 1 the presence vector follows RFC 4067 2.4 with bit 0 the
 *     most significant (PROFILE 1.3, the notes' recommendation): 0x80000000
 *     the prefix, 0x40000000 the group.  A field whose bit is clear is
 *     omitted from the data and takes its default.
 *  3. The prefix defaults to all zeros, meaning "the link the MN attaches
 *     to".  The group has no default (a listener context without its group
 *     says nothing), so a presence vector without the group bit is
 *     malformed.  Any other bit set is malformed: "presence vector bit N
 *     names no field" (bit N in RFC numbering, 0 = MSB).
 *  4. The octets after the fields are CDB padding and must be zero.  A
 *     Length larger than needed is accepted when the extra octets are zero
 *     (describe/build keeps the Length, so the bytes survive).
 *  5. The group must be an IPv6 multicast address (ff00::/8), and one that
 *     MLD reports: not scope 0 (reserved) or 1 (interface-local), and not
 *     ff02::1, the all-nodes group every node is always in (RFC 2710 5,
 *     RFC 3810 6).  The prefix must not be multicast: it names a link.
 *  6. The message's address family (the V bit) does not constrain the
 *     context: a dual-stack MN's IPv6 groups may travel in an IPv4 CTD.
 *  7. The CDB's 7 reserved bits are ignored on receipt and sent as zero.
 *  8. Every failure is status 0x05 (malformed CDB); the context has no
 *     feature-specific status codes.
 *  9. The encoder sends the RFC's plain form (P = 0, both fields) whenever
 *     it has a prefix, and P = 1 with the group alone otherwise.
 */
#include <string.h>

#include "ctp/ctp_proto.h"
#include "features/mld/mld_cdb.h"

#define MLD_ADDR_LEN 16

/* Meaning, with the offsets of the two fields for err->off. */
static int
mld_cdb_check(const struct mld_ctx *ctx, size_t prefix_off, size_t group_off,
    struct ctp_err *err)
{
	static const uint8_t all_nodes[MLD_ADDR_LEN] = { 0xff, 0x02, [15] = 0x01 };
	unsigned scope = ctx->group[1] & 0x0f;

	if (ctx->has_prefix && ctx->prefix[0] == 0xff)
		return ctp_err_set(err, CTP_E_VALUE, prefix_off, CTP_ST_MALFORMED_CDB,
		    "MLD subnet prefix is a multicast address, not a link's prefix");
	if (ctx->group[0] != 0xff)
		return ctp_err_set(err, CTP_E_VALUE, group_off, CTP_ST_MALFORMED_CDB,
		    "MLD group is not an IPv6 multicast address (ff00::/8)");
	if (scope <= 1)
		return ctp_err_set(err, CTP_E_VALUE, group_off + 1, CTP_ST_MALFORMED_CDB,
		    "MLD group has scope %u, which MLD never reports (RFC 2710 5)", scope);
	if (memcmp(ctx->group, all_nodes, MLD_ADDR_LEN) == 0)
		return ctp_err_set(err, CTP_E_VALUE, group_off, CTP_ST_MALFORMED_CDB,
		    "MLD group ff02::1 (all nodes) is never reported (RFC 2710 5)");
	return 0;
}

int
mld_cdb_verify(const struct mld_ctx *ctx, struct ctp_err *err)
{
	return mld_cdb_check(ctx, 0, 0, err);
}

int
mld_cdb_decode(const struct ctp_cdb *cdb, struct mld_ctx *ctx, struct ctp_err *err)
{
	size_t base = cdb->off + CTP_CDB_HDR_LEN + ((cdb->flags & CTP_CDB_P) ? 4 : 0);
	size_t prefix_off = 0, group_off;
	uint32_t pv = MLD_PV_ALL;
	struct ctp_cur c;
	int rc;

	memset(ctx, 0, sizeof *ctx);
	if (cdb->fpt != CTP_FPT_MLD)
		return ctp_err_set(err, CTP_E_INVAL, cdb->off, CTP_ST_UNSUPPORTED_FPT,
		    "FPT 0x%04x is not the MLD context (0x0001)", cdb->fpt);
	if (cdb->flags & CTP_CDB_P) {
		pv = cdb->pv;
		if (pv & ~MLD_PV_ALL)
			return ctp_err_set(err, CTP_E_VALUE, cdb->off + CTP_CDB_HDR_LEN,
			    CTP_ST_MALFORMED_CDB, "presence vector bit %d names no field",
			    __builtin_clz(pv & ~MLD_PV_ALL));
		if (!(pv & MLD_PV_GROUP))
			return ctp_err_set(err, CTP_E_VALUE, cdb->off + CTP_CDB_HDR_LEN,
			    CTP_ST_MALFORMED_CDB,
			    "presence vector omits the group, which has no default");
	}
	ctp_cur_init(&c, cdb->data, cdb->len, base);
	if (pv & MLD_PV_PREFIX) {
		prefix_off = c.off;
		if (ctp_cur_copy(&c, ctx->prefix, MLD_ADDR_LEN) < 0)
			goto short_data;
		ctx->has_prefix = true;
	}
	group_off = c.off;
	if (ctp_cur_copy(&c, ctx->group, MLD_ADDR_LEN) < 0)
		goto short_data;
	while (c.left) {
		size_t at = c.off;
		uint8_t b;

		(void)ctp_cur_u8(&c, &b);
		if (b) {
			memset(ctx, 0, sizeof *ctx);
			return ctp_err_set(err, CTP_E_PAD, at, CTP_ST_MALFORMED_CDB,
			    "non-zero octet after the MLD context's fields");
		}
	}
	if ((rc = mld_cdb_check(ctx, prefix_off, group_off, err)) < 0)
		memset(ctx, 0, sizeof *ctx);
	return rc;

short_data:
	rc = ctp_err_set(err, CTP_E_SHORT, c.off, CTP_ST_MALFORMED_CDB,
	    "the MLD %s needs 16 octets, the CDB has %zu left",
	    (pv & MLD_PV_PREFIX) && !ctx->has_prefix ? "subnet prefix" : "group", c.left);
	memset(ctx, 0, sizeof *ctx);
	return rc;
}

/*
 * The plain form (has_prefix), RFC 4067 appendix B:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         FPT = 0x0001          |  Length = 5   |0|  Reserved   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +     Subnet prefix on nAR's wireless interface (16 octets)     +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +        Subscribed IPv6 multicast address (16 octets)          +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Padding (4 octets, 0)                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The default prefix (no has_prefix), with a presence vector:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         FPT = 0x0001          |  Length = 3   |1|  Reserved   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0|1|                    0 (30 bits)                            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * +        Subscribed IPv6 multicast address (16 octets)          +
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
mld_cdb_encode(const struct mld_ctx *ctx, struct ctp_wbuf *w)
{
	size_t at;

	if (ctx->has_prefix) {
		at = ctp_cdb_begin(w, CTP_FPT_MLD, 0, 0);
		ctp_wbuf_bytes(w, ctx->prefix, MLD_ADDR_LEN);
	} else
		at = ctp_cdb_begin(w, CTP_FPT_MLD, CTP_CDB_P, MLD_PV_GROUP);
	ctp_wbuf_bytes(w, ctx->group, MLD_ADDR_LEN);
	return ctp_cdb_end(w, at, 0, 0);
}
