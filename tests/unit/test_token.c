/*
 * test_token.c: the MN authorization token (RFC 4067 2.7, PROFILE 1.5), the
 * notify key K_n and the CTN/CTNA tag (PROFILE 4).
 *
 * Every expected value below was computed with the openssl command line,
 * independently of the project's code, e.g. for the first token vector:
 *
 *   printf '\xc0\x00\x02\x0a\x12\x34\x56\x78' |
 *     openssl dgst -sha1 -mac HMAC -macopt hexkey:000102030405060708090a0b0c0d0e0f10111213
 *   SHA1(stdin)= 4088edec0e17178962a2cfb554ee8c8880f01345    -> token 0x4088edec
 *
 * and for K_n (label "CXTP notify" = 43585450206e6f74696679, then the seq):
 *
 *   printf 'CXTP notify\x12\x34\x56\x78' |
 *     openssl dgst -sha256 -mac HMAC -macopt hexkey:<K>
 *
 * and for a tag, HMAC-SHA256 under K_n over the message with its last 16
 * octets set to zero, first 16 octets of the output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_msg.h"
#include "ctp/ctp_token.h"
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

static const uint8_t K20[20] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
	0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
};
static const uint8_t K32[32] = {
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
	0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
	0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
};

static uint8_t *
hex(const char *h, size_t *n)
{
	uint8_t *p = ctp_test_hex(h, n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

/* ---- the token rule ------------------------------------------------------- */

struct tvec {
	const char    *label;
	const char    *prev;    /* address text */
	uint32_t       seq;
	const char    *cdbs;    /* request CDBs as sent, hex */
	const uint8_t *key;
	size_t         keylen;
	uint32_t       token;   /* first 32 bits of the openssl output */
};

static const struct tvec tvecs[] = {
	/* c000020a 12345678 */
	{ "IPv4, no CDBs, 20-octet key", "192.0.2.10", 0x12345678, "", K20, 20, 0x4088edec },
	/* c000020a 12345678 ff010000 */
	{ "IPv4, one request CDB, 20-octet key", "192.0.2.10", 0x12345678, "ff010000", K20, 20,
	    0x8d73daab },
	/* 20010db8...05 fffffffe ff010000 00010000 ff02010000000000 */
	{ "IPv6, three request CDBs (both forms), 32-octet key", "2001:db8::5", 0xfffffffe,
	    "ff010000 00010000 ff02010000000000", K32, 32, 0x78cfe49e },
	/* 20010db8...05 fffffffe */
	{ "IPv6, no CDBs, 32-octet key", "2001:db8::5", 0xfffffffe, "", K32, 32, 0x7c443151 },
	/* c000020a 00000000 ff010000 ff020000 00010000 00010100aabbccdd */
	{ "IPv4, four request CDBs, seq 0, 32-octet key", "192.0.2.10", 0,
	    "ff010000 ff020000 00010000 00010100aabbccdd", K32, 32, 0x94a9afa9 },
	/* 20010db8...05 fffffffe ff010000 */
	{ "IPv6, one request CDB, 20-octet key", "2001:db8::5", 0xfffffffe, "ff010000", K20, 20,
	    0x1a7c3639 },
};
#define NTVECS (sizeof tvecs / sizeof tvecs[0])

static void
test_token_vectors(void)
{
	for (size_t i = 0; i < NTVECS; i++) {
		const struct tvec *v = &tvecs[i];
		struct ctp_addr a;
		size_t n;
		uint8_t *cdbs = hex(v->cdbs, &n);
		uint32_t token = 0;
		int rc;

		CU_ASSERT_EQUAL_FATAL(ctp_addr_parse(&a, v->prev), 0);
		rc = ctp_token_compute(v->key, v->keylen, &a, v->seq, n ? cdbs : NULL, n, &token);
		CHECK(rc == 0 && token == v->token, "%s: 0x%08x, want 0x%08x", v->label, token,
		    v->token);
		free(cdbs);
	}
}

