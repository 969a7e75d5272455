/*
 * test_msg.c: the CXTP message codec (src/ctp/ctp_msg.c) against RFC 4067
 * 2.3-2.5 and PROFILE 1 and 4.
 *
 * Three kinds of test:
 *   - round trips of all nine messages in both families: encode, decode,
 *     every field equal, encode again, the same octets;
 *   - octets written by hand from the layouts (not from the encoder),
 *     compared byte by byte in both directions;
 *   - every malformed input we could think of, each with its exact CTP_E_*
 *     code and the offset of the first bad octet.
 * Decoders always get a malloc'ed copy of exactly the message's size, so
 * AddressSanitizer sees any read past the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_msg.h"
#include "test.h"

/* ---- helpers -------------------------------------------------------------- */

/* An assertion that says what went wrong; cond is evaluated once. */
#define CHECK(cond, ...) do {                                                \
	int check_ok_ = !!(cond);                                            \
	if (!check_ok_) {                                                    \
		fprintf(stderr, "\n  %s:%d: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
	}                                                                    \
	CU_assertImplementation(check_ok_, __LINE__, #cond, __FILE__, "",    \
	    CU_FALSE);                                                       \
} while (0)

#define A4 "192.0.2.10"
#define A6 "2001:db8::1"

static struct ctp_msg *
msg_new(unsigned type, unsigned family)
{
	struct ctp_msg *m = malloc(sizeof *m);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ctp_msg_init(m, type, family);
	return m;
}

static void
set_addr(struct ctp_addr *a, const char *s)
{
	CU_ASSERT_EQUAL_FATAL(ctp_addr_parse(a, s), 0);
}

static uint8_t *
hex(const char *h, size_t *n)
{
	uint8_t *p = ctp_test_hex(h, n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

/* Decode from an exact-size heap copy; the copy is freed afterwards, so the
 * pointers in m must not be used after this returns. */
static int
decode_copy(struct ctp_msg *m, const uint8_t *p, size_t n, unsigned opts, struct ctp_err *err)
{
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	if (n)
		memcpy(c, p, n);
	ctp_err_clear(err);
	rc = ctp_msg_decode(m, c, n, opts, err);
	free(c);
	return rc;
}

/* Expect decoding to fail with exactly code at offset off. */
#define EXPECT_DEC(p, n, opts, code, off, label) \
	expect_dec(p, n, opts, code, off, label, __LINE__)

static void
expect_dec(const uint8_t *p, size_t n, unsigned opts, int code, size_t off,
    const char *label, int line)
{
	static struct ctp_msg m;
	struct ctp_err err;
	int rc = decode_copy(&m, p, n, opts, &err);
	int ok = rc == code && err.code == code && err.off == off;

	if (!ok)
		fprintf(stderr, "\n  test_msg.c:%d: %s: got %s (err %s) at %zu, want %s at %zu: %s\n",
		    line, label, ctp_errname(rc), ctp_errname(err.code), err.off,
		    ctp_errname(code), off, err.what);
	CU_assertImplementation(ok, (unsigned)line, "decode error code and offset",
	    __FILE__, "", CU_FALSE);
	if (code != 0)
		CU_assertImplementation(err.what[0] != 0, (unsigned)line, "error has text",
		    __FILE__, "", CU_FALSE);
}

static void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t
addr_len(unsigned family)
{
	return family == 4 ? 4 : 16;
}

/* ---- round trips ---------------------------------------------------------- */

static const uint8_t KEY20[20] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
};
static const uint8_t KEY32[32] = {
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
	0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
	0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
};
static const uint8_t DATA36[36] = {
	/* an MLD context: subnet prefix, group (RFC 4067 appendix B) */
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x03,
	0xde, 0xad, 0xbe, 0xef,
};
static const uint8_t DATA5[5] = { 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t DATA4[4] = { 0xaa, 0xbb, 0xcc, 0xdd };

static int
has_field(unsigned type, unsigned field)
{
	const struct ctp_msg_def *d = ctp_msg_def(type);

	return d && memchr(d->fields, (int)field, sizeof d->fields) != NULL;
}

/* The Length a CDB gets on the wire when the encoder chooses it. */
static unsigned
wire_units(const struct ctp_cdb *c, int request)
{
	size_t size = CTP_CDB_HDR_LEN + (c->flags & CTP_CDB_P ? 4 : 0) + c->len;

	if (c->units)
		return c->units;
	if (request && size == CTP_CDB_HDR_LEN)
		return 0;
	return (unsigned)((size + 7) / 8);
}

/*
 * encode(in) -> a; decode(a) -> d; every field of d as in (with the Lengths
 * the encoder chose); encode(d) -> b; a == b.
 */
static void
roundtrip(struct ctp_msg *in, const char *label)
{
	static uint8_t a[70000], b[70000];
	struct ctp_msg *d = malloc(sizeof *d);
	uint8_t *copy;
	struct ctp_err err;
	size_t na = 0, nb = 0, off;
	int request = has_field(in->type, CTP_MF_REQ_CDBS), rc;
	unsigned family = in->mn_prev.family;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	ctp_err_clear(&err);
	rc = ctp_msg_encode(in, a, sizeof a, &na, &err);
	CHECK(rc == 0, "%s: encode: %s %s", label, ctp_errname(rc), err.what);
	if (rc) {
		free(d);
		return;
	}
	CHECK(in->length == na, "%s: m->length %u, %zu written", label, in->length, na);
	CHECK(a[0] == (0x20 | in->type), "%s: first octet 0x%02x", label, a[0]);
	CHECK(((a[2] << 8) | a[3]) == (int)na, "%s: Length field", label);
	CHECK(!!(a[1] & CTP_HDR_V) == (family == 4), "%s: V bit", label);

	copy = malloc(na);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, a, na);
	ctp_err_clear(&err);
	rc = ctp_msg_decode(d, copy, na, 0, &err);
	CHECK(rc == 0, "%s: decode: %s at %zu: %s", label, ctp_errname(rc), err.off, err.what);
	if (rc) {
		free(copy);
		free(d);
		return;
	}
	CU_ASSERT_EQUAL(d->version, 1);
	CU_ASSERT_EQUAL(d->type, in->type);
	CHECK(d->flags == in->flags, "%s: flags 0x%02x vs 0x%02x", label, d->flags, in->flags);
	CU_ASSERT_EQUAL(d->length, na);
	CU_ASSERT_EQUAL(ctp_msg_family(d), family);
	CU_ASSERT(ctp_addr_eq(&d->mn_prev, &in->mn_prev));
	if (has_field(in->type, CTP_MF_AR_ADDR)) {
		CU_ASSERT(ctp_addr_eq(&d->ar, &in->ar));
	} else {
		CU_ASSERT_EQUAL(d->ar.family, 0);
	}
	CU_ASSERT_EQUAL(d->seq, has_field(in->type, CTP_MF_SEQ) ? in->seq : 0);
	CU_ASSERT_EQUAL(d->token, has_field(in->type, CTP_MF_TOKEN) ? in->token : 0);
	CU_ASSERT_EQUAL(d->elapsed, has_field(in->type, CTP_MF_ELAPSED) ? in->elapsed : 0);
	if (has_field(in->type, CTP_MF_KEY)) {
		CU_ASSERT_EQUAL(d->key_alg, in->key_alg);
		CU_ASSERT_EQUAL(d->key_len, in->key_len);
		CU_ASSERT(d->key == copy + 12 + addr_len(family));
		CU_ASSERT(d->key && memcmp(d->key, in->key, in->key_len) == 0);
	} else {
		CU_ASSERT_EQUAL(d->key_len, 0);
		CU_ASSERT_PTR_NULL(d->key);
	}
	if (has_field(in->type, CTP_MF_TAG))
		CU_ASSERT(memcmp(d->tag, in->tag, CTP_TAG_LEN) == 0);

	/* CDBs, at the offsets the layout implies */
	CHECK(d->ncdb == in->ncdb, "%s: %zu CDBs decoded, %zu sent", label, d->ncdb, in->ncdb);
	off = d->cdb_raw ? (size_t)(d->cdb_raw - copy) : 0;
	if (in->ncdb)
		CU_ASSERT(d->cdb_raw != NULL);
	for (size_t i = 0; i < d->ncdb && i < in->ncdb; i++) {
		const struct ctp_cdb *x = &in->cdb[i], *y = &d->cdb[i];
		unsigned units = wire_units(x, request);
		size_t size = units ? units * 8u : 4u, hdr = 4 + (x->flags & CTP_CDB_P ? 4 : 0);

		CHECK(y->fpt == x->fpt, "%s: CDB %zu FPT", label, i);
		CHECK(y->units == units, "%s: CDB %zu units %u, want %u", label, i, y->units, units);
		CHECK(y->flags == x->flags, "%s: CDB %zu flags", label, i);
		CHECK(y->pv == ((x->flags & CTP_CDB_P) ? x->pv : 0), "%s: CDB %zu pv", label, i);
		CHECK(y->off == off, "%s: CDB %zu at %zu, want %zu", label, i, y->off, off);
		CHECK(y->len == size - hdr, "%s: CDB %zu len %zu, want %zu", label, i, y->len,
		    size - hdr);
		CHECK(y->data == copy + off + hdr, "%s: CDB %zu data pointer", label, i);
		if (y->len >= x->len && x->len)
			CHECK(memcmp(y->data, x->data, x->len) == 0, "%s: CDB %zu data", label, i);
		for (size_t k = x->len; k < y->len; k++)
			CHECK(y->data[k] == 0, "%s: CDB %zu padding octet %zu", label, i, k);
		off += size;
	}
	if (has_field(in->type, CTP_MF_CDBS) || has_field(in->type, CTP_MF_REQ_CDBS)) {
		size_t start = has_field(in->type, CTP_MF_REQ_CDBS) ?
		    (has_field(in->type, CTP_MF_AR_ADDR) ? 12 + 2 * addr_len(family) :
		    12 + addr_len(family)) : 0;

		if (start)
			CHECK(d->cdb_raw == copy + start, "%s: cdb_raw at %td, want %zu", label,
			    d->cdb_raw - copy, start);
		CHECK(d->cdb_raw_len == off - (size_t)(d->cdb_raw - copy),
		    "%s: cdb_raw_len %zu", label, d->cdb_raw_len);
	}
	CHECK(d->nstatus == in->nstatus, "%s: %zu status entries, %zu sent", label,
	    d->nstatus, in->nstatus);
	for (size_t i = 0; i < d->nstatus && i < in->nstatus; i++) {
		CU_ASSERT_EQUAL(d->status[i].fpt, in->status[i].fpt);
		CU_ASSERT_EQUAL(d->status[i].code, in->status[i].code);
		CU_ASSERT_EQUAL(d->status[i].reserved, in->status[i].reserved);
	}

	/* and back: the same octets */
	ctp_err_clear(&err);
	rc = ctp_msg_encode(d, b, sizeof b, &nb, &err);
	CHECK(rc == 0 && nb == na && memcmp(a, b, na) == 0,
	    "%s: re-encoding differs (rc %s, %zu vs %zu octets)", label, ctp_errname(rc), nb, na);
	free(copy);
	free(d);
}

static void
fill_common(struct ctp_msg *m, unsigned family)
{
	set_addr(&m->mn_prev, family == 4 ? A4 : A6);
	set_addr(&m->ar, family == 4 ? "198.51.100.1" : "2001:db8:ffff::2");
	m->seq = 0x89abcdef;
	m->token = 0x01020304;
	m->elapsed = 250;
}

static void
test_roundtrip_ctar(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTAR, fam);

		fill_common(m, fam);
		m->flags |= CTP_HDR_X;
		roundtrip(m, "CTAR without CDBs (all contexts)");

		/* 4-octet request CDBs, Length 0 */
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, CTP_FPT_IPSEC_SA, NULL, 0), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, CTP_FPT_MLD, NULL, 0), 0);
		roundtrip(m, "CTAR, request CDBs of 4 octets");

		/* Length >= 1 forms: empty, with data, with a presence vector */
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, CTP_FPT_IPSEC_PROFILE, NULL, 0), 0);
		m->cdb[2].units = 1;
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0x1234, DATA5, sizeof DATA5), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0x4321, NULL, 0), 0);
		m->cdb[4].flags = CTP_CDB_P;
		m->cdb[4].pv = 0xc0000001;
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0x7f7f, DATA4, sizeof DATA4), 0);
		m->cdb[5].units = 3;
		roundtrip(m, "CTAR, request CDBs of both forms");
		m->flags = (uint8_t)(m->flags & ~CTP_HDR_X);
		roundtrip(m, "CTAR, A = 0");
		free(m);
	}
}

