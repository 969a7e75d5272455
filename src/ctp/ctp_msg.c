/*
 * ctp_msg.c: encode and decode the nine CXTP messages (RFC 4067 2.5,
 * PROFILE 1 and 4).  The layouts come from proto/cxtp.def through
 * ctp_msg_defs[]: both directions walk the same field list, so the two can
 * never disagree about where a field sits.
 *
 * Decoding validates before it interprets: the header fits, the version and
 * type are known, the Length agrees with what arrived, and only then are the
 * fields read, each through the bounded cursor.  Every failure names the
 * offset of the first octet that is wrong.
 */
#include <stddef.h>
#include <string.h>

#include "ctp/ctp_msg.h"

/*
 * Only the fields before the CDB array are zeroed, as ctp_msg_decode does:
 * cdb[] and status[] (13 KiB together) are valid up to ncdb and nstatus, and
 * each entry is written whole when it is added.  Zeroing all of it cost more
 * than the rest of building the message.
 */
void
ctp_msg_init(struct ctp_msg *m, unsigned type, unsigned family)
{
	memset(m, 0, offsetof(struct ctp_msg, cdb));
	m->nstatus = 0;
	m->version = CTP_VERSION;
	m->type = (uint8_t)type;
	m->flags = family == 4 ? CTP_HDR_V : 0;
	m->mn_prev.family = (uint8_t)family;
	m->ar.family = (uint8_t)family;
}

int
ctp_msg_add_cdb(struct ctp_msg *m, uint16_t fpt, const uint8_t *data, size_t len)
{
	struct ctp_cdb *c;

	if (m->ncdb >= CTP_MAX_CDBS)
		return CTP_E_LIMIT;
	c = &m->cdb[m->ncdb++];
	memset(c, 0, sizeof *c);
	c->fpt = fpt;
	c->data = data;
	c->len = len;
	return 0;
}

int
ctp_msg_add_status(struct ctp_msg *m, uint16_t fpt, uint8_t code)
{
	if (m->nstatus >= CTP_MAX_CDBS)
		return CTP_E_LIMIT;
	m->status[m->nstatus].fpt = fpt;
	m->status[m->nstatus].code = code;
	m->status[m->nstatus].reserved = 0;
	m->nstatus++;
	return 0;
}

/* ---- decoding -------------------------------------------------------------- */

int
ctp_cdb_next(struct ctp_cur *c, int request, struct ctp_cdb *cdb, struct ctp_err *err)
{
	size_t start = c->off, size;
	const uint8_t *raw = c->p;
	struct ctp_cur body;
	uint8_t units, flags;
	uint16_t fpt;

	if (c->left == 0)
		return 0;
	if (c->left < CTP_CDB_HDR_LEN)
		return ctp_err_set(err, CTP_E_CDB, start, CTP_ST_MALFORMED_CDB,
		    "CDB header needs 4 octets, %zu left", c->left);
	/* the header fits: these three reads cannot fail */
	(void)ctp_cur_u16(c, &fpt);
	(void)ctp_cur_u8(c, &units);
	(void)ctp_cur_u8(c, &flags);
	if (fpt == 0)
		return ctp_err_set(err, CTP_E_CDB, start, CTP_ST_UNSUPPORTED_FPT,
		    "CDB FPT 0 is reserved");
	if (units == 0) {
		if (!request)
			return ctp_err_set(err, CTP_E_CDB, start + 2, CTP_ST_MALFORMED_CDB,
			    "CDB Length 0 is only allowed for a request CDB");
		size = CTP_CDB_HDR_LEN;
	} else
		size = (size_t)units * 8;
	if (size - CTP_CDB_HDR_LEN > c->left)
		return ctp_err_set(err, CTP_E_CDB, start + 2, CTP_ST_MALFORMED_CDB,
		    "CDB Length %u (%zu octets) runs past the end of the message (%zu left)",
		    units, size, c->left + CTP_CDB_HDR_LEN);
	(void)ctp_cur_sub(c, size - CTP_CDB_HDR_LEN, &body);

	memset(cdb, 0, sizeof *cdb);
	cdb->fpt = fpt;
	cdb->units = units;
	cdb->flags = flags;
	cdb->off = start;
	cdb->raw = raw;
	cdb->raw_len = size;
	if (flags & CTP_CDB_P) {
		if (ctp_cur_u32(&body, &cdb->pv) < 0)
			return ctp_err_set(err, CTP_E_CDB, start + 3, CTP_ST_MALFORMED_CDB,
			    "CDB has P set but no room for its presence vector");
	}
	cdb->data = body.p;
	cdb->len = body.left;
	return 1;
}

static int
decode_addr(struct ctp_cur *c, unsigned family, struct ctp_addr *a, const char *what,
    struct ctp_err *err)
{
	size_t n = ctp_addr_len(family);