static void
test_token_bad_args(void)
{
	struct ctp_addr a;
	uint32_t token = 7;

	CU_ASSERT_EQUAL_FATAL(ctp_addr_parse(&a, "192.0.2.10"), 0);
	CU_ASSERT_EQUAL(ctp_token_compute(K20, 0, &a, 1, NULL, 0, &token), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_token_compute(NULL, 20, &a, 1, NULL, 0, &token), CTP_E_INVAL);
	a.family = 0;
	CU_ASSERT_EQUAL(ctp_token_compute(K20, 20, &a, 1, NULL, 0, &token), CTP_E_INVAL);
	CU_ASSERT_EQUAL(token, 7);
	CU_ASSERT_EQUAL(ctp_notify_key(K20, 0, 1, (uint8_t[32]){ 0 }), CTP_E_INVAL);
}

/*
 * A CTAR carrying vector i's fields, as octets: the token is computed from
 * the decoded message exactly as from the fields, and verifies.
 */
static size_t
ctar_of(const struct tvec *v, uint32_t token, uint8_t *out, size_t cap)
{
	static struct ctp_msg m;
	struct ctp_err err;
	size_t n, len = 0;
	uint8_t *cdbs = hex(v->cdbs, &n);
	struct ctp_cur c;
	struct ctp_cdb cdb;

	ctp_msg_init(&m, CTP_MSG_CTAR, 4);
	CU_ASSERT_EQUAL_FATAL(ctp_addr_parse(&m.mn_prev, v->prev), 0);
	CU_ASSERT_EQUAL_FATAL(ctp_addr_parse(&m.ar, m.mn_prev.family == 4 ? "198.51.100.1" :
	    "2001:db8:ffff::1"), 0);
	m.flags |= CTP_HDR_X;
	m.seq = v->seq;
	m.token = token;
	/* the request CDBs, exactly as in the vector */
	ctp_err_clear(&err);
	ctp_cur_init(&c, cdbs, n, 0);
	while (ctp_cdb_next(&c, 1, &cdb, &err) == 1)
		m.cdb[m.ncdb++] = cdb;
	CU_ASSERT_EQUAL_FATAL(err.code, 0);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_encode(&m, out, cap, &len, &err), 0);
	free(cdbs);
	return len;
}

static void
test_token_of_msg(void)
{
	for (size_t i = 0; i < NTVECS; i++) {
		const struct tvec *v = &tvecs[i];
		static struct ctp_msg m, r;
		uint8_t buf[256], rbuf[256], *exact;
		size_t n = ctar_of(v, v->token, buf, sizeof buf), rn = 0;
		struct ctp_err err;
		uint32_t t1 = 0, t2 = 0;

		exact = malloc(n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
		memcpy(exact, buf, n);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, exact, n, 0, &err), 0);
		CU_ASSERT_EQUAL(ctp_token_of_msg(v->key, v->keylen, &m, &t1), 0);
		CU_ASSERT_EQUAL(ctp_token_compute(v->key, v->keylen, &m.mn_prev, m.seq, m.cdb_raw,
		    m.cdb_raw_len, &t2), 0);
		CHECK(t1 == v->token && t2 == v->token, "%s: of_msg 0x%08x, compute 0x%08x",
		    v->label, t1, t2);
		CU_ASSERT_EQUAL(ctp_token_verify(v->key, v->keylen, &m), 1);

		/* nAR copies seq, token and the request CDBs into a CT-Req: it
		 * verifies alike at pAR */
		ctp_msg_init(&r, CTP_MSG_CTREQ, m.mn_prev.family);
		r.mn_prev = m.mn_prev;
		r.seq = m.seq;
		r.token = m.token;
		r.ncdb = m.ncdb;
		memcpy(r.cdb, m.cdb, m.ncdb * sizeof m.cdb[0]);
		CU_ASSERT_EQUAL_FATAL(ctp_msg_encode(&r, rbuf, sizeof rbuf, &rn, &err), 0);
		/* the CT-Req carries the CTAR's CDB octets unchanged */
		CU_ASSERT_EQUAL(rn - (12 + ctp_addr_len(m.mn_prev.family)), m.cdb_raw_len);
		CU_ASSERT(memcmp(rbuf + 12 + ctp_addr_len(m.mn_prev.family), m.cdb_raw,
		    m.cdb_raw_len) == 0);
		CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&r, rbuf, rn, 0, &err), 0);
		CU_ASSERT_EQUAL(ctp_token_of_msg(v->key, v->keylen, &r, &t1), 0);
		CU_ASSERT_EQUAL(t1, v->token);
		CU_ASSERT_EQUAL(ctp_token_verify(v->key, v->keylen, &r), 1);
		/* a zero token (nAR saw no CTAR) does not verify */
		r.token = 0;
		CU_ASSERT_EQUAL(ctp_token_verify(v->key, v->keylen, &r), 0);
		free(exact);
	}
}

