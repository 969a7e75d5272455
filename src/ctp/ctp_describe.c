/*
 * ctp_describe.c: whole messages to and from value trees (ctpctl decode and
 * encode, the control socket, test vectors).
 *
 * The keys are the field names of proto/cxtp.def.  Describing keeps every
 * octet that a re-encoding needs (CDB Length, non-zero reserved bits), so
 * describe then build gives back the bytes that were decoded.
 */
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"

#define RESERVED_MASK(def) (CTP_HDR_RESERVED | ((def)->xflag ? 0 : CTP_HDR_X))

/* ---- checking ------------------------------------------------------------ */

int
ctp_control_check(const struct ctp_cdb *cdb, struct ctp_err *err)
{
	if (cdb->flags & CTP_CDB_P)
		return ctp_err_set(err, CTP_E_CDB, cdb->off + 3, CTP_ST_MALFORMED_CDB,
		    "control CDB must not have a presence vector");
	return ctp_tlv_check(ctp_fpt_def(CTP_FPT_CONTROL), cdb->data, cdb->len,
	    cdb->off + CTP_CDB_HDR_LEN, err);
}

/*
 * The structure of a CDB made of TLVs, by the tables alone.  TLVs make a
 * presence vector meaningless (PROFILE 6: P = 0), and the encoder refuses
 * P = 1 for them, so the decoder does too: what is accepted re-encodes.
 */
static int
check_tlv_cdb(const struct ctp_fpt_def *fd, const struct ctp_cdb *c, struct ctp_err *err)
{
	if (c->flags & CTP_CDB_P)
		return ctp_err_set(err, CTP_E_VALUE, c->off + 3, CTP_ST_MALFORMED_CDB,
		    "%s CDB has P = 1; a CDB of TLVs has no presence vector (PROFILE 6)", fd->name);
	return ctp_tlv_check(fd, c->data, c->len, c->off + CTP_CDB_HDR_LEN, err);
}

int
ctp_msg_check_cdbs(const struct ctp_msg *m, const struct ctp_registry *reg, struct ctp_err *err)
{
	const struct ctp_msg_def *def = ctp_msg_def(m->type);
	int rc = 0;

	/* request CDBs name features; only full CDBs carry contexts */
	if (!def || memchr(def->fields, CTP_MF_REQ_CDBS, sizeof def->fields))
		return 0;
	for (size_t i = 0; rc == 0 && i < m->ncdb; i++) {
		const struct ctp_cdb *c = &m->cdb[i];
		const struct ctp_plugin *p;
		const struct ctp_fpt_def *fd;

		if (c->fpt == CTP_FPT_CONTROL)
			rc = ctp_control_check(c, err);
		else if (m->type == CTP_MSG_CTN && (fd = ctp_fpt_def(c->fpt)) != NULL && fd->tlvs)
			/* a CTN tells the MN what changed: partial contexts (an SA's
			 * new SPI and address, no keys), so structure only */
			rc = check_tlv_cdb(fd, c, err);
		else if ((p = ctp_registry_find(reg, c->fpt)) != NULL)
			rc = p->feat->cdb_check(p->state, c, ctp_msg_family(m), err);
		else if ((fd = ctp_fpt_def(c->fpt)) != NULL && fd->tlvs)
			rc = check_tlv_cdb(fd, c, err);
	}
	return rc;
}

/* ---- describing ------------------------------------------------------------- */

static int
describe_cdb(const struct ctp_cdb *c, int request, int partial, unsigned family,
    const struct ctp_registry *reg, struct ctp_val **out, struct ctp_err *err)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(c->fpt);
	/* partial contexts (a CTN's) are described by the tables, not checked
	 * by their plugin as whole contexts */
	const struct ctp_plugin *p = partial && fd && fd->tlvs ? NULL :
	    ctp_registry_find(reg, c->fpt);
	struct ctp_val *o = ctp_val_obj(), *tlvs;
	int rc;

	if (!o)
		return CTP_E_NOMEM;
	rc = ctp_val_set_u64(o, "fpt", c->fpt);
	if (rc == 0 && (fd || p))
		rc = ctp_val_set_str(o, "feature", fd ? fd->name : p->feat->name);
	if (rc == 0)
		rc = ctp_val_set_u64(o, "length", c->units);
	if (rc == 0)
		rc = ctp_val_set_u64(o, "p", (c->flags & CTP_CDB_P) ? 1 : 0);
	if (rc == 0 && (c->flags & CTP_CDB_P))
		rc = ctp_val_set_u64(o, "pv", c->pv);
	if (rc == 0 && (c->flags & CTP_CDB_RESERVED))
		rc = ctp_val_set_u64(o, "reserved", c->flags & CTP_CDB_RESERVED);
	if (rc < 0)
		goto fail;
	if (request) {
		if (c->len)
			rc = ctp_val_set_hex(o, "data", c->data, c->len);
	} else if (p) {
		rc = p->feat->cdb_describe(p->state, c, family, o, err);
	} else if (fd && fd->tlvs) {
		if ((tlvs = ctp_val_arr()) == NULL)
			rc = CTP_E_NOMEM;
		else if ((rc = ctp_tlv_describe(fd, c->data, c->len, c->off + CTP_CDB_HDR_LEN +
		    (c->flags & CTP_CDB_P ? 4 : 0), tlvs, err)) < 0)
			ctp_val_free(tlvs);
		else
			rc = ctp_val_obj_set(o, "tlvs", tlvs);
	} else
		rc = ctp_val_set_hex(o, "data", c->data, c->len);
	if (rc < 0)
		goto fail;
	*out = o;
	return 0;
