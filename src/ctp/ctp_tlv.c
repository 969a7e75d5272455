/*
 * ctp_tlv.c: TLV lists in CDB data (PROFILE 6), checked against the policy
 * tables of proto/cxtp.def, and turned into and out of value trees.
 *
 * The field layout of each TLV is data too: a walk over its fields yields
 * the span of every field, so the checker, the describer, the builder and
 * the plugins all agree on where a field sits without repeating offsets.
 */
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_tlv.h"

#define MAX_FIELDS 16

struct span {
	size_t off;   /* from the start of the value */
	size_t len;
};

/*
 * Lay the fields of def over a value of len octets.  ADDR fields take their
 * size from the latest u8 field called "family"; ADDRS fields from their
 * count field.  Fails when a field does not fit or octets are left over.
 */
static int
walk_fields(const struct ctp_tlv_def *def, const uint8_t *val, size_t len,
    struct span *sp, size_t base, struct ctp_err *err)
{
	uint64_t ivals[MAX_FIELDS] = { 0 };
	unsigned family = 0;
	size_t at = 0, family_at = 0;

	if (def->nfields > MAX_FIELDS)
		return ctp_err_set(err, CTP_E_INVAL, base, CTP_ST_MALFORMED_CDB,
		    "internal: %s has too many fields", def->name);
	for (unsigned i = 0; i < def->nfields; i++) {
		const struct ctp_tlv_field *f = &def->fields[i];
		size_t n = 0;

		switch (f->kind) {
		case CTP_FK_U8: case CTP_FK_U16: case CTP_FK_U32: case CTP_FK_U64:
		case CTP_FK_RSV: case CTP_FK_BYTES:
			n = f->size;
			break;
		case CTP_FK_ADDR:
			/* the offending octet is the family field, not the address */
			if ((n = ctp_addr_len(family)) == 0)
				return ctp_err_set(err, CTP_E_VALUE, base + family_at,
				    CTP_ST_MALFORMED_CDB, "%s: family %u is neither 4 nor 6",
				    def->name, family);
			break;
		case CTP_FK_ADDRS:
			if (ctp_addr_len(family) == 0)
				return ctp_err_set(err, CTP_E_VALUE, base + family_at,
				    CTP_ST_MALFORMED_CDB, "%s: family %u is neither 4 nor 6",
				    def->name, family);
			n = (size_t)ivals[f->ref] * ctp_addr_len(family);
			break;
		case CTP_FK_REST:
			n = len - at;
			break;
		}
		if (n > len - at)
			return ctp_err_set(err, CTP_E_TLV, base + at, CTP_ST_MALFORMED_CDB,
			    "%s: field %s needs %zu octets, %zu left", def->name, f->name,
			    n, len - at);
		sp[i].off = at;
		sp[i].len = n;
		if (f->kind >= CTP_FK_U8 && f->kind <= CTP_FK_U64) {
			struct ctp_cur c;

			ctp_cur_init(&c, val + at, n, 0);
			switch (f->kind) {
			case CTP_FK_U8: { uint8_t v = 0; (void)ctp_cur_u8(&c, &v); ivals[i] = v; break; }
			case CTP_FK_U16: { uint16_t v = 0; (void)ctp_cur_u16(&c, &v); ivals[i] = v; break; }
			case CTP_FK_U32: { uint32_t v = 0; (void)ctp_cur_u32(&c, &v); ivals[i] = v; break; }
			default: (void)ctp_cur_u64(&c, &ivals[i]); break;
			}
			if (strcmp(f->name, "family") == 0) {
				family = (unsigned)ivals[i];
				family_at = at;
			}
		}
		at += n;
	}
	if (at != len)
		return ctp_err_set(err, CTP_E_TLV, base + at, CTP_ST_MALFORMED_CDB,
		    "%s: %zu octets after the last field", def->name, len - at);
	return 0;
}

int
ctp_tlv_field_span(const struct ctp_tlv_def *def, const uint8_t *val, size_t len,
    unsigned i, size_t *foff, size_t *flen)
{
	struct span sp[MAX_FIELDS];
	int rc;

	if (i >= def->nfields)
		return CTP_E_INVAL;
	if ((rc = walk_fields(def, val, len, sp, 0, NULL)) < 0)
		return rc;
	*foff = sp[i].off;
	*flen = sp[i].len;
	return 0;
}