/* Token over a message type that carries none. */
static void
test_token_wrong_type(void)
{
	static struct ctp_msg m;
	uint32_t t = 5;

	ctp_msg_init(&m, CTP_MSG_CTD, 4);
	CU_ASSERT_EQUAL(ctp_addr_parse(&m.mn_prev, "192.0.2.10"), 0);
	CU_ASSERT_EQUAL(ctp_token_of_msg(K20, 20, &m, &t), CTP_E_INVAL);
	CU_ASSERT_EQUAL(t, 5);
	CU_ASSERT_EQUAL(ctp_token_verify(K20, 20, &m), 0);
	m.type = CTP_MSG_CTN;
	CU_ASSERT_EQUAL(ctp_token_verify(K20, 20, &m), 0);
}

/*
 * Any change of the previous address, the sequence number, a CDB octet, the
 * token or the key breaks verification; the AR address and the header flags
 * are not inputs (RFC 4067 2.7) and do not.
 */
static void
test_token_tamper(void)
{
	for (size_t i = 0; i < NTVECS; i++) {
		const struct tvec *v = &tvecs[i];
		uint8_t buf[256], *exact;
		size_t n = ctar_of(v, v->token, buf, sizeof buf);
		size_t A = strchr(v->prev, ':') ? 16 : 4;
		unsigned broken = 0, tried = 0;

		exact = malloc(n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
		for (size_t at = 1; at < n; at++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				static struct ctp_msg m;
				struct ctp_err err;
				int covered = (at >= 4 && at < 4 + A) || at >= 4 + 2 * A;
				int ok;

				if (at == 2 || at == 3 || (at == 1 && bit == 7))
					continue;   /* Length or V: another layout, not a token test */
				memcpy(exact, buf, n);
				exact[at] ^= (uint8_t)(1u << bit);
				ctp_err_clear(&err);
				if (ctp_msg_decode(&m, exact, n, 0, &err) < 0) {
					/* a flipped CDB Length: refused before any token */
					CHECK(at >= 12 + 2 * A, "%s: octet %zu bit %u: %s", v->label,
					    at, bit, err.what);
					continue;
				}
				tried++;
				ok = ctp_token_verify(v->key, v->keylen, &m);
				if (at == 1) {
					/* the A bit and the reserved bits are not covered */
					CHECK(ok, "%s: flag bit %u broke the token", v->label, bit);
					continue;
				}
				if (covered) {
					CHECK(!ok, "%s: octet %zu bit %u still verifies", v->label, at, bit);
					broken += !ok;
				} else
					CHECK(ok, "%s: AR address octet %zu bit %u broke the token",
					    v->label, at, bit);
			}
		}
		CU_ASSERT(tried > 0 && broken > 0);
		/* every bit of the key */
		{
			static struct ctp_msg m;
			struct ctp_err err;
			uint8_t key[32];

			memcpy(exact, buf, n);
			ctp_err_clear(&err);
			CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, exact, n, 0, &err), 0);
			for (size_t k = 0; k < v->keylen * 8; k++) {
				memcpy(key, v->key, v->keylen);
				key[k / 8] ^= (uint8_t)(1u << (k % 8));
				CHECK(ctp_token_verify(key, v->keylen, &m) == 0,
				    "%s: key bit %zu flipped still verifies", v->label, k);
			}
			CU_ASSERT_EQUAL(ctp_token_verify(v->key, v->keylen - 1, &m), 0);
			CU_ASSERT_EQUAL(ctp_token_verify(v->key, v->keylen, &m), 1);
			/* the token itself */
			for (unsigned bit = 0; bit < 32; bit++) {
				m.token = v->token ^ (1u << bit);
				CU_ASSERT_EQUAL(ctp_token_verify(v->key, v->keylen, &m), 0);
			}
		}
		free(exact);
	}
}