static void
test_roundtrip_ctaa(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTAA, fam);

		fill_common(m, fam);
		roundtrip(m, "CTAA, no entries");
		CU_ASSERT_EQUAL(ctp_msg_add_status(m, CTP_FPT_IPSEC_SA, CTP_ST_IPSEC_ALG_UNSUPPORTED), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_status(m, CTP_FPT_MLD, CTP_ST_UNSUPPORTED_FPT), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_status(m, 0xffff, 0xff), 0);
		m->status[2].reserved = 0x5a;   /* kept as received */
		roundtrip(m, "CTAA, three entries");
		free(m);
	}
}

static void
add_full_cdbs(struct ctp_msg *m)
{
	/* MLD context: 4 + 36 = 40 octets, Length 5 */
	CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, CTP_FPT_MLD, DATA36, sizeof DATA36), 0);
	/* with a presence vector: 4 + 4 + 5 -> 16 octets */
	CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0x0100, DATA5, sizeof DATA5), 0);
	m->cdb[m->ncdb - 1].flags = CTP_CDB_P;
	m->cdb[m->ncdb - 1].pv = 0xa5000003;
	/* P with no data at all: 8 octets */
	CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0x0101, NULL, 0), 0);
	m->cdb[m->ncdb - 1].flags = CTP_CDB_P;
	m->cdb[m->ncdb - 1].pv = 0xffffffff;
	/* no data, no P: a header padded to 8 */
	CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0x0102, NULL, 0), 0);
	/* Length chosen larger than needed: padded to exactly 4 x 8 */
	CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0x0103, DATA4, sizeof DATA4), 0);
	m->cdb[m->ncdb - 1].units = 4;
	/* reserved bits of octet 3, kept */
	CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 0xfffe, DATA4, sizeof DATA4), 0);
	m->cdb[m->ncdb - 1].flags = 0x05;
}

static void
test_roundtrip_ctd(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTD, fam);

		fill_common(m, fam);
		m->flags |= CTP_HDR_X;
		roundtrip(m, "CTD, no CDBs");
		add_full_cdbs(m);
		roundtrip(m, "CTD, full CDBs with and without presence vectors");
		m->elapsed = 0xffffffff;
		m->flags = (uint8_t)(m->flags & ~CTP_HDR_X);
		roundtrip(m, "CTD, A = 0");
		free(m);
	}
}

static void
test_roundtrip_pctd(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_PCTD, fam);

		fill_common(m, fam);
		m->flags |= CTP_HDR_X;
		m->key_alg = CTP_KEY_ALG_HMAC_SHA1;
		m->key_len = sizeof KEY20;
		m->key = KEY20;
		roundtrip(m, "PCTD, 20-octet key, no CDBs");
		add_full_cdbs(m);
		roundtrip(m, "PCTD, 20-octet key, CDBs");
		m->key_len = sizeof KEY32;
		m->key = KEY32;
		roundtrip(m, "PCTD, 32-octet key, CDBs");
		free(m);
	}
}

static void
test_roundtrip_ctdr(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTDR, fam);

		fill_common(m, fam);
		m->flags |= CTP_HDR_X;
		roundtrip(m, "CTDR, S = 1, no entries");
		m->flags = (uint8_t)(m->flags & ~CTP_HDR_X);
		/* S = 0: one entry per CDB of the CTD, in CDB order (PROFILE 1.8) */
		CU_ASSERT_EQUAL(ctp_msg_add_status(m, CTP_FPT_IPSEC_SA, CTP_ST_SUCCESS), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_status(m, CTP_FPT_IPSEC_SA, CTP_ST_IPSEC_SPI_CONFLICT), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_status(m, CTP_FPT_IPSEC_PROFILE, CTP_ST_SUCCESS), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_status(m, CTP_FPT_MLD, CTP_ST_MALFORMED_CDB), 0);
		roundtrip(m, "CTDR, S = 0, per-CDB status");
		free(m);
	}
}