	memset(a, 0, sizeof *a);
	a->family = (uint8_t)family;
	if (ctp_cur_copy(c, a->a, n) < 0)
		return ctp_err_set(err, CTP_E_SHORT, c->off, CTP_ST_MALFORMED_CDB,
		    "%s needs %zu octets, %zu left", what, n, c->left);
	return 0;
}

static int
decode_u32(struct ctp_cur *c, uint32_t *v, const char *what, struct ctp_err *err)
{
	if (ctp_cur_u32(c, v) < 0)
		return ctp_err_set(err, CTP_E_SHORT, c->off, CTP_ST_MALFORMED_CDB,
		    "%s needs 4 octets, %zu left", what, c->left);
	return 0;
}

/* Algorithm (2) | Key Length (2) | Key: PCTD only, no padding (PROFILE 1.4). */
static int
decode_key(struct ctp_cur *c, struct ctp_msg *m, struct ctp_err *err)
{
	size_t at = c->off;

	if (ctp_cur_u16(c, &m->key_alg) < 0 || ctp_cur_u16(c, &m->key_len) < 0)
		return ctp_err_set(err, CTP_E_SHORT, at, CTP_ST_MALFORMED_CDB,
		    "key algorithm and length need 4 octets");
	if (m->key_alg != CTP_KEY_ALG_HMAC_SHA1)
		return ctp_err_set(err, CTP_E_VALUE, at, CTP_ST_AUTH_FAILED,
		    "key algorithm %u is not HMAC_SHA1 (1)", m->key_alg);
	if (m->key_len != 20 && m->key_len != 32)
		return ctp_err_set(err, CTP_E_VALUE, at + 2, CTP_ST_AUTH_FAILED,
		    "key length %u: keys are 20 or 32 octets", m->key_len);
	if (ctp_cur_view(c, m->key_len, &m->key) < 0)
		return ctp_err_set(err, CTP_E_SHORT, at + 4, CTP_ST_MALFORMED_CDB,
		    "key of %u octets runs past the end (%zu left)", m->key_len, c->left);
	return 0;
}

static int
decode_cdbs(struct ctp_cur *c, size_t len, int request, struct ctp_msg *m, struct ctp_err *err)
{
	struct ctp_cur region;
	int rc;

	if (ctp_cur_sub(c, len, &region) < 0)
		return ctp_err_set(err, CTP_E_SHORT, c->off, CTP_ST_MALFORMED_CDB,
		    "internal: CDB region past the end");
	m->cdb_raw = region.p;
	m->cdb_raw_len = region.left;
	while (region.left) {
		if (m->ncdb == CTP_MAX_CDBS)
			return ctp_err_set(err, CTP_E_LIMIT, region.off, CTP_ST_NO_RESOURCES,
			    "more than %d CDBs in one message", CTP_MAX_CDBS);
		if ((rc = ctp_cdb_next(&region, request, &m->cdb[m->ncdb], err)) < 0)
			return rc;
		m->ncdb++;
	}
	return 0;
}

static int
decode_status(struct ctp_cur *c, struct ctp_msg *m, struct ctp_err *err)
{
	/* err->off names the first octet that is wrong: the partial entry, or
	 * the first entry beyond the limit */
	if (c->left % 4)
		return ctp_err_set(err, CTP_E_LENGTH, c->off + c->left / 4 * 4,
		    CTP_ST_MALFORMED_CDB, "status entries are 4 octets each; %zu octets left",
		    c->left);
	if (c->left / 4 > CTP_MAX_CDBS)
		return ctp_err_set(err, CTP_E_LIMIT, c->off + 4 * CTP_MAX_CDBS,
		    CTP_ST_NO_RESOURCES, "more than %d status entries", CTP_MAX_CDBS);
	while (c->left) {
		struct ctp_status_ent *s = &m->status[m->nstatus++];

		(void)ctp_cur_u16(c, &s->fpt);
		(void)ctp_cur_u8(c, &s->code);
		(void)ctp_cur_u8(c, &s->reserved);
	}
	return 0;
}

int
ctp_msg_decode(struct ctp_msg *m, const uint8_t *buf, size_t len, unsigned opts,
    struct ctp_err *err)
{
	const struct ctp_msg_def *def;
	struct ctp_cur c;
	unsigned family;
	int rc = 0;