/* ---- K_n and the CTN/CTNA tag ---------------------------------------------- */

/* HMAC-SHA256(K20, "CXTP notify" | 12345678) */
#define KN20 "81a2613d81e95341cda3ffe48a853c2191a268a4a7bcc5a6910a21c461a07a28"
/* HMAC-SHA256(K32, "CXTP notify" | fffffffe) */
#define KN32 "63ec4c936b9e81fe0a7dabf74cd53f5b5237a3ec1e54b25b4b2d213a022c1d84"

static void
test_notify_key(void)
{
	uint8_t kn[32], *want;
	size_t n;

	want = hex(KN20, &n);
	CU_ASSERT_EQUAL(ctp_notify_key(K20, sizeof K20, 0x12345678, kn), 0);
	CU_ASSERT(memcmp(kn, want, 32) == 0);
	free(want);
	want = hex(KN32, &n);
	CU_ASSERT_EQUAL(ctp_notify_key(K32, sizeof K32, 0xfffffffe, kn), 0);
	CU_ASSERT(memcmp(kn, want, 32) == 0);
	/* another sequence number, another key */
	CU_ASSERT_EQUAL(ctp_notify_key(K32, sizeof K32, 0xffffffff, kn), 0);
	CU_ASSERT(memcmp(kn, want, 32) != 0);
	free(want);
}

struct tagvec {
	const char *label;
	const char *msg;   /* tag field zero */
	const char *kn;
	const char *tag;   /* first 16 octets of the openssl HMAC-SHA256 */
};

static const struct tagvec tagvecs[] = {
	/* CTN IPv4: prev, seq, control CDB with TRANSFER_ID, tag */
	{ "CTN IPv4", "2880002c c000020a 12345678 ff000200 00020008 0102030405060708"
	    " 00000000000000000000000000000000", KN20, "ab613b7d7701a85bf7f749063d854a70" },
	/* CTNA IPv6: prev, seq, tag */
	{ "CTNA IPv6", "29000028 20010db8000000000000000000000005 fffffffe"
	    " 00000000000000000000000000000000", KN32, "75bc6fad1a05057b7f16f48a600de258" },
};

static void
test_tag_vectors(void)
{
	for (size_t i = 0; i < sizeof tagvecs / sizeof tagvecs[0]; i++) {
		const struct tagvec *v = &tagvecs[i];
		size_t n, nk, nt;
		uint8_t *msg = hex(v->msg, &n), *kn = hex(v->kn, &nk), *tag = hex(v->tag, &nt);
		uint8_t *exact = malloc(n);
		static struct ctp_msg m;
		struct ctp_err err;

		CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
		CU_ASSERT_EQUAL_FATAL(nk, 32);
		CU_ASSERT_EQUAL_FATAL(nt, 16);
		memcpy(exact, msg, n);
		/* the message is what the codec writes */
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, exact, n, 0, &err), 0);
		CU_ASSERT_EQUAL(ctp_tag_verify(exact, n, kn), 0);   /* zero tag */
		CU_ASSERT_EQUAL(ctp_tag_seal(exact, n, kn), 0);
		CHECK(memcmp(exact + n - 16, tag, 16) == 0, "%s: tag differs", v->label);
		CU_ASSERT(memcmp(exact, msg, n - 16) == 0);   /* nothing else changed */
		CU_ASSERT_EQUAL(ctp_tag_verify(exact, n, kn), 1);
		CU_ASSERT_EQUAL(ctp_msg_decode(&m, exact, n, 0, &err), 0);
		CU_ASSERT(memcmp(m.tag, tag, 16) == 0);
		/* sealing ignores whatever the tag field held */
		memset(exact + n - 16, 0xee, 16);
		CU_ASSERT_EQUAL(ctp_tag_seal(exact, n, kn), 0);
		CU_ASSERT(memcmp(exact + n - 16, tag, 16) == 0);
		/* any bit flip anywhere, tag included, fails */
		for (size_t k = 0; k < n * 8; k++) {
			exact[k / 8] ^= (uint8_t)(1u << (k % 8));
			CHECK(ctp_tag_verify(exact, n, kn) == 0, "%s: bit %zu flipped still verifies",
			    v->label, k);
			exact[k / 8] ^= (uint8_t)(1u << (k % 8));
		}
		CU_ASSERT_EQUAL(ctp_tag_verify(exact, n, kn), 1);
		/* another K_n */
		kn[0] ^= 0x80;
		CU_ASSERT_EQUAL(ctp_tag_verify(exact, n, kn), 0);
		kn[0] ^= 0x80;
		/* a shorter or longer message is another message */
		CU_ASSERT_EQUAL(ctp_tag_verify(exact, n - 1, kn), 0);
		free(exact);
		free(msg);
		free(kn);
		free(tag);
	}
}