static void
test_roundtrip_ctc(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTC, fam);

		fill_common(m, fam);
		roundtrip(m, "CTC");
		m->flags |= 0x15;   /* reserved bits are kept as given */
		roundtrip(m, "CTC with reserved bits");
		free(m);
	}
}

static void
test_roundtrip_ctreq(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTREQ, fam);

		fill_common(m, fam);
		m->token = 0;   /* nAR saw no CTAR yet */
		roundtrip(m, "CT-Req, token 0, no CDBs");
		m->token = 0xfedcba98;
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, CTP_FPT_IPSEC_SA, NULL, 0), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, CTP_FPT_MLD, DATA4, sizeof DATA4), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, CTP_FPT_IPSEC_PROFILE, NULL, 0), 0);
		m->cdb[2].units = 2;
		roundtrip(m, "CT-Req, request CDBs of both forms");
		free(m);
	}
}

static void
test_roundtrip_ctn(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTN, fam);

		fill_common(m, fam);
		for (unsigned i = 0; i < CTP_TAG_LEN; i++)
			m->tag[i] = (uint8_t)(0xf0 - i);
		roundtrip(m, "CTN, tag, no CDBs");
		add_full_cdbs(m);
		roundtrip(m, "CTN, tag and CDBs");
		free(m);
	}
}

static void
test_roundtrip_ctna(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		struct ctp_msg *m = msg_new(CTP_MSG_CTNA, fam);

		fill_common(m, fam);
		for (unsigned i = 0; i < CTP_TAG_LEN; i++)
			m->tag[i] = (uint8_t)(i * 17);
		roundtrip(m, "CTNA");
		free(m);
	}
}

/* Exactly CTP_MAX_CDBS CDBs and status entries travel; one more does not fit
 * the struct (ctp_msg_add_*) and is refused on input (below). */
