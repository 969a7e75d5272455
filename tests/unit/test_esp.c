/*
 * test_esp.c: the ESP engine (src/features/ipsec/ipsec_esp.c).
 *
 * Known answers, byte for byte:
 *  - RFC 7634 appendix A: the whole ESP packet of the ChaCha20-Poly1305
 *    example (SPI 0x01020304, sequence 5, IV 0x1011121314151617);
 *  - draft-mcgrew-gcm-test-01 (test cases for AES-GCM in ESP): every case
 *    whose SPI is valid (case 4 uses SPI 0, which RFC 4303 2.1 reserves),
 *    with 32-bit and extended sequence numbers, AES-128/192/256, and the
 *    8- and 12-octet ICVs derived from them (a truncated GCM tag is the
 *    leading octets of the full one: NIST SP 800-38D 5.2.1.2);
 *  - RFC 3602 section 4 cases 1-2 (AES-CBC) and RFC 3686 section 6 vectors
 *    1-2 (AES-CTR): the leading ciphertext octets of an ESP packet made with
 *    the vector's IV, and the ICV checked against a one-shot HMAC;
 *  - RFC 4868 2.7.2 test cases 1-2 (HMAC-SHA-256/384/512 with keys of the
 *    hash's length, truncated to 128/192/256 bits) and RFC 2202 test case
 *    5 as RFC 2404 uses it (HMAC-SHA1-96).
 * Then round trips for every ENCR/INTEG pair and key length, with and
 * without ESN; ESN crossing 2^32; the replay window against a reference
 * model; tampering, truncation and a deterministic mutation loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_alg.h"
#include "features/ipsec/ipsec_esp.h"
#include "features/ipsec/ipsec_sa.h"
#include "test.h"

#define PKT_MAX 2048

/* ---- helpers ------------------------------------------------------------ */

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	CU_ASSERT_FATAL(ctp_hex_decode(hex, strlen(hex), out, cap, &n) == 0);
	return n;
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

/* An ESP SA, tunnel mode, 192.0.2.1 <-> 192.0.2.2, keys from a pattern. */
static void
make_sa(struct ipsec_sa *sa, uint32_t spi, unsigned encr, unsigned bits, unsigned integ,
    uint8_t dir, uint8_t flags)
{
	const struct ipsec_alg *ea = ipsec_alg_find(IPSEC_ALG_ENCR, encr);
	const struct ipsec_alg *ia = ipsec_alg_find(IPSEC_ALG_INTEG, integ);

	CU_ASSERT_FATAL(ea != NULL && ia != NULL);
	ipsec_sa_clear(sa);
	sa->spi = spi;
	sa->protocol = CTP_IPPROTO_ESP;
	sa->mode = CTP_MODE_TUNNEL;
	sa->direction = dir;
	sa->flags = flags;
	sa->family = 4;
	CU_ASSERT_FATAL(ctp_addr_parse(&sa->local, "192.0.2.1") == 0);
	CU_ASSERT_FATAL(ctp_addr_parse(&sa->peer, "192.0.2.2") == 0);
	sa->has_encr = true;
	sa->encr.id = (uint16_t)encr;
	sa->encr.key_bits = (uint16_t)bits;
	sa->encr.key_len = (uint16_t)ipsec_alg_key_octets(ea, bits);
	fill(sa->encr.key, sa->encr.key_len, (uint8_t)(spi + encr));
	sa->has_integ = true;
	sa->integ.id = (uint16_t)integ;
	sa->integ.key_len = (uint16_t)ipsec_alg_key_octets(ia, ia->keys[0].bits);
	fill(sa->integ.key, sa->integ.key_len, (uint8_t)(spi + 3 * integ + 1));
	if (dir == CTP_DIRECTION_OUT) {
		sa->has_seq_out = true;
		sa->seq_out.next = 1;
	}
	if (flags & IPSEC_SA_F_ANTI_REPLAY) {
		sa->has_replay = true;
		sa->replay.window = 64;
		sa->replay.bitmap_len = 8;
	}
}

/* The same SA seen from the other end of the same direction: an inbound
 * copy of an outbound SA. */
static void
flip_in(struct ipsec_sa *in, const struct ipsec_sa *out, uint32_t window)
{
	*in = *out;
	in->direction = CTP_DIRECTION_IN;
	in->has_seq_out = false;
	in->flags |= IPSEC_SA_F_ANTI_REPLAY;
	in->has_replay = true;
	in->replay.window = window;
	in->replay.highest = 0;
	in->replay.bitmap_len = (uint16_t)(window / 8);
	memset(in->replay.bitmap, 0, sizeof in->replay.bitmap);
}

static struct ipsec_esp *
engine(const struct ipsec_sa *sa)
{
	struct ipsec_esp *e = NULL;
	struct ctp_err err;
	int rc;

	ctp_err_clear(&err);
	rc = ipsec_esp_new(sa, &e, &err);
	if (rc != 0)
		fprintf(stderr, "ipsec_esp_new: %s: %s\n", ctp_errname(rc), err.what);
	CU_ASSERT_FATAL(rc == 0 && e != NULL);
	return e;
}

static int
encap(struct ipsec_esp *e, const uint8_t *p, size_t n, uint8_t nh, uint8_t *pkt,
    size_t *len)
{
	struct ctp_wbuf w;
	int rc;

	ctp_wbuf_init(&w, pkt, PKT_MAX);
	rc = ipsec_esp_encap(e, p, n, nh, &w, NULL);
	*len = w.len;
	return rc;
}

static int
decap(struct ipsec_esp *e, const uint8_t *pkt, size_t len, uint8_t *out, size_t *olen,
    struct ipsec_esp_rx *rx)
{
	struct ctp_wbuf w;
	int rc;

	ctp_wbuf_init(&w, out, PKT_MAX);
	memset(rx, 0, sizeof *rx);
	rc = ipsec_esp_decap(e, pkt, len, &w, rx);
	*olen = w.len;
	return rc;
}

/* ---- RFC 7634 appendix A ------------------------------------------------ */

static const char rfc7634_ip[] =
	"45 00 00 54 a6 f2 00 00 40 01 e7 78 c6 33 64 05"
	"c0 00 02 05 08 00 5b 7a 3a 08 00 00 55 3b ec 10"
	"00 07 36 27 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13"
	"14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23"
	"24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33"
	"34 35 36 37";
static const char rfc7634_keymat[] =
	"80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f"
	"90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f"
	"a0 a1 a2 a3";
