/*
 * test_ipsec_codec.c: the IPsec SA (0xFF01) and profile (0xFF02) CDB codecs,
 * called directly, and the real ipsec.so loaded through the registry.
 *
 * Every rule of ipsec_sa_verify() is broken once on an otherwise complete SA
 * and must fail with its status; every structural failure is made by editing
 * the octets of a good CDB.  The committed vectors tests/vectors/ipsec_*.hex
 * are rebuilt here and must match byte for byte (CTP_REGEN_VECTORS=1 writes
 * them instead, after a deliberate wire change).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_describe.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_tlv.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_alg.h"
#include "features/ipsec/ipsec_profile.h"
#include "features/ipsec/ipsec_sa.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------- */

struct cdbuf {
	uint8_t        b[2048];
	size_t         len;
	struct ctp_cdb cdb;
};

static void
set_addr(struct ctp_addr *a, const char *s)
{
	CU_ASSERT_FATAL(ctp_addr_parse(a, s) == 0);
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

/* Parse the CDB in cb->b as if it sat at message offset off. */
static int
cdb_parse(struct cdbuf *cb, size_t off)
{
	struct ctp_err err;
	struct ctp_cur c;

	ctp_err_clear(&err);
	ctp_cur_init(&c, cb->b, cb->len, off);
	return ctp_cdb_next(&c, 0, &cb->cdb, &err);
}

/* A copy whose cdb points into the copy's own octets. */
static void
copy_cb(struct cdbuf *dst, const struct cdbuf *src)
{
	*dst = *src;
	CU_ASSERT_EQUAL(cdb_parse(dst, 0), 1);
}

static int
sa_to_cdb(const struct ipsec_sa *sa, struct cdbuf *cb)
{
	struct ctp_wbuf w;
	int rc;

	memset(cb, 0, sizeof *cb);
	ctp_wbuf_init(&w, cb->b, sizeof cb->b);
	rc = ipsec_sa_encode(sa, &w);
	cb->len = w.len;
	if (rc == 0)
		CU_ASSERT_EQUAL(cdb_parse(cb, 0), 1);
	return rc;
}

static int
profile_to_cdb(const struct ipsec_profile *p, struct cdbuf *cb)
{
	struct ctp_wbuf w;
	int rc;

	memset(cb, 0, sizeof *cb);
	ctp_wbuf_init(&w, cb->b, sizeof cb->b);
	rc = ipsec_profile_encode(p, &w);
	cb->len = w.len;
	if (rc == 0)
		CU_ASSERT_EQUAL(cdb_parse(cb, 0), 1);
	return rc;
}

/* Offset (in the CDB) of the first TLV of the given type, 0 when absent. */
static size_t
find_tlv(const struct cdbuf *cb, uint16_t type)
{
	size_t at = CTP_CDB_HDR_LEN;

	while (at + 4 <= cb->len) {
		uint16_t t = (uint16_t)(cb->b[at] << 8 | cb->b[at + 1]);
		uint16_t l = (uint16_t)(cb->b[at + 2] << 8 | cb->b[at + 3]);

		if (t == 0)
			break;
		if (t == type)
			return at;
		at += 4 + (l + 3u) / 4 * 4;
	}
	return 0;
}

/* Where the TLV list ends (the first type 0 or the end of the CDB). */
static size_t
tlv_end(const struct cdbuf *cb)
{
	size_t at = CTP_CDB_HDR_LEN;

	while (at + 4 <= cb->len) {
		uint16_t t = (uint16_t)(cb->b[at] << 8 | cb->b[at + 1]);
		uint16_t l = (uint16_t)(cb->b[at + 2] << 8 | cb->b[at + 3]);

		if (t == 0)
			break;
		at += 4 + (l + 3u) / 4 * 4;
	}
	return at;
}

/*
 * Rebuild cb: its TLVs without those of type drop (0: keep all), then the
 * raw octets extra, zero-padded to 8 (plus extra_units more units).
 */
static void
rewrap(struct cdbuf *cb, uint16_t drop, const uint8_t *extra, size_t elen, unsigned extra_units)
{
	struct cdbuf out;
	size_t at = CTP_CDB_HDR_LEN, end = tlv_end(cb);

	memset(&out, 0, sizeof out);
	memcpy(out.b, cb->b, CTP_CDB_HDR_LEN);
	out.len = CTP_CDB_HDR_LEN;
	while (at < end) {
		uint16_t t = (uint16_t)(cb->b[at] << 8 | cb->b[at + 1]);
		uint16_t l = (uint16_t)(cb->b[at + 2] << 8 | cb->b[at + 3]);
		size_t n = 4 + (l + 3u) / 4 * 4;

		if (t != drop || drop == 0) {
			memcpy(out.b + out.len, cb->b + at, n);
			out.len += n;
		}
		at += n;
	}
	if (elen)
		memcpy(out.b + out.len, extra, elen);
	out.len += elen;
	out.len = (out.len + 7) / 8 * 8 + 8 * extra_units;
	out.b[2] = (uint8_t)(out.len / 8);
	*cb = out;
	CU_ASSERT_EQUAL(cdb_parse(cb, 0), 1);
}

/* The octets of one TLV of cb (header and padding), into tlv. */
static size_t
copy_tlv(const struct cdbuf *cb, uint16_t type, uint8_t *tlv)
{
	size_t at = find_tlv(cb, type);
	uint16_t l;

	CU_ASSERT_FATAL(at != 0);
	l = (uint16_t)(cb->b[at + 2] << 8 | cb->b[at + 3]);
	memcpy(tlv, cb->b + at, 4 + (l + 3u) / 4 * 4);
	return 4 + (l + 3u) / 4 * 4;
}

static int
decode_cb(struct cdbuf *cb, struct ctp_err *err)
{
	struct ipsec_sa sa;
	int rc;

	ctp_err_clear(err);
	rc = ipsec_sa_decode(&cb->cdb, &sa, err);
	ipsec_sa_clear(&sa);
	return rc;
}

static void
expect_rc(const char *what, int rc, const struct ctp_err *err, int code, int status)
{
	if (rc != code || (code != 0 && status >= 0 && err->status != status)) {
		fprintf(stderr, "\n    %s: got %s status 0x%02x (%s), want %s status 0x%02x\n",
		    what, ctp_errname(rc), err->status, err->what, ctp_errname(code), status);
		CU_FAIL(what);
	} else
		CU_PASS(what);
	if (code != 0)
		CU_ASSERT(err->what[0] != '\0');
}

/* A complete SA with every TLV: ESP tunnel, outbound, ESN and anti-replay. */
static void
sa_full(struct ipsec_sa *sa, unsigned family)
{
	ipsec_sa_clear(sa);
	sa->spi = 0xc0ffee01;
	sa->protocol = CTP_IPPROTO_ESP;
	sa->mode = CTP_MODE_TUNNEL;
	sa->direction = CTP_DIRECTION_OUT;
	sa->flags = IPSEC_SA_F_ESN | IPSEC_SA_F_ANTI_REPLAY;
	sa->family = (uint8_t)family;
	sa->sa_type = CTP_SA_TYPE_TYPE3;
	sa->moves = IPSEC_MOVES_LOCAL;
	set_addr(&sa->local, family == 4 ? "192.0.2.1" : "2001:db8:1::1");
	set_addr(&sa->peer, family == 4 ? "198.51.100.7" : "2001:db8:2::7");

	sa->nsel = 2;
	sa->sel[0].family = 4;
	sa->sel[0].ulp = 6;
	sa->sel[0].src_plen = 16;
	sa->sel[0].dst_plen = 24;
	set_addr(&sa->sel[0].src, "10.1.0.0");
	set_addr(&sa->sel[0].dst, "10.2.3.0");
	sa->sel[0].sport_hi = 65535;
	sa->sel[0].dport_lo = sa->sel[0].dport_hi = 443;
	sa->sel[1].family = 6;
	sa->sel[1].ulp = 17;
	sa->sel[1].src_plen = 48;
	sa->sel[1].dst_plen = 64;
	set_addr(&sa->sel[1].src, "2001:db8:a::");
	set_addr(&sa->sel[1].dst, "2001:db8:b:c::");
	sa->sel[1].sport_hi = 65535;
	sa->sel[1].dport_lo = 500;
	sa->sel[1].dport_hi = 4500;

	sa->has_encr = sa->has_integ = true;
	if (family == 4) {
		/* AEAD: AES-GCM-16, 256-bit key and salt; INTEG NONE */
		sa->encr.id = CTP_ENCR_AES_GCM_16;
		sa->encr.key_bits = 256;
		sa->encr.key_len = 36;
		sa->integ.id = CTP_INTEG_NONE;
		sa->integ.key_len = 0;
	} else {
		sa->encr.id = CTP_ENCR_AES_CBC;
		sa->encr.key_bits = 128;
		sa->encr.key_len = 16;
		sa->integ.id = CTP_INTEG_HMAC_SHA2_256_128;
		sa->integ.key_len = 32;
	}
	fill(sa->encr.key, sa->encr.key_len, 0x11);
	fill(sa->integ.key, sa->integ.key_len, 0x55);

	sa->has_seq_out = true;
	sa->seq_out.next = (UINT64_C(1) << 32) + 5 + 16384;
	sa->seq_out.margin = 16384;

	sa->has_replay = true;
	sa->replay.window = 128;
	sa->replay.highest = family == 4 ? 1000 : (UINT64_C(1) << 32) + 77;
	sa->replay.bitmap_len = 16;
	fill(sa->replay.bitmap, 16, 0x3c);
	sa->replay.bitmap[0] = 0xff;

	sa->has_lifetime = true;
	sa->lifetime.soft_bytes = UINT64_C(1) << 30;
	sa->lifetime.hard_bytes = UINT64_C(1) << 31;
	sa->lifetime.soft_packets = 1000000;
	sa->lifetime.hard_packets = 2000000;
	sa->lifetime.soft_add_s = 3000;
	sa->lifetime.hard_add_s = 3600;
	sa->lifetime.soft_use_s = 1800;
	sa->lifetime.hard_use_s = 2400;

	sa->has_usage = true;
	sa->usage.bytes = 123456;
	sa->usage.packets = 789;
	sa->usage.add_ms = 60000;
	sa->usage.use_ms = 59000;

	sa->has_snapshot_age = true;
	sa->snapshot_age_ms = 15;

	sa->has_encap = true;
	sa->encap.type = CTP_ENCAP_ESPINUDP;
	sa->encap.sport = sa->encap.dport = 4500;

	sa->has_pmtu = true;
	sa->pmtu.pmtu = 1400;
	sa->pmtu.df = CTP_DF_COPY;

	sa->has_dscp = true;
	sa->dscp.bitmap = UINT64_C(0x00000000ffff0001);
	sa->dscp.flags = IPSEC_DSCP_F_BYPASS;

	sa->has_sel_name = true;
	sa->sel_name.type = CTP_NAME_TYPE_FQDN;
	sa->sel_name.len = 15;
	memcpy(sa->sel_name.octets, "mn1.example.net", 15);

	sa->has_sel_sensitivity = true;
	sa->sel_sensitivity.doi = 1;
	sa->sel_sensitivity.len = 3;
	memcpy(sa->sel_sensitivity.level, "\x01\x02\x03", 3);

	sa->has_bundle = true;
	sa->bundle.id = 7;
	sa->bundle.position = 0;
	sa->bundle.kind = CTP_BUNDLE_KIND_ITERATED_TUNNELLING;
	sa->bundle.count = 2;

	sa->has_virtual_sg = true;
	set_addr(&sa->virtual_sg, family == 4 ? "192.0.2.100" : "2001:db8::100");

	sa->has_xfrm_ref = true;
	sa->xfrm_ref.reqid = 42;
	sa->xfrm_ref.mark_value = 0x10;
	sa->xfrm_ref.mark_mask = 0xff;
	sa->xfrm_ref.if_id = 3;
}

/* An inbound transport-mode SA with AES-CBC and HMAC-SHA2-256, no ESN. */
static void
sa_inbound(struct ipsec_sa *sa, unsigned family)
{
	ipsec_sa_clear(sa);
	sa->spi = 0x00001234;
	sa->protocol = CTP_IPPROTO_ESP;
	sa->mode = CTP_MODE_TRANSPORT;
	sa->direction = CTP_DIRECTION_IN;
	sa->flags = IPSEC_SA_F_ANTI_REPLAY;
	sa->family = (uint8_t)family;
	sa->sa_type = CTP_SA_TYPE_TYPE5;
	sa->moves = IPSEC_MOVES_LOCAL | IPSEC_MOVES_PEER;
	set_addr(&sa->local, family == 4 ? "192.0.2.1" : "2001:db8:1::1");
	set_addr(&sa->peer, family == 4 ? "192.0.2.10" : "2001:db8:1::10");
	sa->nsel = 1;
	sa->sel[0].family = (uint8_t)family;
	sa->sel[0].src_plen = sa->sel[0].dst_plen = family == 4 ? 32 : 128;
	sa->sel[0].src = sa->peer;
	sa->sel[0].dst = sa->local;
	sa->sel[0].sport_hi = sa->sel[0].dport_hi = 65535;
	sa->has_encr = sa->has_integ = true;
	sa->encr.id = CTP_ENCR_AES_CBC;
	sa->encr.key_bits = 128;
	sa->encr.key_len = 16;
	fill(sa->encr.key, 16, 0x21);
	sa->integ.id = CTP_INTEG_HMAC_SHA2_256_128;
	sa->integ.key_len = 32;
	fill(sa->integ.key, 32, 0x61);
	sa->has_replay = true;
	sa->replay.window = 64;
	sa->replay.highest = 70;
	sa->replay.bitmap_len = 8;
	memcpy(sa->replay.bitmap, "\xf7\xff\xff\xff\xff\xfe\xff\xc0", 8);
}

/* Clear the where parts so two decodes of different buffers compare equal. */
static int
sa_equal(const struct ipsec_sa *a, const struct ipsec_sa *b)
{
	struct ipsec_sa x = *a, y = *b;
	int eq;

	memset(&x.where, 0, sizeof x.where);
	memset(&y.where, 0, sizeof y.where);
	eq = memcmp(&x, &y, sizeof x) == 0;
	ipsec_sa_clear(&x);
	ipsec_sa_clear(&y);
	return eq;
}

/* ---- the algorithm table ---------------------------------------------------- */

static void
test_alg_table(void)
{
	static const struct {
		unsigned type, id, salt, icv, block, iv, bits;
		int aead;
		const char *xfrm, *evp;
	} want[] = {
		{ IPSEC_ALG_ENCR, 3, 0, 0, 8, 8, 192, 0, "cbc(des3_ede)", "DES-EDE3-CBC" },
		{ IPSEC_ALG_ENCR, 11, 0, 0, 1, 0, 0, 0, "ecb(cipher_null)", "NULL" },
		{ IPSEC_ALG_ENCR, 12, 0, 0, 16, 16, 256, 0, "cbc(aes)", "AES-256-CBC" },
		{ IPSEC_ALG_ENCR, 13, 4, 0, 1, 8, 192, 0, "rfc3686(ctr(aes))", "AES-192-CTR" },
		{ IPSEC_ALG_ENCR, 18, 4, 8, 1, 8, 128, 1, "rfc4106(gcm(aes))", "AES-128-GCM" },
		{ IPSEC_ALG_ENCR, 19, 4, 12, 1, 8, 192, 1, "rfc4106(gcm(aes))", "AES-192-GCM" },
		{ IPSEC_ALG_ENCR, 20, 4, 16, 1, 8, 256, 1, "rfc4106(gcm(aes))", "AES-256-GCM" },
		{ IPSEC_ALG_ENCR, 28, 4, 16, 1, 8, 256, 1, "rfc7539esp(chacha20,poly1305)",
		  "ChaCha20-Poly1305" },
		{ IPSEC_ALG_INTEG, 2, 0, 12, 0, 0, 160, 0, "hmac(sha1)", "SHA1" },
		{ IPSEC_ALG_INTEG, 12, 0, 16, 0, 0, 256, 0, "hmac(sha256)", "SHA256" },
		{ IPSEC_ALG_INTEG, 13, 0, 24, 0, 0, 384, 0, "hmac(sha384)", "SHA384" },
		{ IPSEC_ALG_INTEG, 14, 0, 32, 0, 0, 512, 0, "hmac(sha512)", "SHA512" },
	};

	CU_ASSERT_EQUAL(ipsec_alg_count, 13);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct ipsec_alg *a = ipsec_alg_find(want[i].type, want[i].id);
		const struct ipsec_alg_keylen *k;

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_EQUAL(a->salt_len, want[i].salt);
		CU_ASSERT_EQUAL(a->icv_len, want[i].icv);
		CU_ASSERT_EQUAL(a->block_len, want[i].block);
		CU_ASSERT_EQUAL(a->iv_len, want[i].iv);
		CU_ASSERT_EQUAL(a->aead, want[i].aead);
		CU_ASSERT_STRING_EQUAL(a->xfrm, want[i].xfrm);
		CU_ASSERT_PTR_NOT_NULL_FATAL((k = ipsec_alg_keylen(a, want[i].bits)));
		CU_ASSERT_STRING_EQUAL(k->evp, want[i].evp);
		CU_ASSERT_PTR_EQUAL(ipsec_alg_by_xfrm(want[i].type, want[i].xfrm, want[i].icv), a);
	}
	/* AES key lengths, and what is not allowed */
	CU_ASSERT_PTR_NOT_NULL(ipsec_alg_keylen(ipsec_alg_find(1, 12), 128));
	CU_ASSERT_PTR_NOT_NULL(ipsec_alg_keylen(ipsec_alg_find(1, 12), 192));
	CU_ASSERT_PTR_NULL(ipsec_alg_keylen(ipsec_alg_find(1, 12), 64));
	CU_ASSERT_PTR_NULL(ipsec_alg_keylen(ipsec_alg_find(1, 28), 128));
	CU_ASSERT_EQUAL(ipsec_alg_key_octets(ipsec_alg_find(1, 20), 128), 20);
	CU_ASSERT_EQUAL(ipsec_alg_key_octets(ipsec_alg_find(1, 28), 256), 36);
	CU_ASSERT_EQUAL(ipsec_alg_key_octets(ipsec_alg_find(3, 14), 512), 64);
	CU_ASSERT_EQUAL(ipsec_alg_find(3, 0)->xfrm_attr, IPSEC_XFRM_NONE);
	CU_ASSERT_EQUAL(ipsec_alg_find(1, 19)->xfrm_attr, IPSEC_XFRM_AEAD);
	CU_ASSERT_EQUAL(ipsec_alg_find(3, 2)->xfrm_attr, IPSEC_XFRM_AUTH_TRUNC);
	CU_ASSERT_PTR_NULL(ipsec_alg_by_xfrm(IPSEC_ALG_ENCR, "rfc4106(gcm(aes))", 4));
	CU_ASSERT_PTR_NULL(ipsec_alg_by_xfrm(IPSEC_ALG_INTEG, "hmac(sha256)", 12));
	/* refused and unknown */
	CU_ASSERT_PTR_NULL(ipsec_alg_find(1, 2));
	CU_ASSERT_PTR_NOT_NULL(ipsec_alg_forbidden(1, 1));
	CU_ASSERT_PTR_NOT_NULL(ipsec_alg_forbidden(1, 2));
	CU_ASSERT_PTR_NOT_NULL(ipsec_alg_forbidden(3, 1));
	CU_ASSERT_PTR_NOT_NULL(ipsec_alg_forbidden(3, 4));
	CU_ASSERT_PTR_NULL(ipsec_alg_forbidden(1, 3));
	CU_ASSERT_PTR_NULL(ipsec_alg_forbidden(1, 14));
	{
		const struct ipsec_alg *a;
		struct ctp_err err;

		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ipsec_alg_get(1, 2, &a, 9, &err), CTP_E_VALUE);
		CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_POLICY);
		CU_ASSERT_EQUAL(err.off, 9);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ipsec_alg_get(3, 5, &a, 9, &err), CTP_E_VALUE);
		CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_ALG_UNSUPPORTED);
		CU_ASSERT_EQUAL(ipsec_alg_get(1, 20, &a, 9, NULL), 0);
		CU_ASSERT_STRING_EQUAL(a->name, "ENCR_AES_GCM_16");
	}
}

