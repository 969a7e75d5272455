/*
 * test_tlv.c: TLV lists (PROFILE 6) against the policy tables generated from
 * proto/cxtp.def: ctp_tlv_next, ctp_tlv_check, ctp_tlv_describe and
 * ctp_tlv_build, with no plugin loaded.
 *
 * The lists are written octet by octet here; the generic tests walk the
 * generated tables so that a row added to proto/cxtp.def is covered by its
 * length limits and occurrence rule without editing this file (a sample
 * value per TLV is needed, and a missing one fails loudly).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_tlv.h"
#include "ctp/ctp_val.h"
#include "test.h"

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

/* ---- building lists by hand ---------------------------------------------- */

struct list {
	uint8_t b[8192];
	size_t  n;
};

static size_t
hexto(uint8_t *out, size_t cap, const char *h)
{
	size_t n;
	uint8_t *p = ctp_test_hex(h, &n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_FATAL(n <= cap);
	memcpy(out, p, n);
	free(p);
	return n;
}

/* Append raw octets. */
static void
raw(struct list *l, const char *h)
{
	l->n += hexto(l->b + l->n, sizeof l->b - l->n, h);
}

/* Append a TLV: type, length of the value, value, zero padding; returns the
 * offset of its header. */
static size_t
tlv(struct list *l, unsigned type, const char *value)
{
	size_t at = l->n, vlen;

	CU_ASSERT_FATAL(l->n + 4 <= sizeof l->b);
	vlen = hexto(l->b + at + 4, sizeof l->b - at - 4, value);
	l->b[at] = (uint8_t)(type >> 8);
	l->b[at + 1] = (uint8_t)type;
	l->b[at + 2] = (uint8_t)(vlen >> 8);
	l->b[at + 3] = (uint8_t)vlen;
	l->n = at + 4 + vlen;
	while (l->n % 4)
		l->b[l->n++] = 0;
	return at;
}

/* A TLV with a value of n octets of 0x01 (for length limits). */
static size_t
tlv_n(struct list *l, unsigned type, size_t n)
{
	size_t at = l->n;

	CU_ASSERT_FATAL(l->n + 4 + n + 3 <= sizeof l->b);
	l->b[at] = (uint8_t)(type >> 8);
	l->b[at + 1] = (uint8_t)type;
	l->b[at + 2] = (uint8_t)(n >> 8);
	l->b[at + 3] = (uint8_t)n;
	memset(l->b + at + 4, 0x01, n);
	l->n = at + 4 + n;
	while (l->n % 4)
		l->b[l->n++] = 0;
	return at;
}

#define BASE 100   /* where the list pretends to sit in its message */

/* Check the list; expect code at offset off (both exact). */
#define EXPECT_CHECK(fd, l, code, off, label) \
	expect_check(fd, l, code, off, label, __LINE__)

static struct ctp_err last_err;

static void
expect_check(const struct ctp_fpt_def *fd, const struct list *l, int code, size_t off,
    const char *label, int line)
{
	uint8_t *copy = malloc(l->n ? l->n : 1);
	struct ctp_err err;
	int rc, ok;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, l->b, l->n);
	ctp_err_clear(&err);
	rc = ctp_tlv_check(fd, copy, l->n, BASE, &err);
	ok = rc == code && err.code == code && (code == 0 || err.off == off);
	if (!ok)
		fprintf(stderr, "\n  test_tlv.c:%d: %s: got %s (err %s) at %zu, want %s at %zu: %s\n",
		    line, label, ctp_errname(rc), ctp_errname(err.code), err.off,
		    ctp_errname(code), off, err.what);
	CU_assertImplementation(ok, (unsigned)line, "TLV check code and offset", __FILE__, "",
	    CU_FALSE);
	last_err = err;
	free(copy);
}

/* ---- a valid sample value for every TLV of the tables --------------------- */

struct sample {
	uint16_t    fpt;
	uint16_t    type;
	const char *value;
};

#define K32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define V6A "20010db8000000000000000000000001"
#define V6B "20010db8000000000000000000000002"

static const struct sample samples[] = {
	{ 0xff00, 0x0001, K32 },
	{ 0xff00, 0x0002, "0102030405060708" },
	/* STATUS: refused, authorization failed */
	{ 0xff00, 0x0003, "03 000000" },
	/* REQ_SEQ */
	{ 0xff00, 0x0004, "12345678" },
	/* SA_ID: SPI, ESP, tunnel, in, ESN | anti-replay */
	{ 0xff01, 0x8001, "c0ffee01 32 02 01 05" },
	/* ENDPOINTS IPv4: type 3, local moves */
	{ 0xff01, 0x8002, "04 03 01 00 c0000201 c6336401" },
	/* SELECTOR IPv4 UDP 10.0.0.0/24 -> 10.1.0.0/16, ports */
	{ 0xff01, 0x0003, "04 11 18 10 0a000000 0a010000 0000 ffff 01f4 01f4" },
	/* ENCR AES-GCM-16, 256 bits + 4 octets of salt */
	{ 0xff01, 0x8004, "0014 0100 " K32 " a1a2a3a4" },
	/* INTEG HMAC-SHA2-256-128, 32-octet key */
	{ 0xff01, 0x8005, "000c 0000 " K32 },
	{ 0xff01, 0x8006, "0000000000004001 00004000" },
	/* REPLAY window 64, highest 1000, 8-octet bitmap */
	{ 0xff01, 0x8007, "00000040 00000000000003e8 ffffffff00000001" },
	{ 0xff01, 0x0008, "0000000100000000 0000000200000000 0000000000100000 0000000000200000"
	    " 00000e10 00001c20 00000708 00000e10" },
	{ 0xff01, 0x0009, "0000000000123456 0000000000000789 00000000000f4240 0000000000000000" },
	{ 0xff01, 0x000a, "00000032" },
	{ 0xff01, 0x000b, "01 00 1194 1194 0000" },
	{ 0xff01, 0x000c, "05dc 02 00" },
	{ 0xff01, 0x000d, "8000000000000001 01 000000" },
	{ 0xff01, 0x000e, "01 000000 67772e6578616d706c65" },      /* FQDN gw.example */
	{ 0xff01, 0x000f, "00000001 0a0b0c" },
	{ 0xff01, 0x0010, "00000007 00 02 02 00" },
	{ 0xff01, 0x0011, "06 000000 " V6A },
	{ 0xff01, 0x0012, "00000010 00000020 000000ff 00000003" },
	/* PREV_SPI: the SPI the MN knew (proto/DECISIONS.md 35) */
	{ 0xff01, 0x0013, "c0ffee02" },
	{ 0xff02, 0x0001, "0014 0100" },
	{ 0xff02, 0x0002, "000c 0000" },
	/* PATH data plane, IPv4, two nodes */
	{ 0xff02, 0x0003, "01 04 02 00 c0000201 c0000202" },
	{ 0xff02, 0x0004, "02 000000 616c696365406578616d706c652e636f6d" },   /* alice@example.com */
};