int
ctp_tlv_next(struct ctp_cur *c, const struct ctp_fpt_def *fd, struct ctp_tlv *t,
    struct ctp_err *err)
{
	size_t start = c->off, pad;
	const uint8_t *padp;
	uint16_t type, len;

	if (c->left == 0)
		return 0;
	if (c->left < CTP_TLV_HDR_LEN || (ctp_cur_peek_u16(c, &type) == 0 && type == 0)) {
		/* the end of the list: what follows is CDB padding */
		if (!ctp_cur_all_zero(c)) {
			size_t i = 0;

			while (c->p[i] == 0)
				i++;
			return ctp_err_set(err, CTP_E_PAD, start + i, CTP_ST_MALFORMED_CDB,
			    "non-zero octets after the end of the TLV list");
		}
		(void)ctp_cur_skip(c, c->left);
		return 0;
	}
	(void)ctp_cur_u16(c, &type);
	(void)ctp_cur_u16(c, &len);
	memset(t, 0, sizeof *t);
	t->type = type;
	t->len = len;
	t->off = start;
	t->def = ctp_tlv_def(fd, type);
	if (ctp_cur_view(c, len, &t->val) < 0)
		return ctp_err_set(err, CTP_E_TLV, start + 2, CTP_ST_MALFORMED_CDB,
		    "TLV 0x%04x Length %u runs past the end of the CDB (%zu left)",
		    type, len, c->left);
	pad = (4 - len % 4) % 4;
	if (ctp_cur_view(c, pad, &padp) < 0)
		return ctp_err_set(err, CTP_E_TLV, c->off, CTP_ST_MALFORMED_CDB,
		    "TLV 0x%04x: no room for its padding", type);
	for (size_t i = 0; i < pad; i++)
		if (padp[i])
			return ctp_err_set(err, CTP_E_PAD, c->off - pad + i, CTP_ST_MALFORMED_CDB,
			    "TLV 0x%04x: non-zero padding", type);
	return 1;
}

int
ctp_tlv_check(const struct ctp_fpt_def *fd, const uint8_t *data, size_t len, size_t base,
    struct ctp_err *err)
{
	unsigned seen[64] = { 0 };
	struct span sp[MAX_FIELDS];
	struct ctp_tlv t;
	struct ctp_cur c;
	int rc;