/* ---- SA round trips -------------------------------------------------------- */

static void
roundtrip_sa(unsigned family)
{
	struct ipsec_sa sa, out, again;
	struct cdbuf cb, cb2;
	struct ctp_err err;
	unsigned types = 0;

	sa_full(&sa, family);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sa_verify(&sa, &err), 0);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	CU_ASSERT_EQUAL(cb.len % 8, 0);
	CU_ASSERT_EQUAL(cb.b[0], 0xff);
	CU_ASSERT_EQUAL(cb.b[1], 0x01);
	CU_ASSERT_EQUAL(cb.b[2], cb.len / 8);
	CU_ASSERT_EQUAL(cb.b[3], 0);
	/* every TLV type of PROFILE 6 is on the wire */
	for (uint16_t t = 1; t <= 0x12; t++)
		if (find_tlv(&cb, t) || find_tlv(&cb, (uint16_t)(t | CTP_TLV_CRITICAL)))
			types++;
	CU_ASSERT_EQUAL(types, 18);

	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode(&cb.cdb, &out, &err), 0);
	CU_ASSERT(sa_equal(&sa, &out));
	CU_ASSERT_EQUAL(out.where.sa_id, 4);
	CU_ASSERT_EQUAL(out.where.endpoints, 16);
	CU_ASSERT_EQUAL(out.nsel, 2);
	CU_ASSERT_EQUAL(out.encr.key_len, family == 4 ? 36 : 16);
	CU_ASSERT_EQUAL(out.seq_out.next, (UINT64_C(1) << 32) + 16389);
	CU_ASSERT(ctp_addr_eq(&out.virtual_sg, &sa.virtual_sg));

	/* the encoding is canonical: decode then encode gives the same octets */
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&out, &cb2), 0);
	CU_ASSERT_EQUAL(cb2.len, cb.len);
	CU_ASSERT(memcmp(cb.b, cb2.b, cb.len) == 0);

	/* at a message offset, the where parts move with it */
	CU_ASSERT_EQUAL(cdb_parse(&cb, 40), 1);
	CU_ASSERT_EQUAL(ipsec_sa_decode(&cb.cdb, &again, &err), 0);
	CU_ASSERT_EQUAL(again.where.sa_id, 44);
	CU_ASSERT(sa_equal(&again, &out));

	/* clear wipes the keys */
	ipsec_sa_clear(&out);
	for (size_t i = 0; i < sizeof out.encr.key; i++)
		CU_ASSERT_EQUAL(out.encr.key[i], 0);
	CU_ASSERT_EQUAL(out.has_encr, false);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&again);
}

static void
test_sa_roundtrip_v4(void)
{
	roundtrip_sa(4);
}