static const char rfc7634_packet[] =
	"01 02 03 04 00 00 00 05 10 11 12 13 14 15 16 17"
	"24 03 94 28 b9 7f 41 7e 3c 13 75 3a 4f 05 08 7b"
	"67 c3 52 e6 a7 fa b1 b9 82 d4 66 ef 40 7a e5 c6"
	"14 ee 80 99 d5 28 44 eb 61 aa 95 df ab 4c 02 f7"
	"2a a7 1e 7c 4c 4f 64 c9 be fe 2f ac c6 38 e8 f3"
	"cb ec 16 3f ac 46 9b 50 27 73 f6 fb 94 e6 64 da"
	"91 65 b8 28 29 f6 41 e0"
	"76 aa a8 26 6b 7f b0 f7 b1 1b 36 99 07 e1 ad 43";

static void
test_esp_rfc7634(void)
{
	uint8_t ip[128], want[256], pkt[PKT_MAX], out[PKT_MAX], iv[8];
	size_t iplen = unhex(rfc7634_ip, ip, sizeof ip), wantlen, olen;
	struct ipsec_sa sa, in;
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	struct ctp_wbuf w;
	uint64_t seq = 0;

	wantlen = unhex(rfc7634_packet, want, sizeof want);
	make_sa(&sa, 0x01020304, CTP_ENCR_CHACHA20_POLY1305, 256, CTP_INTEG_NONE,
	    CTP_DIRECTION_OUT, 0);
	sa.has_integ = false;
	CU_ASSERT_EQUAL(unhex(rfc7634_keymat, sa.encr.key, sizeof sa.encr.key), 36);
	sa.seq_out.next = 5;
	unhex("10 11 12 13 14 15 16 17", iv, sizeof iv);
	e = engine(&sa);
	CU_ASSERT_EQUAL(ipsec_esp_packet_len(e, iplen), wantlen);
	ctp_wbuf_init(&w, pkt, sizeof pkt);
	CU_ASSERT_EQUAL(ipsec_esp_encap_iv(e, ip, iplen, 4, iv, sizeof iv, &w, &seq), 0);
	CU_ASSERT_EQUAL(seq, 5);
	CU_ASSERT_EQUAL(w.len, wantlen);
	CU_ASSERT(memcmp(pkt, want, wantlen) == 0);
	CU_ASSERT_EQUAL(ipsec_esp_next_seq(e), 6);

	flip_in(&in, &sa, 32);
	d = engine(&in);
	CU_ASSERT_EQUAL(decap(d, want, wantlen, out, &olen, &rx), 0);
	CU_ASSERT_EQUAL(rx.seq, 5);
	CU_ASSERT_EQUAL(rx.next_header, 4);
	CU_ASSERT_EQUAL(olen, iplen);
	CU_ASSERT(memcmp(out, ip, iplen) == 0);
	/* the same packet again is a replay */
	CU_ASSERT_EQUAL(decap(d, want, wantlen, out, &olen, &rx), CTP_E_STATE);
	ipsec_esp_free(e);
	ipsec_esp_free(d);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
}

/* ---- draft-mcgrew-gcm-test-01 ------------------------------------------- */

struct gcm_vec {
	const char *key, *spi, *seq, *nonce, *plaintext, *packet;
};

static const struct gcm_vec gcm_vecs[] = {
	{ "4c80cdefbb5d10da906ac73c3613a634", "00004321", "8765432100000000",
	  "2e443b684956ed7e3b244cfe",
	  "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
	  "00000000045f736970045f756470037369700963796265726369747902646b00"
	  "0021000101020201",
	  "00004321000000004956ed7e3b244cfefecf537e729d5b07dc30df528dd22b76"
	  "8d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d"
	  "15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe72"
	  "2fd04796562dfdb4" },
	{ "feffe9928665731c6d6a8f9467308308", "0000a5f8", "0000000a",
	  "cafebabefacedbaddecaf888",
	  "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
	  "0001000000000000037369700963796265726369747902646b00000100010001",
	  "0000a5f80000000afacedbaddecaf888deb22cd9b07c72c16e3a65beeb8df304"
	  "a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642"
	  "cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a" },
	{ "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
	  "4a2cbfe3", "00000002", "112233440102030405060708",
	  "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
	  "7002400020bf0000020405b40101040201020201",
	  "4a2cbfe3000000020102030405060708ff425c9b724599df7a3bcd510194e00d"
	  "6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99d"
	  "ef842d8eb335f4eecfdbf831824b4c4915956c96" },
	{ "3de09874b388e6491988d0c3607eae1f", "42f67e3f", "1010101010101010",
	  "57690e434e280000a2fca1a3",
	  "4500003c99c300008001cb7c40679318010101010800085c0200430061626364"
	  "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
	  "42f67e3f101010104e280000a2fca1a3fba2caa4853cf9f0f22cb10d86dd83b0"
	  "fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc9"
	  "1755e6662b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48" },
	{ "3de09874b388e6491988d0c3607eae1f", "42f67e3f", "1010101010101010",
	  "57690e434e280000a2fca1a3",
	  "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
	  "42f67e3f101010104e280000a2fca1a3fba2ca845e5df9f0f22c3e6e86dd831e"
	  "1fc65792cd1af9130e1379ed369f071f35e034be95f112e4e7d05d35" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c", "0000a5f8", "0000000a",
	  "cafebabefacedbaddecaf888",
	  "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e"
	  "501016d075680001",
	  "0000a5f80000000afacedbaddecaf888a5b1f8066029aea40e598b8122de0242"
	  "0938b3ab33f828e687b8858b5bfbdbd0315b27452144cc7795457b9652037f53"
	  "18027b5b4cd7a636" },
	{ "abbccddef00112233445566778899aab", "00000100", "0000000000000001",
	  "decaf888cafedebaceface74",
	  "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5"
	  "00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95"
	  "9b6266c04722b14923010101",
	  "0000010000000001cafedebaceface7418a6fd42f72cbf4ab2a2ea901f73d814"
	  "e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472"
	  "b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e6"
	  "5f354f75ff17015769623436" },
	{ "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
	  "17405e67", "156f3126dd0db99b", "73616c74616e640169766563",
	  "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602"
	  "50101f646d540001",
	  "17405e67dd0db99b616e640169766563f2d69ecdbd5a0d5b8d5ef38bad4da58d"
	  "1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3"
	  "b7eebca614c89b35" },
	{ "3de09874b388e6491988d0c3607eae1f", "42f67e3f", "1010101010101010",
	  "57690e434e280000a2fca1a3",
	  "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b"
	  "000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5ee0496b32"
	  "5ae270c03899493915010101",
	  "42f67e3f101010104e280000a2fca1a3fba2cad12fc1f9f00d3cebf305410db8"
	  "3d7784b607323d220f24b0a97d54182800cadb0f68d99ef0e0c0c89ae9bea888"
	  "4e52d65bc1afd0740f742444747b5b39ab533163aad4550ee5160975cdb608c5"
	  "769189609763b8e18caa81e2" },
	{ "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
	  "17405e67", "156f3126dd0db99b", "73616c74616e640169766563",
	  "636973636f0172756c65730174686501" "6e6574776501646566696e6501746865"
	  "746563686e6f6c6f67696573017468617477696c6c01646566696e65746f6d6f"
	  "72726f7701020201",
	  "17405e67dd0db99b616e640169766563d4b7ed86a1777f2ea13d6973d324c69e"
	  "7b43f826fb56831226508bebd2dceb18d0a6df10e5487df074113e14c641024e"
	  "3e6773d91a62ee429b043a10e3efe6b012a49363412364f8c0cac587f249e56b"
	  "11e24f30e44ccc76" },
	{ "7d773d00c144c525ac619d18c84a3f47", "335467ae", "ffffffff",
	  "d966426743457e9182443bc6", "01020201",
	  "335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c45"
	  "04bef270" },
	{ "abbccddef00112233445566778899aab", "00000100", "0000000000000001",
	  "decaf888cafedebaceface74", "746f016265016f72016e6f7401746f0162650001",
	  "0000010000000001cafedebaceface7429c9fc69a197d038ccdd14e2ddfcaa05"
	  "43332164412503524303ed3c6c5f283843af8c3e" },
	{ "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961",
	  "796b6963", "ffffffffffffffff", "7475726e333021696765746d",
	  "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
	  "65666768696a6b6c6d6e6f707172737401020201",
	  "796b6963ffffffff333021696765746df97ab2aa356d8edce17644ac8c78e25d"
	  "d24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe82"
	  "1dcc63b9d0937ba2945f669368661a329fb4c053" },
};