	if (!fd || !fd->tlvs || fd->ntlvs > 64)
		return ctp_err_set(err, CTP_E_INVAL, base, CTP_ST_UNSUPPORTED_FPT,
		    "internal: FPT has no TLV table");
	ctp_cur_init(&c, data, len, base);
	while ((rc = ctp_tlv_next(&c, fd, &t, err)) == 1) {
		size_t idx;

		if (!t.def) {
			if (t.type & CTP_TLV_CRITICAL)
				return ctp_err_set(err, CTP_E_CRITICAL, t.off, 0x86,
				    "unknown critical TLV 0x%04x in %s", t.type, fd->name);
			continue;   /* unknown, not critical: skipped */
		}
		idx = (size_t)(t.def - fd->tlvs);
		if (t.len < t.def->min || t.len > t.def->max)
			return ctp_err_set(err, CTP_E_TLV, t.off + 2, CTP_ST_MALFORMED_CDB,
			    "%s value of %u octets (allowed %u..%u)", t.def->name, t.len,
			    t.def->min, t.def->max);
		if (++seen[idx] > 1 && t.def->occurs != CTP_OCC_REPEAT)
			return ctp_err_set(err, CTP_E_DUP, t.off, CTP_ST_MALFORMED_CDB,
			    "%s appears more than once", t.def->name);
		if ((rc = walk_fields(t.def, t.val, t.len, sp, t.off + CTP_TLV_HDR_LEN, err)) < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < fd->ntlvs; i++)
		if (fd->tlvs[i].occurs == CTP_OCC_REQUIRED && !seen[i])
			return ctp_err_set(err, CTP_E_MISSING, base, CTP_ST_MALFORMED_CDB,
			    "%s: required TLV %s missing", fd->name, fd->tlvs[i].name);
	return 0;
}

/* ---- value trees ---------------------------------------------------------- */

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be(uint8_t *p, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n; i++)
		p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static int
describe_one(const struct ctp_tlv *t, struct ctp_val *o, size_t base, struct ctp_err *err)
{
	const struct ctp_tlv_def *def = t->def;
	struct span sp[MAX_FIELDS];
	unsigned family = 0;
	int rc;

	if ((rc = walk_fields(def, t->val, t->len, sp, t->off + CTP_TLV_HDR_LEN, err)) < 0)
		return rc;
	for (unsigned i = 0; rc == 0 && i < def->nfields; i++) {
		const struct ctp_tlv_field *f = &def->fields[i];
		const uint8_t *p = t->val + sp[i].off;
		struct ctp_addr a;
		char buf[CTP_ADDRSTRLEN];

		switch (f->kind) {
		case CTP_FK_U8: case CTP_FK_U16: case CTP_FK_U32: case CTP_FK_U64:
			rc = ctp_val_set_u64(o, f->name, get_be(p, sp[i].len));
			if (strcmp(f->name, "family") == 0)
				family = (unsigned)get_be(p, sp[i].len);
			break;
		case CTP_FK_RSV:
			/* shown only when a sender broke the rule, so encode keeps it */
			if (sp[i].len <= 8 && get_be(p, sp[i].len))
				rc = ctp_val_set_u64(o, f->name, get_be(p, sp[i].len));
			break;
		case CTP_FK_ADDR:
			(void)ctp_addr_set(&a, family, p);
			rc = ctp_val_set_str(o, f->name, ctp_addr_fmt(&a, buf, sizeof buf));
			break;
		case CTP_FK_ADDRS: {
			struct ctp_val *arr = ctp_val_arr();
			size_t al = ctp_addr_len(family);

			for (size_t k = 0; arr && al && k < sp[i].len / al && rc == 0; k++) {
				(void)ctp_addr_set(&a, family, p + k * al);
				rc = ctp_val_arr_push(arr, ctp_val_str(ctp_addr_fmt(&a, buf, sizeof buf)));
			}
			if (rc == 0)
				rc = ctp_val_obj_set(o, f->name, arr);
			else
				ctp_val_free(arr);
			break;
		}
		case CTP_FK_BYTES: case CTP_FK_REST:
			rc = ctp_val_set_hex(o, f->name, p, sp[i].len);
			break;
		}
	}
	return rc ? ctp_err_set(err, rc, base, 0, "out of memory describing %s", def->name) : 0;
}

int
ctp_tlv_describe(const struct ctp_fpt_def *fd, const uint8_t *data, size_t len, size_t base,
    struct ctp_val *arr, struct ctp_err *err)
{
	struct ctp_tlv t;
	struct ctp_cur c;
	int rc;