	memset(m, 0, offsetof(struct ctp_msg, cdb));
	m->ncdb = m->nstatus = 0;
	if (len < CTP_HDR_LEN)
		return ctp_err_set(err, CTP_E_SHORT, 0, CTP_ST_MALFORMED_CDB,
		    "message of %zu octets is shorter than the 4-octet header", len);
	m->version = buf[0] >> 5;
	m->type = buf[0] & 0x1f;
	m->flags = buf[1];
	m->length = ctp_get_u16(buf + 2);
	if (m->version != CTP_VERSION)
		return ctp_err_set(err, CTP_E_VERSION, 0, CTP_ST_MALFORMED_CDB,
		    "version %u, expected %u", m->version, CTP_VERSION);
	if ((def = ctp_msg_def(m->type)) == NULL)
		return ctp_err_set(err, CTP_E_TYPE, 0, CTP_ST_MALFORMED_CDB,
		    "unknown message type %u", m->type);
	if (m->length < CTP_HDR_LEN)
		return ctp_err_set(err, CTP_E_LENGTH, 2, CTP_ST_MALFORMED_CDB,
		    "Length %u is shorter than the header", m->length);
	if (m->length > len || (!(opts & CTP_DEC_ICMP) && m->length != len))
		return ctp_err_set(err, CTP_E_LENGTH, 2, CTP_ST_MALFORMED_CDB,
		    "Length %u but %zu octets received", m->length, len);

	family = ctp_msg_family(m);
	ctp_cur_init(&c, buf + CTP_HDR_LEN, m->length - CTP_HDR_LEN, CTP_HDR_LEN);
	for (const uint8_t *f = def->fields; rc == 0 && *f != CTP_MF_END; f++) {
		switch (*f) {
		case CTP_MF_MN_PREV_ADDR:
			rc = decode_addr(&c, family, &m->mn_prev, "MN previous address", err);
			break;
		case CTP_MF_AR_ADDR:
			rc = decode_addr(&c, family, &m->ar, "AR address", err);
			break;
		case CTP_MF_SEQ:
			rc = decode_u32(&c, &m->seq, "sequence number", err);
			break;
		case CTP_MF_TOKEN:
			rc = decode_u32(&c, &m->token, "authorization token", err);
			break;
		case CTP_MF_ELAPSED:
			rc = decode_u32(&c, &m->elapsed, "elapsed time", err);
			break;
		case CTP_MF_KEY:
			rc = decode_key(&c, m, err);
			break;
		case CTP_MF_REQ_CDBS:
			rc = decode_cdbs(&c, c.left, 1, m, err);
			break;
		case CTP_MF_CDBS:
			/* a tag, when the layout has one, is the last 16 octets */
			if (f[1] == CTP_MF_TAG && c.left < CTP_TAG_LEN)
				rc = ctp_err_set(err, CTP_E_SHORT, c.off, CTP_ST_MALFORMED_CDB,
				    "the 16-octet tag does not fit (%zu octets left)", c.left);
			else
				rc = decode_cdbs(&c, c.left - (f[1] == CTP_MF_TAG ? CTP_TAG_LEN : 0),
				    0, m, err);
			break;
		case CTP_MF_STATUS:
			rc = decode_status(&c, m, err);
			break;
		case CTP_MF_TAG:
			if (ctp_cur_copy(&c, m->tag, CTP_TAG_LEN) < 0)
				rc = ctp_err_set(err, CTP_E_SHORT, c.off, CTP_ST_MALFORMED_CDB,
				    "the 16-octet tag does not fit (%zu octets left)", c.left);
			break;
		default:
			rc = ctp_err_set(err, CTP_E_INVAL, c.off, CTP_ST_MALFORMED_CDB,
			    "internal: field kind %u", *f);
		}
	}
	if (rc == 0 && c.left)
		rc = ctp_err_set(err, CTP_E_LENGTH, c.off, CTP_ST_MALFORMED_CDB,
		    "%zu octets after the last field of %s", c.left, def->wire);
	return rc;
}

/* ---- encoding -------------------------------------------------------------- */

size_t
ctp_cdb_begin(struct ctp_wbuf *w, uint16_t fpt, uint8_t flags, uint32_t pv)
{
	size_t start = w->len;

	ctp_wbuf_u16(w, fpt);
	ctp_wbuf_u8(w, 0);          /* Length, patched by ctp_cdb_end */
	ctp_wbuf_u8(w, flags);
	if (flags & CTP_CDB_P)
		ctp_wbuf_u32(w, pv);
	return start;
}

int
ctp_cdb_end(struct ctp_wbuf *w, size_t start, uint8_t units, int request)
{
	size_t size, padded;

	if (w->err)
		return w->err;
	size = w->len - start;
	if (request && units == 0 && size == CTP_CDB_HDR_LEN)
		return 0;   /* the 4-octet request CDB, Length 0 */
	padded = units ? (size_t)units * 8 : (size + 7) / 8 * 8;
	if (padded / 8 > 255 || size > padded)
		return CTP_E_LIMIT;
	ctp_wbuf_zero(w, padded - size);
	if (w->err)
		return w->err;
	w->p[start + 2] = (uint8_t)(padded / 8);
	return 0;
}