static const char *
sample_of(uint16_t fpt, uint16_t type)
{
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
		if (samples[i].fpt == fpt && samples[i].type == type)
			return samples[i].value;
	return NULL;
}

/* The required TLVs of fd except skip, each once, at the start of l. */
static void
add_required(struct list *l, const struct ctp_fpt_def *fd, uint16_t skip)
{
	for (size_t i = 0; i < fd->ntlvs; i++)
		if (fd->tlvs[i].occurs == CTP_OCC_REQUIRED && fd->tlvs[i].type != skip)
			tlv(l, fd->tlvs[i].type, sample_of(fd->fpt, fd->tlvs[i].type));
}

static const uint16_t tlv_fpts[] = { CTP_FPT_CONTROL, CTP_FPT_IPSEC_SA, CTP_FPT_IPSEC_PROFILE };
#define NFPTS (sizeof tlv_fpts / sizeof tlv_fpts[0])

/* ---- generic rules over the tables ---------------------------------------- */

static void
test_every_tlv_has_a_sample(void)
{
	for (size_t k = 0; k < NFPTS; k++) {
		const struct ctp_fpt_def *fd = ctp_fpt_def(tlv_fpts[k]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(fd);
		CU_ASSERT_PTR_NOT_NULL(fd->tlvs);
		for (size_t i = 0; i < fd->ntlvs; i++)
			CHECK(sample_of(fd->fpt, fd->tlvs[i].type) != NULL,
			    "no sample value for %s %s: add one to samples[]", fd->name,
			    fd->tlvs[i].name);
	}
	/* the raw FPT has no TLV table, and ctp_tlv_check says so */
	{
		const struct ctp_fpt_def *mld = ctp_fpt_def(CTP_FPT_MLD);
		struct ctp_err err;

		CU_ASSERT_PTR_NOT_NULL_FATAL(mld);
		CU_ASSERT_PTR_NULL(mld->tlvs);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ctp_tlv_check(mld, (const uint8_t *)"", 0, 0, &err), CTP_E_INVAL);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ctp_tlv_check(NULL, (const uint8_t *)"", 0, 0, &err), CTP_E_INVAL);
	}
}

/* Each sample is valid alone (with the required TLVs), and at every position. */
static void
test_samples_valid(void)
{
	for (size_t k = 0; k < NFPTS; k++) {
		const struct ctp_fpt_def *fd = ctp_fpt_def(tlv_fpts[k]);

		for (size_t i = 0; i < fd->ntlvs; i++) {
			static struct list l;
			const char *v = sample_of(fd->fpt, fd->tlvs[i].type);

			if (!v)
				continue;
			l.n = 0;
			tlv(&l, fd->tlvs[i].type, v);
			add_required(&l, fd, fd->tlvs[i].type);
			EXPECT_CHECK(fd, &l, 0, 0, fd->tlvs[i].name);
			l.n = 0;
			add_required(&l, fd, fd->tlvs[i].type);
			tlv(&l, fd->tlvs[i].type, v);
			raw(&l, "00000000 00000000");   /* type 0 ends the list, zeros follow */
			EXPECT_CHECK(fd, &l, 0, 0, fd->tlvs[i].name);
		}
	}
}

/* Value lengths just outside [min, max]: CTP_E_TLV at the Length field. */
static void
test_length_limits(void)
{
	for (size_t k = 0; k < NFPTS; k++) {
		const struct ctp_fpt_def *fd = ctp_fpt_def(tlv_fpts[k]);

		for (size_t i = 0; i < fd->ntlvs; i++) {
			const struct ctp_tlv_def *d = &fd->tlvs[i];
			static struct list l;
			size_t at;

			if (d->min > 0) {
				l.n = 0;
				at = tlv_n(&l, d->type, d->min - 1u);
				add_required(&l, fd, d->type);
				EXPECT_CHECK(fd, &l, CTP_E_TLV, BASE + at + 2, d->name);
				CU_ASSERT_EQUAL(last_err.status, CTP_ST_MALFORMED_CDB);
				/* also when it comes after the others */
				l.n = 0;
				add_required(&l, fd, d->type);
				at = tlv_n(&l, d->type, d->min - 1u);
				EXPECT_CHECK(fd, &l, CTP_E_TLV, BASE + at + 2, d->name);
			}
			if (d->max < 0xffff) {
				l.n = 0;
				at = tlv_n(&l, d->type, d->max + 1u);
				add_required(&l, fd, d->type);
				EXPECT_CHECK(fd, &l, CTP_E_TLV, BASE + at + 2, d->name);
			}
		}
	}
}

/* Once-only TLVs twice: CTP_E_DUP at the second; repeatable ones many times. */
static void
test_occurrence(void)
{
	for (size_t k = 0; k < NFPTS; k++) {
		const struct ctp_fpt_def *fd = ctp_fpt_def(tlv_fpts[k]);

		for (size_t i = 0; i < fd->ntlvs; i++) {
			const struct ctp_tlv_def *d = &fd->tlvs[i];
			const char *v = sample_of(fd->fpt, d->type);
			static struct list l;
			size_t at;

			if (!v)
				continue;
			l.n = 0;
			add_required(&l, fd, d->type);
			tlv(&l, d->type, v);
			if (d->occurs == CTP_OCC_REPEAT) {
				for (int r = 0; r < 40; r++)
					tlv(&l, d->type, v);
				EXPECT_CHECK(fd, &l, 0, 0, d->name);
			} else {
				tlv(&l, 0x7ff0, "00");   /* something unknown in between */
				at = tlv(&l, d->type, v);
				EXPECT_CHECK(fd, &l, CTP_E_DUP, BASE + at, d->name);
				CU_ASSERT_EQUAL(last_err.status, CTP_ST_MALFORMED_CDB);
			}
			if (d->occurs == CTP_OCC_REQUIRED) {
				/* everything else, but not this one */
				l.n = 0;
				add_required(&l, fd, d->type);
				for (size_t j = 0; j < fd->ntlvs; j++)
					if (j != i && fd->tlvs[j].occurs != CTP_OCC_REQUIRED)
						tlv(&l, fd->tlvs[j].type, sample_of(fd->fpt, fd->tlvs[j].type));
				EXPECT_CHECK(fd, &l, CTP_E_MISSING, BASE, d->name);
				CHECK(strstr(last_err.what, d->name) != NULL, "\"%s\" names %s",
				    last_err.what, d->name);
			}
		}
	}
}