fail:
	ctp_val_free(o);
	return ctp_err_set(err, rc, c->off, CTP_ST_MALFORMED_CDB, "cannot describe CDB 0x%04x: %s",
	    c->fpt, ctp_strerror(rc));
}

static int
describe_fields(const struct ctp_msg *m, const struct ctp_msg_def *def,
    const struct ctp_registry *reg, struct ctp_val *o, struct ctp_err *err)
{
	char buf[CTP_ADDRSTRLEN];
	struct ctp_val *arr;
	int rc = 0;

	for (const uint8_t *f = def->fields; rc == 0 && *f != CTP_MF_END; f++) {
		const char *key = ctp_mfield_defs[*f].name;

		switch (*f) {
		case CTP_MF_MN_PREV_ADDR:
			rc = ctp_val_set_str(o, key, ctp_addr_fmt(&m->mn_prev, buf, sizeof buf));
			break;
		case CTP_MF_AR_ADDR:
			rc = ctp_val_set_str(o, key, ctp_addr_fmt(&m->ar, buf, sizeof buf));
			break;
		case CTP_MF_SEQ:
			rc = ctp_val_set_u64(o, key, m->seq);
			break;
		case CTP_MF_TOKEN:
			rc = ctp_val_set_u64(o, key, m->token);
			break;
		case CTP_MF_ELAPSED:
			rc = ctp_val_set_u64(o, key, m->elapsed);
			break;
		case CTP_MF_KEY:
			rc = ctp_val_set_u64(o, "algorithm", m->key_alg);
			if (rc == 0)
				rc = ctp_val_set_u64(o, "key_length", m->key_len);
			if (rc == 0)
				rc = ctp_val_set_hex(o, key, m->key, m->key_len);
			break;
		case CTP_MF_REQ_CDBS:
		case CTP_MF_CDBS:
			if ((arr = ctp_val_arr()) == NULL)
				return CTP_E_NOMEM;
			for (size_t i = 0; rc == 0 && i < m->ncdb; i++) {
				struct ctp_val *c = NULL;

				rc = describe_cdb(&m->cdb[i], *f == CTP_MF_REQ_CDBS,
				    m->type == CTP_MSG_CTN, ctp_msg_family(m), reg, &c, err);
				if (rc == 0)
					rc = ctp_val_arr_push(arr, c);
			}
			if (rc == 0)
				rc = ctp_val_obj_set(o, key, arr);
			else
				ctp_val_free(arr);
			break;
		case CTP_MF_STATUS:
			if ((arr = ctp_val_arr()) == NULL)
				return CTP_E_NOMEM;
			for (size_t i = 0; rc == 0 && i < m->nstatus; i++) {
				const struct ctp_status_ent *s = &m->status[i];
				struct ctp_val *e = ctp_val_obj();
				const char *name = ctp_status_name(s->code);

				rc = e ? ctp_val_set_u64(e, "fpt", s->fpt) : CTP_E_NOMEM;
				if (rc == 0)
					rc = ctp_val_set_u64(e, "status", s->code);
				if (rc == 0 && name)
					rc = ctp_val_set_str(e, "status_name", name);
				if (rc == 0 && s->reserved)
					rc = ctp_val_set_u64(e, "reserved", s->reserved);
				if (rc == 0)
					rc = ctp_val_arr_push(arr, e);
				else
					ctp_val_free(e);
			}
			if (rc == 0)
				rc = ctp_val_obj_set(o, key, arr);
			else
				ctp_val_free(arr);
			break;
		case CTP_MF_TAG:
			rc = ctp_val_set_hex(o, key, m->tag, CTP_TAG_LEN);
			break;
		}
	}
	return rc;
}