/* Run one vector with the ICV truncated to icv octets (16, 12 or 8). */
static void
gcm_one(const struct gcm_vec *v, unsigned icv)
{
	uint8_t key[32], nonce[12], pt[256], want[320], spib[4], seqb[8], pkt[PKT_MAX];
	uint8_t out[PKT_MAX];
	size_t klen = unhex(v->key, key, sizeof key), ptlen = unhex(v->plaintext, pt, sizeof pt);
	size_t wantlen = unhex(v->packet, want, sizeof want), seqlen, plen, olen;
	unsigned id = icv == 16 ? CTP_ENCR_AES_GCM_16 : icv == 12 ? CTP_ENCR_AES_GCM_12 :
	    CTP_ENCR_AES_GCM_8;
	uint64_t seq = 0;
	uint8_t padlen, nh;
	struct ipsec_sa sa, in;
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	struct ctp_wbuf w;
	struct ctp_cur c;
	uint32_t spi;

	CU_ASSERT_EQUAL_FATAL(unhex(v->nonce, nonce, sizeof nonce), 12);
	CU_ASSERT_EQUAL_FATAL(unhex(v->spi, spib, sizeof spib), 4);
	seqlen = unhex(v->seq, seqb, sizeof seqb);
	ctp_cur_init(&c, spib, 4, 0);
	CU_ASSERT_FATAL(ctp_cur_u32(&c, &spi) == 0);
	for (size_t i = 0; i < seqlen; i++)
		seq = seq << 8 | seqb[i];
	/* the vector's plaintext is payload | padding | Pad Length | Next Header */
	padlen = pt[ptlen - 2];
	nh = pt[ptlen - 1];
	plen = ptlen - 2 - padlen;
	wantlen -= 16 - icv;   /* the leading octets of the tag */

	make_sa(&sa, spi, id, (unsigned)klen * 8, CTP_INTEG_NONE, CTP_DIRECTION_OUT,
	    seqlen == 8 ? IPSEC_SA_F_ESN : 0);
	sa.has_integ = false;
	memcpy(sa.encr.key, key, klen);
	memcpy(sa.encr.key + klen, nonce, 4);   /* the salt */
	sa.seq_out.next = seq;
	e = engine(&sa);
	ctp_wbuf_init(&w, pkt, sizeof pkt);
	CU_ASSERT_EQUAL(ipsec_esp_encap_iv(e, pt, plen, nh, nonce + 4, 8, &w, NULL), 0);
	CU_ASSERT_EQUAL(w.len, wantlen);
	if (w.len != wantlen || memcmp(pkt, want, wantlen) != 0) {
		fprintf(stderr, "GCM vector SPI %s seq %s ICV %u differs\n", v->spi, v->seq, icv);
		CU_FAIL("GCM known answer");
	}

	/* the receiver: a window just below the vector's number */
	flip_in(&in, &sa, 32);
	if (seq > 1) {
		in.replay.highest = seq - 1;
		in.replay.bitmap[0] = 0x80;
	}
	d = engine(&in);
	CU_ASSERT_EQUAL(decap(d, want, wantlen, out, &olen, &rx), 0);
	CU_ASSERT_EQUAL(rx.seq, seq);
	CU_ASSERT_EQUAL(rx.next_header, nh);
	CU_ASSERT_EQUAL(olen, plen);
	CU_ASSERT(memcmp(out, pt, plen) == 0);
	ipsec_esp_free(e);
	ipsec_esp_free(d);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
}

static void
test_esp_gcm_vectors(void)
{
	for (size_t i = 0; i < sizeof gcm_vecs / sizeof gcm_vecs[0]; i++) {
		gcm_one(&gcm_vecs[i], 16);
		gcm_one(&gcm_vecs[i], 12);
		gcm_one(&gcm_vecs[i], 8);
	}
}

/* ---- AES-CBC (RFC 3602) and AES-CTR (RFC 3686) in ESP ------------------- */

/* Encap payload with the given IV; the ciphertext must start with ct, and
 * the ICV must be HMAC-SHA1 over the packet up to it, truncated to 96 bits. */
static void
cipher_kat(unsigned encr, const char *keyhex, const char *ivhex, const uint8_t *payload,
    size_t plen, const char *cthex)
{
	uint8_t key[36], iv[16], ct[64], pkt[PKT_MAX], mac[EVP_MAX_MD_SIZE], out[PKT_MAX];
	size_t klen = unhex(keyhex, key, sizeof key), ivlen = unhex(ivhex, iv, sizeof iv);
	size_t ctlen = unhex(cthex, ct, sizeof ct), olen;
	const struct ipsec_alg *ea = ipsec_alg_find(IPSEC_ALG_ENCR, encr);
	unsigned int maclen = 0;
	struct ipsec_sa sa, in;
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	struct ctp_wbuf w;

	make_sa(&sa, 0x1000, encr, (unsigned)(klen - ea->salt_len) * 8,
	    CTP_INTEG_HMAC_SHA1_96, CTP_DIRECTION_OUT, 0);
	memcpy(sa.encr.key, key, klen);
	e = engine(&sa);
	ctp_wbuf_init(&w, pkt, sizeof pkt);
	CU_ASSERT_EQUAL_FATAL(ipsec_esp_encap_iv(e, payload, plen, 4, iv, ivlen, &w, NULL), 0);
	CU_ASSERT_EQUAL(w.len, ipsec_esp_packet_len(e, plen));
	CU_ASSERT(memcmp(pkt + IPSEC_ESP_HDR_LEN, iv, ivlen) == 0);
	CU_ASSERT(memcmp(pkt + IPSEC_ESP_HDR_LEN + ivlen, ct, ctlen) == 0);
	CU_ASSERT_PTR_NOT_NULL(HMAC(EVP_sha1(), sa.integ.key, sa.integ.key_len, pkt, w.len - 12,
	    mac, &maclen));
	CU_ASSERT(memcmp(pkt + w.len - 12, mac, 12) == 0);
	flip_in(&in, &sa, 64);
	d = engine(&in);
	CU_ASSERT_EQUAL(decap(d, pkt, w.len, out, &olen, &rx), 0);
	CU_ASSERT(olen == plen && memcmp(out, payload, plen) == 0);
	ipsec_esp_free(e);
	ipsec_esp_free(d);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
}