/* Unknown TLVs: critical ones refuse the CDB (status 0x86), others are skipped. */
static void
test_unknown(void)
{
	for (size_t k = 0; k < NFPTS; k++) {
		const struct ctp_fpt_def *fd = ctp_fpt_def(tlv_fpts[k]);
		static struct list l;
		size_t at;

		l.n = 0;
		add_required(&l, fd, 0);
		tlv(&l, 0x7fff, "010203");
		tlv(&l, 0x0100, "");
		tlv(&l, 0x0100, "aabbccddeeff");   /* unknown ones may repeat */
		EXPECT_CHECK(fd, &l, 0, 0, "unknown non-critical TLVs");
		at = tlv(&l, 0xfffe, "00000000");
		tlv(&l, 0x7fff, "01");
		EXPECT_CHECK(fd, &l, CTP_E_CRITICAL, BASE + at, "unknown critical TLV");
		CU_ASSERT_EQUAL(last_err.status, 0x86);
		CU_ASSERT_EQUAL(last_err.status, CTP_ST_IPSEC_UNKNOWN_CRITICAL);
		/* first in the list, with a bad length of its own */
		l.n = 0;
		at = tlv(&l, 0x8000 | 0x1234, "");
		add_required(&l, fd, 0);
		EXPECT_CHECK(fd, &l, CTP_E_CRITICAL, BASE + at, "unknown critical TLV first");
		CU_ASSERT_EQUAL(last_err.status, 0x86);
	}
	/* the type number of a known TLV with the C bit flipped is unknown */
	{
		const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
		static struct list l;
		size_t at;

		l.n = 0;
		add_required(&l, fd, 0);
		at = tlv(&l, 0x8003, sample_of(0xff01, 0x0003));   /* SELECTOR with C set */
		EXPECT_CHECK(fd, &l, CTP_E_CRITICAL, BASE + at, "SELECTOR with the C bit");
		l.n = 0;
		add_required(&l, fd, 0);
		tlv(&l, 0x0004, sample_of(0xff01, 0x8004));        /* ENCR without C */
		EXPECT_CHECK(fd, &l, 0, 0, "ENCR without the C bit is unknown, skipped");
	}
}

/* ---- framing: padding, end of list, lengths ------------------------------- */

static void
test_framing(void)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	static struct list l;
	size_t at;

	/* SEL_NAME: 14-octet value, 2 octets of padding, the second not zero */
	l.n = 0;
	add_required(&l, fd, 0);
	at = tlv(&l, 0x000e, "01 000000 67772e6578616d706c65");
	l.b[at + 4 + 14 + 1] = 0x01;
	EXPECT_CHECK(fd, &l, CTP_E_PAD, BASE + at + 4 + 14 + 1, "non-zero TLV padding");
	l.b[at + 4 + 14 + 1] = 0;
	l.b[at + 4 + 14] = 0x80;
	EXPECT_CHECK(fd, &l, CTP_E_PAD, BASE + at + 4 + 14, "non-zero TLV padding, first octet");

	/* the padding is missing: the CDB ends after the value */
	l.n = 0;
	add_required(&l, fd, 0);
	at = tlv(&l, 0x000e, "01 000000 67772e6578616d706c65");
	l.n -= 2;
	EXPECT_CHECK(fd, &l, CTP_E_TLV, BASE + at + 4 + 14, "no room for the padding");
	l.n -= 1;
	EXPECT_CHECK(fd, &l, CTP_E_TLV, BASE + at + 2, "value runs past the end");

	/* type 0 ends the list: what follows must be zero */
	l.n = 0;
	add_required(&l, fd, 0);
	at = l.n;
	raw(&l, "0000 0000 00000000 00000000");
	EXPECT_CHECK(fd, &l, 0, 0, "zero padding after type 0");
	l.b[at + 9] = 0x40;
	EXPECT_CHECK(fd, &l, CTP_E_PAD, BASE + at + 9, "non-zero octet after type 0");
	l.b[at + 9] = 0;
	l.b[at + 2] = 0x00;
	l.b[at + 3] = 0x08;   /* a type-0 TLV "with a length" is still the end */
	EXPECT_CHECK(fd, &l, CTP_E_PAD, BASE + at + 3, "type 0 with a length");
	/* a valid TLV hidden after the end is not read */
	l.n = 0;
	tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
	at = l.n;
	raw(&l, "00000000");
	tlv(&l, 0x8002, sample_of(0xff01, 0x8002));
	EXPECT_CHECK(fd, &l, CTP_E_PAD, BASE + at + 4, "TLV after the end");

	/* TLV Length past the data */
	l.n = 0;
	add_required(&l, fd, 0);
	at = tlv(&l, 0x000a, "00000032");
	l.b[at + 2] = 0x01;   /* Length 260 */
	EXPECT_CHECK(fd, &l, CTP_E_TLV, BASE + at + 2, "TLV Length past the data");
	l.b[at + 2] = 0xff;
	l.b[at + 3] = 0xff;
	EXPECT_CHECK(fd, &l, CTP_E_TLV, BASE + at + 2, "TLV Length 65535");

	/* an empty list has no SA_ID */
	l.n = 0;
	EXPECT_CHECK(fd, &l, CTP_E_MISSING, BASE, "empty list");
	raw(&l, "00000000");
	EXPECT_CHECK(fd, &l, CTP_E_MISSING, BASE, "list of padding only");
	/* but an empty control CDB is fine: nothing is required there */
	l.n = 0;
	EXPECT_CHECK(ctp_fpt_def(CTP_FPT_CONTROL), &l, 0, 0, "empty control list");
}

/* ---- field layouts -------------------------------------------------------- */