int
ctp_msg_describe(const struct ctp_msg *m, const struct ctp_registry *reg,
    struct ctp_val **out, struct ctp_err *err)
{
	const struct ctp_msg_def *def = ctp_msg_def(m->type);
	struct ctp_val *o;
	int rc;

	if (!def)
		return ctp_err_set(err, CTP_E_TYPE, 0, 0, "unknown message type %u", m->type);
	if ((o = ctp_val_obj()) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	rc = ctp_val_set_u64(o, "version", m->version);
	if (rc == 0)
		rc = ctp_val_set_str(o, "type", def->wire);
	if (rc == 0)
		rc = ctp_val_set_u64(o, "v", (m->flags & CTP_HDR_V) ? 1 : 0);
	if (rc == 0 && def->xflag)
		rc = ctp_val_set_u64(o, def->xflag == 'A' ? "a" : "s", ctp_msg_xflag(m));
	if (rc == 0 && (m->flags & RESERVED_MASK(def)))
		rc = ctp_val_set_u64(o, "reserved", m->flags & RESERVED_MASK(def));
	if (rc == 0)
		rc = ctp_val_set_u64(o, "length", m->length);
	if (rc == 0)
		rc = describe_fields(m, def, reg, o, err);
	if (rc < 0) {
		ctp_val_free(o);
		return ctp_err_set(err, rc, 0, 0, "cannot describe %s: %s", def->wire, ctp_strerror(rc));
	}
	*out = o;
	return 0;
}

/* ---- building ----------------------------------------------------------- */

static int
get_u64_or(const struct ctp_val *o, const char *key, uint64_t max, uint64_t dflt,
    uint64_t *out, struct ctp_err *err)
{
	int rc = ctp_val_get_u64(o, key, max, out, err);

	if (rc == CTP_E_NOTFOUND) {
		*out = dflt;
		return 0;
	}
	return rc;
}

static int
get_addr(const struct ctp_val *o, const char *key, struct ctp_addr *a, struct ctp_err *err)
{
	const char *s;
	int rc = ctp_val_get_str(o, key, &s, err);

	if (rc == CTP_E_NOTFOUND)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0, "\"%s\" is missing", key);
	if (rc < 0)
		return rc;
	if (ctp_addr_parse(a, s) < 0)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"%s\": \"%s\" is not an IP address", key, s);
	return 0;
}

/* Write one CDB (header included) from its object into w. */
static int
build_cdb(const struct ctp_val *o, int request, const struct ctp_registry *reg,
    struct ctp_wbuf *w, size_t idx, struct ctp_err *err)
{
	uint64_t fpt, units, p, pv, rsv;
	const struct ctp_plugin *pl;
	const struct ctp_fpt_def *fd;
	const struct ctp_val *data, *tlvs;
	size_t at, n;
	uint8_t flags;
	int rc;

	if (o->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "CDB %zu is not an object", idx);
	if ((rc = ctp_val_get_u64(o, "fpt", 0xffff, &fpt, err)) < 0)
		return rc == CTP_E_NOTFOUND ?
		    ctp_err_set(err, CTP_E_MISSING, 0, 0, "CDB %zu: \"fpt\" is missing", idx) : rc;
	if ((rc = get_u64_or(o, "length", 255, 0, &units, err)) < 0 ||
	    (rc = get_u64_or(o, "p", 1, 0, &p, err)) < 0 ||
	    (rc = get_u64_or(o, "pv", UINT32_MAX, 0, &pv, err)) < 0 ||
	    (rc = get_u64_or(o, "reserved", CTP_CDB_RESERVED, 0, &rsv, err)) < 0)
		return rc;
	flags = (uint8_t)((p ? CTP_CDB_P : 0) | rsv);
	data = ctp_val_get(o, "data");
	tlvs = ctp_val_get(o, "tlvs");
	fd = ctp_fpt_def((uint16_t)fpt);
	pl = ctp_registry_find(reg, (uint16_t)fpt);