static void
test_sa_roundtrip_v6(void)
{
	roundtrip_sa(6);
}

static void
test_sa_roundtrip_minimal(void)
{
	struct ipsec_sa sa, out;
	struct cdbuf cb;
	struct ctp_err err;

	/* SA_ID, ENDPOINTS, ENCR, INTEG only: an inbound SA without anti-replay */
	sa_inbound(&sa, 4);
	sa.flags = 0;
	sa.has_replay = false;
	memset(&sa.replay, 0, sizeof sa.replay);
	sa.nsel = 0;
	memset(sa.sel, 0, sizeof sa.sel);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sa_decode(&cb.cdb, &out, &err), 0);
	CU_ASSERT(sa_equal(&sa, &out));
	CU_ASSERT_EQUAL(cb.len, 4 + 12 + 16 + 20 + 40 + 4);
	ipsec_sa_clear(&out);
}

/* Every octet of sa zero? */
static int
sa_is_zero(const struct ipsec_sa *sa)
{
	const uint8_t *p = (const uint8_t *)sa;

	for (size_t i = 0; i < sizeof *sa; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * ipsec_sa_decode_reuse and ipsec_sa_reset (the sink's scratch, issue 8):
 * a short SA decoded into a struct that held a full one leaves nothing of
 * it, octet for octet the same as a decode into a fresh struct; reset and
 * a failed decode leave the struct all zero, keys included.
 */
static void
test_sa_decode_reuse(void)
{
	static const uint8_t unknown_crit[] = { 0x80, 0x63, 0x00, 0x00 };
	struct ipsec_sa sa, fresh, *reuse = calloc(1, sizeof *reuse);
	struct cdbuf full, shrt, bad;
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(reuse);
	sa_full(&sa, 4);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &full), 0);
	sa_inbound(&sa, 4);
	sa.flags = 0;
	sa.has_replay = false;
	memset(&sa.replay, 0, sizeof sa.replay);
	sa.nsel = 0;
	memset(sa.sel, 0, sizeof sa.sel);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &shrt), 0);
	ipsec_sa_clear(&sa);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode(&shrt.cdb, &fresh, &err), 0);

	/* full, then short: every field of the full one gone */
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode_reuse(&full.cdb, reuse, &err), 0);
	CU_ASSERT(reuse->has_sel_name && reuse->has_replay && reuse->nsel == 2);
	CU_ASSERT_EQUAL(reuse->encr.key_len, 36);
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode_reuse(&shrt.cdb, reuse, &err), 0);
	CU_ASSERT(memcmp(reuse, &fresh, sizeof fresh) == 0);
	CU_ASSERT(!reuse->has_replay && !reuse->has_sel_name && !reuse->has_sel_sensitivity &&
	    !reuse->has_lifetime && !reuse->has_usage && !reuse->has_seq_out &&
	    !reuse->has_virtual_sg && !reuse->has_xfrm_ref && !reuse->has_bundle);
	CU_ASSERT_EQUAL(reuse->nsel, 0);
	CU_ASSERT_EQUAL(reuse->encr.key_len, 16);
	for (size_t i = 16; i < sizeof reuse->encr.key; i++)
		CU_ASSERT_EQUAL(reuse->encr.key[i], 0);
	for (size_t i = 0; i < sizeof reuse->replay.bitmap; i++)
		CU_ASSERT_EQUAL(reuse->replay.bitmap[i], 0);
	for (size_t i = 0; i < sizeof reuse->sel_name.octets; i++)
		CU_ASSERT_EQUAL(reuse->sel_name.octets[i], 0);
	CU_ASSERT_EQUAL(reuse->where.selector[0], 0);

	/* reset: all zero, keys wiped */
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode_reuse(&full.cdb, reuse, &err), 0);
	ipsec_sa_reset(reuse);
	CU_ASSERT(sa_is_zero(reuse));

	/* a failed decode after a full one: all zero too */
	CU_ASSERT_EQUAL_FATAL(ipsec_sa_decode_reuse(&full.cdb, reuse, &err), 0);
	bad = full;
	rewrap(&bad, 0, unknown_crit, sizeof unknown_crit, 0);
	CU_ASSERT_EQUAL(ipsec_sa_decode_reuse(&bad.cdb, reuse, &err), CTP_E_CRITICAL);
	CU_ASSERT(sa_is_zero(reuse));
	ipsec_sa_clear(&fresh);
	free(reuse);
}

/* ---- rules of meaning ----------------------------------------------------- */

/* 3DES with three different keys and HMAC-SHA1 */
static void
use_3des(struct ipsec_sa *sa)
{
	sa->encr.id = CTP_ENCR_3DES;
	sa->encr.key_bits = 192;
	sa->encr.key_len = 24;
	fill(sa->encr.key, 24, 0x40);
	sa->has_integ = true;
	sa->integ.id = CTP_INTEG_HMAC_SHA1_96;
	sa->integ.key_len = 20;
}

static void
use_cbc(struct ipsec_sa *sa)
{
	sa->encr.id = CTP_ENCR_AES_CBC;
	sa->encr.key_bits = 128;
	sa->encr.key_len = 16;
	sa->has_integ = true;
	sa->integ.id = CTP_INTEG_HMAC_SHA2_256_128;
	sa->integ.key_len = 32;
}

static void
use_ah(struct ipsec_sa *sa)
{
	sa->protocol = CTP_IPPROTO_AH;
	sa->has_encr = false;
	sa->has_encap = false;
	sa->has_integ = true;
	sa->integ.id = CTP_INTEG_HMAC_SHA2_512_256;
	sa->integ.key_len = 64;
}

#define RULE(name, ...) \
	static void rule_##name(struct ipsec_sa *sa) { __VA_ARGS__; }

RULE(spi_zero, sa->spi = 0)
RULE(spi_reserved, sa->spi = 255)
RULE(spi_256, sa->spi = 256)
RULE(protocol, sa->protocol = 52)
RULE(mode, sa->mode = 3)
RULE(direction, sa->direction = 0)
RULE(flags, sa->flags |= 0x08)
RULE(sa_type, sa->sa_type = 2)
RULE(moves, sa->moves = 0x04)
RULE(local_unspec, memset(sa->local.a, 0, 16))
RULE(peer_unspec, memset(sa->peer.a, 0, 16))
RULE(sel_plen4, sa->sel[0].src_plen = 33)
RULE(sel_plen6, sa->sel[1].dst_plen = 129)
RULE(sel_plen6_max, sa->sel[1].dst_plen = 128)
RULE(sel_sport, sa->sel[0].sport_lo = 10; sa->sel[0].sport_hi = 9)
RULE(sel_dport, sa->sel[1].dport_lo = 4501)
RULE(sel_transport_mixed, sa->mode = CTP_MODE_TRANSPORT)
RULE(sel_transport_same, sa->mode = CTP_MODE_TRANSPORT; sa->nsel = 1)
RULE(esp_no_encr, sa->has_encr = false)
RULE(ah_with_encr, use_ah(sa); sa->has_encr = true)
RULE(ah_no_integ, use_ah(sa); sa->has_integ = false)
RULE(ah_integ_none, use_ah(sa); sa->integ.id = 0; sa->integ.key_len = 0)
RULE(ah_ok, use_ah(sa))
RULE(encr_unknown, sa->encr.id = 14)
RULE(encr_des, sa->encr.id = 2; sa->encr.key_bits = 64; sa->encr.key_len = 8)
RULE(encr_des_iv64, sa->encr.id = 1)
RULE(encr_blowfish, sa->encr.id = 7)
RULE(integ_md5, use_cbc(sa); sa->integ.id = 1; sa->integ.key_len = 16)
RULE(integ_kpdk_md5, sa->integ.id = 4)
RULE(integ_unknown, use_cbc(sa); sa->integ.id = 5)
RULE(key_bits_bad, sa->encr.key_bits = 100)
RULE(gcm_no_salt, sa->encr.key_len = 32)
RULE(gcm_128_ok, sa->encr.id = 18; sa->encr.key_bits = 128; sa->encr.key_len = 20)
RULE(aead_with_hmac, sa->integ.id = CTP_INTEG_HMAC_SHA2_256_128; sa->integ.key_len = 32)
RULE(aead_no_integ, sa->has_integ = false)
RULE(cbc_key_len, use_cbc(sa); sa->encr.key_len = 24)
RULE(cbc_192_ok, use_cbc(sa); sa->encr.key_bits = 192; sa->encr.key_len = 24)
RULE(cbc_no_integ, use_cbc(sa); sa->has_integ = false)
RULE(cbc_integ_none, use_cbc(sa); sa->integ.id = 0; sa->integ.key_len = 0)
RULE(null_null, sa->encr.id = CTP_ENCR_NULL; sa->encr.key_bits = 0; sa->encr.key_len = 0)
RULE(null_absent, rule_null_null(sa); sa->has_integ = false)
RULE(null_sha1, rule_null_null(sa); sa->integ.id = 2; sa->integ.key_len = 20)
RULE(null_with_key, rule_null_sha1(sa); sa->encr.key_len = 4)
RULE(des3_ok, use_3des(sa))
RULE(des3_16, use_3des(sa); sa->encr.key_len = 16)
RULE(des3_bits128, use_3des(sa); sa->encr.key_bits = 128; sa->encr.key_len = 16)
RULE(des3_k1k2, use_3des(sa); memcpy(sa->encr.key + 8, sa->encr.key, 8); sa->encr.key[8] ^= 1)
RULE(des3_k2k3, use_3des(sa); memcpy(sa->encr.key + 16, sa->encr.key + 8, 8))
RULE(ctr_ok, use_cbc(sa); sa->encr.id = CTP_ENCR_AES_CTR; sa->encr.key_bits = 192;
    sa->encr.key_len = 28; sa->integ.id = CTP_INTEG_HMAC_SHA2_384_192; sa->integ.key_len = 48)
RULE(ctr_no_salt, rule_ctr_ok(sa); sa->encr.key_len = 24)
RULE(chacha_ok, sa->encr.id = 28; sa->encr.key_bits = 256; sa->encr.key_len = 36;
    sa->has_integ = false)
RULE(chacha_128, rule_chacha_ok(sa); sa->encr.key_bits = 128; sa->encr.key_len = 20)
RULE(integ_key_len, use_cbc(sa); sa->integ.id = 14; sa->integ.key_len = 32)
RULE(sha1_key_len, use_cbc(sa); sa->integ.id = 2; sa->integ.key_len = 12)
RULE(seq_exhausted, sa->flags &= (uint8_t)~IPSEC_SA_F_ESN; sa->seq_out.next = UINT64_C(1) << 32)
RULE(seq_max, sa->flags &= (uint8_t)~IPSEC_SA_F_ESN; sa->seq_out.next = 0xffffffff)
RULE(seq_esn, sa->seq_out.next = UINT64_C(1) << 40)
RULE(seq_zero, sa->seq_out.next = 0; sa->seq_out.margin = 0)
RULE(seq_margin, sa->seq_out.next = 100)
RULE(out_no_seq, sa->has_seq_out = false)
RULE(in_no_seq, sa->direction = CTP_DIRECTION_IN; sa->has_seq_out = false)
RULE(replay_exhausted, sa->flags &= (uint8_t)~IPSEC_SA_F_ESN; sa->seq_out.next = 20000;
    sa->replay.highest = UINT64_C(1) << 32)
