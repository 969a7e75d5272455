/*
 * ipsec_profile.c: the IPsec user profile CDB (FPT 0xFF02, PROFILE 6).
 *
 * Decisions where PROFILE 6 is silent:
 *  - A preference for an algorithm ctpd does not know is accepted and kept:
 *    a preference list names options, and an option nobody supports is
 *    simply never offered.  A known algorithm must name one of its key
 *    lengths; a forbidden one (DES, MD5: RFC 8221) refuses the whole
 *    profile with 0x89, as it would an SA.  The same entry twice in one
 *    list is malformed (the order of a list with repeats is ambiguous).
 *  - PATH: plane 1..3, at most one per plane (the IPsec CT draft 5 keeps
 *    one forwarding path per plane), node_count >= 1, no unspecified node.
 *  - An empty profile (no TLVs) is valid: the user has no preferences.
 *  - Limits: 16 entries per preference list, 32 nodes per path
 *    (CTP_E_LIMIT, status 0x06).
 */
#include <string.h>

#include "ctp/ctp_defs.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"
#include "features/ipsec/ipsec_profile.h"

void
ipsec_profile_clear(struct ipsec_profile *p)
{
	ctp_wipe(p, sizeof *p);
}

/* One known TLV, laid out as ctp_tlv_check() has already accepted. */
static int
ipsec_profile_parse(struct ipsec_profile *p, const struct ctp_tlv *t, struct ctp_err *err)
{
	struct ctp_cur c;
	int rc = 0;

	ctp_cur_init(&c, t->val, t->len, t->off + CTP_TLV_HDR_LEN);
	switch (t->type) {
	case CTP_TLV_IPSEC_PROFILE_ENCR_PREF: {
		struct ipsec_encr_pref *e;

		if (p->nencr == IPSEC_PROFILE_MAX_PREFS)
			return ctp_err_set(err, CTP_E_LIMIT, t->off, CTP_ST_NO_RESOURCES,
			    "more than %d ENCR_PREF TLVs", IPSEC_PROFILE_MAX_PREFS);
		e = &p->encr[p->nencr++];
		e->off = t->off;
		if (ctp_cur_u16(&c, &e->id) < 0 || ctp_cur_u16(&c, &e->key_bits) < 0)
			rc = CTP_E_SHORT;
		break;
	}
	case CTP_TLV_IPSEC_PROFILE_INTEG_PREF: {
		struct ipsec_integ_pref *i;

		if (p->ninteg == IPSEC_PROFILE_MAX_PREFS)
			return ctp_err_set(err, CTP_E_LIMIT, t->off, CTP_ST_NO_RESOURCES,
			    "more than %d INTEG_PREF TLVs", IPSEC_PROFILE_MAX_PREFS);
		i = &p->integ[p->ninteg++];
		i->off = t->off;
		if (ctp_cur_u16(&c, &i->id) < 0 || ctp_cur_skip(&c, 2) < 0)
			rc = CTP_E_SHORT;
		break;
	}
	case CTP_TLV_IPSEC_PROFILE_PATH: {
		struct ipsec_path *path;
		uint8_t plane, family, count;

		if (ctp_cur_u8(&c, &plane) < 0 || ctp_cur_u8(&c, &family) < 0 ||
		    ctp_cur_u8(&c, &count) < 0 || ctp_cur_skip(&c, 1) < 0) {
			rc = CTP_E_SHORT;
			break;
		}
		if (plane < CTP_PLANE_DATA || plane > CTP_PLANE_MANAGEMENT)
			return ctp_err_set(err, CTP_E_VALUE, t->off + CTP_TLV_HDR_LEN,
			    CTP_ST_MALFORMED_CDB,
			    "PATH plane %u: 1 data, 2 control, 3 management", plane);
		path = &p->path[plane - 1];
		if (path->present)
			return ctp_err_set(err, CTP_E_DUP, t->off, CTP_ST_MALFORMED_CDB,
			    "second PATH for plane %u", plane);
		if (count > IPSEC_PROFILE_MAX_NODES)
			return ctp_err_set(err, CTP_E_LIMIT, t->off + CTP_TLV_HDR_LEN + 2,
			    CTP_ST_NO_RESOURCES, "PATH of %u nodes, at most %d", count,
			    IPSEC_PROFILE_MAX_NODES);
		path->present = true;
		path->off = t->off;
		path->family = family;
		path->node_count = count;
		for (unsigned k = 0; rc == 0 && k < count; k++)
			rc = ipsec_sa_read_addr(&c, family, &path->nodes[k]);
		break;
	}
	case CTP_TLV_IPSEC_PROFILE_USER_ID:
		p->has_user_id = true;
		p->user_id_off = t->off;
		rc = ipsec_sa_read_name(&c, &p->user_id);
		break;
	default:
		return 0;
	}
	if (rc == 0 && c.left != 0)
		rc = CTP_E_TLV;
	if (rc < 0)
		return ctp_err_set(err, rc, t->off, rc == CTP_E_LIMIT ? CTP_ST_NO_RESOURCES :
		    CTP_ST_MALFORMED_CDB, "%s: value of %u octets does not parse (%s)",
		    t->def ? t->def->name : "TLV", t->len, ctp_strerror(rc));
	return 0;
}