static void
test_roundtrip_max_cdbs(void)
{
	struct ctp_msg *m = msg_new(CTP_MSG_CTD, 6), *r = msg_new(CTP_MSG_CTAR, 4);
	struct ctp_msg *s = msg_new(CTP_MSG_CTDR, 4);

	fill_common(m, 6);
	fill_common(r, 4);
	fill_common(s, 4);
	for (unsigned i = 0; i < CTP_MAX_CDBS; i++) {
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, (uint16_t)(i + 1), DATA4, sizeof DATA4), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_cdb(r, (uint16_t)(i + 1), NULL, 0), 0);
		CU_ASSERT_EQUAL(ctp_msg_add_status(s, (uint16_t)(i + 1), (uint8_t)i), 0);
	}
	CU_ASSERT_EQUAL(ctp_msg_add_cdb(m, 1, NULL, 0), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(ctp_msg_add_status(s, 1, 0), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(m->ncdb, CTP_MAX_CDBS);
	CU_ASSERT_EQUAL(s->nstatus, CTP_MAX_CDBS);
	roundtrip(m, "CTD with CTP_MAX_CDBS CDBs");
	roundtrip(r, "CTAR with CTP_MAX_CDBS request CDBs");
	roundtrip(s, "CTDR with CTP_MAX_CDBS entries");
	free(m);
	free(r);
	free(s);
}

/* ---- octets written by hand from RFC 4067 2.5 and PROFILE 1, 4 ------------ */

struct hand {
	const char *label;
	const char *hex;
};

/* Compare two octet strings and say where they first differ. */
static void
same_octets(const char *label, const uint8_t *got, size_t ngot, const uint8_t *want, size_t nwant)
{
	size_t i;

	for (i = 0; i < ngot && i < nwant && got[i] == want[i]; i++)
		;
	CHECK(ngot == nwant && i == nwant, "%s: %zu octets (want %zu), first difference at %zu: "
	    "0x%02x, want 0x%02x", label, ngot, nwant, i, i < ngot ? got[i] : 0,
	    i < nwant ? want[i] : 0);
}

/* Encode m, compare with the hand-written octets, decode them, re-encode. */
static void
hand_check(struct ctp_msg *m, const char *label, const char *h)
{
	static uint8_t out[512], guard[512 + 64];
	struct ctp_msg *d = malloc(sizeof *d);
	struct ctp_err err;
	size_t nwant, n = 0, n2 = 0;
	uint8_t *want = hex(h, &nwant), *exact = malloc(nwant);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
	memcpy(exact, want, nwant);
	ctp_err_clear(&err);
	rc = ctp_msg_encode(m, out, sizeof out, &n, &err);
	CHECK(rc == 0, "%s: encode: %s", label, err.what);
	same_octets(label, out, n, want, nwant);

	/* the decoder reads the hand octets; every field as written */
	rc = ctp_msg_decode(d, exact, nwant, 0, &err);
	CHECK(rc == 0, "%s: decode: %s at %zu: %s", label, ctp_errname(rc), err.off, err.what);
	if (rc == 0) {
		CU_ASSERT_EQUAL(d->type, m->type);
		CU_ASSERT_EQUAL(d->flags, m->flags);
		CU_ASSERT(ctp_addr_eq(&d->mn_prev, &m->mn_prev));
		CU_ASSERT_EQUAL(d->seq, m->seq);
		CU_ASSERT_EQUAL(d->token, m->token);
		CU_ASSERT_EQUAL(d->elapsed, m->elapsed);
		CU_ASSERT_EQUAL(d->ncdb, m->ncdb);
		CU_ASSERT_EQUAL(d->nstatus, m->nstatus);
		CU_ASSERT_EQUAL(d->key_len, m->key_len);
		CU_ASSERT(d->key_len == 0 || memcmp(d->key, m->key, d->key_len) == 0);
		CU_ASSERT(memcmp(d->tag, m->tag, CTP_TAG_LEN) == 0);
		for (size_t i = 0; i < d->nstatus && i < m->nstatus; i++) {
			CU_ASSERT_EQUAL(d->status[i].fpt, m->status[i].fpt);
			CU_ASSERT_EQUAL(d->status[i].code, m->status[i].code);
		}
		for (size_t i = 0; i < d->ncdb && i < m->ncdb; i++) {
			CU_ASSERT_EQUAL(d->cdb[i].fpt, m->cdb[i].fpt);
			CU_ASSERT_EQUAL(d->cdb[i].pv, m->cdb[i].pv);
		}
		memset(guard, 0xa5, sizeof guard);
		rc = ctp_msg_encode(d, guard, nwant, &n2, &err);
		CHECK(rc == 0, "%s: re-encode into exactly %zu octets: %s", label, nwant, err.what);
		same_octets(label, guard, n2, want, nwant);
		CU_ASSERT(guard[nwant] == 0xa5);
	}
	free(exact);
	free(want);
	free(d);
}

static void
test_hand_octets(void)
{
	struct ctp_msg *m;
	static const uint8_t tag[16] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	};
	static const uint8_t cdbdata[12] = {
		/* TRANSFER_ID TLV: type 2, length 8, then the id */
		0x00, 0x02, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
	};
	static const uint8_t one55[1] = { 0x55 };
	static const uint8_t req1[4] = { 1, 2, 3, 4 };

	/* CTAR, IPv4, A = 1: Vers 1 | type 1 = 0x21; V|A = 0xc0; Length 32.
	 * prev 192.0.2.10, pAR 198.51.100.1, seq, token, then a 4-octet request
	 * CDB (FPT 0xFF01, Length 0) and an 8-octet one (FPT 1, Length 1). */
	m = msg_new(CTP_MSG_CTAR, 4);
	set_addr(&m->mn_prev, "192.0.2.10");
	set_addr(&m->ar, "198.51.100.1");
	m->flags |= CTP_HDR_X;
	m->seq = 0x12345678;
	m->token = 0xdeadbeef;
	ctp_msg_add_cdb(m, 0xff01, NULL, 0);
	ctp_msg_add_cdb(m, 0x0001, req1, sizeof req1);
	hand_check(m, "CTAR IPv4", "21 c0 00 20  c0 00 02 0a  c6 33 64 01  12 34 56 78"
	    "  de ad be ef  ff 01 00 00  00 01 01 00  01 02 03 04");
	free(m);

	/* CTAA, IPv6: 0x22, V = 0, Length 28; two failure entries. */
	m = msg_new(CTP_MSG_CTAA, 6);
	set_addr(&m->mn_prev, "2001:db8::1");
	ctp_msg_add_status(m, 0xff01, 0x83);
	ctp_msg_add_status(m, 0x0001, 0x02);
	hand_check(m, "CTAA IPv6", "22 00 00 1c  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"
	    "  ff 01 83 00  00 01 02 00");
	free(m);

	/* CTD, IPv4, A = 1, elapsed 1000 ms; CDB FPT 1 Length 1 with 4 data
	 * octets; CDB 0x7F00 with P, pv 0x80000001, 1 data octet, Length 2. */
	m = msg_new(CTP_MSG_CTD, 4);
	set_addr(&m->mn_prev, "10.0.0.1");
	m->flags |= CTP_HDR_X;
	m->elapsed = 1000;
	ctp_msg_add_cdb(m, 0x0001, DATA4, sizeof DATA4);
	ctp_msg_add_cdb(m, 0x7f00, one55, sizeof one55);
	m->cdb[1].flags = CTP_CDB_P;
	m->cdb[1].pv = 0x80000001;
	hand_check(m, "CTD IPv4", "23 c0 00 24  00 00 03 e8  0a 00 00 01"
	    "  00 01 01 00 aa bb cc dd  7f 00 02 80 80 00 00 01 55 00 00 00 00 00 00 00");
	free(m);

	/* PCTD, IPv6, A = 0: elapsed 16, prev, Algorithm 1, Key Length 32, the
	 * key with no padding, a control CDB (TRANSFER_ID), Length 76. */
	m = msg_new(CTP_MSG_PCTD, 6);
	set_addr(&m->mn_prev, "2001:db8::1");
	m->elapsed = 16;
	m->key_alg = 1;
	m->key_len = 32;
	m->key = KEY32;
	ctp_msg_add_cdb(m, 0xff00, cdbdata, sizeof cdbdata);
	hand_check(m, "PCTD IPv6 32-octet key", "24 00 00 4c  00 00 00 10"
	    "  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01  00 01 00 20"
	    "  20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f"
	    "  30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f"
	    "  ff 00 02 00 00 02 00 08 01 02 03 04 05 06 07 08");
	free(m);

	/* PCTD, IPv4, A = 1, 20-octet key, one CDB of Length 1 without data. */
	m = msg_new(CTP_MSG_PCTD, 4);
	set_addr(&m->mn_prev, "192.0.2.10");
	m->flags |= CTP_HDR_X;
	m->key_alg = 1;
	m->key_len = 20;
	m->key = KEY20;
	ctp_msg_add_cdb(m, 0x0001, NULL, 0);
	hand_check(m, "PCTD IPv4 20-octet key", "24 c0 00 2c  00 00 00 00  c0 00 02 0a"
	    "  00 01 00 14  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13"
	    "  00 01 01 00 00 00 00 00");
	free(m);

	/* CTDR, IPv4, S = 0, two entries; and IPv6, S = 1, none. */
	m = msg_new(CTP_MSG_CTDR, 4);
	set_addr(&m->mn_prev, "192.0.2.10");
	ctp_msg_add_status(m, 0xff01, 0x00);
	ctp_msg_add_status(m, 0xff01, 0x83);
	hand_check(m, "CTDR IPv4 S=0", "25 80 00 10  c0 00 02 0a  ff 01 00 00  ff 01 83 00");
	free(m);
	m = msg_new(CTP_MSG_CTDR, 6);
	set_addr(&m->mn_prev, "2001:db8::1");
	m->flags |= CTP_HDR_X;
	hand_check(m, "CTDR IPv6 S=1", "25 40 00 14  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01");
	free(m);

	/* CTC, both families. */
	m = msg_new(CTP_MSG_CTC, 4);
	set_addr(&m->mn_prev, "192.0.2.10");
	hand_check(m, "CTC IPv4", "26 80 00 08  c0 00 02 0a");
	free(m);
	m = msg_new(CTP_MSG_CTC, 6);
	set_addr(&m->mn_prev, "2001:db8::1");
	hand_check(m, "CTC IPv6", "26 00 00 14  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01");
	free(m);

	/* CT-Req, IPv6: prev, seq, token, two 4-octet request CDBs, Length 36. */
	m = msg_new(CTP_MSG_CTREQ, 6);
	set_addr(&m->mn_prev, "2001:db8::1");
	m->seq = 0x12345678;
	m->token = 0xdeadbeef;
	ctp_msg_add_cdb(m, 0xff01, NULL, 0);
	ctp_msg_add_cdb(m, 0x0001, NULL, 0);
	hand_check(m, "CT-Req IPv6", "27 00 00 24  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"
	    "  12 34 56 78  de ad be ef  ff 01 00 00  00 01 00 00");
	free(m);

	/* CTN, IPv4: prev, seq, control CDB (Length 2), 16-octet tag, Length 44. */
	m = msg_new(CTP_MSG_CTN, 4);
	set_addr(&m->mn_prev, "192.0.2.10");
	m->seq = 0x12345678;
	ctp_msg_add_cdb(m, 0xff00, cdbdata, sizeof cdbdata);
	memcpy(m->tag, tag, sizeof tag);
	hand_check(m, "CTN IPv4", "28 80 00 2c  c0 00 02 0a  12 34 56 78"
	    "  ff 00 02 00 00 02 00 08 01 02 03 04 05 06 07 08"
	    "  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff");
	free(m);

	/* CTNA, IPv6: prev, seq, tag, Length 40. */
	m = msg_new(CTP_MSG_CTNA, 6);
	set_addr(&m->mn_prev, "2001:db8::1");
	m->seq = 0xfffffffe;
	memcpy(m->tag, tag, sizeof tag);
	hand_check(m, "CTNA IPv6", "29 00 00 28  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"
	    "  ff ff ff fe  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff");
	free(m);
}

/* ---- malformed input ------------------------------------------------------ */

static void
test_bad_header(void)
{
	uint8_t b[8] = { 0x26, 0x80, 0x00, 0x08, 192, 0, 2, 10 };   /* a valid CTC */
	static const uint8_t empty[1];

	EXPECT_DEC(b, sizeof b, 0, 0, 0, "valid CTC");
	EXPECT_DEC(empty, 0, 0, CTP_E_SHORT, 0, "empty buffer");
	for (size_t n = 1; n < 4; n++)
		EXPECT_DEC(b, n, 0, CTP_E_SHORT, 0, "1..3 octets");

	for (unsigned v = 0; v < 8; v++) {
		b[0] = (uint8_t)(v << 5 | 6);
		EXPECT_DEC(b, sizeof b, 0, v == 1 ? 0 : CTP_E_VERSION, 0, "version 0, 2..7");
	}
	b[0] = 0x20;
	EXPECT_DEC(b, sizeof b, 0, CTP_E_TYPE, 0, "type 0");
	for (unsigned t = 10; t < 32; t++) {
		b[0] = (uint8_t)(0x20 | t);
		EXPECT_DEC(b, sizeof b, 0, CTP_E_TYPE, 0, "type 10..31");
	}
	/* the version is checked before the type */
	b[0] = 0x40 | 31;
	EXPECT_DEC(b, sizeof b, 0, CTP_E_VERSION, 0, "version 2, type 31");
	b[0] = 0x26;

	for (unsigned l = 0; l < 4; l++) {
		put16(b + 2, l);
		EXPECT_DEC(b, sizeof b, 0, CTP_E_LENGTH, 2, "Length < 4");
		EXPECT_DEC(b, sizeof b, CTP_DEC_ICMP, CTP_E_LENGTH, 2, "Length < 4 (ICMP)");
	}
	put16(b + 2, 9);
	EXPECT_DEC(b, sizeof b, 0, CTP_E_LENGTH, 2, "Length 9, 8 received");
	EXPECT_DEC(b, sizeof b, CTP_DEC_ICMP, CTP_E_LENGTH, 2, "Length 9, 8 received (ICMP)");
	put16(b + 2, 0xffff);
	EXPECT_DEC(b, sizeof b, CTP_DEC_ICMP, CTP_E_LENGTH, 2, "Length 65535, 8 received (ICMP)");
	put16(b + 2, 8);
	EXPECT_DEC(b, 7, 0, CTP_E_LENGTH, 2, "Length 8, 7 received");
}

