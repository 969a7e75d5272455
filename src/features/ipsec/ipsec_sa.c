/*
 * ipsec_sa.c: the IPsec SA CDB (FPT 0xFF01, PROFILE 6) to and from struct
 * ipsec_sa.
 *
 * Validate, parse, verify (STYLE "parse through a cursor"): ctp_tlv_check()
 * applies the policy of proto/cxtp.def (lengths, repetition, required TLVs,
 * unknown critical TLVs, padding, field layout), so by the time a value is
 * parsed here its size is known to be right; the cursor reads still check.
 * Meaning is verified last, on the host struct, so that an SA built by the
 * daemon passes through exactly the same rules as one received.
 *
 * Decisions where PROFILE 6 is silent (for proto/DECISIONS.md):
 *
 *  - Reserved octets and the CDB's 7 reserved bits are ignored on receipt
 *    and written as zero (RFC 4067 2.4 "0 on send").
 *  - The SA's address family is its own: an SA may be IPv6 inside an IPv4
 *    CXTP message.  Tunnel-mode selectors may differ in family from the
 *    outer ENDPOINTS; transport-mode selectors may not (RFC 4301 4.1: there
 *    is no inner header).
 *  - Endpoint and virtual-SG addresses must not be unspecified.
 *  - An outbound SA must carry SEQ_OUT: without it the sink would restart
 *    the counter and reuse (SA, sequence number) pairs, which PROFILE 5.1
 *    forbids (AES-GCM and ChaCha20 nonces).  SEQ_OUT.next is never 0 and
 *    always exceeds its margin (the snapshot's next number is at least 1).
 *  - Anti-replay (flag 0x04) needs a REPLAY TLV with a window of at least
 *    32 (RFC 4303 3.4.3).  The bitmap may not mark numbers below 1, and
 *    marks the highest number itself whenever that is at least 1.
 *  - Non-AEAD ESP without integrity: ENCR_NULL is malformed (RFC 4303 3.2:
 *    not both NULL), any other cipher is refused by policy (0x89, RFC 8221
 *    6: AUTH_NONE only with AEAD).  A 3DES key whose first two or last two
 *    thirds are equal (parity ignored) is single DES, refused with 0x89.
 *  - With LIFETIME and USAGE both present, a hard limit already reached at
 *    the snapshot (times counted with SNAPSHOT_AGE) is status 0x87.
 *  - More than IPSEC_SA_MAX_SELECTORS selectors is CTP_E_LIMIT, status 0x06.
 *  - ENCAP ports are not 0; SEL_NAME is not empty.
 *  - PREV_SPI (proto/DECISIONS.md 35) follows the SPI's rules (not below
 *    256) and differs from the SA's SPI.
 *  - Unknown non-critical TLVs are skipped and not kept: re-encoding drops
 *    them, so a relay that must pass them on forwards the CDB's octets.
 */
#include <string.h>

#include "ctp/ctp_defs.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"
#include "features/ipsec/ipsec_sa.h"

#define IPSEC_SA_SEQ32_MAX UINT64_C(0xffffffff)

void
ipsec_sa_clear(struct ipsec_sa *sa)
{
	ctp_wipe(sa, sizeof *sa);
}

/* Zero [from, to) of sa: the octets between two members. */
#define IPSEC_SA_ZERO(sa, from, to) \
	memset((uint8_t *)(sa) + (from), 0, (size_t)((to) - (from)))
#define IPSEC_SA_END(m) (offsetof(struct ipsec_sa, m) + sizeof ((struct ipsec_sa *)0)->m)
#define IPSEC_SA_MIN(a, b) ((a) < (b) ? (a) : (b))

/*
 * The cheap clear: every fixed field, presence flag and count zeroed, the
 * key octets in use wiped, the variable arrays (selectors, replay bitmap,
 * names) zeroed up to their recorded lengths only.  The rest of those
 * arrays is zero already when sa is clean (see ipsec_sa.h): about 0.8 KiB
 * touched instead of 2.7 KiB.
 */
void
ipsec_sa_reset(struct ipsec_sa *sa)
{
	size_t nsel = IPSEC_SA_MIN(sa->nsel, (size_t)IPSEC_SA_MAX_SELECTORS);

	ctp_wipe(sa->encr.key, IPSEC_SA_MIN(sa->encr.key_len, sizeof sa->encr.key));
	ctp_wipe(sa->integ.key, IPSEC_SA_MIN(sa->integ.key_len, sizeof sa->integ.key));
	memset(sa->sel, 0, nsel * sizeof sa->sel[0]);
	memset(sa->replay.bitmap, 0, IPSEC_SA_MIN(sa->replay.bitmap_len,
	    sizeof sa->replay.bitmap));
	memset(sa->sel_name.octets, 0, IPSEC_SA_MIN(sa->sel_name.len,
	    sizeof sa->sel_name.octets));
	memset(sa->sel_sensitivity.level, 0, IPSEC_SA_MIN(sa->sel_sensitivity.len,
	    sizeof sa->sel_sensitivity.level));
	/* everything else, lengths last (the lines above needed them) */
	IPSEC_SA_ZERO(sa, 0, offsetof(struct ipsec_sa, sel));
	IPSEC_SA_ZERO(sa, offsetof(struct ipsec_sa, has_encr),
	    offsetof(struct ipsec_sa, replay.bitmap));
	IPSEC_SA_ZERO(sa, IPSEC_SA_END(replay.bitmap), offsetof(struct ipsec_sa, sel_name.octets));
	IPSEC_SA_ZERO(sa, IPSEC_SA_END(sel_name.octets),
	    offsetof(struct ipsec_sa, sel_sensitivity.level));
	IPSEC_SA_ZERO(sa, IPSEC_SA_END(sel_sensitivity.level), sizeof *sa);
}

/* ---- shared wire helpers ------------------------------------------------ */

int
ipsec_sa_read_addr(struct ctp_cur *c, unsigned family, struct ctp_addr *a)
{
	uint8_t raw[16];
	size_t n = ctp_addr_len(family);

	if (n == 0)
		return CTP_E_VALUE;
	if (ctp_cur_copy(c, raw, n) < 0)
		return CTP_E_SHORT;
	return ctp_addr_set(a, family, raw);
}

int
ipsec_sa_read_name(struct ctp_cur *c, struct ipsec_name *n)
{
	if (ctp_cur_u8(c, &n->type) < 0 || ctp_cur_skip(c, 3) < 0)
		return CTP_E_SHORT;
	if (c->left > sizeof n->octets)
		return CTP_E_LIMIT;
	n->len = (uint16_t)c->left;
	return ctp_cur_copy(c, n->octets, n->len);
}

void
ipsec_sa_write_name(struct ctp_wbuf *w, const struct ipsec_name *n)
{
	ctp_wbuf_u8(w, n->type);
	ctp_wbuf_zero(w, 3);
	ctp_wbuf_bytes(w, n->octets, n->len);
}