static void
test_field_layouts(void)
{
	const struct ctp_fpt_def *sa = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	const struct ctp_fpt_def *pr = ctp_fpt_def(CTP_FPT_IPSEC_PROFILE);
	static struct list l;
	size_t at;

	/* ENDPOINTS family 6, 36 octets: fine */
	l.n = 0;
	tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
	tlv(&l, 0x8002, "06 04 03 00 " V6A V6B);
	EXPECT_CHECK(sa, &l, 0, 0, "ENDPOINTS IPv6");
	/* family 4 with 36 octets: 24 octets after the last field */
	l.n = 0;
	tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
	at = tlv(&l, 0x8002, "04 04 03 00 " V6A V6B);
	EXPECT_CHECK(sa, &l, CTP_E_TLV, BASE + at + 4 + 12, "ENDPOINTS family 4, 36 octets");
	/* family 6 with 12 octets: the local address does not fit */
	l.n = 0;
	tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
	at = tlv(&l, 0x8002, "06 04 03 00 c0000201 c6336401");
	EXPECT_CHECK(sa, &l, CTP_E_TLV, BASE + at + 4 + 4, "ENDPOINTS family 6, 12 octets");
	/* family 6 with 28 octets: the peer address does not fit */
	l.n = 0;
	tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
	at = tlv(&l, 0x8002, "06 04 03 00 " V6A "c6336401 c6336401 c6336401");
	EXPECT_CHECK(sa, &l, CTP_E_TLV, BASE + at + 4 + 20, "ENDPOINTS family 6, 32 octets");
	/* family 5 (or 0) before an address: the family octet is wrong */
	for (unsigned fam = 0; fam < 8; fam++) {
		char v[64];

		if (fam == 4 || fam == 6)
			continue;
		snprintf(v, sizeof v, "%02x 04 03 00 c0000201 c6336401", fam);
		l.n = 0;
		tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
		at = tlv(&l, 0x8002, v);
		EXPECT_CHECK(sa, &l, CTP_E_VALUE, BASE + at + 4, "ENDPOINTS family not 4 or 6");
		CU_ASSERT_EQUAL(last_err.status, CTP_ST_MALFORMED_CDB);
	}
	/* VIRTUAL_SG: family 4 needs 8 octets, family 6 20 */
	l.n = 0;
	add_required(&l, sa, 0);
	tlv(&l, 0x0011, "04 000000 c0000209");
	EXPECT_CHECK(sa, &l, 0, 0, "VIRTUAL_SG IPv4");
	l.n = 0;
	add_required(&l, sa, 0);
	at = tlv(&l, 0x0011, "06 000000 c0000209");
	EXPECT_CHECK(sa, &l, CTP_E_TLV, BASE + at + 8, "VIRTUAL_SG family 6, 4 octets");
	/* SELECTOR IPv6 (44 octets) */
	l.n = 0;
	add_required(&l, sa, 0);
	tlv(&l, 0x0003, "06 06 40 30 " V6A V6B " 0000 ffff 0016 0016");
	EXPECT_CHECK(sa, &l, 0, 0, "SELECTOR IPv6");

	/* PATH: node_count against the addresses present */
	l.n = 0;
	tlv(&l, 0x0003, "01 04 02 00 c0000201 c0000202");
	tlv(&l, 0x0003, "02 06 01 00 " V6A);
	tlv(&l, 0x0003, "03 04 00 00");   /* no nodes */
	EXPECT_CHECK(pr, &l, 0, 0, "PATH lists");
	l.n = 0;
	at = tlv(&l, 0x0003, "01 04 03 00 c0000201 c0000202");
	EXPECT_CHECK(pr, &l, CTP_E_TLV, BASE + at + 4 + 4, "PATH node_count 3, 2 addresses");
	l.n = 0;
	at = tlv(&l, 0x0003, "01 04 01 00 c0000201 c0000202");
	EXPECT_CHECK(pr, &l, CTP_E_TLV, BASE + at + 4 + 8, "PATH node_count 1, 2 addresses");
	l.n = 0;
	at = tlv(&l, 0x0003, "01 06 ff 00 " V6A);
	EXPECT_CHECK(pr, &l, CTP_E_TLV, BASE + at + 4 + 4, "PATH node_count 255, 1 address");
	l.n = 0;
	at = tlv(&l, 0x0003, "01 05 01 00 c0000201");
	EXPECT_CHECK(pr, &l, CTP_E_VALUE, BASE + at + 4 + 1, "PATH family 5");

	/* fixed-size fields that do not fill the value: REPLAY with no bitmap is
	 * fine (the bitmap is the rest), SA_ID has no rest */
	l.n = 0;
	add_required(&l, sa, 0);
	tlv(&l, 0x8007, "00000000 0000000000000000");
	EXPECT_CHECK(sa, &l, 0, 0, "REPLAY without a bitmap");
}

static void
test_field_span(void)
{
	const struct ctp_fpt_def *pr = ctp_fpt_def(CTP_FPT_IPSEC_PROFILE);
	const struct ctp_tlv_def *path = ctp_tlv_def(pr, 0x0003);
	uint8_t v[4 + 48];
	size_t off = 99, len = 99;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_PTR_EQUAL(ctp_tlv_def_by_name(pr, "path"), path);
	memset(v, 0, sizeof v);
	v[0] = 1;
	v[1] = 6;
	v[2] = 3;
	CU_ASSERT_EQUAL(ctp_tlv_field_span(path, v, sizeof v, 4, &off, &len), 0);
	CU_ASSERT_EQUAL(off, 4);
	CU_ASSERT_EQUAL(len, 48);
	CU_ASSERT_EQUAL(ctp_tlv_field_span(path, v, sizeof v, 2, &off, &len), 0);
	CU_ASSERT_EQUAL(off, 2);
	CU_ASSERT_EQUAL(len, 1);
	CU_ASSERT_EQUAL(ctp_tlv_field_span(path, v, sizeof v, 5, &off, &len), CTP_E_INVAL);
	v[2] = 4;
	CU_ASSERT_EQUAL(ctp_tlv_field_span(path, v, sizeof v, 4, &off, &len), CTP_E_TLV);
	v[2] = 3;
	v[1] = 4;
	CU_ASSERT_EQUAL(ctp_tlv_field_span(path, v, sizeof v, 4, &off, &len), CTP_E_TLV);
}

/* ctp_tlv_next directly. */
static void
test_next(void)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	static struct list l;
	struct ctp_cur c;
	struct ctp_tlv t;
	struct ctp_err err;
	uint8_t *copy;

	l.n = 0;
	tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
	tlv(&l, 0x0fff, "0102030405");
	raw(&l, "00000000 00000000");
	copy = malloc(l.n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, l.b, l.n);
	ctp_err_clear(&err);
	ctp_cur_init(&c, copy, l.n, BASE);
	CU_ASSERT_EQUAL(ctp_tlv_next(&c, fd, &t, &err), 1);
	CU_ASSERT_EQUAL(t.type, 0x8001);
	CU_ASSERT_EQUAL(t.len, 8);
	CU_ASSERT_EQUAL(t.off, BASE);
	CU_ASSERT_PTR_EQUAL(t.val, copy + 4);
	CU_ASSERT_PTR_NOT_NULL(t.def);
	CU_ASSERT_STRING_EQUAL(t.def ? t.def->name : "", "SA_ID");
	CU_ASSERT_EQUAL(ctp_tlv_next(&c, fd, &t, &err), 1);
	CU_ASSERT_EQUAL(t.type, 0x0fff);
	CU_ASSERT_EQUAL(t.len, 5);
	CU_ASSERT_EQUAL(t.off, BASE + 12);
	CU_ASSERT_PTR_NULL(t.def);
	CU_ASSERT_EQUAL(c.off, BASE + 24);   /* past the value and its 3 octets of padding */
	CU_ASSERT_EQUAL(ctp_tlv_next(&c, fd, &t, &err), 0);
	CU_ASSERT_EQUAL(c.left, 0);
	CU_ASSERT_EQUAL(ctp_tlv_next(&c, fd, &t, &err), 0);
	CU_ASSERT_EQUAL(err.code, 0);
	free(copy);
}