/* ICMP: trailing octets after Length are allowed, a Length beyond them is not. */
static void
test_icmp_trailing(void)
{
	static const uint8_t b[16] = {
		0x26, 0x80, 0x00, 0x08, 192, 0, 2, 10,
		0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef,
	};
	static struct ctp_msg m;
	struct ctp_err err;

	EXPECT_DEC(b, sizeof b, 0, CTP_E_LENGTH, 2, "Length 8, 16 received (SCTP)");
	CU_ASSERT_EQUAL(decode_copy(&m, b, sizeof b, CTP_DEC_ICMP, &err), 0);
	CU_ASSERT_EQUAL(m.length, 8);
	CU_ASSERT_EQUAL(m.type, CTP_MSG_CTC);
	CU_ASSERT_EQUAL(m.mn_prev.a[3], 10);
	for (size_t n = 8; n <= sizeof b; n++)
		EXPECT_DEC(b, n, CTP_DEC_ICMP, 0, 0, "ICMP, 0..8 trailing octets");
	EXPECT_DEC(b, 7, CTP_DEC_ICMP, CTP_E_LENGTH, 2, "ICMP, Length beyond the data");
}

/* A valid message of each type, fixed fields only (and a 20-octet key). */
static size_t
base_msg(uint8_t *b, unsigned type, unsigned family)
{
	struct ctp_msg *m = msg_new(type, family);
	struct ctp_err err;
	size_t n = 0;

	fill_common(m, family);
	m->key_alg = 1;
	m->key_len = 20;
	m->key = KEY20;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_encode(m, b, 512, &n, &err), 0);
	free(m);
	return n;
}

/* Every fixed field cut short (and the Length made to agree). */
static void
test_truncated_fields(void)
{
	struct field { size_t at, len; };
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		size_t A = addr_len(fam);
		for (unsigned type = 1; type <= CTP_MSG_MAX; type++) {
			struct field f[6];
			size_t nf = 0, end;
			uint8_t b[512];
			size_t n = base_msg(b, type, fam);
			char label[96];

			switch (type) {
			case CTP_MSG_CTAR:
				f[nf++] = (struct field){ 4, A };
				f[nf++] = (struct field){ 4 + A, A };
				f[nf++] = (struct field){ 4 + 2 * A, 4 };
				f[nf++] = (struct field){ 8 + 2 * A, 4 };
				break;
			case CTP_MSG_CTAA: case CTP_MSG_CTDR: case CTP_MSG_CTC:
				f[nf++] = (struct field){ 4, A };
				break;
			case CTP_MSG_CTD:
				f[nf++] = (struct field){ 4, 4 };
				f[nf++] = (struct field){ 8, A };
				break;
			case CTP_MSG_PCTD:
				f[nf++] = (struct field){ 4, 4 };
				f[nf++] = (struct field){ 8, A };
				f[nf++] = (struct field){ 8 + A, 4 };    /* Algorithm, Key Length */
				f[nf++] = (struct field){ 12 + A, 20 };  /* the key */
				break;
			case CTP_MSG_CTREQ:
				f[nf++] = (struct field){ 4, A };
				f[nf++] = (struct field){ 4 + A, 4 };
				f[nf++] = (struct field){ 8 + A, 4 };
				break;
			case CTP_MSG_CTN: case CTP_MSG_CTNA:
				f[nf++] = (struct field){ 4, A };
				f[nf++] = (struct field){ 4 + A, 4 };
				f[nf++] = (struct field){ 8 + A, 16 };   /* the tag */
				break;
			}
			end = f[nf - 1].at + f[nf - 1].len;
			CU_ASSERT_EQUAL(n, end);   /* the layout above is the whole message */
			snprintf(label, sizeof label, "%s IPv%u, fixed full", ctp_msg_name(type), fam);
			EXPECT_DEC(b, n, 0, 0, 0, label);
			for (size_t l = 4; l < end; l++) {
				size_t want = 0;

				for (size_t i = 0; i < nf; i++)
					if (l >= f[i].at && l < f[i].at + f[i].len)
						want = f[i].at;
				put16(b + 2, l);
				snprintf(label, sizeof label, "%s IPv%u cut to %zu", ctp_msg_name(type),
				    fam, l);
				EXPECT_DEC(b, l, 0, CTP_E_SHORT, want, label);
			}
			put16(b + 2, n);
		}
	}
}

/* The V bit chooses the address size: an IPv4 message read as IPv6. */
static void
test_family_mismatch_on_wire(void)
{
	uint8_t b[512];
	size_t n = base_msg(b, CTP_MSG_CTC, 4);

	b[1] &= (uint8_t)~CTP_HDR_V;
	EXPECT_DEC(b, n, 0, CTP_E_SHORT, 4, "IPv4 CTC with V = 0");
	n = base_msg(b, CTP_MSG_CTC, 6);
	b[1] |= CTP_HDR_V;
	EXPECT_DEC(b, n, 0, CTP_E_LENGTH, 8, "IPv6 CTC with V = 1: 12 octets left over");
}

/* CTD IPv4: header, elapsed, prev = 12 octets, then the CDB region. */
#define CTD4 "23 c0 00 00 00 00 00 00 0a 00 00 01"

static uint8_t *
ctd4(const char *cdbs, size_t *n)
{
	char h[4096];
	uint8_t *b;

	snprintf(h, sizeof h, "%s %s", CTD4, cdbs);
	b = hex(h, n);
	put16(b + 2, *n);
	return b;
}