int
ipsec_sa_verify_name(const struct ipsec_name *n, size_t off, const char *what,
    struct ctp_err *err)
{
	if (n->type < CTP_NAME_TYPE_FQDN || n->type > CTP_NAME_TYPE_KEY_ID)
		return ctp_err_set(err, CTP_E_VALUE, off + 4, CTP_ST_MALFORMED_CDB,
		    "%s name type %u is not 1 (FQDN), 2 (RFC 822), 3 (X.500 DN) or 4 (key id)",
		    what, n->type);
	if (n->len == 0 || n->len > sizeof n->octets)
		return ctp_err_set(err, CTP_E_VALUE, off + 2, CTP_ST_MALFORMED_CDB,
		    "%s carries %s name", what, n->len ? "an over-long" : "an empty");
	return 0;
}

static int
ipsec_sa_is_unspec(const struct ctp_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->a, zero, ctp_addr_len(a->family)) == 0;
}

/* ---- decoding --------------------------------------------------------------- */

/* Parse one known TLV whose layout ctp_tlv_check() has already accepted. */
static int
ipsec_sa_parse(struct ipsec_sa *sa, const struct ctp_tlv *t, struct ctp_err *err)
{
	struct ctp_cur c;
	uint8_t family;
	int rc = 0;

	ctp_cur_init(&c, t->val, t->len, t->off + CTP_TLV_HDR_LEN);
	switch (t->type) {
	case CTP_TLV_IPSEC_SA_SA_ID:
		sa->where.sa_id = t->off;
		if (ctp_cur_u32(&c, &sa->spi) < 0 || ctp_cur_u8(&c, &sa->protocol) < 0 ||
		    ctp_cur_u8(&c, &sa->mode) < 0 || ctp_cur_u8(&c, &sa->direction) < 0 ||
		    ctp_cur_u8(&c, &sa->flags) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_ENDPOINTS:
		sa->where.endpoints = t->off;
		if (ctp_cur_u8(&c, &sa->family) < 0 || ctp_cur_u8(&c, &sa->sa_type) < 0 ||
		    ctp_cur_u8(&c, &sa->moves) < 0 || ctp_cur_skip(&c, 1) < 0)
			rc = CTP_E_SHORT;
		else if ((rc = ipsec_sa_read_addr(&c, sa->family, &sa->local)) == 0)
			rc = ipsec_sa_read_addr(&c, sa->family, &sa->peer);
		break;
	case CTP_TLV_IPSEC_SA_SELECTOR: {
		struct ipsec_selector *s;

		if (sa->nsel == IPSEC_SA_MAX_SELECTORS)
			return ctp_err_set(err, CTP_E_LIMIT, t->off, CTP_ST_NO_RESOURCES,
			    "more than %d SELECTOR TLVs in one SA", IPSEC_SA_MAX_SELECTORS);
		sa->where.selector[sa->nsel] = t->off;
		s = &sa->sel[sa->nsel++];
		if (ctp_cur_u8(&c, &s->family) < 0 || ctp_cur_u8(&c, &s->ulp) < 0 ||
		    ctp_cur_u8(&c, &s->src_plen) < 0 || ctp_cur_u8(&c, &s->dst_plen) < 0)
			rc = CTP_E_SHORT;
		else if ((rc = ipsec_sa_read_addr(&c, s->family, &s->src)) == 0 &&
		    (rc = ipsec_sa_read_addr(&c, s->family, &s->dst)) == 0 &&
		    (ctp_cur_u16(&c, &s->sport_lo) < 0 || ctp_cur_u16(&c, &s->sport_hi) < 0 ||
		    ctp_cur_u16(&c, &s->dport_lo) < 0 || ctp_cur_u16(&c, &s->dport_hi) < 0))
			rc = CTP_E_SHORT;
		break;
	}
	case CTP_TLV_IPSEC_SA_ENCR:
		sa->where.encr = t->off;
		sa->has_encr = true;
		if (ctp_cur_u16(&c, &sa->encr.id) < 0 || ctp_cur_u16(&c, &sa->encr.key_bits) < 0)
			rc = CTP_E_SHORT;
		else if (c.left > sizeof sa->encr.key)
			rc = CTP_E_LIMIT;
		else {
			sa->encr.key_len = (uint16_t)c.left;
			rc = ctp_cur_copy(&c, sa->encr.key, sa->encr.key_len);
		}
		break;
	case CTP_TLV_IPSEC_SA_INTEG:
		sa->where.integ = t->off;
		sa->has_integ = true;
		if (ctp_cur_u16(&c, &sa->integ.id) < 0 || ctp_cur_skip(&c, 2) < 0)
			rc = CTP_E_SHORT;
		else if (c.left > sizeof sa->integ.key)
			rc = CTP_E_LIMIT;
		else {
			sa->integ.key_len = (uint16_t)c.left;
			rc = ctp_cur_copy(&c, sa->integ.key, sa->integ.key_len);
		}
		break;
	case CTP_TLV_IPSEC_SA_SEQ_OUT:
		sa->where.seq_out = t->off;
		sa->has_seq_out = true;
		if (ctp_cur_u64(&c, &sa->seq_out.next) < 0 || ctp_cur_u32(&c, &sa->seq_out.margin) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_REPLAY:
		sa->where.replay = t->off;
		sa->has_replay = true;
		if (ctp_cur_u32(&c, &sa->replay.window) < 0 || ctp_cur_u64(&c, &sa->replay.highest) < 0)
			rc = CTP_E_SHORT;
		else if (c.left > sizeof sa->replay.bitmap)
			rc = CTP_E_LIMIT;
		else {
			sa->replay.bitmap_len = (uint16_t)c.left;
			rc = ctp_cur_copy(&c, sa->replay.bitmap, sa->replay.bitmap_len);
		}
		break;
	case CTP_TLV_IPSEC_SA_LIFETIME:
		sa->where.lifetime = t->off;
		sa->has_lifetime = true;
		if (ctp_cur_u64(&c, &sa->lifetime.soft_bytes) < 0 ||
		    ctp_cur_u64(&c, &sa->lifetime.hard_bytes) < 0 ||
		    ctp_cur_u64(&c, &sa->lifetime.soft_packets) < 0 ||
		    ctp_cur_u64(&c, &sa->lifetime.hard_packets) < 0 ||
		    ctp_cur_u32(&c, &sa->lifetime.soft_add_s) < 0 ||
		    ctp_cur_u32(&c, &sa->lifetime.hard_add_s) < 0 ||
		    ctp_cur_u32(&c, &sa->lifetime.soft_use_s) < 0 ||
		    ctp_cur_u32(&c, &sa->lifetime.hard_use_s) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_USAGE:
		sa->where.usage = t->off;
		sa->has_usage = true;
		if (ctp_cur_u64(&c, &sa->usage.bytes) < 0 || ctp_cur_u64(&c, &sa->usage.packets) < 0 ||
		    ctp_cur_u64(&c, &sa->usage.add_ms) < 0 || ctp_cur_u64(&c, &sa->usage.use_ms) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_SNAPSHOT_AGE:
		sa->where.snapshot_age = t->off;
		sa->has_snapshot_age = true;
		rc = ctp_cur_u32(&c, &sa->snapshot_age_ms);
		break;
	case CTP_TLV_IPSEC_SA_ENCAP:
		sa->where.encap = t->off;
		sa->has_encap = true;
		if (ctp_cur_u8(&c, &sa->encap.type) < 0 || ctp_cur_skip(&c, 1) < 0 ||
		    ctp_cur_u16(&c, &sa->encap.sport) < 0 || ctp_cur_u16(&c, &sa->encap.dport) < 0 ||
		    ctp_cur_skip(&c, 2) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_PMTU:
		sa->where.pmtu = t->off;
		sa->has_pmtu = true;
		if (ctp_cur_u16(&c, &sa->pmtu.pmtu) < 0 || ctp_cur_u8(&c, &sa->pmtu.df) < 0 ||
		    ctp_cur_skip(&c, 1) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_DSCP:
		sa->where.dscp = t->off;
		sa->has_dscp = true;
		if (ctp_cur_u64(&c, &sa->dscp.bitmap) < 0 || ctp_cur_u8(&c, &sa->dscp.flags) < 0 ||
		    ctp_cur_skip(&c, 3) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_SEL_NAME:
		sa->where.sel_name = t->off;
		sa->has_sel_name = true;
		rc = ipsec_sa_read_name(&c, &sa->sel_name);
		break;
	case CTP_TLV_IPSEC_SA_SEL_SENSITIVITY:
		sa->where.sel_sensitivity = t->off;
		sa->has_sel_sensitivity = true;
		if (ctp_cur_u32(&c, &sa->sel_sensitivity.doi) < 0)
			rc = CTP_E_SHORT;
		else if (c.left > sizeof sa->sel_sensitivity.level)
			rc = CTP_E_LIMIT;
		else {
			sa->sel_sensitivity.len = (uint16_t)c.left;
			rc = ctp_cur_copy(&c, sa->sel_sensitivity.level, sa->sel_sensitivity.len);
		}
		break;
	case CTP_TLV_IPSEC_SA_BUNDLE:
		sa->where.bundle = t->off;
		sa->has_bundle = true;
		if (ctp_cur_u32(&c, &sa->bundle.id) < 0 || ctp_cur_u8(&c, &sa->bundle.position) < 0 ||
		    ctp_cur_u8(&c, &sa->bundle.kind) < 0 || ctp_cur_u8(&c, &sa->bundle.count) < 0 ||
		    ctp_cur_skip(&c, 1) < 0)
			rc = CTP_E_SHORT;
		break;
	case CTP_TLV_IPSEC_SA_VIRTUAL_SG:
		sa->where.virtual_sg = t->off;
		sa->has_virtual_sg = true;
		if (ctp_cur_u8(&c, &family) < 0 || ctp_cur_skip(&c, 3) < 0)
			rc = CTP_E_SHORT;
		else
			rc = ipsec_sa_read_addr(&c, family, &sa->virtual_sg);
		break;
	case CTP_TLV_IPSEC_SA_PREV_SPI:
		sa->where.prev_spi = t->off;
		sa->has_prev_spi = true;
		rc = ctp_cur_u32(&c, &sa->prev_spi);
		break;
	case CTP_TLV_IPSEC_SA_XFRM_REF:
		sa->where.xfrm_ref = t->off;
		sa->has_xfrm_ref = true;
		if (ctp_cur_u32(&c, &sa->xfrm_ref.reqid) < 0 ||
		    ctp_cur_u32(&c, &sa->xfrm_ref.mark_value) < 0 ||
		    ctp_cur_u32(&c, &sa->xfrm_ref.mark_mask) < 0 ||
		    ctp_cur_u32(&c, &sa->xfrm_ref.if_id) < 0)
			rc = CTP_E_SHORT;
		break;
	default:
		return 0;   /* known to the table but not to this code: cannot happen */
	}
	/* ctp_tlv_check() walked the same layout, so this means the table and
	 * this parser disagree: report it rather than read a half value */
	if (rc == 0 && c.left != 0)
		rc = CTP_E_TLV;
	if (rc < 0)
		return ctp_err_set(err, rc, t->off, rc == CTP_E_LIMIT ? CTP_ST_NO_RESOURCES :
		    CTP_ST_MALFORMED_CDB, "%s: value of %u octets does not parse (%s)",
		    t->def ? t->def->name : "TLV", t->len, ctp_strerror(rc));
	return 0;
}

/* Decode into sa, which is clean: all zero. */
static int
ipsec_sa_decode_clean(const struct ctp_cdb *cdb, struct ipsec_sa *sa, struct ctp_err *err)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	size_t base = cdb->off + CTP_CDB_HDR_LEN;
	struct ctp_tlv t;
	struct ctp_cur c;
	int rc;

	if (cdb->fpt != CTP_FPT_IPSEC_SA)
		return ctp_err_set(err, CTP_E_INVAL, cdb->off, CTP_ST_UNSUPPORTED_FPT,
		    "FPT 0x%04x is not an IPsec SA (0xff01)", cdb->fpt);
	/* PROFILE 6: TLVs make the presence vector meaningless */
	if (cdb->flags & CTP_CDB_P)
		return ctp_err_set(err, CTP_E_VALUE, cdb->off + 3, CTP_ST_MALFORMED_CDB,
		    "IPsec SA CDB has P = 1; PROFILE 6 requires P = 0");
	if ((rc = ctp_tlv_check(fd, cdb->data, cdb->len, base, err)) < 0)
		return rc;
	ctp_cur_init(&c, cdb->data, cdb->len, base);
	while ((rc = ctp_tlv_next(&c, fd, &t, err)) == 1)
		if (t.def && (rc = ipsec_sa_parse(sa, &t, err)) < 0)
			break;
	if (rc == 0)
		rc = ipsec_sa_verify(sa, err);
	if (rc < 0)
		ipsec_sa_reset(sa);
	return rc;
}

int
ipsec_sa_decode(const struct ctp_cdb *cdb, struct ipsec_sa *sa, struct ctp_err *err)
{
	ipsec_sa_clear(sa);
	return ipsec_sa_decode_clean(cdb, sa, err);
}

int
ipsec_sa_decode_reuse(const struct ctp_cdb *cdb, struct ipsec_sa *sa, struct ctp_err *err)
{
	ipsec_sa_reset(sa);
	return ipsec_sa_decode_clean(cdb, sa, err);
}

/* ---- verification of meaning ----------------------------------------------- */

/* SA_ID: RFC 4303 2.1, RFC 4301 4.4.2.1. */
static int
ipsec_sa_verify_id(const struct ipsec_sa *sa, struct ctp_err *err)
{
	size_t v = sa->where.sa_id + CTP_TLV_HDR_LEN;

	if (sa->spi == 0)
		return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
		    "SPI 0 is reserved (RFC 4303 2.1)");
	if (sa->spi < 256)
		return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
		    "SPI %u is in 1..255, reserved by IANA (RFC 4303 2.1)", sa->spi);
	if (sa->protocol != CTP_IPPROTO_ESP && sa->protocol != CTP_IPPROTO_AH)
		return ctp_err_set(err, CTP_E_VALUE, v + 4, CTP_ST_MALFORMED_CDB,
		    "protocol %u is neither ESP (50) nor AH (51)", sa->protocol);
	if (sa->mode != CTP_MODE_TRANSPORT && sa->mode != CTP_MODE_TUNNEL)
		return ctp_err_set(err, CTP_E_VALUE, v + 5, CTP_ST_MALFORMED_CDB,
		    "mode %u is neither transport (1) nor tunnel (2)", sa->mode);
	if (sa->direction != CTP_DIRECTION_IN && sa->direction != CTP_DIRECTION_OUT)
		return ctp_err_set(err, CTP_E_VALUE, v + 6, CTP_ST_MALFORMED_CDB,
		    "direction %u is neither in (1) nor out (2)", sa->direction);
	if (sa->flags & ~IPSEC_SA_F_ALL)
		return ctp_err_set(err, CTP_E_VALUE, v + 7, CTP_ST_MALFORMED_CDB,
		    "SA flags 0x%02x: only 0x01 (ESN), 0x02 (overflow), 0x04 (anti-replay) defined",
		    sa->flags);
	/* PREV_SPI names an SPI the MN used: the same rules, and a change */
	if (sa->has_prev_spi) {
		size_t pv = sa->where.prev_spi + CTP_TLV_HDR_LEN;

		if (sa->prev_spi < 256)
			return ctp_err_set(err, CTP_E_VALUE, pv, CTP_ST_MALFORMED_CDB,
			    "PREV_SPI %u is reserved (RFC 4303 2.1)", sa->prev_spi);
		if (sa->prev_spi == sa->spi)
			return ctp_err_set(err, CTP_E_VALUE, pv, CTP_ST_MALFORMED_CDB,
			    "PREV_SPI 0x%08x equals the SPI: nothing was reassigned", sa->prev_spi);
	}
	return 0;
}

static int
ipsec_sa_verify_endpoints(const struct ipsec_sa *sa, struct ctp_err *err)
{
	size_t v = sa->where.endpoints + CTP_TLV_HDR_LEN;

	if (sa->family != CTP_FAMILY_IPV4 && sa->family != CTP_FAMILY_IPV6)
		return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
		    "ENDPOINTS family %u is neither 4 nor 6", sa->family);
	if (sa->local.family != sa->family || sa->peer.family != sa->family)
		return ctp_err_set(err, CTP_E_VALUE, v + 4, CTP_ST_MALFORMED_CDB,
		    "ENDPOINTS addresses are not IPv%u", sa->family);
	if (sa->sa_type != CTP_SA_TYPE_UNKNOWN && sa->sa_type != CTP_SA_TYPE_TYPE3 &&
	    sa->sa_type != CTP_SA_TYPE_TYPE4 && sa->sa_type != CTP_SA_TYPE_TYPE5)
		return ctp_err_set(err, CTP_E_VALUE, v + 1, CTP_ST_MALFORMED_CDB,
		    "SA type %u: only types 3, 4, 5 move (0 = unknown)", sa->sa_type);
	if (sa->moves & ~(IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER))
		return ctp_err_set(err, CTP_E_VALUE, v + 2, CTP_ST_MALFORMED_CDB,
		    "ENDPOINTS moves 0x%02x: only 0x01 and 0x02 defined", sa->moves);
	if (ipsec_sa_is_unspec(&sa->local))
		return ctp_err_set(err, CTP_E_VALUE, v + 4, CTP_ST_MALFORMED_CDB,
		    "ENDPOINTS local end address is unspecified");
	if (ipsec_sa_is_unspec(&sa->peer))
		return ctp_err_set(err, CTP_E_VALUE, v + 4 + ctp_addr_len(sa->family),
		    CTP_ST_MALFORMED_CDB, "ENDPOINTS peer end address is unspecified");
	return 0;
}

static int
ipsec_sa_verify_selectors(const struct ipsec_sa *sa, struct ctp_err *err)
{
	if (sa->nsel > IPSEC_SA_MAX_SELECTORS)
		return ctp_err_set(err, CTP_E_LIMIT, 0, CTP_ST_NO_RESOURCES,
		    "%zu selectors, at most %d", sa->nsel, IPSEC_SA_MAX_SELECTORS);
	for (size_t i = 0; i < sa->nsel; i++) {
		const struct ipsec_selector *s = &sa->sel[i];
		size_t v = sa->where.selector[i] + CTP_TLV_HDR_LEN, alen, bits;

		if ((alen = ctp_addr_len(s->family)) == 0)
			return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
			    "SELECTOR %zu: family %u is neither 4 nor 6", i, s->family);
		bits = alen * 8;
		if (s->src.family != s->family || s->dst.family != s->family)
			return ctp_err_set(err, CTP_E_VALUE, v + 4, CTP_ST_MALFORMED_CDB,
			    "SELECTOR %zu: addresses are not IPv%u", i, s->family);
		/* RFC 4301 4.1: transport mode has no inner header, so the
		 * selectors describe the endpoints' own packets */
		if (sa->mode == CTP_MODE_TRANSPORT && s->family != sa->family)
			return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
			    "SELECTOR %zu: IPv%u selector on a transport-mode IPv%u SA", i,
			    s->family, sa->family);
		if (s->src_plen > bits)
			return ctp_err_set(err, CTP_E_VALUE, v + 2, CTP_ST_MALFORMED_CDB,
			    "SELECTOR %zu: source prefix length %u exceeds %zu", i, s->src_plen, bits);
		if (s->dst_plen > bits)
			return ctp_err_set(err, CTP_E_VALUE, v + 3, CTP_ST_MALFORMED_CDB,
			    "SELECTOR %zu: destination prefix length %u exceeds %zu", i,
			    s->dst_plen, bits);
		if (s->sport_lo > s->sport_hi)
			return ctp_err_set(err, CTP_E_VALUE, v + 4 + 2 * alen, CTP_ST_MALFORMED_CDB,
			    "SELECTOR %zu: source ports %u..%u are reversed", i, s->sport_lo,
			    s->sport_hi);
		if (s->dport_lo > s->dport_hi)
			return ctp_err_set(err, CTP_E_VALUE, v + 8 + 2 * alen, CTP_ST_MALFORMED_CDB,
			    "SELECTOR %zu: destination ports %u..%u are reversed", i, s->dport_lo,
			    s->dport_hi);
	}
	return 0;
}

/* 3DES with K1 = K2 or K2 = K3 collapses to single DES (EDE cancels out);
 * the low bit of each octet is DES parity and does not count. */
static int
ipsec_sa_3des_degenerate(const uint8_t *k)
{
	int k12 = 1, k23 = 1;

	for (int i = 0; i < 8; i++) {
		k12 &= (k[i] & 0xfe) == (k[8 + i] & 0xfe);
		k23 &= (k[8 + i] & 0xfe) == (k[16 + i] & 0xfe);
	}
	return k12 || k23;
}

static int
ipsec_sa_verify_algs(const struct ipsec_sa *sa, struct ctp_err *err)
{
	size_t id = sa->where.sa_id + CTP_TLV_HDR_LEN;
	size_t ev = sa->where.encr + CTP_TLV_HDR_LEN, iv = sa->where.integ + CTP_TLV_HDR_LEN;
	const struct ipsec_alg *ea = NULL, *ia = NULL;
	int rc;

	if (sa->protocol == CTP_IPPROTO_ESP && !sa->has_encr)
		return ctp_err_set(err, CTP_E_VALUE, id + 4, CTP_ST_MALFORMED_CDB,
		    "ESP SA without an ENCR TLV");
	if (sa->protocol == CTP_IPPROTO_AH && sa->has_encr)
		return ctp_err_set(err, CTP_E_VALUE, sa->where.encr, CTP_ST_MALFORMED_CDB,
		    "AH SA carries ENCR: AH does not encrypt (RFC 4302)");
	if (sa->protocol == CTP_IPPROTO_AH && !sa->has_integ)
		return ctp_err_set(err, CTP_E_VALUE, id + 4, CTP_ST_MALFORMED_CDB,
		    "AH SA without an INTEG TLV");

	if (sa->has_encr) {
		size_t want;

		if ((rc = ipsec_alg_get(IPSEC_ALG_ENCR, sa->encr.id, &ea, ev, err)) < 0)
			return rc;
		if (!ipsec_alg_keylen(ea, sa->encr.key_bits))
			return ctp_err_set(err, CTP_E_VALUE, ev + 2, CTP_ST_MALFORMED_CDB,
			    "%s with a %u-bit key: no such key length", ea->name, sa->encr.key_bits);
		want = ipsec_alg_key_octets(ea, sa->encr.key_bits);
		if (sa->encr.key_len != want)
			return ctp_err_set(err, CTP_E_VALUE, ev + 4, CTP_ST_MALFORMED_CDB,
			    "%s-%u key is %u octets, needs %zu (%u-bit key%s)", ea->name,
			    sa->encr.key_bits, sa->encr.key_len, want, sa->encr.key_bits,
			    ea->salt_len ? " and 4-octet salt" : "");
		if (ea->id == CTP_ENCR_3DES && ipsec_sa_3des_degenerate(sa->encr.key))
			return ctp_err_set(err, CTP_E_VALUE, ev + 4, CTP_ST_IPSEC_POLICY,
			    "ENCR_3DES key repeats a DES key: it is single DES (RFC 8221 5)");
	}
	if (sa->has_integ) {
		size_t want;

		if ((rc = ipsec_alg_get(IPSEC_ALG_INTEG, sa->integ.id, &ia, iv, err)) < 0)
			return rc;
		want = ipsec_alg_key_octets(ia, ia->keys[0].bits);
		if (sa->integ.key_len != want)
			return ctp_err_set(err, CTP_E_VALUE, iv + 4, CTP_ST_MALFORMED_CDB,
			    "%s key is %u octets, needs %zu", ia->name, sa->integ.key_len, want);
	}
	if (sa->protocol == CTP_IPPROTO_AH) {
		if (ia && ia->id == CTP_INTEG_NONE)
			return ctp_err_set(err, CTP_E_VALUE, iv, CTP_ST_MALFORMED_CDB,
			    "AH SA with INTEG NONE: AH is integrity only (RFC 4302)");
		return 0;
	}
	/* ESP from here on, with ea set */
	if (ea && ea->aead) {
		if (ia && ia->id != CTP_INTEG_NONE)
			return ctp_err_set(err, CTP_E_VALUE, iv, CTP_ST_MALFORMED_CDB,
			    "%s is AEAD: INTEG must be NONE or absent, not %s (RFC 7296 3.3)",
			    ea->name, ia->name);
		return 0;
	}
	if (!ia || ia->id == CTP_INTEG_NONE) {
		size_t at = ia ? iv : ev;

		if (ea && ea->id == CTP_ENCR_NULL)
			return ctp_err_set(err, CTP_E_VALUE, at, CTP_ST_MALFORMED_CDB,
			    "ENCR_NULL without integrity: RFC 4303 3.2 forbids both NULL");
		return ctp_err_set(err, CTP_E_VALUE, at, CTP_ST_IPSEC_POLICY,
		    "%s without integrity refused: RFC 8221 6 allows INTEG NONE only with AEAD",
		    ea ? ea->name : "ENCR");
	}
	return 0;
}

static int
ipsec_sa_verify_seq(const struct ipsec_sa *sa, struct ctp_err *err)
{
	size_t v = sa->where.seq_out + CTP_TLV_HDR_LEN;

	if (!sa->has_seq_out) {
		/* PROFILE 5.1: the sink must know where the source stopped */
		if (sa->direction == CTP_DIRECTION_OUT)
			return ctp_err_set(err, CTP_E_VALUE, sa->where.sa_id + CTP_TLV_HDR_LEN + 6,
			    CTP_ST_MALFORMED_CDB,
			    "outbound SA without SEQ_OUT: the sink could reuse sequence numbers");
		return 0;
	}
	if (sa->seq_out.next == 0 || sa->seq_out.next <= sa->seq_out.margin)
		return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
		    "SEQ_OUT next %llu is not above its margin %u (first packet is 1)",
		    (unsigned long long)sa->seq_out.next, sa->seq_out.margin);
	/* RFC 4303 3.3.3: a 32-bit counter must not cycle; a new SA is due */
	if (!(sa->flags & IPSEC_SA_F_ESN) && sa->seq_out.next > IPSEC_SA_SEQ32_MAX)
		return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_IPSEC_SEQ_EXHAUSTED,
		    "SEQ_OUT next %llu exceeds the 32-bit sequence space (no ESN)",
		    (unsigned long long)sa->seq_out.next);
	return 0;
}