RULE(anti_replay_missing, sa->has_replay = false)
RULE(replay_off, sa->flags &= (uint8_t)~IPSEC_SA_F_ANTI_REPLAY; sa->has_replay = false)
RULE(window_48, sa->replay.window = 48; sa->replay.bitmap_len = 6)
RULE(window_4128, sa->replay.window = 4128; sa->replay.bitmap_len = 512)
RULE(window_4096, sa->replay.window = 4096; sa->replay.bitmap_len = 512;
    sa->replay.highest = 5000)
RULE(window_0_anti, sa->replay.window = 0; sa->replay.bitmap_len = 0)
RULE(window_0, rule_window_0_anti(sa); sa->flags &= (uint8_t)~IPSEC_SA_F_ANTI_REPLAY)
RULE(bitmap_len, sa->replay.bitmap_len = 8)
RULE(bitmap_below_one, sa->replay.highest = 10; memset(sa->replay.bitmap, 0, 16);
    sa->replay.bitmap[0] = 0x80; sa->replay.bitmap[1] = 0x20)
RULE(bitmap_at_one, rule_bitmap_below_one(sa); sa->replay.bitmap[1] = 0x40)
RULE(bitmap_no_highest, sa->replay.bitmap[0] = 0x7f)
RULE(bitmap_nothing_yet, sa->replay.highest = 0; memset(sa->replay.bitmap, 0, 16))
RULE(life_bytes, sa->lifetime.soft_bytes = sa->lifetime.hard_bytes + 1)
RULE(life_packets, sa->lifetime.soft_packets = sa->lifetime.hard_packets + 1)
RULE(life_add, sa->lifetime.soft_add_s = sa->lifetime.hard_add_s + 1)
RULE(life_use, sa->lifetime.soft_use_s = sa->lifetime.hard_use_s + 1)
RULE(life_soft_only, sa->lifetime.hard_bytes = 0; sa->lifetime.soft_bytes = 5)
RULE(expired_bytes, sa->usage.bytes = sa->lifetime.hard_bytes)
RULE(expired_packets, sa->usage.packets = sa->lifetime.hard_packets + 1)
RULE(expired_add, sa->usage.add_ms = 3600 * 1000 - 10)
RULE(fresh_add, sa->usage.add_ms = 3600 * 1000 - 16)
RULE(expired_use, sa->usage.use_ms = 2400 * 1000)
RULE(unused_no_use_limit, sa->usage.use_ms = 0; sa->lifetime.hard_use_s = 1;
    sa->lifetime.soft_use_s = 0)
RULE(encap_type, sa->encap.type = 2)
RULE(encap_ah, use_ah(sa); sa->has_encap = true)
RULE(encap_port0, sa->encap.dport = 0)
RULE(pmtu_67, sa->pmtu.pmtu = 67)
RULE(pmtu_68, sa->pmtu.pmtu = 68)
RULE(pmtu_1279, sa->pmtu.pmtu = 1279)
RULE(pmtu_1280, sa->pmtu.pmtu = 1280)
RULE(df_3, sa->pmtu.df = 3)
RULE(dscp_flags, sa->dscp.flags = 0x02)
RULE(name_type, sa->sel_name.type = 5)
RULE(name_type0, sa->sel_name.type = 0)
RULE(name_empty, sa->sel_name.len = 0)
RULE(bundle_pos, sa->bundle.position = 2)
RULE(bundle_count, sa->bundle.count = 1)
RULE(bundle_kind, sa->bundle.kind = 3)
RULE(bundle_last, sa->bundle.position = 4; sa->bundle.count = 5;
    sa->bundle.kind = CTP_BUNDLE_KIND_TRANSPORT_ADJACENCY)
RULE(vsg_unspec, memset(sa->virtual_sg.a, 0, 16))
RULE(vsg_other_family, set_addr(&sa->virtual_sg, "2001:db8::1"))

static const struct rule_case {
	const char *name;
	void      (*apply)(struct ipsec_sa *);
	unsigned    family;   /* the sa_full() it starts from */
	int         code;
	int         status;
} rule_cases[] = {
#define OK(n, f)     { #n, rule_##n, f, 0, 0 }
#define BAD(n, f, s) { #n, rule_##n, f, CTP_E_VALUE, s }
	BAD(spi_zero, 4, CTP_ST_MALFORMED_CDB),
	BAD(spi_reserved, 4, CTP_ST_MALFORMED_CDB),
	OK(spi_256, 4),
	BAD(protocol, 4, CTP_ST_MALFORMED_CDB),
	BAD(mode, 4, CTP_ST_MALFORMED_CDB),
	BAD(direction, 4, CTP_ST_MALFORMED_CDB),
	BAD(flags, 4, CTP_ST_MALFORMED_CDB),
	BAD(sa_type, 4, CTP_ST_MALFORMED_CDB),
	BAD(moves, 6, CTP_ST_MALFORMED_CDB),
	BAD(local_unspec, 4, CTP_ST_MALFORMED_CDB),
	BAD(peer_unspec, 6, CTP_ST_MALFORMED_CDB),
	BAD(sel_plen4, 4, CTP_ST_MALFORMED_CDB),
	BAD(sel_plen6, 4, CTP_ST_MALFORMED_CDB),
	OK(sel_plen6_max, 4),
	BAD(sel_sport, 4, CTP_ST_MALFORMED_CDB),
	BAD(sel_dport, 6, CTP_ST_MALFORMED_CDB),
	BAD(sel_transport_mixed, 4, CTP_ST_MALFORMED_CDB),
	OK(sel_transport_same, 4),
	BAD(esp_no_encr, 4, CTP_ST_MALFORMED_CDB),
	BAD(ah_with_encr, 4, CTP_ST_MALFORMED_CDB),
	BAD(ah_no_integ, 4, CTP_ST_MALFORMED_CDB),
	BAD(ah_integ_none, 4, CTP_ST_MALFORMED_CDB),
	OK(ah_ok, 6),
	BAD(encr_unknown, 4, CTP_ST_IPSEC_ALG_UNSUPPORTED),
	BAD(encr_des, 4, CTP_ST_IPSEC_POLICY),
	BAD(encr_des_iv64, 4, CTP_ST_IPSEC_POLICY),
	BAD(encr_blowfish, 6, CTP_ST_IPSEC_POLICY),
	BAD(integ_md5, 4, CTP_ST_IPSEC_POLICY),
	BAD(integ_kpdk_md5, 6, CTP_ST_IPSEC_POLICY),
	BAD(integ_unknown, 4, CTP_ST_IPSEC_ALG_UNSUPPORTED),
	BAD(key_bits_bad, 4, CTP_ST_MALFORMED_CDB),
	BAD(gcm_no_salt, 4, CTP_ST_MALFORMED_CDB),
	OK(gcm_128_ok, 4),
	BAD(aead_with_hmac, 4, CTP_ST_MALFORMED_CDB),
	OK(aead_no_integ, 4),
	BAD(cbc_key_len, 4, CTP_ST_MALFORMED_CDB),
	OK(cbc_192_ok, 4),
	BAD(cbc_no_integ, 4, CTP_ST_IPSEC_POLICY),
	BAD(cbc_integ_none, 6, CTP_ST_IPSEC_POLICY),
	BAD(null_null, 4, CTP_ST_MALFORMED_CDB),
	BAD(null_absent, 4, CTP_ST_MALFORMED_CDB),
	OK(null_sha1, 4),
	BAD(null_with_key, 4, CTP_ST_MALFORMED_CDB),
	OK(des3_ok, 4),
	BAD(des3_16, 4, CTP_ST_MALFORMED_CDB),
	BAD(des3_bits128, 4, CTP_ST_MALFORMED_CDB),
	BAD(des3_k1k2, 4, CTP_ST_IPSEC_POLICY),
	BAD(des3_k2k3, 6, CTP_ST_IPSEC_POLICY),
	OK(ctr_ok, 4),
	BAD(ctr_no_salt, 4, CTP_ST_MALFORMED_CDB),
	OK(chacha_ok, 6),
	BAD(chacha_128, 6, CTP_ST_MALFORMED_CDB),
	BAD(integ_key_len, 4, CTP_ST_MALFORMED_CDB),
	BAD(sha1_key_len, 6, CTP_ST_MALFORMED_CDB),
	BAD(seq_exhausted, 4, CTP_ST_IPSEC_SEQ_EXHAUSTED),
	OK(seq_max, 4),
	OK(seq_esn, 4),
	BAD(seq_zero, 4, CTP_ST_MALFORMED_CDB),
	BAD(seq_margin, 4, CTP_ST_MALFORMED_CDB),
	BAD(out_no_seq, 4, CTP_ST_MALFORMED_CDB),
	OK(in_no_seq, 4),
	BAD(replay_exhausted, 4, CTP_ST_IPSEC_SEQ_EXHAUSTED),
	BAD(anti_replay_missing, 4, CTP_ST_MALFORMED_CDB),
	OK(replay_off, 4),
	BAD(window_48, 4, CTP_ST_MALFORMED_CDB),
	BAD(window_4128, 4, CTP_ST_MALFORMED_CDB),
	OK(window_4096, 4),
	BAD(window_0_anti, 4, CTP_ST_MALFORMED_CDB),
	OK(window_0, 4),
	BAD(bitmap_len, 6, CTP_ST_MALFORMED_CDB),
	BAD(bitmap_below_one, 4, CTP_ST_MALFORMED_CDB),
	OK(bitmap_at_one, 4),
	BAD(bitmap_no_highest, 4, CTP_ST_MALFORMED_CDB),
	OK(bitmap_nothing_yet, 4),
	BAD(life_bytes, 4, CTP_ST_MALFORMED_CDB),
	BAD(life_packets, 4, CTP_ST_MALFORMED_CDB),
	BAD(life_add, 4, CTP_ST_MALFORMED_CDB),
	BAD(life_use, 6, CTP_ST_MALFORMED_CDB),
	OK(life_soft_only, 4),
	BAD(expired_bytes, 4, CTP_ST_IPSEC_LIFETIME_EXPIRED),
	BAD(expired_packets, 4, CTP_ST_IPSEC_LIFETIME_EXPIRED),
	BAD(expired_add, 4, CTP_ST_IPSEC_LIFETIME_EXPIRED),
	OK(fresh_add, 4),
	BAD(expired_use, 6, CTP_ST_IPSEC_LIFETIME_EXPIRED),
	OK(unused_no_use_limit, 4),
	BAD(encap_type, 4, CTP_ST_MALFORMED_CDB),
	BAD(encap_ah, 4, CTP_ST_MALFORMED_CDB),
	BAD(encap_port0, 4, CTP_ST_MALFORMED_CDB),
	BAD(pmtu_67, 4, CTP_ST_MALFORMED_CDB),
	OK(pmtu_68, 4),
	BAD(pmtu_1279, 6, CTP_ST_MALFORMED_CDB),
	OK(pmtu_1280, 6),
	BAD(df_3, 4, CTP_ST_MALFORMED_CDB),
	BAD(dscp_flags, 4, CTP_ST_MALFORMED_CDB),
	BAD(name_type, 4, CTP_ST_MALFORMED_CDB),
	BAD(name_type0, 6, CTP_ST_MALFORMED_CDB),
	BAD(name_empty, 4, CTP_ST_MALFORMED_CDB),
	BAD(bundle_pos, 4, CTP_ST_MALFORMED_CDB),
	BAD(bundle_count, 4, CTP_ST_MALFORMED_CDB),
	BAD(bundle_kind, 4, CTP_ST_MALFORMED_CDB),
	OK(bundle_last, 4),
	BAD(vsg_unspec, 6, CTP_ST_MALFORMED_CDB),
	OK(vsg_other_family, 4),
#undef OK
#undef BAD
};