static void
test_esp_cbc_ctr_vectors(void)
{
	uint8_t seq32[32];

	for (int i = 0; i < 32; i++)
		seq32[i] = (uint8_t)i;
	/* RFC 3602 4, cases 1 and 2 */
	cipher_kat(CTP_ENCR_AES_CBC, "06a9214036b8a15b512e03d534120006",
	    "3dafba429d9eb430b422da802c9fac41", (const uint8_t *)"Single block msg", 16,
	    "e353779c1079aeb82708942dbe77181a");
	cipher_kat(CTP_ENCR_AES_CBC, "c286696d887c9aa0611bbb3e2025a45a",
	    "562e17996d093d28ddb3ba695a2e6f58", seq32, 32,
	    "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1");
	/* RFC 3686 6, vectors 1 and 2: key | nonce as KEYMAT, IV explicit */
	cipher_kat(CTP_ENCR_AES_CTR, "ae6852f8121067cc4bf7a5765577f39e00000030",
	    "0000000000000000", (const uint8_t *)"Single block msg", 16,
	    "e4095d4fb7a7b3792d6175a3261311b8");
	cipher_kat(CTP_ENCR_AES_CTR, "7e24067817fae0d743d6ce1f32539163006cb6db",
	    "c0543b59da48d90b", seq32, 32,
	    "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28");
}

/* ---- HMAC truncation (RFC 4868 2.7.2, RFC 2404 / RFC 2202) -------------- */

static void
icv_kat(unsigned integ, const uint8_t *key, size_t klen, const char *data, const char *want)
{
	uint8_t icv[IPSEC_ESP_ICV_MAX], exp[IPSEC_ESP_ICV_MAX];
	size_t n = 0, elen = unhex(want, exp, sizeof exp);
	struct ipsec_sa sa;
	struct ipsec_esp *e;

	make_sa(&sa, 0x2000, CTP_ENCR_NULL, 0, integ, CTP_DIRECTION_OUT, 0);
	CU_ASSERT_EQUAL_FATAL(klen, sa.integ.key_len);
	memcpy(sa.integ.key, key, klen);
	e = engine(&sa);
	CU_ASSERT_EQUAL(ipsec_esp_icv(e, (const uint8_t *)data, strlen(data), icv, &n), 0);
	CU_ASSERT_EQUAL(n, elen);
	CU_ASSERT(memcmp(icv, exp, elen) == 0);
	ipsec_esp_free(e);
	ipsec_sa_clear(&sa);
}

static void
test_esp_hmac_truncation(void)
{
	uint8_t k[64], jefe[64];

	for (int i = 0; i < 64; i++)
		jefe[i] = (uint8_t)"Jefe"[i % 4];
	memset(k, 0x0b, sizeof k);
	icv_kat(CTP_INTEG_HMAC_SHA2_256_128, k, 32, "Hi There", "198a607eb44bfbc69903a0f1cf2bbdc5");
	icv_kat(CTP_INTEG_HMAC_SHA2_384_192, k, 48, "Hi There",
	    "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973");
	icv_kat(CTP_INTEG_HMAC_SHA2_512_256, k, 64, "Hi There",
	    "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8");
	icv_kat(CTP_INTEG_HMAC_SHA2_256_128, jefe, 32, "what do ya want for nothing?",
	    "167f928588c5cc2eef8e3093caa0e87c");
	icv_kat(CTP_INTEG_HMAC_SHA2_384_192, jefe, 48, "what do ya want for nothing?",
	    "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d");
	icv_kat(CTP_INTEG_HMAC_SHA2_512_256, jefe, 64, "what do ya want for nothing?",
	    "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454");
	memset(k, 0x0c, 20);
	icv_kat(CTP_INTEG_HMAC_SHA1_96, k, 20, "Test With Truncation", "4c1a03424b55e07fe7f27be1");
}

/* ---- round trips -------------------------------------------------------- */

static const unsigned integs[] = {
	CTP_INTEG_HMAC_SHA1_96, CTP_INTEG_HMAC_SHA2_256_128, CTP_INTEG_HMAC_SHA2_384_192,
	CTP_INTEG_HMAC_SHA2_512_256,
};

static void
round_trip(unsigned encr, unsigned bits, unsigned integ, uint8_t flags)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 4, 15, 16, 17, 31, 100, 1400 };
	uint8_t payload[1400], pkt[PKT_MAX], out[PKT_MAX];
	const struct ipsec_alg *ea = ipsec_alg_find(IPSEC_ALG_ENCR, encr);
	size_t len, olen;
	struct ipsec_sa sa, in;
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	struct ipsec_esp_stats st;

	make_sa(&sa, 0x4000 + encr * 16 + integ, encr, bits, integ, CTP_DIRECTION_OUT, flags);
	if (ea->aead)
		sa.integ.id = CTP_INTEG_NONE, sa.integ.key_len = 0;
	e = engine(&sa);
	flip_in(&in, &sa, 128);
	d = engine(&in);
	fill(payload, sizeof payload, 0x42);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];

		CU_ASSERT_EQUAL_FATAL(encap(e, payload, n, 17, pkt, &len), 0);
		CU_ASSERT_EQUAL(len, ipsec_esp_packet_len(e, n));
		/* RFC 4303 2.4: the ciphertext ends on 4 octets and the block */
		CU_ASSERT_EQUAL((len - IPSEC_ESP_HDR_LEN - ea->iv_len - (ea->aead ? ea->icv_len :
		    ipsec_alg_find(IPSEC_ALG_INTEG, integ)->icv_len)) %
		    (ea->block_len > 4 ? ea->block_len : 4), 0);
		CU_ASSERT_EQUAL_FATAL(decap(d, pkt, len, out, &olen, &rx), 0);
		CU_ASSERT_EQUAL(rx.seq, i + 1);
		CU_ASSERT_EQUAL(rx.next_header, 17);
		CU_ASSERT(olen == n && memcmp(out, payload, n) == 0);
	}
	/* a flipped ICV bit, then a flipped ciphertext bit: refused, nothing
	 * written, the window unmoved (the untouched packet still passes) */
	CU_ASSERT_EQUAL_FATAL(encap(e, payload, 33, 17, pkt, &len), 0);
	pkt[len - 1] ^= 0x01;
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), CTP_E_AUTH);
	CU_ASSERT_EQUAL(olen, 0);
	pkt[len - 1] ^= 0x01;
	pkt[IPSEC_ESP_HDR_LEN + ea->iv_len] ^= 0x80;
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), CTP_E_AUTH);
	pkt[IPSEC_ESP_HDR_LEN + ea->iv_len] ^= 0x80;
	/* another SPI is not this engine's business */
	pkt[0] ^= 0x40;
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), CTP_E_NOTFOUND);
	pkt[0] ^= 0x40;
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), 0);
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), CTP_E_STATE);
	ipsec_esp_stats(d, &st);
	CU_ASSERT_EQUAL(st.auth_fail, 2);
	CU_ASSERT_EQUAL(st.replay, 1);
	ipsec_esp_free(e);
	ipsec_esp_free(d);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
}