static int
ipsec_sa_verify_replay(const struct ipsec_sa *sa, struct ctp_err *err)
{
	size_t v = sa->where.replay + CTP_TLV_HDR_LEN;
	uint32_t w = sa->replay.window;

	if (!sa->has_replay) {
		if (sa->flags & IPSEC_SA_F_ANTI_REPLAY)
			return ctp_err_set(err, CTP_E_VALUE, sa->where.sa_id + CTP_TLV_HDR_LEN + 7,
			    CTP_ST_MALFORMED_CDB, "anti-replay is on but there is no REPLAY TLV");
		return 0;
	}
	if (w % 32 || w > CTP_REPLAY_MAX_WINDOW)
		return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
		    "replay window %u: a multiple of 32 up to %d", w, CTP_REPLAY_MAX_WINDOW);
	if ((sa->flags & IPSEC_SA_F_ANTI_REPLAY) && w == 0)
		return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
		    "anti-replay with a window of 0 (RFC 4303 3.4.3: at least 32)");
	if (sa->replay.bitmap_len != w / 8)
		return ctp_err_set(err, CTP_E_VALUE, sa->where.replay + 2, CTP_ST_MALFORMED_CDB,
		    "replay bitmap is %u octets, window %u needs %u", sa->replay.bitmap_len, w,
		    w / 8);
	if (!(sa->flags & IPSEC_SA_F_ESN) && sa->replay.highest > IPSEC_SA_SEQ32_MAX)
		return ctp_err_set(err, CTP_E_VALUE, v + 4, CTP_ST_IPSEC_SEQ_EXHAUSTED,
		    "replay highest %llu exceeds the 32-bit sequence space (no ESN)",
		    (unsigned long long)sa->replay.highest);
	/* bit i is number highest - i: numbers below 1 were never sent */
	for (uint32_t i = 0; i < w; i++) {
		int set = (sa->replay.bitmap[i / 8] >> (7 - i % 8)) & 1;

		if (set && (uint64_t)i >= sa->replay.highest)
			return ctp_err_set(err, CTP_E_VALUE, v + 12 + i / 8, CTP_ST_MALFORMED_CDB,
			    "replay bitmap bit %u marks sequence number %lld, below 1", i,
			    (long long)sa->replay.highest - (long long)i);
	}
	if (w && sa->replay.highest && !(sa->replay.bitmap[0] & 0x80))
		return ctp_err_set(err, CTP_E_VALUE, v + 12, CTP_ST_MALFORMED_CDB,
		    "replay bitmap does not mark the highest number %llu itself",
		    (unsigned long long)sa->replay.highest);
	return 0;
}