/* Each rule on its own: through the wire (encode, decode) and on the struct. */
static void
test_sa_rules(void)
{
	for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
		const struct rule_case *rc = &rule_cases[i];
		struct ipsec_sa sa, out;
		struct ctp_err err, verr;
		struct cdbuf cb;
		int got;

		sa_full(&sa, rc->family);
		rc->apply(&sa);
		ctp_err_clear(&verr);
		got = ipsec_sa_verify(&sa, &verr);
		expect_rc(rc->name, got, &verr, rc->code, rc->status);

		CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
		ctp_err_clear(&err);
		got = ipsec_sa_decode(&cb.cdb, &out, &err);
		expect_rc(rc->name, got, &err, rc->code, rc->status);
		if (rc->code) {
			/* the offset names an octet of the CDB, inside a TLV */
			CU_ASSERT(err.off >= CTP_CDB_HDR_LEN && err.off < cb.len);
			CU_ASSERT_EQUAL(out.spi, 0);      /* cleared on failure */
			CU_ASSERT_EQUAL(out.has_encr, false);
		}
		ipsec_sa_clear(&sa);
		ipsec_sa_clear(&out);
	}
}

/* err->off points at the field, in message offsets. */
static void
test_sa_error_offsets(void)
{
	struct ipsec_sa sa;
	struct ctp_err err;
	struct cdbuf cb;
	size_t at;

	sa_full(&sa, 4);
	sa.spi = 0;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	CU_ASSERT_EQUAL(cdb_parse(&cb, 100), 1);
	CU_ASSERT_EQUAL(decode_cb(&cb, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.off, 100 + 4 + 4);   /* CDB header, SA_ID header */

	sa_full(&sa, 4);
	sa.encr.id = CTP_ENCR_3DES;   /* 3DES with a 256-bit key */
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_ENCR);
	CU_ASSERT_EQUAL(cdb_parse(&cb, 100), 1);
	CU_ASSERT_EQUAL(decode_cb(&cb, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.off, 100 + at + 4 + 2);   /* the key length field */
	CU_ASSERT(strstr(err.what, "ENCR_3DES") != NULL);

	sa_full(&sa, 6);
	sa.replay.window = 48;
	sa.replay.bitmap_len = 6;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_REPLAY);
	CU_ASSERT_EQUAL(decode_cb(&cb, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.off, at + 4);
	CU_ASSERT(strstr(err.what, "48") != NULL);
	ipsec_sa_clear(&sa);
}

/* ---- structure ---------------------------------------------------------- */

static void
test_sa_structure(void)
{
	static const uint8_t unknown_crit[] = { 0x80, 0x63, 0x00, 0x04, 1, 2, 3, 4 };
	static const uint8_t unknown_skip[] = { 0x00, 0x63, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0 };
	static const uint8_t seq_short[] = { 0x80, 0x06, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x50, 0 };
	struct ipsec_sa sa, out;
	struct ctp_err err;
	struct cdbuf cb, good;
	uint8_t tlv[600];
	size_t at, n;

	sa_full(&sa, 4);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &good), 0);

	/* a TLV Length running past the CDB */
	copy_cb(&cb, &good);
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_XFRM_REF);
	cb.b[at + 2] = 0x04;
	expect_rc("length past the CDB", decode_cb(&cb, &err), &err, CTP_E_TLV,
	    CTP_ST_MALFORMED_CDB);
	CU_ASSERT_EQUAL(err.off, at + 2);

	/* unknown critical TLV: 0x86, pointing at it */
	copy_cb(&cb, &good);
	rewrap(&cb, 0, unknown_crit, sizeof unknown_crit, 0);
	expect_rc("unknown critical TLV", decode_cb(&cb, &err), &err, CTP_E_CRITICAL,
	    CTP_ST_IPSEC_UNKNOWN_CRITICAL);
	CU_ASSERT_EQUAL(err.off, tlv_end(&good));

	/* unknown non-critical TLV: skipped, and gone after re-encoding */
	copy_cb(&cb, &good);
	rewrap(&cb, 0, unknown_skip, sizeof unknown_skip, 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sa_decode(&cb.cdb, &out, &err), 0);
	CU_ASSERT(sa_equal(&sa, &out));
	CU_ASSERT_EQUAL(sa_to_cdb(&out, &cb), 0);
	CU_ASSERT(cb.len == good.len && memcmp(cb.b, good.b, cb.len) == 0);
	ipsec_sa_clear(&out);

	/* the same non-repeatable TLV twice */
	copy_cb(&cb, &good);
	n = copy_tlv(&cb, CTP_TLV_IPSEC_SA_SA_ID, tlv);
	rewrap(&cb, 0, tlv, n, 0);
	expect_rc("duplicate SA_ID", decode_cb(&cb, &err), &err, CTP_E_DUP, CTP_ST_MALFORMED_CDB);
	copy_cb(&cb, &good);
	n = copy_tlv(&cb, CTP_TLV_IPSEC_SA_ENCR, tlv);
	rewrap(&cb, 0, tlv, n, 0);
	expect_rc("duplicate ENCR", decode_cb(&cb, &err), &err, CTP_E_DUP, CTP_ST_MALFORMED_CDB);

	/* a repeatable one twice is fine */
	copy_cb(&cb, &good);
	n = copy_tlv(&cb, CTP_TLV_IPSEC_SA_SELECTOR, tlv);
	rewrap(&cb, 0, tlv, n, 0);
	CU_ASSERT_EQUAL(decode_cb(&cb, &err), 0);

	/* required TLVs missing */
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_SA_ENDPOINTS, NULL, 0, 0);
	expect_rc("missing ENDPOINTS", decode_cb(&cb, &err), &err, CTP_E_MISSING,
	    CTP_ST_MALFORMED_CDB);
	CU_ASSERT(strstr(err.what, "ENDPOINTS") != NULL);
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_SA_SA_ID, NULL, 0, 0);
	expect_rc("missing SA_ID", decode_cb(&cb, &err), &err, CTP_E_MISSING,
	    CTP_ST_MALFORMED_CDB);

	/* non-zero padding: after a TLV's value, and after the list */
	copy_cb(&cb, &good);
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_SEL_NAME);
	CU_ASSERT_EQUAL(cb.b[at + 3], 19);     /* 4 + 15 octets: one octet of padding */
	cb.b[at + 4 + 19] = 0x01;
	expect_rc("TLV padding", decode_cb(&cb, &err), &err, CTP_E_PAD, CTP_ST_MALFORMED_CDB);
	CU_ASSERT_EQUAL(err.off, at + 4 + 19);
	copy_cb(&cb, &good);
	rewrap(&cb, 0, NULL, 0, 1);
	CU_ASSERT_EQUAL(decode_cb(&cb, &err), 0);   /* Length one unit longer, zeros */
	cb.b[cb.len - 1] = 0x01;
	expect_rc("CDB padding", decode_cb(&cb, &err), &err, CTP_E_PAD, CTP_ST_MALFORMED_CDB);

	/* ENDPOINTS family 5: the address size is unknown */
	copy_cb(&cb, &good);
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_ENDPOINTS);
	cb.b[at + 4] = 5;
	expect_rc("ENDPOINTS family 5", decode_cb(&cb, &err), &err, CTP_E_VALUE,
	    CTP_ST_MALFORMED_CDB);
	/* family 6 in a 12-octet ENDPOINTS: the addresses do not fit */
	cb.b[at + 4] = 6;
	expect_rc("ENDPOINTS family 6 in IPv4 size", decode_cb(&cb, &err), &err, CTP_E_TLV,
	    CTP_ST_MALFORMED_CDB);
	/* VIRTUAL_SG family 6 in an IPv4-sized value */
	copy_cb(&cb, &good);
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_VIRTUAL_SG);
	cb.b[at + 4] = 6;
	expect_rc("VIRTUAL_SG family", decode_cb(&cb, &err), &err, CTP_E_TLV, CTP_ST_MALFORMED_CDB);

	/* a fixed-size TLV of the wrong size */
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_SA_SEQ_OUT, seq_short, sizeof seq_short, 0);
	expect_rc("SEQ_OUT of 8 octets", decode_cb(&cb, &err), &err, CTP_E_TLV,
	    CTP_ST_MALFORMED_CDB);

	/* REPLAY bitmap octets against the window, on the wire */
	copy_cb(&cb, &good);
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_REPLAY);
	cb.b[at + 7] = 64;   /* window 128 -> 64: 16 bitmap octets where 8 belong */
	expect_rc("bitmap length mismatch", decode_cb(&cb, &err), &err, CTP_E_VALUE,
	    CTP_ST_MALFORMED_CDB);
	CU_ASSERT_EQUAL(err.off, at + 2);

	/* zero SPI on the wire */
	copy_cb(&cb, &good);
	memset(cb.b + find_tlv(&cb, CTP_TLV_IPSEC_SA_SA_ID) + 4, 0, 4);
	expect_rc("zero SPI", decode_cb(&cb, &err), &err, CTP_E_VALUE, CTP_ST_MALFORMED_CDB);

	/* P = 1 (the "presence vector" would be the SA_ID header) */
	copy_cb(&cb, &good);
	cb.b[3] = CTP_CDB_P;
	CU_ASSERT_EQUAL(cdb_parse(&cb, 0), 1);
	expect_rc("P = 1", decode_cb(&cb, &err), &err, CTP_E_VALUE, CTP_ST_MALFORMED_CDB);
	CU_ASSERT_EQUAL(err.off, 3);

	/* reserved bits of the CDB header and reserved octets are ignored */
	copy_cb(&cb, &good);
	cb.b[3] = 0x11;
	at = find_tlv(&cb, CTP_TLV_IPSEC_SA_ENDPOINTS);
	cb.b[at + 7] = 0xee;
	CU_ASSERT_EQUAL(cdb_parse(&cb, 0), 1);
	CU_ASSERT_EQUAL(decode_cb(&cb, &err), 0);

	/* empty data, a request CDB, and another FPT */
	memset(&cb, 0, sizeof cb);
	memcpy(cb.b, "\xff\x01\x01\x00", 4);
	cb.len = 8;
	CU_ASSERT_EQUAL(cdb_parse(&cb, 0), 1);
	expect_rc("empty SA CDB", decode_cb(&cb, &err), &err, CTP_E_MISSING, CTP_ST_MALFORMED_CDB);
	cb.cdb.units = 0;
	cb.cdb.len = 0;
	expect_rc("request CDB", decode_cb(&cb, &err), &err, CTP_E_MISSING, CTP_ST_MALFORMED_CDB);
	cb.cdb.fpt = CTP_FPT_IPSEC_PROFILE;
	expect_rc("profile FPT", decode_cb(&cb, &err), &err, CTP_E_INVAL, CTP_ST_UNSUPPORTED_FPT);
	ipsec_sa_clear(&sa);
}

/* 17 selectors: beyond the codec's bound, CTP_E_LIMIT and 0x06. */
static void
test_sa_selector_limit(void)
{
	struct ipsec_sa sa;
	struct ctp_err err;
	struct cdbuf cb;
	uint8_t tlv[48];
	size_t n;

	sa_full(&sa, 4);
	sa.nsel = 16;
	for (size_t i = 2; i < 16; i++)
		sa.sel[i] = sa.sel[0];
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	CU_ASSERT_EQUAL(decode_cb(&cb, &err), 0);
	n = copy_tlv(&cb, CTP_TLV_IPSEC_SA_SELECTOR, tlv);
	rewrap(&cb, 0, tlv, n, 0);
	expect_rc("17 selectors", decode_cb(&cb, &err), &err, CTP_E_LIMIT, CTP_ST_NO_RESOURCES);
	/* and the encoder refuses to write what the struct cannot hold */
	sa.nsel = 17;
	CU_ASSERT_EQUAL(sa_to_cdb(&sa, &cb), CTP_E_INVAL);
	ipsec_sa_clear(&sa);
}