	if (!request && pl && !data)
		return pl->feat->cdb_build(pl->state, (uint16_t)fpt, o, w, err);
	at = ctp_cdb_begin(w, (uint16_t)fpt, flags, (uint32_t)pv);
	if (data) {
		uint8_t *q;

		if (data->kind != CTP_V_STR)
			return ctp_err_set(err, CTP_E_VALUE, 0, 0, "CDB %zu: \"data\" must be hex", idx);
		if ((q = ctp_wbuf_reserve(w, data->slen / 2)) != NULL) {
			if (ctp_hex_decode(data->s, data->slen, q, data->slen / 2, &n) < 0)
				return ctp_err_set(err, CTP_E_VALUE, 0, 0, "CDB %zu: \"data\" is not hex", idx);
			w->len -= data->slen / 2 - n;
		}
	} else if (tlvs && fd && fd->tlvs) {
		if ((rc = ctp_tlv_build(fd, tlvs, w, err)) < 0)
			return rc;
	} else if (!request)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0,
		    "CDB %zu (FPT 0x%04x): give \"data\" in hex%s", idx, (unsigned)fpt,
		    fd && fd->tlvs ? " or \"tlvs\"" : "");
	if ((rc = ctp_cdb_end(w, at, (uint8_t)units, request)) < 0)
		return ctp_err_set(err, rc, 0, 0, "CDB %zu: its data does not fit Length %u", idx,
		    (unsigned)units);
	return 0;
}

/* Build every CDB into scratch, then read them back as struct ctp_cdb. */
static int
build_cdbs(const struct ctp_val *arr, int request, const struct ctp_registry *reg,
    struct ctp_msg *m, struct ctp_wbuf *scratch, struct ctp_err *err)
{
	struct ctp_cur c;
	int rc;

	if (arr->kind != CTP_V_ARR)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "CDB list must be an array");
	for (size_t i = 0; i < arr->n; i++)
		if ((rc = build_cdb(arr->items[i], request, reg, scratch, i, err)) < 0)
			return rc;
	if (scratch->err)
		return ctp_err_set(err, scratch->err, 0, 0, "CDBs exceed the largest message");
	ctp_cur_init(&c, scratch->p, scratch->len, 0);
	while (c.left) {
		if (m->ncdb == CTP_MAX_CDBS)
			return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "more than %d CDBs", CTP_MAX_CDBS);
		if ((rc = ctp_cdb_next(&c, request, &m->cdb[m->ncdb], err)) < 0)
			return rc;
		m->ncdb++;
	}
	return 0;
}

static int
build_fields(const struct ctp_val *v, const struct ctp_msg_def *def,
    const struct ctp_registry *reg, struct ctp_msg *m, struct ctp_wbuf *scratch,
    uint8_t *keybuf, struct ctp_err *err)
{
	const struct ctp_val *arr;
	uint64_t x;
	size_t n;
	int rc = 0;

	for (const uint8_t *f = def->fields; rc == 0 && *f != CTP_MF_END; f++) {
		const char *key = ctp_mfield_defs[*f].name;

		switch (*f) {
		case CTP_MF_MN_PREV_ADDR:
			rc = get_addr(v, key, &m->mn_prev, err);
			break;
		case CTP_MF_AR_ADDR:
			rc = get_addr(v, key, &m->ar, err);
			break;
		case CTP_MF_SEQ:
			if ((rc = get_u64_or(v, key, UINT32_MAX, 0, &x, err)) == 0)
				m->seq = (uint32_t)x;
			break;
		case CTP_MF_TOKEN:
			if ((rc = get_u64_or(v, key, UINT32_MAX, 0, &x, err)) == 0)
				m->token = (uint32_t)x;
			break;
		case CTP_MF_ELAPSED:
			if ((rc = get_u64_or(v, key, UINT32_MAX, 0, &x, err)) == 0)
				m->elapsed = (uint32_t)x;
			break;
		case CTP_MF_KEY:
			rc = ctp_val_get_hex(v, key, keybuf, CTP_KEY_MAX, &n, err);
			if (rc == CTP_E_NOTFOUND)
				rc = ctp_err_set(err, CTP_E_MISSING, 0, 0, "\"key\" is missing");
			if (rc < 0)
				break;
			m->key = keybuf;
			m->key_len = (uint16_t)n;
			if ((rc = get_u64_or(v, "algorithm", 0xffff, CTP_KEY_ALG_HMAC_SHA1, &x, err)) == 0)
				m->key_alg = (uint16_t)x;
			if (rc == 0 && (rc = get_u64_or(v, "key_length", 0xffff, n, &x, err)) == 0 && x != n)
				rc = ctp_err_set(err, CTP_E_VALUE, 0, 0,
				    "\"key_length\" is %llu but the key has %zu octets",
				    (unsigned long long)x, n);
			break;
		case CTP_MF_REQ_CDBS:
		case CTP_MF_CDBS:
			if ((arr = ctp_val_get(v, key)) != NULL)
				rc = build_cdbs(arr, *f == CTP_MF_REQ_CDBS, reg, m, scratch, err);
			break;
		case CTP_MF_STATUS:
			if ((arr = ctp_val_get(v, key)) == NULL)
				break;
			if (arr->kind != CTP_V_ARR)
				return ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"status\" must be an array");
			for (size_t i = 0; rc == 0 && i < arr->n; i++) {
				const struct ctp_val *e = arr->items[i];
				uint64_t fpt, code, rsv;

				if ((rc = get_u64_or(e, "fpt", 0xffff, 0, &fpt, err)) == 0 &&
				    (rc = get_u64_or(e, "status", 0xff, 0, &code, err)) == 0 &&
				    (rc = get_u64_or(e, "reserved", 0xff, 0, &rsv, err)) == 0 &&
				    (rc = ctp_msg_add_status(m, (uint16_t)fpt, (uint8_t)code)) == 0)
					m->status[m->nstatus - 1].reserved = (uint8_t)rsv;
			}
			break;
		case CTP_MF_TAG:
			rc = ctp_val_get_hex(v, key, m->tag, CTP_TAG_LEN, &n, err);
			if (rc == CTP_E_NOTFOUND)
				rc = 0;   /* zero: ctpctl can seal it afterwards */
			else if (rc == 0 && n != CTP_TAG_LEN)
				rc = ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"tag\" must be 16 octets");
			break;
		}
	}
	return rc;
}