static void
test_esp_round_trips(void)
{
	unsigned combos = 0;

	for (size_t a = 0; a < ipsec_alg_count; a++) {
		const struct ipsec_alg *ea = &ipsec_algs[a];

		if (ea->type != IPSEC_ALG_ENCR)
			continue;
		for (unsigned k = 0; k < ea->nkeys; k++)
			for (int esn = 0; esn < 2; esn++) {
				uint8_t fl = esn ? IPSEC_SA_F_ESN : 0;

				if (ea->aead) {
					round_trip(ea->id, ea->keys[k].bits, CTP_INTEG_NONE, fl);
					combos++;
					continue;
				}
				for (size_t i = 0; i < sizeof integs / sizeof integs[0]; i++) {
					round_trip(ea->id, ea->keys[k].bits, integs[i], fl);
					combos++;
				}
			}
	}
	/* 3DES 1 + NULL 1 + CBC 3 + CTR 3 key lengths x 4 HMACs, AEAD 3 x 3 + 1,
	 * each with and without ESN */
	CU_ASSERT_EQUAL(combos, ((1 + 1 + 3 + 3) * 4 + 3 * 3 + 1) * 2);
}

static void
test_esp_full_size_payloads(void)
{
	uint8_t *payload = malloc(IPSEC_ESP_PACKET_MAX + 1), *pkt = malloc(70000);
	struct ipsec_sa sa;
	struct ipsec_esp *e;
	struct ctp_wbuf w;
	uint8_t small[40];

	CU_ASSERT_FATAL(payload && pkt);
	memset(payload, 0x5a, IPSEC_ESP_PACKET_MAX + 1);
	make_sa(&sa, 0x3000, CTP_ENCR_AES_CBC, 128, CTP_INTEG_HMAC_SHA2_256_128,
	    CTP_DIRECTION_OUT, 0);
	e = engine(&sa);
	ctp_wbuf_init(&w, pkt, 70000);
	CU_ASSERT_EQUAL(ipsec_esp_encap(e, payload, IPSEC_ESP_PACKET_MAX, 4, &w, NULL),
	    CTP_E_LIMIT);
	CU_ASSERT_EQUAL(ipsec_esp_encap(e, payload, 65000, 4, &w, NULL), 0);
	/* no room: refused, and no number is used */
	ctp_wbuf_init(&w, small, sizeof small);
	CU_ASSERT_EQUAL(ipsec_esp_encap(e, payload, 100, 4, &w, NULL), CTP_E_NOSPACE);
	CU_ASSERT_EQUAL(w.len, 0);
	CU_ASSERT_EQUAL(ipsec_esp_next_seq(e), 2);
	/* an outbound engine does not decapsulate */
	CU_ASSERT_EQUAL(ipsec_esp_decap(e, pkt, 100, &w, NULL), CTP_E_INVAL);
	ipsec_esp_free(e);
	ipsec_sa_clear(&sa);
	free(payload);
	free(pkt);
}

static void
test_esp_refuses_ah(void)
{
	struct ipsec_esp *e = NULL;
	struct ipsec_sa sa;
	struct ctp_err err;

	make_sa(&sa, 0x5000, CTP_ENCR_NULL, 0, CTP_INTEG_HMAC_SHA2_256_128, CTP_DIRECTION_OUT, 0);
	sa.protocol = CTP_IPPROTO_AH;
	sa.has_encr = false;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_esp_new(&sa, &e, &err), CTP_E_UNSUPPORTED);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_ALG_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(e);
	/* and an invalid SA is refused with ipsec_sa_verify()'s words */
	make_sa(&sa, 0x5000, CTP_ENCR_AES_CBC, 128, CTP_INTEG_NONE, CTP_DIRECTION_OUT, 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_esp_new(&sa, &e, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_POLICY);
	ipsec_sa_clear(&sa);
}

/* ---- sequence numbers --------------------------------------------------- */

static void
test_esp_esn_crossing(void)
{
	uint8_t p[3][PKT_MAX], out[PKT_MAX], iv1[8], iv2[8];
	size_t len[3], olen;
	struct ipsec_sa sa, in, snap;
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	struct ctp_cur c;
	uint32_t spi, sl;

	make_sa(&sa, 0x6000, CTP_ENCR_AES_GCM_16, 128, CTP_INTEG_NONE, CTP_DIRECTION_OUT,
	    IPSEC_SA_F_ESN);
	sa.has_integ = false;
	sa.seq_out.next = UINT64_C(0xfffffffe);
	e = engine(&sa);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(encap(e, (const uint8_t *)"esn", 3, 17, p[i], &len[i]), 0);
	CU_ASSERT_EQUAL(ipsec_esp_next_seq(e), UINT64_C(0x100000001));
	/* only the low half travels; the IV is the whole number */
	CU_ASSERT(ipsec_esp_peek(p[2], len[2], &spi, &sl) == 0 && sl == 0);
	ctp_cur_init(&c, p[1], len[1], 0);
	CU_ASSERT(ctp_cur_skip(&c, 8) == 0 && ctp_cur_copy(&c, iv1, 8) == 0);
	ctp_cur_init(&c, p[2], len[2], 0);
	CU_ASSERT(ctp_cur_skip(&c, 8) == 0 && ctp_cur_copy(&c, iv2, 8) == 0);
	CU_ASSERT(memcmp(iv1, "\x00\x00\x00\x00\xff\xff\xff\xff", 8) == 0);
	CU_ASSERT(memcmp(iv2, "\x00\x00\x00\x01\x00\x00\x00\x00", 8) == 0);

	flip_in(&in, &sa, 64);
	in.replay.highest = UINT64_C(0xfffffff0);
	in.replay.bitmap[0] = 0x80;
	d = engine(&in);
	CU_ASSERT_EQUAL(decap(d, p[1], len[1], out, &olen, &rx), 0);
	CU_ASSERT_EQUAL(rx.seq, UINT64_C(0xffffffff));
	CU_ASSERT_EQUAL(decap(d, p[2], len[2], out, &olen, &rx), 0);
	CU_ASSERT_EQUAL(rx.seq, UINT64_C(0x100000000));
	/* late, from below 2^32, inside the window */
	CU_ASSERT_EQUAL(decap(d, p[0], len[0], out, &olen, &rx), 0);
	CU_ASSERT_EQUAL(rx.seq, UINT64_C(0xfffffffe));
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(decap(d, p[i], len[i], out, &olen, &rx), CTP_E_STATE);
	/* the snapshot carries the window across 2^32 */
	snap = in;
	ipsec_esp_export(d, &snap);
	CU_ASSERT_EQUAL(snap.replay.highest, UINT64_C(0x100000000));
	CU_ASSERT_EQUAL(snap.replay.bitmap[0], 0xe0);   /* 2^32, 2^32 - 1, 2^32 - 2 */
	CU_ASSERT_EQUAL(snap.usage.packets, 3);
	CU_ASSERT_EQUAL(ipsec_sa_verify(&snap, NULL), 0);
	ipsec_esp_free(d);
	d = engine(&snap);
	CU_ASSERT_EQUAL(decap(d, p[0], len[0], out, &olen, &rx), CTP_E_STATE);
	ipsec_esp_free(d);
	ipsec_esp_free(e);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&snap);
}