static void
test_sa_encode_limits(void)
{
	struct ipsec_sa sa;
	struct ctp_wbuf w;
	uint8_t small[64], big[4096];

	/* a buffer too small: sticky CTP_E_NOSPACE */
	sa_full(&sa, 6);
	ctp_wbuf_init(&w, small, sizeof small);
	CU_ASSERT_EQUAL(ipsec_sa_encode(&sa, &w), CTP_E_NOSPACE);
	CU_ASSERT_EQUAL(w.err, CTP_E_NOSPACE);

	/* more than 2040 octets: CTP_E_LIMIT, and nothing left behind */
	sa.replay.window = 4096;
	sa.replay.bitmap_len = 512;
	sa.sel_name.len = IPSEC_NAME_MAX;
	sa.sel_sensitivity.len = IPSEC_SENSITIVITY_MAX;
	sa.nsel = 16;
	for (size_t i = 0; i < 16; i++)
		sa.sel[i] = sa.sel[1];
	ctp_wbuf_init(&w, big, sizeof big);
	ctp_wbuf_u32(&w, 0xdeadbeef);
	CU_ASSERT_EQUAL(ipsec_sa_encode(&sa, &w), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(w.len, 4);
	CU_ASSERT_EQUAL(w.err, 0);

	/* lengths and families the wire cannot carry */
	sa_full(&sa, 4);
	sa.encr.key_len = 65;
	ctp_wbuf_init(&w, big, sizeof big);
	CU_ASSERT_EQUAL(ipsec_sa_encode(&sa, &w), CTP_E_INVAL);
	sa_full(&sa, 4);
	sa.family = 0;
	CU_ASSERT_EQUAL(ipsec_sa_encode(&sa, &w), CTP_E_INVAL);
	sa_full(&sa, 4);
	sa.sel[1].family = 5;
	CU_ASSERT_EQUAL(ipsec_sa_encode(&sa, &w), CTP_E_INVAL);
	ipsec_sa_clear(&sa);
}

/* ---- profile ------------------------------------------------------------ */

static void
profile_full(struct ipsec_profile *p, unsigned family)
{
	static const char *v4[] = { "192.0.2.1", "192.0.2.254", "203.0.113.9" };
	static const char *v6[] = { "2001:db8:1::1", "2001:db8:ff::1", "2001:db8:9::9" };

	ipsec_profile_clear(p);
	p->nencr = 3;
	p->encr[0].id = CTP_ENCR_AES_GCM_16;
	p->encr[0].key_bits = 256;
	p->encr[1].id = CTP_ENCR_CHACHA20_POLY1305;
	p->encr[1].key_bits = 256;
	p->encr[2].id = CTP_ENCR_AES_CBC;
	p->encr[2].key_bits = 128;
	p->ninteg = 2;
	p->integ[0].id = CTP_INTEG_HMAC_SHA2_512_256;
	p->integ[1].id = CTP_INTEG_HMAC_SHA2_256_128;
	for (unsigned plane = 0; plane < 3; plane++) {
		struct ipsec_path *path = &p->path[plane];

		path->present = true;
		path->family = (uint8_t)family;
		path->node_count = (uint8_t)(plane + 1);
		for (unsigned k = 0; k <= plane; k++)
			set_addr(&path->nodes[k], family == 4 ? v4[k] : v6[k]);
	}
	p->has_user_id = true;
	p->user_id.type = CTP_NAME_TYPE_RFC822;
	p->user_id.len = 16;
	memcpy(p->user_id.octets, "alice@example.ne", 16);
}

static int
profile_equal(const struct ipsec_profile *a, const struct ipsec_profile *b)
{
	struct ipsec_profile x = *a, y = *b;

	for (size_t i = 0; i < IPSEC_PROFILE_MAX_PREFS; i++)
		x.encr[i].off = y.encr[i].off = x.integ[i].off = y.integ[i].off = 0;
	for (size_t i = 0; i < IPSEC_PROFILE_PLANES; i++)
		x.path[i].off = y.path[i].off = 0;
	x.user_id_off = y.user_id_off = 0;
	return memcmp(&x, &y, sizeof x) == 0;
}

static int
decode_profile_cb(struct cdbuf *cb, struct ctp_err *err)
{
	struct ipsec_profile p;
	int rc;

	ctp_err_clear(err);
	rc = ipsec_profile_decode(&cb->cdb, &p, err);
	ipsec_profile_clear(&p);
	return rc;
}

static void
test_profile_roundtrip(void)
{
	for (unsigned family = 4; family <= 6; family += 2) {
		struct ipsec_profile p, out;
		struct cdbuf cb, cb2;
		struct ctp_err err;

		profile_full(&p, family);
		CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&p, &cb), 0);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL_FATAL(ipsec_profile_decode(&cb.cdb, &out, &err), 0);
		CU_ASSERT(profile_equal(&p, &out));
		CU_ASSERT_EQUAL(out.path[2].node_count, 3);
		CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&out, &cb2), 0);
		CU_ASSERT(cb.len == cb2.len && memcmp(cb.b, cb2.b, cb.len) == 0);
	}
	/* the empty profile: 8 octets, valid */
	{
		struct ipsec_profile p, out;
		struct cdbuf cb;
		struct ctp_err err;

		ipsec_profile_clear(&p);
		CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&p, &cb), 0);
		CU_ASSERT_EQUAL(cb.len, 8);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ipsec_profile_decode(&cb.cdb, &out, &err), 0);
		CU_ASSERT(profile_equal(&p, &out));
	}
}

static void
test_profile_failures(void)
{
	static const uint8_t crit[] = { 0x80, 0x09, 0x00, 0x00 };
	static const uint8_t path0[] = { 0x00, 0x03, 0x00, 0x08, 0, 4, 1, 0, 192, 0, 2, 1 };
	static const uint8_t path4[] = { 0x00, 0x03, 0x00, 0x08, 4, 4, 1, 0, 192, 0, 2, 1 };
	static const uint8_t path_dup[] = { 0x00, 0x03, 0x00, 0x08, 1, 4, 1, 0, 192, 0, 2, 7 };
	static const uint8_t path_fam[] = { 0x00, 0x03, 0x00, 0x08, 1, 5, 1, 0, 192, 0, 2, 7 };
	static const uint8_t path_count[] = { 0x00, 0x03, 0x00, 0x08, 1, 4, 2, 0, 192, 0, 2, 7 };
	struct ipsec_profile p;
	struct ctp_err err;
	struct cdbuf cb, good;
	uint8_t big[4 + 4 + 33 * 4];

	profile_full(&p, 4);
	CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&p, &good), 0);

#define PCASE(what, mutate, code, status)                                           \
	do {                                                                        \
		profile_full(&p, 4);                                                \
		mutate;                                                             \
		CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&p, &cb), 0);                  \
		expect_rc(what, decode_profile_cb(&cb, &err), &err, code, status);  \
	} while (0)
	PCASE("ENCR_PREF DES", p.encr[1].id = 2, CTP_E_VALUE, CTP_ST_IPSEC_POLICY);
	PCASE("INTEG_PREF MD5", p.integ[1].id = 1, CTP_E_VALUE, CTP_ST_IPSEC_POLICY);
	PCASE("ENCR_PREF bad key", p.encr[2].key_bits = 100, CTP_E_VALUE, CTP_ST_MALFORMED_CDB);
	PCASE("ENCR_PREF unknown", p.encr[2].id = 14, 0, 0);
	PCASE("INTEG_PREF unknown", p.integ[1].id = 5, 0, 0);
	PCASE("ENCR_PREF repeated", p.encr[2] = p.encr[0], CTP_E_VALUE, CTP_ST_MALFORMED_CDB);
	PCASE("ENCR_PREF same ID other key", p.encr[2] = p.encr[0]; p.encr[2].key_bits = 128,
	    0, 0);
	PCASE("INTEG_PREF repeated", p.integ[1] = p.integ[0], CTP_E_VALUE, CTP_ST_MALFORMED_CDB);
	PCASE("PATH without nodes", p.path[1].node_count = 0, CTP_E_VALUE, CTP_ST_MALFORMED_CDB);
	PCASE("PATH unspecified node", memset(p.path[2].nodes[1].a, 0, 4), CTP_E_VALUE,
	    CTP_ST_MALFORMED_CDB);
	PCASE("USER_ID type 0", p.user_id.type = 0, CTP_E_VALUE, CTP_ST_MALFORMED_CDB);
	PCASE("USER_ID empty", p.user_id.len = 0, CTP_E_VALUE, CTP_ST_MALFORMED_CDB);
	PCASE("16 ENCR_PREF", p.nencr = 16;
	    for (int i = 3; i < 16; i++) { p.encr[i].id = (uint16_t)(100 + i); }, 0, 0);
#undef PCASE

	/* structure, on the wire */
	copy_cb(&cb, &good);
	rewrap(&cb, 0, crit, sizeof crit, 0);
	expect_rc("profile unknown critical", decode_profile_cb(&cb, &err), &err, CTP_E_CRITICAL,
	    CTP_ST_IPSEC_UNKNOWN_CRITICAL);
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_PROFILE_PATH, path0, sizeof path0, 0);
	expect_rc("PATH plane 0", decode_profile_cb(&cb, &err), &err, CTP_E_VALUE,
	    CTP_ST_MALFORMED_CDB);
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_PROFILE_PATH, path4, sizeof path4, 0);
	expect_rc("PATH plane 4", decode_profile_cb(&cb, &err), &err, CTP_E_VALUE,
	    CTP_ST_MALFORMED_CDB);
	copy_cb(&cb, &good);
	rewrap(&cb, 0, path_dup, sizeof path_dup, 0);
	expect_rc("second PATH for plane 1", decode_profile_cb(&cb, &err), &err, CTP_E_DUP,
	    CTP_ST_MALFORMED_CDB);
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_PROFILE_PATH, path_fam, sizeof path_fam, 0);
	expect_rc("PATH family 5", decode_profile_cb(&cb, &err), &err, CTP_E_VALUE,
	    CTP_ST_MALFORMED_CDB);
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_PROFILE_PATH, path_count, sizeof path_count, 0);
	expect_rc("PATH count 2, one address", decode_profile_cb(&cb, &err), &err, CTP_E_TLV,
	    CTP_ST_MALFORMED_CDB);
	copy_cb(&cb, &good);
	{
		uint8_t tlv[64];
		size_t n = copy_tlv(&cb, CTP_TLV_IPSEC_PROFILE_USER_ID, tlv);

		rewrap(&cb, 0, tlv, n, 0);
		expect_rc("USER_ID twice", decode_profile_cb(&cb, &err), &err, CTP_E_DUP,
		    CTP_ST_MALFORMED_CDB);
	}
	/* 33 nodes */
	memset(big, 0, sizeof big);
	big[1] = 0x03;
	big[2] = (uint8_t)((4 + 33 * 4) >> 8);
	big[3] = (uint8_t)(4 + 33 * 4);
	big[4] = 1;
	big[5] = 4;
	big[6] = 33;
	for (size_t k = 0; k < 33; k++) {
		big[8 + 4 * k] = 10;
		big[8 + 4 * k + 3] = (uint8_t)(k + 1);
	}
	copy_cb(&cb, &good);
	rewrap(&cb, CTP_TLV_IPSEC_PROFILE_PATH, big, 4 + 4 + 33 * 4, 0);
	expect_rc("PATH of 33 nodes", decode_profile_cb(&cb, &err), &err, CTP_E_LIMIT,
	    CTP_ST_NO_RESOURCES);
	/* 17 ENCR_PREF */
	profile_full(&p, 6);
	p.nencr = 16;
	for (int i = 3; i < 16; i++)
		p.encr[i].id = (uint16_t)(100 + i);
	CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&p, &cb), 0);
	{
		static const uint8_t extra[] = { 0x00, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x80 };

		rewrap(&cb, 0, extra, sizeof extra, 0);
		expect_rc("17 ENCR_PREF", decode_profile_cb(&cb, &err), &err, CTP_E_LIMIT,
		    CTP_ST_NO_RESOURCES);
	}
	/* P = 1 */
	copy_cb(&cb, &good);
	cb.b[3] = CTP_CDB_P;
	CU_ASSERT_EQUAL(cdb_parse(&cb, 0), 1);
	expect_rc("profile P = 1", decode_profile_cb(&cb, &err), &err, CTP_E_VALUE,
	    CTP_ST_MALFORMED_CDB);
	ipsec_profile_clear(&p);
}