static int
encode_addr(struct ctp_wbuf *w, const struct ctp_addr *a, unsigned family, const char *what,
    struct ctp_err *err)
{
	if (a->family != family)
		return ctp_err_set(err, CTP_E_VALUE, w->len, CTP_ST_MALFORMED_CDB,
		    "%s is IPv%u in an IPv%u message", what, a->family, family);
	ctp_wbuf_bytes(w, a->a, ctp_addr_len(family));
	return 0;
}

static int
encode_cdbs(struct ctp_wbuf *w, const struct ctp_msg *m, int request, struct ctp_err *err)
{
	for (size_t i = 0; i < m->ncdb; i++) {
		const struct ctp_cdb *c = &m->cdb[i];
		size_t at = ctp_cdb_begin(w, c->fpt, c->flags, c->pv);
		int rc;

		ctp_wbuf_bytes(w, c->data, c->len);
		rc = ctp_cdb_end(w, at, c->units, request);
		if (rc == CTP_E_NOSPACE)
			return 0;   /* the sticky w->err: reported once, by the caller */
		if (rc < 0)
			return ctp_err_set(err, rc, at, CTP_ST_MALFORMED_CDB,
			    "CDB %zu (FPT 0x%04x): %zu data octets do not fit Length %u",
			    i, c->fpt, c->len, c->units);
	}
	return 0;
}

int
ctp_msg_encode(struct ctp_msg *m, uint8_t *buf, size_t cap, size_t *outlen, struct ctp_err *err)
{
	const struct ctp_msg_def *def = ctp_msg_def(m->type);
	unsigned family = m->mn_prev.family;
	struct ctp_wbuf w;
	int rc = 0;

	if (!def)
		return ctp_err_set(err, CTP_E_TYPE, 0, 0, "unknown message type %u", m->type);
	if (family != 4 && family != 6)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "MN previous address has no family");
	if (m->version > 7)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "version %u does not fit 3 bits", m->version);
	m->flags = (uint8_t)((m->flags & ~CTP_HDR_V) | (family == 4 ? CTP_HDR_V : 0));

	ctp_wbuf_init(&w, buf, cap);
	ctp_wbuf_u8(&w, (uint8_t)(m->version << 5 | m->type));
	ctp_wbuf_u8(&w, m->flags);
	ctp_wbuf_u16(&w, 0);   /* Length, patched below */
	for (const uint8_t *f = def->fields; rc == 0 && *f != CTP_MF_END; f++) {
		switch (*f) {
		case CTP_MF_MN_PREV_ADDR:
			rc = encode_addr(&w, &m->mn_prev, family, "MN previous address", err);
			break;
		case CTP_MF_AR_ADDR:
			rc = encode_addr(&w, &m->ar, family, "AR address", err);
			break;
		case CTP_MF_SEQ:
			ctp_wbuf_u32(&w, m->seq);
			break;
		case CTP_MF_TOKEN:
			ctp_wbuf_u32(&w, m->token);
			break;
		case CTP_MF_ELAPSED:
			ctp_wbuf_u32(&w, m->elapsed);
			break;
		case CTP_MF_KEY:
			if (m->key_len && !m->key)
				return ctp_err_set(err, CTP_E_INVAL, w.len, 0, "key length without a key");
			ctp_wbuf_u16(&w, m->key_alg);
			ctp_wbuf_u16(&w, m->key_len);
			ctp_wbuf_bytes(&w, m->key, m->key_len);
			break;
		case CTP_MF_REQ_CDBS:
			rc = encode_cdbs(&w, m, 1, err);
			break;
		case CTP_MF_CDBS:
			rc = encode_cdbs(&w, m, 0, err);
			break;
		case CTP_MF_STATUS:
			for (size_t i = 0; i < m->nstatus; i++) {
				ctp_wbuf_u16(&w, m->status[i].fpt);
				ctp_wbuf_u8(&w, m->status[i].code);
				ctp_wbuf_u8(&w, m->status[i].reserved);
			}
			break;
		case CTP_MF_TAG:
			ctp_wbuf_bytes(&w, m->tag, CTP_TAG_LEN);
			break;
		}
	}
	if (rc)
		return rc;
	if (w.err)
		return ctp_err_set(err, w.err, cap, 0, "%s does not fit %zu octets", def->wire, cap);
	if (w.len > CTP_MAX_MSG_LEN)
		return ctp_err_set(err, CTP_E_LIMIT, CTP_MAX_MSG_LEN, 0,
		    "%s of %zu octets exceeds the 16-bit Length", def->wire, w.len);
	m->length = (uint16_t)w.len;
	ctp_put_u16(buf + 2, m->length);
	*outlen = w.len;
	return 0;
}