static uint64_t
ipsec_sa_sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Soft above hard, where both are set (0 = no limit): RFC 4301 4.4.2.1. */
static int
ipsec_sa_soft_hard(uint64_t soft, uint64_t hard, size_t off, const char *what,
    struct ctp_err *err)
{
	if (soft && hard && soft > hard)
		return ctp_err_set(err, CTP_E_VALUE, off, CTP_ST_MALFORMED_CDB,
		    "LIFETIME soft %s %llu exceeds hard %llu", what, (unsigned long long)soft,
		    (unsigned long long)hard);
	return 0;
}

static int
ipsec_sa_verify_lifetime(const struct ipsec_sa *sa, struct ctp_err *err)
{
	size_t v = sa->where.lifetime + CTP_TLV_HDR_LEN, u = sa->where.usage + CTP_TLV_HDR_LEN;
	uint64_t age = sa->has_snapshot_age ? sa->snapshot_age_ms : 0, add_ms, use_ms;
	int rc;

	if (!sa->has_lifetime)
		return 0;
	if ((rc = ipsec_sa_soft_hard(sa->lifetime.soft_bytes, sa->lifetime.hard_bytes, v,
	    "bytes", err)) < 0 ||
	    (rc = ipsec_sa_soft_hard(sa->lifetime.soft_packets, sa->lifetime.hard_packets, v + 16,
	    "packets", err)) < 0 ||
	    (rc = ipsec_sa_soft_hard(sa->lifetime.soft_add_s, sa->lifetime.hard_add_s, v + 32,
	    "add-time", err)) < 0 ||
	    (rc = ipsec_sa_soft_hard(sa->lifetime.soft_use_s, sa->lifetime.hard_use_s, v + 40,
	    "use-time", err)) < 0)
		return rc;
	if (!sa->has_usage)
		return 0;
	/* the limits as Linux applies them (xfrm_state_check_expire): a hard
	 * limit reached is a dead SA; times count the snapshot's age too */
	add_ms = ipsec_sa_sat_add(sa->usage.add_ms, age);
	use_ms = ipsec_sa_sat_add(sa->usage.use_ms, age);
	if (sa->lifetime.hard_bytes && sa->usage.bytes >= sa->lifetime.hard_bytes)
		return ctp_err_set(err, CTP_E_VALUE, u, CTP_ST_IPSEC_LIFETIME_EXPIRED,
		    "SA has used %llu bytes of a hard limit of %llu",
		    (unsigned long long)sa->usage.bytes, (unsigned long long)sa->lifetime.hard_bytes);
	if (sa->lifetime.hard_packets && sa->usage.packets >= sa->lifetime.hard_packets)
		return ctp_err_set(err, CTP_E_VALUE, u + 8, CTP_ST_IPSEC_LIFETIME_EXPIRED,
		    "SA has used %llu packets of a hard limit of %llu",
		    (unsigned long long)sa->usage.packets,
		    (unsigned long long)sa->lifetime.hard_packets);
	if (sa->lifetime.hard_add_s && add_ms >= (uint64_t)sa->lifetime.hard_add_s * 1000)
		return ctp_err_set(err, CTP_E_VALUE, u + 16, CTP_ST_IPSEC_LIFETIME_EXPIRED,
		    "SA was added %llu ms ago, hard add-time is %u s", (unsigned long long)add_ms,
		    sa->lifetime.hard_add_s);
	/* use-time runs from the first use only */
	if (sa->lifetime.hard_use_s && sa->usage.use_ms &&
	    use_ms >= (uint64_t)sa->lifetime.hard_use_s * 1000)
		return ctp_err_set(err, CTP_E_VALUE, u + 24, CTP_ST_IPSEC_LIFETIME_EXPIRED,
		    "SA was first used %llu ms ago, hard use-time is %u s",
		    (unsigned long long)use_ms, sa->lifetime.hard_use_s);
	return 0;
}