int
ipsec_profile_decode(const struct ctp_cdb *cdb, struct ipsec_profile *p, struct ctp_err *err)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_PROFILE);
	size_t base = cdb->off + CTP_CDB_HDR_LEN;
	struct ctp_tlv t;
	struct ctp_cur c;
	int rc;

	ipsec_profile_clear(p);
	if (cdb->fpt != CTP_FPT_IPSEC_PROFILE)
		return ctp_err_set(err, CTP_E_INVAL, cdb->off, CTP_ST_UNSUPPORTED_FPT,
		    "FPT 0x%04x is not an IPsec profile (0xff02)", cdb->fpt);
	if (cdb->flags & CTP_CDB_P)
		return ctp_err_set(err, CTP_E_VALUE, cdb->off + 3, CTP_ST_MALFORMED_CDB,
		    "IPsec profile CDB has P = 1; PROFILE 6 requires P = 0");
	if ((rc = ctp_tlv_check(fd, cdb->data, cdb->len, base, err)) < 0)
		return rc;
	ctp_cur_init(&c, cdb->data, cdb->len, base);
	while ((rc = ctp_tlv_next(&c, fd, &t, err)) == 1)
		if (t.def && (rc = ipsec_profile_parse(p, &t, err)) < 0)
			break;
	if (rc == 0)
		rc = ipsec_profile_verify(p, err);
	if (rc < 0)
		ipsec_profile_clear(p);
	return rc;
}

int
ipsec_profile_verify(const struct ipsec_profile *p, struct ctp_err *err)
{
	const struct ipsec_alg *a;
	int rc;

	if (p->nencr > IPSEC_PROFILE_MAX_PREFS || p->ninteg > IPSEC_PROFILE_MAX_PREFS)
		return ctp_err_set(err, CTP_E_LIMIT, 0, CTP_ST_NO_RESOURCES,
		    "more than %d preferences in a list", IPSEC_PROFILE_MAX_PREFS);
	for (size_t i = 0; i < p->nencr; i++) {
		const struct ipsec_encr_pref *e = &p->encr[i];
		size_t v = e->off + CTP_TLV_HDR_LEN;

		for (size_t k = 0; k < i; k++)
			if (p->encr[k].id == e->id && p->encr[k].key_bits == e->key_bits)
				return ctp_err_set(err, CTP_E_VALUE, e->off, CTP_ST_MALFORMED_CDB,
				    "ENCR_PREF %zu repeats entry %zu (ID %u, %u bits)", i, k,
				    e->id, e->key_bits);
		if (ipsec_alg_forbidden(IPSEC_ALG_ENCR, e->id))
			return ipsec_alg_get(IPSEC_ALG_ENCR, e->id, &a, v, err);
		if ((a = ipsec_alg_find(IPSEC_ALG_ENCR, e->id)) != NULL &&
		    !ipsec_alg_keylen(a, e->key_bits))
			return ctp_err_set(err, CTP_E_VALUE, v + 2, CTP_ST_MALFORMED_CDB,
			    "ENCR_PREF %zu: %s has no %u-bit key", i, a->name, e->key_bits);
	}
	for (size_t i = 0; i < p->ninteg; i++) {
		const struct ipsec_integ_pref *e = &p->integ[i];

		for (size_t k = 0; k < i; k++)
			if (p->integ[k].id == e->id)
				return ctp_err_set(err, CTP_E_VALUE, e->off, CTP_ST_MALFORMED_CDB,
				    "INTEG_PREF %zu repeats entry %zu (ID %u)", i, k, e->id);
		if (ipsec_alg_forbidden(IPSEC_ALG_INTEG, e->id))
			return ipsec_alg_get(IPSEC_ALG_INTEG, e->id, &a,
			    e->off + CTP_TLV_HDR_LEN, err);
	}
	for (unsigned plane = 1; plane <= IPSEC_PROFILE_PLANES; plane++) {
		const struct ipsec_path *path = &p->path[plane - 1];
		size_t v = path->off + CTP_TLV_HDR_LEN, alen;

		if (!path->present)
			continue;
		if ((alen = ctp_addr_len(path->family)) == 0)
			return ctp_err_set(err, CTP_E_VALUE, v + 1, CTP_ST_MALFORMED_CDB,
			    "PATH plane %u: family %u is neither 4 nor 6", plane, path->family);
		if (path->node_count == 0)
			return ctp_err_set(err, CTP_E_VALUE, v + 2, CTP_ST_MALFORMED_CDB,
			    "PATH plane %u has no nodes", plane);
		if (path->node_count > IPSEC_PROFILE_MAX_NODES)
			return ctp_err_set(err, CTP_E_LIMIT, v + 2, CTP_ST_NO_RESOURCES,
			    "PATH plane %u: %u nodes, at most %d", plane, path->node_count,
			    IPSEC_PROFILE_MAX_NODES);
		for (unsigned k = 0; k < path->node_count; k++) {
			static const uint8_t zero[16];
			const struct ctp_addr *n = &path->nodes[k];

			if (n->family != path->family || memcmp(n->a, zero, alen) == 0)
				return ctp_err_set(err, CTP_E_VALUE, v + 4 + k * alen,
				    CTP_ST_MALFORMED_CDB, "PATH plane %u: node %u is %s", plane, k,
				    n->family != path->family ? "of another family" : "unspecified");
		}
	}
	if (p->has_user_id &&
	    (rc = ipsec_sa_verify_name(&p->user_id, p->user_id_off, "USER_ID", err)) < 0)
		return rc;
	return 0;
}