static void
test_bad_cdbs(void)
{
	static const char *hdr_cut[] = { "00", "00 01", "00 01 01" };
	uint8_t *b;
	size_t n;

	b = ctd4("00 01 01 00 00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, 0, 0, "CTD with one CDB");
	free(b);
	for (size_t i = 0; i < 3; i++) {
		b = ctd4(hdr_cut[i], &n);
		EXPECT_DEC(b, n, 0, CTP_E_CDB, 12, "CDB header cut short");
		free(b);
	}
	/* a second CDB whose header is cut */
	b = ctd4("00 01 01 00 00 00 00 00  00 02", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 20, "second CDB header cut short");
	free(b);
	/* Length 2 = 16 octets, 8 present */
	b = ctd4("00 01 02 00 00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 14, "CDB Length past the end");
	free(b);
	b = ctd4("00 01 01 00 00 00 00 00  00 02 ff 00 00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 22, "second CDB Length 255 past the end");
	free(b);
	/* Length 1 = 8 octets, 7 present */
	b = ctd4("00 01 01 00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 14, "CDB one octet short");
	free(b);
	/* Length 0 only for request CDBs */
	b = ctd4("00 01 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 14, "CDB Length 0 in a CTD");
	free(b);
	b = ctd4("00 01 01 00 00 00 00 00  00 01 00 00 00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 22, "second CDB Length 0 in a CTD");
	free(b);
	/* FPT 0 is reserved; the status says so */
	b = ctd4("00 00 01 00 00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 12, "FPT 0");
	{
		static struct ctp_msg m;
		struct ctp_err err;

		CU_ASSERT_EQUAL(decode_copy(&m, b, n, 0, &err), CTP_E_CDB);
		CU_ASSERT_EQUAL(err.status, CTP_ST_UNSUPPORTED_FPT);
	}
	free(b);
	/* P = 1 with Length 1: room for the presence vector and nothing else */
	b = ctd4("00 01 01 80 12 34 56 78", &n);
	EXPECT_DEC(b, n, 0, 0, 0, "P with only the presence vector");
	free(b);
}

/* CTAR IPv4: 20 fixed octets, then request CDBs. */
#define CTAR4 "21 c0 00 00 c0 00 02 0a c6 33 64 01 12 34 56 78 de ad be ef"

static uint8_t *
ctar4(const char *cdbs, size_t *n)
{
	char h[4096];
	uint8_t *b;

	snprintf(h, sizeof h, "%s %s", CTAR4, cdbs);
	b = hex(h, n);
	put16(b + 2, *n);
	return b;
}

static void
test_bad_request_cdbs(void)
{
	static struct ctp_msg m;
	struct ctp_err err;
	uint8_t *b;
	size_t n;

	b = ctar4("ff 01 00 00  00 01 01 00 00 00 00 00  ff 02 00 00", &n);
	CU_ASSERT_EQUAL(decode_copy(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(m.ncdb, 3);
	CU_ASSERT_EQUAL(m.cdb[0].units, 0);
	CU_ASSERT_EQUAL(m.cdb[0].len, 0);
	CU_ASSERT_EQUAL(m.cdb[1].units, 1);
	CU_ASSERT_EQUAL(m.cdb[1].len, 4);
	CU_ASSERT_EQUAL(m.cdb[2].off, 32);
	CU_ASSERT_EQUAL(m.cdb_raw_len, 16);
	free(b);
	b = ctar4("ff 01", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 20, "request CDB header cut short");
	free(b);
	b = ctar4("ff 01 02 00 00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 22, "request CDB Length 2, 8 octets");
	free(b);
	b = ctar4("00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 20, "request CDB FPT 0");
	free(b);
	/* P set in a 4-octet request CDB: no room for the presence vector */
	b = ctar4("ff 01 00 80", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 23, "P set, Length 0");
	free(b);
	b = ctar4("ff 01 00 00  ff 02 00 80  00 00 00 00", &n);
	EXPECT_DEC(b, n, 0, CTP_E_CDB, 27, "P set, Length 0, second CDB");
	free(b);
}

/* PCTD IPv4: header, elapsed, prev, Algorithm at 12, Key Length at 14, key at 16. */
static void
test_bad_key(void)
{
	uint8_t b[512];
	size_t n = base_msg(b, CTP_MSG_PCTD, 4);
	static const unsigned bad_alg[] = { 0, 2, 0xffff };
	static const unsigned bad_len[] = { 0, 16, 64, 19, 21, 31, 33, 0xffff };

	CU_ASSERT_EQUAL(n, 36);
	EXPECT_DEC(b, n, 0, 0, 0, "PCTD, 20-octet key");
	for (size_t i = 0; i < sizeof bad_alg / sizeof bad_alg[0]; i++) {
		put16(b + 12, bad_alg[i]);
		EXPECT_DEC(b, n, 0, CTP_E_VALUE, 12, "key algorithm != 1");
	}
	put16(b + 12, 1);
	for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
		put16(b + 14, bad_len[i]);
		EXPECT_DEC(b, n, 0, CTP_E_VALUE, 14, "key length not 20 or 32");
	}
	/* 32 announced, 20 present */
	put16(b + 14, 32);
	EXPECT_DEC(b, n, 0, CTP_E_SHORT, 16, "32-octet key past the end");
	/* 32 announced and present: fine, then a CDB that the key swallowed */
	{
		uint8_t c[64];

		memset(c, 0, sizeof c);
		memcpy(c, b, 16);
		put16(c + 2, 48);
		EXPECT_DEC(c, 48, 0, 0, 0, "32-octet key");
		put16(c + 2, 47);
		EXPECT_DEC(c, 47, 0, CTP_E_SHORT, 16, "32-octet key, one octet short");
	}
	/* IPv6: Algorithm at 24 */
	n = base_msg(b, CTP_MSG_PCTD, 6);
	put16(b + 24, 3);
	EXPECT_DEC(b, n, 0, CTP_E_VALUE, 24, "IPv6 key algorithm 3");
	put16(b + 24, 1);
	put16(b + 26, 16);
	EXPECT_DEC(b, n, 0, CTP_E_VALUE, 26, "IPv6 key length 16");
}

/* CTAA / CTDR: status entries are 4 octets each. */
static void
test_bad_status(void)
{
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		for (unsigned type = CTP_MSG_CTAA; type <= CTP_MSG_CTDR; type += 3) {
			uint8_t b[2048];
			size_t n = base_msg(b, type, fam), A = addr_len(fam);

			memset(b + n, 0x11, sizeof b - n);
			for (size_t extra = 0; extra <= 12; extra++) {
				put16(b + 2, n + extra);
				if (extra % 4 == 0) {
					EXPECT_DEC(b, n + extra, 0, 0, 0, "whole status entries");
				} else {
					EXPECT_DEC(b, n + extra, 0, CTP_E_LENGTH, 4 + A + extra / 4 * 4,
					    "status region not a multiple of 4");
				}
			}
			/* CTP_MAX_CDBS entries fit the struct; one more is refused */
			put16(b + 2, n + 4 * CTP_MAX_CDBS);
			EXPECT_DEC(b, n + 4 * CTP_MAX_CDBS, 0, 0, 0, "CTP_MAX_CDBS entries");
			put16(b + 2, n + 4 * CTP_MAX_CDBS + 4);
			EXPECT_DEC(b, n + 4 * CTP_MAX_CDBS + 4, 0, CTP_E_LIMIT,
			    4 + A + 4 * CTP_MAX_CDBS, "more than CTP_MAX_CDBS entries");
		}
	}
}

static void
test_bad_ctn_ctc(void)
{
	uint8_t b[512];
	size_t n;

	/* CTN IPv4: prev, seq, then CDBs and a tag; 15 octets left */
	n = base_msg(b, CTP_MSG_CTN, 4);
	CU_ASSERT_EQUAL(n, 28);
	put16(b + 2, 27);
	EXPECT_DEC(b, 27, 0, CTP_E_SHORT, 12, "CTN shorter than its tag");
	put16(b + 2, 12);
	EXPECT_DEC(b, 12, 0, CTP_E_SHORT, 12, "CTN without a tag");
	/* a CDB, then 15 octets of tag: the CDB runs into the tag */
	{
		uint8_t *c;
		size_t m;

		c = hex("28 80 00 23 c0 00 02 0a 12 34 56 78  00 01 01 00 00 00 00 00"
		    "  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee", &m);
		CU_ASSERT_EQUAL(m, 35);
		EXPECT_DEC(c, m, 0, CTP_E_CDB, 14, "CTN with a CDB and a 15-octet tag");
		free(c);
		c = hex("28 80 00 24 c0 00 02 0a 12 34 56 78  00 01 01 00 00 00 00 00"
		    "  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff", &m);
		EXPECT_DEC(c, m, 0, 0, 0, "CTN with a CDB and a tag");
		free(c);
		/* CTN CDBs are full CDBs: Length 0 refused */
		c = hex("28 80 00 20 c0 00 02 0a 12 34 56 78  00 01 00 00"
		    "  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff", &m);
		EXPECT_DEC(c, m, 0, CTP_E_CDB, 14, "CTN with a CDB of Length 0");
		free(c);
	}
	/* CTNA: nothing after the tag */
	n = base_msg(b, CTP_MSG_CTNA, 6);
	memset(b + n, 0, 8);
	put16(b + 2, n + 4);
	EXPECT_DEC(b, n + 4, 0, CTP_E_LENGTH, n, "trailing octets after a CTNA");

	/* CTC: nothing after the address */
	for (unsigned fam = 4; fam <= 6; fam += 2) {
		n = base_msg(b, CTP_MSG_CTC, fam);
		for (size_t extra = 1; extra <= 8; extra++) {
			memset(b + n, 0, extra);
			put16(b + 2, n + extra);
			EXPECT_DEC(b, n + extra, 0, CTP_E_LENGTH, n, "trailing octets after a CTC");
		}
	}
}

/* CTP_MAX_CDBS CDBs are accepted, one more is refused at that CDB. */
static void
test_max_cdbs(void)
{
	size_t cap = 12 + 8 * (CTP_MAX_CDBS + 1), n;
	uint8_t *b = calloc(1, cap);
	static const uint8_t cdb[8] = { 0x00, 0x01, 0x01, 0x00, 0, 0, 0, 0 };
	static struct ctp_msg m;
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, (const uint8_t[]){ 0x23, 0xc0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1 }, 12);
	for (size_t i = 0; i <= CTP_MAX_CDBS; i++)
		memcpy(b + 12 + 8 * i, cdb, sizeof cdb);
	n = 12 + 8 * CTP_MAX_CDBS;
	put16(b + 2, n);
	CU_ASSERT_EQUAL(decode_copy(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(m.ncdb, CTP_MAX_CDBS);
	n += 8;
	put16(b + 2, n);
	EXPECT_DEC(b, n, 0, CTP_E_LIMIT, 12 + 8 * CTP_MAX_CDBS, "CTD with CTP_MAX_CDBS + 1 CDBs");
	free(b);

	/* request CDBs of 4 octets in a CTAR */
	cap = 20 + 4 * (CTP_MAX_CDBS + 1);
	b = calloc(1, cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, (const uint8_t[]){ 0x21, 0x80, 0, 0, 192, 0, 2, 10, 192, 0, 2, 1 }, 12);
	for (size_t i = 0; i <= CTP_MAX_CDBS; i++)
		memcpy(b + 20 + 4 * i, (const uint8_t[]){ 0xff, 0x01, 0, 0 }, 4);
	n = 20 + 4 * CTP_MAX_CDBS;
	put16(b + 2, n);
	EXPECT_DEC(b, n, 0, 0, 0, "CTAR with CTP_MAX_CDBS request CDBs");
	n += 4;
	put16(b + 2, n);
	EXPECT_DEC(b, n, 0, CTP_E_LIMIT, 20 + 4 * CTP_MAX_CDBS, "CTAR with CTP_MAX_CDBS + 1");
	free(b);
}

/* Decoding into a struct that held a bigger message leaves nothing behind. */
static void
test_decode_resets(void)
{
	static struct ctp_msg m;
	struct ctp_err err;
	uint8_t *b, c[512];
	size_t n, nc;

	b = ctar4("ff 01 00 00  00 01 01 00 00 00 00 00", &n);
	CU_ASSERT_EQUAL(decode_copy(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(m.ncdb, 2);
	free(b);
	nc = base_msg(c, CTP_MSG_CTC, 6);
	CU_ASSERT_EQUAL(decode_copy(&m, c, nc, 0, &err), 0);
	CU_ASSERT_EQUAL(m.ncdb, 0);
	CU_ASSERT_EQUAL(m.nstatus, 0);
	CU_ASSERT_EQUAL(m.seq, 0);
	CU_ASSERT_EQUAL(m.token, 0);
	CU_ASSERT_EQUAL(m.ar.family, 0);
	CU_ASSERT_PTR_NULL(m.cdb_raw);
	CU_ASSERT_EQUAL(m.cdb_raw_len, 0);
	CU_ASSERT_PTR_NULL(m.key);
}

/* ---- encoding errors ------------------------------------------------------ */

static void
test_encode_cdb_too_big(void)
{
	static uint8_t out[256];
	struct ctp_msg *m = msg_new(CTP_MSG_CTD, 4);
	struct ctp_err err;
	size_t n = 0;

	fill_common(m, 4);
	ctp_msg_add_cdb(m, 0x0001, DATA4, sizeof DATA4);   /* fits Length 1 exactly */
	m->cdb[0].units = 1;
	ctp_msg_add_cdb(m, 0x0002, DATA5, sizeof DATA5);   /* 9 octets in Length 1 */
	m->cdb[1].units = 1;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(err.code, CTP_E_LIMIT);
	CU_ASSERT_EQUAL(err.off, 20);   /* the second CDB */
	/* with P, the presence vector counts too: 4 + 4 + 4 > 8 */
	m->cdb[1].data = DATA4;
	m->cdb[1].len = sizeof DATA4;
	m->cdb[1].flags = CTP_CDB_P;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(err.off, 20);
	m->cdb[1].units = 2;
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), 0);
	free(m);

	/* a CDB larger than 255 units can never be written */
	{
		static uint8_t big[2040], buf[4096];
		struct ctp_wbuf w;
		size_t at;

		ctp_wbuf_init(&w, buf, sizeof buf);
		at = ctp_cdb_begin(&w, 0x0001, 0, 0);
		ctp_wbuf_bytes(&w, big, 2036);
		CU_ASSERT_EQUAL(ctp_cdb_end(&w, at, 0, 0), 0);
		CU_ASSERT_EQUAL(buf[2], 255);
		CU_ASSERT_EQUAL(w.len, 2040);
		ctp_wbuf_init(&w, buf, sizeof buf);
		at = ctp_cdb_begin(&w, 0x0001, 0, 0);
		ctp_wbuf_bytes(&w, big, 2037);
		CU_ASSERT_EQUAL(ctp_cdb_end(&w, at, 0, 0), CTP_E_LIMIT);
	}
}

/* A message whose encoding exceeds the 16-bit Length. */
static void
test_encode_too_long(void)
{
	static uint8_t data[2036];
	struct ctp_msg *m = msg_new(CTP_MSG_CTD, 4);
	size_t cap = 12 + 40 * 2040, n = 0;
	uint8_t *out = malloc(cap);
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	fill_common(m, 4);
	for (int i = 0; i < 40; i++)
		ctp_msg_add_cdb(m, 0x0001, data, sizeof data);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, cap, &n, &err), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(err.off, CTP_MAX_MSG_LEN);
	m->ncdb = 32;   /* 12 + 32 x 2040 = 65292 fits */
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, cap, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 65292);
	free(out);
	free(m);
}

/* Every buffer size short of the message: CTP_E_NOSPACE, nothing written past
 * the end (a guard region follows the buffer). */
static void
test_encode_nospace(void)
{
	struct ctp_msg *msgs[4];
	uint8_t full[512];

	msgs[0] = msg_new(CTP_MSG_CTAR, 6);
	msgs[1] = msg_new(CTP_MSG_PCTD, 4);
	msgs[2] = msg_new(CTP_MSG_CTDR, 6);
	msgs[3] = msg_new(CTP_MSG_CTN, 4);
	for (int i = 0; i < 4; i++) {
		fill_common(msgs[i], msgs[i]->mn_prev.family);
		msgs[i]->key_alg = 1;
		msgs[i]->key_len = 32;
		msgs[i]->key = KEY32;
		ctp_msg_add_status(msgs[i], 0xff01, 0x81);
		ctp_msg_add_cdb(msgs[i], 0xff01, NULL, 0);
		ctp_msg_add_cdb(msgs[i], 0x0001, DATA36, sizeof DATA36);
		ctp_msg_add_cdb(msgs[i], 0x0002, DATA5, sizeof DATA5);
		msgs[i]->cdb[2].flags = CTP_CDB_P;
	}
	for (int i = 0; i < 4; i++) {
		struct ctp_err err;
		size_t len = 0;

		ctp_err_clear(&err);
		CU_ASSERT_EQUAL_FATAL(ctp_msg_encode(msgs[i], full, sizeof full, &len, &err), 0);
		for (size_t cap = 0; cap < len; cap++) {
			uint8_t *buf = malloc(cap + 64);
			size_t out = 12345;
			int rc, intact = 1;

			CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
			memset(buf, 0xa5, cap + 64);
			ctp_err_clear(&err);
			rc = ctp_msg_encode(msgs[i], buf, cap, &out, &err);
			for (size_t k = cap; k < cap + 64; k++)
				intact &= buf[k] == 0xa5;
			CHECK(rc == CTP_E_NOSPACE && err.code == CTP_E_NOSPACE && err.off == cap,
			    "%s into %zu octets: %s at %zu (%s)", ctp_msg_name(msgs[i]->type), cap,
			    ctp_errname(rc), err.off, err.what);
			CHECK(intact, "%s into %zu octets: wrote past the end",
			    ctp_msg_name(msgs[i]->type), cap);
			CU_ASSERT_EQUAL(out, 12345);   /* *outlen untouched on failure */
			free(buf);
		}
		{
			uint8_t *buf = malloc(len + 64);
			size_t out = 0;

			CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
			memset(buf, 0xa5, len + 64);
			CU_ASSERT_EQUAL(ctp_msg_encode(msgs[i], buf, len, &out, &err), 0);
			CU_ASSERT_EQUAL(out, len);
			CU_ASSERT(memcmp(buf, full, len) == 0);
			CU_ASSERT_EQUAL(buf[len], 0xa5);
			free(buf);
		}
		free(msgs[i]);
	}
}

static void
test_encode_bad_args(void)
{
	static uint8_t out[256];
	struct ctp_msg *m = msg_new(CTP_MSG_CTAR, 4);
	struct ctp_err err;
	size_t n = 0;

	fill_common(m, 4);
	set_addr(&m->ar, "2001:db8::9");   /* IPv6 AR in an IPv4 CTAR */
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.off, 8);
	m->ar.family = 0;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.off, 8);
	/* IPv6 message, IPv4 AR */
	fill_common(m, 6);
	set_addr(&m->ar, "192.0.2.1");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.off, 20);
	/* no family at all */
	m->mn_prev.family = 0;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.off, 0);
	/* the AR address is only in a CTAR: its family does not matter elsewhere */
	fill_common(m, 4);
	m->type = CTP_MSG_CTC;
	m->ar.family = 6;
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 8);
	/* V follows the addresses, whatever flags said */
	m->flags = 0;
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), 0);
	CU_ASSERT_EQUAL(out[1], CTP_HDR_V);
	/* unknown types */
	m->type = 0;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_TYPE);
	m->type = 10;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_TYPE);
	/* a key length without a key */
	m->type = CTP_MSG_PCTD;
	m->key_alg = 1;
	m->key_len = 20;
	m->key = NULL;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_encode(m, out, sizeof out, &n, &err), CTP_E_INVAL);
	CU_ASSERT_EQUAL(err.off, 12);
	free(m);
}