static void
test_esp_seq_exhausted(void)
{
	uint8_t pkt[PKT_MAX], out[PKT_MAX], pl[10] = { 1, 2, 3 };
	size_t len, olen;
	struct ipsec_sa sa, in;
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	struct ipsec_esp_stats st;
	uint32_t spi, sl;

	/* 32-bit numbers: 2^32 - 1 is the last (RFC 4303 3.3.3) */
	make_sa(&sa, 0x7000, CTP_ENCR_AES_GCM_16, 256, CTP_INTEG_NONE, CTP_DIRECTION_OUT, 0);
	sa.has_integ = false;
	sa.seq_out.next = UINT64_C(0xffffffff);
	e = engine(&sa);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, pkt, &len), 0);
	CU_ASSERT(ipsec_esp_exhausted(e));
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, out, &olen), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, out, &olen), CTP_E_LIMIT);
	ipsec_esp_stats(e, &st);
	CU_ASSERT_EQUAL(st.exhausted, 2);
	CU_ASSERT_EQUAL(st.packets, 1);
	/* the snapshot says so: the next number is outside the space (0x88) */
	in = sa;
	ipsec_esp_export(e, &in);
	CU_ASSERT_EQUAL(in.seq_out.next, UINT64_C(0x100000000));
	CU_ASSERT_EQUAL(ipsec_sa_verify(&in, NULL), CTP_E_VALUE);
	ipsec_esp_free(e);

	/* with the overflow flag the wire cycles, the IV does not */
	sa.flags = IPSEC_SA_F_SEQ_OVERFLOW;
	e = engine(&sa);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, pkt, &len), 0);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, pkt, &len), 0);
	CU_ASSERT(ipsec_esp_peek(pkt, len, &spi, &sl) == 0 && sl == 0);
	CU_ASSERT_EQUAL(ipsec_esp_next_seq(e), UINT64_C(0x100000001));
	ipsec_esp_free(e);

	/* ESN: 2^64 - 1 is the last, overflow flag or not */
	sa.flags = IPSEC_SA_F_ESN | IPSEC_SA_F_SEQ_OVERFLOW;
	sa.seq_out.next = UINT64_MAX;
	e = engine(&sa);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, pkt, &len), 0);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, out, &olen), CTP_E_LIMIT);
	flip_in(&in, &sa, 32);
	in.flags = IPSEC_SA_F_ESN | IPSEC_SA_F_ANTI_REPLAY;
	in.replay.highest = UINT64_MAX - 1;
	in.replay.bitmap[0] = 0x80;
	d = engine(&in);
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), 0);
	CU_ASSERT_EQUAL(rx.seq, UINT64_MAX);
	ipsec_esp_free(e);
	/* the receiver is at the end too: a low half that would start a new
	 * 2^32 subspace has no number left (CTP_E_LIMIT), an old one is a
	 * replay */
	sa.seq_out.next = 5;
	e = engine(&sa);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, pkt, &len), 0);
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), CTP_E_LIMIT);
	sa.seq_out.next = UINT64_MAX - 3;
	ipsec_esp_free(e);
	e = engine(&sa);
	CU_ASSERT_EQUAL(encap(e, pl, 10, 4, pkt, &len), 0);
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), 0);   /* inside the window */
	CU_ASSERT_EQUAL(decap(d, pkt, len, out, &olen, &rx), CTP_E_STATE);
	ipsec_esp_stats(d, &st);
	CU_ASSERT_EQUAL(st.exhausted, 1);
	CU_ASSERT_EQUAL(st.replay, 1);
	ipsec_esp_free(e);
	ipsec_esp_free(d);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
}

/* ---- the replay window -------------------------------------------------- */

struct pktset {
	uint8_t (*p)[96];
	size_t   *len;
	size_t    n;
};

/* packets 1..n of one outbound SA (NULL + HMAC-SHA2-256: cheap, small) */
static void
make_packets(struct ipsec_sa *sa, struct pktset *ps, size_t n, uint8_t flags)
{
	struct ipsec_esp *e;

	make_sa(sa, 0x8000, CTP_ENCR_NULL, 0, CTP_INTEG_HMAC_SHA2_256_128, CTP_DIRECTION_OUT,
	    flags);
	e = engine(sa);
	ps->p = calloc(n + 1, sizeof *ps->p);
	ps->len = calloc(n + 1, sizeof *ps->len);
	ps->n = n;
	CU_ASSERT_FATAL(ps->p && ps->len);
	for (size_t s = 1; s <= n; s++) {
		struct ctp_wbuf w;
		uint8_t pl[8];

		ctp_put_u32(pl, (uint32_t)s);
		ctp_put_u32(pl + 4, 0);
		ctp_wbuf_init(&w, ps->p[s], sizeof ps->p[s]);
		CU_ASSERT_FATAL(ipsec_esp_encap(e, pl, sizeof pl, 17, &w, NULL) == 0);
		ps->len[s] = w.len;
	}
	ipsec_esp_free(e);
}

static int
feed(struct ipsec_esp *d, const struct pktset *ps, uint64_t s)
{
	uint8_t out[PKT_MAX];
	struct ipsec_esp_rx rx;
	size_t olen;

	return decap(d, ps->p[s], ps->len[s], out, &olen, &rx);
}