/* ---- describe, JSON, build: the same octets -------------------------------- */

/* Describe l, write it as JSON, parse that, build it: the octets of l (whose
 * last TLV must end the list: build writes no end marker). */
static struct ctp_val *
describe_build(const struct ctp_fpt_def *fd, const struct list *l, const char *label)
{
	struct ctp_val *arr = ctp_val_arr(), *back = NULL;
	uint8_t *copy = malloc(l->n ? l->n : 1), out[8192];
	struct ctp_wbuf w;
	struct ctp_err err;
	char *json = NULL;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, l->b, l->n);
	ctp_err_clear(&err);
	rc = ctp_tlv_check(fd, copy, l->n, BASE, &err);
	CHECK(rc == 0, "%s: check: %s", label, err.what);
	rc = ctp_tlv_describe(fd, copy, l->n, BASE, arr, &err);
	CHECK(rc == 0, "%s: describe: %s", label, err.what);
	json = ctp_json_string(arr, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(json);
	rc = ctp_json_parse(json, strlen(json), &back, &err);
	CHECK(rc == 0, "%s: JSON: %s", label, err.what);
	ctp_wbuf_init(&w, out, sizeof out);
	rc = ctp_tlv_build(fd, back, &w, &err);
	CHECK(rc == 0, "%s: build: %s (%s)", label, ctp_errname(rc), err.what);
	CHECK(w.len == l->n && memcmp(out, l->b, l->n) == 0,
	    "%s: rebuilt %zu octets, want %zu\n  %s", label, w.len, l->n, json);
	free(json);
	free(copy);
	ctp_val_free(back);
	return arr;
}

static const struct ctp_val *
item(const struct ctp_val *arr, size_t i)
{
	CU_ASSERT_FATAL(arr && arr->kind == CTP_V_ARR && i < arr->n);
	return arr->items[i];
}

static uint64_t
u64_of(const struct ctp_val *o, const char *key)
{
	uint64_t v = 0xdeadbeefdeadbeefULL;

	CHECK(ctp_val_get_u64(o, key, UINT64_MAX, &v, NULL) == 0, "no integer \"%s\"", key);
	return v;
}

static const char *
str_of(const struct ctp_val *o, const char *key)
{
	const char *s = "";

	CHECK(ctp_val_get_str(o, key, &s, NULL) == 0, "no string \"%s\"", key);
	return s;
}

static void
test_describe_build_control(void)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_CONTROL);
	static struct list l;
	struct ctp_val *arr;

	l.n = 0;
	tlv(&l, 0x0001, K32);
	tlv(&l, 0x0002, "0102030405060708");
	tlv(&l, 0x0333, "ab");   /* unknown, not critical */
	arr = describe_build(fd, &l, "control CDB");
	CU_ASSERT_EQUAL(arr->n, 3);
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 0), "tlv"), "NOTIFY_KEY");
	CU_ASSERT_EQUAL(u64_of(item(arr, 0), "tlv_type"), 1);
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 0), "key"), K32);
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 1), "tlv"), "TRANSFER_ID");
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 1), "id"), "0102030405060708");
	CU_ASSERT_PTR_NULL(ctp_val_get(item(arr, 2), "tlv"));
	CU_ASSERT_EQUAL(u64_of(item(arr, 2), "tlv_type"), 0x333);
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 2), "value"), "ab");
	ctp_val_free(arr);
}

static void
test_describe_build_ipsec_sa(void)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	static struct list l;
	struct ctp_val *arr;
	const struct ctp_val *o;

	/* every TLV of the table, in table order, then some twice or odd */
	l.n = 0;
	for (size_t i = 0; i < fd->ntlvs; i++)
		tlv(&l, fd->tlvs[i].type, sample_of(fd->fpt, fd->tlvs[i].type));
	tlv(&l, 0x0003, "06 06 40 30 " V6A V6B " 0000 ffff 0016 0016");
	tlv(&l, 0x7abc, "");                                  /* unknown, empty */
	arr = describe_build(fd, &l, "IPsec SA, every TLV");
	CU_ASSERT_EQUAL(arr->n, fd->ntlvs + 2);
	o = item(arr, 0);
	CU_ASSERT_STRING_EQUAL(str_of(o, "tlv"), "SA_ID");
	CU_ASSERT_EQUAL(u64_of(o, "tlv_type"), 0x8001);
	CU_ASSERT_EQUAL(u64_of(o, "spi"), 0xc0ffee01);
	CU_ASSERT_EQUAL(u64_of(o, "protocol"), 50);
	CU_ASSERT_EQUAL(u64_of(o, "mode"), 2);
	CU_ASSERT_EQUAL(u64_of(o, "direction"), 1);
	CU_ASSERT_EQUAL(u64_of(o, "flags"), 5);
	o = item(arr, 1);
	CU_ASSERT_EQUAL(u64_of(o, "family"), 4);
	CU_ASSERT_EQUAL(u64_of(o, "sa_type"), 3);
	CU_ASSERT_STRING_EQUAL(str_of(o, "local_addr"), "192.0.2.1");
	CU_ASSERT_STRING_EQUAL(str_of(o, "peer_addr"), "198.51.100.1");
	CU_ASSERT_PTR_NULL(ctp_val_get(o, "reserved"));   /* zero: not shown */
	o = item(arr, 3);
	CU_ASSERT_STRING_EQUAL(str_of(o, "tlv"), "ENCR");
	CU_ASSERT_EQUAL(u64_of(o, "id"), 20);
	CU_ASSERT_EQUAL(u64_of(o, "key_bits"), 256);
	CU_ASSERT_STRING_EQUAL(str_of(o, "key"), K32 "a1a2a3a4");
	o = item(arr, 5);
	CU_ASSERT_EQUAL(u64_of(o, "next"), 0x4001);
	CU_ASSERT_EQUAL(u64_of(o, "margin"), 0x4000);
	o = item(arr, 6);
	CU_ASSERT_EQUAL(u64_of(o, "window"), 64);
	CU_ASSERT_EQUAL(u64_of(o, "highest"), 1000);
	CU_ASSERT_STRING_EQUAL(str_of(o, "bitmap"), "ffffffff00000001");
	o = item(arr, 13);
	CU_ASSERT_STRING_EQUAL(str_of(o, "tlv"), "SEL_NAME");
	CU_ASSERT_STRING_EQUAL(str_of(o, "name"), "67772e6578616d706c65");
	o = item(arr, 16);
	CU_ASSERT_STRING_EQUAL(str_of(o, "vsg_addr"), "2001:db8::1");
	o = item(arr, fd->ntlvs);
	CU_ASSERT_STRING_EQUAL(str_of(o, "src_addr"), "2001:db8::1");
	CU_ASSERT_EQUAL(u64_of(o, "dst_port_high"), 0x16);
	ctp_val_free(arr);

	/* non-zero reserved octets are shown, and so kept */
	l.n = 0;
	tlv(&l, 0x8001, sample_of(0xff01, 0x8001));
	tlv(&l, 0x8002, "04 03 01 7f c0000201 c6336401");
	tlv(&l, 0x000b, "01 02 1194 1194 abcd");
	tlv(&l, 0x000d, "8000000000000001 01 010203");
	arr = describe_build(fd, &l, "IPsec SA, reserved octets set");
	CU_ASSERT_EQUAL(u64_of(item(arr, 1), "reserved"), 0x7f);
	CU_ASSERT_EQUAL(u64_of(item(arr, 2), "reserved"), 2);
	CU_ASSERT_EQUAL(u64_of(item(arr, 2), "reserved2"), 0xabcd);
	CU_ASSERT_EQUAL(u64_of(item(arr, 3), "reserved"), 0x010203);
	ctp_val_free(arr);

	/* IPv6 endpoints and the largest values */
	l.n = 0;
	tlv(&l, 0x8001, "ffffffff 33 01 02 ff");
	tlv(&l, 0x8002, "06 05 03 00 ffffffffffffffffffffffffffffffff"
	    " 00000000000000000000ffffc0000201");
	tlv(&l, 0x8006, "ffffffffffffffff ffffffff");
	arr = describe_build(fd, &l, "IPsec SA, IPv6, large values");
	CU_ASSERT_EQUAL(u64_of(item(arr, 2), "next"), UINT64_MAX);
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 1), "local_addr"),
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 1), "peer_addr"), "::ffff:192.0.2.1");
	ctp_val_free(arr);
}