/* ctp_cdb_begin / ctp_cdb_end directly: the Lengths they choose. */
static void
test_cdb_writer(void)
{
	uint8_t buf[64];
	struct ctp_wbuf w;
	size_t at;

	ctp_wbuf_init(&w, buf, sizeof buf);
	at = ctp_cdb_begin(&w, 0xff01, 0, 0);
	CU_ASSERT_EQUAL(ctp_cdb_end(&w, at, 0, 1), 0);
	CU_ASSERT_EQUAL(w.len, 4);
	CU_ASSERT(memcmp(buf, "\xff\x01\x00\x00", 4) == 0);
	/* the same as a full CDB: padded to 8, Length 1 */
	ctp_wbuf_init(&w, buf, sizeof buf);
	at = ctp_cdb_begin(&w, 0xff01, 0, 0);
	CU_ASSERT_EQUAL(ctp_cdb_end(&w, at, 0, 0), 0);
	CU_ASSERT_EQUAL(w.len, 8);
	CU_ASSERT(memcmp(buf, "\xff\x01\x01\x00\x00\x00\x00\x00", 8) == 0);
	/* a request CDB asked to be Length 2 */
	ctp_wbuf_init(&w, buf, sizeof buf);
	at = ctp_cdb_begin(&w, 0x0001, CTP_CDB_P, 0x01020304);
	CU_ASSERT_EQUAL(ctp_cdb_end(&w, at, 2, 1), 0);
	CU_ASSERT_EQUAL(w.len, 16);
	CU_ASSERT(memcmp(buf, "\x00\x01\x02\x80\x01\x02\x03\x04\0\0\0\0\0\0\0\0", 16) == 0);
	/* a second CDB starts where the first ended */
	at = ctp_cdb_begin(&w, 0x0002, 0, 0);
	CU_ASSERT_EQUAL(at, 16);
	ctp_wbuf_u8(&w, 0x77);
	CU_ASSERT_EQUAL(ctp_cdb_end(&w, at, 0, 0), 0);
	CU_ASSERT_EQUAL(w.len, 24);
	CU_ASSERT_EQUAL(buf[18], 1);
	CU_ASSERT_EQUAL(buf[20], 0x77);
	/* no room for the padding */
	ctp_wbuf_init(&w, buf, 6);
	at = ctp_cdb_begin(&w, 0x0002, 0, 0);
	ctp_wbuf_u8(&w, 0x77);
	CU_ASSERT_EQUAL(ctp_cdb_end(&w, at, 0, 0), CTP_E_NOSPACE);
}