/*
 * P = 0; each TLV padded to 4 octets, the CDB to 8:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         FPT = 0xFF02          |  Length (x8)  |0|  Reserved   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0|  ENCR_PREF = 0x0001 (0..16) |          Length = 4           |
 * |     ENCR transform ID         |       Key length in bits      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0|  INTEG_PREF = 0x0002 (0..16)|          Length = 4           |
 * |     INTEG transform ID        |           Reserved            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0|  PATH = 0x0003 (0..3)       |     Length = 4 + n x A        |
 * |     Plane     |    Family     |  Node count n |   Reserved    |
 * ~        n node addresses, from pAR towards the remote node     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0|  USER_ID = 0x0004 (0..1)    |     Length = 4 + octets       |
 * |   ID type     |                  Reserved                     |
 * ~                       Identity octets                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     zero padding to a multiple of 8 octets (type 0 = end)     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static int
ipsec_profile_encode_tlvs(const struct ipsec_profile *p, struct ctp_wbuf *w)
{
	size_t at;

	if (p->nencr > IPSEC_PROFILE_MAX_PREFS || p->ninteg > IPSEC_PROFILE_MAX_PREFS ||
	    p->user_id.len > sizeof p->user_id.octets)
		return CTP_E_INVAL;
	for (unsigned plane = 1; plane <= IPSEC_PROFILE_PLANES; plane++)
		if (p->path[plane - 1].present &&
		    (ctp_addr_len(p->path[plane - 1].family) == 0 ||
		    p->path[plane - 1].node_count > IPSEC_PROFILE_MAX_NODES))
			return CTP_E_INVAL;

	for (size_t i = 0; i < p->nencr; i++) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_PROFILE_ENCR_PREF);
		ctp_wbuf_u16(w, p->encr[i].id);
		ctp_wbuf_u16(w, p->encr[i].key_bits);
		ctp_tlv_end(w, at);
	}
	for (size_t i = 0; i < p->ninteg; i++) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_PROFILE_INTEG_PREF);
		ctp_wbuf_u16(w, p->integ[i].id);
		ctp_wbuf_zero(w, 2);
		ctp_tlv_end(w, at);
	}
	for (unsigned plane = 1; plane <= IPSEC_PROFILE_PLANES; plane++) {
		const struct ipsec_path *path = &p->path[plane - 1];
		size_t alen = ctp_addr_len(path->family);

		if (!path->present)
			continue;
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_PROFILE_PATH);
		ctp_wbuf_u8(w, (uint8_t)plane);
		ctp_wbuf_u8(w, path->family);
		ctp_wbuf_u8(w, path->node_count);
		ctp_wbuf_zero(w, 1);
		for (unsigned k = 0; k < path->node_count; k++)
			ctp_wbuf_bytes(w, path->nodes[k].a, alen);
		ctp_tlv_end(w, at);
	}
	if (p->has_user_id) {
		at = ctp_tlv_begin(w, CTP_TLV_IPSEC_PROFILE_USER_ID);
		ipsec_sa_write_name(w, &p->user_id);
		ctp_tlv_end(w, at);
	}
	return w->err;
}

int
ipsec_profile_encode(const struct ipsec_profile *p, struct ctp_wbuf *w)
{
	size_t start = w->len, at;
	int rc;

	at = ctp_cdb_begin(w, CTP_FPT_IPSEC_PROFILE, 0, 0);
	if ((rc = ipsec_profile_encode_tlvs(p, w)) == 0)
		rc = ctp_cdb_end(w, at, 0, 0);
	if (rc < 0 && !w->err)
		w->len = start;
	return rc;
}