static void
test_describe_build_ipsec_profile(void)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_PROFILE);
	static struct list l;
	struct ctp_val *arr;
	const struct ctp_val *nodes;

	l.n = 0;
	tlv(&l, 0x0001, "0014 0100");
	tlv(&l, 0x0001, "000c 0080");
	tlv(&l, 0x0002, "000c 0000");
	tlv(&l, 0x0002, "000e 0001");   /* reserved set */
	tlv(&l, 0x0003, "01 04 02 00 c0000201 c0000202");
	tlv(&l, 0x0003, "02 06 03 00 " V6A V6B "fe800000000000000000000000000001");
	tlv(&l, 0x0003, "03 04 00 00");
	tlv(&l, 0x0004, "02 000000 616c696365406578616d706c652e636f6d");
	arr = describe_build(fd, &l, "IPsec profile");
	CU_ASSERT_EQUAL(arr->n, 8);
	CU_ASSERT_EQUAL(u64_of(item(arr, 1), "key_bits"), 128);
	CU_ASSERT_EQUAL(u64_of(item(arr, 3), "reserved"), 1);
	CU_ASSERT_EQUAL(u64_of(item(arr, 5), "node_count"), 3);
	nodes = ctp_val_get(item(arr, 5), "nodes");
	CU_ASSERT_FATAL(nodes && nodes->kind == CTP_V_ARR && nodes->n == 3);
	CU_ASSERT_STRING_EQUAL(nodes->items[2]->s, "fe80::1");
	nodes = ctp_val_get(item(arr, 6), "nodes");
	CU_ASSERT(nodes && nodes->kind == CTP_V_ARR && nodes->n == 0);
	CU_ASSERT_STRING_EQUAL(str_of(item(arr, 7), "identity"),
	    "616c696365406578616d706c652e636f6d");
	ctp_val_free(arr);
}

/* ---- build from JSON written by hand ------------------------------------------ */

static int
build_json(const struct ctp_fpt_def *fd, const char *json, uint8_t *out, size_t cap, size_t *n,
    struct ctp_err *err)
{
	struct ctp_val *v = NULL;
	struct ctp_wbuf w;
	int rc;

	ctp_err_clear(err);
	rc = ctp_json_parse(json, strlen(json), &v, err);
	CHECK(rc == 0, "bad test JSON %s: %s", json, err->what);
	if (rc)
		return rc;
	ctp_err_clear(err);
	ctp_wbuf_init(&w, out, cap);
	rc = ctp_tlv_build(fd, v, &w, err);
	*n = w.len;
	ctp_val_free(v);
	return rc;
}