/* The MN derives K_n itself from K and the CTAR's seq; nAR got K_n in the
 * control CDB: both sides agree on the tag of a CTN the codec wrote. */
static void
test_tag_end_to_end(void)
{
	static struct ctp_msg m;
	static const uint8_t cdb[12] = { 0x00, 0x02, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t kn_par[32], kn_mn[32], buf[128], *want;
	struct ctp_err err;
	size_t n = 0, nw;

	CU_ASSERT_EQUAL(ctp_notify_key(K20, sizeof K20, 0x12345678, kn_par), 0);
	ctp_msg_init(&m, CTP_MSG_CTN, 4);
	CU_ASSERT_EQUAL(ctp_addr_parse(&m.mn_prev, "192.0.2.10"), 0);
	m.seq = 0x12345678;
	ctp_msg_add_cdb(&m, CTP_FPT_CONTROL, cdb, sizeof cdb);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_encode(&m, buf, sizeof buf, &n, &err), 0);
	CU_ASSERT_EQUAL(ctp_tag_seal(buf, n, kn_par), 0);
	/* the same octets and tag as the openssl vector */
	want = hex(tagvecs[0].msg, &nw);
	CU_ASSERT(n == nw && memcmp(buf, want, n - 16) == 0);
	free(want);
	want = hex(tagvecs[0].tag, &nw);
	CU_ASSERT(memcmp(buf + n - 16, want, 16) == 0);
	free(want);
	CU_ASSERT_EQUAL(ctp_notify_key(K20, sizeof K20, 0x12345678, kn_mn), 0);
	CU_ASSERT_EQUAL(ctp_tag_verify(buf, n, kn_mn), 1);
	/* the MN with the wrong seq derives another K_n */
	CU_ASSERT_EQUAL(ctp_notify_key(K20, sizeof K20, 0x12345679, kn_mn), 0);
	CU_ASSERT_EQUAL(ctp_tag_verify(buf, n, kn_mn), 0);
	/* too short to hold a header and a tag */
	CU_ASSERT_EQUAL(ctp_tag_seal(buf, 19, kn_par), CTP_E_SHORT);
	CU_ASSERT_EQUAL(ctp_tag_verify(buf, 19, kn_par), 0);
	CU_ASSERT_EQUAL(ctp_tag_verify(buf, 0, kn_par), 0);
}

CTP_TEST_SUITE(token, NULL, NULL,
    CTP_TEST(test_token_vectors),
    CTP_TEST(test_token_bad_args),
    CTP_TEST(test_token_of_msg),
    CTP_TEST(test_token_wrong_type),
    CTP_TEST(test_token_tamper),
    CTP_TEST(test_notify_key),
    CTP_TEST(test_tag_vectors),
    CTP_TEST(test_tag_end_to_end),
)