/* ctp_cdb_next over a region, as the dissector tests use it. */
static void
test_cdb_next(void)
{
	static const uint8_t r[] = {
		0xff, 0x01, 0x00, 0x00,                          /* request, 4 octets */
		0x00, 0x01, 0x01, 0x80, 0xca, 0xfe, 0xba, 0xbe,  /* P, pv, no data */
	};
	struct ctp_cur c;
	struct ctp_cdb cdb;
	struct ctp_err err;

	ctp_err_clear(&err);
	ctp_cur_init(&c, r, sizeof r, 100);
	CU_ASSERT_EQUAL(ctp_cdb_next(&c, 1, &cdb, &err), 1);
	CU_ASSERT_EQUAL(cdb.fpt, 0xff01);
	CU_ASSERT_EQUAL(cdb.units, 0);
	CU_ASSERT_EQUAL(cdb.off, 100);
	CU_ASSERT_EQUAL(cdb.len, 0);
	CU_ASSERT_EQUAL(ctp_cdb_next(&c, 1, &cdb, &err), 1);
	CU_ASSERT_EQUAL(cdb.fpt, 1);
	CU_ASSERT_EQUAL(cdb.pv, 0xcafebabe);
	CU_ASSERT_EQUAL(cdb.off, 104);
	CU_ASSERT_EQUAL(cdb.len, 0);
	CU_ASSERT(cdb.data == r + sizeof r);
	CU_ASSERT_EQUAL(ctp_cdb_next(&c, 1, &cdb, &err), 0);
	/* the same region as full CDBs: the first has Length 0 */
	ctp_cur_init(&c, r, sizeof r, 100);
	CU_ASSERT_EQUAL(ctp_cdb_next(&c, 0, &cdb, &err), CTP_E_CDB);
	CU_ASSERT_EQUAL(err.off, 102);
	CU_ASSERT_EQUAL(err.status, CTP_ST_MALFORMED_CDB);
}

CTP_TEST_SUITE(msg, NULL, NULL,
    CTP_TEST(test_roundtrip_ctar),
    CTP_TEST(test_roundtrip_ctaa),
    CTP_TEST(test_roundtrip_ctd),
    CTP_TEST(test_roundtrip_pctd),
    CTP_TEST(test_roundtrip_ctdr),
    CTP_TEST(test_roundtrip_ctc),
    CTP_TEST(test_roundtrip_ctreq),
    CTP_TEST(test_roundtrip_ctn),
    CTP_TEST(test_roundtrip_ctna),
    CTP_TEST(test_roundtrip_max_cdbs),
    CTP_TEST(test_hand_octets),
    CTP_TEST(test_bad_header),
    CTP_TEST(test_icmp_trailing),
    CTP_TEST(test_truncated_fields),
    CTP_TEST(test_family_mismatch_on_wire),
    CTP_TEST(test_bad_cdbs),
    CTP_TEST(test_bad_request_cdbs),
    CTP_TEST(test_bad_key),
    CTP_TEST(test_bad_status),
    CTP_TEST(test_bad_ctn_ctc),
    CTP_TEST(test_max_cdbs),
    CTP_TEST(test_decode_resets),
    CTP_TEST(test_encode_cdb_too_big),
    CTP_TEST(test_encode_too_long),
    CTP_TEST(test_encode_nospace),
    CTP_TEST(test_encode_bad_args),
    CTP_TEST(test_cdb_writer),
    CTP_TEST(test_cdb_next),
)