static void
test_esp_window_edges(void)
{
	struct ipsec_sa sa, in, snap;
	struct ipsec_esp *d;
	struct pktset ps;

	make_packets(&sa, &ps, 1200, 0);
	flip_in(&in, &sa, 64);
	d = engine(&in);
	CU_ASSERT_EQUAL(feed(d, &ps, 100), 0);
	CU_ASSERT_EQUAL(feed(d, &ps, 37), 0);            /* 100 - 63: just inside */
	CU_ASSERT_EQUAL(feed(d, &ps, 36), CTP_E_STATE);  /* 100 - 64: just outside */
	CU_ASSERT_EQUAL(feed(d, &ps, 100), CTP_E_STATE); /* duplicate of the highest */
	CU_ASSERT_EQUAL(feed(d, &ps, 37), CTP_E_STATE);  /* duplicate inside */
	CU_ASSERT_EQUAL(feed(d, &ps, 99), 0);
	CU_ASSERT_EQUAL(feed(d, &ps, 101), 0);           /* slides by one */
	CU_ASSERT_EQUAL(feed(d, &ps, 37), CTP_E_STATE);  /* now left of the window */
	CU_ASSERT_EQUAL(feed(d, &ps, 1100), 0);          /* far ahead: everything old goes */
	CU_ASSERT_EQUAL(feed(d, &ps, 101), CTP_E_STATE);
	CU_ASSERT_EQUAL(feed(d, &ps, 1037), 0);
	CU_ASSERT_EQUAL(feed(d, &ps, 1036), CTP_E_STATE);

	snap = in;
	ipsec_esp_export(d, &snap);
	CU_ASSERT_EQUAL(snap.replay.window, 64);
	CU_ASSERT_EQUAL(snap.replay.highest, 1100);
	CU_ASSERT_EQUAL(snap.replay.bitmap_len, 8);
	CU_ASSERT(memcmp(snap.replay.bitmap, "\x80\x00\x00\x00\x00\x00\x00\x01", 8) == 0);
	CU_ASSERT_EQUAL(ipsec_sa_verify(&snap, NULL), 0);
	ipsec_esp_free(d);
	/* a new engine from the snapshot knows what was seen */
	d = engine(&snap);
	CU_ASSERT_EQUAL(feed(d, &ps, 1100), CTP_E_STATE);
	CU_ASSERT_EQUAL(feed(d, &ps, 1037), CTP_E_STATE);
	CU_ASSERT_EQUAL(feed(d, &ps, 1050), 0);
	CU_ASSERT_EQUAL(feed(d, &ps, 1101), 0);
	ipsec_esp_free(d);

	/* anti-replay off: duplicates pass (RFC 4303 3.4.3 is the receiver's
	 * choice), the window still tracks the highest */
	in.flags &= (uint8_t)~IPSEC_SA_F_ANTI_REPLAY;
	d = engine(&in);
	CU_ASSERT_EQUAL(feed(d, &ps, 5), 0);
	CU_ASSERT_EQUAL(feed(d, &ps, 5), 0);
	CU_ASSERT_EQUAL(feed(d, &ps, 1), 0);
	ipsec_esp_free(d);
	free(ps.p);
	free(ps.len);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&snap);
}

/* A deterministic generator for the model runs and the mutation loop. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Every window size class against a model that remembers everything. */
static void
test_esp_window_model(void)
{
	static const uint32_t wins[] = { 32, 64, 96, 128, 1024, 4064, 4096 };
	const size_t n = 9000;
	struct ipsec_sa sa, in;
	struct pktset ps;
	uint8_t *seen = calloc(n + 1, 1);

	CU_ASSERT_FATAL(seen != NULL);
	make_packets(&sa, &ps, n, 0);
	for (size_t k = 0; k < sizeof wins / sizeof wins[0]; k++) {
		struct ipsec_esp *d;
		uint64_t top = 0, bad = 0;

		flip_in(&in, &sa, wins[k]);
		d = engine(&in);
		memset(seen, 0, n + 1);
		for (int i = 0; i < 6000; i++) {
			/* mostly forward with jitter, sometimes jumps, sometimes old */
			uint64_t r = rng(), s;
			int want, got;

			if (r % 10 < 6)
				s = top + 1 + r / 16 % 8;
			else if (r % 10 < 9)
				s = top > wins[k] + 40 ? top - (r / 16 % (wins[k] + 40)) : 1 + r / 16 % 50;
			else
				s = top + 1 + r / 16 % (2 * wins[k]);
			if (s < 1 || s > n)
				s = 1 + r / 64 % n;
			want = s > top || (top - s < wins[k] && !seen[s]) ? 0 : CTP_E_STATE;
			got = feed(d, &ps, s);
			if (got != want)
				bad++;
			if (got == 0) {
				seen[s] = 1;
				if (s > top)
					top = s;
			}
		}
		CU_ASSERT_EQUAL(bad, 0);
		if (bad)
			fprintf(stderr, "window %u: %llu verdicts differ from the model\n", wins[k],
			    (unsigned long long)bad);
		ipsec_esp_free(d);
	}
	free(seen);
	free(ps.p);
	free(ps.len);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
}

/* ---- malformed packets -------------------------------------------------- */

/* An authentic packet (NULL + HMAC) whose trailer is wrong. */
static void
test_esp_bad_padding(void)
{
	uint8_t pkt[64], out[PKT_MAX], icv[IPSEC_ESP_ICV_MAX];
	struct ipsec_sa sa, in;
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	struct ctp_wbuf w;
	size_t n, olen;

	make_sa(&sa, 0x9000, CTP_ENCR_NULL, 0, CTP_INTEG_HMAC_SHA2_256_128, CTP_DIRECTION_OUT,
	    0);
	e = engine(&sa);
	flip_in(&in, &sa, 64);
	d = engine(&in);
	for (int kind = 0; kind < 3; kind++) {
		ctp_wbuf_init(&w, pkt, sizeof pkt);
		ctp_wbuf_u32(&w, sa.spi);
		ctp_wbuf_u32(&w, (uint32_t)(kind + 1));
		ctp_wbuf_bytes(&w, "abcd", 4);
		if (kind == 0) {                     /* padding 1, 3 */
			ctp_wbuf_u8(&w, 1);
			ctp_wbuf_u8(&w, 3);
			ctp_wbuf_u8(&w, 2);
		} else if (kind == 1) {              /* Pad Length beyond the data */
			ctp_wbuf_zero(&w, 2);
			ctp_wbuf_u8(&w, 9);
		} else {                             /* a dummy packet (RFC 4303 2.6) */
			ctp_wbuf_u8(&w, 1);
			ctp_wbuf_u8(&w, 2);
			ctp_wbuf_u8(&w, 2);
		}
		ctp_wbuf_u8(&w, kind == 2 ? IPSEC_ESP_NH_NONE : 4);
		CU_ASSERT_EQUAL_FATAL(ipsec_esp_icv(e, pkt, w.len, icv, &n), 0);
		ctp_wbuf_bytes(&w, icv, n);
		CU_ASSERT_EQUAL_FATAL(w.err, 0);
		if (kind < 2) {
			CU_ASSERT_EQUAL(decap(d, pkt, w.len, out, &olen, &rx), CTP_E_VALUE);
			CU_ASSERT_EQUAL(olen, 0);
		} else {
			CU_ASSERT_EQUAL(decap(d, pkt, w.len, out, &olen, &rx), 0);
			CU_ASSERT_EQUAL(rx.next_header, IPSEC_ESP_NH_NONE);
			CU_ASSERT_EQUAL(olen, 4);
		}
		/* authentic, so seen: a second copy is a replay */
		CU_ASSERT_EQUAL(decap(d, pkt, w.len, out, &olen, &rx), CTP_E_STATE);
	}
	ipsec_esp_free(e);
	ipsec_esp_free(d);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&in);
}