	ctp_cur_init(&c, data, len, base);
	while ((rc = ctp_tlv_next(&c, fd, &t, err)) == 1) {
		struct ctp_val *o = ctp_val_obj();

		if (!o)
			return ctp_err_set(err, CTP_E_NOMEM, t.off, 0, "out of memory");
		rc = 0;   /* was 1 from ctp_tlv_next: an unknown TLV was dropped */
		if (t.def)
			rc = ctp_val_set_str(o, "tlv", t.def->name);
		if (rc == 0)
			rc = ctp_val_set_u64(o, "tlv_type", t.type);
		if (rc == 0 && t.def)
			rc = describe_one(&t, o, t.off, err);
		else if (rc == 0)
			rc = ctp_val_set_hex(o, "value", t.val, t.len);
		if (rc == 0)
			rc = ctp_val_arr_push(arr, o);
		else
			ctp_val_free(o);
		if (rc < 0)
			return ctp_err_set(err, rc, t.off, 0, "cannot describe TLV 0x%04x", t.type);
	}
	return rc;
}

/* The count an ADDRS field will have, for writing its count field first. */
static int
addrs_count(const struct ctp_tlv_def *def, const struct ctp_val *o, unsigned countfield,
    uint64_t *n)
{
	for (unsigned i = 0; i < def->nfields; i++) {
		const struct ctp_val *a;

		if (def->fields[i].kind != CTP_FK_ADDRS || (unsigned)def->fields[i].ref != countfield)
			continue;
		if ((a = ctp_val_get(o, def->fields[i].name)) == NULL)
			return 0;
		if (a->kind != CTP_V_ARR)
			return CTP_E_VALUE;
		*n = a->n;
		return 1;
	}
	return 0;
}

static int
build_one(const struct ctp_tlv_def *def, const struct ctp_val *o, struct ctp_wbuf *w,
    size_t idx, struct ctp_err *err)
{
	unsigned family = 0;
	int rc = 0;

	for (unsigned i = 0; rc == 0 && i < def->nfields; i++) {
		const struct ctp_tlv_field *f = &def->fields[i];
		uint64_t v = 0, counted = 0, max;
		struct ctp_addr a;
		const char *s;
		uint8_t *q;
		size_t n;
		int have;

		switch (f->kind) {
		case CTP_FK_U8: case CTP_FK_U16: case CTP_FK_U32: case CTP_FK_U64:
		case CTP_FK_RSV:
			max = f->size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * f->size)) - 1;
			rc = ctp_val_get_u64(o, f->name, max, &v, err);
			have = rc == 0;
			if (rc == CTP_E_NOTFOUND)
				rc = 0;
			if (rc == 0 && (rc = addrs_count(def, o, i, &counted)) == CTP_E_VALUE)
				return ctp_err_set(err, CTP_E_VALUE, idx, 0,
				    "TLV %zu (%s): the addresses counted by %s must be an array",
				    idx, def->name, f->name);
			if (rc == 1) {
				if (have && v != counted)
					return ctp_err_set(err, CTP_E_VALUE, idx, 0,
					    "TLV %zu (%s): %s is %llu but %llu addresses are listed",
					    idx, def->name, f->name, (unsigned long long)v,
					    (unsigned long long)counted);
				v = counted;
				rc = 0;
			}
			if (rc == 0 && counted > max)
				rc = ctp_err_set(err, CTP_E_VALUE, idx, 0, "TLV %zu (%s): too many %s",
				    idx, def->name, f->name);
			if (rc == 0 && strcmp(f->name, "family") == 0)
				family = (unsigned)v;
			if (rc == 0 && (q = ctp_wbuf_reserve(w, f->size)) != NULL)
				put_be(q, f->size, v);
			break;
		case CTP_FK_ADDR:
			if ((n = ctp_addr_len(family)) == 0)
				return ctp_err_set(err, CTP_E_VALUE, idx, 0,
				    "TLV %zu (%s): set family to 4 or 6 before %s", idx, def->name, f->name);
			memset(&a, 0, sizeof a);
			rc = ctp_val_get_str(o, f->name, &s, err);
			if (rc == 0 && (ctp_addr_parse(&a, s) < 0 || a.family != family))
				return ctp_err_set(err, CTP_E_VALUE, idx, 0,
				    "TLV %zu (%s): %s \"%s\" is not an IPv%u address", idx, def->name,
				    f->name, s, family);
			if (rc == CTP_E_NOTFOUND)
				rc = 0;
			ctp_wbuf_bytes(w, a.a, n);
			break;
		case CTP_FK_ADDRS: {
			const struct ctp_val *arr = ctp_val_get(o, f->name);

			if ((n = ctp_addr_len(family)) == 0)
				return ctp_err_set(err, CTP_E_VALUE, idx, 0,
				    "TLV %zu (%s): set family to 4 or 6 before %s", idx, def->name, f->name);
			for (size_t k = 0; arr && k < arr->n; k++) {
				const struct ctp_val *e = arr->items[k];

				if (e->kind != CTP_V_STR || ctp_addr_parse(&a, e->s) < 0 || a.family != family)
					return ctp_err_set(err, CTP_E_VALUE, idx, 0,
					    "TLV %zu (%s): %s[%zu] is not an IPv%u address", idx,
					    def->name, f->name, k, family);
				ctp_wbuf_bytes(w, a.a, n);
			}
			break;
		}
		case CTP_FK_BYTES: case CTP_FK_REST: {
			const struct ctp_val *hv = ctp_val_get(o, f->name);
			size_t cap = f->kind == CTP_FK_BYTES ? f->size : 0xffff, room;

			if (!hv) {
				ctp_wbuf_zero(w, f->kind == CTP_FK_BYTES ? f->size : 0);
				break;
			}
			if (hv->kind != CTP_V_STR)
				return ctp_err_set(err, CTP_E_VALUE, idx, 0,
				    "TLV %zu (%s): %s must be a hex string of at most %zu octets",
				    idx, def->name, f->name, cap);
			/* the text may hold white space (ctp_val.h): slen / 2 is an upper
			 * bound of the octets, and the decoder enforces cap itself */
			room = hv->slen / 2 < cap ? hv->slen / 2 : cap;
			if ((q = ctp_wbuf_reserve(w, room)) == NULL)
				break;
			if (ctp_hex_decode(hv->s, hv->slen, q, room, &n) < 0 ||
			    (f->kind == CTP_FK_BYTES && n != f->size))
				return ctp_err_set(err, CTP_E_VALUE, idx, 0,
				    "TLV %zu (%s): %s must be %s%zu octets of hex", idx, def->name,
				    f->name, f->kind == CTP_FK_BYTES ? "exactly " : "at most ", cap);
			w->len -= room - n;   /* white space in the hex text */
			break;
		}
		}
	}
	return rc;
}