int
ctp_msg_build(const struct ctp_val *v, const struct ctp_registry *reg, uint8_t *buf, size_t cap,
    size_t *len, struct ctp_err *err)
{
	const struct ctp_msg_def *def;
	struct ctp_msg *m = NULL;
	uint8_t keybuf[CTP_KEY_MAX], *scratch = NULL;
	struct ctp_wbuf sw;
	const char *tname;
	uint64_t x, vflag, ver;
	int rc, type;

	if (!v || v->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "a message must be a JSON object");
	if ((rc = ctp_val_get_str(v, "type", &tname, err)) == 0)
		type = ctp_msg_type_by_name(tname);
	else if (rc == CTP_E_VALUE && ctp_val_get_u64(v, "type", 31, &x, NULL) == 0)
		type = (int)x;
	else
		return ctp_err_set(err, CTP_E_MISSING, 0, 0, "\"type\" is missing");
	if ((def = ctp_msg_def((unsigned)(type < 0 ? 0 : type))) == NULL)
		return ctp_err_set(err, CTP_E_TYPE, 0, 0, "unknown message type \"%s\"",
		    rc == 0 ? tname : "?");
	ctp_err_clear(err);   /* the probe above may have recorded a type mismatch */
	if ((m = malloc(sizeof *m)) == NULL || (scratch = malloc(CTP_MAX_MSG_LEN)) == NULL) {
		rc = ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
		goto out;
	}
	ctp_wbuf_init(&sw, scratch, CTP_MAX_MSG_LEN);
	ctp_msg_init(m, (unsigned)type, 4);
	if ((rc = get_u64_or(v, "version", 7, CTP_VERSION, &ver, err)) < 0 ||
	    (rc = get_u64_or(v, "reserved", RESERVED_MASK(def), 0, &x, err)) < 0)
		goto out;
	m->version = (uint8_t)ver;
	m->flags = (uint8_t)x;
	if (def->xflag) {
		if ((rc = get_u64_or(v, def->xflag == 'A' ? "a" : "s", 1, 0, &x, err)) < 0)
			goto out;
		m->flags |= x ? CTP_HDR_X : 0;
	}
	if ((rc = build_fields(v, def, reg, m, &sw, keybuf, err)) < 0)
		goto out;
	/* "v", when given, must agree with the addresses */
	if ((rc = ctp_val_get_u64(v, "v", 1, &vflag, err)) == 0 &&
	    (vflag ? 4u : 6u) != m->mn_prev.family) {
		rc = ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"v\" is %llu but the addresses are IPv%u",
		    (unsigned long long)vflag, m->mn_prev.family);
		goto out;
	}
	if (rc == CTP_E_NOTFOUND)
		rc = 0;
	if (rc == 0)
		rc = ctp_msg_encode(m, buf, cap, len, err);
out:
	ctp_wipe(keybuf, sizeof keybuf);
	free(scratch);
	free(m);
	return rc;
}