/* ---- the plugin, loaded for real ----------------------------------------- */

static char last_log[256];
static char ipsec_init_log[256];   /* what the ipsec plugin logged at init */

static void
fake_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
	snprintf(last_log, sizeof last_log, "%s: %s", func, msg);
}

static uint64_t
fake_now(struct ctp_host *host)
{
	return 1000;
}

static const struct ctp_host_ops fake_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = fake_log,
	.now_ms = fake_now,
};

static struct ctp_registry *reg;

static int
suite_init(void)
{
	char path[512];
	struct ctp_err err;

	if ((reg = ctp_registry_new(&fake_ops, NULL)) == NULL)
		return -1;
	ctp_err_clear(&err);
	snprintf(path, sizeof path, "%s/plugins/ipsec.so", ctp_test_build_dir());
	if (ctp_registry_load(reg, path, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.what);
		return -1;
	}
	memcpy(ipsec_init_log, last_log, sizeof ipsec_init_log);
	snprintf(path, sizeof path, "%s/plugins/mld.so", ctp_test_build_dir());
	if (ctp_registry_load(reg, path, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.what);
		return -1;
	}
	return 0;
}

static int
suite_clean(void)
{
	ctp_registry_free(reg);
	reg = NULL;
	return 0;
}

static const struct ctp_plugin *
ipsec_plugin(void)
{
	const struct ctp_plugin *p = ctp_registry_find(reg, CTP_FPT_IPSEC_SA);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

/* The object the core would hand to describe, then describe, then build. */
static void
describe_build(const struct cdbuf *cb, int json)
{
	const struct ctp_plugin *p = ctp_registry_find(reg, cb->cdb.fpt);
	struct ctp_val *o = ctp_val_obj(), *o2 = NULL;
	struct ctp_err err;
	struct ctp_wbuf w;
	uint8_t out[2048];
	char *text;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_val_set_u64(o, "fpt", cb->cdb.fpt), 0);
	CU_ASSERT_EQUAL(ctp_val_set_u64(o, "length", cb->cdb.units), 0);
	CU_ASSERT_EQUAL(ctp_val_set_u64(o, "p", (cb->cdb.flags & CTP_CDB_P) ? 1 : 0), 0);
	if (cb->cdb.flags & CTP_CDB_P)
		CU_ASSERT_EQUAL(ctp_val_set_u64(o, "pv", cb->cdb.pv), 0);
	if (cb->cdb.flags & CTP_CDB_RESERVED)
		CU_ASSERT_EQUAL(ctp_val_set_u64(o, "reserved", cb->cdb.flags & CTP_CDB_RESERVED), 0);
	CU_ASSERT_EQUAL_FATAL(p->feat->cdb_describe(p->state, &cb->cdb, 4, o, &err), 0);
	if (json) {
		/* through JSON text: 64-bit counters and hex keys survive */
		CU_ASSERT_PTR_NOT_NULL_FATAL((text = ctp_json_string(o, 0)));
		CU_ASSERT_EQUAL_FATAL(ctp_json_parse(text, strlen(text), &o2, &err), 0);
		free(text);
		ctp_val_free(o);
		o = o2;
	}
	ctp_wbuf_init(&w, out, sizeof out);
	CU_ASSERT_EQUAL_FATAL(p->feat->cdb_build(p->state, cb->cdb.fpt, o, &w, &err), 0);
	CU_ASSERT_EQUAL(w.len, cb->len);
	CU_ASSERT(memcmp(out, cb->b, cb->len) == 0);
	ctp_val_free(o);
}

static void
test_plugin_loaded(void)
{
	const struct ctp_plugin *p = ipsec_plugin();

	CU_ASSERT_STRING_EQUAL(p->feat->name, "ipsec");
	CU_ASSERT_EQUAL(p->feat->nfpts, 2);
	CU_ASSERT_PTR_EQUAL(ctp_registry_find(reg, CTP_FPT_IPSEC_PROFILE), p);
	/* init logged through the fake host */
	CU_ASSERT(strstr(ipsec_init_log, "serving FPT 0xff01") != NULL);
}

static void
test_plugin_config(void)
{
	struct ctp_registry *r = ctp_registry_new(&fake_ops, NULL);
	struct ctp_val *cfg = NULL;
	struct ctp_err err;
	char path[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	snprintf(path, sizeof path, "%s/plugins/ipsec.so", ctp_test_build_dir());
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse("{\"spi_policy\": 1}", 17, &cfg, &err), 0);
	CU_ASSERT_EQUAL(ctp_registry_load(r, path, cfg, &err), CTP_E_CONFIG);
	CU_ASSERT(strstr(err.what, "unknown configuration key \"spi_policy\"") != NULL);
	CU_ASSERT_EQUAL(ctp_registry_count(r), 0);
	ctp_val_free(cfg);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse("{}", 2, &cfg, &err), 0);
	CU_ASSERT_EQUAL(ctp_registry_load(r, path, cfg, &err), 0);
	ctp_val_free(cfg);
	ctp_registry_free(r);
}

static void
test_plugin_check(void)
{
	static const uint8_t unknown_crit[] = { 0x80, 0x63, 0x00, 0x00 };
	const struct ctp_plugin *p = ipsec_plugin();
	struct ipsec_sa sa;
	struct ipsec_profile prof;
	struct ctp_err err;
	struct cdbuf cb;

	sa_full(&sa, 6);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(p->feat->cdb_check(p->state, &cb.cdb, 4, &err), 0);
	rewrap(&cb, 0, unknown_crit, sizeof unknown_crit, 0);
	CU_ASSERT_EQUAL(p->feat->cdb_check(p->state, &cb.cdb, 6, &err), CTP_E_CRITICAL);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_UNKNOWN_CRITICAL);

	sa.encr.id = 2;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(p->feat->cdb_check(p->state, &cb.cdb, 6, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_POLICY);
	/* describe refuses what check refuses */
	{
		struct ctp_val *o = ctp_val_obj();

		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(p->feat->cdb_describe(p->state, &cb.cdb, 6, o, &err), CTP_E_VALUE);
		CU_ASSERT_PTR_NULL(ctp_val_get(o, "tlvs"));
		ctp_val_free(o);
	}

	profile_full(&prof, 4);
	CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&prof, &cb), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(p->feat->cdb_check(p->state, &cb.cdb, 4, &err), 0);
	cb.cdb.fpt = CTP_FPT_MLD;
	CU_ASSERT_EQUAL(p->feat->cdb_check(p->state, &cb.cdb, 4, &err), CTP_E_INVAL);
	ipsec_sa_clear(&sa);
}