int
ctp_tlv_build(const struct ctp_fpt_def *fd, const struct ctp_val *arr, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	if (!arr || arr->kind != CTP_V_ARR)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "\"tlvs\" must be an array");
	for (size_t i = 0; i < arr->n; i++) {
		const struct ctp_val *o = arr->items[i], *value;
		const struct ctp_tlv_def *def = NULL;
		const char *name;
		uint64_t type;
		size_t at;
		int rc;

		if (o->kind != CTP_V_OBJ)
			return ctp_err_set(err, CTP_E_VALUE, i, 0, "TLV %zu is not an object", i);
		rc = ctp_val_get_u64(o, "tlv_type", 0xffff, &type, err);
		if (rc == 0)
			def = ctp_tlv_def(fd, (uint16_t)type);
		else if (rc == CTP_E_NOTFOUND && ctp_val_get_str(o, "tlv", &name, err) == 0) {
			if ((def = ctp_tlv_def_by_name(fd, name)) == NULL)
				return ctp_err_set(err, CTP_E_VALUE, i, 0,
				    "TLV %zu: %s has no TLV named \"%s\"", i, fd->name, name);
			type = def->type;
		} else
			return ctp_err_set(err, CTP_E_VALUE, i, 0,
			    "TLV %zu: needs \"tlv_type\" or \"tlv\"", i);
		at = ctp_tlv_begin(w, (uint16_t)type);
		if ((value = ctp_val_get(o, "value")) != NULL || !def) {
			uint8_t *q;
			size_t n;

			if (!value || value->kind != CTP_V_STR)
				return ctp_err_set(err, CTP_E_VALUE, i, 0,
				    "TLV %zu (0x%04llx) is unknown: give its \"value\" in hex", i,
				    (unsigned long long)type);
			if ((q = ctp_wbuf_reserve(w, value->slen / 2)) != NULL) {
				if (ctp_hex_decode(value->s, value->slen, q, value->slen / 2, &n) < 0)
					return ctp_err_set(err, CTP_E_VALUE, i, 0,
					    "TLV %zu: \"value\" is not hex", i);
				w->len -= value->slen / 2 - n;
			}
		} else if ((rc = build_one(def, o, w, i, err)) < 0)
			return rc;
		if (w->err)
			break;   /* the header may not even be there: w->len - at is no length */
		if (w->len - at - CTP_TLV_HDR_LEN > 0xffff)
			return ctp_err_set(err, CTP_E_LIMIT, i, 0, "TLV %zu is longer than 65535", i);
		ctp_tlv_end(w, at);
	}
	if (w->err)
		return ctp_err_set(err, w->err, w->cap, 0, "%s TLVs do not fit %zu octets", fd->name,
		    w->cap);
	return 0;
}

size_t
ctp_tlv_begin(struct ctp_wbuf *w, uint16_t type)
{
	size_t start = w->len;

	ctp_wbuf_u16(w, type);
	ctp_wbuf_u16(w, 0);
	return start;
}

void
ctp_tlv_end(struct ctp_wbuf *w, size_t start)
{
	size_t vlen;

	if (w->err)
		return;
	vlen = w->len - start - CTP_TLV_HDR_LEN;
	ctp_put_u16(w->p + start + 2, (uint16_t)vlen);
	ctp_wbuf_zero(w, (4 - vlen % 4) % 4);
}