static void
test_build_by_hand(void)
{
	const struct ctp_fpt_def *sa = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	const struct ctp_fpt_def *ctl = ctp_fpt_def(CTP_FPT_CONTROL);
	const struct ctp_fpt_def *pr = ctp_fpt_def(CTP_FPT_IPSEC_PROFILE);
	uint8_t out[512], *want;
	struct ctp_err err;
	size_t n = 0, nw;

	/* by name, fields omitted are zero, by tlv_type, the addresses follow family */
	CU_ASSERT_EQUAL(build_json(sa, "[{\"tlv\":\"SA_ID\",\"spi\":4096,\"protocol\":50},"
	    "{\"tlv_type\":32770,\"family\":6,\"local_addr\":\"2001:db8::1\"},"
	    "{\"tlv\":\"pmtu\",\"pmtu\":1400,\"df\":1}]", out, sizeof out, &n, &err), 0);
	want = ctp_test_hex("8001 0008 00001000 32 00 00 00"
	    "8002 0024 06 00 00 00 20010db8000000000000000000000001 00000000000000000000000000000000"
	    "000c 0004 0578 01 00", &nw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CHECK(n == nw && memcmp(out, want, nw) == 0, "hand-built SA: %zu octets", n);
	free(want);

	/* hex with white space is accepted (ctp_val.h) */
	CU_ASSERT_EQUAL(build_json(ctl, "[{\"tlv\":\"NOTIFY_KEY\",\"key\":"
	    "\"00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f\"}]",
	    out, sizeof out, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 36);
	CU_ASSERT(n == 36 && out[4] == 0 && out[35] == 0x1f && out[3] == 32);

	/* "value" gives the raw octets, padded */
	CU_ASSERT_EQUAL(build_json(ctl, "[{\"tlv_type\":4660,\"value\":\"0102 03\"}]",
	    out, sizeof out, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT(memcmp(out, "\x12\x34\x00\x03\x01\x02\x03\x00", 8) == 0);

	/* PATH: node_count follows the list, or must agree with it */
	CU_ASSERT_EQUAL(build_json(pr, "[{\"tlv\":\"PATH\",\"plane\":1,\"family\":4,"
	    "\"nodes\":[\"192.0.2.1\",\"192.0.2.2\"]}]", out, sizeof out, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(out[6], 2);
	CU_ASSERT_EQUAL(build_json(pr, "[{\"tlv\":\"PATH\",\"plane\":1,\"family\":4,\"node_count\":3,"
	    "\"nodes\":[\"192.0.2.1\",\"192.0.2.2\"]}]", out, sizeof out, &n, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.code, CTP_E_VALUE);
	CU_ASSERT_EQUAL(build_json(pr, "[{\"tlv\":\"PATH\",\"plane\":1,\"family\":4,"
	    "\"nodes\":\"192.0.2.1\"}]", out, sizeof out, &n, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.code, CTP_E_VALUE);
	CU_ASSERT_EQUAL(build_json(pr, "[{\"tlv\":\"PATH\",\"plane\":1,\"family\":4,"
	    "\"nodes\":[\"2001:db8::1\"]}]", out, sizeof out, &n, &err), CTP_E_VALUE);
}

/* Every build error comes back as CTP_E_VALUE with a line that says why. */
static void
test_build_errors(void)
{
	static const struct {
		uint16_t    fpt;
		const char *json;
		const char *says;   /* a word the message must contain */
	} bad[] = {
		{ 0xff01, "[{\"tlv\":\"NO_SUCH_TLV\"}]", "NO_SUCH_TLV" },
		{ 0xff01, "[{\"tlv\":\"SA_ID\",\"spi\":\"x\"}]", "spi" },
		{ 0xff01, "[{\"tlv\":\"SA_ID\",\"protocol\":256}]", "protocol" },
		{ 0xff01, "[{\"tlv\":\"SA_ID\",\"spi\":4294967296}]", "spi" },
		{ 0xff01, "[{\"tlv\":\"SA_ID\",\"spi\":-1}]", "spi" },
		{ 0xff01, "[{\"tlv\":\"ENDPOINTS\",\"family\":4,\"local_addr\":\"2001:db8::1\"}]",
		    "local_addr" },
		{ 0xff01, "[{\"tlv\":\"ENDPOINTS\",\"family\":6,\"peer_addr\":\"192.0.2.1\"}]",
		    "peer_addr" },
		{ 0xff01, "[{\"tlv\":\"ENDPOINTS\",\"family\":4,\"local_addr\":\"banana\"}]",
		    "local_addr" },
		{ 0xff01, "[{\"tlv\":\"ENDPOINTS\",\"local_addr\":\"192.0.2.1\"}]", "family" },
		{ 0xff01, "[{\"tlv\":\"ENDPOINTS\",\"family\":5}]", "family" },
		{ 0xff01, "[{\"tlv\":\"ENDPOINTS\",\"family\":4,\"local_addr\":7}]", "local_addr" },
		{ 0xff01, "[{\"tlv\":\"ENCR\",\"key\":\"abc\"}]", "key" },
		{ 0xff01, "[{\"tlv\":\"ENCR\",\"key\":\"zz\"}]", "key" },
		{ 0xff01, "[{\"tlv\":\"ENCR\",\"key\":12}]", "key" },
		{ 0xff01, "[{\"tlv_type\":1234}]", "value" },
		{ 0xff01, "[{\"tlv_type\":1234,\"value\":\"0g\"}]", "hex" },
		{ 0xff01, "[{\"tlv_type\":65536,\"value\":\"00\"}]", "tlv_type" },
		{ 0xff01, "[{\"spi\":1}]", "tlv" },
		{ 0xff01, "[1]", "object" },
		{ 0xff01, "{\"tlv\":\"SA_ID\"}", "array" },
		{ 0xff00, "[{\"tlv\":\"NOTIFY_KEY\",\"key\":\"" K32 "00\"}]", "key" },
		{ 0xff00, "[{\"tlv\":\"NOTIFY_KEY\",\"key\":\"" "000102030405060708090a0b0c0d0e0f"
		    "101112131415161718191a1b1c1d1e\"}]", "key" },
		{ 0xff00, "[{\"tlv\":\"TRANSFER_ID\",\"id\":\"\"}]", "id" },
		{ 0xff00, "[{\"tlv\":\"SA_ID\"}]", "SA_ID" },   /* not a control TLV */
	};
	uint8_t out[512];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ctp_err err;
		size_t n;
		int rc = build_json(ctp_fpt_def(bad[i].fpt), bad[i].json, out, sizeof out, &n, &err);

		CHECK(rc == CTP_E_VALUE && err.code == CTP_E_VALUE,
		    "%s: %s (err %s: %s)", bad[i].json, ctp_errname(rc), ctp_errname(err.code),
		    err.what);
		CHECK(strstr(err.what, bad[i].says) != NULL, "%s: \"%s\" does not mention %s",
		    bad[i].json, err.what, bad[i].says);
	}
}

/* Building into a buffer that is too small: CTP_E_NOSPACE, nothing past it. */
static void
test_build_nospace(void)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	static struct list l;
	struct ctp_val *arr = ctp_val_arr();
	struct ctp_err err;
	uint8_t out[600];

	CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
	l.n = 0;
	for (size_t i = 0; i < fd->ntlvs; i++)
		tlv(&l, fd->tlvs[i].type, sample_of(fd->fpt, fd->tlvs[i].type));
	tlv(&l, 0x7abc, "0102");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_tlv_describe(fd, l.b, l.n, 0, arr, &err), 0);
	CU_ASSERT_FATAL(l.n + 64 <= sizeof out);
	for (size_t cap = 0; cap <= l.n; cap++) {
		struct ctp_wbuf w;
		int rc, intact = 1;

		memset(out, 0xa5, sizeof out);
		ctp_wbuf_init(&w, out, cap);
		ctp_err_clear(&err);
		rc = ctp_tlv_build(fd, arr, &w, &err);
		for (size_t k = cap; k < cap + 64; k++)
			intact &= out[k] == 0xa5;
		CHECK(intact, "build into %zu octets wrote past the end", cap);
		if (cap < l.n)
			CHECK(rc == CTP_E_NOSPACE && err.code == CTP_E_NOSPACE,
			    "build into %zu of %zu octets: %s (%s)", cap, l.n, ctp_errname(rc),
			    err.what);
		else
			CHECK(rc == 0 && memcmp(out, l.b, l.n) == 0, "build into %zu octets: %s",
			    cap, ctp_errname(rc));
	}
	ctp_val_free(arr);
}

/* ctp_tlv_begin / ctp_tlv_end by hand. */
static void
test_begin_end(void)
{
	uint8_t out[32];
	struct ctp_wbuf w;
	size_t at;

	ctp_wbuf_init(&w, out, sizeof out);
	at = ctp_tlv_begin(&w, 0x800e);
	ctp_wbuf_bytes(&w, "\x01\x02\x03\x04\x05", 5);
	ctp_tlv_end(&w, at);
	at = ctp_tlv_begin(&w, 0x0001);
	ctp_tlv_end(&w, at);
	CU_ASSERT_EQUAL(w.err, 0);
	CU_ASSERT_EQUAL(w.len, 16);
	CU_ASSERT(memcmp(out, "\x80\x0e\x00\x05\x01\x02\x03\x04\x05\x00\x00\x00"
	    "\x00\x01\x00\x00", 16) == 0);
	/* the padding does not fit */
	ctp_wbuf_init(&w, out, 10);
	at = ctp_tlv_begin(&w, 0x0001);
	ctp_wbuf_bytes(&w, "\x01\x02\x03\x04\x05", 5);
	ctp_tlv_end(&w, at);
	CU_ASSERT_EQUAL(w.err, CTP_E_NOSPACE);
}

/* ---- the control CDB (FPT 0xFF00) through the message functions ------------- */

static void
test_control_cdb(void)
{
	static struct ctp_msg m;
	struct ctp_err err;
	struct ctp_cdb cdb;
	uint8_t *b, out[256];
	size_t n, nout = 0;
	struct ctp_val *v = NULL;

	/* CTD IPv4: 12 octets, then the control CDB of 4 + 36 = 40 octets (Length 5) */
	b = ctp_test_hex("23 80 00 34 00 00 00 00 c0 00 02 0a"
	    "ff 00 05 00  0001 0020 " K32, &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL_FATAL(n, 52);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_control_check(&m.cdb[0], &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, NULL, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_describe(&m, NULL, &v, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_build(v, NULL, out, sizeof out, &nout, &err), 0);
	CU_ASSERT(nout == n && memcmp(out, b, n) == 0);
	ctp_val_free(v);

	/* a presence vector is refused */
	cdb = m.cdb[0];
	cdb.flags |= CTP_CDB_P;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_control_check(&cdb, &err), CTP_E_CDB);
	CU_ASSERT_EQUAL(err.off, 15);
	/* a TLV error inside, with its message offset */
	b[18] = 0x00;
	b[19] = 0x1f;   /* NOTIFY_KEY of 31 octets: padding 1 = the key's last octet */
	b[51] = 0;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, NULL, &err), CTP_E_TLV);
	CU_ASSERT_EQUAL(err.off, 18);
	/* an unknown critical TLV in the control CDB */
	b[16] = 0x80;
	b[17] = 0x09;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, NULL, &err), CTP_E_CRITICAL);
	CU_ASSERT_EQUAL(err.off, 16);
	CU_ASSERT_EQUAL(err.status, 0x86);
	free(b);
}

/* Without plugins, the IPsec CDBs are checked and described by the tables;
 * the whole message goes through describe and build unchanged. */
static void
test_ipsec_cdbs_without_plugin(void)
{
	const struct ctp_fpt_def *sa = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	static struct list l;
	static struct ctp_msg m;
	uint8_t *copy, out[4096];
	struct ctp_val *v = NULL;
	struct ctp_err err;
	size_t nout = 0, at;

	/* CTD IPv6: header, elapsed, prev, one SA CDB, one profile CDB */
	l.n = 0;
	raw(&l, "23 40 00 00 00000007 20010db8000000000000000000000009");
	at = l.n;
	raw(&l, "ff01 00 00");
	for (size_t i = 0; i < sa->ntlvs; i++)
		tlv(&l, sa->tlvs[i].type, sample_of(0xff01, sa->tlvs[i].type));
	while ((l.n - at) % 8)
		l.b[l.n++] = 0;
	l.b[at + 2] = (uint8_t)((l.n - at) / 8);
	at = l.n;
	raw(&l, "ff02 00 00");
	tlv(&l, 0x0003, "01 06 01 00 " V6A);
	while ((l.n - at) % 8)
		l.b[l.n++] = 0;
	l.b[at + 2] = (uint8_t)((l.n - at) / 8);
	l.b[2] = (uint8_t)(l.n >> 8);
	l.b[3] = (uint8_t)l.n;
	copy = malloc(l.n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, l.b, l.n);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, copy, l.n, 0, &err), 0);
	CU_ASSERT_EQUAL(m.ncdb, 2);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, NULL, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_describe(&m, NULL, &v, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_build(v, NULL, out, sizeof out, &nout, &err), 0);
	CHECK(nout == l.n && memcmp(out, l.b, l.n) == 0, "CTD rebuilt: %zu octets of %zu", nout,
	    l.n);
	ctp_val_free(v);
	/* a required TLV missing in the second CDB: its offset in the message */
	l.b[at + 4] = 0x7f;   /* PATH becomes unknown type 0x7f03: nothing missing there */
	memcpy(copy, l.b, l.n);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, copy, l.n, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, NULL, &err), 0);
	/* SA_ID, the first TLV of the SA CDB (at 24 + 4), becomes type 0x7f01:
	 * unknown and skipped, so SA_ID is missing from the CDB's data at 28 */
	copy[28] = 0x7f;
	copy[29] = 0x01;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, copy, l.n, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, NULL, &err), CTP_E_MISSING);
	CU_ASSERT_EQUAL(err.off, 28);
	free(copy);
}

CTP_TEST_SUITE(tlv, NULL, NULL,
    CTP_TEST(test_every_tlv_has_a_sample),
    CTP_TEST(test_samples_valid),
    CTP_TEST(test_length_limits),
    CTP_TEST(test_occurrence),
    CTP_TEST(test_unknown),
    CTP_TEST(test_framing),
    CTP_TEST(test_field_layouts),
    CTP_TEST(test_field_span),
    CTP_TEST(test_next),
    CTP_TEST(test_describe_build_control),
    CTP_TEST(test_describe_build_ipsec_sa),
    CTP_TEST(test_describe_build_ipsec_profile),
    CTP_TEST(test_build_by_hand),
    CTP_TEST(test_build_errors),
    CTP_TEST(test_build_nospace),
    CTP_TEST(test_begin_end),
    CTP_TEST(test_control_cdb),
    CTP_TEST(test_ipsec_cdbs_without_plugin),
)