static int
ipsec_sa_verify_misc(const struct ipsec_sa *sa, struct ctp_err *err)
{
	size_t v;
	int rc;

	if (sa->has_encap) {
		v = sa->where.encap + CTP_TLV_HDR_LEN;
		if (sa->encap.type != CTP_ENCAP_ESPINUDP)
			return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
			    "ENCAP type %u: only 1 (ESP in UDP, RFC 3948) defined", sa->encap.type);
		if (sa->protocol != CTP_IPPROTO_ESP)
			return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
			    "ENCAP on an AH SA: RFC 3948 encapsulates ESP only");
		if (sa->encap.sport == 0 || sa->encap.dport == 0)
			return ctp_err_set(err, CTP_E_VALUE, v + (sa->encap.sport ? 4 : 2),
			    CTP_ST_MALFORMED_CDB, "ENCAP UDP port 0");
	}
	if (sa->has_pmtu) {
		/* RFC 791: every IPv4 link carries 68; RFC 8200 5: IPv6 1280 */
		unsigned min = sa->family == CTP_FAMILY_IPV6 ? 1280 : 68;

		v = sa->where.pmtu + CTP_TLV_HDR_LEN;
		if (sa->pmtu.pmtu < min)
			return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
			    "PMTU %u is below the IPv%u minimum %u", sa->pmtu.pmtu, sa->family, min);
		if (sa->pmtu.df > CTP_DF_COPY)
			return ctp_err_set(err, CTP_E_VALUE, v + 2, CTP_ST_MALFORMED_CDB,
			    "DF handling %u: 0 clear, 1 set, 2 copy", sa->pmtu.df);
	}
	if (sa->has_dscp && (sa->dscp.flags & ~IPSEC_DSCP_F_BYPASS))
		return ctp_err_set(err, CTP_E_VALUE, sa->where.dscp + CTP_TLV_HDR_LEN + 8,
		    CTP_ST_MALFORMED_CDB, "DSCP flags 0x%02x: only 0x01 (bypass) defined",
		    sa->dscp.flags);
	if (sa->has_sel_name &&
	    (rc = ipsec_sa_verify_name(&sa->sel_name, sa->where.sel_name, "SEL_NAME", err)) < 0)
		return rc;
	if (sa->has_bundle) {
		v = sa->where.bundle + CTP_TLV_HDR_LEN;
		if (sa->bundle.kind != CTP_BUNDLE_KIND_TRANSPORT_ADJACENCY &&
		    sa->bundle.kind != CTP_BUNDLE_KIND_ITERATED_TUNNELLING)
			return ctp_err_set(err, CTP_E_VALUE, v + 5, CTP_ST_MALFORMED_CDB,
			    "BUNDLE kind %u: 1 transport adjacency, 2 iterated tunnelling",
			    sa->bundle.kind);
		if (sa->bundle.count < 2)
			return ctp_err_set(err, CTP_E_VALUE, v + 6, CTP_ST_MALFORMED_CDB,
			    "BUNDLE of %u SA: a bundle has at least 2", sa->bundle.count);
		if (sa->bundle.position >= sa->bundle.count)
			return ctp_err_set(err, CTP_E_VALUE, v + 4, CTP_ST_MALFORMED_CDB,
			    "BUNDLE position %u in a bundle of %u", sa->bundle.position,
			    sa->bundle.count);
	}
	if (sa->has_virtual_sg) {
		v = sa->where.virtual_sg + CTP_TLV_HDR_LEN;
		if (ctp_addr_len(sa->virtual_sg.family) == 0)
			return ctp_err_set(err, CTP_E_VALUE, v, CTP_ST_MALFORMED_CDB,
			    "VIRTUAL_SG family %u is neither 4 nor 6", sa->virtual_sg.family);
		if (ipsec_sa_is_unspec(&sa->virtual_sg))
			return ctp_err_set(err, CTP_E_VALUE, v + 4, CTP_ST_MALFORMED_CDB,
			    "VIRTUAL_SG address is unspecified");
	}
	return 0;
}