static void
test_plugin_describe_build(void)
{
	static const uint8_t unknown_skip[] = { 0x00, 0x63, 0x00, 0x03, 0xaa, 0xbb, 0xcc, 0 };
	const struct ctp_plugin *p = ipsec_plugin();
	struct ipsec_sa sa;
	struct ipsec_profile prof;
	struct cdbuf cb;
	struct ctp_val *o, *tlvs, *first;
	struct ctp_err err;
	uint64_t v;

	for (unsigned family = 4; family <= 6; family += 2) {
		sa_full(&sa, family);
		CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
		describe_build(&cb, 0);
		describe_build(&cb, 1);
		/* unknown non-critical TLV kept as "value", a longer Length, reserved bits */
		rewrap(&cb, 0, unknown_skip, sizeof unknown_skip, 2);
		cb.b[3] = 0x05;
		CU_ASSERT_EQUAL(cdb_parse(&cb, 0), 1);
		describe_build(&cb, 1);
		profile_full(&prof, family);
		CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&prof, &cb), 0);
		describe_build(&cb, 1);
	}
	ipsec_profile_clear(&prof);
	CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&prof, &cb), 0);
	describe_build(&cb, 0);

	/* what describe says */
	sa_full(&sa, 4);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	o = ctp_val_obj();
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(p->feat->cdb_describe(p->state, &cb.cdb, 4, o, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL((tlvs = ctp_val_get(o, "tlvs")));
	CU_ASSERT_EQUAL(tlvs->kind, CTP_V_ARR);
	CU_ASSERT_EQUAL(tlvs->n, 19);   /* 18 types, SELECTOR twice */
	first = tlvs->items[0];
	CU_ASSERT_STRING_EQUAL(ctp_val_get(first, "tlv")->s, "SA_ID");
	CU_ASSERT_EQUAL(ctp_val_get_u64(first, "tlv_type", 0xffff, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 0x8001);
	CU_ASSERT_EQUAL(ctp_val_get_u64(first, "spi", UINT32_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, 0xc0ffee01);
	CU_ASSERT_STRING_EQUAL(ctp_val_get(tlvs->items[1], "local_addr")->s, "192.0.2.1");
	CU_ASSERT_STRING_EQUAL(ctp_val_get(tlvs->items[6], "tlv")->s, "SEQ_OUT");
	CU_ASSERT_EQUAL(ctp_val_get_u64(tlvs->items[6], "next", UINT64_MAX, &v, &err), 0);
	CU_ASSERT_EQUAL(v, (UINT64_C(1) << 32) + 16389);
	ctp_val_free(o);
	ipsec_sa_clear(&sa);
}

/* Build the CDB a JSON object describes into out (cap octets). */
static int
build_json(const char *json, uint16_t fpt, uint8_t *out, size_t cap, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	const struct ctp_plugin *p = ipsec_plugin();
	struct ctp_val *o = NULL;
	int rc;

	ctp_err_clear(err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &o, err), 0);
	ctp_wbuf_init(w, out, cap);
	rc = p->feat->cdb_build(p->state, fpt, o, w, err);
	ctp_val_free(o);
	return rc;
}

static void
test_plugin_build_refusals(void)
{
	char json[512];
	struct ctp_err err;
	struct ctp_wbuf w;
	uint8_t out[64];
	size_t n;

	CU_ASSERT_EQUAL(build_json("{\"fpt\":65281,\"p\":1,\"tlvs\":[]}", 0xff01, out,
	    sizeof out, &w, &err), CTP_E_VALUE);
	CU_ASSERT(strstr(err.what, "PROFILE 6") != NULL);
	CU_ASSERT_EQUAL(build_json("{\"fpt\":65281}", 0xff01, out, sizeof out, &w, &err),
	    CTP_E_MISSING);
	CU_ASSERT_EQUAL(build_json("{\"fpt\":65281,\"tlvs\":[{\"tlv\":\"NOPE\"}]}", 0xff01, out,
	    sizeof out, &w, &err), CTP_E_VALUE);
	/* "length" is honoured, and a Length too small is refused */
	CU_ASSERT_EQUAL(build_json("{\"length\":1,\"tlvs\":[{\"tlv\":\"SA_ID\",\"spi\":4096}]}",
	    0xff01, out, sizeof out, &w, &err), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(w.len, 0);
	CU_ASSERT_EQUAL(build_json("{\"length\":3,\"tlvs\":[{\"tlv\":\"SA_ID\",\"spi\":4096}]}",
	    0xff01, out, sizeof out, &w, &err), 0);
	CU_ASSERT_EQUAL(w.len, 24);
	CU_ASSERT_EQUAL(out[2], 3);
	/* a buffer too small */
	n = (size_t)snprintf(json, sizeof json,
	    "{\"tlvs\":[{\"tlv\":\"REPLAY\",\"window\":512,\"bitmap\":\"");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(json + n, sizeof json - n, "00");
	snprintf(json + n, sizeof json - n, "\"}]}");
	CU_ASSERT_EQUAL(build_json(json, 0xff01, out, sizeof out, &w, &err), CTP_E_NOSPACE);
	/* an FPT the plugin does not serve */
	CU_ASSERT_EQUAL(build_json("{\"tlvs\":[]}", CTP_FPT_MLD, out, sizeof out, &w, &err),
	    CTP_E_INVAL);
	/* the profile FPT builds through the same path */
	CU_ASSERT_EQUAL(build_json("{\"tlvs\":[{\"tlv\":\"ENCR_PREF\",\"id\":20,\"key_bits\":256}]}",
	    0xff02, out, sizeof out, &w, &err), 0);
	CU_ASSERT_EQUAL(w.len, 16);
	CU_ASSERT(memcmp(out, "\xff\x02\x02\x00\x00\x01\x00\x04\x00\x14\x01\x00", 12) == 0);
}

/* ---- vectors ---------------------------------------------------------------- */

static const char *
vec_dir(void)
{
	const char *d = getenv("CTP_VECTOR_DIR");

	return d ? d : "tests/vectors";
}

/* Compare msg with the committed file (or write it when regenerating). */
static void
vec_check(const char *name, const uint8_t *msg, size_t len)
{
	char path[512];
	unsigned char *text, *bin;
	size_t tlen, blen;

	snprintf(path, sizeof path, "%s/%s", vec_dir(), name);
	if (getenv("CTP_REGEN_VECTORS")) {
		FILE *f = fopen(path, "w");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		for (size_t i = 0; i < len; i++)
			fprintf(f, "%02x%s", msg[i], i % 16 == 15 || i == len - 1 ? "\n" : "");
		fclose(f);
	}
	text = ctp_test_read_file(path, &tlen);
	if (!text) {
		fprintf(stderr, "\n    %s: cannot read (run from the source tree)\n", path);
		CU_FAIL("vector missing");
		return;
	}
	bin = ctp_test_hex((const char *)text, &blen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
	if (blen != len || memcmp(bin, msg, len) != 0) {
		fprintf(stderr, "\n    %s differs from what the encoders write today\n", path);
		CU_FAIL("vector differs");
	}
	free(text);
	free(bin);
}

/* The whole message path a receiver and ctpctl take. */
static void
vec_accept(const uint8_t *buf, size_t len)
{
	struct ctp_msg *m = malloc(sizeof *m);
	struct ctp_val *v = NULL, *v2 = NULL;
	uint8_t out[4096];
	struct ctp_err err;
	size_t olen = 0;
	char *text;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(m, buf, len, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(m, reg, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_describe(m, reg, &v, &err), 0);
	text = ctp_json_string(v, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT(strstr(text, "\"tlvs\"") != NULL || strstr(text, "\"group\"") != NULL);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(text, strlen(text), &v2, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_build(v2, reg, out, sizeof out, &olen, &err), 0);
	CU_ASSERT(olen == len && memcmp(out, buf, len) == 0);
	free(text);
	ctp_val_free(v);
	ctp_val_free(v2);
	free(m);
}

/* Encode msg whose CDBs are the concatenated CDBs in region. */
static size_t
vec_message(struct ctp_msg *m, const uint8_t *region, size_t rlen, uint8_t *out, size_t cap)
{
	struct ctp_cur c;
	struct ctp_err err;
	size_t len = 0;

	ctp_err_clear(&err);
	ctp_cur_init(&c, region, rlen, 0);
	while (c.left)
		CU_ASSERT_EQUAL_FATAL(ctp_cdb_next(&c, 0, &m->cdb[m->ncdb++], &err), 1);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_encode(m, out, cap, &len, &err), 0);
	return len;
}

static void
vec_append(struct ctp_wbuf *w, const struct cdbuf *cb)
{
	ctp_wbuf_bytes(w, cb->b, cb->len);
}

static void
test_vectors(void)
{
	static const uint8_t token_key[20] = "ctpd-test-token-key";
	static const uint8_t unknown_skip[] = { 0x00, 0x63, 0x00, 0x06, 'c', 't', 'p', 'd', 0, 1,
	    0, 0 };
	struct ctp_msg *m = malloc(sizeof *m);
	uint8_t region[4096], msg[4096];
	struct ipsec_profile prof;
	struct ipsec_sa sa;
	struct ctp_wbuf w;
	struct cdbuf cb;
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);

	/* CTD, IPv4, A: the full outbound SA, an inbound one, the profile */
	ctp_wbuf_init(&w, region, sizeof region);
	sa_full(&sa, 4);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	sa_inbound(&sa, 4);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	profile_full(&prof, 4);
	CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&prof, &cb), 0);
	vec_append(&w, &cb);
	ctp_msg_init(m, CTP_MSG_CTD, 4);
	m->flags |= CTP_HDR_X;
	m->elapsed = 120;
	set_addr(&m->mn_prev, "192.0.2.10");
	len = vec_message(m, region, w.len, msg, sizeof msg);
	CU_ASSERT_EQUAL(msg[0], 0x23);
	CU_ASSERT_EQUAL(msg[1], 0xc0);
	vec_check("ipsec_ctd_v4.hex", msg, len);
	vec_accept(msg, len);

	/* CTD, IPv6: the full SA, an inbound ChaCha20-Poly1305 SA, the profile */
	ctp_wbuf_init(&w, region, sizeof region);
	sa_full(&sa, 6);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	sa_inbound(&sa, 6);
	sa.spi = 0x8badf00d;
	sa.encr.id = CTP_ENCR_CHACHA20_POLY1305;
	sa.encr.key_bits = 256;
	sa.encr.key_len = 36;
	fill(sa.encr.key, 36, 0x99);
	sa.has_integ = false;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	profile_full(&prof, 6);
	CU_ASSERT_EQUAL_FATAL(profile_to_cdb(&prof, &cb), 0);
	vec_append(&w, &cb);
	ctp_msg_init(m, CTP_MSG_CTD, 6);
	m->elapsed = 35;
	set_addr(&m->mn_prev, "2001:db8:1::10");
	len = vec_message(m, region, w.len, msg, sizeof msg);
	CU_ASSERT_EQUAL(msg[1], 0x00);
	vec_check("ipsec_ctd_v6.hex", msg, len);
	vec_accept(msg, len);

	/* PCTD, IPv6, A: AH with HMAC-SHA2-512, 3DES + SHA1, AES-CTR + SHA-384 */
	ctp_wbuf_init(&w, region, sizeof region);
	sa_full(&sa, 6);
	use_ah(&sa);
	sa.spi = 0x00010001;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	sa_inbound(&sa, 6);
	sa.spi = 0x00010002;
	use_3des(&sa);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	sa_inbound(&sa, 6);
	sa.spi = 0x00010003;
	rule_ctr_ok(&sa);
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	ctp_msg_init(m, CTP_MSG_PCTD, 6);
	m->flags |= CTP_HDR_X;
	m->elapsed = 0;
	m->key_alg = CTP_KEY_ALG_HMAC_SHA1;
	m->key_len = sizeof token_key;
	m->key = token_key;
	set_addr(&m->mn_prev, "2001:db8:1::10");
	len = vec_message(m, region, w.len, msg, sizeof msg);
	CU_ASSERT_EQUAL(msg[0], 0x24);
	vec_check("ipsec_pctd_v6.hex", msg, len);
	vec_accept(msg, len);

	/* CTD, IPv4 carrying an IPv6 SA with an unknown non-critical TLV, a
	 * longer Length than needed and a minimal inbound SA */
	ctp_wbuf_init(&w, region, sizeof region);
	sa_full(&sa, 6);
	sa.spi = 0x00abcdef;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	rewrap(&cb, 0, unknown_skip, sizeof unknown_skip, 1);
	vec_append(&w, &cb);
	sa_inbound(&sa, 4);
	sa.flags = 0;
	sa.has_replay = false;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	vec_append(&w, &cb);
	ctp_msg_init(m, CTP_MSG_CTD, 4);
	m->elapsed = 7;
	set_addr(&m->mn_prev, "192.0.2.10");
	len = vec_message(m, region, w.len, msg, sizeof msg);
	vec_check("ipsec_ctd_v4_mixed.hex", msg, len);
	vec_accept(msg, len);

	ipsec_sa_clear(&sa);
	free(m);
}

/* A message the registry refuses, for the other direction of vec_accept. */
static void
test_message_check(void)
{
	struct ctp_msg *m = malloc(sizeof *m);
	struct ipsec_sa sa;
	struct cdbuf cb;
	uint8_t msg[4096];
	struct ctp_err err;
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	sa_full(&sa, 4);
	sa.encr.id = 1;
	CU_ASSERT_EQUAL_FATAL(sa_to_cdb(&sa, &cb), 0);
	ctp_msg_init(m, CTP_MSG_CTD, 4);
	set_addr(&m->mn_prev, "192.0.2.10");
	len = vec_message(m, cb.b, cb.len, msg, sizeof msg);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(m, msg, len, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(m, reg, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_POLICY);
	/* the offset is in the message: header, elapsed, address, CDB header */
	CU_ASSERT_EQUAL(err.off, 4 + 4 + 4 + 4 + find_tlv(&cb, CTP_TLV_IPSEC_SA_ENCR));
	ipsec_sa_clear(&sa);
	free(m);
}

CTP_TEST_SUITE(ipsec_codec, suite_init, suite_clean,
    CTP_TEST(test_alg_table),
    CTP_TEST(test_sa_roundtrip_v4),
    CTP_TEST(test_sa_roundtrip_v6),
    CTP_TEST(test_sa_roundtrip_minimal),
    CTP_TEST(test_sa_decode_reuse),
    CTP_TEST(test_sa_rules),
    CTP_TEST(test_sa_error_offsets),
    CTP_TEST(test_sa_structure),
    CTP_TEST(test_sa_selector_limit),
    CTP_TEST(test_sa_encode_limits),
    CTP_TEST(test_profile_roundtrip),
    CTP_TEST(test_profile_failures),
    CTP_TEST(test_plugin_loaded),
    CTP_TEST(test_plugin_config),
    CTP_TEST(test_plugin_check),
    CTP_TEST(test_plugin_describe_build),
    CTP_TEST(test_plugin_build_refusals),
    CTP_TEST(test_vectors),
    CTP_TEST(test_message_check),
)