static void
test_esp_truncated_and_mutated(void)
{
	static const unsigned encrs[][2] = {
		{ CTP_ENCR_AES_GCM_16, 128 }, { CTP_ENCR_CHACHA20_POLY1305, 256 },
		{ CTP_ENCR_AES_CBC, 256 }, { CTP_ENCR_3DES, 192 }, { CTP_ENCR_AES_CTR, 192 },
		{ CTP_ENCR_NULL, 0 }, { CTP_ENCR_AES_GCM_8, 256 },
	};
	uint8_t payload[300], good[PKT_MAX], out[PKT_MAX];

	fill(payload, sizeof payload, 9);
	for (size_t k = 0; k < sizeof encrs / sizeof encrs[0]; k++) {
		const struct ipsec_alg *ea = ipsec_alg_find(IPSEC_ALG_ENCR, encrs[k][0]);
		struct ipsec_sa sa, in;
		struct ipsec_esp *e, *d;
		struct ipsec_esp_rx rx;
		size_t len, olen;
		uint64_t accepted = 0;

		make_sa(&sa, 0xa000, encrs[k][0], encrs[k][1], ea->aead ? CTP_INTEG_NONE :
		    CTP_INTEG_HMAC_SHA2_384_192, CTP_DIRECTION_OUT, k % 2 ? IPSEC_SA_F_ESN : 0);
		if (ea->aead)
			sa.has_integ = false;
		e = engine(&sa);
		flip_in(&in, &sa, 4096);
		d = engine(&in);
		CU_ASSERT_EQUAL_FATAL(encap(e, payload, 123, 6, good, &len), 0);
		/* every truncation: an error, no read past the end (ASan) */
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *copy = malloc(cut ? cut : 1);
			int rc;

			memcpy(copy, good, cut);
			rc = decap(d, copy, cut, out, &olen, &rx);
			CU_ASSERT(rc == CTP_E_SHORT || rc == CTP_E_LENGTH || rc == CTP_E_AUTH);
			CU_ASSERT_EQUAL(olen, 0);
			free(copy);
		}
		/* mutations of a good packet: never accepted, never a crash */
		for (int i = 0; i < 3000; i++) {
			uint8_t m[PKT_MAX];
			size_t mlen = len, nflip = 1 + rng() % 4;
			int rc;

			memcpy(m, good, len);
			for (size_t f = 0; f < nflip; f++) {
				uint64_t r = rng();

				switch (r % 4) {
				case 0:
					m[r / 8 % mlen] ^= (uint8_t)(1u << (r / 4096 % 8));
					break;
				case 1:
					m[r / 8 % mlen] = (uint8_t)(r >> 40);
					break;
				case 2:
					mlen = 1 + r / 8 % mlen;
					break;
				default:
					if (mlen + 16 <= sizeof m) {
						memset(m + mlen, (int)(r >> 32) & 0xff, 16);
						mlen += 16;
					}
				}
			}
			rc = decap(d, m, mlen, out, &olen, &rx);
			if (rc == 0) {
				/* only the good packet itself may pass, and only once */
				CU_ASSERT(mlen == len && memcmp(m, good, len) == 0);
				accepted++;
			} else
				CU_ASSERT_EQUAL(olen, 0);
		}
		CU_ASSERT(accepted <= 1);
		ipsec_esp_free(e);
		ipsec_esp_free(d);
		ipsec_sa_clear(&sa);
		ipsec_sa_clear(&in);
	}
}

static void
test_esp_export_outbound(void)
{
	uint8_t pkt[PKT_MAX], pl[20] = { 0 };
	size_t len;
	struct ipsec_sa sa, snap;
	struct ipsec_esp *e;

	make_sa(&sa, 0xb000, CTP_ENCR_AES_CTR, 128, CTP_INTEG_HMAC_SHA2_256_128,
	    CTP_DIRECTION_OUT, 0);
	sa.seq_out.next = 16385;
	sa.seq_out.margin = 16384;
	sa.has_usage = true;
	sa.usage.bytes = 1000;
	sa.usage.packets = 10;
	e = engine(&sa);
	snap = sa;
	ipsec_esp_export(e, &snap);
	/* nothing sent: the installed next number stands */
	CU_ASSERT_EQUAL(snap.seq_out.next, 16385);
	CU_ASSERT_EQUAL(snap.seq_out.margin, 0);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(encap(e, pl, 20, 4, pkt, &len), 0);
	ipsec_esp_export(e, &snap);
	CU_ASSERT_EQUAL(snap.seq_out.next, 16390);
	CU_ASSERT_EQUAL(snap.usage.packets, 15);
	CU_ASSERT_EQUAL(snap.usage.bytes, 1100);
	CU_ASSERT_FALSE(snap.has_replay);
	CU_ASSERT_EQUAL(ipsec_sa_verify(&snap, NULL), 0);
	ipsec_esp_free(e);
	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&snap);
}

CTP_TEST_SUITE(esp, NULL, NULL,
    CTP_TEST(test_esp_rfc7634),
    CTP_TEST(test_esp_gcm_vectors),
    CTP_TEST(test_esp_cbc_ctr_vectors),
    CTP_TEST(test_esp_hmac_truncation),
    CTP_TEST(test_esp_round_trips),
    CTP_TEST(test_esp_full_size_payloads),
    CTP_TEST(test_esp_refuses_ah),
    CTP_TEST(test_esp_esn_crossing),
    CTP_TEST(test_esp_seq_exhausted),
    CTP_TEST(test_esp_window_edges),
    CTP_TEST(test_esp_window_model),
    CTP_TEST(test_esp_bad_padding),
    CTP_TEST(test_esp_truncated_and_mutated),
    CTP_TEST(test_esp_export_outbound),
);