int
ipsec_sa_verify(const struct ipsec_sa *sa, struct ctp_err *err)
{
	int rc;

	if ((rc = ipsec_sa_verify_id(sa, err)) < 0 ||
	    (rc = ipsec_sa_verify_endpoints(sa, err)) < 0 ||
	    (rc = ipsec_sa_verify_selectors(sa, err)) < 0 ||
	    (rc = ipsec_sa_verify_algs(sa, err)) < 0 ||
	    (rc = ipsec_sa_verify_seq(sa, err)) < 0 ||
	    (rc = ipsec_sa_verify_replay(sa, err)) < 0 ||
	    (rc = ipsec_sa_verify_lifetime(sa, err)) < 0 ||
	    (rc = ipsec_sa_verify_misc(sa, err)) < 0)
		return rc;
	return 0;
}

/* ---- encoding -------------------------------------------------------------- */

/*
 * One SA, one CDB, P = 0; every TLV padded to 4 octets, the CDB to 8:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         FPT = 0xFF01          |  Length (x8)  |0|  Reserved   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |1|    SA_ID = 0x0001           |          Length = 8           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                              SPI                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Protocol    |     Mode      |   Direction   |     Flags     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |1|  ENDPOINTS = 0x0002         |       Length = 4 + 2A         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Family     |    SA type    |     Moves     |   Reserved    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~           Local end address, peer end address (A each)        ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0|  SELECTOR = 0x0003 (0..16)  |      Length = 12 + 2A         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Family     |      ULP      |  Src prefix   |  Dst prefix   |
 * ~           Source address, destination address (A each)        ~
 * |     Source port low           |     Source port high          |
 * |     Destination port low      |     Destination port high     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |1|  ENCR = 0x0004              |    Length = 4 + key octets    |
 * |     ENCR transform ID         |  Key bits (salt excluded)     |
 * ~                  Key, then salt (RFC 4106/3686/7634)          ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |1|  INTEG = 0x0005             |    Length = 4 + key octets    |
 * |     INTEG transform ID        |           Reserved            |
 * ~                              Key                              ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |1|  SEQ_OUT = 0x0006           |          Length = 12          |
 * |             Next sequence number to send (64)                 |
 * |                       Margin added                            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |1|  REPLAY = 0x0007            |   Length = 12 + window / 8    |
 * |                     Window (packets)                          |
 * |            Highest authenticated sequence number (64)         |
 * ~    Bitmap: MSB of the first octet = highest, then downwards   ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~ LIFETIME 0x0008 (48), USAGE 0x0009 (32), SNAPSHOT_AGE 0x000A  ~
 * ~ (4), ENCAP 0x000B (8), PMTU 0x000C (4), DSCP 0x000D (12),     ~
 * ~ SEL_NAME 0x000E, SEL_SENSITIVITY 0x000F, BUNDLE 0x0010 (8),   ~
 * ~ VIRTUAL_SG 0x0011 (4 + A), XFRM_REF 0x0012 (16), PREV_SPI    ~
 * ~ 0x0013 (4, a ctpd extension): each when present, laid out as  ~
 * ~ in PROFILE 6                                                  ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     zero padding to a multiple of 8 octets (type 0 = end)     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static int
ipsec_sa_encode_tlvs(const struct ipsec_sa *sa, struct ctp_wbuf *w)
{
	size_t at, alen = ctp_addr_len(sa->family);

	if (alen == 0 || sa->nsel > IPSEC_SA_MAX_SELECTORS ||
	    sa->encr.key_len > sizeof sa->encr.key || sa->integ.key_len > sizeof sa->integ.key ||
	    sa->replay.bitmap_len > sizeof sa->replay.bitmap ||
	    sa->sel_name.len > sizeof sa->sel_name.octets ||
	    sa->sel_sensitivity.len > sizeof sa->sel_sensitivity.level ||
	    (sa->has_virtual_sg && ctp_addr_len(sa->virtual_sg.family) == 0))
		return CTP_E_INVAL;
	for (size_t i = 0; i < sa->nsel; i++)
		if (ctp_addr_len(sa->sel[i].family) == 0)
			return CTP_E_INVAL;

	at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_SA_ID);
	ctp_wbuf_u32(w, sa->spi);
	ctp_wbuf_u8(w, sa->protocol);
	ctp_wbuf_u8(w, sa->mode);
	ctp_wbuf_u8(w, sa->direction);
	ctp_wbuf_u8(w, sa->flags);
	ctp_tlv_end(w, at);

	at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_ENDPOINTS);
	ctp_wbuf_u8(w, sa->family);
	ctp_wbuf_u8(w, sa->sa_type);
	ctp_wbuf_u8(w, sa->moves);
	ctp_wbuf_zero(w, 1);
	ctp_wbuf_bytes(w, sa->local.a, alen);
	ctp_wbuf_bytes(w, sa->peer.a, alen);
	ctp_tlv_end(w, at);

	for (size_t i = 0; i < sa->nsel; i++) {
		const struct ipsec_selector *s = &sa->sel[i];
		size_t sl = ctp_addr_len(s->family);

		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_SELECTOR);
		ctp_wbuf_u8(w, s->family);
		ctp_wbuf_u8(w, s->ulp);
		ctp_wbuf_u8(w, s->src_plen);
		ctp_wbuf_u8(w, s->dst_plen);
		ctp_wbuf_bytes(w, s->src.a, sl);
		ctp_wbuf_bytes(w, s->dst.a, sl);
		ctp_wbuf_u16(w, s->sport_lo);
		ctp_wbuf_u16(w, s->sport_hi);
		ctp_wbuf_u16(w, s->dport_lo);
		ctp_wbuf_u16(w, s->dport_hi);
		ctp_tlv_end(w, at);
	}
	if (sa->has_encr) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_ENCR);
		ctp_wbuf_u16(w, sa->encr.id);
		ctp_wbuf_u16(w, sa->encr.key_bits);
		ctp_wbuf_bytes(w, sa->encr.key, sa->encr.key_len);
		ctp_tlv_end(w, at);
	}
	if (sa->has_integ) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_INTEG);
		ctp_wbuf_u16(w, sa->integ.id);
		ctp_wbuf_zero(w, 2);
		ctp_wbuf_bytes(w, sa->integ.key, sa->integ.key_len);
		ctp_tlv_end(w, at);
	}
	if (sa->has_seq_out) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_SEQ_OUT);
		ctp_wbuf_u64(w, sa->seq_out.next);
		ctp_wbuf_u32(w, sa->seq_out.margin);
		ctp_tlv_end(w, at);
	}
	if (sa->has_replay) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_REPLAY);
		ctp_wbuf_u32(w, sa->replay.window);
		ctp_wbuf_u64(w, sa->replay.highest);
		ctp_wbuf_bytes(w, sa->replay.bitmap, sa->replay.bitmap_len);
		ctp_tlv_end(w, at);
	}
	if (sa->has_lifetime) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_LIFETIME);
		ctp_wbuf_u64(w, sa->lifetime.soft_bytes);
		ctp_wbuf_u64(w, sa->lifetime.hard_bytes);
		ctp_wbuf_u64(w, sa->lifetime.soft_packets);
		ctp_wbuf_u64(w, sa->lifetime.hard_packets);
		ctp_wbuf_u32(w, sa->lifetime.soft_add_s);
		ctp_wbuf_u32(w, sa->lifetime.hard_add_s);
		ctp_wbuf_u32(w, sa->lifetime.soft_use_s);
		ctp_wbuf_u32(w, sa->lifetime.hard_use_s);
		ctp_tlv_end(w, at);
	}
	if (sa->has_usage) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_USAGE);
		ctp_wbuf_u64(w, sa->usage.bytes);
		ctp_wbuf_u64(w, sa->usage.packets);
		ctp_wbuf_u64(w, sa->usage.add_ms);
		ctp_wbuf_u64(w, sa->usage.use_ms);
		ctp_tlv_end(w, at);
	}
	if (sa->has_snapshot_age) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_SNAPSHOT_AGE);
		ctp_wbuf_u32(w, sa->snapshot_age_ms);
		ctp_tlv_end(w, at);
	}
	if (sa->has_encap) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_ENCAP);
		ctp_wbuf_u8(w, sa->encap.type);
		ctp_wbuf_zero(w, 1);
		ctp_wbuf_u16(w, sa->encap.sport);
		ctp_wbuf_u16(w, sa->encap.dport);
		ctp_wbuf_zero(w, 2);
		ctp_tlv_end(w, at);
	}
	if (sa->has_pmtu) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_PMTU);
		ctp_wbuf_u16(w, sa->pmtu.pmtu);
		ctp_wbuf_u8(w, sa->pmtu.df);
		ctp_wbuf_zero(w, 1);
		ctp_tlv_end(w, at);
	}
	if (sa->has_dscp) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_DSCP);
		ctp_wbuf_u64(w, sa->dscp.bitmap);
		ctp_wbuf_u8(w, sa->dscp.flags);
		ctp_wbuf_zero(w, 3);
		ctp_tlv_end(w, at);
	}
	if (sa->has_sel_name) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_SEL_NAME);
		ipsec_sa_write_name(w, &sa->sel_name);
		ctp_tlv_end(w, at);
	}
	if (sa->has_sel_sensitivity) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_SEL_SENSITIVITY);
		ctp_wbuf_u32(w, sa->sel_sensitivity.doi);
		ctp_wbuf_bytes(w, sa->sel_sensitivity.level, sa->sel_sensitivity.len);
		ctp_tlv_end(w, at);
	}
	if (sa->has_bundle) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_BUNDLE);
		ctp_wbuf_u32(w, sa->bundle.id);
		ctp_wbuf_u8(w, sa->bundle.position);
		ctp_wbuf_u8(w, sa->bundle.kind);
		ctp_wbuf_u8(w, sa->bundle.count);
		ctp_wbuf_zero(w, 1);
		ctp_tlv_end(w, at);
	}
	if (sa->has_virtual_sg) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_VIRTUAL_SG);
		ctp_wbuf_u8(w, sa->virtual_sg.family);
		ctp_wbuf_zero(w, 3);
		ctp_wbuf_bytes(w, sa->virtual_sg.a, ctp_addr_len(sa->virtual_sg.family));
		ctp_tlv_end(w, at);
	}
	if (sa->has_xfrm_ref) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_XFRM_REF);
		ctp_wbuf_u32(w, sa->xfrm_ref.reqid);
		ctp_wbuf_u32(w, sa->xfrm_ref.mark_value);
		ctp_wbuf_u32(w, sa->xfrm_ref.mark_mask);
		ctp_wbuf_u32(w, sa->xfrm_ref.if_id);
		ctp_tlv_end(w, at);
	}
	if (sa->has_prev_spi) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_SA_PREV_SPI);
		ctp_wbuf_u32(w, sa->prev_spi);
		ctp_tlv_end(w, at);
	}
	return w->err;
}

int
ipsec_sa_encode(const struct ipsec_sa *sa, struct ctp_wbuf *w)
{
	size_t start = w->len, at;
	int rc;

	at = ctp_cdb_begin(w, CTP_FPT_IPSEC_SA, 0, 0);
	if ((rc = ipsec_sa_encode_tlvs(sa, w)) == 0)
		rc = ctp_cdb_end(w, at, 0, 0);
	if (rc < 0 && !w->err)
		w->len = start;   /* too big for one CDB: leave nothing half-written */
	return rc;
}
